/* SPDX-License-Identifier: Apache-2.0 */
/* Data opcodes: constants, strings, containers, stack and memo handling,
 * PROTO and FRAME. Semantics follow CPython's Modules/_pickle.c. */
#include <math.h>
#include <string.h>

#include "lazy.h"
#include "opcodes.h"
#include "pytext.h"
#include "util.h"
#include "vm.h"
#include "vm_grade.h"

static void push_int(vm *v, vkind kind, int64_t x)
{
    value n = v_make(kind);
    n.u.i = x;
    vm_push(v, n);
}

static int64_t take_uint(vm *v, size_t n, int *ok)
{
    const uint8_t *p = vm_take(v, n);
    *ok = p != NULL;
    if (!p)
        return 0;
    return n == 1 ? p[0] : n == 2 ? load_le16(p) : (int64_t)load_le32(p);
}

static void op_binint(vm *v, size_t n)
{
    int ok;
    int64_t x = take_uint(v, n, &ok);
    if (ok)
        push_int(v, V_INT, n == 4 ? (int64_t)(int32_t)(uint32_t)x : x);
}

static void op_binfloat(vm *v)
{
    const uint8_t *p = vm_take(v, 8);
    if (!p)
        return;
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = (bits << 8) | p[i]; /* big-endian */
    value f = v_make(V_FLOAT);
    memcpy(&f.u.f, &bits, sizeof(double));
    vm_push(v, f);
}

typedef const char *(*line_parser)(const char *, size_t, value *);

static void op_text_number(vm *v, line_parser parse)
{
    size_t len;
    const char *line = vm_line(v, &len);
    if (!line)
        return;
    value x;
    const char *err = parse(line, len, &x);
    if (err)
        vm_fail(v, CKPT_F_MALFORMED, "%s", err);
    else
        vm_push(v, x);
}

static void op_float(vm *v)
{
    size_t len;
    const char *line = vm_line(v, &len);
    if (!line)
        return;
    value f = v_make(V_FLOAT);
    /* _pickle.c: PyOS_string_to_double; Lib/pickle.py: float() */
    const char *err =
        v->py ? py_parse_float_builtin(line, len, &f.u.f) : py_parse_float_line(line, len, &f.u.f);
    if (err)
        vm_fail(v, CKPT_F_MALFORMED, "%s", err);
    else
        vm_push(v, f);
}

/* In a lazy image (lazy.h), the body of a bytes constant longer than
 * LAZY_BIG_CONSTANT is data for pickle.load, not something to hold: its
 * first LAZY_BIG_KEEP bytes are materialized, the rest is decoded and thrown
 * away. */

/* A big bytes body in a lazy image: its first bytes (*kept of them), or
 * NULL after an error. The walk goes on after the whole body. */
static const uint8_t *take_big(vm *v, size_t n, size_t *kept)
{
    size_t keep = v->lim_string > LAZY_BIG_KEEP ? (size_t)v->lim_string : LAZY_BIG_KEEP;
    *kept = keep < n ? keep : n;
    const uint8_t *p = vm_take_into(v, *kept); /* frames, truncation, the pull */
    if (!p)
        return NULL;
    v->pos -= *kept;
    /* decodes past the body: is it all there? */
    v->total = ctx_reach(v->ctx, v->buf, v->total, n > v->total - v->pos ? v->total : v->pos + n);
    if (n > v->total - v->pos) {
        vm_fail(v, CKPT_F_TRUNCATED, "%s needs %zu bytes, %zu remain", opcode_table[v->op].name, n,
                v->total - v->pos);
        return NULL;
    }
    v->pos += n;
    vm_pull(v, v->pos, v->pos); /* len: past the skipped bytes, nothing read yet */
    return p;
}

/* What a big constant of a lazy image whose first `kept` bytes are known
 * could be: a pickle (it would be scanned as one) or a checkpoint cannot be
 * told or scanned without holding it, so that is a limit finding. */
static void check_big_constant(vm *v, const uint8_t *p, size_t kept, size_t n, int text)
{
    int ran_out = 0;
    size_t stop = opcode_table[p[0]].name ? pickle_skim_stop_ex(p, kept, 0, &ran_out) : 0;
    int may_pickle = stop == SIZE_MAX && ran_out; /* no STOP or bad opcode in the prefix */
    int may_checkpoint = pickle_constant_checkpoint(p, kept, text);
    if (may_pickle || may_checkpoint)
        vm_note(v, CKPT_F_LIMIT, -1, NULL, NULL,
                "max-decompressed: a %zu-byte constant that may be a %s is too big to hold in "
                "memory; it was not scanned",
                n, may_checkpoint ? "torch checkpoint" : "pickle");
}

