/* SPDX-License-Identifier: Apache-2.0 */
/* `ckptscan dis FILE [--member NAME]`: an annotated opcode listing. */
#include <string.h>

#include "cli.h"

typedef struct dis_state {
    const char *member; /* of the previous line, to print a header on change */
    int have_member;
} dis_state;

static int print_line(void *ctx, const ckpt_dis_line *l)
{
    dis_state *st = ctx;
    if (!st->have_member || strcmp(st->member, l->member) != 0) {
        fputs("== ", stdout);
        out_safe_text(stdout, *l->member ? l->member : "(file)");
        fputc('\n', stdout);
        st->have_member = 1;
    }
    st->member = l->member;
    printf("%10llu: %s", (unsigned long long)l->offset, l->error ? "!! " : "");
    for (size_t i = 0; i < l->marks && i < 40; i++)
        fputs("  ", stdout);
    if (*l->opcode)
        printf("%-16s", l->opcode);
    else
        printf("0x%02x            ", l->byte);
    if (*l->value) {
        fputc(' ', stdout);
        out_safe_text(stdout, l->value);
    }
    if (*l->note) {
        fputs("  # ", stdout);
        out_safe_text(stdout, l->note);
    }
    fputc('\n', stdout);
    return 0;
}

int run_dis(const ckpt_scanner *s, const cli_opts *o)
{
    if (o->nargs != 1) {
        fputs("ckptscan: dis takes exactly one FILE\n", stderr);
        return 2;
    }
    /* member strings belong to the report, alive for the whole scan */
    dis_state st = {NULL, 0};
    ckpt_report *r = NULL;
    ckpt_status rc = ckpt_dis_file(s, o->args[0], o->dis_member, print_line, &st, &r);
    if (!r) {
        fprintf(stderr, "ckptscan: %s: %s\n", o->args[0], ckpt_strerror(rc));
        return 2;
    }
    if (st.have_member)
        fputc('\n', stdout);
    report_extra x;
    diagnose(r, &x);
    out_report(stdout, r, &x, o, 0);
    ckpt_verdict v = ckpt_report_verdict(r);
    ckpt_report_free(r);
    unsigned long long by_verdict[4] = {0};
    by_verdict[v] = 1;
    int floor = EXIT_SAFE;
    if (v != CKPT_VERDICT_ERROR && !st.have_member) {
        fputs("ckptscan: dis: no pickle", stderr);
        if (o->dis_member) {
            fputs(" in member '", stderr);
            out_safe_text(stderr, o->dis_member);
            fputc('\'', stderr);
        }
        fputs(" (see the report above)\n", stderr);
        floor = EXIT_TROUBLE;
    }
    return exit_status(by_verdict, o->fail_on, floor);
}
