/* SPDX-License-Identifier: Apache-2.0 */
/* The ckptscan command line: options, input collection, parallel batch
 * scanning and output writers. Uses only the public header. */
#ifndef CKPTSCAN_CLI_H
#define CKPTSCAN_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ckptscan.h"

enum out_format { OUT_TEXT, OUT_JSON, OUT_JSONL, OUT_SARIF, OUT_BASELINE };

/* baseline.c: accepted files by SHA-256 (--baseline), and the lines of
 * --format baseline. */
typedef struct baseline baseline;
/* NULL when the file cannot be read (errno) or *bad_line is a bad line. */
baseline *baseline_load(const char *path, size_t *bad_line);
void baseline_free(baseline *b);
/* 1 when the content with this digest was accepted at verdict v or worse. */
int baseline_accepts(const baseline *b, const char *sha256, ckpt_verdict v);

/* util.c: makes room for `need` elements of `elem` bytes in *array
 * (capacity *cap, doubled from 64 as needed). Returns 0, or -1 on no
 * memory or overflow (*array is then unchanged). */
int grow_array(void **array, size_t *cap, size_t need, size_t elem);

/* A growable list of owned strings. */
typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

/* Adds a copy of s (n bytes); returns 0, or -1 on no memory. */
int strlist_addn(strlist *l, const char *s, size_t n);
int strlist_add(strlist *l, const char *s);
void strlist_free(strlist *l);

enum cli_command { CMD_SCAN, CMD_DIS, CMD_INSPECT };

typedef struct cli_opts {
    enum cli_command command;
    const char *dis_member; /* dis --member; NULL: every pickle */
    enum out_format format;
    ckpt_verdict fail_on;    /* SUSPICIOUS or DANGEROUS */
    int color;               /* resolved: 1 to colour text output */
    int quiet;               /* text: verdict lines only */
    int unsafe_only;         /* list only files that are not SAFE; always the summary */
    int hash;                /* --hash: sha256 of each file */
    const char *label;       /* --label: the name standard input is reported under */
    const char *cache_dir;   /* --cache */
    baseline *accepted;      /* --baseline, or NULL */
    struct cli_cache *cache; /* --cache, or NULL */
    int progress;            /* resolved: 1 to draw a progress line on stderr */
    int jobs;                /* worker threads, >= 1 */
    int null_sep;            /* --files-from entries end with NUL */
    const char *files_from;
    strlist include, exclude;  /* globs */
    strlist policies;          /* --policy files, for the warnings */
    unsigned shard_k, shard_n; /* shard_n == 0: no sharding; else 1 <= k <= n */
    char **args;
    int nargs;
} cli_opts;

/* options.c: parses argv, configuring the scanner. Returns -1 to go on, or
 * an exit status (0 after --help/--version, 2 on a usage error). */
int cli_parse(int argc, char **argv, cli_opts *o, ckpt_scanner *s);
void cli_opts_free(cli_opts *o);

/* Where the walk hands each input, in order; add returns 0, or -1 on no
 * memory (the walk then stops). */
typedef struct input_sink {
    /* fifo: the input is a named pipe (scanned once a writer opens it) */
    /* aliases: its other names, packed "a\0b\0\0" (taken over), or NULL */
    int (*add)(void *ctx, const char *path, int fifo, char *aliases);
    void *ctx;
} input_sink;

/* What a walk left out, by reason, and the directories it could not read. */
typedef struct walk_counts {
    unsigned long long other_name;   /* a file already taken under another name */
    unsigned long long special;      /* FIFO, device or socket found in a directory */
    unsigned long long dir_again;    /* a directory already walked (symlink loop) */
    unsigned long long too_deep;     /* nesting past the depth limit */
    unsigned long long hub_metadata; /* a Hugging Face cache's refs/, .no_exist/, .locks/ */
    strlist unlisted;                /* directories that could not be read */
} walk_counts;

/* walk.c: expands arguments and --files-from into the inputs: directories
 * walked recursively (symlinks followed, loops and repeated inodes skipped,
 * special files skipped with a note), --include, --exclude and --shard
 * applied. Returns 0, or 2 when an input list could not be opened (before
 * any input is handed on) or read, or memory ran out. *wc gets what was
 * left out. */
int walk_inputs(const cli_opts *o, input_sink *sink, walk_counts *wc);
/* walk.c: the shard (1-based) a path belongs to out of n. */
unsigned shard_of(const char *path, unsigned n);

/* What the CLI adds to a report: its own look at the input, and what the
 * walk knows about it. */
typedef struct report_extra {
    const char *error;   /* why an unreadable input could not be read, else NULL */
    char error_buf[160]; /* (storage for error) */
    int truncated_zip;   /* starts as a zip archive whose end is missing */
    char sha256[65];     /* hex digest with --hash, else "" */
    const char *aliases; /* other names, packed "a\0b\0\0", or NULL */
    int accepted;        /* --baseline accepts this content at this verdict */
    int cached;          /* the report came from --cache */
} report_extra;

