/* rc_json.c: msgpack -> compact JSON, straight from the bytes (no tree, no malloc per value).
 *
 * Strings: plain ASCII moves 8 bytes at a time (a word test), other bytes go through a
 * 256-entry class table; the worst case (6 output bytes per input byte) is reserved once per
 * 64 KiB of input, so the loop never checks for room. Doubles print as the shortest text that
 * reads back as the same value: a fast path for values with few decimals, else exact 128-bit
 * digits (printf outside its range) checked by exact integers (strtod outside theirs; see
 * rc_json.h). */
#include "rc_json.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_event.h"
#include "rc_mp.h"
#include "rc_tpl.h"
#include "rc_utf8.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64
/* A key that is not a str counts as this many levels: each key inside a key escapes the text
 * of the one inside it again (2x and more per level), so the nesting of keys in keys has to
 * stop early (at 3 levels) to keep the output from growing exponentially. */
#define KEY_DEPTH 16
/* Strings are escaped in slices of this many input bytes, so a 16 MiB TEXT value does not
 * reserve 96 MiB at once. A UTF-8 sequence may run up to 3 bytes past a slice's end. */
#define STR_SLICE     65536
#define SLICE_ROOM(n) (6 * (n) + 6 * 3 + 2)

/* Makes room for n bytes and returns where to write them, or NULL when out of memory. */
static inline char *room(rc_buf_t *out, size_t n) {
    if (out->cap - out->len < n && rc_buf_reserve(out, n) != RC_OK) {
        return NULL;
    }
    return out->data + out->len;
}

/* ---- strings ------------------------------------------------------------------------------ */

/* 0: copy as is; 1: ASCII that needs an escape; 2: first byte of a UTF-8 sequence (or not). */
static const uint8_t k_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50: '\\' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x70: DEL stays as is */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xa0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xb0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xc0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xd0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xe0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xf0 */
};

static const char k_hex[] = "0123456789abcdef";

static inline char *escape_ascii(char *o, uint8_t c) {
    static const char k_short[0x60] = {
        ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n',  ['\f'] = 'f',
        ['\r'] = 'r', ['"'] = '"',  ['\\'] = '\\',
    };
    *o++ = '\\';
    if (k_short[c]) {
        *o++ = k_short[c];
        return o;
    }
    memcpy(o, "u00", 3);
    o[3] = k_hex[c >> 4];
    o[4] = k_hex[c & 0x0f];
    return o + 5;
}

/* True when one of the 8 bytes in w needs a look: < 0x20, '"', '\\' or >= 0x80. Exact: the
 * "has a zero byte" trick (v - 0x01..) & ~v & 0x80.. has no false positives. */
static inline uint64_t word_hits(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & high;
}

static inline bool word_needs_look(uint64_t w) {
    return word_hits(w) != 0;
}

#if defined(__SSE2__)
/* One bit per byte of the 16 at s (bit i for s[i]) that is copied as it is, in three operations:
 * x ^ 0x02 keeps 0x00-0x1f among themselves and makes '"' 0x20, so above 0x20 as int8 are the
 * bytes other than those, '"' and 0x80 and up (negative); '\\' is the one compare left. The
 * bits of the bytes that need a look are its complement. */
static inline unsigned plain_bits(__m128i v) {
    return (unsigned)_mm_movemask_epi8(_mm_andnot_si128(
        _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
        _mm_cmpgt_epi8(_mm_xor_si128(v, _mm_set1_epi8(0x02)), _mm_set1_epi8(0x20))));
}

static inline __m128i load16(const uint8_t *s) {
    return _mm_loadu_si128((const __m128i *)(const void *)s);
}

static inline unsigned plain_bits16(const uint8_t *s) {
    return plain_bits(load16(s));
}
#endif

/* The index of the first of the 16 bytes at s that needs a look (as above), or 16 when none
 * does. A borrow in word_hits only marks bytes above a true hit, so the lowest mark is exact. */
static inline size_t first_look16(const uint8_t *s) {
#if defined(__SSE2__)
    return (size_t)__builtin_ctz(~plain_bits16(s));
#elif __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w[2];
    memcpy(w, s, 16);
    uint64_t h = word_hits(w[0]);
    if (h) {
        return (size_t)__builtin_ctzll(h) / 8;
    }
    h = word_hits(w[1]);
    return h ? 8 + (size_t)__builtin_ctzll(h) / 8 : 16;
#else
    for (size_t i = 0; i < 16; i++) {
        if (k_class[s[i]]) {
            return i;
        }
    }
    return 16;
#endif
}

/* One byte at *s that needs a look (an escape, or the start of a UTF-8 sequence, valid or
 * not); writes its text at o and returns past it. */
