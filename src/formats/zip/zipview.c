/* SPDX-License-Identifier: Apache-2.0 */
/* Zip archives as torch (miniz) and Python's zipfile read them: both views
 * (and readers of any other plausible end record) are built, every distinct
 * member reading is scanned once, and each anomaly is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bigmem.h"
#include "inventory.h"
#include "opcodes.h"
#include "runsort.h"
#include "zip_internal.h"

int zip_has_eocd(const uint8_t *buf, size_t len)
{
    uint64_t pos;
    return miniz_find_eocd(buf, len, &pos) || zipfile_find_eocd(buf, len, &pos) > 0;
}

/* ---- the views ----------------------------------------------------------- */

/* A view that lists entries, or an empty archive that is the file itself
 * (not a stray end-record signature inside other data). */
static int view_counts(const zarchive *za, const zview *v)
{
    if (!v->readable)
        return 0;
    return v->n > 0 || v->eocd == 0 || (za->len >= 2 && za->buf[0] == 'P' && za->buf[1] == 'K');
}

/* 1 when p lies inside some member's data in v: a nested archive's own end
 * record, not one of this archive's. */
static int inside_member(const zview *v, uint64_t p)
{
    for (size_t i = 0; i < v->n; i++) {
        const zentry *e = &v->ent[i];
        if (e->has_local && p >= e->data && p - e->data < e->comp)
            return 1;
    }
    return 0;
}

/* End-record signatures looked at besides the loaders' own: a hostile tail
 * full of them costs no more than this many directory reads. */
#define ZMAX_EOCD_TRIES 64

/* End records neither loader took, outside every member's data, that list
 * entries or whose comment reaches EOF exactly: the record another reader
 * (or a scanner checking the comment) takes, e.g. the real one when a fake
 * sits in its comment. Their entries are scanned too. */
static void add_other_views(zarchive *za, uint64_t max_members)
{
    uint64_t len = za->len;
    if (len < ZLEN_EOCD)
        return;
    uint64_t lo = len > 69584 ? len - 69584 : 0;
    unsigned tries = 0;
    for (uint64_t p = len - ZLEN_EOCD + 1;
         p-- > lo && za->nother < ZARCHIVE_MAX_OTHER && tries < ZMAX_EOCD_TRIES;) {
        if (load_le32(za->buf + p) != ZSIG_EOCD)
            continue;
        tries++;
        if ((za->torch.found && p == za->torch.eocd) || (za->py.found && p == za->py.eocd) ||
            inside_member(&za->torch, p) || inside_member(&za->py, p))
            continue;
        zview *o = &za->other[za->nother];
        zipfile_view(o, za->buf, len, max_members, p);
        if (o->n == 0 && p + ZLEN_EOCD + load_le16(za->buf + p + 20) != len) {
            zview_free(o);
            continue;
        }
        o->who = "another reader";
        za->nother++;
    }
}

static void zarchive_open(zarchive *za, scan_ctx *ctx, const char *member, const uint8_t *buf,
                          size_t len)
{
    memset(za, 0, sizeof(*za));
    za->ctx = ctx;
    za->member = member ? member : "";
    za->buf = buf;
    za->len = len;
    uint64_t max_members = ctx_limit(ctx, CKPT_LIMIT_MEMBERS);
    miniz_view(&za->torch, buf, len, max_members);
    zipfile_view_beside(&za->py, &za->torch, buf, len, max_members);
    za->torch_shared = calloc(za->torch.n ? za->torch.n : 1, 1);
    if (za->torch_shared)
        za->torch_order = miniz_sort_shared(&za->torch, za->torch_shared);
    add_other_views(za, max_members);
}

static void zarchive_close(zarchive *za)
{
    zview_free(&za->torch);
    zview_free(&za->py);
    for (size_t i = 0; i < za->nother; i++)
        zview_free(&za->other[i]);
    free(za->torch_order);
    free(za->torch_shared);
}

static int zarchive_readable(const zarchive *za)
{
    int any = view_counts(za, &za->torch) || view_counts(za, &za->py);
    for (size_t i = 0; i < za->nother; i++)
        any |= view_counts(za, &za->other[i]);
    return any;
}

/* ---- distinct readings --------------------------------------------------- */

