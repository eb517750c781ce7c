/* SPDX-License-Identifier: Apache-2.0 */
/* Reading a member's bytes: stored members in place (no copy, so tensor
 * data costs nothing); deflate (zlib, raw), bzip2 (libbz2) and LZMA
 * (liblzma, zipfile's layout) decompressed by ourselves so that a wrong CRC
 * or size never stops the scan; other methods, which no loader of interest
 * reads, are unsupported members.
 * Every output is bounded by max-ratio and by max-decompressed, which counts
 * what the enclosing members hold too: memory never grows with a bomb's
 * inflated size, and what was cut is a `limit` finding. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "pickle.h"
#include "zip_internal.h"

void zbytes_free(zbytes *b)
{
    free(b->owned);
    b->owned = NULL;
    b->p = NULL;
    b->n = 0;
}

/* Records that limit `which` cut the output. */
static void set_hit(const scan_ctx *ctx, zbytes *out, ckpt_limit which)
{
    out->hit = which;
    out->hit_value = ctx_limit(ctx, which);
    out->hit_used = which == CKPT_LIMIT_DECOMPRESSED         ? ctx->held
                    : which == CKPT_LIMIT_DECOMPRESSED_TOTAL ? ctx->inflated
                                                             : 0;
}

/* A growable output buffer that never exceeds `stop` bytes. */
typedef struct obuf {
    uint8_t *p;
    size_t n, cap, stop;
} obuf;

static int obuf_room(obuf *o, uint64_t hint)
{
    if (o->n < o->cap)
        return 1;
    if (o->cap >= o->stop)
        return 0;
    size_t want = o->cap ? o->cap * 2 : (size_t)(hint < (1u << 20) ? hint : (1u << 20));
    if (want < 4096)
        want = 4096;
    if (want > o->stop || want < o->cap)
        want = o->stop;
    uint8_t *q = realloc(o->p, want ? want : 1);
    if (!q)
        return 0;
    o->p = q;
    o->cap = want;
    return 1;
}

/* Hands the output to the caller and counts it (max-decompressed-total). */
static void finish(scan_ctx *ctx, zbytes *out, obuf *o)
{
    ctx->inflated += o->n;
    out->owned = o->p;
    out->p = o->p ? o->p : (const uint8_t *)"";
    out->n = o->n;
}

/* ---- decoders ---------------------------------------------------------------- */

typedef enum dres { D_OK, D_END, D_ERR } dres;

/* One step of the codec: consumes up to *in_io bytes and produces up to
 * *out_io bytes, both updated to what was done; any failure is D_ERR. */
static dres step(codec_stream *d, const uint8_t *in, size_t *in_io, uint8_t *out, size_t *out_io)
{
    codec_ret r = codec_step(d, in, in_io, out, out_io);
    return r == CODEC_OK ? D_OK : r == CODEC_END ? D_END : D_ERR;
}

/* zipfile's LZMA layout: version (2 bytes), properties size (2), LZMA1
 * properties, then a raw LZMA1 stream. Returns the header length, or 0. */
static size_t lzma_header(const uint8_t *src, uint64_t len, codec_args *a)
{
    if (len < 4 || (uint64_t)4 + load_le16(src + 2) > len)
        return 0;
    a->props = src + 4;
    a->nprops = load_le16(src + 2);
    return 4 + a->nprops;
}

/* ---- the driver ----------------------------------------------------------------- */

typedef struct drun {
    dres last;
    int exhausted; /* the input ran out before the stream's end */
} drun;

