/* SPDX-License-Identifier: Apache-2.0 */
/* `ckptscan inspect FILE`: what a checkpoint holds, laid out for a terminal
 * (or the report's JSON with its "inspection" object). */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#define MAX_ROWS   40 /* rows of a long listing before it is summarised */
#define PATH_WIDTH 48

/* ---- small formatting helpers ---- */

static void heading(FILE *f, const char *title, size_t count)
{
    fprintf(f, "\n%s (%zu)\n", title, count);
}

static void more(FILE *f, size_t shown, size_t total, const char *what)
{
    if (total > shown)
        fprintf(f, "  ... and %zu more %s (--format json lists all)\n", total - shown, what);
}

static size_t safe_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += (unsigned char)*s < 0x20 || *s == 0x7f ? 4 : 1;
    return n;
}

/* s, made safe, padded to width. */
static void cell(FILE *f, const char *s, size_t width)
{
    out_safe_text(f, s);
    for (size_t n = safe_width(s); n < width; n++)
        fputc(' ', f);
}

static void dims(char *buf, size_t cap, const int64_t *d, size_t n, int known)
{
    size_t used = (size_t)snprintf(buf, cap, "%s", known ? "[" : "?");
    for (size_t i = 0; known && i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%" PRId64, i ? ", " : "", d[i]);
    if (known && used < cap)
        snprintf(buf + used, cap - used, "]");
}

/* ---- sections ---- */

static void show_overview(FILE *f, const ckpt_report *r)
{
    ckpt_torch_info t;
    ckpt_report_torch_info(r, &t);
    fputs("File:        ", f);
    out_safe_text(f, ckpt_report_path(r));
    fprintf(f, "\nFormat:      %s, %" PRIu64 " bytes\n", ckpt_format_name(ckpt_report_format(r)),
            ckpt_report_size(r));
    if (*t.layout) {
        fprintf(f, "Torch:       %s layout", t.layout);
        if (*t.version) {
            fputs(", version record '", f);
            out_safe_text(f, t.version);
            fputc('\'', f);
        }
        if (*t.byteorder) {
            fputs(", byteorder ", f);
            out_safe_text(f, t.byteorder);
        }
        fprintf(f, "%s\n", t.torchscript ? ", TorchScript (code is compiled on load)" : "");
    }
    if (*t.main_member || t.protocol) {
        fputs("Main pickle: ", f);
        out_safe_text(f, *t.main_member ? t.main_member : "(the file)");
        fprintf(f, ", protocol %d\n", t.protocol);
    }
    if (t.walk_incomplete)
        fprintf(f, "%s\n", "Note:        part of the object was not inventoried (see findings)");
}

static void show_weights_only(FILE *f, const ckpt_report *r)
{
    size_t n = ckpt_report_pickle_count(r);
    for (size_t i = 0; i < n; i++) {
        ckpt_pickle p;
        ckpt_report_pickle(r, i, &p);
        if (p.weights_only_ok)
            continue;
        fprintf(f, "weights_only: torch.load(weights_only=True) refuses it: %s (",
                *p.weights_only_reason ? p.weights_only_reason : "the pickle does not complete");
        out_safe_text(f, *p.member ? p.member : "the file");
        fprintf(f, " at offset %" PRIu64 ")\n", p.offset);
        return;
    }
    fprintf(f, "%s\n",
            n ? "weights_only: torch.load(weights_only=True) accepts every pickle"
              : "weights_only: no pickle to load");
}

static void show_members(FILE *f, const ckpt_report *r)
{
    size_t n = ckpt_report_member_count(r);
    if (!n)
        return;
    heading(f, "Members", n);
    fprintf(f, "  %-11s %-8s %14s %14s  %s\n", "role", "method", "size", "compressed", "name");
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < MAX_ROWS; i++, shown++) {
        ckpt_member m;
        ckpt_report_member(r, i, &m);
        fprintf(f, "  %-11s %-8s %14" PRIu64 " %14" PRIu64 "  ", ckpt_role_name(m.role),
                m.method_name, m.size, m.compressed_size);
        out_safe_text(f, m.name);
        fputc('\n', f);
    }
    more(f, shown, n, "members");
}

