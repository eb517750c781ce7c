/* SPDX-License-Identifier: Apache-2.0 */
/* A mapped input truncated while it is scanned: the scan reads zeros past
 * the new end instead of dying of SIGBUS, and its report is an error; the
 * next scans are unaffected. The truncation is done from the listing
 * callback, i.e. deterministically in the middle of the walk. */
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

#define OPS  (2u << 20) /* N POP pairs: a 4 MiB pickle, well past the read-whole size */
#define KEEP 8192       /* bytes left after the truncation */

typedef struct trunc_ctx {
    const char *path;
    unsigned long lines;
    unsigned long truncate_at; /* line after which the file is cut; 0: never */
} trunc_ctx;

static int on_line(void *ctx, const ckpt_dis_line *line)
{
    (void)line;
    trunc_ctx *t = ctx;
    if (++t->lines == t->truncate_at)
        assert_int_equal(truncate(t->path, KEEP), 0);
    return 0;
}

static void write_pickle(const char *path)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("\x80\x02", f);
    for (unsigned i = 0; i < OPS; i++)
        fputs("N0", f);
    fputs("N.", f);
    assert_int_equal(fclose(f), 0);
}

static ckpt_report *dis_run(const char *path, unsigned long truncate_at, ckpt_status *st)
{
    ckpt_scanner *s = NULL;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    trunc_ctx t = {path, 0, truncate_at};
    ckpt_report *r = NULL;
    *st = ckpt_dis_file(s, path, NULL, on_line, &t, &r);
    ckpt_scanner_free(s);
    assert_non_null(r);
    return r;
}

static void truncated_mid_scan_is_an_error(void **state)
{
    (void)state;
    char dir[] = "/tmp/ckpt_mapguard_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/p.pkl", dir);

    write_pickle(path); /* control: the whole file walks clean */
    ckpt_status st;
    ckpt_report *r = dis_run(path, 0, &st);
    assert_int_equal(st, CKPT_OK);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);

    for (unsigned long at = 1; at <= 1000; at *= 10) { /* cut after the 1st .. 1000th opcode */
        write_pickle(path);
        r = dis_run(path, at, &st);
        assert_int_equal(st, CKPT_ERR_IO);
        assert_int_equal(ckpt_report_status(r), CKPT_ERR_IO);
        assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_ERROR);
        ckpt_report_free(r);
    }

    write_pickle(path); /* the guard leaves later scans alone */
    r = dis_run(path, 0, &st);
    assert_int_equal(st, CKPT_OK);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(truncated_mid_scan_is_an_error)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
