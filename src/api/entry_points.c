/* SPDX-License-Identifier: Apache-2.0 */
/* Scanning entry points: read the input, pick the format readers, return
 * the report. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats.h"
#include "inspect.h"
#include "mapguard.h"
#include "seen.h"
#include "scan.h"
#include "util.h"

/* What a scan does besides the report: a listing, an inspection. */
typedef struct scan_opts {
    dis_sink *dis;
    int inspect;
} scan_opts;

static ckpt_report *new_report(const ckpt_scanner *s, const char *name, const scan_opts *o)
{
    ckpt_report *r = report_new(name, s->limits[CKPT_LIMIT_FINDINGS], s->strict);
    if (r && o && o->inspect && !insp_attach(r, s->limits[CKPT_LIMIT_MEMORY] / 16)) {
        ckpt_report_free(r);
        return NULL;
    }
    return r;
}

/* Scans an in-memory image of the whole input into r (listing the pickles
 * into `dis` when it is not NULL). */
static void scan_image(const ckpt_scanner *s, ckpt_report *r, const uint8_t *data, size_t len,
                       const scan_opts *o, int mapped)
{
    scan_ctx ctx = {.sc = s,
                    .nest = &formats_nested,
                    .rep = r,
                    .dis = o ? o->dis : NULL,
                    .map = mapped ? data : NULL,
                    .map_len = mapped ? len : 0,
                    .image = data,
                    .image_len = len,
                    .seen = seen_new(),

                    .joblib = JOBLIB_LOAD};
    r->size = len;
    scan_buffer(&ctx, "", data, len, &r->format);
    insp_finish(r);
    ctx_release(&ctx);
    seen_free(ctx.seen);
}

static ckpt_status scan_mem_sink(const ckpt_scanner *s, const void *data, size_t len,
                                 const char *name, const scan_opts *o, ckpt_report **out)
{
    if (!out)
        return CKPT_ERR_ARG;
    *out = NULL;
    if (!s || (!data && len))
        return CKPT_ERR_ARG;
    ckpt_report *r = new_report(s, name ? name : "<memory>", o);
    if (!r)
        return CKPT_ERR_NOMEM;
    scan_image(s, r, data ? data : (const uint8_t *)"", len, o, 0);
    *out = r;
    return CKPT_OK;
}

ckpt_status ckpt_scan_mem(const ckpt_scanner *s, const void *data, size_t len, const char *name,
                          ckpt_report **out)
{
    return scan_mem_sink(s, data, len, name, NULL, out);
}

static ckpt_status errno_status(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: return CKPT_ERR_NOT_FOUND;
    case EISDIR: return CKPT_ERR_IS_DIR;
    case EACCES:
    case EPERM: return CKPT_ERR_ACCESS;
    case ENOMEM: return CKPT_ERR_NOMEM;
    default: return CKPT_ERR_IO;
    }
}

/* Reads into buf[len..want) until it is full or the input ends (pread at
 * the same offsets when `positioned`), retrying interrupted calls. Returns
 * the new length, or -1 with errno set. */
static ssize_t fill(int fd, uint8_t *buf, size_t len, size_t want, int positioned)
{
    while (len < want) {
        ssize_t got = positioned ? pread(fd, buf + len, want - len, (off_t)len)
                                 : read(fd, buf + len, want - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        len += (size_t)got;
    }
    return (ssize_t)len;
}

/* Reads a stream that cannot be mapped (pipe, FIFO) up to the size cap. */
static ckpt_status read_stream(const ckpt_scanner *s, int fd, ckpt_report *r, const scan_opts *o)
{
    uint64_t cap = s->limits[CKPT_LIMIT_FILE_SIZE];
    size_t len = 0, alloc = 0;
    uint8_t *buf = NULL;
    for (;;) {
        size_t n = alloc ? alloc * 2 : 65536;
        uint8_t *p = realloc(buf, n);
        if (!p) {
            free(buf);
            return CKPT_ERR_NOMEM;
        }
        buf = p;
        alloc = n;
        ssize_t got = fill(fd, buf, len, alloc, 0);
        if (got < 0) {
            int e = errno;
            free(buf);
            return errno_status(e);
        }
        len = (size_t)got;
        if (len < alloc || len > cap)
            break; /* the end of the stream, or past the cap */
    }
    int over = len > cap;
    scan_image(s, r, buf, over ? (size_t)cap : len, o, 0);
    if (over)
        ctx_report_limit(r, CKPT_LIMIT_FILE_SIZE, cap);
    free(buf);
    return CKPT_OK;
}

/* Files up to this size are read into memory rather than mapped: a
 * mapping costs mmap, madvise and munmap calls, and every munmap in a
 * threaded batch interrupts the other cores (TLB shootdown). */
#define SMALL_FILE (64u << 10)

/* A small regular file, read whole (what is there if it shrank). */
static ckpt_status read_small(const ckpt_scanner *s, int fd, size_t size, ckpt_report *r,
                              const scan_opts *o)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return CKPT_ERR_NOMEM;
    ssize_t got = fill(fd, buf, 0, size, 1);
    if (got < 0) {
        int e = errno;
        free(buf);
        return errno_status(e);
    }
    size_t len = (size_t)got;
    scan_image(s, r, buf, len, o, 0);
    free(buf);
    return CKPT_OK;
}

