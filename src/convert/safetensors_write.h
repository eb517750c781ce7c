/* SPDX-License-Identifier: Apache-2.0 */
/* The safetensors container as its public specification lays it out: an
 * 8-byte little-endian header length, a JSON header (dtype, shape and
 * data_offsets per tensor, string-valued __metadata__) padded with spaces
 * to a multiple of 8, then one byte buffer with no holes. */
#ifndef CKPT_SAFETENSORS_WRITE_H
#define CKPT_SAFETENSORS_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* Largest header the reference reader accepts (safetensors' MAX_HEADER_SIZE). */
#define ST_HEADER_MAX (100u << 20)

typedef struct st_entry {
    const char *name; /* valid UTF-8 (st_utf8_ok) */
    const char *dtype;
    size_t ndim;
    const int64_t *shape;
    uint32_t elsize;
    uint64_t nbytes;
    uint64_t begin, end; /* data_offsets, set by st_layout */
    size_t tag;          /* the caller's */
} st_entry;

typedef struct st_meta {
    const char *key, *value; /* valid UTF-8 */
} st_meta;

/* The safetensors dtype ("F32", ...) of a torch or numpy dtype name
 * ("float32", ...) with its element size, or NULL when safetensors has no
 * such type (complex, quantized, float8 *fnuz, ...). */
const char *st_dtype(const char *torch_dtype, uint32_t *elsize);

/* 1 when s is valid UTF-8 without surrogates (JSON keys must be). */
int st_utf8_ok(const char *s);

/* Orders e by element size (largest first), then name, and gives each its
 * data_offsets back to back, so every tensor starts aligned to its element
 * size; returns the buffer's total size, or UINT64_MAX on overflow. */
uint64_t st_layout(st_entry *e, size_t n);

/* Appends the 8-byte length and the padded header to sb (bounded by
 * ST_HEADER_MAX + 8). Returns 1, or 0 when the header is too long or memory
 * ran out. */
int st_header(strbuf *sb, const st_entry *e, size_t n, const st_meta *meta, size_t nmeta);

#endif
