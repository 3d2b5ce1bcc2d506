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

/* Writes a header in place (headers_room made room for it) whose value is value[0..value_len).
 * Its text_off is not set: the headers every message has (add_headers) point at their text
 * themselves. */
static inline void put_header(rc_msg_t *m, const char *name, size_t name_len, const void *value,
                              size_t value_len) {
    m->headers[m->n_headers++] = (rc_msg_header_t){name, name_len, value, value_len};
}

/* A header of kafka.headers, after making room for it: its value is value[0..value_len), or,
 * when text_off is not NO_TEXT, the bytes at that offset of m->text: those are pointed at once
 * all text is written, because the buffer may move while it grows. */
static rc_err_t add_header(rc_msg_t *m, const char *name, size_t name_len, const void *value,
                           size_t value_len, size_t text_off) {
    if (!headers_room(m, 1)) {
        return RC_ERR_NOMEM;
    }
    m->text_off[m->n_headers] = text_off;
    put_header(m, name, name_len, value, value_len);
    return RC_OK;
}

/* The values these two read are ones the walk found (a field of ev_at_t): each is whole before
 * end, because the walk skipped it (rc_mp_skip_one, which checks its size against end) or
 * compared the bytes of a plan's run that holds it all (a value that stayed the same, or the
 * head of one whose size it fixes and the bytes that head counts), after checking that the run
 * is before end. So a fixstr, str 8 or uint read inline needs no check of its length against
 * end, and p < end; other values go through rc_mp_read_str / rc_mp_read_uint, which check. */

/* Reads a str value the walk found; *s = NULL for nil or any other type. */
static inline void str_of(const uint8_t *p, const uint8_t *end, const char **s, uint32_t *n) {
    if ((p[0] & 0xe0) == 0xa0) {
        *s = (const char *)p + 1;
        *n = p[0] & 0x1fu;
        return;
    }
    if (p[0] == 0xd9) {
        *s = (const char *)p + 2;
        *n = p[1];
        return;
    }
    if (rc_mp_read_str(&p, end, s, n) != RC_OK) {
        *s = NULL;
        *n = 0;
    }
}

/* Reads a non-negative integer of any msgpack width that the walk found; false for other
 * types. */
