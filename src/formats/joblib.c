/* SPDX-License-Identifier: Apache-2.0 */
/* joblib arrays inside pickle streams: after a BUILD that leaves a
 * NumpyArrayWrapper on the stack, joblib reads the array's bytes from the
 * file in the middle of the pickle stream (joblib/numpy_pickle.py,
 * read_array). This hook follows every BUILD as joblib 1.2 and numpy 1.24
 * see it: the wrappers' attributes (every BUILD state merged, whatever
 * alias or pass-through the BUILD came through) and the dtypes' (numpy
 * applies every __setstate__ to a dtype object of its own and ignores it on
 * its builtin singletons), and skips exactly the array's bytes, so the
 * opcodes after each array are scanned too. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "opcodes.h"
#include "util.h"
#include "value.h"

/* Set on the stack slot of a wrapper joblib has read: joblib replaces that
 * slot with the array, so a BUILD on that slot (or a copy made from it
 * later) acts on the array, not on the wrapper. */
#define VF_JOBLIB_READ 0x80

#define NAME_SHOWN  200
#define PASS_DEPTH  16         /* pass-throughs and dtype(dtype(...)) followed */
#define MAX_TRACKED (1u << 17) /* wrappers and dtypes one stream may make */

typedef enum wkind { W_NONE, W_ARRAY, W_ND, W_ZND } wkind;

/* The wrapper's attributes after __init__ (if it ran) and its BUILDs. */
typedef struct wattrs {
    const value *shape, *dtype, *align, *filename;
    int has_align;  /* numpy_array_alignment_bytes is set and not None */
    int unreadable; /* a state joblib would reject or ckptscan cannot see whole */
} wattrs;

/* A dtype as numpy holds it. */
typedef struct dtinfo {
    uint64_t itemsize;
    int hasobject; /* flags & NPY_ITEM_HASOBJECT: joblib unpickles the data */
    int object;    /* the type is object ('O') */
    int extended;  /* S, a, U, V (and 'c', S1): a state sets the size */
} dtinfo;

enum { T_FREE, T_DTYPE, T_WRAPPER };

/* A dtype or wrapper object the stream made, by the node of the call that
 * made it (its identity: memo copies and pass-throughs share the node). */
typedef struct tracked {
    const node *id;
    uint8_t kind;
    uint8_t known; /* T_DTYPE: dt is what numpy holds */
    uint8_t inited;
    dtinfo dt;
    wattrs w;
} tracked;

struct joblib_objects {
    tracked *slots;
    size_t cap, n;
};

/* ---- the tracked objects: open addressing by node address ---- */

static size_t slot_of(const node *id, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)id * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 20) & (cap - 1);
}

static int grow(struct joblib_objects *o)
{
    size_t cap = o->cap ? o->cap * 2 : 256;
    tracked *s = calloc(cap, sizeof(*s));
    if (!s)
        return 0;
    for (size_t i = 0; i < o->cap; i++) {
        if (o->slots[i].kind == T_FREE)
            continue;
        size_t j = slot_of(o->slots[i].id, cap);
        while (s[j].kind != T_FREE)
            j = (j + 1) & (cap - 1);
        s[j] = o->slots[i];
    }
    free(o->slots);
    o->slots = s;
    o->cap = cap;
    return 1;
}

/* The entry of `id`, or NULL; with create, a new free entry (kind T_FREE
 * until the caller sets it) unless memory or MAX_TRACKED runs out. */
static tracked *lookup(struct joblib_objects *o, const node *id, int create)
{
    if (!o)
        return NULL;
    if (o->cap) {
        for (size_t j = slot_of(id, o->cap); o->slots[j].kind != T_FREE; j = (j + 1) & (o->cap - 1))
            if (o->slots[j].id == id)
                return &o->slots[j];
    }
    if (!create || o->n >= MAX_TRACKED || ((o->n + 1) * 2 > o->cap && !grow(o)))
        return NULL;
    size_t j = slot_of(id, o->cap);
    while (o->slots[j].kind != T_FREE)
        j = (j + 1) & (o->cap - 1);
    o->n++;
    memset(&o->slots[j], 0, sizeof(o->slots[j]));
    o->slots[j].id = id;
    return &o->slots[j];
}

/* ---- values ---- */

