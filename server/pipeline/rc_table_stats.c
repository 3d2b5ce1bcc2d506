/* rc_table_stats.c: per-table, per-action event counts (see the header). */
#include "rc_table_stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rc_mp.h"

#define N_ACTIONS 4 /* insert, update, delete, other */
#define OTHER     "_other"

static const char *const action_names[N_ACTIONS] = {"insert", "update", "delete", "other"};

typedef struct table {
    char *name; /* "schema.table" or OTHER */
    size_t len;
    uint32_t hash;
    /* written by the counting thread alone (a relaxed load and store, no lock), read by scrapes */
    atomic_uint_fast64_t counts[N_ACTIONS][RC_TABLE_N_COUNTS];
} table_t;

/* One thread counts into a table set and is the only one to change it; it takes the lock only to
 * add a table (the array may move), so scrapes, which read under the lock, see whole entries. */
struct rc_table_stats {
    pthread_mutex_t lock; /* held to change tables, n_tables, index; and by scrapes */
    table_t *tables;
    uint32_t n_tables, cap_tables;
    uint32_t *index; /* open addressing: table number + 1, 0 = empty; size a power of two */
    uint32_t index_size;
    uint32_t other; /* table number of OTHER + 1, 0 = not made yet */
    /* worker scratch */
    uint32_t *slots; /* per input event of the last read: table * N_ACTIONS + action */
    uint32_t *marks;
    size_t *offs; /* where each produced event starts */
    uint32_t cap_slots, cap_marks, cap_offs;
    uint32_t last; /* the table of the previous event + 1: batches often hold one table */
};

