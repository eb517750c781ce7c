/* SPDX-License-Identifier: Apache-2.0 */
/* Findings about a zip's structure: records no writer produces, and every
 * place where torch.load (miniz) and Python's zipfile read the archive
 * differently. Every reading is scanned elsewhere; this file only reports. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runsort.h"
#include "report.h"
#include "strbuf.h"
#include "zip_internal.h"

/* Entry-level anomalies listed per archive before they are only counted:
 * a million bad entries must not mean a million findings. */
#define ZMAX_NOTES 64

void zarchive_finding(zarchive *za, ckpt_code code, const char *member, uint64_t offset,
                      const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ctx_finding(za->ctx, code, member ? member : za->member, offset, msg);
}

/* An entry-level note: counted, and listed while under ZMAX_NOTES. */
static int note_allowed(zarchive *za)
{
    return za->notes++ < ZMAX_NOTES;
}

/* name[0..n) with NUL bytes shown as \0, into a bounded buffer. */
static const char *escaped(char *out, size_t cap, const uint8_t *name, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < cap;) {
        if (name[i] == 0) {
            out[o++] = '\\';
            out[o++] = '0';
            i++;
            continue;
        }
        const uint8_t *z = memchr(name + i, 0, n - i);
        size_t run = (z ? (size_t)(z - name) : n) - i, room = cap - 3 - o;
        run = run < room ? run : room; /* the bytes up to the next NUL */
        memcpy(out + o, name + i, run);
        o += run;
        i += run;
    }
    out[o] = 0;
    return out;
}

const char *zarchive_shown_name(zarchive *za, const zentry *e)
{
    char tmp[4096];
    return member_join(za->ctx, za->member, escaped(tmp, sizeof(tmp), e->name, e->name_len));
}

/* ---- end records ---------------------------------------------------------- */

static void check_prepended(zarchive *za)
{
    const uint8_t *b = za->buf;
    if (za->len >= 4 && (load_le32(b) == ZSIG_LOCAL ||
                         (load_le32(b) == ZSIG_EOCD && za->py.found && za->py.eocd == 0)))
        return;
    const zview *v = za->py.readable ? &za->py : &za->torch;
    uint64_t first = v->cd_off;
    for (size_t i = 0; i < v->n; i++)
        if (v->ent[i].has_local && v->ent[i].local < first)
            first = v->ent[i].local;
    zarchive_finding(
        za, CKPT_F_ARCHIVE_ANOMALY, NULL, 0,
        "%llu bytes come before the first zip record (offset 0 is not a local header): "
        "torch.load does not open the file as a zip, zipfile and other readers do",
        (unsigned long long)first);
}

static void check_trailing(zarchive *za, const zview *v)
{
    uint64_t end = v->eocd + ZLEN_EOCD + v->comment_len;
    if (end < za->len)
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, NULL, end,
                         "%llu bytes follow the end record and its comment",
                         (unsigned long long)(za->len - end));
    else if (end > za->len)
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, NULL, v->eocd,
            "the end record's comment length (%u) runs %llu bytes past the end of the file",
            v->comment_len, (unsigned long long)(end - za->len));
}

/* A classic end-record field agrees with its zip64 value when equal, or
 * when it is the "see zip64" sentinel (Go and others set all three to it). */
static int field_agrees(uint64_t classic, uint64_t z64, uint64_t sentinel)
{
    return classic == sentinel || classic == z64;
}

