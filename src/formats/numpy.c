/* SPDX-License-Identifier: Apache-2.0 */
/* numpy .npy files: magic, version, header length, then a header that is a
 * Python dict literal (descr, fortran_order, shape). If the dtype holds an
 * object anywhere, np.load(allow_pickle=True) unpickles the data.
 *
 * The header parser is a small, bounded subset of ast.literal_eval. It errs
 * towards accepting and towards "has an object": a header it cannot read is
 * a `malformed` finding, and the data is still scanned when it starts with
 * a complete pickle, so a literal form it does not know can never hide a
 * pickle numpy would run. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "formats.h"
#include "npy_header.h"
#include "opcodes.h"
#include "pytext.h"
#include "util.h"

#define MAX_NESTING 100        /* CPython's parser stops at 200 nested brackets */
#define MAX_STRING  (1u << 20) /* a dtype string is short; longer ones are refused */

typedef enum lkind {
    L_STR,
    L_BYTES,
    L_INT,
    L_NUM,
    L_BOOL,
    L_NONE,
    L_TUPLE,
    L_LIST,
    L_DICT,
    L_SET
} lkind;

/* One literal. Dicts keep key, value, key, value... */
typedef struct lit {
    uint8_t kind;
    uint8_t uncertain; /* a \N{...} escape: the character is unknown */
    uint32_t n;        /* string bytes or item count */
    int64_t i;         /* ints and bools; VF-free: `big` marks overflow */
    uint8_t big;
    const char *s;
    struct lit **items;
} lit;

typedef struct parser {
    const char *p, *end;
    arena *mem;
    int depth;
    const char *err; /* first error, static text */
} parser;

static lit *value_of(parser *ps);

static void *fail(parser *ps, const char *why)
{
    if (!ps->err)
        ps->err = why;
    return NULL;
}

static lit *new_lit(parser *ps, lkind kind)
{
    lit *l = arena_zalloc(ps->mem, sizeof(*l));
    if (!l)
        return fail(ps, "the header needs more memory than max-memory allows");
    l->kind = (uint8_t)kind;
    return l;
}

/* Whitespace, comments and backslash continuations, as the tokenizer
 * skips them inside brackets. compile() reads '\r' and '\r\n' as '\n': a
 * comment ends at either, and a backslash before either continues. */
static void skip_space(parser *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\n') {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r')
                ps->p++;
        } else if (c == '\\' && ps->end - ps->p > 1 && (ps->p[1] == '\n' || ps->p[1] == '\r')) {
            ps->p += ps->end - ps->p > 2 && ps->p[1] == '\r' && ps->p[2] == '\n' ? 3 : 2;
        } else {
            return;
        }
    }
}

static int peek(parser *ps, char c)
{
    skip_space(ps);
    return ps->p < ps->end && *ps->p == c;
}

/* ---- strings ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    size_t n = cp < 0x10000 ? 3 : 4;
    o[0] = (char)(n == 3 ? 0xe0 | cp >> 12 : 0xf0 | cp >> 18);
    for (size_t i = 1; i < n; i++)
        o[i] = (char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f));
    return n;
}

/* A string being decoded: adjacent literals append to it, so it grows by
 * doubling (concatenating many short pieces stays linear). */
typedef struct sbuild {
    char *p;
    size_t n, cap;
} sbuild;

static int reserve(parser *ps, sbuild *b, size_t more)
{
    if (more > MAX_STRING || b->n + more > MAX_STRING)
        return !!fail(ps, "a string literal over 1 MiB");
    if (b->n + more <= b->cap)
        return 1;
    size_t cap = b->cap * 2 > b->n + more ? b->cap * 2 : b->n + more;
    char *p = arena_alloc(ps->mem, cap + 1);
    if (!p)
        return !!fail(ps, "the header needs more memory than max-memory allows");
    if (b->n)
        memcpy(p, b->p, b->n);
    b->p = p;
    b->cap = cap;
    return 1;
}

/* The printable ASCII characters by their Unicode names (and the alias
 * SP), as a \\N{...} escape spells them: case does not matter. */
