/* SPDX-License-Identifier: Apache-2.0 */
/* The safetensors writer (src/convert/safetensors_write.c) and the strided-view
 * streaming (src/convert/convert_data.c) on hand-made inputs: header JSON, padding,
 * data_offsets, dtype names, alignment order, escaping, UTF-8 checks,
 * contiguity, and gathers of transposed, stride-0 and offset views with
 * byte swapping, through a sink that records the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "convert.h"
#include "safetensors_write.h"

static void test_dtype_names(void **state)
{
    (void)state;
    static const struct {
        const char *torch, *st;
        uint32_t size;
    } want[] = {{"float64", "F64", 8},
                {"float32", "F32", 4},
                {"float16", "F16", 2},
                {"bfloat16", "BF16", 2},
                {"int64", "I64", 8},
                {"int32", "I32", 4},
                {"int16", "I16", 2},
                {"int8", "I8", 1},
                {"uint8", "U8", 1},
                {"bool", "BOOL", 1},
                {"float8_e4m3fn", "F8_E4M3", 1},
                {"float8_e5m2", "F8_E5M2", 1},
                {"uint16", "U16", 2}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint32_t size = 0;
        assert_string_equal(st_dtype(want[i].torch, &size), want[i].st);
        assert_int_equal(size, want[i].size);
    }
    static const char *const none[] = {"complex64",       "complex128", "qint8", "quint8",
                                       "float8_e4m3fnuz", "",           "float"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        uint32_t size = 9;
        assert_null(st_dtype(none[i], &size));
        assert_int_equal(size, 0);
    }
}

static void test_header_layout(void **state)
{
    (void)state;
    int64_t s1[2] = {2, 3}, s2[1] = {4};
    st_entry e[3] = {
        {"b", "F16", 1, s2, 2, 8, 0, 0, 0},
        {"a", "F32", 2, s1, 4, 24, 0, 0, 1},
        {"c", "I64", 0, NULL, 8, 8, 0, 0, 2},
    };
    assert_int_equal(st_layout(e, 3), 40);
    /* largest element first, then by name */
    assert_string_equal(e[0].name, "c");
    assert_int_equal(e[0].begin, 0);
    assert_int_equal(e[0].end, 8);
    assert_string_equal(e[1].name, "a");
    assert_int_equal(e[1].begin, 8);
    assert_int_equal(e[1].end, 32);
    assert_string_equal(e[2].name, "b");
    assert_int_equal(e[2].begin, 32);
    assert_int_equal(e[2].end, 40);
    assert_int_equal(e[2].tag, 0);
    st_meta meta[2] = {{"format", "pt"}, {"source", "x\"y\\z\n"}};
    strbuf sb;
    sb_init(&sb, ST_HEADER_MAX + 16);
    assert_int_equal(st_header(&sb, e, 3, meta, 2), 1);
    const char *json = "{\"__metadata__\":{\"format\":\"pt\",\"source\":\"x\\\"y\\\\z\\u000a\"},"
                       "\"c\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]},"
                       "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[32,40]}}";
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    assert_int_equal(sb.len, 8 + padded);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | (uint8_t)sb.data[i];
    assert_int_equal(hlen, padded);
    assert_memory_equal(sb.data + 8, json, n);
    for (size_t i = 8 + n; i < sb.len; i++)
        assert_int_equal(sb.data[i], ' ');
    sb_free(&sb);
}

static void test_empty_header(void **state)
{
    (void)state;
    strbuf sb;
    sb_init(&sb, ST_HEADER_MAX + 16);
    assert_int_equal(st_layout(NULL, 0), 0);
    assert_int_equal(st_header(&sb, NULL, 0, NULL, 0), 1);
    assert_int_equal(sb.len, 16); /* "{}" padded to 8 */
    assert_memory_equal(sb.data + 8, "{}      ", 8);
    sb_free(&sb);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(st_utf8_ok("layer.0.weight"));
    assert_true(st_utf8_ok("caf\xc3\xa9 \xf0\x9f\x98\x80"));
    assert_false(st_utf8_ok("\xc3"));             /* cut */
    assert_false(st_utf8_ok("\xed\xa0\x80"));     /* a surrogate */
    assert_false(st_utf8_ok("\xc0\xaf"));         /* overlong */
    assert_false(st_utf8_ok("\xf4\x90\x80\x80")); /* past U+10FFFF */
    assert_false(st_utf8_ok("a\xff"));
}

/* ---- views over a temporary file ---- */

typedef struct capture {
    uint8_t buf[4096];
    size_t n;
} capture;

