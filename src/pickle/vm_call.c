/* SPDX-License-Identifier: Apache-2.0 */
/* Object opcodes: name resolution (GLOBAL, STACK_GLOBAL, INST, EXT), every
 * call-capable opcode, BUILD, container mutation and persistent ids. Each
 * call site is judged by what it would call; nothing is called. */
#include <string.h>

#include "opcodes.h"
#include "pytext.h"
#include "util.h"
#include "vm.h"
#include "vm_grade.h"
#include "weights_only.h"

#define DYNAMIC_NAME "<dynamic import>"

const uint8_t vm_object_ops[256] = {
    [OP_GLOBAL] = 1,  [OP_STACK_GLOBAL] = 1, [OP_INST] = 1,    [OP_OBJ] = 1,    [OP_REDUCE] = 1,
    [OP_NEWOBJ] = 1,  [OP_NEWOBJ_EX] = 1,    [OP_BUILD] = 1,   [OP_PERSID] = 1, [OP_BINPERSID] = 1,
    [OP_EXT1] = 1,    [OP_EXT2] = 1,         [OP_EXT4] = 1,    [OP_APPEND] = 1, [OP_APPENDS] = 1,
    [OP_SETITEM] = 1, [OP_SETITEMS] = 1,     [OP_ADDITEMS] = 1};

/* ---- names ---- */

/* Arena copy of a name; a NUL inside makes the name unmatchable. */
static const char *copy_name(vm *v, const char *s, size_t n, int *has_nul)
{
    if (memchr(s, '\0', n))
        *has_nul = 1;
    const char *c = arena_strndup(&v->mem, s, n);
    if (!c)
        vm_out_of_memory(v);
    return c;
}

/* Classifies a name the first time the file imports it (one finding per
 * distinct import); later imports reuse the recorded verdict. A
 * call-through's finding waits for its uses (vm_grade.c). Returns 1 when
 * it added a finding. */
static int classify(vm *v, node *gn, const char *mm, const char *mn, int has_nul)
{
    gref *r = &gn->u.g;
    ckpt_report *rep = v->ctx->rep;
    bstr mod = {r->module, r->module_len}, name = {r->name, r->name_len};
    bstr res = {r->resolved, r->resolved_len};
    size_t i = report_find_import(rep, mod, name, res);
    if (i != SIZE_MAX) {
        const import_rec *rec = &rep->imports[i];
        r->allowed = (uint8_t)rec->pub.allowed;
        r->cls = rec->pub.class_code;
        r->weights_only = (uint8_t)rec->weights_only;
        r->import_index = i;
        vm_grade_import(v, gn, r->allowed || has_nul || rec->user_denied);
        return 0;
    }
    name_class cls;
    policy_classify(v->ctx->sc->pol, mm, mn, &cls);
    r->allowed = (uint8_t)(cls.allowed && !has_nul);
    r->cls = cls.allowed ? CKPT_F_UNKNOWN_IMPORT : cls.code;
    r->weights_only = (uint8_t)(!has_nul && policy_weights_only_global(r->module, r->name));
    r->import_index = report_add_import(rep, mod, name, res, r->cls, r->allowed, r->weights_only,
                                        v->member, v->op_off);
    /* a user deny of a call-through stands: it is not graded by its target */
    int user_denied = !r->allowed && cls.user_rule != NULL;
    if (user_denied && r->import_index < rep->nimports)
        rep->imports[r->import_index].user_denied = 1;
    vm_grade_import(v, gn, r->allowed || has_nul || user_denied);
    if (r->allowed || r->pending)
        return 0;
    const char *why = has_nul    ? "a NUL byte in the name"
                      : cls.rule ? cls.rule
                                 : "not on the allowlist";
    if (user_denied && grade_is_call_through(r->grade))
        why = cls.user_rule;
    vm_note(v, r->cls, -1, r->resolved, NULL, "imports %s (%s)", r->resolved, why);
    return 1;
}

