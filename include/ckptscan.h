/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ckptscan.h - scan model checkpoints for code execution before loading them.
 *
 * Introduction
 * ------------
 * PyTorch checkpoints, numpy and joblib files carry Python pickles, and
 * unpickling runs code. libckptscan reads such files the way the real loaders
 * read them and walks every pickle with a restricted interpreter that never
 * imports or calls anything. It reports what each pickle would import and
 * call, as findings with stable codes, and a verdict per file:
 *
 *   SAFE        every import is exactly on the allowlist and nothing odd
 *               was seen;
 *   SUSPICIOUS  an import outside the allowlist, a parse error, a limit hit
 *               or another anomaly: a person must look before loading;
 *   DANGEROUS   a denylisted capability (exec, command, native code, ...),
 *               a dynamic import or a mutation of global state.
 *
 * A scan that stops early (truncated input, a limit) keeps every finding it
 * made and never comes out SAFE.
 *
 * Usage
 * -----
 *   ckpt_scanner *s;
 *   ckpt_report *r;
 *   if (ckpt_scanner_new(&s) != CKPT_OK) ...;
 *   if (ckpt_scan_file(s, "model.pt", &r) == CKPT_OK) {
 *       ckpt_verdict v = ckpt_report_verdict(r);
 *       for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
 *           ckpt_finding f;
 *           ckpt_report_finding(r, i, &f);
 *           ...
 *       }
 *       ckpt_report_free(r);
 *   }
 *   ckpt_scanner_free(s);
 *
 * Threads: a scanner is read-only while scanning, so one configured scanner
 * may serve several threads at once; configure it before the first scan.
 * Reports are independent objects owned by the caller.
 *
 * The library never prints, never writes files and never executes anything
 * named by the input (ckpt_convert_safetensors hands its output to a
 * caller-supplied sink).
 */
#ifndef CKPTSCAN_H
#define CKPTSCAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CKPT_BUILDING_LIBRARY) && defined(__GNUC__)
#define CKPT_API __attribute__((visibility("default")))
#else
#define CKPT_API
#endif

/* CKPT_VERSION_STRING, e.g. "0.1.0": generated from meson.build's version. */
#include "ckptscan_version.h"

/* Returns the library's version, CKPT_VERSION_STRING of the build. */
CKPT_API const char *ckpt_version(void);

/* ---- Status: could the library do what was asked? ----------------------
 * A finding is not an error: a dangerous import is a successful scan with a
 * DANGEROUS verdict. Values never change meaning. */
#define CKPT_STATUS_LIST(X)                                                                        \
    X(CKPT_OK, "success")                                                                          \
    X(CKPT_ERR_NOMEM, "out of memory")                                                             \
    X(CKPT_ERR_ARG, "invalid argument")                                                            \
    X(CKPT_ERR_IO, "could not read the input")                                                     \
    X(CKPT_ERR_NOT_FOUND, "no such file")                                                          \
    X(CKPT_ERR_IS_DIR, "is a directory")                                                           \
    X(CKPT_ERR_POLICY, "invalid policy")                                                           \
    X(CKPT_ERR_RANGE, "value out of range")                                                        \
    X(CKPT_ERR_ACCESS, "permission denied")

typedef enum ckpt_status {
#define CKPT_X_ENUM(id, text) id,
    CKPT_STATUS_LIST(CKPT_X_ENUM)
#undef CKPT_X_ENUM
} ckpt_status;

/* Returns a static, human-readable description of a status. */
CKPT_API const char *ckpt_strerror(ckpt_status status);

/* ---- Verdicts and severities ------------------------------------------- */
typedef enum ckpt_verdict {
    CKPT_VERDICT_SAFE = 0,
    CKPT_VERDICT_SUSPICIOUS = 1,
    CKPT_VERDICT_DANGEROUS = 2,
    CKPT_VERDICT_ERROR = 3 /* the input could not be read at all */
} ckpt_verdict;

typedef enum ckpt_severity {
    CKPT_SEV_INFO = 0,       /* does not affect the verdict */
    CKPT_SEV_SUSPICIOUS = 1, /* at least SUSPICIOUS */
    CKPT_SEV_DANGEROUS = 2   /* DANGEROUS */
} ckpt_severity;

/* "safe", "suspicious", "dangerous", "error". */
CKPT_API const char *ckpt_verdict_name(ckpt_verdict verdict);
/* "info", "suspicious", "dangerous". */
CKPT_API const char *ckpt_severity_name(ckpt_severity severity);

/* ---- Finding codes -----------------------------------------------------
 * X(enum, stable name, default severity, one-line meaning). New codes are
 * appended; a code never changes meaning. The documentation table in the
 * README and the man page is generated from this list. */
