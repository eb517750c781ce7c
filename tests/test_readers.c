/* SPDX-License-Identifier: Apache-2.0 */
/* Issue 12's reader root causes, one case each: every file in
 * fixtures/readers (fixtures/gen_readers.py) runs its payload under the real
 * loader its name selects (tests/real_loader/check_real_loaders.py checks
 * that), and ckptscan must give exactly the verdict and finding codes below.
 * Also: skipping joblib's reading where it cannot differ changes no report. */
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

#include "scan.h"
#include "testutil.h"

#ifndef CKPT_FIXTURES_DIR
#define CKPT_FIXTURES_DIR "fixtures"
#endif

#define END (-1)

static const char *fixtures_dir = CKPT_FIXTURES_DIR;
static const char *divergences_dir = NULL; /* tests/real_loader/divergences */

static ckpt_report *scan_path(const char *path, int all_readings)
{
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    s->all_readings = all_readings;
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_scan_file(s, path, &r), CKPT_OK);
    ckpt_scanner_free(s);
    return r;
}

/* The report's distinct finding codes are exactly `codes` (END-terminated). */
static void expect(const char *file, ckpt_verdict verdict, const int *codes)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/readers/%s", fixtures_dir, file);
    ckpt_report *r = scan_path(path, 0);
    int ok = report_is_exactly(r, verdict, codes, file);
    ckpt_report_free(r);
    assert_true(ok);
}

/* 1: the joblib array step is joblib's alone. pickle.load reads the bytes
 * joblib takes for an array as opcodes, and runs them. */
static void rc1_array_step_only_in_joblib_reading(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_COMMAND, CKPT_F_LOADER_DISAGREEMENT, END};
    expect("malicious_rc1_array_step.pkl", CKPT_VERDICT_DANGEROUS, codes);
}

/* 5: joblib's reading follows Lib/pickle.py. A FRAME longer than the data
 * left is read as far as it goes (_pickle.c: truncated). */
static void rc5_frame_longer_than_data(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_TRUNCATED, CKPT_F_COMMAND, CKPT_F_LOADER_DISAGREEMENT, END};
    expect("malicious_rc5_long_frame.joblib", CKPT_VERDICT_DANGEROUS, codes);
}

/* 5: NEWOBJ with a list of arguments (_pickle.c: malformed). */
static void rc5_newobj_any_iterable(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_MALFORMED, CKPT_F_COMMAND, CKPT_F_LOADER_DISAGREEMENT, END};
    expect("malicious_rc5_newobj_list.joblib", CKPT_VERDICT_DANGEROUS, codes);
}

/* 5: the memo is a dict: index 2**32-1 costs nothing (_pickle.c:
 * MemoryError, ckptscan's C reading: max-memo). */
static void rc5_memo_is_a_dict(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_LIMIT, CKPT_F_COMMAND, CKPT_F_LOADER_DISAGREEMENT, END};
    expect("malicious_rc5_sparse_memo.joblib", CKPT_VERDICT_DANGEROUS, codes);
}

/* 2: joblib's arrays as numpy 1.24 makes them. A BUILD on a builtin
 * singleton dtype (dtype('u1', False, False)) changes nothing; on a dtype
 * of numpy's own (copy=True, 'c', sized strings, ...) every BUILD applies
 * (element size, hasobject: then the data is a pickle joblib loads); a
 * wrapper counts whatever made it (scalar(dtype('O'), x) returns x,
 * _rebuild_from_type_v2 calls cls(*args)) and every BUILD on it, through
 * the memo too, reads an array. Each file runs its payload under
 * joblib.load after the array(s). */
