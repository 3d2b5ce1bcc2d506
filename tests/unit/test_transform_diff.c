/* test_transform_diff.c: a randomized differential test of the two transform engines.
 *
 * From fixed seeds it generates events (every value type, nested maps, before/after rows,
 * meta, kafka, wide rows, columns named like numbers) and scripts from a small language of
 * operations (read, set, rawset/defineProperty, delete, delete and set again, add, copy a
 * column, replace a row or a list, push and pop rows, rebuild a row in another order, walk a
 * map or a list writing it back, mutate a nested map, replace kafka, route, keep the event or
 * a copied row in a global for a later call, drop, fan out, send the previous event again,
 * return), renders
 * each script in Lua and in ES5 JS, runs both through the pipeline's chain entry point (one or
 * two transforms, two batches so kept events outlive their batch) and checks each output
 * against a reference model written here in C that applies the same operations to a decoded
 * tree of the event. The only difference allowed between the engines is the one README
 * "Transforms" documents: the order of keys a script adds or assigns again (Lua: after the
 * original keys, sorted; JS: in the order they were assigned), so each engine is compared
 * with the model of its own language byte for byte, and the two engines with each other after
 * sorting map keys. A failure prints the seed, both scripts and the events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_buf.h"
#include "rc_event.h"
#include "rc_mp.h"
#include "rc_script.h"
#include "rc_script_int.h"

/* ---- random numbers (xorshift64*: the same sequence on every machine) ---- */

static uint64_t rng;

static uint64_t rnd(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static unsigned pick(unsigned n) {
    return (unsigned)(rnd() % n);
}

static bool chance(unsigned percent) {
    return pick(100) < percent;
}

/* ---- an arena for everything one case allocates ---- */

static void **arena;
static size_t arena_n, arena_cap;

static void *alloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    assert_non_null(p);
    if (arena_n == arena_cap) {
        arena_cap = arena_cap ? 2 * arena_cap : 1024;
        arena = realloc(arena, arena_cap * sizeof(*arena));
        assert_non_null(arena);
    }
    arena[arena_n++] = p;
    return p;
}

static void arena_free(void) {
    for (size_t i = 0; i < arena_n; i++) {
        free(arena[i]);
    }
    arena_n = 0;
}

static char *dup_bytes(const void *s, size_t n) {
    char *p = alloc(n + 1);
    if (n) {
        memcpy(p, s, n);
    }
    return p;
}

/* ---- the reference model: a tree of the event ----
 *
 * A value is either the bytes it came with (M_RAW, written back as they are), a script value
 * (nil, bool, number, string) or a map/array whose entries remember the msgpack type they came
 * with (tag, TAG_NONE for entries a script made) and, for maps, whether the key was one of the
 * map's original keys (Lua keeps those in place even when assigned again). */

typedef enum { M_RAW, M_NIL, M_BOOL, M_NUM, M_STR, M_MAP, M_ARR } mkind_t;

typedef struct mv mv_t;

typedef struct ment {
    const char *k;
    size_t kn;
    mv_t *v;
    uint8_t tag;
    bool orig; /* one of the map's keys as it came (Lua: its place is kept) */
    bool gone; /* deleted */
} ment_t;

struct mv {
    mkind_t kind;
    const uint8_t *raw;
    size_t rawn;
    bool b;
    double d;
    const char *s;
    size_t n;
    ment_t *e;
    size_t ne, cap;
};

static mv_t *mv_new(mkind_t k) {
    mv_t *v = alloc(sizeof(*v));
    v->kind = k;
    return v;
}

static mv_t *mv_raw(const uint8_t *p, size_t n) {
    mv_t *v = mv_new(M_RAW);
    v->raw = (const uint8_t *)dup_bytes(p, n);
    v->rawn = n;
    return v;
}

static mv_t *mv_num(double d) {
    mv_t *v = mv_new(M_NUM);
    v->d = d;
    return v;
}

static mv_t *mv_str(const char *s, size_t n) {
    mv_t *v = mv_new(M_STR);
    v->s = dup_bytes(s, n);
    v->n = n;
    return v;
}

static ment_t *mv_push(mv_t *m, const char *k, size_t kn, mv_t *v, uint8_t tag, bool orig) {
    if (m->ne == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 8;
        ment_t *e = alloc(cap * sizeof(*e));
        if (m->ne) {
            memcpy(e, m->e, m->ne * sizeof(*e));
        }
        m->e = e;
        m->cap = cap;
    }
    ment_t *x = &m->e[m->ne++];
    *x = (ment_t){k, kn, v, tag, orig, false};
    return x;
}

/* The tag of a msgpack value (the type the engines remember for it). */
static uint8_t tag_of(const msgpack_object *o) {
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return TAG_NIL;
    case MSGPACK_OBJECT_BOOLEAN:
        return TAG_BOOL;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= (1ULL << 53) ? TAG_INT : TAG_BIGUINT;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return o->via.i64 >= -(int64_t)(1LL << 53) ? TAG_INT : TAG_BIGINT;
    case MSGPACK_OBJECT_FLOAT32:
        return TAG_F32;
    case MSGPACK_OBJECT_FLOAT64:
        return TAG_F64;
    case MSGPACK_OBJECT_STR:
        return TAG_STR;
    case MSGPACK_OBJECT_BIN:
        return TAG_BIN;
    case MSGPACK_OBJECT_EXT:
        return (uint8_t)(TAG_EXT | (uint8_t)o->via.ext.type);
    case MSGPACK_OBJECT_ARRAY:
        return TAG_ARRAY;
    case MSGPACK_OBJECT_MAP:
        return TAG_MAP;
    }
    return TAG_NONE;
}

static mv_t *raw_of_object(const msgpack_object *o) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *o);
    mv_t *v = mv_raw((const uint8_t *)sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return v;
}

/* Turns a raw map or array into entries (each raw, with its tag); others stay as they are. */
static void expand(mv_t *v) {
    if (v->kind != M_RAW) {
        return;
    }
    msgpack_zone z;
    msgpack_zone_init(&z, 2048);
    msgpack_object o;
    size_t off = 0;
    assert_int_equal(msgpack_unpack((const char *)v->raw, v->rawn, &off, &z, &o),
                     MSGPACK_UNPACK_SUCCESS);
    if (o.type == MSGPACK_OBJECT_MAP) {
        v->kind = M_MAP;
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            const msgpack_object_kv *kv = &o.via.map.ptr[i];
            assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
            mv_push(v, dup_bytes(kv->key.via.str.ptr, kv->key.via.str.size), kv->key.via.str.size,
                    raw_of_object(&kv->val), tag_of(&kv->val), true);
        }
    } else if (o.type == MSGPACK_OBJECT_ARRAY) {
        v->kind = M_ARR;
        for (uint32_t i = 0; i < o.via.array.size; i++) {
            mv_push(v, NULL, 0, raw_of_object(&o.via.array.ptr[i]), tag_of(&o.via.array.ptr[i]),
                    true);
        }
    }
    msgpack_zone_destroy(&z);
}

/* The value a script sees for v (a scalar; maps and arrays are themselves). */
static mv_t *script_value(mv_t *v) {
    if (v->kind != M_RAW) {
        return v;
    }
    msgpack_zone z;
    msgpack_zone_init(&z, 256);
    msgpack_object o;
    size_t off = 0;
    assert_int_equal(msgpack_unpack((const char *)v->raw, v->rawn, &off, &z, &o),
                     MSGPACK_UNPACK_SUCCESS);
    mv_t *r = v;
    char num[32];
    switch (o.type) {
    case MSGPACK_OBJECT_NIL:
        r = mv_new(M_NIL);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        r = mv_new(M_BOOL);
        r->b = o.via.boolean;
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o.via.u64 <= (1ULL << 53)) {
            r = mv_num((double)o.via.u64);
        } else {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)o.via.u64);
            r = mv_str(num, strlen(num));
        }
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        if (o.via.i64 >= -(int64_t)(1LL << 53)) {
            r = mv_num((double)o.via.i64);
        } else {
            snprintf(num, sizeof(num), "%lld", (long long)o.via.i64);
            r = mv_str(num, strlen(num));
        }
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        r = mv_num(o.via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        r = mv_str(o.via.str.ptr, o.via.str.size);
        break;
    case MSGPACK_OBJECT_EXT:
        r = mv_str(o.via.ext.ptr, o.via.ext.size);
        break;
    default: /* bin (not used by the ops: a Lua string but a JS Uint8Array), map, array */
        expand(v);
        break;
    }
    msgpack_zone_destroy(&z);
    return r;
}

/* README "Transforms": a script number keeps float32/float64 when it came so (float32 only
 * when it still fits; NaN fits), else is an integer when whole, else float64. Every NaN is
 * written as the one quiet NaN without a sign. */
