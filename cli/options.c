/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line parsing and --help. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: ckptscan [OPTIONS] FILE|DIR...\n"
    "       ckptscan inspect [OPTIONS] FILE...\n"
    "       ckptscan dis [--member NAME] [OPTIONS] FILE\n"
    "       ckptscan convert [OPTIONS] INPUT OUTPUT.safetensors  (see convert --help)\n"
    "Scan PyTorch checkpoints and Python pickles for code that would run when\n"
    "they are loaded, without loading them. FILE may be - for standard input;\n"
    "directories are walked recursively (symlinks followed, each file once).\n"
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
    "inspect shows what each FILE holds, without loading it: format, archive members,\n"
    "torch metadata, every tensor (key path, dtype, shape, strides, storage,\n"
    "offset, bytes; checked against its storage record), the top-level keys,\n"
    "each import with its verdict and where the object uses it, and whether\n"
    "torch.load(weights_only=True) accepts the file; then the scan's findings.\n"
    "--format json adds an \"inspection\" object to the report.\n"
    "\n"
    "dis prints an annotated opcode listing of every pickle in FILE (or only of\n"
    "archive member NAME; --member '' is the file itself): resolved names, memo\n"
    "slots, the call each opcode makes, frames, and where parsing stopped and why.\n"
    "\n"
    "Options:\n"
    "  -f, --format FMT     text (default), json (one document), jsonl (one line\n"
    "                       per file as it finishes, then a summary line) or sarif\n"
    "                       (SARIF 2.1.0 for GitHub code scanning: rule ids are the\n"
    "                       finding codes; files with findings are hashed for the\n"
    "                       fingerprints) or baseline (a --baseline file: the SHA-256,\n"
    "                       verdict and path of each file that is not safe)\n"
    "      --fail-on LEVEL  fail (exit 1, or 3 for dangerous) when a file is at\n"
    "                       least LEVEL: suspicious (default) or dangerous\n"
    "      --strict         every import that is not allowlisted counts as dangerous\n"
    "      --profile NAME   add a built-in policy profile; repeatable: ml (stock torch.nn\n"
    "                       layers, optimizers, schedulers), torchvision, transformers,\n"
    "                       lightning, sklearn, pandas, dill\n"
    "      --policy FILE    add allow/deny entries from a policy file; repeatable\n"
    "                       (an allow line that a deny rule overrides is a warning)\n"
    "      --limit NAME=N   change a limit (see --list-limits); repeatable\n"
    "      --color WHEN     colour text output: auto (default: only on a terminal,\n"
    "                       and not when NO_COLOR is set), always, never\n"
    "  -q, --quiet          text: print only the verdict line of each file\n"
    "  -i, --unsafe-only    list only the files that are not safe (text, json, jsonl,\n"
    "                       sarif), and always end with the summary\n"
    "      --no-progress    no progress line on standard error (drawn only when it is\n"
    "                       a terminal, and cleared before each report line)\n"
    "      --label NAME     report standard input (-) under NAME\n"
    "      --hash           add the SHA-256 of each file (json/jsonl \"sha256\", text\n"
    "                       and SARIF too); off by default: it reads every byte of\n"
    "                       every file, while a scan reads only what loaders read\n"
    "  -j, --jobs N         scan N files at once (default: number of CPUs); output\n"
    "                       order and exit status do not depend on N\n"
    "      --files-from F   also scan the paths listed in F, one per line (- for\n"
    "                       standard input; CRLF line ends are fine; a list with\n"
    "                       NUL bytes needs -0)\n"
    "  -0, --null           --files-from entries are separated by NUL bytes\n"
    "      --include GLOB   only files matching GLOB (repeatable; a GLOB without '/'\n"
    "                       matches the file name, with '/' the whole path)\n"
    "      --exclude GLOB   skip files matching GLOB (repeatable); a file reached\n"
    "                       under several names is scanned if any name is selected\n"
    "      --shard K/N      only the K-th of N deterministic shards of the inputs\n"
    "                       (by a hash of each path), to split a batch across machines\n"
    "      --max-file-size N  same as --limit max-file-size=N\n"
    "      --list-codes     print the finding codes as a Markdown table and exit\n"
    "      --explain CODE   print what finding CODE means and what to do, and exit\n"
    "      --baseline FILE  files already reviewed: lines SHA256 VERDICT [PATH] (as\n"
    "                       --format baseline writes them); a file whose content is\n"
    "                       listed at its verdict or worse does not fail the run (it is\n"
    "                       still reported, marked accepted); files that are not safe\n"
    "                       are hashed for this\n"
    "      --cache DIR      keep each file's report in DIR, keyed by the SHA-256 of its\n"
    "                       bytes, the scanner build and the configuration (profiles,\n"
    "                       policy files, limits, --strict): an unchanged file is then\n"
    "                       only hashed, not scanned again; output is the same as\n"
    "                       without the cache. DIR (created if missing) must be yours\n"
    "                       and not writable by group or others: whoever can write it\n"
    "                       can forge results. Files over 64 MiB are scanned, not\n"
    "                       hashed. Not for inspect or dis\n"
    "      --list-limits    print the limits with defaults and reasons and exit\n"
    "  -h, --help           print this help and exit\n"
    "  -V, --version        print the version and exit\n"
    "\n"
    "Exit status (the highest status that applies, so a dangerous file is never\n"
    "masked by an unreadable one):\n"
    "  0  every file is safe (with --fail-on dangerous: none is dangerous)\n"
    "  1  some file is at or above --fail-on (suspicious by default)\n"
    "  2  some file could not be read, no input file was found, an input list\n"
    "     is unusable, or a usage error\n"
    "  3  some file is dangerous (whatever --fail-on says)\n"
    "  130  interrupted by SIGINT or SIGTERM: what was complete is reported, and\n"
    "     JSON/SARIF stay valid documents with the summary marked interrupted\n";

