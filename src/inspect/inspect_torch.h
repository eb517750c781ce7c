/* SPDX-License-Identifier: Apache-2.0 */
/* What torch's rebuild helpers and storages mean, for the inventory. */
#ifndef CKPT_INSPECT_TORCH_H
#define CKPT_INSPECT_TORCH_H

#include "inspect.h"
#include "torch_dtypes.h"
#include "value.h"

/* Callee tests on a V_GLOBAL value (0 for anything else). */
int torch_is_tensor_rebuild(const value *callee);
int torch_is_parameter_rebuild(const value *callee);
int torch_is_from_type(const value *callee);
int torch_is_dict_type(const value *callee);
/* new_type of _rebuild_from_type_v2 is torch.nn.Parameter (NULL: 0). */
int torch_is_parameter_type(const value *type);

/* The key/value pairs of a dict or of an OrderedDict-like call, or NULL. */
const seq *torch_dict_items(const value *v);

/* Fills t from a tensor rebuild call: dtype, shape, stride, storage, and
 * the extent check (t->pub.problem). Strings go to the report's arena. */
void torch_read_rebuild(ckpt_report *rep, const value *callee, const value *args, insp_tensor *t);

/* numel, nbytes and the extent check of a tensor whose dtype, shape,
 * strides and storage are set. */
void torch_finish_tensor(ckpt_report *rep, insp_tensor *t);

/* Kind and summary of a top-level value; `first` is the first tensor found
 * under it (NULL if none). */
void torch_describe_entry(struct insp *in, ckpt_entry *e, const value *v, const insp_tensor *first);

/* "little"/"big" from the legacy format's sys_info dict, or NULL. */
const char *torch_sys_info_byteorder(const value *root);

#endif
