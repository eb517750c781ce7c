/* SPDX-License-Identifier: Apache-2.0 */
/* The fast path's object opcodes, for the pickles torch writes: GLOBAL of
 * allowlisted names, REDUCE / NEWOBJ / NEWOBJ_EX on them, BUILD and the
 * container opcodes on the objects they make, and torch storage
 * persistent ids. Each mirrors vm_call.c for exactly the cases where the
 * full interpreter reports nothing but the import and the call; every
 * other case gives up (the full interpreter then walks the pickle). The
 * imports are buffered here and added to the report only once the walk
 * has succeeded (lite_record_imports), in the order the full interpreter
 * adds them. */
#include <string.h>

#include "lite.h"
#include "opcodes.h"
#include "pickle.h"
#include "policy.h"
#include "policy_grade.h"
#include "pytext.h"
#include "report.h"
#include "weights_only.h"

/* ---- the import table ---- */

static uint64_t hash_pair(const char *m, size_t mlen, const char *n, size_t nlen)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < mlen; i++)
        h = (h ^ (uint8_t)m[i]) * 1099511628211u;
    h = (h ^ 0xffu) * 1099511628211u; /* no byte of UTF-8 text: a separator */
    for (size_t i = 0; i < nlen; i++)
        h = (h ^ (uint8_t)n[i]) * 1099511628211u;
    return h;
}

static int same_pair(const lite_import *e, const char *m, size_t mlen, const char *n, size_t nlen)
{
    return e->module_len == mlen && e->name_len == nlen && memcmp(e->module, m, mlen) == 0 &&
           memcmp(e->name, n, nlen) == 0;
}

/* "module.name" after Python 2 name mapping, as resolve_global() joins it. */
static const char *join_resolved(lite *l, const char *mm, const char *mn, size_t *len)
{
    size_t a = strlen(mm), b = strlen(mn);
    char *s = arena_alloc(&l->names, a + b + 2);
    if (!s)
        return NULL;
    memcpy(s, mm, a);
    s[a] = '.';
    memcpy(s + a + 1, mn, b + 1);
    *len = a + 1 + b;
    return s;
}

/* Fills a new entry for module.name; 0 when the full interpreter would
 * report the import (off the allowlist) or the table cannot take it. */
static int describe(lite *l, lite_import *e, const char *m, size_t mlen, const char *n, size_t nlen)
{
    memset(e, 0, sizeof(*e));
    e->module = arena_strndup(&l->names, m, mlen);
    e->name = arena_strndup(&l->names, n, nlen);
    if (!e->module || !e->name)
        return 0;
    e->module_len = mlen;
    e->name_len = nlen;
    const char *mm = e->module, *mn = e->name;
    if (l->max_proto < 3)
        policy_compat_map(e->module, e->name, &mm, &mn);
    e->resolved = join_resolved(l, mm, mn, &e->resolved_len);
    if (!e->resolved || strcmp(e->resolved, "copyreg.add_extension") == 0)
        return 0; /* it registers EXT codes: the full interpreter tracks that */
    name_class cls;
    policy_classify(l->ctx->sc->pol, mm, mn, &cls);
    e->weights_only = policy_weights_only_global(e->module, e->name);
    grade_kind k = policy_grade_kind(e->resolved);
    e->graded = k != GK_NONE;
    e->newobj_only = k == GK_NEWOBJ_ONLY;
    e->offset = l->op_off;
    return cls.allowed;
}

/* Index of module.name in the table (added on first sight), or -1. */
static long import_index(lite *l, const char *m, size_t mlen, const char *n, size_t nlen)
{
    uint64_t h = hash_pair(m, mlen, n, nlen);
    size_t s = (size_t)h & (LITE_IMPORT_SLOTS - 1);
    for (; l->import_slots[s]; s = (s + 1) & (LITE_IMPORT_SLOTS - 1))
        if (same_pair(&l->imports[l->import_slots[s] - 1], m, mlen, n, nlen))
            return l->import_slots[s] - 1;
    if (l->nimports >= LITE_MAX_IMPORTS ||
        !lite_grow(l, (void **)&l->imports, &l->imports_cap, l->nimports + 1, sizeof(lite_import)))
        return -1;
    if (!describe(l, &l->imports[l->nimports], m, mlen, n, nlen))
        return -1;
    l->import_slots[s] = (uint16_t)(l->nimports + 1);
    return (long)l->nimports++;
}

/* ---- opcodes ---- */

