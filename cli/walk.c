/* SPDX-License-Identifier: Apache-2.0 */
/* Input collection: arguments, --files-from lists, recursive directory
 * walks that follow symlinks (a Hugging Face cache links snapshots/ into
 * blobs/) without loops or scanning one inode twice, then the include /
 * exclude globs and the deterministic shard. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define MAX_WALK_DEPTH 256

int strlist_addn(strlist *l, const char *s, size_t n)
{
    if (grow_array((void **)&l->v, &l->cap, l->n + 1, sizeof(char *)) < 0)
        return -1;
    char *c = malloc(n + 1);
    if (!c)
        return -1;
    memcpy(c, s, n);
    c[n] = '\0';
    l->v[l->n++] = c;
    return 0;
}

int strlist_add(strlist *l, const char *s)
{
    return strlist_addn(l, s, strlen(s));
}

void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* (device, inode) pairs already taken: files scanned, directories entered. */
typedef struct inode_set {
    struct {
        dev_t dev;
        ino_t ino;
    } * v;
    size_t n, cap;
} inode_set;

static uint64_t inode_hash(dev_t dev, ino_t ino)
{
    return ((uint64_t)dev * 0x9E3779B97F4A7C15u) ^ (uint64_t)ino;
}

static int grow_set(inode_set *s);

/* Returns 1 when newly added, 0 when present, -1 on no memory. */
static int set_add(inode_set *s, dev_t dev, ino_t ino)
{
    if ((s->n + 1) * 2 > s->cap && grow_set(s) < 0)
        return -1;
    size_t i = inode_hash(dev, ino) & (s->cap - 1);
    for (; s->v[i].dev || s->v[i].ino; i = (i + 1) & (s->cap - 1))
        if (s->v[i].dev == dev && s->v[i].ino == ino)
            return 0;
    s->v[i].dev = dev;
    s->v[i].ino = ino;
    s->n++;
    return 1;
}

static int grow_set(inode_set *s)
{
    inode_set bigger = {NULL, 0, s->cap ? s->cap * 2 : 1024};
    bigger.v = calloc(bigger.cap, sizeof(*bigger.v));
    if (!bigger.v)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->v[i].dev || s->v[i].ino)
            set_add(&bigger, s->v[i].dev, s->v[i].ino);
    free(s->v);
    *s = bigger;
    return 0;
}

typedef struct walker {
    const cli_opts *o;
    input_sink *sink;
    inode_set seen;
    walk_counts *wc;
    int failed;
} walker;

static int globs_select(const cli_opts *o, const char *path);
static int selected(const cli_opts *o, const char *path);

/* One message on standard error, in one piece (the scan's workers write
 * there too), clearing a progress line first. */
static void note(const walker *w, const char *path, const char *why)
{
    flockfile(stderr);
    fputs(w->o->progress ? "\r\033[Kckptscan: " : "ckptscan: ", stderr);
    out_safe_text(stderr, path);
    fprintf(stderr, ": %s\n", why);
    funlockfile(stderr);
}

/* Hands on an input that --include, --exclude and --shard select; the
 * sink takes `aliases` (else it is freed here). */
static void add_input(walker *w, const char *path, int fifo, char *aliases)
{
    if (!selected(w->o, path)) {
        free(aliases);
        return;
    }
    if (w->sink->add(w->sink->ctx, path, fifo, aliases) < 0)
        w->failed = 1;
}

static void add_path(walker *w, const char *path)
{
    add_input(w, path, 0, NULL);
}

/* a/b/../c/./d -> a/c/d, in place; a leading '/' and leading ".." stay. */
static void normalize(char *p)
{
    int abs = p[0] == '/';
    char *out = p + abs, *src = p + abs, *start = out;
    while (*src) {
        char *end = strchr(src, '/');
        size_t n = end ? (size_t)(end - src) : strlen(src);
        if (n == 0 || (n == 1 && src[0] == '.')) {
            /* nothing */
        } else if (n == 2 && src[0] == '.' && src[1] == '.' && out > start &&
                   !(out - start >= 2 && out[-1] == '.' && out[-2] == '.' &&
                     (out - start == 2 || out[-3] == '/'))) {
            while (out > start && out[-1] != '/')
                out--;
            if (out > start)
                out--; /* the '/' before the removed component */
        } else {
            if (out > start)
                *out++ = '/';
            memmove(out, src, n);
            out += n;
        }
        src += n + (end != NULL);
    }
    *out = '\0';
}

