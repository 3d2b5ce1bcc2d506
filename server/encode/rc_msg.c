/* rc_msg.c: builds the Kafka message of one event in the pipeline's format: picks kafka.topic,
 * kafka.key and kafka.headers out of the event, encodes key and value, and lays out the headers
 * every message carries (rc_msg.h). Buffers live in the rc_msg_t and are reused. */
#include "rc_msg.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "rc_debezium.h"
#include "rc_json.h"
#include "rc_mp.h"
#include "rc_proto.h"
#include "rc_tpl.h"

#define CT_JSON     "application/json"
#define CT_PROTOBUF "application/x-protobuf; messageType=rowcast.v1.Event"
#define NO_TEXT     SIZE_MAX

rc_err_t rc_format_from_name(const char *name, rc_format_t *out) {
    if (strcmp(name, "json") == 0) {
        *out = RC_FORMAT_JSON;
    } else if (strcmp(name, "protobuf") == 0) {
        *out = RC_FORMAT_PROTOBUF;
    } else if (strcmp(name, "debezium-json") == 0) {
        *out = RC_FORMAT_DEBEZIUM_JSON;
    } else {
        return RC_ERR_INVALID;
    }
    return RC_OK;
}

const char *rc_format_name(rc_format_t f) {
    return f == RC_FORMAT_PROTOBUF        ? "protobuf"
           : f == RC_FORMAT_DEBEZIUM_JSON ? "debezium-json"
                                          : "json";
}

const char *rc_format_content_type(rc_format_t f) {
    return f == RC_FORMAT_PROTOBUF ? CT_PROTOBUF : CT_JSON;
}

/* Makes room for n more headers; false when out of memory. */
static bool headers_room(rc_msg_t *m, size_t n) {
    if (m->cap_headers - m->n_headers >= n) {
        return true;
    }
    size_t cap = m->cap_headers ? 2 * m->cap_headers : 16;
    while (cap - m->n_headers < n) {
        cap *= 2;
    }
    rc_msg_header_t *h = realloc(m->headers, cap * sizeof *h);
    if (!h) {
        return false;
    }
    m->headers = h;
    size_t *o = realloc(m->text_off, cap * sizeof *o);
    if (!o) {
        return false;
    }
    m->text_off = o;
    m->cap_headers = cap;
    return true;
}

/* Writes a header in place (headers_room made room for it) whose value is value[0..value_len),
 * or, when text_off is not NO_TEXT, the bytes at that offset of m->text: those are pointed at
 * once all text is written, because the buffer may move while it grows. */
static inline void put_header(rc_msg_t *m, const char *name, size_t name_len, const void *value,
                              size_t value_len, size_t text_off) {
    m->headers[m->n_headers] = (rc_msg_header_t){name, name_len, value, value_len};
    m->text_off[m->n_headers] = text_off;
    m->n_headers++;
}

/* put_header after making room for it. */
static rc_err_t add_header(rc_msg_t *m, const char *name, size_t name_len, const void *value,
                           size_t value_len, size_t text_off) {
    if (!headers_room(m, 1)) {
        return RC_ERR_NOMEM;
    }
    put_header(m, name, name_len, value, value_len, text_off);
    return RC_OK;
}

#define PUT_LIT(m, name, value, value_len)                                                         \
    put_header(m, name, sizeof(name) - 1, value, value_len, NO_TEXT)

/* Reads a str value; *s = NULL for nil or any other type. A fixstr or str 8, the usual
 * values, without a call. */
static inline void str_of(const uint8_t *p, const uint8_t *end, const char **s, uint32_t *n) {
    if (p < end && (p[0] & 0xe0) == 0xa0 && (size_t)(end - p) > (p[0] & 0x1fu)) {
        *s = (const char *)p + 1;
        *n = p[0] & 0x1fu;
        return;
    }
    if (p < end && p[0] == 0xd9 && end - p >= 2 && (size_t)(end - p) - 2 >= p[1]) {
        *s = (const char *)p + 2;
        *n = p[1];
        return;
    }
    if (rc_mp_read_str(&p, end, s, n) != RC_OK) {
        *s = NULL;
        *n = 0;
    }
}

