/* SPDX-License-Identifier: Apache-2.0 */
/* torch's legacy tar layout in the inventory, matched as legacy_load does:
 * the storages member fills deserialized_objects with root storages, then
 * slices of them (the storage-views list, in order), the tensors member
 * adds tensors set_() on those storages, and the main pickle's persistent
 * id s is deserialized_objects[int(s)]. Anything legacy_load would resolve
 * differently (a key that is not a plain int, a tensor key that is also a
 * storage key, a view of a missing root) leaves the tensors unmatched:
 * their dtype stays unknown and ckpt_convert_* refuses them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "inspect_torch.h"
#include "util.h"

/* int(s) for the strings Python's int() takes that matter here: an
 * optional '-' and ASCII digits, no more than 18 of them. */
static int parse_key(const value *pid, int64_t *key)
{
    if (pid->kind == V_INT && !(pid->flags & VF_BIGINT)) {
        *key = pid->u.i;
        return 1;
    }
    if ((pid->kind != V_STR && pid->kind != V_BYTES) || pid->len == 0)
        return 0;
    size_t i = pid->u.s[0] == '-';
    if (pid->len - i == 0 || pid->len - i > 18)
        return 0;
    int64_t v = 0;
    for (; i < pid->len; i++) {
        if (pid->u.s[i] < '0' || pid->u.s[i] > '9')
            return 0;
        v = v * 10 + (pid->u.s[i] - '0');
    }
    *key = pid->u.s[0] == '-' ? -v : v;
    return 1;
}

int insp_tar_pending(struct insp *in, insp_tensor *t, const value *pid)
{
    ckpt_tensor *p = &t->pub;
    p->rebuild = p->dtype = p->storage_key = p->device = p->problem = "";
    p->storage_numel = p->record_bytes = -1;
    p->storage_users = 1;
    t->tar_pending = parse_key(pid, &t->tar_key) ? 1 : 2;
    (void)in;
    return 1;
}

/* ---- key -> index, the last insertion winning ---- */

typedef struct keymap {
    int64_t *keys;
    size_t *vals; /* index + 1; 0 = empty */
    size_t cap;
} keymap;

static int map_init(keymap *m, size_t n)
{
    m->cap = 16;
    while (m->cap < 2 * n + 2)
        m->cap *= 2;
    m->keys = calloc(m->cap, sizeof(*m->keys));
    m->vals = calloc(m->cap, sizeof(*m->vals));
    return m->keys && m->vals;
}

static void map_free(keymap *m)
{
    free(m->keys);
    free(m->vals);
}

static size_t map_slot(const keymap *m, int64_t key)
{
    size_t s = (size_t)(((uint64_t)key * UINT64_C(0x9e3779b97f4a7c15)) >> 17) & (m->cap - 1);
    while (m->vals[s] && m->keys[s] != key)
        s = (s + 1) & (m->cap - 1);
    return s;
}

static void map_put(keymap *m, int64_t key, size_t val)
{
    size_t s = map_slot(m, key);
    m->keys[s] = key;
    m->vals[s] = val + 1;
}

/* The index for key, or SIZE_MAX. */
static size_t map_get(const keymap *m, int64_t key)
{
    size_t s = map_slot(m, key);
    return m->vals[s] ? m->vals[s] - 1 : SIZE_MAX;
}

/* ---- the storages: roots, then views in order ---- */

/* root._storage[off * size : (off + numel) * size]: Python clamps a slice
 * to the root's bytes. */
static int slice_view(insp_tar_storage *v, const insp_tar_storage *root)
{
    uint64_t from, len, end;
    if (!root->elsize || mul_overflows(v->off, root->elsize, &from) ||
        mul_overflows(v->numel, root->elsize, &len) || add_overflows(from, len, &end))
        return 0;
    from = from < root->bytes ? from : root->bytes;
    end = end < root->bytes ? end : root->bytes;
    v->dtype = root->dtype;
    v->elsize = root->elsize;
    v->bytes = end - from;
    v->where = (insp_where){root->where.at + from, end - from, 0};
    v->located = root->located;
    return 1;
}

static int map_storages(struct insp *in, keymap *m)
{
    for (size_t i = 0; i < in->ntar_storages; i++) {
        insp_tar_storage *s = &in->tar_storages[i];
        if (s->is_view) {
            size_t r = map_get(m, s->root);
            if (r == SIZE_MAX || !slice_view(s, &in->tar_storages[r]))
                return 0; /* legacy_load raises there */
        }
        map_put(m, s->key, i);
    }
    return 1;
}

/* ---- the tensors ---- */

static const char *key_text(ckpt_report *rep, int64_t key)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, key);
    return report_strdup(rep, buf);
}

static void fill(struct insp *in, insp_tensor *t, const insp_tar_tensor *r,
                 const insp_tar_storage *s)
{
    ckpt_tensor *p = &t->pub;
    p->dtype = s->dtype;
    t->elsize = s->elsize;
    p->ndim = r->ndim;
    p->shape = r->ndim ? r->shape : NULL;
    p->stride = r->ndim ? r->stride : NULL;
    p->has_stride = 1;
    p->storage_offset = r->offset;
    p->storage_key = key_text(in->rep, r->storage);
    p->storage_numel = s->elsize ? (int64_t)(s->bytes / s->elsize) : -1;
    torch_finish_tensor(in->rep, t);
}

/* One record per storage a tensor can reach (the last of its key). */
static void add_records(struct insp *in, const keymap *m)
{
    for (size_t i = 0; i < in->ntar_storages; i++) {
        const insp_tar_storage *s = &in->tar_storages[i];
        insp_record *r = map_get(m, s->key) == i ? insp_new_record(in) : NULL;
        if (!r)
            continue;
        r->key = key_text(in->rep, s->key);
        r->key_len = strlen(r->key);
        r->bytes = s->bytes;
        r->where = s->where;
        r->located = s->located;
    }
}

static void match(struct insp *in, const keymap *st, const keymap *tt)
{
    for (size_t i = 0; i < in->ntensors; i++) {
        insp_tensor *t = &in->tensors[i];
        if (t->tar_pending != 1)
            continue;
        size_t j = map_get(tt, t->tar_key);
        if (j != SIZE_MAX) {
            const insp_tar_tensor *r = &in->tar_tensors[j];
            size_t k = map_get(st, r->storage);
            if (k != SIZE_MAX)
                fill(in, t, r, &in->tar_storages[k]);
        } else if (map_get(st, t->tar_key) != SIZE_MAX) {
            t->pub.rebuild = "torch.storage.TypedStorage"; /* a storage, not a tensor */
        }
    }
}

void insp_tar_resolve(struct insp *in)
{
    if (strcmp(in->torch.layout, "tar") != 0 || in->tar_unsure)
        return;
    keymap st = {0}, tt = {0};
    int ok = map_init(&st, in->ntar_storages) && map_init(&tt, in->ntar_tensors) &&
             map_storages(in, &st);
    for (size_t i = 0; ok && i < in->ntar_tensors; i++) {
        ok = map_get(&st, in->tar_tensors[i].key) == SIZE_MAX; /* one dict for both */
        map_put(&tt, in->tar_tensors[i].key, i);
    }
    if (ok) {
        add_records(in, &st);
        match(in, &st, &tt);
    }
    map_free(&st);
    map_free(&tt);
}