static char *escape_one(char *o, const uint8_t **sp, const uint8_t *e) {
    const uint8_t *s = *sp;
    uint8_t c = *s;
    if (c < 0x80) {
        *sp = s + 1;
        return escape_ascii(o, c);
    }
    size_t len = rc_utf8_len(s, e);
    if (len == 0) {
        memcpy(o, "\\ufffd", 6); /* this one byte; the next is looked at afresh */
        *sp = s + 1;
        return o + 6;
    }
    if (len == 3 && c == 0xe2 && s[1] == 0x80 && (s[2] & 0xfe) == 0xa8) {
        /* U+2028 / U+2029 are valid JSON but end a JavaScript string literal */
        memcpy(o, s[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
        *sp = s + 3;
        return o + 6;
    }
    o[0] = (char)s[0];
    o[1] = (char)s[1];
    if (len > 2) {
        o[2] = (char)s[2];
    }
    if (len > 3) {
        o[3] = (char)s[3];
    }
    *sp = s + len;
    return o + len;
}

/* Appends s[0..n) as a JSON string. The bytes from s up to lim (lim >= s + n) may be read:
 * a string inside a bigger buffer (a msgpack event) is scanned 16 bytes at a time right up to
 * its end, and the bytes it copies past its end are overwritten or lie beyond out->len. The
 * room reserved per slice covers a 16-byte store at any point of it. */
static rc_err_t put_string_slow(rc_buf_t *out, const uint8_t *s, size_t n, const uint8_t *lim) {
    const uint8_t *e = s + n;
    char *o = room(out, SLICE_ROOM(n < STR_SLICE ? n : STR_SLICE) + 16);
    if (!o) {
        return RC_ERR_NOMEM;
    }
    *o++ = '"';
    for (;;) {
        const uint8_t *stop = (size_t)(e - s) > STR_SLICE ? s + STR_SLICE : e;
        while (s < stop) {
            if (lim - s >= 16) {
                size_t k = first_look16(s), left = (size_t)(stop - s);
                memcpy(o, s, 16);
                if (k >= left) {
                    o += left;
                    s = stop;
                    break;
                }
                o += k;
                s += k;
                if (k == 16) {
                    continue;
                }
            } else if (stop - s >= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                if (!word_needs_look(w)) {
                    memcpy(o, &w, 8);
                    o += 8;
                    s += 8;
                    continue;
                }
            }
            if (k_class[*s] == 0) {
                *o++ = (char)*s++;
            } else {
                o = escape_one(o, &s, e);
            }
        }
        if (s >= e) {
            break;
        }
        out->len = (size_t)(o - out->data);
        size_t left = (size_t)(e - s);
        if (!(o = room(out, SLICE_ROOM(left < STR_SLICE ? left : STR_SLICE) + 16))) {
            return RC_ERR_NOMEM;
        }
    }
    *o++ = '"';
    out->len = (size_t)(o - out->data);
    return RC_OK;
}

/* The usual string inline: up to 64 bytes with nothing to escape, of which 16 (n <= 16), 32
 * (n <= 32) or 64 bytes from s may be read, is one test of the looks of its 16, 32 or 64 bytes
 * (one bit per byte) and one copy: written quoted at o, which has room for 66 bytes, it returns
 * the end of the text; any other string gives NULL. */
static inline __attribute__((always_inline)) char *string_at(char *o, const uint8_t *s, size_t n,
                                                             const uint8_t *lim) {
#if defined(__SSE2__)
    if (n <= 16) {
        /* a name, a status, a DECIMAL's text: one 16-byte look, the bytes looked at stored */
        if (lim - s >= 16) {
            __m128i v = load16(s);
            if ((size_t)__builtin_ctz(~plain_bits(v)) >= n) {
                o[0] = '"';
                _mm_storeu_si128((__m128i *)(void *)(o + 1), v);
                o[1 + n] = '"';
                return o + n + 2;
            }
        }
    } else if (n <= 32) {
        /* an e-mail address, a DATETIME's text: both halves' looks in one test */
        if (lim - s >= 32) {
            __m128i v0 = load16(s), v1 = load16(s + 16);
            if ((size_t)__builtin_ctzll(~(plain_bits(v0) | (uint64_t)plain_bits(v1) << 16)) >= n) {
                o[0] = '"';
                _mm_storeu_si128((__m128i *)(void *)(o + 1), v0);
                _mm_storeu_si128((__m128i *)(void *)(o + 17), v1);
                o[1 + n] = '"';
                return o + n + 2;
            }
        }
    } else if (n <= 64 && lim - s >= 64) {
        /* a GTID, a long address: the four looks in one test of n bits (33 to 64) */
        uint64_t plain = plain_bits16(s) | (uint64_t)plain_bits16(s + 16) << 16 |
                         (uint64_t)plain_bits16(s + 32) << 32 |
                         (uint64_t)plain_bits16(s + 48) << 48;
        if ((~plain & (~0ULL >> (64 - n))) == 0) {
            o[0] = '"';
            memcpy(o + 1, s, 64);
            o[1 + n] = '"';
            return o + n + 2;
        }
    }
#else
    if (n <= 32 && lim - s >= 32) {
        size_t k = first_look16(s);
        if (k >= n || (k == 16 && first_look16(s + 16) >= n - 16)) {
            o[0] = '"';
            memcpy(o + 1, s, 32);
            o[1 + n] = '"';
            return o + n + 2;
        }
    } else if (n <= 64 && lim - s >= 64) {
        size_t k = 0;
        for (; k < n; k += 16) {
            size_t f = first_look16(s + k);
            if (f < 16) {
                k += f;
                break;
            }
        }
        if (k >= n) {
            o[0] = '"';
            memcpy(o + 1, s, 64);
            o[1 + n] = '"';
            return o + n + 2;
        }
    }
#endif
    return NULL;
}

/* put_string_slow with the usual value (string_at's) inline, without a call. */
static inline rc_err_t put_string_in(rc_buf_t *out, const uint8_t *s, size_t n,
                                     const uint8_t *lim) {
    if (n <= 64) {
        char *o = room(out, 66), *e;
        if (!o) {
            return RC_ERR_NOMEM;
        }
        if ((e = string_at(o, s, n, lim)) != NULL) {
            out->len = (size_t)(e - out->data);
            return RC_OK;
        }
    }
    return put_string_slow(out, s, n, lim);
}

static inline rc_err_t put_string(rc_buf_t *out, const uint8_t *s, size_t n) {
    return put_string_in(out, s, n, s + n);
}

rc_err_t rc_json_write_string(rc_buf_t *out, const char *s, size_t n) {
    return put_string(out, (const uint8_t *)s, n);
}

rc_err_t rc_json_write_string_in(rc_buf_t *out, const char *s, size_t n, const uint8_t *lim) {
    return put_string_in(out, (const uint8_t *)s, n, lim);
}

static rc_err_t put_base64(rc_buf_t *out, const uint8_t *s, size_t n) {
    static const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = room(out, (n + 2) / 3 * 4 + 2);
    if (!o) {
        return RC_ERR_NOMEM;
    }
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        o[0] = k_b64[v >> 18];
        o[1] = k_b64[(v >> 12) & 63];
        o[2] = k_b64[(v >> 6) & 63];
        o[3] = k_b64[v & 63];
        o += 4;
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        o[0] = k_b64[v >> 18];
        o[1] = k_b64[(v >> 12) & 63];
        o[2] = i + 1 < n ? k_b64[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    *o++ = '"';
    out->len = (size_t)(o - out->data);
    return RC_OK;
}

/* ---- numbers ------------------------------------------------------------------------------ */

static const char k_pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233"
                              "34353637383940414243444546474849505152535455565758596061626364656667"
                              "6869707172737475767778798081828384858687888990919293949596979899";

/* Writes the digits of v so that they end just before end; returns where they start. */
static inline char *u64_digits(char *end, uint64_t v) {
    char *p = end;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, k_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, k_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
static inline int u64_len(uint64_t v) {
    int n = 1;
    while (v >= 10000) {
        v /= 10000;
        n += 4;
    }
    return n + (v >= 10) + (v >= 100) + (v >= 1000);
}
#endif

/* c, which the compiler no longer knows: a multiply by it stays one imul, where GCC would make
 * a multiply by 2559 or 10 three shifts and adds. */
static inline uint64_t opaque_u64(uint64_t c) {
    __asm__("" : "+r"(c));
    return c;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The 8 decimal digits of v < 10^8 (leading zeros included) as byte values 0..9, the first
 * digit in the lowest byte: v splits into two 4-digit halves, each half into two 2-digit
 * quarters, each quarter into two digits, all lanes at once. x * 10486 >> 20 is x / 100 for
 * x < 10^4 and x * 103 >> 10 is x / 10 for x < 100; no lane's product reaches the next lane. */
static inline uint64_t digits8(uint32_t v) {
    /* each step's "hi | (x - hi * d) << s" as x << s - hi * (d << s - 1): one multiply, not
     * two shifts, two adds and an or (every lane's x - hi * d is >= 0, so nothing borrows) */
    /* v / 10^4 for v < 10^8 by a multiplier below 2^31 (an imul's immediate): 109951163 is
     * 2^40 / 10^4 rounded up, 2,224 over, less than 2^40 / 10^8 (checked for every v too) */
    uint64_t q = ((uint64_t)v * 109951163) >> 40;
    uint64_t x = ((uint64_t)v << 32) - q * ((10000ULL << 32) - 1); /* q | (v % 10^4) << 32 */
    uint64_t hi = ((x * 10486) >> 20) & 0x0000007f0000007fULL;
    x = (x << 16) - hi * ((100 << 16) - 1);
    hi = ((x * 103) >> 10) & 0x000f000f000f000fULL;
    return (x << 8) - hi * opaque_u64((10 << 8) - 1);
}

#define ASCII_ZEROS 0x3030303030303030ULL

/* The count of v's decimal digits (1 for 0), by the bit length of v: the values of one bit
 * length have one count, or two when a power of ten 10^d is among them; k_ndigits[i] is the
 * count of 2^i's digits times 2^32, plus 2^32 - 10^d in the second case, so that adding v
 * carries into the top word when v >= 10^d (the tests check both ends of every bit length). Its
 * own short chain (a bit scan, a load, an add), not digits8's five multiplies: the end of a
 * number's text, which the next segment's text waits for, is known before its digits are. */
static const uint64_t k_ndigits[32] = {
    (1ULL << 32),        (1ULL << 32),           (1ULL << 32),
    (2ULL << 32) - 10,   (2ULL << 32),           (2ULL << 32),
    (3ULL << 32) - 100,  (3ULL << 32),           (3ULL << 32),
    (4ULL << 32) - 1000, (4ULL << 32),           (4ULL << 32),
    (4ULL << 32),        (5ULL << 32) - 10000,   (5ULL << 32),
    (5ULL << 32),        (6ULL << 32) - 100000,  (6ULL << 32),
    (6ULL << 32),        (7ULL << 32) - 1000000, (7ULL << 32),
    (7ULL << 32),        (7ULL << 32),           (8ULL << 32) - 10000000,
    (8ULL << 32),        (8ULL << 32),           (9ULL << 32) - 100000000,
    (9ULL << 32),        (9ULL << 32),           (10ULL << 32) - 1000000000,
    (10ULL << 32),       (10ULL << 32)};

static inline unsigned u32_ndigits(uint32_t v) {
    return (unsigned)((v + k_ndigits[(unsigned)(31 - __builtin_clz(v | 1))]) >> 32);
}

/* d, digits8's 8 digits of a value of n digits (1 to 8), at o without its leading zeros, as
 * ASCII (an 8-byte store); returns their end. */
static inline char *put_digits8(char *o, uint64_t d, unsigned n) {
    d = (d >> (64 - 8 * n)) | ASCII_ZEROS;
    memcpy(o, &d, 8);
    return o + n;
}

#if defined(__SSE2__)
/* The digits of the four quarters (each < 10^4, times 4) in x's 16-bit lanes 0-3 and 4-7, one
 * quarter repeated over four lanes: lane i of a quarter is its value / 10^(3-i) by two high
 * multiplies, less ten times the lane before it. */
static inline __m128i quarter_digits(__m128i x) {
    const __m128i div = _mm_set_epi16(-32768, 13108, 5243, 8389, -32768, 13108, 5243, 8389);
    const __m128i sh =
        _mm_set_epi16(-32768, 1 << 13, 1 << 11, 1 << 7, -32768, 1 << 13, 1 << 11, 1 << 7);
    __m128i ten = _mm_set1_epi16(10);
    __asm__("" : "+x"(ten)); /* one pmullw, not the shifts and adds GCC makes of a known 10 */
    __m128i d = _mm_mulhi_epu16(_mm_mulhi_epu16(x, div), sh);
    return _mm_sub_epi16(d, _mm_slli_epi64(_mm_mullo_epi16(d, ten), 16));
}

/* digits8(a) in the low 8 bytes and digits8(b) in the high 8, both at once (W. Mula's SSE2
 * conversion): each x / 10^4 by one 32-bit multiply (0xd1b71759 >> 45), then each 4-digit
 * quarter's digits by quarter_digits. Checked against digits8 for every a and b below 10^8. */
static inline __m128i digits8x2(uint32_t a, uint32_t b) {
    const __m128i v = _mm_set_epi64x((long long)b, (long long)a);
    const __m128i q = _mm_srli_epi64(_mm_mul_epu32(v, _mm_set1_epi32((int)0xd1b71759)), 45);
    const __m128i r = _mm_sub_epi32(v, _mm_mul_epu32(q, _mm_set1_epi32(10000)));
    /* 16-bit lanes: 4 x (a / 10^4, a % 10^4, 0, 0, b / 10^4, b % 10^4, 0, 0) */
    const __m128i t = _mm_slli_epi64(_mm_or_si128(q, _mm_slli_epi64(r, 16)), 2);
    const __m128i ta = _mm_unpacklo_epi16(t, t), tb = _mm_unpackhi_epi16(t, t);
    return _mm_packus_epi16(quarter_digits(_mm_unpacklo_epi32(ta, ta)),
                            quarter_digits(_mm_unpacklo_epi32(tb, tb)));
}
#endif

/* Writes the digits of hi * 10^8 + lo (hi 1 to 10^8 - 1, lo below 10^8: 9 to 16 digits, a
 * timestamp in µs) at o in two 8-byte stores and returns their end. */
static inline __attribute__((always_inline)) char *u64_put16(char *o, uint64_t hi, uint64_t lo) {
#if defined(__SSE2__)
    __m128i d = digits8x2((uint32_t)hi, (uint32_t)lo);
    uint64_t y = (uint64_t)_mm_cvtsi128_si64(d);
    uint64_t x = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(d, d)) | ASCII_ZEROS;
#else
    uint64_t y = digits8((uint32_t)hi);
    uint64_t x = digits8((uint32_t)lo) | ASCII_ZEROS;
#endif
    o = put_digits8(o, y, u32_ndigits((uint32_t)hi));
    memcpy(o, &x, 8);
    return o + 8;
}

/* Writes the digits of v at o (8-byte stores: up to 20 bytes past o may be written) and
 * returns the end of the digits. */
static char *u64_put(char *o, uint64_t v) {
    if (v < 100000000) {
        if (v < 10) {
            *o = (char)('0' + v);
            return o + 1;
        }
        return put_digits8(o, digits8((uint32_t)v), u32_ndigits((uint32_t)v));
    }
    uint64_t hi = v / 100000000;
    if (hi < 100000000) { /* 9 to 16 digits (a timestamp in µs): no second level */
        return u64_put16(o, hi, v % 100000000);
    }
    uint64_t x = digits8((uint32_t)(v % 100000000)) | ASCII_ZEROS;
    o = u64_put(o, hi); /* at most 12 digits, so one more level at most */
    memcpy(o, &x, 8);
    return o + 8;
}
#endif

static rc_err_t put_int(rc_buf_t *out, uint64_t mag, bool neg) {
    char *o = room(out, 21 + 8);
    if (!o) {
        return RC_ERR_NOMEM;
    }
    if (neg) {
        *o++ = '-';
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    o = u64_put(o, mag);
#else
    int n = u64_len(mag);
    u64_digits(o + n, mag);
    o += n;
#endif
    out->len = (size_t)(o - out->data);
    return RC_OK;
}

rc_err_t rc_json_write_int(rc_buf_t *out, uint64_t mag, bool neg) {
    return put_int(out, mag, neg);
}

static inline rc_err_t put_i64(rc_buf_t *out, int64_t v) {
    return v < 0 ? put_int(out, 0 - (uint64_t)v, true) : put_int(out, (uint64_t)v, false);
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Writes the digits of v < 2^32 at o (up to 10 bytes may be written) and returns their end. */
static inline __attribute__((always_inline)) char *put_u32_at(char *o, uint32_t v) {
    if (v < 100000000) { /* 1 to 8 digits (an id, a count, a position) */
        return put_digits8(o, digits8(v), u32_ndigits(v));
    }
    /* 9 or 10 digits (a time in seconds): the first one or two (1 to 42) from k_pairs and the
     * other 8 by digits8, not both halves in SSE2 as u64_put16 makes them */
    uint32_t hi = v / 100000000;
    uint64_t x = digits8(v - hi * 100000000) | ASCII_ZEROS;
    if (hi >= 10) {
        memcpy(o, k_pairs + 2 * hi, 2);
        o += 2;
    } else {
        *o++ = (char)('0' + hi);
    }
    memcpy(o, &x, 8);
    return o + 8;
}
#endif

/* Writes the digits of v at o (up to 29 bytes may be written) and returns their end. Always
 * inline: a caller whose v is known to fit 32 bits (value_at's uint 8/16/32) keeps only
 * put_u32_at's code. */
static inline __attribute__((always_inline)) char *put_u64_at(char *o, uint64_t v) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (v <= UINT32_MAX) {
        return put_u32_at(o, (uint32_t)v);
    }
    if (v < 10000000000000000ULL) { /* 10 to 16 digits inline too */
        return u64_put16(o, v / 100000000, v % 100000000);
    }
    return u64_put(o, v);
#else
    int n = u64_len(v);
    u64_digits(o + n, v);
    return o + n;
#endif
}

/* A finite positive number as decimal digits: d[0].d[1..nd) x 10^e, no trailing zeros; nd is
 * at most 17, and d has room for 16-byte copies from any digit (the bytes past nd unspecified). */
typedef struct decimal {
    char d[32];
    int nd;
    int e;
} decimal_t;

static const double k_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#define TWO53 9007199254740992.0

static void decimal_from_u64(decimal_t *dec, uint64_t m, int frac_digits) {
    char *end = dec->d + sizeof dec->d;
    char *p = u64_digits(end, m);
    int nd = (int)(end - p);
    dec->e = nd - 1 - frac_digits;
    while (nd > 1 && p[nd - 1] == '0') {
        nd--;
    }
    memmove(dec->d, p, (size_t)nd);
    dec->nd = nd;
}

/* Fast path: the fewest fraction digits k for which round(x * 10^k) / 10^k reads back as x.
 * Both M < 2^53 and 10^k (k <= 22) are exact doubles, so the one correctly rounded division
 * gives what strtod gives for the text "M e-k". Only while x's ulp is at most 1 (x < 2^53, a
 * float below 2^24) is the fewest fraction digits also the fewest digits: above, 1.5e+20 beats
 * any integer text. A candidate M that reads back lies within about m * 2^-52 (m * 2^-23 for a
 * float) of m = x * 10^k, so most k of a full-precision value are passed over without a
 * division. When `single`, the value must read back as the same float; a double result exactly
 * halfway between two floats could round either way there, so such a candidate is skipped.
 * The text is M x 10^-k: *mout = M, *kout = k. On false, *kout is the count of k from 0 that
 * were ruled out for a double (no M / 10^k reads back as x for k below it; 0 for a float, whose
 * halfway candidates are skipped, not ruled out), for shortest_slow to start past them. */
static bool shortest_fast(double x, bool single, uint64_t *mout, int *kout) {
    *kout = 0;
    if (!(x < (single ? 16777216.0 : TWO53))) {
        return false;
    }
    double slack = single ? 0x1p-22 : 0x1p-51;
    /* The k below which none passes, told at the last K with m = x * 10^K below 2^47 (2^18 for
     * a float), before trying k up from 0: a candidate C passing at k < K makes C * 10^(K-k)
     * an integer within m * (slack + 2^-52) of m (the two products' roundings add 2^-52), which
     * is below 2 * slack * m (< 1/4); so when m's nearest integer is farther, no k up to K
     * passes. A full-precision value then tries only the few k past K, not all of them. */
    int kmax = (int)(sizeof k_pow10 / sizeof k_pow10[0]) - 1, k0 = 0, lb = single ? 18 : 47;
    double lim = single ? 0x1p18 : 0x1p47;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int big = (int)(bits >> 52) - 1022; /* x < 2^big */
    if (big < lb) {
        int K = ((lb - big) * 78913) >> 18; /* 10^K <= 2^(lb - big): m < 2^lb */
        K = K < kmax ? K : kmax;
        while (K < kmax && x * k_pow10[K + 1] < lim) {
            K++;
        }
        double m = x * k_pow10[K];
        if (m < lim && m >= 1.0 && fabs(((m + 0x1p52) - 0x1p52) - m) > m * (2 * slack)) {
            k0 = K + 1;
        }
    }
    for (int k = k0; k < (int)(sizeof k_pow10 / sizeof k_pow10[0]); k++) {
        double m = x * k_pow10[k];
        if (m >= TWO53) {
            *kout = single ? 0 : k;
            return false;
        }
        /* the nearest integer, ties to even (m >= 2^52 is one already) */
        double near = m < 0x1p52 ? (m + 0x1p52) - 0x1p52 : m;
        if (fabs(near - m) > m * slack) {
            continue; /* no integer close enough: the usual case for a full-precision value */
        }
        uint64_t cand[2] = {(uint64_t)near, m > near ? (uint64_t)near + 1 : (uint64_t)near - 1};
        for (int i = 0; i < 2; i++) {
            if (cand[i] == 0 || fabs((double)cand[i] - m) > m * slack) {
                continue;
            }
            double back = (double)cand[i] / k_pow10[k];
            bool same;
            if (!single) {
                same = back == x;
            } else {
                float f = (float)back;
                same = f == (float)x;
                if (same && (double)f != back) {
                    float g = nextafterf(f, back > (double)f ? INFINITY : -INFINITY);
                    same = ((double)f + (double)g) / 2 != back;
                }
            }
            if (same) {
                *mout = cand[i];
                *kout = k;
                return true;
            }
        }
    }
    *kout = single ? 0 : (int)(sizeof k_pow10 / sizeof k_pow10[0]);
    return false;
}

typedef unsigned __int128 u128;

/* Whether D x 10^q reads back as the normal x = m x 2^e2 (m's top bit set) by exact integers,
 * as strtod and strtof round: to nearest, ties to the even m. It does when it lies strictly
 * between the midpoints to x's neighbours, or on one with m even; in units of x's ulp / 4 they
 * are 4m + 2 and 4m - 2 (4m - 1 when `half_below`: m is a power of two above the smallest
 * normal, whose lower neighbour is half as far). D 10^q against M 2^(e2-2) is D 5^q 2^t against
 * M (5^-q when q < 0 on M's side, 2^-t when t < 0), t = q - e2 + 2. Returns -1 when a product
 * would not fit 128 bits (|q| > 27 or a shift too far), for the caller to ask strtod. */
static int reads_back_exact(uint64_t D, int q, uint64_t m, int e2, bool half_below) {
    static const uint64_t p5[28] = {1ULL,
                                    5ULL,
                                    25ULL,
                                    125ULL,
                                    625ULL,
                                    3125ULL,
                                    15625ULL,
                                    78125ULL,
                                    390625ULL,
                                    1953125ULL,
                                    9765625ULL,
                                    48828125ULL,
                                    244140625ULL,
                                    1220703125ULL,
                                    6103515625ULL,
                                    30517578125ULL,
                                    152587890625ULL,
                                    762939453125ULL,
                                    3814697265625ULL,
                                    19073486328125ULL,
                                    95367431640625ULL,
                                    476837158203125ULL,
                                    2384185791015625ULL,
                                    11920928955078125ULL,
                                    59604644775390625ULL,
                                    298023223876953125ULL,
                                    1490116119384765625ULL,
                                    7450580596923828125ULL};
    if (q > 27 || q < -27) {
        return -1;
    }
    u128 l = D, hi = 4 * (u128)m + 2, lo = 4 * (u128)m - (half_below ? 1 : 2);
    if (q >= 0) {
        l *= p5[q];
    } else {
        hi *= p5[-q];
        lo *= p5[-q];
    }
    int t = q - e2 + 2;
    if (t > 0) {
        if (t >= 128 || (l >> (128 - t)) != 0) {
            return -1;
        }
        l <<= t;
    } else if (t < 0) {
        if (-t >= 128 || (hi >> (128 + t)) != 0) {
            return -1;
        }
        hi <<= -t;
        lo <<= -t;
    }
    bool even = (m & 1) == 0;
    return (l < hi || (l == hi && even)) && (l > lo || (l == lo && even));
}

/* Whether the text d[0..nd) x 10^(e - nd + 1) (nd <= 19) reads back as x, by reads_back_exact
 * for a normal x, else by strtod (strtof). No decimal point, so the locale does not matter. */
static bool reads_back(const char *d, int nd, int e, double x, bool single) {
    uint64_t D = 0;
    int i = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; i + 8 <= nd; i += 8) { /* 8 digits at once: pairs, then quads, then the eight */
        uint64_t w;
        memcpy(&w, d + i, 8);
        w -= ASCII_ZEROS;
        w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ffULL;
        w = (w * 100 + (w >> 16)) & 0x0000ffff0000ffffULL;
        D = D * 100000000 + ((w * 10000 + (w >> 32)) & 0xffffffffULL);
    }
#endif
    for (; i < nd; i++) {
        D = D * 10 + (uint64_t)(d[i] - '0');
    }
    int r = -1;
    if (single) {
        float f = (float)x;
        uint32_t b;
        memcpy(&b, &f, sizeof b);
        uint32_t be = (b >> 23) & 0xff;
        if (be != 0 && be != 0xff) {
            uint64_t m = (b & 0x7fffffu) | 0x800000u;
            r = reads_back_exact(D, e - (nd - 1), m, (int)be - 150, m == 0x800000u && be > 1);
        }
    } else {
        uint64_t b;
        memcpy(&b, &x, sizeof b);
        uint32_t be = (uint32_t)(b >> 52) & 0x7ff;
        if (be != 0 && be != 0x7ff) {
            uint64_t m = (b & ((1ULL << 52) - 1)) | (1ULL << 52);
            r = reads_back_exact(D, e - (nd - 1), m, (int)be - 1075, m == 1ULL << 52 && be > 1);
        }
    }
    if (r >= 0) {
        return r;
    }
    char t[48];
    memcpy(t, d, (size_t)nd);
    char *o = t + nd;
    int ex = e - (nd - 1);
    *o++ = 'e';
    if (ex < 0) {
        *o++ = '-';
    }
    char tmp[8];
    char *p = u64_digits(tmp + sizeof tmp, (uint64_t)(ex < 0 ? -ex : ex));
    memcpy(o, p, (size_t)(tmp + sizeof tmp - p));
    o[tmp + sizeof tmp - p] = '\0';
    return single ? strtof(t, NULL) == (float)x : strtod(t, NULL) == x;
}

/* The n (9 or 17) correctly rounded significant digits of a normal x > 0, ties to even, as
 * printf's "%.*e" gives them but without its multi-precision arithmetic: x = M * 2^E is exact,
 * and for 1e-7 <= x < 2^74 so is M * 10^k (k <= 22) in 128 bits. *side tells where x lies
 * against the digits: -1 below (rounded up), 1 above, 0 exactly on them. Returns false outside
 * that range, for the caller to fall back on printf. */

static bool exact_digits(double x, int n, char *out, int *e10, int *side) {
    static const uint64_t p10[20] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL,
                                     10000000000000000000ULL};
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int be = (int)(bits >> 52) & 0x7ff;
    if (be == 0 || be == 0x7ff) {
        return false;
    }
    uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    int e2 = be - 1075; /* x = m * 2^e2 */
    /* floor(log10(x)) is est or est + 1: 78913 / 2^18 is log10(2) rounded down */
    int est = ((e2 + 52) * 78913) >> 18;
    uint64_t lo = p10[n - 1], hi = p10[n];
    for (int attempt = 0; attempt < 2; attempt++) {
        int k = n - 1 - est;
        u128 d;
        int cmp;           /* the dropped remainder against one half */
        bool rest = false; /* whether anything was dropped at all */
        if (k >= 0) {
            if (k > 22) {
                return false;
            }
            u128 num = (u128)m * (k > 19 ? p10[19] : p10[k]);
            if (k > 19) {
                num *= p10[k - 19];
            }
            if (e2 >= 0) {
                if (e2 > 10) {
                    return false;
                }
                d = num << e2;
                cmp = -1;
            } else {
                int sh = -e2;
                if (sh >= 127) {
                    return false;
                }
                d = num >> sh;
                u128 r = num & (((u128)1 << sh) - 1), half = (u128)1 << (sh - 1);
                cmp = r < half ? -1 : r > half ? 1 : 0;
                rest = r != 0;
            }
        } else {
            if (-k > 19 || e2 < 0 || e2 > 21) {
                return false;
            }
            u128 num = (u128)m << e2;
            uint64_t div = p10[-k];
            d = num / div;
            u128 r2 = (num % div) * 2;
            cmp = r2 < div ? -1 : r2 > div ? 1 : 0;
            rest = r2 != 0;
        }
        if (d >= hi) {
            est++;
            continue;
        }
        if (d < lo) {
            est--;
            continue;
        }
        uint64_t v = (uint64_t)d;
        *side = rest ? 1 : 0;
        if (cmp > 0 || (cmp == 0 && (v & 1))) {
            v++;
            *side = -1;
        }
        if (v == hi) {
            v = lo; /* 99..9.5 rounds up to 100..0 */
            est++;
        }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* v has n (9 or 17) digits: its first one, then 8 or 16 by digits8, not 8 or 4 rounds
         * of u64_digits' divisions by 100 */
        uint64_t lo8 = v % 100000000, hi = v / 100000000, w;
        if (n == 17) {
            w = digits8((uint32_t)(hi % 100000000)) | ASCII_ZEROS;
            memcpy(out + 1, &w, 8);
            hi /= 100000000;
        }
        out[0] = (char)('0' + hi);
        w = digits8((uint32_t)lo8) | ASCII_ZEROS;
        memcpy(out + n - 8, &w, 8);
#else
        u64_digits(out + n, v);
#endif
        *e10 = est;
        return true;
    }
    return false;
}

/* Compares the digit tail t[0..n) (a fraction 0.t) with one half: -1, 0 or 1. */
static int tail_vs_half(const char *t, int n) {
    if (n <= 0 || t[0] != '5') {
        return n <= 0 || t[0] < '5' ? -1 : 1;
    }
    for (int i = 1; i < n; i++) {
        if (t[i] != '0') {
            return 1;
        }
    }
    return 0;
}

/* Slow path: take the 17 (float: 9) correctly rounded digits once, which always read back,
 * then try the p-digit roundings for p from DBL_DIG (FLT_DIG) up: every decimal of at most that
 * many digits survives the trip through a normal double (float), so no shorter one can exist
 * when those fail; subnormals have fewer bits and start from one digit. Rounding the printed
 * digits again gives x's own p-digit rounding unless the dropped tail is exactly 5, 50, ...,
 * where the exact expansion (printed only then) says which side x is on; on an exact tie both
 * neighbours are tried. */
static void shortest_slow(double x, bool single, decimal_t *dec, int kdone) {
    char buf[48];
    int last = single ? 9 : 17;
    int first = single ? (x < FLT_MIN ? 1 : FLT_DIG) : (x < DBL_MIN ? 1 : DBL_DIG);
    char full[24];
    int nf = 0, e = 0, side = 2; /* 2: unknown, printf rounded */
    const char *q;
    if (exact_digits(x, last, full, &e, &side)) {
        nf = last;
    } else {
        snprintf(buf, sizeof buf, "%.*e", last - 1, x);
        for (q = buf; *q && *q != 'e' && nf < last; q++) {
            if (*q >= '0' && *q <= '9') {
                full[nf++] = *q;
            }
        }
        while (*q && *q != 'e') {
            q++;
        }
        e = *q == 'e' ? atoi(q + 1) : 0;
    }

    const char *digits = full;
    int nd = nf;
    char up[24];
    /* p digits from e are an integer over 10^max(p - 1 - e, 0): shortest_fast ruled those out
     * for the k below kdone (a double's read-back test there is this one's), so p starts past
     * them */
    int past = kdone > 0 ? kdone + 1 + e : 0;
    for (int p = first > past ? first : past; p < nf; p++) {
        int cmp = tail_vs_half(full + p, nf - p);
        if (cmp == 0 && side != 2) {
            cmp = side; /* the tail is 50..0 and x lies off it (or on it) by side */
        } else if (cmp == 0) {
            /* the printed tail is a rounded 50..0: the exact digits tell which side x is on */
            char exact[800];
            snprintf(exact, sizeof exact, "%.*e", 770, x);
            int n = 0;
            for (q = exact; *q && *q != 'e'; q++) {
                if (*q >= '0' && *q <= '9') {
                    exact[n++] = *q;
                }
            }
            cmp = tail_vs_half(exact + p, n - p);
        }
        /* on an exact tie the even neighbour goes first, as printf rounds */
        bool down_first = cmp < 0 || (cmp == 0 && (full[p - 1] - '0') % 2 == 0);
        if (down_first && reads_back(full, p, e, x, single)) {
            nd = p;
            break;
        }
        if (cmp >= 0) {
            int ue = e, i = p - 1;
            memcpy(up, full, (size_t)p);
            while (i >= 0 && up[i] == '9') {
                up[i--] = '0';
            }
            if (i < 0) {
                up[0] = '1'; /* 999.. + 1 = 1000.. */
                ue++;
            } else {
                up[i]++;
            }
            if (reads_back(up, p, ue, x, single)) {
                digits = up;
                nd = p;
                e = ue;
                break;
            }
        }
        if (cmp == 0 && !down_first && reads_back(full, p, e, x, single)) {
            nd = p;
            break;
        }
    }
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    memcpy(dec->d, digits, 24); /* nd <= 17: one fixed copy, not a call */
    dec->nd = nd;
    dec->e = e;
}

/* Lays out the digits like JavaScript's Number#toString (plain notation for 1e-6 <= x < 1e21,
 * else d.ddde+XX) except that integral values keep a ".0" so readers still see a float. */
static size_t format_decimal(char *o, bool neg, const decimal_t *dec) {
    char *start = o;
    int nd = dec->nd, e = dec->e;
    if (neg) {
        *o++ = '-';
    }
    if (e >= -6 && e <= 20) {
        if (e >= nd - 1) {
            memcpy(o, dec->d, (size_t)nd);
            o += nd;
            memset(o, '0', (size_t)(e - (nd - 1)));
            o += e - (nd - 1);
            memcpy(o, ".0", 2);
            o += 2;
        } else if (e >= 0) {
            /* at most 16 digits on each side of the point (nd <= 17): fixed copies, not calls
             * (o has room for 40 bytes; at most 1 + 16 + 1 + 16 are written) */
            memcpy(o, dec->d, 16);
            o[e + 1] = '.';
            memcpy(o + e + 2, dec->d + e + 1, 16);
            o += nd + 1;
        } else {
            memcpy(o, "0.", 2);
            o += 2;
            memset(o, '0', (size_t)(-e - 1));
            o += -e - 1;
            memcpy(o, dec->d, (size_t)nd);
            o += nd;
        }
    } else {
        *o++ = dec->d[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dec->d + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        char tmp[8];
        char *p = u64_digits(tmp + sizeof tmp, (uint64_t)(e < 0 ? -e : e));
        memcpy(o, p, (size_t)(tmp + sizeof tmp - p));
        o += tmp + sizeof tmp - p;
    }
    return (size_t)(o - start);
}

/* format_decimal of decimal_from_u64(m, k) for 0 < m < 2^53, without the decimal_t: the text
 * when it is plain notation with at most 5 zeros after "0." and k <= 15 (the usual database
 * value: 345.453 is m 345453, k 3), else 0 for the caller to go that way. The digits of m are
 * made once, then the fraction's are moved one place for the point by fixed 16-byte copies; o
 * has room for 40 bytes (at most 1 + 16 + 1 + 16 are written). */
static inline size_t format_fast(char *o, bool neg, uint64_t m, int k) {
    char d[32];
    int nd = (int)(put_u64_at(d, m) - d); /* 1..16 digits */
    if (k > 15 || k - nd > 5) {
        return 0; /* "0.0000001" and smaller are 1e-7 */
    }
    char *s = o, *end;
    *s = '-';
    s += neg;
    if (k == 0) { /* an integral value: its digits and ".0" */
        memcpy(s, d, 16);
        memcpy(s + nd, ".0", 2);
        return (size_t)(neg + nd + 2);
    }
    if (nd > k) {
        int ip = nd - k; /* digits before the point */
        memcpy(s, d, 16);
        s[ip] = '.';
        memcpy(s + ip + 1, d + ip, 16);
        end = s + nd + 1;
    } else {
        memcpy(s, "0.000000", 8);
        memcpy(s + 2 + (k - nd), d, 16);
        end = s + 2 + k;
    }
    while (end[-1] == '0') { /* the zeros M ends with; one is kept after the point */
        end--;
    }
    if (end[-1] == '.') {
        *end++ = '0';
    }
    return (size_t)(end - o);
}

/* The count of digits before the point of 2^-11 <= a < 10^5 by a's binade [2^(e-11), 2^(e-10)):
 * k_float3_ni[e] for its largest values, one less below k_float3_ni_at[e], the bits of the
 * power of ten inside it (10, 100, 1000, 10^4, 10^5; 0 in the binades without one). */
static const uint8_t k_float3_ni[29] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2,
                                        2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 6, 6};
static const uint64_t k_float3_ni_at[29] = {[14] = 0x4024000000000000ULL,
                                            [17] = 0x4059000000000000ULL,
                                            [20] = 0x408f400000000000ULL,
                                            [24] = 0x40c3880000000000ULL,
                                            [27] = 0x40f86a0000000000ULL};

/* The text of a double of at most 3 decimals (12.345, 12.5, 12.0: the usual DOUBLE of a
 * database) below 2^42, at o; returns its end, or NULL for float_at's general way. It is what
 * shortest_fast and format_fast give, without stepping k up from 0. Below 2^42 a double's ulp is
 * under 0.001, so at most one N reads back as x from N / 10^3, and if some M / 10^k (k < 3)
 * reads back, M * 10^(3-k) is that N: the k shortest_fast picks is 3 less the zeros N ends with
 * (none of its k below pass), and its M is N without them (x * 10^k is within M * 2^-52 of M <
 * 2^49, so M is its nearest integer and passes the slack test). N is the one that passes
 * shortest_fast's read-back test at k = 3, found by integers (below); format_fast writes M's
 * digits with the point k places from the end, "N.0" for k = 0. */
static inline __attribute__((always_inline)) char *float3_at(char *o, double x) {
    /* |x| and its sign from x's bits, and 2^-11 <= |x| < 2^42 told by them: a double's bits that
     * are not negative order as its value, and an infinity's or a NaN's are above 2^42's */
    uint64_t a_bits;
    memcpy(&a_bits, &x, 8);
    unsigned neg = (unsigned)(a_bits >> 63);
    a_bits &= ~(1ULL << 63);
    if (a_bits - 0x3f40000000000000ULL >= 0x4290000000000000ULL - 0x3f40000000000000ULL) {
        return NULL; /* below 2^-11 (N = 0: +0 too) or from 2^42 on */
    }
    /* Whether N / 10^3 reads back as a = M * 2^-s (M < 2^53, s in 11..63), by integers, not by
     * the double's multiply, rounding and division back: it does when N / 10^3 is nearer to a
     * than half of a's ulp 2^-s, i.e. |N * 2^s - M * 1000| < 500 (M * 1000 < 2^63). As 2^s >
     * 1000, that is (M * 1000 + 500) mod 2^s < 1000, and N is then (M * 1000 + 500) >> s. No
     * tie: N * 2^s - M * 1000 = +-500 has 2^2 as its power of two, its terms 2^3 or more. The
     * lower neighbour of a power of two is half as far, but a = 2^-s * 2^52 is N / 10^3 exactly
     * (M * 1000 mod 2^s = 0) or has M * 1000 mod 2^s and 2^s less it both >= 2^55. */
    unsigned sh = 1075 - (unsigned)(a_bits >> 52);
    uint64_t r = ((a_bits & ((1ULL << 52) - 1)) | 1ULL << 52) * 1000 + 500;
    uint64_t n = r >> sh;
    if (r - (n << sh) >= 1000) {
        return NULL;
    }
    *o = '-';
    o += neg;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n < 100000000) { /* below 100000: N's 8 digits made at once, the point put in them */
        uint32_t n32 = (uint32_t)n;
        uint64_t d = digits8(n32);
        /* the lengths on chains of their own, not from d's zeros (d is five multiplies after
         * n): the digits before the point from |x|'s bits (N / 10^3 reads back as |x|, so
         * |x| >= 10^i exactly when N's integral part is: its binade's count, less one below the
         * power of ten in it, two loads and a compare), the fraction's from N by two exact
         * divisibility tests (".ddd" less its trailing zeros, ".0" when all three are) */
        unsigned e = (unsigned)(a_bits >> 52) - 1012;
        unsigned ni = k_float3_ni[e] - (a_bits < k_float3_ni_at[e]);
        unsigned nf = 4 - (n32 % 10 == 0) - (n32 % 100 == 0);
        uint64_t t = (d >> (40 - 8 * ni)) | ASCII_ZEROS; /* "0.ddd" keeps a digit before it */
        memcpy(o, &t, 8);
        o += ni;
        uint32_t tail = '.' | (uint32_t)((d | ASCII_ZEROS) >> 40) << 8; /* ".ddd" */
        memcpy(o, &tail, 4);
        return o + nf;
    }
#endif
    uint64_t ip = n / 1000;
    unsigned f = (unsigned)(n - ip * 1000);
    o = put_u64_at(o, ip);
    o[0] = '.';
    o[1] = (char)('0' + f / 100);
    memcpy(o + 2, k_pairs + 2 * (f % 100), 2);
    /* ".ddd" less the fraction's trailing zeros, ".0" when it is all zeros */
    return o + (f == 0 ? 2 : 4 - (f % 10 == 0) - (f % 100 == 0));
}

/* The text of x at o, which has room for 40 bytes ("-" + 21 digits + ".0", or "0.000000" + 17
 * digits, at most); returns its end. */
static __attribute__((noinline)) char *float_any_at(char *o, double x, bool single) {
    if (isnan(x) || isinf(x)) {
        memcpy(o, "null", 4);
        return o + 4;
    }
    bool neg = signbit(x) != 0;
    double a = fabs(x);
    decimal_t dec;
    uint64_t m;
    int k;
    if (a == 0) {
        dec.d[0] = '0';
        dec.nd = 1;
        dec.e = 0;
    } else if (shortest_fast(a, single, &m, &k)) {
        size_t n = format_fast(o, neg, m, k);
        if (n) {
            return o + n;
        }
        decimal_from_u64(&dec, m, k);
    } else {
        shortest_slow(a, single, &dec, k);
    }
    return o + format_decimal(o, neg, &dec);
}

/* float_any_at with float3_at's doubles inline. */
static inline __attribute__((always_inline)) char *float_at(char *o, double x, bool single) {
    char *e;
    if (!single && (e = float3_at(o, x))) {
        return e;
    }
    return float_any_at(o, x, single);
}

static rc_err_t put_float(rc_buf_t *out, double x, bool single) {
    char *o = room(out, 40);
    if (!o) {
        return RC_ERR_NOMEM;
    }
    out->len = (size_t)(float_at(o, x, single) - out->data);
    return RC_OK;
}

/* ---- objects ------------------------------------------------------------------------------ */

static rc_err_t write_value(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, int depth);

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* c < 128's text in a word: its 1 to 3 digits in the low bytes, their count in the top one. */
#define SMALL_TEXT(c)                                                                              \
    ((c) < 10    ? (uint32_t)('0' + (c)) | 1u << 24                                                \
     : (c) < 100 ? (uint32_t)('0' + (c) / 10) | (uint32_t)('0' + (c) % 10) << 8 | 2u << 24         \
                 : (uint32_t)'1' | (uint32_t)('0' + (c) / 10 % 10) << 8 |                          \
                       (uint32_t)('0' + (c) % 10) << 16 | 3u << 24)
#define SMALL_TEXT8(c)                                                                             \
    SMALL_TEXT(c), SMALL_TEXT(c + 1), SMALL_TEXT(c + 2), SMALL_TEXT(c + 3), SMALL_TEXT(c + 4),     \
        SMALL_TEXT(c + 5), SMALL_TEXT(c + 6), SMALL_TEXT(c + 7)
static const uint32_t k_small[128] = {
    SMALL_TEXT8(0),  SMALL_TEXT8(8),   SMALL_TEXT8(16),  SMALL_TEXT8(24),
    SMALL_TEXT8(32), SMALL_TEXT8(40),  SMALL_TEXT8(48),  SMALL_TEXT8(56),
    SMALL_TEXT8(64), SMALL_TEXT8(72),  SMALL_TEXT8(80),  SMALL_TEXT8(88),
    SMALL_TEXT8(96), SMALL_TEXT8(104), SMALL_TEXT8(112), SMALL_TEXT8(120)};
#undef SMALL_TEXT8
#undef SMALL_TEXT
#endif

/* The digits of c (0..127) at o (4 bytes may be written); returns their end. A word of a table,
 * not tests of c: a fixint (a quantity of 1 to 20) has as many one-digit values as two-digit
 * ones, and the branch between them was taken at random. */
static inline char *small_at(char *o, unsigned c) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t t = k_small[c];
    memcpy(o, &t, 4);
    return o + (t >> 24);
#else
    if (c < 10) {
        *o = (char)('0' + c);
        return o + 1;
    }
    if (c < 100) {
        memcpy(o, k_pairs + 2 * c, 2);
        return o + 2;
    }
    o[0] = '1';
    memcpy(o + 1, k_pairs + 2 * (c - 100), 2);
    return o + 3;
#endif
}

/* The usual values of a row written at o, which has room for VALUE_ROOM bytes: ints, nil,
 * bools, doubles, and strings and the text of a DECIMAL, a temporal, an ENUM or a SET that
 * string_at takes. One switch on the type byte (a jump table) picks the writer. Returns the end
 * of the text and moves *pp past the value, or returns NULL (*pp unmoved) for any other value, a
 * truncated one too, for write_value to write. */
static inline __attribute__((always_inline)) char *value_at(char *o, const uint8_t **pp,
                                                            const uint8_t *end) {
    static const char k_lit[4][8] = {"null", "", "false", "true"};
    const uint8_t *p = *pp;
    size_t avail = (size_t)(end - p), n, head;
    if (avail == 0) {
        return NULL;
    }
    uint8_t c = p[0];
    char *e;
    uint64_t u;
    switch (c) {
    case 0x00 ... 0x7f:
        *pp = p + 1;
        return small_at(o, c);
    case 0xe0 ... 0xff:
        *pp = p + 1;
        *o = '-';
        return small_at(o + 1, 0x100u - c);
    case 0xa0 ... 0xbf:
        n = c & 0x1fu;
        head = 1;
        break;
    case 0xd9:
        if (avail < 2) {
            return NULL;
        }
        n = p[1];
        head = 2;
        break;
    case 0xc7:
        /* ext 8 of a DECIMAL, a temporal, an ENUM or a SET: its text as a string */
        if (avail < 3 || p[2] < RC_EXT_DECIMAL || p[2] > RC_EXT_SET || p[2] == RC_EXT_JSON) {
            return NULL;
        }
        n = p[1];
        head = 3;
        break;
    case 0xcc: /* uint 8/16/32/64: a case each, so that the width is a constant */
        if (avail < 2) {
            return NULL;
        }
        *pp = p + 2;
        return put_u64_at(o, p[1]);
    case 0xcd:
        if (avail < 3) {
            return NULL;
        }
        *pp = p + 3;
        return put_u64_at(o, rc_mp_be16(p + 1));
    case 0xce:
        if (avail < 5) {
            return NULL;
        }
        *pp = p + 5;
        return put_u64_at(o, rc_mp_be32(p + 1));
    case 0xcf:
        if (avail < 9) {
            return NULL;
        }
        *pp = p + 9;
        return put_u64_at(o, rc_mp_be64(p + 1));
    case 0xd0 ... 0xd3:
        if (avail <= rc_mp_int_width(c)) {
            return NULL;
        }
        *pp = p + 1 + rc_mp_int_width(c);
        u = rc_mp_int_word(p);
        if ((int64_t)u < 0) {
            *o++ = '-';
            u = 0 - u;
        }
        return put_u64_at(o, u);
    case 0xc0:
    case 0xc2:
    case 0xc3:
        /* null, false, true */
        memcpy(o, k_lit[c - 0xc0], 8);
        *pp = p + 1;
        return o + (c == 0xc2 ? 5 : 4);
    case 0xcb: {
        if (avail < 9) {
            return NULL;
        }
        uint64_t bits = rc_mp_be64(p + 1);
        double d;
        memcpy(&d, &bits, sizeof d);
        *pp = p + 9;
        return float_at(o, d, false);
    }
    default:
        return NULL;
    }
    if (avail - head < n || !(e = string_at(o, p + head, n, end))) {
        return NULL;
    }
    *pp = p + head + n;
    return e;
}

#define VALUE_ROOM 72 /* what value_at may write, rounded up */

/* write_value for a value value_at did not take: a double inline, anything else through the
 * switch. */
static inline rc_err_t write_value_rest(rc_buf_t *out, const uint8_t **pp, const uint8_t *end,
                                        int depth) {
    const uint8_t *p = *pp;
    if (end - p >= 9 && p[0] == 0xcb) {
        uint64_t bits = rc_mp_be64(p + 1);
        double d;
        memcpy(&d, &bits, sizeof d);
        *pp = p + 9;
        return put_float(out, d, false);
    }
    return write_value(out, pp, end, depth);
}

/* write_value with the usual values of a row inline (value_at's, and doubles). */
static inline rc_err_t write_value_fast(rc_buf_t *out, const uint8_t **pp, const uint8_t *end,
                                        int depth) {
    char *o = room(out, VALUE_ROOM), *e;
    if (!o) {
        return RC_ERR_NOMEM;
    }
    if ((e = value_at(o, pp, end)) != NULL) {
        out->len = (size_t)(e - out->data);
        return RC_OK;
    }
    return write_value_rest(out, pp, end, depth);
}

static rc_err_t write_array(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, uint32_t n,
                            int depth) {
    if (depth >= MAX_DEPTH) {
        return RC_ERR_INVALID;
    }
    if (n > (size_t)(end - *pp)) {
        return RC_ERR_TRUNCATED; /* every item takes at least one byte */
    }
    rc_err_t err = rc_buf_putc(out, '[');
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        if (i > 0 && (err = rc_buf_putc(out, ',')) != RC_OK) {
            break;
        }
        err = write_value(out, pp, end, depth + 1);
    }
    return err != RC_OK ? err : rc_buf_putc(out, ']');
}

