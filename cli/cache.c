/* SPDX-License-Identifier: Apache-2.0 */
/* --cache DIR: scan reports stored under a key made of the file's SHA-256, the
 * engine build and the effective configuration, so that an unchanged file is
 * only hashed. Trust: whoever can write DIR can forge reports, so DIR must be
 * owned by the user and writable by nobody else; every entry is checked
 * (owner, mode, key, length, checksum, report structure) and anything odd is
 * a miss, so a broken entry costs a rescan, never a verdict. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAGIC         "ckptscan-cache 1\n"
#define MAX_ENTRY     (64u << 20) /* a report with max-findings findings fits */
#define FRESH_SECONDS 2           /* timestamps this recent may not have ticked yet */

struct cli_cache {
    int dirfd;
    char base[65]; /* sha256 of the engine build and the configuration */
    time_t started;
    pthread_mutex_t lock;
    unsigned long long temp_seq;
    int warned; /* a store failed (said once) */
};

/* A growable byte buffer that ckpt_write_fn can fill. */
typedef struct buf {
    char *p;
    size_t n, cap;
    int failed;
} buf;

static int buf_write(void *ctx, const char *bytes, size_t len)
{
    buf *b = ctx;
    if (grow_array((void **)&b->p, &b->cap, b->n + len, 1) < 0) {
        b->failed = 1;
        return -1;
    }
    memcpy(b->p + b->n, bytes, len);
    b->n += len;
    return 0;
}

/* The file that holds the scanning engine (the library, or the executable
 * it is linked into): its bytes stand for the built-in tables and code. */
static int engine_digest(char hex[65])
{
    Dl_info info;
    if (dladdr((void *)ckpt_version, &info) && info.dli_fname && strchr(info.dli_fname, '/') &&
        sha256_file(info.dli_fname, hex) == 0)
        return 0;
    return sha256_file("/proc/self/exe", hex);
}

/* sha256(engine build, configuration text). */
static int base_key(const ckpt_scanner *s, char hex[65])
{
    char engine[65];
    if (engine_digest(engine) < 0)
        return -1;
    buf b = {0};
    buf_write(&b, "engine ", 7);
    buf_write(&b, engine, 64);
    buf_write(&b, "\n", 1);
    if (ckpt_scanner_write_config(s, buf_write, &b) != CKPT_OK || b.failed) {
        free(b.p);
        return -1;
    }
    sha256_hex(b.p, b.n, hex);
    free(b.p);
    return 0;
}

