#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Container samples for the container differential test (run_containers.py).

Usage: gen_containers.py OUTDIR [--count N] [--seed S]

Writes torch zip and legacy checkpoints, .npy, .npz and joblib files (plain
and compressed) made by the real savers (torch.save, numpy.save/savez,
joblib.dump), then mutated: import opcodes spliced into their pickles and
zip archives rewritten. Writes OUTDIR/manifest.json: one entry per file with
its path, the loaders that read it and how it was made.

Sample i depends only on the seed and i. Nothing generated does anything when
loaded: the names are either modules that do not exist (ckpt_diff_*: they
exist only in this process's sys.modules while it pickles, never on disk) or
real harmless constructors (collections.OrderedDict, decimal.Decimal, ...).
"""

import argparse
import bz2
import collections
import datetime
import decimal
import fractions
import gzip
import io
import json
import lzma
import os
import pickle
import pickletools
import random
import struct
import sys
import types
import uuid
import warnings
import zipfile
import zlib

try:
    import joblib
    import numpy as np
    import torch
except ImportError as e:  # CI installs them (scripts/install-deps.sh): never skip
    sys.exit("gen_containers: %s; run scripts/install-deps.sh (python3-torch, python3-numpy,"
             " python3-joblib)" % e)
try:
    import lz4.frame
except ImportError as e:
    sys.exit("gen_containers: %s; run scripts/install-deps.sh (python3-lz4)" % e)

ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# ---------------------------------------------------------------------------
# Names that exist only here: modules put in sys.modules while pickling, so
# the real picklers write them by reference. The loaders never see them.

FAKE_MODELS = "ckpt_diff_models"


def fake_module(name):
    """The module (and its parent packages) in sys.modules: the pickler
    checks a name by importing it."""
    if "." in name:
        parent = fake_module(name.rsplit(".", 1)[0])
    mod = sys.modules.get(name)
    if mod is None:
        mod = types.ModuleType(name)
        sys.modules[name] = mod
        if "." in name:
            setattr(parent, name.rsplit(".", 1)[1], mod)
    return mod


def fake_func(module, qualname):
    """A function that pickles by reference as (module, qualname); a dotted
    qualname puts it in nested classes."""
    mod = fake_module(module)
    parts = qualname.split(".")
    owner = mod
    for i, part in enumerate(parts[:-1]):
        inner = getattr(owner, part, None)
        if inner is None:
            inner = type(part, (), {})
            inner.__module__ = module
            inner.__qualname__ = ".".join(parts[:i + 1])
            setattr(owner, part, inner)
        owner = inner
    f = getattr(owner, parts[-1], None)
    if f is None:
        def f(*args, **kwargs):
            return None
        f.__module__ = module
        f.__qualname__ = qualname
        f.__name__ = parts[-1]
        setattr(owner, parts[-1], f)
    return f


def _models_class(cls):
    cls.__module__ = FAKE_MODELS
    setattr(fake_module(FAKE_MODELS), cls.__qualname__.split(".")[0], cls)
    return cls


@_models_class
class Thing:
    """A plain custom class: NEWOBJ (or copyreg._reconstructor) + BUILD."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


@_models_class
class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __getstate__(self):  # protocols 0 and 1 refuse __slots__ without it
        return None, {"a": self.a, "b": self.b}


@_models_class
class Outer:
    class Inner:  # qualname Outer.Inner: STACK_GLOBAL at protocol 4+, getattr below
        def __init__(self, v):
            self.v = v


@_models_class
class Stateful:
    def __init__(self, v):
        self.v = v

    def __getstate__(self):
        return {"packed": [self.v]}

    def __setstate__(self, state):
        self.v = state["packed"][0]


class Call:
    """Pickles as func(*args): REDUCE of a name of our choosing."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@_models_class
class Net(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = torch.nn.Linear(width, width)
        self.act = torch.nn.ReLU()
        self.norm = torch.nn.LayerNorm(width)
        self.tag = Thing(kind="net", width=width)

    def forward(self, x):
        return self.norm(self.act(self.fc(x)))


def fake_name(rng):
    """(module, name) of something that does not exist anywhere."""
    r = rng.random()
    if r < 0.6:
        return "ckpt_diff_mod_%d" % rng.randrange(30), "func_%d" % rng.randrange(30)
    if r < 0.8:
        return "ckpt_diff_pkg_%d.sub_%d" % (rng.randrange(5), rng.randrange(5)), "func_%d" % rng.randrange(9)
    return "ckpt_diff_mod_%d" % rng.randrange(30), "Cls_%d.meth_%d" % (rng.randrange(5), rng.randrange(5))


def fake_call(rng):
    m, n = fake_name(rng)
    args = rng.choice([(), (1,), ("x", 2.5), ((1, 2), {"k": None})])
    return Call(fake_func(m, n), args)


# ---------------------------------------------------------------------------
# Payload objects


def rand_tensor(rng, shape=None):
    if shape is None:
        shape = tuple(rng.randrange(0, 4) for _ in range(rng.randrange(0, 3)))
    n = 1
    for d in shape:
        n *= d
    vals = torch.tensor([rng.uniform(-3, 3) for _ in range(n)], dtype=torch.float64).reshape(shape)
    dtype = rng.choice([torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16,
                        torch.int64, torch.int32, torch.int8, torch.uint8, torch.bool,
                        torch.complex64])
    return vals.to(dtype)


def special_tensor(rng):
    kind = rng.randrange(7)
    t = torch.tensor([[rng.uniform(-1, 1) for _ in range(3)] for _ in range(rng.randrange(2, 5))])
    if kind == 0:
        return [t, t[1:], t.t()]  # views sharing one storage
    if kind == 1:
        return torch.nn.Parameter(t)
    if kind == 2:
        i = torch.tensor([[0, 1], [1, 0]])
        return torch.sparse_coo_tensor(i, torch.tensor([1.0, 2.0]), (2, 2))
    if kind == 3:
        return torch.quantize_per_tensor(t, 0.1, 0, torch.quint8)
    if kind == 4:
        t.extra = {"note": "attr"}  # _rebuild_from_type_v2
        return t
    if kind == 5:
        return [torch.Size([2, 3]), torch.device("cpu"), torch.float16, torch.int64]
    return torch.strided  # layouts pickle through torch.serialization._get_layout


def harmless_real(rng):
    return rng.choice([
        lambda: datetime.date(2020, 1, 2),
        lambda: datetime.timedelta(seconds=5),
        lambda: decimal.Decimal("1.25"),
        lambda: fractions.Fraction(3, 7),
        lambda: uuid.UUID(int=rng.getrandbits(128)),
        lambda: collections.Counter("abca"),
        lambda: collections.deque([1, 2]),
        lambda: collections.defaultdict(list, a=[1]),
        lambda: types.SimpleNamespace(a=1),
        lambda: argparse.Namespace(lr=0.1),
        lambda: range(3),
        lambda: slice(1, 5, 2),
        lambda: frozenset({1, 2}),
        lambda: {1, 2, 3},
        lambda: bytearray(b"ab"),
        lambda: complex(1, 2),
        lambda: np.float64(1.5),
        lambda: np.arange(3),
        lambda: np.dtype("int16"),
        lambda: np.random.RandomState(1),
    ])()


def custom_object(rng):
    kind = rng.randrange(7)
    if kind == 0:
        return Thing(a=rng.randrange(100), b=fake_call(rng))
    if kind == 1:
        return Slotted(rng.random(), "s")
    if kind == 2:
        return Outer.Inner(rng.randrange(9))
    if kind == 3:
        return Stateful([1, 2])
    if kind == 4:
        m, n = fake_name(rng)
        return fake_func(m, n)  # a bare reference: import, no call
    if kind == 5:
        return fake_call(rng)
    return harmless_real(rng)


def small_model(rng):
    """(model, input width)."""
    layers = []
    width = rng.randrange(2, 5)
    for _ in range(rng.randrange(1, 4)):
        layers.append(rng.choice([
            lambda: torch.nn.Linear(width, width),
            lambda: torch.nn.ReLU(),
            lambda: torch.nn.LayerNorm(width),
            lambda: torch.nn.BatchNorm1d(width),
            lambda: torch.nn.Dropout(0.1),
            lambda: torch.nn.Tanh(),
        ])())
    layers.append(torch.nn.Linear(width, width))
    return torch.nn.Sequential(*layers), width


def torch_object(rng, style):
    torch.manual_seed(rng.randrange(1 << 30))
    if style == "state":
        model, width = small_model(rng)
        obj = model.state_dict()
        if rng.random() < 0.5:
            obj = {"model": obj, "epoch": rng.randrange(10), "lr": 0.01}
        if rng.random() < 0.3:
            opt = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if rng.random() < 0.5
                   else torch.optim.Adam(model.parameters()))
            model(torch.ones(2, width)).sum().backward()
            opt.step()
            obj = {"model": model.state_dict(), "optim": opt.state_dict()}
        return obj
    if style == "module":
        if rng.random() < 0.5:
            return Net(rng.randrange(2, 4))
        return small_model(rng)[0]
    # "custom": a dict of tensors, custom classes, calls and odd torch objects
    obj = {"w%d" % k: rand_tensor(rng) for k in range(rng.randrange(1, 4))}
    for k in range(rng.randrange(1, 5)):
        obj["o%d" % k] = custom_object(rng)
    if rng.random() < 0.6:
        obj["special"] = special_tensor(rng)
    return obj


def plain_object(rng, depth=0):
    """Data for numpy object arrays and joblib."""
    r = rng.random()
    if depth < 2 and r < 0.2:
        return [plain_object(rng, depth + 1) for _ in range(rng.randrange(1, 4))]
    if depth < 2 and r < 0.3:
        return {"k%d" % i: plain_object(rng, depth + 1) for i in range(rng.randrange(1, 3))}
    if r < 0.5:
        return rng.choice([1, -7, 2.5, "text", b"raw", None, True, (1, "a")])
    return custom_object(rng)


# ---------------------------------------------------------------------------
# Byte-level splicing of import opcodes into an existing pickle

# Real names whose call with no arguments is harmless and works.
REAL_CALLABLE = [("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"),
                 ("__builtin__", "set"), ("datetime", "timedelta"), ("decimal", "Decimal"),
                 ("fractions", "Fraction"), ("types", "SimpleNamespace"), ("argparse", "Namespace"),
                 ("torch", "Size"), ("builtins", "dict"), ("__builtin__", "list")]
# Real names imported only (calling them with no arguments would fail).
REAL_IMPORT = [("math", "floor"), ("string", "capwords"), ("torch", "FloatStorage"),
               ("torch", "NotAStorage"), ("torch.tensor", "Tensor"), ("torch._utils", "_rebuild_tensor_v2"),
               ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"), ("copy_reg", "_reconstructor"),
               ("torch.nn.modules.linear", "Linear"), ("joblib.numpy_pickle", "NumpyArrayWrapper")]


def push_str(s, rng):
    b = s.encode("utf-8")
    kind = rng.randrange(7)
    if kind == 0:
        return b"\x8c" + bytes([len(b)]) + b  # SHORT_BINUNICODE
    if kind == 1:
        return b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE
    if kind == 2:
        return b"\x8d" + struct.pack("<Q", len(b)) + b  # BINUNICODE8
    if kind == 3:
        return b"V" + b + b"\n"  # UNICODE
    if kind == 4:
        return b"S'" + b + b"'\n"  # STRING
    if kind == 5:
        return b"T" + struct.pack("<i", len(b)) + b  # BINSTRING
    return b"U" + bytes([len(b)]) + b  # SHORT_BINSTRING


def import_snippet(rng):
    """(stack-neutral opcode bytes, (module, name), how): imports a name and
    drops what it made. No memo opcodes: they would shift MEMOIZE slots."""
    r = rng.random()
    if r < 0.55:
        m, n = fake_name(rng)
        callable_ = True
    elif r < 0.8:
        (m, n), callable_ = rng.choice(REAL_CALLABLE), True
    else:
        (m, n), callable_ = rng.choice(REAL_IMPORT), False
    hows = ["global", "stack", "popmark"] + (["reduce", "inst", "obj", "newobj"] if callable_ else [])
    how = rng.choice(hows)
    if how == "inst":
        return b"(i" + m.encode() + b"\n" + n.encode() + b"\n0", (m, n), how
    if how == "stack" or (how != "global" and rng.random() < 0.5):
        push = push_str(m, rng) + push_str(n, rng) + b"\x93"
    else:
        push = b"c" + m.encode() + b"\n" + n.encode() + b"\n"
    body = {
        "global": push + b"0",
        "stack": push + b"0",
        "popmark": b"(" + push + b"1",
        "reduce": push + b")R0",
        "obj": b"(" + push + b"o0",
        "newobj": push + b")\x81" + b"0",
    }[how]
    return body, (m, n), how


def pickle_ops(data, start):
    """(opcode offsets, frames as (offset, length), end after STOP or None).
    Stops quietly at the first thing pickletools cannot read."""
    offsets, frames = [], []
    f = io.BytesIO(data)
    f.seek(start)
    try:
        for op, arg, pos in pickletools.genops(f):
            offsets.append(pos)
            if op.name == "FRAME":
                frames.append((pos, arg))
            if op.name == "STOP":
                return offsets, frames, f.tell()
    except Exception:  # noqa: BLE001 - raw array bytes in joblib streams, truncation
        pass
    return offsets, frames, None


def splice(data, start, rng, limit=None, count=None, fix_frames=None):
    """Inserts import snippets at opcode boundaries of the pickle at
    `start` (before `limit` if given). Frames around an insertion grow to
    hold it unless fix_frames is False (then the frame ends early: a
    deliberate desync). Returns (new data, [(module, name, how)])."""
    offsets, frames, _end = pickle_ops(data, start)
    if limit is not None:
        offsets = [o for o in offsets if o < limit]
    if not offsets:
        return data, []
    if fix_frames is None:
        fix_frames = rng.random() < 0.8
    inserts = []
    for _ in range(count or rng.randrange(1, 4)):
        snip, name, how = import_snippet(rng)
        inserts.append((rng.choice(offsets), snip, name, how))
    inserts.sort(key=lambda x: x[0])
    out = bytearray(data)
    grow = {}
    for pos, snip, _n, _h in reversed(inserts):  # back to front: offsets stay valid
        out[pos:pos] = snip
        for fpos, flen in frames:
            if fix_frames and fpos + 9 <= pos < fpos + 9 + flen:
                grow[fpos] = grow.get(fpos, 0) + len(snip)
    for fpos, flen in frames:  # frames precede what they hold: shift by earlier inserts
        if fpos in grow:
            shift = sum(len(s) for p, s, _n, _h in inserts if p <= fpos)
            struct.pack_into("<Q", out, shift + fpos + 1, flen + grow[fpos])
    return bytes(out), [(m, n, how) for _p, _s, (m, n), how in inserts]


def splice_straddling(data, rng):
    """Inserts one import snippet at an opcode boundary inside a frame and
    cuts the frame short inside the snippet: the snippet straddles the
    frame's end (what followed it is read outside any frame). A buffered
    file reads on (C unpickler), io.BytesIO (torch's zip members) drops the
    rest of the frame, pickle.py refuses. Returns (data, [(m, n, how)])."""
    offsets, frames, _end = pickle_ops(data, 0)
    if not frames:
        return data, []
    fpos, flen = rng.choice(frames)
    inside = [o for o in offsets if fpos + 9 < o < fpos + 9 + flen]
    if not inside:
        return data, []
    at = rng.choice(inside)
    snip, (m, n), how = import_snippet(rng)
    out = bytearray(data[:at] + snip + data[at:])
    struct.pack_into("<Q", out, fpos + 1, at - (fpos + 9) + rng.randrange(1, len(snip)))
    return bytes(out), [(m, n, how + "-straddle")]


def pickle_starts(data, count):
    """Offsets of the first `count` consecutive pickles (legacy torch files)."""
    starts, pos = [], 0
    while len(starts) < count and pos < len(data):
        _offs, _frames, end = pickle_ops(data, pos)
        if end is None:
            break
        starts.append(pos)
        pos = end
    return starts


# ---------------------------------------------------------------------------
# Zip rewriting


def zip_members(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, z.read(i.filename), i.compress_type) for i in z.infolist()]


def write_zip(members, comment=b""):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point
        with zipfile.ZipFile(buf, "w") as z:
            for name, blob, method in members:
                z.writestr(zipfile.ZipInfo(name, ZIP_DATE), blob, compress_type=method)
            z.comment = comment
    return buf.getvalue()


def mutate_torch_zip(data, rng):
    """(new bytes, what was done). The pickle member may be spliced, renamed,
    duplicated, deflated; the archive may get a pickle in front of it."""
    members = zip_members(data)
    idx = next(i for i, (n, _b, _m) in enumerate(members) if n.endswith("/data.pkl"))
    name, blob, method = members[idx]
    prefix = name[:-len("data.pkl")]
    kind = rng.choice(["case", "prefix", "dup", "deflate", "extra", "renamed", "prepend",
                       "trailing", "comment", "order"])
    spliced, names = splice(blob, 0, rng)
    if kind == "case":
        members[idx] = (prefix + rng.choice(["DATA.PKL", "Data.pkl", "data.PKL"]), spliced, method)
    elif kind == "prefix":
        new = rng.choice(["archive/", "model_v2/", "x/"])
        members = [(new + n[len(prefix):] if n.startswith(prefix) else n, b, m) for n, b, m in members]
        members[idx] = (new + "data.pkl", spliced, method)
    elif kind == "dup":
        # torch (miniz) picks one of the two; ckptscan must scan both
        other, names2 = splice(blob, 0, rng)
        names += names2
        members[idx] = (name, spliced, method)
        members.insert(idx + rng.randrange(0, 2), (name, other, method))
    elif kind == "deflate":
        members = [(n, b, zipfile.ZIP_DEFLATED) for n, b, _m in members]
        members[idx] = (name, spliced, zipfile.ZIP_DEFLATED)
    elif kind == "extra":
        members.append((prefix + "extra.pkl", spliced, method))
    elif kind == "renamed":
        members[idx] = (prefix + "data_old.pkl", spliced, method)  # torch finds no data.pkl
    elif kind == "order":
        members[idx] = (name, spliced, method)
        rng.shuffle(members)
    else:
        members[idx] = (name, spliced, method)
    out = write_zip(members, comment=b"comment PK\x05\x06 x" if kind == "comment" else b"")
    if kind == "prepend":
        # a pickle in front: torch no longer sees a zip, loads the pickle
        front, names2 = splice(pickle.dumps({"front": 1}, protocol=rng.randrange(0, 5)), 0, rng)
        names += names2
        out = front + out
    elif kind == "trailing":
        out += b"\x00junk" * rng.randrange(1, 5)
    return out, kind, names


# ---------------------------------------------------------------------------
# Families


def save_torch(obj, rng, legacy, proto=None):
    buf = io.BytesIO()
    proto = proto or rng.choice([2, 2, 2, 1, 3, 4, 5])
    # The legacy format keys storages by address (str(storage._cdata)) and
    # writes them in key order: number them in order of use instead, so that
    # a seed always gives the same bytes.
    real_cdata = torch._C.StorageBase._cdata
    numbers = {}
    torch.UntypedStorage._cdata = property(
        lambda self: numbers.setdefault(real_cdata.__get__(self), 100000 + len(numbers)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.save(obj, buf, pickle_protocol=proto, _use_new_zipfile_serialization=not legacy)
    finally:
        del torch.UntypedStorage._cdata
    return buf.getvalue(), proto


def fam_torch_zip(rng, mutate):
    style = rng.choice(["state", "module", "custom"])
    data, proto = save_torch(torch_object(rng, style), rng, legacy=False,
                             proto=rng.choice([4, 5]) if mutate == "straddle" else None)
    recipe = {"style": style, "protocol": proto}
    if mutate in ("splice", "straddle"):
        members = zip_members(data)
        idx = next(i for i, (n, _b, _m) in enumerate(members) if n.endswith("/data.pkl"))
        n, blob, m = members[idx]
        blob, recipe["spliced"] = (splice(blob, 0, rng) if mutate == "splice"
                                   else splice_straddling(blob, rng))
        members[idx] = (n, blob, m)
        data = write_zip(members)
    elif mutate == "zip":
        data, recipe["zip"], recipe["spliced"] = mutate_torch_zip(data, rng)
    return data, ".pt", ["torch"], recipe


def fam_torch_legacy(rng, mutate):
    style = rng.choice(["state", "module", "custom"])
    data, proto = save_torch(torch_object(rng, style), rng, legacy=True)
    recipe = {"style": style, "protocol": proto}
    if mutate == "splice":
        starts = pickle_starts(data, 5)
        k = rng.randrange(len(starts))  # the payload in pickle 1..5
        limit = starts[k + 1] if k + 1 < len(starts) else None
        data, recipe["spliced"] = splice(data, starts[k], rng, limit=limit)
        recipe["pickle"] = k
    elif mutate == "trailing":
        # a sixth pickle after the storages: never loaded, ckptscan may scan it
        data += pickle.dumps(Call(fake_func("ckpt_diff_tail", "after_storages"), ()), protocol=2)
        recipe["trailing"] = True
    return data, ".pt", ["torch"], recipe


def object_array(rng):
    n = rng.randrange(1, 5)
    if rng.random() < 0.3:
        dt = np.dtype([("x", "<f4"), ("obj", "O")])
        arr = np.zeros(n, dtype=dt)
        for i in range(n):
            arr[i]["obj"] = plain_object(rng)
        return arr
    arr = np.empty(n, dtype=object)
    for i in range(n):
        arr[i] = plain_object(rng)
    if n % 2 == 0 and rng.random() < 0.5:
        arr = arr.reshape(2, n // 2)
    return arr


def npy_bytes(arr, rng):
    buf = io.BytesIO()
    version = rng.choice([None, None, (1, 0), (2, 0), (3, 0)])
    np.lib.format.write_array(buf, arr, version=version, allow_pickle=True)
    return buf.getvalue(), version


def npy_header_end(data):
    major = data[6]
    hlen = struct.unpack_from("<H" if major == 1 else "<I", data, 8)[0]
    return (10 if major == 1 else 12) + hlen


def fam_npy(rng, mutate):
    data, version = npy_bytes(object_array(rng), rng)
    recipe = {"version": version}
    if mutate == "splice":
        data, recipe["spliced"] = splice(data, npy_header_end(data), rng)
    return data, ".npy", ["numpy"], recipe


def fam_npz(rng, mutate):
    members = []
    for k in range(rng.randrange(1, 4)):
        arr = object_array(rng) if rng.random() < 0.7 else np.arange(rng.randrange(1, 5))
        blob, _v = npy_bytes(arr, rng)
        members.append(("arr_%d.npy" % k, blob, rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])))
    recipe = {"members": len(members)}
    if mutate:
        k = rng.randrange(len(members))
        n, blob, m = members[k]
        if b"|O'" in blob[:npy_header_end(blob)]:  # an object array: its data is a pickle
            blob, recipe["spliced"] = splice(blob, npy_header_end(blob), rng)
        kind = rng.choice(["splice", "noext", "dup"])
        recipe["npz"] = kind
        if kind == "noext":
            n = n[:-4]  # numpy finds "arr_0" with or without .npy
        members[k] = (n, blob, m)
        if kind == "dup":
            # Python's zipfile (numpy) takes the last of two equal names
            other, _v = npy_bytes(object_array(rng), rng)
            members.insert(k + rng.randrange(0, 2), (n, other, m))
    return write_zip(members), ".npz", ["numpy"], recipe


def joblib_object(rng, arrays):
    obj = {"o%d" % k: plain_object(rng) for k in range(rng.randrange(1, 4))}
    if arrays:
        for k in range(rng.randrange(1, 4)):
            obj["a%d" % k] = (object_array(rng) if rng.random() < 0.3
                              else np.arange(rng.randrange(1, 20), dtype=rng.choice(["<f8", "<i4", "u1"])))
        obj["after"] = custom_object(rng)  # read after the raw array bytes
    return obj


COMPRESSORS = [None, "zlib", "gzip", "bz2", "lzma", "xz", "lz4"]


def recompress(raw, method):
    if method is None:
        return raw
    if method == "zlib":
        return zlib.compress(raw, 3)
    if method == "gzip":
        return gzip.compress(raw, 3, mtime=0)
    if method == "bz2":
        return bz2.compress(raw, 3)
    if method == "lzma":
        return lzma.compress(raw, format=lzma.FORMAT_ALONE)
    if method == "xz":
        return lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    return lz4.frame.compress(raw)


def decompress(data, method):
    if method is None:
        return data
    return {"zlib": zlib.decompress, "gzip": gzip.decompress, "bz2": bz2.decompress,
            "lzma": lzma.decompress, "xz": lzma.decompress, "lz4": lz4.frame.decompress}[method](data)


def fam_joblib(rng, mutate, path):
    arrays = rng.random() < 0.6
    method = rng.choice(COMPRESSORS)
    proto = rng.choice([2, 3, 4, 5, 5])
    compress = (method, 3) if method else 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joblib.dump(joblib_object(rng, arrays), path, compress=compress, protocol=proto)
    with open(path, "rb") as f:
        data = f.read()
    recipe = {"compress": method, "protocol": proto, "arrays": arrays}
    if mutate == "splice":
        raw = decompress(data, method)
        cut = raw.find(b"NumpyArrayWrapper")  # raw array bytes follow: splice before
        raw, recipe["spliced"] = splice(raw, 0, rng, limit=cut if cut >= 0 else None)
        data = recompress(raw, method)
    return data, ".joblib", ["joblib"], recipe


def fam_joblib_zf(rng, mutate, path):
    """joblib < 0.10's zfile: 'ZF' + hex length + zlib, loaded through
    load_compatibility's ZipNumpyUnpickler."""
    from joblib.numpy_pickle_compat import write_zfile
    raw = pickle.dumps({"o": plain_object(rng), "c": custom_object(rng)}, protocol=2)
    recipe = {"zfile": True}
    if mutate == "splice":
        raw, recipe["spliced"] = splice(raw, 0, rng)
    buf = io.BytesIO()
    write_zfile(buf, raw)
    return buf.getvalue(), ".joblib", ["joblib"], recipe


def fam_raw(rng, mutate):
    """A bare pickle: torch (legacy path: its first pickle runs before the
    magic check), numpy.load and joblib.load all unpickle it."""
    proto = rng.randrange(0, 6)
    obj = {"o%d" % k: custom_object(rng) for k in range(rng.randrange(1, 4))}
    data = pickle.dumps(obj, protocol=proto)
    recipe = {"protocol": proto}
    if mutate == "splice":
        data, recipe["spliced"] = splice(data, 0, rng)
    return data, ".pkl", ["torch", "numpy", "joblib"], recipe


# (name, weight, maker(rng, mutate, path) -> (bytes, ext, loaders, recipe), mutations)
FAMILIES = [
    ("torch-zip", 6, lambda r, m, p: fam_torch_zip(r, m), [None, "splice", "zip", "straddle"]),
    ("torch-legacy", 4, lambda r, m, p: fam_torch_legacy(r, m), [None, "splice", "splice", "trailing"]),
    ("npy", 3, lambda r, m, p: fam_npy(r, m), [None, "splice"]),
    ("npz", 2, lambda r, m, p: fam_npz(r, m), [None, "mutate"]),
    ("joblib", 5, fam_joblib, [None, "splice"]),
    ("joblib-zf", 1, fam_joblib_zf, [None, "splice"]),
    ("raw", 2, lambda r, m, p: fam_raw(r, m), [None, "splice"]),
]
SCHEDULE = [f for f in FAMILIES for _ in range(f[1])]


def make_sample(outdir, seed, i):
    rng = random.Random("%s:%d" % (seed, i))
    fam, _w, maker, mutations = SCHEDULE[i % len(SCHEDULE)]
    mutate = mutations[(i // len(SCHEDULE)) % len(mutations)]
    stem = os.path.join(outdir, "%04d-%s%s" % (i, fam, "-" + mutate if mutate else ""))
    data, ext, loaders, recipe = maker(rng, mutate, stem + ".tmp")
    path = stem + ext
    with open(path, "wb") as f:
        f.write(data)
    if os.path.exists(stem + ".tmp"):
        os.unlink(stem + ".tmp")
    return {"path": path, "family": fam, "mutation": mutate, "loaders": loaders,
            "recipe": recipe, "index": i}


def generate(outdir, count, seed):
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    samples = [make_sample(outdir, seed, i) for i in range(count)]
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump({"seed": str(seed), "samples": samples}, f, indent=1, default=str)
    return samples


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", default="1")
    args = ap.parse_args()
    samples = generate(args.outdir, args.count, args.seed)
    print("%d samples in %s" % (len(samples), args.outdir))


if __name__ == "__main__":
    main()