/* Length-prefixed argument: returns the bytes and sets *n. */
static const uint8_t *take_counted(vm *v, size_t width, uint64_t *n, size_t *kept)
{
    const uint8_t *p = vm_take(v, width);
    if (!p)
        return NULL;
    *n = width == 1 ? p[0] : width == 4 ? load_le32(p) : load_le64(p);
    if (*n > (uint64_t)PTRDIFF_MAX) {
        vm_fail(v, CKPT_F_MALFORMED, "length %llu exceeds the system's maximum size",
                (unsigned long long)*n);
        return NULL;
    }
    /* bytes and bytearray bodies are read with readinto(), strings with read() */
    int into = v->op == OP_BINBYTES || v->op == OP_SHORT_BINBYTES || v->op == OP_BINBYTES8 ||
               v->op == OP_BYTEARRAY8;
    *kept = (size_t)*n;
    if (into && *n > LAZY_BIG_CONSTANT && v->len < v->total)
        return take_big(v, (size_t)*n, kept);
    return into ? vm_take_into(v, (size_t)*n) : vm_take(v, (size_t)*n);
}

/* A string value that points into the input (zero copy), kept bounded. */
static value str_value(vm *v, vkind kind, const uint8_t *p, uint64_t n)
{
    value s = v_make(kind);
    s.u.s = (const char *)p;
    s.len = (uint32_t)(n > v->lim_string ? v->lim_string : n);
    if (n > v->lim_string)
        s.flags |= VF_TRUNCATED;
    return s;
}

static void op_counted(vm *v, size_t width, vkind kind)
{
    uint64_t n;
    size_t kept;
    const uint8_t *p = take_counted(v, width, &n, &kept);
    if (!p)
        return;
    int decoded = kind == V_STR && v->op != OP_BINSTRING && v->op != OP_SHORT_BINSTRING;
    if (decoded && !py_utf8_valid(p, (size_t)n, 1)) {
        vm_fail(v, CKPT_F_MALFORMED, "'utf-8' codec can't decode the string argument");
        return;
    }
    if (v->op == OP_BINSTRING && n >= (UINT64_C(1) << 31))
        vm_note(v, CKPT_F_LOADER_DISAGREEMENT, -1, NULL, NULL,
                "BINSTRING length %llu: the C unpickler reads it, pickle.py rejects it",
                (unsigned long long)n);
    value s = str_value(v, kind, p, n);
    /* a decoded string was checked whole; a kept prefix may end mid-character */
    if (kind == V_STR && (!decoded || s.len < n) && !py_utf8_valid(p, s.len, 1))
        s.flags |= VF_NOT_UTF8;
    if (kept < n) {
        check_big_constant(v, p, kept, (size_t)n, decoded);
    } else {
        vm_check_embedded(v, p, (size_t)n);
        if ((kind == V_BYTES || kind == V_STR) && vm_check_checkpoint(v, p, (size_t)n, decoded))
            s.flags |= VF_CHECKPOINT;
    }
    vm_push(v, s);
}

static void op_long_bytes(vm *v, size_t width)
{
    const uint8_t *p = vm_take(v, width);
    if (!p)
        return;
    int64_t n = width == 1 ? p[0] : (int32_t)load_le32(p);
    if (n < 0) {
        vm_fail(v, CKPT_F_MALFORMED, "LONG pickle has negative byte count");
        return;
    }
    const uint8_t *digits = vm_take(v, (size_t)n);
    if (!digits)
        return;
    value x;
    py_long_from_bytes(digits, (size_t)n, &x);
    vm_push(v, x);
}

static void op_string_line(vm *v)
{
    size_t len;
    const char *line = vm_line(v, &len);
    if (!line)
        return;
    value s;
    const char *err = v->op == OP_STRING
                          ? py_decode_string_line(&v->mem, line, len, v->lim_string, &s)
                          : py_decode_raw_unicode_line(&v->mem, line, len, v->lim_string, &s);
    if (err) {
        vm_fail(v, CKPT_F_MALFORMED, "%s", err);
        return;
    }
    if (!(s.flags & VF_TRUNCATED)) {
        vm_check_embedded(v, (const uint8_t *)s.u.s, s.len);
        if (vm_check_checkpoint(v, (const uint8_t *)s.u.s, s.len, v->op != OP_STRING))
            s.flags |= VF_CHECKPOINT;
    }
    vm_push(v, s);
}

/* ---- containers ---- */

static void push_collected(vm *v, vkind kind, size_t base)
{
    value c = vm_collect(v, kind, base);
    if (c.kind != V_EMPTY)
        vm_push(v, c);
}

static void op_from_mark(vm *v, vkind kind)
{
    size_t base;
    if (!vm_pop_mark(v, &base))
        return;
    if (kind == V_DICT && (v->sp - base) % 2) {
        vm_fail(v, CKPT_F_MALFORMED, "odd number of items for DICT");
        return;
    }
    push_collected(v, kind, base);
}

