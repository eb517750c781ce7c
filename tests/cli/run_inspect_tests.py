#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`ckptscan inspect`: the tensor inventory equals what torch reports for the
same files (fixtures/inventory.json, written by torch itself through
fixtures/gen_inventory.py), the JSON validates against doc/report.schema.json,
the text layout holds its sections, and tensors that do not fit their
storage are reported. Standard library + jsonschema; nothing is unpickled.

Usage: run_inspect_tests.py --ckptscan PATH --repo DIR
"""
import argparse
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

ELSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int8": 1, "uint8": 1,
          "int16": 2, "int32": 4, "int64": 8, "bool": 1, "complex64": 8, "complex128": 16}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def inspect_json(exe, path):
    p = subprocess.run([exe, "inspect", "--format", "json", path], capture_output=True)
    doc = json.loads(p.stdout)
    return p.returncode, doc


def compare_inventory(rel, report, expected):
    tensors = report["inspection"]["tensors"]
    got = {t["path"]: t for t in tensors}
    check(len(got) == len(tensors), f"{rel}: duplicate tensor paths")
    check(set(got) == set(expected),
          f"{rel}: paths differ: only ckptscan {sorted(set(got) - set(expected))}, "
          f"only torch {sorted(set(expected) - set(got))}")
    for path, want in expected.items():
        t = got.get(path)
        if t is None:
            continue
        for key in ("dtype", "shape", "stride", "storage_offset", "parameter"):
            check(t[key] == want[key], f"{rel}: {path}: {key} {t[key]!r} != torch's {want[key]!r}")
        numel = 1
        for d in want["shape"]:
            numel *= d
        check(t["numel"] == numel, f"{rel}: {path}: numel {t['numel']} != {numel}")
        # a sparse tensor's bytes are its index and value tensors' (gen_inventory.py)
        nbytes = want.get("nbytes", numel * ELSIZE[want["dtype"]])
        check(t["nbytes"] == nbytes, f"{rel}: {path}: nbytes {t['nbytes']} != {nbytes}")
        check(t["problem"] == "", f"{rel}: {path}: unexpected problem {t['problem']!r}")
        if report["inspection"]["torch"]["layout"] in ("zip", "legacy"):
            check(t["record_bytes"] >= t["storage_numel"] * ELSIZE[want["dtype"]],
                  f"{rel}: {path}: record of {t['record_bytes']} bytes")
    totals = report["inspection"]["totals"]
    check(totals["tensors"] == len(tensors), f"{rel}: totals.tensors")
    check(totals["bytes"] == sum(t["nbytes"] for t in tensors), f"{rel}: totals.bytes")


def test_fixtures(exe, repo, schema):
    import jsonschema  # Debian's python3-jsonschema (scripts/install-deps.sh)
    with open(os.path.join(repo, "fixtures", "inventory.json"), encoding="utf-8") as f:
        inventory = json.load(f)
    check(len(inventory) >= 15, "inventory.json lists too few fixtures")
    for rel, expected in sorted(inventory.items()):
        rc, doc = inspect_json(exe, os.path.join(repo, "fixtures", rel))
        jsonschema.validate(doc, schema)
        report = doc["files"][0]
        check(rc == {"safe": 0, "suspicious": 1, "dangerous": 3}[report["verdict"]],
              f"{rel}: exit status {rc} for {report['verdict']}")
        check("inspection" in report, f"{rel}: no inspection object")
        compare_inventory(rel, report, expected)
    return len(inventory)


# ---- hand-made archives: tensors that do not fit their storage ----

def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def tensor_pickle(numel, shape, stride, offset=0):
    """{'w': _rebuild_tensor_v2(persid('storage', FloatStorage, '0', 'cpu', numel), ...)}"""
    def tup(xs):
        return b"(" + b"".join(b"J" + struct.pack("<i", x) for x in xs) + b"t"
    pid = (b"(" + binunicode("storage") + b"ctorch\nFloatStorage\n" + binunicode("0") +
           binunicode("cpu") + b"J" + struct.pack("<i", numel) + b"tQ")
    args = (b"(" + pid + b"J" + struct.pack("<i", offset) + tup(shape) + tup(stride) +
            b"\x89ccollections\nOrderedDict\n)Rt")
    return (b"\x80\x02}" + binunicode("w") + b"ctorch._utils\n_rebuild_tensor_v2\n" + args +
            b"Rs.")


def torch_zip(pkl, record_bytes):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/data/0", b"\0" * record_bytes)
        z.writestr("archive/version", b"3\n")
    return b.getvalue()


BOUNDS_CASES = [
    # name, pickle, record bytes, expected finding code or None, problem text
    ("fits", tensor_pickle(6, (2, 3), (3, 1)), 24, None, ""),
    ("view_past_storage", tensor_pickle(4, (2, 3), (3, 1)), 16, "anomaly", "reaches element 6"),
    ("offset_past_storage", tensor_pickle(6, (2, 3), (3, 1), offset=1), 24, "anomaly",
     "reaches element 7"),
    ("huge_stride", tensor_pickle(6, (2, 3), (2**31 - 1, 1)), 24, "anomaly", "reaches element"),
    ("negative_size", tensor_pickle(6, (-2, 3), (3, 1)), 24, "anomaly", "negative size"),
    ("record_too_small", tensor_pickle(6, (2, 3), (3, 1)), 8, "archive-anomaly",
     "storage record holds 8 bytes"),
]


def test_bounds(exe, tmp):
    for name, pkl, record, code, problem in BOUNDS_CASES:
        path = os.path.join(tmp, name + ".pt")
        with open(path, "wb") as f:
            f.write(torch_zip(pkl, record))
        rc, doc = inspect_json(exe, path)
        report = doc["files"][0]
        tensors = report["inspection"]["tensors"]
        if not check(len(tensors) == 1, f"{name}: {len(tensors)} tensors"):
            continue
        t = tensors[0]
        check(t["path"] == "w" and t["storage_key"] == "0", f"{name}: tensor {t}")
        codes = [x["code"] for x in report["findings"]]
        if code is None:
            check(report["verdict"] == "safe" and rc == 0, f"{name}: {report['verdict']} {codes}")
            check(t["problem"] == "", f"{name}: problem {t['problem']!r}")
        else:
            check(code in codes and report["verdict"] != "safe"
                  and rc == (3 if report["verdict"] == "dangerous" else 1),
                  f"{name}: want {code}, got {report['verdict']} {codes}")
            check(problem in t["problem"], f"{name}: problem {t['problem']!r}")
    return len(BOUNDS_CASES)


def zip_of(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            z.writestr(name, data)
    return b.getvalue()


def named_tensor(name, numel):
    """{name: a (numel,) float32 tensor on storage '0'}"""
    return tensor_pickle(numel, (numel,), (1,)).replace(binunicode("w"), binunicode(name), 1)


def test_archive_reading(exe, tmp):
    """The main object is the data.pkl torch reads (the last of two same-named
    entries); TorchScript's constants.pkl tensors live in constants/, not data/."""
    import warnings
    warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
    cases = {
        "two_data_pkl.pt": [("a/data.pkl", named_tensor("decoy", 2)),
                            ("a/data.pkl", named_tensor("real_weight", 2)),
                            ("a/data/0", b"\0" * 8), ("a/version", b"3\n")],
        "constants.pt": [("c/data.pkl", named_tensor("w", 2)),
                         ("c/constants.pkl", named_tensor("k", 5)),
                         ("c/data/0", b"\0" * 8), ("c/constants/0", b"\0" * 20),
                         ("c/version", b"3\n")],
    }
    for name, members in cases.items():
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(zip_of(members))
        rc, doc = inspect_json(exe, path)
        report = doc["files"][0]
        insp = report["inspection"]
        codes = [x["code"] for x in report["findings"]]
        if name == "two_data_pkl.pt":
            keys = [e["key"] for e in insp["entries"]]
            check(keys == ["real_weight"], f"{name}: main object keys {keys}")
            check(insp["torch"]["main_member"] == "a/data.pkl", f"{name}: {insp['torch']}")
        else:
            got = {t["path"]: t["record_bytes"] for t in insp["tensors"]}
            check(got == {"w": 8, "k": 20}, f"{name}: records {got}")
            check("archive-anomaly" not in codes, f"{name}: findings {codes}")