static const struct {
    const char *name;
    char c;
} ascii_names[] = {
    {"AMPERSAND", '&'},
    {"APOSTROPHE", '\''},
    {"ASTERISK", '*'},
    {"CIRCUMFLEX ACCENT", '^'},
    {"COLON", ':'},
    {"COMMA", ','},
    {"COMMERCIAL AT", '@'},
    {"DIGIT EIGHT", '8'},
    {"DIGIT FIVE", '5'},
    {"DIGIT FOUR", '4'},
    {"DIGIT NINE", '9'},
    {"DIGIT ONE", '1'},
    {"DIGIT SEVEN", '7'},
    {"DIGIT SIX", '6'},
    {"DIGIT THREE", '3'},
    {"DIGIT TWO", '2'},
    {"DIGIT ZERO", '0'},
    {"DOLLAR SIGN", '$'},
    {"EQUALS SIGN", '='},
    {"EXCLAMATION MARK", '!'},
    {"FULL STOP", '.'},
    {"GRAVE ACCENT", '`'},
    {"GREATER-THAN SIGN", '>'},
    {"HYPHEN-MINUS", '-'},
    {"LATIN CAPITAL LETTER A", 'A'},
    {"LATIN CAPITAL LETTER B", 'B'},
    {"LATIN CAPITAL LETTER C", 'C'},
    {"LATIN CAPITAL LETTER D", 'D'},
    {"LATIN CAPITAL LETTER E", 'E'},
    {"LATIN CAPITAL LETTER F", 'F'},
    {"LATIN CAPITAL LETTER G", 'G'},
    {"LATIN CAPITAL LETTER H", 'H'},
    {"LATIN CAPITAL LETTER I", 'I'},
    {"LATIN CAPITAL LETTER J", 'J'},
    {"LATIN CAPITAL LETTER K", 'K'},
    {"LATIN CAPITAL LETTER L", 'L'},
    {"LATIN CAPITAL LETTER M", 'M'},
    {"LATIN CAPITAL LETTER N", 'N'},
    {"LATIN CAPITAL LETTER O", 'O'},
    {"LATIN CAPITAL LETTER P", 'P'},
    {"LATIN CAPITAL LETTER Q", 'Q'},
    {"LATIN CAPITAL LETTER R", 'R'},
    {"LATIN CAPITAL LETTER S", 'S'},
    {"LATIN CAPITAL LETTER T", 'T'},
    {"LATIN CAPITAL LETTER U", 'U'},
    {"LATIN CAPITAL LETTER V", 'V'},
    {"LATIN CAPITAL LETTER W", 'W'},
    {"LATIN CAPITAL LETTER X", 'X'},
    {"LATIN CAPITAL LETTER Y", 'Y'},
    {"LATIN CAPITAL LETTER Z", 'Z'},
    {"LATIN SMALL LETTER A", 'a'},
    {"LATIN SMALL LETTER B", 'b'},
    {"LATIN SMALL LETTER C", 'c'},
    {"LATIN SMALL LETTER D", 'd'},
    {"LATIN SMALL LETTER E", 'e'},
    {"LATIN SMALL LETTER F", 'f'},
    {"LATIN SMALL LETTER G", 'g'},
    {"LATIN SMALL LETTER H", 'h'},
    {"LATIN SMALL LETTER I", 'i'},
    {"LATIN SMALL LETTER J", 'j'},
    {"LATIN SMALL LETTER K", 'k'},
    {"LATIN SMALL LETTER L", 'l'},
    {"LATIN SMALL LETTER M", 'm'},
    {"LATIN SMALL LETTER N", 'n'},
    {"LATIN SMALL LETTER O", 'o'},
    {"LATIN SMALL LETTER P", 'p'},
    {"LATIN SMALL LETTER Q", 'q'},
    {"LATIN SMALL LETTER R", 'r'},
    {"LATIN SMALL LETTER S", 's'},
    {"LATIN SMALL LETTER T", 't'},
    {"LATIN SMALL LETTER U", 'u'},
    {"LATIN SMALL LETTER V", 'v'},
    {"LATIN SMALL LETTER W", 'w'},
    {"LATIN SMALL LETTER X", 'x'},
    {"LATIN SMALL LETTER Y", 'y'},
    {"LATIN SMALL LETTER Z", 'z'},
    {"LEFT CURLY BRACKET", '{'},
    {"LEFT PARENTHESIS", '('},
    {"LEFT SQUARE BRACKET", '['},
    {"LESS-THAN SIGN", '<'},
    {"LOW LINE", '_'},
    {"NUMBER SIGN", '#'},
    {"PERCENT SIGN", '%'},
    {"PLUS SIGN", '+'},
    {"QUESTION MARK", '?'},
    {"QUOTATION MARK", '"'},
    {"REVERSE SOLIDUS", '\\'},
    {"RIGHT CURLY BRACKET", '}'},
    {"RIGHT PARENTHESIS", ')'},
    {"RIGHT SQUARE BRACKET", ']'},
    {"SEMICOLON", ';'},
    {"SOLIDUS", '/'},
    {"SP", ' '},
    {"SPACE", ' '},
    {"TILDE", '~'},
    {"VERTICAL LINE", '|'},
};

