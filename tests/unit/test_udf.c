/* test_udf.c: the UDF registry, every built-in called through rc_udf_call (the path both
 * engines take), and the plugin loader with the example plugin and broken ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_udf.h"

typedef struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_t;

static void mp_init(mp_t *m) {
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void s(mp_t *m, const char *str) {
    msgpack_pack_str_with_body(&m->pk, str, strlen(str));
}

/* The result of one call: ok, the result bytes, or the error. */
typedef struct call {
    rc_err_t err;
    msgpack_sbuffer out;
    char errstr[600];
} call_t;

static void call_args(const char *name, const mp_t *args, uint32_t argc, call_t *c) {
    const rc_udf_t *u = rc_udf_find(name);
    if (!u) {
        fail_msg("UDF %s is not registered", name);
    }
    msgpack_sbuffer_init(&c->out);
    c->errstr[0] = '\0';
    c->err = rc_udf_call(u, (const uint8_t *)args->sb.data, args->sb.size, argc, &c->out, c->errstr,
                         sizeof(c->errstr));
}

/* name(str...) */
static void call_strs(const char *name, call_t *c, uint32_t argc, ...) {
    mp_t a;
    mp_init(&a);
    msgpack_pack_array(&a.pk, argc);
    va_list ap;
    va_start(ap, argc);
    for (uint32_t i = 0; i < argc; i++) {
        s(&a, va_arg(ap, const char *));
    }
    va_end(ap);
    call_args(name, &a, argc, c);
    msgpack_sbuffer_destroy(&a.sb);
}

/* The result must be the str want. */
static void expect_str(call_t *c, const char *want) {
    if (c->err != RC_OK) {
        fail_msg("error: %s", c->errstr);
    }
    mp_t w;
    mp_init(&w);
    s(&w, want);
    if (c->out.size != w.sb.size || memcmp(c->out.data, w.sb.data, w.sb.size) != 0) {
        fail_msg("got %zu bytes '%.*s', want '%s'", c->out.size, (int)c->out.size, c->out.data,
                 want);
    }
    msgpack_sbuffer_destroy(&w.sb);
    msgpack_sbuffer_destroy(&c->out);
}

static void expect_err(call_t *c, const char *want) {
    assert_int_not_equal(c->err, RC_OK);
    assert_int_equal(c->out.size, 0); /* nothing half-written */
    if (!strstr(c->errstr, want)) {
        fail_msg("got '%s', want '%s'", c->errstr, want);
    }
    msgpack_sbuffer_destroy(&c->out);
}

static void str_of(call_t *c, char *buf, size_t size) {
    assert_int_equal(c->err, RC_OK);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, c->out.data, c->out.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_STR);
    assert_true(u.data.via.str.size < size);
    memcpy(buf, u.data.via.str.ptr, u.data.via.str.size);
    buf[u.data.via.str.size] = '\0';
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&c->out);
}

/* ---- registry ---- */

static void test_registry_has_every_builtin_with_a_doc_line(void **state) {
    (void)state;
    static const char *const names[] = {
        "obf_string",    "tObfString",  "mask_email",  "sha256", "hmac_sha256", "base64_encode",
        "base64_decode", "json_encode", "json_decode", "now_us", "format_time", "uuid",
    };
    rc_udf_init();
    rc_udf_init(); /* registered once */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const rc_udf_t *u = rc_udf_find(names[i]);
        assert_non_null(u);
        assert_string_equal(u->origin, "built-in");
        assert_true(strncmp(u->doc, names[i], strlen(names[i])) == 0); /* "name(args) -> ..." */
        assert_null(strchr(u->doc, '\n'));
        size_t seen = 0;
        for (size_t j = 0; j < rc_udf_count(); j++) {
            seen += strcmp(rc_udf_at(j)->name, names[i]) == 0;
        }
        assert_int_equal(seen, 1);
    }
    assert_ptr_equal(rc_udf_find("tObfString")->fn, rc_udf_find("obf_string")->fn);
    assert_null(rc_udf_find("nope"));
    assert_null(rc_udf_at(rc_udf_count()));

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rc_udf_print_help(f);
    fclose(f);
    assert_non_null(strstr(text, "\nsha256(s) -> string: SHA-256 of s"));
    assert_non_null(strstr(text, "\nuuid() -> string"));
    free(text);
}