static void check_zip64(zarchive *za, const zview *v)
{
    if (v->locator_off != UINT64_MAX && v->eocd >= ZLEN_LOCATOR + ZLEN_EOCD64 &&
        v->locator_off != v->eocd - ZLEN_LOCATOR - ZLEN_EOCD64)
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, NULL, v->eocd - ZLEN_LOCATOR,
            "the zip64 locator points to offset %llu, not to the record right before it "
            "(%llu): miniz 2.x (torch 1.13, checked) and zipfile / miniz 3.x read "
            "different zip64 end records",
            (unsigned long long)v->locator_off,
            (unsigned long long)(v->eocd - ZLEN_LOCATOR - ZLEN_EOCD64));
    else if (v->locator_off != UINT64_MAX && !v->zip64)
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, NULL, v->eocd - ZLEN_LOCATOR,
                         "a zip64 locator without a zip64 end record where it points");
    if (!v->zip64)
        return;
    if (!field_agrees(v->e_count, v->count, 0xffff) ||
        !field_agrees(v->e_size, v->cd_size, 0xffffffffu) ||
        !field_agrees(v->e_off, v->stated_off, 0xffffffffu))
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, NULL, v->z64,
            "the zip64 end record (%llu entries, %llu bytes at %llu) disagrees with the "
            "end record (%u entries, %lu bytes at %lu): readers of either see different "
            "directories",
            (unsigned long long)v->count, (unsigned long long)v->cd_size,
            (unsigned long long)v->stated_off, v->e_count, (unsigned long)v->e_size,
            (unsigned long)v->e_off);
}

static void check_other_ends(zarchive *za)
{
    for (size_t i = 0; i < za->nother; i++) {
        const zview *o = &za->other[i];
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, NULL, o->eocd,
                         "another end record at %llu lists %zu entries: readers that take it see a "
                         "different archive; its entries were scanned too",
                         (unsigned long long)o->eocd, o->n);
    }
}

/* ---- miniz against zipfile ---------------------------------------------- */

static int view_ok(const zview *v)
{
    return v->readable && !v->fail;
}

static void say_view(strbuf *sb, const zview *v)
{
    if (view_ok(v))
        sb_printf(sb, "%s reads %zu entries", v->who, v->n);
    else
        sb_printf(sb, "%s rejects the archive (%s)", v->who,
                  v->fail ? v->fail : "no readable central directory");
}

static void check_disagreement(zarchive *za)
{
    const zview *t = &za->torch, *p = &za->py;
    if (!t->found && !p->found)
        return;
    strbuf sb;
    sb_init(&sb, 600);
    if (view_ok(t) != view_ok(p)) {
        say_view(&sb, t);
        sb_puts(&sb, "; ");
        say_view(&sb, p);
    } else if (view_ok(t) && t->eocd != p->eocd) {
        sb_printf(&sb, "torch.load uses the end record at %llu, zipfile the one at %llu",
                  (unsigned long long)t->eocd, (unsigned long long)p->eocd);
    } else if (view_ok(t) && t->cd_off != p->cd_off) {
        sb_printf(&sb, "torch.load reads the central directory at %llu, zipfile at %llu",
                  (unsigned long long)t->cd_off, (unsigned long long)p->cd_off);
    } else if (view_ok(t) && t->n != p->n && !t->limited && !p->limited) {
        sb_printf(&sb,
                  "torch.load reads %zu entries (the end record's count), zipfile %zu (the "
                  "directory's size)",
                  t->n, p->n);
    }
    if (sb.len)
        zarchive_finding(za, CKPT_F_LOADER_DISAGREEMENT, NULL, t->found ? t->eocd : p->eocd,
                         "%s; every reading was scanned", sb_cstr(&sb));
    sb_free(&sb);
}

/* ---- duplicates ------------------------------------------------------------ */

static void report_duplicate(zarchive *za, const zentry *e, size_t count)
{
    long t = miniz_locate(&za->torch, za->torch_order, (const char *)e->name, e->name_len);
    long p =
        za->py.readable ? zipfile_locate(&za->py, (const char *)e->name, zname_entry_cut(e)) : -1;
    char tpick[64] = "none", ppick[64] = "none";
    if (t >= 0)
        snprintf(tpick, sizeof(tpick), "the one at %llu",
                 (unsigned long long)za->torch.ent[t].local);
    if (p >= 0)
        snprintf(ppick, sizeof(ppick), "the one at %llu", (unsigned long long)za->py.ent[p].local);
    zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, zarchive_shown_name(za, e), e->cd_pos,
                     "%zu entries share this name (ASCII case-insensitively): torch.load reads %s, "
                     "zipfile %s; every one was scanned",
                     count, tpick, ppick);
}

