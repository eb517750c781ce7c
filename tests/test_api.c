/* SPDX-License-Identifier: Apache-2.0 */
/* The public API's contract: arguments, statuses, limits, reports, the
 * JSON writer (escaping, determinism, sink errors) and the findings cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

typedef struct sink {
    char buf[65536];
    size_t len;
    int fail_after; /* refuse writes once this many bytes were taken (0: never) */
} sink;

static int sink_write(void *ctx, const char *bytes, size_t len)
{
    sink *s = ctx;
    if (s->fail_after && s->len + len > (size_t)s->fail_after)
        return -1;
    if (s->len + len >= sizeof(s->buf))
        return -1;
    memcpy(s->buf + s->len, bytes, len);
    s->len += len;
    s->buf[s->len] = '\0';
    return 0;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    ckpt_report *r = (ckpt_report *)1;
    assert_int_equal(ckpt_scanner_new(NULL), CKPT_ERR_ARG);
    assert_int_equal(ckpt_scan_mem(NULL, "N.", 2, "x", &r), CKPT_ERR_ARG);
    assert_null(r);
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scan_mem(s, NULL, 3, "x", &r), CKPT_ERR_ARG);
    assert_int_equal(ckpt_scan_mem(s, "N.", 2, "x", NULL), CKPT_ERR_ARG);
    assert_int_equal(ckpt_scan_file(s, NULL, &r), CKPT_ERR_ARG);
    assert_int_equal(ckpt_scan_fd(s, -1, "x", &r), CKPT_ERR_ARG);
    assert_int_equal(ckpt_report_verdict(NULL), CKPT_VERDICT_ERROR);
    assert_int_equal(ckpt_report_finding_count(NULL), 0);
    ckpt_scanner_free(s);
    ckpt_scanner_free(NULL);
    ckpt_report_free(NULL);
}

static void test_limits(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    for (int l = 0; l < CKPT_LIMIT_COUNT_; l++) {
        assert_non_null(ckpt_limit_name((ckpt_limit)l));
        assert_int_equal(ckpt_limit_from_name(ckpt_limit_name((ckpt_limit)l)), l);
        assert_int_equal(ckpt_scanner_limit(s, (ckpt_limit)l), ckpt_limit_default((ckpt_limit)l));
        assert_true(ckpt_limit_default((ckpt_limit)l) > 0);
    }
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_STACK, 0), CKPT_ERR_RANGE);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_COUNT_, 5), CKPT_ERR_RANGE);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_STRING, UINT64_MAX), CKPT_ERR_RANGE);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_STACK, 3), CKPT_OK);
    assert_int_equal(ckpt_scanner_limit(s, CKPT_LIMIT_STACK), 3);
    assert_int_equal(ckpt_limit_from_name("nope"), -1);
    /* four values exceed a stack of three: a limit finding, never SAFE */
    ckpt_report *r = SCAN_LIT(s, "(NNNNt.");
    assert_true(find_code(r, CKPT_F_LIMIT, 4) >= 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

static void test_codes_table(void **state)
{
    (void)state;
    for (int c = 0; c < CKPT_F_COUNT_; c++) {
        const char *n = ckpt_code_name((ckpt_code)c);
        assert_non_null(n);
        assert_int_equal(ckpt_code_from_name(n), c);
        assert_non_null(ckpt_code_description((ckpt_code)c));
    }
    assert_null(ckpt_code_name(CKPT_F_COUNT_));
    assert_int_equal(ckpt_code_from_name("no-such-code"), -1);
    assert_string_equal(ckpt_strerror(CKPT_ERR_IS_DIR), "is a directory");
    assert_string_equal(ckpt_strerror((ckpt_status)999), "unknown status");
    assert_string_equal(ckpt_format_name(CKPT_FORMAT_TORCH_ZIP), "torch-zip");
}

static void test_unreadable_inputs(void **state)
{
    (void)state;
    ckpt_scanner *s;
    ckpt_report *r;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scan_file(s, "/nonexistent/ckptscan-test", &r), CKPT_ERR_NOT_FOUND);
    assert_non_null(r);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_ERROR);
    assert_int_equal(ckpt_report_status(r), CKPT_ERR_NOT_FOUND);
    ckpt_report_free(r);
    assert_int_equal(ckpt_scan_file(s, "/", &r), CKPT_ERR_IS_DIR);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_ERROR);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

static void test_pipe_and_empty(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    static const char evil[] = "cos\nsystem\n(S'id'\ntR.";
    assert_int_equal(write(fds[1], evil, sizeof(evil) - 1), (ssize_t)sizeof(evil) - 1);
    close(fds[1]);
    ckpt_scanner *s;
    ckpt_report *r;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scan_fd(s, fds[0], "-", &r), CKPT_OK);
    close(fds[0]);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    assert_int_equal(ckpt_report_size(r), sizeof(evil) - 1);
    ckpt_report_free(r);
    r = scan_bytes(s, "", 0);
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_EMPTY);
    assert_true(find_code(r, CKPT_F_EMPTY, 0) >= 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

static void test_stream_size_cap(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "NNNNNNNN.", 9), 9);
    close(fds[1]);
    ckpt_scanner *s;
    ckpt_report *r;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_FILE_SIZE, 4), CKPT_OK);
    assert_int_equal(ckpt_scan_fd(s, fds[0], "-", &r), CKPT_OK);
    close(fds[0]);
    assert_true(find_code(r, CKPT_F_LIMIT, -1) >= 0);
    assert_int_not_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

