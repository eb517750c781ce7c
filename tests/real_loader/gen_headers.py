#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Header surfaces for the real-loader campaign (issue 12 root cause 10).

Each maker is (rng) -> (bytes, extension, variant); gen_surfaces.FAMILIES
registers them. Families:

  npytok   .npy header text token by token as CPython's tokenizer and
           ast.literal_eval read it (numpy.lib.format, with _filter_header's
           retry for versions 1.0/2.0): every whitespace byte (\\f \\v \\r,
           NUL), line endings, comments, backslash continuations, indentation,
           string prefixes in every case, escapes spelling each character,
           implicit concatenation at any cut, parentheses, trailing commas,
           non-ASCII text (latin-1 for 1.0/2.0, UTF-8 for 3.0), header
           lengths longer or shorter than the text, padding
  dtype    random dtype description trees (descr_to_dtype, then
           numpy.dtype): nested structured lists, (title, name) names,
           subarrays, (base, shape) and (base, new_dtype) tuples, void
           padding fields, fields spelled as lists, 2-character strings and
           dicts, comma strings, byte orders, 'c', 'S0', 'U', datetimes,
           'O' hidden at any depth
  tarhdr   torch's legacy tar written header by header (tarfile.frombuf
           and TarFile.next): checksums signed/unsigned/odd spellings,
           base-256 and odd octal sizes, ustar prefix fields, type flags
           (hard and symbolic links between members, unknown types read as
           files, directories, 'X' Solaris pax), pax 'x'/'g' records
           (path, size, linkpath; global records apply to every member
           after them), GNU 'L'/'K' names, zero blocks, bad headers
           ending the member list
  compmagic joblib's compressor detection (numpy_pickle_utils._detect_
           compressor) on hand-written stream headers: zlib CMF/FLG (window
           sizes, preset dictionary flag), gzip flags (FEXTRA, FNAME,
           FCOMMENT, FHCRC, reserved bits, OS), bz2 block sizes, xz stream
           flags and check types, .lzma properties and sizes, lz4 frame
           flags (checksums, block sizes, content size, dictionary id),
           skippable frames
  deflate  torch zips (read by miniz's tinfl) and .npz (zipfile, zlib)
           whose data.pkl is a hand-written deflate stream: stored blocks
           (LEN/NLEN), fixed blocks with symbols 286/287 and distance codes
           30/31, dynamic blocks with 288/32 code lengths, incomplete or
           single-symbol Huffman codes (tinfl accepts any code with at most
           one symbol, zlib only one of length 1), back references at any
           distance, empty blocks between data blocks
"""

import io
import lzma
import struct
import tarfile
import zlib



class _Surfaces:
    """gen_surfaces, imported on first use (it imports this module)."""

    def __getattr__(self, key):
        import gen_surfaces
        return getattr(gen_surfaces, key)


gs = _Surfaces()

# ---------------------------------------------------------------------------
# npy header text, token by token

WS_BYTES = [" ", "\t", "\x0c", "\x0b", "\r", "\n", "\r\n", "\\\n", "\\\r\n", "\\\r", "\x00", "\xa0", "\u3000",
            "\x1c", "\x85", "#c\n", "# \xe9\n", "#c\r", "# x\r\n", "#\x0c\n", "\n  ", "\n\t"]


MILD = [False]  # fam_npytok's mild files: one exotic feature, the rest plain


def ws(rng, p=0.5):
    if rng.random() > p:
        return ""
    if MILD[0]:
        return rng.choice([" ", "", "\n", "\t"])
    return "".join(rng.choice(WS_BYTES[:3] + WS_BYTES[4:9] if rng.random() < 0.85 else WS_BYTES)
                   for _ in range(rng.randrange(1, 3)))


ESCAPES_O = ["O", "\\x4f", "\\x4F", "\\117", "\\u004f", "\\U0000004f", "\\N{LATIN CAPITAL LETTER O}", "\\O",
             "\\\nO"]


def str_lit(rng, s, allow_bytes=False):
    """A Python string literal (or a concatenation of them) for str s, in
    any spelling: prefixes, quotes, escapes of single characters."""
    pieces = []
    cut = sorted(rng.sample(range(len(s) + 1), min(len(s) + 1, rng.choice([1, 1, 2, 3])))) if s else [0]
    bounds = [0] + [c for c in cut if 0 < c < len(s)] + [len(s)]
    for a, b in zip(bounds, bounds[1:]):
        part = s[a:b]
        quote = rng.choice(["'", '"', "'''", '"""'])
        prefix = rng.choice(["", "", "u", "U", "r", "R", "b", "B", "br", "rB", "f", "ur"] if allow_bytes
                            else [""] * 8 + ["u", "U", "r", "R", "Rb"])
        if MILD[0] and rng.random() < 0.8:
            prefix = ""
        raw = "r" in prefix.lower()
        body = ""
        for ch in part:
            if ch == "O" and not raw and rng.random() < 0.5:
                body += rng.choice(ESCAPES_O)
            elif not raw and rng.random() < 0.1:
                body += "\\x%02x" % ord(ch) if ord(ch) < 256 else ch
            elif not raw and rng.random() < 0.05 and 0x20 <= ord(ch) < 0x7F:
                import unicodedata
                name = unicodedata.name(ch)
                body += "\\N{%s}" % rng.choice([name, name.lower(), name.title()])
            elif ch == quote[0]:
                body += "\\" + ch
            else:
                body += ch
        if rng.random() < 0.02:
            body += rng.choice(["\\", "\\'", "\n", "\r", "\\\r\n", "\xe9", "\u2028"])
        pieces.append(prefix + quote + body + quote)
    sep = lambda: rng.choice(["", " ", "\t", "\\\n", "\n", "#x\n"])
    text = sep().join(pieces)
    if rng.random() < 0.15:
        text = "(" + ws(rng) + text + ws(rng) + ")"
    return text


def shape_lit(rng):
    dims = [rng.choice([0, 1, 1, 2, 3]) for _ in range(rng.choice([0, 1, 1, 2]))]
    spell = lambda d: rng.choice([str(d), str(d), "0x%x" % d, "0o%o" % d, "%dL" % d, "%d_0" % d if d else "0",
                                  "True" if d == 1 else str(d), "+%d" % d, "(%d)" % d, "-%d" % d if d == 0 else str(d),
                                  "%d.0" % d, "0%d" % d if d else "00"])
    items = [ws(rng, 0.2) + spell(d) + ws(rng, 0.2) for d in dims]
    if not items:
        return rng.choice(["()", "( )", "(\n)", "[]", "tuple()"])
    body = ",".join(items)
    if len(items) == 1 or rng.random() < 0.3:
        body += ","
    return rng.choice(["(%s)", "(%s)", "(%s)", "[%s]", "((%s))"]) % body


OBJ_DESCR_STRINGS = ["|O", "O", "O8", "<O", ">O", "=O", "object", "Object", "OBJECT", "object_", "O4",
                     "i4,O", "(2,)O", "(1)O", "O,O", "(2,3)O8", " O", "O ", "|O8", "f8,(2,)O",
                     "[('a','O')]", "Ｏ", "o", "0"]


def fam_npytok(rng):
    MILD[0] = rng.random() < 0.6
    try:
        return npytok(rng)
    finally:
        MILD[0] = False


def npytok(rng):
    obj = rng.random() < 0.85
    descr_s = rng.choice(OBJ_DESCR_STRINGS if obj else ["<f8", "|u1", "c", "|S0", "<U1", "V8", "<M8[s]"])
    descr = str_lit(rng, descr_s)
    if rng.random() < 0.2:
        descr = gen_dtype_text(rng, 0)
    keys = [("descr", descr), ("fortran_order", rng.choice(["False"] * 6 + ["True", "0", "None", "(False)"])),
            ("shape", shape_lit(rng))]
    if rng.random() < 0.5:
        rng.shuffle(keys)
    parts = []
    for k, v in keys:
        parts.append(ws(rng) + str_lit(rng, k) + ws(rng) + ":" + ws(rng) + v + ws(rng))
    if rng.random() < 0.1:
        parts.append(ws(rng) + str_lit(rng, rng.choice(["descr", "shape", "extra"])) + ":" + rng.choice(["'|O'", "'<f8'", "(1,)"]))
    if rng.random() < 0.1:
        # a comment that ends at '\r' for compile() and hides the rest of
        # its line (up to '\n') from a reader that ends comments at '\n' only
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(["#", " # x"]) + rng.choice(["\r", "\r "]) +
                     str_lit(rng, "descr") + ": " + rng.choice(["'|O'", "'<f8'"]) + "\n")
    text = rng.choice(["", "", " ", "\t", "\n", "\n ", "\x0c", "\ufeff", "#c\n", "\\\n"]) + "{" + ",".join(parts) + \
        rng.choice(["", ",", ", ", ",,"]) + ws(rng) + "}" + rng.choice(["", "", "", "", " ", "\n", "#c", ";", " \\\n", "\x00", "\n\n", "\x0c", "#\r"])
    if rng.random() < 0.05:
        text = rng.choice(["dict(descr='|O', fortran_order=False, shape=(1,))",
                           "{**{'descr': '|O'}, 'fortran_order': False, 'shape': (1,)}",
                           "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}['descr']"])
    version = rng.choice([(1, 0), (2, 0), (3, 0)] * 3 + ([] if MILD[0] else [(2, 1), (4, 0), (0, 0)]))
    enc = "utf8" if version == (3, 0) or rng.random() < 0.1 else "latin1"
    hdr = text.encode(enc, "replace") if enc == "utf8" else text.encode("latin1", "replace")
    pre = 10 if version == (1, 0) else 12
    pad = rng.choice([(-(pre + len(hdr) + 1)) % 64, 0, 1, 63])
    hdr = hdr + rng.choice([b" "] * 16 + [b"\x00", b"\t", b"\x0c"]) * pad + rng.choice([b"\n", b"\n", b"", b"\r", b" "])
    data = gs.payload(rng, rng.choice([2, 3, 4, 5]))
    if rng.random() < 0.3:
        data = data[:-1]  # no STOP: pickle.load runs the payload, then fails
    hl = len(hdr)
    skew = 0 if MILD[0] else rng.choice([0] * 12 + [-1, 1, -2, 4])
    if skew > 0:
        hdr += b" " * skew
    ln = struct.pack("<H", max(0, hl + skew) & 0xFFFF) if version[0] == 1 else struct.pack("<I", max(0, hl + skew))
    out = b"\x93NUMPY" + bytes(version) + ln + hdr + data
    return out, ".npy", "v%d%d-%s%s" % (version[0], version[1], "obj" if obj else "plain", "-skew" if skew else "")


