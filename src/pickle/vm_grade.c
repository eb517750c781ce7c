/* SPDX-License-Identifier: Apache-2.0 */
/* Calls judged with their arguments. Call-throughs (getattr, partial,
 * copyreg._reconstructor, dill's _create_array, typing subscripts, nested
 * torch checkpoints) are graded by what they reach: their import's finding
 * waits, and is given unless every stack copy of the name was the callee of
 * a call that passed grading. Allowlisted callables with argument checks
 * give `unsafe-arguments` on shapes no real file has. */
#include "vm_grade.h"

#include <stdio.h>
#include <string.h>

#include "opcodes.h"
#include "policy.h"
#include "policy_tables.h"
#include "report.h"

#define INT_SANE (INT64_C(1) << 40) /* sizes and offsets; user-space addresses are larger */

/* ---- small value helpers ---- */

/* The items of a tuple of exactly n items (all kept), else NULL. */
static const value *tuple_of(const value *t, size_t lo, size_t hi, size_t *n)
{
    if (t->kind != V_TUPLE)
        return NULL;
    const seq *s = &t->u.n->u.s;
    if (s->count != s->kept || s->count < lo || s->count > hi)
        return NULL;
    *n = s->kept;
    return s->items;
}

static int no_kwargs(const value *kw)
{
    return kw->kind == V_EMPTY || (kw->kind == V_DICT && kw->u.n->u.s.count == 0);
}

static const gref *global_of(const value *x)
{
    return x->kind == V_GLOBAL ? &x->u.n->u.g : NULL;
}

static int named(const gref *g, const char *s)
{
    return g && g->resolved_len == strlen(s) && memcmp(g->resolved, s, g->resolved_len) == 0;
}

/* The callee of a call value, when it is an imported name. */
static const gref *maker_of(const value *x)
{
    return x->kind == V_CALL ? global_of(&x->u.n->u.c.callee) : NULL;
}

static int is_dunder(const char *s, size_t n)
{
    return n >= 5 && s[0] == '_' && s[1] == '_' && s[n - 1] == '_' && s[n - 2] == '_';
}

/* A literal attribute name: a whole, valid str without dots, NULs or a
 * dunder. */
static int plain_attribute(const value *x)
{
    return x->kind == V_STR && x->flags == 0 && x->len > 0 && x->len <= POLICY_NAME_MAX &&
           !memchr(x->u.s, '.', x->len) && !memchr(x->u.s, '\0', x->len) &&
           !is_dunder(x->u.s, x->len);
}

/* An imported name that is an ordinary name: not a call-through, not
 * computed, no NUL. */
static int ordinary(const gref *g)
{
    return g && !grade_is_call_through(g->grade) && g->module_out > 0 &&
           !memchr(g->resolved, '\0', g->resolved_len);
}

/* ---- deferred findings ---- */

static void render(vm *v, const value *callee, const value *args, const value *kw)
{
    sb_reset(&v->scratch);
    render_call(&v->scratch, callee, args, kw);
}

/* The finding a call-through's import would have had, given once per
 * import: at a failed call (with the call) or at the end of the walk. */
static void note_import(vm *v, gref *g, const char *call, const char *why)
{
    g->pending = 0;
    ckpt_report *rep = v->ctx->rep;
    if (g->import_index < rep->nimports) {
        if (rep->imports[g->import_index].noted)
            return;
        rep->imports[g->import_index].noted = 1;
    }
    vm_note(v, g->cls, -1, g->resolved, call, "imports %s (%s)", g->resolved, why);
}

void vm_grade_import(vm *v, node *n, int allowed)
{
    gref *g = &n->u.g;
    g->grade = (uint8_t)policy_grade_kind(g->resolved);
    g->refs = 1;
    if (!grade_is_call_through(g->grade) || allowed)
        return;
    g->pending = 1;
    g->op = v->op;
    g->off = v->op_off;
    g->next = v->pending;
    v->pending = n;
}

void vm_grade_flush(vm *v)
{
    uint8_t op = v->op;
    size_t off = v->op_off;
    for (node *n = v->pending; n; n = n->u.g.next) {
        gref *g = &n->u.g;
        if (!g->pending || g->refs <= g->through)
            continue;
        v->op = g->op;
        v->op_off = g->off;
        note_import(v, g, NULL, "used other than as a call that was graded by what it reaches");
    }
    v->pending = NULL;
    v->op = op;
    v->op_off = off;
}

/* ---- what a call-through reaches ---- */

/* getattr(owner, name) is the dotted name owner.name, classified and
 * recorded as a protocol 4 import of it would be. */
