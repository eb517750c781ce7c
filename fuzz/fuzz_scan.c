/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the whole scan of an in-memory buffer. Invariants:
 * the scan succeeds, the verdict is a real one, an error finding is never
 * SAFE, and the JSON writer produces balanced, printable ASCII. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckptscan.h"
#include "json_check.h"

static ckpt_scanner *scanner;

static int is_error_code(ckpt_code c)
{
    return c == CKPT_F_TRUNCATED || c == CKPT_F_BAD_OPCODE || c == CKPT_F_STACK_ERROR ||
           c == CKPT_F_MEMO_ERROR || c == CKPT_F_MALFORMED || c == CKPT_F_LIMIT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!scanner) {
        if (ckpt_scanner_new(&scanner) != CKPT_OK)
            abort();
        /* keep each run small and fast */
        ckpt_scanner_set_limit(scanner, CKPT_LIMIT_MEMORY, 64u << 20);
        ckpt_scanner_set_limit(scanner, CKPT_LIMIT_DECOMPRESSED, 16u << 20);
    }
    ckpt_report *r = NULL;
    if (ckpt_scan_mem(scanner, data, size, "fuzz", &r) != CKPT_OK || !r)
        abort();
    ckpt_verdict v = ckpt_report_verdict(r);
    if (v == CKPT_VERDICT_ERROR)
        abort();
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        if (ckpt_report_finding(r, i, &f) != CKPT_OK || !f.message || !f.member)
            abort();
        if (is_error_code(f.code) && v == CKPT_VERDICT_SAFE)
            abort();
    }
    json_check j = {0, 0, 0, 0};
    if (ckpt_report_write_json(r, check_json, &j) != CKPT_OK || !json_ok(&j))
        abort();
    ckpt_report_free(r);
    return 0;
}
