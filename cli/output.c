/* SPDX-License-Identifier: Apache-2.0 */
/* Text, JSON and JSON Lines output of reports and of the batch summary. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define RED    "\033[31m"
#define YELLOW "\033[33m"
#define GREEN  "\033[32m"
#define BOLD   "\033[1m"
#define RESET  "\033[0m"

static const char *verdict_color(ckpt_verdict v)
{
    switch (v) {
    case CKPT_VERDICT_SAFE: return GREEN;
    case CKPT_VERDICT_SUSPICIOUS: return YELLOW;
    default: return RED;
    }
}

static void upper(char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        dst[i] = (char)(src[i] >= 'a' && src[i] <= 'z' ? src[i] - 32 : src[i]);
    dst[i] = '\0';
}

static void text_verdict_line(FILE *f, const ckpt_report *r, const report_extra *x,
                              const cli_opts *o)
{
    ckpt_verdict v = ckpt_report_verdict(r);
    char name[16];
    upper(name, ckpt_verdict_name(v), sizeof(name));
    out_safe_text(f, ckpt_report_path(r));
    fputs(": ", f);
    if (o->color)
        fprintf(f, "%s%s%s%s", BOLD, verdict_color(v), name, RESET);
    else
        fputs(name, f);
    if (v == CKPT_VERDICT_ERROR)
        fprintf(f, " (%s)\n", x->error ? x->error : ckpt_strerror(ckpt_report_status(r)));
    else
        fprintf(f, " [%s] %zu finding%s%s\n", ckpt_format_name(ckpt_report_format(r)),
                ckpt_report_finding_count(r), ckpt_report_finding_count(r) == 1 ? "" : "s",
                x->accepted ? " (accepted in the baseline)" : "");
    if (x->truncated_zip)
        fputs("  " TRUNCATED_ZIP_TEXT "\n", f);
    if (*x->sha256)
        fprintf(f, "  sha256 %s\n", x->sha256);
    for (const char *a = x->aliases; a && *a && v != CKPT_VERDICT_SAFE; a += strlen(a) + 1) {
        fputs("  also named ", f);
        out_safe_text(f, a);
        fputc('\n', f);
    }
}

static void text_finding(FILE *f, const ckpt_finding *x, const cli_opts *o)
{
    const char *sev = ckpt_severity_name(x->severity);
    if (o->color && x->severity != CKPT_SEV_INFO)
        fprintf(f, "  %s%-10s%s ", x->severity == CKPT_SEV_DANGEROUS ? RED : YELLOW, sev, RESET);
    else
        fprintf(f, "  %-10s ", sev);
    fprintf(f, "%-22s ", ckpt_code_name(x->code));
    if (*x->member) {
        out_safe_text(f, x->member);
        fputc(':', f);
    }
    fprintf(f, "%llu", (unsigned long long)x->offset);
    if (*x->opcode)
        fprintf(f, " %s", x->opcode);
    fputs(": ", f);
    out_safe_text(f, x->message);
    fputc('\n', f);
    if (*x->call) {
        fputs("             call: ", f);
        out_safe_text(f, x->call);
        fputc('\n', f);
    }
}

static void text_report(FILE *f, const ckpt_report *r, const report_extra *x, const cli_opts *o)
{
    text_verdict_line(f, r, x, o);
    if (o->quiet)
        return;
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding fx;
        if (ckpt_report_finding(r, i, &fx) == CKPT_OK)
            text_finding(f, &fx, o);
    }
    int worst = report_worst_code(r);
    if (worst >= 0) {
        fprintf(f, "  what to do: %s (ckptscan --explain %s)\n", code_advice((ckpt_code)worst),
                ckpt_code_name((ckpt_code)worst));
    }
}

static int write_file(void *ctx, const char *bytes, size_t len)
{
    return fwrite(bytes, 1, len, (FILE *)ctx) == len ? 0 : -1;
}

/* Passes a report's JSON through, holding back its last byte (the closing
 * brace) so that the CLI's own fields can go before it. */
typedef struct held_writer {
    FILE *f;
    char last;
    int have;
} held_writer;

