/* rc_msg.h: one msgpack event (rc_event.h) -> one Kafka message in a sink format: topic, key,
 * value and headers.
 *
 * The worker keeps one rc_msg_t for life and encodes every event into it, so the buffers and
 * the header array grow to the largest message once and are reused (no malloc per row).
 * Headers of every message, in this order (values are UTF-8 text):
 *   content-type            application/json | application/x-protobuf; messageType=rowcast.v1.Event
 *   rowcast.format          json | protobuf | debezium-json
 *   rowcast.format.version  RC_FORMAT_VERSION ("1"), the version of the event layout
 *   rowcast.schema, rowcast.table   where the change happened
 *   rowcast.gtid            the transaction's GTID (left out for anonymous transactions)
 *   rowcast.position        binlog_file:binlog_pos of the rows event
 * followed by the event's kafka.headers {name: value} in map order (a str or bin value as is,
 * nil left out, anything else as its JSON text).
 * The key is kafka.key in the format's form, or with key_joined (sink.key: primary_key_joined)
 * the text of its values joined by '.' in every format: a str, bin or ext (DECIMAL, temporals,
 * ENUM, SET) value as its bytes, nil as nothing, anything else as its JSON text ({"id": 42,
 * "region": "eu"} -> 42.eu).
 * @thread worker (one rc_msg_t per thread) */
#ifndef RC_MSG_H
#define RC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_err.h"

#define RC_FORMAT_VERSION "1"

typedef enum rc_format {
    RC_FORMAT_JSON = 0,          /* rc_json_write_event; key: rc_json_write of kafka.key */
    RC_FORMAT_PROTOBUF = 1,      /* rc_proto_write_event; key: rowcast.v1.Key (a str key as is) */
    RC_FORMAT_DEBEZIUM_JSON = 2, /* rc_debezium_write_event; key: rc_debezium_write_key */
} rc_format_t;

/* "json", "protobuf", "debezium-json" -> the format; RC_ERR_INVALID otherwise. */
rc_err_t rc_format_from_name(const char *name, rc_format_t *out);
const char *rc_format_name(rc_format_t f);
const char *rc_format_content_type(rc_format_t f);

/* One header; the value points into the event or into the rc_msg_t (not NUL-terminated). */
typedef struct rc_msg_header {
    const char *name;
    size_t name_len;
    const void *value;
    size_t value_len;
} rc_msg_header_t;

typedef struct rc_msg {
    bool key_joined;       /* option, set by the owner: the key as the PK values joined by '.' */
    bool debezium_schemas; /* option: debezium-json with its Kafka Connect schema part */
    const char *topic;     /* points into the event */
    size_t topic_len;
    rc_buf_t key; /* len 0: the message has no key */
    rc_buf_t value;
    rc_msg_header_t *headers;
    size_t n_headers;
    size_t cap_headers;
    size_t *text_off;                /* per header: offset of its value in text, or SIZE_MAX */
    rc_buf_t text;                   /* header values made here (rowcast.position, JSON texts) */
    uint64_t commit_ts;              /* meta.commit_ts of the event (s since the epoch); 0 = none */
    struct rc_json_tpl *json_tpl;    /* the JSON writer's templates, made at the first JSON event */
    struct rc_proto_tpl *proto_tpl;  /* the protobuf writer's, made at the first protobuf event */
    struct rc_debezium_tpl *dbz_tpl; /* debezium-json's, made at the first such event */
    struct rc_msg_walk *walk;        /* what the walk over the events learns, made at the first */
} rc_msg_t;

#define RC_MSG_INIT                                                                                \
    { 0 }

/* Encodes the event at ev[0..len) into m (replacing what m held) in format f, or in the one
 * the event's kafka.format names ("json", "protobuf", "debezium-json": a script's choice for
 * that event), and sets *used to the event's msgpack size. The pointers in m stay valid until the next call, rc_msg_free, or the
 * event's bytes change. On error errstr says what is wrong with which topic's event. */
rc_err_t rc_msg_encode(rc_msg_t *m, rc_format_t f, const uint8_t *ev, size_t len, size_t *used,
                       char *errstr, size_t errstr_size);

/* How many events m's walk has read the generic way, not by a plan it learnt (the first event
 * of each layout, and those whose layout or constants changed): for tests. */
uint64_t rc_msg_walk_misses(const rc_msg_t *m);

/* Frees m's buffers; m can be encoded into again afterwards. */
void rc_msg_free(rc_msg_t *m);

#endif
