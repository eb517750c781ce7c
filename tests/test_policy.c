/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the import policy: tables, matching rules, policy text, compat map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "policy_internal.h"
#include "testutil.h"
#include "policy_tables.h"

typedef struct expect {
    const char *module, *name;
    int code; /* a denylist code, CKPT_F_UNKNOWN_IMPORT, or ALLOWED */
} expect;

#define ALLOWED (-1)

static int setup(void **state)
{
    *state = policy_new();
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    policy_free(*state);
    return 0;
}

static const char *code_str(int code)
{
    static const char *const names[] = {
#define X(id, name, sev, text) name,
        CKPT_FINDING_LIST(X)
#undef X
    };
    return code == ALLOWED ? "allowed" : names[code];
}

/* Classifies and checks, naming the case on failure. */
static void check(const policy *p, const char *module, const char *name, int want)
{
    name_class c;
    policy_classify(p, module, name, &c);
    int got = c.allowed ? ALLOWED : (int)c.code;
    if (got != want)
        fail_msg("(%s, %.60s): got %s (%s), want %s", module, name, code_str(got),
                 c.rule ? c.rule : "?", code_str(want));
    assert_non_null(c.rule);
}

static void check_all(const policy *p, const expect *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check(p, e[i].module, e[i].name, e[i].code);
}

