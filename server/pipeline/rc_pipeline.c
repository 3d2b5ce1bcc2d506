/* rc_pipeline.c: reader and worker threads of one pipeline.
 *
 * Reader: connect, ask for the binlog from the start position, decode each event straight
 * into the current batch, and hand the batch over when it is full, when it has waited
 * batch_max_ms, or when the stream goes quiet with events in it. Worker: for each event, build
 * the message in the sink's format (rc_msg: topic, key, value, headers) and produce it. The queue between them is
 * bounded, so a slow Kafka blocks the reader instead of growing memory.
 *
 * delivery: exactly_once: the worker keeps a Kafka transaction open over a group of whole
 * source transactions, writes the group's position into the state topic inside it and commits;
 * it keeps the group's (transformed) batches until then, so that an abortable error is handled
 * by aborting and sending the group again. The reader calls init_transactions (fencing older
 * instances of the pipeline) before it reads the stored position with read_committed. */
#include "rc_pipeline.h"

#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "rc_batch.h"
#include "rc_binlog.h"
#include "rc_buf.h"
#include "rc_gtid.h"
#include "rc_json.h"
#include "rc_msg.h"
#include "rc_kafka.h"
#include "rc_log.h"
#include "rc_mp.h"
#include "rc_mysql.h"
#include "rc_queue.h"
#include "rc_script.h"
#include "rc_start.h"
#include "rc_state.h"
#include "rc_table_stats.h"
#include "rc_version.h"

#define BACKOFF_MAX_S 30
#define NO_TICKET     UINT64_MAX

typedef struct resume {
    char file[512];
    uint64_t pos;
    bool known;
    bool
        gtid_mode; /* reconnect after the executed GTID set (no boundary read since a GTID start) */
} resume_t;

/* One source transaction on its way to Kafka: how many messages were produced from it (after
 * transforms dropped or fanned out its events; possibly over several batches) and how many
 * Kafka acknowledged. Its position may be saved once it and every transaction before it are
 * fully acknowledged. @thread worker */
typedef struct ticket {
    uint64_t produced, acked;
    uint64_t pos; /* the position after the transaction */
    uint32_t commit_ts;
    uint32_t file; /* index into the worker's file names */
    bool sealed;   /* the transaction ended: every message of it was produced */
    char gtid[RC_BATCH_GTID_MAX];
} ticket_t;

struct rc_pipeline {
    const rc_config_t *conf;
    const rc_pipeline_config_t *pc;

    regex_t *include;
    size_t n_include;
    regex_t *exclude;
    size_t n_exclude;

    rc_queue_t *queue;
    rc_kafka_t *kafka;
    int stop_fd;            /* eventfd: wakes the reader out of poll() */
    volatile int stop;      /* reader: stop reading */
    volatile int abort_now; /* worker: give up on undelivered messages */

    pthread_t reader, worker;
    bool reader_started, worker_started;

    pthread_mutex_t lock; /* guards state and reason */
    rc_pipeline_state_t state;
    char reason[1024];

    atomic_uint_fast64_t events_read, transactions, bytes_read, batches;

    rc_transform_chain_t *transforms; /* NULL without transforms; used by the worker only */
    atomic_uint_fast64_t events_dropped, events_skipped, events_dead_lettered;
    atomic_uint_fast64_t reconnects;
    atomic_uint_fast64_t txn_commits, txn_aborts; /* exactly_once: Kafka transactions */
    atomic_uint_fast32_t last_event_ts;
    atomic_bool pause_req;
    resume_t resume;  /* the reader's restart point, kept across stop/start */
    rc_mysql_t *meta; /* reader: a second connection for information_schema, opened on use */
    rc_pipeline_position_t position; /* last transaction handed over; guarded by lock */
    uint64_t kafka_base[4]; /* produced/delivered/failed/retries of producers of earlier runs */

    /* positions in Kafka (rc_state) */
    rc_state_t *store;       /* created by rc_pipeline_start */
    char seek[1024];         /* a start form set over REST for the next start, or "" */
    rc_gtid_set_t *executed; /* reader: GTIDs of every transaction read (and before the start) */
    bool executed_known;     /* reader: `executed` holds everything before the start too */
    bool state_checked;      /* reader: the stored position was looked up */
    bool have_saved;         /* reader: `saved` holds the stored position */
    rc_state_record_t saved;
    rc_state_record_t ident; /* flavor and source server, set by the reader; guarded by lock */
    int64_t last_push_ns;    /* reader: last hand-over, for empty batches that carry a position */
    bool base_sent;          /* reader: this run's first batch carried the executed set */
    bool clean_end;          /* worker: the last run delivered every transaction it ended */
    bool worker_ran;
    ticket_t *tk; /* worker: ring of outstanding tickets, ids tk_head..tk_tail-1 */
    size_t tk_cap;
    uint64_t tk_head, tk_tail;
    uint64_t tk_open; /* worker: ticket of the transaction in progress, or UINT64_MAX */
    char **wfiles;    /* worker: binlog file names tickets refer to */
    uint32_t n_wfiles;
    rc_gtid_set_t *acked_set;  /* worker: executed set up to the last completed ticket; NULL =
                                 unknown (MySQL without a GTID start) */
    rc_state_record_t pending; /* worker: newest fully acknowledged position not yet saved */
    bool pending_new;
    int64_t last_save_ns;
    rc_state_record_t checkpoint; /* the last position written; guarded by lock */
    bool has_checkpoint;
    char *executed_text;      /* the executed set at the last hand-over; guarded by lock */
    rc_hist_t latency;        /* commit -> Kafka acknowledgement, across runs */
    rc_hist_t transform_time; /* time of each batch in the scripts */
    /* PUT .../transform: the chain the worker swaps in at its next batch boundary (NULL = no
     * transforms); guarded by lock, announced by swap_transforms */
    rc_transform_chain_t *next_transforms;
    atomic_bool swap_transforms;
    uint64_t xf_base[3];           /* worker: dropped/skipped/dead-lettered of old chains */
    atomic_uint_fast64_t vm_bytes; /* what the scripts' VMs held after the last batch */
    atomic_int_fast64_t checkpoint_wall_ms; /* when the last position was written; 0 = never */
    rc_table_stats_t *tables_read; /* events read per table and action, counted by the reader */
    rc_table_stats_t *tables;      /* produced and dropped per table and action: the worker */

    /* delivery: exactly_once */
    bool eos;
    bool txn_ready;        /* reader: init_transactions done for this run's producer */
    int64_t aligned_ns;    /* reader: last hand-over that ended at a transaction boundary */
    uint64_t aligned_tx;   /* reader: transactions since then */
    uint64_t tx_sent;      /* reader: events of the open transaction the worker has */
    uint64_t tx_pos;       /* reader: events of it read on this connection (skipped or not) */
    bool txn_open;         /* worker: a Kafka transaction is open */
    int txn_resends;       /* worker: times the open group was sent again since its last commit */
    int64_t txn_begin_ns;  /* worker: when it began */
    rc_batch_t **grp;      /* worker: the open transaction's batches, to send again on abort */
    size_t n_grp, cap_grp; /* tickets tk_head..tk_tail-1 are theirs */
};

const char *rc_pipeline_state_name(rc_pipeline_state_t s) {
    switch (s) {
    case RC_PIPELINE_CREATED:
        return "CREATED";
    case RC_PIPELINE_STARTING:
        return "STARTING";
    case RC_PIPELINE_RUNNING:
        return "RUNNING";
    case RC_PIPELINE_RESTARTING:
        return "RESTARTING";
    case RC_PIPELINE_STOPPING:
        return "STOPPING";
    case RC_PIPELINE_STOPPED:
        return "STOPPED";
    case RC_PIPELINE_FAILED:
        return "FAILED";
    case RC_PIPELINE_PAUSED:
        return "PAUSED";
    }
    return "UNKNOWN";
}

static void set_state(rc_pipeline_t *p, rc_pipeline_state_t s, const char *reason) {
    pthread_mutex_lock(&p->lock);
    /* FAILED sticks: a stop after a failure keeps the failure visible. */
    if (p->state != RC_PIPELINE_FAILED || s == RC_PIPELINE_RUNNING) {
        p->state = s;
        snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
    }
    pthread_mutex_unlock(&p->lock);
}

static void fail(rc_pipeline_t *p, const char *reason) {
    rc_error("pipeline", "pipeline %s failed: %s", p->pc->name, reason);
    set_state(p, RC_PIPELINE_FAILED, reason);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static rc_err_t compile_patterns(char **src, size_t n, regex_t **out, const char *pipeline,
                                 const char *key, char *errstr, size_t errstr_size) {
    if (n == 0) {
        return RC_OK;
    }
    *out = calloc(n, sizeof(regex_t));
    if (!*out) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(src[i]) + 5;
        char *anchored = malloc(len);
        if (!anchored) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        snprintf(anchored, len, "^(%s)$", src[i]);
        int rc = regcomp(&(*out)[i], anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (rc != 0) {
            char msg[256];
            regerror(rc, &(*out)[i], msg, sizeof(msg));
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "pipeline %s: %s[%zu] '%s' is not a valid regular expression: %s",
                             pipeline, key, i, src[i], msg);
        }
    }
    return RC_OK;
}

static void free_patterns(regex_t *r, size_t n) {
    if (!r) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        regfree(&r[i]);
    }
    free(r);
}

/* Called by the decoder once per table map. @thread reader */
static bool include_table(void *opaque, const char *schema, const char *table) {
    rc_pipeline_t *p = opaque;
    char name[600];
    snprintf(name, sizeof(name), "%s.%s", schema, table);
    bool in = p->n_include == 0;
    for (size_t i = 0; i < p->n_include && !in; i++) {
        in = regexec(&p->include[i], name, 0, NULL, 0) == 0;
    }
    for (size_t i = 0; i < p->n_exclude && in; i++) {
        in = regexec(&p->exclude[i], name, 0, NULL, 0) != 0;
    }
    return in;
}

