/* SPDX-License-Identifier: Apache-2.0 */
/* joblib arrays inside pickle streams: after a BUILD that makes a
 * NumpyArrayWrapper, joblib reads the array's bytes from the file in the
 * middle of the pickle stream (joblib/numpy_pickle.py, read_array). This hook
 * evaluates the wrapper's state as joblib 1.2 does and skips exactly those
 * bytes, so the opcodes after the first array are scanned too. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "formats.h"
#include "opcodes.h"
#include "util.h"
#include "value.h"

/* Set on the stack slot of a wrapper joblib has read: joblib replaces that
 * slot with the array, so a second BUILD on the same slot reads nothing.
 * Also set on the call node's unused kwargs flags: a memo copy of the
 * wrapper that is built again makes joblib read another array with the
 * merged state, which the hook cannot see (the VM keeps the first state).
 * Local until the hook API lets a reader replace the BUILD target and see
 * the BUILD's own state. */
#define VF_JOBLIB_READ 0x80

#define NAME_SHOWN 200

typedef enum wkind { W_NONE, W_ARRAY, W_ND, W_ZND } wkind;

/* The wrapper's attributes after __init__ (if it ran) and BUILD. */
typedef struct wattrs {
    const value *shape, *dtype, *align, *filename;
    int has_align;  /* numpy_array_alignment_bytes is set and not None */
    int unreadable; /* a state joblib would reject or ckptscan cannot see whole */
} wattrs;

typedef struct dtinfo {
    uint64_t itemsize;
    int object;
} dtinfo;

static int global_is(const value *g, const char *name)
{
    if (g->kind != V_GLOBAL)
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
    if (!v_is_container(v) || v->u.n->u.s.kept <= i)
        return NULL;
    return &v->u.n->u.s.items[i];
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
    return 0;
}

/* joblib tests isinstance(), so every way of making an instance counts:
 * the class called (REDUCE/OBJ/INST run __init__), NEWOBJ, or the copyreg
 * helpers that call cls.__new__. */
