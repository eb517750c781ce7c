#!/usr/bin/env python3
"""SARIF output is valid against the official SARIF 2.1.0 JSON schema and
says what the JSON report says (rule ids = finding codes, one result per
finding, file / member locations and byte offsets).

The official schema (sarif-2.1.0-rtm.5.json) is not copied into this
repository: it is taken at test time from the npm registry package
@microsoft/jest-sarif, which ships it (cached in --cache).

Usage: run_sarif_tests.py --ckptscan PATH --inputs DIR... [--optional-inputs DIR...]
                           [--cache DIR]
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "@microsoft/jest-sarif@1.0.0-beta.0"
MEMBER = "package/lib/schemas/sarif-2.1.0-rtm.5.json"


def official_schema(cache):
    path = os.path.join(cache, "sarif-2.1.0-rtm.5.json")
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", "--silent", PACKAGE], cwd=tmp, check=True,
                           capture_output=True, timeout=180)
            tgz = glob.glob(os.path.join(tmp, "*.tgz"))[0]
            with tarfile.open(tgz) as t:
                data = t.extractfile(MEMBER).read()
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def run(exe, fmt, files):
    p = subprocess.run([exe, "-j", "2", "--format", fmt] + files, capture_output=True,
                       timeout=300)
    return p.returncode, json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--inputs", nargs="+", required=True)
    ap.add_argument("--optional-inputs", nargs="*", default=[],
                    help="directories scanned too when present (the peer corpus)")
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "ckptscan-sarif"))
    a = ap.parse_args()
    import jsonschema  # Debian's python3-jsonschema
    schema = official_schema(a.cache)
    missing = [d for d in a.inputs if not os.path.isdir(d)]
    if missing:
        print("FAIL input directories missing: " + ", ".join(missing))
        return 1
    dirs = list(a.inputs)
    for d in a.optional_inputs:
        if os.path.isdir(d):
            dirs.append(d)
        else:
            print(f"note {d} absent (optional peer corpus): the fixtures and fuzz corpus only")
    files = sorted(p for d in dirs for p in glob.glob(os.path.join(d, "**", "*"),
                                                           recursive=True)
                   if os.path.isfile(p))
    files.append("/nonexistent/ckptscan-sarif-test")
    rc_s, sarif = run(os.path.abspath(a.ckptscan), "sarif", files)
    rc_j, doc = run(os.path.abspath(a.ckptscan), "json", files)
    failed = 0
    checks = []
    try:
        jsonschema.validators.validator_for(schema)(schema).validate(sarif)
        checks.append(("valid against the official schema", True))
    except jsonschema.ValidationError as e:
        checks.append((f"valid against the official schema: {e.message}", False))
    run0 = sarif["runs"][0]
    rules = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    codes = [x.split("|")[1].strip().strip("`") for x in subprocess.run(
        [a.ckptscan, "--list-codes"], capture_output=True, text=True).stdout.splitlines()[2:]]
    checks.append(("rule ids are the finding codes, in order", rules == codes))
    want = sum(len(f["findings"]) for f in doc["files"])
    checks.append((f"one result per finding ({want})", len(run0["results"]) == want))
    arts = run0["artifacts"]
    ok_loc = all(r["ruleIndex"] == rules.index(r["ruleId"]) and
                 0 <= r["locations"][0]["physicalLocation"]["artifactLocation"]["index"] < len(arts)
                 for r in run0["results"])
    checks.append(("results point at rules and artifacts", ok_loc))
    unreadable = run0["invocations"][0]["toolExecutionNotifications"]
    checks.append(("unreadable files are notifications",
                   len(unreadable) == 1 and not run0["invocations"][0]["executionSuccessful"]))
    checks.append(("same exit status as json (3: dangerous beside unreadable)", rc_s == rc_j == 3))
    for name, ok in checks:
        print(("ok   " if ok else "FAIL ") + name)
        failed += not ok
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
