/* SPDX-License-Identifier: Apache-2.0 */
/* The fast path (pickle_lite.c, lite_objects.c) against the full
 * interpreter. It may only ever save time: on every input, the report with
 * the fast path is byte for byte the report without it (JSON compared).
 * Torch's data.pkl must take it; every construct the full interpreter
 * comments on must make it give up. argv[1..]: directories whose files are
 * all compared (fixtures, fuzz/corpus); a directory after "--optional" (the
 * peer corpus, ../shared/corpus) is compared when present and otherwise left
 * out with a line saying so. */
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

#include "fastpath_check.h"
#include "formats.h"
#include "pickle.h"
#include "report.h"
#include "scan.h"
#include "testutil.h"

static char **dirs;
static int ndirs;

/* data.pkl of fixtures/torch/sd_linear.pt (torch 1.13, nn.Linear(4, 3)). */
static const char sd_linear[] =
    "\200\002ccollections\012OrderedDict\012q\000)Rq\001(X\006\000\000\000weightq\002ctorch._uti"
    "ls\012_rebuild_tensor_v2\012q\003((X\007\000\000\000storageq\004ctorch\012FloatStorage\012q"
    "\005X\001\000\000\0000q\006X\003\000\000\000cpuq\007K\014tq\010QK\000K\003K\004\206q\011K"
    "\004K\001\206q\012\211h\000)Rq\013tq\014Rq\015X\004\000\000\000biasq\016h\003((h\004h\005X"
    "\001\000\000\0001q\017h\007K\003tq\020QK\000K\003\205q\021K\001\205q\022\211h\000)Rq\023tq"
    "\024Rq\025u}q\026X\011\000\000\000_metadataq\027h\000)Rq\030X\000\000\000\000q\031}q\032X"
    "\007\000\000\000versionq\033K\001sssb.";

/* ---- helpers ---- */

static ckpt_scanner *make_scanner(int fast, int tight)
{
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    if (tight) { /* limits that cut the values the fast path tags */
        assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_STRING, 6), CKPT_OK);
        assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_ITEMS, 1), CKPT_OK);
        assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_STACK, 64), CKPT_OK);
        assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMO, 4096), CKPT_OK);
    }
    s->no_fast_path = !fast;
    return s;
}

static ckpt_report *scan_with(int fast, int tight, const char *path, const void *data, size_t len)
{
    ckpt_scanner *s = make_scanner(fast, tight);
    ckpt_report *r = NULL;
    ckpt_status st = path ? ckpt_scan_file(s, path, &r) : ckpt_scan_mem(s, data, len, "x", &r);
    assert_int_equal(st, CKPT_OK);
    ckpt_scanner_free(s);
    return r;
}

/* 1 when both scanners give the same JSON for the bytes (or the file), or
 * the full interpreter ran out of memory (pickle_lite.c: by design). */
static int same_reports(const char *path, const void *data, size_t len, int tight)
{
    ckpt_report *full = scan_with(0, tight, path, data, len);
    if (interpreter_out_of_memory(full)) {
        ckpt_report_free(full);
        return 1;
    }
    membuf out[2] = {report_json(full), report_json(scan_with(1, tight, path, data, len))};
    int same = out[0].n == out[1].n && memcmp(out[0].p, out[1].p, out[0].n) == 0;
    if (!same)
        fprintf(stderr, "%s:\nfull: %s\nfast: %s\n", path ? path : "(bytes)", out[0].p, out[1].p);
    free(out[0].p);
    free(out[1].p);
    return same;
}

#define SAME_LIT(lit, tight) assert_true(same_reports(NULL, (lit), sizeof(lit) - 1, (tight)))

/* pickle_lite alone on bytes; *r set when it succeeded. */
static int lite_on(const char *data, size_t len, int tight, const pickle_hooks *hooks,
                   lite_result *r)
{
    ckpt_scanner *s = make_scanner(1, tight);
    ckpt_report *rep = report_new("x", 100, 0);
    scan_ctx ctx = {.sc = s, .nest = &formats_nested, .rep = rep};
    int ok = pickle_lite(&ctx, (const uint8_t *)data, len, 0, hooks, r);
    ckpt_report_free(rep);
    ckpt_scanner_free(s);
    return ok;
}

#define LITE_LIT(lit, tight, hooks, r) lite_on((lit), sizeof(lit) - 1, (tight), (hooks), (r))

static void assert_import(const lite_import *e, const char *resolved, uint64_t count,
                          uint64_t calls)
{
    assert_string_equal(e->resolved, resolved);
    assert_int_equal(e->count, count);
    assert_int_equal(e->calls, calls);
}

/* ---- torch's data.pkl ---- */

