/* SPDX-License-Identifier: Apache-2.0 */
/* Streams tensor bytes from the input file to the safetensors sink: stored
 * bytes read with pread, deflated ones inflated in chunks, strided views
 * gathered in row-major order through bounded buffers. Memory never grows
 * with tensor bytes: at most CONV_CHUNK plus one gather buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "convert.h"
#include "util.h"

/* ---- reading a source ---- */

/* n bytes at file offset `at`; 0 on an error or a short file. */
static int pread_all(int fd, uint64_t at, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t got = pread(fd, p, n, (off_t)at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        p += got;
        n -= (size_t)got;
        at += (uint64_t)got;
    }
    return 1;
}

typedef struct inflater {
    z_stream z;
    const conv_source *src;
    uint64_t pos; /* compressed bytes consumed from the file */
    uint8_t *in;
    int ended, ok;
} inflater;

static int infl_open(inflater *f, const conv_source *src)
{
    memset(f, 0, sizeof(*f));
    f->src = src;
    f->in = malloc(CONV_CHUNK);
    if (!f->in || inflateInit2(&f->z, -15) != Z_OK) { /* raw deflate, as miniz */
        free(f->in);
        return 0;
    }
    f->ok = 1;
    return 1;
}

static void infl_close(inflater *f)
{
    if (f->ok)
        inflateEnd(&f->z);
    free(f->in);
}

/* Up to n bytes of output; returns how many (0 at the end), -1 when the
 * stream is broken or ends before its compressed bytes say. */
static int64_t infl_read(inflater *f, uint8_t *out, size_t n)
{
    f->z.next_out = out;
    f->z.avail_out = (uInt)n;
    while (f->z.avail_out && !f->ended) {
        if (!f->z.avail_in) {
            uint64_t left = f->src->comp - f->pos;
            size_t take = left < CONV_CHUNK ? (size_t)left : CONV_CHUNK;
            if (!take || !pread_all(f->src->fd, f->src->at + f->pos, f->in, take))
                return -1; /* no end of stream inside the record */
            f->pos += take;
            f->z.next_in = f->in;
            f->z.avail_in = (uInt)take;
        }
        int ret = inflate(&f->z, Z_NO_FLUSH);
        if (ret == Z_STREAM_END)
            f->ended = 1;
        else if (ret != Z_OK)
            return -1;
    }
    return (int64_t)(n - f->z.avail_out);
}

/* Drops n bytes of output. */
static int infl_skip(inflater *f, uint64_t n, uint8_t *scratch)
{
    while (n) {
        size_t step = n < CONV_CHUNK ? (size_t)n : CONV_CHUNK;
        if (infl_read(f, scratch, step) != (int64_t)step)
            return 0;
        n -= step;
    }
    return 1;
}

int conv_check_deflated(const conv_source *src)
{
    inflater f;
    uint8_t *scratch = malloc(CONV_CHUNK);
    if (!scratch || !infl_open(&f, src)) {
        free(scratch);
        return 0;
    }
    uint64_t total = 0;
    int64_t got;
    while ((got = infl_read(&f, scratch, CONV_CHUNK)) > 0)
        total += (uint64_t)got;
    int ok = got == 0 && f.ended && total - src->skip == src->bytes && total >= src->skip;
    infl_close(&f);
    free(scratch);
    return ok;
}

/* ---- the output ---- */

