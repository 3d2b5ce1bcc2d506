/* rc_binlog_value.c: single binlog values to their canonical text (rc_event.h): DECIMAL and
 * temporals formatted by hand for the hot path (no snprintf, no time zone), latin1 to UTF-8. */
#include <stdio.h>

#include "rc_binlog_decimal.h"
#include "rc_binlog_int.h"

static const uint8_t dig2bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
static const uint32_t pow10u[10] = {1,      10,      100,      1000,      10000,
                                    100000, 1000000, 10000000, 100000000, 1000000000};

const char rc_binlog_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Writes v in exactly `width` digits (more if v needs them); returns digits written. Two
 * digits per step from a table: every DECIMAL group and temporal field goes through here. */
static size_t put_uint_any(char *out, uint64_t v, unsigned width) {
    unsigned n;
    if (width >= 1 && width <= 9 && v < pow10u[width]) {
        n = width; /* the common case: a field of known width */
    } else {
        n = 1;
        for (uint64_t t = v; t >= 10; t /= 10) {
            n++;
        }
        if (n < width) {
            n = width;
        }
    }
    char *q = out + n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        memcpy(q, rc_binlog_pairs + 2 * r, 2);
    }
    if (v >= 10 || q - out >= 2) { /* a 2-digit field below 10 gets its leading zero here */
        q -= 2;
        memcpy(q, rc_binlog_pairs + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    while (q > out) {
        *--q = '0';
    }
    return n;
}

static inline void put_pair(char *out, uint32_t v) {
    memcpy(out, rc_binlog_pairs + 2 * v, 2);
}

size_t rc_binlog_fmt_uint(uint64_t v, char *out) {
    return put_uint_any(out, v, 0);
}

/* put_uint_any, with the widths of temporal fields, fractions and DECIMAL groups written by
 * straight-line code when v fits them (the width is a constant at most call sites, so only
 * its own case remains after inlining). */
static inline __attribute__((always_inline)) size_t put_uint(char *out, uint64_t v,
                                                             unsigned width) {
    if (width == 2 && v < 100) {
        put_pair(out, (uint32_t)v);
        return 2;
    }
    if (width == 1 && v < 10) {
        out[0] = (char)('0' + v);
        return 1;
    }
    if (width == 4 && v < 10000) {
        put_pair(out, (uint32_t)v / 100);
        put_pair(out + 2, (uint32_t)v % 100);
        return 4;
    }
    if (width == 3 && v < 1000) {
        out[0] = (char)('0' + v / 100);
        put_pair(out + 1, (uint32_t)v % 100);
        return 3;
    }
    if (width == 6 && v < 1000000) {
        uint32_t u = (uint32_t)v;
        put_pair(out, u / 10000);
        put_pair(out + 2, u / 100 % 100);
        put_pair(out + 4, u % 100);
        return 6;
    }
    if (width == 9 && v < 1000000000) {
        uint32_t u = (uint32_t)v, lo = u % 100000000;
        out[0] = (char)('0' + u / 100000000);
        put_pair(out + 1, lo / 1000000);
        put_pair(out + 3, lo / 10000 % 100);
        put_pair(out + 5, lo / 100 % 100);
        put_pair(out + 7, lo % 100);
        return 9;
    }
    return put_uint_any(out, v, width);
}

/* "HH:MM:SS" from MySQL's packed hour (below 100), minute and second (hour << 12 |
 * minute << 6 | second). */
static inline void put_hms(char *out, uint32_t hms) {
    put_pair(out, hms >> 12);
    out[2] = ':';
    put_pair(out + 3, (hms >> 6) & 63);
    out[5] = ':';
    put_pair(out + 6, hms & 63);
}

/* ".ffffff" cut to fsp digits, for any usec (one of 7 digits or more, which only a malformed
 * value gives, is written in full as its width's put_uint writes it). */
static __attribute__((noinline)) size_t put_frac_any(char *out, uint32_t usec, unsigned fsp) {
    out[0] = '.';
    switch (fsp) { /* constant divisors and widths: each case is straight-line code */
    case 1:
        return 1 + put_uint(out + 1, usec / 100000, 1);
    case 2:
        return 1 + put_uint(out + 1, usec / 10000, 2);
    case 3:
        return 1 + put_uint(out + 1, usec / 1000, 3);
    case 4:
        return 1 + put_uint(out + 1, usec / 100, 4);
    case 5:
        return 1 + put_uint(out + 1, usec / 10, 5);
    default:
        return 1 + put_uint(out + 1, usec, 6);
    }
}

/* ".ffffff" cut to fsp digits. A usec below 1000000 is written inline as its first four digits,
 * and for fsp 5 or 6 all six (the first fsp of them are usec / 10^(6 - fsp) in fsp digits): no
 * call and no switch per value (they were a third of a TIME2's or DATETIME2's cost). Writes 7 bytes at
 * most, which the callers' RC_BINLOG_TEXT_MAX covers; the bytes past the returned length are
 * left for the caller to overwrite. */
static inline __attribute__((always_inline)) size_t put_frac(char *out, uint32_t usec,
                                                             unsigned fsp) {
    if (fsp == 0) {
        return 0;
    }
    if (usec > 999999 || fsp > 6) {
        return put_frac_any(out, usec, fsp);
    }
    out[0] = '.';
    /* the first four digits from rc_binlog_quads (one division where pairs took three), and
     * for fsp 5 or 6 the last two */
    uint32_t hi = usec / 100;
    memcpy(out + 1, rc_binlog_quads[hi], 4);
    if (fsp > 4) {
        put_pair(out + 5, usec - hi * 100);
    }
    return 1 + fsp;
}

static uint32_t frac_bytes(unsigned fsp) {
    return (fsp + 1) / 2;
}

size_t rc_binlog_decimal_size(unsigned precision, unsigned scale) {
    unsigned intg = precision - scale;
    return (size_t)(intg / 9) * 4 + dig2bytes[intg % 9] + (size_t)(scale / 9) * 4 +
           dig2bytes[scale % 9];
}

/* The four digits of every number below 10000, for DECIMAL's digit groups (rc_binlog_decimal.h):
 * a 9-digit group is its first digit and two of these, where pairs took four table reads and
 * seven multiplications. Filled before main. */
char rc_binlog_quads[10000][4];

__attribute__((constructor)) static void quads_fill(void) {
    for (unsigned i = 0; i < 10000; i++) {
        memcpy(rc_binlog_quads[i], rc_binlog_pairs + 2 * (i / 100), 2);
        memcpy(rc_binlog_quads[i] + 2, rc_binlog_pairs + 2 * (i % 100), 2);
    }
}

void rc_binlog_decimal_layout(unsigned precision, unsigned scale, rc_dec_layout_t *l) {
    unsigned intg = precision - scale;
    l->lead_digits = (uint8_t)(intg % 9);
    l->lead_bytes = dig2bytes[intg % 9];
    l->intg_groups = (uint8_t)(intg / 9);
    l->frac_groups = (uint8_t)(scale / 9);
    l->tail_digits = (uint8_t)(scale % 9);
    l->tail_bytes = dig2bytes[scale % 9];
    l->scale = (uint8_t)scale;
    l->lead_lim = pow10u[intg % 9];
    l->tail_lim = pow10u[scale % 9];
}

size_t rc_binlog_fmt_decimal_l(const uint8_t *p, const rc_dec_layout_t *l, char *out) {
    return rc_binlog_fmt_decimal_inl(p, l, out);
}

size_t rc_binlog_fmt_decimal(const uint8_t *p, unsigned precision, unsigned scale, char *out) {
    rc_dec_layout_t l;
    rc_binlog_decimal_layout(precision, scale, &l);
    return rc_binlog_fmt_decimal_l(p, &l, out);
}

rc_err_t rc_binlog_decimal_text(const uint8_t *p, size_t len, unsigned precision, unsigned scale,
                                char *out, size_t out_size, size_t *consumed) {
    if (precision == 0 || precision > 65 || scale > precision) {
        return RC_ERR_INVALID;
    }
    size_t size = rc_binlog_decimal_size(precision, scale);
    if (len < size) {
        return RC_ERR_TRUNCATED;
    }
    char tmp[RC_BINLOG_TEXT_MAX];
    size_t n = rc_binlog_fmt_decimal(p, precision, scale, tmp);
    if (n == 0) {
        return RC_ERR_INVALID;
    }
    /* sign + integer digits (at least "0") + point + scale digits + NUL, as always asked */
    size_t intlen = n - (tmp[0] == '-') - (scale > 0 ? scale + 1 : 0);
    if (out_size < 1 + intlen + 1 + scale + 1) {
        return RC_ERR_NOMEM;
    }
    memcpy(out, tmp, n + 1);
    if (consumed) {
        *consumed = size;
    }
    return RC_OK;
}

size_t rc_binlog_fmt_date(uint32_t v, char *out) {
    size_t o = put_uint(out, v >> 9, 4);
    out[o++] = '-';
    o += put_uint(out + o, (v >> 5) & 15, 2);
    out[o++] = '-';
    o += put_uint(out + o, v & 31, 2);
    out[o] = '\0';
    return o;
}

/* hour:minute:second[.frac] with sign; used by TIME2, old TIME and JSON times. */
static size_t fmt_hms(char *out, bool neg, uint64_t hour, unsigned min, unsigned sec, uint32_t usec,
                      unsigned fsp) {
    size_t o = 0;
    if (neg) {
        out[o++] = '-';
    }
    o += put_uint(out + o, hour, 2);
    out[o++] = ':';
    o += put_uint(out + o, min, 2);
    out[o++] = ':';
    o += put_uint(out + o, sec, 2);
    o += put_frac(out + o, usec, fsp);
    out[o] = '\0';
    return o;
}

/* MySQL's packed TIME (int part << 24 | microseconds, negative for negative times). */
size_t rc_binlog_fmt_time_packed(int64_t packed, unsigned fsp, char *out) {
    bool neg = packed < 0;
    uint64_t u = neg ? (uint64_t)0 - (uint64_t)packed : (uint64_t)packed;
    uint64_t hms = u >> 24;
    return fmt_hms(out, neg, (hms >> 12) % 1024, (unsigned)((hms >> 6) % 64), (unsigned)(hms % 64),
                   (uint32_t)(u % (1u << 24)), fsp);
}

/* TIME2 values servers write: non-negative, hour below 100. Every field at a fixed place,
 * the fraction as the general form reads it (put_frac writes one out of range the same way);
 * 0 (nothing written) for anything else, left to the general form. */
static inline size_t fmt_time_short(const uint8_t *p, unsigned fsp, char *out) {
    if (!(p[0] & 0x80)) {
        return 0; /* negative */
    }
    uint32_t hms = ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) - 0x800000u, usec;
    switch (fsp) {
    case 0:
        usec = 0;
        break;
    case 1:
    case 2:
        usec = p[3] * 10000u;
        break;
    case 3:
    case 4:
        usec = ((uint32_t)p[3] << 8 | p[4]) * 100u;
        break;
    case 5:
    case 6:
        usec = (uint32_t)p[3] << 16 | (uint32_t)p[4] << 8 | p[5];
        break;
    default:
        return 0;
    }
    uint32_t hour = hms >> 12;
    if (hour >= 100) {
        return 0;
    }
    put_hms(out, hms);
    size_t o = 8 + put_frac(out + 8, usec, fsp);
    out[o] = '\0';
    return o;
}

