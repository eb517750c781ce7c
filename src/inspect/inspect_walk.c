/* SPDX-License-Identifier: Apache-2.0 */
/* The tensor inventory: walks what a pickle's STOP returned and finds every
 * tensor rebuild call, with its key path in the object (nn.Module's
 * _parameters/_buffers/_modules levels left out, as state_dict() does).
 * Shared containers are walked once; tensors are listed at every key that
 * holds them (tied weights appear under each name, as in state_dict()). */
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "inspect_torch.h"
#include "strbuf.h"
#include "util.h"

#define MAX_WALK_DEPTH 256
#define MAX_PATH       4096

typedef struct walker {
    struct insp *in;
    const char *member;
    unsigned seq;
    strbuf path;
    size_t entry; /* current top-level entry, or SIZE_MAX */
    unsigned depth;
    int complete;
    const node **seen; /* open addressing set of walked containers */
    size_t seen_cap, nseen;
} walker;

static void walk(walker *w, const value *v);

/* ---- containers walked once ---- */

static size_t ptr_slot(const node *n, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)n * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(h >> 20) & (cap - 1);
}

static int seen_grow(walker *w)
{
    size_t cap = w->seen_cap ? w->seen_cap * 2 : 256;
    const node **t = calloc(cap, sizeof(*t));
    if (!t)
        return 0;
    for (size_t i = 0; i < w->seen_cap; i++) {
        if (!w->seen[i])
            continue;
        size_t s = ptr_slot(w->seen[i], cap);
        while (t[s])
            s = (s + 1) & (cap - 1);
        t[s] = w->seen[i];
    }
    free(w->seen);
    w->seen = t;
    w->seen_cap = cap;
    return 1;
}

/* 1 the first time a node is met; 0 afterwards (or on no memory). */
static int first_visit(walker *w, const node *n)
{
    if ((w->nseen + 1) * 2 > w->seen_cap && !seen_grow(w)) {
        w->complete = 0;
        return 0;
    }
    size_t s = ptr_slot(n, w->seen_cap);
    while (w->seen[s]) {
        if (w->seen[s] == n)
            return 0;
        s = (s + 1) & (w->seen_cap - 1);
    }
    w->seen[s] = n;
    w->nseen++;
    return 1;
}

/* ---- key paths ---- */

/* Appends one component for key k; returns the length to restore. */
static size_t path_push(walker *w, const value *k)
{
    size_t old = w->path.len;
    if (old)
        sb_putc(&w->path, '.');
    switch (k->kind) {
    case V_STR:
    case V_BYTES: insp_put_text(&w->path, k->u.s, k->len); break;
    case V_INT:
        if (!(k->flags & VF_BIGINT)) {
            sb_printf(&w->path, "%lld", (long long)k->u.i);
            break;
        }
        /* fall through */
    default: render_value(&w->path, k, 1); break;
    }
    return old;
}

static size_t path_push_index(walker *w, uint64_t i)
{
    value k = v_make(V_INT);
    k.u.i = (int64_t)i;
    return path_push(w, &k);
}

static void path_pop(walker *w, size_t old)
{
    w->path.len = old;
    if (w->path.data)
        w->path.data[old] = 0;
}

/* nn.Module keeps its members one level down; state_dict() names skip it. */
static int module_level(const value *k)
{
    static const char *const levels[] = {"_parameters", "_buffers", "_modules"};
    if (k->kind != V_STR)
        return 0;
    for (size_t i = 0; i < ARRAY_LEN(levels); i++)
        if (k->len == strlen(levels[i]) && memcmp(k->u.s, levels[i], k->len) == 0)
            return 1;
    return 0;
}

static void walk_pairs(walker *w, const seq *s, int object_state)
{
    for (uint32_t i = 0; i + 1 < s->kept; i += 2) {
        if (object_state && module_level(&s->items[i])) {
            walk(w, &s->items[i + 1]);
            continue;
        }
        size_t old = path_push(w, &s->items[i]);
        walk(w, &s->items[i + 1]);
        path_pop(w, old);
    }
    if (s->count > s->kept)
        w->complete = 0;
}

static void walk_items(walker *w, const seq *s)
{
    for (uint32_t i = 0; i < s->kept; i++) {
        size_t old = path_push_index(w, i);
        walk(w, &s->items[i]);
        path_pop(w, old);
    }
    if (s->count > s->kept)
        w->complete = 0;
}

