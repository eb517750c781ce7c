#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Resource bombs: each input is built here, scanned by ckptscan in a child
process, and must finish under an asserted time and peak RSS with an
asserted finding (or verdict). The time bounded is the child's CPU time
(user + system: the work it did, which a machine shared with other jobs
does not inflate as it does the wall time); the wall time is printed too. Standard library only (benign_joblib_512m
uses numpy and joblib when present, to dump models); nothing is unpickled.

Usage: run_bombs.py --ckptscan PATH [--only NAME]
"""
import argparse
import io
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib

MiB = 1 << 20


def billion_laughs():
    """A list appended to itself through the memo, then DUPed and nested:
    CPython would build a graph that renders exponentially."""
    out = io.BytesIO()
    out.write(b"\x80\x02]q\x00")                       # L0 = []
    for i in range(1, 40):                               # Li = [L(i-1)] * 10
        out.write(b"]q%c(" % i + b"h%c" % (i - 1) * 10 + b"e")
    # call an unknown function on the deepest one, so it gets rendered
    out.write(b"cmymod\nf\nh\x27\x85R.")
    return out.getvalue()


def deep_nesting(n=1_000_000):
    """1e6 nested lists: MARK depth and stack depth."""
    return b"(" * n + b"l" * n + b"."


def deep_empty_lists(n=1_000_000):
    """1e6 nested empty lists built with APPEND: value depth, not stack depth."""
    return b"]" + b"]" * n + b"a" * n + b"."


def huge_lengths():
    """Declared lengths far beyond a 100-byte file."""
    return (b"\x80\x04\x8e" + struct.pack("<Q", 4 << 30) + b"x" * 60 + b".")


def huge_frame():
    return b"\x80\x04\x95" + struct.pack("<Q", 1 << 40) + b"N."


def huge_memo_index():
    return b"\x80\x02Nr\xff\xff\xff\x7fN."


def millions_of_opcodes(n=5_000_000):
    """Millions of cheap opcodes: time must stay linear."""
    return b"\x80\x02" + b"N0" * n + b"N."


def global_line_1mib():
    """A 1 MiB GLOBAL module name, then a call."""
    return b"c" + b"a" * MiB + b"\nb\n)R."


def memo_fanout():
    """The same big dict fetched from the memo a million times."""
    body = b"}q\x00(" + b"".join(b"K%cK%c" % (i, i) for i in range(100)) + b"u0"
    return b"\x80\x02(" + body + b"h\x00" * 1_000_000 + b"t."


def many_pickles(n=200_000):
    """Hundreds of thousands of pickles one after another."""
    return b"N." * n


def zip_100k_members():
    """100,000 members in one zip (torch-like names)."""
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02}.")
        z.writestr("archive/version", b"3\n")
        for i in range(100_000):
            z.writestr(f"archive/data/{i}", b"")
    return b.getvalue()


def big_stored_tensor():
    """A torch zip with one 256 MiB stored tensor record: the cost must not
    grow with tensor bytes (no pass over the whole file, nothing resident)."""
    zeros = b"\0" * (256 * MiB)
    pkl = b"\x80\x02ccollections\nOrderedDict\n)R."  # torch's data.pkl has such lines
    members = [("archive/data.pkl", 0, pkl, zlib.crc32(pkl), len(pkl)),
               ("archive/data/0", 0, zeros, zlib.crc32(zeros), len(zeros)),
               ("archive/version", 0, b"3\n", zlib.crc32(b"3\n"), 2)]
    return zip_of(members)


def zip_nested_50():
    """Archives nested 50 deep with a payload at the bottom."""
    inner = b"cos\nsystem\n(S'true'\ntR."
    for d in range(50):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", zipfile.ZIP_STORED) as z:
            z.writestr(f"level{d}.zip" if d else "payload.pkl", inner)
        inner = b.getvalue()
    return inner


# ---- decompression bombs ----------------------------------------------------
# Built from a deflate block repeated: after a full flush the compressor
# starts afresh, so the same input chunk always gives the same bytes and a
# GiB of output costs a MiB of input and no time to build.

def deflate_repeat(prefix, chunk, count, suffix):
    """Raw deflate of prefix + chunk * count + suffix, and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    tail = c.compress(suffix) + c.flush()
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return head + block * count + tail, zlib.crc32(suffix, crc)