static inline bool uint_of(const uint8_t *p, const uint8_t *end, uint64_t *v) {
    if (p[0] <= 0x7f) {
        *v = p[0];
        return true;
    }
    if (p[0] >= 0xcc && p[0] <= 0xcf) {
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

static inline bool is_nil(const uint8_t *p, const uint8_t *end) {
    return p < end && p[0] == 0xc0;
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
 * equal keys counts, keys that are not str are passed over (as rc_mp_map_pick). One array, so
 * that a plan's step (below) names any of them by one index. */
enum {
    F_KAFKA = E_COUNT,
    F_META = E_COUNT + K_COUNT,
    F_COUNT = E_COUNT + K_COUNT + M_COUNT,
    F_NONE = F_COUNT
};

typedef struct ev_at {
    const uint8_t *v[F_COUNT + 1]; /* the event's fields, then kafka's (all NULL unless kafka is
                                      a map), then meta's (all NULL unless meta is a map); the
                                      last is F_NONE, which a plan's step without a field sets */
    bool kafka_is_map, meta_is_map;
    const uint8_t *end; /* where the event map ends */
} ev_at_t;

#define AT(a)    ((a)->v)
#define KAFKA(a) ((a)->v + F_KAFKA)
#define META(a)  ((a)->v + F_META)

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
    if (j < 0 || a->v[j]) {
        return rc_mp_skip_one(pp, end);
    }
    a->v[j] = *pp;
    uint32_t m;
    const uint8_t *q = *pp;
    if ((j == E_KAFKA || j == E_META) && rc_mp_read_map(&q, end, &m) == RC_OK) {
        *pp = q;
        if (j == E_KAFKA) {
            a->kafka_is_map = true;
            return pick_in(pp, end, m, kafka_key, KAFKA(a));
        }
        a->meta_is_map = true;
        return pick_in(pp, end, m, meta_key, META(a));
    }
    return j == E_BEFORE || j == E_AFTER ? rc_mp_skip_rows(pp, end) : rc_mp_skip_one(pp, end);
}

/* The generic walk over the event map at ev: the kafka and meta maps are picked from as they
 * are passed, instead of being skipped and walked again. Errors when the event is not a map
 * or not whole. a is zeroed first. */
static rc_err_t walk_generic(const uint8_t *ev, const uint8_t *end, ev_at_t *a) {
    memset(a, 0, sizeof *a);
    const uint8_t *p = ev;
    uint32_t n;
    rc_err_t err = rc_mp_read_map(&p, end, &n);
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        const char *s;
        uint32_t len;
        if ((err = read_key(&p, end, &s, &len)) != RC_OK) {
            break;
        }
        err = walk_value(a, &p, end, s ? event_key(s, len) : -1);
    }
    a->end = p;
    return err;
}

/* A plan of the walk: the event map as events of one layout have it, as a list of steps, so
 * that an event laid out the same way (the same keys in the same order, the same map headers)
 * has its fields found without reading a key. A step is a run of up to 64 bytes compared 16 at
 * a time (map headers, keys, values that stayed the same over the plan's first PLAN_WATCH
 * events, and the heads of values whose head fixes their size and stayed the same: their other
 * bytes are not compared), then one changing value, passed over as the generic walk passes it
 * (rc_mp_skip_one, rc_mp_skip_rows: the same end). Where the walk finds a field, and whether it
 * reads kafka and meta as maps, is a function of the map headers and keys alone, which the runs
 * hold, and a value's size one of its head, so a plan whose steps all match finds what the
 * generic walk would; a step that does not match, or a value that does not end before the
 * event does, sends the event the generic way (which also says what is wrong with it). A new
 * plan has only headers and keys in its runs and notes which values change; after PLAN_WATCH
 * events it is learnt again with the others in its runs. A worker keeps PLAN_SETS * PLAN_WAYS
 * plans, picked by a hash of the event's head, the one that matched last tried first without
 * it; a worker whose plans are replaced before they match learns less and less often. */
#define PLAN_SETS  8
#define PLAN_WAYS  2
#define PLAN_STEPS 24
#define PLAN_WATCH 16
#define STEP_RUN   RC_TPL_RUN
#define SNAP       32

enum { V_NONE, V_ONE, V_ROWS }; /* what follows a step's run: nothing, a value, a row side */

typedef struct plan_step {
    uint8_t run[STEP_RUN]; /* zero padded */
    uint64_t mask;         /* the run's len bytes */
    uint8_t len;           /* of run: 0..64 */
    uint8_t next;          /* V_NONE, V_ONE or V_ROWS */
    uint8_t val;           /* the field whose value follows the run, or F_NONE */
    uint8_t k;             /* the value's number in the plan (watched while k < 64) */
    uint32_t size;         /* the value's size when it was learnt */
    uint8_t snap[SNAP];    /* and its first bytes */
} plan_step_t;

typedef struct plan {
    plan_step_t step[PLAN_STEPS];
    uint8_t n;     /* steps; 0: an empty slot */
    uint8_t n_rec; /* fields that start in a run: rec[i].field at rec[i].off of its step */
    struct {
        uint8_t field, step, off;
    } rec[F_COUNT + 1]; /* an odd count is followed by one for F_NONE: set in pairs */
    bool kafka_is_map, meta_is_map;
    bool watching;    /* values are compared with their first bytes */
    uint32_t unset;   /* bit j: field j is set by no step (NULL) */
    uint32_t hits;    /* events matched while watched (a settled plan matched PLAN_WATCH) */
    uint64_t changed; /* bit k: value k changed while watched */
    uint64_t resized; /* bit k: value k changed its size or its head while watched */
} plan_t;

typedef struct plan_set {
    plan_t way[PLAN_WAYS];
    uint8_t last; /* the way that matched last; the other one is the next learnt */
} plan_set_t;

struct rc_msg_walk {
    plan_set_t set[PLAN_SETS]; /* about 50 KB */
    plan_t *mru;               /* the plan that matched last, tried first (NULL: none) */
    uint8_t backoff;           /* learn at one miss in 2^backoff while learnt plans do not match */
    uint32_t misses;
};

/* True when the len bytes at p (before end) are the step's run where its mask is set. */
static inline bool step_eq(const plan_step_t *s, const uint8_t *p, const uint8_t *end) {
#if defined(__SSE2__)
    if (end - p >= STEP_RUN) { /* all 64 bytes, without a branch on the run's length: the mask
                                 * leaves out the bytes past it (most runs are over 48) */
#define EQ16(c)                                                                                    \
    ((uint64_t)(unsigned)_mm_movemask_epi8(                                                        \
         _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + (c))),                 \
                        _mm_loadu_si128((const __m128i *)(const void *)(s->run + (c)))))           \
     << (c))
        uint64_t eq = EQ16(0) | EQ16(16) | EQ16(32) | EQ16(48);