# ---------------------------------------------------------------------------
# dtype description trees

LEAVES_PLAIN = ["<f8", "|u1", "<i4", ">i8", "=i2", "|b1", "?", "c", "|S0", "S3", "<U1", "U", "|V4", "V0",
                "<M8[s]", "<m8[ns]", "M8", "<c16", "f2", "|i1", "B", "h", "e", "a3", "<f4", "p", "int32",
                "float64", "bool", "str", "bytes", "void", "V8", "i4,f8", "(2,)i4", "(2)u1"]
LEAVES_OBJ = ["|O", "O", "O8", "object", "i4,O", "(2,)O", "<O", ">O"]


def gen_dtype_text(rng, depth, obj_budget=None):
    """The text of a random descr literal. Objects appear at random depth."""
    r = rng.random()
    if depth > 3 or r < 0.35:
        leaf = rng.choice(LEAVES_OBJ if rng.random() < 0.3 else LEAVES_PLAIN)
        return "'%s'" % leaf
    if r < 0.5:  # (base, shape) / (base, int) / (base, new_dtype)
        base = gen_dtype_text(rng, depth + 1)
        second = rng.choice(["(2,)", "2", "(1, 2)", "()", "(0,)", "1",
                             gen_dtype_text(rng, depth + 1), "{'names': ['a'], 'formats': ['|O']}",
                             "[('a', '|O')]", "'|O'"])
        return "(%s, %s)" % (base, second)
    if r < 0.55:  # dict forms (numpy's dtype dict; descr_to_dtype iterates its keys)
        return rng.choice(["{'names': ['a'], 'formats': ['|O']}", "{'a': 1, 'O': 2}", "{'aO': 0}",
                           "{'names': ['a', 'b'], 'formats': ['<f8', '|O'], 'offsets': [0, 8]}"])
    fields = []
    for k in range(rng.randrange(1, 4)):
        name = rng.choice(["'f%d'" % k, "'f%d'" % k, "''", "('title%d', 'f%d')" % (k, k), "u'f%d'" % k,
                           "('t', 'f%d')" % k, "'O'"])
        sub = gen_dtype_text(rng, depth + 1)
        form = rng.random()
        if form < 0.65:
            f = "(%s, %s)" % (name, sub)
        elif form < 0.8:
            f = "(%s, %s, %s)" % (name, sub, rng.choice(["(2,)", "2", "(1, 1)", "()", "(0,)"]))
        elif form < 0.88:
            f = "[%s, %s]" % (name, sub)
        elif form < 0.94:
            f = rng.choice(["'aO'", "'bO'", "'a'", "'xf'"])  # a 2-character string: (name, descr)
        else:
            f = "{%s: 0, %s: 1}" % (name, sub)
        fields.append(f)
    if rng.random() < 0.2:
        fields.insert(rng.randrange(len(fields) + 1), "('', '|V%d')" % rng.choice([1, 4, 8]))
    wrap = rng.choice(["[%s]", "[%s]", "[%s]", "(%s,)", "[%s,]"])
    return wrap % ", ".join(fields)


