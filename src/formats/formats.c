/* SPDX-License-Identifier: Apache-2.0 */
/* Format identification from content (never the file name) and dispatch:
 * every reading a real loader could take is scanned, and more than one
 * reading is itself a finding (polyglot). */
#include "formats.h"

#include <stdio.h>
#include <string.h>

#include "formats_data.h"
#include "opcodes.h"
#include "seen.h"
#include "strbuf.h"

static int has_prefix(const uint8_t *buf, size_t len, const char *magic, size_t n)
{
    return len >= n && memcmp(buf, magic, n) == 0;
}

static int is_seven_zip(const uint8_t *buf, size_t len)
{
    return has_prefix(buf, len, "7z\xbc\xaf\x27\x1c", 6);
}

/* The C unpickler's reading (pickle.load, numpy.load, torch.load's legacy
 * format): no reader hooks. Pickle 1's end decides the legacy format; the
 * fast path finds it while walking pickle 1, so a plain pickle is walked
 * once, not skimmed first. */
static void read_c_stream(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                          ckpt_format *format, const lite_result *first)
{
    /* torch.load never decompresses: no lazy image (lazy.h) is its legacy format */
    if (!ctx_lazy_holds(ctx, buf) &&
        read_torch_legacy_at(ctx, member, buf, len, first ? first->end : SIZE_MAX)) {
        *format = CKPT_FORMAT_TORCH_LEGACY;
    } else {
        *format = CKPT_FORMAT_PICKLE;
        if (first)
            pickle_scan_all_ahead(ctx, member, buf, len, 0, 1, NULL, first);
        else
            pickle_scan_all_hooked(ctx, member, buf, len, 0, 1, NULL);
    }
}

/* The record of the pickle at offset 0 of member, or NULL. */
static const ckpt_pickle *first_pickle(const ckpt_report *r, const char *member)
{
    for (size_t i = 0; i < r->npickles; i++)
        if (r->pickles[i].offset == 0 && strcmp(r->pickles[i].member, member ? member : "") == 0)
            return &r->pickles[i];
    return NULL;
}

static int first_complete(const ckpt_report *r, const char *member)
{
    const ckpt_pickle *p = first_pickle(r, member);
    return p && p->complete;
}

/* Pickle 1 names joblib or its wrapper: joblib.load's reading may differ.
 * A wrapper is imported before its array bytes, so the search stops where
 * the opcodes of pickle 1 do (a whole checkpoint is never searched); a
 * stream that desyncs the two unpicklers before that fails the C reading,
 * which gets joblib's reading anyway (python_may_differ). */
#define NAMES_BLOCK (8u << 20)

static int names_in_blocks(scan_ctx *ctx, const uint8_t *buf, size_t n)
{
    /* by blocks, letting go of the mapped pages behind (a big pickle would
     * stay resident whole) */
    for (size_t at = 0; at < n; at += NAMES_BLOCK) {
        size_t end = n - at > NAMES_BLOCK + 11 ? at + NAMES_BLOCK + 11 : n; /* 11: a name across */
        if (lite_names_joblib(buf + at, end - at))
            return 1;
        if (end - at > 11)
            ctx_release_pages(ctx, buf + at, buf + end - 11);
    }
    return 0;
}

static int names_joblib(scan_ctx *ctx, const uint8_t *buf, size_t len, const lite_result *first)
{
    if (ctx_lazy_holds(ctx, buf))
        return lazy_names_joblib(ctx, buf, len);
    /* the fast path searched as it walked pickle 1 */
    if (first && first->names_joblib >= 0)
        return first->names_joblib;
    size_t reach = first ? first->end : pickle_skim_reach(buf, len, 0);
    size_t n = reach < len ? reach + 1 : len;
    return names_in_blocks(ctx, buf, n);
}

/* After a C reading of a stream that names no joblib wrapper, joblib's
 * reading (Lib/pickle.py) can only differ where the C one failed or a
 * frame was crossed, or through a callable that builds a name at run time
 * (anything off the allowlist). Tested by test_readers (the equivalence). */
