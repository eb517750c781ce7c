/* SPDX-License-Identifier: Apache-2.0 */
/* Parallel batch scanning. The main thread walks the inputs while the
 * other workers scan what the walk has found so far; then it scans too.
 * Whichever worker finishes the report that is next in line writes it,
 * and every finished one after it, so output and exit status never depend
 * on the number of threads, and no thread sits between scanning and
 * writing (-j 1 starts no thread at all). A window bounds how far workers
 * run ahead (memory stays flat). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* A finished scan: the report and what the CLI adds to it. */
typedef struct scanned {
    ckpt_report *r;
    report_extra x;
} scanned;

typedef struct batch {
    const ckpt_scanner *s;
    const cli_opts *o;
    strlist inputs; /* grows while the walk goes on */
    int walked;     /* the walk is over */
    cli_summary *sum;
    scanned **done;      /* slot i: input i once scanned */
    unsigned char *fifo; /* slot i: input i is a named pipe */
    char **aliases;      /* slot i: input i's other names (packed), or NULL */
    size_t done_cap;
    size_t next;    /* next input to hand out */
    size_t written; /* reports written so far */
    size_t window;
    int writing; /* a worker is writing reports */
    int waiting; /* workers waiting for an input or the window */
    int begun;   /* out_begin was called */
    int drawn;   /* a progress line is on the terminal */
    double t0, last_draw;
    pthread_mutex_t lock;
    pthread_cond_t moved;
} batch;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A named pipe named as an input: opened without O_NONBLOCK, so that the
 * scan waits for its writer instead of reading an empty stream. */
static ckpt_status scan_fifo(const ckpt_scanner *s, const char *path, int inspect, ckpt_report **r)
{
    int fd;
    do
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    while (fd < 0 && errno == EINTR && !cli_interrupted());
    if (fd < 0) /* reports why it cannot be read */
        return inspect ? ckpt_inspect_file(s, path, r) : ckpt_scan_file(s, path, r);
    ckpt_status st = inspect ? ckpt_inspect_fd(s, fd, path, r) : ckpt_scan_fd(s, fd, path, r);
    close(fd);
    return st;
}

/* Past this size a file is scanned, not hashed: a scan reads only what the
 * loaders would (about 0.1 MiB of a 1 GiB checkpoint, a few ms), a digest
 * reads every byte (about 0.2 s per GiB with SHA extensions). */
#define CACHE_MAX_FILE (64u << 20)

/* The whole of a regular file of at most CACHE_MAX_FILE bytes, read once
 * (*len bytes; NULL when it is more, or unreadable). */
static unsigned char *read_whole(int fd, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            unsigned char *p = cap <= CACHE_MAX_FILE ? realloc(buf, cap * 2) : NULL;
            if (!p)
                break;
            buf = p;
            cap *= 2;
        }
        ssize_t got = pread(fd, buf + n, cap - n, (off_t)n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        if (got == 0) {
            *len = n;
            return buf;
        }
        n += (size_t)got;
        if (n > CACHE_MAX_FILE)
            break;
    }
    free(buf);
    return NULL;
}

/* With --cache: the file is read into memory once, and those bytes are
 * hashed and, on a miss, scanned, so the stored report is exactly that of
 * the bytes its key names, whatever happens to the file meanwhile. Files
 * over max-file-size are handed to the library (which reports the limit
 * without reading them). Returns 0 with *r set, or -1 to scan the usual
 * way (*r NULL). */
