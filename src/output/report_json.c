/* SPDX-License-Identifier: Apache-2.0 */
/* The report as JSON (schema: doc/report.schema.json). */
#include "inspect.h"
#include "json.h"
#include "report.h"

static void write_finding(jw *w, const ckpt_finding *f)
{
    jw_begin(w, '{');
    jw_kstr(w, "code", ckpt_code_name(f->code));
    jw_kstr(w, "severity", ckpt_severity_name(f->severity));
    jw_kstr(w, "member", f->member);
    jw_ku64(w, "offset", f->offset);
    jw_kstr(w, "opcode", f->opcode);
    jw_kstr(w, "global", f->global);
    jw_kstr(w, "call", f->call);
    jw_kstr(w, "message", f->message);
    jw_end(w, '}');
}

static void write_import(jw *w, const ckpt_import *im)
{
    jw_begin(w, '{');
    jw_key(w, "module");
    jw_strn(w, im->module, im->module_len);
    jw_key(w, "name");
    jw_strn(w, im->name, im->name_len);
    jw_key(w, "resolved");
    jw_strn(w, im->resolved, im->resolved_len);
    jw_kbool(w, "allowed", im->allowed);
    jw_kstr(w, "class", im->allowed ? "allowed" : ckpt_code_name(im->class_code));
    jw_ku64(w, "count", im->count);
    jw_ku64(w, "calls", im->calls);
    jw_kstr(w, "member", im->member);
    jw_ku64(w, "offset", im->offset);
    jw_end(w, '}');
}

static void write_pickle(jw *w, const ckpt_pickle *p)
{
    jw_begin(w, '{');
    jw_kstr(w, "member", p->member);
    jw_ku64(w, "offset", p->offset);
    jw_ku64(w, "end", p->end);
    jw_key(w, "protocol");
    jw_int(w, p->protocol);
    jw_ku64(w, "opcodes", p->opcodes);
    jw_kbool(w, "complete", p->complete);
    jw_kbool(w, "weights_only", p->weights_only_ok);
    jw_kstr(w, "weights_only_reason", p->weights_only_reason);
    jw_end(w, '}');
}

static int all_weights_only(const ckpt_report *r)
{
    if (r->npickles == 0)
        return 0;
    for (size_t i = 0; i < r->npickles; i++)
        if (!r->pickles[i].weights_only_ok)
            return 0;
    return 1;
}

static void write_lists(jw *w, const ckpt_report *r)
{
    jw_key(w, "findings");
    jw_begin(w, '[');
    for (size_t i = 0; i < r->nfindings; i++)
        write_finding(w, &r->findings[i]);
    jw_end(w, ']');
    jw_ku64(w, "dropped_findings", r->dropped_findings);
    jw_key(w, "imports");
    jw_begin(w, '[');
    for (size_t i = 0; i < r->nimports; i++)
        write_import(w, &r->imports[i].pub);
    jw_end(w, ']');
    jw_key(w, "pickles");
    jw_begin(w, '[');
    for (size_t i = 0; i < r->npickles; i++)
        write_pickle(w, &r->pickles[i]);
    jw_end(w, ']');
}

ckpt_status ckpt_report_write_json(const ckpt_report *r, ckpt_write_fn write, void *ctx)
{
    if (!r || !write)
        return CKPT_ERR_ARG;
    jw w;
    jw_init(&w, write, ctx);
    jw_begin(&w, '{');
    jw_kstr(&w, "path", r->path);
    jw_kstr(&w, "format", ckpt_format_name(r->format));
    jw_kstr(&w, "verdict", ckpt_verdict_name(ckpt_report_verdict(r)));
    jw_kstr(&w, "error", r->status == CKPT_OK ? "" : ckpt_strerror(r->status));
    jw_ku64(&w, "size", r->size);
    jw_kbool(&w, "weights_only", all_weights_only(r));
    write_lists(&w, r);
    if (r->insp)
        insp_write_json(&w, r);
    jw_end(&w, '}');
    return jw_finish(&w);
}

ckpt_status ckpt_write_json_string(ckpt_write_fn write, void *ctx, const char *s, size_t len)
{
    if (!write || (!s && len))
        return CKPT_ERR_ARG;
    jw w;
    jw_init(&w, write, ctx);
    jw_strn(&w, s ? s : "", len);
    return jw_finish(&w);
}
