/* rc_state.c: the position store: one compacted, single-partition Kafka topic, one key per
 * pipeline, a small JSON document per record.
 *
 * The store has its own idempotent producer (state records never wait behind data in a full
 * queue) and reads with a short-lived consumer that assigns partition 0 without a group, so
 * loading commits nothing and needs no group coordinator. */
#include "rc_state.h"

#include <ctype.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_log.h"

struct rc_state {
    rd_kafka_t *rk;
    const rc_kafka_config_t *kconf;
    char *topic;
    char *pipeline;
    atomic_uint_fast64_t saved;
    atomic_bool failed;
    char fail_msg[512];
};

/* ---- the record as JSON ---- */

void rc_state_record_clear(rc_state_record_t *r) {
    free(r->gtid_set);
    memset(r, 0, sizeof(*r));
}

rc_err_t rc_state_record_copy(rc_state_record_t *dst, const rc_state_record_t *src) {
    *dst = *src;
    dst->gtid_set = strdup(src->gtid_set ? src->gtid_set : "");
    return dst->gtid_set ? RC_OK : RC_ERR_NOMEM;
}

static rc_err_t put_str(rc_buf_t *out, const char *s) {
    rc_err_t err = rc_buf_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p && err == RC_OK; p++) {
        if (*p == '"' || *p == '\\') {
            err = rc_buf_printf(out, "\\%c", *p);
        } else if (*p < 0x20) {
            err = rc_buf_printf(out, "\\u%04x", *p);
        } else {
            err = rc_buf_putc(out, (char)*p);
        }
    }
    return err == RC_OK ? rc_buf_putc(out, '"') : err;
}

rc_err_t rc_state_record_to_json(const rc_state_record_t *r, rc_buf_t *out) {
    rc_err_t err = rc_buf_printf(out, "{\"format\":%d,\"rowcast\":", r->format);
    err = err ?: put_str(out, r->rowcast);
    err = err ?: rc_buf_puts(out, ",\"pipeline\":");
    err = err ?: put_str(out, r->pipeline);
    err = err ?: rc_buf_puts(out, ",\"flavor\":");
    err = err ?: put_str(out, r->flavor);
    err = err ?: rc_buf_puts(out, ",\"server_uuid\":");
    err = err ?: put_str(out, r->server_uuid);
    err = err ?: rc_buf_printf(out, ",\"server_id\":%" PRIu32 ",\"gtid_set\":", r->server_id);
    err = err ?: put_str(out, r->gtid_set ? r->gtid_set : "");
    err = err ?: rc_buf_puts(out, ",\"binlog_file\":");
    err = err ?: put_str(out, r->binlog_file);
    err = err
              ?: rc_buf_printf(out, ",\"binlog_pos\":%" PRIu64 ",\"commit_ts\":%" PRIu32 "}",
                               r->binlog_pos, r->commit_ts);
    return err;
}

/* A reader of one flat JSON object: string, integer, null and (skipped) other values. */
typedef struct jp {
    const char *p, *end;
} jp_t;

static void jws(jp_t *j) {
    while (j->p < j->end && isspace((unsigned char)*j->p)) {
        j->p++;
    }
}

/* Reads a JSON string into out (NUL-terminated, truncated to out_size). */
static bool jstr(jp_t *j, char *out, size_t out_size, size_t *out_len) {
    size_t o = 0;
    if (j->p >= j->end || *j->p != '"') {
        return false;
    }
    j->p++;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            if (j->p >= j->end) {
                return false;
            }
            char e = *j->p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                unsigned v;
                if (j->end - j->p < 4 || sscanf(j->p, "%4x", &v) != 1 || v > 0x7f) {
                    return false; /* only ASCII is ever written */
                }
                c = (char)v;
                j->p += 4;
                break;
            }
            default:
                c = e;
            }
        }
        if (o + 1 < out_size) {
            out[o] = c;
        }
        o++;
    }
    if (j->p >= j->end) {
        return false;
    }
    j->p++;
    if (out_size) {
        out[o < out_size ? o : out_size - 1] = '\0';
    }
    if (out_len) {
        *out_len = o;
    }
    return o < out_size;
}

