/* SPDX-License-Identifier: Apache-2.0 */
/* A value-free fast path: only kinds are tracked (plus a tag where it
 * matters, lite.h), so memory stays flat and the loop is tight. It can
 * conclude exactly one thing: "a clean, complete pickle whose only reports
 * are allowlisted imports and the calls on them" (lite_objects.c), which
 * covers pure-data pickles and torch's data.pkl. Anything else the full
 * interpreter would comment on makes it give up, and the full interpreter
 * runs from the start instead, so findings never differ, with one
 * exception by design: max-memory counts what each walk holds, and this
 * one holds a byte or four per stack or memo slot where the interpreter
 * builds values, so it may finish (and report what the pickle does) where
 * the interpreter would stop at the limit. */
#include "pickle_lite.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "lite.h"
#include "opcodes.h"
#include "pickle.h"
#include "bigmem.h"
#include "pytext.h"
#include "util.h"
#include "value.h"
#include "weights_only.h"

static int grow(lite *l, void **p, size_t *cap, size_t need, size_t elem, int zeroed);

int lite_grow(lite *l, void **p, size_t *cap, size_t need, size_t elem)
{
    return grow(l, p, cap, need, elem, 0);
}

/* lite_grow, or a lazily zeroed array (big_zrealloc) when `zeroed`: a memo
 * index of 40 million costs a page, not 40 MB written per pickle. */
static int grow(lite *l, void **p, size_t *cap, size_t need, size_t elem, int zeroed)
{
    if (need <= *cap)
        return 1;
    size_t ncap = *cap * 2 > need ? *cap * 2 : need < 256 ? 256 : need;
    uint64_t bytes = (uint64_t)ncap * elem;
    if (l->memory + bytes > ctx_memory_room(l->ctx)) {
        ncap = need; /* doubling would break the limit: take just enough */
        bytes = (uint64_t)ncap * elem;
        if (l->memory + bytes > ctx_memory_room(l->ctx))
            return 0;
    }
    uint64_t grown = bytes - (uint64_t)*cap * elem;
    if (!ctx_mem_take(l->ctx, grown))
        return 0;
    void *q = zeroed ? big_zrealloc(*p, *cap * elem, (size_t)bytes) : realloc(*p, (size_t)bytes);
    if (!q) {
        ctx_mem_give(l->ctx, grown);
        return 0;
    }
    l->memory += bytes - (uint64_t)*cap * elem;
    *p = q;
    *cap = ncap;
    return 1;
}

void lite_weights_only_fail(lite *l, const char *reason)
{
    if (l->weights_only_ok) {
        l->weights_only_ok = 0;
        l->weights_only_reason = reason;
    }
}

static void leave_frame(lite *l)
{
    l->in_frame = 0;
    l->limit = l->len;
}

static const uint8_t *take(lite *l, size_t n)
{
    if (n > l->limit - l->pos) {
        if (!l->in_frame || l->pos != l->frame_end)
            return NULL; /* truncation or a frame straddle: the full VM reports it */
        leave_frame(l);  /* an exhausted frame: reading on from the file is fine */
        if (n > l->len - l->pos)
            return NULL;
    }
    const uint8_t *p = l->buf + l->pos;
    l->pos += n;
    return p;
}

const char *lite_line(lite *l, size_t *n)
{
    const uint8_t *nl = memchr(l->buf + l->pos, '\n', l->len - l->pos);
    if (!nl)
        return NULL;
    *n = (size_t)(nl - (l->buf + l->pos));
    return (const char *)take(l, *n + 1);
}

int lite_push(lite *l, cell c)
{
    if (l->sp >= l->stack_cap || l->sp >= l->lim_stack) {
        if (l->sp >= l->lim_stack ||
            !lite_grow(l, (void **)&l->stack, &l->stack_cap, l->sp + 1, sizeof(cell)))
            return GIVE_UP;
    }
    l->stack[l->sp++] = c;
    return GO_ON;
}

static int push(lite *l, vkind k)
{
    return lite_push(l, (cell)k);
}

/* A constant the full VM would probe as an embedded pickle. */
static int maybe_pickle(const uint8_t *p, size_t n)
{
    return (n >= 2 && p[n - 1] == '.' && opcode_table[p[0]].name) ||
           pickle_constant_checkpoint(p, n, 0) || pickle_constant_checkpoint(p, n, 1);
}

/* The tag of a str or bytes value: whether the full interpreter's value
 * (cut at max-string) is exactly "storage". */
