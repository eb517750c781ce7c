/* SPDX-License-Identifier: Apache-2.0 */
/* Checks, in a writer's sink, that JSON output is printable ASCII with
 * balanced brackets and closed strings (shared by the fuzz targets). */
#ifndef CKPT_FUZZ_JSON_CHECK_H
#define CKPT_FUZZ_JSON_CHECK_H

#include <stddef.h>

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

#endif
