/* SPDX-License-Identifier: Apache-2.0 */
/* torch's tensor rebuild helpers (torch/_utils.py) and storage classes, as
 * far as the inventory needs them: which argument is the storage, the
 * shape, the strides; the dtype and element size of each storage class. */
#include "inspect_torch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "strbuf.h"
#include "util.h"

/* torch allows 64 dimensions at most (more is refused on load) */
#define MAX_DIMS 64

/* ---- names ---- */

static int resolved_is(const value *g, const char *name)
{
    if (!g || g->kind != V_GLOBAL)
        return 0;
    const gref *r = &g->u.n->u.g;
    size_t n = strlen(name);
    return r->resolved_len == n && memcmp(r->resolved, name, n) == 0;
}

static int resolved_in(const value *g, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (resolved_is(g, names[i]))
            return 1;
    return 0;
}

/* How a rebuild helper lays out its arguments. */
enum layout { L_STORAGE, L_STORAGE_DTYPE, L_META, L_SPARSE, L_OTHER };

static const struct rebuild {
    const char *name;
    enum layout layout;
} rebuilds[] = {
    {"torch._utils._rebuild_tensor", L_STORAGE},
    {"torch._utils._rebuild_tensor_v2", L_STORAGE},
    {"torch._utils._rebuild_tensor_v3", L_STORAGE_DTYPE},
    {"torch._utils._rebuild_qtensor", L_STORAGE},
    {"torch._utils._rebuild_meta_tensor_no_storage", L_META},
    {"torch._utils._rebuild_sparse_tensor", L_SPARSE},
    {"torch._utils._rebuild_sparse_csr_tensor", L_SPARSE},
    {"torch._utils._rebuild_nested_tensor", L_OTHER},
    {"torch._utils._rebuild_wrapper_subclass", L_OTHER},
    {"torch._utils._rebuild_device_tensor_from_numpy", L_OTHER},
    {"torch._utils._rebuild_device_tensor_from_cpu_tensor", L_OTHER},
    {"torch._utils._rebuild_xla_tensor", L_OTHER},
    {"torch._utils._rebuild_mtia_tensor", L_OTHER},
};

static const struct rebuild *find_rebuild(const value *callee)
{
    for (size_t i = 0; i < ARRAY_LEN(rebuilds); i++)
        if (resolved_is(callee, rebuilds[i].name))
            return &rebuilds[i];
    return NULL;
}

int torch_is_tensor_rebuild(const value *callee)
{
    return find_rebuild(callee) != NULL;
}

int torch_is_parameter_rebuild(const value *callee)
{
    static const char *const names[] = {"torch._utils._rebuild_parameter",
                                        "torch._utils._rebuild_parameter_with_state",
                                        "torch.nn.parameter.Parameter"};
    return resolved_in(callee, names, ARRAY_LEN(names));
}

int torch_is_from_type(const value *callee)
{
    return resolved_is(callee, "torch._tensor._rebuild_from_type_v2");
}

int torch_is_parameter_type(const value *type)
{
    return resolved_is(type, "torch.nn.parameter.Parameter");
}

int torch_is_dict_type(const value *callee)
{
    static const char *const names[] = {"collections.OrderedDict", "builtins.dict",
                                        "collections.defaultdict", "collections.Counter"};
    return resolved_in(callee, names, ARRAY_LEN(names));
}

static const seq empty_seq;

const seq *torch_dict_items(const value *v)
{
    if (v->kind == V_DICT)
        return &v->u.n->u.s;
    if (v->kind == V_CALL && v->u.n->u.c.items.kind == V_DICT)
        return &v->u.n->u.c.items.u.n->u.s;
    if (v->kind == V_CALL && torch_is_dict_type(&v->u.n->u.c.callee))
        return v->u.n->u.c.items.kind == V_EMPTY ? &empty_seq : NULL;
    return NULL;
}

/* ---- names ---- */

/* Last dotted component of a global's resolved name. */
static bstr last_component(const value *g)
{
    const gref *r = &g->u.n->u.g;
    const char *dot = memrchr(r->resolved, '.', r->resolved_len);
    const char *p = dot ? dot + 1 : r->resolved;
    return (bstr){p, r->resolved_len - (size_t)(p - r->resolved)};
}

static int bstr_is(bstr b, const char *s)
{
    return b.n == strlen(s) && memcmp(b.p, s, b.n) == 0;
}

/* ---- arguments ---- */

static const value *arg(const value *args, uint32_t i)
{
    if (args->kind != V_TUPLE || args->u.n->u.s.kept <= i)
        return NULL;
    return &args->u.n->u.s.items[i];
}

