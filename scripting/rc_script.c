/* rc_script.c: the engine registry, the output check shared by the engines, and chains.
 *
 * A chain runs a batch through its transforms in order. Each stage is one crossing into its
 * engine: the events that match the stage's schema/table patterns are run, the others are
 * copied through, and the stage's output becomes the next stage's input (two buffers swap,
 * so a batch costs no allocation once they have grown). A drop ends an event's way. */
#include "rc_script.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_log.h"
#include "rc_mp.h"
#include "rc_script_int.h"

#define TOPIC_MAX 249

const rc_script_engine_t *rc_script_engine_find(const char *name) {
    static const rc_script_engine_t *const engines[] = {&rc_script_lua, &rc_script_js};
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        if (name && strcmp(engines[i]->name, name) == 0) {
            return engines[i];
        }
    }
    return NULL;
}

bool rc_script_check_event(const uint8_t *ev, size_t len, char *why, size_t why_size) {
    const uint8_t *end = ev + len, *kafka;
    if (rc_mp_map_find(ev, end, "kafka", &kafka) != RC_OK) {
        snprintf(why, why_size, "the event has no kafka.topic");
        return false;
    }
    return rc_script_check_kafka(kafka, end, why, why_size);
}

bool rc_script_check_kafka(const uint8_t *kafka, const uint8_t *end, char *why, size_t why_size) {
    const uint8_t *topicp;
    const char *topic;
    uint32_t n;
    if (rc_mp_map_find(kafka, end, "topic", &topicp) != RC_OK) {
        snprintf(why, why_size, "the event has no kafka.topic");
        return false;
    }
    if (rc_mp_read_str(&topicp, end, &topic, &n) != RC_OK) {
        snprintf(why, why_size, "kafka.topic must be a string");
        return false;
    }
    /* the events of a batch mostly go to one topic: the last valid name is remembered */
    static __thread uint32_t valid_len;
    static __thread char valid[TOPIC_MAX];
    if (n >= 1 && n == valid_len && memcmp(topic, valid, n) == 0) {
        return true;
    }
    bool ok = n >= 1 && n <= TOPIC_MAX;
    for (uint32_t i = 0; ok && i < n; i++) {
        ok = isalnum((unsigned char)topic[i]) || topic[i] == '.' || topic[i] == '_' ||
             topic[i] == '-';
    }
    if (ok) {
        memcpy(valid, topic, n);
        valid_len = n;
    } else {
        snprintf(why, why_size,
                 "kafka.topic \"%.*s\" is not a valid Kafka topic name: use 1 to %d characters "
                 "from A-Z a-z 0-9 . _ -",
                 (int)(n > 300 ? 300 : n), topic, TOPIC_MAX);
    }
    return ok;
}

/* ---- chains ---- */

/* The last name a match pattern was run on and its result: the events of a batch mostly
 * come from one table, so most events skip regexec. */
typedef struct match_memo {
    bool valid, ok;
    uint32_t len;
    char name[256];
} match_memo_t;

typedef struct stage {
    const rc_script_engine_t *engine;
    void *vm;
    char *file;
    regex_t schema_re, table_re;
    bool has_schema, has_table;
    match_memo_t schema_memo, table_memo;
} stage_t;

struct rc_transform_chain {
    char *pipeline;
    rc_on_error_t on_error;
    stage_t *stages;
    size_t n_stages;
    /* per-batch scratch, grown as needed */
    msgpack_sbuffer spare;
    rc_span_t *spans;
    bool *run;
    rc_script_result_t *res;
    uint32_t cap;
    rc_buf_t errs;
    rc_transform_stats_t stats;
    time_t last_log;
    uint64_t unlogged;
    uint32_t *marks; /* extra boundaries mapped by the next run (rc_transform_chain_set_marks) */
    size_t n_marks;
    char *dead_letter_topic; /* on_error: dead_letter */
    msgpack_sbuffer dl;      /* a stage's output rebuilt with its dead letters */
};

void rc_transform_chain_set_marks(rc_transform_chain_t *c, uint32_t *marks, size_t n) {
    c->marks = marks;
    c->n_marks = n;
}

static char *read_file(const char *path, size_t *len, char *errstr, size_t errstr_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot read the script: %m", path);
        return NULL;
    }
    rc_buf_t b = RC_BUF_INIT;
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (rc_buf_append(&b, chunk, got) != RC_OK) {
            break;
        }
    }
    bool bad = ferror(f) || !feof(f);
    fclose(f);
    if (bad || rc_buf_putc(&b, '\0') != RC_OK) {
        rc_buf_free(&b);
        rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: cannot read the script", path);
        return NULL;
    }
    *len = b.len - 1;
    return b.data;
}

