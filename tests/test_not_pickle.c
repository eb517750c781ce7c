/* SPDX-License-Identifier: Apache-2.0 */
/* Files no loader can run (a walk that fails before any import or
 * persistent id, a persistent id first at the top level) and the data
 * formats named by content (src/formats/formats_data.c): exact verdicts and
 * formats, the zip mod-time sweep, the safetensors header checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#ifndef CKPT_FIXTURES_DIR
#define CKPT_FIXTURES_DIR "fixtures"
#endif

static ckpt_scanner *g_scanner;

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

/* Scans buf and checks its verdict, format and (unless -1) finding count. */
static void expect(const void *buf, size_t len, ckpt_verdict v, ckpt_format fmt, long nfindings)
{
    ckpt_report *r = scan_bytes(g_scanner, buf, len);
    if (ckpt_report_verdict(r) != v || ckpt_report_format(r) != fmt ||
        (nfindings >= 0 && (long)ckpt_report_finding_count(r) != nfindings)) {
        fprintf(stderr, "got %s [%s]\n", ckpt_verdict_name(ckpt_report_verdict(r)),
                ckpt_format_name(ckpt_report_format(r)));
        dump_report(r);
    }
    assert_int_equal(ckpt_report_verdict(r), v);
    assert_int_equal(ckpt_report_format(r), fmt);
    if (nfindings >= 0)
        assert_int_equal(ckpt_report_finding_count(r), nfindings);
    ckpt_report_free(r);
}

#define EXPECT_LIT(lit, v, fmt, n) expect((lit), sizeof(lit) - 1, (v), (fmt), (n))

/* ---- the zip mod-time false positive ---- */

/* Sets the DOS time and date of every local and central header of a zip. */
static void set_zip_time(uint8_t *z, size_t len, uint16_t time, uint16_t date)
{
    for (size_t i = 0; i + 16 <= len; i++) {
        int local = memcmp(z + i, "PK\x03\x04", 4) == 0;
        int central = memcmp(z + i, "PK\x01\x02", 4) == 0;
        size_t at = local ? i + 10 : central ? i + 12 : 0;
        if (!at)
            continue;
        z[at] = time & 0xff;
        z[at + 1] = time >> 8;
        z[at + 2] = date & 0xff;
        z[at + 3] = date >> 8;
    }
}

/* Every two-second DOS mod time (24 * 60 * 30) of torch.save's zip, on
 * torch's own date 0 and on a date whose low byte is '.' (STOP): a time
 * with a newline makes the first local header `P...\n` (PERSID), which
 * pickle.load refuses, so none of them may come out anything but SAFE. */
static void torch_zip_every_dos_mod_time_is_safe(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *z = read_file(CKPT_FIXTURES_DIR "/torch/sd_linear.pt", &len);
    assert_non_null(z);
    assert_true(len > 100);
    static const uint16_t dates[] = {0, (41u << 9) | (1u << 5) | 14u}; /* 2021-01-14: low '.' */
    unsigned scanned = 0, not_safe = 0, persid_lines = 0;
    for (size_t d = 0; d < 2; d++)
        for (unsigned h = 0; h < 24; h++)
            for (unsigned m = 0; m < 60; m++)
                for (unsigned s2 = 0; s2 < 30; s2++) {
                    uint16_t t = (uint16_t)(h << 11 | m << 5 | s2);
                    set_zip_time(z, len, t, dates[d]);
                    persid_lines += memchr(z + 10, '\n', 4) != NULL;
                    ckpt_report *r = scan_bytes(g_scanner, z, len);
                    if (ckpt_report_verdict(r) != CKPT_VERDICT_SAFE ||
                        ckpt_report_format(r) != CKPT_FORMAT_TORCH_ZIP) {
                        if (not_safe++ == 0) {
                            fprintf(stderr, "time %02u:%02u:%02u date %u:\n", h, m, s2 * 2,
                                    dates[d]);
                            dump_report(r);
                        }
                    }
                    ckpt_report_free(r);
                    scanned++;
                }
    free(z);
    assert_int_equal(scanned, 2 * 24 * 60 * 30);
    assert_true(persid_lines > 0); /* the sweep does reach the PERSID readings */
    assert_int_equal(not_safe, 0);
}

/* ---- the rule: a walk that fails before any import ran nothing ---- */