/* A key that is not a str is written as JSON and that text as a JSON string: {1: x} gives
 * {"1": x}. Rare, so a key longer than the stack buffer may take one malloc. */
static rc_err_t write_key_text(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, int depth) {
    size_t mark = out->len;
    rc_err_t err = write_value(out, pp, end, depth);
    if (err != RC_OK) {
        return err;
    }
    size_t n = out->len - mark;
    char stack[256];
    char *tmp = n <= sizeof stack ? stack : malloc(n);
    if (!tmp) {
        return RC_ERR_NOMEM;
    }
    memcpy(tmp, out->data + mark, n);
    out->len = mark;
    err = put_string(out, (const uint8_t *)tmp, n);
    if (tmp != stack) {
        free(tmp);
    }
    return err;
}

/* A map key read at the start of a member: a str (key, klen) or not (is_str false); next is
 * where the key ends when it is a str. */
typedef struct map_key {
    const char *key;
    uint32_t klen;
    bool is_str;
    const uint8_t *next;
} map_key_t;

static inline void read_map_key(const uint8_t *k, const uint8_t *end, map_key_t *mk) {
    if (k < end && (*k & 0xe0) == 0xa0 && (size_t)(end - k) > (*k & 0x1fu)) {
        mk->key = (const char *)k + 1; /* fixstr, the usual column name */
        mk->klen = *k & 0x1fu;
        mk->next = k + 1 + mk->klen;
        mk->is_str = true;
    } else {
        mk->next = k;
        mk->is_str = rc_mp_read_str(&mk->next, end, &mk->key, &mk->klen) == RC_OK;
    }
}

