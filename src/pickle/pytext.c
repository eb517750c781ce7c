/* SPDX-License-Identifier: Apache-2.0 */
/* Decoding of text opcode arguments with CPython's exact rules. The C
 * unpickler copies each line and NUL-terminates it, so functions here stop
 * at the first NUL the way strtol and PyLong_FromString do. */
#include "pytext.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int digit_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/* The line as the C library sees it: up to the first NUL. */
static size_t c_length(const char *line, size_t len)
{
    const char *nul = memchr(line, '\0', len);
    return nul ? (size_t)(nul - line) : len;
}

/* C strtol(s, &end, 0) on s[0..len). Returns the index of endptr and sets
 * *overflow on ERANGE. */
static size_t c_strtol(const char *s, size_t len, int64_t *out, int *overflow)
{
    size_t i = 0;
    while (i < len && is_space((unsigned char)s[i]))
        i++;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    int base = 10;
    if (i < len && s[i] == '0') {
        base = 8;
        if (i + 2 < len && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
            digit_value((unsigned char)s[i + 2]) < 16) {
            base = 16;
            i += 2;
        }
    }
    size_t digits_start = i;
    uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    *overflow = 0;
    for (; i < len && digit_value((unsigned char)s[i]) < base; i++) {
        uint64_t d = (uint64_t)digit_value((unsigned char)s[i]);
        if (acc > (limit - d) / (uint64_t)base)
            *overflow = 1;
        else
            acc = acc * (uint64_t)base + d;
    }
    if (i == digits_start)
        return 0; /* no conversion: endptr = s */
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return i;
}

/* Digits of `base` with single underscores between them (PEP 515). */
static int scan_digits(const char *s, size_t len, size_t *i, int base)
{
    size_t start = *i;
    int prev_underscore = 1; /* no leading underscore after the prefix... */
    if (base != 10 && *i < len && s[*i] == '_')
        prev_underscore = 0; /* ...except right after 0x/0o/0b */
    for (; *i < len; (*i)++) {
        char c = s[*i];
        if (c == '_') {
            if (prev_underscore)
                return 0;
            prev_underscore = 1;
        } else if (digit_value((unsigned char)c) < base) {
            prev_underscore = 0;
        } else {
            break;
        }
    }
    return *i > start && !prev_underscore;
}

/* Python's int(s, base) grammar (base 0 or 10) on s[0..len): whitespace
 * around, sign, prefix (base 0), digits with underscores. */
static int py_int_syntax(const char *s, size_t len, int base0, int *neg)
{
    size_t i = 0, end = len;
    while (i < end && is_space((unsigned char)s[i]))
        i++;
    while (end > i && is_space((unsigned char)s[end - 1]))
        end--;
    *neg = 0;
    if (i < end && (s[i] == '+' || s[i] == '-'))
        *neg = s[i++] == '-';
    if (i >= end)
        return 0;
    if (!base0)
        return scan_digits(s, end, &i, 10) && i == end;
    if (s[i] == '0' && i + 1 < end) {
        char p = s[i + 1];
        int b = (p == 'x' || p == 'X')   ? 16
                : (p == 'o' || p == 'O') ? 8
                : (p == 'b' || p == 'B') ? 2
                                         : 0;
        if (b) {
            i += 2;
            return scan_digits(s, end, &i, b) && i == end;
        }
        /* base 0 decimal: a literal starting with '0' holds only zeros */
        size_t j = i;
        if (!scan_digits(s, end, &j, 10) || j != end)
            return 0;
        for (; i < end; i++)
            if (s[i] != '0' && s[i] != '_')
                return 0;
        return 1;
    }
    return scan_digits(s, end, &i, 10) && i == end;
}

