/* SPDX-License-Identifier: Apache-2.0 */
/* ckpt_convert_safetensors on torch's legacy tar layout, built here byte by
 * byte (ustar headers, the storages / tensors / pickle members as torch
 * 1.13's legacy_load reads them): a transposed tensor and a tensor on a
 * storage view come out with torch.load's values; keys legacy_load would
 * resolve otherwise or not at all (a tensor key that is also a storage
 * key, a tensor on a storage no record defines) and a view past its storage are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ckptscan.h"

typedef struct buf {
    uint8_t p[16384];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->p));
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

static void put_i64(buf *b, int64_t v)
{
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)v >> (8 * i));
    put(b, le, 8);
}

/* One ustar member: header, data, padding to 512. */
static void tar_member(buf *t, const char *name, const buf *data)
{
    uint8_t h[512] = {0};
    memcpy(h, name, strlen(name));
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011o", (unsigned)data->n);
    memcpy(h + 136, "00000000000", 11);
    h[156] = '0';
    memcpy(h + 257,
           "ustar\0"
           "00",
           8);
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    put(t, h, 512);
    put(t, data->p, data->n);
    static const uint8_t zero[512] = {0};
    put(t, zero, (512 - data->n % 512) % 512);
}

/* storages: one FloatStorage (key 7) of 0..5; the views list makes key 8
 * = elements [2, 6) of it. tensors: 1001 = storage 7 as shape (3, 2)
 * strides (1, 3) (a transpose), `second` = storage `sid` shape (3) offset 1. */
static void build(buf *t, int64_t second, int64_t sid, const char *pickle, size_t pickle_len,
                  int64_t numel)
{
    buf s = {{0}, 0}, x = {{0}, 0}, p = {{0}, 0};
    PUT_LIT(&s, "\x80\x02K\x01.");
    PUT_LIT(&s, "\x80\x02K\x07X\x03\x00\x00\x00"
                "cpuctorch\nFloatStorage\n\x87.");
    put_i64(&s, numel);
    for (int i = 0; i < numel; i++) {
        float f = (float)i;
        put(&s, &f, 4);
    }
    PUT_LIT(&s, "\x80\x02](K\x08K\x07K\x02K\x04ta.");
    PUT_LIT(&x, "\x80\x02K\x02.");
    PUT_LIT(&x, "\x80\x02M\xe9\x03K\x07N\x87.");
    put_i64(&x, 2);
    put_i64(&x, 3);
    put_i64(&x, 2);
    put_i64(&x, 1);
    put_i64(&x, 3);
    put_i64(&x, 0);
    PUT_LIT(&x, "\x80\x02M");
    uint8_t k[2] = {(uint8_t)second, (uint8_t)(second >> 8)};
    put(&x, k, 2);
    PUT_LIT(&x, "K");
    uint8_t sk = (uint8_t)sid;
    put(&x, &sk, 1);
    PUT_LIT(&x, "N\x87.");
    put_i64(&x, 1);
    put_i64(&x, 3);
    put_i64(&x, 1);
    put_i64(&x, 1);
    put(&p, pickle, pickle_len);
    t->n = 0;
    tar_member(t, "storages", &s);
    tar_member(t, "tensors", &x);
    tar_member(t, "pickle", &p);
    static const uint8_t end[1024] = {0};
    put(t, end, sizeof(end));
}

/* {'a': persistent_load('1001'), 'b': persistent_load('01002')} */
static const char main_pickle[] = "\x80\x02}(X\x01\x00\x00\x00"
                                  "aX\x04\x00\x00\x00"
                                  "1001QX\x01\x00\x00\x00"
                                  "bX\x05\x00\x00\x00"
                                  "01002Qu.";

typedef struct capture {
    uint8_t p[8192];
    size_t n;
} capture;

static int cap_write(void *ctx, const char *p, size_t n)
{
    capture *c = ctx;
    if (c->n + n > sizeof(c->p))
        return -1;
    memcpy(c->p + c->n, p, n);
    c->n += n;
    return 0;
}

