/* SPDX-License-Identifier: Apache-2.0 */
/* White-box tests of the text-argument decoders against CPython's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pytext.h"

#define L(s) s, sizeof(s) - 1

static void test_int_lines(void **state)
{
    (void)state;
    value v;
    assert_null(py_parse_int_line(L("0x10"), &v));
    assert_int_equal(v.kind, V_INT);
    assert_int_equal(v.u.i, 16);
    assert_null(py_parse_int_line(L("010"), &v)); /* strtol base 0: octal */
    assert_int_equal(v.u.i, 8);
    assert_null(py_parse_int_line(L("01"), &v)); /* 2 chars + '\n': bool */
    assert_int_equal(v.kind, V_BOOL);
    assert_int_equal(v.u.i, 1);
    assert_null(py_parse_int_line(L(" 1"), &v));
    assert_int_equal(v.kind, V_BOOL);
    assert_null(py_parse_int_line(L("1"), &v));
    assert_int_equal(v.kind, V_INT);
    assert_null(py_parse_int_line(L("-7"), &v));
    assert_int_equal(v.u.i, -7);
    assert_null(py_parse_int_line(L("1_000"), &v)); /* int() fallback */
    assert_int_equal(v.u.i, 1000);
    assert_null(py_parse_int_line(L("99999999999999999999999"), &v));
    assert_true(v.flags & VF_BIGINT);
    assert_null(py_parse_int_line(L("1\0junk"), &v)); /* strtol stops at NUL */
    assert_int_equal(v.u.i, 1);
    assert_non_null(py_parse_int_line(L("08"), &v));
    assert_non_null(py_parse_int_line(L("1__0"), &v));
    assert_non_null(py_parse_int_line(L(""), &v));
    assert_non_null(py_parse_int_line(L("0x"), &v));
}

static void test_long_lines(void **state)
{
    (void)state;
    value v;
    assert_null(py_parse_long_line(L("0x10L"), &v));
    assert_int_equal(v.u.i, 16);
    assert_null(py_parse_long_line(L("0o17"), &v));
    assert_int_equal(v.u.i, 15);
    assert_null(py_parse_long_line(L("0b101L"), &v));
    assert_int_equal(v.u.i, 5);
    assert_null(py_parse_long_line(L("000"), &v));
    assert_int_equal(v.u.i, 0);
    assert_non_null(py_parse_long_line(L("010L"), &v)); /* int('010', 0) fails */
    assert_non_null(py_parse_long_line(L("L"), &v));
}

static void test_index_lines(void **state)
{
    (void)state;
    uint64_t i;
    assert_null(py_parse_index_line(L("007"), &i));
    assert_int_equal(i, 7);
    assert_null(py_parse_index_line(L(" 12 "), &i));
    assert_int_equal(i, 12);
    assert_non_null(py_parse_index_line(L("-1"), &i));
    assert_non_null(py_parse_index_line(L("0x10"), &i));
    assert_null(py_parse_index_line(L("99999999999999999999999999"), &i));
    assert_int_equal(i, UINT64_MAX);
}

static void test_string_escapes(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, 1 << 20);
    value v;
    assert_null(py_decode_string_line(&a, L("'a\\x41\\101\\n\\q'"), 100, &v));
    assert_int_equal(v.len, 6);
    assert_memory_equal(v.u.s, "aAA\n\\q", 6);
    assert_null(py_decode_string_line(&a, L("\"x\\\ny\""), 100, &v)); /* continuation */
    assert_int_equal(v.len, 2);
    assert_null(py_decode_string_line(&a, L("'abcdef'"), 3, &v));
    assert_int_equal(v.len, 3);
    assert_true(v.flags & VF_TRUNCATED);
    assert_non_null(py_decode_string_line(&a, L("abc"), 100, &v));
    assert_non_null(py_decode_string_line(&a, L("'"), 100, &v));
    assert_non_null(py_decode_string_line(&a, L("'\\x4g'"), 100, &v));
    arena_release(&a);
}

static void test_raw_unicode_escape(void **state)
{
    (void)state;
    arena a;
    arena_init(&a, 1 << 20);
    value v;
    assert_null(py_decode_raw_unicode_line(&a, L("os\\u0041\\x41\xe9"), 100, &v));
    /* \u0041 -> 'A'; \x is not an escape here; 0xE9 is latin-1 e-acute */
    assert_int_equal(v.len, 2 + 1 + 4 + 2);
    assert_memory_equal(v.u.s, "osA\\x41\xc3\xa9", 9);
    assert_null(py_decode_raw_unicode_line(&a, L("\\U0001F600"), 100, &v));
    assert_int_equal(v.len, 4);
    assert_non_null(py_decode_raw_unicode_line(&a, L("\\u12"), 100, &v));
    assert_non_null(py_decode_raw_unicode_line(&a, L("\\U00110000"), 100, &v));
    arena_release(&a);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(py_utf8_valid((const uint8_t *)"\xc3\xa9", 2, 0));
    assert_false(py_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3, 0));
    assert_true(py_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3, 1));
    assert_false(py_utf8_valid((const uint8_t *)"\xc0\x80", 2, 1)); /* overlong */
    assert_false(py_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4, 1));
    assert_false(py_utf8_valid((const uint8_t *)"\xe2\x82", 2, 1));
}

static void test_long_bytes(void **state)
{
    (void)state;
    value v;
    py_long_from_bytes((const uint8_t *)"\xff", 1, &v);
    assert_int_equal(v.u.i, -1);
    py_long_from_bytes((const uint8_t *)"\xff\x00", 2, &v);
    assert_int_equal(v.u.i, 255);
    py_long_from_bytes((const uint8_t *)"\x00\x00\x00\x00\x00\x00\x00\x00\x01", 9, &v);
    assert_true(v.flags & VF_BIGINT);
    py_long_from_bytes((const uint8_t *)"\xfe\xff\xff\xff\xff\xff\xff\xff\xff", 9, &v);
    assert_false(v.flags & VF_BIGINT);
    assert_int_equal(v.u.i, -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_lines),          cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_index_lines),        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_raw_unicode_escape), cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_long_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
