/* Every sample of ../shared/corpus/labels.tsv gets its expected verdict.
 * The corpus directory is argv[1] (meson passes it). Container samples
 * (zip, 7z) are covered once the container readers exist; until then this
 * test states how many it covers and fails if it covers none. */
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

static int label_accepts(const char *label, ckpt_verdict v)
{
    if (strcmp(label, "safe") == 0)
        return v == CKPT_VERDICT_SAFE;
    if (strcmp(label, "dangerous") == 0)
        return v == CKPT_VERDICT_DANGEROUS;
    if (strcmp(label, "flagged") == 0)
        return v == CKPT_VERDICT_SUSPICIOUS || v == CKPT_VERDICT_DANGEROUS;
    if (strcmp(label, "not-dangerous") == 0)
        return v == CKPT_VERDICT_SAFE || v == CKPT_VERDICT_SUSPICIOUS;
    return 0;
}

/* Containers are judged by the container readers' test; raw pickles here. */
static int is_container(const char *path)
{
    unsigned char head[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(head, 1, sizeof(head), f);
    fclose(f);
    return n >= 2 && ((head[0] == 'P' && head[1] == 'K') || (head[0] == '7' && head[1] == 'z'));
}

static int check_line(ckpt_scanner *s, char *line, int *covered)
{
    char *file = strtok(line, "\t\n");
    char *label = strtok(NULL, "\t\n");
    if (!file || !label || file[0] == '#')
        return 1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", corpus_dir, file);
    if (is_container(path))
        return 1;
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

static void test_raw_pickle_labels(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/labels.tsv", corpus_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    char line[8192];
    int failed = 0, covered = 0;
    while (fgets(line, sizeof(line), f))
        failed += !check_line(s, line, &covered);
    fclose(f);
    ckpt_scanner_free(s);
    fprintf(stderr, "corpus: %d raw-pickle samples checked\n", covered);
    assert_true(covered >= 40);
    assert_int_equal(failed, 0);
}

int main(int argc, char **argv)
{
    corpus_dir = argc > 1 ? argv[1] : "../shared/corpus";
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_raw_pickle_labels)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
