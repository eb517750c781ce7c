#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Differential test: ckptscan against CPython's own (C) unpickler.

Usage: run_diff.py --ckptscan PATH [--count N] [--seed S] [--workdir DIR] [--keep]

Generates pickles (gen_pickles.py), loads each with a recording subclass of
pickle.Unpickler whose find_class never imports anything, scans them with
`ckptscan --format json`, and checks per file:

  (a) every (module, name) CPython's find_class received is in the report's
      imports, as the same raw (module, name);
  (b) if any of those imports is not `allowed` in the report, the verdict is
      not safe (a call-through the policy grades by what it reaches, such as
      functools.partial, counts through its target: see GRADED);
  (c) if CPython's load stopped with a stream error before the end of the
      data, the verdict is not safe, unless it failed in the first pickle
      before any import and ckptscan reads the file as something else than a
      pickle (a data format, a tar, ...; issue 13: a reading that fails
      before any import ran nothing);
  (d) the exit status matches the verdicts (the highest of: 0 safe,
      1 suspicious, 2 error, 3 dangerous);
  plus (e) a name that can never be on an allowlist (os.*, subprocess.*,
  builtins.eval, dunder walks, odd characters, ...: must_deny below) is not
  reported `allowed`; (f) when the protocol in force at an import is known,
  the report's `resolved` is the name after the _compat_pickle mapping
  CPython applies; (g) an import CPython called (REDUCE, INST, OBJ, NEWOBJ,
  NEWOBJ_EX) has a nonzero `calls` count in the report.

