/* SPDX-License-Identifier: Apache-2.0 */
/* .npy headers (src/formats/numpy.c), compressed streams (src/formats/compress.c) and joblib
 * arrays inside pickle streams (src/formats/joblib.c): fixtures written by numpy and
 * joblib, hand-built attacks, and inline byte strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "testutil.h"

#define NONE CKPT_F_COUNT_

typedef struct expect {
    const char *file;
    ckpt_verdict verdict;
    ckpt_format format;
    ckpt_code code;   /* must be present, or NONE */
    ckpt_code absent; /* must not be present, or NONE */
} expect;

static const expect table[] = {
    {"numpy/float.npy", CKPT_VERDICT_SAFE, CKPT_FORMAT_NPY, NONE, NONE},
    {"numpy/structured.npy", CKPT_VERDICT_SAFE, CKPT_FORMAT_NPY, NONE, NONE},
    {"numpy/unicode_v3.npy", CKPT_VERDICT_SAFE, CKPT_FORMAT_NPY, NONE, NONE},
    {"numpy/object.npy", CKPT_VERDICT_SAFE, CKPT_FORMAT_NPY, NONE, NONE},
    {"numpy/structured_object.npy", CKPT_VERDICT_SAFE, CKPT_FORMAT_NPY, NONE, NONE},
    {"numpy/hidden_object_field.npy", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_NPY, CKPT_F_COMMAND,
     CKPT_F_MALFORMED},
    {"numpy/escaped_object.npy", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_NPY, CKPT_F_COMMAND,
     CKPT_F_MALFORMED},
    {"numpy/nested_object.npy", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_NPY, CKPT_F_COMMAND,
     CKPT_F_MALFORMED},
    {"numpy/comma_object.npy", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_NPY, CKPT_F_COMMAND,
     CKPT_F_MALFORMED},
    {"numpy/malformed_header.npy", CKPT_VERDICT_SUSPICIOUS, CKPT_FORMAT_NPY, CKPT_F_MALFORMED,
     NONE},
    {"joblib/arrays_raw.joblib", CKPT_VERDICT_SAFE, CKPT_FORMAT_PICKLE, NONE, NONE},
    {"joblib/arrays_zlib.joblib", CKPT_VERDICT_SAFE, CKPT_FORMAT_JOBLIB, NONE, NONE},
    {"joblib/arrays_gzip.joblib", CKPT_VERDICT_SAFE, CKPT_FORMAT_JOBLIB, NONE, NONE},
    {"joblib/arrays_bz2.joblib", CKPT_VERDICT_SAFE, CKPT_FORMAT_JOBLIB, NONE, NONE},
    {"joblib/arrays_xz.joblib", CKPT_VERDICT_SAFE, CKPT_FORMAT_JOBLIB, NONE, NONE},
    {"joblib/arrays_lzma.joblib", CKPT_VERDICT_SAFE, CKPT_FORMAT_JOBLIB, NONE, NONE},
    {"joblib/object_array.joblib", CKPT_VERDICT_SAFE, CKPT_FORMAT_PICKLE, NONE, NONE},
    {"joblib/payload_after_array.joblib", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_PICKLE,
     CKPT_F_COMMAND, CKPT_F_BAD_OPCODE},
    {"joblib/payload_after_array_zlib.joblib", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_JOBLIB,
     CKPT_F_COMMAND, CKPT_F_BAD_OPCODE},
    {"joblib/payload_after_array_bz2.joblib", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_JOBLIB,
     CKPT_F_COMMAND, CKPT_F_BAD_OPCODE},
    {"joblib/payload_after_array_xz.joblib", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_JOBLIB,
     CKPT_F_COMMAND, CKPT_F_BAD_OPCODE},
    {"joblib/payload_after_array_lzma.joblib", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_JOBLIB,
     CKPT_F_COMMAND, CKPT_F_BAD_OPCODE},
#ifdef CKPT_HAVE_LZ4
    {"joblib/payload_after_array_lz4.joblib", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_JOBLIB,
     CKPT_F_COMMAND, CKPT_F_BAD_OPCODE},
#else
    {"joblib/payload_after_array_lz4.joblib", CKPT_VERDICT_SUSPICIOUS,
     CKPT_FORMAT_COMPRESSED_PICKLE, CKPT_F_UNSCANNED_MEMBER, NONE},
#endif
    {"joblib/payload_zf.joblib", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_JOBLIB, CKPT_F_COMMAND, NONE},
    {"joblib/payload.pkl.gz", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_COMPRESSED_PICKLE, CKPT_F_COMMAND,
     NONE},
    {"joblib/ndarraywrapper_outside.joblib", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_PICKLE,
     CKPT_F_NESTED_LOAD, NONE},
};

