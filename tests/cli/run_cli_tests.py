#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""CLI tests for ckptscan: exit codes, messages on bad input, golden text and
JSON output, and the JSON shape. Standard library only; nothing is unpickled.

Usage: run_cli_tests.py --ckptscan PATH --golden DIR [--corpus DIR] [--update]
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import zlib

SAFE_PICKLE = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00aK\x01s."
EVIL_PICKLE = b"cos\nsystem\n(S'touch /tmp/ckptscan_cli_test'\ntR."
# a name with a terminal escape and invalid UTF-8: output must neutralise both
ESC_PICKLE = b"cevil\x1b[31m\nname\n."
# a right-to-left override would make the name read backwards on a terminal
BIDI_PICKLE = b"cevil\xe2\x80\xaeplh.so\nname\n."
UNKNOWN_PICKLE = b"\x80\x04\x95\x12\x00\x00\x00\x00\x00\x00\x00\x8c\x05mymod\x8c\x05Thing\x93)\x81."

def torch_like_zip(records):
    """A torch-layout zip (stored members) with data.pkl and the given records."""
    import io
    import zipfile
    b = io.BytesIO()
    # A fixed time: some times put a newline byte in the first local header,
    # which makes the file's start read as a PERSID line (a known false
    # positive, see the issue note), so the current time made this flaky.
    files = [("archive/data.pkl", SAFE_PICKLE)]
    files += [("archive/data/" + n, d) for n, d in records.items()]
    files += [("archive/version", b"3\n")]
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in files:
            z.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 12, 0, 0)), data)
    return b.getvalue()


# Tensor records that happen to parse as a tiny pickle or start with a zlib
# header: torch never unpickles them; they must not make a checkpoint unsafe.
LOOKALIKE_RECORDS = {"0": b"N.\x00\x00", "1": b"K\x05.\x3f", "2": b"\x78\x9c\x01\x02\x03\x04",
                     "3": b"\x1f\x8b\x08\x00garbage"}
# ...while a compressed payload hidden in a record is still found.
HIDDEN_RECORDS = {"0": zlib.compress(EVIL_PICKLE)}


FILES = {
    "safe.pkl": SAFE_PICKLE,
    "evil.pkl": EVIL_PICKLE,
    "esc.pkl": ESC_PICKLE,
    "bidi.pkl": BIDI_PICKLE,
    "unknown.pkl": UNKNOWN_PICKLE,
    "empty.bin": b"",
    "one_stop.bin": b".",
    "one_none.bin": b"N",
    "one_x.bin": b"x",
    "random.bin": random.Random(1234).randbytes(4096),
    "lookalike_records.pt": torch_like_zip(LOOKALIKE_RECORDS),
    "hidden_record.pt": torch_like_zip(HIDDEN_RECORDS),
}


class Case:
    def __init__(self, name, argv, code, stdin=None, golden=None, stdout_has=(),
                 stderr_has=(), check=None):
        self.name, self.argv, self.code, self.stdin = name, argv, code, stdin
        self.golden, self.stdout_has, self.stderr_has = golden, stdout_has, stderr_has
        self.check = check


SCHEMA = None


def json_shape(doc):
    """The report validates against doc/report.schema.json, and the summary adds up."""
    import jsonschema  # Debian's python3-jsonschema (scripts/install-deps.sh)
    jsonschema.validate(doc, SCHEMA)
    assert set(doc) >= {"ckptscan", "files", "summary"}, doc.keys()
    for f in doc["files"]:
        for key in ("path", "format", "verdict", "error", "size", "weights_only",
                    "findings", "dropped_findings", "imports", "pickles"):
            assert key in f, key
        assert f["verdict"] in ("safe", "suspicious", "dangerous", "error")
        for x in f["findings"]:
            assert set(x) == {"code", "severity", "member", "offset", "opcode", "global",
                              "call", "message"}, x.keys()
            assert x["severity"] in ("info", "suspicious", "dangerous")
        for im in f["imports"]:
            assert set(im) == {"module", "name", "resolved", "allowed", "class", "count",
                               "calls", "member", "offset"}
    s = doc["summary"]
    assert s["files"] == len(doc["files"])
    assert sum(s[k] for k in ("safe", "suspicious", "dangerous", "error")) == s["files"]