/* The character named name[0..n), or -1 when it is not printable ASCII. */
static int ascii_named(const char *name, size_t n)
{
    for (size_t i = 0; i < ARRAY_LEN(ascii_names); i++)
        if (strlen(ascii_names[i].name) == n && strncasecmp(ascii_names[i].name, name, n) == 0)
            return ascii_names[i].c;
    return -1;
}

/* One escape after a backslash at *q (non-raw literal); appends to o and
 * returns the bytes written (never more than it read). */
static size_t escape(parser *ps, const char **q, const char *stop, int bytes, char *o, lit *l)
{
    static const char simple[] = "\\\\''\"\"a\ab\bf\fn\nr\rt\tv\v";
    char c = *(*q)++;
    for (size_t i = 0; simple[i]; i += 2)
        if (c == simple[i]) {
            o[0] = simple[i + 1];
            return 1;
        }
    if (c == '\n')
        return 0;
    if (c >= '0' && c <= '7') {
        uint32_t v = (uint32_t)(c - '0');
        for (int k = 0; k < 2 && *q < stop && **q >= '0' && **q <= '7'; k++)
            v = v * 8 + (uint32_t)(*(*q)++ - '0');
        return bytes ? (o[0] = (char)v, 1) : put_utf8(o, v);
    }
    int digits = c == 'x' ? 2 : bytes ? 0 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (digits) {
        uint32_t v = 0;
        for (int k = 0; k < digits; k++, (*q)++) {
            if (*q >= stop || hexval(**q) < 0 || v > 0x10ffff) {
                fail(ps, "a malformed \\x, \\u or \\U escape");
                return 0;
            }
            v = v * 16 + (uint32_t)hexval(**q);
        }
        if (v > 0x10ffff) {
            fail(ps, "an escape beyond U+10FFFF");
            return 0;
        }
        return bytes ? (o[0] = (char)v, 1) : put_utf8(o, v);
    }
    if (c == 'N' && !bytes) {
        const char *close = *q < stop && **q == '{' ? memchr(*q, '}', (size_t)(stop - *q)) : NULL;
        if (!close) {
            fail(ps, "a malformed \\N{...} escape");
            return 0;
        }
        int ascii = ascii_named(*q + 1, (size_t)(close - *q - 1));
        *q = close + 1;
        if (ascii >= 0) {
            o[0] = (char)ascii;
            return 1;
        }
        l->uncertain = 1; /* any other character */
        o[0] = '?';
        return 1;
    }
    o[0] = '\\'; /* unknown escapes stay as written */
    o[1] = c;
    return 2;
}

/* Where the literal whose body starts at q ends (its closing quote), or
 * NULL. A backslash always protects the next character from ending it. */
static const char *body_end(parser *ps, const char *q, char quote, int triple)
{
    for (; q < ps->end; q++) {
        if (*q == '\\') {
            q++;
        } else if (*q == quote) {
            if (!triple || (ps->end - q >= 3 && q[1] == quote && q[2] == quote))
                return q;
        } else if (*q == '\n' && !triple) {
            return fail(ps, "a newline inside a string");
        }
    }
    return fail(ps, "an unterminated string");
}

/* Decodes the literal at ps->p (its opening quote) onto b. */
static int string_body(parser *ps, sbuild *b, lit *l, int raw, int bytes)
{
    char quote = *ps->p;
    int triple = ps->end - ps->p >= 3 && ps->p[1] == quote && ps->p[2] == quote;
    const char *q = ps->p + (triple ? 3 : 1);
    const char *close = body_end(ps, q, quote, triple);
    if (!close || !reserve(ps, b, (size_t)(close - q)))
        return 0;
    while (q < close) {
        if (bytes && (unsigned char)*q >= 0x80)
            return !!fail(ps, "a non-ASCII byte in a bytes literal");
        if (*q != '\\' || raw) {
            b->p[b->n++] = *q++;
        } else {
            q++;
            b->n += escape(ps, &q, close, bytes, b->p + b->n, l);
            if (ps->err)
                return 0;
        }
    }
    ps->p = close + (triple ? 3 : 1);
    return 1;
}

