/* SPDX-License-Identifier: Apache-2.0 */
/* Every file of fixtures/attacks (fixtures/gen_attacks.py: one per attack
 * class of the optional peer corpus, ../shared/corpus) gets its expected
 * verdict, format and findings (code and resolved global). Every file of the
 * directory is in the table and every entry exists, so a clone without the
 * corpus still tests each class. argv[1]: the fixtures directory. */
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

enum {
    SAFE = CKPT_VERDICT_SAFE,
    SUSPICIOUS = CKPT_VERDICT_SUSPICIOUS,
    DANGEROUS = CKPT_VERDICT_DANGEROUS,
    PICKLE = CKPT_FORMAT_PICKLE,
    ZIP = CKPT_FORMAT_ZIP,
    SEVEN_ZIP = CKPT_FORMAT_SEVEN_ZIP,
    PNG = CKPT_FORMAT_PNG,
    NONE = -1
};

typedef struct want_finding {
    int code;           /* ckpt_code, or NONE */
    const char *global; /* the finding's resolved global, or NULL for any */
} want_finding;

typedef struct attack {
    const char *file;     /* under fixtures/attacks */
    const char *corpus;   /* the peer corpus sample of the same class */
    int verdict;          /* ckpt_verdict */
    int format;           /* ckpt_format */
    want_finding want[3]; /* findings that must be present */
} attack;

#define F(c, g)                                                                                    \
    {                                                                                              \
        CKPT_F_##c, g                                                                              \
    }
#define NO                                                                                         \
    {                                                                                              \
        NONE, NULL                                                                                 \
    }

