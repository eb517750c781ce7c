/* SPDX-License-Identifier: Apache-2.0 */
/* One case (or more) per pickle opcode and per interpreter edge case:
 * inline bytes, the exact verdict, and the finding code and offset that
 * must be reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "opcodes.h"
#include "pickle.h"
#include "testutil.h"
#include "util.h"

#define SAFE   CKPT_VERDICT_SAFE
#define SUSP   CKPT_VERDICT_SUSPICIOUS
#define DANG   CKPT_VERDICT_DANGEROUS
#define NOCODE (-1)

typedef struct opcase {
    const char *name;
    const char *bytes;
    size_t len;
    ckpt_verdict verdict;
    int code;         /* a finding that must be present, or NOCODE */
    long long offset; /* its offset, or -1 for any */
} opcase;

#define C(name, lit, verdict, code, off)                                                           \
    {                                                                                              \
        name, lit, sizeof(lit) - 1, verdict, code, off                                             \
    }

static const opcase cases[] = {
    /* stack, marks */
    C("MARK TUPLE", "(K\x01K\x02t.", SAFE, NOCODE, -1),
    C("STOP on empty stack", ".", SUSP, CKPT_F_STACK_ERROR, 0),
    C("POP",
      "K\x01K\x02"
      "0.",
      SAFE, NOCODE, -1),
    C("POP pops a bare mark", "N(0.", SAFE, NOCODE, -1),
    C("POP below mark underflows",
      "(0"
      "0N.",
      SUSP, CKPT_F_STACK_ERROR, 2),
    C("POP_MARK",
      "N(K\x01K\x02"
      "1.",
      SAFE, NOCODE, -1),
    C("POP_MARK without mark", "N1.", SUSP, CKPT_F_STACK_ERROR, 1),
    C("DUP",
      "(K\x01"
      "2t.",
      SAFE, NOCODE, -1),
    C("DUP on empty", "2.", SUSP, CKPT_F_STACK_ERROR, 0),
    C("STOP below a mark", "N(.", SUSP, CKPT_F_STACK_ERROR, 2),
    /* numbers */
    C("FLOAT", "F1.5\n.", SAFE, NOCODE, -1),
    C("FLOAT inf", "Finf\n.", SAFE, NOCODE, -1),
    C("FLOAT bad", "Fabc\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("INT base 0 hex", "I0x10\n.", SAFE, NOCODE, -1),
    C("INT octal", "I010\n.", SAFE, NOCODE, -1),
    C("INT bool", "I01\n.", SAFE, NOCODE, -1),
    C("INT underscores", "I1_000\n.", SAFE, NOCODE, -1),
    C("INT huge", "I123456789012345678901234567890\n.", SAFE, NOCODE, -1),
    C("INT bad", "Ixyz\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("INT starting with NUL is 0, payload after it", "I\x00\n0cos\nsystem\n(Vtrue\ntR.", DANG,
      CKPT_F_COMMAND, 4),
    C("INT NUL then junk", "I\x00junk\n0cos\nsystem\n.", DANG, CKPT_F_COMMAND, 8),
    C("INT empty line", "I\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("INT bad octal digit", "I08\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("BININT", "J\xff\xff\xff\xff.", SAFE, NOCODE, -1),
    C("BININT1", "K\x07.", SAFE, NOCODE, -1),
    C("BININT2", "M\x07\x01.", SAFE, NOCODE, -1),
    C("BININT truncated", "J\x01\x02", SUSP, CKPT_F_TRUNCATED, 0),
    C("LONG base 0", "L0x10L\n.", SAFE, NOCODE, -1),
    C("LONG no L", "L12\n.", SAFE, NOCODE, -1),
    C("LONG leading zero", "L010L\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("LONG1", "\x8a\x02\xff\x7f.", SAFE, NOCODE, -1),
    C("LONG1 empty", "\x8a\x00.", SAFE, NOCODE, -1),
    C("LONG4", "\x8b\x01\x00\x00\x00\x05.", SAFE, NOCODE, -1),
    C("LONG4 negative count", "\x8b\xff\xff\xff\xff.", SUSP, CKPT_F_MALFORMED, 0),
    C("BINFLOAT", "G\x3f\xf0\x00\x00\x00\x00\x00\x00.", SAFE, NOCODE, -1),
    C("NONE", "N.", SAFE, NOCODE, -1),
    C("NEWTRUE", "\x88.", SAFE, NOCODE, -1),
    C("NEWFALSE", "\x89.", SAFE, NOCODE, -1),
    /* strings */
    C("STRING", "S'abc'\n.", SAFE, NOCODE, -1),
    C("STRING double quotes", "S\"a\\x41\\n\"\n.", SAFE, NOCODE, -1),
    C("STRING unquoted", "Sabc\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("STRING mismatched quotes", "S'abc\"\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("STRING bad \\x", "S'\\x4'\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("STRING trailing backslash", "S'a\\'\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("BINSTRING",
      "T\x03\x00\x00\x00"
      "abc.",
      SAFE, NOCODE, -1),
    C("SHORT_BINSTRING",
      "U\x03"
      "abc.",
      SAFE, NOCODE, -1),
    C("UNICODE escapes", "V\\u0041\\U0001F600\n.", SAFE, NOCODE, -1),
    C("UNICODE bad escape", "V\\u00zz\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("UNICODE out of range", "V\\U00110000\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("BINUNICODE", "X\x02\x00\x00\x00\xc3\xa9.", SAFE, NOCODE, -1),
    C("BINUNICODE surrogatepass", "X\x03\x00\x00\x00\xed\xa0\x80.", SAFE, NOCODE, -1),
    C("BINUNICODE invalid utf-8", "X\x01\x00\x00\x00\xff.", SUSP, CKPT_F_MALFORMED, 0),
    C("SHORT_BINUNICODE", "\x8c\x01x.", SAFE, NOCODE, -1),
    C("BINUNICODE8", "\x8d\x01\x00\x00\x00\x00\x00\x00\x00x.", SAFE, NOCODE, -1),
    C("BINBYTES", "B\x01\x00\x00\x00x.", SAFE, NOCODE, -1),
    C("SHORT_BINBYTES", "C\x01x.", SAFE, NOCODE, -1),
    C("BINBYTES8", "\x8e\x01\x00\x00\x00\x00\x00\x00\x00x.", SAFE, NOCODE, -1),
    C("BINBYTES8 4 GiB in a tiny file", "\x8e\x00\x00\x00\x00\x01\x00\x00\x00x.", SUSP,
      CKPT_F_TRUNCATED, 0),
    C("BINBYTES8 2^63", "\x8e\x00\x00\x00\x00\x00\x00\x00\x80x.", SUSP, CKPT_F_MALFORMED, 0),
    C("BYTEARRAY8", "\x96\x01\x00\x00\x00\x00\x00\x00\x00x.", SAFE, NOCODE, -1),
    /* containers */
    C("EMPTY_TUPLE", ").", SAFE, NOCODE, -1),
    C("TUPLE1", "N\x85.", SAFE, NOCODE, -1),
    C("TUPLE2", "NN\x86.", SAFE, NOCODE, -1),
    C("TUPLE3", "NNN\x87.", SAFE, NOCODE, -1),
    C("TUPLE3 underflow", "NN\x87.", SUSP, CKPT_F_STACK_ERROR, 2),
    C("TUPLE2 across a mark", "N(N\x86.", SUSP, CKPT_F_STACK_ERROR, 3),
    C("LIST", "(NNl.", SAFE, NOCODE, -1),
    C("EMPTY_LIST APPEND",
      "]N"
      "a.",
      SAFE, NOCODE, -1),
    C("APPENDS", "](NNe.", SAFE, NOCODE, -1),
    C("APPENDS without target", "(Ne.", SUSP, CKPT_F_STACK_ERROR, 2),
    C("DICT",
      "(K\x01K\x02"
      "d.",
      SAFE, NOCODE, -1),
    C("DICT odd",
      "(K\x01"
      "d.",
      SUSP, CKPT_F_MALFORMED, 3),
    C("EMPTY_DICT SETITEM", "}K\x01K\x02s.", SAFE, NOCODE, -1),
    C("SETITEMS", "}(K\x01K\x02u.", SAFE, NOCODE, -1),
    C("SETITEMS odd", "}(K\x01u.", SUSP, CKPT_F_MALFORMED, 4),
    C("EMPTY_SET ADDITEMS", "\x8f(K\x01\x90.", SAFE, NOCODE, -1),
    C("FROZENSET", "(K\x01\x91.", SAFE, NOCODE, -1),
    C("APPEND on a tuple",
      ")N"
      "a.",
      SUSP, CKPT_F_ANOMALY, 2),
    /* memo */
    C("PUT GET", "Np0\n0g0\n.", SAFE, NOCODE, -1),
    C("GET empty", "g0\n.", SUSP, CKPT_F_MEMO_ERROR, 0),
    C("PUT negative", "Np-1\n.", SUSP, CKPT_F_MEMO_ERROR, 1),
    C("BINPUT BINGET",
      "Nq\x03"
      "0h\x03.",
      SAFE, NOCODE, -1),
    C("BINGET empty", "h\x03.", SUSP, CKPT_F_MEMO_ERROR, 0),
    C("LONG_BINPUT LONG_BINGET",
      "Nr\x01\x01\x00\x00"
      "0j\x01\x01\x00\x00.",
      SAFE, NOCODE, -1),
    C("LONG_BINPUT huge index", "Nr\xff\xff\xff\xff.", SUSP, CKPT_F_LIMIT, 1),
    C("LONG_BINPUT 2^25 is within limits",
      "]r\x00\x00\x00\x02"
      "0cos\nsystem\n(Vtrue\ntR.",
      DANG, CKPT_F_COMMAND, 7),
    C("MEMOIZE counts occupied slots", "\x80\x04K\x01q\x05\x94h\x01.", SAFE, NOCODE, -1),
    C("MEMOIZE index is not last+1", "\x80\x04K\x01q\x05\x94h\x06.", SUSP, CKPT_F_MEMO_ERROR, 7),
    C("PUT on empty stack", "p0\n.", SUSP, CKPT_F_STACK_ERROR, 0),
    /* protocol and frames */
    C("PROTO 5", "\x80\x05N.", SAFE, NOCODE, -1),
    C("PROTO 6", "\x80\x06N.", SUSP, CKPT_F_MALFORMED, 0),
    C("PROTO mid-stream", "N0\x80\x02N.", SUSP, CKPT_F_PROTOCOL_CHANGE, 2),
    C("FRAME", "\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N.", SAFE, NOCODE, -1),
    C("FRAME past the end", "\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00N.", SUSP,
      CKPT_F_TRUNCATED, 2),
    C("argument starting exactly at the frame end",
      "\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00"
      "C\x03xyz.",
      SAFE, NOCODE, -1),
    C("FRAME straddled",
      "\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00"
      "C\x03xyz.",
      SUSP, CKPT_F_FRAME_STRADDLE, 11),
    C("NEXT_BUFFER", "\x80\x05\x97.", SUSP, CKPT_F_MALFORMED, 2),
    C("READONLY_BUFFER", "\x80\x05N\x98.", SAFE, NOCODE, -1),
    /* names and calls */
    C("GLOBAL allowlisted", "ccollections\nOrderedDict\n.", SAFE, NOCODE, -1),
    C("GLOBAL os.system", "cos\nsystem\n.", DANG, CKPT_F_COMMAND, 0),
    C("GLOBAL unknown", "cmymodule\nMyClass\n.", SUSP, CKPT_F_UNKNOWN_IMPORT, 0),
    C("GLOBAL invalid utf-8", "cos\xff\nsystem\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("GLOBAL truncated", "cos\nsys", SUSP, CKPT_F_TRUNCATED, 0),
    C("REDUCE os.system", "cos\nsystem\n(S'id'\ntR.", DANG, CKPT_F_COMMAND, 19),
    C("REDUCE allowlisted", "ccollections\nOrderedDict\n)R.", SAFE, NOCODE, -1),
    C("REDUCE result popped still counts", "cos\nsystem\n(S'id'\ntR0N.", DANG, CKPT_F_COMMAND, 19),
    C("REDUCE of a non-global", "(t)R.", SUSP, CKPT_F_INDIRECT_CALL, 3),
    C("INST", "(S'id'\nios\nsystem\n.", DANG, CKPT_F_COMMAND, 7),
    C("INST invalid ascii", "(S'id'\nios\xc3\xa9\nsystem\n.", SUSP, CKPT_F_MALFORMED, 7),
    C("OBJ", "(cos\nsystem\nS'id'\no.", DANG, CKPT_F_COMMAND, 1),
    C("OBJ without class", "(o.", SUSP, CKPT_F_STACK_ERROR, 1),
    C("NEWOBJ",
      "\x80\x02"
      "ccollections\nOrderedDict\n)\x81.",
      SAFE, NOCODE, -1),
    C("NEWOBJ non-tuple args",
      "\x80\x02"
      "ccollections\nOrderedDict\nN\x81.",
      SUSP, CKPT_F_MALFORMED, 28),
    C("NEWOBJ_EX",
      "\x80\x04"
      "cmymod\nK\n)}\x92.",
      SUSP, CKPT_F_UNKNOWN_IMPORT, 2),
    C("STACK_GLOBAL", "\x80\x04\x8c\x02os\x8c\x06system\x93.", DANG, CKPT_F_COMMAND, 14),
    C("STACK_GLOBAL at offset 0, no PROTO", "\x8c\x02os\x8c\x06system\x93.", DANG, CKPT_F_COMMAND,
      12),
    C("STACK_GLOBAL from STRING operands", "S'os'\nS'system'\n\x93.", DANG, CKPT_F_COMMAND, 16),
    C("STACK_GLOBAL non-str", "K\x01K\x02\x93.", SUSP, CKPT_F_MALFORMED, 4),
    C("STACK_GLOBAL dynamic",
      "\x80\x04\x8c\x07_codecs\x8c\x06"
      "encode\x93\x8c\x02"
      "bf"
      "\x8c\x05rot13\x86R\x8c\x06system\x93.",
      DANG, CKPT_F_DYNAMIC_IMPORT, 41),
    C("BUILD on a call result", "ccollections\nOrderedDict\n)R}b.", SAFE, NOCODE, -1),
    C("BUILD on a global", "ccollections\nOrderedDict\n}b.", DANG, CKPT_F_GLOBAL_MUTATION, 26),
    C("BUILD on a list", "]}b.", SUSP, CKPT_F_ANOMALY, 2),
    C("SETITEM on a global", "csys\nmodules\nS'x'\nNs.", DANG, CKPT_F_GLOBAL_MUTATION, 19),
    C("APPEND on an unknown object", "cmymod\nK\n)RNa.", SUSP, CKPT_F_CONTAINER_CALL, 12),
    C("empty APPENDS calls nothing", "cmymod\nK\n)R(e.", SUSP, CKPT_F_UNKNOWN_IMPORT, 0),
    C("PERSID", "Pfoo\n.", SAFE, CKPT_F_PERSISTENT_ID, 0),
    C("PERSID non-ascii", "Pf\xc3\xa9\n.", SUSP, CKPT_F_MALFORMED, 0),
    C("BINPERSID torch storage", "(S'storage'\nNS'0'\nS'cpu'\nK\x01tQ.", SAFE, NOCODE, -1),
    C("BINPERSID empty", "Q.", SUSP, CKPT_F_STACK_ERROR, 0),
    C("EXT1 unregistered", "\x80\x02\x82\x01.", SUSP, CKPT_F_EXTENSION, 2),
    C("EXT2 unregistered", "\x80\x02\x83\x01\x00.", SUSP, CKPT_F_EXTENSION, 2),
    C("EXT4 zero", "\x80\x02\x84\x00\x00\x00\x00.", SUSP, CKPT_F_MALFORMED, 2),
    C("EXT after add_extension",
      "ccopyreg\nadd_extension\n(S'os'\nS'system'\nK\x07tR0"
      "\x82\x07(S'id'\ntR.",
      DANG, CKPT_F_COMMAND, 45),
    /* stream-level */
    C("unknown opcode", "N\xff.", SUSP, CKPT_F_BAD_OPCODE, 1),
    C("no STOP", "N", SUSP, CKPT_F_TRUNCATED, 1),
    C("data then unknown opcode after an import", "cfoo\nbar\n\xff.", SUSP, CKPT_F_BAD_OPCODE, 9),
    C("no STOP after an import", "cfoo\nbar\n", SUSP, CKPT_F_TRUNCATED, 9),
    C("payload then truncation", "cos\nsystem\n(S'id'\ntR", DANG, CKPT_F_TRUNCATED, 20),
    C("payload then garbage", "cos\nsystem\n(S'id'\ntR\xff", DANG, CKPT_F_BAD_OPCODE, 20),
    C("second pickle", "N.cos\nsystem\n.", DANG, CKPT_F_EXTRA_PICKLE, 2),
    C("trailing bytes", "N.\n\n", SUSP, CKPT_F_TRAILING_DATA, 2),
};

/* Runs one case; prints the details and returns 0 when it fails. */
static int run_case(const opcase *c)
{
    /* the pickle reading itself: as a whole file, a walk that fails before
     * any import is not a pickle (test_not_pickle.c) */
    ckpt_report *r = scan_pickle_bytes(NULL, c->bytes, c->len);
    int ok = ckpt_report_verdict(r) == c->verdict &&
             (c->code == NOCODE || find_code(r, (ckpt_code)c->code, c->offset) >= 0);
    if (c->code == NOCODE && c->verdict == SAFE)
        ok = ok && ckpt_report_finding_count(r) == 0;
    if (!ok) {
        fprintf(stderr, "case '%s': want %s", c->name, ckpt_verdict_name(c->verdict));
        if (c->code != NOCODE)
            fprintf(stderr, " with %s@%lld", ckpt_code_name((ckpt_code)c->code), c->offset);
        fputs("\n", stderr);
        dump_report(r);
    }
    ckpt_report_free(r);
    return ok;
}

static void test_all_cases(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        failed += !run_case(&cases[i]); /* run them all, then fail once */
    assert_int_equal(failed, 0);
}

/* ---- the argument-only skim (pickle_skim_stop) ---- */

/* The skim as the opcode table spells it, one argument kind at a time. */
static size_t ref_skim(const uint8_t *b, size_t len, size_t pos)
{
    static const size_t fixed[] = {
        [ARG_U1] = 1, [ARG_U2] = 2,   [ARG_U4] = 4,   [ARG_I4] = 4,  [ARG_U8] = 8,
        [ARG_F8] = 8, [ARG_LEN1] = 1, [ARG_LEN4] = 4, [ARG_LEN8] = 8};
    while (pos < len) {
        uint8_t op = b[pos++];
        if (!opcode_table[op].name)
            return SIZE_MAX;
        if (op == OP_STOP)
            return pos;
        unsigned kind = opcode_table[op].arg;
        for (int k = kind == ARG_LINES2 ? 2 : kind == ARG_LINE; k > 0; k--) {
            const uint8_t *nl = pos < len ? memchr(b + pos, '\n', len - pos) : NULL;
            if (!nl)
                return SIZE_MAX;
            pos = (size_t)(nl - b) + 1;
        }
        size_t w = kind < ARRAY_LEN(fixed) ? fixed[kind] : 0;
        if (w > len - pos)
            return SIZE_MAX;
        uint64_t n = kind == ARG_LEN1   ? b[pos]
                     : kind == ARG_LEN4 ? load_le32(b + pos)
                     : kind == ARG_LEN8 ? load_le64(b + pos)
                                        : 0;
        pos += w;
        if (n > len - pos)
            return SIZE_MAX;
        pos += (size_t)n;
    }
    return SIZE_MAX;
}

/* Every case, cut at every length and started at every offset, and
 * random opcode soup: the table-driven skim agrees with the reference. */
static void test_skim(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const uint8_t *b = (const uint8_t *)cases[i].bytes;
        for (size_t len = 0; len <= cases[i].len; len++)
            for (size_t pos = 0; pos <= len; pos++)
                assert_int_equal(pickle_skim_stop(b, len, pos), ref_skim(b, len, pos));
    }
    uint8_t buf[64];
    uint32_t x = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % 64);
        for (size_t k = 0; k < len; k++) {
            x = x * 1103515245u + 12345u;
            uint8_t r = (uint8_t)(x >> 16);
            buf[k] =
                (x >> 8) % 4 ? (uint8_t) "(.0JKMhjqrXTUBC\x8c\x8d\x8e\x95GIcS\n"[r % 24] : r % 16;
        }
        assert_int_equal(pickle_skim_stop(buf, len, 0), ref_skim(buf, len, 0));
    }
}

/* Every opcode of the table appears in at least one case. */
static void test_every_opcode_is_covered(void **state)
{
    (void)state;
    static const unsigned char ops[] = "(.012FIJKLMNPQRSTUVabcd}eghijl]opqrst)uG";
    static const unsigned char ops2[] = {0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
                                         0x89, 0x8a, 0x8b, 'B',  'C',  0x8c, 0x8d, 0x8e, 0x8f,
                                         0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98};
    unsigned char seen[256] = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t j = 0; j < cases[i].len; j++)
            seen[(unsigned char)cases[i].bytes[j]] = 1;
    for (size_t i = 0; i + 1 < sizeof(ops); i++)
        assert_true(seen[ops[i]]);
    for (size_t i = 0; i < sizeof(ops2); i++)
        assert_true(seen[ops2[i]]);
}

static void test_calls_are_rendered(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, "cos\nsystem\n(S'touch /tmp/x'\ntR.");
    assert_true(has_call(r, "os.system('touch /tmp/x')"));
    ckpt_report_free(r);
    r = SCAN_LIT(NULL, "\x80\x04\x8c\x08"
                       "builtins\x8c\x04"
                       "eval\x93\x8c\x04"
                       "1+1\x00\x85R.");
    assert_true(has_call(r, "builtins.eval('1+1\\x00')"));
    ckpt_report_free(r);
}

static void test_compat_mapping_below_protocol_3(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, "c__builtin__\neval\n.");
    int allowed = 1;
    assert_true(has_import(r, "__builtin__", "eval", &allowed));
    assert_false(allowed);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_import im;
    assert_int_equal(ckpt_report_import(r, 0, &im), CKPT_OK);
    assert_string_equal(im.resolved, "builtins.eval");
    ckpt_report_free(r);
    /* a mapping that lengthens the module keeps the whole name */
    r = SCAN_LIT(NULL, "curllib2\nurlopen\n.");
    assert_int_equal(ckpt_report_import(r, 0, &im), CKPT_OK);
    assert_string_equal(im.resolved, "urllib.request.urlopen");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
    /* protocol 3: no mapping, the name is resolved as written */
    r = SCAN_LIT(NULL, "\x80\x03"
                       "c__builtin__\nset\n.");
    assert_int_equal(ckpt_report_import(r, 0, &im), CKPT_OK);
    assert_string_equal(im.resolved, "__builtin__.set");
    assert_int_not_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
}