static void check_rule(const policy *p, const char *module, const char *name, const char *rule)
{
    name_class c;
    policy_classify(p, module, name, &c);
    assert_string_equal(c.rule, rule);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every example of ATTACKS.md section D, in its category. */
static void test_attacks_section_d(void **state)
{
    static const expect cases[] = {
        {"builtins", "eval", CKPT_F_EXEC},
        {"builtins", "exec", CKPT_F_EXEC},
        {"builtins", "compile", CKPT_F_EXEC},
        {"runpy", "_run_code", CKPT_F_EXEC},
        {"timeit", "timeit", CKPT_F_EXEC},
        {"cProfile", "run", CKPT_F_EXEC},
        {"profile", "Profile.run", CKPT_F_EXEC},
        {"trace", "Trace.run", CKPT_F_EXEC},
        {"bdb", "Bdb.run", CKPT_F_EXEC},
        {"pdb", "run", CKPT_F_EXEC},
        {"code", "InteractiveInterpreter.runsource", CKPT_F_EXEC},
        {"codeop", "compile_command", CKPT_F_EXEC},
        {"doctest", "debug_script", CKPT_F_EXEC},
        {"dataclasses", "_create_fn", CKPT_F_EXEC},
        {"typing", "get_type_hints", CKPT_F_EXEC},
        {"types", "CodeType", CKPT_F_EXEC},
        {"types", "FunctionType", CKPT_F_EXEC},
        {"marshal", "loads", CKPT_F_EXEC},
        {"numpy.testing._private.utils", "runstring", CKPT_F_EXEC},
        {"numpy.f2py", "compile", CKPT_F_EXEC},
        {"idlelib.pyshell", "ModifiedInterpreter", CKPT_F_EXEC},
        {"lib2to3.pgen2.pgen", "ParserGenerator", CKPT_F_EXEC},
        {"torch._dynamo.guards", "GuardBuilder", CKPT_F_EXEC},
        {"torch.jit.unsupported_tensor_ops", "execWrapper", CKPT_F_EXEC},
        {"torch.fx.experimental.symbolic_shapes", "ShapeEnv.evaluate_guards_expression",
         CKPT_F_EXEC},
        {"os", "system", CKPT_F_COMMAND},
        {"posix", "system", CKPT_F_COMMAND},
        {"nt", "system", CKPT_F_COMMAND},
        {"subprocess", "Popen", CKPT_F_COMMAND},
        {"_posixsubprocess", "fork_exec", CKPT_F_COMMAND},
        {"pty", "spawn", CKPT_F_COMMAND},
        {"multiprocessing.util", "spawnv_passfds", CKPT_F_COMMAND},
        {"distutils.spawn", "spawn", CKPT_F_COMMAND},
        {"pydoc", "pipepager", CKPT_F_COMMAND},
        {"imaplib", "IMAP4_stream", CKPT_F_COMMAND},
        {"uuid", "_get_command_stdout", CKPT_F_COMMAND},
        {"_osx_support", "_read_output", CKPT_F_COMMAND},
        {"_aix_support", "_read_cmd_output", CKPT_F_COMMAND},
        {"webbrowser", "open", CKPT_F_COMMAND},
        {"venv", "create", CKPT_F_COMMAND},
        {"pip", "main", CKPT_F_COMMAND},
        {"ensurepip", "bootstrap", CKPT_F_COMMAND},
        {"asyncio.unix_events", "_UnixSubprocessTransport", CKPT_F_COMMAND},
        {"torch.utils.collect_env", "run", CKPT_F_COMMAND},
        {"torch._inductor.codecache", "compile_file", CKPT_F_COMMAND},
        {"ctypes", "CDLL", CKPT_F_NATIVE},
        {"_ctypes", "dlopen", CKPT_F_NATIVE},
        {"numpy.ctypeslib", "load_library", CKPT_F_NATIVE},
        {"torch.ops", "load_library", CKPT_F_NATIVE},
        {"torch.utils.cpp_extension", "load_inline", CKPT_F_NATIVE},
        {"builtins", "__import__", CKPT_F_TRAMPOLINE},
        {"builtins", "getattr", CKPT_F_TRAMPOLINE},
        {"builtins", "setattr", CKPT_F_TRAMPOLINE},
        {"builtins", "delattr", CKPT_F_TRAMPOLINE},
        {"builtins", "vars", CKPT_F_TRAMPOLINE},
        {"builtins", "globals", CKPT_F_TRAMPOLINE},
        {"sys", "modules", CKPT_F_TRAMPOLINE},
        {"importlib", "import_module", CKPT_F_TRAMPOLINE},
        {"pkgutil", "resolve_name", CKPT_F_TRAMPOLINE},
        {"pydoc", "locate", CKPT_F_TRAMPOLINE},
        {"inspect", "getattr_static", CKPT_F_TRAMPOLINE},
        {"operator", "attrgetter", CKPT_F_TRAMPOLINE},
        {"operator", "itemgetter", CKPT_F_TRAMPOLINE},
        {"operator", "methodcaller", CKPT_F_TRAMPOLINE},
        {"operator", "call", CKPT_F_TRAMPOLINE},
        {"operator", "getitem", CKPT_F_TRAMPOLINE},
        {"functools", "partial", CKPT_F_TRAMPOLINE},
        {"functools", "reduce", CKPT_F_TRAMPOLINE},
        {"copyreg", "_reconstructor", CKPT_F_TRAMPOLINE},
        {"copyreg", "add_extension", CKPT_F_TRAMPOLINE},
        {"logging.config", "dictConfig", CKPT_F_TRAMPOLINE},
        {"string", "Formatter", CKPT_F_TRAMPOLINE},
        {"gc", "get_objects", CKPT_F_TRAMPOLINE},
        {"site", "addsitedir", CKPT_F_TRAMPOLINE},
        {"zipimport", "zipimporter", CKPT_F_TRAMPOLINE},
        {"pickle", "loads", CKPT_F_NESTED_LOAD},
        {"_pickle", "loads", CKPT_F_NESTED_LOAD},
        {"dill", "loads", CKPT_F_NESTED_LOAD},
        {"cloudpickle", "loads", CKPT_F_NESTED_LOAD},
        {"joblib", "load", CKPT_F_NESTED_LOAD},
        {"numpy", "load", CKPT_F_NESTED_LOAD},
        {"pandas", "read_pickle", CKPT_F_NESTED_LOAD},
        {"torch", "load", CKPT_F_NESTED_LOAD},
        {"torch.serialization", "load", CKPT_F_NESTED_LOAD},
        {"torch.storage", "_load_from_bytes", CKPT_F_NESTED_LOAD},
        {"torch.utils._config_module", "ConfigModule.load_config", CKPT_F_NESTED_LOAD},
        {"torch.utils.data.datapipes.utils.decoder", "basichandlers", CKPT_F_NESTED_LOAD},
        {"builtins", "open", CKPT_F_FILE_ACCESS},
        {"io", "open", CKPT_F_FILE_ACCESS},
        {"_io", "FileIO", CKPT_F_FILE_ACCESS},
        {"codecs", "open", CKPT_F_FILE_ACCESS},
        {"gzip", "open", CKPT_F_FILE_ACCESS},
        {"bz2", "open", CKPT_F_FILE_ACCESS},
        {"lzma", "open", CKPT_F_FILE_ACCESS},
        {"pathlib", "Path.write_text", CKPT_F_FILE_ACCESS},
        {"pathlib", "Path.touch", CKPT_F_FILE_ACCESS},
        {"shutil", "rmtree", CKPT_F_FILE_ACCESS},
        {"tarfile", "open", CKPT_F_FILE_ACCESS},
        {"zipfile", "ZipFile", CKPT_F_FILE_ACCESS},
        {"tempfile", "mkstemp", CKPT_F_FILE_ACCESS},
        {"sqlite3", "connect", CKPT_F_FILE_ACCESS},
        {"shelve", "open", CKPT_F_NESTED_LOAD},
        {"dbm", "open", CKPT_F_FILE_ACCESS},
        {"logging", "FileHandler", CKPT_F_FILE_ACCESS},
        {"logging.handlers", "RotatingFileHandler", CKPT_F_FILE_ACCESS},
        {"distutils.file_util", "write_file", CKPT_F_FILE_ACCESS},
        {"linecache", "getline", CKPT_F_FILE_ACCESS},
        {"fileinput", "input", CKPT_F_FILE_ACCESS},
        {"glob", "glob", CKPT_F_FILE_ACCESS},
        {"socket", "create_connection", CKPT_F_NETWORK},
        {"ssl", "wrap_socket", CKPT_F_NETWORK},
        {"http.client", "HTTPSConnection", CKPT_F_NETWORK},
        {"urllib.request", "urlopen", CKPT_F_NETWORK},
        {"requests.api", "get", CKPT_F_NETWORK},
        {"aiohttp.client", "ClientSession", CKPT_F_NETWORK},
        {"smtplib", "SMTP", CKPT_F_NETWORK},
        {"ftplib", "FTP", CKPT_F_NETWORK},
        {"poplib", "POP3", CKPT_F_NETWORK},
        {"nntplib", "NNTP", CKPT_F_NETWORK},
        {"telnetlib", "Telnet", CKPT_F_NETWORK},
        {"xmlrpc.client", "ServerProxy", CKPT_F_NETWORK},
        {"socketserver", "TCPServer", CKPT_F_NETWORK},
        {"atexit", "register", CKPT_F_DEFERRED},
        {"threading", "Thread", CKPT_F_DEFERRED},
        {"signal", "signal", CKPT_F_DEFERRED},
        {"picklescan.scanner", "scan_pickle_bytes", CKPT_F_SABOTAGE},
        {"modelscan", "ModelScan", CKPT_F_SABOTAGE},
        {"fickling", "load", CKPT_F_SABOTAGE},
        {"modelaudit", "core", CKPT_F_SABOTAGE},
    };
    check_all(*state, cases, N(cases));
}

/* ATTACKS.md section C: attribute walks and C-module aliases. */
static void test_attacks_section_c(void **state)
{
    static const expect cases[] = {
        {"pathlib", "os.system", CKPT_F_COMMAND},
        {"torch", "os.system", CKPT_F_COMMAND},
        {"builtins", "object.__getattribute__", CKPT_F_SHADOWED_DUNDER},
        {"builtins", "eval.__call__", CKPT_F_EXEC},
        {"posix", "system", CKPT_F_COMMAND},
        {"nt", "system", CKPT_F_COMMAND},
        {"_io", "FileIO", CKPT_F_FILE_ACCESS},
        {"_operator", "attrgetter", CKPT_F_TRAMPOLINE},
        {"_pickle", "loads", CKPT_F_NESTED_LOAD},
        {"_ctypes", "CFuncPtr", CKPT_F_NATIVE},
        {"_posixsubprocess", "fork_exec", CKPT_F_COMMAND},
        {"asyncio.unix_events", "_UnixSelectorEventLoop", CKPT_F_COMMAND},
        {"logging.config", "listen", CKPT_F_TRAMPOLINE},
        {"__builtin__", "eval", CKPT_F_EXEC},
        {"commands", "getoutput", CKPT_F_COMMAND},
        {"httplib", "HTTPSConnection", CKPT_F_NETWORK},
    };
    check_all(*state, cases, N(cases));
    check_rule(*state, "pathlib", "os.system", "deny os.*");
    check_rule(*state, "builtins", "eval.__call__", "deny builtins.eval");
}

/* The globals found in the shared corpus' malicious samples. */
static void test_corpus_globals(void **state)
{
    static const expect cases[] = {
        {"__builtin__", "apply", CKPT_F_TRAMPOLINE},
        {"builtins", "apply", CKPT_F_TRAMPOLINE},
        {"_codecs", "encode", ALLOWED},
        {"bdb", "Bdb", CKPT_F_EXEC},
        {"torch._inductor.codecache", "compile_file", CKPT_F_COMMAND},
        {"sys", "exit", CKPT_F_TRAMPOLINE},
        {"subprocess", "run", CKPT_F_COMMAND},
        {"http.client", "HTTPSConnection", CKPT_F_NETWORK},
        {"torch", "_utils", CKPT_F_UNKNOWN_IMPORT},
        {"_utils", "builtins", CKPT_F_UNKNOWN_IMPORT},
        {"torch", "LongStorage", ALLOWED},
    };
    check_all(*state, cases, N(cases));
}

static void test_default_allowlist(void **state)
{
    static const expect cases[] = {
        {"collections", "OrderedDict", ALLOWED},
        {"collections", "defaultdict", ALLOWED},
        {"torch._utils", "_rebuild_tensor_v2", ALLOWED},
        {"torch", "FloatStorage", ALLOWED},
        {"torch.cuda", "BFloat16Storage", ALLOWED},
        {"torch", "bfloat16", ALLOWED},
        {"torch", "half", ALLOWED},
        {"torch", "strided", ALLOWED},
        {"numpy.core.multiarray", "_reconstruct", ALLOWED},
        {"numpy._core.multiarray", "scalar", ALLOWED},
        {"numpy.dtypes", "Float32DType", ALLOWED},
        {"joblib.numpy_pickle", "NumpyArrayWrapper", ALLOWED},
        {"builtins", "slice", ALLOWED},
        /* exact match only: no prefixes, no attribute walks, no aliases */
        {"torch", "Size.x", CKPT_F_UNKNOWN_IMPORT},
        {"torch", "Siz", CKPT_F_UNKNOWN_IMPORT},
        {"torch.Size", "", CKPT_F_UNKNOWN_IMPORT},
        {"__builtin__", "set", CKPT_F_UNKNOWN_IMPORT},
        {"codecs", "encode", CKPT_F_UNKNOWN_IMPORT},
        {"builtins", "object", ALLOWED},
        {"__main__", "Net", CKPT_F_UNKNOWN_IMPORT},
        {"torch.nn.modules.linear", "Linear", CKPT_F_UNKNOWN_IMPORT},
        {"numpy", "float64", CKPT_F_UNKNOWN_IMPORT},
    };
    check_all(*state, cases, N(cases));
    check_rule(*state, "torch", "Size", "allow torch.Size");
    check_rule(*state, "torch", "Siz", "not on the allowlist");
}

/* A built-in pattern and its NUL fit with a byte to spare: none was cut to
 * POLICY_ENTRY_MAX. */
static int entry_fits(const policy_entry *e)
{
    return memchr(e->pattern, '\0', sizeof(e->pattern) - 1) != NULL;
}

/* No denylist entry may shadow a built-in allow entry. */
static void test_every_builtin_allow_entry_is_allowed(void **state)
{
    policy *p = *state;
    static const char *const names[] = {"ml",      "torchvision", "transformers", "lightning",
                                        "sklearn", "pandas",      "dill"};
    for (size_t i = 0; i < N(names); i++)
        assert_int_equal(policy_use_profile(p, names[i]), 0);
    assert_int_equal(policy_table_profile_count(), N(names) + 1);
    for (int prof = 0; prof < (int)policy_table_profile_count(); prof++) {
        size_t n;
        const policy_entry *e = policy_table_profile(prof, &n);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            char buf[POLICY_NAME_MAX + 8];
            assert_true(entry_fits(&e[i]));
            size_t len = strlen(e[i].pattern);
            memcpy(buf, e[i].pattern, len + 1);
            if (len > 2 && strcmp(buf + len - 2, ".*") == 0)
                memcpy(buf + len - 1, e[i].depth == 1 ? "x" : "x.Y", e[i].depth == 1 ? 2 : 4);
            char *dot = strrchr(buf, '.');
            *dot = '\0';
            check(p, buf, dot + 1, ALLOWED);
        }
    }
}

