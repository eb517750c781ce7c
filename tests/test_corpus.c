/* SPDX-License-Identifier: Apache-2.0 */
/* Every sample of ../shared/corpus/labels.tsv, raw pickles and containers
 * alike, gets its expected verdict. The corpus directory is argv[1] (meson
 * passes it); every listed file must exist and be checked. The peer corpus is
 * optional (CI has it beside the checkout, a clone does not): without its
 * labels.tsv this test exits 77, which meson reports as SKIP. The project's
 * own fixtures cover the same attack classes (tests/test_attacks.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static const char *corpus_dir;

static int check_line(ckpt_scanner *s, char *line, int *covered)
{
    char *file = strtok(line, "\t\n");
    char *label = strtok(NULL, "\t\n");
    if (!file || !label || file[0] == '#')
        return 1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", corpus_dir, file);
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_scan_file(s, path, &r), CKPT_OK);
    int ok = label_accepts(label, ckpt_report_verdict(r));
    if (!ok) {
        fprintf(stderr, "%s: expected %s\n", file, label);
        dump_report(r);
    }
    ckpt_report_free(r);
    (*covered)++;
    return ok;
}

static void test_labels(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/labels.tsv", corpus_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    char line[8192];
    int failed = 0, covered = 0, listed = 0;
    while (fgets(line, sizeof(line), f)) {
        listed += line[0] != '#' && line[0] != '\n';
        failed += !check_line(s, line, &covered);
    }
    fclose(f);
    ckpt_scanner_free(s);
    fprintf(stderr, "corpus: %d samples checked\n", covered);
    assert_int_equal(covered, listed);
    assert_int_equal(failed, 0);
}

int main(int argc, char **argv)
{
    corpus_dir = argc > 1 ? argv[1] : "../shared/corpus";
    char path[4096];
    snprintf(path, sizeof(path), "%s/labels.tsv", corpus_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("corpus: SKIP: no %s (the optional peer corpus is not beside this checkout; "
               "the fixtures cover its attack classes)\n",
               path);
        return 77;
    }
    fclose(f);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_labels)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
