/* rc_metrics.c: the Prometheus text exposition (format 0.0.4) of every pipeline.
 *
 * Counters are the pipeline's atomics, read without locks; gauges are sampled at scrape time.
 * The state is one series per state name with the value 1 for the current state and 0 for the
 * others (rowcast_pipeline_state{pipeline="x",state="RUNNING"} 1), so alerts can match by name.
 * rowcast_source_lag_seconds appears once the pipeline has read an event. The end-to-end latency
 * histogram has one series set per pipeline; its count is the events delivered with a commit
 * time, so it matches rowcast_events_delivered_total for pipelines that only read the binlog.
 * rowcast_checkpoint_age_seconds appears once the pipeline has written a position. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_json.h"
#include "rc_rest.h"
#include "rc_table_stats.h"
#include "rc_version.h"

typedef struct counter {
    const char *name;
    const char *type;
    const char *help;
    size_t offset; /* of the uint64_t in rc_pipeline_stats_t */
} counter_t;

#define STAT(f) offsetof(rc_pipeline_stats_t, f)
static const counter_t counters[] = {
    {"rowcast_events_read_total", "counter", "Row events decoded from the binlog and queued.",
     STAT(events_read)},
    {"rowcast_events_produced_total", "counter", "Events handed to the Kafka producer.",
     STAT(events_produced)},
    {"rowcast_events_delivered_total", "counter", "Events acknowledged by Kafka.",
     STAT(events_delivered)},
    {"rowcast_events_failed_total", "counter", "Events Kafka failed to deliver for good.",
     STAT(events_failed)},
    {"rowcast_events_dropped_total", "counter", "Events a transform dropped (ACTION_DROP).",
     STAT(events_dropped)},
    {"rowcast_events_skipped_total", "counter",
     "Events not sent after a transform error (on_error: skip).", STAT(events_skipped)},
    {"rowcast_events_dead_lettered_total", "counter",
     "Events sent to the dead-letter topic after a transform error (on_error: dead_letter).",
     STAT(events_dead_lettered)},
    {"rowcast_kafka_delivery_errors_total", "counter",
     "Delivery reports from Kafka that carried an error (the message failed for good).",
     STAT(events_failed)},
    {"rowcast_kafka_retries_total", "counter",
     "Requests to the Kafka brokers that librdkafka sent again (its statistics, every 10 s by "
     "default: kafka.rdkafka.statistics.interval.ms).",
     STAT(kafka_retries)},
    {"rowcast_kafka_transactions_committed_total", "counter",
     "Kafka transactions committed (delivery: exactly_once; each holds whole source "
     "transactions and their position record).",
     STAT(kafka_txn_commits)},
    {"rowcast_kafka_transactions_aborted_total", "counter",
     "Kafka transactions aborted (delivery: exactly_once): after an abortable error, their "
     "events were sent again in a new one; at a stop inside a transaction, the next start "
     "resumes before them.",
     STAT(kafka_txn_aborts)},
    {"rowcast_transactions_total", "counter", "Source transactions read.", STAT(transactions)},
    {"rowcast_binlog_read_bytes_total", "counter", "Binlog bytes received from the source.",
     STAT(bytes_read)},
    {"rowcast_batches_total", "counter", "Batches handed from the reader to the worker.",
     STAT(batches)},
    {"rowcast_source_reconnects_total", "counter", "Source connections retried after a failure.",
     STAT(reconnects)},
    {"rowcast_queue_batches", "gauge", "Batches waiting between reader and worker.",
     STAT(queue_depth)},
};

static const rc_pipeline_state_t all_states[] = {
    RC_PIPELINE_CREATED,    RC_PIPELINE_STARTING, RC_PIPELINE_RUNNING, RC_PIPELINE_PAUSED,
    RC_PIPELINE_RESTARTING, RC_PIPELINE_STOPPING, RC_PIPELINE_STOPPED, RC_PIPELINE_FAILED,
};

/* Label values escaped per the text format: backslash, double quote, newline. Runs without
 * those are appended whole: a scrape writes hundreds of labels. */
