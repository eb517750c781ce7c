/* SPDX-License-Identifier: Apache-2.0 */
/* The decompressors, one table of them (name, init, step, end): joblib's and
 * pandas' compressed streams (compress.c) and zip members (zip_extract.c)
 * decode through it, each with its own driver, under one output bound. */
#ifndef CKPT_CODEC_H
#define CKPT_CODEC_H

#include <bzlib.h>
#include <lzma.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#ifdef CKPT_HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef CKPT_HAVE_ZSTD
#include <zstd.h>
#endif

#include "scan.h"

typedef enum codec_id {
    CODEC_DEFLATE,    /* raw deflate (zip method 8) */
    CODEC_ZLIB,       /* zlib stream */
    CODEC_GZIP,       /* gzip member */
    CODEC_BZ2,        /* bzip2 stream (also zip method 12) */
    CODEC_XZ,         /* .xz stream */
    CODEC_LZMA_ALONE, /* .lzma (lzma-alone) stream */
    CODEC_LZMA_AUTO,  /* either, as LZMAFile(FORMAT_AUTO) reads what follows a stream */
    CODEC_LZMA_RAW,   /* raw LZMA1 with given properties (zipfile's method 14) */
    CODEC_LZ4,        /* LZ4 frame (when built with lz4) */
    CODEC_ZSTD,       /* zstd frame (when built with zstd) */
    CODEC_COUNT_
} codec_id;

/* What one call did. */
typedef enum codec_ret {
    CODEC_OK,      /* progress possible: call again with more input or room */
    CODEC_END,     /* the stream ended */
    CODEC_CORRUPT, /* bad data (or a codec this build lacks) */
    CODEC_NOMEM,   /* out of memory */
    CODEC_MEMLIMIT /* the stream needs more memory than allowed (dictionary, window) */
} codec_ret;

/* One open stream. */
typedef struct codec_stream {
    codec_id id;
    union {
        z_stream z;
        bz_stream b;
        lzma_stream x;
#ifdef CKPT_HAVE_LZ4
        LZ4F_dctx *l4;
#endif
#ifdef CKPT_HAVE_ZSTD
        ZSTD_DStream *zs;
#endif
    } s;
} codec_stream;

/* What opening a stream needs: the memory it may take (xz, lzma) and, for
 * CODEC_LZMA_RAW, the LZMA1 properties. */
typedef struct codec_args {
    uint64_t memlimit;
    const uint8_t *props;
    size_t nprops;
} codec_args;

/* The codec's name as reports print it ("zlib", "bz2", ...). */
const char *codec_name(codec_id id);

/* Opens s for codec id; anything but CODEC_OK leaves nothing to close. */
codec_ret codec_open(codec_stream *s, codec_id id, const codec_args *a);

/* Consumes up to *in_io bytes of `in` and writes up to *out_io bytes to
 * `out`; both are set to what was done. */
codec_ret codec_step(codec_stream *s, const uint8_t *in, size_t *in_io, uint8_t *out,
                     size_t *out_io);

void codec_close(codec_stream *s);

/* The bound on what `comp` compressed bytes may decompress to: the least of
 * what max-decompressed leaves after the enclosing members and streams,
 * what max-decompressed-total leaves, and max-ratio times the input (an
 * empty input counts as one byte); *which names it (the decompression
 * limit when two are equal). At most SIZE_MAX - 1, so a byte past it fits. */
size_t codec_output_cap(const scan_ctx *ctx, uint64_t comp, ckpt_limit *which);

#endif
