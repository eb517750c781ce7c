/* SPDX-License-Identifier: Apache-2.0 */
/* Compressed pickles as joblib (and pandas, by extension) open them: zlib,
 * gzip, bz2, xz, lzma-alone, joblib's legacy ZF, and lz4 / zstd when built
 * with them. Decompression is bounded by max-ratio and by max-decompressed
 * (which counts what enclosing members and streams hold, so memory never
 * grows with a bomb's size); what was decompressed before a cap or a
 * corrupt byte is still scanned, because the loader unpickles a stream as
 * it decompresses it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "formats.h"
#include "lazy.h"
#include "opcodes.h"
#include "util.h"

#define CHUNK        (256u * 1024u) /* output granted to a decoder per call */
#define ZF_DIGITS    19             /* len(hex(2 ** 64)) in joblib's ZF header */
#define RELEASE_STEP (8u << 20)     /* input pages let go behind the decoder */
#define LAZY_TAG     (64u << 10)    /* where a lazy image is searched for joblib */
#define PY_BLOCK     8192u          /* io.DEFAULT_BUFFER_SIZE: _compression's reads of the file */
#define PY_PROBE_MAX (4u << 20)     /* output a first-call probe decodes before it gives up */

typedef enum codec { C_NONE, C_ZLIB, C_GZIP, C_BZ2, C_XZ, C_LZMA, C_ZF, C_LZ4, C_ZSTD } codec;

/* The decoder of each (a ZF file holds zlib data after its header). */
static const codec_id decoder_of[] = {
    [C_ZLIB] = CODEC_ZLIB,       [C_GZIP] = CODEC_GZIP, [C_BZ2] = CODEC_BZ2, [C_XZ] = CODEC_XZ,
    [C_LZMA] = CODEC_LZMA_ALONE, [C_ZF] = CODEC_ZLIB,   [C_LZ4] = CODEC_LZ4, [C_ZSTD] = CODEC_ZSTD,
};

/* What BZ2File / LZMAFile make of a stream after the first that fails:
 * none (it did not fail, or no following stream), an error raised to the
 * unpickler (its first decompress() call returned data or needed more
 * input first), trailing data ignored (the first call failed before any
 * output: the unpickler gets EOF where that stream starts), or either
 * (the first call failed after some output, which it returns when the
 * reader asked for less). */
enum { PY_CUT_NONE, PY_CUT_RAISES, PY_CUT_EOF, PY_CUT_EITHER };

/* How decoding one stream ended. */
typedef enum dstatus { ST_END, ST_LIMIT, ST_CORRUPT, ST_TRUNC, ST_NOMEM, ST_MEMLIMIT } dstatus;

/* Decompressed bytes, capped at `max`; one byte past the cap is allowed in
 * so a stream that ends exactly at the cap is not mistaken for a longer one. */
typedef struct sink {
    uint8_t *p;
    size_t n, cap, max;
    int nomem;
} sink;

static codec detect(const uint8_t *b, size_t len)
{
    static const struct {
        const char *magic;
        size_t n;
        codec c;
    } magics[] = {{"ZF", 2, C_ZF},
                  {"\x1f\x8b", 2, C_GZIP},
                  {"BZh", 3, C_BZ2},
                  {"\xfd"
                   "7zXZ\x00",
                   6, C_XZ},
                  {"\x5d\x00", 2, C_LZMA}, /* joblib's _LZMA_PREFIX */
                  {"\x04\x22\x4d\x18", 4, C_LZ4},
                  {"\x28\xb5\x2f\xfd", 4, C_ZSTD}};
    for (size_t i = 0; i < ARRAY_LEN(magics); i++)
        if (len >= magics[i].n && memcmp(b, magics[i].magic, magics[i].n) == 0)
            return magics[i].c;
    /* zlib: CM 8 with a 32K window, and FCHECK making the header a multiple of 31 */
    if (len >= 2 && b[0] == 0x78 && ((0x78u << 8) | b[1]) % 31 == 0)
        return C_ZLIB;
    return C_NONE;
}

int compressed_magic(const uint8_t *buf, size_t len)
{
    return detect(buf, len) != C_NONE;
}

/* Room for the decoder: a pointer at the end of the output and how much it
 * may write; NULL when the cap is reached or memory ran out. */