static inline cell storage_tag(const lite *l, const uint8_t *s, uint64_t n)
{
    uint64_t kept = n < l->lim_string ? n : l->lim_string;
    return kept == 7 && memcmp(s, "storage", 7) == 0 ? TAG_STORAGE : 0;
}

static int counted(lite *l, size_t width, vkind k)
{
    const uint8_t *p = take(l, width);
    if (!p)
        return GIVE_UP;
    uint64_t n = width == 1 ? p[0] : width == 4 ? load_le32(p) : load_le64(p);
    if (n > (uint64_t)PTRDIFF_MAX || (l->op == OP_BINSTRING && n >= (UINT64_C(1) << 31)))
        return GIVE_UP;
    const uint8_t *s = take(l, (size_t)n);
    if (!s || maybe_pickle(s, (size_t)n))
        return GIVE_UP;
    int utf8 = k == V_STR && l->op != OP_BINSTRING && l->op != OP_SHORT_BINSTRING;
    if (utf8 && !py_utf8_valid(s, (size_t)n, 1))
        return GIVE_UP;
    cell tag = k == V_STR || k == V_BYTES ? storage_tag(l, s, n) : 0;
    return lite_push(l, CELL(k, tag));
}

static int text_string(lite *l)
{
    size_t n;
    const char *s = lite_line(l, &n);
    if (!s)
        return GIVE_UP;
    if (l->scratch.used > (1u << 20))
        arena_release(&l->scratch);
    value v;
    uint64_t keep = ctx_limit(l->ctx, CKPT_LIMIT_STRING);
    const char *err = l->op == OP_STRING ? py_decode_string_line(&l->scratch, s, n, keep, &v)
                                         : py_decode_raw_unicode_line(&l->scratch, s, n, keep, &v);
    if (err || (!(v.flags & VF_TRUNCATED) && maybe_pickle((const uint8_t *)v.u.s, v.len)))
        return GIVE_UP;
    return lite_push(l, CELL((vkind)v.kind, storage_tag(l, (const uint8_t *)v.u.s, v.len)));
}

typedef const char *(*number_parser)(const char *, size_t, value *);

static int text_number(lite *l, number_parser parse)
{
    size_t n;
    const char *s = lite_line(l, &n);
    value v;
    if (!s || parse(s, n, &v))
        return GIVE_UP;
    return push(l, (vkind)v.kind);
}

static int text_float(lite *l)
{
    size_t n;
    const char *s = lite_line(l, &n);
    double d;
    if (!s || py_parse_float_line(s, n, &d))
        return GIVE_UP;
    return push(l, V_FLOAT);
}

static int fixed(lite *l, size_t n, vkind k)
{
    return take(l, n) ? push(l, k) : GIVE_UP;
}

static int long_bytes(lite *l, size_t width)
{
    const uint8_t *p = take(l, width);
    if (!p)
        return GIVE_UP;
    int64_t n = width == 1 ? p[0] : (int32_t)load_le32(p);
    return n >= 0 && take(l, (size_t)n) ? push(l, V_INT) : GIVE_UP;
}

static int pop_mark(lite *l, size_t *base)
{
    if (l->nmarks == 0)
        return GIVE_UP;
    *base = l->marks[--l->nmarks];
    l->fence = l->nmarks ? l->marks[l->nmarks - 1] : 0;
    return GO_ON;
}

static int mark(lite *l)
{
    if (l->nmarks >= ctx_limit(l->ctx, CKPT_LIMIT_STACK) ||
        !lite_grow(l, (void **)&l->marks, &l->marks_cap, l->nmarks + 1, sizeof(size_t)))
        return GIVE_UP;
    l->marks[l->nmarks++] = l->sp;
    l->fence = l->sp;
    return GO_ON;
}

/* A tuple of stack[base..sp): tagged when its first item, the only one the
 * full interpreter is sure to keep, is "storage". */
static cell tuple_cell(const lite *l, size_t base)
{
    int first = base < l->sp && l->lim_items > 0 && CELL_TAG(l->stack[base]) == TAG_STORAGE &&
                (CELL_KIND(l->stack[base]) == V_STR || CELL_KIND(l->stack[base]) == V_BYTES);
    return CELL(V_TUPLE, first ? TAG_STORAGE : 0);
}

