#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generators for the real-loader campaign: every format and header surface.

Each maker is (rng) -> (bytes, extension, variant). The payload pickles only
name modules that exist nowhere (ckpt_diff_*, as gen_containers.py does) or
real names the oracle never resolves (its find_class hands out stand-ins), and
their string arguments are inert: nothing here does anything even if a loader
really ran it. Families (FAMILIES at the end):

  frames      FRAMEs of every size (up to past 128 KiB, where _pickle.c reads a
              whole frame instead of peeking), bytes after STOP inside a frame
              hiding the next pickle, opcodes straddling a frame's end
  multi       multi-pickle streams: the payload in pickle 2..6, junk between
  tar         torch's legacy tar format (sys_info, storages, tensors, pickle) as
              tarfile writes it (ustar, GNU, pax), with pax local and global
              headers renaming or resizing members, GNU long names, duplicates,
              the payload in any of its pickles (storages is read unbuffered)
  npy         .npy headers in every text form Python's tokenizer and
              ast.literal_eval accept (whitespace, line endings, comments,
              string prefixes, escapes, implicit concatenation, duplicate keys,
              Python-2 'L' ints) and every dtype form holding an object (nested,
              structured, subarray, titles, tuples, dicts of names/formats)
  npz         zips of those .npy members (stored, deflated, names without .npy,
              duplicates)
  compress    joblib streams under every compressor joblib detects (zlib, gzip,
              bz2, xz, lzma, lz4, ZF), concatenated streams, lz4 skippable frames
  wrapper     joblib NumpyArrayWrapper pickles written by hand: dtype re-BUILD,
              'c' dtypes, object arrays whose data is a nested pickle
  nonpickle   text, JSON, README, vocab lists, GGUF-like and safetensors files,
              some of which parse partly (or wholly) as pickles
  mutant      byte-level mutations of any of the above
