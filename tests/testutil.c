/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the test executables. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

ckpt_report *scan_bytes(const ckpt_scanner *s, const void *data, size_t len)
{
    ckpt_scanner *own = NULL;
    if (!s) {
        if (ckpt_scanner_new(&own) != CKPT_OK)
            abort();
        s = own;
    }
    ckpt_report *r = NULL;
    if (ckpt_scan_mem(s, data, len, "test", &r) != CKPT_OK || !r)
        abort();
    ckpt_scanner_free(own);
    return r;
}

ckpt_report *scan_pickle_bytes(const ckpt_scanner *s, const void *data, size_t len)
{
    ckpt_scanner *own = NULL;
    if (!s) {
        if (ckpt_scanner_new(&own) != CKPT_OK)
            abort();
        s = own;
    }
    ckpt_report *r = report_new("test", s->limits[CKPT_LIMIT_FINDINGS], s->strict);
    if (!r)
        abort();
    scan_ctx ctx = {.sc = s, .nest = &formats_nested, .rep = r};
    r->size = len;
    if (len)
        read_pickle_stream(&ctx, "", data, len, &r->format);
    ctx_release(&ctx);
    ckpt_scanner_free(own);
    return r;
}

long find_code(const ckpt_report *r, ckpt_code code, long long offset)
{
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        if (f.code == code && (offset < 0 || f.offset == (uint64_t)offset))
            return (long)i;
    }
    return -1;
}

int has_call(const ckpt_report *r, const char *call)
{
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        if (strcmp(f.call, call) == 0)
            return 1;
    }
    return 0;
}

int has_import(const ckpt_report *r, const char *module, const char *name, int *allowed)
{
    for (size_t i = 0; i < ckpt_report_import_count(r); i++) {
        ckpt_import im;
        ckpt_report_import(r, i, &im);
        if (strcmp(im.module, module) == 0 && strcmp(im.name, name) == 0) {
            if (allowed)
                *allowed = im.allowed;
            return 1;
        }
    }
    return 0;
}

int label_accepts(const char *label, ckpt_verdict v)
{
    if (strcmp(label, "safe") == 0)
        return v == CKPT_VERDICT_SAFE;
    if (strcmp(label, "dangerous") == 0)
        return v == CKPT_VERDICT_DANGEROUS;
    if (strcmp(label, "flagged") == 0)
        return v == CKPT_VERDICT_SUSPICIOUS || v == CKPT_VERDICT_DANGEROUS;
    if (strcmp(label, "not-dangerous") == 0)
        return v == CKPT_VERDICT_SAFE || v == CKPT_VERDICT_SUSPICIOUS;
    return 0;
}

void dump_report(const ckpt_report *r)
{
    fprintf(stderr, "verdict %s, %zu findings\n", ckpt_verdict_name(ckpt_report_verdict(r)),
            ckpt_report_finding_count(r));
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        fprintf(stderr, "  %s @%llu %s: %s [%s]\n", ckpt_code_name(f.code),
                (unsigned long long)f.offset, f.opcode, f.message, f.call);
    }
}

int membuf_write(void *ctx, const char *bytes, size_t len)
{
    membuf *b = ctx;
    char *q = realloc(b->p, b->n + len + 1);
    if (!q)
        return -1;
    memcpy(q + b->n, bytes, len);
    b->p = q;
    b->n += len;
    b->p[b->n] = '\0';
    return 0;
}

membuf report_json(ckpt_report *r)
{
    membuf b = {NULL, 0};
    if (ckpt_report_write_json(r, membuf_write, &b) != CKPT_OK)
        abort();
    ckpt_report_free(r);
    return b;
}

int report_is_exactly(const ckpt_report *r, ckpt_verdict verdict, const int *codes,
                      const char *label)
{
    int ok = ckpt_report_verdict(r) == verdict;
    size_t want = 0;
    for (; codes[want] != -1; want++)
        ok &= find_code(r, (ckpt_code)codes[want], -1) >= 0;
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        int listed = 0;
        ok &= ckpt_report_finding(r, i, &f) == CKPT_OK;
        for (size_t j = 0; j < want; j++)
            listed |= codes[j] == (int)f.code;
        ok &= listed;
    }
    if (!ok) {
        fprintf(stderr, "%s: expected %s\n", label, ckpt_verdict_name(verdict));
        dump_report(r);
    }
    return ok;
}
