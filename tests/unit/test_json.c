/* test_json.c: unit tests of the msgpack -> JSON writer (server/encode/rc_json.c).
 *
 * Inputs are built with msgpack-c's packer (or written byte by byte where the packer would pick
 * another encoding); outputs are compared with exact expected text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_event.h"
#include "rc_json.h"

/* ---- helpers ------------------------------------------------------------------------------ */

typedef struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_t;

static void mp_init(mp_t *m) {
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_raw(mp_t *m, const void *p, size_t n) {
    msgpack_sbuffer_write(&m->sb, p, n);
}

static void mp_str(mp_t *m, const char *s) {
    msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

/* Writes data[0..n) and checks that it is one whole object whose JSON is exactly expected. */
static void check_bytes(const void *data, size_t n, const char *expected) {
    rc_buf_t out = RC_BUF_INIT;
    size_t used = 0;
    assert_int_equal(rc_json_write(&out, data, n, &used), RC_OK);
    assert_int_equal(used, n);
    assert_int_equal(rc_buf_putc(&out, '\0'), RC_OK);
    assert_string_equal(out.data, expected);
    assert_int_equal(out.len - 1, strlen(expected));
    rc_buf_free(&out);
}

#define CHECK_RAW(lit, expected) check_bytes(lit, sizeof(lit) - 1, expected)

/* Checks the packed document and frees it. */
static void check_mp(mp_t *m, const char *expected) {
    check_bytes(m->sb.data, m->sb.size, expected);
    msgpack_sbuffer_destroy(&m->sb);
}

static rc_err_t write_raw(const void *data, size_t n) {
    rc_buf_t out = RC_BUF_INIT;
    rc_err_t err = rc_json_write(&out, data, n, NULL);
    rc_buf_free(&out);
    return err;
}

/* Escapes s[0..n) both through rc_json_write_string and as a msgpack str. */
static void check_esc(const char *s, size_t n, const char *expected) {
    rc_buf_t out = RC_BUF_INIT;
    assert_int_equal(rc_json_write_string(&out, s, n), RC_OK);
    assert_int_equal(rc_buf_putc(&out, '\0'), RC_OK);
    assert_string_equal(out.data, expected);
    rc_buf_free(&out);

    mp_t m;
    mp_init(&m);
    msgpack_pack_str_with_body(&m.pk, s, n);
    check_mp(&m, expected);
}

#define CHECK_ESC(lit, expected) check_esc(lit, sizeof(lit) - 1, expected)

static uint64_t rng_next(uint64_t *s) {
    /* xorshift64*: deterministic, so failures reproduce */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* ---- a small strict JSON validator (RFC 8259 + well-formed UTF-8, no raw U+2028/9) ---------- */

typedef struct jv {
    const unsigned char *p, *end;
} jv_t;

static bool jv_value(jv_t *v, int depth);

static bool jv_lit(jv_t *v, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(v->end - v->p) < n || memcmp(v->p, lit, n) != 0) {
        return false;
    }
    v->p += n;
    return true;
}

static bool jv_digits(jv_t *v) {
    const unsigned char *s = v->p;
    while (v->p < v->end && *v->p >= '0' && *v->p <= '9') {
        v->p++;
    }
    return v->p > s;
}

static bool jv_number(jv_t *v) {
    if (v->p < v->end && *v->p == '-') {
        v->p++;
    }
    if (v->p < v->end && *v->p == '0') {
        v->p++;
    } else if (!jv_digits(v)) {
        return false;
    }
    if (v->p < v->end && *v->p == '.') {
        v->p++;
        if (!jv_digits(v)) {
            return false;
        }
    }
    if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
        v->p++;
        if (v->p < v->end && (*v->p == '+' || *v->p == '-')) {
            v->p++;
        }
        if (!jv_digits(v)) {
            return false;
        }
    }
    return true;
}

static bool jv_string(jv_t *v) {
    if (!jv_lit(v, "\"")) {
        return false;
    }
    while (v->p < v->end) {
        unsigned c = *v->p++;
        if (c == '"') {
            return true;
        }
        if (c < 0x20) {
            return false;
        }
        if (c == '\\') {
            if (v->p >= v->end) {
                return false;
            }
            c = *v->p++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++) {
                    if (v->p >= v->end || !strchr("0123456789abcdefABCDEF", *v->p) || !*v->p) {
                        return false;
                    }
                    v->p++;
                }
            } else if (!strchr("\"\\/bfnrt", (int)c) || c == 0) {
                return false;
            }
            continue;
        }
        if (c < 0x80) {
            continue;
        }
        /* decode and range-check the code point */
        int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
        if (more < 0 || c > 0xf4) {
            return false;
        }
        uint32_t cp = c & (0x3f >> more);
        for (int i = 0; i < more; i++) {
            if (v->p >= v->end || (*v->p & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (*v->p++ & 0x3f);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0x2028 ||
            cp == 0x2029) {
            return false;
        }
    }
    return false;
}

static bool jv_value(jv_t *v, int depth) {
    if (v->p >= v->end || depth > 100) {
        return false;
    }
    switch (*v->p) {
    case '{':
        v->p++;
        if (jv_lit(v, "}")) {
            return true;
        }
        do {
            if (!jv_string(v) || !jv_lit(v, ":") || !jv_value(v, depth + 1)) {
                return false;
            }
        } while (jv_lit(v, ","));
        return jv_lit(v, "}");
    case '[':
        v->p++;
        if (jv_lit(v, "]")) {
            return true;
        }
        do {
            if (!jv_value(v, depth + 1)) {
                return false;
            }
        } while (jv_lit(v, ","));
        return jv_lit(v, "]");
    case '"':
        return jv_string(v);
    case 't':
        return jv_lit(v, "true");
    case 'f':
        return jv_lit(v, "false");
    case 'n':
        return jv_lit(v, "null");
    default:
        return jv_number(v);
    }
}

static bool json_valid(const char *s, size_t n) {
    jv_t v = {(const unsigned char *)s, (const unsigned char *)s + n};
    return jv_value(&v, 0) && v.p == v.end;
}

/* ---- scalars ------------------------------------------------------------------------------ */

/* A small map at the top (a kafka.key) is written in one go when its keys are short and plain
 * and its values value_at's; every other map the usual way. Each is compared with the same map
 * inside an array (written by write_map), whole and cut at every byte, in a buffer of exactly
 * its size. */
static void pack_small_map_value(msgpack_packer *pk, int v) {
    switch (v) {
    case 0:
        msgpack_pack_uint64(pk, 18446744073709551615ULL);
        break;
    case 1:
        msgpack_pack_int64(pk, -42);
        break;
    case 2:
        msgpack_pack_str_with_body(pk, "eu", 2);
        break;
    case 3:
        msgpack_pack_str_with_body(pk, "a \"quoted\" value\n", 17);
        break;
    case 4:
        msgpack_pack_double(pk, 0.1);
        break;
    case 5:
        msgpack_pack_nil(pk);
        break;
    case 6:
        msgpack_pack_map(pk, 1), msgpack_pack_str_with_body(pk, "x", 1), msgpack_pack_int(pk, 1);
        break;
    case 7:
        msgpack_pack_ext_with_body(pk, "12.50", 5, RC_EXT_DECIMAL);
        break;
    default:
        msgpack_pack_str_with_body(pk,
                                   "a string that is longer than sixty-four bytes, so it goes "
                                   "the slow way",
                                   70);
        break;
    }
}

static void test_json_small_map_at_the_top(void **state) {
    (void)state;
    static const char *const keys[] = {
        "id", "", "region", "sixteen_bytes_ok", "seventeen_bytes__", "quo\"te", "caf\xc3\xa9"};
    const size_t nk = sizeof keys / sizeof keys[0];
    for (uint32_t n = 0; n <= 5; n++) {
        for (size_t k = 0; k < nk; k++) {
            for (int v = 0; v < 9; v++) {
                mp_t m, a;
                mp_init(&m);
                mp_init(&a);
                msgpack_pack_array(&a.pk, 1);
                msgpack_pack_map(&m.pk, n);
                msgpack_pack_map(&a.pk, n);
                for (uint32_t i = 0; i < n; i++) {
                    const char *key = i == n - 1 ? keys[k] : keys[(k + i) % 3];
                    msgpack_pack_str_with_body(&m.pk, key, strlen(key));
                    msgpack_pack_str_with_body(&a.pk, key, strlen(key));
                    pack_small_map_value(&m.pk, (v + (int)i) % 9);
                    pack_small_map_value(&a.pk, (v + (int)i) % 9);
                }
                rc_buf_t want = RC_BUF_INIT, got = RC_BUF_INIT;
                assert_int_equal(rc_json_write(&want, (const uint8_t *)a.sb.data, a.sb.size, NULL),
                                 RC_OK);
                for (size_t cut = 1; cut <= m.sb.size; cut++) {
                    uint8_t *copy = malloc(cut);
                    assert_non_null(copy);
                    memcpy(copy, m.sb.data, cut);
                    size_t used = 0;
                    rc_buf_reset(&got);
                    rc_buf_append(&got, "x", 1);
                    rc_err_t err = rc_json_write(&got, copy, cut, &used);
                    if (cut < m.sb.size) {
                        assert_int_equal(err, RC_ERR_TRUNCATED);
                        assert_int_equal(got.len, 1); /* put back */
                    } else {
                        assert_int_equal(err, RC_OK);
                        assert_int_equal(used, m.sb.size);
                        assert_int_equal(got.len - 1, want.len - 2); /* without the [ ] */
                        assert_memory_equal(got.data + 1, want.data + 1, want.len - 2);
                    }
                    free(copy);
                }
                rc_buf_free(&want);
                rc_buf_free(&got);
                msgpack_sbuffer_destroy(&m.sb);
                msgpack_sbuffer_destroy(&a.sb);
            }
        }
    }
}

static void test_json_nil_and_bools(void **state) {
    (void)state;
    CHECK_RAW("\xc0", "null");
    CHECK_RAW("\xc2", "false");
    CHECK_RAW("\xc3", "true");
    CHECK_RAW("\x93\xc0\xc2\xc3", "[null,false,true]");
}

/* Byte strings read best on one line. */
/* clang-format off */
static void test_json_ints_every_width(void **state) {
    (void)state;
    /* canonical encodings, as the packer picks them */
    struct {
        int64_t v;
        uint8_t first;
        const char *text;
    } s[] = {
        {0, 0x00, "0"},           {127, 0x7f, "127"},
        {128, 0xcc, "128"},       {255, 0xcc, "255"},
        {256, 0xcd, "256"},       {65535, 0xcd, "65535"},
        {65536, 0xce, "65536"},   {4294967295LL, 0xce, "4294967295"},
        {4294967296LL, 0xcf, "4294967296"},
        {-1, 0xff, "-1"},         {-32, 0xe0, "-32"},
        {-33, 0xd0, "-33"},       {-128, 0xd0, "-128"},
        {-129, 0xd1, "-129"},     {-32768, 0xd1, "-32768"},
        {-32769, 0xd2, "-32769"}, {INT32_MIN, 0xd2, "-2147483648"},
        {(int64_t)INT32_MIN - 1, 0xd3, "-2147483649"},
        {INT64_MAX, 0xcf, "9223372036854775807"},
        {INT64_MIN, 0xd3, "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        mp_t m;
        mp_init(&m);
        msgpack_pack_int64(&m.pk, s[i].v);
        assert_int_equal((uint8_t)m.sb.data[0], s[i].first);
        check_mp(&m, s[i].text);
    }
    mp_t m;
    mp_init(&m);
    msgpack_pack_uint64(&m.pk, UINT64_MAX);
    check_mp(&m, "18446744073709551615");
    mp_init(&m);
    msgpack_pack_uint64(&m.pk, (uint64_t)INT64_MAX + 1);
    check_mp(&m, "9223372036854775808");
}
/* clang-format on */

static void test_json_ints_wide_encodings(void **state) {
    (void)state;
    /* non-canonical but valid: small values in wide fields, max/min of each width */
    CHECK_RAW("\xcc\x00", "0");
    CHECK_RAW("\xcd\x00\x01", "1");
    CHECK_RAW("\xce\x00\x00\x00\x02", "2");
    CHECK_RAW("\xcf\x00\x00\x00\x00\x00\x00\x00\x03", "3");
    CHECK_RAW("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "18446744073709551615");
    CHECK_RAW("\xce\xff\xff\xff\xff", "4294967295");
    CHECK_RAW("\xcd\xff\xff", "65535");
    CHECK_RAW("\xd0\x7f", "127");
    CHECK_RAW("\xd0\x80", "-128");
    CHECK_RAW("\xd0\xff", "-1");
    CHECK_RAW("\xd1\x7f\xff", "32767");
    CHECK_RAW("\xd1\x80\x00", "-32768");
    CHECK_RAW("\xd2\x7f\xff\xff\xff", "2147483647");
    CHECK_RAW("\xd2\x80\x00\x00\x00", "-2147483648");
    CHECK_RAW("\xd3\x7f\xff\xff\xff\xff\xff\xff\xff", "9223372036854775807");
    CHECK_RAW("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", "-9223372036854775808");
    CHECK_RAW("\xd3\xff\xff\xff\xff\xff\xff\xff\xfe", "-2");
    CHECK_RAW("\xd3\x00\x00\x00\x00\x00\x00\x00\x05", "5");

    mp_t m;
    mp_init(&m);
    msgpack_pack_array(&m.pk, 8);
    msgpack_pack_fix_uint8(&m.pk, 7);
    msgpack_pack_fix_uint16(&m.pk, 7);
    msgpack_pack_fix_uint32(&m.pk, 7);
    msgpack_pack_fix_uint64(&m.pk, 7);
    msgpack_pack_fix_int8(&m.pk, -7);
    msgpack_pack_fix_int16(&m.pk, -7);
    msgpack_pack_fix_int32(&m.pk, -7);
    msgpack_pack_fix_int64(&m.pk, -7);
    check_mp(&m, "[7,7,7,7,-7,-7,-7,-7]");
}

static void check_double(double d, const char *expected) {
    mp_t m;
    mp_init(&m);
    msgpack_pack_double(&m.pk, d);
    assert_int_equal((uint8_t)m.sb.data[0], 0xcb);
    check_mp(&m, expected);
}

static void check_float(float f, const char *expected) {
    mp_t m;
    mp_init(&m);
    msgpack_pack_float(&m.pk, f);
    assert_int_equal((uint8_t)m.sb.data[0], 0xca);
    check_mp(&m, expected);
}

static void test_json_double_shortest_text(void **state) {
    (void)state;
    check_double(0.0, "0.0");
    check_double(-0.0, "-0.0");
    check_double(42.0, "42.0");
    check_double(-42.0, "-42.0");
    check_double(1.5, "1.5");
    check_double(0.1, "0.1");
    check_double(0.1 + 0.2, "0.30000000000000004");
    check_double(1.0 / 3, "0.3333333333333333");
    check_double(2.0 / 3, "0.6666666666666666");
    check_double(-1234.56, "-1234.56");
    check_double(123456.789, "123456.789");
    check_double(3.141592653589793, "3.141592653589793");
    check_double(1e-6, "0.000001");
    check_double(1.5e-6, "0.0000015");
    check_double(1e-7, "1e-7");
    check_double(-1.25e-10, "-1.25e-10");
    check_double(1e20, "100000000000000000000.0");
    check_double(1.23e20, "123000000000000000000.0");
    check_double(1e21, "1e+21");
    check_double(1.5e300, "1.5e+300");
    check_double(9007199254740992.0, "9007199254740992.0");
    check_double(9007199254740991.0, "9007199254740991.0");
    check_double(2251799813685248.5, "2251799813685248.5");
    check_double(DBL_MAX, "1.7976931348623157e+308");
    check_double(DBL_MIN, "2.2250738585072014e-308");
    check_double(5e-324, "5e-324"); /* smallest subnormal */
    check_double(1e23, "1e+23");
    check_double(0x1p-24, "5.960464477539063e-8"); /* printf's 16 digits (..062) miss */
    check_float(3410800.75f, "3410800.8");         /* exact tie: to even, as printf */
    check_double(NAN, "null");
    check_double(INFINITY, "null");
    check_double(-INFINITY, "null");
}

/* printf's %.3f of x less its trailing zeros, one kept after the point: the text of a double
 * of at most 3 decimals. */
static void text_3_decimals(double x, char *want, size_t n) {
    snprintf(want, n, "%.3f", x);
    size_t len = strlen(want);
    while (want[len - 1] == '0' && want[len - 2] != '.') {
        len--;
    }
    want[len] = '\0';
}

/* A double of at most 3 decimals below 2^42 is written by float3_at (N / 10^3, the point put
 * in N's digits), not by stepping k up in shortest_fast: its text is printf's "%.3f" less the
 * trailing zeros (".0" kept), below and above 100000 (8 digits of N at once, or not), signed;
 * the values around it (at and above 2^42, more decimals, a neighbour of a 3-decimal value,
 * tiny, zero) fall back and keep the texts the general path gave before float3_at. */
static void test_json_double_3_decimals_fast_path(void **state) {
    (void)state;
    uint64_t s = 0x2545f4914f6cdd1dULL;
    for (int i = 0; i < 30000; i++) {
        uint64_t r = rng_next(&s);
        static const uint64_t lim[] = {1000, 100000, 100000000, 100000000000ULL,
                                       4398046511104000ULL};
        uint64_t n = 1 + r % (lim[i % 5] - 1);
        if (i % 3 == 0) {
            n -= n % (i % 2 ? 10 : 100); /* trailing zeros: k 2, 1 or 0 */
        }
        if (n == 0) {
            continue;
        }
        double d = (double)n / 1000 * (r >> 63 ? -1 : 1);
        char want[64];
        text_3_decimals(d, want, sizeof want);
        check_double(d, want);
    }
    /* what the general path gave for these before float3_at (and still gives) */
    check_double(0x1p42, "4398046511104.0");
    check_double(0x1p42 - 0x1p-10, "4398046511103.999");
    check_double(0x1p42 + 0x1p-9, "4398046511104.002");
    check_double(4398046511103.999, "4398046511103.999");
    check_double(4398046511104.001, "4398046511104.001");
    check_double(4398046511104.002, "4398046511104.002");
    check_double(0x1p43 - 0x1p-9, "8796093022207.998");
    check_double(9007199254740.991, "9007199254740.99");
    check_double(99999.999, "99999.999");
    check_double(100000.001, "100000.001");
    check_double(99999999.999, "99999999.999");
    check_double(100000000.001, "100000000.001");
    check_double(0.001, "0.001");
    check_double(-0.001, "-0.001");
    check_double(0.0005, "0.0005");
    check_double(0.0015, "0.0015");
    check_double(0.01, "0.01");
    check_double(0.1, "0.1");
    check_double(1.0, "1.0");
    check_double(1.1, "1.1");
    check_double(10.01, "10.01");
    check_double(-123.4, "-123.4");
    check_double(100.0, "100.0");
    check_double(1000.5, "1000.5");
    check_double(0.1 + 0.2, "0.30000000000000004");
    check_double(1.0 / 3, "0.3333333333333333");
    check_double(123.4567, "123.4567");
    check_double(1e-300, "1e-300");
    check_double(1.0009765625, "1.0009765625");
    check_double(nextafter(1.001, 2), "1.0010000000000001");
    check_double(nextafter(1.001, 0), "1.0009999999999997");
    check_double(nextafter(0.001, 1), "0.0010000000000000002");
    check_double(12345678.9, "12345678.9");
    check_double(-0.0, "-0.0");
}

static void test_json_float32_shortest_text(void **state) {
    (void)state;
    check_float(0.0f, "0.0");
    check_float(-0.0f, "-0.0");
    check_float(0.1f, "0.1");
    check_float(3.14f, "3.14");
    check_float(-2.5f, "-2.5");
    check_float(1.0f / 3, "0.33333334");
    check_float(16777216.0f, "16777216.0");
    check_float(16777217.0f, "16777216.0"); /* not a float: rounds on the way in */
    check_float(1e10f, "10000000000.0");
    check_float(6744772706304.0f, "6744772700000.0"); /* above 2^24 an integer float has a
                                                         shorter text */
    check_float(16777218.0f, "16777218.0");
    check_float(33554436.0f, "33554436.0");
    check_float(FLT_MAX, "3.4028235e+38");
    check_float(FLT_MIN, "1.1754944e-38");
    check_float(1e-45f, "1e-45"); /* smallest subnormal float */
    check_float(NAN, "null");
    check_float(-INFINITY, "null");
}

/* Significant digits of the text: "0.00120" -> 2, "42.0" -> 2, "1.5e+300" -> 2. */
static int sig_digits(const char *s) {
    char d[64];
    int n = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s >= '0' && *s <= '9') {
            d[n++] = *s;
        }
    }
    int a = 0;
    while (a < n - 1 && d[a] == '0') {
        a++;
    }
    while (n - 1 > a && d[n - 1] == '0') {
        n--;
    }
    return n - a;
}

/* The fewest digits printf needs for a text that reads back as x. */
static int ref_digits(double x, bool single) {
    char buf[64];
    for (int p = 1; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (single ? strtof(buf, NULL) == (float)x : strtod(buf, NULL) == x) {
            return p;
        }
    }
    return single ? 9 : 17;
}

/* Whether the text of a finite nonzero number is laid out as the writer documents it for its
 * significant digits D and decimal exponent E (JavaScript's Number#toString, with ".0" kept on
 * integral values): plain for -6 <= E <= 20, else d.ddde+XX. Read from the text alone, so it
 * checks whichever path wrote it. */
static bool layout_ok(const char *t) {
    char d[64], want[96];
    int n = 0, e = 0, point = -1, lead = 0;
    const char *s = t + (*t == '-');
    for (; *s && *s != 'e'; s++) {
        if (*s == '.') {
            point = n + lead;
        } else if (n == 0 && *s == '0') {
            lead++;
        } else {
            d[n++] = *s;
        }
    }
    if (point < 0) {
        point = n + lead;
    }
    int ex = *s == 'e' ? atoi(s + 1) : 0;
    e = point - lead - 1 + ex; /* the exponent of the first significant digit */
    while (n > 1 && d[n - 1] == '0') {
        n--;
    }
    char *o = want;
    if (*t == '-') {
        *o++ = '-';
    }
    if (e >= -6 && e <= 20) {
        if (e >= n - 1) {
            o += sprintf(o, "%.*s%.*s.0", n, d, e - (n - 1), "000000000000000000000");
        } else if (e >= 0) {
            o += sprintf(o, "%.*s.%.*s", e + 1, d, n - e - 1, d + e + 1);
        } else {
            o += sprintf(o, "0.%.*s%.*s", -e - 1, "000000", n, d);
        }
    } else {
        o += sprintf(o, "%c%s%.*se%c%d", d[0], n > 1 ? "." : "", n - 1, d + 1, e < 0 ? '-' : '+',
                     e < 0 ? -e : e);
    }
    return strcmp(t, want) == 0;
}

static void check_roundtrip(double x, bool single) {
    mp_t m;
    mp_init(&m);
    if (single) {
        msgpack_pack_float(&m.pk, (float)x);
    } else {
        msgpack_pack_double(&m.pk, x);
    }
    rc_buf_t out = RC_BUF_INIT;
    assert_int_equal(rc_json_write(&out, (const uint8_t *)m.sb.data, m.sb.size, NULL), RC_OK);
    assert_int_equal(rc_buf_putc(&out, '\0'), RC_OK);
    if (isnan(x) || isinf(x)) {
        assert_string_equal(out.data, "null");
    } else {
        assert_true(json_valid(out.data, out.len - 1));
        bool same = single ? strtof(out.data, NULL) == (float)x : strtod(out.data, NULL) == x;
        /* never longer than printf's shortest; at an exact power of two the rounding interval
         * is lopsided and a neighbour of printf's rounding can be one digit shorter */
        if (!same || (x != 0 && !layout_ok(out.data)) ||
            sig_digits(out.data) > ref_digits(x, single) ||
            sig_digits(out.data) < ref_digits(x, single) - 1) {
            print_error("%.17g (%s) -> %s, want %d digits\n", x, single ? "float" : "double",
                        out.data, ref_digits(x, single));
            fail();
        }
    }
    rc_buf_free(&out);
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_json_floats_roundtrip_random(void **state) {
    (void)state;
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rng_next(&s);
        double d;
        memcpy(&d, &bits, sizeof d);
        check_roundtrip(d, false);
        uint32_t fbits = (uint32_t)(bits >> 32);
        float f;
        memcpy(&f, &fbits, sizeof f);
        check_roundtrip(f, true);
    }
    /* decimal-looking values, the common case in a database (the fast path) */
    for (int i = 0; i < 20000; i++) {
        uint64_t r = rng_next(&s);
        double mant = (double)(int64_t)(r % 2000000001ULL) - 1e9;
        int scale = (int)(r >> 40) % 23;
        double d = i & 1 ? mant / pow(10, scale) : mant * pow(10, scale % 12);
        check_roundtrip(d, false);
        check_roundtrip((float)d, true);
        check_roundtrip((double)(int64_t)(r >> 11) / 8, false);
    }
    /* few digits at every place of the point, zeros after the last digit, and the edges of
     * plain notation (0.000001 and 1e-7, 1e20 and 1e21) where the short layout stops */
    for (int k = 0; k <= 24; k++) {
        for (int i = 0; i < 400; i++) {
            uint64_t r = rng_next(&s);
            double mant = (double)(r % (i < 200 ? 1000ULL : 100000000000000000ULL));
            double d = mant * (i & 1 ? 10 : 1) / pow(10, k);
            check_roundtrip(d, false);
            check_roundtrip(-d, false);
            check_roundtrip((float)d, true);
            check_roundtrip(mant * pow(10, k), false);
        }
    }
    static const double edges[] = {1e-6,   1.5e-6,  9.99e-7, 1e-7,   1.25e-7, 0.0001234,
                                   100.0,  1e15,    1e16,    1e20,   1e21,    123.0,
                                   0.5,    0.05,    0.005,   12.5,   10.0,    9007199254740991.0,
                                   345.45, 345.453, 0.10,    1.0e-5, 2.5e-6,  999999.999};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check_roundtrip(edges[i], false);
        check_roundtrip(-edges[i], false);
        check_roundtrip(edges[i], true);
    }
}

