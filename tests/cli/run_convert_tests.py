#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`ckptscan convert`: every benign fixture converts and each tensor of the output is bit for bit
what torch.load(weights_only=True) (or numpy.load) returns; every file that is not SAFE is refused
and leaves no output; unsupported tensors, an existing output, a short storage record, shards and
--format json give their documented outcomes. The output is read with a safetensors reader written
here from the format's specification (python3-safetensors is not in Debian 12), which also checks
the layout rules (header length, JSON, no holes, sizes). Needs python3-torch and numpy; the
fixtures are only loaded when the scan said SAFE, inside a temporary directory.

Usage: run_convert_tests.py --ckptscan PATH --repo DIR
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

failures = []

ST_DTYPES = {"F64": (8, np.float64), "F32": (4, np.float32), "F16": (2, np.float16),
             "BF16": (2, np.int16), "I64": (8, np.int64), "I32": (4, np.int32),
             "I16": (2, np.int16), "I8": (1, np.int8), "U8": (1, np.uint8), "BOOL": (1, np.bool_),
             "U16": (2, np.uint16), "U32": (4, np.uint32), "U64": (8, np.uint64),
             "F8_E4M3": (1, np.uint8), "F8_E5M2": (1, np.uint8)}
TORCH_ST = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
            torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
            torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}

# Files that must convert (relative to fixtures/), and the file torch.load reads for the
# expected values when it is not the file itself.
WRITTEN = {
    "torch/legacy_sd_batchnorm2d.pt": None, "torch/legacy_sd_linear.pt": None,
    "torch/mlp_proto2.pt": None, "torch/mlp_proto4.pt": None, "torch/mlp_proto5.pt": None,
    "torch/sd_batchnorm2d.pt": None, "torch/sd_conv2d.pt": None, "torch/sd_embedding.pt": None,
    "torch/sd_layernorm.pt": None, "torch/sd_linear.pt": None, "torch/sd_lstm.pt": None,
    "torch/train_adam.pt": None, "torch/train_sgd_momentum.pt": None,
    "torch/views_shared_storage.pt": None, "legacy/views.pt": None, "examples/safe_model.pt": None,
    "convert/views.pt": None, "convert/views_legacy.pt": None, "convert/dtypes.pt": None,
    "convert/dtypes_legacy.pt": None, "convert/deflated.pt": None,
    "convert/little_endian_record.pt": None,
    # torch >= 2.1 swaps storages of a zip whose byteorder record says big; torch 1.13
    # ignores the record, so the expected values are those of the little-endian original
    "convert/big_endian.pt": "convert/dtypes.pt",
    # the legacy raw region is little-endian whatever sys_info says: torch.load reads it so
    "convert/legacy_big_sysinfo.pt": None,
    "convert/pytorch_model-00001-of-00002.bin": None,
    "convert/pytorch_model-00002-of-00002.bin": None,
    "zip/benign_torch.zip": None, "zip/benign_torch_layout.zip": None,
    # torch's legacy tar layout (torch 0.1's torch.save), storage views included
    "convert/tar_views.pt": None, "convert/tar_dtypes.pt": None,
    "convert/tar_storage_view.pt": None, "legacy/torch_tar.pt": None,
    # numpy: compared with numpy.load(allow_pickle=False)
    "convert/array_be.npy": None, "convert/array_bool.npy": None, "convert/array_c.npy": None,
    "convert/array_f.npy": None, "convert/arrays.npz": None, "convert/arrays_deflated.npz": None,
    "numpy/arrays.npz": None, "numpy/float.npy": None, "zip/benign.npz": None,
}
# Files with tensors safetensors cannot express (complex, quantized): exit 1 without
# --skip-unsupported.
UNSUPPORTED = {"torch/dtypes.pt", "torch/legacy_dtypes.pt", "legacy/state_dict.pt",
               "convert/unsupported.pt", "convert/array_complex.npy", "convert/array_object.npy",
               "numpy/object.npy", "numpy/structured.npy", "numpy/structured_object.npy",
               "numpy/unicode_v3.npy"}
