/* SPDX-License-Identifier: Apache-2.0 */
/* Report storage and its public accessors. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_REPORT_STRING 4096

ckpt_report *report_new(const char *path, uint64_t max_findings, int strict)
{
    ckpt_report *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    arena_init(&r->mem, UINT64_MAX);
    r->max_findings = max_findings;
    r->strict = strict;
    r->path = report_strdup(r, path ? path : "");
    return r;
}

void ckpt_report_free(ckpt_report *r)
{
    if (!r)
        return;
    arena_release(&r->mem);
    free(r->findings);
    free(r->imports);
    free(r->import_slots);
    free(r->pickles);
    if (r->insp)
        r->insp_free(r->insp);
    free(r);
}

/* Copies len bytes (NULs kept), cut at MAX_REPORT_STRING with "..."; sets
 * *out_len. Never NULL. */
static const char *report_memdup(ckpt_report *r, bstr b, size_t *out_len)
{
    int cut = b.n > MAX_REPORT_STRING;
    size_t n = cut ? MAX_REPORT_STRING : b.n;
    char *p = arena_alloc(&r->mem, n + 4);
    if (!p) {
        *out_len = 0;
        return "";
    }
    if (n)
        memcpy(p, b.p, n);
    strcpy(p + n, cut ? "..." : "");
    *out_len = n + (cut ? 3 : 0);
    return p;
}

const char *report_strdup(ckpt_report *r, const char *s)
{
    if (!s || !*s)
        return "";
    size_t len = strnlen(s, MAX_REPORT_STRING + 1);
    int cut = len > MAX_REPORT_STRING;
    if (cut)
        len = MAX_REPORT_STRING;
    char *p = arena_alloc(&r->mem, len + 4);
    if (!p)
        return "";
    memcpy(p, s, len);
    strcpy(p + len, cut ? "..." : "");
    return p;
}

/* Grows *array (of elem_size) to hold one more element. */
static int grow(void **array, size_t *cap, size_t count, size_t elem_size)
{
    if (count < *cap)
        return 1;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = reallocarray(*array, ncap, elem_size);
    if (!p)
        return 0;
    *array = p;
    *cap = ncap;
    return 1;
}

static ckpt_severity effective_severity(const ckpt_report *r, const finding_in *f)
{
    ckpt_severity sev = f->severity < 0 ? ckpt_code_severity(f->code) : (ckpt_severity)f->severity;
    if (r->strict && f->code == CKPT_F_UNKNOWN_IMPORT)
        sev = CKPT_SEV_DANGEROUS;
    return sev;
}

void report_add(ckpt_report *r, const finding_in *f)
{
    ckpt_severity sev = effective_severity(r, f);
    if (!r->has_findings || sev > r->worst)
        r->worst = sev;
    r->has_findings = 1;
    if (r->nfindings >= r->max_findings ||
        !grow((void **)&r->findings, &r->findings_cap, r->nfindings, sizeof(ckpt_finding))) {
        r->dropped_findings++;
        return;
    }
    ckpt_finding *out = &r->findings[r->nfindings++];
    out->code = f->code;
    out->severity = sev;
    out->member = report_strdup(r, f->member);
    out->offset = f->offset;
    out->opcode = report_strdup(r, f->opcode);
    out->global = report_strdup(r, f->global);
    out->call = report_strdup(r, f->call);
    out->message = report_strdup(r, f->message ? f->message : ckpt_code_description(f->code));
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211u;
    return (h ^ 0xff) * 1099511628211u; /* a separator no byte equals */
}

static uint64_t import_hash(bstr module, bstr name, bstr resolved)
{
    uint64_t h = fnv(1469598103934665603u, module.p, module.n);
    h = fnv(h, name.p, name.n);
    return fnv(h, resolved.p, resolved.n);
}

/* The stored copy of b (cut at MAX_REPORT_STRING) equals b's first bytes. */
static int same_prefix(const char *stored, size_t stored_len, bstr b)
{
    size_t n = b.n > MAX_REPORT_STRING ? MAX_REPORT_STRING : b.n;
    return stored_len >= n && memcmp(stored, b.p, n) == 0;
}

