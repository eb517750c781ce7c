#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Deterministic generator of pickles for the CPython differential test.

Usage: gen_pickles.py OUTDIR [--count N] [--seed S]

Writes N files named NNNNN-<kind>-<variant>.pkl into OUTDIR and nothing else.
File i depends only on (seed, i), so a failing file can be regenerated with
the same seed whatever the count.

Nothing here imports, resolves or calls a name that a pickle mentions: the
import-carrying pickles are assembled opcode by opcode (class Asm), and the
only pickler used is pickle.dumps on plain data built from builtin types.
"""

import argparse
import math
import os
import pickle
import pickletools
import random
import struct
import sys

# ---------------------------------------------------------------------------
# Names the import-carrying pickles use. Raw (module, name) pairs exactly as
# they appear in the stream; resolution is CPython's and ckptscan's business.

ALLOWED_NAMES = [
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch", "FloatStorage"),
    ("builtins", "set"),
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
]

DANGEROUS_NAMES = [
    ("os", "system"),
    ("posix", "system"),
    ("nt", "system"),
    ("subprocess", "Popen"),
    ("builtins", "eval"),
    ("builtins", "getattr"),
    ("__builtin__", "eval"),          # Python-2 name: mapped when protocol < 3
    ("copy_reg", "_reconstructor"),   # Python-2 name
    ("pathlib", "os.system"),         # dotted: walks attributes at protocol 4+
    ("builtins", "object.__getattribute__"),
    ("builtins", "eval.__call__"),
    ("torch", "os.system"),
    ("_io", "FileIO"),
    ("mymodule", "MyClass"),
    ("commands", "getoutput"),        # Python-2 name for subprocess
    ("copyreg", "add_extension"),
    ("runpy", "_run_code"),
    ("__builtin__", "set"),           # allowed only when protocol < 3 maps it
    ("collections", "OrderedDict.fromkeys"),
    ("exceptions", "ValueError"),     # Python-2 exceptions.X mapping
    ("urllib2", "urlopen"),           # Python-2 module rename
]

# More of the denylist's categories (ATTACKS.md D), including C aliases.
MORE_DANGEROUS = [
    ("builtins", "exec"), ("builtins", "compile"), ("builtins", "__import__"), ("builtins", "open"),
    ("builtins", "breakpoint"), ("builtins", "setattr"), ("builtins", "vars"),
    ("functools", "partial"), ("functools", "reduce"), ("operator", "attrgetter"),
    ("_operator", "methodcaller"), ("operator", "itemgetter"), ("io", "open"), ("_io", "open"),
    ("codecs", "open"), ("pydoc", "locate"), ("pkgutil", "resolve_name"),
    ("importlib", "import_module"), ("sys", "modules"), ("pickle", "loads"), ("_pickle", "loads"),
    ("marshal", "loads"), ("torch", "load"), ("torch.serialization", "load"), ("numpy", "load"),
    ("shutil", "rmtree"), ("socket", "socket"), ("webbrowser", "open"), ("ctypes", "CDLL"),
    ("_ctypes", "dlopen"), ("_posixsubprocess", "fork_exec"), ("pty", "spawn"), ("timeit", "timeit"),
    ("types", "FunctionType"), ("atexit", "register"), ("threading", "Thread"),
    ("asyncio.unix_events", "_UnixSubprocessTransport"), ("logging.config", "listen"),
    ("uuid", "_get_command_stdout"), ("typing", "get_type_hints"), ("dataclasses", "_create_fn"),
    ("torch.storage", "_load_from_bytes"), ("picklescan", "scanner"), ("sqlite3", "connect"),
    ("tempfile", "mkstemp"), ("gc", "get_objects"), ("zipimport", "zipimporter"),
    ("os.path", "join"), ("posixpath", "join"), ("inspect", "getattr_static"),
]

# Python-2 names CPython maps when protocol < 3 (_compat_pickle), and a few
# it does not map.
PY2_NAMES = [
    ("__builtin__", "xrange"), ("__builtin__", "reduce"), ("__builtin__", "intern"),
    ("__builtin__", "unicode"), ("__builtin__", "long"), ("__builtin__", "basestring"),
    ("__builtin__", "bytearray"), ("__builtin__", "getattr"), ("__builtin__", "file"),
    ("itertools", "izip"), ("itertools", "imap"), ("UserDict", "IterableUserDict"),
    ("UserDict", "UserDict"), ("UserList", "UserList"), ("whichdb", "whichdb"),
    ("_socket", "fromfd"), ("_multiprocessing", "Connection"), ("multiprocessing.process", "Process"),
    ("multiprocessing.forking", "Popen"), ("urllib", "urlopen"), ("urllib", "urlretrieve"),
    ("urllib", "quote"), ("urllib2", "HTTPError"), ("socket", "_socketobject"),
    ("exceptions", "OSError"), ("exceptions", "StandardError"), ("exceptions", "Exception"),
    ("cPickle", "loads"), ("cStringIO", "StringIO"), ("StringIO", "StringIO"), ("httplib", "HTTPConnection"),
    ("xmlrpclib", "ServerProxy"), ("thread", "start_new_thread"), ("dummy_thread", "allocate_lock"),
    ("anydbm", "open"), ("dbm", "open"), ("Queue", "Queue"), ("SocketServer", "TCPServer"),
    ("repr", "repr"), ("copy_reg", "__newobj__"), ("Tkinter", "Tk"), ("test.test_support", "run"),
    ("commands", "getstatusoutput"), ("urlparse", "urljoin"), ("cookielib", "CookieJar"),
    ("string", "letters"), ("sets", "Set"), ("os", "getcwdu"),
]

# Near misses of allowlisted names: none is exactly on the allowlist.
LOOKALIKES = [
    ("collections ", "OrderedDict"), ("Collections", "OrderedDict"), ("collections", "OrderedDict "),
    ("collections", "ordereddict"), ("collections", "OrderedDict.__init__"),
    ("collections", "OrderedDict."), ("collections.", "OrderedDict"), (".collections", "OrderedDict"),
    ("collections", ".OrderedDict"), ("collections.OrderedDict", ""), ("", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2.__globals__"), ("torch", "FloatStorage.__reduce_ex__"),
    ("builtins", "set.__new__"), ("_codecs", "encode "), ("_codecs", "encode\t"),
    ("numpy.core.multiarray", "_reconstruct.__globals__"), ("torch._utils ", "_rebuild_tensor_v2"),
    ("torch", "_utils.os.system"), ("collections", "OrderedDict.__class__.__subclasses__"),
    ("torch\x00", "FloatStorage"), ("_codecs", "encode\x00"), ("torch", "FloatStorage\r"),
    ("collections\u200b", "OrderedDict"), ("coll\u0435ctions", "OrderedDict"),
]

ALL_NAMES = ALLOWED_NAMES + DANGEROUS_NAMES


def pick_name(rng):
    r = rng.random()
    if r < 0.6:
        return rng.choice(ALL_NAMES)
    if r < 0.75:
        return rng.choice(MORE_DANGEROUS)
    if r < 0.9:
        return rng.choice(PY2_NAMES)
    return rng.choice(LOOKALIKES)

# Harmless-looking arguments for calls (the pickles are never really loaded).
ARG_STRINGS = ["true", "echo hi", "id", "1+1", "/tmp/ckptscan-diff", "x", "",
               "caf\u00e9", "\u4e2d\u6587", "\U0001f600", "a\nb", "back\\slash"]

# ---------------------------------------------------------------------------
# Opcode assembler


class Asm:
    """Appends opcodes to a buffer, remembering where each opcode starts and
    which memo slots are occupied (MEMOIZE stores at the number of occupied
    slots, as _pickle.c does)."""

    def __init__(self):
        self.buf = bytearray()
        self.starts = []
        self.memo = set()

    def op(self, code, arg=b""):
        self.starts.append(len(self.buf))
        self.buf += code + arg
        return self

    def raw(self, data):
        self.buf += data
        return self

    def getvalue(self):
        return bytes(self.buf)

    def __len__(self):
        return len(self.buf)

    # control
    def proto(self, n):
        return self.op(b"\x80", bytes([n & 0xFF]))

    def frame(self, n):
        return self.op(b"\x95", struct.pack("<Q", n))

    def stop(self):
        return self.op(b".")

    def mark(self):
        return self.op(b"(")

    def pop(self):
        return self.op(b"0")

    def pop_mark(self):
        return self.op(b"1")

    def dup(self):
        return self.op(b"2")

    # scalars
    def none(self):
        return self.op(b"N")

    def bool_(self, v, how="NEW"):
        if how == "NEW":
            return self.op(b"\x88" if v else b"\x89")
        return self.op(b"I", b"01\n" if v else b"00\n")

    def int_(self, v, how):
        if how == "INT":
            return self.op(b"I", str(v).encode() + b"\n")
        if how == "BININT":
            return self.op(b"J", struct.pack("<i", v))
        if how == "BININT1":
            return self.op(b"K", bytes([v]))
        if how == "BININT2":
            return self.op(b"M", struct.pack("<H", v))
        if how == "LONG":
            return self.op(b"L", str(v).encode() + b"L\n")
        data = encode_long(v)
        if how == "LONG1":
            return self.op(b"\x8a", bytes([len(data)]) + data)
        if how == "LONG4":
            return self.op(b"\x8b", struct.pack("<i", len(data)) + data)
        raise ValueError(how)

    def float_(self, v, how):
        if how == "FLOAT":
            return self.op(b"F", repr(v).encode() + b"\n")
        return self.op(b"G", struct.pack(">d", v))

    def line(self, code, text):
        """An opcode whose argument is a raw line (tricks: I0x10, L0x10L)."""
        return self.op(code, text)

    # strings: every variant that yields a str in the C unpickler
    def str_(self, s, how):
        if how in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
            data = s.encode("ascii")
            if how == "STRING":
                return self.op(b"S", py2_repr(data) + b"\n")
            if how == "BINSTRING":
                return self.op(b"T", struct.pack("<I", len(data)) + data)
            return self.op(b"U", bytes([len(data)]) + data)
        if how == "UNICODE":
            return self.op(b"V", raw_unicode_line(s) + b"\n")
        data = s.encode("utf-8", "surrogatepass")
        if how == "SHORT_BINUNICODE":
            return self.op(b"\x8c", bytes([len(data)]) + data)
        if how == "BINUNICODE":
            return self.op(b"X", struct.pack("<I", len(data)) + data)
        if how == "BINUNICODE8":
            return self.op(b"\x8d", struct.pack("<Q", len(data)) + data)
        raise ValueError(how)

    def bytes_(self, data, how):
        if how == "SHORT_BINBYTES":
            return self.op(b"C", bytes([len(data)]) + data)
        if how == "BINBYTES":
            return self.op(b"B", struct.pack("<I", len(data)) + data)
        if how == "BINBYTES8":
            return self.op(b"\x8e", struct.pack("<Q", len(data)) + data)
        if how == "BYTEARRAY8":
            return self.op(b"\x96", struct.pack("<Q", len(data)) + data)
        raise ValueError(how)

    # memo
    def put(self, i, how):
        self.memo.add(i)
        if how == "PUT":
            return self.op(b"p", str(i).encode() + b"\n")
        if how == "BINPUT":
            return self.op(b"q", bytes([i]))
        return self.op(b"r", struct.pack("<I", i))

    def put_text(self, i, text):
        """PUT with a hand-written index line (' 5', '+5', '05', '5_0')."""
        self.memo.add(i)
        return self.op(b"p", text + b"\n")

    def memoize(self):
        slot = len(self.memo)
        self.memo.add(slot)
        self.op(b"\x94")
        return slot

    def get(self, i, how):
        if how == "GET":
            return self.op(b"g", str(i).encode() + b"\n")
        if how == "BINGET":
            return self.op(b"h", bytes([i]))
        return self.op(b"j", struct.pack("<I", i))

    # containers
    def empty_tuple(self):
        return self.op(b")")

    def tuple_(self):
        return self.op(b"t")

    def tuple_n(self, n):
        return self.op({1: b"\x85", 2: b"\x86", 3: b"\x87"}[n])

    def empty_list(self):
        return self.op(b"]")

    def list_(self):
        return self.op(b"l")

    def append(self):
        return self.op(b"a")

    def appends(self):
        return self.op(b"e")

    def empty_dict(self):
        return self.op(b"}")

    def dict_(self):
        return self.op(b"d")

    def setitem(self):
        return self.op(b"s")

    def setitems(self):
        return self.op(b"u")

    def empty_set(self):
        return self.op(b"\x8f")

    def additems(self):
        return self.op(b"\x90")

    def frozenset_(self):
        return self.op(b"\x91")

    # imports and calls
    def global_(self, module, name):
        return self.op(b"c", module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n")

    def global_raw(self, module, name):
        return self.op(b"c", module + b"\n" + name + b"\n")

    def stack_global(self):
        return self.op(b"\x93")

    def inst(self, module, name):
        return self.op(b"i", module.encode("ascii") + b"\n" + name.encode("ascii") + b"\n")

    def obj(self):
        return self.op(b"o")

    def reduce(self):
        return self.op(b"R")

    def newobj(self):
        return self.op(b"\x81")

    def newobj_ex(self):
        return self.op(b"\x92")

    def build(self):
        return self.op(b"b")

    def ext(self, code, how=None):
        if how is None:
            how = "EXT1" if code < 0x100 else "EXT2" if code < 0x10000 else "EXT4"
        if how == "EXT1":
            return self.op(b"\x82", bytes([code]))
        if how == "EXT2":
            return self.op(b"\x83", struct.pack("<H", code))
        return self.op(b"\x84", struct.pack("<i", code))

    def persid(self, text):
        return self.op(b"P", text.encode("ascii") + b"\n")

    def binpersid(self):
        return self.op(b"Q")


def encode_long(v):
    return pickle.encode_long(v) if hasattr(pickle, "encode_long") else _encode_long(v)


def _encode_long(x):
    if x == 0:
        return b""
    nbytes = (x.bit_length() >> 3) + 1
    result = x.to_bytes(nbytes, byteorder="little", signed=True)
    if x < 0 and nbytes > 1 and result[-1] == 0xFF and (result[-2] & 0x80) != 0:
        result = result[:-1]
    return result


def py2_repr(data, rng=None, quote=b"'"):
    """A quoted Python-2 string literal for STRING; with rng, some plain
    characters are written as \\x or octal escapes (same value)."""
    out = bytearray(quote)
    for c in data:
        ch = bytes([c])
        if rng is not None and 0x20 <= c < 0x7F and rng.random() < 0.3:
            out += b"\\x%02x" % c if rng.random() < 0.5 else b"\\%03o" % c
        elif ch == quote or ch == b"\\":
            out += b"\\" + ch
        elif 0x20 <= c < 0x7F:
            out += ch
        else:
            out += b"\\x%02x" % c
    out += quote
    return bytes(out)


def raw_unicode_line(s):
    """What pickle protocol 0 writes for a str (UNICODE opcode argument)."""
    s = (s.replace("\\", "\\u005c").replace("\0", "\\u0000").replace("\n", "\\u000a")
         .replace("\r", "\\u000d").replace("\x1a", "\\u001a"))
    return s.encode("raw-unicode-escape")


def unicode_escaped_line(s):
    """UNICODE argument with every character as \\uXXXX (decodes to s)."""
    out = []
    for ch in s:
        o = ord(ch)
        out.append("\\U%08x" % o if o > 0xFFFF else "\\u%04x" % o)
    return "".join(out).encode("ascii")


# ---------------------------------------------------------------------------
# 1. Structured pickles of random data


SPECIAL_STRINGS = ["", "a", "caf\u00e9", "\u00df\u00fc", "\u4e2d\u6587\u5b57", "\U0001f600\U0001f40d",
                   "\u0301combining", "nul\x00byte", "new\nline", "cr\rlf", "tab\t", "back\\slash",
                   "quote'\"", "\x1a", "\u2028", "\ufeffbom", "os", "system", "cos\nsystem\n",
                   "x" * 300]
SPECIAL_INTS = [0, 1, -1, 255, 256, 65535, 65536, 2 ** 31 - 1, -2 ** 31, 2 ** 31, 2 ** 63 - 1,
                -2 ** 63, 2 ** 64, -2 ** 64 - 1, 10 ** 40, -(10 ** 40)]
SPECIAL_FLOATS = [0.0, -0.0, 1.5, -2.25, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308,
                  1e-300, 3.141592653589793]


def rand_str(rng):
    r = rng.random()
    if r < 0.3:
        return rng.choice(SPECIAL_STRINGS)
    n = rng.randint(0, 24)
    if r < 0.6:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_0123456789 ") for _ in range(n))
    chars = []
    for _ in range(n):
        k = rng.random()
        if k < 0.5:
            chars.append(chr(rng.randint(0x20, 0x7E)))
        elif k < 0.8:
            chars.append(chr(rng.randint(0xA0, 0xD7FF)))
        elif k < 0.9:
            chars.append(chr(rng.randint(0xE000, 0xFFFD)))
        else:
            chars.append(chr(rng.randint(0x10000, 0x10FFFF)))
    return "".join(chars)


def rand_int(rng):
    r = rng.random()
    if r < 0.3:
        return rng.choice(SPECIAL_INTS)
    if r < 0.7:
        return rng.randint(-1000, 1000)
    bits = rng.choice([16, 32, 40, 64, 65, 200, 1000, 3000])
    v = rng.getrandbits(bits)
    return -v if rng.random() < 0.5 else v


def rand_float(rng):
    if rng.random() < 0.4:
        return rng.choice(SPECIAL_FLOATS)
    return rng.uniform(-1, 1) * 10 ** rng.randint(-300, 300)


def rand_hashable(rng, depth=0):
    """Keys and set elements whose hashes (and so set order) do not depend
    on PYTHONHASHSEED or addresses: ints, finite floats, bools, tuples of
    those (not None: its hash is its address before Python 3.12), and str
    for dict keys only (dicts keep insertion order)."""
    r = rng.random()
    if r < 0.5:
        return rand_int(rng)
    if r < 0.65:
        return rng.choice([1.5, -0.0, 2.0, 1e100, 5e-324])
    if r < 0.75:
        return rng.choice([True, False, 0])
    if depth < 2:
        return tuple(rand_hashable(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return rng.randint(0, 9)


class DataGen:
    def __init__(self, rng):
        self.rng = rng
        self.shared = []
        self.budget = rng.randint(5, 200)

    def value(self, depth=0):
        rng = self.rng
        self.budget -= 1
        if self.shared and rng.random() < 0.12:
            return rng.choice(self.shared)
        leaf = depth > 5 or self.budget <= 0 or rng.random() < 0.45
        if leaf:
            k = rng.randrange(10)
            v = [lambda: rand_str(rng), lambda: rand_int(rng), lambda: rand_float(rng),
                 lambda: rng.choice([True, False, None]),
                 lambda: bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 3, 40, 300]))),
                 lambda: bytearray(rng.getrandbits(8) for _ in range(rng.randint(0, 20))),
                 lambda: rand_str(rng), lambda: rand_int(rng), lambda: rand_str(rng),
                 lambda: rng.choice([math.nan, math.inf, -math.inf])][k]()
        else:
            k = rng.randrange(7)
            n = rng.randint(0, 6)
            if k == 0:
                v = [self.value(depth + 1) for _ in range(n)]
                if rng.random() < 0.1:
                    v.append(v)  # self-reference
            elif k == 1:
                v = {}
                for _ in range(n):
                    key = rand_str(rng) if rng.random() < 0.6 else rand_hashable(rng)
                    v[key] = self.value(depth + 1)
            elif k == 2:
                v = tuple(self.value(depth + 1) for _ in range(n))
            elif k == 3:
                v = {rand_hashable(rng) for _ in range(n)}
            elif k == 4:
                v = frozenset(rand_hashable(rng) for _ in range(n))
            elif k == 5:
                v = [rand_str(rng) for _ in range(n)]
            else:
                inner = self.value(depth + 1)
                v = [inner, inner, (inner,), {"k": inner}]
        if isinstance(v, (list, dict, str, bytes, bytearray, tuple)) and rng.random() < 0.25:
            self.shared.append(v)
        return v


def gen_structured(rng):
    data = DataGen(rng).value()
    proto = rng.randint(0, 5)
    blob = pickle.dumps(data, protocol=proto)
    variant = "p%d" % proto
    if rng.random() < 0.3:
        blob = pickletools.optimize(blob)
        variant += "-opt"
    return variant, blob


# ---------------------------------------------------------------------------
# 2. Import-carrying pickles assembled by hand

STR_KINDS_ANY = ["SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"]
STR_KINDS_ASCII = ["STRING", "BINSTRING", "SHORT_BINSTRING"]
INT_KINDS = ["INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"]
MEMO_PUT = ["PUT", "BINPUT", "LONG_BINPUT"]
MEMO_GET = ["GET", "BINGET", "LONG_BINGET"]


class ImportGen:
    """Writes a random but stack-valid program full of imports and calls."""

    def __init__(self, rng, proto, asm=None):
        self.rng = rng
        self.proto = proto
        self.a = asm if asm is not None else Asm()
        self.next_slot = 0

    def slot(self):
        """A fresh memo index (sometimes sparse, which MEMOIZE must survive)."""
        while self.next_slot in self.a.memo:
            self.next_slot += 1
        i = self.next_slot
        if self.rng.random() < 0.2:
            i += self.rng.randint(1, 300)
        while i in self.a.memo:
            i += 1
        self.next_slot = i + 1
        return i

    def put(self, i):
        rng = self.rng
        r = rng.random()
        if r < 0.1:
            # PUT/GET parse with PyLong_FromString(s, NULL, 10): whitespace,
            # sign, leading zeros, underscores; it stops at a NUL.
            text = rng.choice([b" %d", b"+%d", b"0%d", b"%d ", b"\t%d", b"%d\x00junk"]) % i
            self.a.put_text(i, text)
        elif i < 256 and r < 0.5:
            self.a.put(i, "BINPUT")
        else:
            self.a.put(i, rng.choice(["PUT", "LONG_BINPUT"]))

    def get(self, i):
        rng = self.rng
        if rng.random() < 0.1:
            text = rng.choice([b" %d", b"+%d", b"0%d", b"%d\t", b"%d\x00xx"]) % i
            self.a.op(b"g", text + b"\n")
            return
        how = rng.choice(MEMO_GET if i < 256 else ["GET", "LONG_BINGET"])
        self.a.get(i, how)

    def str_kind(self, s):
        rng = self.rng
        kinds = list(STR_KINDS_ANY)
        if all(ord(c) < 128 for c in s) and "\n" not in s:
            kinds += STR_KINDS_ASCII * 2
        if len(s.encode("utf-8", "surrogatepass")) >= 256:
            kinds = [k for k in kinds if k not in ("SHORT_BINUNICODE", "SHORT_BINSTRING")]
        return rng.choice(kinds)

    def push_str(self, s):
        rng = self.rng
        kind = self.str_kind(s)
        if kind == "STRING" and rng.random() < 0.5:
            quote = b'"' if rng.random() < 0.3 else b"'"
            self.a.op(b"S", py2_repr(s.encode("ascii"), rng, quote) + b"\n")
        elif kind == "UNICODE" and rng.random() < 0.3:
            self.a.op(b"V", unicode_escaped_line(s) + b"\n")
        else:
            self.a.str_(s, kind)

    def push_int(self, v=None):
        rng = self.rng
        if v is None:
            v = rand_int(rng) if rng.random() < 0.5 else rng.randint(0, 300)
        kinds = ["INT", "LONG", "LONG1", "LONG4"]
        if -2 ** 31 <= v < 2 ** 31:
            kinds.append("BININT")
        if 0 <= v < 256:
            kinds.append("BININT1")
        if 0 <= v < 65536:
            kinds.append("BININT2")
        if len(encode_long(v)) >= 256:
            kinds.remove("LONG1")
        self.a.int_(v, rng.choice(kinds))

    def push_value(self, depth=0):
        rng = self.rng
        r = rng.random()
        if r < 0.4:
            self.push_str(rng.choice(ARG_STRINGS))
        elif r < 0.6:
            self.push_int()
        elif r < 0.65:
            self.a.none()
        elif r < 0.7:
            self.a.bool_(rng.random() < 0.5, rng.choice(["NEW", "INT"]))
        elif r < 0.75:
            self.a.float_(rand_float(rng), rng.choice(["FLOAT", "BINFLOAT"]))
        elif r < 0.8:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 10)))
            self.a.bytes_(data, rng.choice(["SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BYTEARRAY8"]))
        elif depth < 2:
            self.push_args(depth + 1)
        else:
            self.a.none()

    def push_args(self, depth=0):
        """Pushes one tuple."""
        rng = self.rng
        n = rng.choice([0, 1, 1, 2, 3, 4])
        style = rng.random()
        if n == 0 and style < 0.5:
            self.a.empty_tuple()
            return
        if 1 <= n <= 3 and style < 0.5:
            for _ in range(n):
                self.push_value(depth)
            self.a.tuple_n(n)
            return
        self.a.mark()
        for _ in range(n):
            self.push_value(depth)
        self.a.tuple_()

    def push_kwargs(self):
        rng = self.rng
        self.a.empty_dict() if rng.random() < 0.5 else self.a.mark().dict_()
        n = rng.randint(0, 2)
        if n:
            self.a.mark()
            for _ in range(n):
                self.push_str(rng.choice(["shell", "cwd", "env", "x"]))
                self.push_value(1)
            self.a.setitems()

    def push_operands(self, module, name):
        """Pushes module then name for STACK_GLOBAL, using memo, DUP and
        POP tricks. Returns a short tag."""
        rng = self.rng
        a = self.a
        trick = rng.choice(["plain", "plain", "memo", "memoize_after_pop", "dup", "pop_junk",
                            "pop_mark_junk", "overwrite", "sparse_memoize"])
        if trick == "plain":
            self.push_str(module)
            self.push_str(name)
        elif trick == "memo":
            i, j = self.slot(), self.slot()
            self.push_str(module)
            self.put(i)
            a.pop()
            self.push_str(name)
            self.put(j)
            a.pop()
            self.push_value()
            a.pop()
            self.get(i)
            self.get(j)
        elif trick == "memoize_after_pop":
            # MEMOIZE stores the value under the popped decoy.
            self.push_str(module)
            self.push_str("decoy")
            a.pop()
            k = a.memoize()
            a.pop()
            self.push_str(name)
            self.push_str("posix" if name != "posix" else "nt")
            a.pop()
            m = a.memoize()
            a.pop()
            self.get(k)
            self.get(m)
        elif trick == "dup":
            self.push_str(module)
            a.dup()
            a.pop()
            self.push_str(name)
            a.dup()
            k = a.memoize()
            a.pop()
            a.pop()
            self.get(k)
            # module is still below; name came back from the memo.
        elif trick == "pop_junk":
            self.push_str(module)
            self.push_value()
            a.pop()
            self.push_str(name)
        elif trick == "pop_mark_junk":
            self.push_str(module)
            a.mark()
            self.push_str("decoy")
            self.push_value()
            a.pop_mark()
            self.push_str(name)
        elif trick == "overwrite":
            i = self.slot()
            self.push_str("collections")
            self.put(i)
            a.pop()
            self.push_str(module)
            self.put(i)
            a.pop()
            self.get(i)
            self.push_str(name)
        else:  # sparse_memoize: MEMOIZE index is the count of slots, not max+1
            hi = self.slot() + 500
            self.push_str("builtins")
            self.put(hi)
            a.pop()
            self.push_str(module)
            k = a.memoize()
            a.pop()
            self.get(k)
            self.push_str(name)
        return trick

    def push_global(self, module, name):
        rng = self.rng
        can_global = "\n" not in module and "\n" not in name
        if can_global and rng.random() < 0.45:
            self.a.global_(module, name)
        else:
            self.push_operands(module, name)
            self.a.stack_global()

    def site(self):
        """One import, called or not; leaves exactly one value on the stack."""
        rng = self.rng
        module, name = pick_name(rng)
        a = self.a
        form = rng.choice(["bare", "reduce", "reduce", "inst", "obj", "newobj", "newobj_ex",
                           "memo_call", "build_global"])
        ascii_names = all(ord(c) < 128 for c in module + name)
        if form == "inst" and ascii_names:
            a.mark()
            for _ in range(rng.randint(0, 2)):
                self.push_value()
            a.inst(module, name)
        elif form == "obj":
            a.mark()
            self.push_global(module, name)
            for _ in range(rng.randint(0, 2)):
                self.push_value()
            a.obj()
        elif form == "newobj":
            self.push_global(module, name)
            self.push_args()
            a.newobj()
        elif form == "newobj_ex":
            self.push_global(module, name)
            self.push_args()
            self.push_kwargs()
            a.newobj_ex()
        elif form == "memo_call":
            i = self.slot()
            self.push_global(module, name)
            self.put(i)
            a.pop()
            self.push_value()
            a.pop()
            self.get(i)
            self.push_args()
            a.reduce()
        elif form == "build_global":
            # BUILD straight on the imported object (global mutation).
            self.push_global(module, name)
            a.empty_dict()
            self.push_str("attr")
            self.push_value()
            a.setitem()
            a.build()
        elif form == "bare":
            self.push_global(module, name)
        else:
            self.push_global(module, name)
            self.push_args()
            a.reduce()
        if form in ("reduce", "newobj", "obj", "inst") and rng.random() < 0.2:
            r = rng.random()
            if r < 0.5:
                a.empty_dict()
                self.push_str("k")
                self.push_value()
                a.setitem()
            elif r < 0.8:
                a.none()
                a.empty_dict()
                a.tuple_n(2)
            else:
                self.push_value()
            a.build()
        return (module, name, form)

    def program(self, nsites=None, container=None):
        """Top-level container, then sites whose results are appended,
        stored, popped or kept."""
        rng = self.rng
        a = self.a
        if nsites is None:
            nsites = rng.randint(1, 6)
        container = container or rng.choice(["list", "dict", "none"])
        if container == "list":
            a.empty_list() if rng.random() < 0.6 else a.mark().list_()
        elif container == "dict":
            a.empty_dict() if rng.random() < 0.6 else a.mark().dict_()
        else:
            a.none()
        kept = 0
        for _ in range(nsites):
            disp = rng.choice(["store", "store", "pop", "keep", "hide"])
            if disp == "hide":
                # Imported, maybe called, then discarded by POP_MARK.
                a.mark()
                self.site()
                self.push_value()
                a.pop_mark()
                continue
            if container == "dict" and disp == "store" and not kept:
                self.push_str(rand_str(rng)[:20] or "k")
                self.site()
                a.setitem()
            elif container == "list" and disp == "store" and not kept:
                self.site()
                a.append()
            elif disp == "keep":
                self.site()
                kept += 1
            else:
                self.site()
                a.pop()
        if kept and rng.random() < 0.5:
            for _ in range(kept):
                a.pop()


def frame_body(rng, body):
    """Valid framing: FRAME headers before opcode-aligned chunks of body.
    body is an Asm whose opcode starts are known."""
    starts = sorted(set(body.starts))
    data = body.getvalue()
    cuts = [0] + sorted(rng.sample(starts[1:], min(len(starts) - 1, rng.randint(0, 3)))) + [len(data)]
    out = bytearray()
    for lo, hi in zip(cuts, cuts[1:]):
        if hi > lo:
            out += b"\x95" + struct.pack("<Q", hi - lo) + data[lo:hi]
    return bytes(out)


def gen_imports(rng):
    proto = rng.randint(0, 5)
    head = Asm()
    r = rng.random()
    if proto >= 2 or r < 0.3:
        if r < 0.95 or proto < 2:
            head.proto(proto)
    g = ImportGen(rng, proto)
    g.program()
    g.a.stop()
    body = g.a.getvalue()
    variant = "p%d" % proto
    if proto >= 4 and rng.random() < 0.5:
        body = frame_body(rng, g.a)
        variant += "-framed"
    return variant, head.getvalue() + body


def gen_torchlike(rng):
    """A legacy-looking state dict using only allowlisted names and
    persistent ids: the shape a real checkpoint's data.pkl has."""
    a = Asm()
    proto = rng.choice([2, 2, 3, 4])
    a.proto(proto)
    g = ImportGen(rng, proto, a)
    a.global_("collections", "OrderedDict")
    a.empty_tuple().reduce()
    for t in range(rng.randint(1, 4)):
        a.str_("layer%d.weight" % t, "BINUNICODE")
        a.global_("torch._utils", "_rebuild_tensor_v2")
        a.mark()
        a.mark()
        a.str_("storage", "BINUNICODE")
        a.global_("torch", "FloatStorage")
        a.str_(str(t), "BINUNICODE")
        a.str_("cpu", "BINUNICODE")
        a.int_(6, "BININT1")
        a.tuple_()
        a.binpersid()
        a.int_(0, "BININT1")
        a.int_(2, "BININT1")
        a.int_(3, "BININT1")
        a.tuple_n(2)
        a.int_(3, "BININT1")
        a.int_(1, "BININT1")
        a.tuple_n(2)
        a.bool_(False)
        a.global_("collections", "OrderedDict")
        a.empty_tuple().reduce()
        a.tuple_()
        a.reduce()
        a.setitem()
    if rng.random() < 0.3:
        a.global_("builtins", "set")
        a.mark()
        a.empty_list()
        g.push_int(1)
        a.append()
        a.tuple_()
        a.reduce()
        a.pop()
    a.stop()
    return "p%d" % proto, a.getvalue()


