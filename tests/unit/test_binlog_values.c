/* test_binlog_values.c: the value decoders (DECIMAL, TIME2, DATETIME2, TIMESTAMP2, DATE, JSON,
 * latin1) on byte vectors captured from real servers (tests/data/binlog/ORIGIN.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zlib.h>

#include "rc_binlog.h"
#include "rc_binlog_int.h"

#define DATA RC_TEST_DATA "/binlog/"

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (s[0] && s[1] && n < cap) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1) {
            break;
        }
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

/* Splits "a | b | c" in place; returns the number of fields. */
static int split_bar(char *line, char **f, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        char *bar = strstr(p, " | ");
        f[n++] = p;
        if (!bar) {
            break;
        }
        *bar = '\0';
        p = bar + 3;
    }
    for (int i = 0; i < n; i++) {
        f[i] = trim(f[i]);
    }
    return n;
}

typedef void (*vector_fn)(const char *section, char **f, int nf, int *count);

/* Calls fn for every data line of the go-mysql vectors file, with the section it is in. */
static void each_vector(vector_fn fn, int *count) {
    FILE *fp = fopen(DATA "go-mysql/vectors-from-go-mysql-tests.txt", "r");
    assert_non_null(fp);
    char line[4096], section[128] = "";
    while (fgets(line, sizeof(line), fp)) {
        if (line[0] == '[') {
            snprintf(section, sizeof(section), "%.100s", line);
            continue;
        }
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        char *f[8];
        int nf = split_bar(line, f, 8);
        fn(section, f, nf, count);
    }
    fclose(fp);
}

/* ---- DECIMAL ------------------------------------------------------------------------------ */

static void decimal_vector(const char *section, char **f, int nf, int *count) {
    uint8_t bytes[128];
    char out[RC_BINLOG_TEXT_MAX];
    size_t used = 0;
    unsigned p, s;
    if (strstr(section, "[DECIMAL  NEWDECIMAL")) {
        assert_int_equal(nf, 5);
        size_t n = unhex(f[0], bytes, sizeof(bytes));
        p = (unsigned)atoi(f[1]);
        s = (unsigned)atoi(f[2]);
        assert_int_equal(rc_binlog_decimal_text(bytes, n, p, s, out, sizeof(out), &used), RC_OK);
        if (strcmp(out, f[3]) != 0) {
            fail_msg("DECIMAL(%u,%u) %s: want %s, got %s", p, s, f[0], f[3], out);
        }
        assert_int_equal(used, (size_t)atoi(f[4]));
        (*count)++;
    } else if (strstr(section, "[DECIMAL  wide")) {
        assert_int_equal(nf, 3);
        size_t n = unhex(f[0], bytes, sizeof(bytes));
        assert_int_equal(sscanf(strchr(f[1], '('), "(p=%u,s=%u)", &p, &s), 2);
        assert_int_equal(rc_binlog_decimal_text(bytes, n, p, s, out, sizeof(out), &used), RC_OK);
        if (strcmp(out, f[2]) != 0) {
            fail_msg("DECIMAL(%u,%u) %s: want %s, got %s", p, s, f[0], f[2], out);
        }
        assert_int_equal(used, n);
        (*count)++;
    }
}

static void test_decode_decimal_vectors_from_go_mysql(void **state) {
    (void)state;
    int count = 0;
    each_vector(decimal_vector, &count);
    assert_int_equal(count, 187 + 12);
}

static void test_decode_decimal_negative_with_scale_keeps_trailing_zeros(void **state) {
    (void)state;
    /* DECIMAL(10,4) -1234.5600: intg 6 -> 3 bytes, frac 4 -> 2 bytes, negated */
    const uint8_t pos[] = {0x80, 0x04, 0xd2, 0x15, 0xe0};
    uint8_t neg[5];
    for (int i = 0; i < 5; i++) {
        neg[i] = pos[i] ^ 0xff;
    }
    char out[RC_BINLOG_TEXT_MAX];
    size_t used;
    assert_int_equal(rc_binlog_decimal_text(pos, 5, 10, 4, out, sizeof(out), &used), RC_OK);
    assert_string_equal(out, "1234.5600");
    assert_int_equal(rc_binlog_decimal_text(neg, 5, 10, 4, out, sizeof(out), &used), RC_OK);
    assert_string_equal(out, "-1234.5600");
    assert_int_equal(used, 5);
}

/* Each value, positive and negated (every byte inverted), through rc_binlog_decimal_text: the
 * sign bit sits in whichever group comes first (a short leading group, a full one, or the
 * fraction's when there are no integer digits), leading groups of 1 to 9 digits, and a negated
 * zero, which is written without its sign. */
