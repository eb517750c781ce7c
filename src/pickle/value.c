/* SPDX-License-Identifier: Apache-2.0 */
/* Value nodes, bounded container growth and Python-like rendering. */
#include "value.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "util.h"

#define RENDER_DEPTH 6
#define RENDER_ITEMS 8

/* Bytes a node of `kind` needs: containers are far more common than calls,
 * so they do not pay for the largest member of the union. */
static size_t node_size(vkind kind)
{
    size_t head = offsetof(node, u);
    switch (kind) {
    case V_GLOBAL: return head + sizeof(gref);
    case V_CALL: return head + sizeof(callsite);
    case V_PERSID: return head + sizeof(value);
    default: return head + sizeof(seq);
    }
}

value v_new_node(arena *a, vkind kind)
{
    node *n = arena_zalloc(a, node_size(kind));
    if (!n)
        return v_make(V_EMPTY);
    n->kind = (uint8_t)kind;
    value v = v_make(kind);
    v.u.n = n;
    return v;
}

value v_new_seq(arena *a, vkind kind, size_t reserve)
{
    size_t head = node_size(kind);
    if (reserve > (SIZE_MAX - head) / sizeof(value) || reserve > UINT32_MAX)
        return v_make(V_EMPTY);
    node *n = arena_alloc(a, head + reserve * sizeof(value));
    if (!n)
        return v_make(V_EMPTY);
    memset(n, 0, head);
    n->kind = (uint8_t)kind;
    n->u.s.items = (value *)((char *)n + head);
    n->u.s.cap = (uint32_t)reserve;
    value v = v_make(kind);
    v.u.n = n;
    return v;
}

int seq_push(arena *a, seq *s, const value *items, size_t n, uint64_t keep)
{
    if (n <= (size_t)s->cap - s->kept && s->kept + n <= keep) {
        if (n) /* all kept, room reserved: one copy */
            memcpy(s->items + s->kept, items, n * sizeof(*items));
        s->kept += (uint32_t)n;
        s->count += n;
        return 1;
    }
    s->count += n;
    for (size_t i = 0; i < n; i++) {
        if (s->kept >= keep)
            return 1; /* counted, not kept */
        if (s->kept == s->cap) {
            uint32_t ncap = s->cap ? s->cap * 2 : 2;
            value *p = arena_alloc(a, (size_t)ncap * sizeof(value));
            if (!p)
                return 0;
            if (s->kept)
                memcpy(p, s->items, (size_t)s->kept * sizeof(value));
            s->items = p;
            s->cap = ncap;
        }
        s->items[s->kept++] = items[i];
    }
    return 1;
}

const char *v_kind_name(vkind kind)
{
    static const char *const names[] = {"empty",
                                        "None",
                                        "bool",
                                        "int",
                                        "float",
                                        "str",
                                        "bytes",
                                        "bytearray",
                                        "buffer",
                                        "tuple",
                                        "list",
                                        "dict",
                                        "set",
                                        "frozenset",
                                        "global",
                                        "object",
                                        "persistent object"};
    return (unsigned)kind < ARRAY_LEN(names) ? names[kind] : "?";
}

const char *v_kind_article(vkind kind)
{
    const char *n = v_kind_name(kind);
    return strchr("aeiouAEIOU", n[0]) ? "an" : "a";
}

static void render_string(strbuf *sb, const value *v)
{
    if (v->kind != V_STR)
        sb_putc(sb, 'b');
    sb_putc(sb, '\'');
    for (uint32_t i = 0; i < v->len && sb_room(sb) > 0; i++) {
        unsigned char c = (unsigned char)v->u.s[i];
        if (c == '\'' || c == '\\')
            sb_printf(sb, "\\%c", c);
        else if (c == '\n')
            sb_puts(sb, "\\n");
        else if (c < 0x20 || c == 0x7f || (c >= 0x80 && v->kind != V_STR))
            sb_printf(sb, "\\x%02x", c);
        else
            sb_putc(sb, (char)c); /* UTF-8 passes through; writers escape */
    }
    sb_putc(sb, '\'');
    if (v->flags & VF_TRUNCATED)
        sb_puts(sb, "...");
}