# ---------------------------------------------------------------------------
# 3. Parser-differential and name-resolution tricks (ATTACKS.md B and C)

INT_TRICK_LINES = [
    (b"I", b"0x10\n"), (b"I", b"010\n"), (b"I", b" 1\n"), (b"I", b"+0\n"), (b"I", b"01\n"),
    (b"I", b"00\n"), (b"I", b"-0x7fffffffffffffffffff\n"), (b"I", b"0b101\n"), (b"I", b"0o17\n"),
    (b"I", b"1_000\n"), (b"I", b"5\x00junk\n"), (b"I", b"  -12\n"), (b"I", b"99999999999999999999\n"),
    (b"L", b"0x10L\n"), (b"L", b"0x10\n"), (b"L", b"-0o17L\n"), (b"L", b" 12 L\n"), (b"L", b"1_0\n"),
    (b"L", b"0b11L\n"), (b"L", b"00L\n"), (b"L", b"-0L\n"),
    (b"F", b"1e5\n"), (b"F", b"inf\n"), (b"F", b"-nan\n"), (b"F", b" 2.5\n"), (b"F", b"1e999\n"),
    (b"F", b"1.5\x00x\n"),
    # C strtol stops at a NUL; with no digits before it nothing is
    # converted, endptr points at the NUL and _pickle.c accepts 0
    (b"I", b"\x00\n"), (b"I", b"\x000\n"), (b"I", b"\x00junk\n"), (b"I", b"7\x00\n"),
    (b"I", b"\x0b5\n"), (b"I", b"\x0c5\n"), (b"I", b"5 \n"), (b"I", b"-0\n"), (b"I", b"+1\n"),
    (b"I", b"0x_1\n"), (b"I", b"\t5\n"), (b"I", b"9223372036854775808\n"),
    (b"I", b"-9223372036854775809\n"), (b"L", b"5\x00L\n"), (b"L", b"0x_1L\n"), (b"L", b"\t5\n"),
    (b"L", b"5\tL\n"), (b"L", b"+0L\n"), (b"F", b"infinity\n"), (b"F", b"+inf\n"), (b"F", b"1.\n"),
    (b"F", b".5\n"), (b"F", b"1\x00\n"), (b"F", b"-0.0\n"), (b"F", b"1E5\n"),
    # rejected by CPython (the payload after them never runs, but must be
    # reported and the file must not be safe)
    (b"I", b"0x\n"), (b"I", b"08\n"), (b"L", b"1.5L\n"), (b"F", b"1_0.5\n"), (b"I", b"\n"),
    (b"I", b"1L\n"), (b"I", b"1__0\n"), (b"I", b"_1\n"), (b"I", b" \x00\n"), (b"I", b"-\x00\n"),
    (b"L", b"LL\n"), (b"L", b"\x00\n"), (b"F", b"1e\n"), (b"F", b"0x1p3\n"), (b"F", b"\x00\n"),
]


