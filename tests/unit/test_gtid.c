/* test_gtid.c: GTID set arithmetic of both flavors: parse, format, add, contains, subtract,
 * merge, and a property test of every operation against a bitmap reference model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_gtid.h"

#define U1 "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define U2 "a0000000-0000-0000-0000-0000000000b1"

/* Parses text into a fresh set and returns its canonical form (static buffer). */
static const char *canon(rc_gtid_flavor_t f, const char *text) {
    static char out[4096];
    char err[256];
    rc_gtid_set_t *s = rc_gtid_set_new(f);
    assert_non_null(s);
    rc_err_t rc = rc_gtid_set_parse(s, text, err, sizeof(err));
    if (rc != RC_OK) {
        fail_msg("parse \"%s\": %s", text, err);
    }
    rc_buf_t b = RC_BUF_INIT;
    assert_int_equal(rc_gtid_set_format(s, &b), RC_OK);
    snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data ? b.data : "");
    rc_buf_free(&b);
    rc_gtid_set_destroy(s);
    return out;
}

static void test_gtid_mysql_parse_merges_and_sorts(void **state) {
    (void)state;
    assert_string_equal(canon(RC_GTID_MYSQL, ""), "");
    assert_string_equal(canon(RC_GTID_MYSQL, U1 ":1-5:7"), U1 ":1-5:7");
    /* overlapping and adjacent intervals merge; order does not matter */
    assert_string_equal(canon(RC_GTID_MYSQL, U1 ":7:1-3:4-5:2"), U1 ":1-5:7");
    assert_string_equal(canon(RC_GTID_MYSQL, U1 ":1-5:6-9"), U1 ":1-9");
    /* UUIDs lowercase and sorted; a UUID repeated is one item */
    assert_string_equal(canon(RC_GTID_MYSQL, "A0000000-0000-0000-0000-0000000000B1:3," U1
                                             ":1,a0000000-0000-0000-0000-0000000000b1:4"),
                        U1 ":1," U2 ":3-4");
    /* whitespace and newlines as gtid_executed prints them */
    assert_string_equal(canon(RC_GTID_MYSQL, " " U1 ":1-2,\n" U2 ":9 "), U1 ":1-2," U2 ":9");
}

static void test_gtid_mysql_tags_follow_the_untagged_intervals(void **state) {
    (void)state;
    assert_string_equal(canon(RC_GTID_MYSQL, U1 ":Tag_B:1-3," U1 ":1-5:tag_a:9"),
                        U1 ":1-5:tag_a:9:tag_b:1-3");
    assert_string_equal(canon(RC_GTID_MYSQL, U1 ":x:1:2:3"), U1 ":x:1-3");
    rc_gtid_set_t *s = rc_gtid_set_new(RC_GTID_MYSQL);
    char err[256];
    assert_int_equal(rc_gtid_set_parse(s, U1 ":1-5:tag_a:9", err, sizeof(err)), RC_OK);
    assert_true(rc_gtid_set_contains(s, U1 ":tag_a:9"));
    assert_true(rc_gtid_set_contains(s, U1 ":TAG_A:9"));
    assert_false(rc_gtid_set_contains(s, U1 ":tag_a:5"));
    assert_true(rc_gtid_set_contains(s, U1 ":5"));
    assert_false(rc_gtid_set_contains(s, U1 ":9"));
    rc_gtid_set_destroy(s);
}

static void expect_parse_error(rc_gtid_flavor_t f, const char *text, const char *fragment) {
    char err[512] = "";
    rc_gtid_set_t *s = rc_gtid_set_new(f);
    assert_int_equal(rc_gtid_set_add_maria(s, 0, 1, 1) == RC_OK || f == RC_GTID_MYSQL, 1);
    rc_buf_t before = RC_BUF_INIT, after = RC_BUF_INIT;
    rc_gtid_set_format(s, &before);
    assert_int_equal(rc_gtid_set_parse(s, text, err, sizeof(err)), RC_ERR_INVALID);
    bool has = strstr(err, fragment) != NULL;
    if (!has) {
        print_error("error for \"%s\" is \"%s\", expected it to contain \"%s\"\n", text, err,
                    fragment);
    }
    rc_gtid_set_format(s, &after); /* unchanged on error */
    bool same = before.len == after.len;
    rc_buf_free(&before);
    rc_buf_free(&after);
    rc_gtid_set_destroy(s);
    assert_true(has);
    assert_true(same);
}

