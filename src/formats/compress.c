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

#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#ifdef CKPT_HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef CKPT_HAVE_ZSTD
#include <zstd.h>
#include <zstd_errors.h>
#endif

#include "formats.h"
#include "util.h"

#define CHUNK     (256u * 1024u) /* output granted to a decoder per call */
#define ZF_DIGITS 19             /* len(hex(2 ** 64)) in joblib's ZF header */

typedef enum codec { C_NONE, C_ZLIB, C_GZIP, C_BZ2, C_XZ, C_LZMA, C_ZF, C_LZ4, C_ZSTD } codec;

static const char *const codec_names[] = {"",     "zlib",      "gzip", "bz2", "xz",
                                          "lzma", "joblib ZF", "lz4",  "zstd"};

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

/* ---- one stream per codec; *used gets the input bytes consumed ---- */

static dstatus run_zlib(const uint8_t *in, size_t len, int wbits, sink *o, size_t *used)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, wbits) != Z_OK)
        return ST_NOMEM;
    size_t pos = 0, avail;
    dstatus st;
    for (;;) {
        uint8_t *dst = room(o, &avail);
        if (!dst) {
            st = no_room(o);
            break;
        }
        uInt chunk = len - pos > CHUNK ? CHUNK : (uInt)(len - pos);
        z.next_in = (Bytef *)(uintptr_t)(in + pos);
        z.avail_in = chunk;
        z.next_out = dst;
        z.avail_out = (uInt)avail;
        int r = inflate(&z, Z_NO_FLUSH);
        pos += chunk - z.avail_in;
        o->n += avail - z.avail_out;
        if (r == Z_STREAM_END) {
            st = ST_END;
            break;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            st = r == Z_MEM_ERROR ? ST_NOMEM : ST_CORRUPT;
            break;
        }
        if (pos == len && z.avail_out > 0) {
            st = ST_TRUNC;
            break;
        }
    }
    inflateEnd(&z);
    *used = pos;
    return st;
}

static dstatus run_bz2(const uint8_t *in, size_t len, sink *o, size_t *used)
{
    bz_stream z;
    memset(&z, 0, sizeof(z));
    if (BZ2_bzDecompressInit(&z, 0, 0) != BZ_OK)
        return ST_NOMEM;
    size_t pos = 0, avail;
    dstatus st;
    for (;;) {
        uint8_t *dst = room(o, &avail);
        if (!dst) {
            st = no_room(o);
            break;
        }
        unsigned chunk = len - pos > CHUNK ? CHUNK : (unsigned)(len - pos);
        z.next_in = (char *)(uintptr_t)(in + pos);
        z.avail_in = chunk;
        z.next_out = (char *)dst;
        z.avail_out = (unsigned)avail;
        int r = BZ2_bzDecompress(&z);
        pos += chunk - z.avail_in;
        o->n += avail - z.avail_out;
        if (r == BZ_STREAM_END) {
            st = ST_END;
            break;
        }
        if (r != BZ_OK) {
            st = r == BZ_MEM_ERROR ? ST_NOMEM : ST_CORRUPT;
            break;
        }
        if (pos == len && z.avail_out > 0) {
            st = ST_TRUNC;
            break;
        }
    }
    BZ2_bzDecompressEnd(&z);
    *used = pos;
    return st;
}

static dstatus lzma_status(lzma_ret r)
{
    switch (r) {
    case LZMA_MEM_ERROR: return ST_NOMEM;
    case LZMA_MEMLIMIT_ERROR: return ST_MEMLIMIT;
    default: return ST_CORRUPT;
    }
}

/* xz (one stream), lzma-alone, or either (auto: what follows a stream in
 * LZMAFile(FORMAT_AUTO)); the decoder's memory (dictionary) is capped by
 * max-memory. */
static dstatus run_lzma(const uint8_t *in, size_t len, int alone, uint64_t memlimit, sink *o,
                        size_t *used)
{
    lzma_stream z = LZMA_STREAM_INIT;
    lzma_ret r = alone == 2 ? lzma_auto_decoder(&z, memlimit, 0)
                 : alone    ? lzma_alone_decoder(&z, memlimit)
                            : lzma_stream_decoder(&z, memlimit, 0);
    if (r != LZMA_OK)
        return lzma_status(r);
    size_t avail;
    dstatus st;
    z.next_in = in;
    z.avail_in = len;
    for (;;) {
        uint8_t *dst = room(o, &avail);
        if (!dst) {
            st = no_room(o);
            break;
        }
        z.next_out = dst;
        z.avail_out = avail;
        r = lzma_code(&z, LZMA_RUN);
        o->n += avail - z.avail_out;
        if (r == LZMA_STREAM_END) {
            st = ST_END;
            break;
        }
        if (r != LZMA_OK && r != LZMA_BUF_ERROR) {
            st = lzma_status(r);
            break;
        }
        if (z.avail_in == 0 && z.avail_out > 0) {
            st = ST_TRUNC;
            break;
        }
    }
    *used = len - z.avail_in;
    lzma_end(&z);
    return st;
}

