# SPDX-License-Identifier: Apache-2.0
"""load_state_dict(): the tensors of a SAFE checkpoint, read through the
inventory (dtype, shape, strides, storage, offset) without unpickling.
Storages stored uncompressed in a little-endian torch zip are memory-mapped
in place (copy-on-write: writing to a tensor never touches the file); other
layouts (legacy, deflated records, big-endian, .npy/.npz) go through the
library's safetensors converter in memory, which costs one copy."""
import json
import os
import struct

from . import _api, _native
from ._guard import UnsafeFileError
from ._report import Inspection

_DTYPES = {  # inventory dtype -> (numpy dtype, item size)
    "float64": ("<f8", 8), "float32": ("<f4", 4), "float16": ("<f2", 2),
    "bfloat16": ("<u2", 2),  # numpy has none: the raw bits
    "complex128": ("<c16", 16), "complex64": ("<c8", 8),
    "int64": ("<i8", 8), "int32": ("<i4", 4), "int16": ("<i2", 2), "int8": ("i1", 1),
    "uint8": ("u1", 1), "bool": ("?", 1),
}


class UnsupportedCheckpointError(ValueError):
    """The checkpoint is SAFE but holds something this reader cannot map."""


def _data_start(f, member):
    """Where a zip member's bytes begin: after its local header's name and
    extra field, as torch's miniz reads it."""
    f.seek(member["offset"])
    head = f.read(30)
    if len(head) != 30 or head[:4] != b"PK\x03\x04":
        raise UnsupportedCheckpointError(f"{member['name']}: no local header")
    name_len, extra_len = struct.unpack_from("<HH", head, 26)
    return member["offset"] + 30 + name_len + extra_len


def _storage_members(insp):
    """storage key -> member record, for a zip checkpoint's data/ records."""
    prefix = insp.torch.get("main_member", "").rsplit("/", 1)[0]
    by_name = {m["name"]: m for m in insp.members}
    out = {}
    for t in insp.tensors:
        m = by_name.get(f"{prefix}/data/{t['storage_key']}")
        if m is None:
            raise UnsupportedCheckpointError(f"{t['path']}: no record for storage {t['storage_key']}")
        if m["method"] != 0:
            raise UnsupportedCheckpointError(f"{m['name']}: compressed record")
        out[t["storage_key"]] = m
    return out


def _check_supported(insp):
    if insp.torch.get("layout") != "zip":
        raise UnsupportedCheckpointError(
            f"{insp.path}: layout {insp.torch.get('layout') or insp.format!r}: only torch zip "
            "checkpoints are mapped; convert it with `ckptscan convert`")
    if insp.torch.get("byteorder") not in ("", "little"):
        raise UnsupportedCheckpointError(f"{insp.path}: byte order {insp.torch['byteorder']}")
    for t in insp.tensors:
        if t["dtype"] not in _DTYPES or t.get("problem") or t["device"] not in ("cpu", ""):
            raise UnsupportedCheckpointError(f"{t['path']}: {t['dtype']} tensor not supported")


def _mappable(insp):
    """True when every tensor can be mapped from the file as it is."""
    try:
        _check_supported(insp)
        _storage_members(insp)
        return True
    except UnsupportedCheckpointError:
        return False


_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
              "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}


def _from_safetensors(np, blob):
    """{name: (numpy array, safetensors dtype)} of an in-memory safetensors file."""
    n = struct.unpack_from("<Q", blob, 0)[0]
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    out = {}
    for name, d in header.items():
        if name == "__metadata__":
            continue
        begin, end = d["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=_ST_DTYPES[d["dtype"]]).copy()
        out[name] = (arr.reshape(d["shape"]), d["dtype"])
    return out


def _converted(np, path, framework, profiles, policy):
    scanner = _api._get(profiles, policy, None, False)
    outcome, message, report, blob = _native.convert_safetensors(scanner, path)
    if outcome == "not-safe":
        raise UnsafeFileError(Inspection(report), path)
    if outcome != "written":
        raise UnsupportedCheckpointError(f"{path}: {message}")
    tensors = _from_safetensors(np, blob)
    order = [t["path"] for t in (report or {}).get("inspection", {}).get("tensors", [])]
    names = [n for n in dict.fromkeys(order) if n in tensors]
    names += [n for n in tensors if n not in set(names)]
    out = {}
    for name in names:
        arr, dtype = tensors[name]
        out[name] = _as_torch(arr, {"dtype": "bfloat16" if dtype == "BF16" else "",
                                    "shape": list(arr.shape),
                                    "stride": [s // max(arr.itemsize, 1) for s in arr.strides]}) \
            if framework == "torch" else arr
    return out


def _view(np, f, path, tensor, member):
    """A numpy view of one tensor over the mapped storage record."""
    code, size = _DTYPES[tensor["dtype"]]
    start = _data_start(f, member)
    count = member["size"] // size
    if count == 0:
        return np.zeros(tensor["shape"], dtype=code)
    storage = np.memmap(path, dtype=code, mode="c", offset=start, shape=(count,))
    strides = [s * size for s in tensor["stride"]]
    return np.lib.stride_tricks.as_strided(storage[tensor["storage_offset"]:],
                                           shape=tensor["shape"], strides=strides)


def _as_torch(array, tensor):
    import torch
    if tensor["dtype"] == "bfloat16":  # numpy has no bfloat16: the bits travel as int16
        t = torch.from_numpy(array.view("<i2")).view(torch.bfloat16)
    else:
        t = torch.from_numpy(array)
    if t.numel() == 0:  # from_numpy drops an empty tensor's strides
        return torch.empty_strided(tensor["shape"], tensor["stride"], dtype=t.dtype)
    return t


def load_state_dict(path, *, framework="torch", profiles=(), policy=None):
    """Returns {state_dict key: tensor} for a SAFE checkpoint, equal to what
    torch.load returns, without unpickling anything. Raises UnsafeFileError
    (with .report) for a file that is not SAFE, UnsupportedCheckpointError
    for a layout or dtype it cannot map. framework: "torch" or "numpy"."""
    if framework not in ("torch", "numpy"):
        raise ValueError("framework must be 'torch' or 'numpy'")
    import numpy as np
    path = os.fspath(path)
    insp = _api.inspect(path, profiles=profiles, policy=policy)
    if insp.verdict != "safe":
        raise UnsafeFileError(insp, path)
    if not _mappable(insp):
        return _converted(np, path, framework, profiles, policy)
    members = _storage_members(insp)
    out = {}
    with open(path, "rb") as f:
        for t in insp.tensors:
            array = _view(np, f, path, t, members[t["storage_key"]])
            out[t["path"]] = _as_torch(array, t) if framework == "torch" else array
    return out
