/* SPDX-License-Identifier: Apache-2.0 */
/* torch's legacy formats: the stacked-pickle reader (src/formats/legacy.c) and the
 * tar reader (src/formats/tar.c), on fixtures written by torch 1.13 and hand-built
 * attacks (fixtures/gen_legacy_fixtures.py), and on inline byte strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "formats.h"
#include "testutil.h"

#define MAX_CODES 4

typedef struct expect {
    const char *file;
    ckpt_verdict verdict;
    ckpt_format format;
    ckpt_code codes[MAX_CODES]; /* each must be present */
    int ncodes;
    ckpt_code absent; /* must not be present; CKPT_F_COUNT_ for none */
} expect;

#define NONE CKPT_F_COUNT_

static const expect table[] = {
    {"legacy/state_dict.pt", CKPT_VERDICT_SAFE, CKPT_FORMAT_TORCH_LEGACY, {0}, 0, NONE},
    {"legacy/views.pt", CKPT_VERDICT_SAFE, CKPT_FORMAT_TORCH_LEGACY, {0}, 0, NONE},
    {"legacy/payload_p1.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_LEGACY,
     {CKPT_F_COMMAND, CKPT_F_ANOMALY},
     2,
     CKPT_F_TRAILING_DATA},
    {"legacy/payload_p3.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_LEGACY,
     {CKPT_F_COMMAND},
     1,
     CKPT_F_TRAILING_DATA},
    {"legacy/payload_p4.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_LEGACY,
     {CKPT_F_COMMAND},
     1,
     CKPT_F_TRAILING_DATA},
    {"legacy/payload_p5.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_LEGACY,
     {CKPT_F_COMMAND},
     1,
     CKPT_F_TRAILING_DATA},
    {"legacy/magic_eval.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_LEGACY,
     {CKPT_F_EXEC, CKPT_F_ANOMALY},
     2,
     CKPT_F_TRAILING_DATA},
    {"legacy/trailing_pickle.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_LEGACY,
     {CKPT_F_TRAILING_DATA, CKPT_F_EXTRA_PICKLE, CKPT_F_COMMAND},
     3,
     NONE},
    {"legacy/bad_count.pt",
     CKPT_VERDICT_SUSPICIOUS,
     CKPT_FORMAT_TORCH_LEGACY,
     {CKPT_F_ARCHIVE_ANOMALY},
     1,
     NONE},
    {"legacy/truncated.pt",
     CKPT_VERDICT_SUSPICIOUS,
     CKPT_FORMAT_TORCH_LEGACY,
     {CKPT_F_TRUNCATED},
     1,
     NONE},
    {"legacy/torch_tar.pt",
     CKPT_VERDICT_SAFE,
     CKPT_FORMAT_TORCH_TAR,
     {0},
     0,
     CKPT_F_ARCHIVE_ANOMALY},
    {"legacy/tar_payload_sys_info.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_TAR,
     {CKPT_F_COMMAND},
     1,
     CKPT_F_ARCHIVE_ANOMALY},
    {"legacy/tar_payload_storages.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_TAR,
     {CKPT_F_COMMAND},
     1,
     CKPT_F_ARCHIVE_ANOMALY},
    {"legacy/tar_payload_tensors.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_TAR,
     {CKPT_F_COMMAND},
     1,
     CKPT_F_ARCHIVE_ANOMALY},
    {"legacy/tar_payload_pickle.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_TAR,
     {CKPT_F_COMMAND},
     1,
     CKPT_F_ARCHIVE_ANOMALY},
    {"legacy/tar_duplicate.pt",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TORCH_TAR,
     {CKPT_F_COMMAND, CKPT_F_ARCHIVE_ANOMALY},
     2,
     NONE},
    {"legacy/plain_tar.tar",
     CKPT_VERDICT_DANGEROUS,
     CKPT_FORMAT_TAR,
     {CKPT_F_COMMAND, CKPT_F_ARCHIVE_ANOMALY},
     2,
     NONE},
};

static char fixtures[4096];

/* The fixtures live next to this file's directory; the test may run from
 * the build root or its tests/ directory, so try both (or $CKPT_FIXTURES). */
static int find_fixtures(void)
{
    const char *env = getenv("CKPT_FIXTURES");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    const char *prefix[] = {"", "", "../", ""};
    const char *base[] = {env, dir, dir, "."};
    const char *suffix[] = {"", "/../fixtures", "/../fixtures", "/fixtures"};
    for (size_t i = 0; i < sizeof(base) / sizeof(*base); i++) {
        if (!base[i])
            continue;
        snprintf(fixtures, sizeof(fixtures), "%s%s%s", prefix[i], base[i], suffix[i]);
        char probe[4200];
        snprintf(probe, sizeof(probe), "%s/legacy/state_dict.pt", fixtures);
        if (access(probe, R_OK) == 0)
            return 1;
    }
    return 0;
}