/* Value of a syntactically valid int literal: int64 or VF_BIGINT. */
static void py_int_value(const char *s, size_t len, value *out)
{
    char buf[80];
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < sizeof(buf); i++)
        if (s[i] != '_' && !is_space((unsigned char)s[i]))
            buf[n++] = s[i];
    buf[n] = '\0';
    *out = v_make(V_INT);
    if (n + 1 >= sizeof(buf)) {
        out->flags |= VF_BIGINT;
        return;
    }
    int base = 10;
    char *p = buf + (buf[0] == '+' || buf[0] == '-');
    if (p[0] == '0' && p[1] && strchr("xXoObB", p[1])) {
        base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
        memmove(p, p + 2, strlen(p + 2) + 1);
    }
    errno = 0;
    long long x = strtoll(buf, NULL, base);
    if (errno == ERANGE)
        out->flags |= VF_BIGINT;
    else
        out->u.i = x;
}

const char *py_parse_int_line(const char *line, size_t len, value *out)
{
    size_t clen = c_length(line, len);
    int64_t x = 0;
    int overflow = 0;
    size_t end = c_strtol(line, clen, &x, &overflow);
    /* strtol's end pointer must sit on the '\n' or on a NUL: a line that
     * starts with NUL converts nothing and still counts (value 0) */
    if ((end > 0 || clen < len) && !overflow && end == clen) {
        /* len + 1 counts the '\n': CPython's bool rule is len == 3 */
        if (len + 1 == 3 && (x == 0 || x == 1)) {
            *out = v_make(V_BOOL);
        } else {
            *out = v_make(V_INT);
        }
        out->u.i = x;
        return NULL;
    }
    int neg;
    if (!py_int_syntax(line, clen, 1, &neg))
        return "could not convert string to int";
    py_int_value(line, clen, out);
    return NULL;
}

const char *py_parse_long_line(const char *line, size_t len, value *out)
{
    size_t clen = c_length(line, len);
    if (clen == len && len > 0 && line[len - 1] == 'L')
        clen = len - 1;
    int neg;
    if (!py_int_syntax(line, clen, 1, &neg))
        return "invalid literal for LONG";
    py_int_value(line, clen, out);
    return NULL;
}

const char *py_parse_index_line(const char *line, size_t len, uint64_t *out)
{
    size_t clen = c_length(line, len);
    int neg;
    if (!py_int_syntax(line, clen, 0, &neg))
        return "invalid memo index";
    if (neg) {
        /* "-0" is zero; anything else negative is refused */
        for (size_t i = 0; i < clen; i++)
            if (line[i] >= '1' && line[i] <= '9')
                return "negative memo index";
    }
    uint64_t acc = 0;
    for (size_t i = 0; i < clen; i++) {
        if (line[i] < '0' || line[i] > '9')
            continue;
        uint64_t d = (uint64_t)(line[i] - '0');
        acc = acc > (UINT64_MAX - d) / 10 ? UINT64_MAX : acc * 10 + d;
    }
    *out = acc;
    return NULL;
}

const char *py_parse_float_line(const char *line, size_t len, double *out)
{
    char buf[512];
    size_t clen = c_length(line, len);
    if (clen == 0 || clen >= sizeof(buf) || is_space((unsigned char)line[0]))
        return "could not convert string to float";
    memcpy(buf, line, clen);
    buf[clen] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end == buf || *end != '\0' || strchr(buf, 'x') || strchr(buf, 'X'))
        return "could not convert string to float";
    if (errno == ERANGE && isinf(d))
        return "float out of range";
    *out = d;
    return NULL;
}

/* Python's float() grammar after underscores and surrounding whitespace
 * are gone (_Py_dg_strtod, then _Py_parse_inf_or_nan): the whole of
 * s[0..len) must be one number. */
static int py_float_syntax(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t digits = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits) {
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            if (i < len && (s[i] == '+' || s[i] == '-'))
                i++;
            size_t start = i;
            for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
                ;
            if (i == start)
                return 0; /* strtod stops before the 'e' */
        }
        return i == len;
    }
    i = (len && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    size_t n = len - i;
    return (n == 3 && strncasecmp(s + i, "inf", 3) == 0) ||
           (n == 8 && strncasecmp(s + i, "infinity", 8) == 0) ||
           (n == 3 && strncasecmp(s + i, "nan", 3) == 0);
}