/* `opened`: we opened fd with O_NONBLOCK (only so that opening a FIFO
 * cannot hang); streams are then read normally. Regular files ignore the
 * flag: they skip the two fcntl calls. */
static ckpt_status scan_open_fd(const ckpt_scanner *s, int fd, int opened, ckpt_report *r,
                                const scan_opts *o)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno_status(errno);
    if (S_ISDIR(st.st_mode))
        return CKPT_ERR_IS_DIR;
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        if (opened)
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        return read_stream(s, fd, r, o);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size > s->limits[CKPT_LIMIT_FILE_SIZE] || size > SIZE_MAX) {
        r->size = size;
        ctx_report_limit(r, CKPT_LIMIT_FILE_SIZE, s->limits[CKPT_LIMIT_FILE_SIZE]);
        return CKPT_OK;
    }
    if (size <= SMALL_FILE)
        return read_small(s, fd, (size_t)size, r, o);
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return read_stream(s, fd, r, o);
    madvise(map, (size_t)size, MADV_RANDOM); /* see ctx_prefetch */
    int guard = mapguard_enter(map, (size_t)size);
    scan_image(s, r, map, (size_t)size, o, 1);
    int shrank = mapguard_leave(guard);
    munmap(map, (size_t)size);
    /* the file shrank under the scan, which read zeros past its new end:
     * the report describes no file that existed */
    return shrank ? CKPT_ERR_IO : CKPT_OK;
}

/* Finishes a report whose input could not be read at all. */
static ckpt_status finish(ckpt_report *r, ckpt_status st, ckpt_report **out)
{
    r->status = st;
    *out = r;
    return st;
}

static ckpt_status scan_fd_sink(const ckpt_scanner *s, int fd, int opened, const char *name,
                                const scan_opts *o, ckpt_report **out)
{
    if (!out)
        return CKPT_ERR_ARG;
    *out = NULL;
    if (!s || fd < 0)
        return CKPT_ERR_ARG;
    ckpt_report *r = new_report(s, name ? name : "-", o);
    if (!r)
        return CKPT_ERR_NOMEM;
    ckpt_status st = scan_open_fd(s, fd, opened, r, o);
    if (st == CKPT_ERR_NOMEM) {
        ckpt_report_free(r);
        return st;
    }
    return finish(r, st, out);
}

ckpt_status ckpt_scan_fd(const ckpt_scanner *s, int fd, const char *name, ckpt_report **out)
{
    return scan_fd_sink(s, fd, 0, name, NULL, out);
}

static ckpt_status scan_file_sink(const ckpt_scanner *s, const char *path, const scan_opts *o,
                                  ckpt_report **out)
{
    if (!out)
        return CKPT_ERR_ARG;
    *out = NULL;
    if (!s || !path)
        return CKPT_ERR_ARG;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        ckpt_report *r = new_report(s, path, o);
        if (!r)
            return CKPT_ERR_NOMEM;
        return finish(r, errno_status(errno), out);
    }
    ckpt_status st = scan_fd_sink(s, fd, 1, path, o, out);
    close(fd);
    return st;
}

ckpt_status ckpt_scan_file(const ckpt_scanner *s, const char *path, ckpt_report **out)
{
    return scan_file_sink(s, path, NULL, out);
}

ckpt_status ckpt_dis_file(const ckpt_scanner *s, const char *path, const char *member,
                          ckpt_dis_fn fn, void *ctx, ckpt_report **out)
{
    if (!fn)
        return CKPT_ERR_ARG;
    dis_sink d = {fn, ctx, member, 0};
    scan_opts o = {&d, 0};
    if (path && strcmp(path, "-") == 0)
        return scan_fd_sink(s, 0, 0, "-", &o, out);
    return scan_file_sink(s, path, &o, out);
}

ckpt_status ckpt_inspect_file(const ckpt_scanner *s, const char *path, ckpt_report **out)
{
    scan_opts o = {NULL, 1};
    if (path && strcmp(path, "-") == 0)
        return scan_fd_sink(s, 0, 0, "-", &o, out);
    return scan_file_sink(s, path, &o, out);
}

ckpt_status ckpt_inspect_fd(const ckpt_scanner *s, int fd, const char *name, ckpt_report **out)
{
    scan_opts o = {NULL, 1};
    return scan_fd_sink(s, fd, 0, name, &o, out);
}

ckpt_status ckpt_inspect_mem(const ckpt_scanner *s, const void *data, size_t len, const char *name,
                             ckpt_report **out)
{
    scan_opts o = {NULL, 1};
    return scan_mem_sink(s, data, len, name, &o, out);
}
