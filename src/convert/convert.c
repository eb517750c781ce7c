/* SPDX-License-Identifier: Apache-2.0 */
/* ckpt_convert_safetensors: inspect the file, decide whether every tensor
 * torch.load would return can be written honestly (verdict SAFE, dtypes
 * safetensors has, views inside their storage records), then write the
 * header and stream the bytes (convert_data.c). Nothing reaches the sink
 * before the whole plan holds. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "scan.h"
#include "util.h"

const char *ckpt_convert_outcome_name(ckpt_convert_outcome o)
{
    static const char *const names[] = {"written", "not-safe", "unsupported", "refused"};
    return (unsigned)o < ARRAY_LEN(names) ? names[o] : "refused";
}

ckpt_convert_outcome conv_decide(ckpt_conversion *c, ckpt_convert_outcome o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
    c->outcome = o;
    return o;
}

/* ---- what safetensors cannot express ---- */

static int is_plain_rebuild(const char *r)
{
    return strcmp(r, "torch._utils._rebuild_tensor") == 0 ||
           strcmp(r, "torch._utils._rebuild_tensor_v2") == 0 ||
           strcmp(r, "torch._utils._rebuild_tensor_v3") == 0 || !*r;
}

/* Why t cannot be a safetensors tensor, or NULL; *st gets its dtype. */
static const char *unsupported(const ckpt_tensor *t, const char **st, uint32_t *elsize)
{
    static char why[160];
    *st = st_dtype(t->dtype, elsize);
    if (strstr(t->rebuild, "qtensor") || (t->dtype[0] == 'q' && !*st))
        return "quantized";
    if (strstr(t->rebuild, "sparse"))
        return "sparse";
    if (strstr(t->rebuild, "nested"))
        return "nested";
    if (strstr(t->rebuild, "meta_tensor"))
        return "meta tensor (no data)";
    if (!is_plain_rebuild(t->rebuild)) {
        snprintf(why, sizeof(why), "rebuilt by %.120s", t->rebuild);
        return why;
    }
    if (strncmp(t->dtype, "complex", 7) == 0)
        return "complex";
    if (*t->dtype && !*st) {
        snprintf(why, sizeof(why), "dtype %.60s has no safetensors type", t->dtype);
        return why;
    }
    return NULL;
}

/* ---- checks that refuse the whole conversion ---- */

static int item_cmp_name(const void *a, const void *b)
{
    return strcmp(((const conv_item *)a)->pub.name, ((const conv_item *)b)->pub.name);
}

static ckpt_convert_outcome check_names(planner *p, conv_item *items, size_t n)
{
    conv_item *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (!sorted)
        return conv_decide(p->c, CKPT_CONVERT_REFUSED, "out of memory");
    memcpy(sorted, items, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), item_cmp_name);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i - 1].pub.name, sorted[i].pub.name) == 0)
            dup = sorted[i].pub.name;
    ckpt_convert_outcome o = CKPT_CONVERT_WRITTEN;
    if (dup)
        o = conv_decide(p->c, CKPT_CONVERT_REFUSED,
                        "two tensors have the name '%.200s': safetensors keys must be unique", dup);
    free(sorted);
    return o;
}

/* The storage record of t, checked against the file and t's view. */
static ckpt_convert_outcome check_record(planner *p, conv_item *it, const ckpt_tensor *t)
{
    const insp_record *r = it->rec;
    const char *name = t->path, *key = t->storage_key;
    if (!r)
        return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                           "tensor '%.200s': no record for its storage '%.60s'", name, key);
    if (!r->located)
        return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                           "tensor '%.200s': its storage '%.60s' is not in the file itself", name,
                           key);
    if (r->where.method != 0 && r->where.method != 8)
        return conv_decide(
            p->c, CKPT_CONVERT_REFUSED,
            "tensor '%.200s': storage record '%.60s' is compressed with zip method %u "
            "(torch reads stored and deflate only)",
            name, key, r->where.method);
    uint64_t in_file = r->where.method == 0 ? r->bytes : r->where.comp;
    if (!range_fits(r->where.at, in_file, p->file_size))
        return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                           "tensor '%.200s': storage record '%.60s' runs past the end of the file",
                           name, key);
    char what[300];
    snprintf(what, sizeof(what), "tensor '%.200s' (storage '%.60s')", name, key);
    return conv_check_view(p, it, what);
}

