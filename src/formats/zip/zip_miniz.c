/* SPDX-License-Identifier: Apache-2.0 */
/* torch.load's view of a zip: miniz 2.1.0 as built into torch
 * (caffe2/serialize/inline_container.cc, MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS)
 * and PyTorchStreamReader's own rules on top of it.
 *
 * Checked against Debian's python3-torch 1.13 with the layouts of
 * fixtures/gen_zip_attacks.py (harmless payloads), torch.load results:
 *   archive/DATA.PKL               loads it (case-insensitive lookup)
 *   bad CRC-32 on data.pkl         loads it (CRC never checked)
 *   central flag bit 0, 5 or 6     "failed retrieving file" (refused)
 *   flag bits only in local header loads it (local flags ignored)
 *   central flag bit 13            "failed reading zip archive" (whole archive)
 *   local name != central name     loads it (local name ignored)
 *   2 x archive/data.pkl in 4      loads the SECOND entry, whichever it is;
 *     entries (also DATA.pkl)      zipfile takes the last exact match
 *   bytes prepended                not a zip: unpickled as a legacy file
 *   fake end record in comment     uses it (the last signature)
 *   'PK\5\6' + 3 bytes at EOF      loads (skipped); zipfile: "not a zip file"
 *   zip64 locator -> record A,     uses A (absolute offset from the locator);
 *     record B right before it     zipfile uses B
 *   end record count 3, CD holds 4 reads 3 entries; zipfile reads 4
 *   version needed 64, bad extra   loads; zipfile refuses the archive
 *   bzip2 / method 99              "failed retrieving file"
 *   NUL inside data.pkl's name     "failed locating file data.pkl"
 *   entry outside 'archive/'       refused before data.pkl (getAllRecords)
 *   no 'version' record            refused before data.pkl
 *   constants.pkl present          handed to torch.jit.load */
#include <stdlib.h>
#include <string.h>

#include "zip_internal.h"

/* The zip64 locator right before the end record gives the ABSOLUTE offset
 * of the zip64 end record (miniz 3.x first tries right before the locator,
 * as zipfile does; zip_check.c reports when the two differ). */
static void miniz_zip64(zview *v, const uint8_t *buf, uint64_t len)
{
    zlocator l;
    if (v->eocd < ZLEN_LOCATOR + ZLEN_EOCD64 || !zrecord_locator(buf, len, v->eocd, &l))
        return;
    v->locator_off = l.off;
    if (l.off > len - ZLEN_EOCD64) {
        v->fail = "the zip64 locator points past the end of the file";
        return;
    }
    uint64_t rec_size;
    if (!zrecord_eocd64(v, buf, len, l.off, &rec_size))
        return;
    if (rec_size < ZLEN_EOCD64 - 12)
        v->fail = "the zip64 end record is too short";
    else if (l.disks != 1 || v->count > UINT32_MAX || v->count_disk > UINT32_MAX)
        v->fail = "the zip64 end record names several disks or too many entries";
    else if (v->cd_size > UINT32_MAX)
        v->fail = "the zip64 central directory is larger than miniz accepts";
}

/* The end-record checks of mz_zip_reader_read_central_dir. */
static void miniz_end_checks(zview *v, uint64_t len)
{
    int disks_bad = (v->disk_no | v->cd_disk) != 0 && (v->disk_no != 1 || v->cd_disk != 1);
    if (!v->fail && (v->count != v->count_disk || disks_bad))
        v->fail = "the end records span several disks";
    /* m_total_files * 46 is computed in 32 bits. */
    if (!v->fail && v->cd_size < (uint32_t)(v->count * ZLEN_CENTRAL))
        v->fail = "the central directory is smaller than its entry count needs";
    uint64_t end;
    if (!v->fail && (add_overflows(v->stated_off, v->cd_size, &end) || end > len))
        v->fail = "the central directory runs past the end of the file";
}

/* The zip64 extended-information field, as mz_zip_file_stat_internal reads
 * it: only when a 32-bit field is 0xFFFFFFFF, the first 0x0001 field wins.
 * Returns NULL or why the entry cannot be read. */
