/* test_state.c: the state record's JSON (round trip, unknown keys, missing keys, newer formats)
 * and the source.start forms. The store itself is tested against a real broker in
 * tests/integration/test_state.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_start.h"
#include "rc_state.h"

static void fill(rc_state_record_t *r) {
    memset(r, 0, sizeof(*r));
    r->format = RC_STATE_FORMAT;
    snprintf(r->rowcast, sizeof(r->rowcast), "0.1.0");
    snprintf(r->pipeline, sizeof(r->pipeline), "shop");
    snprintf(r->flavor, sizeof(r->flavor), "mariadb");
    r->server_id = 7;
    r->gtid_set = strdup("0-1-42,1-2-\"x\"");
    snprintf(r->binlog_file, sizeof(r->binlog_file), "mariadb-bin.000003");
    r->binlog_pos = 1234;
    r->commit_ts = 1732435200;
}

static void test_state_record_round_trips_through_json(void **state) {
    (void)state;
    rc_state_record_t r, back;
    fill(&r);
    rc_buf_t b = RC_BUF_INIT;
    assert_int_equal(rc_state_record_to_json(&r, &b), RC_OK);
    const char *want = "{\"format\":1,\"rowcast\":\"0.1.0\",\"pipeline\":\"shop\",\"flavor\":"
                       "\"mariadb\",\"server_uuid\":\"\",\"server_id\":7,\"gtid_set\":"
                       "\"0-1-42,1-2-\\\"x\\\"\",\"binlog_file\":\"mariadb-bin.000003\","
                       "\"binlog_pos\":1234,\"commit_ts\":1732435200}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    char err[256];
    assert_int_equal(rc_state_record_from_json(b.data, b.len, &back, err, sizeof(err)), RC_OK);
    assert_string_equal(back.gtid_set, r.gtid_set);
    assert_string_equal(back.binlog_file, r.binlog_file);
    assert_string_equal(back.flavor, "mariadb");
    assert_string_equal(back.pipeline, "shop");
    assert_int_equal(back.binlog_pos, 1234);
    assert_int_equal(back.commit_ts, 1732435200);
    assert_int_equal(back.server_id, 7);
    rc_state_record_clear(&back);
    rc_state_record_clear(&r);
    rc_buf_free(&b);
}

static void test_state_record_ignores_unknown_keys(void **state) {
    (void)state;
    const char *j =
        " { \"future\" : {\"a\":[1,2,{\"b\":\"}\"}]}, \"format\":1, \"flavor\":\"mysql\","
        "\"gtid_set\":\"\",\"binlog_file\":\"binlog.000001\",\"binlog_pos\":4,"
        "\"note\":null } ";
    rc_state_record_t r;
    char err[256];
    assert_int_equal(rc_state_record_from_json(j, strlen(j), &r, err, sizeof(err)), RC_OK);
    assert_string_equal(r.flavor, "mysql");
    assert_int_equal(r.binlog_pos, 4);
    rc_state_record_clear(&r);
}

static void expect_bad(const char *j, const char *fragment) {
    rc_state_record_t r;
    char err[256] = "";
    assert_int_equal(rc_state_record_from_json(j, strlen(j), &r, err, sizeof(err)), RC_ERR_INVALID);
    if (!strstr(err, fragment)) {
        fail_msg("error for %s is \"%s\", expected \"%s\"", j, err, fragment);
    }
    assert_null(r.gtid_set);
}

static void test_state_record_rejects_what_it_cannot_trust(void **state) {
    (void)state;
    expect_bad("[]", "not a JSON object");
    expect_bad("{\"format\":1,\"flavor\":\"mysql\",\"gtid_set\":\"\",\"binlog_file\":\"b\"}",
               "binlog_pos is missing");
    expect_bad("{\"format\":2,\"flavor\":\"mysql\",\"gtid_set\":\"\",\"binlog_file\":\"b\","
               "\"binlog_pos\":4}",
               "format 2 is not one this rowcast reads");
    expect_bad("{\"format\":1,\"flavor\":\"mysql\",\"gtid_set\":\"a\",\"binlog_file\":\"b\","
               "\"binlog_pos\":\"4\"}",
               "binlog_pos: expected a non-negative integer");
    expect_bad("{\"format\":1,\"gtid_set\":\"0-1-1\"", "expected ',' or '}'");
}

static void test_start_forms(void **state) {
    (void)state;
    rc_start_t s;
    char err[256];
    assert_int_equal(rc_start_parse(NULL, &s, err, sizeof(err)), RC_OK);
    assert_int_equal(s.kind, RC_START_EARLIEST);
    assert_int_equal(rc_start_parse("latest", &s, err, sizeof(err)), RC_OK);
    assert_int_equal(s.kind, RC_START_LATEST);
    assert_int_equal(rc_start_parse("file:mariadb-bin.000002:1234", &s, err, sizeof(err)), RC_OK);
    assert_int_equal(s.kind, RC_START_FILE);
    assert_string_equal(s.file, "mariadb-bin.000002");
    assert_int_equal(s.pos, 1234);
    assert_int_equal(rc_start_parse("gtid:0-1-5,1-1-2", &s, err, sizeof(err)), RC_OK);
    assert_int_equal(s.kind, RC_START_GTID);
    assert_int_equal(rc_gtid_set_flavor(s.gtid), RC_GTID_MARIADB);
    assert_true(rc_gtid_set_contains(s.gtid, "1-1-2"));
    rc_start_clear(&s);
    assert_int_equal(rc_start_parse("timestamp:2024-05-01T12:00:00Z", &s, err, sizeof(err)), RC_OK);
    assert_int_equal(s.kind, RC_START_TIMESTAMP);
    assert_int_equal(s.time, 1714564800);
    int64_t t;
    assert_int_equal(rc_start_parse_time("2024-05-01T14:00:00+02:00", &t), RC_OK);
    assert_int_equal(t, 1714564800);
    assert_int_equal(rc_start_parse_time("2024-05-01 12:00", &t), RC_OK);
    assert_int_equal(t, 1714564800);
    assert_int_equal(rc_start_parse_time("2024-05-01T12:00:00.001Z", &t), RC_OK);
    assert_int_equal(t, 1714564801); /* at or after: the next whole second */
    assert_int_equal(rc_start_parse_time("2023-02-29T00:00:00Z", &t), RC_ERR_INVALID);
    assert_int_equal(rc_start_parse_time("2024-05-01T12:00:00+2", &t), RC_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_record_round_trips_through_json),
        cmocka_unit_test(test_state_record_ignores_unknown_keys),
        cmocka_unit_test(test_state_record_rejects_what_it_cannot_trust),
        cmocka_unit_test(test_start_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