static void model_pack_number(msgpack_packer *pk, double d, uint8_t tag) {
    if (tag == TAG_F32 && ((double)(float)d == d || d != d)) {
        msgpack_pack_float(pk, (float)d);
    } else if (tag == TAG_F32 || tag == TAG_F64) {
        msgpack_pack_double(pk, d);
    } else if (d == floor(d) && d >= -9223372036854775808.0 && d < 18446744073709551616.0) {
        if (d < 0) {
            msgpack_pack_int64(pk, (int64_t)d);
        } else {
            msgpack_pack_uint64(pk, (uint64_t)d);
        }
    } else {
        msgpack_pack_double(pk, d);
    }
}

/* A script string keeps bin/ext, and a big integer column given a decimal string stays an
 * integer; else str. */
static void model_pack_string(msgpack_packer *pk, const char *s, size_t n, uint8_t tag) {
    if (tag == TAG_BIN) {
        msgpack_pack_bin_with_body(pk, s, n);
        return;
    }
    if (tag & TAG_EXT) {
        msgpack_pack_ext_with_body(pk, s, n, (int8_t)(tag & 0x7f));
        return;
    }
    if ((tag == TAG_BIGINT || tag == TAG_BIGUINT) && n > 0 && n < 21) {
        bool neg = s[0] == '-', ok = n > (size_t)neg;
        unsigned long long u = 0;
        for (size_t i = neg; i < n && ok; i++) {
            ok = s[i] >= '0' && s[i] <= '9' && u <= (ULLONG_MAX - (unsigned)(s[i] - '0')) / 10;
            u = u * 10 + (unsigned)(s[i] - '0');
        }
        if (ok && tag == TAG_BIGUINT && !neg) {
            msgpack_pack_uint64(pk, u);
            return;
        }
        if (ok && tag == TAG_BIGINT && (neg ? u <= 9223372036854775808ULL : u <= INT64_MAX)) {
            msgpack_pack_int64(pk, neg ? (int64_t)(0 - u) : (int64_t)u);
            return;
        }
    }
    msgpack_pack_str_with_body(pk, s, n);
}

static int ment_cmp(const void *a, const void *b) {
    const ment_t *x = *(ment_t *const *)a, *y = *(ment_t *const *)b;
    size_t n = x->kn < y->kn ? x->kn : y->kn;
    int c = memcmp(x->k, y->k, n);
    return c ? c : (x->kn > y->kn) - (x->kn < y->kn);
}

/* A key JS treats as an array index ("1", "10"). */
static bool index_key(const char *k, size_t n) {
    if (n == 0 || n > 10 || (k[0] == '0' && n > 1)) {
        return false;
    }
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(k[i] - '0');
    }
    return v < 0xffffffffULL;
}

/* The place of key k among the keys map v came with, or -1. */
static int came_at(const mv_t *v, const char *k, size_t kn) {
    int at = 0;
    for (size_t i = 0; i < v->ne; i++) {
        if (v->e[i].orig) {
            if (v->e[i].kn == kn && memcmp(v->e[i].k, k, kn) == 0) {
                return at;
            }
            at++;
        }
    }
    return -1;
}

static int index_cmp(const void *a, const void *b) {
    const ment_t *x = *(ment_t *const *)a, *y = *(ment_t *const *)b;
    return x->kn != y->kn ? (x->kn > y->kn) - (x->kn < y->kn) : memcmp(x->k, y->k, x->kn);
}

/* The live entries of map v in the order they are sent; returns their number. Lua: the keys
 * it came with in place, then the added ones sorted. JS: the object's order, except that
 * JS lists array-index keys ("10") first, ascending: the engine puts those the map came with
 * back in their place (also when deleted and assigned again); added ones stay first. */
static size_t map_order(const mv_t *v, bool lua, const ment_t **order) {
    size_t n = 0, added = 0;
    if (lua) {
        for (size_t i = 0; i < v->ne; i++) {
            if (!v->e[i].gone && v->e[i].orig) {
                order[n++] = &v->e[i];
            }
        }
        for (size_t i = 0; i < v->ne; i++) {
            if (!v->e[i].gone && !v->e[i].orig) {
                order[n + added++] = &v->e[i];
            }
        }
        qsort(order + n, added, sizeof(*order), ment_cmp);
        return n + added;
    }
    const ment_t **idx = alloc((v->ne + 1) * sizeof(*idx));
    int *at = alloc((v->ne + 1) * sizeof(*at));
    size_t ni = 0;
    for (size_t i = 0; i < v->ne; i++) { /* added index keys first, ascending */
        if (!v->e[i].gone && index_key(v->e[i].k, v->e[i].kn) &&
            came_at(v, v->e[i].k, v->e[i].kn) < 0) {
            order[n++] = &v->e[i];
        }
    }
    qsort(order, n, sizeof(*order), index_cmp);
    for (size_t i = 0; i < v->ne; i++) {
        if (!v->e[i].gone && index_key(v->e[i].k, v->e[i].kn) &&
            (at[ni] = came_at(v, v->e[i].k, v->e[i].kn)) >= 0) {
            idx[ni++] = &v->e[i];
        }
    }
    for (size_t i = 0; i <= v->ne; i++) {
        if (i < v->ne && (v->e[i].gone || index_key(v->e[i].k, v->e[i].kn))) {
            continue;
        }
        int here = i < v->ne ? came_at(v, v->e[i].k, v->e[i].kn) : -1;
        for (;;) { /* the index keys that came before this key (all of them at the end) */
            size_t best = ni;
            for (size_t x = 0; x < ni; x++) {
                if (at[x] >= 0 && (i == v->ne || at[x] < here) &&
                    (best == ni || at[x] < at[best])) {
                    best = x;
                }
            }
            if (best == ni) {
                break;
            }
            order[n++] = idx[best];
            at[best] = -2;
        }
        if (i < v->ne) {
            order[n++] = &v->e[i];
        }
    }
    return n;
}

static void model_pack(msgpack_packer *pk, const mv_t *v, uint8_t tag, bool lua) {
    switch (v->kind) {
    case M_RAW:
        pk->callback(pk->data, (const char *)v->raw, v->rawn);
        return;
    case M_NIL:
        msgpack_pack_nil(pk);
        return;
    case M_BOOL:
        v->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        return;
    case M_NUM:
        model_pack_number(pk, v->d, tag);
        return;
    case M_STR:
        model_pack_string(pk, v->s, v->n, tag);
        return;
    case M_ARR:
        msgpack_pack_array(pk, v->ne);
        for (size_t i = 0; i < v->ne; i++) {
            model_pack(pk, v->e[i].v, v->e[i].tag, lua);
        }
        return;
    case M_MAP:
        break;
    }
    const ment_t **order = alloc((v->ne + 1) * sizeof(*order));
    size_t n = map_order(v, lua, order);
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str_with_body(pk, order[i]->k, order[i]->kn);
        model_pack(pk, order[i]->v, order[i]->tag, lua);
    }
}

/* copy(v): in both engines a deep copy is what the value would be had it come in as the
 * msgpack it is sent as (README: copy keeps key order and types): its keys in the order they
 * are sent, each the copy's own (in Lua a key the script adds to the copy goes after them,
 * sorted), and every value, script-made ones too, remembers the type it is sent with. */
static mv_t *clone(const mv_t *v, bool lua) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    model_pack(&pk, v, TAG_NONE, lua);
    mv_t *c = mv_raw((const uint8_t *)sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return c;
}

static ment_t *find(mv_t *m, const char *k, bool live) {
    size_t kn = strlen(k);
    for (size_t i = m->ne; i-- > 0;) {
        if (m->e[i].kn == kn && memcmp(m->e[i].k, k, kn) == 0 && (!live || !m->e[i].gone)) {
            return &m->e[i];
        }
    }
    return NULL;
}

static mv_t *get(mv_t *m, const char *k) {
    expand(m);
    ment_t *x = find(m, k, true);
    assert_non_null(x);
    return x->v;
}

/* m[k] = v as a script assignment does it in each language. */
static void model_set(mv_t *m, const char *k, mv_t *v, bool lua) {
    expand(m);
    ment_t *x = find(m, k, !lua && !index_key(k, strlen(k)));
    if (x) {
        x->v = v;
        x->gone = false;
        return;
    }
    /* a new key, or (JS) one deleted before: it goes last, and keeps the type it came with */
    ment_t *old = find(m, k, false);
    mv_push(m, dup_bytes(k, strlen(k)), strlen(k), v, old ? old->tag : TAG_NONE, false);
}

static void model_del(mv_t *m, const char *k) {
    expand(m);
    ment_t *x = find(m, k, true);
    if (x) {
        x->gone = true;
    }
}

/* ---- values and literals ---- */

typedef enum {
    CT_NIL,
    CT_BOOL,
    CT_INT,
    CT_BIGU,
    CT_BIGN,
    CT_F32,
    CT_F64,
    CT_STR,
    CT_BIN,
    CT_EXT,
    CT_NEST,
    CT_N
} ctype_t;

