/* SPDX-License-Identifier: Apache-2.0 */
/* Raw deflate decoded by the rules of miniz 2.1's tinfl, the inflater of
 * torch's zip reader (PyTorchStreamReader, mz_zip_reader_extract_to_mem with
 * a non-wrapping output buffer). tinfl accepts streams zlib refuses: any
 * Huffman code with at most one symbol (zlib: a single code of length 1
 * only), 287/288 literal/length and 31/32 distance code lengths, symbols
 * 286/287 (a copy of length 0) and distance codes 30/31 (distance 0: the
 * output buffer's own, uninitialised, bytes; zeros here). Its tables are
 * built the same way (a 10-bit look-up and a tree), so an unassigned code
 * decodes as tinfl decodes it. */
#include <stdlib.h>
#include <string.h>

#include "zip_internal.h"

#define LOOK_BITS 10
#define LOOK_SIZE (1 << LOOK_BITS)
#define MAX_SYMS  288

typedef struct htable {
    int16_t look[LOOK_SIZE];
    int16_t tree[MAX_SYMS * 2];
    uint8_t size[MAX_SYMS];
} htable;

typedef struct tstate {
    const uint8_t *in;
    uint64_t nbits, pos; /* input length and position, in bits */
    uint8_t *out;
    size_t n, cap, stop;
    size_t unwritten_at; /* where the first distance-0 copy wrote (SIZE_MAX: none) */
    htable t[3];
} tstate;

/* n bits (n <= 32) at the position, without consuming; zeros past the end. */
static uint32_t peek_bits(const tstate *s, unsigned n)
{
    uint64_t byte = s->pos >> 3, end = s->nbits >> 3, w = 0;
    for (unsigned i = 0; i < 5 && byte + i < end; i++)
        w |= (uint64_t)s->in[byte + i] << (8 * i);
    w >>= s->pos & 7;
    return n >= 32 ? (uint32_t)w : (uint32_t)(w & ((UINT64_C(1) << n) - 1));
}

/* Consumes n bits; 0 when they run past the input (tinfl cannot go on). */
static int take(tstate *s, unsigned n, uint32_t *v)
{
    *v = peek_bits(s, n);
    s->pos += n;
    return s->pos <= s->nbits;
}

/* tinfl's table build; 0 when it fails the stream. */
static int build(htable *t, unsigned count)
{
    unsigned total_syms[16] = {0}, next_code[17];
    memset(t->look, 0, sizeof(t->look));
    memset(t->tree, 0, sizeof(t->tree));
    for (unsigned i = 0; i < count; i++)
        total_syms[t->size[i]]++;
    unsigned used = 0, total = 0;
    next_code[0] = next_code[1] = 0;
    for (unsigned i = 1; i <= 15; i++) {
        used += total_syms[i];
        next_code[i + 1] = total = (total + total_syms[i]) << 1;
    }
    if (total != 65536 && used > 1)
        return 0;
    int tree_next = -1;
    for (unsigned sym = 0; sym < count; sym++) {
        unsigned cs = t->size[sym], rev = 0, cur;
        if (!cs)
            continue;
        cur = next_code[cs]++;
        for (unsigned l = cs; l > 0; l--, cur >>= 1)
            rev = (rev << 1) | (cur & 1);
        if (cs <= LOOK_BITS) {
            for (; rev < LOOK_SIZE; rev += 1u << cs)
                t->look[rev] = (int16_t)((cs << 9) | sym);
            continue;
        }
        int tree_cur = t->look[rev & (LOOK_SIZE - 1)];
        if (tree_cur == 0) {
            t->look[rev & (LOOK_SIZE - 1)] = (int16_t)tree_next;
            tree_cur = tree_next;
            tree_next -= 2;
        }
        rev >>= LOOK_BITS - 1;
        for (unsigned j = cs; j > LOOK_BITS + 1; j--) {
            tree_cur -= (int)((rev >>= 1) & 1);
            if (-tree_cur - 1 >= MAX_SYMS * 2)
                return 0;
            if (!t->tree[-tree_cur - 1]) {
                t->tree[-tree_cur - 1] = (int16_t)tree_next;
                tree_cur = tree_next;
                tree_next -= 2;
            } else {
                tree_cur = t->tree[-tree_cur - 1];
            }
        }
        tree_cur -= (int)((rev >>= 1) & 1);
        if (-tree_cur - 1 >= MAX_SYMS * 2)
            return 0;
        t->tree[-tree_cur - 1] = (int16_t)sym;
    }
    return 1;
}