/* diagnose.c: fills *x for report r. */
void diagnose(const ckpt_report *r, report_extra *x);
/* The one-line explanation of a truncated archive. */
#define TRUNCATED_ZIP_TEXT                                                                         \
    "truncated archive: the file starts as a zip archive but its end (the central "                \
    "directory) is missing, so no loader can open it; a partial download? Fetch it again"

typedef struct cli_summary {
    unsigned long long files, by_verdict[4], by_format[CKPT_FORMAT_COUNT_];
    unsigned long long bytes, findings;
    unsigned long long gate[4]; /* by_verdict without the files the baseline accepts */
    unsigned long long accepted;
    unsigned long long cached; /* reports taken from --cache */
    walk_counts walk;
    int interrupted; /* SIGINT or SIGTERM stopped the batch */
    strlist unreadable;
    double seconds;
} cli_summary;

/* batch.c: walks the inputs and scans them with o->jobs threads while the
 * walk goes on, writing each report in input order as soon as it and all
 * before it are done (out_begin before the first one). Returns the walk's
 * status; *ninputs gets the number of inputs. */
int run_batch(const ckpt_scanner *s, const cli_opts *o, cli_summary *sum, size_t *ninputs);

/* Exit statuses; when several apply, the highest wins, so a dangerous
 * file is never masked by an unreadable one. */
enum {
    EXIT_SAFE = 0,      /* every file below --fail-on (with defaults: safe) */
    EXIT_FAIL_ON = 1,   /* some file at or above --fail-on */
    EXIT_TROUBLE = 2,   /* some file unreadable, no input, or a usage error */
    EXIT_DANGEROUS = 3, /* some file dangerous */
    EXIT_INTERRUPTED = 130
};

/* main.c: the exit status for these verdict counts and --fail-on, at least
 * `floor` (the status the walk or a usage problem already set). */
int exit_status(const unsigned long long by_verdict[4], ckpt_verdict fail_on, int floor);

/* sha256.c: the hex SHA-256 of a buffer, or of a file's content (returns
 * 0, or -1 when it could not be read). */
void sha256_hex(const void *data, size_t len, char hex[65]);
int sha256_file(const char *path, char hex[65]);
/* The same for an open regular file, read from offset 0 with pread. */
int sha256_fd(int fd, char hex[65]);
/* output.c: 1 when out_report writes something for r. */
int out_shows(const ckpt_report *r, const cli_opts *o);

/* explain.c: the advice for a finding code; the code the advice under a
 * report is about (-1 when none is needed); --explain CODE (exit status). */
const char *code_advice(ckpt_code code);
int report_worst_code(const ckpt_report *r);
int explain(const char *name);

/* cache.c: --cache DIR, reports stored by content digest, engine build and
 * configuration. cache_open says on stderr why it returns NULL. */
typedef struct cli_cache cli_cache;
struct stat;
cli_cache *cache_open(const char *dir, const ckpt_scanner *s);
void cache_close(cli_cache *c);
/* The stored report for content with this digest and size, under the name
 * path, or NULL (no entry, or one that does not check out). */
ckpt_report *cache_get(const cli_cache *c, const char *sha256, uint64_t size, const char *path);
/* Stores a report of content with this digest (not an unreadable file's,
 * an inspection's or one that hit max-memory-process). */
void cache_put(cli_cache *c, const char *sha256, const ckpt_report *r);
/* 1 when the two looks at a file (before and after its scan) show the same
 * unchanged content, old enough that a write could not hide in a clock tick. */
int cache_file_unchanged(const cli_cache *c, const struct stat *before, const struct stat *after);

/* sarif.c: the SARIF log of --format sarif (results stream out as reports
 * are added; artifacts and the invocation come at the end). */
typedef struct cli_sarif cli_sarif;
cli_sarif *sarif_begin(FILE *f);
void sarif_add(cli_sarif *s, const ckpt_report *r, const report_extra *x);
void sarif_end(cli_sarif *s, int interrupted);

void baseline_line(FILE *f, const ckpt_report *r, const report_extra *x);

/* policy_check.c: warns on stderr about each `allow` line of these policy
 * files that can never take effect with scanner s (deny beats allow). */
void check_policy_files(const ckpt_scanner *s, const strlist *paths);

/* signals.c: SIGINT/SIGTERM set a flag instead of killing the process. */
void cli_signals_install(void);
int cli_interrupted(void);

/* convert.c: the `convert` command (argv[0] is "convert"); returns the exit status. */
int run_convert(ckpt_scanner *s, int argc, char **argv);
/* dis.c: the `dis` command; returns the exit status. */
int run_dis(const ckpt_scanner *s, const cli_opts *o);
/* inspect.c: the inspection sections of a report from ckpt_inspect_*. */
void out_inspection(FILE *f, const ckpt_report *r);

/* term.c: writes s with bytes that could drive a terminal shown as \xNN. */
void out_safe_text(FILE *f, const char *s);

/* output.c */
void out_report(FILE *f, const ckpt_report *r, const report_extra *x, const cli_opts *o,
                size_t index);
void out_begin(FILE *f, const cli_opts *o);
void out_end(FILE *f, const cli_summary *sum, const cli_opts *o, size_t nfiles);

#endif