ckpt_convert_outcome conv_check_view(planner *p, const conv_item *it, const char *what)
{
    uint64_t span;
    const conv_view *v = &it->view;
    if (!conv_span(v, &span) || (v->numel && span > v->src.bytes))
        return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                           "%s: anomaly: its view needs %llu bytes of storage but the storage "
                           "record holds %llu",
                           what, (unsigned long long)span, (unsigned long long)v->src.bytes);
    if (v->src.method == 8 && v->numel && !conv_contiguous(v) &&
        span - v->offset * v->elsize > p->gather_max)
        return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                           "%s: a non-contiguous view of a deflated storage larger than "
                           "max-decompressed (%llu bytes)",
                           what, (unsigned long long)p->gather_max);
    return CKPT_CONVERT_WRITTEN;
}

ckpt_convert_outcome conv_charge(planner *p, const conv_item *it)
{
    uint64_t nbytes;
    if (mul_overflows(it->view.numel, it->view.elsize, &nbytes) ||
        add_overflows(p->total, nbytes, &p->total) || p->total > p->max_output)
        return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                           "'%.200s': the output would pass max-file-size (%llu bytes)",
                           it->pub.name, (unsigned long long)p->max_output);
    return CKPT_CONVERT_WRITTEN;
}

/* A tensor safetensors can hold: its view and record. */
static ckpt_convert_outcome plan_tensor(planner *p, conv_item *it, const insp_tensor *x,
                                        const char *st, uint32_t elsize)
{
    const ckpt_tensor *t = &x->pub;
    if (*t->problem)
        return conv_decide(p->c, CKPT_CONVERT_REFUSED, "tensor '%.200s': anomaly: %.300s", t->path,
                           t->problem);
    if (!*t->dtype || !t->has_stride || !*t->storage_key || t->storage_offset < 0 ||
        (x->elsize && x->elsize != elsize))
        return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                           "tensor '%.200s': its dtype, strides or storage are not known", t->path);
    if (!st_utf8_ok(t->path))
        return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                           "tensor '%.200s': its name is not valid UTF-8", t->path);
    it->pub.dtype = st;
    it->view =
        (conv_view){{p->fd, 0, 0, 0, 0, 0},      elsize,  p->swap, t->ndim, t->shape, t->stride,
                    (uint64_t)t->storage_offset, t->numel};
    if (conv_charge(p, it) != CKPT_CONVERT_WRITTEN)
        return CKPT_CONVERT_REFUSED;
    it->rec = insp_find_record(p->c->rep->insp, t);
    if (it->rec)
        it->view.src = (conv_source){p->fd,          it->rec->where.at,     it->rec->where.comp,
                                     it->rec->bytes, it->rec->where.method, 0};
    return check_record(p, it, t);
}

/* Each tensor of the main pickle into c->items. */
static ckpt_convert_outcome plan_tensors(planner *p)
{
    ckpt_conversion *c = p->c;
    const struct insp *in = c->rep->insp;
    c->items = calloc(in->ntensors ? in->ntensors : 1, sizeof(*c->items));
    if (!c->items)
        return conv_decide(c, CKPT_CONVERT_REFUSED, "out of memory");
    for (size_t i = 0; i < in->ntensors; i++) {
        const insp_tensor *x = &in->tensors[i];
        if (x->pickle_seq != in->entries_seq)
            continue; /* not in what torch.load returns */
        conv_item *it = &c->items[c->n++];
        const ckpt_tensor *t = &x->pub;
        it->pub = (ckpt_converted){t->path, t->dtype, t->ndim, t->shape, 0, 0, 0, ""};
        const char *st;
        uint32_t elsize;
        const char *why = unsupported(t, &st, &elsize);
        if (why) {
            it->pub.reason = report_strdup(c->rep, why);
            p->unsupported++;
            continue;
        }
        ckpt_convert_outcome o = plan_tensor(p, it, x, st, elsize);
        if (o != CKPT_CONVERT_WRITTEN)
            return o;
        it->pub.written = 1;
    }
    return CKPT_CONVERT_WRITTEN;
}

static ckpt_convert_outcome refuse_unsupported(planner *p)
{
    ckpt_conversion *c = p->c;
    char list[600];
    size_t used = 0, shown = 0;
    list[0] = 0;
    for (size_t i = 0; i < c->n && used < sizeof(list) - 1; i++)
        if (!c->items[i].pub.written && shown++ < 8)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s'%.60s' (%s)",
                                     shown > 1 ? ", " : "", c->items[i].pub.name,
                                     c->items[i].pub.reason);
    return conv_decide(c, CKPT_CONVERT_UNSUPPORTED,
                       "%zu tensor(s) safetensors cannot express: %s%s; nothing written "
                       "(--skip-unsupported leaves them out)",
                       p->unsupported, list, p->unsupported > shown ? ", ..." : "");
}

