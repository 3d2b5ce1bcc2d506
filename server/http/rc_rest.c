/* rc_rest.c: routing and handlers of the REST API under /v1 (Kafka Connect shapes where they
 * fit) and of GET /metrics.
 *
 * Order of checks: unknown path 404, wrong method 405 (with Allow), missing/wrong bearer token
 * on mutating calls 401/403, unknown pipeline 404, bad body 400 (naming the field), conflicting
 * state change 409. State changes answer 202 with the status at that moment: they take effect
 * asynchronously. Creating a pipeline, replacing its config or its scripts (PUT .../transform)
 * compiles scripts, whose top-level code may run long, so that work runs on a job thread and the
 * loop answers when it is done;
 * so does POST /v1/transform/test, which runs a user's script on a sample event. */
#include "rc_rest.h"

#include <libfyaml.h>
#include <librdkafka/rdkafka.h>
#include <msgpack.h>
#include <mysql.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "rc_json.h"
#include "rc_script.h"
#include "rc_version.h"

rc_err_t rc_rest_init(rc_rest_t *r, rc_pipeline_ctl_t *ctl, const char *token, char *errstr,
                      size_t errstr_size) {
    memset(r, 0, sizeof(*r));
    r->ctl = ctl;
    if (token) {
        if (token[0] == '\0') {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "http.token_file: the token is empty");
        }
        SHA256((const unsigned char *)token, strlen(token), r->token_sha256);
        r->has_token = true;
    }
    return RC_OK;
}

static void send_buf(h2o_req_t *req, int status, const char *reason, const char *ctype,
                     rc_buf_t *body) {
    char *copy = h2o_mem_alloc_pool(&req->pool, body->len ? body->len : 1);
    memcpy(copy, body->data, body->len);
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                   strlen(ctype));
    h2o_send_inline(req, copy, body->len);
    rc_buf_free(body);
}

/* {"error": msg} or, when field is not NULL, {"error": msg, "field": field}: the key path of the
 * request body value at fault ("" for the body as a whole). */
static int send_error_field(h2o_req_t *req, int status, const char *reason, const char *msg,
                            const char *field) {
    rc_buf_t b = RC_BUF_INIT;
    rc_buf_puts(&b, "{\"error\":");
    rc_json_write_string(&b, msg, strlen(msg));
    if (field) {
        rc_buf_puts(&b, ",\"field\":");
        rc_json_write_string(&b, field, strlen(field));
    }
    rc_buf_putc(&b, '}');
    send_buf(req, status, reason, "application/json", &b);
    return 0;
}

static int send_error(h2o_req_t *req, int status, const char *reason, const char *msg) {
    return send_error_field(req, status, reason, msg, NULL);
}

static void put_str(rc_buf_t *b, const char *s) {
    rc_json_write_string(b, s, strlen(s));
}

/* The last transaction boundary read (where a start goes on from), or null before the first. */
static void write_position(rc_buf_t *b, rc_pipeline_t *p) {
    rc_pipeline_position_t pos;
    rc_pipeline_get_position(p, &pos);
    if (!pos.file[0]) {
        rc_buf_puts(b, "null");
        return;
    }
    rc_buf_puts(b, "{\"file\":");
    put_str(b, pos.file);
    rc_buf_printf(b, ",\"pos\":%llu,\"gtid\":", (unsigned long long)pos.pos);
    put_str(b, pos.gtid);
    rc_buf_putc(b, '}');
}

