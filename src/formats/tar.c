/* SPDX-License-Identifier: Apache-2.0 */
/* Tar archives as Python's tarfile lists them (torch's legacy tar format is
 * read with tarfile.open(mode='r:')): header checksums, number fields, GNU
 * long names, pax records, and the member list; tar_torch.c reads torch's
 * members. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tar_internal.h"
#include "util.h"
#include "value.h"

#define BLOCK 512

void tar_note(scan_ctx *ctx, ckpt_code code, const char *member, uint64_t off, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx_finding(ctx, code, member, off, msg);
}

/* ---- header fields, exactly as tarfile.frombuf parses them ---- */

static int py_space(uint8_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* int(s, base) on ASCII text: whitespace, a sign, digits with single
 * underscores between them (and after an 0o prefix in base 8). */
static int py_int(const uint8_t *s, size_t n, int base, int64_t *out)
{
    while (n && py_space(s[n - 1]))
        n--;
    while (n && py_space(*s))
        s++, n--;
    int neg = 0;
    if (n && (*s == '-' || *s == '+')) {
        neg = *s == '-';
        s++, n--;
    }
    if (base == 8 && n >= 2 && s[0] == '0' && (s[1] | 0x20) == 'o') {
        s += 2, n -= 2;
        if (n && *s == '_')
            s++, n--;
    }
    uint64_t v = 0;
    size_t digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_' && digits && i + 1 < n && s[i + 1] != '_')
            continue;
        unsigned d = (unsigned)s[i] - '0';
        if (d >= (unsigned)base || mul_overflows(v, (uint64_t)base, &v) || add_overflows(v, d, &v))
            return 0;
        digits++;
    }
    if (!digits || v > INT64_MAX)
        return 0;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

/* nti(): a number field, octal text or base-256; 0 when tarfile raises. */
static int nti(const uint8_t *f, size_t n, int64_t *out)
{
    if (f[0] == 0x80 || f[0] == 0xff) {
        uint64_t v = 0;
        for (size_t i = 1; i < n; i++)
            if (mul_overflows(v, 256, &v) || add_overflows(v, f[i], &v))
                v = UINT64_MAX; /* saturates: far beyond any file */
        if (f[0] == 0xff) {
            *out = v ? INT64_MIN : 0; /* negative: never a usable size */
            return 1;
        }
        *out = v > INT64_MAX ? INT64_MAX : (int64_t)v;
        return 1;
    }
    const uint8_t *nul = memchr(f, 0, n);
    size_t len = nul ? (size_t)(nul - f) : n;
    for (size_t i = 0; i < len; i++)
        if (f[i] >= 0x80)
            return 0; /* ascii decode fails */
    for (size_t i = 0; i < len; i++)
        if (!py_space(f[i]))
            return py_int(f, len, 8, out);
    *out = 0;
    return 1;
}

static int chksum_ok(const uint8_t *b)
{
    int64_t want;
    if (!nti(b + 148, 8, &want))
        return 0;
    int64_t u = 256, s = 256;
    for (size_t i = 0; i < BLOCK; i++) {
        if (i >= 148 && i < 156)
            continue;
        u += b[i];
        s += (int8_t)b[i];
    }
    return want == u || want == s;
}

/* 1 valid, 0 invalid (InvalidHeaderError), -1 all zero (end of archive). */
static int header_state(const uint8_t *b)
{
    static const uint16_t fields[][2] = {{100, 8},  {108, 8}, {116, 8}, {124, 12},
                                         {136, 12}, {329, 8}, {337, 8}};
    size_t i = 0;
    while (i < BLOCK && !b[i])
        i++;
    if (i == BLOCK)
        return -1;
    if (!chksum_ok(b))
        return 0;
    int64_t v;
    for (i = 0; i < ARRAY_LEN(fields); i++)
        if (!nti(b + fields[i][0], fields[i][1], &v))
            return 0;
    if (b[156] == 'S') /* old GNU sparse fields are parsed too */
        for (size_t p = 386; p < 482; p += 12)
            if (!nti(b + p, 12, &v))
                return 0;
    return b[156] == 'S' ? nti(b + 483, 12, &v) : 1;
}

int tar_header_valid(const uint8_t *buf, size_t len)
{
    return len >= BLOCK && header_state(buf) == 1;
}

/* ---- pax records: "%d %s=%s\n" ---- */

static int pax_record(const uint8_t *b, size_t n, size_t *pos, const uint8_t **key, size_t *klen,
                      const uint8_t **val, size_t *vlen)
{
    size_t p = *pos, digits = 0;
    uint64_t length = 0;
    while (p < n && digits < 20 && b[p] >= '0' && b[p] <= '9')
        length = length * 10 + (uint64_t)(b[p++] - '0'), digits++;
    if (!digits || p >= n || b[p] != ' ' || length < 5 || length > n - *pos)
        return 0;
    size_t last = *pos + (size_t)length - 1;
    const uint8_t *kv = b + p + 1, *eq = memchr(kv, '=', (size_t)(b + last - kv));
    if (b[last] != '\n' || !eq || eq == kv)
        return 0;
    *key = kv;
    *klen = (size_t)(eq - kv);
    *val = eq + 1;
    *vlen = (size_t)(b + last - *val);
    *pos = *pos + (size_t)length;
    return 1;
}

static int key_is(const uint8_t *k, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(k, s, n) == 0;
}

/* Parses the records of a pax header into *px; 0 when tarfile rejects
 * them, -1 for records ckptscan does not model (sparse, odd sizes). */
static int parse_pax(const uint8_t *b, size_t n, pax *px)
{
    size_t pos = 0;
    while (pos < n && b[pos] != 0) {
        const uint8_t *k, *v;
        size_t kl, vl;
        if (!pax_record(b, n, &pos, &k, &kl, &v, &vl))
            return 0;
        if (kl > 11 && memcmp(k, "GNU.sparse.", 11) == 0)
            return -1;
        if (key_is(k, kl, "path")) {
            while (vl && v[vl - 1] == '/')
                vl--;
            px->path = v, px->path_len = vl, px->has_path = 1;
        } else if (key_is(k, kl, "linkpath")) {
            px->link = v, px->link_len = vl, px->has_link = 1;
        } else if (key_is(k, kl, "size")) {
            int64_t s;
            if (!py_int(v, vl, 10, &s) || s < 0)
                return -1; /* int() may read forms we do not; negative loops */
            px->size = (uint64_t)s, px->has_size = 1;
        }
    }
    return 1;
}

/* ---- walking the headers as TarFile.next() does ---- */

static uint64_t blocks(uint64_t n)
{
    return n > UINT64_MAX - (BLOCK - 1) ? UINT64_MAX - (BLOCK - 1)
                                        : (n + BLOCK - 1) / BLOCK * BLOCK;
}

int tar_is_reg(char t)
{
    return t == '0' || t == '\0' || t == '7' || t == 'S';
}

int tar_supported(char t)
{
    return tar_is_reg(t) || (t >= '1' && t <= '6') || t == 'L' || t == 'K';
}

/* An extended header's pending effect on the member that follows. The
 * earliest header in a chain that sets a field wins (tarfile patches the
 * member while unwinding its recursion). */
typedef struct chain {
    const uint8_t *name, *link;
    size_t name_len, link_len;
    uint64_t size;
    int has_name, has_link, has_size, has_x;
} chain;

static const uint8_t *cut_nul(const uint8_t *p, size_t n, size_t *out)
{
    const uint8_t *z = memchr(p, 0, n);
    *out = z ? (size_t)(z - p) : n;
    return p;
}

static char *join_name(walker *w, const uint8_t *b, size_t *out)
{
    size_t nl, pl;
    cut_nul(b, 100, &nl);
    cut_nul(b + 345, 155, &pl);
    char t = b[156];
    int dir = t == '5' || (t == '\0' && nl && b[nl - 1] == '/');
    while (dir && nl && b[nl - 1] == '/')
        nl--;
    int prefix = pl && t != 'L' && t != 'K' && t != 'S';
    char *s = arena_alloc(&w->mem, pl + nl + 2);
    if (!s)
        return NULL;
    size_t n = 0;
    if (prefix) {
        memcpy(s, b + 345, pl);
        n = pl;
        s[n++] = '/';
    }
    memcpy(s + n, b, nl);
    *out = n + nl;
    s[*out] = 0;
    return s;
}

static const char *copy(walker *w, const uint8_t *p, size_t n)
{
    return arena_strndup(&w->mem, (const char *)p, n);
}

static int add_member(walker *w, const tmember *t)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        tmember *m = reallocarray(w->m, cap, sizeof(*m));
        if (!m)
            return 0;
        w->m = m;
        w->cap = cap;
    }
    w->m[w->n++] = *t;
    return 1;
}