/* One entry of one view; entries whose data is the same bytes read the same
 * way are scanned once, under the first name. */
typedef struct zitem zitem;
struct zitem {
    const zentry *e;
    int forced;   /* some name for these bytes is a pickle record */
    int dup;      /* an earlier item reads the same bytes */
    int first_cd; /* the first item with this central header */
    /* a pickle record whose compressed data starts where a longer one's
     * does: its reading is a prefix of that one's (prefix_of) */
    const zitem *prefix_of;
};

static int item_key_cmp(const void *a, const void *b)
{
    const zitem *x = *(const zitem *const *)a, *y = *(const zitem *const *)b;
    if (x->e->data != y->e->data)
        return x->e->data < y->e->data ? -1 : 1;
    if (x->e->comp != y->e->comp)
        return x->e->comp < y->e->comp ? -1 : 1;
    if (x->e->uncomp != y->e->uncomp)
        return x->e->uncomp < y->e->uncomp ? -1 : 1;
    if (x->e->method != y->e->method)
        return x->e->method < y->e->method ? -1 : 1;
    return x < y ? -1 : x > y; /* items are in gathering order */
}

/* torch's data.pkl, TorchScript's constants.pkl, every *.pkl (also the
 * name zipfile sees after its NUL cut) and TorchScript's .debug_pkl. */
static int pickle_record(const zentry *e)
{
    size_t cut = zname_entry_cut(e);
    return zname_ends_with(e->name, e->name_len, ".pkl") || zname_ends_with(e->name, cut, ".pkl") ||
           zname_ends_with(e->name, cut, ".debug_pkl");
}

/* A zipfile view that shares torch's entries adds only items that are the
 * torch items again (same central headers, same readings): left out. */
static zitem *gather(zarchive *za, size_t *count, size_t *views_gathered)
{
    const zview *views[2 + ZARCHIVE_MAX_OTHER] = {&za->torch, &za->py};
    size_t nv = za->py.shared ? 1 : 2, total = 0, n = 0;
    for (size_t i = 0; i < za->nother; i++)
        views[nv++] = &za->other[i];
    for (size_t v = 0; v < nv; v++)
        total += views[v]->n;
    zitem *it = big_calloc(total, sizeof(*it));
    if (!it)
        return NULL;
    for (size_t v = 0; v < nv; v++)
        for (size_t i = 0; i < views[v]->n; i++)
            if (views[v]->ent[i].has_local)
                it[n++] = (zitem){&views[v]->ent[i], pickle_record(&views[v]->ent[i]), 0, 0, NULL};
    *count = n;
    *views_gathered = nv;
    return it;
}