def payload(rng, proto, asm=None, nsites=None):
    g = ImportGen(rng, proto, asm)
    g.program(nsites=nsites or rng.randint(1, 3))
    return g


def danger(rng):
    return rng.choice(DANGEROUS_NAMES[:15])


def trick_int_prefix(rng):
    proto = rng.randint(0, 5)
    a = Asm()
    if proto >= 2:
        a.proto(proto)
    for _ in range(rng.randint(1, 2)):
        code, text = rng.choice(INT_TRICK_LINES)
        a.line(code, text)
        a.pop()
    payload(rng, proto, a)
    a.stop()
    return "intprefix", a.getvalue()


def trick_second_pickle(rng):
    first = pickle.dumps(DataGen(rng).value(), protocol=rng.randint(0, 5))
    proto = rng.randint(0, 5)
    a = Asm()
    if proto >= 2 or rng.random() < 0.3:
        a.proto(proto)
    payload(rng, proto, a)
    a.stop()
    parts = [first, a.getvalue()]
    if rng.random() < 0.3:
        parts.append(pickle.dumps([1, 2], protocol=2))
    if rng.random() < 0.3:
        parts.reverse()
    return "second", b"".join(parts)


def trick_proto_middle(rng):
    a = Asm()
    first = rng.choice([0, 1, 2, 3, 4, 5])
    a.proto(first)
    a.empty_list()
    a.str_("benign", "BINUNICODE")
    a.append()
    second = rng.choice([2, 4]) if first >= 3 else rng.choice([3, 4, 5])
    a.proto(second)
    g = ImportGen(rng, second, a)
    kind = rng.random()
    if kind < 0.5:
        module, name = rng.choice([("pathlib", "os.system"), ("builtins", "object.__getattribute__"),
                                   ("torch", "os.system"), ("builtins", "eval.__call__")])
    else:
        module, name = rng.choice([("__builtin__", "eval"), ("commands", "getoutput"),
                                   ("copy_reg", "_reconstructor"), ("__builtin__", "set")])
    g.push_global(module, name)
    g.push_args()
    a.reduce()
    a.append()
    if rng.random() < 0.5:
        a.proto(first)
        g.site()
        a.append()
    a.stop()
    return "protomid", a.getvalue()