static int rehash(ckpt_report *r)
{
    size_t cap = r->slots_cap ? r->slots_cap * 2 : 64;
    size_t *slots = malloc(cap * sizeof(size_t));
    if (!slots)
        return 0;
    for (size_t i = 0; i < cap; i++)
        slots[i] = SIZE_MAX;
    for (size_t i = 0; i < r->nimports; i++) {
        size_t s = r->imports[i].hash & (cap - 1);
        while (slots[s] != SIZE_MAX)
            s = (s + 1) & (cap - 1);
        slots[s] = i;
    }
    free(r->import_slots);
    r->import_slots = slots;
    r->slots_cap = cap;
    return 1;
}

/* Equal when the stored (possibly cut) copies match and the full hashes do. */
static int same_import(const import_rec *rec, uint64_t h, bstr module, bstr name, bstr resolved)
{
    return rec->hash == h && same_prefix(rec->pub.module, rec->pub.module_len, module) &&
           same_prefix(rec->pub.name, rec->pub.name_len, name) &&
           same_prefix(rec->pub.resolved, rec->pub.resolved_len, resolved);
}

/* Index of the import, or SIZE_MAX with *slot = the free slot for it. */
static size_t lookup(const ckpt_report *r, bstr module, bstr name, bstr resolved, size_t *slot)
{
    if (r->slots_cap == 0)
        return SIZE_MAX;
    uint64_t h = import_hash(module, name, resolved);
    size_t s = h & (r->slots_cap - 1);
    for (; r->import_slots[s] != SIZE_MAX; s = (s + 1) & (r->slots_cap - 1))
        if (same_import(&r->imports[r->import_slots[s]], h, module, name, resolved))
            return r->import_slots[s];
    if (slot)
        *slot = s;
    return SIZE_MAX;
}

size_t report_find_import(const ckpt_report *r, bstr module, bstr name, bstr resolved)
{
    size_t i = lookup(r, module, name, resolved, NULL);
    if (i != SIZE_MAX)
        ((ckpt_report *)r)->imports[i].pub.count++;
    return i;
}

size_t report_add_import(ckpt_report *r, bstr module, bstr name, bstr resolved, ckpt_code cls,
                         int allowed, int weights_only, const char *member, uint64_t offset)
{
    if ((r->nimports + 1) * 2 > r->slots_cap && !rehash(r))
        return SIZE_MAX;
    size_t slot;
    if (lookup(r, module, name, resolved, &slot) != SIZE_MAX)
        return SIZE_MAX; /* callers look up first */
    if (!grow((void **)&r->imports, &r->imports_cap, r->nimports, sizeof(import_rec)))
        return SIZE_MAX;
    import_rec *rec = &r->imports[r->nimports];
    rec->hash = import_hash(module, name, resolved);
    rec->weights_only = weights_only;
    rec->noted = 0;
    rec->user_denied = 0;
    memset(&rec->pub, 0, sizeof(rec->pub));
    rec->pub.module = report_memdup(r, module, &rec->pub.module_len);
    rec->pub.name = report_memdup(r, name, &rec->pub.name_len);
    rec->pub.resolved = report_memdup(r, resolved, &rec->pub.resolved_len);
    rec->pub.class_code = cls;
    rec->pub.allowed = allowed;
    rec->pub.count = 1;
    rec->pub.member = report_strdup(r, member);
    rec->pub.offset = offset;
    r->import_slots[slot] = r->nimports;
    return r->nimports++;
}

void report_note_call(ckpt_report *r, size_t i)
{
    if (i < r->nimports)
        r->imports[i].pub.calls++;
}

void report_add_import_uses(ckpt_report *r, size_t i, uint64_t count, uint64_t calls)
{
    if (i < r->nimports) {
        r->imports[i].pub.count += count;
        r->imports[i].pub.calls += calls;
    }
}

uint64_t report_import_calls(const ckpt_report *r, size_t i)
{
    return i < r->nimports ? r->imports[i].pub.calls : 0;
}

void report_add_pickle(ckpt_report *r, const ckpt_pickle *p)
{
    if (!grow((void **)&r->pickles, &r->pickles_cap, r->npickles, sizeof(ckpt_pickle)))
        return;
    ckpt_pickle *out = &r->pickles[r->npickles++];
    *out = *p;
    out->member = report_strdup(r, p->member);
    out->weights_only_reason = report_strdup(r, p->weights_only_reason);
}