/* "module.name" with NUL bytes kept (lengths given), in the arena. */
static const char *join_name(vm *v, const char *m, size_t mlen, const char *n, size_t nlen,
                             size_t *len)
{
    char *s = arena_alloc(&v->mem, mlen + nlen + 2);
    if (!s)
        return NULL;
    memcpy(s, m, mlen);
    s[mlen] = '.';
    memcpy(s + mlen + 1, n, nlen);
    s[mlen + 1 + nlen] = '\0';
    *len = mlen + 1 + nlen;
    return s;
}

/* find_class(module, name) as CPython would resolve it, classified. */
static value resolve_global(vm *v, const char *mod, size_t mlen, const char *name, size_t nlen)
{
    int mod_nul = 0, name_nul = 0;
    const char *m = copy_name(v, mod, mlen, &mod_nul);
    const char *n = copy_name(v, name, nlen, &name_nul);
    int has_nul = mod_nul || name_nul;
    value g = v_new_node(&v->mem, V_GLOBAL);
    if (!m || !n || g.kind == V_EMPTY) {
        vm_out_of_memory(v);
        return v_make(V_EMPTY);
    }
    const char *mm = m, *mn = n;
    if (v->proto < 3 && !mod_nul) {
        /* no mapping key holds a NUL: such a name can only take the
         * module-only (IMPORT_MAPPING) rename */
        policy_compat_map(m, name_nul ? "" : n, &mm, &mn);
        if (name_nul)
            mn = n;
    }
    gref *r = &g.u.n->u.g;
    r->module = m;
    r->name = n;
    r->module_len = mlen;
    r->name_len = nlen;
    r->resolved = join_name(v, mm, mm == m ? mlen : strlen(mm), mn, mn == n ? nlen : strlen(mn),
                            &r->resolved_len);
    if (!r->resolved) {
        vm_out_of_memory(v);
        return v_make(V_EMPTY);
    }
    r->module_out = mm == m ? mlen : strlen(mm);
    if (!classify(v, g.u.n, mm, mn, has_nul)) /* a new finding already says it */
        vm_trace(v, "%s (%s)", r->resolved, r->allowed ? "allowed" : ckpt_code_name(r->cls));
    if (!r->weights_only)
        vm_weights_only_fail(v, WO_IMPORT);
    return g;
}

static value dynamic_global(vm *v, const value *mod, const value *name)
{
    value g = v_new_node(&v->mem, V_GLOBAL);
    if (g.kind == V_EMPTY) {
        vm_out_of_memory(v);
        return g;
    }
    gref *r = &g.u.n->u.g;
    r->module = r->name = "?";
    r->module_len = r->name_len = 1;
    r->resolved = DYNAMIC_NAME;
    r->resolved_len = strlen(DYNAMIC_NAME);
    r->cls = CKPT_F_DYNAMIC_IMPORT;
    r->import_index = SIZE_MAX;
    sb_reset(&v->scratch);
    sb_puts(&v->scratch, "find_class(");
    render_value(&v->scratch, mod, 1);
    sb_puts(&v->scratch, ", ");
    render_value(&v->scratch, name, 1);
    sb_putc(&v->scratch, ')');
    vm_note(v, CKPT_F_DYNAMIC_IMPORT, -1, DYNAMIC_NAME, sb_cstr(&v->scratch),
            "STACK_GLOBAL operands are computed at load time, not constant strings");
    return g;
}

static void op_global(vm *v, int ascii_only)
{
    size_t mlen, nlen;
    const char *mod = vm_line(v, &mlen);
    const char *name = mod ? vm_line(v, &nlen) : NULL;
    if (!name)
        return;
    int ok = ascii_only ? py_ascii_valid((const uint8_t *)mod, mlen) &&
                              py_ascii_valid((const uint8_t *)name, nlen)
                        : py_utf8_valid((const uint8_t *)mod, mlen, 0) &&
                              py_utf8_valid((const uint8_t *)name, nlen, 0);
    if (!ok) {
        vm_fail(v, CKPT_F_MALFORMED, "%s module or name is not valid %s; nothing is imported",
                ascii_only ? "INST" : "GLOBAL", ascii_only ? "ASCII" : "UTF-8");
        return;
    }
    value g = resolve_global(v, mod, mlen, name, nlen);
    if (g.kind != V_EMPTY && !ascii_only)
        vm_push(v, g);
    else if (g.kind != V_EMPTY)
        vm_push(v, g); /* INST: the caller pops it with the mark's items */
}