/* One symbol, as TINFL_HUFF_DECODE reads it; -1 past the input. */
static int decode(tstate *s, const htable *t)
{
    uint32_t bits = peek_bits(s, 32);
    int temp = t->look[bits & (LOOK_SIZE - 1)];
    unsigned len;
    if (temp >= 0) {
        len = (unsigned)temp >> 9;
        temp &= 511;
    } else {
        len = LOOK_BITS;
        do {
            int idx = ~temp + (int)((bits >> len++) & 1);
            if (idx < 0 || idx >= MAX_SYMS * 2 || len > 32)
                return -1;
            temp = t->tree[idx];
        } while (temp < 0);
    }
    s->pos += len;
    return s->pos <= s->nbits ? temp : -1;
}

static int put(tstate *s, uint8_t b)
{
    if (s->n == s->cap) {
        if (s->cap >= s->stop)
            return 0;
        size_t want = s->cap ? s->cap * 2 : 4096;
        if (want > s->stop || want < s->cap)
            want = s->stop;
        uint8_t *q = realloc(s->out, want);
        if (!q)
            return 0;
        s->out = q;
        s->cap = want;
    }
    s->out[s->n++] = b;
    return 1;
}

enum { T_FAIL = 0, T_OK = 1, T_FULL = 2 };

static int stored(tstate *s)
{
    s->pos = (s->pos + 7) & ~(uint64_t)7;
    uint32_t len, nlen;
    if (!take(s, 16, &len) || !take(s, 16, &nlen) || len != (nlen ^ 0xFFFF))
        return T_FAIL;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t b;
        if (!take(s, 8, &b))
            return T_FAIL;
        if (!put(s, (uint8_t)b))
            return T_FULL;
    }
    return T_OK;
}

static void fixed_tables(tstate *s)
{
    uint8_t *p = s->t[0].size;
    memset(s->t[1].size, 5, 32);
    memset(p, 8, 144);
    memset(p + 144, 9, 112);
    memset(p + 256, 7, 24);
    memset(p + 280, 8, 8);
}

/* The code lengths of a dynamic block into tables 0 and 1. */
static int dynamic_tables(tstate *s, unsigned sizes[2])
{
    static const uint8_t order[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                      11, 4,  12, 3, 13, 2, 14, 1, 15};
    uint32_t hlit, hdist, hclen, v;
    if (!take(s, 5, &hlit) || !take(s, 5, &hdist) || !take(s, 4, &hclen))
        return 0;
    sizes[0] = hlit + 257;
    sizes[1] = hdist + 1;
    memset(s->t[2].size, 0, sizeof(s->t[2].size));
    for (unsigned i = 0; i < hclen + 4; i++) {
        if (!take(s, 3, &v))
            return 0;
        s->t[2].size[order[i]] = (uint8_t)v;
    }
    if (!build(&s->t[2], 19))
        return 0;
    uint8_t lens[MAX_SYMS + 32 + 137];
    unsigned total = sizes[0] + sizes[1], n = 0;
    while (n < total) {
        int sym = decode(s, &s->t[2]);
        if (sym < 0)
            return 0;
        if (sym < 16) {
            lens[n++] = (uint8_t)sym;
            continue;
        }
        if (sym == 16 && n == 0)
            return 0;
        static const uint8_t extra[3] = {2, 3, 7}, base[3] = {3, 3, 11};
        if (!take(s, extra[sym - 16], &v))
            return 0;
        v += base[sym - 16];
        memset(lens + n, sym == 16 ? lens[n - 1] : 0, v);
        n += v;
    }
    if (n != total)
        return 0;
    memcpy(s->t[0].size, lens, sizes[0]);
    memcpy(s->t[1].size, lens + sizes[0], sizes[1]);
    return 1;
}

