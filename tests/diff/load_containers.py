#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Records the (module, name) pairs the real loaders resolve, importing nothing.

Usage: load_containers.py TASKS.json
TASKS.json holds a list of [path, loader], loader one of torch, numpy, joblib.
Prints one JSON line per task, in order:
  {"path", "loader", "imports": [[module, name], ...], "outcome": "ok" | "error: ..." |
   "died: ..."}
Exit status 2 when torch, numpy or joblib cannot be imported (never a skip).

The loaders run for real (torch.load, numpy.load(allow_pickle=True),
joblib.load), each file in a forked child with a memory limit and an alarm,
output thrown away, its imports streamed to the parent as they happen (so
they survive a later failure or crash). What is replaced:
- pickle.Unpickler (the C one), pickle.load and pickle.loads: torch 1.13
  uses the `pickle` module itself (it ignores pickle_module when
  weights_only is off), numpy calls pickle.load, joblib calls pickle.load for
  object arrays. A subclass of the replacement records at its own
  find_class: torch's UnpicklerWrapper (defined inside torch.load) maps
  'torch.tensor' to 'torch._tensor' and answers '*Storage' names itself
  before calling super().find_class, so the raw names are recorded in a
  wrapper that __init_subclass__ puts around the subclass's find_class.
- pickle._Unpickler.find_class (the pure-Python unpickler that joblib's
  NumpyUnpickler and ZipNumpyUnpickler subclass without overriding it).