static int global(lite *l)
{
    size_t mlen, nlen;
    const char *m = lite_line(l, &mlen);
    const char *n = m ? lite_line(l, &nlen) : NULL;
    if (!n || !py_utf8_valid((const uint8_t *)m, mlen, 0) ||
        !py_utf8_valid((const uint8_t *)n, nlen, 0) || memchr(m, '\0', mlen) ||
        memchr(n, '\0', nlen))
        return GIVE_UP;
    long i = import_index(l, m, mlen, n, nlen);
    if (i < 0)
        return GIVE_UP;
    lite_import *e = &l->imports[i];
    e->count++;
    if (!e->weights_only)
        lite_weights_only_fail(l, WO_IMPORT);
    return lite_push(l, CELL(V_GLOBAL, (cell)i));
}

/* Callables that return (or call) an argument: what they give back may be
 * a class a BUILD or their state mutates (vm_call.c passed_through). */
static int passes_through(const lite_import *e)
{
    return strcmp(e->resolved, "numpy.core.multiarray.scalar") == 0 ||
           strcmp(e->resolved, "torch._tensor._rebuild_from_type_v2") == 0;
}

/* Pops `args` items (the argument tuple and, for NEWOBJ_EX, the keyword
 * dict) and the callee below them; pushes the call. */
static int call(lite *l, size_t args, int newobj)
{
    if (l->sp < l->fence + args + 1)
        return GIVE_UP;
    cell callee = l->stack[l->sp - args - 1];
    if (CELL_KIND(l->stack[l->sp - args]) != V_TUPLE || CELL_KIND(callee) != V_GLOBAL)
        return GIVE_UP; /* not a tuple: a finding; not a name: an indirect call */
    const lite_import *e = &l->imports[CELL_TAG(callee)];
    if (args == 2 || (e->graded && !(newobj && e->newobj_only)) ||
        strcmp(l->imports[CELL_TAG(callee)].resolved, "torch._tensor._rebuild_from_type_v2") == 0)
        return GIVE_UP; /* keywords, argument checks, state set on func(*args): the full VM */
    l->imports[CELL_TAG(callee)].calls++;
    l->sp -= args + 1;
    return lite_push(l, CELL(V_CALL, CELL_TAG(callee)));
}

/* 1 when a reader hook would look at a BUILD on this object (joblib's
 * arrays): the full interpreter runs it. */
static int hook_wants(const lite *l, const lite_import *e)
{
    const pickle_hooks *h = l->hooks;
    return h && h->after_build && (!h->build_wanted || h->build_wanted(e->resolved));
}

static int build(lite *l)
{
    if (l->sp < l->fence + 2)
        return GIVE_UP;
    cell target = l->stack[l->sp - 2];
    if (CELL_KIND(target) != V_CALL)
        return GIVE_UP; /* BUILD on a name mutates it; on anything else, an anomaly */
    const lite_import *e = &l->imports[CELL_TAG(target)];
    if (hook_wants(l, e) || passes_through(e))
        return GIVE_UP;
    if (!e->weights_only)
        lite_weights_only_fail(l, WO_BUILD);
    l->sp--;
    return GO_ON;
}

static int binpersid(lite *l)
{
    if (l->sp <= l->fence || l->stack[l->sp - 1] != CELL(V_TUPLE, TAG_STORAGE))
        return GIVE_UP; /* other persistent ids are findings */
    l->stack[l->sp - 1] = CELL(V_PERSID, 0);
    if (l->first_persid == SIZE_MAX)
        l->first_persid = l->op_off;
    return GO_ON;
}

int lite_object_op(lite *l)
{
    switch (l->op) {
    case OP_GLOBAL: return global(l);
    case OP_REDUCE: return call(l, 1, 0);
    case OP_NEWOBJ: return call(l, 1, 1);
    case OP_NEWOBJ_EX: return call(l, 2, 1);
    case OP_BUILD: return build(l);
    case OP_BINPERSID: return binpersid(l);
    default: return GIVE_UP;
    }
}

int lite_mutate_call(lite *l, cell target, int is_setitem)
{
    /* every call on the fast path is of an allowed name: its items are kept */
    if (is_setitem && !l->imports[CELL_TAG(target)].weights_only)
        lite_weights_only_fail(l, WO_SETITEM);
    return GO_ON;
}

/* ---- recording ---- */

void lite_record_imports(const lite_result *r, ckpt_report *rep, const char *member)
{
    for (size_t k = 0; k < r->nimports; k++) {
        const lite_import *e = &r->imports[k];
        bstr mod = {e->module, e->module_len}, name = {e->name, e->name_len};
        bstr res = {e->resolved, e->resolved_len};
        size_t i = report_find_import(rep, mod, name, res);
        if (i == SIZE_MAX)
            i = report_add_import(rep, mod, name, res, CKPT_F_UNKNOWN_IMPORT, 1, e->weights_only,
                                  member ? member : "", e->offset);
        report_add_import_uses(rep, i, e->count - 1, e->calls);
    }
}
