/* Arena allocator: bump allocation in chunks, a byte cap, release in one go. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE (64u * 1024u)

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

static arena_chunk *new_chunk(arena *a, size_t need)
{
    size_t size = need > CHUNK_SIZE ? need : CHUNK_SIZE;
    size_t total = sizeof(arena_chunk) + size;
    if (total < size || a->used + total > a->cap) {
        a->over_cap = 1;
        return NULL;
    }
    arena_chunk *c = malloc(total);
    if (!c) {
        a->no_mem = 1;
        return NULL;
    }
    c->size = size;
    c->used = 0;
    a->used += total;
    /* A big one-off block goes behind the head so the head keeps its space. */
    if (a->head && size > CHUNK_SIZE) {
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
    size_t rounded = (size + 15u) & ~(size_t)15u;
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
    a->used = 0;
    a->over_cap = 0;
    a->no_mem = 0;
}