static bool jskip(jp_t *j) {
    int depth = 0;
    do {
        jws(j);
        if (j->p >= j->end) {
            return false;
        }
        char c = *j->p;
        if (c == '"') {
            char tmp[1];
            size_t n;
            jp_t save = *j;
            if (!jstr(j, tmp, 0, &n)) {
                if (j->p == save.p) {
                    return false;
                }
            }
        } else if (c == '{' || c == '[') {
            depth++;
            j->p++;
        } else if (c == '}' || c == ']') {
            depth--;
            j->p++;
        } else {
            while (j->p < j->end && !strchr(",}] \t\r\n", *j->p)) {
                j->p++;
            }
        }
        jws(j);
        if (depth > 0 && j->p < j->end && (*j->p == ',' || *j->p == ':')) {
            j->p++;
        }
    } while (depth > 0);
    return true;
}

static rc_err_t bad(char *errstr, size_t errstr_size, const char *what) {
    return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "state record: %s", what);
}

rc_err_t rc_state_record_from_json(const char *json, size_t len, rc_state_record_t *r, char *errstr,
                                   size_t errstr_size) {
    jp_t j = {json, json + len};
    char key[64], msg[160];
    unsigned seen = 0;
    enum { K_FORMAT = 1, K_FLAVOR = 2, K_GTID = 4, K_FILE = 8, K_POS = 16 };
    memset(r, 0, sizeof(*r));
    jws(&j);
    if (j.p >= j.end || *j.p++ != '{') {
        return bad(errstr, errstr_size, "not a JSON object");
    }
    for (;;) {
        jws(&j);
        if (j.p < j.end && *j.p == '}') {
            break;
        }
        if (!jstr(&j, key, sizeof(key), NULL)) {
            rc_state_record_clear(r);
            return bad(errstr, errstr_size, "expected a key");
        }
        jws(&j);
        if (j.p >= j.end || *j.p++ != ':') {
            rc_state_record_clear(r);
            return bad(errstr, errstr_size, "expected ':' after a key");
        }
        jws(&j);
        char *sfield = NULL;
        size_t ssize = 0;
        uint64_t *nfield = NULL, n64 = 0;
        if (strcmp(key, "rowcast") == 0) {
            sfield = r->rowcast, ssize = sizeof(r->rowcast);
        } else if (strcmp(key, "pipeline") == 0) {
            sfield = r->pipeline, ssize = sizeof(r->pipeline);
        } else if (strcmp(key, "flavor") == 0) {
            sfield = r->flavor, ssize = sizeof(r->flavor), seen |= K_FLAVOR;
        } else if (strcmp(key, "server_uuid") == 0) {
            sfield = r->server_uuid, ssize = sizeof(r->server_uuid);
        } else if (strcmp(key, "binlog_file") == 0) {
            sfield = r->binlog_file, ssize = sizeof(r->binlog_file), seen |= K_FILE;
        } else if (strcmp(key, "gtid_set") == 0) {
            /* any length: measure, then copy */
            jp_t probe = j;
            size_t n = 0;
            char tmp[1];
            jstr(&probe, tmp, 0, &n);
            free(r->gtid_set);
            r->gtid_set = malloc(n + 1);
            if (!r->gtid_set) {
                rc_state_record_clear(r);
                return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            }
            sfield = r->gtid_set, ssize = n + 1, seen |= K_GTID;
        } else if (strcmp(key, "format") == 0 || strcmp(key, "server_id") == 0 ||
                   strcmp(key, "binlog_pos") == 0 || strcmp(key, "commit_ts") == 0) {
            nfield = &n64;
        }
        if (sfield) {
            if (!jstr(&j, sfield, ssize, NULL)) {
                snprintf(msg, sizeof(msg), "%s: expected a string of at most %zu bytes", key,
                         ssize - 1);
                rc_state_record_clear(r);
                return bad(errstr, errstr_size, msg);
            }
        } else if (nfield) {
            char *endp;
            if (j.p >= j.end || !isdigit((unsigned char)*j.p)) {
                snprintf(msg, sizeof(msg), "%s: expected a non-negative integer", key);
                rc_state_record_clear(r);
                return bad(errstr, errstr_size, msg);
            }
            n64 = strtoull(j.p, &endp, 10);
            j.p = endp;
            if (strcmp(key, "format") == 0) {
                r->format = n64 > 1000 ? 1000 : (int)n64;
                seen |= K_FORMAT;
            } else if (strcmp(key, "server_id") == 0) {
                r->server_id = (uint32_t)n64;
            } else if (strcmp(key, "binlog_pos") == 0) {
                r->binlog_pos = n64;
                seen |= K_POS;
            } else {
                r->commit_ts = (uint32_t)n64;
            }
        } else if (!jskip(&j)) {
            rc_state_record_clear(r);
            return bad(errstr, errstr_size, "malformed value");
        }
        jws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}') {
            break;
        }
        rc_state_record_clear(r);
        return bad(errstr, errstr_size, "expected ',' or '}'");
    }
    static const char *const names[] = {"format", "flavor", "gtid_set", "binlog_file",
                                        "binlog_pos"};
    for (int i = 0; i < 5; i++) {
        if (!(seen & (1u << i))) {
            snprintf(msg, sizeof(msg), "the key %s is missing", names[i]);
            rc_state_record_clear(r);
            return bad(errstr, errstr_size, msg);
        }
    }
    if (r->format < 1 || r->format > RC_STATE_FORMAT) {
        snprintf(msg, sizeof(msg),
                 "format %d is not one this rowcast reads (1 to %d): was it written by a newer "
                 "version?",
                 r->format, RC_STATE_FORMAT);
        rc_state_record_clear(r);
        return bad(errstr, errstr_size, msg);
    }
    return RC_OK;
}