void rc_rest_write_status(rc_buf_t *b, rc_pipeline_t *p) {
    char reason[1024];
    rc_pipeline_state_t st = rc_pipeline_status(p, reason, sizeof(reason));
    rc_pipeline_stats_t s;
    rc_pipeline_get_stats(p, &s);
    rc_buf_puts(b, "{\"name\":");
    put_str(b, rc_pipeline_name(p));
    rc_buf_puts(b, ",\"state\":");
    put_str(b, rc_pipeline_state_name(st));
    rc_buf_puts(b, ",\"reason\":");
    put_str(b, reason);
    rc_buf_printf(b, ",\"pause_requested\":%s", rc_pipeline_pause_requested(p) ? "true" : "false");
    rc_buf_puts(b, ",\"position\":");
    write_position(b, p);
    rc_buf_putc(b, ',');
    rc_pipeline_write_state_json(p, b);
    rc_buf_puts(b, ",\"lag_seconds\":");
    if (s.last_event_ts) {
        double lag = (double)time(NULL) - (double)s.last_event_ts;
        rc_buf_printf(b, "%.0f", lag > 0 ? lag : 0.0);
    } else {
        rc_buf_puts(b, "null");
    }
    rc_buf_printf(b,
                  ",\"counters\":{\"events_read\":%llu,\"events_produced\":%llu,"
                  "\"events_delivered\":%llu,\"events_failed\":%llu,\"transactions\":%llu,"
                  "\"binlog_bytes_read\":%llu,\"batches\":%llu,\"reconnects\":%llu,"
                  "\"queue_batches\":%llu}}",
                  (unsigned long long)s.events_read, (unsigned long long)s.events_produced,
                  (unsigned long long)s.events_delivered, (unsigned long long)s.events_failed,
                  (unsigned long long)s.transactions, (unsigned long long)s.bytes_read,
                  (unsigned long long)s.batches, (unsigned long long)s.reconnects,
                  (unsigned long long)s.queue_depth);
}

static bool method_is(h2o_req_t *req, const char *m) {
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* 401 without credentials, 403 with a wrong token; 0 when the call may proceed. */
static int check_token(rc_rest_t *r, h2o_req_t *req) {
    if (!r->has_token) {
        return 0;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"rowcast\""));
        send_error(req, 401, "Unauthorized",
                   "this call needs an Authorization: Bearer <token> header");
        return -1;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"rowcast\""));
        send_error(req, 401, "Unauthorized", "the Authorization header is not a Bearer token");
        return -1;
    }
    uint8_t got[32];
    SHA256((const unsigned char *)v.base + 7, v.len - 7, got);
    if (CRYPTO_memcmp(got, r->token_sha256, sizeof(got)) != 0) {
        send_error(req, 403, "Forbidden", "the bearer token is wrong");
        return -1;
    }
    return 0;
}

static int method_not_allowed(h2o_req_t *req, const char *allow, const char *path) {
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    char msg[512];
    snprintf(msg, sizeof(msg), "method %.*s is not allowed on %s: use %s",
             (int)(req->method.len > 16 ? 16 : req->method.len), req->method.base, path, allow);
    return send_error(req, 405, "Method Not Allowed", msg);
}

static int on_info(h2o_req_t *req) {
    rc_buf_t b = RC_BUF_INIT;
    rc_buf_puts(&b, "{\"version\":");
    put_str(&b, RC_VERSION);
    rc_buf_puts(&b, ",\"libraries\":{\"librdkafka\":");
    put_str(&b, rd_kafka_version_str());
    rc_buf_puts(&b, ",\"mariadb-connector-c\":");
    put_str(&b, mysql_get_client_info());
    rc_buf_puts(&b, ",\"h2o\":");
    put_str(&b, H2O_VERSION);
    rc_buf_puts(&b, ",\"msgpack-c\":");
    put_str(&b, msgpack_version());
    rc_buf_puts(&b, ",\"openssl\":");
    put_str(&b, OpenSSL_version(OPENSSL_VERSION));
    rc_buf_puts(&b, ",\"zstd\":");
    put_str(&b, ZSTD_versionString());
    rc_buf_puts(&b, ",\"zlib\":");
    put_str(&b, zlibVersion());
    rc_buf_puts(&b, "}}");
    send_buf(req, 200, "OK", "application/json", &b);
    return 0;
}

/* True when the query string has expand=status among its &-separated parameters. */
static bool wants_status(h2o_req_t *req) {
    if (req->query_at == SIZE_MAX) {
        return false;
    }
    const char *q = req->path.base + req->query_at + 1;
    const char *end = req->path.base + req->path.len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if (h2o_memis(q, (size_t)(stop - q), H2O_STRLIT("expand=status"))) {
            return true;
        }
        q = stop + 1;
    }
    return false;
}