static int small_int(const value *v, int64_t *out)
{
    if (!v || v->kind != V_INT || (v->flags & VF_BIGINT))
        return 0;
    *out = v->u.i;
    return 1;
}

/* A tuple (or torch.Size(tuple)) of ints into a report-owned array. */
static int read_dims(ckpt_report *rep, const value *v, size_t *ndim, const int64_t **out)
{
    if (v && v->kind == V_CALL && resolved_is(&v->u.n->u.c.callee, "torch.Size"))
        v = arg(&v->u.n->u.c.args, 0);
    if (!v || (v->kind != V_TUPLE && v->kind != V_LIST) || v->u.n->u.s.count > v->u.n->u.s.kept ||
        v->u.n->u.s.kept > MAX_DIMS)
        return 0;
    const seq *s = &v->u.n->u.s;
    int64_t *d = s->kept ? arena_alloc(&rep->mem, s->kept * sizeof(*d)) : NULL;
    if (s->kept && !d)
        return 0;
    for (uint32_t i = 0; i < s->kept; i++)
        if (!small_int(&s->items[i], &d[i]))
            return 0;
    *ndim = s->kept;
    *out = d;
    return 1;
}

static const char *text_of(ckpt_report *rep, const value *v)
{
    if (!v || (v->kind != V_STR && v->kind != V_BYTES))
        return "";
    return insp_text(rep, v->u.s, v->len);
}

static const char *int_text(ckpt_report *rep, const value *v)
{
    int64_t x;
    if (!small_int(v, &x))
        return text_of(rep, v);
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRId64, x);
    return report_strdup(rep, buf);
}

/* ('storage', storage_type, key, location, numel[, view_metadata]). */
static void read_storage(ckpt_report *rep, const value *pid, insp_tensor *t, const value *dtype)
{
    const torch_dtype *d = dtype ? torch_dtype_of_global(dtype) : NULL;
    if (pid && pid->kind == V_PERSID)
        pid = &pid->u.n->u.pid;
    const value *type = pid ? arg(pid, 1) : NULL;
    if (!d && type)
        d = torch_dtype_of_storage(type);
    if (d) {
        t->pub.dtype = d->dtype;
        t->elsize = d->size;
    }
    if (!pid || pid->kind != V_TUPLE)
        return;
    t->pub.storage_key = int_text(rep, arg(pid, 2));
    t->pub.device = text_of(rep, arg(pid, 3));
    int64_t numel;
    if (small_int(arg(pid, 4), &numel))
        t->pub.storage_numel = numel;
    /* torch >= 2 may name UntypedStorage: the count is then in bytes */
    if (type && type->kind == V_GLOBAL && bstr_is(last_component(type), "UntypedStorage"))
        t->storage_in_bytes = 1;
}

/* ---- the extent check ---- */

/* Elements the view spans in its storage, from storage_offset; 0 with
 * *why set when it cannot be computed. */
static uint64_t extent(const ckpt_tensor *p, const char **why)
{
    uint64_t last = 0, numel = 1;
    for (size_t i = 0; i < p->ndim; i++) {
        if (p->shape[i] < 0 || (p->has_stride && p->stride[i] < 0)) {
            *why = "a negative size or stride";
            return 0;
        }
        uint64_t step;
        if (mul_overflows(numel, (uint64_t)p->shape[i], &numel) ||
            (p->has_stride && p->shape[i] > 0 &&
             (mul_overflows((uint64_t)p->shape[i] - 1, (uint64_t)p->stride[i], &step) ||
              add_overflows(last, step, &last)))) {
            *why = "a shape or stride whose extent overflows 64 bits";
            return 0;
        }
    }
    if (numel == 0)
        return 0;
    uint64_t end;
    if (last == UINT64_MAX || add_overflows((uint64_t)p->storage_offset, last + 1, &end)) {
        *why = "a storage offset whose extent overflows 64 bits";
        return 0;
    }
    return end;
}

static uint64_t numel_of(const ckpt_tensor *p)
{
    uint64_t n = 1;
    for (size_t i = 0; i < p->ndim; i++)
        if (p->shape[i] < 0 || mul_overflows(n, (uint64_t)p->shape[i], &n))
            return 0;
    return n;
}