/* Compiles specs under pc's budget, memory cap, error policy and dead-letter topic. */
static rc_transform_chain_t *chain_new(const rc_pipeline_config_t *pc, rc_transform_spec_t *specs,
                                       size_t n, const char *base_dir, char *errstr,
                                       size_t errstr_size) {
    for (size_t i = 0; i < n; i++) {
        specs[i].budget_ms = (unsigned)pc->transform_budget_ms;
        specs[i].memory_bytes = (size_t)pc->transform_memory_mb << 20;
    }
    rc_transform_chain_t *chain = rc_transform_chain_new(
        pc->name, specs, n, base_dir, pc->on_error == 1 ? RC_ON_ERROR_SKIP : RC_ON_ERROR_FAIL,
        errstr, errstr_size);
    if (chain && pc->on_error == 2 &&
        rc_transform_chain_set_dead_letter(chain, pc->dead_letter_topic, errstr, errstr_size) !=
            RC_OK) {
        rc_transform_chain_destroy(chain);
        chain = NULL;
    }
    return chain;
}

/* Compiles the pipeline's scripts (at --check too); relative files are found next to the
 * config file. */
static rc_transform_chain_t *new_transforms(const rc_config_t *conf, const rc_pipeline_config_t *pc,
                                            char *errstr, size_t errstr_size) {
    rc_transform_spec_t *specs = calloc(pc->n_transforms, sizeof(*specs));
    char *dir = strdup(conf->path ? conf->path : ".");
    rc_transform_chain_t *chain = NULL;
    if (!specs || !dir) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < pc->n_transforms; i++) {
            specs[i] = (rc_transform_spec_t){.engine = pc->transforms[i].engine,
                                             .file = pc->transforms[i].file,
                                             .match_schema = pc->transforms[i].match_schema,
                                             .match_table = pc->transforms[i].match_table};
        }
        chain = chain_new(pc, specs, pc->n_transforms, dirname(dir), errstr, errstr_size);
    }
    free(specs);
    free(dir);
    return chain;
}

rc_transform_chain_t *rc_pipeline_transforms_new(const rc_pipeline_config_t *pc,
                                                 rc_transform_spec_t *specs, size_t n, char *errstr,
                                                 size_t errstr_size) {
    return chain_new(pc, specs, n, NULL, errstr, errstr_size); /* sources: files only name */
}

void rc_pipeline_set_transforms(rc_pipeline_t *p, rc_transform_chain_t *chain) {
    pthread_mutex_lock(&p->lock);
    rc_transform_chain_t *old = atomic_load(&p->swap_transforms) ? p->next_transforms : NULL;
    p->next_transforms = chain;
    atomic_store(&p->swap_transforms, true);
    pthread_mutex_unlock(&p->lock);
    rc_transform_chain_destroy(old); /* replaced before the worker took it */
}

/* At a batch boundary: takes the chain rc_pipeline_set_transforms left, if any, keeping the
 * counts of the old one. @thread worker */
static void swap_transforms(rc_pipeline_t *p) {
    if (!atomic_load_explicit(&p->swap_transforms, memory_order_acquire)) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    rc_transform_chain_t *next = p->next_transforms;
    p->next_transforms = NULL;
    atomic_store(&p->swap_transforms, false);
    pthread_mutex_unlock(&p->lock);
    if (p->transforms) {
        rc_transform_stats_t st;
        rc_transform_chain_get_stats(p->transforms, &st);
        p->xf_base[0] += st.dropped;
        p->xf_base[1] += st.errors;
        p->xf_base[2] += st.dead_lettered;
        rc_transform_chain_destroy(p->transforms);
    }
    p->transforms = next;
    atomic_store(&p->vm_bytes, next ? (uint_fast64_t)rc_transform_chain_memory(next) : 0);
    rc_info("pipeline", "pipeline %s: new transforms in force from this transaction on",
            p->pc->name);
}

rc_pipeline_t *rc_pipeline_new(const rc_config_t *conf, const rc_pipeline_config_t *pconf,
                               char *errstr, size_t errstr_size) {
    rc_pipeline_t *p = calloc(1, sizeof(*p));
    if (!p) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    p->conf = conf;
    p->pc = pconf;
    p->stop_fd = -1;
    p->tk_open = NO_TICKET;
    p->eos = pconf->delivery == RC_DELIVERY_EXACTLY_ONCE;
    rc_hist_init(&p->latency, rc_hist_latency_bounds, rc_hist_latency_n);
    rc_hist_init(&p->transform_time, rc_hist_duration_bounds, rc_hist_duration_n);
    pthread_mutex_init(&p->lock, NULL);
    if (compile_patterns(pconf->source.include, pconf->source.n_include, &p->include, pconf->name,
                         "source.include", errstr, errstr_size) != RC_OK) {
        goto fail;
    }
    p->n_include = pconf->source.n_include;
    if (compile_patterns(pconf->source.exclude, pconf->source.n_exclude, &p->exclude, pconf->name,
                         "source.exclude", errstr, errstr_size) != RC_OK) {
        goto fail;
    }
    p->n_exclude = pconf->source.n_exclude;
    if (pconf->n_transforms > 0 &&
        !(p->transforms = new_transforms(conf, pconf, errstr, errstr_size))) {
        goto fail;
    }
    atomic_store(&p->vm_bytes,
                 p->transforms ? (uint_fast64_t)rc_transform_chain_memory(p->transforms) : 0);
    p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    p->queue = rc_queue_new((size_t)(pconf->queue_batches > 0 ? pconf->queue_batches : 16));
    p->tables_read = rc_table_stats_new();
    p->tables = rc_table_stats_new();
    if (p->stop_fd < 0 || !p->queue || !p->tables_read || !p->tables) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: cannot allocate its queue",
                  pconf->name);
        goto fail;
    }
    return p;
fail:
    rc_pipeline_destroy(p);
    return NULL;
}

/* Waits up to seconds, waking early on stop. Returns true when stopping. */
static bool sleep_or_stop(rc_pipeline_t *p, int seconds) {
    struct pollfd pfd = {.fd = p->stop_fd, .events = POLLIN};
    poll(&pfd, 1, seconds * 1000);
    return p->stop;
}

static int interval_ms(const rc_pipeline_t *p) {
    return p->conf->state.interval_ms > 0 ? p->conf->state.interval_ms : 1000;
}

static int interval_tx(const rc_pipeline_t *p) {
    return p->conf->state.interval_transactions > 0 ? p->conf->state.interval_transactions : 10000;
}

/* Hands the batch to the worker and returns a fresh one (NULL when out of memory or the
 * queue is closed). A batch without events is handed over only when `carry` asks for it and
 * it ends a transaction: it carries the position past transactions that produced nothing. */
static rc_batch_t *hand_over(rc_pipeline_t *p, rc_batch_t *b, bool carry) {
    /* A batch of transactions without events for us is kept (their GTIDs count) until carry. */
    if (b->n_events == 0 && !(carry && b->n_bounds > 0)) {
        b->buf.size = 0;
        return b;
    }
    p->last_push_ns = now_ns();
    if (p->executed && p->executed_known && b->has_commit) {
        rc_buf_t t = RC_BUF_INIT;
        if (rc_gtid_set_format(p->executed, &t) == RC_OK && rc_buf_putc(&t, '\0') == RC_OK) {
            pthread_mutex_lock(&p->lock);
            free(p->executed_text);
            p->executed_text = t.data;
            pthread_mutex_unlock(&p->lock);
        } else {
            rc_buf_free(&t);
        }
    }
    if (p->eos) { /* the events after its last commit open the next transaction */
        uint64_t open = b->has_commit ? b->n_events - b->commit_events : b->n_events;
        p->tx_sent = b->has_commit ? open : p->tx_sent + open;
    }
    /* Copied before the push: from then on the worker owns b. */
    rc_pipeline_position_t at;
    bool has_commit = b->has_commit;
    if (has_commit) {
        snprintf(at.file, sizeof(at.file), "%s", b->commit_file);
        at.pos = b->commit_pos;
        snprintf(at.gtid, sizeof(at.gtid), "%s", b->commit_gtid);
    }
    if (!rc_queue_push(p->queue, b)) {
        rc_batch_destroy(b);
        return NULL;
    }
    atomic_fetch_add(&p->batches, 1);
    if (has_commit) {
        pthread_mutex_lock(&p->lock);
        p->position = at;
        pthread_mutex_unlock(&p->lock);
    }
    return rc_batch_new();
}

/* Streams from one connection until stop, error or end. Returns RC_ERR_STOPPED on stop,
 * RC_ERR_IO for connection trouble worth a retry, anything else for a fatal error. */