static int from_mark(lite *l, vkind k)
{
    size_t base;
    if (!pop_mark(l, &base) || (k == V_DICT && (l->sp - base) % 2))
        return GIVE_UP;
    cell c = k == V_TUPLE ? tuple_cell(l, base) : (cell)k;
    l->sp = base;
    return lite_push(l, c);
}

static int small_tuple(lite *l, size_t n)
{
    if (l->sp < l->fence + n)
        return GIVE_UP;
    cell c = tuple_cell(l, l->sp - n);
    l->sp -= n;
    return lite_push(l, c);
}

/* A container opcode's target: a plain container of kind k built in the
 * stream, or an object an allowed call made. */
static int mutate(lite *l, cell target, vkind k)
{
    if (target == (cell)k)
        return GO_ON;
    return CELL_KIND(target) == V_CALL ? lite_mutate_call(l, target, k == V_DICT) : GIVE_UP;
}

/* APPEND / SETITEM: items on top, the target below. */
static int add_one(lite *l, size_t items, vkind k)
{
    if (l->sp < l->fence + items + 1 || !mutate(l, l->stack[l->sp - items - 1], k))
        return GIVE_UP;
    l->sp -= items;
    return GO_ON;
}

/* APPENDS / SETITEMS / ADDITEMS */
static int add_many(lite *l, vkind k)
{
    size_t base;
    if (!pop_mark(l, &base) || base <= l->fence)
        return GIVE_UP;
    size_t n = l->sp - base;
    if (n && ((k == V_DICT && n % 2) || !mutate(l, l->stack[base - 1], k)))
        return GIVE_UP;
    l->sp = base;
    return GO_ON;
}

/* The memo keeps kinds; tags sit beside them from the first tagged value
 * on (pure-data pickles never have one), as long as the memo. */
static int grow_tags(lite *l, size_t old_cap)
{
    size_t add = l->memo_cap - (l->memo_tags ? old_cap : 0);
    if (l->memory + (uint64_t)add * sizeof(cell) > ctx_memory_room(l->ctx) ||
        !ctx_mem_take(l->ctx, (uint64_t)add * sizeof(cell)))
        return 0;
    cell *t = big_zrealloc(l->memo_tags, l->tags_cap * sizeof(cell), l->memo_cap * sizeof(cell));
    if (!t) {
        ctx_mem_give(l->ctx, (uint64_t)add * sizeof(cell));
        return 0;
    }
    l->memo_tags = t;
    l->tags_cap = l->memo_cap;
    l->memory += (uint64_t)add * sizeof(cell);
    return 1;
}

static inline cell memo_cell(const lite *l, size_t i)
{
    return CELL(l->memo[i], l->memo_tags ? l->memo_tags[i] : 0);
}

static int memo_put(lite *l, uint64_t index)
{
    if (l->sp <= l->fence || index >= l->lim_memo)
        return GIVE_UP;
    size_t old = l->memo_cap;
    if (index >= old && !grow(l, (void **)&l->memo, &l->memo_cap, (size_t)index + 1, 1, 1))
        return GIVE_UP;
    cell c = l->stack[l->sp - 1];
    if ((l->memo_cap > old && l->memo_tags) || (CELL_TAG(c) && !l->memo_tags))
        if (!grow_tags(l, old))
            return GIVE_UP;
    if (l->memo[index] == V_EMPTY)
        l->memo_count++;
    l->memo[index] = (uint8_t)CELL_KIND(c);
    if (l->memo_tags)
        l->memo_tags[index] = CELL_TAG(c);
    return GO_ON;
}

static int memo_get(lite *l, uint64_t index)
{
    if (index >= l->memo_cap || l->memo[index] == V_EMPTY)
        return GIVE_UP;
    return lite_push(l, memo_cell(l, index));
}

static int memo_line(lite *l, int get)
{
    size_t n;
    const char *s = lite_line(l, &n);
    uint64_t index;
    if (!s || py_parse_index_line(s, n, &index))
        return GIVE_UP;
    return get ? memo_get(l, index) : memo_put(l, index);
}

static int memo_bin(lite *l, size_t width, int get)
{
    const uint8_t *p = take(l, width);
    if (!p)
        return GIVE_UP;
    uint64_t index = width == 1 ? p[0] : load_le32(p);
    return get ? memo_get(l, index) : memo_put(l, index);
}

static int proto(lite *l, size_t op_off)
{
    const uint8_t *p = take(l, 1);
    if (!p || p[0] > 5 || op_off != l->start)
        return GIVE_UP; /* a mid-stream PROTO is a finding */
    if (p[0] > l->max_proto)
        l->max_proto = p[0];
    return GO_ON;
}

