/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the zip reader (src/formats/zip/zipview.c, zip_*.c): the adversarial
 * archives of fixtures/gen_zip_attacks.py (one per zip line of ATTACKS.md
 * section A), torch's and zipfile's views, the cursor and end-record
 * searches on truncated, shifted and mutated input, the limits, and the
 * container samples of the shared corpus.
 *
 * Fixtures are found from argv[1] (the source root), $CKPT_SOURCE_ROOT, or
 * from where this file was compiled (works from any cwd). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zip.h>

#include "testutil.h"
#include "zip_internal.h"

static char g_root[4096];

/* ---- files -------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, cap);
            if (!p)
                break;
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int is_root(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/fixtures/zip/benign_torch.zip", dir);
    return access(path, R_OK) == 0;
}

/* dir of `path` after dropping `levels` trailing components. */
static void strip_components(char *path, int levels)
{
    for (int i = 0; i < levels; i++) {
        char *slash = strrchr(path, '/');
        if (!slash)
            return;
        *slash = 0;
    }
}

/* __FILE__ is absolute, or relative to the build root the compiler ran in
 * (meson + ninja); this executable lives in <build root>/tests/. */
static int root_from_build(void)
{
    char exe[4096], path[8300], real[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return 0;
    exe[n] = 0;
    strip_components(exe, 2);
    if (__FILE__[0] == '/')
        snprintf(path, sizeof(path), "%s", __FILE__);
    else
        snprintf(path, sizeof(path), "%s/%s", exe, __FILE__);
    if (!realpath(path, real))
        return 0;
    strip_components(real, 2);
    snprintf(g_root, sizeof(g_root), "%s", real);
    return is_root(g_root);
}

static int find_root(int argc, char **argv)
{
    const char *cands[] = {argc > 1 ? argv[1] : NULL, getenv("CKPT_SOURCE_ROOT"), ".", ".."};
    for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
        if (cands[i] && is_root(cands[i])) {
            snprintf(g_root, sizeof(g_root), "%s", cands[i]);
            return 1;
        }
    }
    return root_from_build();
}

static uint8_t *fixture(const char *name, size_t *len)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/fixtures/zip/%s", g_root, name);
    uint8_t *buf = read_file(path, len);
    if (!buf)
        fail_msg("cannot read fixture %s", path);
    return buf;
}

static ckpt_report *scan_fixture(const char *name, const ckpt_scanner *s)
{
    size_t len;
    uint8_t *buf = fixture(name, &len);
    ckpt_report *r = scan_bytes(s, buf, len);
    free(buf);
    return r;
}

/* ---- report helpers ------------------------------------------------------ */

/* The codes the zip reader (and the dispatcher's polyglot) produce. */
static const ckpt_code zip_codes[] = {CKPT_F_ARCHIVE_ANOMALY,
                                      CKPT_F_LOADER_DISAGREEMENT,
                                      CKPT_F_UNSCANNED_MEMBER,
                                      CKPT_F_CODE_ARCHIVE,
                                      CKPT_F_LIMIT,
                                      CKPT_F_POLYGLOT};

#define BIT(c) (UINT64_C(1) << (c))

static uint64_t zip_code_set(const ckpt_report *r)
{
    uint64_t set = 0;
    for (size_t i = 0; i < sizeof(zip_codes) / sizeof(zip_codes[0]); i++)
        if (find_code(r, zip_codes[i], -1) >= 0)
            set |= BIT(zip_codes[i]);
    return set;
}

static size_t count_code(const ckpt_report *r, ckpt_code code)
{
    size_t n = 0;
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        n += f.code == code;
    }
    return n;
}

/* 1 when a finding with `code` has this member (and message fragment). */
static int has_finding(const ckpt_report *r, ckpt_code code, const char *member, const char *msg)
{
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        ckpt_report_finding(r, i, &f);
        if (f.code == code && (!member || strcmp(f.member, member) == 0) &&
            (!msg || strstr(f.message, msg)))
            return 1;
    }
    return 0;
}