static ckpt_report *scan_fixture(const char *file)
{
    char path[8300];
    snprintf(path, sizeof(path), "%s/%s", fixtures, file);
    ckpt_scanner *s;
    ckpt_report *r = NULL;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    assert_int_equal(ckpt_scan_file(s, path, &r), CKPT_OK);
    ckpt_scanner_free(s);
    return r;
}

static int check(const expect *e)
{
    ckpt_report *r = scan_fixture(e->file);
    int ok = ckpt_report_verdict(r) == e->verdict && ckpt_report_format(r) == e->format;
    for (int i = 0; i < e->ncodes; i++)
        ok &= find_code(r, e->codes[i], -1) >= 0;
    if (e->absent != NONE)
        ok &= find_code(r, e->absent, -1) < 0;
    if (e->verdict == CKPT_VERDICT_SAFE)
        for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
            ckpt_finding f;
            ckpt_report_finding(r, i, &f);
            ok &= f.severity == CKPT_SEV_INFO;
        }
    if (!ok) {
        fprintf(stderr, "%s: expected %s [%s]\n", e->file, ckpt_verdict_name(e->verdict),
                ckpt_format_name(e->format));
        dump_report(r);
    }
    ckpt_report_free(r);
    return ok;
}

static void test_fixtures(void **state)
{
    (void)state;
    int failed = 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(*table); i++)
        failed += !check(&table[i]);
    assert_int_equal(failed, 0);
}

/* Each tar payload is reported in the member torch reads it from. */
static void test_tar_members(void **state)
{
    (void)state;
    const char *members[] = {"sys_info", "storages", "tensors", "pickle"};
    for (size_t i = 0; i < 4; i++) {
        char file[128];
        snprintf(file, sizeof(file), "legacy/tar_payload_%s.pt", members[i]);
        ckpt_report *r = scan_fixture(file);
        long at = find_code(r, CKPT_F_COMMAND, -1);
        assert_true(at >= 0);
        ckpt_finding f;
        ckpt_report_finding(r, (size_t)at, &f);
        assert_string_equal(f.member, members[i]);
        ckpt_report_free(r);
    }
}

/* ---- inline stacked pickles ---- */

#define MAGIC_P "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
#define PROTO_P "\x80\x02M\xe9\x03."
#define SYS_P   "\x80\x02}."
#define KEYS_P                                                                                     \
    "\x80\x02]X\x01\x00\x00\x00"                                                                   \
    "0a."
/* main pickle: [persistent_load(('storage', torch.FloatStorage, '0', 'cpu', 2, None))] */
#define MAIN_P                                                                                     \
    "\x80\x02](X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00"                    \
    "0X\x03\x00\x00\x00"                                                                           \
    "cpuK\x02NtQa."
#define REGION "\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00\x40"

static ckpt_report *scan_lit(const char *p, size_t n)
{
    return scan_bytes(NULL, p, n);
}

#define SCAN(lit) scan_lit((lit), sizeof(lit) - 1)

static void test_minimal_legacy(void **state)
{
    (void)state;
    ckpt_report *r = SCAN(MAGIC_P PROTO_P SYS_P MAIN_P KEYS_P REGION);
    if (ckpt_report_verdict(r) != CKPT_VERDICT_SAFE)
        dump_report(r);
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_TORCH_LEGACY);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    assert_int_equal(ckpt_report_pickle_count(r), 5);
    ckpt_report_free(r);
}

static void test_region_errors(void **state)
{
    (void)state;
    /* one element short: the region runs past the end */
    ckpt_report *r = SCAN(MAGIC_P PROTO_P SYS_P MAIN_P KEYS_P "\x02\0\0\0\0\0\0\0\0\0\x80\x3f");
    assert_true(find_code(r, CKPT_F_TRUNCATED, -1) >= 0);
    ckpt_report_free(r);
    /* a count that disagrees with the persistent id's numel */
    r = SCAN(MAGIC_P PROTO_P SYS_P MAIN_P KEYS_P "\x01\0\0\0\0\0\0\0\0\0\x80\x3f");
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, -1) >= 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SUSPICIOUS);
    ckpt_report_free(r);
    /* a key the main pickle never named */
    r = SCAN(MAGIC_P PROTO_P SYS_P MAIN_P "\x80\x02]X\x01\x00\x00\x00"
                                          "9a." REGION);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, -1) >= 0);
    ckpt_report_free(r);
    /* an impossible count must not overflow */
    r = SCAN(MAGIC_P PROTO_P SYS_P MAIN_P KEYS_P "\xff\xff\xff\xff\xff\xff\xff\x7f");
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, -1) >= 0);
    ckpt_report_free(r);
    /* trailing bytes that are not a pickle */
    r = SCAN(MAGIC_P PROTO_P SYS_P MAIN_P KEYS_P REGION "\xff\xff");
    assert_true(find_code(r, CKPT_F_TRAILING_DATA, -1) >= 0);
    assert_true(find_code(r, CKPT_F_EXTRA_PICKLE, -1) < 0);
    ckpt_report_free(r);
}