static const attack table[] = {
    {"benign_p0.pkl", "benign0_v0.pkl", SAFE, PICKLE, {NO, NO, NO}},
    {"benign_p3.pkl", "benign0_v3.pkl", SAFE, PICKLE, {NO, NO, NO}},
    {"benign_p4.pkl", "benign0_v4.pkl", SAFE, PICKLE, {NO, NO, NO}},
    {"system_p0.pkl", "malicious2_v0.pkl", DANGEROUS, PICKLE, {F(COMMAND, "posix.system"), NO, NO}},
    {"system_p3.pkl", "malicious2_v3.pkl", DANGEROUS, PICKLE, {F(COMMAND, "posix.system"), NO, NO}},
    {"system_p4.pkl", "malicious2_v4.pkl", DANGEROUS, PICKLE, {F(COMMAND, "posix.system"), NO, NO}},
    {"eval_p0.pkl", "malicious1_v0.pkl", DANGEROUS, PICKLE, {F(EXEC, "builtins.eval"), NO, NO}},
    {"eval_p3.pkl", "malicious1_v3.pkl", DANGEROUS, PICKLE, {F(EXEC, "builtins.eval"), NO, NO}},
    {"eval_p4.pkl", "malicious1_v4.pkl", DANGEROUS, PICKLE, {F(EXEC, "builtins.eval"), NO, NO}},
    {"exec_inst.pkl", "malicious10.pkl", DANGEROUS, PICKLE, {F(EXEC, "builtins.exec"), NO, NO}},
    {"compile_apply.pkl",
     "malicious0.pkl",
     DANGEROUS,
     PICKLE,
     {F(EXEC, "builtins.compile"), F(TRAMPOLINE, "builtins.apply"),
      F(TRAMPOLINE, "builtins.globals")}},
    {"attrgetter_import.pkl",
     "malicious12.pkl",
     DANGEROUS,
     PICKLE,
     {F(TRAMPOLINE, "operator.attrgetter"), F(TRAMPOLINE, "builtins.__import__"),
      F(INDIRECT_CALL, NULL)}},
    {"loads_codecs.pkl",
     "malicious13a.pkl",
     DANGEROUS,
     PICKLE,
     {F(NESTED_LOAD, "pickle.loads"), F(EMBEDDED_PICKLE, NULL), NO}},
    {"loads_bytes_p4.pkl",
     "malicious13b.pkl",
     DANGEROUS,
     PICKLE,
     {F(NESTED_LOAD, "_pickle.loads"), F(EMBEDDED_PICKLE, NULL), NO}},
    {"runpy_run_code.pkl",
     "malicious14.pkl",
     DANGEROUS,
     PICKLE,
     {F(EXEC, "runpy._run_code"), NO, NO}},
    {"bdb_getattr.pkl",
     "malicious15a.pkl",
     DANGEROUS,
     PICKLE,
     {F(EXEC, "bdb.Bdb"), F(TRAMPOLINE, "builtins.getattr"), NO}},
    {"bdb_dotted_p4.pkl", "malicious15b.pkl", DANGEROUS, PICKLE, {F(EXEC, "bdb.Bdb.run"), NO, NO}},
    {"pip_main.pkl", "malicious16.pkl", DANGEROUS, PICKLE, {F(COMMAND, "pip.main"), NO, NO}},
    {"inductor_compile_file.pkl",
     "malicious17.pkl",
     DANGEROUS,
     PICKLE,
     {F(COMMAND, "torch._inductor.codecache.compile_file"), NO, NO}},
    {"pydoc_pipepager.pkl",
     "malicious18.pkl",
     DANGEROUS,
     PICKLE,
     {F(COMMAND, "pydoc.pipepager"), NO, NO}},
    {"partial_torch_load.pkl",
     "malicious19.pkl",
     DANGEROUS,
     PICKLE,
     {F(NESTED_LOAD, "torch.serialization.load"), F(TRAMPOLINE, "functools.partial"), NO}},
    {"venv_create.pkl", "malicious20.pkl", DANGEROUS, PICKLE, {F(COMMAND, "venv.create"), NO, NO}},
    {"httplib_connection.pkl",
     "malicious3.pkl",
     DANGEROUS,
     PICKLE,
     {F(NETWORK, "http.client.HTTPSConnection"), NO, NO}},
    {"requests_get_p4.pkl",
     "malicious4.pickle",
     DANGEROUS,
     PICKLE,
     {F(NETWORK, "requests.api.get"), NO, NO}},
    {"aiohttp_session_p4.pkl",
     "malicious5.pickle",
     DANGEROUS,
     PICKLE,
     {F(NETWORK, "aiohttp.client.ClientSession"), NO, NO}},
    {"second_pickle_network.pkl",
     "malicious6.pkl",
     DANGEROUS,
     PICKLE,
     {F(NETWORK, "requests.api.get"), F(EXTRA_PICKLE, NULL), NO}},
    {"socket_connection_p4.pkl",
     "malicious7.pkl",
     DANGEROUS,
     PICKLE,
     {F(NETWORK, "socket.create_connection"), NO, NO}},
    {"subprocess_run_p4.pkl",
     "malicious8.pkl",
     DANGEROUS,
     PICKLE,
     {F(COMMAND, "subprocess.run"), NO, NO}},
    {"sys_exit_p4.pkl", "malicious9.pkl", DANGEROUS, PICKLE, {F(TRAMPOLINE, "sys.exit"), NO, NO}},
    {"memo_decoys.pkl", "malicious11.pkl", DANGEROUS, PICKLE, {F(COMMAND, "os.system"), NO, NO}},
    {"memo_decoys_trailing.pkl",
     "malicious-invalid-bytes.pkl",
     DANGEROUS,
     PICKLE,
     {F(COMMAND, "os.system"), F(TRAILING_DATA, NULL), NO}},
    {"truncated_after_exec.pkl",
     "broken_model.pkl",
     DANGEROUS,
     PICKLE,
     {F(EXEC, "builtins.exec"), F(TRUNCATED, NULL), NO}},
    {"module_override_p4.pkl",
     "sys_module_override_sploit.pkl",
     DANGEROUS,
     PICKLE,
     {F(GLOBAL_MUTATION, "torch._utils"), F(DYNAMIC_IMPORT, NULL), NO}},
    {"global_invalid_utf8.pkl",
     "not_a_pickle.bin",
     SUSPICIOUS,
     PICKLE,
     {F(MALFORMED, NULL), NO, NO}},
    /* NEWFALSE, then a PERSID that every loader refuses at offset 0: no
     * loader runs it, so it is the PNG it is (test_not_pickle.c) */
    {"not_a_checkpoint_png.pt", "bad_pytorch.pt", SAFE, PNG, {NO, NO, NO}},
    {"eval_in_zip.zip", "malicious1.zip", DANGEROUS, ZIP, {F(EXEC, "builtins.eval"), NO, NO}},
    {"eval_in_zip_txt_name.zip",
     "malicious1_wrong_ext.zip",
     DANGEROUS,
     ZIP,
     {F(EXEC, "builtins.eval"), NO, NO}},
    {"benign_encrypted.zip",
     "benign_password_protected.zip",
     SUSPICIOUS,
     ZIP,
     {F(UNSCANNED_MEMBER, NULL), NO, NO}},
    {"eval_in_7z.7z", "malicious1.7z", SUSPICIOUS, SEVEN_ZIP, {F(UNSCANNED_MEMBER, NULL), NO, NO}},
};