static int global_is(const value *g, const char *name)
{
    if (!g || g->kind != V_GLOBAL)
        return 0;
    const gref *r = &g->u.n->u.g;
    return r->resolved_len == strlen(name) && memcmp(r->resolved, name, r->resolved_len) == 0;
}

/* Attribute names: BUILD interns them, so they must be str. */
static int str_is(const value *v, const char *s)
{
    size_t n = strlen(s);
    return v->kind == V_STR && v->len == n && memcmp(v->u.s, s, n) == 0;
}

static const value *item(const value *v, uint32_t i)
{
    if (!v || !v_is_container(v) || v->u.n->u.s.kept <= i)
        return NULL;
    return &v->u.n->u.s.items[i];
}

static int whole(const value *v)
{
    return v && v_is_container(v) && v->u.n->u.s.count == v->u.n->u.s.kept;
}

/* What a value really is: the call that made it. numpy's
 * scalar(dtype('O'), x) returns x; torch._tensor._rebuild_from_type_v2(
 * func, new_type, args, state) returns func(*args) (that call made it) and,
 * unless new_type is torch.Tensor, sets the state's attributes on it. */
typedef struct made {
    const node *id;
    const value *callee, *args;
    uint8_t opcode;
    int inited;    /* __init__ ran: the class was called (not NEWOBJ) */
    int state_set; /* attributes were set outside BUILDs */
} made;

static int really_made(const value *v, made *m)
{
    memset(m, 0, sizeof(*m));
    for (int depth = 0; depth < PASS_DEPTH && v && v->kind == V_CALL; depth++) {
        const callsite *c = &v->u.n->u.c;
        const value *callee = &c->callee, *args = &c->args;
        m->state_set |= c->state_set;
        for (; global_is(callee, "torch._tensor._rebuild_from_type_v2") && depth < PASS_DEPTH;
             depth++) {
            const value *type = item(args, 1), *state = item(args, 3);
            if (state && state->kind != V_NONE && !global_is(type, "torch.Tensor") &&
                !global_is(type, "torch._tensor.Tensor"))
                m->state_set = 1;
            callee = item(args, 0);
            args = item(args, 2);
            if (!callee || !args)
                return 0;
        }
        if (global_is(callee, "numpy.core.multiarray.scalar")) {
            v = item(args, 1);
            continue;
        }
        m->id = v->u.n;
        m->callee = callee;
        m->args = args;
        m->opcode = callee == &c->callee ? c->opcode : OP_REDUCE;
        m->inited = m->opcode != OP_NEWOBJ && m->opcode != OP_NEWOBJ_EX;
        return 1;
    }
    return 0;
}

static const struct {
    const char *name;
    wkind kind;
} wrapper_classes[] = {
    {"joblib.numpy_pickle.NumpyArrayWrapper", W_ARRAY},
    {"joblib.numpy_pickle_compat.NDArrayWrapper", W_ND},
    {"joblib.numpy_pickle.NDArrayWrapper", W_ND},
    {"joblib.numpy_pickle_compat.ZNDArrayWrapper", W_ZND},
    {"joblib.numpy_pickle.ZNDArrayWrapper", W_ZND},
};

/* The helpers that call cls.__new__ with the class as first argument. */
static const char *const copyreg_helpers[] = {"copyreg._reconstructor", "copyreg.__newobj__",
                                              "copyreg.__newobj_ex__"};

static wkind class_kind(const value *cls)
{
    for (size_t i = 0; i < ARRAY_LEN(wrapper_classes); i++)
        if (global_is(cls, wrapper_classes[i].name))
            return wrapper_classes[i].kind;
    return W_NONE;
}

static int is_copyreg_helper(const value *callee)
{
    for (size_t i = 0; i < ARRAY_LEN(copyreg_helpers); i++)
        if (global_is(callee, copyreg_helpers[i]))
            return 1;
    /* object.__new__, NumpyArrayWrapper.__new__, ...: cls.__new__(cls) too */
    static const char new_[] = ".__new__";
    const size_t n = sizeof(new_) - 1;
    if (!callee || callee->kind != V_GLOBAL)
        return 0;
    const gref *g = &callee->u.n->u.g;
    return g->resolved_len > n && memcmp(g->resolved + g->resolved_len - n, new_, n) == 0;
}

