/* SPDX-License-Identifier: Apache-2.0 */
/* Big arrays (millions of entries, values or memo slots) backed by huge
 * pages where the system allows it: touching a 2 MiB page costs one fault
 * instead of 512, which on a 60,000-member checkpoint is most of the time
 * spent in the kernel. Below 2 MiB these are plain malloc / calloc. */
#ifndef CKPT_BIGMEM_H
#define CKPT_BIGMEM_H

#include <stddef.h>

/* Zeroed memory for n * size bytes (NULL on overflow or no memory); free
 * it with free(). */
void *big_calloc(size_t n, size_t size);
/* Uninitialised memory of `bytes` (NULL when none). */
void *big_malloc(size_t bytes);
/* Grows p (old_bytes used) to new_bytes, keeping its content; on failure
 * returns NULL and p is untouched. The new tail is uninitialised. */
void *big_realloc(void *p, size_t old_bytes, size_t new_bytes);
/* Grows a zero-filled array from old_bytes to new_bytes; the new tail reads
 * as zeros. From 1 MiB it is an anonymous mapping whose pages cost memory
 * only once written (a memo index of 40 million touches one page, not
 * 640 MB). Free it with big_zfree(p, its size). NULL: p is untouched. */
void *big_zrealloc(void *p, size_t old_bytes, size_t new_bytes);
void big_zfree(void *p, size_t bytes);

#endif
