/* test_queue.c: the bounded queue between reader and worker: order, back-pressure, close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "rc_batch.h"
#include "rc_queue.h"

static void test_queue_keeps_fifo_order(void **state) {
    (void)state;
    rc_queue_t *q = rc_queue_new(4);
    int items[4] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++) {
        assert_true(rc_queue_push(q, &items[i]));
    }
    assert_int_equal(rc_queue_len(q), 4);
    for (int i = 0; i < 4; i++) {
        int *it = rc_queue_pop(q, 0);
        assert_non_null(it);
        assert_int_equal(*it, i + 1);
    }
    assert_null(rc_queue_pop(q, 10)); /* times out when empty */
    assert_false(rc_queue_drained(q));
    rc_queue_destroy(q, NULL);
}

typedef struct producer_arg {
    rc_queue_t *q;
    int n;
    int pushed;
} producer_arg_t;

static void *producer(void *arg) {
    producer_arg_t *pa = arg;
    for (int i = 0; i < pa->n; i++) {
        int *v = malloc(sizeof(int));
        *v = i;
        if (!rc_queue_push(pa->q, v)) {
            free(v);
            break;
        }
        __atomic_add_fetch(&pa->pushed, 1, __ATOMIC_SEQ_CST);
    }
    rc_queue_close(pa->q);
    return NULL;
}

static void test_queue_blocks_producer_when_full(void **state) {
    (void)state;
    rc_queue_t *q = rc_queue_new(2);
    producer_arg_t pa = {.q = q, .n = 1000};
    pthread_t t;
    pthread_create(&t, NULL, producer, &pa);
    usleep(50 * 1000);
    /* Nobody pops: the producer is held at the capacity. */
    assert_int_equal(__atomic_load_n(&pa.pushed, __ATOMIC_SEQ_CST), 2);
    int expect = 0;
    for (;;) {
        int *v = rc_queue_pop(q, 1000);
        if (!v) {
            break;
        }
        assert_int_equal(*v, expect++);
        free(v);
    }
    assert_int_equal(expect, 1000);
    assert_true(rc_queue_drained(q));
    pthread_join(t, NULL);
    rc_queue_destroy(q, NULL);
}

static void test_queue_close_releases_blocked_pusher(void **state) {
    (void)state;
    rc_queue_t *q = rc_queue_new(1);
    producer_arg_t pa = {.q = q, .n = 5};
    pthread_t t;
    pthread_create(&t, NULL, producer, &pa);
    usleep(20 * 1000);
    rc_queue_close(q); /* the producer is blocked on the second push */
    pthread_join(t, NULL);
    assert_int_equal(pa.pushed, 1);
    assert_false(rc_queue_push(q, &pa)); /* closed */
    rc_queue_destroy(q, free);           /* frees the one item left */
}

static void test_batch_truncates_to_last_commit(void **state) {
    (void)state;
    rc_batch_t *b = rc_batch_new();
    msgpack_pack_int(&b->pk, 1);
    b->n_events = 1;
    b->has_commit = true;
    b->commit_off = b->buf.size;
    b->commit_events = 1;
    msgpack_pack_int(&b->pk, 2);
    b->n_events = 2;
    rc_batch_truncate_to_commit(b);
    assert_int_equal(b->n_events, 1);
    assert_int_equal(b->buf.size, 1);
    rc_batch_destroy(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_keeps_fifo_order),
        cmocka_unit_test(test_queue_blocks_producer_when_full),
        cmocka_unit_test(test_queue_close_releases_blocked_pusher),
        cmocka_unit_test(test_batch_truncates_to_last_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