enum {
    OPT_FAIL_ON = 256,
    OPT_STRICT,
    OPT_PROFILE,
    OPT_POLICY,
    OPT_LIMIT,
    OPT_COLOR,
    OPT_LIST_CODES,
    OPT_LIST_LIMITS,
    OPT_FILES_FROM,
    OPT_INCLUDE,
    OPT_EXCLUDE,
    OPT_SHARD,
    OPT_MAX_FILE_SIZE,
    OPT_MEMBER,
    OPT_NO_PROGRESS,
    OPT_LABEL,
    OPT_HASH,
    OPT_EXPLAIN,
    OPT_BASELINE,
    OPT_CACHE
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
    {"unsafe-only", no_argument, NULL, 'i'},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"label", required_argument, NULL, OPT_LABEL},
    {"hash", no_argument, NULL, OPT_HASH},
    {"explain", required_argument, NULL, OPT_EXPLAIN},
    {"baseline", required_argument, NULL, OPT_BASELINE},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"jobs", required_argument, NULL, 'j'},
    {"files-from", required_argument, NULL, OPT_FILES_FROM},
    {"null", no_argument, NULL, '0'},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"max-file-size", required_argument, NULL, OPT_MAX_FILE_SIZE},
    {"member", required_argument, NULL, OPT_MEMBER},
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

/* A positive decimal number with an optional k/M/G suffix (2^10...). */
static int parse_size(const char *text, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    int shift = *end == 'k' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift)
        end++;
    if (errno || end == text || *end || text[0] == '-' || (shift && v > (~0ULL >> shift)))
        return -1;
    *out = v << shift;
    return 0;
}

static int set_named_limit(ckpt_scanner *s, const char *name, const char *value)
{
    int l = ckpt_limit_from_name(name);
    unsigned long long v;
    if (l < 0)
        return usage_error("unknown limit '%s' (see --list-limits)", name);
    if (parse_size(value, &v) < 0)
        return usage_error("%s: '%s' is not a number", name, value);
    if (ckpt_scanner_set_limit(s, (ckpt_limit)l, v) != CKPT_OK)
        return usage_error("%s: value out of range: %s", name, value);
    return -1;
}

/* NAME=N */
static int parse_limit(ckpt_scanner *s, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[64];
    if (!eq || (size_t)(eq - arg) >= sizeof(name))
        return usage_error("--limit wants NAME=N, got '%s'", arg);
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = '\0';
    return set_named_limit(s, name, eq + 1);
}

static int parse_jobs(cli_opts *o, const char *arg)
{
    unsigned long long v;
    if (parse_size(arg, &v) < 0 || v < 1 || v > 1024)
        return usage_error("--jobs wants a number from 1 to 1024, got '%s'", arg);
    o->jobs = (int)v;
    return -1;
}