static int is_computed(const value *x)
{
    return x->kind == V_CALL || x->kind == V_PERSID || x->kind == V_GLOBAL;
}

static void op_stack_global(vm *v)
{
    value name, mod;
    if (!vm_pop(v, &name) || !vm_pop(v, &mod))
        return;
    vm_weights_only_fail(v, "uses STACK_GLOBAL, which weights_only refuses");
    if (mod.kind == V_STR && name.kind == V_STR) {
        value g = resolve_global(v, mod.u.s, mod.len, name.u.s, name.len);
        if (g.kind != V_EMPTY)
            vm_push(v, g);
        return;
    }
    if (is_computed(&mod) || is_computed(&name)) {
        value g = dynamic_global(v, &mod, &name);
        if (g.kind != V_EMPTY)
            vm_push(v, g);
        return;
    }
    vm_fail(v, CKPT_F_MALFORMED, "STACK_GLOBAL requires str, got %s and %s", v_kind_name(mod.kind),
            v_kind_name(name.kind));
}

static void op_ext(vm *v, size_t width)
{
    const uint8_t *p = vm_take(v, width);
    if (!p)
        return;
    int64_t code = width == 1 ? p[0] : width == 2 ? load_le16(p) : (int32_t)load_le32(p);
    vm_weights_only_fail(v, "uses an EXT opcode");
    if (code <= 0) {
        vm_fail(v, CKPT_F_MALFORMED, "EXT specifies code <= 0");
        return;
    }
    const ext_entry *e = ctx_ext_lookup(v->ctx, code);
    if (!e) {
        vm_fail(v, CKPT_F_EXTENSION, "unregistered extension code %lld", (long long)code);
        return;
    }
    value g = resolve_global(v, e->module, strlen(e->module), e->name, strlen(e->name));
    if (g.kind != V_EMPTY)
        vm_push(v, g);
}

/* ---- calls ---- */

static void render_to_scratch(vm *v, const value *callee, const value *args, const value *kw)
{
    sb_reset(&v->scratch);
    render_call(&v->scratch, callee, args, kw);
}

static int is_str(const value *x, const char *s)
{
    return x->kind == V_STR && x->len == strlen(s) && memcmp(x->u.s, s, x->len) == 0;
}

/* copyreg.add_extension(module, name, code) fills the EXT registry. */
static void track_add_extension(vm *v, const gref *g, const value *args)
{
    if (strcmp(g->resolved, "copyreg.add_extension") != 0 || args->kind != V_TUPLE)
        return;
    const seq *s = &args->u.n->u.s;
    if (s->kept < 3 || s->items[0].kind != V_STR || s->items[1].kind != V_STR ||
        s->items[2].kind != V_INT)
        return;
    ckpt_report *r = v->ctx->rep;
    char *m = arena_strndup(&r->mem, s->items[0].u.s, s->items[0].len);
    char *n = arena_strndup(&r->mem, s->items[1].u.s, s->items[1].len);
    if (m && n)
        ctx_ext_register(v->ctx, m, n, s->items[2].u.i);
}

static void judge_call(vm *v, const value *callee, const value *args, const value *kw)
{
    if (callee->kind != V_GLOBAL) {
        vm_grade_indirect(v, callee);
        render_to_scratch(v, callee, args, kw);
        vm_note(v, CKPT_F_INDIRECT_CALL, -1, NULL, sb_cstr(&v->scratch),
                "calls %s %s, not an imported name", v_kind_article(callee->kind),
                v_kind_name(callee->kind));
        vm_weights_only_fail(v, "calls something that is not an allowlisted global");
        return;
    }
    const gref *g = &callee->u.n->u.g;
    report_note_call(v->ctx->rep, g->import_index);
    track_add_extension(v, g, args);
    if ((g->grade || g->pending || kw->kind == V_DICT) && vm_grade_call(v, callee, args, kw))
        return;
    if (g->allowed)
        return;
    int first =
        g->import_index == SIZE_MAX || report_import_calls(v->ctx->rep, g->import_index) == 1;
    if (!first)
        return;
    render_to_scratch(v, callee, args, kw);
    vm_note(v, g->cls, -1, g->resolved, sb_cstr(&v->scratch), "calls %s", g->resolved);
}

