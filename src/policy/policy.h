/* SPDX-License-Identifier: Apache-2.0 */
/* The import policy: allowlist (what SAFE means), denylist (how bad the rest
 * is), Python-2 name mapping, and torch's weights_only allowlist. */
#ifndef CKPT_POLICY_H
#define CKPT_POLICY_H

#include <stddef.h>

#include "ckptscan.h"

typedef struct policy policy;

/* A new policy holding the built-in "default" profile; NULL on no memory. */
policy *policy_new(void);
void policy_free(policy *p);

/* Adds a built-in profile ("default" or "ml"); returns 0, -1 if unknown,
 * -2 on no memory. */
int policy_use_profile(policy *p, const char *name);

/* Parses a policy text and adds its entries. Returns 0, -1 on a syntax error
 * (with *error_line = 1-based line, nothing applied), -2 on no memory. */
int policy_add_text(policy *p, const char *text, size_t len, size_t *error_line);

typedef struct name_class {
    int allowed;           /* 1: exactly on the allowlist (and not denied) */
    ckpt_code code;        /* CKPT_F_UNKNOWN_IMPORT when not allowed and not denied;
                              a denylist category (CKPT_F_EXEC, ...) when denied;
                              unspecified when allowed */
    const char *rule;      /* static or policy-owned text naming the matching
                              entry, e.g. "deny os.*", for messages */
    const char *user_rule; /* the most specific user deny entry matching the
                              name, NULL when none: a call-through a user
                              denies is never graded by what it reaches */
} name_class;

/* Classifies the global (module, qualname) as find_class would resolve it
 * after name mapping. qualname may be dotted (protocol 4 attribute walk).
 * Deny beats allow: a name matching the denylist is never allowed. */
void policy_classify(const policy *p, const char *module, const char *qualname, name_class *out);

/* _compat_pickle mapping applied by find_class when protocol < 3:
 * NAME_MAPPING for the pair first, else IMPORT_MAPPING for the module.
 * Sets *out_module / *out_name to static strings (or the inputs when no
 * mapping applies); returns 1 when something was mapped. */
int policy_compat_map(const char *module, const char *name, const char **out_module,
                      const char **out_name);

/* Writes one line per rule, in the order they are kept ("rule deny os.*
 * code=N depth=N"): what the policy is, for a cache key. Returns 0, or -1
 * when write fails. */
int policy_write_rules(const policy *p, int (*write)(void *, const char *, size_t), void *ctx);

/* 1 when torch's weights_only unpickler accepts `module.name` (exact). */
int policy_weights_only_global(const char *module, const char *name);

#endif