/* The names a chain of symlinks at `path` passes through to reach the file
 * (as the walk would spell them: `.` and `..` resolved by name, kept only
 * when they reach the same inode), packed as "a\0b\0\0"; NULL if none.
 * In a Hugging Face cache: snapshots/<rev>/<file> -> blobs/<sha>. */
static char *link_aliases(int at, const char *name, const char *path, const struct stat *st)
{
    char cur[PATH_MAX], target[PATH_MAX], cand[2 * PATH_MAX];
    char *packed = NULL;
    size_t plen = 0;
    snprintf(cur, sizeof(cur), "%s", path);
    for (int hop = 0; hop < 8; hop++) {
        ssize_t n = hop ? readlink(cur, target, sizeof(target) - 1)
                        : readlinkat(at, name, target, sizeof(target) - 1);
        if (n <= 0)
            break;
        target[n] = '\0';
        const char *slash = strrchr(cur, '/');
        if (target[0] == '/' || !slash)
            snprintf(cand, sizeof(cand), "%s", target);
        else
            snprintf(cand, sizeof(cand), "%.*s/%s", (int)(slash - cur), cur, target);
        normalize(cand);
        struct stat as;
        if (strlen(cand) >= sizeof(cur) || stat(cand, &as) != 0 || as.st_dev != st->st_dev ||
            as.st_ino != st->st_ino)
            break;
        size_t len = strlen(cand) + 1;
        char *grown = realloc(packed, plen + len + 1);
        if (!grown)
            break;
        packed = grown;
        memcpy(packed + plen, cand, len);
        plen += len;
        packed[plen] = '\0';
        memcpy(cur, cand, len);
    }
    return packed;
}

static void walk_dir(walker *w, const char *dir, int depth);

/* Directory entries are kept as "<d_type + 1><name>": the type says which
 * entries may be symlinks (only those are asked for a link target). */
#define ENTRY_NAME(e) ((e) + 1)
#define ENTRY_MAYBE_LINK(e)                                                                        \
    ((unsigned char)(e)[0] - 1 == DT_LNK || (unsigned char)(e)[0] - 1 == DT_UNKNOWN)

static int cmp_names(const void *a, const void *b)
{
    return strcmp(ENTRY_NAME(*(char *const *)a), ENTRY_NAME(*(char *const *)b));
}

/* One path found in a directory (or named on the command line); `at` and
 * `name` say the same as `path` relative to the open directory (or
 * AT_FDCWD and path): the kernel then looks up one name, not the path. */
static void visit_at(walker *w, int at, const char *name, const char *path, int depth,
                     int explicit_arg, int maybe_link)
{
    struct stat st;
    if (fstatat(at, name, &st, 0) != 0) {
        /* dangling link or vanished file: let the scan report it as unreadable */
        add_path(w, path);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (set_add(&w->seen, st.st_dev, st.st_ino) == 1)
            walk_dir(w, path, depth + 1);
        else if (!explicit_arg)
            w->wc->dir_again++, note(w, path, "directory already walked (symlink loop?); skipped");
        return;
    }
    /* filter first, then de-duplicate: a name left out by --include or
     * --exclude must not use up the inode another selected name reaches */
    if (!globs_select(w->o, path))
        return;
    if (!S_ISREG(st.st_mode) && !explicit_arg) {
        w->wc->special++;
        note(w, path, "not a regular file (FIFO, device or socket); skipped");
        return;
    }
    if (S_ISREG(st.st_mode) && set_add(&w->seen, st.st_dev, st.st_ino) == 0) {
        w->wc->other_name++; /* the same inode under another name: scanned once */
        return;
    }
    add_input(w, path, S_ISFIFO(st.st_mode),
              S_ISREG(st.st_mode) && maybe_link ? link_aliases(at, name, path, &st) : NULL);
}