static int is_parse_error(ckpt_code c)
{
    return c == CKPT_F_TRUNCATED || c == CKPT_F_BAD_OPCODE || c == CKPT_F_STACK_ERROR ||
           c == CKPT_F_MEMO_ERROR || c == CKPT_F_MALFORMED;
}

int report_did_anything(const ckpt_report *r)
{
    if (r->nimports || r->dropped_findings)
        return 1;
    /* two completed opcodes are more than a container's first bytes that
     * happen to be an opcode ever give (a failing opcode is counted too) */
    for (size_t i = 0; i < r->npickles; i++)
        if (r->pickles[i].complete || r->pickles[i].opcodes >= 3)
            return 1;
    /* info findings (a bare persistent id, which plain pickle.load refuses
     * and torch only accepts for storages) run nothing */
    for (size_t i = 0; i < r->nfindings; i++)
        if (!is_parse_error(r->findings[i].code) && r->findings[i].severity != CKPT_SEV_INFO)
            return 1;
    return 0;
}

int report_only_parse_errors(const ckpt_report *r, size_t from)
{
    return report_only_parse_errors_range(r, from, r->nfindings);
}

int report_only_parse_errors_range(const ckpt_report *r, size_t from, size_t to)
{
    for (size_t i = from; i < to && i < r->nfindings; i++)
        if (!is_parse_error(r->findings[i].code) && r->findings[i].severity != CKPT_SEV_INFO)
            return 0;
    return 1;
}

void report_truncate(ckpt_report *r, size_t nfindings, size_t npickles)
{
    if (nfindings < r->nfindings)
        r->nfindings = nfindings;
    if (npickles < r->npickles)
        r->npickles = npickles;
    r->has_findings = r->nfindings > 0 || r->dropped_findings > 0;
    if (r->dropped_findings)
        return; /* the dropped ones still grade the file */
    r->worst = CKPT_SEV_INFO;
    for (size_t i = 0; i < r->nfindings; i++)
        if (r->findings[i].severity > r->worst)
            r->worst = r->findings[i].severity;
}

/* A note on how a walk parsed (an error, an anomaly), not on what it
 * imported or called, and not dangerous. */
static int structural(const ckpt_finding *f)
{
    return is_parse_error(f->code) || (f->severity != CKPT_SEV_DANGEROUS &&
                                       (!f->global || !*f->global) && (!f->call || !*f->call));
}

static int same_finding(const ckpt_finding *a, const ckpt_finding *b)
{
    return a->code == b->code && a->offset == b->offset && strcmp(a->member, b->member) == 0 &&
           strcmp(a->message, b->message) == 0;
}

/* 1 when one of dst's first n findings is f. */
static int has_finding(const ckpt_report *dst, size_t n, const ckpt_finding *f)
{
    for (size_t j = 0; j < n; j++)
        if (same_finding(&dst->findings[j], f))
            return 1;
    return 0;
}

/* Adds src's findings (those dst does not have among its first `dedupe`,
 * with dedupe 0 meaning all) and its dropped count to dst. */
static void merge_findings(ckpt_report *dst, const ckpt_report *src, size_t dedupe, int drop_errors)
{
    for (size_t i = 0; i < src->nfindings; i++) {
        const ckpt_finding *f = &src->findings[i];
        if ((dedupe && has_finding(dst, dedupe, f)) || (drop_errors && is_parse_error(f->code)) ||
            (drop_errors > 1 && structural(f)))
            continue;
        finding_in in = {f->code,   (int)f->severity, f->member, f->offset,
                         f->opcode, f->global,        f->call,   f->message};
        report_add(dst, &in);
    }
    if (src->dropped_findings) {
        /* another reading of the same bytes drops what this one did */
        if (!dedupe)
            dst->dropped_findings += src->dropped_findings;
        else if (src->dropped_findings > dst->dropped_findings)
            dst->dropped_findings = src->dropped_findings;
        if (!dst->has_findings || src->worst > dst->worst)
            dst->worst = src->worst;
        dst->has_findings = 1;
    }
}