static void check_extent(ckpt_report *rep, insp_tensor *t)
{
    ckpt_tensor *p = &t->pub;
    const char *why = NULL;
    if (p->storage_offset < 0)
        why = "a negative storage offset";
    uint64_t end = why ? 0 : extent(p, &why);
    char msg[256];
    if (why) {
        snprintf(msg, sizeof(msg), "%s", why);
        p->problem = report_strdup(rep, msg);
        t->extent_bad = 1;
        return;
    }
    if (!p->has_stride || p->storage_numel < 0 || !*p->storage_key)
        return;
    uint64_t have = (uint64_t)p->storage_numel;
    if (t->storage_in_bytes && t->elsize)
        have /= t->elsize;
    if (end <= have)
        return;
    snprintf(msg, sizeof(msg),
             "its view reaches element %" PRIu64 " but its storage declares %" PRIu64
             " elements: torch.load refuses it or reads out of bounds",
             end, have);
    p->problem = report_strdup(rep, msg);
    t->extent_bad = 1;
}

/* 1 when a layout argument is _get_layout('torch.sparse_coo'). */
static int is_coo_layout(const value *layout)
{
    if (!layout || layout->kind != V_CALL ||
        !resolved_is(&layout->u.n->u.c.callee, "torch.serialization._get_layout"))
        return 0;
    const value *name = arg(&layout->u.n->u.c.args, 0);
    return name && name->kind == V_STR && name->len == 16 &&
           memcmp(name->u.s, "torch.sparse_coo", 16) == 0;
}

/* _rebuild_sparse_tensor(layout, data) (and 1.13's _rebuild_sparse_csr_tensor):
 * data is (indices, values, size[, is_coalesced]) for COO, (compressed
 * indices, plain indices, values, size) for CSR, CSC, BSR and BSC. Listed as
 * torch lists it: the values' dtype, the dense size, no strides; its bytes
 * are those of its parts. */
static uint64_t read_sparse(ckpt_report *rep, const value *args, insp_tensor *t)
{
    ckpt_tensor *p = &t->pub;
    const value *data = arg(args, 1);
    uint32_t n = data && data->kind == V_TUPLE ? data->u.n->u.s.kept : 0;
    uint32_t values = is_coo_layout(arg(args, 0)) ? 1 : 2;
    if (n < values + 2)
        return 0;
    uint64_t bytes = 0;
    for (uint32_t i = 0; i <= values; i++) {
        const value *part = arg(data, i);
        const struct rebuild *rb =
            part && part->kind == V_CALL ? find_rebuild(&part->u.n->u.c.callee) : NULL;
        if (!rb || rb->layout == L_SPARSE || rb->layout == L_OTHER)
            return 0;
        insp_tensor pt;
        memset(&pt, 0, sizeof(pt));
        torch_read_rebuild(rep, &part->u.n->u.c.callee, &part->u.n->u.c.args, &pt);
        if (add_overflows(bytes, pt.pub.nbytes, &bytes))
            return 0;
        if (i == values) {
            p->dtype = pt.pub.dtype;
            t->elsize = pt.elsize;
        }
    }
    read_dims(rep, arg(data, values + 1), &p->ndim, &p->shape);
    return bytes;
}

void torch_read_rebuild(ckpt_report *rep, const value *callee, const value *args, insp_tensor *t)
{
    const struct rebuild *rb = find_rebuild(callee);
    ckpt_tensor *p = &t->pub;
    p->rebuild = rb ? rb->name : "";
    p->dtype = p->storage_key = p->device = p->problem = "";
    p->storage_numel = p->record_bytes = -1;
    p->storage_users = 1;
    if (!rb || rb->layout == L_OTHER)
        return;
    if (rb->layout == L_SPARSE) {
        uint64_t bytes = read_sparse(rep, args, t);
        p->stride = NULL;
        p->numel = numel_of(p);
        p->nbytes = bytes;
        return;
    }
    if (rb->layout == L_META) {
        const torch_dtype *d = torch_dtype_of_global(arg(args, 0));
        if (d) {
            p->dtype = d->dtype;
            t->elsize = d->size;
        }
        read_dims(rep, arg(args, 1), &p->ndim, &p->shape);
        size_t n;
        p->has_stride = read_dims(rep, arg(args, 2), &n, &p->stride) && n == p->ndim;
    } else {
        read_storage(rep, arg(args, 0), t, rb->layout == L_STORAGE_DTYPE ? arg(args, 6) : NULL);
        small_int(arg(args, 1), &p->storage_offset);
        read_dims(rep, arg(args, 2), &p->ndim, &p->shape);
        size_t n;
        p->has_stride = read_dims(rep, arg(args, 3), &n, &p->stride) && n == p->ndim;
        const value *rg = arg(args, 4);
        p->requires_grad = rg && rg->kind == V_BOOL && rg->u.i;
    }
    if (!p->has_stride)
        p->stride = NULL;
    torch_finish_tensor(rep, t);
}

void torch_finish_tensor(ckpt_report *rep, insp_tensor *t)
{
    ckpt_tensor *p = &t->pub;
    p->numel = numel_of(p);
    uint64_t bytes;
    p->nbytes = mul_overflows(p->numel, t->elsize, &bytes) ? 0 : bytes;
    check_extent(rep, t);
}

