/* test_source_dump_gtid.c: MySQL's COM_BINLOG_DUMP_GTID payload, compared with bytes written
 * out by hand from the protocol documentation (no MySQL server is available to the tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "rc_gtid.h"
#include "rc_mysql.h"

static void test_dump_gtid_payload_matches_the_protocol(void **state) {
    (void)state;
    char err[256];
    rc_gtid_set_t *s = rc_gtid_set_new(RC_GTID_MYSQL);
    assert_int_equal(
        rc_gtid_set_parse(s, "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5", err, sizeof(err)), RC_OK);
    rc_buf_t b = RC_BUF_INIT;
    assert_int_equal(rc_mysql_dump_gtid_payload(0, 4101, "", 4, s, &b), RC_OK);
    static const uint8_t want[] = {
        0x04, 0x00,                                  /* flags: BINLOG_THROUGH_GTID */
        0x05, 0x10, 0x00, 0x00,                      /* server id 4101 */
        0x00, 0x00, 0x00, 0x00,                      /* file name length 0, no name */
        0x04, 0,    0,    0,    0,    0,    0,    0, /* position 4 */
        48,   0,    0,    0,                         /* GTID data: 8 + 16 + 8 + 16 bytes */
        1,    0,    0,    0,    0,    0,    0,    0, /* one SID */
        0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1,
        0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42, 0x95, 0x62, /* the UUID */
        1,    0,    0,    0,    0,    0,    0,    0,    /* one interval */
        1,    0,    0,    0,    0,    0,    0,    0,    /* from 1 */
        6,    0,    0,    0,    0,    0,    0,    0,    /* to 6 (exclusive) */
    };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));

    /* a file name and position are carried as given; the empty set is a count of 0 */
    rc_gtid_set_t *empty = rc_gtid_set_new(RC_GTID_MYSQL);
    rc_buf_reset(&b);
    assert_int_equal(rc_mysql_dump_gtid_payload(0, 1, "binlog.000007", 0x1122334455ULL, empty, &b),
                     RC_OK);
    assert_int_equal(b.len, 2 + 4 + 4 + 13 + 8 + 4 + 8);
    assert_int_equal((uint8_t)b.data[6], 13);
    assert_memory_equal(b.data + 10, "binlog.000007", 13);
    static const uint8_t pos[] = {0x55, 0x44, 0x33, 0x22, 0x11, 0, 0, 0};
    assert_memory_equal(b.data + 23, pos, 8);
    assert_int_equal((uint8_t)b.data[31], 8); /* data length */
    rc_buf_free(&b);
    rc_gtid_set_destroy(s);
    rc_gtid_set_destroy(empty);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_gtid_payload_matches_the_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