def zip_of(members):
    """A zip of (name, method, data, crc, size) members: data already
    compressed (Python's zipfile cannot take that)."""
    out, cd = io.BytesIO(), io.BytesIO()
    for name, method, data, crc, size in members:
        off = out.tell()
        n = name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                              len(data), size, len(n), 0) + n + data)
        cd.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc,
                             len(data), size, len(n), 0, 0, 0, 0, 0, off) + n)
    cdb = cd.getvalue()
    out.write(cdb + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                                len(cdb), out.tell(), 0))
    return out.getvalue()


def deflated_member(name, data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return (name, 8, c.compress(data) + c.flush(), zlib.crc32(data), len(data))


def binbytes8_bomb(gib):
    """A valid pickle: one BINBYTES8 constant of `gib` GiB of zeros, deflated."""
    n = gib << 30
    return deflate_repeat(b"\x80\x04\x8e" + struct.pack("<Q", n), bytes(MiB), n // MiB, b".")


def deflate_bomb_data_pkl():
    """1 GiB of deflated zeros as torch's data.pkl (~1 MiB file)."""
    data, crc = deflate_repeat(b"", bytes(MiB), 1024, b"")
    return zip_of([("archive/data.pkl", 8, data, crc, 1 << 30),
                   deflated_member("archive/version", b"3\n")])


def binbytes8_data_pkl():
    """A valid 1 GiB pickle (one huge bytes constant) as data.pkl."""
    data, crc = binbytes8_bomb(1)
    return zip_of([("archive/data.pkl", 8, data, crc, (1 << 30) + 12),
                   deflated_member("archive/version", b"3\n")])


def nested_10g():
    """~1 KB -> 10 GiB: a zip holding a deflated zip holding a deflated zip
    of ten 1 GiB pickle records. Each layer's ratio stays under max-ratio."""
    data, crc = binbytes8_bomb(1)
    inner = zip_of([(f"archive/data{i}.pkl" if i else "archive/data.pkl", 8, data, crc,
                     (1 << 30) + 12) for i in range(10)])
    middle = zip_of([deflated_member("inner.zip", inner)])
    return zip_of([deflated_member("middle.zip", middle)])


def overlapping_members(n=1000):
    """Fifield's overlapping zip bomb: n central entries share one 1 GiB
    kernel; each declares another size, so each is a distinct reading."""
    data, crc = deflate_repeat(b"", bytes(MiB), 1024, b"")
    name = b"archive/data.pkl"
    out = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), 1 << 30,
                      len(name), 0) + name + data
    cd = b"".join(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                              len(data), (1 << 30) + i, len(b"data%d.pkl" % i), 0, 0, 0, 0, 0,
                              0) + b"data%d.pkl" % i for i in range(n))
    return out + cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(cd), len(out), 0)


def joblib_xz_bomb():
    """A 256 MiB pickle in 39 KB of xz with a 64 MiB dictionary (preset 9):
    liblzma's dictionary fills as far as the output goes, so this one may
    hold up to twice max-decompressed."""
    import lzma
    c = lzma.LZMACompressor(preset=9)
    z = bytes(MiB)
    head = c.compress(b"\x80\x04\x8e" + struct.pack("<Q", 256 * MiB))
    return head + b"".join(c.compress(z) for _ in range(256)) + c.compress(b".") + c.flush()


