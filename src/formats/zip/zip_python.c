/* SPDX-License-Identifier: Apache-2.0 */
/* Python's zipfile view of a zip (CPython 3.11 Lib/zipfile.py), used by
 * numpy for .npz and by Python scanners: offsets corrected for prepended
 * data, the zip64 record right before its locator, entries read until the
 * central directory's size is used up, names decoded (cp437 or UTF-8) and
 * cut at NUL, case-sensitive lookups where the last duplicate wins, local
 * names compared, CRC checked at the end of each member. */
#include <stdlib.h>
#include <string.h>

#include "pytext.h"
#include "zip_internal.h"

#define MAX_EXTRACT_VERSION 63

/* _EndRecData64: a locator right before the end record, then a zip64 end
 * record right before the locator, whatever offset the locator gives. */
static void python_zip64(zview *v, const uint8_t *buf, uint64_t len)
{
    zlocator l;
    if (!zrecord_locator(buf, len, v->eocd, &l))
        return; /* no locator, or the seek fails: no zip64 */
    v->locator_off = l.off;
    if (l.disk != 0 || l.disks > 1) {
        v->fail = "zipfiles that span multiple disks are not supported";
        return;
    }
    if (v->eocd < ZLEN_LOCATOR + ZLEN_EOCD64) {
        v->fail = "the zip64 end record would start before the file (seek error)";
        return;
    }
    uint64_t rec_size; /* zipfile ignores it */
    (void)zrecord_eocd64(v, buf, len, v->eocd - ZLEN_LOCATOR - ZLEN_EOCD64, &rec_size);
}

/* ZipInfo._decodeExtra: every field must fit; each 0x0001 field replaces
 * the 32-bit values still at their maximum. */
static const char *python_extra(zcentral *z)
{
    zentry *e = &z->e;
    zcur c = zcur_at(z->extra, z->extra_len, 0);
    while (c.end - c.pos >= 4) {
        uint16_t id = zcur_u16(&c), size = zcur_u16(&c);
        zcur f = zcur_at(z->extra, c.pos + size, c.pos);
        if (!zcur_take(&c, size))
            return "a corrupt extra field";
        if (id != 1)
            continue;
        if (e->uncomp == 0xffffffffu || e->uncomp == UINT64_MAX)
            e->uncomp = zcur_u64(&f);
        if (f.ok && e->comp == 0xffffffffu)
            e->comp = zcur_u64(&f);
        if (f.ok && e->local == 0xffffffffu)
            e->local = zcur_u64(&f);
        if (!f.ok)
            return "a corrupt zip64 extra field";
    }
    return NULL;
}

/* Why ZipFile() itself fails on this entry (the whole archive), or NULL. */
static const char *python_entry_rejects(zcentral *z)
{
    const zentry *e = &z->e;
    if ((e->flags & ZFLAG_UTF8) && !py_utf8_valid(e->name, e->name_len, 0))
        return "a name flagged UTF-8 is not valid UTF-8";
    if ((z->needed & 0xff) > MAX_EXTRACT_VERSION)
        return "an entry needs zip version > 6.3 (NotImplementedError)";
    return python_extra(z);
}

/* header_offset + concat, where concat = start_dir - stated offset. */
static uint64_t python_local(const zview *v, uint64_t header_offset)
{
    uint64_t sum;
    if (add_overflows(header_offset, v->cd_off, &sum) || sum < v->stated_off)
        return UINT64_MAX;
    return sum - v->stated_off;
}

