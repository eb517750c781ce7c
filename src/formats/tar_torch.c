/* SPDX-License-Identifier: Apache-2.0 */
/* torch's legacy tar format (torch 0.1.x; torch 1.13's legacy_load still
 * reads it): members sys_info, storages, tensors and pickle, each a run of
 * pickles with raw bytes between them, read here exactly as legacy_load
 * does so that every pickle is found. */
#include <stdio.h>
#include <string.h>

#include "inventory.h"
#include "torch_dtypes.h"
#include "tar_internal.h"
#include "util.h"
#include "value.h"

#define MAX_LINKS 64 /* torch members that are links whose target is looked up */

/* legacy.c: element size of a legacy storage class (0 when unknown). */

/* ---- torch's members ---- */

/* A walk through storages or tensors: pickles with raw bytes between. */
typedef struct rwalk {
    scan_ctx *ctx;
    const char *label;
    const uint8_t *d;
    size_t n, pos;
    /* what the last pickle returned */
    uint8_t kind;
    int int_ok, tuple3;
    int64_t ival;
    uint32_t elsize; /* of a (key, location, storage_type) tuple */
    /* for the inventory (insp_tar_*): the tuple's first two items when
     * plain ints, the storage class's dtype */
    int64_t k0, k1;
    int k0_ok, k1_ok;
    const char *dtype;
    int views;           /* the next pickle is the storage-views list */
    const uint8_t *base; /* the file's first byte (NULL in a nested archive) */
} rwalk;

static int plain_int(const value *v, int64_t *out)
{
    if (v->kind != V_INT || (v->flags & VF_BIGINT))
        return 0;
    *out = v->u.i;
    return 1;
}

/* [(target, root, offset, numel), ...]: the storage views legacy_load makes
 * by slicing their roots. */
static void rw_views(rwalk *r, const value *v)
{
    if (v->kind != V_LIST || v->u.n->u.s.count != v->u.n->u.s.kept) {
        insp_tar_unsure(r->ctx);
        return;
    }
    for (uint32_t i = 0; i < v->u.n->u.s.kept; i++) {
        const value *t = &v->u.n->u.s.items[i];
        int64_t x[4];
        int ok = t->kind == V_TUPLE && t->u.n->u.s.count == 4 && t->u.n->u.s.kept == 4;
        for (int k = 0; ok && k < 4; k++)
            ok = plain_int(&t->u.n->u.s.items[k], &x[k]) && (k < 2 || x[k] >= 0);
        if (!ok) {
            insp_tar_unsure(r->ctx);
            return;
        }
        insp_tar_storage st = {x[0],          "", 0, 0, {0, 0, 0}, 0, 1, x[1], (uint64_t)x[2],
                               (uint64_t)x[3]};
        insp_tar_add_storage(r->ctx, &st);
    }
}

static void rw_stop(void *hctx, const value *v)
{
    rwalk *r = hctx;
    r->kind = v->kind;
    r->int_ok = v->kind == V_INT && !(v->flags & VF_BIGINT);
    r->ival = v->u.i;
    r->tuple3 = v->kind == V_TUPLE && v->u.n->u.s.count == 3 && v->u.n->u.s.kept == 3;
    r->elsize = r->tuple3 ? legacy_storage_elsize(&v->u.n->u.s.items[2]) : 0;
    r->k0_ok = r->tuple3 && plain_int(&v->u.n->u.s.items[0], &r->k0);
    r->k1_ok = r->tuple3 && plain_int(&v->u.n->u.s.items[1], &r->k1);
    uint32_t size = 0;
    r->dtype = r->tuple3 ? torch_storage_dtype(&v->u.n->u.s.items[2], &size) : NULL;
    if (r->dtype && size != r->elsize)
        r->dtype = NULL;
    if (r->views)
        rw_views(r, v);
}

/* torch loads each of these with a plain pickle.load: one pickle. It
 * opens `storages` and `tensors` unbuffered (open(..., 'rb', 0)): without
 * peek(), _pickle.c reads a frame whole, so what follows starts at the end
 * of the frame STOP was read in (a finding when that is not STOP + 1). */