static void reach(vm *v, const gref *owner, const value *attr, const char *call)
{
    char module[POLICY_NAME_MAX + 1], qual[2 * POLICY_NAME_MAX + 2];
    size_t mlen = owner->module_out, qlen = owner->resolved_len - mlen - 1;
    if (mlen > POLICY_NAME_MAX || qlen > POLICY_NAME_MAX)
        mlen = qlen = 0; /* too long to be on any list: unknown */
    memcpy(module, owner->resolved, mlen);
    module[mlen] = '\0';
    memcpy(qual, owner->resolved + mlen + 1, qlen);
    qual[qlen] = '.';
    memcpy(qual + qlen + 1, attr->u.s, attr->len);
    qual[qlen + 1 + attr->len] = '\0';
    size_t flen = mlen + 1 + qlen + 1 + attr->len;
    char full[3 * POLICY_NAME_MAX + 4];
    snprintf(full, sizeof(full), "%s.%s", module, qual);
    ckpt_report *rep = v->ctx->rep;
    bstr m = {module, mlen}, q = {qual, qlen + 1 + attr->len}, f = {full, flen};
    if (report_find_import(rep, m, q, f) != SIZE_MAX)
        return; /* judged (and reported if need be) at its first sight */
    name_class cls;
    policy_classify(v->ctx->sc->pol, module, qual, &cls);
    report_add_import(rep, m, q, f, cls.allowed ? CKPT_F_UNKNOWN_IMPORT : cls.code, cls.allowed, 0,
                      v->member, v->op_off);
    if (!cls.allowed)
        vm_note(v, cls.code, -1, full, call, "getattr reaches %s (%s)", full,
                cls.rule ? cls.rule : "not on the allowlist");
}

/* getattr(C, 'NAME') on an imported name, or getattr(obj, 'method') on an
 * object an imported class built in the stream (a bound method). */
static int grade_getattr(vm *v, const value *args, const char *call)
{
    size_t n;
    const value *a = tuple_of(args, 2, 2, &n);
    if (!a || !plain_attribute(&a[1]))
        return 0;
    const gref *owner = global_of(&a[0]);
    if (!owner)
        owner = maker_of(&a[0]);
    if (!ordinary(owner))
        return 0;
    reach(v, owner, &a[1], call);
    return 1;
}

/* A class argument: an imported name, or a nested class reached by a
 * getattr that was graded itself. */
static int class_value(const value *x)
{
    const gref *g = global_of(x);
    if (g)
        return ordinary(g);
    g = maker_of(x);
    return g && g->grade == GK_GETATTR;
}

/* copyreg._reconstructor(cls, base, state): object.__new__(cls), or
 * base.__new__(cls, state) and base.__init__(obj, state), so base is
 * called: it must be builtins.object or an allowlisted name. */
static int grade_reconstructor(const value *args)
{
    size_t n;
    const value *a = tuple_of(args, 3, 3, &n);
    if (!a || !class_value(&a[0]))
        return 0;
    const gref *base = global_of(&a[1]);
    return named(base, "builtins.object") ||
           (base && base->allowed && base->grade == GK_NONE && ordinary(base));
}

/* dill._dill._create_array(f, args, state, npdict) calls f(*args): only
 * numpy's array reconstruction, which is what dill writes. */
static int grade_create_array(const value *args)
{
    size_t n;
    const value *a = tuple_of(args, 3, 4, &n);
    if (!a)
        return 0;
    const gref *f = global_of(&a[0]);
    return named(f, "numpy.core.multiarray._reconstruct") ||
           named(f, "numpy._core.multiarray._reconstruct");
}

/* A typing subscript argument: names, None, nested subscripts, and tuples
 * or lists of them (typing.Callable[[int], str]). */
static int typing_arg(const value *x, int depth)
{
    if (x->kind == V_NONE)
        return 1;
    const gref *g = global_of(x);
    if (g)
        return ordinary(g);
    g = maker_of(x);
    if (g)
        return g->grade == GK_GETITEM || g->grade == GK_GETATTR;
    if ((x->kind == V_TUPLE || x->kind == V_LIST) && depth < 8) {
        const seq *s = &x->u.n->u.s;
        if (s->count != s->kept)
            return 0;
        for (uint32_t i = 0; i < s->kept; i++)
            if (!typing_arg(&s->items[i], depth + 1))
                return 0;
        return 1;
    }
    return 0;
}

/* operator.getitem(typing.List, int): a typing alias, nothing else. */
static int grade_getitem(const value *args)
{
    size_t n;
    const value *a = tuple_of(args, 2, 2, &n);
    if (!a)
        return 0;
    const gref *g = global_of(&a[0]);
    if (!ordinary(g) || g->module_out != 6 || memcmp(g->resolved, "typing", 6) != 0)
        return 0;
    return typing_arg(&a[1], 0);
}

