/* SPDX-License-Identifier: Apache-2.0 */
/* Worst-case campaign: fuzzing for cost, not crashes. Scans seeds and
 * mutants of them (bytes flipped, chunks repeated, spliced, cut) through
 * the public API and records, per input, the time per input byte and the
 * process's peak RSS; prints the worst inputs and keeps them in OUTDIR so
 * that a slow class can be turned into a bomb test.
 *
 * Usage: cost_campaign [-n RUNS] [-s SEED] [-o OUTDIR] FILE|DIR...
 * The measure of an input is (ns - 50 us) / (bytes + 64): a constant per
 * scan (start-up of the report, allocation) is not charged to small
 * inputs. Repeating a chunk many times is the mutation that finds work
 * that grows faster than the input (k^d readings, rescans per candidate). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "ckptscan.h"

#define MAX_SEEDS 4096
#define MAX_LEN   (8u << 20)
#define KEEP      10

typedef struct input {
    uint8_t *p;
    size_t n;
} input;

typedef struct worst {
    double per_byte;
    double ms;
    size_t n;
    char name[64];
} worst;

static input seeds[MAX_SEEDS];
static size_t nseeds;
static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f || nseeds == MAX_SEEDS) {
        if (f)
            fclose(f);
        return;
    }
    uint8_t *p = malloc(MAX_LEN);
    size_t n = p ? fread(p, 1, MAX_LEN, f) : 0;
    fclose(f);
    if (!p || n == 0) {
        free(p);
        return;
    }
    seeds[nseeds++] = (input){p, n};
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        add_path(sub);
    }
    if (d)
        closedir(d);
}

/* One mutant of a random seed into out (capacity MAX_LEN); returns its length. */
static size_t mutate(uint8_t *out)
{
    const input *s = &seeds[next() % nseeds];
    size_t n = s->n;
    memcpy(out, s->p, n);
    switch (next() % 5) {
    case 0: /* flip a few bytes */
        for (int i = 0; i < 4; i++)
            out[next() % n] = (uint8_t)next();
        break;
    case 1: { /* repeat a chunk many times in place */
        size_t at = next() % n, len = 1 + next() % (n - at < 64 ? n - at : 64);
        size_t times = 1 + next() % 20000;
        size_t tail = n - at - len;
        if (n + len * times > MAX_LEN)
            times = (MAX_LEN - n) / len;
        memmove(out + at + len * (times + 1), out + at + len, tail);
        for (size_t t = 1; t <= times; t++)
            memcpy(out + at + len * t, out + at, len);
        n += len * times;
        break;
    }
    case 2: { /* splice another seed's tail */
        const input *o = &seeds[next() % nseeds];
        size_t at = next() % n, from = next() % o->n;
        size_t take = o->n - from < MAX_LEN - at ? o->n - from : MAX_LEN - at;
        memcpy(out + at, o->p + from, take);
        n = at + take;
        break;
    }
    case 3: /* cut */ n = 1 + next() % n; break;
    default: { /* nest: the seed twice over, prefix and suffix */
        size_t half = n < MAX_LEN / 2 ? n : MAX_LEN / 2;
        memcpy(out + half, s->p, half);
        n = half * 2;
        break;
    }
    }
    return n;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void keep(worst *w, const char *outdir, size_t run, const uint8_t *p, size_t n, double ms)
{
    double per = (ms - 0.05) * 1e6 / (double)(n + 64);
    int at = -1;
    for (int i = 0; i < KEEP; i++)
        if (per > w[i].per_byte && (at < 0 || w[i].per_byte < w[at].per_byte))
            at = i;
    if (at < 0)
        return;
    w[at] = (worst){per, ms, n, ""};
    snprintf(w[at].name, sizeof(w[at].name), "cost-%zu", run);
    if (!outdir)
        return;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", outdir, w[at].name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    long runs = 10000;
    const char *outdir = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc)
            return 2;
        if (strcmp(argv[i], "-n") == 0)
            runs = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-s") == 0)
            rng = strtoull(argv[i + 1], NULL, 10) | 1;
        else if (strcmp(argv[i], "-o") == 0)
            outdir = argv[i + 1];
        else
            return 2;
    }
    for (; i < argc; i++)
        add_path(argv[i]);
    ckpt_scanner *s = NULL;
    uint8_t *buf = malloc(MAX_LEN);
    if (nseeds == 0 || !buf || ckpt_scanner_new(&s) != CKPT_OK) {
        fputs("usage: cost_campaign [-n RUNS] [-s SEED] [-o OUTDIR] FILE|DIR...\n", stderr);
        return 2;
    }
    worst w[KEEP];
    memset(w, 0, sizeof(w));
    double total_ms = 0, max_ms = 0;
    size_t max_ms_len = 0, bytes = 0;
    long rss_max = 0;
    for (long run = 0; run < runs; run++) {
        size_t n = run < (long)nseeds ? seeds[run].n : mutate(buf);
        const uint8_t *p = run < (long)nseeds ? seeds[run].p : buf;
        double t0 = now_ms();
        ckpt_report *r = NULL;
        ckpt_scan_mem(s, p, n, "input", &r);
        double ms = now_ms() - t0;
        ckpt_report_free(r);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        if (ru.ru_maxrss > rss_max) {
            rss_max = ru.ru_maxrss;
            printf("run %ld: peak RSS now %.1f MiB (input %zu bytes, %.1f ms)\n", run,
                   rss_max / 1024.0, n, ms);
        }
        total_ms += ms;
        bytes += n;
        if (ms > max_ms) {
            max_ms = ms;
            max_ms_len = n;
        }
        keep(w, outdir, (size_t)run, p, n, ms);
    }
    printf("%ld inputs, %zu bytes, %.0f ms; slowest %.1f ms (%zu bytes); peak RSS %.1f MiB\n", runs,
           bytes, total_ms, max_ms, max_ms_len, rss_max / 1024.0);
    printf("worst time per input byte ((ms - 0.05) / (bytes + 64)):\n");
    for (int k = 0; k < KEEP; k++)
        if (w[k].n)
            printf("  %-12s %9.1f ns/byte  %8.2f ms  %8zu bytes\n", w[k].name, w[k].per_byte,
                   w[k].ms, w[k].n);
    ckpt_scanner_free(s);
    free(buf);
    return 0;
}
