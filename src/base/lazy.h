/* SPDX-License-Identifier: Apache-2.0 */
/* A decompressed stream the walkers read through as it is decoded: bytes are
 * materialized on demand in a sparse image, under a budget. */
#ifndef CKPT_LAZY_H
#define CKPT_LAZY_H

#include <stddef.h>
#include <stdint.h>

/* A pull decoder: read() decodes the next bytes of the stream into out (at
 * most cap) and returns how many (0 only at its end or on an error);
 * rewind() puts it back at the stream's first byte (0 on failure). */
typedef struct lazy_src {
    size_t (*read)(void *dec, uint8_t *out, size_t cap);
    int (*rewind)(void *dec);
    void *dec;
} lazy_src;

typedef struct lazy_img lazy_img;

/* The walks of a lazy image hold the body of a bytes constant up to this
 * long; a longer one is data for pickle.load: decoded and thrown away. */
#define LAZY_BIG_CONSTANT (1u << 20)
/* ... of which the first max(max-string, this) bytes are held. */
#define LAZY_BIG_KEEP (64u << 10)

/* An image of the stream's first `bound` bytes whose pages cost nothing
 * until materialized; at most `budget` bytes are at once. The decoder stands
 * at offset `dpos`; head[0..head_len) (head_len <= dpos) are the stream's
 * first bytes, already decoded. NULL when the address space cannot be
 * reserved. */
lazy_img *lazy_open(const lazy_src *src, size_t bound, uint64_t budget, const uint8_t *head,
                    size_t head_len, size_t dpos);
void lazy_close(lazy_img *z);
const uint8_t *lazy_base(const lazy_img *z);
size_t lazy_bound(const lazy_img *z);
/* Where the stream ends: known once the decoder reached its end or
 * `bound` (then *cut says whether bytes follow); SIZE_MAX until then. */
size_t lazy_end(const lazy_img *z, int *cut);
/* Decodes (throwing away) up to `off` or the stream's end; returns the
 * smaller. lazy_finish: to the end, so that lazy_end knows it. */
size_t lazy_reach(lazy_img *z, size_t off);
void lazy_finish(lazy_img *z);
/* Bytes decoded (kept or thrown away) over the image's life. */
uint64_t lazy_decoded(const lazy_img *z);
/* Materializes [from, to) (decoding and throwing away what lies before it
 * that is not needed) and returns the end of the materialized run from
 * `from`: >= to, or less where the budget or the decoder stopped it. */
size_t lazy_ready(lazy_img *z, size_t from, size_t to);
/* 1 when the budget refused bytes (the walk that wanted them is cut). */
int lazy_refused(const lazy_img *z);

#endif