/* Writes the key read into mk (a ',' before it unless first) and ':', and moves *pp past it. */
static inline rc_err_t write_map_key(rc_buf_t *out, const uint8_t **pp, const uint8_t *end,
                                     const map_key_t *mk, bool first, int depth) {
    const uint8_t *ks = (const uint8_t *)mk->key;
    uint32_t klen = mk->klen;
    char *o;
    rc_err_t err;
    if (mk->is_str && klen <= 16 && end - ks >= 16 && first_look16(ks) >= klen &&
        (o = room(out, 21)) != NULL) {
        /* a short key with nothing to escape, the usual column name: ,"key": at once */
        size_t comma = !first;
        *pp = mk->next;
        o[0] = ',';
        o += comma;
        o[0] = '"';
        memcpy(o + 1, ks, 16);
        o[1 + klen] = '"';
        o[2 + klen] = ':';
        out->len += comma + klen + 3;
        return RC_OK;
    }
    if (!first && (err = rc_buf_putc(out, ',')) != RC_OK) {
        return err;
    }
    if (mk->is_str) {
        *pp = mk->next;
        err = put_string_in(out, ks, klen, end);
    } else {
        err = write_key_text(out, pp, end, depth + KEY_DEPTH);
    }
    return err != RC_OK ? err : rc_buf_putc(out, ':');
}

static rc_err_t write_map(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, uint32_t n,
                          int depth, bool drop_kafka) {
    if (depth >= MAX_DEPTH) {
        return RC_ERR_INVALID;
    }
    if (n > (size_t)(end - *pp) / 2) {
        return RC_ERR_TRUNCATED;
    }
    rc_err_t err = rc_buf_putc(out, '{');
    bool first = true;
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        map_key_t mk;
        read_map_key(*pp, end, &mk);
        if (drop_kafka && mk.is_str && mk.klen == 5 && memcmp(mk.key, "kafka", 5) == 0) {
            *pp = mk.next;
            err = rc_mp_skip(pp, end);
            continue;
        }
        err = write_map_key(out, pp, end, &mk, first, depth);
        first = false;
        if (err == RC_OK) {
            err = write_value_fast(out, pp, end, depth + 1);
        }
    }
    return err != RC_OK ? err : rc_buf_putc(out, '}');
}

rc_err_t rc_json_write_member_name(rc_buf_t *out, bool comma, const char *k, size_t n,
                                   const uint8_t *lim) {
    const uint8_t *ks = (const uint8_t *)k;
    char *o;
    if (n <= 16 && lim - ks >= 16 && first_look16(ks) >= n && (o = room(out, 21)) != NULL) {
        /* a short name with nothing to escape: ,"name": at once */
        o[0] = ',';
        o += comma;
        o[0] = '"';
        memcpy(o + 1, ks, 16);
        o[1 + n] = '"';
        o[2 + n] = ':';
        out->len += comma + n + 3;
        return RC_OK;
    }
    rc_err_t err = comma ? rc_buf_putc(out, ',') : RC_OK;
    err = err ? err : put_string_in(out, ks, n, lim);
    return err ? err : rc_buf_putc(out, ':');
}

static rc_err_t write_ext(rc_buf_t *out, int8_t type, const uint8_t *d, size_t n,
                          const uint8_t *lim) {
    switch (type) {
    case RC_EXT_DECIMAL:
    case RC_EXT_DATE:
    case RC_EXT_TIME:
    case RC_EXT_DATETIME:
    case RC_EXT_TIMESTAMP:
    case RC_EXT_ENUM:
    case RC_EXT_SET:
        return put_string_in(out, d, n, lim);
    case RC_EXT_JSON:
        return n == 0 ? rc_buf_append(out, "null", 4) : rc_buf_append(out, d, n);
    default:
        return put_base64(out, d, n);
    }
}

/* Reads the w-byte (1, 2 or 4) big-endian length after the type byte at p. */
static inline rc_err_t read_len(const uint8_t *p, size_t avail, size_t w, uint32_t *n) {
    if (avail < 1 + w) {
        return RC_ERR_TRUNCATED;
    }
    *n = w == 1 ? p[1] : w == 2 ? rc_mp_be16(p + 1) : rc_mp_be32(p + 1);
    return RC_OK;
}

static rc_err_t write_value(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, int depth) {
    const uint8_t *p = *pp;
    if (p >= end) {
        return RC_ERR_TRUNCATED;
    }
    size_t avail = (size_t)(end - p);
    uint8_t c = p[0];
    uint32_t n;
    size_t w;
    rc_err_t err;

    if (c <= 0x7f) {
        *pp = p + 1;
        return put_int(out, c, false);
    }
    if (c >= 0xe0) {
        *pp = p + 1;
        return put_int(out, 0x100u - c, true);
    }
    if (c <= 0x8f) {
        *pp = p + 1;
        return write_map(out, pp, end, c & 0x0f, depth, false);
    }
    if (c <= 0x9f) {
        *pp = p + 1;
        return write_array(out, pp, end, c & 0x0f, depth);
    }
    if (c <= 0xbf) {
        n = c & 0x1f;
        w = 0;
        goto str;
    }
    switch (c) {
    case 0xc0:
        *pp = p + 1;
        return rc_buf_append(out, "null", 4);
    case 0xc2:
        *pp = p + 1;
        return rc_buf_append(out, "false", 5);
    case 0xc3:
        *pp = p + 1;
        return rc_buf_append(out, "true", 4);
    case 0xc4: /* bin 8/16/32 */
    case 0xc5:
    case 0xc6:
        w = (size_t)1 << (c - 0xc4);
        if ((err = read_len(p, avail, w, &n)) != RC_OK) {
            return err;
        }
        if (avail - 1 - w < n) {
            return RC_ERR_TRUNCATED;
        }
        *pp = p + 1 + w + n;
        return put_base64(out, p + 1 + w, n);
    case 0xc7: /* ext 8/16/32: length, type, payload */
    case 0xc8:
    case 0xc9:
        w = (size_t)1 << (c - 0xc7);
        if ((err = read_len(p, avail, w, &n)) != RC_OK) {
            return err;
        }
        if (avail - 1 - w < 1 || avail - 2 - w < n) {
            return RC_ERR_TRUNCATED;
        }
        *pp = p + 2 + w + n;
        return write_ext(out, (int8_t)p[1 + w], p + 2 + w, n, end);
    case 0xca: {
        if (avail < 5) {
            return RC_ERR_TRUNCATED;
        }
        uint32_t bits = rc_mp_be32(p + 1);
        float f;
        memcpy(&f, &bits, sizeof f);
        *pp = p + 5;
        return put_float(out, f, true);
    }
    case 0xcb: {
        if (avail < 9) {
            return RC_ERR_TRUNCATED;
        }
        uint64_t bits = rc_mp_be64(p + 1);
        double d;
        memcpy(&d, &bits, sizeof d);
        *pp = p + 9;
        return put_float(out, d, false);
    }
    case 0xcc: /* uint 8/16/32/64 */
    case 0xcd:
    case 0xce:
    case 0xcf:
    case 0xd0: /* int 8/16/32/64 */
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        w = rc_mp_int_width(c);
        if (avail < 1 + w) {
            return RC_ERR_TRUNCATED;
        }
        uint64_t u = rc_mp_int_word(p);
        *pp = p + 1 + w;
        return c < 0xd0 ? put_int(out, u, false) : put_i64(out, (int64_t)u);
    }
    case 0xd4: /* fixext 1/2/4/8/16: type, payload */
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        n = 1u << (c - 0xd4);
        if (avail < 2 + (size_t)n) {
            return RC_ERR_TRUNCATED;
        }
        *pp = p + 2 + n;
        return write_ext(out, (int8_t)p[1], p + 2, n, end);
    case 0xd9: /* str 8/16/32 */
    case 0xda:
    case 0xdb:
        w = (size_t)1 << (c - 0xd9);
        if ((err = read_len(p, avail, w, &n)) != RC_OK) {
            return err;
        }
        goto str;
    case 0xdc: /* array 16/32 */
    case 0xdd:
        w = c == 0xdc ? 2 : 4;
        if ((err = read_len(p, avail, w, &n)) != RC_OK) {
            return err;
        }
        *pp = p + 1 + w;
        return write_array(out, pp, end, n, depth);
    case 0xde: /* map 16/32 */
    case 0xdf:
        w = c == 0xde ? 2 : 4;
        if ((err = read_len(p, avail, w, &n)) != RC_OK) {
            return err;
        }
        *pp = p + 1 + w;
        return write_map(out, pp, end, n, depth, false);
    default: /* 0xc1: never used */
        return RC_ERR_INVALID;
    }

str:
    if (avail - 1 - w < n) {
        return RC_ERR_TRUNCATED;
    }
    *pp = p + 1 + w + n;
    return put_string_in(out, p + 1 + w, n, end);
}

/* ---- per-table templates ------------------------------------------------------------------ */

/* The row maps of one table have the same keys in the same order event after event, and so do
 * the event map and meta. A template remembers, per position in such a map, the key's msgpack
 * bytes and the JSON text written for it. A key is checked against its position's template
 * byte for byte (one or two 16-byte compares) and its text copied; any other key (a table
 * sharing the slot, a column added by DDL, a key with something to escape or not a short str)
 * goes the way write_map goes and becomes the position's template. The output is the same
 * either way: a template is only made from a fixstr of ASCII bytes that need no escape, whose
 * JSON text is the bytes between quotes.
 *
 * Many values are the same row after row too (schema, table, action, an empty before, meta's
 * pipeline, binlog_file and server_id, a column that stays NULL). A position whose first value
 * after its key was learnt is a scalar short enough also keeps the value's msgpack bytes after
 * the key's and its JSON text after the name's: key and value equal byte for byte (the same
 * compares) are one copy of ,"name":value. JSON text is a function of the value's bytes alone,
 * so the copy is what the writer would write. A value that changes drops it (a value that held
 * for 16 rows or more, like a binlog file name, is learnt again instead). */

#define TPL_SLOTS    256  /* row templates, chosen by a hash of the event's schema and table */
#define TPL_MAX_KEYS 1024 /* the keys past it go without: at most 256 x 1024 x 78 bytes */
#define TPL_KEY_MAX  32   /* msgpack bytes of a key: a fixstr of up to 31 bytes */
#define TPL_TEXT     40   /* ,"name": is at most 35 bytes; 36 are copied at once */
#define TPL_KV_TEXT  36   /* ,"name":value, copied in the same 36 bytes */
#define TPL_KV_HOLD  16   /* kv hits after which a changed value is learnt again */

enum { ROLE_NONE, ROLE_SCHEMA, ROLE_TABLE, ROLE_ROWS, ROLE_META, ROLE_KAFKA };

typedef struct tpl_key {
    uint64_t key_mask;       /* rc_tpl_mask(mp_len) */
    uint64_t kv_mask;        /* rc_tpl_mask(kv_len) */
    uint8_t mp[TPL_KEY_MAX]; /* the key's msgpack bytes, then (kv_len) the value's, zero padded */
    char text[TPL_TEXT];     /* ,"name": then (kv_text_len) the value's JSON text */
    uint8_t mp_len;          /* 0: no template at this position */
    uint8_t text_len;        /* with the ',' */
    uint8_t role;            /* of an event map's key */
    uint8_t kv_len;          /* 0: no value template; else the key's and value's msgpack bytes */
    uint8_t kv_text_len;     /* with the ',' */
    uint8_t kv_hits;         /* since the value was learnt, up to TPL_KV_HOLD */
} tpl_key_t;

typedef struct tpl {
    tpl_key_t *keys;
    uint32_t cap;
} tpl_t;

/* The event map's leading members whose keys and values were the templates' (schema, table,
 * action, an empty before): their msgpack bytes and JSON text (after the '{') as one run, so
 * that an event starting with the same bytes is one 64-byte compare and one copy for them all.
 * As for a position, the text is a function of the bytes alone. Learnt when an event without a
 * hit had 2 or more such members first; when the member after them is a before or after whose
 * key was a hit, the run takes that key too and its rows are written next. */
#define PRE_MP   RC_TPL_RUN /* msgpack bytes of the run, compared 16 at a time */
#define PRE_TEXT 224        /* its text, copied 32 bytes at a time */

typedef struct tpl_pre {
    uint8_t mp[PRE_MP]; /* zero padded */
    char text[PRE_TEXT];
    uint64_t mask;  /* of the mp_len bytes to compare */
    uint8_t mp_len; /* 0: none */
    uint8_t npos;   /* event members the run covers */
    bool rows_key;  /* the run ends with the key of a before/after member (the npos-th) */
    uint16_t text_len;
    int16_t schema_off, table_off; /* where schema's and table's values are in mp (-1: not in) */
    tpl_t *rt;                     /* the rows' template when both are in the run */
} tpl_pre_t;

#define PLAN_SLOTS 1024 /* whole-event plans (below), in sets of 2 by a hash of the head */

struct plan;
static void plan_free(struct plan *pl);

struct rc_json_tpl {
    tpl_t event; /* the event map's keys */
    tpl_t meta;
    tpl_t rows[TPL_SLOTS];
    tpl_pre_t pre;
    struct plan *plans[PLAN_SLOTS];
    struct plan *spare;          /* what the next plan is learnt into */
    rc_buf_t scratch;            /* a learnt plan's own output, checked */
    uint32_t last;               /* the slot of the plan last hit */
    uint8_t fails[PLAN_SLOTS];   /* a set's (at its first slot): plans replaced in a row before
                                    they paid off (capped) */
    uint32_t misses[PLAN_SLOTS]; /* a set's: events that missed since its last learning */
    uint64_t keys[PLAN_SLOTS];   /* rc_tpl_head_key of the event the slot's plan was learnt from */
    uint8_t mru[PLAN_SLOTS / 2]; /* the way of each set hit or learnt last */
    size_t plan_bytes;           /* what the plans in the slots hold */
    char zero_text[2][32];       /* the text of a uint 0 and of a double +0.0 (plan_rep_t's) */
    size_t zero_len[2];
};

rc_json_tpl_t *rc_json_tpl_new(void) {
    rc_json_tpl_t *t = calloc(1, sizeof(rc_json_tpl_t));
    if (t) {
        char tmp[VALUE_ROOM] = {0};
        t->zero_len[0] = (size_t)(put_u64_at(tmp, 0) - tmp);
        memcpy(t->zero_text[0], tmp, 32);
        t->zero_len[1] = (size_t)(float_at(tmp, 0.0, false) - tmp);
        memcpy(t->zero_text[1], tmp, 32);
    }
    return t;
}