static void test_decode_decimal_sign_leading_groups_and_negative_zero(void **state) {
    (void)state;
    static const struct {
        unsigned precision, scale;
        uint8_t bytes[16];
        size_t n;
        const char *text;
    } v[] = {
        {5, 2, {0x80, 0x00, 0x00}, 3, "0.00"},
        {4, 0, {0x84, 0xd2}, 2, "1234"},
        {18, 0, {0x80, 0x00, 0x00, 0x00, 0x07, 0x5b, 0xcd, 0x15}, 8, "123456789"},
        {18, 0, {0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8}, 8, "1000"},
        {18, 0, {0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05}, 8, "1000000005"},
        {30,
         10,
         {0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xa0, 0x05, 0xf5, 0xe1, 0x00, 0x07},
         14,
         "100000.1000000007"},
        {3, 3, {0x80 | 0x01, 0xc8}, 2, "0.456"},
        {9, 9, {0x80 | 0x07, 0x5b, 0xcd, 0x15}, 4, "0.123456789"},
        {30, 10, {0x80}, 14, "0.0000000000"},
    };
    char out[RC_BINLOG_TEXT_MAX], want[RC_BINLOG_TEXT_MAX + 1];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t used = 0;
        assert_int_equal(rc_binlog_decimal_text(v[i].bytes, v[i].n, v[i].precision, v[i].scale, out,
                                                sizeof(out), &used),
                         RC_OK);
        assert_string_equal(out, v[i].text);
        assert_int_equal(used, v[i].n);
        uint8_t neg[16];
        for (size_t k = 0; k < v[i].n; k++) {
            neg[k] = v[i].bytes[k] ^ 0xff;
        }
        assert_int_equal(
            rc_binlog_decimal_text(neg, v[i].n, v[i].precision, v[i].scale, out, sizeof(out), NULL),
            RC_OK);
        bool zero = strspn(v[i].text, "0.") == strlen(v[i].text);
        snprintf(want, sizeof(want), "%s%s", zero ? "" : "-", v[i].text);
        assert_string_equal(out, want);
    }
}

/* The first non-zero integer group is written without leading zeros: every length at and
 * around each power of ten, and pseudo-random values, in a lone 9-digit group and as the
 * second group after a zero one, match printf; so do the same values as whole 9-digit groups
 * (leading zeros kept) after a non-zero group and in the fraction. */
