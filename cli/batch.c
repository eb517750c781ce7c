/* Parallel batch scanning. Workers take inputs in order; the main thread
 * writes each report as soon as it and every report before it are done,
 * so output and exit status never depend on the number of threads. A
 * window bounds how far workers run ahead (memory stays flat). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

typedef struct batch {
    const ckpt_scanner *s;
    const strlist *inputs;
    ckpt_report **done; /* slot i: report of input i once scanned */
    size_t next;        /* next input to hand out */
    size_t written;     /* reports written so far */
    size_t window;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int inspect; /* ckpt_inspect_file instead of ckpt_scan_file */
} batch;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ckpt_report *scan_one(const ckpt_scanner *s, const char *path, int inspect)
{
    ckpt_report *r = NULL;
    ckpt_status st = inspect                  ? ckpt_inspect_file(s, path, &r)
                     : strcmp(path, "-") == 0 ? ckpt_scan_fd(s, 0, "-", &r)
                                              : ckpt_scan_file(s, path, &r);
    if (!r) {
        fprintf(stderr, "ckptscan: %s: %s\n", path, ckpt_strerror(st));
        exit(2); /* out of memory: nothing sensible left to do */
    }
    return r;
}

/* Next index to scan, or SIZE_MAX when all are taken. */
static size_t take(batch *b)
{
    pthread_mutex_lock(&b->lock);
    while (b->next < b->inputs->n && b->next >= b->written + b->window)
        pthread_cond_wait(&b->changed, &b->lock);
    size_t i = b->next < b->inputs->n ? b->next++ : SIZE_MAX;
    pthread_mutex_unlock(&b->lock);
    return i;
}

static void *worker(void *arg)
{
    batch *b = arg;
    size_t i;
    while ((i = take(b)) != SIZE_MAX) {
        ckpt_report *r = scan_one(b->s, b->inputs->v[i], b->inspect);
        pthread_mutex_lock(&b->lock);
        b->done[i] = r;
        pthread_cond_broadcast(&b->changed);
        pthread_mutex_unlock(&b->lock);
    }
    return NULL;
}

static void count(cli_summary *sum, const ckpt_report *r)
{
    ckpt_verdict v = ckpt_report_verdict(r);
    sum->files++;
    sum->by_verdict[v]++;
    sum->bytes += ckpt_report_size(r);
    sum->findings += ckpt_report_finding_count(r);
    if (v == CKPT_VERDICT_ERROR) {
        fputs("ckptscan: ", stderr);
        out_safe_text(stderr, ckpt_report_path(r));
        fprintf(stderr, ": %s\n", ckpt_strerror(ckpt_report_status(r)));
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

/* Writes reports in order as they complete. */
static void drain(batch *b, const cli_opts *o, cli_summary *sum, double t0)
{
    double last_draw = 0;
    for (size_t i = 0; i < b->inputs->n; i++) {
        pthread_mutex_lock(&b->lock);
        while (!b->done[i])
            pthread_cond_wait(&b->changed, &b->lock);
        ckpt_report *r = b->done[i];
        b->done[i] = NULL;
        pthread_mutex_unlock(&b->lock);
        count(sum, r);
        out_report(stdout, r, o, i);
        ckpt_report_free(r);
        pthread_mutex_lock(&b->lock);
        b->written = i + 1;
        pthread_cond_broadcast(&b->changed);
        pthread_mutex_unlock(&b->lock);
        if (o->progress && now() - last_draw > 0.1) {
            last_draw = now();
            progress(sum, b->inputs->n, t0, 0);
        }
    }
    if (o->progress)
        progress(sum, b->inputs->n, t0, 1);
}

void run_batch(const ckpt_scanner *s, const cli_opts *o, const strlist *inputs, cli_summary *sum)
{
    double t0 = now();
    batch b = {s,
               inputs,
               calloc(inputs->n ? inputs->n : 1, sizeof(ckpt_report *)),
               0,
               0,
               (size_t)o->jobs * 4 + 16,
               PTHREAD_MUTEX_INITIALIZER,
               PTHREAD_COND_INITIALIZER,
               o->command == CMD_INSPECT};
    if (!b.done) {
        fputs("ckptscan: out of memory\n", stderr);
        exit(2);
    }
    int n = o->jobs < 1 ? 1 : o->jobs;
    if ((size_t)n > inputs->n)
        n = inputs->n ? (int)inputs->n : 1;
    pthread_t *t = calloc((size_t)n, sizeof(pthread_t));
    int started = 0;
    for (int i = 0; t && i < n; i++)
        started += pthread_create(&t[started], NULL, worker, &b) == 0;
    if (started == 0) {
        b.window = SIZE_MAX; /* no threads available: scan everything here first */
        worker(&b);
    }
    drain(&b, o, sum, t0);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
    free(b.done);
    sum->seconds = now() - t0;
}