/* ---- strings ------------------------------------------------------------------------------ */

/* Integers of every digit count, at the edges where the digit count changes and in between,
 * against printf (the writer makes 8 digits at a time). */
static void test_json_ints_every_digit_count(void **state) {
    (void)state;
    uint64_t p = 1, rng = 0x9e3779b97f4a7c15ULL;
    for (int k = 0; k <= 20; k++) {
        uint64_t vals[6] = {p - 1, p, p + 1, p + p / 2, 2 * p - 1, UINT64_MAX - p + 1};
        for (int r = 0; r < 64; r++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            vals[r % 6] = k == 0 ? rng : rng % p; /* random ones of at most k digits */
            for (int i = 0; i < 6; i++) {
                char want[32];
                mp_t m;
                mp_init(&m);
                msgpack_pack_uint64(&m.pk, vals[i]);
                snprintf(want, sizeof want, "%" PRIu64, vals[i]);
                check_mp(&m, want);
                int64_t neg = vals[i] > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)vals[i];
                mp_init(&m);
                msgpack_pack_int64(&m.pk, neg);
                snprintf(want, sizeof want, "%" PRId64, neg);
                check_mp(&m, want);
            }
        }
        p = k < 19 ? p * 10 : p;
    }
}

/* What the writer must make of one byte sequence inside a string. */
typedef struct esc_case {
    const char *in;
    const char *out;
} esc_case_t;

/* Strings of every length up to 40 with one byte to escape (or a UTF-8 sequence) at every
 * position, as values and as map keys, in the middle of a buffer (bytes after the string,
 * quotes among them, are read 16 at a time but must not show) and at its very end. */