#define CKPT_FINDING_LIST(X)                                                                       \
    X(CKPT_F_UNKNOWN_IMPORT, "unknown-import", CKPT_SEV_SUSPICIOUS,                                \
      "imports a name that is not on the allowlist")                                               \
    X(CKPT_F_EXEC, "exec", CKPT_SEV_DANGEROUS, "imports or calls something that evaluates code")   \
    X(CKPT_F_COMMAND, "command", CKPT_SEV_DANGEROUS,                                               \
      "imports or calls something that runs operating-system commands")                            \
    X(CKPT_F_NATIVE, "native-code", CKPT_SEV_DANGEROUS, "loads or calls native code")              \
    X(CKPT_F_TRAMPOLINE, "import-trampoline", CKPT_SEV_DANGEROUS,                                  \
      "reaches arbitrary modules, attributes or callables")                                        \
    X(CKPT_F_NESTED_LOAD, "nested-deserialisation", CKPT_SEV_DANGEROUS,                            \
      "deserialises another pickle or checkpoint")                                                 \
    X(CKPT_F_FILE_ACCESS, "file-access", CKPT_SEV_DANGEROUS, "opens, writes or deletes files")     \
    X(CKPT_F_NETWORK, "network", CKPT_SEV_DANGEROUS, "opens network connections")                  \
    X(CKPT_F_DEFERRED, "deferred-execution", CKPT_SEV_DANGEROUS,                                   \
      "schedules code to run later (threads, signals, exit hooks)")                                \
    X(CKPT_F_SABOTAGE, "scanner-sabotage", CKPT_SEV_DANGEROUS, "imports a model scanner")          \
    X(CKPT_F_DYNAMIC_IMPORT, "dynamic-import", CKPT_SEV_DANGEROUS,                                 \
      "STACK_GLOBAL operand is not a constant string")                                             \
    X(CKPT_F_GLOBAL_MUTATION, "global-mutation", CKPT_SEV_DANGEROUS,                               \
      "BUILD on a module, class or function mutates global state")                                 \
    X(CKPT_F_INDIRECT_CALL, "indirect-call", CKPT_SEV_SUSPICIOUS,                                  \
      "calls a value that is not an imported name")                                                \
    X(CKPT_F_CONTAINER_CALL, "container-call", CKPT_SEV_SUSPICIOUS,                                \
      "APPEND/SETITEM/ADDITEMS on an object that is not a plain container")                        \
    X(CKPT_F_EXTENSION, "extension-code", CKPT_SEV_SUSPICIOUS,                                     \
      "EXT opcode names a code the stream did not register")                                       \
    X(CKPT_F_PERSISTENT_ID, "persistent-id", CKPT_SEV_INFO,                                        \
      "persistent id the loader's persistent_load will see")                                       \
    X(CKPT_F_TRUNCATED, "truncated", CKPT_SEV_SUSPICIOUS, "the stream ends inside a pickle")       \
    X(CKPT_F_BAD_OPCODE, "bad-opcode", CKPT_SEV_SUSPICIOUS, "byte is not a pickle opcode")         \
    X(CKPT_F_STACK_ERROR, "stack-error", CKPT_SEV_SUSPICIOUS,                                      \
      "stack or mark underflow: the real unpickler stops here")                                    \
    X(CKPT_F_MEMO_ERROR, "memo-error", CKPT_SEV_SUSPICIOUS, "bad memo index or empty memo slot")   \
    X(CKPT_F_MALFORMED, "malformed", CKPT_SEV_SUSPICIOUS,                                          \
      "an opcode argument the real unpickler rejects")                                             \
    X(CKPT_F_LIMIT, "limit", CKPT_SEV_SUSPICIOUS, "a scan limit was hit; the rest is unscanned")   \
    X(CKPT_F_FRAME_STRADDLE, "frame-straddle", CKPT_SEV_SUSPICIOUS,                                \
      "an opcode crosses its frame's end: C and Python unpicklers disagree")                       \
    X(CKPT_F_EXTRA_PICKLE, "extra-pickle", CKPT_SEV_SUSPICIOUS,                                    \
      "another pickle follows the first one's STOP")                                               \
    X(CKPT_F_TRAILING_DATA, "trailing-data", CKPT_SEV_SUSPICIOUS,                                  \
      "bytes after the last pickle that are not a pickle")                                         \
    X(CKPT_F_PROTOCOL_CHANGE, "protocol-change", CKPT_SEV_SUSPICIOUS,                              \
      "PROTO after the start changes how names resolve")                                           \
    X(CKPT_F_ANOMALY, "anomaly", CKPT_SEV_SUSPICIOUS,                                              \
      "a construct no pickler writes, e.g. BUILD on a container")                                  \
    X(CKPT_F_LOADER_DISAGREEMENT, "loader-disagreement", CKPT_SEV_SUSPICIOUS,                      \
      "loaders read these bytes differently; every reading was scanned")                           \
    X(CKPT_F_EMBEDDED_PICKLE, "embedded-pickle", CKPT_SEV_SUSPICIOUS,                              \
      "a bytes or string constant holds a pickle; it was scanned too")                             \
    X(CKPT_F_EMPTY, "empty", CKPT_SEV_SUSPICIOUS, "the input is empty")                            \
    X(CKPT_F_UNKNOWN_FORMAT, "unknown-format", CKPT_SEV_INFO,                                      \
      "no format ckptscan knows, and nothing a loader could run: no import or persistent id "      \
      "parses")                                                                                    \
    X(CKPT_F_UNSCANNED_MEMBER, "unscanned-member", CKPT_SEV_SUSPICIOUS,                            \
      "a member could not be read (encrypted, unsupported method, ...)")                           \
    X(CKPT_F_POLYGLOT, "polyglot", CKPT_SEV_SUSPICIOUS,                                            \
      "the bytes are valid as more than one format; every reading was scanned")                    \
    X(CKPT_F_ARCHIVE_ANOMALY, "archive-anomaly", CKPT_SEV_SUSPICIOUS,                              \
      "a zip or tar structure the loaders read differently or no writer produces")                 \
    X(CKPT_F_CODE_ARCHIVE, "code-archive", CKPT_SEV_DANGEROUS,                                     \
      "the archive carries code a loader compiles or runs (TorchScript, torch.package, .mar)")     \
    X(CKPT_F_SHADOWED_DUNDER, "dunder-attribute", CKPT_SEV_DANGEROUS,                              \
      "a dotted name walks a dunder attribute (__getattribute__, __globals__, ...)")               \
    X(CKPT_F_FILE_WRITE, "file-write", CKPT_SEV_DANGEROUS,                                         \
      "creates, maps or writes files (or runs code through a file it writes)")                     \
    X(CKPT_F_UNSAFE_ARGS, "unsafe-arguments", CKPT_SEV_DANGEROUS,                                  \
      "an allowlisted callable gets arguments no real file gives it (pointers, callables)")        \
    X(CKPT_F_UNDETERMINED, "undetermined-bytes", CKPT_SEV_DANGEROUS,                               \
      "the loader unpickles bytes the file does not determine (uninitialised memory)")

