/* SPDX-License-Identifier: Apache-2.0 */
/* The zip reader's internals: a bounds-checked cursor, the records of one
 * archive as one loader reads them (a "view"), and the helpers shared by the
 * torch (miniz) view, the Python zipfile view, member extraction and the
 * anomaly checks. Never name this header zip.h (libzip's).
 *
 * Names say what they act on or whose rules they follow: zcur_ (the
 * cursor), zrecord_ (the zip format's records), zview_ (one loader's list
 * of entries), zname_ (entry names), zbytes_ (a member's bytes), zarchive_
 * (one archive under scan: its views, checks and findings); miniz_,
 * zipfile_ and torch_ for the rules of torch's miniz, Python's zipfile and
 * torch.load itself. */
#ifndef CKPT_ZIP_INTERNAL_H
#define CKPT_ZIP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "formats.h"
#include "util.h"

#define ZSIG_LOCAL      0x04034b50u
#define ZSIG_CENTRAL    0x02014b50u
#define ZSIG_EOCD       0x06054b50u
#define ZSIG_EOCD64     0x06064b50u
#define ZSIG_LOCATOR    0x07064b50u
#define ZSIG_DESCRIPTOR 0x08074b50u

#define ZLEN_LOCAL   30u
#define ZLEN_CENTRAL 46u
#define ZLEN_EOCD    22u
#define ZLEN_EOCD64  56u
#define ZLEN_LOCATOR 20u

#define ZFLAG_ENCRYPTED  0x0001u
#define ZFLAG_DESCRIPTOR 0x0008u
#define ZFLAG_PATCHED    0x0020u
#define ZFLAG_STRONG     0x0040u
#define ZFLAG_UTF8       0x0800u
#define ZFLAG_MASKED     0x2000u

#define ZMETHOD_STORED  0u
#define ZMETHOD_DEFLATE 8u
#define ZMETHOD_BZIP2   12u
#define ZMETHOD_LZMA    14u

/* Bytes of a deflated non-pickle member inflated to sniff its content. */
#define ZSNIFF_BYTES 65536u

/* ---- cursor ------------------------------------------------------------
 * libzip style: a read past the end clears `ok` (sticky) and yields zeros,
 * so a handler reads a whole record and checks once. Offsets are absolute
 * in the input. */
typedef struct zcur {
    const uint8_t *buf;
    uint64_t end; /* reads stop here (<= the input's length) */
    uint64_t pos;
    int ok;
} zcur;

static inline zcur zcur_at(const uint8_t *buf, uint64_t end, uint64_t pos)
{
    zcur c = {buf, end, pos, pos <= end};
    return c;
}

/* Returns n bytes at the cursor and advances, or NULL (and !ok). */
static inline const uint8_t *zcur_take(zcur *c, uint64_t n)
{
    if (!c->ok || !range_fits(c->pos, n, c->end)) {
        c->ok = 0;
        return NULL;
    }
    const uint8_t *p = c->buf + c->pos;
    c->pos += n;
    return p;
}

static inline uint16_t zcur_u16(zcur *c)
{
    const uint8_t *p = zcur_take(c, 2);
    return p ? load_le16(p) : 0;
}

static inline uint32_t zcur_u32(zcur *c)
{
    const uint8_t *p = zcur_take(c, 4);
    return p ? load_le32(p) : 0;
}

static inline uint64_t zcur_u64(zcur *c)
{
    const uint8_t *p = zcur_take(c, 8);
    return p ? load_le64(p) : 0;
}

/* ---- one central-directory entry as one loader reads it ---------------
 * Kept for every entry of every view (60,000-member checkpoints have two
 * views of 60,000), so only what the scan and the checks need after the
 * directory is read: one cache line. Fields only parsing needs live in
 * zcentral; the local header's other fields are read again from `local`
 * when checked (zrecord_local_fields), which is when its data is read anyway. */
typedef struct zentry {
    uint64_t cd_pos;       /* absolute offset of its central header */
    uint64_t comp, uncomp; /* after the zip64 extra field */
    uint64_t local;        /* absolute offset of its local header (UINT64_MAX: none) */
    uint64_t data;         /* absolute offset of the member's data (has_local) */
    const uint8_t *name;   /* raw name bytes, inside the input */
    uint32_t crc;
    uint16_t name_len, flags, method;
    uint16_t l_name_len;     /* the local header's name length (has_local) */
    uint8_t desc_len;        /* zrecord_descriptor's length (zrecord_local) */
    unsigned has_local : 1;  /* a local header at `local` (zrecord_local) */
    unsigned desc_match : 1; /* desc_len and its values are the central ones */
    unsigned dos_dir : 1;    /* external attributes have the DOS directory bit */
    /* of the name bytes (zname_props): a NUL, a byte >= 0x80, an A-Z */
    unsigned name_nul : 1, name_high : 1, name_caps : 1;
} zentry;

