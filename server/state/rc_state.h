/* rc_state.h: a pipeline's position, stored in a compacted Kafka topic keyed by pipeline name.
 *
 * The topic (state.topic, default "rowcast.state") is created when missing with
 * cleanup.policy=compact, one partition and the cluster's default replication factor. Every
 * record is written to partition 0 with the pipeline name as key and a JSON value:
 *   {"format":1,"rowcast":"0.1.0","pipeline":"shop","flavor":"mariadb","server_uuid":"",
 *    "server_id":1,"gtid_set":"0-1-42","binlog_file":"mariadb-bin.000003","binlog_pos":1234,
 *    "commit_ts":1732435200}
 * Loading reads partition 0 from the beginning to the high watermark and keeps the latest
 * record whose key is this pipeline's name: another pipeline's record is never taken.
 * @thread one store belongs to one pipeline; save/poll/flush run on its worker thread, load on
 * its reader thread before the worker saves anything. */
#ifndef RC_STATE_H
#define RC_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_config.h"
#include "rc_err.h"

#define RC_STATE_FORMAT 1

typedef struct rc_state_record {
    int format;       /* RC_STATE_FORMAT */
    char rowcast[32]; /* version that wrote it */
    char pipeline[80];
    char flavor[16];       /* "mysql" | "mariadb" */
    char server_uuid[64];  /* MySQL @@server_uuid; "" on MariaDB */
    uint32_t server_id;    /* the source's @@server_id */
    char *gtid_set;        /* the executed GTID set; "" without GTIDs; owned by the record */
    char binlog_file[256]; /* the position after the last checkpointed transaction */
    uint64_t binlog_pos;
    uint32_t commit_ts; /* commit time of that transaction (s) */
} rc_state_record_t;

/* Frees what the record owns (gtid_set) and leaves it zeroed. */
void rc_state_record_clear(rc_state_record_t *r);
/* Deep copy; dst is overwritten (clear it first if it owns something). */
rc_err_t rc_state_record_copy(rc_state_record_t *dst, const rc_state_record_t *src);

/* The JSON value of a record, appended to out. */
rc_err_t rc_state_record_to_json(const rc_state_record_t *r, rc_buf_t *out);
/* Parses a JSON value. Unknown keys are ignored (newer writers may add some); a missing
 * required key, a wrong type or a format newer than RC_STATE_FORMAT is an error naming it.
 * r must be zeroed or cleared; on error it is left cleared. */
rc_err_t rc_state_record_from_json(const char *json, size_t len, rc_state_record_t *r, char *errstr,
                                   size_t errstr_size);

typedef struct rc_state rc_state_t;

/* Creates the store's producer (no network round trip yet). */
rc_state_t *rc_state_new(const rc_kafka_config_t *kconf, const char *topic, const char *pipeline,
                         char *errstr, size_t errstr_size);

/* Creates the topic when missing (compacted, one partition, the cluster's default replication
 * factor). An existing topic with several partitions is RC_ERR_INVALID: a key could then live in
 * another partition than the one read. RC_ERR_KAFKA when the cluster cannot be reached. */
rc_err_t rc_state_ensure_topic(rc_state_t *st, char *errstr, size_t errstr_size);
void rc_state_destroy(rc_state_t *st);
const char *rc_state_topic(const rc_state_t *st);

/* Reads the latest record of this pipeline. *found is false when there is none (or the latest
 * is a tombstone). timeout_ms bounds the whole read. */
rc_err_t rc_state_load(rc_state_t *st, rc_state_record_t *out, bool *found, int timeout_ms,
                       char *errstr, size_t errstr_size);

/* Queues a record; the delivery is checked by rc_state_poll/rc_state_flush. */
rc_err_t rc_state_save(rc_state_t *st, const rc_state_record_t *r, char *errstr,
                       size_t errstr_size);
/* Serves delivery reports; RC_ERR_KAFKA once a record failed for good (errstr says why). */
rc_err_t rc_state_poll(rc_state_t *st, char *errstr, size_t errstr_size);
/* Waits up to timeout_ms until every queued record is acknowledged. */
rc_err_t rc_state_flush(rc_state_t *st, int timeout_ms, char *errstr, size_t errstr_size);
/* Records acknowledged by the broker so far. */
uint64_t rc_state_saved(const rc_state_t *st);

#endif