#undef EQ16
        return (~eq & s->mask) == 0;
    }
#endif
    if ((size_t)(end - p) < s->len) {
        return false;
    }
    for (unsigned i = 0; i < s->len; i++) {
        if ((s->mask >> i & 1) && p[i] != s->run[i]) {
            return false;
        }
    }
    return true;
}

/* The bytes of a value's head that fix its size (1 for nil, bool, float, int and uint 8..64,
 * fixext and fixstr; 2 for str 8 and bin 8; 3 for ext 8), or 0 when its size is not fixed by a
 * head whose bytes are not the value itself (a fixint, a container, a longer length). */
static inline size_t head_len(uint8_t c) {
    return (c & 0xe0) == 0xa0                              ? 1
           : c == 0xd9 || c == 0xc4                        ? 2
           : c == 0xc7                                     ? 3
           : c >= 0xc0 && c != 0xc1 && rc_mp_fixed_size[c] ? 1
                                                           : 0;
}

/* Runs plan pl over the event at ev: true with a filled (the fields no step sets NULL) when
 * every step matched. watch: note in pl which values differ from the ones it was learnt from. */
static inline __attribute__((always_inline)) bool
plan_run(plan_t *pl, const uint8_t *ev, const uint8_t *end, ev_at_t *a, bool watch) {
    const uint8_t *p = ev, *base[PLAN_STEPS];
    uint64_t changed = 0, resized = 0;
    for (unsigned si = 0; si < pl->n; si++) {
        const plan_step_t *s = &pl->step[si];
        if (!step_eq(s, p, end)) {
            return false;
        }
        base[si] = p;
        p += s->len;
        if (s->next == V_NONE) {
            continue;
        }
        const uint8_t *v = p;
        a->v[s->val] = v;
        if ((s->next == V_ROWS ? rc_mp_skip_rows(&p, end) : rc_mp_skip_one(&p, end)) != RC_OK) {
            return false;
        }
        if (watch && s->k < 64) {
            size_t size = (size_t)(p - v);
            bool same = size == s->size && size <= SNAP;
            for (size_t i = 0; same && i < size; i++) {
                same = v[i] == s->snap[i];
            }
            if (!same) {
                changed |= 1ULL << s->k;
                size_t h = head_len(v[0]);
                bool head = size == s->size;
                for (size_t i = 0; head && i < h; i++) {
                    head = v[i] == s->snap[i];
                }
                resized |= (uint64_t)!head << s->k;
            }
        }
    }
    for (unsigned i = 0; i < pl->n_rec; i += 2) { /* (a plan with a rec has a step) */
        a->v[pl->rec[i].field] = base[pl->rec[i].step] + pl->rec[i].off;
        a->v[pl->rec[i + 1].field] = base[pl->rec[i + 1].step] + pl->rec[i + 1].off;
    }
    for (uint32_t u = pl->unset; u; u &= u - 1) {
        a->v[__builtin_ctz(u)] = NULL; /* the others were all set above */
    }
    a->kafka_is_map = pl->kafka_is_map;
    a->meta_is_map = pl->meta_is_map;
    a->end = p;
    if (watch) {
        pl->changed |= changed;
        pl->resized |= resized;
    }
    return true;
}

/* Builds a plan from an event the generic walk found a in (without error). */
typedef struct learner {
    plan_t *pl;
    plan_step_t cur;
    uint64_t fixed; /* bit k: value k goes into the runs */
    uint64_t sized; /* bit k: value k's head goes into the runs, its other bytes are skipped */
    uint64_t gaps;  /* bytes of the run not compared */
    unsigned nval;
    bool ok;
} learner_t;

