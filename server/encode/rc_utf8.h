/* rc_utf8.h: UTF-8 well-formedness (Unicode table 3-7), shared by the encoders that must
 * write valid text: rc_json escapes what is not, rc_proto replaces it in string fields.
 * @thread any */
#ifndef RC_UTF8_H
#define RC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length of the well-formed UTF-8 sequence at s (Unicode table 3-7), or 0 if s[0] does not
 * start one: no overlongs, no surrogates, nothing above U+10FFFF, nothing cut short. */
static inline size_t rc_utf8_len(const uint8_t *s, const uint8_t *e) {
    uint8_t c = s[0];
    size_t avail = (size_t)(e - s);
    if (c < 0xc2) {
        return 0; /* a continuation byte alone, or C0/C1 (always overlong) */
    }
    if (c < 0xe0) {
        return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c < 0xf0) {
        uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return avail >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c < 0xf5) {
        uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return avail >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
                       (s[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0; /* F5..FF never appear in UTF-8 */
}

#endif