/* ---- the fixture table ------------------------------------------------------ */

#define AA BIT(CKPT_F_ARCHIVE_ANOMALY)
#define LD BIT(CKPT_F_LOADER_DISAGREEMENT)
#define UM BIT(CKPT_F_UNSCANNED_MEMBER)
#define CA BIT(CKPT_F_CODE_ARCHIVE)
#define PG BIT(CKPT_F_POLYGLOT)

typedef struct zcase {
    const char *file;
    ckpt_verdict verdict;
    ckpt_format format;
    uint64_t codes;      /* exactly these zip-level codes */
    const char *payload; /* member of the posix.system call, or NULL: none */
} zcase;

#define DANGER  CKPT_VERDICT_DANGEROUS
#define TZIP    CKPT_FORMAT_TORCH_ZIP
#define ZIP     CKPT_FORMAT_ZIP
#define PAYLOAD "archive/data.pkl"

static const zcase cases[] = {
    {"benign_torch.zip", CKPT_VERDICT_SAFE, TZIP, 0, NULL},
    {"benign_torch_layout.zip", CKPT_VERDICT_SAFE, TZIP, 0, NULL},
    {"deflated_tensor.zip", CKPT_VERDICT_SAFE, TZIP, 0, NULL},
    {"benign.npz", CKPT_VERDICT_SAFE, CKPT_FORMAT_NPZ, 0, NULL},
    /* torch finds archive/DATA.PKL for data.pkl: nothing odd, just read it */
    {"upper_data_pkl.zip", DANGER, TZIP, 0, "archive/DATA.PKL"},
    {"deflated_data_pkl.zip", DANGER, TZIP, 0, PAYLOAD},
    {"bad_crc.zip", DANGER, TZIP, AA, PAYLOAD},
    {"flag_encrypted.zip", DANGER, ZIP, AA | UM, PAYLOAD},
    {"flag_patched.zip", DANGER, ZIP, AA | UM, PAYLOAD},
    {"flag_strong.zip", DANGER, ZIP, AA | UM, PAYLOAD},
    {"flag_masked.zip", DANGER, ZIP, AA | LD, PAYLOAD},
    {"flag_local_only.zip", DANGER, TZIP, AA, PAYLOAD},
    {"local_name_mismatch.zip", DANGER, TZIP, AA, PAYLOAD},
    {"dup_benign_first.zip", DANGER, TZIP, AA, PAYLOAD},
    {"dup_malicious_first.zip", DANGER, TZIP, AA, PAYLOAD},
    {"dup_case.zip", DANGER, TZIP, AA | LD, "archive/DATA.pkl"},
    {"prepended_junk.zip", DANGER, ZIP, AA | LD, PAYLOAD},
    {"trailing_bytes.zip", DANGER, TZIP, AA, PAYLOAD},
    {"eocd_comment_fake.zip", DANGER, TZIP, AA | LD, PAYLOAD},
    {"eocd_comment_fake_trailing.zip", DANGER, TZIP, AA | LD, PAYLOAD},
    {"eocd_sig_in_tail.zip", DANGER, TZIP, LD, PAYLOAD},
    {"zip64_disagree.zip", DANGER, TZIP, AA | LD, PAYLOAD},
    {"zip64_count_mismatch.zip", DANGER, TZIP, AA, "archive/extra.pkl"},
    {"count_mismatch.zip", DANGER, TZIP, LD, "archive/hidden.pkl"},
    {"polyglot_pickle_zip.bin", DANGER, ZIP, AA | LD | PG, ""},
    {"torchscript_constants.zip", DANGER, TZIP, CA, "archive/constants.pkl"},
    {"zip_in_zip.zip", DANGER, ZIP, 0, "outer/model.pt!archive/data.pkl"},
    {"zip_in_zip_deflated.zip", DANGER, ZIP, 0, "outer/model.pt!archive/data.pkl"},
    {"zip_in_zip_large.zip", DANGER, ZIP, 0, "outer/model.pt!archive/data.pkl"},
    {"big_pickle_deflated.zip", DANGER, ZIP, 0, "archive/model.bin"},
    {"compressed_pkl_member.zip", DANGER, ZIP, 0, "model.pkl!<decompressed>"},
    {"nul_in_name.zip", DANGER, ZIP, AA, "archive/data.pkl\\0.txt"},
    {"path_traversal.zip", DANGER, ZIP, AA, "../../../tmp/evil.pkl"},
    {"overlapping.zip", DANGER, TZIP, AA, PAYLOAD},
    {"descriptor_mismatch.zip", DANGER, TZIP, AA, PAYLOAD},
    {"version_needed_64.zip", DANGER, TZIP, LD, PAYLOAD},
    {"bad_extra.zip", DANGER, TZIP, LD, PAYLOAD},
    {"method_unsupported.zip", CKPT_VERDICT_SUSPICIOUS, ZIP, AA | UM, NULL},
    {"outside_prefix.zip", DANGER, ZIP, AA, PAYLOAD},
    {"no_version.zip", DANGER, ZIP, AA, PAYLOAD},
};

