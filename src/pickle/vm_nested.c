/* SPDX-License-Identifier: Apache-2.0 */
/* Constants that hold a torch checkpoint: the bytes pickle.dumps(tensor)
 * hands to torch.storage._load_from_bytes, i.e. to torch.load. They are
 * scanned as a file is, and the call is graded by what they hold. Under
 * protocols 0-2 the bytes are a str that _codecs.encode(s, 'latin1')
 * turns back into bytes. */
#include <stdio.h>
#include <string.h>

#include "pickle.h"
#include "vm.h"

#define HEAD 48 /* the legacy magic number is the first pickle's argument */

/* torch.serialization.MAGIC_NUMBER, as LONG1 bytes and as decimal text. */
static const uint8_t magic_le[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
static const char magic_text[] = "119547037146038801333356";

static int contains(const uint8_t *h, size_t n, const void *needle, size_t k)
{
    const uint8_t first = *(const uint8_t *)needle;
    for (size_t i = 0; i + k <= n; i++)
        if (h[i] == first && memcmp(h + i, needle, k) == 0)
            return 1;
    return 0;
}

static int all_ascii(const uint8_t *p, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++)
        any |= p[i];
    return any < 0x80;
}

static int head_is_checkpoint(const uint8_t *p, size_t n)
{
    if (n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0)
        return 1;
    return contains(p, n, magic_le, sizeof(magic_le)) ||
           contains(p, n, magic_text, sizeof(magic_text) - 1);
}

/* UTF-8 text as the latin-1 bytes it encodes; at most `cap` bytes out.
 * Returns how many, or SIZE_MAX when a code point is past U+00FF. */
static size_t latin1_of(const uint8_t *s, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; o++) {
        if (s[i] < 0x80) {
            out[o] = s[i++];
        } else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n) {
            out[o] = (uint8_t)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
            i += 2;
        } else {
            return SIZE_MAX;
        }
    }
    return o;
}

int pickle_constant_checkpoint(const uint8_t *p, size_t n, int text)
{
    /* Shorter than the decimal magic (the latin-1 head is no longer than
     * p): only the zip signature, which starts with an ASCII 'P', or the
     * LONG1 magic, which has bytes past ASCII (so has p, in either form). */
    if (n < sizeof(magic_text) - 1 && (n < 4 || p[0] != 'P') &&
        (n < sizeof(magic_le) || all_ascii(p, n)))
        return 0;
    if (!text)
        return head_is_checkpoint(p, n < HEAD ? n : HEAD);
    uint8_t head[HEAD];
    size_t k = latin1_of(p, n, head, sizeof(head));
    return k != SIZE_MAX && head_is_checkpoint(head, k);
}

int vm_check_checkpoint(vm *v, const uint8_t *p, size_t n, int text)
{
    scan_ctx *ctx = v->ctx;
    if (!pickle_constant_checkpoint(p, n, text) ||
        ctx->depth + 1 >= ctx_limit(ctx, CKPT_LIMIT_DEPTH))
        return 0;
    const uint8_t *bytes = p;
    size_t len = n;
    if (text) {
        uint8_t *b = arena_alloc(&v->mem, n ? n : 1);
        if (!b) {
            vm_out_of_memory(v);
            return 0;
        }
        len = latin1_of(p, n, b, n);
        if (len == SIZE_MAX)
            return 0;
        bytes = b;
    }
    char where[256];
    snprintf(where, sizeof(where), "%s@%zu", v->member, v->op_off);
    ckpt_format f = CKPT_FORMAT_UNKNOWN;
    ctx->depth++;
    ctx->embedded++;
    ctx_scan_buffer(ctx, where, bytes, len, &f);
    ctx->embedded--;
    ctx->depth--;
    int held = f == CKPT_FORMAT_TORCH_ZIP || f == CKPT_FORMAT_TORCH_LEGACY;
    vm_note(v, CKPT_F_EMBEDDED_PICKLE, held ? CKPT_SEV_INFO : -1, NULL, NULL,
            "a %zu-byte constant is a torch checkpoint (%s), as torch.load reads the bytes of "
            "torch.storage._load_from_bytes; scanned as member '%s'",
            len, ckpt_format_name(f), where);
    return held;
}
