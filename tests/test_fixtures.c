/* SPDX-License-Identifier: Apache-2.0 */
/* Real checkpoints written by torch 1.13 (fixtures/generate.py) get their
 * expected verdicts: every file under fixtures/torch and fixtures/examples is
 * in the table below, and every table entry exists. The fixtures directory is
 * argv[1], else the source tree's (CKPT_FIXTURES_DIR), so any cwd works. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testutil.h"

#ifndef CKPT_FIXTURES_DIR
#define CKPT_FIXTURES_DIR "fixtures"
#endif

/* Short names for the table. */
enum {
    SAFE = CKPT_VERDICT_SAFE,
    SUSPICIOUS = CKPT_VERDICT_SUSPICIOUS,
    DANGEROUS = CKPT_VERDICT_DANGEROUS,
    ZIP = CKPT_FORMAT_TORCH_ZIP,
    LEGACY = CKPT_FORMAT_TORCH_LEGACY,
    ANY_FORMAT = -1,
    NONE = -1
};

typedef struct expectation {
    const char *file;    /* relative to the fixtures directory */
    const char *profile; /* extra policy profile, or NULL for the default */
    int verdict;         /* ckpt_verdict */
    int format;          /* ckpt_format, or ANY_FORMAT */
    int codes[2];        /* ckpt_codes of findings that must be present, or NONE */
} expectation;