/* TIME2 by MySQL's packed TIME: any value (out of the short path's way, so that its
 * registers stay free). */
static __attribute__((noinline)) size_t fmt_time_general(const uint8_t *p, unsigned fsp,
                                                         char *out) {
    int64_t intpart = (int64_t)rc_be(p, 3) - 0x800000;
    int64_t frac = 0;
    int64_t packed;
    switch (fsp) {
    case 1:
    case 2:
        frac = p[3];
        if (intpart < 0 && frac != 0) {
            intpart++;
            frac -= 0x100;
        }
        packed = intpart * (1 << 24) + frac * 10000;
        break;
    case 3:
    case 4:
        frac = (int64_t)rc_be(p + 3, 2);
        if (intpart < 0 && frac != 0) {
            intpart++;
            frac -= 0x10000;
        }
        packed = intpart * (1 << 24) + frac * 100;
        break;
    case 5:
    case 6:
        packed = (int64_t)rc_be(p, 6) - 0x800000000000LL;
        break;
    default:
        packed = intpart * (1 << 24);
        break;
    }
    return rc_binlog_fmt_time_packed(packed, fsp, out);
}

size_t rc_binlog_fmt_time(const uint8_t *p, unsigned fsp, char *out) {
    size_t n = fmt_time_short(p, fsp, out);
    return n != 0 ? n : fmt_time_general(p, fsp, out);
}