static void test_json_escape_at_every_position_and_length(void **state) {
    (void)state;
    static const esc_case_t cases[] = {
        {"\"", "\\\""},
        {"\\", "\\\\"},
        {"\n", "\\n"},
        {"\x01", "\\u0001"},
        {"\x1f", "\\u001f"},
        {"\x7f", "\x7f"},
        {"\xc3\xa9", "\xc3\xa9"},
        {"\xff", "\\ufffd"},
        {"\xe2\x80\xa8", "\\u2028"},
        {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
        {"\xe2\x82", "\\ufffd\\ufffd"},
        {"", ""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t cl = strlen(cases[c].in);
        for (size_t len = cl; len <= 40; len++) {
            for (size_t pos = 0; pos + cl <= len; pos++) {
                char in[48], want_str[128];
                size_t o = 0;
                for (size_t i = 0; i < len;) {
                    if (i == pos && cl) {
                        memcpy(in + i, cases[c].in, cl);
                        i += cl;
                    } else {
                        in[i] = (char)('a' + i % 26);
                        i++;
                    }
                }
                want_str[o++] = '"';
                for (size_t i = 0; i < len;) {
                    if (i == pos && cl) {
                        memcpy(want_str + o, cases[c].out, strlen(cases[c].out));
                        o += strlen(cases[c].out);
                        i += cl;
                    } else {
                        want_str[o++] = in[i++];
                    }
                }
                want_str[o++] = '"';
                want_str[o] = '\0';
                for (int at_end = 0; at_end < 2; at_end++) {
                    /* {str: str, "\"\"..": 1} or, at_end, {"x": 1, str: str} */
                    char want[512];
                    mp_t m;
                    mp_init(&m);
                    msgpack_pack_map(&m.pk, 2);
                    if (at_end) {
                        mp_str(&m, "x");
                        msgpack_pack_int(&m.pk, 1);
                    }
                    msgpack_pack_str_with_body(&m.pk, in, len);
                    msgpack_pack_str_with_body(&m.pk, in, len);
                    if (!at_end) {
                        mp_str(&m, "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
                        msgpack_pack_int(&m.pk, 1);
                    }
                    snprintf(want, sizeof want,
                             at_end ? "{\"x\":1,%s:%s}"
                                    : "{%s:%s,\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
                                      "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\":1}",
                             want_str, want_str);
                    check_mp(&m, want);
                }
            }
        }
    }
}

/* rc_json_write_string_in reads past the string (up to lim) but writes only the string. */
static void test_json_write_string_in_a_buffer(void **state) {
    (void)state;
    const char buf[] = "ab\"c\\d\x01\xc3\xa9xyz\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"";
    const uint8_t *lim = (const uint8_t *)buf + sizeof buf - 1;
    static const char *const want[] = {
        "\"\"",
        "\"a\"",
        "\"ab\"",
        "\"ab\\\"\"",
        "\"ab\\\"c\"",
        "\"ab\\\"c\\\\\"",
        "\"ab\\\"c\\\\d\"",
        "\"ab\\\"c\\\\d\\u0001\"",
        NULL, /* a UTF-8 sequence cut short */
        "\"ab\\\"c\\\\d\\u0001\xc3\xa9\"",
        "\"ab\\\"c\\\\d\\u0001\xc3\xa9x\"",
    };
    for (size_t n = 0; n < sizeof want / sizeof want[0]; n++) {
        if (!want[n]) {
            continue;
        }
        rc_buf_t out = RC_BUF_INIT;
        assert_int_equal(rc_json_write_string_in(&out, buf, n, lim), RC_OK);
        assert_int_equal(out.len, strlen(want[n]));
        assert_memory_equal(out.data, want[n], out.len);
        rc_buf_free(&out);
    }
}

static void test_json_escape_every_control_char(void **state) {
    (void)state;
    static const char *const want[32] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    };
    for (int c = 0; c < 32; c++) {
        char in[3] = {'a', (char)c, 'z'};
        char exp[16];
        snprintf(exp, sizeof exp, "\"a%sz\"", want[c]);
        check_esc(in, 3, exp);
    }
    char all[32];
    for (int c = 0; c < 32; c++) {
        all[c] = (char)c;
    }
    check_esc(all, 32,
              "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
              "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
              "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
}

static void test_json_escape_ascii_specials(void **state) {
    (void)state;
    CHECK_ESC("", "\"\"");
    CHECK_ESC("\"", "\"\\\"\"");
    CHECK_ESC("\\", "\"\\\\\"");
    CHECK_ESC("a/b</script>", "\"a/b</script>\""); /* '/' is not escaped */
    CHECK_ESC("\x7f", "\"\x7f\"");                 /* DEL passes as is */
    CHECK_ESC("say \"hi\"\\n", "\"say \\\"hi\\\"\\\\n\"");
    /* every printable ASCII byte */
    char in[95];
    for (int c = 0x20; c < 0x7f; c++) {
        in[c - 0x20] = (char)c;
    }
    check_esc(in, sizeof in,
              "\" !\\\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\\\]^_`"
              "abcdefghijklmnopqrstuvwxyz{|}~\"");
}

static void test_json_escape_nul_inside_string(void **state) {
    (void)state;
    CHECK_ESC("a\0b\0", "\"a\\u0000b\\u0000\"");
}

/* Byte strings read best on one line. */
/* clang-format off */
static void test_json_utf8_valid_passes_as_is(void **state) {
    (void)state;
    CHECK_ESC("\xc2\x80", "\"\xc2\x80\"");                 /* U+0080, first 2-byte */
    CHECK_ESC("caf\xc3\xa9", "\"caf\xc3\xa9\"");           /* é */
    CHECK_ESC("\xdf\xbf", "\"\xdf\xbf\"");                 /* U+07FF, last 2-byte */
    CHECK_ESC("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");         /* U+0800, first 3-byte */
    CHECK_ESC("\xe2\x82\xac", "\"\xe2\x82\xac\"");         /* € */
    CHECK_ESC("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");         /* U+D7FF, before surrogates */
    CHECK_ESC("\xee\x80\x80", "\"\xee\x80\x80\"");         /* U+E000, after surrogates */
    CHECK_ESC("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");         /* U+FFFF */
    CHECK_ESC("\xef\xbb\xbf", "\"\xef\xbb\xbf\"");         /* BOM is just a character */
    CHECK_ESC("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""); /* U+10000, first 4-byte */
    CHECK_ESC("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* 😀 */
    CHECK_ESC("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF, the last */
    CHECK_ESC("\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\""); /* U+2027, U+202A */
    CHECK_ESC("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80!",
              "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80!\"");
}
/* clang-format on */

/* Byte strings read best on one line. */
/* clang-format off */
static void test_json_utf8_line_separators_escaped(void **state) {
    (void)state;
    CHECK_ESC("\xe2\x80\xa8", "\"\\u2028\"");
    CHECK_ESC("\xe2\x80\xa9", "\"\\u2029\"");
    CHECK_ESC("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", "\"a\\u2028b\\u2029c\"");
}
/* clang-format on */

/* Byte strings read best on one line. */
/* clang-format off */
static void test_json_utf8_invalid_each_byte_replaced(void **state) {
    (void)state;
    /* lone continuation bytes */
    CHECK_ESC("\x80", "\"\\ufffd\"");
    CHECK_ESC("a\xbf" "b", "\"a\\ufffdb\"");
    CHECK_ESC("\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    /* overlong encodings */
    CHECK_ESC("\xc0\x80", "\"\\ufffd\\ufffd\"");
    CHECK_ESC("\xc1\xbf", "\"\\ufffd\\ufffd\"");
    CHECK_ESC("\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    CHECK_ESC("\xe0\x9f\xbf", "\"\\ufffd\\ufffd\\ufffd\"");
    CHECK_ESC("\xf0\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    CHECK_ESC("\xf0\x8f\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* UTF-16 surrogates encoded in UTF-8 */
    CHECK_ESC("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    CHECK_ESC("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");
    CHECK_ESC("\xed\xa0\xbd\xed\xb8\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* above U+10FFFF */
    CHECK_ESC("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    CHECK_ESC("\xf7\xbf\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    /* cut short at the end of the string */
    CHECK_ESC("a\xc3", "\"a\\ufffd\"");
    CHECK_ESC("a\xe2\x82", "\"a\\ufffd\\ufffd\"");
    CHECK_ESC("a\xf0\x9f\x98", "\"a\\ufffd\\ufffd\\ufffd\"");
    /* cut short in the middle: the byte that breaks the sequence is read afresh */
    CHECK_ESC("\xc3" "A", "\"\\ufffdA\"");
    CHECK_ESC("\xe2\x82" "A", "\"\\ufffd\\ufffdA\"");
    CHECK_ESC("\xf0\x9f\x98" "A", "\"\\ufffd\\ufffd\\ufffdA\"");
    CHECK_ESC("\xe2\x82\xc3\xa9", "\"\\ufffd\\ufffd\xc3\xa9\"");
    CHECK_ESC("\xf0\x9f\xf0\x9f\x98\x80", "\"\\ufffd\\ufffd\xf0\x9f\x98\x80\"");
    CHECK_ESC("\xc3\n", "\"\\ufffd\\n\"");
    /* bytes that never appear in UTF-8 */
    for (int c = 0xf5; c <= 0xff; c++) {
        char in[3] = {'x', (char)c, 'y'};
        check_esc(in, 3, "\"x\\ufffdy\"");
    }
    CHECK_ESC("\xfe\xff", "\"\\ufffd\\ufffd\"");
}
/* clang-format on */

/* Byte strings read best on one line. */
/* clang-format off */
static void test_json_string_encodings(void **state) {
    (void)state;
    CHECK_RAW("\xa0", "\"\"");
    CHECK_RAW("\xa2hi", "\"hi\"");
    CHECK_RAW("\xd9\x02hi", "\"hi\"");         /* str8 */
    CHECK_RAW("\xda\x00\x02hi", "\"hi\"");     /* str16 */
    CHECK_RAW("\xdb\x00\x00\x00\x02hi", "\"hi\""); /* str32 */
    CHECK_RAW("\xdb\x00\x00\x00\x00", "\"\"");

    /* str8 / str16 / str32 as the packer picks them */
    size_t sizes[] = {31, 32, 255, 256, 65535, 65536, 70001};
    uint8_t first[] = {0xbf, 0xd9, 0xd9, 0xda, 0xda, 0xdb, 0xdb};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *s = malloc(n);
        char *exp = malloc(n + 3);
        for (size_t j = 0; j < n; j++) {
            s[j] = (char)('a' + j % 26);
        }
        exp[0] = '"';
        memcpy(exp + 1, s, n);
        memcpy(exp + 1 + n, "\"", 2);
        mp_t m;
        mp_init(&m);
        msgpack_pack_str_with_body(&m.pk, s, n);
        assert_int_equal((uint8_t)m.sb.data[0], first[i]);
        check_mp(&m, exp);
        free(s);
        free(exp);
    }
}
/* clang-format on */

/* Strings longer than one 64 KiB slice, with escapes and sequences across the slice edge. */
static void test_json_long_strings_across_slices(void **state) {
    (void)state;
    rc_buf_t in = RC_BUF_INIT, exp = RC_BUF_INIT;
    for (int shift = 0; shift < 4; shift++) {
        rc_buf_reset(&in);
        rc_buf_reset(&exp);
        assert_int_equal(rc_buf_putc(&exp, '"'), RC_OK);
        for (int i = 0; i < 65534 + shift; i++) {
            rc_buf_putc(&in, 'a');
            rc_buf_putc(&exp, 'a');
        }
        /* € / U+2028 / a cut sequence / 😀 straddle the 65536-byte edge as shift moves */
        rc_buf_append(&in, "\xe2\x82\xac\xe2\x80\xa8\xe2\x82Z\xf0\x9f\x98\x80\x01", 14);
        rc_buf_puts(&exp, "\xe2\x82\xac\\u2028\\ufffd\\ufffdZ\xf0\x9f\x98\x80\\u0001");
        for (int i = 0; i < 70000; i++) {
            rc_buf_putc(&in, '\n');
            rc_buf_puts(&exp, "\\n");
        }
        rc_buf_putc(&exp, '"');
        rc_buf_putc(&exp, '\0');
        check_esc(in.data, in.len, exp.data);
    }
    /* worst case: every byte grows to six (with ASan watching the reserve) */
    rc_buf_reset(&in);
    rc_buf_reset(&exp);
    rc_buf_putc(&exp, '"');
    for (int i = 0; i < 200000; i++) {
        rc_buf_putc(&in, i % 2 ? '\x1f' : '\xff');
        rc_buf_puts(&exp, i % 2 ? "\\u001f" : "\\ufffd");
    }
    rc_buf_putc(&exp, '"');
    rc_buf_putc(&exp, '\0');
    check_esc(in.data, in.len, exp.data);
    rc_buf_free(&in);
    rc_buf_free(&exp);
}

/* Random bytes (biased towards the interesting ones) always give valid JSON. */
static void test_json_random_bytes_give_valid_json(void **state) {
    (void)state;
    static const uint8_t pool[] = {'a',  '"',  '\\', '/',  0x00, 0x1f, 0x7f, 0x80, 0xbf,
                                   0xc0, 0xc2, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xa0, 0x9f,
                                   0xa8, 0xf0, 0xf4, 0xf5, 0xff, 0x90, 0x8f, 0x82};
    uint64_t s = 42;
    rc_buf_t out = RC_BUF_INIT;
    for (int i = 0; i < 20000; i++) {
        uint8_t in[24];
        size_t n = rng_next(&s) % sizeof in;
        for (size_t j = 0; j < n; j++) {
            uint64_t r = rng_next(&s);
            in[j] = r & 1 ? pool[(r >> 8) % sizeof pool] : (uint8_t)(r >> 16);
        }
        rc_buf_reset(&out);
        assert_int_equal(rc_json_write_string(&out, (const char *)in, n), RC_OK);
        assert_true(out.len <= 2 + 6 * n);
        if (!json_valid(out.data, out.len)) {
            print_error("invalid JSON for input %d: %.*s\n", i, (int)out.len, out.data);
            fail();
        }
    }
    rc_buf_free(&out);
}

/* ---- bin, ext ----------------------------------------------------------------------------- */

/* Byte strings read best on one line. */
/* clang-format off */
static void test_json_bin_base64(void **state) {
    (void)state;
    CHECK_RAW("\xc4\x00", "\"\"");
    CHECK_RAW("\xc4\x01" "f", "\"Zg==\"");
    CHECK_RAW("\xc4\x02" "fo", "\"Zm8=\"");
    CHECK_RAW("\xc4\x03" "foo", "\"Zm9v\"");
    CHECK_RAW("\xc4\x04" "foob", "\"Zm9vYg==\"");
    CHECK_RAW("\xc4\x06" "foobar", "\"Zm9vYmFy\"");
    CHECK_RAW("\xc4\x03\xfb\xff\xfe", "\"+//+\"");
    CHECK_RAW("\xc4\x03\x00\x00\x00", "\"AAAA\"");
    CHECK_RAW("\xc5\x00\x03" "foo", "\"Zm9v\"");             /* bin16 */
    CHECK_RAW("\xc6\x00\x00\x00\x03" "foo", "\"Zm9v\"");     /* bin32 */

    mp_t m;
    mp_init(&m);
    char b[300];
    memset(b, 0, sizeof b);
    msgpack_pack_bin_with_body(&m.pk, b, sizeof b);
    assert_int_equal((uint8_t)m.sb.data[0], 0xc5);
    char exp[403];
    exp[0] = '"';
    memset(exp + 1, 'A', 400);
    memcpy(exp + 401, "\"", 2);
    check_mp(&m, exp);
}
/* clang-format on */

static void check_ext(int8_t type, const char *payload, size_t n, uint8_t first,
                      const char *expected) {
    mp_t m;
    mp_init(&m);
    msgpack_pack_ext_with_body(&m.pk, payload, n, type);
    assert_int_equal((uint8_t)m.sb.data[0], first);
    check_mp(&m, expected);
}

static void test_json_ext_rowcast_types(void **state) {
    (void)state;
    check_ext(RC_EXT_DECIMAL, "-1234.5600", 10, 0xc7, "\"-1234.5600\"");
    check_ext(RC_EXT_DECIMAL, "1", 1, 0xd4, "\"1\"");
    check_ext(RC_EXT_DATE, "2024-02-29", 10, 0xc7, "\"2024-02-29\"");
    check_ext(RC_EXT_DATE, "0000-00-00", 10, 0xc7, "\"0000-00-00\"");
    check_ext(RC_EXT_TIME, "-838:59:59.000000", 17, 0xc7, "\"-838:59:59.000000\"");
    check_ext(RC_EXT_DATETIME, "2024-02-29T13:01:02.500", 23, 0xc7, "\"2024-02-29T13:01:02.500\"");
    check_ext(RC_EXT_TIMESTAMP, "2024-02-29T13:01:02.500Z", 24, 0xc7,
              "\"2024-02-29T13:01:02.500Z\"");
    check_ext(RC_EXT_DECIMAL, "12345678", 8, 0xd7, "\"12345678\"");
    /* text payloads are escaped like any string */
    check_ext(RC_EXT_DATE, "a\"\n", 3, 0xc7, "\"a\\\"\\n\"");
    /* JSON is inlined */
    check_ext(RC_EXT_JSON, "{\"a\":[1,2.5,\"x\"]}", 17, 0xc7, "{\"a\":[1,2.5,\"x\"]}");
    check_ext(RC_EXT_JSON, "7", 1, 0xd4, "7");
    check_ext(RC_EXT_JSON, "", 0, 0xc7, "null");
    /* inside a row */
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "doc");
    msgpack_pack_ext_with_body(&m.pk, "[true]", 6, RC_EXT_JSON);
    mp_str(&m, "price");
    msgpack_pack_ext_with_body(&m.pk, "9.99", 4, RC_EXT_DECIMAL);
    check_mp(&m, "{\"doc\":[true],\"price\":\"9.99\"}");
}

/* Byte strings read best on one line. */
/* clang-format off */
static void test_json_ext_every_encoding_and_unknown_types(void **state) {
    (void)state;
    /* unknown types, positive and negative (-1 is the msgpack timestamp): base64 */
    check_ext(42, "foo", 3, 0xc7, "\"Zm9v\"");
    check_ext(0, "f", 1, 0xd4, "\"Zg==\"");
    check_ext(-1, "\x00\x00\x00\x01", 4, 0xd6, "\"AAAAAQ==\"");
    check_ext(7, "", 0, 0xc7, "\"\"");
    check_ext(127, "fo", 2, 0xd5, "\"Zm8=\"");
    check_ext(-128, "foobar!!", 8, 0xd7, "\"Zm9vYmFyISE=\"");
    check_ext(100, "0123456789abcdef", 16, 0xd8, "\"MDEyMzQ1Njc4OWFiY2RlZg==\"");
    /* fixext 1/2/4/8/16 of a text type */
    CHECK_RAW("\xd4\x01" "5", "\"5\"");
    CHECK_RAW("\xd5\x01" "-5", "\"-5\"");
    CHECK_RAW("\xd6\x01" "1.25", "\"1.25\"");
    CHECK_RAW("\xd7\x02" "20240229", "\"20240229\"");
    CHECK_RAW("\xd8\x04" "2024-02-29T13:01", "\"2024-02-29T13:01\"");
    /* ext 8/16/32 */
    CHECK_RAW("\xc7\x03\x01" "1.5", "\"1.5\"");
    CHECK_RAW("\xc8\x00\x03\x01" "1.5", "\"1.5\"");
    CHECK_RAW("\xc9\x00\x00\x00\x03\x01" "1.5", "\"1.5\"");
    CHECK_RAW("\xc9\x00\x00\x00\x03\x63" "foo", "\"Zm9v\"");
    CHECK_RAW("\xc8\x00\x02\x06" "{}", "{}");
    char big[300];
    memset(big, '7', sizeof big);
    char exp[303];
    exp[0] = '"';
    memcpy(exp + 1, big, sizeof big);
    memcpy(exp + 301, "\"", 2);
    check_ext(RC_EXT_DECIMAL, big, sizeof big, 0xc8, exp);
}
/* clang-format on */

/* ---- containers --------------------------------------------------------------------------- */

static void test_json_containers_every_encoding(void **state) {
    (void)state;
    CHECK_RAW("\x90", "[]");
    CHECK_RAW("\x80", "{}");
    CHECK_RAW("\xdc\x00\x00", "[]");
    CHECK_RAW("\xdd\x00\x00\x00\x00", "[]");
    CHECK_RAW("\xdc\x00\x02\x01\x02", "[1,2]");
    CHECK_RAW("\xdd\x00\x00\x00\x02\x01\x02", "[1,2]");
    CHECK_RAW("\xde\x00\x01\xa1k\x01", "{\"k\":1}");
    CHECK_RAW("\xdf\x00\x00\x00\x01\xa1k\x01", "{\"k\":1}");
    CHECK_RAW("\xdf\x00\x00\x00\x00", "{}");
    CHECK_RAW("\x92\x90\x80", "[[],{}]");

    mp_t m;
    mp_init(&m);
    msgpack_pack_array(&m.pk, 16);
    for (int i = 0; i < 16; i++) {
        msgpack_pack_int(&m.pk, i);
    }
    assert_int_equal((uint8_t)m.sb.data[0], 0xdc);
    check_mp(&m, "[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]");

    mp_init(&m);
    msgpack_pack_map(&m.pk, 16);
    for (int i = 0; i < 16; i++) {
        char k[2] = {(char)('a' + i), 0};
        mp_str(&m, k);
        msgpack_pack_int(&m.pk, -i);
    }
    assert_int_equal((uint8_t)m.sb.data[0], 0xde);
    check_mp(&m, "{\"a\":0,\"b\":-1,\"c\":-2,\"d\":-3,\"e\":-4,\"f\":-5,\"g\":-6,\"h\":-7,"
                 "\"i\":-8,\"j\":-9,\"k\":-10,\"l\":-11,\"m\":-12,\"n\":-13,\"o\":-14,"
                 "\"p\":-15}");

    /* array32 / map32 as the packer picks them */
    mp_init(&m);
    msgpack_pack_array(&m.pk, 70000);
    rc_buf_t exp = RC_BUF_INIT;
    rc_buf_putc(&exp, '[');
    for (int i = 0; i < 70000; i++) {
        msgpack_pack_nil(&m.pk);
        rc_buf_puts(&exp, i ? ",null" : "null");
    }
    rc_buf_puts(&exp, "]");
    rc_buf_putc(&exp, '\0');
    assert_int_equal((uint8_t)m.sb.data[0], 0xdd);
    check_mp(&m, exp.data);

    mp_init(&m);
    msgpack_pack_map(&m.pk, 70000);
    rc_buf_reset(&exp);
    rc_buf_putc(&exp, '{');
    for (int i = 0; i < 70000; i++) {
        char k[16];
        snprintf(k, sizeof k, "%d", i);
        mp_str(&m, k);
        msgpack_pack_true(&m.pk);
        rc_buf_printf(&exp, "%s\"%d\":true", i ? "," : "", i);
    }
    rc_buf_puts(&exp, "}");
    rc_buf_putc(&exp, '\0');
    assert_int_equal((uint8_t)m.sb.data[0], 0xdf);
    check_mp(&m, exp.data);
    rc_buf_free(&exp);
}

static void test_json_map_non_string_keys(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 9);
    msgpack_pack_int(&m.pk, 1);
    mp_str(&m, "a");
    msgpack_pack_nil(&m.pk);
    msgpack_pack_int(&m.pk, 2);
    msgpack_pack_true(&m.pk);
    msgpack_pack_int(&m.pk, 3);
    msgpack_pack_int(&m.pk, -5);
    msgpack_pack_int(&m.pk, 4);
    msgpack_pack_double(&m.pk, 1.5);
    msgpack_pack_int(&m.pk, 5);
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_int(&m.pk, 1);
    mp_str(&m, "x");
    msgpack_pack_int(&m.pk, 6);
    msgpack_pack_bin_with_body(&m.pk, "ab", 2);
    msgpack_pack_int(&m.pk, 7);
    msgpack_pack_ext_with_body(&m.pk, "1.50", 4, RC_EXT_DECIMAL);
    msgpack_pack_int(&m.pk, 8);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "k");
    mp_str(&m, "v\n");
    msgpack_pack_int(&m.pk, 9);
    check_mp(&m, "{\"1\":\"a\",\"null\":2,\"true\":3,\"-5\":4,\"1.5\":5,\"[1,\\\"x\\\"]\":6,"
                 "\"\\\"YWI=\\\"\":7,\"\\\"1.50\\\"\":8,\"{\\\"k\\\":\\\"v\\\\n\\\"}\":9}");

    /* a key whose JSON text is longer than the stack buffer */
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    msgpack_pack_array(&m.pk, 200);
    rc_buf_t exp = RC_BUF_INIT;
    rc_buf_puts(&exp, "{\"[");
    for (int i = 0; i < 200; i++) {
        msgpack_pack_int(&m.pk, 100 + i);
        rc_buf_printf(&exp, "%s%d", i ? "," : "", 100 + i);
    }
    msgpack_pack_nil(&m.pk);
    rc_buf_puts(&exp, "]\":null}");
    rc_buf_putc(&exp, '\0');
    check_mp(&m, exp.data);
    rc_buf_free(&exp);
}

/* Found by fuzz_encode: maps used as keys of maps used as keys ... escape the inner text again
 * at each level, so 60 levels took exponential time and memory. They stop at the depth limit. */
static void test_json_keys_inside_keys_stop_early(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    for (int i = 0; i < 60; i++) {
        msgpack_pack_map(&m.pk, 1); /* {{{...: 1}: 1}: 1} */
    }
    msgpack_pack_nil(&m.pk);
    for (int i = 0; i < 60; i++) {
        msgpack_pack_int(&m.pk, 1);
    }
    rc_buf_t out = RC_BUF_INIT;
    assert_int_equal(rc_json_write(&out, (const uint8_t *)m.sb.data, m.sb.size, NULL),
                     RC_ERR_INVALID);
    assert_int_equal(out.len, 0);
    rc_buf_free(&out);
    msgpack_sbuffer_destroy(&m.sb);

    mp_init(&m); /* three levels are fine */
    for (int i = 0; i < 3; i++) {
        msgpack_pack_map(&m.pk, 1);
    }
    msgpack_pack_int(&m.pk, 7);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_int(&m.pk, i);
    }
    check_mp(&m, "{\"{\\\"{\\\\\\\"7\\\\\\\":0}\\\":1}\":2}");
}

static void test_json_nested_document(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 3);
    mp_str(&m, "id");
    msgpack_pack_uint64(&m.pk, 42);
    mp_str(&m, "tags");
    msgpack_pack_array(&m.pk, 3);
    mp_str(&m, "x");
    msgpack_pack_array(&m.pk, 0);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "deep");
    msgpack_pack_double(&m.pk, -0.5);
    mp_str(&m, "na\"me");
    msgpack_pack_nil(&m.pk);
    check_mp(&m, "{\"id\":42,\"tags\":[\"x\",[],{\"deep\":-0.5}],\"na\\\"me\":null}");
}

/* ---- errors ------------------------------------------------------------------------------- */

static void test_json_depth_64_ok_65_invalid(void **state) {
    (void)state;
    uint8_t buf[200];
    char exp[512];
    /* arrays */
    memset(buf, 0x91, 64);
    buf[64] = 0x01;
    memset(exp, '[', 64);
    exp[64] = '1';
    memset(exp + 65, ']', 64);
    exp[129] = '\0';
    check_bytes(buf, 65, exp);
    memset(buf, 0x91, 65);
    buf[65] = 0x01;
    assert_int_equal(write_raw(buf, 66), RC_ERR_INVALID);
    /* maps {"k": {"k": ... 1}} */
    for (int i = 0; i < 65; i++) {
        buf[3 * i] = 0x81;
        buf[3 * i + 1] = 0xa1;
        buf[3 * i + 2] = 'k';
    }
    buf[3 * 64] = 0x01;
    char *e = exp;
    for (int i = 0; i < 64; i++) {
        memcpy(e, "{\"k\":", 5);
        e += 5;
    }
    *e++ = '1';
    memset(e, '}', 64);
    e[64] = '\0';
    check_bytes(buf, 3 * 64 + 1, exp);
    buf[3 * 64] = 0x81;
    buf[3 * 65] = 0x01;
    assert_int_equal(write_raw(buf, 3 * 65 + 1), RC_ERR_INVALID);
    /* a key counts as one level deeper, like a value */
    memset(buf, 0x91, 63);
    memcpy(buf + 63, "\x81\x91\x01\x02", 4);
    assert_int_equal(write_raw(buf, 67), RC_ERR_INVALID);
    memcpy(buf + 63, "\x81\x01\x02", 3);
    assert_int_equal(write_raw(buf, 66), RC_OK);
    /* 100000 levels fail cleanly, without blowing the stack */
    uint8_t *deep = malloc(100001);
    memset(deep, 0x91, 100000);
    deep[100000] = 0xc0;
    assert_int_equal(write_raw(deep, 100001), RC_ERR_INVALID);
    free(deep);
}

static void test_json_c1_invalid(void **state) {
    (void)state;
    assert_int_equal(write_raw("\xc1", 1), RC_ERR_INVALID);
    assert_int_equal(write_raw("\x92\x01\xc1", 3), RC_ERR_INVALID);
    assert_int_equal(write_raw("\x81\xc1\x01", 3), RC_ERR_INVALID);
    assert_int_equal(write_raw("\x81\xa1k\xc1", 4), RC_ERR_INVALID);
    /* out is left as it was */
    rc_buf_t out = RC_BUF_INIT;
    rc_buf_puts(&out, "keep");
    assert_int_equal(rc_json_write(&out, (const uint8_t *)"\x93\x01\x02\xc1", 4, NULL),
                     RC_ERR_INVALID);
    assert_int_equal(out.len, 4);
    rc_buf_free(&out);
}

/* A map holding every msgpack type in every encoding. */
static void pack_every_type(mp_t *m) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 31);
    mp_str(m, "nil");
    msgpack_pack_nil(pk);
    mp_str(m, "t");
    msgpack_pack_true(pk);
    mp_str(m, "f");
    msgpack_pack_false(pk);
    mp_str(m, "pfix");
    msgpack_pack_int(pk, 5);
    mp_str(m, "nfix");
    msgpack_pack_int(pk, -5);
    mp_str(m, "ints");
    msgpack_pack_array(pk, 8);
    msgpack_pack_fix_uint8(pk, 200);
    msgpack_pack_fix_uint16(pk, 60000);
    msgpack_pack_fix_uint32(pk, 4000000000u);
    msgpack_pack_fix_uint64(pk, UINT64_MAX);
    msgpack_pack_fix_int8(pk, -100);
    msgpack_pack_fix_int16(pk, -30000);
    msgpack_pack_fix_int32(pk, INT32_MIN);
    msgpack_pack_fix_int64(pk, INT64_MIN);
    mp_str(m, "f32");
    msgpack_pack_float(pk, 0.25f);
    mp_str(m, "f64");
    msgpack_pack_double(pk, 1.0 / 3);
    mp_str(m, "fixstr");
    mp_str(m, "h\xc3\xa9\n");
    char s300[300];
    memset(s300, 's', sizeof s300);
    mp_str(m, "str8");
    msgpack_pack_str_with_body(pk, s300, 40);
    mp_str(m, "str16");
    msgpack_pack_str_with_body(pk, s300, 300);
    mp_str(m, "str32");
    /* clang-format off */
    mp_raw(m, "\xdb\x00\x00\x00\x03" "abc", 8);
    /* clang-format on */
    mp_str(m, "bin8");
    msgpack_pack_bin_with_body(pk, "\x00\x01\x02", 3);
    mp_str(m, "bin16");
    msgpack_pack_bin_with_body(pk, s300, 300);
    mp_str(m, "bin32");
    /* clang-format off */
    mp_raw(m, "\xc6\x00\x00\x00\x02" "ab", 7);
    /* clang-format on */
    mp_str(m, "fixext");
    msgpack_pack_array(pk, 5);
    msgpack_pack_ext_with_body(pk, "1", 1, RC_EXT_DECIMAL);
    msgpack_pack_ext_with_body(pk, "12", 2, RC_EXT_DECIMAL);
    msgpack_pack_ext_with_body(pk, "1234", 4, 99);
    msgpack_pack_ext_with_body(pk, "2024-02-", 8, RC_EXT_DATE);
    msgpack_pack_ext_with_body(pk, "2024-02-29T13:01", 16, RC_EXT_DATETIME);
    mp_str(m, "ext8");
    msgpack_pack_ext_with_body(pk, "{\"a\":1}", 7, RC_EXT_JSON);
    mp_str(m, "ext16");
    msgpack_pack_ext_with_body(pk, s300, 300, RC_EXT_TIME);
    mp_str(m, "ext32");
    /* clang-format off */
    mp_raw(m, "\xc9\x00\x00\x00\x03\x01" "1.5", 9);
    /* clang-format on */
    mp_str(m, "arr16");
    msgpack_pack_array(pk, 16);
    for (int i = 0; i < 16; i++) {
        msgpack_pack_int(pk, i * 1000);
    }
    mp_str(m, "arr32");
    mp_raw(m, "\xdd\x00\x00\x00\x02\xc2\xc3", 7);
    mp_str(m, "map16");
    msgpack_pack_map(pk, 16);
    for (int i = 0; i < 16; i++) {
        char k[3] = {'k', (char)('a' + i), 0};
        mp_str(m, k);
        msgpack_pack_int(pk, -i * 1000);
    }
    mp_str(m, "map32");
    mp_raw(m, "\xdf\x00\x00\x00\x01\xa1z\x90", 8);
    msgpack_pack_int(pk, 77); /* a non-string key */
    msgpack_pack_array(pk, 1);
    msgpack_pack_double(pk, 2.5);
    mp_str(m, "nested");
    msgpack_pack_array(pk, 2);
    msgpack_pack_map(pk, 1);
    mp_str(m, "x");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 0);
    msgpack_pack_map(pk, 0);
    mp_str(m, "u2028");
    mp_str(m, "\xe2\x80\xa8");
    mp_str(m, "bad");
    mp_str(m, "\xff\xc3");
    mp_str(m, "emoji");
    mp_str(m, "\xf0\x9f\x98\x80");
    mp_str(m, "neg64");
    msgpack_pack_int64(pk, -5000000000LL);
    mp_str(m, "u64");
    msgpack_pack_uint64(pk, 5000000000ULL);
    mp_str(m, "last");
    msgpack_pack_str_with_body(pk, "", 0);
}

static void test_json_every_type_document(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    pack_every_type(&m);
    rc_buf_t out = RC_BUF_INIT;
    size_t used = 0;
    assert_int_equal(rc_json_write(&out, (const uint8_t *)m.sb.data, m.sb.size, &used), RC_OK);
    assert_int_equal(used, m.sb.size);
    assert_true(json_valid(out.data, out.len));
    assert_int_equal(rc_buf_putc(&out, '\0'), RC_OK);
    const char *want_parts[] = {
        "{\"nil\":null,\"t\":true,\"f\":false,\"pfix\":5,\"nfix\":-5,",
        "\"ints\":[200,60000,4000000000,18446744073709551615,-100,-30000,-2147483648,"
        "-9223372036854775808],",
        "\"f32\":0.25,\"f64\":0.3333333333333333,\"fixstr\":\"h\xc3\xa9\\n\",",
        "\"str32\":\"abc\",\"bin8\":\"AAEC\",",
        "\"bin32\":\"YWI=\",\"fixext\":[\"1\",\"12\",\"MTIzNA==\",\"2024-02-\","
        "\"2024-02-29T13:01\"],\"ext8\":{\"a\":1},",
        "\"ext32\":\"1.5\",\"arr16\":[0,1000,2000,3000,4000,5000,6000,7000,8000,9000,10000,"
        "11000,12000,13000,14000,15000],\"arr32\":[false,true],",
        "\"kp\":-15000},\"map32\":{\"z\":[]},\"77\":[2.5],\"nested\":[{\"x\":[[]]},{}],"
        "\"u2028\":\"\\u2028\",\"bad\":\"\\ufffd\\ufffd\",\"emoji\":\"\xf0\x9f\x98\x80\","
        "\"neg64\":-5000000000,\"u64\":5000000000,\"last\":\"\"}",
    };
    for (size_t i = 0; i < sizeof want_parts / sizeof want_parts[0]; i++) {
        if (!strstr(out.data, want_parts[i])) {
            print_error("missing %s\nin %s\n", want_parts[i], out.data);
            fail();
        }
    }
    rc_buf_free(&out);
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_json_truncated_at_every_cut(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    pack_every_type(&m);
    const uint8_t *doc = (const uint8_t *)m.sb.data;
    rc_buf_t out = RC_BUF_INIT;
    rc_buf_puts(&out, "prefix");
    for (size_t cut = 0; cut < m.sb.size; cut++) {
        /* a copy of exactly cut bytes, so ASan catches any read past the end */
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, doc, cut);
        rc_err_t err = rc_json_write(&out, part, cut, NULL);
        if (err != RC_ERR_TRUNCATED) {
            print_error("cut at %zu of %zu: %d\n", cut, m.sb.size, err);
            fail();
        }
        assert_int_equal(out.len, 6);
        assert_int_equal(rc_json_write_event(&out, part, cut, NULL), RC_ERR_TRUNCATED);
        assert_int_equal(out.len, 6);
        free(part);
    }
    size_t used = 0;
    assert_int_equal(rc_json_write(&out, doc, m.sb.size, &used), RC_OK);
    assert_int_equal(used, m.sb.size);
    rc_buf_free(&out);
    msgpack_sbuffer_destroy(&m.sb);
}

/* Byte strings read best on one line. */
/* clang-format off */
static void test_json_truncated_lengths_beyond_input(void **state) {
    (void)state;
    /* headers that promise more than there is; huge counts fail fast */
    assert_int_equal(write_raw("\xdd\xff\xff\xff\xff\x01", 6), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\xdf\xff\xff\xff\xff\xa1k", 7), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\xdb\xff\xff\xff\xff" "abc", 8), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\xc6\xff\xff\xff\xff" "abc", 8), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\xc9\xff\xff\xff\xff\x01" "abc", 9), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\xc7\x05\x01" "abc", 6), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\xc7\x00", 2), RC_ERR_TRUNCATED); /* no type byte */
    assert_int_equal(write_raw("\xd8\x01" "123456789012345", 17), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\xa5" "abcd", 5), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\x82\xa1k\x01", 4), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("\xcb\x00\x00", 3), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw("", 0), RC_ERR_TRUNCATED);
    assert_int_equal(write_raw(NULL, 0), RC_ERR_TRUNCATED);
}
/* clang-format on */