void rc_json_tpl_free(rc_json_tpl_t *t) {
    if (!t) {
        return;
    }
    free(t->event.keys);
    free(t->meta.keys);
    for (size_t i = 0; i < TPL_SLOTS; i++) {
        free(t->rows[i].keys);
    }
    for (size_t i = 0; i < PLAN_SLOTS; i++) {
        plan_free(t->plans[i]);
    }
    plan_free(t->spare);
    rc_buf_free(&t->scratch);
    free(t);
}

/* Room for the templates of a map of n keys; on failure the positions past cap have none. */
static void tpl_grow(tpl_t *t, uint32_t n) {
    void *keys = t->keys;
    uint32_t old = t->cap;
    rc_tpl_grow(&keys, &t->cap, sizeof(*t->keys), n, TPL_MAX_KEYS);
    t->keys = keys;
    for (uint32_t i = old; i < t->cap; i++) { /* zeroed: masks that never match */
        t->keys[i].key_mask = t->keys[i].kv_mask = rc_tpl_mask(0);
    }
}

static uint8_t role_of(const map_key_t *mk) {
    if (!mk->is_str) {
        return ROLE_NONE;
    }
    switch (mk->klen) {
    case 4:
        return memcmp(mk->key, "meta", 4) == 0 ? ROLE_META : ROLE_NONE;
    case 5:
        return memcmp(mk->key, "table", 5) == 0   ? ROLE_TABLE
               : memcmp(mk->key, "after", 5) == 0 ? ROLE_ROWS
               : memcmp(mk->key, "kafka", 5) == 0 ? ROLE_KAFKA
                                                  : ROLE_NONE;
    case 6:
        return memcmp(mk->key, "schema", 6) == 0   ? ROLE_SCHEMA
               : memcmp(mk->key, "before", 6) == 0 ? ROLE_ROWS
                                                   : ROLE_NONE;
    default:
        return ROLE_NONE;
    }
}

static inline void tpl_set_mp_len(tpl_key_t *tk, size_t n) {
    tk->mp_len = (uint8_t)n;
    tk->key_mask = rc_tpl_mask(n);
}

static inline void tpl_set_kv_len(tpl_key_t *tk, size_t n) {
    tk->kv_len = (uint8_t)n;
    tk->kv_mask = rc_tpl_mask(n);
}

/* Makes the key at k (read into mk) the template of its position, or none when it cannot be. */
static void tpl_learn(tpl_key_t *tk, const uint8_t *k, const map_key_t *mk) {
    tpl_set_mp_len(tk, 0);
    tpl_set_kv_len(tk, 0);
    if (!mk->is_str || (*k & 0xe0) != 0xa0 || mk->klen + 1 > TPL_KEY_MAX) {
        return;
    }
    for (uint32_t i = 0; i < mk->klen; i++) {
        if (k_class[(uint8_t)mk->key[i]] != 0) {
            return;
        }
    }
    memset(tk->mp, 0, sizeof tk->mp);
    memcpy(tk->mp, k, 1 + mk->klen);
    memset(tk->text, 0, sizeof tk->text);
    tk->text[0] = ',';
    tk->text[1] = '"';
    memcpy(tk->text + 2, mk->key, mk->klen);
    tk->text[2 + mk->klen] = '"';
    tk->text[3 + mk->klen] = ':';
    tk->text_len = (uint8_t)(mk->klen + 4);
    tk->role = role_of(mk);
    tpl_set_mp_len(tk, 1 + mk->klen);
}

/* After its key (tk's template) the value at v[0..vn) was written as the text t[0..tn): makes
 * key and value the position's template when they fit, else leaves it without one. */
static void tpl_learn_value(tpl_key_t *tk, const uint8_t *v, size_t vn, const char *t, size_t tn) {
    tpl_set_kv_len(tk, 0);
    tk->kv_hits = 0;
    if (tk->mp_len == 0 || vn == 0 || tk->mp_len + vn > TPL_KEY_MAX ||
        tk->text_len + tn > TPL_KV_TEXT || !rc_tpl_kv_scalar(v[0])) {
        return;
    }
    memcpy(tk->mp + tk->mp_len, v, vn);
    memcpy(tk->text + tk->text_len, t, tn);
    tk->kv_text_len = (uint8_t)(tk->text_len + tn);
    tpl_set_kv_len(tk, tk->mp_len + vn);
}

/* After a value other than the template's (at v[0..vn), written as t[0..tn)) came with the
 * template's key: a value that held is learnt again, one that did not is dropped. */
static inline void tpl_value_changed(tpl_key_t *tk, const uint8_t *v, size_t vn, const char *t,
                                     size_t tn) {
    if (tk->kv_hits >= TPL_KV_HOLD) {
        tpl_learn_value(tk, v, vn, t, tn);
    } else {
        tpl_set_kv_len(tk, 0);
    }
}

/* 2 when the key and the value at k are the template's (tk->kv_len), 1 when the key is (and the
 * value not, or the template has none), 0 otherwise (tk->mp_len 0 never matches). */
static inline int tpl_matches(const tpl_key_t *tk, const uint8_t *k, const uint8_t *end) {
    if (end - k >= 32) {
        return rc_tpl_match32(tk->mp, tk->key_mask, tk->kv_mask, k);
    }
    return rc_tpl_match_kv(tk->mp, tk->mp_len, tk->kv_len, k, end);
}

/* What one member may write: its ,"name": (36 bytes copied) and its value at up to 35 bytes
 * past where the member starts. */
#define MEMBER_ROOM (TPL_TEXT + VALUE_ROOM)

/* The members of a map from its first, while their keys are their position's template and
 * value_at takes their values, written at *op, which has room for nt members (MEMBER_ROOM
 * each): the run of a table's rows and of meta. Everything stays in locals: no room check, no
 * store of the buffer's length per member. Returns how many members it wrote (stopping at the
 * first one it cannot write, with nothing of it written) and moves *pp and *op past them. */
static inline uint32_t members_fast(tpl_key_t *keys, uint32_t nt, const uint8_t **pp,
                                    const uint8_t *end, char **op) {
    const uint8_t *p = *pp;
    char *o = *op;
    uint32_t i = 0;
    for (; i < nt && end - p >= 32; i++) {
        tpl_key_t *tk = &keys[i];
        int m = rc_tpl_match32(tk->mp, tk->key_mask, tk->kv_mask, p);
        if (m == 0) {
            break;
        }
        memcpy(o, tk->text, 36);
        if (m == 2) { /* the value too */
            o += tk->kv_text_len;
            p += tk->kv_len;
            if (tk->kv_hits <
                TPL_KV_HOLD) { /* no store once it held (a byte store costs reloads) */
                tk->kv_hits++;
            }
            continue;
        }
        char *vo = o + tk->text_len, *e;
        const uint8_t *v = p + tk->mp_len, *q = v;
        if ((e = value_at(vo, &q, end)) == NULL) {
            break;
        }
        if (tk->kv_len) {
            tpl_value_changed(tk, v, (size_t)(q - v), vo, (size_t)(e - vo));
        }
        o = e;
        p = q;
    }
    *pp = p;
    *op = o;
    return i;
}

/* write_map for a map whose keys are likely those of t, in t's order. */
static rc_err_t write_map_tpl(rc_buf_t *out, tpl_t *t, const uint8_t **pp, const uint8_t *end,
                              uint32_t n, int depth) {
    if (depth >= MAX_DEPTH) {
        return RC_ERR_INVALID;
    }
    if (n > (size_t)(end - *pp) / 2) {
        return RC_ERR_TRUNCATED;
    }
    if (n > t->cap) {
        tpl_grow(t, n);
    }
    /* every member is written with its ',', and the first one's becomes the '{' */
    size_t mark = out->len;
    rc_err_t err = RC_OK;
    uint32_t nt = n < t->cap ? n : t->cap;
    /* the reading position stays in p, and *pp is only kept for the calls that take it */
    const uint8_t *p = *pp;
    uint32_t i = 0;
    char *o = nt ? room(out, (size_t)nt * MEMBER_ROOM) : NULL;
    if (o) {
        i = members_fast(t->keys, nt, &p, end, &o);
        out->len = (size_t)(o - out->data);
    }
    for (; i < n && err == RC_OK; i++) {
        tpl_key_t *tk = i < nt ? &t->keys[i] : NULL;
        int m = !tk             ? 0
                : end - p >= 32 ? rc_tpl_match32(tk->mp, tk->key_mask, tk->kv_mask, p)
                                : tpl_matches(tk, p, end);
        if (m) {
            char *o = room(out, TPL_TEXT + VALUE_ROOM), *e;
            if (!o) {
                return RC_ERR_NOMEM;
            }
            memcpy(o, tk->text, 36);
            if (m == 2) { /* the value too */
                out->len += tk->kv_text_len;
                p += tk->kv_len;
                tk->kv_hits += tk->kv_hits < TPL_KV_HOLD;
                continue;
            }
            o += tk->text_len;
            const uint8_t *v = p + tk->mp_len;
            size_t at = (size_t)(o - out->data);
            p = v;
            if ((e = value_at(o, &p, end)) != NULL) {
                out->len = (size_t)(e - out->data);
            } else {
                out->len = at;
                *pp = v;
                err = write_value_rest(out, pp, end, depth + 1); /* value_at has looked */
                p = *pp;
            }
            if (tk->kv_len && err == RC_OK) {
                tpl_value_changed(tk, v, (size_t)(p - v), out->data + at, out->len - at);
            }
            continue;
        }
        const uint8_t *k = p;
        map_key_t mk;
        read_map_key(k, end, &mk);
        if (tk) {
            tpl_learn(tk, k, &mk);
        }
        *pp = p;
        err = write_map_key(out, pp, end, &mk, false, depth);
        if (err == RC_OK) {
            const uint8_t *v = *pp;
            size_t at = out->len;
            err = write_value(out, pp, end, depth + 1);
            if (tk && err == RC_OK) {
                tpl_learn_value(tk, v, (size_t)(*pp - v), out->data + at, out->len - at);
            }
        }
        p = *pp;
    }
    *pp = p;
    if (err != RC_OK) {
        return err;
    }
    if (n == 0) {
        return rc_buf_append(out, "{}", 2);
    }
    out->data[mark] = '{';
    return rc_buf_putc(out, '}');
}

/* The row template of the table an event's schema and table values (msgpack, NULL when not
 * seen) name: a hash of their bytes picks one of TPL_SLOTS. */
static tpl_t *rows_tpl(rc_json_tpl_t *t, const uint8_t *schema, const uint8_t *table,
                       const uint8_t *end) {
    return &t->rows[rc_tpl_table_hash(schema, table, end) % TPL_SLOTS];
}

/* The value of an event's before/after: an array of row maps, each through the table's
 * template. Anything else goes as write_value writes it. */
static rc_err_t write_rows(rc_buf_t *out, tpl_t *rt, const uint8_t **pp, const uint8_t *end,
                           int depth) {
    const uint8_t *p = *pp;
    if (p >= end || (p[0] & 0xf0) != 0x90) {
        return write_value(out, pp, end, depth);
    }
    uint32_t n = p[0] & 0x0fu;
    *pp = p + 1;
    if (n > (size_t)(end - *pp)) {
        return RC_ERR_TRUNCATED;
    }
    rc_err_t err = rc_buf_putc(out, '[');
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        if (i > 0 && (err = rc_buf_putc(out, ',')) != RC_OK) {
            break;
        }
        const uint8_t *q = *pp;
        if (q < end && (q[0] & 0xf0) == 0x80) {
            *pp = q + 1;
            err = write_map_tpl(out, rt, pp, end, q[0] & 0x0fu, depth + 1);
        } else if (q < end && q[0] == 0xde && end - q >= 3) {
            *pp = q + 3;
            err = write_map_tpl(out, rt, pp, end, rc_mp_be16(q + 1), depth + 1);
        } else {
            err = write_value(out, pp, end, depth + 1);
        }
    }
    return err != RC_OK ? err : rc_buf_putc(out, ']');
}

/* Moves *pp past the kafka value: to ev_end, where the caller's walk found the event map to end,
 * when kafka is its last member (ev_end not NULL), else by reading it. */
static inline rc_err_t skip_kafka(const uint8_t **pp, const uint8_t *end, const uint8_t *ev_end) {
    if (ev_end && ev_end > *pp && ev_end <= end) {
        *pp = ev_end;
        return RC_OK;
    }
    return rc_mp_skip(pp, end);
}

/* True when the PRE_MP bytes at p (there must be that many before end) start with pre's run. */
static inline bool pre_matches(const tpl_pre_t *pre, const uint8_t *p, const uint8_t *end) {
    return rc_tpl_run_eq(pre->mp, pre->mask, pre->mp_len, p, end);
}

/* Makes the event's first npos members (msgpack p0[0..mp_len), written as text[0..text_len)
 * after the '{'), all key and value hits, and with rows_key the key of a before or after
 * member after them, the run of t->pre when they fit. */
static void pre_learn(rc_json_tpl_t *t, const uint8_t *p0, uint32_t npos, bool rows_key,
                      size_t mp_len, const char *text, size_t text_len, const uint8_t *end) {
    tpl_pre_t *pre = &t->pre;
    pre->mp_len = 0;
    if (mp_len > PRE_MP || text_len > PRE_TEXT || npos > 255) {
        return;
    }
    memset(pre->mp, 0, sizeof pre->mp);
    memcpy(pre->mp, p0, mp_len);
    memcpy(pre->text, text, text_len);
    pre->text_len = (uint16_t)text_len;
    pre->mask = mp_len == 64 ? ~0ULL : (1ULL << mp_len) - 1;
    pre->npos = (uint8_t)npos;
    pre->rows_key = rows_key;
    /* the values of schema and table, found by walking the run's members */
    const uint8_t *q = p0, *schema = NULL, *table = NULL;
    for (uint32_t i = 0; i < npos; i++) {
        map_key_t mk;
        read_map_key(q, end, &mk);
        uint8_t role = role_of(&mk);
        q = mk.next;
        if (role == ROLE_SCHEMA) {
            schema = q;
        } else if (role == ROLE_TABLE) {
            table = q;
        }
        if (rc_mp_skip(&q, end) != RC_OK) {
            return;
        }
    }
    if (rows_key) {
        map_key_t mk;
        read_map_key(q, end, &mk);
        if (role_of(&mk) != ROLE_ROWS) {
            return;
        }
        q = mk.next;
    }
    if (q != p0 + mp_len) {
        return;
    }
    pre->schema_off = (int16_t)(schema ? schema - p0 : -1);
    pre->table_off = (int16_t)(table ? table - p0 : -1);
    pre->rt = schema && table ? rows_tpl(t, schema, table, end) : NULL;
    pre->mp_len = (uint8_t)mp_len;
}

/* write_map(.., drop_kafka) for the event map, with the templates of t; ev_end as in
 * rc_json_write_event_tpl. */
static rc_err_t write_event_tpl(rc_buf_t *out, rc_json_tpl_t *t, const uint8_t **pp,
                                const uint8_t *end, uint32_t n, const uint8_t *ev_end) {
    if (n > (size_t)(end - *pp) / 2) {
        return RC_ERR_TRUNCATED;
    }
    tpl_t *et = &t->event;
    if (n > et->cap) {
        tpl_grow(et, n);
    }
    const uint8_t *schema = NULL, *table = NULL;
    tpl_t *rt = NULL;
    size_t mark = out->len;
    rc_err_t err = rc_buf_putc(out, '{');
    bool first = true;
    const uint8_t *p0 = *pp;
    uint32_t i0 = 0, run = 0; /* run: the leading members that were key and value hits */
    size_t run_mp = 0, run_text = 0;
    bool run_key = false; /* the run's next member is rows whose key was a hit */
    tpl_pre_t *pre = &t->pre;
    if (err == RC_OK && pre->mp_len && (uint32_t)pre->npos + pre->rows_key <= n &&
        pre_matches(pre, p0, end)) {
        char *o = room(out, PRE_TEXT);
        if (!o) {
            return RC_ERR_NOMEM;
        }
        for (size_t k = 0; k < pre->text_len; k += 32) {
            memcpy(o + k, pre->text + k, 32);
        }
        out->len += pre->text_len;
        *pp = p0 + pre->mp_len;
        schema = pre->schema_off >= 0 ? p0 + pre->schema_off : NULL;
        table = pre->table_off >= 0 ? p0 + pre->table_off : NULL;
        rt = pre->rt;
        i0 = pre->npos;
        /* members after the run that are hits too make a longer run (not after rows) */
        run = pre->rows_key ? UINT32_MAX : i0;
        first = false;
        if (pre->rows_key) { /* the key of a before or after: its rows */
            if (!rt) {
                rt = rows_tpl(t, schema, table, end);
            }
            err = write_rows(out, rt, pp, end, 1);
            i0++;
        }
    }
    for (uint32_t i = i0; i < n && err == RC_OK; i++) {
        const uint8_t *k = *pp;
        tpl_key_t *tk = i < et->cap ? &et->keys[i] : NULL;
        uint8_t role;
        int m = tk ? tpl_matches(tk, k, end) : 0;
        int learn = 0; /* 1: a new key's first value, 2: a value other than the template's */
        if (m) {
            role = tk->role;
            if (role == ROLE_KAFKA) {
                *pp = k + tk->mp_len;
                err = skip_kafka(pp, end, i + 1 == n ? ev_end : NULL);
                continue;
            }
            char *o = room(out, TPL_TEXT);
            if (!o) {
                return RC_ERR_NOMEM;
            }
            memcpy(o, tk->text + first, 36);
            if (m == 2) { /* the value too */
                out->len += tk->kv_text_len - first;
                if (role == ROLE_SCHEMA) {
                    schema = k + tk->mp_len;
                } else if (role == ROLE_TABLE) {
                    table = k + tk->mp_len;
                }
                *pp = k + tk->kv_len;
                tk->kv_hits += tk->kv_hits < TPL_KV_HOLD;
                first = false;
                if (run == i) {
                    run = i + 1;
                    run_mp = (size_t)(*pp - p0);
                    run_text = out->len - mark - 1;
                }
                continue;
            }
            out->len += tk->text_len - first;
            *pp = k + tk->mp_len;
            learn = tk->kv_len ? 2 : 0;
            if (run == i && role == ROLE_ROWS && !learn) {
                run_key = true; /* the run takes this key too */
                run_mp = (size_t)(*pp - p0);
                run_text = out->len - mark - 1;
            }
        } else {
            map_key_t mk;
            read_map_key(k, end, &mk);
            if (tk) {
                tpl_learn(tk, k, &mk);
                learn = 1;
            }
            role = role_of(&mk);
            if (role == ROLE_KAFKA) {
                *pp = mk.next;
                err = skip_kafka(pp, end, i + 1 == n ? ev_end : NULL);
                continue;
            }
            if ((err = write_map_key(out, pp, end, &mk, first, 0)) != RC_OK) {
                break;
            }
        }
        first = false;
        const uint8_t *v = *pp;
        size_t at = out->len;
        if (role == ROLE_SCHEMA) {
            schema = v;
        } else if (role == ROLE_TABLE) {
            table = v;
        }
        if (role == ROLE_ROWS) {
            if (!rt) {
                rt = rows_tpl(t, schema, table, end);
            }
            err = write_rows(out, rt, pp, end, 1);
        } else if (role == ROLE_META && v < end && (v[0] & 0xf0) == 0x80) {
            *pp = v + 1;
            err = write_map_tpl(out, &t->meta, pp, end, v[0] & 0x0fu, 1);
        } else {
            err = write_value_fast(out, pp, end, 1);
        }
        if (learn == 1 && err == RC_OK) {
            tpl_learn_value(tk, v, (size_t)(*pp - v), out->data + at, out->len - at);
        } else if (learn == 2 && err == RC_OK) {
            tpl_value_changed(tk, v, (size_t)(*pp - v), out->data + at, out->len - at);
        }
    }
    if (err == RC_OK && run >= 2 && run != UINT32_MAX && (run > i0 || run_key)) {
        pre_learn(t, p0, run, run_key, run_mp, out->data + mark + 1, run_text, end);
    }
    return err != RC_OK ? err : rc_buf_putc(out, '}');
}