static uint8_t *room(sink *s, size_t *avail)
{
    if (s->n >= s->max)
        return NULL;
    if (s->cap - s->n < CHUNK && s->cap < s->max) {
        size_t want = s->cap ? s->cap * 2 : CHUNK;
        if (want < s->cap || want > s->max)
            want = s->max;
        uint8_t *p = realloc(s->p, want);
        if (!p) {
            s->nomem = 1;
            return NULL;
        }
        s->p = p;
        s->cap = want;
    }
    size_t left = s->cap - s->n;
    *avail = left < CHUNK ? left : CHUNK;
    return s->p + s->n;
}

static dstatus no_room(const sink *s)
{
    return s->nomem ? ST_NOMEM : ST_LIMIT;
}

/* ---- the decoder: a stream of streams, pulled a chunk at a time ---- */

#define ST_GO ((dstatus)-1) /* a stream goes on */

/* One decoder over the compressed input, as Python's readers take
 * concatenated streams; bytes after the last one that do not start another
 * are trailing data. */
typedef struct zdec {
    codec c; /* C_ZLIB for ZF data */
    const uint8_t *in;
    size_t len, pos; /* input, and how much of it was consumed */
    size_t stream_start;
    uint64_t memlimit; /* xz / lzma dictionary */
    uint64_t stream_made;
    int live;      /* a stream's decoder is open */
    int streams;   /* opened so far */
    int auto_lzma; /* this stream is read by LZMAFile's auto decoder */
    int done;
    dstatus st; /* how it ended */
    size_t trailing;
    /* a stream after the first failed (ST_CORRUPT): Python's reader may
     * have taken it for trailing data and ended the output before it */
    int py_cut;          /* PY_CUT_*: what Python's first call on it does */
    uint64_t cut_at;     /* the output before that stream */
    uint64_t total_out;  /* output of every stream so far */
    const scan_ctx *ctx; /* input pages behind `released` are let go */
    size_t released;
    codec_stream cs;
} zdec;

static void zdec_init(zdec *d, const scan_ctx *ctx, codec c, const uint8_t *in, size_t len,
                      uint64_t memlimit)
{
    memset(d, 0, sizeof(*d));
    d->ctx = ctx;
    d->c = c;
    d->in = in;
    d->len = len;
    d->memlimit = memlimit;
    d->st = ST_END;
}

static dstatus status_of(codec_ret r)
{
    switch (r) {
    case CODEC_OK: return ST_GO;
    case CODEC_END: return ST_END;
    case CODEC_NOMEM: return ST_NOMEM;
    case CODEC_MEMLIMIT: return ST_MEMLIMIT;
    default: return ST_CORRUPT;
    }
}

/* Opens a decoder for the stream at d->pos: xz (one stream), lzma-alone,
 * or after a first one either (LZMAFile(FORMAT_AUTO) tries any bytes). */
static dstatus zdec_open(zdec *d)
{
    d->auto_lzma = d->streams > 0 && (d->c == C_XZ || d->c == C_LZMA);
    d->stream_made = 0;
    d->stream_start = d->pos;
    codec_args a = {d->memlimit, NULL, 0};
    dstatus st =
        status_of(codec_open(&d->cs, d->auto_lzma ? CODEC_LZMA_AUTO : decoder_of[d->c], &a));
    if (st != ST_GO)
        return st;
    d->live = 1;
    d->streams++;
    return ST_GO;
}

static void zdec_close(zdec *d)
{
    if (!d->live)
        return;
    codec_close(&d->cs);
    d->live = 0;
}

/* One step into out (cap <= CHUNK): zlib and bzip2, whose counters are 32
 * bits, are given CHUNK bytes of input at a time, the others all of it. An
 * input that runs out before the output does is a truncated stream. */
static dstatus zdec_step(zdec *d, uint8_t *out, size_t cap, size_t *made)
{
    size_t in = d->len - d->pos;
    if ((d->c == C_ZLIB || d->c == C_GZIP || d->c == C_BZ2) && in > CHUNK)
        in = CHUNK;
    *made = cap;
    codec_ret r = codec_step(&d->cs, d->in + d->pos, &in, out, made);
    d->pos += in;
    if (r != CODEC_OK)
        return status_of(r);
    return d->pos == d->len && *made < cap ? ST_TRUNC : ST_GO;
}