typedef enum ckpt_code {
#define CKPT_X_ENUM(id, name, sev, text) id,
    CKPT_FINDING_LIST(CKPT_X_ENUM)
#undef CKPT_X_ENUM
        CKPT_F_COUNT_
} ckpt_code;

/* Stable name ("unknown-import"), default severity and meaning of a code;
 * NULL / CKPT_SEV_INFO for codes out of range. */
CKPT_API const char *ckpt_code_name(ckpt_code code);
CKPT_API ckpt_severity ckpt_code_severity(ckpt_code code);
CKPT_API const char *ckpt_code_description(ckpt_code code);
/* Code for a stable name, or -1. */
CKPT_API int ckpt_code_from_name(const char *name);

/* ---- Limits ------------------------------------------------------------
 * X(enum, option name, default, reason). Every limit bounds work or memory
 * that a hostile file could otherwise make unbounded; hitting one is a
 * `limit` finding (the rest of that stream is unscanned), never a crash. */
#define CKPT_LIMIT_LIST(X)                                                                         \
    X(CKPT_LIMIT_OPCODES, "max-opcodes", UINT64_C(4000000000),                                     \
      "opcodes per pickle; bounds time (real pickles: ~10 per tensor)")                            \
    X(CKPT_LIMIT_STACK, "max-stack", UINT64_C(1000000),                                            \
      "stack and mark depth; real pickles stay below a few hundred")                               \
    X(CKPT_LIMIT_MEMO, "max-memo", UINT64_C(50000000),                                             \
      "highest memo index; CPython allocates an array that large")                                 \
    X(CKPT_LIMIT_STRING, "max-string", UINT64_C(65536),                                            \
      "bytes kept of one string (longer ones are kept truncated)")                                 \
    X(CKPT_LIMIT_ITEMS, "max-items", UINT64_C(64),                                                 \
      "items kept per container for rendering; all are still parsed")                              \
    X(CKPT_LIMIT_MEMORY, "max-memory", UINT64_C(1) << 30,                                          \
      "bytes of interpreter memory per pickle and those it is nested in")                          \
    X(CKPT_LIMIT_FINDINGS, "max-findings", UINT64_C(1000), "findings kept per file")               \
    X(CKPT_LIMIT_DEPTH, "max-depth", UINT64_C(16), "nesting of archives and embedded pickles")     \
    X(CKPT_LIMIT_FILE_SIZE, "max-file-size", UINT64_C(1) << 40,                                    \
      "bytes of one input file (and of standard input)")                                           \
    X(CKPT_LIMIT_DECOMPRESSED, "max-decompressed", UINT64_C(64) << 20,                             \
      "decompressed bytes held at once (a member or stream and those it is nested in)")            \
    X(CKPT_LIMIT_RATIO, "max-ratio", UINT64_C(2000),                                               \
      "decompressed/compressed ratio (deflate's own maximum is ~1032)")                            \
    X(CKPT_LIMIT_MEMBERS, "max-members", UINT64_C(1000000), "archive members per archive")         \
    X(CKPT_LIMIT_DECOMPRESSED_TOTAL, "max-decompressed-total", UINT64_C(4) << 30,                  \
      "decompressed bytes per input, all members and streams together; bounds time")               \
    X(CKPT_LIMIT_MEMORY_PROCESS, "max-memory-process", UINT64_C(1) << 30,                          \
      "bytes of interpreter memory held by all scans of one scanner at once (-j workers)")

typedef enum ckpt_limit {
#define CKPT_X_ENUM(id, name, def, why) id,
    CKPT_LIMIT_LIST(CKPT_X_ENUM)
#undef CKPT_X_ENUM
        CKPT_LIMIT_COUNT_
} ckpt_limit;