/* DATETIME from MySQL's packed form (ymdhms << 24 | microseconds); sep is ' ' or 'T'. */
size_t rc_binlog_fmt_datetime_packed(int64_t packed, unsigned fsp, char sep, char *out) {
    uint64_t u = packed < 0 ? (uint64_t)0 - (uint64_t)packed : (uint64_t)packed;
    uint32_t usec = (uint32_t)(u % (1u << 24));
    uint64_t ymdhms = u >> 24;
    uint64_t ymd = ymdhms >> 17, ym = ymd >> 5;
    uint32_t hms = (uint32_t)(ymdhms % (1u << 17));
    size_t o = put_uint(out, ym / 13, 4);
    out[o++] = '-';
    o += put_uint(out + o, ym % 13, 2);
    out[o++] = '-';
    o += put_uint(out + o, ymd % 32, 2);
    out[o++] = sep;
    o += put_uint(out + o, hms >> 12, 2);
    out[o++] = ':';
    o += put_uint(out + o, (hms >> 6) % 64, 2);
    out[o++] = ':';
    o += put_uint(out + o, hms % 64, 2);
    o += put_frac(out + o, usec, fsp);
    out[o] = '\0';
    return o;
}

/* Big-endian reads of the hot temporal paths by one load and a byte swap each (rc_be's loop
 * of shifts was a fifth of a DATETIME2's and TIMESTAMP2's cost). */
