#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Persistent real-loader worker: records every name a real loader resolves.

Usage: oracle_worker.py [--fork] LOADER   (LOADER: pickle, pypickle, torch, numpy, joblib)

Reads one JSON task per line on stdin, {"id": ..., "path": ...}, and writes one
JSON line per task on stdout, in order (in-process loads first stream each
import, persistent_load call and first call of a resolved name as {"event":
{"imp": [m, n]}} / {"event": {"persid": 1}} / {"event": {"call": [m, n]}}
lines, so that a load that kills the worker keeps them):
  {"id", "loader", "imports": [[module, name], ...], "persid": N,
   "calls": [[module, name, k, reach], ...] (stand-ins the loader called,
   CallLog, after its k-th import; reach: with a callable argument),
   "outcome": "ok" | "error: T: msg" | "died: ..." | "unpatched: ...", "ms": elapsed}

The loader's modules (torch, numpy, joblib) are imported once, by the worker.
Each load gets a fresh temporary directory as working directory, HOME, TMPDIR
and tempfile.tempdir (removed afterwards), an alarm (CKPT_ORACLE_TIMEOUT
seconds, default 10) and an address-space limit. Loads run in the worker itself
(a fork of a process that imported torch costs 100-200 ms on a busy machine);
--fork runs each in a forked child instead (load_containers.py's real
constructors, no isolation needed). The loaders parse the files themselves:

  pickle    pickle.Unpickler (C _pickle) .load() again and again until EOF or error
  pypickle  pickle._Unpickler (Lib/pickle.py, what joblib subclasses) .load()
            once: every Lib/pickle.py user reads one pickle per stream
            (joblib 1.2.0 numpy_pickle.py _unpickle and numpy_pickle_compat.py
            load_compatibility call unpickler.load() once)
  torch     torch.load(path, weights_only=False) on the real path (so torch
            tries the legacy tar format first): zip, legacy and tar
  numpy     numpy.load(path, allow_pickle=True), every .npz member accessed
  joblib    joblib.load(path)

