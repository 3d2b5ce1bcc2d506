/* test_table_stats.c: per-table, per-action counts behind the rowcast_table_* metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "rc_table_stats.h"

static void pack_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* An event map as the decoder packs it (with a value before the keys the stats look for). */
static void pack_event(msgpack_packer *pk, const char *schema, const char *table,
                       const char *action) {
    msgpack_pack_map(pk, 4);
    pack_str(pk, "meta");
    msgpack_pack_map(pk, 1);
    pack_str(pk, "x");
    msgpack_pack_int(pk, 1);
    pack_str(pk, "schema");
    pack_str(pk, schema);
    pack_str(pk, "table");
    pack_str(pk, table);
    pack_str(pk, "action");
    pack_str(pk, action);
}

typedef struct seen {
    char rows[64][160];
    int n;
} seen_t;

static void collect(void *arg, const char *table, const char *action,
                    const uint64_t counts[RC_TABLE_N_COUNTS]) {
    seen_t *s = arg;
    snprintf(s->rows[s->n++], sizeof(s->rows[0]), "%s %s r=%llu p=%llu d=%llu", table, action,
             (unsigned long long)counts[RC_TABLE_READ],
             (unsigned long long)counts[RC_TABLE_PRODUCED],
             (unsigned long long)counts[RC_TABLE_DROPPED]);
}

static void test_counts_by_table_and_action(void **state) {
    (void)state;
    rc_table_stats_t *t = rc_table_stats_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_event(&pk, "shop", "users", "insert");
    pack_event(&pk, "shop", "users", "insert");
    pack_event(&pk, "shop", "orders", "delete");
    pack_event(&pk, "shop", "users", "update");
    pack_event(&pk, "shop", "users", "truncate"); /* an action a script made up: other */
    assert_int_equal(
        rc_table_stats_count(t, (const uint8_t *)sb.data, sb.size, 5, false, RC_TABLE_READ), RC_OK);
    assert_int_equal(rc_table_stats_slots(t, (const uint8_t *)sb.data, sb.size, 5), RC_OK);
    /* the transforms dropped events 1 and 2 (marks 0,1,1,1,2,3: inputs 1 and 2 left nothing) */
    uint32_t *m = rc_table_stats_event_marks(t, 5);
    assert_non_null(m);
    for (uint32_t i = 0; i <= 5; i++) {
        assert_int_equal(m[i], i);
    }
    uint32_t mapped[6] = {0, 1, 1, 1, 2, 3};
    memcpy(m, mapped, sizeof(mapped));
    rc_table_stats_dropped(t, 5);
    msgpack_sbuffer_clear(&sb);
    size_t *offs = rc_table_stats_offsets(t, 3);
    assert_non_null(offs);
    offs[0] = sb.size;
    pack_event(&pk, "shop", "users", "insert");
    offs[1] = sb.size;
    pack_event(&pk, "shop", "users_masked", "update"); /* a script renamed the table */
    offs[2] = sb.size;
    pack_event(&pk, "shop", "users", "truncate");
    assert_int_equal(rc_table_stats_produced(t, (const uint8_t *)sb.data, sb.size, 3), RC_OK);
    seen_t s = {0};
    rc_table_stats_each(t, collect, &s);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.rows[0], "shop.users insert r=2 p=1 d=1");
    assert_string_equal(s.rows[1], "shop.users update r=1 p=0 d=0");
    assert_string_equal(s.rows[2], "shop.users other r=1 p=1 d=0");
    assert_string_equal(s.rows[3], "shop.orders delete r=1 p=0 d=1");
    assert_string_equal(s.rows[4], "shop.users_masked update r=0 p=1 d=0");
    msgpack_sbuffer_destroy(&sb);
    rc_table_stats_destroy(t);
}

typedef struct sums {
    uint64_t t0, other, total;
    size_t rows;
} sums_t;

static void sum(void *arg, const char *table, const char *action,
                const uint64_t counts[RC_TABLE_N_COUNTS]) {
    sums_t *s = arg;
    assert_string_equal(action, "insert");
    s->rows++;
    s->total += counts[RC_TABLE_READ];
    if (strcmp(table, "db.t0") == 0) {
        s->t0 = counts[RC_TABLE_READ];
    } else if (strcmp(table, "_other") == 0) {
        s->other = counts[RC_TABLE_READ];
    }
}

static void test_tables_past_the_limit_count_as_other(void **state) {
    (void)state;
    rc_table_stats_t *t = rc_table_stats_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint32_t n = RC_TABLE_STATS_MAX + 10;
    for (uint32_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "t%u", i);
        pack_event(&pk, "db", name, "insert");
    }
    pack_event(&pk, "db", "t0", "insert"); /* known before the limit: still its own */
    assert_int_equal(
        rc_table_stats_count(t, (const uint8_t *)sb.data, sb.size, n + 1, false, RC_TABLE_READ),
        RC_OK);
    sums_t s = {0};
    rc_table_stats_each(t, sum, &s);
    assert_int_equal(s.rows, RC_TABLE_STATS_MAX + 1);
    assert_int_equal(s.t0, 2);
    assert_int_equal(s.other, 10);
    assert_int_equal(s.total, n + 1);
    msgpack_sbuffer_destroy(&sb);
    rc_table_stats_destroy(t);
}

/* The rows of one rows event: the first one's table and action, counted n times. Keys in another
 * order and a value before them are found too; only the first keys of the event are read. */
static void test_same_table_counts_the_first_event_n_times(void **state) {
    (void)state;
    rc_table_stats_t *t = rc_table_stats_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "action");
    pack_str(&pk, "delete");
    pack_str(&pk, "before");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    pack_str(&pk, "table");
    pack_str(&pk, "b");
    pack_str(&pk, "schema");
    pack_str(&pk, "a");
    size_t first = sb.size;
    msgpack_pack_array(&pk, 0); /* not an event: never looked at */
    assert_int_equal(
        rc_table_stats_count(t, (const uint8_t *)sb.data, first, 7, true, RC_TABLE_READ), RC_OK);
    seen_t s = {0};
    rc_table_stats_each(t, collect, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.rows[0], "a.b delete r=7 p=0 d=0");
    msgpack_sbuffer_destroy(&sb);
    rc_table_stats_destroy(t);
}

static void test_a_bad_buffer_is_an_error(void **state) {
    (void)state;
    rc_table_stats_t *t = rc_table_stats_new();
    const uint8_t not_a_map[] = {0x92, 0x01, 0x02};
    assert_int_equal(rc_table_stats_count(t, not_a_map, sizeof(not_a_map), 1, false, RC_TABLE_READ),
                     RC_ERR_INVALID);
    assert_int_equal(rc_table_stats_slots(t, not_a_map, sizeof(not_a_map), 1), RC_ERR_INVALID);
    assert_non_null(rc_table_stats_event_marks(t, 1));
    rc_table_stats_dropped(t, 1); /* an event without a table is not counted */
    const uint8_t truncated[] = {0x83, 0xa6, 's', 'c', 'h', 'e', 'm', 'a', 0xa2, 'd'};
    assert_int_equal(rc_table_stats_count(t, truncated, sizeof(truncated), 1, true, RC_TABLE_READ),
                     RC_ERR_TRUNCATED);
    sums_t s = {0};
    rc_table_stats_each(t, sum, &s);
    assert_int_equal(s.rows, 0);
    rc_table_stats_destroy(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_by_table_and_action),
        cmocka_unit_test(test_tables_past_the_limit_count_as_other),
        cmocka_unit_test(test_same_table_counts_the_first_event_n_times),
        cmocka_unit_test(test_a_bad_buffer_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