# Inputs that carry code or anomalies: must be refused as not safe.
MALICIOUS_PREFIXES = ("torch/malicious_", "legacy/payload_", "legacy/tar_payload_",
                      "legacy/magic_eval", "legacy/trailing_pickle", "legacy/bad_count",
                      "legacy/truncated", "examples/malicious", "convert/truncated_storage",
                      "convert/tar_short_storage")


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def read_safetensors(path):
    """Parses a safetensors file by the specification; returns (metadata, {name: (dtype, shape,
    bytes)}) or raises ValueError naming the broken rule."""
    data = open(path, "rb").read()
    if len(data) < 8:
        raise ValueError("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100 << 20 or 8 + n > len(data):
        raise ValueError(f"header length {n} does not fit")
    raw = data[8:8 + n]
    if not raw.startswith(b"{"):
        raise ValueError("header does not start with '{'")
    header = json.loads(raw.decode("utf-8"))
    if (8 + n) % 8:
        raise ValueError("data does not start 8-aligned")
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise ValueError("__metadata__ values must be strings")
    spans, out = [], {}
    for name, t in header.items():
        if set(t) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{name}: keys {sorted(t)}")
        size, _ = ST_DTYPES[t["dtype"]]
        b, e = t["data_offsets"]
        numel = 1
        for d in t["shape"]:
            numel *= d
        if not (0 <= b <= e <= len(buf)) or e - b != numel * size:
            raise ValueError(f"{name}: data_offsets {b},{e} for {numel} x {size} bytes")
        if numel and b % size:
            raise ValueError(f"{name}: data not aligned to its element size")
        spans.append((b, e))
        out[name] = (t["dtype"], t["shape"], buf[b:e])
    pos = 0
    for b, e in sorted(spans):
        if b != pos:
            raise ValueError(f"hole or overlap at {pos}")
        pos = e
    if pos != len(buf):
        raise ValueError(f"buffer of {len(buf)} bytes, tensors cover {pos}")
    return meta, out


def flatten(obj, prefix, out):
    """The inventory's state_dict names: dict keys and list indexes joined with dots."""
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)


def torch_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def load_torch(path):
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            try:
                return torch.load(path, weights_only=True)
            except Exception:  # torch 1.13's weights_only unpickler lacks FRAME (protocol 4+);
                # the benign fixtures the scan found SAFE are loaded in full, in a temp dir
                return torch.load(path, weights_only=False)
        finally:
            os.chdir(cwd)