/* The same name read under two protocols resolves two ways: both count. */
static void test_same_name_two_protocols(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, "c__builtin__\nset\n0\x80\x03"
                                    "c__builtin__\nset\n0N.");
    assert_int_equal(ckpt_report_import_count(r), 2);
    ckpt_import a, b;
    assert_int_equal(ckpt_report_import(r, 0, &a), CKPT_OK);
    assert_int_equal(ckpt_report_import(r, 1, &b), CKPT_OK);
    assert_string_equal(a.resolved, "builtins.set");
    assert_true(a.allowed);
    assert_string_equal(b.resolved, "__builtin__.set");
    assert_false(b.allowed);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    /* repeated imports are counted on one record, classified once */
    r = SCAN_LIT(NULL, "cos\nsystem\n0cos\nsystem\n0N.");
    assert_int_equal(ckpt_report_import_count(r), 1);
    assert_int_equal(ckpt_report_import(r, 0, &a), CKPT_OK);
    assert_int_equal(a.count, 2);
    assert_int_equal(ckpt_report_finding_count(r), 1);
    ckpt_report_free(r);
}

static void test_dotted_names_protocol_4(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, "\x80\x04\x8c\x07pathlib\x8c\x09os.system\x93.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
    r = SCAN_LIT(NULL, "\x80\x04\x8c\x08"
                       "builtins\x8c\x17object.__getattribute__\x93.");
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
}

