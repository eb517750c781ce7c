/* SPDX-License-Identifier: Apache-2.0 */
/* A set of (offset, length, kind) triples: the byte ranges of the input
 * file that were already scanned as a nested member, whatever archive or
 * nesting level reached them, so that members pointing at the same bytes
 * from k entries per level, d levels deep, cost k*d scans and not k^d. */
#include "seen.h"

#include <stdlib.h>

typedef struct slot {
    uint64_t offset, len;
    unsigned kind; /* 0: empty */
} slot;

struct seen_set {
    slot *t;
    size_t cap, n; /* cap: a power of two */
};

seen_set *seen_new(void)
{
    return calloc(1, sizeof(seen_set));
}

void seen_free(seen_set *s)
{
    if (s)
        free(s->t);
    free(s);
}

static size_t hash(uint64_t offset, uint64_t len, unsigned kind)
{
    uint64_t h = offset * 0x9E3779B97F4A7C15u ^ (len + kind) * 0xC2B2AE3D27D4EB4Fu;
    return (size_t)(h ^ (h >> 29));
}

/* The slot holding the triple, or the empty slot where it goes. */
static slot *find(slot *t, size_t cap, uint64_t offset, uint64_t len, unsigned kind)
{
    for (size_t i = hash(offset, len, kind) & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!t[i].kind || (t[i].offset == offset && t[i].len == len && t[i].kind == kind))
            return &t[i];
}

static int grow(seen_set *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    slot *t = calloc(cap, sizeof(*t));
    if (!t)
        return 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->t[i].kind)
            *find(t, cap, s->t[i].offset, s->t[i].len, s->t[i].kind) = s->t[i];
    free(s->t);
    s->t = t;
    s->cap = cap;
    return 1;
}

int seen_add(seen_set *s, uint64_t offset, uint64_t len, unsigned kind)
{
    if (!s || kind == 0)
        return -1;
    if ((s->n + 1) * 2 > s->cap && !grow(s))
        return -1;
    slot *p = find(s->t, s->cap, offset, len, kind);
    if (p->kind)
        return 0;
    *p = (slot){offset, len, kind};
    s->n++;
    return 1;
}