static int scan_cached(const ckpt_scanner *s, cli_cache *c, const char *path, ckpt_report **r,
                       char sha[65], int *cached)
{
    *r = NULL;
    sha[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat before, after;
    size_t len = 0;
    unsigned char *bytes = NULL;
    if (fstat(fd, &before) != 0 || !S_ISREG(before.st_mode) ||
        (uint64_t)before.st_size > CACHE_MAX_FILE || !(bytes = read_whole(fd, &len))) {
        close(fd);
        return -1;
    }
    sha256_hex(bytes, len, sha);
    *r = cache_get(c, sha, (uint64_t)len, path);
    *cached = *r != NULL;
    ckpt_status st = CKPT_OK;
    if (!*r)
        st = (uint64_t)len > ckpt_scanner_limit(s, CKPT_LIMIT_FILE_SIZE)
                 ? ckpt_scan_fd(s, fd, path, r)
                 : ckpt_scan_mem(s, bytes, len, path, r);
    /* the times must be old and unchanged: kept although the bytes are
     * our own copy, so that a file being written is not stored midway */
    if (!*cached && *r && st == CKPT_OK && fstat(fd, &after) == 0 &&
        (uint64_t)after.st_size == len && cache_file_unchanged(c, &before, &after))
        cache_put(c, sha, *r);
    free(bytes);
    close(fd);
    if (*r)
        return 0;
    sha[0] = '\0';
    return -1;
}

static ckpt_status scan_input(const ckpt_scanner *s, const cli_opts *o, const char *path, int fifo,
                              ckpt_report **r)
{
    if (o->command == CMD_INSPECT)
        return fifo ? scan_fifo(s, path, 1, r) : ckpt_inspect_file(s, path, r);
    if (strcmp(path, "-") == 0)
        return ckpt_scan_fd(s, 0, o->label ? o->label : "-", r);
    return fifo ? scan_fifo(s, path, 0, r) : ckpt_scan_file(s, path, r);
}

static scanned *scan_one(const ckpt_scanner *s, const cli_opts *o, const char *path, int fifo)
{
    scanned *d = malloc(sizeof(*d));
    if (!d) {
        fputs("ckptscan: out of memory\n", stderr);
        exit(2);
    }
    ckpt_report *r = NULL;
    char sha[65] = "";
    int cached = 0;
    ckpt_status st = CKPT_OK;
    if (!o->cache || fifo || strcmp(path, "-") == 0 || o->command != CMD_SCAN ||
        scan_cached(s, o->cache, path, &r, sha, &cached) < 0)
        st = scan_input(s, o, path, fifo, &r);
    if (!r) {
        fprintf(stderr, "ckptscan: %s: %s\n", path, ckpt_strerror(st));
        exit(2); /* out of memory: nothing sensible left to do */
    }
    d->r = r;
    diagnose(r, &d->x);
    d->x.cached = cached;
    ckpt_verdict v = ckpt_report_verdict(r);
    int flagged = v == CKPT_VERDICT_SUSPICIOUS || v == CKPT_VERDICT_DANGEROUS;
    int digest = o->hash || (o->format == OUT_SARIF && ckpt_report_finding_count(r) > 0) ||
                 ((o->accepted || o->format == OUT_BASELINE) && flagged);
    if (digest && *sha)
        memcpy(d->x.sha256, sha, sizeof(sha)); /* the digest of the bytes scanned */
    else if (digest && !fifo && strcmp(path, "-") != 0 &&
             ckpt_report_verdict(r) != CKPT_VERDICT_ERROR && sha256_file(path, d->x.sha256) < 0)
        d->x.sha256[0] = '\0';
    d->x.accepted = baseline_accepts(o->accepted, d->x.sha256, v);
    return d;
}

/* Next index to scan, or SIZE_MAX when all are taken. Called locked. */
static size_t take(batch *b)
{
    for (;;) {
        if (cli_interrupted())
            return SIZE_MAX; /* stop scheduling; what is in flight finishes */
        if (b->next < b->inputs.n && b->next < b->written + b->window)
            return b->next++;
        if (b->next >= b->inputs.n && b->walked)
            return SIZE_MAX;
        b->waiting++;
        struct timespec until; /* wakes up now and then to see a signal */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000;
        if (until.tv_nsec >= 1000000000)
            until.tv_sec++, until.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&b->moved, &b->lock, &until);
        b->waiting--;
    }
}

static void write_ready(batch *b);

