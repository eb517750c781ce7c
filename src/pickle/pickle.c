/* SPDX-License-Identifier: Apache-2.0 */
/* Drives the interpreter over one pickle or a run of pickles, and records
 * each pickle in the report. */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "inventory.h"
#include "opcodes.h"
#include "pickle_lite.h"
#include "weights_only.h"
#include "util.h"
#include "vm.h"
#include "vm_grade.h"

#define SCRATCH_MAX    512
#define PREFETCH_FIRST (64u << 10)
#define PREFETCH_MAX   (2u << 20)
#define INSPECT_ITEMS  (UINT32_C(1) << 30) /* memory stays bounded by max-memory */

static void vm_init(vm *v, scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                    size_t start)
{
    memset(v, 0, sizeof(*v));
    v->ctx = ctx;
    v->member = member ? member : "";
    v->buf = buf;
    v->total = len;
    v->len = ctx_ready(ctx, buf, len, start, start); /* len unless in a lazy image */
    v->total = ctx_reach(ctx, buf, len, 0);
    v->pos = start;
    v->op_off = start;
    v->weights_only_ok = 1;
    v->prefetch_step = PREFETCH_FIRST;
    v->weights_only_reason = "";
    v->lim_ops = ctx_limit(ctx, CKPT_LIMIT_OPCODES);
    v->lim_stack = ctx_limit(ctx, CKPT_LIMIT_STACK);
    v->lim_memo = ctx_limit(ctx, CKPT_LIMIT_MEMO);
    v->lim_string = ctx_limit(ctx, CKPT_LIMIT_STRING);
    v->lim_items = ctx_limit(ctx, CKPT_LIMIT_ITEMS);
    if (insp_active(ctx))
        v->lim_items = INSPECT_ITEMS; /* the inventory needs every item */
    v->lim_memory = ctx_memory_room(ctx);
    arena_init(&v->mem, v->lim_memory);
    v->mem.live = (_Atomic uint64_t *)&ctx->sc->mem_live;
    v->mem.live_cap = ctx_limit(ctx, CKPT_LIMIT_MEMORY_PROCESS);
    sb_init(&v->scratch, SCRATCH_MAX);
    dis_sink *d = ctx->dis;
    if (d && !d->stopped && (!d->member || strcmp(d->member, v->member) == 0))
        v->dis = d;
    sb_init(&v->note, 1024);
}

static void vm_release(vm *v)
{
    ctx_mem_give(v->ctx, vm_array_bytes(v));
    arena_release(&v->mem);
    free(v->stack);
    free(v->marks);
    big_zfree(v->memo, v->memo_cap * sizeof(value));
    free(v->memo_sparse);
    sb_free(&v->scratch);
    sb_free(&v->note);
}

/* Opcodes whose effect is a new top of stack worth showing in a listing. */
static int shows_value(uint8_t op)
{
    switch (op) {
    case OP_MARK:
    case OP_STOP:
    case OP_POP:
    case OP_POP_MARK:
    case OP_PUT:
    case OP_BINPUT:
    case OP_LONG_BINPUT:
    case OP_MEMOIZE:
    case OP_FRAME:
    case OP_PROTO:
    case OP_APPEND:
    case OP_APPENDS:
    case OP_SETITEM:
    case OP_SETITEMS:
    case OP_ADDITEMS:
    case OP_BUILD:
    case OP_READONLY_BUFFER: return 0;
    default: return 1;
    }
}

/* Hands the listing line of the opcode just executed to the dis sink. */
static void emit_line(vm *v)
{
    strbuf val;
    sb_init(&val, 160);
    if (!v->failed && v->sp > v->fence && shows_value(v->op))
        render_value(&val, &v->stack[v->sp - 1], 1);
    const char *name = opcode_table[v->op].name;
    ckpt_dis_line line = {v->member,     v->op_off,         name ? name : "", v->op,
                          sb_cstr(&val), sb_cstr(&v->note), v->nmarks,        v->failed};
    if (v->dis->fn(v->dis->ctx, &line) != 0)
        v->dis->stopped = 1;
    sb_free(&val);
    sb_reset(&v->note);
}

