#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The nightly re-scan of an unchanged mirror with --cache against a cold scan.

Generates (once) a Hugging Face-style mirror of N files (default 20,000):
small torch zip and legacy checkpoints, plain pickles, .npy and joblib files
in models--org--name/{blobs,snapshots/<rev>} repos, plus a few large
checkpoints; then times, side by side in one run:

  cold      ckptscan -q DIR                      (no cache: what every night costs today)
  fill      ckptscan -q --cache C DIR            (first night: scan + hash + store)
  nightly   ckptscan -q --cache C DIR            (unchanged mirror: hash + reuse)
  changed   the same after rewriting 1% of the blobs

with the page cache warm (a nightly job on a mirror that fits in RAM) and, as
root, also cold (page cache dropped before each run). Run with Debian's
python3 (torch, numpy, joblib). Usage:
  cache_bench.py --ckptscan PATH --mirror DIR [--files N] [--runs R] [--cold]
"""
import argparse
import os
import pickle
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def make_mirror(root, n):
    import joblib
    import numpy as np
    import torch

    r = random.Random(7)
    per_repo = 50
    made = 0
    repo = 0
    while made < n:
        base = os.path.join(root, f"models--org{repo % 40}--model{repo}")
        blobs = os.path.join(base, "blobs")
        snap = os.path.join(base, "snapshots", f"{repo:040x}")
        os.makedirs(blobs, exist_ok=True)
        os.makedirs(snap, exist_ok=True)
        for j in range(min(per_repo, n - made)):
            i = made + j
            kind = i % 5
            sd = {f"layer{k}.weight": torch.randn(r.randrange(1, 16), r.randrange(1, 32))
                  for k in range(r.randrange(1, 12))}
            tmp = os.path.join(blobs, "tmp")
            if kind == 0:
                torch.save(sd, tmp)
                name = f"pytorch_model_{j}.bin"
            elif kind == 1:
                torch.save(sd, tmp, _use_new_zipfile_serialization=False)
                name = f"legacy_{j}.pt"
            elif kind == 2:
                with open(tmp, "wb") as f:
                    pickle.dump({"step": i, "config": {"lr": 1e-3, "name": f"run{i}"},
                                 "weights": {k: v.tolist() for k, v in sd.items()}}, f,
                                protocol=4)
                name = f"training_args_{j}.pkl"
            elif kind == 3:
                with open(tmp, "wb") as f:
                    np.save(f, np.arange(r.randrange(1, 2000), dtype=np.float32))
                name = f"embeddings_{j}.npy"
            else:
                joblib.dump({k: v.numpy() for k, v in sd.items()}, tmp)
                name = f"model_{j}.joblib"
            blob = os.path.join(blobs, f"{i:064x}")
            os.rename(tmp, blob)
            os.symlink(os.path.relpath(blob, snap), os.path.join(snap, name))
        made += min(per_repo, n - made)
        repo += 1
    # a few large files: four 256 MiB checkpoint shards, and two ~30 MB
    # opcode-dense pickles (an experiment's metrics history), the costliest
    # kind to scan
    big = os.path.join(root, "models--org--big", "snapshots", "main")
    os.makedirs(big, exist_ok=True)
    t = {"embed.weight": torch.empty(64 << 20).uniform_()}
    for k in range(4):
        t["id"] = torch.tensor([k])
        torch.save(t, os.path.join(big, f"pytorch_model-0000{k + 1}-of-00004.bin"))
    for k in range(2):
        hist = [{"step": s, "loss": r.random(), "lr": r.random() * 1e-3,
                 "tags": [f"t{r.randrange(100)}" for _ in range(r.randrange(4))]}
                for s in range(250000)]
        with open(os.path.join(big, f"history_{k}.pkl"), "wb") as f:
            pickle.dump(hist, f, protocol=4)


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def timed(cmd, cold):
    """(wall seconds, CPU seconds user+sys, stdout) of one run."""
    if cold:
        drop_caches()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode not in (0, 1):
        sys.exit(f"{cmd}: exit {p.returncode}: {p.stderr.decode()[-2000:]}")
    return dt, cpu, p.stdout


def rewrite_some(root, frac, seed):
    """Rewrites a fraction of the blobs with new (benign) pickle content."""
    r = random.Random(seed)
    blobs = []
    for d, _, names in os.walk(root):
        if d.endswith("blobs"):
            blobs += [os.path.join(d, n) for n in names]
    blobs.sort()
    chosen = r.sample(blobs, max(1, int(len(blobs) * frac)))
    for b in chosen:
        with open(b, "wb") as f:
            pickle.dump({"step": r.randrange(1 << 30), "note": "retrained"}, f, protocol=4)
    return len(chosen)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--mirror", required=True)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cold", action="store_true", help="also with the page cache dropped (root)")
    a = ap.parse_args()
    if not os.path.isdir(a.mirror):
        print(f"making {a.files} files in {a.mirror}", flush=True)
        make_mirror(a.mirror, a.files)
        time.sleep(2.5)  # files younger than 2 s are not stored
    exe = os.path.abspath(a.ckptscan)
    base = [exe, "-q", "--no-progress", "-j", str(a.jobs), a.mirror]
    cache = tempfile.mkdtemp(prefix="ckptscan-cache-")
    cached = base[:1] + ["--cache", cache] + base[1:]
    rows = []
    modes = [False] + ([True] if a.cold else [])

    def med(runs):
        return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))

    for cold in modes:
        label = "dropped" if cold else "warm"
        shutil.rmtree(cache)
        fill = timed(cached, cold)
        plain, nightly = [], []
        for _ in range(a.runs):  # interleaved: the machine's load drifts
            plain.append(timed(base, cold))
            nightly.append(timed(cached, cold))
        rows.append((label, "no --cache (every night today)", med(plain)))
        rows.append((label, "--cache, first night (scan + hash + store)", fill[:2]))
        rows.append((label, "--cache, unchanged mirror", med(nightly)))
        same = (plain[0][2].splitlines()[:-1] == fill[2].splitlines()[:-1] ==
                nightly[0][2].splitlines()[:-1])
        rows.append((label, "  text reports identical in all three", "yes" if same else "NO"))
    n = rewrite_some(a.mirror, 0.01, 1)
    time.sleep(2.5)
    after, after_plain = [], []
    for _ in range(a.runs):
        after.append(timed(cached, False))
        after_plain.append(timed(base, False))
    rows.append(("warm", f"--cache after {n} blobs changed", med(after)))
    rows.append(("warm", "no --cache after the change", med(after_plain)))
    shutil.rmtree(cache)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.mirror)
                for f in fs if not os.path.islink(os.path.join(d, f)))
    print(f"mirror: {a.mirror}, {total / 1e9:.2f} GB, -j {a.jobs}, median of {a.runs}")
    print("| page cache | run | wall s | CPU s (user+sys) |")
    print("|---|---|---|---|")
    for label, what, v in rows:
        if isinstance(v, str):
            print(f"| {label} | {what} | {v} | |")
        else:
            print(f"| {label} | {what} | {v[0]:.2f} | {v[1]:.2f} |")


if __name__ == "__main__":
    main()