static char long_str[300];

static const char *const str_values[] = {
    long_str,
    "a string longer than thirty-one bytes: str8",
    "",
    "ann@example.com",
    "h\xc3\xa9llo \xe2\x82\xac",
    "q\"uote\\back\nline\ttab",
    "123",
    "x",
    "\xf0\x9f\x98\x80 emoji",
};

static void pack_cstr(msgpack_packer *pk, const char *s) {
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void gen_value(msgpack_packer *pk, ctype_t t, int depth) {
    static const int64_t ints[] = {0,
                                   1,
                                   -1,
                                   127,
                                   128,
                                   -32,
                                   -33,
                                   255,
                                   65535,
                                   -32769,
                                   4294967296LL,
                                   9007199254740992LL,
                                   -9007199254740992LL,
                                   42};
    static const float f32s[] = {0.1f, 2.0f, -1.5f, 3.4e38f, 1e-10f, 0.0f};
    static const double f64s[] = {0.1, 3.0, -2.5e-300, 1e300, 123456.789, -7.0};
    switch (t) {
    case CT_NIL:
        msgpack_pack_nil(pk);
        break;
    case CT_BOOL:
        chance(50) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case CT_INT: {
        int64_t v = chance(70) ? ints[pick(14)] : (int64_t)(rnd() % 2000000) - 1000000;
        v < 0 ? msgpack_pack_int64(pk, v) : msgpack_pack_uint64(pk, (uint64_t)v);
        break;
    }
    case CT_BIGU:
        msgpack_pack_uint64(pk, chance(30) ? UINT64_MAX : (1ULL << 53) + 1 + (rnd() >> 12));
        break;
    case CT_BIGN:
        msgpack_pack_int64(pk, chance(30) ? INT64_MIN
                                          : -(int64_t)(1LL << 53) - 1 - (int64_t)(rnd() >> 12));
        break;
    case CT_F32:
        msgpack_pack_float(pk, f32s[pick(6)]);
        break;
    case CT_F64:
        msgpack_pack_double(pk, f64s[pick(6)]);
        break;
    case CT_STR:
        if (chance(10)) {
            msgpack_pack_str_with_body(pk, "a\0b", 3);
        } else {
            pack_cstr(pk, str_values[pick(sizeof(str_values) / sizeof(str_values[0]))]);
        }
        break;
    case CT_BIN:
        if (chance(20)) {
            msgpack_pack_bin_with_body(pk, "", 0);
        } else {
            msgpack_pack_bin_with_body(pk, "\xff\x00\x80", 3);
        }
        break;
    case CT_EXT: {
        static const struct {
            int8_t type;
            const char *text;
        } exts[] = {{RC_EXT_DECIMAL, "-1234.5600"},
                    {RC_EXT_DATE, "2024-02-29"},
                    {RC_EXT_DATETIME, "2024-02-29T13:01:02.500"},
                    {RC_EXT_JSON, "{\"a\":[1,2],\"b\":\"\\u00e9\"}"}};
        int i = (int)pick(4);
        msgpack_pack_ext_with_body(pk, exts[i].text, strlen(exts[i].text), exts[i].type);
        break;
    }
    case CT_NEST: /* a JSON value as a nested map: {k: int, l: [int, str], s: str[, m: {...}]} */
        msgpack_pack_map(pk, depth < 2 ? 4 : 3);
        pack_cstr(pk, "k"), gen_value(pk, CT_INT, depth + 1);
        pack_cstr(pk, "l"), msgpack_pack_array(pk, 2);
        gen_value(pk, CT_INT, depth + 1), gen_value(pk, CT_STR, depth + 1);
        pack_cstr(pk, "s"), gen_value(pk, chance(50) ? CT_STR : CT_F64, depth + 1);
        if (depth < 2) {
            pack_cstr(pk, "m"), gen_value(pk, CT_NEST, depth + 1);
        }
        break;
    default:
        break;
    }
}

/* Literals a script assigns: the Lua and JS text and the model's value. */
typedef struct lit {
    const char *lua, *js;
    mkind_t kind;
    double d;
    const char *s;
    size_t n;
} lit_t;

static const lit_t lits[] = {
    {"0", "0", M_NUM, 0, NULL, 0},
    {"42", "42", M_NUM, 42, NULL, 0},
    {"-7", "-7", M_NUM, -7, NULL, 0},
    {"3000000000", "3000000000", M_NUM, 3000000000.0, NULL, 0},
    {"-2147483649", "-2147483649", M_NUM, -2147483649.0, NULL, 0},
    {"9007199254740991", "9007199254740991", M_NUM, 9007199254740991.0, NULL, 0},
    {"1.5", "1.5", M_NUM, 1.5, NULL, 0},
    {"-0.25", "-0.25", M_NUM, -0.25, NULL, 0},
    {"0.1", "0.1", M_NUM, 0.1, NULL, 0},
    {"1e300", "1e300", M_NUM, 1e300, NULL, 0},
    {"0/0", "0/0", M_NUM, NAN, NULL, 0},
    {"-(0/0)", "-(0/0)", M_NUM, NAN, NULL, 0},
    {"-1/0", "-1/0", M_NUM, -INFINITY, NULL, 0},
    {"-0.0", "-0.0", M_NUM, -0.0, NULL, 0},
    {"''", "''", M_STR, 0, "", 0},
    {"'x'", "'x'", M_STR, 0, "x", 1},
    {"'h\\195\\169'", "'h\\u00e9'", M_STR, 0, "h\xc3\xa9", 3},
    {"'a\"b\\\\c\\n'", "'a\"b\\\\c\\n'", M_STR, 0, "a\"b\\c\n", 6},
    {"'123'", "'123'", M_STR, 0, "123", 3},
    {"'-5'", "'-5'", M_STR, 0, "-5", 2},
    {"'18446744073709551615'", "'18446744073709551615'", M_STR, 0, "18446744073709551615", 20},
    {"null", "null", M_NIL, 0, NULL, 0},
    {"true", "true", M_BOOL, 1, NULL, 0},
    {"false", "false", M_BOOL, 0, NULL, 0},
    {"{a = 1, b = 'x'}", "{a: 1, b: 'x'}", M_MAP, 0, NULL, 0},
    {"{1, 'two', 3.5}", "[1, 'two', 3.5]", M_ARR, 0, NULL, 0},
};
#define N_LITS (sizeof(lits) / sizeof(lits[0]))

static mv_t *lit_value(unsigned i) {
    const lit_t *l = &lits[i];
    mv_t *v;
    switch (l->kind) {
    case M_NUM:
        return mv_num(l->d);
    case M_STR:
        return mv_str(l->s, l->n);
    case M_NIL:
        return mv_new(M_NIL);
    case M_BOOL:
        v = mv_new(M_BOOL);
        v->b = l->d != 0;
        return v;
    case M_MAP:
        v = mv_new(M_MAP);
        mv_push(v, "a", 1, mv_num(1), TAG_NONE, false);
        mv_push(v, "b", 1, mv_str("x", 1), TAG_NONE, false);
        return v;
    default:
        v = mv_new(M_ARR);
        mv_push(v, NULL, 0, mv_num(1), TAG_NONE, false);
        mv_push(v, NULL, 0, mv_str("two", 3), TAG_NONE, false);
        mv_push(v, NULL, 0, mv_num(3.5), TAG_NONE, false);
        return v;
    }
}

/* Column and key names (UTF-8 ones included), written as string literals in both languages. */
static const char *const col_names[] = {
    "id",
    "email",
    "qty",
    "price",
    "flag",
    "note",
    "blob",
    "doc",
    "big",
    "neg",
    "f",
    "n",
    "\xc3\xa9t\xc3\xa9",
    "when",
    "x y",
    "1",
    "10",
    "",
};
#define N_COLS (sizeof(col_names) / sizeof(col_names[0]))
static const char *const new_names[] = {"zz", "aa", "added", "\xc3\xa0_new", "m1", "B"};
#define N_NEW (sizeof(new_names) / sizeof(new_names[0]))

static void put_lit(rc_buf_t *b, const char *s, bool js) {
    rc_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            rc_buf_printf(b, "\\%c", *p);
        } else if (*p < 0x80) {
            rc_buf_append(b, (const char *)p, 1);
        } else if (!js) {
            rc_buf_printf(b, "\\%u", *p);
        } else { /* UTF-8 to \uXXXX (names are 2-byte sequences) */
            unsigned cp = ((unsigned)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
            rc_buf_printf(b, "\\u%04x", cp);
            p++;
        }
    }
    rc_buf_append(b, "\"", 1);
}

/* ---- scripts: the ops, the generator's view of the rows and the rendering ---- */

typedef enum {
    T_ROW,     /* e.LIST[i] */
    T_META,    /* e.meta */
    T_KEY,     /* e.kafka.key */
    T_HEADERS, /* e.kafka.headers */
    T_EVENT,   /* e itself (its schema and the keys ops add) */
} target_kind_t;

