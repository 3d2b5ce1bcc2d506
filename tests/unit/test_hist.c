/* test_hist.c: unit tests of the lock-free latency histogram (server/common/rc_hist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "rc_hist.h"

static void test_hist_buckets_are_cumulative_with_le_bounds(void **state) {
    (void)state;
    rc_hist_t h;
    rc_hist_init(&h, rc_hist_latency_bounds, rc_hist_latency_n);
    rc_hist_observe_us(&h, 0);          /* <= 0.1 */
    rc_hist_observe_us(&h, 100000);     /* exactly 0.1: le is inclusive */
    rc_hist_observe_us(&h, 100001);     /* <= 0.25 */
    rc_hist_observe_us(&h, 1500000);    /* <= 2 */
    rc_hist_observe_us(&h, -5);         /* clock skew counts as 0 */
    rc_hist_observe_us(&h, 7200000000); /* two hours: only in +Inf */
    rc_hist_snapshot_t s;
    rc_hist_read(&h, &s);
    assert_true(rc_hist_latency_bounds[0] == 0.1);
    assert_int_equal(s.cumulative[0], 3);
    assert_int_equal(s.cumulative[1], 4);
    assert_int_equal(s.cumulative[3], 4); /* <= 1 */
    assert_int_equal(s.cumulative[4], 5); /* <= 2 */
    assert_int_equal(s.n, 12);
    assert_int_equal(s.cumulative[s.n - 1], 5);
    assert_int_equal(s.count, 6);
    assert_true(s.sum > 7201.7 && s.sum < 7201.8);
    for (int i = 1; i < s.n; i++) {
        assert_true(rc_hist_latency_bounds[i] > rc_hist_latency_bounds[i - 1]);
        assert_true(s.cumulative[i] >= s.cumulative[i - 1]);
    }
}

static rc_hist_t shared;

static void *feed(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        rc_hist_observe_us(&shared, i % 3 == 0 ? 50000 : 3000000);
    }
    return NULL;
}

static void test_hist_concurrent_writers_lose_nothing(void **state) {
    (void)state;
    pthread_t t[4];
    rc_hist_init(&shared, rc_hist_latency_bounds, rc_hist_latency_n);
    for (int i = 0; i < 4; i++) {
        pthread_create(&t[i], NULL, feed, NULL);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    rc_hist_snapshot_t s;
    rc_hist_read(&shared, &s);
    assert_int_equal(s.count, 400000);
    assert_int_equal(s.cumulative[0], 4 * 33334);
    assert_int_equal(s.cumulative[5], 400000); /* <= 5 s */
}

static void test_hist_duration_bounds_cover_microseconds_to_seconds(void **state) {
    (void)state;
    rc_hist_t h;
    rc_hist_init(&h, rc_hist_duration_bounds, rc_hist_duration_n);
    rc_hist_observe_us(&h, 80);       /* <= 100 us */
    rc_hist_observe_us(&h, 700);      /* <= 1 ms */
    rc_hist_observe_us(&h, 20000000); /* 20 s: only +Inf */
    rc_hist_snapshot_t s;
    rc_hist_read(&h, &s);
    assert_true(s.bounds[0] == 0.0001 && s.bounds[s.n - 1] == 10);
    assert_int_equal(s.cumulative[0], 1);
    assert_int_equal(s.cumulative[3], 2);
    assert_int_equal(s.cumulative[s.n - 1], 2);
    assert_int_equal(s.count, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets_are_cumulative_with_le_bounds),
        cmocka_unit_test(test_hist_concurrent_writers_lose_nothing),
        cmocka_unit_test(test_hist_duration_bounds_cover_microseconds_to_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