/* Option name ("max-opcodes"), default and reason of a limit; NULL/0 when
 * out of range. */
CKPT_API const char *ckpt_limit_name(ckpt_limit limit);
CKPT_API uint64_t ckpt_limit_default(ckpt_limit limit);
CKPT_API const char *ckpt_limit_reason(ckpt_limit limit);
/* Limit for an option name, or -1. */
CKPT_API int ckpt_limit_from_name(const char *name);

/* ---- Formats ----------------------------------------------------------- */
#define CKPT_FORMAT_LIST(X)                                                                        \
    X(CKPT_FORMAT_UNKNOWN, "unknown")                                                              \
    X(CKPT_FORMAT_EMPTY, "empty")                                                                  \
    X(CKPT_FORMAT_PICKLE, "pickle")                                                                \
    X(CKPT_FORMAT_TORCH_ZIP, "torch-zip")                                                          \
    X(CKPT_FORMAT_ZIP, "zip")                                                                      \
    X(CKPT_FORMAT_TORCH_LEGACY, "torch-legacy")                                                    \
    X(CKPT_FORMAT_TORCH_TAR, "torch-tar")                                                          \
    X(CKPT_FORMAT_NPY, "npy")                                                                      \
    X(CKPT_FORMAT_NPZ, "npz")                                                                      \
    X(CKPT_FORMAT_JOBLIB, "joblib")                                                                \
    X(CKPT_FORMAT_COMPRESSED_PICKLE, "compressed-pickle")                                          \
    X(CKPT_FORMAT_SEVEN_ZIP, "7z")                                                                 \
    X(CKPT_FORMAT_SAFETENSORS, "safetensors")                                                      \
    X(CKPT_FORMAT_TAR, "tar")                                                                      \
    X(CKPT_FORMAT_TEXT, "text")                                                                    \
    X(CKPT_FORMAT_JSON, "json")                                                                    \
    X(CKPT_FORMAT_GGUF, "gguf")                                                                    \
    X(CKPT_FORMAT_ONNX, "onnx")                                                                    \
    X(CKPT_FORMAT_HDF5, "hdf5")                                                                    \
    X(CKPT_FORMAT_TFLITE, "tflite")                                                                \
    X(CKPT_FORMAT_PNG, "png")                                                                      \
    X(CKPT_FORMAT_JPEG, "jpeg")                                                                    \
    X(CKPT_FORMAT_GIF, "gif")                                                                      \
    X(CKPT_FORMAT_WEBP, "webp")                                                                    \
    X(CKPT_FORMAT_MSGPACK, "msgpack")

typedef enum ckpt_format {
#define CKPT_X_ENUM(id, name) id,
    CKPT_FORMAT_LIST(CKPT_X_ENUM)
#undef CKPT_X_ENUM
        CKPT_FORMAT_COUNT_
} ckpt_format;

/* "torch-zip", "pickle", ...; NULL when out of range. */
CKPT_API const char *ckpt_format_name(ckpt_format format);

/* ---- The scanner -------------------------------------------------------
 * Holds the configuration: policy and limits. Create, configure, scan many
 * times (from any number of threads), free. */
typedef struct ckpt_scanner ckpt_scanner;

/* Creates a scanner with the default policy and limits in *out. Returns
 * CKPT_OK or CKPT_ERR_NOMEM/ARG. The caller owns *out (ckpt_scanner_free). */
CKPT_API ckpt_status ckpt_scanner_new(ckpt_scanner **out);
CKPT_API void ckpt_scanner_free(ckpt_scanner *scanner);

/* Sets a limit. Returns CKPT_ERR_RANGE for 0 or an unknown limit. */
CKPT_API ckpt_status ckpt_scanner_set_limit(ckpt_scanner *scanner, ckpt_limit limit,
                                            uint64_t value);
CKPT_API uint64_t ckpt_scanner_limit(const ckpt_scanner *scanner, ckpt_limit limit);

/* Strict mode: every import that is not allowlisted counts as DANGEROUS. */
CKPT_API void ckpt_scanner_set_strict(ckpt_scanner *scanner, int strict);

/* Adds a built-in policy profile: "default" (always on) or "ml" (also the
 * stock torch.nn layers, optimizers and schedulers). CKPT_ERR_ARG if the
 * name is unknown. */
CKPT_API ckpt_status ckpt_scanner_use_profile(ckpt_scanner *scanner, const char *profile);

/* Adds the entries of a policy text (format: doc/policy.md).
 * On CKPT_ERR_POLICY, *error_line (if not NULL) gets the 1-based line number
 * of the first bad line and nothing from the text is applied. */
CKPT_API ckpt_status ckpt_scanner_add_policy(ckpt_scanner *scanner, const char *text, size_t len,
                                             size_t *error_line);
/* Same, reading the text from a file (CKPT_ERR_IO / NOT_FOUND on read errors). */
CKPT_API ckpt_status ckpt_scanner_add_policy_file(ckpt_scanner *scanner, const char *path,
                                                  size_t *error_line);