typedef enum {
    O_READ,      /* local v = t[c] */
    O_SET,       /* t[c] = LIT */
    O_RAWSET,    /* rawset(t, c, LIT) / Object.defineProperty(t, c, {value: LIT, ...}) */
    O_ITERLIST,  /* for i, r in ipairs(e.after) do e.after[i] = r end */
    O_COPYEV,    /* e = copy(e), first: the ops then work on a copy (no lazy fields) */
    O_DEL,       /* t[c] = nil / delete t[c] */
    O_DELSET,    /* delete, then t[c] = LIT */
    O_ADD,       /* t[new] = LIT */
    O_COPY,      /* t[a] = t[b] (a == b: read and write back) */
    O_NEST,      /* t[c].k / .l[1] / .z / .l[2] = LIT, t[c].k = nil, t[c].l[3] = LIT */
    O_ROWREPL,   /* e.LIST[i] = {k1 = LIT, k2 = LIT} */
    O_LISTREPL,  /* [e.LIST = nil] e.LIST = {{k1 = LIT, k2 = LIT}} */
    O_ITER,      /* for k, v in pairs(t) do t[k] = v end */
    O_KAFKAREPL, /* e.kafka = {headers = {}, key = {id = 1}, topic = 'k.t'} */
    O_KEEPROW,   /* local p = saved_row; saved_row = copy(t); if p then t = p end */
    O_PUSHROW,   /* table.insert(e.LIST, {k1 = LIT, k2 = LIT}) / e.LIST.push(...) */
    O_POPROW,    /* table.remove(e.LIST) / e.LIST.pop() */
    O_REBUILD,   /* e.LIST[i] = a new table with some columns, in another order */
    O_TOPIC,     /* e.kafka.topic = ... */
    O_KEEP,      /* if saved then headers.prev = saved.table .. ':' .. saved.action end saved = e */
    O_N
} op_kind_t;

typedef enum { R_NONE, R_E, R_CONT, R_DROP, R_DROP_ODD, R_FAN, R_PREV, R_N } ret_t;

typedef struct op {
    op_kind_t kind;
    target_kind_t tk;
    int list, row; /* T_ROW: 0 after, 1 before */
    const char *a, *b;
    unsigned lit, lit2, sub;
    bool del;
    const char *names[N_COLS + 1]; /* O_REBUILD: the columns in their new order */
    unsigned nnames;
} op_t;

/* What the generator knows of a map the script can reach (the same for every event of the
 * case): its present columns, which still hold a nested map as it came and which hold binary
 * as it came (a Lua string but a JS Uint8Array: never copied into a new table). */
typedef struct acol {
    const char *name;
    bool nest, bin;
} acol_t;

typedef struct amap {
    acol_t c[N_COLS + N_NEW + 4];
    unsigned n;
} amap_t;

typedef struct astate {
    amap_t rows[2][2]; /* [after, before][i] */
    unsigned nrows[2];
    amap_t meta, key, headers, event;
} astate_t;

#define MAX_OPS 8

typedef struct script {
    op_t ops[MAX_OPS];
    unsigned nops;
    ret_t ret;
} script_t;

static amap_t *amap_of(astate_t *st, const op_t *o) {
    switch (o->tk) {
    case T_ROW:
        return &st->rows[o->list][o->row];
    case T_META:
        return &st->meta;
    case T_KEY:
        return &st->key;
    case T_HEADERS:
        return &st->headers;
    default:
        return &st->event;
    }
}

static acol_t *acol_find(amap_t *m, const char *name) {
    for (unsigned i = 0; i < m->n; i++) {
        if (strcmp(m->c[i].name, name) == 0) {
            return &m->c[i];
        }
    }
    return NULL;
}

static void acol_remove(amap_t *m, const char *name) {
    for (unsigned i = 0; i < m->n; i++) {
        if (strcmp(m->c[i].name, name) == 0) {
            m->c[i] = m->c[--m->n];
            return;
        }
    }
}

static unsigned pick_lit(void) {
    return pick(N_LITS);
}

/* One op valid in state st (which it updates); false when the drawn op does not apply. */
static bool gen_op(astate_t *st, op_t *o) {
    memset(o, 0, sizeof(*o));
    o->kind = (op_kind_t)pick(O_N);
    unsigned r = pick(10);
    o->tk = r < 6 ? T_ROW : r == 6 ? T_META : r == 7 ? T_KEY : r == 8 ? T_HEADERS : T_EVENT;
    if (o->tk == T_ROW) {
        o->list = chance(70) ? 0 : 1;
        if (st->nrows[o->list] == 0 && o->kind != O_PUSHROW) {
            return false;
        }
        o->row = st->nrows[o->list] ? (int)pick(st->nrows[o->list]) : 0;
    }
    if ((o->kind == O_ROWREPL || o->kind == O_REBUILD || o->kind == O_NEST ||
         o->kind == O_KEEPROW) &&
        o->tk != T_ROW) {
        return false;
    }
    amap_t *m = amap_of(st, o);
    o->lit = pick_lit();
    o->lit2 = pick_lit();
    switch (o->kind) {
    case O_READ:
    case O_SET:
    case O_RAWSET:
    case O_DEL:
    case O_DELSET:
    case O_COPY: {
        if (m->n == 0) {
            return false;
        }
        acol_t *c = &m->c[pick(m->n)];
        o->a = c->name;
        if (o->kind == O_READ) {
            return true;
        }
        if (o->kind == O_DEL) {
            acol_remove(m, o->a);
            return true;
        }
        if (o->kind == O_COPY) {
            acol_t *src = chance(40) ? c : &m->c[pick(m->n)];
            if (src->bin || src->nest) {
                return false;
            }
            o->b = src->name;
        }
        /* (a value set in a binary column is sent as binary: it stays out of copies) */
        c->nest = false;
        return true;
    }
    case O_ADD: {
        o->a = new_names[pick(N_NEW)];
        if (acol_find(m, o->a) || m->n >= N_COLS + N_NEW) {
            return false;
        }
        m->c[m->n++] = (acol_t){o->a, false, false};
        return true;
    }
    case O_NEST: {
        acol_t *nest[N_COLS + N_NEW];
        unsigned nn = 0;
        for (unsigned i = 0; i < m->n; i++) {
            if (m->c[i].nest) {
                nest[nn++] = &m->c[i];
            }
        }
        if (nn == 0) {
            return false;
        }
        o->a = nest[pick(nn)]->name;
        o->sub = pick(6);
        return true;
    }
    case O_POPROW:
        if (o->tk != T_ROW) {
            return false;
        }
        st->nrows[o->list]--;
        return true;
    case O_ROWREPL:
    case O_PUSHROW:
    case O_LISTREPL: {
        if (o->kind == O_PUSHROW) {
            if (o->tk != T_ROW || st->nrows[o->list] >= 2) {
                return false;
            }
            o->row = (int)st->nrows[o->list]++;
            m = &st->rows[o->list][o->row];
        }
        if (o->kind == O_LISTREPL) {
            o->tk = T_ROW, o->list = chance(70) ? 0 : 1, o->row = 0;
            o->del = chance(50);
            st->nrows[o->list] = 1;
            m = &st->rows[o->list][0];
        }
        /* two columns in sorted order: a new Lua table sends its keys sorted */
        const char *x = col_names[pick(N_COLS)], *y = new_names[pick(N_NEW)];
        if (strcmp(x, y) > 0) {
            const char *t = x;
            x = y, y = t;
        }
        o->a = x, o->b = y;
        m->n = 0;
        m->c[m->n++] = (acol_t){x, false, false};
        m->c[m->n++] = (acol_t){y, false, false};
        return true;
    }
    case O_REBUILD: {
        acol_t keep[N_COLS + N_NEW + 4];
        unsigned nk = 0;
        for (unsigned i = 0; i < m->n; i++) {
            if (!m->c[i].bin && chance(80)) {
                keep[nk++] = m->c[i];
            }
        }
        if (nk == 0) {
            return false;
        }
        for (unsigned i = nk; i-- > 1;) { /* shuffle */
            unsigned j = pick(i + 1);
            acol_t t = keep[i];
            keep[i] = keep[j], keep[j] = t;
        }
        if (nk > N_COLS) {
            nk = N_COLS;
        }
        m->n = nk;
        for (unsigned i = 0; i < nk; i++) {
            m->c[i] = keep[i];
            o->names[i] = keep[i].name;
        }
        o->nnames = nk;
        return true;
    }
    case O_KAFKAREPL:
        st->key.n = 0;
        st->key.c[st->key.n++] = (acol_t){"id", false, false};
        st->headers.n = 0;
        return true;
    case O_TOPIC:
    case O_KEEP:
    case O_ITER:
    case O_ITERLIST:
    case O_KEEPROW:
    case O_COPYEV:
        return true;
    default:
        return false;
    }
}