def part_pickle(key, cls, numel, shape):
    """_rebuild_tensor_v2 of a contiguous tensor on storage `key` of class `cls`."""
    def tup(xs):
        return b"(" + b"".join(b"J" + struct.pack("<i", x) for x in xs) + b"t"
    stride, acc = [], 1
    for d in reversed(shape):
        stride.insert(0, acc)
        acc *= d
    pid = (b"(" + binunicode("storage") + b"ctorch\n" + cls.encode() + b"\n" + binunicode(key) +
           binunicode("cpu") + b"J" + struct.pack("<i", numel) + b"tQ")
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"J\0\0\0\0" + tup(shape) +
            tup(stride) + b"\x89ccollections\nOrderedDict\n)RtR")


# name, layout, (storage class, shape) of each part, dense size, expected bytes.
# Newer torch writes every sparse layout as _rebuild_sparse_tensor(layout,
# data); torch 1.13 (the fixtures) only saves COO and CSR.
SPARSE_CASES = [
    ("coo", "torch.sparse_coo", [("LongStorage", (2, 3)), ("FloatStorage", (3,))], (2, 3), 60),
    # torch 2 adds is_coalesced after the size
    ("coo_coalesced", "torch.sparse_coo", [("LongStorage", (2, 3)), ("FloatStorage", (3,))],
     (2, 3), 60),
    ("csc", "torch.sparse_csc", [("LongStorage", (5,)), ("LongStorage", (3,)),
                                 ("FloatStorage", (3,))], (2, 4), 76),
    ("bsr", "torch.sparse_bsr", [("LongStorage", (3,)), ("LongStorage", (3,)),
                                 ("DoubleStorage", (3, 1, 2))], (2, 4), 96),
    ("bsc", "torch.sparse_bsc", [("IntStorage", (3,)), ("IntStorage", (3,)),
                                 ("HalfStorage", (3, 2, 1))], (4, 3), 36),
]
DTYPE = {"FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16"}


