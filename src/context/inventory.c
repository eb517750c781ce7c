/* SPDX-License-Identifier: Apache-2.0 */
/* The inventory store (inventory.h): what the readers hand over during the
 * scan of an inspected file, appended to the report's inspection. */
#include "inventory.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

int insp_active(const scan_ctx *ctx)
{
    return ctx->rep->insp && !ctx->embedded && ctx->depth <= 1;
}

/* Appends a zeroed element of `size` bytes to *arr (n used, cap room);
 * returns it, or NULL on no memory. */
static void *push(void **arr, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void *p = realloc(*arr, ncap * size);
        if (!p)
            return NULL;
        *arr = p;
        *cap = ncap;
    }
    void *slot = (char *)*arr + (*n)++ * size;
    memset(slot, 0, size);
    return slot;
}

#define PUSH(in, arr, n, cap) push((void **)&(in)->arr, &(in)->n, &(in)->cap, sizeof(*(in)->arr))

int insp_charge(struct insp *in, uint64_t bytes)
{
    if (bytes > in->budget) {
        in->budget = 0;
        return 0;
    }
    in->budget -= bytes;
    return 1;
}

void insp_put_text(strbuf *sb, const char *s, size_t n)
{
    for (const char *nul; n && (nul = memchr(s, 0, n)) != NULL;
         n -= (size_t)(nul - s) + 1, s = nul + 1) {
        sb_putn(sb, s, (size_t)(nul - s));
        sb_puts(sb, "\\x00");
    }
    sb_putn(sb, s, n);
}

const char *insp_text(ckpt_report *rep, const char *s, size_t n)
{
    if (!memchr(s, 0, n)) {
        const char *c = arena_strndup(&rep->mem, s, n);
        return c ? c : "";
    }
    strbuf sb;
    sb_init(&sb, 4096);
    insp_put_text(&sb, s, n);
    const char *c = report_strdup(rep, sb_cstr(&sb));
    sb_free(&sb);
    return c;
}

insp_tensor *insp_new_tensor(struct insp *in)
{
    return PUSH(in, tensors, ntensors, tensors_cap);
}

insp_record *insp_new_record(struct insp *in)
{
    return PUSH(in, records, nrecords, records_cap);
}

void insp_tar_reset(scan_ctx *ctx, int tensors)
{
    if (!insp_active(ctx))
        return;
    if (tensors)
        ctx->rep->insp->ntar_tensors = 0;
    else
        ctx->rep->insp->ntar_storages = 0;
}

void insp_tar_add_storage(scan_ctx *ctx, const insp_tar_storage *s)
{
    if (!insp_active(ctx))
        return;
    struct insp *in = ctx->rep->insp;
    insp_tar_storage *d = insp_charge(in, sizeof(*d))
                              ? PUSH(in, tar_storages, ntar_storages, tar_storages_cap)
                              : NULL;
    if (d)
        *d = *s;
    else
        in->tar_unsure = 1;
}

void insp_tar_unsure(scan_ctx *ctx)
{
    if (insp_active(ctx))
        ctx->rep->insp->tar_unsure = 1;
}

void insp_tar_add_tensor(scan_ctx *ctx, int64_t key, int64_t storage, size_t ndim,
                         const uint8_t *sizes, const uint8_t *strides, int64_t offset)
{
    if (!insp_active(ctx))
        return;
    struct insp *in = ctx->rep->insp;
    uint64_t cost = sizeof(insp_tar_tensor) + 2 * (uint64_t)ndim * sizeof(int64_t);
    insp_tar_tensor *t = ndim <= SIZE_MAX / 16 && insp_charge(in, cost)
                             ? PUSH(in, tar_tensors, ntar_tensors, tar_tensors_cap)
                             : NULL;
    int64_t *dims = t ? arena_alloc(&in->rep->mem, (ndim ? ndim : 1) * 2 * sizeof(int64_t)) : NULL;
    if (!dims) {
        in->tar_unsure = 1;
        return;
    }
    for (size_t i = 0; i < ndim; i++) {
        dims[i] = (int64_t)load_le64(sizes + 8 * i);
        dims[ndim + i] = (int64_t)load_le64(strides + 8 * i);
    }
    *t = (insp_tar_tensor){key, storage, ndim, dims, dims + ndim, offset};
}

ckpt_entry *insp_new_entry(struct insp *in)
{
    ckpt_entry *e = PUSH(in, entries, nentries, entries_cap);
    if (e)
        *e = (ckpt_entry){"", 0, "", "", 0, 0};
    return e;
}

void insp_note_usage(struct insp *in, size_t index, const char *path, size_t len)
{
    if (index >= in->rep->nimports)
        return;
    if (index >= in->import_usage_cap) {
        size_t cap = in->rep->nimports + 16;
        const char **p = realloc(in->import_usage, cap * sizeof(*p));
        if (!p)
            return;
        memset(p + in->import_usage_cap, 0, (cap - in->import_usage_cap) * sizeof(*p));
        in->import_usage = p;
        in->import_usage_cap = cap;
    }
    if (!in->import_usage[index])
        in->import_usage[index] = arena_strndup(&in->rep->mem, path, len);
}

/* ---- what the readers hand over ---- */

void insp_set_layout(scan_ctx *ctx, const char *layout)
{
    if (insp_active(ctx) && !*ctx->rep->insp->torch.layout)
        ctx->rep->insp->torch.layout = layout;
}

void insp_expect_main(scan_ctx *ctx, uint64_t offset)
{
    if (insp_active(ctx))
        ctx->rep->insp->expect_main_at = offset;
}

void insp_main_member(scan_ctx *ctx, int on)
{
    if (insp_active(ctx))
        ctx->rep->insp->main_now = on;
}

void insp_add_member(scan_ctx *ctx, const ckpt_member *m)
{
    if (!insp_active(ctx))
        return;
    struct insp *in = ctx->rep->insp;
    ckpt_member *d = PUSH(in, members, nmembers, members_cap);
    if (!d)
        return;
    *d = *m;
    d->name = arena_strndup(&in->rep->mem, m->name, m->name_len);
    if (!d->name) {
        d->name = "";
        d->name_len = 0;
    }
    if (m->role == CKPT_ROLE_CODE)
        in->torch.torchscript = 1;
}

void insp_set_record_text(scan_ctx *ctx, const char *which, const uint8_t *p, size_t n)
{
    if (!insp_active(ctx))
        return;
    struct insp *in = ctx->rep->insp;
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    const char *s = arena_strndup(&in->rep->mem, (const char *)p, n);
    if (!s)
        return;
    if (strcmp(which, "version") == 0)
        in->torch.version = s;
    else
        in->torch.byteorder = s;
}

void insp_add_storage_record(scan_ctx *ctx, const char *key, size_t key_len, uint64_t bytes,
                             const insp_where *where)
{
    if (!insp_active(ctx))
        return;
    struct insp *in = ctx->rep->insp;
    insp_record *r = PUSH(in, records, nrecords, records_cap);
    if (!r)
        return;
    r->key = insp_text(in->rep, key, key_len);
    r->key_len = strlen(r->key);
    r->bytes = bytes;
    if (where) {
        r->where = *where;
        r->located = 1;
    }
}

void insp_pickle_result(scan_ctx *ctx, const char *member, uint64_t offset, int protocol,
                        const struct value *root)
{
    if (insp_active(ctx))
        ctx->rep->insp->on_pickle(ctx->rep->insp, member, offset, protocol, root);
}

void insp_walk_incomplete(scan_ctx *ctx)
{
    if (insp_active(ctx))
        ctx->rep->insp->torch.walk_incomplete = 1;
}