static void visit(walker *w, const char *path, int depth, int explicit_arg)
{
    visit_at(w, AT_FDCWD, path, path, depth, explicit_arg, 1);
}

/* Sorted entries of a directory, for a deterministic walk; *fd keeps the
 * directory open for fstatat (-1 when it could not: full paths then). */
/* In a Hugging Face cache repo (blobs/ and snapshots/ side by side), walk
 * blobs/ last: each file is then scanned under the snapshots/<rev>/<file>
 * name people know, and the blob name is one of its aliases. */
static int prefer_snapshots(strlist *names)
{
    size_t blobs = names->n;
    int snapshots = 0;
    for (size_t i = 0; i < names->n; i++) {
        if (strcmp(ENTRY_NAME(names->v[i]), "blobs") == 0)
            blobs = i;
        snapshots |= strcmp(ENTRY_NAME(names->v[i]), "snapshots") == 0;
    }
    if (!snapshots || blobs == names->n)
        return 0;
    char *b = names->v[blobs];
    memmove(names->v + blobs, names->v + blobs + 1, (names->n - blobs - 1) * sizeof(char *));
    names->v[names->n - 1] = b;
    return 1;
}

static int hub_repo_name(const char *name)
{
    return strncmp(name, "models--", 8) == 0 || strncmp(name, "datasets--", 10) == 0 ||
           strncmp(name, "spaces--", 8) == 0;
}

/* A cache root holds models--org--name (datasets--, spaces--) repos. */
static int hub_root(const strlist *names)
{
    for (size_t i = 0; i < names->n; i++)
        if (hub_repo_name(ENTRY_NAME(names->v[i])))
            return 1;
    return 0;
}

/* A cache repo: named models--org--name (...), blobs/ and snapshots/ inside. */
static int hub_repo(const char *dir, int layout)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    const char *base = dir + n;
    while (base > dir && base[-1] != '/')
        base--;
    return layout && hub_repo_name(base);
}

/* Hugging Face cache bookkeeping no loader ever reads as a model: a repo's
 * refs/ (revision names) and .no_exist/ (empty markers), the root's .locks/. */
static int hub_metadata(const char *name, int repo, int root)
{
    return (repo && (strcmp(name, "refs") == 0 || strcmp(name, ".no_exist") == 0)) ||
           (root && strcmp(name, ".locks") == 0);
}

static int read_names(const char *dir, strlist *names, int *fd)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    *fd = fcntl(dirfd(d), F_DUPFD_CLOEXEC, 0);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char entry[sizeof(e->d_name) + 1];
        entry[0] = (char)(e->d_type + 1);
        snprintf(entry + 1, sizeof(entry) - 1, "%s", e->d_name);
        if (strlist_add(names, entry) < 0)
            break;
    }
    closedir(d);
    if (names->n > 1) /* an empty list has no array: qsort(NULL, ...) is undefined */
        qsort(names->v, names->n, sizeof(char *), cmp_names);
    return 0;
}

static void walk_dir(walker *w, const char *dir, int depth)
{
    if (depth > MAX_WALK_DEPTH) {
        w->wc->too_deep++;
        note(w, dir, "directory nesting too deep; skipped");
        return;
    }
    strlist names = {0};
    int fd = -1;
    if (read_names(dir, &names, &fd) < 0) {
        /* a directory is not a file: not scanned, not counted as one */
        note(w, dir, strerror(errno));
        if (strlist_add(&w->wc->unlisted, dir) < 0)
            w->failed = 1;
        return;
    }
    size_t dlen = strlen(dir);
    int repo = hub_repo(dir, prefer_snapshots(&names)), root = hub_root(&names);
    for (size_t i = 0; i < names.n && !w->failed && !cli_interrupted(); i++) {
        const char *name = ENTRY_NAME(names.v[i]);
        if (hub_metadata(name, repo, root)) {
            w->wc->hub_metadata++;
            continue;
        }
        size_t len = dlen + 1 + strlen(name) + 1;
        char *p = malloc(len);
        if (!p) {
            w->failed = 1;
            break;
        }
        snprintf(p, len, "%s%s%s", dir, dlen && dir[dlen - 1] == '/' ? "" : "/", name);
        if (fd >= 0)
            visit_at(w, fd, name, p, depth, 0, ENTRY_MAYBE_LINK(names.v[i]));
        else
            visit(w, p, depth, 0);
        free(p);
    }
    if (fd >= 0)
        close(fd);
    strlist_free(&names);
}