/* ---- values that pass through allowlisted callables ---- */

static int global_named(const value *x, const char *name)
{
    if (x->kind != V_GLOBAL)
        return 0;
    const gref *g = &x->u.n->u.g;
    return g->resolved_len == strlen(name) && memcmp(g->resolved, name, g->resolved_len) == 0;
}

static const value *arg_at(const value *args, uint32_t i)
{
    if (!v_is_container(args) || args->u.n->u.s.kept <= i)
        return NULL;
    return &args->u.n->u.s.items[i];
}

/* What a call really returns when that is a value the stream gave it:
 * numpy.core.multiarray.scalar(dtype('O'), x) returns x, and
 * torch._tensor._rebuild_from_type_v2(func, new_type, args, state) returns
 * func(*args). x itself otherwise (bounded: a chain of pass-throughs). */
static const value *passed_through(const value *x)
{
    for (int depth = 0; depth < 16 && x->kind == V_CALL; depth++) {
        const callsite *c = &x->u.n->u.c;
        const value *func = &c->callee, *args = &c->args;
        if (global_named(func, "torch._tensor._rebuild_from_type_v2")) {
            func = arg_at(&c->args, 0);
            args = arg_at(&c->args, 2);
            if (!func || !args)
                return x;
        }
        const value *y =
            global_named(func, "numpy.core.multiarray.scalar") ? arg_at(args, 1) : NULL;
        if (!y)
            return x;
        x = y;
    }
    return x;
}

static void mutation_of_global(vm *v, const value *target, const char *what);

/* torch._tensor._rebuild_from_type_v2 sets its state's items on what
 * func(*args) returns (torch._utils._set_obj_state): on a class, that is
 * a global-state mutation (dump_patches, __name__, ...). */
static void check_rebuild_state(vm *v, const value *callee, const value *args)
{
    if (!global_named(callee, "torch._tensor._rebuild_from_type_v2"))
        return;
    const value *func = arg_at(args, 0), *fargs = arg_at(args, 2), *state = arg_at(args, 3);
    if (!func || !fargs || !state || state->kind == V_NONE)
        return;
    if (!global_named(func, "numpy.core.multiarray.scalar"))
        return;
    const value *x = arg_at(fargs, 1);
    if (x)
        x = passed_through(x);
    if (x && x->kind == V_GLOBAL)
        mutation_of_global(v, x, "torch._tensor._rebuild_from_type_v2's state");
    else if (x && x->kind == V_CALL)
        x->u.n->u.c.state_set = 1; /* attributes a reader tracking BUILDs cannot see */
}

static void push_call(vm *v, value callee, value args, value kw)
{
    check_rebuild_state(v, &callee, &args);
    judge_call(v, &callee, &args, &kw);
    if (vm_tracing(v)) {
        render_to_scratch(v, &callee, &args, &kw);
        vm_trace(v, "calls %s", sb_cstr(&v->scratch));
    }
    value r = v_new_node(&v->mem, V_CALL);
    if (r.kind == V_EMPTY) {
        vm_out_of_memory(v);
        return;
    }
    callsite *c = &r.u.n->u.c;
    c->callee = callee;
    c->args = args;
    c->kwargs = kw;
    c->opcode = v->op;
    c->offset = v->op_off;
    vm_push(v, r);
}

static void op_reduce(vm *v)
{
    value args, callee;
    if (!vm_pop(v, &args) || !vm_pop(v, &callee))
        return;
    if (args.kind != V_TUPLE)
        vm_note(v, CKPT_F_ANOMALY, -1, NULL, NULL,
                "REDUCE argument is %s %s, not a tuple: CPython raises after the import",
                v_kind_article(args.kind), v_kind_name(args.kind));
    push_call(v, callee, args, v_make(V_EMPTY));
}

