/* rc_kafka.c: idempotent (or transactional) librdkafka producer with delivery reports and topic
 * creation.
 *
 * The set of topics known to exist is a small open-addressing hash of names, so the admin
 * round-trip happens once per topic per process, not per message; it also holds each topic's
 * librdkafka handle, so producing does not look the name up again in librdkafka. */
#include "rc_kafka.h"

#include <libfyaml.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_log.h"

struct rc_kafka {
    rd_kafka_t *rk;
    char *pipeline;
    bool create_topics;
    int partitions;
    int replication;
    /* topics known to exist, with their handles; an entry without a name is free */
    struct topic_entry {
        char *name;
        rd_kafka_topic_t *rkt;
    } * topics;
    size_t topics_cap, topics_len;
    atomic_uint_fast64_t produced, delivered, failed;
    atomic_uint_fast64_t retries; /* from the statistics callback */
    char fail_msg[512];
    atomic_bool has_failed;
    rc_kafka_delivery_cb on_delivery;
    void *on_delivery_opaque;
    bool txn;     /* transactional: failures surface through the transaction calls */
    char *txn_id; /* its transactional.id */
    /* the counters when the open transaction began */
    uint64_t txn_produced, txn_delivered, txn_failed;
};

void rc_kafka_set_delivery_cb(rc_kafka_t *k, rc_kafka_delivery_cb cb, void *opaque) {
    k->on_delivery = cb;
    k->on_delivery_opaque = opaque;
}

/* The opaque of messages sent by rc_kafka_produce_to: not events, so not counted or reported
 * (their failure makes the transaction fail). */
static char record_marker;

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    rc_kafka_t *k = opaque;
    if (m->_private == &record_marker) {
        return;
    }
    if (m->err && k->txn) {
        /* The transaction is abortable now and its messages will be sent again; messages
         * purged by an abort are not failures at all. */
        if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
            m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
            atomic_fetch_add(&k->failed, 1);
            rc_warn("kafka", "pipeline %s: delivery to topic %s failed in a transaction: %s",
                    k->pipeline, rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        }
    } else if (m->err) {
        atomic_fetch_add(&k->failed, 1);
        if (!atomic_load(&k->has_failed)) {
            snprintf(k->fail_msg, sizeof(k->fail_msg),
                     "pipeline %s: delivery to topic %s failed: %s", k->pipeline,
                     rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
            atomic_store(&k->has_failed, true);
        }
    } else {
        atomic_fetch_add(&k->delivered, 1);
    }
    if (k->on_delivery) {
        k->on_delivery(k->on_delivery_opaque, m->_private, m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    if (level <= 3) {
        rc_error("kafka", "%s: %s", fac, buf);
    } else if (level <= 4) {
        rc_warn("kafka", "%s: %s", fac, buf);
    } else {
        rc_debug("kafka", "%s: %s", fac, buf);
    }
}

static rc_err_t set_prop(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr,
                         size_t errstr_size) {
    char e[256];
    if (rd_kafka_conf_set(conf, key, value, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "kafka.rdkafka.%s: %s", key, e);
    }
    return RC_OK;
}

rc_err_t rc_kafka_stats_retries(const char *json, size_t len, uint64_t *retries) {
    struct fy_parse_cfg cfg = {.flags =
                                   FYPCF_QUIET | FYPCF_JSON_FORCE | FYPCF_ALLOW_DUPLICATE_KEYS};
    struct fy_document *doc = fy_document_build_from_string(&cfg, json, len);
    if (!doc) {
        return RC_ERR_INVALID;
    }
    struct fy_node *root = fy_document_root(doc);
    struct fy_node *brokers = root ? fy_node_mapping_lookup_by_string(root, "brokers", 7) : NULL;
    rc_err_t err = brokers && fy_node_is_mapping(brokers) ? RC_OK : RC_ERR_INVALID;
    uint64_t sum = 0;
    void *iter = NULL;
    struct fy_node_pair *pair;
    while (err == RC_OK && (pair = fy_node_mapping_iterate(brokers, &iter)) != NULL) {
        struct fy_node *b = fy_node_pair_value(pair);
        struct fy_node *n = b ? fy_node_mapping_lookup_by_string(b, "txretries", 9) : NULL;
        size_t vlen;
        const char *v = n && fy_node_is_scalar(n) ? fy_node_get_scalar(n, &vlen) : NULL;
        if (v) {
            char num[32];
            snprintf(num, sizeof(num), "%.*s", (int)(vlen < sizeof(num) ? vlen : sizeof(num) - 1),
                     v);
            sum += strtoull(num, NULL, 10);
        }
    }
    fy_document_destroy(doc);
    if (err == RC_OK) {
        *retries = sum;
    }
    return err;
}

/* librdkafka's statistics (every statistics.interval.ms, on the polling thread): the retry
 * count for rowcast_kafka_retries_total. Brokers that come and go make the sum jump back:
 * the counter keeps its highest value. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    rc_kafka_t *k = opaque;
    uint64_t n;
    if (rc_kafka_stats_retries(json, len, &n) == RC_OK && n > atomic_load(&k->retries)) {
        atomic_store(&k->retries, n);
    }
    return 0; /* librdkafka frees json */
}

static rc_kafka_t *kafka_new(const rc_kafka_config_t *kconf, const rc_sink_config_t *sconf,
                             const char *pipeline, bool txn, char *errstr, size_t errstr_size) {
    rc_kafka_t *k = calloc(1, sizeof(*k));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!k || !conf) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    k->pipeline = strdup(pipeline);
    k->create_topics = sconf->create_topics;
    k->partitions = sconf->topic_partitions > 0 ? sconf->topic_partitions : 1;
    k->replication = sconf->topic_replication;
    char client_id[128];
    snprintf(client_id, sizeof(client_id), "rowcast-%s", pipeline);
    /* Defaults first, the user's rdkafka settings after them. */
    if (set_prop(conf, "bootstrap.servers", kconf->brokers, errstr, errstr_size) ||
        set_prop(conf, "client.id", client_id, errstr, errstr_size) ||
        set_prop(conf, "enable.idempotence", "true", errstr, errstr_size) ||
        set_prop(conf, "linger.ms", "5", errstr, errstr_size) ||
        set_prop(conf, "compression.type", "lz4", errstr, errstr_size) ||
        set_prop(conf, "statistics.interval.ms", "10000", errstr, errstr_size)) {
        goto fail;
    }
    for (size_t i = 0; i < kconf->n_rdkafka; i++) {
        if (strcmp(kconf->rdkafka[i].key, "transactional.id") == 0) {
            rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                      "kafka.rdkafka.transactional.id: rowcast sets it per pipeline "
                      "(rowcast-<name>, with delivery: exactly_once); remove it");
            goto fail;
        }
        if (set_prop(conf, kconf->rdkafka[i].key, kconf->rdkafka[i].value, errstr, errstr_size)) {
            goto fail;
        }
    }
    if (txn) {
        /* After the user's settings: a transactional producer is idempotent by definition. */
        k->txn = true;
        k->txn_id = strdup(client_id); /* rowcast-<pipeline>: stable across restarts */
        if (!k->txn_id || set_prop(conf, "transactional.id", k->txn_id, errstr, errstr_size) ||
            set_prop(conf, "enable.idempotence", "true", errstr, errstr_size)) {
            goto fail;
        }
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    char e[512];
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!k->rk) {
        rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "pipeline %s: cannot create producer: %s",
                  pipeline, e);
        goto fail;
    }
    return k; /* rd_kafka_new took conf */