/* ---- Scanning ----------------------------------------------------------
 * Both functions return CKPT_OK with a report whenever they could analyse
 * anything, including broken or hostile input (the damage is in the
 * findings). Another status means the input could not be read at all; *out
 * then still receives a report with verdict ERROR naming the problem, except
 * for CKPT_ERR_NOMEM and CKPT_ERR_ARG, where *out is NULL.
 * The caller owns *out (ckpt_report_free). */
typedef struct ckpt_report ckpt_report;

/* Scans a file by path; "-" is not special here (see ckpt_scan_fd). */
CKPT_API ckpt_status ckpt_scan_file(const ckpt_scanner *scanner, const char *path,
                                    ckpt_report **out);
/* Scans a memory buffer; `name` is the path shown in the report (may be NULL).
 * The buffer is only read, and not referenced after the call. */
CKPT_API ckpt_status ckpt_scan_mem(const ckpt_scanner *scanner, const void *data, size_t len,
                                   const char *name, ckpt_report **out);
/* Scans everything readable from a file descriptor (a pipe is fine), up to
 * the max-file-size limit; a longer stream gets a `limit` finding. */
CKPT_API ckpt_status ckpt_scan_fd(const ckpt_scanner *scanner, int fd, const char *name,
                                  ckpt_report **out);

/* ---- Reports ------------------------------------------------------------
 * Every string a report hands out is owned by the report, NUL-terminated,
 * and valid until ckpt_report_free. Strings that came from the input are
 * kept as the bytes were (they may be invalid UTF-8 or hold control bytes):
 * escape them before display; ckpt_report_write_json does. */
CKPT_API void ckpt_report_free(ckpt_report *report);

CKPT_API ckpt_verdict ckpt_report_verdict(const ckpt_report *report);
CKPT_API const char *ckpt_report_path(const ckpt_report *report);
CKPT_API ckpt_format ckpt_report_format(const ckpt_report *report);
/* CKPT_OK, or why the input could not be read (verdict ERROR). */
CKPT_API ckpt_status ckpt_report_status(const ckpt_report *report);
/* Size of the input in bytes. */
CKPT_API uint64_t ckpt_report_size(const ckpt_report *report);

typedef struct ckpt_finding {
    ckpt_code code;
    ckpt_severity severity; /* after policy (e.g. --strict) */
    const char *member;     /* archive member or "" for the file itself */
    uint64_t offset;        /* byte offset in the member (or file) */
    const char *opcode;     /* opcode name, or "" */
    const char *global;     /* resolved module.qualname, or "" */
    const char *call;       /* rendered call, e.g. "os.system('id')", or "" */
    const char *message;    /* one line for people */
} ckpt_finding;

CKPT_API size_t ckpt_report_finding_count(const ckpt_report *report);
/* Fills *out with finding i (0-based). CKPT_ERR_RANGE if i is too large. */
CKPT_API ckpt_status ckpt_report_finding(const ckpt_report *report, size_t i, ckpt_finding *out);

/* One entry per distinct import seen in the file. */
typedef struct ckpt_import {
    const char *module; /* as written in the stream; may hold NUL bytes, */
    const char *name;   /* so use the lengths (names over 4 KiB are cut) */
    size_t module_len;
    size_t name_len;
    const char *resolved; /* module.qualname after name mapping */
    size_t resolved_len;
    ckpt_code class_code; /* CKPT_F_UNKNOWN_IMPORT, CKPT_F_EXEC, ...; see allowed */
    int allowed;          /* 1 when exactly on the allowlist */
    uint64_t count;       /* times imported */
    uint64_t calls;       /* times called */
    const char *member;   /* first place it was seen */
    uint64_t offset;
} ckpt_import;

CKPT_API size_t ckpt_report_import_count(const ckpt_report *report);
CKPT_API ckpt_status ckpt_report_import(const ckpt_report *report, size_t i, ckpt_import *out);

/* One entry per pickle stream walked. */
typedef struct ckpt_pickle {
    const char *member;              /* archive member, or "" */
    uint64_t offset;                 /* start offset in the member */
    uint64_t end;                    /* offset after STOP, or where parsing stopped */
    int protocol;                    /* highest PROTO seen, 0 without PROTO */
    uint64_t opcodes;                /* opcodes executed */
    int complete;                    /* 1 when it reached STOP without error */
    int weights_only_ok;             /* 1 when torch's weights_only loader would accept it */
    const char *weights_only_reason; /* why not, or "" */
} ckpt_pickle;

CKPT_API size_t ckpt_report_pickle_count(const ckpt_report *report);
CKPT_API ckpt_status ckpt_report_pickle(const ckpt_report *report, size_t i, ckpt_pickle *out);

/* ---- Writers ------------------------------------------------------------
 * Output goes through a caller-supplied sink; the library itself never
 * writes to a file descriptor. A sink returns 0 on success; a non-zero
 * return stops the writer, which then returns CKPT_ERR_IO. */
typedef int (*ckpt_write_fn)(void *ctx, const char *bytes, size_t len);

/* Writes the report as one JSON object (schema: doc/report.schema.json),
 * without a trailing newline. Output is deterministic and pure ASCII. */
