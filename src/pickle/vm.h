/* SPDX-License-Identifier: Apache-2.0 */
/* The restricted pickle interpreter's state, shared by vm*.c. Nothing here
 * imports or calls anything: values are symbolic (value.h). */
#ifndef CKPT_VM_H
#define CKPT_VM_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "pickle.h"
#include "scan.h"
#include "strbuf.h"
#include "value.h"

/* A memo key far beyond the dense array (Lib/pickle.py's memo is a dict). */
typedef struct memo_entry {
    uint64_t key;
    value val;
} memo_entry;

typedef struct vm {
    scan_ctx *ctx;
    const char *member;
    const uint8_t *buf;
    size_t len;    /* readable bytes: `total`, or in a lazy image the end of
                      the run materialized from pos (vm_pull) */
    size_t total;  /* the stream's length */
    size_t pos;    /* next byte to read */
    size_t op_off; /* offset of the current opcode */
    uint8_t op;
    arena mem;

    value *stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    size_t fence; /* stack index of the innermost mark (0 without marks) */

    value *memo;
    size_t memo_cap;
    uint64_t memo_count; /* occupied slots: MEMOIZE's index */

    int proto;
    int max_proto;
    uint64_t nops;
    int in_frame;
    size_t frame_end;
    /* Where the file stands while a frame is read: a reader hook (joblib)
     * reads its raw data from the file, i.e. after the frame, and the walk
     * goes on there once the frame is used up. 0: at the frame's end. */
    size_t file_pos;
    int straddle_reported;
    int straddled; /* an argument or a frame ran past a frame's end */
    /* Read as the C unpickler reads a file object without peek() (io.BytesIO,
     * which torch.load uses for zip members): an argument that runs past the
     * frame's end drops the rest of the frame and is read from its end. */
    int no_peek;
    /* Read as Lib/pickle.py's unpickler (joblib) reads: frames enforced (an
     * argument cannot cross a frame's end), a FRAME longer than the data
     * left reads what is there, NEWOBJ takes any iterable, and the memo is
     * a dict (sparse keys go to memo_sparse, never to a giant array). */
    int py;
    struct memo_entry *memo_sparse;
    size_t nsparse, sparse_cap;

    size_t prefetched;    /* the input is being read ahead up to here */
    size_t prefetch_step; /* grows from 64 KiB: a stream that fails at once
                             (a zip read as a pickle) costs little */
    int failed;           /* an error stopped the walk */
    int limited;          /* ... and it was a limit */
    int stopped;          /* STOP reached */

    int weights_only_ok;
    const char *weights_only_reason; /* static text */

    const pickle_hooks *hooks; /* may be NULL */
    node *pending;             /* call-throughs whose finding waits (vm_grade.c) */

    dis_sink *dis; /* set when this pickle is being listed */
    strbuf note;   /* the current opcode's annotations (when listing) */

    uint64_t lim_ops, lim_stack, lim_memo, lim_string, lim_items, lim_memory;
    strbuf scratch; /* rendering */
} vm;

