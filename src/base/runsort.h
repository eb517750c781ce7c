/* SPDX-License-Identifier: Apache-2.0 */
/* A stable merge sort that merges the ascending runs already in its input:
 * k sorted runs cost O(n log k), so lists gathered view by view in
 * directory order sort in linear time where qsort takes O(n log n). */
#ifndef CKPT_RUNSORT_H
#define CKPT_RUNSORT_H

#include <stddef.h>

/* qsort's contract (base, n elements of `size` bytes, cmp on pointers to
 * elements). Falls back to qsort when out of memory, which gives the same
 * order when cmp never returns 0 for distinct elements. */
void runsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

#endif
