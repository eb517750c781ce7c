/* Command-line parsing and --help. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: ckptscan [OPTIONS] FILE...\n"
    "Scan PyTorch checkpoints and Python pickles for code that would run when\n"
    "they are loaded, without loading them. FILE may be - for standard input.\n"
    "\n"
    "Verdicts:\n"
    "  safe        every import is exactly on the allowlist and nothing odd was seen\n"
    "  suspicious  an import outside the allowlist, a parse error, a limit hit or\n"
    "              another anomaly: look before loading\n"
    "  dangerous   exec, commands, native code, import trampolines, nested\n"
    "              deserialisation, file or network access, deferred execution,\n"
    "              a dynamic import or a mutation of global state\n"
    "  error       the file could not be read\n"
    "\n"
    "Options:\n"
    "  -f, --format FMT     text (default) or json\n"
    "      --fail-on LEVEL  exit 1 when a file is at least LEVEL: suspicious\n"
    "                       (default) or dangerous\n"
    "      --strict         every import that is not allowlisted counts as dangerous\n"
    "      --profile NAME   add a built-in policy profile: ml (stock torch.nn layers,\n"
    "                       optimizers and schedulers); repeatable\n"
    "      --policy FILE    add allow/deny entries from a policy file; repeatable\n"
    "      --limit NAME=N   change a limit (see --list-limits); repeatable\n"
    "      --color WHEN     colour text output: auto (default: only on a terminal,\n"
    "                       and not when NO_COLOR is set), always, never\n"
    "  -q, --quiet          text: print only the verdict line of each file\n"
    "      --list-codes     print the finding codes as a Markdown table and exit\n"
    "      --list-limits    print the limits with defaults and reasons and exit\n"
    "  -h, --help           print this help and exit\n"
    "  -V, --version        print the version and exit\n"
    "\n"
    "Exit status:\n"
    "  0  every file is safe\n"
    "  1  some file is at or above --fail-on (and every file could be read)\n"
    "  2  some file could not be read, or a usage error\n";

enum {
    OPT_FAIL_ON = 256,
    OPT_STRICT,
    OPT_PROFILE,
    OPT_POLICY,
    OPT_LIMIT,
    OPT_COLOR,
    OPT_LIST_CODES,
    OPT_LIST_LIMITS
};

static const struct option long_opts[] = {
    {"format", required_argument, NULL, 'f'},
    {"fail-on", required_argument, NULL, OPT_FAIL_ON},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"color", required_argument, NULL, OPT_COLOR},
    {"colour", required_argument, NULL, OPT_COLOR},
    {"quiet", no_argument, NULL, 'q'},
    {"list-codes", no_argument, NULL, OPT_LIST_CODES},
    {"list-limits", no_argument, NULL, OPT_LIST_LIMITS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("ckptscan: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'ckptscan --help' for more information.\n", stderr);
    return 2;
}

static void list_codes(void)
{
    puts("| code | severity | meaning |");
    puts("|---|---|---|");
    for (int c = 0; c < CKPT_F_COUNT_; c++)
        printf("| `%s` | %s | %s |\n", ckpt_code_name((ckpt_code)c),
               ckpt_severity_name(ckpt_code_severity((ckpt_code)c)),
               ckpt_code_description((ckpt_code)c));
}

static void list_limits(void)
{
    for (int l = 0; l < CKPT_LIMIT_COUNT_; l++)
        printf("%-18s %-14llu %s\n", ckpt_limit_name((ckpt_limit)l),
               (unsigned long long)ckpt_limit_default((ckpt_limit)l),
               ckpt_limit_reason((ckpt_limit)l));
}

/* NAME=N with N a positive decimal number (suffixes k, M, G = 2^10...). */
static int parse_limit(ckpt_scanner *s, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[64];
    if (!eq || (size_t)(eq - arg) >= sizeof(name))
        return usage_error("--limit wants NAME=N, got '%s'", arg);
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    int l = ckpt_limit_from_name(name);
    if (l < 0)
        return usage_error("unknown limit '%s' (see --list-limits)", name);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(eq + 1, &end, 10);
    int shift = *end == 'k' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift)
        end++;
    if (errno || end == eq + 1 || *end || eq[1] == '-' || (shift && v > (~0ULL >> shift)))
        return usage_error("--limit: '%s' is not a number", eq + 1);
    if (ckpt_scanner_set_limit(s, (ckpt_limit)l, (uint64_t)v << shift) != CKPT_OK)
        return usage_error("--limit: value out of range in '%s'", arg);
    return -1;
}