static void put_label(rc_buf_t *out, const char *v) {
    for (;;) {
        size_t run = strcspn(v, "\\\"\n");
        rc_buf_append(out, v, run);
        v += run;
        if (!*v) {
            return;
        }
        rc_buf_append(out, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\", 2);
        v++;
    }
}

/* NAME{pipeline="P" (the caller writes the other labels, "} " and the value) */
static void put_series(rc_buf_t *out, const char *name, const char *pipeline) {
    rc_buf_puts(out, name);
    rc_buf_puts(out, "{pipeline=\"");
    put_label(out, pipeline);
}

static void header(rc_buf_t *out, const char *name, const char *type, const char *help) {
    rc_buf_puts(out, "# HELP ");
    rc_buf_puts(out, name);
    rc_buf_putc(out, ' ');
    rc_buf_puts(out, help);
    rc_buf_puts(out, "\n# TYPE ");
    rc_buf_puts(out, name);
    rc_buf_putc(out, ' ');
    rc_buf_puts(out, type);
    rc_buf_putc(out, '\n');
}

/* A histogram bound as %g writes it, formatted once per thread and bound. */
static const char *bound_text(double v) {
    static __thread struct {
        double v;
        char s[32];
    } cache[64];
    static __thread size_t n;
    for (size_t i = 0; i < n; i++) {
        if (cache[i].v == v) {
            return cache[i].s;
        }
    }
    size_t i = n < 64 ? n++ : 63;
    cache[i].v = v;
    snprintf(cache[i].s, sizeof(cache[i].s), "%g", v);
    return cache[i].s;
}

/* One histogram, one set of series per pipeline. */
static void write_histogram(rc_buf_t *out, rc_pipeline_ctl_t *ctl, const char *name,
                            const char *help, void (*get)(rc_pipeline_t *, rc_hist_snapshot_t *)) {
    header(out, name, "histogram", help);
    for (size_t i = 0; i < rc_pipeline_ctl_count(ctl); i++) {
        rc_pipeline_t *p = rc_pipeline_ctl_get(ctl, i);
        rc_hist_snapshot_t h;
        get(p, &h);
        for (int b = 0; b <= h.n; b++) {
            rc_buf_puts(out, name);
            rc_buf_puts(out, "_bucket{pipeline=\"");
            put_label(out, rc_pipeline_name(p));
            rc_buf_puts(out, "\",le=\"");
            rc_buf_puts(out, b < h.n ? bound_text(h.bounds[b]) : "+Inf");
            rc_buf_puts(out, "\"} ");
            rc_json_write_int(out, b < h.n ? h.cumulative[b] : h.count, false);
            rc_buf_putc(out, '\n');
        }
        rc_buf_printf(out, "%s_sum{pipeline=\"", name);
        put_label(out, rc_pipeline_name(p));
        rc_buf_printf(out, "\"} %.6f\n", h.sum);
        rc_buf_printf(out, "%s_count{pipeline=\"", name);
        put_label(out, rc_pipeline_name(p));
        rc_buf_puts(out, "\"} ");
        rc_json_write_int(out, h.count, false);
        rc_buf_putc(out, '\n');
    }
}

static const struct {
    const char *name;
    const char *help;
    rc_table_count_t which;
} table_counters[] = {
    {"rowcast_table_events_read_total",
     "Row events decoded from the binlog, by table (schema.table; _other past the limit of "
     "tables) and action.",
     RC_TABLE_READ},
    {"rowcast_table_events_produced_total",
     "Events handed to the Kafka producer, by the table and action of the event after the "
     "transforms.",
     RC_TABLE_PRODUCED},
    {"rowcast_table_events_dropped_total",
     "Events the transforms turned into no message (dropped, or skipped after an error), by "
     "table and action.",
     RC_TABLE_DROPPED},
};

typedef struct table_row_arg {
    rc_buf_t *out;
    const char *metric;
    const char *pipeline;
    rc_table_count_t which;
} table_row_arg_t;

static void table_row(void *arg, const char *table, const char *action,
                      const uint64_t counts[RC_TABLE_N_COUNTS]) {
    table_row_arg_t *a = arg;
    put_series(a->out, a->metric, a->pipeline);
    rc_buf_puts(a->out, "\",table=\"");
    put_label(a->out, table);
    rc_buf_puts(a->out, "\",action=\"");
    rc_buf_puts(a->out, action);
    rc_buf_puts(a->out, "\"} ");
    rc_json_write_int(a->out, counts[a->which], false);
    rc_buf_putc(a->out, '\n');
}

static void write_table_counters(rc_buf_t *out, rc_pipeline_ctl_t *ctl) {
    for (size_t c = 0; c < sizeof(table_counters) / sizeof(table_counters[0]); c++) {
        header(out, table_counters[c].name, "counter", table_counters[c].help);
        for (size_t i = 0; i < rc_pipeline_ctl_count(ctl); i++) {
            rc_pipeline_t *p = rc_pipeline_ctl_get(ctl, i);
            table_row_arg_t a = {out, table_counters[c].name, rc_pipeline_name(p),
                                 table_counters[c].which};
            rc_table_stats_each(
                rc_pipeline_table_stats(p, table_counters[c].which == RC_TABLE_READ), table_row,
                &a);
        }
    }
}

void rc_metrics_write(rc_buf_t *out, rc_pipeline_ctl_t *ctl) {
    size_t n = rc_pipeline_ctl_count(ctl);
    rc_pipeline_stats_t *stats = calloc(n ? n : 1, sizeof(*stats));
    rc_pipeline_state_t *states = calloc(n ? n : 1, sizeof(*states));
    if (!stats || !states) {
        free(stats);
        free(states);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        rc_pipeline_get_stats(rc_pipeline_ctl_get(ctl, i), &stats[i]);
        states[i] = rc_pipeline_status(rc_pipeline_ctl_get(ctl, i), NULL, 0);
    }
    header(out, "rowcast_build_info", "gauge", "rowcast build; the value is always 1.");
    rc_buf_puts(out, "rowcast_build_info{version=\"");
    put_label(out, RC_VERSION);
    rc_buf_puts(out, "\"} 1\n");
    for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
        header(out, counters[c].name, counters[c].type, counters[c].help);
        for (size_t i = 0; i < n; i++) {
            uint64_t v = *(const uint64_t *)((const char *)&stats[i] + counters[c].offset);
            put_series(out, counters[c].name, rc_pipeline_name(rc_pipeline_ctl_get(ctl, i)));
            rc_buf_puts(out, "\"} ");
            rc_json_write_int(out, v, false);
            rc_buf_putc(out, '\n');
        }
    }
    header(out, "rowcast_pipeline_state", "gauge",
           "1 for the pipeline's current state, 0 for the other states.");
    for (size_t i = 0; i < n; i++) {
        for (size_t s = 0; s < sizeof(all_states) / sizeof(all_states[0]); s++) {
            put_series(out, "rowcast_pipeline_state",
                       rc_pipeline_name(rc_pipeline_ctl_get(ctl, i)));
            rc_buf_puts(out, "\",state=\"");
            rc_buf_puts(out, rc_pipeline_state_name(all_states[s]));
            rc_buf_puts(out, states[i] == all_states[s] ? "\"} 1\n" : "\"} 0\n");
        }
    }
    header(out, "rowcast_source_lag_seconds", "gauge",
           "Now minus the commit time of the last event read from the source.");
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        if (stats[i].last_event_ts == 0) {
            continue;
        }
        double lag = (double)now - (double)stats[i].last_event_ts;
        rc_buf_puts(out, "rowcast_source_lag_seconds{pipeline=\"");
        put_label(out, rc_pipeline_name(rc_pipeline_ctl_get(ctl, i)));
        rc_buf_printf(out, "\"} %.0f\n", lag > 0 ? lag : 0.0);
    }
    header(out, "rowcast_transform_vm_memory_bytes", "gauge",
           "Bytes the pipeline's script VMs hold (what transform_memory_mb caps), after the last "
           "batch.");
    for (size_t i = 0; i < n; i++) {
        put_series(out, "rowcast_transform_vm_memory_bytes",
                   rc_pipeline_name(rc_pipeline_ctl_get(ctl, i)));
        rc_buf_puts(out, "\"} ");
        rc_json_write_int(out, stats[i].vm_bytes, false);
        rc_buf_putc(out, '\n');
    }
    header(out, "rowcast_checkpoint_age_seconds", "gauge",
           "Seconds since the pipeline last wrote its position to the state topic.");
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t now_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    for (size_t i = 0; i < n; i++) {
        if (stats[i].checkpoint_wall_ms == 0) {
            continue; /* none written yet */
        }
        int64_t age = now_ms - stats[i].checkpoint_wall_ms;
        rc_buf_puts(out, "rowcast_checkpoint_age_seconds{pipeline=\"");
        put_label(out, rc_pipeline_name(rc_pipeline_ctl_get(ctl, i)));
        rc_buf_printf(out, "\"} %.3f\n", age > 0 ? (double)age / 1000.0 : 0.0);
    }
    write_table_counters(out, ctl);
    write_histogram(out, ctl, "rowcast_event_latency_seconds",
                    "Binlog commit time to Kafka acknowledgement of each delivered event (the "
                    "commit time has one-second precision).",
                    rc_pipeline_get_latency);
    write_histogram(out, ctl, "rowcast_transform_duration_seconds",
                    "Time each batch spent in the pipeline's transform scripts.",
                    rc_pipeline_get_transform_time);
    free(stats);
    free(states);
}