static int item_cd_cmp(const void *a, const void *b)
{
    const zitem *x = *(const zitem *const *)a, *y = *(const zitem *const *)b;
    if (x->e->cd_pos != y->e->cd_pos)
        return x->e->cd_pos < y->e->cd_pos ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Marks the first item of each central header (checked once). Items of
 * one view have a header each (its directory is read forwards). */
static void mark_first_cd(zitem **ord, size_t n, size_t views)
{
    if (views == 1) {
        for (size_t i = 0; i < n; i++)
            ord[i]->first_cd = 1;
        return;
    }
    runsort(ord, n, sizeof(*ord), item_cd_cmp);
    for (size_t i = 0; i < n; i++)
        ord[i]->first_cd = i == 0 || ord[i - 1]->e->cd_pos != ord[i]->e->cd_pos;
}

/* Marks every item but the first of each group of identical readings. */
static int dedup(zitem *it, size_t n, size_t views)
{
    zitem **ord = calloc(n ? n : 1, sizeof(*ord));
    if (!ord)
        return 0;
    for (size_t i = 0; i < n; i++)
        ord[i] = &it[i];
    mark_first_cd(ord, n, views);
    runsort(ord, n, sizeof(*ord), item_key_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        int forced = ord[i]->forced;
        while (j < n && ord[j]->e->data == ord[i]->e->data && ord[j]->e->comp == ord[i]->e->comp &&
               ord[j]->e->uncomp == ord[i]->e->uncomp && ord[j]->e->method == ord[i]->e->method) {
            forced |= ord[j]->forced;
            ord[j++]->dup = 1;
        }
        ord[i]->forced = forced;
        i = j;
    }
    free(ord);
    return 1;
}

static int item_stream_cmp(const void *a, const void *b)
{
    const zitem *x = *(const zitem *const *)a, *y = *(const zitem *const *)b;
    if (x->e->data != y->e->data)
        return x->e->data < y->e->data ? -1 : 1;
    if (x->e->method != y->e->method)
        return x->e->method < y->e->method ? -1 : 1;
    if (x->e->comp != y->e->comp) /* the longest input first */
        return x->e->comp > y->e->comp ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Pickle records over one compressed stream (same data offset and method)
 * with other sizes: a decoder given a prefix of a stream gives a prefix of
 * its output (and every cap is lower for less input), so each reading is a
 * prefix of the one with the most input, and its walk a prefix of that
 * walk. Only that one is decompressed and walked: n entries over one
 * stream cost the stream once, not n times. */
static int share_streams(zitem *it, size_t n)
{
    zitem **ord = calloc(n ? n : 1, sizeof(*ord));
    if (!ord)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!it[i].dup && it[i].forced && it[i].e->method != ZMETHOD_STORED)
            ord[k++] = &it[i];
    runsort(ord, k, sizeof(*ord), item_stream_cmp);
    for (size_t i = 1; i < k; i++) {
        const zitem *lead = ord[i - 1]->prefix_of ? ord[i - 1]->prefix_of : ord[i - 1];
        if (ord[i]->e->data == lead->e->data && ord[i]->e->method == lead->e->method)
            ord[i]->prefix_of = lead;
    }
    free(ord);
    return 1;
}

/* ---- scanning one reading ---------------------------------------------- */

static void report_limit(zarchive *za, const char *shown, const zbytes *b)
{
    char used[96];
    decompress_used_note(used, sizeof(used), b->hit, b->hit_used);
    zarchive_finding(za, CKPT_F_LIMIT, shown, 0,
                     "%s: %s (limit %llu%s); only its first %zu decompressed bytes were scanned",
                     ckpt_limit_name(b->hit), ckpt_limit_reason(b->hit),
                     (unsigned long long)b->hit_value, used, b->n);
}

/* Flags or methods no loader reads: said, then the raw bytes are scanned
 * anyway when we can (a reader that ignores the flag would run them). */
static int report_unreadable(zarchive *za, const zentry *e, const char *shown)
{
    const char *why = e->flags & ZFLAG_ENCRYPTED ? "encrypted (flag bit 0)"
                      : e->flags & ZFLAG_STRONG  ? "strongly encrypted (flag bit 6)"
                      : e->flags & ZFLAG_PATCHED ? "a patch entry (flag bit 5)"
                                                 : NULL;
    if (why)
        zarchive_finding(
            za, CKPT_F_UNSCANNED_MEMBER, shown, e->local,
            "%s: torch.load and zipfile refuse to read it, so its content cannot be checked "
            "as a loader would see it; its raw bytes were scanned as they are",
            why);
    return why != NULL;
}

static void check_content(zarchive *za, const zentry *e, const char *shown, const zbytes *b,
                          int flagged)
{
    if (b->corrupt && !flagged)
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, shown, e->data,
                         "the member's data is cut short or its compressed stream is broken");
    if (b->tinfl_only)
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, shown, e->data,
            "its deflate stream breaks rules zlib enforces (zipfile refuses it) but torch's "
            "miniz decodes %s of it: what miniz makes of it was scanned%s",
            b->corrupt ? "part" : "all",
            b->tinfl_unwritten ? "; it copies bytes miniz never wrote (torch's buffer "
                                 "holds whatever was there; read here as zeros)"
                               : "");
    if (!b->complete)
        return;
    if (b->n != e->uncomp)
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, shown, e->data,
            "it decompresses to %zu bytes but declares %llu: torch.load refuses it, zipfile "
            "stops at the declared size",
            b->n, (unsigned long long)e->uncomp);
    size_t n = b->n < e->uncomp ? b->n : (size_t)e->uncomp;
    uLong crc = crc32_z(0, b->p, n);
    if (crc != e->crc && !flagged)
        zarchive_finding(
            za, CKPT_F_ARCHIVE_ANOMALY, shown, e->local,
            "CRC-32 mismatch (stated %08lx, computed %08lx): torch.load never checks it, "
            "zipfile refuses the member at its end",
            (unsigned long)e->crc, (unsigned long)crc);
}