const char *py_parse_float_builtin(const char *line, size_t len, double *out)
{
    static const char *bad = "could not convert string to float";
    if (memchr(line, '\0', len))
        return bad; /* no embedded NUL */
    size_t i = 0, end = len;
    while (i < end && is_space((unsigned char)line[i]))
        i++;
    while (end > i + 1 && is_space((unsigned char)line[end - 1]))
        end--;
    if (i == end)
        return bad;
    /* PEP 515: an underscore only between two digits (checked on the
     * whole line, whitespace included, as CPython does) */
    for (size_t k = 0; k < len; k++) {
        if (line[k] != '_')
            continue;
        if (k == 0 || line[k - 1] < '0' || line[k - 1] > '9' || k + 1 == len || line[k + 1] < '0' ||
            line[k + 1] > '9')
            return bad;
    }
    char *buf = malloc(end - i + 1);
    if (!buf) {
        *out = 0.0; /* the value is never what decides a reading */
        return NULL;
    }
    size_t n = 0;
    for (size_t k = i; k < end; k++)
        if (line[k] != '_')
            buf[n++] = line[k];
    buf[n] = '\0';
    const char *err = NULL;
    if (!py_float_syntax(buf, n))
        err = bad;
    else
        *out = strtod(buf, NULL); /* overflow gives inf, as float() does */
    free(buf);
    return err;
}

/* ---- strings ---- */

/* Output buffer for decoders: everything is decoded (to find errors), the
 * first `keep` bytes are stored. */
typedef struct sink {
    char *buf;
    size_t len, keep;
    int cut;
} sink;

static int sink_open(arena *a, sink *k, size_t max_out, uint64_t keep)
{
    k->keep = max_out < keep ? max_out : (size_t)keep;
    k->len = 0;
    k->cut = 0;
    k->buf = arena_alloc(a, k->keep + 1);
    return k->buf != NULL;
}

static void sink_put(sink *k, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (k->len < k->keep)
            k->buf[k->len++] = p[i];
        else
            k->cut = 1;
    }
}

static void sink_value(sink *k, vkind kind, value *out)
{
    *out = v_make(kind);
    k->buf[k->len] = '\0';
    out->u.s = k->buf;
    out->len = (uint32_t)k->len;
    if (k->cut)
        out->flags |= VF_TRUNCATED;
}

static int hexval(int c)
{
    int d = digit_value(c);
    return d < 16 ? d : -1;
}

/* One backslash escape of PyBytes_DecodeEscape starting after the '\'. */
static const char *escape_one(const char *s, size_t len, size_t *i, sink *k)
{
    static const char simple_in[] = "\\'\"bftnrva";
    static const char simple_out[] = "\\'\"\b\f\t\n\r\v\a";
    char c = s[(*i)++];
    const char *hit = memchr(simple_in, c, sizeof(simple_in) - 1);
    if (hit) {
        sink_put(k, &simple_out[hit - simple_in], 1);
    } else if (c == '\n') {
        /* line continuation: nothing */
    } else if (c >= '0' && c <= '7') {
        int v = c - '0';
        for (int n = 0; n < 2 && *i < len && s[*i] >= '0' && s[*i] <= '7'; n++)
            v = v * 8 + (s[(*i)++] - '0');
        char b = (char)(v & 0xff);
        sink_put(k, &b, 1);
    } else if (c == 'x') {
        if (*i + 2 > len || hexval((unsigned char)s[*i]) < 0 ||
            hexval((unsigned char)s[*i + 1]) < 0)
            return "invalid \\x escape";
        char b = (char)(hexval((unsigned char)s[*i]) * 16 + hexval((unsigned char)s[*i + 1]));
        *i += 2;
        sink_put(k, &b, 1);
    } else {
        char both[2] = {'\\', c}; /* unknown escapes are kept */
        sink_put(k, both, 2);
    }
    return NULL;
}