/* 1 when the bytes at `in` start a stream the reader of codec c goes on
 * into after a stream: the same codec (gzip members, bz2 streams, zlib
 * for pandas), for LZMAFile(FORMAT_AUTO) any .xz or .lzma stream whatever
 * the first was (the auto decoder tries any bytes as .lzma), for LZ4
 * frame readers another frame or a skippable frame. */
static int continues(codec c, const uint8_t *in, size_t len)
{
    if (c == C_XZ || c == C_LZMA)
        return 1;
    if (c == C_LZ4 && len >= 4 && (in[0] & 0xf0) == 0x50 && in[1] == 0x2a && in[2] == 0x4d &&
        in[3] == 0x18)
        return 1;
    return detect(in, len) == c;
}

/* Python's _compression.DecompressReader (BZ2File, LZMAFile) opens a
 * stream after the first with one decompress() call on the rest of the
 * 8 KiB block of the file the previous stream ended in (or on the next
 * block), and takes an error in that call (OSError, LZMAError) for trailing
 * data: EOF. An error in a later call is raised to the unpickler. This
 * decodes that first call's input again with a fresh decoder: PY_CUT_*. */
static int py_first_call(const zdec *d)
{
    size_t start = d->stream_start, end = (start / PY_BLOCK + 1) * PY_BLOCK;
    if (end > d->len || end < start)
        end = d->len;
    zdec t;
    zdec_init(&t, d->ctx, d->c, d->in + start, end - start, d->memlimit);
    t.streams = d->streams - 1; /* the same decoder as the stream had */
    uint8_t *out = malloc(CHUNK);
    if (!out || zdec_open(&t) != ST_GO) {
        free(out);
        return PY_CUT_EITHER;
    }
    uint64_t made_total = 0;
    dstatus st = ST_GO;
    while (st == ST_GO && made_total <= PY_PROBE_MAX) {
        size_t made = 0;
        st = zdec_step(&t, out, CHUNK, &made);
        made_total += made;
    }
    zdec_close(&t);
    free(out);
    if (st == ST_TRUNC || st == ST_END)
        return PY_CUT_RAISES; /* the first call went through */
    return st == ST_CORRUPT && made_total == 0 ? PY_CUT_EOF : PY_CUT_EITHER;
}

/* A stream after the first failed: what Python's reader makes of it. */
static dstatus py_cut_stream(zdec *d, dstatus st)
{
    if (st != ST_CORRUPT || d->streams < 2 || (d->c != C_BZ2 && d->c != C_XZ && d->c != C_LZMA))
        return st;
    d->py_cut = py_first_call(d);
    d->cut_at = d->total_out - d->stream_made;
    if (d->py_cut != PY_CUT_EOF)
        return st;
    if (d->stream_made) { /* this decoder made output Python's would not */
        d->py_cut = PY_CUT_EITHER;
        return st;
    }
    d->py_cut = PY_CUT_NONE; /* trailing data: the output ends before it */
    d->pos = d->stream_start;
    return ST_END;
}

/* A stream ended with st: the next one, or the end of them all. */
static void zdec_ended(zdec *d, dstatus st)
{
    zdec_close(d);
    if (st == ST_END && d->pos < d->len && continues(d->c, d->in + d->pos, d->len - d->pos))
        return;
    st = py_cut_stream(d, st);
    d->st = st;
    d->done = 1;
    if (st == ST_END && d->pos < d->len)
        d->trailing = d->len - d->pos;
}

/* Decodes the next bytes into out (at most cap); 0 only once every stream
 * ended (d->st says how). */
static size_t zdec_read(zdec *d, uint8_t *out, size_t cap)
{
    while (!d->done && cap) {
        if (!d->live) {
            dstatus st = zdec_open(d);
            if (st != ST_GO) {
                d->st = st;
                d->done = 1;
                break;
            }
        }
        size_t made = 0;
        dstatus st = zdec_step(d, out, cap > CHUNK ? CHUNK : cap, &made);
        d->stream_made += made;
        d->total_out += made;
        if (d->pos - d->released >= RELEASE_STEP) { /* read once per pass */
            ctx_release_pages(d->ctx, d->in + d->released, d->in + d->pos);
            d->released = d->pos;
        }
        if (st != ST_GO)
            zdec_ended(d, st);
        if (made)
            return made;
    }
    return 0;
}

static void zdec_end(zdec *d)
{
    zdec_close(d);
}