static void rc2_joblib_arrays_as_numpy_makes_them(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_COMMAND, END};
    expect("malicious_rc2_singleton_dtype_state_ignored.joblib", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc2_copied_dtype_takes_state.joblib", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc2_memoised_dtype_rebuilt.joblib", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc2_dtype_negative_size_state.joblib", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc2_wrapper_through_scalar.joblib", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc2_wrapper_through_rebuild.joblib", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc2_wrapper_built_twice.joblib", CKPT_VERDICT_DANGEROUS, codes);
    /* an object dtype whose state clears its object flag: joblib reads the
     * file's bytes into an object array (numpy takes them for pointers:
     * joblib.load segfaults on these) */
    ckpt_report *r = SCAN_LIT(
        NULL, "\200\002(cjoblib.numpy_pickle\012NumpyArrayWrapper\012)\201}(S'subclass'\012cnumpy"
              "\012ndarray\012S'shape'\012(I1\012tS'order'\012S'C'\012S'dtype'\012cnumpy\012dtype"
              "\012(S'O'\012I00\012I01\012tR(I3\012S'|'\012NNNI8\012I8\012I0\012tbS'allow_mmap'"
              "\012I00\012S'numpy_array_alignment_bytes'\012Nub\020\020\020\020\020\020\020\020t.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    assert_int_equal(ckpt_report_finding_count(r), 1);
    assert_true(find_code(r, CKPT_F_UNSAFE_ARGS, -1) >= 0);
    ckpt_report_free(r);
    /* an object array's pickle that stops inside its frame: joblib goes on
     * at STOP + 1 or at the frame's end (file buffering): not followed */
    static const char framed[] =
        "\200\002(cjoblib.numpy_pickle\012NumpyArrayWrapper\012)\201}(S'subclass'\012cnumpy"
        "\012ndarray\012S'shape'\012(I1\012tS'order'\012S'C'\012S'dtype'\012cnumpy\012dtype"
        "\012(S'O'\012I00\012I00\012tRS'allow_mmap'\012I00\012ub\200\004\225\026\000\000\000"
        "\000\000\000\000N.\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000"
        "\000\000\000t.";
    r = SCAN_LIT(NULL, framed);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    int joblib_straddle = 0;
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        assert_int_equal(ckpt_report_finding(r, i, &f), CKPT_OK);
        joblib_straddle |= f.code == CKPT_F_FRAME_STRADDLE && strstr(f.message, "object array");
    }
    assert_true(joblib_straddle);
    ckpt_report_free(r);
    /* a BUILD whose slot state sets __class__ (setattr) can make any object
     * a wrapper (a NumpyArrayWrapper given NDArrayWrapper's class makes
     * joblib np.load a companion file): not followed (was SAFE) */
    r = SCAN_LIT(NULL, "\200\002ccollections\012OrderedDict\012)R(N}(S'__class__'\012"
                       "cjoblib.numpy_pickle\012NumpyArrayWrapper\012utb.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    assert_int_equal(ckpt_report_finding_count(r), 1);
    assert_true(find_code(r, CKPT_F_ANOMALY, -1) >= 0);
    ckpt_report_free(r);
    /* object.__new__(NumpyArrayWrapper) is a wrapper too (joblib.load reads
     * its 3 bytes and imports ckpt_after_new) */
    r = SCAN_LIT(NULL, "\200\004(cbuiltins\012object.__new__\012cjoblib.numpy_pickle\012"
                       "NumpyArrayWrapper\012\205R}(S'subclass'\012cnumpy\012ndarray\012S'shape'"
                       "\012(I3\012tS'order'\012S'C'\012S'dtype'\012cnumpy\012dtype\012(S'u1'\012"
                       "I00\012I01\012tRS'allow_mmap'\012I00\012ub\001\002\003cckpt_after_new\012f"
                       "\012(tRt.");
    assert_true(has_import(r, "ckpt_after_new", "f", NULL));
    ckpt_report_free(r);
}

/* 2: every typestr numpy accepts (fixtures/readers/numpy_dtypes.txt,
 * numpy's own answers), copy=False and copy=True, BUILT with a state of
 * element size 24 and no flags: joblib reads 2 items of the size numpy
 * then has (a new object takes the state: flexible types its size, every
 * type its flags; a singleton ignores it), and the payload after them. */