/* torch.load reads a zip member through io.BytesIO, which has no peek():
 * the C unpickler then drops what is left of a frame when an argument runs
 * past its end and reads the argument from the frame's end. Both readings
 * are scanned (from a buffered file the argument runs on). */
static void test_frame_straddle_without_peek(void **state)
{
    (void)state;
    /* a line: from a file "ckpt_os"."system", from io.BytesIO "os"."system" */
    ckpt_report *r = SCAN_LIT(NULL, "\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00"
                                    "cckpt_os\nsystem\n(Vtrue\ntR.");
    assert_true(has_import(r, "ckpt_os", "system", NULL));
    assert_true(has_import(r, "os", "system", NULL));
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    assert_true(find_code(r, CKPT_F_COMMAND, -1) >= 0);
    ckpt_import im;
    for (size_t i = 0; i < ckpt_report_import_count(r); i++) {
        assert_int_equal(ckpt_report_import(r, i, &im), CKPT_OK);
        assert_int_equal(im.count, 1); /* the second reading adds, never doubles */
        assert_int_equal(im.calls, 1);
    }
    ckpt_report_free(r);
    /* a string's length is read in the frame, its body after it: from a file
     * the payload is inside a UNICODE line, from io.BytesIO it runs */
    r = SCAN_LIT(NULL, "\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00"
                       "\x8c\x0b"
                       "collecti"
                       "onsVAAAAAAA"
                       "\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R0"
                       "\n0.");
    assert_true(has_import(r, "os", "system", NULL));
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
    /* a frame larger than what is left of the current one is read from its end */
    r = SCAN_LIT(NULL, "\x80\x04\x95\x0e\x00\x00\x00\x00\x00\x00\x00"
                       "N0\x95\x16\x00\x00\x00\x00\x00\x00\x00XYZ"
                       "cos\nsystem\n(Vtrue\ntR0N.");
    assert_true(has_import(r, "os", "system", NULL));
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
    /* one that fits is read from the same buffer: a line runs on to its end */
    r = SCAN_LIT(NULL, "\x80\x04\x95\x22\x00\x00\x00\x00\x00\x00\x00"
                       "\x95\x04\x00\x00\x00\x00\x00\x00\x00"
                       "ccol"
                       "lections\nOrderedDict\n.");
    assert_true(has_import(r, "collections", "OrderedDict", NULL));
    assert_int_equal(ckpt_report_import_count(r), 1);
    ckpt_report_free(r);
    /* bytes bodies are read with readinto(): no second reading differs */
    r = SCAN_LIT(NULL, "\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00"
                       "C\x03xyz.");
    assert_int_equal(ckpt_report_finding_count(r), 1);
    ckpt_report_free(r);
}

