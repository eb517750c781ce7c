/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the zip view (torch/miniz and Python zipfile readings)
 * on raw bytes. */
#include "fuzz_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int zip_reader(scan_ctx *ctx, const uint8_t *buf, size_t len)
{
    ckpt_format f;
    return read_zip(ctx, "", buf, len, &f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reader(zip_reader, data, size);
    return 0;
}