static void learn_reset_cur(learner_t *l) {
    memset(&l->cur, 0, sizeof l->cur);
    l->cur.val = F_NONE;
}

static void learn_emit(learner_t *l, uint8_t next, int val) {
    if (l->pl->n == PLAN_STEPS) {
        l->ok = false;
        return;
    }
    l->cur.next = next;
    l->cur.val = (uint8_t)(val >= 0 ? val : F_NONE);
    l->cur.mask = (l->cur.len == 64 ? ~0ULL : (1ULL << l->cur.len) - 1) & ~l->gaps;
    l->pl->step[l->pl->n++] = l->cur;
    l->gaps = 0;
    learn_reset_cur(l);
}

/* Appends constant bytes to the run; a field (in >= 0) starts at their first byte. */
static void learn_bytes(learner_t *l, const uint8_t *b, size_t n, int in) {
    if (n > STEP_RUN) {
        l->ok = false;
        return;
    }
    if (l->cur.len + n > STEP_RUN) {
        learn_emit(l, V_NONE, -1);
    }
    if (in >= 0 && l->ok) {
        plan_t *pl = l->pl;
        if (pl->n_rec == F_COUNT) { /* each field is found once: never */
            l->ok = false;
            return;
        }
        pl->rec[pl->n_rec].field = (uint8_t)in;
        pl->rec[pl->n_rec].step = pl->n;
        pl->rec[pl->n_rec++].off = l->cur.len;
    }
    memcpy(l->cur.run + l->cur.len, b, n);
    l->cur.len = (uint8_t)(l->cur.len + n);
}

/* Appends n bytes to the run that are not compared: the body of a value whose head fixes its
 * size. */
static void learn_gap(learner_t *l, size_t n) {
    if (n == 0) {
        return;
    }
    if (l->cur.len + n > STEP_RUN) {
        learn_emit(l, V_NONE, -1);
    }
    l->gaps |= (n == 64 ? ~0ULL : (1ULL << n) - 1) << l->cur.len;
    l->cur.len = (uint8_t)(l->cur.len + n);
}

/* The index of the field a found at v among fields [lo, hi), or -1. */
static int field_at(const ev_at_t *a, const uint8_t *v, int lo, int hi) {
    for (int j = lo; j < hi; j++) {
        if (a->v[j] == v) {
            return j;
        }
    }
    return -1;
}

/* True for a fixmap of 1 to 4 members whose keys are fixstrs, whole before end. */
static bool small_map(const uint8_t *p, const uint8_t *end) {
    if (p >= end || p[0] < 0x81 || p[0] > 0x84) {
        return false;
    }
    uint32_t n = p[0] & 0x0fu;
    p++;
    for (uint32_t i = 0; i < n; i++) {
        if (p >= end || (p[0] & 0xe0) != 0xa0 || rc_mp_skip_one(&p, end) != RC_OK ||
            rc_mp_skip_one(&p, end) != RC_OK) {
            return false;
        }
    }
    return true;
}

/* The map at *pp: its header and keys become runs, its values steps (or runs, when fixed);
 * fields [lo, hi) are looked for among its values. in: the field the map itself is (-1). */
