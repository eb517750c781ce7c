/* ckptscan: scan checkpoints and pickles before loading them. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ckpt_status scan_one(const ckpt_scanner *s, const char *path, ckpt_report **r)
{
    if (strcmp(path, "-") == 0)
        return ckpt_scan_fd(s, 0, "-", r);
    return ckpt_scan_file(s, path, r);
}

static void emit(const ckpt_report *r, const cli_opts *o, int index)
{
    if (o->format == OUT_JSON)
        out_json_report(stdout, r, index == 0);
    else
        out_text_report(stdout, r, o);
}

/* Exit status: 2 if any file could not be read, else 1 if any verdict is
 * at or above --fail-on, else 0. */
static int exit_status(const cli_summary *sum, const cli_opts *o)
{
    if (sum->by_verdict[CKPT_VERDICT_ERROR])
        return 2;
    for (int v = (int)o->fail_on; v <= CKPT_VERDICT_DANGEROUS; v++)
        if (sum->by_verdict[v])
            return 1;
    return 0;
}

static int run(const ckpt_scanner *s, const cli_opts *o)
{
    cli_summary sum = {0};
    double t0 = now();
    if (o->format == OUT_JSON)
        out_json_begin(stdout);
    for (int i = 0; i < o->nfiles; i++) {
        ckpt_report *r = NULL;
        ckpt_status st = scan_one(s, o->files[i], &r);
        if (!r) {
            fprintf(stderr, "ckptscan: %s: %s\n", o->files[i], ckpt_strerror(st));
            return 2;
        }
        if (st != CKPT_OK) {
            fputs("ckptscan: ", stderr);
            out_safe_text(stderr, o->files[i]);
            fprintf(stderr, ": %s\n", ckpt_strerror(st));
        }
        sum.files++;
        sum.by_verdict[ckpt_report_verdict(r)]++;
        emit(r, o, i);
        ckpt_report_free(r);
    }
    sum.seconds = now() - t0;
    if (o->format == OUT_JSON)
        out_json_end(stdout, &sum);
    else if (o->nfiles > 1)
        out_text_summary(stdout, &sum, o);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("ckptscan: writing output");
        return 2;
    }
    return exit_status(&sum, o);
}

int main(int argc, char **argv)
{
    ckpt_scanner *s;
    if (ckpt_scanner_new(&s) != CKPT_OK) {
        fputs("ckptscan: out of memory\n", stderr);
        return 2;
    }
    cli_opts o;
    int rc = cli_parse(argc, argv, &o, s);
    if (rc < 0)
        rc = run(s, &o);
    free(o.files);
    ckpt_scanner_free(s);
    return rc;
}
