/* SPDX-License-Identifier: Apache-2.0 */
/* Shared harness for the per-reader fuzz targets: runs one reader on the
 * input with small limits and checks the report's invariants (an error
 * finding is never SAFE; every pickle record lies inside what was read). */
#ifndef CKPT_FUZZ_READER_H
#define CKPT_FUZZ_READER_H

#include <stdlib.h>

#include "formats.h"
#include "report.h"

typedef int (*reader_fn)(scan_ctx *ctx, const uint8_t *buf, size_t len);

static inline int is_error_code(ckpt_code c)
{
    return c == CKPT_F_TRUNCATED || c == CKPT_F_BAD_OPCODE || c == CKPT_F_STACK_ERROR ||
           c == CKPT_F_MEMO_ERROR || c == CKPT_F_MALFORMED || c == CKPT_F_LIMIT ||
           c == CKPT_F_UNSCANNED_MEMBER;
}

static inline void fuzz_reader(reader_fn reader, const uint8_t *data, size_t size)
{
    static ckpt_scanner *s;
    if (!s) {
        if (ckpt_scanner_new(&s) != CKPT_OK)
            abort();
        ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMORY, 32u << 20);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_DECOMPRESSED, 8u << 20);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMBERS, 1000);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_DEPTH, 4);
    }
    ckpt_report *r = report_new("fuzz", 200, 0);
    if (!r)
        abort();
    scan_ctx ctx = {.sc = s, .nest = &formats_nested, .rep = r};
    reader(&ctx, data, size);
    ctx_release(&ctx);
    int error = 0;
    for (size_t i = 0; i < r->nfindings; i++)
        error |= is_error_code(r->findings[i].code);
    if (error && ckpt_report_verdict(r) == CKPT_VERDICT_SAFE)
        abort();
    for (size_t i = 0; i < r->npickles; i++)
        if (r->pickles[i].offset > r->pickles[i].end)
            abort();
    ckpt_report_free(r);
}

#endif