static void test_decode_decimal_first_group_digits_match_printf(void **state) {
    (void)state;
    uint32_t vals[64 + 4000];
    size_t nv = 0;
    for (uint32_t p10 = 1; p10 <= 100000000; p10 *= 10) {
        vals[nv++] = p10 - 1;
        vals[nv++] = p10;
        vals[nv++] = p10 + 1;
        vals[nv++] = p10 * 2 - 1;
    }
    vals[nv++] = 999999999;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    while (nv < sizeof(vals) / sizeof(vals[0])) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        vals[nv++] = (uint32_t)(x % 1000000000u) >> (x >> 60); /* every length */
    }
    char out[RC_BINLOG_TEXT_MAX], want[16];
    for (size_t i = 0; i < nv; i++) {
        uint32_t v = vals[i];
        snprintf(want, sizeof(want), "%u", v);
        uint8_t b[8] = {(uint8_t)(0x80 | v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                        (uint8_t)v};
        assert_int_equal(rc_binlog_decimal_text(b, 4, 9, 0, out, sizeof(out), NULL), RC_OK);
        assert_string_equal(out, want);
        uint8_t b2[8] = {
            0x80, 0, 0, 0, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        assert_int_equal(rc_binlog_decimal_text(b2, 8, 18, 0, out, sizeof(out), NULL), RC_OK);
        assert_string_equal(out, want);
        /* a whole 9-digit group (its first digit and two 4-digit table entries), after a
         * non-zero integer group and as the fraction's */
        char want9[32];
        uint8_t b3[8] = {
            0x80, 0, 0, 1, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        snprintf(want9, sizeof(want9), "1%09u", v);
        assert_int_equal(rc_binlog_decimal_text(b3, 8, 18, 0, out, sizeof(out), NULL), RC_OK);
        assert_string_equal(out, want9);
        snprintf(want9, sizeof(want9), "1.%09u", v);
        assert_int_equal(rc_binlog_decimal_text(b3, 8, 18, 9, out, sizeof(out), NULL), RC_OK);
        assert_string_equal(out, want9);
    }
}

static void test_decode_decimal_rejects_short_input_and_bad_digits(void **state) {
    (void)state;
    const uint8_t ok[] = {0x80, 0x04, 0xd2, 0x15, 0xe0};
    const uint8_t bad[] = {0x8f, 0x42, 0x40, 0x00, 0x00}; /* 6 leading digits hold 1000000 */
    char out[RC_BINLOG_TEXT_MAX];
    assert_int_equal(rc_binlog_decimal_text(ok, 4, 10, 4, out, sizeof(out), NULL),
                     RC_ERR_TRUNCATED);
    assert_int_equal(rc_binlog_decimal_text(bad, 5, 10, 4, out, sizeof(out), NULL), RC_ERR_INVALID);
    assert_int_equal(rc_binlog_decimal_text(ok, 5, 66, 4, out, sizeof(out), NULL), RC_ERR_INVALID);
    assert_int_equal(rc_binlog_decimal_text(ok, 5, 10, 4, out, 5, NULL), RC_ERR_NOMEM);
}

/* ---- temporal ----------------------------------------------------------------------------- */

static void temporal_vector(const char *section, char **f, int nf, int *count) {
    bool time2 = strstr(section, "[TIME2]") != NULL;
    bool dt2 = strstr(section, "[DATETIME2]") != NULL;
    if (!time2 && !dt2) {
        return;
    }
    assert_int_equal(nf, 3);
    uint8_t bytes[16];
    size_t n = unhex(f[0], bytes, sizeof(bytes)), used = 0;
    unsigned fsp = (unsigned)atoi(f[1]);
    char out[RC_BINLOG_TEXT_MAX], want[64];
    snprintf(want, sizeof(want), "%s", f[2]);
    if (dt2) {
        char *sp = strchr(want, ' ');
        assert_non_null(sp);
        *sp = 'T'; /* rowcast's DATETIME text is ISO 8601 */
        assert_int_equal(rc_binlog_datetime2_text(bytes, n, fsp, out, sizeof(out), &used), RC_OK);
    } else {
        assert_int_equal(rc_binlog_time2_text(bytes, n, fsp, out, sizeof(out), &used), RC_OK);
    }
    if (strcmp(out, want) != 0) {
        fail_msg("%s fsp %u %s: want %s, got %s", time2 ? "TIME2" : "DATETIME2", fsp, f[0], want,
                 out);
    }
    assert_int_equal(used, n);
    (*count)++;
}

static void test_decode_time2_and_datetime2_vectors_from_go_mysql(void **state) {
    (void)state;
    int count = 0;
    each_vector(temporal_vector, &count);
    assert_int_equal(count, 15 + 11);
}

static void test_decode_datetime2_fsp6(void **state) {
    (void)state;
    const uint8_t v[] = {0x80, 0x03, 0x82, 0x00, 0x00, 0x01, 0xe2, 0x40, 0xff};
    char out[RC_BINLOG_TEXT_MAX];
    size_t used;
    assert_int_equal(rc_binlog_datetime2_text(v, sizeof(v), 6, out, sizeof(out), &used), RC_OK);
    assert_string_equal(out, "0001-01-01T00:00:00.123456");
    assert_int_equal(used, 8);
    assert_int_equal(rc_binlog_datetime2_text(v, 7, 6, out, sizeof(out), &used), RC_ERR_TRUNCATED);
}

static void test_decode_time2_fsp3_and_fsp1(void **state) {
    (void)state;
    /* 12:34:56.789 = hms (12<<12 | 34<<6 | 56) + 0x800000, then 7890 (fsp 3 stores 1/10000 s) */
    uint32_t hms = (12u << 12) | (34u << 6) | 56u;
    uint32_t v = hms + 0x800000u;
    uint8_t b[5] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v, 7890 >> 8, 7890 & 0xff};
    char out[RC_BINLOG_TEXT_MAX];
    assert_int_equal(rc_binlog_time2_text(b, 5, 3, out, sizeof(out), NULL), RC_OK);
    assert_string_equal(out, "12:34:56.789");
    uint8_t c[4] = {b[0], b[1], b[2], 50}; /* fsp 1: 50/100 s */
    assert_int_equal(rc_binlog_time2_text(c, 4, 1, out, sizeof(out), NULL), RC_OK);
    assert_string_equal(out, "12:34:56.5");
}

static void test_decode_timestamp2_is_utc_with_fraction(void **state) {
    (void)state;
    const uint8_t a[] = {0x62, 0x60, 0x86, 0x9c};             /* 1650493084 */
    const uint8_t b[] = {0x65, 0xe0, 0x80, 0x0e, 0x13, 0x88}; /* 1709211662, .5000 (fsp 3) */
    const uint8_t zero[] = {0, 0, 0, 0};
    char out[RC_BINLOG_TEXT_MAX];
    size_t used;
    assert_int_equal(rc_binlog_timestamp2_text(a, 4, 0, out, sizeof(out), &used), RC_OK);
    assert_string_equal(out, "2022-04-20T22:18:04Z");
    assert_int_equal(used, 4);
    assert_int_equal(rc_binlog_timestamp2_text(b, 6, 3, out, sizeof(out), &used), RC_OK);
    assert_string_equal(out, "2024-02-29T13:01:02.500Z");
    assert_int_equal(used, 6);
    assert_int_equal(rc_binlog_timestamp2_text(zero, 4, 0, out, sizeof(out), NULL), RC_OK);
    assert_string_equal(out, "0000-00-00T00:00:00Z");
}

/* The decoder keeps the date of the last TIMESTAMP's day: each value must still get its own,
 * across day boundaries, back to an earlier day, and at the ends of the 4-byte range. */
/* DATETIME2 has a short path for the values servers write; every value, odd fields (hour 31,
 * minute 63), negative or past year 9999 included, must read as the general form writes it. */
static void test_decode_datetime2_short_path_matches_the_general_form(void **state) {
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char got[RC_BINLOG_TEXT_MAX], want[RC_BINLOG_TEXT_MAX];
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint8_t b[8];
        for (int k = 0; k < 8; k++) {
            b[k] = (uint8_t)(x >> (8 * k));
        }
        if (i % 4 != 0) {
            b[0] = (uint8_t)(0x80 | (b[0] & 0x1f)); /* mostly years below 10000 */
        }
        unsigned fsp = (unsigned)(i % 7);
        size_t n = rc_binlog_fmt_datetime2(b, fsp, got);
        int64_t intpart = (int64_t)((uint64_t)b[0] << 32 | (uint64_t)b[1] << 24 |
                                    (uint64_t)b[2] << 16 | (uint64_t)b[3] << 8 | b[4]) -
                          0x8000000000LL;
        uint32_t usec = fsp == 0   ? 0
                        : fsp <= 2 ? b[5] * 10000u
                        : fsp <= 4 ? (uint32_t)(b[5] << 8 | b[6]) * 100u
                                   : (uint32_t)(b[5] << 16 | b[6] << 8 | b[7]);
        if (usec > 999999) {
            usec = 999999;
        }
        size_t m = rc_binlog_fmt_datetime_packed(intpart * (1 << 24) + usec, fsp, 'T', want);
        assert_string_equal(got, want);
        assert_int_equal(n, m);
    }
}

/* DATETIME2 keeps the text of the last date written: each value must still get its own date
 * and time, through runs of one day, across day, month and year boundaries (zero months and
 * days, year 0 and 9999 included), back to the previous date, for every fsp, and with values
 * of the general form (negative, past year 9999) in between, which must not be taken for it. */
