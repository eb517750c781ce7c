/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the name sorts (src/formats/zip/zip_sort.c, miniz_sort, src/base/runsort.c): on random
 * names with duplicates, case variants, shared prefixes longer than a chunk, NUL and non-ASCII
 * bytes, the radix sorts must give exactly what the reference comparisons give: miniz's heap sort
 * with its name comparison (the order of duplicates included) and a stable sort by zipfile's
 * decoded names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pytext.h"
#include "runsort.h"
#include "zip_internal.h"

#define MAX_NAMES    700
#define NAME_MAX_LEN 40

static uint8_t g_names[MAX_NAMES][NAME_MAX_LEN];
static uint64_t g_rng = 0x9e3779b97f4a7c15u;

static uint32_t rnd(uint32_t n)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng % n);
}

/* A name from a small alphabet (so duplicates and long shared prefixes
 * happen), sometimes a copy of an earlier name with its case flipped. */
static void make_name(zentry *e, uint8_t *buf, size_t i, const char *alphabet, size_t alen)
{
    size_t n;
    if (i > 0 && rnd(4) == 0) {
        const zentry *o = e - 1 - rnd((uint32_t)(i < 20 ? i : 20));
        n = o->name_len;
        memcpy(buf, o->name, n);
        for (size_t k = 0; k < n; k++)
            if (rnd(3) == 0 && buf[k] >= 'a' && buf[k] <= 'z')
                buf[k] = (uint8_t)(buf[k] - 'a' + 'A');
    } else {
        n = rnd(NAME_MAX_LEN);
        size_t prefix = rnd(3) ? 12 : 0; /* longer than one 8-byte chunk */
        for (size_t k = 0; k < n; k++)
            buf[k] =
                k < prefix ? (uint8_t) "archive/data"[k] : (uint8_t)alphabet[rnd((uint32_t)alen)];
    }
    memset(e, 0, sizeof(*e));
    e->name = buf;
    e->name_len = (uint16_t)n;
    zname_props(e);
    int nul = 0, high = 0, caps = 0; /* the bits, byte by byte */
    for (size_t k = 0; k < n; k++) {
        nul |= buf[k] == 0;
        high |= buf[k] >= 0x80;
        caps |= buf[k] >= 'A' && buf[k] <= 'Z';
    }
    assert_int_equal(e->name_nul, nul);
    assert_int_equal(e->name_high, high);
    assert_int_equal(e->name_caps, caps);
}