static char fixtures[4096];

/* The test may run from the build root or its tests/ directory. */
static int find_fixtures(void)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    const char *env = getenv("CKPT_FIXTURES");
    const char *prefix[] = {"", "", "../", ""};
    const char *base[] = {env, dir, dir, "."};
    const char *suffix[] = {"", "/../fixtures", "/../fixtures", "/fixtures"};
    for (size_t i = 0; i < sizeof(base) / sizeof(*base); i++) {
        if (!base[i])
            continue;
        snprintf(fixtures, sizeof(fixtures), "%s%s%s", prefix[i], base[i], suffix[i]);
        char probe[4200];
        snprintf(probe, sizeof(probe), "%s/numpy/float.npy", fixtures);
        if (access(probe, R_OK) == 0)
            return 1;
    }
    return 0;
}

static int check(const expect *e)
{
    char path[8300];
    snprintf(path, sizeof(path), "%s/%s", fixtures, e->file);
    ckpt_scanner *s;
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scan_file(s, path, &r), CKPT_OK);
    ckpt_scanner_free(s);
    int ok = ckpt_report_verdict(r) == e->verdict && ckpt_report_format(r) == e->format &&
             (e->code == NONE || find_code(r, e->code, -1) >= 0) &&
             (e->absent == NONE || find_code(r, e->absent, -1) < 0);
    for (size_t i = 0; e->verdict == CKPT_VERDICT_SAFE && i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        ok &= f.severity == CKPT_SEV_INFO;
    }
    if (!ok) {
        fprintf(stderr, "%s: expected %s [%s]\n", e->file, ckpt_verdict_name(e->verdict),
                ckpt_format_name(e->format));
        dump_report(r);
    }
    ckpt_report_free(r);
    return ok;
}

static void test_fixtures(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++)
        failed += !check(&table[i]);
    assert_int_equal(failed, 0);
}

/* ---- .npy headers ---- */

static const char payload[] = "\x80\x02"
                              "cposix\nsystem\nX\x01\x00\x00\x00x\x85R.";

/* A version-1 .npy with `header` and `data` (a payload pickle if NULL). */
static ckpt_report *npy(const ckpt_scanner *s, const char *header, const char *data, size_t dlen)
{
    static unsigned char buf[4096];
    size_t h = strlen(header);
    if (!data) {
        data = payload;
        dlen = sizeof(payload) - 1;
    }
    assert_true(10 + h + dlen <= sizeof(buf));
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(h & 0xff);
    buf[9] = (unsigned char)(h >> 8);
    memcpy(buf + 10, header, h);
    memcpy(buf + 10 + h, data, dlen);
    return scan_bytes(s, buf, 10 + h + dlen);
}

static void expect_npy(const char *header, ckpt_verdict verdict, ckpt_code code)
{
    ckpt_report *r = npy(NULL, header, NULL, 0);
    if (ckpt_report_verdict(r) != verdict || (code != NONE && find_code(r, code, -1) < 0)) {
        fprintf(stderr, "header: %s\n", header);
        dump_report(r);
    }
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_NPY);
    assert_int_equal(ckpt_report_verdict(r), verdict);
    if (code != NONE)
        assert_true(find_code(r, code, -1) >= 0);
    ckpt_report_free(r);
}