def fam_dtype(rng):
    descr = gen_dtype_text(rng, 0)
    text = "{'descr': %s, 'fortran_order': False, 'shape': %s, }" % (descr, rng.choice(["(1,)", "()", "(2,)", "(0,)"]))
    version = rng.choice([(1, 0), (2, 0), (3, 0)])
    hdr = text.encode("latin1")
    pre = 10 if version == (1, 0) else 12
    hdr += b" " * ((-(pre + len(hdr) + 1)) % 64) + b"\n"
    ln = struct.pack("<H", len(hdr)) if version == (1, 0) else struct.pack("<I", len(hdr))
    data = gs.payload(rng, rng.choice([2, 3, 4, 5]))
    if rng.random() < 0.2:
        data = b"\x00" * rng.choice([1, 8, 16]) + data
    elif rng.random() < 0.2:
        data = data[:-1]  # no STOP
    out = b"\x93NUMPY" + bytes(version) + ln + hdr + data
    if rng.random() < 0.2:  # in an .npz
        buf = io.BytesIO()
        import zipfile
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(zipfile.ZipInfo("arr_0.npy", (1980, 1, 1, 0, 0, 0)), out)
        return buf.getvalue(), ".npz", "npz"
    return out, ".npy", "npy"


# ---------------------------------------------------------------------------
# tar headers by hand