static void test_json_used_stops_after_first_object(void **state) {
    (void)state;
    const uint8_t two[] = {0x92, 0x01, 0xa1, 'x', 0xc3, 0xc0};
    rc_buf_t out = RC_BUF_INIT;
    size_t used = 0;
    assert_int_equal(rc_json_write(&out, two, sizeof two, &used), RC_OK);
    assert_int_equal(used, 4);
    assert_int_equal(rc_json_write(&out, two + used, sizeof two - used, &used), RC_OK);
    assert_int_equal(used, 1);
    assert_int_equal(rc_buf_putc(&out, '\0'), RC_OK);
    assert_string_equal(out.data, "[1,\"x\"]true");
    rc_buf_free(&out);
}

/* ---- events ------------------------------------------------------------------------------- */

static void pack_event(mp_t *m, int kafka_pos) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 4);
    for (int i = 0; i < 4; i++) {
        if (i == kafka_pos) {
            mp_str(m, "kafka");
            msgpack_pack_map(pk, 3);
            mp_str(m, "topic");
            mp_str(m, "shop.users");
            mp_str(m, "key");
            msgpack_pack_map(pk, 1);
            mp_str(m, "id");
            msgpack_pack_int(pk, 7);
            mp_str(m, "headers");
            msgpack_pack_map(pk, 0);
            continue;
        }
        switch (i - (i > kafka_pos)) {
        case 0:
            mp_str(m, "table");
            mp_str(m, "users");
            break;
        case 1:
            mp_str(m, "after");
            msgpack_pack_array(pk, 1);
            msgpack_pack_map(pk, 2);
            mp_str(m, "id");
            msgpack_pack_int(pk, 7);
            mp_str(m, "kafka"); /* a column named kafka stays */
            mp_str(m, "yes");
            break;
        default:
            mp_str(m, "meta");
            msgpack_pack_map(pk, 1);
            mp_str(m, "binlog_pos");
            msgpack_pack_uint32(pk, 4);
            break;
        }
    }
}

static void test_json_event_leaves_out_kafka(void **state) {
    (void)state;
    const char *want = "{\"table\":\"users\",\"after\":[{\"id\":7,\"kafka\":\"yes\"}],"
                       "\"meta\":{\"binlog_pos\":4}}";
    for (int pos = 0; pos < 4; pos++) {
        mp_t m;
        mp_init(&m);
        pack_event(&m, pos);
        rc_buf_t out = RC_BUF_INIT;
        size_t used = 0;
        assert_int_equal(rc_json_write_event(&out, (const uint8_t *)m.sb.data, m.sb.size, &used),
                         RC_OK);
        assert_int_equal(used, m.sb.size);
        assert_int_equal(rc_buf_putc(&out, '\0'), RC_OK);
        assert_string_equal(out.data, want);
        /* the plain writer keeps it */
        rc_buf_reset(&out);
        assert_int_equal(rc_json_write(&out, (const uint8_t *)m.sb.data, m.sb.size, NULL), RC_OK);
        assert_int_equal(rc_buf_putc(&out, '\0'), RC_OK);
        assert_non_null(strstr(out.data, "\"kafka\":{\"topic\":\"shop.users\""));
        rc_buf_free(&out);
        msgpack_sbuffer_destroy(&m.sb);
    }
    CHECK_RAW("\x80", "{}");
    rc_buf_t out = RC_BUF_INIT;
    assert_int_equal(rc_json_write_event(&out, (const uint8_t *)"\x81\xa5kafka\xc0", 8, NULL),
                     RC_OK);
    assert_int_equal(rc_buf_putc(&out, '\0'), RC_OK);
    assert_string_equal(out.data, "{}");
    rc_buf_free(&out);
}

static void test_json_event_errors(void **state) {
    (void)state;
    rc_buf_t out = RC_BUF_INIT;
    assert_int_equal(rc_json_write_event(&out, (const uint8_t *)"\x91\x01", 2, NULL),
                     RC_ERR_INVALID);
    assert_int_equal(rc_json_write_event(&out, (const uint8_t *)"\xa1x", 2, NULL), RC_ERR_INVALID);
    /* a broken kafka value is an error too, though it is not written */
    assert_int_equal(rc_json_write_event(&out, (const uint8_t *)"\x81\xa5kafka\xc1", 8, NULL),
                     RC_ERR_INVALID);
    assert_int_equal(rc_json_write_event(&out, (const uint8_t *)"\x81\xa5kafka\x92\x01", 9, NULL),
                     RC_ERR_TRUNCATED);
    assert_int_equal(out.len, 0);
    rc_buf_free(&out);
}

/* ---- templates (rc_json_write_event_tpl) ---------------------------------------------------- */

/* Writes ev[0..n) with and without the templates t: the same result, the same bytes, the same
 * size used; want (when not NULL) is the text. Returns the error. */
static rc_err_t check_tpl(rc_json_tpl_t *t, const void *ev, size_t n, const char *want) {
    /* a copy of exactly n bytes, so ASan catches a 16-byte look past the end */
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, ev, n);
    rc_buf_t plain = RC_BUF_INIT, got = RC_BUF_INIT;
    rc_buf_puts(&got, "x");
    size_t used_plain = 0, used_got = 0;
    rc_err_t err = rc_json_write_event(&plain, copy, n, &used_plain);
    rc_err_t err_got = rc_json_write_event_tpl(&got, t, copy, n, NULL, &used_got);
    assert_int_equal(err_got, err);
    if (err == RC_OK) {
        assert_int_equal(used_got, used_plain);
        assert_int_equal(got.len, 1 + plain.len);
        assert_memory_equal(got.data + 1, plain.data, plain.len);
        /* with the event's end known (rc_msg's walk), kafka is not read again */
        rc_buf_reset(&got);
        assert_int_equal(rc_json_write_event_tpl(&got, t, copy, n, copy + used_plain, &used_got),
                         RC_OK);
        assert_int_equal(used_got, used_plain);
        assert_int_equal(got.len, plain.len);
        assert_memory_equal(got.data, plain.data, plain.len);
        if (want) {
            assert_int_equal(rc_buf_putc(&plain, '\0'), RC_OK);
            assert_string_equal(plain.data, want);
        }
    } else {
        assert_int_equal(got.len, 1); /* put back */
    }
    rc_buf_free(&plain);
    rc_buf_free(&got);
    free(copy);
    return err;
}

/* An event of table schema.table whose "after" row has the columns names[0..n) with the
 * values 1..n (column 1 a string, column 2 nil), then meta and kafka. */
static void pack_table_event(mp_t *m, const char *schema, const char *table,
                             const char *const *names, size_t n) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 7);
    mp_str(m, "schema");
    mp_str(m, schema);
    mp_str(m, "table");
    mp_str(m, table);
    mp_str(m, "action");
    mp_str(m, "update");
    mp_str(m, "before");
    msgpack_pack_array(pk, 0);
    mp_str(m, "after");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        mp_str(m, names[i]);
        if (i == 1) {
            mp_str(m, "s\"1");
        } else if (i == 2) {
            msgpack_pack_nil(pk);
        } else {
            msgpack_pack_int64(pk, (int64_t)i * (i % 2 ? -1000003 : 1) + 1);
        }
    }
    mp_str(m, "meta");
    msgpack_pack_map(pk, 1);
    mp_str(m, "binlog_pos");
    msgpack_pack_uint64(pk, 4);
    mp_str(m, "kafka");
    msgpack_pack_map(pk, 1);
    mp_str(m, "topic");
    mp_str(m, "t");
}

static void check_table_event(rc_json_tpl_t *t, const char *table, const char *const *names,
                              size_t n, const char *want) {
    mp_t m;
    mp_init(&m);
    pack_table_event(&m, "shop", table, names, n);
    assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, want), RC_OK);
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_json_tpl_same_table_other_keys(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    static const char *const ab[] = {"id", "name"}, *const ac[] = {"id", "email", "gone"};
    for (int round = 0; round < 3; round++) {
        check_table_event(t, "users", ab, 2,
                          "{\"schema\":\"shop\",\"table\":\"users\",\"action\":\"update\","
                          "\"before\":[],\"after\":[{\"id\":1,\"name\":\"s\\\"1\"}],"
                          "\"meta\":{\"binlog_pos\":4}}");
        /* the same table with other keys in the same places: none of ab's text may stay */
        check_table_event(t, "users", ac, 3,
                          "{\"schema\":\"shop\",\"table\":\"users\",\"action\":\"update\","
                          "\"before\":[],\"after\":[{\"id\":1,\"email\":\"s\\\"1\",\"gone\":null}],"
                          "\"meta\":{\"binlog_pos\":4}}");
    }
    /* a key that is a prefix of the template's, and one the template is a prefix of */
    static const char *const p1[] = {"i", "emai"}, *const p2[] = {"idx", "emails"};
    check_table_event(t, "users", p1, 2, NULL);
    check_table_event(t, "users", p2, 2, NULL);
    check_table_event(t, "users", ac, 3, NULL);
    rc_json_tpl_free(t);
}