static int on_list(rc_rest_t *r, h2o_req_t *req) {
    rc_buf_t b = RC_BUF_INIT;
    size_t n = rc_pipeline_ctl_count(r->ctl);
    bool expand = wants_status(req);
    rc_buf_putc(&b, expand ? '{' : '[');
    for (size_t i = 0; i < n; i++) {
        rc_pipeline_t *p = rc_pipeline_ctl_get(r->ctl, i);
        if (i) {
            rc_buf_putc(&b, ',');
        }
        put_str(&b, rc_pipeline_name(p));
        if (expand) {
            rc_buf_puts(&b, ":{\"status\":");
            rc_rest_write_status(&b, p);
            rc_buf_putc(&b, '}');
        }
    }
    rc_buf_putc(&b, expand ? '}' : ']');
    send_buf(req, 200, "OK", "application/json", &b);
    return 0;
}

typedef enum action {
    ACT_NONE, /* /v1/pipelines/{name} */
    ACT_STATUS,
    ACT_CONFIG,
    ACT_PAUSE,
    ACT_RESUME,
    ACT_STOP,
    ACT_RESTART,
    ACT_POSITION,
    ACT_TRANSFORM,
} action_t;

static const struct {
    const char *word;
    action_t act;
    const char *methods; /* the Allow header: GET first when there is one */
} actions[] = {
    {"status", ACT_STATUS, "GET"},
    {"config", ACT_CONFIG, "GET, PUT"},
    {"pause", ACT_PAUSE, "PUT"},
    {"resume", ACT_RESUME, "PUT"},
    {"stop", ACT_STOP, "PUT"},
    {"restart", ACT_RESTART, "POST"},
    {"position", ACT_POSITION, "GET, PATCH"},
    {"transform", ACT_TRANSFORM, "GET, PUT"},
};

/* True when the request's method is one of the comma-separated list. */
static bool method_in(h2o_req_t *req, const char *list) {
    const char *m = list;
    while (*m) {
        size_t n = strcspn(m, ",");
        if (h2o_memis(req->method.base, req->method.len, m, n)) {
            return true;
        }
        m += n;
        while (*m == ',' || *m == ' ') {
            m++;
        }
    }
    return false;
}

/* The request body, or 400 (and NULL) when there is none. */
static const char *body_of(h2o_req_t *req, size_t *len) {
    if (req->entity.base == NULL || req->entity.len == 0) {
        send_error_field(req, 400, "Bad Request", "the request body is empty: send a JSON object",
                         "");
        return NULL;
    }
    *len = req->entity.len;
    return req->entity.base;
}

/* 422 for a script that does not load: {"error": msg, "field": "transforms[i].script", "line": N}
 * where msg has the script's "transforms[i]:LINE:" (no line when the engine gave none). */
static int send_script_error(h2o_req_t *req, const char *errstr, const char *field) {
    rc_buf_t b = RC_BUF_INIT;
    rc_buf_puts(&b, "{\"error\":");
    put_str(&b, errstr);
    if (field[0]) {
        rc_buf_puts(&b, ",\"field\":");
        put_str(&b, field);
    }
    char stem[64]; /* "transforms[i]" */
    snprintf(stem, sizeof(stem), "%.*s", (int)strcspn(field, "."), field);
    for (const char *at = stem[0] ? strstr(errstr, stem) : NULL; at; at = strstr(at + 1, stem)) {
        const char *c = at + strlen(stem);
        char *end;
        unsigned long line =
            c[0] == ':' && c[1] >= '0' && c[1] <= '9' ? strtoul(c + 1, &end, 10) : 0;
        if (line > 0 && *end == ':') {
            rc_buf_printf(&b, ",\"line\":%lu", line);
            break;
        }
    }
    rc_buf_putc(&b, '}');
    send_buf(req, 422, "Unprocessable Entity", "application/json", &b);
    return 0;
}

static int send_ctl_error(h2o_req_t *req, rc_ctl_result_t r, const char *errstr,
                          const char *field) {
    switch (r) {
    case RC_CTL_UNPROCESSABLE:
        return send_script_error(req, errstr, field);
    case RC_CTL_BAD_REQUEST:
        return send_error_field(req, 400, "Bad Request", errstr, field);
    case RC_CTL_NOT_FOUND:
        return send_error(req, 404, "Not Found", errstr);
    case RC_CTL_CONFLICT:
        return send_error_field(req, 409, "Conflict", errstr, field[0] ? field : NULL);
    default:
        return send_error(req, 500, "Internal Server Error", errstr);
    }
}

