/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: ckpt_convert_safetensors on the input (through a
 * memfd, as the API takes a path). Invariants: nothing reaches the sink
 * unless the outcome is "written" (or the status is an I/O error midway,
 * or a deflated record checked while written turned out inconsistent);
 * "written" only for a SAFE report; the output is a well-formed
 * safetensors file: its 8-byte length, a '{' ... '}' header padded with
 * spaces to a multiple of 8, and tensor data_offsets that tile the buffer
 * back to back, each numel x element size; the byte count matches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckptscan.h"

#define KEEP (64u << 10) /* bytes of output kept for the header checks */

typedef struct sink {
    uint8_t head[KEEP];
    uint64_t total;
} sink;

static int put(void *ctx, const char *p, size_t n)
{
    sink *k = ctx;
    if (k->total < KEEP) {
        size_t room = KEEP - (size_t)k->total;
        memcpy(k->head + k->total, p, n < room ? n : room);
    }
    k->total += n;
    return 0;
}

static uint32_t elsize(const char *st)
{
    static const char *const names[] = {"F64", "I64", "U64",  "F32",     "I32",
                                        "U32", "F16", "BF16", "I16",     "U16",
                                        "I8",  "U8",  "BOOL", "F8_E4M3", "F8_E5M2"};
    static const uint32_t sizes[] = {8, 8, 8, 4, 4, 4, 2, 2, 2, 2, 1, 1, 1, 1, 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        if (strcmp(st, names[i]) == 0)
            return sizes[i];
    abort(); /* a written tensor always has a safetensors dtype */
}

/* The header: length, braces, space padding. Returns its total size. */
static uint64_t check_header(const sink *k)
{
    if (k->total < 16)
        abort();
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = (h << 8) | k->head[i];
    if (h % 8 || h > k->total - 8 || k->head[8] != '{')
        abort();
    if (8 + h <= KEEP) {
        uint64_t end = 8 + h;
        while (end > 9 && k->head[end - 1] == ' ')
            end--;
        if (k->head[end - 1] != '}')
            abort();
    }
    return 8 + h;
}

static void check_written(const ckpt_conversion *c, const sink *k)
{
    uint64_t at = 0, head = check_header(k);
    for (size_t i = 0; i < ckpt_conversion_tensor_count(c); i++) {
        ckpt_converted t;
        if (ckpt_conversion_tensor(c, i, &t) != CKPT_OK || !t.name || !t.reason)
            abort();
        if (!t.written)
            continue;
        uint64_t numel = 1;
        for (size_t d = 0; d < t.ndim; d++)
            numel *= (uint64_t)t.shape[d];
        if (t.begin != at || t.end - t.begin != numel * elsize(t.dtype) || *t.reason)
            abort();
        at = t.end;
    }
    if (head + at != k->total || ckpt_conversion_bytes(c) != k->total)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ckpt_scanner *s;
    if (!s) {
        if (ckpt_scanner_new(&s) != CKPT_OK)
            abort();
        ckpt_scanner_set_limit(s, CKPT_LIMIT_MEMORY, 64u << 20);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_DECOMPRESSED, 1u << 20);
        ckpt_scanner_set_limit(s, CKPT_LIMIT_FILE_SIZE, 16u << 20);
    }
    int fd = memfd_create("fuzz_convert", MFD_CLOEXEC);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
        abort();
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    sink *k = malloc(sizeof(*k));
    if (!k)
        abort();
    k->total = 0;
    ckpt_conversion *c = NULL;
    unsigned flags = (size & 1 ? CKPT_CONVERT_SKIP_UNSUPPORTED : 0) |
                     (size & 2 ? CKPT_CONVERT_CHECK_WHILE_WRITING : 0);
    ckpt_status st = ckpt_convert_safetensors(s, path, flags, put, k, &c);
    if (!c || (st != CKPT_OK && st != CKPT_ERR_IO))
        abort();
    ckpt_convert_outcome o = ckpt_conversion_outcome(c);
    const ckpt_report *r = ckpt_conversion_report(c);
    if (o == CKPT_CONVERT_WRITTEN &&
        (st != CKPT_OK || !r || ckpt_report_verdict(r) != CKPT_VERDICT_SAFE))
        abort();
    if (o == CKPT_CONVERT_WRITTEN)
        check_written(c, k);
    else if (st == CKPT_OK && k->total &&
             (!(flags & CKPT_CONVERT_CHECK_WHILE_WRITING) ||
              !strstr(ckpt_conversion_message(c), "anomaly: its deflated record")))
        abort(); /* a refusal wrote something, and not a record checked while written */
    if (!ckpt_conversion_message(c)[0])
        abort();
    ckpt_conversion_free(c);
    free(k);
    close(fd);
    return 0;
}