static int write_held(void *ctx, const char *bytes, size_t len)
{
    held_writer *h = ctx;
    if (len == 0)
        return 0;
    if (h->have && fputc(h->last, h->f) == EOF)
        return -1;
    h->last = bytes[len - 1];
    h->have = 1;
    return write_file(h->f, bytes, len - 1);
}

static void json_string_field(FILE *f, const char *key, const char *value)
{
    fprintf(f, ",\"%s\":", key);
    ckpt_write_json_string(write_file, f, value, strlen(value));
}

/* The report as JSON, with the CLI's fields before the closing brace. */
static void json_report(FILE *f, const ckpt_report *r, const report_extra *x)
{
    held_writer h = {f, 0, 0};
    ckpt_report_write_json(r, write_held, &h);
    if (x->error && x->error == x->error_buf)
        json_string_field(f, "error_detail", x->error);
    if (x->truncated_zip)
        json_string_field(f, "note", TRUNCATED_ZIP_TEXT);
    if (*x->sha256)
        json_string_field(f, "sha256", x->sha256);
    if (x->accepted)
        json_string_field(f, "baseline", "accepted");
    if (x->aliases && *x->aliases) {
        fputs(",\"aliases\":[", f);
        for (const char *a = x->aliases; *a; a += strlen(a) + 1) {
            if (a != x->aliases)
                fputc(',', f);
            ckpt_write_json_string(write_file, f, a, strlen(a));
        }
        fputc(']', f);
    }
    if (h.have)
        fputc(h.last, f);
}

static cli_sarif *sarif;  /* the open SARIF log, for --format sarif */
static size_t json_items; /* reports written into the JSON document */

int out_shows(const ckpt_report *r, const cli_opts *o)
{
    return !o->unsafe_only || ckpt_report_verdict(r) != CKPT_VERDICT_SAFE;
}

void out_begin(FILE *f, const cli_opts *o)
{
    json_items = 0;
    if (o->format == OUT_JSON)
        fprintf(f, "{\"ckptscan\":\"%s\",\"files\":[", ckpt_version());
    if (o->format == OUT_BASELINE)
        fputs("# ckptscan baseline: SHA256 VERDICT PATH of each file that is not safe; keep only "
              "the lines you reviewed and accept\n",
              f);
    if (o->format == OUT_SARIF && (sarif = sarif_begin(f)) == NULL) {
        fputs("ckptscan: cannot start the SARIF log\n", stderr);
        exit(2);
    }
}

void out_report(FILE *f, const ckpt_report *r, const report_extra *x, const cli_opts *o,
                size_t index)
{
    (void)index;
    if (!out_shows(r, o))
        return;
    switch (o->format) {
    case OUT_TEXT:
        if (ckpt_report_inspected(r) && !o->quiet)
            out_inspection(f, r);
        text_report(f, r, x, o);
        break;
    case OUT_JSON:
        if (json_items++)
            fputc(',', f);
        json_report(f, r, x);
        break;
    case OUT_JSONL:
        json_report(f, r, x);
        fputc('\n', f);
        fflush(f); /* a line per finished file, for pipelines */
        break;
    case OUT_SARIF: sarif_add(sarif, r, x); break;
    case OUT_BASELINE: baseline_line(f, r, x); break;
    }
}

static unsigned long long skipped_total(const walk_counts *w)
{
    return w->other_name + w->special + w->dir_again + w->too_deep + w->hub_metadata;
}

static void json_strings(FILE *f, const strlist *l)
{
    fputc('[', f);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            fputc(',', f);
        ckpt_write_json_string(write_file, f, l->v[i], strlen(l->v[i]));
    }
    fputc(']', f);
}