static const char *miniz_zip64_extra(zcentral *z)
{
    zentry *e = &z->e;
    if (e->comp != 0xffffffffu && e->uncomp != 0xffffffffu && e->local != 0xffffffffu)
        return NULL;
    zcur c = zcur_at(z->extra, z->extra_len, 0);
    while (c.pos < c.end) {
        uint16_t id = zcur_u16(&c), size = zcur_u16(&c);
        zcur f = zcur_at(z->extra, c.pos + size, c.pos);
        if (!c.ok || !zcur_take(&c, size))
            return "a malformed extra field";
        if (id != 1)
            continue;
        if (e->uncomp == 0xffffffffu)
            e->uncomp = zcur_u64(&f);
        if (e->comp == 0xffffffffu)
            e->comp = zcur_u64(&f);
        if (e->local == 0xffffffffu)
            e->local = zcur_u64(&f);
        return f.ok ? NULL : "a truncated zip64 extra field";
    }
    return NULL;
}

/* Per-entry checks of mz_zip_reader_read_central_dir that reject the whole
 * archive (the cursor stays in step, so parsing goes on for the scan). */
static const char *miniz_entry_rejects(const zview *v, const zcentral *z, uint64_t len,
                                       int *ext_info)
{
    const zentry *e = &z->e;
    uint64_t c32 = e->comp, u32 = e->uncomp, l32 = e->local;
    if (!*ext_info && z->extra_len &&
        (c32 == 0xffffffffu || u32 == 0xffffffffu || l32 == 0xffffffffu)) {
        zcur c = zcur_at(z->extra, z->extra_len, 0);
        while (c.pos < c.end) {
            uint16_t id = zcur_u16(&c), size = zcur_u16(&c);
            if (!c.ok || !zcur_take(&c, size))
                return "an entry has a malformed extra field";
            if (id == 1) {
                *ext_info = 1;
                break;
            }
        }
    }
    /* LE32 at the method offset reads the method AND the time field. */
    int stored32 = e->method == 0 && z->mtime == 0;
    if (c32 != 0xffffffffu && u32 != 0xffffffffu && ((stored32 && u32 != c32) || (u32 && !c32)))
        return "an entry's sizes are inconsistent";
    if (z->disk == 0xffff || (z->disk != v->disk_no && z->disk != 1))
        return "an entry lives on another disk";
    if (c32 != 0xffffffffu && l32 + ZLEN_LOCAL + c32 > len)
        return "an entry's data runs past the end of the file";
    if (e->flags & ZFLAG_MASKED)
        return "an entry has flag bit 13 (masked local headers)";
    return NULL;
}

/* mz_zip_reader_is_file_a_directory. */
int miniz_is_dir(const zentry *e)
{
    return (e->name_len && e->name[e->name_len - 1] == '/') || e->dos_dir;
}

/* What mz_zip_reader_extract_to_mem refuses for one entry. A directory or
 * an entry with no compressed bytes "succeeds" with nothing read, before
 * any other check (torch then hands on an uninitialised buffer). */
static const char *miniz_refuses(const zentry *e, uint64_t len)
{
    if (miniz_is_dir(e) || e->comp == 0)
        return NULL;
    if (e->flags & (ZFLAG_ENCRYPTED | ZFLAG_STRONG))
        return "encrypted";
    if (e->flags & ZFLAG_PATCHED)
        return "a patch entry (flag bit 5)";
    if (e->method != ZMETHOD_STORED && e->method != ZMETHOD_DEFLATE)
        return "an unsupported compression method";
    if (!e->has_local)
        return "no local header where the central directory points";
    uint64_t end;
    if (add_overflows(e->data, e->comp, &end) || end > len)
        return "its data runs past the end of the file";
    return NULL;
}

/* 1 when a 32-bit size or offset is at its zip64 sentinel: only then do
 * the loaders' zip64 rules give the entry different values. */
static int sentinel_wide(const zentry *e)
{
    return e->comp == 0xffffffffu || e->uncomp == 0xffffffffu || e->local == 0xffffffffu;
}

static void miniz_entries(zview *v, const uint8_t *buf, uint64_t len, uint64_t max_members)
{
    zcur c = zcur_at(buf, v->stated_off + v->cd_size, v->stated_off);
    int ext_info = 0;
    zview_reserve(v, v->count, v->cd_size, max_members);
    for (uint64_t i = 0; i < v->count; i++) {
        if (i >= max_members) {
            v->limited = 1;
            return;
        }
        zcentral tmp;
        if (!zrecord_central(&c, &tmp, 0)) {
            if (!v->fail)
                v->fail = "a central directory entry is truncated or has a bad signature";
            return;
        }
        const char *bad = miniz_entry_rejects(v, &tmp, len, &ext_info);
        if (bad && !v->fail)
            v->fail = bad;
        zentry *e = zview_push(v);
        if (!e)
            return;
        v->wide |= sentinel_wide(&tmp.e);
        (void)miniz_zip64_extra(&tmp); /* its verdict: miniz_extract_refuses */
        *e = tmp.e;
        zrecord_local(buf, len, e);
        v->cd_used = c.pos - v->stated_off;
    }
}