Prints `N passed, M failed` last and exits 1 if anything failed. See
README.md for the details of what counts as a stream error.
"""

import argparse
import concurrent.futures
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))

# Exceptions that mean "the byte stream is bad", as opposed to errors that a
# stand-in object or a data-level type mismatch can cause (TypeError,
# AttributeError). ValueError covers int/float parsing, unsupported
# protocols, unregistered EXT codes and UnicodeDecodeError; KeyError is what
# some 3.x versions raise for a GET of an empty memo slot; OverflowError and
# MemoryError come from lengths and memo indices read from the file.
STREAM_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, KeyError, OverflowError,
                 MemoryError)

# An independent oracle for "can never be exactly on an allowlist": whatever
# ckptscan's allowlist holds, a name it allows must not be one of these
# (ATTACKS.md C and D). Applied to the name as find_class resolves it.
DENY_ROOTS = {
    "os", "posix", "nt", "subprocess", "_posixsubprocess", "pty", "runpy", "timeit", "cProfile",
    "profile", "trace", "bdb", "pdb", "code", "codeop", "ctypes", "_ctypes", "socket", "_socket",
    "ssl", "http", "urllib", "xmlrpc", "socketserver", "requests", "aiohttp", "smtplib", "ftplib",
    "poplib", "nntplib", "telnetlib", "shutil", "tempfile", "tarfile", "zipfile", "glob",
    "webbrowser", "venv", "pip", "ensurepip", "asyncio", "importlib", "pickle", "_pickle", "dill",
    "cloudpickle", "marshal", "sys", "gc", "site", "zipimport", "threading", "_thread", "signal",
    "atexit", "dbm", "shelve", "sqlite3", "linecache", "fileinput", "idlelib", "lib2to3",
    "picklescan", "modelscan", "fickling", "modelaudit", "multiprocessing", "_multiprocessing",
    "posixpath", "ntpath", "_io", "_dummy_thread", "mymodule",
}
DENY_EXACT = {
    "builtins.eval", "builtins.exec", "builtins.compile", "builtins.getattr", "builtins.setattr",
    "builtins.delattr", "builtins.__import__", "builtins.vars", "builtins.globals",
    "builtins.locals", "builtins.open", "builtins.input", "builtins.breakpoint", "builtins.exit",
    "builtins.quit", "copyreg._reconstructor", "copyreg.add_extension", "copyreg.__newobj__",
    "functools.partial", "functools.reduce", "operator.attrgetter", "operator.itemgetter",
    "operator.methodcaller", "operator.call", "operator.getitem", "_operator.attrgetter",
    "_operator.itemgetter", "_operator.methodcaller", "io.open", "io.FileIO", "codecs.open",
    "pydoc.locate", "pydoc.pipepager", "pkgutil.resolve_name", "inspect.getattr_static",
    "typing.get_type_hints", "types.CodeType", "types.FunctionType", "dataclasses._create_fn",
    "torch.load", "torch.serialization.load", "torch.storage._load_from_bytes", "numpy.load",
    "joblib.load", "pandas.read_pickle", "uuid._get_command_stdout", "string.Formatter",
    "doctest.debug_script", "logging.config.listen", "logging.config.fileConfig",
}
DENY_COMPONENTS = {"os", "posix", "nt", "sys", "subprocess", "system", "popen", "eval", "exec",
                   "compile", "getattr", "setattr", "builtins", "importlib", "modules"}
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")


def must_deny(module, name):
    """True when (module, qualname), as resolved, cannot be allowlisted."""
    if not module or not name or any(c not in NAME_CHARS for c in module + name):
        return True
    mparts, nparts = module.split("."), name.split(".")
    if "" in mparts or "" in nparts:
        return True
    if any(p.startswith("__") and p.endswith("__") for p in mparts + nparts):
        return True
    if mparts[0] in DENY_ROOTS or module + "." + name in DENY_EXACT:
        return True
    if module.startswith(("logging.config", "logging.handlers", "asyncio.")):
        return True
    return any(p in DENY_COMPONENTS for p in nparts)


# ---------------------------------------------------------------------------
# Ground truth (runs in a worker process with memory and CPU limits)


class _AbsorbMeta(type):
    """Metaclass of the stand-ins: calling a stand-in class records the call
    and gives a Result; item assignment is accepted."""

    def __call__(cls, *args, **kwargs):
        cls._hit()
        return Result

    def __getattr__(cls, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Result

    def __setitem__(cls, key, value):
        pass
    # No __getitem__: it would make the class an endless iterable, and the
    # pure-Python unpickler unpacks NEWOBJ_EX arguments with *args.


class _StandInBase(metaclass=_AbsorbMeta):
    """A type (so NEWOBJ accepts it) whose every operation accepts
    anything. find_class returns a fresh subclass per import, so a call
    (REDUCE, INST, OBJ through the metaclass; NEWOBJ through __new__) is
    attributed to that import."""

    _calls = None
    _rec = 0

    def __new__(cls, *args, **kwargs):
        cls._hit()
        return Result

    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def _hit(cls):
        if cls._calls is not None:
            cls._calls[cls._rec] += 1

    def __setstate__(*args, **kwargs):
        pass

    def append(*args, **kwargs):
        pass

    def extend(*args, **kwargs):
        pass

    def add(*args, **kwargs):
        pass

    def __getinitargs__(*args):
        return ()


# What calls, attributes and persistent_load give: absorbs everything too,
# but calling it is not a call of an imported name.
Result = _AbsorbMeta("Result", (_StandInBase,), {})


def top_level_persid(u):
    """A persistent id in the file's first pickle before any import: every
    loader that reads offset 0 of a file (pickle.load, joblib, numpy.load,
    torch.load's legacy magic number) has no persistent_load and raises
    there; elsewhere (torch's data.pkl) persistent_load answers."""
    if u.start == 0 and not u.seen:
        raise pickle.UnpicklingError("persistent id before any import at offset 0: "
                                     "no top-level loader has persistent_load")
    return Result


def _make_recorders():
    def standin(u, module, name):
        u.calls.append(0)
        return _AbsorbMeta("StandIn", (_StandInBase,), {"_calls": u.calls, "_rec": len(u.calls) - 1})

    class CRecorder(pickle.Unpickler):
        """The C unpickler; find_class gets the raw names (the protocol < 3
        mapping happens inside the default find_class, never reached)."""

        def find_class(self, module, name):
            self.seen.append((module, name))
            self.starts.append(self.start)
            return standin(self, module, name)

        def persistent_load(self, pid):
            return top_level_persid(self)

    class PyRecorder(pickle._Unpickler):
        """The pure-Python unpickler, used only to learn the protocol in
        force at each find_class (it exposes self.proto)."""

        def find_class(self, module, name):
            self.seen.append((module, name, self.proto))
            self.starts.append(self.start)
            return standin(self, module, name)

        def persistent_load(self, pid):
            return top_level_persid(self)

    return CRecorder, PyRecorder


def _load_all(cls, path, encoding, in_memory=False):
    """Loads every pickle of the file in sequence, like torch's legacy
    loader. Returns (imports, calls per import, error or None, pickles
    loaded, offset of the pickle each import was in). in_memory reads from
    a BytesIO, whose read(n) never allocates more than is left (the
    pure-Python unpickler would otherwise allocate lengths it reads)."""
    size = os.path.getsize(path)
    seen = []
    calls = []
    starts = []
    loaded = 0
    error = None
    with open(path, "rb") as f:
        if in_memory:
            f = io.BytesIO(f.read())
        while f.tell() < size:
            u = cls(f, encoding=encoding)
            u.seen = seen
            u.calls = calls
            u.starts = starts
            u.start = f.tell()
            try:
                u.load()
                loaded += 1
            except BaseException as e:  # noqa: BLE001 - recorded, not handled
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                msg = str(e)
                error = {"type": type(e).__name__, "msg": msg[:200],
                         "stream": isinstance(e, STREAM_ERRORS), "offset": _tell(f)}
                break
    return seen, calls, error, loaded, starts


def _tell(f):
    try:
        return f.tell()
    except (OSError, ValueError):
        return -1


def ground_truth(path):
    """What CPython does with the file."""
    CRecorder, PyRecorder = _make_recorders()
    imports, calls, error, loaded, starts = _load_all(CRecorder, path, "ASCII")
    called = {x for x, c in zip(imports, calls) if c}
    out = {"path": path, "imports": imports, "error": error, "loaded": loaded,
           "latin1": False, "latin1_from": len(imports)}
    if error is not None and error["type"] == "UnicodeDecodeError":
        # STRING/BINSTRING under the default encoding='ASCII' fail on
        # non-ASCII bytes, but torch (utf-8) and numpy (latin1) load them:
        # judge the stream by the most permissive encoding, and require
        # every import either reading reaches.
        imports2, calls2, error2, loaded2, _ = _load_all(CRecorder, path, "latin1")
        called |= {x for x, c in zip(imports2, calls2) if c}
        out["latin1"] = True
        out["error"] = error2
        out["loaded"] = loaded2
        out["imports"] = imports + [x for x in imports2 if x not in imports]
    out["called"] = sorted(called)
    # The protocol in force at each import, from the pure-Python unpickler,
    # as long as it reads the same imports in the same pickles (it enforces
    # frames, so after a frame that outlives its STOP the next pickle starts
    # elsewhere for it).
    py_imports, py_starts = [], []
    if imports:
        py = _load_all(PyRecorder, path, "ASCII", True)
        py_imports, py_starts = py[0], py[4]
    protos = []
    for (cm, cn), cs, (pm, pn, proto), ps in zip(imports, starts, py_imports, py_starts):
        if (cm, cn, cs) != (pm, pn, ps):
            break
        protos.append(proto)
    out["protos"] = protos  # protocol at find_class for imports[:len(protos)]
    return out


def worker_main():
    """--truth-worker: paths on stdin, one JSON result per line on stdout."""
    # A memo index or a length read from the file makes the C unpickler
    # allocate that much: fail with MemoryError instead of swapping. 1 GiB
    # still lets CPython reach ckptscan's default max-memo (50M slots).
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    except (ImportError, ValueError, OSError):
        pass
    # STRING escapes warn; bytearray buffers can report unraisable errors.
    warnings.simplefilter("ignore")
    sys.unraisablehook = lambda unraisable: None
    for line in sys.stdin:
        path = line.rstrip("\n")
        if not path:
            continue
        res = ground_truth(path)
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()
    return 0


def run_truth(paths, timeout):
    """Ground truth for every path, in worker processes. A file that kills
    its worker is recorded as a crash and the worker restarted."""
    results = {}
    todo = list(paths)
    while todo:
        # stderr is kept for crashes only: CPython's bytearray prints a
        # SystemError for some truncated BYTEARRAY8 reads.
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--truth-worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                errors="replace")
        try:
            out, err = proc.communicate("\n".join(todo) + "\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        done = 0
        for line in out.splitlines():
            try:
                res = json.loads(line)
            except ValueError:
                break
            results[res["path"]] = res
            done += 1
        if done < len(todo):
            bad = todo[done]
            print("run_diff: CPython worker died on %s (rc=%s): %s"
                  % (bad, proc.returncode, err[-2000:]), file=sys.stderr)
            results[bad] = {"path": bad, "imports": [], "loaded": 0, "latin1": False, "latin1_from": 0,
                            "called": [],
                            "protos": [], "error": {"type": "WorkerCrash",
                                                    "msg": "rc=%s" % proc.returncode,
                                                    "stream": False, "offset": -1}}
            done += 1
        todo = todo[done:]
    return results


# ---------------------------------------------------------------------------
# ckptscan


def run_ckptscan(exe, paths, timeout):
    """Returns (exit status, {path: report}) or raises RuntimeError."""
    cmd = [exe, "--format", "json", "--"] + paths
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError("timed out after %ss" % timeout)
    if p.returncode < 0:
        raise RuntimeError("killed by signal %d" % -p.returncode)
    try:
        doc = json.loads(p.stdout.decode("utf-8"))
    except ValueError as e:
        raise RuntimeError("exit %d, unparsable JSON (%s); stderr: %s"
                           % (p.returncode, e, p.stderr.decode("utf-8", "replace")[:500]))
    reports = {}
    for rep in doc.get("files", []):
        reports[rep.get("path")] = rep
    return p.returncode, reports


def expected_status(verdicts):
    if "dangerous" in verdicts:
        return 3
    if "error" in verdicts:
        return 2
    if "suspicious" in verdicts:
        return 1
    return 0


def scan_all(exe, paths, jobs, batch, timeout):
    """{path: (report or None, problem or None, per-file exit or None)}."""
    batches = [paths[i:i + batch] for i in range(0, len(paths), batch)]
    out = {}

    def one_batch(b):
        res = {}
        try:
            rc, reports = run_ckptscan(exe, b, timeout)
        except RuntimeError as e:
            return None, str(e)
        for p in b:
            res[p] = reports.get(p)
        verdicts = {r.get("verdict") for r in res.values() if r}
        missing = [p for p in b if res[p] is None]
        if missing or rc != expected_status(verdicts):
            return None, "batch exit %d / %d missing reports" % (rc, len(missing))
        return res, None

    def single(p):
        try:
            rc, reports = run_ckptscan(exe, [p], timeout)
        except RuntimeError as e:
            return p, (None, "ckptscan " + str(e), None)
        rep = reports.get(p)
        if rep is None:
            return p, (None, "no report for the file (exit %d)" % rc, rc)
        return p, (rep, None, rc)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        retry = []
        for b, (res, problem) in zip(batches, ex.map(one_batch, batches)):
            if res is None:
                # Pinpoint: scan each file of the batch on its own.
                retry.extend(b)
            else:
                for p in b:
                    out[p] = (res[p], None, None)
        for p, r in ex.map(single, retry):
            out[p] = r
    return out


def sample_single(exe, paths, reports, k, jobs, timeout):
    """Per-file runs for a sample covering every verdict: checks the exit
    status of one file and that a lone scan agrees with the batch scan."""
    by_verdict = {}
    for p in paths:
        rep = reports[p][0]
        if rep is not None and reports[p][2] is None:
            by_verdict.setdefault(rep.get("verdict"), []).append(p)
    chosen = []
    for v in sorted(by_verdict, key=str):
        chosen.extend(by_verdict[v][:max(1, k // max(1, len(by_verdict)))])
    chosen = chosen[:max(k, len(by_verdict))]

    def single(p):
        try:
            rc, reps = run_ckptscan(exe, [p], timeout)
        except RuntimeError as e:
            return p, None, str(e)
        return p, rc, reps.get(p)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for p, rc, rep in ex.map(single, chosen):
            batch_rep = reports[p][0]
            if rc is None:
                reports[p] = (batch_rep, "single-file run: " + str(rep), None)
            elif rep is None or rep.get("verdict") != batch_rep.get("verdict"):
                reports[p] = (batch_rep, "single-file run gave verdict %r, batch gave %r"
                              % (rep and rep.get("verdict"), batch_rep.get("verdict")), rc)
            else:
                reports[p] = (batch_rep, None, rc)
    return len(chosen)


# ---------------------------------------------------------------------------
# Comparison


def cpython_key(s):
    """The bytes a CPython name stands for (lone surrogates as BINUNICODE's
    surrogatepass decoder read them)."""
    return s.encode("utf-8", "surrogatepass")


def report_key(s):
    """The bytes a name in ckptscan's JSON stands for (invalid UTF-8 bytes
    are written as U+DC80..U+DCFF, like Python's surrogateescape)."""
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def resolve_pair(module, name, proto):
    """find_class's protocol < 3 mapping (_compat_pickle), nothing imported."""
    import _compat_pickle
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def compat_resolve(module, name, proto):
    return "%s.%s" % resolve_pair(module, name, proto)


def name_keys(s, latin1_only):
    """Byte forms a CPython name may have in the file. A name only the
    latin1 retry reached may come from a BINSTRING whose raw bytes are not
    UTF-8; ckptscan then reports the raw bytes."""
    keys = [cpython_key(s)]
    if latin1_only:
        try:
            keys.append(s.encode("latin-1"))
        except UnicodeEncodeError:
            pass
    return keys


# ckptscan cuts strings longer than this many bytes in reports, adding
# "..." (src/context/report.c MAX_REPORT_STRING); a cut name matches a longer
# CPython name that starts with the kept bytes.
REPORT_CUT = 4096


def same_name(cpy, rep):
    """cpy: bytes of a CPython name; rep: bytes of a report string."""
    if cpy == rep:
        return True
    return (len(rep) == REPORT_CUT + 3 and rep.endswith(b"...") and len(cpy) > REPORT_CUT
            and cpy.startswith(rep[:REPORT_CUT]))


def check(truth, rep, problem, rc):
    """List of failure reasons (empty when the file passes)."""
    fails = []
    if rep is None:
        return [problem or "no report"]
    if problem:
        fails.append(problem)
    verdict = rep.get("verdict")
    if verdict not in ("safe", "suspicious", "dangerous", "error"):
        fails.append("bad verdict %r" % verdict)
    index = {}
    cut = []
    for im in rep.get("imports", []):
        key = (report_key(im.get("module", "")), report_key(im.get("name", "")))
        index.setdefault(key, []).append(im)
        if key[0].endswith(b"...") or key[1].endswith(b"..."):
            cut.append((key, im))
    protos = truth.get("protos", [])
    latin1_from = truth.get("latin1_from", len(truth["imports"]))
    not_allowed = []
    truth_called = {tuple(x) for x in truth.get("called", [])}
    done = set()
    for i, (m, n) in enumerate(truth["imports"]):
        proto = protos[i] if i < len(protos) else None
        if (m, n, proto) in done:
            continue
        done.add((m, n, proto))
        entries = []
        for km in name_keys(m, i >= latin1_from):
            for kn in name_keys(n, i >= latin1_from):
                entries += index.get((km, kn), [])
                entries += [im for (rm, rn), im in cut
                            if same_name(km, rm) and same_name(kn, rn) and (rm, rn) != (km, kn)]
        if not entries:
            fails.append("(a) CPython imported (%r, %r); not in the report's imports" % (m, n))
            continue
        all_entries = entries
        if proto is not None:
            want = compat_resolve(m, n, proto)
            match = [im for im in entries if same_name(cpython_key(want), report_key(im.get("resolved", "")))]
            if not match:
                fails.append("(f) (%r, %r) at protocol %d resolves to %r; report says %r"
                             % (m, n, proto, want, [im.get("resolved") for im in entries]))
            else:
                entries = match
            deny = must_deny(*resolve_pair(m, n, proto))
        else:
            deny = must_deny(m, n) and must_deny(*resolve_pair(m, n, 0))
        if any(not im.get("allowed", False) for im in entries) and not graded(rep, entries):
            not_allowed.append((m, n))
        if deny and any(im.get("allowed", False) for im in entries):
            fails.append("(e) (%r, %r) reported as allowed; it can never be on an allowlist" % (m, n))
        if (m, n) in truth_called and not sum(im.get("calls", 0) for im in all_entries):
            fails.append("(g) CPython called (%r, %r); the report counts no call of it" % (m, n))
    if not_allowed and verdict == "safe":
        fails.append("(b) verdict safe although %r not allowed" % (not_allowed,))
    err = truth.get("error")
    # issue 13: a first pickle that fails before any import ran nothing under
    # any loader; ckptscan may then say the file is no pickle (a data format,
    # or another format that holds, such as a tar) and SAFE
    ran_nothing = (not truth["imports"] and not truth.get("loaded")
                   and rep.get("format") not in PICKLE_FORMATS)
    if err and err.get("stream") and verdict == "safe" and not ran_nothing:
        fails.append("(c) verdict safe although CPython failed: %s: %s at offset %s"
                     % (err["type"], err["msg"], err["offset"]))
    if rc is not None and rc != expected_status({verdict}):
        fails.append("(d) exit status %d for verdict %s" % (rc, verdict))
    return fails


# formats whose main reading is the pickle at offset 0
PICKLE_FORMATS = {"pickle", "torch-legacy"}


# Call-throughs the policy judges by what they reach (README, "The policy"):
# getattr(C, 'NAME') is the import C.NAME, partial(f) is f, and so on. What
# they reach is itself an import, checked by (b); the call-through alone, with
# no finding for it, may be SAFE (partial(1) only raises TypeError).
GRADED = {"builtins.getattr", "functools.partial", "copyreg._reconstructor",
          "dill._dill._create_array", "operator.getitem", "_operator.getitem",
          "torch.storage._load_from_bytes"}


def graded(rep, entries):
    """The import is a graded call-through and the report has no finding on it."""
    names = {im.get("resolved", "") for im in entries}
    if not names <= GRADED:
        return False
    return not any(f.get("global", "") in names for f in rep.get("findings", []))


def hexdump(data, limit=200):
    lines = []
    for off in range(0, min(len(data), limit), 16):
        chunk = data[off:off + 16]
        hx = " ".join("%02x" % b for b in chunk)
        txt = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append("    %04x  %-47s  %s" % (off, hx, txt))
    if len(data) > limit:
        lines.append("    ... (%d bytes in all)" % len(data))
    return "\n".join(lines)


def describe(path, truth, rep, reasons):
    with open(path, "rb") as f:
        data = f.read()
    out = ["FAIL %s" % path]
    out += ["  - " + r for r in reasons]
    out.append("  bytes: %r" % data[:200] if len(data) <= 200 else "  bytes (first 200): %r" % data[:200])
    out.append(hexdump(data))
    out.append("  CPython: imports=%r loaded=%d error=%r%s" % (
        [tuple(x) for x in truth["imports"]], truth["loaded"], truth["error"],
        " (latin1 retry)" if truth.get("latin1") else ""))
    if rep is not None:
        out.append("  ckptscan: verdict=%s format=%s error=%r" % (rep.get("verdict"), rep.get("format"),
                                                                  rep.get("error")))
        out.append("    imports: %r" % [(i.get("module"), i.get("name"), i.get("resolved"), i.get("allowed"))
                                        for i in rep.get("imports", [])])
        fnd = rep.get("findings", [])
        for f in fnd[:15]:
            out.append("    finding %s/%s @%s %s %s: %s" % (f.get("code"), f.get("severity"), f.get("offset"),
                                                       f.get("opcode"), f.get("global"), f.get("message")))
        if len(fnd) > 15:
            out.append("    ... %d more findings" % (len(fnd) - 15))
    return "\n".join(out)


# ---------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description="Differential test of ckptscan against CPython's unpickler.")
    ap.add_argument("--ckptscan", required=True, help="path to the ckptscan executable")
    ap.add_argument("--count", type=int, default=20000, help="files to generate (default 20000)")
    ap.add_argument("--seed", default="1", help="generator seed (default 1)")
    ap.add_argument("--workdir", help="generate here (kept) instead of a temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--jobs", type=int, default=2, help="parallel ckptscan processes (default 2)")
    ap.add_argument("--batch", type=int, default=400, help="files per ckptscan run (default 400)")
    ap.add_argument("--single-sample", type=int, default=40,
                    help="files also scanned one per process to check exit status (default 40)")
    ap.add_argument("--max-details", type=int, default=40,
                    help="failures printed in full; the rest get one line (default 40)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per ckptscan run")
    args = ap.parse_args(argv)

    exe = os.path.abspath(args.ckptscan)
    if not os.access(exe, os.X_OK):
        print("run_diff: %s is not executable" % exe, file=sys.stderr)
        return 2
    sys.path.insert(0, HERE)
    import gen_pickles

    t0 = time.monotonic()
    if args.workdir:
        workdir, temp = os.path.abspath(args.workdir), False
    else:
        workdir, temp = tempfile.mkdtemp(prefix="ckptscan-diff-"), True
    paths = gen_pickles.generate(workdir, args.count, args.seed)
    t_gen = time.monotonic()
    truths = run_truth(paths, timeout=max(600.0, args.timeout))
    t_truth = time.monotonic()
    scans = scan_all(exe, paths, args.jobs, args.batch, args.timeout)
    nsingle = sample_single(exe, paths, scans, args.single_sample, args.jobs, args.timeout)
    t_scan = time.monotonic()

    failed = []
    stats = {"verdicts": {}, "cpython_errors": 0, "cpython_imports": 0}
    for p in paths:
        rep, problem, rc = scans[p]
        reasons = check(truths[p], rep, problem, rc)
        if rep is not None:
            v = rep.get("verdict")
            stats["verdicts"][v] = stats["verdicts"].get(v, 0) + 1
        stats["cpython_errors"] += truths[p]["error"] is not None
        stats["cpython_imports"] += len(truths[p]["imports"])
        if reasons:
            failed.append((p, reasons))

    for k, (p, reasons) in enumerate(failed):
        if k < args.max_details:
            print(describe(p, truths[p], scans[p][0], reasons))
            print()
        else:
            print("FAIL %s: %s" % (p, "; ".join(reasons)))
    print("seed %s: %d files (generate %.1fs, CPython %.1fs, ckptscan %.1fs, %d single-file runs);"
          " CPython: %d imports, %d files with errors; verdicts: %s"
          % (args.seed, len(paths), t_gen - t0, t_truth - t_gen, t_scan - t_truth, nsingle,
             stats["cpython_imports"], stats["cpython_errors"],
             ", ".join("%s %d" % kv for kv in sorted(stats["verdicts"].items(), key=str))))
    if failed and temp and not args.keep:
        print("failing files kept in %s" % workdir)
    elif temp and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    elif args.keep or not temp:
        print("files in %s" % workdir)
    print("%d passed, %d failed" % (len(paths) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--truth-worker":
        sys.exit(worker_main())
    sys.exit(main())