static int frame(lite *l)
{
    const uint8_t *p = take(l, 8);
    if (!p || (l->in_frame && l->pos < l->frame_end))
        return GIVE_UP; /* a frame inside a frame: the full VM reports it */
    uint64_t n = load_le64(p);
    if (n > l->len - l->pos)
        return GIVE_UP;
    l->in_frame = 1;
    l->frame_end = l->pos + (size_t)n;
    l->limit = l->frame_end;
    return GO_ON;
}

static int pop(lite *l)
{
    if (l->nmarks && l->marks[l->nmarks - 1] == l->sp) {
        size_t base;
        return pop_mark(l, &base);
    }
    if (l->sp <= l->fence)
        return GIVE_UP;
    l->sp--;
    return GO_ON;
}

static int dispatch_containers(lite *l)
{
    size_t base;
    switch (l->op) {
    case OP_MARK: return mark(l);
    case OP_POP: return pop(l);
    case OP_POP_MARK: return pop_mark(l, &base) ? (l->sp = base, GO_ON) : GIVE_UP;
    case OP_DUP: return l->sp > l->fence ? lite_push(l, l->stack[l->sp - 1]) : GIVE_UP;
    case OP_TUPLE: return from_mark(l, V_TUPLE);
    case OP_LIST: return from_mark(l, V_LIST);
    case OP_DICT: return from_mark(l, V_DICT);
    case OP_FROZENSET: return from_mark(l, V_FROZENSET);
    case OP_TUPLE1: return small_tuple(l, 1);
    case OP_TUPLE2: return small_tuple(l, 2);
    case OP_TUPLE3: return small_tuple(l, 3);
    case OP_EMPTY_TUPLE: return push(l, V_TUPLE);
    case OP_EMPTY_LIST: return push(l, V_LIST);
    case OP_EMPTY_DICT: return push(l, V_DICT);
    case OP_EMPTY_SET: return push(l, V_SET);
    case OP_APPEND: return add_one(l, 1, V_LIST);
    case OP_SETITEM: return add_one(l, 2, V_DICT);
    case OP_APPENDS: return add_many(l, V_LIST);
    case OP_SETITEMS: return add_many(l, V_DICT);
    case OP_ADDITEMS: return add_many(l, V_SET);
    default: return GIVE_UP;
    }
}

static int dispatch(lite *l, size_t op_off)
{
    switch (l->op) {
    case OP_STOP: return l->sp > l->fence ? DONE : GIVE_UP;
    case OP_NONE: return push(l, V_NONE);
    case OP_NEWTRUE:
    case OP_NEWFALSE: return push(l, V_BOOL);
    case OP_INT: return text_number(l, py_parse_int_line);
    case OP_LONG: return text_number(l, py_parse_long_line);
    case OP_FLOAT: return text_float(l);
    case OP_BININT: return fixed(l, 4, V_INT);
    case OP_BININT1: return fixed(l, 1, V_INT);
    case OP_BININT2: return fixed(l, 2, V_INT);
    case OP_BINFLOAT: return fixed(l, 8, V_FLOAT);
    case OP_LONG1: return long_bytes(l, 1);
    case OP_LONG4: return long_bytes(l, 4);
    case OP_STRING:
    case OP_UNICODE: return text_string(l);
    case OP_BINSTRING: return counted(l, 4, V_STR);
    case OP_SHORT_BINSTRING: return counted(l, 1, V_STR);
    case OP_BINUNICODE: return counted(l, 4, V_STR);
    case OP_SHORT_BINUNICODE: return counted(l, 1, V_STR);
    case OP_BINUNICODE8: return counted(l, 8, V_STR);
    case OP_BINBYTES: return counted(l, 4, V_BYTES);
    case OP_SHORT_BINBYTES: return counted(l, 1, V_BYTES);
    case OP_BINBYTES8: return counted(l, 8, V_BYTES);
    case OP_BYTEARRAY8: return counted(l, 8, V_BYTEARRAY);
    case OP_GET: return memo_line(l, 1);
    case OP_PUT: return memo_line(l, 0);
    case OP_BINGET: return memo_bin(l, 1, 1);
    case OP_LONG_BINGET: return memo_bin(l, 4, 1);
    case OP_BINPUT: return memo_bin(l, 1, 0);
    case OP_LONG_BINPUT: return memo_bin(l, 4, 0);
    case OP_MEMOIZE: return memo_put(l, l->memo_count);
    case OP_PROTO: return proto(l, op_off);
    case OP_FRAME: return frame(l);
    case OP_READONLY_BUFFER: return l->sp > l->fence ? GO_ON : GIVE_UP;
    case OP_GLOBAL:
    case OP_REDUCE:
    case OP_NEWOBJ:
    case OP_NEWOBJ_EX:
    case OP_BUILD:
    case OP_BINPERSID: return lite_object_op(l);
    default: return dispatch_containers(l);
    }
}