static int echo(const uint8_t *args, size_t len, uint32_t argc, const rowcast_udf_out_t *out,
                char *errstr, size_t errstr_size, void *data) {
    (void)argc, (void)errstr, (void)errstr_size, (void)data;
    return out->write(out->data, (const char *)args, len); /* the argument list itself */
}

static int writes_two(const uint8_t *args, size_t len, uint32_t argc, const rowcast_udf_out_t *out,
                      char *errstr, size_t errstr_size, void *data) {
    (void)args, (void)len, (void)argc, (void)errstr, (void)errstr_size, (void)data;
    return out->write(out->data, "\xc0\xc0", 2);
}

static int fails_silently(const uint8_t *args, size_t len, uint32_t argc,
                          const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                          void *data) {
    (void)args, (void)len, (void)argc, (void)errstr, (void)errstr_size, (void)data;
    out->write(out->data, "\xc0", 1);
    return 1;
}

static void test_register_checks_names_arity_and_duplicates(void **state) {
    (void)state;
    char errstr[256];
    rowcast_udf_def_t d = {"t_echo", 0, -1, echo, NULL, "t_echo(...) -> list: its arguments"};
    assert_int_equal(rc_udf_register(&d, "test", errstr, sizeof(errstr)), RC_OK);
    assert_int_equal(rc_udf_register(&d, "test", errstr, sizeof(errstr)), RC_ERR_INVALID);
    assert_string_equal(errstr, "UDF t_echo is already registered (by test)");
    d.name = "sha256";
    assert_int_equal(rc_udf_register(&d, "test", errstr, sizeof(errstr)), RC_ERR_INVALID);
    assert_string_equal(errstr, "UDF sha256 is already registered (by built-in)");
    d.name = "9lives";
    assert_int_equal(rc_udf_register(&d, "test", errstr, sizeof(errstr)), RC_ERR_INVALID);
    assert_non_null(strstr(errstr, "UDF name \"9lives\" is not an identifier"));
    d.name = "a-b";
    assert_int_equal(rc_udf_register(&d, "test", errstr, sizeof(errstr)), RC_ERR_INVALID);
    d.name = "transform";
    assert_int_equal(rc_udf_register(&d, "test", errstr, sizeof(errstr)), RC_ERR_INVALID);
    assert_string_equal(errstr, "UDF transform: the name is taken by the script runtime");
    d.name = "t_bad_arity";
    d.min_args = 2;
    d.max_args = 1;
    assert_int_equal(rc_udf_register(&d, "test", errstr, sizeof(errstr)), RC_ERR_INVALID);
    assert_non_null(strstr(errstr, "UDF t_bad_arity: needs a function and 0 <= min_args"));
    d.max_args = 2;
    d.fn = NULL;
    assert_int_equal(rc_udf_register(&d, "test", errstr, sizeof(errstr)), RC_ERR_INVALID);

    /* a function must write exactly one value; a failure without a reason still says who */
    rowcast_udf_def_t two = {"t_two", 0, 0, writes_two, NULL, ""};
    rowcast_udf_def_t quiet = {"t_quiet", 0, 0, fails_silently, NULL, ""};
    assert_int_equal(rc_udf_register(&two, "test", errstr, sizeof(errstr)), RC_OK);
    assert_int_equal(rc_udf_register(&quiet, "test", errstr, sizeof(errstr)), RC_OK);
    call_t c;
    call_strs("t_two", &c, 0);
    expect_err(&c, "t_two: the function did not write exactly one msgpack value");
    call_strs("t_quiet", &c, 0);
    expect_err(&c, "t_quiet: failed");
    call_strs("t_echo", &c, 2, "a", "b");
    assert_int_equal(c.err, RC_OK);
    assert_memory_equal(c.out.data,
                        "\x92\xa1"
                        "a\xa1"
                        "b",
                        5);
    msgpack_sbuffer_destroy(&c.out);
}