static void rc2_every_typestr_as_numpy(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/readers/numpy_dtypes.txt", fixtures_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        skip();
    char ts[32], kind[16];
    unsigned long itemsize;
    int hasobject, n = 0;
    while (fscanf(f, "%31s %15s %lu %d", ts, kind, &itemsize, &hasobject) == 4) {
        const char *letter = ts + (strchr("<>|=", ts[0]) ? 1 : 0);
        int extended = strchr("SaUV", letter[0]) || strcmp(letter, "c") == 0;
        for (int copy = 0; copy < 2; copy++) {
            int fresh = copy || strcmp(kind, "new") == 0;
            unsigned long size = fresh && extended ? 24 : itemsize;
            int object = fresh ? 0 : hasobject;
            if (!object && size == 0)
                continue; /* joblib divides by the item size */
            char buf[1024];
            int len = snprintf(
                buf, sizeof(buf),
                "\200\002(cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\201}(S'subclass'\ncnumpy\n"
                "ndarray\nS'shape'\n(I2\ntS'order'\nS'C'\nS'dtype'\ncnumpy\ndtype\n(S'%s'\nI00\n"
                "I0%d\ntR(I3\nS'<'\nNNNI24\nI1\nI0\ntbS'allow_mmap'\nI00\nub",
                ts, copy);
            if (object) {
                memcpy(buf + len, "\200\002N.", 4);
                len += 4;
            } else {
                memset(buf + len, 0, 2 * size);
                len += (int)(2 * size);
            }
            static const char tail[] = "cposix\nsystem\n(S'true'\ntRt.";
            memcpy(buf + len, tail, sizeof(tail) - 1);
            len += (int)sizeof(tail) - 1;
            ckpt_report *r = scan_bytes(NULL, buf, (size_t)len);
            int ok = ckpt_report_verdict(r) == CKPT_VERDICT_DANGEROUS &&
                     has_import(r, "posix", "system", NULL) && find_code(r, CKPT_F_ANOMALY, -1) < 0;
            if (!ok) {
                fprintf(stderr, "dtype('%s', False, %s): numpy reads %lu-byte items%s\n", ts,
                        copy ? "True" : "False", size, object ? " (objects)" : "");
                dump_report(r);
            }
            ckpt_report_free(r);
            assert_true(ok);
            n++;
        }
    }
    fclose(f);
    assert_true(n > 600);
}

/* 3 and 7: a class through pass-throughs (numpy scalar, then
 * _rebuild_from_type_v2 setting its state) is mutated (dump_patches,
 * __name__); a legacy 'module' persistent id with source then makes torch
 * write '<__name__>.patch': global-mutation and file-access. */