static rc_err_t stream(rc_pipeline_t *p, rc_mysql_t *m, rc_binlog_t *dec, rc_batch_t **bp,
                       resume_t *resume, char *errstr, size_t errstr_size) {
    const rc_pipeline_config_t *pc = p->pc;
    int64_t max_ns = (int64_t)pc->batch_max_ms * 1000000LL;
    int idle_ms = (int)(pc->source.read_timeout_s * 1000);
    int fd = rc_mysql_fd(m);
    bool in_tx = false; /* a connection starts at a transaction boundary */
    for (;;) {
        rc_batch_t *b = *bp;
        if (p->stop) {
            return RC_ERR_STOPPED;
        }
        /* A pause takes effect between transactions only, so resuming there loses nothing. */
        if (!in_tx && atomic_load_explicit(&p->pause_req, memory_order_relaxed)) {
            return RC_ERR_STOPPED;
        }
        if (!rc_mysql_has_buffered(m)) {
            int timeout = idle_ms;
            if (b->n_events > 0) {
                int64_t left = b->first_ns + max_ns - now_ns();
                timeout = left > 0 ? (int)(left / 1000000LL) + 1 : 0;
            } else if (p->eos && b->n_bounds > 0) {
                /* exactly_once: transactions that ended wait in no batch for the next event */
                timeout = pc->batch_max_ms;
            }
            struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
                                    {.fd = p->stop_fd, .events = POLLIN}};
            int r = poll(pfd, 2, timeout);
            if (r < 0 && errno != EINTR) {
                return rc_seterr(errstr, errstr_size, RC_ERR_IO, "poll failed: %s",
                                 strerror(errno));
            }
            if (pfd[1].revents) {
                uint64_t drained;
                ssize_t rd = read(p->stop_fd, &drained, sizeof(drained));
                (void)rd;
                if (p->stop || (!in_tx && atomic_load(&p->pause_req))) {
                    return RC_ERR_STOPPED;
                }
                continue; /* a pause waits for the end of the transaction */
            }
            if (r == 0) {
                if (b->n_events > 0 || (p->eos && b->n_bounds > 0)) {
                    /* the stream is quiet: send what we have (with exactly_once also the ends
                     * of transactions, which the worker commits) */
                    if (!(*bp = hand_over(p, b, p->eos))) {
                        return RC_ERR_STOPPED;
                    }
                    continue;
                }
                return rc_seterr(errstr, errstr_size, RC_ERR_IO,
                                 "%s: no event and no heartbeat for %d ms", rc_mysql_endpoint(m),
                                 idle_ms);
            }
        }
        const uint8_t *ev;
        size_t len;
        rc_err_t err = rc_mysql_read_event(m, &ev, &len, errstr, errstr_size);
        if (err == RC_ERR_EOF) {
            return rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s ended the binlog stream",
                             rc_mysql_endpoint(m));
        }
        if (err != RC_OK) {
            return RC_ERR_IO;
        }
        atomic_fetch_add(&p->bytes_read, len);
        /* A script replaced over REST takes over at a transaction boundary, which the worker
         * sees only where a batch starts: while one waits, a batch that ends with a
         * transaction goes before the next event is added, so every event read after the
         * replacement runs under the new script. */
        if (!in_tx && b->n_bounds > 0 && b->bounds[b->n_bounds - 1].events == b->n_events &&
            atomic_load_explicit(&p->swap_transforms, memory_order_relaxed)) {
            if (!(*bp = hand_over(p, b, true))) {
                return RC_ERR_STOPPED;
            }
            b = *bp;
        }
        rc_binlog_info_t info;
        size_t at = b->buf.size;
        rc_binlog_direct_sbuffer(dec, &b->buf); /* rows straight into the batch, no copy */
        err = rc_binlog_feed(dec, ev, len, &b->pk, &info, errstr, errstr_size);
        if (err != RC_OK) {
            return err; /* a bad event: fatal until error policies exist */
        }
        /* exactly_once: after a reconnect inside a transaction, the worker already has its
         * first tx_sent events (in the open Kafka transaction): they are read again, not sent
         * again. Rows events are read whole, so the counts meet at an event boundary. */
        if (p->eos && info.rows > 0 && p->tx_pos < p->tx_sent) {
            p->tx_pos += info.rows;
            if (p->tx_pos > p->tx_sent) {
                return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                                 "pipeline %s: after reconnecting inside a transaction, %s:%llu "
                                 "did not decode to the %llu events read before",
                                 pc->name, rc_binlog_file(dec),
                                 (unsigned long long)rc_binlog_pos(dec),
                                 (unsigned long long)p->tx_sent);
            }
            b->buf.size = at;
            info.rows = 0;
        } else if (p->eos) {
            p->tx_pos += info.rows;
        }
        if (p->eos && info.commit) {
            if (p->tx_pos < p->tx_sent) {
                return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                                 "pipeline %s: after reconnecting inside a transaction, it ended "
                                 "at %s:%llu after %llu events, but %llu were read before",
                                 pc->name, rc_binlog_file(dec),
                                 (unsigned long long)rc_binlog_pos(dec),
                                 (unsigned long long)p->tx_pos, (unsigned long long)p->tx_sent);
            }
            p->tx_pos = p->tx_sent = 0;
        }
        if (info.begin) {
            in_tx = true;
        }
        if ((info.rows > 0 || info.commit) && info.header.timestamp != 0) {
            atomic_store_explicit(&p->last_event_ts, info.header.timestamp, memory_order_relaxed);
        }
        if (info.rows > 0) {
            if (b->n_events == 0) {
                b->first_ns = now_ns();
            }
            b->n_events += (uint32_t)info.rows;
            atomic_fetch_add(&p->events_read, (uint64_t)info.rows);
            /* the rows of a rows event share its table and action; a transaction payload holds
             * a whole transaction's events */
            rc_table_stats_count(p->tables_read, (const uint8_t *)b->buf.data + at,
                                 b->buf.size - at, (uint32_t)info.rows,
                                 info.header.type != RC_EV_TRANSACTION_PAYLOAD, RC_TABLE_READ);
        }
        if (info.commit) {
            in_tx = false;
            atomic_fetch_add(&p->transactions, 1);
            const char *gtid = rc_binlog_gtid(dec);
            if (gtid[0] && p->executed &&
                rc_gtid_set_add(p->executed, gtid, errstr, errstr_size) != RC_OK) {
                return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                                 "%s sent GTID \"%s\" at %s:%llu that cannot be added to the "
                                 "executed set",
                                 rc_mysql_endpoint(m), gtid, rc_binlog_file(dec),
                                 (unsigned long long)rc_binlog_pos(dec));
            }
            if (rc_batch_add_bound(b, rc_binlog_file(dec), rc_binlog_pos(dec),
                                   info.header.timestamp, gtid) != RC_OK) {
                return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM,
                                 "out of memory (or GTID \"%s\" longer than %d characters)", gtid,
                                 RC_BATCH_GTID_MAX - 1);
            }
            b->has_commit = true;
            b->commit_off = b->buf.size;
            b->commit_events = b->n_events;
            snprintf(b->commit_file, sizeof(b->commit_file), "%s", rc_binlog_file(dec));
            b->commit_pos = rc_binlog_pos(dec);
            snprintf(b->commit_gtid, sizeof(b->commit_gtid), "%s", rc_binlog_gtid(dec));
        }
        /* A GTID start keeps reconnecting by GTID until a boundary gives a file position (the
         * server's first rotate names the file but not where the start transaction is). */
        if ((info.commit || (info.rotate && !resume->gtid_mode)) && !info.begin) {
            snprintf(resume->file, sizeof(resume->file), "%s", rc_binlog_file(dec));
            resume->pos = rc_binlog_pos(dec);
            resume->known = resume->pos >= 4;
            resume->gtid_mode = false;
        }
        /* exactly_once: the worker can commit only where a batch ends with a transaction, and
         * a full batch usually ends inside one: end one at a commit every state.interval_ms or
         * state.interval_transactions. */
        if (p->eos && info.commit &&
            (++p->aligned_tx >= (uint64_t)interval_tx(p) ||
             now_ns() - p->aligned_ns >= (int64_t)interval_ms(p) * 1000000LL)) {
            p->aligned_tx = 0;
            p->aligned_ns = now_ns();
            if (!(*bp = hand_over(p, b, true))) {
                return RC_ERR_STOPPED;
            }
            continue;
        }
        if (b->n_events >= (uint32_t)pc->batch_max_events ||
            (b->n_events > 0 && (b->n_bounds >= 4096 || now_ns() - b->first_ns >= max_ns))) {
            if (!(*bp = hand_over(p, b, false))) {
                return RC_ERR_STOPPED;
            }
        } else if (info.commit && b->n_events == 0 &&
                   (b->n_bounds >= 4096 ||
                    now_ns() - p->last_push_ns >= (int64_t)interval_ms(p) * 1000000LL)) {
            /* transactions without events for us: let the position move on now and then */
            if (!(*bp = hand_over(p, b, true))) {
                return RC_ERR_STOPPED;
            }
        }
    }
}

static bool is_retryable(rc_err_t err) {
    return err == RC_ERR_IO || err == RC_ERR_CONNECT;
}

/* Waits, disconnected, until resumed or stopped. @thread reader */
static void wait_while_paused(rc_pipeline_t *p) {
    set_state(p, RC_PIPELINE_PAUSED, NULL);
    rc_info("pipeline", "pipeline %s: paused at %s:%llu", p->pc->name, p->resume.file,
            (unsigned long long)p->resume.pos);
    while (atomic_load(&p->pause_req) && !p->stop) {
        struct pollfd pfd = {.fd = p->stop_fd, .events = POLLIN};
        poll(&pfd, 1, 1000);
        uint64_t drained;
        ssize_t rd = read(p->stop_fd, &drained, sizeof(drained));
        (void)rd;
    }
    if (!p->stop) {
        set_state(p, RC_PIPELINE_STARTING, "resuming");
    }
}

/* opts.column_names: names from information_schema when the binlog has none
 * (binlog_row_metadata is not FULL), over a second connection. @thread reader */
static rc_err_t column_names(void *opaque, const char *schema, const char *table, uint32_t ncols,
                             rc_buf_t *names, uint32_t *n, rc_buf_t *pk, char *errstr,
                             size_t errstr_size) {
    rc_pipeline_t *p = opaque;
    if (!p->meta && !(p->meta = rc_mysql_connect(&p->pc->source, errstr, errstr_size))) {
        return RC_ERR_CONNECT;
    }
    rc_err_t err = rc_mysql_column_names(p->meta, schema, table, names, n, pk, errstr, errstr_size);
    if (err != RC_OK) {
        rc_mysql_destroy(p->meta);
        p->meta = NULL;
        return err;
    }
    if (*n != ncols) {
        rc_warn("source",
                "pipeline %s: %s.%s has %u columns in information_schema but %u in the binlog "
                "(it changed after these rows were written): its columns are named col_1, "
                "col_2, ... until the next DDL statement in the binlog",
                p->pc->name, schema, table, *n, ncols);
    }
    return RC_OK;
}

/* Learns the source's flavor and identity and makes the executed set of that flavor; a set
 * of the other flavor (the server changed under the pipeline) is an error. @thread reader */
static rc_err_t identify(rc_pipeline_t *p, rc_mysql_t *m, char *errstr, size_t errstr_size) {
    rc_gtid_flavor_t f = rc_mysql_is_mariadb(m) ? RC_GTID_MARIADB : RC_GTID_MYSQL;
    uint32_t sid = 0;
    char uuid[64] = "";
    rc_err_t err = rc_mysql_server_identity(m, &sid, uuid, sizeof(uuid), errstr, errstr_size);
    if (err != RC_OK) {
        return err;
    }
    if (p->executed && rc_gtid_set_flavor(p->executed) != f) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "pipeline %s: %s is %s, but the pipeline read from a %s server before",
                         p->pc->name, rc_mysql_endpoint(m),
                         f == RC_GTID_MARIADB ? "MariaDB" : "MySQL",
                         f == RC_GTID_MARIADB ? "MySQL" : "MariaDB");
    }
    if (!p->executed && !(p->executed = rc_gtid_set_new(f))) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&p->lock);
    snprintf(p->ident.flavor, sizeof(p->ident.flavor), "%s",
             f == RC_GTID_MARIADB ? "mariadb" : "mysql");
    snprintf(p->ident.server_uuid, sizeof(p->ident.server_uuid), "%s", uuid);
    p->ident.server_id = sid;
    pthread_mutex_unlock(&p->lock);
    return RC_OK;
}