static void datetime2_bytes(uint64_t intpart_u, uint32_t frac, unsigned fsp, uint8_t b[8]) {
    uint64_t stored = intpart_u + 0x8000000000ULL;
    for (int k = 0; k < 5; k++) {
        b[k] = (uint8_t)(stored >> (8 * (4 - k)));
    }
    unsigned fb = (fsp + 1) / 2;
    for (unsigned k = 0; k < 3; k++) {
        b[5 + k] = k < fb ? (uint8_t)(frac >> (8 * (fb - 1 - k))) : 0;
    }
}

static void check_datetime2(const uint8_t b[8], unsigned fsp) {
    char got[RC_BINLOG_TEXT_MAX], want[RC_BINLOG_TEXT_MAX];
    size_t n = rc_binlog_fmt_datetime2(b, fsp, got);
    int64_t intpart = (int64_t)((uint64_t)b[0] << 32 | (uint64_t)b[1] << 24 | (uint64_t)b[2] << 16 |
                                (uint64_t)b[3] << 8 | b[4]) -
                      0x8000000000LL;
    uint32_t usec = fsp == 0   ? 0
                    : fsp <= 2 ? b[5] * 10000u
                    : fsp <= 4 ? (uint32_t)(b[5] << 8 | b[6]) * 100u
                               : (uint32_t)(b[5] << 16 | b[6] << 8 | b[7]);
    if (usec > 999999) {
        usec = 999999;
    }
    size_t m = rc_binlog_fmt_datetime_packed(intpart * (1 << 24) + usec, fsp, 'T', want);
    assert_string_equal(got, want);
    assert_int_equal(n, m);
}

static void test_decode_datetime2_date_cache_across_boundaries(void **state) {
    (void)state;
    static const unsigned years[] = {0, 1, 999, 1969, 1970, 1999, 2000, 2023, 2024, 9998, 9999};
    uint64_t x = 0x8badf00ddeadbeefULL, prev_ymd = 0;
    unsigned count = 0;
    for (size_t yi = 0; yi < sizeof(years) / sizeof(years[0]); yi++) {
        for (unsigned mo = 0; mo <= 12; mo++) {
            for (unsigned d = 0; d <= 31; d++) {
                uint64_t ymd = ((uint64_t)years[yi] * 13 + mo) << 5 | d;
                for (int r = 0; r < 4; r++, count++) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    unsigned fsp = count % 7;
                    uint64_t hms = (x >> 8) % 24 << 12 | (x >> 16) % 60 << 6 | (x >> 24) % 60;
                    if (r == 3) {
                        hms = (x >> 8) & 0x1ffff; /* any field value, hour 31 and minute 63 too */
                    }
                    uint8_t b[8];
                    datetime2_bytes(ymd << 17 | hms, (uint32_t)(x >> 32), fsp, b);
                    check_datetime2(b, fsp);
                    if (r == 1) { /* the previous date, then this one again */
                        datetime2_bytes(prev_ymd << 17 | hms, (uint32_t)(x >> 40), fsp, b);
                        check_datetime2(b, fsp);
                    } else if (r == 2) { /* the general form in between: negative, year 10000+ */
                        datetime2_bytes((uint64_t)0 - (ymd << 17 | hms) - 1, 0, fsp, b);
                        check_datetime2(b, fsp);
                        datetime2_bytes((((uint64_t)10000 + years[yi] % 82) * 13 + mo) << 22 |
                                            (uint64_t)d << 17 | hms,
                                        0, fsp, b);
                        check_datetime2(b, fsp);
                    }
                }
                prev_ymd = ymd;
            }
        }
    }
}

/* TIME2 has a short path too (non-negative, hour below 100, fraction in range); every value,
 * negative, hour up to 1023, minute and second up to 63 and out-of-range fractions included,
 * must read as the general form (MySQL's packed TIME) writes it. */
static void test_decode_time2_short_path_matches_the_general_form(void **state) {
    (void)state;
    uint64_t x = 0x2545f4914f6cdd1dULL;
    char got[RC_BINLOG_TEXT_MAX], want[RC_BINLOG_TEXT_MAX];
    for (int i = 0; i < 40000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint8_t b[6];
        for (int k = 0; k < 6; k++) {
            b[k] = (uint8_t)(x >> (8 * k));
        }
        if (i % 4 != 0) {
            b[0] = (uint8_t)(0x80 | (b[0] & 0x07)); /* mostly hours below 128 */
        }
        if (i % 3 == 0) { /* fractions in range, and out of range */
            b[3] %= 100;
            b[4] = (uint8_t)(b[4] % 0x27);
            if (i % 2 == 0) {
                b[3] = (uint8_t)(b[3] % 0x0f);
            }
        }
        unsigned fsp = (unsigned)(i % 7);
        size_t n = rc_binlog_fmt_time(b, fsp, got);
        int64_t intpart = (int64_t)((uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2]) - 0x800000;
        int64_t frac, packed;
        if (fsp == 0) {
            packed = intpart * (1 << 24);
        } else if (fsp <= 2) {
            frac = b[3];
            if (intpart < 0 && frac != 0) {
                intpart++;
                frac -= 0x100;
            }
            packed = intpart * (1 << 24) + frac * 10000;
        } else if (fsp <= 4) {
            frac = (int64_t)(b[3] << 8 | b[4]);
            if (intpart < 0 && frac != 0) {
                intpart++;
                frac -= 0x10000;
            }
            packed = intpart * (1 << 24) + frac * 100;
        } else {
            packed = (int64_t)((uint64_t)b[0] << 40 | (uint64_t)b[1] << 32 | (uint64_t)b[2] << 24 |
                               (uint64_t)b[3] << 16 | (uint64_t)b[4] << 8 | b[5]) -
                     0x800000000000LL;
        }
        size_t m = rc_binlog_fmt_time_packed(packed, fsp, want);
        assert_string_equal(got, want);
        assert_int_equal(n, m);
    }
}