def convert(exe, src, out, *extra):
    p = subprocess.run([exe, "convert", *extra, src, out], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def leftovers(d):
    return sorted(f for f in os.listdir(d) if f.startswith("."))


def compare_torch(rel, out, ref_path):
    try:
        meta, got = read_safetensors(out)
    except ValueError as e:
        check(False, f"{rel}: output breaks the safetensors specification: {e}")
        return
    check(meta.get("format") == "pt" and meta.get("source") == os.path.basename(rel)
          and meta.get("source_format") in ("torch-zip", "torch-legacy", "torch-tar"),
          f"{rel}: metadata {meta}")
    want = {}
    flatten(load_torch(ref_path), "", want)
    check(set(got) == set(want), f"{rel}: names differ: {sorted(set(got) ^ set(want))}")
    for name, t in want.items():
        if name not in got:
            continue
        dtype, shape, data = got[name]
        check(dtype == TORCH_ST[t.dtype], f"{rel}: {name}: dtype {dtype} for {t.dtype}")
        check(shape == list(t.shape), f"{rel}: {name}: shape {shape} != {list(t.shape)}")
        check(data == torch_bytes(t), f"{rel}: {name}: bytes differ from torch.load's")


NP_ST = {("f", 8): "F64", ("f", 4): "F32", ("f", 2): "F16", ("i", 8): "I64", ("i", 4): "I32",
         ("i", 2): "I16", ("i", 1): "I8", ("u", 1): "U8", ("u", 2): "U16", ("u", 4): "U32",
         ("u", 8): "U64", ("b", 1): "BOOL"}


def compare_numpy(rel, out, src):
    try:
        meta, got = read_safetensors(out)
    except ValueError as e:
        check(False, f"{rel}: output breaks the safetensors specification: {e}")
        return
    kind = "npz" if rel.endswith(".npz") else "npy"
    check(meta == {"format": "pt", "source": os.path.basename(rel), "source_format": kind},
          f"{rel}: metadata {meta}")
    if kind == "npy":
        want = {os.path.basename(rel)[:-4]: np.load(src, allow_pickle=False)}
    else:
        with np.load(src, allow_pickle=False) as z:
            want = {k: z[k] for k in z.files}
    check(set(got) == set(want), f"{rel}: names {sorted(got)} != {sorted(want)}")
    for name, a in want.items():
        if name not in got:
            continue
        dtype, shape, data = got[name]
        check(dtype == NP_ST[(a.dtype.kind, a.dtype.itemsize)], f"{rel}: {name}: dtype {dtype}")
        check(shape == list(a.shape), f"{rel}: {name}: shape {shape} != {list(a.shape)}")
        le = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"))
        check(data == le.tobytes(), f"{rel}: {name}: bytes differ from numpy.load's")


def test_fixtures(exe, fixtures, tmp):
    seen_written = set()
    for sub in ("torch", "legacy", "examples", "convert", "zip", "numpy", "joblib", "attacks"):
        d = os.path.join(fixtures, sub)
        for f in sorted(os.listdir(d)):
            rel = f"{sub}/{f}"
            src = os.path.join(d, f)
            out = os.path.join(tmp, "out.safetensors")
            rc, stdout, stderr = convert(exe, src, out)
            exists = os.path.exists(out)
            check(not leftovers(tmp), f"{rel}: temporary files left: {leftovers(tmp)}")
            if rel in WRITTEN:
                seen_written.add(rel)
                ok = check(rc == 0 and exists, f"{rel}: not converted (exit {rc}): {stdout}{stderr}")
                if ok and rel.endswith((".npy", ".npz")):
                    compare_numpy(rel, out, src)
                elif ok:
                    compare_torch(rel, out, os.path.join(fixtures, WRITTEN[rel] or rel))
            elif rel in UNSUPPORTED:
                check(rc == 1 and not exists and ": unsupported: " in stdout,
                      f"{rel}: exit {rc}, output {exists}: {stdout}")
            elif rel.startswith(MALICIOUS_PREFIXES):
                check(rc == 1 and not exists and ": not-safe: verdict is " in stdout,
                      f"{rel}: not refused as not safe (exit {rc}, output {exists}): {stdout}")
            else:
                scan = subprocess.run([exe, src], capture_output=True).returncode
                check(rc != 0 and not exists, f"{rel}: exit {rc}, output {exists}: {stdout}")
                if scan != 0:
                    check(": not-safe: " in stdout, f"{rel}: scan exit {scan} but {stdout}")
            if exists:
                os.unlink(out)
    check(seen_written == set(WRITTEN), f"missing fixtures: {set(WRITTEN) - seen_written}")


def test_outcomes(exe, fixtures, tmp):
    conv = os.path.join(fixtures, "convert")
    out = os.path.join(tmp, "u.safetensors")
    rc, stdout, _ = convert(exe, os.path.join(conv, "unsupported.pt"), out)
    check(rc == 1 and not os.path.exists(out), f"unsupported: exit {rc}")
    check(stdout.splitlines()[0].endswith(
        ": unsupported: 2 tensor(s) safetensors cannot express: 'quantized' (quantized), "
        "'complex' (complex); nothing written (--skip-unsupported leaves them out)"),
        f"unsupported message: {stdout!r}")
    rc, stdout, _ = convert(exe, os.path.join(conv, "unsupported.pt"), out, "--skip-unsupported",
                            "--format", "json")
    doc = json.loads(stdout)["conversions"][0]
    check(rc == 0 and doc["outcome"] == "written", f"--skip-unsupported: exit {rc} {doc['outcome']}")
    check([t["name"] for t in doc["tensors"]] == ["weight"], f"written {doc['tensors']}")
    check([(t["name"], t["reason"]) for t in doc["skipped"]] ==
          [("quantized", "quantized"), ("complex", "complex")], f"skipped {doc['skipped']}")
    check(doc["bytes"] == os.path.getsize(out), "json bytes != file size")
    check(doc["report"]["verdict"] == "safe", "json report")
    _, got = read_safetensors(out)
    check(got["weight"][2] == torch.arange(6, dtype=torch.float32).numpy().tobytes(), "weight bytes")
    # an existing output is kept without --force
    before = open(out, "rb").read()
    rc, stdout, stderr = convert(exe, os.path.join(conv, "views.pt"), out)
    check(rc == 2 and stderr == f"ckptscan convert: {out} exists: not overwritten (use --force)\n",
          f"existing output: exit {rc} {stderr!r}")
    check(open(out, "rb").read() == before, "existing output changed")
    rc, _, _ = convert(exe, os.path.join(conv, "views.pt"), out, "--force")
    check(rc == 0 and open(out, "rb").read() != before, f"--force: exit {rc}")
    os.unlink(out)
    # a storage record shorter than its view: refused, the anomaly named
    rc, stdout, _ = convert(exe, os.path.join(conv, "truncated_storage.pt"), out)
    check(rc == 1 and not os.path.exists(out) and "archive-anomaly" in stdout and
          "tensor 'base' (storage '0'): its storage record holds 48 bytes but the persistent id "
          "declares 96" in stdout, f"truncated storage: exit {rc}: {stdout}")
    # the same in torch's tar layout: a record one element short (torch.load would resize the
    # storage and read uninitialised memory)
    rc, stdout, _ = convert(exe, os.path.join(conv, "tar_short_storage.pt"), out)
    check(rc == 1 and not os.path.exists(out) and "anomaly" in stdout and
          "tensor 'base' (storage '1'): its view reaches element 24 but its storage declares 23 "
          "elements" in stdout, f"tar short storage: exit {rc}: {stdout}")
    # deflated 128 KiB records that inflate short or long: refused midway (the CLI checks them
    # while writing), the anomaly named, the partial temporary file removed
    for f in ("deflated_short_record.pt", "deflated_long_record.pt"):
        rc, stdout, _ = convert(exe, os.path.join(conv, f), out)
        check(rc == 1 and not os.path.exists(out) and not leftovers(tmp) and
              "refused: 'w': anomaly: its deflated record does not inflate to the 131072 bytes it "
              "declares" in stdout, f"{f}: exit {rc}: {stdout}")
    # shards: one output per input
    shards = [os.path.join(conv, f"pytorch_model-0000{i}-of-00002.bin") for i in (1, 2)]
    sd = os.path.join(tmp, "shards")
    os.mkdir(sd)
    rc, stdout, _ = subprocess.run([exe, "convert", *shards, sd], capture_output=True,
                                   text=True).returncode, None, None
    check(rc == 0 and sorted(os.listdir(sd)) == [f"pytorch_model-0000{i}-of-00002.safetensors"
                                                 for i in (1, 2)], f"shards: exit {rc}")
    # not safe: exit 1, findings printed, no output
    rc, stdout, _ = convert(exe, os.path.join(fixtures, "torch", "malicious_builtins_exec.pt"), out,
                            "--format", "json")
    doc = json.loads(stdout)["conversions"][0]
    check(rc == 1 and doc["outcome"] == "not-safe" and not os.path.exists(out) and
          doc["report"]["verdict"] == "dangerous", f"malicious json: exit {rc}")
    # views whose storage span passes max-decompressed are gathered in blocks read in storage
    # order (the path of multi-GiB transposed or channels_last tensors): same bytes
    for f in ("views.pt", "views_legacy.pt", "dtypes.pt", "tar_views.pt", "tar_storage_view.pt"):
        rc, stdout, _ = convert(exe, os.path.join(conv, f), out, "--limit", "max-decompressed=64")
        if check(rc == 0, f"{f} with a 64-byte gather buffer: exit {rc}: {stdout}"):
            compare_torch(f"convert/{f}", out, os.path.join(conv, f))
            os.unlink(out)
    # a profile makes a file SAFE that the default policy finds suspicious
    rc, stdout, _ = convert(exe, os.path.join(fixtures, "torch", "module_sequential.pt"), out)
    check(rc == 1 and ": not-safe: " in stdout, f"module_sequential: exit {rc}")
    check(not leftovers(tmp), f"temporary files left: {leftovers(tmp)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--repo", required=True)
    a = ap.parse_args()
    exe = os.path.abspath(a.ckptscan)
    fixtures = os.path.join(os.path.abspath(a.repo), "fixtures")
    with tempfile.TemporaryDirectory() as tmp:
        test_fixtures(exe, fixtures, tmp)
    with tempfile.TemporaryDirectory() as tmp:
        test_outcomes(exe, fixtures, tmp)
    for f in failures:
        print("FAIL:", f)
    print(f"convert: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