static void check_case(const zcase *c, const ckpt_report *r)
{
    int ok = ckpt_report_verdict(r) == c->verdict && ckpt_report_format(r) == c->format &&
             zip_code_set(r) == c->codes;
    if (c->payload)
        ok &= has_finding(r, CKPT_F_COMMAND, c->payload, "posix.system");
    else
        ok &= find_code(r, CKPT_F_COMMAND, -1) < 0;
    if (!ok) {
        fprintf(stderr, "%s: want %s/%s codes %llx, got %s/%s codes %llx\n", c->file,
                ckpt_verdict_name(c->verdict), ckpt_format_name(c->format),
                (unsigned long long)c->codes, ckpt_verdict_name(ckpt_report_verdict(r)),
                ckpt_format_name(ckpt_report_format(r)), (unsigned long long)zip_code_set(r));
        dump_report(r);
    }
    assert_true(ok);
}

static void test_fixtures(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ckpt_report *r = scan_fixture(cases[i].file, NULL);
        check_case(&cases[i], r);
        ckpt_report_free(r);
    }
}

/* bzip2 (12) and LZMA (14): zipfile reads them, miniz refuses the method;
 * decompressed for the scan with libbz2 / liblzma. */
static void test_other_methods(void **state)
{
    (void)state;
    static const char *names[] = {"bzip2_member.zip", "lzma_member.zip"};
    for (size_t i = 0; i < 2; i++) {
        ckpt_report *r = scan_fixture(names[i], NULL);
        if (!has_finding(r, CKPT_F_COMMAND, PAYLOAD, NULL))
            dump_report(r);
        assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
        assert_true(has_finding(r, CKPT_F_COMMAND, PAYLOAD, NULL));
        /* torch.load rejects it: "an unsupported compression method" */
        assert_true(has_finding(r, CKPT_F_ARCHIVE_ANOMALY, "", "unsupported compression"));
        assert_int_equal(zip_code_set(r), AA);
        assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_ZIP);
        ckpt_report_free(r);
    }
}

/* ---- offsets and what the messages say ----------------------------------- */

static size_t fixture_len(const char *name)
{
    size_t len;
    free(fixture(name, &len));
    return len;
}