const char *py_decode_string_line(arena *a, const char *line, size_t len, uint64_t keep, value *out)
{
    if (len < 2 || line[0] != line[len - 1] || (line[0] != '\'' && line[0] != '"'))
        return "the STRING opcode argument must be quoted";
    const char *s = line + 1;
    size_t n = len - 2;
    sink k;
    if (!sink_open(a, &k, n, keep))
        return "out of memory";
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            sink_put(&k, &s[i++], 1);
            continue;
        }
        if (++i >= n)
            return "Trailing \\ in string";
        const char *err = escape_one(s, n, &i, &k);
        if (err)
            return err;
    }
    sink_value(&k, V_STR, out);
    return NULL;
}

static void put_utf8(sink *k, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sink_put(k, b, n);
}

/* \uXXXX or \UXXXXXXXX after the backslash and letter; NULL or an error. */
static const char *unicode_escape(const char *s, size_t len, size_t *i, int count, sink *k)
{
    uint32_t cp = 0;
    for (int d = 0; d < count; d++, (*i)++) {
        if (*i >= len || hexval((unsigned char)s[*i]) < 0)
            return count == 4 ? "truncated \\uXXXX escape" : "truncated \\UXXXXXXXX escape";
        cp = cp * 16 + (uint32_t)hexval((unsigned char)s[*i]);
    }
    if (cp > 0x10FFFF)
        return "\\Uxxxxxxxx out of range";
    put_utf8(k, cp);
    return NULL;
}

const char *py_decode_raw_unicode_line(arena *a, const char *line, size_t len, uint64_t keep,
                                       value *out)
{
    sink k;
    size_t max_out = len > SIZE_MAX / 2 ? SIZE_MAX / 2 : len * 2; /* latin-1 -> <= 2 bytes */
    if (!sink_open(a, &k, max_out, keep))
        return "out of memory";
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)line[i++];
        if (c != '\\' || i >= len) {
            put_utf8(&k, c);
            continue;
        }
        unsigned char e = (unsigned char)line[i++];
        if (e == 'u' || e == 'U') {
            const char *err = unicode_escape(line, len, &i, e == 'u' ? 4 : 8, &k);
            if (err)
                return err;
        } else {
            put_utf8(&k, '\\');
            put_utf8(&k, e);
        }
    }
    sink_value(&k, V_STR, out);
    return NULL;
}

/* Length of the ASCII run at the start of s, 8 bytes at a time. */
static size_t ascii_prefix(const uint8_t *s, size_t len)
{
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            break;
    }
    while (i < len && s[i] < 0x80)
        i++;
    return i;
}

int py_ascii_valid(const uint8_t *s, size_t len)
{
    return ascii_prefix(s, len) == len;
}

/* Length of the UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_seq(const uint8_t *s, size_t left, int allow_surrogates)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (c == 0xE0 && s[1] < 0xA0)
        return 0; /* overlong */
    if (c == 0xED && s[1] >= 0xA0 && !allow_surrogates)
        return 0;
    if (c == 0xF0 && s[1] < 0x90)
        return 0; /* overlong */
    if (c == 0xF4 && s[1] >= 0x90)
        return 0; /* > U+10FFFF */
    return n;
}

int py_utf8_valid(const uint8_t *s, size_t len, int allow_surrogates)
{
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            i += ascii_prefix(s + i, len - i);
            continue;
        }
        size_t n = utf8_seq(s + i, len - i, allow_surrogates);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

void py_long_from_bytes(const uint8_t *p, size_t n, value *out)
{
    *out = v_make(V_INT);
    if (n == 0)
        return;
    if (n > 8) {
        /* fits only if the extra bytes are pure sign extension */
        uint8_t fill = (p[n - 1] & 0x80) ? 0xFF : 0x00;
        for (size_t i = 8; i < n; i++)
            if (p[i] != fill || ((p[7] & 0x80) != (fill & 0x80))) {
                out->flags |= VF_BIGINT;
                return;
            }
        n = 8;
    }
    uint64_t u = 0;
    for (size_t i = 0; i < n; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (n < 8 && (p[n - 1] & 0x80))
        u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
    out->u.i = (int64_t)u;
}