/* ---- the store ---- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    rc_state_t *st = opaque;
    if (m->err) {
        if (!atomic_load(&st->failed)) {
            snprintf(st->fail_msg, sizeof(st->fail_msg),
                     "pipeline %s: writing its position to topic %s failed: %s", st->pipeline,
                     st->topic, rd_kafka_err2str(m->err));
            atomic_store(&st->failed, true);
        }
    } else {
        atomic_fetch_add(&st->saved, 1);
    }
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    if (level <= 3) {
        rc_error("state", "%s: %s", fac, buf);
    } else if (level <= 4) {
        rc_warn("state", "%s: %s", fac, buf);
    } else {
        rc_debug("state", "%s: %s", fac, buf);
    }
}

/* The user's rdkafka settings that make sense for the given client type. Producer-only or
 * consumer-only properties are skipped for the other type (librdkafka would warn). */
static rc_err_t apply_conf(rd_kafka_conf_t *conf, const rc_kafka_config_t *kconf,
                           const char *client_id, char *errstr, size_t errstr_size) {
    char e[256];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", kconf->brokers, e, sizeof(e)) ||
        rd_kafka_conf_set(conf, "client.id", client_id, e, sizeof(e))) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "kafka: %s", e);
    }
    for (size_t i = 0; i < kconf->n_rdkafka; i++) {
        const char *k = kconf->rdkafka[i].key;
        /* security and connection settings apply to every client; tuning of the producer's
         * batching does not matter for one small record */
        if (strncmp(k, "security.", 9) && strncmp(k, "ssl.", 4) && strncmp(k, "sasl.", 5) &&
            strncmp(k, "socket.", 7) && strncmp(k, "client.", 7) && strcmp(k, "debug") &&
            strncmp(k, "broker.", 7) && strncmp(k, "test.mock.", 10)) {
            continue;
        }
        if (rd_kafka_conf_set(conf, k, kconf->rdkafka[i].value, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "kafka.rdkafka.%s: %s", k, e);
        }
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    return RC_OK;
}

