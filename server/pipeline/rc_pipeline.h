/* rc_pipeline.h: one source -> sink flow and its threads.
 *
 * A pipeline owns a reader thread (replication connection + binlog decoder, packing events
 * into batches) and a worker thread (JSON encoding + Kafka producer), joined by a bounded
 * queue of batches. A pipeline that fails records why and stops; it never takes the process
 * or other pipelines down with it. A lost source connection is retried with back-off from
 * the last transaction boundary.
 * @thread the control functions run on the main/http thread; the status lock guards state. */
#ifndef RC_PIPELINE_H
#define RC_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_config.h"
#include "rc_err.h"
#include "rc_hist.h"

typedef enum rc_pipeline_state {
    RC_PIPELINE_CREATED = 0,
    RC_PIPELINE_STARTING,   /* connecting to the source for the first time */
    RC_PIPELINE_RUNNING,    /* streaming from the source */
    RC_PIPELINE_RESTARTING, /* source lost, reconnecting with back-off */
    RC_PIPELINE_STOPPING,
    RC_PIPELINE_STOPPED,
    RC_PIPELINE_FAILED,
    RC_PIPELINE_PAUSED, /* asked to pause: reader disconnected at a transaction boundary */
} rc_pipeline_state_t;

const char *rc_pipeline_state_name(rc_pipeline_state_t s);

typedef struct rc_pipeline rc_pipeline_t;

typedef struct rc_pipeline_stats {
    uint64_t events_read;      /* row events decoded and queued */
    uint64_t events_produced;  /* handed to Kafka */
    uint64_t events_delivered; /* acknowledged by Kafka */
    uint64_t events_failed;
    uint64_t kafka_retries; /* requests to the brokers librdkafka sent again */
    uint64_t transactions;
    uint64_t bytes_read; /* binlog bytes */
    uint64_t batches;
    uint64_t events_dropped;       /* dropped by a transform */
    uint64_t events_skipped;       /* not sent after a transform error (on_error: skip) */
    uint64_t events_dead_lettered; /* sent to the dead-letter topic (on_error: dead_letter) */
    uint64_t reconnects;           /* source connections retried after a failure */
    uint64_t kafka_txn_commits;    /* exactly_once: Kafka transactions committed */
    uint64_t kafka_txn_aborts;     /* exactly_once: Kafka transactions aborted */
    uint64_t queue_depth;          /* batches waiting between reader and worker now */
    uint32_t last_event_ts; /* commit time (s since the epoch) of the last event read; 0 none */
    uint64_t vm_bytes;      /* bytes the scripts' VMs held after the last batch */
    int64_t
        checkpoint_wall_ms; /* when the last position was written (ms since the epoch); 0 none */
} rc_pipeline_stats_t;

/* The last complete transaction the reader handed to the worker. */
typedef struct rc_pipeline_position {
    char file[256]; /* "" before the first transaction */
    uint64_t pos;
    char gtid[160];
} rc_pipeline_position_t;

/* Validates what can be checked offline (regexes, topic template) and prepares the
 * pipeline; nothing is started. conf and pconf must outlive the pipeline. */
rc_pipeline_t *rc_pipeline_new(const rc_config_t *conf, const rc_pipeline_config_t *pconf,
                               char *errstr, size_t errstr_size);

/* Starts the threads. */
rc_err_t rc_pipeline_start(rc_pipeline_t *p, char *errstr, size_t errstr_size);

/* Stops reading, lets the worker produce what was read, flushes Kafka for up to grace_s,
 * and joins the threads. Safe to call in any state. */
void rc_pipeline_stop(rc_pipeline_t *p, double grace_s);

void rc_pipeline_destroy(rc_pipeline_t *p);

const char *rc_pipeline_name(const rc_pipeline_t *p);
/* State and, for FAILED/RESTARTING, the reason. */
rc_pipeline_state_t rc_pipeline_status(rc_pipeline_t *p, char *reason, size_t reason_size);
void rc_pipeline_get_stats(rc_pipeline_t *p, rc_pipeline_stats_t *out);
void rc_pipeline_get_position(rc_pipeline_t *p, rc_pipeline_position_t *out);
/* End-to-end latency (binlog commit time -> Kafka acknowledgement) of the events delivered. */
void rc_pipeline_get_latency(rc_pipeline_t *p, rc_hist_snapshot_t *out);
/* Time each batch spent in the pipeline's scripts (none without transforms). */
void rc_pipeline_get_transform_time(rc_pipeline_t *p, rc_hist_snapshot_t *out);
const rc_pipeline_config_t *rc_pipeline_config(const rc_pipeline_t *p);
/* Events per table and action (rc_table_stats.h): read (counted by the reader), or produced
 * and dropped (by the worker). */
struct rc_table_stats;
struct rc_table_stats *rc_pipeline_table_stats(rc_pipeline_t *p, bool read);

/* Appends `"executed_gtid_set":"..."|null,"checkpoint":{state record}|null` (no braces): the
 * GTID set of every transaction handed to the worker, and the last position written to the
 * state topic. @thread any */
struct rc_buf;
void rc_pipeline_write_state_json(rc_pipeline_t *p, struct rc_buf *out);

/* Pause: the reader finishes the transaction it is in, hands it over, closes its source
 * connection and waits (state PAUSED) keeping its position. Resume: it reconnects at that
 * transaction boundary, so nothing is lost or read twice. Both only set a flag and wake the
 * reader: they never block. rc_pipeline_start after rc_pipeline_stop starts again from the last
 * transaction boundary read. @thread any */
void rc_pipeline_pause(rc_pipeline_t *p);
/* Makes p (not started) start where src (stopped) left off: its last transaction boundary,
 * position and executed GTID set, instead of p's configured start or stored position. When src
 * gave up on undelivered messages, p starts from the stored position instead. Used when a
 * pipeline's config is replaced. */
void rc_pipeline_continue_from(rc_pipeline_t *p, rc_pipeline_t *src);
/* Makes p (stopped, not running) begin at `start` (any form of source.start, checked by the
 * caller) on its next start, over its stored position; the executed GTID set is learned anew
 * there, as for a first start. */
void rc_pipeline_seek(rc_pipeline_t *p, const char *start);
void rc_pipeline_resume(rc_pipeline_t *p);

/* PUT .../transform. Compiles specs (each with source set) as p's scripts would be: pc's time
 * budget, memory cap, on_error and dead-letter topic, and pc->name in messages ("pipeline P:
 * transforms[i]: FILE:LINE: message"). NULL with the message in errstr when one does not load.
 * @thread any (no pipeline lock is needed: the top level may run up to the budget) */
struct rc_transform_spec;
struct rc_transform_chain;
struct rc_transform_chain *rc_pipeline_transforms_new(const rc_pipeline_config_t *pc,
                                                      struct rc_transform_spec *specs, size_t n,
                                                      char *errstr, size_t errstr_size);
/* Hands chain (NULL = no transforms) to p, which owns it from now on. The worker swaps it in
 * between two batches: every batch runs wholly under the old or the new chain, nothing is
 * skipped or run twice, and the pipeline keeps streaming. A stopped pipeline takes it at its
 * next start. A second call before the swap replaces the first chain. @thread any */
void rc_pipeline_set_transforms(rc_pipeline_t *p, struct rc_transform_chain *chain);
bool rc_pipeline_pause_requested(rc_pipeline_t *p);

#endif
