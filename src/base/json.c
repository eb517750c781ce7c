/* SPDX-License-Identifier: Apache-2.0 */
/* Buffered JSON writer with safe escaping of arbitrary bytes. */
#include "json.h"

#include <stdio.h>
#include <string.h>

void jw_init(jw *w, ckpt_write_fn fn, void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->fn = fn;
    w->ctx = ctx;
}

static void flush(jw *w)
{
    if (w->n && !w->failed && w->fn(w->ctx, w->buf, w->n) != 0)
        w->failed = 1;
    w->n = 0;
}

ckpt_status jw_finish(jw *w)
{
    flush(w);
    return w->failed ? CKPT_ERR_IO : CKPT_OK;
}

void jw_raw(jw *w, const char *s, size_t n)
{
    while (n > 0 && !w->failed) {
        size_t room = sizeof(w->buf) - w->n;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->n, s, k);
        w->n += k;
        s += k;
        n -= k;
        if (w->n == sizeof(w->buf))
            flush(w);
    }
}

static void put(jw *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

/* Separator before a value in an array or a key in an object. */
static void sep(jw *w)
{
    if (w->need_comma)
        jw_raw(w, ",", 1);
    w->need_comma = 1;
}

void jw_begin(jw *w, char bracket)
{
    sep(w);
    jw_raw(w, &bracket, 1);
    w->need_comma = 0;
}

void jw_end(jw *w, char bracket)
{
    jw_raw(w, &bracket, 1);
    w->need_comma = 1;
}

void jw_key(jw *w, const char *key)
{
    jw_str(w, key);
    jw_raw(w, ":", 1);
    w->need_comma = 0;
}

static void put_u16_escape(jw *w, unsigned cp)
{
    char e[8];
    snprintf(e, sizeof(e), "\\u%04x", cp & 0xFFFF);
    jw_raw(w, e, 6);
}

/* Decodes one UTF-8 sequence; returns its length or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t left, unsigned *cp)
{
    unsigned c = s[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4 || n > left)
        return 0;
    unsigned v = c & (0x3Fu >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

static void put_codepoint(jw *w, unsigned cp)
{
    if (cp >= 0x10000) {
        cp -= 0x10000;
        put_u16_escape(w, 0xD800 + (cp >> 10));
        put_u16_escape(w, 0xDC00 + (cp & 0x3FF));
    } else {
        put_u16_escape(w, cp);
    }
}

static void put_ascii(jw *w, unsigned char c)
{
    static const char *const named[] = {
        ['"'] = "\\\"", ['\\'] = "\\\\", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t"};
    if (c < sizeof(named) / sizeof(named[0]) && named[c])
        put(w, named[c]);
    else if (c < 0x20 || c == 0x7F)
        put_u16_escape(w, c);
    else
        jw_raw(w, (const char *)&c, 1);
}

void jw_strn(jw *w, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    sep(w);
    jw_raw(w, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned cp;
        size_t k;
        if (p[i] < 0x80) {
            put_ascii(w, p[i++]);
        } else if ((k = utf8_decode(p + i, n - i, &cp)) != 0) {
            put_codepoint(w, cp);
            i += k;
        } else {
            put_u16_escape(w, 0xDC00 + p[i++]); /* surrogateescape */
        }
    }
    jw_raw(w, "\"", 1);
}

void jw_str(jw *w, const char *s)
{
    jw_strn(w, s ? s : "", s ? strlen(s) : 0);
}

void jw_u64(jw *w, uint64_t x)
{
    char b[24];
    sep(w);
    put(w, (snprintf(b, sizeof(b), "%llu", (unsigned long long)x), b));
}

void jw_int(jw *w, long long x)
{
    char b[24];
    sep(w);
    put(w, (snprintf(b, sizeof(b), "%lld", x), b));
}

void jw_bool(jw *w, int b)
{
    sep(w);
    put(w, b ? "true" : "false");
}

void jw_null(jw *w)
{
    sep(w);
    put(w, "null");
}

void jw_kstr(jw *w, const char *key, const char *s)
{
    jw_key(w, key);
    jw_str(w, s);
}

void jw_ku64(jw *w, const char *key, uint64_t x)
{
    jw_key(w, key);
    jw_u64(w, x);
}

void jw_kbool(jw *w, const char *key, int b)
{
    jw_key(w, key);
    jw_bool(w, b);
}