/* Lib/pickle.py calls cls.__new__(cls, *args): any iterable will do (a
 * call's result may be one); _pickle.c wants a tuple. */
static int py_iterable(const value *x)
{
    return x->kind != V_NONE && x->kind != V_INT && x->kind != V_BOOL && x->kind != V_FLOAT;
}

static void op_newobj(vm *v, int ex)
{
    value kw = v_make(V_EMPTY), args, cls;
    if ((ex && !vm_pop(v, &kw)) || !vm_pop(v, &args) || !vm_pop(v, &cls))
        return;
    if (v->py ? !py_iterable(&args) || (ex && kw.kind != V_DICT && kw.kind != V_CALL)
              : args.kind != V_TUPLE || (ex && kw.kind != V_DICT)) {
        vm_fail(v, CKPT_F_MALFORMED, "%s expects an argument tuple%s", ex ? "NEWOBJ_EX" : "NEWOBJ",
                ex ? " and a keyword dict" : "");
        return;
    }
    push_call(v, cls, args, kw);
}

static void op_obj(vm *v)
{
    size_t base;
    if (!vm_pop_mark(v, &base))
        return;
    if (v->sp - base < 1) {
        vm_fail(v, CKPT_F_STACK_ERROR, "OBJ: unpickling stack underflow");
        return;
    }
    value cls = v->stack[base];
    value args = vm_collect(v, V_TUPLE, base + 1);
    if (args.kind == V_EMPTY)
        return;
    v->sp = base;
    push_call(v, cls, args, v_make(V_EMPTY));
}

static void op_inst(vm *v)
{
    size_t base;
    op_global(v, 1);
    value cls;
    if (v->failed || !vm_pop(v, &cls) || !vm_pop_mark(v, &base))
        return;
    value args = vm_collect(v, V_TUPLE, base);
    if (args.kind != V_EMPTY)
        push_call(v, cls, args, v_make(V_EMPTY));
}

/* ---- BUILD and container mutation ---- */

static int callee_allowed(const value *x, int weights_only)
{
    if (x->kind != V_CALL || x->u.n->u.c.callee.kind != V_GLOBAL)
        return 0;
    const gref *g = &x->u.n->u.c.callee.u.n->u.g;
    return weights_only ? g->weights_only : g->allowed;
}

static void mutation_of_global(vm *v, const value *target, const char *what)
{
    const gref *g = &target->u.n->u.g;
    vm_note(v, CKPT_F_GLOBAL_MUTATION, -1, g->resolved, NULL, "%s on %s mutates global state", what,
            g->resolved);
    vm_weights_only_fail(v, "mutates a global");
}

/* Lets a reader consume raw bytes that follow a BUILD (joblib arrays). */
static void run_build_hook(vm *v, const value *obj, const value *state)
{
    if (!v->hooks || !v->hooks->after_build)
        return;
    /* Inside a frame, the reader's file already stands past the frame: its
     * raw data comes from there, and the frame's rest is read afterwards. */
    int framed = v->in_frame && v->pos < v->frame_end;
    size_t at = !framed ? v->pos : v->file_pos ? v->file_pos : v->frame_end;
    size_t skip =
        v->hooks->after_build(v->hooks->hctx, v->ctx, v->member, obj, state, v->buf, v->total, at);
    if (skip == SIZE_MAX) {
        v->failed = 1;
        return;
    }
    if (skip <= v->total - at)
        v->total = ctx_reach(v->ctx, v->buf, v->total, at + skip); /* a lazy image's end */
    if (skip > v->total - at) {
        vm_fail(v, CKPT_F_TRUNCATED, "array data runs past the end of the stream");
        return;
    }
    if (!framed) {
        v->pos += skip;
    } else if (skip) {
        v->file_pos = at + skip;
        vm_note(v, CKPT_F_ANOMALY, -1, NULL, NULL,
                "array data is read from offset %zu, after the frame, while the frame goes on "
                "at %zu: no writer does this (joblib ends the frame first)",
                at, v->pos);
    }
}