/* Pickle 1 the data fast path gives up on (a call), so its end is found
 * by the legacy check itself, then every encoding of the protocol 1001. */
static void test_protocol_encodings(void **state)
{
    (void)state;
    static const char first[] = "\x80\x02"
                                "ccollections\nOrderedDict\n)R.";
    static const struct {
        const char *p;
        size_t n;
        int legacy;
    } second[] = {
#define P(lit, legacy) {lit, sizeof(lit) - 1, legacy}
        P("\x80\x02M\xe9\x03.", 1),
        P("J\xe9\x03\x00\x00.", 1),
        P("I1001\n.", 1),
        P("L1001L\n.", 1),
        P("\x8a\x02\xe9\x03.", 1),
        P("\x8a\x04\xe9\x03\x00\x00.", 1),
        P("\x8b\x02\x00\x00\x00\xe9\x03.", 1),
        P("\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00M\xe9\x03\x94.", 1),
        P("\x95\x06\x00\x00\x00\x00\x00\x00\x00J\xe9\x03\x00\x00q\x00.", 1),
        P("\x80\x02M\xea\x03.", 0),
        P("I01001\n.", 0),
        P("\x80\x02X\x05\x00\x00\x00M\xe9\x03.", 0),
#undef P
    };
    for (size_t i = 0; i < sizeof(second) / sizeof(second[0]); i++) {
        char buf[256];
        size_t n = sizeof(first) - 1;
        memcpy(buf, first, n);
        memcpy(buf + n, second[i].p, second[i].n);
        n += second[i].n;
        ckpt_report *r = scan_lit(buf, n);
        assert_int_equal(ckpt_report_format(r),
                         second[i].legacy ? CKPT_FORMAT_TORCH_LEGACY : CKPT_FORMAT_PICKLE);
        ckpt_report_free(r);
    }
}

static void test_magic_and_protocol(void **state)
{
    (void)state;
    /* a wrong magic followed by the protocol pickle: still legacy */
    ckpt_report *r = SCAN("\x80\x02K\x05." PROTO_P SYS_P MAIN_P KEYS_P REGION);
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_TORCH_LEGACY);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, 0) >= 0);
    ckpt_report_free(r);
    /* the right magic with a wrong protocol version */
    r = SCAN(MAGIC_P "\x80\x02M\xea\x03." SYS_P MAIN_P KEYS_P REGION);
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_TORCH_LEGACY);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, -1) >= 0);
    ckpt_report_free(r);
    /* text encodings of the magic (protocol 0) */
    r = SCAN("L119547037146038801333356L\n." PROTO_P SYS_P MAIN_P KEYS_P REGION);
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_TORCH_LEGACY);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_SAFE);
    ckpt_report_free(r);
    /* a plain pickle is not legacy */
    r = SCAN("\x80\x02K\x05.");
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_PICKLE);
    ckpt_report_free(r);
    /* the magic alone: legacy, and the missing pickles are reported */
    r = SCAN(MAGIC_P);
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_TORCH_LEGACY);
    assert_true(find_code(r, CKPT_F_TRUNCATED, -1) >= 0);
    ckpt_report_free(r);
}

/* A failing pickle in the middle: torch stops, the later pickles are still
 * scanned. */
