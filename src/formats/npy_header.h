/* SPDX-License-Identifier: Apache-2.0 */
/* What a .npy header says about its array, for ckpt_convert (numpy.c reads
 * the header with the same parser the scan uses). */
#ifndef CKPT_NPY_HEADER_H
#define CKPT_NPY_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 64 /* numpy's NPY_MAXDIMS (32 before 2.0) */

typedef struct npy_info {
    char descr[16]; /* a plain type string ("<f4", "|b1"); "" for anything else */
    int object;     /* the dtype holds objects (the data is a pickle) */
    int fortran;
    size_t ndim;
    int64_t shape[NPY_MAX_DIMS];
    size_t data; /* offset of the data from the start of the .npy */
} npy_info;

/* Parses the .npy header at buf[0..len) (the whole header must be there),
 * using at most `memcap` bytes. 1 when numpy accepts it, else 0. */
int npy_describe(const uint8_t *buf, size_t len, uint64_t memcap, npy_info *out);

#endif