/* torch.load unpickles data.pkl from a buffer of the member's declared size
 * (the torch view's entry te) that miniz fills only as far as it inflates:
 * a failed deflate stream sets no error (PyTorchStreamReader::getRecord
 * ignores mz_zip_reader_extract_to_mem's result), and a distance-0 copy
 * leaves bytes unwritten. When the pickle's opcodes reach the first such
 * byte before a STOP (a skim: arguments only, no stack), torch runs opcodes
 * from uninitialised memory, which an attacker may groom. */
static void check_undetermined(zarchive *za, const zentry *te, const char *shown, const zbytes *b)
{
    if (!te || te->method != ZMETHOD_DEFLATE)
        return;
    size_t at = SIZE_MAX;
    if (b->miniz_failed && b->miniz_n < te->uncomp)
        at = b->miniz_n;
    if (b->tinfl_unwritten && b->unwritten_at < at && b->unwritten_at < te->uncomp)
        at = b->unwritten_at;
    if (at == SIZE_MAX || at > b->n)
        return;
    int ran_out = 0;
    if (pickle_skim_stop_ex(b->p, at, 0, &ran_out) != SIZE_MAX || !ran_out)
        return;
    zarchive_finding(
        za, CKPT_F_UNDETERMINED, shown, te->data,
        "torch.load unpickles this member from a buffer of its declared %llu bytes, which "
        "miniz fills only up to offset %zu (%s); the pickle reaches that offset before any "
        "STOP, so torch would run opcodes from uninitialised memory an attacker may groom",
        (unsigned long long)te->uncomp, at,
        at == b->unwritten_at && b->tinfl_unwritten
            ? "a distance-0 copy leaves bytes there unwritten"
            : "the deflate stream fails there and no error is set");
}

/* A compressed member that is not a pickle record: its first 64 KiB tell
 * whether it is worth decompressing whole (tensor data and plain .npy
 * arrays are not). */
static void read_sniffed(zarchive *za, const zentry *e, zbytes *b)
{
    zbytes_extract(za->ctx, za->buf, za->len, e, ZSNIFF_BYTES, b);
    if (b->complete || b->unsupported || !zbytes_worth_inflating(za->ctx, b->p, b->n))
        return;
    zbytes_free(b);
    zbytes_extract(za->ctx, za->buf, za->len, e, UINT64_MAX, b);
}

static void scan_item(zarchive *za, const zitem *it, const zentry *torch_main)
{
    const zentry *e = it->e;
    const char *shown = zarchive_shown_name(za, e);
    if (miniz_is_dir(e) && e->comp == 0 && e->uncomp == 0)
        return;
    int flagged = report_unreadable(za, e, shown);
    zbytes b;
    if (it->forced || e->method == ZMETHOD_STORED)
        zbytes_extract(za->ctx, za->buf, za->len, e, UINT64_MAX, &b);
    else
        read_sniffed(za, e, &b);
    if (b.unsupported) {
        zarchive_finding(
            za, CKPT_F_UNSCANNED_MEMBER, shown, e->local,
            "compression method %u: neither torch.load nor zipfile reads it, and ckptscan "
            "cannot decompress it: its content is unscanned",
            e->method);
        return;
    }
    if (b.hit != CKPT_LIMIT_COUNT_)
        report_limit(za, shown, &b);
    /* CRC and sizes only where everything was read anyway (pickle records,
     * members decompressed whole), never over tensor data. */
    if (it->forced || e->method != ZMETHOD_STORED)
        check_content(za, e, shown, &b, flagged);
    if (it->forced && !flagged)
        check_undetermined(za, torch_main, shown, &b);
    else if (b.corrupt)
        zarchive_finding(za, CKPT_F_ARCHIVE_ANOMALY, shown, e->data,
                         "its data runs past the end of the file");
    /* A pickle record that is really a container (a joblib .pkl compressed
     * with zlib, a zip named .pkl): scan_member takes every reading of it,
     * the pickle one included when it does anything. */
    int force = it->forced && !container_magic(b.p, b.n);
    uint64_t held = b.owned ? b.n : 0; /* counts against max-decompressed below */
    za->ctx->held += held;
    if (b.n > 0 || (force && b.hit == CKPT_LIMIT_COUNT_)) /* a cut to 0 bytes is not empty */
        ctx_scan_member(za->ctx, shown, b.p, b.n, force);
    za->ctx->held -= held;
    if (!b.owned) /* stored bytes: pages of the file mapping we are done with */
        ctx_release_pages(za->ctx, b.p, b.p + b.n);
    zbytes_free(&b);
}

