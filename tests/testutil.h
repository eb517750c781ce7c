/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the test executables (public API only). */
#ifndef CKPT_TESTUTIL_H
#define CKPT_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ckptscan.h"

/* Scans bytes with a default scanner (or `s` when not NULL); never NULL. */
ckpt_report *scan_bytes(const ckpt_scanner *s, const void *data, size_t len);
/* Walks bytes as a pickle stream whatever they look like (as torch reads
 * data.pkl): the pickle reading alone, without the rule that drops a
 * reading that ran nothing. Never NULL. */
ckpt_report *scan_pickle_bytes(const ckpt_scanner *s, const void *data, size_t len);
/* Index of the first finding with `code` (and offset when offset >= 0), or -1. */
long find_code(const ckpt_report *r, ckpt_code code, long long offset);
/* 1 when some finding's call equals `call`. */
int has_call(const ckpt_report *r, const char *call);
/* 1 when the report lists an import with this module and name. */
int has_import(const ckpt_report *r, const char *module, const char *name, int *allowed);
/* 1 when verdict v satisfies a ../shared/corpus/labels.tsv label (safe,
 * dangerous, flagged, not-dangerous). */
int label_accepts(const char *label, ckpt_verdict v);
/* What a writer callback received, NUL-terminated (the caller frees p). */
typedef struct membuf {
    char *p;
    size_t n;
} membuf;
/* A writer callback (ckpt_report_write_json, ckpt_report_save,
 * ckpt_convert_safetensors, ...) appending to the membuf ctx; -1 when out
 * of memory. */
int membuf_write(void *ctx, const char *bytes, size_t len);
/* Writes r as JSON and frees r; aborts when the writer fails. */
membuf report_json(ckpt_report *r);
/* Prints the report's findings (for failing tests). */
void dump_report(const ckpt_report *r);
/* 1 when r has this verdict and exactly these finding codes (each at least
 * once, no other; the list ends at -1); otherwise dumps r under label, 0. */
int report_is_exactly(const ckpt_report *r, ckpt_verdict verdict, const int *codes,
                      const char *label);

#define SCAN_LIT(s, lit) scan_bytes((s), (lit), sizeof(lit) - 1)

#endif
