/* SPDX-License-Identifier: Apache-2.0 */
/* Format identification and the readers of each format. Every reader is
 * given the whole image of one file or member and returns 1 when the bytes
 * hold as its format (it then scanned every pickle in it and reported its
 * anomalies), 0 when they do not (and it added nothing to the report). */
#ifndef CKPT_FORMATS_H
#define CKPT_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "pickle.h"
#include "scan.h"

/* The format dispatch (formats.c) as the entry points hand it down in
 * scan_ctx.nest: readers reach scan_buffer and scan_member through it. */
extern const nested_scan formats_nested;

/* formats.c: identifies buf[0..len) from its content, scans every reading
 * that holds (a `polyglot` finding when several do) and sets *format to the
 * main one. */
void scan_buffer(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                 ckpt_format *format);

/* formats.c: scans the content of an archive member or a decompressed
 * stream one nesting level down. With force_pickle (e.g. a `.pkl` name or
 * torch's data.pkl) it is walked as a pickle stream whatever it looks like.
 * Otherwise containers with a strong magic (zip, npy, xz, 7z, tar) are
 * scanned in full; weak evidence (a 2-3 byte compression magic, bytes that
 * parse as a pickle) is scanned but kept only if it imports something or is
 * dangerous, since tensor bytes match such evidence by chance. Tensor data
 * costs nothing. Returns 1 when something was scanned and kept. */
int scan_member(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                int force_pickle);

/* formats.c: a raw pickle stream at buf[0], as torch.load / pickle.load /
 * joblib.load read it (legacy torch layout and joblib arrays included). */
void read_pickle_stream(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                        ckpt_format *format);

/* ---- readers, one file each ---- */

/* zipview.c: 1 when an end-of-central-directory record is present. */
int zip_has_eocd(const uint8_t *buf, size_t len);
/* zipview.c: torch's (miniz) view and Python zipfile's view of a zip;
 * *format = TORCH_ZIP, NPZ or ZIP. */
int read_zip(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
             ckpt_format *format);

/* legacy.c: torch's stacked-pickle format (magic number pickle first);
 * end1: where pickle 1 ends when the caller knows it (SIZE_MAX: unknown). */
int read_torch_legacy_at(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                         size_t end1);

/* tar.c: 1 when the first tar header's checksum is valid (what torch tries). */
int tar_header_valid(const uint8_t *buf, size_t len);
/* tar.c: torch's legacy tar format, or any tar; *format = TORCH_TAR or TAR. */
int read_tar(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
             ckpt_format *format);

/* numpy.c: a .npy file (object arrays carry a pickle). */
int read_npy(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len);
/* numpy.c: 1 when buf starts a .npy whose whole header lies in buf, is one
 * numpy accepts and holds no object: its data is plain numbers that no
 * loader unpickles, so the header is all a scan of it needs. */
int npy_header_suffices(scan_ctx *ctx, const uint8_t *buf, size_t len);

/* formats.c: what buf starts with: CONTAINER_STRONG, the magic of a
 * container long enough that tensor bytes never match it by chance (zip,
 * npy, xz, 7z, a tar header with a valid checksum); CONTAINER_WEAK, a 2-4
 * byte compression magic (compressed_magic); else 0. */
enum { CONTAINER_WEAK = 1, CONTAINER_STRONG = 2 };
int container_magic(const uint8_t *buf, size_t len);

/* compress.c: 1 when buf starts with a compression magic joblib accepts. */
int compressed_magic(const uint8_t *buf, size_t len);
/* compress.c: decompresses (with size and ratio caps) and scans the result;
 * *format = JOBLIB or COMPRESSED_PICKLE. */
int read_compressed(scan_ctx *ctx, const char *member, const uint8_t *buf, size_t len,
                    ckpt_format *format);

/* compress.c: names_joblib (formats.c) over a lazy image (lazy.h): 1 when
 * the opcodes of pickle 1 hold "joblib" or "ArrayWrapper", searched as it
 * is skimmed, pulling what the skim reads and stepping over the bodies of
 * big constants as the walks do (or when what it needs cannot be held). */
int lazy_names_joblib(scan_ctx *ctx, const uint8_t *buf, size_t len);

/* legacy.c: element size of a legacy storage type (torch.FloatStorage ...),
 * 0 when unknown. */
struct value;
uint32_t legacy_storage_elsize(const struct value *type);

/* joblib.c: joblib.load's reading of one pickle stream: hooks that read
 * NumpyArrayWrapper data inside it (zf: joblib's old ZF reader, which acts
 * on NDArrayWrapper only), tracking the dtypes and wrappers the stream
 * builds. */
struct joblib_objects;
typedef struct joblib_reading {
    pickle_hooks hooks;
    int zf;
    struct joblib_objects *objs;
} joblib_reading;
void joblib_reading_init(joblib_reading *r, int zf);
void joblib_reading_release(joblib_reading *r);

#endif