/* joblib tests isinstance(), so every way of making an instance counts:
 * the class called (REDUCE/OBJ/INST run __init__), NEWOBJ, or the copyreg
 * helpers that call cls.__new__. */
static wkind wrapper_kind(const made *m, int *inited)
{
    wkind k = class_kind(m->callee);
    *inited = k != W_NONE && m->inited;
    if (k != W_NONE)
        return k;
    const value *first = item(m->args, 0);
    return first && is_copyreg_helper(m->callee) ? class_kind(first) : W_NONE;
}

/* __init__(subclass, shape, order, dtype, allow_mmap=False,
 * numpy_array_alignment_bytes=16) and the old wrappers' (filename, ...). */
static void init_attrs(wkind k, const value *args, wattrs *a)
{
    if (k != W_ARRAY) {
        a->filename = item(args, 0);
        return;
    }
    a->shape = item(args, 1);
    a->dtype = item(args, 3);
    a->align = item(args, 5);
    a->has_align = a->align ? a->align->kind != V_NONE : 1;
}

static void set_attr(wattrs *a, const value *key, const value *val)
{
    if (str_is(key, "shape"))
        a->shape = val;
    else if (str_is(key, "dtype"))
        a->dtype = val;
    else if (str_is(key, "filename"))
        a->filename = val;
    else if (str_is(key, "numpy_array_alignment_bytes")) {
        a->align = val;
        a->has_align = val->kind != V_NONE;
    }
}

/* BUILD without __setstate__: inst.__dict__.update(state), then setattr
 * for each slot-state item; later keys win. */
static void merge_dict(wattrs *a, const value *d)
{
    if (d->kind == V_NONE)
        return;
    if (d->kind != V_DICT || d->u.n->u.s.count > d->u.n->u.s.kept) {
        a->unreadable = 1;
        return;
    }
    const seq *s = &d->u.n->u.s;
    for (uint32_t i = 0; i + 1 < s->kept; i += 2)
        set_attr(a, &s->items[i], &s->items[i + 1]);
}

static void state_attrs(const value *state, wattrs *a)
{
    if (state->kind == V_TUPLE && state->u.n->u.s.count == 2 && state->u.n->u.s.kept == 2) {
        merge_dict(a, item(state, 0));
        merge_dict(a, item(state, 1));
    } else {
        merge_dict(a, state);
    }
}

/* A BUILD whose slot state sets __class__ or __dict__ (setattr): the object
 * may become a wrapper (or another wrapper) or lose its attributes. */
static int state_resets_object(const value *state)
{
    const value *slots = state->kind == V_TUPLE && whole(state) && state->u.n->u.s.count == 2
                             ? item(state, 1)
                             : NULL;
    if (!slots || slots->kind != V_DICT)
        return 0;
    if (!whole(slots))
        return 1;
    for (uint32_t i = 0; i + 1 < slots->u.n->u.s.kept; i += 2) {
        const value *k = &slots->u.n->u.s.items[i];
        if (str_is(k, "__class__") || str_is(k, "__dict__"))
            return 1;
    }
    return 0;
}

/* ---- dtypes: numpy.dtype(typestr, align, copy) plus BUILD state ---- */

/* Size of a type letter written without digits; 0 when it needs digits. */
static uint64_t default_size(char c)
{
    static const char *const by_size[] = {
        "", "?bBcSaUV", "hHe", "", "iIf", "", "", "",  "qQlLpPdFOMm",
        "", "",         "",    "", "",    "", "", "gD"};
    for (size_t n = 1; n < ARRAY_LEN(by_size); n++)
        if (c && strchr(by_size[n], c))
            return n;
    return c == 'G' ? 32 : 0;
}

/* Type string as numpy's reduce writes it: [<>|=]letter[digits][[unit]].
 * *fresh: numpy makes a new dtype object for it (sized S, a, U, V; 'c',
 * which is S1; datetimes with a size or unit; multi-byte types in
 * big-endian order); otherwise dtype() returns a builtin singleton. */