/* Hands on each entry of a list; returns 0, -1 on a read error, or -2 when
 * a line-separated list holds a NUL byte (a `find -print0` list read
 * without -0 would otherwise shrink to its first entry). Lines may end in
 * CRLF. */
static int read_list(walker *w, FILE *f, int sep)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (!w->failed && !cli_interrupted() && (n = getdelim(&line, &cap, sep, f)) > 0) {
        if (line[n - 1] == sep)
            line[--n] = '\0';
        if (sep == '\n' && memchr(line, '\0', (size_t)n)) {
            rc = -2;
            break;
        }
        if (sep == '\n' && n > 0 && line[n - 1] == '\r')
            line[--n] = '\0';
        if (n > 0)
            visit(w, line, 0, 1);
    }
    free(line);
    if (cli_interrupted())
        return 0; /* a read cut short by SIGINT/SIGTERM is no error */
    return rc ? rc : ferror(f) ? -1 : 0;
}

static int read_files_from(walker *w, FILE *f)
{
    const char *path = w->o->files_from;
    int rc = read_list(w, f, w->o->null_sep ? '\0' : '\n');
    int err = errno;
    if (f != stdin)
        fclose(f);
    if (rc == -2) {
        fprintf(stderr,
                "ckptscan: --files-from %s: the list contains NUL bytes; "
                "use -0 (--null) for a NUL-separated list (find -print0)\n",
                path);
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "ckptscan: --files-from %s: %s\n", path, strerror(err));
        return 2;
    }
    return 0;
}

/* A glob without '/' matches the file name; with '/', the whole path. */
static int glob_match(const strlist *globs, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < globs->n; i++) {
        const char *subject = strchr(globs->v[i], '/') ? path : base;
        if (fnmatch(globs->v[i], subject, 0) == 0)
            return 1;
    }
    return 0;
}

unsigned shard_of(const char *path, unsigned n)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a: stable across machines */
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    return (unsigned)(h % n) + 1;
}

/* --include and --exclude (standard input is always selected). */
static int globs_select(const cli_opts *o, const char *path)
{
    if (strcmp(path, "-") == 0)
        return 1;
    if (o->include.n && !glob_match(&o->include, path))
        return 0;
    return !glob_match(&o->exclude, path);
}

/* The globs, then the shard. The shard comes after the inode check, so
 * that every worker, walking the same tree, drops the same repeated names
 * and the shards partition the names a whole run would scan. */
static int selected(const cli_opts *o, const char *path)
{
    if (!globs_select(o, path))
        return 0;
    return o->shard_n == 0 || shard_of(path, o->shard_n) == o->shard_k;
}

int walk_inputs(const cli_opts *o, input_sink *sink, walk_counts *wc)
{
    walker w = {o, sink, {NULL, 0, 0}, wc, 0};
    FILE *list = NULL;
    if (o->files_from) { /* opened first: a missing list fails before any scan */
        list = strcmp(o->files_from, "-") == 0 ? stdin : fopen(o->files_from, "r");
        if (!list) {
            fprintf(stderr, "ckptscan: --files-from %s: %s\n", o->files_from, strerror(errno));
            return 2;
        }
    }
    for (int i = 0; i < o->nargs && !w.failed && !cli_interrupted(); i++) {
        if (strcmp(o->args[i], "-") == 0)
            add_path(&w, "-");
        else
            visit(&w, o->args[i], 0, 1);
    }
    int rc = 0;
    if (list && !w.failed)
        rc = read_files_from(&w, list);
    else if (list && list != stdin)
        fclose(list);
    free(w.seen.v);
    if (w.failed) {
        fputs("ckptscan: out of memory while listing inputs\n", stderr);
        return 2;
    }
    return rc;
}