static void scan_items(zarchive *za)
{
    size_t n = 0, views = 0;
    zitem *it = gather(za, &n, &views);
    if (!it || !dedup(it, n, views) || !share_streams(it, n)) {
        zarchive_finding(
            za, CKPT_F_UNSCANNED_MEMBER, NULL, 0,
            "out of memory while listing the archive's members: they were not scanned");
        free(it);
        return;
    }
    long main = *za->member ? -1 : torch_data_pkl(za);
    for (size_t i = 0; i < n; i++) {
        if (it[i].first_cd)
            zarchive_check_entry(za, it[i].e);
        if (it[i].dup)
            continue;
        if (it[i].prefix_of) {
            const zentry *e = it[i].e;
            zarchive_finding(
                za, CKPT_F_ARCHIVE_ANOMALY, zarchive_shown_name(za, e), e->local,
                "its compressed data (%llu bytes) starts where that of '%s' (%llu bytes) "
                "does: it reads a prefix of that member, scanned once under that name",
                (unsigned long long)e->comp, zarchive_shown_name(za, it[i].prefix_of->e),
                (unsigned long long)it[i].prefix_of->e->comp);
            continue;
        }
        int is_main = main >= 0 && it[i].e->data == za->torch.ent[main].data &&
                      it[i].e->method == za->torch.ent[main].method;
        insp_main_member(za->ctx, is_main);
        scan_item(za, &it[i], is_main ? &za->torch.ent[main] : NULL);
        insp_main_member(za->ctx, 0);
    }
    free(it);
    /* Missing local headers, as the loader that accepts the archive sees them
     * (a rejected view's misses are explained by its rejection). */
    if (za->py.readable && !za->py.fail)
        zarchive_check_headless(za, &za->py);
    else if (za->torch.readable && !za->torch.fail)
        zarchive_check_headless(za, &za->torch);
}

/* ---- verdict on the format ---------------------------------------------- */

static int any_name(const zview *v, const char *suffix)
{
    for (size_t i = 0; i < v->n; i++) {
        const zentry *e = &v->ent[i];
        if (zname_ends_with(e->name, zname_entry_cut(e), suffix))
            return 1;
    }
    return 0;
}

static ckpt_format zarchive_format(zarchive *za)
{
    if (!torch_rejects_archive(za))
        return CKPT_FORMAT_TORCH_ZIP;
    if (za->py.readable && any_name(&za->py, ".npy") && !any_name(&za->py, "data.pkl") &&
        !any_name(&za->torch, "data.pkl"))
        return CKPT_FORMAT_NPZ;
    return CKPT_FORMAT_ZIP;
}

static void report_members_limit(zarchive *za)
{
    int limited = za->torch.limited || za->py.limited;
    int nomem = za->torch.nomem || za->py.nomem;
    if (limited)
        zarchive_finding(za, CKPT_F_LIMIT, NULL, 0,
                         "max-members: %s (limit %llu); the rest were not scanned",
                         ckpt_limit_reason(CKPT_LIMIT_MEMBERS),
                         (unsigned long long)ctx_limit(za->ctx, CKPT_LIMIT_MEMBERS));
    if (nomem)
        zarchive_finding(za, CKPT_F_UNSCANNED_MEMBER, NULL, 0,
                         "out of memory while listing the archive: some members were not scanned");
}

int read_zip(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len, ckpt_format *format)
{
    zarchive za;
    zarchive_open(&za, ctx, member, buf, len);
    if (!zarchive_readable(&za)) {
        zarchive_close(&za);
        return 0;
    }
    zarchive_check(&za);
    report_members_limit(&za);
    scan_items(&za);
    zarchive_notes_summary(&za);
    *format = zarchive_format(&za);
    zarchive_inspect_members(&za, *format);
    zarchive_close(&za);
    return 1;
}
