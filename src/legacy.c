/* torch's legacy stacked-pickle format.
 * Placeholder: the reader lands with issue 3; until then it is a pickle run. */
#include "formats.h"

int read_torch_legacy(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len)
{
    (void)ctx, (void)member, (void)buf, (void)len;
    return 0;
}