/* Every spelling of an object dtype numpy accepts makes the data a pickle. */
static void test_npy_object_spellings(void **state)
{
    (void)state;
    static const char *const headers[] = {
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
        "{\"descr\": \"object\", 'fortran_order': False, 'shape': (1,)}",
        "{'descr': u'<O', 'fortran_order': True, 'shape': ()}",
        "{'descr': '<' 'O', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '\\x4f', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '\\117', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '\\u004f', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '\\N{LATIN CAPITAL LETTER O}', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '''O''', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': ('O', (2,)), 'fortran_order': False, 'shape': (1,)}",
        "{'descr': [('a', '<i4'), ('b', [('c', '|O')], (2,))], 'fortran_order': False, "
        "'shape': (1,)}",
        "{'descr': [(('title', 'a'), 'O')], 'fortran_order': False, 'shape': (1,)}",
        "{'descr': ['aO'], 'fortran_order': False, 'shape': (1,)}",
        "{'descr': {'aO': 1}, 'fortran_order': False, 'shape': (1,)}",
        "{'descr': [['a', 'O']], 'fortran_order': False, 'shape': (1,)}",
        "{'descr': 'i4,O', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': # a comment\n '|O', 'fortran_order': False, 'shape': (1L,)}",
        "{'descr': '|O', 'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(*headers); i++)
        expect_npy(headers[i], CKPT_VERDICT_DANGEROUS, CKPT_F_COMMAND);
}

static void test_npy_plain(void **state)
{
    (void)state;
    static const char data[] = "\0\0\0\0\0\0\xf0\x3f";
    ckpt_report *r =
        npy(NULL, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }    \n", data, 8);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    assert_int_equal(ckpt_report_finding_count(r), 0);
    ckpt_report_finding_count(r);
    ckpt_report_free(r);
    /* a field merely named 'O' is not an object */
    r = npy(NULL, "{'descr': [('O', '<f8')], 'fortran_order': False, 'shape': (1,)}", data, 8);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
}

/* Headers numpy refuses: `malformed`; a pickle after them is scanned. */
static void test_npy_refused(void **state)
{
    (void)state;
    static const char *const headers[] = {
        "{'descr': '|O', 'shape': (1,)}",
        "{'descr': '|O', 'fortran_order': 0, 'shape': (1,)}",
        "{'descr': '|O', 'fortran_order': False, 'shape': [1]}",
        "{'descr': '|O', 'fortran_order': False, 'shape': (1.5,)}",
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,), 'x': 1}",
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,)} 1",
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,)",
        "{'descr': f'O', 'fortran_order': False, 'shape': (1,)}",
        "{'descr': '|O', 'fortran_order': Fals, 'shape': (1,)}",
        "{'descr': 'O\n', 'fortran_order': False, 'shape': (1,)}",
        "[1, 2]",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(*headers); i++) {
        expect_npy(headers[i], CKPT_VERDICT_DANGEROUS, CKPT_F_MALFORMED);
        ckpt_report *r = npy(NULL, headers[i], "\0\0\0\0", 4);
        assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
        assert_true(find_code(r, CKPT_F_MALFORMED, -1) >= 0);
        ckpt_report_free(r);
    }
}

static void test_npy_bounds(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, "\x93NUMPY\x04\x00\x10\x00{}");
    assert_true(find_code(r, CKPT_F_MALFORMED, -1) >= 0);
    ckpt_report_free(r);
    r = SCAN_LIT(NULL, "\x93NUMPY\x01\x00\xff\x00{'descr'");
    assert_true(find_code(r, CKPT_F_TRUNCATED, -1) >= 0);
    ckpt_report_free(r);
    r = SCAN_LIT(NULL, "\x93NUMPY\x02\x00\x01");
    assert_true(find_code(r, CKPT_F_TRUNCATED, -1) >= 0);
    ckpt_report_free(r);
    /* deep nesting is refused, not a stack overflow */
    static char deep[3000];
    memset(deep, '(', 2000);
    snprintf(deep + 2000, sizeof(deep) - 2000, "1");
    expect_npy(deep, CKPT_VERDICT_DANGEROUS, CKPT_F_MALFORMED);
}

