/* test_mp.c: unit tests of the raw msgpack reader (server/encode/rc_mp.c).
 *
 * Every reader is run on whole, truncated and wrong-typed input; on error the read position
 * must stay where it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_cols.h"
#include "rc_event.h"
#include "rc_mp.h"

typedef struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_t;

static void mp_init(mp_t *m) {
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_str(mp_t *m, const char *s) {
    msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

#define U8(lit) ((const uint8_t *)(lit))

/* Skips data[0..n) and expects err; on success *p must land exactly on data + n. */
static void check_skip(const void *data, size_t n, rc_err_t want) {
    /* a copy of exactly n bytes, so ASan catches any read past the end */
    uint8_t *copy = calloc(1, n ? n : 1);
    memcpy(copy, data, n);
    const uint8_t *p = copy;
    assert_int_equal(rc_mp_skip(&p, copy + n), want);
    assert_ptr_equal(p, want == RC_OK ? copy + n : copy);
    free(copy);
}

#define SKIP_OK(lit) check_skip(lit, sizeof(lit) - 1, RC_OK)

/* ---- skip --------------------------------------------------------------------------------- */

/* Byte strings read best on one line. */
/* clang-format off */
static void test_mp_skip_every_type(void **state) {
    (void)state;
    SKIP_OK("\xc0");
    SKIP_OK("\xc2");
    SKIP_OK("\xc3");
    SKIP_OK("\x00");
    SKIP_OK("\x7f");
    SKIP_OK("\xe0");
    SKIP_OK("\xff");
    SKIP_OK("\xcc\x01");
    SKIP_OK("\xcd\x01\x02");
    SKIP_OK("\xce\x01\x02\x03\x04");
    SKIP_OK("\xcf\x01\x02\x03\x04\x05\x06\x07\x08");
    SKIP_OK("\xd0\x01");
    SKIP_OK("\xd1\x01\x02");
    SKIP_OK("\xd2\x01\x02\x03\x04");
    SKIP_OK("\xd3\x01\x02\x03\x04\x05\x06\x07\x08");
    SKIP_OK("\xca\x01\x02\x03\x04");
    SKIP_OK("\xcb\x01\x02\x03\x04\x05\x06\x07\x08");
    SKIP_OK("\xa0");
    SKIP_OK("\xa3" "abc");
    SKIP_OK("\xd9\x03" "abc");
    SKIP_OK("\xda\x00\x03" "abc");
    SKIP_OK("\xdb\x00\x00\x00\x03" "abc");
    SKIP_OK("\xc4\x03" "abc");
    SKIP_OK("\xc5\x00\x03" "abc");
    SKIP_OK("\xc6\x00\x00\x00\x03" "abc");
    SKIP_OK("\xd4\x01" "a");
    SKIP_OK("\xd5\x01" "ab");
    SKIP_OK("\xd6\x01" "abcd");
    SKIP_OK("\xd7\x01" "abcdefgh");
    SKIP_OK("\xd8\x01" "abcdefghijklmnop");
    SKIP_OK("\xc7\x03\x01" "abc");
    SKIP_OK("\xc7\x00\x01");
    SKIP_OK("\xc8\x00\x03\x01" "abc");
    SKIP_OK("\xc9\x00\x00\x00\x03\x01" "abc");
    SKIP_OK("\x90");
    SKIP_OK("\x80");
    SKIP_OK("\x92\x01\x92\x02\x90");
    SKIP_OK("\xdc\x00\x02\x01\x02");
    SKIP_OK("\xdd\x00\x00\x00\x02\x01\x02");
    SKIP_OK("\x81\xa1k\x81\x01\x02");
    SKIP_OK("\xde\x00\x01\xa1k\x01");
    SKIP_OK("\xdf\x00\x00\x00\x01\x91\x01\x01");
}
/* clang-format on */

static void test_mp_skip_stops_after_one_object(void **state) {
    (void)state;
    const uint8_t two[] = {0x92, 0x01, 0xa1, 'x', 0xc3};
    const uint8_t *p = two;
    assert_int_equal(rc_mp_skip(&p, two + sizeof two), RC_OK);
    assert_ptr_equal(p, two + 4);
    assert_int_equal(rc_mp_skip(&p, two + sizeof two), RC_OK);
    assert_ptr_equal(p, two + 5);
    assert_int_equal(rc_mp_skip(&p, two + sizeof two), RC_ERR_TRUNCATED);
    assert_ptr_equal(p, two + 5);
}