def octal(n, width, rng=None, style="std"):
    """A tarfile number field of `width` bytes."""
    if style == "b256":
        return b"\x80" + n.to_bytes(width - 1, "big")
    if style == "space":
        return (b"%o" % n).rjust(width - 1, b" ") + b"\x00"
    if style == "nonul":
        return (b"%o" % n).rjust(width, b"0")
    if style == "trail":
        return (b"%o" % n) + b" " * (width - 1 - len(b"%o" % n)) + b"\x00"
    if style == "plus":
        return (b"+%o" % n).ljust(width - 1, b"\x00") + b"\x00"
    if style == "under":
        s = b"%o" % n
        s = s[:1] + b"_" + s[1:] if len(s) > 1 else s
        return s.ljust(width - 1, b" ") + b"\x00"
    return (b"%0*o" % (width - 1, n)) + b"\x00"


def tar_header(name, size, typ=b"0", linkname=b"", prefix=b"", magic=b"ustar\x0000", size_style="std",
               chk_style="std", mode=0o644, mtime=0):
    h = bytearray(512)
    h[0:100] = name[:100].ljust(100, b"\x00")
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = octal(size, 12, style=size_style)
    h[136:148] = octal(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[157:257] = linkname[:100].ljust(100, b"\x00")
    h[257:265] = magic[:8].ljust(8, b"\x00")
    h[265:297] = b"user".ljust(32, b"\x00")
    h[297:329] = b"group".ljust(32, b"\x00")
    h[345:500] = prefix[:155].ljust(155, b"\x00")
    uns = sum(h)
    sig = sum(struct.unpack("148b8x356b", bytes(h))) + 256
    if chk_style == "signed":
        h[148:156] = b"%06o\x00 " % (sig & 0o777777) if sig >= 0 else b"-%05o\x00 " % (-sig)
    elif chk_style == "seven":
        h[148:156] = b"%07o\x00" % uns
    elif chk_style == "space":
        h[148:156] = (b"%o" % uns).rjust(7, b" ") + b"\x00"
    elif chk_style == "bad":
        h[148:156] = b"%06o\x00 " % ((uns + 1) & 0o777777)
    elif chk_style == "b256":
        h[148:156] = b"\x80" + uns.to_bytes(7, "big")
    else:
        h[148:156] = b"%06o\x00 " % uns
    return bytes(h)


def tar_data(data):
    return data + b"\x00" * (-len(data) % 512)


def pax_records(recs):
    out = b""
    for k, v in recs:
        body = b" " + k + b"=" + v + b"\n"
        n = len(body) + 1
        while len(b"%d" % n) + len(body) != n:
            n += 1
        out += b"%d" % n + body
    return out


def tar_entry(rng, name, data, typ=b"0", linkname=b"", **kw):
    return tar_header(name, len(data) if typ in (b"0", b"\x00", b"7", b"Z", b"C") else 0, typ, linkname, **kw) + \
        (tar_data(data) if typ in (b"0", b"\x00", b"7", b"Z", b"C") else b"")


def fam_tarhdr(rng):
    import pickle
    pay_in = rng.choice(["pickle", "pickle", "pickle", "storages", "tensors"])
    members = dict(gs.legacy_tar_members(rng, pay_in if pay_in != "storages" else "storages"))
    payload_member = pay_in
    trick = rng.choice(["hardlink", "symlink", "unknown_type", "contig", "aregtype", "prefix", "b256", "chk",
                        "pax_global_path", "pax_size", "pax_path", "gnu_longname", "gnu_longlink", "zero_block",
                        "bad_after", "dir_same_name", "solaris_x", "pax_linkpath", "name_nul", "dotslash",
                        "size_style", "dup_type", "first_name_pickle", "first_name_pickle_badsum"])
    magic = rng.choice([b"ustar\x0000", b"ustar  \x00", b"", b"ustar\x00"])
    out = b""
    size_style = rng.choice(["std", "std", "b256", "space", "nonul", "trail", "plus", "under"]) \
        if trick == "size_style" else ("b256" if trick == "b256" else "std")
    chk_style = rng.choice(["signed", "seven", "space", "bad", "b256"]) if trick == "chk" else "std"
    order = ["sys_info", "storages", "tensors", "pickle"]
    decoy = gs.benign(rng, 2)
    if trick.startswith("first_name_pickle"):
        # the first header's name field is a pickle: with a bad checksum
        # tarfile raises ReadError and torch.load reads the file as legacy
        # stacked pickles from offset 0, where the payload is
        pay = gs.payload(rng, 2)[:100]
        out += tar_header(pay.split(b"\x00")[0], 0, magic=magic,
                          chk_style="bad" if trick.endswith("badsum") else "std")
        payload_member = None
    for name in order:
        data = members[name]
        n = name.encode()
        if name != payload_member:
            out += tar_entry(rng, n, data, magic=magic)
            continue
        if trick == "hardlink":
            # 'pickle' is a hard link to another member holding the payload
            out += tar_entry(rng, b"hidden", data, magic=magic)
            out += tar_entry(rng, n, b"", typ=b"1", linkname=rng.choice([b"hidden", b"./hidden", b"hidden/"]),
                             magic=magic)
        elif trick == "symlink":
            out += tar_entry(rng, b"hidden", data, magic=magic)
            out += tar_entry(rng, n, b"", typ=b"2", linkname=rng.choice([b"hidden", b"./hidden"]), magic=magic)
        elif trick in ("unknown_type", "contig", "aregtype", "dup_type"):
            typ = {"unknown_type": rng.choice([b"Z", b"C", b"9", b"z"]), "contig": b"7", "aregtype": b"\x00",
                   "dup_type": b"0"}[trick]
            if trick == "dup_type":
                out += tar_entry(rng, n, data, magic=magic)
                out += tar_entry(rng, n, decoy, typ=rng.choice([b"5", b"3", b"4", b"6"]), magic=magic)
            else:
                out += tar_entry(rng, n, data, typ=typ, magic=magic)
        elif trick == "prefix":
            # ustar: name = prefix + '/' + name; only with the ustar magic?
            out += tar_header(b"ickle", len(data), prefix=b"p", magic=magic) + tar_data(data) \
                if rng.random() < 0.5 else \
                tar_header(n, len(data), prefix=rng.choice([b".", b"x", b"./"]), magic=magic) + tar_data(data)
            out += tar_entry(rng, b"dummy", decoy, magic=magic)
        elif trick == "pax_global_path":
            # a global record renames every member after it: the last one wins
            g = pax_records([(b"path", n)])
            out += tar_header(b"pax_global_header", len(g), b"g", magic=magic) + tar_data(g)
            out += tar_entry(rng, b"other", data, magic=magic)
        elif trick == "pax_size":
            # a pax size record overrides the header's size
            real = data + (b"" if rng.random() < 0.5 else b"\x00" * 7)
            x = pax_records([(b"size", b"%d" % len(real))])
            out += tar_header(b"PaxHeaders/x", len(x), b"x", magic=magic) + tar_data(x)
            out += tar_header(n, rng.choice([0, 1, len(decoy)]), magic=magic) + tar_data(real)
        elif trick == "pax_path":
            x = pax_records([(b"path", n)] + ([(b"comment", b"x")] if rng.random() < 0.5 else []))
            out += tar_header(b"PaxHeaders/x", len(x), rng.choice([b"x", b"X"]), magic=magic) + tar_data(x)
            out += tar_entry(rng, b"decoy", data, magic=magic)
        elif trick == "solaris_x":
            x = pax_records([(b"path", n)])
            out += tar_header(b"x", len(x), b"X", magic=magic) + tar_data(x)
            out += tar_entry(rng, b"decoy", data, magic=magic)
        elif trick == "pax_linkpath":
            out += tar_entry(rng, b"hidden", data, magic=magic)
            x = pax_records([(b"linkpath", b"hidden")])
            out += tar_header(b"PaxHeaders/x", len(x), b"x", magic=magic) + tar_data(x)
            out += tar_entry(rng, n, b"", typ=b"1", linkname=b"nothing", magic=magic)
        elif trick == "gnu_longname":
            ln = n + rng.choice([b"", b"\x00", b"\x00junk"])
            out += tar_header(b"././@LongLink", len(ln), b"L", magic=b"ustar  \x00") + tar_data(ln)
            out += tar_entry(rng, b"decoy", data, magic=b"ustar  \x00")
        elif trick == "gnu_longlink":
            out += tar_entry(rng, b"hidden", data, magic=magic)
            ll = b"hidden\x00"
            out += tar_header(b"././@LongLink", len(ll), b"K", magic=b"ustar  \x00") + tar_data(ll)
            out += tar_entry(rng, n, b"", typ=b"1", linkname=b"nothing", magic=b"ustar  \x00")
        elif trick == "zero_block":
            out += tar_entry(rng, n, decoy, magic=magic) + b"\x00" * 512 + tar_entry(rng, n, data, magic=magic)
        elif trick == "bad_after":
            out += tar_entry(rng, n, decoy, magic=magic)
            out += tar_header(n, len(data), chk_style="bad", magic=magic) + tar_data(data)
        elif trick == "dir_same_name":
            out += tar_entry(rng, n, data, magic=magic)
            out += tar_entry(rng, n + b"/", b"", typ=b"5", magic=magic)
        elif trick == "name_nul":
            out += tar_entry(rng, n + b"\x00decoy", data, magic=magic)
        elif trick == "dotslash":
            out += tar_entry(rng, b"./" + n, data, magic=magic)
            if rng.random() < 0.5:
                out += tar_entry(rng, n, decoy, magic=magic)
        else:
            out += tar_header(n, len(data), magic=magic, size_style=size_style, chk_style=chk_style) + tar_data(data)
    out += b"\x00" * rng.choice([1024, 1024, 0, 512, 10240])
    return out, ".tar", "%s-%s" % (pay_in, trick)


# ---------------------------------------------------------------------------
# compression stream headers by hand

def gzip_stream(raw, rng):
    flags = 0
    extra = b""
    if rng.random() < 0.4:
        flags |= 4
        x = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
        extra += struct.pack("<H", len(x)) + x
    if rng.random() < 0.4:
        flags |= 8
        extra += b"name.pkl\x00"
    if rng.random() < 0.4:
        flags |= 16
        extra += b"a comment \xff\x00"
    hcrc = rng.random() < 0.3
    if hcrc:
        flags |= 2
    if rng.random() < 0.1:
        flags |= rng.choice([0x20, 0x40, 0x80])  # reserved bits
    head = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 0) + bytes([rng.choice([0, 2, 4])]) + \
        bytes([rng.choice([3, 255, 0])]) + extra
    if hcrc:
        head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    body = gs.deflate(raw, rng.choice([0, 6, 9]))
    return head + body + struct.pack("<II", zlib.crc32(raw), len(raw) & 0xFFFFFFFF)


