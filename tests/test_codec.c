/* SPDX-License-Identifier: Apache-2.0 */
/* The codec table (src/formats/codec.c): each decoder round-trips what its
 * library's encoder wrote, maps a corrupt stream and a memory limit to the
 * same codes, and codec_output_cap is the one output bound of both drivers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#ifdef CKPT_HAVE_LZ4
#include <lz4frame.h>
#endif
#ifdef CKPT_HAVE_ZSTD
#include <zstd.h>
#endif

#define PLAIN_N 20000

static uint8_t plain[PLAIN_N];
static uint8_t packed[PLAIN_N * 2];

static void fill_plain(void)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < PLAIN_N; i++) {
        x = x * 1103515245u + 12345u;
        plain[i] = (uint8_t)("abcdefgh"[(x >> 16) & 7]);
    }
}

/* Decodes `n` bytes with codec id in one step each way; the outcome, and
 * what was consumed and made. */
static codec_ret decode(codec_id id, const codec_args *a, const uint8_t *in, size_t n, uint8_t *out,
                        size_t cap, size_t *used, size_t *made)
{
    codec_stream s;
    codec_ret r = codec_open(&s, id, a);
    if (r != CODEC_OK)
        return r;
    *used = n;
    *made = cap;
    r = codec_step(&s, in, used, out, made);
    codec_close(&s);
    return r;
}

static void expect_round_trip(codec_id id, const codec_args *a, const uint8_t *in, size_t n)
{
    static uint8_t out[PLAIN_N + 16];
    size_t used = 0, made = 0;
    assert_int_equal(decode(id, a, in, n, out, sizeof(out), &used, &made), CODEC_END);
    assert_int_equal(used, n);
    assert_int_equal(made, PLAIN_N);
    assert_memory_equal(out, plain, PLAIN_N);
}

static size_t zlib_pack(int window_bits)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = plain;
    z.avail_in = PLAIN_N;
    z.next_out = packed;
    z.avail_out = sizeof(packed);
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

static void test_zlib_family(void **state)
{
    (void)state;
    codec_args a = {UINT64_MAX, NULL, 0};
    expect_round_trip(CODEC_DEFLATE, &a, packed, zlib_pack(-15));
    expect_round_trip(CODEC_ZLIB, &a, packed, zlib_pack(15));
    expect_round_trip(CODEC_GZIP, &a, packed, zlib_pack(31));
    assert_string_equal(codec_name(CODEC_ZLIB), "zlib");
    assert_string_equal(codec_name(CODEC_GZIP), "gzip");
    /* a zlib header that is not one */
    static const uint8_t bad[] = {0x78, 0x9c, 0xff, 0xff, 0xff, 0xff};
    uint8_t out[64];
    size_t used, made;
    assert_int_equal(decode(CODEC_ZLIB, &a, bad, sizeof(bad), out, sizeof(out), &used, &made),
                     CODEC_CORRUPT);
}

