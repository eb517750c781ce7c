#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generates denylist entries (src/policy/policy_aliases.inc) for the other
names of dangerous callables, and for callables written in C (issue 12, root
cause 8: grade by capability). tools/gen_gadgets.py reads Python source, so
it cannot see (1) C functions and classes (torch._C, numpy's _multiarray_umath,
the stdlib's C modules) and (2) the same object reached under another name
(numpy.core.multiarray.fromfile is numpy.fromfile; torch._C.CompilationUnit
is torch.jit.CompilationUnit; `from os import system` in some module).

This one imports torch, numpy, joblib and the standard library modules they
load (plus a few C modules named below; never a module whose import does
something visible), and:
  1. starts from C_SINKS below (C callables, each with its capability and
     why), from every exact deny entry written by hand in policy_tables.c
     and from EXTRA_SEEDS (the callables of modules denied whole that run
     code or change files); policy_gadgets.inc's entries are copied only to
     a package's re-exports of them (a name in a module above the one that
     defines the callable: numpy.DataSource, unittest.main), since its
     over-approximations (collections.namedtuple, for its eval of a
     generated class) should not spread to every module importing them;
  2. resolves each to its object, and finds every other name of that object:
     an attribute of a loaded module, or an attribute of a class or object
     such a module holds (module.Class.method), by identity;
  3. writes each name (for capabilities that run code or change files:
     exec, commands, native code, deserialisers, trampolines, file writes)
     not already allowed by a built-in profile nor matched
     by a deny entry, with the capability of the object (the most severe when
     several).
Run with /usr/bin/python3 (torch 1.13, numpy 1.24, joblib 1.2 on Debian 12):

    /usr/bin/python3 tools/gen_aliases.py > src/policy/policy_aliases.inc