/* Each deny entry is reachable and lands in its own category (no entry is
 * hidden behind a more specific one with another code). */
static void test_every_deny_entry_denies(void **state)
{
    size_t n;
    const policy_entry *e = policy_table_deny(&n);
    assert_true(n > 200);
    for (size_t i = 0; i < n; i++) {
        char buf[POLICY_NAME_MAX + 8];
        assert_true(entry_fits(&e[i]));
        size_t len = strlen(e[i].pattern);
        memcpy(buf, e[i].pattern, len + 1);
        if (strcmp(buf + len - 2, ".*") == 0)
            memcpy(buf + len - 1, "zz_not_a_known_name", 20);
        char *dot = strrchr(buf, '.');
        *dot = '\0';
        check(*state, buf, dot + 1, (int)e[i].code);
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(e[i].pattern, e[j].pattern) == 0)
                fail_msg("duplicate deny entry %s", e[i].pattern);
    }
}

static void test_ml_profile(void **state)
{
    policy *p = *state;
    static const expect before[] = {
        {"torch.nn.modules.linear", "Linear", CKPT_F_UNKNOWN_IMPORT},
        {"torch.optim.adam", "Adam", CKPT_F_UNKNOWN_IMPORT},
        {"torch.nn.functional", "relu", CKPT_F_UNKNOWN_IMPORT},
    };
    static const expect after[] = {
        {"torch.nn.modules.linear", "Linear", ALLOWED},
        {"torch.nn.modules.container", "Sequential", ALLOWED},
        {"torch.optim.adam", "Adam", ALLOWED},
        {"torch.optim", "SGD", ALLOWED},
        {"torch.optim.lr_scheduler", "StepLR", ALLOWED},
        {"torch.nn.parameter", "UninitializedParameter", ALLOWED},
        {"torch.nn.functional", "relu", ALLOWED},
        {"torch.nn.functional", "log_softmax", ALLOWED},
        /* not in the profile */
        {"torch.nn.functional", "conv2d", CKPT_F_UNKNOWN_IMPORT},
        {"torch.nn.modules", "Linear", ALLOWED}, /* one level is within depth 2 */
        {"torch.nn.modules.linear", "Linear.forward", CKPT_F_UNKNOWN_IMPORT},
        {"torch.optim.sgd", "SGD.step", CKPT_F_UNKNOWN_IMPORT},
        {"torch.nn.utils.parametrize", "register_parametrization", CKPT_F_UNKNOWN_IMPORT},
        {"torch.nn.init", "normal_", CKPT_F_UNKNOWN_IMPORT},
        {"torch._C._nn", "gelu", CKPT_F_UNKNOWN_IMPORT},
        {"builtins", "getattr", CKPT_F_TRAMPOLINE},
        /* deny beats a prefix allow */
        {"torch.nn.modules.module", "register_module_forward_hook", CKPT_F_DEFERRED},
        {"torch.nn.modules.module", "_global_forward_hooks", CKPT_F_DEFERRED},
        {"torch.nn.modules.linear", "Linear.__init__", CKPT_F_SHADOWED_DUNDER},
        {"torch.nn.modules.linear", "__builtins__", CKPT_F_SHADOWED_DUNDER},
        {"torch.nn.modules.linear", "os.system", CKPT_F_COMMAND},
    };
    check_all(p, before, N(before));
    assert_int_equal(policy_use_profile(p, "ml"), 0);
    assert_int_equal(policy_use_profile(p, "ml"), 0);
    assert_int_equal(policy_use_profile(p, "default"), 0);
    check_all(p, after, N(after));
    check_rule(p, "torch.optim.adam", "Adam", "allow torch.optim.*");
    assert_int_equal(policy_use_profile(p, "mlx"), -1);
    assert_int_equal(policy_use_profile(p, ""), -1);
    assert_int_equal(policy_use_profile(p, NULL), -1);
}

