/* SPDX-License-Identifier: Apache-2.0 */
/* ckpt_convert_safetensors on deflated records that do not inflate to the
 * size their headers declare (fixtures/convert/deflated_{short,long}_record.pt,
 * 128 KiB records: past what the scan inflates). By default they are
 * refused before anything reaches the sink; with
 * CKPT_CONVERT_CHECK_WHILE_WRITING they are refused midway, the anomaly
 * named, after part of the output was written. A consistent deflated file
 * converts the same with and without the flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ckptscan.h"
#include "testutil.h"

static ckpt_conversion *convert(const char *name, unsigned flags, membuf *c)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/convert/%s", CKPT_FIXTURES_DIR, name);
    ckpt_scanner *s = NULL;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    ckpt_conversion *conv = NULL;
    *c = (membuf){NULL, 0};
    assert_int_equal(ckpt_convert_safetensors(s, path, flags, membuf_write, c, &conv), CKPT_OK);
    ckpt_scanner_free(s);
    return conv;
}

static void refused(const char *name)
{
    static const char want[] =
        "'w': anomaly: its deflated record does not inflate to the 131072 bytes it declares";
    membuf c;
    ckpt_conversion *conv = convert(name, 0, &c);
    assert_int_equal(ckpt_conversion_outcome(conv), CKPT_CONVERT_REFUSED);
    assert_string_equal(ckpt_conversion_message(conv), want);
    assert_int_equal(c.n, 0);
    ckpt_conversion_free(conv);
    free(c.p);
    conv = convert(name, CKPT_CONVERT_CHECK_WHILE_WRITING, &c);
    assert_int_equal(ckpt_conversion_outcome(conv), CKPT_CONVERT_REFUSED);
    assert_non_null(strstr(ckpt_conversion_message(conv), want));
    assert_non_null(strstr(ckpt_conversion_message(conv), "part of the output was written"));
    assert_true(c.n > 0);
    ckpt_conversion_free(conv);
    free(c.p);
}

static void test_short_record(void **state)
{
    (void)state;
    refused("deflated_short_record.pt");
}

static void test_long_record(void **state)
{
    (void)state;
    refused("deflated_long_record.pt");
}

static void test_consistent(void **state)
{
    (void)state;
    membuf a, b;
    ckpt_conversion *x = convert("deflated.pt", 0, &a);
    ckpt_conversion *y = convert("deflated.pt", CKPT_CONVERT_CHECK_WHILE_WRITING, &b);
    assert_int_equal(ckpt_conversion_outcome(x), CKPT_CONVERT_WRITTEN);
    assert_int_equal(ckpt_conversion_outcome(y), CKPT_CONVERT_WRITTEN);
    assert_int_equal(a.n, b.n);
    assert_memory_equal(a.p, b.p, a.n);
    ckpt_conversion_free(x);
    ckpt_conversion_free(y);
    free(a.p);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_record),
        cmocka_unit_test(test_long_record),
        cmocka_unit_test(test_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