/* str 8, bin 8 and ext 8 (skipped by their one-byte length) inside an array, cut anywhere. */
static void test_mp_skip_8bit_lengths_truncated_at_every_cut(void **state) {
    (void)state;
    char s[256];
    memset(s, 'y', sizeof s);
    for (size_t len = 0; len < 200; len += 37) { /* every length stays below 256 */
        mp_t m;
        mp_init(&m);
        msgpack_pack_array(&m.pk, 4);
        msgpack_pack_str_with_body(&m.pk, s, len + 32); /* 32 and up: not a fixstr */
        msgpack_pack_bin_with_body(&m.pk, s, len);
        msgpack_pack_ext_with_body(&m.pk, s, len + 3, RC_EXT_DECIMAL); /* not 1/2/4/8/16 */
        msgpack_pack_nil(&m.pk);
        assert_int_equal((uint8_t)m.sb.data[1], 0xd9);
        for (size_t cut = 0; cut < m.sb.size; cut++) {
            check_skip(m.sb.data, cut, RC_ERR_TRUNCATED);
        }
        check_skip(m.sb.data, m.sb.size, RC_OK);
        msgpack_sbuffer_destroy(&m.sb);
    }
}

static void pack_sample(mp_t *m) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 8);
    mp_str(m, "int");
    msgpack_pack_int64(pk, -5000000000LL);
    mp_str(m, "dbl");
    msgpack_pack_double(pk, 1.5);
    mp_str(m, "str");
    char s[300];
    memset(s, 'x', sizeof s);
    msgpack_pack_str_with_body(pk, s, sizeof s);
    mp_str(m, "bin");
    msgpack_pack_bin_with_body(pk, s, 40);
    mp_str(m, "ext");
    msgpack_pack_ext_with_body(pk, "12.50", 5, RC_EXT_DECIMAL);
    msgpack_pack_ext_with_body(pk, "1234", 4, RC_EXT_DECIMAL); /* an ext key */
    msgpack_pack_array(pk, 17);
    for (int i = 0; i < 17; i++) {
        msgpack_pack_int(pk, i);
    }
    mp_str(m, "nested");
    msgpack_pack_array(pk, 2);
    msgpack_pack_map(pk, 1);
    msgpack_pack_nil(pk);
    msgpack_pack_array(pk, 0);
    msgpack_pack_float(pk, 2.0f);
    mp_str(m, "last");
    msgpack_pack_true(pk);
}

static void test_mp_skip_truncated_at_every_cut(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    pack_sample(&m);
    for (size_t cut = 0; cut < m.sb.size; cut++) {
        check_skip(m.sb.data, cut, RC_ERR_TRUNCATED);
    }
    check_skip(m.sb.data, m.sb.size, RC_OK);
    msgpack_sbuffer_destroy(&m.sb);
}

/* Byte strings read best on one line. */
/* clang-format off */
static void test_mp_skip_invalid_and_huge(void **state) {
    (void)state;
    check_skip("\xc1", 1, RC_ERR_INVALID);
    check_skip("\x92\x01\xc1", 3, RC_ERR_INVALID);
    check_skip("\x81\xc1\x01", 3, RC_ERR_INVALID);
    /* counts and lengths far beyond the input fail at once */
    check_skip("\xdd\xff\xff\xff\xff\x01", 6, RC_ERR_TRUNCATED);
    check_skip("\xdf\xff\xff\xff\xff\x01\x01", 7, RC_ERR_TRUNCATED);
    check_skip("\xdb\xff\xff\xff\xff" "ab", 7, RC_ERR_TRUNCATED);
    check_skip("\xc9\xff\xff\xff\xff\x01" "ab", 8, RC_ERR_TRUNCATED);
    check_skip("\xc7\x01", 2, RC_ERR_TRUNCATED);
    check_skip("", 0, RC_ERR_TRUNCATED);
    /* nesting of any depth is fine: the skip does not recurse */
    size_t n = 200000;
    uint8_t *deep = malloc(n + 1);
    memset(deep, 0x91, n);
    deep[n] = 0xc0;
    check_skip(deep, n + 1, RC_OK);
    check_skip(deep, n, RC_ERR_TRUNCATED);
    free(deep);
}
/* clang-format on */

/* ---- headers and strings ------------------------------------------------------------------ */

