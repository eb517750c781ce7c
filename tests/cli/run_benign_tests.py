#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The realistic benign suite (issue 13): every file of fixtures/benign/
(written by fixtures/gen_benign.py from the real libraries) gets exactly the
verdict fixtures/benign.tsv gives it, with the default policy and with its
library's profiles; the table and the directory list the same files; the
Hugging Face style repository folder, scanned as a folder, exits 0 with the
transformers profile (its training_args.bin is an object file; every other
file is SAFE by default), and each sharded or training-state folder exits 0.

Standard library only.

Usage: run_benign_tests.py --ckptscan PATH --fixtures DIR
"""
import argparse
import json
import os
import subprocess
import sys

VERDICTS = {"safe", "suspicious", "dangerous"}


def load_table(path):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("#", 1)[0].rstrip().split("\t")
            if len(fields) != 4 or fields[1] not in VERDICTS or fields[3] not in VERDICTS:
                sys.exit("%s:%d: want file, verdict, profiles, verdict: %r" % (path, n, line))
            if fields[0] in rows:
                sys.exit("%s:%d: %s listed twice" % (path, n, fields[0]))
            rows[fields[0]] = (fields[1], fields[2], fields[3])
    return rows


def files_under(root):
    out = set()
    for d, _, names in os.walk(root):
        for name in names:
            out.add(os.path.relpath(os.path.join(d, name), root))
    return out


def scan(exe, root, files, profiles):
    argv = [exe, "--format", "json"]
    for p in profiles:
        argv += ["--profile", p]
    argv += sorted(files)
    res = subprocess.run(argv, cwd=root, capture_output=True, timeout=600)
    if res.returncode not in (0, 1, 3):
        sys.exit("%s: exit %d: %s" % (" ".join(argv[:6]), res.returncode,
                                      res.stderr.decode(errors="replace")))
    return {f["path"]: f["verdict"] for f in json.loads(res.stdout)["files"]}


def check_verdicts(exe, root, table):
    failures = []
    got = scan(exe, root, table, [])
    for name, (want, _, _) in sorted(table.items()):
        if got.get(name) != want:
            failures.append("%s: default policy: got %s, want %s" % (name, got.get(name), want))
    by_profiles = {}
    for name, (_, profiles, _) in table.items():
        if profiles != "-":
            by_profiles.setdefault(profiles, []).append(name)
    for profiles, names in sorted(by_profiles.items()):
        got = scan(exe, root, names, profiles.split(","))
        for name in sorted(names):
            want = table[name][2]
            if got.get(name) != want:
                failures.append("%s: --profile %s: got %s, want %s"
                                % (name, profiles, got.get(name), want))
    for name, (want, profiles, with_profiles) in table.items():
        if profiles == "-" and with_profiles != want:
            failures.append("%s: no profile, yet two verdicts" % name)
    return failures


def check_folders(exe, root):
    failures = []
    cases = [
        (["--exclude", "training_args.bin", "hf_repo"], "hf_repo without training_args.bin"),
        (["--profile", "transformers", "hf_repo"], "hf_repo --profile transformers"),
        (["hf_sharded"], "hf_sharded"),
        (["--exclude", "training_args.bin", "hf_checkpoint-500"],
         "hf_checkpoint-500 without training_args.bin"),
        (["--profile", "transformers", "hf_checkpoint-500"],
         "hf_checkpoint-500 --profile transformers"),
        (["accelerate_checkpoint_0"], "accelerate_checkpoint_0"),
    ]
    for argv, what in cases:
        res = subprocess.run([exe, "-q", "--color", "never"] + argv, cwd=root,
                             capture_output=True, timeout=600)
        if res.returncode != 0:
            failures.append("%s: exit %d, want 0:\n%s" % (what, res.returncode,
                                                          res.stdout.decode(errors="replace")))
    # the folder as a whole is scanned: training_args.bin is the only file not SAFE today
    res = subprocess.run([exe, "--format", "json", "hf_repo"], cwd=root, capture_output=True,
                         timeout=600)
    doc = json.loads(res.stdout)
    unsafe = sorted(f["path"] for f in doc["files"] if f["verdict"] != "safe")
    if unsafe != ["hf_repo/training_args.bin"] or doc["summary"]["files"] != 14:
        failures.append("hf_repo folder: not SAFE: %s, files %d"
                        % (unsafe, doc["summary"]["files"]))
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--fixtures", required=True)
    args = ap.parse_args()
    exe = os.path.abspath(args.ckptscan)
    root = os.path.join(args.fixtures, "benign")
    table = load_table(os.path.join(args.fixtures, "benign.tsv"))
    present = files_under(root)
    failures = []
    for name in sorted(present - set(table)):
        failures.append("%s: in fixtures/benign but not in benign.tsv" % name)
    for name in sorted(set(table) - present):
        failures.append("%s: in benign.tsv but missing from fixtures/benign" % name)
    failures += check_verdicts(exe, root, table)
    failures += check_folders(exe, root)
    for f in failures:
        print("FAIL " + f)
    print("benign: %d files, %d failures" % (len(table), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