/* The fraction of every temporal, against printf: fsp digits of usec / 10^(6 - fsp), for
 * every fsp and for usec below 10^6 (the inline six-digit form) and above (the packed forms'
 * 24 bits, which a malformed value gives: written in full, as before). */
static void test_decode_time_fraction_digits_match_printf(void **state) {
    (void)state;
    static const uint32_t div[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char got[RC_BINLOG_TEXT_MAX], want[RC_BINLOG_TEXT_MAX];
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned fsp = (unsigned)(i % 7), h = (unsigned)(x >> 40) % 100;
        unsigned m = (unsigned)(x >> 32) % 60, sec = (unsigned)(x >> 48) % 60;
        uint32_t usec = (uint32_t)x % (i % 5 == 0 ? (1u << 24) : 1000000u);
        if (i % 11 == 0) {
            usec = (uint32_t)(i % 3 == 0 ? 999999 : i % 3 == 1 ? 0 : 1000000);
        }
        int64_t packed = (int64_t)((uint64_t)(h << 12 | m << 6 | sec) << 24 | usec);
        size_t n = rc_binlog_fmt_time_packed(packed, fsp, got);
        int w = fsp == 0 ? snprintf(want, sizeof(want), "%02u:%02u:%02u", h, m, sec)
                         : snprintf(want, sizeof(want), "%02u:%02u:%02u.%0*u", h, m, sec, (int)fsp,
                                    usec / div[fsp]);
        assert_string_equal(got, want);
        assert_int_equal(n, (size_t)w);
    }
}

static void test_decode_timestamp2_days_in_any_order(void **state) {
    (void)state;
    static const struct {
        uint32_t secs;
        const char *text;
    } v[] = {
        {86399, "1970-01-01T23:59:59Z"},       {86400, "1970-01-02T00:00:00Z"},
        {1, "1970-01-01T00:00:01Z"},           {1709211662, "2024-02-29T13:01:02Z"},
        {1709251199, "2024-02-29T23:59:59Z"},  {1709251200, "2024-03-01T00:00:00Z"},
        {4294967295u, "2106-02-07T06:28:15Z"}, {86400, "1970-01-02T00:00:00Z"},
    };
    char out[RC_BINLOG_TEXT_MAX];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const uint8_t b[4] = {(uint8_t)(v[i].secs >> 24), (uint8_t)(v[i].secs >> 16),
                              (uint8_t)(v[i].secs >> 8), (uint8_t)v[i].secs};
        assert_int_equal(rc_binlog_timestamp2_text(b, 4, 0, out, sizeof(out), NULL), RC_OK);
        assert_string_equal(out, v[i].text);
    }
}

/* The decoder keeps the text of the last TIMESTAMP's second as well: runs of one second (with
 * other fractions and fsp between them), the next second, seconds of other days and back, in
 * a random order over the whole 4-byte range, each as gmtime_r and strftime write it. */
static void test_decode_timestamp2_seconds_in_runs_and_any_order(void **state) {
    (void)state;
    uint32_t x = 1234567u, secs = 1700000000u;
    char out[RC_BINLOG_TEXT_MAX], want[64];
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        switch (x % 5) {
        case 0: /* the same second again */
            break;
        case 1:
            secs++;
            break;
        case 2:
            secs += 86400;
            break;
        case 3:
            secs -= x % 100000;
            break;
        default:
            secs = x; /* anywhere in the range */
            break;
        }
        if (secs == 0) {
            secs = 1; /* 0 is the zero TIMESTAMP */
        }
        unsigned fsp = (x >> 8) % 7, frac = (x >> 12) % 1000000;
        uint8_t b[7] = {(uint8_t)(secs >> 24), (uint8_t)(secs >> 16), (uint8_t)(secs >> 8),
                        (uint8_t)secs};
        /* fsp digits of frac, stored in (fsp + 1) / 2 big-endian bytes as MySQL does */
        static const uint32_t div[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
        uint32_t digits = fsp ? frac / div[fsp] : 0;
        uint32_t stored = fsp % 2 ? digits * 10 : digits;
        unsigned nb = (fsp + 1) / 2;
        for (unsigned k = 0; k < nb; k++) {
            b[4 + k] = (uint8_t)(stored >> (8 * (nb - 1 - k)));
        }
        time_t t = (time_t)secs;
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        size_t w = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        if (fsp) {
            w += (size_t)snprintf(want + w, sizeof(want) - w, ".%0*u", (int)fsp, digits);
        }
        snprintf(want + w, sizeof(want) - w, "Z");
        assert_int_equal(rc_binlog_timestamp2_text(b, 4 + nb, fsp, out, sizeof(out), NULL), RC_OK);
        if (strcmp(out, want) != 0) {
            fail_msg("%u fsp %u: want %s, got %s", secs, fsp, want, out);
        }
    }
}

static void test_decode_date_and_zero_date(void **state) {
    (void)state;
    uint32_t v = (2024u << 9) | (2u << 5) | 29u;
    const uint8_t d[] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16)};
    const uint8_t z[] = {0, 0, 0};
    char out[RC_BINLOG_TEXT_MAX];
    assert_int_equal(rc_binlog_date_text(d, 3, out, sizeof(out), NULL), RC_OK);
    assert_string_equal(out, "2024-02-29");
    assert_int_equal(rc_binlog_date_text(z, 3, out, sizeof(out), NULL), RC_OK);
    assert_string_equal(out, "0000-00-00");
    assert_int_equal(rc_binlog_date_text(z, 2, out, sizeof(out), NULL), RC_ERR_TRUNCATED);
}