static void test_mp_read_map_and_array(void **state) {
    (void)state;
    struct {
        const char *b;
        size_t n;
        bool map;
        uint32_t count;
    } ok[] = {
        {"\x80", 1, true, 0},
        {"\x8f", 1, true, 15},
        {"\xde\x01\x00", 3, true, 256},
        {"\xdf\x00\x01\x00\x00", 5, true, 65536},
        {"\xdf\xff\xff\xff\xff", 5, true, UINT32_MAX},
        {"\x90", 1, false, 0},
        {"\x9f", 1, false, 15},
        {"\xdc\xff\xff", 3, false, 65535},
        {"\xdd\x00\x00\x00\x10", 5, false, 16},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const uint8_t *p = U8(ok[i].b), *end = p + ok[i].n;
        uint32_t n = 12345;
        rc_err_t err = ok[i].map ? rc_mp_read_map(&p, end, &n) : rc_mp_read_array(&p, end, &n);
        assert_int_equal(err, RC_OK);
        assert_int_equal(n, ok[i].count);
        assert_ptr_equal(p, end); /* only the header is read */
        /* the other kind is refused and p stays */
        p = U8(ok[i].b);
        err = ok[i].map ? rc_mp_read_array(&p, end, &n) : rc_mp_read_map(&p, end, &n);
        assert_int_equal(err, RC_ERR_INVALID);
        assert_ptr_equal(p, U8(ok[i].b));
        /* a header cut short */
        for (size_t cut = 0; cut < ok[i].n; cut++) {
            p = U8(ok[i].b);
            err = ok[i].map ? rc_mp_read_map(&p, p + cut, &n) : rc_mp_read_array(&p, p + cut, &n);
            assert_int_equal(err, RC_ERR_TRUNCATED);
            assert_ptr_equal(p, U8(ok[i].b));
        }
    }
    const char *not_containers[] = {"\xc0", "\x01", "\xa1x", "\xc4\x00", "\xc1", "\xcb"};
    for (size_t i = 0; i < sizeof not_containers / sizeof not_containers[0]; i++) {
        const uint8_t *p = U8(not_containers[i]);
        uint32_t n;
        assert_int_equal(rc_mp_read_map(&p, p + strlen(not_containers[i]), &n), RC_ERR_INVALID);
        assert_int_equal(rc_mp_read_array(&p, p + strlen(not_containers[i]), &n), RC_ERR_INVALID);
        assert_ptr_equal(p, U8(not_containers[i]));
    }
}

/* Byte strings read best on one line. */
/* clang-format off */
static void test_mp_read_str_every_encoding(void **state) {
    (void)state;
    struct {
        const char *b;
        size_t n;
        size_t head;
    } ok[] = {
        {"\xa0", 1, 1},
        {"\xa3" "a\0c", 4, 1},
        {"\xd9\x03" "abc", 5, 2},
        {"\xda\x00\x03" "abc", 6, 3},
        {"\xdb\x00\x00\x00\x03" "abc", 8, 5},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const uint8_t *start = U8(ok[i].b), *p = start, *end = start + ok[i].n;
        const char *s = NULL;
        uint32_t n = 99;
        assert_int_equal(rc_mp_read_str(&p, end, &s, &n), RC_OK);
        assert_int_equal(n, ok[i].n - ok[i].head);
        assert_ptr_equal(s, ok[i].b + ok[i].head);
        assert_ptr_equal(p, end);
        for (size_t cut = 0; cut < ok[i].n; cut++) {
            p = start;
            assert_int_equal(rc_mp_read_str(&p, start + cut, &s, &n), RC_ERR_TRUNCATED);
            assert_ptr_equal(p, start);
        }
    }
    const uint8_t *p = U8("\xa3" "a\0c");
    const char *s;
    uint32_t n;
    assert_int_equal(rc_mp_read_str(&p, p + 4, &s, &n), RC_OK);
    assert_memory_equal(s, "a\0c", 3);
    /* bin is not a str; neither is anything else */
    const char *others[] = {"\xc4\x01x", "\xc0", "\x01", "\x91\xa1x", "\xd4\x01x", "\xc1"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        p = U8(others[i]);
        assert_int_equal(rc_mp_read_str(&p, p + strlen(others[i]) + 1, &s, &n), RC_ERR_INVALID);
        assert_ptr_equal(p, U8(others[i]));
    }
}
/* clang-format on */

static void test_mp_is_nil(void **state) {
    (void)state;
    const uint8_t *p = U8("\xc0\x01\xc2");
    assert_true(rc_mp_is_nil(p, p + 1));
    assert_false(rc_mp_is_nil(p, p)); /* nothing left */
    assert_false(rc_mp_is_nil(p + 1, p + 3));
    assert_false(rc_mp_is_nil(p + 2, p + 3));
    assert_false(rc_mp_is_nil(p + 3, p + 3));
}

static void test_mp_read_uint_every_width(void **state) {
    (void)state;
    uint64_t v = 99;
    mp_t m;
    mp_init(&m);
    msgpack_pack_uint64(&m.pk, 5);          /* fixint */
    msgpack_pack_uint64(&m.pk, 200);        /* u8 */
    msgpack_pack_uint64(&m.pk, 60000);      /* u16 */
    msgpack_pack_uint64(&m.pk, 1700000000); /* u32: a commit time */
    msgpack_pack_uint64(&m.pk, UINT64_MAX); /* u64 */
    msgpack_pack_int64(&m.pk, -1);
    msgpack_pack_str_with_body(&m.pk, "7", 1);
    const uint8_t *p = (const uint8_t *)m.sb.data, *end = p + m.sb.size;
    const uint64_t want[] = {5, 200, 60000, 1700000000, UINT64_MAX};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(rc_mp_read_uint(&p, end, &v), RC_OK);
        assert_true(v == want[i]);
    }
    const uint8_t *at = p;
    assert_int_equal(rc_mp_read_uint(&p, end, &v), RC_ERR_INVALID); /* negative */
    assert_ptr_equal(p, at);
    assert_int_equal(rc_mp_skip(&p, end), RC_OK);
    assert_int_equal(rc_mp_read_uint(&p, end, &v), RC_ERR_INVALID); /* a string */
    msgpack_sbuffer_destroy(&m.sb);
    const uint8_t *t = U8("\xce\x01\x02"); /* a u32 cut short */
    assert_int_equal(rc_mp_read_uint(&t, t + 3, &v), RC_ERR_TRUNCATED);
    assert_int_equal(rc_mp_read_uint(&t, t, &v), RC_ERR_TRUNCATED);
    const uint8_t *sp = U8("\xd1\x01\x00"); /* int16 256 */
    assert_int_equal(rc_mp_read_uint(&sp, sp + 3, &v), RC_OK);
    assert_true(v == 256);
}