/* The directory, created (mode 0700) when missing, opened and checked. */
static int open_dir(const char *dir)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "ckptscan: --cache %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "ckptscan: --cache %s: %s\n", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char *why = st.st_uid != geteuid() ? "is owned by another user"
                      : (st.st_mode & 022)   ? "is writable by group or others"
                      : faccessat(fd, ".", W_OK | X_OK, AT_EACCESS) != 0 ? "is not writable"
                                                                         : NULL;
    if (why) {
        fprintf(stderr,
                "ckptscan: --cache %s %s (mode %04o): whoever can write the cache can forge "
                "scan results, so it must be yours alone (chown it, or chmod go-w)\n",
                dir, why, (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    return fd;
}

cli_cache *cache_open(const char *dir, const ckpt_scanner *s)
{
    cli_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (base_key(s, c->base) < 0) {
        fprintf(stderr, "ckptscan: --cache: cannot identify the scanning engine's build\n");
        free(c);
        return NULL;
    }
    c->dirfd = open_dir(dir);
    if (c->dirfd < 0) {
        free(c);
        return NULL;
    }
    c->started = time(NULL);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void cache_close(cli_cache *c)
{
    if (!c)
        return;
    close(c->dirfd);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* "ab/cdef..." for the key of content digest `sha`. */
static void entry_name(const cli_cache *c, const char *sha, char key[65], char name[67])
{
    char text[160];
    int n = snprintf(text, sizeof(text), "ckptscan-cache|%s|%s", c->base, sha);
    sha256_hex(text, (size_t)n, key);
    snprintf(name, 67, "%.2s/%s", key, key + 2);
}

/* The whole of a regular file owned by us and writable by nobody else. */
static char *read_entry(const cli_cache *c, const char *name, size_t *len)
{
    int fd = openat(c->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *data = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        !(st.st_mode & 022) && st.st_size > 0 && (uint64_t)st.st_size <= MAX_ENTRY)
        data = malloc((size_t)st.st_size);
    size_t got = 0;
    while (data && got < (size_t)st.st_size) {
        ssize_t k = pread(fd, data + got, (size_t)st.st_size - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (data && got != (size_t)st.st_size) {
        free(data);
        data = NULL;
    }
    *len = got;
    return data;
}

/* The payload of an entry: MAGIC, key line, length line, checksum line,
 * payload; NULL when any of it is off. */
static const char *entry_payload(const char *data, size_t len, const char *key, size_t *plen)
{
    size_t m = sizeof(MAGIC) - 1;
    if (len < m + 65 + 2 + 65 || memcmp(data, MAGIC, m) != 0 || memcmp(data + m, key, 64) != 0 ||
        data[m + 64] != '\n')
        return NULL;
    const char *p = data + m + 65, *end = data + len;
    unsigned long long n = 0;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 12)
        n = n * 10 + (unsigned long long)(*p++ - '0');
    if (p == digits || p >= end || *p++ != '\n' || (size_t)(end - p) < 65)
        return NULL;
    const char *sum = p, *payload = p + 65;
    if (sum[64] != '\n' || (size_t)(end - payload) != n)
        return NULL;
    char hex[65];
    sha256_hex(payload, (size_t)n, hex);
    if (memcmp(hex, sum, 64) != 0)
        return NULL;
    *plen = (size_t)n;
    return payload;
}

ckpt_report *cache_get(const cli_cache *c, const char *sha, uint64_t size, const char *path)
{
    char key[65], name[67];
    entry_name(c, sha, key, name);
    size_t len = 0, plen = 0;
    char *data = read_entry(c, name, &len);
    const char *payload = data ? entry_payload(data, len, key, &plen) : NULL;
    ckpt_report *r = NULL;
    if (payload && ckpt_report_load(payload, plen, path, &r) == CKPT_OK &&
        (ckpt_report_size(r) != size || ckpt_report_verdict(r) == CKPT_VERDICT_ERROR)) {
        ckpt_report_free(r); /* not a report of these bytes */
        r = NULL;
    }
    free(data);
    return r;
}

/* 1 when the report may be stored: a report of bytes that could be read,
 * and no max-memory-process limit hit (that one depends on what else the
 * process was scanning at the time; every other limit is a function of
 * the bytes and the configuration, which are in the key). */
static int storable(const ckpt_report *r)
{
    if (ckpt_report_verdict(r) == CKPT_VERDICT_ERROR || ckpt_report_inspected(r))
        return 0;
    static const char shared[] = "max-memory-process";
    for (size_t i = 0; i < ckpt_report_finding_count(r); i++) {
        ckpt_finding f;
        if (ckpt_report_finding(r, i, &f) != CKPT_OK ||
            (f.code == CKPT_F_LIMIT && strncmp(f.message, shared, sizeof(shared) - 1) == 0))
            return 0;
    }
    return 1;
}

static void warn_once(cli_cache *c, const char *what)
{
    pthread_mutex_lock(&c->lock);
    int first = !c->warned;
    c->warned = 1;
    pthread_mutex_unlock(&c->lock);
    if (first)
        fprintf(stderr, "ckptscan: --cache: cannot store reports (%s: %s); scanning goes on\n",
                what, strerror(errno));
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Writes the entry to a temporary file beside its place and renames it
 * there, so that a reader sees a whole entry or none. */
static void store_entry(cli_cache *c, const char *name, const char *data, size_t len)
{
    char sub[3] = {name[0], name[1], '\0'}, tmp[96];
    if (mkdirat(c->dirfd, sub, 0700) != 0 && errno != EEXIST) {
        warn_once(c, "mkdir");
        return;
    }
    pthread_mutex_lock(&c->lock);
    unsigned long long seq = c->temp_seq++;
    pthread_mutex_unlock(&c->lock);
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%ld-%llu", sub, (long)getpid(), seq);
    int fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        warn_once(c, "create");
        return;
    }
    int ok = write_all(fd, data, len) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || renameat(c->dirfd, tmp, c->dirfd, name) != 0) {
        warn_once(c, ok ? "rename" : "write");
        unlinkat(c->dirfd, tmp, 0);
    }
}

void cache_put(cli_cache *c, const char *sha, const ckpt_report *r)
{
    if (!storable(r))
        return;
    buf payload = {0}, entry = {0};
    if (ckpt_report_save(r, buf_write, &payload) != CKPT_OK || payload.failed) {
        free(payload.p);
        return;
    }
    char key[65], name[67], sum[65], head[64];
    entry_name(c, sha, key, name);
    sha256_hex(payload.p, payload.n, sum);
    int hn = snprintf(head, sizeof(head), "\n%zu\n", payload.n);
    buf_write(&entry, MAGIC, sizeof(MAGIC) - 1);
    buf_write(&entry, key, 64);
    buf_write(&entry, head, (size_t)hn);
    buf_write(&entry, sum, 64);
    buf_write(&entry, "\n", 1);
    buf_write(&entry, payload.p, payload.n);
    if (!entry.failed)
        store_entry(c, name, entry.p, entry.n);
    free(payload.p);
    free(entry.p);
}

/* The identity of a file's content at a moment: a write or a rename
 * changes the change time, which no one but root can set back. */
int cache_file_unchanged(const cli_cache *c, const struct stat *a, const struct stat *b)
{
    time_t newest = a->st_ctim.tv_sec > a->st_mtim.tv_sec ? a->st_ctim.tv_sec : a->st_mtim.tv_sec;
    /* a write in the same clock tick as the first look leaves the times
     * as they were: only files older than that are trusted */
    if (newest + FRESH_SECONDS > c->started)
        return 0;
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}
