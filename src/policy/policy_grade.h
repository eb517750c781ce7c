/* SPDX-License-Identifier: Apache-2.0 */
/* Names whose calls are judged with their arguments: call-throughs graded
 * by what they reach, and allowlisted callables with argument checks. */
#ifndef CKPT_POLICY_GRADE_H
#define CKPT_POLICY_GRADE_H

#include <stddef.h>

typedef enum grade_kind {
    GK_NONE = 0,
    /* call-throughs: denied names whose finding waits for their uses */
    GK_GETATTR,       /* builtins.getattr(C, 'NAME') */
    GK_PARTIAL,       /* functools.partial(f, ...) */
    GK_RECONSTRUCTOR, /* copyreg._reconstructor(cls, base, state) */
    GK_CREATE_ARRAY,  /* dill._dill._create_array(f, args, state, npdict) */
    GK_GETITEM,       /* operator.getitem(typing.X, args) */
    GK_LOAD_BYTES,    /* torch.storage._load_from_bytes(b'checkpoint') */
    GK_TRAMP_LAST = GK_LOAD_BYTES,
    /* allowlisted names whose arguments are checked */
    GK_RANDOM_CTOR, /* numpy.random._pickle.__randomstate_ctor, __generator_ctor */
    GK_BITGEN_CTOR, /* numpy.random._pickle.__bit_generator_ctor */
    GK_TENSOR_CTOR, /* torch tensor and storage classes: raw pointers as ints */
    GK_FROM_TYPE,   /* torch._tensor._rebuild_from_type_v2: calls func(*args) */
    GK_DILL_TYPE,   /* dill._dill._load_type(name): CodeType, FunctionType, ... */
    /* profile entries, by how real files call them (policy_table_call_shape) */
    GK_NEWOBJ_ONLY, /* classes rebuilt by NEWOBJ only: any other call runs __init__ */
    GK_DATA_ARGS,   /* called by REDUCE with data: no callable may be passed */
    GK_CLASS_FIRST, /* f(cls, data...): newObj, _new_Index, __pyx_unpickle_* */
    GK_PATH_PARTS,  /* pathlib classes: (str, ...) */
} grade_kind;

/* The grading of module.qualname (after _compat_pickle mapping). */
grade_kind policy_grade_kind(const char *resolved);

static inline int grade_is_call_through(grade_kind k)
{
    return k != GK_NONE && k <= GK_TRAMP_LAST;
}

/* 1 when `resolved` names one of numpy's bit generator classes. */
int policy_bit_generator_class(const char *resolved);
/* 1 when dill's _load_type(name) returns a plain data type for `name`. */
int policy_dill_data_type(const char *name, size_t len);
/* 1 when `name` is a bit generator name numpy's ctors accept. */
int policy_bit_generator_name(const char *name, size_t len);

#endif