def test_sparse_layouts(exe, tmp):
    """Every sparse layout is one tensor: the values' dtype, the dense size,
    no strides, the bytes of its parts (as gen_inventory.py describes torch's)."""
    for name, layout, parts, size, nbytes in SPARSE_CASES:
        data = b"(" + b"".join(part_pickle(str(i), cls, math.prod(shape), shape)
                               for i, (cls, shape) in enumerate(parts))
        data += b"ctorch\nSize\n(" + b"".join(b"J" + struct.pack("<i", d) for d in size)
        data += b"t\x85R" + (b"\x88" if name == "coo_coalesced" else b"") + b"t"
        pkl = (b"\x80\x02}" + binunicode(name) + b"ctorch._utils\n_rebuild_sparse_tensor\n(" +
               b"ctorch.serialization\n_get_layout\n(" + binunicode(layout) + b"tR" + data +
               b"tRs.")
        members = [("s/data.pkl", pkl), ("s/version", b"3\n")]
        for i, (cls, shape) in enumerate(parts):
            members.append(("s/data/%d" % i, b"\0" * (math.prod(shape) * 8)))
        path = os.path.join(tmp, "sparse_%s.pt" % name)
        with open(path, "wb") as f:
            f.write(zip_of(members))
        rc, doc = inspect_json(exe, path)
        report = doc["files"][0]
        tensors = report["inspection"]["tensors"]
        want = {"path": name, "dtype": DTYPE.get(parts[-1][0], "?"), "shape": list(size),
                "stride": None, "numel": math.prod(size), "nbytes": nbytes, "problem": ""}
        got = {k: tensors[0][k] for k in want} if len(tensors) == 1 else tensors
        check(got == want, f"sparse {name}: {got} != {want}")
        check(report["verdict"] == "safe", f"sparse {name}: {report['verdict']}")
    return len(SPARSE_CASES)


def test_text(exe, repo):
    path = os.path.join(repo, "fixtures", "torch", "train_adam.pt")
    p = subprocess.run([exe, "inspect", path], capture_output=True, text=True)
    out = p.stdout
    for want in ("Members (18)", "Tensors (16)", "Contents (6)", "Imports (3)",
                 "optimizer: 4 parameter states", "(lr=0.001)", "epoch", "weights_only: torch.load",
                 "used at model.0.weight", "train_adam.pt: SAFE"):
        check(want in out, f"text: missing {want!r}")
    rows = [l for l in out.splitlines() if l.startswith("  model.") or l.startswith("  optimizer.")]
    check(len({l.index(" float32") for l in rows}) == 1, "text: tensor columns not aligned")
    check(p.returncode == 0, f"text: exit status {p.returncode}")
    # a plain scan carries no inspection
    p = subprocess.run([exe, "--format", "json", path], capture_output=True)
    check("inspection" not in json.loads(p.stdout)["files"][0], "plain scan has an inspection")
    # malicious files keep their verdict and exit status under inspect
    evil = os.path.join(repo, "fixtures", "torch", "malicious_reduce_in_state_dict.pt")
    p = subprocess.run([exe, "inspect", evil], capture_output=True, text=True)
    check(p.returncode == 3 and "DANGEROUS" in p.stdout, f"evil: {p.returncode}")


def test_deterministic(exe, repo):
    """Same bytes out for -j 1 and -j 2 (reports only; the summary has seconds)."""
    dirs = [os.path.join(repo, "fixtures", d) for d in ("torch", "examples", "joblib")]
    outs = []
    for jobs in ("1", "2", "2"):
        p = subprocess.run([exe, "inspect", "-j", jobs, "-f", "jsonl"] + dirs, capture_output=True)
        outs.append([l for l in p.stdout.splitlines() if not l.startswith(b'{"summary"')])
    check(len(outs[0]) > 30, f"deterministic: only {len(outs[0])} reports")
    check(outs[0] == outs[1] == outs[2], "inspect output differs between runs or -j values")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--repo", required=True)
    a = ap.parse_args()
    with open(os.path.join(a.repo, "doc", "report.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    n = test_fixtures(a.ckptscan, a.repo, schema)
    with tempfile.TemporaryDirectory() as tmp:
        m = test_bounds(a.ckptscan, tmp)
        test_archive_reading(a.ckptscan, tmp)
        k = test_sparse_layouts(a.ckptscan, tmp)
    test_text(a.ckptscan, a.repo)
    test_deterministic(a.ckptscan, a.repo)
    for f in failures:
        print("FAIL", f)
    print(f"inspect: {n} fixtures against torch's inventory, {m} bounds cases, "
          f"{k} sparse layouts, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
