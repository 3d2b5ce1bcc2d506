/* test_kafka.c: the sink against librdkafka's in-process mock cluster (unit test only; delivery
 * semantics and topic creation, which the 2.0 mock cannot do, are tested against a real broker
 * in tests/integration). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "rc_kafka.h"

static rc_kv_t mock_props[] = {{"test.mock.num.brokers", "1"}};

static void sink_defaults(rc_sink_config_t *s) {
    memset(s, 0, sizeof(*s));
    s->format = "json";
    s->topic = "{schema}.{table}";
    s->create_topics = false;
    s->topic_partitions = 1;
    s->topic_replication = -1;
}

typedef struct seen {
    int count;
    uint64_t sum; /* of the message opaques: each message reported exactly once */
} seen_t;

static void on_delivery(void *opaque, void *msg_opaque, bool delivered) {
    seen_t *s = opaque;
    assert_true(delivered);
    s->count++;
    s->sum += (uint64_t)(uintptr_t)msg_opaque;
}

static void test_kafka_delivers_and_counts(void **state) {
    (void)state;
    rc_kafka_config_t kc = {.brokers = "127.0.0.1:1", .rdkafka = mock_props, .n_rdkafka = 1};
    rc_sink_config_t sc;
    sink_defaults(&sc);
    char err[512];
    rc_kafka_t *k = rc_kafka_new(&kc, &sc, "unit", err, sizeof(err));
    assert_non_null(k);
    seen_t seen = {0, 0};
    rc_kafka_set_delivery_cb(k, on_delivery, &seen);
    for (int i = 0; i < 100; i++) {
        char key[32], val[64];
        int kl = snprintf(key, sizeof(key), "{\"id\":%d}", i);
        int vl = snprintf(val, sizeof(val), "{\"n\":%d}", i);
        rc_kafka_header_t h = {"rowcast-test", 12, "1", 1};
        assert_int_equal(rc_kafka_produce(k, "db.t", 4, key, (size_t)kl, val, (size_t)vl, &h, 1,
                                          (void *)(uintptr_t)(i + 1), NULL, err, sizeof(err)),
                         RC_OK);
    }
    assert_int_equal(rc_kafka_flush(k, 10000, err, sizeof(err)), RC_OK);
    rc_kafka_stats_t st;
    rc_kafka_get_stats(k, &st);
    assert_int_equal(st.produced, 100);
    assert_int_equal(st.delivered, 100);
    assert_int_equal(st.failed, 0);
    assert_int_equal(seen.count, 100);
    assert_int_equal(seen.sum, 100 * 101 / 2);
    assert_false(rc_kafka_failed(k, err, sizeof(err)));
    rc_kafka_destroy(k);
}

static void test_kafka_bad_property_names_it(void **state) {
    (void)state;
    rc_kv_t props[] = {{"linger.ms", "not-a-number"}};
    rc_kafka_config_t kc = {.brokers = "127.0.0.1:1", .rdkafka = props, .n_rdkafka = 1};
    rc_sink_config_t sc;
    sink_defaults(&sc);
    char err[512] = "";
    assert_null(rc_kafka_new(&kc, &sc, "unit", err, sizeof(err)));
    assert_non_null(strstr(err, "kafka.rdkafka.linger.ms"));
}