"""

import bz2
import gzip
import io
import json
import lzma
import random
import struct
import tarfile
import zipfile
import zlib

FAKE_MODS = ["ckpt_diff_mod_%d" % i for i in range(8)] + ["ckpt_diff_pkg_1.sub_2"]
REAL_NAMES = [("os", "system"), ("posix", "system"), ("builtins", "eval"), ("subprocess", "Popen"),
              ("__builtin__", "eval"), ("builtins", "getattr"), ("pathlib", "os.system"),
              ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
              ("numpy.core.multiarray", "_reconstruct"), ("copy_reg", "_reconstructor"),
              ("torch", "FloatStorage"), ("runpy", "_run_code"), ("io", "open")]


def fake_name(rng):
    return rng.choice(FAKE_MODS), rng.choice(["func_%d" % rng.randrange(9), "Cls_1.meth_2"])


def pick_name(rng):
    return fake_name(rng) if rng.random() < 0.7 else rng.choice(REAL_NAMES)


def s_op(s, rng, proto):
    """A string opcode pushing s (a str), one the protocol allows."""
    b = s.encode("utf-8")
    kinds = ["STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE"]
    if proto >= 1:
        kinds += ["BINUNICODE"]
    if proto >= 4:
        kinds += ["SHORT_BINUNICODE", "BINUNICODE8"]
    k = rng.choice(kinds)
    if k == "STRING":
        return b"S'" + b + b"'\n"
    if k == "BINSTRING":
        return b"T" + struct.pack("<I", len(b)) + b
    if k == "SHORT_BINSTRING":
        return b"U" + bytes([len(b)]) + b
    if k == "UNICODE":
        return b"V" + b + b"\n"
    if k == "BINUNICODE":
        return b"X" + struct.pack("<I", len(b)) + b
    if k == "SHORT_BINUNICODE":
        return b"\x8c" + bytes([len(b)]) + b
    return b"\x8d" + struct.pack("<Q", len(b)) + b


def payload_body(rng, proto, name=None):
    """Opcodes (no PROTO, no STOP) leaving one value: an import, called or not."""
    m, n = name or pick_name(rng)
    if proto >= 4 or (rng.random() < 0.3 and "." not in n):
        push = s_op(m, rng, proto) + s_op(n, rng, proto) + b"\x93"
        if proto < 2 and rng.random() < 0.5:
            push = b"c" + m.encode() + b"\n" + n.encode() + b"\n"
    else:
        push = b"c" + m.encode() + b"\n" + n.encode() + b"\n"
    r = rng.random()
    if r < 0.6:
        return push + b"(" + s_op("ckptscan-o12", rng, proto) + b"tR"
    if r < 0.75 and proto >= 2:
        return push + b")\x81"
    if r < 0.85:
        return b"(" + push + b"o"
    return push


def payload(rng, proto=None, name=None):
    """A complete pickle that imports (and usually calls) one name."""
    if proto is None:
        proto = rng.randrange(6)
    head = b"\x80" + bytes([proto]) if proto >= 2 else b""
    return head + payload_body(rng, proto, name) + b"."


def benign(rng, proto=None):
    """A data-only pickle (no import)."""
    import pickle
    if proto is None:
        proto = rng.randrange(6)
    obj = rng.choice([{"a": 1, "b": [1, 2.5, "x"]}, [None, True, b"raw"], "text", 12345,
                      {"k%d" % i: i for i in range(rng.randrange(1, 20))}, (1, (2, (3,)))])
    return pickle.dumps(obj, protocol=proto)


# ---------------------------------------------------------------------------
# frames and multi-pickle streams

FRAME_SIZES = [0, 1, 9, 100, 4096, 65535, 65536, 131071, 131072, 131073, 140000, 262144]


def frame(content):
    return b"\x95" + struct.pack("<Q", len(content)) + content


def fam_frames(rng):
    kind = rng.choice(["hide_after_stop", "hide_after_stop", "straddle", "big_data", "toolong",
                       "nested"])
    proto = rng.choice([4, 5])
    size = rng.choice(FRAME_SIZES)
    if kind == "hide_after_stop":
        # pickle 1 ends inside a frame of `size` bytes; after its STOP a
        # BINBYTES (as read from STOP+1) swallows the frame's end and the
        # payload; a reader that consumed the whole frame starts the next
        # pickle at the frame's end, on the payload.
        first = b"\x80" + bytes([proto]) + b"N."
        pay = payload(rng, proto)
        pad = max(0, size - len(first) - 5)
        swallow = pad + rng.choice([len(pay), len(pay) + 1, len(pay) + 20])
        content = first + b"B" + struct.pack("<I", swallow) + b"\x00" * pad
        tail = rng.choice([b"", b"N."])
        return frame(content) + pay + tail, ".pkl", "%s-%d" % (kind, size)
    if kind == "straddle":
        body = payload_body(rng, proto)
        cut = rng.randrange(1, len(body))
        filler = b"N0" * (max(0, size - cut) // 2)
        return (b"\x80" + bytes([proto]) + frame(filler + body[:cut]) + body[cut:] + b"."), ".pkl", \
            "%s-%d" % (kind, size)
    if kind == "big_data":
        # a large BINBYTES in a big frame, then the payload in the same frame
        # or the next one
        blob = b"\x00" * max(0, size - 14)
        content = b"B" + struct.pack("<I", len(blob)) + blob + b"0"
        pay = payload_body(rng, proto)
        if rng.random() < 0.5:
            return b"\x80" + bytes([proto]) + frame(content + pay + b".") , ".pkl", "%s-%d-in" % (kind, size)
        return b"\x80" + bytes([proto]) + frame(content) + frame(pay + b"."), ".pkl", "%s-%d-next" % (kind, size)
    if kind == "toolong":
        pay = payload_body(rng, proto) + b"."
        claimed = len(pay) + rng.choice([1, 100, 200000])
        return b"\x80" + bytes([proto]) + b"\x95" + struct.pack("<Q", claimed) + pay, ".pkl", kind
    pay = payload_body(rng, proto) + b"."
    return b"\x80" + bytes([proto]) + frame(frame(pay)[:rng.randrange(1, 9)]) + pay, ".pkl", kind


def fam_multi(rng):
    n = rng.randrange(1, 6)
    parts = [benign(rng) for _ in range(n)]
    at = rng.randrange(n + 1)
    parts.insert(at, payload(rng))
    glue = rng.choice([b"", b"", b"\n", b"\x00", b"junk"])
    return glue.join(parts), ".pkl", "at%d-of%d%s" % (at, n + 1, "-glue" if glue else "")


# ---------------------------------------------------------------------------
# torch legacy tar

def tar_member(tf, name, data, rng, fmt):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    if fmt == tarfile.PAX_FORMAT and rng.random() < 0.2:
        info.pax_headers = {"comment": "x" * rng.randrange(1, 300)}
    tf.addfile(info, io.BytesIO(data))


def legacy_tar_members(rng, pay_in):
    """The four members of torch's legacy tar format (no storages, no
    tensors), with the payload pickle in member `pay_in`."""
    import pickle
    proto = rng.choice([2, 2, 4, 5])
    pay = payload(rng, proto)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    storages = (pay if pay_in == "storages" else pickle.dumps(0, protocol=proto)) + pickle.dumps([], protocol=proto)
    if pay_in == "storages-frame":
        # unbuffered file: a frame is read whole, so what follows STOP inside
        # it is skipped and the views pickle starts at the frame's end
        count = b"\x80\x04" + frame(b"K\x00.B" + struct.pack("<I", len(pay) + 1) + b"N")
        storages = count + pay + pickle.dumps([], protocol=2)
    tensors = pay if pay_in == "tensors" else pickle.dumps(0, protocol=proto)
    main = pay if pay_in == "pickle" else benign(rng, proto)
    return [("sys_info", sys_info), ("storages", storages), ("tensors", tensors), ("pickle", main)]


def fam_tar(rng):
    pay_in = rng.choice(["pickle", "pickle", "storages", "storages-frame", "tensors"])
    members = legacy_tar_members(rng, pay_in)
    fmt = rng.choice([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
    trick = rng.choice(["plain", "plain", "pax_path", "pax_global", "gnu_long", "dup", "pax_size",
                        "order"])
    buf = io.BytesIO()
    if trick == "pax_global":
        fmt = tarfile.PAX_FORMAT
    with tarfile.open(fileobj=buf, mode="w", format=fmt,
                      pax_headers={"comment": "global"} if trick == "pax_global" else None) as tf:
        if trick == "order":
            rng.shuffle(members)
        for name, data in members:
            if trick == "pax_path" and name in ("pickle", "storages") and fmt == tarfile.PAX_FORMAT:
                info = tarfile.TarInfo("decoy_" + name)
                info.size = len(data)
                info.pax_headers = {"path": name}
                tf.addfile(info, io.BytesIO(data))
            elif trick == "gnu_long" and name == "pickle":
                if fmt == tarfile.USTAR_FORMAT:
                    fmt = tarfile.GNU_FORMAT
                tf.format = tarfile.GNU_FORMAT
                # a long decoy member first, then the real one
                tar_member(tf, "d" * rng.choice([100, 150, 600]), benign(rng), rng, fmt)
                tar_member(tf, name, data, rng, fmt)
            elif trick == "dup" and name == "pickle":
                tar_member(tf, name, benign(rng), rng, fmt)
                tar_member(tf, name, data, rng, fmt)  # the last one wins
            else:
                tar_member(tf, name, data, rng, fmt)
    out = buf.getvalue()
    if trick == "pax_size" and fmt == tarfile.PAX_FORMAT:
        pass  # written by tarfile already; size override is exercised by pax_path
    return out, ".tar", "%s-%s-%s" % (pay_in, {0: "ustar", 1: "gnu", 2: "pax"}.get(fmt, fmt), trick)


# ---------------------------------------------------------------------------
# .npy headers

OBJECT_DESCRS = [
    "'|O'", "'O'", "'O8'", "'|O8'", "'object'", "\"|O\"", "u'|O'", "r'|O'", "'''|O'''", "'|' 'O'",
    "'\\x7cO'", "'\\N{VERTICAL LINE}O'", "'\\u007cO'", "b'|O'",
    "[('a', '|O')]", "[('a', '<f8'), ('b', '|O')]", "[('a', [('b', '|O')])]",
    "[('a', '|O', (2,))]", "[('a', '<i4', (2,)), ('b', [('c', '|O', (1, 2))])]",
    "('|O', (2,))", "('|O', 2)", "[(('title', 'a'), '|O')]", "[('', '|V4'), ('b', '|O')]",
    "[('a', '|O')] ", "[['a', '|O']]", "[('a', ('|O', (3,)))]", "[('a', '|V8'), ('o', '|O')]",
]
PLAIN_DESCRS = ["'<f8'", "'|u1'", "'<i4'", "'|V8'", "'c'", "'|S1'", "[('a', '<f4')]"]


def npy_header_text(rng, descr, shape_text, fortran="False"):
    ws = lambda: rng.choice(["", " ", "  ", "\t", "\x0c", " \\\n ", "\n", "\r\n", "\r"])
    items = [("'descr'", descr), ("'fortran_order'", fortran), ("'shape'", shape_text)]
    key_forms = {"'descr'": ["'descr'", "\"descr\"", "u'descr'", "'de' 'scr'", "'de\\x73cr'", "r'descr'"],
                 "'fortran_order'": ["'fortran_order'", "\"fortran_order\""],
                 "'shape'": ["'shape'", "'sh\\x61pe'"]}
    if rng.random() < 0.5:
        rng.shuffle(items)
    parts = []
    for k, v in items:
        kf = rng.choice(key_forms[k])
        comment = rng.choice(["", "", " # note\n", "#\n"])
        parts.append(ws() + kf + ws() + ":" + ws() + v + comment + ws())
    dup = ""
    if rng.random() < 0.15:
        # a duplicate key: the dict literal keeps the last value
        dup = rng.choice([", 'descr': " + rng.choice(PLAIN_DESCRS), ", 'descr': '|O'"])
    text = "{" + ",".join(parts) + dup + rng.choice(["", ",", ", "]) + ws() + "}"
    return text


def npy_file(rng, descr, shape_text, data, version=None):
    if version is None:
        version = rng.choice([(1, 0), (2, 0), (3, 0)])
    text = npy_header_text(rng, descr, shape_text)
    enc = "utf8" if version == (3, 0) else "latin1"
    hdr = text.encode(enc, "replace")
    pre = 10 if version == (1, 0) else 12
    pad = rng.choice([(-(pre + len(hdr) + 1)) % 64, 0, 3])
    hdr = hdr + b" " * pad + b"\n"
    ln = struct.pack("<H", len(hdr)) if version == (1, 0) else struct.pack("<I", len(hdr))
    return b"\x93NUMPY" + bytes(version) + ln + hdr + data


def fam_npy(rng):
    obj = rng.random() < 0.8
    descr = rng.choice(OBJECT_DESCRS if obj else PLAIN_DESCRS)
    shape = rng.choice(["(1,)", "(2,)", "()", "(1, 1)", "(1L,)", "(0x1,)", "(1_0,)", "(True,)", "[1]",
                        "(\n1,\n)", "(1,) #c\n"])
    data = payload(rng, rng.choice([2, 3, 4, 5]))
    if rng.random() < 0.3:
        data = b"\x00" * rng.choice([8, 16, 80]) + data  # raw data in front of a pickle
    return npy_file(rng, descr, shape, data), ".npy", "%s-%s" % ("obj" if obj else "plain",
                                                            OBJECT_DESCRS.index(descr) if obj else PLAIN_DESCRS.index(descr))


def fam_npz(rng):
    members = []
    for k in range(rng.randrange(1, 4)):
        blob, _e, _v = fam_npy(rng)
        name = "arr_%d" % k + rng.choice([".npy", ".npy", ""])
        members.append((name, blob, rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])))
    if rng.random() < 0.2:
        members.append((members[0][0], fam_npy(rng)[0], members[0][2]))  # duplicate: the last wins
    buf = io.BytesIO()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w") as z:
            for name, blob, method in members:
                z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), blob, compress_type=method)
    return buf.getvalue(), ".npz", "m%d" % len(members)


# ---------------------------------------------------------------------------
# compressed joblib streams

def lz4_frame(raw, rng):
    try:
        import lz4.frame
    except ImportError:
        return None
    return lz4.frame.compress(raw)


def lz4_skippable(rng):
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 16)))
    return struct.pack("<II", 0x184D2A50 + rng.randrange(16), len(data)) + data


def compress_one(raw, method, rng):
    if method == "zlib":
        return zlib.compress(raw, rng.choice([0, 1, 9]))
    if method == "gzip":
        return gzip.compress(raw, rng.choice([1, 9]), mtime=0)
    if method == "bz2":
        return bz2.compress(raw, 1)
    if method == "xz":
        return lzma.compress(raw, format=lzma.FORMAT_XZ, check=rng.choice([lzma.CHECK_NONE, lzma.CHECK_CRC32]))
    if method == "lzma":
        return lzma.compress(raw, format=lzma.FORMAT_ALONE)
    if method == "lz4":
        return lz4_frame(raw, rng)
    if method == "zf":
        z = zlib.compress(raw)
        return b"ZF" + ("0x%x" % len(raw)).ljust(19).encode() + z
    raise ValueError(method)


def fam_compress(rng):
    method = rng.choice(["zlib", "gzip", "bz2", "xz", "lzma", "lz4", "zf"])
    split = rng.random() < 0.5
    if method in ("zlib", "gzip") and rng.random() < 0.8:
        # joblib 1.2's BinaryZlibFile loops forever once a first zlib/gzip
        # stream is followed by more data (it never reads past it): such files
        # only cost the oracle a time-out each, keep a few
        split = False
    pay = payload(rng, rng.choice([2, 3, 4, 5]))
    variant = method
    if not split:
        raw = (benign(rng)[:-1] + b"0" + pay) if rng.random() < 0.3 else pay
        out = compress_one(raw, method, rng)
        if method in ("zlib", "gzip") and rng.random() < 0.1:
            out += compress_one(payload(rng), method, rng)  # never reached by joblib: it hangs
            variant += "-second"
    else:
        # the pickle split over two concatenated streams: a decompressor that
        # continues hands over both halves
        cut = rng.randrange(1, len(pay))
        second = method
        if method in ("xz", "lzma"):
            second = rng.choice(["xz", "lzma"])
        if method == "bz2" or method == "gzip" or method == "lz4" or method in ("xz", "lzma"):
            a, b = compress_one(pay[:cut], method, rng), compress_one(pay[cut:], second, rng)
            if a is None or b is None:
                return pay, ".joblib", "raw"
            mid = lz4_skippable(rng) if method == "lz4" and rng.random() < 0.6 else b""
            out = a + mid + b
            variant = "%s+%s" % (method, second)
        else:
            out = compress_one(pay, method, rng) + rng.choice([b"", b"\x00" * 4, compress_one(pay, method, rng)])
            variant = method + "-trail"
    if out is None:
        return pay, ".joblib", "raw"
    if method == "lz4" and rng.random() < 0.3:
        out = lz4_skippable(rng) + out
        variant += "-skipfirst"
    return out, ".joblib", variant


# ---------------------------------------------------------------------------
# joblib NumpyArrayWrapper by hand

def dtype_state(rng):
    """A dtype __setstate__ tuple: byte order, element size (flexible types
    take it), flags (0x3f: NPY_OBJECT's, so hasobject)."""
    return (3, rng.choice(["|", "<"]), None, None, None, rng.choice([-1, 1, 4, 8, 16, 24]), 1,
            rng.choice([0, 0, 0x3f]))


def final_dtype(base, states):
    """(itemsize, hasobject) numpy gives dtype(base) after these BUILDs, or
    None when numpy refuses them (the real numpy, in the generator only)."""
    try:
        import numpy
        dt = numpy.dtype(base, False, True)
        for st in states:
            dt.__setstate__(st)
        return dt.itemsize, bool(dt.hasobject)
    except Exception:  # noqa: BLE001 - numpy refusing the state is a case too
        return None


def state_ops(st, rng, proto):
    out = b"(K\x03" + s_op(st[1], rng, proto) + b"NNN"
    out += struct.pack("<Bi", ord("J"), st[5]) + b"K\x01" + bytes([ord("K"), st[7]]) + b"t"
    return out


class WrapperStream:
    """Assembles joblib streams: NumpyArrayWrapper objects, their array data
    (raw bytes, or a nested pickle for object dtypes) and what follows."""

    def __init__(self, rng, proto):
        self.rng, self.proto = rng, proto
        self.p = b"\x80" + bytes([proto])
        self.memo = 0

    def put(self):
        self.memo += 1
        self.p += b"r" + struct.pack("<I", self.memo)
        return self.memo

    def dtype(self, base, states):
        rng, proto = self.rng, self.proto
        self.p += b"cnumpy\ndtype\n(" + s_op(base, rng, proto) + b"\x89" + rng.choice([b"\x88", b"\x89"]) + b"tR"
        for st in states:
            self.p += state_ops(st, rng, proto) + b"b"

    def wrapper(self, shape, dtype_ops, align, passthrough):
        rng, proto = self.rng, self.proto
        obj = b"cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81"
        if passthrough == "scalar":
            # numpy.core.multiarray.scalar(dtype('O'), x) returns x
            obj = b"cnumpy.core.multiarray\nscalar\n(cnumpy\ndtype\n(" + s_op("O8", rng, proto) + \
                b"\x89\x88tR" + obj + b"tR"
        self.p += obj + b"}("
        self.p += s_op("subclass", rng, proto) + b"cnumpy\nndarray\n"
        self.p += s_op("shape", rng, proto) + b"(" + b"".join(b"K" + bytes([d]) for d in shape) + b"t"
        self.p += s_op("order", rng, proto) + s_op("C", rng, proto)
        self.p += s_op("dtype", rng, proto) + dtype_ops
        self.p += s_op("allow_mmap", rng, proto) + b"\x89"
        if align:
            self.p += s_op("numpy_array_alignment_bytes", rng, proto) + b"K\x10"
        self.p += b"ub"

    def data(self, shape, size, align):
        n = 1
        for d in shape:
            n *= d
        if align:
            k = self.rng.randrange(0, 16)
            self.p += bytes([k]) + b"\xff" * k
        if size is None:  # object dtype: a nested pickle
            self.p += payload(self.rng, self.proto)
        else:
            self.p += b"\x00" * (n * size)


def wrapper_pickle(rng):
    """joblib's stream: NumpyArrayWrapper BUILT with a state dict, then the
    array's bytes (or a nested pickle for object dtypes), then the rest.
    Dtypes: object, 'c' (S1: flexible, its size comes from a BUILD state),
    fixed ones; BUILD states that change the size or set NPY_OBJECT's flags;
    a dtype memoised, used, re-BUILT and used again; the wrapper reached
    through numpy.core.multiarray.scalar(dtype('O'), x), which returns x."""
    proto = rng.choice([2, 3, 4])
    w = WrapperStream(rng, proto)
    w.p += b"]"  # a list holding everything
    base = rng.choice(["O", "c", "f8", "u1", "S1", "V4", "S1", "c"])
    states = [dtype_state(rng) for _ in range(rng.choice([0, 0, 1, 2]))]
    fin = final_dtype(base, states)
    if fin is None:
        states, fin = [], final_dtype(base, [])
    shape = rng.choice([(1,), (2,), (3,), ()])
    align = rng.random() < 0.5
    passthrough = "scalar" if rng.random() < 0.2 else None
    variant = "%s-b%d-%s%s" % (base, len(states), "x".join(map(str, shape)) or "scalar",
                               "-pass" if passthrough else "")
    w.dtype(base, states)
    slot = w.put()
    w.p += b"0"  # popped: the wrappers refer to it through the memo
    dt_ops = b"j" + struct.pack("<I", slot)
    w.wrapper(shape, dt_ops, align, passthrough)
    size, hasobj = fin
    w.data(shape, None if hasobj else size, align)
    w.p += b"a"
    if rng.random() < 0.5:
        # re-BUILD the memoised dtype, then a second array with it
        more = [dtype_state(rng)]
        fin2 = final_dtype(base, states + more)
        if fin2 is not None:
            w.p += b"j" + struct.pack("<I", slot) + state_ops(more[0], rng, proto) + b"b0"
            w.wrapper(shape, dt_ops, align, None)
            size2, hasobj2 = fin2
            w.data(shape, None if hasobj2 else size2, align)
            w.p += b"a"
            variant += "-rebuilt"
    if rng.random() < 0.7:
        w.p += payload_body(rng, proto) + b"a"  # after the arrays
    return w.p + b".", variant


def fam_wrapper(rng):
    raw, variant = wrapper_pickle(rng)
    method = rng.choice([None, None, "zlib", "gzip", "xz", "lz4"])
    if method:
        out = compress_one(raw, method, rng)
        if out is not None:
            raw = out
            variant += "-" + method
    return raw, ".joblib", variant


# ---------------------------------------------------------------------------
# torch zip as miniz reads it (zips written by hand: every field under control)

def deflate(data, level):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def build_zip(entries, comment=b"", eocd_count=None):
    """entries: dicts with name, data, method (0/8), and optional local_name,
    local_extra, flags, crc, level. Returns the archive bytes."""
    out = bytearray()
    central = bytearray()
    for e in entries:
        data = e["data"]
        comp = deflate(data, e.get("level", 6)) if e.get("method", 0) == 8 else data
        crc = e.get("crc", zlib.crc32(data))
        name = e["name"].encode()
        lname = e.get("local_name", e["name"]).encode()
        lextra = e.get("local_extra", b"")
        flags = e.get("flags", 0)
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, e.get("method", 0), 0, 0x21, crc,
                           len(comp), len(data), len(lname), len(lextra)) + lname + lextra + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, e.get("method", 0), 0, 0x21,
                               crc, len(comp), len(data), len(name), 0, 0, 0, 0, 0, off) + name
    cd_off = len(out)
    n = len(entries) if eocd_count is None else eocd_count
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_off, len(comment)) + comment
    return bytes(out)


