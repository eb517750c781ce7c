/* Tar archives (torch's legacy tar format).
 * Placeholder: the reader lands with issue 3. */
#include "formats.h"

int tar_header_valid(const uint8_t *buf, size_t len)
{
    (void)buf, (void)len;
    return 0;
}

int read_tar(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
             ckpt_format *format)
{
    (void)ctx, (void)member, (void)buf, (void)len, (void)format;
    return 0;
}
