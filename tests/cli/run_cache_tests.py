#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""--cache DIR tests: a warm run gives the same bytes and exit status as a
fresh scan in every format; changed content, a changed policy, profile,
limit or --strict miss; corrupt, truncated, foreign, loose-mode and
symlinked entries are ignored (rescanned, then replaced); an untrusted or
unusable cache directory is an error; concurrent writers (-j and two
processes) leave only whole entries; files written just now, stdin and
reports that hit the process-wide memory limit are not stored.

Usage: run_cache_tests.py --ckptscan PATH
"""
import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

SAFE = b"\x80\x02ccollections\nOrderedDict\nq\x00)R."
EVIL = b"cos\nsystem\n(S'touch /tmp/ckptscan_cache_test'\ntR."
UNKNOWN = b"cmymod\nThing\n."
# as long as EVIL, a tuple holding one string: safe
SAFE_SAME_SIZE = b"(S'" + b"a" * (len(EVIL) - 7) + b"'\nt."


def torch_zip(size):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("archive/data.pkl", SAFE), ("archive/data/0", b"\0" * size),
                           ("archive/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 12, 0, 0)), data)
    return b.getvalue()


def build_tree(root):
    big = torch_zip(300 << 10)  # mapped, not read whole
    files = {
        "m/safe.pkl": SAFE,
        "m/evil.pkl": EVIL,
        "m/swap.pkl": EVIL,  # only changed_content_misses changes it
        "m/unknown.pkl": UNKNOWN,
        "m/copy_of_evil.pkl": EVIL,
        "m/big.pt": big,
        "m/partial.pt": big[:len(big) // 2],  # the CLI's truncated-archive note
        "m/empty.pt": b"",
        "m/huge.pkl": EVIL + b"\0" * (65 << 20),  # past 64 MiB: always scanned
        "m/notes.txt": b"text\n",
        "hf/models--o--n/blobs/1111": EVIL,
        "hf/models--o--n/blobs/2222": SAFE,
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    snap = os.path.join(root, "hf/models--o--n/snapshots/abc")
    os.makedirs(snap)
    os.symlink("../../blobs/1111", os.path.join(snap, "pytorch_model.bin"))
    os.symlink("../../blobs/2222", os.path.join(snap, "optimizer.pt"))
    with open(os.path.join(root, "allow_mymod.txt"), "w") as f:
        f.write("allow mymod.Thing\n")


def settle():
    """Files changed within 2 s of a run are not stored (their times may not
    have ticked yet); the change time cannot be set back, so wait."""
    time.sleep(2.2)


def run(exe, args, cwd, stdin=b""):
    p = subprocess.run([exe] + args, cwd=cwd, input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def entries(cache):
    out = []
    for d, _, names in os.walk(cache):
        out += [os.path.join(d, n) for n in names]
    return sorted(out)


def strip_volatile(text):
    """Drops what differs between any two runs (time) and the cache counts."""
    text = re.sub(r'"seconds":[0-9.]+', '"seconds":0', text)
    text = re.sub(r'"cached":[0-9]+', '"cached":0', text)
    text = re.sub(r"MB in [0-9.]+ s( \([0-9]+ reports? from the cache\))?", "MB in 0 s", text)
    return text


def summary(out):
    return json.loads(out)["summary"]


FORMATS = [["--color", "never"], ["--format", "json"], ["--format", "jsonl"],
           ["--format", "sarif"], ["--format", "baseline"], ["--format", "json", "--hash"],
           ["--color", "never", "-i"], ["--format", "sarif", "-i"]]
INPUTS = ["m", "hf"]

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def warm_run_is_byte_identical(exe, root, cache):
    rc, out, err = run(exe, ["--format", "json", "-j", "1", "--cache", cache] + INPUTS, root)
    s = summary(out)
    # a content seen again in the same run is a hit: copy_of_evil, swap and
    # the two blobs (under their snapshot names)
    assert rc == 3 and s["cached"] == 4 and s["files"] == 12, (rc, s, err)
    # one entry per distinct content read whole (copy_of_evil shares evil's;
    # the blobs share safe's and evil's): safe, evil, unknown, big, partial,
    # empty, notes; huge.pkl is past 64 MiB: scanned each time, never stored
    assert len(entries(cache)) == 7, entries(cache)
    assert all(os.stat(e).st_mode & 0o777 == 0o600 for e in entries(cache))
    assert os.stat(cache).st_mode & 0o777 == 0o700
    for fmt in FORMATS:
        want = run(exe, fmt + INPUTS, root)
        got = run(exe, fmt + ["--cache", cache] + INPUTS, root)
        assert got[0] == want[0] == 3, (fmt, got[0], want[0])
        assert strip_volatile(got[1]) == strip_volatile(want[1]), (fmt, got[1], want[1])
        assert got[2] == want[2], (fmt, got[2], want[2])
    rc, out, _ = run(exe, ["--format", "json", "--cache", cache] + INPUTS, root)
    assert rc == 3 and summary(out)["cached"] == 11, summary(out)
    rc, out, _ = run(exe, ["--color", "never", "--cache", cache] + INPUTS, root)
    assert out.splitlines()[-1].endswith("s (11 reports from the cache)"), out
    # -j 1 and -j 4 agree on a warm run too
    one = run(exe, ["--format", "json", "-j", "1", "--cache", cache] + INPUTS, root)
    four = run(exe, ["--format", "json", "-j", "4", "--cache", cache] + INPUTS, root)
    assert strip_volatile(one[1]) == strip_volatile(four[1]) and one[0] == four[0] == 3


def verdicts(out):
    return {f["path"]: f["verdict"] for f in json.loads(out)["files"]}


@check
def changed_content_misses(exe, root, cache):
    run(exe, ["--cache", cache, "m"], root)
    path = os.path.join(root, "m/swap.pkl")
    st = os.stat(path)
    # the same size and modification time, other bytes: a size+mtime cache
    # would hand out the old report
    for data, want, rc_want in ((SAFE_SAME_SIZE, "safe", 0), (EVIL, "dangerous", 3)):
        assert len(data) == st.st_size
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        rc, out, _ = run(exe, ["--format", "json", "--cache", cache, "m/swap.pkl"], root)
        assert verdicts(out)["m/swap.pkl"] == want and rc == rc_want, (want, rc, out)
    # a fresh scan stores nothing for a file written just now (the second
    # run of it is not from the cache)
    rc, out, _ = run(exe, ["--format", "json", "--cache", cache, "m/swap.pkl"], root)
    assert summary(out)["cached"] == 1, "evil's bytes were stored before"
    with open(path, "wb") as f:
        f.write(SAFE_SAME_SIZE)
    for _ in range(2):
        rc, out, _ = run(exe, ["--format", "json", "--cache", cache, "m/swap.pkl"], root)
        assert summary(out)["cached"] == 0 and rc == 0, (rc, out)
    with open(path, "wb") as f:
        f.write(EVIL)


@check
def configuration_change_misses(exe, root, cache):
    base = ["--format", "json", "--cache", cache, "m/unknown.pkl"]
    rc, out, _ = run(exe, base, root)
    assert rc == 1 and summary(out)["cached"] == 0, out
    rc, out, _ = run(exe, base, root)
    assert rc == 1 and summary(out)["cached"] == 1, out
    cases = [(["--policy", "allow_mymod.txt"], "safe", 0),
             (["--strict"], "dangerous", 3),
             (["--profile", "ml"], "suspicious", 1),
             (["--limit", "max-depth=50"], "suspicious", 1),
             (["--max-file-size", "1M"], "suspicious", 1)]
    for extra, want, rc_want in cases:
        rc, out, _ = run(exe, base + extra, root)
        assert verdicts(out)["m/unknown.pkl"] == want and rc == rc_want, (extra, rc, out)
        assert summary(out)["cached"] == 0, (extra, "first run with this configuration")
        rc, out, _ = run(exe, base + extra, root)
        assert verdicts(out)["m/unknown.pkl"] == want and summary(out)["cached"] == 1, extra
    # and the default configuration still gets its own report back
    rc, out, _ = run(exe, base, root)
    assert rc == 1 and verdicts(out)["m/unknown.pkl"] == "suspicious", out
    # a policy file whose text changes is another configuration
    with open(os.path.join(root, "allow_mymod.txt"), "w") as f:
        f.write("allow mymod.Other\n")
    rc, out, _ = run(exe, base + ["--policy", "allow_mymod.txt"], root)
    assert rc == 1 and summary(out)["cached"] == 0, out
    with open(os.path.join(root, "allow_mymod.txt"), "w") as f:
        f.write("allow mymod.Thing\n")


def entry_of(exe, root, cache, rel):
    """The cache entry written for file rel (into an empty cache)."""
    with tempfile.TemporaryDirectory() as one:
        c = os.path.join(one, "c")
        run(exe, ["--cache", c, rel], root)
        (e,) = entries(c)
        return os.path.relpath(e, c), open(e, "rb").read()


@check
def broken_entries_are_rescanned(exe, root, cache):
    name, good = entry_of(exe, root, cache, "m/evil.pkl")
    _, safe_entry = entry_of(exe, root, cache, "m/safe.pkl")
    path = os.path.join(cache, name)
    flipped = bytearray(good)
    flipped[-5] ^= 1
    head_end = good.index(b"\n", good.index(b"\n", good.index(b"\n") + 1) + 1) + 1
    bad_sum = bytearray(good)
    bad_sum[head_end] = ord("0") if bad_sum[head_end] != ord("0") else ord("1")
    # the safe file's entry under the evil file's name: a whole, valid
    # entry, but for another key
    variants = {"truncated": good[:len(good) // 2], "empty": b"", "flipped": bytes(flipped),
                "checksum": bytes(bad_sum), "foreign": safe_entry, "garbage": os.urandom(300),
                "extra": good + b"x"}
    for what, data in variants.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.chmod(path, 0o600)
        with open(path, "wb") as f:
            f.write(data)
        rc, out, err = run(exe, ["--format", "json", "--cache", cache, "m/evil.pkl"], root)
        assert rc == 3 and verdicts(out)["m/evil.pkl"] == "dangerous", (what, rc, out, err)
        assert summary(out)["cached"] == 0, (what, "a broken entry is no hit")
        # the rescan replaced it with a good one
        assert open(path, "rb").read() == good, what
    # a good entry with a loose mode, or reached through a symlink, is not trusted
    os.chmod(path, 0o666)
    rc, out, _ = run(exe, ["--format", "json", "--cache", cache, "m/evil.pkl"], root)
    assert summary(out)["cached"] == 0 and rc == 3, out
    assert os.stat(path).st_mode & 0o777 == 0o600, "replaced by a private entry"
    elsewhere = os.path.join(root, "elsewhere")
    shutil.copy(path, elsewhere)
    os.unlink(path)
    os.symlink(elsewhere, path)
    rc, out, _ = run(exe, ["--format", "json", "--cache", cache, "m/evil.pkl"], root)
    assert summary(out)["cached"] == 0 and rc == 3, out
    assert not os.path.islink(path)
    rc, out, _ = run(exe, ["--format", "json", "--cache", cache, "m/evil.pkl"], root)
    assert summary(out)["cached"] == 1 and rc == 3, out


def as_nobody():
    return lambda: (os.setgid(65534), os.setuid(65534))


@check
def untrusted_or_unusable_directory_is_an_error(exe, root, cache):
    with tempfile.TemporaryDirectory() as tmp:
        loose = os.path.join(tmp, "loose")
        os.mkdir(loose)
        os.chmod(loose, 0o777)
        rc, out, err = run(exe, ["--cache", loose, "m/safe.pkl"], root)
        assert rc == 2 and out == "" and "writable by group or others (mode 0777)" in err, err
        os.chmod(loose, 0o770)
        rc, _, err = run(exe, ["--cache", loose, "m/safe.pkl"], root)
        assert rc == 2 and "writable by group or others (mode 0770)" in err, err
        a_file = os.path.join(tmp, "file")
        open(a_file, "w").close()
        rc, _, err = run(exe, ["--cache", a_file, "m/safe.pkl"], root)
        assert rc == 2 and f"--cache {a_file}: Not a directory" in err, err
        rc, _, err = run(exe, ["--cache", os.path.join(a_file, "sub"), "m/safe.pkl"], root)
        assert rc == 2 and "Not a directory" in err, err
        if os.geteuid() == 0:
            theirs = os.path.join(tmp, "theirs")
            os.mkdir(theirs, 0o700)
            os.chown(theirs, 65534, 65534)
            rc, _, err = run(exe, ["--cache", theirs, "m/safe.pkl"], root)
            assert rc == 2 and "is owned by another user" in err, err
            # their own directory, but read-only for them
            os.chmod(tmp, 0o755)
            os.chmod(theirs, 0o500)
            safe = os.path.join(tmp, "safe.pkl")
            shutil.copy(os.path.join(root, "m/safe.pkl"), safe)
            os.chmod(safe, 0o644)
            p = subprocess.run([exe, "--cache", theirs, safe], capture_output=True, timeout=60,
                               preexec_fn=as_nobody())
            err = p.stderr.decode()
            assert p.returncode == 2 and "is not writable" in err, (p.returncode, err)
        fresh = os.path.join(tmp, "new", "cache")
        os.mkdir(os.path.dirname(fresh))
        rc, _, err = run(exe, ["--cache", fresh, "m/safe.pkl"], root)
        assert rc == 0 and os.stat(fresh).st_mode & 0o777 == 0o700, (rc, err)
    rc, _, err = run(exe, ["inspect", "--cache", cache, "m/safe.pkl"], root)
    assert rc == 2 and "--cache goes with scanning" in err, err


@check
def concurrent_writers_leave_whole_entries(exe, root, cache):
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "many")
        os.mkdir(tree)
        for i in range(300):
            data = [SAFE, EVIL, UNKNOWN][i % 3] if i % 2 else SAFE + b"\x00" * (i % 50)
            with open(os.path.join(tree, f"f{i:03}.pkl"), "wb") as f:
                f.write(data)
        settle()
        c = os.path.join(tmp, "c")
        procs = [subprocess.Popen([exe, "--format", "json", "-j", "8", "--cache", c, tree],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(3)]
        outs = [p.communicate(timeout=120) for p in procs]
        fresh = run(exe, ["--format", "json", "-j", "8", tree], tmp)
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 3 and err == b"", (p.returncode, err)
            assert strip_volatile(out.decode()) == strip_volatile(fresh[1])
        names = entries(c)
        assert not [n for n in names if ".tmp" in n], names
        assert len(names) == 3 + 24, len(names)  # distinct contents
        rc, out, _ = run(exe, ["--format", "json", "-j", "8", "--cache", c, tree], tmp)
        assert rc == 3 and summary(out)["cached"] == 300, summary(out)
        assert strip_volatile(out) == strip_volatile(fresh[1])


@check
def what_is_not_stored(exe, root, cache):
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, "c")
        rc, out, _ = run(exe, ["--format", "json", "--cache", c, "-"], root, EVIL)
        assert rc == 3 and entries(c) == [], entries(c)
        # the process-wide memory limit depends on the rest of the batch: not stored
        rc, out, _ = run(exe, ["--format", "json", "--cache", c, "--limit",
                               "max-memory-process=1", "m/evil.pkl"], root)
        msgs = [x["message"] for x in json.loads(out)["files"][0]["findings"]]
        assert rc == 1 and msgs[0].startswith("max-memory-process") and entries(c) == [], (
            rc, msgs, entries(c))
        # any other limit is a function of the bytes and the configuration: stored
        args = ["--format", "json", "--cache", c, "--max-file-size", "10", "m/evil.pkl"]
        rc, out, _ = run(exe, args, root)
        assert rc == 1 and len(entries(c)) == 1, (rc, entries(c))
        rc, out, _ = run(exe, args, root)
        assert rc == 1 and summary(out)["cached"] == 1, out
        shutil.rmtree(c)
        just_now = os.path.join(tmp, "new.pkl")
        with open(just_now, "wb") as f:
            f.write(EVIL + b" ")
        rc, out, _ = run(exe, ["--format", "json", "--cache", c, just_now], root)
        assert rc == 3 and entries(c) == [], entries(c)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    exe = os.path.abspath(ap.parse_args().ckptscan)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as root:
        build_tree(root)
        settle()
        for fn in CHECKS:
            cache = os.path.join(root, "cache-" + fn.__name__)
            try:
                fn(exe, root, cache)
                passed += 1
                print(f"ok   {fn.__name__}")
            except Exception as e:  # noqa: BLE001 - report and go on
                failed += 1
                print(f"FAIL {fn.__name__}: {e!r}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