/* rc_mp_str_head and rc_mp_int_at against the general readers, on every first byte and every
 * cut of a few values. */
static void test_mp_str_head_and_int_at_agree_with_readers(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_str_with_body(&m.pk, "", 0);
    msgpack_pack_str_with_body(&m.pk, "abc", 3);
    msgpack_pack_str_with_body(&m.pk, "0123456789abcdef0123456789abcdef0123456789", 42); /* str 8 */
    msgpack_pack_uint64(&m.pk, 200);
    msgpack_pack_uint64(&m.pk, 60000);
    msgpack_pack_uint64(&m.pk, 1700000000);
    msgpack_pack_uint64(&m.pk, UINT64_MAX);
    msgpack_pack_int64(&m.pk, -100);
    msgpack_pack_int64(&m.pk, -30000);
    msgpack_pack_int64(&m.pk, -2000000000);
    msgpack_pack_int64(&m.pk, INT64_MIN);
    msgpack_pack_int64(&m.pk, 5);               /* fixint: neither */
    msgpack_pack_bin_with_body(&m.pk, "ab", 2); /* bin 8: neither */
    msgpack_pack_nil(&m.pk);
    const uint8_t *p = (const uint8_t *)m.sb.data, *end = p + m.sb.size;
    int strs = 0, ints = 0;
    while (p < end) {
        const uint8_t *q = p;
        assert_int_equal(rc_mp_skip(&q, end), RC_OK);
        size_t size = (size_t)(q - p);
        for (size_t avail = 1; avail <= size; avail++) {
            size_t n = 0, head = rc_mp_str_head(p, avail, &n);
            const uint8_t *r = p;
            const char *s;
            uint32_t sn;
            bool whole_str = rc_mp_read_str(&r, p + avail, &s, &sn) == RC_OK;
            if (whole_str && (p[0] == 0xd9 || (p[0] & 0xe0) == 0xa0)) {
                assert_int_equal(head, (size_t)((const uint8_t *)s - p));
                assert_int_equal(n, sn);
            }
            if (head) {
                assert_true((p[0] & 0xe0) == 0xa0 || p[0] == 0xd9);
                assert_int_equal(head + n == avail, whole_str);
            }
            uint64_t u = 0;
            size_t isz = rc_mp_int_at(p, avail, &u);
            if (p[0] >= 0xcc && p[0] <= 0xd3 && avail == size) {
                assert_int_equal(isz, size);
                assert_true(u == rc_mp_int_word(p));
            } else {
                assert_int_equal(isz, 0);
            }
            strs += whole_str && head != 0;
            ints += isz != 0;
        }
        p = q;
    }
    assert_int_equal(strs, 3);
    assert_int_equal(ints, 8);
    msgpack_sbuffer_destroy(&m.sb);
    uint64_t u;
    assert_int_equal(rc_mp_int_at(U8("\xd0\x9c"), 2, &u), 2);
    assert_true((int64_t)u == -100);
    size_t n;
    assert_int_equal(rc_mp_str_head(U8("\xd9"), 1, &n), 0); /* str 8 without its length */
}

/* rc_mp_skip_rows against rc_mp_skip on row sides of every form, cut at every byte: the same
 * result and the same end, on its fast path and where it must fall back (values that are maps or
 * arrays or have wider lengths, keys that are not fixstrs, a map 32, not an array). */
