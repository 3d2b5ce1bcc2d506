/* rc_kafka.h: the Kafka sink of one pipeline.
 *
 * One idempotent librdkafka producer per pipeline. Messages are copied into librdkafka, so
 * the caller's buffers can be reused at once. Delivery reports arrive on the thread that
 * calls rc_kafka_poll/rc_kafka_flush (the worker); a message that cannot be delivered makes the
 * sink failed, and the pipeline stops rather than lose data. Missing topics are created
 * through the admin API when the sink config asks for it.
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
void rc_kafka_destroy(rc_kafka_t *k);

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
    uint64_t produced;  /* handed to librdkafka */
    uint64_t delivered; /* acknowledged by the broker */
    uint64_t failed;    /* failed for good */
} rc_kafka_stats_t;

void rc_kafka_get_stats(rc_kafka_t *k, rc_kafka_stats_t *out);

#endif
