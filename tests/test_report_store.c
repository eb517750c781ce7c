/* SPDX-License-Identifier: Apache-2.0 */
/* ckpt_report_save/load (the CLI's --cache) and ckpt_scanner_write_config:
 * a stored report comes back with the same JSON; every truncation, extra
 * byte and bad value is refused; no stored membuf give a verdict that the
 * stored findings do not; the configuration text follows every setting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static membuf json_of(const ckpt_report *r)
{
    membuf b = {NULL, 0};
    assert_int_equal(ckpt_report_write_json(r, membuf_write, &b), CKPT_OK);
    return b;
}

static membuf saved(const ckpt_report *r)
{
    membuf b = {NULL, 0};
    assert_int_equal(ckpt_report_save(r, membuf_write, &b), CKPT_OK);
    return b;
}

/* Pickles with findings of every kind: dangerous calls, unknown imports,
 * a name with a NUL byte, parse errors, many findings. */
#define IN(lit)                                                                                    \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }
static const struct {
    const char *p;
    size_t n;
} inputs[] = {
    IN("cos\nsystem\n(S'id'\ntR."),
    IN("cmymod\nThing\n."),
    IN("\x80\x02"
       "ccollections\nOrderedDict\nq\x00)R."),
    IN("\x80\x04\x8c\x03"
       "a\x00"
       "b\x94\x8c\x01"
       "c\x94\x93."),
    IN("cbuiltins\neval\n(S'1'\ntRcbuiltins\nexec\n(S'2'\ntR(cos\nsystem\n"),
    IN("not a pickle at all"),
    IN(""),
};

static ckpt_report *scan_input(const ckpt_scanner *s, size_t i)
{
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_scan_mem(s, inputs[i].p, inputs[i].n, "in", &r), CKPT_OK);
    return r;
}

static void test_round_trip(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    for (int strict = 0; strict < 2; strict++) {
        ckpt_scanner_set_strict(s, strict);
        for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
            ckpt_report *r = scan_input(s, i), *back = NULL;
            membuf b = saved(r);
            assert_int_equal(ckpt_report_load(b.p, b.n, "in", &back), CKPT_OK);
            membuf want = json_of(r), got = json_of(back);
            assert_string_equal(got.p, want.p);
            assert_int_equal(ckpt_report_verdict(back), ckpt_report_verdict(r));
            ckpt_report_free(back);
            /* under another name: only the path differs */
            assert_int_equal(ckpt_report_load(b.p, b.n, "other/name.pt", &back), CKPT_OK);
            assert_string_equal(ckpt_report_path(back), "other/name.pt");
            ckpt_report_free(back);
            free(want.p);
            free(got.p);
            free(b.p);
            ckpt_report_free(r);
        }
    }
    ckpt_scanner_free(s);
}

static void test_dropped_findings_round_trip(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_FINDINGS, 1), CKPT_OK);
    ckpt_report *r = scan_input(s, 4), *back = NULL;
    membuf b = saved(r), want = json_of(r);
    assert_true(strstr(want.p, "\"dropped_findings\":0") == NULL);
    assert_int_equal(ckpt_report_load(b.p, b.n, "in", &back), CKPT_OK);
    membuf got = json_of(back);
    assert_string_equal(got.p, want.p);
    assert_int_equal(ckpt_report_verdict(back), CKPT_VERDICT_DANGEROUS);
    free(want.p);
    free(got.p);
    free(b.p);
    ckpt_report_free(back);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

static void test_truncated_and_extended_are_refused(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        ckpt_report *r = scan_input(s, i), *back = (ckpt_report *)1;
        membuf b = saved(r);
        for (size_t cut = 0; cut < b.n; cut++) {
            assert_int_equal(ckpt_report_load(b.p, cut, "in", &back), CKPT_ERR_ARG);
            assert_null(back);
        }
        membuf_write(&b, "", 1);
        assert_int_equal(ckpt_report_load(b.p, b.n, "in", &back), CKPT_ERR_ARG);
        free(b.p);
        ckpt_report_free(r);
    }
    ckpt_scanner_free(s);
}

