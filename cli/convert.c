/* SPDX-License-Identifier: Apache-2.0 */
/* `ckptscan convert INPUT OUTPUT.safetensors` (or INPUT... DIR/): writes
 * the weights of SAFE checkpoints as safetensors without loading them.
 * The output goes to a temporary file in the target directory, is synced
 * and renamed into place only when complete; an existing output is kept
 * unless --force. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char convert_usage[] =
    "Usage: ckptscan convert [OPTIONS] INPUT OUTPUT.safetensors\n"
    "       ckptscan convert [OPTIONS] INPUT... DIR/\n"
    "Write the tensors of a checkpoint as a safetensors file without loading it.\n"
    "INPUT is scanned first (same verdicts as a scan); only a SAFE input is\n"
    "converted. Keys are the state_dict names; data is what torch.load returns\n"
    "(views made contiguous, big-endian storages swapped). Several inputs (shards)\n"
    "or a directory as last argument: one DIR/<name>.safetensors per input.\n"
    "Layouts: torch zip, torch legacy (stacked pickles or tar), .npy, .npz.\n"
    "\n"
    "Options:\n"
    "      --force             overwrite an existing output\n"
    "      --skip-unsupported  leave out tensors safetensors cannot express\n"
    "                          (quantized, sparse, complex, nested) and list them;\n"
    "                          without it such a tensor refuses the whole file\n"
    "  -f, --format FMT        text (default) or json (what was written, and the\n"
    "                          scan report)\n"
    "      --strict, --profile NAME, --policy FILE, --limit NAME=N\n"
    "                          the scan's policy and limits, as for a scan\n"
    "  -h, --help              print this help and exit\n"
    "\n"
    "Exit status:\n"
    "  0  every input was converted\n"
    "  1  some input was refused (verdict not safe, unsupported tensors, an\n"
    "     inconsistent storage): no output file was written for it\n"
    "  2  an input could not be read, an output exists (without --force) or\n"
    "     could not be written, or a usage error\n";

enum { C_FORCE = 256, C_SKIP, C_STRICT, C_PROFILE, C_POLICY, C_LIMIT };

static const struct option convert_opts[] = {
    {"force", no_argument, NULL, C_FORCE},
    {"skip-unsupported", no_argument, NULL, C_SKIP},
    {"format", required_argument, NULL, 'f'},
    {"strict", no_argument, NULL, C_STRICT},
    {"profile", required_argument, NULL, C_PROFILE},
    {"policy", required_argument, NULL, C_POLICY},
    {"limit", required_argument, NULL, C_LIMIT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct conv_cli {
    int force, json;
    unsigned flags;
    size_t done; /* conversions printed (json separators) */
} conv_cli;

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "ckptscan convert: %s%s%s\nTry 'ckptscan convert --help'.\n", what,
            arg ? " " : "", arg ? arg : "");
    return 2;
}

/* NAME=N with an optional k/M/G suffix. */
static int set_limit(ckpt_scanner *s, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[64], *end;
    if (!eq || (size_t)(eq - arg) >= sizeof(name))
        return usage("--limit wants NAME=N, got", arg);
    memcpy(name, arg, (size_t)(eq - arg));
    name[eq - arg] = 0;
    int l = ckpt_limit_from_name(name);
    errno = 0;
    unsigned long long v = strtoull(eq + 1, &end, 10);
    int shift = *end == 'k' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    end += shift != 0;
    if (l < 0 || errno || end == eq + 1 || *end || eq[1] == '-' || (v << shift) >> shift != v ||
        ckpt_scanner_set_limit(s, (ckpt_limit)l, v << shift) != CKPT_OK)
        return usage("bad --limit", arg);
    return -1;
}