static void test_offsets(void **state)
{
    (void)state;
    size_t len;
    ckpt_report *r = scan_fixture("prepended_junk.zip", NULL);
    assert_true(has_finding(r, CKPT_F_ARCHIVE_ANOMALY, "", "100 bytes come before"));
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, 0) >= 0);
    ckpt_report_free(r);

    r = scan_fixture("trailing_bytes.zip", NULL);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY,
                          (long long)fixture_len("trailing_bytes.zip") - 8) >= 0);
    ckpt_report_free(r);

    /* the real end record (its comment holds the fake) is 44 bytes from EOF */
    r = scan_fixture("eocd_comment_fake.zip", NULL);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY,
                          (long long)fixture_len("eocd_comment_fake.zip") - 44) >= 0);
    assert_int_equal(count_code(r, CKPT_F_ARCHIVE_ANOMALY), 1);
    ckpt_report_free(r);
    /* with 4 bytes after the fake: the real record still lists entries */
    r = scan_fixture("eocd_comment_fake_trailing.zip", NULL);
    len = fixture_len("eocd_comment_fake_trailing.zip");
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, (long long)len - 48) >= 0);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, (long long)len - 4) >= 0); /* trailing */
    ckpt_report_free(r);

    /* the zip64 locator sits right before the 22-byte end record */
    r = scan_fixture("zip64_disagree.zip", NULL);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY,
                          (long long)fixture_len("zip64_disagree.zip") - 42) >= 0);
    ckpt_report_free(r);

    /* the CRC finding points at the member's local header (offset 0) */
    r = scan_fixture("bad_crc.zip", NULL);
    assert_true(has_finding(r, CKPT_F_ARCHIVE_ANOMALY, PAYLOAD, "CRC-32 mismatch"));
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, 0) >= 0);
    ckpt_report_free(r);

    r = scan_fixture("local_name_mismatch.zip", NULL);
    assert_true(has_finding(r, CKPT_F_ARCHIVE_ANOMALY, PAYLOAD, "'archive/innocent'"));
    ckpt_report_free(r);
}

/* torch.load (1.13, checked) reads the SECOND of two data.pkl entries among
 * four; the finding names the local header torch and zipfile read. */
static void check_duplicate(const char *name)
{
    size_t len;
    uint8_t *buf = fixture(name, &len);
    zview py;
    zipfile_view(&py, buf, len, 100, UINT64_MAX);
    assert_true(py.n == 4);
    char msg[128];
    snprintf(msg, sizeof(msg), "torch.load reads the one at %llu, zipfile the one at %llu",
             (unsigned long long)py.ent[1].local, (unsigned long long)py.ent[1].local);
    ckpt_report *r = scan_bytes(NULL, buf, len);
    if (!has_finding(r, CKPT_F_ARCHIVE_ANOMALY, NULL, msg))
        dump_report(r);
    assert_true(has_finding(r, CKPT_F_ARCHIVE_ANOMALY, NULL, msg));
    ckpt_report_free(r);
    zview_free(&py);
    free(buf);
}

static void test_duplicates(void **state)
{
    (void)state;
    check_duplicate("dup_benign_first.zip");
    check_duplicate("dup_malicious_first.zip");
}

/* The heap sort + binary search of miniz on the fixture's own entries. */
static void test_miniz_lookup(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = fixture("dup_case.zip", &len);
    zview t;
    miniz_view(&t, buf, len, 100);
    assert_true(t.readable && !t.fail && t.n == 4);
    uint32_t *order = miniz_sort(&t);
    assert_non_null(order);
    assert_int_equal(miniz_locate(&t, order, "archive/data.pkl", 16), 1); /* archive/DATA.pkl */
    assert_int_equal(miniz_locate(&t, order, "ARCHIVE/VERSION", 15), 3);
    assert_int_equal(miniz_locate(&t, order, "archive/data.pk", 15), -1);
    assert_int_equal(miniz_locate(&t, order, "archive/data.pkl\0", 17), -1);
    free(order);
    zview p;
    zipfile_view(&p, buf, len, 100, UINT64_MAX);
    assert_int_equal(zipfile_locate(&p, "archive/data.pkl", 16), 0); /* case-sensitive */
    assert_int_equal(zipfile_locate(&p, "archive/DATA.pkl", 16), 1);
    zview_free(&p);
    zview_free(&t);
    free(buf);
}

