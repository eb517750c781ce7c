/* SPDX-License-Identifier: Apache-2.0 */
/* The inspection API on hand-made pickles: key paths, dtype, shape, strides,
 * storage, Parameters, shared storages, nn.Module levels, tied weights, the
 * top-level summary, import usage, and the bounds of the walk (depth,
 * shared containers). Every pickle is written opcode by opcode; nothing is
 * unpickled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

/* ---- pickle pieces (protocol 2); hex escapes end their literal ---- */

#define PROTO2     "\x80\x02"
#define STR1(s)    "X\x01\x00\x00\x00" s
#define STR3(s)    "X\x03\x00\x00\x00" s
#define ODICT_CALL "ccollections\nOrderedDict\n)R"
/* persistent id ('storage', FloatStorage, KEY, 'cpu', NUMEL): 1-char key */
#define STORAGE(key, numel)                                                                        \
    "(X\x07\x00\x00\x00"                                                                           \
    "storage"                                                                                      \
    "ctorch\nFloatStorage\n" STR1(key) STR3("cpu") "K" numel "tQ"
/* _rebuild_tensor_v2(storage, 0, (2, 3), (3, 1), False, OrderedDict()) */
#define TENSOR23(key)                                                                              \
    "ctorch._utils\n_rebuild_tensor_v2\n(" STORAGE(key, "\x06") "K\x00"                            \
                                                                "K\x02K\x03\x86"                   \
                                                                "K\x03K\x01\x86"                   \
                                                                "\x89" ODICT_CALL "tR"
/* the same tensor seen as a (3,) view at offset 3 of storage KEY */
#define VIEW3(key)                                                                                 \
    "ctorch._utils\n_rebuild_tensor_v2\n(" STORAGE(key, "\x06") "K\x03"                            \
                                                                "K\x03\x85"                        \
                                                                "K\x01\x85"                        \
                                                                "\x89" ODICT_CALL "tR"

static ckpt_report *inspect_lit(const char *data, size_t len)
{
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_inspect_mem(s, data, len, "t.pkl", &r), CKPT_OK);
    assert_non_null(r);
    assert_true(ckpt_report_inspected(r));
    ckpt_scanner_free(s);
    return r;
}

#define INSPECT(lit) inspect_lit((lit), sizeof(lit) - 1)

static ckpt_tensor tensor_at(const ckpt_report *r, size_t i)
{
    ckpt_tensor t;
    assert_int_equal(ckpt_report_tensor(r, i, &t), CKPT_OK);
    return t;
}

static void test_one_tensor(void **state)
{
    (void)state;
    ckpt_report *r = INSPECT(PROTO2 "}" STR1("w") TENSOR23("0") "s.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    assert_int_equal(ckpt_report_tensor_count(r), 1);
    ckpt_tensor t = tensor_at(r, 0);
    assert_string_equal(t.path, "w");
    assert_string_equal(t.dtype, "float32");
    assert_string_equal(t.rebuild, "torch._utils._rebuild_tensor_v2");
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[0], 2);
    assert_int_equal(t.shape[1], 3);
    assert_true(t.has_stride);
    assert_int_equal(t.stride[0], 3);
    assert_int_equal(t.stride[1], 1);
    assert_string_equal(t.storage_key, "0");
    assert_string_equal(t.device, "cpu");
    assert_int_equal(t.storage_offset, 0);
    assert_int_equal(t.numel, 6);
    assert_int_equal(t.nbytes, 24);
    assert_int_equal(t.storage_numel, 6);
    assert_int_equal(t.record_bytes, -1); /* a plain pickle has no records */
    assert_int_equal(t.storage_users, 1);
    assert_false(t.is_parameter);
    assert_string_equal(t.problem, "");
    /* the summary and where each import is used */
    assert_int_equal(ckpt_report_entry_count(r), 1);
    ckpt_entry e;
    assert_int_equal(ckpt_report_entry(r, 0, &e), CKPT_OK);
    assert_string_equal(e.key, "w");
    assert_string_equal(e.kind, "tensor");
    assert_string_equal(e.summary, "float32[2, 3]");
    assert_int_equal(e.tensors, 1);
    assert_int_equal(e.bytes, 24);
    for (size_t i = 0; i < ckpt_report_import_count(r); i++) {
        ckpt_import im;
        ckpt_report_import(r, i, &im);
        if (strcmp(im.resolved, "torch._utils._rebuild_tensor_v2") == 0 ||
            strcmp(im.resolved, "torch.FloatStorage") == 0)
            assert_string_equal(ckpt_report_import_usage(r, i), "w");
    }
    ckpt_dtype_total d;
    assert_int_equal(ckpt_report_dtype_count(r), 1);
    assert_int_equal(ckpt_report_dtype_total(r, 0, &d), CKPT_OK);
    assert_string_equal(d.dtype, "float32");
    assert_int_equal(d.elements, 6);
    ckpt_torch_info info;
    ckpt_report_torch_info(r, &info);
    assert_int_equal(info.protocol, 2);
    assert_string_equal(info.layout, "");
    assert_false(info.walk_incomplete);
    ckpt_report_free(r);
}