static int add_policy(ckpt_scanner *s, const char *path)
{
    size_t line = 0;
    ckpt_status st = ckpt_scanner_add_policy_file(s, path, &line);
    if (st == CKPT_OK)
        return -1;
    if (st == CKPT_ERR_POLICY)
        fprintf(stderr, "ckptscan: %s:%zu: invalid policy line\n", path, line);
    else
        fprintf(stderr, "ckptscan: %s: %s\n", path, ckpt_strerror(st));
    return 2;
}

static int want_color(const char *when)
{
    if (strcmp(when, "always") == 0)
        return 1;
    if (strcmp(when, "never") == 0)
        return 0;
    if (strcmp(when, "auto") == 0)
        return isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    return -1;
}

static int handle(int c, const char *arg, cli_opts *o, ckpt_scanner *s)
{
    switch (c) {
    case 'f':
        if (strcmp(arg, "text") == 0)
            o->format = OUT_TEXT;
        else if (strcmp(arg, "json") == 0)
            o->format = OUT_JSON;
        else
            return usage_error("unknown format '%s' (text, json)", arg);
        return -1;
    case OPT_FAIL_ON:
        if (strcmp(arg, "suspicious") == 0)
            o->fail_on = CKPT_VERDICT_SUSPICIOUS;
        else if (strcmp(arg, "dangerous") == 0)
            o->fail_on = CKPT_VERDICT_DANGEROUS;
        else
            return usage_error("--fail-on wants suspicious or dangerous, got '%s'", arg);
        return -1;
    case OPT_STRICT: ckpt_scanner_set_strict(s, 1); return -1;
    case OPT_PROFILE:
        if (ckpt_scanner_use_profile(s, arg) != CKPT_OK)
            return usage_error("unknown profile '%s' (ml)", arg);
        return -1;
    case OPT_POLICY: return add_policy(s, arg);
    case OPT_LIMIT: return parse_limit(s, arg);
    case OPT_COLOR:
        o->color = want_color(arg);
        return o->color < 0 ? usage_error("--color wants auto, always or never, got '%s'", arg)
                            : -1;
    case 'q': o->quiet = 1; return -1;
    case OPT_LIST_CODES: list_codes(); return 0;
    case OPT_LIST_LIMITS: list_limits(); return 0;
    case 'h': fputs(usage_text, stdout); return 0;
    case 'V': printf("ckptscan %s\n", ckpt_version()); return 0;
    default: return usage_error("%s", "invalid option");
    }
}

int cli_parse(int argc, char **argv, cli_opts *o, ckpt_scanner *s)
{
    memset(o, 0, sizeof(*o));
    o->fail_on = CKPT_VERDICT_SUSPICIOUS;
    o->color = want_color("auto");
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":f:qhV", long_opts, NULL)) != -1) {
        if (c == '?')
            return usage_error("unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return usage_error("option '%s' needs an argument", argv[optind - 1]);
        int rc = handle(c, optarg, o, s);
        if (rc >= 0)
            return rc;
    }
    if (optind >= argc)
        return usage_error("%s", "no FILE given");
    o->nfiles = argc - optind;
    o->files = malloc(sizeof(char *) * (size_t)o->nfiles);
    if (!o->files)
        return usage_error("%s", "out of memory");
    memcpy(o->files, argv + optind, sizeof(char *) * (size_t)o->nfiles);
    return -1;
}