static void learn_map(learner_t *l, const ev_at_t *a, const uint8_t **pp, const uint8_t *end,
                      int lo, int hi, int in) {
    const uint8_t *p = *pp;
    uint32_t n;
    if (!l->ok || rc_mp_read_map(&p, end, &n) != RC_OK) {
        l->ok = false;
        return;
    }
    learn_bytes(l, *pp, (size_t)(p - *pp), in);
    for (uint32_t i = 0; i < n && l->ok; i++) {
        const char *s;
        uint32_t len;
        const uint8_t *k = p;
        if (rc_mp_read_str(&p, end, &s, &len) != RC_OK) {
            l->ok = false; /* a key that is not a str: left to the generic walk */
            return;
        }
        learn_bytes(l, k, (size_t)(p - k), -1);
        int j = field_at(a, p, lo, hi);
        if (lo == 0 && (j == E_KAFKA || j == E_META)) {
            if (!(j == E_KAFKA ? a->kafka_is_map : a->meta_is_map)) {
                l->ok = false; /* a plan passes kafka and meta as maps only */
                return;
            }
            if (j == E_KAFKA) {
                learn_map(l, a, &p, end, F_KAFKA, F_KAFKA + K_COUNT, j);
            } else {
                learn_map(l, a, &p, end, F_META, F_META + M_COUNT, j);
            }
            continue;
        }
        if (lo > 0 && small_map(p, end)) { /* kafka.key: its keys into the runs too */
            learn_map(l, a, &p, end, 0, 0, j);
            continue;
        }
        const uint8_t *v = p;
        bool rows = p < end && (p[0] & 0xf0) == 0x90;
        if ((rows ? rc_mp_skip_rows(&p, end) : rc_mp_skip_one(&p, end)) != RC_OK) {
            l->ok = false;
            return;
        }
        size_t size = (size_t)(p - v);
        unsigned kv = l->nval++;
        if (kv < 64 && (l->fixed >> kv & 1) && size <= STEP_RUN) {
            learn_bytes(l, v, size, j);
            continue;
        }
        size_t h = head_len(v[0]);
        if (kv < 64 && (l->sized >> kv & 1) && h && size <= STEP_RUN) {
            learn_bytes(l, v, h, j);
            learn_gap(l, size - h);
            continue;
        }
        l->cur.k = (uint8_t)(kv < 64 ? kv : 64);
        l->cur.size = (uint32_t)size;
        memcpy(l->cur.snap, v, size < SNAP ? size : SNAP);
        learn_emit(l, rows ? V_ROWS : V_ONE, j);
    }
    *pp = p;
}

/* Learns into pl the plan of the event at ev (a: what the generic walk found), with the values
 * of fixed in its runs, or leaves pl empty when the event does not fit a plan. */
static bool plan_learn(plan_t *pl, const uint8_t *ev, const uint8_t *end, const ev_at_t *a,
                       bool watch, uint64_t fixed, uint64_t sized) {
    learner_t l = {.pl = pl, .ok = true, .fixed = fixed, .sized = sized};
    pl->n = pl->n_rec = 0;
    /* a settled plan was learnt from one that matched PLAN_WATCH events; the mru path does
     * not count its hits, so a count of 0 would make ev_walk take it for a plan that never
     * matched and back off from learning when it is replaced */
    pl->hits = watch ? 0 : PLAN_WATCH;
    pl->changed = pl->resized = 0;
    pl->watching = watch;
    pl->kafka_is_map = a->kafka_is_map;
    pl->meta_is_map = a->meta_is_map;
    learn_reset_cur(&l);
    const uint8_t *p = ev;
    learn_map(&l, a, &p, end, 0, E_COUNT, -1);
    if (l.ok && l.cur.len) {
        learn_emit(&l, V_NONE, -1);
    }
    if (!l.ok || p != a->end) {
        pl->n = 0;
        return false;
    }
    uint32_t set = 0;
    for (unsigned i = 0; i < pl->n_rec; i++) {
        set |= 1u << pl->rec[i].field;
    }
    for (unsigned i = 0; i < pl->n; i++) {
        set |= pl->step[i].next != V_NONE && pl->step[i].val != F_NONE ? 1u << pl->step[i].val : 0;
    }
    pl->unset = ((1u << F_COUNT) - 1) & ~set;
    pl->rec[pl->n_rec].field = F_NONE; /* the pair of a last odd one */
    pl->rec[pl->n_rec].step = 0;
    pl->rec[pl->n_rec].off = 0;
    return true;
}

/* One walk over the event map at ev (see walk_generic), by a plan of w (NULL: none) when one
 * matches; otherwise the generic way, and w learns the event's plan. */