#define RELEASE_STEP (8u << 20)

/* ---- joblib's names ------------------------------------------------------ */

#define NAME_OVERLAP 11 /* "ArrayWrapper" less a byte: a name across two searches */

static int name_at(const uint8_t *p, size_t left)
{
    return (left >= 6 && memcmp(p, "joblib", 6) == 0) ||
           (left >= 12 && memcmp(p, "ArrayWrapper", 12) == 0);
}

int lite_names_joblib(const uint8_t *p, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    /* 16 candidates at a time: first and last letters of both names */
    const __m128i j = _mm_set1_epi8('j'), b = _mm_set1_epi8('b');
    const __m128i a = _mm_set1_epi8('A'), r = _mm_set1_epi8('r');
    for (; n >= 16 + NAME_OVERLAP && i <= n - 16 - NAME_OVERLAP; i += 16) {
        __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i v5 = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 5));
        __m128i v11 = _mm_loadu_si128((const __m128i *)(const void *)(p + i + 11));
        __m128i m = _mm_or_si128(_mm_and_si128(_mm_cmpeq_epi8(v0, j), _mm_cmpeq_epi8(v5, b)),
                                 _mm_and_si128(_mm_cmpeq_epi8(v0, a), _mm_cmpeq_epi8(v11, r)));
        for (unsigned bits = (unsigned)_mm_movemask_epi8(m); bits; bits &= bits - 1)
            if (name_at(p + i + (size_t)__builtin_ctz(bits), n - i - (size_t)__builtin_ctz(bits)))
                return 1;
    }
#endif
    for (; i < n; i++)
        if ((p[i] == 'j' || p[i] == 'A') && name_at(p + i, n - i))
            return 1;
    return 0;
}

/* Searches buf[names_from..to) before its pages go: the walk and the
 * search read each page once. */
static void search_names(lite *l, size_t to)
{
    if (!l->find_names || l->names_found || to <= l->names_from)
        return;
    l->names_found = lite_names_joblib(l->buf + l->names_from, to - l->names_from);
    if (to - l->names_from > NAME_OVERLAP)
        l->names_from = to - NAME_OVERLAP;
}

/* Per opcode byte: bit 0 an opcode, bit 1 accepted by weights_only. */
static const uint8_t op_flags[256] = {
#define X(name, byte, arg, proto, wo) [byte] = 1 | ((wo) << 1),
    OPCODE_LIST(X)
#undef X
};

/* Input windows: read ahead (growing like readahead) and release read
 * pages (nothing here points into the input). */
typedef struct window {
    size_t released, prefetched, step;
} window;

/* Housekeeping at op_off; returns the next offset that needs it. */
static size_t housekeep(lite *l, window *w, size_t op_off)
{
    search_names(l, op_off);
    if (op_off >= w->prefetched) {
        w->prefetched = l->len - op_off > w->step ? op_off + w->step : l->len;
        w->step = w->step < RELEASE_STEP / 4 ? w->step * 2 : w->step;
        ctx_prefetch(l->ctx, l->buf + op_off, l->buf + w->prefetched);
    }
    if (op_off - w->released >= RELEASE_STEP) {
        ctx_release_pages(l->ctx, l->buf + w->released, l->buf + op_off);
        w->released = op_off;
    }
    if (l->in_frame && op_off >= l->frame_end)
        leave_frame(l);
    size_t next =
        w->prefetched < w->released + RELEASE_STEP ? w->prefetched : w->released + RELEASE_STEP;
    return l->in_frame && l->frame_end < next ? l->frame_end : next;
}

/* ---- the hot loop --------------------------------------------------------
 * The commonest opcodes of data pickles with the walk's state in locals.
 * Each is taken only when it can neither fail nor need memory; otherwise
 * the loop stops before it and dispatch() runs it, so every outcome is
 * dispatch()'s. It stops at `end`, where housekeeping is due. */