#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

static const char *fixtures_dir = CKPT_FIXTURES_DIR;

static int has_finding(const ckpt_report *r, const want_finding *w)
{
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        if ((int)f.code == w->code && (!w->global || strcmp(f.global, w->global) == 0))
            return 1;
    }
    return 0;
}

/* Returns 1 when the file's report matches its expectation (and says why not). */
static int check_one(ckpt_scanner *s, const attack *a)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/attacks/%s", fixtures_dir, a->file);
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_scan_file(s, path, &r), CKPT_OK);
    int ok = (int)ckpt_report_verdict(r) == a->verdict && (int)ckpt_report_format(r) == a->format;
    if (a->verdict == SAFE && ckpt_report_finding_count(r) != 0)
        ok = 0;
    for (int i = 0; i < 3; i++)
        if (a->want[i].code != NONE && !has_finding(r, &a->want[i]))
            ok = 0;
    if (!ok) {
        fprintf(stderr, "FAIL %s (class of %s): expected %s [%s]", a->file, a->corpus,
                ckpt_verdict_name((ckpt_verdict)a->verdict),
                ckpt_format_name((ckpt_format)a->format));
        for (int i = 0; i < 3; i++)
            if (a->want[i].code != NONE)
                fprintf(stderr, " %s %s", ckpt_code_name((ckpt_code)a->want[i].code),
                        a->want[i].global ? a->want[i].global : "");
        fprintf(stderr, ", got [%s] ", ckpt_format_name(ckpt_report_format(r)));
        dump_report(r);
    }
    ckpt_report_free(r);
    return ok;
}

static void test_expected_verdicts(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    int failed = 0;
    for (size_t i = 0; i < TABLE_LEN; i++)
        failed += !check_one(s, &table[i]);
    ckpt_scanner_free(s);
    printf("attacks: %zu files, one per peer-corpus class, %d failed\n", TABLE_LEN, failed);
    assert_int_equal(failed, 0);
}

static int in_table(const char *file)
{
    for (size_t i = 0; i < TABLE_LEN; i++)
        if (strcmp(table[i].file, file) == 0)
            return 1;
    return 0;
}

static void test_table_is_the_directory(void **state)
{
    (void)state;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/attacks", fixtures_dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t seen = 0;
    int unlisted = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        seen++;
        if (!in_table(e->d_name)) {
            fprintf(stderr, "attacks/%s has no expectation in tests/test_attacks.c\n", e->d_name);
            unlisted++;
        }
    }
    closedir(d);
    assert_int_equal(unlisted, 0);
    assert_int_equal(seen, TABLE_LEN); /* so every entry exists, once */
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixtures_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_the_directory),
        cmocka_unit_test(test_expected_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