static void op_build(vm *v)
{
    value state;
    if (!vm_pop(v, &state))
        return;
    value *target = vm_top(v);
    if (!target)
        return;
    if (vm_tracing(v)) {
        sb_reset(&v->scratch);
        render_value(&v->scratch, target, 1);
        sb_puts(&v->scratch, ".__setstate__(");
        render_value(&v->scratch, &state, 1);
        sb_putc(&v->scratch, ')');
        vm_trace(v, "calls %s", sb_cstr(&v->scratch));
    }
    const value *really = passed_through(target);
    if (target->kind == V_GLOBAL) {
        mutation_of_global(v, target, "BUILD");
    } else if (really->kind == V_GLOBAL) {
        /* a class that came through a pass-through callable */
        mutation_of_global(v, really, "BUILD");
    } else if (target->kind == V_CALL) {
        if (target->u.n->u.c.state.kind == V_EMPTY)
            target->u.n->u.c.state = state;
        if (!callee_allowed(target, 1))
            vm_weights_only_fail(v, WO_BUILD);
        run_build_hook(v, target, &state);
    } else {
        vm_note(v, CKPT_F_ANOMALY, -1, NULL, NULL, "BUILD on %s %s", v_kind_article(target->kind),
                v_kind_name(target->kind));
        vm_weights_only_fail(v, "BUILD on an unsupported object");
    }
}

/* Items an allowed type (OrderedDict, set, ...) gets: kept like a plain
 * container's, so the object can be shown (and inventoried) later. */
static void keep_call_items(vm *v, value *target, vkind plain, const value *items, size_t n)
{
    callsite *c = &target->u.n->u.c;
    if (c->items.kind == V_EMPTY) {
        c->items = v_new_node(&v->mem, plain);
        if (c->items.kind == V_EMPTY) {
            vm_out_of_memory(v);
            return;
        }
    }
    if (c->items.kind == plain && !seq_push(&v->mem, &c->items.u.n->u.s, items, n, v->lim_items))
        vm_out_of_memory(v);
}

/* APPEND(S)/SETITEM(S)/ADDITEMS on `target`: plain containers built in the
 * stream just grow; anything else is a method call worth reporting. */
static void mutate(vm *v, value *target, vkind plain, const value *items, size_t n,
                   const char *method)
{
    if (target->kind == plain) {
        if (!seq_push(&v->mem, &target->u.n->u.s, items, n, v->lim_items))
            vm_out_of_memory(v);
        return;
    }
    if (target->kind == V_GLOBAL) {
        mutation_of_global(v, target, method);
        return;
    }
    int is_setitem = plain == V_DICT;
    if (callee_allowed(target, 0)) {
        if (is_setitem && !callee_allowed(target, 1))
            vm_weights_only_fail(v, WO_SETITEM);
        keep_call_items(v, target, plain, items, n);
        return;
    }
    vm_weights_only_fail(v, "container opcode on an unsupported object");
    if (target->kind >= V_TUPLE && target->kind <= V_FROZENSET) {
        vm_note(v, CKPT_F_ANOMALY, -1, NULL, NULL, "%s on %s %s", method,
                v_kind_article(target->kind), v_kind_name(target->kind));
        return;
    }
    sb_reset(&v->scratch);
    render_value(&v->scratch, target, 1);
    sb_printf(&v->scratch, ".%s(...)", method);
    vm_note(v, CKPT_F_CONTAINER_CALL, -1, NULL, sb_cstr(&v->scratch), "%s on %s %s", method,
            v_kind_article(target->kind), v_kind_name(target->kind));
}

static void op_append(vm *v)
{
    value item;
    if (!vm_pop(v, &item))
        return;
    value *target = vm_top(v);
    if (target)
        mutate(v, target, V_LIST, &item, 1, "append");
}

static void op_setitem(vm *v)
{
    value kv[2];
    if (!vm_pop(v, &kv[1]) || !vm_pop(v, &kv[0]))
        return;
    value *target = vm_top(v);
    if (target)
        mutate(v, target, V_DICT, kv, 2, "__setitem__");
}

