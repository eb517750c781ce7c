/* SPDX-License-Identifier: Apache-2.0 */
/* Zip records shared by every view: end-record searches, central and local
 * headers, data descriptors and name comparisons, all bounds-checked. */
#include <stdlib.h>
#include <string.h>

#include "bigmem.h"
#include "pytext.h"
#include "zip_internal.h"

/* ---- end of central directory ------------------------------------------ */

static int eocd_sig_at(const uint8_t *buf, uint64_t pos)
{
    return load_le32(buf + pos) == ZSIG_EOCD;
}

/* miniz's mz_zip_reader_locate_header_sig, block by block as it reads: 4 KiB
 * blocks from the end, each searched backwards for the last signature with
 * at least 22 bytes after it; blocks step back by 4093 bytes and the search
 * stops after the first block that starts 65535 + 22 or more bytes before
 * EOF. So it covers the last 69584 bytes (4096 + 16 * 4093), not 64 KiB. */
int miniz_find_eocd(const uint8_t *buf, uint64_t len, uint64_t *pos)
{
    const uint64_t block = 4096;
    if (len < ZLEN_EOCD)
        return 0;
    uint64_t cur = len > block ? len - block : 0;
    for (;;) {
        uint64_t n = len - cur < block ? len - cur : block; /* >= 22: len >= 22 */
        for (uint64_t i = n - 3; i-- > 0;) {
            if (eocd_sig_at(buf, cur + i) && len - (cur + i) >= ZLEN_EOCD) {
                *pos = cur + i;
                return 1;
            }
        }
        if (cur == 0 || len - cur >= UINT64_C(65535) + ZLEN_EOCD)
            return 0;
        cur = cur > block - 3 ? cur - (block - 3) : 0;
    }
}

/* zipfile's _EndRecData: a comment-less end record in the last 22 bytes;
 * otherwise the LAST signature in the last 64 KiB + 22 bytes, which must
 * have 22 bytes after it (else "not a zip file"). */
int zipfile_find_eocd(const uint8_t *buf, uint64_t len, uint64_t *pos)
{
    if (len < ZLEN_EOCD)
        return 0;
    uint64_t last = len - ZLEN_EOCD;
    if (eocd_sig_at(buf, last) && load_le16(buf + len - 2) == 0) {
        *pos = last;
        return 1;
    }
    uint64_t start =
        len > (UINT64_C(1) << 16) + ZLEN_EOCD ? len - (UINT64_C(1) << 16) - ZLEN_EOCD : 0;
    for (uint64_t i = len - 4 + 1; i-- > start;) {
        if (eocd_sig_at(buf, i)) {
            *pos = i;
            return len - i >= ZLEN_EOCD ? 1 : -1;
        }
    }
    return 0;
}

void zrecord_eocd(zview *v, const uint8_t *buf, uint64_t len)
{
    zcur c = zcur_at(buf, len, v->eocd + 4);
    v->disk_no = zcur_u16(&c);
    v->cd_disk = zcur_u16(&c);
    v->count_disk = zcur_u16(&c);
    v->e_count = zcur_u16(&c);
    v->e_size = zcur_u32(&c);
    v->e_off = zcur_u32(&c);
    v->comment_len = zcur_u16(&c);
    v->count = v->e_count;
    v->cd_size = v->e_size;
    v->stated_off = v->e_off;
    v->locator_off = UINT64_MAX;
}

int zrecord_locator(const uint8_t *buf, uint64_t len, uint64_t eocd, zlocator *l)
{
    if (eocd < ZLEN_LOCATOR)
        return 0;
    zcur c = zcur_at(buf, len, eocd - ZLEN_LOCATOR);
    if (zcur_u32(&c) != ZSIG_LOCATOR)
        return 0;
    l->disk = zcur_u32(&c);
    l->off = zcur_u64(&c);
    l->disks = zcur_u32(&c);
    return 1;
}