static void test_gtid_parse_errors_name_the_character(void **state) {
    (void)state;
    expect_parse_error(RC_GTID_MYSQL, "3e11fa47:1", "server UUID");
    expect_parse_error(RC_GTID_MYSQL, U1 ":0", "character 38");
    expect_parse_error(RC_GTID_MYSQL, U1 ":5-3", "not below its start");
    expect_parse_error(RC_GTID_MYSQL, U1 ":1;", "':' or ','");
    expect_parse_error(RC_GTID_MYSQL, U1 ":tag", "after the tag");
    expect_parse_error(RC_GTID_MYSQL, U1 ":a234567890123456789012345678901234:1", "at most 32");
    expect_parse_error(RC_GTID_MYSQL, U1 ":9223372036854775807", "9223372036854775806");
    expect_parse_error(RC_GTID_MYSQL, U1 ":1,", "server UUID");
    expect_parse_error(RC_GTID_MARIADB, "0-1", "'-' after the server id");
    expect_parse_error(RC_GTID_MARIADB, "0-1-x", "sequence number");
    expect_parse_error(RC_GTID_MARIADB, "4294967296-1-1", "domain id");
    expect_parse_error(RC_GTID_MARIADB, "0-1-5 0-2-3", "','");
}

static void test_gtid_add_takes_exactly_one_gtid(void **state) {
    (void)state;
    char err[256];
    rc_gtid_set_t *s = rc_gtid_set_new(RC_GTID_MYSQL);
    assert_int_equal(rc_gtid_set_add(s, U1 ":3", err, sizeof(err)), RC_OK);
    assert_int_equal(rc_gtid_set_add(s, U1 ":4", err, sizeof(err)), RC_OK);
    assert_int_equal(rc_gtid_set_add(s, U1 ":t:1", err, sizeof(err)), RC_OK);
    assert_int_equal(rc_gtid_set_add(s, U1 ":1-2", err, sizeof(err)), RC_ERR_INVALID);
    assert_non_null(strstr(err, "not one GTID"));
    assert_int_equal(rc_gtid_set_add(s, U1 ":1," U2 ":1", err, sizeof(err)), RC_ERR_INVALID);
    rc_buf_t b = RC_BUF_INIT;
    rc_gtid_set_format(s, &b);
    assert_memory_equal(b.data, U1 ":3-4:t:1", b.len);
    rc_buf_free(&b);
    rc_gtid_set_destroy(s);

    s = rc_gtid_set_new(RC_GTID_MARIADB);
    assert_int_equal(rc_gtid_set_add(s, "0-1-5", err, sizeof(err)), RC_OK);
    assert_int_equal(rc_gtid_set_add(s, "0-1-3", err, sizeof(err)), RC_OK); /* keeps 5 */
    assert_int_equal(rc_gtid_set_add(s, "0-1-5,1-1-1", err, sizeof(err)), RC_ERR_INVALID);
    assert_true(rc_gtid_set_contains(s, "0-1-5"));
    assert_true(rc_gtid_set_contains(s, "0-2-4")); /* the domain is past 4 */
    assert_false(rc_gtid_set_contains(s, "0-1-6"));
    assert_false(rc_gtid_set_contains(s, "1-1-1"));
    assert_false(rc_gtid_set_contains(s, "garbage"));
    rc_gtid_set_destroy(s);
}

static void test_gtid_mariadb_format_and_connect_state(void **state) {
    (void)state;
    assert_string_equal(canon(RC_GTID_MARIADB, "1-1-3, 0-2-9,0-1-5,0-1-4"), "0-1-5,0-2-9,1-1-3");
    rc_gtid_set_t *s = rc_gtid_set_new(RC_GTID_MARIADB);
    char err[256];
    assert_int_equal(rc_gtid_set_parse(s, "0-1-5,0-2-9,1-1-3,1-7-2", err, sizeof(err)), RC_OK);
    rc_buf_t b = RC_BUF_INIT;
    assert_int_equal(rc_gtid_set_format_connect(s, &b), RC_OK);
    assert_int_equal(b.len, strlen("0-2-9,1-1-3"));
    assert_memory_equal(b.data, "0-2-9,1-1-3", b.len);
    uint64_t seq;
    assert_true(rc_gtid_set_domain_seq(s, 1, &seq));
    assert_int_equal(seq, 3);
    assert_false(rc_gtid_set_domain_seq(s, 2, &seq));
    rc_buf_free(&b);
    rc_gtid_set_destroy(s);
}

