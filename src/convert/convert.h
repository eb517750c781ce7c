/* SPDX-License-Identifier: Apache-2.0 */
/* ckpt_convert_safetensors' internals: the plan of one conversion (which
 * tensor comes from where) and the streaming of tensor bytes from the file
 * into the sink with bounded buffers (convert_data.c). */
#ifndef CKPT_CONVERT_H
#define CKPT_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "ckptscan.h"
#include "inspect.h"
#include "safetensors_write.h"

/* Bytes read or produced per step when streaming. */
#define CONV_CHUNK (1u << 20)

/* Where one storage's bytes are and how to read them. */
typedef struct conv_source {
    int fd;
    uint64_t at;     /* offset in the file of its (compressed) bytes */
    uint64_t comp;   /* their length in the file */
    uint64_t bytes;  /* the storage's size, uncompressed */
    unsigned method; /* 0 stored, 8 deflate */
    uint64_t skip;   /* deflate: uncompressed bytes before the storage (a .npy header) */
} conv_source;

/* One tensor to write: a strided view of a source, in elements. */
typedef struct conv_view {
    conv_source src;
    uint32_t elsize;
    int swap; /* byte-swap each element (a big-endian storage) */
    size_t ndim;
    const int64_t *shape, *stride;
    uint64_t offset; /* storage offset, elements */
    uint64_t numel;
} conv_view;

/* The sink with a CONV_CHUNK buffer, swapped and flushed per tensor. */
typedef struct conv_out {
    ckpt_write_fn write;
    void *ctx;
    uint8_t *buf;
    size_t n;
    uint64_t total;
    int failed;     /* the sink refused bytes */
    int read_fail;  /* the input could not be read as planned */
    int check_end;  /* a deflated stream must end where this view ends */
    int bad_record; /* ... and did not (or inflated short) */
} conv_out;

/* 1 when v's elements are in row-major order, back to back. */
int conv_contiguous(const conv_view *v);
/* Bytes of storage v spans from its offset (its last element's end). */
int conv_span(const conv_view *v, uint64_t *bytes);
/* Inflates a deflated source once to its end: 1 when it holds exactly
 * src->bytes (the record is what its header says). */
int conv_check_deflated(const conv_source *src);
/* Streams v's elements, row-major, to out; gathers through buffers of at
 * most `gather_max` bytes. 0 on a read or sink error (out says which). */
int conv_write_view(conv_out *out, const conv_view *v, uint64_t gather_max);
/* Reads bytes [from, from + n) of a source (after its skip) into p. */
int conv_read(const conv_source *src, uint64_t from, uint8_t *p, size_t n);
/* Writes raw bytes (the header) through out. */
int conv_write_raw(conv_out *out, const void *p, size_t n);

/* ---- planning (convert.c, convert_npy.c) ---- */

typedef struct conv_item {
    ckpt_converted pub;
    conv_view view;
    const insp_record *rec; /* torch: its storage record */
} conv_item;

struct ckpt_conversion {
    ckpt_report *rep;
    ckpt_convert_outcome outcome;
    char message[1024];
    uint64_t bytes;
    conv_item *items;
    size_t n;
};

typedef struct planner {
    ckpt_conversion *c;
    int fd;
    const char *path;
    uint64_t file_size;
    uint64_t gather_max;
    unsigned flags;
    int swap;
    size_t unsupported;
    uint64_t total;      /* output data bytes so far */
    uint64_t max_output; /* max-file-size: a stride-0 view may expand without bound */
} planner;

/* Sets the outcome and its message; returns the outcome. */
ckpt_convert_outcome conv_decide(ckpt_conversion *c, ckpt_convert_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Counts an item's bytes into p->total; a refusal when max-file-size passes. */
ckpt_convert_outcome conv_charge(planner *p, const conv_item *it);
/* Checks a planned view against its source (span, gather bound). */
ckpt_convert_outcome conv_check_view(planner *p, const conv_item *it, const char *what);
/* convert_npy.c: the arrays of a .npy or .npz into p->c->items. */
ckpt_convert_outcome conv_plan_numpy(planner *p);

#endif