CKPT_API ckpt_status ckpt_report_write_json(const ckpt_report *report, ckpt_write_fn write,
                                            void *ctx);

/* Writes s[0..len) as a JSON string literal (quotes included) with the same
 * escaping as the reports: pure ASCII, invalid UTF-8 as \udcXX. */
CKPT_API ckpt_status ckpt_write_json_string(ckpt_write_fn write, void *ctx, const char *s,
                                            size_t len);

/* SARIF 2.1.0 for many reports in one log: begin, add each report (results
 * stream out as they are added), end (writes the artifacts and the
 * invocation, then frees the writer, also on error). Rule ids are the
 * finding codes; a result's location is the file (or archive member, as a
 * nested artifact) and the byte offset. */
typedef struct ckpt_sarif ckpt_sarif;

CKPT_API ckpt_status ckpt_sarif_begin(ckpt_write_fn write, void *ctx, ckpt_sarif **out);
CKPT_API ckpt_status ckpt_sarif_add(ckpt_sarif *sarif, const ckpt_report *report);
CKPT_API ckpt_status ckpt_sarif_end(ckpt_sarif *sarif);

/* Writes the scanner's effective configuration as text: the version,
 * strictness, every limit and every policy rule in force (built-in, from
 * profiles and from policy texts), one per line. Two scanners that write
 * the same text grade every input alike (in the same build), so a results
 * cache can key on a digest of it. */
CKPT_API ckpt_status ckpt_scanner_write_config(const ckpt_scanner *scanner, ckpt_write_fn write,
                                               void *ctx);

/* A scan report as bytes and back, for a results cache. ckpt_report_save
 * writes everything a report from ckpt_scan_* holds except its path
 * (CKPT_ERR_ARG for an inspection's report). ckpt_report_load rebuilds
 * the report under `name`, checking every length, code and count and that
 * the verdict is the one the findings give; anything else is CKPT_ERR_ARG.
 * The bytes belong to the build that wrote them: key them on the build.
 * A loaded report is whatever the bytes say: only load bytes you wrote. */
CKPT_API ckpt_status ckpt_report_save(const ckpt_report *report, ckpt_write_fn write, void *ctx);
CKPT_API ckpt_status ckpt_report_load(const void *data, size_t len, const char *name,
                                      ckpt_report **out);

/* ---- Disassembly -------------------------------------------------------
 * An annotated opcode listing, in the spirit of `python -m pickletools`,
 * with what only a stack-aware reader knows: resolved names, memo slots,
 * the call each REDUCE/BUILD/NEWOBJ makes, frame boundaries and where
 * parsing stopped and why. It is a normal scan (the report comes back as
 * with ckpt_scan_*) that also calls `fn` for every opcode of every pickle
 * whose member name equals `member` ("" = the file itself; NULL = every
 * pickle). Strings in a line are owned by the library and valid only
 * during the call. A non-zero return from fn stops the listing (the scan
 * goes on). */
typedef struct ckpt_dis_line {
    const char *member; /* archive member, or "" */
    uint64_t offset;    /* of the opcode, in the member */
    const char *opcode; /* name, or "" for a byte that is not one */
    unsigned char byte; /* the opcode byte */
    const char *value;  /* rendering of what the opcode pushed, or "" */
    const char *note;   /* names, memo slots, calls, frames, errors; or "" */
    size_t marks;       /* open MARKs (indentation) */
    int error;          /* 1 when parsing stopped at this opcode */
} ckpt_dis_line;

typedef int (*ckpt_dis_fn)(void *ctx, const ckpt_dis_line *line);

CKPT_API ckpt_status ckpt_dis_file(const ckpt_scanner *scanner, const char *path,
                                   const char *member, ckpt_dis_fn fn, void *ctx,
                                   ckpt_report **out);

/* ---- Inspection ---------------------------------------------------------
 * What a checkpoint holds, read without loading it. An inspection is a
 * normal scan (same findings and verdict; it also checks tensor extents and
 * storage record sizes, which can add findings) whose report also carries
 * the archive's members, torch's metadata, the tensor inventory recovered
 * from the rebuild calls, a summary of the top-level object and, for each
 * import, where in the object it is used. Containers are kept whole for
 * this (bounded by max-memory), so an inspection costs more memory than a
 * scan. On a report from ckpt_scan_* the counts below are 0. */
CKPT_API ckpt_status ckpt_inspect_file(const ckpt_scanner *scanner, const char *path,
                                       ckpt_report **out);
CKPT_API ckpt_status ckpt_inspect_mem(const ckpt_scanner *scanner, const void *data, size_t len,
                                      const char *name, ckpt_report **out);
/* The same on an open file descriptor (a regular file is mapped, anything
 * else read to its end); the caller keeps and closes fd. */
CKPT_API ckpt_status ckpt_inspect_fd(const ckpt_scanner *scanner, int fd, const char *name,
                                     ckpt_report **out);
/* 1 when the report comes from ckpt_inspect_*. */
CKPT_API int ckpt_report_inspected(const ckpt_report *report);