/* ---- end-record searches and the cursor ----------------------------------- */

static void put_eocd(uint8_t *buf, size_t at)
{
    memcpy(buf + at, "PK\5\6", 4);
}

static void test_eocd_search(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint8_t *buf = calloc(N, 1);
    uint64_t pos = 0;
    assert_non_null(buf);
    for (size_t len = 0; len < 22; len++) {
        put_eocd(buf, 0);
        assert_false(miniz_find_eocd(buf, len, &pos));
        assert_int_equal(zipfile_find_eocd(buf, len, &pos), 0);
        assert_false(zip_has_eocd(buf, len));
    }
    memset(buf, 0, N);
    put_eocd(buf, N - 22); /* comment-less at the very end: both */
    assert_true(miniz_find_eocd(buf, N, &pos) && pos == N - 22);
    assert_true(zipfile_find_eocd(buf, N, &pos) == 1 && pos == N - 22);
    memset(buf, 0, N);
    put_eocd(buf, N - 40);
    put_eocd(buf, N - 21); /* later but < 22 bytes after: miniz skips it, zipfile gives up */
    assert_true(miniz_find_eocd(buf, N, &pos) && pos == N - 40);
    assert_int_equal(zipfile_find_eocd(buf, N, &pos), -1);
    memset(buf, 0, N);
    /* miniz searches 4 KiB blocks stepping back 4093 bytes, 17 blocks: the
     * last 69584 bytes; zipfile the last 65536 + 22 */
    put_eocd(buf, N - 69584);
    assert_true(miniz_find_eocd(buf, N, &pos) && pos == N - 69584);
    assert_int_equal(zipfile_find_eocd(buf, N, &pos), 0);
    memset(buf, 0, N);
    put_eocd(buf, N - 69585);
    assert_false(miniz_find_eocd(buf, N, &pos));
    memset(buf, 0, N);
    put_eocd(buf, N - 65558);
    assert_int_equal(zipfile_find_eocd(buf, N, &pos), 1);
    put_eocd(buf, N - 30); /* the last one wins for both */
    assert_true(miniz_find_eocd(buf, N, &pos) && pos == N - 30);
    assert_true(zipfile_find_eocd(buf, N, &pos) == 1 && pos == N - 30);
    /* a signature straddling two blocks (4093-byte steps overlap by 3) */
    memset(buf, 0, N);
    put_eocd(buf, N - 4097);
    assert_true(miniz_find_eocd(buf, N, &pos) && pos == N - 4097);
    free(buf);
}

static void test_cursor(void **state)
{
    (void)state;
    const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    zcur c = zcur_at(b, sizeof(b), 0);
    assert_int_equal(zcur_u16(&c), 0x0201);
    assert_int_equal(zcur_u32(&c), 0x06050403);
    assert_true(c.ok);
    assert_int_equal(zcur_u32(&c), 0); /* 3 bytes left: fails, returns 0 */
    assert_false(c.ok);
    assert_int_equal(zcur_u16(&c), 0); /* sticky, even though 2 bytes would fit */
    assert_null(zcur_take(&c, 0));
    c = zcur_at(b, sizeof(b), 10); /* starts past the end */
    assert_false(c.ok);
    c = zcur_at(b, sizeof(b), 9);
    assert_non_null(zcur_take(&c, 0));
    assert_null(zcur_take(&c, UINT64_MAX)); /* no wrap-around */
    c = zcur_at(b, sizeof(b), 1);
    assert_int_equal(zcur_u64(&c), 0x0908070605040302ull);
}

