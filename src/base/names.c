/* SPDX-License-Identifier: Apache-2.0 */
/* Names and descriptions of statuses, codes, limits and formats, from the
 * X-macro lists in the public header. */
#include "ckptscan.h"

#include <string.h>

#include "util.h"

static const char *const status_text[] = {
#define X(id, text) text,
    CKPT_STATUS_LIST(X)
#undef X
};

static const struct {
    const char *name;
    ckpt_severity severity;
    const char *text;
} codes[] = {
#define X(id, name, sev, text) {name, sev, text},
    CKPT_FINDING_LIST(X)
#undef X
};

static const struct {
    const char *name;
    uint64_t value;
    const char *reason;
} limits[] = {
#define X(id, name, def, why) {name, def, why},
    CKPT_LIMIT_LIST(X)
#undef X
};

static const char *const format_names[] = {
#define X(id, name) name,
    CKPT_FORMAT_LIST(X)
#undef X
};

const char *ckpt_version(void)
{
    return CKPT_VERSION_STRING;
}

const char *ckpt_strerror(ckpt_status status)
{
    if ((unsigned)status >= ARRAY_LEN(status_text))
        return "unknown status";
    return status_text[status];
}

const char *ckpt_verdict_name(ckpt_verdict verdict)
{
    static const char *const names[] = {"safe", "suspicious", "dangerous", "error"};
    return (unsigned)verdict < ARRAY_LEN(names) ? names[verdict] : "error";
}

const char *ckpt_severity_name(ckpt_severity severity)
{
    static const char *const names[] = {"info", "suspicious", "dangerous"};
    return (unsigned)severity < ARRAY_LEN(names) ? names[severity] : "dangerous";
}

const char *ckpt_code_name(ckpt_code code)
{
    return (unsigned)code < ARRAY_LEN(codes) ? codes[code].name : NULL;
}

ckpt_severity ckpt_code_severity(ckpt_code code)
{
    return (unsigned)code < ARRAY_LEN(codes) ? codes[code].severity : CKPT_SEV_INFO;
}

const char *ckpt_code_description(ckpt_code code)
{
    return (unsigned)code < ARRAY_LEN(codes) ? codes[code].text : NULL;
}

int ckpt_code_from_name(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(codes); i++)
        if (strcmp(codes[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *ckpt_limit_name(ckpt_limit limit)
{
    return (unsigned)limit < ARRAY_LEN(limits) ? limits[limit].name : NULL;
}

uint64_t ckpt_limit_default(ckpt_limit limit)
{
    return (unsigned)limit < ARRAY_LEN(limits) ? limits[limit].value : 0;
}

const char *ckpt_limit_reason(ckpt_limit limit)
{
    return (unsigned)limit < ARRAY_LEN(limits) ? limits[limit].reason : NULL;
}

int ckpt_limit_from_name(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_LEN(limits); i++)
        if (strcmp(limits[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *ckpt_format_name(ckpt_format format)
{
    return (unsigned)format < ARRAY_LEN(format_names) ? format_names[format] : NULL;
}