static void test_findings_cap_still_grades(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_FINDINGS, 1), CKPT_OK);
    /* the first finding is suspicious, the dropped one dangerous */
    ckpt_report *r = SCAN_LIT(s, "cmymod\nX\n0cos\nsystem\n0N.");
    assert_int_equal(ckpt_report_finding_count(r), 1);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    sink out = {{0}, 0, 0};
    assert_int_equal(ckpt_report_write_json(r, sink_write, &out), CKPT_OK);
    assert_non_null(strstr(out.buf, "\"dropped_findings\":1"));
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

static void test_json_escaping(void **state)
{
    (void)state;
    /* a GLOBAL module with a quote, a backslash, an escape byte and a
     * 4-byte UTF-8 character; names are UTF-8 so the pickle is valid */
    static const char p[] = "ca\"b\\c\x1b\xf0\x9f\x98\x80\nx\n.";
    ckpt_report *r = SCAN_LIT(NULL, p);
    sink out = {{0}, 0, 0};
    assert_int_equal(ckpt_report_write_json(r, sink_write, &out), CKPT_OK);
    assert_non_null(strstr(out.buf, "\"module\":\"a\\\"b\\\\c\\u001b\\ud83d\\ude00\""));
    for (size_t i = 0; i < out.len; i++)
        assert_true((unsigned char)out.buf[i] >= 0x20 && (unsigned char)out.buf[i] < 0x7f);
    /* deterministic: the same input gives the same bytes */
    ckpt_report *r2 = SCAN_LIT(NULL, p);
    sink out2 = {{0}, 0, 0};
    assert_int_equal(ckpt_report_write_json(r2, sink_write, &out2), CKPT_OK);
    assert_int_equal(out.len, out2.len);
    assert_memory_equal(out.buf, out2.buf, out.len);
    ckpt_report_free(r2);
    ckpt_report_free(r);
}

static void test_json_invalid_utf8_in_strings(void **state)
{
    (void)state;
    /* PERSID with ASCII... use a BINSTRING with a non-UTF-8 byte in a call */
    static const char p[] = "cos\nsystem\n(U\x02\xff\xfetR.";
    ckpt_report *r = SCAN_LIT(NULL, p);
    sink out = {{0}, 0, 0};
    assert_int_equal(ckpt_report_write_json(r, sink_write, &out), CKPT_OK);
    for (size_t i = 0; i < out.len; i++)
        assert_true((unsigned char)out.buf[i] < 0x80);
    ckpt_report_free(r);
}

static void test_json_sink_failure(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, "cos\nsystem\n.");
    sink out = {{0}, 0, 10};
    assert_int_equal(ckpt_report_write_json(r, sink_write, &out), CKPT_ERR_IO);
    assert_int_equal(ckpt_report_write_json(r, NULL, &out), CKPT_ERR_ARG);
    ckpt_report_free(r);
}

static void test_strict_and_profiles(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scanner_use_profile(s, "no-such-profile"), CKPT_ERR_ARG);
    assert_int_equal(ckpt_scanner_use_profile(s, "ml"), CKPT_OK);
    ckpt_report *r = SCAN_LIT(s, "cmymod\nThing\n.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    ckpt_scanner_set_strict(s, 1);
    r = SCAN_LIT(s, "cmymod\nThing\n.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

static void test_policy_text(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    static const char good[] = "# mine\nallow mymod.Thing\n";
    assert_int_equal(ckpt_scanner_add_policy(s, good, sizeof(good) - 1, NULL), CKPT_OK);
    ckpt_report *r = SCAN_LIT(s, "cmymod\nThing\n)R.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    size_t line = 0;
    static const char bad[] = "allow a.b\nfrobnicate x\n";
    assert_int_equal(ckpt_scanner_add_policy(s, bad, sizeof(bad) - 1, &line), CKPT_ERR_POLICY);
    assert_int_equal(line, 2);
    assert_int_equal(ckpt_scanner_add_policy_file(s, "/nonexistent/p", &line), CKPT_ERR_NOT_FOUND);
    /* deny beats allow: allowing os.system does not make it safe */
    static const char sneaky[] = "allow os.system\n";
    assert_int_equal(ckpt_scanner_add_policy(s, sneaky, sizeof(sneaky) - 1, NULL), CKPT_OK);
    r = SCAN_LIT(s, "cos\nsystem\n.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_codes_table),
        cmocka_unit_test(test_unreadable_inputs),
        cmocka_unit_test(test_pipe_and_empty),
        cmocka_unit_test(test_stream_size_cap),
        cmocka_unit_test(test_findings_cap_still_grades),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_json_invalid_utf8_in_strings),
        cmocka_unit_test(test_json_sink_failure),
        cmocka_unit_test(test_strict_and_profiles),
        cmocka_unit_test(test_policy_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