def zlib_stream(raw, rng):
    cinfo = rng.choice([7, 7, 0, 1, 5, 8])
    flevel = rng.choice([0, 1, 2, 3])
    cmf = (cinfo << 4) | 8
    flg = flevel << 6
    flg += (31 - (cmf * 256 + flg) % 31) % 31
    return bytes([cmf, flg]) + gs.deflate(raw, 6) + struct.pack(">I", zlib.adler32(raw))


def lz4_stream(raw, rng):
    try:
        import lz4.frame
    except ImportError:
        return None
    return lz4.frame.compress(raw, block_size=rng.choice([0, 4, 5, 6, 7]), block_linked=rng.random() < 0.5,
                              content_checksum=rng.random() < 0.5, block_checksum=rng.random() < 0.5,
                              store_size=rng.random() < 0.5, compression_level=rng.choice([0, 3, 16]))


def lzma_alone(raw, rng):
    props = rng.choice([{"lc": 3, "lp": 0, "pb": 2}, {"lc": 0, "lp": 0, "pb": 0}, {"lc": 4, "lp": 0, "pb": 2}])
    out = lzma.compress(raw, format=lzma.FORMAT_ALONE, filters=[dict(id=lzma.FILTER_LZMA1, **props)])
    if rng.random() < 0.5:
        # the uncompressed size field: unknown (all ones) or the real size
        out = out[:5] + struct.pack("<Q", len(raw)) + out[13:]
    return out


