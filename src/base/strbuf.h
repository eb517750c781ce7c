/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded, growable string builder: output past `max` is cut and marked. */
#ifndef CKPT_STRBUF_H
#define CKPT_STRBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct strbuf {
    char *data; /* NUL-terminated when len > 0 or after sb_cstr */
    size_t len;
    size_t cap;
    size_t max;    /* content never grows past this */
    int truncated; /* something was cut at max */
    int no_mem;
} strbuf;

void sb_init(strbuf *sb, size_t max);
void sb_free(strbuf *sb);
void sb_reset(strbuf *sb);
void sb_putc(strbuf *sb, char c);
void sb_putn(strbuf *sb, const char *s, size_t n);
void sb_puts(strbuf *sb, const char *s);
void sb_printf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Always returns a valid C string ("" when empty or out of memory). */
const char *sb_cstr(strbuf *sb);
/* Room left before max. */
size_t sb_room(const strbuf *sb);

#endif
