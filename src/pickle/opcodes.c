/* SPDX-License-Identifier: Apache-2.0 */
/* The opcode table, indexed by byte, and the argument-only skim. */
#include "opcodes.h"

#include <stdint.h>
#include <string.h>

#include "util.h"

const opcode_info opcode_table[256] = {
#define X(name, byte, arg, proto, wo) [byte] = {#name, arg, proto, wo},
    OPCODE_LIST(X)
#undef X
};

/* What the skim does per byte: a fixed argument of 0..8 bytes, or one of: */
enum { SK_LINE = 9, SK_LINES2, SK_LEN1, SK_LEN4, SK_LEN8, SK_STOP };

#define SK_WIDTH(arg)                                                                              \
    ((arg) == ARG_NONE                    ? 0                                                      \
     : (arg) == ARG_U1                    ? 1                                                      \
     : (arg) == ARG_U2                    ? 2                                                      \
     : (arg) == ARG_U4 || (arg) == ARG_I4 ? 4                                                      \
     : (arg) == ARG_U8 || (arg) == ARG_F8 ? 8                                                      \
     : (arg) == ARG_LINE                  ? SK_LINE                                                \
     : (arg) == ARG_LINES2                ? SK_LINES2                                              \
     : (arg) == ARG_LEN1                  ? SK_LEN1                                                \
     : (arg) == ARG_LEN4                  ? SK_LEN4                                                \
                                          : SK_LEN8)

/* 1 + the action, so that 0 (no entry) means "not an opcode". */
static const uint8_t skim_action[256] = {
#define X(name, byte, arg, proto, wo) [byte] = 1 + ((byte) == '.' ? SK_STOP : SK_WIDTH(arg)),
    OPCODE_LIST(X)
#undef X
};

/* Moves past a '\n'-terminated line; 0 when there is none. */
static int skip_line(const uint8_t *b, size_t len, size_t *pos)
{
    const uint8_t *nl = *pos < len ? memchr(b + *pos, '\n', len - *pos) : NULL;
    if (!nl)
        return 0;
    *pos = (size_t)(nl - b) + 1;
    return 1;
}

/* Moves past a counted argument (width-byte length, then the bytes). */
static int skip_counted(const uint8_t *b, size_t len, size_t *pos, size_t width)
{
    if (width > len - *pos)
        return 0;
    const uint8_t *p = b + *pos;
    uint64_t n = width == 1 ? p[0] : width == 4 ? load_le32(p) : load_le64(p);
    if (n > len - *pos - width)
        return 0;
    *pos += width + (size_t)n;
    return 1;
}

/* The skim itself: returns the offset past STOP or SIZE_MAX, and leaves in
 * *at where it stopped either way. */
static size_t skim(const uint8_t *b, size_t len, size_t pos, int *ran_out, size_t *at)
{
    *ran_out = 1; /* unless a byte is no opcode */
    while (pos < len) {
        *at = pos;
        unsigned a = skim_action[b[pos++]];
        if (a == 0) {
            *ran_out = 0;
            return SIZE_MAX; /* not an opcode */
        }
        if (--a <= 8) {
            if (a > len - pos)
                return SIZE_MAX;
            pos += a;
            continue;
        }
        int ok = a == SK_STOP     ? 2
                 : a == SK_LINE   ? skip_line(b, len, &pos)
                 : a == SK_LINES2 ? skip_line(b, len, &pos) && skip_line(b, len, &pos)
                                  : skip_counted(b, len, &pos,
                                                 a == SK_LEN1   ? 1
                                                 : a == SK_LEN4 ? 4
                                                                : 8);
        if (ok == 2)
            return *at = pos;
        if (!ok)
            return SIZE_MAX;
    }
    *at = pos;
    return SIZE_MAX;
}

size_t pickle_skim_stop(const uint8_t *b, size_t len, size_t pos)
{
    int ran_out;
    size_t at;
    return skim(b, len, pos, &ran_out, &at);
}

size_t pickle_skim_stop_ex(const uint8_t *b, size_t len, size_t pos, int *ran_out)
{
    size_t at;
    return skim(b, len, pos, ran_out, &at);
}

size_t pickle_skim_reach(const uint8_t *b, size_t len, size_t pos)
{
    int ran_out;
    size_t at = pos;
    skim(b, len, pos, &ran_out, &at);
    return at;
}