/* Reads a non-negative integer of any msgpack width; false for other types. A positive fixint
 * or a uint, the usual values, without a call. */
static inline bool uint_of(const uint8_t *p, const uint8_t *end, uint64_t *v) {
    if (p < end && p[0] <= 0x7f) {
        *v = p[0];
        return true;
    }
    if (p < end && p[0] >= 0xcc && p[0] <= 0xcf && (size_t)(end - p) > rc_mp_int_width(p[0])) {
        *v = rc_mp_int_word(p);
        return true;
    }
    return rc_mp_read_uint(&p, end, v) == RC_OK;
}

/* The bytes of a bin value, or false. */
static bool bin_of(const uint8_t *p, const uint8_t *end, const uint8_t **s, uint32_t *n) {
    if (p >= end || p[0] < 0xc4 || p[0] > 0xc6) {
        return false;
    }
    size_t w = (size_t)1 << (p[0] - 0xc4);
    if ((size_t)(end - p) <= w) {
        return false;
    }
    uint32_t len = 0;
    for (size_t i = 0; i < w; i++) {
        len = len << 8 | p[1 + i];
    }
    if ((size_t)(end - p) - 1 - w < len) {
        return false;
    }
    *s = p + 1 + w;
    *n = len;
    return true;
}

static inline bool is_map(uint8_t c) {
    return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf;
}

/* kafka.key {col: value} as its values' text joined by '.' (rc_msg.h). */
static rc_err_t put_joined_key(rc_buf_t *out, const uint8_t *p, const uint8_t *end) {
    uint32_t n;
    rc_err_t err = rc_mp_read_map(&p, end, &n);
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        const char *s;
        const uint8_t *b;
        uint32_t len;
        if ((err = rc_mp_skip(&p, end)) != RC_OK ||
            (i > 0 && (err = rc_buf_putc(out, '.')) != RC_OK)) {
            break;
        }
        const uint8_t *q = p;
        uint8_t c = p < end ? p[0] : 0;
        if (rc_mp_is_nil(p, end)) {
            /* nothing */
        } else if (rc_mp_read_str(&q, end, &s, &len) == RC_OK) {
            err = rc_buf_append(out, s, len);
        } else if (bin_of(p, end, &b, &len)) {
            err = rc_buf_append(out, b, len);
        } else if ((c >= 0xc7 && c <= 0xc9) || (c >= 0xd4 && c <= 0xd8)) {
            q = p;
            if ((err = rc_mp_skip(&q, end)) == RC_OK) {
                size_t head = c >= 0xd4 ? 2 : 2 + ((size_t)1 << (c - 0xc7));
                err = rc_buf_append(out, p + head, (size_t)(q - p) - head);
            }
        } else {
            err = rc_json_write(out, p, (size_t)(end - p), NULL);
        }
        if (err == RC_OK) {
            err = rc_mp_skip(&p, end);
        }
    }
    return err;
}

/* Appends v in decimal. */
static rc_err_t put_u64(rc_buf_t *out, uint64_t v) {
    return rc_json_write_int(out, v, false);
}

/* the event's fields as rc_debezium numbers them, and kafka besides */
enum {
    E_SCHEMA = RC_DBZ_SCHEMA,
    E_TABLE = RC_DBZ_TABLE,
    E_ACTION = RC_DBZ_ACTION,
    E_BEFORE = RC_DBZ_BEFORE,
    E_AFTER = RC_DBZ_AFTER,
    E_META = RC_DBZ_META,
    E_KAFKA = RC_DBZ_EV_COUNT,
    E_COUNT
};
enum { K_TOPIC, K_KEY, K_HEADERS, K_FORMAT, K_COLUMNS, K_COUNT };
enum {
    M_PIPELINE = RC_DBZ_PIPELINE,
    M_TIMESTAMP = RC_DBZ_TIMESTAMP,
    M_GTID = RC_DBZ_GTID,
    M_FILE = RC_DBZ_FILE,
    M_POS = RC_DBZ_POS,
    M_SERVER_ID = RC_DBZ_SERVER_ID,
    M_COMMIT_TS = RC_DBZ_COMMIT_TS,
    M_COUNT = RC_DBZ_META_COUNT
};