rc_table_stats_t *rc_table_stats_new(void) {
    rc_table_stats_t *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void rc_table_stats_destroy(rc_table_stats_t *t) {
    if (!t) {
        return;
    }
    for (uint32_t i = 0; i < t->n_tables; i++) {
        free(t->tables[i].name);
    }
    free(t->tables);
    free(t->index);
    free(t->slots);
    free(t->marks);
    free(t->offs);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static uint32_t fnv(const char *s, size_t n, uint32_t h) {
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    }
    return h;
}

static bool same(const table_t *tb, const char *schema, uint32_t sn, const char *table,
                 uint32_t tn) {
    return tb->len == (size_t)sn + 1 + tn && memcmp(tb->name, schema, sn) == 0 &&
           tb->name[sn] == '.' && memcmp(tb->name + sn + 1, table, tn) == 0;
}

/* Adds a table; lock held. Returns its number + 1, 0 when out of memory. */
static uint32_t add_table(rc_table_stats_t *t, char *name, size_t len, uint32_t hash) {
    if (t->n_tables == t->cap_tables) {
        uint32_t cap = t->cap_tables ? t->cap_tables * 2 : 16;
        table_t *n = realloc(t->tables, cap * sizeof(*n));
        if (!n) {
            return 0;
        }
        t->tables = n;
        t->cap_tables = cap;
    }
    if ((t->n_tables + 1) * 2 > t->index_size) { /* keep the index at most half full */
        uint32_t size = t->index_size ? t->index_size * 2 : 64;
        uint32_t *ix = calloc(size, sizeof(*ix));
        if (!ix) {
            return 0;
        }
        for (uint32_t i = 0; i < t->n_tables; i++) {
            uint32_t h = t->tables[i].hash & (size - 1);
            while (ix[h]) {
                h = (h + 1) & (size - 1);
            }
            ix[h] = i + 1;
        }
        free(t->index);
        t->index = ix;
        t->index_size = size;
    }
    table_t *tb = &t->tables[t->n_tables];
    memset(tb, 0, sizeof(*tb));
    tb->name = name;
    tb->len = len;
    tb->hash = hash;
    uint32_t h = hash & (t->index_size - 1);
    while (t->index[h]) {
        h = (h + 1) & (t->index_size - 1);
    }
    t->index[h] = ++t->n_tables;
    return t->n_tables;
}

/* The table number + 1 of schema.table, made when new (OTHER past the limit); 0 when out of
 * memory. @thread the counting one */
static uint32_t table_of(rc_table_stats_t *t, const char *schema, uint32_t sn, const char *table,
                         uint32_t tn) {
    if (t->last && same(&t->tables[t->last - 1], schema, sn, table, tn)) {
        return t->last;
    }
    uint32_t hash = fnv(table, tn, fnv(".", 1, fnv(schema, sn, 2166136261u)));
    if (t->index_size) {
        uint32_t h = hash & (t->index_size - 1);
        while (t->index[h]) {
            table_t *tb = &t->tables[t->index[h] - 1];
            if (tb->hash == hash && same(tb, schema, sn, table, tn)) {
                return t->last = t->index[h];
            }
            h = (h + 1) & (t->index_size - 1);
        }
    }
    if (t->n_tables >= RC_TABLE_STATS_MAX) {
        if (!t->other) {
            char *name = strdup(OTHER);
            /* "_other" has no '.', so no schema.table lookup can find it by name */
            pthread_mutex_lock(&t->lock);
            t->other = name ? add_table(t, name, strlen(OTHER), 0) : 0;
            pthread_mutex_unlock(&t->lock);
            if (!t->other) {
                free(name);
                return 0;
            }
        }
        return t->last = t->other;
    }
    char *name = malloc((size_t)sn + tn + 2);
    if (!name) {
        return 0;
    }
    memcpy(name, schema, sn);
    name[sn] = '.';
    memcpy(name + sn + 1, table, tn);
    name[sn + 1 + tn] = '\0';
    pthread_mutex_lock(&t->lock);
    uint32_t id = add_table(t, name, (size_t)sn + 1 + tn, hash);
    pthread_mutex_unlock(&t->lock);
    if (!id) {
        free(name);
        return 0;
    }
    return t->last = id;
}

static uint32_t action_of(const char *a, uint32_t n) {
    for (uint32_t i = 0; i < N_ACTIONS - 1; i++) {
        if (strlen(action_names[i]) == n && memcmp(action_names[i], a, n) == 0) {
            return i;
        }
    }
    return N_ACTIONS - 1;
}

/* The schema, table and action of the event map at *p, moving *p past the event when skip (else
 * it stays). Stops reading keys once it has the three (they come first in rc_event.h's layout).
 * Absent or non-string values are "". */
static rc_err_t pick(const uint8_t **p, const uint8_t *end, bool skip, const char *s[3],
                     uint32_t sl[3]) {
    static const char *const keys[] = {"schema", "table", "action"};
    const uint8_t *cur = *p;
    uint32_t count, found = 0;
    bool got[3] = {false, false, false};
    rc_err_t err = rc_mp_read_map(&cur, end, &count);
    if (err != RC_OK) {
        return err;
    }
    for (int k = 0; k < 3; k++) {
        s[k] = "";
        sl[k] = 0;
    }
    uint32_t i = 0;
    for (; i < count && found < 3; i++) {
        const char *key;
        uint32_t klen;
        int k = 3;
        if (rc_mp_read_str(&cur, end, &key, &klen) == RC_OK) {
            for (k = 0; k < 3; k++) {
                if (strlen(keys[k]) == klen && memcmp(keys[k], key, klen) == 0) {
                    break;
                }
            }
        } else if ((err = rc_mp_skip(&cur, end)) != RC_OK) {
            return err;
        }
        if (k < 3 && !got[k] && rc_mp_read_str(&cur, end, &s[k], &sl[k]) == RC_OK) {
            got[k] = true;
            found++;
        } else if ((err = rc_mp_skip(&cur, end)) != RC_OK) {
            return err;
        }
    }
    for (; skip && i < count; i++) { /* the rest: key and value */
        if ((err = rc_mp_skip(&cur, end)) != RC_OK || (err = rc_mp_skip(&cur, end)) != RC_OK) {
            return err;
        }
    }
    if (skip) {
        *p = cur;
    }
    return RC_OK;
}

/* The slot (table * N_ACTIONS + action) of the event at *p. */
static rc_err_t slot_of(rc_table_stats_t *t, const uint8_t **p, const uint8_t *end, bool skip,
                        uint32_t *slot) {
    const char *s[3];
    uint32_t sl[3];
    rc_err_t err = pick(p, end, skip, s, sl);
    if (err != RC_OK) {
        return err;
    }
    uint32_t id = table_of(t, s[0], sl[0], s[1], sl[1]);
    if (!id) {
        return RC_ERR_NOMEM;
    }
    *slot = (id - 1) * N_ACTIONS + action_of(s[2], sl[2]);
    return RC_OK;
}

static void add(rc_table_stats_t *t, uint32_t slot, rc_table_count_t kind, uint64_t n) {
    atomic_uint_fast64_t *c = &t->tables[slot / N_ACTIONS].counts[slot % N_ACTIONS][kind];
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

rc_err_t rc_table_stats_count(rc_table_stats_t *t, const uint8_t *buf, size_t len, uint32_t n,
                              bool same_table, rc_table_count_t kind) {
    const uint8_t *cur = buf, *end = buf + len;
    rc_err_t err = RC_OK;
    uint32_t slot;
    if (same_table) {
        if (n && (err = slot_of(t, &cur, end, false, &slot)) == RC_OK) {
            add(t, slot, kind, n);
        }
    } else {
        for (uint32_t i = 0; i < n && err == RC_OK; i++) {
            if ((err = slot_of(t, &cur, end, true, &slot)) == RC_OK) {
                add(t, slot, kind, 1);
            }
        }
    }
    return err;
}

rc_err_t rc_table_stats_slots(rc_table_stats_t *t, const uint8_t *buf, size_t len, uint32_t n) {
    if (n > t->cap_slots) {
        uint32_t *s = realloc(t->slots, (size_t)n * 2 * sizeof(*s));
        if (!s) {
            return RC_ERR_NOMEM;
        }
        t->slots = s;
        t->cap_slots = n * 2;
    }
    /* an event past a scan error keeps no slot */
    memset(t->slots, 0xff, (size_t)n * sizeof(*t->slots));
    const uint8_t *cur = buf, *end = buf + len;
    rc_err_t err = RC_OK;
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        err = slot_of(t, &cur, end, true, &t->slots[i]);
    }
    return err;
}

uint32_t *rc_table_stats_event_marks(rc_table_stats_t *t, uint32_t n) {
    if (n + 1 > t->cap_marks) {
        uint32_t *m = realloc(t->marks, ((size_t)n + 1) * 2 * sizeof(*m));
        if (!m) {
            return NULL;
        }
        t->marks = m;
        t->cap_marks = (n + 1) * 2;
    }
    for (uint32_t i = 0; i <= n; i++) {
        t->marks[i] = i;
    }
    return t->marks;
}

void rc_table_stats_dropped(rc_table_stats_t *t, uint32_t n) {
    for (uint32_t i = 0; i < n && i < t->cap_slots && i + 1 < t->cap_marks; i++) {
        uint32_t slot = t->slots[i];
        if (t->marks[i + 1] == t->marks[i] && slot != UINT32_MAX) {
            add(t, slot, RC_TABLE_DROPPED, 1);
        }
    }
}

size_t *rc_table_stats_offsets(rc_table_stats_t *t, uint32_t n) {
    if (n > t->cap_offs) {
        size_t *o = realloc(t->offs, (size_t)n * 2 * sizeof(*o));
        if (!o) {
            return NULL;
        }
        t->offs = o;
        t->cap_offs = n * 2;
    }
    return t->offs;
}

rc_err_t rc_table_stats_produced(rc_table_stats_t *t, const uint8_t *buf, size_t len, uint32_t n) {
    rc_err_t err = RC_OK;
    uint32_t slot;
    for (uint32_t i = 0; i < n && i < t->cap_offs && err == RC_OK; i++) {
        const uint8_t *cur = buf + t->offs[i];
        if (t->offs[i] >= len) {
            err = RC_ERR_INVALID;
        } else if ((err = slot_of(t, &cur, buf + len, false, &slot)) == RC_OK) {
            add(t, slot, RC_TABLE_PRODUCED, 1);
        }
    }
    return err;
}

void rc_table_stats_each(rc_table_stats_t *t, rc_table_stats_fn fn, void *arg) {
    pthread_mutex_lock(&t->lock);
    for (uint32_t i = 0; i < t->n_tables; i++) {
        for (uint32_t a = 0; a < N_ACTIONS; a++) {
            uint64_t c[RC_TABLE_N_COUNTS];
            for (int k = 0; k < RC_TABLE_N_COUNTS; k++) {
                c[k] = atomic_load_explicit(&t->tables[i].counts[a][k], memory_order_relaxed);
            }
            if (c[RC_TABLE_READ] || c[RC_TABLE_PRODUCED] || c[RC_TABLE_DROPPED]) {
                fn(arg, t->tables[i].name, action_names[a], c);
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
}