/* Applies the member's final name, link and size (global pax first, then
 * the chain), and returns where the next header starts. */
static uint64_t finish_member(walker *w, const uint8_t *b, size_t hdr, uint64_t data, chain *c,
                              tmember *t)
{
    int64_t hsize;
    nti(b + 124, 12, &hsize);
    size_t nl, ll;
    t->type = (char)b[156];
    t->name = join_name(w, b, &nl);
    t->name_len = nl;
    cut_nul(b + 157, 100, &ll);
    t->link = copy(w, b + 157, ll);
    t->link_len = ll;
    t->hdr = hdr;
    t->data = data;
    t->size = hsize < 0 ? 0 : (uint64_t)hsize;
    const pax *g = &w->global;
    if (g->has_path)
        t->name = copy(w, g->path, t->name_len = g->path_len);
    if (g->has_link)
        t->link = copy(w, g->link, t->link_len = g->link_len);
    if (g->has_size)
        t->size = g->size;
    if (c->has_name)
        t->name = copy(w, c->name, t->name_len = c->name_len);
    if (c->has_link)
        t->link = copy(w, c->link, t->link_len = c->link_len);
    if (c->has_size)
        t->size = c->size;
    uint64_t skip = c->has_x && (c->has_size || g->has_size) ? t->size : (uint64_t)hsize;
    if (!tar_is_reg(t->type) && tar_supported(t->type))
        skip = 0;
    return data + blocks(skip);
}