static bool compile_match(regex_t *re, const char *src, const char *what, char *errstr,
                          size_t errstr_size) {
    size_t len = strlen(src) + 5;
    char *anchored = malloc(len);
    if (!anchored) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        return false;
    }
    snprintf(anchored, len, "^(%s)$", src);
    int rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB);
    free(anchored);
    if (rc != 0) {
        char msg[128];
        regerror(rc, re, msg, sizeof(msg));
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                  "match.%s '%s' is not a valid regular "
                  "expression: %s",
                  what, src, msg);
        return false;
    }
    return true;
}

rc_transform_chain_t *rc_transform_chain_new(const char *pipeline, const rc_transform_spec_t *specs,
                                             size_t n, const char *base_dir, rc_on_error_t on_error,
                                             char *errstr, size_t errstr_size) {
    char why[1024];
    rc_transform_chain_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->pipeline = strdup(pipeline)) ||
        !(c->stages = calloc(n ? n : 1, sizeof(stage_t)))) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: out of memory", pipeline);
        goto fail;
    }
    c->on_error = on_error;
    msgpack_sbuffer_init(&c->spare);
    msgpack_sbuffer_init(&c->dl);
    for (size_t i = 0; i < n; i++) {
        stage_t *s = &c->stages[i];
        c->n_stages = i + 1;
        s->engine = rc_script_engine_find(specs[i].engine);
        if (!s->engine) {
            rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                      "pipeline %s: transforms[%zu]: unknown engine '%s' (lua or js)", pipeline, i,
                      specs[i].engine ? specs[i].engine : "");
            goto fail;
        }
        const char *f = specs[i].file;
        if (f[0] != '/' && base_dir && base_dir[0]) {
            if (asprintf(&s->file, "%s/%s", base_dir, f) < 0) {
                s->file = NULL;
            }
        } else {
            s->file = strdup(f);
        }
        if (!s->file) {
            rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: out of memory", pipeline);
            goto fail;
        }
        if (specs[i].match_schema) {
            if (!compile_match(&s->schema_re, specs[i].match_schema, "schema", why, sizeof(why))) {
                goto fail_why;
            }
            s->has_schema = true;
        }
        if (specs[i].match_table) {
            if (!compile_match(&s->table_re, specs[i].match_table, "table", why, sizeof(why))) {
                goto fail_why;
            }
            s->has_table = true;
        }
        if (specs[i].source) {
            s->vm = s->engine->create(s->file, specs[i].source, specs[i].source_len,
                                      specs[i].budget_ms, specs[i].memory_bytes, why, sizeof(why));
        } else {
            size_t len;
            char *src = read_file(s->file, &len, why, sizeof(why));
            if (!src) {
                goto fail_why;
            }
            s->vm = s->engine->create(s->file, src, len, specs[i].budget_ms, specs[i].memory_bytes,
                                      why, sizeof(why));
            free(src);
        }
        if (!s->vm) {
            goto fail_why;
        }
        if (s->engine->set_budget && specs[i].budget_ms > 0) {
            s->engine->set_budget(s->vm, specs[i].budget_ms);
        }
        continue;
    fail_why:
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "pipeline %s: transforms[%zu]: %s", pipeline,
                  i, why);
        goto fail;
    }
    return c;
fail:
    rc_transform_chain_destroy(c);
    return NULL;
}

void rc_transform_chain_destroy(rc_transform_chain_t *c) {
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->n_stages; i++) {
        stage_t *s = &c->stages[i];
        if (s->engine) {
            s->engine->destroy(s->vm);
        }
        if (s->has_schema) {
            regfree(&s->schema_re);
        }
        if (s->has_table) {
            regfree(&s->table_re);
        }
        free(s->file);
    }
    free(c->stages);
    msgpack_sbuffer_destroy(&c->spare);
    msgpack_sbuffer_destroy(&c->dl);
    free(c->dead_letter_topic);
    free(c->spans);
    free(c->run);
    free(c->res);
    rc_buf_free(&c->errs);
    free(c->pipeline);
    free(c);
}