static int python_may_differ(const ckpt_report *r, const char *member)
{
    if (!first_complete(r, member))
        return 1;
    for (size_t i = 0; i < r->nfindings; i++)
        if (r->findings[i].code == CKPT_F_FRAME_STRADDLE)
            return 1;
    for (size_t i = 0; i < r->nimports; i++)
        if (!r->imports[i].pub.allowed)
            return 1;
    return 0;
}

/* joblib.load's reading of pickle 1 (Lib/pickle.py, and the array step
 * after each wrapper BUILD) into a report of its own. */
static ckpt_report *read_joblib(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len)
{
    ckpt_report *r = report_new(ctx->rep->path, ctx->rep->max_findings, ctx->rep->strict);
    if (!r)
        return NULL;
    ckpt_report *main_report = ctx->rep;
    dis_sink *dis = ctx->dis; /* a listing shows the C reading */
    ctx->rep = r;
    ctx->dis = NULL;
    pickle_result res;
    joblib_reading jr;
    joblib_reading_init(&jr, ctx->joblib == JOBLIB_ZF);
    pickle_scan_one_hooked(ctx, member, buf, len, 0, &jr.hooks, &res);
    joblib_reading_release(&jr);
    ctx->rep = main_report;
    ctx->dis = dis;
    return r;
}

/* 1 when a has an import b lacks. */
static int imports_beyond(const ckpt_report *a, const ckpt_report *b)
{
    for (size_t i = 0; i < a->nimports; i++) {
        const ckpt_import *x = &a->imports[i].pub;
        int found = 0;
        for (size_t j = 0; j < b->nimports && !found; j++) {
            const ckpt_import *y = &b->imports[j].pub;
            found = x->resolved_len == y->resolved_len &&
                    memcmp(x->resolved, y->resolved, x->resolved_len) == 0;
        }
        if (!found)
            return 1;
    }
    return 0;
}

/* The union of the C reading (rc) and joblib's (rj) of a stream that names
 * joblib: when joblib's reading holds, the C one keeps what it imported and
 * called but not how it parsed (array bytes are no opcodes to pickle.load:
 * its errors, a nested pickle's PROTO, an early STOP); when only the C one
 * holds, joblib's keeps its imports and calls. A C reading that imports what
 * joblib's does not is a loader-disagreement; joblib's reading going on past
 * where pickle.load stops is not (every joblib file with an object array:
 * pickle.load stops at the STOP of the array's nested pickle), and what it
 * imports there is judged with the rest. */
static void unite(scan_ctx *ctx, const char *member, ckpt_report *rc, ckpt_report *rj)
{
    int c_ok = first_complete(rc, member), j_ok = first_complete(rj, member);
    report_merge_filtered(ctx->rep, rc, j_ok ? 2 : 0, !j_ok);
    report_merge_filtered(ctx->rep, rj, c_ok && !j_ok, j_ok);
    if (imports_beyond(rc, rj))
        ctx_finding(ctx, CKPT_F_LOADER_DISAGREEMENT, member, 0,
                    "pickle.load (C unpickler) and joblib.load (Lib/pickle.py with its array "
                    "step) import different things from this stream; both readings were scanned");
}

/* The readings of a raw pickle stream: the C unpickler's, and joblib's
 * when joblib.load could open it (ctx->joblib). */
/* The readings of a raw pickle stream (read_pickle_stream) once the fast
 * path walked its pickle 1 (first) or gave up (NULL). */
static void read_readings(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                          ckpt_format *format, const lite_result *first)
{
    if (!ctx->joblib || !names_joblib(ctx, buf, len, first)) {
        read_c_stream(ctx, member, buf, len, format, first);
        if (ctx->joblib && (ctx->sc->all_readings || python_may_differ(ctx->rep, member))) {
            ckpt_report *rj = read_joblib(ctx, member, buf, len);
            if (rj) {
                int differ = imports_beyond(rj, ctx->rep);
                /* no wrapper here: what joblib's reading adds is what it ran */
                report_merge_reading_filtered(ctx->rep, rj,
                                              first_complete(ctx->rep, member) ? 2 : 0);
                if (differ)
                    ctx_finding(ctx, CKPT_F_LOADER_DISAGREEMENT, member, 0,
                                "joblib.load (Lib/pickle.py) imports what pickle.load (C "
                                "unpickler) does not from this stream; both readings were scanned");
                ckpt_report_free(rj);
            }
        }
        return;
    }
    ckpt_report *rc = report_new(ctx->rep->path, ctx->rep->max_findings, ctx->rep->strict);
    if (!rc)
        return;
    ckpt_report *main_report = ctx->rep;
    ctx->rep = rc;
    read_c_stream(ctx, member, buf, len, format, first);
    ctx->rep = main_report;
    ckpt_report *rj = read_joblib(ctx, member, buf, len);
    if (rj) {
        unite(ctx, member, rc, rj);
        ckpt_report_free(rj);
    } else {
        report_merge(ctx->rep, rc);
    }
    ckpt_report_free(rc);
}

