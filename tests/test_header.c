/* SPDX-License-Identifier: Apache-2.0 */
/* The public header compiles on its own and its basic contract holds. */
#include "ckptscan.h"

#include <string.h>

int main(void)
{
    ckpt_scanner *s = NULL;
    if (ckpt_scanner_new(&s) != CKPT_OK)
        return 1;
    ckpt_scanner_free(s);
    return strcmp(ckpt_version(), CKPT_VERSION_STRING) != 0;
}