static void gen_script(astate_t *st, script_t *s) {
    s->nops = 0;
    unsigned want = 1 + pick(MAX_OPS);
    bool keeprow = false;
    for (int tries = 0; s->nops < want && tries < 64; tries++) {
        astate_t save = *st;
        /* one O_KEEPROW a script: the row it brings in then has the columns the generator
         * knows at that point */
        if (!gen_op(st, &s->ops[s->nops]) || (s->ops[s->nops].kind == O_KEEPROW && keeprow) ||
            (s->ops[s->nops].kind == O_COPYEV && s->nops > 0)) {
            *st = save;
            continue;
        }
        keeprow |= s->ops[s->nops].kind == O_KEEPROW;
        s->nops++;
    }
    unsigned r = pick(100);
    s->ret = r < 20   ? R_NONE
             : r < 40 ? R_E
             : r < 60 ? R_CONT
             : r < 70 ? R_DROP
             : r < 72 ? R_DROP_ODD
             : r < 86 ? R_FAN
                      : R_PREV;
    /* the copy is what goes out only when the script returns it */
    if (s->nops > 0 && s->ops[0].kind == O_COPYEV &&
        (s->ret == R_NONE || s->ret == R_CONT || s->ret == R_DROP_ODD || s->ret == R_PREV)) {
        s->ret = R_E;
    }
}

static void put_target(rc_buf_t *b, const op_t *o, bool js) {
    switch (o->tk) {
    case T_ROW:
        rc_buf_printf(b, "e[\"%s\"][%d]", o->list ? "before" : "after", o->row + (js ? 0 : 1));
        break;
    case T_META:
        rc_buf_printf(b, "e[\"meta\"]");
        break;
    case T_KEY:
        rc_buf_printf(b, "e[\"kafka\"][\"key\"]");
        break;
    case T_HEADERS:
        rc_buf_printf(b, "e[\"kafka\"][\"headers\"]");
        break;
    case T_EVENT:
        rc_buf_printf(b, "e");
        break;
    }
}

static void put_field(rc_buf_t *b, const op_t *o, const char *name, bool js) {
    put_target(b, o, js);
    rc_buf_append(b, "[", 1);
    put_lit(b, name, js);
    rc_buf_append(b, "]", 1);
}

static const char *lit_text(unsigned i, bool js) {
    return js ? lits[i].js : lits[i].lua;
}

static void render_op(rc_buf_t *b, const op_t *o, bool js) {
    const char *end = js ? ";\n" : "\n";
    switch (o->kind) {
    case O_READ:
        rc_buf_printf(b, "  sink = ");
        put_field(b, o, o->a, js);
        rc_buf_printf(b, "%s", end);
        break;
    case O_SET:
    case O_DELSET:
        if (o->kind == O_DELSET) {
            rc_buf_printf(b, "  %s", js ? "delete " : "");
            put_field(b, o, o->a, js);
            rc_buf_printf(b, "%s%s", js ? "" : " = nil", end);
        }
        /* fall through */
    case O_ADD:
        rc_buf_printf(b, "  ");
        put_field(b, o, o->a, js);
        rc_buf_printf(b, " = %s%s", lit_text(o->lit, js), end);
        break;
    case O_DEL:
        rc_buf_printf(b, "  %s", js ? "delete " : "");
        put_field(b, o, o->a, js);
        rc_buf_printf(b, "%s%s", js ? "" : " = nil", end);
        break;
    case O_COPY:
        rc_buf_printf(b, "  ");
        put_field(b, o, o->a, js);
        rc_buf_printf(b, " = ");
        put_field(b, o, o->b, js);
        rc_buf_printf(b, "%s", end);
        break;
    case O_NEST: {
        static const char *const lua_sub[] = {"[\"k\"]",    "[\"l\"][1]", "[\"z\"]",
                                              "[\"l\"][2]", "[\"k\"]",    "[\"l\"][3]"};
        static const char *const js_sub[] = {"[\"k\"]",    "[\"l\"][0]", "[\"z\"]",
                                             "[\"l\"][1]", "[\"k\"]",    "[\"l\"][2]"};
        rc_buf_printf(b, "  %s", o->sub == 4 && js ? "delete " : "");
        put_field(b, o, o->a, js);
        if (o->sub == 4) {
            rc_buf_printf(b, "%s%s%s", js_sub[4], js ? "" : " = nil", end);
        } else {
            rc_buf_printf(b, "%s = %s%s", (js ? js_sub : lua_sub)[o->sub], lit_text(o->lit, js),
                          end);
        }
        break;
    }
    case O_POPROW:
        rc_buf_printf(b, js ? "  e[\"%s\"].pop();\n" : "  table.remove(e[\"%s\"])\n",
                      o->list ? "before" : "after");
        break;
    case O_PUSHROW:
        rc_buf_printf(b, js ? "  e[\"%s\"].push({" : "  table.insert(e[\"%s\"], {",
                      o->list ? "before" : "after");
        if (js) {
            put_lit(b, o->a, js);
            rc_buf_printf(b, ": %s, ", lit_text(o->lit, js));
            put_lit(b, o->b, js);
            rc_buf_printf(b, ": %s})%s", lit_text(o->lit2, js), end);
        } else {
            rc_buf_printf(b, "[");
            put_lit(b, o->a, js);
            rc_buf_printf(b, "] = %s, [", lit_text(o->lit, js));
            put_lit(b, o->b, js);
            rc_buf_printf(b, "] = %s})%s", lit_text(o->lit2, js), end);
        }
        break;
    case O_ROWREPL:
    case O_LISTREPL:
        rc_buf_printf(b, "  ");
        if (o->kind == O_LISTREPL) {
            const char *list = o->list ? "before" : "after";
            if (o->del) {
                rc_buf_printf(b, js ? "delete e[\"%s\"]; " : "e[\"%s\"] = nil; ", list);
            }
            rc_buf_printf(b, "e[\"%s\"] = %s{", list, js ? "[" : "{");
        } else {
            put_target(b, o, js);
            rc_buf_printf(b, " = {");
        }
        if (js) {
            put_lit(b, o->a, js);
            rc_buf_printf(b, ": %s, ", lit_text(o->lit, js));
            put_lit(b, o->b, js);
            rc_buf_printf(b, ": %s}", lit_text(o->lit2, js));
        } else {
            rc_buf_printf(b, "[");
            put_lit(b, o->a, js);
            rc_buf_printf(b, "] = %s, [", lit_text(o->lit, js));
            put_lit(b, o->b, js);
            rc_buf_printf(b, "] = %s}", lit_text(o->lit2, js));
        }
        rc_buf_printf(b, "%s%s", o->kind == O_LISTREPL ? (js ? "]" : "}") : "", end);
        break;
    case O_REBUILD:
        rc_buf_printf(b, "  %s = ", js ? "var r" : "local r");
        put_target(b, o, js);
        rc_buf_printf(b, "%s  %s = {}%s", end, js ? "var t" : "local t", end);
        for (unsigned i = 0; i < o->nnames; i++) {
            rc_buf_printf(b, "  t[");
            put_lit(b, o->names[i], js);
            rc_buf_printf(b, "] = r[");
            put_lit(b, o->names[i], js);
            rc_buf_printf(b, "]%s", end);
        }
        rc_buf_printf(b, "  ");
        put_target(b, o, js);
        rc_buf_printf(b, " = t%s", end);
        break;
    case O_TOPIC:
        rc_buf_printf(b, "  e[\"kafka\"][\"topic\"] = %s%s",
                      js ? "'r.' + e[\"table\"]" : "'r.' .. e[\"table\"]", end);
        break;
    case O_RAWSET:
        rc_buf_printf(b, js ? "  Object.defineProperty(" : "  rawset(");
        put_target(b, o, js);
        rc_buf_printf(b, ", ");
        put_lit(b, o->a, js);
        if (js) {
            rc_buf_printf(b,
                          ", {value: %s, enumerable: true, writable: true, configurable: true});\n",
                          lit_text(o->lit, js));
        } else {
            rc_buf_printf(b, ", %s)\n", lit_text(o->lit, js));
        }
        break;
    case O_COPYEV:
        rc_buf_printf(b, "  e = copy(e)%s", end);
        break;
    case O_ITERLIST: {
        const char *l = o->list ? "before" : "after";
        rc_buf_printf(b,
                      js ? "  for (var i = 0; i < e[\"%s\"].length; i++) { e[\"%s\"][i] = "
                           "e[\"%s\"][i]; }\n"
                         : "  for i, r in ipairs(e[\"%s\"]) do e[\"%s\"][i] = r end%s\n",
                      l, l, js ? l : "");
        break;
    }
    case O_ITER:
        rc_buf_printf(b, "  %s", js ? "var o = " : "local o = ");
        put_target(b, o, js);
        rc_buf_printf(b, js ? ";\n  for (var k in o) { o[k] = o[k]; }\n"
                            : "\n  for k, v in pairs(o) do o[k] = v end\n");
        break;
    case O_KAFKAREPL:
        rc_buf_printf(b, js ? "  e.kafka = {headers: {}, key: {id: 1}, topic: 'k.t'};\n"
                            : "  e.kafka = {headers = {}, key = {id = 1}, topic = 'k.t'}\n");
        break;
    case O_KEEPROW:
        rc_buf_printf(b, "  %s = saved_row; saved_row = copy(", js ? "var p" : "local p");
        put_target(b, o, js);
        rc_buf_printf(b, js ? "); if (p) { " : ") if p then ");
        put_target(b, o, js);
        rc_buf_printf(b, js ? " = p; }\n" : " = p end\n");
        break;
    case O_KEEP:
        if (js) {
            rc_buf_printf(b, "  if (saved) { e.kafka.headers[\"prev\"] = saved.table + ':' + "
                             "saved.action; }\n  saved = e;\n");
        } else {
            rc_buf_printf(b, "  if saved then e.kafka.headers[\"prev\"] = saved.table .. ':' .. "
                             "saved.action end\n  saved = e\n");
        }
        break;
    default:
        break;
    }
}

