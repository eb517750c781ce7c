/* SPDX-License-Identifier: Apache-2.0 */
/* A decompressed stream as a sparse image materialized on demand: the
 * walkers ask for the bytes they read; what they skip (joblib array data,
 * big constants) is decoded and thrown away, never held. Offsets stay those
 * of the stream, so values may point into the image for its whole life. */
#include "lazy.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DISCARD_CHUNK (256u * 1024u)
#define STEP_MIN      (4u * 1024u)    /* read-ahead of a new run */
#define STEP_MAX      (1024u * 1024u) /* ... growing with the run */
#define MAX_REWINDS   8u              /* back to offset 0: each costs one decode of the prefix */

typedef struct span {
    size_t a, b; /* [a, b) materialized */
} span;

struct lazy_img {
    lazy_src src;
    uint8_t *base;
    size_t bound, map_len;
    size_t end; /* SIZE_MAX until known */
    int cut;    /* bytes follow `bound` */
    uint64_t budget, used, decoded;
    size_t dpos; /* the decoder's position in the stream */
    int refused;
    unsigned rewinds;
    span *runs; /* sorted, disjoint, not adjacent */
    size_t nruns, runs_cap;
    uint8_t *scratch;
};

static int add_run(lazy_img *z, size_t a, size_t b);

lazy_img *lazy_open(const lazy_src *src, size_t bound, uint64_t budget, const uint8_t *head,
                    size_t head_len, size_t dpos)
{
    lazy_img *z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->src = *src;
    z->bound = bound;
    z->end = SIZE_MAX;
    z->budget = budget;
    z->dpos = dpos;
    z->map_len = bound ? bound : 1;
    void *p = mmap(NULL, z->map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    z->scratch = malloc(DISCARD_CHUNK);
    if (p == MAP_FAILED || !z->scratch) {
        if (p != MAP_FAILED)
            munmap(p, z->map_len);
        free(z->scratch);
        free(z);
        return NULL;
    }
    z->base = p;
    if (head_len > bound)
        head_len = bound;
    if (head_len) {
        memcpy(z->base, head, head_len);
        add_run(z, 0, head_len);
    }
    if (dpos >= bound) {
        z->dpos = bound;
        z->end = bound;
        z->cut = dpos > bound;
    }
    return z;
}

void lazy_close(lazy_img *z)
{
    if (!z)
        return;
    munmap(z->base, z->map_len);
    free(z->scratch);
    free(z->runs);
    free(z);
}

const uint8_t *lazy_base(const lazy_img *z)
{
    return z->base;
}

size_t lazy_bound(const lazy_img *z)
{
    return z->bound;
}

size_t lazy_end(const lazy_img *z, int *cut)
{
    if (cut)
        *cut = z->cut;
    return z->end;
}

uint64_t lazy_decoded(const lazy_img *z)
{
    return z->decoded;
}

int lazy_refused(const lazy_img *z)
{
    return z->refused;
}

/* Index of the first run ending after x (nruns when none). */
static size_t run_after(const lazy_img *z, size_t x)
{
    size_t lo = 0, hi = z->nruns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->runs[mid].b <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Records [a, b) as materialized (it overlaps no run but may abut them). */
static int add_run(lazy_img *z, size_t a, size_t b)
{
    size_t i = run_after(z, a); /* runs[i - 1].b <= a, runs[i].a >= b */
    int left = i > 0 && z->runs[i - 1].b == a, right = i < z->nruns && z->runs[i].a == b;
    if (left && right) {
        z->runs[i - 1].b = z->runs[i].b;
        memmove(&z->runs[i], &z->runs[i + 1], (z->nruns - i - 1) * sizeof(span));
        z->nruns--;
    } else if (left) {
        z->runs[i - 1].b = b;
    } else if (right) {
        z->runs[i].a = a;
    } else {
        if (z->nruns == z->runs_cap) {
            size_t cap = z->runs_cap ? z->runs_cap * 2 : 16;
            span *p = realloc(z->runs, cap * sizeof(span));
            if (!p)
                return 0;
            z->runs = p;
            z->runs_cap = cap;
        }
        memmove(&z->runs[i + 1], &z->runs[i], (z->nruns - i) * sizeof(span));
        z->runs[i] = (span){a, b};
        z->nruns++;
    }
    z->used += b - a;
    return 1;
}

/* The decoder reached the stream's end, or `bound` (is there more?). */
static void ended(lazy_img *z)
{
    if (z->dpos < z->bound) {
        z->end = z->dpos;
        return;
    }
    z->end = z->bound;
    z->cut = z->src.read(z->src.dec, z->scratch, 1) > 0;
}

/* Decodes up to `to` (<= bound) from wherever the decoder stands, keeping
 * the bytes from `keep` on in the image (keep == to: keeps nothing);
 * returns where decoding reached. */
static size_t decode_to(lazy_img *z, size_t keep, size_t to)
{
    if (z->dpos > keep) {
        if (z->rewinds >= MAX_REWINDS || !z->src.rewind(z->src.dec)) {
            z->refused = 1;
            return keep;
        }
        z->rewinds++;
        z->dpos = 0;
    }
    while (z->dpos < to) {
        int kept = z->dpos >= keep;
        size_t want = kept ? to - z->dpos : keep - z->dpos;
        if (!kept && want > DISCARD_CHUNK)
            want = DISCARD_CHUNK;
        size_t n = z->src.read(z->src.dec, kept ? z->base + z->dpos : z->scratch, want);
        z->dpos += n;
        z->decoded += n;
        if (n == 0) {
            ended(z);
            break;
        }
    }
    if (z->dpos == z->bound && z->end == SIZE_MAX)
        ended(z);
    return z->dpos < to ? z->dpos : to;
}

size_t lazy_reach(lazy_img *z, size_t off)
{
    size_t limit = z->end < z->bound ? z->end : z->bound;
    if (off > limit)
        off = limit;
    if (z->dpos < off)
        return decode_to(z, off, off);
    return off;
}

void lazy_finish(lazy_img *z)
{
    if (z->end == SIZE_MAX)
        lazy_reach(z, z->bound);
}

size_t lazy_ready(lazy_img *z, size_t from, size_t to)
{
    for (;;) {
        size_t limit = z->end < z->bound ? z->end : z->bound;
        if (to > limit)
            to = limit;
        if (from >= to)
            return from;
        size_t i = run_after(z, from);
        int inside = i < z->nruns && z->runs[i].a <= from;
        if (inside && z->runs[i].b >= to)
            return z->runs[i].b;
        size_t u = inside ? z->runs[i].b : from; /* first missing byte */
        size_t next = inside ? (i + 1 < z->nruns ? z->runs[i + 1].a : limit)
                             : (i < z->nruns ? z->runs[i].a : limit);
        /* read ahead as far as the run already goes (a new run: a page) */
        size_t step = inside ? u - z->runs[i].a : 0;
        step = step < STEP_MIN ? STEP_MIN : step > STEP_MAX ? STEP_MAX : step;
        size_t want = to - u > step ? to : u + step;
        if (want > next)
            want = next;
        uint64_t left = z->budget > z->used ? z->budget - z->used : 0;
        if (want - u > left) {
            want = u + (size_t)left;
            if (want < to)
                z->refused = 1;
        }
        if (want <= u)
            return u;
        size_t got = decode_to(z, u, want);
        if (got <= u || !add_run(z, u, got))
            return u;
        if (got < want && got >= (z->end < z->bound ? z->end : z->bound))
            return got; /* the stream ends there */
        if (got < want)
            return got;
    }
}