/* ---- the top level in brief ---- */

/* Looks among the first pairs only: a summary must not cost N x M when N
 * top-level keys share one huge dict. */
#define DICT_GET_PAIRS 64

static const value *dict_get(const value *d, const char *key)
{
    const seq *s = torch_dict_items(d);
    size_t n = strlen(key);
    for (uint32_t i = 0; s && i + 1 < s->kept && i < 2 * DICT_GET_PAIRS; i += 2)
        if (s->items[i].kind == V_STR && s->items[i].len == n &&
            memcmp(s->items[i].u.s, key, n) == 0)
            return &s->items[i + 1];
    return NULL;
}

static uint64_t items_of(const value *v)
{
    const seq *s = torch_dict_items(v);
    if (s)
        return s->count / 2;
    return v_is_container(v) ? v->u.n->u.s.count : 0;
}

/* "optimizer: 4 parameter states (exp_avg, exp_avg_sq, step), 1 param group (lr=0.001)" */
static int describe_optimizer(strbuf *sb, const value *v)
{
    const value *state = dict_get(v, "state"), *groups = dict_get(v, "param_groups");
    if (!state || !groups || !torch_dict_items(state) || groups->kind != V_LIST)
        return 0;
    uint64_t nstates = items_of(state), ngroups = groups->u.n->u.s.count;
    sb_printf(sb, "optimizer: %" PRIu64 " parameter state%s", nstates, nstates == 1 ? "" : "s");
    const seq *st = torch_dict_items(state);
    const seq *first = st->kept >= 2 ? torch_dict_items(&st->items[1]) : NULL;
    for (uint32_t i = 0; first && i + 1 < first->kept && i < 16; i += 2) {
        sb_puts(sb, i ? ", " : " (");
        render_value(sb, &first->items[i], 1);
    }
    if (first && first->kept)
        sb_putc(sb, ')');
    sb_printf(sb, ", %" PRIu64 " param group%s", ngroups, ngroups == 1 ? "" : "s");
    const value *lr = groups->u.n->u.s.kept ? dict_get(&groups->u.n->u.s.items[0], "lr") : NULL;
    if (lr) {
        sb_puts(sb, " (lr=");
        render_value(sb, lr, 1);
        sb_putc(sb, ')');
    }
    return 1;
}

static void describe_tensor(strbuf *sb, const insp_tensor *t)
{
    const ckpt_tensor *p = &t->pub;
    sb_printf(sb, "%s%s[", p->is_parameter ? "parameter " : "", *p->dtype ? p->dtype : "?");
    for (size_t i = 0; i < p->ndim; i++)
        sb_printf(sb, "%s%" PRId64, i ? ", " : "", p->shape[i]);
    sb_putc(sb, ']');
}

static const char *kind_of(const value *v, const insp_tensor *first, int optimizer)
{
    if (optimizer)
        return "optimizer";
    if (v->kind == V_CALL && first &&
        (torch_is_tensor_rebuild(&v->u.n->u.c.callee) ||
         torch_is_parameter_rebuild(&v->u.n->u.c.callee) ||
         torch_is_from_type(&v->u.n->u.c.callee)))
        return "tensor";
    if (torch_dict_items(v))
        return "dict";
    switch (v->kind) {
    case V_CALL: return "object";
    case V_PERSID: return "persistent-id";
    default: return v_kind_name((vkind)v->kind);
    }
}

void torch_describe_entry(struct insp *in, ckpt_entry *e, const value *v, const insp_tensor *first)
{
    strbuf sb;
    sb_init(&sb, 200);
    int optimizer = describe_optimizer(&sb, v);
    e->kind = kind_of(v, first, optimizer);
    if (optimizer) {
        /* done */
    } else if (strcmp(e->kind, "tensor") == 0) {
        describe_tensor(&sb, first);
    } else if (strcmp(e->kind, "dict") == 0 || v_is_container(v)) {
        sb_printf(&sb, "%" PRIu64 " %s", items_of(v), torch_dict_items(v) ? "keys" : "items");
    } else if (v->kind == V_CALL) {
        render_value(&sb, &v->u.n->u.c.callee, 1);
    } else {
        render_value(&sb, v, 1);
    }
    e->summary = report_strdup(in->rep, sb_cstr(&sb));
    sb_free(&sb);
}

const char *torch_sys_info_byteorder(const value *root)
{
    const value *le = dict_get(root, "little_endian");
    if (!le || le->kind != V_BOOL || !dict_get(root, "protocol_version"))
        return NULL;
    return le->u.i ? "little" : "big";
}