static void test_calls_check_arity_and_types_naming_the_udf(void **state) {
    (void)state;
    call_t c;
    call_strs("sha256", &c, 2, "a", "b");
    expect_err(&c, "sha256: expected 1 argument, got 2");
    call_strs("format_time", &c, 0);
    expect_err(&c, "format_time: expected 1 to 2 arguments, got 0");
    call_strs("uuid", &c, 1, "x");
    expect_err(&c, "uuid: expected 0 arguments, got 1");
    call_strs("hmac_sha256", &c, 1, "k");
    expect_err(&c, "hmac_sha256: expected 2 arguments, got 1");

    mp_t a;
    mp_init(&a);
    msgpack_pack_array(&a.pk, 1);
    msgpack_pack_int(&a.pk, 42);
    call_args("mask_email", &a, 1, &c);
    expect_err(&c, "mask_email: argument 1 (s) must be a string, got a number");
    a.sb.size = 0;
    msgpack_pack_array(&a.pk, 2);
    msgpack_pack_map(&a.pk, 0);
    s(&a, "x");
    call_args("hmac_sha256", &a, 2, &c);
    expect_err(&c, "hmac_sha256: argument 1 (key) must be a string, got a map");
    a.sb.size = 0;
    msgpack_pack_array(&a.pk, 2);
    s(&a, "x");
    msgpack_pack_true(&a.pk);
    call_args("obf_string", &a, 2, &c);
    expect_err(&c, "obf_string: argument 2 (key) must be a string, got a boolean");

    /* NULL in, NULL out for the string functions */
    static const char *const nil_ok[] = {"obf_string",    "mask_email",    "sha256",
                                         "base64_encode", "base64_decode", "json_decode",
                                         "format_time"};
    for (size_t i = 0; i < sizeof(nil_ok) / sizeof(nil_ok[0]); i++) {
        a.sb.size = 0;
        msgpack_pack_array(&a.pk, 1);
        msgpack_pack_nil(&a.pk);
        call_args(nil_ok[i], &a, 1, &c);
        assert_int_equal(c.err, RC_OK);
        assert_int_equal(c.out.size, 1);
        assert_int_equal((uint8_t)c.out.data[0], 0xc0);
        msgpack_sbuffer_destroy(&c.out);
    }
    msgpack_sbuffer_destroy(&a.sb);
}

/* ---- built-ins ---- */

static bool in_latin1_letters(const unsigned char *p) {
    if (p[0] != 0xc3) {
        return false;
    }
    unsigned cp = 0xc0 | (p[1] & 0x3f);
    return cp >= 0xe0 && cp <= 0xff && cp != 0xf7;
}

