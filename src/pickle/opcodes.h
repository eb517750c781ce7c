/* SPDX-License-Identifier: Apache-2.0 */
/* The pickle opcode table (protocols 0-5): one X-macro drives decoding,
 * names, the weights_only subset and the disassembly. */
#ifndef CKPT_OPCODES_H
#define CKPT_OPCODES_H

#include <stddef.h>
#include <stdint.h>

/* Argument kinds, as CPython's _pickle.c reads them. */
enum arg_kind {
    ARG_NONE,
    ARG_LINE,   /* text up to '\n' */
    ARG_LINES2, /* two text lines (GLOBAL, INST) */
    ARG_U1,
    ARG_U2,
    ARG_U4,
    ARG_I4,
    ARG_U8,
    ARG_F8,   /* big-endian IEEE double */
    ARG_LEN1, /* 1-byte length, then that many bytes */
    ARG_LEN4, /* 4-byte little-endian length, then bytes */
    ARG_LEN8  /* 8-byte little-endian length, then bytes */
};

/* X(name, byte, argument kind, protocol introduced, accepted by torch's
 * weights_only unpickler) */
#define OPCODE_LIST(X)                                                                             \
    X(MARK, '(', ARG_NONE, 0, 1)                                                                   \
    X(STOP, '.', ARG_NONE, 0, 1)                                                                   \
    X(POP, '0', ARG_NONE, 0, 0)                                                                    \
    X(POP_MARK, '1', ARG_NONE, 1, 0)                                                               \
    X(DUP, '2', ARG_NONE, 0, 0)                                                                    \
    X(FLOAT, 'F', ARG_LINE, 0, 0)                                                                  \
    X(INT, 'I', ARG_LINE, 0, 0)                                                                    \
    X(BININT, 'J', ARG_I4, 1, 1)                                                                   \
    X(BININT1, 'K', ARG_U1, 1, 1)                                                                  \
    X(LONG, 'L', ARG_LINE, 0, 0)                                                                   \
    X(BININT2, 'M', ARG_U2, 1, 1)                                                                  \
    X(NONE, 'N', ARG_NONE, 0, 1)                                                                   \
    X(PERSID, 'P', ARG_LINE, 0, 0)                                                                 \
    X(BINPERSID, 'Q', ARG_NONE, 1, 1)                                                              \
    X(REDUCE, 'R', ARG_NONE, 0, 1)                                                                 \
    X(STRING, 'S', ARG_LINE, 0, 0)                                                                 \
    X(BINSTRING, 'T', ARG_LEN4, 1, 0)                                                              \
    X(SHORT_BINSTRING, 'U', ARG_LEN1, 1, 1)                                                        \
    X(UNICODE, 'V', ARG_LINE, 0, 0)                                                                \
    X(BINUNICODE, 'X', ARG_LEN4, 1, 1)                                                             \
    X(APPEND, 'a', ARG_NONE, 0, 1)                                                                 \
    X(BUILD, 'b', ARG_NONE, 0, 1)                                                                  \
    X(GLOBAL, 'c', ARG_LINES2, 0, 1)                                                               \
    X(DICT, 'd', ARG_NONE, 0, 0)                                                                   \
    X(EMPTY_DICT, '}', ARG_NONE, 1, 1)                                                             \
    X(APPENDS, 'e', ARG_NONE, 1, 1)                                                                \
    X(GET, 'g', ARG_LINE, 0, 0)                                                                    \
    X(BINGET, 'h', ARG_U1, 1, 1)                                                                   \
    X(INST, 'i', ARG_LINES2, 0, 0)                                                                 \
    X(LONG_BINGET, 'j', ARG_U4, 1, 1)                                                              \
    X(LIST, 'l', ARG_NONE, 0, 0)                                                                   \
    X(EMPTY_LIST, ']', ARG_NONE, 1, 1)                                                             \
    X(OBJ, 'o', ARG_NONE, 1, 0)                                                                    \
    X(PUT, 'p', ARG_LINE, 0, 0)                                                                    \
    X(BINPUT, 'q', ARG_U1, 1, 1)                                                                   \
    X(LONG_BINPUT, 'r', ARG_U4, 1, 1)                                                              \
    X(SETITEM, 's', ARG_NONE, 0, 1)                                                                \
    X(TUPLE, 't', ARG_NONE, 0, 1)                                                                  \
    X(EMPTY_TUPLE, ')', ARG_NONE, 1, 1)                                                            \
    X(SETITEMS, 'u', ARG_NONE, 1, 1)                                                               \
    X(BINFLOAT, 'G', ARG_F8, 1, 1)                                                                 \
    X(PROTO, 0x80, ARG_U1, 2, 1)                                                                   \
    X(NEWOBJ, 0x81, ARG_NONE, 2, 1)                                                                \
    X(EXT1, 0x82, ARG_U1, 2, 0)                                                                    \
    X(EXT2, 0x83, ARG_U2, 2, 0)                                                                    \
    X(EXT4, 0x84, ARG_I4, 2, 0)                                                                    \
    X(TUPLE1, 0x85, ARG_NONE, 2, 1)                                                                \
    X(TUPLE2, 0x86, ARG_NONE, 2, 1)                                                                \
    X(TUPLE3, 0x87, ARG_NONE, 2, 1)                                                                \
    X(NEWTRUE, 0x88, ARG_NONE, 2, 1)                                                               \
    X(NEWFALSE, 0x89, ARG_NONE, 2, 1)                                                              \
    X(LONG1, 0x8a, ARG_LEN1, 2, 1)                                                                 \
    X(LONG4, 0x8b, ARG_LEN4, 2, 0)                                                                 \
    X(BINBYTES, 'B', ARG_LEN4, 3, 0)                                                               \
    X(SHORT_BINBYTES, 'C', ARG_LEN1, 3, 0)                                                         \
    X(SHORT_BINUNICODE, 0x8c, ARG_LEN1, 4, 0)                                                      \
    X(BINUNICODE8, 0x8d, ARG_LEN8, 4, 0)                                                           \
    X(BINBYTES8, 0x8e, ARG_LEN8, 4, 0)                                                             \
    X(EMPTY_SET, 0x8f, ARG_NONE, 4, 1)                                                             \
    X(ADDITEMS, 0x90, ARG_NONE, 4, 0)                                                              \
    X(FROZENSET, 0x91, ARG_NONE, 4, 0)                                                             \
    X(NEWOBJ_EX, 0x92, ARG_NONE, 4, 0)                                                             \
    X(STACK_GLOBAL, 0x93, ARG_NONE, 4, 0)                                                          \
    X(MEMOIZE, 0x94, ARG_NONE, 4, 0)                                                               \
    X(FRAME, 0x95, ARG_U8, 4, 0)                                                                   \
    X(BYTEARRAY8, 0x96, ARG_LEN8, 5, 0)                                                            \
    X(NEXT_BUFFER, 0x97, ARG_NONE, 5, 0)                                                           \
    X(READONLY_BUFFER, 0x98, ARG_NONE, 5, 0)

enum opcode {
#define X(name, byte, arg, proto, wo) OP_##name = byte,
    OPCODE_LIST(X)
#undef X
};

typedef struct opcode_info {
    const char *name; /* NULL: not an opcode */
    unsigned char arg;
    unsigned char proto;
    unsigned char weights_only;
} opcode_info;

/* Indexed by byte value. */
extern const opcode_info opcode_table[256];

/* Offset just past the first STOP of the pickle at `pos`, decoding opcode
 * arguments only (no stack, no semantics); SIZE_MAX when a byte is not an
 * opcode or an argument runs past the end before any STOP. */
size_t pickle_skim_stop(const uint8_t *buf, size_t len, size_t pos);
/* The same; *ran_out is 0 when the skim met a byte that is no opcode, 1
 * when the bytes ended (or an argument ran past them) before STOP. */
size_t pickle_skim_stop_ex(const uint8_t *buf, size_t len, size_t pos, int *ran_out);
/* How far the same skim got: past STOP, or the start of the opcode it
 * stopped at (a byte that is no opcode, an argument past the end). */
size_t pickle_skim_reach(const uint8_t *buf, size_t len, size_t pos);

#endif