static void test_mp_skip_rows_agrees_with_skip(void **state) {
    (void)state;
    for (int form = 0; form < 9; form++) {
        mp_t m;
        mp_init(&m);
        msgpack_packer *pk = &m.pk;
        uint32_t rows = form == 1 ? 0 : form == 2 ? 3 : 1, cols = form == 3 ? 20 : 9;
        if (form == 8) {
            msgpack_pack_map(pk, 1); /* not an array */
        } else {
            msgpack_pack_array(pk, rows);
        }
        for (uint32_t r = 0; r < (form == 8 ? 1 : rows); r++) {
            if (form == 8) {
                msgpack_pack_nil(pk);
                break;
            }
            msgpack_pack_map(pk, cols); /* 20: a map 16 */
            for (uint32_t i = 0; i < cols; i++) {
                char key[40];
                int kl = snprintf(key, sizeof key,
                                  i == 4 ? "a_key_of_exactly_thirty_one_byt" : "c%u", i);
                if (form == 4 && i == 5) {
                    msgpack_pack_int(pk, 7); /* a key that is not a str */
                } else if (form == 5 && i == 5) {
                    msgpack_pack_str_with_body(pk, "a key of forty bytes, longer than 31 b", 38);
                } else {
                    msgpack_pack_str_with_body(pk, key, (size_t)kl);
                }
                switch ((i + r) % 9) {
                case 0:
                    msgpack_pack_uint64(pk, 1ULL << (8 * (i % 8)));
                    break;
                case 1:
                    msgpack_pack_str_with_body(pk, "Customer 42", 11);
                    break;
                case 2:
                    msgpack_pack_ext_with_body(pk, "2024-02-29 13:01:02", 19, 3);
                    break;
                case 3:
                    msgpack_pack_nil(pk);
                    break;
                case 4:
                    msgpack_pack_double(pk, 2.5);
                    break;
                case 5:
                    msgpack_pack_bin_with_body(pk, "\x01\x02", 2);
                    break;
                case 6:
                    if (form == 6) {
                        msgpack_pack_array(pk, 2), msgpack_pack_int(pk, 1), msgpack_pack_int(pk, 2);
                    } else {
                        msgpack_pack_int64(pk, -5 - (int64_t)i);
                    }
                    break;
                case 7:
                    if (form == 7) {
                        char big[300];
                        memset(big, 'x', sizeof big);
                        msgpack_pack_str_with_body(pk, big, sizeof big); /* str 16 */
                    } else {
                        msgpack_pack_str_with_body(pk, "a string of forty bytes, a str 8 ......",
                                                   39);
                    }
                    break;
                default:
                    msgpack_pack_map(pk, 0);
                }
            }
        }
        msgpack_pack_str_with_body(pk, "meta", 4); /* what follows a side in an event */
        msgpack_pack_str_with_body(pk, "a filler that the fast path may look into..", 44);
        const uint8_t *data = (const uint8_t *)m.sb.data;
        for (size_t cut = 0; cut <= m.sb.size; cut++) {
            const uint8_t *a = data, *b = data;
            rc_err_t ea = rc_mp_skip(&a, data + cut), eb = rc_mp_skip_rows(&b, data + cut);
            assert_int_equal(eb, ea);
            assert_ptr_equal(b, a);
        }
        /* the usual forms whole: the fast path takes them, and ends where rc_mp_skip does */
        const uint8_t *a = data, *b = data;
        assert_int_equal(rc_mp_skip(&a, data + m.sb.size), RC_OK);
        assert_int_equal(rc_mp_skip_rows_fast(&b, data + m.sb.size), form <= 3);
        assert_ptr_equal(b, form <= 3 ? a : data);
        msgpack_sbuffer_destroy(&m.sb);
    }
}

/* ---- map_find ----------------------------------------------------------------------------- */

static void pack_event(mp_t *m) {
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 7);
    mp_str(m, "schema");
    mp_str(m, "shop");
    msgpack_pack_int(pk, 5); /* non-string keys are passed over */
    mp_str(m, "kafka-int");
    msgpack_pack_bin_with_body(pk, "kafka", 5); /* a bin that spells the key is not it */
    mp_str(m, "kafka-bin");
    msgpack_pack_nil(pk);
    mp_str(m, "kafka-nil");
    mp_str(m, "kafk"); /* a prefix is not it */
    msgpack_pack_int(pk, 1);
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
    mp_str(m, "kafka"); /* a second one is never reached */
    msgpack_pack_nil(pk);
}