/* Reads the pipeline's stored position once. Kafka trouble is worth a retry. @thread reader */
static rc_err_t load_state(rc_pipeline_t *p, char *errstr, size_t errstr_size) {
    bool found = false;
    rc_state_record_clear(&p->saved);
    rc_err_t err = rc_state_ensure_topic(p->store, errstr, errstr_size);
    if (err == RC_OK) {
        err = rc_state_load(p->store, &p->saved, &found, 30000, errstr, errstr_size);
    }
    if (err == RC_ERR_KAFKA) {
        return RC_ERR_IO;
    }
    if (err != RC_OK) {
        return err;
    }
    p->state_checked = true;
    p->have_saved = found;
    if (found) {
        rc_info("state", "pipeline %s: resuming from its stored position %s:%llu, GTID set [%s]",
                p->pc->name, p->saved.binlog_file, (unsigned long long)p->saved.binlog_pos,
                p->saved.gtid_set);
    } else {
        rc_info("state", "pipeline %s: no stored position in %s; starting at %s", p->pc->name,
                rc_state_topic(p->store), p->pc->source.start ? p->pc->source.start : "earliest");
    }
    return RC_OK;
}

/* The executed set at file:pos. MariaDB: BINLOG_GTID_POS, or the set at the start of the file
 * when pos is not an event boundary. MySQL: the file's PREVIOUS_GTIDS and the GTIDs before pos,
 * read from the file (empty without gtid_mode: positions then resume by file and position). */
static rc_err_t executed_at(rc_pipeline_t *p, rc_mysql_t *m, const rc_mysql_position_t *pos,
                            char *errstr, size_t errstr_size) {
    p->executed_known = true;
    if (!rc_mysql_is_mariadb(m)) {
        return rc_mysql_gtid_at_mysql(&p->pc->source, pos->file, pos->pos, p->executed, errstr,
                                      errstr_size);
    }
    char state[8192];
    rc_err_t err =
        rc_mysql_gtid_at(m, pos->file, pos->pos, state, sizeof(state), errstr, errstr_size);
    if (err == RC_OK && state[0] == '\0' && pos->pos > 4) {
        err = rc_mysql_gtid_at(m, pos->file, 4, state, sizeof(state), errstr, errstr_size);
    }
    if (err == RC_OK) {
        err = rc_gtid_set_parse(p->executed, state, errstr, errstr_size);
    }
    return err;
}

/* The stored position: the GTID set when it has one, else file:pos. @thread reader */
static rc_err_t start_from_saved(rc_pipeline_t *p, rc_mysql_t *m, rc_mysql_position_t *pos,
                                 bool *by_gtid, char *errstr, size_t errstr_size) {
    const rc_state_record_t *r = &p->saved;
    const char *flavor = rc_mysql_is_mariadb(m) ? "mariadb" : "mysql";
    if (strcmp(r->flavor, flavor) != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "pipeline %s: the stored position was taken on a %s server but %s is "
                         "%s; delete the pipeline's state record to start afresh",
                         p->pc->name, r->flavor, rc_mysql_endpoint(m), flavor);
    }
    pthread_mutex_lock(&p->lock);
    bool other =
        r->server_id != p->ident.server_id || strcmp(r->server_uuid, p->ident.server_uuid) != 0;
    uint32_t now_id = p->ident.server_id;
    pthread_mutex_unlock(&p->lock);
    if (other) {
        /* a failover keeps GTIDs meaningful; a file position of another server is not */
        rc_warn("state",
                "pipeline %s: the stored position was taken on server id %u %s, %s is server id "
                "%u; %s",
                p->pc->name, (unsigned)r->server_id, r->server_uuid, rc_mysql_endpoint(m),
                (unsigned)now_id,
                r->gtid_set && r->gtid_set[0] ? "resuming by its GTID set"
                                              : "its file position may not be valid there");
    }
    snprintf(pos->file, sizeof(pos->file), "%s", r->binlog_file);
    pos->pos = r->binlog_pos;
    if (r->gtid_set && r->gtid_set[0]) {
        rc_err_t err = rc_gtid_set_parse(p->executed, r->gtid_set, errstr, errstr_size);
        if (err != RC_OK) {
            return err;
        }
        *by_gtid = true;
        p->executed_known = true;
    } else if (rc_mysql_is_mariadb(m)) {
        return executed_at(p, m, pos, errstr, errstr_size);
    }
    return RC_OK;
}

/* A start form: source.start when there is no stored position, or a seek over REST.
 * @thread reader */
static rc_err_t start_from_spec(rc_pipeline_t *p, rc_mysql_t *m, const char *spec,
                                rc_mysql_position_t *pos, bool *by_gtid, char *errstr,
                                size_t errstr_size) {
    rc_start_t st;
    rc_err_t err = rc_start_parse(spec, &st, errstr, errstr_size);
    if (err != RC_OK) {
        return err;
    }
    switch (st.kind) {
    case RC_START_GTID:
        err = rc_gtid_set_merge(p->executed, st.gtid);
        if (err == RC_ERR_INVALID) {
            err = rc_seterr(errstr, errstr_size, err,
                            "pipeline %s: source.start is a %s GTID set but %s is %s", p->pc->name,
                            rc_gtid_set_flavor(st.gtid) == RC_GTID_MARIADB ? "MariaDB" : "MySQL",
                            rc_mysql_endpoint(m), rc_mysql_is_mariadb(m) ? "MariaDB" : "MySQL");
        }
        *by_gtid = true;
        p->executed_known = true;
        break;
    case RC_START_TIMESTAMP:
        err = rc_mysql_find_time(&p->pc->source, st.time, pos, errstr, errstr_size);
        if (err == RC_OK) {
            err = executed_at(p, m, pos, errstr, errstr_size);
        }
        break;
    case RC_START_EARLIEST:
    case RC_START_LATEST:
    case RC_START_FILE:
        err = rc_mysql_resolve_start(m, spec, pos, errstr, errstr_size);
        if (err == RC_OK) {
            err = executed_at(p, m, pos, errstr, errstr_size);
        }
        break;
    }
    rc_start_clear(&st);
    return err;
}