static void test_findings_before_error_are_kept(void **state)
{
    (void)state;
    ckpt_report *r = SCAN_LIT(NULL, "cos\nsystem\n(S'id'\ntR\xff");
    assert_true(find_code(r, CKPT_F_COMMAND, 0) >= 0);
    assert_true(find_code(r, CKPT_F_BAD_OPCODE, 20) >= 0);
    ckpt_pickle p;
    assert_int_equal(ckpt_report_pickle(r, 0, &p), CKPT_OK);
    assert_false(p.complete);
    assert_int_equal(p.end, 21);
    ckpt_report_free(r);
}

static void test_weights_only_flag(void **state)
{
    (void)state;
    ckpt_pickle p;
    ckpt_report *r = SCAN_LIT(NULL, "\x80\x02"
                                    "ccollections\nOrderedDict\n)R}b.");
    assert_int_equal(ckpt_report_pickle(r, 0, &p), CKPT_OK);
    assert_true(p.weights_only_ok);
    ckpt_report_free(r);
    r = SCAN_LIT(NULL, "\x80\x04\x8c\x0b"
                       "collections\x8c\x0bOrderedDict\x93)R.");
    assert_int_equal(ckpt_report_pickle(r, 0, &p), CKPT_OK);
    assert_false(p.weights_only_ok);
    assert_string_not_equal(p.weights_only_reason, "");
    ckpt_report_free(r);
}