/* Folds an extended header (L, K, x, g) into the chain; 0 when the walk
 * must stop (stop_why or read_error set). */
static int extended(walker *w, const uint8_t *b, uint64_t data, uint64_t size, chain *c)
{
    char t = (char)b[156];
    size_t n = data >= w->len ? 0 : (size_t)(w->len - data);
    if (blocks(size) < n)
        n = (size_t)blocks(size);
    const uint8_t *d = w->buf + (data < w->len ? data : w->len);
    if (t == 'L' || t == 'K') {
        size_t l;
        cut_nul(d, n, &l);
        if (t == 'L' && !c->has_name)
            c->name = d, c->name_len = l, c->has_name = 1;
        if (t == 'K' && !c->has_link)
            c->link = d, c->link_len = l, c->has_link = 1;
        return 1;
    }
    pax px = {0};
    int r = parse_pax(d, n, &px);
    if (r <= 0) {
        w->stop_why = r < 0 ? "a pax header ckptscan does not model (sparse or an odd size)"
                            : "an invalid pax header (tarfile ends the archive there)";
        return 0;
    }
    if (t == 'g') {
        pax *g = &w->global; /* later global records replace earlier ones */
        if (px.has_path)
            g->path = px.path, g->path_len = px.path_len, g->has_path = 1;
        if (px.has_link)
            g->link = px.link, g->link_len = px.link_len, g->has_link = 1;
        if (px.has_size)
            g->size = px.size, g->has_size = 1;
        return 1;
    }
    c->has_x = 1;
    if (px.has_path && !c->has_name)
        c->name = px.path, c->name_len = px.path_len, c->has_name = 1;
    if (px.has_link && !c->has_link)
        c->link = px.link, c->link_len = px.link_len, c->has_link = 1;
    if (px.has_size && !c->has_size)
        c->size = px.size, c->has_size = 1;
    return 1;
}

/* One member starting with the header at `off`; returns the offset of the
 * next one, or 0 when the listing ends. */
static uint64_t next_member(walker *w, uint64_t off)
{
    chain c = {0};
    size_t first = (size_t)off;
    for (int hops = 0;; hops++) {
        if (off >= w->len || w->len - off < BLOCK) {
            if (hops) /* a header a long name or pax header announced */
                w->read_error = "an extended header is not followed by a member";
            return 0;
        }
        const uint8_t *b = w->buf + off;
        int st = header_state(b);
        if (st != 1) {
            if (hops)
                w->read_error = "an extended header is followed by an invalid header";
            else if (st == 0)
                w->stop_why = "an invalid header (tarfile ends the archive there)";
            return 0;
        }
        int64_t size;
        nti(b + 124, 12, &size);
        if (size < 0) {
            w->stop_why = "a negative size (tarfile would walk backwards)";
            return 0;
        }
        char t = (char)b[156];
        if (t == 'S') {
            w->stop_why = "a GNU sparse member ckptscan does not reassemble";
            return 0;
        }
        if (t != 'L' && t != 'K' && t != 'x' && t != 'g' && t != 'X') {
            tmember m;
            uint64_t next = finish_member(w, b, first, off + BLOCK, &c, &m);
            return m.name && m.link && add_member(w, &m) ? next : 0;
        }
        if (!extended(w, b, off + BLOCK, (uint64_t)size, &c))
            return 0;
        off += BLOCK + blocks((uint64_t)size);
    }
}