static void op_small_tuple(vm *v, size_t n)
{
    if (v->sp < v->fence + n) {
        vm_fail(v, CKPT_F_STACK_ERROR, "TUPLE%zu: unpickling stack underflow", n);
        return;
    }
    push_collected(v, V_TUPLE, v->sp - n);
}

static void op_empty(vm *v, vkind kind)
{
    value c = v_new_node(&v->mem, kind);
    if (c.kind == V_EMPTY)
        vm_out_of_memory(v);
    else
        vm_push(v, c);
}

/* ---- stack ---- */

static void op_pop(vm *v)
{
    /* POP with nothing above the innermost mark pops the mark itself */
    if (v->nmarks && v->marks[v->nmarks - 1] == v->sp) {
        size_t base;
        vm_pop_mark(v, &base);
        return;
    }
    value x;
    vm_pop(v, &x);
}

static void op_pop_mark(vm *v)
{
    size_t base;
    if (vm_pop_mark(v, &base))
        v->sp = base;
}

static void op_dup(vm *v)
{
    value *top = vm_top(v);
    if (top) {
        vm_grade_ref(top);
        vm_push(v, *top);
    }
}

/* ---- memo ---- */

static void op_get_index(vm *v, uint64_t index)
{
    value x;
    if (vm_memo_get(v, index, &x)) {
        vm_grade_ref(&x);
        vm_push(v, x);
    }
}

static void op_put_index(vm *v, uint64_t index)
{
    value *top = vm_top(v);
    if (top)
        vm_memo_put(v, index, *top);
}

static void op_memo_line(vm *v, int is_get)
{
    size_t len;
    const char *line = vm_line(v, &len);
    if (!line)
        return;
    uint64_t index;
    const char *err = py_parse_index_line(line, len, &index);
    if (err) {
        vm_fail(v, CKPT_F_MEMO_ERROR, "%s", err);
        return;
    }
    if (is_get)
        op_get_index(v, index);
    else
        op_put_index(v, index);
}

static void op_memo_bin(vm *v, size_t width, int is_get)
{
    int ok;
    int64_t index = take_uint(v, width, &ok);
    if (!ok)
        return;
    if (is_get)
        op_get_index(v, (uint64_t)index);
    else
        op_put_index(v, (uint64_t)index);
}

/* ---- protocol and framing ---- */

static void op_proto(vm *v, size_t pickle_start)
{
    const uint8_t *p = vm_take(v, 1);
    if (!p)
        return;
    if (p[0] > 5) {
        vm_fail(v, CKPT_F_MALFORMED, "unsupported pickle protocol: %d", p[0]);
        return;
    }
    if (v->op_off != pickle_start)
        vm_note(v, CKPT_F_PROTOCOL_CHANGE, -1, NULL, NULL,
                "PROTO %d at offset %zu changes name resolution mid-stream", p[0], v->op_off);
    v->proto = p[0];
    vm_trace(v, "protocol %d", p[0]);
    if (p[0] > v->max_proto)
        v->max_proto = p[0];
}

static void op_frame(vm *v)
{
    if (v->file_pos) {
        vm_fail(v, CKPT_F_MALFORMED,
                "a new frame begins inside a frame whose array data was read from after it: "
                "joblib's unpickler raises here");
        return;
    }
    const uint8_t *p = vm_take(v, 8);
    if (!p)
        return;
    uint64_t n = load_le64(p);
    size_t outer_end = v->frame_end;
    int nested = v->in_frame && v->pos < v->frame_end;
    if (nested && v->py) {
        v->straddled = 1;
        vm_fail(v, CKPT_F_FRAME_STRADDLE,
                "a new frame begins before the current one ends at offset %zu: Lib/pickle.py "
                "(joblib) raises",
                v->frame_end);
        return;
    }
    if (nested) {
        v->straddled = 1;
        vm_note(v, CKPT_F_FRAME_STRADDLE, -1, NULL, NULL,
                "a new frame begins before the current one ends at offset %zu", v->frame_end);
    }
    /* Without peek(), a frame that fits in what is left of the current one
     * is read from that buffer, whose end stays the one that counts; a
     * larger one drops the rest and is read from the file. */
    int fits = nested && n <= outer_end - v->pos;
    if (v->no_peek && nested && !fits)
        vm_drop_frame_rest(v);
    /* a lazy image holds the frame (writers keep frames near 64 KiB) */
    if (v->len < v->total && !vm_pull(v, v->pos, n > v->total - v->pos ? v->total : v->pos + n) &&
        v->len < v->total) {
        vm_refused(v, v->pos);
        return;
    }
    if (n > v->total - v->pos && v->py) {
        vm_note(v, CKPT_F_TRUNCATED, -1, NULL, NULL,
                "FRAME of %llu bytes, only %zu remain: Lib/pickle.py (joblib) reads what is there",
                (unsigned long long)n, v->total - v->pos);
        n = v->total - v->pos;
    } else if (n > v->total - v->pos) {
        vm_fail(v, CKPT_F_TRUNCATED, "FRAME of %llu bytes, only %zu remain", (unsigned long long)n,
                v->total - v->pos);
        return;
    }
    v->in_frame = 1;
    v->frame_end = v->no_peek && fits ? outer_end : v->pos + (size_t)n;
    vm_trace(v, "frame of %llu bytes, up to offset %zu", (unsigned long long)n, v->frame_end);
}

