/* SPDX-License-Identifier: Apache-2.0 */
/* The decompressors' table: zlib (raw deflate, zlib, gzip), libbz2,
 * liblzma (xz, lzma-alone, auto, raw LZMA1 as zipfile stores it), lz4 and
 * zstd frames when built with them; each entry opens, steps and ends a
 * stream and maps its library's return codes to codec_ret. */
#include "codec.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#ifdef CKPT_HAVE_ZSTD
#include <zstd_errors.h>
#endif

#include "util.h"

static unsigned clamp_uint(size_t n)
{
    return n < UINT_MAX ? (unsigned)n : UINT_MAX;
}

/* ---- zlib ---- */

static codec_ret zlib_init(codec_stream *s, int window_bits)
{
    memset(&s->s.z, 0, sizeof(s->s.z));
    return inflateInit2(&s->s.z, window_bits) == Z_OK ? CODEC_OK : CODEC_NOMEM;
}

static codec_ret deflate_open(codec_stream *s, const codec_args *a)
{
    (void)a;
    return zlib_init(s, -15); /* raw deflate, as miniz and zipfile */
}

static codec_ret zlib_open(codec_stream *s, const codec_args *a)
{
    (void)a;
    return zlib_init(s, 15);
}

static codec_ret gzip_open(codec_stream *s, const codec_args *a)
{
    (void)a;
    return zlib_init(s, 31);
}

static codec_ret zlib_step(codec_stream *s, const uint8_t *in, size_t *in_io, uint8_t *out,
                           size_t *out_io)
{
    z_stream *z = &s->s.z;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = clamp_uint(*in_io);
    z->next_out = out;
    z->avail_out = clamp_uint(*out_io);
    uInt ai = z->avail_in, ao = z->avail_out;
    int r = inflate(z, Z_NO_FLUSH);
    *in_io = ai - z->avail_in;
    *out_io = ao - z->avail_out;
    if (r == Z_STREAM_END)
        return CODEC_END;
    if (r == Z_OK || r == Z_BUF_ERROR)
        return CODEC_OK;
    return r == Z_MEM_ERROR ? CODEC_NOMEM : CODEC_CORRUPT;
}

static void zlib_end(codec_stream *s)
{
    inflateEnd(&s->s.z);
}

/* ---- bzip2 ---- */

static codec_ret bz2_open(codec_stream *s, const codec_args *a)
{
    (void)a;
    memset(&s->s.b, 0, sizeof(s->s.b));
    return BZ2_bzDecompressInit(&s->s.b, 0, 0) == BZ_OK ? CODEC_OK : CODEC_NOMEM;
}

static codec_ret bz2_step(codec_stream *s, const uint8_t *in, size_t *in_io, uint8_t *out,
                          size_t *out_io)
{
    bz_stream *b = &s->s.b;
    b->next_in = (char *)(uintptr_t)in;
    b->avail_in = clamp_uint(*in_io);
    b->next_out = (char *)out;
    b->avail_out = clamp_uint(*out_io);
    unsigned ai = b->avail_in, ao = b->avail_out;
    int r = BZ2_bzDecompress(b);
    *in_io = ai - b->avail_in;
    *out_io = ao - b->avail_out;
    if (r == BZ_STREAM_END)
        return CODEC_END;
    if (r == BZ_OK)
        return CODEC_OK;
    return r == BZ_MEM_ERROR ? CODEC_NOMEM : CODEC_CORRUPT;
}

static void bz2_end(codec_stream *s)
{
    BZ2_bzDecompressEnd(&s->s.b);
}

/* ---- xz and lzma ---- */

static codec_ret lzma_ret_of(lzma_ret r)
{
    switch (r) {
    case LZMA_OK: return CODEC_OK;
    case LZMA_MEM_ERROR: return CODEC_NOMEM;
    case LZMA_MEMLIMIT_ERROR: return CODEC_MEMLIMIT;
    default: return CODEC_CORRUPT;
    }
}

/* A failed liblzma open may leave state behind: freed here. */
static codec_ret lzma_opened(codec_stream *s, lzma_ret r)
{
    if (r != LZMA_OK)
        lzma_end(&s->s.x);
    return lzma_ret_of(r);
}

static codec_ret xz_open(codec_stream *s, const codec_args *a)
{
    lzma_stream init = LZMA_STREAM_INIT;
    s->s.x = init;
    return lzma_opened(s, lzma_stream_decoder(&s->s.x, a->memlimit, 0));
}

static codec_ret lzma_alone_open(codec_stream *s, const codec_args *a)
{
    lzma_stream init = LZMA_STREAM_INIT;
    s->s.x = init;
    return lzma_opened(s, lzma_alone_decoder(&s->s.x, a->memlimit));
}

static codec_ret lzma_auto_open(codec_stream *s, const codec_args *a)
{
    lzma_stream init = LZMA_STREAM_INIT;
    s->s.x = init;
    return lzma_opened(s, lzma_auto_decoder(&s->s.x, a->memlimit, 0));
}

/* liblzma allocates the whole dictionary first: more than memlimit is
 * refused before it does. */
static codec_ret lzma_raw_open(codec_stream *s, const codec_args *a)
{
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA1, NULL}, {LZMA_VLI_UNKNOWN, NULL}};
    if (lzma_properties_decode(&filters[0], NULL, a->props, a->nprops) != LZMA_OK)
        return CODEC_CORRUPT;
    lzma_stream init = LZMA_STREAM_INIT;
    s->s.x = init;
    codec_ret r = lzma_raw_decoder_memusage(filters) > a->memlimit
                      ? CODEC_MEMLIMIT
                      : lzma_opened(s, lzma_raw_decoder(&s->s.x, filters));
    free(filters[0].options);
    return r;
}

