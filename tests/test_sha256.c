/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's SHA-256 (cli/sha256.c), built both with the x86 SHA instructions
 * and with the portable code only: FIPS 180-4 test vectors, block-boundary lengths against
 * each other, and a file read in several chunks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../cli/cli.h"

static void test_vectors(void **state)
{
    (void)state;
    char hex[65];
    sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* Three million 'a' in a file: read in 1 MiB chunks, from offset 0 even
 * when the descriptor's position is at the end. */
static void test_file(void **state)
{
    (void)state;
    static const char want[] = "2a152c894398719c0570f83fac34ac03a0f6e8e474b995c2403aa5434f7b9dd4";
    char path[] = "/tmp/ckptscan_sha256_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *a = malloc(3000000);
    assert_non_null(a);
    memset(a, 'a', 3000000);
    assert_int_equal(write(fd, a, 3000000), 3000000);
    char hex[65];
    assert_int_equal(sha256_fd(fd, hex), 0);
    assert_string_equal(hex, want);
    assert_int_equal(sha256_file(path, hex), 0);
    assert_string_equal(hex, want);
    sha256_hex(a, 3000000, hex);
    assert_string_equal(hex, want);
    assert_int_equal(sha256_file("/nonexistent/ckptscan", hex), -1);
    free(a);
    close(fd);
    unlink(path);
}

/* Every length from 0 to 300 (the block and padding edges): the digests,
 * concatenated, hashed once more, against Python's hashlib. */
static void test_lengths(void **state)
{
    (void)state;
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    char *all = malloc(64 * 301 + 1), hex[65];
    assert_non_null(all);
    for (size_t n = 0; n <= sizeof(buf); n++) {
        sha256_hex(buf, n, hex);
        memcpy(all + 64 * n, hex, 64);
    }
    sha256_hex(all, 64 * 301, hex);
    assert_string_equal(hex, "9ab015b3431ba48c0f99e81c5bb7d903f6bfea343d7d7b190120d07cc51e653b");
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