static void test_mp_map_find(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    pack_event(&m);
    const uint8_t *ev = U8(m.sb.data), *end = ev + m.sb.size;
    const uint8_t *v = NULL;

    assert_int_equal(rc_mp_map_find(ev, end, "schema", &v), RC_OK);
    const char *s;
    uint32_t n;
    assert_int_equal(rc_mp_read_str(&v, end, &s, &n), RC_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(s, "shop", 4);

    const uint8_t *kafka;
    assert_int_equal(rc_mp_map_find(ev, end, "kafka", &kafka), RC_OK);
    assert_false(rc_mp_is_nil(kafka, end));
    assert_int_equal(rc_mp_map_find(kafka, end, "topic", &v), RC_OK);
    assert_int_equal(rc_mp_read_str(&v, end, &s, &n), RC_OK);
    assert_int_equal(n, 10);
    assert_memory_equal(s, "shop.users", 10);
    const uint8_t *key;
    assert_int_equal(rc_mp_map_find(kafka, end, "key", &key), RC_OK);
    assert_int_equal(rc_mp_map_find(key, end, "id", &v), RC_OK);
    assert_int_equal(*v, 7);
    assert_int_equal(rc_mp_map_find(kafka, end, "headers", &v), RC_OK);
    assert_int_equal(rc_mp_read_map(&v, end, &n), RC_OK);
    assert_int_equal(n, 0);

    v = NULL;
    assert_int_equal(rc_mp_map_find(ev, end, "absent", &v), RC_ERR_EOF);
    assert_int_equal(rc_mp_map_find(ev, end, "", &v), RC_ERR_EOF);
    assert_int_equal(rc_mp_map_find(ev, end, "kafka-", &v), RC_ERR_EOF);
    assert_null(v);
    assert_int_equal(rc_mp_map_find(kafka, end, "kafka", &v), RC_ERR_EOF);

    /* not a map */
    assert_int_equal(rc_mp_map_find(U8("\x91\xa1k"), U8("\x91\xa1k") + 3, "k", &v), RC_ERR_INVALID);
    assert_int_equal(rc_mp_map_find(U8("\xc0"), U8("\xc0") + 1, "k", &v), RC_ERR_INVALID);
    assert_int_equal(rc_mp_map_find(ev, ev, "k", &v), RC_ERR_TRUNCATED);
    /* an empty key */
    const uint8_t *e = U8("\x81\xa0\x2a");
    assert_int_equal(rc_mp_map_find(e, e + 3, "", &v), RC_OK);
    assert_int_equal(*v, 42);
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_mp_map_find_truncated(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    pack_event(&m);
    const uint8_t *v;
    /* locate where "kafka"'s value ends: any cut before it cannot find it whole */
    const uint8_t *ev = U8(m.sb.data), *end = ev + m.sb.size;
    assert_int_equal(rc_mp_map_find(ev, end, "kafka", &v), RC_OK);
    const uint8_t *vend = v;
    assert_int_equal(rc_mp_skip(&vend, end), RC_OK);
    size_t need = (size_t)(vend - ev), at = (size_t)(v - ev);
    for (size_t cut = 0; cut < m.sb.size; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, ev, cut);
        rc_err_t err = rc_mp_map_find(copy, copy + cut, "kafka", &v);
        if (cut < need) {
            assert_int_equal(err, RC_ERR_TRUNCATED);
        } else {
            assert_int_equal(err, RC_OK);
            assert_ptr_equal(v, copy + at);
        }
        assert_int_equal(rc_mp_map_find(copy, copy + cut, "nope", &v), RC_ERR_TRUNCATED);
        free(copy);
    }
    /* a broken non-string key ends the search */
    const uint8_t *bad = U8("\x82\xc1\x01\xa1k\x02");
    assert_int_equal(rc_mp_map_find(bad, bad + 6, "k", &v), RC_ERR_INVALID);
    /* a broken value, even of another key */
    bad = U8("\x82\xa1x\xc1\xa1k\x02");
    assert_int_equal(rc_mp_map_find(bad, bad + 7, "k", &v), RC_ERR_INVALID);
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_mp_map_pick_one_pass(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 6);
    mp_str(&m, "a"), msgpack_pack_array(&m.pk, 2), msgpack_pack_int(&m.pk, 1), mp_str(&m, "x");
    msgpack_pack_str_with_body(&m.pk, "gtid\0xyz", 8), msgpack_pack_int(&m.pk, 9); /* NUL */
    msgpack_pack_int(&m.pk, 5), msgpack_pack_int(&m.pk, 6); /* a key that is not a string */
    mp_str(&m, "gtid"), mp_str(&m, "0-1-2");
    mp_str(&m, "b"), msgpack_pack_nil(&m.pk);
    mp_str(&m, "gtid"), mp_str(&m, "second"); /* the first one wins, as rc_mp_map_find */
    msgpack_pack_true(&m.pk);                 /* after the map */
    static const char *const keys[] = {"b", "gtid", "absent", "a"};
    const uint8_t *v[4], *after;
    const uint8_t *d = (const uint8_t *)m.sb.data, *end = d + m.sb.size;
    assert_int_equal(rc_mp_map_pick(d, end, keys, 4, v, &after), RC_OK);
    assert_true(rc_mp_is_nil(v[0], end));
    const char *s;
    uint32_t n;
    assert_int_equal(rc_mp_read_str(&v[1], end, &s, &n), RC_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(s, "0-1-2", 5);
    assert_null(v[2]);
    assert_int_equal(v[3][0], 0x92);
    assert_ptr_equal(after, end - 1);
    for (size_t cut = 0; cut + 1 < m.sb.size; cut++) {
        rc_err_t err = rc_mp_map_pick(d, d + cut, keys, 4, v, NULL);
        assert_true(err == RC_ERR_TRUNCATED);
    }
    assert_int_equal(rc_mp_map_pick(d + m.sb.size - 1, end, keys, 4, v, NULL), RC_ERR_INVALID);
    msgpack_sbuffer_destroy(&m.sb);
}

/* An empty key is a key like any other; so is a long list of keys (past the lengths kept). */
static void test_mp_map_pick_empty_key_and_many_keys(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 3);
    mp_str(&m, "k1"), msgpack_pack_int(&m.pk, 1);
    mp_str(&m, ""), msgpack_pack_int(&m.pk, 2);
    mp_str(&m, "k39"), msgpack_pack_int(&m.pk, 3);
    const uint8_t *d = (const uint8_t *)m.sb.data, *end = d + m.sb.size, *v[40];
    static const char *const two[] = {"k", ""};
    assert_int_equal(rc_mp_map_pick(d, end, two, 2, v, NULL), RC_OK);
    assert_null(v[0]);
    assert_int_equal(v[1][0], 2);
    char names[40][4];
    const char *many[40];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "k%d", i);
        many[i] = names[i];
    }
    many[0] = "";
    for (size_t n = 2; n <= 40; n++) {
        assert_int_equal(rc_mp_map_pick(d, end, many, n, v, NULL), RC_OK);
        assert_int_equal(v[0][0], 2);
        assert_int_equal(v[1][0], 1);
        for (size_t j = 2; j < n; j++) {
            if (j == 39) {
                assert_int_equal(v[j][0], 3);
            } else {
                assert_null(v[j]);
            }
        }
    }
    msgpack_sbuffer_destroy(&m.sb);
}