static int add(policy *p, const char *text, size_t *line)
{
    return policy_add_text(p, text, strlen(text), line);
}

static void test_deny_beats_allow(void **state)
{
    policy *p = *state;
    size_t line = 99;
    assert_int_equal(add(p, "allow os.system\nallow builtins.*\nallow mylib.*\n", &line), 0);
    assert_int_equal(line, 0);
    check(p, "os", "system", CKPT_F_COMMAND);
    check(p, "builtins", "eval", CKPT_F_EXEC);
    check(p, "builtins", "print", ALLOWED);
    check(p, "mylib.models", "Net", ALLOWED);
    check(p, "mylib", "Net.cfg", ALLOWED);
    check(p, "mylib", "__builtins__", CKPT_F_SHADOWED_DUNDER);
    check(p, "mylib.__init__", "Net", CKPT_F_UNKNOWN_IMPORT);
    check(p, "mylibx", "Net", CKPT_F_UNKNOWN_IMPORT);
    /* `prefix.*` allows what is under the prefix, not the prefix itself */
    assert_int_equal(add(p, "allow other.models.*\n", NULL), 0);
    check(p, "other.models", "Net", ALLOWED);
    check(p, "other", "models", CKPT_F_UNKNOWN_IMPORT);
    check_rule(p, "builtins", "print", "allow builtins.* (policy)");
    check_rule(p, "os", "system", "deny os.*");
}

static void test_most_specific_wins(void **state)
{
    policy *p = *state;
    check(p, "imaplib", "IMAP4_stream", CKPT_F_COMMAND);
    check(p, "imaplib", "IMAP4_stream.open", CKPT_F_COMMAND);
    check(p, "imaplib", "IMAP4", CKPT_F_NETWORK);
    check(p, "torch._inductor.codecache", "compile_file", CKPT_F_COMMAND);
    check(p, "torch._inductor.codecache", "PyCodeCache", CKPT_F_EXEC);
    check(p, "pydoc", "pipepager", CKPT_F_COMMAND);
    check(p, "pydoc", "locate", CKPT_F_TRAMPOLINE);
    check_rule(p, "imaplib", "IMAP4_stream", "deny imaplib.IMAP4_stream");
    check_rule(p, "imaplib", "IMAP4", "deny imaplib.*");
    /* user entries take part in the same contest */
    assert_int_equal(add(p,
                         "deny imaplib.* exec\ndeny os.path.join file-access\n"
                         "deny torch.Size network\n",
                         NULL),
                     0);
    check(p, "imaplib", "IMAP4_stream", CKPT_F_COMMAND); /* deeper built-in */
    check(p, "imaplib", "IMAP4", CKPT_F_EXEC);           /* same depth: user */
    check(p, "os.path", "join", CKPT_F_FILE_ACCESS);     /* deeper user */
    check(p, "os.path", "exists", CKPT_F_COMMAND);
    check(p, "torch", "Size", CKPT_F_NETWORK); /* a user deny always denies */
    check_rule(p, "torch", "Size", "deny torch.Size (policy)");
}

static void test_dunder_walk(void **state)
{
    static const expect cases[] = {
        {"builtins", "object.__getattribute__", CKPT_F_SHADOWED_DUNDER},
        {"mylib", "Module.__globals__", CKPT_F_SHADOWED_DUNDER},
        {"mylib", "x.__class__", CKPT_F_SHADOWED_DUNDER},
        {"builtins", "object.__subclasses__", CKPT_F_SHADOWED_DUNDER},
        {"mylib", "f.__builtins__", CKPT_F_SHADOWED_DUNDER},
        {"mylib", "Net.__dict__", CKPT_F_SHADOWED_DUNDER},
        {"mylib", "Net.__init__.__globals__", CKPT_F_SHADOWED_DUNDER},
        {"torch", "Tensor.__reduce_ex__", CKPT_F_SHADOWED_DUNDER},
        {"collections", "__builtins__", CKPT_F_SHADOWED_DUNDER},
        /* the table first: a category says more */
        {"builtins", "__import__", CKPT_F_TRAMPOLINE},
        {"builtins", "__build_class__", CKPT_F_EXEC},
        {"os", "system.__call__", CKPT_F_COMMAND},
        /* not dunders */
        {"mylib", "Net.__private", CKPT_F_UNKNOWN_IMPORT},
        {"mylib", "Net._x_", CKPT_F_UNKNOWN_IMPORT},
        {"mylib", "Net.____", CKPT_F_UNKNOWN_IMPORT},
        {"__main__", "Net", CKPT_F_UNKNOWN_IMPORT},
    };
    check_all(*state, cases, N(cases));
    check_rule(*state, "mylib", "x.__class__", "deny dunder attribute in the qualname");
}