rc_err_t rc_state_ensure_topic(rc_state_t *st, char *errstr, size_t errstr_size) {
    char e[512];
    rc_err_t err = RC_OK;
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(st->topic, 1, -1, e, sizeof(e));
    if (!nt) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "state.topic %s: %s", st->topic, e);
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t *q = rd_kafka_queue_new(st->rk);
    rd_kafka_AdminOptions_t *opts =
        rd_kafka_AdminOptions_new(st->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 10000, e, sizeof(e));
    rd_kafka_AdminOptions_set_request_timeout(opts, 15000, e, sizeof(e));
    rd_kafka_CreateTopics(st->rk, &nt, 1, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    if (!ev) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                        "creating the state topic %s timed out after 20 s (brokers %s)", st->topic,
                        st->kconf->brokers);
    } else if (rd_kafka_event_error(ev)) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "creating the state topic %s failed: %s",
                        st->topic, rd_kafka_event_error_string(ev));
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
            if (te == RD_KAFKA_RESP_ERR_NO_ERROR) {
                rc_info("state", "created the state topic %s (compacted, 1 partition)", st->topic);
            } else if (te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                                "creating the state topic %s failed: %s", st->topic,
                                rd_kafka_topic_result_error_string(tr[i]));
            }
        }
    }
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    if (err != RC_OK) {
        return err;
    }
    /* An existing topic must have one partition. */
    rd_kafka_topic_t *t = rd_kafka_topic_new(st->rk, st->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t me = rd_kafka_metadata(st->rk, 0, t, &md, 10000);
    if (me == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err &&
        md->topics[0].partition_cnt != 1) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "the state topic %s has %d partitions; it needs exactly 1 (delete it or "
                        "set state.topic to another name)",
                        st->topic, md->topics[0].partition_cnt);
    } else if (me != RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                        "reading the metadata of the state topic %s failed: %s", st->topic,
                        rd_kafka_err2str(me));
    }
    if (md) {
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    return err;
}

rc_state_t *rc_state_new(const rc_kafka_config_t *kconf, const char *topic, const char *pipeline,
                         char *errstr, size_t errstr_size) {
    rc_state_t *st = calloc(1, sizeof(*st));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512], client_id[128];
    if (!st || !conf) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    st->kconf = kconf;
    st->topic = strdup(topic);
    st->pipeline = strdup(pipeline);
    if (!st->topic || !st->pipeline) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    snprintf(client_id, sizeof(client_id), "rowcast-%s-state", pipeline);
    if (apply_conf(conf, kconf, client_id, errstr, errstr_size) != RC_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", e, sizeof(e)) ||
        rd_kafka_conf_set(conf, "linger.ms", "0", e, sizeof(e))) {
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    st->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof(e));
    if (!st->rk) {
        rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                  "pipeline %s: cannot create the state producer: %s", pipeline, e);
        goto fail;
    }
    conf = NULL; /* rd_kafka_new took it */
    return st;
fail:
    if (conf) {
        rd_kafka_conf_destroy(conf);
    }
    rc_state_destroy(st);
    return NULL;
}

void rc_state_destroy(rc_state_t *st) {
    if (!st) {
        return;
    }
    if (st->rk) {
        rd_kafka_destroy(st->rk);
    }
    free(st->topic);
    free(st->pipeline);
    free(st);
}