def fam_tzip(rng):
    proto = rng.choice([2, 2, 3, 4, 5])
    pay = payload(rng, proto)
    prefix = rng.choice(["archive/", "archive/", "model/", "x/"])
    ver = {"name": prefix + "version", "data": b"3\n"}
    main = {"name": prefix + "data.pkl", "data": pay, "method": rng.choice([0, 0, 8])}
    entries = [main, ver]
    trick = rng.choice(["plain", "crc", "local_name", "local_extra", "case", "dup_first", "dup_last",
                        "entry0_prefix", "flag_dd", "flag_utf8", "level0", "eocd_in_comment",
                        "trailing", "count_short", "order", "constants"])
    if trick == "crc":
        main["crc"] = rng.getrandbits(32)  # miniz (torch) never checks CRCs; zipfile does
    elif trick == "local_name":
        main["local_name"] = prefix + rng.choice(["xxxx.pkl", "data.pk_", "DATA.PKL"])
    elif trick == "local_extra":
        main["local_extra"] = struct.pack("<HH", 0xCAFE, 4) + b"\x00" * 4 if rng.random() < 0.5 else b"\x01\x02\x03"
    elif trick == "case":
        main["name"] = prefix + rng.choice(["DATA.PKL", "Data.pkl", "data.PKL"])
    elif trick in ("dup_first", "dup_last"):
        other = {"name": main["name"], "data": benign(rng, proto), "method": main["method"]}
        entries = [other, main, ver] if trick == "dup_last" else [main, other, ver]
    elif trick == "entry0_prefix":
        # the archive prefix is entry 0's name up to its first '/'
        entries = [{"name": "decoy/version", "data": b"3\n"}, {"name": "decoy/data.pkl", "data": pay},
                   {"name": prefix + "data.pkl", "data": benign(rng, proto)}, ver]
    elif trick == "flag_dd":
        main["flags"] = 0x08
    elif trick == "flag_utf8":
        main["flags"] = 0x800
    elif trick == "level0":
        main["method"], main["level"] = 8, 0  # deflate with stored blocks
    elif trick == "order":
        entries = [ver, main]
    elif trick == "constants":
        entries.append({"name": prefix + "constants.pkl", "data": payload(rng, proto)})
    comment = b""
    if trick == "eocd_in_comment":
        comment = b"c PK\x05\x06" + b"\x00" * rng.choice([4, 18, 30])
    out = build_zip(entries, comment, eocd_count=len(entries) - 1 if trick == "count_short" else None)
    if trick == "trailing":
        out += rng.choice([b"\x00" * 10, b"junk", payload(rng)])
    return out, ".pt", trick