static void note_global(walker *w, const value *g)
{
    if (g->kind == V_GLOBAL)
        insp_note_usage(w->in, g->u.n->u.g.import_index, w->path.data ? w->path.data : "",
                        w->path.len);
}

/* ---- tensors ---- */

static void add_tensor(walker *w, const callsite *c, const value *args, const value *as_type,
                       int parameter)
{
    uint64_t cost = sizeof(insp_tensor) + w->path.len + 1;
    insp_tensor *t = insp_charge(w->in, cost) ? insp_new_tensor(w->in) : NULL;
    if (!t) {
        w->complete = 0;
        return;
    }
    t->entry = w->entry;
    t->pickle_seq = w->seq;
    t->pub.member = report_strdup(w->in->rep, w->member);
    t->pub.offset = c->offset;
    t->pub.path = report_strdup(w->in->rep, sb_cstr(&w->path));
    torch_read_rebuild(w->in->rep, &c->callee, args, t);
    if (!insp_charge(w->in, 2 * t->pub.ndim * sizeof(int64_t)))
        w->complete = 0;
    /* the storage class is used here too, inside the persistent id */
    const value *st =
        args->kind == V_TUPLE && args->u.n->u.s.kept ? &args->u.n->u.s.items[0] : NULL;
    if (st && st->kind == V_PERSID && st->u.n->u.pid.kind == V_TUPLE &&
        st->u.n->u.pid.u.n->u.s.kept > 1)
        note_global(w, &st->u.n->u.pid.u.n->u.s.items[1]);
    t->pub.is_parameter = parameter || torch_is_parameter_type(as_type);
}

/* Parameter(data, requires_grad, hooks[, state]) around a tensor call. */
static int walk_parameter(walker *w, const callsite *c)
{
    const value *a = &c->args;
    if (a->kind != V_TUPLE || a->u.n->u.s.kept < 1)
        return 0;
    const value *inner = &a->u.n->u.s.items[0];
    if (inner->kind != V_CALL || !torch_is_tensor_rebuild(&inner->u.n->u.c.callee))
        return 0;
    note_global(w, &inner->u.n->u.c.callee);
    size_t before = w->in->ntensors;
    add_tensor(w, &inner->u.n->u.c, &inner->u.n->u.c.args, NULL, 1);
    if (w->in->ntensors > before && a->u.n->u.s.kept >= 2) {
        const value *rg = &a->u.n->u.s.items[1];
        w->in->tensors[before].pub.requires_grad = rg->kind == V_BOOL && rg->u.i;
    }
    return 1;
}

/* _rebuild_from_type_v2(func, new_type, args, state): a tensor subclass. */
static int walk_from_type(walker *w, const callsite *c)
{
    const value *a = &c->args;
    if (a->kind != V_TUPLE || a->u.n->u.s.kept < 3)
        return 0;
    const value *func = &a->u.n->u.s.items[0];
    if (!torch_is_tensor_rebuild(func))
        return 0;
    note_global(w, func);
    callsite inner = *c;
    inner.callee = *func;
    add_tensor(w, &inner, &a->u.n->u.s.items[2], &a->u.n->u.s.items[1], 0);
    return 1;
}

/* An object's __dict__ state: nn.Module levels are left out of paths. */
static void walk_state_dict(walker *w, const value *state)
{
    if (state->kind != V_DICT) {
        walk(w, state);
        return;
    }
    if (first_visit(w, state->u.n))
        walk_pairs(w, &state->u.n->u.s, 1);
}

/* BUILD's state, or (state, slotstate) as BUILD unpacks it: one level. */
static void walk_state(walker *w, const value *state)
{
    if (state->kind == V_TUPLE && state->u.n->u.s.kept == 2) {
        walk_state_dict(w, &state->u.n->u.s.items[0]);
        walk_state_dict(w, &state->u.n->u.s.items[1]);
        return;
    }
    walk_state_dict(w, state);
}

static void walk_object(walker *w, const value *v)
{
    const callsite *c = &v->u.n->u.c;
    if (!first_visit(w, v->u.n))
        return;
    if (c->items.kind == V_DICT)
        walk_pairs(w, &c->items.u.n->u.s, 0);
    else if (c->items.kind != V_EMPTY)
        walk_items(w, &c->items.u.n->u.s);
    if (c->state.kind != V_EMPTY)
        walk_state(w, &c->state);
    if (c->args.kind == V_TUPLE && c->args.u.n->u.s.kept > 0 && !torch_is_dict_type(&c->callee))
        walk_items(w, &c->args.u.n->u.s);
}

