/* SPDX-License-Identifier: Apache-2.0 */
/* Issue 12 root cause 10, header surfaces read as the loaders read them:
 * every malicious file in fixtures/headers (fixtures/gen_headers.py) runs
 * its payload under the real loader its extension selects
 * (tests/real_loader/check_real_loaders.py checks the .npy ones; the torch
 * zips hold deflate streams zipfile refuses, so it cannot vet them: each
 * was loaded by torch.load in a throwaway directory when it was made), and
 * ckptscan must give exactly the verdict and finding codes below. */
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

#ifndef CKPT_FIXTURES_DIR
#define CKPT_FIXTURES_DIR "fixtures"
#endif

#define END (-1)

static const char *fixtures_dir = CKPT_FIXTURES_DIR;

/* The report's distinct finding codes are exactly `codes` (END-terminated). */
static void expect(const char *file, ckpt_verdict verdict, const int *codes)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/headers/%s", fixtures_dir, file);
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_scan_file(s, path, &r), CKPT_OK);
    ckpt_scanner_free(s);
    int ok = report_is_exactly(r, verdict, codes, file);
    ckpt_report_free(r);
    assert_true(ok);
}

/* torch's zip reader inflates with miniz's tinfl, which takes streams zlib
 * refuses: a block whose literal/length code is one symbol of length 2, 288
 * literal/length and 32 distance code lengths, symbol 286 in a fixed
 * block, a distance code of one symbol of length 3. ckptscan walks what
 * miniz makes of them (zlib alone saw nothing past the first problem). */
static void deflate_tinfl_only_streams(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_ARCHIVE_ANOMALY, CKPT_F_COMMAND, END};
    expect("malicious_rc10_deflate_noop_block.pt", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc10_deflate_hlit288.pt", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc10_deflate_fixed_286.pt", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc10_deflate_single_dist.pt", CKPT_VERDICT_DANGEROUS, codes);
}

/* A stream miniz fails in: mz_zip_reader_extract_to_mem sets no error, so
 * torch unpickles what was inflated before the failure. Where miniz gets
 * further than zlib, its bytes are the ones walked. */
static void deflate_failed_streams_read_up_to_the_failure(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_ARCHIVE_ANOMALY, CKPT_F_COMMAND, END};
    expect("malicious_rc10_deflate_fails_after.pt", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc10_deflate_partial.pt", CKPT_VERDICT_DANGEROUS, codes);
}

/* The same miniz-only stream around a data-only pickle: said, and no more. */
static void deflate_tinfl_only_benign(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_ARCHIVE_ANOMALY, END};
    expect("benign_rc10_deflate_noop_block.pt", CKPT_VERDICT_SUSPICIOUS, codes);
}

/* torch unpickles data.pkl from a buffer of its declared size that miniz
 * fills only as far as it inflates (a failed stream sets no error; a
 * distance-0 copy writes nothing): when the pickle reaches such a byte
 * before STOP, torch runs bytes the file does not determine (heap
 * left-overs an attacker may groom): DANGEROUS, undetermined-bytes. The
 * campaign saw torch resolve names made of them (`uninit-tail`). */
static void deflate_undetermined_bytes_before_stop(void **state)
{
    (void)state;
    static const int copy[] = {CKPT_F_ARCHIVE_ANOMALY, CKPT_F_UNDETERMINED, CKPT_F_BAD_OPCODE, END};
    static const int fails[] = {CKPT_F_ARCHIVE_ANOMALY, CKPT_F_UNDETERMINED, CKPT_F_TRUNCATED, END};
    static const int none[] = {CKPT_F_ARCHIVE_ANOMALY, CKPT_F_UNDETERMINED, CKPT_F_EMPTY, END};
    expect("uninit_rc10_deflate_copy_dist0.pt", CKPT_VERDICT_DANGEROUS, copy);
    expect("uninit_rc10_deflate_fails_before_stop.pt", CKPT_VERDICT_DANGEROUS, fails);
    expect("uninit_rc10_deflate_nothing_inflates.pt", CKPT_VERDICT_DANGEROUS, none);
}

/* The same unwritten bytes after the pickle's STOP: torch never reads them. */
static void deflate_undetermined_bytes_after_stop(void **state)
{
    (void)state;
    static const int copy[] = {CKPT_F_ARCHIVE_ANOMALY, CKPT_F_EXTRA_PICKLE, CKPT_F_STACK_ERROR,
                               END};
    static const int fails[] = {CKPT_F_ARCHIVE_ANOMALY, END};
    expect("benign_rc10_deflate_copy_dist0_after_stop.pt", CKPT_VERDICT_SUSPICIOUS, copy);
    expect("benign_rc10_deflate_fails_after_stop.pt", CKPT_VERDICT_SUSPICIOUS, fails);
}

/* numpy.dtype((base, new_dtype)) with a zero-sized base is new_dtype: an
 * object in the second item of a descr tuple, or in the third item of a
 * field, makes numpy.load unpickle the data (both were SAFE). */
static void dtype_object_in_union_forms(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_COMMAND, END};
    expect("malicious_rc10_dtype_union_object.npy", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc10_dtype_field_union_object.npy", CKPT_VERDICT_DANGEROUS, codes);
}

/* .npy header text as compile() reads it: '\r' is a newline, so a comment
 * ends there (the second 'descr', an object, wins: was SAFE); a backslash
 * before '\r\n' continues the line; \N{...} names ASCII characters in keys
 * and dtypes. The last two carry a pickle without STOP: pickle.load runs it
 * and then fails, so the data is walked whether or not it completes. */
static void npy_header_text_as_compile_reads_it(void **state)
{
    (void)state;
    static const int command[] = {CKPT_F_COMMAND, END};
    static const int cut[] = {CKPT_F_COMMAND, CKPT_F_TRUNCATED, END};
    expect("malicious_rc10_npy_comment_cr.npy", CKPT_VERDICT_DANGEROUS, command);
    expect("malicious_rc10_npy_continuation_crlf.npy", CKPT_VERDICT_DANGEROUS, cut);
    expect("malicious_rc10_npy_named_escape.npy", CKPT_VERDICT_DANGEROUS, cut);
}

/* torch's legacy stacked pickles with a bytes storage key: torch.load
 * stops there, pickle.load called again (any multi-pickle reader) reads the
 * next pickle, the payload (found by the campaign in a mutated file). */
static void legacy_bad_keys_then_pickles(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_ARCHIVE_ANOMALY, CKPT_F_COMMAND, END};
    expect("malicious_legacy_keys_then_payload.pkl", CKPT_VERDICT_DANGEROUS, codes);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixtures_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deflate_tinfl_only_streams),
        cmocka_unit_test(deflate_failed_streams_read_up_to_the_failure),
        cmocka_unit_test(deflate_tinfl_only_benign),
        cmocka_unit_test(deflate_undetermined_bytes_before_stop),
        cmocka_unit_test(deflate_undetermined_bytes_after_stop),
        cmocka_unit_test(dtype_object_in_union_forms),
        cmocka_unit_test(npy_header_text_as_compile_reads_it),
        cmocka_unit_test(legacy_bad_keys_then_pickles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
