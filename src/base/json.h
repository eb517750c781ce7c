/* SPDX-License-Identifier: Apache-2.0 */
/* A small buffered JSON writer over a ckpt_write_fn sink; output is pure
 * ASCII whatever the input bytes (invalid UTF-8 becomes \udcXX escapes, as
 * Python's surrogateescape). */
#ifndef CKPT_JSON_H
#define CKPT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "ckptscan.h"

typedef struct jw {
    ckpt_write_fn fn;
    void *ctx;
    int failed;
    int need_comma;
    size_t n;
    char buf[4096];
} jw;

void jw_init(jw *w, ckpt_write_fn fn, void *ctx);
/* Flushes; returns CKPT_OK or CKPT_ERR_IO if the sink refused. */
ckpt_status jw_finish(jw *w);
void jw_raw(jw *w, const char *s, size_t n);
void jw_begin(jw *w, char bracket); /* '{' or '[' */
void jw_end(jw *w, char bracket);   /* '}' or ']' */
void jw_key(jw *w, const char *key);
void jw_str(jw *w, const char *s);
void jw_strn(jw *w, const char *s, size_t n);
void jw_u64(jw *w, uint64_t x);
void jw_int(jw *w, long long x);
void jw_bool(jw *w, int b);
void jw_null(jw *w);
/* key + value shorthands */
void jw_kstr(jw *w, const char *key, const char *s);
void jw_ku64(jw *w, const char *key, uint64_t x);
void jw_kbool(jw *w, const char *key, int b);

#endif