/* A central header as parsed: the entry and the fields only the loaders'
 * checks while reading the directory look at. */
typedef struct zcentral {
    zentry e;
    const uint8_t *extra;
    uint16_t extra_len, comment_len;
    uint16_t needed, mtime, disk;
} zcentral;

/* The local header fields the checks compare with the central ones. */
typedef struct zlocal {
    const uint8_t *name; /* may run past the end of the input: clip */
    uint16_t flags, method;
    uint32_t crc, comp, uncomp;
} zlocal;

typedef enum zrules { ZRULES_MINIZ, ZRULES_ZIPFILE } zrules;

/* The whole archive as one loader reads it. */
typedef struct zview {
    zrules rules;
    const char *who;  /* "torch.load (miniz)", "Python zipfile", ... */
    int found;        /* an end record was found */
    uint64_t eocd;    /* offset of the end record used */
    uint16_t e_count; /* the classic end record's fields */
    uint32_t e_size, e_off;
    uint32_t disk_no, cd_disk; /* disk numbers as the loader reads them */
    uint64_t count_disk;
    uint16_t comment_len;
    int zip64;            /* a zip64 end record was used */
    uint64_t z64;         /* its offset */
    uint64_t locator_off; /* where the zip64 locator points (UINT64_MAX: no locator) */
    uint64_t count;       /* entries the end records state */
    uint64_t cd_off;      /* absolute start of the central directory as read */
    uint64_t cd_size;
    uint64_t stated_off; /* central directory offset as stated in the record */
    int readable;        /* the directory could be listed at all */
    const char *fail;    /* why the loader rejects the whole archive, or NULL */
    int limited;         /* stopped at max-members */
    zentry *ent;
    size_t n, cap;
    int nomem;
    int shared;       /* ent is another view's (not freed with this one) */
    uint64_t cd_used; /* miniz: bytes of the directory its entries span */
    int wide;         /* miniz: some entry has a 32-bit size or offset at 0xFFFFFFFF */
} zview;

/* zip_records.c */
int miniz_find_eocd(const uint8_t *buf, uint64_t len, uint64_t *pos);
/* 1 found, 0 none, -1 a signature zipfile takes but cannot use (corrupt). */
int zipfile_find_eocd(const uint8_t *buf, uint64_t len, uint64_t *pos);
/* Reads the classic end record at v->eocd into v (count, size, offset). */
void zrecord_eocd(zview *v, const uint8_t *buf, uint64_t len);
/* The zip64 locator, the ZLEN_LOCATOR bytes right before the end record at
 * eocd: 1 and its fields in *l, 0 when there is none. */
typedef struct zlocator {
    uint32_t disk;  /* disk holding the zip64 end record */
    uint64_t off;   /* absolute offset of the zip64 end record */
    uint32_t disks; /* total number of disks */
} zlocator;
int zrecord_locator(const uint8_t *buf, uint64_t len, uint64_t eocd, zlocator *l);
/* The zip64 end record at off (the one parser of it): 0 without its
 * signature, else 1 with its fields in v (zip64, z64, disk numbers, counts,
 * cd_size, stated_off) and its size field in *rec_size. */
int zrecord_eocd64(zview *v, const uint8_t *buf, uint64_t len, uint64_t off, uint64_t *rec_size);
/* Parses the fixed part, name, extra and comment of a central header at the
 * cursor (which must end where the directory ends). 0 when it does not fit
 * or the signature is wrong; with `clip`, a name, extra or comment cut by
 * the end is kept short (zipfile's short reads) instead. */
int zrecord_central(zcur *c, zcentral *h, int clip);
/* Reads the local header at e->local into e (has_local, data, l_name_len)
 * and the data descriptor after the data (desc_len, desc_match): call it
 * once e's central values are final. */
void zrecord_local(const uint8_t *buf, uint64_t len, zentry *e);
/* The local header's fields of an entry with has_local. */
zlocal zrecord_local_fields(const uint8_t *buf, const zentry *e);
zentry *zview_push(zview *v);
/* Room for the entries a directory can hold (the stated count, at most
 * what cd_size fits, at most max_members), so pushing does not regrow. */