static void check_duplicates_torch(zarchive *za)
{
    const zview *v = &za->torch;
    const uint32_t *ord = za->torch_order;
    if (!ord)
        return;
    for (size_t i = 0; i < v->n;) {
        size_t j = i + 1;
        const zentry *e = &v->ent[ord[i]];
        while (j < v->n && za->torch_shared[ord[i]] &&
               miniz_name_cmp(e->name, e->name_len, v->ent[ord[j]].name, v->ent[ord[j]].name_len) ==
                   0)
            j++;
        if (j - i > 1 && note_allowed(za))
            report_duplicate(za, &v->ent[ord[i + 1]], j - i);
        i = j;
    }
}

/* qsort comparators over arrays of entry pointers (no shared state: one
 * scanner may serve several threads). Entries of a view sit in one array,
 * so pointer order is directory order. */
static int py_name_cmp(const void *a, const void *b)
{
    const zentry *x = *(const zentry *const *)a, *y = *(const zentry *const *)b;
    return zipfile_name_cmp(x->name, x->name_len, (x->flags & ZFLAG_UTF8) != 0, y->name,
                            y->name_len, (y->flags & ZFLAG_UTF8) != 0, 1);
}

static int py_name_order(const void *a, const void *b)
{
    int c = py_name_cmp(a, b);
    const zentry *x = *(const zentry *const *)a, *y = *(const zentry *const *)b;
    return c ? c : (x > y) - (x < y);
}

static int by_local(const void *a, const void *b)
{
    const zentry *x = *(const zentry *const *)a, *y = *(const zentry *const *)b;
    return x->local < y->local ? -1 : x->local > y->local;
}

/* The view's entries (those with a local header when `local_only`). */
static const zentry **entry_ptrs(const zview *v, int local_only, size_t *n)
{
    const zentry **p = calloc(v->n ? v->n : 1, sizeof(*p));
    *n = 0;
    for (size_t i = 0; p && i < v->n; i++)
        if (!local_only || v->ent[i].has_local)
            p[(*n)++] = &v->ent[i];
    return p;
}

/* zipfile's entries grouped by name as it decodes them, directory order
 * within a group: the last of a group is what getinfo() returns. */
typedef struct pygroups {
    const zentry **ord;
    size_t n;
    uint8_t *same; /* same[i]: ord[i] has ord[i - 1]'s name (NULL: compare) */
} pygroups;

static size_t group_end(const pygroups *g, size_t i)
{
    size_t j = i + 1;
    while (j < g->n && (g->same ? g->same[j] : py_name_cmp(&g->ord[i], &g->ord[j]) == 0))
        j++;
    return j;
}

/* The torch entry torch.load finds under e's name (miniz_locate). A name
 * miniz tells from every other one is found where it is, so the entry at
 * the same central header (the usual case: both loaders read one
 * directory) answers without a search. */
static long torch_entry_for(const zarchive *za, const zentry *e)
{
    const zview *t = &za->torch;
    size_t i = (size_t)(e - za->py.ent);
    if (za->torch_shared && i < t->n && t->ent[i].cd_pos == e->cd_pos &&
        t->ent[i].name == e->name && t->ent[i].name_len == e->name_len && !za->torch_shared[i])
        return (long)i;
    return miniz_locate(t, za->torch_order, (const char *)e->name, e->name_len);
}

