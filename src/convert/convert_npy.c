/* SPDX-License-Identifier: Apache-2.0 */
/* The arrays of a .npy or .npz for ckpt_convert_safetensors: each .npy
 * header read with the scan's own parser (numpy.c), numeric dtypes mapped
 * to safetensors', Fortran order walked as column-major strides and
 * big-endian data swapped. Keys: the .npy file's base name without its
 * extension; an .npz member's name without ".npy" (numpy's keys). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "npy_header.h"
#include "util.h"

#define HEADER_MAX (1u << 20) /* bytes of a .npy read for its header */

/* The safetensors dtype of a plain descr ("<f4", "|u1", ">i8"); *swap for
 * big-endian multi-byte data. NULL with *why set when there is none. */
static const char *descr_dtype(const char *d, uint32_t *elsize, int *swap, const char **why)
{
    static const struct {
        const char *np, *torch;
    } map[] = {{"f2", "float16"}, {"f4", "float32"}, {"f8", "float64"}, {"i1", "int8"},
               {"i2", "int16"},   {"i4", "int32"},   {"i8", "int64"},   {"u1", "uint8"},
               {"u2", "uint16"},  {"u4", "uint32"},  {"u8", "uint64"},  {"b1", "bool"}};
    *swap = d[0] == '>';
    const char *code = d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=' ? d + 1 : d;
    for (size_t i = 0; i < ARRAY_LEN(map); i++)
        if (strcmp(code, map[i].np) == 0) {
            const char *st = st_dtype(map[i].torch, elsize);
            *swap = *swap && *elsize > 1;
            return st;
        }
    *why = code[0] == 'c' ? "complex" : "dtype has no safetensors type";
    return NULL;
}

/* Strides (elements) of a C or Fortran array into the report's arena. */
static const int64_t *strides(ckpt_report *rep, const npy_info *info, uint64_t *numel)
{
    int64_t *st = arena_alloc(&rep->mem, (info->ndim ? info->ndim : 1) * sizeof(*st));
    uint64_t n = 1;
    for (size_t k = 0; st && k < info->ndim; k++) {
        size_t d = info->fortran ? k : info->ndim - 1 - k;
        st[d] = (int64_t)n;
        if (mul_overflows(n, (uint64_t)info->shape[d], &n) || n > INT64_MAX)
            return NULL;
    }
    *numel = n;
    return st;
}

static const int64_t *copy_shape(ckpt_report *rep, const npy_info *info)
{
    int64_t *sh = arena_alloc(&rep->mem, (info->ndim ? info->ndim : 1) * sizeof(*sh));
    if (sh && info->ndim)
        memcpy(sh, info->shape, info->ndim * sizeof(*sh));
    return sh;
}

static ckpt_convert_outcome unsupported(planner *p, conv_item *it, const char *why)
{
    it->pub.reason = why;
    p->unsupported++;
    return CKPT_CONVERT_WRITTEN;
}

/* The view of one .npy whose whole stream is `src`. */
static ckpt_convert_outcome plan_array(planner *p, conv_item *it, conv_source src)
{
    ckpt_conversion *c = p->c;
    uint8_t *head = malloc(HEADER_MAX);
    size_t n = src.bytes < HEADER_MAX ? (size_t)src.bytes : HEADER_MAX;
    npy_info info;
    int ok = head && conv_read(&src, 0, head, n) && n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0;
    int parsed = ok && npy_describe(head, n, p->gather_max, &info);
    free(head);
    if (!ok)
        return unsupported(p, it, "not a .npy array");
    if (!parsed)
        return conv_decide(c, CKPT_CONVERT_REFUSED, "'%.200s': a .npy header numpy refuses",
                           it->pub.name);
    if (info.object)
        return unsupported(p, it, "object array");
    uint32_t elsize;
    int swap;
    const char *why = "dtype has no safetensors type";
    const char *st = *info.descr ? descr_dtype(info.descr, &elsize, &swap, &why) : NULL;
    if (!st)
        return unsupported(p, it, why);
    uint64_t numel;
    const int64_t *stride = strides(c->rep, &info, &numel), *shape = copy_shape(c->rep, &info);
    if (!stride || !shape)
        return conv_decide(c, CKPT_CONVERT_REFUSED, "'%.200s': its shape overflows", it->pub.name);
    if (src.method == 0)
        src.at += info.data;
    else
        src.skip = info.data;
    src.bytes -= info.data;
    it->pub = (ckpt_converted){it->pub.name, st, info.ndim, shape, 0, 0, 1, ""};
    it->view = (conv_view){src, elsize, swap, info.ndim, shape, stride, 0, numel};
    ckpt_convert_outcome o = conv_charge(p, it);
    return o != CKPT_CONVERT_WRITTEN ? o : conv_check_view(p, it, it->pub.name);
}