/* One pipeline as {name, config, status}. */
static void write_pipeline(rc_buf_t *b, rc_pipeline_t *p) {
    rc_buf_puts(b, "{\"name\":");
    put_str(b, rc_pipeline_name(p));
    rc_buf_puts(b, ",\"config\":");
    rc_config_pipeline_write_json(rc_pipeline_config(p), b);
    rc_buf_puts(b, ",\"status\":");
    rc_rest_write_status(b, p);
    rc_buf_putc(b, '}');
}

typedef enum job_kind {
    JOB_CREATE,
    JOB_REPLACE,
    JOB_TRANSFORM_TEST,
    JOB_SET_TRANSFORMS,
} job_kind_t;

/* A create, config or script replacement or transform test running on its own thread. The loop owns req
 * and slot; the thread touches only the copied body and the result fields. */
typedef struct job {
    h2o_multithread_message_t super; /* first: the queue links jobs through it */
    rc_rest_t *rest;
    h2o_req_t *req;    /* NULL once the client is gone (its pool was disposed) */
    struct job **slot; /* in req's pool; cleared when the job answers first */
    job_kind_t kind;
    char name[128]; /* replace: the pipeline in the path; create: the one made */
    char *body;
    size_t len;
    rc_ctl_result_t res;
    char field[256], errstr[1024];
    /* transform test: the HTTP status and, when 200, the response body */
    int status;
    rc_buf_t out;
} job_t;

#define TTEST_BUDGET_DEFAULT_MS 1000
#define TTEST_BUDGET_MAX_MS     10000
#define TTEST_MEMORY_BYTES      ((size_t)256 << 20) /* transform_memory_mb's default */

/* A scalar of m written in JSON quotes, or NULL (also when m has no key). */
static const char *quoted_value(struct fy_node *m, const char *key, size_t *len) {
    struct fy_node *v = fy_node_mapping_lookup_by_string(m, key, FY_NT);
    if (!v || !fy_node_is_scalar(v) || fy_node_get_style(v) == FYNS_PLAIN) {
        return NULL;
    }
    return fy_node_get_scalar(v, len);
}

/* POST /v1/transform/test: checks the body, runs the script (rc_script_test, as `rowcast
 * transform-test` does) and fills status, and out or errstr/field. @thread job */
