/* SPDX-License-Identifier: Apache-2.0 */
/* Scanner configuration and the per-file scan context shared by the
 * format readers and the pickle interpreter. */
#ifndef CKPT_SCAN_H
#define CKPT_SCAN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "ckptscan.h"
#include "policy.h"
#include "report.h"

struct ckpt_scanner {
    uint64_t limits[CKPT_LIMIT_COUNT_];
    /* interpreter memory held now by every scan using this scanner
     * (max-memory-process; the CLI's workers share one scanner) */
    _Atomic uint64_t mem_live;
    int strict;
    int no_fast_path;    /* tests: always run the full interpreter */
    int all_readings;    /* tests: walk joblib's reading even where it cannot differ */
    uint64_t lazy_above; /* tests: read decompressed pickle streams longer than
                            this lazily (0: past what max-decompressed holds) */
    policy *pol;
};

/* copyreg extension registry as the stream fills it (process-wide in
 * CPython, so it lives for the whole file). */
typedef struct ext_entry {
    int64_t code;
    const char *module; /* report-owned */
    const char *name;
} ext_entry;

/* Where ckpt_dis_* listings go (NULL in a normal scan). */
typedef struct dis_sink {
    ckpt_dis_fn fn;
    void *ctx;
    const char *member; /* NULL: every pickle */
    int stopped;        /* fn asked to stop */
} dis_sink;

/* Whether joblib.load could open the stream being read (scan_ctx.joblib). */
enum { JOBLIB_NO, JOBLIB_LOAD, JOBLIB_ZF };

struct scan_ctx;

/* How a reader scans what it finds inside its input (an archive member, a
 * decompressed stream, a checkpoint held in a pickle's bytes): through the
 * format dispatch the entry points hand down (formats_nested), so that no
 * reader names the layer above it. See scan_buffer and scan_member in
 * formats.h for what each does. */
typedef struct nested_scan {
    void (*buffer)(struct scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                   ckpt_format *format);
    int (*member)(struct scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                  int force_pickle);
} nested_scan;

typedef struct scan_ctx {
    const ckpt_scanner *sc;
    const nested_scan *nest;
    ckpt_report *rep;
    unsigned depth; /* archive / embedded-pickle nesting */
    ext_entry *ext;
    size_t next, ext_cap;
    dis_sink *dis;
    /* The read-only private file mapping the input lives in, or NULL: pages
     * of it may be dropped once read (they re-fault from the file). */
    const uint8_t *map;
    size_t map_len;
    unsigned embedded; /* nesting of embedded pickles being walked */
    int probing;       /* a throwaway walk that only asks where a pickle ends */
    /* Decompressed bytes held by the members and streams this one is nested
     * in: every inflation is capped at max-decompressed minus this, so a
     * bomb nested in bombs costs no more memory than one. */
    uint64_t held;
    /* Decompressed bytes produced so far for this input (max-decompressed-
     * total): overlapping members reading one kernel again and again cost
     * time, not memory. */
    uint64_t inflated;
    /* Interpreter memory held by the walks this one is nested in (an
     * embedded pickle's enclosing pickles): max-memory is one budget for
     * the whole nesting chain, not one per level. */
    uint64_t mem_held;
    /* The whole input as read or mapped, and the nested readings of it
     * already scanned (seen.h): one scan per byte range and kind. */
    const uint8_t *image;
    size_t image_len;
    struct seen_set *seen;
    /* joblib.load could open the stream at this level (JOBLIB_LOAD: the
     * file itself or what its compressor gives; JOBLIB_ZF: the old ZF
     * reader): a raw pickle there gets joblib's reading too. joblib_next:
     * what scan_member hands the next level (members of zips and tars are
     * read by torch, JOBLIB_NO). */
    int joblib, joblib_next;
    /* Pickle chains walked from a frame's end (pickle.c: frames read
     * without peek()), bounded per input. */
    unsigned frame_chains;
    /* Pickle 1 of the last raw stream read, as the fast path walked it
     * (formats.c): its buffer (NULL: not walked so), end and first import or
     * persistent id (SIZE_MAX: none), so that no skim reads it again. */
    const uint8_t *p1_buf;
    size_t p1_end, p1_effect;
    /* The decompressed stream being read as a lazy image (lazy.h), or NULL:
     * readers of a buffer inside it pull bytes with ctx_ready. */
    struct lazy_img *lazy;
} scan_ctx;

/* The end (an offset in buf) of the readable bytes of buf[0..len) from
 * `from` on, after materializing up to `to` when buf lies in the lazy image
 * being read: >= to unless its budget (max-decompressed) refused; `len` for
 * any other buffer, all of which is readable. */
size_t ctx_ready(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t from, size_t to);
/* Decodes the lazy image holding buf (if any) up to buf[off], throwing it
 * away, and returns buf's length as now known: less than len once the
 * stream's end is known to come first. */
size_t ctx_reach(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t off);
/* 1 when buf lies in the lazy image being read. */
int ctx_lazy_holds(const scan_ctx *ctx, const uint8_t *buf);