/* ---- JSON --------------------------------------------------------------------------------- */

static void test_json_vectors_render_as_mysql_prints_them(void **state) {
    (void)state;
    FILE *fp = fopen(DATA "json-binary/vectors.tsv", "r");
    assert_non_null(fp);
    static char line[1 << 16];
    static uint8_t bytes[1 << 15];
    rc_buf_t out = RC_BUF_INIT;
    int ok = 0, strict = 0, lines = 0;
    assert_non_null(fgets(line, sizeof(line), fp)); /* header */
    while (fgets(line, sizeof(line), fp)) {
        char *rest = line;
        char *name = strsep(&rest, "\t");
        char *hex = strsep(&rest, "\t");
        char *want = strsep(&rest, "\t");
        assert_non_null(want);
        lines++;
        size_t n = unhex(hex, bytes, sizeof(bytes));
        char err[256] = "";
        rc_buf_reset(&out);
        rc_err_t e = rc_binlog_json_text(bytes, n, &out, err, sizeof(err));
        if (strstr(name, "array [\"here\"]")) {
            /* declares 37 bytes with 13 present: rejected, as MySQL's own parser does */
            assert_int_equal(e, RC_ERR_INVALID);
            strict++;
            continue;
        }
        /* rust_mysql_common writes opaque DECIMAL as a JSON string; MySQL prints a number */
        if (strstr(name, "json-opaque.binlog/event18")) {
            want = (char *)"{\"d\":123.456}";
        } else if (strstr(name, "json-opaque.binlog/event20")) {
            want = (char *)"{\"e\":9.00}";
        }
        if (e != RC_OK) {
            fail_msg("%s: %s", name, err);
        }
        if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0) {
            fail_msg("%s: want %s, got %.*s", name, want, (int)out.len, out.data);
        }
        ok++;
    }
    fclose(fp);
    rc_buf_free(&out);
    assert_int_equal(lines, 196);
    assert_int_equal(ok, 195);
    assert_int_equal(strict, 1);
}

static void test_json_invalid_inputs_fail_without_output(void **state) {
    (void)state;
    FILE *fp = fopen(DATA "json-binary/invalid.tsv", "r");
    assert_non_null(fp);
    char line[4096];
    uint8_t bytes[1024];
    rc_buf_t out = RC_BUF_INIT;
    int n_bad = 0;
    assert_non_null(fgets(line, sizeof(line), fp));
    while (fgets(line, sizeof(line), fp)) {
        char *rest = line;
        char *name = strsep(&rest, "\t");
        char *hex = strsep(&rest, "\t");
        assert_non_null(hex);
        size_t n = unhex(hex, bytes, sizeof(bytes));
        char err[256] = "";
        rc_buf_reset(&out);
        rc_buf_puts(&out, "x");
        if (rc_binlog_json_text(bytes, n, &out, err, sizeof(err)) != RC_ERR_INVALID) {
            fail_msg("%s was accepted", name);
        }
        assert_int_equal(out.len, 1); /* nothing appended */
        assert_non_null(strstr(err, "invalid binary JSON"));
        n_bad++;
    }
    fclose(fp);
    rc_buf_free(&out);
    assert_int_equal(n_bad, 5);
}

static void test_json_deep_nesting_is_rejected(void **state) {
    (void)state;
    /* 200 nested one-element small arrays: 02 01 00 size 00 02 off 00 ... innermost literal */
    enum { DEPTH = 200 };
    static uint8_t v[1 + DEPTH * 7];
    size_t o = 0;
    v[o++] = 0x02;
    for (int i = 0; i < DEPTH; i++) {
        size_t size = (size_t)(DEPTH - i) * 7;
        v[o++] = 1;
        v[o++] = 0;
        v[o++] = (uint8_t)size;
        v[o++] = (uint8_t)(size >> 8);
        v[o++] = i == DEPTH - 1 ? 0x04 : 0x02;
        v[o++] = i == DEPTH - 1 ? 1 : 7;
        v[o++] = 0;
    }
    rc_buf_t out = RC_BUF_INIT;
    char err[256];
    assert_int_equal(rc_binlog_json_text(v, o, &out, err, sizeof(err)), RC_ERR_INVALID);
    assert_non_null(strstr(err, "nesting"));
    rc_buf_free(&out);
}

/* ---- charsets ----------------------------------------------------------------------------- */

static void test_latin1_is_converted_as_cp1252(void **state) {
    (void)state;
    const uint8_t in[] = {'c', 'a', 'f', 0xe9, ' ', 0x80, ' ', 0x81, ' ', 0xff};
    rc_buf_t out = RC_BUF_INIT;
    assert_int_equal(rc_binlog_latin1_to_utf8(in, sizeof(in), &out), RC_OK);
    const char want[] = "caf\xc3\xa9 \xe2\x82\xac \xc2\x81 \xc3\xbf";
    assert_int_equal(out.len, sizeof(want) - 1);
    assert_memory_equal(out.data, want, out.len);
    rc_buf_free(&out);
}