static void test_kafka_rejects_empty_topic(void **state) {
    (void)state;
    rc_kafka_config_t kc = {.brokers = "127.0.0.1:1", .rdkafka = mock_props, .n_rdkafka = 1};
    rc_sink_config_t sc;
    sink_defaults(&sc);
    char err[512];
    rc_kafka_t *k = rc_kafka_new(&kc, &sc, "unit", err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(
        rc_kafka_produce(k, "", 0, NULL, 0, "x", 1, NULL, 0, NULL, NULL, err, sizeof(err)),
        RC_ERR_INVALID);
    assert_non_null(strstr(err, "topic"));
    rc_kafka_destroy(k);
}

/* Delivered (seen[1]) and not delivered (seen[0]) messages. */
static void on_report(void *opaque, void *msg_opaque, bool delivered) {
    seen_t *s = opaque;
    s[delivered].count++;
    s[delivered].sum += (uint64_t)(uintptr_t)msg_opaque;
}

/* The transactional producer's calls in order against the mock cluster (which can run the
 * transaction protocol, but does not hide aborted messages from readers: what a read_committed
 * consumer sees is tested against the real broker in tests/integration/test_crash.py). */
static void test_kafka_transaction_commits_and_aborts(void **state) {
    (void)state;
    rc_kafka_config_t kc = {.brokers = "127.0.0.1:1", .rdkafka = mock_props, .n_rdkafka = 1};
    rc_sink_config_t sc;
    sink_defaults(&sc);
    char err[512];
    rc_kafka_t *k = rc_kafka_new_transactional(&kc, &sc, "unit", err, sizeof(err));
    assert_non_null(k);
    assert_true(rc_kafka_transactional(k));
    seen_t seen[2] = {{0, 0}, {0, 0}};
    rc_kafka_set_delivery_cb(k, on_report, seen);
    assert_int_equal(rc_kafka_txn_init(k, 10000, err, sizeof(err)), RC_OK);
    assert_int_equal(rc_kafka_txn_begin(k, err, sizeof(err)), RC_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(rc_kafka_produce(k, "db.t", 4, "k", 1, "v", 1, NULL, 0,
                                          (void *)(uintptr_t)(i + 1), NULL, err, sizeof(err)),
                         RC_OK);
    }
    assert_int_equal(rc_kafka_produce_to(k, "state", 0, "unit", 4, "{}", 2, err, sizeof(err)),
                     RC_OK);
    assert_int_equal(rc_kafka_txn_commit(k, 10000, NULL, err, sizeof(err)), RC_OK);
    rc_kafka_poll(k, 0);
    /* a commit returns once every message is acknowledged; the state record is not an event */
    assert_int_equal(seen[1].count, 10);
    assert_int_equal(seen[1].sum, 10 * 11 / 2);
    assert_int_equal(seen[0].count, 0);
    /* an aborted transaction's messages are purged without failing the sink */
    assert_int_equal(rc_kafka_txn_begin(k, err, sizeof(err)), RC_OK);
    assert_int_equal(
        rc_kafka_produce(k, "db.t", 4, "k", 1, "v", 1, NULL, 0, NULL, NULL, err, sizeof(err)),
        RC_OK);
    assert_int_equal(rc_kafka_txn_abort(k, 10000, NULL, err, sizeof(err)), RC_OK);
    rc_kafka_poll(k, 0);
    assert_int_equal(seen[1].count + seen[0].count, 11); /* reported once, either way */
    assert_false(rc_kafka_failed(k, err, sizeof(err)));
    rc_kafka_stats_t st;
    rc_kafka_get_stats(k, &st);
    assert_int_equal(st.produced, 10); /* the aborted one was taken back */
    assert_int_equal(st.delivered, 10);
    assert_int_equal(st.failed, 0);
    rc_kafka_destroy(k);
}

/* A message Kafka refuses for good inside a transaction makes it abortable (RC_ERR_IO, not a
 * failed sink); after the abort the same messages go through in a new transaction, and the
 * counters hold only the committed ones. */
/* A transactional producer on a mock cluster of one broker (id 1) the test can steer. */
typedef struct mock {
    rd_kafka_t *rk; /* owns the cluster */
    rd_kafka_mock_cluster_t *mc;
} mock_t;

static rc_kafka_t *mock_transactional(mock_t *m) {
    char e[256];
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), e, sizeof(e));
    assert_non_null(m->rk);
    m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
    assert_non_null(m->mc);
    rc_kafka_config_t kc = {.brokers = (char *)rd_kafka_mock_cluster_bootstraps(m->mc)};
    rc_sink_config_t sc;
    sink_defaults(&sc);
    char err[512];
    rc_kafka_t *k = rc_kafka_new_transactional(&kc, &sc, "unit", err, sizeof(err));
    assert_non_null(k);
    return k;
}

static void mock_destroy(mock_t *m, rc_kafka_t *k) {
    rc_kafka_destroy(k);
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
}