const char *miniz_extract_refuses(const zview *v, const uint8_t *buf, uint64_t len, size_t i)
{
    const zentry *e = &v->ent[i];
    zcur c = zcur_at(buf, v->stated_off + v->cd_size, e->cd_pos);
    zcentral raw;
    (void)zrecord_central(&c, &raw, 0); /* parsed the same way before */
    const char *why = miniz_zip64_extra(&raw);
    return why ? why : miniz_refuses(e, len);
}

void miniz_view(zview *v, const uint8_t *buf, uint64_t len, uint64_t max_members)
{
    memset(v, 0, sizeof(*v));
    v->rules = ZRULES_MINIZ;
    v->who = "torch.load (miniz)";
    if (!miniz_find_eocd(buf, len, &v->eocd)) {
        v->fail = "no end of central directory record";
        return;
    }
    v->found = 1;
    zrecord_eocd(v, buf, len);
    miniz_zip64(v, buf, len);
    if (v->fail && !v->zip64)
        return; /* the locator points outside the file: nothing was read */
    miniz_end_checks(v, len);
    v->cd_off = v->stated_off; /* absolute: no correction for prepended data */
    uint64_t end;
    if (add_overflows(v->stated_off, v->cd_size, &end) || end > len)
        return;
    miniz_entries(v, buf, len, max_members);
    v->readable = v->n > 0 || (v->count == 0 && !v->fail);
}

/* ---- the sorted index and lookups ------------------------------------- */

/* miniz's heap sort, comparing names by their rank in the sorted order
 * (equal names, equal rank): the same comparisons come out the same, so the
 * result is miniz's, at the cost of integer compares. */
static void sift(const uint32_t *rank, uint32_t *ix, uint64_t root, uint64_t size)
{
    for (;;) {
        uint64_t child = (root << 1) + 1;
        if (child >= size)
            return;
        child += (child + 1 < size) && rank[ix[child]] < rank[ix[child + 1]];
        if (!(rank[ix[root]] < rank[ix[child]]))
            return;
        uint32_t t = ix[root];
        ix[root] = ix[child];
        ix[child] = t;
        root = child;
    }
}

static void heap_sort(const uint32_t *rank, uint32_t *ix, uint32_t size)
{
    for (uint32_t i = 0; i < size; i++)
        ix[i] = i;
    if (size <= 1)
        return;
    for (uint32_t start = (size - 2) >> 1;; start--) {
        sift(rank, ix, start, size);
        if (!start)
            break;
    }
    for (uint32_t end = size - 1; end > 0; end--) {
        uint32_t t = ix[end];
        ix[end] = ix[0];
        ix[0] = t;
        sift(rank, ix, 0, end);
    }
}

/* Reorders equal names as miniz's heap sort leaves them (the order of
 * duplicates depends on the count and positions: it tells which one torch
 * reads). `ix` holds a sorted order, `same` its equal-name marks. */
static int heap_order(size_t n, uint32_t *ix, const uint8_t *same)
{
    uint32_t *rank = calloc(n, sizeof(*rank));
    if (!rank)
        return 0;
    uint32_t r = 0;
    for (size_t i = 0; i < n; i++) {
        r += i > 0 && !same[i];
        rank[ix[i]] = r;
    }
    heap_sort(rank, ix, (uint32_t)n);
    free(rank);
    return 1;
}

/* mz_zip_reader_sort_central_dir_offsets_by_filename. */
uint32_t *miniz_sort_shared(const zview *v, uint8_t *shared)
{
    size_t n = v->n ? v->n : 1;
    uint32_t *ix = calloc(n, sizeof(*ix));
    uint8_t *same = calloc(n, 1);
    int dups = 0;
    if (!ix || !same || !zname_sort(v, 1, ix, same)) {
        free(ix);
        free(same);
        return NULL;
    }
    if (shared)
        memset(shared, 0, v->n);
    for (size_t i = 1; i < v->n; i++) {
        if (same[i] && shared)
            shared[ix[i]] = shared[ix[i - 1]] = 1;
        dups |= same[i];
    }
    /* all names distinct: the sorted order is unique, so it is miniz's */
    if (dups && !heap_order(v->n, ix, same)) {
        free(ix);
        ix = NULL;
    }
    free(same);
    return ix;
}