"""
import contextlib
import importlib
import io
import os
import re
import sys
import types
import warnings

from gen_gadgets import covered, load_list  # same folder

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src", "policy")

# C-implemented callables with a capability (the AST analysis cannot read them)
C_SINKS = {
    # TorchScript: compiling or loading runs TorchScript code (__setstate__ of
    # scripted classes runs at load)
    "torch._C._jit_script_compile": ("EXEC", "compiles TorchScript source"),
    "torch._C._jit_script_class_compile": ("EXEC", "compiles TorchScript source"),
    "torch._C.CompilationUnit": ("EXEC", "CompilationUnit(src) compiles TorchScript"),
    "torch._C.import_ir_module": ("NEST", "torch.jit.load's loader (a path)"),
    "torch._C.import_ir_module_from_buffer": ("NEST", "torch.jit.load's loader (bytes)"),
    "torch._C._load_for_lite_interpreter": ("NEST", "loads a mobile TorchScript model"),
    "torch._C._load_for_lite_interpreter_from_buffer": ("NEST", "same, from bytes"),
    "torch._C._load_jit_module_from_file": ("NEST", "loads a TorchScript module"),
    "torch._C._load_jit_module_from_bytes": ("NEST", "same, from bytes"),
    "torch._C._jit_load_for_lite_interpreter": ("NEST", "loads a mobile model"),
    # files made or mapped by name
    "torch._C._distributed_c10d.FileStore": ("FILEW", "creates the file it is given"),
    "torch._C.PyTorchFileWriter": ("FILEW", "writes a zip archive to a path"),
    "torch._C.PyTorchFileReader": ("FILEIO", "opens a path"),
    "torch._C._save_jit_module": ("FILEW", "writes a file"),
    "torch._C._save_mobile_module": ("FILEW", "writes a file"),
    "torch._C._dump_upgraders_map": ("FILEIO", "reads files"),
    "torch.UntypedStorage._new_shared_filename_cpu": ("FILEW", "creates a shared-memory file"),
    "torch.UntypedStorage._new_using_filename_cpu": ("FILEW", "opens a shared-memory file by name"),
    "torch.UntypedStorage._new_shared_fd_cpu": ("FILEW", "creates a shared-memory file"),
    "torch.UntypedStorage._share_filename_cpu_": ("FILEW", "moves a storage to a named file"),
    "torch.UntypedStorage._share_fd_cpu_": ("FILEW", "moves a storage to a shared file"),
    "_posixshmem.shm_open": ("FILEW", "creates a shared-memory file"),
    "_posixshmem.shm_unlink": ("FILEW", "removes a shared-memory file"),
    "readline.write_history_file": ("FILEW", "writes a file"),
    "readline.append_history_file": ("FILEW", "writes a file"),
    "readline.read_history_file": ("FILEIO", "reads a file"),
    "readline.read_init_file": ("FILEIO", "reads a file and runs its readline commands"),
    "faulthandler.dump_traceback_later": ("FILEW", "writes to any file descriptor, later"),
    "faulthandler.register": ("FILEW", "writes to any file descriptor on a signal"),
    "faulthandler.enable": ("FILEW", "writes to any file descriptor on a crash"),
    # an operator by its name: a call-through to any of them (aten::from_file)
    "torch._C._jit_get_operation": ("TRAMP", "returns any operator by name"),
    "torch._C._get_operation_overload": ("TRAMP", "returns any operator overload by name"),
    # a callable planted to be called later (global state)
    "torch._C._set_torch_function_mode": ("DEFER", "installs an object torch calls on every "
                                          "operation"),
    "numpy.core._multiarray_umath.set_string_function": ("DEFER", "installs a callable numpy "
                                                         "calls for every repr"),
    "numpy.core._multiarray_umath.set_typeDict": ("DEFER", "replaces numpy's type table"),
    "torch._C._set_print_stack_traces_on_fatal_signal": ("DEFER", "process-wide setting"),
    # help('name') imports any module by name (pydoc.locate); help() reads stdin
    "builtins.help": ("TRAMP", "help('a.module') imports that module"),
}
# members of modules denied whole ('subprocess.*') that run code or change
# files, as seeds (the rest of such a module, exceptions and helpers, is no
# capability to copy under another name)
EXTRA_SEEDS = {
    "subprocess.Popen": "CMD", "subprocess.run": "CMD", "subprocess.call": "CMD",
    "subprocess.check_call": "CMD", "subprocess.check_output": "CMD",
    "subprocess.getoutput": "CMD", "subprocess.getstatusoutput": "CMD",
    "pty.spawn": "CMD", "pty.fork": "CMD", "os.system": "CMD", "os.popen": "CMD",
    "os.execv": "CMD", "os.execve": "CMD", "os.execl": "CMD", "os.execlp": "CMD",
    "os.execvp": "CMD", "os.execvpe": "CMD", "os.spawnv": "CMD", "os.spawnve": "CMD",
    "os.spawnl": "CMD", "os.posix_spawn": "CMD", "os.posix_spawnp": "CMD", "os.fork": "CMD",
    "ctypes.CDLL": "NATIVE", "ctypes.PyDLL": "NATIVE", "ctypes.cdll": "NATIVE",
    "ctypes.pydll": "NATIVE", "ctypes.LibraryLoader": "NATIVE", "ctypes.cast": "NATIVE",
    "ctypes.memmove": "NATIVE", "ctypes.memset": "NATIVE", "ctypes.string_at": "NATIVE",
    "ctypes.CFUNCTYPE": "NATIVE", "_ctypes.dlopen": "NATIVE",
    "pickle.load": "NEST", "pickle.loads": "NEST", "pickle.Unpickler": "NEST",
    "pickle._Unpickler": "NEST", "pickle._load": "NEST", "pickle._loads": "NEST",
    "marshal.loads": "EXEC", "marshal.load": "EXEC",
    "runpy.run_path": "EXEC", "runpy.run_module": "EXEC",
    "shutil.rmtree": "FILEW", "shutil.copyfile": "FILEW", "shutil.copy": "FILEW",
    "shutil.copy2": "FILEW", "shutil.copytree": "FILEW", "shutil.move": "FILEW",
    "shutil.make_archive": "FILEW", "shutil.unpack_archive": "FILEW",
    "tempfile.mkstemp": "FILEW", "tempfile.mkdtemp": "FILEW",
    "tempfile.NamedTemporaryFile": "FILEW", "tempfile.TemporaryDirectory": "FILEW",
    "importlib.import_module": "TRAMP", "importlib.reload": "TRAMP",
    "builtins.exec": "EXEC", "builtins.eval": "EXEC", "builtins.compile": "EXEC",
    "builtins.__import__": "TRAMP", "builtins.open": "FILEW",
    "numpy.fromfile": "FILEIO",
}
# imported to be walked (C modules and tools the others may not load)
EXTRA = ["readline", "faulthandler", "_posixshmem", "multiprocessing.shared_memory", "pydoc",
         "numpy.core._multiarray_umath", "torch.distributed", "torch.jit", "torch.utils.data",
         "joblib.externals.loky", "joblib.externals.cloudpickle", "pickle", "shutil", "tempfile",
         "subprocess", "ctypes", "runpy", "pty", "socket", "importlib", "code", "codeop", "timeit",
         "cProfile", "profile", "trace", "pdb", "bdb", "doctest", "pkgutil", "zipimport",
         "logging.config", "multiprocessing", "concurrent.futures", "asyncio", "shelve", "dbm",
         "sqlite3", "tarfile", "zipfile", "glob", "fileinput", "linecache", "webbrowser", "uuid",
         "platform", "ensurepip", "venv"]
RANK = {"EXEC": 0, "CMD": 1, "NATIVE": 2, "NEST": 3, "TRAMP": 4, "FILEW": 5, "NET": 6,
        "FILEIO": 7, "DEFER": 8, "SABOT": 9}
ROOTS = ("torch", "numpy", "joblib")
# capabilities of policy_tables.c's entries whose other names are written:
# what runs code, changes files or reaches the network (file reads only from
# C_SINKS and EXTRA_SEEDS)
PROPAGATE = {"EXEC", "CMD", "NATIVE", "NEST", "TRAMP", "FILEW", "NET"}


def tables():
    text = open(os.path.join(SRC, "policy_tables.c")).read()
    profiles = open(os.path.join(SRC, "policy_profiles.inc")).read()
    allow = load_list(r'\bA\("([^"]+)"\)', text + profiles)
    allow_prefix = load_list(r'\bAP\("([^"]+)\.\*"', text + profiles)
    pat = r'\b(EXEC|CMD|NATIVE|TRAMP|NEST|FILEIO|FILEW|NET|DEFER|SABOT)\("([^"]+)"\)'
    deny_text = text[text.index("static const policy_entry deny[]"):]
    hand = {name: macro for macro, name in re.findall(pat, deny_text)}
    # X-macro lists expanded in the deny table: TORCH_LEGACY_TYPES(X) with
    # X(p) = MACRO(p "suffix")
    lists = {}
    for lname, body in re.findall(r'#define (\w+)\(X\)((?:[^\n]*\\\n)+[^\n]*)', text):
        lists[lname] = re.findall(r'X\("([^"]+)"\)', body)
    for macro, suffix, lname in re.findall(r'#define X\(p\) (\w+)\(p "([^"]*)"\),\s*(\w+)\(X\)',
                                           deny_text):
        for p in lists.get(lname, []):
            hand[p + suffix] = macro
    deny = dict(hand)
    for macro, name in re.findall(pat, open(os.path.join(SRC, "policy_gadgets.inc")).read()):
        deny[name] = macro
    return allow, allow_prefix, deny, hand


def quiet_import(name):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - a module that cannot load is not walked
            return None


def resolve(dotted):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        mod = sys.modules.get(".".join(parts[:i]))
        if mod is None:
            continue
        obj = mod
        try:
            for p in parts[i:]:
                obj = getattr(obj, p)
        except Exception:  # noqa: BLE001
            return None
        return obj
    return None


def module_of(dotted):
    """The longest prefix of dotted that is a loaded module."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in sys.modules:
            return ".".join(parts[:i])
    return parts[0]