/* dst's record of src's import i (added when new, with count 0), or NULL. */
static ckpt_import *merged_import(ckpt_report *dst, const ckpt_report *src, size_t i)
{
    const ckpt_import *im = &src->imports[i].pub;
    bstr m = {im->module, im->module_len}, n = {im->name, im->name_len};
    bstr res = {im->resolved, im->resolved_len};
    size_t j = lookup(dst, m, n, res, NULL);
    if (j == SIZE_MAX) {
        j = report_add_import(dst, m, n, res, im->class_code, im->allowed,
                              src->imports[i].weights_only, im->member, im->offset);
        if (j == SIZE_MAX)
            return NULL;
        dst->imports[j].pub.count = 0;
    }
    return &dst->imports[j].pub;
}

void report_merge(ckpt_report *dst, const ckpt_report *src)
{
    report_merge_filtered(dst, src, 0, 1);
}

void report_merge_filtered(ckpt_report *dst, const ckpt_report *src, int drop_errors,
                           int with_pickles)
{
    merge_findings(dst, src, 0, drop_errors);
    for (size_t i = 0; i < src->nimports; i++) {
        ckpt_import *out = merged_import(dst, src, i);
        if (out) {
            out->count += src->imports[i].pub.count;
            out->calls += src->imports[i].pub.calls;
        }
    }
    for (size_t i = 0; with_pickles && i < src->npickles; i++)
        report_add_pickle(dst, &src->pickles[i]);
}

/* Another reading of the same bytes: what it adds, counted at most as
 * often as the reading that saw it most. */
void report_merge_reading(ckpt_report *dst, const ckpt_report *src)
{
    report_merge_reading_filtered(dst, src, 0);
}

void report_merge_reading_filtered(ckpt_report *dst, const ckpt_report *src, int drop_errors)
{
    merge_findings(dst, src, dst->nfindings, drop_errors);
    for (size_t i = 0; i < src->nimports; i++) {
        const ckpt_import *im = &src->imports[i].pub;
        ckpt_import *out = merged_import(dst, src, i);
        if (!out)
            continue;
        out->count = out->count > im->count ? out->count : im->count;
        out->calls = out->calls > im->calls ? out->calls : im->calls;
    }
}

/* ---- public accessors ---- */

ckpt_verdict ckpt_report_verdict(const ckpt_report *r)
{
    if (!r || r->status != CKPT_OK)
        return CKPT_VERDICT_ERROR;
    if (!r->has_findings || r->worst == CKPT_SEV_INFO)
        return CKPT_VERDICT_SAFE;
    return r->worst == CKPT_SEV_DANGEROUS ? CKPT_VERDICT_DANGEROUS : CKPT_VERDICT_SUSPICIOUS;
}

const char *ckpt_report_path(const ckpt_report *r)
{
    return r ? r->path : "";
}

ckpt_format ckpt_report_format(const ckpt_report *r)
{
    return r ? r->format : CKPT_FORMAT_UNKNOWN;
}

ckpt_status ckpt_report_status(const ckpt_report *r)
{
    return r ? r->status : CKPT_ERR_ARG;
}

uint64_t ckpt_report_size(const ckpt_report *r)
{
    return r ? r->size : 0;
}

size_t ckpt_report_finding_count(const ckpt_report *r)
{
    return r ? r->nfindings : 0;
}

ckpt_status ckpt_report_finding(const ckpt_report *r, size_t i, ckpt_finding *out)
{
    if (!r || !out || i >= r->nfindings)
        return CKPT_ERR_RANGE;
    *out = r->findings[i];
    return CKPT_OK;
}

size_t ckpt_report_import_count(const ckpt_report *r)
{
    return r ? r->nimports : 0;
}

ckpt_status ckpt_report_import(const ckpt_report *r, size_t i, ckpt_import *out)
{
    if (!r || !out || i >= r->nimports)
        return CKPT_ERR_RANGE;
    *out = r->imports[i].pub;
    return CKPT_OK;
}

size_t ckpt_report_pickle_count(const ckpt_report *r)
{
    return r ? r->npickles : 0;
}

ckpt_status ckpt_report_pickle(const ckpt_report *r, size_t i, ckpt_pickle *out)
{
    if (!r || !out || i >= r->npickles)
        return CKPT_ERR_RANGE;
    *out = r->pickles[i];
    return CKPT_OK;
}
