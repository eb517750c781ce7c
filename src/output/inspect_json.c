/* SPDX-License-Identifier: Apache-2.0 */
/* The "inspection" object of a report's JSON (doc/report.schema.json). */
#include "inspect.h"
#include "json.h"

static void write_member(jw *w, const ckpt_member *m)
{
    jw_begin(w, '{');
    jw_key(w, "name");
    jw_strn(w, m->name, m->name_len);
    jw_ku64(w, "size", m->size);
    jw_ku64(w, "compressed_size", m->compressed_size);
    jw_ku64(w, "method", m->method);
    jw_kstr(w, "method_name", m->method_name);
    jw_ku64(w, "offset", m->offset);
    jw_kstr(w, "role", ckpt_role_name(m->role));
    jw_end(w, '}');
}

static void write_torch(jw *w, const ckpt_torch_info *t)
{
    jw_key(w, "torch");
    jw_begin(w, '{');
    jw_kstr(w, "layout", t->layout);
    jw_kstr(w, "version", t->version);
    jw_kstr(w, "byteorder", t->byteorder);
    jw_key(w, "protocol");
    jw_int(w, t->protocol);
    jw_kbool(w, "torchscript", t->torchscript);
    jw_kstr(w, "main_member", t->main_member);
    jw_kbool(w, "walk_incomplete", t->walk_incomplete);
    jw_end(w, '}');
}

static void write_dims(jw *w, const char *key, const int64_t *d, size_t n)
{
    jw_key(w, key);
    if (!d && n) {
        jw_null(w);
        return;
    }
    jw_begin(w, '[');
    for (size_t i = 0; i < n; i++)
        jw_int(w, d[i]);
    jw_end(w, ']');
}

static void write_tensor(jw *w, const ckpt_tensor *t)
{
    jw_begin(w, '{');
    jw_kstr(w, "path", t->path);
    jw_kstr(w, "member", t->member);
    jw_ku64(w, "offset", t->offset);
    jw_kstr(w, "rebuild", t->rebuild);
    jw_kstr(w, "dtype", t->dtype);
    write_dims(w, "shape", t->shape, t->ndim);
    write_dims(w, "stride", t->has_stride ? t->stride : NULL, t->ndim);
    jw_kstr(w, "storage_key", t->storage_key);
    jw_kstr(w, "device", t->device);
    jw_key(w, "storage_offset");
    jw_int(w, t->storage_offset);
    jw_ku64(w, "numel", t->numel);
    jw_ku64(w, "nbytes", t->nbytes);
    jw_key(w, "storage_numel");
    jw_int(w, t->storage_numel);
    jw_key(w, "record_bytes");
    jw_int(w, t->record_bytes);
    jw_ku64(w, "storage_users", t->storage_users);
    jw_kbool(w, "parameter", t->is_parameter);
    jw_kbool(w, "requires_grad", t->requires_grad);
    jw_kstr(w, "problem", t->problem);
    jw_end(w, '}');
}

static void write_totals(jw *w, const struct insp *in)
{
    uint64_t tensors = 0, elements = 0, bytes = 0, params = 0;
    for (size_t i = 0; i < in->ntensors; i++)
        params += in->tensors[i].pub.is_parameter;
    jw_key(w, "dtypes");
    jw_begin(w, '[');
    for (size_t i = 0; i < in->ndtypes; i++) {
        const ckpt_dtype_total *d = &in->dtypes[i];
        tensors += d->tensors;
        elements += d->elements;
        bytes += d->bytes;
        jw_begin(w, '{');
        jw_kstr(w, "dtype", d->dtype);
        jw_ku64(w, "tensors", d->tensors);
        jw_ku64(w, "elements", d->elements);
        jw_ku64(w, "bytes", d->bytes);
        jw_end(w, '}');
    }
    jw_end(w, ']');
    jw_key(w, "totals");
    jw_begin(w, '{');
    jw_ku64(w, "tensors", tensors);
    jw_ku64(w, "parameters", params);
    jw_ku64(w, "elements", elements);
    jw_ku64(w, "bytes", bytes);
    jw_end(w, '}');
}

static void write_entry(jw *w, const ckpt_entry *e)
{
    jw_begin(w, '{');
    jw_key(w, "key");
    jw_strn(w, e->key, e->key_len);
    jw_kstr(w, "kind", e->kind);
    jw_kstr(w, "summary", e->summary);
    jw_ku64(w, "tensors", e->tensors);
    jw_ku64(w, "bytes", e->bytes);
    jw_end(w, '}');
}

void insp_write_json(jw *w, const ckpt_report *r)
{
    const struct insp *in = r->insp;
    jw_key(w, "inspection");
    jw_begin(w, '{');
    write_torch(w, &in->torch);
    jw_key(w, "members");
    jw_begin(w, '[');
    for (size_t i = 0; i < in->nmembers; i++)
        write_member(w, &in->members[i]);
    jw_end(w, ']');
    jw_key(w, "tensors");
    jw_begin(w, '[');
    for (size_t i = 0; i < in->ntensors; i++)
        write_tensor(w, &in->tensors[i].pub);
    jw_end(w, ']');
    write_totals(w, in);
    jw_key(w, "entries");
    jw_begin(w, '[');
    for (size_t i = 0; i < in->nentries; i++)
        write_entry(w, &in->entries[i]);
    jw_end(w, ']');
    jw_key(w, "import_usage");
    jw_begin(w, '[');
    for (size_t i = 0; i < r->nimports; i++)
        jw_str(w, ckpt_report_import_usage(r, i));
    jw_end(w, ']');
    jw_end(w, '}');
}