static void test_gtid_subtract_and_subset(void **state) {
    (void)state;
    char err[256];
    rc_gtid_set_t *a = rc_gtid_set_new(RC_GTID_MYSQL), *b = rc_gtid_set_new(RC_GTID_MYSQL);
    assert_int_equal(rc_gtid_set_parse(a, U1 ":1-10:t:1-4," U2 ":1-3", err, sizeof(err)), RC_OK);
    assert_int_equal(rc_gtid_set_parse(b, U1 ":4-6:t:1-4", err, sizeof(err)), RC_OK);
    assert_true(rc_gtid_set_is_subset(b, a));
    assert_false(rc_gtid_set_is_subset(a, b));
    assert_int_equal(rc_gtid_set_subtract(a, b), RC_OK);
    rc_buf_t out = RC_BUF_INIT;
    rc_gtid_set_format(a, &out);
    assert_int_equal(out.len, strlen(U1 ":1-3:7-10," U2 ":1-3"));
    assert_memory_equal(out.data, U1 ":1-3:7-10," U2 ":1-3", out.len);
    rc_buf_free(&out);
    rc_gtid_set_t *m = rc_gtid_set_new(RC_GTID_MARIADB);
    assert_int_equal(rc_gtid_set_merge(a, m), RC_ERR_INVALID); /* flavors do not mix */
    rc_gtid_set_destroy(m);
    rc_gtid_set_destroy(a);
    rc_gtid_set_destroy(b);
}

/* The bytes of COM_BINLOG_DUMP_GTID's GTID data, computed by hand from the protocol
 * documentation: v0 = 8-byte count; per SID 16 bytes, 8-byte interval count, start and end + 1. */
static void test_gtid_encode_mysql_untagged_and_tagged(void **state) {
    (void)state;
    char err[256];
    rc_gtid_set_t *s = rc_gtid_set_new(RC_GTID_MYSQL);
    assert_int_equal(rc_gtid_set_parse(s, U1 ":1-5:7", err, sizeof(err)), RC_OK);
    rc_buf_t b = RC_BUF_INIT;
    assert_int_equal(rc_gtid_set_encode_mysql(s, &b), RC_OK);
    static const uint8_t want[] = {
        1,    0,    0,    0,    0,    0,    0,    0,    /* one SID */
        0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, /* UUID */
        0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62, /* */
        2,    0,    0,    0,    0,    0,    0,    0,    /* two intervals */
        1,    0,    0,    0,    0,    0,    0,    0,    /* [1, */
        6,    0,    0,    0,    0,    0,    0,    0,    /* 6) */
        7,    0,    0,    0,    0,    0,    0,    0,    /* [7, */
        8,    0,    0,    0,    0,    0,    0,    0,    /* 8) */
    };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    rc_buf_reset(&b);
    assert_int_equal(rc_gtid_set_parse(s, U1 ":ab:3", err, sizeof(err)), RC_OK);
    assert_int_equal(rc_gtid_set_encode_mysql(s, &b), RC_OK);
    /* v1: version 1, 6-byte count 2, version 1; tsids "" then "ab" */
    static const uint8_t head[] = {1, 2, 0, 0, 0, 0, 0, 1};
    assert_memory_equal(b.data, head, 8);
    assert_int_equal((uint8_t)b.data[8 + 16], 0); /* untagged: tag length 0 */
    size_t second = 8 + 16 + 1 + 8 + 2 * 16;      /* after the untagged tsid */
    assert_memory_equal(b.data + second, want + 8, 16);
    assert_int_equal((uint8_t)b.data[second + 16], 4); /* length 2, shifted left once */
    assert_memory_equal(b.data + second + 17, "ab", 2);
    assert_int_equal(b.len, second + 17 + 2 + 8 + 16);
    rc_buf_free(&b);
    rc_gtid_set_destroy(s);
}

/* ---- property tests against a reference model ---- */

#define NU   2  /* UUIDs */
#define NT   2  /* tags: "" and "t" */
#define NGNO 64 /* transaction numbers 1..64 */

typedef struct model {
    uint64_t bits[NU][NT]; /* bit g-1 = transaction g */
} model_t;

