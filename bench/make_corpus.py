#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generates the benchmark corpus (not committed: about 2.3 GB).

  big_zip.pt        1 GiB torch zip checkpoint of a few large tensors
  big_legacy.pt     the same in the legacy (stacked pickle) format
  many_tensors.pt   zip checkpoint with 60,000 small tensors (a data.pkl of MBs)
  dense_p2.pkl      ~60 MB opcode-dense plain pickle (nested lists/dicts/str/float), protocol 2
  dense_p4.pkl      the same data, protocol 4
  mirror/           2,000 small checkpoints of mixed formats

Run with Debian's python3 (python3-torch, numpy, joblib). Usage:
  make_corpus.py OUTDIR
"""
import os
import pickle
import random
import sys

import joblib
import numpy as np
import torch


def big_tensors():
    g = torch.Generator().manual_seed(0)
    # 4 x 256 MiB of float32
    return {f"layer{i}.weight": torch.empty(64 * 1024 * 1024).uniform_(generator=g)
            for i in range(4)}


def dense_data(target_bytes):
    r = random.Random(1)
    words = [f"k{i}" for i in range(5000)]

    def obj(depth):
        k = r.randrange(5)
        if depth > 3 or k == 0:
            return r.random()
        if k == 1:
            return [obj(depth + 1) for _ in range(r.randrange(12))]
        if k == 2:
            return {r.choice(words): obj(depth + 1) for _ in range(r.randrange(8))}
        if k == 3:
            return f"s{r.randrange(1 << 30)}"
        return r.randrange(-1 << 40, 1 << 40)

    out, size = [], 0
    while size < target_bytes:
        chunk = [obj(0) for _ in range(2000)]
        size += len(pickle.dumps(chunk, protocol=2))
        out.append(chunk)
    return out


def mirror(outdir, n=2000):
    os.makedirs(outdir, exist_ok=True)
    r = random.Random(2)
    for i in range(n):
        kind = i % 5
        sd = {f"w{j}": torch.randn(r.randrange(1, 8), 4) for j in range(r.randrange(1, 6))}
        path = os.path.join(outdir, f"m{i:04d}")
        if kind == 0:
            torch.save(sd, path + ".pt")
        elif kind == 1:
            torch.save(sd, path + ".bin", _use_new_zipfile_serialization=False)
        elif kind == 2:
            with open(path + ".pkl", "wb") as f:
                pickle.dump({k: v.tolist() for k, v in sd.items()}, f, protocol=4)
        elif kind == 3:
            np.save(path + ".npy", np.arange(r.randrange(1, 100), dtype=np.float32))
        else:
            joblib.dump({k: v.numpy() for k, v in sd.items()}, path + ".joblib")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    step = lambda name: print("making", name, flush=True)
    if not os.path.exists(os.path.join(out, "big_zip.pt")):
        step("big_zip.pt / big_legacy.pt")
        t = big_tensors()
        torch.save(t, os.path.join(out, "big_zip.pt"))
        torch.save(t, os.path.join(out, "big_legacy.pt"), _use_new_zipfile_serialization=False)
        del t
    if not os.path.exists(os.path.join(out, "many_tensors.pt")):
        step("many_tensors.pt")
        torch.manual_seed(0)
        torch.save({f"model.layers.{i // 6}.p{i % 6}": torch.randn(4) for i in range(60000)},
                   os.path.join(out, "many_tensors.pt"))
    if not os.path.exists(os.path.join(out, "dense_p4.pkl")):
        step("dense_p2.pkl / dense_p4.pkl")
        d = dense_data(60 << 20)
        for p in (2, 4):
            with open(os.path.join(out, f"dense_p{p}.pkl"), "wb") as f:
                pickle.dump(d, f, protocol=p)
    if not os.path.isdir(os.path.join(out, "mirror")):
        step("mirror/")
        mirror(os.path.join(out, "mirror"))
    print("done")


if __name__ == "__main__":
    main()