static void test_bz2(void **state)
{
    (void)state;
    unsigned n = sizeof(packed);
    assert_int_equal(BZ2_bzBuffToBuffCompress((char *)packed, &n, (char *)plain, PLAIN_N, 1, 0, 0),
                     BZ_OK);
    codec_args a = {UINT64_MAX, NULL, 0};
    expect_round_trip(CODEC_BZ2, &a, packed, n);
    assert_string_equal(codec_name(CODEC_BZ2), "bz2");
    /* a stream header, then no block magic */
    static const uint8_t bad[] = {'B', 'Z', 'h', '9', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t out[64];
    size_t used, made;
    assert_int_equal(decode(CODEC_BZ2, &a, bad, sizeof(bad), out, sizeof(out), &used, &made),
                     CODEC_CORRUPT);
}

static void test_xz_and_lzma(void **state)
{
    (void)state;
    size_t n = 0;
    assert_int_equal(lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, plain, PLAIN_N, packed, &n,
                                             sizeof(packed)),
                     LZMA_OK);
    codec_args a = {UINT64_MAX, NULL, 0};
    expect_round_trip(CODEC_XZ, &a, packed, n);
    expect_round_trip(CODEC_LZMA_AUTO, &a, packed, n);
    /* a dictionary over the memory limit */
    codec_args tight = {1, NULL, 0};
    uint8_t out[64];
    size_t used, made;
    assert_int_equal(decode(CODEC_XZ, &tight, packed, n, out, sizeof(out), &used, &made),
                     CODEC_MEMLIMIT);
    assert_string_equal(codec_name(CODEC_XZ), "xz");

    /* raw LZMA1 with its properties given apart, as zipfile stores it */
    lzma_options_lzma opt;
    assert_false(lzma_lzma_preset(&opt, 1));
    lzma_filter f[2] = {{LZMA_FILTER_LZMA1, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    uint8_t props[5];
    assert_int_equal(lzma_properties_encode(f, props), LZMA_OK);
    n = 0;
    assert_int_equal(lzma_raw_buffer_encode(f, NULL, plain, PLAIN_N, packed, &n, sizeof(packed)),
                     LZMA_OK);
    codec_args raw = {UINT64_MAX, props, sizeof(props)};
    static uint8_t big[PLAIN_N];
    used = n;
    made = sizeof(big);
    codec_stream s;
    assert_int_equal(codec_open(&s, CODEC_LZMA_RAW, &raw), CODEC_OK);
    codec_ret r = codec_step(&s, packed, &used, big, &made);
    codec_close(&s);
    assert_true(r == CODEC_OK || r == CODEC_END); /* no end marker: ends with its input */
    assert_int_equal(made, PLAIN_N);
    assert_memory_equal(big, plain, PLAIN_N);
    raw.memlimit = 1;
    assert_int_equal(codec_open(&s, CODEC_LZMA_RAW, &raw), CODEC_MEMLIMIT);
    raw.memlimit = UINT64_MAX;
    raw.nprops = 2; /* properties cut short */
    assert_int_equal(codec_open(&s, CODEC_LZMA_RAW, &raw), CODEC_CORRUPT);
}

static void test_frames(void **state)
{
    (void)state;
    codec_args a = {UINT64_MAX, NULL, 0};
    codec_stream s;
#ifdef CKPT_HAVE_LZ4
    size_t n = LZ4F_compressFrame(packed, sizeof(packed), plain, PLAIN_N, NULL);
    assert_false(LZ4F_isError(n));
    expect_round_trip(CODEC_LZ4, &a, packed, n);
#else
    assert_int_equal(codec_open(&s, CODEC_LZ4, &a), CODEC_CORRUPT);
#endif
#ifdef CKPT_HAVE_ZSTD
    size_t m = ZSTD_compress(packed, sizeof(packed), plain, PLAIN_N, 1);
    assert_false(ZSTD_isError(m));
    expect_round_trip(CODEC_ZSTD, &a, packed, m);
#else
    assert_int_equal(codec_open(&s, CODEC_ZSTD, &a), CODEC_CORRUPT);
#endif
    (void)s;
    assert_int_equal(codec_open(&s, CODEC_COUNT_, &a), CODEC_CORRUPT);
}

/* One bound for both drivers: the least of the room and max-ratio times the
 * input, an empty input counting as one byte, the room winning a tie. */
static void test_output_cap(void **state)
{
    (void)state;
    ckpt_scanner *sc;
    assert_int_equal(ckpt_scanner_new(&sc), CKPT_OK);
    sc->limits[CKPT_LIMIT_RATIO] = 100;
    sc->limits[CKPT_LIMIT_DECOMPRESSED] = 1000;
    sc->limits[CKPT_LIMIT_DECOMPRESSED_TOTAL] = 5000;
    scan_ctx ctx = {.sc = sc};
    ckpt_limit which;
    assert_int_equal(codec_output_cap(&ctx, 0, &which), 100);
    assert_int_equal(which, CKPT_LIMIT_RATIO);
    assert_int_equal(codec_output_cap(&ctx, 5, &which), 500);
    assert_int_equal(which, CKPT_LIMIT_RATIO);
    assert_int_equal(codec_output_cap(&ctx, 10, &which), 1000);
    assert_int_equal(which, CKPT_LIMIT_DECOMPRESSED);
    ctx.held = 900;
    assert_int_equal(codec_output_cap(&ctx, 50, &which), 100);
    assert_int_equal(which, CKPT_LIMIT_DECOMPRESSED);
    ctx.held = 0;
    ctx.inflated = 4800;
    assert_int_equal(codec_output_cap(&ctx, 50, &which), 200);
    assert_int_equal(which, CKPT_LIMIT_DECOMPRESSED_TOTAL);
    ctx.inflated = 0;
    for (int l = 0; l < CKPT_LIMIT_COUNT_; l++)
        sc->limits[l] = UINT64_MAX;
    assert_int_equal(codec_output_cap(&ctx, 0, &which), SIZE_MAX - 1);
    assert_int_equal(codec_output_cap(&ctx, UINT64_MAX, &which), SIZE_MAX - 1);
    ckpt_scanner_free(sc);
}

int main(void)
{
    fill_plain();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zlib_family), cmocka_unit_test(test_bz2),
        cmocka_unit_test(test_xz_and_lzma), cmocka_unit_test(test_frames),
        cmocka_unit_test(test_output_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
