#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Throughput of `ckptscan convert` on 1 GiB checkpoints, side by side with `cp` of the same file
(the physical limit: read + write of the same bytes), with peak RSS.

    /usr/bin/python3 bench/convert_bench.py --ckptscan build-rel/cli/ckptscan --dir /tmp/convbench

Generates (once) in --dir: big_zip.pt (torch.save of 4 x 256 MiB float32, zip), big_legacy.pt
(the same, legacy format), big_views.pt (1 GiB float32 saved as a transposed view, so every
element is gathered), big_deflated.pt (8 x 128 MiB random float16, every member deflated) and,
with --big10, big10_zip.pt (10 x 1 GiB float32, one run each). Outputs go to the same directory (same file system as the input, as cp's).
Times are medians of --runs warm runs (the input in the page cache); each output is removed
between runs. Peak RSS as GNU time reports it (resident pages, file-backed ones of a mapping included).
"""
import argparse
import os
import statistics
import subprocess
import sys
import zipfile

import torch


def deflate_copy(src, dst):
    """The same archive with every member deflated (level 1), as a zip tool would rewrite it."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED,
                                                      compresslevel=1) as zout:
        for info in zin.infolist():
            out = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            out.compress_type = zipfile.ZIP_DEFLATED
            with zin.open(info) as r, zout.open(out, "w", force_zip64=True) as w:
                while chunk := r.read(1 << 24):
                    w.write(chunk)


def make(d, big10):
    os.makedirs(d, exist_ok=True)
    names = ["big_zip", "big_legacy", "big_views", "big_deflated"] + (["big10_zip"] if big10 else [])
    paths = {k: os.path.join(d, k + ".pt") for k in names}
    if not os.path.exists(paths["big_zip"]):
        sd = {f"layer{i}.weight": torch.full((8192, 8192), float(i)) for i in range(4)}
        torch.save(sd, paths["big_zip"])
        torch.save(sd, paths["big_legacy"], _use_new_zipfile_serialization=False)
        del sd
        big = torch.arange(16384 * 16384, dtype=torch.float32).reshape(16384, 16384)
        torch.save({"transposed": big.t()}, paths["big_views"])
        del big
    if not os.path.exists(paths["big_deflated"]):
        # random bytes: inflate does real work (constant tensors would inflate ~1000:1)
        g = torch.Generator().manual_seed(0)
        sd = {f"layer{i}.weight": torch.randn(8192, 8192, generator=g).half() for i in range(8)}
        torch.save(sd, paths["big_deflated"] + ".stored")
        del sd
        deflate_copy(paths["big_deflated"] + ".stored", paths["big_deflated"])
        os.unlink(paths["big_deflated"] + ".stored")
    if big10 and not os.path.exists(paths["big10_zip"]):
        # 10 x 1 GiB: torch.zeros maps zero pages, so writing it costs no memory
        sd = {f"layer{i}.weight": torch.zeros(16384, 16384) for i in range(10)}
        sd["layer0.weight"][0, :8] = torch.arange(8.0)
        torch.save(sd, paths["big10_zip"])
        del sd
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
    ap.add_argument("--big10", action="store_true", help="also a 10 GiB zip (one run each)")
    ap.add_argument("--only", help="comma-separated input names")
    a = ap.parse_args()
    paths = make(a.dir, a.big10)
    if a.only:
        paths = {k: v for k, v in paths.items() if k in a.only.split(",")}
    print("| input | size MiB | convert s | convert MiB/s | convert peak RSS MiB | cp s | cp MiB/s "
          "| cp + sync s | convert / cp | convert / (cp + sync) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, src in paths.items():
        size = os.path.getsize(src) / 2**20
        subprocess.run(["cat", src], stdout=subprocess.DEVNULL, check=True)  # warm the cache
        out = os.path.join(a.dir, name + ".out")
        runs = 1 if name.startswith("big10") else a.runs
        ct, crss = measure([a.ckptscan, "convert", src, out], out, runs)
        pt, _ = measure(["cp", src, out], out, runs)
        # convert fsyncs its output before the rename; cp does not
        st, _ = measure(["sh", "-c", 'cp "$0" "$1" && sync "$1"', src, out], out, runs)
        print(f"| {name}.pt | {size:.0f} | {ct:.2f} | {size / ct:.0f} | {crss / 2**20:.1f} | "
              f"{pt:.2f} | {size / pt:.0f} | {st:.2f} | {ct / pt:.2f} | {ct / st:.2f} |")


if __name__ == "__main__":
    main()