static int parse_typestr(const value *s, dtinfo *d, int *fresh)
{
    if (s->kind != V_STR && s->kind != V_BYTES)
        return 0;
    const char *p = s->u.s, *end = p + s->len;
    char order = '=';
    if (p < end && strchr("<>|=", *p))
        order = *p++;
    if (p == end || !*p || !strchr("?bBhHiIlLqQpPefdgFDGOMmSaUVcu", *p))
        return 0;
    char c = *p++;
    uint64_t digits = 0;
    int have = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++, have = 1)
        if (mul_overflows(digits, 10, &digits) ||
            add_overflows(digits, (uint64_t)(*p - '0'), &digits))
            return 0;
    if (p < end && *p != '[')
        return 0;
    int unit = p < end;
    int flexible = strchr("SaUV", c) != NULL;
    memset(d, 0, sizeof(*d));
    d->object = d->hasobject = c == 'O';
    d->extended = flexible || (c == 'c' && !have);
    d->itemsize = !have ? (flexible ? 0 : default_size(c)) : digits;
    if (c == 'U' && mul_overflows(d->itemsize, 4, &d->itemsize))
        return 0;
    if (c == 'O')
        d->itemsize = 8; /* 'O4' too */
    if (c == 'U')
        *fresh = d->itemsize > 0 || order == '>'; /* UCS4 has a byte order */
    else if (flexible)
        *fresh = d->itemsize > 0;
    else if (c == 'c' && !have)
        *fresh = 1;
    else if (c == 'M' || c == 'm')
        *fresh = have || unit || order == '>';
    else
        *fresh = order == '>' && d->itemsize > 1 && c != 'O';
    return have || flexible || d->itemsize > 0;
}

/* A value's truth as PyObject_IsTrue sees it; -1 when unknown. */
static int truth(const value *v)
{
    switch (v->kind) {
    case V_NONE: return 0;
    case V_BOOL:
    case V_INT: return (v->flags & VF_BIGINT) || v->u.i != 0;
    case V_FLOAT: return v->u.f != 0;
    case V_STR:
    case V_BYTES: return v->len != 0 || (v->flags & VF_TRUNCATED);
    default: return v_is_container(v) ? v->u.n->u.s.count != 0 : -1;
    }
}

/* An int as PyArg_ParseTuple's "i" takes it. */
static int c_int(const value *v, int64_t *out)
{
    if ((v->kind != V_INT && v->kind != V_BOOL) || (v->flags & VF_BIGINT) || v->u.i < INT32_MIN ||
        v->u.i > INT32_MAX)
        return 0;
    *out = v->u.i;
    return 1;
}

/* numpy 1.24 arraydescr_setstate on a dtype object of its own: 0 when
 * numpy raises (joblib.load stops there) or ckptscan cannot tell. */
static int apply_dtype_state(dtinfo *d, const value *st)
{
    if (st->kind != V_TUPLE || !whole(st))
        return 0;
    uint64_t n = st->u.n->u.s.count;
    int64_t version = 0, elsize, alignment, flags = 0;
    const value *endian, *fields, *names;
    if (n == 5) { /* (endian, subarray, fields, elsize, alignment), version 0 */
        endian = item(st, 0);
        fields = item(st, 2);
        names = fields;
        if (!c_int(item(st, 3), &elsize) || !c_int(item(st, 4), &alignment))
            return 0;
    } else if (n >= 7 && n <= 9) {
        endian = item(st, 1);
        names = item(st, 3);
        fields = item(st, 4);
        if (!c_int(item(st, 0), &version) || !c_int(item(st, 5), &elsize) ||
            !c_int(item(st, 6), &alignment) || (n >= 8 && !c_int(item(st, 7), &flags)))
            return 0;
        if (n == 7)
            flags = 0;
    } else {
        return 0; /* 6 items (names unset) or a size numpy refuses */
    }
    int structured = fields->kind != V_NONE || names->kind != V_NONE;
    if (version < 0 || version > 4 || (endian->kind != V_STR && endian->kind != V_BYTES) ||
        endian->len != 1 || (structured && (fields->kind != V_DICT || names->kind != V_TUPLE)))
        return 0; /* refused */
    if (structured && version < 3)
        return 0; /* hasobject from the fields' types: not followed */
    if (flags < -128 || flags > 127)
        return 0;    /* "incorrect value for flags variable (overflow)" */
    if (d->extended) /* numpy takes any int: a negative size reads nothing (or fails) */
        d->itemsize = elsize < 0 ? 0 : (uint64_t)elsize;
    /* versions before 3 recompute the flags (_descr_find_object) */
    d->hasobject = version >= 3 ? (flags & 1) != 0 : flags != 0 || d->object;
    return 1;
}