static void test_utf8_validation(void **state) {
    (void)state;
    assert_true(rc_binlog_utf8_valid((const uint8_t *)"h\xc3\xa9llo \xf0\x9f\x98\x80", 11));
    assert_false(rc_binlog_utf8_valid((const uint8_t *)"\xc3", 1));         /* cut */
    assert_false(rc_binlog_utf8_valid((const uint8_t *)"\xc0\xaf", 2));     /* overlong */
    assert_false(rc_binlog_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
    assert_false(rc_binlog_utf8_valid((const uint8_t *)"\x05\xff", 2));
}

/* MySQL's binary DECIMAL of sign and digits (intg integer digits, then scale fraction digits,
 * as ASCII) into out; returns its size. Written here from the format's description, apart
 * from the decoder: a leading integer group of intg % 9 digits, 9-digit groups in 4 bytes
 * big-endian, a trailing fraction group of scale % 9 digits; negative: every byte inverted;
 * then the first byte's top bit flipped. */
static size_t dec_encode(bool neg, const char *digits, unsigned intg, unsigned scale,
                         uint8_t *out) {
    static const unsigned bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    size_t n = 0;
    const char *d = digits;
    unsigned groups[16], widths[16], ng = 0;
    if (intg % 9) {
        widths[ng++] = intg % 9;
    }
    for (unsigned i = 0; i < intg / 9; i++) {
        widths[ng++] = 9;
    }
    for (unsigned i = 0; i < scale / 9; i++) {
        widths[ng++] = 9;
    }
    if (scale % 9) {
        widths[ng++] = scale % 9;
    }
    for (unsigned g = 0; g < ng; g++) {
        groups[g] = 0;
        for (unsigned i = 0; i < widths[g]; i++) {
            groups[g] = groups[g] * 10 + (unsigned)(*d++ - '0');
        }
        unsigned nb = widths[g] == 9 ? 4 : bytes[widths[g]];
        for (unsigned i = nb; i > 0; i--) {
            out[n++] = (uint8_t)(groups[g] >> (8 * (i - 1)));
        }
    }
    for (size_t i = 0; neg && i < n; i++) {
        out[i] = (uint8_t)~out[i];
    }
    out[0] ^= 0x80;
    return n;
}

/* A DECIMAL's leading and trailing groups are read by their digit count: for every
 * DECIMAL(precision, scale), a leading or trailing group of d digits holding 10^d (room for it
 * in its bytes) is malformed, and 10^d - 1 is read as its nines, both signs. */
static void test_decimal_partial_group_limits_for_every_precision(void **state) {
    (void)state;
    static const uint32_t pow10[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};
    static const unsigned bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    int checked = 0;
    for (unsigned prec = 1; prec <= 65; prec++) {
        for (unsigned scale = 0; scale <= prec; scale++) {
            unsigned intg = prec - scale, ld = intg % 9, td = scale % 9;
            size_t size = rc_binlog_decimal_size(prec, scale);
            for (int which = 0; which < 2; which++) {
                unsigned d = which == 0 ? ld : td;
                if (d == 0) {
                    continue;
                }
                size_t at = which == 0 ? 0 : size - bytes[d];
                for (int neg = 0; neg < 2; neg++) {
                    for (int over = 0; over < 2; over++) {
                        uint8_t b[40] = {0};
                        uint32_t g = over ? pow10[d] : pow10[d] - 1;
                        for (unsigned i = 0; i < bytes[d]; i++) {
                            b[at + i] = (uint8_t)(g >> (8 * (bytes[d] - 1 - i)));
                        }
                        for (size_t i = 0; neg && i < size; i++) {
                            b[i] = (uint8_t)~b[i];
                        }
                        b[0] ^= 0x80;
                        char out[90], want[90];
                        size_t n = rc_binlog_fmt_decimal(b, prec, scale, out);
                        if (over) {
                            assert_int_equal(n, 0);
                            continue;
                        }
                        /* the nines where the group is, zeros elsewhere */
                        size_t w = 0;
                        if (neg) {
                            want[w++] = '-';
                        }
                        if (which == 0) {
                            memset(want + w, '9', d);
                            w += d;
                            memset(want + w, '0', intg - d);
                            w += intg - d;
                        } else {
                            want[w++] = '0';
                        }
                        if (scale) {
                            want[w++] = '.';
                            memset(want + w, '0', scale);
                            if (which == 1) {
                                memset(want + w + scale - d, '9', d);
                            }
                            w += scale;
                        }
                        want[w] = '\0';
                        assert_string_equal(out, want);
                        assert_int_equal(n, w);
                        checked++;
                    }
                }
            }
        }
    }
    assert_true(checked > 1000);
}

/* Every DECIMAL(precision, scale): the per-column layout (rc_binlog_decimal_layout) the row
 * loop formats with covers the value's bytes, and values of random digits (runs of zeros and
 * nines too, both signs) read back as the text they were written from, through the layout and
 * through rc_binlog_fmt_decimal alike. */
static void test_decimal_layout_matches_the_general_form_for_every_precision(void **state) {
    (void)state;
    uint32_t x = 88172645u;
    int checked = 0;
    for (unsigned prec = 1; prec <= 65; prec++) {
        for (unsigned scale = 0; scale <= prec; scale++) {
            rc_dec_layout_t l;
            rc_binlog_decimal_layout(prec, scale, &l);
            size_t size = rc_binlog_decimal_size(prec, scale);
            assert_int_equal(l.lead_bytes + 4u * l.intg_groups + 4u * l.frac_groups + l.tail_bytes,
                             size);
            for (int k = 0; k < 12; k++) {
                char digits[80], want[90];
                for (unsigned i = 0; i < prec; i++) {
                    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                    unsigned r = x % 10;
                    digits[i] = (char)('0' + (k % 4 == 0                   ? 0
                                              : k % 4 == 1                 ? 9
                                              : k % 4 == 2 && i < prec / 2 ? 0
                                                                           : r));
                }
                bool neg = k & 1 ? (x >> 7) & 1 : (x >> 9) & 1;
                unsigned intg = prec - scale, first = 0;
                while (first < intg && digits[first] == '0') {
                    first++;
                }
                bool zero = true;
                for (unsigned i = 0; i < prec; i++) {
                    zero = zero && digits[i] == '0';
                }
                size_t w = 0;
                if (neg && !zero) {
                    want[w++] = '-';
                }
                if (first == intg) {
                    want[w++] = '0';
                } else {
                    memcpy(want + w, digits + first, intg - first);
                    w += intg - first;
                }
                if (scale) {
                    want[w++] = '.';
                    memcpy(want + w, digits + intg, scale);
                    w += scale;
                }
                want[w] = '\0';
                uint8_t bin[40];
                assert_int_equal(dec_encode(neg, digits, intg, scale, bin), size);
                char got[RC_BINLOG_TEXT_MAX], got2[RC_BINLOG_TEXT_MAX];
                size_t n = rc_binlog_fmt_decimal_l(bin, &l, got);
                if (n != w || strcmp(got, want) != 0) {
                    fail_msg("DECIMAL(%u,%u): want %s, got %s", prec, scale, want, got);
                }
                assert_int_equal(rc_binlog_fmt_decimal(bin, prec, scale, got2), n);
                assert_string_equal(got2, want);
                checked++;
            }
        }
    }
    assert_int_equal(checked, 12 * (65 * 66 / 2 + 65));
}

/* The CRC32 with carry-less multiplication agrees with zlib's on every length (the folded bulk
 * and the tail), alignment and chaining, and on the check value of the CRC catalogue, on each
 * path the CPU has (zlib alone, PCLMULQDQ with SSE, with the AVX encoding, VPCLMULQDQ on 256 and
 * on 512 bits). */
static void crc32_matches_zlib(int path) {
    assert_int_equal(rc_binlog_crc32((const uint8_t *)"123456789", 9), 0xcbf43926);
    enum { N = 70000 };
    uint8_t *buf = malloc(N + 16);
    assert_non_null(buf);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < N + 16; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
    for (size_t len = 0; len <= 1200; len++) {
        for (size_t off = 0; off < 16; off += 5) {
            uint32_t want = (uint32_t)crc32(0, buf + off, (uInt)len);
            if (rc_binlog_crc32(buf + off, len) != want) {
                fail_msg("path %d: length %zu at offset %zu", path, len, off);
            }
        }
    }
    assert_int_equal(rc_binlog_crc32(buf, N), (uint32_t)crc32(0, buf, N));
    memset(buf, 0xff, 4096);
    assert_int_equal(rc_binlog_crc32(buf, 4096), (uint32_t)crc32(0, buf, 4096));
    memset(buf, 0, 4096);
    assert_int_equal(rc_binlog_crc32(buf, 4096), (uint32_t)crc32(0, buf, 4096));
    /* continued, across the bulk/tail boundary */
    uint32_t c = rc_binlog_crc32(buf, 100);
    assert_int_equal(rc_binlog_crc32_update(c, buf + 100, 1000), rc_binlog_crc32(buf, 1100));
    free(buf);
}

static void test_crc32_matches_zlib(void **state) {
    (void)state;
    int best = rc_binlog_crc_path(RC_CRC_PATH_VPCLMUL512);
    for (int path = RC_CRC_PATH_ZLIB; path <= best; path++) {
        assert_int_equal(rc_binlog_crc_path(path), path);
        crc32_matches_zlib(path);
    }
    assert_int_equal(rc_binlog_crc_path(RC_CRC_PATH_VPCLMUL512), best);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_decimal_vectors_from_go_mysql),
        cmocka_unit_test(test_decode_decimal_negative_with_scale_keeps_trailing_zeros),
        cmocka_unit_test(test_decode_decimal_first_group_digits_match_printf),
        cmocka_unit_test(test_decode_decimal_rejects_short_input_and_bad_digits),
        cmocka_unit_test(test_decode_decimal_sign_leading_groups_and_negative_zero),
        cmocka_unit_test(test_decode_time2_and_datetime2_vectors_from_go_mysql),
        cmocka_unit_test(test_decode_datetime2_fsp6),
        cmocka_unit_test(test_decode_time2_fsp3_and_fsp1),
        cmocka_unit_test(test_decode_timestamp2_is_utc_with_fraction),
        cmocka_unit_test(test_decode_timestamp2_days_in_any_order),
        cmocka_unit_test(test_decode_timestamp2_seconds_in_runs_and_any_order),
        cmocka_unit_test(test_decode_datetime2_short_path_matches_the_general_form),
        cmocka_unit_test(test_decode_datetime2_date_cache_across_boundaries),
        cmocka_unit_test(test_decode_time2_short_path_matches_the_general_form),
        cmocka_unit_test(test_decode_time_fraction_digits_match_printf),
        cmocka_unit_test(test_decode_date_and_zero_date),
        cmocka_unit_test(test_json_vectors_render_as_mysql_prints_them),
        cmocka_unit_test(test_json_invalid_inputs_fail_without_output),
        cmocka_unit_test(test_json_deep_nesting_is_rejected),
        cmocka_unit_test(test_latin1_is_converted_as_cp1252),
        cmocka_unit_test(test_utf8_validation),
        cmocka_unit_test(test_crc32_matches_zlib),
        cmocka_unit_test(test_decimal_layout_matches_the_general_form_for_every_precision),
        cmocka_unit_test(test_decimal_partial_group_limits_for_every_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
