/* SPDX-License-Identifier: Apache-2.0 */
/* SARIF 2.1.0 output: one run, rules from the finding-code list, one
 * result per finding, files and archive members as (nested) artifacts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "report.h"
#include "strbuf.h"

#define INFO_URI "https://github.com/ckptscan/ckptscan"

typedef struct artifact {
    char *uri;
    long parent; /* index of the file artifact, -1 for a file */
} artifact;

struct ckpt_sarif {
    jw w;
    artifact *arts;
    size_t narts, cap;
    char **errors; /* notifications for files that could not be read */
    size_t nerrors;
};

static const char *level_of(ckpt_severity s)
{
    return s == CKPT_SEV_DANGEROUS ? "error" : s == CKPT_SEV_SUSPICIOUS ? "warning" : "note";
}

/* RFC 3986 reference: unreserved bytes and '/' as they are, the rest %XX. */
static char *uri_encode(const char *s)
{
    strbuf sb;
    sb_init(&sb, 3 * 4096 + 16);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            sb_putc(&sb, (char)*p);
        else
            sb_printf(&sb, "%%%02X", *p);
    }
    char *out = strdup(sb_cstr(&sb));
    sb_free(&sb);
    return out;
}

static void write_rule(jw *w, ckpt_code c)
{
    jw_begin(w, '{');
    jw_kstr(w, "id", ckpt_code_name(c));
    jw_kstr(w, "name", ckpt_code_name(c));
    jw_key(w, "shortDescription");
    jw_begin(w, '{');
    jw_kstr(w, "text", ckpt_code_description(c));
    jw_end(w, '}');
    jw_key(w, "help");
    jw_begin(w, '{');
    jw_kstr(w, "text", ckpt_code_description(c));
    jw_end(w, '}');
    jw_key(w, "defaultConfiguration");
    jw_begin(w, '{');
    jw_kstr(w, "level", level_of(ckpt_code_severity(c)));
    jw_end(w, '}');
    jw_end(w, '}');
}

static void write_driver(jw *w)
{
    jw_key(w, "tool");
    jw_begin(w, '{');
    jw_key(w, "driver");
    jw_begin(w, '{');
    jw_kstr(w, "name", "ckptscan");
    jw_kstr(w, "version", ckpt_version());
    jw_kstr(w, "informationUri", INFO_URI);
    jw_key(w, "rules");
    jw_begin(w, '[');
    for (int c = 0; c < CKPT_F_COUNT_; c++)
        write_rule(w, (ckpt_code)c);
    jw_end(w, ']');
    jw_end(w, '}');
    jw_end(w, '}');
}

