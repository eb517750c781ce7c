/* SPDX-License-Identifier: Apache-2.0 */
/* The report under construction: findings, imports and pickles of one file. */
#ifndef CKPT_REPORT_H
#define CKPT_REPORT_H

#include "arena.h"
#include "ckptscan.h"

/* Bytes with a length (names may hold NUL bytes). */
typedef struct bstr {
    const char *p;
    size_t n;
} bstr;

typedef struct import_rec {
    ckpt_import pub;  /* strings owned by the report's arena */
    uint64_t hash;    /* of the full module, name and resolved name */
    int weights_only; /* on torch's weights_only allowlist */
    int noted;        /* a call-through's deferred finding was given */
    int user_denied;  /* a user deny matches it: never graded by what it reaches */
} import_rec;

struct ckpt_report {
    arena mem; /* every string the report hands out */
    const char *path;
    ckpt_format format;
    ckpt_status status;
    uint64_t size;
    int strict;

    ckpt_finding *findings;
    size_t nfindings, findings_cap;
    uint64_t max_findings;
    uint64_t dropped_findings; /* past max_findings: counted, still graded */
    ckpt_severity worst;
    int has_findings;

    import_rec *imports;
    size_t nimports, imports_cap;
    size_t *import_slots; /* open-addressing index into imports, size slots_cap */
    size_t slots_cap;

    ckpt_pickle *pickles;
    size_t npickles, pickles_cap;

    struct insp *insp;                    /* inspection (inventory.h), or NULL for a plain scan */
    void (*insp_free)(struct insp *insp); /* its destructor, set with it */
};

/* What a caller fills to add a finding; NULL strings mean "". */
typedef struct finding_in {
    ckpt_code code;
    int severity; /* -1: the code's default (strict mode may raise it) */
    const char *member;
    uint64_t offset;
    const char *opcode;
    const char *global;
    const char *call;
    const char *message;
} finding_in;

ckpt_report *report_new(const char *path, uint64_t max_findings, int strict);
void report_add(ckpt_report *r, const finding_in *f);
/* Index of the import (module, name as written; resolved after mapping),
 * or SIZE_MAX when it has not been seen. */
size_t report_find_import(const ckpt_report *r, bstr module, bstr name, bstr resolved);
/* Records a new import with the policy's verdict; returns its index or
 * SIZE_MAX on no memory. */
size_t report_add_import(ckpt_report *r, bstr module, bstr name, bstr resolved, ckpt_code cls,
                         int allowed, int weights_only, const char *member, uint64_t offset);
void report_note_call(ckpt_report *r, size_t import_index);
/* Further imports and calls of a recorded import (the fast path's). */
void report_add_import_uses(ckpt_report *r, size_t import_index, uint64_t count, uint64_t calls);
uint64_t report_import_calls(const ckpt_report *r, size_t import_index);
void report_add_pickle(ckpt_report *r, const ckpt_pickle *p);
/* Adds everything src recorded (findings, imports, pickles) to dst. */
void report_merge(ckpt_report *dst, const ckpt_report *src);
/* Adds what a second reading of the same bytes found and dst does not
 * hold yet: findings not already in dst, imports not in dst (counts and
 * calls of the others become the larger of the two); no pickle records. */
void report_merge_reading(ckpt_report *dst, const ckpt_report *src);
/* The same, leaving out src's parse errors when drop_errors is 1, and all
 * its structural findings (parse errors and anomalies that name no import
 * or call and are not dangerous) when it is 2: a reading that went astray where another reading of
 * the same bytes went on (joblib's array bytes are no opcodes to pickle.load); report_merge also
 * leaves out src's pickle records unless with_pickles. */
void report_merge_filtered(ckpt_report *dst, const ckpt_report *src, int drop_errors,
                           int with_pickles);
void report_merge_reading_filtered(ckpt_report *dst, const ckpt_report *src, int drop_errors);
/* 1 when a walk did something a loader would act on: a pickle reached
 * STOP or got at least two opcodes in, something was imported, or a
 * finding other than a parse error was made. */
int report_did_anything(const ckpt_report *r);
/* 1 when every finding from index `from` on is a parse error (truncated,
 * bad-opcode, stack-error, memo-error, malformed) or info. */
int report_only_parse_errors(const ckpt_report *r, size_t from);
/* The same for the findings [from, to). */
int report_only_parse_errors_range(const ckpt_report *r, size_t from, size_t to);
/* Forgets the findings and pickle records added after the first nfindings
 * and npickles (a reading that turned out not to hold); the grade is
 * recomputed from those left. */
void report_truncate(ckpt_report *r, size_t nfindings, size_t npickles);
/* Copies a string into the report (cut at 4096 bytes); never NULL. */
const char *report_strdup(ckpt_report *r, const char *s);

#endif