/* Deflated records are inflated once before anything is written: one that
 * does not hold its declared bytes is refused. */
static ckpt_convert_outcome check_deflated(planner *p)
{
    for (size_t i = 0; i < p->c->n; i++) {
        const conv_item *it = &p->c->items[i];
        if (!it->pub.written || it->view.src.method != 8)
            continue;
        int first = 1; /* deflated records are rare: a quadratic search is fine */
        for (size_t j = 0; j < i && first; j++)
            first = p->c->items[j].view.src.at != it->view.src.at;
        if (first && !conv_check_deflated(&it->view.src))
            return conv_decide(p->c, CKPT_CONVERT_REFUSED,
                               "'%.200s': anomaly: its deflated record does not inflate to the "
                               "%llu bytes it declares",
                               it->pub.name,
                               (unsigned long long)(it->view.src.bytes + it->view.src.skip));
    }
    return CKPT_CONVERT_WRITTEN;
}

static ckpt_convert_outcome check_file(planner *p)
{
    ckpt_conversion *c = p->c;
    ckpt_verdict v = ckpt_report_verdict(c->rep);
    ckpt_format f = ckpt_report_format(c->rep);
    if (v != CKPT_VERDICT_SAFE)
        return conv_decide(c, CKPT_CONVERT_NOT_SAFE, "verdict is %s, not safe: nothing written",
                           ckpt_verdict_name(v));
    if (f == CKPT_FORMAT_NPY || f == CKPT_FORMAT_NPZ)
        return CKPT_CONVERT_WRITTEN;
    if (f != CKPT_FORMAT_TORCH_ZIP && f != CKPT_FORMAT_TORCH_LEGACY && f != CKPT_FORMAT_TORCH_TAR)
        return conv_decide(c, CKPT_CONVERT_REFUSED,
                           "a %s file holds no torch tensors to convert: nothing written",
                           ckpt_format_name(f));
    const ckpt_torch_info *t = &c->rep->insp->torch;
    if (t->walk_incomplete)
        return conv_decide(c, CKPT_CONVERT_REFUSED,
                           "part of the object could not be inventoried: nothing written");
    int zip = strcmp(t->layout, "zip") == 0;
    if (zip && *t->byteorder && strcmp(t->byteorder, "little") != 0 &&
        strcmp(t->byteorder, "big") != 0)
        return conv_decide(
            c, CKPT_CONVERT_REFUSED,
            "byteorder record '%.40s' is neither little nor big: torch.load refuses it",
            t->byteorder);
    p->swap = zip && strcmp(t->byteorder, "big") == 0;
    return CKPT_CONVERT_WRITTEN;
}

static ckpt_convert_outcome plan(planner *p)
{
    ckpt_convert_outcome o = check_file(p);
    ckpt_format f = ckpt_report_format(p->c->rep);
    if (o == CKPT_CONVERT_WRITTEN)
        o = f == CKPT_FORMAT_NPY || f == CKPT_FORMAT_NPZ ? conv_plan_numpy(p) : plan_tensors(p);
    if (o == CKPT_CONVERT_WRITTEN)
        o = check_names(p, p->c->items, p->c->n);
    if (o == CKPT_CONVERT_WRITTEN && p->unsupported && !(p->flags & CKPT_CONVERT_SKIP_UNSUPPORTED))
        o = refuse_unsupported(p);
    if (o == CKPT_CONVERT_WRITTEN && !(p->flags & CKPT_CONVERT_CHECK_WHILE_WRITING))
        o = check_deflated(p);
    return o;
}

/* ---- writing ---- */

