/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the report writer on hostile strings. The input is cut
 * into a module and a name for a GLOBAL line and into a string argument, so
 * every byte value reaches the JSON escaper through a real report. The JSON
 * must be printable ASCII with balanced brackets outside strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckptscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct check {
    long depth;
    int in_string, escaped, bad;
} check;

static int sink(void *ctx, const char *bytes, size_t len)
{
    check *c = ctx;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)bytes[i];
        c->bad |= b < 0x20 || b >= 0x7f;
        if (c->in_string) {
            if (c->escaped)
                c->escaped = 0;
            else if (b == '\\')
                c->escaped = 1;
            else if (b == '"')
                c->in_string = 0;
        } else if (b == '"') {
            c->in_string = 1;
        } else if (b == '{' || b == '[') {
            c->depth++;
        } else if (b == '}' || b == ']') {
            c->depth--;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ckpt_scanner *s;
    if (!s && ckpt_scanner_new(&s) != CKPT_OK)
        abort();
    /* BINUNICODE8-free layout: GLOBAL line with raw bytes (newlines removed),
     * then a SHORT_BINBYTES argument and REDUCE */
    size_t half = size / 2 > 200 ? 200 : size / 2;
    uint8_t *p = malloc(size + 32);
    if (!p)
        abort();
    size_t n = 0;
    p[n++] = 'c';
    for (size_t i = 0; i < half; i++)
        p[n++] = data[i] == '\n' ? ' ' : data[i];
    p[n++] = '\n';
    p[n++] = 'x';
    p[n++] = '\n';
    size_t arg = size - half > 255 ? 255 : size - half;
    p[n++] = 'C';
    p[n++] = (uint8_t)arg;
    memcpy(p + n, data + half, arg);
    n += arg;
    p[n++] = 0x85; /* TUPLE1 */
    p[n++] = 'R';
    p[n++] = '.';
    char name[64]; /* the input's first bytes also name the file */
    size_t nl = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
    memcpy(name, data, nl);
    name[nl] = '\0';
    ckpt_report *r = NULL;
    if (ckpt_scan_mem(s, p, n, name, &r) != CKPT_OK)
        abort();
    check c = {0, 0, 0, 0};
    if (ckpt_report_write_json(r, sink, &c) != CKPT_OK || c.bad || c.depth || c.in_string)
        abort();
    ckpt_report_free(r);
    free(p);
    return 0;
}
