/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the pickle interpreter alone on raw bytes (white-box),
 * with tight limits so every path including limit hits is reached.
 * Invariants: every pickle record is consistent (end within the input, a
 * complete pickle ends after its start), an error never leaves SAFE, and
 * the fast path's report is the full interpreter's, byte for byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastpath_check.h"
#include "formats.h"
#include "pickle.h"
#include "report.h"
#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ckpt_scanner *make_scanner(int fast)
{
    ckpt_scanner *s;
    if (ckpt_scanner_new(&s) != CKPT_OK)
        abort();
    ckpt_scanner_set_limit(s, CKPT_LIMIT_STACK, 256);
    ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMO, 4096);
    ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMORY, 8u << 20);
    ckpt_scanner_set_limit(s, CKPT_LIMIT_ITEMS, 4);
    ckpt_scanner_set_limit(s, CKPT_LIMIT_STRING, 64);
    s->no_fast_path = !fast;
    return s;
}

static ckpt_report *scan(const ckpt_scanner *s, const uint8_t *data, size_t size, size_t *done)
{
    ckpt_report *r = report_new("fuzz", 100, 0);
    if (!r)
        abort();
    scan_ctx ctx = {.sc = s, .nest = &formats_nested, .rep = r};
    *done = size ? pickle_scan_all(&ctx, "", data, size, 0, 1) : 0;
    ctx_release(&ctx);
    return r;
}

/* The fast path and the full interpreter agree on everything reported
 * (fastpath_check.h). */
static void same_outcome(const ckpt_report *a, const ckpt_report *b)
{
    if (!fast_matches_full(a, b))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ckpt_scanner *s, *full;
    if (!s) {
        s = make_scanner(1);
        full = make_scanner(0);
    }
    size_t complete, complete_full;
    ckpt_report *r = scan(s, data, size, &complete);
    ckpt_report *rf = scan(full, data, size, &complete_full);
    same_outcome(r, rf);
    ckpt_report_free(rf);
    size_t done = 0;
    for (size_t i = 0; i < r->npickles; i++) {
        const ckpt_pickle *p = &r->pickles[i];
        if (p->member[0] == '\0' &&
            (p->end > size || p->offset > p->end || (p->complete && p->end == p->offset)))
            abort();
        done += (size_t)(p->complete && p->member[0] == '\0'); /* not embedded ones */
        if (!p->complete && ckpt_report_verdict(r) == CKPT_VERDICT_SAFE)
            abort();
    }
    if (done != complete)
        abort();
    ckpt_report_free(r);
    return 0;
}