static void rc3_rc7_class_through_passthrough_and_dump_patches(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/readers/malicious_rc7_dump_patches.pt", fixtures_dir);
    ckpt_report *r = scan_path(path, 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    assert_true(find_code(r, CKPT_F_GLOBAL_MUTATION, -1) >= 0);
    assert_true(find_code(r, CKPT_F_FILE_ACCESS, -1) >= 0);
    ckpt_report_free(r);
    /* BUILD on a class that came through numpy's scalar: global-mutation */
    r = SCAN_LIT(NULL, "\x80\x02"
                       "cnumpy.core.multiarray\nscalar\n(cnumpy\ndtype\n(S'O'\ntR"
                       "ccollections\nOrderedDict\ntR}(S'x'\nI1\nub.");
    assert_true(find_code(r, CKPT_F_GLOBAL_MUTATION, -1) >= 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
}

/* 4: _pickle.c reads a frame of 128 KiB or more whole (no peek()); torch's
 * legacy reader's next load() starts at the frame's end, where the
 * payload is (STOP + 1 holds zeros: bad-opcode, legacy pickle 2 fails). */
static void rc4_frame_read_whole(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_FRAME_STRADDLE, CKPT_F_COMMAND, CKPT_F_BAD_OPCODE,
                                CKPT_F_ARCHIVE_ANOMALY, END};
    expect("malicious_rc4_frame_read_whole.pt", CKPT_VERDICT_DANGEROUS, codes);
}

/* 5: Lib/pickle.py's readline() at EOF gives the partial line, cut by one
 * byte: GLOBAL 'posix\nsyst' at EOF resolves posix.sys (importing posix). */
static void rc5_line_cut_by_eof(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_TRUNCATED, CKPT_F_COMMAND, CKPT_F_LOADER_DISAGREEMENT, END};
    ckpt_report *r = SCAN_LIT(NULL, "cposix\nsyst");
    assert_true(has_import(r, "posix", "sys", NULL));
    ckpt_report_free(r);
    (void)codes;
    r = SCAN_LIT(NULL, "cposix\nsyst");
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        assert_int_equal(ckpt_report_finding(r, i, &f), CKPT_OK);
        int listed = 0;
        for (size_t j = 0; codes[j] != END; j++)
            listed |= codes[j] == (int)f.code;
        assert_true(listed);
    }
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
}

/* 5: FLOAT as Lib/pickle.py reads it: float() on the line. joblib.load
 * opens a plain .pkl too, so a number only float() takes (underscores,
 * whitespace around it, an overflow to inf) must not end the reading where
 * _pickle.c fails: joblib runs what follows. */
static void rc5_float_as_float_reads_it(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_MALFORMED, CKPT_F_COMMAND, CKPT_F_LOADER_DISAGREEMENT, END};
    expect("malicious_rc5_float_underscore_joblib.pkl", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc5_float_overflow_joblib.pkl", CKPT_VERDICT_DANGEROUS, codes);
    expect("malicious_rc5_float_space_joblib.pkl", CKPT_VERDICT_DANGEROUS, codes);
    /* more lines float() takes (and _pickle.c does not): posix.system runs */
    static const char *const taken[] = {"1_0.0_1e1_0", "\t-Infinity\x0b", "1e-999_9", " nan"};
    /* lines both refuse: no loader reaches the import, the bytes are no pickle */
    static const char *const refused[] = {"1__0", "1_", "_1", "1_e5", "0x10", "1e", "1\x01"};
    char buf[256];
    for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]) + sizeof(refused) / sizeof(refused[0]);
         i++) {
        int runs = i < sizeof(taken) / sizeof(taken[0]);
        const char *num = runs ? taken[i] : refused[i - sizeof(taken) / sizeof(taken[0])];
        int n = snprintf(buf, sizeof(buf), "F%s\n0cposix\nsystem\n(S'true'\ntRN.", num);
        ckpt_report *r = scan_bytes(NULL, buf, (size_t)n);
        if ((ckpt_report_verdict(r) == CKPT_VERDICT_DANGEROUS) != runs ||
            has_import(r, "posix", "system", NULL) != runs ||
            (!runs && ckpt_report_verdict(r) != CKPT_VERDICT_SAFE)) {
            fprintf(stderr, "FLOAT line '%s': expected %s\n", num, runs ? "dangerous" : "safe");
            dump_report(r);
            fail();
        }
        ckpt_report_free(r);
    }
}

/* 6: LZMAFile(FORMAT_AUTO) goes on into an .lzma stream after an .xz one. */
static void rc6_xz_then_lzma(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_COMMAND, END};
    expect("malicious_rc6_xz_then_lzma.joblib", CKPT_VERDICT_DANGEROUS, codes);
}

/* 6: LZ4 frame readers skip a skippable frame and read the next frame
 * (a build without lz4 reports the stream unscanned). */