static int option(int c, const char *arg, conv_cli *o, ckpt_scanner *s)
{
    size_t line = 0;
    switch (c) {
    case C_FORCE: o->force = 1; return -1;
    case C_SKIP: o->flags |= CKPT_CONVERT_SKIP_UNSUPPORTED; return -1;
    case 'f':
        if (strcmp(arg, "text") != 0 && strcmp(arg, "json") != 0)
            return usage("--format wants text or json, got", arg);
        o->json = strcmp(arg, "json") == 0;
        return -1;
    case C_STRICT: ckpt_scanner_set_strict(s, 1); return -1;
    case C_PROFILE:
        return ckpt_scanner_use_profile(s, arg) == CKPT_OK ? -1 : usage("unknown profile", arg);
    case C_POLICY:
        if (ckpt_scanner_add_policy_file(s, arg, &line) == CKPT_OK)
            return -1;
        fprintf(stderr, "ckptscan convert: %s: invalid policy (line %zu)\n", arg, line);
        return 2;
    case C_LIMIT: return set_limit(s, arg);
    case 'h': fputs(convert_usage, stdout); return 0;
    default: return usage("invalid option", NULL);
    }
}

/* ---- the output file ---- */

typedef struct sink {
    const char *out;
    char *tmp; /* created on the first write */
    FILE *f;
    int err; /* errno of the first failure */
} sink;

static int sink_write(void *ctx, const char *p, size_t n)
{
    sink *k = ctx;
    if (!k->f) {
        const char *slash = strrchr(k->out, '/');
        size_t dn = slash ? (size_t)(slash - k->out) + 1 : 0;
        k->tmp = malloc(dn + strlen(slash ? slash + 1 : k->out) + 16);
        if (!k->tmp)
            return k->err = ENOMEM;
        sprintf(k->tmp, "%.*s.%s.XXXXXX", (int)dn, k->out, slash ? slash + 1 : k->out);
        int fd = mkstemp(k->tmp);
        k->f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!k->f) {
            k->err = errno;
            if (fd >= 0) {
                close(fd);
                unlink(k->tmp);
            }
            free(k->tmp);
            k->tmp = NULL;
            return -1;
        }
        setvbuf(k->f, NULL, _IOFBF, 1 << 20);
    }
    if (fwrite(p, 1, n, k->f) != n) {
        k->err = errno;
        return -1;
    }
    return 0;
}

static void sink_discard(sink *k)
{
    if (k->f)
        fclose(k->f);
    if (k->tmp)
        unlink(k->tmp);
    free(k->tmp);
    k->f = NULL;
    k->tmp = NULL;
}

/* fsync, the permissions a plain create would give, then the rename
 * (never over an existing file without --force). */
static int sink_commit(sink *k, int force)
{
    mode_t mask = umask(0);
    umask(mask);
    int fd = fileno(k->f);
    if (fflush(k->f) != 0 || fchmod(fd, 0666 & ~mask) != 0 || fsync(fd) != 0 || fclose(k->f) != 0) {
        k->err = errno;
        k->f = NULL;
        return -1;
    }
    k->f = NULL;
    int rc = force ? rename(k->tmp, k->out)
                   : renameat2(AT_FDCWD, k->tmp, AT_FDCWD, k->out, RENAME_NOREPLACE);
    if (rc != 0 && !force && errno == EINVAL) /* a file system without NOREPLACE */
        rc = link(k->tmp, k->out) == 0 ? unlink(k->tmp) : -1;
    if (rc != 0) {
        k->err = errno;
        return -1;
    }
    free(k->tmp);
    k->tmp = NULL;
    char *dir = strdup(k->out);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    int dfd = dir ? open(slash ? (slash[1] = 0, dir) : ".", O_RDONLY | O_DIRECTORY) : -1;
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself survives a crash */
        close(dfd);
    }
    free(dir);
    return 0;
}

/* ---- reporting ---- */

static void print_findings(const ckpt_report *r)
{
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        printf("  %-10s %-22s ", ckpt_severity_name(f.severity), ckpt_code_name(f.code));
        out_safe_text(stdout, *f.member ? f.member : "(file)");
        printf(":%" PRIu64 " ", f.offset);
        out_safe_text(stdout, f.message);
        putchar('\n');
    }
}

