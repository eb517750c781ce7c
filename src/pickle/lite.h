/* SPDX-License-Identifier: Apache-2.0 */
/* The fast path's walk state, shared by pickle_lite.c (data opcodes and
 * the loop) and lite_objects.c (imports, calls, persistent ids). */
#ifndef CKPT_LITE_H
#define CKPT_LITE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "pickle_lite.h"
#include "scan.h"
#include "value.h"

/* A stack or memo cell: the value's kind in the low byte, a tag above it.
 * GLOBAL and CALL cells tag the import (index into the table); str and
 * bytes cells tag the text "storage", tuple cells a tuple starting with it
 * (a torch storage persistent id). Plain containers are never tagged. */
typedef uint32_t cell;
#define CELL(kind, tag) ((cell)(kind) | ((cell)(tag) << 8))
#define CELL_KIND(c)    ((vkind)((c)&0xffu))
#define CELL_TAG(c)     ((c) >> 8)
#define TAG_STORAGE     1u

/* Distinct imports one pickle may have on the fast path (the full
 * interpreter takes the rest). */
#define LITE_MAX_IMPORTS  256
#define LITE_IMPORT_SLOTS 512

enum { GIVE_UP = 0, GO_ON = 1, DONE = 2 };

typedef struct lite {
    const uint8_t *buf;
    size_t len, pos, start;
    cell *stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap, fence;
    uint8_t *memo;   /* kinds, V_EMPTY when free */
    cell *memo_tags; /* their tags, NULL until one is tagged */
    size_t tags_cap; /* memo_tags entries allocated */
    size_t memo_cap;
    uint64_t memo_count, nops, memory;
    int in_frame, max_proto, weights_only_ok;
    const char *weights_only_reason;
    size_t frame_end;
    size_t limit; /* reads stop here: the frame's end in a frame, else len */
    uint8_t op;
    size_t op_off;
    size_t first_persid; /* offset of the first BINPERSID, SIZE_MAX for none */
    arena scratch;       /* decoded STRING/UNICODE text, released as it fills */
    const scan_ctx *ctx;
    const struct pickle_hooks *hooks;
    int find_names;    /* search for joblib's names as the walk goes */
    int names_found;   /* found in buf[start..names_from + overlap) */
    size_t names_from; /* searched up to here (less a name's length) */
    uint64_t lim_stack, lim_memo, lim_string, lim_items; /* cached limits */

    lite_import *imports;
    size_t nimports, imports_cap;
    uint16_t import_slots[LITE_IMPORT_SLOTS]; /* index + 1, 0 when free */
    arena names;
} lite;

int lite_grow(lite *l, void **p, size_t *cap, size_t need, size_t elem);
int lite_push(lite *l, cell c);
const char *lite_line(lite *l, size_t *n);
void lite_weights_only_fail(lite *l, const char *reason);

/* The object opcodes (GLOBAL, REDUCE, NEWOBJ, NEWOBJ_EX, BUILD, BINPERSID);
 * GIVE_UP for any other and whenever the full interpreter would report. */
int lite_object_op(lite *l);
/* APPEND(S) / SETITEM(S) / ADDITEMS on an object made by an allowed call. */
int lite_mutate_call(lite *l, cell target, int is_setitem);

#endif