static void torch_state_dict_takes_the_fast_path(void **state)
{
    (void)state;
    lite_result r;
    joblib_reading jr;
    joblib_reading_init(&jr, 0);
    assert_int_equal(LITE_LIT(sd_linear, 0, &jr.hooks, &r), 1);
    joblib_reading_release(&jr);
    assert_int_equal(r.end, sizeof(sd_linear) - 1);
    assert_int_equal(r.protocol, 2);
    assert_int_equal(r.weights_only_ok, 1);
    assert_string_equal(r.weights_only_reason, "");
    assert_int_equal(r.nimports, 3);
    /* the state dict, two backward-hook dicts and _metadata */
    assert_import(&r.imports[0], "collections.OrderedDict", 1, 4);
    assert_import(&r.imports[1], "torch._utils._rebuild_tensor_v2", 1, 2);
    assert_import(&r.imports[2], "torch.FloatStorage", 1, 0);
    assert_int_equal(r.imports[1].offset, 47);
    lite_result_release(&r);
    SAME_LIT(sd_linear, 0);
    SAME_LIT(sd_linear, 1);
}

/* Python 2 names are mapped before the allowlist sees them. */
static void python2_names_are_mapped(void **state)
{
    (void)state;
    static const char p[] = "\200\002c__builtin__\nset\n]\205R.";
    lite_result r;
    assert_int_equal(LITE_LIT(p, 0, NULL, &r), 1);
    assert_int_equal(r.nimports, 1);
    assert_string_equal(r.imports[0].module, "__builtin__");
    assert_import(&r.imports[0], "builtins.set", 1, 1);
    lite_result_release(&r);
    SAME_LIT(p, 0);
}

/* ---- what the full interpreter comments on: the fast path gives up ---- */

static void gives_up_where_the_full_interpreter_reports(void **state)
{
    (void)state;
    static const struct {
        const char *pickle;
        size_t len;
    } cases[] = {
#define CASE(lit) {lit, sizeof(lit) - 1}
        CASE("cos\nsystem\n(S'id'\ntR."),                       /* off the allowlist */
        CASE("(X\003\000\000\000fooK\001tQ."),                  /* not a storage id */
        CASE("(X\007\000\000\000storageK\001tP0\n."),           /* PERSID */
        CASE("ccollections\nOrderedDict\n}b."),                 /* BUILD on a name */
        CASE("ccollections\nOrderedDict\n]R."),                 /* REDUCE on a list */
        CASE("])R."),                                           /* indirect call */
        CASE("ccollections\nOrderedDict\nK\001a."),             /* APPEND on a name */
        CASE("ccopyreg\nadd_extension\n(S'a'\nS'b'\nK\001tR."), /* registers EXT */
        CASE("ccollections\000\nOrderedDict\n."),               /* NUL in a name */
        CASE("\200\004\214\013collections\214\013OrderedDict\223."),
        CASE("ccollections\nOrderedDict\n)(tR."),   /* REDUCE wants 2 */
        CASE("ccollections\nOrderedDict\n)}\201."), /* NEWOBJ on a dict */
        CASE("ccollections\nOrderedDict\n)]\222."), /* NEWOBJ_EX kwargs */
        CASE("(K\001tQK\001a."),                    /* APPEND on a tuple */
        CASE("ccollections\nOrderedDict\n)RQ."),    /* BINPERSID on a call */
#undef CASE
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lite_result r;
        if (lite_on(cases[i].pickle, cases[i].len, 0, NULL, &r))
            fail_msg("case %zu took the fast path", i);
        assert_true(same_reports(NULL, cases[i].pickle, cases[i].len, 0));
    }
}

/* A storage id is one the full interpreter keeps "storage" of: max-string
 * below 7 cuts it, max-items keeps the first item. */
static void storage_ids_follow_the_limits(void **state)
{
    (void)state;
    static const char p[] = "(X\007\000\000\000storageK\001tQ.";
    lite_result r;
    assert_int_equal(LITE_LIT(p, 0, NULL, &r), 1);
    lite_result_release(&r);
    assert_int_equal(LITE_LIT(p, 1, NULL, &r), 0);
    SAME_LIT(p, 0);
    SAME_LIT(p, 1);
}

static size_t dummy_after_build(void *hctx, scan_ctx *ctx, const char *member,
                                const struct value *obj, const struct value *st, const uint8_t *buf,
                                size_t len, size_t pos)
{
    (void)hctx, (void)ctx, (void)member, (void)obj, (void)st, (void)buf, (void)len, (void)pos;
    return 0;
}

static int wants_all(const char *callee)
{
    (void)callee;
    return 1;
}

static int wants_none(const char *callee)
{
    (void)callee;
    return 0;
}

