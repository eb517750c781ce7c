/* SPDX-License-Identifier: Apache-2.0 */
/* The interpreter loop and its primitives: bounded reads, stack, marks and
 * memo with _pickle.c's semantics, errors that keep what was found. */
#include "vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "opcodes.h"
#include "util.h"

#define RENDER_MAX 512

static const char *op_name(uint8_t op)
{
    const char *n = opcode_table[op].name;
    return n ? n : "";
}

void vm_trace_line(vm *v, const char *fmt, ...)
{
    if (!v->dis)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sb_printf(&v->note, "%s%s", v->note.len ? "; " : "", msg);
}

static void add_finding(vm *v, ckpt_code code, int severity, const char *global, const char *call,
                        const char *msg)
{
    vm_trace(v, "%s: %s", ckpt_code_name(code), msg);
    finding_in f = {code, severity, v->member, v->op_off, op_name(v->op), global, call, msg};
    report_add(v->ctx->rep, &f);
}

void vm_note(vm *v, ckpt_code code, int severity, const char *global, const char *call,
             const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_finding(v, code, severity, global, call, msg);
}

void vm_fail(vm *v, ckpt_code code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (v->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    add_finding(v, code, -1, NULL, NULL, msg);
    v->failed = 1;
    v->limited = code == CKPT_F_LIMIT;
    vm_weights_only_fail(v, "the stream is not a valid pickle");
}

void vm_weights_only_fail(vm *v, const char *reason)
{
    if (v->weights_only_ok) {
        v->weights_only_ok = 0;
        v->weights_only_reason = reason;
    }
}

void vm_out_of_memory(vm *v)
{
    if (v->mem.over_live)
        vm_fail(v, CKPT_F_LIMIT,
                "max-memory-process: the scans running at once reached the limit of interpreter "
                "memory (%llu bytes)",
                (unsigned long long)ctx_limit(v->ctx, CKPT_LIMIT_MEMORY_PROCESS));
    else
        vm_fail(v, CKPT_F_LIMIT, "max-memory: interpreter memory limit (%llu bytes) reached",
                (unsigned long long)v->lim_memory);
}

/* Protocol-4 frames: the C unpickler lets an opcode cross a frame's end,
 * the Python one (joblib) refuses; crossing is a deliberate desync. */
static int check_frame(vm *v, size_t n)
{
    if (!v->in_frame || v->pos + n <= v->frame_end)
        return 1;
    v->in_frame = 0;
    if (v->pos == v->frame_end)
        return 1; /* pickle.py drops an exhausted frame and reads on from the file */
    v->straddled = 1;
    if (v->py) {
        vm_fail(v, CKPT_F_FRAME_STRADDLE,
                "%s argument runs past the frame ending at offset %zu: Lib/pickle.py (joblib) "
                "raises 'pickle exhausted before end of frame'",
                op_name(v->op), v->frame_end);
        return 0;
    }
    if (!v->straddle_reported) {
        v->straddle_reported = 1;
        vm_note(v, CKPT_F_FRAME_STRADDLE, -1, NULL, NULL,
                "%s argument runs past the frame ending at offset %zu", op_name(v->op),
                v->frame_end);
    }
    return 1;
}

/* Without peek(), _pickle.c holds exactly the frame in its buffer; a read
 * the rest cannot satisfy throws the rest away and reads from the file,
 * that is from the frame's end (_Unpickler_ReadImpl, _Unpickler_Readline). */
void vm_drop_frame_rest(vm *v)
{
    vm_note(v, CKPT_F_FRAME_STRADDLE, -1, NULL, NULL,
            "read without peek() (io.BytesIO, as torch.load reads zip members), %s drops the "
            "%zu bytes left in the frame and reads its argument from offset %zu",
            op_name(v->op), v->frame_end - v->pos, v->frame_end);
    /* the file stands past the frame, or past array data read from there */
    v->pos = v->file_pos > v->frame_end ? v->file_pos : v->frame_end;
    v->file_pos = 0;
    v->in_frame = 0;
    if (v->len < v->total)
        vm_pull(v, v->pos, v->pos); /* a jump in a lazy image: nothing read yet */
}

/* 1 when part of the frame is left unread (always 0 when not in_frame). */
static int frame_rest(const vm *v)
{
    return v->in_frame && v->pos < v->frame_end;
}

int vm_pull(vm *v, size_t from, size_t to)
{
    if (to > v->total)
        to = v->total;
    v->len = ctx_ready(v->ctx, v->buf, v->total, from, to);
    v->total = ctx_reach(v->ctx, v->buf, v->total, 0); /* shorter once the end is known */
    return v->len >= to;
}

void vm_refused(vm *v, size_t at)
{
    vm_fail(v, CKPT_F_LIMIT,
            "max-decompressed: the walk needs more than the %llu decompressed bytes this stream "
            "may hold at once (offset %zu); the rest was not walked",
            (unsigned long long)ctx_limit(v->ctx, CKPT_LIMIT_DECOMPRESSED), at);
}

static const uint8_t *take(vm *v, size_t n, int into)
{
    if (v->no_peek && !into && frame_rest(v) && n > v->frame_end - v->pos)
        vm_drop_frame_rest(v);
    if (v->len < v->total && (v->pos > v->len || n > v->len - v->pos) &&
        !vm_pull(v, v->pos, n > v->total - v->pos ? v->total : v->pos + n) && v->len < v->total) {
        vm_refused(v, v->pos);
        return NULL;
    }
    if (n > v->total - v->pos) {
        vm_fail(v, CKPT_F_TRUNCATED, "%s needs %zu bytes, %zu remain", op_name(v->op), n,
                v->total - v->pos);
        return NULL;
    }
    if (!check_frame(v, n))
        return NULL;
    const uint8_t *p = v->buf + v->pos;
    v->pos += n;
    return p;
}

const uint8_t *vm_take_checked(vm *v, size_t n)
{
    return take(v, n, 0);
}

const uint8_t *vm_take_into(vm *v, size_t n)
{
    return take(v, n, 1);
}

const char *vm_line(vm *v, size_t *len)
{
    if (v->no_peek && frame_rest(v) && !memchr(v->buf + v->pos, '\n', v->frame_end - v->pos))
        vm_drop_frame_rest(v);
    const uint8_t *start = v->buf + v->pos;
    const uint8_t *nl = memchr(start, '\n', v->len - v->pos);
    while (!nl && v->len < v->total) { /* a lazy image: pull on, doubling */
        size_t seen = v->len - v->pos;
        vm_pull(v, v->pos, v->len + (seen > 4096 ? seen : 4096));
        if (v->len - v->pos == seen) {
            if (v->len < v->total) {
                vm_refused(v, v->pos);
                return NULL;
            }
            break;
        }
        nl = memchr(start + seen, '\n', v->len - v->pos - seen);
    }
    if (!nl && v->py && !frame_rest(v)) {
        /* Lib/pickle.py: readline() at EOF gives what is left, and the
         * opcode cuts its last byte as if it were the newline */
        vm_note(v, CKPT_F_TRUNCATED, -1, NULL, NULL,
                "%s: no newline before the end of the data; Lib/pickle.py (joblib) reads the "
                "line without its last byte",
                op_name(v->op));
        *len = v->len > v->pos ? v->len - v->pos - 1 : 0;
        v->in_frame = 0;
        v->pos = v->len;
        return (const char *)start;
    }
    if (!nl) {
        vm_fail(v, CKPT_F_TRUNCATED, "%s: no newline before the end of the data", op_name(v->op));
        return NULL;
    }
    *len = (size_t)(nl - start);
    if (!check_frame(v, *len + 1))
        return NULL;
    v->pos += *len + 1;
    return (const char *)start;
}

/* Grows a heap array of elem-sized items to hold `need`, charging memory. */
static int grow_array(vm *v, void **p, size_t *cap, size_t need, size_t elem, int zeroed)
{
    if (need <= *cap)
        return 1;
    /* double, but never past what is needed when doubling would break the
     * memory limit: a large memo index CPython accepts must fit */
    size_t ncap = *cap * 2 > need ? *cap * 2 : need < 64 ? 64 : need;
    uint64_t bytes, total;
    if (mul_overflows(ncap, elem, &bytes) || add_overflows(bytes, v->mem.used, &total) ||
        total > v->lim_memory) {
        ncap = need;
        if (mul_overflows(ncap, elem, &bytes) || add_overflows(bytes, v->mem.used, &total) ||
            total > v->lim_memory) {
            vm_out_of_memory(v);
            return 0;
        }
    }
    uint64_t grown = bytes - (uint64_t)*cap * elem;
    if (!ctx_mem_take(v->ctx, grown)) {
        v->mem.over_live = 1;
        vm_out_of_memory(v);
        return 0;
    }
    void *q = zeroed ? big_zrealloc(*p, *cap * elem, (size_t)bytes)
                     : big_realloc(*p, *cap * elem, (size_t)bytes);
    if (!q) {
        ctx_mem_give(v->ctx, grown);
        vm_out_of_memory(v);
        return 0;
    }
    *p = q;
    *cap = ncap;
    return 1;
}

int vm_push_checked(vm *v, value x)
{
    if (v->sp >= v->lim_stack) {
        vm_fail(v, CKPT_F_LIMIT, "max-stack: stack deeper than %llu",
                (unsigned long long)v->lim_stack);
        return 0;
    }
    if (!grow_array(v, (void **)&v->stack, &v->stack_cap, v->sp + 1, sizeof(value), 0))
        return 0;
    v->stack[v->sp++] = x;
    return 1;
}

static void underflow(vm *v)
{
    vm_fail(v, CKPT_F_STACK_ERROR, "%s: unpickling stack underflow", op_name(v->op));
}

int vm_pop_checked(vm *v, value *out)
{
    if (v->sp <= v->fence) {
        underflow(v);
        return 0;
    }
    *out = v->stack[--v->sp];
    return 1;
}

value *vm_top_checked(vm *v)
{
    if (v->sp <= v->fence) {
        underflow(v);
        return NULL;
    }
    return &v->stack[v->sp - 1];
}

int vm_push_mark(vm *v)
{
    if (v->nmarks >= v->lim_stack) {
        vm_fail(v, CKPT_F_LIMIT, "max-stack: more than %llu marks",
                (unsigned long long)v->lim_stack);
        return 0;
    }
    if (!grow_array(v, (void **)&v->marks, &v->marks_cap, v->nmarks + 1, sizeof(size_t), 0))
        return 0;
    v->marks[v->nmarks++] = v->sp;
    v->fence = v->sp;
    return 1;
}

int vm_pop_mark(vm *v, size_t *base)
{
    if (v->nmarks == 0) {
        vm_fail(v, CKPT_F_STACK_ERROR, "%s: could not find MARK", op_name(v->op));
        return 0;
    }
    *base = v->marks[--v->nmarks];
    v->fence = v->nmarks ? v->marks[v->nmarks - 1] : 0;
    return 1;
}

#define SPARSE_MAX 65536 /* memo keys Lib/pickle.py's dict holds off the array */

/* Lib/pickle.py: a key beyond what the array could reasonably hold. */
static int sparse_key(const vm *v, uint64_t index)
{
    return v->py && index >= v->memo_cap && index / 2 > v->memo_count + 1024;
}

static memo_entry *sparse_find(vm *v, uint64_t index)
{
    for (size_t i = 0; i < v->nsparse; i++)
        if (v->memo_sparse[i].key == index)
            return &v->memo_sparse[i];
    return NULL;
}

static int sparse_put(vm *v, uint64_t index, value x)
{
    memo_entry *e = sparse_find(v, index);
    if (!e) {
        if (v->nsparse >= SPARSE_MAX) {
            vm_fail(v, CKPT_F_LIMIT, "max-memo: more than %d sparse memo keys", SPARSE_MAX);
            return 0;
        }
        if (!grow_array(v, (void **)&v->memo_sparse, &v->sparse_cap, v->nsparse + 1,
                        sizeof(memo_entry), 0))
            return 0;
        e = &v->memo_sparse[v->nsparse++];
        e->key = index;
        v->memo_count++;
    }
    e->val = x;
    vm_trace(v, "memo[%llu]", (unsigned long long)index);
    return 1;
}

/* A dense slot now holds the key: its sparse entry (older) goes. */
static void sparse_drop(vm *v, uint64_t index)
{
    memo_entry *e = v->nsparse ? sparse_find(v, index) : NULL;
    if (e) {
        *e = v->memo_sparse[--v->nsparse];
        v->memo_count--;
    }
}

int vm_memo_put_checked(vm *v, uint64_t index, value x)
{
    if (sparse_key(v, index))
        return sparse_put(v, index, x);
    if (index >= v->lim_memo && !v->py) {
        vm_fail(v, CKPT_F_LIMIT, "max-memo: memo index %llu is above the limit %llu",
                (unsigned long long)index, (unsigned long long)v->lim_memo);
        return 0;
    }
    /* new slots read as zeros (V_EMPTY) without being touched */
    if (index >= v->memo_cap &&
        !grow_array(v, (void **)&v->memo, &v->memo_cap, (size_t)index + 1, sizeof(value), 1))
        return 0;
    if (v->memo[index].kind == V_EMPTY) {
        v->memo_count++;
        sparse_drop(v, index);
    }
    v->memo[index] = x;
    vm_trace(v, "memo[%llu]", (unsigned long long)index);
    return 1;
}

int vm_memo_get_checked(vm *v, uint64_t index, value *out)
{
    memo_entry *e = v->nsparse ? sparse_find(v, index) : NULL;
    if (e && (index >= v->memo_cap || v->memo[index].kind == V_EMPTY)) {
        *out = e->val;
        vm_trace(v, "memo[%llu]", (unsigned long long)index);
        return 1;
    }
    if (index >= v->memo_cap || v->memo[index].kind == V_EMPTY) {
        vm_fail(v, CKPT_F_MEMO_ERROR, "%s: memo slot %llu is empty", op_name(v->op),
                (unsigned long long)index);
        return 0;
    }
    *out = v->memo[index];
    vm_trace(v, "memo[%llu]", (unsigned long long)index);
    return 1;
}

value vm_collect(vm *v, vkind kind, size_t base)
{
    size_t n = v->sp - base;
    value c = v_new_seq(&v->mem, kind, n < v->lim_items ? n : (size_t)v->lim_items);
    if (c.kind == V_EMPTY) {
        vm_out_of_memory(v);
        return c;
    }
    if (n && !seq_push(&v->mem, &c.u.n->u.s, v->stack + base, n, v->lim_items)) {
        vm_out_of_memory(v);
        return v_make(V_EMPTY);
    }
    v->sp = base;
    return c;
}
