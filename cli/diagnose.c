/* SPDX-License-Identifier: Apache-2.0 */
/* Second looks at a finished report, for people: the system's own words
 * for an input that could not be read, and a zip archive cut short. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The end-of-central-directory record sits in the last 22 + 65535 bytes. */
#define EOCD_SPAN (22 + 65535)

/* Words for an input that could not be read (a static string or buf). */
static const char *error_text(const ckpt_report *r, char *buf, size_t cap)
{
    ckpt_status st = ckpt_report_status(r);
    const char *path = ckpt_report_path(r);
    if (st != CKPT_ERR_IO || strcmp(path, "-") == 0)
        return ckpt_strerror(st);
    /* the library's "could not read the input": ask the system why */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        close(fd);
        return ckpt_strerror(st); /* opens now: it was a read error */
    }
    snprintf(buf, cap, "%s: %s", ckpt_strerror(st), strerror(errno));
    return buf;
}

/* 1 when the last bytes of fd (size bytes long) hold an end record. */
static int has_end_record(int fd, uint64_t size)
{
    static const unsigned char sig[4] = {'P', 'K', 5, 6};
    unsigned char tail[EOCD_SPAN];
    size_t want = size < EOCD_SPAN ? (size_t)size : EOCD_SPAN;
    ssize_t got = pread(fd, tail, want, (off_t)(size - want));
    if (got < 4)
        return 0;
    for (size_t i = 0; i + 4 <= (size_t)got; i++)
        if (memcmp(tail + i, sig, 4) == 0)
            return 1;
    return 0;
}

/* A zip cut short is no zip to the readers: its local header reads as a
 * PERSID opcode, so it comes out as a broken pickle (or an unknown
 * format), never safe. Only such reports cost a second look. */
static int truncated_zip(const ckpt_report *r)
{
    const char *path = ckpt_report_path(r);
    ckpt_format f = ckpt_report_format(r);
    if (ckpt_report_verdict(r) != CKPT_VERDICT_SUSPICIOUS ||
        (f != CKPT_FORMAT_PICKLE && f != CKPT_FORMAT_UNKNOWN) || strcmp(path, "-") == 0)
        return 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return 0;
    struct stat st;
    unsigned char head[4];
    int cut = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && pread(fd, head, 4, 0) == 4 &&
              memcmp(head, "PK\x03\x04", 4) == 0 && !has_end_record(fd, (uint64_t)st.st_size);
    close(fd);
    return cut;
}

void diagnose(const ckpt_report *r, report_extra *x)
{
    memset(x, 0, sizeof(*x));
    if (ckpt_report_verdict(r) == CKPT_VERDICT_ERROR)
        x->error = error_text(r, x->error_buf, sizeof(x->error_buf));
    else
        x->truncated_zip = truncated_zip(r);
}