/* Length of a string prefix (r, u, b, br, rb in any case) before a quote,
 * or -1 when ps->p does not start a string literal. */
static int string_prefix(const char *p, const char *end, int *raw, int *bytes)
{
    int u = 0;
    *raw = *bytes = 0;
    for (int n = 0; p + n < end && n <= 2; n++) {
        char c = p[n];
        if (c == '\'' || c == '"')
            return u && (*raw || *bytes) ? -1 : n;
        c = (char)(c | 0x20);
        if (c == 'r' && !*raw)
            *raw = 1;
        else if (c == 'b' && !*bytes)
            *bytes = 1;
        else if (c == 'u' && n == 0)
            u = 1;
        else
            return -1;
    }
    return -1;
}

static lit *strings(parser *ps)
{
    lit *l = NULL;
    sbuild b = {NULL, 0, 0};
    int raw, bytes, np;
    while (skip_space(ps), (np = string_prefix(ps->p, ps->end, &raw, &bytes)) >= 0) {
        if (!l && !(l = new_lit(ps, bytes ? L_BYTES : L_STR)))
            return NULL;
        if ((l->kind == L_BYTES) != bytes)
            return fail(ps, "str and bytes literals side by side");
        ps->p += np;
        if (!string_body(ps, &b, l, raw, bytes))
            return NULL;
    }
    l->s = b.p ? b.p : "";
    l->n = (uint32_t)b.n;
    return l;
}

/* ---- numbers, names ---- */

static lit *number(parser *ps, int neg)
{
    lit *l = new_lit(ps, L_INT);
    if (!l)
        return NULL;
    const char *p = ps->p;
    int base = 10;
    if (ps->end - p > 2 && p[0] == '0' && strchr("xXoObB", p[1])) {
        base = (p[1] | 0x20) == 'x' ? 16 : (p[1] | 0x20) == 'o' ? 8 : 2;
        p += 2;
    }
    uint64_t v = 0;
    for (; p < ps->end && (*p == '_' || (hexval(*p) >= 0 && hexval(*p) < base)); p++)
        if (*p != '_')
            l->big |= (uint8_t)(mul_overflows(v, (uint64_t)base, &v) ||
                                add_overflows(v, (uint64_t)hexval(*p), &v) || v > INT64_MAX);
    if (p < ps->end && base == 10 && *p && strchr(".eEjJ", *p)) {
        l->kind = L_NUM; /* float or complex: never a valid shape entry */
        for (char prev = 0; p < ps->end; prev = *p++)
            if (!((*p >= '0' && *p <= '9') || (*p && strchr("._eEjJ", *p)) ||
                  ((*p == '+' || *p == '-') && (prev == 'e' || prev == 'E'))))
                break;
    }
    if (p == ps->p)
        return fail(ps, "a malformed number");
    l->i = neg ? -(int64_t)v : (int64_t)v;
    ps->p = p;
    /* numpy drops a Python-2 'L' suffix from version 1 and 2 headers */
    if (peek(ps, 'L') &&
        (ps->end - ps->p == 1 || !(isalnum((unsigned char)ps->p[1]) || ps->p[1] == '_')))
        ps->p++;
    return l;
}

static lit *name(parser *ps)
{
    static const struct {
        const char *word;
        lkind kind;
        int val;
    } names[] = {{"True", L_BOOL, 1}, {"False", L_BOOL, 0}, {"None", L_NONE, 0}};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        size_t n = strlen(names[i].word);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, names[i].word, n) == 0) {
            lit *l = new_lit(ps, names[i].kind);
            if (l)
                l->i = names[i].val;
            ps->p += n;
            return l;
        }
    }
    return fail(ps, "a name other than True, False or None");
}

/* ---- containers ---- */

static int push_item(parser *ps, lit *c, lit *x, uint32_t *cap)
{
    if (c->n == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 8;
        lit **items = arena_alloc(ps->mem, (size_t)ncap * sizeof(*items));
        if (!items || ncap < *cap)
            return !!fail(ps, "the header needs more memory than max-memory allows");
        if (c->n)
            memcpy(items, c->items, (size_t)c->n * sizeof(*items));
        c->items = items;
        *cap = ncap;
    }
    c->items[c->n++] = x;
    return 1;
}