static void test_aliases(void **state)
{
    static const expect cases[] = {
        {"posix", "system", CKPT_F_COMMAND},
        {"posix.path", "join", CKPT_F_COMMAND},
        {"nt", "startfile", CKPT_F_COMMAND},
        {"_io", "open", CKPT_F_FILE_ACCESS},
        {"_operator", "methodcaller", CKPT_F_TRAMPOLINE},
        {"_pickle", "Unpickler", CKPT_F_NESTED_LOAD},
        {"cPickle", "loads", CKPT_F_NESTED_LOAD},
        {"_ctypes", "LoadLibrary", CKPT_F_NATIVE},
        {"_socket", "socket", CKPT_F_NETWORK},
        {"_thread", "start_new_thread", CKPT_F_DEFERRED},
        {"__builtin__", "getattr", CKPT_F_TRAMPOLINE},
        {"copy_reg", "_reconstructor", CKPT_F_TRAMPOLINE},
        {"commands", "getoutput", CKPT_F_COMMAND},
        {"_codecs", "encode", ALLOWED},
        {"_codecs", "open", CKPT_F_FILE_ACCESS},
        {"_signal", "signal", CKPT_F_DEFERRED},
        {"_frozen_importlib", "_load", CKPT_F_TRAMPOLINE},
        /* aliases apply to the root only */
        {"mylib.posix", "x", CKPT_F_UNKNOWN_IMPORT},
        {"posixpath", "join", CKPT_F_UNKNOWN_IMPORT},
    };
    check_all(*state, cases, N(cases));
    /* the name as written wins a tie with its alias */
    check_rule(*state, "posix", "system", "deny posix.*");
    check_rule(*state, "_io", "FileIO", "deny _io.*");
    check_rule(*state, "_codecs", "open", "deny codecs.open");
}

static void test_suffix_walk(void **state)
{
    static const expect cases[] = {
        {"pathlib", "os.system", CKPT_F_COMMAND},
        {"torch", "os.system", CKPT_F_COMMAND},
        {"torch", "posix.system", CKPT_F_COMMAND},
        {"torch", "serialization.pickle.loads", CKPT_F_NESTED_LOAD},
        {"mylib", "helpers.subprocess.Popen", CKPT_F_COMMAND},
        {"mylib", "sys.modules", CKPT_F_TRAMPOLINE},
        {"mylib", "__builtin__.eval", CKPT_F_EXEC},
        {"collections", "torch.load", CKPT_F_NESTED_LOAD},
        /* a bare module object reached by a walk is not denied */
        {"torch", "os", CKPT_F_UNKNOWN_IMPORT},
        {"mylib", "Model.profile", CKPT_F_UNKNOWN_IMPORT},
        /* a suffix starts at a component, not inside one */
        {"mylib", "xos.system", CKPT_F_UNKNOWN_IMPORT},
        {"mylib", "a.bos.system", CKPT_F_UNKNOWN_IMPORT},
    };
    check_all(*state, cases, N(cases));
    check_rule(*state, "torch", "posix.system", "deny posix.*");
}

/* Names far longer than any key; repeated roots must not blow up. */
static void test_long_names(void **state)
{
    policy *p = *state;
    size_t n = 60000;
    char *q = malloc(n + 16);
    assert_non_null(q);
    for (size_t i = 0; i + 6 <= n; i += 6)
        memcpy(q + i, "posix.", 6);
    memcpy(q + n - n % 6, "system", 7);
    for (int rep = 0; rep < 20; rep++)
        check(p, "torch", q, CKPT_F_COMMAND);
    memset(q, 'a', n);
    q[n] = '\0';
    check(p, "os", q, CKPT_F_COMMAND);
    check(p, "torch", q, CKPT_F_UNKNOWN_IMPORT);
    check(p, q, "system", CKPT_F_UNKNOWN_IMPORT);
    for (size_t i = 1; i < n; i += 2)
        q[i] = '.';
    check(p, "mylib", q, CKPT_F_UNKNOWN_IMPORT);
    memcpy(q + n - 10, ".os.system", 11);
    check(p, "mylib", q, CKPT_F_COMMAND);
    free(q);
}