static void print_text(const char *in, const char *out, const ckpt_conversion *c)
{
    const ckpt_report *r = ckpt_conversion_report(c);
    out_safe_text(stdout, in);
    fputs(" -> ", stdout);
    out_safe_text(stdout, out);
    printf(": %s: ", ckpt_convert_outcome_name(ckpt_conversion_outcome(c)));
    out_safe_text(stdout, ckpt_conversion_message(c));
    putchar('\n');
    for (size_t i = 0; i < ckpt_conversion_tensor_count(c); i++) {
        ckpt_converted t;
        ckpt_conversion_tensor(c, i, &t);
        if (t.written || !*t.reason)
            continue;
        fputs("  unsupported ", stdout);
        out_safe_text(stdout, t.name);
        fputs(" (", stdout);
        out_safe_text(stdout, t.reason);
        fputs(")", stdout);
        puts(ckpt_conversion_outcome(c) == CKPT_CONVERT_WRITTEN ? ": skipped" : "");
    }
    if (r && ckpt_conversion_outcome(c) == CKPT_CONVERT_NOT_SAFE)
        print_findings(r);
}

static int put(void *ctx, const char *p, size_t n)
{
    return fwrite(p, 1, n, ctx) == n ? 0 : -1;
}

static void json_str(const char *s)
{
    ckpt_write_json_string(put, stdout, s, strlen(s));
}

static void json_tensor(const ckpt_converted *t)
{
    fputs("{\"name\":", stdout);
    json_str(t->name);
    fputs(",\"dtype\":", stdout);
    json_str(t->dtype);
    fputs(",\"shape\":[", stdout);
    for (size_t d = 0; d < t->ndim; d++)
        printf("%s%" PRId64, d ? "," : "", t->shape[d]);
    if (t->written)
        printf("],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", t->begin, t->end);
    else {
        fputs("],\"reason\":", stdout);
        json_str(t->reason);
        putchar('}');
    }
}

static void json_list(const ckpt_conversion *c, int written)
{
    size_t k = 0;
    for (size_t i = 0; i < ckpt_conversion_tensor_count(c); i++) {
        ckpt_converted t;
        ckpt_conversion_tensor(c, i, &t);
        if (t.written == written && (written || *t.reason)) { /* a refused one has none */
            fputs(k++ ? "," : "", stdout);
            json_tensor(&t);
        }
    }
}

static void print_json(const char *in, const char *out, const ckpt_conversion *c, conv_cli *o)
{
    fputs(o->done++ ? ",\n{\"input\":" : "{\"input\":", stdout);
    json_str(in);
    fputs(",\"output\":", stdout);
    json_str(out);
    fputs(",\"outcome\":", stdout);
    json_str(ckpt_convert_outcome_name(ckpt_conversion_outcome(c)));
    fputs(",\"message\":", stdout);
    json_str(ckpt_conversion_message(c));
    int written = ckpt_conversion_outcome(c) == CKPT_CONVERT_WRITTEN;
    printf(",\"bytes\":%" PRIu64 ",\"tensors\":[", written ? ckpt_conversion_bytes(c) : 0);
    if (written)
        json_list(c, 1);
    fputs(written ? "],\"skipped\":[" : "],\"unsupported\":[", stdout);
    json_list(c, 0);
    fputs("],\"report\":", stdout);
    const ckpt_report *r = ckpt_conversion_report(c);
    if (r)
        ckpt_report_write_json(r, put, stdout);
    else
        fputs("null", stdout);
    putchar('}');
}

/* ---- one conversion ---- */