typedef enum ckpt_role {
    CKPT_ROLE_PICKLE = 0,  /* data.pkl, constants.pkl, *.pkl */
    CKPT_ROLE_TENSOR_DATA, /* a storage record (<archive>/data/<key>) */
    CKPT_ROLE_CODE,        /* TorchScript code/, *.py, extern_modules */
    CKPT_ROLE_METADATA,    /* version, byteorder, serialization_id, ... */
    CKPT_ROLE_OTHER
} ckpt_role;

/* "pickle", "tensor-data", "code", "metadata", "other". */
CKPT_API const char *ckpt_role_name(ckpt_role role);

/* One member of the archive as torch.load reads it (the miniz view; the
 * zipfile view when torch refuses the archive). */
typedef struct ckpt_member {
    const char *name; /* as stored; may hold NUL bytes: use name_len */
    size_t name_len;
    uint64_t size;            /* uncompressed, as declared */
    uint64_t compressed_size; /* as declared */
    unsigned method;          /* zip compression method */
    const char *method_name;  /* "stored", "deflate", ... */
    uint64_t offset;          /* of its local header */
    ckpt_role role;
} ckpt_member;

CKPT_API size_t ckpt_report_member_count(const ckpt_report *report);
CKPT_API ckpt_status ckpt_report_member(const ckpt_report *report, size_t i, ckpt_member *out);

typedef struct ckpt_torch_info {
    const char *layout;      /* "zip", "legacy", "tar", or "" when not a torch file */
    const char *version;     /* the archive's version record, or "" */
    const char *byteorder;   /* "little", "big", or "" when not recorded */
    int protocol;            /* pickle protocol of the main pickle, 0 if none */
    int torchscript;         /* 1 for a TorchScript archive (code/, constants.pkl) */
    const char *main_member; /* member of the main pickle ("" = the file) */
    int walk_incomplete;     /* 1 when part of the object was not inventoried
                                (nesting past 256 levels, the inventory's
                                memory budget, a pickle that did not complete)
                                or loaders read a pickle differently (a frame
                                straddle: see the findings) */
} ckpt_torch_info;

CKPT_API void ckpt_report_torch_info(const ckpt_report *report, ckpt_torch_info *out);

/* One tensor of the inventory, in the order the object holds them. */
typedef struct ckpt_tensor {
    const char *path;      /* key path in the object: "model.layers.0.weight" */
    const char *member;    /* the pickle it was found in */
    uint64_t offset;       /* of the rebuild call's opcode in that member */
    const char *rebuild;   /* "torch._utils._rebuild_tensor_v2", ... */
    const char *dtype;     /* "float32", ...; "" when unknown */
    size_t ndim;           /* shape and stride have ndim entries */
    const int64_t *shape;  /* NULL when ndim is 0 */
    const int64_t *stride; /* NULL when ndim is 0 or unknown */
    int has_stride;
    const char *storage_key; /* "" when the tensor has no storage */
    const char *device;      /* storage location, e.g. "cpu" */
    int64_t storage_offset;  /* in elements */
    uint64_t numel;          /* product of the shape */
    uint64_t nbytes;         /* numel x element size (0 if unknown) */
    int64_t storage_numel;   /* elements the persistent id declares, -1 unknown */
    int64_t record_bytes;    /* bytes of its storage record in the file, -1 unknown */
    size_t storage_users;    /* tensors sharing this storage (1: its own) */
    int is_parameter;        /* rebuilt as torch.nn.Parameter */
    int requires_grad;
    const char *problem; /* "" or what does not fit (also a finding) */
} ckpt_tensor;

CKPT_API size_t ckpt_report_tensor_count(const ckpt_report *report);
CKPT_API ckpt_status ckpt_report_tensor(const ckpt_report *report, size_t i, ckpt_tensor *out);

/* Totals per dtype, in order of first appearance. */
typedef struct ckpt_dtype_total {
    const char *dtype; /* "" for tensors of unknown dtype */
    uint64_t tensors;
    uint64_t elements;
    uint64_t bytes;
} ckpt_dtype_total;

CKPT_API size_t ckpt_report_dtype_count(const ckpt_report *report);
CKPT_API ckpt_status ckpt_report_dtype_total(const ckpt_report *report, size_t i,
                                             ckpt_dtype_total *out);

/* The top-level object in brief: one entry per key of a top-level dict
 * (or one entry with key "" for anything else). */
typedef struct ckpt_entry {
    const char *key; /* may hold NUL bytes: use key_len */
    size_t key_len;
    const char *kind;    /* "dict", "list", "tensor", "int", "object", ... */
    const char *summary; /* e.g. "3", "0.001", "optimizer: 4 parameter states ..." */
    uint64_t tensors;    /* tensors under it */
    uint64_t bytes;      /* their bytes */
} ckpt_entry;

CKPT_API size_t ckpt_report_entry_count(const ckpt_report *report);
CKPT_API ckpt_status ckpt_report_entry(const ckpt_report *report, size_t i, ckpt_entry *out);

/* Where import i is first used in the loaded object (a key path), or ""
 * when the object does not hold it (e.g. a call made during loading). */
CKPT_API const char *ckpt_report_import_usage(const ckpt_report *report, size_t i);

