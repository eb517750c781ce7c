#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Differential test on containers: ckptscan against torch.load, numpy.load
and joblib.load.

Usage: run_containers.py --ckptscan PATH [--count N] [--seed S] [--workdir DIR] [--keep]

Generates torch zip and legacy checkpoints, .npy, .npz, joblib files and
their mutations (gen_containers.py), loads each with the real loaders whose
find_class records every (module, name) and imports nothing
(load_containers.py, in subprocesses with a throwaway working directory),
scans them with `ckptscan --format json`, and checks per file and loader:

  (a) every (module, name) the loader's find_class received is in the
      report's imports, as the same raw module and name;
  (b) if any of them is outside ckptscan's allowlist (the report marks it
      not `allowed`, or it is a ckpt_diff_* name that exists nowhere, or a
      name that can never be allowlisted: run_diff.must_deny), the verdict
      is not safe;
  (e) no ckpt_diff_* or must_deny name is reported `allowed`;
  plus, so that a broken recorder cannot pass silently: every unmutated
  sample loads to the end under the recorder, and every family records
  imports through every loader that reads it.

torch, numpy, joblib and lz4 are required: a missing one fails the test
(CI installs them with scripts/install-deps.sh). Prints `N passed, M failed`
last (one per file) and exits 1 if anything failed.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from run_diff import cpython_key, must_deny, report_key, resolve_pair, run_ckptscan  # noqa: E402

LOADER_CALLS = {"torch": "torch.load", "numpy": "numpy.load", "joblib": "joblib.load"}
FAKE_PREFIX = "ckpt_diff_"


def never_allowed(module, name):
    """Names no allowlist can hold: modules that exist nowhere, and
    run_diff's must_deny (as written and after the protocol < 3 mapping,
    since the protocol at the import is not known here)."""
    if module.split(".")[0].startswith(FAKE_PREFIX):
        return True
    return must_deny(module, name) and must_deny(*resolve_pair(module, name, 0))