static void json_summary(FILE *f, const cli_summary *s)
{
    const walk_counts *w = &s->walk;
    fprintf(f,
            "{\"files\":%llu,\"safe\":%llu,\"suspicious\":%llu,\"dangerous\":%llu,"
            "\"error\":%llu,\"findings\":%llu,\"bytes\":%llu,\"skipped\":%llu,"
            "\"skipped_by\":{\"other_name\":%llu,\"special\":%llu,\"dir_again\":%llu,"
            "\"too_deep\":%llu,\"hub_metadata\":%llu},\"formats\":{",
            s->files, s->by_verdict[CKPT_VERDICT_SAFE], s->by_verdict[CKPT_VERDICT_SUSPICIOUS],
            s->by_verdict[CKPT_VERDICT_DANGEROUS], s->by_verdict[CKPT_VERDICT_ERROR], s->findings,
            s->bytes, skipped_total(w), w->other_name, w->special, w->dir_again, w->too_deep,
            w->hub_metadata);
    int first = 1;
    for (int i = 0; i < CKPT_FORMAT_COUNT_; i++)
        if (s->by_format[i]) {
            fprintf(f, "%s\"%s\":%llu", first ? "" : ",", ckpt_format_name((ckpt_format)i),
                    s->by_format[i]);
            first = 0;
        }
    fputs("},\"unreadable\":", f);
    json_strings(f, &s->unreadable);
    fputs(",\"unreadable_dirs\":", f);
    json_strings(f, &w->unlisted);
    fprintf(f, ",\"accepted\":%llu,\"cached\":%llu,\"interrupted\":%s,\"seconds\":%.3f}",
            s->accepted, s->cached, s->interrupted ? "true" : "false", s->seconds);
}

/* ", N skipped (why, ...)" */
static void text_skipped(FILE *f, const walk_counts *w)
{
    const struct {
        unsigned long long n;
        const char *why;
    } parts[] = {{w->other_name, "already scanned under another name"},
                 {w->special, "not a regular file"},
                 {w->dir_again, "directory already walked"},
                 {w->too_deep, "nested too deep"},
                 {w->hub_metadata, "Hugging Face cache metadata"}};
    if (!skipped_total(w))
        return;
    fprintf(f, ", %llu skipped (", skipped_total(w));
    const char *sep = "";
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        if (parts[i].n) {
            fprintf(f, "%s%llu %s", sep, parts[i].n, parts[i].why);
            sep = ", ";
        }
    fputc(')', f);
}

static void text_summary(FILE *f, const cli_summary *s)
{
    fprintf(f, "%llu files: %llu safe, %llu suspicious, %llu dangerous, %llu unreadable", s->files,
            s->by_verdict[CKPT_VERDICT_SAFE], s->by_verdict[CKPT_VERDICT_SUSPICIOUS],
            s->by_verdict[CKPT_VERDICT_DANGEROUS], s->by_verdict[CKPT_VERDICT_ERROR]);
    text_skipped(f, &s->walk);
    if (s->accepted)
        fprintf(f, ", %llu accepted in the baseline", s->accepted);
    if (s->walk.unlisted.n)
        fprintf(f, "; %zu director%s could not be read", s->walk.unlisted.n,
                s->walk.unlisted.n == 1 ? "y" : "ies");
    if (s->interrupted)
        fputs("; INTERRUPTED: the rest was not scanned", f);
    fputs("\nformats:", f);
    for (int i = 0; i < CKPT_FORMAT_COUNT_; i++)
        if (s->by_format[i])
            fprintf(f, " %s %llu", ckpt_format_name((ckpt_format)i), s->by_format[i]);
    fprintf(f, "\n%.1f MB in %.2f s", (double)s->bytes / 1e6, s->seconds);
    if (s->cached)
        fprintf(f, " (%llu report%s from the cache)", s->cached, s->cached == 1 ? "" : "s");
    fputc('\n', f);
}

void out_end(FILE *f, const cli_summary *sum, const cli_opts *o, size_t nfiles)
{
    switch (o->format) {
    case OUT_TEXT:
        if (o->unsafe_only || sum->interrupted || (nfiles != 1 && !o->quiet))
            text_summary(f, sum);
        break;
    case OUT_JSON:
        fputs("],\"summary\":", f);
        json_summary(f, sum);
        fputs("}\n", f);
        break;
    case OUT_JSONL:
        fputs("{\"summary\":", f);
        json_summary(f, sum);
        fputs("}\n", f);
        break;
    case OUT_SARIF:
        sarif_end(sarif, sum->interrupted);
        sarif = NULL;
        break;
    case OUT_BASELINE:
        if (sum->interrupted)
            fputs("# interrupted: the files not listed were not scanned\n", f);
        break;
    }
}