static void *worker(void *arg)
{
    batch *b = arg;
    pthread_mutex_lock(&b->lock);
    size_t i;
    while ((i = take(b)) != SIZE_MAX) {
        const char *path = b->inputs.v[i]; /* the array moves as the walk grows it */
        int fifo = b->fifo[i];
        const char *aliases = b->aliases[i];
        pthread_mutex_unlock(&b->lock);
        scanned *r = scan_one(b->s, b->o, path, fifo);
        r->x.aliases = aliases;
        pthread_mutex_lock(&b->lock);
        b->done[i] = r;
        if (!b->writing)
            write_ready(b);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* The walk's sink: a new input for the workers. */
static int add_input(void *ctx, const char *path, int fifo, char *aliases)
{
    batch *b = ctx;
    pthread_mutex_lock(&b->lock);
    int rc = 0;
    if (b->inputs.n == b->done_cap) {
        size_t cap = b->done_cap ? b->done_cap * 2 : 256;
        scanned **d = realloc(b->done, cap * sizeof(*d));
        if (d) {
            memset(d + b->done_cap, 0, (cap - b->done_cap) * sizeof(*d));
            b->done = d;
        }
        unsigned char *ff = d ? realloc(b->fifo, cap) : NULL;
        if (ff)
            b->fifo = ff;
        char **al = ff ? realloc(b->aliases, cap * sizeof(*al)) : NULL;
        if (al) {
            b->aliases = al;
            b->done_cap = cap;
        }
        rc = al ? 0 : -1;
    }
    if (rc == 0) {
        b->fifo[b->inputs.n] = (unsigned char)fifo;
        b->aliases[b->inputs.n] = aliases;
        rc = strlist_add(&b->inputs, path);
        if (rc < 0)
            b->aliases[b->inputs.n] = NULL;
    }
    if (rc < 0)
        free(aliases);
    if (b->waiting)
        pthread_cond_broadcast(&b->moved);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

static void count(cli_summary *sum, const ckpt_report *r, const report_extra *x)
{
    ckpt_verdict v = ckpt_report_verdict(r);
    sum->files++;
    sum->by_verdict[v]++;
    if (x->cached)
        sum->cached++;
    if (x->accepted)
        sum->accepted++;
    else
        sum->gate[v]++;
    sum->bytes += ckpt_report_size(r);
    sum->findings += ckpt_report_finding_count(r);
    if (v == CKPT_VERDICT_ERROR) {
        flockfile(stderr); /* one message, not interleaved with the walk's notes */
        fputs("ckptscan: ", stderr);
        out_safe_text(stderr, ckpt_report_path(r));
        fprintf(stderr, ": %s\n", x->error);
        funlockfile(stderr);
        strlist_add(&sum->unreadable, ckpt_report_path(r));
    } else {
        sum->by_format[ckpt_report_format(r)]++;
    }
}

static void progress(const cli_summary *sum, size_t total, double t0, int final)
{
    double dt = now() - t0;
    fprintf(stderr, "\r\033[K[%llu/%zu] %.1f MB, %.1f MB/s, %llu findings", sum->files, total,
            (double)sum->bytes / 1e6, dt > 0 ? (double)sum->bytes / 1e6 / dt : 0.0, sum->findings);
    if (final)
        fputs("\r\033[K", stderr);
}

/* Writes the finished reports that are next in line (called locked; the
 * lock is dropped while writing, `writing` keeps it to one worker). */
static void write_ready(batch *b)
{
    b->writing = 1;
    while (b->written < b->inputs.n && b->done[b->written]) {
        size_t i = b->written, total = b->inputs.n;
        scanned *d = b->done[i];
        b->done[i] = NULL;
        pthread_mutex_unlock(&b->lock);
        if (!b->begun) {
            out_begin(stdout, b->o);
            b->begun = 1;
        }
        /* the progress line never mixes into a report: cleared before
         * one is written, drawn again after it */
        int shows = out_shows(d->r, b->o), redraw = shows && b->drawn;
        if (redraw) {
            fputs("\r\033[K", stderr);
            b->drawn = 0;
        }
        count(b->sum, d->r, &d->x);
        out_report(stdout, d->r, &d->x, b->o, i);
        ckpt_report_free(d->r);
        free(d);
        if (b->o->progress && (redraw || now() - b->last_draw > 0.1)) {
            fflush(stdout);
            b->last_draw = now();
            progress(b->sum, total, b->t0, 0);
            b->drawn = 1;
        }
        pthread_mutex_lock(&b->lock);
        b->written = i + 1;
        if (b->waiting)
            pthread_cond_broadcast(&b->moved);
    }
    b->writing = 0;
}

/* The workers block SIGINT and SIGTERM, so that the main thread gets them
 * and a walk waiting for a --files-from list is woken up. */
static int start_workers(batch *b, pthread_t *t, int n)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int started = 0;
    for (int i = 1; t && i < n; i++) /* the main thread is worker 0 */
        started += pthread_create(&t[started], NULL, worker, b) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return started;
}

int run_batch(const ckpt_scanner *s, const cli_opts *o, cli_summary *sum, size_t *ninputs)
{
    batch b = {.s = s,
               .o = o,
               .sum = sum,
               .window = (size_t)o->jobs * 4 + 16,
               .t0 = now(),
               .lock = PTHREAD_MUTEX_INITIALIZER,
               .moved = PTHREAD_COND_INITIALIZER};
    int n = o->jobs < 1 ? 1 : o->jobs;
    pthread_t *t = calloc((size_t)n, sizeof(pthread_t));
    int started = start_workers(&b, t, n);
    input_sink sink = {add_input, &b};
    int rc = walk_inputs(o, &sink, &sum->walk);
    pthread_mutex_lock(&b.lock);
    b.walked = 1;
    pthread_cond_broadcast(&b.moved);
    pthread_mutex_unlock(&b.lock);
    worker(&b);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    /* a report finished while another worker was writing the one before
     * it is written by that worker; nothing should be left, but make sure */
    pthread_mutex_lock(&b.lock);
    write_ready(&b);
    pthread_mutex_unlock(&b.lock);
    if (o->progress)
        progress(sum, b.inputs.n, b.t0, 1);
    if (b.written && !b.begun)
        out_begin(stdout, o);
    *ninputs = b.written; /* all of the inputs, unless interrupted */
    sum->interrupted = cli_interrupted();
    for (size_t i = b.written; i < b.inputs.n; i++)
        if (b.done[i]) {
            ckpt_report_free(b.done[i]->r);
            free(b.done[i]);
        }
    free(t);
    free(b.done);
    free(b.fifo);
    for (size_t i = 0; i < b.inputs.n; i++)
        free(b.aliases[i]);
    free(b.aliases);
    strlist_free(&b.inputs);
    sum->seconds = now() - b.t0;
    return rc;
}
