#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Files/s of ckptscan.dask_scan on a LocalCluster against the CLI's -j N on
the same generated mirror (copies of the fixtures). Prints one line each.

    CKPTSCAN_LIBRARY=build/libckptscan.so PYTHONPATH=python \
        /usr/bin/python3 bench/dask_vs_cli.py --cli build/cli/ckptscan --files 20000
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mirror(root, count):
    sources = sorted(p for p in glob.glob(os.path.join(REPO, "fixtures", "**", "*"), recursive=True)
                     if os.path.isfile(p) and not p.endswith((".py", ".md", ".json")))
    paths = []
    for i in range(count):
        src = sources[i % len(sources)]
        d = os.path.join(root, f"d{i // 1000:03d}")
        os.makedirs(d, exist_ok=True)
        dst = os.path.join(d, f"{i:06d}_{os.path.basename(src)}")
        shutil.copyfile(src, dst)
        paths.append(dst)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=512)
    args = ap.parse_args()
    import ckptscan
    import distributed
    with tempfile.TemporaryDirectory() as tmp:
        paths = mirror(tmp, args.files)
        listing = os.path.join(tmp, "files.lst")
        with open(listing, "w") as f:
            f.write("\n".join(paths) + "\n")
        t = time.perf_counter()
        subprocess.run([args.cli, "-j", str(args.workers), "--format", "jsonl",
                        "--files-from", listing], stdout=subprocess.DEVNULL, check=False)
        cli_s = time.perf_counter() - t
        with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                      processes=True, dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            ckptscan.dask_scan(client, paths[:200], chunk=50)  # warm the workers
            t = time.perf_counter()
            reports = ckptscan.dask_scan(client, paths, chunk=args.chunk)
            dask_s = time.perf_counter() - t
        assert len(reports) == len(paths)
    print(f"cli -j {args.workers}: {len(paths)} files in {cli_s:.2f} s, "
          f"{len(paths) / cli_s:,.0f} files/s")
    print(f"dask_scan ({args.workers} worker processes, chunk {args.chunk}): {len(paths)} files "
          f"in {dask_s:.2f} s, {len(paths) / dask_s:,.0f} files/s")


if __name__ == "__main__":
    sys.exit(main())
