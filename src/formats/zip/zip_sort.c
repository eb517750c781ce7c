/* SPDX-License-Identifier: Apache-2.0 */
/* Sorting a view's entry names: a stable radix sort over 8-byte chunks of
 * the names (most significant chunk first, ASCII-lowercased for miniz), so
 * 60,000 names cost a few passes over integer keys instead of O(n log n)
 * byte-by-byte comparisons. Both loaders' orders are derived from it. */
#include <stdlib.h>
#include <string.h>

#include "pytext.h"
#include "zip_internal.h"

/* Runs this short are insertion-sorted: a radix pass costs more. */
#define ZSORT_SMALL 32

/* One entry at one depth of the sort. */
typedef struct zkey {
    uint64_t k;    /* name bytes [d, d + 8), big-endian, zero-padded */
    uint32_t idx;  /* entry index in the view */
    uint32_t tail; /* name bytes left from d: 0..8, or 9 when more follow */
} zkey;

/* A run of keys still to sort from depth d. */
typedef struct zseg {
    size_t lo, hi, d;
} zseg;

/* ASCII A-Z to a-z in each byte, other bytes unchanged (SWAR: no carry
 * crosses a byte, since the high bits are masked before the additions). */
static uint64_t lower8(uint64_t x)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
    uint64_t low7 = x & ~high;
    uint64_t ge_a = low7 + ones * (0x80 - 'A');
    uint64_t gt_z = low7 + ones * (0x80 - 'Z' - 1);
    uint64_t upper = ge_a & ~gt_z & ~x & high;
    return x | (upper >> 2);
}

static void set_key(zkey *z, const zentry *e, size_t d, int lower)
{
    size_t left = e->name_len > d ? e->name_len - d : 0;
    uint8_t b[8] = {0};
    if (left)
        memcpy(b, e->name + d, left < 8 ? left : 8);
    uint64_t k = 0;
    for (int i = 0; i < 8; i++)
        k = (k << 8) | b[i];
    z->k = lower ? lower8(k) : k;
    z->tail = left > 8 ? 9 : (uint32_t)left;
}

static int key_less(const zkey *a, const zkey *b)
{
    return a->k < b->k || (a->k == b->k && a->tail < b->tail);
}

static void insertion_sort(zkey *a, size_t m)
{
    for (size_t i = 1; i < m; i++) {
        zkey x = a[i];
        size_t j = i;
        for (; j > 0 && key_less(&x, &a[j - 1]); j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Digit d of a key: 0..7 a byte of k (least significant first), 8 the tail. */
static inline unsigned digit(const zkey *z, int d)
{
    return d == 8 ? z->tail : (uint8_t)(z->k >> (8 * d));
}

/* Stable sort of a[0..m) by (k, tail): LSD radix, tail first. The counts of
 * every digit come from one read; a digit every key shares costs nothing
 * more (names share long prefixes, so most do). */
static void radix_sort(zkey *a, zkey *tmp, size_t m)
{
    static const int order[] = {8, 0, 1, 2, 3, 4, 5, 6, 7};
    if (m <= ZSORT_SMALL) {
        insertion_sort(a, m);
        return;
    }
    uint32_t count[9][256];
    memset(count, 0, sizeof(count));
    for (size_t i = 0; i < m; i++)
        for (int d = 0; d < 9; d++)
            count[d][digit(&a[i], d)]++;
    zkey *src = a, *dst = tmp;
    for (size_t p = 0; p < sizeof(order) / sizeof(order[0]); p++) {
        int d = order[p];
        if (count[d][digit(&src[0], d)] == m)
            continue; /* every key has this digit: already in order */
        size_t sum = 0;
        for (size_t b = 0; b < 256; b++) {
            size_t c = count[d][b];
            count[d][b] = (uint32_t)sum;
            sum += c;
        }
        for (size_t i = 0; i < m; i++)
            dst[count[d][digit(&src[i], d)]++] = src[i];
        zkey *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, m * sizeof(*a));
}

/* Sorts the segment, marks equal names in `same`, queues runs of names
 * that agree so far and go on. */
static void sort_segment(const zview *v, int lower, zkey *a, zkey *tmp, uint8_t *same, zseg s,
                         zseg *stack, size_t *top)
{
    for (size_t i = s.lo; i < s.hi; i++)
        set_key(&a[i], &v->ent[a[i].idx], s.d, lower);
    radix_sort(a + s.lo, tmp, s.hi - s.lo);
    for (size_t i = s.lo; i < s.hi;) {
        size_t j = i + 1;
        while (j < s.hi && a[j].k == a[i].k && a[j].tail == a[i].tail)
            j++;
        if (a[i].tail == 9 && j - i > 1)
            stack[(*top)++] = (zseg){i, j, s.d + 8};
        else
            for (size_t k = i + 1; k < j; k++)
                same[k] = 1;
        i = j;
    }
}

int zname_sort(const zview *v, int lower, uint32_t *perm, uint8_t *same)
{
    size_t n = v->n;
    zkey *a = calloc(n ? n : 1, sizeof(*a));
    zkey *tmp = calloc(n ? n : 1, sizeof(*tmp));
    zseg *stack = calloc(n / 2 + 1, sizeof(*stack)); /* pending runs are disjoint, >= 2 long */
    if (!a || !tmp || !stack) {
        free(a);
        free(tmp);
        free(stack);
        return 0;
    }
    memset(same, 0, n);
    for (size_t i = 0; i < n; i++)
        a[i].idx = (uint32_t)i;
    size_t top = 0;
    if (n > 1)
        stack[top++] = (zseg){0, n, 0};
    while (top > 0) {
        zseg s = stack[--top];
        sort_segment(v, lower, a, tmp, same, s, stack, &top);
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = a[i].idx;
    free(a);
    free(tmp);
    free(stack);
    return 1;
}

/* 1 when zipfile's decoded, NUL-cut order of this name is its byte order:
 * ASCII, or valid UTF-8 under the UTF-8 flag (UTF-8 keeps code point
 * order), and no NUL. */
static int py_raw_orderable(const zentry *e)
{
    if (e->name_nul)
        return 0;
    if (!e->name_high)
        return 1;
    return (e->flags & ZFLAG_UTF8) && py_utf8_valid(e->name, e->name_len, 0);
}

/* torch's order is zipfile's when both views list the same central
 * headers, no name has an ASCII capital (lowercasing changes nothing) and
 * miniz tells every name from the others (so the order of equal names does
 * not matter): one sort serves both views. */
static int torch_order_serves(const zarchive *za)
{
    const zview *t = &za->torch, *p = &za->py;
    if (!za->torch_order || !za->torch_shared || t->n != p->n)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        const zentry *a = &t->ent[i], *b = &p->ent[i];
        if (a->name != b->name || a->name_len != b->name_len || za->torch_shared[i] || a->name_caps)
            return 0;
    }
    return 1;
}

int zipfile_sort(const zarchive *za, const zentry **ord, uint8_t *same)
{
    const zview *v = &za->py;
    for (size_t i = 0; i < v->n; i++)
        if (!py_raw_orderable(&v->ent[i]))
            return 0;
    if (torch_order_serves(za)) {
        for (size_t i = 0; i < v->n; i++)
            ord[i] = &v->ent[za->torch_order[i]];
        memset(same, 0, v->n);
        return 1;
    }
    uint32_t *perm = calloc(v->n ? v->n : 1, sizeof(*perm));
    if (!perm || !zname_sort(v, 0, perm, same)) {
        free(perm);
        return 0;
    }
    for (size_t i = 0; i < v->n; i++)
        ord[i] = &v->ent[perm[i]];
    free(perm);
    return 1;
}
