/* SPDX-License-Identifier: Apache-2.0 */
/* Arena allocator with a hard byte cap: one per scanned stream, freed at once. */
#ifndef CKPT_ARENA_H
#define CKPT_ARENA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arena_chunk arena_chunk;

typedef struct arena {
    arena_chunk *head;
    uint64_t used; /* bytes obtained from malloc, headers included */
    uint64_t cap;  /* arena_alloc fails past this */
    int over_cap;  /* sticky: an allocation was refused for the cap */
    int no_mem;    /* sticky: malloc itself failed */
    /* When set: a counter shared with other arenas (other threads) that
     * every chunk is charged to, and its cap (over_live when refused). */
    _Atomic uint64_t *live;
    uint64_t live_cap;
    int over_live;
} arena;

void arena_init(arena *a, uint64_t cap);
/* Returns 8-byte aligned memory, or NULL when the cap or malloc refuses. */
void *arena_alloc(arena *a, size_t size);
void *arena_zalloc(arena *a, size_t size);
/* Copies len bytes and adds a NUL; NULL on failure. */
char *arena_strndup(arena *a, const char *s, size_t len);
/* Frees every chunk; the arena can be used again afterwards. */
void arena_release(arena *a);

#endif