fail:
    if (conf) {
        rd_kafka_conf_destroy(conf);
    }
    rc_kafka_destroy(k);
    return NULL;
}

rc_kafka_t *rc_kafka_new(const rc_kafka_config_t *kconf, const rc_sink_config_t *sconf,
                         const char *pipeline, char *errstr, size_t errstr_size) {
    return kafka_new(kconf, sconf, pipeline, false, errstr, errstr_size);
}

rc_kafka_t *rc_kafka_new_transactional(const rc_kafka_config_t *kconf,
                                       const rc_sink_config_t *sconf, const char *pipeline,
                                       char *errstr, size_t errstr_size) {
    return kafka_new(kconf, sconf, pipeline, true, errstr, errstr_size);
}

bool rc_kafka_transactional(const rc_kafka_t *k) {
    return k->txn;
}

/* The producer's fatal error as RC_ERR_KAFKA with a sentence; being fenced says by whom. */
static rc_err_t fatal_error(rc_kafka_t *k, const char *what, char *errstr, size_t errstr_size) {
    char e[512] = "";
    rd_kafka_resp_err_t code = rd_kafka_fatal_error(k->rk, e, sizeof(e));
    if (code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
        code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
        return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                         "pipeline %s: fenced: another rowcast instance started this pipeline "
                         "(transactional.id %s) and took over, or a Kafka transaction of it "
                         "outlived transaction.timeout.ms; this one stops (%s: %s)",
                         k->pipeline, k->txn_id ? k->txn_id : "", what, e);
    }
    return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "pipeline %s: %s failed for good: %s",
                     k->pipeline, what, e[0] ? e : "fatal producer error");
}