rc_err_t rc_transform_chain_set_dead_letter(rc_transform_chain_t *c, const char *topic,
                                            char *errstr, size_t errstr_size) {
    rc_buf_t b = RC_BUF_INIT;
    for (const char *p = topic; *p; p++) {
        rc_err_t err =
            strncmp(p, "{pipeline}", 10) == 0 ? rc_buf_puts(&b, c->pipeline) : rc_buf_putc(&b, *p);
        if (err != RC_OK) {
            rc_buf_free(&b);
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        p += strncmp(p, "{pipeline}", 10) == 0 ? 9 : 0;
    }
    bool ok = b.len >= 1 && b.len <= TOPIC_MAX;
    for (size_t i = 0; ok && i < b.len; i++) {
        ok = isalnum((unsigned char)b.data[i]) || b.data[i] == '.' || b.data[i] == '_' ||
             b.data[i] == '-';
    }
    if (!ok || rc_buf_putc(&b, '\0') != RC_OK) {
        rc_buf_free(&b);
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "pipeline %s: dead_letter_topic \"%s\" is not a valid Kafka topic name: "
                         "use 1 to %d characters from A-Z a-z 0-9 . _ - (and {pipeline})",
                         c->pipeline, topic, TOPIC_MAX);
    }
    free(c->dead_letter_topic);
    c->dead_letter_topic = b.data;
    c->on_error = RC_ON_ERROR_DEAD_LETTER;
    return RC_OK;
}

void rc_transform_chain_get_stats(rc_transform_chain_t *c, rc_transform_stats_t *out) {
    *out = c->stats;
}

size_t rc_transform_chain_memory(rc_transform_chain_t *c) {
    size_t total = 0;
    for (size_t i = 0; i < c->n_stages; i++) {
        const rc_script_engine_t *e = c->stages[i].engine;
        total += e->memory_used ? e->memory_used(c->stages[i].vm) : 0;
    }
    return total;
}

static bool reserve(rc_transform_chain_t *c, uint32_t n) {
    if (n <= c->cap) {
        return true;
    }
    uint32_t cap = n < 256 ? 256 : n;
    rc_span_t *spans = realloc(c->spans, cap * sizeof(*spans));
    if (spans) {
        c->spans = spans;
    }
    bool *run = realloc(c->run, cap * sizeof(*run));
    if (run) {
        c->run = run;
    }
    rc_script_result_t *res = realloc(c->res, cap * sizeof(*res));
    if (res) {
        c->res = res;
    }
    if (!spans || !run || !res) {
        return false;
    }
    c->cap = cap;
    return true;
}

/* Reads a str field of the event into a NUL-terminated buffer ("" when absent). */
static void str_field(const uint8_t *ev, const uint8_t *end, const char *key, char *out,
                      size_t size) {
    const uint8_t *v;
    const char *s;
    uint32_t n;
    out[0] = '\0';
    if (rc_mp_map_find(ev, end, key, &v) == RC_OK && rc_mp_read_str(&v, end, &s, &n) == RC_OK) {
        snprintf(out, size, "%.*s", (int)n, s);
    }
}

/* Does the str field key of the event match re? (memo: the last name and its result) */
static bool field_matches(const regex_t *re, match_memo_t *memo, const uint8_t *ev,
                          const uint8_t *end, const char *key) {
    const uint8_t *v;
    const char *str = "";
    uint32_t n = 0;
    if (rc_mp_map_find(ev, end, key, &v) != RC_OK || rc_mp_read_str(&v, end, &str, &n) != RC_OK) {
        str = "";
        n = 0;
    }
    if (n >= sizeof(memo->name)) { /* (as before: names are cut to 255 bytes) */
        n = sizeof(memo->name) - 1;
    }
    if (memo->valid && memo->len == n && memcmp(memo->name, str, n) == 0) {
        return memo->ok;
    }
    memcpy(memo->name, str, n);
    memo->name[n] = '\0';
    memo->len = n;
    memo->ok = regexec(re, memo->name, 0, NULL, 0) == 0;
    memo->valid = true;
    return memo->ok;
}

static bool matches(stage_t *s, const uint8_t *ev, const uint8_t *end) {
    if (s->has_schema && !field_matches(&s->schema_re, &s->schema_memo, ev, end, "schema")) {
        return false;
    }
    if (s->has_table && !field_matches(&s->table_re, &s->table_memo, ev, end, "table")) {
        return false;
    }
    return true;
}

