# SPDX-License-Identifier: Apache-2.0
"""Reports as Python objects, built from the library's JSON report
(schema: doc/report.schema.json)."""
from dataclasses import dataclass
from typing import Optional

VERDICTS = ("safe", "suspicious", "dangerous", "error")


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    member: str
    offset: int
    opcode: str
    message: str
    call: Optional[str]
    global_name: Optional[str]

    @classmethod
    def from_dict(cls, d):
        return cls(d.get("code", ""), d.get("severity", ""), d.get("member", ""),
                   d.get("offset", -1), d.get("opcode", ""), d.get("message", ""),
                   d.get("call") or None, d.get("global") or None)


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    resolved: str
    allowed: bool
    category: str
    count: int
    calls: int

    @classmethod
    def from_dict(cls, d):
        return cls(d.get("module", ""), d.get("name", ""), d.get("resolved", ""),
                   bool(d.get("allowed")), d.get("class", ""), d.get("count", 0),
                   d.get("calls", 0))


class Report:
    """One file's report: `verdict` is "safe", "suspicious", "dangerous" or
    "error" (the input could not be read; `error` says why)."""

    def __init__(self, data):
        self._data = data
        self.path = data.get("path", "")
        self.format = data.get("format", "")
        self.size = data.get("size", 0)
        self.verdict = data.get("verdict", "error")
        self.error = data.get("error", "")
        self.weights_only = bool(data.get("weights_only"))
        self.findings = [Finding.from_dict(f) for f in data.get("findings", [])]
        self.imports = [Import.from_dict(i) for i in data.get("imports", [])]

    @property
    def safe(self):
        return self.verdict == "safe"

    def at_least(self, level):
        """True when the verdict is `level` or worse (error counts as worst)."""
        return VERDICTS.index(self.verdict) >= VERDICTS.index(level)

    def to_dict(self):
        """The JSON report, as the CLI's --format json prints it per file."""
        return self._data

    def __repr__(self):
        return f"<ckptscan.Report {self.path!r} {self.verdict} [{self.format}] " \
               f"{len(self.findings)} findings>"


class Inspection(Report):
    """A report with the inventory: `tensors`, `members`, `torch`, `entries`."""

    def __init__(self, data):
        super().__init__(data)
        insp = data.get("inspection", {})
        self.inspection = insp
        self.tensors = insp.get("tensors", [])
        self.members = insp.get("members", [])
        self.torch = insp.get("torch", {})
        self.entries = insp.get("entries", [])
        self.totals = insp.get("totals", {})
