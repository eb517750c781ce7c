/* SPDX-License-Identifier: Apache-2.0 */
/* Decompression budgets (max-decompressed counted along the nesting chain,
 * max-decompressed-total per input, header-only .npy members): archives
 * built here with zlib, scanned through the public API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "testutil.h"

/* A pickle that runs posix.system('x'). */
static const char payload[] = "cposix\nsystem\nX\x01\x00\x00\x00x\x85R.";

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_le(buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        put(b, &c, 1);
    }
}

/* Raw deflate of p[0..n) into a new buffer. */
static buf deflated(const uint8_t *p, size_t n)
{
    buf out = {malloc(compressBound(n) + 64), 0, compressBound(n) + 64};
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    z.next_out = out.p;
    z.avail_out = (uInt)out.cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.n = out.cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

typedef struct member {
    const char *name;
    const uint8_t *data;
    size_t n;
    int deflate;
} member;

/* A zip of the members (no data descriptors, no zip64). */
static buf zip_of(const member *m, size_t count)
{
    buf z = {0}, cd = {0};
    for (size_t i = 0; i < count; i++) {
        buf packed = m[i].deflate ? deflated(m[i].data, m[i].n) : (buf){0};
        const uint8_t *data = m[i].deflate ? packed.p : m[i].data;
        size_t comp = m[i].deflate ? packed.n : m[i].n, nlen = strlen(m[i].name);
        uint32_t crc = (uint32_t)crc32(0, m[i].data, (uInt)m[i].n);
        uint64_t off = z.n;
        put_le(&z, 0x04034b50, 4);
        put_le(&z, 20, 2);
        put_le(&z, 0, 2);
        put_le(&z, m[i].deflate ? 8 : 0, 2);
        put_le(&z, 0, 4); /* time, date */
        put_le(&z, crc, 4);
        put_le(&z, comp, 4);
        put_le(&z, m[i].n, 4);
        put_le(&z, nlen, 2);
        put_le(&z, 0, 2);
        put(&z, m[i].name, nlen);
        put(&z, data, comp);
        put_le(&cd, 0x02014b50, 4);
        put_le(&cd, 20, 2);
        put_le(&cd, 20, 2);
        put_le(&cd, 0, 2);
        put_le(&cd, m[i].deflate ? 8 : 0, 2);
        put_le(&cd, 0, 4);
        put_le(&cd, crc, 4);
        put_le(&cd, comp, 4);
        put_le(&cd, m[i].n, 4);
        put_le(&cd, nlen, 2);
        put_le(&cd, 0, 8); /* extra, comment, disk, internal attributes */
        put_le(&cd, 0, 4);
        put_le(&cd, off, 4);
        put(&cd, m[i].name, nlen);
        free(packed.p);
    }
    uint64_t cd_off = z.n;
    put(&z, cd.p, cd.n);
    put_le(&z, 0x06054b50, 4);
    put_le(&z, 0, 4);
    put_le(&z, count, 2);
    put_le(&z, count, 2);
    put_le(&z, cd.n, 4);
    put_le(&z, cd_off, 4);
    put_le(&z, 0, 2);
    free(cd.p);
    return z;
}

/* A protocol-2 pickle of `n` bytes: `n - len(payload)` bytes of NONE/POP
 * pairs, then the payload, so a cut anywhere hides the payload. */
static uint8_t *padded_payload(size_t n)
{
    size_t k = sizeof(payload) - 1;
    uint8_t *p = malloc(n);
    assert_non_null(p);
    memcpy(p, "\x80\x02", 2);
    for (size_t i = 2; i + 1 < n - k; i += 2)
        memcpy(p + i, "N0", 2);
    if ((n - k) % 2)
        p[n - k - 1] = 'N'; /* ...N0N: an odd pad leaves one None behind */
    memcpy(p + n - k, payload, k);
    return p;
}

static ckpt_scanner *scanner_with(ckpt_limit l, uint64_t v)
{
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scanner_set_limit(s, l, v), CKPT_OK);
    return s;
}

/* 1 when some `limit` finding's message mentions `text`. */
static int has_limit(const ckpt_report *r, const char *text)
{
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        if (f.code == CKPT_F_LIMIT && strstr(f.message, text))
            return 1;
    }
    return 0;
}

