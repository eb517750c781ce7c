/* SPDX-License-Identifier: Apache-2.0 */
/* The archive's members for an inspection, as torch.load sees them (the
 * zipfile view when torch refuses the archive): name, sizes, method, role;
 * the version and byteorder records; the size of each storage record. */
#include <string.h>

#include "inventory.h"
#include "zip_internal.h"

#define RECORD_TEXT_MAX 64

static const char *method_name(unsigned method)
{
    switch (method) {
    case ZMETHOD_STORED: return "stored";
    case ZMETHOD_DEFLATE: return "deflate";
    case ZMETHOD_BZIP2: return "bzip2";
    case ZMETHOD_LZMA: return "lzma";
    case 93: return "zstd";
    case 95: return "xz";
    default: return "other";
    }
}

/* Components of a name: "archive/data/0" -> 3 parts. */
typedef struct zparts {
    const char *p[4];
    size_t n[4];
    size_t count; /* up to 4; more are not split */
} zparts;

static void split(const uint8_t *name, size_t len, zparts *out)
{
    const char *s = (const char *)name, *end = s + len;
    out->count = 0;
    while (out->count < 4) {
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *stop = slash && out->count < 3 ? slash : end;
        out->p[out->count] = s;
        out->n[out->count++] = (size_t)(stop - s);
        if (stop == end)
            return;
        s = stop + 1;
    }
}

static int part_is(const zparts *z, size_t i, const char *s)
{
    return i < z->count && z->n[i] == strlen(s) && memcmp(z->p[i], s, z->n[i]) == 0;
}

static int ends_with(const zparts *z, const char *suffix)
{
    size_t last = z->count - 1, n = strlen(suffix);
    return z->n[last] >= n && memcmp(z->p[last] + z->n[last] - n, suffix, n) == 0;
}

static ckpt_role role_of(const zparts *z)
{
    if (ends_with(z, ".pkl") || ends_with(z, ".debug_pkl"))
        return CKPT_ROLE_PICKLE;
    if (z->count == 3 && (part_is(z, 1, "data") || part_is(z, 1, "constants")))
        return CKPT_ROLE_TENSOR_DATA;
    if (part_is(z, 1, "code") || ends_with(z, ".py") || part_is(z, 2, "extern_modules"))
        return CKPT_ROLE_CODE;
    if (z->count == 2 || part_is(z, 1, ".data"))
        return CKPT_ROLE_METADATA;
    return CKPT_ROLE_OTHER;
}

static void read_record_text(zarchive *za, const zentry *e, const char *which)
{
    zbytes b;
    zbytes_extract(za->ctx, za->buf, za->len, e, RECORD_TEXT_MAX, &b);
    if (b.n)
        insp_set_record_text(za->ctx, which, b.p, b.n);
    zbytes_free(&b);
}

static void add_entry(zarchive *za, const zentry *e)
{
    zparts z;
    split(e->name, e->name_len, &z);
    ckpt_member m = {(const char *)e->name,  e->name_len, e->uncomp,  e->comp, e->method,
                     method_name(e->method), e->local,    role_of(&z)};
    insp_add_member(za->ctx, &m);
    insp_where w = {e->data, e->comp,
                    e->method};          /* za->buf is the file (zarchive_inspect_members) */
    if (m.role == CKPT_ROLE_TENSOR_DATA) /* "data/<key>" or "constants/<key>" */
        insp_add_storage_record(za->ctx, z.p[1], z.n[1] + 1 + z.n[2], e->uncomp,
                                e->has_local ? &w : NULL);
    else if (z.count == 2 && part_is(&z, 1, "byteorder"))
        read_record_text(za, e, "byteorder");
    else if ((z.count == 2 && part_is(&z, 1, "version")) ||
             (z.count == 3 && part_is(&z, 1, ".data") && part_is(&z, 2, "version")))
        read_record_text(za, e, "version");
}

void zarchive_inspect_members(zarchive *za, ckpt_format format)
{
    if (*za->member || !insp_active(za->ctx))
        return;
    const zview *v = format == CKPT_FORMAT_TORCH_ZIP ? &za->torch : &za->py;
    if (format == CKPT_FORMAT_TORCH_ZIP)
        insp_set_layout(za->ctx, "zip");
    for (size_t i = 0; i < v->n; i++)
        add_entry(za, &v->ent[i]);
}