/* on_error: skip logs at most one line a second; the others are counted in it. */
static void log_skipped(rc_transform_chain_t *c, const char *msg) {
    time_t now = time(NULL);
    if (now == c->last_log) {
        c->unlogged++;
        return;
    }
    rc_warn("transform",
            "pipeline %s: event skipped: %s (%llu more skipped since the last "
            "message)",
            c->pipeline, msg, (unsigned long long)c->unlogged);
    c->last_log = now;
    c->unlogged = 0;
}

/* Is this event a dead letter (an earlier stage put it there)? */
static bool is_dead_letter(const uint8_t *ev, const uint8_t *end) {
    const uint8_t *kafka, *headers, *v;
    return rc_mp_map_find(ev, end, "kafka", &kafka) == RC_OK &&
           rc_mp_map_find(kafka, end, "headers", &headers) == RC_OK &&
           rc_mp_map_find(headers, end, "rowcast.error", &v) == RC_OK;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n) {
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void copy_raw(msgpack_packer *pk, const uint8_t *from, const uint8_t *to) {
    pk->callback(pk->data, (const char *)from, (size_t)(to - from));
}

/* Appends the dead letter of ev: its kafka map with the dead-letter topic and the error
 * headers, every other field as it was. */
static void pack_dead_letter(rc_transform_chain_t *c, msgpack_packer *pk, const uint8_t *ev,
                             const uint8_t *end, const char *file, const char *msg, size_t len) {
    const uint8_t *p = ev;
    uint32_t n = 0;
    rc_mp_read_map(&p, end, &n); /* the stage checked: a map */
    const uint8_t *kafka = NULL;
    rc_mp_map_find(ev, end, "kafka", &kafka);
    msgpack_pack_map(pk, n + (kafka ? 0 : 1));
    const char *old_topic = "";
    uint32_t old_len = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *k = p, *v;
        const char *ks;
        uint32_t kn;
        bool is_kafka =
            rc_mp_read_str(&p, end, &ks, &kn) == RC_OK && kn == 5 && memcmp(ks, "kafka", 5) == 0;
        p = k;
        rc_mp_skip(&p, end);
        v = p;
        rc_mp_skip(&p, end);
        if (!is_kafka) {
            copy_raw(pk, k, p);
            continue;
        }
        copy_raw(pk, k, v);
        const uint8_t *kp = v, *topicp = NULL, *headers = NULL;
        uint32_t kn2 = 0;
        rc_mp_read_map(&kp, end, &kn2);
        if (rc_mp_map_find(v, end, "topic", &topicp) == RC_OK) {
            rc_mp_read_str(&topicp, end, &old_topic, &old_len);
        }
        bool has_topic = topicp != NULL, has_headers = false, headers_key = false;
        if (rc_mp_map_find(v, end, "headers", &headers) == RC_OK) {
            const uint8_t *hp = headers;
            uint32_t ignore;
            headers_key = true;
            has_headers = rc_mp_read_map(&hp, end, &ignore) == RC_OK;
        }
        msgpack_pack_map(pk, kn2 + !has_topic + !headers_key);
        for (uint32_t j = 0; j < kn2; j++) {
            const uint8_t *kk = kp;
            const char *name;
            uint32_t name_len = 0;
            bool str = rc_mp_read_str(&kp, end, &name, &name_len) == RC_OK;
            kp = kk;
            rc_mp_skip(&kp, end); /* the name */
            rc_mp_skip(&kp, end); /* the value */
            if (str && name_len == 5 && memcmp(name, "topic", 5) == 0) {
                continue; /* written below */
            }
            if (str && name_len == 7 && memcmp(name, "headers", 7) == 0) {
                continue; /* rewritten below, with what it held when it was a map */
            }
            copy_raw(pk, kk, kp);
        }
        pack_str(pk, "topic", 5);
        pack_str(pk, c->dead_letter_topic, strlen(c->dead_letter_topic));
        pack_str(pk, "headers", 7);
        uint32_t nh = 0;
        const uint8_t *hp = headers;
        if (has_headers) {
            rc_mp_read_map(&hp, end, &nh);
        }
        msgpack_pack_map(pk, nh + 3);
        if (nh) {
            const uint8_t *hend = hp;
            for (uint32_t j = 0; j < 2 * nh; j++) {
                rc_mp_skip(&hend, end);
            }
            copy_raw(pk, hp, hend);
        }
        pack_str(pk, "rowcast.error", 13);
        pack_str(pk, msg, len);
        pack_str(pk, "rowcast.transform", 17);
        pack_str(pk, file, strlen(file));
        pack_str(pk, "rowcast.topic", 13);
        pack_str(pk, old_topic, old_len);
    }
    if (!kafka) {
        pack_str(pk, "kafka", 5);
        msgpack_pack_map(pk, 2);
        pack_str(pk, "topic", 5);
        pack_str(pk, c->dead_letter_topic, strlen(c->dead_letter_topic));
        pack_str(pk, "headers", 7);
        msgpack_pack_map(pk, 2);
        pack_str(pk, "rowcast.error", 13);
        pack_str(pk, msg, len);
        pack_str(pk, "rowcast.transform", 17);
        pack_str(pk, file, strlen(file));
    }
}

