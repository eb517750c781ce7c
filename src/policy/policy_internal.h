/* SPDX-License-Identifier: Apache-2.0 */
/* Between the policy text parser and the policy object: parsed entries. */
#ifndef CKPT_POLICY_INTERNAL_H
#define CKPT_POLICY_INTERNAL_H

#include <stddef.h>

#include "ckptscan.h"

typedef enum policy_line_kind { PL_ALLOW, PL_DENY, PL_PROFILE } policy_line_kind;

/* One meaningful line. `name` points into the parsed text (not terminated):
 * the pattern as written, ".*" included. */
typedef struct policy_line {
    policy_line_kind kind;
    const char *name;
    size_t len;
    ckpt_code code; /* PL_DENY: category */
    int profile;    /* PL_PROFILE: built-in profile index */
} policy_line;

typedef struct policy_lines {
    policy_line *v;
    size_t n, cap;
} policy_lines;

/* Category of a `deny` line that names none: importing any module runs its
 * top-level code, so "evaluates code" is the one category true of every
 * name. */
#define POLICY_DEFAULT_DENY_CODE CKPT_F_EXEC

/* Parses the whole text into *out (which must start zeroed) before anything
 * is applied. Returns 0; -1 on a syntax error with *error_line = its 1-based
 * line; -2 on no memory. *out is owned by the caller (policy_lines_free) in
 * every case. */
int policy_parse_text(const char *text, size_t len, policy_lines *out, size_t *error_line);
void policy_lines_free(policy_lines *l);

#endif