static void *reader_main(void *arg) {
    rc_pipeline_t *p = arg;
    const rc_pipeline_config_t *pc = p->pc;
    char errstr[1024];
    resume_t *resume = &p->resume;
    int backoff = 1;
    rc_batch_t *batch = rc_batch_new();
    rc_binlog_opts_t opts;
    rc_binlog_opts_init(&opts);
    p->base_sent = false;
    opts.pipeline = pc->name;
    opts.topic_template = pc->sink.topic;
    opts.include = include_table;
    opts.column_names = column_names;
    opts.opaque = p;
    opts.geometry_geojson = pc->source.geometry == 1;

    while (!p->stop && batch) {
        if (atomic_load(&p->pause_req)) {
            /* The batch ends at a transaction boundary here: hand it over, then wait. */
            if (!(batch = hand_over(p, batch, true))) {
                break;
            }
            wait_while_paused(p);
            continue;
        }
        rc_err_t err;
        rc_binlog_t *dec = NULL;
        rc_mysql_t *m = rc_mysql_connect(&pc->source, errstr, sizeof(errstr));
        if (!m) {
            err = RC_ERR_CONNECT;
            goto retry;
        }
        if ((err = rc_mysql_prepare_replication(m, pc->source.heartbeat_s, errstr,
                                                sizeof(errstr))) != RC_OK) {
            goto retry;
        }
        rc_mysql_position_t pos = {"", 4};
        bool by_gtid = false;
        if ((err = identify(p, m, errstr, sizeof(errstr))) != RC_OK) {
            goto retry;
        }
        /* exactly_once: fence older instances (and let their open transaction be aborted)
         * before the position is read, so that the one read is the last committed one. */
        if (p->eos && !p->txn_ready) {
            if ((err = rc_kafka_txn_init(p->kafka, 30000, errstr, sizeof(errstr))) != RC_OK) {
                err = err == RC_ERR_IO ? RC_ERR_IO : RC_ERR_KAFKA;
                goto retry;
            }
            p->txn_ready = true;
        }
        if (!resume->known && !p->state_checked &&
            (err = load_state(p, errstr, sizeof(errstr))) != RC_OK) {
            goto retry;
        }
        if (resume->known) {
            by_gtid = resume->gtid_mode;
            snprintf(pos.file, sizeof(pos.file), "%s", resume->file);
            pos.pos = resume->pos;
        } else if (p->have_saved && !p->seek[0]) {
            err = start_from_saved(p, m, &pos, &by_gtid, errstr, sizeof(errstr));
        } else {
            const char *spec = p->seek[0]            ? p->seek
                               : p->pc->source.start ? p->pc->source.start
                                                     : "earliest";
            err = start_from_spec(p, m, spec, &pos, &by_gtid, errstr, sizeof(errstr));
        }
        if (err != RC_OK) {
            goto retry;
        }
        /* Never skip silently: the server must still have everything after the start. */
        err = by_gtid ? rc_mysql_check_gtid(m, p->executed, errstr, sizeof(errstr))
                      : rc_mysql_check_file_pos(m, pos.file, pos.pos, errstr, sizeof(errstr));
        if (err != RC_OK) {
            goto retry;
        }
        if (!p->base_sent) {
            /* The worker's acknowledged set starts from the set before the first transaction. */
            p->base_sent = true;
            rc_buf_t t = RC_BUF_INIT;
            if (p->executed_known &&
                (rc_gtid_set_format(p->executed, &t) != RC_OK || rc_buf_putc(&t, '\0') != RC_OK)) {
                rc_buf_free(&t);
                snprintf(errstr, sizeof(errstr), "out of memory");
                err = RC_ERR_NOMEM;
                goto retry;
            }
            free(batch->gtid_base);
            batch->gtid_base = t.data;
            batch->gtid_base_flavor = (int)rc_gtid_set_flavor(p->executed);
        }
        if (!resume->known) {
            /* "latest" and "timestamp" must not move on a reconnect before the first commit */
            snprintf(resume->file, sizeof(resume->file), "%s", pos.file);
            resume->pos = pos.pos;
            resume->known = true;
            resume->gtid_mode = by_gtid;
            p->seek[0] = '\0'; /* a seek is done once the stream starts there */
        }
        dec = rc_binlog_new(&opts);
        if (!dec || rc_binlog_set_position(dec, pos.file, pos.pos) != RC_OK) {
            snprintf(errstr, sizeof(errstr), "out of memory");
            err = RC_ERR_NOMEM;
            goto retry;
        }
        err = by_gtid
                  ? rc_mysql_dump_gtid(m, p->executed, pc->source.server_id, errstr, sizeof(errstr))
                  : rc_mysql_dump(m, &pos, pc->source.server_id, 0, errstr, sizeof(errstr));
        if (err != RC_OK) {
            goto retry;
        }
        if (by_gtid) {
            rc_buf_t cs = RC_BUF_INIT;
            rc_gtid_set_format_connect(p->executed, &cs);
            snprintf(pos.file, sizeof(pos.file), "GTID state [%.*s]", (int)cs.len,
                     cs.data ? cs.data : "");
            rc_buf_free(&cs);
            pos.pos = 0;
        }
        if (by_gtid) {
            rc_info("source", "pipeline %s: streaming from %s (%s) after %s", pc->name,
                    rc_mysql_endpoint(m), rc_mysql_server_version(m), pos.file);
        } else {
            rc_info("source", "pipeline %s: streaming from %s (%s) at %s:%llu", pc->name,
                    rc_mysql_endpoint(m), rc_mysql_server_version(m), pos.file,
                    (unsigned long long)pos.pos);
        }
        set_state(p, RC_PIPELINE_RUNNING, NULL);
        backoff = 1;
        p->tx_pos = 0; /* a connection starts at a transaction boundary */
        if (p->eos && p->tx_sent > 0) {
            rc_info("source",
                    "pipeline %s: reconnected inside a transaction; its first %llu events, "
                    "already in the open Kafka transaction, are read again but not sent",
                    pc->name, (unsigned long long)p->tx_sent);
        }
        err = stream(p, m, dec, &batch, resume, errstr, sizeof(errstr));
    retry:
        rc_binlog_destroy(dec);
        rc_mysql_destroy(m);
        if (p->stop) {
            break;
        }
        if (err == RC_ERR_STOPPED) {
            continue; /* paused: the top of the loop waits */
        }
        if (!is_retryable(err)) {
            fail(p, errstr);
            break;
        }
        /* The next connection resumes at the last transaction boundary; drop the partial
         * transaction we hold so it is not sent twice. */
        if (batch) {
            rc_batch_truncate_to_commit(batch);
        }
        atomic_fetch_add(&p->reconnects, 1);
        rc_warn("source", "pipeline %s: %s; reconnecting in %d s", pc->name, errstr, backoff);
        set_state(p, RC_PIPELINE_RESTARTING, errstr);
        if (sleep_or_stop(p, backoff)) {
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
    }
    rc_mysql_destroy(p->meta);
    p->meta = NULL;
    /* Whatever was decoded goes to Kafka before the worker ends; with exactly_once only whole
     * transactions (a part would be committed, then sent again after the stored position). */
    if (batch && p->eos) {
        rc_batch_truncate_to_commit(batch);
    }
    if (batch) {
        batch = hand_over(p, batch, true);
        rc_batch_destroy(batch);
    }
    rc_queue_close(p->queue);
    return NULL;
}

/* Runs the batch through the pipeline's transforms, which rewrite it in place; the last
 * transaction boundary moves with the events it covers. @thread worker */
static rc_err_t run_transforms(rc_pipeline_t *p, rc_batch_t *b, char *errstr, size_t errstr_size) {
    if (!p->transforms) {
        return RC_OK;
    }
    uint32_t mark = b->commit_events;
    size_t mark_off = 0;
    int64_t t0 = now_ns();
    rc_err_t err = rc_transform_chain_run(p->transforms, &b->buf, &b->n_events, &mark, &mark_off,
                                          errstr, errstr_size);
    rc_hist_observe_us(&p->transform_time, (now_ns() - t0) / 1000);
    if (b->has_commit) {
        b->commit_events = mark;
        b->commit_off = mark_off;
    }
    rc_transform_stats_t st;
    rc_transform_chain_get_stats(p->transforms, &st);
    atomic_store(&p->events_dropped, p->xf_base[0] + st.dropped);
    atomic_store(&p->events_skipped, p->xf_base[1] + st.errors);
    atomic_store(&p->events_dead_lettered, p->xf_base[2] + st.dead_lettered);
    atomic_store(&p->vm_bytes, (uint_fast64_t)rc_transform_chain_memory(p->transforms));
    return err;
}

/* ---- tickets and checkpoints (worker) ---- */

static ticket_t *ticket_at(rc_pipeline_t *p, uint64_t id) {
    return &p->tk[id % p->tk_cap];
}

/* Opens the ticket of the next transaction; returns its id, or NO_TICKET when out of memory. */
static uint64_t ticket_open(rc_pipeline_t *p) {
    if (p->tk_tail - p->tk_head == p->tk_cap) {
        size_t cap = p->tk_cap ? p->tk_cap * 2 : 256;
        ticket_t *n = calloc(cap, sizeof(*n));
        if (!n) {
            return NO_TICKET;
        }
        for (uint64_t id = p->tk_head; id < p->tk_tail; id++) {
            n[id % cap] = p->tk[id % p->tk_cap];
        }
        free(p->tk);
        p->tk = n;
        p->tk_cap = cap;
    }
    uint64_t id = p->tk_tail++;
    memset(ticket_at(p, id), 0, sizeof(ticket_t));
    return id;
}

/* A message's opaque carries its ticket and its commit time without an allocation: the low 32
 * bits are (ticket id + 1) mod 2^32 (never 0 for a ticket, and fewer than 2^32 tickets are
 * ever outstanding, so the full id is found from tk_head), the high 32 bits the commit time in
 * seconds since the epoch (0 = unknown; 32 bits last until 2106). */
_Static_assert(sizeof(void *) >= sizeof(uint64_t), "message opaques need 64 bits");

static void *msg_opaque_of(uint64_t id, uint64_t commit_ts) {
    uint64_t low = (uint32_t)(id + 1);
    return (void *)(uintptr_t)((commit_ts <= UINT32_MAX ? commit_ts << 32 : 0) | low);
}

/* A message of a ticket was acknowledged or given up. Failures need no count: the sink is
 * failed then and the ticket never completes. Each acknowledgement also records the event's
 * commit-to-acknowledgement latency. @thread worker */
static void on_delivery(void *opaque, void *msg_opaque, bool delivered) {
    rc_pipeline_t *p = opaque;
    uint64_t v = (uint64_t)(uintptr_t)msg_opaque;
    uint32_t low = (uint32_t)v;
    uint64_t commit_ts = v >> 32;
    if (!delivered || low == 0) {
        return;
    }
    uint64_t id = p->tk_head + (uint32_t)(low - 1 - (uint32_t)p->tk_head);
    if (id < p->tk_tail) {
        ticket_at(p, id)->acked++;
    }
    if (commit_ts) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        rc_hist_observe_us(&p->latency, ((int64_t)now.tv_sec - (int64_t)commit_ts) * 1000000 +
                                            now.tv_nsec / 1000);
    }
}

/* The worker's index of a binlog file name (tickets keep indexes, not names). */
static rc_err_t intern_file(rc_pipeline_t *p, const char *name, uint32_t *out) {
    if (p->n_wfiles == 0 || strcmp(p->wfiles[p->n_wfiles - 1], name) != 0) {
        char **n = realloc(p->wfiles, (p->n_wfiles + 1) * sizeof(char *));
        if (!n) {
            return RC_ERR_NOMEM;
        }
        p->wfiles = n;
        if (!(p->wfiles[p->n_wfiles] = strdup(name))) {
            return RC_ERR_NOMEM;
        }
        p->n_wfiles++;
    }
    *out = p->n_wfiles - 1;
    return RC_OK;
}

/* The transaction in progress ends at bound: seal its ticket (one without messages when none
 * was produced) with its position. */
