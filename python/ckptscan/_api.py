# SPDX-License-Identifier: Apache-2.0
"""scan(), scan_bytes() and inspect(): one native scanner per configuration,
kept for reuse (a scanner is read-only while scanning, so threads share it)."""
import functools
import json
import os

from ._native import Scanner
from ._report import Inspection, Report


def _policy_key(policy):
    if policy is None or isinstance(policy, (bytes, bytearray)):
        return policy and bytes(policy)
    return os.fsdecode(policy)


@functools.lru_cache(maxsize=16)
def _scanner(profiles, policy, limits, strict):
    return Scanner(profiles, policy, dict(limits), strict)


def _get(profiles, policy, limits, strict):
    if isinstance(profiles, str):
        profiles = (profiles,)
    return _scanner(tuple(profiles), _policy_key(policy),
                    tuple(sorted((limits or {}).items())), bool(strict))


def scan(path, *, profiles=(), policy=None, limits=None, strict=False):
    """Scans a file without loading it. `policy` is a policy file's path or
    its text as bytes (doc/policy.md); `limits` maps limit names
    ("max-memory", ...) to values. Returns a Report."""
    return Report(_get(profiles, policy, limits, strict).scan_path(os.fspath(path)))


def scan_bytes(data, *, name="<bytes>", profiles=(), policy=None, limits=None, strict=False):
    """Scans bytes (any buffer) held in memory. Returns a Report."""
    return Report(_get(profiles, policy, limits, strict).scan_bytes(data, name))


def scan_json(path, *, profiles=(), policy=None, limits=None, strict=False):
    """scan(), returning the JSON report as bytes without parsing it."""
    return _get(profiles, policy, limits, strict).scan_path_json(os.fspath(path))


def inspect(path, *, profiles=(), policy=None, limits=None):
    """Scans a file and recovers what it holds (tensor inventory, members,
    torch metadata). Returns an Inspection."""
    return Inspection(_get(profiles, policy, limits, False).scan_path(os.fspath(path), True))


def inspect_bytes(data, *, name="<bytes>", profiles=(), policy=None, limits=None):
    """inspect() on bytes held in memory."""
    return Inspection(_get(profiles, policy, limits, False).scan_bytes(data, name, True))


def report_json(report):
    """The report as one JSON line, as `ckptscan --format jsonl` prints it."""
    return json.dumps(report.to_dict(), separators=(",", ":"))
