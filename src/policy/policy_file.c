/* SPDX-License-Identifier: Apache-2.0 */
/* Policy text parser: `allow`, `deny` and `profile` lines into a list. */
#include "policy_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy_tables.h"

#define MAX_TOKENS 4 /* one more than any line may have, to detect extras */

typedef struct token {
    const char *s;
    size_t n;
} token;

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Length of the UTF-8 sequence at s (n bytes left), 0 when invalid:
 * overlong forms, surrogates and code points past U+10FFFF are refused. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (s[0] < 0xC2 || s[0] > 0xF4 || n < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))
        return 0;
    if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* A policy is text: valid UTF-8 without control bytes (tab and CR aside),
 * checked on the whole line so a NUL cannot hide in a comment either. */
static int line_bytes_ok(const char *line, size_t n)
{
    const unsigned char *s = (const unsigned char *)line;
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x80) {
            if ((s[i] < 0x20 && !is_space(s[i])) || s[i] == 0x7F)
                return 0;
            i++;
            continue;
        }
        size_t k = utf8_seq(s + i, n - i);
        if (!k)
            return 0;
        i += k;
    }
    return 1;
}

/* A `#` starts a comment at the line start or after white space; elsewhere
 * it is part of a (then invalid) name, never a silent truncation. */
static size_t strip_comment(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '#' && (i == 0 || is_space((unsigned char)s[i - 1])))
            return i;
    return n;
}

/* Splits on white space; returns the token count, at most MAX_TOKENS. */
static size_t tokenize(const char *s, size_t n, token *tok)
{
    size_t count = 0, i = 0;
    while (i < n && count < MAX_TOKENS) {
        while (i < n && is_space((unsigned char)s[i]))
            i++;
        size_t start = i;
        while (i < n && !is_space((unsigned char)s[i]))
            i++;
        if (i > start)
            tok[count++] = (token){s + start, i - start};
    }
    return count;
}

/* Dotted components, each non-empty and without '*' or '#' (neither can be
 * part of a Python name); `min_parts` is 2 for exact module.qualname. */
static int components_ok(const char *s, size_t n, size_t min_parts)
{
    size_t parts = 1, len = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '*' || s[i] == '#')
            return 0;
        if (s[i] != '.') {
            len++;
            continue;
        }
        if (len == 0)
            return 0;
        parts++;
        len = 0;
    }
    return len > 0 && parts >= min_parts;
}

/* "module.qualname" or "module.prefix.*" (one component before ".*" is
 * enough: "os.*"). */
static int name_ok(const token *t)
{
    if (t->n == 0 || t->n > POLICY_NAME_MAX)
        return 0;
    if (t->n > 2 && memcmp(t->s + t->n - 2, ".*", 2) == 0)
        return components_ok(t->s, t->n - 2, 1);
    return components_ok(t->s, t->n, 2);
}

static int is_word(const token *t, const char *w)
{
    return t->n == strlen(w) && memcmp(t->s, w, t->n) == 0;
}

static int parse_rule(const token *tok, size_t count, policy_line *out)
{
    int deny = is_word(&tok[0], "deny");
    if (count < 2 || count > (deny ? 3u : 2u) || !name_ok(&tok[1]))
        return -1;
    out->kind = deny ? PL_DENY : PL_ALLOW;
    out->name = tok[1].s;
    out->len = tok[1].n;
    out->code = POLICY_DEFAULT_DENY_CODE;
    if (count == 3) {
        int code = policy_table_category(tok[2].s, tok[2].n);
        if (code < 0)
            return -1;
        out->code = (ckpt_code)code;
    }
    return 0;
}

/* Returns 1 with *out filled, 0 for a blank or comment line, -1 on error. */
static int parse_line(const char *s, size_t n, policy_line *out)
{
    token tok[MAX_TOKENS];
    if (!line_bytes_ok(s, n))
        return -1;
    size_t count = tokenize(s, strip_comment(s, n), tok);
    if (count == 0)
        return 0;
    memset(out, 0, sizeof(*out));
    if (is_word(&tok[0], "allow") || is_word(&tok[0], "deny"))
        return parse_rule(tok, count, out) == 0 ? 1 : -1;
    if (!is_word(&tok[0], "profile") || count != 2)
        return -1;
    out->kind = PL_PROFILE;
    out->profile = policy_table_profile_index(tok[1].s, tok[1].n);
    return out->profile < 0 ? -1 : 1;
}

static int push(policy_lines *l, const policy_line *line)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof(*l->v))
            return -2;
        policy_line *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -2;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *line;
    return 0;
}

int policy_parse_text(const char *text, size_t len, policy_lines *out, size_t *error_line)
{
    size_t pos = 0, line_no = 0;
    /* A byte-order mark is what some editors put first; it is not a name. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        policy_line line;
        line_no++;
        int rc = parse_line(text + pos, end - pos, &line);
        if (rc < 0) {
            if (error_line)
                *error_line = line_no;
            return -1;
        }
        if (rc == 1 && push(out, &line) != 0)
            return -2;
        pos = end + 1;
    }
    return 0;
}

void policy_lines_free(policy_lines *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}
