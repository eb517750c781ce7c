/* SPDX-License-Identifier: Apache-2.0 */
/* Streaming decompression (src/base/lazy.c): a compressed pickle stream read as
 * a lazy image gives the report it gives held whole in a buffer, on every
 * file of the given trees (the tests lower the point where streams go lazy
 * to 1 byte, so every compressed fixture takes it); and what the image holds
 * is bounded: skipped bytes are never materialized, a walk past the budget
 * is a `limit`. argv[1..]: directories whose files are all compared. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "lazy.h"
#include "report.h"
#include "scan.h"
#include "testutil.h"

static char **dirs;
static int ndirs;

static ckpt_report *scan_lazy(uint64_t lazy_above, uint64_t max_decompressed, const char *path,
                              const void *data, size_t len)
{
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    s->lazy_above = lazy_above;
    if (max_decompressed)
        assert_int_equal(ckpt_scanner_set_limit(s, CKPT_LIMIT_DECOMPRESSED, max_decompressed),
                         CKPT_OK);
    ckpt_report *r = NULL;
    ckpt_status st = path ? ckpt_scan_file(s, path, &r) : ckpt_scan_mem(s, data, len, "x", &r);
    assert_int_equal(st, CKPT_OK);
    ckpt_scanner_free(s);
    return r;
}

static int same_reports(const char *path)
{
    membuf out[2] = {report_json(scan_lazy(0, 0, path, NULL, 0)),
                     report_json(scan_lazy(1, 0, path, NULL, 0))};
    int same = out[0].n == out[1].n && memcmp(out[0].p, out[1].p, out[0].n) == 0;
    if (!same)
        fprintf(stderr, "%s:\nheld: %s\nlazy: %s\n", path, out[0].p, out[1].p);
    free(out[0].p);
    free(out[1].p);
    return same;
}

static void compare_tree(const char *dir, size_t *files, size_t *differ)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            compare_tree(path, files, differ);
        } else if (S_ISREG(st.st_mode) && st.st_size <= (64 << 20)) {
            *differ += !same_reports(path);
            (*files)++;
        }
    }
    closedir(d);
}

static void every_file_reports_the_same(void **state)
{
    (void)state;
    size_t files = 0, differ = 0;
    for (int i = 0; i < ndirs; i++)
        compare_tree(dirs[i], &files, &differ);
    fprintf(stderr, "%zu files compared, %zu differ\n", files, differ);
    assert_true(files >= (size_t)ndirs);
    assert_int_equal(differ, 0);
}

/* ---- synthetic streams ---- */

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

static void put_zeros(bytes *b, size_t n)
{
    static const uint8_t z[4096];
    for (; n > sizeof(z); n -= sizeof(z))
        put(b, z, sizeof(z));
    put(b, z, n);
}

/* PROTO 4, BINBYTES8 of n zero bytes, POP */
static void put_big_constant(bytes *b, size_t n)
{
    PUT_LIT(b, "\x80\x04\x8e");
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(n >> (8 * i));
    put(b, len, 8);
    put_zeros(b, n);
    PUT_LIT(b, "0");
}

/* zlib (windowBits 15) or gzip (31) of the pickle, cut to `keep` bytes */
static bytes compress_as(const bytes *pickle, int window_bits, size_t keep)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 1, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    bytes out = {0};
    out.cap = deflateBound(&z, pickle->n);
    out.p = malloc(out.cap);
    assert_non_null(out.p);
    z.next_in = pickle->p;
    z.avail_in = (uInt)pickle->n;
    z.next_out = out.p;
    z.avail_out = (uInt)out.cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.n = z.total_out < keep ? z.total_out : keep;
    deflateEnd(&z);
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The report's distinct findings as sorted "code@offset message" lines. */
static char *finding_set(const ckpt_report *r)
{
    size_t n = ckpt_report_finding_count(r);
    char **lines = calloc(n + 1, sizeof(*lines));
    assert_non_null(lines);
    for (size_t i = 0; i < n; i++) {
        ckpt_finding f;
        assert_int_equal(ckpt_report_finding(r, i, &f), CKPT_OK);
        size_t len = strlen(f.message) + 64;
        lines[i] = malloc(len);
        assert_non_null(lines[i]);
        snprintf(lines[i], len, "%d@%llu %s\n", (int)f.code, (unsigned long long)f.offset,
                 f.message);
    }
    qsort(lines, n, sizeof(*lines), cmp_str);
    bytes out = {0};
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(lines[i], lines[i - 1]) != 0)
            put(&out, lines[i], strlen(lines[i]));
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    put(&out, "", 1);
    return (char *)out.p;
}

/* The compressed bytes held (default limits) and lazy (lazy_above 1): the
 * same verdict and the same distinct findings (a lazy image whose pickle 1
 * runs past its first MiB gets both the C and joblib's readings, which may
 * report a finding twice); returns the lazy report. */