static void swap_elements(uint8_t *p, size_t n, uint32_t size)
{
    for (size_t i = 0; i + size <= n; i += size)
        for (uint32_t a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

/* Writes the buffer (swapping v's elements first when asked). */
static int out_flush(conv_out *o, const conv_view *v)
{
    if (!o->n)
        return 1;
    if (v && v->swap && v->elsize > 1)
        swap_elements(o->buf, o->n, v->elsize);
    if (o->write(o->ctx, (const char *)o->buf, o->n) != 0) {
        o->failed = 1;
        return 0;
    }
    o->total += o->n;
    o->n = 0;
    return 1;
}

int conv_write_raw(conv_out *o, const void *p, size_t n)
{
    if (n && o->write(o->ctx, p, n) != 0) {
        o->failed = 1;
        return 0;
    }
    o->total += n;
    return 1;
}

/* Appends n bytes (a whole number of elements) of view v. */
static int out_put(conv_out *o, const conv_view *v, const uint8_t *p, size_t n)
{
    while (n) {
        size_t room = CONV_CHUNK - o->n, step = n < room ? n : room;
        memcpy(o->buf + o->n, p, step);
        o->n += step;
        p += step;
        n -= step;
        if (o->n == CONV_CHUNK && !out_flush(o, v))
            return 0;
    }
    return 1;
}

/* ---- contiguous bytes of a source ---- */

/* Streams bytes [from, from + n) of v's storage to the output. */
static int stream_range(conv_out *o, const conv_view *v, uint64_t from, uint64_t n)
{
    if (v->src.method == 0) {
        while (n) {
            size_t room = CONV_CHUNK - o->n, step = n < room ? (size_t)n : room;
            if (!pread_all(v->src.fd, v->src.at + from, o->buf + o->n, step)) {
                o->read_fail = 1;
                return 0;
            }
            o->n += step;
            from += step;
            n -= step;
            if (o->n == CONV_CHUNK && !out_flush(o, v))
                return 0;
        }
        return 1;
    }
    inflater f;
    if (!infl_open(&f, &v->src)) {
        o->read_fail = 1;
        return 0;
    }
    /* o->n is 0 here (flushed per tensor): the whole buffer serves as scratch */
    int ok = infl_skip(&f, v->src.skip + from, o->buf + o->n);
    while (ok && n) {
        size_t room = CONV_CHUNK - o->n, step = n < room ? (size_t)n : room;
        ok = infl_read(&f, o->buf + o->n, step) == (int64_t)step;
        if (ok) {
            o->n += step;
            n -= step;
            ok = o->n < CONV_CHUNK || out_flush(o, v);
        }
    }
    if (ok && o->check_end) {
        uint8_t extra;
        ok = infl_read(&f, &extra, 1) == 0 && f.ended;
    }
    if (o->check_end)
        o->bad_record = !ok && !o->failed;
    else
        o->read_fail |= !ok && !o->failed;
    infl_close(&f);
    return ok;
}

int conv_read(const conv_source *src, uint64_t from, uint8_t *p, size_t n)
{
    if (src->method == 0)
        return pread_all(src->fd, src->at + from, p, n);
    inflater f;
    if (!infl_open(&f, src))
        return 0;
    uint8_t *scratch = malloc(CONV_CHUNK);
    int ok =
        scratch && infl_skip(&f, src->skip + from, scratch) && infl_read(&f, p, n) == (int64_t)n;
    free(scratch);
    infl_close(&f);
    return ok;
}

/* ---- views ---- */

int conv_contiguous(const conv_view *v)
{
    int64_t want = 1;
    for (size_t d = v->ndim; d-- > 0;) {
        if (v->shape[d] != 1 && v->stride[d] != want)
            return v->numel == 0;
        want *= v->shape[d];
    }
    return 1;
}

int conv_span(const conv_view *v, uint64_t *bytes)
{
    uint64_t last = 0, step, end;
    for (size_t d = 0; d < v->ndim; d++) {
        if (v->shape[d] == 0) {
            *bytes = 0;
            return 1;
        }
        if (mul_overflows((uint64_t)v->shape[d] - 1, (uint64_t)v->stride[d], &step) ||
            add_overflows(last, step, &last))
            return 0;
    }
    return !add_overflows(v->offset, last, &end) && !add_overflows(end, 1, &end) &&
           !mul_overflows(end, v->elsize, bytes);
}

/* Fetches elements of a storage by byte offset: from a buffer holding the
 * whole span when it fits, else through a CONV_CHUNK window (stored only). */
typedef struct fetcher {
    const conv_view *v;
    uint8_t *buf;
    uint64_t base; /* storage byte offset of buf[0] */
    size_t len;    /* bytes valid in buf */
    int whole;     /* buf holds the whole span */
} fetcher;

static const uint8_t *fetch(fetcher *f, uint64_t at)
{
    if (at >= f->base && at - f->base + f->v->elsize <= f->len)
        return f->buf + (at - f->base);
    if (f->whole)
        return NULL;
    uint64_t left = f->v->src.bytes - at;
    size_t n = left < CONV_CHUNK ? (size_t)left : CONV_CHUNK;
    if (n < f->v->elsize || !pread_all(f->v->src.fd, f->v->src.at + at, f->buf, n))
        return NULL;
    f->base = at;
    f->len = n;
    return f->buf;
}

static int fetcher_open(fetcher *f, const conv_view *v, uint64_t span, uint64_t gather_max)
{
    memset(f, 0, sizeof(*f));
    f->v = v;
    uint64_t from = v->offset * v->elsize, n = span - from;
    f->whole = n <= gather_max || v->src.method != 0;
    f->buf = malloc(f->whole ? (size_t)(n ? n : 1) : CONV_CHUNK);
    if (!f->buf)
        return 0;
    if (!f->whole)
        return 1;
    f->base = from;
    f->len = (size_t)n;
    return conv_read(&v->src, from, f->buf, (size_t)n);
}

/* Row-major walk over every element: an odometer over the outer dims, the
 * last dim in the inner loop. */
static int gather(conv_out *o, const conv_view *v, fetcher *f)
{
    size_t nd = v->ndim;
    uint64_t idx[64] = {0};
    uint64_t inner = nd ? (uint64_t)v->shape[nd - 1] : 1;
    int64_t istride = nd ? v->stride[nd - 1] : 0;
    for (;;) {
        uint64_t at = v->offset;
        for (size_t d = 0; d + 1 < nd; d++)
            at += idx[d] * (uint64_t)v->stride[d];
        for (uint64_t i = 0; i < inner; i++) {
            const uint8_t *p = fetch(f, (at + i * (uint64_t)istride) * v->elsize);
            if (!p) {
                o->read_fail = 1;
                return 0;
            }
            if (!out_put(o, v, p, v->elsize))
                return 0;
        }
        size_t d = nd > 1 ? nd - 1 : 0;
        while (d > 0 && ++idx[d - 1] == (uint64_t)v->shape[d - 1])
            idx[--d] = 0;
        if (d == 0)
            return 1;
    }
}

/* ---- large strided views: blocks of output rows, read in source order ---- */

/* One dimension of a block walk, in elements. */
typedef struct bdim {
    uint64_t len;
    uint64_t src; /* stride in the storage */
    uint64_t out; /* stride in the output block */
} bdim;

/* Largest source stride first: the innermost loop then walks the storage
 * forward, in contiguous runs when its stride is 1. */
static int bdim_cmp(const void *a, const void *b)
{
    const bdim *x = a, *y = b;
    if (x->src != y->src)
        return x->src > y->src ? -1 : 1;
    return (x->out < y->out) - (x->out > y->out);
}

typedef struct blockwalk {
    const conv_view *v;
    fetcher *f;     /* a CONV_CHUNK window for strided elements */
    uint8_t *block; /* the output rows being filled */
    uint8_t *run;   /* CONV_CHUNK of one contiguous run */
} blockwalk;

/* A contiguous run of the storage, scattered to out, out + ostride, ... */
static int copy_run(blockwalk *w, uint64_t src, uint64_t len, uint64_t out, uint64_t ostride)
{
    uint32_t el = w->v->elsize;
    for (uint64_t done = 0; done < len;) {
        uint64_t m = len - done < CONV_CHUNK / el ? len - done : CONV_CHUNK / el;
        if (!pread_all(w->v->src.fd, w->v->src.at + (src + done) * el, w->run, (size_t)(m * el)))
            return 0;
        for (uint64_t i = 0; i < m; i++)
            memcpy(w->block + (out + (done + i) * ostride) * el, w->run + i * el, el);
        done += m;
    }
    return 1;
}

/* Bytes of output one tile writes per output row: a transposition reads
 * TILE_BYTES / elsize source runs and writes them back as contiguous
 * pieces, so a scattered store (one TLB miss per element when the output
 * rows are pages apart) becomes one per tile. */
#define TILE_BYTES 256

/* k elements spaced `stride` bytes apart from src, to dst back to back;
 * fixed sizes so that each copy is one load and one store. */
static void gather_row(uint8_t *dst, const uint8_t *src, uint64_t stride, uint64_t k, uint32_t el)
{
#define GATHER(n)                                                                                  \
    for (uint64_t j = 0; j < k; j++)                                                               \
        memcpy(dst + j * (n), src + j * stride, (n));                                              \
    return
    switch (el) {
    case 1: GATHER(1);
    case 2: GATHER(2);
    case 4: GATHER(4);
    case 8: GATHER(8);
    default: GATHER(el);
    }
#undef GATHER
}

/* Source runs a0 .. a0 + k of dim a (output stride 1), each a contiguous
 * run along dim b (source stride 1): read, then stored k elements at a time. */
static int copy_tile(blockwalk *w, uint64_t src, uint64_t out, const bdim *a, const bdim *b,
                     uint64_t k)
{
    uint32_t el = w->v->elsize;
    uint64_t step = CONV_CHUNK / (el * k);
    for (uint64_t done = 0; done < b->len; done += step) {
        uint64_t m = b->len - done < step ? b->len - done : step;
        for (uint64_t j = 0; j < k; j++)
            if (!pread_all(w->v->src.fd, w->v->src.at + (src + j * a->src + done) * el,
                           w->run + j * m * el, (size_t)(m * el)))
                return 0;
        for (uint64_t i = 0; i < m; i++)
            gather_row(w->block + (out + (done + i) * b->out) * el, w->run + i * el, m * el, k, el);
    }
    return 1;
}

/* The innermost dim is contiguous in the source and the one before it in
 * the output (a transpose): tiles of that dim. */
static int tiled(const bdim *d, size_t n)
{
    return n >= 2 && d[n - 1].src == 1 && d[n - 2].out == 1 && d[n - 1].out != 1;
}

/* The two innermost dims at src/out: a transposition in tiles, or runs. */
static int fill_inner(blockwalk *w, const bdim *d, size_t n, uint64_t src, uint64_t out)
{
    uint32_t el = w->v->elsize;
    const bdim *a = &d[n - 2], *b = &d[n - 1];
    uint64_t k = TILE_BYTES / el ? TILE_BYTES / el : 1;
    for (uint64_t a0 = 0; a0 < a->len; a0 += k) {
        uint64_t kk = a->len - a0 < k ? a->len - a0 : k;
        if (!copy_tile(w, src + a0 * a->src, out + a0, a, b, kk))
            return 0;
    }
    return 1;
}

/* Fills the block: d[0..n) in source order, base = the storage element of
 * the block's first element. */
static int fill_block(blockwalk *w, const bdim *d, size_t n, uint64_t base)
{
    uint64_t idx[64] = {0};
    const bdim *in = &d[n - 1];
    uint32_t el = w->v->elsize;
    size_t outer = tiled(d, n) ? n - 2 : n - 1; /* dims the odometer walks */
    for (;;) {
        uint64_t src = base, out = 0;
        for (size_t k = 0; k < outer; k++) {
            src += idx[k] * d[k].src;
            out += idx[k] * d[k].out;
        }
        if (outer == n - 2) {
            if (!fill_inner(w, d, n, src, out))
                return 0;
        } else if (in->src == 1) {
            if (!copy_run(w, src, in->len, out, in->out))
                return 0;
        } else {
            for (uint64_t i = 0; i < in->len; i++) {
                const uint8_t *p = fetch(w->f, (src + i * in->src) * el);
                if (!p)
                    return 0;
                memcpy(w->block + (out + i * in->out) * el, p, el);
            }
        }
        size_t k = outer;
        while (k > 0 && ++idx[k - 1] == d[k - 1].len)
            idx[--k] = 0;
        if (k == 0)
            return 1;
    }
}

/* The dims of one block: rows [a, b) of dim s and every dim after it. */
static size_t block_dims(const conv_view *v, size_t s, uint64_t rows, const uint64_t *inner,
                         bdim *d)
{
    size_t n = 0;
    d[n++] = (bdim){rows, (uint64_t)v->stride[s], inner[s]};
    for (size_t k = s + 1; k < v->ndim; k++)
        if (v->shape[k] > 1)
            d[n++] = (bdim){(uint64_t)v->shape[k], (uint64_t)v->stride[k], inner[k]};
    qsort(d, n, sizeof(*d), bdim_cmp);
    return n;
}

/* A view whose storage span passes the gather buffer: output blocks of at
 * most `budget` bytes (whole rows of dim s), each filled by walking its
 * storage in address order. */
static int gather_blocks(conv_out *o, const conv_view *v, uint64_t budget, blockwalk *w)
{
    size_t nd = v->ndim, s = nd - 1;
    uint64_t inner[64], idx[64] = {0}; /* inner[k]: output elements per index of dim k */
    inner[nd - 1] = 1;
    for (size_t k = nd - 1; k-- > 0;)
        inner[k] = inner[k + 1] * (uint64_t)v->shape[k + 1];
    while (s > 0 && inner[s - 1] * v->elsize <= budget)
        s--;
    uint64_t rows = budget / (inner[s] * v->elsize);
    rows = rows < 1 ? 1 : rows > (uint64_t)v->shape[s] ? (uint64_t)v->shape[s] : rows;
    for (;;) {
        uint64_t base = v->offset;
        for (size_t k = 0; k < s; k++)
            base += idx[k] * (uint64_t)v->stride[k];
        for (uint64_t a = 0; a < (uint64_t)v->shape[s]; a += rows) {
            uint64_t r = (uint64_t)v->shape[s] - a < rows ? (uint64_t)v->shape[s] - a : rows;
            bdim d[64];
            size_t n = block_dims(v, s, r, inner, d);
            if (!fill_block(w, d, n, base + a * (uint64_t)v->stride[s])) {
                o->read_fail = 1;
                return 0;
            }
            if (!out_put(o, v, w->block, (size_t)(r * inner[s] * v->elsize)))
                return 0;
        }
        size_t k = s;
        while (k > 0 && ++idx[k - 1] == (uint64_t)v->shape[k - 1])
            idx[--k] = 0;
        if (k == 0)
            return 1;
    }
}

static int write_blocks(conv_out *o, const conv_view *v, uint64_t budget)
{
    fetcher f = {v, malloc(CONV_CHUNK), 0, 0, 0};
    blockwalk w = {v, &f, malloc((size_t)budget), malloc(CONV_CHUNK)};
    int ok = f.buf && w.block && w.run && gather_blocks(o, v, budget, &w);
    if (!f.buf || !w.block || !w.run)
        o->read_fail = 1;
    free(f.buf);
    free(w.block);
    free(w.run);
    return ok;
}

int conv_write_view(conv_out *o, const conv_view *v, uint64_t gather_max)
{
    uint64_t span;
    int ok = 1;
    if (v->numel == 0 || !conv_span(v, &span))
        ok = v->numel == 0;
    else if (conv_contiguous(v))
        ok = stream_range(o, v, v->offset * v->elsize, v->numel * v->elsize);
    else if (v->src.method == 0 && span - v->offset * v->elsize > gather_max)
        ok = write_blocks(o, v, gather_max < CONV_CHUNK ? CONV_CHUNK : gather_max);
    else {
        fetcher f;
        ok = fetcher_open(&f, v, span, gather_max) && gather(o, v, &f);
        if (!ok && !o->failed)
            o->read_fail = 1;
        free(f.buf);
    }
    return ok && out_flush(o, v);
}
