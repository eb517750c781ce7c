/* SPDX-License-Identifier: Apache-2.0 */
/* Text arguments decoded exactly as CPython's _pickle.c decodes them:
 * INT/LONG (base 0), GET/PUT indices (base 10), FLOAT, STRING escapes,
 * raw-unicode-escape and UTF-8 validity. */
#ifndef CKPT_PYTEXT_H
#define CKPT_PYTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "value.h"

/* Each returns NULL on success or a static message saying why CPython
 * rejects the argument. `line` excludes the trailing '\n'. */

/* INT ('I'): strtol base 0 with int() fallback and the 2-character bool rule. */
const char *py_parse_int_line(const char *line, size_t len, value *out);
/* LONG ('L'): optional trailing 'L' stripped, then int(s, 0). */
const char *py_parse_long_line(const char *line, size_t len, value *out);
/* GET/PUT: int(s, 10), non-negative; *out is saturated at UINT64_MAX. */
const char *py_parse_index_line(const char *line, size_t len, uint64_t *out);
/* FLOAT ('F'). */
const char *py_parse_float_line(const char *line, size_t len, double *out);
/* FLOAT as Lib/pickle.py reads it (joblib): Python's float() on the bytes,
 * which also takes underscores between digits, whitespace around the
 * number, and an overflow as inf. */
const char *py_parse_float_builtin(const char *line, size_t len, double *out);

/* STRING ('S'): quotes stripped, Python-2 escapes decoded into arena memory;
 * at most `keep` bytes are kept (VF_TRUNCATED set when cut). */
const char *py_decode_string_line(arena *a, const char *line, size_t len, uint64_t keep,
                                  value *out);
/* UNICODE ('V'): raw-unicode-escape, kept as UTF-8 (surrogates encoded as
 * 3-byte sequences); at most `keep` bytes kept. */
const char *py_decode_raw_unicode_line(arena *a, const char *line, size_t len, uint64_t keep,
                                       value *out);

/* 1 when s[0..len) is valid UTF-8; surrogates (ED A0..BF xx) are accepted
 * only when allow_surrogates (CPython's "surrogatepass"). */
int py_utf8_valid(const uint8_t *s, size_t len, int allow_surrogates);
/* 1 when every byte is < 0x80. */
int py_ascii_valid(const uint8_t *s, size_t len);

/* Little-endian two's-complement integer of n bytes (LONG1/LONG4). */
void py_long_from_bytes(const uint8_t *p, size_t n, value *out);

#endif