/* functools.partial(f, ...) stores f and its arguments; nothing is called
 * until the partial object is. A partial called in the stream is an
 * indirect call on a call-through (vm_grade_indirect). */
static int grade_partial(const value *args)
{
    size_t n;
    return tuple_of(args, 1, SIZE_MAX, &n) != NULL;
}

/* torch.storage._load_from_bytes(b) is torch.load(io.BytesIO(b)): graded
 * by the checkpoint the bytes hold, which was scanned as one. */
static int grade_load_bytes(const value *args)
{
    size_t n;
    const value *a = tuple_of(args, 1, 1, &n);
    if (!a)
        return 0;
    if (a[0].kind == V_BYTES)
        return (a[0].flags & VF_CHECKPOINT) != 0;
    /* protocols 0-2: _codecs.encode('<latin-1 text>', 'latin1') */
    const gref *enc = maker_of(&a[0]);
    if (!named(enc, "_codecs.encode") || !enc->allowed)
        return 0;
    const value *e = tuple_of(&a[0].u.n->u.c.args, 2, 2, &n);
    return e && e[0].kind == V_STR && (e[0].flags & VF_CHECKPOINT) && e[1].kind == V_STR &&
           e[1].len == 6 && memcmp(e[1].u.s, "latin1", 6) == 0;
}

static int grade_call_through(vm *v, const gref *g, const value *args, const value *kw,
                              const char *call)
{
    if (!no_kwargs(kw))
        return 0;
    switch ((grade_kind)g->grade) {
    case GK_GETATTR: return grade_getattr(v, args, call);
    case GK_PARTIAL: return grade_partial(args);
    case GK_RECONSTRUCTOR: return grade_reconstructor(args);
    case GK_CREATE_ARRAY: return grade_create_array(args);
    case GK_GETITEM: return grade_getitem(args);
    case GK_LOAD_BYTES: return grade_load_bytes(args);
    default: return 0;
    }
}

/* ---- allowlisted callables and their arguments ---- */

/* A bit generator numpy's pickle ctors accept: a known name, one of its
 * classes (numpy 2 calls whatever class it is given), or a nested ctor. */
static int bit_generator_arg(const value *x)
{
    if (x->kind == V_STR)
        return x->flags == 0 && policy_bit_generator_name(x->u.s, x->len);
    const gref *g = global_of(x);
    if (g)
        return policy_bit_generator_class(g->resolved) && ordinary(g);
    g = maker_of(x);
    return g && g->grade == GK_BITGEN_CTOR && g->allowed;
}

static const char *check_random(const gref *g, const value *args)
{
    size_t n;
    const value *a = tuple_of(args, 0, g->grade == GK_BITGEN_CTOR ? 1 : 2, &n);
    if (!a && args->kind == V_TUPLE && args->u.n->u.s.count == 0)
        return NULL;
    if (!a)
        return "more arguments than numpy writes";
    if (n >= 1 && !bit_generator_arg(&a[0]))
        return "a bit generator that is not one of numpy's";
    if (n == 2 && !named(global_of(&a[1]), "numpy.random._pickle.__bit_generator_ctor"))
        return "a bit generator constructor that is not numpy's";
    return NULL;
}

/* Integers that could be addresses, and any keyword (allocator=, cdata=). */
static const char *check_tensor(const value *args, const value *kw)
{
    if (!no_kwargs(kw))
        return "keyword arguments (allocator=, cdata=, ...) no real file passes";
    if (args->kind != V_TUPLE)
        return NULL;
    const seq *s = &args->u.n->u.s;
    if (s->count != s->kept)
        return "more arguments than are kept";
    for (uint32_t i = 0; i < s->kept; i++) {
        const value *x = &s->items[i];
        if (x->kind == V_INT && ((x->flags & VF_BIGINT) || x->u.i < 0 || x->u.i >= INT_SANE))
            return "an integer out of the range of sizes (a raw pointer?)";
    }
    return NULL;
}

/* _rebuild_from_type_v2(func, new_type, args, state) calls func(*args):
 * func and new_type must be allowlisted names without checks of their own. */
static const char *check_from_type(const value *args)
{
    size_t n;
    const value *a = tuple_of(args, 4, 4, &n);
    if (!a)
        return "not the four arguments torch writes";
    const gref *f = global_of(&a[0]), *t = global_of(&a[1]);
    if (!f || !f->allowed || f->grade != GK_NONE || !t || !t->allowed)
        return "a function or type that is not a plain allowlisted name";
    return NULL;
}