/* lazy_src callbacks */
static size_t zdec_pull(void *dec, uint8_t *out, size_t cap)
{
    return zdec_read(dec, out, cap);
}

static int zdec_rewind(void *dec)
{
    zdec *d = dec;
    zdec_close(d);
    zdec_init(d, d->ctx, d->c, d->in, d->len, d->memlimit);
    return 1;
}

/* ---- driving it ---- */

/* What decompressing produced and how it ended. */
typedef struct outcome {
    dstatus st;
    size_t at;       /* input offset where it ended (or failed) */
    size_t trailing; /* bytes after the last stream that are not another */
    int py_cut;      /* PY_CUT_* of a stream after the first that failed */
} outcome;

/* Decodes into the sink until the streams end or the sink is full. */
static outcome fill_sink(zdec *d, sink *o)
{
    size_t avail;
    while (!d->done) {
        uint8_t *dst = room(o, &avail);
        if (!dst)
            return (outcome){no_room(o), d->pos, 0, PY_CUT_NONE};
        o->n += zdec_read(d, dst, avail);
    }
    return (outcome){d->st, d->pos, d->trailing, d->py_cut};
}

/* 'ZF' + 19 characters of hexadecimal length (Python int(s, 16)) + an
 * optional space, then zlib data. 0 when joblib could not parse the length. */
static int zf_header(const uint8_t *b, size_t len, uint64_t *declared, size_t *data)
{
    size_t end = len < 2 + ZF_DIGITS ? len : 2 + ZF_DIGITS, p = 2;
    *data = end < len && b[end] == ' ' ? end + 1 : end;
    while (p < end && (b[p] == ' ' || b[p] == '\t'))
        p++;
    if (end - p > 2 && b[p] == '0' && (b[p + 1] | 0x20) == 'x')
        p += 2;
    int digits = 0;
    *declared = 0;
    for (; p < end && b[p] != ' ' && b[p] != '\t'; p++) {
        int v = b[p] >= '0' && b[p] <= '9' ? b[p] - '0' : (b[p] | 0x20) - 'a' + 10;
        if (b[p] == '_' && digits)
            continue;
        if (v < 0 || v > 15 || *declared >> 60)
            return 0;
        *declared = *declared * 16 + (uint64_t)v;
        digits++;
    }
    while (p < end && (b[p] == ' ' || b[p] == '\t'))
        p++;
    return digits > 0 && p == end;
}

/* A limit cut the output at `cap` bytes: which, and what was scanned. */
static void report_cut(scan_ctx *ctx, const char *member, size_t at, ckpt_limit which, size_t cap,
                       const char *codec_name)
{
    char used[96];
    decompress_used_note(used, sizeof(used), which,
                         which == CKPT_LIMIT_DECOMPRESSED ? ctx->held : ctx->inflated);
    ctx_findingf(ctx, CKPT_F_LIMIT, member, at,
                 "%s: %s (limit %llu%s); only the first %zu bytes of the %s stream were scanned",
                 ckpt_limit_name(which), ckpt_limit_reason(which),
                 (unsigned long long)ctx_limit(ctx, which), used, cap, codec_name);
}

static void report_outcome(scan_ctx *ctx, const char *member, codec c, const outcome *r,
                           ckpt_limit which, size_t cap)
{
    const char *name = codec_name(decoder_of[c]);
    switch (r->st) {
    case ST_END: break;
    case ST_LIMIT: report_cut(ctx, member, r->at, which, cap, name); break;
    case ST_MEMLIMIT:
        ctx_report_limit(ctx->rep, CKPT_LIMIT_MEMORY, ctx_limit(ctx, CKPT_LIMIT_MEMORY));
        break;
    case ST_NOMEM:
        ctx_findingf(ctx, CKPT_F_LIMIT, member, r->at,
                     "out of memory decompressing the %s stream; the "
                     "rest was not scanned",
                     name);
        break;
    case ST_TRUNC:
        ctx_findingf(ctx, CKPT_F_TRUNCATED, member, r->at,
                     "the %s stream ends before its end marker", name);
        break;
    case ST_CORRUPT:
        if (r->py_cut == PY_CUT_EITHER)
            ctx_findingf(ctx, CKPT_F_MALFORMED, member, r->at,
                         "corrupt %s data in a stream after the first; what came before it "
                         "was scanned, and so was the output up to that stream (a Python "
                         "reader ignores a stream that fails in its first read)",
                         name);
        else
            ctx_findingf(ctx, CKPT_F_MALFORMED, member, r->at,
                         "corrupt %s data; what came before it was scanned", name);
        break;
    }
    if (r->trailing)
        ctx_findingf(ctx, CKPT_F_TRAILING_DATA, member, r->at,
                     "%zu bytes after the %s stream are not another %s stream", r->trailing, name,
                     name);
}