static void test_json_tpl_keys_needing_escapes(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    static const char *const odd[] = {
        "we\"ird",
        "back\\slash",
        "tab\tkey",
        "caf\xc3\xa9",
        "bad\xff",
        "\xe2\x80\xa8",
        "a_key_of_exactly_thirty_one_byt",
        "a key longer than thirty-one bytes, a str8",
        "",
    };
    for (int round = 0; round < 3; round++) {
        check_table_event(t, "odd", odd, sizeof odd / sizeof odd[0],
                          "{\"schema\":\"shop\",\"table\":\"odd\",\"action\":\"update\","
                          "\"before\":[],\"after\":[{\"we\\\"ird\":1,\"back\\\\slash\":\"s\\\"1\","
                          "\"tab\\tkey\":null,\"caf\xc3\xa9\":-3000008,\"bad\\ufffd\":5,"
                          "\"\\u2028\":-5000014,\"a_key_of_exactly_thirty_one_byt\":7,"
                          "\"a key longer than thirty-one bytes, a str8\":-7000020,\"\":9}],"
                          "\"meta\":{\"binlog_pos\":4}}");
    }
    /* keys that are not strings, in the row and in the event map */
    static const uint8_t nonstr[] = "\x83\xa5table\xa1x\xa5"
                                    "after\x91\x82\x01\x02\xc3\x04"
                                    "\x07\xa4meta";
    for (int round = 0; round < 2; round++) {
        assert_int_equal(check_tpl(t, nonstr, sizeof nonstr - 1,
                                   "{\"table\":\"x\",\"after\":[{\"1\":2,\"true\":4}],"
                                   "\"7\":\"meta\"}"),
                         RC_OK);
    }
    rc_json_tpl_free(t);
}

static void test_json_tpl_key_set_change_after_ddl(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    static const char *const v1[] = {"id", "name", "price"};
    static const char *const v2[] = {"id", "name", "price", "added"};  /* ADD COLUMN */
    static const char *const v3[] = {"id", "price", "added"};          /* DROP COLUMN name */
    static const char *const v4[] = {"id", "title", "price", "added"}; /* ADD .. AFTER id */
    for (int i = 0; i < 4; i++) {
        check_table_event(t, "orders", v1, 3, NULL);
    }
    check_table_event(t, "orders", v2, 4,
                      "{\"schema\":\"shop\",\"table\":\"orders\",\"action\":\"update\","
                      "\"before\":[],\"after\":[{\"id\":1,\"name\":\"s\\\"1\",\"price\":null,"
                      "\"added\":-3000008}],\"meta\":{\"binlog_pos\":4}}");
    check_table_event(t, "orders", v2, 4, NULL);
    check_table_event(t, "orders", v3, 3,
                      "{\"schema\":\"shop\",\"table\":\"orders\",\"action\":\"update\","
                      "\"before\":[],\"after\":[{\"id\":1,\"price\":\"s\\\"1\",\"added\":null}],"
                      "\"meta\":{\"binlog_pos\":4}}");
    check_table_event(t, "orders", v4, 4, NULL);
    check_table_event(t, "orders", v1, 3, NULL);
    /* many tables, more than there are slots: some share one */
    static const char *const cols[] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"};
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 600; i++) {
            char name[32];
            snprintf(name, sizeof name, "t%d", i);
            check_table_event(t, name, cols + i % 3, 3 + (size_t)(i % 4), NULL);
        }
    }
    rc_json_tpl_free(t);
}

/* A row wider than the templates go (1024 columns): the rest are written without. */
static void test_json_tpl_wider_than_templates(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    static char names[1100][8];
    const char *cols[1100];
    for (int i = 0; i < 1100; i++) {
        snprintf(names[i], sizeof names[i], "c%d", i);
        cols[i] = names[i];
    }
    for (int round = 0; round < 2; round++) {
        check_table_event(t, "wide", cols, 1100, NULL);
    }
    rc_json_tpl_free(t);
}

/* Packs value number w: each a scalar a template may keep with its key, a few that differ from
 * another by one byte or by length, and some it may not keep (too long, not a scalar). */
static void pack_kv_value(mp_t *m, int w) {
    msgpack_packer *pk = &m->pk;
    switch (w) {
    case 0:
        mp_str(m, "ab");
        break;
    case 1:
        mp_str(m, "ac");
        break;
    case 2:
        mp_str(m, "abc");
        break;
    case 3:
        msgpack_pack_int64(pk, 5);
        break;
    case 4:
        msgpack_pack_int64(pk, 6);
        break;
    case 5:
        msgpack_pack_nil(pk);
        break;
    case 6:
        msgpack_pack_false(pk);
        break;
    case 7:
        msgpack_pack_array(pk, 0);
        break;
    case 8:
        msgpack_pack_array(pk, 1), msgpack_pack_int64(pk, 5);
        break;
    case 9:
        msgpack_pack_map(pk, 0);
        break;
    case 10:
        mp_str(m, "needs \"escapes\"\n");
        break;
    case 11:
        mp_str(m, "a string of thirty bytes......");
        break;
    case 12:
        msgpack_pack_double(pk, 2.5);
        break;
    case 13:
        msgpack_pack_uint64(pk, 1ULL << 40);
        break;
    default:
        msgpack_pack_int64(pk, -1);
        break;
    }
}

/* An event whose schema, action, row columns and meta values are value number w (the table
 * stays "t"); with at_end, the row is the last thing in the buffer (no 32 bytes to compare). */
static void check_kv_event(rc_json_tpl_t *t, int w, bool at_end) {
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, at_end ? 4 : 6);
    mp_str(&m, "schema"), pack_kv_value(&m, w);
    mp_str(&m, "table"), mp_str(&m, "t");
    mp_str(&m, "action"), pack_kv_value(&m, w);
    if (!at_end) {
        mp_str(&m, "meta"), msgpack_pack_map(&m.pk, 2);
        mp_str(&m, "pipeline"), pack_kv_value(&m, w);
        mp_str(&m, "a_meta_key_of_twenty_six_b"), pack_kv_value(&m, w); /* 27 + value > 32 */
        mp_str(&m, "kafka"), msgpack_pack_map(&m.pk, 1);
        mp_str(&m, "topic"), mp_str(&m, "t");
    }
    mp_str(&m, "after"), msgpack_pack_array(&m.pk, 1), msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "id"), pack_kv_value(&m, w);
    mp_str(&m, "v"), pack_kv_value(&m, w);
    assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
    msgpack_sbuffer_destroy(&m.sb);
}

/* Values kept with their keys: every change of value after 1, 2, 17 and 40 equal rows, in the
 * event map, meta and a row, with and without room to compare 32 bytes; each one's text is
 * compared with the writer's without templates. */
static void test_json_tpl_values_that_change(void **state) {
    (void)state;
    enum { KINDS = 15 };
    static const int runs[] = {1, 2, 17, 40};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        rc_json_tpl_t *t = rc_json_tpl_new();
        assert_non_null(t);
        for (int a = 0; a < KINDS; a++) {
            for (int b = 0; b < KINDS; b++) {
                for (int i = 0; i < runs[r]; i++) {
                    check_kv_event(t, a, false);
                }
                check_kv_event(t, b, false);
                check_kv_event(t, b, true);
                check_kv_event(t, a, false);
            }
        }
        rc_json_tpl_free(t);
    }
}

/* An event of npos leading members schema, table, action, before (as the run of an event
 * template holds them), then, when full, after and meta; with trail, more bytes follow the map
 * in the buffer: the members the run covers that the map does not have. */
static void pack_pre_event(mp_t *m, uint32_t npos, bool full, const char *table, bool trail) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, npos + (full ? 2 : 0));
    const char *kv[4][2] = {{"schema", "shop"}, {"table", table}, {"action", "insert"}};
    for (uint32_t i = 0; i < npos; i++) {
        mp_str(m, i < 3 ? kv[i][0] : "before");
        if (i < 3) {
            mp_str(m, kv[i][1]);
        } else {
            msgpack_pack_array(pk, 0);
        }
    }
    if (full) {
        mp_str(m, "after"), msgpack_pack_array(pk, 1), msgpack_pack_map(pk, 2);
        mp_str(m, "id"), msgpack_pack_int(pk, 7);
        mp_str(m, "name"), mp_str(m, table);
        mp_str(m, "meta"), msgpack_pack_map(pk, 1);
        mp_str(m, "pipeline"), mp_str(m, "p");
    }
    if (trail) { /* what the run covers past npos (up to after's key), then room for its
                    64-byte compare */
        for (uint32_t i = npos; i < 4; i++) {
            mp_str(m, i < 3 ? kv[i][0] : "before");
            if (i < 3) {
                mp_str(m, kv[i][1]);
            } else {
                msgpack_pack_array(pk, 0);
            }
        }
        mp_str(m, "after"), msgpack_pack_array(pk, 0);
        mp_str(m, "sixty-four bytes of padding after the members the run covers....");
    }
}

/* The run of an event's leading members that stay the same (schema, table, action, before,
 * and after's key): an event whose map has fewer members than the run, though the bytes after
 * it are the run's, ends where its map ends; another table or another action, or the run's
 * members in another order, goes the way of the positions; a table whose name is longer than
 * the run can hold. */
static void test_json_tpl_event_run(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    static const char *const tables[] = {"orders", "items", "a_table_name_of_thirty_bytes__"};
    for (int round = 0; round < 3; round++) {
        for (size_t tb = 0; tb < sizeof tables / sizeof tables[0]; tb++) {
            for (int i = 0; i < 4; i++) {
                mp_t m;
                mp_init(&m);
                pack_pre_event(&m, 4, true, tables[tb], false);
                assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
                msgpack_sbuffer_destroy(&m.sb);
            }
            for (uint32_t npos = 0; npos <= 4; npos++) {
                for (int k = 0; k < 4; k++) { /* the whole run learnt again before each */
                    mp_t m;
                    mp_init(&m);
                    pack_pre_event(&m, 4, true, tables[tb], false);
                    assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
                    msgpack_sbuffer_destroy(&m.sb);
                    mp_init(&m);
                    if (k == 1) {
                        pack_pre_event(&m, npos, false, tables[tb], true);
                    } else if (k == 3) {
                        pack_pre_event(&m, npos, round == 1, tables[tb], false);
                    } else {
                        pack_pre_event(&m, 4, true, tables[tb], false);
                    }
                    assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
                    msgpack_sbuffer_destroy(&m.sb);
                }
            }
        }
    }
    /* a fresh run (a run that hits is not learnt again) with after's key, then a map of
     * fewer members followed by the bytes of the run's other members and after */
    for (uint32_t npos = 0; npos <= 4; npos++) {
        rc_json_tpl_t *t2 = rc_json_tpl_new();
        assert_non_null(t2);
        for (int k = 0; k < 4; k++) {
            mp_t m;
            mp_init(&m);
            pack_pre_event(&m, k < 3 ? 4 : npos, k < 3, "orders", k == 3);
            assert_int_equal(check_tpl(t2, m.sb.data, m.sb.size, NULL), RC_OK);
            msgpack_sbuffer_destroy(&m.sb);
        }
        rc_json_tpl_free(t2);
    }
    /* the run learnt from {schema, table, ...}, then an event with table first */
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 3);
    mp_str(&m, "table"), mp_str(&m, "orders");
    mp_str(&m, "schema"), mp_str(&m, "shop");
    mp_str(&m, "after"), msgpack_pack_array(&m.pk, 1), msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "id"), msgpack_pack_int(&m.pk, 1);
    mp_raw(&m, "sixty-four bytes of padding after the members the run covers....", 64);
    assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
    msgpack_sbuffer_destroy(&m.sb);
    rc_json_tpl_free(t);
}

/* A templated map writes each member with its ',' and makes the first one the '{': an empty
 * row, a first key that is not a string, a first key with something to escape, one that is
 * its position's template with and without its value, and meta empty, in turn and repeated. */
static void test_json_tpl_first_member_forms(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    static const struct {
        const char *row; /* msgpack of the row map */
        size_t n;
        const char *want;
    } rows[] = {
        {"\x80", 1, "{}"},
        {"\x82\x01\xa1x\xa1"
         "a\x01",
         7, "{\"1\":\"x\",\"a\":1}"},
        {"\x82\xa3q\"k\x01\xa1"
         "b\x02",
         9, "{\"q\\\"k\":1,\"b\":2}"},
        {"\x81\xa1"
         "a\x01",
         4, "{\"a\":1}"},
        {"\x81\xa1"
         "a\x02",
         4, "{\"a\":2}"},
    };
    for (int round = 0; round < 3; round++) {
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            for (int meta_empty = 0; meta_empty < 2; meta_empty++) {
                mp_t m;
                mp_init(&m);
                msgpack_pack_map(&m.pk, 4);
                mp_str(&m, "table");
                mp_str(&m, "f");
                mp_str(&m, "after");
                msgpack_pack_array(&m.pk, 1);
                mp_raw(&m, rows[r].row, rows[r].n);
                mp_str(&m, "meta");
                if (meta_empty) {
                    msgpack_pack_map(&m.pk, 0);
                } else {
                    msgpack_pack_map(&m.pk, 1);
                    mp_str(&m, "server_id");
                    msgpack_pack_uint32(&m.pk, 7);
                }
                mp_str(&m, "kafka");
                msgpack_pack_map(&m.pk, 0);
                char want[128];
                snprintf(want, sizeof want, "{\"table\":\"f\",\"after\":[%s],\"meta\":%s}",
                         rows[r].want, meta_empty ? "{}" : "{\"server_id\":7}");
                assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, want), RC_OK);
                msgpack_sbuffer_destroy(&m.sb);
            }
        }
    }
    rc_json_tpl_free(t);
}

static void test_json_tpl_rows_and_maps_every_form(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    /* a row of 20 columns (map16), two rows per side, a row that is not a map, meta not a map,
     * before as array16, every integer width and value kind at a templated position */
    for (int round = 0; round < 3; round++) {
        mp_t m;
        mp_init(&m);
        msgpack_packer *pk = &m.pk;
        msgpack_pack_map(pk, 5);
        mp_str(&m, "table");
        mp_str(&m, "wide");
        mp_str(&m, "after");
        msgpack_pack_array(pk, 3);
        for (int r = 0; r < 2; r++) {
            msgpack_pack_map(pk, 20);
            for (int c = 0; c < 20; c++) {
                char name[32];
                /* the nil's byte past a 32-byte segment's first 16 */
                snprintf(name, sizeof name, c == 3 ? "col%d_longer_name" : "col%d", c);
                mp_str(&m, name);
                switch ((c + round) % 10) {
                case 0:
                    msgpack_pack_uint8(pk, 200);
                    break;
                case 1:
                    msgpack_pack_int16(pk, -300);
                    break;
                case 2:
                    msgpack_pack_uint32(pk, 4000000000u);
                    break;
                case 3:
                    msgpack_pack_int64(pk, INT64_MIN);
                    break;
                case 4:
                    msgpack_pack_uint64(pk, UINT64_MAX);
                    break;
                case 5:
                    msgpack_pack_true(pk);
                    break;
                case 6:
                    msgpack_pack_false(pk);
                    break;
                case 7:
                    msgpack_pack_double(pk, 1.5);
                    break;
                case 8:
                    msgpack_pack_fix_int8(pk, -5);
                    break;
                default:
                    mp_str(&m, "a string longer than thirty-two bytes, \"quoted\"");
                    break;
                }
            }
        }
        msgpack_pack_int(pk, 5);
        mp_str(&m, "meta");
        msgpack_pack_array(pk, 1);
        msgpack_pack_int(pk, 1);
        mp_str(&m, "before");
        mp_raw(&m, "\xdc\x00\x01\x81\xa2id\x01", 8);
        mp_str(&m, "kafka");
        msgpack_pack_nil(pk);
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        /* cut anywhere: the same error as without templates, out put back */
        for (size_t cut = 0; cut < m.sb.size; cut++) {
            assert_int_not_equal(check_tpl(t, m.sb.data, cut, NULL), RC_OK);
        }
        msgpack_sbuffer_destroy(&m.sb);
    }
    rc_json_tpl_free(t);
}

/* ---- round trip of random documents ------------------------------------------------------- */

/* Strings are drawn from tokens whose JSON form is known. */
static const char *const k_tok_in[] = {"a",
                                       "Z",
                                       " ",
                                       "\"",
                                       "\\",
                                       "/",
                                       "\n",
                                       "\t",
                                       "\x01",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\xe2\x80\xa8",
                                       "\xff",
                                       "\xed\xa0\x80",
                                       "\x7f",
                                       "\0"};
static const char *const k_tok_out[] = {"a",
                                        "Z",
                                        " ",
                                        "\\\"",
                                        "\\\\",
                                        "/",
                                        "\\n",
                                        "\\t",
                                        "\\u0001",
                                        "\xc3\xa9",
                                        "\xe2\x82\xac",
                                        "\xf0\x9f\x98\x80",
                                        "\\u2028",
                                        "\\ufffd",
                                        "\\ufffd\\ufffd\\ufffd",
                                        "\x7f",
                                        "\\u0000"};

static void gen_string(uint64_t *s, msgpack_packer *pk, rc_buf_t *exp) {
    char in[128];
    size_t n = 0;
    int len = (int)(rng_next(s) % 12);
    rc_buf_putc(exp, '"');
    for (int i = 0; i < len; i++) {
        size_t t = rng_next(s) % (sizeof k_tok_in / sizeof k_tok_in[0]);
        size_t tl = k_tok_in[t][0] ? strlen(k_tok_in[t]) : 1;
        memcpy(in + n, k_tok_in[t], tl);
        n += tl;
        rc_buf_puts(exp, k_tok_out[t]);
    }
    rc_buf_putc(exp, '"');
    msgpack_pack_str_with_body(pk, in, n);
}

static void gen_value(uint64_t *s, msgpack_packer *pk, rc_buf_t *exp, int depth) {
    uint64_t r = rng_next(s);
    switch (r % (depth < 6 ? 9 : 7)) {
    case 0:
        msgpack_pack_nil(pk);
        rc_buf_puts(exp, "null");
        break;
    case 1:
        if (r & 0x100) {
            msgpack_pack_true(pk);
            rc_buf_puts(exp, "true");
        } else {
            msgpack_pack_false(pk);
            rc_buf_puts(exp, "false");
        }
        break;
    case 2: {
        int64_t v = (int64_t)rng_next(s) >> (r >> 8) % 64;
        msgpack_pack_int64(pk, v);
        rc_buf_printf(exp, "%" PRId64, v);
        break;
    }
    case 3: {
        uint64_t v = rng_next(s) >> (r >> 8) % 64;
        msgpack_pack_uint64(pk, v);
        rc_buf_printf(exp, "%" PRIu64, v);
        break;
    }
    case 4: {
        /* quarters: exact in binary, so the expected text is easy to know */
        int64_t q = (int64_t)(rng_next(s) % 4000001) - 2000000;
        char t[40];
        snprintf(t, sizeof t, "%.2f", (double)q / 4);
        size_t n = strlen(t);
        while (t[n - 1] == '0' && t[n - 2] != '.') {
            t[--n] = '\0';
        }
        msgpack_pack_double(pk, (double)q / 4);
        rc_buf_puts(exp, q == 0 ? "0.0" : t);
        break;
    }
    case 5:
    case 6:
        gen_string(s, pk, exp);
        break;
    case 7: {
        uint32_t n = (uint32_t)(rng_next(s) % 5);
        msgpack_pack_array(pk, n);
        rc_buf_putc(exp, '[');
        for (uint32_t i = 0; i < n; i++) {
            if (i) {
                rc_buf_putc(exp, ',');
            }
            gen_value(s, pk, exp, depth + 1);
        }
        rc_buf_putc(exp, ']');
        break;
    }
    default: {
        uint32_t n = (uint32_t)(rng_next(s) % 5);
        msgpack_pack_map(pk, n);
        rc_buf_putc(exp, '{');
        for (uint32_t i = 0; i < n; i++) {
            if (i) {
                rc_buf_putc(exp, ',');
            }
            gen_string(s, pk, exp);
            rc_buf_putc(exp, ':');
            gen_value(s, pk, exp, depth + 1);
        }
        rc_buf_putc(exp, '}');
        break;
    }
    }
}