static void render(rc_buf_t *b, const script_t *s, bool js) {
    if (js) {
        rc_buf_printf(b, "var saved = null, sink = null, saved_row = null, prev_ev = null;\n"
                         "function transform(e) {\n");
    } else {
        rc_buf_printf(b, "function transform(e)\n");
    }
    for (unsigned i = 0; i < s->nops; i++) {
        render_op(b, &s->ops[i], js);
    }
    switch (s->ret) {
    case R_NONE:
        break;
    case R_E:
        rc_buf_printf(b, "  return e%s\n", js ? ";" : "");
        break;
    case R_CONT:
        rc_buf_printf(b, "  return ACTION_CONT%s\n", js ? ";" : "");
        break;
    case R_DROP:
        rc_buf_printf(b, "  return ACTION_DROP%s\n", js ? ";" : "");
        break;
    case R_DROP_ODD:
        rc_buf_printf(b, js ? "  if (e.meta.timestamp %% 2 === 1) { return ACTION_DROP; }\n"
                            : "  if e.meta.timestamp %% 2 == 1 then return ACTION_DROP end\n");
        break;
    case R_FAN:
        rc_buf_printf(b,
                      js ? "  var c = copy(e);\n  c.kafka.topic = 'fan.out';\n  return [e, c];\n"
                         : "  local c = copy(e)\n  c.kafka.topic = 'fan.out'\n  return {e, c}\n");
        break;
    case R_PREV:
        rc_buf_printf(b, js ? "  var q = prev_ev; prev_ev = e;\n  if (q) { return [e, q]; }\n"
                            : "  local q = prev_ev; prev_ev = e\n  if q then return {e, q} end\n");
        break;
    default:
        break;
    }
    rc_buf_printf(b, "%s\n", js ? "}" : "end");
}

/* ---- the model runs a script ---- */

static mv_t *target_of(mv_t *ev, const op_t *o) {
    switch (o->tk) {
    case T_ROW: {
        mv_t *list = get(ev, o->list ? "before" : "after");
        expand(list);
        assert_true(list->kind == M_ARR && (size_t)o->row < list->ne);
        mv_t *row = list->e[o->row].v;
        expand(row);
        return row;
    }
    case T_META:
        return get(ev, "meta");
    case T_KEY:
        return get(get(ev, "kafka"), "key");
    case T_HEADERS:
        return get(get(ev, "kafka"), "headers");
    default:
        expand(ev);
        return ev;
    }
}

/* What a script keeps in its globals between calls (the model of one VM). */
typedef struct keep {
    mv_t *saved, *saved_row, *prev_ev;
} keep_t;

static mv_t *str_value(mv_t *v) {
    v = script_value(v);
    assert_int_equal(v->kind, M_STR);
    return v;
}

/* Runs script s on ev as the engine of the language does; appends what it sends to out. */
static void model_run(const script_t *s, mv_t *ev, bool lua, keep_t *g, mv_t **out, size_t *n_out) {
    mv_t **saved = &g->saved;
    for (unsigned i = 0; i < s->nops; i++) {
        const op_t *o = &s->ops[i];
        switch (o->kind) {
        case O_READ:
        case O_ITERLIST:
            break;
        case O_COPYEV:
            ev = clone(ev, lua);
            break;
        case O_SET:
        case O_RAWSET:
        case O_ADD:
            model_set(target_of(ev, o), o->a, lit_value(o->lit), lua);
            break;
        case O_DEL:
            model_del(target_of(ev, o), o->a);
            break;
        case O_DELSET:
            model_del(target_of(ev, o), o->a);
            model_set(target_of(ev, o), o->a, lit_value(o->lit), lua);
            break;
        case O_COPY: {
            mv_t *t = target_of(ev, o);
            model_set(t, o->a, script_value(get(t, o->b)), lua);
            break;
        }
        case O_NEST: {
            mv_t *col = get(target_of(ev, o), o->a);
            expand(col);
            if (o->sub == 0 || o->sub == 2) {
                model_set(col, o->sub == 0 ? "k" : "z", lit_value(o->lit), lua);
            } else if (o->sub == 4) {
                model_del(col, "k");
            } else if (o->sub == 5) {
                mv_t *l = get(col, "l");
                expand(l);
                if (l->ne < 3) {
                    mv_push(l, NULL, 0, lit_value(o->lit), TAG_NONE, false);
                } else {
                    l->e[2].v = lit_value(o->lit);
                }
            } else {
                mv_t *l = get(col, "l");
                expand(l);
                l->e[o->sub == 1 ? 0 : 1].v = lit_value(o->lit);
            }
            break;
        }
        case O_POPROW: {
            mv_t *list = get(ev, o->list ? "before" : "after");
            expand(list);
            list->ne--;
            break;
        }
        case O_ROWREPL:
        case O_PUSHROW:
        case O_LISTREPL: {
            mv_t *row = mv_new(M_MAP);
            mv_push(row, o->a, strlen(o->a), lit_value(o->lit), TAG_NONE, false);
            mv_push(row, o->b, strlen(o->b), lit_value(o->lit2), TAG_NONE, false);
            if (o->kind == O_LISTREPL) {
                mv_t *list = mv_new(M_ARR);
                mv_push(list, NULL, 0, row, TAG_NONE, false);
                if (o->del) {
                    model_del(ev, o->list ? "before" : "after");
                }
                model_set(ev, o->list ? "before" : "after", list, lua);
            } else if (o->kind == O_PUSHROW) {
                mv_t *list = get(ev, o->list ? "before" : "after");
                expand(list);
                mv_push(list, NULL, 0, row, TAG_NONE, false);
            } else {
                mv_t *list = get(ev, o->list ? "before" : "after");
                expand(list);
                list->e[o->row].v = row;
            }
            break;
        }
        case O_REBUILD: {
            mv_t *r = target_of(ev, o), *t = mv_new(M_MAP);
            for (unsigned j = 0; j < o->nnames; j++) {
                mv_push(t, o->names[j], strlen(o->names[j]), script_value(get(r, o->names[j])),
                        TAG_NONE, false);
            }
            mv_t *list = get(ev, o->list ? "before" : "after");
            list->e[o->row].v = t;
            break;
        }
        case O_ITER: {
            mv_t *t = target_of(ev, o);
            for (size_t j = 0; j < t->ne; j++) {
                if (!t->e[j].gone) {
                    t->e[j].v = script_value(t->e[j].v);
                }
            }
            break;
        }
        case O_KAFKAREPL: {
            mv_t *k = mv_new(M_MAP), *key = mv_new(M_MAP);
            mv_push(key, "id", 2, mv_num(1), TAG_NONE, false);
            mv_push(k, "headers", 7, mv_new(M_MAP), TAG_NONE, false);
            mv_push(k, "key", 3, key, TAG_NONE, false);
            mv_push(k, "topic", 5, mv_str("k.t", 3), TAG_NONE, false);
            model_set(ev, "kafka", k, lua);
            break;
        }
        case O_KEEPROW: {
            mv_t *p = g->saved_row;
            g->saved_row = clone(target_of(ev, o), lua);
            if (p) {
                mv_t *list = get(ev, o->list ? "before" : "after");
                list->e[o->row].v = p;
            }
            break;
        }
        case O_TOPIC: {
            mv_t *table = str_value(get(ev, "table"));
            char topic[128];
            int n = snprintf(topic, sizeof(topic), "r.%.*s", (int)table->n, table->s);
            model_set(get(ev, "kafka"), "topic", mv_str(topic, (size_t)n), lua);
            break;
        }
        case O_KEEP:
            if (*saved) {
                mv_t *t = str_value(get(*saved, "table")), *a = str_value(get(*saved, "action"));
                char prev[128];
                int n = snprintf(prev, sizeof(prev), "%.*s:%.*s", (int)t->n, t->s, (int)a->n, a->s);
                model_set(get(get(ev, "kafka"), "headers"), "prev", mv_str(prev, (size_t)n), lua);
            }
            *saved = ev;
            break;
        default:
            break;
        }
    }
    if (s->ret == R_DROP) {
        return;
    }
    if (s->ret == R_DROP_ODD) {
        mv_t *ts = script_value(get(get(ev, "meta"), "timestamp"));
        assert_int_equal(ts->kind, M_NUM);
        if (fmod(ts->d, 2) == 1) {
            return;
        }
    }
    out[(*n_out)++] = ev;
    if (s->ret == R_PREV) {
        mv_t *q = g->prev_ev;
        g->prev_ev = ev;
        if (q) {
            out[(*n_out)++] = q;
        }
    }
    if (s->ret == R_FAN) {
        mv_t *c = clone(ev, lua);
        model_set(get(c, "kafka"), "topic", mv_str("fan.out", 7), lua);
        out[(*n_out)++] = c;
    }
}

