/* SPDX-License-Identifier: Apache-2.0 */
/* ckptscan: scan checkpoints and pickles before loading them. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int exit_status(const unsigned long long by_verdict[4], ckpt_verdict fail_on, int floor)
{
    int rc = floor;
    if (by_verdict[CKPT_VERDICT_DANGEROUS] && rc < EXIT_DANGEROUS)
        rc = EXIT_DANGEROUS;
    if (by_verdict[CKPT_VERDICT_ERROR] && rc < EXIT_TROUBLE)
        rc = EXIT_TROUBLE;
    for (int v = (int)fail_on; v <= CKPT_VERDICT_DANGEROUS && rc < EXIT_FAIL_ON; v++)
        if (by_verdict[v])
            rc = EXIT_FAIL_ON;
    return rc;
}

static int run(const ckpt_scanner *s, const cli_opts *o)
{
    cli_summary sum = {0};
    size_t n = 0;
    int rc = run_batch(s, o, &sum, &n);
    if (rc == 0 && n == 0 && o->shard_n == 0 && !sum.walk.unlisted.n && !sum.interrupted) {
        /* a gate that scanned nothing must not pass */
        fputs("ckptscan: no input files (empty directory or all excluded)\n", stderr);
        rc = EXIT_TROUBLE;
    }
    if (sum.walk.unlisted.n && rc < EXIT_TROUBLE)
        rc = EXIT_TROUBLE; /* a directory that could not be read */
    if (n == 0)
        out_begin(stdout, o); /* an empty run is still a valid document */
    out_end(stdout, &sum, o, n);
    strlist_free(&sum.unreadable);
    strlist_free(&sum.walk.unlisted);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("ckptscan: writing output");
        rc = EXIT_TROUBLE;
    }
    if (sum.interrupted)
        return EXIT_INTERRUPTED;
    return exit_status(sum.gate, o->fail_on, rc);
}

int main(int argc, char **argv)
{
    ckpt_scanner *s;
    if (ckpt_scanner_new(&s) != CKPT_OK) {
        fputs("ckptscan: out of memory\n", stderr);
        return 2;
    }
    if (argc > 1 && strcmp(argv[1], "convert") == 0) {
        int crc = run_convert(s, argc - 1, argv + 1);
        ckpt_scanner_free(s);
        return crc;
    }
    cli_opts o;
    cli_signals_install();
    int rc = cli_parse(argc, argv, &o, s);
    if (rc < 0)
        rc = o.command == CMD_DIS ? run_dis(s, &o) : run(s, &o);
    cli_opts_free(&o);
    ckpt_scanner_free(s);
    return rc;
}