rc_err_t rc_transform_chain_run(rc_transform_chain_t *c, msgpack_sbuffer *buf, uint32_t *n,
                                uint32_t *mark, size_t *mark_off, char *errstr,
                                size_t errstr_size) {
    for (size_t si = 0; si < c->n_stages; si++) {
        stage_t *s = &c->stages[si];
        uint32_t count = *n;
        if (!reserve(c, count)) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "pipeline %s: out of memory",
                             c->pipeline);
        }
        const uint8_t *cur = (const uint8_t *)buf->data, *end = cur + buf->size;
        for (uint32_t i = 0; i < count; i++) {
            const uint8_t *start = cur;
            if (rc_mp_skip(&cur, end) != RC_OK) {
                return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                                 "pipeline %s: event %u of a batch is not valid msgpack",
                                 c->pipeline, i);
            }
            c->spans[i] = (rc_span_t){start, (size_t)(cur - start)};
            c->run[i] = matches(s, start, cur) &&
                        !(c->on_error == RC_ON_ERROR_DEAD_LETTER && is_dead_letter(start, cur));
        }
        c->spare.size = 0;
        rc_buf_reset(&c->errs);
        rc_err_t err = s->engine->transform_batch(s->vm, c->spans, c->run, count, &c->spare, c->res,
                                                  &c->errs, errstr, errstr_size);
        if (err != RC_OK) {
            return err;
        }
        uint32_t out_n = 0, out_mark = 0;
        size_t out_mark_off = 0;
        size_t k = 0; /* next extra mark; marks of 0 events stay 0 */
        while (k < c->n_marks && c->marks[k] == 0) {
            k++;
        }
        /* dead letters: the output is rebuilt with each failed event in its place */
        bool rebuild = false;
        for (uint32_t i = 0; i < count && c->on_error == RC_ON_ERROR_DEAD_LETTER; i++) {
            rebuild = rebuild || c->res[i].status == RC_SCRIPT_FAILED;
        }
        msgpack_packer dlpk;
        msgpack_packer_init(&dlpk, &c->dl, msgpack_sbuffer_write);
        size_t copied = 0;
        if (rebuild) {
            c->dl.size = 0;
        }
        for (uint32_t i = 0; i < count; i++) {
            rc_script_result_t *r = &c->res[i];
            if (rebuild) {
                msgpack_sbuffer_write(&c->dl, c->spare.data + copied, r->end_off - copied);
                copied = r->end_off;
                if (r->status == RC_SCRIPT_FAILED) {
                    pack_dead_letter(c, &dlpk, c->spans[i].p, c->spans[i].p + c->spans[i].len,
                                     s->file, c->errs.data + r->err_off, r->err_len);
                    r->n_out = 1;
                    c->stats.dead_lettered++;
                }
                r->end_off = c->dl.size;
            }
            if (r->status == RC_SCRIPT_DROPPED) {
                c->stats.dropped++;
            } else if (r->status == RC_SCRIPT_FAILED) {
                const char *msg = c->errs.data + r->err_off;
                char where[300];
                const uint8_t *ev = c->spans[i].p, *evend = ev + c->spans[i].len;
                char schema[128], table[128];
                str_field(ev, evend, "schema", schema, sizeof(schema));
                str_field(ev, evend, "table", table, sizeof(table));
                snprintf(where, sizeof(where), "%s.%s", schema, table);
                if (c->on_error == RC_ON_ERROR_FAIL) {
                    return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                                     "pipeline %s: transform of an event of %s failed: %.*s",
                                     c->pipeline, where, (int)r->err_len, msg);
                }
                if (c->on_error == RC_ON_ERROR_DEAD_LETTER) {
                    goto counted;
                }
                c->stats.errors++;
                char line[1200];
                snprintf(line, sizeof(line), "%s: %.*s", where, (int)r->err_len, msg);
                log_skipped(c, line);
            }
        counted:
            out_n += r->n_out;
            if (i + 1 == *mark) {
                out_mark = out_n;
                out_mark_off = r->end_off;
            }
            while (k < c->n_marks && c->marks[k] == i + 1) {
                c->marks[k++] = out_n;
            }
        }
        if (rebuild) { /* the rebuilt output becomes the stage's output */
            msgpack_sbuffer t = c->spare;
            c->spare = c->dl;
            c->dl = t;
        }
        msgpack_sbuffer tmp = *buf;
        *buf = c->spare;
        c->spare = tmp;
        *n = out_n;
        *mark = out_mark;
        *mark_off = out_mark_off;
    }
    c->marks = NULL;
    c->n_marks = 0;
    return RC_OK;
}

