/* SPDX-License-Identifier: Apache-2.0 */
/* Arena allocator: bump allocation in chunks, a byte cap, release in one go. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#include "bigmem.h"

#define CHUNK_FIRST (4u * 1024u)
#define CHUNK_SIZE  (64u * 1024u)
#define CHUNK_MAX   (8u * 1024u * 1024u)

struct arena_chunk {
    arena_chunk *next;
    size_t size;
    size_t used;
    max_align_t data[]; /* aligned payload */
};

void arena_init(arena *a, uint64_t cap)
{
    memset(a, 0, sizeof(*a));
    a->cap = cap;
}

/* Bytes of the next chunk, header included: chunks grow with the arena
 * (4 KiB, then about what it holds, up to 8 MiB). A small pickle takes a
 * few KiB from malloc's free lists (64 KiB chunks made glibc grow and trim
 * the heap for every file of a batch); a stream that builds millions of
 * values takes few chunks, and the big ones are backed by huge pages where
 * the system allows it (far fewer page faults). Near the cap a chunk is
 * the larger of 64 KiB and the request, as before, so the cap refuses
 * what it refused before. */
static size_t chunk_total(const arena *a, size_t need)
{
    size_t min = need > CHUNK_SIZE ? need : CHUNK_SIZE;
    size_t total = CHUNK_FIRST;
    while (total < CHUNK_MAX && total < a->used)
        total *= 2;
    if (total < need + sizeof(arena_chunk))
        total = need + sizeof(arena_chunk);
    if (a->used + total > a->cap)
        total = min + sizeof(arena_chunk);
    return total < need ? 0 : total; /* 0: overflow */
}

static arena_chunk *new_chunk(arena *a, size_t need)
{
    size_t total = chunk_total(a, need);
    if (total == 0 || a->used + total > a->cap) {
        a->over_cap = 1;
        return NULL;
    }
    if (a->live && atomic_fetch_add(a->live, total) + total > a->live_cap) {
        atomic_fetch_sub(a->live, total);
        a->over_cap = a->over_live = 1;
        return NULL;
    }
    arena_chunk *c = big_malloc(total); /* huge pages from 2 MiB */
    if (!c) {
        if (a->live)
            atomic_fetch_sub(a->live, total);
        a->no_mem = 1;
        return NULL;
    }
    c->size = total - sizeof(arena_chunk);
    c->used = 0;
    a->used += total;
    /* A one-off block that leaves less room than the head has goes behind
     * it, so the head keeps its space. */
    if (a->head && c->size - need < a->head->size - a->head->used) {
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    return c;
}

void *arena_alloc(arena *a, size_t size)
{
    size_t rounded = (size + 7u) & ~(size_t)7u;
    if (rounded < size)
        return NULL;
    arena_chunk *c = a->head;
    if (!c || c->size - c->used < rounded) {
        c = new_chunk(a, rounded);
        if (!c)
            return NULL;
    }
    void *p = (char *)c->data + c->used;
    c->used += rounded;
    return p;
}

void *arena_zalloc(arena *a, size_t size)
{
    void *p = arena_alloc(a, size);
    if (p)
        memset(p, 0, size);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = arena_alloc(a, len + 1);
    if (p) {
        if (len)
            memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

void arena_release(arena *a)
{
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    if (a->live)
        atomic_fetch_sub(a->live, a->used);
    a->used = 0;
    a->over_cap = 0;
    a->over_live = 0;
    a->no_mem = 0;
}