static ckpt_conversion *convert(const buf *t, capture *c)
{
    char name[] = "/tmp/test_convert_tar_XXXXXX";
    int fd = mkstemp(name);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, t->p, t->n), (ssize_t)t->n);
    close(fd);
    ckpt_scanner *s = NULL;
    assert_int_equal(ckpt_scanner_new(&s), CKPT_OK);
    ckpt_conversion *conv = NULL;
    c->n = 0;
    assert_int_equal(ckpt_convert_safetensors(s, name, 0, cap_write, c, &conv), CKPT_OK);
    if (getenv("KEEP_TAR"))
        fprintf(stderr, "%s\n", name);
    else
        unlink(name);
    ckpt_scanner_free(s);
    return conv;
}

static void test_written(void **state)
{
    (void)state;
    static buf t;
    capture c;
    build(&t, 1002, 8, main_pickle, sizeof(main_pickle) - 1, 6);
    ckpt_conversion *conv = convert(&t, &c);
    assert_string_equal(ckpt_conversion_message(conv), "2 tensor(s) written, 252 bytes");
    assert_int_equal(ckpt_conversion_outcome(conv), CKPT_CONVERT_WRITTEN);
    assert_int_equal(c.n, 252);
    /* a = transpose of 0..5 as (2, 3); b = storage 8 (elements 2..5) from offset 1 */
    const float want[9] = {0, 3, 1, 4, 2, 5, 3, 4, 5};
    assert_memory_equal(c.p + c.n - sizeof(want), want, sizeof(want));
    ckpt_converted a;
    assert_int_equal(ckpt_conversion_tensor(conv, 0, &a), CKPT_OK);
    assert_string_equal(a.name, "a");
    assert_string_equal(a.dtype, "F32");
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], 3);
    assert_int_equal(a.end - a.begin, 24);
    ckpt_conversion_free(conv);
}

static void test_refused(void **state)
{
    (void)state;
    static buf t;
    capture c;
    /* tensor key 7 is also storage 7's key: legacy_load keeps both in one
     * dict, where the tensor replaces the storage; not modelled, refused */
    static const char clash[] = "\x80\x02}(X\x01\x00\x00\x00"
                                "aX\x04\x00\x00\x00"
                                "1001QX\x01\x00\x00\x00"
                                "bK\x07Qu.";
    build(&t, 7, 8, clash, sizeof(clash) - 1, 6);
    ckpt_conversion *conv = convert(&t, &c);
    assert_int_equal(ckpt_conversion_outcome(conv), CKPT_CONVERT_REFUSED);
    assert_non_null(strstr(ckpt_conversion_message(conv), "its dtype, strides or storage are not "
                                                          "known"));
    assert_int_equal(c.n, 0);
    ckpt_conversion_free(conv);
    /* the second tensor names storage 9, which no record defines */
    build(&t, 1002, 9, main_pickle, sizeof(main_pickle) - 1, 6);
    conv = convert(&t, &c);
    assert_int_equal(ckpt_conversion_outcome(conv), CKPT_CONVERT_REFUSED);
    assert_string_equal(ckpt_conversion_message(conv),
                        "tensor 'b': its dtype, strides or storage are not known");
    assert_int_equal(c.n, 0);
    ckpt_conversion_free(conv);
}

static void test_short_record(void **state)
{
    (void)state;
    static buf t;
    capture c;
    /* a root of 5 elements: the transpose reaches element 6 (torch.load
     * would resize the storage and read uninitialised memory) */
    build(&t, 1002, 8, main_pickle, sizeof(main_pickle) - 1, 5);
    ckpt_conversion *conv = convert(&t, &c);
    assert_int_equal(ckpt_conversion_outcome(conv), CKPT_CONVERT_NOT_SAFE);
    assert_int_equal(c.n, 0);
    ckpt_conversion_free(conv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_short_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