ckpt_status ckpt_sarif_begin(ckpt_write_fn write, void *ctx, ckpt_sarif **out)
{
    if (!out)
        return CKPT_ERR_ARG;
    *out = NULL;
    if (!write)
        return CKPT_ERR_ARG;
    ckpt_sarif *s = calloc(1, sizeof(*s));
    if (!s)
        return CKPT_ERR_NOMEM;
    jw_init(&s->w, write, ctx);
    jw_begin(&s->w, '{');
    jw_kstr(&s->w, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
    jw_kstr(&s->w, "version", "2.1.0");
    jw_key(&s->w, "runs");
    jw_begin(&s->w, '[');
    jw_begin(&s->w, '{');
    write_driver(&s->w);
    jw_key(&s->w, "results");
    jw_begin(&s->w, '[');
    *out = s;
    return s->w.failed ? CKPT_ERR_IO : CKPT_OK;
}

/* Index of a new artifact (the caller checked it is not there yet). */
static long add_artifact(ckpt_sarif *s, const char *raw, long parent)
{
    if (s->narts == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        artifact *a = realloc(s->arts, cap * sizeof(*a));
        if (!a)
            return -1;
        s->arts = a;
        s->cap = cap;
    }
    char *uri = uri_encode(raw);
    if (!uri)
        return -1;
    s->arts[s->narts] = (artifact){uri, parent};
    return (long)s->narts++;
}

/* The member's artifact under `file`, added on first use. */
static long member_artifact(ckpt_sarif *s, long file, const char *member)
{
    char *uri = uri_encode(member);
    if (!uri)
        return -1;
    for (size_t i = (size_t)file + 1; i < s->narts; i++)
        if (s->arts[i].parent == file && strcmp(s->arts[i].uri, uri) == 0) {
            free(uri);
            return (long)i;
        }
    free(uri);
    return add_artifact(s, member, file);
}

static void write_location(ckpt_sarif *s, long art, uint64_t offset)
{
    jw *w = &s->w;
    jw_key(w, "locations");
    jw_begin(w, '[');
    jw_begin(w, '{');
    jw_key(w, "physicalLocation");
    jw_begin(w, '{');
    jw_key(w, "artifactLocation");
    jw_begin(w, '{');
    jw_kstr(w, "uri", s->arts[art].uri);
    jw_ku64(w, "index", (uint64_t)art);
    jw_end(w, '}');
    jw_key(w, "region");
    jw_begin(w, '{');
    jw_ku64(w, "byteOffset", offset);
    jw_ku64(w, "byteLength", 1);
    jw_end(w, '}');
    jw_end(w, '}');
    jw_end(w, '}');
    jw_end(w, ']');
}

static void write_properties(jw *w, const ckpt_finding *f)
{
    jw_key(w, "properties");
    jw_begin(w, '{');
    jw_kstr(w, "severity", ckpt_severity_name(f->severity));
    jw_kstr(w, "member", f->member);
    jw_kstr(w, "opcode", f->opcode);
    jw_kstr(w, "global", f->global);
    jw_kstr(w, "call", f->call);
    jw_end(w, '}');
}

static void write_result(ckpt_sarif *s, const ckpt_finding *f, long art)
{
    jw *w = &s->w;
    jw_begin(w, '{');
    jw_kstr(w, "ruleId", ckpt_code_name(f->code));
    jw_ku64(w, "ruleIndex", (uint64_t)f->code);
    jw_kstr(w, "level", level_of(f->severity));
    jw_key(w, "message");
    jw_begin(w, '{');
    strbuf text;
    sb_init(&text, 8192);
    sb_puts(&text, f->message);
    if (*f->call)
        sb_printf(&text, ": %s", f->call);
    jw_kstr(w, "text", sb_cstr(&text));
    sb_free(&text);
    jw_end(w, '}');
    write_location(s, art, f->offset);
    write_properties(w, f);
    jw_end(w, '}');
}

static ckpt_status note_unreadable(ckpt_sarif *s, const ckpt_report *r)
{
    char **e = realloc(s->errors, (s->nerrors + 1) * sizeof(char *));
    if (!e)
        return CKPT_ERR_NOMEM;
    s->errors = e;
    char line[8192];
    snprintf(line, sizeof(line), "%s: %s", ckpt_report_path(r),
             ckpt_strerror(ckpt_report_status(r)));
    s->errors[s->nerrors] = strdup(line);
    return s->errors[s->nerrors++] ? CKPT_OK : CKPT_ERR_NOMEM;
}

ckpt_status ckpt_sarif_add(ckpt_sarif *s, const ckpt_report *r)
{
    if (!s || !r)
        return CKPT_ERR_ARG;
    if (ckpt_report_verdict(r) == CKPT_VERDICT_ERROR)
        return note_unreadable(s, r);
    long file = add_artifact(s, ckpt_report_path(r), -1);
    if (file < 0)
        return CKPT_ERR_NOMEM;
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        long art = *f.member ? member_artifact(s, file, f.member) : file;
        if (art < 0)
            return CKPT_ERR_NOMEM;
        write_result(s, &f, art);
    }
    return s->w.failed ? CKPT_ERR_IO : CKPT_OK;
}

static void write_artifacts(ckpt_sarif *s)
{
    jw *w = &s->w;
    jw_key(w, "artifacts");
    jw_begin(w, '[');
    for (size_t i = 0; i < s->narts; i++) {
        jw_begin(w, '{');
        jw_key(w, "location");
        jw_begin(w, '{');
        jw_kstr(w, "uri", s->arts[i].uri);
        jw_end(w, '}');
        if (s->arts[i].parent >= 0)
            jw_ku64(w, "parentIndex", (uint64_t)s->arts[i].parent);
        jw_end(w, '}');
    }
    jw_end(w, ']');
}

static void write_invocation(ckpt_sarif *s)
{
    jw *w = &s->w;
    jw_key(w, "invocations");
    jw_begin(w, '[');
    jw_begin(w, '{');
    jw_kbool(w, "executionSuccessful", s->nerrors == 0);
    jw_key(w, "toolExecutionNotifications");
    jw_begin(w, '[');
    for (size_t i = 0; i < s->nerrors; i++) {
        jw_begin(w, '{');
        jw_kstr(w, "level", "error");
        jw_key(w, "message");
        jw_begin(w, '{');
        jw_kstr(w, "text", s->errors[i]);
        jw_end(w, '}');
        jw_end(w, '}');
    }
    jw_end(w, ']');
    jw_end(w, '}');
    jw_end(w, ']');
}

ckpt_status ckpt_sarif_end(ckpt_sarif *s)
{
    if (!s)
        return CKPT_ERR_ARG;
    jw_end(&s->w, ']'); /* results */
    write_artifacts(s);
    write_invocation(s);
    jw_end(&s->w, '}'); /* run */
    jw_end(&s->w, ']'); /* runs */
    jw_end(&s->w, '}');
    jw_raw(&s->w, "\n", 1);
    ckpt_status st = jw_finish(&s->w);
    for (size_t i = 0; i < s->narts; i++)
        free(s->arts[i].uri);
    for (size_t i = 0; i < s->nerrors; i++)
        free(s->errors[i]);
    free(s->arts);
    free(s->errors);
    free(s);
    return st;
}
