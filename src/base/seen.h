/* SPDX-License-Identifier: Apache-2.0 */
/* The readings of a file already scanned, by byte range (see seen.c). */
#ifndef CKPT_SEEN_H
#define CKPT_SEEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct seen_set seen_set;

seen_set *seen_new(void);
void seen_free(seen_set *s);
/* Records (offset, len, kind); returns 1 the first time, 0 when it was
 * already recorded, -1 when out of memory (nothing recorded). */
int seen_add(seen_set *s, uint64_t offset, uint64_t len, unsigned kind);

#endif