static void run_decoder(codec_stream *d, const uint8_t *src, uint64_t len, uint64_t hint, obuf *o,
                        drun *r)
{
    uint64_t pos = 0;
    r->last = D_OK;
    r->exhausted = 0;
    while (r->last == D_OK && obuf_room(o, hint)) {
        size_t in = len - pos < (UINT64_C(1) << 30) ? (size_t)(len - pos) : (size_t)1 << 30;
        size_t out = o->cap - o->n;
        r->last = step(d, src + pos, &in, o->p + o->n, &out);
        pos += in;
        o->n += out;
        if (r->last == D_OK && in == 0 && out == 0) { /* no progress */
            r->exhausted = pos == len;
            r->last = r->exhausted ? D_OK : D_ERR;
            return;
        }
    }
    if (r->last != D_OK || o->n < o->stop)
        return;
    /* The output reached its bound: is there more? */
    uint8_t probe;
    for (;;) {
        size_t in = len - pos < (UINT64_C(1) << 30) ? (size_t)(len - pos) : (size_t)1 << 30;
        size_t out = 1;
        dres got = step(d, src + pos, &in, &probe, &out);
        pos += in;
        if (out == 1) {
            r->last = D_OK; /* more output: cut at the bound */
            return;
        }
        if (got != D_OK) {
            r->last = got; /* ended exactly at the bound, or broken */
            return;
        }
        if (in == 0) { /* no progress */
            r->exhausted = pos == len;
            r->last = r->exhausted ? D_OK : D_ERR;
            return;
        }
    }
}

/* zlib refused a deflate stream that torch's miniz may still decode (it
 * takes incomplete one-symbol codes, 288/32 code lengths, symbols 286/287,
 * distance codes 30/31). torch reads what miniz produced even when miniz
 * then fails (mz_zip_reader_extract_to_mem sets no error for a failed
 * stream: the rest of torch's buffer is uninitialised): when miniz's rules
 * get further than zlib, their output replaces zlib's. */
static void miniz_rules(scan_ctx *ctx, const uint8_t *src, uint64_t len, uint64_t cap,
                        ckpt_limit which, obuf *o, zbytes *out)
{
    uint8_t *p = NULL;
    size_t n = 0, unwritten_at = SIZE_MAX;
    int r = miniz_inflate(src, len, o->stop, &p, &n, &unwritten_at);
    out->miniz_failed = r == MINIZ_INFLATE_FAILED;
    out->miniz_n = n;
    if (r != MINIZ_INFLATE_DONE && n <= o->n) {
        free(p);
        return;
    }
    free(o->p);
    o->p = p;
    o->n = o->cap = n;
    out->tinfl_only = 1;
    out->tinfl_unwritten = unwritten_at != SIZE_MAX;
    out->unwritten_at = unwritten_at;
    out->complete = r == MINIZ_INFLATE_DONE;
    out->corrupt = r == MINIZ_INFLATE_FAILED;
    if (r == MINIZ_INFLATE_CUT && o->stop == cap)
        set_hit(ctx, out, which);
}

/* Decompresses e's data (src[0..len)) with method's codec. */
static void decode_member(scan_ctx *ctx, const zentry *e, const uint8_t *src, uint64_t len,
                          uint64_t want, zbytes *out)
{
    codec_stream d;
    codec_args args = {ctx_limit(ctx, CKPT_LIMIT_MEMORY), NULL, 0};
    codec_id id = e->method == ZMETHOD_DEFLATE ? CODEC_DEFLATE
                  : e->method == ZMETHOD_BZIP2 ? CODEC_BZ2
                                               : CODEC_LZMA_RAW;
    size_t skip = id == CODEC_LZMA_RAW ? lzma_header(src, len, &args) : 0;
    codec_ret opened = id == CODEC_LZMA_RAW && !skip ? CODEC_CORRUPT : codec_open(&d, id, &args);
    if (opened != CODEC_OK) {
        out->corrupt = opened != CODEC_MEMLIMIT;
        if (opened == CODEC_MEMLIMIT) {
            out->hit = CKPT_LIMIT_MEMORY;
            out->hit_value = ctx_limit(ctx, CKPT_LIMIT_MEMORY);
        }
        return;
    }
    ckpt_limit which;
    uint64_t cap = codec_output_cap(ctx, len, &which);
    obuf o = {NULL, 0, 0, (size_t)(want < cap ? want : cap)};
    drun r;
    run_decoder(&d, src + skip, len - skip, e->uncomp, &o, &r);
    /* zipfile ends an LZMA member without end marker (flag bit 1 clear)
     * when its input runs out. */
    int lzma_eof = e->method == ZMETHOD_LZMA && !(e->flags & 2) && r.exhausted;
    if (r.last == D_END || lzma_eof) {
        out->complete = 1;
    } else if (r.last == D_OK && o.n >= o.stop && !r.exhausted) {
        if (o.stop == cap) /* else the caller asked for a prefix only */
            set_hit(ctx, out, which);
    } else {
        out->corrupt = 1;
    }
    if (e->method == ZMETHOD_DEFLATE && out->corrupt)
        miniz_rules(ctx, src, len, cap, which, &o, out);
    codec_close(&d);
    finish(ctx, out, &o);
}