#ifdef CKPT_HAVE_LZ4
static dstatus run_lz4(const uint8_t *in, size_t len, sink *o, size_t *used)
{
    LZ4F_dctx *z;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&z, LZ4F_VERSION)))
        return ST_NOMEM;
    size_t pos = 0, avail;
    dstatus st;
    for (;;) {
        uint8_t *dst = room(o, &avail);
        if (!dst) {
            st = no_room(o);
            break;
        }
        size_t src = len - pos, made = avail;
        size_t r = LZ4F_decompress(z, dst, &made, in + pos, &src, NULL);
        pos += src;
        o->n += made;
        if (LZ4F_isError(r)) {
            st = ST_CORRUPT;
            break;
        }
        if (r == 0) {
            st = ST_END;
            break;
        }
        if (pos == len && made < avail) {
            st = ST_TRUNC;
            break;
        }
    }
    LZ4F_freeDecompressionContext(z);
    *used = pos;
    return st;
}
#endif

#ifdef CKPT_HAVE_ZSTD
static dstatus run_zstd(const uint8_t *in, size_t len, sink *o, size_t *used)
{
    ZSTD_DStream *z = ZSTD_createDStream();
    if (!z)
        return ST_NOMEM;
    ZSTD_inBuffer src = {in, len, 0};
    size_t avail;
    dstatus st;
    for (;;) {
        uint8_t *dst = room(o, &avail);
        if (!dst) {
            st = no_room(o);
            break;
        }
        ZSTD_outBuffer out = {dst, avail, 0};
        size_t r = ZSTD_decompressStream(z, &out, &src);
        o->n += out.pos;
        if (ZSTD_isError(r)) {
            st = ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge ? ST_MEMLIMIT
                                                                                  : ST_CORRUPT;
            break;
        }
        if (r == 0) {
            st = ST_END;
            break;
        }
        if (src.pos == len && out.pos < avail) {
            st = ST_TRUNC;
            break;
        }
    }
    ZSTD_freeDStream(z);
    *used = src.pos;
    return st;
}
#endif

static dstatus run_one(scan_ctx *ctx, codec c, const uint8_t *in, size_t len, sink *o, size_t *used)
{
    uint64_t memlimit = ctx_limit(ctx, CKPT_LIMIT_MEMORY);
    switch (c) {
    case C_ZLIB: return run_zlib(in, len, 15, o, used);
    case C_GZIP: return run_zlib(in, len, 31, o, used);
    case C_BZ2: return run_bz2(in, len, o, used);
    case C_XZ: return run_lzma(in, len, 0, memlimit, o, used);
    case C_LZMA: return run_lzma(in, len, 1, memlimit, o, used);
#ifdef CKPT_HAVE_LZ4
    case C_LZ4: return run_lz4(in, len, o, used);
#endif
#ifdef CKPT_HAVE_ZSTD
    case C_ZSTD: return run_zstd(in, len, o, used);
#endif
    default: *used = 0; return ST_CORRUPT;
    }
}

/* ---- driving it ---- */

/* What decompressing produced and how it ended. */
typedef struct outcome {
    dstatus st;
    size_t at;       /* input offset where it ended (or failed) */
    size_t trailing; /* bytes after the last stream that are not another */
} outcome;

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

/* Streams in a row, as Python's readers take concatenated members. Bytes
 * after the last stream that do not start another one are trailing data
 * (the readers ignore or reject them). */
static outcome decompress(scan_ctx *ctx, codec c, const uint8_t *in, size_t len, sink *o)
{
    outcome r = {ST_END, 0, 0};
    int first = 1;
    do {
        size_t used = 0, before = o->n;
        if (!first && (c == C_XZ || c == C_LZMA)) {
            r.st = run_lzma(in + r.at, len - r.at, 2, ctx_limit(ctx, CKPT_LIMIT_MEMORY), o, &used);
            if (r.st == ST_CORRUPT && o->n == before) {
                r.st = ST_END; /* not a stream: LZMAFile ignores trailing data */
                break;
            }
        } else {
            r.st = run_one(ctx, c, in + r.at, len - r.at, o, &used);
        }
        r.at += used;
        first = 0;
    } while (r.st == ST_END && r.at < len && continues(c, in + r.at, len - r.at));
    if (r.st == ST_END && r.at < len)
        r.trailing = len - r.at;
    return r;
}

