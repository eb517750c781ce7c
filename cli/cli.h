/* The ckptscan command line: options, output writers. Uses only the public
 * header. */
#ifndef CKPTSCAN_CLI_H
#define CKPTSCAN_CLI_H

#include <stdio.h>

#include "ckptscan.h"

enum out_format { OUT_TEXT, OUT_JSON };

typedef struct cli_opts {
    enum out_format format;
    ckpt_verdict fail_on; /* SUSPICIOUS or DANGEROUS */
    int color;            /* resolved: 1 to colour text output */
    int quiet;            /* text: verdict lines only */
    char **files;
    int nfiles;
} cli_opts;

/* Parses argv, configuring the scanner. Returns -1 to go on, or an exit
 * status (0 after --help/--version, 2 on a usage error). */
int cli_parse(int argc, char **argv, cli_opts *o, ckpt_scanner *s);

typedef struct cli_summary {
    unsigned long long files, by_verdict[4];
    double seconds;
} cli_summary;

void out_text_report(FILE *f, const ckpt_report *r, const cli_opts *o);
void out_text_summary(FILE *f, const cli_summary *sum, const cli_opts *o);
void out_json_begin(FILE *f);
void out_json_report(FILE *f, const ckpt_report *r, int first);
void out_json_end(FILE *f, const cli_summary *sum);
/* Writes s with bytes that could drive a terminal shown as \xNN. */
void out_safe_text(FILE *f, const char *s);

#endif
