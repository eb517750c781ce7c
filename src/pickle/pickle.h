/* SPDX-License-Identifier: Apache-2.0 */
/* Walking pickle streams: one pickle, or every pickle to the end of a buffer. */
#ifndef CKPT_PICKLE_H
#define CKPT_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "pickle_lite.h"
#include "scan.h"

typedef struct pickle_result {
    size_t end;   /* offset after STOP, or where parsing stopped */
    int complete; /* reached STOP without an error */
    int started;  /* at least one opcode was valid */
    /* Where a reader without peek() goes on: _pickle.c reads a frame whole
     * with read(n) when peek() cannot serve it (unbuffered files, frames
     * beyond a buffered file's buffer), so bytes left in the frame STOP was
     * read in are consumed. Equals end when STOP ends its frame. */
    size_t frame_end;
    int limited; /* a limit stopped it (pickle_scan_one*) */
} pickle_result;

struct value;

/* Optional reader hooks. after_build (joblib) is called after every BUILD
 * whose target is an object (obj: the stack slot; state: that BUILD's
 * state); it may consume raw bytes that sit in the middle of the stream. It
 * returns how many bytes at buf[pos] to skip (0 for none), or SIZE_MAX when
 * the stream cannot go on (it added a finding). */
typedef struct pickle_hooks {
    size_t (*after_build)(void *hctx, scan_ctx *ctx, const char *member, const struct value *obj,
                          const struct value *state, const uint8_t *buf, size_t len, size_t pos);
    /* Every persistent id (PERSID/BINPERSID), e.g. torch storage tuples. */
    void (*on_persid)(void *hctx, const struct value *pid);
    /* The value STOP returns. */
    void (*on_stop)(void *hctx, const struct value *result);
    void *hctx;
    /* Whether after_build may act on an object made by calling `callee`
     * (a resolved name); NULL: on any. Lets the fast path walk BUILDs the
     * hook ignores. */
    int (*build_wanted)(const char *callee);
    /* The reader is Lib/pickle.py's unpickler (joblib), not _pickle.c. */
    int python;
} pickle_hooks;
/* Values passed to hooks live only during the call: copy what you keep. */

/* Walks one pickle of buf[0..len) starting at `start`, adding findings and a
 * pickle record to the report. Never reads outside the buffer. */
void pickle_scan_one(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                     size_t start, pickle_result *out);
/* The same with reader hooks (may be NULL). */
void pickle_scan_one_hooked(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                            size_t start, const pickle_hooks *hooks, pickle_result *out);

/* 1 when buf[0..len) is exactly one complete pickle (STOP at the last
 * byte, no error); 2 when a limit stopped the probe (it may be one: the
 * caller must say so); 0 otherwise. Adds nothing to the report. */
int pickle_probe(scan_ctx *ctx, const uint8_t *buf, size_t len);
/* 1 when a complete pickle starts at buf[0] (bytes may follow its STOP). */
int pickle_probe_prefix(scan_ctx *ctx, const uint8_t *buf, size_t len);

/* The first opcode of the pickle at buf[start] that an unpickler reaches
 * code through (an import: GLOBAL, STACK_GLOBAL, INST, EXT*; or a
 * persistent id: PERSID, BINPERSID), read by encoding alone and starting
 * before `end`: its opcode byte (offset in *at), or 0 when there is none
 * before STOP, `end` or an undecodable opcode. */
int pickle_first_effect(const uint8_t *buf, size_t len, size_t start, size_t end, size_t *at);

/* When the pickle that gave *res stops inside its frame: a finding, and
 * every pickle from the frame's end (where a reader without peek() goes
 * on), as pickle_scan_all_hooked walks them. */
void pickle_scan_frame_chain(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                             const pickle_result *res, int flag_extra, const pickle_hooks *hooks);

/* Walks the pickle at `start`, then every pickle after it to the end of the
 * buffer: a further pickle is an `extra-pickle` finding (when
 * flag_extra), bytes that are not one are `trailing-data`. Returns the
 * number of pickles that reached STOP. */
size_t pickle_scan_all(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                       size_t start, int flag_extra);
size_t pickle_scan_all_hooked(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                              size_t start, int flag_extra, const pickle_hooks *hooks);

/* The fast path alone over the pickle at `start`, recording nothing: 1
 * (with *lr, to release with lite_result_release) when it is a pickle the
 * fast path walked clean; 0 when the full interpreter must walk it
 * (listing, hooks that need values, or the fast path gave up). Lets a
 * caller learn where the first pickle ends. */
int pickle_walk_ahead(const scan_ctx *ctx, const uint8_t *buf, size_t len, size_t start,
                      const pickle_hooks *hooks, lite_result *lr);
/* pickle_scan_all_hooked for a stream whose pickle at `start` was walked
 * by pickle_walk_ahead (*first): records it, then walks what follows. */
size_t pickle_scan_all_ahead(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                             size_t start, int flag_extra, const pickle_hooks *hooks,
                             const lite_result *first);

/* vm_nested.c: 1 when a constant's first bytes are those of a torch
 * checkpoint (zip or legacy); `text`: UTF-8 whose latin-1 encoding they
 * are. The full interpreter scans such constants; the fast path gives up. */
int pickle_constant_checkpoint(const uint8_t *p, size_t n, int text);

#endif