def trick_frame_straddle(rng):
    a = Asm()
    a.proto(4)
    decoy = rng.choice([b"N.", b"\x8c\x04safe.", b"}.", b"\x80\x04N."])
    pad = bytes(rng.getrandbits(8) & 0x7F | 0x20 for _ in range(rng.randint(0, 12)))
    data = pad + decoy
    variant = rng.choice(["bytes", "bytes", "unicode", "global_cut", "too_long"])
    body = Asm()
    if variant in ("bytes", "unicode"):
        if variant == "bytes":
            how = "BINBYTES" if rng.random() < 0.5 else "SHORT_BINBYTES"
            body.bytes_(data, how)
            hdr = 5 if how == "BINBYTES" else 2
        else:
            body.str_(data.decode("latin-1"), "BINUNICODE")
            hdr = 5
        body.pop()
        g = ImportGen(rng, 4, body)
        g.program(nsites=rng.randint(1, 2))
        body.stop()
        # The frame ends inside the string data, right where the decoy
        # starts: CPython reads past it; a reader that restarts at the frame
        # end sees the decoy and stops before the imports.
        cut = hdr + len(pad)
        return "frame-" + variant, a.getvalue() + b"\x95" + struct.pack("<Q", cut) + body.getvalue()
    if variant == "global_cut":
        body.empty_list()
        module, name = danger(rng)
        if "\n" in module + name:
            module, name = "os", "system"
        body.global_(module, name)
        g = ImportGen(rng, 4, body)
        g.push_args()
        body.reduce()
        body.append()
        body.stop()
        blob = body.getvalue()
        cut = 1 + rng.randint(1, len(module) + len(name) + 1)
        return "frame-globalcut", a.getvalue() + b"\x95" + struct.pack("<Q", cut) + blob
    # A FRAME claiming more bytes than the file holds: CPython reads the
    # whole frame first and fails before running anything in it.
    g = ImportGen(rng, 4, body)
    g.program(nsites=1)
    body.stop()
    blob = body.getvalue()
    claimed = len(blob) + rng.randint(1, 5000)
    return "frame-toolong", a.getvalue() + b"\x95" + struct.pack("<Q", claimed) + blob


