/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the whole scan of a buffer (zip, joblib, legacy, bare
 * pickle, ...) with and without the fast path. Where the pickle fuzzer
 * walks pickles alone, this one reaches the fast path through the readers
 * that call it, with their hooks (joblib's BUILD) and their member names.
 * Invariant: the two JSON reports are byte-identical. */
#include <stdint.h>
#include <stdlib.h>

#include "fastpath_check.h"
#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ckpt_scanner *make_scanner(int fast)
{
    ckpt_scanner *s;
    if (ckpt_scanner_new(&s) != CKPT_OK)
        abort();
    ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMORY, 64u << 20);
    ckpt_scanner_set_limit(s, CKPT_LIMIT_DECOMPRESSED, 16u << 20);
    s->no_fast_path = !fast;
    return s;
}

static ckpt_report *scan(const ckpt_scanner *s, const uint8_t *data, size_t size)
{
    ckpt_report *r = NULL;
    if (ckpt_scan_mem(s, data, size, "fuzz", &r) != CKPT_OK || !r)
        abort();
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ckpt_scanner *fast, *full;
    if (!fast) {
        fast = make_scanner(1);
        full = make_scanner(0);
    }
    ckpt_report *a = scan(fast, data, size), *b = scan(full, data, size);
    if (!fast_matches_full(a, b))
        abort();
    ckpt_report_free(a);
    ckpt_report_free(b);
    return 0;
}
