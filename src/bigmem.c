/* Huge-page-friendly allocation for big arrays (see bigmem.h). */
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