/* The first name whose data torch and zipfile take from different places. */
static void check_same_names(zarchive *za, const pygroups *g)
{
    const zview *t = &za->torch;
    size_t differ = 0;
    const zentry *first_p = NULL, *first_t = NULL;
    for (size_t i = 0; i < g->n;) {
        size_t j = group_end(g, i);
        const zentry *e = g->ord[j - 1];
        i = j;
        long k = torch_entry_for(za, e);
        if (k < 0 || !e->has_local || !t->ent[k].has_local)
            continue;
        const zentry *f = &t->ent[k];
        if (f->data == e->data && f->comp == e->comp && f->method == e->method)
            continue;
        if (differ++ == 0)
            first_p = e, first_t = f;
    }
    if (differ)
        zarchive_finding(
            za, CKPT_F_LOADER_DISAGREEMENT, zarchive_shown_name(za, first_p), first_p->cd_pos,
            "torch.load reads this name from the data at %llu, zipfile from %llu (%zu names "
            "differ); both were scanned",
            (unsigned long long)first_t->data, (unsigned long long)first_p->data, differ);
}

/* Names only zipfile takes as equal (cut at NUL, decoded alike); those
 * torch also sees as equal are reported with torch's duplicates. */
static void check_duplicates_python(zarchive *za, const pygroups *g)
{
    for (size_t i = 0; i < g->n;) {
        size_t j = group_end(g, i);
        int raw_equal = 1;
        for (size_t k = i + 1; k < j; k++)
            raw_equal &= miniz_name_cmp(g->ord[i]->name, g->ord[i]->name_len, g->ord[k]->name,
                                        g->ord[k]->name_len) == 0;
        if (j - i > 1 && (!raw_equal || !za->torch.readable) && note_allowed(za)) {
            const zentry *e = g->ord[j - 1];
            zarchive_finding(
                za, CKPT_F_ARCHIVE_ANOMALY, zarchive_shown_name(za, e), e->cd_pos,
                "%zu entries are this name to zipfile (names cut at NUL or decoded alike, "
                "the last one wins) but differ to torch.load; every one was scanned",
                j - i);
        }
        i = j;
    }
}

static void check_python_names(zarchive *za)
{
    pygroups g;
    g.ord = entry_ptrs(&za->py, 0, &g.n);
    g.same = calloc(g.n ? g.n : 1, 1);
    if (!g.ord || !g.same) {
        free(g.ord);
        free(g.same);
        return;
    }
    if (!zipfile_sort(za, g.ord, g.same)) {
        free(g.same);
        g.same = NULL;
        qsort(g.ord, g.n, sizeof(*g.ord), py_name_order);
    }
    if (za->torch.readable)
        check_same_names(za, &g);
    check_duplicates_python(za, &g);
    free(g.ord);
    free(g.same);
}

/* ---- layout: overlaps and bytes that belong to no entry ----------------- */

/* Where entry e's bytes end: data, then its data descriptor. */
static uint64_t entry_end(const zentry *e)
{
    uint64_t end;
    if (add_overflows(e->data, e->comp, &end))
        return UINT64_MAX;
    return end + e->desc_len;
}

static void check_layout(zarchive *za, const zview *v)
{
    size_t n;
    const zentry **ord = entry_ptrs(v, 1, &n);
    if (!ord)
        return;
    runsort(ord, n, sizeof(*ord), by_local); /* stable; linear in directory order */
    int overlap = 0, gap = 0;
    for (size_t i = 0; i < n; i++) {
        const zentry *e = ord[i];
        uint64_t end = entry_end(e);
        uint64_t next = i + 1 < n ? ord[i + 1]->local : v->cd_off;
        if (end > next && next == e->local && !overlap++)
            zarchive_finding(
                za, CKPT_F_ARCHIVE_ANOMALY, zarchive_shown_name(za, e), e->local,
                "another entry points to the same local header: two names, one content");
        else if (end > next && !overlap++)
            zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, zarchive_shown_name(za, e), e->local,
                             "its data (to %llu) overlaps the %s at %llu: several entries or the "
                             "directory share bytes",
                             (unsigned long long)end,
                             i + 1 < n ? "next entry" : "central directory",
                             (unsigned long long)next);
        else if (end < next && !gap++)
            zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, NULL, end,
                             "%llu bytes at %llu belong to no entry (hidden data between records)",
                             (unsigned long long)(next - end), (unsigned long long)end);
    }
    free(ord);
}