/* The keys asked for may come in any order in the map (the search starts after the last key
 * found); a key with the length and first byte of one asked for but other bytes is not it. */
static void test_mp_map_pick_any_order(void **state) {
    (void)state;
    mp_t m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 5);
    mp_str(&m, "gtix"), msgpack_pack_int(&m.pk, 9);
    mp_str(&m, "k0"), msgpack_pack_int(&m.pk, 0);
    mp_str(&m, "gtid"), msgpack_pack_int(&m.pk, 1);
    mp_str(&m, "k2"), msgpack_pack_int(&m.pk, 2);
    mp_str(&m, "k3"), msgpack_pack_int(&m.pk, 3);
    const uint8_t *d = (const uint8_t *)m.sb.data, *end = d + m.sb.size, *v[4], *after;
    static const char *const names[4] = {"k0", "gtid", "k2", "k3"};
    int perm[4] = {0, 1, 2, 3}, tried = 0;
    for (;;) {
        const char *keys[4];
        for (int j = 0; j < 4; j++) {
            keys[j] = names[perm[j]];
        }
        assert_int_equal(rc_mp_map_pick(d, end, keys, 4, v, &after), RC_OK);
        for (int j = 0; j < 4; j++) {
            assert_non_null(v[j]);
            assert_int_equal(v[j][0], perm[j]);
        }
        assert_ptr_equal(after, end);
        tried++;
        /* next permutation in lexicographic order */
        int i = 2;
        while (i >= 0 && perm[i] > perm[i + 1]) {
            i--;
        }
        if (i < 0) {
            break;
        }
        int k = 3;
        while (perm[k] < perm[i]) {
            k--;
        }
        int t = perm[i];
        perm[i] = perm[k], perm[k] = t;
        for (int a = i + 1, b = 3; a < b; a++, b--) {
            t = perm[a], perm[a] = perm[b], perm[b] = t;
        }
    }
    assert_int_equal(tried, 24);
    msgpack_sbuffer_destroy(&m.sb);
}

/* rc_mp_skip_one: an object its first byte sizes in one step, anything else as rc_mp_skip. */
static void test_mp_skip_one(void **state) {
    (void)state;
    const uint8_t *b = U8("\xa3"
                          "abc"
                          "\x81\xa1k\xcd\x01\x02\xcb");
    const uint8_t *p = b, *end = b + 11;
    assert_int_equal(rc_mp_skip_one(&p, end), RC_OK);
    assert_ptr_equal(p, b + 4);
    assert_int_equal(rc_mp_skip_one(&p, end), RC_OK); /* the map, through rc_mp_skip */
    assert_ptr_equal(p, b + 10);
    assert_int_equal(rc_mp_skip_one(&p, end), RC_ERR_TRUNCATED); /* float64 without its bytes */
    assert_ptr_equal(p, b + 10);
    p = b;
    assert_int_equal(rc_mp_skip_one(&p, b + 3), RC_ERR_TRUNCATED); /* fixstr cut short */
    assert_ptr_equal(p, b);
    assert_int_equal(rc_mp_skip_one(&p, b), RC_ERR_TRUNCATED);
}

/* rc_mp_skip_one takes a str 8, a bin 8, an empty map and an empty array inline: each ends where
 * rc_mp_skip ends it, and one cut anywhere is RC_ERR_TRUNCATED with the position unmoved. */