def npy_header(descr, shape):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    h += " " * (63 - (len(h) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode()


def npz_plain_bomb():
    """np.savez_compressed of a 1 GiB float64 array of zeros: no pickle in
    it, only the header matters."""
    data, crc = deflate_repeat(npy_header("<f8", "(134217728,)"), bytes(MiB), 1024, b"")
    size = len(npy_header("<f8", "(134217728,)")) + (1 << 30)
    return zip_of([("x.npy", 8, data, crc, size)])


def npz_object_bomb():
    """An object array whose pickle holds a 1 GiB bytes constant."""
    head = npy_header("|O", "(1,)")
    n = 1 << 30
    data, crc = deflate_repeat(head + b"\x80\x04\x8e" + struct.pack("<Q", n), bytes(MiB),
                               n // MiB, b".")
    return zip_of([("x.npy", 8, data, crc, len(head) + n + 12)])


def joblib_zlib_bomb():
    """A joblib file compressed with zlib: a 1 GiB pickle (~1 MiB file)."""
    data, _ = binbytes8_bomb(1)
    adler = 1  # adler32 of the stream, chunk by chunk
    adler = zlib.adler32(b"\x80\x04\x8e" + struct.pack("<Q", 1 << 30), adler)
    for _ in range(1024):
        adler = zlib.adler32(bytes(MiB), adler)
    adler = zlib.adler32(b".", adler)
    return b"\x78\xda" + data + struct.pack(">I", adler)


def joblib_zlib_payload_after_1g():
    """A 1 GiB bytes constant, then os.system, in one zlib stream: the
    constant is decoded and thrown away (never held), the payload found."""
    n = 1 << 30
    data, _ = deflate_repeat(b"\x80\x04\x8e" + struct.pack("<Q", n), bytes(MiB), n // MiB,
                             b"0cos\nsystem\n(S'true'\ntR.")
    return b"\x78\x01" + data  # no adler32: the stream ends before its end marker


def joblib_gzip_bomb():
    """The same 1 GiB pickle gzip-compressed (joblib compress='gzip')."""
    data, crc = binbytes8_bomb(1)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + data +
            struct.pack("<II", crc, ((1 << 30) + 12) & 0xFFFFFFFF))


def joblib_bz2_ratio():
    """256 MiB of zeros in 208 bytes of bz2: max-ratio stops it first."""
    import bz2
    c = bz2.BZ2Compressor(9)
    z = bytes(MiB)
    head = c.compress(b"\x80\x04\x8e" + struct.pack("<Q", 256 * MiB))
    return head + b"".join(c.compress(z) for _ in range(256)) + c.compress(b".") + c.flush()


# ---- issue 14: work linear in the input, one memory budget ------------------

def binbytes(b):
    return b"B" + struct.pack("<I", len(b)) + b


def nested_pickles(depth, k=6700):
    """Pickles nested `depth` deep in bytes constants, each level with 2k
    bytes of its own opcodes: every level must be walked a bounded number
    of times (a probe that probed again inside itself walked 2^depth)."""
    inner = b"\x80\x02N."
    for _ in range(depth):
        inner = b"\x80\x02" + b"N0" * k + binbytes(inner) + b"0N."
    return inner


def nested_memo(depth, index=40_000_000):
    """LONG_BINPUT 40000000 at every level of pickles nested in bytes
    constants: the levels share one memory budget."""
    inner = b"\x80\x02Nr" + struct.pack("<I", index) + b"0N."
    for _ in range(depth - 1):
        inner = b"\x80\x02Nr" + struct.pack("<I", index) + b"0" + binbytes(inner) + b"0N."
    return inner


def legacy_sniff(n):
    """A pickle 1 longer than the legacy check's 1 MiB skim (an unknown
    GLOBAL keeps the fast path from walking it first), then n `.I`: every
    STOP + INT is a candidate protocol constant, whose line no candidate
    may read to the end of the file again (40 s at n = 1M before)."""
    return b"cmymod\nf\n0(" + b"N" * 1_100_000 + b".I" * n


def shared_stream(n, mib=64):
    """n central entries over one deflate stream of `mib` MiB, each declaring
    other sizes: the stream is charged once, not once per entry."""
    data, crc = deflate_repeat(b"", bytes(MiB), mib, b"")
    name = b"archive/data.pkl"
    out = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), mib << 20,
                      len(name), 0) + name + data
    cd = b"".join(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                              len(data) - i, (mib << 20) - i * 1000, len(b"data%d.pkl" % i), 0,
                              0, 0, 0, 0, 0) + b"data%d.pkl" % i for i in range(n))
    return out + cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(cd), len(out), 0)


