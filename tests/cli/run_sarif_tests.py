#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
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


EVIL = b"cos\nsystem\n(S'touch /tmp/ckptscan_sarif_test'\ntR."


def torch_zip(pkl):
    import io
    import zipfile
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("archive/data.pkl", pkl), ("archive/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 12, 0, 0)), data)
    return b.getvalue()


def code_scanning_checks(exe, sarif, doc, validate):
    """What GitHub code scanning needs: file URIs relative to a base, regions
    with a start line, fingerprints, rules with security-severity and tags;
    two checkpoints with the same member must not collide."""
    checks = []
    run0 = sarif["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    checks.append(("rules carry security-severity and tags", all(
        float(r["properties"]["security-severity"]) > 0 and "security" in r["properties"]["tags"]
        and r["help"]["text"] for r in rules)))
    sev = {r["id"]: r["properties"]["security-severity"] for r in rules}
    checks.append(("dangerous rules are critical (9.8)", sev["command"] == "9.8" and
                   sev["unknown-import"] == "5.0"))
    paths = {f["path"] for f in doc["files"]}
    locs = [r["locations"][0] for r in run0["results"]]
    checks.append(("every result: the scanned file, start line 1, a fingerprint", all(
        l["physicalLocation"]["region"]["startLine"] == 1 and
        "ckptscanFinding/v1" in r["partialFingerprints"] and
        (l["physicalLocation"]["artifactLocation"]["uri"].startswith("file:///") or
         l["physicalLocation"]["artifactLocation"].get("uriBaseId") == "SRCROOT")
        for r, l in zip(run0["results"], locs)) and len(run0["results"]) > 0))
    checks.append(("no nested member artifacts (parentIndex)",
                   not any("parentIndex" in x for x in run0["artifacts"]) and
                   len(run0["artifacts"]) == len(paths) - 1))  # minus the unreadable one
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("a", "b"):
            os.makedirs(os.path.join(tmp, d))
            with open(os.path.join(tmp, d, "model.pt"), "wb") as f:
                f.write(torch_zip(EVIL if d == "a" else EVIL.replace(b"touch", b"rm -f")))
        with open(os.path.join(tmp, "b", "copy.pt"), "wb") as f:
            f.write(torch_zip(EVIL))

        def sarif_of(args):
            p = subprocess.run([exe, "--format", "sarif"] + args, cwd=tmp, capture_output=True,
                               timeout=60)
            return p.returncode, json.loads(p.stdout)

        rc, log = sarif_of(["a", "./b"])
        res = log["runs"][0]["results"]
        uris = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in res]
        checks.append(("batch log valid", validate(log) and rc == 3))
        checks.append(("URIs are the files, relative to %SRCROOT%", sorted({
            (u["uri"], u["uriBaseId"]) for u in uris}) == [
            ("a/model.pt", "SRCROOT"), ("b/copy.pt", "SRCROOT"), ("b/model.pt", "SRCROOT")] and
            log["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] == "file://" + os.path.realpath(
                tmp) + "/" if os.getcwd() else False))
        fps = [r["partialFingerprints"]["ckptscanFinding/v1"] for r in res]
        # b/copy.pt has a/model.pt's bytes: the file's name is part of the fingerprint too
        checks.append(("fingerprints distinct across checkpoints with the same member",
                       len(set(fps)) == len(fps) == 6))
        checks.append(("the member is in the message and a logical location", all(
            "archive member archive/data.pkl" in r["message"]["text"] and
            r["locations"][0]["logicalLocations"][0]["name"] == "archive/data.pkl" for r in res)))
        rc2, again = sarif_of(["a", "./b"])
        checks.append(("fingerprints stable across runs", fps == [
            r["partialFingerprints"]["ckptscanFinding/v1"] for r in again["runs"][0]["results"]]))
        arts = {a["location"]["uri"]: a.get("hashes", {}).get("sha-256")
                for a in log["runs"][0]["artifacts"]}
        import hashlib
        with open(os.path.join(tmp, "a", "model.pt"), "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()
        checks.append(("artifacts carry the file's sha-256", arts["a/model.pt"] == want))
        rc, log = sarif_of(["--exclude", "*", "a"])
        checks.append(("an empty run is a valid log", validate(log) and rc == 2 and
                       log["runs"][0]["results"] == []))
        import signal
        import time
        p = subprocess.Popen([exe, "--format", "sarif", "--files-from", "-"], cwd=tmp,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(b"a/model.pt\n")
        p.stdin.flush()
        time.sleep(0.7)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
        log = json.loads(out)
        inv = log["runs"][0]["invocations"][0]
        checks.append(("an interrupted run is a valid log, marked interrupted",
                       validate(log) and p.returncode == 130 and inv["properties"]["interrupted"]
                       and not inv["executionSuccessful"] and len(log["runs"][0]["results"]) == 2))
    return checks


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
    def validate(log):
        try:
            jsonschema.validators.validator_for(schema)(schema).validate(log)
            return True
        except jsonschema.ValidationError as e:
            print("  schema: " + e.message[:300])
            return False

    checks.append(("valid against the official schema", validate(sarif)))
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
    checks += code_scanning_checks(os.path.abspath(a.ckptscan), sarif, doc, validate)
    for name, ok in checks:
        print(("ok   " if ok else "FAIL ") + name)
        failed += not ok
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