static rc_err_t ev_walk(const uint8_t *ev, const uint8_t *end, ev_at_t *a, struct rc_msg_walk *w) {
    if (!w) {
        return walk_generic(ev, end, a);
    }
    plan_t *pl = w->mru;
    if (pl && !pl->watching && plan_run(pl, ev, end, a, false)) {
        return RC_OK; /* events of one layout in a row: no hash */
    }
    uint64_t hash = rc_tpl_head_key(ev, end); /* its top bits pick the set */
    plan_set_t *set = &w->set[hash >> 61 & (PLAN_SETS - 1)];
    for (unsigned k = 0; k < PLAN_WAYS; k++) {
        unsigned i = (set->last + k) % PLAN_WAYS;
        pl = &set->way[i];
        if (!pl->n || (pl == w->mru && !pl->watching)) {
            continue;
        }
        if (pl->watching ? plan_run(pl, ev, end, a, true) : plan_run(pl, ev, end, a, false)) {
            set->last = (uint8_t)i;
            w->mru = pl;
            w->backoff -= w->backoff > 0;
            if (++pl->hits == PLAN_WATCH && pl->watching) {
                /* the values that stayed the same become part of the runs */
                plan_learn(pl, ev, end, a, false, ~pl->changed, ~pl->resized);
            }
            return RC_OK;
        }
    }
    rc_err_t err = walk_generic(ev, end, a);
    if (err == RC_OK) {
        /* a plan about to be replaced that never matched: learning does not pay, learn less */
        unsigned victim = (set->last + 1) % PLAN_WAYS;
        const plan_t *old = &set->way[victim];
        if (old->n && old->hits == 0 && w->backoff < 6) {
            w->backoff++;
        }
        if ((w->misses++ & ((1u << w->backoff) - 1)) == 0) {
            if (w->mru == &set->way[victim]) {
                w->mru = NULL;
            }
            if (plan_learn(&set->way[victim], ev, end, a, true, 0, 0)) {
                set->last = (uint8_t)victim;
            }
        }
    }
    return err;
}

/* The first three headers of each format: content type, format name and version. */
#define HDR(name, value)                                                                           \
    { name, sizeof(name) - 1, value, sizeof(value) - 1 }
static const rc_msg_header_t k_fmt_headers[3][3] = {
    [RC_FORMAT_JSON] = {HDR("content-type", CT_JSON), HDR("rowcast.format", "json"),
                        HDR("rowcast.format.version", RC_FORMAT_VERSION)},
    [RC_FORMAT_PROTOBUF] = {HDR("content-type", CT_PROTOBUF), HDR("rowcast.format", "protobuf"),
                            HDR("rowcast.format.version", RC_FORMAT_VERSION)},
    [RC_FORMAT_DEBEZIUM_JSON] = {HDR("content-type", CT_JSON),
                                 HDR("rowcast.format", "debezium-json"),
                                 HDR("rowcast.format.version", RC_FORMAT_VERSION)},
};
#undef HDR

/* The headers of the message (rc_msg.h). The ones every message has are written in place
 * after one check for room; the position's text goes to m->text in one piece, and *pos_at is
 * the index of its header (SIZE_MAX: none), whose value the caller points at once all text is
 * written; *text_from (SIZE_MAX: none) is the first header of kafka.headers when some of those
 * have their text there too (text_off says which). */
