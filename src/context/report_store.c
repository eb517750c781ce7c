/* SPDX-License-Identifier: Apache-2.0 */
/* A scan report as bytes and back (for a results cache), every field checked on the way in. */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

#define STORE_MAGIC   "CKPTREP1"
#define MAX_STORE_STR (4096 + 3) /* report_strdup's cut plus "..." */

/* ---- Writing --------------------------------------------------------------- */

typedef struct out_sink {
    ckpt_write_fn write;
    void *ctx;
    int failed;
} out_sink;

static void put(out_sink *o, const void *p, size_t n)
{
    if (!o->failed && n && o->write(o->ctx, p, n) != 0)
        o->failed = 1;
}

static void put_u64(out_sink *o, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put(o, b, 8);
}

static void put_bytes(out_sink *o, const char *s, size_t n)
{
    put_u64(o, n);
    put(o, s, n);
}

static void put_str(out_sink *o, const char *s)
{
    put_bytes(o, s, strlen(s));
}

static void put_finding(out_sink *o, const ckpt_finding *f)
{
    put_u64(o, (uint64_t)f->code);
    put_u64(o, (uint64_t)f->severity);
    put_str(o, f->member);
    put_u64(o, f->offset);
    put_str(o, f->opcode);
    put_str(o, f->global);
    put_str(o, f->call);
    put_str(o, f->message);
}

static void put_import(out_sink *o, const import_rec *rec)
{
    const ckpt_import *im = &rec->pub;
    put_bytes(o, im->module, im->module_len);
    put_bytes(o, im->name, im->name_len);
    put_bytes(o, im->resolved, im->resolved_len);
    put_u64(o, (uint64_t)im->class_code);
    put_u64(o, (uint64_t)im->allowed);
    put_u64(o, (uint64_t)rec->weights_only);
    put_u64(o, im->count);
    put_u64(o, im->calls);
    put_str(o, im->member);
    put_u64(o, im->offset);
}

static void put_pickle(out_sink *o, const ckpt_pickle *p)
{
    put_str(o, p->member);
    put_u64(o, p->offset);
    put_u64(o, p->end);
    put_u64(o, (uint64_t)(int64_t)p->protocol);
    put_u64(o, p->opcodes);
    put_u64(o, (uint64_t)p->complete);
    put_u64(o, (uint64_t)p->weights_only_ok);
    put_str(o, p->weights_only_reason);
}

ckpt_status ckpt_report_save(const ckpt_report *r, ckpt_write_fn write, void *ctx)
{
    if (!r || !write || r->insp)
        return CKPT_ERR_ARG;
    out_sink o = {write, ctx, 0};
    put(&o, STORE_MAGIC, 8);
    put_u64(&o, (uint64_t)r->format);
    put_u64(&o, (uint64_t)r->status);
    put_u64(&o, r->size);
    put_u64(&o, (uint64_t)r->strict);
    put_u64(&o, r->max_findings);
    put_u64(&o, r->dropped_findings);
    put_u64(&o, (uint64_t)r->worst);
    put_u64(&o, (uint64_t)r->has_findings);
    put_u64(&o, r->nfindings);
    for (size_t i = 0; i < r->nfindings; i++)
        put_finding(&o, &r->findings[i]);
    put_u64(&o, r->nimports);
    for (size_t i = 0; i < r->nimports; i++)
        put_import(&o, &r->imports[i]);
    put_u64(&o, r->npickles);
    for (size_t i = 0; i < r->npickles; i++)
        put_pickle(&o, &r->pickles[i]);
    return o.failed ? CKPT_ERR_IO : CKPT_OK;
}

/* ---- Reading --------------------------------------------------------------- */

typedef struct in {
    const uint8_t *p;
    size_t left;
    int bad;
    ckpt_report *r; /* owns the strings */
} in;

static uint64_t get_u64(in *i)
{
    if (i->bad || i->left < 8) {
        i->bad = 1;
        return 0;
    }
    uint64_t v = load_le64(i->p);
    i->p += 8;
    i->left -= 8;
    return v;
}

/* A value below `limit`, else the input is bad. */
static uint64_t get_below(in *i, uint64_t limit)
{
    uint64_t v = get_u64(i);
    if (v >= limit)
        i->bad = 1;
    return i->bad ? 0 : v;
}

/* Bytes (NULs allowed when `nul_ok`) copied into the report with a NUL. */
static const char *get_bytes(in *i, size_t *len, int nul_ok)
{
    uint64_t n = get_u64(i);
    if (i->bad || n > MAX_STORE_STR || n > i->left || (!nul_ok && memchr(i->p, 0, (size_t)n))) {
        i->bad = 1;
        *len = 0;
        return "";
    }
    char *s = arena_strndup(&i->r->mem, (const char *)i->p, (size_t)n);
    if (!s)
        i->bad = 1;
    i->p += n;
    i->left -= (size_t)n;
    *len = (size_t)n;
    return s ? s : "";
}

static const char *get_str(in *i)
{
    size_t n;
    return get_bytes(i, &n, 0);
}