static void rc6_lz4_skippable_frame(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_COMMAND, END};
    static const int unscanned[] = {CKPT_F_UNSCANNED_MEMBER, END};
    char path[4096];
    snprintf(path, sizeof(path), "%s/readers/malicious_rc6_lz4_skippable.joblib", fixtures_dir);
    ckpt_report *r = scan_path(path, 0);
    int without_lz4 = find_code(r, CKPT_F_UNSCANNED_MEMBER, -1) >= 0;
    ckpt_report_free(r);
    if (without_lz4)
        expect("malicious_rc6_lz4_skippable.joblib", CKPT_VERDICT_SUSPICIOUS, unscanned);
    else
        expect("malicious_rc6_lz4_skippable.joblib", CKPT_VERDICT_DANGEROUS, codes);
}

/* The file's imports include module.name (want 1) or not (want 0). */
static void expect_import(const char *file, const char *module, const char *name, int want)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/readers/%s", fixtures_dir, file);
    ckpt_report *r = scan_path(path, 0);
    int ok = has_import(r, module, name, NULL) == want;
    if (!ok) {
        fprintf(stderr, "%s: %s.%s %s\n", file, module, name, want ? "missing" : "listed");
        dump_report(r);
    }
    ckpt_report_free(r);
    assert_true(ok);
}

/* 6: a bz2 / xz stream after the first that fails in BZ2File's / LZMAFile's
 * first decompress() call (bad block magic, bad header CRC) is trailing
 * data: the unpickler gets EOF where it starts, and joblib's Lib/pickle.py
 * reads the GLOBAL line cut there as 'fork' ('forkX' less its last byte).
 * Nothing of the failed stream is read. */
static void rc6_corrupt_second_stream_is_eof(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_COMMAND, CKPT_F_LOADER_DISAGREEMENT, CKPT_F_TRAILING_DATA,
                                CKPT_F_TRUNCATED, END};
    static const char *const files[] = {"malicious_rc6_bz2_corrupt_second_stream.joblib",
                                        "malicious_rc6_xz_corrupt_second_stream.joblib"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        expect(files[i], CKPT_VERDICT_DANGEROUS, codes);
        expect_import(files[i], "posix", "fork", 1);
        expect_import(files[i], "posix", "forkX", 0);
    }
}

/* 6: a second bz2 stream with a bad block CRC fails after its output:
 * BZ2File returns that output when the reader asked for less than the
 * block (the error comes in a later call), and ignores the stream when it
 * asked for more. Both readings: 'fork' at EOF, and the line the failed
 * stream's bytes complete. */
static void rc6_crc_second_stream_both_readings(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_COMMAND,     CKPT_F_LOADER_DISAGREEMENT, CKPT_F_MALFORMED,
                                CKPT_F_STACK_ERROR, CKPT_F_TRUNCATED,           END};
    const char *file = "malicious_rc6_bz2_crc_second_stream.joblib";
    expect(file, CKPT_VERDICT_DANGEROUS, codes);
    expect_import(file, "posix", "fork", 1);
    expect_import(file, "posix", "forkXcposix", 1);
}

/* 10: joblib's lzma magic is 5d 00: a 4 KiB dictionary (5d 00 10 00 00). */
static void rc10_lzma_magic_as_joblib_reads_it(void **state)
{
    (void)state;
    static const int codes[] = {CKPT_F_COMMAND, END};
    expect("malicious_rc10_lzma_small_dict.joblib", CKPT_VERDICT_DANGEROUS, codes);
}

/* The campaign's reproducers (tests/real_loader/divergences) of the
 * classes fixed: each lists the name the real loader resolved (the
 * divergence) and gets exactly this verdict and these codes. */