typedef struct hot {
    const uint8_t *b;
    cell *stack;
    size_t *marks;
    uint8_t *memo;   /* l->memo: a byte store must not make the loop reload l */
    cell *memo_tags; /* l->memo_tags */
    size_t memo_cap; /* the memo never grows here */
    uint64_t lim_memo, lim_string;
    size_t pos, sp, fence, nmarks, room, mark_room, limit;
    uint64_t nops, memo_count;
    unsigned weights_only_ok;
    size_t end; /* where housekeeping is due */
} hot;

/* A fixed-width argument then a push of kind k; 0: leave it to dispatch. */
static inline int hot_push(hot *h, size_t width, vkind k)
{
    if (h->limit - h->pos - 1 < width || h->sp >= h->room)
        return 0;
    h->stack[h->sp++] = (cell)k;
    h->pos += 1 + width;
    return 1;
}

static inline uint64_t hot_index(const hot *h, size_t width)
{
    const uint8_t *p = h->b + h->pos + 1;
    return width == 1 ? p[0] : load_le32(p);
}

static inline int hot_get(hot *h, size_t width)
{
    if (h->limit - h->pos - 1 < width || h->sp >= h->room)
        return 0;
    uint64_t i = hot_index(h, width);
    if (i >= h->memo_cap || h->memo[i] == V_EMPTY)
        return 0;
    h->stack[h->sp++] = CELL(h->memo[i], h->memo_tags ? h->memo_tags[i] : 0);
    h->pos += 1 + width;
    return 1;
}

/* BINPUT / LONG_BINPUT, or MEMOIZE (width 0: the next free slot). */
static inline int hot_put(hot *h, size_t width)
{
    if (h->limit - h->pos - 1 < width || h->sp <= h->fence)
        return 0;
    uint64_t i = width ? hot_index(h, width) : h->memo_count;
    cell c = h->stack[h->sp - 1];
    if (i >= h->lim_memo || i >= h->memo_cap || (CELL_TAG(c) && !h->memo_tags))
        return 0; /* the first tagged value: memo_put makes room for tags */
    h->memo_count += h->memo[i] == V_EMPTY;
    h->memo[i] = (uint8_t)CELL_KIND(c);
    if (h->memo_tags)
        h->memo_tags[i] = CELL_TAG(c);
    h->pos += 1 + width;
    return 1;
}

static inline int hot_mark(hot *h)
{
    if (h->nmarks >= h->mark_room)
        return 0;
    h->marks[h->nmarks++] = h->sp;
    h->fence = h->sp;
    h->pos++;
    return 1;
}

/* APPENDS / SETITEMS onto a plain list / dict right below the mark. */
static inline int hot_add_many(hot *h, vkind k)
{
    if (h->nmarks == 0)
        return 0;
    size_t base = h->marks[h->nmarks - 1];
    size_t fence = h->nmarks > 1 ? h->marks[h->nmarks - 2] : 0;
    size_t n = h->sp - base;
    if (base <= fence || (n && (h->stack[base - 1] != k || (k == V_DICT && n % 2))))
        return 0;
    h->nmarks--;
    h->fence = fence;
    h->sp = base;
    h->pos++;
    return 1;
}

/* APPEND / SETITEM: items on top of a plain list / dict. */
static inline int hot_add_one(hot *h, size_t items, vkind k)
{
    if (h->sp < h->fence + items + 1 || h->stack[h->sp - items - 1] != k)
        return 0;
    h->sp -= items;
    h->pos++;
    return 1;
}

/* Valid UTF-8; short ASCII strings (most keys) without a call. */
static inline int hot_utf8(const uint8_t *s, size_t n)
{
    if (n <= 16) {
        uint8_t any = 0;
        for (size_t i = 0; i < n; i++)
            any |= s[i];
        if (any < 0x80)
            return 1;
    }
    return py_utf8_valid(s, n, 1);
}

/* A counted argument: LONG1 (an int) or a UTF-8 string. */
static inline int hot_counted(hot *h, size_t width, vkind k)
{
    size_t left = h->limit - h->pos - 1;
    if (left < width || h->sp >= h->room)
        return 0;
    const uint8_t *p = h->b + h->pos + 1;
    uint64_t n = width == 1 ? p[0] : load_le32(p);
    if (n > left - width)
        return 0;
    const uint8_t *s = p + width;
    cell c = (cell)k;
    if (k == V_STR) {
        if (maybe_pickle(s, (size_t)n) || !hot_utf8(s, (size_t)n))
            return 0;
        uint64_t kept = n < h->lim_string ? n : h->lim_string; /* storage_tag */
        c = CELL(k, kept == 7 && memcmp(s, "storage", 7) == 0 ? TAG_STORAGE : 0);
    }
    h->stack[h->sp++] = c;
    h->pos += 1 + width + (size_t)n;
    return 1;
}