int zrecord_eocd64(zview *v, const uint8_t *buf, uint64_t len, uint64_t off, uint64_t *rec_size)
{
    zcur r = zcur_at(buf, len, off);
    if (zcur_u32(&r) != ZSIG_EOCD64)
        return 0;
    v->zip64 = 1;
    v->z64 = off;
    *rec_size = zcur_u64(&r);
    (void)zcur_u32(&r); /* versions */
    v->disk_no = zcur_u32(&r);
    v->cd_disk = zcur_u32(&r);
    v->count_disk = zcur_u64(&r);
    v->count = zcur_u64(&r);
    v->cd_size = zcur_u64(&r);
    v->stated_off = zcur_u64(&r);
    return 1;
}

/* ---- central and local headers ------------------------------------------ */

/* n bytes at the cursor, or (clip) as many as there are. */
static const uint8_t *take_clipped(zcur *c, uint16_t *n, int clip)
{
    if (clip && c->ok && c->end - c->pos < *n)
        *n = (uint16_t)(c->end - c->pos);
    return zcur_take(c, *n);
}

int zrecord_central(zcur *c, zcentral *z, int clip)
{
    memset(z, 0, sizeof(*z));
    zentry *e = &z->e;
    e->cd_pos = c->pos;
    const uint8_t *h = zcur_take(c, ZLEN_CENTRAL); /* the fixed part, checked once */
    if (!h || load_le32(h) != ZSIG_CENTRAL)
        return 0;
    z->needed = load_le16(h + 6);
    e->flags = load_le16(h + 8);
    e->method = load_le16(h + 10);
    z->mtime = load_le16(h + 12);
    e->crc = load_le32(h + 16); /* after the date */
    e->comp = load_le32(h + 20);
    e->uncomp = load_le32(h + 24);
    e->name_len = load_le16(h + 28);
    z->extra_len = load_le16(h + 30);
    z->comment_len = load_le16(h + 32);
    z->disk = load_le16(h + 34);
    e->dos_dir = (load_le32(h + 38) & 0x10) != 0; /* after the internal attributes */
    e->local = load_le32(h + 42);
    e->name = take_clipped(c, &e->name_len, clip);
    if (e->name)
        zname_props(e);
    z->extra = take_clipped(c, &z->extra_len, clip);
    (void)take_clipped(c, &z->comment_len, clip);
    return c->ok;
}

void zrecord_local(const uint8_t *buf, uint64_t len, zentry *e)
{
    e->has_local = e->desc_len = e->desc_match = 0;
    if (e->local == UINT64_MAX || !range_fits(e->local, ZLEN_LOCAL, len))
        return;
    const uint8_t *h = buf + e->local;
    if (load_le32(h) != ZSIG_LOCAL)
        return;
    e->has_local = 1;
    e->l_name_len = load_le16(h + 26);
    /* miniz and zipfile both start the data after the LOCAL lengths, even
     * when the name or extra run past the end of the file. */
    e->data = e->local + ZLEN_LOCAL + e->l_name_len + (uint64_t)load_le16(h + 28);
    zdesc d;
    e->desc_len = (uint8_t)zrecord_descriptor(buf, len, e, &d); /* at most 24 */
    e->desc_match = e->desc_len && d.crc == e->crc && d.comp == e->comp && d.uncomp == e->uncomp;
}

_Static_assert(sizeof(void *) != 8 || sizeof(zentry) == 64, "a zentry is one cache line");

zlocal zrecord_local_fields(const uint8_t *buf, const zentry *e)
{
    const uint8_t *h = buf + e->local; /* has_local: 30 bytes fit */
    zlocal l = {h + ZLEN_LOCAL,    load_le16(h + 6),  load_le16(h + 8),
                load_le32(h + 14), load_le32(h + 18), load_le32(h + 22)};
    return l;
}

static int zview_grow(zview *v, size_t cap)
{
    if (cap > SIZE_MAX / sizeof(zentry))
        return 0;
    zentry *p = big_realloc(v->ent, v->n * sizeof(*p), cap * sizeof(*p));
    if (!p)
        return 0;
    v->ent = p;
    v->cap = cap;
    return 1;
}

void zview_reserve(zview *v, uint64_t count, uint64_t cd_size, uint64_t max_members)
{
    uint64_t fit = cd_size / ZLEN_CENTRAL; /* no more headers fit in the directory */
    uint64_t n = count < fit ? count : fit;
    n = n < max_members ? n : max_members;
    if (n > v->cap && n <= SIZE_MAX / sizeof(zentry))
        (void)zview_grow(v, (size_t)n); /* a hint: pushing grows it anyway */
}