def key(obj):
    """The identity of a callable: bound methods by their function."""
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    return id(obj)


def walked_modules():
    names = []
    for name, mod in list(sys.modules.items()):
        if not isinstance(mod, types.ModuleType) or name == "__main__":
            continue
        root = name.split(".")[0]
        if root in ROOTS or root in sys.stdlib_module_names:
            names.append(name)
    return sorted(names)


def callables_of(obj):
    """(attribute name, object) of obj's own dict entries that can be called."""
    try:
        d = vars(obj) if isinstance(obj, type) else vars(type(obj))
    except TypeError:
        return
    for k in list(d):
        if k.startswith("__") and k.endswith("__"):
            continue
        v = d[k]
        if isinstance(v, (classmethod, staticmethod)):
            v = v.__func__
        if callable(v) or isinstance(v, (types.MethodDescriptorType, types.BuiltinFunctionType)):
            yield k, v


def main():
    warnings.simplefilter("ignore")
    for m in ROOTS + tuple(EXTRA):
        quiet_import(m)
    allow, allow_prefix, deny, hand = tables()
    names = {}  # key -> [dotted names]
    objs = {}   # key -> object (kept alive so ids stay unique)
    for mname in walked_modules():
        mod = sys.modules[mname]
        try:
            attrs = list(vars(mod).items())
        except TypeError:
            continue
        for a, v in attrs:
            if a.startswith("__") or type(v) is types.ModuleType:
                continue  # (a ModuleType subclass, torch._ops.ops, is an object)
            if not callable(v) or isinstance(v, types.ModuleType):
                # a module-level object: its methods (torch._ops.ops.load_library)
                if type(v).__module__.split(".")[0] not in ROOTS:
                    continue
                for k, m in callables_of(v):
                    kk = key(m)
                    names.setdefault(kk, []).append((mname, "%s.%s.%s" % (mname, a, k)))
                    objs[kk] = m
                continue
            kk = key(v)
            names.setdefault(kk, []).append((mname, "%s.%s" % (mname, a)))
            objs[kk] = v
            if isinstance(v, type):
                for k, m in callables_of(v):
                    kk = key(m)
                    names.setdefault(kk, []).append((mname, "%s.%s.%s" % (mname, a, k)))
                    objs[kk] = m
    # policy_gadgets.inc's entries: copied only to a package's re-export of
    # them (numpy.DataSource is numpy.lib._datasource.DataSource; unittest.main
    # is unittest.main.TestProgram), not to every module that imports them:
    # its over-approximations (collections.namedtuple, for its eval of a
    # generated class) should not spread
    exported = {}  # key -> (category, module that defines it)
    for name, macro in deny.items():
        if name in hand or name.endswith(".*"):
            continue
        obj = resolve(name)
        if obj is None or isinstance(obj, types.ModuleType) or not callable(obj):
            continue
        kk = key(obj)
        objs[kk] = obj
        if kk not in exported or RANK[macro] < RANK[exported[kk][0]]:
            exported[kk] = (macro, module_of(name))
    seeds = {}  # key -> category
    for name, macro in (list(hand.items()) + list(EXTRA_SEEDS.items()) +
                        [(n, c) for n, (c, _) in C_SINKS.items()]):
        if name.endswith(".*"):
            continue
        if macro not in PROPAGATE and name not in EXTRA_SEEDS and name not in C_SINKS:
            continue
        obj = resolve(name)
        if obj is None or isinstance(obj, types.ModuleType) or not callable(obj):
            continue
        kk = key(obj)
        objs[kk] = obj
        if kk not in seeds or RANK[macro] < RANK[seeds[kk]]:
            seeds[kk] = macro

    rows = {}
    for name, (macro, _) in C_SINKS.items():
        rows[name] = macro
    for kk, macro in seeds.items():
        for _, name in names.get(kk, []):
            if name not in rows or RANK[macro] < RANK[rows[name]]:
                rows[name] = macro
    for kk, (macro, home) in exported.items():
        for mname, name in names.get(kk, []):
            if home.startswith(mname + ".") and (name not in rows or
                                                 RANK[macro] < RANK[rows[name]]):
                rows[name] = macro
    out = []
    for name in sorted(rows):
        leaf = name.rsplit(".", 1)[-1]
        if leaf.startswith("__") and leaf.endswith("__"):
            continue
        if name in allow or any(name.startswith(p + ".") for p in allow_prefix) or \
                covered(name, allow) or covered(name, deny):
            continue
        if any(a.startswith(name + ".") for a in allow | allow_prefix) or name in allow_prefix:
            continue  # a deny would shadow an allowed name under it
        why = C_SINKS.get(name, (None, None))[1]
        out.append('    %s("%s"),%s' % (rows[name], name, "" if not why else " /* %s */" % why))
    sys.stdout.write("/* GENERATED by tools/gen_aliases.py: C callables of torch, numpy and the\n"
                     " * standard library with a capability, and the other names (by object\n"
                     " * identity) of every callable a deny entry names. %d entries. Do not\n"
                     " * edit. */\n" % len(out))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