static void test_names(void **state)
{
    (void)state;
    /* "é" in UTF-8 (flag bit 11) and in cp437 (0x82) are one name to zipfile */
    const uint8_t utf8[] = {'a', 0xc3, 0xa9}, cp[] = {'a', 0x82};
    assert_int_equal(zipfile_name_cmp(utf8, 3, 1, cp, 2, 0, 0), 0);
    assert_int_not_equal(zipfile_name_cmp(utf8, 3, 0, cp, 2, 0, 0), 0);
    /* NUL cut */
    assert_int_equal(
        zipfile_name_cmp((const uint8_t *)"a.npy\0x", 7, 0, (const uint8_t *)"a.npy", 5, 0, 1), 0);
    assert_int_not_equal(
        zipfile_name_cmp((const uint8_t *)"a.npy\0x", 7, 0, (const uint8_t *)"a.npy", 5, 0, 0), 0);
    /* miniz: ASCII case only, then length */
    assert_int_equal(
        miniz_name_cmp((const uint8_t *)"A/DATA.PKL", 10, (const uint8_t *)"a/data.pkl", 10), 0);
    assert_true(miniz_name_cmp((const uint8_t *)"a", 1, (const uint8_t *)"ab", 2) < 0);
    assert_true(miniz_name_cmp(utf8, 3, (const uint8_t *)"A\xc3\x89", 3) != 0);
    assert_true(zname_ends_with((const uint8_t *)"x/Data.PKL", 10, "data.pkl"));
    assert_false(zname_ends_with((const uint8_t *)"pkl", 3, ".pkl"));
    assert_int_equal(zname_cut((const uint8_t *)"ab\0c", 4), 2);
}

/* ---- truncated, shifted and mutated input ---------------------------------- */

/* SAFE is only allowed for a cut that nothing reads: no archive or pickle
 * reading holds (format unknown or text), so no loader can run it. */
static int safe_but_read(const ckpt_report *r)
{
    ckpt_format f = ckpt_report_format(r);
    return ckpt_report_verdict(r) == CKPT_VERDICT_SAFE &&
           ((f != CKPT_FORMAT_UNKNOWN && f != CKPT_FORMAT_TEXT) || ckpt_report_import_count(r));
}

/* Every proper prefix (and every suffix that drops the first bytes) of an
 * archive must scan without crashing and never come out SAFE while any
 * reading of it holds (a cut no loader can open at all is SAFE: unknown). */
static void check_cuts(const char *name)
{
    size_t len;
    uint8_t *buf = fixture(name, &len);
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
        memcpy(copy, buf, n);
        ckpt_report *r = scan_bytes(s, copy, n);
        if (safe_but_read(r))
            fail_msg("%s cut to %zu bytes is SAFE", name, n);
        ckpt_report_free(r);
        copy = realloc(copy, len - n);
        memcpy(copy, buf + n, len - n);
        r = scan_bytes(s, copy, len - n);
        if (n > 0 && safe_but_read(r))
            fail_msg("%s without its first %zu bytes is SAFE", name, n);
        ckpt_report_free(r);
        free(copy);
    }
    ckpt_scanner_free(s);
    free(buf);
}

static void test_truncation(void **state)
{
    (void)state;
    check_cuts("benign_torch.zip");
    check_cuts("benign_torch_layout.zip");
    check_cuts("zip64_disagree.zip");
    check_cuts("torchscript_constants.zip");
}

/* Deterministic byte flips over every fixture: no crash, a report always. */
static void test_mutations(void **state)
{
    (void)state;
    static const char *names[] = {"benign_torch_layout.zip", "zip64_disagree.zip",
                                  "eocd_comment_fake.zip",   "zip_in_zip_deflated.zip",
                                  "deflated_data_pkl.zip",   "torchscript_constants.zip",
                                  "descriptor_mismatch.zip", "bzip2_member.zip"};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
        size_t len;
        uint8_t *orig = fixture(names[f], &len);
        uint8_t *buf = malloc(len);
        for (int round = 0; round < 400; round++) {
            memcpy(buf, orig, len);
            for (int k = 0; k < 1 + round % 4; k++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                size_t at = (size_t)(seed >> 33) % len;
                static const uint8_t pick[] = {0x00, 0xff, 0x7f, 0x80, 'P', 0x01};
                buf[at] = round & 1 ? pick[(seed >> 20) % sizeof(pick)] : (uint8_t)(seed >> 40);
            }
            ckpt_report *r = scan_bytes(s, buf, len);
            assert_true(ckpt_report_verdict(r) <= CKPT_VERDICT_DANGEROUS);
            ckpt_report_free(r);
        }
        free(buf);
        free(orig);
    }
    ckpt_scanner_free(s);
}

