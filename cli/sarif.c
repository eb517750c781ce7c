/* SPDX-License-Identifier: Apache-2.0 */
/* --format sarif: one SARIF 2.1.0 log shaped for GitHub code scanning.
 * Each result points at the scanned file itself (a URI relative to the
 * %SRCROOT% base, the current directory), names the archive member in its
 * message and a logical location, starts at line 1 (checkpoints have no
 * lines; the byte offset is a property, and the region's byteOffset when
 * it is an offset in the file), and carries a fingerprint made of the
 * file's SHA-256, the code, the member and the offset. Rules carry
 * security-severity and tags. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define INFO_URI "https://github.com/ckptscan/ckptscan"
#define BASE_ID  "SRCROOT"

typedef struct artifact {
    char *uri; /* encoded */
    int based; /* relative to BASE_ID */
    uint64_t size;
    char sha256[65];
} artifact;

struct cli_sarif {
    FILE *f;
    char cwd[4096]; /* with a trailing '/', or "" */
    artifact *arts;
    size_t narts, cap, nresults;
    strlist errors; /* notifications for files that could not be read */
};

static int put(void *ctx, const char *bytes, size_t len)
{
    return fwrite(bytes, 1, len, (FILE *)ctx) == len ? 0 : -1;
}

static void str(FILE *f, const char *s)
{
    ckpt_write_json_string(put, f, s, strlen(s));
}

/* "key": "value" with a leading comma unless first. */
static void kstr(FILE *f, const char *key, const char *value, int first)
{
    fprintf(f, "%s\"%s\":", first ? "" : ",", key);
    str(f, value);
}

static const char *level_of(ckpt_severity s)
{
    return s == CKPT_SEV_DANGEROUS ? "error" : s == CKPT_SEV_SUSPICIOUS ? "warning" : "note";
}

/* GitHub ranks alerts by this score (critical >= 9, high >= 7, medium >= 4). */
static const char *security_severity(ckpt_severity s)
{
    return s == CKPT_SEV_DANGEROUS ? "9.8" : s == CKPT_SEV_SUSPICIOUS ? "5.0" : "1.0";
}