/* Where the values rc_msg and the encoders need are in one event, found in one walk over it
 * (ev_walk): the top-level fields, and inside the kafka and meta maps their keys. The first of
 * equal keys counts, keys that are not str are passed over (as rc_mp_map_pick). */
typedef struct ev_at {
    const uint8_t *at[E_COUNT];
    const uint8_t *kafka[K_COUNT]; /* all NULL unless kafka is a map */
    const uint8_t *meta[M_COUNT];  /* all NULL unless meta is a map */
    bool kafka_is_map, meta_is_map;
    const uint8_t *end; /* where the event map ends */
} ev_at_t;

/* Reads the key at *pp and moves past it: *s is NULL for a key that is not a str. */
static inline rc_err_t read_key(const uint8_t **pp, const uint8_t *end, const char **s,
                                uint32_t *n) {
    const uint8_t *k = *pp;
    if (k < end && (k[0] & 0xe0) == 0xa0 && (size_t)(end - k) > (k[0] & 0x1fu)) {
        *s = (const char *)k + 1; /* fixstr, the usual key */
        *n = k[0] & 0x1fu;
        *pp = k + 1 + *n;
        return RC_OK;
    }
    if (rc_mp_read_str(pp, end, s, n) == RC_OK) {
        return RC_OK;
    }
    *s = NULL;
    return rc_mp_skip(pp, end);
}

#define KEY_IS(s, n, lit) ((n) == sizeof(lit) - 1 && memcmp(s, lit, sizeof(lit) - 1) == 0)

static inline int kafka_key(const char *s, uint32_t n) {
    return KEY_IS(s, n, "topic")     ? K_TOPIC
           : KEY_IS(s, n, "key")     ? K_KEY
           : KEY_IS(s, n, "headers") ? K_HEADERS
           : KEY_IS(s, n, "format")  ? K_FORMAT
           : KEY_IS(s, n, "columns") ? K_COLUMNS
                                     : -1;
}

static inline int meta_key(const char *s, uint32_t n) {
    return KEY_IS(s, n, "pipeline")      ? M_PIPELINE
           : KEY_IS(s, n, "timestamp")   ? M_TIMESTAMP
           : KEY_IS(s, n, "gtid")        ? M_GTID
           : KEY_IS(s, n, "binlog_file") ? M_FILE
           : KEY_IS(s, n, "binlog_pos")  ? M_POS
           : KEY_IS(s, n, "server_id")   ? M_SERVER_ID
           : KEY_IS(s, n, "commit_ts")   ? M_COMMIT_TS
                                         : -1;
}

/* Walks the map at *pp (its header already read: n entries), setting vals[j] to the value of
 * the first key that which() maps to j; *pp ends past the map. */
static inline rc_err_t pick_in(const uint8_t **pp, const uint8_t *end, uint32_t n,
                               int (*which)(const char *, uint32_t), const uint8_t **vals) {
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        uint32_t len;
        rc_err_t err = read_key(pp, end, &s, &len);
        if (err != RC_OK) {
            return err;
        }
        int j = s ? which(s, len) : -1;
        if (j >= 0 && !vals[j]) {
            vals[j] = *pp;
        }
        if ((err = rc_mp_skip_one(pp, end)) != RC_OK) {
            return err;
        }
    }
    return RC_OK;
}

static inline int event_key(const char *s, uint32_t len) {
    return KEY_IS(s, len, "kafka")    ? E_KAFKA
           : KEY_IS(s, len, "schema") ? E_SCHEMA
           : KEY_IS(s, len, "table")  ? E_TABLE
           : KEY_IS(s, len, "action") ? E_ACTION
           : KEY_IS(s, len, "before") ? E_BEFORE
           : KEY_IS(s, len, "after")  ? E_AFTER
           : KEY_IS(s, len, "meta")   ? E_META
                                      : -1;
}

/* The value at *pp of a member whose key names field j (-1: none): the first of each field is
 * kept, kafka and meta maps are picked from as they are passed; *pp ends past it. */