/* One opcode: decode, check, dispatch. */
static void step(vm *v, size_t start)
{
    v->op_off = v->pos;
    v->op = v->buf[v->pos++];
    if (v->in_frame && v->op_off >= v->frame_end)
        v->in_frame = 0;
    const opcode_info *info = &opcode_table[v->op];
    if (!info->name) {
        vm_fail(v, CKPT_F_BAD_OPCODE, "invalid load key 0x%02x", v->op);
        return;
    }
    if (++v->nops > v->lim_ops) {
        vm_fail(v, CKPT_F_LIMIT, "max-opcodes: more than %llu opcodes",
                (unsigned long long)v->lim_ops);
        return;
    }
    if (!info->weights_only)
        vm_weights_only_fail(v, WO_OPCODE);
    if (v->op == OP_STOP) {
        value top;
        if (vm_pop(v, &top)) {
            v->stopped = 1;
            if (v->hooks && v->hooks->on_stop)
                v->hooks->on_stop(v->hooks->hctx, &top);
            insp_pickle_result(v->ctx, v->member, start, v->max_proto, &top);
        }
    } else if (v->op == OP_PROTO) {
        vm_op_proto(v, start);
    } else if (vm_is_object_op(v->op)) {
        vm_op_object(v);
    } else {
        vm_op_data(v);
    }
    if (v->mem.over_cap || v->mem.no_mem)
        vm_out_of_memory(v);
}

/* A used-up frame: the pure-Python unpickler reads on from the file, past
 * whatever a reader hook consumed after the frame. */
static void leave_frame(vm *v)
{
    v->in_frame = 0;
    if (v->file_pos > v->pos) /* only ever forward */
        v->pos = v->file_pos;
    v->file_pos = 0;
}

static void run(vm *v, size_t start)
{
    while (!v->failed && !v->stopped) {
        if (v->in_frame && v->pos >= v->frame_end)
            leave_frame(v);
        if (v->pos >= v->prefetched) {
            /* never past this stream: a member's neighbours are tensor data */
            size_t step = v->prefetch_step;
            v->prefetch_step = step < PREFETCH_MAX ? step * 2 : step;
            v->prefetched = v->len - v->pos > step ? v->pos + step : v->len;
            ctx_prefetch(v->ctx, v->buf + v->pos, v->buf + v->prefetched);
        }
        if (v->pos >= v->len && v->len < v->total)
            vm_pull(v, v->pos, v->pos + 1); /* a lazy image */
        if (v->pos >= v->len) {
            v->op_off = v->pos;
            v->op = 0;
            if (v->len < v->total)
                vm_refused(v, v->pos);
            else
                vm_fail(v, CKPT_F_TRUNCATED, "the data ends before STOP");
        } else {
            step(v, start);
        }
        if (v->dis && !v->dis->stopped)
            emit_line(v);
    }
    vm_grade_flush(v);
}

static void record(vm *v, size_t start)
{
    ckpt_pickle p = {0};
    p.member = v->member;
    p.offset = start;
    p.end = v->pos;
    p.protocol = v->max_proto;
    p.opcodes = v->nops;
    p.complete = v->stopped && !v->failed;
    p.weights_only_ok = p.complete && v->weights_only_ok;
    p.weights_only_reason = p.weights_only_ok ? "" : v->weights_only_reason;
    report_add_pickle(v->ctx->rep, &p);
    if (!p.complete)
        insp_walk_incomplete(v->ctx);
}

/* The fast path applies when nobody needs values: no listing, no hooks
 * that read persistent ids or the result. */
static int fast_path_allowed(const scan_ctx *ctx, const pickle_hooks *hooks)
{
    /* in a lazy image (lazy.h) only the full interpreter pulls bytes */
    return !ctx->dis && !ctx->sc->no_fast_path && !insp_active(ctx) && !ctx->lazy &&
           (!hooks || (!hooks->on_stop && !hooks->on_persid && !hooks->python));
}

/* Records a pickle the fast path walked clean: its imports, then itself. */
static void record_fast(scan_ctx *ctx, const char *member, size_t start, const lite_result *lr,
                        pickle_result *out)
{
    lite_record_imports(lr, ctx->rep, member);
    ckpt_pickle p = {
        member ? member : "",   start, lr->end, lr->protocol, lr->opcodes, 1, lr->weights_only_ok,
        lr->weights_only_reason};
    report_add_pickle(ctx->rep, &p);
    out->end = lr->end;
    out->frame_end = lr->frame_end;
    out->complete = 1;
    out->started = 1;
    out->limited = 0;
}

