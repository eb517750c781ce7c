/* SPDX-License-Identifier: Apache-2.0 */
/* Built-in policy data: allowlists per profile, the denylist, module aliases. */
#ifndef CKPT_POLICY_TABLES_H
#define CKPT_POLICY_TABLES_H

#include <stddef.h>

#include "ckptscan.h"

/* Longest name a policy entry may hold, ".*" included; a path longer than
 * this can only ever match by prefix. */
#define POLICY_NAME_MAX 512

/* Room for a built-in pattern and its NUL, with a byte to spare (a test
 * checks every entry has it, so none is cut). */
#define POLICY_ENTRY_MAX 104

/* One built-in entry. `pattern` is "module.qualname" (exact) or
 * "module.prefix.*" (the prefix and everything under it); held in place, not
 * pointed to, so the tables hold no pointer a process relocates at start. */
typedef struct policy_entry {
    char pattern[POLICY_ENTRY_MAX];
    ckpt_code code;      /* deny category; unused for allow entries */
    unsigned char depth; /* prefix allows: at most this many components
                            below the prefix (0 = any number) */
} policy_entry;

/* 1 when module.qualname is a built-in identity helper that only a user
 * deny may deny (torch.jit._pickle.build_intlist, ...). */
int policy_table_exempt(const char *module, const char *qualname);

/* The denylist, always active. */
const policy_entry *policy_table_deny(size_t *count);

/* Index of a built-in profile ("default" = 0, "ml" = 1), or -1. The name is
 * (s, len), not NUL-terminated. */
int policy_table_profile_index(const char *s, size_t len);
size_t policy_table_profile_count(void);
/* Allow entries of profile `index` (valid index only). */
const policy_entry *policy_table_profile(int index, size_t *count);

/* How real saved objects call a generated profile entry (tools/
 * gen_profiles.py): 'n' only rebuilt by NEWOBJ, 'c' called with data; 0 for
 * a name no generated profile holds. */
typedef struct policy_call_shape {
    char name[POLICY_ENTRY_MAX]; /* in place, as policy_entry's pattern */
    char shape;
} policy_call_shape;
char policy_table_call_shape(const char *resolved);

/* Canonical module for an aliased top-level module ("posix" -> "os"), or
 * NULL. The root is (s, len), not NUL-terminated. */
const char *policy_table_alias(const char *s, size_t len);

/* Deny category for a stable code name ("file-access"), (s, len); -1 when the
 * name is not one of the ten denylist categories. */
int policy_table_category(const char *s, size_t len);

#endif
