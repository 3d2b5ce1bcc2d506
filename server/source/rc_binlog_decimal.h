/* rc_binlog_decimal.h: MySQL's binary DECIMAL to its text, inline: rc_binlog_fmt_decimal_l (its
 * one out-of-line copy, rc_binlog_value.c) and the row loop of inserts (rc_binlog_row.c), where
 * a call per value cost more than a small DECIMAL's digits. */
#ifndef RC_BINLOG_DECIMAL_H
#define RC_BINLOG_DECIMAL_H

#include "rc_binlog_int.h"

static const uint32_t dec_pow10[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};

/* The four digits of every number below 10000, for DECIMAL's digit groups: a 9-digit group
 * is its first digit and two of these, where pairs took four table reads and seven
 * multiplications. Filled before main. */
extern char rc_binlog_quads[10000][4]; /* filled before main (rc_binlog_value.c) */

/* v < 10^9 in nine digits, leading zeros included. */
static inline __attribute__((always_inline)) void put_group9(char *out, uint32_t v) {
    uint32_t hi = v / 10000, lo = v - hi * 10000, first = hi / 10000;
    out[0] = (char)('0' + first);
    memcpy(out + 1, rc_binlog_quads[hi - first * 10000], 4);
    memcpy(out + 5, rc_binlog_quads[lo], 4);
}

/* x < 10000 without leading zeros, at least one digit: the last n of its four, by one 4-byte
 * copy from inside the table (the bytes after them belong to the next entry; the caller
 * overwrites them). */
static inline __attribute__((always_inline)) size_t put_quad_min(char *out, uint32_t x) {
    size_t n = 1 + (x >= 10) + (x >= 100) + (x >= 1000);
    memcpy(out, rc_binlog_quads[x] + 4 - n, 4);
    return n;
}

/* Digits of v (< 10^9) without leading zeros, at least one; may write 3 bytes past them. */
static inline __attribute__((always_inline)) size_t put_uint_min(char *out, uint32_t v) {
    if (v < 10000) {
        return put_quad_min(out, v);
    }
    if (v >= 100000000) {
        put_group9(out, v);
        return 9;
    }
    uint32_t hi = v / 10000;
    size_t n = put_quad_min(out, hi);
    memcpy(out + n, rc_binlog_quads[v - hi * 10000], 4);
    return n + 4;
}

/* A big-endian digit group of n (1-4) bytes. */
static inline __attribute__((always_inline)) uint32_t be_group(const uint8_t *p, unsigned n) {
    switch (n) {
    case 1:
        return p[0];
    case 2:
        return (uint32_t)p[0] << 8 | p[1];
    case 3:
        return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    default:
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
}

/* v < 10^d (1 <= d <= 8) in exactly d digits, leading zeros included; may write up to 3 bytes
 * past them. The offsets into an entry are added whole: entry + 8 - d stepped 8 bytes into an
 * entry of 4 first, which UBSan (clang) caught in tests/fuzz (fuzz_binlog/decimal-tail-of-5-
 * to-8-digits). */
static inline __attribute__((always_inline)) size_t put_width(char *out, uint32_t v, unsigned d) {
    if (d <= 4) {
        memcpy(out, rc_binlog_quads[v] + (4 - d), 4);
        return d;
    }
    uint32_t hi = v / 10000;
    memcpy(out, rc_binlog_quads[hi] + (8 - d), 4);
    memcpy(out + d - 4, rc_binlog_quads[v - hi * 10000], 4);
    return d;
}

/* MySQL's binary DECIMAL: the integer digits, then the fraction's, in groups of nine digits per
 * 4 bytes (a shorter leading integer group and trailing fraction group take dig2bytes[] bytes),
 * big-endian, the sign bit of the first byte flipped and every byte inverted when negative.
 * Written straight into out: the integer part from its first non-zero group on ("0" when it
 * has none), each later group zero-padded to nine digits. */
static inline __attribute__((always_inline)) size_t
rc_binlog_fmt_decimal_inl(const uint8_t *p, const rc_dec_layout_t *l, char *out) {
    /* read in place: each group is XORed with the inversion mask of its bytes, and the very
     * first group also with the sign bit (flip, cleared once used) */
    uint32_t mask = (p[0] & 0x80) ? 0 : 0xffffffffu, flip = 0x80, any = 0;
    char *o = out;
    if (mask) {
        *o++ = '-'; /* taken back at the end if every digit is 0: "-0.00" is written "0.00" */
    }
    const uint8_t *q = p;
    bool started = false;
#define GROUP(n)                                                                                   \
    (any |= v = (be_group(q, (n)) ^ (flip << (8 * ((n)-1))) ^ (mask >> (32 - 8 * (n)))), flip = 0, \
     v)
    uint32_t v;
    /* the leading and trailing groups by their digit count: each case reads a constant
     * number of bytes against a constant limit, and the trailing one writes a constant width
     * (straight-line put_uint, where a variable width took put_uint_any's loop) */
#define LEAD(d, n)                                                                                 \
    case d:                                                                                        \
        if (GROUP(n) >= dec_pow10[d]) {                                                            \
            return 0;                                                                              \
        }                                                                                          \
        q += n;                                                                                    \
        break
    switch (l->lead_digits) {
        LEAD(1, 1);
        LEAD(2, 1);
        LEAD(3, 2);
        LEAD(4, 2);
        LEAD(5, 3);
        LEAD(6, 3);
        LEAD(7, 4);
        LEAD(8, 4);
    default:
        v = 0; /* no leading group */
        break;
    }
#undef LEAD
    if (v) {
        o += put_uint_min(o, v);
        started = true;
    }
    for (unsigned i = 0; i < l->intg_groups; i++, q += 4) {
        if (GROUP(4) > 999999999) {
            return 0;
        }
        if (started) {
            put_group9(o, v);
            o += 9;
        } else if (v) {
            o += put_uint_min(o, v);
            started = true;
        }
    }
    if (!started) {
        *o++ = '0';
    }
    if (l->scale > 0) {
        *o++ = '.';
    }
    for (unsigned i = 0; i < l->frac_groups; i++, q += 4) {
        if (GROUP(4) > 999999999) {
            return 0;
        }
        put_group9(o, v);
        o += 9;
    }
#define TAIL(d, n)                                                                                 \
    case d:                                                                                        \
        if (GROUP(n) >= dec_pow10[d]) {                                                            \
            return 0;                                                                              \
        }                                                                                          \
        o += put_width(o, v, d);                                                                   \
        break
    switch (l->tail_digits) {
        TAIL(1, 1);
        TAIL(2, 1);
        TAIL(3, 2);
        TAIL(4, 2);
        TAIL(5, 3);
        TAIL(6, 3);
        TAIL(7, 4);
        TAIL(8, 4);
    default: /* no trailing group */
        break;
    }
#undef TAIL
#undef GROUP
    *o = '\0';
    if (mask && any == 0) {
        memmove(out, out + 1, (size_t)(o - out)); /* with the NUL */
        o--;
    }
    return (size_t)(o - out);
}

#endif