def fam_compmagic(rng):
    method = rng.choice(["gzip", "zlib", "lz4", "lzma", "xz", "bz2", "zf"])
    pay = gs.payload(rng, rng.choice([2, 3, 4, 5]))
    if method == "gzip":
        out = gzip_stream(pay, rng)
    elif method == "zlib":
        out = zlib_stream(pay, rng)
    elif method == "lz4":
        out = lz4_stream(pay, rng)
        if out is None:
            return pay, ".joblib", "raw"
        if rng.random() < 0.3:
            out = gs.lz4_skippable(rng) + out
    elif method == "lzma":
        out = lzma_alone(pay, rng)
    elif method == "xz":
        out = lzma.compress(pay, format=lzma.FORMAT_XZ, check=rng.choice([lzma.CHECK_NONE, lzma.CHECK_CRC32,
                                                                             lzma.CHECK_CRC64, lzma.CHECK_SHA256]),
                            filters=rng.choice([None, [{"id": lzma.FILTER_DELTA, "dist": 1}, {"id": lzma.FILTER_LZMA2}],
                                                [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2}]]))
    elif method == "bz2":
        import bz2
        out = bz2.compress(pay, rng.choice([1, 5, 9]))
    else:
        z = zlib_stream(pay, rng)
        n = rng.choice(["0x%x" % len(pay), "0x%X" % len(pay), "%d" % len(pay), "0x%x " % len(pay), " 0x%x" % len(pay)])
        out = b"ZF" + n.encode().ljust(19)[:19] + z
    if rng.random() < 0.15:
        out += rng.choice([b"\x00" * 8, b"junk", pay])
    return out, ".joblib", method


# ---------------------------------------------------------------------------
# deflate streams by hand

class Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, v, n):
        """n bits of v, least significant first (deflate's header fields)."""
        self.acc |= (v & ((1 << n) - 1)) << self.n
        self.n += n
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def code(self, c, n):
        """A Huffman code of n bits, most significant first."""
        for i in range(n - 1, -1, -1):
            self.put((c >> i) & 1, 1)

    def align(self):
        if self.n:
            self.put(0, 8 - self.n)

    def bytes(self):
        out = bytes(self.out)
        return out + (bytes([self.acc]) if self.n else b"")


def canonical(lengths):
    """{symbol: (code, length)} of a canonical Huffman code (deflate's rule),
    complete or not."""
    maxl = max(lengths.values() or [0])
    count = [0] * (maxl + 2)
    for l in lengths.values():
        if l:
            count[l] += 1
    code, nxt = 0, [0] * (maxl + 2)
    for b in range(1, maxl + 1):
        code = (code + count[b - 1]) << 1
        nxt[b] = code
    out = {}
    for s in sorted(lengths):
        l = lengths[s]
        if l:
            out[s] = (nxt[l], l)
            nxt[l] += 1
    return out


def fixed_code(sym):
    if sym < 144:
        return 0x30 + sym, 8
    if sym < 256:
        return 0x190 + sym - 144, 9
    if sym < 280:
        return sym - 256, 7
    return 0xC0 + sym - 280, 8


def stored_block(bw, data, final):
    bw.put(final, 1)
    bw.put(0, 2)
    bw.align()
    bw.put(len(data), 16)
    bw.put(len(data) ^ 0xFFFF, 16)
    for b in data:
        bw.put(b, 8)


def fixed_block(bw, data, final, junk=None):
    """Literals; `junk` (sym, dist_sym) first: 286/287 or a distance code
    30/31 that only tinfl accepts."""
    bw.put(final, 1)
    bw.put(1, 2)
    if junk:
        sym, dsym = junk
        bw.code(*fixed_code(sym))
        bw.code(dsym, 5)
    for b in data:
        bw.code(*fixed_code(b))
    bw.code(*fixed_code(256))


CL_LENS = {s: (4 if s < 13 else 5) for s in range(19)}  # complete: 13/16 + 6/32
CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]


def dynamic_block(bw, final, lit_lens, nlit, dist_lens, ndist, symbols):
    """symbols: list of literal bytes, 256, or (length_sym, extra, nextra,
    dist_sym, dextra, ndextra) back references."""
    bw.put(final, 1)
    bw.put(2, 2)
    bw.put(nlit - 257, 5)
    bw.put(ndist - 1, 5)
    bw.put(19 - 4, 4)
    for s in CL_ORDER:
        bw.put(CL_LENS[s], 3)
    cl = canonical(CL_LENS)
    for s in range(nlit):
        bw.code(*cl[lit_lens.get(s, 0)])
    for s in range(ndist):
        bw.code(*cl[dist_lens.get(s, 0)])
    lc = canonical(lit_lens)
    dc = canonical(dist_lens)
    for x in symbols:
        if isinstance(x, tuple):
            lsym, lext, nl, dsym, dext, nd = x
            bw.code(*lc[lsym])
            bw.put(lext, nl)
            bw.code(*dc[dsym])
            bw.put(dext, nd)
        else:
            bw.code(*lc[x])


FULL_LIT = dict({s: 8 for s in range(254)}); FULL_LIT.update({254: 9, 255: 9, 256: 9, 257: 9})  # complete


