/* SPDX-License-Identifier: Apache-2.0 */
/* Text from a scanned file made safe for a terminal: control characters,
 * C1 controls, bidirectional overrides and invalid UTF-8 are shown as \xNN,
 * so a file cannot drive the terminal or make a name read as another. */
#include "cli.h"

/* Bidirectional controls reorder what a terminal shows (a name could read
 * as another): U+061C, U+200E/F, U+202A-202E, U+2066-2069. */
static int bidi_control(const unsigned char *s, size_t n)
{
    if (n == 2)
        return s[0] == 0xD8 && s[1] == 0x9C;
    if (n != 3 || s[0] != 0xE2)
        return 0;
    return (s[1] == 0x80 && (s[2] == 0x8E || s[2] == 0x8F || (s[2] >= 0xAA && s[2] <= 0xAE))) ||
           (s[1] == 0x81 && s[2] >= 0xA6 && s[2] <= 0xA9);
}

/* Length of a valid UTF-8 sequence at s (2-4) that is safe to show, or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (n == 0 || s[0] > 0xF4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    /* C1 controls (U+0080..U+009F) can drive terminals too */
    if (n == 2 && s[0] == 0xC2 && s[1] < 0xA0)
        return 0;
    return bidi_control(s, n) ? 0 : n;
}

void out_safe_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n;
        if (*p >= 0x20 && *p < 0x7F) {
            fputc(*p++, f);
        } else if (*p >= 0x80 && (n = utf8_len(p)) != 0) {
            fwrite(p, 1, n, f);
            p += n;
        } else {
            fprintf(f, "\\x%02x", *p++);
        }
    }
}