/* A copy of `len` bytes from `dist` back; distance 0 copies the output
 * buffer onto itself (never-written bytes: zeros). */
static int copy(tstate *s, uint32_t len, uint32_t dist)
{
    if (dist > s->n)
        return T_FAIL;
    if (dist == 0 && len > 0 && s->unwritten_at == SIZE_MAX)
        s->unwritten_at = s->n;
    for (uint32_t i = 0; i < len; i++) {
        uint8_t b = dist ? s->out[s->n - dist] : 0;
        if (!put(s, b))
            return T_FULL;
    }
    return T_OK;
}

static int huffman(tstate *s)
{
    static const uint16_t lbase[31] = {3,  4,   5,   6,   7,   8,   9,   10, 11, 13, 15,
                                       17, 19,  23,  27,  31,  35,  43,  51, 59, 67, 83,
                                       99, 115, 131, 163, 195, 227, 258, 0,  0};
    static const uint8_t lextra[31] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                       3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0, 0, 0};
    static const uint16_t dbase[32] = {
        1,   2,   3,   4,   5,    7,    9,    13,   17,   25,   33,   49,    65,    97,    129, 193,
        257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577, 0,   0};
    static const uint8_t dextra[32] = {0, 0, 0, 0, 1, 1, 2,  2,  3,  3,  4,  4,  5,  5,  6, 6,
                                       7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 0, 0};
    for (;;) {
        int sym = decode(s, &s->t[0]);
        if (sym < 0)
            return T_FAIL;
        if (sym < 256) {
            if (!put(s, (uint8_t)sym))
                return T_FULL;
            continue;
        }
        if (sym == 256)
            return T_OK;
        uint32_t len = lbase[sym - 257], dist, v;
        if (!take(s, lextra[sym - 257], &v))
            return T_FAIL;
        len += v;
        int d = decode(s, &s->t[1]);
        if (d < 0 || !take(s, dextra[d], &v))
            return T_FAIL;
        dist = dbase[d] + v;
        int r = copy(s, len, dist);
        if (r != T_OK)
            return r;
    }
}

static int one_block(tstate *s, uint32_t *final)
{
    uint32_t type;
    if (!take(s, 1, final) || !take(s, 2, &type) || type == 3)
        return T_FAIL;
    if (type == 0)
        return stored(s);
    unsigned sizes[2] = {288, 32};
    if (type == 1)
        fixed_tables(s);
    else if (!dynamic_tables(s, sizes))
        return T_FAIL;
    if (!build(&s->t[1], sizes[1]) || !build(&s->t[0], sizes[0]))
        return T_FAIL;
    return huffman(s);
}

int miniz_inflate(const uint8_t *src, uint64_t len, size_t stop, uint8_t **out, size_t *n,
                  size_t *unwritten_at)
{
    tstate *s = calloc(1, sizeof(*s));
    if (!s)
        return MINIZ_INFLATE_FAILED;
    s->in = src;
    s->nbits = len > UINT64_MAX / 8 ? UINT64_MAX : len * 8;
    s->stop = stop;
    s->unwritten_at = SIZE_MAX;
    uint32_t final = 0;
    int r = T_OK;
    while (r == T_OK && !final)
        r = one_block(s, &final);
    *out = s->out;
    *n = s->n;
    *unwritten_at = s->unwritten_at;
    free(s);
    return r == T_OK ? MINIZ_INFLATE_DONE : r == T_FULL ? MINIZ_INFLATE_CUT : MINIZ_INFLATE_FAILED;
}