def trick_stack_global_at_zero(rng):
    a = Asm()
    module, name = danger(rng)
    g = ImportGen(rng, 0, a)
    kinds = STR_KINDS_ANY + (STR_KINDS_ASCII if all(ord(c) < 128 for c in module + name) else [])
    a.str_(module, rng.choice(kinds))
    a.str_(name, rng.choice(kinds))
    a.stack_global()
    g.push_args()
    a.reduce()
    a.stop()
    return "sgzero", a.getvalue()


def trick_ext(rng):
    proto = rng.choice([0, 2, 3, 4])
    a = Asm()
    if proto >= 2:
        a.proto(proto)
    g = ImportGen(rng, proto, a)
    code = rng.choice([1, 42, 255, 256, 0x1234, 0xFFFF, 0x10000, 0x7FFFFFFF])
    module, name = danger(rng)
    if rng.random() < 0.5:
        g.push_global("copyreg", "add_extension")
    else:
        g.push_global("copy_reg", "add_extension")
    a.mark()
    g.push_str(module)
    g.push_str(name)
    g.push_int(code)
    a.tuple_()
    a.reduce()
    a.pop()
    how = None
    if rng.random() < 0.3:
        how = rng.choice(["EXT2", "EXT4"]) if code < 0x10000 else "EXT4"
        if how == "EXT2" and code >= 0x10000:
            how = "EXT4"
    if rng.random() < 0.2:
        code2 = code + 1 if code < 0x7FFFFFFF else code - 1  # unregistered code
        a.ext(code2, "EXT4" if code2 >= 0x10000 else how if how != "EXT1" or code2 < 256 else None)
    else:
        a.ext(code, how)
    g.push_args()
    a.reduce()
    a.stop()
    return "ext", a.getvalue()