static rc_err_t ticket_seal(rc_pipeline_t *p, const rc_batch_t *b, const rc_batch_bound_t *x) {
    if (p->tk_open == NO_TICKET && (p->tk_open = ticket_open(p)) == NO_TICKET) {
        return RC_ERR_NOMEM;
    }
    ticket_t *t = ticket_at(p, p->tk_open);
    if (intern_file(p, b->files[x->file], &t->file) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    t->pos = x->pos;
    t->commit_ts = x->commit_ts;
    memcpy(t->gtid, x->gtid, sizeof(t->gtid));
    t->sealed = true;
    p->tk_open = NO_TICKET;
    return RC_OK;
}

/* Moves past every fully acknowledged transaction at the front; the newest becomes the
 * position to save, and their GTIDs join the acknowledged set. */
static rc_err_t tickets_advance(rc_pipeline_t *p, char *errstr, size_t errstr_size) {
    while (p->tk_head < p->tk_tail) {
        ticket_t *t = ticket_at(p, p->tk_head);
        if (!t->sealed || t->acked < t->produced) {
            break;
        }
        if (p->acked_set && t->gtid[0] &&
            rc_gtid_set_add(p->acked_set, t->gtid, errstr, errstr_size) != RC_OK) {
            return RC_ERR_INVALID;
        }
        snprintf(p->pending.binlog_file, sizeof(p->pending.binlog_file), "%s", p->wfiles[t->file]);
        p->pending.binlog_pos = t->pos;
        p->pending.commit_ts = t->commit_ts;
        p->pending_new = true;
        p->tk_head++;
    }
    return RC_OK;
}

/* For rowcast_checkpoint_age_seconds: a position record was just written. */
static void note_checkpoint_time(rc_pipeline_t *p) {
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    atomic_store(&p->checkpoint_wall_ms, (int_fast64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000);
}

/* Writes the pending position when the interval has passed (or always when forced). */
static rc_err_t checkpoint(rc_pipeline_t *p, bool force, char *errstr, size_t errstr_size) {
    rc_err_t err = tickets_advance(p, errstr, errstr_size);
    int64_t now = now_ns();
    if (err != RC_OK || !p->store || !p->pending_new ||
        (!force && now - p->last_save_ns < (int64_t)interval_ms(p) * 1000000LL)) {
        return err;
    }
    rc_buf_t set = RC_BUF_INIT;
    if ((p->acked_set && rc_gtid_set_format(p->acked_set, &set) != RC_OK) ||
        rc_buf_putc(&set, '\0') != RC_OK) {
        rc_buf_free(&set);
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    rc_state_record_t r = p->pending;
    r.format = RC_STATE_FORMAT;
    snprintf(r.rowcast, sizeof(r.rowcast), "%s", RC_VERSION);
    snprintf(r.pipeline, sizeof(r.pipeline), "%s", p->pc->name);
    pthread_mutex_lock(&p->lock);
    snprintf(r.flavor, sizeof(r.flavor), "%s", p->ident.flavor);
    snprintf(r.server_uuid, sizeof(r.server_uuid), "%s", p->ident.server_uuid);
    r.server_id = p->ident.server_id;
    pthread_mutex_unlock(&p->lock);
    r.gtid_set = set.data;
    err = rc_state_save(p->store, &r, errstr, errstr_size);
    if (err == RC_OK) {
        p->last_save_ns = now;
        p->pending_new = false;
        pthread_mutex_lock(&p->lock);
        rc_state_record_clear(&p->checkpoint);
        p->checkpoint = r; /* takes the set */
        set.data = NULL;
        p->has_checkpoint = true;
        pthread_mutex_unlock(&p->lock);
        note_checkpoint_time(p);
        err = rc_state_poll(p->store, errstr, errstr_size);
    }
    rc_buf_free(&set);
    return err;
}

/* Runs the batch through the transforms; afterwards b->bounds[k].events count the events that
 * remain (what send_batch reads), so a kept batch can be sent again without the scripts. */
static rc_err_t prepare_batch(rc_pipeline_t *p, rc_batch_t *b, uint32_t *marks, char *errstr,
                              size_t errstr_size) {
    if (b->gtid_base && !p->acked_set) { /* the first batch of the run */
        if (!(p->acked_set = rc_gtid_set_new((rc_gtid_flavor_t)b->gtid_base_flavor)) ||
            rc_gtid_set_parse(p->acked_set, b->gtid_base, errstr, errstr_size) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM,
                             "pipeline %s: cannot keep the executed GTID set", p->pc->name);
        }
    }
    /* With transforms, every input event gets a mark, so the run tells which ones left no
     * message (per-table drops) and where each transaction ends in the output. */
    uint32_t n_in = b->n_events, *evm = NULL;
    if (n_in && p->transforms) {
        rc_table_stats_slots(p->tables, (const uint8_t *)b->buf.data, b->buf.size, n_in);
        if (!(evm = rc_table_stats_event_marks(p->tables, n_in))) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        rc_transform_chain_set_marks(p->transforms, evm, (size_t)n_in + 1);
    }
    rc_err_t terr = n_in ? run_transforms(p, b, errstr, errstr_size) : RC_OK;
    if (terr != RC_OK) {
        return terr;
    }
    for (uint32_t k = 0; k < b->n_bounds; k++) {
        marks[k] = evm ? evm[b->bounds[k].events] : b->bounds[k].events;
        b->bounds[k].events = marks[k];
    }
    if (evm) {
        rc_table_stats_dropped(p->tables, n_in);
    }
    return RC_OK;
}

/* Encodes and produces every event of one prepared batch, each under the ticket of its
 * transaction. */
static rc_err_t send_batch(rc_pipeline_t *p, rc_batch_t *b, rc_msg_t *msg, char *errstr,
                           size_t errstr_size) {
    size_t *offs = b->n_events ? rc_table_stats_offsets(p->tables, b->n_events) : NULL;
    if (b->n_events && !offs) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    rc_format_t format = RC_FORMAT_JSON; /* the config allows only names rc_msg knows */
    rc_format_from_name(p->pc->sink.format, &format);
    msg->key_joined = p->pc->sink.key && strcmp(p->pc->sink.key, "primary_key_joined") == 0;
    msg->debezium_schemas = p->pc->sink.debezium_schemas;
    const uint8_t *cur = (const uint8_t *)b->buf.data;
    const uint8_t *end = cur + b->buf.size;
    uint32_t k = 0;
    for (uint32_t i = 0; i < b->n_events; i++) {
        /* transactions that ended before this message */
        for (; k < b->n_bounds && b->bounds[k].events <= i; k++) {
            if (ticket_seal(p, b, &b->bounds[k]) != RC_OK) {
                return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            }
        }
        if (p->tk_open == NO_TICKET && (p->tk_open = ticket_open(p)) == NO_TICKET) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        uint64_t id = p->tk_open;
        offs[i] = (size_t)(cur - (const uint8_t *)b->buf.data);
        size_t used;
        char why[512];
        rc_err_t err = rc_msg_encode(msg, format, cur, (size_t)(end - cur), &used, why, sizeof why);
        if (err != RC_OK) {
            return rc_seterr(errstr, errstr_size, err, "pipeline %s: event %u of a batch: %s",
                             p->pc->name, i, why);
        }
        err = rc_kafka_produce(
            p->kafka, msg->topic, msg->topic_len, msg->key.len ? msg->key.data : NULL, msg->key.len,
            msg->value.data, msg->value.len, msg->headers, msg->n_headers,
            msg_opaque_of(id, msg->commit_ts), &p->abort_now, errstr, errstr_size);
        if (err != RC_OK) {
            return err;
        }
        ticket_at(p, id)->produced++;
        cur += used;
    }
    for (; k < b->n_bounds; k++) { /* the rest ended after the last message */
        if (ticket_seal(p, b, &b->bounds[k]) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
    }
    if (b->n_events) {
        rc_table_stats_produced(p->tables, (const uint8_t *)b->buf.data, b->buf.size, b->n_events);
    }
    return RC_OK;
}

/* ---- exactly_once: one Kafka transaction per group of source transactions (worker) ---- */

#define TXN_ATTEMPTS 5

/* How long one abort, and one commit, may wait for Kafka (a commit that times out may still
 * succeed, so it is given long; both give up when the shutdown grace is over: abort_now). */
#define TXN_TIMEOUT_MS        60000
#define TXN_COMMIT_TIMEOUT_MS 600000

/* The open transaction's batches are no longer needed. */
static void group_clear(rc_pipeline_t *p) {
    for (size_t i = 0; i < p->n_grp; i++) {
        rc_batch_destroy(p->grp[i]);
    }
    p->n_grp = 0;
}

static rc_err_t txn_begin(rc_pipeline_t *p, char *errstr, size_t errstr_size) {
    rc_err_t err = rc_kafka_txn_begin(p->kafka, errstr, errstr_size);
    if (err == RC_OK) {
        p->txn_open = true;
        p->txn_begin_ns = now_ns();
    }
    return err;
}

/* After an abortable error: abort, then send the kept batches again in a new transaction from
 * the last committed position. The group is sent again at most TXN_ATTEMPTS times until a
 * commit succeeds, whether the send or the commit failed; then RC_ERR_KAFKA. */
static rc_err_t txn_resend(rc_pipeline_t *p, rc_msg_t *msg, char *errstr, size_t errstr_size) {
    while (p->txn_resends < TXN_ATTEMPTS) {
        int attempt = ++p->txn_resends;
        rc_warn("kafka",
                "pipeline %s: %s; aborting the Kafka transaction and sending its %zu "
                "batches again (attempt %d of %d)",
                p->pc->name, errstr, p->n_grp, attempt, TXN_ATTEMPTS);
        p->txn_open = false;
        rc_err_t err =
            rc_kafka_txn_abort(p->kafka, TXN_TIMEOUT_MS, &p->abort_now, errstr, errstr_size);
        if (err != RC_OK) {
            return err;
        }
        atomic_fetch_add(&p->txn_aborts, 1);
        p->tk_tail = p->tk_head; /* the tickets of the aborted messages are void */
        p->tk_open = NO_TICKET;
        if ((err = txn_begin(p, errstr, errstr_size)) != RC_OK) {
            return err == RC_ERR_IO ? RC_ERR_KAFKA : err;
        }
        for (size_t i = 0; i < p->n_grp && err == RC_OK; i++) {
            err = send_batch(p, p->grp[i], msg, errstr, errstr_size);
        }
        if (err != RC_ERR_IO) {
            return err;
        }
    }
    char why[512];
    snprintf(why, sizeof(why), "%s", errstr);
    return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                     "pipeline %s: a Kafka transaction was aborted and sent again %d times and "
                     "failed each time; last error: %s",
                     p->pc->name, TXN_ATTEMPTS, why);
}

/* Fills the identity fields of a position record. */
static void record_ident(rc_pipeline_t *p, rc_state_record_t *r) {
    r->format = RC_STATE_FORMAT;
    snprintf(r->rowcast, sizeof(r->rowcast), "%s", RC_VERSION);
    snprintf(r->pipeline, sizeof(r->pipeline), "%s", p->pc->name);
    pthread_mutex_lock(&p->lock);
    snprintf(r->flavor, sizeof(r->flavor), "%s", p->ident.flavor);
    snprintf(r->server_uuid, sizeof(r->server_uuid), "%s", p->ident.server_uuid);
    r->server_id = p->ident.server_id;
    pthread_mutex_unlock(&p->lock);
}

/* Commits the open transaction when it ends at a source transaction boundary and holds
 * state.interval_transactions of them or is state.interval_ms old (force: whenever it ends at
 * a boundary). The position of its last source transaction goes into the state topic inside
 * the same transaction, so it is committed iff the rows are. */
static rc_err_t txn_commit(rc_pipeline_t *p, bool force, rc_msg_t *msg, char *errstr,
                           size_t errstr_size) {
    if (!p->txn_open || p->tk_open != NO_TICKET) {
        return RC_OK;
    }
    uint64_t n = p->tk_tail - p->tk_head;
    if (!force && n < (uint64_t)interval_tx(p) &&
        now_ns() - p->txn_begin_ns < (int64_t)interval_ms(p) * 1000000LL) {
        return RC_OK;
    }
    rc_err_t err = RC_OK;
    for (;;) { /* ends: each pass commits, fails, or counts a resend in txn_resend */
        rc_gtid_set_t *set = NULL;
        rc_state_record_t r = {0};
        rc_buf_t text = RC_BUF_INIT, json = RC_BUF_INIT;
        n = p->tk_tail - p->tk_head;
        if (n > 0) {
            /* the acknowledged set grows only by committed transactions: work on a copy */
            if (p->acked_set && !(set = rc_gtid_set_copy(p->acked_set))) {
                return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            }
            for (uint64_t id = p->tk_head; id < p->tk_tail && err == RC_OK; id++) {
                ticket_t *t = ticket_at(p, id);
                if (set && t->gtid[0]) {
                    err = rc_gtid_set_add(set, t->gtid, errstr, errstr_size);
                }
            }
            ticket_t *last = ticket_at(p, p->tk_tail - 1);
            record_ident(p, &r);
            snprintf(r.binlog_file, sizeof(r.binlog_file), "%s", p->wfiles[last->file]);
            r.binlog_pos = last->pos;
            r.commit_ts = last->commit_ts;
            if (err == RC_OK && ((set && rc_gtid_set_format(set, &text) != RC_OK) ||
                                 rc_buf_putc(&text, '\0') != RC_OK)) {
                err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            }
            r.gtid_set = text.data;
            if (err == RC_OK && rc_state_record_to_json(&r, &json) != RC_OK) {
                err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            }
            if (err == RC_OK) {
                err = rc_kafka_produce_to(p->kafka, rc_state_topic(p->store), 0, p->pc->name,
                                          strlen(p->pc->name), json.data, json.len, errstr,
                                          errstr_size);
            }
        }
        if (err == RC_OK) {
            err = rc_kafka_txn_commit(p->kafka, TXN_COMMIT_TIMEOUT_MS, &p->abort_now, errstr,
                                      errstr_size);
        }
        rc_buf_free(&json);
        if (err == RC_OK) {
            atomic_fetch_add(&p->txn_commits, 1);
            p->txn_open = false;
            p->txn_resends = 0;
            p->tk_head = p->tk_tail;
            group_clear(p);
            if (set) {
                rc_gtid_set_destroy(p->acked_set);
                p->acked_set = set;
            }
            if (n > 0) {
                p->last_save_ns = now_ns();
                pthread_mutex_lock(&p->lock);
                rc_state_record_clear(&p->checkpoint);
                p->checkpoint = r; /* takes the set's text */
                text.data = NULL;
                p->has_checkpoint = true;
                pthread_mutex_unlock(&p->lock);
                note_checkpoint_time(p);
            }
            rc_buf_free(&text);
            return RC_OK;
        }
        rc_gtid_set_destroy(set);
        rc_buf_free(&text);
        if (err != RC_ERR_IO) {
            break;
        }
        if ((err = txn_resend(p, msg, errstr, errstr_size)) != RC_OK) {
            return err;
        }
    }
    return err == RC_ERR_IO ? RC_ERR_KAFKA : err;
}

/* exactly_once: one batch into the open transaction (begun when none is); the batch is kept
 * until the transaction commits. */
static rc_err_t txn_batch(rc_pipeline_t *p, rc_batch_t *b, uint32_t *marks, rc_msg_t *msg,
                          char *errstr, size_t errstr_size) {
    rc_err_t err = prepare_batch(p, b, marks, errstr, errstr_size);
    if (err != RC_OK) {
        rc_batch_destroy(b);
        return err;
    }
    if (p->n_grp == p->cap_grp) {
        size_t cap = p->cap_grp ? p->cap_grp * 2 : 64;
        rc_batch_t **g = realloc(p->grp, cap * sizeof(*g));
        if (!g) {
            rc_batch_destroy(b);
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        p->grp = g;
        p->cap_grp = cap;
    }
    p->grp[p->n_grp++] = b;
    if (!p->txn_open && (err = txn_begin(p, errstr, errstr_size)) != RC_OK) {
        return err == RC_ERR_IO ? RC_ERR_KAFKA : err;
    }
    err = send_batch(p, b, msg, errstr, errstr_size);
    if (err == RC_ERR_IO) {
        err = txn_resend(p, msg, errstr, errstr_size);
    }
    if (err == RC_OK) {
        err = txn_commit(p, false, msg, errstr, errstr_size);
    }
    return err;
}

/* Whether a transaction is open after batch b, given whether one was open before it. */
static bool ends_inside_transaction(const rc_batch_t *b, bool open_before) {
    if (b->n_bounds > 0 && b->bounds[b->n_bounds - 1].events == b->n_events) {
        return false;
    }
    return b->n_events > 0 ? true : open_before;
}

static void *worker_main(void *arg) {
    rc_pipeline_t *p = arg;
    char errstr[1024];
    rc_msg_t msg = RC_MSG_INIT;
    bool failed = false;
    uint32_t *marks = NULL; /* the batch's transaction boundaries through the transforms */
    bool mid_tx = false;    /* the batches so far ended inside a transaction */
    size_t cap_marks = 0;
    rc_kafka_set_delivery_cb(p->kafka, on_delivery, p);
    for (;;) {
        rc_batch_t *b = rc_queue_pop(p->queue, 100);
        if (!mid_tx) {
            swap_transforms(p); /* a transaction boundary: each one runs under one chain */
        }
        if (b) {
            mid_tx = ends_inside_transaction(b, mid_tx);
        }
        if (!b) {
            rc_kafka_poll(p->kafka, 0);
            if (rc_kafka_failed(p->kafka, errstr, sizeof(errstr)) ||
                (p->eos ? txn_commit(p, false, &msg, errstr, sizeof(errstr))
                        : checkpoint(p, false, errstr, sizeof(errstr))) != RC_OK) {
                failed = true;
                break;
            }
            if (rc_queue_drained(p->queue)) {
                break;
            }
            continue;
        }
        if (b->n_bounds > cap_marks) {
            free(marks);
            cap_marks = b->n_bounds * 2;
            marks = malloc(cap_marks * sizeof(*marks));
        }
        rc_err_t err;
        if (!marks && b->n_bounds) {
            err = rc_seterr(errstr, sizeof(errstr), RC_ERR_NOMEM, "out of memory");
            rc_batch_destroy(b);
        } else if (p->eos) {
            err = txn_batch(p, b, marks, &msg, errstr, sizeof(errstr)); /* takes b */
        } else {
            err = prepare_batch(p, b, marks, errstr, sizeof(errstr));
            if (err == RC_OK) {
                err = send_batch(p, b, &msg, errstr, sizeof(errstr));
            }
            rc_batch_destroy(b);
        }
        rc_kafka_poll(p->kafka, 0);
        if (err != RC_OK || rc_kafka_failed(p->kafka, errstr, sizeof(errstr)) ||
            (!p->eos && checkpoint(p, false, errstr, sizeof(errstr)) != RC_OK)) {
            failed = true;
            break;
        }
    }
    if (failed) {
        fail(p, errstr);
        /* Stop the reader; batches still queued are dropped, the position stays at the last
         * fully delivered transaction. */
        p->stop = 1;
        uint64_t one = 1;
        ssize_t w = write(p->stop_fd, &one, sizeof(one));
        (void)w;
        rc_queue_close(p->queue);
        rc_batch_t *b;
        while ((b = rc_queue_pop(p->queue, 0)) != NULL) {
            rc_batch_destroy(b);
        }
    }
    if (p->eos) {
        /* Commit the last group when it ends at a source transaction boundary; otherwise (a
         * failure, or a transaction cut by the stop) abort it: the next start resumes from the
         * last committed position. */
        bool committed = false;
        if (!failed && p->txn_open && p->tk_open == NO_TICKET) {
            if (txn_commit(p, true, &msg, errstr, sizeof(errstr)) == RC_OK) {
                committed = true;
            } else {
                fail(p, errstr);
                failed = true;
            }
        }
        if (p->txn_open && !committed) {
            char aerr[1024];
            if (rc_kafka_txn_abort(p->kafka, 10000, &p->abort_now, aerr, sizeof(aerr)) != RC_OK) {
                rc_warn("kafka", "pipeline %s: %s", p->pc->name, aerr);
            } else {
                atomic_fetch_add(&p->txn_aborts, 1);
            }
            p->txn_open = false;
            failed = true; /* not a clean end: the next run starts from the stored position */
        }
        group_clear(p);
        p->clean_end = !failed && !p->abort_now && p->tk_head == p->tk_tail;
        free(marks);
        rc_msg_free(&msg);
        return NULL;
    }
    /* Flush what was produced; abort_now cuts this short after the grace period. */
    while (!p->abort_now) {
        if (rc_kafka_flush(p->kafka, 200, NULL, 0) == RC_OK) {
            break;
        }
        if (rc_kafka_failed(p->kafka, errstr, sizeof(errstr))) {
            fail(p, errstr);
            break;
        }
    }
    /* The last position: what Kafka acknowledged, also after a failure (never past it). */
    char serr[1024];
    if (checkpoint(p, true, serr, sizeof(serr)) != RC_OK ||
        (p->store && rc_state_flush(p->store, 10000, serr, sizeof(serr)) != RC_OK)) {
        fail(p, serr);
    }
    /* A clean end delivered every transaction it sealed; otherwise the next start goes back
     * to the stored position instead of where the reader was. */
    tickets_advance(p, serr, sizeof(serr));
    p->clean_end = !failed && !p->abort_now && p->tk_head == p->tk_tail;
    free(marks);
    rc_msg_free(&msg);
    return NULL;
}

rc_err_t rc_pipeline_start(rc_pipeline_t *p, char *errstr, size_t errstr_size) {
    /* Started before: keep the counters monotonic and start from a clean slate. The lock keeps
     * rc_pipeline_get_stats (http thread) off the producer and queue being replaced. */
    pthread_mutex_lock(&p->lock);
    rc_queue_t *old_queue = NULL;
    rc_kafka_t *old_kafka = p->kafka;
    if (p->kafka) {
        rc_kafka_stats_t ks;
        rc_kafka_get_stats(p->kafka, &ks);
        p->kafka_base[0] += ks.produced;
        p->kafka_base[1] += ks.delivered;
        p->kafka_base[2] += ks.failed;
        p->kafka_base[3] += ks.retries;
        p->kafka = NULL;
    }
    if (old_kafka || rc_queue_drained(p->queue)) { /* a stop closed it */
        old_queue = p->queue;
        p->queue = rc_queue_new((size_t)(p->pc->queue_batches > 0 ? p->pc->queue_batches : 16));
    }
    pthread_mutex_unlock(&p->lock);
    rc_kafka_destroy(old_kafka);
    rc_queue_destroy(old_queue, (void (*)(void *))rc_batch_destroy);
    if (!p->queue) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: out of memory",
                         p->pc->name);
    }
    uint64_t drained;
    ssize_t rd = read(p->stop_fd, &drained, sizeof(drained));
    (void)rd;
    p->stop = 0;
    p->abort_now = 0;
    rc_kafka_t *k =
        p->eos ? rc_kafka_new_transactional(&p->conf->kafka, &p->pc->sink, p->pc->name, errstr,
                                            errstr_size)
               : rc_kafka_new(&p->conf->kafka, &p->pc->sink, p->pc->name, errstr, errstr_size);
    pthread_mutex_lock(&p->lock);
    p->kafka = k;
    pthread_mutex_unlock(&p->lock);
    if (!p->kafka) {
        fail(p, errstr);
        return RC_ERR_KAFKA;
    }
    /* Tickets of an earlier run are void: their messages were flushed or given up. When some
     * were given up, go back to the stored position: the reader's is past them. */
    if (p->worker_ran && !p->clean_end) {
        p->resume.known = false;
        p->state_checked = false;
        p->have_saved = false;
        rc_gtid_set_destroy(p->executed);
        p->executed = NULL;
        p->executed_known = false;
    }
    p->tk_head = p->tk_tail = 0;
    p->tk_open = NO_TICKET;
    p->txn_ready = false;
    p->txn_open = false;
    p->txn_resends = 0;
    p->tx_sent = p->tx_pos = 0;
    group_clear(p);
    rc_gtid_set_destroy(p->acked_set);
    p->acked_set = NULL;
    rc_state_record_clear(&p->pending);
    p->pending_new = false;
    rc_state_destroy(p->store);
    p->store =
        rc_state_new(&p->conf->kafka, p->conf->state.topic ? p->conf->state.topic : "rowcast.state",
                     p->pc->name, errstr, errstr_size);
    if (!p->store) {
        fail(p, errstr);
        return RC_ERR_KAFKA;
    }
    set_state(p, RC_PIPELINE_STARTING, NULL);
    if (pthread_create(&p->worker, NULL, worker_main, p) != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: cannot start a thread",
                         p->pc->name);
    }
    p->worker_started = true;
    p->worker_ran = true;
    if (pthread_create(&p->reader, NULL, reader_main, p) != 0) {
        rc_queue_close(p->queue);
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: cannot start a thread",
                         p->pc->name);
    }
    p->reader_started = true;
    return RC_OK;
}