/* Written items first, in data order (st_layout's), then skipped ones. */
static int order_items(ckpt_conversion *c, st_entry *e, size_t *ne)
{
    conv_item *sorted = malloc((c->n ? c->n : 1) * sizeof(*sorted));
    if (!sorted)
        return 0;
    size_t n = 0, k = 0;
    for (size_t i = 0; i < c->n; i++) {
        const conv_item *it = &c->items[i];
        if (it->pub.written)
            e[n++] = (st_entry){it->pub.name,
                                it->pub.dtype,
                                it->pub.ndim,
                                it->pub.shape,
                                it->view.elsize,
                                it->view.numel * it->view.elsize,
                                0,
                                0,
                                i};
    }
    if (st_layout(e, n) == UINT64_MAX) {
        free(sorted);
        return 0;
    }
    for (size_t j = 0; j < n; j++) {
        sorted[k] = c->items[e[j].tag];
        sorted[k].pub.begin = e[j].begin;
        sorted[k++].pub.end = e[j].end;
    }
    for (size_t i = 0; i < c->n; i++)
        if (!c->items[i].pub.written)
            sorted[k++] = c->items[i];
    memcpy(c->items, sorted, c->n * sizeof(*sorted));
    free(sorted);
    *ne = n;
    return 1;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The deflated records of a conversion checked while written: their
 * offsets, sorted, and whether each was checked yet. */
typedef struct deflated {
    uint64_t *at;
    uint8_t *done;
    size_t n;
} deflated;

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int deflated_init(deflated *d, const ckpt_conversion *c)
{
    d->at = malloc((c->n ? c->n : 1) * sizeof(*d->at));
    d->done = calloc(c->n ? c->n : 1, 1);
    if (!d->at || !d->done)
        return 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->items[i].pub.written && c->items[i].view.src.method == 8)
            d->at[d->n++] = c->items[i].view.src.at;
    qsort(d->at, d->n, sizeof(*d->at), u64_cmp);
    return 1;
}

static void deflated_free(deflated *d)
{
    free(d->at);
    free(d->done);
}

/* 1 the first time the record at `at` is met (d->at unset: never). */
static int first_use(deflated *d, uint64_t at)
{
    if (!d->at)
        return 0;
    const uint64_t *p = bsearch(&at, d->at, d->n, sizeof(at), u64_cmp);
    if (!p)
        return 0;
    while (p > d->at && p[-1] == at)
        p--;
    size_t k = (size_t)(p - d->at);
    int first = !d->done[k];
    d->done[k] = 1;
    return first;
}

/* Writes one item; the first use of a deflated record checked while
 * written checks the record's whole stream: in passing when the view is
 * the whole record, else in a pass of its own. */
static int write_item(conv_out *o, deflated *d, const conv_item *it, uint64_t gather_max)
{
    const conv_view *v = &it->view;
    if (v->src.method != 8 || !first_use(d, v->src.at))
        return conv_write_view(o, v, gather_max);
    int whole = v->offset == 0 && v->numel * v->elsize == v->src.bytes && conv_contiguous(v);
    if (!whole && !conv_check_deflated(&v->src)) {
        o->bad_record = 1;
        return 0;
    }
    o->check_end = whole;
    int ok = conv_write_view(o, v, gather_max);
    o->check_end = 0;
    return ok;
}

static void bad_record(ckpt_conversion *c, const conv_item *it)
{
    conv_decide(c, CKPT_CONVERT_REFUSED,
                "'%.200s': anomaly: its deflated record does not inflate to the %llu bytes it "
                "declares (part of the output was written: discard it)",
                it->pub.name, (unsigned long long)(it->view.src.bytes + it->view.src.skip));
}

static ckpt_status write_all(ckpt_conversion *c, const char *path, unsigned flags,
                             ckpt_write_fn write, void *ctx, uint64_t gather_max)
{
    st_entry *e = malloc((c->n ? c->n : 1) * sizeof(*e));
    size_t ne = 0;
    strbuf sb;
    sb_init(&sb, ST_HEADER_MAX + 16);
    const char *src = st_utf8_ok(base_name(path)) ? base_name(path) : "";
    st_meta meta[3] = {{"format", "pt"},
                       {"source", src},
                       {"source_format", ckpt_format_name(ckpt_report_format(c->rep))}};
    if (!e || !order_items(c, e, &ne) || !st_header(&sb, e, ne, meta, 3)) {
        free(e);
        sb_free(&sb);
        conv_decide(c, CKPT_CONVERT_REFUSED, "the safetensors header cannot be built (too large?)");
        return CKPT_OK;
    }
    conv_out o = {write, ctx, malloc(CONV_CHUNK), 0, 0, 0, 0, 0, 0};
    deflated d = {NULL, NULL, 0};
    int ok = o.buf && conv_write_raw(&o, sb.data, sb.len) &&
             ((flags & CKPT_CONVERT_CHECK_WHILE_WRITING) == 0 || deflated_init(&d, c));
    const conv_item *bad = NULL;
    for (size_t i = 0; ok && i < c->n && c->items[i].pub.written; i++) {
        const conv_item *it = &c->items[i];
        ok = write_item(&o, &d, it, gather_max);
        bad = !ok && o.bad_record ? it : NULL;
    }
    c->bytes = o.total;
    free(o.buf);
    free(e);
    sb_free(&sb);
    deflated_free(&d);
    if (bad) {
        bad_record(c, bad);
        return CKPT_OK;
    }
    if (ok) {
        conv_decide(c, CKPT_CONVERT_WRITTEN, "%zu tensor(s) written, %llu bytes", ne,
                    (unsigned long long)c->bytes);
        return CKPT_OK;
    }
    conv_decide(c, CKPT_CONVERT_REFUSED, "%s",
                o.failed ? "the output could not be written" : "the input could not be read");
    return CKPT_ERR_IO;
}