static inline rc_err_t walk_value(ev_at_t *a, const uint8_t **pp, const uint8_t *end, int j) {
    if (j < 0 || a->at[j]) {
        return rc_mp_skip_one(pp, end);
    }
    a->at[j] = *pp;
    uint32_t m;
    const uint8_t *q = *pp;
    if ((j == E_KAFKA || j == E_META) && rc_mp_read_map(&q, end, &m) == RC_OK) {
        *pp = q;
        if (j == E_KAFKA) {
            a->kafka_is_map = true;
            return pick_in(pp, end, m, kafka_key, a->kafka);
        }
        a->meta_is_map = true;
        return pick_in(pp, end, m, meta_key, a->meta);
    }
    return j == E_BEFORE || j == E_AFTER ? rc_mp_skip_rows(pp, end) : rc_mp_skip_one(pp, end);
}

/* The event map's leading members whose values are scalars (schema, table, action, an empty
 * before) and the key after them (after), as an event had them: their msgpack bytes and where
 * each field's value lies in them, so that an event of the same table starting with the same
 * bytes (one 64-byte compare) has them found at once. What the walk finds there is a function
 * of those bytes alone, so it is what reading them would find. */
#define RUN_MP RC_TPL_RUN

struct rc_msg_walk {
    uint8_t mp[RUN_MP];  /* zero padded */
    uint64_t mask;       /* of the len bytes to compare */
    uint32_t n;          /* the map's entry count (its header is in the run) */
    uint8_t len;         /* 0: no run */
    uint8_t npos;        /* whole members in the run */
    uint8_t at[E_COUNT]; /* where each field's value is in mp; 0: not in the run */
    bool tail;           /* the run ends with the key of one more member */
    int8_t tail_j;       /* that key's field (-1: none) */
};

static inline bool run_matches(const struct rc_msg_walk *w, const uint8_t *ev, const uint8_t *end) {
    return rc_tpl_run_eq(w->mp, w->mask, w->len, ev, end);
}

/* Makes the leading members of the event map at ev (walked whole without error) w's run, or
 * leaves w without one when fewer than two members fit. */
static void run_learn(struct rc_msg_walk *w, const uint8_t *ev, const uint8_t *end) {
    w->len = 0;
    const uint8_t *p = ev;
    uint32_t n;
    uint8_t at[E_COUNT] = {0};
    size_t len = 0;
    uint32_t npos = 0;
    bool tail = false;
    int tail_j = -1;
    if (rc_mp_read_map(&p, end, &n) != RC_OK) {
        return;
    }
    len = (size_t)(p - ev);
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        uint32_t klen;
        if (read_key(&p, end, &s, &klen) != RC_OK || (size_t)(p - ev) > RUN_MP) {
            break;
        }
        int j = s ? event_key(s, klen) : -1;
        if (j == E_KAFKA || j == E_META || p >= end || !rc_tpl_kv_scalar(p[0])) {
            tail = true; /* this key ends the run; its value is read */
            tail_j = j;  /* walk_value passes over a field seen already */
            len = (size_t)(p - ev);
            break;
        }
        const uint8_t *v = p;
        if (rc_mp_skip_one(&p, end) != RC_OK || (size_t)(p - ev) > RUN_MP) {
            break;
        }
        if (j >= 0 && !at[j]) {
            at[j] = (uint8_t)(v - ev);
        }
        len = (size_t)(p - ev);
        npos = i + 1;
    }
    if (npos + tail < 2) {
        return;
    }
    memset(w->mp, 0, sizeof w->mp);
    memcpy(w->mp, ev, len);
    memcpy(w->at, at, sizeof at);
    w->mask = len == 64 ? ~0ULL : (1ULL << len) - 1;
    w->n = n;
    w->npos = (uint8_t)npos;
    w->tail = tail;
    w->tail_j = (int8_t)tail_j;
    w->len = (uint8_t)len;
}

/* One walk over the event map at ev: the kafka and meta maps are picked from as they are
 * passed, instead of being skipped and walked again. Errors when the event is not a map or
 * not whole. w (NULL: none): the run of leading members, which it updates. */