/* ---- errors and findings (vm.c) ---- */
/* Records an error finding at the current opcode and stops the walk. */
void vm_fail(vm *v, ckpt_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Records a finding at the current opcode (walk goes on). */
void vm_note(vm *v, ckpt_code code, int severity, const char *global, const char *call,
             const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void vm_weights_only_fail(vm *v, const char *reason);
void vm_out_of_memory(vm *v);
/* Bytes of the stack, mark and memo arrays (charged to max-memory-process). */
static inline uint64_t vm_array_bytes(const vm *v)
{
    return (uint64_t)(v->stack_cap + v->memo_cap) * sizeof(value) +
           (uint64_t)v->marks_cap * sizeof(size_t);
}

/* Adds an annotation to the current opcode's listing line (no-op unless
 * listing: a macro, so the arguments cost nothing then). */
void vm_trace_line(vm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define vm_trace(v, ...)                                                                           \
    do {                                                                                           \
        if ((v)->dis)                                                                              \
            vm_trace_line((v), __VA_ARGS__);                                                       \
    } while (0)
static inline int vm_tracing(const vm *v)
{
    return v->dis != NULL;
}

/* ---- reading arguments (vm.c) ---- */
/* Pointer to the next n bytes (advancing), or NULL after a truncation error. */
const uint8_t *vm_take_checked(vm *v, size_t n);
static inline const uint8_t *vm_take(vm *v, size_t n)
{
    if (n <= v->len - v->pos && (!v->in_frame || v->pos + n <= v->frame_end)) {
        const uint8_t *p = v->buf + v->pos;
        v->pos += n;
        return p;
    }
    return vm_take_checked(v, n); /* errors, frame ends, straddles, no_peek */
}
/* The same for the bodies of BINBYTES, SHORT_BINBYTES, BINBYTES8 and
 * BYTEARRAY8, which _pickle.c reads with readinto(): they run on past a
 * frame's end even without peek(). */
const uint8_t *vm_take_into(vm *v, size_t n);
/* Lazy images (lazy.h): materializes buf[from, to) and sets len to the end
 * of the readable run from `from`; 1 when it reaches `to`. */
int vm_pull(vm *v, size_t from, size_t to);
/* Fails the walk because a lazy image's budget refused bytes it needs. */
void vm_refused(vm *v, size_t at);
/* A line up to '\n' (excluded); NULL after a truncation error. */
const char *vm_line(vm *v, size_t *len);
/* no_peek: throws away the rest of the current frame (reading goes on at
 * its end), with a finding. */
void vm_drop_frame_rest(vm *v);

/* ---- stack, marks, memo (vm.c) ---- */
int vm_push_checked(vm *v, value x);
static inline int vm_push(vm *v, value x)
{
    if (v->sp < v->stack_cap && v->sp < v->lim_stack) {
        v->stack[v->sp++] = x;
        return 1;
    }
    return vm_push_checked(v, x); /* grows the stack or fails at the limit */
}
/* Pops into *out; 0 (after an error) on underflow below the mark. */
int vm_pop_checked(vm *v, value *out);
static inline int vm_pop(vm *v, value *out)
{
    if (v->sp > v->fence) {
        *out = v->stack[--v->sp];
        return 1;
    }
    return vm_pop_checked(v, out); /* underflow */
}
/* Pointer to the top value, or NULL (after an error) on underflow. */
value *vm_top_checked(vm *v);
static inline value *vm_top(vm *v)
{
    return v->sp > v->fence ? &v->stack[v->sp - 1] : vm_top_checked(v);
}
/* Pops the innermost mark; *base gets the stack index it marked. */
int vm_pop_mark(vm *v, size_t *base);
int vm_push_mark(vm *v);
int vm_memo_put_checked(vm *v, uint64_t index, value x);
static inline int vm_memo_put(vm *v, uint64_t index, value x)
{
    if (index < v->memo_cap && index < v->lim_memo && !v->dis && !v->nsparse) {
        v->memo_count += v->memo[index].kind == V_EMPTY;
        v->memo[index] = x;
        return 1;
    }
    return vm_memo_put_checked(v, index, x); /* limit, growth, listing */
}
int vm_memo_get_checked(vm *v, uint64_t index, value *out);
static inline int vm_memo_get(vm *v, uint64_t index, value *out)
{
    if (index < v->memo_cap && v->memo[index].kind != V_EMPTY && !v->dis) {
        *out = v->memo[index];
        return 1;
    }
    return vm_memo_get_checked(v, index, out); /* empty slot, listing */
}

/* ---- opcode groups ---- */
void vm_op_data(vm *v);                  /* vm_data.c: constants, strings, containers, memo */
void vm_op_object(vm *v);                /* vm_call.c: globals, calls, BUILD, persistent ids */
extern const uint8_t vm_object_ops[256]; /* vm_call.c: 1 for vm_op_object's opcodes */
static inline int vm_is_object_op(uint8_t op)
{
    return vm_object_ops[op];
}
void vm_op_proto(vm *v, size_t pickle_start);

/* Scans a bytes/str constant that holds a whole pickle (embedded-pickle). */
void vm_check_embedded(vm *v, const uint8_t *p, size_t n);

/* vm_nested.c: scans a constant that holds a torch checkpoint (the bytes of
 * torch.storage._load_from_bytes; `text`: a str whose latin-1 encoding
 * they are) as torch.load reads it; 1 when it is one. */
int vm_check_checkpoint(vm *v, const uint8_t *p, size_t n, int text);

/* Builds a container value from stack[base..sp) and truncates the stack. */
value vm_collect(vm *v, vkind kind, size_t base);

#endif