static void test_json_random_documents_roundtrip(void **state) {
    (void)state;
    uint64_t s = 20240229;
    rc_buf_t exp = RC_BUF_INIT, out = RC_BUF_INIT;
    for (int i = 0; i < 3000; i++) {
        mp_t m;
        mp_init(&m);
        rc_buf_reset(&exp);
        rc_buf_reset(&out);
        gen_value(&s, &m.pk, &exp, i % 3 == 0 ? 5 : 0);
        size_t used = 0;
        assert_int_equal(rc_json_write(&out, (const uint8_t *)m.sb.data, m.sb.size, &used), RC_OK);
        assert_int_equal(used, m.sb.size);
        if (out.len != exp.len || memcmp(out.data, exp.data, out.len) != 0 ||
            !json_valid(out.data, out.len)) {
            print_error("doc %d:\n got %.*s\nwant %.*s\n", i, (int)out.len, out.data, (int)exp.len,
                        exp.data);
            fail();
        }
        msgpack_sbuffer_destroy(&m.sb);
    }
    rc_buf_free(&exp);
    rc_buf_free(&out);
}

/* ---- the fast value writer and the templates' member run ----------------------------------- */

#define N_KINDS 30

/* Packs value kind k (0..N_KINDS-1) with variant v: every msgpack type, and the values the fast
 * writer (value_at) must hand on to the generic one: escapes, UTF-8, long strings, bin, ext
 * JSON and unknown ext, maps, arrays, floats, doubles of every notation. */
static void pack_kind(mp_t *m, int k, int v) {
    msgpack_packer *pk = &m->pk;
    static char long_text[300];
    memset(long_text, 'a' + v % 26, sizeof long_text);
    switch (k) {
    case 0:
        msgpack_pack_int(pk, v % 128);
        break;
    case 1:
        msgpack_pack_int(pk, -1 - v % 32);
        break;
    case 2:
        msgpack_pack_uint8(pk, (uint8_t)(200 + v));
        break;
    case 3:
        msgpack_pack_uint64(pk, UINT64_MAX - (uint64_t)v);
        break;
    case 4:
        msgpack_pack_int64(pk, INT64_MIN + v);
        break;
    case 5:
        msgpack_pack_int32(pk, -100000 - v);
        break;
    case 6:
        msgpack_pack_nil(pk);
        break;
    case 7:
        msgpack_pack_true(pk);
        break;
    case 8:
        msgpack_pack_false(pk);
        break;
    case 9:
        msgpack_pack_double(pk, 345.453 + v);
        break;
    case 10:
        msgpack_pack_double(pk, 0.1 + 1e-17 * v + 1.0 / 3);
        break;
    case 11:
        msgpack_pack_double(pk, v % 2 ? 1.5e21 : -1e-7);
        break;
    case 12:
        msgpack_pack_double(pk, v % 2 ? NAN : -0.0);
        break;
    case 13:
        msgpack_pack_float(pk, 0.1f * (float)(v + 1));
        break;
    case 14:
        mp_str(m, v % 2 ? "" : "plain text");
        break;
    case 15:
        mp_str(m, v % 2 ? "quote \" and \\ back" : "tab\tnew\nline\x01");
        break;
    case 16:
        mp_str(m, v % 2 ? "caf\xc3\xa9 \xe2\x80\xa8" : "bad \xff\xc3 utf8");
        break;
    case 17:
        msgpack_pack_str_with_body(pk, long_text, 31 + (size_t)v % 3);
        break;
    case 18:
        msgpack_pack_str_with_body(pk, long_text, 63 + (size_t)v % 3);
        break;
    case 19:
        msgpack_pack_str_with_body(pk, long_text, 200 + (size_t)v);
        break;
    case 20:
        msgpack_pack_bin_with_body(pk, "\x00\x01\xff", 1 + (size_t)v % 3);
        break;
    case 21:
        msgpack_pack_ext_with_body(pk, "12.50", 5, RC_EXT_DECIMAL);
        break;
    case 22:
        msgpack_pack_ext_with_body(pk, "2024-02-14T21:19:07.861165", 26, RC_EXT_DATETIME);
        break;
    case 23:
        msgpack_pack_ext_with_body(pk, "{\"a\":[1]}", 9, RC_EXT_JSON);
        break;
    case 24:
        msgpack_pack_ext_with_body(pk, "\x01\x02", 2, 99);
        break;
    case 25:
        msgpack_pack_ext_with_body(pk, "a\"b", 3, RC_EXT_ENUM);
        break;
    case 26:
        msgpack_pack_map(pk, 1), mp_str(m, "k"), msgpack_pack_int(pk, v);
        break;
    case 27:
        msgpack_pack_array(pk, 2), msgpack_pack_int(pk, v), mp_str(m, "x");
        break;
    case 28:
        msgpack_pack_uint32(pk, 4000000000u + (uint32_t)v);
        break;
    default:
        msgpack_pack_uint16(pk, (uint16_t)(1000 + v));
        break;
    }
}

/* Every kind of value alone (rc_json_write: value_at first) and as the one item of an array
 * (write_value, the generic writer) gives the same text. */
static void test_json_fast_value_writer_is_the_generic_one(void **state) {
    (void)state;
    for (int k = 0; k < N_KINDS; k++) {
        for (int v = 0; v < 3; v++) {
            mp_t a, b;
            mp_init(&a);
            mp_init(&b);
            pack_kind(&a, k, v);
            msgpack_pack_array(&b.pk, 1);
            pack_kind(&b, k, v);
            rc_buf_t oa = RC_BUF_INIT, ob = RC_BUF_INIT;
            size_t ua, ub;
            assert_int_equal(rc_json_write(&oa, (const uint8_t *)a.sb.data, a.sb.size, &ua), RC_OK);
            assert_int_equal(rc_json_write(&ob, (const uint8_t *)b.sb.data, b.sb.size, &ub), RC_OK);
            assert_int_equal(ua, a.sb.size);
            assert_int_equal(ub, b.sb.size);
            assert_int_equal(ob.len, oa.len + 2);
            assert_memory_equal(ob.data + 1, oa.data, oa.len);
            rc_buf_free(&oa);
            rc_buf_free(&ob);
            msgpack_sbuffer_destroy(&a.sb);
            msgpack_sbuffer_destroy(&b.sb);
        }
    }
}

/* A table's rows whose columns take every kind of value in turn, so that the run of members
 * written from the templates (members_fast) stops at every position for every reason: a value
 * it does not write, a key other than the template's, a column more or less, the event's end
 * within 32 bytes (a short last row); the output is the same as without templates. */
/* An event for the whole-event plans: schema, table, kafka (at kafka_pos of its 5 members),
 * after (one row of PLAN_COLS columns) and meta; column c holds kind (c * 7) % 16 with variant
 * v (col4 kind 0: it changes), a constant nil, or (c == col) kind kind with variant v. */
#define PLAN_COLS 7
static void pack_plan_event(mp_t *m, int kafka_pos, int col, int kind, int v) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 5);
    for (int i = 0, done = 0; i < 5; i++) {
        if (i == kafka_pos) {
            mp_str(m, "kafka"), msgpack_pack_map(pk, 2);
            mp_str(m, "topic"), mp_str(m, "shop.plans");
            mp_str(m, "key"), msgpack_pack_map(pk, 1);
            mp_str(m, "id"), msgpack_pack_int(pk, v);
            continue;
        }
        switch (done++) {
        case 0:
            mp_str(m, "schema"), mp_str(m, "shop");
            break;
        case 1:
            mp_str(m, "table"), mp_str(m, "plans");
            break;
        case 2:
            mp_str(m, "after"), msgpack_pack_array(pk, 1), msgpack_pack_map(pk, PLAN_COLS);
            for (int c = 0; c < PLAN_COLS; c++) {
                char name[32];
                /* the nil's byte past a 32-byte segment's first 16 */
                snprintf(name, sizeof name, c == 3 ? "col%d_longer_name" : "col%d", c);
                mp_str(m, name);
                if (c == col) {
                    pack_kind(m, kind, v);
                } else if (c == 3) {
                    msgpack_pack_nil(pk);
                } else {
                    pack_kind(m, c == 4 ? 0 : (c * 7) % 16, v); /* col4 changes */
                }
            }
            break;
        default:
            mp_str(m, "meta"), msgpack_pack_map(pk, 1);
            mp_str(m, "timestamp"), msgpack_pack_uint64(pk, 1709211662000000ULL + (uint64_t)v);
            break;
        }
    }
}

/* Whole-event plans: after a table's layout settled (the same event shape many times, values
 * changing), every column and the one that stayed nil take every kind of value (maps, arrays,
 * strings to escape, floats, bin, ...); the kafka member first, inside, last; the event cut at
 * every byte. Each must be what the writer without templates writes. */
static void test_json_tpl_plan_every_kind_everywhere(void **state) {
    (void)state;
    for (int kafka_pos = 0; kafka_pos < 5; kafka_pos += 2) {
        rc_json_tpl_t *t = rc_json_tpl_new();
        assert_non_null(t);
        for (int round = 0; round < 40; round++) {
            mp_t m;
            mp_init(&m);
            pack_plan_event(&m, kafka_pos, -1, 0, round);
            assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
            msgpack_sbuffer_destroy(&m.sb);
        }
        for (int col = 0; col < PLAN_COLS; col++) {
            for (int k = 0; k < N_KINDS; k++) {
                for (int v = 0; v < 3; v++) {
                    /* the layout settled again (a plan whose nil is constant), then the kind */
                    for (int w = 0; w < 12; w++) {
                        mp_t m;
                        mp_init(&m);
                        pack_plan_event(&m, kafka_pos, -1, 0, 100 + w);
                        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
                        msgpack_sbuffer_destroy(&m.sb);
                    }
                    mp_t m;
                    mp_init(&m);
                    pack_plan_event(&m, kafka_pos, col, k, 41 + v);
                    assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
                    msgpack_sbuffer_destroy(&m.sb);
                }
            }
        }
        mp_t m;
        mp_init(&m);
        pack_plan_event(&m, kafka_pos, -1, 0, 60);
        for (size_t cut = 0; cut < m.sb.size; cut++) {
            check_tpl(t, m.sb.data, cut, NULL);
            assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        }
        msgpack_sbuffer_destroy(&m.sb);
        rc_json_tpl_free(t);
    }
}

/* An event past a plan's bounds (70,000 bytes of values) goes without one, as it was; the same
 * table's small events after it get theirs. */
static void test_json_tpl_plan_past_its_bounds(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    char *big = malloc(70001);
    assert_non_null(big);
    memset(big, 'x', 70000);
    big[70000] = '\0';
    for (int round = 0; round < 6; round++) {
        mp_t m;
        mp_init(&m);
        msgpack_packer *pk = &m.pk;
        msgpack_pack_map(pk, 3);
        mp_str(&m, "schema"), mp_str(&m, "shop");
        mp_str(&m, "table"), mp_str(&m, "big");
        mp_str(&m, "after"), msgpack_pack_array(pk, 1), msgpack_pack_map(pk, 2);
        mp_str(&m, "id"), msgpack_pack_int(pk, round);
        mp_str(&m, "body"), mp_str(&m, round < 3 ? big : "small");
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        msgpack_sbuffer_destroy(&m.sb);
    }
    free(big);
    rc_json_tpl_free(t);
}

/* Many tables taking turns (more than there are plan slots, so that they share them and the
 * slots back off), then three, and two layouts of each table alternating: every event as the
 * plain writer writes it. */
static void test_json_tpl_plan_tables_taking_turns(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    static const char *const cols[] = {"id", "name", "gone", "qty"};
    for (int round = 0; round < 2000; round++) {
        char table[16];
        snprintf(table, sizeof table, "t%d", (round * 37) % (round < 1000 ? 150 : 3));
        mp_t m;
        mp_init(&m);
        pack_table_event(&m, "shop", table, cols, 2 + (size_t)(round % 3 == 0) * 2);
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        msgpack_sbuffer_destroy(&m.sb);
    }
    rc_json_tpl_free(t);
}

/* Plans are kept in sets of two slots: two tables alternating, then 2,000 tables (more than
 * there are slots, so that sets are shared by two and by more and back off), then 300, a table
 * whose layout changes back and forth (the same key: its slot's plan replaced), tables of one
 * layout and of their own: every event as the plain writer writes it. */
static void test_json_tpl_plan_sets_of_two(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    static const char *const own[] = {"id", "name", "gone", "qty"}, *const other[] = {"id", "x"};
    uint64_t rng = 0x2545f4914f6cdd1dULL;
    for (int round = 0; round < 6000; round++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        unsigned k = round < 2000   ? (unsigned)(round % 2) * 77
                     : round < 4000 ? (unsigned)(rng % 2000)
                                    : (unsigned)(rng % 300);
        char table[16];
        snprintf(table, sizeof table, "t%u", k);
        mp_t m;
        mp_init(&m);
        if (k % 5 == 1 && (round / 40) % 2) { /* after a DDL, and back */
            pack_table_event(&m, "shop", table, other, 2);
        } else {
            pack_table_event(&m, k % 2 ? "shop" : "tenant", table, own, 2 + (k % 3 == 0) * 2);
        }
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        msgpack_sbuffer_destroy(&m.sb);
    }
    rc_json_tpl_free(t);
}

/* Integers of 9 to 16 digits are written with both 8-digit halves at once (digits8x2): every
 * 4-digit quarter of each half at its edges (0, 9, 10, 9999, 10000, 99999999, ...), every digit
 * count and its edges, as a uint and negated, in a plan's changing value (value_at) and through
 * the plain writer, against printf. */
static void test_json_tpl_ints_every_quarter_edge(void **state) {
    (void)state;
    static const uint64_t edges[] = {0,        1,        9,        10,      99,       100,
                                     999,      1000,     9999,     10000,   10001,    99999,
                                     100000,   999999,   1000000,  9999999, 10000000, 12345678,
                                     17092116, 90000009, 99990000, 99999999};
    const size_t ne = sizeof edges / sizeof edges[0];
    uint64_t vals[ne * ne + 3 * 21];
    size_t nv = 0;
    for (size_t h = 1; h < ne; h++) {
        for (size_t l = 0; l < ne; l++) {
            vals[nv++] = edges[h] * 100000000 + edges[l];
        }
    }
    for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
        vals[nv++] = p - 1, vals[nv++] = p, vals[nv++] = p + 1;
    }
    vals[nv++] = UINT64_MAX;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (size_t i = 0; i < nv; i++) {
        int64_t neg = vals[i] > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)vals[i];
        mp_t m;
        mp_init(&m);
        msgpack_pack_map(&m.pk, 3);
        mp_str(&m, "schema"), mp_str(&m, "shop");
        mp_str(&m, "table"), mp_str(&m, "ints");
        mp_str(&m, "after"), msgpack_pack_array(&m.pk, 1), msgpack_pack_map(&m.pk, 2);
        mp_str(&m, "u"), msgpack_pack_uint64(&m.pk, vals[i]);
        mp_str(&m, "n"), msgpack_pack_int64(&m.pk, neg);
        char want[128];
        snprintf(want, sizeof want,
                 "{\"schema\":\"shop\",\"table\":\"ints\",\"after\":[{\"u\":%" PRIu64
                 ",\"n\":%" PRId64 "}]}",
                 vals[i], neg);
        for (int round = 0; round < 2; round++) {
            assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, want), RC_OK);
        }
        msgpack_sbuffer_destroy(&m.sb);
    }
    rc_json_tpl_free(t);
}