static ckpt_report *same_both_ways(const bytes *file)
{
    ckpt_report *held = scan_lazy(0, 0, NULL, file->p, file->n);
    ckpt_report *lazy = scan_lazy(1, 0, NULL, file->p, file->n);
    char *a = finding_set(held), *b = finding_set(lazy);
    if (strcmp(a, b) != 0 || ckpt_report_verdict(held) != ckpt_report_verdict(lazy)) {
        fprintf(stderr, "held:\n%slazy:\n%s", a, b);
        fail();
    }
    free(a);
    free(b);
    ckpt_report_free(held);
    return lazy;
}

static int has_code(const ckpt_report *r, ckpt_code code, const char *in_message)
{
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        assert_int_equal(ckpt_report_finding(r, i, &f), CKPT_OK);
        if (f.code == code && (!in_message || strstr(f.message, in_message)))
            return 1;
    }
    return 0;
}

/* A payload after a 4 MiB constant, a truncated stream, a gzip member
 * after another, a payload after 1.5 MB of opcodes: the lazy reading is
 * the held one, verdicts and findings included. */
static void lazy_reads_as_held(void **state)
{
    (void)state;
    bytes p = {0};
    put_big_constant(&p, 4u << 20);
    PUT_LIT(&p, "cos\nsystem\n(S'true'\ntR.");
    bytes f = compress_as(&p, 15, SIZE_MAX);
    ckpt_report *r = same_both_ways(&f);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    assert_true(has_code(r, CKPT_F_COMMAND, NULL));
    assert_false(has_code(r, CKPT_F_LIMIT, NULL));
    ckpt_report_free(r);
    free(f.p);

    f = compress_as(&p, 31, (2u << 10)); /* gzip cut inside the constant */
    r = same_both_ways(&f);
    assert_true(has_code(r, CKPT_F_TRUNCATED, NULL));
    ckpt_report_free(r);
    free(f.p);

    bytes two = compress_as(&p, 31, SIZE_MAX); /* two gzip members: one stream */
    bytes safe = {0};
    PUT_LIT(&safe, "N.");
    bytes tail = compress_as(&safe, 31, SIZE_MAX);
    put(&two, tail.p, tail.n);
    r = same_both_ways(&two);
    assert_true(has_code(r, CKPT_F_EXTRA_PICKLE, NULL));
    ckpt_report_free(r);
    free(two.p);
    free(tail.p);
    free(safe.p);

    p.n = 0;
    PUT_LIT(&p, "\x80\x02");
    for (int i = 0; i < 750000; i++)
        PUT_LIT(&p, "N0");
    PUT_LIT(&p, "cos\nsystem\n(S'true'\ntR.");
    f = compress_as(&p, 15, SIZE_MAX);
    r = same_both_ways(&f);
    assert_true(has_code(r, CKPT_F_COMMAND, NULL));
    ckpt_report_free(r);
    free(f.p);
    free(p.p);
}

/* With max-decompressed at 1 MiB: a 4 MiB constant is skipped, not held
 * (SAFE); 1.5 MB of opcodes to walk do not fit (a limit, never SAFE); a
 * big constant that may be a pickle cannot be checked (a limit). */
static void the_budget_bounds_what_is_held(void **state)
{
    (void)state;
    bytes p = {0};
    put_big_constant(&p, 4u << 20);
    PUT_LIT(&p, "N.");
    bytes f = compress_as(&p, 15, SIZE_MAX);
    ckpt_report *r = scan_lazy(0, 1u << 20, NULL, f.p, f.n);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    assert_int_equal(ckpt_report_finding_count(r), 0);
    ckpt_report_free(r);
    free(f.p);

    p.n = 0;
    PUT_LIT(&p, "\x80\x02");
    for (int i = 0; i < 750000; i++)
        PUT_LIT(&p, "N0");
    PUT_LIT(&p, "N.");
    f = compress_as(&p, 15, SIZE_MAX);
    r = scan_lazy(0, 1u << 20, NULL, f.p, f.n);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    assert_true(has_code(r, CKPT_F_LIMIT, "max-decompressed"));
    ckpt_report_free(r);
    free(f.p);

    p.n = 0; /* a 4 MiB constant whose bytes start as a pickle */
    PUT_LIT(&p, "\x80\x04\x8e");
    uint8_t len[8] = {0, 0, 0x40, 0, 0, 0, 0, 0};
    put(&p, len, 8);
    PUT_LIT(&p, "\x80\x02(");
    for (size_t i = 0; i < (4u << 20) - 3; i++)
        PUT_LIT(&p, "N"); /* opcodes all the way: a pickle as far as 64 KiB tell */
    PUT_LIT(&p, "0N.");
    f = compress_as(&p, 15, SIZE_MAX);
    r = scan_lazy(0, 1u << 20, NULL, f.p, f.n);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    assert_true(has_code(r, CKPT_F_LIMIT, "may be a pickle"));
    ckpt_report_free(r);
    free(f.p);
    free(p.p);
}

int main(int argc, char **argv)
{
    dirs = calloc((size_t)argc, sizeof(*dirs));
    if (!dirs)
        return 1;
    for (int i = 1; i < argc; i++)
        dirs[ndirs++] = argv[i];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lazy_reads_as_held),
        cmocka_unit_test(the_budget_bounds_what_is_held),
        cmocka_unit_test(every_file_reports_the_same),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(dirs);
    return rc;
}