static void test_parameter_and_views(void **state)
{
    (void)state;
    /* {'p': Parameter(tensor, True), 'v': view of the same storage} */
    ckpt_report *r = INSPECT(PROTO2 "}(" STR1("p") "ctorch._utils\n_rebuild_parameter\n(" TENSOR23(
        "0") "\x88" ODICT_CALL "tR" STR1("v") VIEW3("0") "u.");
    assert_int_equal(ckpt_report_tensor_count(r), 2);
    ckpt_tensor p = tensor_at(r, 0), v = tensor_at(r, 1);
    assert_string_equal(p.path, "p");
    assert_true(p.is_parameter);
    assert_true(p.requires_grad);
    assert_string_equal(v.path, "v");
    assert_false(v.is_parameter);
    assert_int_equal(v.storage_offset, 3);
    assert_int_equal(p.storage_users, 2);
    assert_int_equal(v.storage_users, 2);
    ckpt_report_free(r);
}

static void test_module_levels_and_tied_weights(void **state)
{
    (void)state;
    /* {'enc': Lin() with state {'_parameters': OrderedDict(weight=T)},
     *  'dec_weight': the same T again (memo 1)} */
    ckpt_report *r =
        INSPECT(PROTO2 "}(" STR3("enc") "cmymod\nLin\n)\x81}X\x0b\x00\x00\x00"
                                        "_parameters" ODICT_CALL "X\x06\x00\x00\x00"
                                        "weight" TENSOR23("0") "q\x01ssbX\x0a\x00\x00\x00"
                                                               "dec_weight"
                                                               "h\x01u.");
    assert_int_equal(ckpt_report_tensor_count(r), 2);
    assert_string_equal(tensor_at(r, 0).path, "enc.weight");
    assert_string_equal(tensor_at(r, 1).path, "dec_weight");
    /* one tensor object, listed under both names, as state_dict() does */
    assert_int_equal(tensor_at(r, 0).offset, tensor_at(r, 1).offset);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS); /* mymod.Lin */
    ckpt_report_free(r);
}

static void test_optimizer_summary(void **state)
{
    (void)state;
    /* {'epoch': 3, 'lr': 0.5, 'opt': {'state': {0: {'step': 7}}, 'param_groups': [{'lr': 0.5}]}} */
    ckpt_report *r = INSPECT(PROTO2 "}(X\x05\x00\x00\x00"
                                    "epochK\x03" STR1("x") "G?\xe0\x00\x00\x00\x00\x00\x00"
                                                           "X\x03\x00\x00\x00"
                                                           "opt}(X\x05\x00\x00\x00"
                                                           "state}K\x00}X\x04\x00\x00\x00"
                                                           "stepK\x07ssX\x0c\x00\x00\x00"
                                                           "param_groups]}X\x02\x00\x00\x00"
                                                           "lrG?\xe0\x00\x00\x00\x00\x00\x00sauu.");
    assert_int_equal(ckpt_report_entry_count(r), 3);
    ckpt_entry e;
    ckpt_report_entry(r, 0, &e);
    assert_string_equal(e.key, "epoch");
    assert_string_equal(e.kind, "int");
    assert_string_equal(e.summary, "3");
    ckpt_report_entry(r, 1, &e);
    assert_string_equal(e.kind, "float");
    assert_string_equal(e.summary, "0.5");
    ckpt_report_entry(r, 2, &e);
    assert_string_equal(e.kind, "optimizer");
    assert_string_equal(e.summary, "optimizer: 1 parameter state ('step'), 1 param group (lr=0.5)");
    ckpt_report_free(r);
}

/* 300 nested lists with a tensor at the bottom: the walk stops at 256
 * levels and says so; the scan itself is unaffected. */