/* ---- shared by the engines (rc_script_int.h) ---- */

static uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

rc_err_t rc_script_mp_next(const uint8_t **pp, const uint8_t *end, mpv_t *v) {
    const uint8_t *p = *pp;
    if (p >= end) {
        return RC_ERR_TRUNCATED;
    }
    uint8_t c = *p++;
    size_t need = 0; /* bytes of length/value after the type byte */
    int lenbytes = 0;
    memset(v, 0, sizeof(*v));
    if (c <= 0x7f) {
        v->kind = MPV_UINT;
        v->u = c;
    } else if (c >= 0xe0) {
        v->kind = MPV_INT;
        v->i = (int8_t)c;
    } else if ((c & 0xf0) == 0x80 || (c & 0xf0) == 0x90) {
        v->kind = (c & 0xf0) == 0x80 ? MPV_MAP : MPV_ARRAY;
        v->n = c & 0x0f;
    } else if ((c & 0xe0) == 0xa0) {
        v->kind = MPV_STR;
        v->n = c & 0x1f;
    } else {
        switch (c) {
        case 0xc0:
            v->kind = MPV_NIL;
            break;
        case 0xc2:
        case 0xc3:
            v->kind = MPV_BOOL;
            v->b = c == 0xc3;
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
            need = (size_t)1 << (c - 0xcc);
            if ((size_t)(end - p) < need) {
                return RC_ERR_TRUNCATED;
            }
            v->kind = MPV_UINT;
            v->u = be(p, (int)need);
            break;
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
            need = (size_t)1 << (c - 0xd0);
            if ((size_t)(end - p) < need) {
                return RC_ERR_TRUNCATED;
            }
            v->kind = MPV_INT;
            uint64_t raw = be(p, (int)need);
            int sh = 64 - 8 * (int)need;
            v->i = sh ? (int64_t)(raw << sh) >> sh : (int64_t)raw;
            if (v->i >= 0) {
                v->kind = MPV_UINT;
                v->u = (uint64_t)v->i;
            }
            break;
        case 0xca: {
            need = 4;
            if ((size_t)(end - p) < need) {
                return RC_ERR_TRUNCATED;
            }
            uint32_t bits = (uint32_t)be(p, 4);
            float f;
            memcpy(&f, &bits, 4);
            v->kind = MPV_F32;
            v->d = f;
            break;
        }
        case 0xcb: {
            need = 8;
            if ((size_t)(end - p) < need) {
                return RC_ERR_TRUNCATED;
            }
            uint64_t bits = be(p, 8);
            memcpy(&v->d, &bits, 8);
            v->kind = MPV_F64;
            break;
        }
        case 0xd9:
        case 0xda:
        case 0xdb:
            v->kind = MPV_STR;
            lenbytes = 1 << (c - 0xd9);
            break;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            v->kind = MPV_BIN;
            lenbytes = 1 << (c - 0xc4);
            break;
        case 0xdc:
        case 0xdd:
            v->kind = MPV_ARRAY;
            lenbytes = c == 0xdc ? 2 : 4;
            break;
        case 0xde:
        case 0xdf:
            v->kind = MPV_MAP;
            lenbytes = c == 0xde ? 2 : 4;
            break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            v->kind = MPV_EXT;
            v->n = 1u << (c - 0xd4);
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            v->kind = MPV_EXT;
            lenbytes = 1 << (c - 0xc7);
            break;
        default:
            return RC_ERR_INVALID;
        }
        p += need;
        if (lenbytes) {
            if (end - p < lenbytes) {
                return RC_ERR_TRUNCATED;
            }
            v->n = (uint32_t)be(p, lenbytes);
            p += lenbytes;
        }
    }
    if (v->kind == MPV_EXT) {
        if (p >= end) {
            return RC_ERR_TRUNCATED;
        }
        v->ext = (int8_t)*p++;
    }
    if (v->kind == MPV_STR || v->kind == MPV_BIN || v->kind == MPV_EXT) {
        if ((size_t)(end - p) < v->n) {
            return RC_ERR_TRUNCATED;
        }
        v->s = (const char *)p;
        p += v->n;
    }
    *pp = p;
    return RC_OK;
}