# ---------------------------------------------------------------------------
# torch legacy stacked-pickle files written by hand

def fam_legacy(rng):
    """magic, protocol version, sys_info, main object, storage keys: the
    payload in one of them, a frame trick (a pickle whose frame hides the start
    of the next one from a reader that goes on at STOP+1) in another."""
    import pickle
    proto = rng.choice([2, 2, 4, 5])
    parts = [pickle.dumps(0x1950A86A20F9469CFC6C, protocol=proto), pickle.dumps(1001, protocol=proto),
             pickle.dumps({"protocol_version": 1001, "little_endian": True,
                           "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=proto),
             benign(rng, proto), pickle.dumps([], protocol=proto)]
    at = rng.randrange(5)
    parts[at] = payload(rng, proto)
    variant = "pay%d" % at
    if at > 0 and rng.random() < 0.5:
        # the pickle before the payload ends inside a big frame whose rest
        # a STOP+1 reader takes for BINBYTES over the payload
        size = rng.choice([4096, 9000, 65536, 131072, 140000])
        pay = parts[at]
        first = b"\x80\x04N."
        pad = max(0, size - len(first) - 5)
        content = first + b"B" + struct.pack("<I", pad + len(pay)) + b"\x00" * pad
        parts[at - 1] = frame(content)
        variant += "-frame%d" % size
    return b"".join(parts) + b"\x00" * rng.choice([0, 8]), ".pt", variant


# ---------------------------------------------------------------------------
# non-pickle files (and files that parse partly as pickles)

WORDS = ["the", "model", "config", "cos", "system", "import", "tokenizer", "hidden_size", "vocab",
         "lm_head", "weight", "bias", "attention", "layer", "norm", "README", "license", "apache"]


def fam_nonpickle(rng):
    kind = rng.choice(["text", "readme", "json", "vocab", "merges", "gguf", "safetensors", "gitattr",
                       "pickleish"])
    if kind == "text":
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 8))) for _ in range(rng.randrange(1, 30))]
        data = "\n".join(lines).encode()
    elif kind == "readme":
        data = ("# %s\n\n%s\n\n```python\nimport torch\nmodel = torch.load('x.pt')\n```\n"
                % (rng.choice(WORDS), " ".join(rng.choice(WORDS) for _ in range(40)))).encode()
    elif kind == "json":
        data = json.dumps({rng.choice(WORDS): rng.choice([1, "x", [1, 2], {"a": None}]) for _ in range(5)},
                          indent=rng.choice([None, 2])).encode()
    elif kind == "vocab":
        data = "\n".join(rng.choice(WORDS + ["[PAD]", "[CLS]", "##s", "c", "i", "os", "p", "g"])
                         for _ in range(rng.randrange(5, 200))).encode()
    elif kind == "merges":
        data = ("#version: 0.2\n" + "\n".join("%s %s" % (rng.choice("abcdeghiopst"), rng.choice(WORDS))
                                               for _ in range(50))).encode()
    elif kind == "gguf":
        data = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + struct.pack("<Q", 7) + b"general" + \
            struct.pack("<I", 8) + struct.pack("<Q", 4) + b"test" + bytes(rng.randrange(256) for _ in range(64))
    elif kind == "safetensors":
        hdr = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                          "__metadata__": {"format": "pt"}}).encode()
        hdr += b" " * (-len(hdr) % 8)
        data = struct.pack("<Q", len(hdr)) + hdr + b"\x00" * 8
    elif kind == "gitattr":
        data = b"*.bin filter=lfs diff=lfs merge=lfs -text\n*.pt filter=lfs diff=lfs merge=lfs -text\n"
    else:
        # text whose first lines are pickle opcodes: 'c' + two lines is a
        # GLOBAL, then text; a vocab file starting 'cos\nsystem\n'
        m, n = pick_name(rng)
        head = rng.choice([b"c%s\n%s\n" % (m.encode(), n.encode()),
                           b"(c%s\n%s\n" % (m.encode(), n.encode()),
                           b"(i%s\n%s\n" % (m.encode(), n.encode()),
                           b"Vhello\n", b"I1\n", b"p0\n", b"S'x'\n", b"F1.5\n", b"(lp0\n"])
        tail = "\n".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 20))).encode()
        data = head + tail + rng.choice([b"", b".", b"\n.", b"tR."])
    return data, rng.choice([".txt", ".json", ".md", ".bin", ""]) if kind in ("text", "pickleish") \
        else {"readme": ".md", "json": ".json", "vocab": ".txt", "merges": ".txt", "gguf": ".gguf",
              "safetensors": ".safetensors", "gitattr": ""}[kind], kind


