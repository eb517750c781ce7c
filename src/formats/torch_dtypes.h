/* SPDX-License-Identifier: Apache-2.0 */
/* torch's dtypes and storage classes (torch_dtypes.c). */
#ifndef CKPT_TORCH_DTYPES_H
#define CKPT_TORCH_DTYPES_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

typedef struct torch_dtype {
    const char *storage; /* storage class (last component) */
    const char *dtype;   /* torch dtype name (torch.<dtype>) */
    uint32_t size;       /* bytes per element */
    int legacy;          /* the legacy (pre-zip) loader of torch 1.13 knows it */
} torch_dtype;

/* The dtype of a storage class global (by the last component of its
 * resolved name), or NULL. */
const torch_dtype *torch_dtype_of_storage(const value *type);
/* torch.float32 and the aliases torch also pickles (torch.float, ...), or
 * NULL; g may be NULL. */
const torch_dtype *torch_dtype_of_global(const value *g);
/* The dtype name of a storage class global ("float32" for
 * torch.FloatStorage) with its element size; NULL (size 0) when unknown. */
const char *torch_storage_dtype(const value *type, uint32_t *elsize);
/* Element size of a storage class by the last component of its name, for
 * the legacy loader: 0 when that loader does not know the class. */
uint32_t torch_legacy_elsize(const char *name, size_t n);

#endif