static void parse_error_before_any_import_is_not_a_pickle(void **state)
{
    (void)state;
    /* vocab.txt starting with 'h' reads as BINGET of an empty memo */
    EXPECT_LIT("hello\nworld\n", CKPT_VERDICT_SAFE, CKPT_FORMAT_TEXT, 0);
    /* protocol 0 that breaks before any import */
    EXPECT_LIT("(lp0\nI1\naI2\na", CKPT_VERDICT_SAFE, CKPT_FORMAT_TEXT, 0);
    /* binary junk whose first byte is an opcode, then a bad opcode */
    EXPECT_LIT("K\x01\x00\x00\xff\xfe", CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
    /* not even an opcode first: unknown-format, info only */
    EXPECT_LIT("\x01\x02\x03\xff", CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
}

static void failure_after_an_import_stays_flagged(void **state)
{
    (void)state;
    /* imports os.system, then the data ends: pickle.load imported it */
    EXPECT_LIT("cos\nsystem\n(S'x'\n", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_PICKLE, -1);
    /* an unknown import then a bad opcode: fail closed */
    EXPECT_LIT("cfoo\nbar\n\xff", CKPT_VERDICT_SUSPICIOUS, CKPT_FORMAT_PICKLE, -1);
    /* a complete pickle without imports is still a pickle */
    EXPECT_LIT("\x80\x02K\x01.", CKPT_VERDICT_SAFE, CKPT_FORMAT_PICKLE, 0);
}

/* pickle.load, joblib, numpy.load and torch.load all raise at a PERSID at
 * offset 0 of a file (no persistent_load there): what follows never runs. */
static void top_level_persistent_id_first_runs_nothing(void **state)
{
    (void)state;
    EXPECT_LIT("Pabc\ncos\nsystem\n(S'x'\ntR.", CKPT_VERDICT_SAFE, CKPT_FORMAT_TEXT, 0);
    EXPECT_LIT("\x80\x02K\x01Q\x8c\x02os\x8c\x06system\x93.", CKPT_VERDICT_SAFE,
               CKPT_FORMAT_UNKNOWN, 1);
    /* an import before the persistent id is reached first */
    EXPECT_LIT("cos\nsystem\nPabc\n.", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_PICKLE, -1);
}

/* ---- data formats ---- */

static void data_formats_are_named(void **state)
{
    (void)state;
    EXPECT_LIT("# Model card\n\nSome *markdown* text, UTF-8: \xc3\xa9\xe2\x82\xac.\n",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_TEXT, 0);
    EXPECT_LIT("*.bin filter=lfs diff=lfs merge=lfs -text\n", CKPT_VERDICT_SAFE, CKPT_FORMAT_TEXT,
               0);
    EXPECT_LIT("{\"architectures\": [\"BertModel\"], \"hidden_size\": 768, \"x\": -1.5e-3, "
               "\"y\": NaN, \"z\": [true, false, null, {}, []], \"s\": \"a\\u00e9\\n\"}\n",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_JSON, 0);
    /* broken JSON is still text */
    EXPECT_LIT("{\"a\": [1, 2}\n", CKPT_VERDICT_SAFE, CKPT_FORMAT_TEXT, 0);
    /* invalid UTF-8 is not text */
    EXPECT_LIT("abc\xc0\xaf", CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
    EXPECT_LIT("GGUF\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00"
               "\x00\x00",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_GGUF, 0);
    EXPECT_LIT("\x89HDF\r\n\x1a\n\x00\x00\x00\x00", CKPT_VERDICT_SAFE, CKPT_FORMAT_HDF5, 0);
    EXPECT_LIT("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", CKPT_VERDICT_SAFE, CKPT_FORMAT_PNG, 0);
    EXPECT_LIT("\xff\xd8\xff\xe0\x00\x10JFIF", CKPT_VERDICT_SAFE, CKPT_FORMAT_JPEG, 0);
    EXPECT_LIT("GIF89a\x01\x00\x01\x00", CKPT_VERDICT_SAFE, CKPT_FORMAT_GIF, 0);
    EXPECT_LIT("RIFF\x10\x00\x00\x00WEBPVP8 ", CKPT_VERDICT_SAFE, CKPT_FORMAT_WEBP, 0);
    EXPECT_LIT("\x10\x00\x00\x00TFL3\x00\x00\x00\x00\x00\x00\x00\x00\x0c\x00\x00\x00",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_TFLITE, 0);
    /* ir_version 8, producer_name "pytorch", graph {...}, opset_import {...} */
    EXPECT_LIT("\x08\x08\x12\x07pytorch:\x03\x0a\x01x\x42\x02\x10\x0d", CKPT_VERDICT_SAFE,
               CKPT_FORMAT_ONNX, 0);
    /* no graph: not ONNX */
    EXPECT_LIT("\x08\x08\x12\x07pytorch", CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
}

/* MessagePack (Flax's flax_model.msgpack): one map or array filling the
 * file, UTF-8 strings; anything cut, trailing or invalid is not. */
static void msgpack_is_named(void **state)
{
    (void)state;
    /* {"params": {"w": ext(1, b"abc")}, "step": 3} */
    EXPECT_LIT("\x82\xa6params\x81\xa1w\xc7\x03\x01"
               "abc\xa4step\x03",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_MSGPACK, 0);
    /* map16, str8, bin8, float64, fixext4, nil, array16 of negative fixints */
    EXPECT_LIT("\xde\x00\x03\xd9\x01k\xc4\x02\x00\xff\xa1"
               "f\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\xa1x\xdc\x00\x02\xff\xe0",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_MSGPACK, 0);
    EXPECT_LIT("\x92\xd6\x05\x01\x02\x03\x04\xc0", CKPT_VERDICT_SAFE, CKPT_FORMAT_MSGPACK, 0);
    /* cut inside a map, a byte after the object, 0xc1, a bin past the end,
     * a string that is not UTF-8, a bare scalar */
    EXPECT_LIT("\x82\xa1"
               "a\x01\xa1",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
    EXPECT_LIT("\x81\xa1"
               "a\x01\x00",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
    EXPECT_LIT("\x81\xa1"
               "a\xc1",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
    EXPECT_LIT("\x81\xa1"
               "a\xc4\x09xy",
               CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
    EXPECT_LIT("\x81\xa2\xc0\xaf\x01", CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
    EXPECT_LIT("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", CKPT_VERDICT_SAFE, CKPT_FORMAT_UNKNOWN, 1);
}

/* A data format that is also a pickle that imports stays a pickle. */
static void text_that_imports_is_scanned_as_a_pickle(void **state)
{
    (void)state;
    EXPECT_LIT("cos\nsystem\n(S'echo hi'\ntR.", CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_PICKLE, -1);
    /* a fixmap of 12 pairs whose 24 objects are the pickle's bytes:
     * SHORT_BINUNICODE 'x', GLOBAL os system, MARK, STRING, TUPLE, REDUCE */
    static const char both[] = "\x8c\x01xcos\nsystem\n(S'hi!'\ntR.";
    assert_int_equal(sizeof(both) - 1, 25);
    EXPECT_LIT(both, CKPT_VERDICT_DANGEROUS, CKPT_FORMAT_PICKLE, -1);
}

/* ---- safetensors ---- */

/* An 8-byte length, the header padded with spaces to `pad`, then data. */
static size_t st_file(uint8_t *out, const char *header, size_t data_len)
{
    size_t n = strlen(header);
    size_t padded = (n + 7) / 8 * 8;
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(padded >> (8 * i));
    memcpy(out + 8, header, n);
    memset(out + 8 + n, ' ', padded - n);
    memset(out + 8 + padded, 0x3f, data_len);
    return 8 + padded + data_len;
}

static void expect_st(const char *header, size_t data_len, ckpt_verdict v)
{
    uint8_t buf[1024];
    size_t len = st_file(buf, header, data_len);
    ckpt_report *r = scan_bytes(g_scanner, buf, len);
    if (ckpt_report_verdict(r) != v) {
        fprintf(stderr, "header %s\n", header);
        dump_report(r);
    }
    assert_int_equal(ckpt_report_format(r), CKPT_FORMAT_SAFETENSORS);
    assert_int_equal(ckpt_report_verdict(r), v);
    if (v != CKPT_VERDICT_SAFE)
        assert_true(find_code(r, CKPT_F_MALFORMED, 0) >= 0);
    ckpt_report_free(r);
}

static void safetensors_headers_are_validated(void **state)
{
    (void)state;
    expect_st("{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
              "\"data_offsets\":[0,24]},\"b\":{\"dtype\":\"BF16\",\"shape\":[3],"
              "\"data_offsets\":[24,30]},\"e\":{\"dtype\":\"I64\",\"shape\":[0],"
              "\"data_offsets\":[30,30]}}",
              30, CKPT_VERDICT_SAFE);
    expect_st("{}", 0, CKPT_VERDICT_SAFE);
    /* unknown dtype */
    expect_st("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
              CKPT_VERDICT_SUSPICIOUS);
    /* offsets past the data */
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
              CKPT_VERDICT_SUSPICIOUS);
    /* size does not match the shape */
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
              CKPT_VERDICT_SUSPICIOUS);
    /* a gap between tensors */
    expect_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
              "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}",
              3, CKPT_VERDICT_SUSPICIOUS);
    /* metadata that is not strings, and bad JSON */
    expect_st("{\"__metadata__\":{\"a\":1}}", 0, CKPT_VERDICT_SUSPICIOUS);
    expect_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4,
              CKPT_VERDICT_SUSPICIOUS);
}

int main(void)
{
    if (ckpt_scanner_new(&g_scanner) != CKPT_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(torch_zip_every_dos_mod_time_is_safe),
        cmocka_unit_test(parse_error_before_any_import_is_not_a_pickle),
        cmocka_unit_test(failure_after_an_import_stays_flagged),
        cmocka_unit_test(top_level_persistent_id_first_runs_nothing),
        cmocka_unit_test(data_formats_are_named),
        cmocka_unit_test(msgpack_is_named),
        cmocka_unit_test(text_that_imports_is_scanned_as_a_pickle),
        cmocka_unit_test(safetensors_headers_are_validated),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ckpt_scanner_free(g_scanner);
    return rc;
}
