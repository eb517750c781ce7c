/* SPDX-License-Identifier: Apache-2.0 */
/* Call-throughs graded by what they reach and allowlisted callables judged
 * with their arguments, on hand-assembled pickles: exact verdicts and
 * finding codes, benign shapes and the attacks through each relaxation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define P2      "\x80\x02"
#define G(m, n) "c" m "\n" n "\n"
#define GETATTR G("builtins", "getattr")
#define STR     G("builtins", "str")
#define U5(a)   "X\x05\x00\x00\x00" a /* BINUNICODE of 5 bytes */
#define U9(a)   "X\x09\x00\x00\x00" a

/* Scans, then checks the verdict and that `codes` (terminated by -1) are
 * exactly the codes found above info. */
static void expect(const char *data, size_t len, ckpt_verdict want, ...)
{
    ckpt_report *r = scan_bytes(NULL, data, len);
    int ok = ckpt_report_verdict(r) == want;
    unsigned long long wanted = 0, got = 0;
    va_list ap;
    va_start(ap, want);
    for (int c = va_arg(ap, int); c >= 0; c = va_arg(ap, int))
        wanted |= 1ull << c;
    va_end(ap);
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        if (f.severity != CKPT_SEV_INFO)
            got |= 1ull << f.code;
    }
    if (!ok || got != wanted)
        dump_report(r);
    ckpt_report_free(r);
    assert_true(ok);
    assert_int_equal(got, wanted);
}

#define EXPECT(lit, v, ...) expect((lit), sizeof(lit) - 1, (v), __VA_ARGS__, -1)

static void test_getattr(void **state)
{
    (void)state;
    /* str.lower: the dotted name builtins.str.lower is allowlisted */
    EXPECT(P2 GETATTR STR U5("lower") "\x86R.", CKPT_VERDICT_SAFE, -1);
    /* a dunder, a computed name, a constant owner, an unused import */
    EXPECT(P2 GETATTR STR U9("__class__") "\x86R.", CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE);
    EXPECT(P2 GETATTR STR STR U5("lower") "\x85R\x86R.", CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE);
    EXPECT(P2 GETATTR U5("lower") U5("upper") "\x86R.", CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE);
    EXPECT(P2 "]" GETATTR "a.", CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE);
    /* memoised, one graded call, then DUP'd into a list: still reported */
    EXPECT(P2 GETATTR "q\x00" STR U5("lower") "\x86R0]h\x00"
                                              "a.",
           CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE);
}

static void test_other_call_throughs(void **state)
{
    (void)state;
    EXPECT(P2 G("functools", "partial") STR "\x85R.", CKPT_VERDICT_SAFE, -1);
    EXPECT(P2 G("functools", "partial") G("os", "system") "\x85R.", CKPT_VERDICT_DANGEROUS,
           CKPT_F_COMMAND);
    EXPECT(P2 G("functools", "partial") STR "\x85R)R.", CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE,
           CKPT_F_INDIRECT_CALL);
    EXPECT(P2 G("copyreg", "_reconstructor") G("collections", "OrderedDict")
               G("builtins", "object") "N\x87R.",
           CKPT_VERDICT_SAFE, -1);
    EXPECT(P2 G("copyreg", "_reconstructor") G("collections", "OrderedDict")
               G("mylib", "Base") "N\x87R.",
           CKPT_VERDICT_DANGEROUS, CKPT_F_UNKNOWN_IMPORT, CKPT_F_TRAMPOLINE);
    EXPECT(P2 G("_operator", "getitem") G("typing", "List") G("builtins", "int") "\x86R.",
           CKPT_VERDICT_SAFE, -1);
    EXPECT(P2 G("_operator", "getitem") G("collections", "OrderedDict") ")R" U5("lower") "\x86R.",
           CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE);
    EXPECT(P2 G("torch.storage", "_load_from_bytes") "C\x03"
                                                     "abc\x85R.",
           CKPT_VERDICT_DANGEROUS, CKPT_F_NESTED_LOAD);
}

static void test_argument_checks(void **state)
{
    (void)state;
    EXPECT(P2 G("numpy.random._pickle", "__randomstate_ctor") "X\x07\x00\x00\x00MT19937\x85R.",
           CKPT_VERDICT_SAFE, -1);
    EXPECT(P2 G("numpy.random._pickle", "__bit_generator_ctor") U5("Evil!") "\x85R.",
           CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    EXPECT("\x80\x04" G("torch.storage",
                        "UntypedStorage") ")}" U9("allocator") "J\x00\x10\x00\x00s\x92.",
           CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    EXPECT(P2 G("torch", "FloatStorage") "\x8a\x06\x00\x00\x00\x00\x00\x7f\x85R.",
           CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    EXPECT(P2 G("torch", "FloatStorage") "K\x10\x85R.", CKPT_VERDICT_SAFE, -1);
    EXPECT(P2 G("torch.jit._pickle", "build_intlist") "]\x85R.", CKPT_VERDICT_SAFE, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getattr),
        cmocka_unit_test(test_other_call_throughs),
        cmocka_unit_test(test_argument_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
