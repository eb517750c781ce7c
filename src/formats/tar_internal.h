/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the tar reader (tar.c: headers as Python's tarfile lists them)
 * and torch's legacy tar members (tar_torch.c). */
#ifndef CKPT_TAR_INTERNAL_H
#define CKPT_TAR_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "formats.h"

#define NAME_SHOWN 120 /* bytes of a member name quoted in a message */

typedef struct tmember {
    const char *name, *link; /* arena copies */
    size_t name_len, link_len;
    char type;
    size_t hdr;    /* offset of its first header */
    uint64_t data; /* offset of its data */
    uint64_t size; /* what extraction reads */
} tmember;

/* pax records that matter here; set = 1 when present. */
typedef struct pax {
    const uint8_t *path, *link;
    size_t path_len, link_len;
    uint64_t size;
    int has_path, has_link, has_size;
} pax;

typedef struct walker {
    scan_ctx *ctx;
    const char *member;
    const uint8_t *buf;
    size_t len;
    arena mem;
    tmember *m;
    size_t n, cap;
    pax global;
    const char *stop_why;   /* walk stopped on something ckptscan does not model */
    const char *read_error; /* Python's tarfile raises ReadError listing it */
    size_t stop_at;
    size_t links_followed; /* resolving a link is linear in the members: capped */
} walker;

/* Adds a finding with a formatted message. */
void tar_note(scan_ctx *ctx, ckpt_code code, const char *member, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Regular members (and unknown types, which tarfile treats as regular). */
int tar_is_reg(char type);
int tar_supported(char type);
/* 1 when a name is absolute or has a '..' component. */
int tar_path_escapes(const char *p, size_t n);
/* The bytes extraction would read (clamped to the file). */
void tar_member_data(const walker *w, const tmember *m, const uint8_t **d, size_t *n);
/* Scans every member, torch's four as torch reads them; returns 1 when
 * any of torch's members is present (tar_torch.c). */
int tar_scan_members(walker *w);

#endif
