/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded string builder used for rendering calls, messages and reports. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_init(strbuf *sb, size_t max)
{
    memset(sb, 0, sizeof(*sb));
    sb->max = max;
}

void sb_free(strbuf *sb)
{
    free(sb->data);
    sb_init(sb, sb->max);
}

void sb_reset(strbuf *sb)
{
    sb->len = 0;
    sb->truncated = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

size_t sb_room(const strbuf *sb)
{
    return sb->max > sb->len ? sb->max - sb->len : 0;
}

static int reserve(strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 1;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) {
        sb->no_mem = 1;
        return 0;
    }
    sb->data = p;
    sb->cap = cap;
    return 1;
}

void sb_putn(strbuf *sb, const char *s, size_t n)
{
    size_t room = sb_room(sb);
    if (n > room) {
        n = room;
        sb->truncated = 1;
    }
    if (n == 0 || !reserve(sb, n))
        return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void sb_putc(strbuf *sb, char c)
{
    sb_putn(sb, &c, 1);
}

void sb_puts(strbuf *sb, const char *s)
{
    sb_putn(sb, s, strlen(s));
}

void sb_printf(strbuf *sb, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        sb_putn(sb, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        sb->no_mem = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_putn(sb, big, (size_t)n);
    free(big);
}

const char *sb_cstr(strbuf *sb)
{
    return sb->data && sb->len ? sb->data : "";
}
