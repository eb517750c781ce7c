/* The value-free fast path for pure-data pickles (pickle_lite.c). */
#ifndef CKPT_PICKLE_LITE_H
#define CKPT_PICKLE_LITE_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"

typedef struct lite_result {
    size_t end;
    int protocol;
    uint64_t opcodes;
    int weights_only_ok;
} lite_result;

/* 1 when buf[start..] is a complete pure-data pickle on which the full
 * interpreter would report nothing (then *out describes it); 0 otherwise,
 * having added nothing anywhere: run the full interpreter. */
int pickle_lite(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t start,
                lite_result *out);

#endif