/* ---- code-bearing archives ------------------------------------------------ */

enum {
    K_CONSTANTS = 1,
    K_CODE = 2,
    K_DATA_DIR = 4,
    K_PY = 8,
    K_EXTERN = 16,
    K_MAR = 32,
    K_PT2 = 64
};

static int component_is(const uint8_t *c, size_t len, const char *what)
{
    size_t k = strlen(what);
    return len == k && miniz_name_cmp(c, k, (const uint8_t *)what, k) == 0;
}

/* Kinds from one '/'-separated component c[0..len): the last one, or a
 * directory; `index` counts components from 0, `rest` is how many bytes of
 * the name start at c. TorchScript's code/ directory is the first or second
 * component (under the archive prefix), with something in it, not any
 * directory named code deep in a tree. */
static unsigned component_kinds(const uint8_t *c, size_t len, int last, size_t index, size_t rest)
{
    if (last)
        return (component_is(c, len, "constants.pkl") ? K_CONSTANTS : 0) |
               (component_is(c, len, "extern_modules") ? K_EXTERN : 0) |
               (component_is(c, len, "archive_format") ? K_PT2 : 0);
    return (component_is(c, len, ".data") ? K_DATA_DIR : 0) |
           (index < 2 && rest > 5 && component_is(c, len, "code") ? K_CODE : 0);
}

static unsigned code_kinds(const zentry *e)
{
    const uint8_t *name = e->name;
    size_t n = zname_entry_cut(e);
    unsigned k = 0;
    for (size_t s = 0, index = 0;; index++) { /* component [s, end) */
        const uint8_t *slash = s < n ? memchr(name + s, '/', n - s) : NULL;
        size_t end = slash ? (size_t)(slash - name) : n;
        k |= component_kinds(name + s, end - s, !slash, index, n - s);
        if (!slash)
            break;
        s = end + 1;
    }
    /* TorchScript's own sources live under code/ (torch >= 1.13 may also
     * write .data/version): only a .py elsewhere is a torch.package module */
    k |= !(k & K_CODE) && zname_ends_with(name, n, ".py") ? K_PY : 0;
    k |= zname_ends_with(name, n, "MAR-INF/MANIFEST.json") ? K_MAR : 0;
    return k;
}

static void check_code_archive(zarchive *za)
{
    unsigned k = 0;
    const zview *views[2 + ZARCHIVE_MAX_OTHER] = {&za->torch, &za->py};
    size_t nv = za->py.shared ? 1 : 2; /* shared entries have the same kinds */
    for (size_t i = 0; i < za->nother; i++)
        views[nv++] = &za->other[i];
    for (size_t v = 0; v < nv; v++)
        for (size_t i = 0; i < views[v]->n; i++)
            k |= code_kinds(&views[v]->ent[i]);
    strbuf sb;
    sb_init(&sb, 600);
    if (k & (K_CONSTANTS | K_CODE))
        sb_printf(&sb,
                  "TorchScript (%s%s%s): torch.load hands it to torch.jit.load (even under "
                  "weights_only=True before torch 2.6), which compiles and runs its code",
                  k & K_CONSTANTS ? "constants.pkl" : "",
                  (k & K_CONSTANTS) && (k & K_CODE) ? ", " : "", k & K_CODE ? "code/" : "");
    if ((k & K_EXTERN) || ((k & K_DATA_DIR) && (k & K_PY)))
        sb_printf(&sb, "%storch.package (%s): its Python modules are imported on load",
                  sb.len ? "; " : "", k & K_EXTERN ? "extern_modules" : ".data/ and *.py");
    if (k & K_MAR)
        sb_printf(&sb, "%sTorchServe .mar (MAR-INF/MANIFEST.json): its handler code runs",
                  sb.len ? "; " : "");
    if (k & K_PT2)
        sb_printf(&sb, "%s.pt2 (archive_format): torch.export archives carry code and pickles",
                  sb.len ? "; " : "");
    /* TorchScript alone: its code is TorchScript, compiled by torch.jit, not
     * Python that imports modules; never SAFE, not DANGEROUS for that alone
     * (issue 13). torch.package, .mar and .pt2 run Python: dangerous. */
    int script_only = !(k & (K_EXTERN | K_MAR | K_PT2)) && !((k & K_DATA_DIR) && (k & K_PY));
    if (sb.len) {
        sb_puts(&sb, "; every pickle in it was scanned");
        finding_in f = {CKPT_F_CODE_ARCHIVE,
                        script_only ? CKPT_SEV_SUSPICIOUS : -1,
                        za->member,
                        0,
                        NULL,
                        NULL,
                        NULL,
                        sb_cstr(&sb)};
        report_add(za->ctx->rep, &f);
    }
    sb_free(&sb);
}