static void test_json_tpl_member_run_stops_everywhere(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (int round = 0; round < 3 * N_KINDS; round++) {
        mp_t m;
        mp_init(&m);
        msgpack_packer *pk = &m.pk;
        uint32_t ncol = 12 + (round % 7 == 3);
        bool meta_last = round % 5 == 4; /* the row is the event's last bytes */
        msgpack_pack_map(pk, meta_last ? 5 : 6);
        mp_str(&m, "schema"), mp_str(&m, "shop");
        mp_str(&m, "table"), mp_str(&m, "kinds");
        mp_str(&m, "action"), mp_str(&m, "insert");
        if (!meta_last) {
            mp_str(&m, "meta"), msgpack_pack_map(pk, 3);
            mp_str(&m, "pipeline"), mp_str(&m, "p");
            mp_str(&m, "timestamp"), msgpack_pack_uint64(pk, 1709211662000000ULL + (uint64_t)round);
            mp_str(&m, "gtid"), mp_str(&m, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1000");
        }
        mp_str(&m, "before"), msgpack_pack_array(pk, 0);
        mp_str(&m, "after"), msgpack_pack_array(pk, 1);
        msgpack_pack_map(pk, ncol);
        for (uint32_t c = 0; c < ncol; c++) {
            char name[16];
            snprintf(name, sizeof name, round % 11 == 5 && c == 6 ? "other%u" : "col%u", c);
            mp_str(&m, name);
            /* most rounds keep the kinds (template hits), every third moves them on */
            pack_kind(&m, (int)(c + (uint32_t)round / 3) % N_KINDS, round);
        }
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        msgpack_sbuffer_destroy(&m.sb);
    }
    rc_json_tpl_free(t);
}

/* The JSON text of in[0..n) as the escape rules give it, one byte at a time; in holds ASCII, lone
 * bytes 0x80 and up (invalid UTF-8: U+FFFD each) and the one valid sequence seq at seq_at. */
static size_t ref_string(const uint8_t *in, size_t n, const char *seq, size_t seq_at, char *o) {
    size_t k = 0, sl = seq ? strlen(seq) : 0;
    o[k++] = '"';
    for (size_t i = 0; i < n;) {
        uint8_t c = in[i];
        if (seq && i == seq_at) {
            if (strcmp(seq, "\xe2\x80\xa8") == 0) {
                k += (size_t)sprintf(o + k, "\\u2028");
            } else {
                memcpy(o + k, seq, sl);
                k += sl;
            }
            i += sl;
            continue;
        }
        if (c == '"' || c == '\\') {
            o[k++] = '\\', o[k++] = (char)c;
        } else if (c == '\b' || c == '\t' || c == '\n' || c == '\f' || c == '\r') {
            o[k++] = '\\', o[k++] = "btn?fr"[c - '\b'];
        } else if (c < 0x20) {
            k += (size_t)sprintf(o + k, "\\u%04x", c);
        } else if (c >= 0x80) {
            k += (size_t)sprintf(o + k, "\\ufffd");
        } else {
            o[k++] = (char)c;
        }
        i++;
    }
    o[k++] = '"';
    return k;
}

/* Writes in[0..n) (inside a buffer of 160 bytes: the looks read past the string up to lim) as
 * rc_json_write_string_in and as a msgpack str through rc_json_write (value_at's inline writer
 * first), and checks both against want. */
static void check_string_in(const uint8_t *in, size_t n, const char *want, size_t wn) {
    rc_buf_t out = RC_BUF_INIT;
    assert_int_equal(rc_json_write_string_in(&out, (const char *)in, n, in + 160 - 16), RC_OK);
    assert_int_equal(out.len, wn);
    assert_memory_equal(out.data, want, wn);
    rc_buf_reset(&out);
    uint8_t mp[2 + 160];
    mp[0] = 0xd9, mp[1] = (uint8_t)n;
    memcpy(mp + 2, in, 160);
    size_t used = 0;
    assert_int_equal(rc_json_write(&out, mp, sizeof mp, &used), RC_OK);
    assert_int_equal(used, 2 + n);
    assert_int_equal(out.len, wn);
    assert_memory_equal(out.data, want, wn);
    rc_buf_free(&out);
}

/* Every byte value at every position of strings of 1 to 80 bytes (each 16-byte look's every lane,
 * the 16, 32 and 64-byte ways and past them), with plain, escaped and invalid bytes after the
 * string in the buffer, and valid UTF-8 sequences (U+2028 too) across every 16-byte edge; each
 * against a byte-at-a-time reference. Fails when one byte class of the looks is wrong. */
static void test_json_string_every_byte_at_every_position(void **state) {
    (void)state;
    static const char *const seqs[] = {"\xc3\xa9", "\xe2\x82\xac", "\xe2\x80\xa8",
                                       "\xf0\x9f\x98\x80"};
    static const uint8_t after[] = {'a', '"', 0x00, 0xff};
    uint8_t in[160];
    char want[80 * 6 + 8];
    for (size_t n = 1; n <= 80; n++) {
        for (size_t a = 0; a < sizeof after; a++) {
            memset(in, after[a], sizeof in);
            for (size_t i = 0; i < n; i++) {
                in[i] = (uint8_t)('a' + (i * 7) % 26);
            }
            for (size_t pos = 0; pos < n; pos++) {
                for (unsigned b = 0; b < 256; b += a == 0 ? 1 : 17) {
                    uint8_t keep = in[pos];
                    in[pos] = (uint8_t)b;
                    size_t wn = ref_string(in, n, NULL, 0, want);
                    check_string_in(in, n, want, wn);
                    in[pos] = keep;
                }
            }
            if (a != 0) {
                continue;
            }
            for (size_t q = 0; q < sizeof seqs / sizeof seqs[0]; q++) {
                size_t sl = strlen(seqs[q]);
                for (size_t pos = 0; pos + sl <= n; pos++) {
                    uint8_t keep[4];
                    memcpy(keep, in + pos, sl);
                    memcpy(in + pos, seqs[q], sl);
                    size_t wn = ref_string(in, n, seqs[q], pos, want);
                    check_string_in(in, n, want, wn);
                    memcpy(in + pos, keep, sl);
                }
            }
        }
    }
}

/* A uint 8, 16 or 32 (0xcc, 0xcd, 0xce: put_u32_at) of every digit count and its edges, 2^32 - 1
 * and the 9 and 10-digit values by their first digits (1 to 42), as a top value, in an array and
 * in a plan's changing value, against printf. */
/* v in each uint width that holds it (8, 16, 32, 64 bits) against printf: as a value, and as
 * a row's value in an event of table `table`, written twice by t (the second time by its plan). */
static void check_uint_every_width(rc_json_tpl_t *t, uint64_t v, const char *table) {
    for (int w = 1; w <= 8; w *= 2) {
        if (w < 8 && v >> (8 * w)) {
            continue;
        }
        uint8_t head[9] = {w == 1 ? 0xcc : w == 2 ? 0xcd : w == 4 ? 0xce : 0xcf};
        for (int b = 0; b < w; b++) {
            head[1 + b] = (uint8_t)(v >> (8 * (w - 1 - b)));
        }
        char want[160];
        snprintf(want, sizeof want, "%" PRIu64, v);
        check_bytes(head, (size_t)(1 + w), want);
        mp_t m;
        mp_init(&m);
        msgpack_pack_map(&m.pk, 3);
        mp_str(&m, "schema"), mp_str(&m, "shop");
        mp_str(&m, "table"), mp_str(&m, table);
        mp_str(&m, "after"), msgpack_pack_array(&m.pk, 1), msgpack_pack_map(&m.pk, 2);
        mp_str(&m, "u"), mp_raw(&m, head, (size_t)(1 + w));
        mp_str(&m, "w"), msgpack_pack_int(&m.pk, w);
        snprintf(want, sizeof want,
                 "{\"schema\":\"shop\",\"table\":\"%s\",\"after\":[{\"u\":%" PRIu64 ",\"w\":%d}]}",
                 table, v, w);
        for (int round = 0; round < 2; round++) {
            assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, want), RC_OK);
        }
        msgpack_sbuffer_destroy(&m.sb);
    }
}

static void test_json_uint32_heads_every_digit_count(void **state) {
    (void)state;
    uint64_t vals[256];
    size_t nv = 0;
    for (uint64_t p = 1, k = 0; k <= 9; k++, p *= 10) {
        vals[nv++] = p - 1, vals[nv++] = p, vals[nv++] = p + 1, vals[nv++] = 2 * p - 1;
    }
    for (uint64_t hi = 1; hi <= 42; hi++) {
        vals[nv++] = hi * 100000000, vals[nv++] = hi * 100000000 + 99999999;
        vals[nv++] = hi * 100000000 + 12345678;
    }
    vals[nv++] = 4294967295u, vals[nv++] = 4294967294u, vals[nv++] = 4294967200u;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (size_t i = 0; i < nv; i++) {
        if (vals[i] <= UINT32_MAX) {
            check_uint_every_width(t, vals[i], "u32");
        }
    }
    rc_json_tpl_free(t);
}

/* Doubles and floats whose shorter roundings fall on the midpoint to a neighbour (integers of
 * 2^53 to 2^57 and 2^24 to 2^28, whose 16 or 8-digit rounding is x +- ulp / 2 when their last
 * digit is 6 or 4: strtod's tie to the even significand decides), every power of two (the
 * lower neighbour half as far) and their neighbours: the text reads back and is as short as
 * printf's, now that the shortest text's read-back test is exact integers, not strtod. Fails
 * when a tie reads back for an odd significand. */
static void test_json_doubles_on_rounding_midpoints(void **state) {
    (void)state;
    for (int k = 53; k < 57; k++) {
        for (uint64_t j = 0; j < 3000; j++) {
            double x = ldexp(1.0, k) + (double)(j << (k - 52));
            check_roundtrip(x, false);
            check_roundtrip(nextafter(x, 0), false);
        }
    }
    for (int k = 24; k < 28; k++) {
        for (uint32_t j = 0; j < 3000; j++) {
            check_roundtrip((float)(ldexp(1.0, k) + (double)(j << (k - 23))), true);
        }
    }
    for (int k = -1074; k <= 1023; k++) {
        double x = ldexp(1.0, k);
        check_roundtrip(x, false);
        check_roundtrip(nextafter(x, 0), false);
        check_roundtrip(nextafter(x, INFINITY), false);
        if (k >= -149 && k <= 127) {
            check_roundtrip((float)x, true);
            check_roundtrip(nextafterf((float)x, 0), true);
        }
    }
}

/* An event whose row has an id, column x of value kind `kind` (variant v) and after it a pad
 * string of pad bytes: x's segment lies far from the event's end or close to it. */
static void pack_typed_event(mp_t *m, int kind, int v, size_t pad) {
    static char text[256];
    memset(text, 'p', sizeof text);
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 3);
    mp_str(m, "schema"), mp_str(m, "shop");
    mp_str(m, "table"), mp_str(m, "typed");
    mp_str(m, "after"), msgpack_pack_array(pk, 1), msgpack_pack_map(pk, 3);
    mp_str(m, "id"), msgpack_pack_int(pk, v);
    mp_str(m, "x");
    /* past pack_kind's: heads that are next to a typed segment's kind: another ext type's
     * text (JSON, unknown), a str 16 and a bin 8 of plain text, a fixext 4 DECIMAL; and an ext 8
     * DECIMAL that changes */
    static const char *const extra[] = {"\xc7\x07\x06[1,2,3]",
                                        "\xc7\x03\x63"
                                        "abc",
                                        "\xda\x00\x03"
                                        "abc",
                                        "\xc4\x03"
                                        "abc",
                                        "\xd6\x01"
                                        "1.25"};
    static const size_t extra_len[] = {10, 6, 6, 5, 6};
    if (kind < N_KINDS) {
        pack_kind(m, kind, v);
    } else if (kind == N_KINDS + 5) { /* a DECIMAL that changes */
        char dec[8] = "\xc7\x05\x01"
                      "12.5";
        dec[7] = (char)('0' + v % 10);
        mp_raw(m, dec, 8);
    } else {
        mp_raw(m, extra[kind - N_KINDS], extra_len[kind - N_KINDS]);
    }
    mp_str(m, "pad"), msgpack_pack_str_with_body(pk, text, pad);
}
#define N_TYPED_KINDS (N_KINDS + 6)

/* Whole-event plans read a changing value by the kind it had in the event the plan was learnt
 * from: column x learnt with every kind of value, then takes every kind (another kind's head
 * goes to value_at: the same text), then its own again; x's segment far from the event's end
 * and within 96 bytes of it (where it is read with every check), the event cut at every byte.
 * Each event as the plain writer writes it. */
static void test_json_tpl_plan_typed_values(void **state) {
    (void)state;
    static const size_t pads[] = {0, 7, 30, 45, 60, 75, 90, 120, 200};
    for (size_t ip = 0; ip < sizeof pads / sizeof pads[0]; ip++) {
        for (int learnt = 0; learnt < N_TYPED_KINDS; learnt++) {
            for (int k = 0; k < N_TYPED_KINDS; k++) {
                /* templates of their own: the plan learnt from an event of kind learnt */
                rc_json_tpl_t *t = rc_json_tpl_new();
                assert_non_null(t);
                for (int v = 0; v < 5; v++) {
                    mp_t m;
                    mp_init(&m);
                    pack_typed_event(&m, v == 3 ? k : learnt, v, pads[ip]);
                    assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
                    if (k == 0 && v == 4) {
                        for (size_t cut = 0; cut < m.sb.size; cut++) {
                            check_tpl(t, m.sb.data, cut, NULL);
                        }
                    }
                    msgpack_sbuffer_destroy(&m.sb);
                }
                rc_json_tpl_free(t);
            }
        }
    }
}

/* Every uint 32 on each side of a multiple of 10^4 below 10^8 (digits8 splits v into v / 10^4
 * and v % 10^4 by a multiply and a shift: a multiplier short by one gives 0 for 10000), then 9
 * and 10 digits with such low halves, at the top and as a row's value in a settled plan,
 * against printf. */
static void test_json_uint32_every_ten_thousand_edge(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (uint64_t k = 0; k <= 10000; k++) {
        uint64_t base = k * 10000, hi = (k * 7919) % 43;
        uint64_t vals[6] = {base - 1,    base,        base + 1,
                            base + 9999, base + 5000, hi * 100000000 + (base % 100000000)};
        for (int i = 0; i < 6; i++) {
            uint64_t v = vals[i];
            if (v > UINT32_MAX || (k == 0 && i == 0)) {
                continue;
            }
            uint8_t head[5] = {0xce, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                               (uint8_t)v};
            char want[128];
            snprintf(want, sizeof want, "%" PRIu64, v);
            check_bytes(head, sizeof head, want);
            if (k % 7 != 0 && i != 5) {
                continue; /* a plan for a seventh of them and every 9-10 digit one */
            }
            mp_t m;
            mp_init(&m);
            msgpack_pack_map(&m.pk, 3);
            mp_str(&m, "schema"), mp_str(&m, "shop");
            mp_str(&m, "table"), mp_str(&m, "e4");
            mp_str(&m, "after"), msgpack_pack_array(&m.pk, 1), msgpack_pack_map(&m.pk, 1);
            mp_str(&m, "u"), mp_raw(&m, head, sizeof head);
            snprintf(want, sizeof want,
                     "{\"schema\":\"shop\",\"table\":\"e4\",\"after\":[{\"u\":%" PRIu64 "}]}", v);
            assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, want), RC_OK);
            msgpack_sbuffer_destroy(&m.sb);
        }
    }
    rc_json_tpl_free(t);
}

/* Every fixint, positive (0 to 127) and negative (-1 to -32), at the top, in an array and as a
 * row's value in a settled plan (the fixint op), against printf: small_at's table of texts. */
static void test_json_fixints_every_value(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (int round = 0; round < 2; round++) {
        for (int v = -32; v <= 127; v++) {
            char want[160];
            mp_t m;
            mp_init(&m);
            msgpack_pack_int(&m.pk, v);
            assert_int_equal(m.sb.size, 1);
            snprintf(want, sizeof want, "%d", v);
            check_mp(&m, want);
            mp_init(&m);
            msgpack_pack_array(&m.pk, 3);
            msgpack_pack_int(&m.pk, v), msgpack_pack_int(&m.pk, -v / 4), msgpack_pack_int(&m.pk, v);
            snprintf(want, sizeof want, "[%d,%d,%d]", v, -v / 4, v);
            check_mp(&m, want);
            mp_init(&m);
            msgpack_pack_map(&m.pk, 3);
            mp_str(&m, "schema"), mp_str(&m, "shop");
            mp_str(&m, "table"), mp_str(&m, "fix");
            mp_str(&m, "after"), msgpack_pack_array(&m.pk, 1), msgpack_pack_map(&m.pk, 2);
            mp_str(&m, "q"), msgpack_pack_int(&m.pk, v);
            mp_str(&m, "r"), msgpack_pack_int(&m.pk, round ? 127 - (v + 32) : -(v % 33));
            snprintf(want, sizeof want,
                     "{\"schema\":\"shop\",\"table\":\"fix\",\"after\":[{\"q\":%d,\"r\":%d}]}", v,
                     round ? 127 - (v + 32) : -(v % 33));
            assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, want), RC_OK);
            msgpack_sbuffer_destroy(&m.sb);
        }
    }
    rc_json_tpl_free(t);
}

/* x as a row's value in an event of table `table`, written by t as a fresh writer writes it
 * (check_tpl): the second time on, by its plan's double op. */
static void check_double_in_plan(rc_json_tpl_t *t, double x, const char *table) {
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 3);
    mp_str(&m, "schema"), mp_str(&m, "shop");
    mp_str(&m, "table"), mp_str(&m, table);
    mp_str(&m, "after"), msgpack_pack_array(&m.pk, 1), msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "d"), msgpack_pack_double(&m.pk, x);
    assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
    msgpack_sbuffer_destroy(&m.sb);
}

/* 3-decimal doubles (float3_at) whose N / 1000 reads back and their neighbours (one to three
 * ulps away, which must not take the 3-decimal text), zeros of both signs and the edges at
 * 2^42, at the top and in a settled plan's double op: the text of a value of at most 3
 * decimals is printf's %.3f less its trailing zeros, any other reads back as the value and is
 * as short as printf's. Fails when the read-back test lets a neighbour through. */
static void test_json_double_3_decimals_and_neighbours(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    uint64_t s = 0x8f1bbcdcca62c1d6ULL;
    for (int i = 0; i < 20000; i++) {
        uint64_t r = rng_next(&s);
        static const uint64_t lim[] = {10, 1000, 100000, 100000000, 4398046511104000ULL};
        double d = (double)(r % lim[i % 5]) / 1000, x = d;
        int steps = (int)(r >> 60) % 4;
        for (int k = 0; k < steps; k++) {
            x = nextafter(x, (r >> 59) & 1 ? INFINITY : 0);
        }
        x = (r >> 58) & 1 ? -x : x;
        char want[64];
        mp_t m;
        mp_init(&m);
        msgpack_pack_double(&m.pk, x);
        if (x == (r >> 58 & 1 ? -d : d)) {
            text_3_decimals(x, want, sizeof want);
            check_mp(&m, want);
        } else {
            msgpack_sbuffer_destroy(&m.sb);
            check_roundtrip(x, false);
        }
        check_double_in_plan(t, x, "dbl");
    }
    rc_json_tpl_free(t);
    check_double(0.0, "0.0");
    check_double(-0.0, "-0.0");
    check_double(nextafter(0.0, 1), "5e-324");
    check_double(0x1p42 - 0x1p-10, "4398046511103.999");
    check_double(nextafter(0x1p42 - 0x1p-10, 0), "4398046511103.9985");
    check_double(nextafter(0.001, 0), "0.0009999999999999998");
}

/* An event whose numbers repeat from one event to the next in runs (a commit time, a
 * transaction's timestamp), of every text length, 0 and -0.0 among them, turning constant and
 * changing again, taking another kind for a while, and at the event's end too: every event as
 * the writer without templates writes it (the plans keep a repeating number's last text). */
static void pack_repeating_event(mp_t *m, uint64_t i, uint64_t run) {
    static const uint64_t u64s[] = {
        0, 1, 9, 10, 99999999, 100000000, 4294967295ULL, 1709211662000000ULL, UINT64_MAX};
    static const uint32_t u32s[] = {0, 7, 4101, 1709211662, 4294967295u};
    static const double dbls[] = {0.0, -0.0, 1.5, 12.345, -987654.321, 1e300, 5e-324, 0.1};
    msgpack_packer *pk = &m->pk;
    /* for i in 100..299 one value only */
    run = i >= 100 && i < 300 ? 7 : run;
    msgpack_pack_map(pk, 4);
    mp_str(m, "schema"), mp_str(m, "shop");
    mp_str(m, "table"), mp_str(m, "rep");
    mp_str(m, "after"), msgpack_pack_array(pk, 1), msgpack_pack_map(pk, 5);
    mp_str(m, "id"), msgpack_pack_uint64(pk, i);
    mp_str(m, "ts");
    uint8_t b[9] = {0xce};
    uint32_t w = u32s[run % 5];
    for (int k = 0; k < 4; k++) {
        b[1 + k] = (uint8_t)(w >> (24 - 8 * k));
    }
    if (i % 97 == 50) {
        mp_str(m, "now a string"); /* another kind: the value's head is not the plan's */
    } else {
        mp_raw(m, b, 5);
    }
    mp_str(m, "t64");
    b[0] = 0xcf;
    uint64_t u = u64s[run % 9];
    for (int k = 0; k < 8; k++) {
        b[1 + k] = (uint8_t)(u >> (56 - 8 * k));
    }
    mp_raw(m, b, 9);
    mp_str(m, "d"), msgpack_pack_double(pk, dbls[run % 8]);
    mp_str(m, "status"), mp_str(m, i % 5 ? "paid" : "new");
    mp_str(m, "meta"), msgpack_pack_map(pk, 3);
    mp_str(m, "commit_ts"), msgpack_pack_uint32(pk, 1709211662u + (uint32_t)(i / 40) * 7919u);
    /* more than 96 bytes (PLAN_NEAR) after the row's values: their typed segments taken */
    mp_str(m, "binlog_file"), mp_str(m, "mysql-bin.000042 mysql-bin.000042 mysql-bin.000042 "
                                        "mysql-bin.000042 mysql-bin.000042 mysql-bin.000042");
    mp_str(m, "last"); /* at the end: past the typed segments' bounds */
    b[0] = 0xcb;
    memcpy(&u, &dbls[run % 8], 8);
    for (int k = 0; k < 8; k++) {
        b[1 + k] = (uint8_t)(u >> (56 - 8 * k));
    }
    mp_raw(m, b, 9);
}

