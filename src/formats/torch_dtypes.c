/* SPDX-License-Identifier: Apache-2.0 */
/* torch's dtypes: each storage class (torch.FloatStorage, ...) with its
 * dtype name and element size, as torch/storage.py and torch/_utils.py
 * pair them, and the dtype globals a pickle names (torch.float32 and the
 * aliases torch pickles). One table for the readers and the inventory. */
#include "torch_dtypes.h"

#include <string.h>

#include "report.h"
#include "util.h"

static const torch_dtype dtypes[] = {
    {"FloatStorage", "float32", 4, 1},
    {"DoubleStorage", "float64", 8, 1},
    {"HalfStorage", "float16", 2, 1},
    {"BFloat16Storage", "bfloat16", 2, 1},
    {"LongStorage", "int64", 8, 1},
    {"IntStorage", "int32", 4, 1},
    {"ShortStorage", "int16", 2, 1},
    {"CharStorage", "int8", 1, 1},
    {"ByteStorage", "uint8", 1, 1},
    {"BoolStorage", "bool", 1, 1},
    {"ComplexFloatStorage", "complex64", 8, 1},
    {"ComplexDoubleStorage", "complex128", 16, 1},
    {"QInt8Storage", "qint8", 1, 1},
    {"QUInt8Storage", "quint8", 1, 1},
    {"QInt32Storage", "qint32", 4, 1},
    {"QUInt4x2Storage", "quint4x2", 1, 1},
    {"QUInt2x4Storage", "quint2x4", 1, 1},
    {"Float8_e4m3fnStorage", "float8_e4m3fn", 1, 0},
    {"Float8_e5m2Storage", "float8_e5m2", 1, 0},
    {"Float8_e4m3fnuzStorage", "float8_e4m3fnuz", 1, 0},
    {"Float8_e5m2fnuzStorage", "float8_e5m2fnuz", 1, 0},
    {"UInt16Storage", "uint16", 2, 0},
    {"UInt32Storage", "uint32", 4, 0},
    {"UInt64Storage", "uint64", 8, 0},
    {"ComplexHalfStorage", "complex32", 4, 0},
};

/* Last dotted component of a global's resolved name. */
static bstr last_component(const value *g)
{
    const gref *r = &g->u.n->u.g;
    const char *dot = memrchr(r->resolved, '.', r->resolved_len);
    const char *p = dot ? dot + 1 : r->resolved;
    return (bstr){p, r->resolved_len - (size_t)(p - r->resolved)};
}

static int bstr_is(bstr b, const char *s)
{
    return b.n == strlen(s) && memcmp(b.p, s, b.n) == 0;
}

static const torch_dtype *dtype_named(bstr name)
{
    for (size_t i = 0; i < ARRAY_LEN(dtypes); i++)
        if (bstr_is(name, dtypes[i].storage))
            return &dtypes[i];
    return NULL;
}

const torch_dtype *torch_dtype_of_storage(const value *type)
{
    if (type->kind != V_GLOBAL)
        return NULL;
    return dtype_named(last_component(type));
}

uint32_t torch_legacy_elsize(const char *name, size_t n)
{
    const torch_dtype *d = dtype_named((bstr){name, n});
    return d && d->legacy ? d->size : 0;
}

const char *torch_storage_dtype(const value *type, uint32_t *elsize)
{
    const torch_dtype *d = torch_dtype_of_storage(type);
    *elsize = d ? d->size : 0;
    return d ? d->dtype : NULL;
}

/* torch.float32 and the aliases torch also pickles (torch.float, ...). */
const torch_dtype *torch_dtype_of_global(const value *g)
{
    if (!g)
        return NULL;
    static const struct {
        const char *alias, *dtype;
    } aliases[] = {{"float", "float32"},    {"double", "float64"},     {"half", "float16"},
                   {"long", "int64"},       {"int", "int32"},          {"short", "int16"},
                   {"cfloat", "complex64"}, {"cdouble", "complex128"}, {"chalf", "complex32"}};
    if (g->kind != V_GLOBAL || g->u.n->u.g.resolved_len < 6 ||
        memcmp(g->u.n->u.g.resolved, "torch.", 6) != 0)
        return NULL;
    bstr name = last_component(g);
    for (size_t i = 0; i < ARRAY_LEN(aliases); i++)
        if (bstr_is(name, aliases[i].alias))
            name = (bstr){aliases[i].dtype, strlen(aliases[i].dtype)};
    for (size_t i = 0; i < ARRAY_LEN(dtypes); i++)
        if (bstr_is(name, dtypes[i].dtype))
            return &dtypes[i];
    return NULL;
}