static const char *const uuids[NU] = {U1, U2};
static const char *const tags[NT] = {"", "t"};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { /* xorshift64*, fixed seed: reproducible */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void model_text(const model_t *m, char *out, size_t n) {
    size_t o = 0;
    out[0] = '\0';
    for (int u = 0; u < NU; u++) {
        bool any = false;
        for (int t = 0; t < NT; t++) {
            any = any || m->bits[u][t];
        }
        if (!any) {
            continue;
        }
        o += (size_t)snprintf(out + o, n - o, "%s%s", o ? "," : "", uuids[u]);
        for (int t = 0; t < NT; t++) {
            if (!m->bits[u][t]) {
                continue;
            }
            if (tags[t][0]) {
                o += (size_t)snprintf(out + o, n - o, ":%s", tags[t]);
            }
            for (int g = 0; g < NGNO;) {
                if (!(m->bits[u][t] >> g & 1)) {
                    g++;
                    continue;
                }
                int e = g;
                while (e + 1 < NGNO && (m->bits[u][t] >> (e + 1) & 1)) {
                    e++;
                }
                o += e == g ? (size_t)snprintf(out + o, n - o, ":%d", g + 1)
                            : (size_t)snprintf(out + o, n - o, ":%d-%d", g + 1, e + 1);
                g = e + 1;
            }
        }
    }
}

static void random_model(model_t *m) {
    for (int u = 0; u < NU; u++) {
        for (int t = 0; t < NT; t++) {
            /* sparse or dense runs so that merging and splitting both happen */
            uint64_t r = rnd(), mask = rnd() % 3 == 0 ? 0 : rnd();
            m->bits[u][t] = r & mask;
        }
    }
}

static rc_gtid_set_t *from_model(const model_t *m) {
    char text[4096], err[256];
    model_text(m, text, sizeof(text));
    rc_gtid_set_t *s = rc_gtid_set_new(RC_GTID_MYSQL);
    if (rc_gtid_set_parse(s, text, err, sizeof(err)) != RC_OK) {
        fail_msg("parse of the model's text \"%s\" failed: %s", text, err);
    }
    return s;
}

static void assert_matches(const rc_gtid_set_t *s, const model_t *m, const char *op) {
    char want[4096];
    model_text(m, want, sizeof(want));
    rc_buf_t b = RC_BUF_INIT;
    assert_int_equal(rc_gtid_set_format(s, &b), RC_OK);
    if (b.len != strlen(want) || (b.len && memcmp(b.data, want, b.len) != 0)) {
        fail_msg("after %s: got \"%.*s\", model says \"%s\"", op, (int)b.len, b.data, want);
    }
    rc_buf_free(&b);
    for (int u = 0; u < NU; u++) {
        for (int t = 0; t < NT; t++) {
            for (int g = 1; g <= NGNO; g++) {
                char gtid[128];
                snprintf(gtid, sizeof(gtid), "%s%s%s:%d", uuids[u], tags[t][0] ? ":" : "", tags[t],
                         g);
                bool in = m->bits[u][t] >> (g - 1) & 1;
                if (rc_gtid_set_contains(s, gtid) != in) {
                    fail_msg("after %s: contains(%s) is %d, model says %d", op, gtid, !in, in);
                }
            }
        }
    }
}

static void test_gtid_mysql_matches_bitmap_model(void **state) {
    (void)state;
    char err[256];
    for (int round = 0; round < 400; round++) {
        model_t a, b;
        random_model(&a);
        random_model(&b);
        rc_gtid_set_t *sa = from_model(&a), *sb = from_model(&b);
        assert_matches(sa, &a, "parse");

        /* add one GTID or one interval */
        int u = (int)(rnd() % NU), t = (int)(rnd() % NT), g1 = (int)(rnd() % NGNO) + 1;
        int g2 = g1 + (int)(rnd() % 8);
        g2 = g2 > NGNO ? NGNO : g2;
        uint8_t raw[16];
        for (int i = 0, k = 0; i < 16; k++) {
            if (uuids[u][k] == '-') {
                continue;
            }
            unsigned v;
            sscanf(uuids[u] + k, "%2x", &v);
            raw[i++] = (uint8_t)v;
            k++;
        }
        assert_int_equal(rc_gtid_set_add_interval(sa, raw, tags[t], (uint64_t)g1, (uint64_t)g2),
                         RC_OK);
        for (int g = g1; g <= g2; g++) {
            a.bits[u][t] |= 1ULL << (g - 1);
        }
        assert_matches(sa, &a, "add_interval");
        char one[128];
        snprintf(one, sizeof(one), "%s%s%s:%d", uuids[u], tags[t][0] ? ":" : "", tags[t], g2);
        assert_int_equal(rc_gtid_set_add(sa, one, err, sizeof(err)), RC_OK);
        a.bits[u][t] |= 1ULL << (g2 - 1);
        assert_matches(sa, &a, "add");

        /* subset and equality */
        bool sub = true;
        for (int x = 0; x < NU; x++) {
            for (int y = 0; y < NT; y++) {
                sub = sub && (b.bits[x][y] & ~a.bits[x][y]) == 0;
            }
        }
        assert_int_equal(rc_gtid_set_is_subset(sb, sa), sub);
        assert_int_equal(rc_gtid_set_equal(sa, sb), memcmp(&a, &b, sizeof(a)) == 0);

        rc_gtid_set_t *diff = rc_gtid_set_copy(sa);
        rc_gtid_set_t *uni = rc_gtid_set_copy(sa);
        assert_int_equal(rc_gtid_set_subtract(diff, sb), RC_OK);
        assert_int_equal(rc_gtid_set_merge(uni, sb), RC_OK);
        model_t d = a, m = a;
        for (int x = 0; x < NU; x++) {
            for (int y = 0; y < NT; y++) {
                d.bits[x][y] &= ~b.bits[x][y];
                m.bits[x][y] |= b.bits[x][y];
            }
        }
        assert_matches(diff, &d, "subtract");
        assert_matches(uni, &m, "merge");
        /* (a - b) ∪ b == a ∪ b, and the copy left sa alone */
        assert_int_equal(rc_gtid_set_merge(diff, sb), RC_OK);
        assert_true(rc_gtid_set_equal(diff, uni));
        assert_matches(sa, &a, "copy");
        rc_gtid_set_destroy(diff);
        rc_gtid_set_destroy(uni);
        rc_gtid_set_destroy(sa);
        rc_gtid_set_destroy(sb);
    }
}

/* MariaDB model: seq[d][s], -1 = absent; contains(d-s-n) = max over s of seq[d][s] >= n. */
#define ND 3
#define NS 3
typedef struct mmodel {
    int seq[ND][NS];
} mmodel_t;

static void mmodel_random(mmodel_t *m) {
    for (int d = 0; d < ND; d++) {
        for (int s = 0; s < NS; s++) {
            m->seq[d][s] = rnd() % 2 ? -1 : (int)(rnd() % 20);
        }
    }
}

static int mmodel_dmax(const mmodel_t *m, int d) {
    int best = -1;
    for (int s = 0; s < NS; s++) {
        best = m->seq[d][s] > best ? m->seq[d][s] : best;
    }
    return best;
}

static void mmodel_text(const mmodel_t *m, char *out, size_t n) {
    size_t o = 0;
    out[0] = '\0';
    for (int d = 0; d < ND; d++) {
        for (int s = 0; s < NS; s++) {
            if (m->seq[d][s] >= 0) {
                o += (size_t)snprintf(out + o, n - o, "%s%d-%d-%d", o ? "," : "", d, s + 1,
                                      m->seq[d][s]);
            }
        }
    }
}

static void massert(const rc_gtid_set_t *s, const mmodel_t *m, const char *op) {
    char want[1024];
    mmodel_text(m, want, sizeof(want));
    rc_buf_t b = RC_BUF_INIT;
    rc_gtid_set_format(s, &b);
    if (b.len != strlen(want) || (b.len && memcmp(b.data, want, b.len) != 0)) {
        fail_msg("after %s: got \"%.*s\", model says \"%s\"", op, (int)b.len, b.data, want);
    }
    rc_buf_free(&b);
    for (int d = 0; d < ND; d++) {
        for (int n = 0; n < 22; n++) {
            char g[64];
            snprintf(g, sizeof(g), "%d-%d-%d", d, (int)(rnd() % NS) + 1, n);
            bool in = mmodel_dmax(m, d) >= n;
            if (rc_gtid_set_contains(s, g) != in) {
                fail_msg("after %s: contains(%s) is %d, model says %d", op, g, !in, in);
            }
        }
    }
}

static rc_gtid_set_t *mfrom(const mmodel_t *m) {
    char text[1024], err[256];
    mmodel_text(m, text, sizeof(text));
    rc_gtid_set_t *s = rc_gtid_set_new(RC_GTID_MARIADB);
    assert_int_equal(rc_gtid_set_parse(s, text, err, sizeof(err)), RC_OK);
    return s;
}

static void test_gtid_mariadb_matches_reference_model(void **state) {
    (void)state;
    char err[256];
    for (int round = 0; round < 400; round++) {
        mmodel_t a, b;
        mmodel_random(&a);
        mmodel_random(&b);
        rc_gtid_set_t *sa = mfrom(&a), *sb = mfrom(&b);
        massert(sa, &a, "parse");
        int d = (int)(rnd() % ND), sv = (int)(rnd() % NS), n = (int)(rnd() % 20);
        char one[64];
        snprintf(one, sizeof(one), "%d-%d-%d", d, sv + 1, n);
        assert_int_equal(rc_gtid_set_add(sa, one, err, sizeof(err)), RC_OK);
        a.seq[d][sv] = n > a.seq[d][sv] ? n : a.seq[d][sv];
        massert(sa, &a, "add");

        rc_gtid_set_t *uni = rc_gtid_set_copy(sa), *diff = rc_gtid_set_copy(sa);
        rc_gtid_set_merge(uni, sb);
        rc_gtid_set_subtract(diff, sb);
        mmodel_t m = a, df = a;
        bool sub = true;
        for (int x = 0; x < ND; x++) {
            for (int y = 0; y < NS; y++) {
                m.seq[x][y] = b.seq[x][y] > m.seq[x][y] ? b.seq[x][y] : m.seq[x][y];
                if (a.seq[x][y] >= 0 && mmodel_dmax(&b, x) >= a.seq[x][y]) {
                    df.seq[x][y] = -1;
                }
                if (b.seq[x][y] >= 0 && mmodel_dmax(&a, x) < b.seq[x][y]) {
                    sub = false;
                }
            }
        }
        massert(uni, &m, "merge");
        massert(diff, &df, "subtract");
        assert_int_equal(rc_gtid_set_is_subset(sb, sa), sub);

        /* the connect state holds each domain's highest entry */
        rc_buf_t cs = RC_BUF_INIT;
        rc_gtid_set_format_connect(sa, &cs);
        rc_gtid_set_t *conn = rc_gtid_set_new(RC_GTID_MARIADB);
        char text[1024];
        snprintf(text, sizeof(text), "%.*s", (int)cs.len, cs.data ? cs.data : "");
        assert_int_equal(rc_gtid_set_parse(conn, text, err, sizeof(err)), RC_OK);
        for (int x = 0; x < ND; x++) {
            uint64_t seq;
            bool has = rc_gtid_set_domain_seq(conn, x, &seq);
            assert_int_equal(has, mmodel_dmax(&a, x) >= 0);
            if (has) {
                assert_int_equal((int)seq, mmodel_dmax(&a, x));
            }
        }
        assert_true(rc_gtid_set_is_subset(sa, conn)); /* the connect state covers the set */
        rc_buf_free(&cs);
        rc_gtid_set_destroy(conn);
        rc_gtid_set_destroy(uni);
        rc_gtid_set_destroy(diff);
        rc_gtid_set_destroy(sa);
        rc_gtid_set_destroy(sb);
    }
}

static void test_gtid_guess_flavor(void **state) {
    (void)state;
    rc_gtid_flavor_t f;
    assert_int_equal(rc_gtid_guess_flavor("0-1-5,1-2-3", &f), RC_OK);
    assert_int_equal(f, RC_GTID_MARIADB);
    assert_int_equal(rc_gtid_guess_flavor(U1 ":1-5", &f), RC_OK);
    assert_int_equal(f, RC_GTID_MYSQL);
    assert_int_equal(rc_gtid_guess_flavor("  ", &f), RC_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gtid_mysql_parse_merges_and_sorts),
        cmocka_unit_test(test_gtid_mysql_tags_follow_the_untagged_intervals),
        cmocka_unit_test(test_gtid_parse_errors_name_the_character),
        cmocka_unit_test(test_gtid_add_takes_exactly_one_gtid),
        cmocka_unit_test(test_gtid_mariadb_format_and_connect_state),
        cmocka_unit_test(test_gtid_subtract_and_subset),
        cmocka_unit_test(test_gtid_encode_mysql_untagged_and_tagged),
        cmocka_unit_test(test_gtid_mysql_matches_bitmap_model),
        cmocka_unit_test(test_gtid_mariadb_matches_reference_model),
        cmocka_unit_test(test_gtid_guess_flavor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