/* The loop of _RealGetContents over buf[start_dir, start_dir + size). */
static void python_entries(zview *v, const uint8_t *buf, uint64_t len, uint64_t max_members)
{
    uint64_t end, total = 0;
    if (add_overflows(v->cd_off, v->cd_size, &end) || end > len)
        end = len; /* fp.read(size_cd) returns what there is */
    zview_reserve(v, UINT64_MAX, end - v->cd_off, max_members);
    while (total < v->cd_size) {
        if (v->n >= max_members) {
            v->limited = 1;
            return;
        }
        zcur c = zcur_at(buf, end, v->cd_off + total);
        zcentral tmp;
        if (!zrecord_central(&c, &tmp, 1)) {
            if (!v->fail)
                v->fail = range_fits(v->cd_off + total, ZLEN_CENTRAL, end)
                              ? "bad magic number for central directory"
                              : "truncated central directory";
            break;
        }
        /* the header's lengths, even when the reads came back short */
        const uint8_t *h = buf + tmp.e.cd_pos;
        uint64_t size =
            ZLEN_CENTRAL + (uint64_t)load_le16(h + 28) + load_le16(h + 30) + load_le16(h + 32);
        const char *bad = python_entry_rejects(&tmp);
        if (bad && !v->fail)
            v->fail = bad;
        zentry *e = zview_push(v);
        if (!e)
            return;
        *e = tmp.e;
        e->local = python_local(v, e->local);
        total += size;
    }
}

/* Entry i's _end_offset: zipfile sorts the header offsets (stable,
 * descending) and ends each entry where the one before it in that order
 * starts (the directory for the first): an earlier entry at the same
 * offset, else the next offset up. Only tests ask, so no sorted copy. */
static uint64_t python_end_offset(const zview *v, size_t i)
{
    uint64_t at = v->ent[i].local, next = v->cd_off;
    int found = 0;
    for (size_t j = 0; j < v->n; j++) {
        uint64_t o = v->ent[j].local;
        if (o == UINT64_MAX || o < at || (o == at && j >= i))
            continue;
        if (o == at)
            return at;
        if (!found || o < next)
            next = o, found = 1;
    }
    return next;
}

/* The local name as zipfile reads it (short at EOF) equals the central
 * name before the NUL cut (orig_filename), each decoded with its own flag. */
static int python_local_name_ok(const uint8_t *buf, uint64_t len, const zentry *e)
{
    uint64_t at = e->local + ZLEN_LOCAL;
    uint64_t n = e->l_name_len;
    if (at > len)
        n = 0;
    else if (n > len - at)
        n = len - at;
    zlocal l = zrecord_local_fields(buf, e);
    if ((l.flags & ZFLAG_UTF8) && !py_utf8_valid(l.name, n, 0))
        return 0;
    return zipfile_name_cmp(e->name, e->name_len, (e->flags & ZFLAG_UTF8) != 0, l.name, n,
                            (l.flags & ZFLAG_UTF8) != 0, 0) == 0;
}

/* ZipFile.open's checks, in its order. */
static const char *python_refuses(const uint8_t *buf, uint64_t len, const zentry *e,
                                  uint64_t end_offset)
{
    if (!e->has_local)
        return "no local header where the central directory points";
    if (e->flags & ZFLAG_PATCHED)
        return "compressed patched data (flag bit 5)";
    if (e->flags & ZFLAG_STRONG)
        return "strong encryption (flag bit 6)";
    if (!python_local_name_ok(buf, len, e))
        return "the local header's name differs from the central directory's";
    uint64_t data_end;
    if (add_overflows(e->data, e->comp, &data_end) || data_end > end_offset)
        return "overlapped entries (possible zip bomb)";
    if (e->flags & ZFLAG_ENCRYPTED)
        return "encrypted (password required)";
    if (e->method != ZMETHOD_STORED && e->method != ZMETHOD_DEFLATE && e->method != ZMETHOD_BZIP2 &&
        e->method != ZMETHOD_LZMA)
        return "an unsupported compression method";
    return NULL;
}

const char *zipfile_open_refuses(const zview *v, const uint8_t *buf, uint64_t len, size_t i)
{
    const zentry *e = &v->ent[i];
    uint64_t end = e->has_local ? python_end_offset(v, i) : 0; /* else unused */
    return python_refuses(buf, len, e, end);
}

/* The end records and where the directory starts: 0 when zipfile gives up
 * before listing entries. */