/* ---- the public entry points ---- */

static ckpt_status errno_status(int e)
{
    return e == ENOENT || e == ENOTDIR ? CKPT_ERR_NOT_FOUND
           : e == EISDIR               ? CKPT_ERR_IS_DIR
           : e == ENOMEM               ? CKPT_ERR_NOMEM
                                       : CKPT_ERR_IO;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static ckpt_status convert_fd(const ckpt_scanner *s, int fd, const char *path, unsigned flags,
                              ckpt_write_fn write, void *ctx, ckpt_conversion *c)
{
    struct stat before, after;
    if (fstat(fd, &before) != 0)
        return errno_status(errno);
    if (S_ISDIR(before.st_mode))
        return CKPT_ERR_IS_DIR;
    if (!S_ISREG(before.st_mode)) {
        conv_decide(c, CKPT_CONVERT_REFUSED, "not a regular file: nothing written");
        return CKPT_OK;
    }
    ckpt_status st = ckpt_inspect_fd(s, fd, path, &c->rep);
    if (st != CKPT_OK)
        return st;
    planner p = {c,
                 fd,
                 path,
                 (uint64_t)before.st_size,
                 ckpt_scanner_limit(s, CKPT_LIMIT_DECOMPRESSED),
                 flags,
                 0,
                 0,
                 0,
                 ckpt_scanner_limit(s, CKPT_LIMIT_FILE_SIZE)};
    if (plan(&p) != CKPT_CONVERT_WRITTEN)
        return CKPT_OK;
    st = write_all(c, path, flags, write, ctx, p.gather_max);
    if (st == CKPT_OK && (fstat(fd, &after) != 0 || !same_file(&before, &after))) {
        conv_decide(c, CKPT_CONVERT_REFUSED, "the input changed while it was converted");
        return CKPT_ERR_IO;
    }
    return st;
}

ckpt_status ckpt_convert_safetensors(const ckpt_scanner *s, const char *path, unsigned flags,
                                     ckpt_write_fn write, void *ctx, ckpt_conversion **out)
{
    if (!out)
        return CKPT_ERR_ARG;
    *out = NULL;
    if (!s || !path || !write)
        return CKPT_ERR_ARG;
    ckpt_conversion *c = calloc(1, sizeof(*c));
    if (!c)
        return CKPT_ERR_NOMEM;
    c->outcome = CKPT_CONVERT_REFUSED;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    ckpt_status st = fd < 0 ? errno_status(errno) : convert_fd(s, fd, path, flags, write, ctx, c);
    if (fd >= 0)
        close(fd);
    if (st == CKPT_ERR_NOMEM) {
        ckpt_conversion_free(c);
        return st;
    }
    if (st != CKPT_OK && !c->message[0])
        conv_decide(c, CKPT_CONVERT_REFUSED, "%s: nothing written", ckpt_strerror(st));
    *out = c;
    return st;
}

void ckpt_conversion_free(ckpt_conversion *c)
{
    if (!c)
        return;
    ckpt_report_free(c->rep);
    free(c->items);
    free(c);
}

ckpt_convert_outcome ckpt_conversion_outcome(const ckpt_conversion *c)
{
    return c ? c->outcome : CKPT_CONVERT_REFUSED;
}

const char *ckpt_conversion_message(const ckpt_conversion *c)
{
    return c ? c->message : "";
}

const ckpt_report *ckpt_conversion_report(const ckpt_conversion *c)
{
    return c ? c->rep : NULL;
}

uint64_t ckpt_conversion_bytes(const ckpt_conversion *c)
{
    return c ? c->bytes : 0;
}

size_t ckpt_conversion_tensor_count(const ckpt_conversion *c)
{
    return c ? c->n : 0;
}

ckpt_status ckpt_conversion_tensor(const ckpt_conversion *c, size_t i, ckpt_converted *out)
{
    if (!out)
        return CKPT_ERR_ARG;
    if (i >= ckpt_conversion_tensor_count(c))
        return CKPT_ERR_RANGE;
    *out = c->items[i].pub;
    return CKPT_OK;
}