/* dill._dill._load_type(name): only names of plain data types. */
static const char *check_dill_type(const value *args)
{
    size_t n;
    const value *a = tuple_of(args, 1, 1, &n);
    if (!a || a[0].kind != V_STR || a[0].flags || !policy_dill_data_type(a[0].u.s, a[0].len))
        return "a type that is not plain data (CodeType, FunctionType, ...)";
    return NULL;
}

/* Data handed to a profile callable: constants, containers of data, and
 * objects built in the stream, but no imported name (a class or function
 * the callee could call) and nothing a call-through made (a partial, a bound
 * method). Containers cut at max-items fail: what was cut is unseen. */
static int data_value(const value *x, int depth)
{
    if (x->kind == V_GLOBAL)
        return 0;
    if (x->kind == V_CALL) {
        const gref *m = maker_of(x);
        return !m || !grade_is_call_through(m->grade);
    }
    if (!v_is_container(x))
        return 1;
    const seq *s = &x->u.n->u.s;
    if (depth >= 8 || s->count != s->kept)
        return 0;
    for (uint32_t i = 0; i < s->kept; i++)
        if (!data_value(&s->items[i], depth + 1))
            return 0;
    return 1;
}

/* The profile entries, judged by how real files call them. */
static const char *check_shape(const gref *g, const value *args, uint8_t op)
{
    size_t n;
    const value *a;
    switch ((grade_kind)g->grade) {
    case GK_NEWOBJ_ONLY:
        return op == OP_NEWOBJ || op == OP_NEWOBJ_EX
                   ? NULL
                   : "a call (real files rebuild this class by NEWOBJ only, which runs no "
                     "__init__)";
    case GK_DATA_ARGS:
        return data_value(args, 0) ? NULL : "a class, function or call-through as argument";
    case GK_CLASS_FIRST:
        a = tuple_of(args, 1, SIZE_MAX, &n);
        if (!a || !global_of(&a[0]) || !global_of(&a[0])->allowed || !ordinary(global_of(&a[0])))
            return "a first argument that is not an allowlisted class";
        for (size_t i = 1; i < n; i++)
            if (!data_value(&a[i], 0))
                return "a class, function or call-through as argument";
        return NULL;
    case GK_PATH_PARTS:
        a = tuple_of(args, 0, SIZE_MAX, &n);
        for (size_t i = 0; a && i < n; i++)
            if (a[i].kind != V_STR)
                return "a path part that is not a str (os.fspath would call it)";
        return a || (args->kind == V_TUPLE && args->u.n->u.s.count == 0)
                   ? NULL
                   : "more path parts than are kept";
    default: return NULL;
    }
}

static const char *check_allowed(const gref *g, const value *args, const value *kw, uint8_t op)
{
    if (g->grade >= GK_NEWOBJ_ONLY)
        return no_kwargs(kw) ? check_shape(g, args, op) : "keyword arguments";
    switch ((grade_kind)g->grade) {
    case GK_DILL_TYPE: return no_kwargs(kw) ? check_dill_type(args) : "keyword arguments";
    case GK_RANDOM_CTOR:
    case GK_BITGEN_CTOR: return no_kwargs(kw) ? check_random(g, args) : "keyword arguments";
    case GK_TENSOR_CTOR: return check_tensor(args, kw);
    case GK_FROM_TYPE: return no_kwargs(kw) ? check_from_type(args) : "keyword arguments";
    case GK_NONE: return no_kwargs(kw) ? NULL : "keyword arguments (NEWOBJ_EX) no real file passes";
    default: return NULL;
    }
}

/* ---- entry points ---- */

int vm_grade_call(vm *v, const value *callee, const value *args, const value *kw)
{
    gref *g = &callee->u.n->u.g;
    if (g->allowed) {
        const char *why = check_allowed(g, args, kw, v->op);
        if (!why)
            return 1;
        render(v, callee, args, kw);
        vm_note(v, CKPT_F_UNSAFE_ARGS, -1, g->resolved, sb_cstr(&v->scratch), "calls %s with %s",
                g->resolved, why);
        return 1;
    }
    if (!g->pending)
        return 0;
    render(v, callee, args, kw);
    /* reach() may render again: keep this call's text */
    char call[512];
    snprintf(call, sizeof(call), "%s", sb_cstr(&v->scratch));
    if (grade_call_through(v, g, args, kw, call)) {
        g->through++;
        return 1;
    }
    note_import(v, g, call, "a call it cannot be graded by: computed, dunder or unchecked target");
    return 1;
}

void vm_grade_indirect(vm *v, const value *callee)
{
    const gref *g = maker_of(callee);
    if (!g || !grade_is_call_through(g->grade))
        return;
    vm_note(v, g->grade == GK_GETATTR ? CKPT_F_TRAMPOLINE : g->cls, -1, g->resolved, NULL,
            "calls the result of %s: whatever it holds runs", g->resolved);
}