def fam_deflate(rng):
    proto = rng.choice([2, 3, 4, 5])
    pay = gs.payload(rng, proto)
    head = pay[:2] if proto >= 2 else b""
    body = pay[len(head):]
    pickle_bytes = head + b"NNNN0000" + body
    trick = rng.choice(["noop_single_lit", "noop_single_lit", "fixed_286", "fixed_dist30", "hlit288",
                        "single_dist", "single_dist1", "stored_lennlen", "empty_stored", "control_stored",
                        "oversub", "incomplete_lit", "dist_far"])
    bw = Bits()
    cut = rng.randrange(0, len(pickle_bytes) + 1)
    first, second = pickle_bytes[:cut], pickle_bytes[cut:]
    if trick == "noop_single_lit":
        # a block whose literal/length code is just end-of-block, of length
        # 2..7: tinfl takes it (one symbol), zlib refuses it (incomplete)
        stored_block(bw, first, 0)
        dynamic_block(bw, 0, {256: rng.choice([1, 2, 3, 7])}, 257, rng.choice([{}, {0: 1}, {0: 3}]), 1, [256])
        stored_block(bw, second, 1)
    elif trick == "fixed_286":
        stored_block(bw, first, 0)
        fixed_block(bw, second, 1, junk=(rng.choice([286, 287]), rng.choice([0, 29, 30, 31])))
    elif trick == "fixed_dist30":
        fixed_block(bw, first + b"N", 0)
        bw.put(1, 1)  # final fixed block: a copy with distance symbol 30 (tinfl: distance 0)
        bw.put(1, 2)
        bw.code(*fixed_code(257))
        bw.code(rng.choice([30, 31]), 5)
        for b in b"0" + second:
            bw.code(*fixed_code(b))
        bw.code(*fixed_code(256))
    elif trick == "hlit288":
        # 288 literal/length and 32 distance code lengths (zlib: too many)
        syms = list(pickle_bytes) + [256]
        dynamic_block(bw, 1, FULL_LIT, rng.choice([287, 288]), {0: 1, 1: 1}, rng.choice([31, 32]), syms)
    elif trick in ("single_dist", "single_dist1"):
        # a distance code with one symbol (distance 1), of length 3 (tinfl
        # only) or 1 (both); 'N' + copy of 3 = 'NNNN'
        i = len(head)
        syms = list(pickle_bytes[:i + 1]) + [(257, 0, 0, 0, 0, 0)] + list(pickle_bytes[i + 4:]) + [256]
        dynamic_block(bw, 1, FULL_LIT, 257 + rng.randrange(2, 4), {0: 3 if trick == "single_dist" else 1}, 1, syms)
    elif trick == "stored_lennlen":
        stored_block(bw, first, 0)
        bw.put(1, 1)
        bw.put(0, 2)
        bw.align()
        bw.put(len(second), 16)
        bw.put((len(second) ^ 0xFFFF) ^ rng.choice([1, 0x8000]), 16)
        for b in second:
            bw.put(b, 8)
    elif trick == "empty_stored":
        for part in (first, b"", second):
            stored_block(bw, part, 0)
        stored_block(bw, b"", 1)
    elif trick == "oversub":
        lens = dict(FULL_LIT)
        lens[258] = 9
        stored_block(bw, first, 0)
        dynamic_block(bw, 0, lens, 259, {0: 1}, 1, [256])
        stored_block(bw, second, 1)
    elif trick == "incomplete_lit":
        lens = dict(FULL_LIT)
        del lens[257]
        dynamic_block(bw, 1, lens, 257, {0: 1}, 1, list(pickle_bytes) + [256])
    elif trick == "dist_far":
        # a copy reaching before the start of the output
        i = len(head)
        syms = list(pickle_bytes[:i + 1]) + [(257, 0, 0, 1, 0, 0)] + list(pickle_bytes[i + 4:]) + [256]
        dynamic_block(bw, 1, FULL_LIT, 258, {0: 1, 1: 1}, 2, syms)
    else:
        stored_block(bw, first, 0)
        stored_block(bw, second, 1)
    comp = bw.bytes() + rng.choice([b"", b"", b"\x00\x00", b"trailing"])
    if trick == "fixed_dist30":
        data = first + b"N" + b"\x00\x00\x00" + b"0" + second  # what tinfl makes of it (zeroed buffer)
    else:
        data = pickle_bytes
    where = rng.choice(["tzip", "tzip", "tzip", "npz"])
    if where == "npz":
        npy = gs.npy_file(rng, "'|O'", "(1,)", pickle_bytes)
        data = npy
        # re-encode the npy with the same trick is overkill: a stored+trick stream around it
        bw = Bits()
        stored_block(bw, npy[:len(npy) // 2], 0)
        if trick == "noop_single_lit":
            dynamic_block(bw, 0, {256: 2}, 257, {}, 1, [256])
        elif trick == "fixed_286":
            fixed_block(bw, b"", 0, junk=(286, 30))
        stored_block(bw, npy[len(npy) // 2:], 1)
        comp = bw.bytes()
        return build_zip_raw([("arr_0.npy", data, comp)]), ".npz", "npz-" + trick
    prefix = rng.choice(["archive/", "archive/", "m/"])
    entries = [(prefix + "data.pkl", data, comp), (prefix + "version", b"3\n", None)]
    return build_zip_raw(entries), ".pt", trick


def build_zip_raw(entries):
    """entries: (name, uncompressed data, deflate stream or None for stored)."""
    out = bytearray()
    central = bytearray()
    for name, data, comp in entries:
        method = 8 if comp is not None else 0
        if comp is None:
            comp = data
        crc = zlib.crc32(data)
        nb = name.encode()
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(comp), len(data),
                           len(nb), 0) + nb + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(comp),
                               len(data), len(nb), 0, 0, 0, 0, 0, off) + nb
    cd = len(out)
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd, 0)
    return bytes(out)


NP = ["numpy", "pickle"]
FAMILIES = [
    ("npytok", 4, fam_npytok, NP),
    ("dtype", 4, fam_dtype, NP),
    ("tarhdr", 4, fam_tarhdr, ["torch", "pickle"]),
    ("compmagic", 3, fam_compmagic, ["joblib", "pickle"]),
    ("deflate", 4, fam_deflate, ["torch", "numpy"]),
]
MUTABLE = [fam_npytok, fam_dtype, fam_tarhdr, fam_compmagic, fam_deflate]
