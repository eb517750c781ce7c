/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the CLI's files: growing an array. */
#include <stdint.h>
#include <stdlib.h>

#include "cli.h"

int grow_array(void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -1;
        n *= 2;
    }
    if (elem && n > SIZE_MAX / elem)
        return -1;
    void *p = realloc(*array, n * elem);
    if (!p)
        return -1;
    *array = p;
    *cap = n;
    return 0;
}
