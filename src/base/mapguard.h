/* SPDX-License-Identifier: Apache-2.0 */
/* Survives a mapped input that shrinks while it is scanned (see mapguard.c). */
#ifndef CKPT_MAPGUARD_H
#define CKPT_MAPGUARD_H

#include <stddef.h>

/* Registers [base, base + len) of a read-only file mapping: a SIGBUS on it
 * (a page past the file's new end) maps zeros over the rest of it and marks
 * the slot. Returns the slot, or -1 when none is free or no handler could
 * be installed (the scan then runs unguarded, as before). */
int mapguard_enter(const void *base, size_t len);
/* Unregisters the slot; returns 1 when the mapping faulted while it was
 * registered (the scan read zeros in place of the file). */
int mapguard_leave(int slot);

#endif