static inline uint32_t be16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return __builtin_bswap16(v);
}
static inline uint32_t be32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

/* Microseconds of a DATETIME2 / TIMESTAMP2 fraction (fsp bytes after the integer part). */
static uint32_t read_frac(const uint8_t *p, unsigned fsp) {
    switch (fsp) {
    case 1:
    case 2:
        return (uint32_t)p[0] * 10000;
    case 3:
    case 4:
        return be16(p) * 100;
    case 5:
    case 6:
        return be16(p) << 8 | p[2];
    default:
        return 0;
    }
}

size_t rc_binlog_fmt_datetime2(const uint8_t *p, unsigned fsp, char *out) {
    int64_t intpart = (int64_t)((uint64_t)be32(p) << 8 | p[4]) - 0x8000000000LL;
    uint32_t usec = read_frac(p + 5, fsp);
    if (usec > 999999) {
        usec = 999999;
    }
    uint64_t ymd = (uint64_t)intpart >> 17;
    /* The text of the last date written on this thread is kept: a stream's DATETIMEs cluster
     * (the rows of a day share it), and the date was half of a DATETIME2's cost. Only a date
     * the fast form below wrote is kept, so a match needs no range check. */
    static __thread uint64_t last_ymd = UINT64_MAX;
    static __thread char last_date[10];
    if (ymd != last_ymd) {
        uint64_t ym = ymd >> 5;
        if (intpart < 0 || ym / 13 >= 10000) { /* no server writes these; the general form */
            return rc_binlog_fmt_datetime_packed(intpart * (1 << 24) + usec, fsp, 'T', out);
        }
        /* every field at a fixed place, each below 100 (the hour has 5 bits, minute and
         * second 6): what rc_binlog_fmt_datetime_packed writes, without its width checks */
        uint32_t year = (uint32_t)(ym / 13);
        put_pair(last_date, year / 100);
        put_pair(last_date + 2, year % 100);
        last_date[4] = '-';
        put_pair(last_date + 5, (uint32_t)(ym % 13));
        last_date[7] = '-';
        put_pair(last_date + 8, (uint32_t)ymd & 31);
        last_ymd = ymd;
    }
    memcpy(out, last_date, 10);
    uint32_t hms = (uint32_t)intpart & 0x1ffff;
    out[10] = 'T';
    put_hms(out + 11, hms);
    size_t o = 19 + put_frac(out + 19, usec, fsp);
    out[o] = '\0';
    return o;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint64_t doe = (uint64_t)(z - era * 146097);
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* secs < 2^32 (TIMESTAMP is 4 bytes): years 1970-2106, always four digits. The text of the
 * last second and the date of the last day seen on this thread are kept: a stream's
 * timestamps cluster (the rows of one transaction often share their second, NOW()), and the
 * civil-date arithmetic was half of a TIMESTAMP's cost, the time of day most of the rest. */
static __thread uint64_t epoch_last_day = UINT64_MAX, epoch_last_sec = UINT64_MAX;
static __thread char epoch_last_ymd[11], epoch_last_text[20];

/* Sets epoch_last_text to the text of secs. Out of fmt_epoch's line: the registers it needs
 * were saved and restored on every value, the second's text kept or not. */
static __attribute__((noinline)) void epoch_text(uint64_t secs) {
    uint64_t day = secs / 86400;
    if (day != epoch_last_day) {
        int64_t y;
        unsigned m, d;
        civil_from_days((int64_t)day, &y, &m, &d);
        put_uint(epoch_last_ymd, (uint64_t)y, 4);
        epoch_last_ymd[4] = '-';
        put_uint(epoch_last_ymd + 5, m, 2);
        epoch_last_ymd[7] = '-';
        put_uint(epoch_last_ymd + 8, d, 2);
        epoch_last_day = day;
    }
    unsigned sod = (unsigned)(secs % 86400);
    memcpy(epoch_last_text, epoch_last_ymd, 10);
    epoch_last_text[10] = 'T';
    put_pair(epoch_last_text + 11, sod / 3600);
    epoch_last_text[13] = ':';
    put_pair(epoch_last_text + 14, sod / 60 % 60);
    epoch_last_text[16] = ':';
    put_pair(epoch_last_text + 17, sod % 60);
    epoch_last_sec = secs;
}

static inline size_t fmt_epoch(uint64_t secs, uint32_t usec, unsigned fsp, char *out) {
    if (secs == 0 && usec == 0) {
        /* 0 is MySQL's zero TIMESTAMP, not 1970-01-01 00:00:00 (which no TIMESTAMP can hold) */
        memcpy(out, "0000-00-00T00:00:00", 19);
    } else {
        if (secs != epoch_last_sec) {
            epoch_text(secs);
        }
        memcpy(out, epoch_last_text, 19);
    }
    size_t o = 19 + put_frac(out + 19, usec, fsp);
    out[o++] = 'Z';
    out[o] = '\0';
    return o;
}

size_t rc_binlog_fmt_timestamp2(const uint8_t *p, unsigned fsp, char *out) {
    uint32_t usec = read_frac(p + 4, fsp);
    if (usec > 999999) {
        usec = 999999;
    }
    return fmt_epoch(be32(p), usec, fsp, out);
}

size_t rc_binlog_fmt_old_timestamp(const uint8_t *p, char *out) {
    return fmt_epoch(rc_le32(p), 0, 0, out);
}

size_t rc_binlog_fmt_old_time(const uint8_t *p, char *out) {
    int32_t v = (int32_t)rc_le24(p);
    if (v & 0x800000) {
        v -= 0x1000000;
    }
    bool neg = v < 0;
    uint32_t u = neg ? (uint32_t)-v : (uint32_t)v;
    return fmt_hms(out, neg, u / 10000, u / 100 % 100, u % 100, 0, 0);
}

size_t rc_binlog_fmt_old_datetime(const uint8_t *p, char *out) {
    uint64_t v = rc_le64(p);
    uint64_t date = v / 1000000;
    unsigned time = (unsigned)(v % 1000000);
    size_t o = put_uint(out, date / 10000, 4);
    out[o++] = '-';
    o += put_uint(out + o, date / 100 % 100, 2);
    out[o++] = '-';
    o += put_uint(out + o, date % 100, 2);
    out[o++] = 'T';
    o += put_uint(out + o, time / 10000, 2);
    out[o++] = ':';
    o += put_uint(out + o, time / 100 % 100, 2);
    out[o++] = ':';
    o += put_uint(out + o, time % 100, 2);
    out[o] = '\0';
    return o;
}

static rc_err_t copy_out(const char *tmp, size_t n, char *out, size_t out_size) {
    if (out_size < n + 1) {
        return RC_ERR_NOMEM;
    }
    memcpy(out, tmp, n + 1);
    return RC_OK;
}

/* The three fractional temporal types share one shape: a fixed part plus fsp bytes. */
static rc_err_t temporal_text(size_t (*fmt)(const uint8_t *, unsigned, char *), size_t fixed,
                              const uint8_t *p, size_t len, unsigned fsp, char *out,
                              size_t out_size, size_t *consumed) {
    if (fsp > 6) {
        return RC_ERR_INVALID;
    }
    size_t size = fixed + frac_bytes(fsp);
    if (len < size) {
        return RC_ERR_TRUNCATED;
    }
    char tmp[RC_BINLOG_TEXT_MAX];
    size_t n = fmt(p, fsp, tmp);
    if (consumed) {
        *consumed = size;
    }
    return copy_out(tmp, n, out, out_size);
}

rc_err_t rc_binlog_time2_text(const uint8_t *p, size_t len, unsigned fsp, char *out,
                              size_t out_size, size_t *consumed) {
    return temporal_text(rc_binlog_fmt_time, 3, p, len, fsp, out, out_size, consumed);
}

rc_err_t rc_binlog_datetime2_text(const uint8_t *p, size_t len, unsigned fsp, char *out,
                                  size_t out_size, size_t *consumed) {
    return temporal_text(rc_binlog_fmt_datetime2, 5, p, len, fsp, out, out_size, consumed);
}

rc_err_t rc_binlog_timestamp2_text(const uint8_t *p, size_t len, unsigned fsp, char *out,
                                   size_t out_size, size_t *consumed) {
    return temporal_text(rc_binlog_fmt_timestamp2, 4, p, len, fsp, out, out_size, consumed);
}

rc_err_t rc_binlog_date_text(const uint8_t *p, size_t len, char *out, size_t out_size,
                             size_t *consumed) {
    if (len < 3) {
        return RC_ERR_TRUNCATED;
    }
    char tmp[RC_BINLOG_TEXT_MAX];
    size_t n = rc_binlog_fmt_date(rc_le24(p), tmp);
    if (consumed) {
        *consumed = 3;
    }
    return copy_out(tmp, n, out, out_size);
}

/* MySQL's latin1 is Windows-1252; its five holes map to the C1 controls. */
static const uint16_t cp1252_80[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

rc_err_t rc_binlog_latin1_to_utf8(const uint8_t *p, size_t len, rc_buf_t *out) {
    if (len == 0) {
        return RC_OK; /* out may still have no buffer at all */
    }
    if (rc_buf_reserve(out, len * 3) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    uint8_t *o = (uint8_t *)out->data + out->len;
    for (size_t i = 0; i < len; i++) {
        uint32_t c = p[i];
        if (c < 0x80) {
            *o++ = (uint8_t)c;
            continue;
        }
        if (c < 0xa0) {
            c = cp1252_80[c - 0x80];
        }
        if (c < 0x800) {
            *o++ = (uint8_t)(0xc0 | (c >> 6));
            *o++ = (uint8_t)(0x80 | (c & 0x3f));
        } else {
            *o++ = (uint8_t)(0xe0 | (c >> 12));
            *o++ = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
            *o++ = (uint8_t)(0x80 | (c & 0x3f));
        }
    }
    out->len = (size_t)(o - (uint8_t *)out->data);
    return RC_OK;
}

bool rc_binlog_utf8_valid(const uint8_t *p, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n) {
            return false;
        }
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n;
    }
    return true;
}