/* Maps a transaction call's error: fatal -> RC_ERR_KAFKA, anything else -> RC_ERR_IO (abort and
 * send again, or call again). Takes the error. */
static rc_err_t txn_error(rc_kafka_t *k, rd_kafka_error_t *error, const char *what, char *errstr,
                          size_t errstr_size) {
    if (!error) {
        return RC_OK;
    }
    rc_err_t err;
    if (rd_kafka_error_is_fatal(error) || rd_kafka_fatal_error(k->rk, NULL, 0)) {
        err = fatal_error(k, what, errstr, errstr_size);
    } else {
        err = rc_seterr(errstr, errstr_size, RC_ERR_IO, "pipeline %s: %s failed (%s): %s",
                        k->pipeline, what,
                        rd_kafka_error_txn_requires_abort(error) ? "abortable" : "retriable",
                        rd_kafka_error_string(error));
    }
    rd_kafka_error_destroy(error);
    return err;
}

rc_err_t rc_kafka_txn_init(rc_kafka_t *k, int timeout_ms, char *errstr, size_t errstr_size) {
    return txn_error(k, rd_kafka_init_transactions(k->rk, timeout_ms), "init_transactions", errstr,
                     errstr_size);
}

rc_err_t rc_kafka_txn_begin(rc_kafka_t *k, char *errstr, size_t errstr_size) {
    k->txn_produced = atomic_load(&k->produced);
    k->txn_delivered = atomic_load(&k->delivered);
    k->txn_failed = atomic_load(&k->failed);
    rd_kafka_error_t *error = rd_kafka_begin_transaction(k->rk);
    if (error && !rd_kafka_error_is_fatal(error) && !rd_kafka_fatal_error(k->rk, NULL, 0)) {
        /* begin fails only on a misuse of the API: a bug, never worth a retry */
        rc_err_t err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                                 "pipeline %s: begin_transaction failed: %s", k->pipeline,
                                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return err;
    }
    return txn_error(k, error, "begin_transaction", errstr, errstr_size);
}

/* A commit or abort waits in calls of at most this long: a cancel is seen between two. A
 * timed-out call is made again and goes on where it stopped, but librdkafka's resumed calls
 * have edge cases (a resumed commit once left the next produce refused), so the slices are
 * long enough never to expire on a healthy broker, however loaded the machine. */
#define TXN_SLICE_MS 10000

/* Calls commit (or abort) in slices of TXN_SLICE_MS until done, timeout_ms passed or *cancel
 * is set: a timed-out call may be made again and goes on where the last one stopped.
 * Returns the last call's error (NULL when done), or sets *cancelled / *timed_out. */
static rd_kafka_error_t *txn_end(rc_kafka_t *k, bool commit, int timeout_ms,
                                 const volatile int *cancel, bool *cancelled) {
    int64_t left = timeout_ms;
    *cancelled = false;
    for (;;) {
        int slice = left < TXN_SLICE_MS ? (int)left : TXN_SLICE_MS;
        rd_kafka_error_t *error = commit ? rd_kafka_commit_transaction(k->rk, slice)
                                         : rd_kafka_abort_transaction(k->rk, slice);
        left -= slice;
        if (!error || rd_kafka_error_is_fatal(error) || !rd_kafka_error_is_retriable(error) ||
            (commit && rd_kafka_error_txn_requires_abort(error)) || left <= 0) {
            return error;
        }
        if (cancel && *cancel) {
            rd_kafka_error_destroy(error);
            *cancelled = true;
            return NULL;
        }
        rd_kafka_error_destroy(error); /* e.g. timed out: the same call goes on */
    }
}

static rc_err_t txn_cancelled(rc_kafka_t *k, const char *what, char *errstr, size_t errstr_size) {
    return rc_seterr(errstr, errstr_size, RC_ERR_STOPPED,
                     "pipeline %s: %s given up at shutdown; Kafka aborts the transaction after "
                     "transaction.timeout.ms or when the pipeline starts again",
                     k->pipeline, what);
}

rc_err_t rc_kafka_txn_commit(rc_kafka_t *k, int timeout_ms, const volatile int *cancel,
                             char *errstr, size_t errstr_size) {
    bool cancelled;
    rd_kafka_error_t *error = txn_end(k, true, timeout_ms, cancel, &cancelled);
    if (cancelled) {
        return txn_cancelled(k, "commit_transaction", errstr, errstr_size);
    }
    return txn_error(k, error, "commit_transaction", errstr, errstr_size);
}