/* A taken opcode weights_only refuses (of the hot ones, MEMOIZE and
 * SHORT_BINUNICODE; the others leave the flag alone). */
static inline int refused_by_weights_only(hot *h)
{
    h->weights_only_ok = 0;
    return 1;
}

/* The memo store picklers write right after a container or a string
 * (MEMOIZE under protocol 4, BINPUT or LONG_BINPUT below), taken with it: one dispatch
 * less, as if the loop had run it next (it leaves it to the loop when it
 * cannot). Returns 1. */
static inline int hot_then_put(hot *h)
{
    if (h->pos >= h->end)
        return 1;
    uint8_t op = h->b[h->pos];
    if ((op == OP_MEMOIZE && hot_put(h, 0) && refused_by_weights_only(h)) ||
        (op == OP_BINPUT && hot_put(h, 1)) || (op == OP_LONG_BINPUT && hot_put(h, 4)))
        h->nops++;
    return 1;
}

/* The hot opcodes and their step (0: leave it to dispatch). */
#define HOT_OPS(X)                                                                                 \
    X(OP_BINFLOAT, hot_push(h, 8, V_FLOAT))                                                        \
    X(OP_BININT, hot_push(h, 4, V_INT))                                                            \
    X(OP_BININT1, hot_push(h, 1, V_INT))                                                           \
    X(OP_BININT2, hot_push(h, 2, V_INT))                                                           \
    X(OP_NONE, hot_push(h, 0, V_NONE))                                                             \
    X(OP_NEWTRUE, hot_push(h, 0, V_BOOL))                                                          \
    X(OP_NEWFALSE, hot_push(h, 0, V_BOOL))                                                         \
    X(OP_EMPTY_LIST, hot_push(h, 0, V_LIST) && hot_then_put(h))                                    \
    X(OP_EMPTY_DICT, hot_push(h, 0, V_DICT) && hot_then_put(h))                                    \
    X(OP_EMPTY_TUPLE, hot_push(h, 0, V_TUPLE))                                                     \
    X(OP_BINGET, hot_get(h, 1))                                                                    \
    X(OP_LONG_BINGET, hot_get(h, 4))                                                               \
    X(OP_BINPUT, hot_put(h, 1))                                                                    \
    X(OP_LONG_BINPUT, hot_put(h, 4))                                                               \
    X(OP_MEMOIZE, hot_put(h, 0) && refused_by_weights_only(h))                                     \
    X(OP_MARK, hot_mark(h))                                                                        \
    X(OP_APPEND, hot_add_one(h, 1, V_LIST))                                                        \
    X(OP_SETITEM, hot_add_one(h, 2, V_DICT))                                                       \
    X(OP_LONG1, hot_counted(h, 1, V_INT))                                                          \
    X(OP_SHORT_BINUNICODE,                                                                         \
      hot_counted(h, 1, V_STR) && refused_by_weights_only(h) && hot_then_put(h))                   \
    X(OP_BINUNICODE, hot_counted(h, 4, V_STR) && hot_then_put(h))                                  \
    X(OP_APPENDS, hot_add_many(h, V_LIST))                                                         \
    X(OP_SETITEMS, hot_add_many(h, V_DICT))

/* weights_only accepts every hot opcode but these two (op_flags) */
#define HOT_CHECK(op)                                                                              \
    assert((op_flags[op] >> 1) || (op) == OP_MEMOIZE || (op) == OP_SHORT_BINUNICODE)

static void hot_run(hot *h)
{
    while (h->pos < h->end) {
        uint8_t op = h->b[h->pos];
        switch (op) {
#define HOT_CASE(op, step)                                                                         \
    case op:                                                                                       \
        if (!(step))                                                                               \
            return;                                                                                \
        HOT_CHECK(op);                                                                             \
        break;
            HOT_OPS(HOT_CASE)
#undef HOT_CASE
        default: return;
        }
        h->nops++;
    }
}