zentry *zview_push(zview *v)
{
    if (v->n == v->cap && !zview_grow(v, v->cap ? v->cap * 2 : 16)) {
        v->nomem = 1;
        return NULL;
    }
    return &v->ent[v->n++];
}

void zview_free(zview *v)
{
    if (!v->shared)
        free(v->ent);
    v->ent = NULL;
    v->n = v->cap = 0;
}

/* Reads a descriptor with 32- or 64-bit sizes at `at`; its length or 0. */
static uint64_t descriptor_at(const uint8_t *buf, uint64_t len, uint64_t at, int wide, zdesc *d)
{
    zcur c = zcur_at(buf, len, at);
    if (range_fits(at, 4, len) && load_le32(buf + at) == ZSIG_DESCRIPTOR)
        (void)zcur_u32(&c);
    d->crc = zcur_u32(&c);
    d->comp = wide ? zcur_u64(&c) : zcur_u32(&c);
    d->uncomp = wide ? zcur_u64(&c) : zcur_u32(&c);
    return c.ok ? c.pos - at : 0;
}

static int descriptor_matches(const zentry *e, const zdesc *d)
{
    return d->crc == e->crc && d->comp == e->comp && d->uncomp == e->uncomp;
}

/* Writers pick 64-bit sizes for large members AND for members past 4 GiB
 * (miniz), so take whichever width agrees with the central directory; when
 * neither does, 64-bit for zip64-sized entries. */
uint64_t zrecord_descriptor(const uint8_t *buf, uint64_t len, const zentry *e, zdesc *out)
{
    uint64_t at;
    zdesc d32 = {0, 0, 0}, d64 = {0, 0, 0};
    if (!(e->flags & ZFLAG_DESCRIPTOR) || !e->has_local || add_overflows(e->data, e->comp, &at))
        return 0;
    uint64_t n32 = descriptor_at(buf, len, at, 0, &d32);
    uint64_t n64 = descriptor_at(buf, len, at, 1, &d64);
    int big = e->comp >= 0xffffffffu || e->uncomp >= 0xffffffffu || e->local >= 0xffffffffu;
    int wide = (n64 && descriptor_matches(e, &d64)) ||
               (!(n32 && descriptor_matches(e, &d32)) && big && n64);
    *out = wide ? d64 : d32;
    return wide ? n64 : n32;
}

/* ---- names ---------------------------------------------------------------- */

/* Python's cp437 codec for bytes 0x80..0xFF (0x00..0x7F map to themselves). */
static const uint16_t cp437_high[128] = {
    0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7, 0x00ea, 0x00eb, 0x00e8, 0x00ef,
    0x00ee, 0x00ec, 0x00c4, 0x00c5, 0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9,
    0x00ff, 0x00d6, 0x00dc, 0x00a2, 0x00a3, 0x00a5, 0x20a7, 0x0192, 0x00e1, 0x00ed, 0x00f3, 0x00fa,
    0x00f1, 0x00d1, 0x00aa, 0x00ba, 0x00bf, 0x2310, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556, 0x2555, 0x2563, 0x2551, 0x2557,
    0x255d, 0x255c, 0x255b, 0x2510, 0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x255e, 0x255f,
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x2567, 0x2568, 0x2564, 0x2565, 0x2559,
    0x2558, 0x2552, 0x2553, 0x256b, 0x256a, 0x2518, 0x250c, 0x2588, 0x2584, 0x258c, 0x2590, 0x2580,
    0x03b1, 0x00df, 0x0393, 0x03c0, 0x03a3, 0x03c3, 0x00b5, 0x03c4, 0x03a6, 0x0398, 0x03a9, 0x03b4,
    0x221e, 0x03c6, 0x03b5, 0x2229, 0x2261, 0x00b1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00f7, 0x2248,
    0x00b0, 0x2219, 0x00b7, 0x221a, 0x207f, 0x00b2, 0x25a0, 0x00a0};