/* ---- Conversion to safetensors ------------------------------------------
 * Writes the weights of a checkpoint as a safetensors file without loading
 * it: the file is inspected (same scan, same policy), and only when its
 * verdict is SAFE are the inventory's tensors (those torch.load returns:
 * the main pickle's) written, under their state_dict names, each as
 * torch.load would return it: views made contiguous in row-major order,
 * storages shared by several tensors written once per tensor, storages of a
 * zip whose `byteorder` record says "big" byte-swapped (the legacy formats'
 * raw regions are little-endian whatever the machine: torch writes them so).
 * The header's __metadata__ holds format "pt", the source file's base name
 * ("source") and its format ("source_format").
 *
 * Layouts: torch zip (stored or deflated storage records), the legacy
 * stacked-pickle format, .npy and .npz (numeric arrays; C or Fortran
 * order). Tensor bytes are streamed from the file (read with pread, or
 * inflated in chunks); a non-contiguous view whose storage span passes
 * max-decompressed is gathered row by row: memory never grows with tensor
 * bytes. Nothing reaches the sink unless the whole conversion was decided
 * possible first; a sink or read error midway leaves a partial output,
 * which the caller discards (the CLI writes to a temporary file). */
typedef enum ckpt_convert_outcome {
    CKPT_CONVERT_WRITTEN = 0,     /* the safetensors file went to the sink */
    CKPT_CONVERT_NOT_SAFE = 1,    /* verdict not SAFE: nothing written (findings in the report) */
    CKPT_CONVERT_UNSUPPORTED = 2, /* tensors safetensors cannot express (quantized, sparse,
                                     complex, nested, ...) and no CKPT_CONVERT_SKIP_UNSUPPORTED:
                                     nothing written; they are listed */
    CKPT_CONVERT_REFUSED = 3      /* anything else that cannot be converted honestly (a view
                                     past its storage record, an incomplete inventory, a layout
                                     or compression not supported, ...): nothing written */
} ckpt_convert_outcome;

/* "written", "not-safe", "unsupported", "refused". */
CKPT_API const char *ckpt_convert_outcome_name(ckpt_convert_outcome outcome);

/* Flags of ckpt_convert_safetensors. */
#define CKPT_CONVERT_SKIP_UNSUPPORTED 1u /* leave unsupported tensors out (listed as skipped) */
/* Check that each deflated record inflates to its declared size while it
 * is written, not in a pass of its own before anything is written (each
 * record is then inflated once instead of twice). A record that does not
 * is found midway: outcome CKPT_CONVERT_REFUSED naming the anomaly, status
 * CKPT_OK, and part of the output already went to the sink: for callers
 * that discard anything not written (the CLI writes a temporary file). */
#define CKPT_CONVERT_CHECK_WHILE_WRITING 2u

typedef struct ckpt_conversion ckpt_conversion;

/* Converts the file at `path`, writing the safetensors bytes to write(ctx).
 * Returns CKPT_OK when the conversion reached an outcome (written or
 * refused: see ckpt_conversion_outcome); CKPT_ERR_IO when the sink failed,
 * the input could not be read midway or changed while it was read (the
 * output is then partial: discard it); CKPT_ERR_NOT_FOUND / IS_DIR when the
 * input cannot be opened. *out receives the conversion in every case but
 * CKPT_ERR_NOMEM and CKPT_ERR_ARG; the caller owns it
 * (ckpt_conversion_free). */
CKPT_API ckpt_status ckpt_convert_safetensors(const ckpt_scanner *scanner, const char *path,
                                              unsigned flags, ckpt_write_fn write, void *ctx,
                                              ckpt_conversion **out);
CKPT_API void ckpt_conversion_free(ckpt_conversion *conversion);

CKPT_API ckpt_convert_outcome ckpt_conversion_outcome(const ckpt_conversion *conversion);
/* One line for people: what was written, or why not. Owned by the
 * conversion. */
CKPT_API const char *ckpt_conversion_message(const ckpt_conversion *conversion);
/* The inspection report of the input (findings, verdict, inventory), or
 * NULL when the input could not be opened. Owned by the conversion. */
CKPT_API const ckpt_report *ckpt_conversion_report(const ckpt_conversion *conversion);
/* Bytes written to the sink (header and data). */
CKPT_API uint64_t ckpt_conversion_bytes(const ckpt_conversion *conversion);

/* One tensor of the conversion, in the order of the output's data (or,
 * when nothing was written, of the inventory). Strings and shape are owned
 * by the conversion. */
typedef struct ckpt_converted {
    const char *name;  /* state_dict name (the output's key) */
    const char *dtype; /* safetensors dtype ("F32", ...), or the torch dtype when skipped */
    size_t ndim;
    const int64_t *shape;
    uint64_t begin, end; /* data_offsets in the output (0, 0 when not written) */
    int written;         /* 1 when in the output */
    const char *reason;  /* why not ("" when written) */
} ckpt_converted;

CKPT_API size_t ckpt_conversion_tensor_count(const ckpt_conversion *conversion);
CKPT_API ckpt_status ckpt_conversion_tensor(const ckpt_conversion *conversion, size_t i,
                                            ckpt_converted *out);

#ifdef __cplusplus
}
#endif
#endif