/* The decompressed stream handed to the readers: held whole in a buffer,
 * or a lazy image materialized as the walkers read it. */
typedef struct output {
    const uint8_t *p;
    size_t n;
    lazy_img *lazy;
    uint64_t budget; /* a lazy image's: counts against max-decompressed below */
} output;

static void scan_output(scan_ctx *ctx, const char *member, codec c, const output *o,
                        ckpt_format *format)
{
    static const char tag[] = "joblib.numpy_pickle";
    /* a lazy image is searched in its first 64 KiB (the wrapper's import
     * precedes its data); the format's name is all that depends on it */
    size_t look = o->n;
    if (o->lazy)
        look = lazy_ready(o->lazy, 0, o->n < LAZY_TAG ? o->n : LAZY_TAG);
    int joblib = c == C_ZF || (look && o->p && memmem(o->p, look, tag, sizeof(tag) - 1));
    *format = joblib ? CKPT_FORMAT_JOBLIB : CKPT_FORMAT_COMPRESSED_PICKLE;
    const uint8_t *out = o->p ? o->p : (const uint8_t *)"";
    uint64_t held = o->lazy ? o->budget : o->n;
    ctx->held += held; /* counts against max-decompressed below */
    lazy_img *outer = ctx->lazy;
    ctx->lazy = o->lazy;
    /* joblib.load decompresses a file it opens; ZF goes to its old reader */
    ctx->joblib_next = !ctx->joblib ? JOBLIB_NO : c == C_ZF ? JOBLIB_ZF : JOBLIB_LOAD;
    /* a gzip of a zip or tar is sniffed; anything else is what joblib and
     * pandas unpickle (a lazy image never starts a container) */
    ctx_scan_member(ctx, member_join(ctx, member, "<decompressed>"), out, o->n,
                    o->lazy || !container_magic(out, o->n));
    ctx->lazy = outer;
    ctx->held -= held;
}

/* BZ2File or LZMAFile may have ended the output where the stream that
 * failed starts (PY_CUT_EITHER): that shorter output, ending there, is
 * another reading of the same bytes (the Lib/pickle.py reading cuts a line
 * at its end as it does at EOF). */
static void scan_cut_reading(scan_ctx *ctx, const char *member, codec c, const output *o,
                             size_t cut)
{
    ckpt_report *r = report_new(ctx->rep->path, ctx->rep->max_findings, ctx->rep->strict);
    if (!r)
        return;
    ckpt_report *main_report = ctx->rep;
    dis_sink *dis = ctx->dis; /* a listing shows the whole output */
    ctx->rep = r;
    ctx->dis = NULL;
    output shorter = *o;
    shorter.n = cut;
    ckpt_format f;
    scan_output(ctx, member, c, &shorter, &f);
    ctx->rep = main_report;
    ctx->dis = dis;
    report_merge_reading(main_report, r);
    ckpt_report_free(r);
}

/* What a stream read lazily may decompress in all (it is decoded again
 * as it is walked, so this bounds time, not memory): max-decompressed-total
 * less what this input already produced, or max-ratio times the input. */
static size_t work_cap(const scan_ctx *ctx, size_t len, ckpt_limit *which)
{
    uint64_t total = ctx_limit(ctx, CKPT_LIMIT_DECOMPRESSED_TOTAL), ratio;
    total = ctx->inflated < total ? total - ctx->inflated : 0;
    *which = CKPT_LIMIT_DECOMPRESSED_TOTAL;
    if (!mul_overflows(len, ctx_limit(ctx, CKPT_LIMIT_RATIO), &ratio) && ratio < total) {
        total = ratio;
        *which = CKPT_LIMIT_RATIO;
    }
    return total > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)total;
}