# ---------------------------------------------------------------------------

def mutate(rng, blob):
    data = bytearray(blob)
    ops = []
    for _ in range(rng.randrange(1, 4)):
        if not data:
            data += b"."
        pos = rng.randrange(len(data))
        kind = rng.choice(["flip", "set", "delete", "insert", "dup", "truncate"])
        if kind == "flip":
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == "set":
            data[pos] = rng.choice([0, 0x0a, 0x2e, 0x7f, 0x80, 0xff, 0x95, 0x28])
        elif kind == "delete":
            del data[pos:pos + rng.randrange(1, 5)]
        elif kind == "insert":
            data[pos:pos] = rng.choice([b"\n", b"0", b"(", b"N", b"\x00", b" "])
        elif kind == "dup":
            data[pos:pos] = data[pos:pos + rng.randrange(1, 17)]
        else:
            del data[max(1, pos):]
        ops.append(kind)
    return bytes(data), "-".join(ops)


def fam_mutant(rng):
    fam = rng.choice([fam_frames, fam_multi, fam_tar, fam_npy, fam_npz, fam_compress, fam_wrapper,
                      fam_nonpickle, fam_tzip, fam_legacy] + gen_headers.MUTABLE)
    data, ext, variant = fam(rng)
    data, ops = mutate(rng, data)
    return data, ext, "%s-%s-%s" % (fam.__name__[4:], variant, ops)


