/* rc_text.h: temporal values' canonical text (rc_event.h) -> numbers.
 *   DATE "YYYY-MM-DD", DATETIME "YYYY-MM-DDTHH:MM:SS[.f]", TIMESTAMP the same with "Z" (UTC),
 *   TIME "[-]HH:MM:SS[.f]" (hours two or more digits); the fraction has 1 to 6 digits and its
 *   digit count is the column's fsp. Zero dates and zero parts are read as zeros.
 * @thread any (pure functions) */
#ifndef RC_TEXT_H
#define RC_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rc_datetime {
    uint32_t year, month, day, hour, minute, second;
    uint32_t micros; /* fraction of the second */
    uint32_t fsp;    /* digits of the fraction in the text, 0..6 */
} rc_datetime_t;

/* Reads exactly n digits at s into *v. Inline, as the two below: the encoders read a DATETIME
 * per row, and a call per field cost more than the digits. */
static inline bool rc_text_digits(const uint8_t *s, size_t n, uint32_t *v) {
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        x = x * 10 + (uint32_t)(s[i] - '0');
    }
    *v = x;
    return true;
}

/* Reads ".ffffff" (1 to 6 digits) or nothing at s[0..n): the microseconds and the digit count. */
static inline bool rc_text_fraction(const uint8_t *s, size_t n, uint32_t *micros, uint32_t *fsp) {
    *micros = 0;
    *fsp = 0;
    if (n == 0) {
        return true;
    }
    if (s[0] != '.' || n < 2 || n > 7 || !rc_text_digits(s + 1, n - 1, micros)) {
        return false;
    }
    *fsp = (uint32_t)(n - 1);
    for (size_t i = n - 1; i < 6; i++) {
        *micros *= 10;
    }
    return true;
}

/* "YYYY-MM-DD" */
static inline bool rc_text_date(const uint8_t *s, size_t n, rc_datetime_t *t) {
    return n == 10 && s[4] == '-' && s[7] == '-' && rc_text_digits(s, 4, &t->year) &&
           rc_text_digits(s + 5, 2, &t->month) && rc_text_digits(s + 8, 2, &t->day);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The 19 bytes of "YYYY-MM-DDTHH:MM:SS" at s read as three 64-bit words (s[0..8), s[8..16),
 * s[11..19)) whose separators are compared at once and whose digits are checked eight at a
 * time: x = byte ^ '0' is a digit when x | (x + 0x76) has no high bit (no lane carries: a lane
 * that would has its high bit set already). True with each word's digits as x in *xa (lanes
 * 0-3: YYYY, 5-6: MM), *xb (0-1: DD) and *xc (0-1: HH, 3-4: MM, 6-7: SS), the other lanes 0. */
static inline __attribute__((always_inline)) bool
rc_text_datetime_lanes(const uint8_t *s, uint64_t *xa, uint64_t *xb, uint64_t *xc) {
    const uint64_t zeros = 0x3030303030303030ULL, high = 0x8080808080808080ULL,
                   up = 0x7676767676767676ULL;
    const uint64_t am = 0x00ffff00ffffffffULL; /* YYYY-MM-: digits in lanes 0-3, 5-6 */
    const uint64_t bm = 0x000000000000ffffULL; /* DDT: digits in lanes 0-1 */
    const uint64_t cm = 0xffff00ffff00ffffULL; /* HH:MM:SS: digits in lanes 0-1, 3-4, 6-7 */
    uint64_t a, b, c;
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    memcpy(&c, s + 11, 8);
    uint64_t x = (a ^ zeros) & am, y = (b ^ zeros) & bm, z = (c ^ zeros) & cm;
    if ((a & 0xff0000ff00000000ULL) != 0x2d00002d00000000ULL || (b & 0xff0000ULL) != 0x540000ULL ||
        (c & 0x0000ff0000ff0000ULL) != 0x00003a00003a0000ULL ||
        (((x | (x + up)) & am) | ((y | (y + up)) & bm) | ((z | (z + up)) & cm)) & high) {
        return false;
    }
    *xa = x, *xb = y, *xc = z;
    return true;
}

/* The six-digit fraction ".ffffff" of s[18..26) (at f18 = s + 18) read as one word, checked as
 * above: true with its digits as x in lanes 2-7 of *xf. */
static inline __attribute__((always_inline)) bool rc_text_fraction6_lane(const uint8_t *f18,
                                                                         uint64_t *xf) {
    const uint64_t fm = 0xffffffffffff0000ULL;
    uint64_t f;
    memcpy(&f, f18, 8);
    *xf = (f ^ 0x3030303030303030ULL) & fm;
    return (f & 0xff00ULL) == 0x2e00ULL &&
           !(((*xf | (*xf + 0x7676767676767676ULL)) & fm) & 0x8080808080808080ULL);
}
#endif

/* "YYYY-MM-DDTHH:MM:SS[.f..]": on a little-endian machine the date and time by
 * rc_text_datetime_lanes, a six-digit fraction, the usual one, by rc_text_fraction6_lane. */
static inline bool rc_text_datetime(const uint8_t *s, size_t n, rc_datetime_t *t) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t xa, xb, xc;
    if (n < 19 || !rc_text_datetime_lanes(s, &xa, &xb, &xc)) {
        return false;
    }
#define RC_TEXT_D(x, i) ((uint32_t)((x) >> (8 * (i))) & 0xffu)
    t->year =
        RC_TEXT_D(xa, 0) * 1000 + RC_TEXT_D(xa, 1) * 100 + RC_TEXT_D(xa, 2) * 10 + RC_TEXT_D(xa, 3);
    t->month = RC_TEXT_D(xa, 5) * 10 + RC_TEXT_D(xa, 6);
    t->day = RC_TEXT_D(xb, 0) * 10 + RC_TEXT_D(xb, 1);
    t->hour = RC_TEXT_D(xc, 0) * 10 + RC_TEXT_D(xc, 1);
    t->minute = RC_TEXT_D(xc, 3) * 10 + RC_TEXT_D(xc, 4);
    t->second = RC_TEXT_D(xc, 6) * 10 + RC_TEXT_D(xc, 7);
    if (n == 26) {
        uint64_t xf;
        if (!rc_text_fraction6_lane(s + 18, &xf)) {
            return false;
        }
        t->micros = RC_TEXT_D(xf, 2) * 100000 + RC_TEXT_D(xf, 3) * 10000 + RC_TEXT_D(xf, 4) * 1000 +
                    RC_TEXT_D(xf, 5) * 100 + RC_TEXT_D(xf, 6) * 10 + RC_TEXT_D(xf, 7);
        t->fsp = 6;
        return true;
    }
#undef RC_TEXT_D
    return rc_text_fraction(s + 19, n - 19, &t->micros, &t->fsp);
#else
    return n >= 19 && rc_text_date(s, 10, t) && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
           rc_text_digits(s + 11, 2, &t->hour) && rc_text_digits(s + 14, 2, &t->minute) &&
           rc_text_digits(s + 17, 2, &t->second) &&
           rc_text_fraction(s + 19, n - 19, &t->micros, &t->fsp);
#endif
}

/* A TIME as signed microseconds. */
bool rc_text_time(const uint8_t *s, size_t n, int64_t *micros, uint32_t *fsp);
/* A TIMESTAMP as microseconds since the epoch; MySQL's zero TIMESTAMP gives 0. */
bool rc_text_timestamp(const uint8_t *s, size_t n, int64_t *epoch_us, uint32_t *fsp);
/* Days from 1970-01-01 to a proleptic Gregorian date. */
int64_t rc_text_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
