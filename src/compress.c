/* Compressed pickles (joblib). Placeholder: the reader lands with issue 3. */
#include "formats.h"

int compressed_magic(const uint8_t *buf, size_t len)
{
    (void)buf, (void)len;
    return 0;
}

int read_compressed(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                    ckpt_format *format)
{
    (void)ctx, (void)member, (void)buf, (void)len, (void)format;
    return 0;
}