static void op_buffer(vm *v)
{
    if (v->op == OP_NEXT_BUFFER) {
        vm_fail(v, CKPT_F_MALFORMED, "NEXT_BUFFER: out-of-band data, but loaders pass no buffers");
        return;
    }
    vm_top(v); /* READONLY_BUFFER only needs an object */
}

/* Pushes the value of a bool/None opcode. */
static void op_singleton(vm *v, vkind kind, int64_t x)
{
    push_int(v, kind, x);
}

void vm_op_data(vm *v)
{
    switch (v->op) {
    case OP_MARK: vm_push_mark(v); break;
    case OP_POP: op_pop(v); break;
    case OP_POP_MARK: op_pop_mark(v); break;
    case OP_DUP: op_dup(v); break;
    case OP_NONE: op_singleton(v, V_NONE, 0); break;
    case OP_NEWTRUE: op_singleton(v, V_BOOL, 1); break;
    case OP_NEWFALSE: op_singleton(v, V_BOOL, 0); break;
    case OP_INT: op_text_number(v, py_parse_int_line); break;
    case OP_LONG: op_text_number(v, py_parse_long_line); break;
    case OP_FLOAT: op_float(v); break;
    case OP_BININT: op_binint(v, 4); break;
    case OP_BININT1: op_binint(v, 1); break;
    case OP_BININT2: op_binint(v, 2); break;
    case OP_LONG1: op_long_bytes(v, 1); break;
    case OP_LONG4: op_long_bytes(v, 4); break;
    case OP_BINFLOAT: op_binfloat(v); break;
    case OP_STRING:
    case OP_UNICODE: op_string_line(v); break;
    case OP_BINSTRING: op_counted(v, 4, V_STR); break;
    case OP_SHORT_BINSTRING: op_counted(v, 1, V_STR); break;
    case OP_BINUNICODE: op_counted(v, 4, V_STR); break;
    case OP_SHORT_BINUNICODE: op_counted(v, 1, V_STR); break;
    case OP_BINUNICODE8: op_counted(v, 8, V_STR); break;
    case OP_BINBYTES: op_counted(v, 4, V_BYTES); break;
    case OP_SHORT_BINBYTES: op_counted(v, 1, V_BYTES); break;
    case OP_BINBYTES8: op_counted(v, 8, V_BYTES); break;
    case OP_BYTEARRAY8: op_counted(v, 8, V_BYTEARRAY); break;
    case OP_TUPLE: op_from_mark(v, V_TUPLE); break;
    case OP_LIST: op_from_mark(v, V_LIST); break;
    case OP_DICT: op_from_mark(v, V_DICT); break;
    case OP_FROZENSET: op_from_mark(v, V_FROZENSET); break;
    case OP_TUPLE1: op_small_tuple(v, 1); break;
    case OP_TUPLE2: op_small_tuple(v, 2); break;
    case OP_TUPLE3: op_small_tuple(v, 3); break;
    case OP_EMPTY_TUPLE: op_empty(v, V_TUPLE); break;
    case OP_EMPTY_LIST: op_empty(v, V_LIST); break;
    case OP_EMPTY_DICT: op_empty(v, V_DICT); break;
    case OP_EMPTY_SET: op_empty(v, V_SET); break;
    case OP_GET: op_memo_line(v, 1); break;
    case OP_PUT: op_memo_line(v, 0); break;
    case OP_BINGET: op_memo_bin(v, 1, 1); break;
    case OP_LONG_BINGET: op_memo_bin(v, 4, 1); break;
    case OP_BINPUT: op_memo_bin(v, 1, 0); break;
    case OP_LONG_BINPUT: op_memo_bin(v, 4, 0); break;
    case OP_MEMOIZE: op_put_index(v, v->memo_count); break;
    case OP_FRAME: op_frame(v); break;
    case OP_NEXT_BUFFER:
    case OP_READONLY_BUFFER: op_buffer(v); break;
    default: vm_fail(v, CKPT_F_BAD_OPCODE, "opcode 0x%02x has no handler", v->op); break;
    }
}

/* PROTO needs the pickle's start offset; the loop calls this directly. */
void vm_op_proto(vm *v, size_t pickle_start)
{
    op_proto(v, pickle_start);
}
