/* SPDX-License-Identifier: Apache-2.0 */
/* The scanner object: limits, strictness and policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

ckpt_status ckpt_scanner_new(ckpt_scanner **out)
{
    if (!out)
        return CKPT_ERR_ARG;
    *out = NULL;
    ckpt_scanner *s = calloc(1, sizeof(*s));
    if (!s)
        return CKPT_ERR_NOMEM;
    for (int i = 0; i < CKPT_LIMIT_COUNT_; i++)
        s->limits[i] = ckpt_limit_default((ckpt_limit)i);
    s->pol = policy_new();
    if (!s->pol) {
        free(s);
        return CKPT_ERR_NOMEM;
    }
    *out = s;
    return CKPT_OK;
}

void ckpt_scanner_free(ckpt_scanner *s)
{
    if (!s)
        return;
    policy_free(s->pol);
    free(s);
}

/* Upper bounds that keep internal arithmetic (32-bit string lengths,
 * size_t offsets) safe. */
static uint64_t limit_ceiling(ckpt_limit l)
{
    switch (l) {
    case CKPT_LIMIT_STRING: return UINT64_C(1) << 30;
    case CKPT_LIMIT_ITEMS: return UINT64_C(1) << 30;
    case CKPT_LIMIT_STACK: return UINT64_C(1) << 32;
    case CKPT_LIMIT_DEPTH: return 1000;
    default: return UINT64_MAX / 4;
    }
}

ckpt_status ckpt_scanner_set_limit(ckpt_scanner *s, ckpt_limit l, uint64_t value)
{
    if (!s)
        return CKPT_ERR_ARG;
    if ((unsigned)l >= CKPT_LIMIT_COUNT_ || value == 0 || value > limit_ceiling(l))
        return CKPT_ERR_RANGE;
    s->limits[l] = value;
    return CKPT_OK;
}

uint64_t ckpt_scanner_limit(const ckpt_scanner *s, ckpt_limit l)
{
    if (!s || (unsigned)l >= CKPT_LIMIT_COUNT_)
        return 0;
    return s->limits[l];
}

void ckpt_scanner_set_strict(ckpt_scanner *s, int strict)
{
    if (s)
        s->strict = strict != 0;
}

ckpt_status ckpt_scanner_use_profile(ckpt_scanner *s, const char *profile)
{
    if (!s || !profile)
        return CKPT_ERR_ARG;
    int rc = policy_use_profile(s->pol, profile);
    return rc == 0 ? CKPT_OK : rc == -2 ? CKPT_ERR_NOMEM : CKPT_ERR_ARG;
}

ckpt_status ckpt_scanner_add_policy(ckpt_scanner *s, const char *text, size_t len,
                                    size_t *error_line)
{
    if (!s || (!text && len))
        return CKPT_ERR_ARG;
    int rc = policy_add_text(s->pol, text ? text : "", len, error_line);
    return rc == 0 ? CKPT_OK : rc == -2 ? CKPT_ERR_NOMEM : CKPT_ERR_POLICY;
}

#define MAX_POLICY_FILE (16u << 20)

ckpt_status ckpt_scanner_add_policy_file(ckpt_scanner *s, const char *path, size_t *error_line)
{
    if (!s || !path)
        return CKPT_ERR_ARG;
    FILE *f = fopen(path, "rb");
    if (!f)
        return CKPT_ERR_NOT_FOUND;
    char *text = malloc(MAX_POLICY_FILE);
    if (!text) {
        fclose(f);
        return CKPT_ERR_NOMEM;
    }
    size_t n = fread(text, 1, MAX_POLICY_FILE, f);
    int bad = ferror(f) || (n == MAX_POLICY_FILE && fgetc(f) != EOF);
    fclose(f);
    ckpt_status st = bad ? CKPT_ERR_IO : ckpt_scanner_add_policy(s, text, n, error_line);
    free(text);
    return st;
}

ckpt_status ckpt_scanner_write_config(const ckpt_scanner *s, ckpt_write_fn write, void *ctx)
{
    if (!s || !write)
        return CKPT_ERR_ARG;
    char line[160];
    int n = snprintf(line, sizeof(line), "ckptscan %s\nstrict %d\n", ckpt_version(), s->strict);
    if (write(ctx, line, (size_t)n) != 0)
        return CKPT_ERR_IO;
    for (int l = 0; l < CKPT_LIMIT_COUNT_; l++) {
        n = snprintf(line, sizeof(line), "limit %s %llu\n", ckpt_limit_name((ckpt_limit)l),
                     (unsigned long long)s->limits[l]);
        if (write(ctx, line, (size_t)n) != 0)
            return CKPT_ERR_IO;
    }
    return policy_write_rules(s->pol, write, ctx) == 0 ? CKPT_OK : CKPT_ERR_IO;
}