/* ---- limits ------------------------------------------------------------------ */

static ckpt_report *scan_limited(const char *name, ckpt_limit limit, uint64_t value)
{
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scanner_set_limit(s, limit, value), CKPT_OK);
    ckpt_report *r = scan_fixture(name, s);
    ckpt_scanner_free(s);
    return r;
}

static void test_limits(void **state)
{
    (void)state;
    ckpt_report *r = scan_limited("deflated_data_pkl.zip", CKPT_LIMIT_DECOMPRESSED, 20);
    assert_true(has_finding(r, CKPT_F_LIMIT, PAYLOAD, "max-decompressed"));
    assert_int_not_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);

    r = scan_limited("deflated_tensor.zip", CKPT_LIMIT_RATIO, 2);
    assert_true(has_finding(r, CKPT_F_LIMIT, "archive/data/0", "max-ratio"));
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);

    r = scan_limited("benign_torch.zip", CKPT_LIMIT_MEMBERS, 2);
    assert_true(has_finding(r, CKPT_F_LIMIT, "", "max-members"));
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);

    /* a deflated tensor is sniffed (64 KiB), never inflated whole */
    r = scan_limited("deflated_tensor.zip", CKPT_LIMIT_DECOMPRESSED, 70000);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);

    /* ... but a member whose first 64 KiB look like a zip is inflated whole */
    r = scan_limited("zip_in_zip_large.zip", CKPT_LIMIT_DECOMPRESSED, 70000);
    assert_true(has_finding(r, CKPT_F_LIMIT, "outer/model.pt", "max-decompressed"));
    ckpt_report_free(r);

    /* liblzma allocates the dictionary first: refused above max-memory */
    r = scan_limited("lzma_member.zip", CKPT_LIMIT_MEMORY, 1 << 20);
    assert_true(has_finding(r, CKPT_F_LIMIT, PAYLOAD, "max-memory"));
    assert_int_not_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);

    r = scan_limited("zip_in_zip.zip", CKPT_LIMIT_DEPTH, 2);
    assert_true(find_code(r, CKPT_F_LIMIT, -1) >= 0);
    assert_int_not_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
}

/* ---- read_zip's contract ------------------------------------------------------- */

static void test_not_a_zip(void **state)
{
    (void)state;
    ckpt_scanner *s;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    ckpt_report *rep = report_new("x", 1000, 0);
    scan_ctx ctx = {.sc = s, .nest = &formats_nested, .rep = rep};
    ckpt_format f = CKPT_FORMAT_UNKNOWN;
    /* a stray empty end record inside other data is not an archive */
    uint8_t blob[200];
    memset(blob, 'x', sizeof(blob));
    memset(blob + 150, 0, 50);
    put_eocd(blob, 150);
    assert_true(zip_has_eocd(blob, sizeof(blob)));
    assert_int_equal(read_zip(&ctx, "", blob, sizeof(blob), &f), 0);
    assert_int_equal(ckpt_report_finding_count(rep), 0);
    /* an end record pointing at garbage: nothing readable, nothing added */
    blob[150 + 10] = 3;  /* 3 entries */
    blob[150 + 12] = 46; /* 46 bytes at offset 0: no central header there */
    assert_int_equal(read_zip(&ctx, "", blob, sizeof(blob), &f), 0);
    assert_int_equal(ckpt_report_finding_count(rep), 0);
    /* the empty zip itself: an archive with nothing in it */
    uint8_t empty[22] = {'P', 'K', 5, 6};
    assert_int_equal(read_zip(&ctx, "", empty, sizeof(empty), &f), 1);
    assert_int_equal(f, CKPT_FORMAT_ZIP);
    assert_int_equal(ckpt_report_finding_count(rep), 0);
    ckpt_report_free(rep);
    ckpt_scanner_free(s);
}

