#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Ground truth: do the real loaders run our malicious samples' payloads, and
does ckptscan flag every sample whose payload ran?

For each sample (default: every file named malicious* under fixtures/):
  1. vet it: it is loaded only if every payload in it is a harmless
     `touch /tmp/ckptscan_...` (the rule is in vet() and fixtures/README.md);
     anything under ../shared (the corpus runs real shell commands) is refused;
  2. delete its marker files, load it with the real loader in a throwaway
     subprocess (temp cwd, temp HOME and TMPDIR, no stdin, timeout):
       .pt .pth .bin .ckpt .tar and zips  torch.load(path, weights_only=False)
       .npy .npz                          numpy.load(path, allow_pickle=True)
       .joblib .jbl, or 'joblib' in name   joblib.load(path)
       anything else                      pickle.load(f)
     and see whether a marker file appeared;
  3. run `ckptscan --format json` on it and require: payload ran -> verdict
     "dangerous" (a command ran, so the denylist must have fired; "suspicious"
     would pass --fail-on dangerous); payload did not run -> not "safe" (the
     bytes are malicious by construction and other loaders or versions may
     run them).

Needs python3-torch, numpy and joblib (CI's .ci/run installs them); never run
by `meson test`. The last line is "N passed, M failed"; exit 1 on a failure,
2 on a usage or environment error.
"""

import argparse
import bz2
import gzip
import io
import json
import lzma
import os
import pickletools
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.realpath(os.path.join(REPO, "..", "shared"))

MARKER = r"/tmp/ckptscan_[A-Za-z0-9_.-]+"
TOUCH = r"touch " + MARKER
# The only payloads a sample may carry: the shell command, optionally wrapped
# in the Python that runs it (for exec/eval payloads), or the bare marker path.
ALLOWED_PAYLOADS = [
    re.compile(r"__import__\((['\"])os\1\)\.system\((['\"])" + TOUCH + r"\2\)"),
    re.compile(r"import os; ?os\.system\((['\"])" + TOUCH + r"\1\)"),
    re.compile(TOUCH),
    re.compile(MARKER),
]
# Single-word strings that would do harm as a whole shell command.
BARE_COMMANDS = {"reboot", "halt", "poweroff", "shutdown", "init", "telinit", "kill", "killall",
                 "killall5", "sh", "bash", "dash", "zsh", "python", "python3", "perl", "nc",
                 "curl", "wget", "rm", "dd", "mkfs", "shred", "mount", "umount", "swapoff"}
INERT = re.compile(r"[^\s'\"`;&|$(){}\\/]*\Z")
NUMPY_DESCR = re.compile(r"[<>|=]?[A-Za-z]\d*\Z")  # '<f4', '|u1', '|O'

# Command- or code-looking text in bytes no pickle walk parsed (after the
# allowed payloads are blanked out): a word followed by an argument, a call
# with a string literal, a shell expansion.
BYTE_BACKSTOP = re.compile(
    rb"[A-Za-z]{2,} +-{0,2}[A-Za-z0-9/~.$]|[A-Za-z]{2,}\t+-{1,2}[A-Za-z]|\(\s*['\"]|['\"]\s*\)"
    rb"|\$\{[A-Za-z]|\$\(|\$IFS")

MAX_TEXT = 16 << 20    # bytes of one file or decompressed stream that can be vetted
MAX_WALK_OPS = 200000  # opcodes per walk


# ---- vetting -----------------------------------------------------------------

def lz4_all(data):
    import lz4.frame  # optional: without it lz4 samples are refused
    with lz4.frame.open(io.BytesIO(data)) as f:
        return f.read(MAX_TEXT)


def decompress_all(data):
    """Whole-stream codecs joblib and pandas use, tried on the first bytes."""
    tries = []
    if data[:1] == b"\x78":
        tries.append(lambda d: zlib.decompress(d))
    if data[:2] == b"\x1f\x8b":
        tries.append(lambda d: gzip.decompress(d))
    if data[:2] == b"BZ":
        tries.append(lambda d: bz2.decompress(d))
    if data[:6] == b"\xfd7zXZ\x00" or data[:2] == b"\x5d\x00":
        tries.append(lambda d: lzma.decompress(d))
    if data[:4] == b"\x04\x22\x4d\x18":  # lz4 frames, as joblib's LZ4FrameFile reads them
        tries.append(lz4_all)
    if data[:2] == b"ZF":  # joblib's legacy zfile: ZF + 19-char hex length + zlib
        tries.append(lambda d: zlib.decompress(d[21:]))
    out = []
    for t in tries:
        try:
            out.append(t(data)[:MAX_TEXT])
        except Exception:
            pass
    return out


RAW_RECORD = re.compile(r"(?:[^/]*/)?(?:\.?data/[^/]+|version|byteorder|\.format_version"
                        r"|\.storage_alignment)\Z")


def exempt(name):
    """Records no Python unpickler reads, which are not vetted: TorchScript
    source and debug info (read only by torch.jit's C++ loader, which can
    neither import Python nor reach the OS) and torch's raw tensor storages
    and metadata records (read as plain bytes)."""
    return "/code/" in "/" + name or name.endswith(".debug_pkl") or bool(RAW_RECORD.match(name))


def local_record(data, pos):
    """(name, method, data start, compressed size) of the local header at pos."""
    if data[pos:pos + 4] != b"PK\x03\x04" or pos + 30 > len(data):
        return None
    method, = struct.unpack_from("<H", data, pos + 8)
    size, = struct.unpack_from("<I", data, pos + 18)
    name_len, extra_len = struct.unpack_from("<HH", data, pos + 26)
    name = data[pos + 30:pos + 30 + name_len].decode("utf-8", "replace")
    return name, method, pos + 30 + name_len + extra_len, size


def blank_exempt(data):
    """The file with exempt members' bytes (as Python's zipfile locates them)
    zeroed, so TorchScript source and tensor bytes do not trip the rule."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception:
        return data
    out = bytearray(data)
    for info in infos:
        rec = local_record(data, info.header_offset)
        if rec and exempt(info.filename):
            out[rec[2]:rec[2] + info.compress_size] = bytes(info.compress_size)
    return bytes(out)