def trick_truncated(rng):
    proto = rng.randint(0, 5)
    a = Asm()
    if proto >= 2:
        a.proto(proto)
    payload(rng, proto, a)
    blob = a.getvalue()
    r = rng.random()
    if r < 0.4:
        # garbage where STOP should be
        blob += rng.choice([b"\xff", b"\x00", b"garbage", bytes(rng.getrandbits(8) for _ in range(8))])
        return "garbage", blob
    if r < 0.7:
        # cut inside the last opcode(s), after at least one import
        first = next((s for s in a.starts if blob[s:s + 1] in (b"c", b"\x93", b"i")), 0)
        cut = rng.randint(first + 1, len(blob))
        return "truncated", blob[:cut]
    # complete pickle, then trailing junk
    return "trailing", blob + b"." + rng.choice([b"\n", b"junk", b"\xff\xfe", b"PK\x03\x04"])


def trick_misc(rng):
    a = Asm()
    proto = rng.randint(0, 5)
    if proto >= 2:
        a.proto(proto)
    g = ImportGen(rng, proto, a)
    kind = rng.choice(["persid", "binpersid_global", "global_cr", "unicode_escape", "octal_string",
                       "memo_text_index", "next_buffer", "nested_frame", "global_in_set",
                       "inst_dotted", "build_on_class", "get_unset", "memoize_count",
                       "escape_literal", "escape_literal", "pop_pops_mark", "long_name",
                       "surrogate_name", "bad_proto", "persid_nonascii", "big_memo"])
    a.empty_list()
    if kind == "persid":
        a.persid("storage os system")
        a.append()
        g.site()
        a.append()
    elif kind == "binpersid_global":
        g.push_global(*danger(rng))
        a.binpersid()
        a.append()
    elif kind == "global_cr":
        module, name = rng.choice([("os\r", "system"), ("os", "system\r"), ("builtins ", "eval"),
                                   ("os", " system")])
        a.global_(module, name)
        g.push_args()
        a.reduce()
        a.append()
    elif kind == "unicode_escape":
        module, name = danger(rng)
        a.op(b"V", unicode_escaped_line(module) + b"\n")
        a.op(b"V", unicode_escaped_line(name) + b"\n")
        a.stack_global()
        a.append()
    elif kind == "octal_string":
        module, name = danger(rng)
        a.op(b"S", b'"' + b"".join(b"\\x%02x" % c for c in module.encode()) + b'"\n')
        a.op(b"S", b"'" + b"".join(b"\\%03o" % c for c in name.encode()) + b"'\n")
        a.stack_global()
        a.append()
    elif kind == "memo_text_index":
        module, name = danger(rng)
        g.push_str(module)
        a.put_text(50, b"5_0")
        a.pop()
        g.push_str(name)
        a.put_text(7, b" +7 ")
        a.pop()
        a.get(50, "GET")
        a.op(b"g", b"007\n")
        a.stack_global()
        a.append()
    elif kind == "next_buffer":
        g.site()
        a.append()
        a.op(b"\x97")  # NEXT_BUFFER without buffers: UnpicklingError
        a.append()
        g.site()
        a.append()
    elif kind == "nested_frame":
        a.frame(3)
        a.frame(0)
        g.site()
        a.append()
    elif kind == "global_in_set":
        a.empty_set()
        a.mark()
        g.push_global(*danger(rng))
        g.push_global(*rng.choice(ALLOWED_NAMES))
        a.additems()
        a.append()
        a.mark()
        g.push_global(*danger(rng))
        a.frozenset_()
        a.append()
    elif kind == "inst_dotted":
        a.mark()
        g.push_str("true")
        a.inst(rng.choice(["os.path", "torch.os", "collections.abc"]),
               rng.choice(["join", "system", "Mapping"]))
        a.append()
    elif kind == "build_on_class":
        a.global_("collections", "OrderedDict")
        a.empty_dict()
        a.str_("__reduce__", "BINUNICODE")
        g.push_global("os", "system")
        a.setitem()
        a.build()
        a.append()
    elif kind == "get_unset":
        g.push_str("os")
        a.get(rng.choice([3, 200]), "BINGET")  # KeyError: never stored
        g.push_str("system")
        a.stack_global()
        a.append()
    elif kind == "escape_literal":
        # Escapes that are literal text in one string opcode and an escape
        # in another: CPython decides which name results.
        lines = [b"S'\\u006fs'\n", b"S'o\\x73'\n", b"S'\\157s'\n", b"S'o\\q'\n", b"S'o\\\ns'\n",
                 b"S'os\\'\n", b"S\"o's\"\n", b"S'o\"s'\n", b"S'\\x6\n",
                 b"Vo\\x73\n", b"V\\u006fs\n", b"V\\\\u006fs\n", b"V\\U0000006fs\n", b"Vo\\u00\n",
                 b"Vo\\s\n", b"V\\\\\\u006fs\n", b"V\\u0000os\n"]
        first = rng.choice(lines)
        second = rng.choice([b"Vsystem\n", b"S'sy\\x73tem'\n", b"V\\u0073ystem\n", b"S'\\u0073ystem'\n",
                             b"S'system\\n'\n", b"Vsystem\\u000a\n"])
        a.op(first[:1], first[1:])
        a.op(second[:1], second[1:])
        a.stack_global()
        a.append()
    elif kind == "pop_pops_mark":
        # POP with nothing above the mark pops the mark itself.
        a.mark()
        a.pop()
        g.site()
        a.append()
        a.mark()
        g.push_value()
        a.pop_mark()
        a.mark()
        a.pop()
        g.site()
        a.append()
    elif kind == "long_name":
        module, name = danger(rng)
        n = rng.choice([255, 256, 65535, 65536, 65537, 70000])
        g.push_str(module)
        a.str_("x" * n + name, rng.choice(["BINUNICODE", "BINUNICODE8"]))
        a.stack_global()
        a.append()
        a.global_(module, "y" * rng.choice([300, 70000]))
        a.append()
    elif kind == "surrogate_name":
        # BINUNICODE decodes with surrogatepass: a lone surrogate survives.
        module, name = danger(rng)
        g.push_str(module)
        data = name.encode() + rng.choice([b"\xed\xa0\x80", b"\xed\xb2\x80"])
        a.op(b"X", struct.pack("<I", len(data)) + data)
        a.stack_global()
        a.append()
    elif kind == "big_memo":
        # A memo index below ckptscan's max-memo (50M) that CPython serves
        # with one large array: the scan must go on past it.
        idx = rng.choice([1 << 20, (1 << 22) + 3, 1 << 24, 1 << 25, (1 << 25) + 12345])
        a.empty_list()
        a.put(idx, "LONG_BINPUT")
        a.pop()
        g.site()
        a.append()
    elif kind == "bad_proto":
        a.proto(rng.choice([6, 7, 0x80, 0xFF]))
        g.site()
        a.append()
    elif kind == "persid_nonascii":
        a.op(b"P", "id\u00e9".encode("utf-8") + b"\n")
        a.append()
        g.site()
        a.append()
    else:  # memoize_count
        g.push_str("collections")
        a.put(9, "BINPUT")
        a.pop()
        module, name = danger(rng)
        g.push_str(module)
        a.memoize()  # slot 1, not 10
        a.pop()
        g.push_str(name)
        a.memoize()  # slot 2
        a.pop()
        a.get(1, "BINGET")
        a.get(2, "BINGET")
        a.stack_global()
        a.append()
    a.stop()
    return "misc-" + kind.replace("_", ""), a.getvalue()