static int rw_pickle(rwalk *r)
{
    const pickle_hooks h = {.on_stop = rw_stop, .hctx = r};
    pickle_result res;
    r->kind = V_EMPTY;
    r->tuple3 = 0;
    pickle_scan_one_hooked(r->ctx, r->label, r->d, r->n, r->pos, &h, &res);
    r->pos = res.end;
    if (res.complete && res.frame_end > res.end) {
        tar_note(r->ctx, CKPT_F_FRAME_STRADDLE, r->label, res.end,
                 "the pickle stops %zu bytes before its frame ends: torch reads this member "
                 "unbuffered, so what follows is read from offset %zu",
                 res.frame_end - res.end, res.frame_end);
        r->pos = res.frame_end;
    }
    return res.complete;
}

static int rw_count(rwalk *r, int64_t *count)
{
    size_t at = r->pos;
    if (!rw_pickle(r))
        return 0;
    if (!r->int_ok || r->ival < 0) {
        tar_note(r->ctx, CKPT_F_ARCHIVE_ANOMALY, r->label, at,
                 "the count that opens this torch member is not a non-negative integer");
        return 0;
    }
    *count = r->ival;
    return 1;
}

static int rw_skip(rwalk *r, uint64_t n, const char *what)
{
    if (!range_fits(r->pos, n, r->n)) {
        tar_note(r->ctx, CKPT_F_TRUNCATED, r->label, r->pos, "%s runs past the end of the member",
                 what);
        return 0;
    }
    r->pos += (size_t)n; /* skipped by arithmetic: cost does not grow with tensor bytes */
    return 1;
}

static void rw_trailing(rwalk *r)
{
    if (r->pos >= r->n)
        return;
    tar_note(r->ctx, CKPT_F_TRAILING_DATA, r->label, r->pos,
             "%zu bytes after the last record; torch.load never reads them", r->n - r->pos);
    if (pickle_probe_prefix(r->ctx, r->d + r->pos, r->n - r->pos)) {
        tar_note(r->ctx, CKPT_F_EXTRA_PICKLE, r->label, r->pos,
                 "the trailing bytes are a pickle: "
                 "scanned");
        pickle_scan_all_hooked(r->ctx, r->label, r->d, r->n, r->pos, 1, NULL);
    }
}

/* A storage record whose nbytes start at r->pos, for the inventory. */
static void add_storage(rwalk *r, uint64_t nbytes)
{
    if (!r->k0_ok) {
        insp_tar_unsure(r->ctx);
        return;
    }
    insp_tar_storage st = {
        r->k0, r->dtype ? r->dtype : "", r->elsize, nbytes, {0, 0, 0}, 0, 0, 0, 0, 0};
    if (r->base && range_fits(r->pos, nbytes, r->n)) {
        st.where = (insp_where){(uint64_t)(r->d - r->base) + r->pos, nbytes, 0};
        st.located = 1;
    }
    insp_tar_add_storage(r->ctx, &st);
}

/* pickle(count); count x (pickle((key, location, storage_type)), int64
 * element count, the elements); pickle(storage views). */
static void walk_storages(rwalk *r)
{
    int64_t count;
    insp_tar_reset(r->ctx, 0);
    if (!rw_count(r, &count))
        return;
    for (int64_t i = 0; i < count; i++) {
        size_t at = r->pos;
        if (!rw_pickle(r))
            return;
        if (!r->elsize) {
            tar_note(r->ctx, CKPT_F_ARCHIVE_ANOMALY, r->label, at,
                     "storage record %lld is not (key, location, legacy storage class): its bytes "
                     "cannot be skipped",
                     (long long)i);
            return;
        }
        uint64_t nbytes;
        if (!rw_skip(r, 8, "a storage size"))
            return;
        int64_t numel = (int64_t)load_le64(r->d + r->pos - 8);
        if (numel < 0 || mul_overflows((uint64_t)numel, r->elsize, &nbytes)) {
            tar_note(r->ctx, CKPT_F_ARCHIVE_ANOMALY, r->label, r->pos - 8,
                     "storage record %lld has an impossible element count", (long long)i);
            return;
        }
        add_storage(r, nbytes);
        if (!rw_skip(r, nbytes, "storage data"))
            return;
    }
    r->views = 1;
    int ok = rw_pickle(r);
    r->views = 0;
    if (ok)
        rw_trailing(r);
}