static void render_items(strbuf *sb, const seq *s, int depth, int pairs)
{
    uint32_t kept = pairs ? s->kept / 2 : s->kept;
    uint64_t total = pairs ? s->count / 2 : s->count;
    uint32_t shown = kept < RENDER_ITEMS ? kept : RENDER_ITEMS;
    for (uint32_t i = 0; i < shown && sb_room(sb) > 0; i++) {
        if (i)
            sb_puts(sb, ", ");
        if (pairs) {
            render_value(sb, &s->items[2 * i], depth + 1);
            sb_puts(sb, ": ");
            render_value(sb, &s->items[2 * i + 1], depth + 1);
        } else {
            render_value(sb, &s->items[i], depth + 1);
        }
    }
    if (total > shown)
        sb_printf(sb, "%s... %llu items", shown ? ", " : "", (unsigned long long)total);
}

static void render_seq(strbuf *sb, const value *v, int depth)
{
    static const char *const open[] = {"(", "[", "{", "{", "frozenset({"};
    static const char *const close[] = {")", "]", "}", "}", "})"};
    int k = v->kind - V_TUPLE;
    const seq *s = &v->u.n->u.s;
    if (v->kind == V_SET && s->count == 0) {
        sb_puts(sb, "set()");
        return;
    }
    sb_puts(sb, open[k]);
    render_items(sb, s, depth, v->kind == V_DICT);
    if (v->kind == V_TUPLE && s->count == 1 && s->kept == 1)
        sb_putc(sb, ',');
    sb_puts(sb, close[k]);
}

static void render_number(strbuf *sb, const value *v)
{
    if (v->kind == V_BOOL)
        sb_puts(sb, v->u.i ? "True" : "False");
    else if (v->kind == V_INT && (v->flags & VF_BIGINT))
        sb_puts(sb, "<big int>");
    else if (v->kind == V_INT)
        sb_printf(sb, "%lld", (long long)v->u.i);
    else if (isnan(v->u.f))
        sb_puts(sb, "nan");
    else if (isinf(v->u.f))
        sb_puts(sb, v->u.f > 0 ? "inf" : "-inf");
    else
        sb_printf(sb, "%.17g", v->u.f);
}

void render_value(strbuf *sb, const value *v, int depth)
{
    if (sb_room(sb) == 0)
        return; /* full: nested (even self-referential) values cost nothing more */
    if (depth > RENDER_DEPTH) {
        sb_puts(sb, "...");
        return;
    }
    switch ((vkind)v->kind) {
    case V_NONE: sb_puts(sb, "None"); break;
    case V_BOOL:
    case V_INT:
    case V_FLOAT: render_number(sb, v); break;
    case V_STR:
    case V_BYTES: render_string(sb, v); break;
    case V_BYTEARRAY:
        sb_puts(sb, "bytearray(");
        render_string(sb, v);
        sb_putc(sb, ')');
        break;
    case V_BUFFER: sb_puts(sb, "<out-of-band buffer>"); break;
    case V_TUPLE:
    case V_LIST:
    case V_DICT:
    case V_SET:
    case V_FROZENSET: render_seq(sb, v, depth); break;
    case V_GLOBAL: sb_puts(sb, v->u.n->u.g.resolved); break;
    case V_CALL: {
        const callsite *c = &v->u.n->u.c;
        render_call(sb, &c->callee, &c->args, &c->kwargs);
        break;
    }
    case V_PERSID:
        sb_puts(sb, "persistent_load(");
        render_value(sb, &v->u.n->u.pid, depth + 1);
        sb_putc(sb, ')');
        break;
    default: sb_puts(sb, "?"); break;
    }
}

static void render_args(strbuf *sb, const value *args, int depth)
{
    if (args->kind == V_TUPLE) {
        render_items(sb, &args->u.n->u.s, depth, 0);
    } else {
        sb_putc(sb, '*');
        render_value(sb, args, depth + 1);
    }
}

void render_call(strbuf *sb, const value *callee, const value *args, const value *kwargs)
{
    render_value(sb, callee, 1);
    sb_putc(sb, '(');
    if (args && args->kind != V_EMPTY)
        render_args(sb, args, 1);
    if (kwargs && kwargs->kind != V_EMPTY) {
        if (args && args->kind == V_TUPLE && args->u.n->u.s.count)
            sb_puts(sb, ", ");
        sb_puts(sb, "**");
        render_value(sb, kwargs, 2);
    }
    sb_putc(sb, ')');
}