def _tar_header(name_bytes, size):
    """A v7 tar header block (valid checksum) whose name field holds
    name_bytes (the start of a pickle)."""
    h = bytearray(512)
    h[0:len(name_bytes)] = name_bytes
    h[100:108] = b"0000644\x00"
    h[108:116] = b"0000000\x00"
    h[116:124] = b"0000000\x00"
    h[124:136] = b"%011o\x00" % size
    h[136:148] = b"00000000000\x00"
    h[156:157] = b"0"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def trick_polyglot(rng):
    """Bytes that another loader reads as another format (ATTACKS.md A):
    pickle.load still runs the pickle."""
    proto = rng.choice([0, 2, 4])
    body = Asm()
    if proto >= 2:
        body.proto(proto)
    payload(rng, proto, body)
    body.stop()
    pkl = body.getvalue()
    kind = rng.choice(["pk_persid", "zip_appended", "tar_header"])
    if kind == "pk_persid":
        # PERSID whose ASCII line starts with the zip magic: torch.load sees
        # PK\x03\x04 and tries a zip; pickle.load runs what follows.
        return "poly-pk", b"PK\x03\x04" + b"junk" * rng.randint(0, 3) + b"\n0" + pkl
    if kind == "zip_appended":
        import io
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(zipfile.ZipInfo("archive/data.pkl", (2020, 1, 1, 0, 0, 0)),
                       pickle.dumps({"a": 1}, protocol=2))
        return "poly-zip", pkl + buf.getvalue()
    # A tar header whose name field starts a pickle: PROTO 2, then
    # SHORT_BINBYTES over header bytes 4..256 and BINBYTES over 262..511;
    # the payload is the member data. torch's legacy loader takes the tar.
    rest = pkl[2:] if proto >= 2 else pkl
    block = bytearray(_tar_header(b"\x80\x02C\xfd", len(rest)))
    block[257:262] = b"B" + struct.pack("<I", 512 - 262)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    pad = b"\x00" * (-len(rest) % 512) + b"\x00" * 1024
    return "poly-tar", bytes(block) + rest + pad