/* K/N with 1 <= K <= N. */
static int parse_shard(cli_opts *o, const char *arg)
{
    unsigned k, n;
    char tail;
    if (sscanf(arg, "%u/%u%c", &k, &n, &tail) != 2 || n < 1 || k < 1 || k > n)
        return usage_error("--shard wants K/N with 1 <= K <= N, got '%s'", arg);
    o->shard_k = k;
    o->shard_n = n;
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

static int load_baseline(cli_opts *o, const char *path)
{
    size_t bad = 0;
    baseline_free(o->accepted);
    o->accepted = baseline_load(path, &bad);
    if (o->accepted)
        return -1;
    if (bad)
        fprintf(stderr, "ckptscan: %s:%zu: not a baseline line (SHA256 VERDICT [PATH])\n", path,
                bad);
    else
        fprintf(stderr, "ckptscan: --baseline %s: %s\n", path, strerror(errno));
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
        else if (strcmp(arg, "jsonl") == 0)
            o->format = OUT_JSONL;
        else if (strcmp(arg, "sarif") == 0)
            o->format = OUT_SARIF;
        else if (strcmp(arg, "baseline") == 0)
            o->format = OUT_BASELINE;
        else
            return usage_error("unknown format '%s' (text, json, jsonl, sarif, baseline)", arg);
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
            return usage_error("unknown profile '%s' (ml, torchvision, transformers, lightning, "
                               "sklearn, pandas, dill)",
                               arg);
        return -1;
    case OPT_POLICY:
        if (strlist_add(&o->policies, arg) < 0)
            return usage_error("%s", "out of memory");
        return add_policy(s, arg);
    case OPT_LIMIT: return parse_limit(s, arg);
    case OPT_COLOR:
        o->color = want_color(arg);
        return o->color < 0 ? usage_error("--color wants auto, always or never, got '%s'", arg)
                            : -1;
    case 'q': o->quiet = 1; return -1;
    case 'i': o->unsafe_only = 1; return -1;
    case OPT_NO_PROGRESS: o->progress = 0; return -1;
    case OPT_LABEL: o->label = arg; return -1;
    case OPT_HASH: o->hash = 1; return -1;
    case 'j': return parse_jobs(o, arg);
    case OPT_FILES_FROM: o->files_from = arg; return -1;
    case '0': o->null_sep = 1; return -1;
    case OPT_INCLUDE:
        return strlist_add(&o->include, arg) < 0 ? usage_error("%s", "out of memory") : -1;
    case OPT_EXCLUDE:
        return strlist_add(&o->exclude, arg) < 0 ? usage_error("%s", "out of memory") : -1;
    case OPT_SHARD: return parse_shard(o, arg);
    case OPT_MAX_FILE_SIZE: return set_named_limit(s, "max-file-size", arg);
    case OPT_MEMBER:
        if (o->command != CMD_DIS)
            return usage_error("%s", "--member goes with the dis command");
        o->dis_member = arg;
        return -1;
    case OPT_LIST_CODES: list_codes(); return 0;
    case OPT_EXPLAIN: return explain(arg);
    case OPT_BASELINE: return load_baseline(o, arg);
    case OPT_CACHE: o->cache_dir = arg; return -1;
    case OPT_LIST_LIMITS: list_limits(); return 0;
    case 'h': fputs(usage_text, stdout); return 0;
    case 'V': printf("ckptscan %s\n", ckpt_version()); return 0;
    default: return usage_error("%s", "invalid option");
    }
}

void cli_opts_free(cli_opts *o)
{
    strlist_free(&o->include);
    strlist_free(&o->exclude);
    strlist_free(&o->policies);
    baseline_free(o->accepted);
    cache_close(o->cache);
}

static int default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int cli_parse(int argc, char **argv, cli_opts *o, ckpt_scanner *s)
{
    memset(o, 0, sizeof(*o));
    o->fail_on = CKPT_VERDICT_SUSPICIOUS;
    o->color = want_color("auto");
    o->progress = isatty(STDERR_FILENO);
    o->jobs = default_jobs();
    opterr = 0;
    if (argc > 1 && (strcmp(argv[1], "dis") == 0 || strcmp(argv[1], "inspect") == 0)) {
        o->command = strcmp(argv[1], "dis") == 0 ? CMD_DIS : CMD_INSPECT;
        argv++;
        argc--;
    }
    int c;
    while ((c = getopt_long(argc, argv, ":f:qij:0hV", long_opts, NULL)) != -1) {
        if (c == '?')
            return usage_error("unknown option '%s'", argv[optind - 1]);
        if (c == ':')
            return usage_error("option '%s' needs an argument", argv[optind - 1]);
        int rc = handle(c, optarg, o, s);
        if (rc >= 0)
            return rc;
    }
    if (optind >= argc && !o->files_from)
        return usage_error("%s", "no FILE given");
    check_policy_files(s, &o->policies);
    if (o->cache_dir && o->command != CMD_SCAN)
        return usage_error("%s", "--cache goes with scanning, not with inspect or dis");
    /* opened once the scanner is configured: its configuration is in the key */
    if (o->cache_dir && (o->cache = cache_open(o->cache_dir, s)) == NULL)
        return 2;
    o->args = argv + optind;
    o->nargs = argc - optind;
    return -1;
}