void read_pickle_stream(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                        ckpt_format *format)
{
    lite_result first;
    int ahead = pickle_walk_ahead(ctx, buf, len, 0, NULL, &first);
    read_readings(ctx, member, buf, len, format, ahead ? &first : NULL);
    /* set after the readings: nested streams they read overwrite it */
    ctx->p1_buf = ahead ? buf : NULL;
    ctx->p1_end = ahead ? first.end : 0;
    ctx->p1_effect = ahead ? first.first_effect : SIZE_MAX;
    if (ahead)
        lite_result_release(&first);
}

/* The readings of one image, in the order loaders try them. */
typedef struct readings {
    unsigned count;
    ckpt_format main;
    strbuf names;
} readings;

static void reading_holds(readings *r, ckpt_format f)
{
    if (r->count++ == 0)
        r->main = f;
    sb_printf(&r->names, "%s%s", r->names.len ? ", " : "", ckpt_format_name(f));
}

static void try_containers(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                           readings *r)
{
    ckpt_format f = CKPT_FORMAT_UNKNOWN;
    if ((has_prefix(buf, len, "PK", 2) || zip_has_eocd(buf, len)) &&
        read_zip(ctx, member, buf, len, &f))
        reading_holds(r, f);
    if (has_prefix(buf, len, "\x93NUMPY", 6) && read_npy(ctx, member, buf, len))
        reading_holds(r, CKPT_FORMAT_NPY);
    if (compressed_magic(buf, len) && read_compressed(ctx, member, buf, len, &f))
        reading_holds(r, f);
    if (tar_header_valid(buf, len) && read_tar(ctx, member, buf, len, &f))
        reading_holds(r, f);
    if (is_seven_zip(buf, len)) {
        reading_holds(r, CKPT_FORMAT_SEVEN_ZIP);
        ctx_finding(ctx, CKPT_F_UNSCANNED_MEMBER, member, 0,
                    "7z archive: ckptscan does not unpack 7z, so its content is unscanned");
    }
    if (safetensors_shape(buf, len)) {
        reading_holds(r, CKPT_FORMAT_SAFETENSORS);
        const char *why = safetensors_check(buf, len);
        if (why)
            ctx_findingf(ctx, CKPT_F_MALFORMED, member, 0,
                         "safetensors header: %s; the safetensors library refuses the file", why);
    }
}

/* Findings after the first nf are parse errors (or, with `ext`, the
 * unregistered extension code the walk stopped at). */
static int only_parse_errors(const ckpt_report *rep, size_t nf, int ext)
{
    size_t n = rep->nfindings;
    if (ext && n > nf && rep->findings[n - 1].code == CKPT_F_EXTENSION)
        n--; /* the walk's last finding: it stopped there */
    return report_only_parse_errors_range(rep, nf, n);
}

/* 1 when the pickle reading recorded in rep after its first nf findings,
 * np pickles and ni imports cannot have run code under any loader. An
 * unpickler reaches code only through find_class (an import),
 * persistent_load, or calls on what they return, so a walk that fails
 * before any of them (on a parse error, not a limit) ran nothing: the bytes
 * are not a pickle. At the top level every loader reads offset 0 without a
 * persistent_load (pickle.load, joblib, numpy.load, torch.load's legacy
 * magic number; torch's zip path reads no pickle there), so a persistent
 * id before any import raises: a zip whose first local header reads as
 * `P...\n.` is not a pickle either. */