/* pickle(count); count x (pickle((key, storage_id, type)), int32 ndim, 4
 * unused bytes, int64 sizes[ndim], int64 strides[ndim], int64 offset). */
static void walk_tensors(rwalk *r)
{
    int64_t count;
    insp_tar_reset(r->ctx, 1);
    if (!rw_count(r, &count))
        return;
    for (int64_t i = 0; i < count; i++) {
        size_t at = r->pos;
        if (!rw_pickle(r))
            return;
        if (!r->tuple3) {
            tar_note(r->ctx, CKPT_F_ARCHIVE_ANOMALY, r->label, at,
                     "tensor record %lld is not (key, storage_id, type): torch.load fails there",
                     (long long)i);
            return;
        }
        if (!rw_skip(r, 8, "a tensor's ndim"))
            return;
        int32_t ndim = (int32_t)load_le32(r->d + r->pos - 8);
        if (ndim < 0) {
            tar_note(r->ctx, CKPT_F_ARCHIVE_ANOMALY, r->label, r->pos - 8,
                     "tensor record %lld has a negative ndim", (long long)i);
            return;
        }
        if (!rw_skip(r, 16 * (uint64_t)ndim + 8, "a tensor's sizes and strides"))
            return;
        const uint8_t *sizes = r->d + r->pos - 16 * (size_t)ndim - 8;
        if (r->k0_ok && r->k1_ok)
            insp_tar_add_tensor(r->ctx, r->k0, r->k1, (size_t)ndim, sizes, sizes + 8 * (size_t)ndim,
                                (int64_t)load_le64(r->d + r->pos - 8));
        else
            insp_tar_unsure(r->ctx);
    }
    rw_trailing(r);
}

static const char *const roles[] = {"sys_info", "storages", "tensors", "pickle"};
enum { R_SYSINFO, R_STORAGES, R_TENSORS, R_PICKLE, R_NONE };

static int name_is(const tmember *m, const char *s)
{
    return m->name_len == strlen(s) && memcmp(m->name, s, m->name_len) == 0;
}

static int role_of(const tmember *m)
{
    for (int i = 0; i < R_NONE; i++)
        if (name_is(m, roles[i]))
            return i;
    return R_NONE;
}

/* posixpath.normpath of a '/'-separated name, written to out (which has
 * room for n + 2 bytes). */