void zview_reserve(zview *v, uint64_t count, uint64_t cd_size, uint64_t max_members);
void zview_free(zview *v);
/* The data descriptor after e's data (flag bit 3): its length, 0 when the
 * entry has none or it does not fit; its values in *out. */
typedef struct zdesc {
    uint32_t crc;
    uint64_t comp, uncomp;
} zdesc;
uint64_t zrecord_descriptor(const uint8_t *buf, uint64_t len, const zentry *e, zdesc *out);

/* Python's name decoding: code points of the name (cp437, or UTF-8 when the
 * flag says so), optionally cut at the first NUL. */
typedef struct zname_it {
    const uint8_t *p;
    size_t n, i;
    int utf8, cut_nul;
} zname_it;
/* Next code point, or -1 at the end. */
long zname_next(zname_it *it);
/* Compares two names as zipfile's decoded strings would (<0, 0, >0). */
int zipfile_name_cmp(const uint8_t *a, size_t an, int a_utf8, const uint8_t *b, size_t bn,
                     int b_utf8, int cut_nul);
/* miniz's comparison: ASCII case-insensitive, then by length. */
int miniz_name_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn);
/* 1 when name ends with suffix, ASCII case-insensitively (inline: most
 * names fail on their last byte, and suffixes are literals). */
static inline int zname_ends_with(const uint8_t *name, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    if (k > n || (k && (name[n - 1] | 0x20) != (suffix[k - 1] | 0x20)))
        return 0; /* | 0x20 may join other bytes than letters: the full check decides */
    return miniz_name_cmp(name + n - k, k, (const uint8_t *)suffix, k) == 0;
}
/* Length up to the first NUL. */
size_t zname_cut(const uint8_t *name, size_t n);
/* Sets e's name_* bits from its name bytes (zrecord_central does). */
void zname_props(zentry *e);
/* e's name length up to the first NUL. */
static inline size_t zname_entry_cut(const zentry *e)
{
    return e->name_nul ? zname_cut(e->name, e->name_len) : e->name_len;
}

/* zip_miniz.c: torch.load's view (miniz 2.x as built into torch). */
void miniz_view(zview *v, const uint8_t *buf, uint64_t len, uint64_t max_members);
/* Emulates miniz's sorted index and mz_zip_reader_locate_file: the index of
 * the entry torch finds for `name` (len bytes, no NUL), or -1. `order` is
 * miniz_sort's result. */
long miniz_locate(const zview *v, const uint32_t *order, const char *name, size_t len);
/* Why mz_zip_reader_extract_to_mem refuses entry i of v (a view from
 * miniz_view over buf), or NULL when it reads it. */
const char *miniz_extract_refuses(const zview *v, const uint8_t *buf, uint64_t len, size_t i);
/* miniz's heap sort of the entries (caller frees); NULL when out of memory. */
uint32_t *miniz_sort(const zview *v);
/* The same; `shared` (v->n bytes, or NULL) gets 1 for each entry whose name
 * miniz cannot tell from another entry's. */
uint32_t *miniz_sort_shared(const zview *v, uint8_t *shared);
/* mz_zip_reader_is_file_a_directory: name ends in '/' or the DOS bit. */
int miniz_is_dir(const zentry *e);

/* zip_sort.c: a stable sort of v's entries by name bytes (ASCII-lowercased
 * when `lower`, miniz's comparison) into perm (v->n indexes); same[i] is 1
 * when perm[i]'s name equals perm[i - 1]'s. 0 when out of memory. */
int zname_sort(const zview *v, int lower, uint32_t *perm, uint8_t *same);
/* zipfile's order of za->py's entries (decoded names, cut at NUL;
 * directory order among equals) into ord, with same[] as above, when byte
 * order gives it (every name ASCII, or UTF-8 under the flag, without NUL);
 * torch's order is reused when it is the same. 0 when it does not apply or
 * memory runs out: compare decoded names instead. */
struct zarchive;
int zipfile_sort(const struct zarchive *za, const zentry **ord, uint8_t *same);

/* zip_python.c: Python's zipfile view; with eocd_at != UINT64_MAX the end
 * record at that offset is used instead of zipfile's search (other readers). */
void zipfile_view(zview *v, const uint8_t *buf, uint64_t len, uint64_t max_members,
                  uint64_t eocd_at);
/* The same (zipfile's own search); when zipfile provably reads the very
 * entries `torch` (miniz_view over the same input) holds, field for field,
 * v shares torch's entry array instead of building its own. */
void zipfile_view_beside(zview *v, const zview *torch, const uint8_t *buf, uint64_t len,
                         uint64_t max_members);