/* RFC 3986: unreserved bytes and '/' as they are, the rest %XX. */
static char *uri_encode(const char *s, const char *prefix)
{
    size_t plen = strlen(prefix);
    char *out = malloc(plen + 3 * strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    memcpy(o, prefix, plen);
    o += plen;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

/* The artifact URI of a path: relative to the base when the path is
 * relative or under the current directory, else an absolute file URI. */
static char *path_uri(const cli_sarif *s, const char *path, int *based)
{
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    size_t clen = strlen(s->cwd);
    *based = 1;
    if (path[0] != '/')
        return uri_encode(path, "");
    if (clen && strncmp(path, s->cwd, clen) == 0)
        return uri_encode(path + clen, "");
    *based = 0;
    return uri_encode(path, "file://");
}

static void write_rule(FILE *f, ckpt_code c, int first)
{
    ckpt_severity sev = ckpt_code_severity(c);
    fputs(first ? "{" : ",{", f);
    kstr(f, "id", ckpt_code_name(c), 1);
    kstr(f, "name", ckpt_code_name(c), 0);
    fputs(",\"shortDescription\":{", f);
    kstr(f, "text", ckpt_code_description(c), 1);
    fputs("},\"fullDescription\":{", f);
    kstr(f, "text", ckpt_code_description(c), 1);
    fputs("},\"help\":{", f);
    kstr(f, "text", code_advice(c), 1);
    fputs("},\"helpUri\":", f);
    str(f, INFO_URI "#finding-codes");
    fprintf(f, ",\"defaultConfiguration\":{\"level\":\"%s\"}", level_of(sev));
    fprintf(f,
            ",\"properties\":{\"security-severity\":\"%s\",\"precision\":\"%s\","
            "\"tags\":[\"security\",\"supply-chain\",\"model-checkpoint\",\"%s\"]}}",
            security_severity(sev), sev == CKPT_SEV_DANGEROUS ? "high" : "medium",
            ckpt_severity_name(sev));
}

cli_sarif *sarif_begin(FILE *f)
{
    cli_sarif *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->f = f;
    if (getcwd(s->cwd, sizeof(s->cwd) - 1)) {
        size_t n = strlen(s->cwd);
        if (n && s->cwd[n - 1] != '/')
            memcpy(s->cwd + n, "/", 2);
    } else {
        s->cwd[0] = '\0';
    }
    fputs("{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
          "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"ckptscan\",",
          f);
    kstr(f, "version", ckpt_version(), 1);
    kstr(f, "semanticVersion", ckpt_version(), 0);
    kstr(f, "informationUri", INFO_URI, 0);
    fputs(",\"rules\":[", f);
    for (int c = 0; c < CKPT_F_COUNT_; c++)
        write_rule(f, (ckpt_code)c, c == 0);
    fputs("]}},", f);
    if (*s->cwd) {
        char *base = uri_encode(s->cwd, "file://");
        fputs("\"originalUriBaseIds\":{\"" BASE_ID "\":{", f);
        kstr(f, "uri", base ? base : "file:///", 1);
        fputs("}},", f);
        free(base);
    }
    fputs("\"columnKind\":\"unicodeCodePoints\",\"results\":[", f);
    return s;
}

static void artifact_location(cli_sarif *s, size_t art)
{
    fputs("\"artifactLocation\":{", s->f);
    kstr(s->f, "uri", s->arts[art].uri, 1);
    if (s->arts[art].based)
        fputs(",\"uriBaseId\":\"" BASE_ID "\"", s->f);
    fprintf(s->f, ",\"index\":%zu}", art);
}

/* Stable across runs: the file (its URI and content), the code, the
 * member and the offset. Two copies of one checkpoint are two alerts. */
static void fingerprint(const artifact *a, const ckpt_finding *x, char hex[65])
{
    char key[8192];
    int n = snprintf(key, sizeof(key), "v1|%s|%s|%s|%s|%llu", a->uri, a->sha256,
                     ckpt_code_name(x->code), x->member, (unsigned long long)x->offset);
    sha256_hex(key, n < 0 ? 0 : (size_t)n < sizeof(key) ? (size_t)n : sizeof(key) - 1, hex);
}

static void write_message(FILE *f, const ckpt_finding *x)
{
    size_t len = strlen(x->message) + strlen(x->call) + strlen(x->member) + 96;
    char *text = malloc(len);
    if (!text)
        return;
    int n = snprintf(text, len, "%s%s%s", x->message, *x->call ? ": " : "", x->call);
    if (*x->member)
        snprintf(text + n, len - (size_t)n, " (archive member %s, byte %llu)", x->member,
                 (unsigned long long)x->offset);
    else
        snprintf(text + n, len - (size_t)n, " (byte %llu)", (unsigned long long)x->offset);
    fputs(",\"message\":{", f);
    kstr(f, "text", text, 1);
    fputc('}', f);
    free(text);
}

static void write_result(cli_sarif *s, size_t art, const char *path, const ckpt_finding *x,
                         int accepted)
{
    FILE *f = s->f;
    fputs(s->nresults++ ? ",{" : "{", f);
    kstr(f, "ruleId", ckpt_code_name(x->code), 1);
    fprintf(f, ",\"ruleIndex\":%d,\"level\":\"%s\"", (int)x->code, level_of(x->severity));
    write_message(f, x);
    fputs(",\"locations\":[{\"physicalLocation\":{", f);
    artifact_location(s, art);
    fputs(",\"region\":{\"startLine\":1", f);
    if (!*x->member) /* an offset in the file itself */
        fprintf(f, ",\"byteOffset\":%llu", (unsigned long long)x->offset);
    fputs("}}", f);
    if (*x->member) {
        fputs(",\"logicalLocations\":[{", f);
        kstr(f, "name", x->member, 1);
        char *fq = malloc(strlen(path) + strlen(x->member) + 2);
        if (fq) {
            sprintf(fq, "%s/%s", path, x->member);
            kstr(f, "fullyQualifiedName", fq, 0);
            free(fq);
        }
        fputs(",\"kind\":\"resource\"}]", f);
    }
    fputs("}]", f);
    char fp[65];
    fingerprint(&s->arts[art], x, fp);
    fprintf(f, ",\"partialFingerprints\":{\"ckptscanFinding/v1\":\"%s\"}", fp);
    if (accepted)
        fputs(",\"suppressions\":[{\"kind\":\"external\",\"status\":\"accepted\","
              "\"justification\":\"accepted in the ckptscan --baseline file\"}]",
              f);
    fputs(",\"properties\":{", f);
    kstr(f, "severity", ckpt_severity_name(x->severity), 1);
    kstr(f, "member", x->member, 0);
    fprintf(f, ",\"offset\":%llu", (unsigned long long)x->offset);
    kstr(f, "opcode", x->opcode, 0);
    kstr(f, "global", x->global, 0);
    kstr(f, "call", x->call, 0);
    fputs("}}", f);
}

static long add_artifact(cli_sarif *s, const ckpt_report *r, const report_extra *x)
{
    if (grow_array((void **)&s->arts, &s->cap, s->narts + 1, sizeof(*s->arts)) < 0)
        return -1;
    artifact *a = &s->arts[s->narts];
    a->uri = path_uri(s, ckpt_report_path(r), &a->based);
    if (!a->uri)
        return -1;
    a->size = ckpt_report_size(r);
    memcpy(a->sha256, x->sha256, sizeof(a->sha256));
    return (long)s->narts++;
}

void sarif_add(cli_sarif *s, const ckpt_report *r, const report_extra *x)
{
    if (ckpt_report_verdict(r) == CKPT_VERDICT_ERROR) {
        size_t len = strlen(ckpt_report_path(r)) + strlen(x->error) + 3;
        char *line = malloc(len);
        if (line) {
            snprintf(line, len, "%s: %s", ckpt_report_path(r), x->error);
            strlist_add(&s->errors, line);
            free(line);
        }
        return;
    }
    long art = add_artifact(s, r, x);
    if (art < 0)
        return;
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding fx;
        if (ckpt_report_finding(r, i, &fx) == CKPT_OK)
            write_result(s, (size_t)art, ckpt_report_path(r), &fx, x->accepted);
    }
}

static void notification(FILE *f, const char *level, const char *text, int first)
{
    fprintf(f, "%s{\"level\":\"%s\",\"message\":{", first ? "" : ",", level);
    kstr(f, "text", text, 1);
    fputs("}}", f);
}

void sarif_end(cli_sarif *s, int interrupted)
{
    FILE *f = s->f;
    fputs("],\"artifacts\":[", f);
    for (size_t i = 0; i < s->narts; i++) {
        fputs(i ? ",{\"location\":{" : "{\"location\":{", f);
        kstr(f, "uri", s->arts[i].uri, 1);
        if (s->arts[i].based)
            fputs(",\"uriBaseId\":\"" BASE_ID "\"", f);
        fprintf(f, "},\"length\":%llu", (unsigned long long)s->arts[i].size);
        if (*s->arts[i].sha256)
            fprintf(f, ",\"hashes\":{\"sha-256\":\"%s\"}", s->arts[i].sha256);
        fputc('}', f);
        free(s->arts[i].uri);
    }
    fprintf(f, "],\"invocations\":[{\"executionSuccessful\":%s,\"toolExecutionNotifications\":[",
            s->errors.n || interrupted ? "false" : "true");
    for (size_t i = 0; i < s->errors.n; i++)
        notification(f, "error", s->errors.v[i], i == 0);
    if (interrupted)
        notification(f, "error",
                     "interrupted by SIGINT or SIGTERM: the files not listed "
                     "were not scanned",
                     s->errors.n == 0);
    fprintf(f, "],\"properties\":{\"interrupted\":%s}}]}]}\n", interrupted ? "true" : "false");
    strlist_free(&s->errors);
    free(s->arts);
    free(s);
}