static void walk_call(walker *w, const value *v)
{
    const callsite *c = &v->u.n->u.c;
    note_global(w, &c->callee);
    if (torch_is_tensor_rebuild(&c->callee)) {
        add_tensor(w, c, &c->args, NULL, 0);
        return;
    }
    if (torch_is_parameter_rebuild(&c->callee) && walk_parameter(w, c))
        return;
    if (torch_is_from_type(&c->callee) && walk_from_type(w, c))
        return;
    walk_object(w, v);
}

/* torch's tar layout: the main pickle names each tensor by a persistent
 * id that legacy_load looks up in what the tensors member built. */
static void walk_persid(walker *w, const value *v)
{
    if (strcmp(w->in->torch.layout, "tar") != 0 || strcmp(w->member, "pickle") != 0 ||
        v->u.n->u.pid.kind == V_TUPLE)
        return; /* a tuple is a module's source check: not a tensor */
    uint64_t cost = sizeof(insp_tensor) + w->path.len + 1;
    insp_tensor *t = insp_charge(w->in, cost) ? insp_new_tensor(w->in) : NULL;
    if (!t || !insp_tar_pending(w->in, t, &v->u.n->u.pid)) {
        w->complete = 0;
        return;
    }
    t->entry = w->entry;
    t->pickle_seq = w->seq;
    t->pub.member = report_strdup(w->in->rep, w->member);
    t->pub.path = report_strdup(w->in->rep, sb_cstr(&w->path));
}

static void walk(walker *w, const value *v)
{
    if (w->depth >= MAX_WALK_DEPTH) {
        w->complete = 0;
        return;
    }
    w->depth++;
    switch (v->kind) {
    case V_DICT:
        if (first_visit(w, v->u.n))
            walk_pairs(w, &v->u.n->u.s, 0);
        break;
    case V_LIST:
    case V_TUPLE:
    case V_SET:
    case V_FROZENSET:
        if (first_visit(w, v->u.n))
            walk_items(w, &v->u.n->u.s);
        break;
    case V_GLOBAL: note_global(w, v); break;
    case V_CALL: walk_call(w, v); break;
    case V_PERSID: walk_persid(w, v); break;
    default: break;
    }
    w->depth--;
}

/* ---- the top level ---- */

static void walk_entries(walker *w, const seq *pairs)
{
    for (uint32_t i = 0; i + 1 < pairs->kept; i += 2) {
        ckpt_entry *e = insp_new_entry(w->in);
        if (!e) {
            w->complete = 0;
            return;
        }
        size_t index = (size_t)(e - w->in->entries);
        const value *k = &pairs->items[i], *val = &pairs->items[i + 1];
        size_t old = path_push(w, k);
        size_t from = old + (old ? 1 : 0);
        const char *key = sb_cstr(&w->path) + from;
        e->key_len = w->path.len - from;
        e->key = arena_strndup(&w->in->rep->mem, key, e->key_len);
        if (!e->key) {
            e->key = "";
            e->key_len = 0;
        }
        size_t before = w->in->ntensors;
        w->entry = index;
        walk(w, val);
        w->entry = SIZE_MAX;
        path_pop(w, old);
        torch_describe_entry(w->in, &w->in->entries[index], val,
                             w->in->ntensors > before ? &w->in->tensors[before] : NULL);
    }
}

int insp_walk(struct insp *in, const char *member, unsigned pickle_seq, const value *root,
              int with_entries)
{
    walker w;
    memset(&w, 0, sizeof(w));
    w.in = in;
    w.member = member;
    w.seq = pickle_seq;
    w.entry = SIZE_MAX;
    w.complete = 1;
    sb_init(&w.path, MAX_PATH);
    const seq *pairs = torch_dict_items(root);
    if (with_entries && pairs && first_visit(&w, root->u.n)) {
        if (root->kind == V_CALL)
            note_global(&w, &root->u.n->u.c.callee);
        walk_entries(&w, pairs);
    } else if (with_entries) {
        ckpt_entry *e = insp_new_entry(in);
        size_t before = in->ntensors;
        walk(&w, root);
        if (e)
            torch_describe_entry(in, e, root, in->ntensors > before ? &in->tensors[before] : NULL);
    } else {
        walk(&w, root);
    }
    sb_free(&w.path);
    free(w.seen);
    return w.complete;
}