def overlap_zip(inner, k, suffix):
    """k central entries over one stored member holding `inner` and k-1
    bytes of padding; entry i declares len(inner)+i bytes (all of them read
    as the same archive: its end record is found from the end)."""
    name = b"m" + suffix
    data = inner + b"\0" * (k - 1)
    crcs = [zlib.crc32(data[:len(inner) + i]) for i in range(k)]
    out = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crcs[0], len(inner),
                      len(inner), len(name), 0) + name + data
    cd = b""
    for i in range(k):
        nm = b"m%d" % i + suffix
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0x21, crcs[i],
                          len(inner) + i, len(inner) + i, len(nm), 0, 0, 0, 0, 0, 0) + nm
    return out + cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, k, k, len(cd), len(out), 0)


def zip_chain(depth, k=4):
    """Stored zip members that are zips, k entries per level over one
    member, `depth` deep: k^depth readings unless nested archives are
    scanned once per byte range of the file."""
    inner = b"\x80\x02cos\nsystem\n."
    for d in range(depth):
        inner = overlap_zip(inner, k, b".pkl" if d == 0 else b".zip")
    return inner


BOMBS = {
    # name: (builder, max seconds, max MiB RSS, required finding code or verdict)
    "billion_laughs": (billion_laughs, 5, 128, "unknown-import"),
    # 1e6 marks are within max-stack and CPython loads it: safe, bounded
    "deep_nesting_1e6": (deep_nesting, 10, 128, "verdict:safe"),
    # 1e6 values on the stack exceed max-stack: a limit finding
    "deep_empty_lists_1e6": (deep_empty_lists, 10, 128, "limit"),
    # no import before the stream ends: no loader can run them (README,
    # "files no loader can run"), so SAFE; the bound is what matters here
    "huge_declared_length": (huge_lengths, 2, 64, "verdict:safe"),
    "huge_frame": (huge_frame, 2, 64, "verdict:safe"),
    "huge_memo_index": (huge_memo_index, 2, 64, "limit"),
    "millions_of_opcodes": (millions_of_opcodes, 20, 128, "verdict:safe"),
    "global_line_1mib": (global_line_1mib, 5, 128, "unknown-import"),
    "memo_fanout_1e6": (memo_fanout, 10, 128, "verdict:safe"),
    "many_pickles": (many_pickles, 20, 256, "extra-pickle"),
    "zip_100k_members": (zip_100k_members, 10, 256, "verdict:safe"),
    "zip_nested_50_deep": (zip_nested_50, 5, 64, "limit"),
    "big_stored_tensor_256m": (big_stored_tensor, 5, 48, "verdict:safe"),
    # decompression bombs: memory must not grow with the inflated size, and
    # what was not inflated is a `limit` finding (never SAFE)
    "deflate_bomb_1g_data_pkl": (deflate_bomb_data_pkl, 10, 128, "limit"),
    "binbytes8_1g_data_pkl": (binbytes8_data_pkl, 10, 128, "limit"),
    "nested_1k_to_10g": (nested_10g, 30, 128, "limit"),
    "overlapping_1000x1g": (overlapping_members, 5, 128, "limit"),
    "npz_plain_1g": (npz_plain_bomb, 10, 128, "verdict:safe"),
    "npz_object_1g": (npz_object_bomb, 10, 128, "limit"),
    # a compressed pickle stream is read as it is walked (src/base/lazy.c): the
    # 1 GiB constant is decoded and thrown away, never held, and the stream
    # is what pickle.load reads: a bytes object, nothing imported
    # (issue 14: <= 5 s; zlib's own inflate of the GiB is ~2.7 s of it here)
    "joblib_zlib_1g": (joblib_zlib_bomb, 5, 128, "verdict:safe"),
    "joblib_gzip_1g": (joblib_gzip_bomb, 5, 128, "verdict:safe"),
    "joblib_zlib_1g_then_payload": (joblib_zlib_payload_after_1g, 5, 128, "command"),
    "joblib_xz_256m": (joblib_xz_bomb, 10, 160, "limit"),
    "joblib_bz2_ratio": (joblib_bz2_ratio, 10, 128, "limit"),
}
# Classes at several sizes or depths; a time bound (k, c) is k + c seconds
# per MiB of input.
for d in (5, 10, 15):
    BOMBS[f"nested_pickles_{d}"] = (lambda d=d: nested_pickles(d), (2, 20), 64,
                                    "embedded-pickle")