static void test_mp_skip_one_inline_forms_agree_with_skip(void **state) {
    (void)state;
    static const struct {
        const char *b;
        size_t n;
    } forms[] = {
        {"\xd9\x03xyz", 5},   {"\xd9\x00", 2}, {"\xc4\x02\x00\xff", 4},
        {"\xc4\x00", 2},      {"\x80", 1},     {"\x90", 1},
        {"\x81\xa1k\x90", 4}, {"\x91\x80", 2}, {"\xda\x00\x01z", 4},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        uint8_t b[16];
        size_t n = forms[i].n;
        memcpy(b, forms[i].b, n);
        b[n] = 0xc0; /* an object after it */
        for (size_t cut = 0; cut <= n + 1; cut++) {
            const uint8_t *p = b, *q = b;
            rc_err_t want = rc_mp_skip(&q, b + cut);
            assert_int_equal(rc_mp_skip_one(&p, b + cut), want);
            assert_ptr_equal(p, q);
            assert_int_equal(want, cut < n ? RC_ERR_TRUNCATED : RC_OK);
            assert_ptr_equal(p, cut < n ? b : b + n);
        }
    }
}

/* rc_cols_find: the entry after the last one found is looked at first (inline), then the rest
 * from there and from the start; names of the same length that differ late are told apart and
 * an entry cut short is never read past the descriptor's end. */
static void test_cols_find_in_and_out_of_order(void **state) {
    (void)state;
    static const struct {
        const char *name;
        uint8_t type;
    } cols[] = {{"ab", RC_COL_INT}, {"ac", RC_COL_TEXT}, {"id", RC_COL_BIGINT}, {"q", RC_COL_BIT}};
    uint8_t b[2 + 64];
    size_t o = 2;
    for (size_t i = 0; i < 4; i++) {
        size_t n = strlen(cols[i].name);
        b[o++] = 0;
        b[o++] = (uint8_t)n;
        memcpy(b + o, cols[i].name, n);
        o += n;
        b[o++] = cols[i].type;
        b[o++] = (uint8_t)i; /* flags: the index, to tell entries apart */
        b[o++] = 0;
        b[o++] = 7;
        b[o++] = 0;
    }
    b[0] = 0xc4; /* bin 8 */
    b[1] = (uint8_t)(o - 2);
    rc_cols_t c;
    rc_col_info_t ci;
    rc_cols_init(&c, b, b + o);
    static const char *const order[] = {"ab", "ac", "id", "q", "q", "ac", "ab", "id", "ab"};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        assert_true(rc_cols_find(&c, order[k], (uint32_t)strlen(order[k]), &ci));
        assert_int_equal(ci.name_len, strlen(order[k]));
        assert_memory_equal(ci.name, order[k], ci.name_len);
        size_t want = 0;
        while (strcmp(cols[want].name, order[k]) != 0) {
            want++;
        }
        assert_int_equal(ci.type, cols[want].type);
        assert_int_equal(ci.flags, want);
        assert_int_equal(ci.len, 7);
    }
    assert_false(rc_cols_find(&c, "ad", 2, &ci));
    assert_int_equal(ci.type, RC_COL_UNKNOWN);
    assert_false(rc_cols_find(&c, "i", 1, &ci));
    /* cut inside the last entry ("q" at the cursor): not found, nothing read past the cut */
    for (size_t cut = 2; cut < o; cut++) {
        uint8_t *d = malloc(cut);
        assert_non_null(d);
        memcpy(d, b, cut);
        d[1] = (uint8_t)(cut - 2);
        rc_cols_init(&c, d, d + cut);
        bool all = true;
        for (size_t i = 0; i < 4; i++) {
            bool found = rc_cols_find(&c, cols[i].name, (uint32_t)strlen(cols[i].name), &ci);
            all = all && found;
        }
        assert_false(all); /* the last entry never fits */
        free(d);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_skip_every_type),
        cmocka_unit_test(test_mp_skip_stops_after_one_object),
        cmocka_unit_test(test_mp_skip_truncated_at_every_cut),
        cmocka_unit_test(test_mp_skip_8bit_lengths_truncated_at_every_cut),
        cmocka_unit_test(test_mp_skip_invalid_and_huge),
        cmocka_unit_test(test_mp_read_map_and_array),
        cmocka_unit_test(test_mp_read_str_every_encoding),
        cmocka_unit_test(test_mp_is_nil),
        cmocka_unit_test(test_mp_read_uint_every_width),
        cmocka_unit_test(test_mp_str_head_and_int_at_agree_with_readers),
        cmocka_unit_test(test_mp_skip_rows_agrees_with_skip),
        cmocka_unit_test(test_mp_map_find),
        cmocka_unit_test(test_mp_map_find_truncated),
        cmocka_unit_test(test_mp_map_pick_one_pass),
        cmocka_unit_test(test_mp_map_pick_any_order),
        cmocka_unit_test(test_mp_skip_one),
        cmocka_unit_test(test_mp_skip_one_inline_forms_agree_with_skip),
        cmocka_unit_test(test_cols_find_in_and_out_of_order),
        cmocka_unit_test(test_mp_map_pick_empty_key_and_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