static const expectation table[] = {
    /* the README's first command */
    {"examples/safe_model.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"examples/malicious_model.pt", NULL, DANGEROUS, ZIP, {CKPT_F_COMMAND, NONE}},
    /* state dicts of stock layers; BatchNorm's num_batches_tracked is int64 */
    {"torch/sd_linear.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/sd_conv2d.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/sd_batchnorm2d.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/sd_embedding.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/sd_layernorm.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/sd_lstm.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    /* every storage class; views sharing one storage (offsets, strides) */
    {"torch/dtypes.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/views_shared_storage.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    /* pickle protocols: 4 and 5 use FRAME, STACK_GLOBAL and MEMOIZE */
    {"torch/mlp_proto2.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/mlp_proto4.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/mlp_proto5.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    /* training checkpoints: optimizer state, BINFLOAT, collections.Counter;
     * train_adam.pt's archive prefix is "archive/" */
    {"torch/train_adam.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    {"torch/train_sgd_momentum.pt", NULL, SAFE, ZIP, {NONE, NONE}},
    /* a whole nn.Module: stock layer classes are only allowed by "ml" */
    {"torch/module_sequential.pt", NULL, SUSPICIOUS, ZIP, {CKPT_F_UNKNOWN_IMPORT, NONE}},
    {"torch/module_sequential.pt", "ml", SAFE, ZIP, {NONE, NONE}},
    /* TorchScript carries code that torch.jit.load compiles: never SAFE, but
     * not DANGEROUS for that alone (issue 13); a payload in it still is */
    {"torch/torchscript_mlp.pt", NULL, SUSPICIOUS, ZIP, {CKPT_F_CODE_ARCHIVE, NONE}},
    /* the legacy stacked-pickle format */
    {"torch/legacy_sd_linear.pt", NULL, SAFE, LEGACY, {NONE, NONE}},
    {"torch/legacy_sd_batchnorm2d.pt", NULL, SAFE, LEGACY, {NONE, NONE}},
    {"torch/legacy_dtypes.pt", NULL, SAFE, LEGACY, {NONE, NONE}},
    /* payloads; each only touches /tmp/ckptscan_pwned_<stem> */
    {"torch/malicious_reduce_in_state_dict.pt", NULL, DANGEROUS, ZIP, {CKPT_F_COMMAND, NONE}},
    {"torch/malicious_stack_global_p4.pt", NULL, DANGEROUS, ZIP, {CKPT_F_COMMAND, NONE}},
    {"torch/malicious_torchscript_constants.pt",
     NULL,
     DANGEROUS,
     ZIP,
     {CKPT_F_COMMAND, CKPT_F_CODE_ARCHIVE}},
    {"torch/malicious_builtins_exec.pt", NULL, DANGEROUS, ZIP, {CKPT_F_EXEC, NONE}},
    {"torch/malicious_builtin_eval_p2.pt", NULL, DANGEROUS, ZIP, {CKPT_F_EXEC, NONE}},
    /* the payload runs in the first pickle, before torch checks the magic;
     * whether that still reads as torch-legacy is the legacy reader's call */
    {"torch/malicious_legacy_magic.pt", NULL, DANGEROUS, ANY_FORMAT, {CKPT_F_COMMAND, NONE}},
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

static const char *fixtures_dir = CKPT_FIXTURES_DIR;

static int in_table(const char *file)
{
    for (size_t i = 0; i < TABLE_LEN; i++)
        if (strcmp(table[i].file, file) == 0)
            return 1;
    return 0;
}

/* Returns 1 when the file's report matches its expectation (and says why not). */
static int check_one(const expectation *e)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", fixtures_dir, e->file);
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    if (e->profile)
        assert_int_equal(ckpt_scanner_use_profile(s, e->profile), CKPT_OK);
    ckpt_report *r = NULL;
    ckpt_status st = ckpt_scan_file(s, path, &r);
    ckpt_scanner_free(s);
    if (st != CKPT_OK) {
        fprintf(stderr, "FAIL %s: %s\n", e->file, ckpt_strerror(st));
        ckpt_report_free(r);
        return 0;
    }
    int ok = (int)ckpt_report_verdict(r) == e->verdict;
    if (e->format != ANY_FORMAT && (int)ckpt_report_format(r) != e->format)
        ok = 0;
    for (int i = 0; i < 2; i++)
        if (e->codes[i] != NONE && find_code(r, (ckpt_code)e->codes[i], -1) < 0)
            ok = 0;
    if (!ok) {
        fprintf(stderr, "FAIL %s%s%s: expected %s [%s]", e->file, e->profile ? " --profile " : "",
                e->profile ? e->profile : "", ckpt_verdict_name((ckpt_verdict)e->verdict),
                e->format == ANY_FORMAT ? "any" : ckpt_format_name((ckpt_format)e->format));
        for (int i = 0; i < 2; i++)
            if (e->codes[i] != NONE)
                fprintf(stderr, " with %s", ckpt_code_name((ckpt_code)e->codes[i]));
        fprintf(stderr, ", got [%s] ", ckpt_format_name(ckpt_report_format(r)));
        dump_report(r);
    }
    ckpt_report_free(r);
    return ok;
}

static void test_expected_verdicts(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < TABLE_LEN; i++)
        failed += !check_one(&table[i]);
    fprintf(stderr, "fixtures: %zu expectations, %d failed\n", TABLE_LEN, failed);
    assert_int_equal(failed, 0);
}

/* Counts files in fixtures/<sub> that the table does not cover. */
static int unlisted_files(const char *sub, int *seen)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", fixtures_dir, sub);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int missing = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        char rel[1024], path[8192];
        snprintf(rel, sizeof(rel), "%s/%s", sub, ent->d_name);
        snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
        struct stat st;
        if (ent->d_name[0] == '.' || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        (*seen)++;
        if (!in_table(rel)) {
            fprintf(stderr, "%s has no expectation in tests/test_fixtures.c\n", rel);
            missing++;
        }
    }
    closedir(d);
    return missing;
}

static void test_every_file_has_an_expectation(void **state)
{
    (void)state;
    int seen = 0;
    int missing = unlisted_files("torch", &seen) + unlisted_files("examples", &seen);
    assert_int_equal(missing, 0);
    for (size_t i = 0; i < TABLE_LEN; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", fixtures_dir, table[i].file);
        if (stat(path, &st) != 0)
            fprintf(stderr, "%s is in the table but missing\n", table[i].file);
        assert_int_equal(stat(path, &st), 0);
    }
    assert_true(seen >= 20);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixtures_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_file_has_an_expectation),
        cmocka_unit_test(test_expected_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
