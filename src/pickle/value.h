/* SPDX-License-Identifier: Apache-2.0 */
/* Symbolic values of the restricted interpreter: what a pickle would build,
 * with nothing imported or called. Values are 16 bytes and copied freely;
 * containers, globals and call results live in nodes in the stream's arena. */
#ifndef CKPT_VALUE_H
#define CKPT_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "ckptscan.h"
#include "strbuf.h"

typedef enum vkind {
    V_EMPTY = 0, /* unused memo slot; never on the stack */
    V_NONE,
    V_BOOL,
    V_INT,
    V_FLOAT,
    V_STR,
    V_BYTES,
    V_BYTEARRAY,
    V_BUFFER, /* NEXT_BUFFER placeholder */
    V_TUPLE,
    V_LIST,
    V_DICT,
    V_SET,
    V_FROZENSET,
    V_GLOBAL, /* result of GLOBAL / STACK_GLOBAL / INST's class / EXT */
    V_CALL,   /* result of REDUCE, NEWOBJ(_EX), OBJ, INST */
    V_PERSID, /* result of persistent_load */
    V_KIND_COUNT_
} vkind;

enum vflag {
    VF_TRUNCATED = 1, /* string kept shorter than it is */
    VF_BIGINT = 2,    /* integer does not fit int64; u.i is meaningless */
    VF_NOT_UTF8 = 4,  /* string bytes are not valid UTF-8 */
    VF_CHECKPOINT = 8 /* bytes scanned as the torch checkpoint they hold */
};

typedef struct node node;

typedef struct value {
    uint8_t kind;
    uint8_t flags;
    uint32_t len; /* strings: bytes kept at u.s */
    union {
        int64_t i;
        double f;
        const char *s;
        node *n;
    } u;
} value;

/* Containers keep their first `kept` values and count them all; a dict
 * stores key, value, key, value... so its pairs are count / 2. */
typedef struct seq {
    uint64_t count;
    uint32_t kept, cap;
    value *items;
} seq;

typedef struct gref {
    const char *module; /* as written (may hold NUL bytes: use the lengths) */
    const char *name;
    size_t module_len, name_len;
    const char *resolved; /* module.qualname after mapping (may hold NULs) */
    size_t resolved_len;
    size_t import_index; /* in the report */
    ckpt_code cls;       /* policy class when not allowed */
    uint8_t allowed;
    uint8_t weights_only; /* on torch's weights_only allowlist */
    /* Graded callables (vm_grade.c): a call-through whose finding waits
     * until its uses are known; refs counts the stack copies of this node,
     * through those consumed as the callee of a call that passed grading. */
    uint8_t grade;     /* grade_kind; 0 for ordinary names */
    uint8_t pending;   /* its import finding is deferred */
    uint8_t op;        /* opcode that imported it, for the finding */
    size_t module_out; /* length of the module part of `resolved` */
    uint32_t refs, through;
    uint64_t off;      /* offset of that opcode */
    struct node *next; /* the vm's list of pending names */
} gref;

typedef struct call {
    value callee;
    value args;
    value kwargs; /* V_EMPTY unless NEWOBJ_EX */
    value state;  /* V_EMPTY until BUILD */
    value items;  /* what APPEND/SETITEM(S) added to an allowed type, e.g.
                     OrderedDict (a V_DICT, V_LIST or V_SET); V_EMPTY if none */
    uint8_t opcode;
    /* torch._tensor._rebuild_from_type_v2 set attributes (its state) on
     * what this call made, after it was made: no BUILD shows them */
    uint8_t state_set;
    uint64_t offset;
} callsite;

/* Allocated with only the union member its kind uses (v_new_node). */
struct node {
    uint8_t kind; /* same as the owning value's kind */
    union {
        seq s;
        gref g;
        callsite c;
        value pid;
    } u;
};

static inline value v_make(vkind kind)
{
    value v = {0};
    v.kind = (uint8_t)kind;
    return v;
}

static inline int v_is_container(const value *v)
{
    return v->kind >= V_TUPLE && v->kind <= V_FROZENSET;
}

/* A value backed by a fresh node of `kind`; kind V_EMPTY on no memory. */
value v_new_node(arena *a, vkind kind);

/* A container value with room for `reserve` items in the same block (a
 * collected tuple is never resized); kind V_EMPTY on no memory. */
value v_new_seq(arena *a, vkind kind, size_t reserve);

/* Appends n values to a container, keeping at most `keep` values.
 * Returns 0 on no memory. */
int seq_push(arena *a, seq *s, const value *items, size_t n, uint64_t keep);

/* Python-like rendering, bounded by the strbuf's max and by depth. */
void render_value(strbuf *sb, const value *v, int depth);
/* Renders `callee(args)` (NEWOBJ: `cls.__new__(cls, args)` style is kept
 * as `cls(args)`); kwargs may be NULL or V_EMPTY. */
void render_call(strbuf *sb, const value *callee, const value *args, const value *kwargs);
/* Short kind name for messages ("list", "global", ...). */
const char *v_kind_name(vkind kind);
/* "a" or "an", to go before v_kind_name(kind). */
const char *v_kind_article(vkind kind);

#endif