static void campaign_reproducers(void **state)
{
    (void)state;
    static const struct {
        const char *file, *module, *name;
        ckpt_verdict verdict;
        int codes[8];
    } cases[] = {
        /* rc2: a dtype('u1', False, True) of numpy's own takes its BUILD states */
        {"rc2-dtype-build-state.joblib",
         "collections",
         "OrderedDict",
         CKPT_VERDICT_SUSPICIOUS,
         {CKPT_F_PROTOCOL_CHANGE, CKPT_F_TRUNCATED, END}},
        {"rc2-memoised-dtype-rebuilt.joblib",
         "ckpt_diff_mod_5",
         "func_2",
         CKPT_VERDICT_SUSPICIOUS,
         {CKPT_F_BAD_OPCODE, CKPT_F_TRUNCATED, CKPT_F_UNKNOWN_IMPORT, END}},
        /* was SAFE: the second state sets NPY_OBJECT's flags, joblib loads a pickle */
        {"rc2-singleton-dtype-state-ignored-SAFE.joblib",
         "torch",
         "FloatStorage",
         CKPT_VERDICT_SUSPICIOUS,
         {CKPT_F_EXTRA_PICKLE, CKPT_F_PROTOCOL_CHANGE, CKPT_F_STACK_ERROR, CKPT_F_UNKNOWN_IMPORT,
          END}},
        {"rc2-wrapper-through-scalar-passthrough.joblib",
         "ckpt_diff_mod_5",
         "Cls_1.meth_2",
         CKPT_VERDICT_SUSPICIOUS,
         {CKPT_F_UNKNOWN_IMPORT, END}},
        /* rc5 with issue 13 rule 1: were SAFE (FLOAT '1_0', '1e999') */
        {"rc5-py-float-underscore-SAFE.pkl",
         "ckpt_diff_mod_1",
         "func_2",
         CKPT_VERDICT_SUSPICIOUS,
         {CKPT_F_LOADER_DISAGREEMENT, CKPT_F_MALFORMED, CKPT_F_UNKNOWN_IMPORT, END}},
        {"rc5-py-float-overflow-SAFE.pkl",
         "ckpt_diff_mod_1",
         "func_2",
         CKPT_VERDICT_SUSPICIOUS,
         {CKPT_F_LOADER_DISAGREEMENT, CKPT_F_MALFORMED, CKPT_F_UNKNOWN_IMPORT, END}},
        /* rc6: decompressors go on into the next stream */
        {"rc6-lzma-alone-concatenated.joblib",
         "ckpt_diff_pkg_1.sub_2",
         "Cls_1.meth_2",
         CKPT_VERDICT_SUSPICIOUS,
         {CKPT_F_UNKNOWN_IMPORT, END}},
        {"rc6-xz-then-lzma.joblib",
         "ckpt_diff_mod_3",
         "Cls_1.meth_2",
         CKPT_VERDICT_SUSPICIOUS,
         {CKPT_F_UNKNOWN_IMPORT, END}},
        /* rc5 through rc6: a bz2 stream, then one whose block CRC is wrong;
         * BZ2File ignores it (it fails in its first call), joblib reads the
         * GLOBAL line cut there at EOF ('os.syst' -> 'os.sys') */
        {"rc6-bz2-corrupt-second-stream.joblib",
         "pathlib",
         "os.sys",
         CKPT_VERDICT_DANGEROUS,
         {CKPT_F_COMMAND, CKPT_F_EXTRA_PICKLE, CKPT_F_STACK_ERROR, CKPT_F_TRUNCATED,
          CKPT_F_LOADER_DISAGREEMENT, CKPT_F_MALFORMED, END}},
    };
    if (!divergences_dir)
        skip();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", divergences_dir, cases[i].file);
        ckpt_report *r = scan_path(path, 0);
        int ok = ckpt_report_verdict(r) == cases[i].verdict &&
                 has_import(r, cases[i].module, cases[i].name, NULL);
        size_t want = 0;
        for (; cases[i].codes[want] != END; want++)
            ok &= find_code(r, (ckpt_code)cases[i].codes[want], -1) >= 0;
        for (size_t k = 0; k < ckpt_report_finding_count(r); k++) {
            ckpt_finding f;
            assert_int_equal(ckpt_report_finding(r, k, &f), CKPT_OK);
            int listed = 0;
            for (size_t j = 0; j < want; j++)
                listed |= cases[i].codes[j] == (int)f.code;
            ok &= listed;
        }
        if (!ok) {
            fprintf(stderr, "%s: expected %s with %s.%s\n", cases[i].file,
                    ckpt_verdict_name(cases[i].verdict), cases[i].module, cases[i].name);
            dump_report(r);
        }
        ckpt_report_free(r);
        assert_true(ok);
    }
}