for n in (10_000, 100_000, 1_000_000):
    BOMBS[f"legacy_sniff_{n}"] = (lambda n=n: legacy_sniff(n), (2, 2), 128, "unknown-import")
for d in (4, 8, 12):
    BOMBS[f"zip_chain_{d}"] = (lambda d=d: zip_chain(d), (2, 20), 128, "command")
for n in (10, 70, 300):
    BOMBS[f"shared_stream_{n}"] = (lambda n=n: shared_stream(n), 5, 128, "archive-anomaly")
BOMBS["memo_40m"] = (lambda: nested_memo(1), 5, 64, "verdict:safe")
# each pickle of a stream filling memo slot 40M (1.2 KB: 58 s when the
# fast path wrote its 40 MB memo for every pickle)
for k in (10, 100, 1000):
    BOMBS[f"memo_40m_x{k}"] = (lambda k=k: nested_memo(1) * k, (2, 200), 64, "extra-pickle")
# two levels fit (the fast path holds a byte per memo slot); from four on,
# the levels' shared budget runs out: a limit, never 4 x 640 MB
BOMBS["nested_memo_2"] = (lambda: nested_memo(2), 5, 512, "embedded-pickle")
for d in (4, 8, 12):
    BOMBS[f"nested_memo_{d}"] = (lambda d=d: nested_memo(d), 5, 512, "limit")
BOMBS["zip_chain_6x50"] = (lambda: zip_chain(6, 50), (2, 20), 128, "command")


def run_one(exe, path, extra):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    p = subprocess.run([exe, "--format", "json", "-j", "1"] + extra + [path],
                       capture_output=True, timeout=120)
    dt = time.monotonic() - t0
    # ru_maxrss of children is the max over all children so far; run each
    # bomb in a fresh grandchild so the number is its own
    return p, dt


def measure(exe, path, extra):
    """Runs ckptscan under a tiny wrapper child so getrusage sees only it."""
    code = ("import resource,subprocess,sys,time,json;t=time.monotonic();"
            "p=subprocess.run(sys.argv[1:],capture_output=True);"
            "u=resource.getrusage(resource.RUSAGE_CHILDREN);r=u.ru_maxrss;"
            "sys.stdout.write(json.dumps({'rc':p.returncode,'rss_kb':r,"
            "'cpu':u.ru_utime+u.ru_stime,"
            "'secs':time.monotonic()-t,'out':p.stdout.decode('ascii','replace')}))")
    p = subprocess.run([sys.executable, "-c", code, exe, "--format", "json", "-j", "1"] + extra
                       + [path], capture_output=True, timeout=300)
    return json.loads(p.stdout)


