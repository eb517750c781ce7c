/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the results-cache parser (ckpt_report_load) on hostile
 * bytes. A report it accepts must save to bytes that load again and save to
 * the same bytes, and must render as JSON; anything else must be refused
 * without a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckptscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct bytes {
    char *p;
    size_t n;
} bytes;

static int append(void *ctx, const char *p, size_t n)
{
    bytes *b = ctx;
    char *q = realloc(b->p, b->n + n + 1);
    if (!q)
        return -1;
    memcpy(q + b->n, p, n);
    b->p = q;
    b->n += n;
    return 0;
}

static int discard(void *ctx, const char *p, size_t n)
{
    (void)ctx, (void)p, (void)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ckpt_report *r = NULL;
    if (ckpt_report_load(data, size, "fuzz", &r) != CKPT_OK)
        return 0;
    bytes once = {NULL, 0}, twice = {NULL, 0};
    if (ckpt_report_save(r, append, &once) != CKPT_OK ||
        ckpt_report_write_json(r, discard, NULL) != CKPT_OK)
        abort();
    ckpt_report *again = NULL;
    if (ckpt_report_load(once.p, once.n, "fuzz", &again) != CKPT_OK ||
        ckpt_report_save(again, append, &twice) != CKPT_OK || once.n != twice.n ||
        memcmp(once.p, twice.p, once.n) != 0 ||
        ckpt_report_verdict(again) != ckpt_report_verdict(r))
        abort();
    ckpt_report_free(again);
    ckpt_report_free(r);
    free(once.p);
    free(twice.p);
    return 0;
}