static int is_dtype_class(const value *g)
{
    return global_is(g, "numpy.dtype") || global_is(g, "numpy.core.multiarray.dtype");
}

typedef enum dres { D_UNKNOWN, D_SINGLETON, D_OBJECT } dres;

/* What dtype value v is when it is used: numpy.dtype(obj, align, copy,
 * metadata) gives a builtin singleton (a state cannot change it), a new
 * object (its BUILDs apply), or obj itself when obj is a dtype object of
 * its own. *t: the object's entry (D_OBJECT). */
static dres eval_dtype(struct joblib_objects *o, const value *v, dtinfo *d, tracked **t, int depth)
{
    made m;
    if (depth > PASS_DEPTH || !really_made(v, &m) || m.state_set || !is_dtype_class(m.callee) ||
        m.opcode == OP_NEWOBJ_EX)
        return D_UNKNOWN;
    tracked *e = lookup(o, m.id, 0);
    if (e) {
        if (e->kind != T_DTYPE || !e->known)
            return D_UNKNOWN;
        *d = e->dt;
        *t = e;
        return D_OBJECT;
    }
    uint64_t n = whole(m.args) ? m.args->u.n->u.s.count : 0;
    if (n < 1 || n > 4)
        return D_UNKNOWN;
    const value *first = item(m.args, 0), *copyv = item(m.args, 2);
    int copy = copyv ? truth(copyv) : 0;
    int metadata = n == 4; /* a dict makes a copy; anything else raises */
    int fresh;
    if (copy < 0)
        return D_UNKNOWN;
    if (first->kind == V_STR || first->kind == V_BYTES) {
        if (!parse_typestr(first, d, &fresh))
            return D_UNKNOWN;
    } else {
        dres r = eval_dtype(o, first, d, t, depth + 1);
        if (r == D_OBJECT && !metadata)
            return D_OBJECT; /* numpy returns the same object */
        if (r != D_SINGLETON)
            return D_UNKNOWN; /* a copy of a state BUILDs may have changed since */
        fresh = 0;
    }
    if (!fresh && !copy && !metadata)
        return D_SINGLETON;
    e = lookup(o, m.id, 1);
    if (!e)
        return D_UNKNOWN;
    e->kind = T_DTYPE;
    e->known = 1;
    e->dt = *d;
    *t = e;
    return D_OBJECT;
}

/* BUILD on a dtype: numpy applies the state to its own objects. */
static void build_dtype(struct joblib_objects *o, const value *obj, const value *state)
{
    dtinfo d;
    tracked *t = NULL;
    if (eval_dtype(o, obj, &d, &t, 0) == D_OBJECT && !apply_dtype_state(&t->dt, state))
        t->known = 0;
}

/* prod(shape) as joblib computes it; 0 when joblib would fail. */
static int element_count(const value *shape, uint64_t *count)
{
    if (!shape || (shape->kind != V_TUPLE && shape->kind != V_LIST) || !whole(shape))
        return 0;
    const seq *s = &shape->u.n->u.s;
    *count = 1;
    for (uint32_t i = 0; i < s->kept; i++) {
        const value *x = &s->items[i];
        if ((x->kind != V_INT && x->kind != V_BOOL) || (x->flags & VF_BIGINT) || x->u.i < 0 ||
            mul_overflows(*count, (uint64_t)x->u.i, count) || *count > INT64_MAX)
            return 0;
    }
    return 1;
}

/* ---- reading the array ---- */

/* An object array is a nested pickle (pickle.load on the same file). */
static size_t nested_pickle(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                            size_t pos)
{
    pickle_result res;
    pickle_scan_one_hooked(ctx, member, buf, len, pos, NULL, &res);
    if (res.complete && res.frame_end != res.end) {
        /* _pickle.c goes on at STOP + 1 when peek() served the frame, at
         * the frame's end when it read it whole: one walk cannot follow both */
        ctx_findingf(ctx, CKPT_F_FRAME_STRADDLE, member, res.end,
                     "a joblib object array's pickle stops inside its frame: where joblib goes on "
                     "depends on its file buffer; the rest of the stream is unscanned");
        return SIZE_MAX;
    }
    return res.complete ? res.end - pos : SIZE_MAX;
}