/* Why ZipFile.open refuses entry i of v (a view from zipfile_view over
 * buf), or NULL when it reads it. */
const char *zipfile_open_refuses(const zview *v, const uint8_t *buf, uint64_t len, size_t i);
/* Index of the entry zipfile's getinfo(name) returns (the last exact match
 * after the NUL cut), or -1. */
long zipfile_locate(const zview *v, const char *name, size_t len);

/* zip_extract.c */
typedef struct zbytes {
    const uint8_t *p; /* the member's bytes (into the input or `owned`) */
    size_t n;
    uint8_t *owned;  /* free() it */
    int complete;    /* all the member's output is in p[0..n) */
    int corrupt;     /* the compressed stream is broken */
    int unsupported; /* method we cannot decompress */
    int tinfl_only; /* zlib refuses the deflate stream, torch's miniz decodes it: p holds miniz's */
    int tinfl_unwritten; /* ...copying bytes it never wrote (zeros in p) */
    size_t unwritten_at; /* ...the first of them (when tinfl_unwritten) */
    int miniz_failed;    /* miniz's inflater fails in the deflate stream... */
    size_t miniz_n;      /* ...after writing this many bytes */
    ckpt_limit hit;      /* a limit stopped decompression, or CKPT_LIMIT_COUNT_ */
    uint64_t hit_value;
    /* of the limit, what enclosing members held (max-decompressed) or what
     * the input produced before (max-decompressed-total) */
    uint64_t hit_used;
} zbytes;

/* zip_tinfl.c: raw deflate by miniz 2.1's rules (torch's zip reader), at
 * most `stop` bytes into *out (malloc'd, free it). */
enum { MINIZ_INFLATE_FAILED, MINIZ_INFLATE_DONE, MINIZ_INFLATE_CUT };
int miniz_inflate(const uint8_t *src, uint64_t len, size_t stop, uint8_t **out, size_t *n,
                  size_t *unwritten_at);

/* Reads e's data: stored bytes in place, deflate, bzip2 and LZMA
 * decompressed (at most `want` bytes, UINT64_MAX for all, under max-ratio
 * and what max-decompressed leaves after ctx->held); other methods are
 * `unsupported` (no loader of interest reads them). */
void zbytes_extract(scan_ctx *ctx, const uint8_t *buf, uint64_t len, const zentry *e, uint64_t want,
                    zbytes *out);
void zbytes_free(zbytes *b);
/* 1 when the bytes deserve a full inflate: a container magic or the start
 * of a pickle (complete, or cut only by the end of the sniffed prefix),
 * but not a .npy whose header (inside the prefix) holds no object: no
 * loader unpickles its data. */
int zbytes_worth_inflating(scan_ctx *ctx, const uint8_t *p, size_t n);

/* The views of one archive under scan, and where findings go. */
#define ZARCHIVE_MAX_OTHER 3
typedef struct zarchive {
    scan_ctx *ctx;
    const char *member; /* the archive's own member name ("" at top level) */
    const uint8_t *buf;
    uint64_t len;
    zview torch, py;
    zview other[ZARCHIVE_MAX_OTHER]; /* readers of other plausible end records */
    size_t nother;
    uint32_t *torch_order; /* miniz's sorted index of torch's entries */
    uint8_t *torch_shared; /* per torch entry: another has the same name to miniz */
    uint64_t notes;        /* entry-level anomalies seen (zip_check.c) */
} zarchive;

/* zip_check.c: findings about the structure and the loaders' disagreement. */
void zarchive_check(zarchive *za);
/* Entry-level anomalies of e (once per central header). */
void zarchive_check_entry(zarchive *za, const zentry *e);
/* Entries of v whose local header is missing (nothing to scan). */
void zarchive_check_headless(zarchive *za, const zview *v);
/* One finding counting the entry anomalies beyond the listed ones. */
void zarchive_notes_summary(zarchive *za);
/* Adds a finding with a printf-style message. */
void zarchive_finding(zarchive *za, ckpt_code code, const char *member, uint64_t offset,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The name for reports (NUL bytes shown as \0), report-owned. */
const char *zarchive_shown_name(zarchive *za, const zentry *e);
/* Why torch.load rejects the archive before or while reading data.pkl, or
 * NULL when it opens it (zip_miniz.c). Needs za->torch_order. */
const char *torch_rejects_archive(zarchive *za);
/* zip_inspect.c: lists the members into the report's inspection (if any). */
void zarchive_inspect_members(zarchive *za, ckpt_format format);
/* Index of the torch entry torch.load reads as data.pkl, or -1. */
long torch_data_pkl(zarchive *za);

#endif
