/* libFuzzer target: the pickle interpreter alone on raw bytes (white-box),
 * with tight limits so every path including limit hits is reached.
 * Invariants: every pickle record is consistent (end within the input, a
 * complete pickle ends after its start) and an error never leaves SAFE. */
#include <stdint.h>
#include <stdlib.h>

#include "pickle.h"
#include "report.h"
#include "scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ckpt_scanner *s;
    if (!s) {
        if (ckpt_scanner_new(&s) != CKPT_OK)
            abort();
        ckpt_scanner_set_limit(s, CKPT_LIMIT_STACK, 256);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMO, 4096);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMORY, 8u << 20);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_ITEMS, 4);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_STRING, 64);
    }
    ckpt_report *r = report_new("fuzz", 100, 0);
    if (!r)
        abort();
    scan_ctx ctx = {s, r, 0, NULL, 0, 0, NULL};
    size_t complete = size ? pickle_scan_all(&ctx, "", data, size, 0, 1) : 0;
    ctx_release(&ctx);
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