# (family, weight, maker, loaders): the loaders that could open such a file.
ALL = ["pickle", "pypickle", "torch", "numpy", "joblib"]
FAMILIES = [
    ("frames", 4, fam_frames, ALL),
    ("multi", 2, fam_multi, ALL),
    ("tar", 3, fam_tar, ["torch", "pickle"]),
    ("tzip", 3, fam_tzip, ["torch", "numpy"]),
    ("legacy", 2, fam_legacy, ["torch", "pickle", "pypickle"]),
    ("npy", 4, fam_npy, ["numpy", "pickle"]),
    ("npz", 2, fam_npz, ["numpy"]),
    ("compress", 3, fam_compress, ["joblib", "pickle"]),
    ("wrapper", 3, fam_wrapper, ["joblib", "pickle", "pypickle"]),
    ("nonpickle", 4, fam_nonpickle, ALL),
    ("mutant", 5, fam_mutant, ALL),
]

import gen_headers  # noqa: E402 - the header surfaces of root cause 10 (it imports this module)

FAMILIES[-1:-1] = gen_headers.FAMILIES

if __name__ == "__main__":
    r = random.Random(1)
    for name, _w, fn, _l in FAMILIES:
        for _ in range(50):
            d, e, v = fn(r)
        print(name, len(d), e, v)