static int scan_fast(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                     size_t start, const pickle_hooks *hooks, pickle_result *out)
{
    lite_result lr;
    if (!pickle_lite(ctx, buf, len, start, hooks, &lr))
        return 0;
    record_fast(ctx, member, start, &lr, out);
    lite_result_release(&lr);
    return 1;
}

/* A frame straddle reads differently when the loader's file object has no
 * peek() (torch.load wraps a zip member in io.BytesIO): the C unpickler then
 * drops the rest of the frame (vm.h no_peek). Walks that reading too, into
 * a scratch report whose new findings and imports are added to the file's;
 * the first reading keeps the pickle's record and end. Reader hooks that
 * keep state (persistent ids, the STOP value) are left out. */
static void walk_without_peek(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                              size_t start, const pickle_hooks *hooks)
{
    ckpt_report *scratch = report_new(ctx->rep->path, ctx->rep->max_findings, ctx->rep->strict);
    if (!scratch)
        return;
    scan_ctx other = ctx_fork(ctx, scratch, 0);
    pickle_hooks only_build = {.after_build = hooks ? hooks->after_build : NULL,
                               .hctx = hooks ? hooks->hctx : NULL};
    vm v;
    vm_init(&v, &other, member, buf, len, start);
    v.no_peek = 1;
    v.hooks = &only_build;
    run(&v, start);
    vm_release(&v);
    report_merge_reading(ctx->rep, scratch);
    ckpt_report_free(scratch);
    ctx_release(&other);
}

int pickle_walk_ahead(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t start,
                      const pickle_hooks *hooks, lite_result *lr)
{
    return fast_path_allowed(ctx, hooks) && pickle_lite(ctx, buf, len, start, hooks, lr);
}

void pickle_scan_one_hooked(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                            size_t start, const pickle_hooks *hooks, pickle_result *out)
{
    if (fast_path_allowed(ctx, hooks) && scan_fast(ctx, member, buf, len, start, hooks, out))
        return;
    vm v;
    vm_init(&v, ctx, member, buf, len, start);
    v.hooks = hooks;
    v.py = hooks && hooks->python;
    run(&v, start);
    record(&v, start);
    out->end = v.pos;
    out->frame_end = v.in_frame && v.frame_end > v.pos ? v.frame_end : v.pos;
    out->complete = v.stopped && !v.failed;
    out->started = v.nops > 1 || out->complete;
    out->limited = v.limited;
    int straddled = v.straddled;
    vm_release(&v);
    /* probes only need the end; embedded pickles are read by pickle.loads
     * (a buffer, no file), and rewalking each level would multiply */
    if (straddled && !ctx->probing && !ctx->embedded && !(hooks && hooks->python)) {
        walk_without_peek(ctx, member, buf, len, start, hooks);
        insp_walk_incomplete(ctx); /* the inventory shows the peek() reading */
    }
}

void pickle_scan_one(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                     size_t start, pickle_result *out)
{
    pickle_scan_one_hooked(ctx, member, buf, len, start, NULL, out);
}

/* Skips one opcode's argument by its encoding alone (no semantics). */
static int skip_argument(const uint8_t *b, size_t len, size_t *pos, unsigned char arg)
{
    static const unsigned char fixed[] = {
        [ARG_U1] = 1, [ARG_U2] = 2, [ARG_U4] = 4, [ARG_I4] = 4, [ARG_U8] = 8, [ARG_F8] = 8};
    size_t left = len - *pos, n;
    const uint8_t *p = b + *pos;
    switch (arg) {
    case ARG_NONE: return 1;
    case ARG_LINE:
    case ARG_LINES2: {
        const uint8_t *nl = memchr(p, '\n', left);
        if (!nl)
            return 0;
        *pos += (size_t)(nl - p) + 1;
        return arg == ARG_LINE || skip_argument(b, len, pos, ARG_LINE);
    }
    case ARG_LEN1: n = 1; break;
    case ARG_LEN4: n = 4; break;
    case ARG_LEN8: n = 8; break;
    default:
        if (fixed[arg] > left)
            return 0;
        *pos += fixed[arg];
        return 1;
    }
    if (n > left)
        return 0;
    uint64_t count = n == 1 ? p[0] : n == 4 ? load_le32(p) : load_le64(p);
    if (count > left - n)
        return 0;
    *pos += n + (size_t)count;
    return 1;
}