static int reading_ran_nothing(const scan_ctx *ctx, const ckpt_report *rep, size_t nf, size_t np,
                               size_t ni, const uint8_t *buf, size_t len)
{
    const ckpt_pickle *first = NULL;
    for (size_t i = np; i < rep->npickles && !first; i++)
        if (rep->pickles[i].offset == 0)
            first = &rep->pickles[i];
    if (!first)
        return 0;
    size_t at = SIZE_MAX;
    int effect;
    if (ctx->p1_buf == buf && ctx->p1_end == first->end) { /* the fast path walked it */
        at = ctx->p1_effect;
        effect = at == SIZE_MAX ? 0 : buf[at];
    } else {
        effect = pickle_first_effect(buf, len, 0, first->end, &at);
    }
    if (ctx->depth == 0 && (effect == OP_PERSID || effect == OP_BINPERSID))
        return 1;
    /* An EXT before any import names a code the stream cannot have
     * registered (only an imported copyreg.add_extension fills the registry,
     * which starts empty): the loader raises "unregistered extension code"
     * there, and the walk stopped there too (a fixmap of 2-4 pairs, as
     * Flax's msgpack files start, is EXT1/EXT2/EXT4) */
    int ext = effect == OP_EXT1 || effect == OP_EXT2 || effect == OP_EXT4;
    return (!effect || ext) && !first->complete && rep->nimports == ni && !rep->dropped_findings &&
           only_parse_errors(rep, nf, ext);
}

/* A pickle reading, kept when a loader could run something through it
 * (reading_ran_nothing). When no other reading holds it is walked into the
 * report and taken back if it ran nothing; alongside other readings it is
 * walked into a scratch report and kept only if it did something a loader
 * acts on, so a zip or tar whose first byte merely is an opcode adds no
 * noise while a payload ahead of a parse error counts. */
static void try_pickle(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                       readings *r)
{
    if (!opcode_table[buf[0]].name)
        return;
    ckpt_format f;
    ckpt_report *rep = ctx->rep;
    if (r->count == 0) {
        size_t nf = rep->nfindings, np = rep->npickles, ni = rep->nimports;
        read_pickle_stream(ctx, member, buf, len, &f);
        if (reading_ran_nothing(ctx, rep, nf, np, ni, buf, len))
            report_truncate(rep, nf, np);
        else
            reading_holds(r, f);
        return;
    }
    ckpt_report *scratch = report_new("", rep->max_findings, rep->strict);
    if (!scratch)
        return;
    ctx->rep = scratch;
    read_pickle_stream(ctx, member, buf, len, &f);
    ctx->rep = rep;
    if (report_did_anything(scratch) && !reading_ran_nothing(ctx, scratch, 0, 0, 0, buf, len)) {
        report_merge(rep, scratch);
        reading_holds(r, f);
    }
    ckpt_report_free(scratch);
}

/* Formats that carry no pickle (text, JSON, GGUF, ...), named when no
 * reading a loader could run holds. */
static void try_data(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len, readings *r)
{
    ckpt_format f = data_format(buf, len);
    if (f != CKPT_FORMAT_UNKNOWN) {
        reading_holds(r, f);
        return;
    }
    if (has_prefix(buf, len, "PK\x03\x04", 4)) {
        /* nothing runs it, but a damaged or partial archive is no silent pass */
        ctx_finding(ctx, CKPT_F_ARCHIVE_ANOMALY, member, 0,
                    "starts as a zip archive but no zip reader can open it (no usable end "
                    "record): a damaged or partial archive that no loader can run");
        return;
    }
    ctx_finding(ctx, CKPT_F_UNKNOWN_FORMAT, member, 0,
                "not a pickle, zip, tar, npy, compressed stream or known data format, and no "
                "loader can run it: nothing before its first import or persistent id parses");
}