def deflated_members(data):
    """Every deflated zip local record found by byte search, whatever the
    central directory says (miniz and Python's zipfile disagree on it)."""
    out = []
    for m in re.finditer(rb"PK\x03\x04", data):
        rec = local_record(data, m.start())
        if not rec or rec[1] != 8 or exempt(rec[0]):
            continue
        try:
            out.append(zlib.decompressobj(-15).decompress(data[rec[2]:], MAX_TEXT))
        except zlib.error:
            pass
    return out


def texts_of(data, depth=0):
    """The file's bytes and every decompressed view of them."""
    texts = [blank_exempt(data)]
    if depth < 3:
        for sub in decompress_all(data) + deflated_members(data):
            texts += texts_of(sub, depth + 1)
    return texts


def walk(data, start):
    """Walks pickle opcodes from `start` like CPython's unpickler would parse
    them (INT/LONG accept base 0), collecting string arguments. Returns
    (strings, end offset, reached STOP)."""
    f = io.BytesIO(data)
    f.seek(start)
    strings = []
    for _ in range(MAX_WALK_OPS):
        code = f.read(1)
        if not code:
            return strings, f.tell(), False
        op = pickletools.code2op.get(code.decode("latin-1"))
        if op is None:
            return strings, f.tell() - 1, False
        if op.name in ("INT", "LONG", "FLOAT", "GET", "PUT"):
            if not f.readline().endswith(b"\n"):
                return strings, f.tell(), False
            continue
        try:
            arg = op.arg.reader(f) if op.arg is not None else None
        except Exception:
            return strings, f.tell(), False
        if op.name in ("GLOBAL", "INST"):
            strings += arg.split(" ", 1)
        elif isinstance(arg, (str, bytes, bytearray)):
            strings.append(arg)
        if op.name == "STOP":
            return strings, f.tell(), True
    return strings, f.tell(), False