static int convert_one(const ckpt_scanner *s, const char *in, const char *out, conv_cli *o)
{
    struct stat st;
    if (!o->force && lstat(out, &st) == 0) {
        fprintf(stderr, "ckptscan convert: %s exists: not overwritten (use --force)\n", out);
        return 2;
    }
    sink k = {out, NULL, NULL, 0};
    ckpt_conversion *c = NULL;
    /* a partial output is discarded: deflated records are checked once, as written */
    ckpt_status rc = ckpt_convert_safetensors(s, in, o->flags | CKPT_CONVERT_CHECK_WHILE_WRITING,
                                              sink_write, &k, &c);
    if (!c) {
        fprintf(stderr, "ckptscan convert: %s: %s\n", in, ckpt_strerror(rc));
        return 2;
    }
    int written = rc == CKPT_OK && ckpt_conversion_outcome(c) == CKPT_CONVERT_WRITTEN;
    if (written && !k.f) /* nothing reached the sink: impossible for a valid file */
        written = sink_write(&k, "", 0) == 0;
    if (written && sink_commit(&k, o->force) != 0) {
        fprintf(stderr, "ckptscan convert: %s: %s\n", out, strerror(k.err));
        rc = CKPT_ERR_IO;
    } else if (rc == CKPT_ERR_IO && k.err) {
        fprintf(stderr, "ckptscan convert: %s: %s\n", out, strerror(k.err));
    }
    sink_discard(&k);
    if (o->json)
        print_json(in, out, c, o);
    else
        print_text(in, out, c);
    int status = rc != CKPT_OK ? 2 : ckpt_conversion_outcome(c) == CKPT_CONVERT_WRITTEN ? 0 : 1;
    ckpt_conversion_free(c);
    return status;
}

/* DIR/<input's base name without its extension>.safetensors */
static char *output_in(const char *dir, const char *in)
{
    const char *base = strrchr(in, '/') ? strrchr(in, '/') + 1 : in;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *p = malloc(strlen(dir) + n + 16);
    if (p)
        sprintf(p, "%s%s%.*s.safetensors", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", (int)n,
                base);
    return p;
}

static int convert_many(const ckpt_scanner *s, char **args, int n, conv_cli *o)
{
    const char *dir = args[n - 1];
    strlist outs = {0};
    for (int i = 0; i + 1 < n; i++) {
        char *out = output_in(dir, args[i]);
        if (!out || strlist_add(&outs, out) < 0) {
            free(out);
            strlist_free(&outs);
            return usage("out of memory", NULL);
        }
        free(out);
        for (size_t j = 0; j + 1 < outs.n; j++)
            if (strcmp(outs.v[j], outs.v[outs.n - 1]) == 0) {
                strlist_free(&outs);
                return usage("two inputs would write the same output", args[i]);
            }
    }
    int worst = 0;
    for (int i = 0; i + 1 < n; i++) {
        int rc = convert_one(s, args[i], outs.v[i], o);
        worst = rc > worst ? rc : worst;
    }
    strlist_free(&outs);
    return worst;
}

int run_convert(ckpt_scanner *s, int argc, char **argv)
{
    conv_cli o = {0, 0, 0, 0};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":f:h", convert_opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return usage(c == ':' ? "option needs an argument:" : "unknown option",
                         argv[optind - 1]);
        int rc = option(c, optarg, &o, s);
        if (rc >= 0)
            return rc;
    }
    int n = argc - optind;
    char **args = argv + optind;
    struct stat st;
    if (n < 2)
        return usage("wants INPUT and OUTPUT (or INPUT... DIR)", NULL);
    int to_dir = n > 2 || (stat(args[n - 1], &st) == 0 && S_ISDIR(st.st_mode));
    if (to_dir && (stat(args[n - 1], &st) != 0 || !S_ISDIR(st.st_mode)))
        return usage("with several inputs the last argument must be a directory:", args[n - 1]);
    if (o.json)
        fputs("{\"conversions\":[\n", stdout);
    int rc = to_dir ? convert_many(s, args, n, &o) : convert_one(s, args[0], args[1], &o);
    if (o.json)
        fputs("\n]}\n", stdout);
    if (fflush(stdout) != 0) {
        perror("ckptscan convert: writing output");
        return 2;
    }
    return rc;
}