void zbytes_extract(scan_ctx *ctx, const uint8_t *buf, uint64_t len, const zentry *e, uint64_t want,
                    zbytes *out)
{
    memset(out, 0, sizeof(*out));
    out->hit = CKPT_LIMIT_COUNT_;
    out->p = (const uint8_t *)"";
    if (!e->has_local || e->data > len) {
        out->corrupt = 1;
        return;
    }
    uint64_t avail = len - e->data;
    uint64_t comp = e->comp <= avail ? e->comp : avail;
    if (e->method == ZMETHOD_STORED) {
        /* torch reads the uncompressed size, zipfile min(comp, uncomp):
         * the longer reading holds the shorter one. */
        uint64_t n = e->uncomp <= avail ? e->uncomp : avail;
        out->p = buf + e->data;
        out->n = (size_t)n;
        out->complete = n == e->uncomp;
        out->corrupt = !out->complete;
    } else if (e->method == ZMETHOD_DEFLATE || e->method == ZMETHOD_BZIP2 ||
               e->method == ZMETHOD_LZMA) {
        decode_member(ctx, e, buf + e->data, comp, want, out);
    } else {
        /* zstd, xz, ...: no loader of interest reads them (torch's miniz
         * reads stored and deflate, zipfile stored, deflate, bzip2, LZMA) */
        out->unsupported = 1;
    }
}

/* ---- sniffing ------------------------------------------------------------ */

/* Walks the prefix as a pickle into a throwaway report: a complete pickle,
 * or one cut only by the end of the prefix, deserves the full inflate. */
static int pickle_prefix_plausible(scan_ctx *ctx, const uint8_t *p, size_t n)
{
    if (n == 0 || pickle_probe_prefix(ctx, p, n))
        return n != 0;
    ckpt_report *scratch = report_new("", UINT64_MAX, 0);
    if (!scratch)
        return 1; /* cannot tell: inflate */
    /* not CTX_FORK_PROBE: this walk also reads frame chains and straddled
     * frames, where a truncation may show */
    scan_ctx probe = ctx_fork(ctx, scratch, CTX_FORK_DEEPER);
    pickle_result res;
    pickle_scan_one(&probe, "", p, n, 0, &res);
    int truncated = 0;
    for (size_t i = 0; i < ckpt_report_finding_count(scratch); i++) {
        ckpt_finding f;
        ckpt_report_finding(scratch, i, &f);
        truncated |= f.code == CKPT_F_TRUNCATED;
    }
    ckpt_report_free(scratch);
    ctx_release(&probe);
    return res.started && truncated;
}

int zbytes_worth_inflating(scan_ctx *ctx, const uint8_t *p, size_t n)
{
    if (npy_header_suffices(ctx, p, n)) /* np.savez_compressed arrays */
        return 0;
    return container_magic(p, n) || pickle_prefix_plausible(ctx, p, n);
}
