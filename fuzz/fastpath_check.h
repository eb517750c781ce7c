/* SPDX-License-Identifier: Apache-2.0 */
/* The fast path against the full interpreter (fuzz_pickle, fuzz_fastpath):
 * their reports must be byte-identical JSON. One divergence is by design:
 * the interpreter's max-memory counts the values it builds and the fast
 * path builds none, so where the interpreter runs out of memory (a huge
 * memo index, say) the fast path may walk the pickle to its end and report
 * what it does instead of a limit. */
#ifndef CKPT_FUZZ_FASTPATH_CHECK_H
#define CKPT_FUZZ_FASTPATH_CHECK_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ckptscan.h"

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

static inline int interpreter_out_of_memory(const ckpt_report *r)
{
    static const char prefix[] = "max-memory: interpreter memory limit";
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        if (ckpt_report_finding(r, i, &f) == CKPT_OK && f.code == CKPT_F_LIMIT &&
            strncmp(f.message, prefix, sizeof(prefix) - 1) == 0)
            return 1;
    }
    return 0;
}

static inline int fast_matches_full(const ckpt_report *fast, const ckpt_report *full)
{
    return same_json(fast, full) || interpreter_out_of_memory(full);
}

#endif
