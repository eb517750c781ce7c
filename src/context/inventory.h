/* SPDX-License-Identifier: Apache-2.0 */
/* The inventory of an inspection as the readers fill it during a scan
 * (members, torch's records, storage records, each pickle's result): the
 * store, kept in the report (ckpt_report.insp). What a pickle's result
 * means (the walker) and the checks once the file is read are a layer up,
 * in src/inspect/ (inspect.h). */
#ifndef CKPT_INVENTORY_H
#define CKPT_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"
#include "scan.h"
#include "strbuf.h"

struct value;

typedef struct insp_tensor {
    ckpt_tensor pub;      /* strings and arrays in the report's arena */
    size_t entry;         /* top-level entry it sits under, or SIZE_MAX */
    unsigned pickle_seq;  /* which collected pickle it came from */
    uint32_t elsize;      /* 0: unknown */
    int storage_in_bytes; /* UntypedStorage: storage_numel counts bytes */
    int extent_bad;       /* the view does not fit its storage */
    int tar_pending;      /* a tar's persistent id: 1 key in tar_key, 2 no int key */
    int64_t tar_key;
} insp_tensor;

/* Where a storage record's bytes lie in the input file itself (for
 * ckpt_convert_*; records of nested archives have none). */
typedef struct insp_where {
    uint64_t at;     /* offset of the record's (compressed) bytes in the file */
    uint64_t comp;   /* their length in the file (the record's size when stored) */
    unsigned method; /* zip method: 0 stored, 8 deflate */
} insp_where;

typedef struct insp_record {
    const char *key; /* storage key (report arena) */
    size_t key_len;
    uint64_t bytes;
    insp_where where;
    int located; /* where is known */
} insp_record;

/* torch's legacy tar layout: a storage of its `storages` member (a root
 * record, or an entry of the storage-views list), and a tensor record of
 * its `tensors` member. Matched with the main pickle's persistent ids in
 * insp_finish (inspect_tar.c), as legacy_load's deserialized_objects. */
typedef struct insp_tar_storage {
    int64_t key;
    const char *dtype; /* "" when the storage class is unknown */
    uint32_t elsize;
    uint64_t bytes;
    insp_where where;
    int located;
    int is_view;         /* (key, root, offset, numel) of the views list */
    int64_t root;        /* views: the root's key */
    uint64_t off, numel; /* views: in the root's elements */
} insp_tar_storage;

typedef struct insp_tar_tensor {
    int64_t key, storage;
    size_t ndim;
    const int64_t *shape, *stride; /* report arena */
    int64_t offset;
} insp_tar_tensor;

struct insp {
    ckpt_report *rep;

    ckpt_member *members;
    size_t nmembers, members_cap;

    ckpt_torch_info torch;

    insp_tensor *tensors;
    size_t ntensors, tensors_cap;

    ckpt_entry *entries;
    size_t nentries, entries_cap;
    int main_prio;           /* how sure we are the entries are the main object */
    uint64_t main_offset;    /* where the main pickle starts in its member */
    unsigned entries_seq;    /* pickle the entries came from */
    unsigned pickle_seq;     /* pickles collected so far */
    uint64_t expect_main_at; /* legacy: offset of the main object's pickle */

    insp_record *records;
    size_t nrecords, records_cap;

    const char **import_usage; /* per import index, or NULL */
    size_t import_usage_cap;

    ckpt_dtype_total *dtypes;
    size_t ndtypes;

    insp_tar_storage *tar_storages;
    size_t ntar_storages, tar_storages_cap;
    insp_tar_tensor *tar_tensors;
    size_t ntar_tensors, tar_tensors_cap;
    int tar_unsure; /* a key that is not a plain int: nothing is matched */

    uint64_t budget; /* bytes the inventory may still use (max-memory / 16) */
    int main_now;    /* the member being scanned is the one torch loads */

    /* Takes the value a pickle of the inspected file returned into the
     * inventory (inspect.c sets it: the walker is a layer above). */
    void (*on_pickle)(struct insp *in, const char *member, uint64_t offset, int protocol,
                      const struct value *root);
};

/* 1 when the current walk belongs to the inspected file itself (not a
 * probe, a discarded reading or an embedded pickle). */
int insp_active(const scan_ctx *ctx);

/* ---- what the readers hand over ---- */
void insp_set_layout(scan_ctx *ctx, const char *layout);
/* The legacy reader's main object is the pickle starting at `offset`. */
void insp_expect_main(scan_ctx *ctx, uint64_t offset);
/* The archive member scanned between these is the one torch.load reads. */
void insp_main_member(scan_ctx *ctx, int on);
void insp_add_member(scan_ctx *ctx, const ckpt_member *m);
void insp_set_record_text(scan_ctx *ctx, const char *which, const uint8_t *p, size_t n);
/* where: NULL when the bytes are not in the file itself. */
void insp_add_storage_record(scan_ctx *ctx, const char *key, size_t key_len, uint64_t bytes,
                             const insp_where *where);
/* torch's tar members (tar_torch.c; inspect_tar.c). A reset starts a
 * member again (tarfile and torch read the last of a name). */
void insp_tar_reset(scan_ctx *ctx, int tensors);
void insp_tar_add_storage(scan_ctx *ctx, const insp_tar_storage *s);
/* sizes and strides: ndim little-endian int64 each, from the member. */
void insp_tar_add_tensor(scan_ctx *ctx, int64_t key, int64_t storage, size_t ndim,
                         const uint8_t *sizes, const uint8_t *strides, int64_t offset);
/* A record whose keys are not plain ints: the tar inventory is not matched. */
void insp_tar_unsure(scan_ctx *ctx);
/* The value a pickle's STOP returned (pickle.c): handed to in->on_pickle. */
void insp_pickle_result(scan_ctx *ctx, const char *member, uint64_t offset, int protocol,
                        const struct value *root);
/* Part of a pickle of the inspected file is not in the inventory: it
 * stopped before STOP, or loaders read it differently (frame straddle). */
void insp_walk_incomplete(scan_ctx *ctx);

/* ---- the store's own operations (the walker's and the checks') ---- */
/* Appends s[0..n) with NUL bytes written as \x00 (paths and keys are C
 * strings: two keys that differ after a NUL must not look the same). */
void insp_put_text(strbuf *sb, const char *s, size_t n);
/* The same into the report's arena; never NULL. */
const char *insp_text(ckpt_report *rep, const char *s, size_t n);
/* Accounts for `bytes` more of inventory; 0 when that passes the memory
 * budget (the walk is then incomplete). */
int insp_charge(struct insp *in, uint64_t bytes);
insp_tensor *insp_new_tensor(struct insp *in);
ckpt_entry *insp_new_entry(struct insp *in);
/* A new zeroed storage record, or NULL. */
insp_record *insp_new_record(struct insp *in);
void insp_note_usage(struct insp *in, size_t import_index, const char *path, size_t len);

#endif
