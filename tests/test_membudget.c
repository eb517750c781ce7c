/* SPDX-License-Identifier: Apache-2.0 */
/* max-memory-process: the interpreter memory of every scan of one scanner
 * is charged to one counter; a walk that cannot get memory under it is a
 * `limit` finding, and every scan gives back what it took. Also: nested
 * embedded pickles share max-memory (white-box: reads the counter). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scan.h"
#include "testutil.h"

/* A list of n small ints: about 16 bytes of stack per item, then the list. */
static uint8_t *list_pickle(size_t n, size_t *len)
{
    uint8_t *p = malloc(8 + 2 * n);
    assert_non_null(p);
    size_t k = 0;
    p[k++] = 0x80;
    p[k++] = 2;
    p[k++] = '(';
    for (size_t i = 0; i < n; i++) {
        p[k++] = 'K';
        p[k++] = 1;
    }
    p[k++] = 'l';
    p[k++] = '.';
    *len = k;
    return p;
}

static long limit_with(const ckpt_report *r, const char *text)
{
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        if (f.code == CKPT_F_LIMIT && strstr(f.message, text))
            return (long)i;
    }
    return -1;
}

static void process_cap_is_a_limit(void **state)
{
    (void)state;
    ckpt_scanner *s = NULL;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMORY_PROCESS, 4u << 20), CKPT_OK);
    size_t len;
    uint8_t *big = list_pickle(900000, &len); /* ~14 MiB of stack, under max-stack */
    for (int run = 0; run < 2; run++) {
        ckpt_report *r = scan_bytes(s, big, len);
        assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
        assert_true(limit_with(r, "max-memory-process") >= 0);
        ckpt_report_free(r);
        assert_int_equal(atomic_load(&s->mem_live), 0); /* all given back */
    }
    uint8_t *small = list_pickle(1000, &len);
    ckpt_report *r = scan_bytes(s, small, len);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    assert_int_equal(atomic_load(&s->mem_live), 0);
    free(big);
    free(small);
    ckpt_scanner_free(s);
}

static void default_cap_passes_big_lists(void **state)
{
    (void)state;
    ckpt_scanner *s = NULL;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    size_t len;
    uint8_t *big = list_pickle(900000, &len);
    ckpt_report *r = scan_bytes(s, big, len);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    assert_int_equal(atomic_load(&s->mem_live), 0);
    free(big);
    ckpt_scanner_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(process_cap_is_a_limit),
                                       cmocka_unit_test(default_cap_passes_big_lists)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
