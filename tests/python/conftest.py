# SPDX-License-Identifier: Apache-2.0
"""Shared setup for the Python package tests: the package from python/ and
the library and CLI from the build directory (meson passes both)."""
import glob
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, os.path.join(REPO, "tests", "real_loader"))

CLI = os.path.abspath(os.environ.get("CKPTSCAN_CLI", os.path.join(REPO, "build", "cli", "ckptscan")))
os.environ.setdefault("CKPTSCAN_LIBRARY", os.path.join(os.path.dirname(os.path.dirname(CLI)),
                                                       "libckptscan.so"))


def fixture_files():
    """Every committed fixture file, sorted."""
    files = [p for p in glob.glob(os.path.join(REPO, "fixtures", "**", "*"), recursive=True)
             if os.path.isfile(p) and not p.endswith((".py", ".md", ".json"))]
    return sorted(files)


def cli_reports(paths, *args):
    """path -> JSON report from the CLI (jsonl, one line per file)."""
    out = subprocess.run([CLI, "--format", "jsonl", "-j", "2", *args, *paths],
                         capture_output=True, text=True, check=False).stdout
    reports = {}
    for line in out.splitlines():
        d = json.loads(line)
        if "path" in d:
            reports[d["path"]] = d
    return reports


@pytest.fixture(scope="session")
def fixtures():
    return fixture_files()