/* Items up to `close`, separated by commas (a trailing one allowed). A
 * brace decides dict or set by its first item. `c` may already hold one. */
static lit *items(parser *ps, lit *c, char close)
{
    uint32_t cap = c->n;
    if (c->n && !peek(ps, close)) {
        if (!peek(ps, ','))
            return fail(ps, "a missing ',' or closing bracket");
        ps->p++;
    }
    while (!peek(ps, close)) {
        lit *x = value_of(ps);
        if (!x || !push_item(ps, c, x, &cap))
            return NULL;
        if (c->kind == L_SET && c->n == 1 && peek(ps, ':'))
            c->kind = L_DICT;
        if (c->kind == L_DICT) {
            if (!peek(ps, ':'))
                return fail(ps, "a dict item without ':'");
            ps->p++;
            if (!(x = value_of(ps)) || !push_item(ps, c, x, &cap))
                return NULL;
        }
        if (peek(ps, ','))
            ps->p++;
        else if (!peek(ps, close))
            return fail(ps, "a missing ',' or closing bracket");
    }
    if (c->kind == L_SET && c->n == 0)
        c->kind = L_DICT; /* {} */
    ps->p++;
    return c;
}

static lit *container(parser *ps, lkind kind, char close)
{
    lit *c = new_lit(ps, kind);
    ps->p++;
    return c ? items(ps, c, close) : NULL;
}

/* '(' starts a tuple, or just groups one value: (x) is x, (x,) a tuple. */
static lit *paren(parser *ps)
{
    ps->p++;
    if (peek(ps, ')')) {
        ps->p++;
        return new_lit(ps, L_TUPLE);
    }
    lit *x = value_of(ps);
    if (!x)
        return NULL;
    if (peek(ps, ')')) {
        ps->p++;
        return x;
    }
    lit *t = new_lit(ps, L_TUPLE);
    uint32_t cap = 0;
    if (!t || !push_item(ps, t, x, &cap))
        return NULL;
    return items(ps, t, ')');
}

