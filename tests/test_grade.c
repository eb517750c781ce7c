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
#define P4      "\x80\x04"
#define G(m, n) "c" m "\n" n "\n"
#define GETATTR G("builtins", "getattr")
#define STR     G("builtins", "str")
#define U5(a)   "X\x05\x00\x00\x00" a /* BINUNICODE of 5 bytes */
#define U9(a)   "X\x09\x00\x00\x00" a

/* Checks the verdict and that the codes in `ap` (terminated by -1) are
 * exactly the codes found above info; frees r. */
static void check(ckpt_report *r, ckpt_verdict want, va_list ap)
{
    int ok = ckpt_report_verdict(r) == want;
    unsigned long long wanted = 0, got = 0;
    for (int c = va_arg(ap, int); c >= 0; c = va_arg(ap, int))
        wanted |= 1ull << c;
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

static void expect(const char *data, size_t len, ckpt_verdict want, ...)
{
    va_list ap;
    va_start(ap, want);
    check(scan_bytes(NULL, data, len), want, ap);
    va_end(ap);
}

/* The same with a scanner holding `profile` (or NULL) and the policy text. */
static void expect_policy(const char *profile, const char *policy, const char *data, size_t len,
                          ckpt_verdict want, ...)
{
    ckpt_scanner *s = NULL;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    if (profile)
        assert_int_equal(ckpt_scanner_use_profile(s, profile), CKPT_OK);
    assert_int_equal(ckpt_scanner_add_policy(s, policy, strlen(policy), NULL), CKPT_OK);
    va_list ap;
    va_start(ap, want);
    check(scan_bytes(s, data, len), want, ap);
    va_end(ap);
    ckpt_scanner_free(s);
}

#define EXPECT(lit, v, ...) expect((lit), sizeof(lit) - 1, (v), __VA_ARGS__, -1)
#define EXPECT_POLICY(prof, pol, lit, v, ...)                                                      \
    expect_policy((prof), (pol), (lit), sizeof(lit) - 1, (v), __VA_ARGS__, -1)

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

/* Issue 12 root cause 8 beyond the AST analysis (tools/gen_aliases.py): C
 * callables with a capability and other names of denied callables, called;
 * a harmless unknown C function stays suspicious. */
static void test_c_callables_and_aliases(void **state)
{
    (void)state;
    EXPECT(P4 G("torch._ops", "ops.load_library") U5("x.so\0") "\x85R.", CKPT_VERDICT_DANGEROUS,
           CKPT_F_NATIVE);
    EXPECT(P4 G("numpy.core.multiarray", "fromfile") U5("/tmp/") "\x85R.", CKPT_VERDICT_DANGEROUS,
           CKPT_F_FILE_ACCESS);
    EXPECT(P2 G("builtins", "help") U5("xyzzy") "\x85R.", CKPT_VERDICT_DANGEROUS,
           CKPT_F_TRAMPOLINE);
    EXPECT(P2 G("torch._C", "CompilationUnit") U5("def f") "\x85R.", CKPT_VERDICT_DANGEROUS,
           CKPT_F_EXEC);
    EXPECT(P2 G("torch._C._distributed_c10d", "FileStore") U5("/tmp/") "\x85R.",
           CKPT_VERDICT_DANGEROUS, CKPT_F_FILE_WRITE);
    EXPECT(P2 G("torch._C", "_jit_pass_lower_all_tuples") ")R.", CKPT_VERDICT_SUSPICIOUS,
           CKPT_F_UNKNOWN_IMPORT);
    /* an import that runs a program: a package's __main__, antigravity */
    EXPECT(P2 G("unittest.__main__", "x") ".", CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT(P2 G("antigravity", "x") ".", CKPT_VERDICT_DANGEROUS, CKPT_F_COMMAND);
    EXPECT(P2 G("__main__", "Net") ")\x81.", CKPT_VERDICT_SUSPICIOUS, CKPT_F_UNKNOWN_IMPORT);
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

#define OBJECT    G("builtins", "object")
#define ODICT     G("collections", "OrderedDict")
#define RECON     G("copyreg", "_reconstructor")
#define PARTIAL   G("functools", "partial")
#define STR_LOWER P2 GETATTR STR U5("lower") "\x86R."
#define HTTP_OK   P2 GETATTR G("http", "HTTPStatus") "X\x02\x00\x00\x00OK\x86R."
#define ONECYCLE                                                                                   \
    P2 GETATTR G("torch.optim.lr_scheduler", "OneCycleLR") ")\x81"                                 \
                                                           "X\x0e\x00\x00\x00_annealing_cos\x86R."
#define LAYERNORM P2 PARTIAL G("torch.nn.modules.normalization", "LayerNorm") "\x85R."

/* A user deny of a call-through stands: it is never graded down by what the
 * call reaches (the import itself is the finding, in the user's category). */
static void test_user_deny_call_through(void **state)
{
    (void)state;
    EXPECT(STR_LOWER, CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY(NULL, "deny builtins.getattr", STR_LOWER, CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY(NULL, "deny builtins.getattr import-trampoline", STR_LOWER,
                  CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE);
    /* a broader user rule: the built-in entry is more specific and names the
     * code, the user rule still stops the grading (and denies str) */
    EXPECT_POLICY(NULL, "deny builtins.*", STR_LOWER, CKPT_VERDICT_DANGEROUS, CKPT_F_TRAMPOLINE,
                  CKPT_F_EXEC);
    EXPECT_POLICY(NULL, "deny builtins.getattr", HTTP_OK, CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    /* memoised and reused; imported twice (the second import reuses the
     * first one's record) */
    EXPECT_POLICY(NULL, "deny builtins.getattr network",
                  P2 GETATTR "q\x00" STR U5("lower") "\x86R0h\x00" STR U5("upper") "\x86R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_NETWORK);
    EXPECT_POLICY(NULL, "deny builtins.getattr network",
                  P2 GETATTR STR U5("lower") "\x86R0" GETATTR STR U5("upper") "\x86R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_NETWORK);
    EXPECT(P2 PARTIAL STR "\x85R.", CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY(NULL, "deny functools.partial", P2 PARTIAL STR "\x85R.", CKPT_VERDICT_DANGEROUS,
                  CKPT_F_EXEC);
    /* the alias: _functools.partial is functools.partial */
    EXPECT_POLICY(NULL, "deny functools.partial", P2 G("_functools", "partial") STR "\x85R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY(NULL, "deny copyreg._reconstructor", P2 RECON ODICT OBJECT "N\x87R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY(NULL, "deny operator.getitem file-access",
                  P2 G("_operator", "getitem") G("typing", "List") G("builtins", "int") "\x86R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_FILE_ACCESS);
    EXPECT_POLICY(
        NULL, "deny dill._dill._create_array",
        P2 G("dill._dill", "_create_array") "(" G("numpy.core.multiarray", "_reconstruct") ")NNtR.",
        CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    /* an unrelated user deny changes nothing */
    EXPECT_POLICY(NULL, "deny mylib.*", STR_LOWER, CKPT_VERDICT_SAFE, -1);
}

/* A user deny of what a call-through reaches applies: the getattr target,
 * the partial's function, the reconstructed class and its base, the bound
 * method's class and the method, a typing alias, dill's array function. */
static void test_user_deny_target(void **state)
{
    (void)state;
    EXPECT_POLICY(NULL, "deny builtins.str.lower", STR_LOWER, CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY(NULL, "deny http.HTTPStatus.OK command", HTTP_OK, CKPT_VERDICT_DANGEROUS,
                  CKPT_F_COMMAND);
    EXPECT_POLICY(NULL, "deny http.HTTPStatus", HTTP_OK, CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT(HTTP_OK, CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("ml", "allow mylib.x", ONECYCLE, CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("ml", "deny torch.optim.lr_scheduler.OneCycleLR._annealing_cos", ONECYCLE,
                  CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY("ml", "deny torch.optim.lr_scheduler.OneCycleLR", ONECYCLE,
                  CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY("ml", "allow mylib.x", LAYERNORM, CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("ml", "deny torch.nn.modules.normalization.*", LAYERNORM, CKPT_VERDICT_DANGEROUS,
                  CKPT_F_EXEC);
    EXPECT_POLICY(NULL, "deny collections.OrderedDict", P2 RECON ODICT OBJECT "N\x87R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY(NULL, "deny builtins.object", P2 RECON ODICT OBJECT "N\x87R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY(NULL, "deny typing.List",
                  P2 G("_operator", "getitem") G("typing", "List") G("builtins", "int") "\x86R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
    EXPECT_POLICY(
        NULL, "deny numpy.core.multiarray._reconstruct",
        P2 G("dill._dill", "_create_array") "(" G("numpy.core.multiarray", "_reconstruct") ")NNtR.",
        CKPT_VERDICT_DANGEROUS, CKPT_F_EXEC);
}

#define RESNET G("torchvision.models.resnet", "ResNet")
#define NS     G("argparse", "Namespace")
#define PPATH  G("pathlib", "PosixPath")
#define X1     "X\x01\x00\x00\x00"

/* Profile entries judged by how real files call them: NEWOBJ-only classes,
 * data-only calls, class-first helpers, pathlib parts. */
static void test_profile_call_shapes(void **state)
{
    (void)state;
    const char *ok = "allow mylib.x";
    /* torchvision: a model class is rebuilt by NEWOBJ; a REDUCE runs __init__ */
    EXPECT_POLICY("torchvision", ok, P2 RESNET ")\x81.", CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("torchvision", ok,
                  P2 RESNET G("torchvision.models.resnet", "BasicBlock") "\x85R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    EXPECT_POLICY("torchvision", ok, P2 RESNET ")R.", CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    /* an enum class called with its value (Python <= 3.10), not with a name */
    EXPECT_POLICY("torchvision", ok,
                  P2 G("torchvision.transforms.functional", "InterpolationMode")
                      U5("hello") "\x85R.",
                  CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("torchvision", ok,
                  P2 G("torchvision.transforms.functional", "InterpolationMode") STR "\x85R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    /* lightning: Namespace by NEWOBJ (+ BUILD), never REDUCE; paths from str */
    EXPECT_POLICY("lightning", ok, P2 NS ")\x81}" U5("lr123") "K\x01sb.", CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("lightning", ok, P2 NS ")R.", CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    EXPECT_POLICY("lightning", ok, P2 PPATH X1 "/" U5("data1") "\x86R.", CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("lightning", ok, P2 PPATH PPATH X1 "/\x85R\x85R.", CKPT_VERDICT_DANGEROUS,
                  CKPT_F_UNSAFE_ARGS);
    EXPECT_POLICY("lightning", ok, P2 PPATH "K\x05\x85R.", CKPT_VERDICT_DANGEROUS,
                  CKPT_F_UNSAFE_ARGS);
    /* transformers: the dataclass by NEWOBJ; its enums by value */
    EXPECT_POLICY("transformers", ok,
                  P2 G("transformers.training_args", "TrainingArguments") ")\x81.",
                  CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("transformers", ok, P2 G("transformers.training_args", "TrainingArguments") ")R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    EXPECT_POLICY("transformers", ok, P2 G("accelerate.state", "PartialState") ")R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    EXPECT_POLICY("transformers", ok,
                  P2 G("transformers.trainer_utils", "IntervalStrategy") U5("steps") "\x85R.",
                  CKPT_VERDICT_SAFE, -1);
    /* sklearn: newObj(cls) rebuilds an allowlisted class only; Tree gets data */
    EXPECT_POLICY("sklearn", ok,
                  P2 G("sklearn.neighbors._kd_tree", "newObj")
                      G("sklearn.neighbors._kd_tree", "KDTree") "\x85R.",
                  CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("sklearn", ok,
                  P2 G("sklearn.neighbors._kd_tree", "newObj") G("mylib", "y") "\x85R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_UNKNOWN_IMPORT, CKPT_F_UNSAFE_ARGS);
    EXPECT_POLICY("sklearn", ok, P2 G("sklearn.neighbors._kd_tree", "newObj") "K\x01\x85R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    EXPECT_POLICY("sklearn", ok,
                  P2 G("sklearn.tree._tree", "Tree") "K\x04]K\x02"
                                                     "aK\x01\x87R.",
                  CKPT_VERDICT_SAFE, -1);
    EXPECT_POLICY("sklearn", ok, P2 G("sklearn.tree._tree", "Tree") "K\x04]" STR "aK\x01\x87R.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
    /* pandas: a partial handed to a REDUCE-called helper */
    EXPECT_POLICY("pandas", ok,
                  P2 G("pandas._libs.internals", "_unpickle_block") "(" PARTIAL STR "\x85R"
                                                                    "K\x00K\x01tR.",
                  CKPT_VERDICT_DANGEROUS, CKPT_F_UNSAFE_ARGS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getattr),
        cmocka_unit_test(test_other_call_throughs),
        cmocka_unit_test(test_c_callables_and_aliases),
        cmocka_unit_test(test_argument_checks),
        cmocka_unit_test(test_user_deny_call_through),
        cmocka_unit_test(test_user_deny_target),
        cmocka_unit_test(test_profile_call_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