/* APPENDS, SETITEMS, ADDITEMS: items above the mark, target just below. */
static void op_multi(vm *v, vkind plain, const char *method)
{
    size_t base;
    if (!vm_pop_mark(v, &base))
        return;
    if (base <= v->fence) {
        vm_fail(v, CKPT_F_STACK_ERROR, "%s: no target below the mark", method);
        return;
    }
    size_t n = v->sp - base;
    if (n == 0)
        return; /* CPython does nothing, not even a lookup */
    if (plain == V_DICT && n % 2) {
        vm_fail(v, CKPT_F_MALFORMED, "odd number of items for SETITEMS");
        return;
    }
    mutate(v, &v->stack[base - 1], plain, v->stack + base, n, method);
    v->sp = base;
}

/* ---- persistent ids ---- */

static int is_torch_storage_pid(const value *pid)
{
    if (pid->kind != V_TUPLE || pid->u.n->u.s.kept < 1)
        return 0;
    const value *tag = &pid->u.n->u.s.items[0];
    return is_str(tag, "storage") ||
           (tag->kind == V_BYTES && tag->len == 7 && memcmp(tag->u.s, "storage", 7) == 0);
}

static void push_persid(vm *v, value pid)
{
    if (v->hooks && v->hooks->on_persid)
        v->hooks->on_persid(v->hooks->hctx, &pid);
    if (!is_torch_storage_pid(&pid)) {
        sb_reset(&v->scratch);
        sb_puts(&v->scratch, "persistent_load(");
        render_value(&v->scratch, &pid, 1);
        sb_putc(&v->scratch, ')');
        vm_note(v, CKPT_F_PERSISTENT_ID, -1, NULL, sb_cstr(&v->scratch),
                "persistent id that is not a torch storage reference");
    }
    value r = v_new_node(&v->mem, V_PERSID);
    if (r.kind == V_EMPTY) {
        vm_out_of_memory(v);
        return;
    }
    r.u.n->u.pid = pid;
    vm_push(v, r);
}

static void op_persid(vm *v)
{
    size_t len;
    const char *line = vm_line(v, &len);
    if (!line)
        return;
    vm_weights_only_fail(v, "uses PERSID, which weights_only refuses");
    if (!py_ascii_valid((const uint8_t *)line, len)) {
        vm_fail(v, CKPT_F_MALFORMED, "persistent IDs in protocol 0 must be ASCII strings");
        return;
    }
    value s = v_make(V_STR);
    s.u.s = line;
    s.len = (uint32_t)(len > v->lim_string ? v->lim_string : len);
    push_persid(v, s);
}

static void op_binpersid(vm *v)
{
    value pid;
    if (vm_pop(v, &pid))
        push_persid(v, pid);
}

void vm_op_object(vm *v)
{
    switch (v->op) {
    case OP_GLOBAL: op_global(v, 0); break;
    case OP_STACK_GLOBAL: op_stack_global(v); break;
    case OP_INST: op_inst(v); break;
    case OP_OBJ: op_obj(v); break;
    case OP_REDUCE: op_reduce(v); break;
    case OP_NEWOBJ: op_newobj(v, 0); break;
    case OP_NEWOBJ_EX: op_newobj(v, 1); break;
    case OP_BUILD: op_build(v); break;
    case OP_PERSID: op_persid(v); break;
    case OP_BINPERSID: op_binpersid(v); break;
    case OP_EXT1: op_ext(v, 1); break;
    case OP_EXT2: op_ext(v, 2); break;
    case OP_EXT4: op_ext(v, 4); break;
    case OP_APPEND: op_append(v); break;
    case OP_APPENDS: op_multi(v, V_LIST, "extend"); break;
    case OP_SETITEM: op_setitem(v); break;
    case OP_SETITEMS: op_multi(v, V_DICT, "__setitem__"); break;
    case OP_ADDITEMS: op_multi(v, V_SET, "add"); break;
    default: vm_fail(v, CKPT_F_BAD_OPCODE, "opcode 0x%02x has no handler", v->op); break;
    }
}
