#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark: ckptscan side by side with CPython's own pickle.load (the
loader) and pickletools.genops (the core of Python scanners) on the same
files, in one run. Reports medians of several runs (this machine is noisy),
peak RSS, and how much of the input was read from disk (page cache dropped
before a cold run, as root; then fincore of the input file).

Usage: run.py --ckptscan PATH --corpus DIR [--runs N] [--cold]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

PY = "/usr/bin/python3"

# The Python references time only the work (not interpreter start-up) and
# report their own peak RSS.
PICKLE_LOAD = r"""
import pickle, resource, sys, time
t = time.perf_counter()
with open(sys.argv[1], 'rb') as f:
    pickle.load(f)
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

GENOPS = r"""
import io, pickletools, resource, sys, time, zipfile
t = time.perf_counter()
path = sys.argv[1]
if zipfile.is_zipfile(path):
    with zipfile.ZipFile(path) as z:
        streams = [z.read(n) for n in z.namelist() if n.endswith('.pkl')]
else:
    with open(path, 'rb') as f:
        streams = [f.read()]
n = 0
for data in streams:
    f = io.BytesIO(data)
    while f.tell() < len(data):   # every pickle in the stream, as scanners do
        try:
            for op in pickletools.genops(f):
                n += 1
                if op[0].name == 'STOP':
                    break
        except Exception:
            break
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def run_child(argv):
    """(wall seconds, peak RSS KiB, blocks read, stdout) of one child."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t, ru.ru_maxrss, ru.ru_inblock, out


def resident_bytes(path):
    """Bytes of `path` in the page cache (util-linux fincore)."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", path],
                         capture_output=True, text=True)
    return int(out.stdout.split()[0]) if out.returncode == 0 and out.stdout.split() else None


def measure(argv, runs, cold, inner, path=None):
    """Median wall ms, max RSS MiB, and MiB of the input file read from disk
    (cold cache; what the page cache holds of that file afterwards, so
    program and library pages are not counted) for a command. With
    inner=True the command prints its own work time and RSS."""
    disk = None
    if cold and path and drop_caches():
        run_child(argv)
        res = resident_bytes(path)
        disk = None if res is None else res / (1 << 20)
    walls, rss = [], 0
    for _ in range(runs):
        wall, maxrss, _, out = run_child(argv)
        if inner:
            parts = out.split()
            wall, maxrss = float(parts[0]), int(parts[1])
        walls.append(wall)
        rss = max(rss, maxrss)
    return statistics.median(walls) * 1000, rss / 1024, disk


def fmt(x, unit=""):
    return "n/a" if x is None else f"{x:,.1f}{unit}"


def file_cases(corpus):
    for name in ("dense_p2.pkl", "dense_p4.pkl", "big_zip.pt", "big_legacy.pt",
                 "many_tensors.pt"):
        path = os.path.join(corpus, name)
        if os.path.exists(path):
            yield name, path


def bench_files(exe, corpus, runs, cold, rows):
    for name, path in file_cases(corpus):
        size = os.path.getsize(path) / (1 << 20)
        ck = measure([exe, "-q", "-j", "1", path], runs, cold, False, path)
        rows.append((name, f"{size:,.0f} MiB", "ckptscan", ck, None))
        refs = [("pickletools.genops", GENOPS)]
        if name.endswith(".pkl"):
            refs.insert(0, ("pickle.load", PICKLE_LOAD))
        for label, code in refs:
            ref = measure([PY, "-c", code, path], max(1, runs // 2), cold, True, path)
            rows.append((name, "", label, ref, ref[0] / ck[0] if ck[0] else None))


def bench_mirror(exe, corpus, runs, rows):
    mirror = os.path.join(corpus, "mirror")
    if not os.path.isdir(mirror):
        return
    files = sorted(os.path.join(mirror, f) for f in os.listdir(mirror))
    n = len(files)
    for jobs in (1, 2):
        wall, rss, _ = measure([exe, "-q", "-j", str(jobs), mirror], runs, False, False)
        rows.append(("mirror", f"{n} files", f"ckptscan -j {jobs}", (wall, rss, None),
                     n / (wall / 1000)))
    wall, rss, _ = measure(["md5sum"] + files, runs, False, False)
    rows.append(("mirror", "", "md5sum", (wall, rss, None), n / (wall / 1000)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cold", action="store_true", help="also measure a cold-cache run")
    a = ap.parse_args()
    exe = os.path.abspath(a.ckptscan)
    rows = []
    bench_files(exe, a.corpus, a.runs, a.cold, rows)
    bench_mirror(exe, a.corpus, a.runs, rows)
    print(f"{'case':16} {'size':>12} {'tool':20} {'median ms':>11} {'peak RSS MiB':>13} "
          f"{'disk MiB':>9} {'ratio / files/s':>16}")
    for case, size, tool, (wall, rss, disk), extra in rows:
        ratio = ""
        if extra is not None:
            ratio = f"{extra:,.0f} files/s" if case == "mirror" else f"{extra:,.1f}x slower"
        print(f"{case:16} {size:>12} {tool:20} {wall:>11,.1f} {rss:>13,.1f} {fmt(disk):>9} "
              f"{ratio:>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