def run_generator(python, outdir, count, seed):
    p = subprocess.run([python, os.path.join(HERE, "gen_containers.py"), outdir, "--count", str(count),
                        "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("gen_containers.py failed (exit %d):\n%s"
                           % (p.returncode, p.stderr.decode("utf-8", "replace")[-3000:]))
    with open(os.path.join(outdir, "manifest.json")) as f:
        return json.load(f)["samples"]


def run_loaders(python, tasks, workdir, jobs):
    """{(path, loader): record} from `jobs` worker processes, each in a
    directory of its own (cwd, HOME and TMPDIR)."""
    chunks = [tasks[k::jobs] for k in range(jobs)]

    def one(k):
        home = os.path.join(workdir, "loader-home-%d" % k)
        os.makedirs(home, exist_ok=True)
        task_file = os.path.join(home, "tasks.json")
        with open(task_file, "w") as f:
            json.dump(chunks[k], f)
        env = {"HOME": home, "TMPDIR": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1"}
        p = subprocess.run([python, os.path.join(HERE, "load_containers.py"), task_file], cwd=home,
                           env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=1200)
        out = [json.loads(line) for line in p.stdout.decode("utf-8", "surrogatepass").splitlines()]
        if p.returncode != 0 or len(out) != len(chunks[k]):
            raise RuntimeError("load_containers.py failed (exit %d, %d of %d results):\n%s"
                               % (p.returncode, len(out), len(chunks[k]),
                                  p.stderr.decode("utf-8", "replace")[-3000:]))
        return out

    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for out in ex.map(one, range(jobs)):
            for rec in out:
                results[(rec["path"], rec["loader"])] = rec
    return results


def scan(exe, paths, jobs):
    """{path: report}; a batch whose JSON is unusable raises."""
    batches = [paths[k::jobs] for k in range(jobs)]
    reports = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        for _rc, reps in ex.map(lambda b: run_ckptscan(exe, b, 600), [b for b in batches if b]):
            reports.update(reps)
    return reports


def check(sample, loads, rep):
    """Failure reasons for one file."""
    if rep is None:
        return ["no report from ckptscan"]
    fails = []
    verdict = rep.get("verdict")
    index = collections.defaultdict(list)
    for im in rep.get("imports", []):
        index[(report_key(im.get("module", "")), report_key(im.get("name", "")))].append(im)
    outside = []
    for rec in loads:
        who = LOADER_CALLS[rec["loader"]]
        for m, n in {tuple(x) for x in rec["imports"]}:
            entries = index.get((cpython_key(m), cpython_key(n)), [])
            if not entries:
                fails.append("(a) %s resolved (%r, %r); not in the report's imports" % (who, m, n))
                continue
            never = never_allowed(m, n)
            if never and any(im.get("allowed") for im in entries):
                fails.append("(e) (%r, %r) reported as allowed; it can never be on an allowlist" % (m, n))
            if never or not all(im.get("allowed") for im in entries):
                outside.append((m, n))
        if sample["mutation"] is None and sample["family"] != "raw" and rec["outcome"] != "ok":
            fails.append("harness: unmutated sample: %s %s (the recorder or its stand-ins broke the"
                         " real loader)" % (who, rec["outcome"]))
    if outside and verdict == "safe":
        fails.append("(b) verdict safe although %r are outside the allowlist" % sorted(set(outside)))
    return fails


def describe(sample, loads, rep, reasons):
    out = ["FAIL %s" % sample["path"]]
    out += ["  - " + r for r in reasons]
    out.append("  made by: %s/%s %s" % (sample["family"], sample["mutation"],
                                        json.dumps(sample["recipe"], default=str)))
    for rec in loads:
        out.append("  %s: %s; imports %r" % (LOADER_CALLS[rec["loader"]], rec["outcome"],
                                            [tuple(x) for x in rec["imports"]]))
    if rep is not None:
        out.append("  ckptscan: verdict=%s format=%s error=%r" % (rep.get("verdict"), rep.get("format"),
                                                                  rep.get("error")))
        out.append("    imports: %r" % [(i.get("module"), i.get("name"), i.get("member"), i.get("allowed"))
                                        for i in rep.get("imports", [])])
        for f in rep.get("findings", [])[:12]:
            out.append("    finding %s/%s %s @%s %s: %s" % (f.get("code"), f.get("severity"), f.get("member"),
                                                         f.get("offset"), f.get("opcode"), f.get("message")))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckptscan", required=True, help="path to the ckptscan executable")
    ap.add_argument("--count", type=int, default=400, help="files to generate (default 400)")
    ap.add_argument("--seed", default="1", help="generator seed (default 1)")
    ap.add_argument("--workdir", help="work here (kept) instead of a temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--jobs", type=int, default=2, help="parallel loader and ckptscan processes")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter with torch, numpy, joblib and lz4 (default: this one)")
    ap.add_argument("--max-details", type=int, default=20, help="failures printed in full")
    args = ap.parse_args(argv)

    exe = os.path.abspath(args.ckptscan)
    if not os.access(exe, os.X_OK):
        print("run_containers: %s is not executable" % exe, file=sys.stderr)
        return 2
    if args.workdir:
        workdir, temp = os.path.abspath(args.workdir), False
    else:
        workdir, temp = tempfile.mkdtemp(prefix="ckptscan-diffc-"), True
    t0 = time.monotonic()
    try:
        samples = run_generator(args.python, os.path.join(workdir, "samples"), args.count, args.seed)
        t_gen = time.monotonic()
        tasks = [[s["path"], loader] for s in samples for loader in s["loaders"]]
        loads = run_loaders(args.python, tasks, workdir, args.jobs)
        t_load = time.monotonic()
        reports = scan(exe, [s["path"] for s in samples], args.jobs)
        t_scan = time.monotonic()
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
        print("run_containers: %s" % e)
        print("files in %s" % workdir)
        print("0 passed, 1 failed")
        return 1

    failed = []
    fams = collections.Counter()
    outcomes = collections.Counter()
    verdicts = collections.Counter()
    n_imports = 0
    distinct = set()
    per_family = collections.Counter()  # (family, loader) -> imports recorded
    for s in samples:
        recs = [loads[(s["path"], loader)] for loader in s["loaders"]]
        rep = reports.get(s["path"])
        fams["%s%s" % (s["family"], "/" + s["mutation"] if s["mutation"] else "")] += 1
        verdicts[rep.get("verdict") if rep else "none"] += 1
        for rec in recs:
            outcomes["%s %s" % (rec["loader"], rec["outcome"].split(":")[0])] += 1
            n_imports += len(rec["imports"])
            per_family[(s["family"], rec["loader"])] += len(rec["imports"])
            distinct.update(tuple(x) for x in rec["imports"])
        reasons = check(s, recs, rep)
        if reasons:
            failed.append((s, recs, rep, reasons))

    harness = ["harness: %s files recorded no import through %s: the recorder sees nothing"
               % (fam, LOADER_CALLS[loader]) for (fam, loader), n in sorted(per_family.items()) if n == 0]
    for problem in harness:
        print(problem)
    for k, (s, recs, rep, reasons) in enumerate(failed):
        if k < args.max_details:
            print(describe(s, recs, rep, reasons))
            print()
        else:
            print("FAIL %s: %s" % (s["path"], "; ".join(reasons)))
    print("samples: %s" % ", ".join("%s %d" % kv for kv in sorted(fams.items())))
    print("loads: %s" % ", ".join("%s %d" % kv for kv in sorted(outcomes.items())))
    print("seed %s: %d files, %d loads (generate %.1fs, load %.1fs, ckptscan %.1fs); loaders resolved"
          " %d imports (%d distinct names); verdicts: %s"
          % (args.seed, len(samples), len(tasks), t_gen - t0, t_load - t_gen, t_scan - t_load,
             n_imports, len(distinct), ", ".join("%s %d" % kv for kv in sorted(verdicts.items()))))
    if failed or args.keep or not temp:
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump([{"sample": s, "loads": [loads[(s["path"], ld)] for ld in s["loaders"]],
                        "report": reports.get(s["path"])} for s in samples], f, indent=1)
        print("files in %s (results.json: what each loader recorded, each report)" % workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print("%d passed, %d failed" % (len(samples) - len(failed), len(failed) + len(harness)))
    return 1 if failed or harness else 0


if __name__ == "__main__":
    sys.exit(main())