static rc_err_t ev_walk(const uint8_t *ev, const uint8_t *end, ev_at_t *a, struct rc_msg_walk *w) {
    memset(a, 0, sizeof *a);
    const uint8_t *p = ev;
    uint32_t n, i = 0;
    rc_err_t err = RC_OK;
    bool hit = w && w->len && run_matches(w, ev, end);
    if (hit) {
        n = w->n;
        for (int j = 0; j < E_COUNT; j++) {
            if (w->at[j]) {
                a->at[j] = ev + w->at[j];
            }
        }
        p = ev + w->len;
        i = w->npos;
        if (w->tail) {
            err = walk_value(a, &p, end, w->tail_j);
            i++;
        }
    } else {
        err = rc_mp_read_map(&p, end, &n);
    }
    for (; i < n && err == RC_OK; i++) {
        const char *s;
        uint32_t len;
        if ((err = read_key(&p, end, &s, &len)) != RC_OK) {
            break;
        }
        err = walk_value(a, &p, end, s ? event_key(s, len) : -1);
    }
    a->end = p;
    if (w && !hit && err == RC_OK) {
        run_learn(w, ev, end);
    }
    return err;
}

/* The content type and format name of each format, and their lengths. */
static const struct {
    const char *ct, *name;
    uint8_t ct_len, name_len;
} k_fmt[3] = {
    [RC_FORMAT_JSON] = {CT_JSON, "json", sizeof(CT_JSON) - 1, 4},
    [RC_FORMAT_PROTOBUF] = {CT_PROTOBUF, "protobuf", sizeof(CT_PROTOBUF) - 1, 8},
    [RC_FORMAT_DEBEZIUM_JSON] = {CT_JSON, "debezium-json", sizeof(CT_JSON) - 1, 13},
};

/* The headers of the message (rc_msg.h). The ones every message has are written in place
 * after one check for room; the position's text goes to m->text in one piece, and *pos_at is
 * the index of its header (SIZE_MAX: none), whose value the caller points at once all text is
 * written; *more_text says that headers of kafka.headers have their text there too. */
static rc_err_t add_headers(rc_msg_t *m, rc_format_t f, const ev_at_t *a, const uint8_t *end,
                            size_t *pos_at, bool *more_text, char *errstr, size_t errstr_size) {
    const uint8_t *const *at = a->at, *const *mv = a->meta, *headers = a->kafka[K_HEADERS];
    const char *schema = NULL, *table = NULL, *gtid = NULL, *file = NULL;
    uint32_t schema_len = 0, table_len = 0, gtid_len = 0, file_len = 0;
    uint64_t pos = 0;
    const uint8_t *p;
    rc_err_t err;
    *pos_at = SIZE_MAX;
    *more_text = false;
    if (!headers_room(m, 7)) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    size_t fi = f <= RC_FORMAT_DEBEZIUM_JSON ? (size_t)f : RC_FORMAT_JSON;
    PUT_LIT(m, "content-type", k_fmt[fi].ct, k_fmt[fi].ct_len);
    PUT_LIT(m, "rowcast.format", k_fmt[fi].name, k_fmt[fi].name_len);
    PUT_LIT(m, "rowcast.format.version", RC_FORMAT_VERSION, sizeof(RC_FORMAT_VERSION) - 1);
    if (at[E_SCHEMA]) {
        str_of(at[E_SCHEMA], end, &schema, &schema_len);
    }
    if (at[E_TABLE]) {
        str_of(at[E_TABLE], end, &table, &table_len);
    }
    m->commit_ts = 0;
    if (mv[M_COMMIT_TS] && !uint_of(mv[M_COMMIT_TS], end, &m->commit_ts)) {
        m->commit_ts = 0;
    }
    if (mv[M_GTID]) {
        str_of(mv[M_GTID], end, &gtid, &gtid_len);
    }
    if (mv[M_FILE]) {
        str_of(mv[M_FILE], end, &file, &file_len);
    }
    if (!mv[M_POS] || !uint_of(mv[M_POS], end, &pos)) {
        file = NULL; /* no position without both */
    }
    if (schema) {
        PUT_LIT(m, "rowcast.schema", schema, schema_len);
    }
    if (table) {
        PUT_LIT(m, "rowcast.table", table, table_len);
    }
    if (gtid) {
        PUT_LIT(m, "rowcast.gtid", gtid, gtid_len);
    }
    if (file) {
        /* file ':' pos in one reserve: at most 20 digits */
        size_t off = m->text.len;
        if (rc_buf_reserve(&m->text, (size_t)file_len + 1) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        memcpy(m->text.data + off, file, file_len);
        m->text.data[off + file_len] = ':';
        m->text.len = off + file_len + 1;
        if (put_u64(&m->text, pos) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        *pos_at = m->n_headers;
        put_header(m, "rowcast.position", 16, NULL, m->text.len - off, off);
    }

    /* the event's own kafka.headers */
    uint32_t nh = 0;
    p = headers;
    if (!p || rc_mp_is_nil(p, end) || (p < end && p[0] == 0x80)) {
        return RC_OK; /* none, or an empty map: the usual case */
    }
    if (rc_mp_read_map(&p, end, &nh) != RC_OK) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "kafka.headers is not a map");
    }
    for (uint32_t i = 0; i < nh; i++) {
        const char *name, *s;
        uint32_t name_len, n;
        const uint8_t *b;
        if (rc_mp_read_str(&p, end, &name, &name_len) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "kafka.headers has a name that is not a string");
        }
        const uint8_t *q = p;
        if (rc_mp_is_nil(p, end)) {
            err = RC_OK; /* left out */
        } else if (rc_mp_read_str(&q, end, &s, &n) == RC_OK) {
            err = add_header(m, name, name_len, s, n, NO_TEXT);
        } else if (bin_of(p, end, &b, &n)) {
            err = add_header(m, name, name_len, b, n, NO_TEXT);
        } else {
            size_t off = m->text.len, used;
            if ((err = rc_json_write(&m->text, p, (size_t)(end - p), &used)) == RC_OK) {
                err = add_header(m, name, name_len, NULL, m->text.len - off, off);
                *more_text = true;
            }
        }
        if (err == RC_OK) {
            err = rc_mp_skip(&p, end);
        }
        if (err != RC_OK) {
            return rc_seterr(errstr, errstr_size, err, "kafka.headers.%.*s: %s", (int)name_len,
                             name, rc_err2str(err));
        }
    }
    return RC_OK;
}