const char *rc_state_topic(const rc_state_t *st) {
    return st->topic;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rc_err_t rc_state_load(rc_state_t *st, rc_state_record_t *out, bool *found, int timeout_ms,
                       char *errstr, size_t errstr_size) {
    char e[512], client_id[128];
    rc_err_t err = RC_OK;
    *found = false;
    memset(out, 0, sizeof(*out));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *c = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    snprintf(client_id, sizeof(client_id), "rowcast-%s-state-load", st->pipeline);
    if (!conf || apply_conf(conf, st->kconf, client_id, errstr, errstr_size) != RC_OK) {
        err = conf ? RC_ERR_INVALID : RC_ERR_NOMEM;
        goto done;
    }
    /* assign() only: the group id is required by the consumer API but never joined, and
     * nothing is committed. read_committed so that records of an aborted transaction
     * (exactly-once mode) never count. */
    char group[160];
    snprintf(group, sizeof(group), "rowcast-%s-state-load", st->pipeline);
    if (rd_kafka_conf_set(conf, "group.id", group, e, sizeof(e)) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof(e)) ||
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", e, sizeof(e)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof(e))) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "state consumer: %s", e);
        goto done;
    }
    c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof(e));
    if (!c) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "cannot create the state reader: %s", e);
        goto done;
    }
    conf = NULL;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t ke =
        rd_kafka_query_watermark_offsets(c, st->topic, 0, &lo, &hi, timeout_ms);
    if (ke) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                        "reading the offsets of the state topic %s failed: %s", st->topic,
                        rd_kafka_err2str(ke));
        goto done;
    }
    if (hi <= lo) {
        goto done; /* empty: no state */
    }
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, st->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if ((ke = rd_kafka_assign(c, parts)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "reading the state topic %s failed: %s",
                        st->topic, rd_kafka_err2str(ke));
        goto done;
    }
    size_t klen = strlen(st->pipeline);
    int64_t deadline = now_ms() + timeout_ms;
    int64_t next = lo;
    char *latest = NULL; /* the latest value for our key; NULL = none or tombstone */
    size_t latest_len = 0;
    bool have = false;
    while (next < hi) {
        if (now_ms() > deadline) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                            "reading the state topic %s timed out after %d ms at offset %" PRId64
                            " of %" PRId64,
                            st->topic, timeout_ms, next, hi);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* the end: compaction and transaction markers leave offsets without records */
            bool end = m->offset >= hi;
            rd_kafka_message_destroy(m);
            if (end) {
                break;
            }
            continue;
        }
        if (m->err) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                            "reading the state topic %s failed: %s", st->topic,
                            rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            break;
        }
        next = m->offset + 1;
        if (m->key_len == klen && memcmp(m->key, st->pipeline, klen) == 0) {
            free(latest);
            latest = NULL;
            have = m->payload != NULL;
            if (have) {
                latest = malloc(m->len + 1);
                if (!latest) {
                    err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
                    rd_kafka_message_destroy(m);
                    break;
                }
                memcpy(latest, m->payload, m->len);
                latest[m->len] = '\0';
                latest_len = m->len;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (err == RC_OK && have) {
        char why[512];
        err = rc_state_record_from_json(latest, latest_len, out, why, sizeof(why));
        if (err != RC_OK) {
            rc_seterr(errstr, errstr_size, err,
                      "the position of pipeline %s in topic %s cannot be read (%s); delete it "
                      "with a tombstone or set state.topic to start afresh",
                      st->pipeline, st->topic, why);
        } else {
            *found = true;
        }
    }
    free(latest);
done:
    if (parts) {
        rd_kafka_topic_partition_list_destroy(parts);
    }
    if (c) {
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
    }
    if (conf) {
        rd_kafka_conf_destroy(conf);
    }
    return err;
}

rc_err_t rc_state_save(rc_state_t *st, const rc_state_record_t *r, char *errstr,
                       size_t errstr_size) {
    rc_buf_t v = RC_BUF_INIT;
    if (rc_state_record_to_json(r, &v) != RC_OK) {
        rc_buf_free(&v);
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    rd_kafka_resp_err_t e =
        rd_kafka_producev(st->rk, RD_KAFKA_V_TOPIC(st->topic), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(st->pipeline, strlen(st->pipeline)),
                          RD_KAFKA_V_VALUE(v.data, v.len), RD_KAFKA_V_END);
    rc_buf_free(&v);
    if (e) {
        return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                         "pipeline %s: writing its position to %s failed: %s", st->pipeline,
                         st->topic, rd_kafka_err2str(e));
    }
    rd_kafka_poll(st->rk, 0);
    return RC_OK;
}

rc_err_t rc_state_poll(rc_state_t *st, char *errstr, size_t errstr_size) {
    rd_kafka_poll(st->rk, 0);
    if (atomic_load(&st->failed)) {
        return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "%s", st->fail_msg);
    }
    return RC_OK;
}

rc_err_t rc_state_flush(rc_state_t *st, int timeout_ms, char *errstr, size_t errstr_size) {
    rd_kafka_resp_err_t e = rd_kafka_flush(st->rk, timeout_ms);
    if (atomic_load(&st->failed)) {
        return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA, "%s", st->fail_msg);
    }
    if (e) {
        return rc_seterr(errstr, errstr_size, RC_ERR_KAFKA,
                         "pipeline %s: its last position was not acknowledged within %d ms",
                         st->pipeline, timeout_ms);
    }
    return RC_OK;
}

uint64_t rc_state_saved(const rc_state_t *st) {
    return atomic_load(&((rc_state_t *)st)->saved);
}
