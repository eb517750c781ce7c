/* SPDX-License-Identifier: Apache-2.0 */
/* Writes the safetensors header (format: safetensors' README, "Format"). */
#include "safetensors_write.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const struct {
    const char *torch, *st;
    uint32_t size;
} dtypes[] = {
    {"float64", "F64", 8},
    {"float32", "F32", 4},
    {"float16", "F16", 2},
    {"bfloat16", "BF16", 2},
    {"int64", "I64", 8},
    {"int32", "I32", 4},
    {"int16", "I16", 2},
    {"int8", "I8", 1},
    {"uint8", "U8", 1},
    {"bool", "BOOL", 1},
    {"float8_e4m3fn", "F8_E4M3", 1},
    {"float8_e5m2", "F8_E5M2", 1},
    {"uint16", "U16", 2},
    {"uint32", "U32", 4},
    {"uint64", "U64", 8},
};

const char *st_dtype(const char *torch_dtype, uint32_t *elsize)
{
    for (size_t i = 0; i < ARRAY_LEN(dtypes); i++)
        if (strcmp(torch_dtype, dtypes[i].torch) == 0) {
            *elsize = dtypes[i].size;
            return dtypes[i].st;
        }
    *elsize = 0;
    return NULL;
}

/* Length of the UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (!n || s[0] > 0xf4)
        return 0;
    uint32_t cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int st_utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (!n)
            return 0;
        p += n;
    }
    return 1;
}

static int entry_cmp(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->elsize != y->elsize)
        return x->elsize > y->elsize ? -1 : 1;
    return strcmp(x->name, y->name);
}

uint64_t st_layout(st_entry *e, size_t n)
{
    if (n)
        qsort(e, n, sizeof(*e), entry_cmp);
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        e[i].begin = at;
        if (add_overflows(at, e[i].nbytes, &at))
            return UINT64_MAX;
        e[i].end = at;
    }
    return at;
}

/* A JSON string: valid UTF-8 passes through, quotes, backslashes and
 * control bytes are escaped. */
static void put_string(strbuf *sb, const char *s)
{
    sb_putc(sb, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            sb_putc(sb, '\\');
            sb_putc(sb, (char)c);
        } else if (c < 0x20 || c == 0x7f) {
            sb_printf(sb, "\\u%04x", c);
        } else {
            sb_putc(sb, (char)c);
        }
    }
    sb_putc(sb, '"');
}

static void put_entry(strbuf *sb, const st_entry *e)
{
    put_string(sb, e->name);
    sb_puts(sb, ":{\"dtype\":");
    put_string(sb, e->dtype);
    sb_puts(sb, ",\"shape\":[");
    for (size_t d = 0; d < e->ndim; d++)
        sb_printf(sb, "%s%" PRId64, d ? "," : "", e->shape[d]);
    sb_printf(sb, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", e->begin, e->end);
}

int st_header(strbuf *sb, const st_entry *e, size_t n, const st_meta *meta, size_t nmeta)
{
    size_t start = sb->len;
    sb_putn(sb, "\0\0\0\0\0\0\0\0", 8);
    sb_putc(sb, '{');
    if (nmeta) {
        sb_puts(sb, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i)
                sb_putc(sb, ',');
            put_string(sb, meta[i].key);
            sb_putc(sb, ':');
            put_string(sb, meta[i].value);
        }
        sb_putc(sb, '}');
    }
    for (size_t i = 0; i < n; i++) {
        if (i || nmeta)
            sb_putc(sb, ',');
        put_entry(sb, &e[i]);
    }
    sb_putc(sb, '}');
    while ((sb->len - start) % 8)
        sb_putc(sb, ' ');
    uint64_t hlen = sb->len - start - 8;
    if (sb->no_mem || sb->truncated || hlen > ST_HEADER_MAX)
        return 0;
    for (int i = 0; i < 8; i++)
        sb->data[start + (size_t)i] = (char)(hlen >> (8 * i));
    return 1;
}
