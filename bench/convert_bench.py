#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Throughput of `ckptscan convert` on 1 GiB checkpoints, side by side with `cp` of the same file
(the physical limit: read + write of the same bytes), with peak RSS.

    /usr/bin/python3 bench/convert_bench.py --ckptscan build-rel/cli/ckptscan --dir /tmp/convbench

Generates (once) in --dir: big_zip.pt (torch.save of 4 x 256 MiB float32, zip), big_legacy.pt
(the same, legacy format) and big_views.pt (1 GiB float32 saved as a transposed view, so every
element is gathered). Outputs go to the same directory (same file system as the input, as cp's).
Times are medians of --runs warm runs (the input in the page cache); each output is removed
between runs. Peak RSS as GNU time reports it (resident pages, file-backed ones of a mapping included).
"""
import argparse
import os
import statistics
import subprocess
import sys

import torch


def make(d):
    os.makedirs(d, exist_ok=True)
    paths = {k: os.path.join(d, k + ".pt") for k in ("big_zip", "big_legacy", "big_views")}
    if not os.path.exists(paths["big_zip"]):
        sd = {f"layer{i}.weight": torch.full((8192, 8192), float(i)) for i in range(4)}
        torch.save(sd, paths["big_zip"])
        torch.save(sd, paths["big_legacy"], _use_new_zipfile_serialization=False)
        del sd
        big = torch.arange(16384 * 16384, dtype=torch.float32).reshape(16384, 16384)
        torch.save({"transposed": big.t()}, paths["big_views"])
    return paths


def run(argv):
    """Wall time and peak RSS of argv, as GNU time reports them (a child's own ru_maxrss would
    include the forked Python's pages before exec)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M", *argv], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {argv}: {p.stderr}")
    secs, kib = p.stderr.split()[-2:]
    return float(secs), int(kib) * 1024


def measure(argv, out, runs):
    times, rss = [], 0
    for _ in range(runs):
        if os.path.exists(out):
            os.unlink(out)
        dt, r = run(argv)
        times.append(dt)
        rss = max(rss, r)
    os.unlink(out)
    return statistics.median(times), rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    paths = make(a.dir)
    print("| input | size MiB | convert s | convert MiB/s | convert peak RSS MiB | cp s | cp MiB/s "
          "| cp + sync s | convert / cp | convert / (cp + sync) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, src in paths.items():
        size = os.path.getsize(src) / 2**20
        subprocess.run(["cat", src], stdout=subprocess.DEVNULL, check=True)  # warm the cache
        out = os.path.join(a.dir, name + ".out")
        ct, crss = measure([a.ckptscan, "convert", src, out], out, a.runs)
        pt, _ = measure(["cp", src, out], out, a.runs)
        # convert fsyncs its output before the rename; cp does not
        st, _ = measure(["sh", "-c", 'cp "$0" "$1" && sync "$1"', src, out], out, a.runs)
        print(f"| {name}.pt | {size:.0f} | {ct:.2f} | {size / ct:.0f} | {crss / 2**20:.1f} | "
              f"{pt:.2f} | {size / pt:.0f} | {st:.2f} | {ct / pt:.2f} | {ct / st:.2f} |")


if __name__ == "__main__":
    main()