static lit *value_at(parser *ps)
{
    char c = *ps->p;
    int raw, bytes;
    if (string_prefix(ps->p, ps->end, &raw, &bytes) >= 0)
        return strings(ps);
    if (c == '{')
        return container(ps, L_SET, '}');
    if (c == '[')
        return container(ps, L_LIST, ']');
    if (c == '(')
        return paren(ps);
    if (c == '-' || c == '+') {
        ps->p++;
        skip_space(ps);
        if (ps->p >= ps->end || !((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.'))
            return fail(ps, "a sign before something that is not a number");
        return number(ps, c == '-');
    }
    if ((c >= '0' && c <= '9') || c == '.')
        return number(ps, 0);
    return name(ps);
}

static lit *value_of(parser *ps)
{
    skip_space(ps);
    if (ps->p >= ps->end)
        return fail(ps, "the header ends early");
    if (++ps->depth > MAX_NESTING)
        return fail(ps, "brackets nested too deeply");
    lit *l = value_at(ps);
    ps->depth--;
    return l;
}

/* ---- what numpy checks, and where objects hide ---- */

static int str_eq(const lit *l, const char *s)
{
    return l->kind == L_STR && l->n == strlen(s) && memcmp(l->s, s, l->n) == 0;
}

/* A dtype string: numpy spells object as 'O...' or 'object...', also
 * inside comma-separated and sub-array forms ('i4,O', '(2,)O'). */
static int str_has_object(const lit *l)
{
    if (l->uncertain || memchr(l->s, 'O', l->n))
        return 1;
    for (uint32_t i = 0; i + 6 <= l->n; i++)
        if (strncasecmp(l->s + i, "object", 6) == 0)
            return 1;
    return 0;
}

static int has_object(const lit *d, int depth);

/* What numpy.dtype() itself (not descr_to_dtype) reads: the second item of
 * a (base, x) descr and the third of a (name, descr, x) field, where x is a
 * shape or, in the (base, new_dtype) form, any dtype (a list of fields, a
 * dict of names and formats, a string...). Any string naming an object
 * anywhere in it counts. */
static int any_object(const lit *x, int depth)
{
    if (depth > MAX_NESTING)
        return 1;
    if (x->kind == L_STR)
        return str_has_object(x);
    if (x->kind != L_TUPLE && x->kind != L_LIST && x->kind != L_DICT && x->kind != L_SET)
        return 0;
    for (uint32_t i = 0; i < x->n; i++)
        if (any_object(x->items[i], depth + 1))
            return 1;
    return 0;
}

/* One field of a structured descr: (name, descr[, shape]) unpacked from any
 * iterable of two or three items, as descr_to_dtype does; the shape goes to
 * numpy.dtype((dt, shape)). */
static int field_has_object(const lit *f, int depth)
{
    uint32_t n = f->kind == L_DICT ? f->n / 2 : f->n;
    if (n != 2 && n != 3)
        return 0;
    switch (f->kind) {
    case L_TUPLE:
    case L_LIST:
        return has_object(f->items[1], depth + 1) || (n == 3 && any_object(f->items[2], depth + 1));
    case L_DICT:
        return has_object(f->items[2], depth + 1) || (n == 3 && any_object(f->items[4], depth + 1));
    case L_SET: /* unordered: any item may land in the descr position */
        for (uint32_t i = 0; i < n; i++)
            if (has_object(f->items[i], depth + 1))
                return 1;
        return 0;
    case L_STR: return str_has_object(f); /* a 2- or 3-character str */
    default: return 0;
    }
}

static int has_object(const lit *d, int depth)
{
    if (depth > MAX_NESTING)
        return 1;
    if (d->kind == L_STR)
        return str_has_object(d);
    if (d->kind == L_TUPLE) /* numpy.dtype((descr_to_dtype(d[0]), d[1])) */
        return (d->n > 0 && has_object(d->items[0], depth + 1)) ||
               (d->n > 1 && any_object(d->items[1], depth + 1));
    if (d->kind != L_LIST && d->kind != L_DICT && d->kind != L_SET)
        return 0;
    uint32_t step = d->kind == L_DICT ? 2 : 1; /* a dict iterates its keys */
    for (uint32_t i = 0; i < d->n; i += step)
        if (field_has_object(d->items[i], depth + 1))
            return 1;
    return 0;
}

/* The last value of `key` (dict displays keep the last duplicate). */
static const lit *get(const lit *dict, const char *key)
{
    const lit *v = NULL;
    for (uint32_t i = 0; i + 1 < dict->n; i += 2)
        if (str_eq(dict->items[i], key))
            v = dict->items[i + 1];
    return v;
}

static const char *check_header(const lit *d)
{
    if (d->kind != L_DICT)
        return "the header is not a dict";
    for (uint32_t i = 0; i < d->n; i += 2)
        if (!str_eq(d->items[i], "descr") && !str_eq(d->items[i], "fortran_order") &&
            !str_eq(d->items[i], "shape"))
            return "the header has a key other than descr, fortran_order and shape";
    const lit *shape = get(d, "shape"), *order = get(d, "fortran_order");
    if (!shape || !order || !get(d, "descr"))
        return "the header lacks descr, fortran_order or shape";
    if (shape->kind != L_TUPLE)
        return "shape is not a tuple";
    for (uint32_t i = 0; i < shape->n; i++)
        if (shape->items[i]->kind != L_INT && shape->items[i]->kind != L_BOOL)
            return "shape holds something other than integers";
    if (order->kind != L_BOOL)
        return "fortran_order is not a bool";
    return NULL;
}

/* ---- the file ---- */

/* numpy refuses the header (as far as ckptscan can tell: the file is
 * suspicious already); the data is still walked when it starts with an
 * opcode, complete pickle or not: pickle.load runs what comes before an
 * error. */
static void refused(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len, size_t data,
                    const char *why)
{
    ctx_findingf(ctx, CKPT_F_MALFORMED, member, 8, ".npy header: %s; numpy refuses the file", why);
    if (data < len && opcode_table[buf[data]].name) {
        ctx_findingf(ctx, CKPT_F_ANOMALY, member, data,
                     "the data after a refused .npy header starts with a "
                     "pickle opcode: walked in case a loader reads it");
        pickle_scan_all_hooked(ctx, member, buf, len, data, 1, NULL);
    }
}

/* Parses the header at buf[off..off+n); NULL when it holds, else why not. */
static const char *parse_header(scan_ctx *ctx, const uint8_t *h, size_t n, int utf8, int *object)
{
    if (memchr(h, 0, n))
        return "the header holds a NUL byte";
    if (utf8 && !py_utf8_valid(h, n, 0))
        return "a version 3 header that is not UTF-8";
    arena mem;
    arena_init(&mem, ctx_limit(ctx, CKPT_LIMIT_MEMORY));
    parser ps = {(const char *)h, (const char *)h + n, &mem, 0, NULL};
    const lit *d = value_of(&ps);
    skip_space(&ps);
    const char *why = ps.err ? ps.err : ps.p != ps.end ? "text after the dict" : check_header(d);
    if (!why)
        *object = has_object(get(d, "descr"), 0);
    arena_release(&mem);
    return why;
}

int read_npy(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len)
{
    if (len < 8 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return 0;
    unsigned major = buf[6], minor = buf[7];
    if (minor != 0 || major < 1 || major > 3) {
        ctx_findingf(ctx, CKPT_F_MALFORMED, member, 6, ".npy version %u.%u: numpy refuses the file",
                     major, minor);
        return 1;
    }
    size_t width = major == 1 ? 2 : 4;
    if (!range_fits(8, width, len)) {
        ctx_finding(ctx, CKPT_F_TRUNCATED, member, 8, "the .npy file ends in its header length");
        return 1;
    }
    size_t hlen = width == 2 ? load_le16(buf + 8) : load_le32(buf + 8);
    size_t data = 8 + width + hlen;
    if (!range_fits(8 + width, hlen, len)) {
        ctx_finding(ctx, CKPT_F_TRUNCATED, member, 8 + width, "the .npy header runs past the end");
        return 1;
    }
    int object = 0;
    const char *why = parse_header(ctx, buf + 8 + width, hlen, major == 3, &object);
    if (why)
        refused(ctx, member, buf, len, data, why);
    else if (object) /* np.load runs pickle.load on the data */
        pickle_scan_all_hooked(ctx, member, buf, len, data, 1, NULL);
    return 1;
}

int npy_header_suffices(scan_ctx *ctx, const uint8_t *buf, size_t len)
{
    if (len < 12 || memcmp(buf, "\x93NUMPY", 6) != 0 || buf[7] != 0 || buf[6] < 1 || buf[6] > 3)
        return 0;
    size_t width = buf[6] == 1 ? 2 : 4;
    size_t hlen = width == 2 ? load_le16(buf + 8) : load_le32(buf + 8);
    int object = 1;
    return range_fits(8 + width, hlen, len) &&
           !parse_header(ctx, buf + 8 + width, hlen, buf[6] == 3, &object) && !object;
}

/* ---- for ckpt_convert (npy_header.h) ---- */

static int shape_of(const lit *shape, npy_info *out)
{
    if (shape->n > NPY_MAX_DIMS)
        return 0;
    out->ndim = shape->n;
    for (uint32_t i = 0; i < shape->n; i++) {
        const lit *d = shape->items[i];
        if (d->big || d->i < 0)
            return 0;
        out->shape[i] = d->i;
    }
    return 1;
}

int npy_describe(const uint8_t *buf, size_t len, uint64_t memcap, npy_info *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 12 || memcmp(buf, "\x93NUMPY", 6) != 0 || buf[7] != 0 || buf[6] < 1 || buf[6] > 3)
        return 0;
    size_t width = buf[6] == 1 ? 2 : 4;
    size_t hlen = width == 2 ? load_le16(buf + 8) : load_le32(buf + 8);
    if (!range_fits(8 + width, hlen, len))
        return 0;
    const uint8_t *h = buf + 8 + width;
    if (memchr(h, 0, hlen) || (buf[6] == 3 && !py_utf8_valid(h, hlen, 0)))
        return 0;
    arena mem;
    arena_init(&mem, memcap);
    parser ps = {(const char *)h, (const char *)h + hlen, &mem, 0, NULL};
    const lit *d = value_of(&ps);
    skip_space(&ps);
    int ok = !ps.err && ps.p == ps.end && !check_header(d);
    if (ok) {
        const lit *descr = get(d, "descr");
        out->object = has_object(descr, 0);
        if (descr->kind == L_STR && descr->n < sizeof(out->descr) && !descr->uncertain)
            memcpy(out->descr, descr->s, descr->n);
        out->fortran = get(d, "fortran_order")->i != 0;
        out->data = 8 + width + hlen;
        ok = shape_of(get(d, "shape"), out);
    }
    arena_release(&mem);
    return ok;
}