def pickle_strings(text):
    """String arguments of every pickle the loaders could reach (walks from
    offset 0 and after each STOP, from every PROTO, after a .npy header),
    and a mask of the bytes those walks parsed."""
    starts = {m.start() for m in re.finditer(rb"\x80[\x00-\x05]", text)}
    for m in re.finditer(rb"PK\x03\x04", text):  # stored members, PROTO or not
        rec = local_record(text, m.start())
        if rec and rec[1] == 0 and not exempt(rec[0]):
            starts.add(rec[2])
    strings, done, parsed = [], set(), bytearray(len(text))
    if text.startswith(b"\x93NUMPY") and len(text) > 12:
        # the header is a dict literal numpy reads without evaluating code
        hlen = struct.unpack_from("<H" if text[6] == 1 else "<I", text, 8)[0]
        body = min(len(text), (10 if text[6] == 1 else 12) + hlen)
        parsed[:body] = b"\x01" * body
        starts.add(body)
    elif not text.startswith((b"PK\x03\x04", b"PK\x05\x06")) and not decompress_all(text):
        starts.add(0)  # a pickle at offset 0 (archives and compressed streams are not)
    while starts:
        s = starts.pop()
        if s in done or s >= len(text):
            continue
        done.add(s)
        found, end, stopped = walk(text, s)
        strings += found
        parsed[s:end] = b"\x01" * (end - s)
        if stopped:
            starts.add(end)
    return strings, parsed


def unparsed_runs(text, parsed):
    """The stretches of text no walk parsed (raw tensor data, desync tails)."""
    for m in re.finditer(rb"\x00+", bytes(parsed)):
        yield text[m.start():m.end()]


def blank_payloads(s):
    for rx in ALLOWED_PAYLOADS:
        s = rx.sub(" ", s)
    return s


def string_problem(s):
    """Why a pickle string constant is not inert, or None."""
    if isinstance(s, (bytes, bytearray)):
        if b"\x00" in s:
            return None  # raw data: neither a shell nor exec accepts a NUL
        s = s.decode("latin-1")
    if any(rx.fullmatch(s) for rx in ALLOWED_PAYLOADS):
        return None
    if not INERT.match(s) and not NUMPY_DESCR.match(s):
        return "string %r is neither inert nor an allowed touch payload" % s[:80]
    if s in BARE_COMMANDS:
        return "string %r is a command" % s
    return None


def vet(path):
    """(refusal reason or None, marker paths the payloads touch)."""
    real = os.path.realpath(path)
    if real == SHARED or real.startswith(SHARED + os.sep):
        return "under ../shared: corpus samples run real commands", []
    with open(path, "rb") as f:
        data = f.read(MAX_TEXT + 1)
    if len(data) > MAX_TEXT:
        return "larger than %d bytes: too large to vet" % MAX_TEXT, []
    markers = set()
    for text in texts_of(data):
        strings, parsed = pickle_strings(text)
        for s in strings:
            why = string_problem(s)
            if why:
                return why, []
            if isinstance(s, str):
                markers.update(re.findall(MARKER, s))
        for run in unparsed_runs(text, parsed):
            latin = run.decode("latin-1")
            rest = blank_payloads(latin).encode("latin-1")
            hit = BYTE_BACKSTOP.search(rest)
            if hit:
                ctx = rest[max(0, hit.start() - 20):hit.end() + 20]
                return "command- or code-like bytes %r outside a touch payload" % ctx, []
            for m in re.finditer(MARKER, latin):  # payloads the walker did not reach
                whole = m.group(0)
                markers.update(whole[:n] for n in range(len("/tmp/ckptscan_") + 1,
                                                        len(whole) + 1))
    if not markers:
        return "no touch /tmp/ckptscan_... payload: cannot tell whether it ran", []
    return None, sorted(markers)


# ---- loading -----------------------------------------------------------------

RUNNER = r"""
import sys
kind, path = sys.argv[1], sys.argv[2]
if kind == "torch":
    import torch
    torch.load(path, weights_only=False)
elif kind == "numpy":
    import numpy
    r = numpy.load(path, allow_pickle=True)
    for k in getattr(r, "files", []):  # .npz members are unpickled on access
        r[k]
elif kind == "joblib":
    import joblib
    joblib.load(path)
else:
    import pickle
    with open(path, "rb") as f:
        pickle.load(f)
"""

LOADER_MODULES = {"torch": "torch", "numpy": "numpy", "joblib": "joblib", "pickle": "pickle"}


def loader_for(path):
    name = os.path.basename(path).lower()
    with open(path, "rb") as f:
        head = f.read(4)
    if name.endswith((".npy", ".npz")):
        return "numpy"
    if "joblib" in name or name.endswith(".jbl"):
        return "joblib"
    if name.endswith((".pt", ".pth", ".bin", ".ckpt", ".tar", ".zip")) or head == b"PK\x03\x04":
        return "torch"
    return "pickle"