/* The verdict the findings give (without dropped findings). */
static ckpt_verdict graded(const ckpt_report *r)
{
    ckpt_verdict v = CKPT_VERDICT_SAFE;
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        assert_int_equal(ckpt_report_finding(r, i, &f), CKPT_OK);
        if (f.severity == CKPT_SEV_DANGEROUS)
            v = CKPT_VERDICT_DANGEROUS;
        else if (f.severity == CKPT_SEV_SUSPICIOUS && v == CKPT_VERDICT_SAFE)
            v = CKPT_VERDICT_SUSPICIOUS;
    }
    return v;
}

/* Every byte changed in several ways: refused, or a report whose verdict
 * is the one its findings give. */
static void test_flipped_bytes(void **state)
{
    (void)state;
    static const unsigned char xors[] = {0x01, 0x02, 0x80, 0xff};
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        ckpt_report *r = scan_input(s, i);
        membuf b = saved(r);
        size_t loaded = 0;
        for (size_t at = 0; at < b.n; at++) {
            for (size_t x = 0; x < sizeof(xors); x++) {
                ckpt_report *back = NULL;
                b.p[at] ^= (char)xors[x];
                if (ckpt_report_load(b.p, b.n, "in", &back) == CKPT_OK) {
                    loaded++;
                    ckpt_verdict v = ckpt_report_verdict(back);
                    assert_true(v != CKPT_VERDICT_SAFE || graded(back) == CKPT_VERDICT_SAFE);
                    membuf j = json_of(back); /* every string can be written */
                    free(j.p);
                    ckpt_report_free(back);
                }
                b.p[at] ^= (char)xors[x];
            }
        }
        (void)loaded;
        free(b.p);
        ckpt_report_free(r);
    }
    ckpt_scanner_free(s);
}

static void test_inspection_is_not_saved(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_inspect_mem(s, inputs[2].p, inputs[2].n, "in", &r), CKPT_OK);
    membuf b = {NULL, 0};
    assert_int_equal(ckpt_report_save(r, membuf_write, &b), CKPT_ERR_ARG);
    assert_int_equal(ckpt_report_save(NULL, membuf_write, &b), CKPT_ERR_ARG);
    ckpt_report *none = NULL;
    assert_int_equal(ckpt_report_load(NULL, 0, "x", &none), CKPT_ERR_ARG);
    assert_null(none);
    assert_int_equal(ckpt_report_load("CKPTREP1", 8, "x", NULL), CKPT_ERR_ARG);
    free(b.p);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

static membuf config_of(const ckpt_scanner *s)
{
    membuf b = {NULL, 0};
    assert_int_equal(ckpt_scanner_write_config(s, membuf_write, &b), CKPT_OK);
    return b;
}

static void test_config_follows_every_setting(void **state)
{
    (void)state;
    ckpt_scanner *a, *b;
    assert_int_equal(ckpt_scanner_new(&a), CKPT_OK);
    assert_int_equal(ckpt_scanner_new(&b), CKPT_OK);
    membuf base = config_of(a), same = config_of(b);
    assert_string_equal(base.p, same.p);
    assert_non_null(strstr(base.p, "rule deny os.*"));
    free(same.p);
    ckpt_scanner_free(b);
    /* each change on its own scanner gives another text */
    for (int change = 0; change < 4; change++) {
        ckpt_scanner *c;
        assert_int_equal(ckpt_scanner_new(&c), CKPT_OK);
        if (change == 0)
            ckpt_scanner_set_strict(c, 1);
        else if (change == 1)
            assert_int_equal(ckpt_scanner_use_profile(c, "ml"), CKPT_OK);
        else if (change == 2)
            assert_int_equal(ckpt_scanner_set_limit(c, CKPT_LIMIT_DEPTH, 5), CKPT_OK);
        else
            assert_int_equal(ckpt_scanner_add_policy(c, "allow mymod.Thing\n", 18, NULL), CKPT_OK);
        membuf t = config_of(c);
        assert_string_not_equal(t.p, base.p);
        free(t.p);
        ckpt_scanner_free(c);
    }
    free(base.p);
    ckpt_scanner_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_dropped_findings_round_trip),
        cmocka_unit_test(test_truncated_and_extended_are_refused),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_inspection_is_not_saved),
        cmocka_unit_test(test_config_follows_every_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