/* A BUILD a reader hook may act on is the full interpreter's. */
static void builds_a_hook_wants_give_up(void **state)
{
    (void)state;
    static const char p[] = "ccollections\nOrderedDict\n)R}b.";
    const pickle_hooks all = {.after_build = dummy_after_build, .build_wanted = wants_all};
    const pickle_hooks none = {.after_build = dummy_after_build, .build_wanted = wants_none};
    const pickle_hooks unknown = {.after_build = dummy_after_build};
    lite_result r;
    assert_int_equal(LITE_LIT(p, 0, &all, &r), 0);
    assert_int_equal(LITE_LIT(p, 0, &unknown, &r), 0);
    assert_int_equal(LITE_LIT(p, 0, &none, &r), 1);
    lite_result_release(&r);
    assert_int_equal(LITE_LIT(p, 0, NULL, &r), 1);
    lite_result_release(&r);
    static const char wrapper[] = "cjoblib.numpy_pickle\nNumpyArrayWrapper\n)R}b.";
    joblib_reading jr;
    joblib_reading_init(&jr, 0);
    assert_int_equal(LITE_LIT(wrapper, 0, &jr.hooks, &r), 0);
    joblib_reading_release(&jr);
}

/* The first reason weights_only refuses is the one reported. */
static void first_weights_only_reason_wins(void **state)
{
    (void)state;
    static const char import_first[] = "ccollections\ndefaultdict\n)R0N.";
    static const char opcode_first[] = "N0ccollections\ndefaultdict\n)R.";
    lite_result r;
    assert_int_equal(LITE_LIT(import_first, 0, NULL, &r), 1);
    assert_string_equal(r.weights_only_reason,
                        "imports a name outside torch's weights_only allowlist");
    lite_result_release(&r);
    assert_int_equal(LITE_LIT(opcode_first, 0, NULL, &r), 1);
    assert_string_equal(r.weights_only_reason, "uses an opcode weights_only refuses");
    lite_result_release(&r);
    SAME_LIT(import_first, 0);
    SAME_LIT(opcode_first, 0);
}

/* A memo index the interpreter has no memory for (16-byte slots past the
 * 64 MiB limit) is 42 MB of one-byte slots to the fast path: it walks the
 * pickle to its end where the interpreter stops at the limit. */
static void fast_path_outlasts_the_interpreter_memory(void **state)
{
    (void)state;
    static const char p[] = "\200\002K\001r\031\056\200\002.";
    ckpt_scanner *s = make_scanner(0, 0);
    assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMORY, 64u << 20), CKPT_OK);
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_scan_mem(s, p, sizeof(p) - 1, "x", &r), CKPT_OK);
    assert_true(interpreter_out_of_memory(r));
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    s->no_fast_path = 0;
    assert_int_equal(ckpt_scan_mem(s, p, sizeof(p) - 1, "x", &r), CKPT_OK);
    assert_int_equal(ckpt_report_finding_count(r), 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    ckpt_scanner_free(s);
}

/* Imports counted across pickles of one file add up the same way. */
static void imports_add_up_across_pickles(void **state)
{
    (void)state;
    SAME_LIT("ccollections\nOrderedDict\n)R.ccollections\nOrderedDict\n)R.", 0);
    SAME_LIT("ccollections\nOrderedDict\n)R.cos\nsystem\n.ccollections\nOrderedDict\n.", 0);
}

/* ---- every file of the given trees ---- */

static void compare_tree(const char *dir, size_t *files, size_t *differ)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            compare_tree(path, files, differ);
        } else if (S_ISREG(st.st_mode) && st.st_size <= (64 << 20)) {
            for (int tight = 0; tight < 2; tight++)
                *differ += !same_reports(path, NULL, 0, tight);
            (*files)++;
        }
    }
    closedir(d);
}

static void every_file_reports_the_same(void **state)
{
    (void)state;
    size_t files = 0, differ = 0;
    for (int i = 0; i < ndirs; i++)
        compare_tree(dirs[i], &files, &differ);
    fprintf(stderr, "%zu files compared, %zu readings differ\n", files, differ);
    assert_true(files >= (size_t)ndirs);
    assert_int_equal(differ, 0);
}

int main(int argc, char **argv)
{
    dirs = calloc((size_t)argc, sizeof(*dirs));
    if (!dirs)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--optional") == 0 && i + 1 < argc) {
            struct stat st;
            if (stat(argv[++i], &st) != 0 || !S_ISDIR(st.st_mode)) {
                printf("fastpath: %s absent: comparing the fixtures and the fuzz corpus only\n",
                       argv[i]);
                continue;
            }
        }
        dirs[ndirs++] = argv[i];
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(torch_state_dict_takes_the_fast_path),
        cmocka_unit_test(python2_names_are_mapped),
        cmocka_unit_test(gives_up_where_the_full_interpreter_reports),
        cmocka_unit_test(storage_ids_follow_the_limits),
        cmocka_unit_test(builds_a_hook_wants_give_up),
        cmocka_unit_test(first_weights_only_reason_wins),
        cmocka_unit_test(imports_add_up_across_pickles),
        cmocka_unit_test(fast_path_outlasts_the_interpreter_memory),
        cmocka_unit_test(every_file_reports_the_same),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(dirs);
    return rc;
}