- torch.jit.load (TorchScript is loaded by C++; refused, recorded as an error).
find_class never imports. It returns a stand-in class that accepts any call,
attribute, __setstate__, append and item assignment, except for a short list
of data constructors (REAL below: tensor and ndarray rebuilders,
OrderedDict, joblib's NumpyArrayWrapper, ...) that are looked up in modules
the loaders have already imported (through the modules' __dict__, so not even
a module __getattr__ runs), so that tensors, storages and raw array bytes are
read as the real loader reads them and loading goes on past them.
"""

import json
import os
import resource
import signal
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run_diff import Result, _AbsorbMeta, _StandInBase  # noqa: E402 - the same stand-ins

TIMEOUT = 20              # seconds per file
EXTRA_MEMORY = 2 << 30    # address space allowed above what the worker has mapped

# Raw (module, name) -> (module, name) of a real object, used instead of a
# stand-in. All are constructors of plain data.
REAL = {}
for _n in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter",
           "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor"):
    REAL[("torch._utils", _n)] = ("torch._utils", _n)
REAL.update({
    ("torch._tensor", "_rebuild_from_type_v2"): ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch._tensor", "Tensor"): ("torch._tensor", "Tensor"),
    ("torch", "Tensor"): ("torch._tensor", "Tensor"),
    ("torch", "Size"): ("torch", "Size"),
    ("torch.serialization", "_get_layout"): ("torch.serialization", "_get_layout"),
    ("torch.nn.parameter", "Parameter"): ("torch.nn.parameter", "Parameter"),
    ("collections", "OrderedDict"): ("collections", "OrderedDict"),
    ("numpy.core.multiarray", "_reconstruct"): ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("numpy.core.multiarray", "scalar"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("joblib.numpy_pickle", "NumpyArrayWrapper"): ("joblib.numpy_pickle", "NumpyArrayWrapper"),
})
for _n in ("set", "frozenset", "bytearray", "complex", "slice", "range", "dict", "list"):
    REAL[("builtins", _n)] = REAL[("__builtin__", _n)] = ("builtins", _n)


def _safe_encode(obj, encoding="utf-8", errors="strict"):
    """_codecs.encode (protocol 2 writes bytes as encode(str, 'latin1')),
    only for codecs that need no import."""
    import _codecs
    if str(encoding).lower().replace("-", "_") in ("latin1", "latin_1", "utf_8", "utf8", "ascii"):
        return _codecs.encode(obj, encoding, errors)
    return Result


def lookup_static(module, name):
    """The object, or None, without importing or running __getattr__."""
    obj = sys.modules.get(module)
    for part in name.split("."):
        if obj is None:
            return None
        obj = vars(obj).get(part) if hasattr(obj, "__dict__") else None
    return obj


def resolve(module, name):
    if (module, name) == ("_codecs", "encode"):
        return _safe_encode
    if module == "torch" and name.isidentifier():
        import torch
        obj = lookup_static("torch", name)  # dtypes, layouts, qschemes are data
        if isinstance(obj, (torch.dtype, torch.layout, torch.qscheme)):
            return obj
    real = REAL.get((module, name))
    if real is not None:
        obj = lookup_static(*real)
        if obj is not None:
            return obj
    return _AbsorbMeta("StandIn", (_StandInBase,), {})


def install(record):
    """Replaces the unpicklers' name lookup in this (child) process."""
    import pickle

    import joblib.numpy_pickle
    import joblib.numpy_pickle_compat
    import torch

    c_unpickler = pickle.Unpickler

    class RecordingUnpickler(c_unpickler):
        _in_subclass = False

        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__(**kwargs)
            inner = cls.__dict__.get("find_class")
            if inner is None:
                return

            def find_class(self, module, name):
                record(module, name)
                self._in_subclass = True
                try:
                    return inner(self, module, name)
                finally:
                    self._in_subclass = False
            cls.find_class = find_class

        def find_class(self, module, name):
            if not self._in_subclass:
                record(module, name)
            return resolve(module, name)

    def load(file, **kwargs):
        return RecordingUnpickler(file, **kwargs).load()

    def loads(data, /, **kwargs):
        import io
        return RecordingUnpickler(io.BytesIO(data), **kwargs).load()

    def py_find_class(self, module, name):
        record(module, name)
        return resolve(module, name)

    for cls in (joblib.numpy_pickle.NumpyUnpickler, joblib.numpy_pickle_compat.ZipNumpyUnpickler):
        if "find_class" in vars(cls) or not issubclass(cls, pickle._Unpickler):
            raise RuntimeError("%s no longer inherits pickle._Unpickler.find_class: the recorder"
                               " must be taught about it" % cls.__name__)

    def no_torchscript(*args, **kwargs):
        raise RuntimeError("TorchScript archive: torch.jit.load is not recorded")

    pickle.Unpickler = RecordingUnpickler
    pickle.load = load
    pickle.loads = loads
    pickle._Unpickler.find_class = py_find_class
    torch.jit.load = no_torchscript


def load_torch(path):
    import torch
    torch.load(path, weights_only=False)


def load_numpy(path):
    import numpy
    r = numpy.load(path, allow_pickle=True)
    errors = []
    for k in getattr(r, "files", []):  # .npz members are read (and unpickled) on access
        try:
            r[k]
        except Exception as e:  # noqa: BLE001 - each member is a load of its own
            errors.append("%s: %s: %s" % (k, type(e).__name__, e))
    if errors:
        raise RuntimeError("; ".join(errors))


def load_joblib(path):
    import joblib
    joblib.load(path)


LOADERS = {"torch": load_torch, "numpy": load_numpy, "joblib": load_joblib}


def vm_size():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 1 << 30


def child(path, loader, wfd):
    """Runs in the forked child; never returns."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        limit = vm_size() + EXTRA_MEMORY
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        signal.alarm(TIMEOUT)
        warnings.simplefilter("ignore")

        def emit(obj):
            os.write(wfd, (json.dumps(obj) + "\n").encode("utf-8", "surrogatepass"))

        install(lambda m, n: emit({"imp": [m, n]}))
        try:
            LOADERS[loader](path)
            emit({"end": "ok"})
        except BaseException as e:  # noqa: BLE001 - the outcome is data
            emit({"end": "error: %s: %s" % (type(e).__name__, str(e)[:300])})
    finally:
        os._exit(0)


def run_one(path, loader):
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        child(path, loader, wfd)
    os.close(wfd)
    chunks = []
    with os.fdopen(rfd, "rb") as r:
        for chunk in iter(lambda: r.read(65536), b""):
            chunks.append(chunk)
    _pid, status = os.waitpid(pid, 0)
    imports, outcome = [], None
    for line in b"".join(chunks).decode("utf-8", "surrogatepass").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            break  # cut short by the child's death
        if "imp" in msg:
            imports.append(msg["imp"])
        else:
            outcome = msg["end"]
    if outcome is None:
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            outcome = "died: %s" % ("timeout" if sig == signal.SIGALRM else signal.Signals(sig).name)
        else:
            outcome = "died: exit %d" % os.WEXITSTATUS(status)
    return {"path": path, "loader": loader, "imports": imports, "outcome": outcome}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import joblib.numpy_pickle_compat  # noqa: F401
        import numpy  # noqa: F401
        import torch
        import torch.jit  # noqa: F401
    except ImportError as e:
        print("load_containers: %s; run scripts/install-deps.sh" % e, file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # no thread pool in the parent before fork
    with open(sys.argv[1]) as f:
        tasks = json.load(f)
    for path, loader in tasks:
        print(json.dumps(run_one(path, loader)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