/* ---- events ---- */

typedef struct tcol {
    const char *name;
    ctype_t t;
} tcol_t;

typedef struct tschema {
    tcol_t c[8];
    unsigned n, nrows[2], pad;
    bool header;
} tschema_t;

static void gen_schema(tschema_t *ts) {
    ts->n = 1 + pick(8);
    for (unsigned i = 0; i < ts->n; i++) {
        const char *name;
        bool dup;
        do {
            name = col_names[pick(N_COLS)];
            dup = false;
            for (unsigned j = 0; j < i; j++) {
                dup |= strcmp(ts->c[j].name, name) == 0;
            }
        } while (dup);
        ts->c[i] = (tcol_t){name, (ctype_t)pick(CT_N)};
    }
    ts->nrows[0] = pick(3);
    ts->nrows[1] = pick(3);
    ts->header = chance(50);
    ts->pad = chance(10) ? (chance(50) ? 12 : 70) : 0;
}

static void gen_row(msgpack_packer *pk, const tschema_t *ts) {
    msgpack_pack_map(pk, ts->n + ts->pad);
    for (unsigned i = 0; i < ts->n; i++) {
        pack_cstr(pk, ts->c[i].name);
        gen_value(pk, ts->c[i].t != CT_NEST && chance(15) ? CT_NIL : ts->c[i].t, 0);
    }
    for (unsigned i = 0; i < ts->pad; i++) { /* wide rows: map16, more fields than an index */
        char name[16];
        snprintf(name, sizeof(name), "pad%02u", i);
        pack_cstr(pk, name);
        gen_value(pk, (ctype_t)(i % CT_NEST), 0);
    }
}

static void gen_event(msgpack_packer *pk, const tschema_t *ts) {
    static const char *const schemas[] = {"shop", "s2"};
    static const char *const tables[] = {"orders", "users", "audit_log"};
    static const char *const actions[] = {"insert", "update", "delete"};
    const char *schema = schemas[pick(2)], *table = tables[pick(3)];
    msgpack_pack_map(pk, 7);
    pack_cstr(pk, "schema"), pack_cstr(pk, schema);
    pack_cstr(pk, "table"), pack_cstr(pk, table);
    pack_cstr(pk, "action"), pack_cstr(pk, actions[pick(3)]);
    for (int l = 1; l >= 0; l--) {
        pack_cstr(pk, l ? "before" : "after");
        msgpack_pack_array(pk, ts->nrows[l]);
        for (unsigned i = 0; i < ts->nrows[l]; i++) {
            gen_row(pk, ts);
        }
    }
    pack_cstr(pk, "meta"), msgpack_pack_map(pk, 4);
    pack_cstr(pk, "pipeline"), pack_cstr(pk, "p1");
    pack_cstr(pk, "timestamp"), msgpack_pack_uint64(pk, 1700000000000000ULL + pick(1000000));
    pack_cstr(pk, "gtid");
    chance(50) ? msgpack_pack_nil(pk) : pack_cstr(pk, "3e11fa47-71ca-11e1-9e33-c80aa9429562:23");
    pack_cstr(pk, "binlog_pos"), msgpack_pack_uint64(pk, rnd() % 100000);
    char topic[64];
    snprintf(topic, sizeof(topic), "%s.%s", schema, table);
    pack_cstr(pk, "kafka"), msgpack_pack_map(pk, 3);
    pack_cstr(pk, "topic"), pack_cstr(pk, topic);
    pack_cstr(pk, "key"), msgpack_pack_map(pk, 1);
    pack_cstr(pk, "id"), gen_value(pk, CT_INT, 0);
    pack_cstr(pk, "headers"), msgpack_pack_map(pk, ts->header ? 1 : 0);
    if (ts->header) {
        pack_cstr(pk, "h"), pack_cstr(pk, "v");
    }
}

static void astate_init(astate_t *st, const tschema_t *ts) {
    memset(st, 0, sizeof(*st));
    for (int l = 0; l < 2; l++) {
        st->nrows[l] = ts->nrows[l];
        for (unsigned r = 0; r < ts->nrows[l]; r++) {
            amap_t *m = &st->rows[l][r];
            for (unsigned i = 0; i < ts->n; i++) {
                m->c[m->n++] = (acol_t){ts->c[i].name, ts->c[i].t == CT_NEST, ts->c[i].t == CT_BIN};
            }
        }
    }
    st->meta.c[st->meta.n++] = (acol_t){"pipeline", false, false};
    st->meta.c[st->meta.n++] = (acol_t){"gtid", false, false};
    st->meta.c[st->meta.n++] = (acol_t){"binlog_pos", false, false};
    st->key.c[st->key.n++] = (acol_t){"id", false, false};
    st->event.c[st->event.n++] = (acol_t){"schema", false, false};
    if (ts->header) {
        st->headers.c[st->headers.n++] = (acol_t){"h", false, false};
    }
}

/* ---- comparing ---- */

static int kv_cmp(const void *a, const void *b) {
    const msgpack_object *x = &((const msgpack_object_kv *)a)->key;
    const msgpack_object *y = &((const msgpack_object_kv *)b)->key;
    if (x->type != MSGPACK_OBJECT_STR || y->type != MSGPACK_OBJECT_STR) {
        return (int)x->type - (int)y->type;
    }
    size_t n = x->via.str.size < y->via.str.size ? x->via.str.size : y->via.str.size;
    int c = memcmp(x->via.str.ptr, y->via.str.ptr, n);
    return c ? c : (x->via.str.size > y->via.str.size) - (x->via.str.size < y->via.str.size);
}

static void sort_keys(msgpack_object *o) {
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            sort_keys(&o->via.map.ptr[i].val);
        }
        qsort(o->via.map.ptr, o->via.map.size, sizeof(msgpack_object_kv), kv_cmp);
    } else if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            sort_keys(&o->via.array.ptr[i]);
        }
    }
}

/* The events in p[0..n) with every map's keys sorted (the order README lets differ). */
static void canonical(const char *p, size_t n, msgpack_sbuffer *out) {
    msgpack_packer pk;
    msgpack_sbuffer_init(out);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    size_t off = 0;
    while (off < n) {
        msgpack_object o;
        assert_true(msgpack_unpack(p, n, &off, &z, &o) > 0); /* success or more to come */
        sort_keys(&o);
        msgpack_pack_object(&pk, o);
    }
    msgpack_zone_destroy(&z);
}

static void dump_events(const char *what, const char *p, size_t n) {
    fprintf(stderr, "%s (%zu bytes):\n", what, n);
    msgpack_zone z;
    msgpack_zone_init(&z, 4096);
    size_t off = 0;
    while (off < n) {
        msgpack_object o;
        if (msgpack_unpack(p, n, &off, &z, &o) <= 0) {
            fprintf(stderr, "  (not msgpack from byte %zu)\n", off);
            break;
        }
        fprintf(stderr, "  ");
        msgpack_object_print(stderr, o);
        fprintf(stderr, "\n");
    }
    msgpack_zone_destroy(&z);
}