/* A map of up to 4 members whose keys are fixstr of up to 16 bytes with nothing to escape and
 * whose values value_at takes (a kafka.key: {"id": 42}) written in one go, as write_map writes
 * it: true and *pp past it; false with nothing written and *pp unmoved for any other. */
static inline bool small_map_at(rc_buf_t *out, const uint8_t **pp, const uint8_t *end) {
    const uint8_t *p = *pp;
    uint32_t n = p[0] & 0x0fu;
    char *o = n <= 4 ? room(out, 2 + (size_t)n * (4 + 16 + VALUE_ROOM)) : NULL, *s = o;
    if (!o) {
        return false;
    }
    *o++ = '{';
    p++;
    for (uint32_t i = 0; i < n; i++) {
        if (p >= end || (p[0] & 0xe0) != 0xa0) {
            return false;
        }
        size_t kl = p[0] & 0x1fu;
        const uint8_t *ks = p + 1;
        if (kl > 16 || end - ks < 16 || first_look16(ks) < kl) {
            return false;
        }
        *o = ',';
        o += i > 0;
        o[0] = '"';
        memcpy(o + 1, ks, 16);
        o[1 + kl] = '"';
        o[2 + kl] = ':';
        o += kl + 3;
        p = ks + kl;
        if (!(o = value_at(o, &p, end))) {
            return false;
        }
    }
    *o++ = '}';
    out->len += (size_t)(o - s);
    *pp = p;
    return true;
}

/* ---- whole-event plans -------------------------------------------------------------------- */

/* An event of a table in a stream is, byte for byte, mostly what the event before it was: the
 * same map heads, the same keys in the same order, many of the same values (schema, table,
 * action, a column that stays NULL, meta's pipeline). A plan keeps such an event as segments:
 * constant msgpack bytes (whole heads, keys and values) with the JSON text the writer gives
 * them, each followed by one value that changes, by the kafka member's value (skipped) or by
 * the end. A changing value is read by the kind it had in the event the plan was learnt from
 * (a fixstr, a uint 32, ...: VOP_*) while its head is of that kind, else after value_at's
 * switch on its type byte. An event whose constant runs are the plan's, compared 16 to 64 bytes
 * at a time, and whose changing values are scalars, is written as the runs' text with the
 * values' text between them.
 *
 * That is the writer's text: msgpack is read front to back, every head and key is where it was
 * and a scalar value of any length at a changing one takes the place of one object, so the
 * event parses into the same maps and arrays with the same keys; a key's and a scalar's text is
 * a function of its own bytes (a kind's VOP_* writes what value_at's case for its head writes,
 * and is taken only for that head; a number's text kept from the event before (plan_rep_t) is
 * copied only when its bytes are the same). A value that is a map or an array, or any byte
 * that differs in a constant run, leaves the event to the writer (nothing of it written). A
 * plan is learnt from an event the writer wrote, and kept only when its own output for that
 * event is the writer's.
 *
 * Which values change: a layout's first plan takes all of them as changing; at its 16th event
 * it settles: the values the same as in the event it was learnt from become constant. When an
 * event of the same layout (heads and keys) misses a plan, the values that differ from the
 * plan's are changing ones from then on (a table's name too, when tables of one layout share a
 * slot: one plan then serves them all). A slot whose plans are replaced before they pay off
 * learns less and less often.
 * Plans are picked by a hash of the event's head (schema, table and action in the events of
 * rowcast's decoder), the last one hit tried first, then the two of the hash's set that were
 * learnt from an event of the same hash; a miss learns into the one of the same hash, else the
 * set's empty or less recently used one, so that two tables sharing a set keep a plan each. */

#define PLAN_DEPTH  16 /* maps and arrays inside the event map that a plan may hold */
#define PLAN_HOLD   8  /* hits per miss below which a replaced plan did not pay off */
#define PLAN_SETTLE 16 /* hits after which a plan tells its constant values */
/* Bounds of a plan, so that one stays under about 460 KB (with a plan_rep_t of 64 bytes for
 * each segment at most): an event past them goes without; and
 * of all the plans of a set (a few KB for a usual table). */
#define PLAN_BUDGET     (16u << 20)
#define PLAN_MAX_SEGS   1024  /* changing values and kafka members of an event, plus one */
#define PLAN_MAX_MP     32768 /* constant msgpack bytes, each segment's padded to 32 */
#define PLAN_MAX_TEXT   65536 /* their text, padded the same way */
#define PLAN_MAX_SCAL   8192  /* scalar values of an event */
#define PLAN_MAX_VALS   65536 /* their bytes, kept to tell which ones change */
#define PLAN_MAX_LAYOUT 65536 /* heads and keys */
#define PAD32(n)        (((n) + 31u) & ~(size_t)31u)
/* plan_t.var's bits: a scalar that changes; one that gets a plan_rep_t if it is a number */
#define PLAN_VAR_CHANGES 1u
#define PLAN_VAR_REP     2u

enum { SEG_VALUE, SEG_SKIP, SEG_SKIP_LAST, SEG_END };

/* How plan_exec compares and copies a segment's constant bytes and text (plan_seg_t.cop):
 * up to 16 bytes (a key) in one 16-byte compare and 16 or 32 bytes of text in one copy, up to
 * 32 in one 32-byte compare (and 32 bytes of text at most, one copy), up to 64 (64 or 96 of
 * text) in two compares and two or three copies, or any length by plan_run_eq and a copy loop.
 * All but the last only where more than PLAN_NEAR bytes are left before the event's end. The
 * event's last segment, when it has no bytes (the event ends with a changing value or the kafka
 * member): its text (up to 32 bytes, the maps' ends) in one copy, with no look at the event. */
enum { COP_RUN, COP_16_16, COP_16, COP_32, COP_64_64, COP_64, COP_END };
/* What follows a segment's constant bytes (plan_seg_t.vop): the kafka member or the end
 * (SEG_*), or a changing value: of any kind (value_at), or of the kind the event the plan was
 * learnt from had there, read without value_at's switch while the value's head is that kind's
 * (else value_at takes it): a positive fixint, a fixstr, a str 8, an ext 8 of the text kind
 * plan_seg_t.ext (a DECIMAL, a temporal, an ENUM or a SET), a uint 8/16/32/64, a double. */
enum {
    VOP_SKIP,
    VOP_SKIP_LAST,
    VOP_END,
    VOP_ANY,
    VOP_FIXINT, /* the kinds past VOP_ANY read up to 9 bytes without a check for them */
    VOP_FIXSTR,
    VOP_STR8,
    VOP_EXT8,
    VOP_U8,
    VOP_U16,
    VOP_U32,
    VOP_U64,
    VOP_DOUBLE,
    VOP_U32_REP, /* VOP_U32, U64, DOUBLE with a plan_rep_t (below) */
    VOP_U64_REP,
    VOP_DOUBLE_REP,
    VOP_COUNT
};
/* A fast segment's constant bytes end at most 64 bytes after its start and the value after
 * them reads at most 9 bytes before looking at its length: more than this many bytes left
 * before the event's end and neither needs a bounds check. */
#define PLAN_NEAR 96

typedef struct plan_seg {
    const void *cop_at; /* plan_exec's label for cop (a COP_16_16's: with vop's), and for vop */
    const void *vop_at;
    const uint8_t *mp; /* constant msgpack bytes to compare (padded to 32 with zeros) */
    const char *text;  /* their text to copy (padded to 32) */
    uint64_t mask;     /* a COP_16..COP_64 segment's: of its mp_len bytes in its compare */
    size_t mp_len;     /* words, added to the positions without a widening load */
    size_t text_len;
    uint8_t cop;   /* COP_* */
    uint8_t vop;   /* VOP_* */
    uint8_t ext;   /* VOP_EXT8's ext type */
    uint16_t scal; /* a SEG_VALUE's scalar (its index in the layout's) */
} plan_seg_t;

/* A changing number that often repeats from one event to the next (a GTID's commit time, a
 * transaction's timestamp): its last bytes and their text, so that the same bytes again are
 * one compare and one copy. Its segment's (a VOP_*_REP's, of a COP_16_16, COP_16 or COP_32),
 * 64 bytes past its bytes and text in plan_t.fast: the one part of a plan that plan_exec
 * writes. The text is a function of the bytes (the same formatter), so the copy is the
 * writer's text. hits and misses tell a settled plan's next whether it still pays. */
typedef struct plan_rep {
    uint64_t val; /* the bytes after the head, as loaded (4 of a uint 32's, 8 of the others') */
    char text[32];
    size_t text_len;
    uint32_t hits, misses;
} plan_rep_t;
#define PLAN_REP_GAP 64 /* a plan_rep_t's place after its segment's 64 bytes in fast */
_Static_assert(sizeof(plan_rep_t) <= PLAN_REP_GAP, "a plan_rep_t in its 64 bytes");

/* plan_exec's labels (GCC's labels as values) for each COP_* and VOP_*: a segment holds its
 * two, so that going to them is one jump without a table's load. */
typedef struct plan_ops {
    const void *const *cop;
    const void *const *vop;
    const void *const *cop16; /* by vop: COP_16_16's compare and copy, then a jump to the vop */
} plan_ops_t;

typedef struct plan {
    rc_buf_t segs;    /* plan_seg_t */
    rc_buf_t mp;      /* each segment's constant bytes */
    rc_buf_t text;    /* each segment's text */
    rc_buf_t fast;    /* a COP_16_16/16/32 segment's 32 constant bytes, then 32 of text */
    size_t room;      /* what an event may write: the texts and VALUE_ROOM per value */
    rc_buf_t layout;  /* heads and keys in order, 0xc1 (never msgpack) for each scalar */
    rc_buf_t vals;    /* the scalars' bytes, one after the other */
    rc_buf_t val_end; /* uint32_t: where each scalar's bytes end in vals */
    rc_buf_t var;     /* uint8_t: PLAN_VAR_* of each scalar */
    uint32_t nscal;
    uint32_t nfast; /* 64-byte blocks in fast: a COP_16_16/16/32 segment's, a plan_rep_t */
    uint32_t nrep;  /* segments with a plan_rep_t */
    bool live;      /* learnt and checked */
    uint32_t hits;  /* events that took it (wraps: it only tells a slot that thrashes) */
    bool settled;   /* its constant values were told from changing ones (see plan_settle) */
} plan_t;

static void plan_free(plan_t *pl) {
    if (!pl) {
        return;
    }
    rc_buf_free(&pl->segs);
    rc_buf_free(&pl->fast);
    rc_buf_free(&pl->mp);
    rc_buf_free(&pl->text);
    rc_buf_free(&pl->layout);
    rc_buf_free(&pl->vals);
    rc_buf_free(&pl->val_end);
    rc_buf_free(&pl->var);
    free(pl);
}

/* True when the n bytes at p (before end) equal m[0..n) (m padded with zeros to PAD32(n)). */
static inline bool plan_run_eq(const uint8_t *m, size_t n, const uint8_t *p, const uint8_t *end) {
    if ((size_t)(end - p) < PAD32(n)) {
        return (size_t)(end - p) >= n && memcmp(m, p, n) == 0;
    }
    size_t k = 0;
    for (; k + 32 <= n; k += 32) {
        /* ~bits, not bits != 0xffffffff: GCC kept that constant in a register for all of
         * plan_exec, and spilled lim (tested at every segment) to the stack for it */
        if ((uint32_t)~rc_tpl_eq_bits32(m + k, p + k) != 0) {
            return false;
        }
    }
    return k == n || (~rc_tpl_eq_bits32(m + k, p + k) & (~0ULL >> (64 - (n - k)))) == 0;
}

/* rc_tpl_eq_bits of 16 bytes with mp 16-byte aligned (a load the compare takes): a plan's
 * constant bytes are, each segment's at a multiple of 32 (or 64) from an rc_buf's data. */
static inline uint64_t plan_eq_bits16(const uint8_t *mp, const uint8_t *k) {
#if defined(__SSE2__)
    return (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)k),
                       _mm_load_si128((const __m128i *)(const void *)mp)));
#else
    return rc_tpl_eq_bits(mp, 16, k);
#endif
}

/* rc_tpl_eq_bits32 with mp 16-byte aligned, as plan_eq_bits16. */
static inline uint64_t plan_eq_bits32(const uint8_t *mp, const uint8_t *k) {
#if defined(__SSE2__)
    return plan_eq_bits16(mp, k) | plan_eq_bits16(mp + 16, k + 16) << 16;
#else
    return rc_tpl_eq_bits32(mp, k);
#endif
}

/* The VOP_* of a changing value whose head is c, and in *ext its ext type (VOP_EXT8's). */
static uint8_t plan_vop_of(const uint8_t *v, size_t n, uint8_t *ext) {
    uint8_t c = v[0];
    *ext = 0;
    if (c <= 0x7f) {
        return VOP_FIXINT;
    }
    if ((c & 0xe0) == 0xa0) {
        return VOP_FIXSTR;
    }
    switch (c) {
    case 0xd9:
        return VOP_STR8;
    case 0xc7:
        if (n >= 3 && v[2] >= RC_EXT_DECIMAL && v[2] <= RC_EXT_SET && v[2] != RC_EXT_JSON) {
            *ext = v[2];
            return VOP_EXT8;
        }
        return VOP_ANY;
    case 0xcc:
        return VOP_U8;
    case 0xcd:
        return VOP_U16;
    case 0xce:
        return VOP_U32;
    case 0xcf:
        return VOP_U64;
    case 0xcb:
        return VOP_DOUBLE;
    default:
        return VOP_ANY;
    }
}

/* Writes the event at data (end: data + len) by the plan: true with *pend past the event map,
 * or false with nothing written when the event does not fit it (or on an error the writer then
 * meets again). Each segment is two jumps: to its compare and copy (cop), then to what comes
 * after it (vop); a COP_16_16 segment's (the usual key and value) one: its compare and copy
 * has a copy for each vop, which ends in a direct jump to it. With out NULL: only gives its labels, *pend pointing to a plan_ops_t. Never inlined
 * nor cloned: the labels a segment holds are this one copy's (GCC and clang do not copy a
 * function that keeps its labels' addresses in a static table; said here as well). */