/* 1 when the opcodes from buf[0] are well encoded up to a STOP: a cheap,
 * allocation-free test that turns away tensor bytes and text before a real
 * probe (it accepts at least everything the interpreter could complete). */
static int skims_to_stop(const uint8_t *buf, size_t len)
{
    for (size_t pos = 0; pos < len;) {
        uint8_t op = buf[pos++];
        if (!opcode_table[op].name)
            return 0;
        if (op == OP_STOP)
            return 1;
        if (!skip_argument(buf, len, &pos, opcode_table[op].arg))
            return 0;
    }
    return 0;
}

int pickle_first_effect(const uint8_t *buf, size_t len, size_t start, size_t end, size_t *at)
{
    if (end > len)
        end = len;
    for (size_t pos = start; pos < end;) {
        size_t op_at = pos;
        uint8_t op = buf[pos++];
        if (!opcode_table[op].name || op == OP_STOP)
            return 0;
        switch (op) {
        case OP_GLOBAL:
        case OP_STACK_GLOBAL:
        case OP_INST:
        case OP_EXT1:
        case OP_EXT2:
        case OP_EXT4:
        case OP_PERSID:
        case OP_BINPERSID: *at = op_at; return op;
        default: break;
        }
        if (!skip_argument(buf, len, &pos, opcode_table[op].arg))
            return 0;
    }
    return 0;
}

#define PROBE_LIMITED (SIZE_MAX - 1)

/* Walks buf as a pickle into a throwaway report; returns where it ended,
 * PROBE_LIMITED when a limit stopped it (it may be a pickle: callers treat
 * it as one, fail-closed), or SIZE_MAX when it did not reach STOP cleanly. */
static size_t probe_end(scan_ctx *ctx, const uint8_t *buf, size_t len)
{
    ckpt_report *scratch = report_new("", 1, 0);
    if (!scratch)
        return 0;
    scan_ctx probe = ctx_fork(ctx, scratch, CTX_FORK_DEEPER | CTX_FORK_PROBE);
    pickle_result res;
    pickle_scan_one(&probe, "", buf, len, 0, &res);
    ckpt_report_free(scratch);
    ctx_release(&probe);
    return res.complete ? res.end : res.limited ? PROBE_LIMITED : SIZE_MAX;
}

int pickle_probe(scan_ctx *ctx, const uint8_t *buf, size_t len)
{
    if (len < 2 || buf[len - 1] != '.' || !skims_to_stop(buf, len))
        return 0; /* a pickle starts with an opcode and ends with STOP */
    size_t end = probe_end(ctx, buf, len);
    return end == len ? 1 : end == PROBE_LIMITED ? 2 : 0;
}

int pickle_probe_prefix(scan_ctx *ctx, const uint8_t *buf, size_t len)
{
    if (len < 1 || !skims_to_stop(buf, len))
        return 0;
    return probe_end(ctx, buf, len) != SIZE_MAX;
}

/* Embedded pickles: a constant that is itself a whole pickle is what
 * pickle.loads / torch.load gadgets unpickle; scan it like a member. */
void vm_check_embedded(vm *v, const uint8_t *p, size_t n)
{
    scan_ctx *ctx = v->ctx;
    /* a probe only asks where its pickle ends, which constants cannot
     * change: probing them too would walk a pickle nested d deep 2^d times */
    if (ctx->probing || ctx->depth + 1 >= ctx_limit(ctx, CKPT_LIMIT_DEPTH))
        return;
    /* the probe and the nested walk get what this one leaves of the budget */
    uint64_t hold = v->mem.used + vm_array_bytes(v);
    ctx->mem_held += hold;
    int probed = pickle_probe(ctx, p, n);
    if (probed == 2)
        vm_note(v, CKPT_F_LIMIT, -1, NULL, NULL,
                "a %zu-byte constant may be a pickle, but checking it hit a memory or work "
                "limit: it was not scanned",
                n);
    if (probed == 1) {
        char where[256];
        snprintf(where, sizeof(where), "%s@%zu", v->member, v->op_off);
        vm_note(v, CKPT_F_EMBEDDED_PICKLE, -1, NULL, NULL,
                "a %zu-byte constant is a complete pickle; scanned as member '%s'", n, where);
        ctx->depth++;
        ctx->embedded++;
        pickle_scan_all(ctx, where, p, n, 0, 1);
        ctx->embedded--;
        ctx->depth--;
    }
    ctx->mem_held -= hold;
}