static void test_obf_string_is_deterministic_and_keeps_classes_and_length(void **state) {
    (void)state;
    call_t c;
    char a[256], b[256];
    const char *in = "Ann Lee-42 <ann@ex.io>";
    call_strs("obf_string", &c, 1, in);
    str_of(&c, a, sizeof(a));
    call_strs("tObfString", &c, 1, in);
    str_of(&c, b, sizeof(b));
    assert_string_equal(a, b); /* same function, same default key */
    call_strs("obf_string", &c, 1, in);
    str_of(&c, b, sizeof(b));
    assert_string_equal(a, b); /* deterministic */
    assert_int_equal(strlen(a), strlen(in));
    size_t changed = 0;
    for (size_t i = 0; in[i]; i++) {
        char x = in[i], y = a[i];
        if (x >= 'a' && x <= 'z') {
            assert_true(y >= 'a' && y <= 'z');
        } else if (x >= 'A' && x <= 'Z') {
            assert_true(y >= 'A' && y <= 'Z');
        } else if (x >= '0' && x <= '9') {
            assert_true(y >= '0' && y <= '9');
        } else {
            assert_int_equal(x, y); /* punctuation and spaces stay */
        }
        changed += x != y;
    }
    assert_true(changed >= 10);
    /* pinned: changing the algorithm would break every pseudonym users already store */
    call_strs("obf_string", &c, 1, "Ann Lee");
    expect_str(&c, "Adc Fih");
    /* another key, another result; a one-letter change changes the whole string */
    call_strs("obf_string", &c, 2, in, "secret");
    str_of(&c, b, sizeof(b));
    assert_string_not_equal(a, b);
    call_strs("obf_string", &c, 1, "Ann Lee-43 <ann@ex.io>");
    str_of(&c, b, sizeof(b));
    assert_true(strncmp(a, b, 7) != 0);
    /* non-ASCII characters become Latin-1 letters, one per character (invalid bytes too) */
    call_strs("obf_string", &c, 1, "Zo\xc3\xab \xe4\xb8\xad\xff");
    str_of(&c, b, sizeof(b));
    assert_int_equal(strlen(b), 1 + 1 + 2 + 1 + 2 + 2);
    assert_true(b[0] >= 'A' && b[0] <= 'Z');
    assert_true(in_latin1_letters((const unsigned char *)b + 2));
    assert_int_equal(b[4], ' ');
    assert_true(in_latin1_letters((const unsigned char *)b + 5));
    assert_true(in_latin1_letters((const unsigned char *)b + 7));
    call_strs("obf_string", &c, 1, "");
    expect_str(&c, "");
    /* long input: the key stream goes on past its first block */
    char longin[2001], longout[2100];
    for (int i = 0; i < 2000; i++) {
        longin[i] = (char)('a' + i % 26);
    }
    longin[2000] = '\0';
    call_strs("obf_string", &c, 1, longin);
    str_of(&c, longout, sizeof(longout));
    assert_int_equal(strlen(longout), 2000);
    int counts[26] = {0};
    for (int i = 0; i < 2000; i++) {
        assert_true(longout[i] >= 'a' && longout[i] <= 'z');
        counts[longout[i] - 'a']++;
    }
    for (int i = 0; i < 26; i++) {
        assert_true(counts[i] > 20); /* spread over the alphabet, not a fixed mapping */
    }
}

static void test_mask_email_keeps_first_character_and_domain(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"ann@example.com", "a**@example.com"},
        {"a@x.io", "*@x.io"},
        {"first.last+tag@sub.example.org", "f*************@sub.example.org"},
        {"\"we@ird\"@x.io", "\"*******@x.io"}, /* the last @ splits */
        {"zo\xc3\xab@x.io", "z**@x.io"},       /* characters, not bytes */
        {"no-at-sign", "n*********"},
        {"@x.io", "@x.io"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        call_t c;
        call_strs("mask_email", &c, 1, cases[i][0]);
        expect_str(&c, cases[i][1]);
    }
}