def untimed(doc):
    doc.get("summary", {}).pop("seconds", None)
    doc.pop("ckptscan", None)  # the version: tests/cli/check_version.py checks it
    return doc


def jsonl_docs(out):
    """Reports and the summary line of --format jsonl output."""
    lines = [json.loads(line) for line in out.splitlines()]
    assert "summary" in lines[-1] and all("path" in x for x in lines[:-1]), out
    return lines[:-1], lines[-1]["summary"]


def unsafe_only_text(out):
    lines = [l for l in out.splitlines() if " MB in " not in l]
    assert not any(l.startswith("safe.pkl") for l in lines), out
    assert lines[0].startswith("evil.pkl: DANGEROUS"), out
    assert any(l.startswith("unknown.pkl: SUSPICIOUS") for l in lines), out
    assert lines[-2:] == ["3 files: 1 safe, 1 suspicious, 1 dangerous, 0 unreadable",
                          "formats: pickle 3"], out


def verdicts(doc):
    return [f["verdict"] for f in doc["files"]]


CASES = [
    Case("help", ["--help"], 0, stdout_has=["Usage: ckptscan", "Exit status (", "--fail-on"]),
    Case("version", ["--version"], 0, stdout_has=["ckptscan 0."]),
    Case("no file", [], 2, stderr_has=["no FILE given"]),
    Case("bad option", ["--bogus", "x"], 2, stderr_has=["unknown option '--bogus'"]),
    Case("bad format", ["--format", "xml", "safe.pkl"], 2, stderr_has=["unknown format 'xml'"]),
    Case("bad fail-on", ["--fail-on", "never", "safe.pkl"], 2, stderr_has=["--fail-on"]),
    Case("bad limit", ["--limit", "max-nothing=3", "safe.pkl"], 2, stderr_has=["unknown limit"]),
    Case("bad limit value", ["--limit", "max-stack=0", "safe.pkl"], 2,
         stderr_has=["out of range"]),
    Case("bad profile", ["--profile", "nope", "safe.pkl"], 2, stderr_has=["unknown profile"]),
    Case("missing policy file", ["--policy", "no-such-policy", "safe.pkl"], 2,
         stderr_has=["no-such-policy: no such file"]),
    Case("safe file", ["safe.pkl"], 0, golden="safe.txt"),
    Case("dangerous file", ["--color", "never", "evil.pkl"], 3, golden="evil.txt"),
    Case("dangerous json", ["--format", "json", "evil.pkl"], 3, golden="evil.json",
         check=lambda out: json_shape(json.loads(out))),
    Case("escapes hostile names", ["esc.pkl"], 1, golden="esc.txt",
         check=lambda out: "\x1b" not in out or (_ for _ in ()).throw(AssertionError("ESC"))),
    Case("escapes bidirectional controls", ["bidi.pkl"], 1,
         stdout_has=["imports evil\\xe2\\x80\\xaeplh.so.name"]),
    Case("unknown import", ["unknown.pkl"], 1, golden="unknown.txt"),
    Case("fail-on dangerous lets suspicious pass", ["--fail-on", "dangerous", "unknown.pkl"], 0),
    Case("fail-on dangerous still fails dangerous", ["--fail-on", "dangerous", "evil.pkl"], 3),
    Case("strict makes unknown dangerous", ["--strict", "--format", "json", "unknown.pkl"], 3,
         check=lambda out: verdicts(json.loads(out)) == ["dangerous"]
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("missing file", ["does-not-exist.pt"], 2, stdout_has=["does-not-exist.pt: ERROR"],
         stderr_has=["does-not-exist.pt: no such file"]),
    Case("empty directory", ["emptydir"], 2, stderr_has=["no input files"]),
    Case("directory is walked", ["--format", "json", "tree"], 3,
         check=lambda out: sorted(f["path"] for f in json.loads(out)["files"])
         == ["tree/a/evil.pkl", "tree/safe.pkl"] or (_ for _ in ()).throw(AssertionError(out))),
    Case("jsonl", ["--format", "jsonl", "safe.pkl", "evil.pkl"], 3,
         check=lambda out: [r["verdict"] for r in jsonl_docs(out)[0]] == ["safe", "dangerous"]
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("empty file", ["empty.bin"], 1, golden="empty.txt"),
    # a stream that fails before any import or persistent id runs nothing
    # under any loader: not a pickle, info only (LOADERS.md section 10)
    Case("one byte STOP", ["one_stop.bin"], 0, golden="one_stop.txt"),
    Case("one byte NONE", ["one_none.bin"], 0, golden="one_none.txt"),
    Case("one byte not an opcode", ["one_x.bin"], 0, golden="one_x.txt"),
    Case("random bytes", ["--format", "json", "random.bin"], 0,
         check=lambda out: (json_shape(json.loads(out)),
                            verdicts(json.loads(out)) == ["safe"] or
                            (_ for _ in ()).throw(AssertionError("random bytes not SAFE")))),
    Case("stdin", ["-"], 3, stdin=EVIL_PICKLE, stdout_has=["-: DANGEROUS [pickle]"]),
    Case("zero-length stdin", ["-"], 1, stdin=b"", stdout_has=["-: SUSPICIOUS [empty]"]),
    Case("one missing, one dangerous: exit 3, dangerous is not masked",
         ["--format", "json", "safe.pkl", "evil.pkl", "nope.pt"], 3,
         check=lambda out: verdicts(json.loads(out)) == ["safe", "dangerous", "error"]
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("exit 2: a missing file with a suspicious one", ["unknown.pkl", "nope.pt"], 2),
    Case("exit 2: a missing file, --fail-on dangerous", ["--fail-on", "dangerous", "unknown.pkl",
                                                         "nope.pt"], 2),
    Case("exit 1: suspicious only", ["safe.pkl", "unknown.pkl"], 1),
    Case("exit 3: dangerous with --fail-on dangerous", ["--fail-on", "dangerous", "safe.pkl",
                                                        "evil.pkl"], 3),
    Case("exit 3: dangerous beside a suspicious and a missing file, any order",
         ["nope.pt", "evil.pkl", "unknown.pkl"], 3),
    Case("exit 3: dis of a missing member of a dangerous file",
         ["dis", "--member", "nope", "evil.pkl"], 3, stderr_has=["no pickle in member 'nope'"]),
    Case("help documents the exit statuses", ["--help"], 0,
         stdout_has=["  0  ", "  1  ", "  2  ", "  3  some file is dangerous",
                     "the highest status that applies"]),
    Case("summary line", ["safe.pkl", "evil.pkl"], 3,
         stdout_has=["2 files: 1 safe, 0 suspicious, 1 dangerous, 0 unreadable"]),
    Case("quiet", ["-q", "evil.pkl"], 3, stdout_has=["evil.pkl: DANGEROUS [pickle] 2 findings\n"],
         check=lambda out: out.count("\n") == 1 or (_ for _ in ()).throw(AssertionError(out))),
    Case("unsafe-only lists what needs attention, then the summary",
         ["-i", "--color", "never", "safe.pkl", "evil.pkl", "unknown.pkl"], 3,
         check=lambda out: unsafe_only_text(out)),
    Case("unsafe-only on a safe file prints the summary alone", ["-i", "safe.pkl"], 0,
         check=lambda out: [l for l in out.splitlines() if " MB in " not in l] == [
             "1 files: 1 safe, 0 suspicious, 0 dangerous, 0 unreadable", "formats: pickle 1"]
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("unsafe-only json keeps the counts", ["-i", "--format", "json", "safe.pkl", "evil.pkl",
                                               "unknown.pkl"], 3,
         check=lambda out: (lambda d: ([f["path"] for f in d["files"]] == ["evil.pkl",
                                                                           "unknown.pkl"]
                                       and d["summary"]["files"] == 3
                                       and d["summary"]["safe"] == 1)
                            or (_ for _ in ()).throw(AssertionError(out)))(json.loads(out))),
    Case("unsafe-only sarif has no artifact for a safe file",
         ["-i", "--format", "sarif", "safe.pkl", "evil.pkl"], 3,
         check=lambda out: "safe.pkl" not in out and "evil.pkl" in out
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("label names standard input", ["--label", "downloads/model.bin", "-"], 3,
         stdin=EVIL_PICKLE, stdout_has=["downloads/model.bin: DANGEROUS [pickle] 2 findings\n"]),
    Case("label in json", ["--format", "json", "--label", "model.bin", "-"], 3,
         stdin=EVIL_PICKLE,
         check=lambda out: json.loads(out)["files"][0]["path"] == "model.bin"
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("hash is opt-in: sha256 in json", ["--format", "json", "--hash", "evil.pkl",
                                            "safe.pkl"], 3,
         check=lambda out: [f.get("sha256") for f in json.loads(out)["files"]] == [
             hashlib.sha256(EVIL_PICKLE).hexdigest(), hashlib.sha256(SAFE_PICKLE).hexdigest()]
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("no hash by default", ["--format", "json", "evil.pkl"], 3,
         check=lambda out: "sha256" not in json.loads(out)["files"][0]
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("hash in text", ["--hash", "-q", "safe.pkl"], 0,
         stdout_has=["safe.pkl: SAFE [pickle] 0 findings\n  sha256 "
                     + hashlib.sha256(SAFE_PICKLE).hexdigest() + "\n"]),
    Case("limit hit", ["--limit", "max-opcodes=3", "safe.pkl"], 1, stdout_has=["max-opcodes"]),
    Case("dis", ["dis", "evil.pkl"], 3, golden="dis_evil.txt"),
    Case("dis of a broken stream", ["dis", "one_none.bin"], 0, golden="dis_broken.txt",
         stdout_has=["!! "]),
    Case("dis of a member that has no pickle", ["dis", "--member", "nope", "safe.pkl"], 2,
         stderr_has=["no pickle in member 'nope'"],
         check=lambda out: "== " not in out or (_ for _ in ()).throw(AssertionError(out))),
    Case("dis of the file itself", ["dis", "--member", "", "evil.pkl"], 3,
         stdout_has=["== (file)", "REDUCE"]),
    Case("dis takes one file", ["dis", "evil.pkl", "safe.pkl"], 2, stderr_has=["exactly one"]),
    Case("--member without dis", ["--member", "x", "evil.pkl"], 2, stderr_has=["dis command"]),
    Case("the README's safe example", ["safe_model.pt"], 0, golden="example_safe.txt"),
    Case("the README's malicious example", ["malicious_model.pt"], 3,
         golden="example_malicious.txt"),
    Case("tensor records that look like pickles or zlib stay safe", ["lookalike_records.pt"], 0,
         stdout_has=["lookalike_records.pt: SAFE [torch-zip] 0 findings"]),
    Case("a compressed payload hidden in a record is found", ["hidden_record.pt"], 3,
         stdout_has=["hidden_record.pt: DANGEROUS [torch-zip]",
                     "os.system('touch /tmp/ckptscan_cli_test')"]),
    Case("explain a code", ["--explain", "command"], 0,
         check=lambda out: out == (
             "command (dangerous)\n"
             "  imports or calls something that runs operating-system commands\n"
             "What to do:\n"
             "  Do not load this file: loading it runs an operating-system command. Report it "
             "to where you got it.\n") or (_ for _ in ()).throw(AssertionError(out))),
    Case("explain an unknown code", ["--explain", "no-such-code"], 2,
         stderr_has=["unknown finding code 'no-such-code'"]),
    Case("what to do under a suspicious file", ["--color", "never", "unknown.pkl"], 1,
         check=lambda out: out.splitlines()[-1].startswith(
             "  what to do: Check the imported names") and
         out.splitlines()[-1].endswith("(ckptscan --explain unknown-import)")
         or (_ for _ in ()).throw(AssertionError(out))),
    Case("no what-to-do for a safe file or with -q", ["-q", "evil.pkl", "safe.pkl"], 3,
         check=lambda out: "what to do" not in out or (_ for _ in ()).throw(AssertionError(out))),
    Case("list codes", ["--list-codes"], 0, stdout_has=["| `unknown-import` | suspicious |"]),
]


def run_case(exe, case, workdir, golden_dir, update):
    env = dict(os.environ, NO_COLOR="1")
    p = subprocess.run([exe] + case.argv, cwd=workdir, input=case.stdin or b"",
                       capture_output=True, env=env, timeout=60)
    out, err = p.stdout.decode("utf-8", "surrogateescape"), p.stderr.decode("utf-8", "replace")
    problems = []
    if p.returncode != case.code:
        problems.append(f"exit {p.returncode}, want {case.code}")
    problems += [f"stdout lacks {s!r}" for s in case.stdout_has if s not in out]
    problems += [f"stderr lacks {s!r}" for s in case.stderr_has if s not in err]
    if case.golden:
        path = os.path.join(golden_dir, case.golden)
        if update:
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(out)
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            want = f.read()
        got = out
        if case.golden.endswith(".json"):  # timing is the one field allowed to vary
            got, want = (json.dumps(untimed(json.loads(x)), sort_keys=True) for x in (out, want))
        if got != want:
            problems.append(f"stdout differs from {case.golden}:\n{out}\n--- want ---\n{want}")
    if case.check and not problems:
        try:
            case.check(out)
        except Exception as e:  # noqa: BLE001 - report any assertion
            problems.append(f"check failed: {e!r}")
    return problems, err


def corpus_smoke(exe, corpus):
    """Every corpus sample scans without a crash (exit 0/1/2 only, never a signal)."""
    problems = []
    for root, _, names in os.walk(corpus):
        for n in sorted(names):
            p = subprocess.run([exe, "--format", "json", os.path.join(root, n)],
                               capture_output=True, timeout=60)
            if p.returncode not in (0, 1, 2, 3):
                problems.append(f"{n}: exit {p.returncode}")
            else:
                doc = json.loads(p.stdout)
                json_shape(doc)
                want = {"safe": 0, "suspicious": 1, "error": 2, "dangerous": 3}[verdicts(doc)[0]]
                if p.returncode != want:
                    problems.append(f"{n}: exit {p.returncode} for {verdicts(doc)[0]}")
    return problems


def docs_in_sync(exe, repo):
    """README's code table is exactly --list-codes; the man page names every code;
    every code has an explanation; --help's options are in the man page and README."""
    table = subprocess.run([exe, "--list-codes"], capture_output=True, text=True).stdout
    problems = []
    for line in table.splitlines()[2:]:
        code = line.split("|")[1].strip().strip("`")
        p = subprocess.run([exe, "--explain", code], capture_output=True, text=True)
        if p.returncode != 0 or "What to do:" not in p.stdout:
            problems.append(f"--explain {code} fails")
    import re
    helptext = subprocess.run([exe, "--help"], capture_output=True, text=True).stdout
    with open(os.path.join(repo, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(os.path.join(repo, "doc", "ckptscan.1"), encoding="utf-8") as f:
        man_text = f.read().replace("\\-", "-")
    for opt in sorted(set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", helptext, re.M))):
        if opt not in readme:
            problems.append(f"README lacks {opt}")
        if opt not in man_text:
            problems.append(f"man page lacks {opt}")
    with open(os.path.join(repo, "README.md"), encoding="utf-8") as f:
        if table.strip() not in f.read():
            problems.append("README.md code table differs from ckptscan --list-codes")
    with open(os.path.join(repo, "doc", "ckptscan.1"), encoding="utf-8") as f:
        man = f.read()
    for line in table.splitlines()[2:]:
        code = line.split("|")[1].strip().strip("`")
        if f".B {code}\n" not in man:
            problems.append(f"man page lacks code {code}")
    return problems


def digests_exact(exe, work):
    """--hash equals hashlib's SHA-256 at every padding boundary and on a multi-chunk file,
    through the SHA-extension path (when the CPU has it) and the portable one alike."""
    import random
    rng = random.Random(7)
    problems = []
    sizes = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 4097, (1 << 20) + 3, 3 << 20]
    for size in sizes:
        data = bytes(rng.getrandbits(8) for _ in range(min(size, 4096))) * (size // 4096 + 1)
        data = data[:size]
        path = os.path.join(work, f"digest_{size}.bin")
        with open(path, "wb") as f:
            f.write(data)
        for portable in ("", "1"):
            env = dict(os.environ, CKPTSCAN_SHA256_PORTABLE=portable)
            if not portable:
                env.pop("CKPTSCAN_SHA256_PORTABLE")
            p = subprocess.run([exe, "--format", "json", "--hash", path], capture_output=True,
                               env=env, timeout=60)
            got = json.loads(p.stdout)["files"][0].get("sha256")
            if got != hashlib.sha256(data).hexdigest():
                problems.append(f"size {size} portable={portable or 0}: {got}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--corpus")
    ap.add_argument("--update", action="store_true")
    a = ap.parse_args()
    exe = os.path.abspath(a.ckptscan)
    global SCHEMA
    repo = os.path.dirname(os.path.dirname(os.path.abspath(a.golden)))
    with open(os.path.join(repo, "doc", "report.schema.json"), encoding="utf-8") as f:
        SCHEMA = json.load(f)
    golden_dir = os.path.join(os.path.abspath(a.golden), "golden")
    passed = failed = 0
    results = []  # (name, problems) of the checks after the cases
    with tempfile.TemporaryDirectory() as work:
        for name, data in FILES.items():
            with open(os.path.join(work, name), "wb") as f:
                f.write(data)
        for name in ("safe_model.pt", "malicious_model.pt"):
            shutil.copy(os.path.join(repo, "fixtures", "examples", name), work)
        os.makedirs(os.path.join(work, "emptydir"))
        os.makedirs(os.path.join(work, "tree", "a"))
        for name, data in (("tree/safe.pkl", SAFE_PICKLE), ("tree/a/evil.pkl", EVIL_PICKLE)):
            with open(os.path.join(work, name), "wb") as f:
                f.write(data)
        for case in CASES:
            problems, err = run_case(exe, case, work, golden_dir, a.update)
            if problems:
                failed += 1
                print(f"FAIL {case.name}: " + "\n  ".join(problems) + f"\n  stderr: {err}")
            else:
                passed += 1
                print(f"ok   {case.name}")
        results.append(("digests exact", digests_exact(exe, work)))
    results.append(("docs in sync", docs_in_sync(exe, repo)))
    if a.corpus and os.path.isdir(a.corpus):
        results.append(("corpus smoke", corpus_smoke(exe, a.corpus)))
    else:
        print(f"note corpus smoke skipped: {a.corpus} absent (optional peer corpus)")
    for what, problems in results:
        failed += bool(problems)
        passed += not problems
        print(f"FAIL {what}: " + "; ".join(problems) if problems else f"ok   {what}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