/* ---- torch's own rules ------------------------------------------------------ */

static int torch_targeted(const zview *v)
{
    for (size_t i = 0; i < v->n; i++) {
        const zentry *e = &v->ent[i];
        size_t n = zname_entry_cut(e);
        if (zname_ends_with(e->name, n, "data.pkl") || zname_ends_with(e->name, n, "constants.pkl"))
            return 1;
    }
    return 0;
}

static void check_torch_rejects(zarchive *za)
{
    if (za->len < 4 || load_le32(za->buf) != ZSIG_LOCAL)
        return; /* reported as prepended bytes */
    if (!torch_targeted(&za->torch) && !torch_targeted(&za->py))
        return;
    const char *why = torch_rejects_archive(za);
    if (why)
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, NULL, 0,
                         "torch.load rejects this archive: %s; every entry was scanned anyway",
                         why);
}

void zarchive_check(zarchive *za)
{
    check_prepended(za);
    const zview *main = za->torch.found ? &za->torch : &za->py;
    check_trailing(za, main);
    check_zip64(za, main);
    if (za->py.found && za->py.eocd != main->eocd)
        check_zip64(za, &za->py);
    check_other_ends(za);
    check_disagreement(za);
    if (za->torch.readable)
        check_duplicates_torch(za);
    if (za->py.readable)
        check_python_names(za);
    check_layout(za, za->py.readable ? &za->py : &za->torch);
    check_code_archive(za);
    check_torch_rejects(za);
}

/* ---- one entry -------------------------------------------------------------- */

static int escapes_root(const uint8_t *name, size_t n)
{
    if (n && (name[0] == '/' || name[0] == '\\'))
        return 1;
    if (n >= 2 && name[1] == ':')
        return 1;
    for (size_t i = 0; i + 2 <= n; i++)
        if ((i == 0 || name[i - 1] == '/' || name[i - 1] == '\\') && name[i] == '.' &&
            name[i + 1] == '.' && (i + 2 == n || name[i + 2] == '/' || name[i + 2] == '\\'))
            return 1;
    return 0;
}

/* An entry's shown name, made only when a finding needs it: most entries
 * have none, and a million names would fill the report's memory. */
typedef struct lazy_name {
    const zentry *e;
    const char *s;
} lazy_name;

static const char *name_of(zarchive *za, lazy_name *n)
{
    if (!n->s)
        n->s = zarchive_shown_name(za, n->e);
    return n->s;
}

static void check_local(zarchive *za, const zentry *e, const zlocal *l, lazy_name *shown)
{
    uint64_t avail = e->local + ZLEN_LOCAL <= za->len ? za->len - e->local - ZLEN_LOCAL : 0;
    size_t ln = e->l_name_len < avail ? e->l_name_len : (size_t)avail;
    if ((ln != e->name_len || memcmp(l->name, e->name, ln) != 0) && note_allowed(za)) {
        char tmp[512];
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, name_of(za, shown), e->local,
            "the local header names it '%s': torch.load ignores the local name, zipfile "
            "refuses the member",
            escaped(tmp, sizeof(tmp), l->name, ln));
    }
    if ((l->flags != e->flags || l->method != e->method) && note_allowed(za))
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, name_of(za, shown), e->local,
            "the local header says flags 0x%04x method %u, the central directory flags "
            "0x%04x method %u: loaders use the central values, streaming readers the local",
            l->flags, l->method, e->flags, e->method);
}