static int python_directory(zview *v, const uint8_t *buf, uint64_t len, uint64_t eocd_at)
{
    memset(v, 0, sizeof(*v));
    v->rules = ZRULES_ZIPFILE;
    v->who = "Python's zipfile";
    int found = 1;
    if (eocd_at != UINT64_MAX)
        v->eocd = eocd_at;
    else
        found = zipfile_find_eocd(buf, len, &v->eocd);
    if (found <= 0) {
        v->fail = found < 0 ? "the last end-record signature has fewer than 22 bytes after it "
                              "(not a zip file)"
                            : "no end of central directory record";
        return 0;
    }
    v->found = 1;
    zrecord_eocd(v, buf, len);
    python_zip64(v, buf, len);
    if (v->fail)
        return 0;
    /* start_dir = stated offset + concat = end record - size (- zip64). */
    uint64_t before;
    if (add_overflows(v->cd_size, v->zip64 ? ZLEN_EOCD64 + ZLEN_LOCATOR : 0, &before) ||
        before > v->eocd) {
        v->fail = "bad offset for central directory";
        return 0;
    }
    v->cd_off = v->eocd - before;
    return 1;
}

static void python_list(zview *v, const uint8_t *buf, uint64_t len, uint64_t max_members)
{
    python_entries(v, buf, len, max_members);
    for (size_t i = 0; i < v->n; i++)
        zrecord_local(buf, len, &v->ent[i]);
}

void zipfile_view(zview *v, const uint8_t *buf, uint64_t len, uint64_t max_members,
                  uint64_t eocd_at)
{
    if (!python_directory(v, buf, len, eocd_at))
        return;
    python_list(v, buf, len, max_members);
    v->readable = v->n > 0 || (v->cd_size == 0 && !v->fail);
}

/* 1 when _RealGetContents would list exactly t's entries with t's values:
 * miniz read every entry the end record counts, contiguously from where
 * zipfile starts (no prepended data: concat is 0, so header offsets are
 * the same), spanning exactly zipfile's directory size (so zipfile's loop
 * visits the same headers, none cut short, and no more), and no 32-bit
 * size or offset is a zip64 sentinel (the two loaders' zip64 rules differ
 * only for those). max-members: t holds at most that many. */
static int python_same_entries(const zview *v, const zview *t)
{
    return t->rules == ZRULES_MINIZ && !t->limited && !t->nomem && t->n == t->count && !t->wide &&
           v->stated_off == v->cd_off && t->stated_off == v->cd_off && t->cd_used == v->cd_size;
}

/* ZipFile()'s per-entry checks on an entry already parsed (the fields
 * python_entry_rejects needs, again from its central header). */
static const char *python_rejects_parsed(const uint8_t *buf, const zentry *e)
{
    const uint8_t *h = buf + e->cd_pos;
    zcentral z = {*e,
                  h + ZLEN_CENTRAL + e->name_len,
                  load_le16(h + 30),
                  load_le16(h + 32),
                  load_le16(h + 6),
                  load_le16(h + 12),
                  load_le16(h + 34)};
    return python_entry_rejects(&z); /* no sentinel: changes nothing in z.e */
}

void zipfile_view_beside(zview *v, const zview *torch, const uint8_t *buf, uint64_t len,
                         uint64_t max_members)
{
    if (!python_directory(v, buf, len, UINT64_MAX))
        return;
    if (python_same_entries(v, torch)) {
        for (size_t i = 0; i < torch->n && !v->fail; i++)
            v->fail = python_rejects_parsed(buf, &torch->ent[i]);
        v->ent = torch->ent;
        v->n = v->cap = torch->n;
        v->shared = 1;
    } else {
        python_list(v, buf, len, max_members);
    }
    v->readable = v->n > 0 || (v->cd_size == 0 && !v->fail);
}

long zipfile_locate(const zview *v, const char *name, size_t len)
{
    for (size_t i = v->n; i-- > 0;) {
        const zentry *e = &v->ent[i];
        if (zipfile_name_cmp(e->name, e->name_len, (e->flags & ZFLAG_UTF8) != 0,
                             (const uint8_t *)name, len, 1, 1) == 0)
            return (long)i;
    }
    return -1;
}
