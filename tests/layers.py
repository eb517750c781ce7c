#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The layer rule of src/README.md: a file of src/ includes headers of its own
folder and of the folders below it only, and no two folders include each other.
The order is read from the table in src/README.md (its first two columns), so
it is written in one place. Also: every folder of src/ is in that table, header
names are unique (they are included by bare name), and cli/ includes only the
public headers and its own. Exits 1 listing each violation."""
import argparse
import os
import re
import sys

# Upward includes still to be broken through interfaces, each by name; the
# test fails when a listed one is gone (strike it here). Empty: keep it so.
KNOWN = set()
# Files the build generates, and the source folder of their generator.
GENERATED = {"policy_rules.inc": "policy/gen_rules.c"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
ROW = re.compile(r'^\|\s*(\d+)\s*\|\s*`([a-z_/]+)/`', re.M)


def layer_order(src):
    with open(os.path.join(src, "README.md"), encoding="utf-8") as f:
        rows = ROW.findall(f.read())
    return {folder: int(rank) for rank, folder in rows}


def folder_of(rel, order):
    """The listed folder a file belongs to (longest match), or None."""
    best = None
    for folder in order:
        if rel.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def sources(root):
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if n.endswith((".c", ".h", ".inc")):
                yield os.path.relpath(os.path.join(dirpath, n), root)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return INCLUDE.findall(f.read())


def check_src(src, public, problems):
    order = layer_order(src)
    if not order:
        problems.append("src/README.md: no layer table found")
        return
    files = list(sources(src))
    by_name = {}
    for rel in files:
        d = os.path.dirname(rel)
        if d and d not in order and folder_of(rel, order) is None:
            problems.append(f"src/{rel}: folder src/{d}/ is not in the table of src/README.md")
        if not d:
            problems.append(f"src/{rel}: every source file belongs in a layer folder")
        name = os.path.basename(rel)
        if name in by_name:
            problems.append(f"src/{rel}: header name also used by src/{by_name[name]}")
        by_name[name] = rel
    edges = {}
    seen_known = set()
    for rel in files:
        here = folder_of(rel, order)
        if here is None:
            continue
        for inc in includes(os.path.join(src, rel)):
            name = os.path.basename(inc)
            if name in public:
                continue
            target = by_name.get(name) or GENERATED.get(name)
            if target is None:
                problems.append(f"src/{rel}: includes \"{inc}\", which is in no folder of src/")
                continue
            there = folder_of(target, order)
            if there is None or there == here:
                continue
            if (rel, name) in KNOWN:
                seen_known.add((rel, name))
                continue
            edges.setdefault((here, there), []).append((rel, name))
            if order[there] > order[here]:
                problems.append(
                    f"src/{rel} (layer {order[here]}, {here}/) includes {name} from "
                    f"{there}/ (layer {order[there]}), a layer above it")
    for (a, b), uses in sorted(edges.items()):
        if a < b and (b, a) in edges:
            back = edges[(b, a)]
            problems.append(
                f"folders {a}/ and {b}/ include each other: src/{uses[0][0]} includes "
                f"{uses[0][1]}, src/{back[0][0]} includes {back[0][1]}")
    for rel, name in sorted(KNOWN - seen_known):
        problems.append(f"tests/layers.py: KNOWN lists src/{rel} -> {name}, which is gone: "
                        "remove it from the list")


def check_cli(cli, public, problems):
    own = {n for n in os.listdir(cli) if n.endswith(".h")}
    for rel in sources(cli):
        for inc in includes(os.path.join(cli, rel)):
            if os.path.basename(inc) not in public | own:
                problems.append(f"cli/{rel}: includes \"{inc}\"; the CLI uses only the "
                                "public header and its own")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    a = ap.parse_args()
    public = {n for n in os.listdir(os.path.join(a.repo, "include"))
              if n.endswith((".h", ".h.in"))}
    public |= {n[:-3] for n in public if n.endswith(".in")}
    problems = []
    check_src(os.path.join(a.repo, "src"), public, problems)
    check_cli(os.path.join(a.repo, "cli"), public, problems)
    for p in problems:
        print(p)
    print(f"layers: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