static rc_err_t add_headers(rc_msg_t *m, rc_format_t f, const ev_at_t *a, const uint8_t *end,
                            size_t *pos_at, size_t *text_from, char *errstr, size_t errstr_size) {
    const uint8_t *const *at = AT(a), *const *mv = META(a), *headers = KAFKA(a)[K_HEADERS];
    const char *schema = NULL, *table = NULL, *gtid = NULL, *file = NULL;
    uint32_t schema_len = 0, table_len = 0, gtid_len = 0, file_len = 0;
    uint64_t pos = 0;
    const uint8_t *p;
    rc_err_t err;
    *pos_at = SIZE_MAX;
    *text_from = SIZE_MAX;
    if (m->cap_headers - m->n_headers < 7 && !headers_room(m, 7)) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    size_t fi = f <= RC_FORMAT_DEBEZIUM_JSON ? (size_t)f : RC_FORMAT_JSON;
    rc_msg_header_t *h = m->headers + m->n_headers; /* written in turn, counted once */
    memcpy(h, k_fmt_headers[fi], sizeof k_fmt_headers[fi]);
    h += 3;
#define PUT_AT(h, name, value, value_len)                                                          \
    (*(h)++ = (rc_msg_header_t){name, sizeof(name) - 1, value, value_len})
    if (at[E_SCHEMA] && (str_of(at[E_SCHEMA], end, &schema, &schema_len), schema)) {
        PUT_AT(h, "rowcast.schema", schema, schema_len);
    }
    if (at[E_TABLE] && (str_of(at[E_TABLE], end, &table, &table_len), table)) {
        PUT_AT(h, "rowcast.table", table, table_len);
    }
    uint64_t commit_ts = 0;
    if (mv[M_COMMIT_TS] && !uint_of(mv[M_COMMIT_TS], end, &commit_ts)) {
        commit_ts = 0;
    }
    m->commit_ts = commit_ts;
    if (mv[M_GTID] && (str_of(mv[M_GTID], end, &gtid, &gtid_len), gtid)) {
        PUT_AT(h, "rowcast.gtid", gtid, gtid_len);
    }
    if (mv[M_FILE] && (str_of(mv[M_FILE], end, &file, &file_len), file) && mv[M_POS] &&
        uint_of(mv[M_POS], end, &pos)) { /* no position without both */
        /* file ':' pos in one reserve: the digits written in place (rc_json_uint_at writes up
         * to 29 bytes), and room for a short name copied 32 bytes at once (a usual binlog file
         * name), when the event has them after it */
        size_t off = m->text.len, room = (size_t)file_len + 30 < 32 ? 32 : (size_t)file_len + 30;
        if (m->text.cap - off < room && rc_buf_reserve(&m->text, room) != RC_OK) {
            m->n_headers = (size_t)(h - m->headers);
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        if (file_len <= 32 && end - (const uint8_t *)file >= 32) {
            char tmp[32];
            memcpy(tmp, file, 32);
            memcpy(m->text.data + off, tmp, 32);
        } else {
            memcpy(m->text.data + off, file, file_len);
        }
        char *o = m->text.data + off + file_len;
        *o++ = ':';
        m->text.len = (size_t)(rc_json_uint_at(o, pos) - m->text.data);
        *pos_at = (size_t)(h - m->headers);
        m->text_off[*pos_at] = off;
        PUT_AT(h, "rowcast.position", NULL, m->text.len - off);
    }
#undef PUT_AT
    m->n_headers = (size_t)(h - m->headers);

    /* the event's own kafka.headers */
    uint32_t nh = 0;
    p = headers;
    if (!p || is_nil(p, end) || (p < end && p[0] == 0x80)) {
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
        if (is_nil(p, end)) {
            err = RC_OK; /* left out */
        } else if (rc_mp_read_str(&q, end, &s, &n) == RC_OK) {
            err = add_header(m, name, name_len, s, n, NO_TEXT);
        } else if (bin_of(p, end, &b, &n)) {
            err = add_header(m, name, name_len, b, n, NO_TEXT);
        } else {
            size_t off = m->text.len, used;
            if ((err = rc_json_write(&m->text, p, (size_t)(end - p), &used)) == RC_OK) {
                err = add_header(m, name, name_len, NULL, m->text.len - off, off);
                *text_from = *text_from == SIZE_MAX ? m->n_headers - 1 : *text_from;
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

/* The fields rc_debezium reads, as the walk found them in a. */
static inline void dbz_at_of(rc_debezium_at_t *da, const ev_at_t *a) {
    memcpy(da->ev, AT(a), sizeof da->ev);
    memcpy(da->meta, META(a), sizeof da->meta);
    da->meta_is_map = a->meta_is_map;
    da->ev_end = a->end;
}

/* The message's key (rc_msg.h) into m->key, for the event the walk found at a. With protobuf
 * and debezium-json, m->proto_tpl or m->dbz_tpl has just written the event's value (its row
 * template gives the key's columns), and da is the walk's fields as dbz_at_of makes them. On
 * error errstr says why. */
static inline rc_err_t put_key(rc_msg_t *m, rc_format_t f, const ev_at_t *a, rc_debezium_at_t *da,
                               const uint8_t *end, uint32_t topic_len, char *errstr,
                               size_t errstr_size) {
    const uint8_t *const *kat = KAFKA(a), *keyp = kat[K_KEY];
    if (!keyp || is_nil(keyp, end)) {
        return RC_OK;
    }
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
        err = rc_proto_write_key_tpl(&m->key, m->proto_tpl, keyp, (size_t)(end - keyp),
                                     kat[K_COLUMNS], NULL);
    } else if (f == RC_FORMAT_DEBEZIUM_JSON && is_map(keyp[0])) {
        err = rc_debezium_write_key_tpl(&m->key, m->dbz_tpl, keyp, end, da, kat[K_COLUMNS],
                                        m->debezium_schemas);
    } else {
        err = rc_json_write(&m->key, keyp, (size_t)(end - keyp), NULL);
    }
    if (err != RC_OK) {
        return rc_seterr(errstr, errstr_size, err,
                         "cannot encode the key of an event for %.*s as %s: %s%s", (int)topic_len,
                         m->topic, rc_format_name(f), rc_err2str(err),
                         f == RC_FORMAT_PROTOBUF ? " (a protobuf key is a map or a string)" : "");
    }
    return RC_OK;
}

rc_err_t rc_msg_encode(rc_msg_t *m, rc_format_t f, const uint8_t *ev, size_t len, size_t *used,
                       char *errstr, size_t errstr_size) {
    const uint8_t *end = ev + len;
    char why[256];
    m->key.len = m->value.len = m->text.len = 0; /* rc_buf_reset, without three calls */
    m->n_headers = 0;
    m->topic = NULL;
    m->topic_len = 0;

    ev_at_t a;
    const uint8_t *const *kat = KAFKA(&a), *p;
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
    if (fp && !is_nil(fp, end)) {
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

    rc_debezium_at_t da; /* what the walk found: the envelope's fields are not searched again */
    rc_err_t err;
    /* the key before the value, but for protobuf and debezium-json, whose key takes what the
     * value's row template knows of its columns: the same key, and on error the same message
     * (the key's error first) */
    bool key_after = f != RC_FORMAT_JSON;
    if (!key_after &&
        (err = put_key(m, f, &a, &da, end, topic_len, errstr, errstr_size)) != RC_OK) {
        return err;
    }

    size_t vused;
    const uint8_t *cols = kat[K_COLUMNS]; /* the column types (rc_event.h), or NULL */
    if (f == RC_FORMAT_PROTOBUF) {
        if (!m->proto_tpl) {
            m->proto_tpl = rc_proto_tpl_new(); /* NULL when out of memory: written without */
        }
        err = rc_proto_write_event_tpl(&m->value, m->proto_tpl, ev, len, cols, a.end, &vused);
    } else if (f == RC_FORMAT_DEBEZIUM_JSON) {
        dbz_at_of(&da, &a);
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
    if (key_after) {
        rc_err_t kerr = put_key(m, f, &a, &da, end, topic_len, errstr, errstr_size);
        if (kerr != RC_OK) {
            return kerr;
        }
    }
    if (err != RC_OK) {
        return rc_seterr(errstr, errstr_size, err, "cannot encode an event for %.*s as %s: %s",
                         (int)topic_len, m->topic, rc_format_name(f), rc_err2str(err));
    }
    if (!m->value.data && rc_buf_reserve(&m->value, 1) != RC_OK) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    } /* an empty protobuf message is an empty value, not a null one (a tombstone) */
    size_t pos_at, text_from;
    if ((err = add_headers(m, f, &a, end, &pos_at, &text_from, why, sizeof why)) != RC_OK) {
        return rc_seterr(errstr, errstr_size, err, "the headers of an event for %.*s: %s",
                         (int)topic_len, m->topic, why);
    }
    if (pos_at != SIZE_MAX) {
        m->headers[pos_at].value = m->text.data + m->text_off[pos_at];
    }
    for (size_t i = text_from; i < m->n_headers; i++) {
        if (m->text_off[i] != NO_TEXT) {
            m->headers[i].value = m->text.data + m->text_off[i];
        }
    }
    if (used) {
        *used = vused;
    }
    return RC_OK;
}

uint64_t rc_msg_walk_misses(const rc_msg_t *m) {
    return m->walk ? m->walk->misses : 0;
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
