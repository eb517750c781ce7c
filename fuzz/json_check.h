/* JSON helpers shared by the fuzz targets: a writer sink that checks the
 * output is printable ASCII with balanced brackets and closed strings, and
 * a byte-for-byte comparison of two reports. */
#ifndef CKPT_FUZZ_JSON_CHECK_H
#define CKPT_FUZZ_JSON_CHECK_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ckptscan.h"

typedef struct json_check {
    long depth;
    int in_string, escaped, bad;
} json_check;

static inline int check_json(void *ctx, const char *bytes, size_t len)
{
    json_check *j = ctx;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c < 0x20 || c >= 0x7f)
            j->bad = 1;
        if (j->in_string) {
            if (j->escaped)
                j->escaped = 0;
            else if (c == '\\')
                j->escaped = 1;
            else if (c == '"')
                j->in_string = 0;
        } else if (c == '"') {
            j->in_string = 1;
        } else if (c == '{' || c == '[') {
            j->depth++;
        } else if (c == '}' || c == ']') {
            j->depth--;
        }
    }
    return 0;
}

/* 1 when everything written so far was well formed and complete. */
static inline int json_ok(const json_check *j)
{
    return !j->bad && j->depth == 0 && !j->in_string;
}

/* A report's JSON, captured whole (aborts on no memory). */
typedef struct json_text {
    char *p;
    size_t n, cap;
} json_text;

static inline int capture_json(void *ctx, const char *bytes, size_t len)
{
    json_text *t = ctx;
    if (t->n + len > t->cap) {
        size_t cap = (t->n + len) * 2;
        char *q = realloc(t->p, cap);
        if (!q)
            abort();
        t->p = q;
        t->cap = cap;
    }
    memcpy(t->p + t->n, bytes, len);
    t->n += len;
    return 0;
}

/* 1 when the two reports' JSON is byte-identical. */
static inline int same_json(const ckpt_report *a, const ckpt_report *b)
{
    json_text ta = {0}, tb = {0};
    int same = ckpt_report_write_json(a, capture_json, &ta) == CKPT_OK &&
               ckpt_report_write_json(b, capture_json, &tb) == CKPT_OK && ta.n == tb.n &&
               memcmp(ta.p, tb.p, ta.n) == 0;
    free(ta.p);
    free(tb.p);
    return same;
}

#endif