/* A pickle stream longer than max-decompressed lets it hold, read as a
 * lazy image the walkers pull from (up to work_cap): its first bytes are
 * the head of what was decoded into the sink, and the decoder goes on from
 * where it stands. NULL when no image can be reserved. */
static lazy_img *open_lazily(scan_ctx *ctx, zdec *d, size_t len, const sink *o, ckpt_limit *which,
                             size_t *cap)
{
    ckpt_limit wwhich;
    size_t wcap = work_cap(ctx, len, &wwhich);
    uint64_t room = ctx_limit(ctx, CKPT_LIMIT_DECOMPRESSED);
    room = ctx->held < room ? room - ctx->held : 0;
    /* a quarter of the budget: the walks read there without decoding the
     * stream again (the decoder stands past it) */
    size_t head = o->n < room / 4 ? o->n : (size_t)(room / 4);
    lazy_src src = {zdec_pull, zdec_rewind, d};
    lazy_img *z = lazy_open(&src, wcap, room, o->p, head, o->n);
    if (z) {
        *which = wwhich;
        *cap = wcap;
    }
    return z;
}

/* After the walks of a lazy image: the stream decoded to its end (what the
 * walks left, thrown away), its length in *n and how it ended. */
static outcome finish_lazily(zdec *d, lazy_img *z, size_t *n)
{
    lazy_finish(z);
    int cut;
    *n = lazy_end(z, &cut);
    if (cut)
        return (outcome){ST_LIMIT, d->pos, 0, PY_CUT_NONE};
    /* decoded again after a rewind: the stream's end is known, not reached */
    uint8_t *scratch = d->done ? NULL : malloc(CHUNK);
    while (scratch && !d->done)
        zdec_read(d, scratch, CHUNK);
    free(scratch);
    return (outcome){d->done ? d->st : ST_NOMEM, d->pos, d->trailing, d->py_cut};
}

int read_compressed(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                    ckpt_format *format)
{
    codec c = detect(buf, len);
    if (c == C_NONE)
        return 0;
#ifndef CKPT_HAVE_LZ4
    if (c == C_LZ4) {
        ctx_finding(ctx, CKPT_F_UNSCANNED_MEMBER, member, 0,
                    "lz4 frame: this ckptscan was built without lz4, so its content is unscanned");
        *format = CKPT_FORMAT_COMPRESSED_PICKLE;
        return 1;
    }
#endif
#ifndef CKPT_HAVE_ZSTD
    if (c == C_ZSTD) {
        ctx_finding(
            ctx, CKPT_F_UNSCANNED_MEMBER, member, 0,
            "zstd frame: this ckptscan was built without zstd, so its content is unscanned");
        *format = CKPT_FORMAT_COMPRESSED_PICKLE;
        return 1;
    }
#endif
    ckpt_limit which;
    size_t cap = codec_output_cap(ctx, len, &which);
    /* past what max-decompressed lets it hold, a pickle stream is read
     * lazily (tests lower the point with lazy_above) */
    size_t eager = cap;
    int may_stream = which == CKPT_LIMIT_DECOMPRESSED;
    if (ctx->sc->lazy_above && ctx->sc->lazy_above < eager) {
        eager = (size_t)ctx->sc->lazy_above;
        may_stream = 1;
    }
    sink o = {NULL, 0, 0, eager + 1, 0};
    uint64_t declared = 0;
    size_t start = 0;
    int zf_ok = c == C_ZF ? zf_header(buf, len, &declared, &start) : 1;
    zdec d;
    zdec_init(&d, ctx, c == C_ZF ? C_ZLIB : c, buf + start, len - start,
              ctx_limit(ctx, CKPT_LIMIT_MEMORY));
    outcome r = fill_sink(&d, &o);
    output out = {NULL, 0, NULL, 0};
    if (o.n > eager && may_stream && r.st != ST_NOMEM && !container_magic(o.p, o.n))
        out.lazy = open_lazily(ctx, &d, len - start, &o, &which, &cap);
    if (out.lazy) {
        ctx->inflated += o.n;
        free(o.p);
        o = (sink){NULL, 0, 0, 0, 0};
        out.p = lazy_base(out.lazy);
        out.n = lazy_bound(out.lazy);
        out.budget = ctx_limit(ctx, CKPT_LIMIT_DECOMPRESSED);
        out.budget = ctx->held < out.budget ? out.budget - ctx->held : 0;
    } else {
        if (o.n > eager && eager < cap) { /* lazy_above: the rest of what it may hold */
            o.max = cap + 1;
            r = fill_sink(&d, &o);
        }
        ctx->inflated += o.n;
        if (o.n > cap) { /* the byte past the cap proves there was more */
            o.n = cap;
            if (r.st == ST_END)
                r.st = ST_LIMIT;
        }
        out.p = o.p;
        out.n = o.n;
    }
    scan_output(ctx, member, c, &out, format);
    if (out.lazy)
        r = finish_lazily(&d, out.lazy, &out.n);
    if (r.py_cut == PY_CUT_EITHER && d.cut_at < out.n)
        scan_cut_reading(ctx, member, c, &out, (size_t)d.cut_at);
    if (out.lazy)
        ctx->inflated += lazy_decoded(out.lazy);
    r.at += start;
    if (!zf_ok)
        ctx_findingf(ctx, CKPT_F_MALFORMED, member, 2,
                     "joblib ZF header whose length is not hexadecimal: "
                     "joblib refuses the file");
    else if (c == C_ZF && r.st == ST_END && declared != out.n)
        ctx_findingf(
            ctx, CKPT_F_ARCHIVE_ANOMALY, member, 2,
            "joblib ZF header says %llu bytes, the data holds %zu: joblib refuses the file "
            "after decompressing it",
            (unsigned long long)declared, out.n);
    if (c == C_ZF && r.st == ST_END)
        r.trailing = 0; /* zlib.decompress ignores what follows the stream */
    report_outcome(ctx, member, c == C_ZF ? C_ZLIB : c, &r, which, cap);
    lazy_close(out.lazy);
    zdec_end(&d);
    free(o.p);
    return 1;
}