static void test_compat_map(void **state)
{
    static const struct {
        const char *m, *n, *wm, *wn;
    } cases[] = {
        {"__builtin__", "eval", "builtins", "eval"},
        {"__builtin__", "xrange", "builtins", "range"},
        {"__builtin__", "reduce", "functools", "reduce"},
        {"__builtin__", "unicode", "builtins", "str"},
        {"copy_reg", "_reconstructor", "copyreg", "_reconstructor"},
        {"exceptions", "ValueError", "builtins", "ValueError"},
        {"exceptions", "StandardError", "builtins", "Exception"},
        {"commands", "getoutput", "subprocess", "getoutput"},
        {"httplib", "HTTPConnection", "http.client", "HTTPConnection"},
        {"urllib2", "urlopen", "urllib.request", "urlopen"},
        {"urllib2", "HTTPError", "urllib.error", "HTTPError"},
        {"urllib", "urlopen", "urllib.request", "urlopen"},
        {"cPickle", "loads", "pickle", "loads"},
        {"dbm", "open", "dbm.ndbm", "open"},
        {"thread", "start_new_thread", "_thread", "start_new_thread"},
        {"UserDict", "UserDict", "collections", "UserDict"},
        {"UserDict", "DictMixin", "collections", "DictMixin"},
        {"itertools", "izip", "builtins", "zip"},
        {"multiprocessing", "TimeoutError", "multiprocessing.context", "TimeoutError"},
        {"test.test_support", "x", "test.support", "x"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        const char *m, *n;
        assert_int_equal(policy_compat_map(cases[i].m, cases[i].n, &m, &n), 1);
        assert_string_equal(m, cases[i].wm);
        assert_string_equal(n, cases[i].wn);
    }
    static const char *const untouched[][2] = {
        {"torch._utils", "_rebuild_tensor_v2"},
        {"urllib", "splittype"},
        {"exceptions", "Foo"},
        {"builtins", "eval"},
        {"__builtin__x", "eval"},
        {"", ""},
    };
    for (size_t i = 0; i < N(untouched); i++) {
        const char *m, *n;
        assert_int_equal(policy_compat_map(untouched[i][0], untouched[i][1], &m, &n), 0);
        assert_ptr_equal(m, untouched[i][0]);
        assert_ptr_equal(n, untouched[i][1]);
    }
    const char *m, *n;
    policy_compat_map("__builtin__", "reduce", &m, &n);
    check(*state, m, n, CKPT_F_TRAMPOLINE);
}

static void test_text_good(void **state)
{
    policy *p = *state;
    const char text[] = "\xEF\xBB\xBF# a policy\n"
                        "\n"
                        "   \t  \n"
                        "allow mylib.models.Net   # trailing comment\r\n"
                        "\tallow  mylib.layers.*\t\n"
                        "deny mylib.layers.evil network\n"
                        "deny mylib.plugins.*\n"
                        "allow caf\xC3\xA9.Cr\xC3\xA8me\n"
                        "profile ml";
    size_t line = 42;
    check(p, "mylib.models", "Net", CKPT_F_UNKNOWN_IMPORT);
    assert_int_equal(policy_add_text(p, text, sizeof(text) - 1, &line), 0);
    assert_int_equal(line, 0);
    check(p, "mylib.models", "Net", ALLOWED);
    check(p, "mylib.layers", "Conv", ALLOWED);
    check(p, "mylib.layers", "evil", CKPT_F_NETWORK);
    check(p, "mylib.plugins", "load", POLICY_DEFAULT_DENY_CODE);
    check(p, "caf\xC3\xA9", "Cr\xC3\xA8me", ALLOWED);
    check(p, "torch.nn.modules.linear", "Linear", ALLOWED);
    check_rule(p, "mylib.plugins", "load", "deny mylib.plugins.* (policy)");
    /* empty text and a text of comments only are fine */
    assert_int_equal(policy_add_text(p, "", 0, &line), 0);
    assert_int_equal(policy_add_text(p, NULL, 0, &line), 0);
    assert_int_equal(add(p, "# nothing\n\n", &line), 0);
}

/* A user deny without a category gets POLICY_DEFAULT_DENY_CODE (exec). */
static void test_text_deny_default_category(void **state)
{
    assert_int_equal(POLICY_DEFAULT_DENY_CODE, CKPT_F_EXEC);
    assert_int_equal(add(*state, "deny torch.Tensor", NULL), 0);
    check(*state, "torch", "Tensor", CKPT_F_EXEC);
    check(*state, "torch", "Size", ALLOWED);
}

static void test_text_categories(void **state)
{
    static const struct {
        const char *name;
        ckpt_code code;
    } cats[] = {
        {"exec", CKPT_F_EXEC},
        {"command", CKPT_F_COMMAND},
        {"native-code", CKPT_F_NATIVE},
        {"import-trampoline", CKPT_F_TRAMPOLINE},
        {"nested-deserialisation", CKPT_F_NESTED_LOAD},
        {"file-access", CKPT_F_FILE_ACCESS},
        {"network", CKPT_F_NETWORK},
        {"deferred-execution", CKPT_F_DEFERRED},
        {"scanner-sabotage", CKPT_F_SABOTAGE},
    };
    for (size_t i = 0; i < N(cats); i++) {
        char text[128], mod[32];
        snprintf(mod, sizeof(mod), "m%zu", i);
        snprintf(text, sizeof(text), "deny %s.* %s\n", mod, cats[i].name);
        assert_int_equal(add(*state, text, NULL), 0);
        check(*state, mod, "f", (int)cats[i].code);
    }
}

static void test_text_errors(void **state)
{
    char long_name[POLICY_NAME_MAX + 16];
    memset(long_name, 'a', sizeof(long_name));
    memcpy(long_name, "allow a.", 8); // NOLINT(bugprone-not-null-terminated-result)
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        size_t line;
    } cases[] = {
        {"permit a.b\n", 0, 1},
        {"allow\n", 0, 1},
        {"\n\ndeny\n", 0, 3},
        {"allow my lib.Net\n", 0, 1},
        {"allow a.b extra\n", 0, 1},
        {"deny a.b exec extra\n", 0, 1},
        {"deny a.b badcat\n", 0, 1},
        {"deny a.b EXEC\n", 0, 1},
        {"deny a.b unknown-import\n", 0, 1},
        {"deny a.b dunder-attribute\n", 0, 1},
        {"allow a..b\n", 0, 1},
        {"allow .a.b\n", 0, 1},
        {"allow a.b.\n", 0, 1},
        {"allow a\n", 0, 1},
        {"deny os\n", 0, 1},
        {"allow *\n", 0, 1},
        {"allow .*\n", 0, 1},
        {"allow a.*.b\n", 0, 1},
        {"allow a.b*\n", 0, 1},
        {"allow a.b#c\n", 0, 1},
        {"allow a.b\x01\n", 0, 1},
        {"allow a.b\x7f\n", 0, 1},
        {"# fine\nallow a.b\0c\n", 19, 2},
        {"# comment \x02 with a control byte\n", 0, 1},
        {"allow a.\xff\n", 0, 1},
        {"allow a.\xC0\xAF\n", 0, 1},
        {"allow a.\xED\xA0\x80\n", 0, 1},
        {"allow a.\xF4\x90\x80\x80\n", 0, 1},
        {"allow a.\xC3\n", 0, 1},
        {"profile\n", 0, 1},
        {"profile ml2\n", 0, 1},
        {"profile ml default\n", 0, 1},
        {"ALLOW a.b\n", 0, 1},
        {"allow a.b\nallow c.d\n\n# x\nallow e..f\nallow g.h\n", 0, 5},
    };
    for (size_t i = 0; i < N(cases); i++) {
        policy *p = policy_new();
        assert_non_null(p);
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        /* good lines first, so "nothing applied" is observable */
        char text[1024];
        static const char good[] = "allow mylib.Net\ndeny torch.Size network\nprofile ml\n";
        size_t gl = sizeof(good) - 1;
        memcpy(text, good, sizeof(good));
        memcpy(text + gl, cases[i].text, len); // NOLINT(bugprone-not-null-terminated-result)
        size_t line = 0;
        int rc = policy_add_text(p, text, gl + len, &line);
        if (rc != -1 || line != cases[i].line + 3)
            fail_msg("case %zu: rc %d line %zu, want -1 line %zu", i, rc, line, cases[i].line + 3);
        check(p, "mylib", "Net", CKPT_F_UNKNOWN_IMPORT);
        check(p, "torch", "Size", ALLOWED);
        check(p, "torch.nn.modules.linear", "Linear", CKPT_F_UNKNOWN_IMPORT);
        policy_free(p);
    }
    /* length limits: 512 bytes is fine, 513 is not */
    policy *p = *state;
    size_t line = 0;
    assert_int_equal(policy_add_text(p, long_name, 6 + POLICY_NAME_MAX, &line), 0);
    assert_int_equal(policy_add_text(p, long_name, 6 + POLICY_NAME_MAX + 1, &line), -1);
    assert_int_equal(line, 1);
    assert_int_equal(policy_add_text(p, NULL, 5, &line), -1);
}

/* User strings are copied: the text may be freed after the call. */
static void test_text_is_copied(void **state)
{
    policy *p = *state;
    const char src[] = "deny mylib.* network\nallow other.Good\n";
    char *text = malloc(sizeof(src));
    assert_non_null(text);
    memcpy(text, src, sizeof(src));
    assert_int_equal(add(p, text, NULL), 0);
    memset(text, 'x', strlen(text));
    free(text);
    check(p, "mylib", "f", CKPT_F_NETWORK);
    check(p, "other", "Good", ALLOWED);
    check_rule(p, "mylib", "f", "deny mylib.* (policy)");
}

