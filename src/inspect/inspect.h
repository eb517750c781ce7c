/* SPDX-License-Identifier: Apache-2.0 */
/* Inspection: what a checkpoint holds, gathered during a normal scan when
 * the report asks for it (ckpt_inspect_*). The readers hand over what they
 * see into the store (inventory.h, a layer below); here the walker turns a
 * pickle's result into the tensor inventory, and insp_finish matches
 * tensors with storage records and adds the findings. */
#ifndef CKPT_INSPECT_H
#define CKPT_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "inventory.h"
#include "value.h"

/* Allocates the report's inspection, whose inventory may use up to
 * `budget` bytes, and hooks the walker and the destructor to it; 0 on no
 * memory. */
int insp_attach(ckpt_report *r, uint64_t budget);
void insp_free(struct insp *in);

/* The walker met persistent id `pid` in the tar's main pickle: a tensor
 * to be matched by key in insp_finish. Returns 0 on no memory. */
int insp_tar_pending(struct insp *in, insp_tensor *t, const value *pid);
/* Matches pending tensors with the tar records (insp_finish). */
void insp_tar_resolve(struct insp *in);

/* Matches tensors with storage records, computes totals and adds the
 * extent and size findings. */
void insp_finish(ckpt_report *r);
/* The storage record of tensor t (after insp_finish), or NULL. */
const insp_record *insp_find_record(const struct insp *in, const ckpt_tensor *t);

struct jw;
/* Writes the "inspection" key and object (inspect_json.c). */
void insp_write_json(struct jw *w, const ckpt_report *r);

/* Walks root (the result of the pickle numbered seq) into the inventory;
 * with_entries: also summarise the top level. Returns 0 when part of the
 * object was skipped. */
int insp_walk(struct insp *in, const char *member, unsigned pickle_seq, const value *root,
              int with_entries);

#endif