/* One UTF-8 sequence (the caller validated the whole name). */
static long utf8_next(const uint8_t *p, size_t n, size_t *i)
{
    uint8_t b = p[*i];
    int extra = b < 0x80 ? 0 : b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
    long cp = extra == 0 ? b : extra == 1 ? (b & 0x1f) : extra == 2 ? (b & 0x0f) : (b & 0x07);
    (*i)++;
    for (int k = 0; k < extra && *i < n; k++)
        cp = (cp << 6) | (p[(*i)++] & 0x3f);
    return cp;
}

long zname_next(zname_it *it)
{
    if (it->i >= it->n)
        return -1;
    long cp;
    if (it->utf8) {
        cp = utf8_next(it->p, it->n, &it->i);
    } else {
        uint8_t b = it->p[it->i++];
        cp = b < 0x80 ? b : cp437_high[b - 0x80];
    }
    if (cp == 0 && it->cut_nul) {
        it->i = it->n;
        return -1;
    }
    return cp;
}

/* The comparison while both names are ASCII, which every codec decodes
 * alike: 1 with *cmp set when that decides it, 0 when a non-ASCII byte
 * comes first (decode from the start then). */
static int ascii_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, int cut_nul,
                     int *cmp)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
    size_t i = 0, n = an < bn ? an : bn;
    for (; n - i >= 8; i += 8) { /* equal ASCII blocks without NUL (when cut) */
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        if (x != y || (x & high) || (cut_nul && ((x - ones) & ~x & high)))
            break;
    }
    while (i < n && a[i] == b[i] && a[i] < 0x80 && (a[i] || !cut_nul))
        i++;
    int a_end = i == an || (a[i] == 0 && cut_nul), b_end = i == bn || (b[i] == 0 && cut_nul);
    if ((!a_end && a[i] >= 0x80) || (!b_end && b[i] >= 0x80))
        return 0;
    long p = a_end ? -1 : a[i], q = b_end ? -1 : b[i];
    *cmp = p < q ? -1 : p > q;
    return 1;
}

int zipfile_name_cmp(const uint8_t *a, size_t an, int a_utf8, const uint8_t *b, size_t bn,
                     int b_utf8, int cut_nul)
{
    int cmp;
    if (ascii_cmp(a, an, b, bn, cut_nul, &cmp))
        return cmp;
    /* Names zipfile cannot decode never reach a comparison: the archive or
     * the member is refused first. Decode leniently anyway. */
    zname_it x = {a, an, 0, a_utf8 && py_utf8_valid(a, an, 0), cut_nul};
    zname_it y = {b, bn, 0, b_utf8 && py_utf8_valid(b, bn, 0), cut_nul};
    for (;;) {
        long p = zname_next(&x), q = zname_next(&y);
        if (p != q)
            return p < q ? -1 : 1;
        if (p < 0)
            return 0;
    }
}

static uint8_t ascii_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

int miniz_name_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn, i = 0;
    for (; n - i >= 8 && memcmp(a + i, b + i, 8) == 0; i += 8)
        ; /* equal bytes are equal lowercased */
    for (; i < n; i++) {
        uint8_t l = ascii_lower(a[i]), r = ascii_lower(b[i]);
        if (l != r)
            return l < r ? -1 : 1;
    }
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* One pass, 8 bytes at a time (SWAR as in zip_sort.c's lower8): checks ask
 * for these of every name, several times. */
void zname_props(zentry *e)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), high = ones * 0x80;
    uint64_t nul = 0, hi = 0, caps = 0;
    size_t n = e->name_len, i = 0;
    for (; i < n; i += 8) {
        uint8_t b[8];
        memset(b, 'a', sizeof(b)); /* pads a short tail with a harmless byte */
        memcpy(b, e->name + i, n - i < 8 ? n - i : 8);
        uint64_t x;
        memcpy(&x, b, 8);
        uint64_t low7 = x & ~high;
        nul |= (x - ones) & ~x & high;
        hi |= x & high;
        caps |= (low7 + ones * (0x80 - 'A')) & ~(low7 + ones * (0x80 - 'Z' - 1)) & ~x & high;
    }
    e->name_nul = nul != 0;
    e->name_high = hi != 0;
    e->name_caps = caps != 0;
}

size_t zname_cut(const uint8_t *name, size_t n)
{
    const uint8_t *z = n ? memchr(name, 0, n) : NULL;
    return z ? (size_t)(z - name) : n;
}
