/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the .npy reader, the compressed-stream reader and the
 * legacy torch / tar readers, each on the same raw bytes (joblib arrays are
 * reached through the pickle streams they scan). */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int readers(scan_ctx *ctx, const uint8_t *buf, size_t len)
{
    ckpt_format f;
    int held = read_npy(ctx, "", buf, len);
    held |= read_compressed(ctx, "", buf, len, &f);
    held |= read_torch_legacy_at(ctx, "", buf, len, SIZE_MAX);
    if (tar_header_valid(buf, len))
        held |= read_tar(ctx, "", buf, len, &f);
    return held;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reader(readers, data, size);
    return 0;
}