/* joblib's names, searched 16 bytes at a time: planted at every offset of
 * every length, cut at the end, and against memmem on random text made of
 * their letters (the candidates' first and last letters everywhere). */
static int names_reference(const uint8_t *p, size_t n)
{
    return memmem(p, n, "joblib", 6) || memmem(p, n, "ArrayWrapper", 12);
}

static void test_names_joblib_search(void **state)
{
    (void)state;
    static const char *const names[] = {"joblib", "ArrayWrapper"};
    uint8_t buf[96];
    for (size_t w = 0; w < 2; w++) {
        size_t k = strlen(names[w]);
        for (size_t n = 0; n <= sizeof(buf); n++) {
            memset(buf, 'r', sizeof(buf));
            assert_int_equal(lite_names_joblib(buf, n), 0);
            for (size_t at = 0; at + k <= n; at++) {
                memset(buf, 'r', sizeof(buf));
                memcpy(buf + at, names[w], k);
                assert_int_equal(lite_names_joblib(buf, n), 1);
            }
            if (n >= k - 1) { /* all but its last byte, at the end */
                memset(buf, 'r', sizeof(buf));
                memcpy(buf + n - (k - 1), names[w], k - 1);
                assert_int_equal(lite_names_joblib(buf, n), 0);
            }
        }
    }
    static const char letters[] = "jobliArayWpe";
    uint32_t seed = 1;
    int found = 0;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 90);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            buf[i] = (uint8_t)letters[(seed >> 16) % (sizeof(letters) - 1)];
        }
        if (round % 3 == 0 && n >= 12) /* plant one, maybe over others */
            memcpy(buf + (seed >> 8) % (n - 11), names[round % 2], strlen(names[round % 2]));
        int want = names_reference(buf, n);
        found += want;
        assert_int_equal(lite_names_joblib(buf, n), want);
    }
    assert_true(found > 1000);
}