void scan_buffer(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                 ckpt_format *format)
{
    if (len == 0) {
        *format = CKPT_FORMAT_EMPTY;
        ctx_finding(ctx, CKPT_F_EMPTY, member, 0, "the input is empty: nothing to scan");
        return;
    }
    readings r = {0, CKPT_FORMAT_UNKNOWN, {0}};
    sb_init(&r.names, 256);
    try_containers(ctx, member, buf, len, &r);
    try_pickle(ctx, member, buf, len, &r);
    if (r.count == 0)
        try_data(ctx, member, buf, len, &r);
    *format = r.main;
    if (r.count > 1) {
        char msg[400];
        snprintf(msg, sizeof(msg), "the bytes are valid as %s; each reading was scanned",
                 sb_cstr(&r.names));
        ctx_finding(ctx, CKPT_F_POLYGLOT, member, 0, msg);
    }
    sb_free(&r.names);
}

int container_magic(const uint8_t *buf, size_t len)
{
    if (has_prefix(buf, len, "PK\x03\x04", 4) || has_prefix(buf, len, "PK\x05\x06", 4) ||
        has_prefix(buf, len, "\x93NUMPY", 6) ||
        has_prefix(buf, len,
                   "\xfd"
                   "7zXZ\x00",
                   6) ||
        is_seven_zip(buf, len) || tar_header_valid(buf, len))
        return CONTAINER_STRONG;
    return compressed_magic(buf, len) ? CONTAINER_WEAK : 0;
}

/* A member found by sniffing alone (a 2-3 byte compression magic, or bytes
 * that parse as a pickle): among 60,000 tensor records some match by
 * chance, so the reading is kept only if it imports something or is
 * dangerous. Returns 1 when kept. */
static int scan_sniffed(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len)
{
    ckpt_report *scratch = report_new("", ctx->rep->max_findings, ctx->rep->strict);
    if (!scratch)
        return 0;
    ckpt_report *main_report = ctx->rep;
    ckpt_format f;
    ctx->rep = scratch;
    if (compressed_magic(buf, len))
        scan_buffer(ctx, member, buf, len, &f);
    else
        read_pickle_stream(ctx, member, buf, len, &f);
    ctx->rep = main_report;
    int keep =
        scratch->nimports > 0 || (scratch->has_findings && scratch->worst == CKPT_SEV_DANGEROUS);
    if (keep)
        report_merge(main_report, scratch);
    ckpt_report_free(scratch);
    return keep;
}

/* 1 when these bytes of the input file were already scanned this way as a
 * member, from whatever archive or nesting level: the same bytes read the
 * same way give the same findings, reported once under the first name.
 * Bytes not in the input image (decompressed) are always scanned. */
static int already_scanned(scan_ctx *ctx, const uint8_t *buf, size_t len, unsigned kind)
{
    if (!ctx->image || buf < ctx->image || (size_t)(buf - ctx->image) > ctx->image_len ||
        len > ctx->image_len - (size_t)(buf - ctx->image))
        return 0;
    return seen_add(ctx->seen, (uint64_t)(buf - ctx->image), len, kind) == 0;
}

int scan_member(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len, int force_pickle)
{
    int joblib_here = ctx->joblib_next; /* for this member only */
    ctx->joblib_next = JOBLIB_NO;
    if (ctx->depth + 1 >= ctx_limit(ctx, CKPT_LIMIT_DEPTH)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "max-depth: nesting deeper than %llu; member not scanned",
                 (unsigned long long)ctx_limit(ctx, CKPT_LIMIT_DEPTH));
        ctx_finding(ctx, CKPT_F_LIMIT, member, 0, msg);
        return 0;
    }
    unsigned kind = force_pickle && len > 0                                            ? 1
                    : force_pickle || container_magic(buf, len) == CONTAINER_STRONG    ? 2
                    : compressed_magic(buf, len) || pickle_probe_prefix(ctx, buf, len) ? 3
                                                                                       : 0;
    if (kind == 0)
        return 0;
    if (already_scanned(ctx, buf, len, kind))
        return 1;
    ckpt_format f;
    int scanned = 1;
    int joblib = ctx->joblib;
    ctx->joblib = joblib_here;
    ctx->depth++;
    if (kind == 1)
        read_pickle_stream(ctx, member, buf, len, &f);
    else if (kind == 2)
        scan_buffer(ctx, member, buf, len, &f);
    else
        scanned = scan_sniffed(ctx, member, buf, len);
    ctx->depth--;
    ctx->joblib = joblib;
    return scanned;
}

const nested_scan formats_nested = {scan_buffer, scan_member};