static size_t normpath(const char *p, size_t n, char *out)
{
    size_t o = 0, i = 0;
    int abs = n && p[0] == '/';
    if (abs)
        out[o++] = '/';
    size_t root = o;
    while (i < n) {
        while (i < n && p[i] == '/')
            i++;
        size_t s = i;
        while (i < n && p[i] != '/')
            i++;
        size_t len = i - s;
        if (len == 0 || (len == 1 && p[s] == '.'))
            continue;
        if (len == 2 && p[s] == '.' && p[s + 1] == '.') {
            size_t back = o;
            while (back > root && out[back - 1] != '/')
                back--;
            int prev_dotdot = o - back == 2 && out[back] == '.' && out[back + 1] == '.';
            if (o > root && !prev_dotdot) {
                o = back > root ? back - 1 : root;
                continue;
            }
            if (abs)
                continue; /* '..' at the root stays at the root */
        }
        if (o > root)
            out[o++] = '/';
        memcpy(out + o, p + s, len);
        o += len;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = 0;
    return o;
}

static int same_path(const char *a, size_t an, const char *b, size_t bn)
{
    char x[4096], y[4096];
    if (an + 2 > sizeof(x) || bn + 2 > sizeof(y))
        return an == bn && memcmp(a, b, an) == 0;
    size_t xn = normpath(a, an, x), yn = normpath(b, bn, y);
    return xn == yn && memcmp(x, y, xn) == 0;
}

/* tarfile._find_link_target: a hard link names an earlier member, a
 * symbolic link a path relative to its own directory. SIZE_MAX if none. */
static size_t link_target(const walker *w, size_t i)
{
    const tmember *m = &w->m[i];
    char buf[4096];
    const char *want = m->link;
    size_t wn = m->link_len, limit = m->type == '1' ? i : w->n;
    if (m->type == '2') {
        const char *slash = memrchr(m->name, '/', m->name_len);
        size_t dn = slash ? (size_t)(slash - m->name) : 0;
        if (dn && dn + 1 + wn < sizeof(buf)) {
            memcpy(buf, m->name, dn);
            buf[dn] = '/';
            memcpy(buf + dn + 1, m->link, wn);
            want = buf;
            wn += dn + 1;
        }
    }
    for (size_t j = limit; j-- > 0;)
        if (same_path(w->m[j].name, w->m[j].name_len, want, wn))
            return j;
    return SIZE_MAX;
}

/* A role member that is a link: torch extracts storages and tensors to
 * disk and opens them (following any link out of the archive), and reads
 * pickle through extractfile (links inside the archive only). Returns the
 * member whose data torch reads, or SIZE_MAX. */
static size_t follow_role_link(walker *w, size_t i, int role)
{
    const tmember *m = &w->m[i];
    int nm = m->name_len > NAME_SHOWN ? NAME_SHOWN : (int)m->name_len;
    int nl = m->link_len > NAME_SHOWN ? NAME_SHOWN : (int)m->link_len;
    int on_disk = role == R_STORAGES || role == R_TENSORS;
    int outside = on_disk && (m->type == '2' || tar_path_escapes(m->link, m->link_len));
    tar_note(w->ctx, outside ? CKPT_F_NESTED_LOAD : CKPT_F_ARCHIVE_ANOMALY, w->member, m->hdr,
             "torch member '%.*s' is a %s link to '%.*s'%s", nm, m->name,
             m->type == '1' ? "hard" : "symbolic", nl, m->link,
             outside ? ": torch.load would unpickle whatever file that is" : "");
    size_t t = i;
    if (++w->links_followed > MAX_LINKS)
        return SIZE_MAX;
    for (int hops = 0; hops < 8 && (w->m[t].type == '1' || w->m[t].type == '2'); hops++)
        if ((t = link_target(w, t)) == SIZE_MAX)
            return SIZE_MAX;
    return t;
}

static void scan_role(walker *w, size_t i, int role)
{
    size_t t = i;
    if (w->m[i].type == '1' || w->m[i].type == '2')
        t = follow_role_link(w, i, role);
    if (t == SIZE_MAX || (!tar_is_reg(w->m[t].type) && tar_supported(w->m[t].type)))
        return; /* a directory or device: torch fails to open it */
    const uint8_t *d;
    size_t n;
    tar_member_data(w, &w->m[t], &d, &n);
    const char *label = member_join(w->ctx, w->member, roles[role]);
    if (!*w->member)
        insp_set_layout(w->ctx, "tar");
    rwalk r = {w->ctx, label, d, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 0, NULL};
    r.base = *w->member ? NULL : w->buf;
    if (role == R_STORAGES)
        walk_storages(&r);
    else if (role == R_TENSORS)
        walk_tensors(&r);
    else
        ctx_scan_member(w->ctx, label, d, n, 1);
}

static int ends_with(const tmember *m, const char *s)
{
    size_t n = strlen(s);
    return m->name_len >= n && memcmp(m->name + m->name_len - n, s, n) == 0;
}

static void scan_plain(walker *w, const tmember *m)
{
    if (!tar_is_reg(m->type) && tar_supported(m->type))
        return;
    const uint8_t *d;
    size_t n;
    tar_member_data(w, m, &d, &n);
    ctx_scan_member(w->ctx, member_join(w->ctx, w->member, m->name), d, n, ends_with(m, ".pkl"));
}

int tar_scan_members(walker *w)
{
    int seen[R_NONE] = {0}, torch = 0;
    for (size_t i = 0; i < w->n; i++) {
        int role = role_of(&w->m[i]);
        if (role != R_NONE) {
            seen[role]++;
            torch = 1;
            scan_role(w, i, role);
        } else {
            scan_plain(w, &w->m[i]);
        }
    }
    for (int r = R_STORAGES; torch && r < R_NONE; r++)
        if (!seen[r])
            tar_note(w->ctx, CKPT_F_ARCHIVE_ANOMALY, w->member, 0,
                     "torch tar without a '%s' member: torch.load raises KeyError there", roles[r]);
    return torch;
}