static ckpt_report *scan_with(ckpt_limit l, uint64_t v, const buf *z)
{
    ckpt_scanner *s = scanner_with(l, v);
    ckpt_report *r = scan_bytes(s, z->p, z->n);
    ckpt_scanner_free(s);
    return r;
}

/* A deflated zip whose data.pkl fits max-decompressed alone, but not
 * together with the inflated archive it sits in. */
static void test_nested_budget(void **state)
{
    (void)state;
    enum { PKL = 100000, FILLER = 60000 };
    uint8_t *pkl = padded_payload(PKL), *filler = calloc(1, FILLER);
    member in[] = {{"filler", filler, FILLER, 0}, {"archive/data.pkl", pkl, PKL, 1}};
    buf inner = zip_of(in, 2);
    member out[] = {{"inner.zip", inner.p, inner.n, 1}};
    buf outer = zip_of(out, 1);

    ckpt_report *r = scan_with(CKPT_LIMIT_DECOMPRESSED, inner.n + PKL, &outer);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    assert_false(has_limit(r, "max-decompressed"));
    ckpt_report_free(r);

    r = scan_with(CKPT_LIMIT_DECOMPRESSED, PKL + FILLER / 2, &outer);
    assert_true(has_limit(r, "of which enclosing members and streams held"));
    assert_int_equal(find_code(r, CKPT_F_COMMAND, -1), -1); /* the cut hid it */
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    free(inner.p);
    free(outer.p);
    free(pkl);
    free(filler);
}

/* Members together exceed max-decompressed-total though each alone fits:
 * the third is cut, the fourth gets nothing (a limit, not an empty pickle). */
static void test_total_budget(void **state)
{
    (void)state;
    enum { PKL = 100000 };
    uint8_t *pkl = padded_payload(PKL);
    member m[] = {{"a.pkl", pkl, PKL, 1},
                  {"b.pkl", pkl, PKL - 1, 1},
                  {"c.pkl", pkl, PKL - 2, 1},
                  {"d.pkl", pkl, PKL - 3, 1}};
    buf z = zip_of(m, 4);
    ckpt_report *r = scan_with(CKPT_LIMIT_DECOMPRESSED_TOTAL, 250000, &z);
    assert_true(has_limit(r, "max-decompressed-total"));
    assert_true(has_limit(r, "of which earlier members and streams used"));
    assert_int_equal(find_code(r, CKPT_F_EMPTY, -1), -1); /* cut, not empty */
    assert_int_not_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    free(z.p);
    free(pkl);
}

/* A version-1 .npy member whose header is padded to end at 128 bytes. */
static size_t npy_of(uint8_t *out, const char *descr, size_t data_len, const uint8_t *data)
{
    char h[118];
    int n = snprintf(h, sizeof(h), "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }",
                     descr, data_len / 8);
    assert_true(n > 0 && (size_t)n < sizeof(h) - 1);
    memset(h + n, ' ', sizeof(h) - (size_t)n);
    h[sizeof(h) - 1] = '\n';
    memcpy(out, "\x93NUMPY\x01\x00\x76\x00", 10);
    memcpy(out + 10, h, sizeof(h));
    if (data)
        memcpy(out + 128, data, data_len);
    return 128 + data_len;
}

/* Plain arrays are read up to their header; object arrays whole. */
static void test_npy_header_only(void **state)
{
    (void)state;
    enum { DATA = 1 << 20 };
    uint8_t *npy = calloc(1, 128 + DATA), *pkl = padded_payload(DATA);
    member m[] = {{"x.npy", npy, npy_of(npy, "<f8", DATA, NULL), 1}};
    buf z = zip_of(m, 1);
    ckpt_report *r = scan_with(CKPT_LIMIT_DECOMPRESSED, 70000, &z);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    free(z.p);

    m[0].n = npy_of(npy, "|O", DATA, pkl);
    z = zip_of(m, 1);
    r = scan_with(CKPT_LIMIT_DECOMPRESSED, 70000, &z);
    assert_true(has_limit(r, "max-decompressed"));
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    r = scan_bytes(NULL, z.p, z.n);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
    free(z.p);
    free(npy);
    free(pkl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_budget),
        cmocka_unit_test(test_total_budget),
        cmocka_unit_test(test_npy_header_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
