#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every document of the repository stands alone: each relative link resolves
to a file inside the repository, and nothing points to ../shared or another
path outside it (the optional peer corpus ../shared/corpus may be named as
such). Usage: check_docs.py --repo DIR"""
import argparse
import os
import re
import sys

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
OUTSIDE = re.compile(r"(?:\.\./shared(?!/corpus)[^\s`)]*|/work/[^\s`)]*)")


def docs(repo):
    for root, dirs, names in os.walk(repo):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build")) and d != "corpus"]
        for n in names:
            if n.endswith(".md") or n.endswith(".1"):
                yield os.path.join(root, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    repo = os.path.realpath(ap.parse_args().repo)
    problems, n = [], 0
    for path in sorted(docs(repo)):
        n += 1
        rel = os.path.relpath(path, repo)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in OUTSIDE.finditer(text):
            problems.append(f"{rel}: points outside the repository: {m.group(0)}")
        for m in LINK.finditer(text):
            target = m.group(1)
            if re.match(r"[a-z]+:", target):
                continue
            full = os.path.realpath(os.path.join(os.path.dirname(path), target))
            if not full.startswith(repo + os.sep) or not os.path.exists(full):
                problems.append(f"{rel}: link to {target} does not resolve inside the repository")
    for p in problems:
        print("FAIL " + p)
    print(f"{n} documents checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
