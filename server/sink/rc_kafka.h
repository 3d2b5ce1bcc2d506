/* rc_kafka.h: the Kafka sink of one pipeline.
 *
 * One idempotent librdkafka producer per pipeline. Messages are copied into librdkafka, so
 * the caller's buffers can be reused at once. Delivery reports arrive on the thread that
 * calls rc_kafka_poll/rc_kafka_flush (the worker); a message that cannot be delivered makes the
 * sink failed, and the pipeline stops rather than lose data. Missing topics are created
 * through the admin API when the sink config asks for it.
 *
 * For delivery: exactly_once the producer is transactional instead (rc_kafka_new_transactional):
 * messages are then only visible to read_committed consumers once rc_kafka_txn_commit returned,
 * and a failed message makes the transaction abortable instead of the sink failed.
 * @thread worker */
#ifndef RC_KAFKA_H
#define RC_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_config.h"
#include "rc_err.h"
#include "rc_msg.h"

typedef struct rc_kafka rc_kafka_t;

/* A header: name and value as (ptr, len); the same type the message encoder fills. */
typedef rc_msg_header_t rc_kafka_header_t;

/* Creates the producer. kconf->rdkafka settings are applied after rowcast's defaults, so a
 * user can override them; a bad property is an error naming it. */
rc_kafka_t *rc_kafka_new(const rc_kafka_config_t *kconf, const rc_sink_config_t *sconf,
                         const char *pipeline, char *errstr, size_t errstr_size);
/* The same with transactional.id "rowcast-<pipeline>": stable across restarts, so that
 * rc_kafka_txn_init of a new instance fences every older one of the same pipeline. A
 * transactional.id in kconf->rdkafka is refused (it would be shared by every pipeline). */
rc_kafka_t *rc_kafka_new_transactional(const rc_kafka_config_t *kconf,
                                       const rc_sink_config_t *sconf, const char *pipeline,
                                       char *errstr, size_t errstr_size);
void rc_kafka_destroy(rc_kafka_t *k);

/* Transactions (transactional producers only). Every call returns RC_OK; RC_ERR_IO when the
 * transaction must be aborted with rc_kafka_txn_abort and its messages sent again (or, for
 * rc_kafka_txn_init, when it may simply be called again); RC_ERR_KAFKA when the producer can no
 * longer be used (fenced by a newer instance, or another fatal error): errstr says which.
 * @thread reader for rc_kafka_txn_init (before the worker produces), worker for the rest */
rc_err_t rc_kafka_txn_init(rc_kafka_t *k, int timeout_ms, char *errstr, size_t errstr_size);
rc_err_t rc_kafka_txn_begin(rc_kafka_t *k, char *errstr, size_t errstr_size);
/* Flushes, then commits; on RC_OK every message since rc_kafka_txn_begin is in Kafka. Waits
 * up to timeout_ms in calls of at most 10 s; when *cancel (may be NULL) is set it gives up
 * after the current call with RC_ERR_STOPPED: the transaction is then left to Kafka, which
 * aborts it after transaction.timeout.ms or when the next instance fences this one. */
rc_err_t rc_kafka_txn_commit(rc_kafka_t *k, int timeout_ms, const volatile int *cancel,
                             char *errstr, size_t errstr_size);
/* Drops every message since rc_kafka_txn_begin (read_committed consumers never see them);
 * timeout_ms and cancel as for rc_kafka_txn_commit. */
rc_err_t rc_kafka_txn_abort(rc_kafka_t *k, int timeout_ms, const volatile int *cancel, char *errstr,
                            size_t errstr_size);
/* True for a transactional producer. */
bool rc_kafka_transactional(const rc_kafka_t *k);

/* Queues one message to one partition, outside the ticket accounting (no delivery callback
 * opaque): the exactly-once position record that goes into the current transaction. */
rc_err_t rc_kafka_produce_to(rc_kafka_t *k, const char *topic, int32_t partition, const void *key,
                             size_t key_len, const void *value, size_t value_len, char *errstr,
                             size_t errstr_size);

/* Called once per message with its msg_opaque when Kafka acknowledged it (delivered) or gave
 * up on it (!delivered). Runs on the thread that calls rc_kafka_poll/produce/flush. */
typedef void (*rc_kafka_delivery_cb)(void *opaque, void *msg_opaque, bool delivered);
void rc_kafka_set_delivery_cb(rc_kafka_t *k, rc_kafka_delivery_cb cb, void *opaque);

/* Queues one message; msg_opaque comes back in the delivery callback. Waits (serving delivery
 * reports) while librdkafka's queue is full, until *stop becomes true. */
rc_err_t rc_kafka_produce(rc_kafka_t *k, const char *topic, size_t topic_len, const void *key,
                          size_t key_len, const void *value, size_t value_len,
                          const rc_kafka_header_t *headers, size_t n_headers, void *msg_opaque,
                          const volatile int *stop, char *errstr, size_t errstr_size);

/* Serves delivery reports. */
void rc_kafka_poll(rc_kafka_t *k, int timeout_ms);

/* Waits up to timeout_ms for every queued message to be delivered. */
rc_err_t rc_kafka_flush(rc_kafka_t *k, int timeout_ms, char *errstr, size_t errstr_size);

/* True after a message failed for good; errstr gets the first failure. */
bool rc_kafka_failed(rc_kafka_t *k, char *errstr, size_t errstr_size);

typedef struct rc_kafka_stats {
    uint64_t produced;  /* handed to librdkafka (an aborted transaction's are taken back) */
    uint64_t delivered; /* acknowledged by the broker (an aborted transaction's taken back) */
    uint64_t failed;    /* failed for good */
    uint64_t retries;   /* requests librdkafka sent again (the brokers' txretries, summed) */
} rc_kafka_stats_t;

void rc_kafka_get_stats(rc_kafka_t *k, rc_kafka_stats_t *out);

/* The sum of "txretries" over the brokers of a librdkafka statistics document (JSON), in
 * *retries. RC_ERR_INVALID when the text is not such a document. */
rc_err_t rc_kafka_stats_retries(const char *json, size_t len, uint64_t *retries);

#endif
