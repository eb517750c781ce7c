#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Real-loader differential campaign (issue 12): ckptscan against the loaders.

Usage: campaign.py --ckptscan PATH [--count N] [--seed S] [--jobs J] [--workdir DIR]
                   [--known FILE] [--repro-dir DIR] [--shrink-evals N]

Generates files of every format and header surface (gen_surfaces.py, plus the
raw pickles of tests/diff/gen_pickles.py and the saver-made containers of
tests/diff/gen_containers.py), loads each with the real loaders that could
open it, in persistent worker processes (oracle_worker.py: one per loader,
each load in a throwaway directory with a time-out; the names a loader
resolved come from CPython's `pickle.find_class` audit event), scans it with
`ckptscan --format json` and checks, for every file and every loader:

  (a) each (module, name) the loader resolved is among the report's imports
      (same module and name as written, or `resolved` is module.name; torch's
      own 'torch.tensor' -> 'torch._tensor' rewrite is undone);
  (b) if any of them is off the allowlist (the report's `allowed` is false, or
      the name is a ckpt_diff_* module that exists nowhere or one that can never
      be allowlisted: run_diff.must_deny), the verdict is not safe;
  (e) no ckpt_diff_* or must_deny name is reported `allowed`;
  (p) if the loader called persistent_load, the report walked a pickle;
  (n) for non-pickle families (text, JSON, GGUF, safetensors...): when the
      report has no finding above info, the loaders resolved nothing and
      called no persistent_load; and in every family, a file reported as no
      pickle (format unknown, text, json, ...) is one the loaders resolved
      nothing in and called no persistent_load for;
  (h) harness: no find_class ran outside the recorder (`unpatched`);
  (U) not a divergence: torch resolved names or called persistent_load from
      bytes of a zip member the file does not determine (a failed deflate
      stream, distance-0 copies), and ckptscan's verdict is DANGEROUS with the
      undetermined-bytes finding; counted apart. Without that verdict and
      finding the miss is (a) or (p), class `... uninit-tail`;
  (r) per file: when a loader called a real callable that can never be
      allowlisted (the code-ran marker: payload_calls), the verdict is not
      safe. Such files are counted by verdict (the DANGEROUS share), and the
      ones not DANGEROUS are listed grouped by verdict and finding codes.

Every divergence is printed with its class (check, loader, family), shrunk by
dropping bytes while it holds, and saved under --repro-dir. Divergences whose
class matches a line of --known (default known_divergences.txt beside this
file) are listed but do not fail. The last line is `N passed, M failed`
(files); exit 1 when an unknown divergence was found.
"""

import argparse
import collections
import fnmatch
import json
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DIFF = os.path.join(os.path.dirname(HERE), "diff")
sys.path.insert(0, DIFF)
sys.path.insert(0, HERE)

import gen_pickles  # noqa: E402
import gen_surfaces  # noqa: E402
from run_diff import GRADED, cpython_key, graded, must_deny, report_key, resolve_pair, same_name  # noqa: E402

LOADERS = ("pickle", "pypickle", "torch", "numpy", "joblib")
FAST = ("pickle", "pypickle")  # in-process loaders, cheap enough to run on every file
FAKE_PREFIX = "ckpt_diff_"
NONPICKLE = "surf/nonpickle/"
# formats ckptscan names when no pickle reading holds (src/formats/formats_data.c)
DATA_FORMATS = {"unknown", "text", "json", "gguf", "onnx", "hdf5", "tflite", "png", "jpeg", "gif",
                "webp", "msgpack"}
TORCH_MODULE_MAPPING = {"torch._tensor": "torch.tensor"}  # torch.load's load_module_mapping, reversed


# ---------------------------------------------------------------------------
# samples


def never_allowed(module, name):
    if module.split(".")[0].startswith(FAKE_PREFIX):
        return True
    return must_deny(module, name) and must_deny(*resolve_pair(module, name, 0))


_containers = None


def containers():
    """tests/diff/gen_containers.py, imported on first use (it imports torch)."""
    global _containers
    if _containers is None:
        import gen_containers
        gen_containers.torch.set_num_threads(1)
        _containers = gen_containers
    return _containers


ONLY = []  # --family: restrict to these gen_surfaces families


def make_sample(seed, i, tmpdir):
    """(family label, bytes, extension, loaders) of sample i: depends only on
    (seed, i)."""
    rng = random.Random("ckptscan-oracle/%s/%d" % (seed, i))
    r = 1.0 if ONLY else rng.random()
    if r < 0.30:
        name, blob = gen_pickles.make_one("o12-%s" % seed, i)
        kind = name.split("-", 2)[1]
        loaders = list(FAST)
        if rng.random() < 0.15:
            loaders.append(rng.choice(["torch", "numpy", "joblib"]))
        return "raw/%s/%s" % (kind, name.split("-", 2)[2].rsplit(".", 1)[0]), blob, ".pkl", loaders
    if r < 0.42:
        gc = containers()
        fam, _w, maker, mutations = rng.choice(gc.SCHEDULE)
        mutate = rng.choice(mutations)
        tmp = os.path.join(tmpdir, "gen-%d.tmp" % i)
        data, ext, loaders, _recipe = maker(rng, mutate, tmp)
        if os.path.exists(tmp):
            os.unlink(tmp)
        if fam == "raw":
            loaders = list(loaders) + list(FAST)
        return "cont/%s/%s" % (fam, mutate or "plain"), data, ext, list(loaders)
    fams = [f for f in gen_surfaces.FAMILIES if not ONLY or f[0] in ONLY]
    total = sum(w for _f, w, _m, _l in fams)
    k = rng.randrange(total)
    for fam, w, maker, loaders in fams:
        if k < w:
            break
        k -= w
    data, ext, variant = maker(rng)
    if fam == "mutant":  # the loaders of the family that was mutated
        base = variant.split("-", 1)[0]
        loaders = next(lds for f, _w, _m, lds in gen_surfaces.FAMILIES if f == base)
    return "surf/%s/%s" % (fam, variant), data, ext, pick_loaders(rng, loaders)


# A fork-per-load loader costs 50-150 ms a file, the in-process pickle loaders
# a few ms: families open to every loader get each forked loader with this
# probability (their own loader, the first listed, always).
FORK_SHARE = [0.3]


def pick_loaders(rng, loaders):
    out = []
    for k, ld in enumerate(loaders):
        if ld in FAST or k == 0 or rng.random() < FORK_SHARE[0]:
            out.append(ld)
    return out


# ---------------------------------------------------------------------------
# the code-ran marker (issue 12: files that run code are never SAFE and, on
# attack sets, >= 95% DANGEROUS)

# modules whose import alone acts (prints, opens a browser, starts IDLE):
# never imported to check a name
IMPORT_ACTS = {"antigravity", "this", "idlelib", "turtledemo", "turtle", "tkinter", "test"}
# installed packages whose import is inert, imported to check a name too
THIRD_PARTY = {"torch", "numpy", "joblib", "dill", "cloudpickle", "requests", "pandas", "sklearn", "scipy",
               "torchvision", "pip", "setuptools", "yaml"}
_resolve_cache = {}


def _resolve_form(m, n):
    """(exists, callable) of module m, dotted name n, importing only what
    is safe to import (see real_resolution)."""
    import importlib
    import importlib.util
    parts = m.split(".")
    if not m or "" in parts or not all(x.isidentifier() for x in parts):
        return False, False
    if parts[0] in IMPORT_ACTS or any(x.startswith("__") for x in parts) or \
            (parts[0] not in sys.stdlib_module_names and parts[0] not in THIRD_PARTY):
        try:
            return importlib.util.find_spec(parts[0]) is not None, False
        except BaseException:  # noqa: BLE001 - not findable
            return False, False
    try:
        obj = importlib.import_module(m)
        for a in n.split("."):
            obj = getattr(obj, a)
    except BaseException:  # noqa: BLE001 - no such name
        return False, False
    return True, callable(obj) and not inert(obj)


def inert(obj):
    """Callables that never act whatever their arguments: path arithmetic
    (posixpath, ntpath, genericpath: never-allowlisted only as os.path's
    module) and the protocol helpers picklers write for plain objects
    (copyreg._reconstructor(cls, object, None) is object.__new__(cls); the
    class is a name of its own)."""
    import copyreg
    if getattr(obj, "__module__", None) in ("posixpath", "ntpath", "genericpath"):
        return True
    return obj in (copyreg._reconstructor, copyreg.__newobj__, copyreg.__newobj_ex__)


def real_resolution(module, name, forms=None):
    """What find_class(module, name) really gives: (exists, [the forms
    (module, name) that are real callables]). The forms are the name as
    written and through the protocol < 3 mapping (_compat_pickle), or only
    those of `forms` (joined 'module.name' strings: the report's `resolved`,
    which knows the protocol in force; tests/diff checks it against CPython).
    exists is False when every import or attribute walk fails (the real
    loader stops there). Only standard-library and THIRD_PARTY modules are
    imported, never one whose import acts; any other module counts as
    existing when Python can find it."""
    exists, called = False, []
    for m, n in sorted({(module, name), resolve_pair(module, name, 0)}):
        if forms is not None and "%s.%s" % (m, n) not in forms:
            continue
        if (m, n) not in _resolve_cache:
            _resolve_cache[(m, n)] = _resolve_form(m, n)
        e, c = _resolve_cache[(m, n)]
        exists = exists or e
        if c:
            called.append((m, n))
    return exists, called


def report_forms(rep, m, n):
    """The report's `resolved` strings for the import (m, n), or None when
    it lists no such import."""
    if rep is None:
        return None
    key = (cpython_key(m), cpython_key(n))
    forms = {im.get("resolved", "") for im in rep.get("imports", [])
             if (report_key(im.get("module", "")), report_key(im.get("name", ""))) == key}
    return forms or None


def payload_calls(recs, rep=None):
    """The names whose call is a payload that ran: a loader called the name
    (CallLog) before resolving any name that does not exist (the real
    loader's import fails there), and the name, in a form that is a real
    callable, can never be allowlisted (run_diff.must_deny); a call-through
    (run_diff.GRADED: partial, getattr...) only with a callable argument."""
    out = set()
    for rec in recs:
        imports = rec.get("imports", [])
        stop = next((k for k, (m, n) in enumerate(imports)
                     if not real_resolution(m, n, report_forms(rep, m, n))[0]), len(imports))
        for m, n, k, reach in rec.get("calls", []):
            called = real_resolution(m, n, report_forms(rep, m, n))[1]
            # a call-through counts only when it reaches something: partial(1) just raises
            if k <= stop and any(must_deny(cm, cn) and (reach or "%s.%s" % (cm, cn) not in GRADED)
                                 for cm, cn in called):
                out.add("%s.%s" % (m, n))
    return sorted(out)


def code_ran_group(rep):
    """Why a code-running file is not DANGEROUS: its verdict and finding codes."""
    codes = sorted({f.get("code", "?") for f in (rep or {}).get("findings", []) if f.get("severity") != "info"})
    return "%s [%s]" % ((rep or {}).get("verdict"), " ".join(codes))


# ---------------------------------------------------------------------------
# loader workers


LOAD_TIMEOUT = [5]   # seconds per load (the worker's alarm)
RECYCLE = 5000       # loads before a worker is restarted


class Worker:
    """One persistent oracle_worker.py process for one loader."""

    def __init__(self, python, loader, home):
        self.python, self.loader, self.home = python, loader, home
        self.proc = None
        self.restarts = 0
        self.served = 0

    def start(self):
        env = {"HOME": self.home, "TMPDIR": self.home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CKPT_ORACLE_TIMEOUT": str(LOAD_TIMEOUT[0])}
        self.proc = subprocess.Popen([self.python, os.path.join(HERE, "oracle_worker.py"), self.loader],
                                     cwd=self.home, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.buf = b""

    def stop(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.restarts += 1

    def load(self, path, timeout=None):
        """The worker's record for one file; a dead or stuck worker gives a
        `died` record and is restarted."""
        if self.proc is not None and self.served >= RECYCLE:
            self.stop()  # in-process loads: start afresh now and then
        if self.proc is None:
            self.start()
            self.served = 0
        self.served += 1
        try:
            self.proc.stdin.write((json.dumps({"id": 0, "path": path}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            self.kill()
            return {"loader": self.loader, "imports": [], "persid": 0, "outcome": "died: worker", "calls": []}
        deadline = time.monotonic() + (timeout or LOAD_TIMEOUT[0] * 2 + 10)
        fd = self.proc.stdout.fileno()
        imports, persid, calls = [], 0, []
        while True:
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                why = None
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    why = "died: worker timeout"
                else:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        why = "died: worker exited"
                    self.buf += chunk
                if why:
                    self.kill()
                    return {"loader": self.loader, "imports": imports, "persid": persid, "outcome": why,
                            "calls": calls}
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                msg = json.loads(line.decode("utf-8", "surrogatepass"))
            except ValueError:
                continue  # not the worker's (it keeps its protocol on its own descriptor)
            if not isinstance(msg, dict):
                continue
            if "outcome" in msg:
                return msg
            if "event" not in msg or not isinstance(msg["event"], dict):
                continue
            if "imp" in msg["event"]:
                imports.append(msg["event"]["imp"])
            elif "call" in msg["event"]:
                calls.append(msg["event"]["call"] + [len(imports), msg["event"].get("reach", False)])
            else:
                persid += 1


# ---------------------------------------------------------------------------
# ckptscan


def scan(exe, paths, jobs, timeout=900):
    """{path: report} from one ckptscan run over paths."""
    if not paths:
        return {}
    cmd = [exe, "--format", "json", "-j", str(jobs), "--"] + paths
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if p.returncode < 0:
        raise RuntimeError("ckptscan killed by signal %d" % -p.returncode)
    doc = json.loads(p.stdout.decode("utf-8"))
    return {rep.get("path"): rep for rep in doc.get("files", [])}


# ---------------------------------------------------------------------------
# the comparison


def entries_for(index, cut, m, n, loader):
    keys_m = [cpython_key(m)]
    if loader == "torch" and m in TORCH_MODULE_MAPPING:
        keys_m.append(cpython_key(TORCH_MODULE_MAPPING[m]))
    found = []
    for km in keys_m:
        kn = cpython_key(n)
        found += index["pair"].get((km, kn), [])
        found += index["resolved"].get(km + b"." + kn, [])
        found += [im for (rm, rn), im in cut if same_name(km, rm) and same_name(kn, rn)]
    return found


def build_index(rep):
    index = {"pair": collections.defaultdict(list), "resolved": collections.defaultdict(list)}
    cut = []
    for im in rep.get("imports", []):
        key = (report_key(im.get("module", "")), report_key(im.get("name", "")))
        index["pair"][key].append(im)
        index["resolved"][report_key(im.get("resolved", ""))].append(im)
        if key[0].endswith(b"...") or key[1].endswith(b"..."):
            cut.append((key, im))
    return index, cut


def above_info(rep):
    return [f for f in rep.get("findings", []) if f.get("severity") not in ("info", None)]


def check(family, rec, rep):
    """[(check letter, detail)] for one file and one loader."""
    loader = rec["loader"]
    if rep is None:
        return [("x", "no report from ckptscan")]
    out = []
    if rec["outcome"].startswith("unpatched"):
        out.append(("h", rec["outcome"]))
    verdict = rep.get("verdict")
    index, cut = build_index(rep)
    outside = []
    # torch unpickles a zip member whose deflate stream miniz failed in: the
    # inflated part, then the uninitialised rest of its buffer (see uninit_tail)
    broken = loader == "torch" and any(BROKEN_STREAM in f.get("message", "") or UNWRITTEN in f.get("message", "")
                                       for f in rep.get("findings", []))
    # ... which ckptscan must grade DANGEROUS with undetermined-bytes: then
    # what torch made of those bytes is covered (counted apart, as `U`)
    covered = loader == "torch" and verdict == "dangerous" and any(
        f.get("code") == UNDETERMINED for f in rep.get("findings", []))
    for m, n in sorted({tuple(x) for x in rec["imports"]}):
        entries = entries_for(index, cut, m, n, loader)
        if not entries:
            if covered:
                out.append(("U", "%s resolved (%r, %r) from bytes the file does not determine" % (loader, m, n)))
                continue
            out.append(("a", "%s resolved (%r, %r); not among ckptscan's imports%s"
                        % (loader, m, n, UNINIT if broken else "")))
            outside.append((m, n))
            continue
        never = never_allowed(m, n)
        if never and any(im.get("allowed") for im in entries):
            out.append(("e", "(%r, %r) reported allowed; it can never be allowlisted" % (m, n)))
        # a call-through graded by what it reaches (partial, getattr...) with no
        # finding counts through its target, itself an import (run_diff.graded)
        if (never or not all(im.get("allowed") for im in entries)) and not graded(rep, entries):
            outside.append((m, n))
    if outside and verdict == "safe":
        out.append(("b", "verdict safe although %s resolved %r, off the allowlist" % (loader, sorted(set(outside))[:4])))
    if rec.get("persid") and not rep.get("pickles") and covered:
        out.append(("U", "%s called persistent_load on bytes the file does not determine" % loader))
    elif rec.get("persid") and not rep.get("pickles"):
        out.append(("p", "%s called persistent_load %d times; ckptscan walked no pickle%s"
                    % (loader, rec["persid"], UNINIT if broken else "")))
    # a file reported as no pickle (issue 13: its pickle reading fails before
    # any import or persistent id, or meets a persistent id first at offset 0)
    # must be one that no loader resolved anything in, whatever its family
    not_a_pickle = rep.get("format") in DATA_FORMATS
    if ((family.startswith(NONPICKLE) and not above_info(rep)) or not_a_pickle) and \
            (rec["imports"] or rec.get("persid")):
        out.append(("n", "no finding above info (format %s) although %s resolved %r / %d persistent ids"
                    % (rep.get("format"), loader, [tuple(x) for x in rec["imports"]][:4], rec.get("persid", 0))))
    return out


def family_class(family):
    """SOURCE/FAMILY, plus for some families the variant's feature that
    tells root causes apart (surf/frames/toolong, surf/wrapper/rebuilt...)."""
    parts = family.split("/")
    base = "/".join(parts[:2])
    variant = parts[2] if len(parts) > 2 else ""
    if base == "surf/frames":
        return base + "/" + variant.split("-")[0]
    if base == "surf/compress":
        return base + "/" + variant.split("-")[0]
    if base == "surf/legacy":
        return base + ("/frame" if "-frame" in variant else "/plain")
    if base == "surf/tar":
        return base + "/" + variant.split("-")[0]
    if base in ("surf/tarhdr", "surf/deflate", "surf/compmagic"):
        return base + "/" + variant.split("-")[-1]
    if base == "surf/wrapper":
        if "-pass" in variant:
            return base + "/passthrough"
        if "-rebuilt" in variant:
            return base + "/rebuilt"
        return base + ("/plain" if "-b0-" in variant else "/state")
    return base


def class_key(family, loader, letter, detail=""):
    """CHECK LOADER SOURCE/FAMILY; (a) misses of names no import can succeed
    with (an empty module, as Lib/pickle.py makes from a GLOBAL cut by EOF)
    are a class of their own: `... empty-name`."""
    key = "%s %s %s" % (letter, loader, family_class(family))
    if letter == "a" and detail.startswith("%s resolved ('', " % loader):
        key += " empty-name"
    elif letter in "ap" and loader == "torch" and uninit_tail(family, detail):
        key += " uninit-tail"
    return key


BROKEN_STREAM = "its compressed stream is broken"  # zipview.c's finding for a member cut short
UNWRITTEN = "copies bytes miniz never wrote"  # ... for a miniz-only stream with distance-0 copies
UNINIT = " (the member's stream is broken: torch read past what inflates)"
UNDETERMINED = "undetermined-bytes"  # the finding for it: torch unpickles bytes the file does not determine


def uninit_tail(family, detail):
    """A name torch resolved from a zip member whose deflate stream miniz
    fails in, where ckptscan lists none: mz_zip_reader_extract_to_mem sets no
    error and torch unpickles its buffer, the inflated part then bytes never
    written (heap left-overs, in a persistent worker often earlier files'),
    which complete or follow the pickle the failure cut."""
    return detail.endswith(UNINIT)


def load_known(path):
    """[(pattern, note)]: `pattern` is 'CHECK LOADER FAMILY' with fnmatch
    wildcards, the note names the issue and root cause."""
    known = []
    if not path or not os.path.exists(path):
        return known
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields, _sep, note = line.partition("--")
            pat = " ".join(fields.split())
            if len(fields.split()) < 3 or not note.strip():
                raise ValueError("known-divergences line needs CHECK LOADER FAMILY -- issue/root cause: %r" % line)
            known.append((pat, note.strip()))
    return known


def is_known(known, key):
    for pat, note in known:
        if fnmatch.fnmatchcase(key, pat):
            return note
    return None


# ---------------------------------------------------------------------------
# shrinking


class Shrinker:
    def __init__(self, exe, workers, tmpdir, max_evals, max_seconds):
        self.exe, self.workers, self.tmpdir = exe, workers, tmpdir
        self.max_evals, self.max_seconds = max_evals, max_seconds
        self.n = 0

    def holds(self, data, family, loader, letter, ext, detail=None):
        self.n += 1
        path = os.path.join(self.tmpdir, "shrink-%d%s" % (self.n, ext))
        with open(path, "wb") as f:
            f.write(data)
        try:
            rec = self.workers[loader].load(path)
            rep = scan(self.exe, [path], 1).get(path)
            if letter == "r":  # the payload still runs under that loader and the verdict is safe
                return bool(rep) and rep.get("verdict") == "safe" and bool(payload_calls([rec], rep))
            return any(c == letter and (detail is None or d == detail) for c, d in check(family, rec, rep))
        finally:
            os.unlink(path)

    def shrink(self, data, family, loader, letter, ext, detail=None):
        """Drops chunks of bytes (halves down to single bytes) while the
        divergence holds, within the evaluation and time budgets."""
        t0, evals = time.monotonic(), 0
        chunk = max(1, len(data) // 2)
        while chunk >= 1:
            pos, progress = 0, False
            while pos < len(data):
                if evals >= self.max_evals or time.monotonic() - t0 > self.max_seconds:
                    return data
                cand = data[:pos] + data[pos + chunk:]
                evals += 1
                if cand and self.holds(cand, family, loader, letter, ext, detail):
                    data, progress = cand, True
                else:
                    pos += chunk
            if not progress:
                chunk //= 2
        return data


# ---------------------------------------------------------------------------


def hexdump(data, limit=160):
    lines = []
    for off in range(0, min(len(data), limit), 16):
        chunk = data[off:off + 16]
        lines.append("      %04x  %-47s  %s" % (off, " ".join("%02x" % b for b in chunk),
                                               "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)))
    if len(data) > limit:
        lines.append("      ... (%d bytes in all)" % len(data))
    return "\n".join(lines)


def slug(key):
    return "".join(c if c.isalnum() else "_" for c in key).strip("_")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--count", type=int, default=600, help="files to generate (default 600)")
    ap.add_argument("--start", type=int, default=0, help="first sample index (default 0)")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--jobs", type=int, default=2, help="loader workers and ckptscan threads at once")
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--workdir", help="keep files and results here (default: a temporary directory)")
    ap.add_argument("--known", default=os.path.join(HERE, "known_divergences.txt"))
    ap.add_argument("--repro-dir", help="where reproducers go (default WORKDIR/repro)")
    ap.add_argument("--shrink-evals", type=int, default=120, help="per class; 0 turns shrinking off")
    ap.add_argument("--shrink-seconds", type=float, default=60)
    ap.add_argument("--shrink-known", action="store_true", help="also shrink known divergences")
    ap.add_argument("--max-details", type=int, default=3, help="examples printed per class")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--fork-share", type=float, default=FORK_SHARE[0],
                    help="chance that a file open to every loader also goes to torch, numpy and joblib")
    ap.add_argument("--load-timeout", type=int, default=LOAD_TIMEOUT[0], help="seconds per load (default 5)")
    ap.add_argument("--family", action="append", default=[],
                    help="only this gen_surfaces family (repeatable; for exploring)")
    ap.add_argument("--progress", type=int, default=0, help="print a progress line every N batches")
    args = ap.parse_args(argv)

    exe = os.path.abspath(args.ckptscan)
    if not os.access(exe, os.X_OK):
        print("campaign: %s is not executable" % exe, file=sys.stderr)
        return 2
    known = load_known(args.known)
    FORK_SHARE[0] = args.fork_share
    LOAD_TIMEOUT[0] = args.load_timeout
    ONLY[:] = args.family
    workdir = os.path.abspath(args.workdir) if args.workdir else tempfile.mkdtemp(prefix="ckptscan-oracle-")
    os.makedirs(workdir, exist_ok=True)
    files_dir = os.path.join(workdir, "files")
    os.makedirs(files_dir, exist_ok=True)
    repro_dir = os.path.abspath(args.repro_dir or os.path.join(workdir, "repro"))
    homes = os.path.join(workdir, "homes")
    workers = {}
    for ld in LOADERS:
        os.makedirs(os.path.join(homes, ld), exist_ok=True)
        workers[ld] = Worker(args.python, ld, os.path.join(homes, ld))

    t0 = time.monotonic()
    loads = collections.Counter()
    outcomes = collections.Counter()
    families = collections.Counter()
    verdicts = collections.Counter()
    n_imports = 0
    load_ms = collections.Counter()
    slowest = []
    phase = collections.Counter()
    classes = collections.OrderedDict()  # key -> {"count", "examples", "known"}
    ran_verdicts = collections.Counter()  # files whose payload ran under some loader
    uninit_covered = collections.Counter()  # (file, torch) pairs covered by undetermined-bytes
    ran_groups = collections.OrderedDict()  # code_ran_group -> {"count", "names", "examples"}
    failed_files = set()
    import concurrent.futures
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        for bstart in range(args.start, args.start + args.count, args.batch):
            idx = range(bstart, min(bstart + args.batch, args.start + args.count))
            tb = time.monotonic()
            samples = []
            for i in idx:
                fam, data, ext, lds = make_sample(args.seed, i, files_dir)
                path = os.path.join(files_dir, "%07d-%s%s" % (i, slug(fam)[:60], ext))
                with open(path, "wb") as f:
                    f.write(data)
                samples.append({"i": i, "family": fam, "path": path, "loaders": lds, "ext": ext})
                families[fam.split("/")[0] + "/" + fam.split("/")[1]] += 1
            tg = time.monotonic()
            phase["generate"] += tg - tb
            by_loader = collections.defaultdict(list)
            for s in samples:
                for ld in s["loaders"]:
                    by_loader[ld].append(s)
            recs = {}

            def run(ld):
                return ld, [(s["path"], workers[ld].load(s["path"])) for s in by_loader[ld]]
            for ld, out in pool.map(run, sorted(by_loader)):
                for path, rec in out:
                    recs[(path, ld)] = rec
            tl = time.monotonic()
            phase["load"] += tl - tg
            reports = scan(exe, [s["path"] for s in samples], args.jobs)
            phase["ckptscan"] += time.monotonic() - tl
            keep = set()
            for s in samples:
                rep = reports.get(s["path"])
                verdicts[rep.get("verdict") if rep else "none"] += 1
                ran = payload_calls([recs[(s["path"], ld)] for ld in s["loaders"]], rep)
                if ran:
                    ran_verdicts[rep.get("verdict") if rep else "none"] += 1
                    if not rep or rep.get("verdict") != "dangerous":
                        g = ran_groups.setdefault(code_ran_group(rep), {"count": 0, "names": collections.Counter(),
                                                                       "examples": []})
                        g["count"] += 1
                        g["names"].update(ran)
                        if len(g["examples"]) < args.max_details:
                            g["examples"].append({"path": s["path"], "family": s["family"], "ran": ran})
                            keep.add(s["path"])
                        if rep and rep.get("verdict") == "safe":
                            key = "r %s" % family_class(s["family"])
                            c = classes.setdefault(key, {"count": 0, "examples": [], "known": is_known(known, key)})
                            c["count"] += 1
                            if len(c["examples"]) < args.max_details:
                                who = next(ld for ld in s["loaders"] if payload_calls([recs[(s["path"], ld)]], rep))
                                c["examples"].append({"path": s["path"], "family": s["family"],
                                                      "detail": "verdict safe although %s called %s" % (who, ran),
                                                      "loader": who, "letter": "r", "ext": s["ext"],
                                                      "outcome": "", "verdict": "safe", "format": rep.get("format")})
                            if not c["known"]:
                                failed_files.add(s["path"])
                for ld in s["loaders"]:
                    rec = recs[(s["path"], ld)]
                    loads[ld] += 1
                    outcomes["%s %s" % (ld, rec["outcome"].split(":")[0])] += 1
                    n_imports += len(rec["imports"])
                    load_ms[ld] += rec.get("ms", 0)
                    slowest.append((rec.get("ms", 0), ld, s["family"], rec["outcome"][:80]))
                    slowest.sort(reverse=True)
                    del slowest[10:]
                    found = check(s["family"], rec, rep)
                    if any(letter == "U" for letter, _d in found):
                        uninit_covered[family_class(s["family"])] += 1
                    for letter, detail in found:
                        if letter == "U":
                            continue
                        key = class_key(s["family"], ld, letter, detail)
                        c = classes.setdefault(key, {"count": 0, "examples": [], "known": is_known(known, key)})
                        c["count"] += 1
                        if len(c["examples"]) < args.max_details:
                            c["examples"].append({"path": s["path"], "family": s["family"], "detail": detail,
                                                  "loader": ld, "letter": letter, "ext": s["ext"],
                                                  "outcome": rec["outcome"], "verdict": rep and rep.get("verdict"),
                                                  "format": rep and rep.get("format")})
                            keep.add(s["path"])
                        if not c["known"]:
                            failed_files.add(s["path"])
            for s in samples:
                if s["path"] not in keep:
                    os.unlink(s["path"])
            nb = (bstart - args.start) // args.batch + 1
            if args.progress and nb % args.progress == 0:
                print("progress: %d files, %d loads (%s), %d divergence classes (%d known): %s; %.0fs"
                      % (bstart + len(idx) - args.start, sum(loads.values()),
                         ", ".join("%s %d" % kv for kv in sorted(loads.items())), len(classes),
                         sum(1 for c in classes.values() if c["known"]),
                         "; ".join("%s %d" % (k, c["count"]) for k, c in classes.items()),
                         time.monotonic() - t0), flush=True)
        t_run = time.monotonic() - t0

        # shrink one example per class and save the reproducers
        shrinker = Shrinker(exe, workers, files_dir, args.shrink_evals, args.shrink_seconds)
        if classes:
            os.makedirs(repro_dir, exist_ok=True)
        for key, c in classes.items():
            if c["known"] and not args.shrink_known:
                continue
            ex = c["examples"][0]
            with open(ex["path"], "rb") as f:
                data = f.read()
            small = data
            if args.shrink_evals > 0 and len(data) <= 1 << 20:
                # (a) and (e) keep the very name missed; the others their check
                same = ex["detail"] if ex["letter"] in "ae" else None
                small = shrinker.shrink(data, ex["family"], ex["loader"], ex["letter"], ex["ext"], same)
            base = os.path.join(repro_dir, slug(key))
            with open(base + ex["ext"], "wb") as f:
                f.write(data)
            with open(base + ".min" + ex["ext"], "wb") as f:
                f.write(small)
            c["repro"], c["min"], c["min_bytes"] = base + ex["ext"], base + ".min" + ex["ext"], small
    finally:
        pool.shutdown()
        for w in workers.values():
            w.stop()

    unknown = 0
    for key, c in classes.items():
        print("%s %s: %d (file, loader) pairs%s" % ("KNOWN" if c["known"] else "DIVERGENCE", key, c["count"],
                                                   " -- " + c["known"] if c["known"] else ""))
        unknown += not c["known"]
        for ex in c["examples"]:
            print("  %s [%s] %s: %s" % (os.path.basename(ex["path"]), ex["family"], ex["loader"], ex["detail"]))
            print("    loader outcome: %s; ckptscan verdict %s, format %s" % (ex["outcome"], ex["verdict"], ex["format"]))
        if "repro" in c:
            print("  reproducer %s; shrunk to %d bytes: %s" % (c["repro"], len(c["min_bytes"]), c["min"]))
            print(hexdump(c["min_bytes"]))
    summary = {"seed": args.seed, "start": args.start, "count": args.count, "seconds": round(t_run, 1),
               "loads": dict(loads), "total_loads": sum(loads.values()), "families": dict(families),
               "verdicts": dict(verdicts), "outcomes": dict(outcomes), "imports_recorded": n_imports,
               "restarts": {ld: w.restarts for ld, w in workers.items()},
               "phase_seconds": {k: round(v, 1) for k, v in phase.items()},
               "slowest_loads": slowest,
               "mean_load_ms": {ld: round(load_ms[ld] / loads[ld], 1) for ld in loads},
               "uninit_covered": dict(uninit_covered),
               "code_ran": {"verdicts": dict(ran_verdicts), "total": sum(ran_verdicts.values()),
                            "not_dangerous": {k: {"count": g["count"], "names": dict(g["names"]),
                                                  "examples": g["examples"]} for k, g in ran_groups.items()}},
               "classes": {k: {"count": c["count"], "known": c["known"], "repro": c.get("repro"),
                               "min": c.get("min"), "examples": c["examples"]} for k, c in classes.items()}}
    with open(os.path.join(workdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("loads per loader: %s; total %d; imports recorded %d; worker restarts %s"
          % (", ".join("%s %d" % kv for kv in sorted(loads.items())), sum(loads.values()), n_imports,
             summary["restarts"]))
    print("time: %s; mean ms per load: %s" % (summary["phase_seconds"], summary["mean_load_ms"]))
    print("verdicts: %s" % ", ".join("%s %d" % kv for kv in sorted(verdicts.items(), key=str)))
    print("torch read bytes the file does not determine, covered (DANGEROUS, undetermined-bytes): %d "
          "(file, loader) pairs%s" % (sum(uninit_covered.values()), "".join(
              "; %s %d" % kv for kv in sorted(uninit_covered.items()))))
    nran = sum(ran_verdicts.values())
    print("code ran (a loader called a real callable run_diff.must_deny names) in %d files: %s; DANGEROUS %s"
          % (nran, ", ".join("%s %d" % kv for kv in sorted(ran_verdicts.items(), key=str)),
             "%.2f%%" % (100.0 * ran_verdicts["dangerous"] / nran) if nran else "-"))
    for k, g in ran_groups.items():
        print("  not dangerous, %s: %d files; called %s" % (k, g["count"], ", ".join(
            "%s %d" % kv for kv in g["names"].most_common(6))))
        for ex in g["examples"]:
            print("    %s [%s]" % (os.path.basename(ex["path"]), ex["family"]))
    print("seed %s: %d files (%d..%d) in %.0fs; %d divergence classes (%d unknown); details in %s"
          % (args.seed, args.count, args.start, args.start + args.count - 1, t_run, len(classes), unknown,
             os.path.join(workdir, "summary.json")))
    if not args.workdir and not unknown:
        shutil.rmtree(workdir, ignore_errors=True)  # kept only with a new divergence to look at
    print("%d passed, %d failed" % (args.count - len(failed_files), len(failed_files)))
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
