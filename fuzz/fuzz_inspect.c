/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: inspection of an in-memory buffer. Invariants: the
 * inspection succeeds and is never milder than the plain scan of the same
 * bytes; every tensor, member and entry is well formed (strings set, shape
 * present when ndim > 0, storage users >= 1, totals add up); the JSON with
 * its inspection object is balanced, printable ASCII. */
#include <stdint.h>
#include <stdlib.h>

#include "ckptscan.h"
#include "json_check.h"

static ckpt_scanner *scanner;

static void check_tensors(const ckpt_report *r)
{
    uint64_t tensors = 0;
    for (size_t i = 0; i < ckpt_report_dtype_count(r); i++) {
        ckpt_dtype_total d;
        if (ckpt_report_dtype_total(r, i, &d) != CKPT_OK || !d.dtype)
            abort();
        tensors += d.tensors;
    }
    if (tensors != ckpt_report_tensor_count(r))
        abort();
    for (size_t i = 0; i < ckpt_report_tensor_count(r); i++) {
        ckpt_tensor t;
        if (ckpt_report_tensor(r, i, &t) != CKPT_OK)
            abort();
        if (!t.path || !t.member || !t.rebuild || !t.dtype || !t.storage_key || !t.device ||
            !t.problem || (t.ndim && !t.shape) || (t.has_stride && t.ndim && !t.stride) ||
            t.storage_users < 1)
            abort();
    }
    if (ckpt_report_tensor(r, ckpt_report_tensor_count(r), &(ckpt_tensor){0}) != CKPT_ERR_RANGE)
        abort();
}

static void check_rest(const ckpt_report *r)
{
    for (size_t i = 0; i < ckpt_report_member_count(r); i++) {
        ckpt_member m;
        if (ckpt_report_member(r, i, &m) != CKPT_OK || !m.name || !m.method_name)
            abort();
    }
    for (size_t i = 0; i < ckpt_report_entry_count(r); i++) {
        ckpt_entry e;
        if (ckpt_report_entry(r, i, &e) != CKPT_OK || !e.key || !e.kind || !e.summary)
            abort();
    }
    for (size_t i = 0; i <= ckpt_report_import_count(r); i++)
        if (!ckpt_report_import_usage(r, i))
            abort();
    ckpt_torch_info t;
    ckpt_report_torch_info(r, &t);
    if (!t.layout || !t.version || !t.byteorder || !t.main_member)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!scanner) {
        if (ckpt_scanner_new(&scanner) != CKPT_OK)
            abort();
        ckpt_scanner_set_limit(scanner, CKPT_LIMIT_MEMORY, 64u << 20);
        ckpt_scanner_set_limit(scanner, CKPT_LIMIT_DECOMPRESSED, 16u << 20);
    }
    ckpt_report *scan = NULL, *r = NULL;
    if (ckpt_scan_mem(scanner, data, size, "fuzz", &scan) != CKPT_OK ||
        ckpt_inspect_mem(scanner, data, size, "fuzz", &r) != CKPT_OK || !ckpt_report_inspected(r))
        abort();
    if (ckpt_report_verdict(r) < ckpt_report_verdict(scan) ||
        ckpt_report_verdict(r) == CKPT_VERDICT_ERROR)
        abort();
    check_tensors(r);
    check_rest(r);
    json_check j = {0, 0, 0, 0};
    if (ckpt_report_write_json(r, check_json, &j) != CKPT_OK || !json_ok(&j))
        abort();
    ckpt_report_free(scan);
    ckpt_report_free(r);
    return 0;
}