static void walk(walker *w)
{
    uint64_t off = 0, limit = ctx_limit(w->ctx, CKPT_LIMIT_MEMBERS);
    for (;;) {
        if (w->n >= limit) {
            ctx_report_limit(w->ctx->rep, CKPT_LIMIT_MEMBERS, limit);
            break;
        }
        uint64_t next = next_member(w, off);
        if (!next)
            break;
        /* TarFile.next() seeks to next - 1 and needs a byte there */
        if (next > w->len) {
            w->read_error = "a member's data runs past the end of the file";
            w->stop_at = w->m[w->n - 1].hdr;
            return;
        }
        off = next;
    }
    w->stop_at = (size_t)off;
}

int tar_path_escapes(const char *p, size_t n)
{
    if (n && p[0] == '/')
        return 1;
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '.' && p[i + 1] == '.' && (i == 0 || p[i - 1] == '/') &&
            (i + 2 == n || p[i + 2] == '/'))
            return 1;
    return 0;
}

void tar_member_data(const walker *w, const tmember *m, const uint8_t **d, size_t *n)
{
    uint64_t start = m->data < w->len ? m->data : w->len;
    uint64_t left = w->len - start;
    *d = w->buf + start;
    *n = (size_t)(m->size < left ? m->size : left);
}

/* ---- names ---- */

static int by_name(const void *a, const void *b, void *arg)
{
    const walker *w = arg;
    const tmember *x = &w->m[*(const size_t *)a], *y = &w->m[*(const size_t *)b];
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static void check_duplicates(walker *w)
{
    size_t *idx = malloc((w->n ? w->n : 1) * sizeof(*idx));
    if (!idx)
        return;
    for (size_t i = 0; i < w->n; i++)
        idx[i] = i;
    qsort_r(idx, w->n, sizeof(*idx), by_name, w);
    for (size_t i = 0, j; i < w->n; i = j) {
        for (j = i + 1; j < w->n && by_name(&idx[i], &idx[j], w) == 0;)
            j++;
        const tmember *m = &w->m[idx[i]];
        if (j - i > 1)
            tar_note(
                w->ctx, CKPT_F_ARCHIVE_ANOMALY, w->member, m->hdr,
                "member name '%.*s' appears %zu times: tarfile and torch use the last; all were "
                "scanned",
                m->name_len > NAME_SHOWN ? NAME_SHOWN : (int)m->name_len, m->name, j - i);
    }
    free(idx);
}

static void check_names(walker *w)
{
    for (size_t i = 0; i < w->n; i++) {
        const tmember *m = &w->m[i];
        if (tar_path_escapes(m->name, m->name_len))
            tar_note(w->ctx, CKPT_F_ARCHIVE_ANOMALY, w->member, m->hdr,
                     "member name '%.*s' leaves the extraction directory",
                     m->name_len > NAME_SHOWN ? NAME_SHOWN : (int)m->name_len, m->name);
    }
    check_duplicates(w);
}

static void report_walk(walker *w)
{
    if (w->read_error)
        tar_note(w->ctx,
                 strstr(w->read_error, "past the end") ? CKPT_F_TRUNCATED : CKPT_F_ARCHIVE_ANOMALY,
                 w->member, w->stop_at,
                 "Python's tarfile raises ReadError on this archive (%s): torch.load falls back to "
                 "reading the same bytes as stacked pickles",
                 w->read_error);
    if (w->stop_why)
        tar_note(w->ctx, CKPT_F_ARCHIVE_ANOMALY, w->member, w->stop_at,
                 "tar walk stopped at %s; the bytes after it were not read as members",
                 w->stop_why);
}

int read_tar(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len, ckpt_format *format)
{
    if (!tar_header_valid(buf, len))
        return 0;
    walker w;
    memset(&w, 0, sizeof(w));
    w.ctx = ctx;
    w.member = member;
    w.buf = buf;
    w.len = len;
    arena_init(&w.mem, ctx_limit(ctx, CKPT_LIMIT_MEMORY));
    walk(&w);
    report_walk(&w);
    check_names(&w);
    int torch = tar_scan_members(&w);
    *format = torch ? CKPT_FORMAT_TORCH_TAR : CKPT_FORMAT_TAR;
    arena_release(&w.mem);
    free(w.m);
    return 1;
}