/* ---- compressed streams ---- */

static size_t gzip_of(const void *in, size_t n, unsigned char *out, size_t cap, int wbits)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t made = cap - z.avail_out;
    deflateEnd(&z);
    return made;
}

static void test_compressed_payload(void **state)
{
    (void)state;
    unsigned char out[256];
    for (int wbits = 15; wbits <= 31; wbits += 16) {
        size_t n = gzip_of(payload, sizeof(payload) - 1, out, sizeof(out), wbits);
        ckpt_report *r = scan_bytes(NULL, out, n);
        assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_COMPRESSED_PICKLE);
        assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
        long at = find_code(r, CKPT_F_COMMAND, -1);
        assert_true(at >= 0);
        ckpt_finding f;
        ckpt_report_finding(r, (size_t)at, &f);
        assert_string_equal(f.member, "<decompressed>");
        ckpt_report_free(r);
        /* cut short: the payload decompressed so far is still reported */
        r = scan_bytes(NULL, out, n - 3);
        assert_true(find_code(r, CKPT_F_COMMAND, -1) >= 0);
        assert_true(find_code(r, CKPT_F_TRUNCATED, -1) >= 0);
        ckpt_report_free(r);
        /* corrupt after the payload: a finding, and the payload */
        out[n - 3] ^= 0xff;
        r = scan_bytes(NULL, out, n);
        assert_true(find_code(r, CKPT_F_COMMAND, -1) >= 0);
        assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
        assert_true(find_code(r, CKPT_F_MALFORMED, -1) >= 0 ||
                    find_code(r, CKPT_F_TRUNCATED, -1) >= 0);
        ckpt_report_free(r);
    }
}

/* max-ratio stops inflation (what came out first is scanned);
 * max-decompressed bounds what a walk holds, not what it skips. */
static void test_decompression_caps(void **state)
{
    (void)state;
    size_t big = 1 << 20;
    unsigned char *plain = calloc(1, big), *out = malloc(big);
    assert_non_null(plain);
    assert_non_null(out);
    memcpy(plain, payload, sizeof(payload) - 1);
    size_t n = gzip_of(plain, big, out, big, 31);
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_RATIO, 10), CKPT_OK);
    ckpt_report *r = scan_bytes(s, out, n);
    assert_true(find_code(r, CKPT_F_LIMIT, -1) >= 0);
    assert_true(find_code(r, CKPT_F_COMMAND, -1) >= 0);
    ckpt_report_free(r);
    /* past max-decompressed the stream is read as it is walked (src/base/lazy.c):
     * the payload, then zeros that are no pickle; nothing held past 4 KiB */
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_RATIO, 2000), CKPT_OK);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_DECOMPRESSED, 4096), CKPT_OK);
    r = scan_bytes(s, out, n);
    assert_true(find_code(r, CKPT_F_COMMAND, -1) >= 0);
    assert_true(find_code(r, CKPT_F_TRAILING_DATA, -1) >= 0);
    assert_int_equal(find_code(r, CKPT_F_LIMIT, -1), -1);
    ckpt_report_free(r);
    /* a pickle whose opcodes pass 4 KiB does not fit: a limit */
    memset(plain, 0, big);
    memcpy(plain, "\x80\x02", 2);
    for (size_t i = 0; i < 4000; i++)
        memcpy(plain + 2 + 2 * i, "N0", 2);
    memcpy(plain + 8002, "N.", 2);
    n = gzip_of(plain, 8004, out, big, 31);
    r = scan_bytes(s, out, n);
    long at = find_code(r, CKPT_F_LIMIT, -1);
    assert_true(at >= 0);
    ckpt_finding f;
    ckpt_report_finding(r, (size_t)at, &f);
    assert_non_null(strstr(f.message, "max-decompressed"));
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
    free(plain);
    free(out);
}