static void transform_test(job_t *j) {
    static const char *const keys[] = {"engine", "script", "event", "budget_ms"};
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_JSON_FORCE};
    struct fy_document *doc = fy_document_build_from_string(&cfg, j->body, j->len);
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    j->status = 400;
    if (!root || !fy_node_is_mapping(root)) {
        snprintf(j->errstr, sizeof(j->errstr), "the request body is not a JSON object");
        goto done;
    }
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &it)) != NULL) {
        size_t klen;
        const char *k = fy_node_get_scalar(fy_node_pair_key(pair), &klen);
        size_t i = 0;
        while (k && i < sizeof(keys) / sizeof(keys[0]) &&
               !(strlen(keys[i]) == klen && memcmp(keys[i], k, klen) == 0)) {
            i++;
        }
        if (!k || i == sizeof(keys) / sizeof(keys[0])) {
            snprintf(j->field, sizeof(j->field), "%.*s", k ? (int)(klen > 200 ? 200 : klen) : 0,
                     k ? k : "");
            snprintf(j->errstr, sizeof(j->errstr),
                     "unknown key '%s' (engine, script, event, budget_ms)", j->field);
            goto done;
        }
    }
    size_t elen, slen;
    const char *engine = quoted_value(root, "engine", &elen);
    if (!engine || !((elen == 3 && memcmp(engine, "lua", 3) == 0) ||
                     (elen == 2 && memcmp(engine, "js", 2) == 0))) {
        snprintf(j->field, sizeof(j->field), "engine");
        snprintf(j->errstr, sizeof(j->errstr), "engine: required, \"lua\" or \"js\"");
        goto done;
    }
    const char *script = quoted_value(root, "script", &slen);
    if (!script) {
        snprintf(j->field, sizeof(j->field), "script");
        snprintf(j->errstr, sizeof(j->errstr), "script: required, the script's text as a string");
        goto done;
    }
    struct fy_node *event = fy_node_mapping_lookup_by_string(root, "event", FY_NT);
    if (!event || !fy_node_is_mapping(event)) {
        snprintf(j->field, sizeof(j->field), "event");
        snprintf(j->errstr, sizeof(j->errstr), "event: required, a cdc_event as a JSON object");
        goto done;
    }
    unsigned budget = TTEST_BUDGET_DEFAULT_MS;
    struct fy_node *b = fy_node_mapping_lookup_by_string(root, "budget_ms", FY_NT);
    if (b) {
        size_t blen;
        const char *bs = fy_node_is_scalar(b) && fy_node_get_style(b) == FYNS_PLAIN
                             ? fy_node_get_scalar(b, &blen)
                             : NULL;
        char num[16];
        char *end = num;
        unsigned long v = 0;
        if (bs && blen > 0 && blen < sizeof(num)) {
            memcpy(num, bs, blen);
            num[blen] = '\0';
            v = num[0] >= '0' && num[0] <= '9' ? strtoul(num, &end, 10) : 0;
            if (end == num || *end != '\0') {
                v = 0;
            }
        }
        if (v < 1 || v > TTEST_BUDGET_MAX_MS) {
            snprintf(j->field, sizeof(j->field), "budget_ms");
            snprintf(j->errstr, sizeof(j->errstr), "budget_ms: an integer from 1 to %d",
                     TTEST_BUDGET_MAX_MS);
            goto done;
        }
        budget = (unsigned)v;
    }
    /* The script's text must be a C string for the engines' messages only through len. */
    rc_transform_spec_t spec = {
        .engine = elen == 3 ? "lua" : "js",
        .file = "script",
        .budget_ms = budget,
        .memory_bytes = TTEST_MEMORY_BYTES,
        .source = script,
        .source_len = slen,
    };
    rc_buf_t events = RC_BUF_INIT;
    uint32_t n;
    bool ran;
    if (rc_script_test(&spec, event, ",", &events, &n, &ran, j->errstr, sizeof(j->errstr)) !=
        RC_OK) {
        rc_buf_free(&events);
        j->status = 422;
        goto done;
    }
    rc_buf_printf(&j->out, "{\"action\":\"%s\",\"events\":[", n ? "send" : "drop");
    rc_buf_append(&j->out, events.data, events.len);
    rc_buf_puts(&j->out, "]}");
    rc_buf_free(&events);
    j->status = 200;
done:
    fy_document_destroy(doc);
}

static void on_req_gone(void *p) {
    job_t *j = *(job_t **)p;
    if (j) {
        j->req = NULL; /* the answer will have nobody to go to */
    }
}

/* @thread job */
static void *job_main(void *arg) {
    job_t *j = arg;
    rc_pipeline_ctl_t *ctl = j->rest->ctl;
    if (j->kind == JOB_TRANSFORM_TEST) {
        transform_test(j);
    } else if (j->kind == JOB_SET_TRANSFORMS) {
        j->res = rc_pipeline_ctl_set_transforms(ctl, j->name, j->body, j->len, j->field,
                                                sizeof(j->field), j->errstr, sizeof(j->errstr));
    } else if (j->kind == JOB_REPLACE) {
        j->res = rc_pipeline_ctl_replace(ctl, j->name, j->body, j->len, j->field, sizeof(j->field),
                                         j->errstr, sizeof(j->errstr));
    } else {
        j->res = rc_pipeline_ctl_create(ctl, j->body, j->len, j->name, sizeof(j->name), j->field,
                                        sizeof(j->field), j->errstr, sizeof(j->errstr));
    }
    explicit_bzero(j->body, j->len); /* it may hold a password */
    h2o_multithread_send_message(&j->rest->done, &j->super);
    rc_pipeline_ctl_job_end(ctl); /* after the send: detach must not find a job in flight */
    return NULL;
}