/* A count of records, each at least `min_size` bytes, allocated as `elem` each. */
static void *get_array(in *i, size_t min_size, size_t elem, size_t *n)
{
    uint64_t c = get_u64(i);
    *n = 0;
    if (i->bad || c > i->left / min_size) {
        i->bad = 1;
        return NULL;
    }
    void *v = c ? calloc((size_t)c, elem) : NULL;
    if (c && !v)
        i->bad = 1;
    else
        *n = (size_t)c;
    return v;
}

static void get_finding(in *i, ckpt_finding *f)
{
    f->code = (ckpt_code)get_below(i, CKPT_F_COUNT_);
    f->severity = (ckpt_severity)get_below(i, CKPT_SEV_DANGEROUS + 1);
    f->member = get_str(i);
    f->offset = get_u64(i);
    f->opcode = get_str(i);
    f->global = get_str(i);
    f->call = get_str(i);
    f->message = get_str(i);
}

static void get_import(in *i, import_rec *rec)
{
    ckpt_import *im = &rec->pub;
    im->module = get_bytes(i, &im->module_len, 1);
    im->name = get_bytes(i, &im->name_len, 1);
    im->resolved = get_bytes(i, &im->resolved_len, 1);
    im->class_code = (ckpt_code)get_below(i, CKPT_F_COUNT_);
    im->allowed = (int)get_below(i, 2);
    rec->weights_only = (int)get_below(i, 2);
    im->count = get_u64(i);
    im->calls = get_u64(i);
    im->member = get_str(i);
    im->offset = get_u64(i);
}

static void get_pickle(in *i, ckpt_pickle *p)
{
    p->member = get_str(i);
    p->offset = get_u64(i);
    p->end = get_u64(i);
    uint64_t proto = get_u64(i);
    if (proto > 255) /* PROTO's operand is one byte */
        i->bad = 1;
    p->protocol = (int)(proto & 0xff);
    p->opcodes = get_u64(i);
    p->complete = (int)get_below(i, 2);
    p->weights_only_ok = (int)get_below(i, 2);
    p->weights_only_reason = get_str(i);
}

/* Bytes per record at the least: each u64 and each length prefix. */
enum { FINDING_MIN = 8 * 8, IMPORT_MIN = 11 * 8, PICKLE_MIN = 8 * 8 };

static void get_lists(in *i, ckpt_report *r)
{
    r->findings = get_array(i, FINDING_MIN, sizeof(ckpt_finding), &r->nfindings);
    r->findings_cap = r->nfindings;
    for (size_t k = 0; k < r->nfindings && !i->bad; k++)
        get_finding(i, &r->findings[k]);
    r->imports = get_array(i, IMPORT_MIN, sizeof(import_rec), &r->nimports);
    r->imports_cap = r->nimports;
    for (size_t k = 0; k < r->nimports && !i->bad; k++)
        get_import(i, &r->imports[k]);
    r->pickles = get_array(i, PICKLE_MIN, sizeof(ckpt_pickle), &r->npickles);
    r->pickles_cap = r->npickles;
    for (size_t k = 0; k < r->npickles && !i->bad; k++)
        get_pickle(i, &r->pickles[k]);
}

/* The grade must be the one the findings give, so that stored bytes cannot
 * make a verdict the findings do not support. */
static int grade_consistent(const ckpt_report *r)
{
    if (r->nfindings > r->max_findings || (r->dropped_findings && !r->has_findings))
        return 0;
    if (r->has_findings != (r->nfindings > 0 || r->dropped_findings > 0))
        return 0;
    ckpt_severity worst = CKPT_SEV_INFO;
    for (size_t k = 0; k < r->nfindings; k++)
        if (r->findings[k].severity > worst)
            worst = r->findings[k].severity;
    return r->dropped_findings ? r->worst >= worst : r->worst == worst;
}

ckpt_status ckpt_report_load(const void *data, size_t len, const char *name, ckpt_report **out)
{
    if (!out)
        return CKPT_ERR_ARG;
    *out = NULL;
    if (!data || len < 8 || memcmp(data, STORE_MAGIC, 8) != 0)
        return CKPT_ERR_ARG;
    in i = {(const uint8_t *)data + 8, len - 8, 0, NULL};
    uint64_t format = get_below(&i, CKPT_FORMAT_COUNT_);
    uint64_t status = get_below(&i, CKPT_ERR_ACCESS + 1);
    uint64_t size = get_u64(&i);
    uint64_t strict = get_below(&i, 2);
    uint64_t max_findings = get_u64(&i);
    if (i.bad)
        return CKPT_ERR_ARG;
    ckpt_report *r = report_new(name, max_findings, (int)strict);
    if (!r)
        return CKPT_ERR_NOMEM;
    i.r = r;
    r->format = (ckpt_format)format;
    r->status = (ckpt_status)status;
    r->size = size;
    r->dropped_findings = get_u64(&i);
    r->worst = (ckpt_severity)get_below(&i, CKPT_SEV_DANGEROUS + 1);
    r->has_findings = (int)get_below(&i, 2);
    get_lists(&i, r);
    if (i.bad || i.left != 0 || !grade_consistent(r)) {
        ckpt_report_free(r);
        return CKPT_ERR_ARG;
    }
    *out = r;
    return CKPT_OK;
}
