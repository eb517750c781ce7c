/* SPDX-License-Identifier: Apache-2.0 */
/* The inspection's public accessors (ckptscan.h, "Inspection"). */
#include "inspect.h"

const char *ckpt_role_name(ckpt_role role)
{
    static const char *const names[] = {"pickle", "tensor-data", "code", "metadata", "other"};
    return (unsigned)role < sizeof(names) / sizeof(names[0]) ? names[role] : "other";
}

int ckpt_report_inspected(const ckpt_report *r)
{
    return r && r->insp;
}

size_t ckpt_report_member_count(const ckpt_report *r)
{
    return r && r->insp ? r->insp->nmembers : 0;
}

ckpt_status ckpt_report_member(const ckpt_report *r, size_t i, ckpt_member *out)
{
    if (!out)
        return CKPT_ERR_ARG;
    if (i >= ckpt_report_member_count(r))
        return CKPT_ERR_RANGE;
    *out = r->insp->members[i];
    return CKPT_OK;
}

void ckpt_report_torch_info(const ckpt_report *r, ckpt_torch_info *out)
{
    if (!out)
        return;
    if (r && r->insp)
        *out = r->insp->torch;
    else
        *out = (ckpt_torch_info){"", "", "", 0, 0, "", 0};
}

size_t ckpt_report_tensor_count(const ckpt_report *r)
{
    return r && r->insp ? r->insp->ntensors : 0;
}

ckpt_status ckpt_report_tensor(const ckpt_report *r, size_t i, ckpt_tensor *out)
{
    if (!out)
        return CKPT_ERR_ARG;
    if (i >= ckpt_report_tensor_count(r))
        return CKPT_ERR_RANGE;
    *out = r->insp->tensors[i].pub;
    return CKPT_OK;
}

size_t ckpt_report_dtype_count(const ckpt_report *r)
{
    return r && r->insp ? r->insp->ndtypes : 0;
}

ckpt_status ckpt_report_dtype_total(const ckpt_report *r, size_t i, ckpt_dtype_total *out)
{
    if (!out)
        return CKPT_ERR_ARG;
    if (i >= ckpt_report_dtype_count(r))
        return CKPT_ERR_RANGE;
    *out = r->insp->dtypes[i];
    return CKPT_OK;
}

size_t ckpt_report_entry_count(const ckpt_report *r)
{
    return r && r->insp ? r->insp->nentries : 0;
}

ckpt_status ckpt_report_entry(const ckpt_report *r, size_t i, ckpt_entry *out)
{
    if (!out)
        return CKPT_ERR_ARG;
    if (i >= ckpt_report_entry_count(r))
        return CKPT_ERR_RANGE;
    *out = r->insp->entries[i];
    return CKPT_OK;
}

const char *ckpt_report_import_usage(const ckpt_report *r, size_t i)
{
    if (!r || !r->insp || i >= r->insp->import_usage_cap || !r->insp->import_usage[i])
        return "";
    return r->insp->import_usage[i];
}