#if defined(__clang__)
#define PLAN_ONE_COPY __attribute__((noinline))
#else
#define PLAN_ONE_COPY __attribute__((noinline, noclone))
#endif
static PLAN_ONE_COPY bool plan_exec(const plan_t *pl, rc_buf_t *out, const uint8_t *data,
                                    const uint8_t *end, const uint8_t *ev_end,
                                    const uint8_t **pend) {
    static const void *const k_cop[] = {
        [COP_RUN] = &&c_run,     [COP_16_16] = &&c_16_16, [COP_16] = &&c_16,  [COP_32] = &&c_32,
        [COP_64_64] = &&c_64_64, [COP_64] = &&c_64,       [COP_END] = &&c_end};
    static const void *const k_vop[VOP_COUNT] = {
        [VOP_SKIP] = &&v_skip,       [VOP_SKIP_LAST] = &&v_skip_last,
        [VOP_END] = &&v_end,         [VOP_ANY] = &&v_any,
        [VOP_FIXINT] = &&v_fixint,   [VOP_FIXSTR] = &&v_fixstr,
        [VOP_STR8] = &&v_str8,       [VOP_EXT8] = &&v_ext8,
        [VOP_U8] = &&v_u8,           [VOP_U16] = &&v_u16,
        [VOP_U32] = &&v_u32,         [VOP_U64] = &&v_u64,
        [VOP_DOUBLE] = &&v_double,   [VOP_U32_REP] = &&v_u32_rep,
        [VOP_U64_REP] = &&v_u64_rep, [VOP_DOUBLE_REP] = &&v_double_rep};
    /* after c_run (near the end): a value of any kind through value_at's checks */
    static const void *const k_vop_near[VOP_COUNT] = {
        [VOP_SKIP] = &&v_skip,     [VOP_SKIP_LAST] = &&v_skip, [VOP_END] = &&v_end,
        [VOP_ANY] = &&v_any,       [VOP_FIXINT] = &&v_any,     [VOP_FIXSTR] = &&v_any,
        [VOP_STR8] = &&v_any,      [VOP_EXT8] = &&v_any,       [VOP_U8] = &&v_any,
        [VOP_U16] = &&v_any,       [VOP_U32] = &&v_any,        [VOP_U64] = &&v_any,
        [VOP_DOUBLE] = &&v_any,    [VOP_U32_REP] = &&v_any,    [VOP_U64_REP] = &&v_any,
        [VOP_DOUBLE_REP] = &&v_any};
    /* COP_16_16 then each vop: one indirect jump a segment, not two (see PLAN_C16) */
    static const void *const k_cop16[VOP_COUNT] = {
        [VOP_SKIP] = &&f_skip,       [VOP_SKIP_LAST] = &&f_skip_last,
        [VOP_END] = &&f_end,         [VOP_ANY] = &&f_any,
        [VOP_FIXINT] = &&f_fixint,   [VOP_FIXSTR] = &&f_fixstr,
        [VOP_STR8] = &&f_str8,       [VOP_EXT8] = &&f_ext8,
        [VOP_U8] = &&f_u8,           [VOP_U16] = &&f_u16,
        [VOP_U32] = &&f_u32,         [VOP_U64] = &&f_u64,
        [VOP_DOUBLE] = &&f_double,   [VOP_U32_REP] = &&f_u32_rep,
        [VOP_U64_REP] = &&f_u64_rep, [VOP_DOUBLE_REP] = &&f_double_rep};
    static const plan_ops_t k_ops = {k_cop, k_vop, k_cop16};
    if (__builtin_expect(out == NULL, 0)) {
        *pend = (const uint8_t *)(const void *)&k_ops;
        return false;
    }
    size_t mark = out->len, n;
    char *o = room(out, pl->room), *e;
    if (!o) {
        return false;
    }
    /* p and q stay in registers: only r, a copy, is passed to the calls that take a pointer */
    const uint8_t *p = data, *q, *r;
    /* p below lim: more than PLAN_NEAR bytes left (see PLAN_NEAR) */
    const uint8_t *lim = end - data > PLAN_NEAR ? end - PLAN_NEAR : data;
    const plan_seg_t *s = (const plan_seg_t *)(const void *)pl->segs.data;
    plan_rep_t *rp;
    const char *tx;
    uint64_t u;
    uint32_t w;
    uint8_t c;
    goto * s->cop_at;

#define PLAN_NEXT()                                                                                \
    do {                                                                                           \
        s++;                                                                                       \
        goto * s->cop_at;                                                                          \
    } while (0)

    /* The usual segment, a key then a value: c_16_16, with a direct jump to each vop's label
     * (a segment's cop_at is the one of its vop), so that a real CPU predicts one indirect jump
     * a segment (the next segment's), not two. */
#define PLAN_C16(v)                                                                                \
    do {                                                                                           \
        if (p >= lim) {                                                                            \
            goto c_run;                                                                            \
        }                                                                                          \
        if ((~plan_eq_bits16(s->mp, p) & s->mask) != 0) {                                          \
            goto miss;                                                                             \
        }                                                                                          \
        memcpy(o, s->mp + 32, 16); /* its text */                                                  \
        p += s->mp_len;                                                                            \
        o += s->text_len;                                                                          \
        goto v;                                                                                    \
    } while (0)
c_16_16:
    PLAN_C16(*s->vop_at);
f_skip:
    PLAN_C16(v_skip);
f_skip_last:
    PLAN_C16(v_skip_last);
f_end:
    PLAN_C16(v_end);
f_any:
    PLAN_C16(v_any);
f_fixint:
    PLAN_C16(v_fixint);
f_fixstr:
    PLAN_C16(v_fixstr);
f_str8:
    PLAN_C16(v_str8);
f_ext8:
    PLAN_C16(v_ext8);
f_u8:
    PLAN_C16(v_u8);
f_u16:
    PLAN_C16(v_u16);
f_u32:
    PLAN_C16(v_u32);
f_u64:
    PLAN_C16(v_u64);
f_double:
    PLAN_C16(v_double);
f_u32_rep:
    PLAN_C16(v_u32_rep);
f_u64_rep:
    PLAN_C16(v_u64_rep);
f_double_rep:
    PLAN_C16(v_double_rep);
#undef PLAN_C16
c_16: /* a key of longer text (escapes) */
    if (p >= lim) {
        goto c_run;
    }
    if ((~plan_eq_bits16(s->mp, p) & s->mask) != 0) {
        goto miss;
    }
    memcpy(o, s->mp + 32, 32);
    p += s->mp_len;
    o += s->text_len;
    goto * s->vop_at;
c_32: /* a key and a constant value and a key */
    if (p >= lim) {
        goto c_run;
    }
    if ((~plan_eq_bits32(s->mp, p) & s->mask) != 0) {
        goto miss;
    }
    memcpy(o, s->mp + 32, 32);
    p += s->mp_len;
    o += s->text_len;
    goto * s->vop_at;
c_64_64: /* meta's head: 64 bytes, 64 of text */
    if (p >= lim) {
        goto c_run;
    }
    if ((~(plan_eq_bits32(s->mp, p) | plan_eq_bits32(s->mp + 32, p + 32) << 32) & s->mask) != 0) {
        goto miss;
    }
    tx = s->text; /* once: the copies' stores might be to *s as far as the compiler knows */
    memcpy(o, tx, 32);
    memcpy(o + 32, tx + 32, 32);
    p += s->mp_len;
    o += s->text_len;
    goto * s->vop_at;
c_64: /* the event's head, meta's: 64 bytes, 96 of text */
    if (p >= lim) {
        goto c_run;
    }
    if ((~(plan_eq_bits32(s->mp, p) | plan_eq_bits32(s->mp + 32, p + 32) << 32) & s->mask) != 0) {
        goto miss;
    }
    tx = s->text;
    memcpy(o, tx, 32);
    memcpy(o + 32, tx + 32, 32);
    memcpy(o + 64, tx + 64, 32);
    p += s->mp_len;
    o += s->text_len;
    goto * s->vop_at;
c_end: /* the event's end: no bytes to compare (text and mp hold 96 past its own) */
    memcpy(o, s->text, 32);
    o += s->text_len;
    goto v_end;
c_run: /* any length, and any segment near the end */
    if (!plan_run_eq(s->mp, s->mp_len, p, end)) {
        goto miss;
    }
    for (size_t k = 0; k < s->text_len; k += 32) {
        memcpy(o + k, s->text + k, 32);
    }
    p += s->mp_len;
    o += s->text_len;
    goto *k_vop_near[s->vop];

v_end:
    out->len = (size_t)(o - out->data);
    *pend = p;
    return true;
v_skip_last: /* the kafka member's value, last in the event: up to ev_end when it is inside */
    if (ev_end && ev_end > p && ev_end <= end) {
        p = ev_end;
        PLAN_NEXT();
    }
v_skip:
    r = p;
    if ((s->vop == VOP_SKIP ? rc_mp_skip(&r, end) : skip_kafka(&r, end, ev_end)) != RC_OK) {
        goto miss;
    }
    p = r;
    PLAN_NEXT();

    /* The typed values: p is below lim + 64 (c_16/32/64 came from below lim), so the head and
     * up to 8 bytes after it are before end. A head of another kind goes to v_any. */
v_fixint:
    c = p[0];
    if (c > 0x7f) {
        goto v_any;
    }
    o = small_at(o, c);
    p++;
    PLAN_NEXT();
v_fixstr:
    c = p[0];
    if ((c & 0xe0) != 0xa0) {
        goto v_any;
    }
    n = c & 0x1fu;
    /* 31 bytes at most, and the 32 after the head before end (see above): string_at's bound */
    if (!(e = string_at(o, p + 1, n, p + 1 + 32))) {
        goto v_any;
    }
    o = e;
    p += 1 + n;
    PLAN_NEXT();
v_str8:
    n = p[1];
    if (p[0] != 0xd9 || (size_t)(end - p) - 2 < n || !(e = string_at(o, p + 2, n, end))) {
        goto v_any;
    }
    o = e;
    p += 2 + n;
    PLAN_NEXT();
v_ext8:
    n = p[1];
    if (p[0] != 0xc7 || p[2] != s->ext || (size_t)(end - p) - 3 < n ||
        !(e = string_at(o, p + 3, n, end))) {
        goto v_any;
    }
    o = e;
    p += 3 + n;
    PLAN_NEXT();
v_u8:
    if (p[0] != 0xcc) {
        goto v_any;
    }
    o = put_u64_at(o, p[1]);
    p += 2;
    PLAN_NEXT();
v_u16:
    if (p[0] != 0xcd) {
        goto v_any;
    }
    o = put_u64_at(o, rc_mp_be16(p + 1));
    p += 3;
    PLAN_NEXT();
v_u32:
    if (p[0] != 0xce) {
        goto v_any;
    }
    o = put_u64_at(o, rc_mp_be32(p + 1));
    p += 5;
    PLAN_NEXT();
v_u64:
    if (p[0] != 0xcf) {
        goto v_any;
    }
    o = put_u64_at(o, rc_mp_be64(p + 1));
    p += 9;
    PLAN_NEXT();
v_double:
    if (p[0] != 0xcb) {
        goto v_any;
    }
    u = rc_mp_be64(p + 1);
    double d;
    memcpy(&d, &u, sizeof d);
    o = float_at(o, d, false);
    p += 9;
    PLAN_NEXT();

    /* The same with a plan_rep_t: its text when the bytes are its, else the value's, kept.
     * Its memory is the plan's fast buffer, not const (pl is, for all the rest). */
#define PLAN_REP() ((plan_rep_t *)(void *)((uint8_t *)(uintptr_t)s->mp + PLAN_REP_GAP))
#define PLAN_REP_KEEP(e, x)                                                                        \
    do {                                                                                           \
        if ((e)-o <= 32) { /* (always so for a number's text) */                                   \
            rp->val = (x);                                                                         \
            memcpy(rp->text, o, 32);                                                               \
            rp->text_len = (size_t)((e)-o);                                                        \
        }                                                                                          \
        rp->misses++;                                                                              \
        o = (e);                                                                                   \
    } while (0)
/* A repeating number's head: another type byte goes to value_at; its n bytes (into x) the
 * same as last time: its last text copied and the next segment taken; else the caller formats
 * it and keeps it by PLAN_REP_KEEP. */
#define PLAN_REP_HIT(head, x, n)                                                                   \
    do {                                                                                           \
        if (p[0] != (head)) {                                                                      \
            goto v_any;                                                                            \
        }                                                                                          \
        rp = PLAN_REP();                                                                           \
        memcpy(&(x), p + 1, (n));                                                                  \
        p += 1 + (n);                                                                              \
        if ((x) == rp->val) {                                                                      \
            memcpy(o, rp->text, 32);                                                               \
            o += rp->text_len;                                                                     \
            rp->hits++;                                                                            \
            PLAN_NEXT();                                                                           \
        }                                                                                          \
    } while (0)
v_u32_rep:
    PLAN_REP_HIT(0xce, w, 4);
    e = put_u64_at(o, rc_mp_be32(p - 4));
    PLAN_REP_KEEP(e, w);
    PLAN_NEXT();
v_u64_rep:
    PLAN_REP_HIT(0xcf, u, 8);
    e = put_u64_at(o, rc_mp_be64(p - 8));
    PLAN_REP_KEEP(e, u);
    PLAN_NEXT();
v_double_rep:
    PLAN_REP_HIT(0xcb, u, 8);
    {
        uint64_t b = rc_mp_be64(p - 8);
        double dd;
        memcpy(&dd, &b, sizeof dd);
        e = float_at(o, dd, false);
    }
    PLAN_REP_KEEP(e, u);
    PLAN_NEXT();
#undef PLAN_REP_HIT
#undef PLAN_REP_KEEP
#undef PLAN_REP

v_any:
    q = p;
    if ((e = value_at(o, &q, end)) != NULL) {
        o = e;
        p = q;
        PLAN_NEXT();
    }
    if (p >= end || !rc_tpl_kv_scalar(p[0])) {
        goto miss; /* a map or an array: another layout */
    }
    out->len = (size_t)(o - out->data);
    r = p;
    if (write_value_rest(out, &r, end, 1) != RC_OK || !(o = room(out, pl->room))) {
        goto miss;
    }
    p = r;
    PLAN_NEXT();
#undef PLAN_NEXT

miss:
    out->len = mark;
    return false;
}

/* The walk that learns a plan from an event: pass 1 reads its layout and scalars, pass 2 (with
 * pl->var decided) makes the segments. */
typedef struct plan_learn {
    plan_t *pl;
    const uint8_t *end, *ev_end;
    int pass;
    uint32_t k;    /* the scalar's index */
    size_t seg_mp; /* where the open segment's bytes and text start */
    size_t seg_text;
    uint32_t nvalues; /* changing values */
    bool ok;
} plan_learn_t;

static void pl_mp(plan_learn_t *L, const uint8_t *b, size_t n) {
    rc_buf_t *to = L->pass == 1 ? &L->pl->layout : &L->pl->mp;
    if (L->ok && (to->len + n > PLAN_MAX_LAYOUT || rc_buf_append(to, b, n) != RC_OK)) {
        L->ok = false;
    }
}

static void pl_text(plan_learn_t *L, const char *s, size_t n) {
    if (L->pass == 2 && L->ok && rc_buf_append(&L->pl->text, s, n) != RC_OK) {
        L->ok = false;
    }
}

/* Ends the open segment with what comes after it (SEG_*): for SEG_VALUE the value v[0..vn) of
 * the event learnt from, whose kind the segment expects. */
static void pl_close(plan_learn_t *L, uint32_t kind, const uint8_t *v, size_t vn) {
    plan_t *pl = L->pl;
    if (L->pass != 2 || !L->ok) {
        return;
    }
    size_t mn = pl->mp.len - L->seg_mp, tn = pl->text.len - L->seg_text;
    static const uint8_t zeros[32];
    static const uint8_t k_vop_of_kind[] = {
        [SEG_SKIP] = VOP_SKIP, [SEG_SKIP_LAST] = VOP_SKIP_LAST, [SEG_END] = VOP_END};
    plan_seg_t s = {.mask = mn && mn <= 64 ? ~0ULL >> (64 - mn) : 0,
                    .mp_len = mn,
                    .text_len = tn,
                    .cop = kind == SEG_END && mn == 0 && tn <= 32 ? COP_END
                           : mn <= 16 && tn <= 16                 ? COP_16_16
                           : mn <= 16 && tn <= 32                 ? COP_16
                           : mn <= 32 && tn <= 32                 ? COP_32
                           : mn <= 64 && tn <= 64                 ? COP_64_64
                           : mn <= 64 && tn <= 96                 ? COP_64
                                                                  : COP_RUN};
    s.vop = kind == SEG_VALUE ? plan_vop_of(v, vn, &s.ext) : k_vop_of_kind[kind];
    if (kind == SEG_VALUE) {
        s.scal = (uint16_t)(L->k - 1);
        if ((pl->var.data[L->k - 1] & PLAN_VAR_REP) && s.cop >= COP_16_16 && s.cop <= COP_32 &&
            s.vop >= VOP_U32 && s.vop <= VOP_DOUBLE) {
            s.vop = (uint8_t)(s.vop - VOP_U32 + VOP_U32_REP);
        }
    }
    if (mn > UINT16_MAX || tn > UINT16_MAX || pl->segs.len / sizeof s >= PLAN_MAX_SEGS ||
        rc_buf_append(&pl->mp, zeros, PAD32(mn) - mn) != RC_OK ||
        rc_buf_append(&pl->text, zeros, PAD32(tn) - tn) != RC_OK ||
        rc_buf_append(&pl->segs, &s, sizeof s) != RC_OK || pl->mp.len > PLAN_MAX_MP ||
        pl->text.len > PLAN_MAX_TEXT) {
        L->ok = false;
        return;
    }
    pl->room += PAD32(tn) + (kind == SEG_VALUE ? VALUE_ROOM : 0);
    pl->nfast += s.cop >= COP_16_16 && s.cop <= COP_32;
    pl->nrep += s.vop >= VOP_U32_REP && s.vop <= VOP_DOUBLE_REP;
    pl->nfast += s.vop >= VOP_U32_REP && s.vop <= VOP_DOUBLE_REP;
    L->seg_mp = pl->mp.len;
    L->seg_text = pl->text.len;
}

/* A scalar value at v[0..n). */
static void pl_scalar(plan_learn_t *L, const uint8_t *v, size_t n) {
    plan_t *pl = L->pl;
    if (!L->ok) {
        return;
    }
    if (L->pass == 1) {
        static const uint8_t marker = 0xc1;
        uint32_t at;
        pl_mp(L, &marker, 1);
        if (pl->nscal >= PLAN_MAX_SCAL || pl->vals.len + n > PLAN_MAX_VALS ||
            rc_buf_append(&pl->vals, v, n) != RC_OK ||
            (at = (uint32_t)pl->vals.len, rc_buf_append(&pl->val_end, &at, sizeof at)) != RC_OK) {
            L->ok = false;
            return;
        }
        pl->nscal++;
        return;
    }
    if (pl->var.data[L->k++] & PLAN_VAR_CHANGES) {
        pl_close(L, SEG_VALUE, v, n);
        return;
    }
    pl_mp(L, v, n);
    const uint8_t *q = v;
    if (L->ok && write_value(&pl->text, &q, v + n, 1) != RC_OK) {
        L->ok = false;
    }
}

static void pl_value(plan_learn_t *L, const uint8_t **pp, int depth);