static void job_free(job_t *j) {
    if (j->slot && j->req) {
        *j->slot = NULL;
    }
    free(j->body);
    rc_buf_free(&j->out);
    free(j);
}

/* The loop answers a finished job. @thread http */
static void job_answer(job_t *j) {
    h2o_req_t *req = j->req;
    if (!req) {
        return;
    }
    if (j->kind == JOB_TRANSFORM_TEST) {
        if (j->status == 200) {
            send_buf(req, 200, "OK", "application/json", &j->out);
        } else if (j->status == 422) {
            send_error(req, 422, "Unprocessable Entity", j->errstr);
        } else {
            send_error_field(req, 400, "Bad Request", j->errstr, j->field);
        }
        return;
    }
    if (j->res != RC_CTL_OK) {
        send_ctl_error(req, j->res, j->errstr, j->field);
        return;
    }
    rc_buf_t b = RC_BUF_INIT;
    rc_pipeline_ctl_rdlock(j->rest->ctl);
    rc_pipeline_t *p = rc_pipeline_ctl_find(j->rest->ctl, j->name, strlen(j->name));
    if (p) {
        if (j->kind == JOB_REPLACE || j->kind == JOB_SET_TRANSFORMS) {
            rc_rest_write_status(&b, p);
        } else {
            write_pipeline(&b, p);
        }
    }
    rc_pipeline_ctl_unlock(j->rest->ctl);
    if (!p) { /* deleted in the meantime by another request */
        rc_buf_free(&b);
        char msg[200];
        snprintf(msg, sizeof(msg), "no such pipeline: %s (deleted meanwhile)", j->name);
        send_error(req, 404, "Not Found", msg);
        return;
    }
    if (j->kind == JOB_REPLACE || j->kind == JOB_SET_TRANSFORMS) {
        send_buf(req, 202, "Accepted", "application/json", &b);
        return;
    }
    char loc[256];
    int n = snprintf(loc, sizeof(loc), "/v1/pipelines/%s", j->name);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL,
                   h2o_strdup(&req->pool, loc, (size_t)n).base, (size_t)n);
    send_buf(req, 201, "Created", "application/json", &b);
}

static void on_jobs_done(h2o_multithread_receiver_t *recv, h2o_linklist_t *messages) {
    (void)recv;
    while (!h2o_linklist_is_empty(messages)) {
        job_t *j = H2O_STRUCT_FROM_MEMBER(job_t, super.link, messages->next);
        h2o_linklist_unlink(&j->super.link);
        job_answer(j);
        job_free(j);
    }
}

void rc_rest_attach(rc_rest_t *r, h2o_loop_t *loop) {
    r->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(r->queue, &r->done, on_jobs_done);
}

void rc_rest_detach(rc_rest_t *r) {
    if (!r->queue) {
        return;
    }
    /* No job runs now; answers not yet delivered go nowhere (the connections are closing). */
    while (!h2o_linklist_is_empty(&r->done._messages)) {
        job_t *j = H2O_STRUCT_FROM_MEMBER(job_t, super.link, r->done._messages.next);
        h2o_linklist_unlink(&j->super.link);
        job_free(j); /* clears the slot of a request still open */
    }
    h2o_multithread_unregister_receiver(r->queue, &r->done);
    h2o_multithread_destroy_queue(r->queue);
    r->queue = NULL;
}

/* POST /v1/pipelines, PUT /v1/pipelines/{name}/config and POST /v1/transform/test: the work
 * goes to a job thread, since building a pipeline runs its scripts' top-level code; the answer
 * comes from on_jobs_done. name is the pipeline of a replacement. Called without the list lock. */
