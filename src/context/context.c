/* SPDX-License-Identifier: Apache-2.0 */
/* The scan context every reader passes down (scan.h): findings, the
 * copyreg registry, page hints for the file mapping, and the forks a
 * reader makes for a walk into a report of its own. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lazy.h"
#include "scan.h"
#include "strbuf.h"

void ctx_finding(scan_ctx *ctx, ckpt_code code, const char *member, uint64_t offset,
                 const char *message)
{
    finding_in f = {code, -1, member, offset, NULL, NULL, NULL, message};
    report_add(ctx->rep, &f);
}

void ctx_findingf(scan_ctx *ctx, ckpt_code code, const char *member, uint64_t offset,
                  const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx_finding(ctx, code, member, offset, msg);
}

void ctx_ext_register(scan_ctx *ctx, const char *module, const char *name, int64_t code)
{
    if (ctx->next == ctx->ext_cap) {
        size_t cap = ctx->ext_cap ? ctx->ext_cap * 2 : 8;
        ext_entry *p = reallocarray(ctx->ext, cap, sizeof(*p));
        if (!p)
            return;
        ctx->ext = p;
        ctx->ext_cap = cap;
    }
    ctx->ext[ctx->next++] = (ext_entry){code, module, name};
}

const ext_entry *ctx_ext_lookup(const scan_ctx *ctx, int64_t code)
{
    for (size_t i = ctx->next; i-- > 0;)
        if (ctx->ext[i].code == code)
            return &ctx->ext[i];
    return NULL;
}

void ctx_release_pages(const scan_ctx *ctx, const uint8_t *from, const uint8_t *to)
{
    if (!ctx->map || from < ctx->map || to > ctx->map + ctx->map_len || from >= to)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)from + page - 1) & ~(page - 1);
    uintptr_t b = (uintptr_t)to & ~(page - 1);
    if (b > a)
        madvise((void *)a, b - a, MADV_DONTNEED);
}

void ctx_prefetch(const scan_ctx *ctx, const uint8_t *from, const uint8_t *to)
{
    if (!ctx->map || from < ctx->map || from >= ctx->map + ctx->map_len)
        return;
    if (to > ctx->map + ctx->map_len)
        to = ctx->map + ctx->map_len;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)from & ~(page - 1);
    if ((uintptr_t)to > a)
        madvise((void *)a, (uintptr_t)to - a, MADV_WILLNEED);
}

int ctx_lazy_holds(const scan_ctx *ctx, const uint8_t *buf)
{
    if (!ctx->lazy)
        return 0;
    const uint8_t *base = lazy_base(ctx->lazy);
    return buf >= base && (size_t)(buf - base) <= lazy_bound(ctx->lazy);
}

size_t ctx_ready(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t from, size_t to)
{
    if (!ctx_lazy_holds(ctx, buf))
        return len;
    size_t off = (size_t)(buf - lazy_base(ctx->lazy));
    if (to > len)
        to = len;
    if (from > to)
        from = to;
    size_t end = lazy_ready(ctx->lazy, off + from, off + to) - off;
    return end > len ? len : end;
}

size_t ctx_reach(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t off)
{
    if (!ctx_lazy_holds(ctx, buf))
        return len;
    size_t base = (size_t)(buf - lazy_base(ctx->lazy));
    if (off > len)
        off = len;
    lazy_reach(ctx->lazy, base + off);
    size_t end = lazy_end(ctx->lazy, NULL);
    return end != SIZE_MAX && end - base < len ? end - base : len;
}

void ctx_release(scan_ctx *ctx)
{
    free(ctx->ext);
    ctx->ext = NULL;
    ctx->next = ctx->ext_cap = 0;
}

void ctx_report_limit(ckpt_report *r, ckpt_limit limit, uint64_t value)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "%s: %s (limit %llu); the rest was not scanned",
             ckpt_limit_name(limit), ckpt_limit_reason(limit), (unsigned long long)value);
    finding_in f = {CKPT_F_LIMIT, -1, "", 0, NULL, NULL, NULL, msg};
    report_add(r, &f);
}

/* ", of which ..." when part of a decompression budget was spent before
 * this buffer; "" otherwise. */
void decompress_used_note(char *out, size_t size, ckpt_limit which, uint64_t used)
{
    if (!used || (which != CKPT_LIMIT_DECOMPRESSED && which != CKPT_LIMIT_DECOMPRESSED_TOTAL))
        *out = 0;
    else
        snprintf(out, size, ", of which %s %llu",
                 which == CKPT_LIMIT_DECOMPRESSED ? "enclosing members and streams held"
                                                  : "earlier members and streams used",
                 (unsigned long long)used);
}

const char *member_join(scan_ctx *ctx, const char *outer, const char *inner)
{
    if (!outer || !*outer)
        return report_strdup(ctx->rep, inner);
    strbuf sb;
    sb_init(&sb, 4096);
    sb_printf(&sb, "%s!%s", outer, inner);
    const char *s = report_strdup(ctx->rep, sb_cstr(&sb));
    sb_free(&sb);
    return s;
}

scan_ctx ctx_fork(const scan_ctx *parent, ckpt_report *into, unsigned how)
{
    scan_ctx c = *parent;
    c.rep = into;
    c.ext = NULL;
    c.next = c.ext_cap = 0;
    c.dis = NULL; /* a listing shows the first reading only */
    if (how & CTX_FORK_DEEPER)
        c.depth = parent->depth + 1;
    if (how & CTX_FORK_PROBE)
        c.probing = 1;
    return c;
}