def truncated_while_scanned(exe, work, tries=40):
    """A 50 MB pickle truncated to 4 KiB by another thread while ckptscan
    walks it, between two small files: never a signal; when the cut lands
    inside the walk the big file is an `error` report (exit 2) and both
    small files are still reported SAFE. Repeated with other delays until
    the cut has landed inside the walk at least 3 times."""
    import threading
    small = [os.path.join(work, f"small{i}.pkl") for i in range(2)]
    big = os.path.join(work, "big.pkl")
    for s in small:
        with open(s, "wb") as f:
            f.write(b"\x80\x02N.")
    body = b"\x80\x02" + b"N0" * 25_000_000 + b"N."
    hits = 0
    for i in range(tries):
        with open(big, "wb") as f:
            f.write(body)
        delay = 0.03 + 0.04 * (i % 10)
        t = threading.Timer(delay, os.truncate, (big, 4096))
        p = subprocess.Popen([exe, "--format", "json", "-j", "1", small[0], big, small[1]],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        t.start()
        out, _ = p.communicate(timeout=120)
        t.join()
        if p.returncode < 0 or p.returncode not in (0, 1, 2):
            print(f"FAIL truncated_while_scanned: exit {p.returncode} (delay {delay:.2f}s)")
            return False
        files = json.loads(out)["files"]
        if len(files) != 3 or files[0]["verdict"] != "safe" or files[2]["verdict"] != "safe":
            print(f"FAIL truncated_while_scanned: the small files were not reported SAFE")
            return False
        rep = files[1]
        if rep["verdict"] == "error":
            if p.returncode != 2 or not rep["error"]:
                print(f"FAIL truncated_while_scanned: error report with exit {p.returncode}")
                return False
            hits += 1
        elif p.returncode != (0 if rep["verdict"] == "safe" else 1):
            # cut before the file was opened (a truncated pickle) or after it was done
            print(f"FAIL truncated_while_scanned: exit {p.returncode}, verdict {rep['verdict']}")
            return False
        if hits >= 3:
            break
    ok = hits >= 3
    print(f"{'ok  ' if ok else 'FAIL'} truncated_while_scanned: {hits} cut(s) inside the walk "
          f"in {i + 1} run(s), no signal, the other files reported")
    return ok


def workers_share_memory(exe, work):
    """Two walks that each build ~320 MB of values, under -j 2 with
    max-memory-process at 256 MiB: together they stay under it (each
    gets a limit finding where it could not get more), not 2 x 320 MB."""
    paths = []
    for n in "ab":
        paths.append(os.path.join(work, f"lists_{n}.pkl"))
        with open(paths[-1], "wb") as f:  # an unknown import: the full interpreter walks it
            f.write(b"\x80\x02cmymod\nf\n0]" + b"]a" * 10_000_000 + b".")
    m = measure(exe, paths[0], ["-j", "2", "--limit", "max-memory-process=256M", paths[1]])
    files = json.loads(m["out"])["files"]
    rss_mib = m["rss_kb"] / 1024
    limited = sum(any(x["code"] == "limit" and "max-memory-process" in x["message"]
                      for x in r["findings"]) for r in files)
    ok = len(files) == 2 and limited >= 1 and rss_mib <= 360 and m["cpu"] <= 20
    print(f"{'ok  ' if ok else 'FAIL'} workers_share_memory: {m['cpu']:.2f}s CPU (<= 20, two "
          f"workers; {m['secs']:.2f}s wall), "
          f"{rss_mib:.0f} MiB (<= 360), {limited} file(s) with a max-memory-process limit")
    return ok


def two_bombs_two_workers(exe, work):
    """Two 1 GiB deflate bombs in data.pkl under -j 2: <= 512 MiB together
    (one costs <= 256 MiB: the deflate_bomb_1g_data_pkl case)."""
    paths = []
    for n in "ab":
        paths.append(os.path.join(work, f"bomb_{n}.pt"))
        with open(paths[-1], "wb") as f:
            f.write(deflate_bomb_data_pkl())
    m = measure(exe, paths[0], ["-j", "2", paths[1]])
    files = json.loads(m["out"])["files"]
    rss_mib = m["rss_kb"] / 1024
    ok = (len(files) == 2 and all(r["verdict"] != "safe" for r in files) and rss_mib <= 512
          and m["cpu"] <= 20)
    print(f"{'ok  ' if ok else 'FAIL'} two_bombs_two_workers: {m['cpu']:.2f}s CPU (<= 20, two "
          f"workers; {m['secs']:.2f}s wall), "
          f"{rss_mib:.0f} MiB (<= 512), verdicts {[r['verdict'] for r in files]}")
    return ok


def benign_joblib_512m(exe, work):
    """A benign 512 MiB float64 array saved by joblib.dump(compress=3) (zlib)
    and a 96 MiB one by compress='gzip', with os.system pickled after the
    array in a third: SAFE, SAFE, DANGEROUS, each in <= 256 MiB. Needs numpy
    and joblib (skipped without them); nothing is loaded."""
    try:
        import joblib
        import numpy as np
    except ImportError:
        print("skip benign_joblib_512m: no numpy/joblib in this interpreter")
        return True

    class Payload:  # pickles as os.system('true'); only ever dumped here
        def __reduce__(self):
            return (os.system, ("true",))

    cases = [("model_512m.joblib", {"coef": np.arange(64 << 20, dtype=np.float64),
                                    "name": "model"}, 3, "safe"),
             ("model_96m.joblib.gz", [np.arange(12 << 20, dtype=np.float64)], ("gzip", 3),
              "safe"),
             ("payload_96m.joblib", [np.arange(12 << 20, dtype=np.float64), Payload()], 3,
              "dangerous")]
    ok = True
    for name, obj, compress, want in cases:
        path = os.path.join(work, name)
        joblib.dump(obj, path, compress=compress)
        m = measure(exe, path, [])
        rep = json.loads(m["out"])["files"][0]
        rss_mib = m["rss_kb"] / 1024
        good = rep["verdict"] == want and rss_mib <= 256 and m["cpu"] <= 30
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} benign_joblib_512m {name} "
              f"({os.path.getsize(path)} bytes): {m['cpu']:.2f}s CPU (<= 30; {m['secs']:.2f}s wall), {rss_mib:.0f} MiB "
              f"(<= 256), verdict {rep['verdict']}, want {want}, "
              f"codes {sorted({x['code'] for x in rep['findings']})}")
        os.unlink(path)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckptscan", required=True)
    ap.add_argument("--only")
    a = ap.parse_args()
    exe = os.path.abspath(a.ckptscan)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as work:
        for name, (build, max_s, max_mib, want) in BOMBS.items():
            if a.only and a.only != name:
                continue
            path = os.path.join(work, name)
            data = build()
            with open(path, "wb") as f:
                f.write(data)
            m = measure(exe, path, [])
            rep = json.loads(m["out"])["files"][0]
            codes = {x["code"] for x in rep["findings"]}
            ok_want = (rep["verdict"] == want[8:]) if want.startswith("verdict:") else want in codes
            rss_mib = m["rss_kb"] / 1024
            if isinstance(max_s, tuple):
                max_s = round(max_s[0] + max_s[1] * len(data) / MiB, 1)
            ok = ok_want and m["cpu"] <= max_s and rss_mib <= max_mib and m["rc"] in (0, 1, 3)
            status = "ok  " if ok else "FAIL"
            print(f"{status} {name} ({len(data)} bytes): {m['cpu']:.2f}s CPU (<= {max_s}; "
                  f"{m['secs']:.2f}s wall), {rss_mib:.0f} MiB "
                  f"(<= {max_mib}), verdict {rep['verdict']}, want {want}, codes {sorted(codes)}")
            passed += ok
            failed += not ok
        if not a.only or a.only == "workers_share_memory":
            ok = workers_share_memory(exe, work)
            passed += ok
            failed += not ok
        for name, check in (("two_bombs_two_workers", two_bombs_two_workers),
                            ("benign_joblib_512m", benign_joblib_512m)):
            if not a.only or a.only == name:
                ok = check(exe, work)
                passed += ok
                failed += not ok
        if not a.only or a.only == "truncated_while_scanned":
            ok = truncated_while_scanned(exe, work)
            passed += ok
            failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