static wkind wrapper_kind(const callsite *c, int *inited)
{
    wkind k = class_kind(&c->callee);
    *inited = k != W_NONE && c->opcode != OP_NEWOBJ && c->opcode != OP_NEWOBJ_EX;
    if (k != W_NONE)
        return k;
    const value *first = item(&c->args, 0);
    return first && is_copyreg_helper(&c->callee) ? class_kind(first) : W_NONE;
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

/* Type string as numpy's reduce writes it: [<>|=]letter[digits][[unit]]. */
static int parse_typestr(const value *s, dtinfo *d, int *flexible)
{
    if (s->kind != V_STR && s->kind != V_BYTES)
        return 0;
    const char *p = s->u.s, *end = p + s->len;
    if (p < end && strchr("<>|=", *p))
        p++;
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
    *flexible = strchr("SaUV", c) != NULL;
    d->object = c == 'O';
    d->itemsize = !have ? (*flexible ? 0 : default_size(c)) : digits;
    if (c == 'U' && mul_overflows(d->itemsize, 4, &d->itemsize))
        return 0;
    return have || *flexible || d->itemsize > 0;
}

/* numpy honours a version-3/4 state as given (dtype.__setstate__):
 * flags bit 0 is hasobject; flexible types take their size from it. */
static int apply_dtype_state(const value *state, int flexible, dtinfo *d)
{
    if (state->kind == V_EMPTY)
        return 1;
    uint64_t n = state->kind == V_TUPLE ? state->u.n->u.s.count : 0;
    const value *elsize = item(state, 5), *flags = item(state, 7);
    if ((n != 8 && n != 9) || !elsize || !flags || elsize->kind != V_INT || flags->kind != V_INT ||
        (elsize->flags | flags->flags) & VF_BIGINT)
        return 0;
    d->object = (flags->u.i & 1) != 0;
    if (flexible) {
        if (elsize->u.i < 0)
            return 0;
        d->itemsize = (uint64_t)elsize->u.i;
    }
    return 1;
}

static int eval_dtype(const value *v, dtinfo *d)
{
    if (!v || v->kind != V_CALL)
        return 0;
    const callsite *c = &v->u.n->u.c;
    if (!global_is(&c->callee, "numpy.dtype") &&
        !global_is(&c->callee, "numpy.core.multiarray.dtype"))
        return 0;
    const value *ts = item(&c->args, 0), *copy = item(&c->args, 2);
    int flexible;
    if (!ts || !parse_typestr(ts, d, &flexible))
        return 0;
    if (c->state.kind == V_EMPTY)
        return 1;
    /* joblib always pickles copy=True; numpy's shared instances treat a
     * state differently, so anything else is not evaluated */
    if (!copy || copy->kind != V_BOOL || !copy->u.i)
        return 0;
    return apply_dtype_state(&c->state, flexible, d);
}

/* prod(shape) as joblib computes it; 0 when joblib would fail. */
static int element_count(const value *shape, uint64_t *count)
{
    if (!shape || (shape->kind != V_TUPLE && shape->kind != V_LIST) ||
        shape->u.n->u.s.count > shape->u.n->u.s.kept)
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
    return res.complete ? res.end - pos : SIZE_MAX;
}

static size_t raw_array(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                        size_t pos, const wattrs *a, uint64_t nbytes)
{
    size_t start = pos;
    if (a->has_align) {
        if (pos >= len) {
            ctx_findingf(ctx, CKPT_F_TRUNCATED, member, pos,
                         "the stream ends before a joblib array");
            return SIZE_MAX;
        }
        pos += 1 + (size_t)buf[pos]; /* padding-length byte, then that much padding */
    }
    if (!range_fits(pos, nbytes, len)) {
        ctx_findingf(ctx, CKPT_F_TRUNCATED, member, start,
                     "joblib array data (%llu bytes) runs past the end of the stream",
                     (unsigned long long)nbytes);
        return SIZE_MAX;
    }
    return pos + (size_t)nbytes - start;
}

static size_t read_wrapper_array(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                                 size_t pos, const wattrs *a)
{
    dtinfo d = {0, 0};
    uint64_t count, nbytes;
    if (a->unreadable || !eval_dtype(a->dtype, &d) || !element_count(a->shape, &count) ||
        mul_overflows(count, d.itemsize, &nbytes)) {
        ctx_findingf(
            ctx, CKPT_F_ANOMALY, member, pos,
            "joblib NumpyArrayWrapper whose shape or dtype ckptscan cannot evaluate: its array "
            "bytes cannot be skipped, the rest of the stream is unscanned");
        return SIZE_MAX;
    }
    if (d.object)
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

/* hctx: NULL for joblib.load's reader, non-NULL for its old ZF reader
 * (numpy_pickle_compat.ZipNumpyUnpickler), which acts on NDArrayWrapper
 * (and its subclass ZNDArrayWrapper) only. */
static size_t after_build(void *hctx, scan_ctx *ctx, const char *member, const value *obj,
                          const uint8_t *buf, size_t len, size_t pos)
{
    if (obj->kind != V_CALL)
        return 0;
    const callsite *c = &obj->u.n->u.c;
    int inited;
    wkind k = wrapper_kind(c, &inited);
    if (k == W_NONE || (hctx && k == W_ARRAY))
        return 0;
    if (obj->flags & VF_JOBLIB_READ) {
        ctx_findingf(ctx, CKPT_F_ANOMALY, member, pos,
                     "BUILD on a joblib array wrapper joblib has already replaced with its array");
        return 0;
    }
    if (c->kwargs.flags & VF_JOBLIB_READ) {
        ctx_findingf(
            ctx, CKPT_F_ANOMALY, member, pos,
            "a joblib array wrapper is built twice: joblib reads a second array with a merged "
            "state; the rest of the stream is unscanned");
        return SIZE_MAX;
    }
    wattrs a = {0};
    if (inited)
        init_attrs(k, &c->args, &a);
    state_attrs(&c->state, &a);
    /* the VM hands us its stack slot and the node; see VF_JOBLIB_READ */
    ((value *)obj)->flags |= VF_JOBLIB_READ;
    obj->u.n->u.c.kwargs.flags |= VF_JOBLIB_READ;
    if (k != W_ARRAY) {
        companion(ctx, member, pos, k, a.filename);
        return 0;
    }
    return read_wrapper_array(ctx, member, buf, len, pos, &a);
}

/* Whether wrapper_kind() may take an object made by calling `callee` for
 * a wrapper (then after_build acts on its BUILD). */
static int build_wanted(const char *callee)
{
    for (size_t i = 0; i < ARRAY_LEN(wrapper_classes); i++)
        if (strcmp(callee, wrapper_classes[i].name) == 0)
            return 1;
    for (size_t i = 0; i < ARRAY_LEN(copyreg_helpers); i++)
        if (strcmp(callee, copyreg_helpers[i]) == 0)
            return 1;
    return 0;
}

const pickle_hooks *joblib_hooks(void)
{
    static const pickle_hooks hooks = {
        .after_build = after_build, .build_wanted = build_wanted, .python = 1};
    return &hooks;
}

const pickle_hooks *joblib_zf_hooks(void)
{
    static const char compat = 1;
    static const pickle_hooks hooks = {.after_build = after_build,
                                       .build_wanted = build_wanted,
                                       .hctx = (void *)&compat,
                                       .python = 1};
    return &hooks;
}