static size_t raw_array(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                        size_t pos, const wattrs *a, uint64_t nbytes)
{
    size_t start = pos;
    if (a->has_align) {
        if (pos < len && ctx_ready(ctx, buf, len, pos, pos + 1) <= pos) {
            ctx_findingf(ctx, CKPT_F_LIMIT, member, pos,
                         "max-decompressed: a joblib array's padding does not fit in the "
                         "decompressed bytes the stream may hold; the rest was not scanned");
            return SIZE_MAX;
        }
        if (pos >= len) {
            ctx_findingf(ctx, CKPT_F_TRUNCATED, member, pos,
                         "the stream ends before a joblib array");
            return SIZE_MAX;
        }
        pos += 1 + (size_t)buf[pos]; /* padding-length byte, then that much padding */
    }
    if (range_fits(pos, nbytes, len))
        len = ctx_reach(ctx, buf, len, pos + (size_t)nbytes); /* a lazy image's end */
    if (!range_fits(pos, nbytes, len)) {
        ctx_findingf(ctx, CKPT_F_TRUNCATED, member, start,
                     "joblib array data (%llu bytes) runs past the end of the stream",
                     (unsigned long long)nbytes);
        return SIZE_MAX;
    }
    return pos + (size_t)nbytes - start;
}

static size_t read_wrapper_array(struct joblib_objects *o, scan_ctx *ctx, const char *member,
                                 const uint8_t *buf, size_t len, size_t pos, const wattrs *a)
{
    dtinfo d;
    tracked *t = NULL;
    uint64_t count, nbytes;
    dres r = a->unreadable || !a->dtype ? D_UNKNOWN : eval_dtype(o, a->dtype, &d, &t, 0);
    if (r == D_UNKNOWN || !element_count(a->shape, &count) ||
        mul_overflows(count, d.itemsize, &nbytes)) {
        ctx_findingf(
            ctx, CKPT_F_ANOMALY, member, pos,
            "joblib NumpyArrayWrapper whose shape or dtype ckptscan cannot evaluate: its array "
            "bytes cannot be skipped, the rest of the stream is unscanned");
        return SIZE_MAX;
    }
    if (d.object && !d.hasobject)
        ctx_findingf(ctx, CKPT_F_UNSAFE_ARGS, member, pos,
                     "joblib array of an object dtype whose BUILD state clears its object flag: "
                     "numpy takes the file's bytes for object pointers (memory corruption)");
    if (d.hasobject)
        return nested_pickle(ctx, member, buf, len, pos);
    return raw_array(ctx, member, buf, len, pos, a, nbytes);
}

/* Absolute or '..' paths leave the dump's directory. */
static int path_escapes(const value *f)
{
    if (f->len > 0 && f->u.s[0] == '/')
        return 1;
    for (uint32_t i = 0; i + 1 < f->len; i++)
        if (f->u.s[i] == '.' && f->u.s[i + 1] == '.' && (i == 0 || f->u.s[i - 1] == '/') &&
            (i + 2 == f->len || f->u.s[i + 2] == '/'))
            return 1;
    return 0;
}

/* Pre-0.10 joblib wrappers name a companion file joblib opens next to the
 * dump: NDArrayWrapper with np.load(allow_pickle=True), ZNDArrayWrapper as
 * raw zlib data. */
static void companion(scan_ctx *ctx, const char *member, size_t pos, wkind k, const value *f)
{
    if (!f || (f->kind != V_STR && f->kind != V_BYTES)) {
        ctx_findingf(ctx, CKPT_F_ANOMALY, member, pos,
                     "old joblib array wrapper without a file name");
        return;
    }
    int n = f->len > NAME_SHOWN ? NAME_SHOWN : (int)f->len;
    int out = path_escapes(f);
    if (k == W_ND)
        ctx_findingf(ctx, out ? CKPT_F_NESTED_LOAD : CKPT_F_UNSCANNED_MEMBER, member, pos,
                     "joblib NDArrayWrapper: joblib also loads companion file '%.*s'%s with "
                     "np.load(allow_pickle=True); scan that file too",
                     n, f->u.s, out ? " (outside the dump's directory)" : "");
    else
        ctx_findingf(
            ctx, out ? CKPT_F_FILE_ACCESS : CKPT_F_ARCHIVE_ANOMALY, member, pos,
            "joblib ZNDArrayWrapper: joblib reads raw array data from companion file '%.*s'%s", n,
            f->u.s, out ? " (outside the dump's directory)" : "");
}