static void test_json_tpl_plan_numbers_that_repeat(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    uint64_t r = 0x9e3779b97f4a7c15ULL, run = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        run += r % 4 == 0; /* runs of a value: 4 events long on average */
        mp_t m;
        mp_init(&m);
        pack_repeating_event(&m, i, run);
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        msgpack_sbuffer_destroy(&m.sb);
    }
    rc_json_tpl_free(t);
}

/* A plan's usual segment, a short key then a changing value (COP_16_16), goes to the value's op
 * through a copy of its compare and copy for each op: a row of short keys, each before a value
 * of another kind (each kind twice: a value that changes every event and one that repeats for
 * 5, which gets a repeat's op), then a kafka member after a short key; settled, then each
 * column taking the next column's kind for an event, and cut at every byte. Each event as the
 * plain writer writes it (an op given the wrong label writes other text or reads past). */
static void pack_short_keys_event(mp_t *m, int v, int shift) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 4);
    mp_str(m, "schema"), mp_str(m, "shop");
    mp_str(m, "table"), mp_str(m, "short");
    mp_str(m, "after"), msgpack_pack_array(pk, 1), msgpack_pack_map(pk, 2 * N_TYPED_KINDS);
    for (int k = 0; k < 2 * N_TYPED_KINDS; k++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", k);
        mp_str(m, key);
        int kind = (k / 2 + shift) % N_TYPED_KINDS, at = k % 2 ? v / 5 : v;
        if (kind < N_KINDS) {
            pack_kind(m, kind, at);
        } else {
            /* pack_typed_event's extra kinds, through its x column */
            mp_t x;
            mp_init(&x);
            pack_typed_event(&x, kind, at, 0);
            const uint8_t *d = (const uint8_t *)x.sb.data;
            const uint8_t *b = memmem(d, x.sb.size, "\xa1x", 2) + 2;
            const uint8_t *e = memmem(b, x.sb.size - (size_t)(b - d), "\xa3pad", 4);
            mp_raw(m, b, (size_t)(e - b));
            msgpack_sbuffer_destroy(&x.sb);
        }
    }
    mp_str(m, "kafka"), msgpack_pack_map(pk, 1);
    mp_str(m, "topic"), mp_str(m, "t");
}

static void test_json_tpl_plan_short_key_then_every_op(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (int v = 0; v < 80; v++) {
        mp_t m;
        mp_init(&m);
        pack_short_keys_event(&m, v, v >= 40 && v % 4 == 0 ? v / 4 : 0);
        assert_int_equal(check_tpl(t, m.sb.data, m.sb.size, NULL), RC_OK);
        if (v == 79) {
            for (size_t cut = 0; cut < m.sb.size; cut++) {
                check_tpl(t, m.sb.data, cut, NULL);
            }
        }
        msgpack_sbuffer_destroy(&m.sb);
    }
    rc_json_tpl_free(t);
}

/* Unsigned ints at both ends of every bit length (2^i - 1, 2^i, 2^i + 1) and on both sides of
 * every power of ten, in each width that holds them, as a value and in a plan against printf.
 * The digit count (u32_ndigits' table) is one step at 10^d within a bit length, so its right
 * at these is its right for every value. */
static void test_json_uints_every_bit_length(void **state) {
    (void)state;
    uint64_t vals[256];
    size_t nv = 0;
    for (int i = 0; i < 64; i++) {
        uint64_t b = 1ULL << i;
        vals[nv++] = b - 1, vals[nv++] = b, vals[nv++] = b + 1;
    }
    for (uint64_t p = 10, k = 1; k <= 19; k++, p *= 10) {
        vals[nv++] = p - 1, vals[nv++] = p, vals[nv++] = p + 1;
    }
    vals[nv++] = UINT64_MAX;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (size_t i = 0; i < nv; i++) {
        check_uint_every_width(t, vals[i], "bits");
    }
    rc_json_tpl_free(t);
}

/* An event whose last member is a kafka map of about 150 bytes after a short key. */
static void pack_kafka_last_event(mp_t *m, int v) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 4);
    mp_str(m, "schema"), mp_str(m, "shop");
    mp_str(m, "table"), mp_str(m, "kl");
    mp_str(m, "after"), msgpack_pack_array(pk, 1), msgpack_pack_map(pk, 2);
    mp_str(m, "id"), msgpack_pack_int(pk, v);
    mp_str(m, "n"), msgpack_pack_int(pk, v * 7);
    mp_str(m, "kafka"), msgpack_pack_map(pk, 2);
    char topic[121];
    memset(topic, 'a' + v % 26, 120);
    topic[120] = '\0';
    mp_str(m, "topic"), mp_str(m, topic);
    mp_str(m, "key"), msgpack_pack_int(pk, v);
}

/* The kafka member last in an event, after a short key, more than PLAN_NEAR (96) bytes before
 * the end (its own op in a plan: up to ev_end in one step when ev_end is inside the event, else
 * skipped as any value): the event cut at every length from before the kafka key, with ev_end
 * NULL, at the cut, one byte before it, at the whole event's end (past a cut), at the kafka
 * value's head and one byte after it. A settled plan's result (error, used, bytes) is the
 * writer's, which a fresh rc_json_tpl_t (no plan yet) gives. */
static void test_json_tpl_plan_kafka_last_ev_end_anywhere(void **state) {
    (void)state;
    rc_json_tpl_t *warm = rc_json_tpl_new();
    assert_non_null(warm);
    mp_t m;
    for (int v = 0; v < 40; v++) {
        mp_init(&m);
        pack_kafka_last_event(&m, v);
        assert_int_equal(check_tpl(warm, m.sb.data, m.sb.size, NULL), RC_OK);
        msgpack_sbuffer_destroy(&m.sb);
    }
    mp_init(&m);
    pack_kafka_last_event(&m, 40);
    size_t size = m.sb.size;
    uint8_t *ev = malloc(size);
    assert_non_null(ev);
    memcpy(ev, m.sb.data, size);
    const uint8_t *kv = (const uint8_t *)memmem(ev, size, "\xa5kafka", 6) + 6;
    assert_true(ev + size - kv > 120);
    for (size_t n = (size_t)(kv - ev) - 8; n <= size; n++) {
        const uint8_t *ends[] = {NULL, ev + n, ev + n - 1, ev + size, kv, kv + 1};
        for (size_t k = 0; k < sizeof ends / sizeof ends[0]; k++) {
            rc_json_tpl_t *fresh = rc_json_tpl_new();
            assert_non_null(fresh);
            rc_buf_t a = RC_BUF_INIT, b = RC_BUF_INIT;
            size_t used_a = 0, used_b = 0;
            rc_err_t err_a = rc_json_write_event_tpl(&a, fresh, ev, n, ends[k], &used_a);
            rc_err_t err_b = rc_json_write_event_tpl(&b, warm, ev, n, ends[k], &used_b);
            assert_int_equal(err_b, err_a);
            assert_int_equal(b.len, a.len);
            if (err_a == RC_OK) {
                assert_int_equal(used_b, used_a);
                assert_memory_equal(b.data, a.data, a.len);
            }
            rc_buf_free(&a);
            rc_buf_free(&b);
            rc_json_tpl_free(fresh);
        }
    }
    free(ev);
    msgpack_sbuffer_destroy(&m.sb);
    rc_json_tpl_free(warm);
}

/* float3_at's text lengths, told apart from its digits: every N / 1000 within 1,100 of each
 * power of ten from 1 to 10^5 (and from 0 up), so that each digit count of the integral part
 * meets every fraction ending (".0", ".5", ".05", ".005"), both signs, at the top and in a
 * settled plan's double op, against printf's %.3f less its trailing zeros. Fails when the
 * count before the point is taken one value too early or late at a power of ten. */
static void test_json_double_3_decimals_at_powers_of_ten(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (int64_t p = 1; p <= 100000; p *= 10) {
        int64_t lo = p == 1 ? 1 : p * 1000 - 1100, hi = p == 1 ? 1100 : p * 1000 + 1100;
        for (int64_t n = lo; n <= hi; n++) {
            double x = (double)n / 1000 * (n % 2 ? -1 : 1);
            char want[64];
            text_3_decimals(x, want, sizeof want);
            check_double(x, want);
            check_double_in_plan(t, x, "dbl10");
        }
    }
    rc_json_tpl_free(t);
}

/* Doubles whose shortest text has 15 or 16 digits and lies in the top of its decade, so that
 * shortest_fast's product reaches 2^53 before their k and shortest_slow writes them, starting
 * past the digit counts shortest_fast ruled out; also large integral doubles and floats (1e10,
 * 1.5e20: shortest_fast rules nothing out there). Each at every exponent from 10^-20 to 10^20,
 * with its neighbours: the text reads back and is no longer than printf's shortest. Fails when
 * shortest_slow skips a digit count that shortest_fast did not try. */
static void test_json_double_shortest_past_fast_digits(void **state) {
    (void)state;
    static const char *const mant[] = {"9.512345678901234", "9.99999999999999", "9.1e0",
                                       "8.765432109876543", "9.00719925474099", "1.5"};
    char t[64];
    for (size_t i = 0; i < sizeof mant / sizeof mant[0]; i++) {
        for (int e = -20; e <= 20; e++) {
            snprintf(t, sizeof t, "%se%d", mant[i], e);
            double x = strtod(t, NULL);
            check_roundtrip(x, false);
            check_roundtrip(nextafter(x, INFINITY), false);
            check_roundtrip(nextafter(x, 0), false);
            check_roundtrip((double)(float)x, true);
        }
    }
    check_double(95.12345678901234, "95.12345678901234");
    check_double(1e10, "10000000000.0");
    check_double(1.5e20, "150000000000000000000.0");
    check_float(1e10f, "10000000000.0");
}

/* A settled plan keeps a number's repeat cache while the number repeats at least as often as
 * not (a transaction's commit time, the same for 5 rows), over the plans learnt when another
 * value changes (a batch number, every 300 events, which then gets one too: it was constant),
 * and a number new at every event (a timestamp in µs) goes without; the text is the writer's
 * throughout. Fails when settling drops the commit time's cache (the loop meant to keep it
 * only ever cleared). */
static void test_json_tpl_plan_repeat_cache_kept_over_plans(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    for (uint32_t i = 0; i < 2000; i++) {
        mp_t m;
        mp_init(&m);
        msgpack_pack_map(&m.pk, 3);
        mp_str(&m, "schema"), mp_str(&m, "shop");
        mp_str(&m, "table"), mp_str(&m, "reps");
        mp_str(&m, "after"), msgpack_pack_array(&m.pk, 1), msgpack_pack_map(&m.pk, 3);
        mp_str(&m, "commit_ts"), msgpack_pack_uint32(&m.pk, 1709211662u + i / 5);
        mp_str(&m, "ts_us"), msgpack_pack_uint64(&m.pk, 1709211662000000ULL + 7ULL * i);
        mp_str(&m, "batch"), msgpack_pack_uint32(&m.pk, 100000000u + i / 300);
        /* once each (check_tpl writes an event twice: every number would repeat) */
        rc_buf_t plain = RC_BUF_INIT, got = RC_BUF_INIT;
        assert_int_equal(rc_json_write_event(&plain, (const uint8_t *)m.sb.data, m.sb.size, NULL),
                         RC_OK);
        assert_int_equal(
            rc_json_write_event_tpl(&got, t, (const uint8_t *)m.sb.data, m.sb.size, NULL, NULL),
            RC_OK);
        assert_int_equal(got.len, plain.len);
        assert_memory_equal(got.data, plain.data, plain.len);
        rc_buf_free(&plain);
        rc_buf_free(&got);
        msgpack_sbuffer_destroy(&m.sb);
        if (i % 300 == 299) { /* the commit time's, and from the first change on the batch's */
            assert_int_equal(rc_json_tpl_reps(t), i < 300 ? 1 : 2);
        }
    }
    rc_json_tpl_free(t);
}

/* float3_at's read-back test done by integers at its edges: the powers of two from 2^-40 to
 * 2^45 (a lower neighbour half as far), the small values about 2^-11 and 0.0005 (below which N
 * is 0), the halfway values (2k + 1) / 2000 and j / 16 (a * 1000 ends in .5), the values just
 * under 2^42, each with its neighbours one to three ulps away, both signs, at the top and in a
 * settled plan's double op: a value with some N / 1000 reading back as it takes printf's %.3f
 * text less its trailing zeros, any other reads back and is as short as printf's. Fails when
 * the test lets a neighbour or a halfway value through, or refuses a 3-decimal value. */
static void check_double_3_or_not(rc_json_tpl_t *t, double x) {
    double a = fabs(x), d = round(a * 1000) / 1000;
    if (a < 0x1p42 && d == a && d != 0) {
        char want[64];
        text_3_decimals(x, want, sizeof want);
        check_double(x, want);
    } else {
        check_roundtrip(x, false);
    }
    check_double_in_plan(t, x, "dbl11");
}

static void test_json_double_3_decimals_read_back_edges(void **state) {
    (void)state;
    rc_json_tpl_t *t = rc_json_tpl_new();
    assert_non_null(t);
    double xs[8192];
    size_t nx = 0;
    for (int e = -40; e <= 45; e++) {
        xs[nx++] = ldexp(1, e);
    }
    for (int n = 0; n <= 2100; n += 1 + n / 100) {
        xs[nx++] = (double)n / 1000;
        xs[nx++] = (double)(2 * n + 1) / 2000;
        xs[nx++] = (double)(2 * n + 1) / 16;
        xs[nx++] = (double)n / 1024;
    }
    for (int n = 0; n < 64; n++) {
        xs[nx++] = 0x1p-11 + n * 0x1p-20;
        xs[nx++] = 0.0005 + n * 0x1p-30;
        xs[nx++] = 0x1p42 - (double)(n + 1) / 1000;
        xs[nx++] = 0x1p42 - (double)(n + 1) / 1024;
    }
    assert_true(nx <= 8192);
    for (size_t i = 0; i < nx; i++) {
        for (int k = -3; k <= 3; k++) {
            double x = xs[i];
            for (int j = 0; j < (k < 0 ? -k : k); j++) {
                x = nextafter(x, k < 0 ? 0 : INFINITY);
            }
            check_double_3_or_not(t, x);
            check_double_3_or_not(t, -x);
        }
    }
    rc_json_tpl_free(t);
    check_double(0x1p-11, "0.00048828125");
    check_double(0.0005, "0.0005");
    check_double(0.0625, "0.0625");
    check_double(0.001, "0.001");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_nil_and_bools),
        cmocka_unit_test(test_json_ints_every_width),
        cmocka_unit_test(test_json_small_map_at_the_top),
        cmocka_unit_test(test_json_ints_wide_encodings),
        cmocka_unit_test(test_json_double_shortest_text),
        cmocka_unit_test(test_json_double_3_decimals_fast_path),
        cmocka_unit_test(test_json_float32_shortest_text),
        cmocka_unit_test(test_json_floats_roundtrip_random),
        cmocka_unit_test(test_json_ints_every_digit_count),
        cmocka_unit_test(test_json_escape_at_every_position_and_length),
        cmocka_unit_test(test_json_write_string_in_a_buffer),
        cmocka_unit_test(test_json_escape_every_control_char),
        cmocka_unit_test(test_json_escape_ascii_specials),
        cmocka_unit_test(test_json_escape_nul_inside_string),
        cmocka_unit_test(test_json_utf8_valid_passes_as_is),
        cmocka_unit_test(test_json_utf8_line_separators_escaped),
        cmocka_unit_test(test_json_utf8_invalid_each_byte_replaced),
        cmocka_unit_test(test_json_string_encodings),
        cmocka_unit_test(test_json_long_strings_across_slices),
        cmocka_unit_test(test_json_random_bytes_give_valid_json),
        cmocka_unit_test(test_json_bin_base64),
        cmocka_unit_test(test_json_ext_rowcast_types),
        cmocka_unit_test(test_json_ext_every_encoding_and_unknown_types),
        cmocka_unit_test(test_json_containers_every_encoding),
        cmocka_unit_test(test_json_map_non_string_keys),
        cmocka_unit_test(test_json_keys_inside_keys_stop_early),
        cmocka_unit_test(test_json_nested_document),
        cmocka_unit_test(test_json_depth_64_ok_65_invalid),
        cmocka_unit_test(test_json_c1_invalid),
        cmocka_unit_test(test_json_every_type_document),
        cmocka_unit_test(test_json_truncated_at_every_cut),
        cmocka_unit_test(test_json_truncated_lengths_beyond_input),
        cmocka_unit_test(test_json_used_stops_after_first_object),
        cmocka_unit_test(test_json_event_leaves_out_kafka),
        cmocka_unit_test(test_json_event_errors),
        cmocka_unit_test(test_json_random_documents_roundtrip),
        cmocka_unit_test(test_json_tpl_same_table_other_keys),
        cmocka_unit_test(test_json_tpl_keys_needing_escapes),
        cmocka_unit_test(test_json_tpl_key_set_change_after_ddl),
        cmocka_unit_test(test_json_tpl_first_member_forms),
        cmocka_unit_test(test_json_tpl_rows_and_maps_every_form),
        cmocka_unit_test(test_json_tpl_wider_than_templates),
        cmocka_unit_test(test_json_tpl_values_that_change),
        cmocka_unit_test(test_json_tpl_event_run),
        cmocka_unit_test(test_json_fast_value_writer_is_the_generic_one),
        cmocka_unit_test(test_json_tpl_plan_sets_of_two),
        cmocka_unit_test(test_json_tpl_ints_every_quarter_edge),
        cmocka_unit_test(test_json_tpl_member_run_stops_everywhere),
        cmocka_unit_test(test_json_tpl_plan_every_kind_everywhere),
        cmocka_unit_test(test_json_tpl_plan_past_its_bounds),
        cmocka_unit_test(test_json_tpl_plan_tables_taking_turns),
        cmocka_unit_test(test_json_string_every_byte_at_every_position),
        cmocka_unit_test(test_json_uint32_heads_every_digit_count),
        cmocka_unit_test(test_json_doubles_on_rounding_midpoints),
        cmocka_unit_test(test_json_tpl_plan_typed_values),
        cmocka_unit_test(test_json_uint32_every_ten_thousand_edge),
        cmocka_unit_test(test_json_fixints_every_value),
        cmocka_unit_test(test_json_double_3_decimals_and_neighbours),
        cmocka_unit_test(test_json_tpl_plan_numbers_that_repeat),
        cmocka_unit_test(test_json_tpl_plan_short_key_then_every_op),
        cmocka_unit_test(test_json_uints_every_bit_length),
        cmocka_unit_test(test_json_tpl_plan_kafka_last_ev_end_anywhere),
        cmocka_unit_test(test_json_double_3_decimals_at_powers_of_ten),
        cmocka_unit_test(test_json_double_shortest_past_fast_digits),
        cmocka_unit_test(test_json_tpl_plan_repeat_cache_kept_over_plans),
        cmocka_unit_test(test_json_double_3_decimals_read_back_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
