/* SPDX-License-Identifier: Apache-2.0 */
/* The value-free fast path (pickle_lite.c, lite_objects.c). */
#ifndef CKPT_PICKLE_LITE_H
#define CKPT_PICKLE_LITE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "scan.h"

struct pickle_hooks;

/* An allowlisted name the fast path saw imported, in first-seen order. */
typedef struct lite_import {
    const char *module, *name, *resolved; /* NUL-terminated, in names */
    size_t module_len, name_len, resolved_len;
    uint64_t offset; /* of its first GLOBAL */
    uint64_t count, calls;
    int weights_only;
    int graded;      /* its calls are judged with their arguments (policy_grade.h) */
    int newobj_only; /* a class whose NEWOBJ (with no keywords) passes its check */
} lite_import;

typedef struct lite_result {
    size_t end;
    size_t frame_end; /* pickle_result.frame_end */
    int protocol;
    uint64_t opcodes;
    int weights_only_ok;
    const char *weights_only_reason; /* static text; "" when accepted */
    /* offset of the first opcode that reaches code (an import or a
     * persistent id: pickle_first_effect's), SIZE_MAX when there is none */
    size_t first_effect;
    lite_import *imports; /* owned: lite_result_release() */
    size_t nimports;
    arena names;
    /* whether buf[start..end] and the byte after it name joblib or its
     * wrapper (lite_names_joblib), searched during the walk when
     * ctx->joblib (-1 when not searched) */
    int names_joblib;
} lite_result;

/* 1 when buf[start..] is a complete pickle on which the full interpreter
 * would report nothing but allowlisted imports and calls (then *out
 * describes it, imports included: record them with lite_record_imports,
 * then lite_result_release); 0 otherwise, having added nothing anywhere and
 * holding nothing: run the full interpreter. */
int pickle_lite(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t start,
                const struct pickle_hooks *hooks, lite_result *out);

/* Adds the imports to the report exactly as the full interpreter would have
 * while walking the same pickle. */
void lite_record_imports(const lite_result *r, ckpt_report *rep, const char *member);
void lite_result_release(lite_result *r);

/* 1 when p[0..n) holds "joblib" or "ArrayWrapper" (joblib.load's reading
 * may differ: formats.c), one pass for both. */
int lite_names_joblib(const uint8_t *p, size_t n);

#endif