static void tensor_row(FILE *f, const ckpt_tensor *t, size_t width)
{
    char shape[96], stride[96];
    dims(shape, sizeof(shape), t->shape, t->ndim, 1);
    dims(stride, sizeof(stride), t->stride, t->ndim, t->has_stride);
    fputs("  ", f);
    cell(f, t->path, width);
    fprintf(f, " %-9s %-16s %-16s ", *t->dtype ? t->dtype : "?", shape, stride);
    cell(f, t->storage_key, 8);
    fprintf(f, " %8" PRId64 " %12" PRIu64, t->storage_offset, t->nbytes);
    if (t->is_parameter)
        fputs(" param", f);
    if (t->storage_users > 1)
        fprintf(f, " shares storage with %zu", t->storage_users - 1);
    if (*t->problem) {
        fputs(" !! ", f);
        out_safe_text(f, t->problem);
    }
    fputc('\n', f);
}

static void show_tensors(FILE *f, const ckpt_report *r)
{
    size_t n = ckpt_report_tensor_count(r);
    if (!n)
        return;
    size_t width = 4, params = 0;
    for (size_t i = 0; i < n; i++) {
        ckpt_tensor t;
        ckpt_report_tensor(r, i, &t);
        size_t w = safe_width(t.path);
        if (i < MAX_ROWS && w > width)
            width = w > PATH_WIDTH ? PATH_WIDTH : w;
        params += (size_t)t.is_parameter;
    }
    heading(f, "Tensors", n);
    fprintf(f, "  %-*s %-9s %-16s %-16s %-8s %8s %12s\n", (int)width, "path", "dtype", "shape",
            "stride", "storage", "offset", "bytes");
    for (size_t i = 0; i < n && i < MAX_ROWS; i++) {
        ckpt_tensor t;
        ckpt_report_tensor(r, i, &t);
        tensor_row(f, &t, width);
    }
    more(f, n < MAX_ROWS ? n : MAX_ROWS, n, "tensors");
    uint64_t elements = 0, bytes = 0;
    for (size_t i = 0; i < ckpt_report_dtype_count(r); i++) {
        ckpt_dtype_total d;
        ckpt_report_dtype_total(r, i, &d);
        fprintf(f, "  %-9s %8" PRIu64 " tensor%s %14" PRIu64 " elements %14" PRIu64 " bytes\n",
                *d.dtype ? d.dtype : "?", d.tensors, d.tensors == 1 ? " " : "s", d.elements,
                d.bytes);
        elements += d.elements;
        bytes += d.bytes;
    }
    fprintf(
        f, "  total     %8zu tensors %14" PRIu64 " elements %14" PRIu64 " bytes; %zu Parameter%s\n",
        n, elements, bytes, params, params == 1 ? "" : "s");
}

static void show_entries(FILE *f, const ckpt_report *r)
{
    size_t n = ckpt_report_entry_count(r);
    if (!n)
        return;
    heading(f, "Contents", n);
    for (size_t i = 0; i < n && i < MAX_ROWS; i++) {
        ckpt_entry e;
        ckpt_report_entry(r, i, &e);
        fputs("  ", f);
        cell(f, *e.key ? e.key : "(object)", 24);
        fprintf(f, " %-10s ", e.kind);
        out_safe_text(f, e.summary);
        if (e.tensors && strcmp(e.kind, "tensor") != 0)
            fprintf(f, "  [%" PRIu64 " tensors, %" PRIu64 " bytes]", e.tensors, e.bytes);
        fputc('\n', f);
    }
    more(f, n < MAX_ROWS ? n : MAX_ROWS, n, "keys");
}

static void show_imports(FILE *f, const ckpt_report *r)
{
    size_t n = ckpt_report_import_count(r);
    heading(f, "Imports", n);
    for (size_t i = 0; i < n; i++) {
        ckpt_import im;
        ckpt_report_import(r, i, &im);
        fprintf(f, "  %-22s %6" PRIu64 " calls  ",
                im.allowed ? "allowed" : ckpt_code_name(im.class_code), im.calls);
        out_safe_text(f, im.resolved);
        const char *used = ckpt_report_import_usage(r, i);
        fputs(*used ? "  used at " : "", f);
        out_safe_text(f, used);
        fputc('\n', f);
    }
}

void out_inspection(FILE *f, const ckpt_report *r)
{
    show_overview(f, r);
    show_weights_only(f, r);
    show_members(f, r);
    show_tensors(f, r);
    show_entries(f, r);
    show_imports(f, r);
    fputc('\n', f);
}