/* ---- names_joblib over a lazy image ---- */

#define SKIM_STEP (64u << 10) /* first pull of the skim, then doubling */

/* At `at` (inside have): the header length of a bytes constant whose body
 * the walks skip (longer than LAZY_BIG_CONSTANT), *count its length; 0 for
 * anything else. */
static size_t big_constant_at(const uint8_t *buf, size_t have, size_t at, uint64_t *count)
{
    size_t width = buf[at] == OP_BINBYTES                                ? 4
                   : buf[at] == OP_BINBYTES8 || buf[at] == OP_BYTEARRAY8 ? 8
                                                                         : 0;
    if (!width || width + 1 > have - at)
        return 0;
    *count = width == 4 ? load_le32(buf + at + 1) : load_le64(buf + at + 1);
    return *count > LAZY_BIG_CONSTANT ? 1 + width : 0;
}

static int holds_names(const uint8_t *p, size_t n)
{
    return lite_names_joblib(p, n);
}

int lazy_names_joblib(scan_ctx *ctx, const uint8_t *buf, size_t len)
{
    size_t pos = 0, seg = 0, want = SKIM_STEP;
    for (;;) {
        size_t have = ctx_ready(ctx, buf, len, seg, want);
        len = ctx_reach(ctx, buf, len, 0); /* shorter once the end is known */
        int ran_out = 0;
        size_t stop = pickle_skim_stop_ex(buf, have, pos, &ran_out);
        size_t at = pickle_skim_reach(buf, have, pos);
        uint64_t count = 0;
        size_t head = stop == SIZE_MAX && ran_out ? big_constant_at(buf, have, at, &count) : 0;
        if (stop != SIZE_MAX || !ran_out || (have == len && !head))
            return holds_names(buf + seg, (at < have ? at + 1 : have) - seg);
        if (head) /* what the walks keep of it, before the decoder passes it */
            ctx_ready(ctx, buf, len, at + head,
                      at + head + (count < LAZY_BIG_KEEP ? (size_t)count : LAZY_BIG_KEEP));
        if (head && (count > len - at - head ||
                     ctx_reach(ctx, buf, len, at + head + (size_t)count) < at + head + count))
            return holds_names(buf + seg, at + 1 - seg); /* the skim stops at a cut body */
        if (holds_names(buf + seg, (head ? at + head : have) - seg))
            return 1;
        if (!head) { /* pull on, doubling */
            if (have < want)
                return 1; /* the budget refused: both readings */
            want = have + (have - seg);
            pos = at;
            continue;
        }
        seg = pos = at + head + (size_t)count;
        want = seg + SKIM_STEP;
    }
}