static void test_kafka_refused_message_makes_the_transaction_abortable(void **state) {
    (void)state;
    mock_t m;
    rc_kafka_t *k = mock_transactional(&m);
    rd_kafka_mock_cluster_t *mc = m.mc;
    char err[512];
    seen_t seen[2] = {{0, 0}, {0, 0}};
    rc_kafka_set_delivery_cb(k, on_report, seen);
    assert_int_equal(rc_kafka_txn_init(k, 10000, err, sizeof(err)), RC_OK);
    assert_int_equal(rc_kafka_txn_begin(k, err, sizeof(err)), RC_OK);
    rd_kafka_mock_push_request_errors(mc, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(
        rc_kafka_produce(k, "db.t", 4, "k", 1, "v", 1, NULL, 0, NULL, NULL, err, sizeof(err)),
        RC_OK);
    rc_err_t rc = rc_kafka_txn_commit(k, 10000, NULL, err, sizeof(err));
    assert_int_equal(rc, RC_ERR_IO);
    assert_non_null(strstr(err, "abortable"));
    assert_false(rc_kafka_failed(k, err, sizeof(err)));
    assert_int_equal(rc_kafka_txn_abort(k, 10000, NULL, err, sizeof(err)), RC_OK);
    rc_kafka_stats_t st;
    rc_kafka_get_stats(k, &st);
    /* the refused message stays counted as produced and failed; nothing is left open (a
     * shutdown once read produced - delivered - failed as 2^64 - 1 here) */
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.produced, 1);
    assert_int_equal(st.delivered, 0);
    /* as the pipeline does: send again after each abort (the first retry may itself need an
     * abort while the producer bumps its epoch) */
    int attempts = 0;
    do {
        assert_true(++attempts <= 5);
        if (attempts > 1) {
            assert_int_equal(rc_kafka_txn_abort(k, 10000, NULL, err, sizeof(err)), RC_OK);
        }
        assert_int_equal(rc_kafka_txn_begin(k, err, sizeof(err)), RC_OK);
        assert_int_equal(
            rc_kafka_produce(k, "db.t", 4, "k", 1, "v", 1, NULL, 0, NULL, NULL, err, sizeof(err)),
            RC_OK);
        rc = rc_kafka_txn_commit(k, 10000, NULL, err, sizeof(err));
        assert_true(rc == RC_OK || rc == RC_ERR_IO);
    } while (rc != RC_OK);
    rc_kafka_get_stats(k, &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.produced, st.delivered + st.failed);
    assert_int_equal(seen[1].count, 1);
    mock_destroy(&m, k);
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A commit the coordinator answers late: with the cancel flag set (the shutdown grace is over)
 * it gives up after one call of 10 s with RC_ERR_STOPPED instead of waiting its whole timeout
 * (the pipeline's is 10 min); made again without the flag, the same commit goes on. */
static void test_kafka_commit_gives_up_when_cancelled(void **state) {
    (void)state;
    mock_t m;
    rc_kafka_t *k = mock_transactional(&m);
    rd_kafka_mock_cluster_t *mc = m.mc;
    char err[512];
    assert_int_equal(rc_kafka_txn_init(k, 10000, err, sizeof(err)), RC_OK);
    assert_int_equal(rc_kafka_txn_begin(k, err, sizeof(err)), RC_OK);
    assert_int_equal(
        rc_kafka_produce(k, "db.t", 4, "k", 1, "v", 1, NULL, 0, NULL, NULL, err, sizeof(err)),
        RC_OK);
    assert_int_equal(rc_kafka_flush(k, 10000, err, sizeof(err)), RC_OK);
    /* EndTxn (API key 26) answered only after 13 s */
    assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(
                         mc, 1, 26, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 13000),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    volatile int cancel = 1;
    double t0 = mono_s();
    assert_int_equal(rc_kafka_txn_commit(k, 60000, &cancel, err, sizeof(err)), RC_ERR_STOPPED);
    assert_true(mono_s() - t0 < 20.0); /* one call of 10 s, not the 60 s */
    assert_non_null(strstr(err, "given up at shutdown"));
    /* not cancelled: the same commit goes on and finishes once the answer comes */
    cancel = 0;
    assert_int_equal(rc_kafka_txn_commit(k, 60000, &cancel, err, sizeof(err)), RC_OK);
    mock_destroy(&m, k);
}

static void test_kafka_stats_retries_sums_the_brokers(void **state) {
    (void)state;
    /* the shape of librdkafka's statistics (STATISTICS.md), trimmed */
    static const char doc[] =
        "{\"name\":\"rowcast-unit#producer-1\",\"type\":\"producer\",\"txmsgs\":10,"
        "\"brokers\":{\"127.0.0.1:9092/1\":{\"name\":\"127.0.0.1:9092/1\",\"txretries\":3,"
        "\"txerrs\":0,\"toppars\":{}},\"127.0.0.1:9093/2\":{\"txretries\":4},"
        "\"GroupCoordinator\":{\"state\":\"INIT\"}},"
        "\"topics\":{\"db.t\":{\"partitions\":{\"0\":{\"txretries\":99}}}}}";
    uint64_t n = 0;
    assert_int_equal(rc_kafka_stats_retries(doc, sizeof(doc) - 1, &n), RC_OK);
    assert_int_equal(n, 7); /* brokers only */
    assert_int_equal(rc_kafka_stats_retries("{\"brokers\":{}}", 14, &n), RC_OK);
    assert_int_equal(n, 0);
    assert_int_equal(rc_kafka_stats_retries("[1,2", 4, &n), RC_ERR_INVALID);
    assert_int_equal(rc_kafka_stats_retries("{\"x\":1}", 7, &n), RC_ERR_INVALID);
}

static void test_kafka_refuses_a_shared_transactional_id(void **state) {
    (void)state;
    rc_kv_t props[] = {{"test.mock.num.brokers", "1"}, {"transactional.id", "x"}};
    rc_kafka_config_t kc = {.brokers = "127.0.0.1:1", .rdkafka = props, .n_rdkafka = 2};
    rc_sink_config_t sc;
    sink_defaults(&sc);
    char err[512] = "";
    assert_null(rc_kafka_new_transactional(&kc, &sc, "unit", err, sizeof(err)));
    assert_non_null(strstr(err, "kafka.rdkafka.transactional.id"));
    assert_null(rc_kafka_new(&kc, &sc, "unit", err, sizeof(err)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_delivers_and_counts),
        cmocka_unit_test(test_kafka_bad_property_names_it),
        cmocka_unit_test(test_kafka_rejects_empty_topic),
        cmocka_unit_test(test_kafka_transaction_commits_and_aborts),
        cmocka_unit_test(test_kafka_refused_message_makes_the_transaction_abortable),
        cmocka_unit_test(test_kafka_refuses_a_shared_transactional_id),
        cmocka_unit_test(test_kafka_commit_gives_up_when_cancelled),
        cmocka_unit_test(test_kafka_stats_retries_sums_the_brokers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