/* ---- the joblib reading may be skipped: same JSON with and without ---- */

static int same_either_way(const char *path)
{
    membuf a = report_json(scan_path(path, 0)), b = report_json(scan_path(path, 1));
    int same = a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
    if (!same)
        fprintf(stderr, "%s:\nskipped: %s\nwalked:  %s\n", path, a.p, b.p);
    free(a.p);
    free(b.p);
    return same;
}

/* Every regular file under dir (recursively); returns the number compared. */
static int compare_dir(const char *dir, int *differ)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[8192];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            n += compare_dir(path, differ);
        } else if (S_ISREG(st.st_mode) && st.st_size < (4 << 20)) {
            n++;
            *differ += !same_either_way(path);
        }
    }
    closedir(d);
    return n;
}

static void skipping_joblib_reading_changes_nothing(void **state)
{
    (void)state;
    int differ = 0;
    int n = compare_dir(fixtures_dir, &differ);
    fprintf(stderr, "readers: %d files, %d differ\n", n, differ);
    assert_true(n >= 50);
    assert_int_equal(differ, 0);
}

static const char sd_linear_p2[] =
    "\200\002ccollections\012OrderedDict\012q\000)Rq\001X\001\000\000\000wq\002K\001s.";

/* A plain pickle that names no joblib class: the same with joblib's reading. */
static void plain_pickle_same_both_ways(void **state)
{
    (void)state;
    ckpt_scanner *s[2];
    membuf o[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ckpt_scanner_new(&s[i]), CKPT_OK);
        s[i]->all_readings = i;
        ckpt_report *r = NULL;
        assert_int_equal(ckpt_scan_mem(s[i], sd_linear_p2, sizeof(sd_linear_p2) - 1, "x", &r),
                         CKPT_OK);
        assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
        o[i] = report_json(r);
        ckpt_scanner_free(s[i]);
    }
    assert_int_equal(o[0].n, o[1].n);
    assert_memory_equal(o[0].p, o[1].p, o[0].n);
    free(o[0].p);
    free(o[1].p);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixtures_dir = argv[1];
    if (argc > 2)
        divergences_dir = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rc1_array_step_only_in_joblib_reading),
        cmocka_unit_test(rc2_joblib_arrays_as_numpy_makes_them),
        cmocka_unit_test(rc2_every_typestr_as_numpy),
        cmocka_unit_test(rc5_frame_longer_than_data),
        cmocka_unit_test(rc5_newobj_any_iterable),
        cmocka_unit_test(rc5_memo_is_a_dict),
        cmocka_unit_test(rc3_rc7_class_through_passthrough_and_dump_patches),
        cmocka_unit_test(rc4_frame_read_whole),
        cmocka_unit_test(rc5_line_cut_by_eof),
        cmocka_unit_test(rc5_float_as_float_reads_it),
        cmocka_unit_test(rc6_xz_then_lzma),
        cmocka_unit_test(rc6_lz4_skippable_frame),
        cmocka_unit_test(rc6_corrupt_second_stream_is_eof),
        cmocka_unit_test(rc6_crc_second_stream_both_readings),
        cmocka_unit_test(rc10_lzma_magic_as_joblib_reads_it),
        cmocka_unit_test(campaign_reproducers),
        cmocka_unit_test(plain_pickle_same_both_ways),
        cmocka_unit_test(skipping_joblib_reading_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
