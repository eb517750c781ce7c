/* SPDX-License-Identifier: Apache-2.0 */
/* Natural merge sort (see runsort.h). */
#include "runsort.h"

#include <stdlib.h>
#include <string.h>

typedef struct rs {
    size_t size;
    int (*cmp)(const void *, const void *);
} rs;

/* Start of every ascending run, then n; returns the number of runs. */
static size_t find_runs(const rs *s, const char *a, size_t n, size_t *starts)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || s->cmp(a + (i - 1) * s->size, a + i * s->size) > 0)
            starts[k++] = i;
    starts[k] = n;
    return k;
}

/* Merges src[lo..mid) and src[mid..hi) into dst[lo..hi), left first on ties. */
static void merge(const rs *s, const char *src, char *dst, size_t lo, size_t mid, size_t hi)
{
    size_t i = lo, j = mid, o = lo, z = s->size;
    while (i < mid && j < hi) {
        int right = s->cmp(src + j * z, src + i * z) < 0;
        memcpy(dst + o++ * z, src + (right ? j++ : i++) * z, z);
    }
    memcpy(dst + o * z, src + i * z, (mid - i) * z);
    o += mid - i;
    memcpy(dst + o * z, src + j * z, (hi - j) * z);
}

/* One pass: run pairs merged from src into dst; returns the runs left. */
static size_t merge_pass(const rs *s, const char *src, char *dst, size_t *starts, size_t k)
{
    size_t out = 0;
    for (size_t r = 0; r < k; r += 2) {
        size_t lo = starts[r], mid = starts[r + 1];
        if (r + 1 < k)
            merge(s, src, dst, lo, mid, starts[r + 2]);
        else
            memcpy(dst + lo * s->size, src + lo * s->size, (mid - lo) * s->size);
        starts[out++] = lo;
    }
    starts[out] = starts[k];
    return out;
}

void runsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n < 2)
        return;
    size_t *starts = malloc((n + 1) * sizeof(*starts));
    char *tmp = malloc(n * size);
    if (!starts || !tmp || n * size / size != n) {
        free(starts);
        free(tmp);
        qsort(base, n, size, cmp);
        return;
    }
    rs s = {size, cmp};
    size_t k = find_runs(&s, base, n, starts);
    char *src = base, *dst = tmp;
    while (k > 1) {
        k = merge_pass(&s, src, dst, starts, k);
        char *t = src;
        src = dst;
        dst = t;
    }
    if (src != (char *)base)
        memcpy(base, src, n * size);
    free(starts);
    free(tmp);
}