static void test_zlib_magic(void **state)
{
    (void)state;
    /* 0x78 with a bad FCHECK is not zlib (and not a pickle either) */
    ckpt_report *r = SCAN_LIT(NULL, "\x78\x00garbage");
    assert_int_not_equal(ckpt_report_format(r), CKPT_FORMAT_COMPRESSED_PICKLE);
    ckpt_report_free(r);
}

/* ---- joblib arrays ---- */

/* NumpyArrayWrapper(shape=(2,), dtype=f8, alignment 16) then 1 padding
 * byte, 16 bytes of data, and the outer pickle goes on. */
#define WRAPPER                                                                                    \
    "\x80\x02"                                                                                     \
    "cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(X\x05\x00\x00\x00shapeK\x02\x85X\x05\x00"     \
    "\x00\x00"                                                                                     \
    "dtypecnumpy\ndtype\nX\x02\x00\x00\x00"                                                        \
    "f8\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbX\x1b"     \
    "\x00\x00\x00numpy_array_alignment_bytesK\x10ub"
#define ARRAY                                                                                      \
    "\x01\xff"                                                                                     \
    "AAAAAAAABBBBBBBB"

static void test_joblib_skip(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, WRAPPER ARRAY "0"
                                                  "cposix\nsystem\nX\x01\x00\x00\x00x\x85R.");
    if (find_code(r, CKPT_F_COMMAND, -1) < 0)
        dump_report(r);
    assert_true(find_code(r, CKPT_F_COMMAND, -1) >= 0);
    assert_true(find_code(r, CKPT_F_BAD_OPCODE, -1) < 0);
    ckpt_report_free(r);
    /* array bytes that run past the end */
    r = SCAN_LIT(NULL, WRAPPER "\x01\xff"
                               "AAAA");
    assert_true(find_code(r, CKPT_F_TRUNCATED, -1) >= 0);
    ckpt_report_free(r);
    /* a second BUILD on the same slot reads nothing: joblib sees an ndarray */
    r = SCAN_LIT(NULL, WRAPPER ARRAY "}b0.");
    assert_true(find_code(r, CKPT_F_ANOMALY, -1) >= 0);
    assert_true(find_code(r, CKPT_F_TRUNCATED, -1) < 0);
    ckpt_report_free(r);
}

/* A shape whose product overflows cannot be skipped: reported, never SAFE. */
static void test_joblib_unevaluable(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, "\x80\x02"
                                    "cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(X\x05\x00"
                                    "\x00\x00shapeJ\xff\xff\xff\x7fJ\xff\xff\xff\x7fJ\xff\xff\xff"
                                    "\x7f\x87X\x05\x00\x00\x00"
                                    "dtypecnumpy\ndtype\nX\x02\x00\x00\x00"
                                    "f8\x89\x88\x87Rub.");
    assert_true(find_code(r, CKPT_F_ANOMALY, -1) >= 0);
    assert_int_not_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
}

int main(void)
{
    if (!find_fixtures()) {
        fprintf(stderr, "fixtures not found (set CKPT_FIXTURES)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),           cmocka_unit_test(test_npy_object_spellings),
        cmocka_unit_test(test_npy_plain),          cmocka_unit_test(test_npy_refused),
        cmocka_unit_test(test_npy_bounds),         cmocka_unit_test(test_compressed_payload),
        cmocka_unit_test(test_decompression_caps), cmocka_unit_test(test_zlib_magic),
        cmocka_unit_test(test_joblib_skip),        cmocka_unit_test(test_joblib_unevaluable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