rc_err_t rc_kafka_txn_abort(rc_kafka_t *k, int timeout_ms, const volatile int *cancel, char *errstr,
                            size_t errstr_size) {
    bool cancelled;
    rd_kafka_error_t *error = txn_end(k, false, timeout_ms, cancel, &cancelled);
    if (cancelled) {
        return txn_cancelled(k, "abort_transaction", errstr, errstr_size);
    }
    rd_kafka_poll(k->rk, 0); /* the purged messages' reports, before tickets are reused */
    /* What the aborted transaction produced is withdrawn (it will be produced again),
     * except the messages Kafka refused: they stay counted as produced and failed, so
     * produced - delivered - failed (what is still open) comes back to what it was. */
    uint64_t refused = atomic_load(&k->failed) - k->txn_failed;
    atomic_store(&k->produced, k->txn_produced + refused);
    atomic_store(&k->delivered, k->txn_delivered);
    rc_err_t err = txn_error(k, error, "abort_transaction", errstr, errstr_size);
    /* an abort that fails leaves the transaction in an unknown state: never continue */
    return err == RC_ERR_IO ? RC_ERR_KAFKA : err;
}

rc_err_t rc_kafka_produce_to(rc_kafka_t *k, const char *topic, int32_t partition, const void *key,
                             size_t key_len, const void *value, size_t value_len, char *errstr,
                             size_t errstr_size) {
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            k->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY((void *)key, key_len),
            RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_OPAQUE(&record_marker),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            return RC_OK;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(k->rk, 100);
            continue;
        }
        if (e == RD_KAFKA_RESP_ERR__FATAL) {
            return fatal_error(k, "producing", errstr, errstr_size);
        }
        return rc_seterr(errstr, errstr_size, k->txn ? RC_ERR_IO : RC_ERR_KAFKA,
                         "pipeline %s: producing to %s failed: %s", k->pipeline, topic,
                         rd_kafka_err2str(e));
    }
}

void rc_kafka_destroy(rc_kafka_t *k) {
    if (!k) {
        return;
    }
    for (size_t i = 0; i < k->topics_cap; i++) {
        if (k->topics[i].rkt) {
            rd_kafka_topic_destroy(k->topics[i].rkt);
        }
        free(k->topics[i].name);
    }
    free(k->topics);
    if (k->rk) {
        rd_kafka_destroy(k->rk);
    }
    free(k->pipeline);
    free(k->txn_id);
    free(k);
}

static uint64_t hash_name(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    }
    return h;
}

/* The handle of a topic known to exist, or NULL. */
static rd_kafka_topic_t *topic_find(rc_kafka_t *k, const char *t, size_t n) {
    if (!k->topics_cap) {
        return NULL;
    }
    for (size_t i = hash_name(t, n) & (k->topics_cap - 1);; i = (i + 1) & (k->topics_cap - 1)) {
        const char *name = k->topics[i].name;
        if (!name) {
            return NULL;
        }
        if (strncmp(name, t, n) == 0 && name[n] == '\0') {
            return k->topics[i].rkt;
        }
    }
}

/* Adds topic t (NUL-terminated, n bytes) with a new handle; returns the handle or NULL. */
static rd_kafka_topic_t *topic_add(rc_kafka_t *k, const char *t, size_t n) {
    if ((k->topics_len + 1) * 2 > k->topics_cap) {
        size_t cap = k->topics_cap ? k->topics_cap * 2 : 16;
        struct topic_entry *nt = calloc(cap, sizeof(*nt));
        if (!nt) {
            return NULL;
        }
        for (size_t i = 0; i < k->topics_cap; i++) {
            if (k->topics[i].name) {
                size_t j = hash_name(k->topics[i].name, strlen(k->topics[i].name)) & (cap - 1);
                while (nt[j].name) {
                    j = (j + 1) & (cap - 1);
                }
                nt[j] = k->topics[i];
            }
        }
        free(k->topics);
        k->topics = nt;
        k->topics_cap = cap;
    }
    char *name = strndup(t, n);
    rd_kafka_topic_t *rkt = name ? rd_kafka_topic_new(k->rk, name, NULL) : NULL;
    if (!rkt) {
        free(name);
        return NULL;
    }
    size_t i = hash_name(t, n) & (k->topics_cap - 1);
    while (k->topics[i].name) {
        i = (i + 1) & (k->topics_cap - 1);
    }
    k->topics[i].name = name;
    k->topics[i].rkt = rkt;
    k->topics_len++;
    return rkt;
}