static void test_weights_only(void **state)
{
    (void)state;
    static const char *const hits[][2] = {
        {"collections", "OrderedDict"},
        {"collections", "Counter"},
        {"torch._utils", "_rebuild_tensor_v2"},
        {"torch._utils", "_rebuild_parameter_with_state"},
        {"torch._utils", "_rebuild_device_tensor_from_cpu_tensor"},
        {"torch._tensor", "_rebuild_from_type_v2"},
        {"torch", "FloatStorage"},
        {"torch.cuda", "HalfStorage"},
        {"torch", "LongTensor"},
        {"torch.storage", "UntypedStorage"},
        {"torch", "float32"},
        {"torch", "bfloat16"},
        {"torch", "float8_e5m2"},
        {"torch", "per_channel_affine"},
        {"torch", "Size"},
        {"torch", "device"},
        {"torch.serialization", "_get_layout"},
        {"torch.nn.parameter", "Parameter"},
        {"_codecs", "encode"},
        {"builtins", "bytearray"},
        {"builtins", "set"},
        {"builtins", "complex"},
    };
    static const char *const misses[][2] = {
        {"numpy.core.multiarray", "_reconstruct"},
        {"joblib.numpy_pickle", "NumpyArrayWrapper"},
        {"builtins", "dict"},
        {"collections", "defaultdict"},
        {"torch", "half"},
        {"torch", "strided"},
        {"torch", "float3"},
        {"torch", "float32x"},
        {"torch", ""},
        {"", "torch.Size"},
        {"torch.Size", ""},
        {"os", "system"},
        {"builtins", "eval"},
        {"__builtin__", "set"},
        {"torch.nn.modules.linear", "Linear"},
    };
    for (size_t i = 0; i < N(hits); i++)
        if (!policy_weights_only_global(hits[i][0], hits[i][1]))
            fail_msg("%s.%s should be weights_only", hits[i][0], hits[i][1]);
    for (size_t i = 0; i < N(misses); i++)
        if (policy_weights_only_global(misses[i][0], misses[i][1]))
            fail_msg("%s.%s should not be weights_only", misses[i][0], misses[i][1]);
    assert_int_equal(policy_weights_only_global(NULL, "x"), 0);
}

static void test_null_and_empty(void **state)
{
    name_class c;
    policy_classify(NULL, "builtins", "eval", &c);
    assert_int_equal(c.allowed, 0);
    assert_int_equal(c.code, CKPT_F_UNKNOWN_IMPORT);
    check(*state, NULL, NULL, CKPT_F_UNKNOWN_IMPORT);
    check(*state, "", "", CKPT_F_UNKNOWN_IMPORT);
    check(*state, "", "os.system", CKPT_F_COMMAND);
    check(*state, "os", "", CKPT_F_COMMAND);
    check(*state, "os.", "system", CKPT_F_COMMAND);
    policy_free(NULL);
    assert_int_equal(policy_use_profile(NULL, "ml"), -1);
}

/* Issue 12 root cause 8: gadgets that write files or run code, and vendored
 * copies of deserialisers (a module suffix matches too, deserialisers only). */