static void test_depth_bound(void **state)
{
    (void)state;
    static const char head[] = PROTO2, tail[] = ".";
    static const char leaf[] = TENSOR23("0");
    char buf[4096];
    size_t n = 0;
    memcpy(buf + n, head, sizeof(head) - 1);
    n += sizeof(head) - 1;
    for (int i = 0; i < 300; i++)
        buf[n++] = ']';
    memcpy(buf + n, leaf, sizeof(leaf) - 1);
    n += sizeof(leaf) - 1;
    for (int i = 0; i < 300; i++)
        buf[n++] = 'a';
    memcpy(buf + n, tail, sizeof(tail) - 1);
    n += sizeof(tail) - 1;
    ckpt_report *r = inspect_lit(buf, n);
    ckpt_torch_info info;
    ckpt_report_torch_info(r, &info);
    assert_true(info.walk_incomplete);
    assert_int_equal(ckpt_report_tensor_count(r), 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
}

/* A list holding itself 2^40 times over (each level: [x, x]): every
 * container is walked once, so this is instant. */
static void test_shared_containers_walked_once(void **state)
{
    (void)state;
    char buf[8192];
    size_t n = 0;
    static const char leaf[] = PROTO2 "]" TENSOR23("0") "a";
    memcpy(buf, leaf, sizeof(leaf) - 1);
    n = sizeof(leaf) - 1;
    for (int i = 0; i < 40; i++) {
        /* memoize, then a new list holding the previous one twice */
        static const char level[] = "q\x00(h\x00h\x00l";
        memcpy(buf + n, level, sizeof(level) - 1);
        n += sizeof(level) - 1;
    }
    buf[n++] = '.';
    ckpt_report *r = inspect_lit(buf, n);
    assert_int_equal(ckpt_report_tensor_count(r), 1);
    assert_string_equal(tensor_at(r, 0).path, "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                                              "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0");
    ckpt_report_free(r);
}

/* BUILD state (state, slotstate): each part's keys name its tensors. */
static void test_slot_state_paths(void **state)
{
    (void)state;
    ckpt_report *r = INSPECT(PROTO2 "(" ODICT_CALL "}X\x08\x00\x00\x00"
                                    "abcdefgh" TENSOR23("0") "s" TENSOR23("1") "\x86"
                                                                               "bl.");
    assert_int_equal(ckpt_report_tensor_count(r), 2);
    assert_string_equal(tensor_at(r, 0).path, "0.abcdefgh");
    assert_string_equal(tensor_at(r, 1).path, "0");
    ckpt_report_free(r);
}

/* Keys that differ after a NUL byte stay distinct (NUL shown as \x00). */
static void test_nul_in_keys(void **state)
{
    (void)state;
    ckpt_report *r = INSPECT(PROTO2 "}(X\x03\x00\x00\x00"
                                    "w\0a" TENSOR23("0") "X\x03\x00\x00\x00"
                                                         "w\0b" TENSOR23("1") "u.");
    assert_int_equal(ckpt_report_tensor_count(r), 2);
    assert_string_equal(tensor_at(r, 0).path, "w\\x00a");
    assert_string_equal(tensor_at(r, 1).path, "w\\x00b");
    ckpt_report_free(r);
}

/* A state of a million nested (None, state) pairs: one level is unpacked,
 * the rest is walked with the depth bound; no recursion blowup. */
static void test_nested_slot_states(void **state)
{
    (void)state;
    enum { PAIRS = 1000000 };
    static const char head[] = PROTO2 "(" ODICT_CALL "}", tail[] = "bl.";
    size_t n = sizeof(head) - 1 + 2 * PAIRS + sizeof(tail) - 1;
    char *buf = malloc(n);
    assert_non_null(buf);
    memcpy(buf, head, sizeof(head) - 1);
    for (size_t i = 0; i < PAIRS; i++)
        memcpy(buf + sizeof(head) - 1 + 2 * i, "N\x86", 2);
    memcpy(buf + n - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    ckpt_report *r = inspect_lit(buf, n);
    ckpt_torch_info info;
    ckpt_report_torch_info(r, &info);
    assert_true(info.walk_incomplete);
    ckpt_report_free(r);
    free(buf);
}

static void test_plain_scan_has_no_inspection(void **state)
{
    (void)state;
    static const char p[] = PROTO2 "}" STR1("w") TENSOR23("0") "s.";
    ckpt_report *r = SCAN_LIT(NULL, p);
    assert_false(ckpt_report_inspected(r));
    assert_int_equal(ckpt_report_tensor_count(r), 0);
    assert_int_equal(ckpt_report_member_count(r), 0);
    assert_int_equal(ckpt_report_entry_count(r), 0);
    ckpt_tensor t;
    assert_int_equal(ckpt_report_tensor(r, 0, &t), CKPT_ERR_RANGE);
    assert_int_equal(ckpt_report_tensor(r, 0, NULL), CKPT_ERR_ARG);
    assert_string_equal(ckpt_report_import_usage(r, 0), "");
    ckpt_torch_info info;
    ckpt_report_torch_info(r, &info);
    assert_string_equal(info.layout, "");
    ckpt_report_free(r);
    assert_int_equal(ckpt_report_tensor_count(NULL), 0);
    assert_string_equal(ckpt_role_name((ckpt_role)99), "other");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_tensor),
        cmocka_unit_test(test_parameter_and_views),
        cmocka_unit_test(test_module_levels_and_tied_weights),
        cmocka_unit_test(test_optimizer_summary),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_shared_containers_walked_once),
        cmocka_unit_test(test_slot_state_paths),
        cmocka_unit_test(test_nul_in_keys),
        cmocka_unit_test(test_nested_slot_states),
        cmocka_unit_test(test_plain_scan_has_no_inspection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