/* Creates the topic through the admin API; "already exists" is success. */
static rc_err_t create_topic(rc_kafka_t *k, const char *topic, char *errstr, size_t errstr_size) {
    char e[512];
    rc_err_t err = RC_OK;
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, k->partitions, k->replication, e, sizeof(e));
    if (!nt) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "topic %s: %s", topic, e);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 10000, e, sizeof(e));
    rd_kafka_AdminOptions_set_request_timeout(opts, 15000, e, sizeof(e));
    rd_kafka_CreateTopics(k->rk, &nt, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    if (!ev) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "creating topic %s timed out after 20 s",
                        topic);
    } else if (rd_kafka_event_error(ev)) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "creating topic %s failed: %s", topic,
                        rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
            if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "creating topic %s failed: %s",
                                topic, rd_kafka_topic_result_error_string(tr[i]));
            } else if (!te) {
                rc_info("kafka", "pipeline %s: created topic %s (%d partitions)", k->pipeline,
                        topic, k->partitions);
            }
        }
    }
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return err;
}

rc_err_t rc_kafka_produce(rc_kafka_t *k, const char *topic, size_t topic_len, const void *key,
                          size_t key_len, const void *value, size_t value_len,
                          const rc_kafka_header_t *headers, size_t n_headers, void *msg_opaque,
                          const volatile int *stop, char *errstr, size_t errstr_size) {
    rd_kafka_topic_t *rkt = topic_find(k, topic, topic_len);
    if (!rkt) {
        char tname[256];
        if (topic_len == 0 || topic_len >= sizeof(tname)) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "topic name of %zu bytes is not valid (1 to 249)", topic_len);
        }
        memcpy(tname, topic, topic_len);
        tname[topic_len] = '\0';
        if (k->create_topics) {
            rc_err_t err = create_topic(k, tname, errstr, errstr_size);
            if (err != RC_OK) {
                return err;
            }
        }
        if (!(rkt = topic_add(k, tname, topic_len))) {
            return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                             "pipeline %s: librdkafka refused topic %s (out of memory, or a "
                             "name it does not take)",
                             k->pipeline, tname);
        }
    }
    rd_kafka_headers_t *hdrs = NULL;
    if (n_headers > 0) {
        hdrs = rd_kafka_headers_new(n_headers);
        for (size_t i = 0; i < n_headers; i++) {
            rd_kafka_header_add(hdrs, headers[i].name, (ssize_t)headers[i].name_len,
                                headers[i].value, (ssize_t)headers[i].value_len);
        }
    }
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            k->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            atomic_fetch_add(&k->produced, 1);
            return RC_OK; /* librdkafka owns hdrs now */
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            if (hdrs) {
                rd_kafka_headers_destroy(hdrs);
            }
            if (e == RD_KAFKA_RESP_ERR__FATAL) {
                return fatal_error(k, "producing", errstr, errstr_size);
            }
            /* in a transaction, a refused message makes it abortable: send it all again */
            return rc_seterr(errstr, errstr_size, k->txn ? RC_ERR_IO : RC_ERR_KAFKA,
                             "pipeline %s: producing to %s failed: %s", k->pipeline,
                             rd_kafka_topic_name(rkt), rd_kafka_err2str(e));
        }
        /* librdkafka's queue is full: serve delivery reports until there is room. */
        rd_kafka_poll(k->rk, 100);
        if ((stop && *stop) || atomic_load(&k->has_failed)) {
            if (hdrs) {
                rd_kafka_headers_destroy(hdrs);
            }
            return rc_seterr(errstr, errstr_size, RC_ERR_STOPPED,
                             "pipeline %s: stopped while waiting for room in the producer queue",
                             k->pipeline);
        }
    }
}

void rc_kafka_poll(rc_kafka_t *k, int timeout_ms) {
    rd_kafka_poll(k->rk, timeout_ms);
}

rc_err_t rc_kafka_flush(rc_kafka_t *k, int timeout_ms, char *errstr, size_t errstr_size) {
    rd_kafka_resp_err_t e = rd_kafka_flush(k->rk, timeout_ms);
    if (e == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                         "pipeline %s: %d messages still undelivered after %d ms", k->pipeline,
                         rd_kafka_outq_len(k->rk), timeout_ms);
    }
    if (rc_kafka_failed(k, errstr, errstr_size)) {
        return RC_ERR_KAFKA;
    }
    return RC_OK;
}

bool rc_kafka_failed(rc_kafka_t *k, char *errstr, size_t errstr_size) {
    if (!atomic_load(&k->has_failed)) {
        return false;
    }
    rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "%s", k->fail_msg);
    return true;
}

void rc_kafka_get_stats(rc_kafka_t *k, rc_kafka_stats_t *out) {
    out->produced = atomic_load(&k->produced);
    out->delivered = atomic_load(&k->delivered);
    out->failed = atomic_load(&k->failed);
    out->retries = atomic_load(&k->retries);
}