def remove_markers(markers):
    """Removes what payloads left: files, and directories (venv.create,
    os.makedirs ... make one), only at marker paths."""
    for m in markers:
        if os.path.islink(m) or not re.fullmatch(MARKER, m):
            continue
        if os.path.isfile(m):
            os.unlink(m)
        elif os.path.isdir(m):
            shutil.rmtree(m)


def run_loader(python, kind, path, markers, timeout):
    """Loads in a throwaway process; returns (payload ran, loader outcome)."""
    remove_markers(markers)
    tmp = tempfile.mkdtemp(prefix="ckptscan_realload_")
    env = {"HOME": tmp, "TMPDIR": tmp, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
    proc = subprocess.Popen([python, "-c", RUNNER, kind, os.path.abspath(path)], cwd=tmp,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _out, err = proc.communicate(timeout=timeout)
        outcome = "ok" if proc.returncode == 0 else "failed: " + last_line(err)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own child's process group
        proc.communicate()
        outcome = "timed out"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # torch's legacy source check writes '<class __name__>.patch'
    markers = markers + [m + ".patch" for m in markers]
    ran = [m for m in markers if os.path.exists(m)]
    remove_markers(markers)
    return bool(ran), outcome


def last_line(err):
    lines = [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
    return lines[-1][:160] if lines else "no message"


def ckptscan_verdict(ckptscan, path):
    p = subprocess.run([ckptscan, "--format", "json", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=300)
    try:
        return json.loads(p.stdout)["files"][0]["verdict"]
    except (ValueError, KeyError, IndexError):
        return "no report (exit %d: %s)" % (p.returncode, last_line(p.stderr))


def find_python(kinds, requested):
    candidates = [requested] if requested else [sys.executable, "/usr/bin/python3"]
    mods = sorted({LOADER_MODULES[k] for k in kinds})
    for py in candidates:
        if py and subprocess.run([py, "-c", "import " + ", ".join(mods)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return py
    return None


def default_samples():
    """Every fixture file that carries a touch payload (the vetting rule
    decides; generators and docs are left out)."""
    out = []
    for root, dirs, files in os.walk(os.path.join(REPO, "fixtures")):
        dirs.sort()
        out += [os.path.join(root, f) for f in sorted(files)
                if not f.endswith((".py", ".md"))]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("samples", nargs="*",
                    help="default: every fixture file with a touch payload")
    ap.add_argument("--ckptscan", default=os.path.join(REPO, "build", "cli", "ckptscan"))
    ap.add_argument("--python", help="interpreter with torch, numpy, joblib "
                    "(default: this one, else /usr/bin/python3)")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    samples = args.samples or default_samples()
    if not samples:
        print("no samples", file=sys.stderr)
        return 2
    if not os.access(args.ckptscan, os.X_OK):
        print("ckptscan not found at %s" % args.ckptscan, file=sys.stderr)
        return 2
    vetted, benign = [], 0
    for path in samples:
        why, markers = vet(path)
        if why and not args.samples and why.startswith("no touch"):
            benign += 1  # a benign fixture: nothing to run, judged by the fixture tests
        elif why:
            print("REFUSED %s: %s" % (os.path.relpath(path), why))
        else:
            vetted.append((path, loader_for(path), markers))
    if benign:
        print("%d fixture(s) without a payload were not loaded" % benign)
    python = find_python({k for _p, k, _m in vetted}, args.python)
    if vetted and not python:
        print("no Python with the loaders (torch, numpy, joblib) found", file=sys.stderr)
        return 2
    passed = failed = 0
    for path, kind, markers in vetted:
        ran, outcome = run_loader(python, kind, path, markers, args.timeout)
        verdict = ckptscan_verdict(args.ckptscan, path)
        ok = verdict == "dangerous" if ran else verdict in ("suspicious", "dangerous")
        passed += ok
        failed += not ok
        print("%s %s: %s.load %s, payload %s; ckptscan %s%s" % (
            "PASS" if ok else "FAIL", os.path.relpath(path), kind, outcome,
            "RAN" if ran else "did not run", verdict,
            "" if ok else " (expected %s)" % ("dangerous" if ran else "not safe")))
    refused = len(samples) - len(vetted) - benign
    if refused:
        print("%d sample(s) refused by the vetting rule (not loaded, not counted)" % refused)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