static void check_sizes(zarchive *za, const zentry *e, const zlocal *l, lazy_name *shown)
{
    uint32_t crc = l->crc;
    uint64_t comp = l->comp, uncomp = l->uncomp;
    const char *what = "local header";
    if (e->flags & ZFLAG_DESCRIPTOR) {
        zdesc d;
        if (e->desc_match)
            return; /* what the comparison below finds */
        if (zrecord_descriptor(za->buf, za->len, e, &d) == 0) {
            if (note_allowed(za))
                zarchive_finding(
                    za, CKPT_F_ARCHIVE_ANOMALY, name_of(za, shown), e->data,
                    "flag bit 3 promises a data descriptor, but none fits after the data");
            return;
        }
        crc = d.crc;
        comp = d.comp;
        uncomp = d.uncomp;
        what = "data descriptor";
    } else if (comp == 0xffffffffu && uncomp == 0xffffffffu) {
        return; /* zip64: the sizes are in the local extra field */
    }
    if ((crc != e->crc || comp != e->comp || uncomp != e->uncomp) && note_allowed(za))
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, name_of(za, shown), e->local,
            "the %s says crc %08x, %llu -> %llu bytes; the central directory crc %08x, "
            "%llu -> %llu: readers that trust the %s see other bounds",
            what, (unsigned)crc, (unsigned long long)comp, (unsigned long long)uncomp,
            (unsigned)e->crc, (unsigned long long)e->comp, (unsigned long long)e->uncomp, what);
}

void zarchive_check_entry(zarchive *za, const zentry *e)
{
    lazy_name shown_ = {e, NULL}, *shown = &shown_;
    if (zname_entry_cut(e) != e->name_len && note_allowed(za))
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, name_of(za, shown), e->cd_pos,
            "the name holds a NUL byte: zipfile cuts it there, torch.load compares the "
            "whole name");
    if (escapes_root(e->name, e->name_len) && note_allowed(za))
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, name_of(za, shown), e->cd_pos,
            "the name is absolute or climbs out with '..' (path traversal on extraction)");
    if ((e->flags & ZFLAG_MASKED) && note_allowed(za))
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, name_of(za, shown), e->cd_pos,
                         "flag bit 13 (masked local headers): miniz rejects the whole archive");
    if (miniz_is_dir(e) && e->comp > 0 && note_allowed(za))
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, name_of(za, shown), e->cd_pos,
                         "marked as a directory but holds %llu bytes: miniz returns no data for it",
                         (unsigned long long)e->comp);
    if (!e->has_local)
        return;
    zlocal l = zrecord_local_fields(za->buf, e);
    check_local(za, e, &l, shown);
    check_sizes(za, e, &l, shown);
}

void zarchive_check_headless(zarchive *za, const zview *v)
{
    for (size_t i = 0; i < v->n; i++) {
        const zentry *e = &v->ent[i];
        if (!e->has_local && note_allowed(za))
            zarchive_finding(
                za, CKPT_F_ARCHIVE_ANOMALY, zarchive_shown_name(za, e), e->cd_pos,
                "%s finds no local header where the central directory points (%llu): it "
                "cannot read this entry",
                v->who, (unsigned long long)e->local);
    }
}

void zarchive_notes_summary(zarchive *za)
{
    if (za->notes > ZMAX_NOTES)
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, NULL, 0,
                         "%llu more entry anomalies were counted but not listed",
                         (unsigned long long)(za->notes - ZMAX_NOTES));
}
