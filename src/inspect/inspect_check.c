/* SPDX-License-Identifier: Apache-2.0 */
/* Once the whole file is read: each tensor meets its storage record (its
 * size must be what the persistent id declares: LOADERS.md section 6), views
 * of one storage are counted, and the totals are made. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "util.h"

static int record_cmp(const void *a, const void *b)
{
    const insp_record *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* A zip's storages live in <prefix>/data/<key>, TorchScript constants in
 * <prefix>/constants/<key>; the legacy format names them by key alone. */
const insp_record *insp_find_record(const struct insp *in, const ckpt_tensor *t)
{
    char key[512];
    size_t n = strlen(t->member);
    const char *dir =
        n >= 13 && strcmp(t->member + n - 13, "constants.pkl") == 0 ? "constants/" : "data/";
    if (strcmp(in->torch.layout, "zip") != 0)
        dir = "";
    if ((size_t)snprintf(key, sizeof(key), "%s%s", dir, t->storage_key) >= sizeof(key))
        return NULL;
    insp_record probe = {key, strlen(key), 0, {0, 0, 0}, 0};
    return bsearch(&probe, in->records, in->nrecords, sizeof(*in->records), record_cmp);
}

/* Tensors ordered by (member, storage key): views of one storage adjacent
 * (in inventory order within a storage). */
typedef struct tref {
    insp_tensor *t;
    size_t index;
} tref;

/* By pickle, then storage key, then stream offset: torch takes a storage's
 * type and size from its first persistent id in the stream. */
static int tref_cmp(const void *a, const void *b)
{
    const tref *x = a, *y = b;
    if (x->t->pickle_seq != y->t->pickle_seq)
        return x->t->pickle_seq < y->t->pickle_seq ? -1 : 1;
    int c = strcmp(x->t->pub.storage_key, y->t->pub.storage_key);
    if (!c && x->t->pub.offset != y->t->pub.offset)
        c = x->t->pub.offset < y->t->pub.offset ? -1 : 1;
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

static int same_storage(const insp_tensor *a, const insp_tensor *b)
{
    return a->pickle_seq == b->pickle_seq && strcmp(a->pub.storage_key, b->pub.storage_key) == 0;
}

static void tensor_finding(struct insp *in, const ckpt_tensor *t, ckpt_code code, const char *what)
{
    char msg[600];
    snprintf(msg, sizeof(msg), "tensor '%.200s' (storage '%.40s'): %s", t->path, t->storage_key,
             what);
    finding_in f = {code, -1, t->member, t->offset, "REDUCE", t->rebuild, NULL, msg};
    report_add(in->rep, &f);
}

/* Declared storage bytes, or -1 when the type or count is unknown. */
static int64_t declared_bytes(const insp_tensor *t)
{
    uint64_t n;
    if (t->pub.storage_numel < 0 || (!t->elsize && !t->storage_in_bytes))
        return -1;
    if (t->storage_in_bytes)
        return t->pub.storage_numel;
    if (mul_overflows((uint64_t)t->pub.storage_numel, t->elsize, &n) || n > INT64_MAX)
        return -1;
    return (int64_t)n;
}

/* The storage of group [from, to): its record, checked once. */
static void check_storage(struct insp *in, const tref *ord, size_t from, size_t to)
{
    insp_tensor *first = ord[from].t;
    const insp_record *rec = in->nrecords ? insp_find_record(in, &first->pub) : NULL;
    int64_t want = declared_bytes(first);
    char msg[300];
    msg[0] = 0;
    if (!rec && in->nrecords)
        snprintf(msg, sizeof(msg), "the archive has no record for this storage: torch.load fails");
    else if (rec && want >= 0 && (uint64_t)want != rec->bytes)
        snprintf(msg, sizeof(msg),
                 "its storage record holds %" PRIu64
                 " bytes but the persistent id declares %" PRId64,
                 rec->bytes, want);
    for (size_t i = from; i < to; i++) {
        ckpt_tensor *t = &ord[i].t->pub;
        t->storage_users = to - from;
        t->record_bytes = rec ? (int64_t)rec->bytes : -1;
        if (msg[0] && !*t->problem)
            t->problem = report_strdup(in->rep, msg);
    }
    /* the legacy reader reports its own record mismatches */
    if (msg[0] && strcmp(in->torch.layout, "legacy") != 0)
        tensor_finding(in, &first->pub, CKPT_F_ARCHIVE_ANOMALY, msg);
}

static void check_storages(struct insp *in)
{
    tref *ord = malloc((in->ntensors ? in->ntensors : 1) * sizeof(*ord));
    if (!ord) {
        in->torch.walk_incomplete = 1;
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < in->ntensors; i++)
        if (*in->tensors[i].pub.storage_key)
            ord[n++] = (tref){&in->tensors[i], i};
    qsort(ord, n, sizeof(*ord), tref_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_storage(ord[i].t, ord[j].t))
            j++;
        check_storage(in, ord, i, j);
        i = j;
    }
    free(ord);
}

/* ---- totals ---- */

static void add_total(struct insp *in, const insp_tensor *t)
{
    ckpt_dtype_total *d = NULL;
    for (size_t i = 0; i < in->ndtypes && !d; i++)
        if (strcmp(in->dtypes[i].dtype, t->pub.dtype) == 0)
            d = &in->dtypes[i];
    if (!d) {
        ckpt_dtype_total *p = realloc(in->dtypes, (in->ndtypes + 1) * sizeof(*p));
        if (!p)
            return;
        in->dtypes = p;
        d = &p[in->ndtypes++];
        *d = (ckpt_dtype_total){t->pub.dtype, 0, 0, 0};
    }
    d->tensors++;
    d->elements += t->pub.numel;
    d->bytes += t->pub.nbytes;
}

static void totals(struct insp *in)
{
    for (size_t i = 0; i < in->ntensors; i++) {
        const insp_tensor *t = &in->tensors[i];
        add_total(in, t);
        if (t->entry < in->nentries) {
            in->entries[t->entry].tensors++;
            in->entries[t->entry].bytes += t->pub.nbytes;
        }
    }
}

void insp_finish(ckpt_report *r)
{
    struct insp *in = r->insp;
    if (!in)
        return;
    insp_tar_resolve(in);
    if (in->nrecords)
        qsort(in->records, in->nrecords, sizeof(*in->records), record_cmp);
    check_storages(in);
    for (size_t i = 0; i < in->ntensors; i++)
        if (in->tensors[i].extent_bad)
            tensor_finding(in, &in->tensors[i].pub, CKPT_F_ANOMALY, in->tensors[i].pub.problem);
    totals(in);
}