void rc_pipeline_stop(rc_pipeline_t *p, double grace_s) {
    if (!p) {
        return;
    }
    set_state(p, RC_PIPELINE_STOPPING, NULL);
    p->stop = 1;
    uint64_t one = 1;
    ssize_t w = write(p->stop_fd, &one, sizeof(one));
    (void)w;
    if (p->reader_started) {
        pthread_join(p->reader, NULL);
        p->reader_started = false;
    } else {
        rc_queue_close(p->queue);
    }
    if (p->worker_started) {
        /* Give the worker grace_s to deliver, then make it give up. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t)grace_s;
        deadline.tv_nsec += (long)((grace_s - (double)(time_t)grace_s) * 1e9);
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(p->worker, NULL, &deadline) != 0) {
            rc_warn("pipeline", "pipeline %s: messages still undelivered after %.0f s; giving up",
                    p->pc->name, grace_s);
            p->abort_now = 1;
            pthread_join(p->worker, NULL);
        }
        p->worker_started = false;
    }
    set_state(p, RC_PIPELINE_STOPPED, NULL);
}

void rc_pipeline_destroy(rc_pipeline_t *p) {
    if (!p) {
        return;
    }
    if (p->reader_started || p->worker_started) {
        rc_pipeline_stop(p, 0);
    }
    rc_kafka_destroy(p->kafka);
    rc_state_destroy(p->store);
    free(p->tk);
    group_clear(p);
    free(p->grp);
    for (uint32_t i = 0; i < p->n_wfiles; i++) {
        free(p->wfiles[i]);
    }
    free(p->wfiles);
    rc_gtid_set_destroy(p->acked_set);
    rc_state_record_clear(&p->pending);
    rc_state_record_clear(&p->saved);
    rc_state_record_clear(&p->checkpoint);
    free(p->executed_text);
    rc_gtid_set_destroy(p->executed);
    rc_transform_chain_destroy(p->transforms);
    rc_transform_chain_destroy(p->next_transforms);
    rc_table_stats_destroy(p->tables_read);
    rc_table_stats_destroy(p->tables);
    rc_queue_destroy(p->queue, (void (*)(void *))rc_batch_destroy);
    free_patterns(p->include, p->n_include);
    free_patterns(p->exclude, p->n_exclude);
    if (p->stop_fd >= 0) {
        close(p->stop_fd);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

const char *rc_pipeline_name(const rc_pipeline_t *p) {
    return p->pc->name;
}

rc_pipeline_state_t rc_pipeline_status(rc_pipeline_t *p, char *reason, size_t reason_size) {
    pthread_mutex_lock(&p->lock);
    rc_pipeline_state_t s = p->state;
    if (reason && reason_size) {
        snprintf(reason, reason_size, "%s", p->reason);
    }
    pthread_mutex_unlock(&p->lock);
    return s;
}

void rc_pipeline_get_stats(rc_pipeline_t *p, rc_pipeline_stats_t *out) {
    memset(out, 0, sizeof(*out));
    out->events_read = atomic_load(&p->events_read);
    out->transactions = atomic_load(&p->transactions);
    out->bytes_read = atomic_load(&p->bytes_read);
    out->batches = atomic_load(&p->batches);
    out->events_dropped = atomic_load(&p->events_dropped);
    out->events_skipped = atomic_load(&p->events_skipped);
    out->events_dead_lettered = atomic_load(&p->events_dead_lettered);
    out->reconnects = atomic_load(&p->reconnects);
    out->kafka_txn_commits = atomic_load(&p->txn_commits);
    out->kafka_txn_aborts = atomic_load(&p->txn_aborts);
    out->last_event_ts = (uint32_t)atomic_load(&p->last_event_ts);
    out->vm_bytes = atomic_load(&p->vm_bytes);
    out->checkpoint_wall_ms = atomic_load(&p->checkpoint_wall_ms);
    pthread_mutex_lock(&p->lock);
    out->queue_depth = p->queue ? rc_queue_len(p->queue) : 0;
    out->events_produced = p->kafka_base[0];
    out->events_delivered = p->kafka_base[1];
    out->events_failed = p->kafka_base[2];
    out->kafka_retries = p->kafka_base[3];
    if (p->kafka) {
        rc_kafka_stats_t ks;
        rc_kafka_get_stats(p->kafka, &ks);
        out->events_produced += ks.produced;
        out->events_delivered += ks.delivered;
        out->events_failed += ks.failed;
        out->kafka_retries += ks.retries;
    }
    pthread_mutex_unlock(&p->lock);
}

void rc_pipeline_write_state_json(rc_pipeline_t *p, rc_buf_t *out) {
    pthread_mutex_lock(&p->lock);
    rc_buf_puts(out, "\"executed_gtid_set\":");
    if (p->executed_text) {
        rc_json_write_string(out, p->executed_text, strlen(p->executed_text));
    } else {
        rc_buf_puts(out, "null");
    }
    rc_buf_puts(out, ",\"checkpoint\":");
    if (p->has_checkpoint) {
        rc_state_record_to_json(&p->checkpoint, out);
    } else {
        rc_buf_puts(out, "null");
    }
    pthread_mutex_unlock(&p->lock);
}

void rc_pipeline_get_position(rc_pipeline_t *p, rc_pipeline_position_t *out) {
    pthread_mutex_lock(&p->lock);
    *out = p->position;
    pthread_mutex_unlock(&p->lock);
}

void rc_pipeline_get_latency(rc_pipeline_t *p, rc_hist_snapshot_t *out) {
    rc_hist_read(&p->latency, out);
}

void rc_pipeline_get_transform_time(rc_pipeline_t *p, rc_hist_snapshot_t *out) {
    rc_hist_read(&p->transform_time, out);
}

struct rc_table_stats *rc_pipeline_table_stats(rc_pipeline_t *p, bool read) {
    return read ? p->tables_read : p->tables;
}

const rc_pipeline_config_t *rc_pipeline_config(const rc_pipeline_t *p) {
    return p->pc;
}

static void wake_reader(rc_pipeline_t *p) {
    uint64_t one = 1;
    ssize_t w = write(p->stop_fd, &one, sizeof(one));
    (void)w;
}

void rc_pipeline_pause(rc_pipeline_t *p) {
    atomic_store(&p->pause_req, true);
    wake_reader(p);
}

void rc_pipeline_resume(rc_pipeline_t *p) {
    atomic_store(&p->pause_req, false);
    wake_reader(p);
}

void rc_pipeline_continue_from(rc_pipeline_t *p, rc_pipeline_t *src) {
    if (src->worker_ran && !src->clean_end) {
        return; /* src gave up on messages: p resumes from the stored position instead */
    }
    p->resume = src->resume;
    memcpy(p->seek, src->seek, sizeof(p->seek));
    if (src->executed && (p->executed = rc_gtid_set_copy(src->executed)) != NULL) {
        p->executed_known = src->executed_known;
    }
    rc_pipeline_position_t at;
    rc_pipeline_get_position(src, &at);
    pthread_mutex_lock(&p->lock);
    p->position = at;
    pthread_mutex_unlock(&p->lock);
}

void rc_pipeline_seek(rc_pipeline_t *p, const char *start) {
    snprintf(p->seek, sizeof(p->seek), "%s", start);
    p->resume.known = false;
    /* the set before the new start is learned there (a set of the old position would claim
     * transactions the seek goes back over, or miss the ones it skips) */
    rc_gtid_set_destroy(p->executed);
    p->executed = NULL;
    p->executed_known = false;
    rc_start_t st;
    pthread_mutex_lock(&p->lock);
    p->position.file[0] = '\0';
    p->position.pos = 0;
    p->position.gtid[0] = '\0';
    char why[256];
    if (rc_start_parse(start, &st, why, sizeof(why)) == RC_OK) {
        if (st.kind == RC_START_FILE) { /* known now: shown until the first transaction */
            snprintf(p->position.file, sizeof(p->position.file), "%s", st.file);
            p->position.pos = st.pos;
        }
        rc_start_clear(&st);
    }
    pthread_mutex_unlock(&p->lock);
}

bool rc_pipeline_pause_requested(rc_pipeline_t *p) {
    return atomic_load(&p->pause_req);
}