static int start_job(rc_rest_t *r, h2o_req_t *req, job_kind_t kind, const char *name,
                     size_t name_len) {
    size_t len;
    const char *body = body_of(req, &len);
    if (!body) {
        return 0;
    }
    job_t *j = calloc(1, sizeof(*j));
    if (!j || !(j->body = malloc(len))) {
        free(j);
        return send_error(req, 500, "Internal Server Error", "out of memory");
    }
    memcpy(j->body, body, len);
    j->len = len;
    j->rest = r;
    j->req = req;
    j->kind = kind;
    if (name) {
        snprintf(j->name, sizeof(j->name), "%.*s", (int)name_len, name);
    }
    if (!rc_pipeline_ctl_job_begin(r->ctl)) {
        free(j->body);
        free(j);
        return send_error(req, 409, "Conflict", "the server is shutting down");
    }
    j->slot = h2o_mem_alloc_shared(&req->pool, sizeof(*j->slot), on_req_gone);
    *j->slot = j;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, job_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        *j->slot = NULL;
        rc_pipeline_ctl_job_end(r->ctl);
        free(j->body);
        free(j);
        return send_error(req, 500, "Internal Server Error", "cannot start a thread");
    }
    return 0;
}

/* POST /v1/pipelines. */
static int on_create(rc_rest_t *r, h2o_req_t *req) {
    if (check_token(r, req) != 0) {
        return 0;
    }
    return start_job(r, req, JOB_CREATE, NULL, 0);
}

/* POST /v1/transform/test: runs user code, so it needs the token when one is set. */
static int on_transform_test(rc_rest_t *r, h2o_req_t *req) {
    if (check_token(r, req) != 0) {
        return 0;
    }
    return start_job(r, req, JOB_TRANSFORM_TEST, NULL, 0);
}

static int not_found(h2o_req_t *req, const char *path, size_t len) {
    rc_buf_t msg = RC_BUF_INIT;
    rc_buf_printf(&msg, "no such endpoint: %.*s", (int)(len > 200 ? 200 : len), path);
    rc_buf_putc(&msg, '\0');
    send_error(req, 404, "Not Found", msg.data);
    rc_buf_free(&msg);
    return 0;
}

static int on_pipeline(rc_rest_t *r, h2o_req_t *req, const char *name, size_t name_len,
                       const char *rest, size_t rest_len, const char *path) {
    action_t act = ACT_NONE;
    const char *method = "GET, DELETE";
    if (rest_len > 0) {
        size_t i;
        for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
            if (h2o_memis(rest, rest_len, actions[i].word, strlen(actions[i].word))) {
                break;
            }
        }
        if (i == sizeof(actions) / sizeof(actions[0])) {
            return not_found(req, path, strlen(path));
        }
        act = actions[i].act;
        method = actions[i].methods;
    }
    if (!method_in(req, method)) {
        return method_not_allowed(req, method, path);
    }
    bool mutating = !method_is(req, "GET");
    if (mutating && check_token(r, req) != 0) {
        return 0;
    }
    rc_pipeline_t *p = rc_pipeline_ctl_find(r->ctl, name, name_len);
    if (!p) {
        rc_buf_t msg = RC_BUF_INIT;
        rc_buf_printf(&msg, "no such pipeline: %.*s", (int)(name_len > 100 ? 100 : name_len), name);
        rc_buf_putc(&msg, '\0');
        send_error(req, 404, "Not Found", msg.data);
        rc_buf_free(&msg);
        return 0;
    }
    rc_buf_t b = RC_BUF_INIT;
    if (act == ACT_CONFIG && mutating) {
        return start_job(r, req, JOB_REPLACE, name, name_len);
    }
    if (act == ACT_TRANSFORM && mutating) {
        return start_job(r, req, JOB_SET_TRANSFORMS, name, name_len);
    }
    if (act == ACT_POSITION) {
        if (mutating) {
            size_t len;
            const char *body = body_of(req, &len);
            if (!body) {
                return 0;
            }
            rc_position_config_t at;
            char field[256], errstr[1024];
            if (rc_config_position_parse(body, len, &at, field, sizeof(field), errstr,
                                         sizeof(errstr)) != RC_OK) {
                return send_error_field(req, 400, "Bad Request", errstr, field);
            }
            char spec[1024];
            if (at.start) {
                snprintf(spec, sizeof(spec), "%s", at.start);
            } else {
                snprintf(spec, sizeof(spec), "file:%s:%u", at.file, (unsigned)at.pos);
            }
            rc_err_t err = rc_pipeline_ctl_seek(r->ctl, p, spec, errstr, sizeof(errstr));
            rc_config_position_free(&at);
            if (err != RC_OK) {
                return send_error(req, 409, "Conflict", errstr);
            }
        }
        write_position(&b, p);
        send_buf(req, 200, "OK", "application/json", &b);
        return 0;
    }
    switch (act) {
    case ACT_NONE:
        if (!mutating) {
            write_pipeline(&b, p);
            break;
        }
        /* DELETE */
        /* fall through */
    default: {
        rc_pipeline_op_t op = act == ACT_NONE     ? RC_PIPELINE_OP_DELETE
                              : act == ACT_PAUSE  ? RC_PIPELINE_OP_PAUSE
                              : act == ACT_RESUME ? RC_PIPELINE_OP_RESUME
                              : act == ACT_STOP   ? RC_PIPELINE_OP_STOP
                                                  : RC_PIPELINE_OP_RESTART;
        char errstr[512];
        rc_err_t err = rc_pipeline_ctl_request(r->ctl, p, op, errstr, sizeof(errstr));
        if (err == RC_ERR_INVALID) {
            return send_error(req, 409, "Conflict", errstr);
        }
        if (err != RC_OK) {
            return send_error(req, 500, "Internal Server Error", errstr);
        }
        rc_rest_write_status(&b, p);
        send_buf(req, 202, "Accepted", "application/json", &b);
        return 0;
    }
    case ACT_STATUS:
        rc_rest_write_status(&b, p);
        break;
    case ACT_CONFIG:
        rc_config_pipeline_write_json(rc_pipeline_config(p), &b);
        break;
    case ACT_TRANSFORM:
        rc_pipeline_ctl_write_transforms(r->ctl, p, &b);
        break;
    }
    send_buf(req, 200, "OK", "application/json", &b);
    return 0;
}

