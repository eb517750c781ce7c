/* SPDX-License-Identifier: Apache-2.0 */
/* --baseline FILE: files already reviewed, by SHA-256, with the verdict that
 * was accepted for them; such a file no longer fails the gate unless its
 * verdict got worse. --format baseline writes such a file. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct entry {
    char sha[65];
    ckpt_verdict accepted;
} entry;

struct baseline {
    entry *v;
    size_t n, cap;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->sha, ((const entry *)b)->sha);
}

static int is_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == 64;
}

/* One line: "SHA256 VERDICT [PATH]"; returns 0, 1 for nothing, -1 when bad. */
static int parse_line(char *line, entry *e)
{
    char *save = NULL;
    char *sha = strtok_r(line, " \t\r\n", &save);
    if (!sha || *sha == '#')
        return 1;
    char *verdict = strtok_r(NULL, " \t\r\n", &save);
    if (!is_hex64(sha) || !verdict)
        return -1;
    if (strcmp(verdict, "suspicious") == 0)
        e->accepted = CKPT_VERDICT_SUSPICIOUS;
    else if (strcmp(verdict, "dangerous") == 0)
        e->accepted = CKPT_VERDICT_DANGEROUS;
    else
        return -1;
    memcpy(e->sha, sha, 65);
    return 0;
}

static int add(baseline *b, const entry *e)
{
    if (grow_array((void **)&b->v, &b->cap, b->n + 1, sizeof(*b->v)) < 0)
        return -1;
    b->v[b->n++] = *e;
    return 0;
}

baseline *baseline_load(const char *path, size_t *bad_line)
{
    *bad_line = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    baseline *b = calloc(1, sizeof(*b));
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    while (b && getline(&line, &cap, f) > 0) {
        entry e;
        int rc = parse_line(line, &e);
        lineno++;
        if (rc < 0 || (rc == 0 && add(b, &e) < 0)) {
            *bad_line = rc < 0 ? lineno : 0;
            baseline_free(b);
            b = NULL;
        }
    }
    free(line);
    fclose(f);
    if (b && b->n > 1)
        qsort(b->v, b->n, sizeof(*b->v), cmp_entry);
    return b;
}

void baseline_free(baseline *b)
{
    if (b)
        free(b->v);
    free(b);
}

int baseline_accepts(const baseline *b, const char *sha, ckpt_verdict v)
{
    if (!b || !*sha || (v != CKPT_VERDICT_SUSPICIOUS && v != CKPT_VERDICT_DANGEROUS))
        return 0;
    entry key;
    snprintf(key.sha, sizeof(key.sha), "%s", sha);
    /* the highest accepted verdict of equal entries wins */
    int ok = 0;
    const entry *e = b->n ? bsearch(&key, b->v, b->n, sizeof(*b->v), cmp_entry) : NULL;
    for (const entry *p = e; p && p >= b->v && strcmp(p->sha, sha) == 0; p--)
        ok |= p->accepted >= v;
    for (const entry *p = e; p && p < b->v + b->n && strcmp(p->sha, sha) == 0; p++)
        ok |= p->accepted >= v;
    return ok;
}

void baseline_line(FILE *f, const ckpt_report *r, const report_extra *x)
{
    ckpt_verdict v = ckpt_report_verdict(r);
    if (v == CKPT_VERDICT_SAFE)
        return;
    if (v == CKPT_VERDICT_ERROR || !*x->sha256) {
        fputs("# ", f);
        out_safe_text(f, ckpt_report_path(r));
        fputs(v == CKPT_VERDICT_ERROR ? ": unreadable, not listed\n" : ": no digest, not listed\n",
              f);
        return;
    }
    fprintf(f, "%s %s ", x->sha256, ckpt_verdict_name(v));
    out_safe_text(f, ckpt_report_path(r));
    fputc('\n', f);
}