static codec_ret lzma_step(codec_stream *s, const uint8_t *in, size_t *in_io, uint8_t *out,
                           size_t *out_io)
{
    lzma_stream *x = &s->s.x;
    x->next_in = in;
    x->avail_in = *in_io;
    x->next_out = out;
    x->avail_out = *out_io;
    lzma_ret r = lzma_code(x, LZMA_RUN);
    *in_io -= x->avail_in;
    *out_io -= x->avail_out;
    if (r == LZMA_STREAM_END)
        return CODEC_END;
    return r == LZMA_BUF_ERROR ? CODEC_OK : lzma_ret_of(r);
}

static void lzma_end_stream(codec_stream *s)
{
    lzma_end(&s->s.x);
}

/* ---- lz4 and zstd frames ---- */

#ifdef CKPT_HAVE_LZ4
static codec_ret lz4_open(codec_stream *s, const codec_args *a)
{
    (void)a;
    return LZ4F_isError(LZ4F_createDecompressionContext(&s->s.l4, LZ4F_VERSION)) ? CODEC_NOMEM
                                                                                 : CODEC_OK;
}

static codec_ret lz4_step(codec_stream *s, const uint8_t *in, size_t *in_io, uint8_t *out,
                          size_t *out_io)
{
    size_t r = LZ4F_decompress(s->s.l4, out, out_io, in, in_io, NULL);
    if (LZ4F_isError(r))
        return CODEC_CORRUPT;
    return r == 0 ? CODEC_END : CODEC_OK;
}

static void lz4_end(codec_stream *s)
{
    LZ4F_freeDecompressionContext(s->s.l4);
}
#endif

#ifdef CKPT_HAVE_ZSTD
static codec_ret zstd_open(codec_stream *s, const codec_args *a)
{
    (void)a;
    s->s.zs = ZSTD_createDStream();
    return s->s.zs ? CODEC_OK : CODEC_NOMEM;
}

static codec_ret zstd_step(codec_stream *s, const uint8_t *in, size_t *in_io, uint8_t *out,
                           size_t *out_io)
{
    ZSTD_inBuffer src = {in, *in_io, 0};
    ZSTD_outBuffer dst = {out, *out_io, 0};
    size_t r = ZSTD_decompressStream(s->s.zs, &dst, &src);
    *in_io = src.pos;
    *out_io = dst.pos;
    if (ZSTD_isError(r))
        return ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge ? CODEC_MEMLIMIT
                                                                                : CODEC_CORRUPT;
    return r == 0 ? CODEC_END : CODEC_OK;
}

static void zstd_end(codec_stream *s)
{
    ZSTD_freeDStream(s->s.zs);
}
#endif

/* ---- the table ---- */

typedef struct codec_def {
    const char *name;
    codec_ret (*open)(codec_stream *s, const codec_args *a);
    codec_ret (*step)(codec_stream *s, const uint8_t *in, size_t *in_io, uint8_t *out,
                      size_t *out_io);
    void (*end)(codec_stream *s);
} codec_def;

static const codec_def codecs[CODEC_COUNT_] = {
    [CODEC_DEFLATE] = {"deflate", deflate_open, zlib_step, zlib_end},
    [CODEC_ZLIB] = {"zlib", zlib_open, zlib_step, zlib_end},
    [CODEC_GZIP] = {"gzip", gzip_open, zlib_step, zlib_end},
    [CODEC_BZ2] = {"bz2", bz2_open, bz2_step, bz2_end},
    [CODEC_XZ] = {"xz", xz_open, lzma_step, lzma_end_stream},
    [CODEC_LZMA_ALONE] = {"lzma", lzma_alone_open, lzma_step, lzma_end_stream},
    [CODEC_LZMA_AUTO] = {"lzma", lzma_auto_open, lzma_step, lzma_end_stream},
    [CODEC_LZMA_RAW] = {"lzma", lzma_raw_open, lzma_step, lzma_end_stream},
#ifdef CKPT_HAVE_LZ4
    [CODEC_LZ4] = {"lz4", lz4_open, lz4_step, lz4_end},
#else
    [CODEC_LZ4] = {"lz4", NULL, NULL, NULL},
#endif
#ifdef CKPT_HAVE_ZSTD
    [CODEC_ZSTD] = {"zstd", zstd_open, zstd_step, zstd_end},
#else
    [CODEC_ZSTD] = {"zstd", NULL, NULL, NULL},
#endif
};

const char *codec_name(codec_id id)
{
    return id < CODEC_COUNT_ ? codecs[id].name : "";
}

codec_ret codec_open(codec_stream *s, codec_id id, const codec_args *a)
{
    s->id = id;
    if (id >= CODEC_COUNT_ || !codecs[id].open)
        return CODEC_CORRUPT; /* not in this build */
    return codecs[id].open(s, a);
}

codec_ret codec_step(codec_stream *s, const uint8_t *in, size_t *in_io, uint8_t *out,
                     size_t *out_io)
{
    return codecs[s->id].step(s, in, in_io, out, out_io);
}

void codec_close(codec_stream *s)
{
    codecs[s->id].end(s);
}

size_t codec_output_cap(const scan_ctx *ctx, uint64_t comp, ckpt_limit *which)
{
    uint64_t cap = ctx_decompress_room(ctx, which), by_ratio;
    if (!mul_overflows(comp ? comp : 1, ctx_limit(ctx, CKPT_LIMIT_RATIO), &by_ratio) &&
        by_ratio < cap) {
        cap = by_ratio;
        *which = CKPT_LIMIT_RATIO;
    }
    return cap > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)cap;
}