/* Lets the kernel drop the mapped pages of [from, to) if they belong to the
 * file mapping; nothing happens for other memory. */
void ctx_release_pages(const scan_ctx *ctx, const uint8_t *from, const uint8_t *to);
/* Asks the kernel to read [from, to) of the file mapping ahead: the
 * mapping itself is MADV_RANDOM so that the few scattered pages a scan of
 * a big checkpoint touches do not pull megabytes of tensor data along. */
void ctx_prefetch(const scan_ctx *ctx, const uint8_t *from, const uint8_t *to);

static inline uint64_t ctx_limit(const scan_ctx *ctx, ckpt_limit l)
{
    return ctx->sc->limits[l];
}

/* What max-decompressed (less what enclosing members hold) and
 * max-decompressed-total (less what this input already produced) leave for
 * one more decompressed buffer; *which names the one that binds. */
static inline uint64_t ctx_decompress_room(const scan_ctx *ctx, ckpt_limit *which)
{
    uint64_t cap = ctx_limit(ctx, CKPT_LIMIT_DECOMPRESSED);
    uint64_t total = ctx_limit(ctx, CKPT_LIMIT_DECOMPRESSED_TOTAL);
    uint64_t one = ctx->held < cap ? cap - ctx->held : 0;
    uint64_t all = ctx->inflated < total ? total - ctx->inflated : 0;
    *which = one <= all ? CKPT_LIMIT_DECOMPRESSED : CKPT_LIMIT_DECOMPRESSED_TOTAL;
    return one <= all ? one : all;
}

/* What max-memory leaves for one more walk: less what the enclosing walks
 * hold and what the enclosing members and streams hold decompressed. */
static inline uint64_t ctx_memory_room(const scan_ctx *ctx)
{
    uint64_t cap = ctx_limit(ctx, CKPT_LIMIT_MEMORY);
    uint64_t used = ctx->mem_held + ctx->held;
    return used < cap ? cap - used : 0;
}

/* Charges `bytes` of interpreter memory to the scanner's max-memory-process
 * (0, nothing charged, when that would pass it) and gives them back. */
static inline int ctx_mem_take(const scan_ctx *ctx, uint64_t bytes)
{
    _Atomic uint64_t *live = (_Atomic uint64_t *)&ctx->sc->mem_live;
    uint64_t now = atomic_fetch_add(live, bytes) + bytes;
    if (now <= ctx_limit(ctx, CKPT_LIMIT_MEMORY_PROCESS) || bytes == 0)
        return 1;
    atomic_fetch_sub(live, bytes);
    return 0;
}

static inline void ctx_mem_give(const scan_ctx *ctx, uint64_t bytes)
{
    atomic_fetch_sub((_Atomic uint64_t *)&ctx->sc->mem_live, bytes);
}

/* Adds a finding with the code's default severity. */
void ctx_finding(scan_ctx *ctx, ckpt_code code, const char *member, uint64_t offset,
                 const char *message);

/* The same with a printf-style message. */
void ctx_findingf(scan_ctx *ctx, ckpt_code code, const char *member, uint64_t offset,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Registers copyreg.add_extension(module, name, code). */
void ctx_ext_register(scan_ctx *ctx, const char *module, const char *name, int64_t code);
const ext_entry *ctx_ext_lookup(const scan_ctx *ctx, int64_t code);
void ctx_release(scan_ctx *ctx);

/* A throwaway walk's context (ctx_fork): like the parent's, but into the
 * report `into`, with a copyreg registry and no listing of its own.
 * CTX_FORK_DEEPER counts it one nesting level down; CTX_FORK_PROBE marks
 * a walk that only asks where a pickle ends (no frame chains, no second
 * reading of straddled frames, no probes of nested pickles). Release it
 * with ctx_release. */
enum { CTX_FORK_DEEPER = 1, CTX_FORK_PROBE = 2 };
scan_ctx ctx_fork(const scan_ctx *parent, ckpt_report *into, unsigned how);

/* Scans buf[0..len) one nesting level down as an archive member or a
 * decompressed stream (scan_member, formats.h); 1 when something was kept. */
static inline int ctx_scan_member(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                                  int force_pickle)
{
    return ctx->nest->member(ctx, member, buf, len, force_pickle);
}

/* Identifies and scans buf[0..len) as a whole file (scan_buffer, formats.h). */
static inline void ctx_scan_buffer(scan_ctx *ctx, const char *member, const uint8_t *buf,
                                   size_t len, ckpt_format *format)
{
    ctx->nest->buffer(ctx, member, buf, len, format);
}

/* "outer!inner" member names (just inner at the top level); report-owned. */
const char *member_join(scan_ctx *ctx, const char *outer, const char *inner);

/* Adds a `limit` finding naming the limit. */
void ctx_report_limit(ckpt_report *r, ckpt_limit limit, uint64_t value);
/* Writes ", of which ... N" into out when `used` bytes of a decompression
 * budget (max-decompressed or max-decompressed-total) were spent before
 * the buffer it cut, else "". */
void decompress_used_note(char *out, size_t size, ckpt_limit which, uint64_t used);

#endif
