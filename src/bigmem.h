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

#endif
