#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Batch scanning tests: a tree with nested folders, symlinks (a Hugging Face
cache layout and a loop), a dangling link, a FIFO, empty files, malicious
files mixed with safe ones; --files-from (lines and NUL), --include and
--exclude, shards whose union is the whole, and -j 1 == -j 8.

Usage: run_batch_tests.py --ckptscan PATH
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SAFE = b"\x80\x02ccollections\nOrderedDict\nq\x00)R."
EVIL = b"cos\nsystem\n(S'touch /tmp/ckptscan_batch_test'\ntR."
UNKNOWN = b"cmymod\nThing\n."


def build_tree(root):
    files = {
        "models/a/safe1.pt": SAFE,
        "models/a/evil1.pkl": EVIL,
        "models/a/b/c/safe2.bin": SAFE,
        "models/a/b/c/unknown.ckpt": UNKNOWN,
        "models/empty.pt": b"",
        "models/notes.txt": b"just text\n",
        # a Hugging Face cache: snapshots/ links into blobs/
        "hub/models--x/blobs/0123abcd": EVIL,
        "hub/models--x/blobs/4567ef01": SAFE,
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    snap = os.path.join(root, "hub/models--x/snapshots/main")
    os.makedirs(snap)
    os.symlink("../../blobs/0123abcd", os.path.join(snap, "pytorch_model.bin"))
    os.symlink("../../blobs/4567ef01", os.path.join(snap, "optimizer.pt"))
    os.symlink("../..", os.path.join(root, "models/a/b/loop"))  # a directory loop
    os.symlink("does-not-exist", os.path.join(root, "models/dangling.pt"))
    os.mkfifo(os.path.join(root, "models/fifo"))


def run(exe, args, cwd, stdin=b""):
    p = subprocess.run([exe] + args, cwd=cwd, input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def docs(out):
    d = json.loads(out)
    d["summary"].pop("seconds")
    return d


CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


@check
def whole_tree(exe, root):
    rc, out, err = run(exe, ["--format", "json", "-j", "2", "models", "hub"], root)
    d = docs(out)
    paths = [f["path"] for f in d["files"]]
    assert rc == 3, (rc, "dangerous files beside a dangling link (unreadable): exit 3")
    assert "models/dangling.pt" in d["summary"]["unreadable"], d["summary"]
    assert not any("loop" in p for p in paths), paths
    assert "not a regular file" in err and "symlink loop" in err, err
    # each blob scanned once although two names reach it
    blobs = [p for p in paths if p.startswith("hub/")]
    assert len(blobs) == 2, blobs
    verdict = {f["path"]: f["verdict"] for f in d["files"]}
    assert verdict["models/a/evil1.pkl"] == "dangerous"
    assert verdict["models/a/safe1.pt"] == "safe"
    assert verdict["models/a/b/c/unknown.ckpt"] == "suspicious"
    assert verdict["models/empty.pt"] == "suspicious"
    s = d["summary"]
    assert s["files"] == len(paths) and s["skipped"] >= 2, s
    assert s["dangerous"] == 2 and s["error"] == 1, s


@check
def jobs_do_not_change_output(exe, root):
    outs = []
    for j in ("1", "8"):
        rc, out, _ = run(exe, ["--format", "json", "-j", j, "models", "hub"], root)
        outs.append((rc, docs(out)))
    assert outs[0] == outs[1], "-j 1 and -j 8 differ"
    t1 = run(exe, ["-j", "1", "--color", "never", "models"], root)[1]
    t8 = run(exe, ["-j", "8", "--color", "never", "models"], root)[1]
    strip = lambda t: [l for l in t.splitlines() if " MB in " not in l]
    assert strip(t1) == strip(t8)


@check
def shards_partition_the_inputs(exe, root):
    _, out, _ = run(exe, ["--format", "json", "models", "hub"], root)
    whole = sorted(f["path"] for f in docs(out)["files"])
    union = []
    for k in (1, 2, 3):
        rc, out, _ = run(exe, ["--format", "json", "--shard", f"{k}/3", "models", "hub"], root)
        union += [f["path"] for f in docs(out)["files"]]
    assert sorted(union) == whole, (sorted(union), whole)
    assert len(set(union)) == len(union), "a file in two shards"


@check
def files_from_lines_and_nul(exe, root):
    listing = "models/a/safe1.pt\nmodels/a/evil1.pkl\n"
    rc, out, _ = run(exe, ["--format", "jsonl", "--files-from", "-"], root, listing.encode())
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["path"] for x in lines[:-1]] == ["models/a/safe1.pt", "models/a/evil1.pkl"]
    assert lines[-1]["summary"]["dangerous"] == 1 and rc == 3
    rc, out, _ = run(exe, ["--format", "json", "-0", "--files-from", "-"], root,
                     b"models/a/safe1.pt\0models/a/b/c/safe2.bin\0")
    assert rc == 0 and len(docs(out)["files"]) == 2
    rc, _, err = run(exe, ["--files-from", "no-such-list"], root)
    assert rc == 2 and "no-such-list" in err


@check
def include_exclude(exe, root):
    rc, out, _ = run(exe, ["--format", "json", "--include", "*.pt", "models"], root)
    paths = sorted(f["path"] for f in docs(out)["files"])
    assert paths == ["models/a/safe1.pt", "models/dangling.pt", "models/empty.pt"], paths
    rc, out, _ = run(exe, ["--format", "json", "--exclude", "models/a/*", "--exclude", "*.pt",
                           "models"], root)
    paths = sorted(f["path"] for f in docs(out)["files"])
    assert paths == ["models/notes.txt"], paths
    assert rc == 0  # notes.txt is text: no loader runs it


def small_case(root):
    """The issue's smallest case: a_blob (malicious), z_model.bin -> a_blob, b_ok.bin."""
    d = os.path.join(root, "smallcase")
    if not os.path.isdir(d):
        os.makedirs(d)
        with open(os.path.join(d, "a_blob"), "wb") as f:
            f.write(EVIL)
        with open(os.path.join(d, "b_ok.bin"), "wb") as f:
            f.write(SAFE)
        os.symlink("a_blob", os.path.join(d, "z_model.bin"))
    return "smallcase"


@check
def exclude_does_not_use_up_an_inode(exe, root):
    d = small_case(root)
    rc, out, _ = run(exe, ["--format", "json", "--exclude", "a_blob", d], root)
    doc = docs(out)
    got = [(f["path"], f["verdict"]) for f in doc["files"]]
    assert got == [(d + "/b_ok.bin", "safe"), (d + "/z_model.bin", "dangerous")], got
    assert rc == 3, rc
    assert doc["summary"]["skipped"] == 0, doc["summary"]
    # without a filter the blob is scanned under its first name, the link skipped
    rc, out, _ = run(exe, ["--format", "json", d], root)
    doc = docs(out)
    assert [f["path"] for f in doc["files"]] == [d + "/a_blob", d + "/b_ok.bin"], doc
    assert rc == 3 and doc["summary"]["skipped"] == 1, (rc, doc["summary"])
    assert doc["summary"]["skipped_by"] == {"other_name": 1, "special": 0, "dir_again": 0,
                                            "too_deep": 0, "hub_metadata": 0}, doc["summary"]
    rc, out, _ = run(exe, ["--color", "never", d], root)
    assert out.splitlines()[-3] == ("2 files: 1 safe, 0 suspicious, 1 dangerous, 0 unreadable, "
                                    "1 skipped (1 already scanned under another name)"), out
    # the gate of the issue: --exclude '*/blobs/*' --fail-on dangerous on a cache
    rc, out, _ = run(exe, ["--format", "json", "--exclude", "*/blobs/*", "--fail-on", "dangerous",
                           "hub"], root)
    got = sorted((f["path"], f["verdict"]) for f in docs(out)["files"])
    assert got == [("hub/models--x/snapshots/main/optimizer.pt", "safe"),
                   ("hub/models--x/snapshots/main/pytorch_model.bin", "dangerous")], got
    assert rc == 3, rc


@check
def include_finds_snapshot_files(exe, root):
    rc, out, _ = run(exe, ["--format", "json", "--include", "*.bin", "hub"], root)
    doc = docs(out)
    got = [(f["path"], f["verdict"]) for f in doc["files"]]
    assert got == [("hub/models--x/snapshots/main/pytorch_model.bin", "dangerous")], got
    assert rc == 3, rc


@check
def nul_list_without_null_is_an_error(exe, root):
    listing = b"models/a/safe1.pt\0models/a/evil1.pkl\0"
    rc, out, err = run(exe, ["--format", "json", "--files-from", "-"], root, listing)
    assert rc == 2, rc
    assert "contains NUL bytes" in err and "-0" in err, err
    assert '"path"' not in out, out  # nothing was scanned
    lst = os.path.join(root, "nul.lst")
    with open(lst, "wb") as f:
        f.write(listing)
    rc, _, err = run(exe, ["--files-from", lst], root)
    assert rc == 2 and "nul.lst: the list contains NUL bytes" in err, (rc, err)
    rc, out, _ = run(exe, ["--format", "json", "-0", "--files-from", lst], root)
    assert rc == 3 and [f["path"] for f in docs(out)["files"]] == [
        "models/a/safe1.pt", "models/a/evil1.pkl"], (rc, out)


@check
def crlf_list(exe, root):
    listing = b"models/a/safe1.pt\r\nmodels/a/b/c/safe2.bin\r\n"
    rc, out, err = run(exe, ["--format", "json", "--files-from", "-"], root, listing)
    doc = docs(out)
    assert rc == 0, (rc, err)
    assert [(f["path"], f["verdict"]) for f in doc["files"]] == [
        ("models/a/safe1.pt", "safe"), ("models/a/b/c/safe2.bin", "safe")], doc


@check
def dangerous_is_not_masked_by_unreadable(exe, root):
    # a dangling link (unreadable) and a dangerous file in one batch
    rc, out, _ = run(exe, ["--format", "json", "models/dangling.pt", "models/a/evil1.pkl"], root)
    s = docs(out)["summary"]
    assert rc == 3 and s["error"] == 1 and s["dangerous"] == 1, (rc, s)
    rc, _, _ = run(exe, ["models/dangling.pt", "models/a/b/c/unknown.ckpt"], root)
    assert rc == 2, rc
    rc, _, _ = run(exe, ["--fail-on", "dangerous", "models/a/b/c/unknown.ckpt"], root)
    assert rc == 0, rc


def as_unprivileged():
    """preexec_fn for a run that permissions apply to (root ignores mode 000)."""
    if os.geteuid() != 0:
        return None
    return lambda: (os.setgid(65534), os.setuid(65534))


@check
def permission_denied_is_said(exe, root):
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        locked_file = os.path.join(tmp, "locked.pt")
        locked_dir = os.path.join(tmp, "lockeddir")
        with open(locked_file, "wb") as f:
            f.write(SAFE)
        os.makedirs(locked_dir)
        with open(os.path.join(locked_dir, "inside.pt"), "wb") as f:
            f.write(EVIL)
        with open(os.path.join(tmp, "ok.pt"), "wb") as f:
            f.write(SAFE)
        os.chmod(locked_file, 0)
        os.chmod(locked_dir, 0)
        p = subprocess.run([exe, "--format", "json", tmp], capture_output=True, timeout=60,
                           preexec_fn=as_unprivileged())
        d = docs(p.stdout.decode())
        err = p.stderr.decode()
        files = {f["path"]: (f["verdict"], f["error"]) for f in d["files"]}
        assert files == {locked_file: ("error", "permission denied"),
                         os.path.join(tmp, "ok.pt"): ("safe", "")}, files
        s = d["summary"]
        # the directory is not counted as a file, but is named and fails the run
        assert s["files"] == 2 and s["unreadable_dirs"] == [locked_dir], s
        assert f"{locked_dir}: Permission denied" in err, err
        assert f"{locked_file}: permission denied" in err, err
        assert p.returncode == 2, p.returncode
        p = subprocess.run([exe, "--color", "never", locked_file], capture_output=True,
                           timeout=60, preexec_fn=as_unprivileged())
        assert p.stdout.decode() == f"{locked_file}: ERROR (permission denied)\n", p.stdout
        os.chmod(locked_dir, 0o755)


@check
def system_reason_for_other_errors(exe, root):
    os.symlink("selfloop", os.path.join(root, "selfloop"))
    rc, out, err = run(exe, ["--color", "never", "selfloop"], root)
    want = "could not read the input: Too many levels of symbolic links"
    assert rc == 2 and out == f"selfloop: ERROR ({want})\n", (rc, out)
    assert f"selfloop: {want}" in err, err
    rc, out, _ = run(exe, ["--format", "json", "selfloop"], root)
    f = docs(out)["files"][0]
    assert f["error"] == "could not read the input" and f["error_detail"] == want, f
    os.unlink(os.path.join(root, "selfloop"))


def torch_zip_bytes():
    import io
    import zipfile
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        for name, data in (("archive/data.pkl", SAFE), ("archive/data/0", b"\0" * 4096),
                           ("archive/version", b"3\n")):
            z.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 12, 0, 0)), data)
    return b.getvalue()