/* 1 when the bytes at buf[pos] could begin a pickle: a known opcode. */
static int looks_like_pickle(const uint8_t *buf, size_t len, size_t pos)
{
    return pos < len && opcode_table[buf[pos]].name != NULL;
}

size_t pickle_scan_all(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                       size_t start, int flag_extra)
{
    return pickle_scan_all_hooked(ctx, member, buf, len, start, flag_extra, NULL);
}

#define FRAME_CHAINS_MAX 16

static size_t scan_rest(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                        int flag_extra, const pickle_hooks *hooks, pickle_result res);

/* A pickle that stops inside its frame: a load() reading the frame whole
 * (no peek()) consumes the frame's rest, so the next load() starts at its
 * end. Walks that chain too (the peek() chain goes on from STOP). */
void pickle_scan_frame_chain(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                             const pickle_result *res, int flag_extra, const pickle_hooks *hooks)
{
    if (!res->complete || res->frame_end <= res->end || res->frame_end >= len || ctx->probing)
        return;
    if (ctx->frame_chains >= FRAME_CHAINS_MAX) {
        ctx_findingf(ctx, CKPT_F_LIMIT, member, res->frame_end,
                     "more than %d pickles stop inside a frame: the pickles after this frame's "
                     "end were not walked",
                     FRAME_CHAINS_MAX);
        return;
    }
    ctx->frame_chains++;
    ctx_findingf(ctx, CKPT_F_FRAME_STRADDLE, member, res->end,
                 "the pickle stops %zu bytes before its frame ends: _pickle.c reading the frame "
                 "whole (unbuffered files, frames beyond a file's buffer) starts the next load() "
                 "at offset %zu; scanned from there too",
                 res->frame_end - res->end, res->frame_end);
    pickle_result alt;
    pickle_scan_one_hooked(ctx, member, buf, len, res->frame_end, hooks, &alt);
    scan_rest(ctx, member, buf, len, flag_extra, hooks, alt);
}

/* Every pickle after the one that gave `res`. */
static size_t scan_rest(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                        int flag_extra, const pickle_hooks *hooks, pickle_result res)
{
    size_t done = 0;
    while (res.complete) {
        done++;
        pickle_scan_frame_chain(ctx, member, buf, len, &res, flag_extra, hooks);
        size_t next = res.end;
        if (next >= len)
            break;
        if (ctx_ready(ctx, buf, len, next, next + 1) <= next) {
            if (next >= ctx_reach(ctx, buf, len, next))
                break; /* a lazy image's end */
            ctx_finding(ctx, CKPT_F_LIMIT, member, next,
                        "max-decompressed: what follows this pickle does not fit in the "
                        "decompressed bytes the stream may hold; it was not scanned");
            break;
        }
        if (!looks_like_pickle(buf, len, next)) {
            ctx_finding(ctx, CKPT_F_TRAILING_DATA, member, next, NULL);
            break;
        }
        if (flag_extra)
            ctx_finding(ctx, CKPT_F_EXTRA_PICKLE, member, next,
                        "another pickle follows STOP; a loader calling load() again runs it");
        pickle_scan_one_hooked(ctx, member, buf, len, next, hooks, &res);
    }
    return done;
}

size_t pickle_scan_all_hooked(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                              size_t start, int flag_extra, const pickle_hooks *hooks)
{
    pickle_result res;
    pickle_scan_one_hooked(ctx, member, buf, len, start, hooks, &res);
    return scan_rest(ctx, member, buf, len, flag_extra, hooks, res);
}

size_t pickle_scan_all_ahead(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                             size_t start, int flag_extra, const pickle_hooks *hooks,
                             const lite_result *first)
{
    pickle_result res;
    record_fast(ctx, member, start, first, &res);
    return scan_rest(ctx, member, buf, len, flag_extra, hooks, res);
}