static void make_view(zview *v, zentry *ent, size_t n, const char *alphabet, size_t alen)
{
    memset(v, 0, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        make_name(&ent[i], g_names[i], i, alphabet, alen);
    v->ent = ent;
    v->n = v->cap = n;
}

/* ---- references: the comparisons themselves ------------------------------ */

static int ref_less(const zview *v, uint32_t l, uint32_t r)
{
    const zentry *a = &v->ent[l], *b = &v->ent[r];
    return miniz_name_cmp(a->name, a->name_len, b->name, b->name_len) < 0;
}

static void ref_sift(const zview *v, uint32_t *ix, uint64_t root, uint64_t size)
{
    for (;;) {
        uint64_t child = (root << 1) + 1;
        if (child >= size)
            return;
        child += (child + 1 < size) && ref_less(v, ix[child], ix[child + 1]);
        if (!ref_less(v, ix[root], ix[child]))
            return;
        uint32_t t = ix[root];
        ix[root] = ix[child];
        ix[child] = t;
        root = child;
    }
}

/* miniz 2.1.0's mz_zip_reader_sort_central_dir_offsets_by_filename. */
static void ref_heap_sort(const zview *v, uint32_t *ix)
{
    uint32_t size = (uint32_t)v->n;
    for (uint32_t i = 0; i < size; i++)
        ix[i] = i;
    if (size <= 1)
        return;
    for (uint32_t start = (size - 2) >> 1;; start--) {
        ref_sift(v, ix, start, size);
        if (!start)
            break;
    }
    for (uint32_t end = size - 1; end > 0; end--) {
        uint32_t t = ix[end];
        ix[end] = ix[0];
        ix[0] = t;
        ref_sift(v, ix, 0, end);
    }
}

static int ref_py_cmp(const void *a, const void *b)
{
    const zentry *x = *(const zentry *const *)a, *y = *(const zentry *const *)b;
    int c = zipfile_name_cmp(x->name, x->name_len, (x->flags & ZFLAG_UTF8) != 0, y->name,
                             y->name_len, (y->flags & ZFLAG_UTF8) != 0, 1);
    return c ? c : (x > y) - (x < y);
}

/* ---- tests ---------------------------------------------------------------- */

static void check_miniz(const zview *v)
{
    uint32_t want[MAX_NAMES];
    uint8_t shared[MAX_NAMES];
    ref_heap_sort(v, want);
    uint32_t *got = miniz_sort_shared(v, shared);
    assert_non_null(got);
    assert_memory_equal(got, want, v->n * sizeof(*got));
    for (size_t i = 0; i < v->n; i++) {
        int other = 0;
        for (size_t j = 0; j < v->n; j++)
            other |= j != i && miniz_name_cmp(v->ent[i].name, v->ent[i].name_len, v->ent[j].name,
                                              v->ent[j].name_len) == 0;
        assert_int_equal(shared[i], other);
    }
    free(got);
}

static int py_same(const zentry *x, const zentry *y)
{
    return zipfile_name_cmp(x->name, x->name_len, (x->flags & ZFLAG_UTF8) != 0, y->name,
                            y->name_len, (y->flags & ZFLAG_UTF8) != 0, 1) == 0;
}

static void check_python(const zview *v, int expect_fast)
{
    const zentry *want[MAX_NAMES], *got[MAX_NAMES];
    uint8_t same[MAX_NAMES];
    for (size_t i = 0; i < v->n; i++)
        want[i] = &v->ent[i];
    qsort(want, v->n, sizeof(*want), ref_py_cmp);
    /* alone, then with torch's view of the same directory (its order is
     * reused when it is the same) */
    for (int with_torch = 0; with_torch < 2; with_torch++) {
        zarchive za;
        uint8_t shared[MAX_NAMES];
        memset(&za, 0, sizeof(za));
        za.py = *v;
        if (with_torch) {
            za.torch = *v;
            za.torch_shared = shared;
            za.torch_order = miniz_sort_shared(v, shared);
        }
        int fast = zipfile_sort(&za, got, same);
        free(za.torch_order);
        assert_int_equal(fast, expect_fast);
        if (!fast)
            continue;
        assert_memory_equal(got, want, v->n * sizeof(*got));
        for (size_t i = 1; i < v->n; i++)
            assert_int_equal(same[i], py_same(want[i - 1], want[i]));
    }
}

/* Distinct lowercase names: torch's order is reused for zipfile's. */
static void test_shared_order(void **state)
{
    (void)state;
    static zentry ent[MAX_NAMES];
    zview v;
    memset(&v, 0, sizeof(v));
    for (size_t i = 0; i < MAX_NAMES; i++) {
        memset(&ent[i], 0, sizeof(ent[i]));
        int n = snprintf((char *)g_names[i], NAME_MAX_LEN, "archive/data/%u",
                         (unsigned)rnd(100000) * 1000 + (unsigned)i);
        ent[i].name = g_names[i];
        ent[i].name_len = (uint16_t)n;
        zname_props(&ent[i]);
    }
    v.ent = ent;
    v.n = MAX_NAMES;
    check_python(&v, 1);
}

/* Flags valid UTF-8 names (all of them, or at random) and says whether
 * byte order is zipfile's order for every name. */
static int flag_utf8(zview *v, int all)
{
    int fast = 1;
    for (size_t i = 0; i < v->n; i++) {
        zentry *e = &v->ent[i];
        int ascii = 1, nul = 0;
        for (size_t k = 0; k < e->name_len; k++) {
            ascii &= e->name[k] < 0x80;
            nul |= e->name[k] == 0;
        }
        int utf8 = py_utf8_valid(e->name, e->name_len, 0);
        if (utf8 && (all || rnd(2)))
            e->flags |= ZFLAG_UTF8;
        fast &= !nul && (ascii || (utf8 && (e->flags & ZFLAG_UTF8)));
    }
    return fast;
}

static void test_random_names(void **state)
{
    (void)state;
    static zentry ent[MAX_NAMES];
    static const char *const alphabets[] = {"ab/", "aAbB_/.z", "a\x01\x7f\xc3\xa9Z@[`{",
                                            "0123456789", "ab\0\xe2\x82\xac"};
    for (int round = 0; round < 200; round++) {
        size_t n = round < 20 ? (size_t)round : rnd(MAX_NAMES) + 1;
        const char *alphabet = alphabets[round % 5];
        size_t alen = round % 5 == 4 ? 6 : strlen(alphabet);
        zview v;
        make_view(&v, ent, n, alphabet, alen);
        check_miniz(&v);
        check_python(&v, flag_utf8(&v, round % 3 == 0));
    }
}

/* Bytes that zipfile decodes as cp437 or cuts at NUL: not byte order, so
 * zipfile_sort declines and the caller compares decoded names. */
static void test_python_declines(void **state)
{
    (void)state;
    zentry ent[2];
    memset(ent, 0, sizeof(ent));
    ent[0].name = (const uint8_t *)"a\xc3\xa9";
    ent[0].name_len = 3;
    ent[1].name = (const uint8_t *)"b";
    ent[1].name_len = 1;
    zname_props(&ent[0]);
    zname_props(&ent[1]);
    zview v;
    memset(&v, 0, sizeof(v));
    v.ent = ent;
    v.n = 2;
    const zentry *ord[2];
    uint8_t same[2];
    zarchive za;
    memset(&za, 0, sizeof(za));
    za.py = v;
    assert_int_equal(zipfile_sort(&za, ord, same), 0); /* cp437 without the UTF-8 flag */
    ent[0].flags = ZFLAG_UTF8;
    assert_int_equal(zipfile_sort(&za, ord, same), 1);
    ent[1].name = (const uint8_t *)"a\0b";
    ent[1].name_len = 3;
    zname_props(&ent[1]);
    assert_int_equal(zipfile_sort(&za, ord, same), 0); /* NUL cut */
}

/* The comparisons' fast paths (ASCII prefixes, 8 equal bytes at a time)
 * against plain decoding and byte-by-byte lowercasing. */
static int ref_cmp_python(const zentry *x, const zentry *y, int cut)
{
    zname_it a = {x->name, x->name_len, 0,
                  (x->flags & ZFLAG_UTF8) && py_utf8_valid(x->name, x->name_len, 0), cut};
    zname_it b = {y->name, y->name_len, 0,
                  (y->flags & ZFLAG_UTF8) && py_utf8_valid(y->name, y->name_len, 0), cut};
    for (;;) {
        long p = zname_next(&a), q = zname_next(&b);
        if (p != q)
            return p < q ? -1 : 1;
        if (p < 0)
            return 0;
    }
}

static int ref_cmp_miniz(const zentry *x, const zentry *y)
{
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    for (size_t i = 0; i < n; i++) {
        int l = x->name[i], r = y->name[i];
        l += l >= 'A' && l <= 'Z' ? 32 : 0;
        r += r >= 'A' && r <= 'Z' ? 32 : 0;
        if (l != r)
            return l < r ? -1 : 1;
    }
    return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

static void test_comparisons(void **state)
{
    (void)state;
    static zentry ent[200];
    zview v;
    make_view(&v, ent, 200,
              "aA\0\xc3\xa9\x80"
              "b",
              7);
    flag_utf8(&v, 0);
    for (size_t i = 0; i < v.n; i++) {
        for (size_t j = 0; j < v.n; j++) {
            const zentry *x = &ent[i], *y = &ent[j];
            for (int cut = 0; cut < 2; cut++)
                assert_int_equal(
                    sign(zipfile_name_cmp(x->name, x->name_len, (x->flags & ZFLAG_UTF8) != 0,
                                          y->name, y->name_len, (y->flags & ZFLAG_UTF8) != 0, cut)),
                    ref_cmp_python(x, y, cut));
            assert_int_equal(sign(miniz_name_cmp(x->name, x->name_len, y->name, y->name_len)),
                             ref_cmp_miniz(x, y));
        }
    }
}

/* runsort against qsort with a total order (value, then position). */
typedef struct pair {
    uint32_t v, pos;
} pair;

static int pair_cmp(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void test_runsort(void **state)
{
    (void)state;
    static pair a[3000], b[3000];
    for (int round = 0; round < 100; round++) {
        size_t n = round < 10 ? (size_t)round : rnd(3000) + 1;
        uint32_t runs = rnd(6) + 1, range = rnd(2) ? 10 : 1000000;
        for (size_t i = 0; i < n; i++) {
            /* a few ascending runs, or noise */
            uint32_t v = round % 3 ? (uint32_t)(i % (n / runs + 1)) * 7 + rnd(3) : rnd(range);
            a[i] = b[i] = (pair){v, (uint32_t)i};
        }
        qsort(b, n, sizeof(*b), pair_cmp);
        runsort(a, n, sizeof(*a), pair_cmp);
        assert_memory_equal(a, b, n * sizeof(*a));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_names), cmocka_unit_test(test_python_declines),
        cmocka_unit_test(test_shared_order), cmocka_unit_test(test_runsort),
        cmocka_unit_test(test_comparisons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
