/* SPDX-License-Identifier: Apache-2.0 */
/* Data formats that no pickle-based loader runs (text, JSON, safetensors,
 * GGUF, ONNX, HDF5, TFLite, MessagePack, images): recognised by content so that a model
 * repository's other files are named, each check O(size) at most. */
#include "formats_data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define JSON_MAX_DEPTH 512

/* ---- UTF-8 text ---- */

/* Length of the UTF-8 sequence at p (RFC 3629: no overlongs, surrogates or
 * code points past U+10FFFF), 0 when invalid. */
static size_t utf8_seq(const uint8_t *p, size_t left)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    if (n == 0 || c > 0xf4 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

/* Text: valid UTF-8 with no control character other than tab, newlines,
 * form feed, vertical tab and escape. */
static int is_text(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len;) {
        uint8_t c = buf[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' && c != 0x1b)
            return 0;
        size_t n = utf8_seq(buf + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

/* ---- JSON (RFC 8259, plus NaN / Infinity as Python's json reads them) ---- */

typedef struct jcur {
    const uint8_t *p;
    size_t len, pos;
} jcur;

static void j_ws(jcur *c)
{
    while (c->pos < c->len && (c->p[c->pos] == ' ' || c->p[c->pos] == '\t' ||
                               c->p[c->pos] == '\n' || c->p[c->pos] == '\r'))
        c->pos++;
}

static int j_lit(jcur *c, const char *word)
{
    size_t n = strlen(word);
    if (c->len - c->pos < n || memcmp(c->p + c->pos, word, n) != 0)
        return 0;
    c->pos += n;
    return 1;
}

static int is_hex(uint8_t ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f');
}

/* A string at c->pos ('"' expected); its raw content is [*s, *s + *n). */
static int j_string(jcur *c, size_t *s, size_t *n)
{
    if (c->pos >= c->len || c->p[c->pos] != '"')
        return 0;
    size_t start = ++c->pos;
    while (c->pos < c->len) {
        uint8_t ch = c->p[c->pos];
        if (ch == '"') {
            *s = start;
            *n = c->pos++ - start;
            return 1;
        }
        if (ch < 0x20)
            return 0;
        if (ch != '\\') {
            c->pos++;
            continue;
        }
        if (++c->pos >= c->len)
            return 0;
        ch = c->p[c->pos++];
        if (ch == 'u') {
            if (c->len - c->pos < 4)
                return 0;
            for (int i = 0; i < 4; i++)
                if (!is_hex(c->p[c->pos + i]))
                    return 0;
            c->pos += 4;
        } else if (!strchr("\"\\/bfnrt", ch) || ch == 0) {
            return 0;
        }
    }
    return 0;
}

static int j_digits(jcur *c)
{
    size_t start = c->pos;
    while (c->pos < c->len && c->p[c->pos] >= '0' && c->p[c->pos] <= '9')
        c->pos++;
    return c->pos > start;
}

static int j_number(jcur *c)
{
    if (c->pos < c->len && c->p[c->pos] == '-')
        c->pos++;
    if (j_lit(c, "Infinity"))
        return 1;
    if (c->pos < c->len && c->p[c->pos] == '0')
        c->pos++;
    else if (!j_digits(c))
        return 0;
    if (c->pos < c->len && c->p[c->pos] == '.' && (c->pos++, !j_digits(c)))
        return 0;
    if (c->pos < c->len && (c->p[c->pos] | 0x20) == 'e') {
        c->pos++;
        if (c->pos < c->len && (c->p[c->pos] == '+' || c->p[c->pos] == '-'))
            c->pos++;
        if (!j_digits(c))
            return 0;
    }
    return 1;
}

static int j_scalar(jcur *c)
{
    size_t s, n;
    if (c->pos >= c->len)
        return 0;
    uint8_t ch = c->p[c->pos];
    if (ch == '"')
        return j_string(c, &s, &n);
    if (ch == '-' || (ch >= '0' && ch <= '9') || ch == 'I')
        return j_number(c);
    return j_lit(c, "true") || j_lit(c, "false") || j_lit(c, "null") || j_lit(c, "NaN");
}

/* After a value inside a container: ',' (then the next member) or the
 * closing bracket. Returns 1 to go on with a member, 2 when the container
 * closed, 0 on error. */
static int j_after(jcur *c, uint8_t close)
{
    j_ws(c);
    if (c->pos >= c->len)
        return 0;
    uint8_t ch = c->p[c->pos++];
    return ch == ',' ? 1 : ch == close ? 2 : 0;
}

/* One member's start in an object: a key (its raw content at [*s, *s +
 * *n)) and ':'. */
static int j_key_at(jcur *c, size_t *s, size_t *n)
{
    j_ws(c);
    if (!j_string(c, s, n))
        return 0;
    j_ws(c);
    return c->pos < c->len && c->p[c->pos++] == ':';
}

static int j_key(jcur *c)
{
    size_t s, n;
    return j_key_at(c, &s, &n);
}

/* One JSON value of any nesting (iterative, depth-bounded). */
static int j_value(jcur *c)
{
    uint8_t stack[JSON_MAX_DEPTH];
    size_t depth = 0;
    for (;;) {
        j_ws(c);
        if (c->pos >= c->len)
            return 0;
        uint8_t ch = c->p[c->pos];
        if (ch == '{' || ch == '[') {
            if (depth == JSON_MAX_DEPTH)
                return 0;
            c->pos++;
            j_ws(c);
            uint8_t close = ch == '{' ? '}' : ']';
            if (c->pos < c->len && c->p[c->pos] == close) {
                c->pos++;
            } else {
                stack[depth++] = close;
                if (close == '}' && !j_key(c))
                    return 0;
                continue;
            }
        } else if (!j_scalar(c)) {
            return 0;
        }
        for (;;) { /* a value is done: close what it ends */
            if (depth == 0)
                return 1;
            int r = j_after(c, stack[depth - 1]);
            if (r == 0)
                return 0;
            if (r == 1) {
                if (stack[depth - 1] == '}' && !j_key(c))
                    return 0;
                break;
            }
            depth--;
        }
    }
}

static int is_json(const uint8_t *buf, size_t len)
{
    jcur c = {buf, len, 0};
    j_ws(&c);
    if (c.pos >= len || (buf[c.pos] != '{' && buf[c.pos] != '['))
        return 0; /* a bare scalar is text */
    if (!j_value(&c))
        return 0;
    j_ws(&c);
    return c.pos == len;
}

/* ---- binary formats by magic ---- */

static int has(const uint8_t *buf, size_t len, size_t at, const char *magic, size_t n)
{
    return len >= at + n && memcmp(buf + at, magic, n) == 0;
}

static int is_gguf(const uint8_t *buf, size_t len)
{
    return has(buf, len, 0, "GGUF", 4) && len >= 24 && load_le32(buf + 4) >= 1 &&
           load_le32(buf + 4) <= 3;
}

static int is_jpeg(const uint8_t *buf, size_t len)
{
    if (!has(buf, len, 0, "\xff\xd8\xff", 3) || len < 4)
        return 0;
    uint8_t m = buf[3];
    return m == 0xdb || (m >= 0xe0 && m <= 0xef) || m == 0xc0 || m == 0xc2 || m == 0xc4 ||
           m == 0xfe;
}

/* TFLite: a flatbuffer with file identifier "TFL3" after the root offset. */
static int is_tflite(const uint8_t *buf, size_t len)
{
    return has(buf, len, 4, "TFL3", 4) && load_le32(buf) >= 8 && load_le32(buf) < len;
}

/* A protobuf varint at *pos (at most 10 bytes). */
static int pb_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = buf[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* ONNX ModelProto: top-level fields only, each of the wire type onnx.proto
 * gives it, tiling the whole file exactly, ir_version (1) first and a graph
 * (7) present. Nested messages are not parsed. */
static int is_onnx(const uint8_t *buf, size_t len)
{
    /* field number -> wire type: 0 varint, 2 length-delimited, -1 unknown */
    static const signed char wire[26] = {-1, 0, 2,  2,  2,  0,  2,  2, 2,  -1, -1, -1, -1,
                                         -1, 2, -1, -1, -1, -1, -1, 2, -1, -1, -1, -1, 2};
    if (len < 2 || buf[0] != 0x08)
        return 0;
    int graph = 0;
    size_t pos = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (!pb_varint(buf, len, &pos, &tag))
            return 0;
        uint64_t field = tag >> 3, type = tag & 7;
        if (field >= sizeof(wire) || wire[field] < 0 || (uint64_t)wire[field] != type)
            return 0;
        if (!pb_varint(buf, len, &pos, &v))
            return 0;
        if (field == 1 && (v < 1 || v > 64))
            return 0;
        if (type == 2) {
            if (v > len - pos)
                return 0;
            pos += (size_t)v;
        }
        graph |= field == 7;
    }
    return graph;
}

/* ---- MessagePack (Flax / JAX checkpoints: flax.serialization.to_bytes) ---- */

/* Big-endian unsigned of n bytes at p. */
static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* One object's header at *pos: *payload gets the bytes that follow it
 * (string, binary or extension data), *children the objects it holds
 * (a map's 2n). 0 when the byte is 0xc1 (never used) or the header is cut. */
static int mp_header(const uint8_t *buf, size_t len, size_t *pos, uint64_t *payload,
                     uint64_t *children, int *is_str)
{
    static const uint8_t fixed[0x20] = {
        /* 0xc0..0xdf: size of the argument that follows the type byte */
        0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8,
        1, 2, 4, 8, 1, 1, 1, 1, 1, 1, 2, 4, 2, 4, 2, 4};
    uint8_t t = buf[(*pos)++];
    *payload = *children = 0;
    *is_str = 0;
    if (t <= 0x7f || t >= 0xe0)
        return 1;
    if (t <= 0x8f || (t >= 0x90 && t <= 0x9f)) {
        *children = t <= 0x8f ? 2u * (t & 0x0f) : (t & 0x0f);
        return 1;
    }
    if (t <= 0xbf) {
        *payload = t & 0x1f;
        *is_str = 1;
        return 1;
    }
    if (t == 0xc1)
        return 0;
    size_t n = fixed[t - 0xc0];
    if (n > len - *pos)
        return 0;
    uint64_t v = load_be(buf + *pos, n);
    *pos += n;
    if (t >= 0xc4 && t <= 0xc6) /* bin */
        *payload = v;
    else if (t >= 0xc7 && t <= 0xc9) /* ext: length, then a type byte */
        *payload = v + 1;
    else if (t >= 0xca && t <= 0xd3) /* numbers: the argument was the value */
        ;
    else if (t >= 0xd4 && t <= 0xd8) /* fixext: the type byte was read */
        *payload = (uint64_t)1 << (t - 0xd4);
    else if (t >= 0xd9 && t <= 0xdb) { /* str */
        *payload = v;
        *is_str = 1;
    } else if (t == 0xdc || t == 0xdd)
        *children = v;
    else if (t == 0xde || t == 0xdf)
        *children = 2 * v;
    return 1;
}

/* Exactly one MessagePack map or array filling the buffer, strings valid
 * UTF-8 (as msgpack's unpackb(raw=False) requires). Extension payloads are
 * not parsed. Iterative: a count of the objects still to read. */
static int is_msgpack(const uint8_t *buf, size_t len)
{
    if (len < 2 || !((buf[0] >= 0x80 && buf[0] <= 0x9f) || buf[0] >= 0xdc) || buf[0] >= 0xe0)
        return 0;
    size_t pos = 0;
    uint64_t todo = 1;
    while (todo > 0) {
        if (pos >= len || todo > len - pos) /* every object takes a byte */
            return 0;
        uint64_t payload, children;
        int str;
        if (!mp_header(buf, len, &pos, &payload, &children, &str) || payload > len - pos)
            return 0;
        if (str) {
            for (size_t i = pos; i < pos + payload;) {
                size_t n = utf8_seq(buf + i, pos + payload - i);
                if (!n)
                    return 0;
                i += n;
            }
        }
        pos += (size_t)payload;
        todo = todo - 1 + children;
    }
    return pos == len;
}

ckpt_format data_format(const uint8_t *buf, size_t len)
{
    if (has(buf, len, 0, "\x89HDF\r\n\x1a\n", 8))
        return CKPT_FORMAT_HDF5;
    if (has(buf, len, 0, "\x89PNG\r\n\x1a\n", 8))
        return CKPT_FORMAT_PNG;
    if (has(buf, len, 0, "GIF87a", 6) || has(buf, len, 0, "GIF89a", 6))
        return CKPT_FORMAT_GIF;
    if (has(buf, len, 0, "RIFF", 4) && has(buf, len, 8, "WEBP", 4))
        return CKPT_FORMAT_WEBP;
    if (is_jpeg(buf, len))
        return CKPT_FORMAT_JPEG;
    if (is_gguf(buf, len))
        return CKPT_FORMAT_GGUF;
    if (is_tflite(buf, len))
        return CKPT_FORMAT_TFLITE;
    if (is_onnx(buf, len))
        return CKPT_FORMAT_ONNX;
    if (!is_text(buf, len))
        return is_msgpack(buf, len) ? CKPT_FORMAT_MSGPACK : CKPT_FORMAT_UNKNOWN;
    return is_json(buf, len) ? CKPT_FORMAT_JSON : CKPT_FORMAT_TEXT;
}

/* ---- safetensors ---- */

int safetensors_shape(const uint8_t *buf, size_t len)
{
    if (len < 10 || buf[8] != '{')
        return 0;
    uint64_t n = load_le64(buf);
    return n >= 2 && n <= len - 8;
}

typedef struct st_range {
    uint64_t begin, end;
} st_range;

/* Bits per element of a safetensors dtype, 0 when unknown. */
static unsigned dtype_bits(const uint8_t *s, size_t n)
{
    static const struct {
        const char *name;
        unsigned bits;
    } dtypes[] = {{"BOOL", 8},    {"U8", 8},   {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8},
                  {"F8_E8M0", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16},    {"BF16", 16},
                  {"I32", 32},    {"U32", 32}, {"F32", 32}, {"F64", 64},    {"I64", 64},
                  {"U64", 64},    {"C64", 64}, {"F4", 4},   {"F6_E2M3", 6}, {"F6_E3M2", 6}};
    for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
        if (strlen(dtypes[i].name) == n && memcmp(dtypes[i].name, s, n) == 0)
            return dtypes[i].bits;
    return 0;
}

static int key_is(const jcur *c, size_t s, size_t n, const char *key)
{
    return strlen(key) == n && memcmp(c->p + s, key, n) == 0;
}

/* A JSON array of non-negative integers (at most `max`, stored in out when
 * not NULL); *count is how many. */
static int j_uint_array(jcur *c, uint64_t *out, size_t max, size_t *count)
{
    *count = 0;
    j_ws(c);
    if (c->pos >= c->len || c->p[c->pos++] != '[')
        return 0;
    j_ws(c);
    if (c->pos < c->len && c->p[c->pos] == ']') {
        c->pos++;
        return 1;
    }
    for (;;) {
        j_ws(c);
        uint64_t v = 0;
        size_t start = c->pos;
        while (c->pos < c->len && c->p[c->pos] >= '0' && c->p[c->pos] <= '9') {
            unsigned d = c->p[c->pos++] - '0';
            if (v > (UINT64_MAX - d) / 10)
                return 0;
            v = v * 10 + d;
        }
        if (c->pos == start || *count == max)
            return 0;
        if (out)
            out[*count] = v;
        ++*count;
        int r = j_after(c, ']');
        if (r != 1)
            return r == 2;
    }
}

/* Opens an object: 1 with a first member's key read, 2 when it is empty. */
static int j_open_object(jcur *c, size_t *ks, size_t *kn)
{
    j_ws(c);
    if (c->pos >= c->len || c->p[c->pos++] != '{')
        return 0;
    j_ws(c);
    if (c->pos < c->len && c->p[c->pos] == '}') {
        c->pos++;
        return 2;
    }
    return j_key_at(c, ks, kn);
}

/* After an object member: 1 with the next key read, 2 when it closed. */
static int j_next_member(jcur *c, size_t *ks, size_t *kn)
{
    int r = j_after(c, '}');
    if (r == 1 && !j_key_at(c, ks, kn))
        return 0;
    return r;
}

/* One tensor entry {"dtype":..., "shape":[...], "data_offsets":[b,e]}. */
static const char *st_tensor(jcur *c, st_range *range)
{
    unsigned bits = 0;
    int have_shape = 0, have_offsets = 0;
    uint64_t numel = 1, offs[2] = {0, 0};
    size_t ks, kn;
    int r = j_open_object(c, &ks, &kn);
    if (r != 1)
        return "a tensor entry is not an object with members";
    for (; r == 1; r = j_next_member(c, &ks, &kn)) {
        if (key_is(c, ks, kn, "dtype")) {
            size_t s, n;
            j_ws(c);
            if (!j_string(c, &s, &n) || !(bits = dtype_bits(c->p + s, n)))
                return "a tensor has an unknown dtype";
        } else if (key_is(c, ks, kn, "shape")) {
            uint64_t dims[64];
            size_t count;
            if (!j_uint_array(c, dims, 64, &count))
                return "a tensor shape is not a list of at most 64 sizes";
            for (size_t i = 0; i < count; i++)
                if (dims[i] && numel > UINT64_MAX / 64 / dims[i])
                    return "a tensor shape overflows";
                else
                    numel *= dims[i];
            have_shape = 1;
        } else if (key_is(c, ks, kn, "data_offsets")) {
            size_t count;
            if (!j_uint_array(c, offs, 2, &count) || count != 2 || offs[0] > offs[1])
                return "data_offsets is not [begin, end] with begin <= end";
            have_offsets = 1;
        } else {
            return "a tensor entry has a member other than dtype, shape, data_offsets";
        }
    }
    if (r != 2)
        return "the header is not valid JSON";
    if (!bits || !have_shape || !have_offsets)
        return "a tensor entry lacks dtype, shape or data_offsets";
    if ((numel * bits) % 8 || offs[1] - offs[0] != numel * bits / 8)
        return "a tensor's data_offsets do not span its dtype and shape";
    range->begin = offs[0];
    range->end = offs[1];
    return NULL;
}

/* "__metadata__": an object of strings. */
static const char *st_metadata(jcur *c)
{
    size_t ks, kn, s, n;
    int r = j_open_object(c, &ks, &kn);
    for (; r == 1; r = j_next_member(c, &ks, &kn)) {
        j_ws(c);
        if (!j_string(c, &s, &n))
            return "__metadata__ holds a value that is not a string";
    }
    return r == 2 ? NULL : "__metadata__ is not an object of strings";
}

static int by_begin(const void *a, const void *b)
{
    const st_range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* The tensors tile the data section exactly, as the safetensors library
 * requires. */
static const char *st_tiling(st_range *ranges, size_t count, uint64_t data_len)
{
    qsort(ranges, count, sizeof(*ranges), by_begin);
    uint64_t at = 0;
    for (size_t i = 0; i < count; i++) {
        if (ranges[i].begin != at)
            return "tensor data overlaps or leaves a gap";
        at = ranges[i].end;
    }
    return at == data_len ? NULL : "tensor data does not end where the file does";
}

static const char *st_header(jcur *c, st_range *ranges, size_t cap, uint64_t data_len)
{
    size_t ks, kn, count = 0;
    int r = j_open_object(c, &ks, &kn);
    for (; r == 1; r = j_next_member(c, &ks, &kn)) {
        const char *why;
        if (key_is(c, ks, kn, "__metadata__")) {
            why = st_metadata(c);
        } else {
            if (count == cap)
                return "more tensors than the header can describe";
            why = st_tensor(c, &ranges[count++]);
        }
        if (why)
            return why;
    }
    if (r != 2)
        return "the header is not a JSON object";
    j_ws(c);
    if (c->pos != c->len)
        return "bytes follow the header's JSON object";
    return st_tiling(ranges, count, data_len);
}

const char *safetensors_check(const uint8_t *buf, size_t len)
{
    uint64_t n = load_le64(buf);
    if (!is_text(buf + 8, (size_t)n))
        return "the header is not UTF-8 text";
    /* every tensor entry takes more than 40 header bytes */
    size_t cap = (size_t)n / 40 + 1;
    st_range *ranges = malloc(cap * sizeof(*ranges));
    if (!ranges)
        return NULL; /* no memory: nothing to say against the file */
    jcur c = {buf + 8, (size_t)n, 0};
    const char *why = st_header(&c, ranges, cap, len - 8 - n);
    free(ranges);
    return why;
}