static int cap_write(void *ctx, const char *p, size_t n)
{
    capture *c = ctx;
    if (c->n + n > sizeof(c->buf))
        return -1;
    memcpy(c->buf + c->n, p, n);
    c->n += n;
    return 0;
}

static int temp_with(const void *data, size_t n)
{
    char name[] = "/tmp/test_convert_XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    unlink(name);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    return fd;
}

/* Writes view v (over 16 little-endian int32 0..15 after 4 junk bytes). */
static void run_view_max(conv_view *v, capture *c, uint64_t gather_max)
{
    int32_t data[17];
    for (int i = 0; i < 17; i++)
        data[i] = i - 1; /* data[0] is junk */
    int fd = temp_with(data, sizeof(data));
    v->src = (conv_source){fd, 4, 64, 64, 0, 0};
    v->elsize = 4;
    memset(c, 0, sizeof(*c));
    uint8_t *buf = malloc(CONV_CHUNK);
    conv_out o = {cap_write, c, buf, 0, 0, 0, 0, 0, 0};
    assert_int_equal(conv_write_view(&o, v, gather_max), 1);
    assert_int_equal(o.total, c->n);
    free(buf);
    close(fd);
}

static void run_view(conv_view *v, capture *c)
{
    run_view_max(v, c, 1u << 20);
}

static void assert_ints(const capture *c, const int32_t *want, size_t n)
{
    assert_int_equal(c->n, n * 4);
    for (size_t i = 0; i < n; i++) {
        int32_t x;
        memcpy(&x, c->buf + 4 * i, 4);
        assert_int_equal(x, want[i]);
    }
}

static void test_views(void **state)
{
    (void)state;
    capture c;
    int64_t shape[2] = {3, 4}, contig[2] = {4, 1};
    conv_view v = {.ndim = 2, .shape = shape, .stride = contig, .offset = 2, .numel = 12};
    assert_true(conv_contiguous(&v));
    run_view(&v, &c);
    int32_t want1[12] = {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    assert_ints(&c, want1, 12);
    /* transposed: shape (4, 3), strides (1, 4) */
    int64_t tshape[2] = {4, 3}, tstride[2] = {1, 4};
    v = (conv_view){
        .ndim = 2, .shape = tshape, .stride = tstride, .offset = 0, .numel = 12, .elsize = 4};
    assert_false(conv_contiguous(&v));
    uint64_t span;
    assert_true(conv_span(&v, &span));
    assert_int_equal(span, 48);
    run_view(&v, &c);
    int32_t want2[12] = {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11};
    assert_ints(&c, want2, 12);
    run_view_max(&v, &c, 8); /* span past the gather buffer: blocks read in storage order */
    assert_ints(&c, want2, 12);
    /* stride 0 (expand): shape (2, 3), strides (0, 1), offset 5 */
    int64_t eshape[2] = {2, 3}, estride[2] = {0, 1};
    v = (conv_view){.ndim = 2, .shape = eshape, .stride = estride, .offset = 5, .numel = 6};
    run_view(&v, &c);
    int32_t want3[6] = {5, 6, 7, 5, 6, 7};
    assert_ints(&c, want3, 6);
    run_view_max(&v, &c, 4);
    assert_ints(&c, want3, 6);
    /* big-endian swap of a 0-d view */
    v = (conv_view){.ndim = 0, .offset = 1, .numel = 1, .swap = 1};
    run_view(&v, &c);
    int32_t one = 1 << 24;
    assert_ints(&c, &one, 1);
    /* empty */
    int64_t zshape[2] = {0, 3}, zstride[2] = {3, 1};
    v = (conv_view){.ndim = 2, .shape = zshape, .stride = zstride, .numel = 0};
    run_view(&v, &c);
    assert_int_equal(c.n, 0);
}

/* A view past its source fails as a read error, never reads out of bounds. */
static void test_short_source(void **state)
{
    (void)state;
    int32_t data[4] = {1, 2, 3, 4};
    int fd = temp_with(data, sizeof(data));
    int64_t shape[1] = {8}, stride[1] = {2};
    conv_view v = {{fd, 0, 16, 16, 0, 0}, 4, 0, 1, shape, stride, 0, 8};
    capture c = {{0}, 0};
    uint8_t *buf = malloc(CONV_CHUNK);
    conv_out o = {cap_write, &c, buf, 0, 0, 0, 0, 0, 0};
    assert_int_equal(conv_write_view(&o, &v, 8), 0); /* window path: gather_max 8 */
    assert_int_equal(o.read_fail, 1);
    free(buf);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtype_names),  cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_empty_header), cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_views),        cmocka_unit_test(test_short_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
