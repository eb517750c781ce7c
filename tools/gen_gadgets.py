#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generates denylist entries (src/policy/policy_gadgets.inc) for callables of the
standard library, torch, numpy and joblib whose source reaches code
execution, commands, native code, file writes, file reads, deserialisers or
the network (issue 12, root cause 8: grade by capability, not by a list).

It reads source files with `ast` and imports nothing it analyses. For each
module-level function, class and method it collects the names the body
uses (resolving the module's imports: `import os as _os`, `from subprocess
import Popen`), classifies direct sinks, and propagates through calls to
other analysed callables (same module, and across modules through imports)
until nothing changes. A class is a gadget when its constructor or
__setstate__/__reduce__-era methods reach a sink (calling the class runs
them); each method is an entry of its own (dotted names reach methods).
Names already allowed by a built-in profile, or already matched by a
built-in deny entry, are left out. Run with /usr/bin/python3:

    /usr/bin/python3 tools/gen_gadgets.py > src/policy/policy_gadgets.inc
"""
import ast
import os
import re
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "src", "policy")

# direct sinks: dotted target -> category (most severe first when several)
SINKS = {
    "builtins.exec": "EXEC", "builtins.eval": "EXEC", "builtins.compile": "EXEC",
    "builtins.__import__": "TRAMP", "importlib.import_module": "TRAMP",
    "os.system": "CMD", "os.popen": "CMD", "os.execv": "CMD", "os.execve": "CMD",
    "os.execl": "CMD", "os.execlp": "CMD", "os.execvp": "CMD", "os.execvpe": "CMD",
    "os.spawnv": "CMD", "os.spawnve": "CMD", "os.spawnl": "CMD", "os.posix_spawn": "CMD",
    "os.posix_spawnp": "CMD", "os.fork": "CMD", "os.startfile": "CMD",
    "subprocess.*": "CMD", "pty.spawn": "CMD", "_posixsubprocess.*": "CMD",
    "ctypes.*": "NATIVE", "_ctypes.*": "NATIVE", "cffi.*": "NATIVE",
    "pickle.load": "NEST", "pickle.loads": "NEST", "pickle.Unpickler": "NEST",
    "marshal.loads": "EXEC", "marshal.load": "EXEC",
    "torch.load": "NEST", "numpy.load": "NEST",
    "socket.*": "NET", "urllib.request.urlopen": "NET", "http.client.*": "NET",
    "os.remove": "FILEW", "os.unlink": "FILEW", "os.rmdir": "FILEW", "os.rename": "FILEW",
    "os.replace": "FILEW", "os.makedirs": "FILEW", "os.mkdir": "FILEW", "os.symlink": "FILEW",
    "os.link": "FILEW", "os.chmod": "FILEW", "os.chown": "FILEW", "os.truncate": "FILEW",
    "os.write": "FILEW", "os.open": "FILEW", "os.fdopen": "FILEW", "os.mkfifo": "FILEW",
    "shutil.*": "FILEW", "tempfile.*": "FILEW", "mmap.mmap": "FILEW",
    "builtins.open": "FILE", "io.open": "FILE", "io.FileIO": "FILE", "codecs.open": "FILE",
    "os.listdir": "FILE", "os.scandir": "FILE", "os.walk": "FILE", "os.stat": "FILE",
}
RANK = {"EXEC": 0, "CMD": 1, "NATIVE": 2, "NEST": 3, "TRAMP": 4, "FILEW": 5, "NET": 6, "FILE": 7}
MACRO = {"EXEC": "EXEC", "CMD": "CMD", "NATIVE": "NATIVE", "NEST": "NEST", "TRAMP": "TRAMP",
         "FILEW": "FILEW", "NET": "NET", "FILE": "FILEIO"}
# methods run when a class is called or unpickled
CTOR_METHODS = {"__init__", "__new__", "__setstate__", "__call__", "__init_subclass__",
                "__class_getitem__", "__post_init__"}


def sink_of(dotted):
    if dotted in SINKS:
        return SINKS[dotted]
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        c = SINKS.get(".".join(parts[:i]) + ".*")
        if c:
            return c
    return None


def worst(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a if RANK[a] <= RANK[b] else b


def module_files(root, prefix):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in ("test", "tests", "testing", "__pycache__",
                                                        "site-packages", "dist-packages",
                                                        "idlelib", "lib2to3", "tkinter")]
        rel = os.path.relpath(dirpath, root)
        pkg = prefix if rel == "." else prefix + "." + rel.replace(os.sep, ".")
        for f in filenames:
            if not f.endswith(".py"):
                continue
            mod = pkg if f == "__init__.py" else pkg + "." + f[:-3]
            yield mod.strip("."), os.path.join(dirpath, f)


def stdlib_files():
    root = sysconfig.get_paths()["stdlib"]
    for f in sorted(os.listdir(root)):
        p = os.path.join(root, f)
        if f.endswith(".py"):
            yield f[:-3], p
        elif os.path.isdir(p) and os.path.exists(os.path.join(p, "__init__.py")):
            yield from module_files(p, f)


class Module:
    def __init__(self, name, tree):
        self.name = name
        self.alias = {"open": "builtins.open", "exec": "builtins.exec", "eval": "builtins.eval",
                      "compile": "builtins.compile", "__import__": "builtins.__import__"}
        self.funcs = {}  # qualname -> (node, is_class)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.alias[a.asname or a.name.split(".")[0]] = a.name if a.asname else \
                        a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    self.alias[a.asname or a.name] = node.module + "." + a.name
            elif isinstance(node, ast.ImportFrom) and node.level:
                base = name.split(".")[:-node.level] if not name.endswith("__init__") else \
                    name.split(".")
                mod = ".".join(base + ([node.module] if node.module else []))
                for a in node.names:
                    self.alias[a.asname or a.name] = mod + "." + a.name
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.funcs[node.name] = (node, False)
                self.alias.setdefault(node.name, name + "." + node.name)
            elif isinstance(node, ast.ClassDef):
                self.funcs[node.name] = (node, True)
                self.alias.setdefault(node.name, name + "." + node.name)
                for sub in node.body:
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.funcs[node.name + "." + sub.name] = (sub, False)

    def dotted(self, node):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.alias.get(node.id)
        if head is None:
            return None
        return ".".join([head] + parts[::-1])

    def uses(self, node):
        """Dotted names a function body calls (decorators and defaults run at
        import, not at the call, and are left out)."""
        out = set()
        for n in (x for stmt in node.body for x in ast.walk(stmt)):
            if isinstance(n, ast.Call):
                d = self.dotted(n.func)
                if d:
                    if d == "builtins.open" and not writes(n):
                        out.add("builtins.open#read")
                    else:
                        out.add(d)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and \
                    isinstance(n.func.value, ast.Name) and n.func.value.id == "self":
                out.add("self." + n.func.attr)
        return out


def writes(call):
    """open(...) whose mode may write (or is not a constant)."""
    mode = call.args[1] if len(call.args) > 1 else None
    for k in call.keywords:
        if k.arg == "mode":
            mode = k.value
    if mode is None:
        return False
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return bool(set(mode.value) & set("wax+"))
    return True


def load_list(pattern, text):
    return set(re.findall(pattern, text))


def covered(name, entries):
    """True when name or a module prefix of it (as `prefix.*`) is in entries."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        p = ".".join(parts[:i])
        if p in entries or p + ".*" in entries:
            return True
    return False


def main():
    roots = []
    import importlib.util
    for pkg in ("torch", "numpy", "joblib"):
        spec = importlib.util.find_spec(pkg)  # finds the directory; runs nothing of it
        roots.append((pkg, os.path.dirname(spec.origin)))
    files = list(stdlib_files())
    for pkg, root in roots:
        files += list(module_files(root, pkg))
    mods = {}
    for name, path in files:
        try:
            with open(path, "rb") as f:
                tree = ast.parse(f.read(), path)
        except (SyntaxError, ValueError, OSError):
            continue
        mods[name] = Module(name, tree)
    cat = {}  # "module.qualname" -> category
    uses = {}
    for m in mods.values():
        for q, (node, is_class) in m.funcs.items():
            full = m.name + "." + q
            u = set()
            if is_class:
                for sub in node.body:
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                            sub.name in CTOR_METHODS:
                        u.add(full + "." + sub.name)
            else:
                for d in m.uses(node):
                    if d.startswith("self.") and "." in q:
                        u.add(m.name + "." + q.rsplit(".", 1)[0] + "." + d[5:])
                    else:
                        u.add(d)
            uses[full] = u
            c = None
            for d in u:
                c = worst(c, "FILE" if d == "builtins.open#read" else sink_of(d))
            if c:
                cat[full] = c
    for _ in range(8):
        changed = False
        for full, u in uses.items():
            c = cat.get(full)
            for d in u:
                c2 = cat.get(d)
                if c2 and worst(c, c2) != c:
                    c = worst(c, c2)
            if c and c != cat.get(full):
                cat[full] = c
                changed = True
        if not changed:
            break
    tables = open(os.path.join(SRC, "policy_tables.c")).read()
    profiles = open(os.path.join(SRC, "policy_profiles.inc")).read()
    allow = load_list(r'\bA\("([^"]+)"\)', tables + profiles)
    allow_prefix = load_list(r'\bAP\("([^"]+)\.\*"', tables + profiles)
    deny_text = tables[tables.index("static const policy_entry deny[]"):]
    deny = load_list(r'\b(?:EXEC|CMD|NATIVE|TRAMP|NEST|FILEIO|FILEW|NET|DEFER|SABOT)\("([^"]+)"\)',
                     deny_text)

    rows = []
    for full in sorted(cat):
        leaf = full.rsplit(".", 1)[-1]
        if leaf.startswith("__") and leaf.endswith("__"):
            continue  # dunders are denied already
        if full in allow or any(full.startswith(p + ".") for p in allow_prefix) or \
                covered(full, allow) or covered(full, deny):
            continue
        if any(a.startswith(full + ".") for a in allow | allow_prefix) or full in allow_prefix:
            continue  # a deny would shadow an allowed name under it
        rows.append('    %s("%s"),' % (MACRO[cat[full]], full))
    sys.stdout.write("/* GENERATED by tools/gen_gadgets.py: callables of the standard library,\n"
                     " * torch, numpy and joblib whose source reaches a sink (exec, commands,\n"
                     " * native code, deserialisers, file writes or reads, network), found by\n"
                     " * AST analysis with calls followed. %d entries. Do not edit. */\n"
                     % len(rows))
    sys.stdout.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