int rc_script_format_int(const mpv_t *v, char *buf, size_t size) {
    if (v->kind == MPV_UINT) {
        return snprintf(buf, size, "%llu", (unsigned long long)v->u);
    }
    return snprintf(buf, size, "%lld", (long long)v->i);
}

void rc_script_pack_number(msgpack_packer *pk, double v, uint8_t tag) {
    if (v != v) { /* one NaN: x86 gives 0/0 and -NaN the sign bit, in both engines */
        v = NAN;
    }
    if (tag == TAG_F32 && ((double)(float)v == v || v != v)) {
        msgpack_pack_float(pk, (float)v);
    } else if (tag == TAG_F64 || tag == TAG_F32) {
        msgpack_pack_double(pk, v);
    } else if (isfinite(v) && v == floor(v) && v >= -9223372036854775808.0 &&
               v < 18446744073709551616.0) {
        if (v < 0) {
            msgpack_pack_int64(pk, (int64_t)v);
        } else {
            msgpack_pack_uint64(pk, (uint64_t)v);
        }
    } else {
        msgpack_pack_double(pk, v);
    }
}

void rc_script_pack_string(msgpack_packer *pk, const char *s, size_t len, uint8_t tag) {
    if (tag == TAG_BIN) {
        msgpack_pack_bin(pk, len);
        msgpack_pack_bin_body(pk, s, len);
        return;
    }
    if (tag & TAG_EXT) {
        msgpack_pack_ext(pk, len, (int8_t)(tag & 0x7f));
        msgpack_pack_ext_body(pk, s, len);
        return;
    }
    if ((tag == TAG_BIGINT || tag == TAG_BIGUINT) && len > 0 && len < 24) {
        char num[24], *endp;
        memcpy(num, s, len);
        num[len] = '\0';
        errno = 0;
        if (tag == TAG_BIGINT) {
            long long x = strtoll(num, &endp, 10);
            if (errno == 0 && *endp == '\0') {
                msgpack_pack_int64(pk, x);
                return;
            }
        } else if (num[0] != '-') {
            unsigned long long x = strtoull(num, &endp, 10);
            if (errno == 0 && *endp == '\0') {
                msgpack_pack_uint64(pk, x);
                return;
            }
        }
    }
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

/* ---- lazy events ---- */

int rc_script_ev_index(const uint8_t *ev, size_t len, rc_script_evfield_t *f, uint32_t *nf,
                       uint32_t *hdr, char *why, size_t why_size) {
    const uint8_t *p = ev, *end = ev + len;
    mpv_t m;
    if (rc_script_mp_next(&p, end, &m) != RC_OK || m.kind != MPV_MAP) {
        snprintf(why, why_size, "the event is not a map");
        return -1;
    }
    if (m.n > RC_SCRIPT_EV_MAX_FIELDS || len > UINT32_MAX) {
        return 0;
    }
    *hdr = (uint32_t)(p - ev);
    for (uint32_t j = 0; j < m.n; j++) {
        const uint8_t *kv = p;
        mpv_t k;
        if (p < end && (*p & 0xe0) == 0xa0 && (size_t)(end - p - 1) >= (size_t)(*p & 0x1f)) {
            k.s = (const char *)p + 1; /* a fixstr, as field names are */
            k.n = *p & 0x1f;
            p += 1 + k.n;
        } else if (rc_script_mp_next(&p, end, &k) != RC_OK) {
            snprintf(why, why_size, "the event is not valid msgpack");
            return -1;
        } else if (k.kind != MPV_STR) {
            return 0;
        }
        const uint8_t *v = p;
        /* (a fixarray: before and after, whose rows rc_mp_skip_rows steps over fastest) */
        if ((p < end && (*p & 0xf0) == 0x90 ? rc_mp_skip_rows(&p, end) : rc_mp_skip_one(&p, end)) !=
            RC_OK) {
            snprintf(why, why_size, "the event is not valid msgpack");
            return -1;
        }
        f[j] = (rc_script_evfield_t){(uint32_t)((const uint8_t *)k.s - ev), k.n,
                                     (uint32_t)(kv - ev), (uint32_t)(v - ev), (uint32_t)(p - ev)};
    }
    *nf = m.n;
    return 1;
}

void rc_script_ev_init(rc_script_ev_t *e, const rc_script_evfield_t *f, uint32_t nf, uint32_t hdr,
                       const uint8_t *ev, size_t len) {
    e->loaded = 0;
    e->extra = false;
    e->depth = 0;
    e->nf = nf;
    e->len = (uint32_t)len;
    e->hdr = hdr;
    memcpy(e->f, f, nf * sizeof(*f));
    memcpy((uint8_t *)rc_script_ev_bytes(e), ev, len);
}

bool rc_script_ev_check(const rc_script_ev_t *e, char *why, size_t why_size) {
    int j = rc_script_ev_field(e, "kafka", 5);
    if (j < 0) {
        snprintf(why, why_size, "the event has no kafka.topic");
        return false;
    }
    const uint8_t *b = rc_script_ev_bytes(e);
    return rc_script_check_kafka(b + e->f[j].v, b + e->f[j].end, why, why_size);
}

int rc_script_ev_field(const rc_script_ev_t *e, const char *s, size_t n) {
    const uint8_t *b = rc_script_ev_bytes(e);
    for (uint32_t j = 0; j < e->nf; j++) {
        if (e->f[j].kn == n && memcmp(b + e->f[j].k, s, n) == 0) {
            return (int)j;
        }
    }
    return -1;
}

void rc_script_ev_value(const rc_script_ev_t *e, uint32_t j, mpv_t *v) {
    const uint8_t *b = rc_script_ev_bytes(e), *p = b + e->f[j].v;
    if (rc_script_mp_next(&p, b + e->f[j].end, v) != RC_OK) { /* indexed: cannot happen */
        memset(v, 0, sizeof(*v));
        v->kind = MPV_NIL;
    }
}

/* ---- small blocks ---- */

#define POOL_SLAB ((size_t)64 << 10)
#define POOL_HDR  16 /* a slab's link, keeping its blocks 16-byte aligned */

static size_t pool_class(size_t size) {
    return (size + 15) / 16;
}

void *rc_script_pool_alloc(rc_script_pool_t *pool, size_t size) {
    if (size > RC_SCRIPT_POOL_MAX) {
        return malloc(size);
    }
    void *p = rc_script_pool_pop(pool, size);
    if (p) {
        return p;
    }
    size_t bytes = pool_class(size) * 16;
    if ((size_t)(pool->end - pool->next) < bytes) {
        char *slab = malloc(POOL_SLAB);
        if (!slab) {
            return NULL;
        }
        memcpy(slab, &pool->slabs, sizeof(void *));
        pool->slabs = slab;
        pool->next = slab + POOL_HDR;
        pool->end = slab + POOL_SLAB;
    }
    p = pool->next;
    pool->next += bytes;
    return p;
}

void rc_script_pool_free(rc_script_pool_t *pool, void *p, size_t size) {
    if (!p) {
        return;
    }
    if (size > RC_SCRIPT_POOL_MAX) {
        free(p);
        return;
    }
    rc_script_pool_push(pool, p, size);
}

void *rc_script_pool_realloc(rc_script_pool_t *pool, void *p, size_t osize, size_t nsize) {
    if (!p) {
        return rc_script_pool_alloc(pool, nsize);
    }
    if (osize > RC_SCRIPT_POOL_MAX && nsize > RC_SCRIPT_POOL_MAX) {
        return realloc(p, nsize);
    }
    if (osize <= RC_SCRIPT_POOL_MAX && nsize <= RC_SCRIPT_POOL_MAX &&
        pool_class(osize) == pool_class(nsize)) {
        return p;
    }
    void *n = rc_script_pool_alloc(pool, nsize);
    if (n) {
        memcpy(n, p, osize < nsize ? osize : nsize);
        rc_script_pool_free(pool, p, osize);
    }
    return n;
}

void rc_script_pool_destroy(rc_script_pool_t *pool) {
    void *slab = pool->slabs;
    while (slab) {
        void *next;
        memcpy(&next, slab, sizeof(void *));
        free(slab);
        slab = next;
    }
    memset(pool, 0, sizeof(*pool));
}