/* The map or array whose head is at p[0..head), of n items (pairs for a map). */
static void pl_items(plan_learn_t *L, const uint8_t **pp, size_t head, uint32_t n, bool map,
                     int depth) {
    const uint8_t *p = *pp;
    if (depth > PLAN_DEPTH || (size_t)(L->end - p) < head + (size_t)n * (map ? 2 : 1)) {
        L->ok = false;
        return;
    }
    pl_mp(L, p, head);
    pl_text(L, map ? "{" : "[", 1);
    p += head;
    bool first = true;
    for (uint32_t i = 0; i < n && L->ok; i++) {
        if (!map) {
            if (i > 0) {
                pl_text(L, ",", 1);
            }
            pl_value(L, &p, depth + 1);
            continue;
        }
        const uint8_t *k = p;
        const char *ks;
        uint32_t kl;
        if (rc_mp_read_str(&p, L->end, &ks, &kl) != RC_OK) {
            L->ok = false; /* a key that is not a str: the writer's way */
            break;
        }
        pl_mp(L, k, (size_t)(p - k));
        if (depth == 0 && kl == 5 && memcmp(ks, "kafka", 5) == 0) {
            /* the event's kafka member: skipped, as the writer skips it */
            bool last = i + 1 == n && L->ev_end && L->ev_end > p && L->ev_end <= L->end;
            if (L->pass == 1) {
                static const uint8_t marker = 0xc1;
                pl_mp(L, &marker, 1);
            }
            pl_close(L, last ? SEG_SKIP_LAST : SEG_SKIP, NULL, 0);
            if (skip_kafka(&p, L->end, last ? L->ev_end : NULL) != RC_OK) {
                L->ok = false;
            }
            continue;
        }
        if (!first) {
            pl_text(L, ",", 1);
        }
        first = false;
        if (L->pass == 2 && L->ok &&
            (put_string_in(&L->pl->text, (const uint8_t *)ks, kl, L->end) != RC_OK ||
             rc_buf_putc(&L->pl->text, ':') != RC_OK)) {
            L->ok = false;
        }
        pl_value(L, &p, depth + 1);
    }
    pl_text(L, map ? "}" : "]", 1);
    *pp = p;
}

static void pl_value(plan_learn_t *L, const uint8_t **pp, int depth) {
    const uint8_t *p = *pp, *end = L->end;
    if (!L->ok || p >= end) {
        L->ok = false;
        return;
    }
    uint8_t c = p[0];
    size_t avail = (size_t)(end - p);
    if ((c & 0xf0) == 0x80 || (c & 0xf0) == 0x90) {
        pl_items(L, pp, 1, c & 0x0fu, c < 0x90, depth);
    } else if ((c == 0xdc || c == 0xde) && avail >= 3) {
        pl_items(L, pp, 3, rc_mp_be16(p + 1), c == 0xde, depth);
    } else if ((c == 0xdd || c == 0xdf) && avail >= 5) {
        pl_items(L, pp, 5, rc_mp_be32(p + 1), c == 0xdf, depth);
    } else if (!rc_tpl_kv_scalar(c) || rc_mp_skip(pp, end) != RC_OK) {
        L->ok = false;
    } else {
        pl_scalar(L, p, (size_t)(*pp - p));
    }
}

static void plan_reset(plan_t *pl) {
    pl->segs.len = pl->mp.len = pl->text.len = pl->fast.len = 0;
    pl->layout.len = pl->vals.len = pl->val_end.len = pl->var.len = 0;
    pl->room = 96; /* a mid segment's copy past its text */
    pl->nscal = pl->nfast = pl->nrep = 0;
    pl->live = pl->settled = false;
    pl->hits = 0;
}

/* The bytes of scalar k of pl. */
static inline const uint8_t *plan_val(const plan_t *pl, uint32_t k, size_t *n) {
    const uint32_t *ve = (const uint32_t *)(const void *)pl->val_end.data;
    uint32_t from = k ? ve[k - 1] : 0;
    *n = ve[k] - from;
    return (const uint8_t *)pl->vals.data + from;
}

/* Learns into nw the plan of the event data[0..len), which the writer wrote as text[0..tn),
 * with old (the slot's plan, or NULL) telling which values change when its layout is the
 * event's. True when nw is live.
 * Which changing numbers get a plan_rep_t (PLAN_VAR_REP): all of a plan not settled (its first
 * events count their repeats); in a settled one, those of old that repeated at least as often
 * as not, and those that were constant in old (a commit time that stays for a while). */
static bool plan_learn(plan_t *nw, const plan_t *old, const uint8_t *data, size_t len,
                       const uint8_t *ev_end, const char *text, size_t tn, rc_json_tpl_t *t,
                       bool settle) {
    rc_buf_t *scratch = &t->scratch;
    plan_learn_t L = {.pl = nw, .end = data + len, .ev_end = ev_end, .pass = 1, .ok = true};
    plan_reset(nw);
    const uint8_t *p = data;
    if ((data[0] & 0xf0) != 0x80 && data[0] != 0xde && data[0] != 0xdf) {
        return false;
    }
    pl_value(&L, &p, 0);
    if (!L.ok) {
        return false;
    }
    if (rc_buf_reserve(&nw->var, nw->nscal + 1) != RC_OK) {
        return false;
    }
    nw->var.len = nw->nscal;
    /* a new layout's values all change */
    memset(nw->var.data, PLAN_VAR_CHANGES | PLAN_VAR_REP, nw->nscal);
    if (old && old->live && old->layout.len == nw->layout.len &&
        memcmp(old->layout.data, nw->layout.data, nw->layout.len) == 0) {
        /* settle: the values that differ from old's change, the others are constant; else
         * the values that changed before or differ now */
        nw->settled = settle || old->settled;
        for (uint32_t k = 0; k < nw->nscal; k++) {
            size_t a, b;
            const uint8_t *va = plan_val(old, k, &a), *vb = plan_val(nw, k, &b);
            bool differ = a != b || memcmp(va, vb, a) != 0;
            bool was = old->var.data[k] & PLAN_VAR_CHANGES;
            nw->var.data[k] = (char)((differ || (!settle && was) ? PLAN_VAR_CHANGES : 0) |
                                     (!nw->settled || !was ? PLAN_VAR_REP : 0));
        }
        /* old's numbers with a plan_rep_t (all changing ones) keep theirs when they repeated
         * at least as often as not */
        const plan_seg_t *sg = (const plan_seg_t *)(const void *)old->segs.data;
        for (size_t i = 0; nw->settled && old->nrep && i < old->segs.len / sizeof *sg; i++) {
            if (sg[i].vop >= VOP_U32_REP && sg[i].vop <= VOP_DOUBLE_REP) {
                const plan_rep_t *r = (const plan_rep_t *)(const void *)(sg[i].mp + PLAN_REP_GAP);
                if (r->hits >= r->misses) {
                    nw->var.data[sg[i].scal] |= (char)PLAN_VAR_REP;
                }
            }
        }
    }
    L.pass = 2;
    L.k = 0;
    p = data;
    pl_value(&L, &p, 0);
    pl_close(&L, SEG_END, NULL, 0);
    if (!L.ok) {
        return false;
    }
    /* 96 bytes past the last segment's, for a mid segment's compare (64) and copy (96); then
     * where each segment's bytes and text are, now that they no longer move */
    static const uint8_t zeros[96];
    if (rc_buf_append(&nw->mp, zeros, 96) != RC_OK ||
        rc_buf_append(&nw->text, zeros, 96) != RC_OK) {
        return false;
    }
    size_t nseg = nw->segs.len / sizeof(plan_seg_t);
    plan_seg_t *sg = (plan_seg_t *)(void *)nw->segs.data;
    if (rc_buf_reserve(&nw->fast, 64 * (size_t)nw->nfast) != RC_OK) {
        return false;
    }
    /* a COP_16_16/16/32 segment's bytes and text side by side (16-byte aligned) */
    _Static_assert(_Alignof(max_align_t) >= 16, "rc_buf's data 16-byte aligned");
    const uint8_t *m = (const uint8_t *)nw->mp.data;
    const char *tx = nw->text.data;
    uint8_t *f = (uint8_t *)nw->fast.data;
    const uint8_t *at;
    plan_exec(NULL, NULL, NULL, NULL, NULL, &at);
    const plan_ops_t ops = *(const plan_ops_t *)(const void *)at;
    for (size_t i = 0; i < nseg; i++) {
        sg[i].cop_at = sg[i].cop == COP_16_16 ? ops.cop16[sg[i].vop] : ops.cop[sg[i].cop];
        sg[i].vop_at = ops.vop[sg[i].vop];
        sg[i].mp = m;
        sg[i].text = tx;
        if (sg[i].cop == COP_16_16 || sg[i].cop == COP_16 || sg[i].cop == COP_32) {
            /* 32 bytes each: mp and text hold 96 past the last segment's */
            memcpy(f, m, 32);
            memcpy(f + 32, tx, 32);
            sg[i].mp = f;
            sg[i].text = (const char *)f + 32;
            f += 64;
        }
        if (sg[i].vop >= VOP_U32_REP && sg[i].vop <= VOP_DOUBLE_REP) {
            /* the bytes 0 (a 0, a +0.0) and their text, as plan_exec writes them */
            plan_rep_t *r = (plan_rep_t *)(void *)f;
            int dbl = sg[i].vop == VOP_DOUBLE_REP;
            memset(r, 0, sizeof *r);
            memcpy(r->text, t->zero_text[dbl], 32);
            r->text_len = t->zero_len[dbl];
            f += PLAN_REP_GAP;
        }
        m += PAD32(sg[i].mp_len);
        tx += PAD32(sg[i].text_len);
    }
    /* kept only when it writes this event as the writer did */
    const uint8_t *q;
    scratch->len = 0;
    if (!plan_exec(nw, scratch, data, data + len, ev_end, &q) || q != p || scratch->len != tn ||
        memcmp(scratch->data, text, tn) != 0) {
        return false;
    }
    nw->live = true;
    return true;
}

rc_err_t rc_json_write(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used) {
    if (len == 0) {
        return RC_ERR_TRUNCATED;
    }
    size_t mark = out->len;
    const uint8_t *p = data;
    if (data[0] > 0x80 && data[0] <= 0x84 && small_map_at(out, &p, data + len)) {
        if (used) {
            *used = (size_t)(p - data);
        }
        return RC_OK;
    }
    rc_err_t err = write_value_fast(out, &p, data + len, 0);
    if (err != RC_OK) {
        out->len = mark;
        return err;
    }
    if (used) {
        *used = (size_t)(p - data);
    }
    return RC_OK;
}

/* What a plan holds in memory. */
static size_t plan_bytes(const plan_t *pl) {
    return pl ? sizeof *pl + pl->segs.cap + pl->mp.cap + pl->text.cap + pl->fast.cap +
                    pl->layout.cap + pl->vals.cap + pl->val_end.cap + pl->var.cap
              : 0;
}

/* Makes the plan just learnt (t->spare) slot h's, unless the plans would then hold more than
 * PLAN_BUDGET bytes: then the slot keeps its plan. */
static bool plan_install(rc_json_tpl_t *t, uint32_t h) {
    plan_t *old = t->plans[h];
    size_t total = t->plan_bytes - plan_bytes(old) + plan_bytes(t->spare);
    if (total > PLAN_BUDGET) {
        return false;
    }
    t->plan_bytes = total;
    t->plans[h] = t->spare;
    t->spare = old;
    return true;
}

/* The PLAN_SETTLE-th event that slot h's plan (not settled) took, written as text[0..tn): the
 * plan learnt anew from it, its values that are the same as in the event the plan was learnt
 * from now constant. */
static void plan_settle(rc_json_tpl_t *t, uint32_t h, const uint8_t *data, size_t len,
                        const uint8_t *ev_end, const char *text, size_t tn) {
    plan_t *old = t->plans[h];
    if (!t->spare && !(t->spare = calloc(1, sizeof(plan_t)))) {
        return;
    }
    if (plan_learn(t->spare, old, data, len, ev_end, text, tn, t, true)) {
        t->spare->hits = old->hits;
        plan_install(t, h);
    }
}

/* After the writer wrote the event data[0..len) (rc_tpl_head_key: key) as text[0..tn) past a miss of
 * the plans of set s (its first slot): learns the event's plan into one of its 2 slots, unless
 * that slot's plans have not been taken lately (then only at every 2^fails-th miss). The slot
 * is the one learnt from an event of the same key (the same table: its plan is replaced), else
 * an empty one, else the one hit less recently, so that two tables sharing a set keep a plan
 * each. */
static void plan_after_miss(rc_json_tpl_t *t, uint32_t s, uint64_t key, const uint8_t *data,
                            size_t len, const uint8_t *ev_end, const char *text, size_t tn) {
    uint32_t w = t->plans[s] && t->keys[s] == key           ? 0
                 : t->plans[s + 1] && t->keys[s + 1] == key ? 1
                 : !t->plans[s]                             ? 0
                 : !t->plans[s + 1]                         ? 1
                                                            : 1u - t->mru[s / 2];
    uint32_t h = s + w;
    plan_t *old = t->plans[h];
    uint32_t f = t->fails[s] < 10 ? t->fails[s] : 10;
    if (t->misses[s]++ & ((1u << f) - 1)) {
        return;
    }
    if (!t->spare && !(t->spare = calloc(1, sizeof(plan_t)))) {
        return;
    }
    bool live = plan_learn(t->spare, old, data, len, ev_end, text, tn, t, false);
    /* a plan replacing one that took fewer than PLAN_HOLD events for each miss since it was
     * learnt: the slot may be thrashing (tables that share it take turns, or a layout's values
     * are still settling), so it learns less often */
    if (!live || (old && old->live && old->hits < (uint64_t)PLAN_HOLD * t->misses[s])) {
        t->fails[s] += t->fails[s] < 255;
    } else {
        t->fails[s] = 0;
    }
    t->misses[s] = 1;
    if (live && plan_install(t, h)) {
        t->last = h;
        t->keys[h] = key;
        t->mru[s / 2] = (uint8_t)w;
    }
}

/* Writes the event; with t, after rc_json_write_event_tpl tried the plan last hit: the other
 * plans of the event's set, else the writer, then plan_after_miss. */
static inline rc_err_t write_event(rc_buf_t *out, rc_json_tpl_t *t, const uint8_t *data, size_t len,
                                   const uint8_t *ev_end, size_t *used) {
    if (len == 0) {
        return RC_ERR_TRUNCATED;
    }
    size_t mark = out->len;
    const uint8_t *p = data;
    uint32_t s = 0;
    uint64_t key = 0;
    if (t) { /* the last plan was tried (rc_json_write_event_tpl): the others of the set */
        key = rc_tpl_head_key(data, data + len);
        s = (uint32_t)(key % (PLAN_SLOTS / 2)) * 2;
        for (uint32_t h = s; h < s + 2; h++) {
            plan_t *pl = t->plans[h];
            if (h != t->last && pl && pl->live && t->keys[h] == key &&
                plan_exec(pl, out, data, data + len, ev_end, &p)) {
                t->last = h;
                t->mru[s / 2] = (uint8_t)(h - s);
                if (++pl->hits == PLAN_SETTLE && !pl->settled) {
                    plan_settle(t, h, data, len, ev_end, out->data + mark, out->len - mark);
                }
                goto done;
            }
        }
    }
    uint32_t n;
    rc_err_t err = rc_mp_read_map(&p, data + len, &n);
    if (err == RC_OK) {
        err = t ? write_event_tpl(out, t, &p, data + len, n, ev_end)
                : write_map(out, &p, data + len, n, 0, true);
    }
    if (err != RC_OK) {
        out->len = mark;
        return err;
    }
    if (t) {
        plan_after_miss(t, s, key, data, len, ev_end, out->data + mark, out->len - mark);
    }
done:
    if (used) {
        *used = (size_t)(p - data);
    }
    return RC_OK;
}

rc_err_t rc_json_write_event(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used) {
    return write_event(out, NULL, data, len, NULL, used);
}

/* rc_json_write_event_tpl's arguments, in memory: its hit of the last plan keeps them there
 * across plan_exec's call, not in the six registers a callee saves (their pushes and pops were
 * a fifth of a hit's cost outside the segments), and its miss passes them on by one pointer. */
typedef struct event_call {
    rc_buf_t *out;
    rc_json_tpl_t *t;
    const uint8_t *data;
    size_t len;
    const uint8_t *ev_end;
    size_t *used;
    const uint8_t *p; /* plan_exec's *pend */
    size_t mark;      /* out->len before the event */
} event_call_t;

/* rc_json_write_event_tpl past its try of the last plan hit (a miss, or no plan, or no t). */
static __attribute__((noinline)) rc_err_t write_event_call(const event_call_t *a) {
    return write_event(a->out, a->t, a->data, a->len, a->t ? a->ev_end : NULL, a->used);
}

/* The hit of the last plan (most events of a stream) in a short function; anything else in
 * write_event_call, which tries the other plans of the event's set and writes a miss. */
rc_err_t rc_json_write_event_tpl(rc_buf_t *out, rc_json_tpl_t *t, const uint8_t *data, size_t len,
                                 const uint8_t *ev_end, size_t *used) {
    event_call_t a = {out, t, data, len, ev_end, used, data, out->len};
    plan_t *pl;
    if (!t || len == 0 || !(pl = t->plans[t->last]) || !pl->live ||
        !plan_exec(pl, out, data, data + len, ev_end, &a.p)) {
        return write_event_call(&a);
    }
    /* a's fields read again: plan_exec had a's address */
    pl = a.t->plans[a.t->last];
    if (__builtin_expect(++pl->hits == PLAN_SETTLE, 0) && !pl->settled) {
        plan_settle(a.t, a.t->last, a.data, a.len, a.ev_end, a.out->data + a.mark,
                    a.out->len - a.mark);
    }
    if (a.used) {
        *a.used = (size_t)(a.p - a.data);
    }
    return RC_OK;
}

size_t rc_json_tpl_reps(const rc_json_tpl_t *t) {
    const plan_t *pl = t ? t->plans[t->last] : NULL;
    return pl && pl->live ? pl->nrep : 0;
}

/* ---- pieces for the other JSON writers (rc_debezium) ------------------------------------- */

_Static_assert(RC_JSON_VALUE_ROOM >= VALUE_ROOM, "rc_json_value_at writes up to VALUE_ROOM bytes");

char *rc_json_value_at(char *o, const uint8_t **pp, const uint8_t *end) {
    return value_at(o, pp, end);
}

char *rc_json_uint_at(char *o, uint64_t v) {
    return put_u64_at(o, v);
}

rc_err_t rc_json_write_base64(rc_buf_t *out, const uint8_t *s, size_t n) {
    return put_base64(out, s, n);
}
