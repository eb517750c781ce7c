#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ckptscan's verdicts on files whose payload ran under a real loader (issue 12:
never SAFE, and >= 95% DANGEROUS on attack sets).

Usage: dangerous_share.py --ckptscan PATH [--summary campaign/summary.json ...]
                          [--corpus DIR] [--dir DIR ...]

Part 1 adds up the `code_ran` counts of real-loader campaign runs
(campaign.py writes them to WORKDIR/summary.json). Part 2 loads every file of
the shared corpus (labels.tsv; default ../shared/corpus beside the repository,
skipped with a message when absent) with each real loader in the oracle's
workers (oracle_worker.py: names are recorded and replaced by stand-ins,
nothing is imported or run, each load in a throwaway directory), and counts a
file as code-running when some loader called a real callable that can never
be allowlisted before any name that does not exist (campaign.payload_calls).
Part 3 does the same for every file under each --dir (fixtures/attacks,
tests/real_loader/divergences, fixtures/headers). Prints the verdicts of those
files and the share that is DANGEROUS; exit 1 when one of them is SAFE.
"""

import argparse
import collections
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import campaign  # noqa: E402


def share(counts):
    n = sum(counts.values())
    return "%d files: %s; DANGEROUS %s" % (
        n, ", ".join("%s %d" % kv for kv in sorted(counts.items(), key=str)),
        "%.2f%%" % (100.0 * counts.get("dangerous", 0) / n) if n else "-")


def part_campaign(summaries):
    total = collections.Counter()
    groups = collections.Counter()
    for path in summaries:
        with open(path) as f:
            doc = json.load(f)
        cr = doc.get("code_ran")
        if cr is None:
            print("campaign %s: no code_ran counts (run before the marker)" % path)
            continue
        total.update(cr["verdicts"])
        for k, g in cr.get("not_dangerous", {}).items():
            groups[k] += g["count"]
        print("campaign %s (seed %s, files %d..%d): code ran in %s"
              % (path, doc["seed"], doc["start"], doc["start"] + doc["count"] - 1, share(cr["verdicts"])))
    if len(summaries) > 1:
        print("campaign, all runs: code ran in %s" % share(total))
    for k, n in groups.most_common():
        print("  not dangerous: %s %d" % (k, n))
    return total.get("safe", 0)


def part_corpus(exe, corpus, python):
    labels = os.path.join(corpus, "labels.tsv")
    if not os.path.exists(labels):
        print("corpus: %s absent, skipped" % labels)
        return 0
    files = []
    with open(labels) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            rel, expected = line.rstrip("\n").split("\t")[:2]
            if rel != "file":
                files.append((rel, expected))
    return measure(exe, corpus, files, python, "corpus")


def part_dir(exe, top, python):
    """Every file under top (e.g. fixtures/attacks, divergences/), unlabelled."""
    files = sorted((os.path.relpath(os.path.join(d, n), top), "")
                   for d, _s, names in os.walk(top) for n in names if not n.endswith((".md", ".py", ".tsv")))
    return measure(exe, top, files, python, "dir")


def measure(exe, corpus, files, python, what):
    home = tempfile.mkdtemp(prefix="ckptscan-share-")
    workers = {}
    try:
        for ld in campaign.LOADERS:
            os.makedirs(os.path.join(home, ld))
            workers[ld] = campaign.Worker(python, ld, os.path.join(home, ld))
        paths = [os.path.join(corpus, rel) for rel, _e in files]
        reports = campaign.scan(exe, paths, 1)
        ran_v, label_v = collections.Counter(), collections.Counter()
        for (rel, expected), path in zip(files, paths):
            recs = [workers[ld].load(path) for ld in campaign.LOADERS]
            rep = reports.get(path) or {}
            ran = campaign.payload_calls(recs, rep)
            verdict = rep.get("verdict", "none")
            if expected == "dangerous":
                label_v[verdict] += 1
            if ran:
                ran_v[verdict] += 1
                if verdict != "dangerous":
                    print("  %s: %s, called %s (%s)" % (rel, campaign.code_ran_group(rep), ", ".join(ran),
                                                       ", ".join(r["loader"] for r in recs if r.get("calls"))))
            elif expected == "dangerous":
                print("  %s: labelled dangerous, no loader ran its payload here (verdict %s; outcomes %s)"
                      % (rel, verdict, "; ".join("%s %s" % (r["loader"], r["outcome"][:60]) for r in recs)))
    finally:
        for w in workers.values():
            w.stop()
        shutil.rmtree(home, ignore_errors=True)
    print("%s %s: code ran in %s" % (what, corpus, share(ran_v)))
    if label_v:
        print("%s %s: labelled dangerous: %s" % (what, corpus, share(label_v)))
    return ran_v.get("safe", 0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--summary", action="append", default=[], help="a campaign's summary.json (repeatable)")
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "..", "shared", "corpus"))
    ap.add_argument("--dir", action="append", default=[],
                    help="also every file under this directory (e.g. fixtures/attacks; repeatable)")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    exe = os.path.abspath(args.ckptscan)
    safe = part_campaign(args.summary) if args.summary else 0
    safe += part_corpus(exe, os.path.abspath(args.corpus), args.python)
    for d in args.dir:
        safe += part_dir(exe, os.path.abspath(d), args.python)
    print("SAFE among code-running files: %d" % safe)
    return 1 if safe else 0


if __name__ == "__main__":
    sys.exit(main())