static int route_v1(rc_rest_t *r, h2o_req_t *req, const char *path, size_t len);

int rc_rest_on_v1(rc_rest_t *r, h2o_req_t *req) {
    /* path_normalized has no query string; at most one trailing slash is ignored */
    size_t len = req->path_normalized.len > 1024 ? 1024 : req->path_normalized.len;
    char path[1025];
    memcpy(path, req->path_normalized.base, len);
    path[len] = '\0';
    if (len > 1 && path[len - 1] == '/') {
        path[--len] = '\0';
    }
    if (strcmp(path, "/v1/pipelines") == 0 && method_is(req, "POST")) {
        return on_create(r, req);
    }
    if (strcmp(path, "/v1/transform/test") == 0) {
        return method_is(req, "POST") ? on_transform_test(r, req)
                                      : method_not_allowed(req, "POST", path);
    }
    rc_pipeline_ctl_rdlock(r->ctl);
    int ret = route_v1(r, req, path, len);
    rc_pipeline_ctl_unlock(r->ctl);
    return ret;
}

static int route_v1(rc_rest_t *r, h2o_req_t *req, const char *path, size_t len) {
    if (strcmp(path, "/v1/info") == 0) {
        return method_is(req, "GET") ? on_info(req) : method_not_allowed(req, "GET", path);
    }
    if (strcmp(path, "/v1/pipelines") == 0) {
        return method_is(req, "GET") ? on_list(r, req) : method_not_allowed(req, "GET, POST", path);
    }
    static const char prefix[] = "/v1/pipelines/";
    if (strncmp(path, prefix, sizeof(prefix) - 1) == 0) {
        const char *name = path + sizeof(prefix) - 1;
        const char *slash = strchr(name, '/');
        size_t name_len = slash ? (size_t)(slash - name) : strlen(name);
        const char *rest = slash ? slash + 1 : "";
        if (name_len > 0 && !strchr(rest, '/')) {
            return on_pipeline(r, req, name, name_len, rest, strlen(rest), path);
        }
    }
    return not_found(req, path, len);
}

int rc_rest_on_metrics(rc_rest_t *r, h2o_req_t *req) {
    if (!method_is(req, "GET")) {
        return method_not_allowed(req, "GET", "/metrics");
    }
    rc_buf_t b = RC_BUF_INIT;
    rc_pipeline_ctl_rdlock(r->ctl);
    rc_metrics_write(&b, r->ctl);
    rc_pipeline_ctl_unlock(r->ctl);
    send_buf(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", &b);
    return 0;
}