static void test_failure_keeps_scanning(void **state)
{
    (void)state;
    ckpt_report *r = SCAN(MAGIC_P PROTO_P "\x80\x02}0."
                                          "\x80\x02"
                                          "cposix\nsystem\nX\x01\x00\x00\x00x\x85R." KEYS_P);
    assert_true(find_code(r, CKPT_F_STACK_ERROR, -1) >= 0);
    assert_true(find_code(r, CKPT_F_COMMAND, -1) >= 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
}

/* ---- tar headers ---- */

static void set_checksum(uint8_t *h, int sign)
{
    memset(h + 148, ' ', 8);
    long sum = 0;
    for (int i = 0; i < 512; i++)
        sum += sign ? (int8_t)h[i] : h[i];
    snprintf((char *)h + 148, 8, "%06lo", sum);
    h[155] = ' ';
}

static void make_header(uint8_t *h, const char *name, size_t size)
{
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    memcpy(h + 100, "0000644", 8);
    memcpy(h + 108, "0000000", 8);
    memcpy(h + 116, "0000000", 8);
    snprintf((char *)h + 124, 12, "%011zo", size);
    memcpy(h + 136, "00000000000", 12);
    h[156] = '0';
    set_checksum(h, 0);
}

static void test_tar_header_rules(void **state)
{
    (void)state;
    uint8_t h[512];
    make_header(h, "a", 0);
    assert_true(tar_header_valid(h, sizeof(h)));
    assert_false(tar_header_valid(h, 511));
    /* a high byte: the signed sum is accepted too */
    make_header(h, "\xe9", 0);
    set_checksum(h, 1);
    assert_true(tar_header_valid(h, sizeof(h)));
    /* octal fields: whitespace, '0o' and underscores as int(s, 8) takes them */
    make_header(h, "a", 0);
    memcpy(h + 100, " 0o6_44\0", 8);
    set_checksum(h, 0);
    assert_true(tar_header_valid(h, sizeof(h)));
    memcpy(h + 100, "06__44 \0", 8);
    set_checksum(h, 0);
    assert_false(tar_header_valid(h, sizeof(h)));
    memcpy(h + 100, "0000648\0", 8);
    set_checksum(h, 0);
    assert_false(tar_header_valid(h, sizeof(h)));
    /* base-256 size */
    make_header(h, "a", 0);
    memset(h + 124, 0, 12);
    h[124] = 0x80;
    h[135] = 5;
    set_checksum(h, 0);
    assert_true(tar_header_valid(h, sizeof(h)));
    /* a wrong checksum, and an all-zero block */
    h[0] ^= 1;
    assert_false(tar_header_valid(h, sizeof(h)));
    memset(h, 0, sizeof(h));
    assert_false(tar_header_valid(h, sizeof(h)));
}

/* A member whose data runs past the end: Python's tarfile raises
 * ReadError and torch falls back to the stacked-pickle reading. */
static void test_tar_truncated(void **state)
{
    (void)state;
    uint8_t buf[1024 + 4];
    make_header(buf, "pickle", 600);
    memcpy(buf + 512, "\x80\x02K\x01.", 5);
    memset(buf + 517, 0, sizeof(buf) - 517);
    ckpt_report *r = scan_bytes(NULL, buf, sizeof(buf));
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_TORCH_TAR);
    assert_true(find_code(r, CKPT_F_TRUNCATED, -1) >= 0);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, 0) >= 0); /* no storages/tensors */
    ckpt_report_free(r);
}

/* GNU long names and pax paths rename members; links are reported. */
static void test_tar_names(void **state)
{
    (void)state;
    uint8_t buf[512 * 8];
    memset(buf, 0, sizeof(buf));
    const char *pax = "20 path=../evil.pkl\n";
    make_header(buf, "PaxHeaders/x", strlen(pax));
    buf[156] = 'x';
    set_checksum(buf, 0);
    memcpy(buf + 512, pax, strlen(pax));
    static const char payload[] = "\x80\x02"
                                  "cposix\nsystem\nX\x01\x00\x00\x00x\x85R.";
    make_header(buf + 1024, "short", sizeof(payload) - 1);
    memcpy(buf + 1536, payload, sizeof(payload) - 1);
    ckpt_report *r = scan_bytes(NULL, buf, sizeof(buf));
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_TAR);
    assert_true(find_code(r, CKPT_F_ARCHIVE_ANOMALY, -1) >= 0);
    long at = find_code(r, CKPT_F_COMMAND, -1);
    assert_true(at >= 0);
    ckpt_finding f;
    ckpt_report_finding(r, (size_t)at, &f);
    assert_string_equal(f.member, "../evil.pkl");
    ckpt_report_free(r);
}

static void test_tar_symlink_role(void **state)
{
    (void)state;
    uint8_t buf[512 * 4];
    make_header(buf, "storages", 0);
    buf[156] = '2';
    snprintf((char *)buf + 157, 100, "/tmp/planted.pkl");
    set_checksum(buf, 0);
    memset(buf + 512, 0, sizeof(buf) - 512);
    ckpt_report *r = scan_bytes(NULL, buf, sizeof(buf));
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_TORCH_TAR);
    assert_true(find_code(r, CKPT_F_NESTED_LOAD, 0) >= 0);
    assert_int_equal(ckpt_report_verdict(r), CKPT_VERDICT_DANGEROUS);
    ckpt_report_free(r);
}

int main(void)
{
    if (!find_fixtures()) {
        fprintf(stderr, "fixtures not found (set CKPT_FIXTURES)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_tar_members),
        cmocka_unit_test(test_minimal_legacy),
        cmocka_unit_test(test_region_errors),
        cmocka_unit_test(test_magic_and_protocol),
        cmocka_unit_test(test_protocol_encodings),
        cmocka_unit_test(test_failure_keeps_scanning),
        cmocka_unit_test(test_tar_header_rules),
        cmocka_unit_test(test_tar_truncated),
        cmocka_unit_test(test_tar_names),
        cmocka_unit_test(test_tar_symlink_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
