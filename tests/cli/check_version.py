#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The version is written once, in meson.build's project(); everything else
follows it: `ckptscan --version`, the JSON report's "ckptscan" field, and the
public header's CKPT_VERSION_STRING (generated, checked by test_header).
CHANGELOG.md must have a section for it. Usage:
check_version.py --ckptscan PATH --version X --repo DIR"""
import argparse
import json
import os
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--repo", required=True)
    a = ap.parse_args()
    checks = []
    out = subprocess.run([a.ckptscan, "--version"], capture_output=True, text=True)
    checks.append((f"--version prints 'ckptscan {a.version}'",
                   out.returncode == 0 and out.stdout == f"ckptscan {a.version}\n"))
    doc = json.loads(subprocess.run([a.ckptscan, "--format", "json", os.devnull],
                                    capture_output=True, text=True).stdout)
    checks.append((f"the JSON report says ckptscan {a.version}", doc.get("ckptscan") == a.version))
    with open(os.path.join(a.repo, "CHANGELOG.md"), encoding="utf-8") as f:
        heads = re.findall(r"^## \[([^\]]+)\]", f.read(), re.M)
    checks.append((f"CHANGELOG.md has a section for {a.version}", a.version in heads))
    with open(os.path.join(a.repo, "doc", "ckptscan.1"), encoding="utf-8") as f:
        th = f.readline()
    checks.append(("the man page does not write a version of its own",
                   not re.search(r"\d+\.\d+\.\d+", th.split('"ckptscan')[-1])))
    for what, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {what}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