Ground truth: CPython raises the audit event `pickle.find_class` (module, name)
inside the default find_class of both unpicklers, before anything is
imported. An audit hook records it and then aborts that find_class with a
private exception, so the module is never imported; the find_class methods
of the unpicklers the loaders use (a C Unpickler subclass installed as
pickle.Unpickler / pickle.load / pickle.loads, and pickle._Unpickler's) catch
that exception and hand the loader a harmless stand-in (run_diff.py's) or,
for torch, numpy and joblib, one of a short list of plain-data constructors
(load_containers.py's REAL) in a form no file can change for the next load
(resolve_isolated). An audit event outside those find_class methods (an
unpickler this file does not know) is still recorded, and ends that load
("unpatched: ..."), so nothing is ever imported or called for real.
persistent_load functions the loaders set on an unpickler (torch's) are
wrapped and counted.
"""

import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
DIFF = os.path.join(os.path.dirname(HERE), "diff")
sys.path.insert(0, DIFF)

import load_containers  # noqa: E402 - the stand-ins and REAL constructors
from run_diff import _AbsorbMeta, _StandInBase  # noqa: E402


def resolve(module, name):
    """What find_class hands a forked load: a stand-in, or a plain-data
    constructor from a module the loader has already imported."""
    if module.split(".")[0] in ("torch", "numpy", "joblib") and module.split(".")[0] not in sys.modules:
        return standin()
    return load_containers.resolve(module, name)


def standin():
    return _AbsorbMeta("StandIn", (_StandInBase,), {})


def resolve_isolated(module, name):
    """What find_class hands an in-process load: load_containers' REAL
    constructors, but never an object a file could change for the next load.
    Python classes come as a fresh subclass (isinstance still holds: joblib's
    NumpyArrayWrapper, torch.Tensor, Parameter), Python functions as a fresh
    wrapper; numpy.dtype, immutable C types and C functions as they are
    (numpy ignores __setstate__ on its builtin dtype singletons)."""
    import types
    obj = resolve(module, name)
    if isinstance(obj, _AbsorbMeta):
        return obj
    numpy = sys.modules.get("numpy")
    if numpy is not None and obj is numpy.dtype:
        # as it is: numpy ignores __setstate__ on its builtin singletons
        # (dtype('f8', False, False) and the like), every other dtype is new
        return obj
    if isinstance(obj, type):
        if obj.__flags__ & (1 << 9):  # Py_TPFLAGS_HEAPTYPE: a Python class, mutable
            try:
                return type(obj.__name__, (obj,), {"__module__": obj.__module__})
            except TypeError:
                return standin()
        return obj  # a static C type: immutable
    if isinstance(obj, types.FunctionType):
        real = obj

        def wrapper(*args, **kwargs):
            return real(*args, **kwargs)
        return wrapper
    if isinstance(obj, types.BuiltinFunctionType):
        return obj
    return obj  # torch dtypes, layouts, qschemes: C objects without a __dict__


TIMEOUT = int(os.environ.get("CKPT_ORACLE_TIMEOUT", "10"))  # seconds per load
EXTRA_MEMORY = 2 << 30   # address space allowed above what the worker has mapped
LOADERS = ("pickle", "pypickle", "torch", "numpy", "joblib")
PROTO = sys.stdout  # the result channel (main() gives it a descriptor of its own)


class _Resolved(Exception):
    """Raised by the audit hook inside a default find_class: stops the real
    import; the find_class wrappers below turn it into a stand-in."""


class CallLog:
    """The marker that code ran: a stand-in (every name but load_containers'
    plain-data constructors) reports its calls here (REDUCE, INST, OBJ through
    the metaclass, NEWOBJ through __new__); the first call of each name, and
    its first call with a callable argument, are emitted as {"call": [module,
    name], "reach": bool}. reach tells a call-through that reaches something
    (partial(f), getattr(module, ...)) from one that only raises in the real
    loader (partial(1)). The campaign counts the names that resolve to a
    real callable."""

    def __init__(self, rec):
        self.rec, self.seen = rec, set()

    def hit(self, key, reach):
        if (key, reach) not in self.seen:
            self.seen.add((key, reach))
            self.rec.emit({"call": list(key), "reach": reach})


def _reaches(args, kwargs):
    return any(callable(a) for a in args) or any(callable(v) for v in kwargs.values())


class _CountMeta(_AbsorbMeta):
    def __call__(cls, *args, **kwargs):
        cls._reach = _reaches(args, kwargs)
        return super().__call__(*args, **kwargs)


class _CountBase(_StandInBase, metaclass=_CountMeta):
    """run_diff's stand-in, reporting each call with whether an argument is
    callable (CallLog)."""

    _log = None
    _reach = False

    def __new__(cls, *args, **kwargs):
        cls._reach = _reaches(args, kwargs)
        return super().__new__(cls, *args, **kwargs)

    @classmethod
    def _hit(cls):
        if cls._log is not None:
            cls._log.hit(cls._rec, cls._reach)


def counting_standin(log, module, name):
    cls = _CountMeta("StandIn", (_CountBase,), {})
    cls._log, cls._rec = log, (str(module), str(name))
    return cls


class Recorder:
    """State of one load (in the child)."""

    def __init__(self, emit):
        self.emit = emit
        self.depth = 0      # > 0 while a find_class wrapper is on the stack
        self.persid = 0
        self.calls = CallLog(self)

    def audit(self, event, args):
        if event != "pickle.find_class":
            return
        module, name = args
        self.emit({"imp": [module, name]})
        if self.depth <= 0:
            self.emit({"unpatched": [str(module)[:200], str(name)[:200]]})
        raise _Resolved(module, name)


def install(rec, mode="fork"):
    """Puts the recording unpicklers in place. mode: "fork" (a forked child:
    load_containers' real constructors), "isolated" (in-process: the same
    through resolve_isolated) or "standins" (in-process, stand-ins only)."""
    import pickle

    c_base = pickle.Unpickler
    py_find = pickle._Unpickler.find_class

    def wrapped_find(default):
        def find_class(self, module, name):
            rec.depth += 1
            try:
                default(self, module, name)
            except _Resolved:
                if mode == "standins":
                    obj = standin()
                elif mode == "isolated":
                    obj = resolve_isolated(module, name)
                else:
                    obj = resolve(module, name)
                if isinstance(obj, _AbsorbMeta):  # a stand-in: its calls are the marker
                    obj = counting_standin(rec.calls, module, name)
                return obj
            finally:
                rec.depth -= 1
            raise RuntimeError("find_class returned without the audit event")
        return find_class

    def counted(pl):
        def persistent_load(pid):
            rec.persid += 1
            rec.emit({"persid": 1})
            return pl(pid)
        return persistent_load

    class CUnpickler(c_base):
        find_class = wrapped_find(c_base.find_class)

        def __setattr__(self, key, value):
            if key == "persistent_load" and callable(value):
                value = counted(value)
            super().__setattr__(key, value)

    def load(file, **kwargs):
        return CUnpickler(file, **kwargs).load()

    def loads(data, /, **kwargs):
        import io
        return CUnpickler(io.BytesIO(data), **kwargs).load()

    pickle.Unpickler = CUnpickler
    pickle.load = load
    pickle.loads = loads
    pickle._Unpickler.find_class = wrapped_find(py_find)
    py_setattr = pickle._Unpickler.__setattr__

    def py_set(self, key, value):
        if key == "persistent_load" and callable(value):
            value = counted(value)
        py_setattr(self, key, value)
    pickle._Unpickler.__setattr__ = py_set
    if "torch" in sys.modules:
        def no_torchscript(*args, **kwargs):
            raise RuntimeError("TorchScript archive: torch.jit.load is not run")
        sys.modules["torch"].jit.load = no_torchscript
    sys.addaudithook(rec.audit)
    return CUnpickler


def load_all(cls, path):
    """Every pickle of the file in turn until EOF or the first error."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        while f.tell() < size:
            cls(f).load()


def run_loader(loader, path, c_unpickler):
    import pickle
    if loader == "pickle":
        load_all(c_unpickler, path)
    elif loader == "pypickle":
        # one pickle, as joblib.load (numpy_pickle.py _unpickle: one
        # unpickler.load()); torch's legacy multi-pickle stream is C only
        with open(path, "rb") as f:
            pickle._Unpickler(f).load()
    elif loader == "torch":
        import torch
        torch.load(path, weights_only=False)
    elif loader == "numpy":
        import numpy
        r = numpy.load(path, allow_pickle=True)
        errors = []
        for k in getattr(r, "files", []):  # .npz members are read on access
            try:
                r[k]
            except Exception as e:  # noqa: BLE001 - each member is a load of its own
                errors.append("%s: %s: %s" % (k, type(e).__name__, e))
        if hasattr(r, "close"):
            r.close()
        if errors:
            raise RuntimeError("; ".join(errors)[:300])
    elif loader == "joblib":
        import joblib
        joblib.load(path)
    else:
        raise ValueError(loader)


def vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 1 << 30


def child(loader, path, wfd, home):
    """Runs in the forked child; never returns."""
    try:
        os.chdir(home)
        os.environ.update({"HOME": home, "TMPDIR": home})
        tempfile.tempdir = home
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        limit = vm_size() + EXTRA_MEMORY
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        signal.alarm(TIMEOUT)
        warnings.simplefilter("ignore")
        sys.unraisablehook = lambda unraisable: None

        def emit(obj):
            os.write(wfd, (json.dumps(obj) + "\n").encode("utf-8", "surrogatepass"))

        rec = Recorder(emit)
        c_unpickler = install(rec)
        try:
            run_loader(loader, path, c_unpickler)
            emit({"end": "ok"})
        except BaseException as e:  # noqa: BLE001 - the outcome is data
            emit({"end": "error: %s: %s" % (type(e).__name__, str(e)[:200])})
    finally:
        os._exit(0)


def run_one(loader, path, scratch):
    home = tempfile.mkdtemp(prefix="load-", dir=scratch)
    t0 = time.monotonic()
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        child(loader, path, wfd, home)
    os.close(wfd)
    chunks = []
    with os.fdopen(rfd, "rb") as r:
        for chunk in iter(lambda: r.read(65536), b""):
            chunks.append(chunk)
    _pid, status = os.waitpid(pid, 0)
    shutil.rmtree(home, ignore_errors=True)
    imports, outcome, persid, unpatched, calls = [], None, 0, [], []
    for line in b"".join(chunks).decode("utf-8", "surrogatepass").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            break  # cut short by the child's death
        if "imp" in msg:
            imports.append(msg["imp"])
        elif "persid" in msg:
            persid += 1
        elif "call" in msg:
            calls.append(msg["call"] + [len(imports), msg.get("reach", False)])
        elif "unpatched" in msg:
            unpatched.append(msg["unpatched"])
        else:
            outcome = msg["end"]
    if outcome is None:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            outcome = "died: %s" % ("timeout" if sig == signal.SIGALRM else signal.Signals(sig).name)
        else:
            outcome = "died: exit %d" % os.WEXITSTATUS(status)
    if unpatched:
        outcome = "unpatched: find_class of %r outside the recorder" % (unpatched[0],)
    return {"loader": loader, "imports": imports, "persid": persid, "outcome": outcome, "calls": calls,
            "ms": round((time.monotonic() - t0) * 1000, 1)}


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout("timed out after %ds" % TIMEOUT)


def run_inprocess(loader, path, scratch, state):
    """A load in the worker itself (a fork of a process that imported torch
    costs 100-200 ms, this a few ms). find_class hands out stand-ins (pickle,
    pypickle) or resolve_isolated's objects (torch, numpy, joblib), so nothing a
    file reaches can change what the next load sees; each load still gets its
    own working directory (also TMPDIR and tempfile.tempdir) and an alarm."""
    home = tempfile.mkdtemp(prefix="load-", dir=scratch)
    t0 = time.monotonic()
    out = []
    if "rec" not in state:
        rec = Recorder(lambda msg: out.append(msg))
        state["rec"] = rec
        state["cls"] = install(rec, "standins" if loader in ("pickle", "pypickle") else "isolated")
        signal.signal(signal.SIGALRM, _alarm)
    rec, cls = state["rec"], state["cls"]
    def emit(msg):
        # streamed as it happens: a load that kills the worker (numpy reading
        # object pointers from raw bytes can) keeps what it recorded
        out.append(msg)
        if "imp" in msg or "persid" in msg or "call" in msg:
            PROTO.write(json.dumps({"event": msg}) + "\n")
            PROTO.flush()
    rec.emit = emit
    rec.persid = 0
    rec.calls.seen = set()
    outcome = "ok"
    cwd = os.getcwd()
    try:
        os.chdir(home)
        os.environ.update({"HOME": home, "TMPDIR": home})
        tempfile.tempdir = home
        signal.alarm(TIMEOUT)
        run_loader(loader, path, cls)
    except BaseException as e:  # noqa: BLE001 - the outcome is data
        if isinstance(e, KeyboardInterrupt):
            raise
        outcome = "error: %s: %s" % (type(e).__name__, str(e)[:200])
    finally:
        signal.alarm(0)
        os.chdir(cwd)
        tempfile.tempdir = scratch
        shutil.rmtree(home, ignore_errors=True)
    imports = [m["imp"] for m in out if "imp" in m]
    unpatched = [m["unpatched"] for m in out if "unpatched" in m]
    if unpatched:
        outcome = "unpatched: find_class of %r outside the recorder" % (unpatched[0],)
    persid = sum(1 for m in out if "persid" in m)
    calls, nimp = [], 0
    for m in out:  # each call with the number of imports made before it
        nimp += "imp" in m
        if "call" in m:
            calls.append(m["call"] + [nimp, m.get("reach", False)])
    return {"loader": loader, "imports": imports, "persid": persid, "outcome": outcome, "calls": calls,
            "ms": round((time.monotonic() - t0) * 1000, 1)}


def main():
    args = sys.argv[1:]
    fork = "--fork" in args
    args = [a for a in args if a != "--fork"]
    if len(args) != 1 or args[0] not in LOADERS:
        print(__doc__, file=sys.stderr)
        return 2
    loader = args[0]
    inprocess = not fork
    try:
        if loader in ("numpy", "joblib", "torch"):
            import joblib  # noqa: F401
            import joblib.numpy_pickle_compat  # noqa: F401
            import numpy  # noqa: F401
        if loader == "torch":
            import torch
            import torch.jit  # noqa: F401
            torch.set_num_threads(1)  # no thread pool (and none in the parent of a fork)
    except ImportError as e:
        print("oracle_worker: %s; run scripts/install-deps.sh" % e, file=sys.stderr)
        return 2
    if inprocess:
        # A memo index or a length from the file makes CPython allocate it:
        # MemoryError rather than swapping.
        resource.setrlimit(resource.RLIMIT_AS, (vm_size() + EXTRA_MEMORY,) * 2)
        warnings.simplefilter("ignore")
        sys.unraisablehook = lambda unraisable: None
    # The protocol gets a descriptor of its own; whatever a loader prints goes
    # to stderr (a line on stdout would be taken for a result).
    global PROTO
    PROTO = os.fdopen(os.dup(1), "w", encoding="utf-8", errors="surrogatepass")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    scratch = tempfile.mkdtemp(prefix="ckptscan-oracle-%s-" % loader)
    state = {}
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            task = json.loads(line)
            if inprocess:
                res = run_inprocess(loader, task["path"], scratch, state)
            else:
                res = run_one(loader, task["path"], scratch)
            res["id"] = task.get("id")
            PROTO.write(json.dumps(res) + "\n")
            PROTO.flush()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