TRICKS = [trick_polyglot, trick_int_prefix, trick_second_pickle, trick_proto_middle, trick_frame_straddle,
          trick_stack_global_at_zero, trick_ext, trick_truncated, trick_misc]


def gen_trick(rng):
    return rng.choice(TRICKS)(rng)


# Data-only constructs the C unpickler rejects: no import is involved, so
# only the stream error can make the file not safe.
BENIGN_ERRORS = [
    b"(Nd", b"}(Nu", b"(N\x8c\x01kN\x8c\x01ju", b"]\x8c\x01sb", b"]K\x01b", b"C\x02osC\x06system\x93",
    b"N)\x81", b"})}\x92", b"\x8b\xff\xff\xff\xff", b"S'\\x4'\n", b"\x80\x06", b"Pid\xc3\xa9\n",
    b"t", b"e", b"1", b"0", b"2", b"\x94", b"h\x07", b"g7\n", b"j\x00\x00\x00\x01", b"\x82\x01",
    b"\x97", b"\xff", b"\x00", b"Vo\\u00\n", b"X\x02\x00\x00\x00\xc3(", b"\x8c\x01\xff",
    b"I0x\n", b"F1e999\n", b"Fnope\n", b"S'unquoted\n", b"Snoquote\n", b"Np-1\n", b"Np\x00\n",
    b"\x95\xff\xff\xff\xff\xff\xff\xff\xff", b"\x95\x00\x10\x00\x00\x00\x00\x00\x00", b"(\x85",
    b"N\x8c\x03abc\x93", b"]}\x93", b"J\x01\x00", b"\x8a\x05\x01", b"B\x10\x00\x00\x00abc",
]


def gen_benign_error(rng):
    proto = rng.choice([0, 2, 3, 4, 5])
    a = Asm()
    if proto >= 2:
        a.proto(proto)
    prefix = pickle.dumps(DataGen(rng).value(), protocol=max(proto, 2))[2:-1] if rng.random() < 0.5 else b"N"
    a.raw(prefix)
    err = rng.choice(BENIGN_ERRORS)
    a.raw(err)
    variant = "%d" % BENIGN_ERRORS.index(err)
    if rng.random() < 0.7:
        a.raw(b"N.")
    return variant, a.getvalue()


# ---------------------------------------------------------------------------
# 4. Mutations

OPCODE_BYTES = sorted({op.code.encode("latin-1")[0] for op in pickletools.opcodes})


def mutate(rng, blob):
    data = bytearray(blob)
    ops = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["flip", "opcode", "truncate", "insert", "delete", "dup", "setlen"])
        if not data:
            data += b"."
        pos = rng.randrange(len(data))
        if kind == "flip":
            data[pos] ^= 1 << rng.randrange(8)
        elif kind == "opcode":
            data[pos] = rng.choice(OPCODE_BYTES)
        elif kind == "truncate":
            del data[max(1, pos):]
        elif kind == "insert":
            ins = rng.choice([bytes([rng.choice(OPCODE_BYTES)]), b"0", b"(", b"2", b"\n",
                              bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4)))])
            data[pos:pos] = ins
        elif kind == "delete":
            del data[pos:pos + rng.randint(1, 4)]
        elif kind == "dup":
            n = rng.randint(1, 16)
            data[pos:pos] = data[pos:pos + n]
        else:
            # a plausible length byte set to an extreme
            data[pos] = rng.choice([0x00, 0x7F, 0x80, 0xFF])
        ops.append(kind)
    return "-".join(ops), bytes(data)


def gen_mutated(rng):
    base = rng.choice([gen_structured, gen_imports, gen_imports, gen_trick, gen_trick])
    variant, blob = base(rng)
    mvariant, blob = mutate(rng, blob)
    return base.__name__[4:] + "-" + mvariant, blob


# ---------------------------------------------------------------------------

KINDS = [("struct", gen_structured, 22), ("import", gen_imports, 30), ("torch", gen_torchlike, 5),
         ("trick", gen_trick, 20), ("berr", gen_benign_error, 5), ("mut", gen_mutated, 18)]


def make_one(seed, i):
    """(file name, bytes) of file i for this seed."""
    rng = random.Random("ckptscan-diff/%s/%d" % (seed, i))
    total = sum(w for _, _, w in KINDS)
    r = rng.randrange(total)
    for kind, fn, w in KINDS:
        if r < w:
            break
        r -= w
    variant, blob = fn(rng)
    return "%05d-%s-%s.pkl" % (i, kind, variant), blob


def generate(outdir, count, seed):
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for i in range(count):
        name, blob = make_one(seed, i)
        path = os.path.join(outdir, name)
        with open(path, "wb") as f:
            f.write(blob)
        paths.append(path)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", default="1")
    args = ap.parse_args(argv)
    paths = generate(args.outdir, args.count, args.seed)
    print("wrote %d files to %s" % (len(paths), args.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