/* Past max-opcodes it goes on (l->nops tells): the caller gives up then. */
static void hot_loop(lite *l, size_t end)
{
    hot h = {
        l->buf,       l->stack,      l->marks, l->memo, l->memo_tags,  l->memo_cap,
        l->lim_memo,  l->lim_string, l->pos,   l->sp,   l->fence,      l->nmarks,
        l->stack_cap, l->marks_cap,  l->limit, l->nops, l->memo_count, (unsigned)l->weights_only_ok,
        end};
    h.room = h.room < l->lim_stack ? h.room : (size_t)l->lim_stack;
    h.mark_room = h.mark_room < l->lim_stack ? h.mark_room : (size_t)l->lim_stack;
    hot_run(&h);
    l->pos = h.pos;
    l->sp = h.sp;
    l->fence = h.fence;
    l->nmarks = h.nmarks;
    l->nops = h.nops;
    l->memo_count = h.memo_count;
    if (l->weights_only_ok && !h.weights_only_ok)
        lite_weights_only_fail(l, WO_OPCODE);
}

static int run(lite *l)
{
    uint64_t max_ops = ctx_limit(l->ctx, CKPT_LIMIT_OPCODES);
    window w = {l->start, l->start, 64u << 10};
    size_t event = l->start;
    while (l->pos < l->len) {
        if (l->pos >= event)
            event = housekeep(l, &w, l->pos);
        hot_loop(l, event < l->len ? event : l->len);
        if (l->nops > max_ops)
            return GIVE_UP;
        if (l->pos >= event || l->pos >= l->len)
            continue;
        size_t op_off = l->op_off = l->pos;
        l->op = l->buf[l->pos++];
        unsigned f = op_flags[l->op];
        if (!f || ++l->nops > max_ops)
            return GIVE_UP;
        if (!(f >> 1))
            lite_weights_only_fail(l, WO_OPCODE);
        int rc = dispatch(l, op_off);
        if (rc != GO_ON)
            return rc;
        if (l->in_frame && l->frame_end < event)
            event = l->frame_end; /* FRAME just started one */
    }
    return GIVE_UP; /* no STOP */
}

int pickle_lite(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t start,
                const struct pickle_hooks *hooks, lite_result *out)
{
    lite l;
    memset(&l, 0, sizeof(l));
    l.buf = buf;
    l.len = len;
    l.pos = l.start = l.op_off = start;
    l.first_persid = SIZE_MAX;
    l.ctx = ctx;
    l.hooks = hooks;
    l.weights_only_ok = 1;
    l.weights_only_reason = "";
    l.limit = len;
    l.lim_stack = ctx_limit(ctx, CKPT_LIMIT_STACK);
    l.lim_memo = ctx_limit(ctx, CKPT_LIMIT_MEMO);
    l.lim_string = ctx_limit(ctx, CKPT_LIMIT_STRING);
    l.lim_items = ctx_limit(ctx, CKPT_LIMIT_ITEMS);
    l.find_names = ctx->joblib && !ctx_lazy_holds(ctx, buf); /* formats.c: names_joblib */
    l.names_from = start;
    arena_init(&l.scratch, ctx_memory_room(ctx));
    arena_init(&l.names, ctx_memory_room(ctx));
    int rc = run(&l);
    memset(out, 0, sizeof(*out));
    out->end = l.pos;
    out->frame_end = l.in_frame && l.frame_end > l.pos ? l.frame_end : l.pos;
    out->protocol = l.max_proto;
    out->opcodes = l.nops;
    out->weights_only_ok = l.weights_only_ok;
    out->weights_only_reason = l.weights_only_reason;
    search_names(&l, l.pos < len ? l.pos + 1 : len); /* and the byte after STOP */
    out->names_joblib = l.find_names ? l.names_found : -1;
    free(l.stack);
    free(l.marks);
    big_zfree(l.memo, l.memo_cap);
    big_zfree(l.memo_tags, l.tags_cap * sizeof(cell));
    ctx_mem_give(ctx, l.memory); /* the imports it keeps are small */
    arena_release(&l.scratch);
    if (rc != DONE) {
        free(l.imports);
        arena_release(&l.names);
        return 0;
    }
    out->imports = l.imports;
    out->nimports = l.nimports;
    out->names = l.names;
    /* imports are in first-seen order: the first one's GLOBAL is the first */
    out->first_effect = l.nimports && l.imports[0].offset < l.first_persid
                            ? (size_t)l.imports[0].offset
                            : l.first_persid;
    return 1;
}

void lite_result_release(lite_result *r)
{
    free(r->imports);
    r->imports = NULL;
    r->nimports = 0;
    arena_release(&r->names);
}