rc_err_t rc_msg_encode(rc_msg_t *m, rc_format_t f, const uint8_t *ev, size_t len, size_t *used,
                       char *errstr, size_t errstr_size) {
    const uint8_t *end = ev + len;
    char why[256];
    rc_buf_reset(&m->key);
    rc_buf_reset(&m->value);
    rc_buf_reset(&m->text);
    m->n_headers = 0;
    m->topic = NULL;
    m->topic_len = 0;

    ev_at_t a;
    const uint8_t *const *kat = a.kafka, *p;
    uint32_t topic_len;
    if (!m->walk) {
        m->walk = calloc(1, sizeof *m->walk); /* NULL when out of memory: walked without */
    }
    if (ev_walk(ev, end, &a, m->walk) != RC_OK || !a.kafka_is_map || !(p = kat[K_TOPIC]) ||
        (str_of(p, end, &m->topic, &topic_len), !m->topic)) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "an event has no kafka.topic string");
    }
    m->topic_len = topic_len;

    /* a script may choose the format of one event: kafka.format */
    const uint8_t *fp = kat[K_FORMAT];
    if (fp && !rc_mp_is_nil(fp, end)) {
        const char *fs;
        uint32_t fn;
        char name[32];
        if (rc_mp_read_str(&fp, end, &fs, &fn) != RC_OK || fn >= sizeof name ||
            (memcpy(name, fs, fn), name[fn] = '\0', rc_format_from_name(name, &f)) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "kafka.format of an event for %.*s must be \"json\", \"protobuf\" or "
                             "\"debezium-json\"",
                             (int)topic_len, m->topic);
        }
    }

    const uint8_t *keyp = kat[K_KEY];
    if (keyp && !rc_mp_is_nil(keyp, end)) {
        rc_err_t err;
        const char *ks;
        uint32_t kn;
        const uint8_t *q = keyp;
        if (m->key_joined && is_map(keyp[0])) {
            err = put_joined_key(&m->key, keyp, end);
        } else if (f == RC_FORMAT_PROTOBUF && !is_map(keyp[0]) &&
                   rc_mp_read_str(&q, end, &ks, &kn) == RC_OK) {
            err = rc_buf_append(&m->key, ks, kn); /* a key a script made a string: as is */
        } else if (f == RC_FORMAT_PROTOBUF) {
            err =
                rc_proto_write_key_typed(&m->key, keyp, (size_t)(end - keyp), kat[K_COLUMNS], NULL);
        } else if (f == RC_FORMAT_DEBEZIUM_JSON && is_map(keyp[0])) {
            err = rc_debezium_write_key_of(&m->key, ev, len, keyp, kat[K_COLUMNS],
                                           m->debezium_schemas);
        } else {
            err = rc_json_write(&m->key, keyp, (size_t)(end - keyp), NULL);
        }
        if (err != RC_OK) {
            return rc_seterr(
                errstr, errstr_size, err, "cannot encode the key of an event for %.*s as %s: %s%s",
                (int)topic_len, m->topic, rc_format_name(f), rc_err2str(err),
                f == RC_FORMAT_PROTOBUF ? " (a protobuf key is a map or a string)" : "");
        }
    }

    size_t vused;
    const uint8_t *cols = kat[K_COLUMNS]; /* the column types (rc_event.h), or NULL */
    rc_err_t err;
    if (f == RC_FORMAT_PROTOBUF) {
        if (!m->proto_tpl) {
            m->proto_tpl = rc_proto_tpl_new(); /* NULL when out of memory: written without */
        }
        err = rc_proto_write_event_tpl(&m->value, m->proto_tpl, ev, len, cols, a.end, &vused);
    } else if (f == RC_FORMAT_DEBEZIUM_JSON) {
        rc_debezium_at_t da; /* what the walk found: the envelope's fields are not searched again */
        memcpy(da.ev, a.at, sizeof da.ev);
        memcpy(da.meta, a.meta, sizeof da.meta);
        da.meta_is_map = a.meta_is_map;
        da.ev_end = a.end;
        if (!m->dbz_tpl) {
            m->dbz_tpl = rc_debezium_tpl_new(); /* NULL when out of memory: written without */
        }
        err = rc_debezium_write_event_tpl(&m->value, m->dbz_tpl, ev, len, &da, cols,
                                          m->debezium_schemas, &vused);
    } else {
        if (!m->json_tpl) {
            m->json_tpl = rc_json_tpl_new(); /* NULL when out of memory: written without */
        }
        err = rc_json_write_event_tpl(&m->value, m->json_tpl, ev, len, a.end, &vused);
    }
    if (err != RC_OK) {
        return rc_seterr(errstr, errstr_size, err, "cannot encode an event for %.*s as %s: %s",
                         (int)topic_len, m->topic, rc_format_name(f), rc_err2str(err));
    }
    if (!m->value.data && rc_buf_reserve(&m->value, 1) != RC_OK) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    } /* an empty protobuf message is an empty value, not a null one (a tombstone) */
    size_t pos_at;
    bool more_text;
    if ((err = add_headers(m, f, &a, end, &pos_at, &more_text, why, sizeof why)) != RC_OK) {
        return rc_seterr(errstr, errstr_size, err, "the headers of an event for %.*s: %s",
                         (int)topic_len, m->topic, why);
    }
    if (pos_at != SIZE_MAX) {
        m->headers[pos_at].value = m->text.data + m->text_off[pos_at];
    }
    for (size_t i = 0; more_text && i < m->n_headers; i++) {
        if (m->text_off[i] != NO_TEXT) {
            m->headers[i].value = m->text.data + m->text_off[i];
        }
    }
    if (used) {
        *used = vused;
    }
    return RC_OK;
}

void rc_msg_free(rc_msg_t *m) {
    rc_buf_free(&m->key);
    rc_buf_free(&m->value);
    rc_buf_free(&m->text);
    free(m->headers);
    free(m->text_off);
    rc_json_tpl_free(m->json_tpl);
    m->json_tpl = NULL;
    rc_proto_tpl_free(m->proto_tpl);
    m->proto_tpl = NULL;
    rc_debezium_tpl_free(m->dbz_tpl);
    m->dbz_tpl = NULL;
    free(m->walk);
    m->walk = NULL;
    m->headers = NULL;
    m->text_off = NULL;
    m->n_headers = m->cap_headers = 0;
}