/* ---- libzip cross-checks our listing of clean archives ---------------------- */

static void crosscheck_libzip(const char *name)
{
    size_t len;
    uint8_t *buf = fixture(name, &len);
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *src = zip_source_buffer_create(buf, len, 0, &err);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &err) : NULL;
    assert_non_null(za);
    zview py, t;
    zipfile_view(&py, buf, len, 1000, UINT64_MAX);
    miniz_view(&t, buf, len, 1000);
    assert_int_equal(zip_get_num_entries(za, 0), (zip_int64_t)py.n);
    assert_int_equal(t.n, py.n);
    for (size_t i = 0; i < py.n; i++) {
        zip_stat_t st;
        assert_int_equal(zip_stat_index(za, i, 0, &st), 0);
        assert_int_equal(strlen(st.name), py.ent[i].name_len);
        assert_memory_equal(st.name, py.ent[i].name, py.ent[i].name_len);
        assert_int_equal(st.comp_size, py.ent[i].comp);
        assert_int_equal(st.size, py.ent[i].uncomp);
        assert_int_equal(st.crc, py.ent[i].crc);
        assert_int_equal(t.ent[i].data, py.ent[i].data);
        assert_null(zipfile_open_refuses(&py, buf, len, i));
        assert_null(miniz_extract_refuses(&t, buf, len, i));
    }
    zip_discard(za);
    zip_error_fini(&err);
    zview_free(&py);
    zview_free(&t);
    free(buf);
}

static void test_libzip_crosscheck(void **state)
{
    (void)state;
    crosscheck_libzip("benign_torch.zip");
    crosscheck_libzip("benign_torch_layout.zip");
    crosscheck_libzip("torchscript_constants.zip");
    crosscheck_libzip("benign.npz");
    crosscheck_libzip("deflated_tensor.zip");
}

/* ---- the shared corpus's container samples ------------------------------------ */

static void test_corpus_containers(void **state)
{
    (void)state;
    char path[4400];
    snprintf(path, sizeof(path), "%s/../shared/corpus/labels.tsv", g_root);
    FILE *f = fopen(path, "r");
    if (!f) { /* the optional peer corpus lives beside the checkout in CI only */
        printf("zip: %s absent: container checks use the fixtures only\n", path);
        skip();
    }
    char line[4096];
    int covered = 0;
    while (fgets(line, sizeof(line), f)) {
        char *file = strtok(line, "\t\n"), *label = strtok(NULL, "\t\n");
        if (!file || !label || file[0] == '#')
            continue;
        snprintf(path, sizeof(path), "%s/../shared/corpus/%s", g_root, file);
        size_t len;
        uint8_t *buf = read_file(path, &len);
        if (!buf)
            continue;
        if (len >= 2 && buf[0] == 'P' && buf[1] == 'K') {
            ckpt_report *r = scan_bytes(NULL, buf, len);
            if (!label_accepts(label, ckpt_report_verdict(r))) {
                fprintf(stderr, "%s: expected %s\n", file, label);
                dump_report(r);
                fail();
            }
            ckpt_report_free(r);
            covered++;
        }
        free(buf);
    }
    fclose(f);
    assert_true(covered >= 8);
}

int main(int argc, char **argv)
{
    if (!find_root(argc, argv)) {
        fprintf(stderr, "test_zip: cannot find fixtures/zip (pass the source root as argv[1] "
                        "or set CKPT_SOURCE_ROOT)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_other_methods),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_miniz_lookup),
        cmocka_unit_test(test_eocd_search),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_not_a_zip),
        cmocka_unit_test(test_libzip_crosscheck),
        cmocka_unit_test(test_corpus_containers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