TRUNCATED = ("  truncated archive: the file starts as a zip archive but its end (the central "
             "directory) is missing, so no loader can open it; a partial download? "
             "Fetch it again\n")


@check
def truncated_archive_is_said(exe, root):
    whole = torch_zip_bytes()
    with open(os.path.join(root, "whole.pt"), "wb") as f:
        f.write(whole)
    for cut in (100, len(whole) // 2, len(whole) - 30):
        with open(os.path.join(root, "partial.pt"), "wb") as f:
            f.write(whole[:cut])
        rc, out, _ = run(exe, ["--color", "never", "partial.pt"], root)
        lines = out.splitlines(keepends=True)
        assert rc == 1 and lines[0].startswith("partial.pt: SUSPICIOUS") and \
            lines[1] == TRUNCATED, (cut, rc, out)
        rc, out, _ = run(exe, ["--format", "json", "partial.pt"], root)
        f = docs(out)["files"][0]
        assert f["note"] == TRUNCATED.strip() and f["verdict"] == "suspicious", (cut, f)
    rc, out, _ = run(exe, ["--color", "never", "whole.pt"], root)
    assert rc == 0 and "truncated" not in out, out


@check
def fifo_waits_for_its_writer(exe, root):
    fifo = os.path.join(root, "pipe.pkl")
    os.mkfifo(fifo)
    p = subprocess.Popen([exe, "--format", "json", fifo], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    import time
    time.sleep(0.5)  # the scan must still be waiting: no writer yet
    assert p.poll() is None, "ckptscan did not wait for the FIFO's writer"
    with open(fifo, "wb") as f:
        f.write(EVIL)
    out, err = p.communicate(timeout=60)
    f = docs(out.decode())["files"][0]
    assert p.returncode == 3 and f["verdict"] == "dangerous" and f["format"] == "pickle", (
        p.returncode, f, err)
    os.unlink(fifo)


@check
def inspect_fifo_waits_for_its_writer(exe, root):
    fifo = os.path.join(root, "pipe_inspect.pkl")
    os.mkfifo(fifo)
    p = subprocess.Popen([exe, "inspect", "--format", "json", fifo], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    import time
    time.sleep(0.5)  # no writer yet: inspect must still be waiting, not report an empty file
    assert p.poll() is None, "ckptscan inspect did not wait for the FIFO's writer"
    with open(fifo, "wb") as f:
        f.write(EVIL)
    out, err = p.communicate(timeout=60)
    f = docs(out.decode())["files"][0]
    assert p.returncode == 3 and f["verdict"] == "dangerous" and f["format"] == "pickle", (
        p.returncode, f, err)
    assert f["path"] == fifo and "inspection" in f, f
    os.unlink(fifo)


@check
def useless_policy_lines_warn(exe, root):
    pol = os.path.join(root, "policy.txt")
    with open(pol, "w") as f:
        f.write("allow builtins.getattr\nallow mylib.models.Net  # fine\nallow os.*\n"
                "deny mylib.plugins.*\nallow mylib.plugins.loader\n# allow builtins.eval\n")
    rc, out, err = run(exe, ["--policy", pol, "models/a/safe1.pt"], root)
    warnings = [l for l in err.splitlines() if "warning" in l]
    assert warnings == [
        f"ckptscan: {pol}:1: warning: 'allow builtins.getattr' never takes effect: a deny rule "
        "grades it import-trampoline (dangerous), and deny beats allow",
        f"ckptscan: {pol}:3: warning: 'allow os.*' never takes effect: a deny rule grades it "
        "command (dangerous), and deny beats allow",
        f"ckptscan: {pol}:5: warning: 'allow mylib.plugins.loader' never takes effect: a deny "
        "rule grades it exec (dangerous), and deny beats allow"], err
    assert rc == 0, rc


def run_on_pty(exe, args, cwd, feed):
    """Runs exe with stdout and stderr on one terminal and its standard input
    a pipe fed line by line, slowly; returns the terminal's bytes."""
    import pty
    import select
    import time
    master, slave = pty.openpty()
    p = subprocess.Popen([exe] + args, cwd=cwd, stdin=subprocess.PIPE, stdout=slave,
                         stderr=slave, env=dict(os.environ, NO_COLOR="1"))
    os.close(slave)
    got = b""

    def drain(wait):
        nonlocal got
        end = time.time() + wait
        while True:
            r, _, _ = select.select([master], [], [], max(0, end - time.time()))
            if not r:
                return
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            got += chunk

    for line in feed:
        p.stdin.write(line)
        p.stdin.flush()
        drain(0.3)  # longer than the progress line's redraw interval
    p.stdin.close()
    p.wait(timeout=60)
    drain(0.5)
    os.close(master)
    return p.returncode, got.decode("utf-8", "replace")


@check
def progress_never_mixes_into_output(exe, root):
    import re
    feed = [b"models/a/safe1.pt\n", b"models/a/evil1.pkl\n", b"models/a/b/c/safe2.bin\n",
            b"models/a/b/c/unknown.ckpt\n"]
    rc, out = run_on_pty(exe, ["-j", "1", "--files-from", "-"], root, feed)
    assert rc == 3, (rc, out)
    progress = re.compile(r"\[\d+/\d+\] [0-9.]+ MB, [0-9.]+ MB/s, \d+ findings")
    chunks = out.split("\r\x1b[K")
    drawn = [c for c in chunks if progress.match(c)]
    assert drawn, ("no progress line was drawn", out)
    for c in chunks:  # a progress line is always cleared before anything else
        m = progress.match(c)
        assert not m or c == m.group(0), ("progress mixed into output", c)
    text = "".join(c for c in chunks if not progress.match(c)).replace("\r\n", "\n")
    assert "models/a/evil1.pkl: DANGEROUS [pickle] 2 findings\n" in text, text
    assert "\n4 files: 2 safe, 1 suspicious, 1 dangerous, 0 unreadable\n" in text, text
    rc, out = run_on_pty(exe, ["-j", "1", "--no-progress", "--files-from", "-"], root, feed)
    assert rc == 3 and "\x1b[K" not in out and not progress.search(out), out


def interrupted_run(exe, args, root, sig):
    """Feeds two paths through --files-from -, then signals while the walk
    waits for more; returns (exit status, stdout, stderr)."""
    import signal
    import time
    p = subprocess.Popen([exe, "-j", "2", "--files-from", "-"] + args, cwd=root,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(b"models/a/evil1.pkl\nmodels/a/safe1.pt\n")
    p.stdin.flush()
    time.sleep(0.7)
    p.send_signal({"INT": signal.SIGINT, "TERM": signal.SIGTERM}[sig])
    out, err = p.communicate(timeout=60)  # stdin stays open: the signal alone ends the run
    return p.returncode, out.decode(), err.decode()


@check
def interrupt_keeps_what_was_done(exe, root):
    for sig in ("INT", "TERM"):
        rc, out, _ = interrupted_run(exe, ["--format", "json"], root, sig)
        d = docs(out)
        assert rc == 130, (sig, rc)
        assert [f["path"] for f in d["files"]] == ["models/a/evil1.pkl", "models/a/safe1.pt"], d
        assert d["summary"]["interrupted"] is True and d["summary"]["dangerous"] == 1, d
    rc, out, _ = interrupted_run(exe, ["--format", "jsonl"], root, "INT")
    lines = [json.loads(x) for x in out.splitlines()]
    assert rc == 130 and len(lines) == 3 and lines[-1]["summary"]["interrupted"] is True, out
    rc, out, _ = interrupted_run(exe, ["--color", "never"], root, "INT")
    assert rc == 130 and out.splitlines()[-3].endswith(
        "; INTERRUPTED: the rest was not scanned"), out
    rc, out, _ = run(exe, ["--format", "json", "models/a/safe1.pt"], root)
    assert rc == 0 and docs(out)["summary"]["interrupted"] is False


@check
def empty_batch_is_a_valid_document(exe, root):
    rc, out, err = run(exe, ["--format", "json", "--exclude", "*", "models"], root)
    d = docs(out)
    assert rc == 2 and d["files"] == [] and d["summary"]["files"] == 0, (rc, out)
    assert "no input files" in err, err
    rc, out, _ = run(exe, ["--format", "jsonl", "--exclude", "*", "models"], root)
    assert rc == 2 and json.loads(out)["summary"]["files"] == 0, out


def hub_cache(base, repo):
    """A Hugging Face cache: blobs/, snapshots/<rev>/ links, refs/, .no_exist/, .locks/."""
    r = os.path.join(base, repo)
    for d in ("blobs", "snapshots/abc123", "refs", ".no_exist/abc123"):
        os.makedirs(os.path.join(r, d), exist_ok=True)
    os.makedirs(os.path.join(base, ".locks", repo), exist_ok=True)
    for rel, data in (("blobs/1111", EVIL), ("blobs/2222", SAFE), ("refs/main", b"abc123"),
                      (".no_exist/abc123/config.json", b"")):
        with open(os.path.join(r, rel), "wb") as f:
            f.write(data)
    open(os.path.join(base, ".locks", repo, "1111.lock"), "wb").close()
    os.symlink("../../blobs/1111", os.path.join(r, "snapshots/abc123/pytorch_model.bin"))
    os.symlink("../../blobs/2222", os.path.join(r, "snapshots/abc123/training_args.bin"))


@check
def hub_cache_names_people_know(exe, root):
    hub_cache(os.path.join(root, "hf"), "models--org--name")
    rc, out, _ = run(exe, ["--format", "json", "hf"], root)
    d = docs(out)
    got = [(f["path"], f["verdict"], f.get("aliases")) for f in d["files"]]
    assert got == [
        ("hf/models--org--name/snapshots/abc123/pytorch_model.bin", "dangerous",
         ["hf/models--org--name/blobs/1111"]),
        ("hf/models--org--name/snapshots/abc123/training_args.bin", "safe",
         ["hf/models--org--name/blobs/2222"])], got
    assert d["summary"]["skipped_by"] == {"other_name": 2, "special": 0, "dir_again": 0,
                                          "too_deep": 0, "hub_metadata": 3}, d["summary"]
    assert rc == 3
    rc, out, _ = run(exe, ["-i", "--color", "never", "hf"], root)
    lines = out.splitlines()
    assert lines[0] == "hf/models--org--name/snapshots/abc123/pytorch_model.bin: DANGEROUS " \
        "[pickle] 2 findings" and lines[1] == "  also named hf/models--org--name/blobs/1111", out
    assert lines[-3] == ("2 files: 1 safe, 0 suspicious, 1 dangerous, 0 unreadable, 5 skipped "
                         "(2 already scanned under another name, 3 Hugging Face cache "
                         "metadata)"), out
    # the same layout under a name that is not a cache repo: refs/ is scanned
    os.makedirs(os.path.join(root, "plain"))
    os.symlink(os.path.join(root, "hf", "models--org--name", "refs"),
               os.path.join(root, "plain", "refs"))
    os.makedirs(os.path.join(root, "plain", "blobs"))
    os.makedirs(os.path.join(root, "plain", "snapshots"))
    rc, out, _ = run(exe, ["--format", "json", "plain"], root)
    assert [f["path"] for f in docs(out)["files"]] == ["plain/refs/main"], out


@check
def baseline_accepts_reviewed_files(exe, root):
    import hashlib
    evil = hashlib.sha256(EVIL).hexdigest()
    unknown = hashlib.sha256(UNKNOWN).hexdigest()
    files = ["models/a/b/c/unknown.ckpt", "models/a/evil1.pkl", "models/a/safe1.pt",
             "models/a/b/c/safe2.bin"]
    rc, out, _ = run(exe, ["--format", "baseline"] + files, root)
    assert rc == 3 and out.splitlines()[1:] == [
        f"{unknown} suspicious models/a/b/c/unknown.ckpt",
        f"{evil} dangerous models/a/evil1.pkl"], out
    bl = os.path.join(root, "baseline.txt")
    with open(bl, "w") as f:
        f.write(out)
    rc, out, _ = run(exe, ["--format", "json", "--baseline", bl] + files, root)
    d = docs(out)
    acc = {f["path"]: f.get("baseline") for f in d["files"]}
    assert rc == 0 and acc == {"models/a/evil1.pkl": "accepted", "models/a/safe1.pt": None,
                               "models/a/b/c/safe2.bin": None,
                               "models/a/b/c/unknown.ckpt": "accepted"}, (rc, acc)
    assert d["summary"]["accepted"] == 2 and d["summary"]["dangerous"] == 1, d["summary"]
    # accepted as suspicious, but it is dangerous: still fails
    with open(bl, "w") as f:
        f.write(f"# reviewed\n{evil} suspicious models/a/evil1.pkl\n")
    rc, out, _ = run(exe, ["--color", "never", "--baseline", bl, "models/a/evil1.pkl",
                           "models/a/b/c/unknown.ckpt"], root)
    assert rc == 3 and "(accepted in the baseline)" not in out, (rc, out)
    # the same content under another name is accepted too; SARIF suppresses its results
    with open(bl, "w") as f:
        f.write(f"{evil} dangerous elsewhere/model.pkl\n")
    rc, out, _ = run(exe, ["--format", "sarif", "--baseline", bl, "hub/models--x/snapshots"],
                     root)
    res = json.loads(out)["runs"][0]["results"]
    assert rc == 0 and res and all(r["suppressions"][0]["kind"] == "external" for r in res), out
    with open(bl, "w") as f:
        f.write("not-a-digest dangerous x\n")
    rc, _, err = run(exe, ["--baseline", bl, "models/a/safe1.pt"], root)
    assert rc == 2 and "baseline.txt:1: not a baseline line" in err, (rc, err)


@check
def bad_batch_options(exe, root):
    for args in (["--shard", "0/3", "models"], ["--shard", "4/3", "models"],
                 ["--shard", "x", "models"], ["-j", "0", "models"], ["-j", "many", "models"]):
        rc, _, err = run(exe, args, root)
        assert rc == 2 and "ckptscan:" in err, (args, rc, err)


@check
def max_file_size(exe, root):
    rc, out, _ = run(exe, ["--format", "json", "--max-file-size", "10", "models/a/evil1.pkl"],
                     root)
    f = docs(out)["files"][0]
    assert f["verdict"] == "suspicious" and any(x["code"] == "limit" for x in f["findings"]), f
    rc, out, _ = run(exe, ["--format", "json", "--max-file-size", "10", "-"], root, EVIL)
    f = docs(out)["files"][0]
    assert any(x["code"] == "limit" for x in f["findings"]) and f["verdict"] != "safe", f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    exe = os.path.abspath(ap.parse_args().ckptscan)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as root:
        build_tree(root)
        for fn in CHECKS:
            try:
                fn(exe, root)
                passed += 1
                print(f"ok   {fn.__name__}")
            except Exception as e:  # noqa: BLE001 - report and go on
                failed += 1
                print(f"FAIL {fn.__name__}: {e!r}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
