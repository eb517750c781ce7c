/* SPDX-License-Identifier: Apache-2.0 */
/* Huge-page-friendly allocation for big arrays (see bigmem.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mremap */
#endif
#include "bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

void *big_malloc(size_t bytes)
{
#ifdef MADV_HUGEPAGE
    if (bytes >= HUGE_PAGE) {
        size_t whole = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
        if (whole < bytes)
            return NULL;
        void *p = aligned_alloc(HUGE_PAGE, whole);
        if (p)
            madvise(p, whole, MADV_HUGEPAGE);
        return p;
    }
#endif
    return malloc(bytes ? bytes : 1);
}

void *big_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    if (bytes < HUGE_PAGE)
        return calloc(bytes ? bytes : 1, 1);
    void *p = big_malloc(bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

#define ZMAP (1u << 20)

static size_t page_round(size_t n)
{
    return (n + 4095u) & ~(size_t)4095u;
}

void *big_zrealloc(void *p, size_t old_bytes, size_t new_bytes)
{
    if (new_bytes < ZMAP) {
        uint8_t *q = realloc(p, new_bytes ? new_bytes : 1);
        if (q && new_bytes > old_bytes)
            memset(q + old_bytes, 0, new_bytes - old_bytes);
        return q;
    }
    if (page_round(new_bytes) < new_bytes)
        return NULL;
    if (p && old_bytes >= ZMAP) {
        void *q = mremap(p, page_round(old_bytes), page_round(new_bytes), MREMAP_MAYMOVE);
        return q == MAP_FAILED ? NULL : q;
    }
    void *q = mmap(NULL, page_round(new_bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (q == MAP_FAILED)
        return NULL;
    if (p && old_bytes)
        memcpy(q, p, old_bytes);
    free(p);
    return q;
}

void big_zfree(void *p, size_t bytes)
{
    if (p && bytes >= ZMAP)
        munmap(p, page_round(bytes));
    else
        free(p);
}

void *big_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    if (new_bytes < HUGE_PAGE)
        return realloc(p, new_bytes ? new_bytes : 1);
    void *q = big_malloc(new_bytes);
    if (!q)
        return NULL;
    if (p && old_bytes)
        memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
    free(p);
    return q;
}
