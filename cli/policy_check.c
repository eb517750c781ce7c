/* SPDX-License-Identifier: Apache-2.0 */
/* Warnings for policy lines that can never take effect: an `allow` of a
 * name the denylist grades anyway (deny beats allow). Each allow line is
 * tried on the configured scanner as a one-import pickle. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PROBE_NAME "ckptscan_probe" /* stands for any name under a prefix.* */

/* The import's class when a pickle importing module.name is scanned, or
 * -1 when it is allowed (or the scan failed). */
static int probe(const ckpt_scanner *s, const char *module, size_t mlen, const char *name)
{
    size_t nlen = strlen(name), len = 3 + mlen + 1 + nlen + 2;
    char *p = malloc(len);
    if (!p)
        return -1;
    memcpy(p,
           "\x80\x03"
           "c",
           3); /* protocol 3: no Python 2 name mapping */
    memcpy(p + 3, module, mlen);
    p[3 + mlen] = '\n';
    memcpy(p + 4 + mlen, name, nlen);
    memcpy(p + 4 + mlen + nlen, "\n.", 2);
    ckpt_report *r = NULL;
    int cls = -1;
    ckpt_import im;
    if (ckpt_scan_mem(s, p, len, "policy", &r) == CKPT_OK && ckpt_report_import_count(r) == 1 &&
        ckpt_report_import(r, 0, &im) == CKPT_OK && !im.allowed &&
        ckpt_code_severity(im.class_code) == CKPT_SEV_DANGEROUS)
        cls = (int)im.class_code;
    ckpt_report_free(r);
    free(p);
    return cls;
}

/* The first two fields of a line (comments start at a '#' at the line
 * start or after white space); returns the number of fields found. */
static int fields(char *line, char **f0, char **f1)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 2;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (*t == '#')
            break;
        *(n++ ? f1 : f0) = t;
    }
    return n;
}

static void check_line(const ckpt_scanner *s, const char *path, size_t lineno, char *line)
{
    char *kw, *name;
    if (fields(line, &kw, &name) < 2 || strcmp(kw, "allow") != 0)
        return;
    size_t len = strlen(name);
    int cls;
    if (len > 2 && strcmp(name + len - 2, ".*") == 0) {
        cls = probe(s, name, len - 2, PROBE_NAME);
    } else {
        const char *dot = strrchr(name, '.');
        if (!dot)
            return;
        cls = probe(s, name, (size_t)(dot - name), dot + 1);
    }
    if (cls < 0)
        return;
    fprintf(stderr, "ckptscan: %s:%zu: warning: 'allow ", path, lineno);
    out_safe_text(stderr, name);
    fprintf(stderr,
            "' never takes effect: a deny rule grades it %s (dangerous), and deny beats "
            "allow\n",
            ckpt_code_name((ckpt_code)cls));
}

void check_policy_files(const ckpt_scanner *s, const strlist *paths)
{
    for (size_t i = 0; i < paths->n; i++) {
        FILE *f = fopen(paths->v[i], "r");
        if (!f)
            continue; /* it was read a moment ago; nothing to add */
        char *line = NULL;
        size_t cap = 0, lineno = 0;
        while (getline(&line, &cap, f) > 0)
            check_line(s, paths->v[i], ++lineno, line);
        free(line);
        fclose(f);
    }
}