static void test_file_write_and_vendored(void **state)
{
    static const expect cases[] = {
        {"torch", "from_file", CKPT_F_FILE_WRITE},
        {"torch", "UntypedStorage.from_file", CKPT_F_FILE_WRITE},
        {"torch", "FloatStorage.from_file", CKPT_F_FILE_WRITE},
        {"torch.storage", "UntypedStorage.from_file", CKPT_F_FILE_WRITE},
        {"numpy.lib.format", "open_memmap", CKPT_F_FILE_WRITE},
        {"wave", "open", CKPT_F_FILE_WRITE},
        {"mailbox", "mbox", CKPT_F_FILE_WRITE},
        {"py_compile", "compile", CKPT_F_FILE_WRITE},
        {"torch.fx.graph_module", "_forward_from_src", CKPT_F_EXEC},
        {"torch.serialization", "_open_file", CKPT_F_FILE_WRITE},
        {"uu", "encode", CKPT_F_FILE_WRITE},
        {"joblib", "dump", CKPT_F_FILE_WRITE},
        {"torch._C", "PyTorchFileWriter", CKPT_F_FILE_WRITE},
        {"pipes", "Template", CKPT_F_COMMAND},
        {"distutils.dir_util", "mkpath", CKPT_F_FILE_WRITE},
        {"xml.etree.ElementTree", "ElementTree.write", CKPT_F_FILE_WRITE},
        {"torch.utils.bottleneck.__main__", "run_autograd_prof", CKPT_F_EXEC},
        {"torch.utils.bottleneck.__main__", "run_cprofile", CKPT_F_EXEC},
        {"_pyrepl.pager", "pipe_pager", CKPT_F_COMMAND},
        {"pydoc", "pipepager", CKPT_F_COMMAND},
        {"joblib.externals.cloudpickle", "loads", CKPT_F_NESTED_LOAD},
        {"joblib.externals.cloudpickle.cloudpickle_fast", "loads", CKPT_F_NESTED_LOAD},
        {"vendor.pickle", "loads", CKPT_F_NESTED_LOAD},
        /* a module suffix only reaches deserialisers */
        {"scipy.signal", "lfilter", CKPT_F_UNKNOWN_IMPORT},
        {"pandas.io.formats.style", "Styler", CKPT_F_UNKNOWN_IMPORT},
        {"mylib.os", "system", CKPT_F_UNKNOWN_IMPORT},
        /* identity helpers and enums exempt from built-in denies */
        {"torch.jit._pickle", "build_intlist", ALLOWED},
        {"torch.jit._pickle", "restore_type_tag", ALLOWED},
        {"torch.jit._pickle", "other", CKPT_F_EXEC},
        {"http", "HTTPStatus", ALLOWED},
        {"http", "HTTPStatus.OK", ALLOWED},
        {"http", "HTTPStatus.OK.x", CKPT_F_NETWORK},
        {"http", "HTTPStatus.__class__", CKPT_F_NETWORK},
        {"http.client", "HTTPConnection", CKPT_F_NETWORK},
        /* generated by tools/gen_gadgets.py */
        {"cgi", "FieldStorage", CKPT_F_FILE_WRITE},
        {"joblib._utils", "eval_expr", CKPT_F_EXEC},
        {"joblib.externals.loky.backend.fork_exec", "fork_exec", CKPT_F_COMMAND},
        {"joblib.disk", "mkdirp", CKPT_F_FILE_WRITE},
    };
    check_all(*state, cases, N(cases));
    /* generated by tools/gen_aliases.py: C callables the AST analysis cannot
     * read, and other names of denied callables (by object identity) */
    static const expect aliases[] = {
        {"torch._C", "CompilationUnit", CKPT_F_EXEC},
        {"torch", "CompilationUnit", CKPT_F_EXEC},
        {"torch._C", "_jit_script_compile", CKPT_F_EXEC},
        {"torch._C", "import_ir_module_from_buffer", CKPT_F_NESTED_LOAD},
        {"torch._C", "_load_for_lite_interpreter", CKPT_F_NESTED_LOAD},
        {"torch._C._distributed_c10d", "FileStore", CKPT_F_FILE_WRITE},
        {"torch", "UntypedStorage._new_shared_filename_cpu", CKPT_F_FILE_WRITE},
        {"torch._ops", "ops.load_library", CKPT_F_NATIVE},
        {"numpy.core.multiarray", "fromfile", CKPT_F_FILE_ACCESS},
        {"numpy.core._multiarray_umath", "fromfile", CKPT_F_FILE_ACCESS},
        {"numpy.core._multiarray_umath", "set_string_function", CKPT_F_DEFERRED},
        {"_posixshmem", "shm_open", CKPT_F_FILE_WRITE},
        {"readline", "write_history_file", CKPT_F_FILE_WRITE},
        {"builtins", "help", CKPT_F_TRAMPOLINE},
        {"joblib.numpy_pickle", "Unpickler", CKPT_F_NESTED_LOAD},
        /* re-exports of generated gadget entries, and more C callables */
        {"numpy", "DataSource", CKPT_F_NETWORK},
        {"numpy", "DataSource.open", CKPT_F_NETWORK},
        {"joblib.externals.loky", "get_reusable_executor", CKPT_F_COMMAND},
        {"joblib", "Parallel", CKPT_F_EXEC},
        {"torch._C", "_jit_get_operation", CKPT_F_TRAMPOLINE},
        {"torch._C", "_set_torch_function_mode", CKPT_F_DEFERRED},
        {"torch._ops", "ops.aten.from_file", CKPT_F_NATIVE},
        {"numpy.core._internal", "_ctypes", CKPT_F_NATIVE},
        {"joblib.numpy_pickle", "_unpickle", CKPT_F_NESTED_LOAD},
        {"joblib.numpy_pickle", "NumpyArrayWrapper.read", CKPT_F_NESTED_LOAD},
        {"joblib.numpy_pickle", "NumpyArrayWrapper", ALLOWED},
        {"torch.utils.tensorboard", "SummaryWriter", CKPT_F_FILE_WRITE},
        {"joblib._memmapping_reducer", "_strided_from_memmap", CKPT_F_FILE_WRITE},
        {"joblib.backports", "make_memmap", CKPT_F_FILE_WRITE},
        /* unknown and harmless: stays unknown */
        {"torch._C", "_jit_pass_lower_all_tuples", CKPT_F_UNKNOWN_IMPORT},
        {"builtins", "input", CKPT_F_UNKNOWN_IMPORT},
        {"joblib", "hash", CKPT_F_UNKNOWN_IMPORT},
        {"numpy.core.multiarray", "_reconstruct", ALLOWED},
    };
    check_all(*state, aliases, N(aliases));
    /* programs run by an import or a call: a package's __main__ (any module
     * below the top level named so), test runners, setup(), antigravity */
    static const expect programs[] = {
        {"unittest.__main__", "x", CKPT_F_EXEC},
        {"tkinter.__main__", "main", CKPT_F_EXEC},
        {"a.__main__.b", "c", CKPT_F_EXEC},
        {"unittest", "main", CKPT_F_TRAMPOLINE},
        {"unittest", "TestProgram", CKPT_F_TRAMPOLINE},
        {"unittest", "defaultTestLoader.discover", CKPT_F_TRAMPOLINE},
        {"numpy.testing", "run_module_suite", CKPT_F_EXEC},
        {"antigravity", "x", CKPT_F_COMMAND},
        {"setuptools", "setup", CKPT_F_COMMAND},
        /* the script's own classes, and look-alikes, stay unknown */
        {"__main__", "Net", CKPT_F_UNKNOWN_IMPORT},
        {"__main__", "Net.__init__", CKPT_F_SHADOWED_DUNDER},
        {"a.__main__x", "c", CKPT_F_UNKNOWN_IMPORT},
        {"a.x__main__", "c", CKPT_F_UNKNOWN_IMPORT},
        {"this", "x", CKPT_F_UNKNOWN_IMPORT},
    };
    check_all(*state, programs, N(programs));
    /* a user deny still denies an exempt name */
    policy *p = *state;
    size_t line;
    const char *text = "deny torch.jit._pickle.* exec\n";
    assert_int_equal(policy_add_text(p, text, strlen(text), &line), 0);
    check(p, "torch.jit._pickle", "build_intlist", CKPT_F_EXEC);
}

static size_t lines_of(const membuf *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += b->p[i] == '\n';
    return n;
}

/* The rules a policy starts with are sorted at build time (gen_rules.c):
 * they are the denylist and the default profile, in the very order the
 * run-time sort puts them (an empty policy text copies and re-sorts them). */
static void test_builtin_rules_presorted(void **state)
{
    policy *p = *state;
    size_t nd, na;
    policy_table_deny(&nd);
    policy_table_profile(0, &na);
    membuf before = {0}, after = {0};
    assert_int_equal(policy_write_rules(p, membuf_write, &before), 0);
    assert_int_equal(lines_of(&before), nd + na);
    assert_int_equal(policy_add_text(p, "", 0, NULL), 0);
    assert_int_equal(policy_write_rules(p, membuf_write, &after), 0);
    assert_int_equal(after.n, before.n);
    assert_string_equal(after.p, before.p);
    assert_int_equal(policy_use_profile(p, "default"), 0); /* already on: adds nothing */
    free(after.p);
    after = (membuf){0};
    assert_int_equal(policy_write_rules(p, membuf_write, &after), 0);
    assert_string_equal(after.p, before.p);
    free(before.p);
    free(after.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_attacks_section_d),
        T(test_attacks_section_c),
        T(test_corpus_globals),
        T(test_default_allowlist),
        T(test_every_builtin_allow_entry_is_allowed),
        T(test_every_deny_entry_denies),
        T(test_ml_profile),
        T(test_deny_beats_allow),
        T(test_most_specific_wins),
        T(test_dunder_walk),
        T(test_aliases),
        T(test_suffix_walk),
        T(test_long_names),
        T(test_compat_map),
        T(test_text_good),
        T(test_text_deny_default_category),
        T(test_text_categories),
        T(test_text_errors),
        T(test_text_is_copied),
        T(test_weights_only),
        T(test_null_and_empty),
        T(test_file_write_and_vendored),
        T(test_builtin_rules_presorted),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