/* After every BUILD (joblib's load_build): a dtype takes the state (if it
 * is an object of numpy's own); a wrapper merges it into its attributes,
 * and when the object on the stack is a wrapper, joblib reads its array. */
static size_t after_build(void *hctx, scan_ctx *ctx, const char *member, const value *obj,
                          const value *state, const uint8_t *buf, size_t len, size_t pos)
{
    joblib_reading *jr = hctx;
    made m;
    if (obj->flags & VF_JOBLIB_READ) {
        if (really_made(obj, &m) && class_kind(m.callee) != W_NONE)
            ctx_findingf(ctx, CKPT_F_ANOMALY, member, pos,
                         "BUILD on a joblib array wrapper joblib has already replaced with its "
                         "array");
        return 0;
    }
    if (state_resets_object(state)) {
        ctx_findingf(ctx, CKPT_F_ANOMALY, member, pos,
                     "BUILD sets __class__ or __dict__ through its slot state: joblib may take "
                     "the object for an array wrapper; the rest of the stream is unscanned");
        return SIZE_MAX;
    }
    if (!really_made(obj, &m))
        return 0;
    if (is_dtype_class(m.callee)) {
        build_dtype(jr->objs, obj, state);
        return 0;
    }
    int inited;
    wkind k = wrapper_kind(&m, &inited);
    if (k == W_NONE || (jr->zf && k == W_ARRAY))
        return 0;
    tracked *t = lookup(jr->objs, m.id, 1);
    if (!t) {
        ctx_findingf(ctx, CKPT_F_LIMIT, member, pos,
                     "more joblib array wrappers and dtypes than ckptscan follows: the rest of "
                     "the stream is unscanned");
        return SIZE_MAX;
    }
    if (t->kind != T_WRAPPER) {
        t->kind = T_WRAPPER;
        if (inited)
            init_attrs(k, m.args, &t->w);
    }
    if (m.state_set)
        t->w.unreadable = 1;
    state_attrs(state, &t->w);
    /* joblib replaces the stack slot with the array: the VM hands us its slot */
    ((value *)obj)->flags |= VF_JOBLIB_READ;
    if (k != W_ARRAY) {
        companion(ctx, member, pos, k, t->w.filename);
        return 0;
    }
    return read_wrapper_array(jr->objs, ctx, member, buf, len, pos, &t->w);
}

/* Whether after_build may act on an object made by calling `callee`:
 * wrappers, dtypes and what may pass one through. */
static int build_wanted(const char *callee)
{
    static const char *const more[] = {"numpy.dtype", "numpy.core.multiarray.dtype",
                                       "numpy.core.multiarray.scalar",
                                       "torch._tensor._rebuild_from_type_v2"};
    for (size_t i = 0; i < ARRAY_LEN(wrapper_classes); i++)
        if (strcmp(callee, wrapper_classes[i].name) == 0)
            return 1;
    for (size_t i = 0; i < ARRAY_LEN(copyreg_helpers); i++)
        if (strcmp(callee, copyreg_helpers[i]) == 0)
            return 1;
    for (size_t i = 0; i < ARRAY_LEN(more); i++)
        if (strcmp(callee, more[i]) == 0)
            return 1;
    return 0;
}

void joblib_reading_init(joblib_reading *r, int zf)
{
    memset(r, 0, sizeof(*r));
    r->zf = zf;
    r->objs = calloc(1, sizeof(*r->objs));
    r->hooks.after_build = after_build;
    r->hooks.build_wanted = build_wanted;
    r->hooks.hctx = r;
    r->hooks.python = 1;
}

void joblib_reading_release(joblib_reading *r)
{
    if (r->objs)
        free(r->objs->slots);
    free(r->objs);
    r->objs = NULL;
}