static const char *npy_key(ckpt_report *rep, const char *path)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *k = arena_strndup(&rep->mem, base, n);
    return k ? k : "";
}

/* An .npz member's data offset, from its local header. */
static int member_source(planner *p, const ckpt_member *m, conv_source *src)
{
    uint8_t h[30];
    uint64_t data;
    if (!range_fits(m->offset, sizeof(h), p->file_size) ||
        !conv_read(&(conv_source){p->fd, m->offset, 30, 30, 0, 0}, 0, h, sizeof(h)) ||
        load_le32(h) != 0x04034b50u)
        return 0;
    data = m->offset + 30 + load_le16(h + 26) + load_le16(h + 28);
    uint64_t in_file = m->method == 0 ? m->size : m->compressed_size;
    *src = (conv_source){p->fd, data, m->compressed_size, m->size, m->method, 0};
    return range_fits(data, in_file, p->file_size);
}

static ckpt_convert_outcome plan_member(planner *p, conv_item *it, const ckpt_member *m)
{
    ckpt_conversion *c = p->c;
    size_t n = m->name_len >= 4 && memcmp(m->name + m->name_len - 4, ".npy", 4) == 0
                   ? m->name_len - 4
                   : m->name_len;
    const char *key = arena_strndup(&c->rep->mem, m->name, n);
    it->pub = (ckpt_converted){key ? key : "", "", 0, NULL, 0, 0, 0, ""};
    if (!key || memchr(m->name, 0, m->name_len) || !st_utf8_ok(key))
        return conv_decide(c, CKPT_CONVERT_REFUSED,
                           "member '%.200s': a name safetensors cannot keep", it->pub.name);
    conv_source src;
    if (m->method != 0 && m->method != 8)
        return conv_decide(c, CKPT_CONVERT_REFUSED,
                           "member '%.200s': zip method %u (stored and deflate only)", key,
                           m->method);
    if (!member_source(p, m, &src))
        return conv_decide(c, CKPT_CONVERT_REFUSED,
                           "member '%.200s': its local header or data is not in the file", key);
    return plan_array(p, it, src);
}

ckpt_convert_outcome conv_plan_numpy(planner *p)
{
    ckpt_conversion *c = p->c;
    const struct insp *in = c->rep->insp;
    int npz = ckpt_report_format(c->rep) == CKPT_FORMAT_NPZ;
    size_t count = npz ? in->nmembers : 1;
    c->items = calloc(count ? count : 1, sizeof(*c->items));
    if (!c->items)
        return conv_decide(c, CKPT_CONVERT_REFUSED, "out of memory");
    for (size_t i = 0; i < count; i++) {
        conv_item *it = &c->items[c->n++];
        ckpt_convert_outcome o;
        if (npz) {
            o = plan_member(p, it, &in->members[i]);
        } else {
            it->pub = (ckpt_converted){npy_key(c->rep, p->path), "", 0, NULL, 0, 0, 0, ""};
            conv_source whole = {p->fd, 0, p->file_size, p->file_size, 0, 0};
            o = st_utf8_ok(it->pub.name)
                    ? plan_array(p, it, whole)
                    : conv_decide(c, CKPT_CONVERT_REFUSED, "the file name is not valid UTF-8");
        }
        if (o != CKPT_CONVERT_WRITTEN)
            return o;
    }
    return CKPT_CONVERT_WRITTEN;
}