static bool same_bytes(const msgpack_sbuffer *a, const msgpack_sbuffer *b) {
    return a->size == b->size && (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

/* ---- one case ---- */

#define BATCHES 2

typedef struct casectx {
    uint64_t seed;
    unsigned nscripts;
    rc_buf_t src[2][2]; /* [lua, js][script] */
    msgpack_sbuffer in[BATCHES];
    uint32_t n_in[BATCHES];
} casectx_t;

static void report(const casectx_t *k, int batch, const char *why) {
    fprintf(stderr, "\n==== transform diff: seed %llu, batch %d: %s\n", (unsigned long long)k->seed,
            batch, why);
    for (unsigned i = 0; i < k->nscripts; i++) {
        fprintf(stderr, "---- transform %u, Lua:\n%s---- transform %u, JS:\n%s", i + 1,
                k->src[0][i].data, i + 1, k->src[1][i].data);
    }
    for (int b = 0; b < BATCHES; b++) {
        char what[64];
        snprintf(what, sizeof(what), "---- batch %d: %u events in", b, k->n_in[b]);
        dump_events(what, k->in[b].data, k->in[b].size);
    }
}

static unsigned cases_run[2];

static void run_case(uint64_t seed) {
    rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    casectx_t k = {.seed = seed};
    tschema_t ts;
    gen_schema(&ts);
    astate_t st;
    astate_init(&st, &ts);
    script_t scripts[2];
    k.nscripts = chance(25) ? 2 : 1;
    for (unsigned i = 0; i < k.nscripts; i++) {
        gen_script(&st, &scripts[i]);
        if (scripts[i].ret == R_DROP && k.nscripts == 2 && i == 0) {
            scripts[i].ret = R_E; /* let the second transform see something */
        }
        for (int js = 0; js < 2; js++) {
            k.src[js][i] = (rc_buf_t)RC_BUF_INIT;
            render(&k.src[js][i], &scripts[i], js);
        }
    }
    for (int b = 0; b < BATCHES; b++) {
        msgpack_packer pk;
        msgpack_sbuffer_init(&k.in[b]);
        msgpack_packer_init(&pk, &k.in[b], msgpack_sbuffer_write);
        k.n_in[b] = 1 + pick(3);
        for (uint32_t i = 0; i < k.n_in[b]; i++) {
            gen_event(&pk, &ts);
        }
    }
    rc_transform_chain_t *chain[2];
    /* every other case under a budget as pipelines run (a Lua script then carries checks) */
    unsigned budget_ms = seed & 1 ? 600000 : 0;
    for (int js = 0; js < 2; js++) {
        rc_transform_spec_t specs[2];
        for (unsigned i = 0; i < k.nscripts; i++) {
            specs[i] =
                (rc_transform_spec_t){js ? "js" : "lua",
                                      i ? (js ? "t2.js" : "t2.lua") : (js ? "t1.js" : "t1.lua"),
                                      NULL,
                                      NULL,
                                      budget_ms,
                                      0,
                                      k.src[js][i].data,
                                      k.src[js][i].len};
        }
        char errstr[1024];
        chain[js] = rc_transform_chain_new("diff", specs, k.nscripts, NULL, RC_ON_ERROR_FAIL,
                                           errstr, sizeof(errstr));
        if (!chain[js]) {
            report(&k, -1, errstr);
            fail_msg("seed %llu: %s", (unsigned long long)seed, errstr);
        }
    }
    keep_t saved[2][2]; /* [lua, js][script] */
    memset(saved, 0, sizeof(saved));
    for (int b = 0; b < BATCHES; b++) {
        msgpack_sbuffer out[2], want[2];
        char bad[160] = ""; /* both engines are checked before the case fails */
        for (int js = 0; js < 2; js++) {
            /* the engine: the pipeline's entry point, on a copy of the batch */
            msgpack_sbuffer_init(&out[js]);
            msgpack_sbuffer_write(&out[js], k.in[b].data, k.in[b].size);
            uint32_t n = k.n_in[b], mark = n;
            size_t mark_off = 0;
            char errstr[1024];
            if (rc_transform_chain_run(chain[js], &out[js], &n, &mark, &mark_off, errstr,
                                       sizeof(errstr)) != RC_OK) {
                report(&k, b, errstr);
                fail_msg("seed %llu: %s: %s", (unsigned long long)seed, js ? "js" : "lua", errstr);
            }
            cases_run[js]++;
            /* the model: each transform over the events the one before sent */
            size_t nev = 0;
            mv_t **evs = alloc(4 * k.n_in[b] * sizeof(*evs));
            const uint8_t *cur = (const uint8_t *)k.in[b].data, *end = cur + k.in[b].size;
            while (cur < end) {
                const uint8_t *start = cur;
                assert_int_equal(rc_mp_skip(&cur, end), RC_OK);
                evs[nev++] = mv_raw(start, (size_t)(cur - start));
            }
            for (unsigned s = 0; s < k.nscripts; s++) {
                mv_t **next = alloc((2 * nev + 1) * sizeof(*next));
                size_t nn = 0;
                for (size_t i = 0; i < nev; i++) {
                    model_run(&scripts[s], evs[i], !js, &saved[js][s], next, &nn);
                }
                /* between transforms the events travel as msgpack */
                for (size_t i = 0; i < nn && s + 1 < k.nscripts; i++) {
                    msgpack_sbuffer sb;
                    msgpack_packer pk;
                    msgpack_sbuffer_init(&sb);
                    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
                    model_pack(&pk, next[i], TAG_MAP, !js);
                    next[i] = mv_raw((const uint8_t *)sb.data, sb.size);
                    msgpack_sbuffer_destroy(&sb);
                }
                evs = next, nev = nn;
            }
            msgpack_packer pk;
            msgpack_sbuffer_init(&want[js]);
            msgpack_packer_init(&pk, &want[js], msgpack_sbuffer_write);
            for (size_t i = 0; i < nev; i++) {
                model_pack(&pk, evs[i], TAG_MAP, !js);
            }
            if (n != nev || !same_bytes(&out[js], &want[js])) {
                char why[128];
                snprintf(why, sizeof(why), "%s differs from the model (%u events, model %zu)",
                         js ? "js" : "lua", n, nev);
                report(&k, b, why);
                dump_events("---- engine out", out[js].data, out[js].size);
                dump_events("---- model out", want[js].data, want[js].size);
                size_t at = 0;
                while (at < out[js].size && at < want[js].size &&
                       out[js].data[at] == want[js].data[at]) {
                    at++;
                }
                fprintf(stderr, "first difference at byte %zu: engine %02x, model %02x\n", at,
                        at < out[js].size ? (uint8_t)out[js].data[at] : 0,
                        at < want[js].size ? (uint8_t)want[js].data[at] : 0);
                snprintf(bad, sizeof(bad), "seed %llu: %s", (unsigned long long)seed, why);
            }
        }
        if (bad[0]) {
            fail_msg("%s", bad);
        }
        /* the engines agree byte for byte, up to the key order README lets differ */
        bool same_model = same_bytes(&want[0], &want[1]);
        msgpack_sbuffer ca, cb;
        canonical(out[0].data, out[0].size, &ca);
        canonical(out[1].data, out[1].size, &cb);
        bool same = same_model ? same_bytes(&out[0], &out[1]) : same_bytes(&ca, &cb);
        if (!same) {
            report(&k, b, "lua and js differ");
            dump_events("---- lua out", out[0].data, out[0].size);
            dump_events("---- js out", out[1].data, out[1].size);
            fail_msg("seed %llu: lua and js differ", (unsigned long long)seed);
        }
        if (getenv("RC_DIFF_SHOW")) {
            report(&k, b, "shown (RC_DIFF_SHOW)");
            dump_events("---- lua out", out[0].data, out[0].size);
            dump_events("---- js out", out[1].data, out[1].size);
        }
        msgpack_sbuffer_destroy(&ca);
        msgpack_sbuffer_destroy(&cb);
        for (int js = 0; js < 2; js++) {
            msgpack_sbuffer_destroy(&out[js]);
            msgpack_sbuffer_destroy(&want[js]);
        }
    }
    for (int js = 0; js < 2; js++) {
        rc_transform_chain_destroy(chain[js]);
        for (unsigned i = 0; i < k.nscripts; i++) {
            rc_buf_free(&k.src[js][i]);
        }
    }
    for (int b = 0; b < BATCHES; b++) {
        msgpack_sbuffer_destroy(&k.in[b]);
    }
    arena_free();
}

/* RC_DIFF_SEED=N runs one case (to reproduce a failure); RC_DIFF_CASES=N sets how many;
 * RC_DIFF_SHOW=1 prints every case. */
static void test_engines_agree_with_the_model_on_random_scripts(void **state) {
    (void)state;
    const char *one = getenv("RC_DIFF_SEED"), *ncases = getenv("RC_DIFF_CASES");
    for (size_t i = 0; i + 1 < sizeof(long_str); i++) {
        long_str[i] = (char)('a' + i % 26);
    }
    if (one) {
        run_case(strtoull(one, NULL, 10));
    } else {
        unsigned n = ncases ? (unsigned)strtoul(ncases, NULL, 10) : 2000;
        for (unsigned seed = 1; seed <= n; seed++) {
            run_case(seed);
        }
    }
    free(arena);
    arena = NULL;
    arena_cap = 0;
    fprintf(stderr, "transform diff: %u batches per engine (lua %u, js %u)\n", cases_run[0],
            cases_run[0], cases_run[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_engines_agree_with_the_model_on_random_scripts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