/* The cap on output: what max-decompressed leaves after the enclosing
 * members and streams, what max-decompressed-total leaves for this input,
 * or max-ratio times the input, whichever is smallest; *which names it. */
static size_t output_cap(scan_ctx *ctx, size_t len, ckpt_limit *which)
{
    uint64_t total = ctx_decompress_room(ctx, which), ratio;
    if (!mul_overflows(len, ctx_limit(ctx, CKPT_LIMIT_RATIO), &ratio) && ratio < total) {
        total = ratio;
        *which = CKPT_LIMIT_RATIO;
    }
    return total > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)total;
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

static int starts_container(const uint8_t *b, size_t n)
{
    return (n >= 4 && (memcmp(b, "PK\x03\x04", 4) == 0 || memcmp(b, "PK\x05\x06", 4) == 0)) ||
           (n >= 6 &&
            (memcmp(b, "\x93NUMPY", 6) == 0 || memcmp(b, "7z\xbc\xaf\x27\x1c", 6) == 0)) ||
           compressed_magic(b, n) || tar_header_valid(b, n);
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
    const char *name = codec_names[c];
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
        ctx_findingf(ctx, CKPT_F_MALFORMED, member, r->at,
                     "corrupt %s data; what came before it was scanned", name);
        break;
    }
    if (r->trailing)
        ctx_findingf(ctx, CKPT_F_TRAILING_DATA, member, r->at,
                     "%zu bytes after the %s stream are not another %s stream", r->trailing, name,
                     name);
}

static void scan_output(scan_ctx *ctx, const char *member, codec c, const sink *o,
                        ckpt_format *format)
{
    static const char tag[] = "joblib.numpy_pickle";
    int joblib = c == C_ZF || (o->n && memmem(o->p, o->n, tag, sizeof(tag) - 1));
    *format = joblib ? CKPT_FORMAT_JOBLIB : CKPT_FORMAT_COMPRESSED_PICKLE;
    const uint8_t *out = o->p ? o->p : (const uint8_t *)"";
    /* a gzip of a zip or tar is sniffed; anything else is what joblib and
     * pandas unpickle */
    ctx->held += o->n; /* counts against max-decompressed below */
    /* joblib.load decompresses a file it opens; ZF goes to its old reader */
    ctx->joblib_next = !ctx->joblib ? JOBLIB_NO : c == C_ZF ? JOBLIB_ZF : JOBLIB_LOAD;
    ctx_scan_member(ctx, member_join(ctx, member, "<decompressed>"), out, o->n,
                    !starts_container(out, o->n));
    ctx->held -= o->n;
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
    size_t cap = output_cap(ctx, len, &which);
    sink o = {NULL, 0, 0, cap + 1, 0};
    uint64_t declared = 0;
    size_t start = 0;
    int zf_ok = c == C_ZF ? zf_header(buf, len, &declared, &start) : 1;
    outcome r = decompress(ctx, c == C_ZF ? C_ZLIB : c, buf + start, len - start, &o);
    ctx->inflated += o.n;
    r.at += start;
    if (o.n > cap) { /* the byte past the cap proves there was more */
        o.n = cap;
        if (r.st == ST_END)
            r.st = ST_LIMIT;
    }
    scan_output(ctx, member, c, &o, format);
    if (!zf_ok)
        ctx_findingf(ctx, CKPT_F_MALFORMED, member, 2,
                     "joblib ZF header whose length is not hexadecimal: "
                     "joblib refuses the file");
    else if (c == C_ZF && r.st == ST_END && declared != o.n)
        ctx_findingf(
            ctx, CKPT_F_ARCHIVE_ANOMALY, member, 2,
            "joblib ZF header says %llu bytes, the data holds %zu: joblib refuses the file "
            "after decompressing it",
            (unsigned long long)declared, o.n);
    if (c == C_ZF && r.st == ST_END)
        r.trailing = 0; /* zlib.decompress ignores what follows the stream */
    report_outcome(ctx, member, c == C_ZF ? C_ZLIB : c, &r, which, cap);
    free(o.p);
    return 1;
}