/* Short constants: what can and cannot hold torch's checkpoint magic. */
static void test_checkpoint_constant_short(void **state)
{
    (void)state;
    static const uint8_t magic_le[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                         0x20, 0x6a, 0xa8, 0x50, 0x19};
    /* the same as the UTF-8 of its latin-1 text (protocols 0-2) */
    static const uint8_t magic_utf8[14] = {0x6c, 0xc3, 0xbc, 0xc2, 0x9c, 0x46, 0xc3,
                                           0xb9, 0x20, 0x6a, 0xc2, 0xa8, 0x50, 0x19};
    uint8_t b[32];
    for (int text = 0; text < 2; text++) {
        assert_int_equal(pickle_constant_checkpoint((const uint8_t *)"PK\x03\x04", 4, text), 1);
        assert_int_equal(pickle_constant_checkpoint((const uint8_t *)"PK\x03\x04xyz", 7, text), 1);
        assert_int_equal(pickle_constant_checkpoint((const uint8_t *)"PK\x03", 3, text), 0);
        assert_int_equal(pickle_constant_checkpoint((const uint8_t *)"k123", 4, text), 0);
        assert_int_equal(
            pickle_constant_checkpoint((const uint8_t *)"s1195470371460388013", 20, text), 0);
        assert_int_equal(
            pickle_constant_checkpoint((const uint8_t *)"119547037146038801333356", 24, text), 1);
        assert_int_equal(
            pickle_constant_checkpoint((const uint8_t *)"x119547037146038801333356", 25, text), 1);
    }
    assert_int_equal(pickle_constant_checkpoint(magic_le, 10, 0), 1);
    assert_int_equal(pickle_constant_checkpoint(magic_le, 9, 0), 0);
    memcpy(b, "ab", 2);
    memcpy(b + 2, magic_le, 10);
    assert_int_equal(pickle_constant_checkpoint(b, 12, 0), 1);
    assert_int_equal(pickle_constant_checkpoint(magic_utf8, 14, 1), 1);
    assert_int_equal(pickle_constant_checkpoint(magic_utf8, 13, 1), 0);
    assert_int_equal(pickle_constant_checkpoint(magic_utf8, 14, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_cases),
        cmocka_unit_test(test_every_opcode_is_covered),
        cmocka_unit_test(test_skim),
        cmocka_unit_test(test_calls_are_rendered),
        cmocka_unit_test(test_compat_mapping_below_protocol_3),
        cmocka_unit_test(test_same_name_two_protocols),
        cmocka_unit_test(test_dotted_names_protocol_4),
        cmocka_unit_test(test_frame_straddle_without_peek),
        cmocka_unit_test(test_findings_before_error_are_kept),
        cmocka_unit_test(test_weights_only_flag),
        cmocka_unit_test(test_names_joblib_search),
        cmocka_unit_test(test_checkpoint_constant_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