static void test_sha256_and_hmac_sha256_match_the_standard_vectors(void **state) {
    (void)state;
    call_t c;
    call_strs("sha256", &c, 1, "");
    expect_str(&c, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    call_strs("sha256", &c, 1, "abc");
    expect_str(&c, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2 */
    call_strs("hmac_sha256", &c, 2, "Jefe", "what do ya want for nothing?");
    expect_str(&c, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* binary input: a bin value hashes its bytes */
    mp_t a;
    mp_init(&a);
    msgpack_pack_array(&a.pk, 1);
    msgpack_pack_bin_with_body(&a.pk, "abc", 3);
    call_args("sha256", &a, 1, &c);
    expect_str(&c, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    msgpack_sbuffer_destroy(&a.sb);
}

static void test_base64_round_trips_rfc4648_vectors_and_rejects_garbage(void **state) {
    (void)state;
    static const char *const v[][2] = {{"", ""},
                                       {"f", "Zg=="},
                                       {"fo", "Zm8="},
                                       {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="},
                                       {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
    call_t c;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        call_strs("base64_encode", &c, 1, v[i][0]);
        expect_str(&c, v[i][1]);
        call_strs("base64_decode", &c, 1, v[i][1]);
        expect_str(&c, v[i][0]);
    }
    call_strs("base64_decode", &c, 1, "Zm8"); /* padding is optional */
    expect_str(&c, "fo");
    call_strs("base64_decode", &c, 1, "Zm9v!A==");
    expect_err(&c, "base64_decode: not valid base64: character '!' (byte 33) at offset 4");
    call_strs("base64_decode", &c, 1, "Zm9vY");
    expect_err(&c, "base64_decode: not valid base64: a length of 5 characters is impossible");
    call_strs("base64_decode", &c, 1, "Zg=");
    expect_err(&c, "not valid base64");
    call_strs("base64_decode", &c, 1, "Z===");
    expect_err(&c, "not valid base64");
    /* bytes that are not UTF-8 come back as bin */
    call_strs("base64_decode", &c, 1, "/wCA");
    assert_int_equal(c.err, RC_OK);
    assert_int_equal(c.out.size, 5);
    assert_memory_equal(c.out.data, "\xc4\x03\xff\x00\x80", 5);
    msgpack_sbuffer_destroy(&c.out);
    /* large: both directions past the stack buffers */
    char big[3001], enc[4100], dec[3100];
    for (int i = 0; i < 3000; i++) {
        big[i] = (char)(' ' + i % 90);
    }
    big[3000] = '\0';
    call_strs("base64_encode", &c, 1, big);
    str_of(&c, enc, sizeof(enc));
    assert_int_equal(strlen(enc), 4000);
    call_strs("base64_decode", &c, 1, enc);
    str_of(&c, dec, sizeof(dec));
    assert_string_equal(dec, big);
}

static void test_json_encode_and_decode(void **state) {
    (void)state;
    mp_t a, want;
    mp_init(&a);
    mp_init(&want);
    call_t c;
    msgpack_pack_array(&a.pk, 1);
    msgpack_pack_map(&a.pk, 3);
    s(&a, "b"), msgpack_pack_array(&a.pk, 3);
    msgpack_pack_int(&a.pk, -1), msgpack_pack_double(&a.pk, 2.5), msgpack_pack_nil(&a.pk);
    s(&a, "a"), s(&a, "x\"y\n");
    s(&a, "bin"), msgpack_pack_bin_with_body(&a.pk, "\xff", 1);
    call_args("json_encode", &a, 1, &c);
    expect_str(&c, "{\"b\":[-1,2.5,null],\"a\":\"x\\\"y\\n\",\"bin\":\"/w==\"}");

    call_strs("json_decode", &c, 1,
              " {\"x\": [1, -2, 2.5, \"s\\u00e9\\ud83d\\ude00\", null, true, false],"
              " \"big\": 18446744073709551615, \"min\": -9223372036854775808, \"e\": 1e2,"
              " \"o\": {}, \"l\": []} ");
    msgpack_pack_map(&want.pk, 6);
    s(&want, "x"), msgpack_pack_array(&want.pk, 7);
    msgpack_pack_uint64(&want.pk, 1), msgpack_pack_int64(&want.pk, -2);
    msgpack_pack_double(&want.pk, 2.5), s(&want, "s\xc3\xa9\xf0\x9f\x98\x80");
    msgpack_pack_nil(&want.pk), msgpack_pack_true(&want.pk), msgpack_pack_false(&want.pk);
    s(&want, "big"), msgpack_pack_uint64(&want.pk, UINT64_MAX);
    s(&want, "min"), msgpack_pack_int64(&want.pk, INT64_MIN);
    s(&want, "e"), msgpack_pack_double(&want.pk, 100.0);
    s(&want, "o"), msgpack_pack_map(&want.pk, 0);
    s(&want, "l"), msgpack_pack_array(&want.pk, 0);
    assert_int_equal(c.err, RC_OK);
    assert_int_equal(c.out.size, want.sb.size);
    assert_memory_equal(c.out.data, want.sb.data, want.sb.size);
    msgpack_sbuffer_destroy(&c.out);

    static const char *const bad[][2] = {
        {"{", "json_decode: not valid JSON: expected a string key at the end of the text"},
        {"[1,]", "not valid JSON: unexpected character at offset 3"},
        {"01", "not valid JSON: bad number (leading zero) at offset 0"},
        {"\"\\x\"", "not valid JSON: bad escape at offset 2"},
        {"[1] x", "not valid JSON: text after the value at offset 4"},
        {"", "not valid JSON: expected a value at the end of the text"},
        {"{\"a\" 1}", "expected ':' at offset 5"},
        {"\"a\tb\"", "control character in a string at offset 2"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        call_strs("json_decode", &c, 1, bad[i][0]);
        expect_err(&c, bad[i][1]);
    }
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = '\0';
    call_strs("json_decode", &c, 1, deep);
    expect_err(&c, "nesting deeper than 64 levels");
    memset(deep, '[', 64); /* 64 levels are fine */
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    call_strs("json_decode", &c, 1, deep);
    assert_int_equal(c.err, RC_OK);
    msgpack_sbuffer_destroy(&c.out);
    msgpack_sbuffer_destroy(&a.sb);
    msgpack_sbuffer_destroy(&want.sb);
}

static void test_now_us_format_time_and_uuid(void **state) {
    (void)state;
    call_t c;
    struct timespec t0, t1;
    clock_gettime(CLOCK_REALTIME, &t0);
    call_strs("now_us", &c, 0);
    clock_gettime(CLOCK_REALTIME, &t1);
    assert_int_equal(c.err, RC_OK);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, c.out.data, c.out.size, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_true(u.data.via.u64 >= (uint64_t)t0.tv_sec * 1000000 + (uint64_t)t0.tv_nsec / 1000);
    assert_true(u.data.via.u64 <= (uint64_t)t1.tv_sec * 1000000 + (uint64_t)t1.tv_nsec / 1000);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&c.out);

    mp_t a;
    mp_init(&a);
    struct {
        double us;
        bool as_int;
        const char *fmt, *want;
    } cases[] = {
        {0, true, NULL, "1970-01-01T00:00:00.000000Z"},
        {1700000000123456.0, true, NULL, "2023-11-14T22:13:20.123456Z"},
        {-1, true, NULL, "1969-12-31T23:59:59.999999Z"},
        {1500000.0, false, NULL, "1970-01-01T00:00:01.500000Z"},
        {1700000000123456.0, true, "%Y/%m/%d %H:%M|%f|%%f", "2023/11/14 22:13|123456|%f"},
        {1700000000123456.0, true, "", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        a.sb.size = 0;
        msgpack_pack_array(&a.pk, cases[i].fmt ? 2 : 1);
        if (cases[i].as_int) {
            msgpack_pack_int64(&a.pk, (int64_t)cases[i].us);
        } else {
            msgpack_pack_double(&a.pk, cases[i].us);
        }
        if (cases[i].fmt) {
            s(&a, cases[i].fmt);
        }
        call_args("format_time", &a, cases[i].fmt ? 2 : 1, &c);
        expect_str(&c, cases[i].want);
    }
    call_strs("format_time", &c, 1, "2024-01-01");
    expect_err(&c, "format_time: argument 1 (us) must be a number of microseconds since 1970");
    a.sb.size = 0;
    msgpack_pack_array(&a.pk, 1);
    msgpack_pack_double(&a.pk, 1e30);
    call_args("format_time", &a, 1, &c);
    expect_err(&c, "format_time: argument 1 (us) must be a number");
    msgpack_sbuffer_destroy(&a.sb);

    char u1[64], u2[64];
    call_strs("uuid", &c, 0);
    str_of(&c, u1, sizeof(u1));
    call_strs("uuid", &c, 0);
    str_of(&c, u2, sizeof(u2));
    assert_string_not_equal(u1, u2);
    assert_int_equal(strlen(u1), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(u1[i], '-');
        } else {
            assert_non_null(strchr("0123456789abcdef", u1[i]));
        }
    }
    assert_int_equal(u1[14], '4');
    assert_non_null(strchr("89ab", u1[19]));
}

/* ---- plugins ---- */

static void expect_load_error(const char *path, const char *want) {
    char errstr[1024] = "";
    assert_int_not_equal(rc_udf_load(path, errstr, sizeof(errstr)), RC_OK);
    if (!strstr(errstr, path) || !strstr(errstr, want)) {
        fail_msg("got '%s', want the file and '%s'", errstr, want);
    }
}

static void test_plugins_load_and_bad_ones_are_refused_naming_the_file(void **state) {
    (void)state;
    char errstr[1024];
    assert_null(rc_udf_find("mask_digits"));
    if (rc_udf_load(RC_UDF_EXAMPLE, errstr, sizeof(errstr)) != RC_OK) {
        fail_msg("%s", errstr);
    }
    size_t n = rc_udf_count();
    assert_int_equal(rc_udf_load(RC_UDF_EXAMPLE, errstr, sizeof(errstr)), RC_OK); /* once */
    assert_int_equal(rc_udf_count(), n);
    const rc_udf_t *u = rc_udf_find("mask_digits");
    assert_non_null(u);
    assert_non_null(strstr(u->origin, "rowcast_udf_example.so"));
    call_t c;
    call_strs("mask_digits", &c, 1, "4111-1111-1111-1234");
    expect_str(&c, "XXXX-XXXX-XXXX-1234");
    mp_t a;
    mp_init(&a);
    msgpack_pack_array(&a.pk, 2);
    s(&a, "tel 030 1234567");
    msgpack_pack_uint8(&a.pk, 2);
    call_args("mask_digits", &a, 2, &c);
    expect_str(&c, "tel XXX XXXXX67");
    call_strs("mask_digits", &c, 3, "a", "b", "c");
    expect_err(&c, "mask_digits: expected 1 to 2 arguments, got 3");
    msgpack_sbuffer_destroy(&a.sb);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    rc_udf_print_help(f);
    fclose(f);
    assert_non_null(strstr(text, "mask_digits(s [, keep_last]) -> string"));
    assert_non_null(strstr(text, "rowcast_udf_example.so]"));
    free(text);

    expect_load_error("/nonexistent/lib.so", "cannot load the UDF plugin: No such file");
    expect_load_error(RC_TEST_DATA "/config/full.yaml", "cannot load the UDF plugin: ");
    expect_load_error(RC_UDF_NO_ABI,
                      "not a rowcast UDF plugin: it does not export rowcast_udf_abi_version");
    expect_load_error(RC_UDF_BAD_VERSION, "the plugin was built for UDF ABI version 42, this "
                                          "rowcast speaks version 1");
    expect_load_error(RC_UDF_NO_INIT,
                      "not a rowcast UDF plugin: it does not export rowcast_udf_init()");
    expect_load_error(RC_UDF_INIT_FAILS, "rowcast_udf_init() failed: the license file is missing");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_has_every_builtin_with_a_doc_line),
        cmocka_unit_test(test_register_checks_names_arity_and_duplicates),
        cmocka_unit_test(test_calls_check_arity_and_types_naming_the_udf),
        cmocka_unit_test(test_obf_string_is_deterministic_and_keeps_classes_and_length),
        cmocka_unit_test(test_mask_email_keeps_first_character_and_domain),
        cmocka_unit_test(test_sha256_and_hmac_sha256_match_the_standard_vectors),
        cmocka_unit_test(test_base64_round_trips_rfc4648_vectors_and_rejects_garbage),
        cmocka_unit_test(test_json_encode_and_decode),
        cmocka_unit_test(test_now_us_format_time_and_uuid),
        cmocka_unit_test(test_plugins_load_and_bad_ones_are_refused_naming_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