uint32_t *miniz_sort(const zview *v)
{
    return miniz_sort_shared(v, NULL);
}

/* mz_zip_locate_file_binary_search. */
long miniz_locate(const zview *v, const uint32_t *order, const char *name, size_t len)
{
    if (!order || v->n == 0)
        return -1;
    int64_t l = 0, h = (int64_t)v->n - 1;
    while (l <= h) {
        int64_t m = l + ((h - l) >> 1);
        const zentry *e = &v->ent[order[m]];
        int comp = miniz_name_cmp(e->name, e->name_len, (const uint8_t *)name, len);
        if (!comp)
            return (long)order[m];
        if (comp < 0)
            l = m + 1;
        else
            h = m - 1;
    }
    return -1;
}

/* ---- PyTorchStreamReader on top of miniz --------------------------------- */

/* The archive prefix: entry 0's name up to its first '/'. NULL when none. */
static const uint8_t *torch_prefix(const zview *v, size_t *plen)
{
    if (v->n == 0)
        return NULL;
    const zentry *e = &v->ent[0];
    const uint8_t *slash = e->name_len ? memchr(e->name, '/', e->name_len) : NULL;
    if (!slash)
        return NULL;
    *plen = (size_t)(slash - e->name);
    return e->name;
}

/* getRecord(prefix + "/" + record): the C string stops at a NUL in the
 * prefix. -1 when not found. */
static long torch_lookup(zarchive *za, const uint8_t *prefix, size_t plen, const char *record)
{
    char key[4096];
    size_t cut = zname_cut(prefix, plen);
    size_t rlen = strlen(record);
    if (cut + 1 + rlen >= sizeof(key))
        return -1;
    memcpy(key, prefix, cut);
    size_t n = cut;
    if (cut == plen) {
        key[n++] = '/';
        memcpy(key + n, record, rlen);
        n += rlen;
    }
    return miniz_locate(&za->torch, za->torch_order, key, n);
}

/* getAllRecords(), called by torch.load (_is_torchscript_zip) before
 * data.pkl: every name, as a C string, must start with prefix + "/". */
static int torch_all_under_prefix(const zview *v, const uint8_t *prefix, size_t plen)
{
    for (size_t i = 0; i < v->n; i++) {
        const zentry *e = &v->ent[i];
        size_t cut = zname_entry_cut(e);
        if (cut < plen + 1 || memcmp(e->name, prefix, plen) != 0 || e->name[plen] != '/')
            return 0;
    }
    return 1;
}

const char *torch_rejects_archive(zarchive *za)
{
    const zview *v = &za->torch;
    if (za->len < 4 || load_le32(za->buf) != ZSIG_LOCAL)
        return "the file does not start with a local header, so torch.load does not open it "
               "as a zip";
    if (!v->found || !v->readable)
        return v->fail ? v->fail : "miniz cannot read the central directory";
    if (v->fail)
        return v->fail;
    if (v->limited)
        return NULL; /* not every entry was read: no verdict on the rest */
    size_t plen = 0;
    const uint8_t *prefix = torch_prefix(v, &plen);
    if (!prefix)
        return "the first entry is not in a directory, so there is no archive prefix";
    if (!torch_all_under_prefix(v, prefix, plen))
        return "an entry lies outside the archive prefix (getAllRecords fails)";
    long ver = torch_lookup(za, prefix, plen, ".data/version");
    if (ver < 0)
        ver = torch_lookup(za, prefix, plen, "version");
    if (ver < 0)
        return "there is no 'version' record";
    if (miniz_extract_refuses(v, za->buf, za->len, (size_t)ver))
        return "the 'version' record cannot be read";
    long data = torch_lookup(za, prefix, plen, "data.pkl");
    if (data < 0)
        return "there is no data.pkl record under the archive prefix";
    return miniz_extract_refuses(v, za->buf, za->len, (size_t)data);
}

long torch_data_pkl(zarchive *za)
{
    size_t plen = 0;
    const uint8_t *prefix = torch_prefix(&za->torch, &plen);
    return prefix ? torch_lookup(za, prefix, plen, "data.pkl") : -1;
}
