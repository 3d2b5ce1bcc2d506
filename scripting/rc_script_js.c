/* rc_script_js.c: the duktape engine ("engine: js", ECMAScript 5.1).
 *
 * One duktape heap per script. The global `Duktape` and any `require` are deleted, so a
 * script cannot load modules. A batch is one protected C call: the events to run become
 * objects whose fields convert when read (see "events with lazy fields"), a small
 * JS driver calls transform on each inside try/catch, and the results are written back. Objects keep their key order (duktape enumerates in insertion order); the
 * msgpack type of each entry is remembered under a hidden symbol that scripts cannot see
 * (rc_script_int.h). SQL NULL is JS null; binary values are Uint8Arrays.
 *
 * Time budget: Debian's libduktape cannot interrupt a script (no DUK_USE_EXEC_TIMEOUT_CHECK),
 * so the script is rewritten before it is compiled (rc_script_js_tick.c): every loop
 * condition and function entry calls __rowcast_tick, which checks the clock every 1024 calls
 * and, once the batch's budget is spent, throws at the script's line; from then on every
 * check of that event throws, so a script that catches the error cannot keep looping. The
 * next event gets a fresh 1024 checks, as Lua's count hook gives it 1000 instructions. eval
 * and the Function constructor are removed: code they compiled would not be checked.
 *
 * Memory cap: the heap's allocator counts every block and, while the user's script runs,
 * refuses to grow past the cap; duktape collects garbage and retries, then throws an Error
 * in the script. The conversions around the script are not capped (bounded by the batch). */
#include <duktape.h>
#include <stddef.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_log.h"
#include "rc_script.h"
#include "rc_script_int.h"
#include "rc_udf.h"

#define SHAPE_KEY DUK_HIDDEN_SYMBOL("rcshape")
#define EV_KEY    DUK_HIDDEN_SYMBOL("rcev") /* an event's rc_script_ev_t (a buffer) */

typedef struct jvm {
    duk_context *ctx;
    char *file;
    unsigned budget_ms;
    int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = no batch running under a budget */
    uint32_t ticks;
    bool expired;                      /* the budget ran out during the running event */
    size_t mem_used, mem_limit;        /* bytes the heap holds (with our headers); cap, 0 = none */
    bool mem_capped;                   /* the cap applies: only while the user's script runs */
    msgpack_sbuffer udf_args, udf_res; /* reused by every UDF call: no malloc per call */
    bool in_udf;
    rc_buf_t sig;        /* signatures of the maps being converted (a stack: nested ones on top) */
    unsigned n_shapes;   /* entries in the shape cache (stash "shapes") */
    void *keys;          /* the original Object.keys (stash "keys") */
    void *evget, *evset; /* the accessors of lazy fields (stash "evget", "evset") */
    void *evkey;         /* the string EV_KEY (stash "evkey"): looked up by its heap pointer */
    void *shapekey;      /* the string SHAPE_KEY (stash "shapekey"), the same way */
    void *probe;         /* what the getter answers while probing (stash "probe"; see pack_event) */
    void *probe_obj, *probe_key; /* the object and key being probed; NULL: none */
    void *base;                  /* the prototype of every shape proto (stash "protobase") */
    void *pget, *pset;           /* the accessors on shape protos (stash "pget", "pset") */
    unsigned n_protos;           /* entries in the shape proto cache (stash "protos") */
    rc_buf_t last_sig[2];        /* the keys of the last shape proto made or found, per slot */
    void *last_proto[2];         /* and that proto (stash "last0", "last1") */
    void *objproto;              /* Object.prototype (stash "objproto") */
    size_t enext_at, asize_at;   /* where an object's entry count and array size are; 0: unknown */
    size_t proto_at;             /* where an object's prototype is; 0: unknown */
    size_t refs_at;              /* where a heap object's refcount is; 0: unknown (no reuse) */
    size_t evdata_at;            /* a fixed buffer's data from its header; 0: ev_of asks duktape */
    rc_script_pool_t pool;       /* the heap's small blocks */
    void **evh;                  /* per event of the running batch: its object (NULL: none) */
    rc_script_ev_t **evp;        /* and its index when it is a lazy map (NULL: converted whole) */
    uint32_t ev_cap;             /* entries of evh, evp and evsz */
    size_t *evsz;     /* per event: the bytes of its index buffer when it may be reused, else 0 */
    uint32_t ev_kept; /* evs[0, ev_kept) are as the last batch left them (see reusable) */
    bool evs_whole;   /* the last batch ran to its end: evh, evp, evsz describe evs */
    uint32_t *evtab;  /* an open hash of the batch's lazy events: evh index + 1 */
    uint32_t evtab_bits;        /* the hash has 1 << evtab_bits slots (>= 2 ev_cap) */
    bool evtab_live;            /* set while the driver runs (its events are all alive) */
    uint32_t kafka_at;          /* the field the last event sent untouched had kafka at */
    uint8_t topic[8 + 2 + 249]; /* the head of that kafka (map, "topic") and its valid topic */
    uint32_t topic_len;         /* bytes of topic; 0: none */
    size_t arrlen_at;           /* where an array's length_nonwritable is; 0: no list reused */
    uint32_t arr_flags;         /* the header flags of an array as duk_push_array makes it */
    void *arrproto;             /* Array.prototype */
    void *arrs;                 /* the lists converted, by their place (stash "arrs") */
    void **arrh;                /* arrs[k] (NULL: none), RC_LIST_KEEP entries */
    uint32_t arr_next;          /* the place the next list converted takes in arrs */
    uint32_t tag_str, tag_obj;  /* a property value's tag for a string, an object; 0: unknown */
    uint8_t plain_flags;        /* the flags of a plain property (put_plain's) */
} jvm_t;

#define RC_LIST_KEEP 4096 /* lists kept for the next batches (see "lists used again") */

#define SHAPE_CACHE_MAX 4096

typedef struct cx {
    duk_context *ctx;
    jvm_t *vm;
    duk_idx_t cont, drop; /* stack indices of ACTION_CONT and ACTION_DROP */
    msgpack_packer pk;
    const void *whole; /* the rc_script_ev_t pack_event last copied whole */
    const void *kafka; /* the rc_script_ev_t whose kafka field the event went out with as it came */
    bool lazy;         /* maps become objects with lazy fields (what a script reads of an event) */
    char why[512];
} cx_t;

static const char prelude[] =
    "(function () {\n"
    "  function constant(name) {\n"
    "    return Object.freeze({toString: function () { return name; }});\n"
    "  }\n"
    /* one try for the events up to the next error, not one per event. A result that sends
     * the event (ACTION_CONT, nothing, the event itself) is not stored, nor is ACTION_DROP:
     * got[i] (a byte C reads in place) is 2 for ACTION_DROP, 1 for another result, kept in
     * res[i]. budget[0]: the event before ran out of time (an array element is cheaper to
     * read than a named property). u stands for undefined: the global costs a lookup; it is
     * compared first, as what transform's own `return ACTION_CONT;` gives (rc_script_js_tick.c) */
    "  var driver = function (fn, evs, res, got, errs, start, budget, cont, drop) {\n"
    "    var i = 0, n = evs.length, u;\n"
    "    while (i < n) {\n"
    "      try {\n"
    "        for (; i < n; i++) {\n"
    "          var e = evs[i];\n"
    "          if (e === u) continue;\n"
    "          if (budget[0]) start();\n"
    "          var r = fn(e);\n"
    "          if (r !== u && r !== cont && r !== e) {\n"
    "            if (r === drop) { got[i] = 2; } else { res[i] = r; got[i] = 1; }\n"
    "          }\n"
    "        }\n"
    "      } catch (err) { errs[i] = err === u ? 'undefined' : err; i++; }\n"
    "    }\n"
    "  };\n"
    "  return [constant('ACTION_CONT'), constant('ACTION_DROP'), driver];\n"
    "})()\n";

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- msgpack -> JS ---- */

static jvm_t *vm_of(duk_context *ctx);
static int push_value(cx_t *c, const uint8_t **p, const uint8_t *end, int depth, uint8_t *tag);

/* Pushes the shape of the map whose signature is sig (its n entries' key bytes and tags):
 * from the cache (stash "shapes"), or made from the signature and cached. */
static void push_shape(cx_t *c, const char *sig, size_t sig_len, const uint8_t *tags, uint32_t n) {
    duk_context *ctx = c->ctx;
    jvm_t *vm = c->vm;
    duk_push_global_stash(ctx);
    duk_get_prop_string(ctx, -1, "shapes");
    duk_push_lstring(ctx, sig, sig_len); /* stash, cache, sig */
    duk_dup_top(ctx);
    if (duk_get_prop(ctx, -3)) {
        duk_replace(ctx, -4);
        duk_pop_2(ctx);
        return;
    }
    duk_pop(ctx);
    if (vm->n_shapes >= SHAPE_CACHE_MAX) { /* shapes in use stay with their objects */
        duk_push_object(ctx);
        duk_dup_top(ctx);
        duk_put_prop_string(ctx, -5, "shapes");
        duk_replace(ctx, -3);
        vm->n_shapes = 0;
    }
    duk_push_array(ctx); /* stash, cache, sig, shape */
    duk_push_lstring(ctx, (const char *)tags, n);
    duk_put_prop_index(ctx, -2, 0);
    const uint8_t *k = (const uint8_t *)sig, *kend = k + sig_len;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t ktag;
        if (push_value(c, &k, kend, 0, &ktag) != 0) { /* read back: cannot fail */
            duk_push_string(ctx, "");
        }
        duk_to_string(ctx, -1);
        duk_put_prop_index(ctx, -2, i + 1);
        k++; /* the entry's tag */
    }
    duk_dup_top(ctx);
    duk_replace(ctx, -5); /* shape, cache, sig, shape */
    duk_put_prop(ctx, -3);
    duk_pop(ctx);
    vm->n_shapes++;
}

static int push_event(cx_t *c, const uint8_t *ev, const uint8_t *end, int depth, size_t *len_out,
                      rc_script_ev_t **ev_out);

/* Do the tags pack their values as no tag does (rc_script_pack_number, _string)? Then a
 * list need not remember them: most lists are rows, maps, or integers and strings. */
static bool neutral_tags(const uint8_t *tags, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        switch (tags[i]) {
        case TAG_NIL:
        case TAG_BOOL:
        case TAG_INT:
        case TAG_STR:
        case TAG_MAP:
        case TAG_ARRAY:
            continue;
        default:
            return false;
        }
    }
    return true;
}

/* ---- lists used again ----
 *
 * A list a script reads (an event's after or before: [row, ...]) costs an array whose elements'
 * part duktape grows at the first element, and its freeing once the event goes. So the lists
 * converted while a batch runs are kept, by the order they are made in, in the stash array
 * "arrs"; a later batch's list made in the same place gets that array again when nothing but
 * arrs holds it (its refcount, read in its header, is 1: not kept in a global, a closure, an
 * object, another event or list) and it is as duk_push_array made it: the same header flags
 * (extensible, its elements in their array part, no finalizer), no property but its elements,
 * Array.prototype as its prototype, a writable length. Its elements are then written again
 * and its length set: no script can tell it from a new one. Lists of values whose types need
 * a tag are not kept (they carry a hidden property). */

/* Can the array h (a heap pointer) that arrs holds be used again (see above)? */
static bool list_reusable(const jvm_t *vm, const void *h) {
    const char *o = h;
    uint32_t flags, refs, used, nonwritable;
    void *proto;
    memcpy(&flags, o, sizeof(flags));
    memcpy(&refs, o + vm->refs_at, sizeof(refs));
    memcpy(&used, o + vm->enext_at, sizeof(used));
    memcpy(&proto, o + vm->proto_at, sizeof(proto));
    memcpy(&nonwritable, o + vm->arrlen_at, sizeof(nonwritable));
    return refs == 1 && flags == vm->arr_flags && used == 0 && proto == vm->arrproto &&
           nonwritable == 0;
}

/* Pushes the array for a list being converted: the one arrs holds in the next place when it
 * can be used again (*keep_at = UINT32_MAX - 1: set its length once its elements are in), else
 * a new one (*keep_at: the place to keep it in, UINT32_MAX: none). */
static duk_idx_t push_list(cx_t *c, uint32_t *keep_at) {
    duk_context *ctx = c->ctx;
    jvm_t *vm = c->vm;
    if (!c->lazy || !vm->arrh || vm->arr_next >= RC_LIST_KEEP) {
        return duk_push_array(ctx);
    }
    uint32_t k = vm->arr_next++;
    if (vm->arrh[k] && list_reusable(vm, vm->arrh[k])) {
        duk_push_heapptr(ctx, vm->arrh[k]);
        *keep_at = UINT32_MAX - 1;
        return duk_get_top_index(ctx);
    }
    *keep_at = k;
    return duk_push_array(ctx);
}

/* Keeps the new list at t in arrs[k] (what held that place before is let go of). */
static void keep_list(cx_t *c, duk_idx_t t, uint32_t k) {
    duk_context *ctx = c->ctx;
    jvm_t *vm = c->vm;
    duk_push_heapptr(ctx, vm->arrs);
    duk_dup(ctx, t);
    duk_put_prop_index(ctx, -2, k);
    duk_pop(ctx);
    vm->arrh[k] = duk_get_heapptr(ctx, t);
}

static int push_value(cx_t *c, const uint8_t **p, const uint8_t *end, int depth, uint8_t *tag) {
    duk_context *ctx = c->ctx;
    const uint8_t *start = *p;
    mpv_t v;
    if (rc_script_mp_next(p, end, &v) != RC_OK) {
        snprintf(c->why, sizeof(c->why), "the event is not valid msgpack");
        return -1;
    }
    *tag = rc_script_tag_of(&v);
    switch (v.kind) {
    case MPV_NIL:
        duk_push_null(ctx);
        return 0;
    case MPV_BOOL:
        duk_push_boolean(ctx, v.b);
        return 0;
    case MPV_UINT:
    case MPV_INT:
        if (*tag == TAG_INT) {
            duk_push_number(ctx, v.kind == MPV_UINT ? (double)v.u : (double)v.i);
        } else {
            char b[32];
            int n = rc_script_format_int(&v, b, sizeof(b));
            duk_push_lstring(ctx, b, (duk_size_t)n);
        }
        return 0;
    case MPV_F32:
    case MPV_F64:
        duk_push_number(ctx, v.d);
        return 0;
    case MPV_EXT:
        if (v.ext < 0) {
            snprintf(c->why, sizeof(c->why), "ext type %d is not supported", v.ext);
            return -1;
        }
        /* fall through */
    case MPV_STR:
        duk_push_lstring(ctx, v.s, v.n);
        return 0;
    case MPV_BIN: {
        void *data = duk_push_fixed_buffer(ctx, v.n);
        if (v.n) {
            memcpy(data, v.s, v.n);
        }
        duk_push_buffer_object(ctx, -1, 0, v.n, DUK_BUFOBJ_UINT8ARRAY);
        duk_remove(ctx, -2);
        return 0;
    }
    case MPV_ARRAY:
    case MPV_MAP:
        break;
    }
    if (depth >= RC_SCRIPT_MAX_DEPTH) {
        snprintf(c->why, sizeof(c->why), "values nest deeper than %d levels", RC_SCRIPT_MAX_DEPTH);
        return -1;
    }
    bool map = v.kind == MPV_MAP;
    duk_require_stack(ctx, 8);
    if (map && c->lazy) { /* see "events with lazy fields" */
        size_t len;
        int prc = push_event(c, start, end, depth, &len, NULL);
        if (prc < 0) {
            return -1;
        }
        if (prc == 1) {
            *p = start + len;
            return 0;
        }
    }
    uint8_t small[64], *tags = small;
    if (v.n > sizeof(small)) {
        tags = duk_push_fixed_buffer(ctx, v.n); /* scratch, removed below */
    }
    uint32_t keep_at = UINT32_MAX;
    duk_idx_t t = map ? duk_push_object(ctx) : push_list(c, &keep_at);
    /* a map's shape [tags, key1, key2, ...] is shared by every map with the same keys and
     * types: it is interned by a signature (per entry the key's msgpack bytes and the tag) */
    jvm_t *vm = c->vm;
    if (depth == 0) {
        vm->sig.len = 0; /* a conversion that failed may have left its part */
    }
    size_t sig_start = vm->sig.len;
    for (uint32_t i = 0; i < v.n; i++) {
        uint8_t ktag;
        if (map) {
            const uint8_t *k = *p;
            if (push_value(c, p, end, depth + 1, &ktag) != 0) {
                return -1;
            }
            if (!duk_is_string(ctx, -1) && !duk_is_number(ctx, -1)) {
                snprintf(c->why, sizeof(c->why), "map keys must be strings or numbers");
                return -1;
            }
            duk_to_string(ctx, -1);
            if (rc_buf_append(&vm->sig, k, (size_t)(*p - k)) != RC_OK) {
                snprintf(c->why, sizeof(c->why), "out of memory");
                return -1;
            }
        }
        if (push_value(c, p, end, depth + 1, &tags[i]) != 0) {
            return -1;
        }
        if (map) {
            if (rc_buf_putc(&vm->sig, (char)tags[i]) != RC_OK) {
                snprintf(c->why, sizeof(c->why), "out of memory");
                return -1;
            }
            duk_put_prop(ctx, t);
        } else {
            duk_put_prop_index(ctx, t, i);
        }
    }
    if (map) {
        push_shape(c, vm->sig.data + sig_start, vm->sig.len - sig_start, tags, v.n);
        vm->sig.len = sig_start;
        duk_put_prop_heapptr(ctx, t, vm->shapekey);
    } else if (!neutral_tags(tags, v.n)) {
        duk_push_lstring(ctx, (const char *)tags, v.n);
        duk_put_prop_heapptr(ctx, t, vm->shapekey);
    } else if (keep_at == UINT32_MAX - 1) {
        if (duk_get_length(ctx, t) != v.n) {
            duk_set_length(ctx, t, v.n); /* a longer list before: the rest goes */
        }
    } else if (keep_at != UINT32_MAX) {
        keep_list(c, t, keep_at);
    }
    if (tags != small) {
        duk_remove(ctx, t - 1);
    }
    return 0;
}

/* ---- JS -> msgpack ---- */

static int pack_value(cx_t *c, duk_idx_t idx, uint8_t tag, int depth, const char *key);

/* The remembered tag of key (at stack top) in a map whose shape array is at shape; guess is
 * its likely position. */
static uint8_t key_tag(duk_context *ctx, duk_idx_t shape, const char *tags, size_t ntags,
                       const char *k, size_t klen, size_t guess) {
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t j = pass ? 0 : guess; j < (pass ? ntags : guess + 1) && j < ntags; j++) {
            duk_get_prop_index(ctx, shape, (duk_uarridx_t)j + 1);
            duk_size_t n;
            const char *s = duk_get_lstring(ctx, -1, &n);
            bool eq = s && n == klen && memcmp(s, k, n) == 0;
            duk_pop(ctx);
            if (eq) {
                return (uint8_t)tags[j];
            }
        }
    }
    return TAG_NONE;
}

static rc_script_ev_t *ev_of(duk_context *ctx, duk_idx_t idx);
static duk_ret_t throw_at_caller(duk_context *ctx, const char *msg);
static void push_stash(duk_context *ctx, const char *key);

/* Pushes the own enumerable keys of the object at idx, in order, as an array: the original
 * Object.keys (kept in the stash: a script may replace the global) in one native call, where
 * duk_enum and a duk_next per key cost about twice as much (callgrind). Returns its index. */
static duk_idx_t push_keys(duk_context *ctx, duk_idx_t idx) {
    idx = duk_normalize_index(ctx, idx);
    duk_push_heapptr(ctx, vm_of(ctx)->keys); /* (push_stash costs three lookups) */
    duk_dup(ctx, idx);
    duk_call(ctx, 1);
    return duk_get_top_index(ctx);
}
static int pack_event(cx_t *c, duk_idx_t idx, rc_script_ev_t *e, int depth);

/* Is k[0..n) an array index ("0", "17"; not "017" or "-1")? */
static bool is_index_key(const char *k, size_t n) {
    if (n == 0 || n > 10 || (k[0] == '0' && n > 1)) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    return v < 0xffffffffULL;
}

/* The place of key k[0..n) among the keys the map came with (e's fields, or the shape array
 * at shape), or -1. */
static int came_at(duk_context *ctx, const rc_script_ev_t *e, duk_idx_t shape, const char *k,
                   size_t n) {
    if (e) {
        return rc_script_ev_field(e, k, n);
    }
    if (shape == DUK_INVALID_INDEX || !duk_is_array(ctx, shape)) {
        return -1;
    }
    for (duk_uarridx_t j = 1, nj = (duk_uarridx_t)duk_get_length(ctx, shape); j < nj; j++) {
        duk_get_prop_index(ctx, shape, j);
        duk_size_t sn;
        const char *sk = duk_get_lstring(ctx, -1, &sn);
        bool eq = sk && sn == n && memcmp(sk, k, n) == 0;
        duk_pop(ctx);
        if (eq) {
            return (int)j - 1;
        }
    }
    return -1;
}

/* Did the lazy map e come with a key like "10"? (Without, order_index_keys has nothing to
 * put back: an index key first is one the script added, and stays there.) */
static bool has_index_field(const rc_script_ev_t *e) {
    const uint8_t *b = rc_script_ev_bytes(e);
    for (uint32_t j = 0; j < e->nf; j++) {
        if (is_index_key((const char *)b + e->f[j].k, e->f[j].kn)) {
            return true;
        }
    }
    return false;
}

/* duktape lists the array-index keys of an object ("1", "10") first, in ascending order,
 * whatever their place (ES2015 [[OwnPropertyKeys]]), so a column named "10" would move to the
 * front of its row. In the key array at keys (from push_keys), those the map came with (e's
 * fields, or the shape at shape) go back to their place among the others; index keys a
 * script added stay first, as the script sees them. Returns whether there were index keys. */
static bool order_index_keys(duk_context *ctx, duk_idx_t keys, const rc_script_ev_t *e,
                             duk_idx_t shape) {
    duk_uarridx_t nk = (duk_uarridx_t)duk_get_length(ctx, keys), ni = 0;
    for (; ni < nk; ni++) {
        duk_get_prop_index(ctx, keys, ni);
        duk_size_t n;
        const char *k = duk_get_lstring(ctx, -1, &n);
        bool index = k && is_index_key(k, n);
        duk_pop(ctx);
        if (!index) {
            break;
        }
    }
    if (ni == 0) {
        return false;
    }
    int *at = duk_push_fixed_buffer(ctx, nk * sizeof(int)); /* each key's place as it came */
    for (duk_uarridx_t i = 0; i < nk; i++) {
        duk_get_prop_index(ctx, keys, i);
        duk_size_t n;
        const char *k = duk_get_lstring(ctx, -1, &n);
        at[i] = k ? came_at(ctx, e, shape, k, n) : -1;
        duk_pop(ctx);
    }
    duk_idx_t out = duk_push_array(ctx);
    duk_uarridx_t no = 0;
#define EMIT(i) (duk_get_prop_index(ctx, keys, (i)), duk_put_prop_index(ctx, out, no++))
    for (duk_uarridx_t i = 0; i < ni; i++) { /* added by the script: first */
        if (at[i] < 0) {
            EMIT(i);
        }
    }
    for (duk_uarridx_t i = ni; i <= nk; i++) {
        /* before key i, the index keys that came before it (all of them after the last) */
        for (;;) {
            duk_uarridx_t best = nk;
            for (duk_uarridx_t x = 0; x < ni; x++) {
                if (at[x] >= 0 && (i == nk || at[x] < at[i]) && (best == nk || at[x] < at[best])) {
                    best = x;
                }
            }
            if (best == nk) {
                break;
            }
            EMIT(best);
            at[best] = -2; /* emitted */
        }
        if (i < nk) {
            EMIT(i);
        }
    }
#undef EMIT
    duk_replace(ctx, keys);
    duk_pop(ctx); /* at */
    return true;
}

static uint32_t entries_used(const jvm_t *vm, void *h);
static uint32_t own_entries(const jvm_t *vm, void *h);
static rc_script_ev_t *ev_in_header(const jvm_t *vm, void *h);

static int pack_object(cx_t *c, duk_idx_t idx, int depth) {
    duk_context *ctx = c->ctx;
    idx = duk_normalize_index(ctx, idx);
    bool array = duk_is_array(ctx, idx); /* never a lazy map: no lookup of its index */
    rc_script_ev_t *ev = array ? NULL : ev_of(ctx, idx);
    if (ev) {
        return pack_event(c, idx, ev, depth);
    }
    duk_require_stack(ctx, 10);
    duk_idx_t base = duk_get_top(ctx);
    if (array && entries_used(c->vm, duk_get_heapptr(ctx, idx)) == 0) {
        duk_push_undefined(ctx); /* no property but its elements: no tags (a miss walks the
                                  * prototypes) */
    } else {
        duk_get_prop_heapptr(ctx, idx, c->vm->shapekey);
    }
    duk_idx_t shape = base;
    int rc = 0;
    if (array) {
        duk_size_t ntags = 0;
        const char *tags = duk_is_string(ctx, shape) ? duk_get_lstring(ctx, shape, &ntags) : NULL;
        duk_size_t n = duk_get_length(ctx, idx);
        msgpack_pack_array(&c->pk, n);
        for (duk_size_t i = 0; i < n && rc == 0; i++) {
            duk_get_prop_index(ctx, idx, (duk_uarridx_t)i);
            rc = pack_value(c, duk_get_top_index(ctx), i < ntags ? (uint8_t)tags[i] : TAG_NONE,
                            depth + 1, NULL);
            duk_pop(ctx);
        }
        duk_set_top(ctx, base);
        return rc;
    }
    duk_size_t ntags = 0;
    const char *tags = NULL;
    if (duk_is_array(ctx, shape)) {
        duk_get_prop_index(ctx, shape, 0);
        tags = duk_get_lstring(ctx, -1, &ntags); /* stays on the stack */
    }
    /* one enumeration (duktape's enumerators are costly): the entries wait on the stack
     * while they are counted, keys and values in turn */
    duk_idx_t e = push_keys(ctx, idx);
    order_index_keys(ctx, e, NULL, shape);
    duk_idx_t first = e + 1;
    size_t count = 0;
    for (duk_uarridx_t i = 0, nk = (duk_uarridx_t)duk_get_length(ctx, e); i < nk; i++) {
        duk_require_stack(ctx, 3);
        duk_get_prop_index(ctx, e, i);
        duk_dup_top(ctx);
        duk_get_prop(ctx, idx);
        if (duk_is_undefined(ctx, -1)) {
            duk_pop_2(ctx);
            continue;
        }
        count++;
    }
    msgpack_pack_map(&c->pk, count);
    for (size_t pos = 0; pos < count && rc == 0; pos++) {
        duk_idx_t ki = first + (duk_idx_t)(2 * pos);
        duk_size_t klen;
        const char *k = duk_get_lstring(ctx, ki, &klen);
        uint8_t tag = tags ? key_tag(ctx, shape, tags, ntags, k, klen, pos) : TAG_NONE;
        msgpack_pack_str(&c->pk, klen);
        msgpack_pack_str_body(&c->pk, k, klen);
        rc = pack_value(c, ki + 1, tag, depth + 1, k);
    }
    duk_set_top(ctx, base);
    return rc;
}

static int pack_value(cx_t *c, duk_idx_t idx, uint8_t tag, int depth, const char *key) {
    duk_context *ctx = c->ctx;
    const char *what = "value";
    switch (duk_get_type(ctx, idx)) {
    case DUK_TYPE_UNDEFINED:
    case DUK_TYPE_NULL:
        msgpack_pack_nil(&c->pk);
        return 0;
    case DUK_TYPE_BOOLEAN:
        if (duk_get_boolean(ctx, idx)) {
            msgpack_pack_true(&c->pk);
        } else {
            msgpack_pack_false(&c->pk);
        }
        return 0;
    case DUK_TYPE_NUMBER:
        rc_script_pack_number(&c->pk, duk_get_number(ctx, idx), tag);
        return 0;
    case DUK_TYPE_STRING: {
        duk_size_t n;
        const char *s = duk_get_lstring(ctx, idx, &n);
        rc_script_pack_string(&c->pk, s, n, tag);
        return 0;
    }
    case DUK_TYPE_OBJECT:
        /* a lazy map (its own index read in its header) or an array is none of the values
         * refused below: packed without asking */
        if (depth < RC_SCRIPT_MAX_DEPTH) {
            rc_script_ev_t *ev =
                c->vm->evdata_at ? ev_in_header(c->vm, duk_get_heapptr(ctx, idx)) : NULL;
            if (ev) {
                return pack_event(c, duk_normalize_index(ctx, idx), ev, depth);
            }
            if (duk_is_array(ctx, idx)) {
                return pack_object(c, idx, depth);
            }
        }
        /* fall through */
    case DUK_TYPE_BUFFER:
        if (duk_is_function(ctx, idx)) {
            what = "function";
            break;
        }
        if (duk_strict_equals(ctx, idx, c->cont) || duk_strict_equals(ctx, idx, c->drop)) {
            what = "ACTION_CONT/ACTION_DROP";
            break;
        }
        if (duk_is_buffer_data(ctx, idx)) {
            duk_size_t n;
            const void *data = duk_get_buffer_data(ctx, idx, &n);
            msgpack_pack_bin(&c->pk, n);
            msgpack_pack_bin_body(&c->pk, data, n);
            return 0;
        }
        if (depth >= RC_SCRIPT_MAX_DEPTH) {
            snprintf(c->why, sizeof(c->why), "values nest deeper than %d levels (a cycle?)",
                     RC_SCRIPT_MAX_DEPTH);
            return -1;
        }
        return pack_object(c, idx, depth);
    default:
        break;
    }
    snprintf(c->why, sizeof(c->why), "cannot send a %s%s%s%s", what, key ? " (key \"" : "",
             key ? key : "", key ? "\")" : "");
    return -1;
}

/* ---- events with lazy fields ----
 *
 * An event enters the script as an object whose scalar fields (schema, table, action) are
 * plain properties and whose other fields (before, after, meta, kafka) are accessors: the
 * first read converts the field and turns the accessor into a plain property in its place
 * (key order kept); an assignment does the same with the value assigned. The event's bytes
 * (rc_script_ev_t) stay under a hidden symbol, so on the way out a field never read, or
 * holding the value it came with, is written as its input bytes, and an event the script
 * did not change is copied whole. Enumeration, JSON.stringify, `in` and delete see ordinary
 * enumerable, configurable properties. A map inside a field read (a row of after, kafka.key)
 * is such an object too, with every field an accessor: a script that masks one column
 * converts and writes that column only.
 *
 * That is a map materialized: it starts earlier than that, with its fields on a prototype
 * (see "maps with their fields on a prototype" below), which costs less than defining them
 * when the script reads a field or two, or none. */

/* ev_of read in the object h's header (see find_event_index): a lazy map's index is its first
 * property, which nothing deletes; NULL when h has no index of its own. */
static rc_script_ev_t *ev_in_header(const jvm_t *vm, void *h) {
    const char *o = h, *props, *buf;
    uint32_t esize, enext;
    void *key;
    memcpy(&enext, o + vm->enext_at, sizeof(enext));
    if (enext == 0) {
        return NULL;
    }
    memcpy(&props, o + vm->proto_at - sizeof(void *), sizeof(props));
    memcpy(&esize, o + vm->proto_at + sizeof(void *), sizeof(esize));
    memcpy(&key, props + (size_t)esize * 16, sizeof(key));
    if (key != vm->evkey) {
        return NULL;
    }
    memcpy(&buf, props + 8, sizeof(buf));
    return (rc_script_ev_t *)(buf + vm->evdata_at);
}

/* The event's index when the object at idx is a lazy event, else NULL. */
static rc_script_ev_t *ev_of(duk_context *ctx, duk_idx_t idx) {
    jvm_t *vm = vm_of(ctx);
    if (vm->evdata_at && duk_get_type(ctx, idx) == DUK_TYPE_OBJECT) {
        const char *h = duk_get_heapptr(ctx, idx);
        rc_script_ev_t *e = ev_in_header(vm, (void *)h);
        if (e) {
            return e;
        }
        void *proto;
        memcpy(&proto, h + vm->proto_at, sizeof(proto));
        if (!proto || proto == vm->objproto) {
            return NULL; /* nothing it inherits has an index */
        }
        /* an object inheriting from a map: the lookup finds the map's index, as it did */
    }
    duk_get_prop_heapptr(ctx, idx, vm->evkey); /* no interning of the key per call */
    rc_script_ev_t *e = duk_is_buffer(ctx, -1) ? duk_get_buffer(ctx, -1, NULL) : NULL;
    duk_pop(ctx);
    return e;
}

/* Defines key (at -2) = value (at -1) on obj as a plain property, in the accessor's place. */
static void put_plain(duk_context *ctx, duk_idx_t obj) {
    duk_def_prop(ctx, obj,
                 DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WRITABLE | DUK_DEFPROP_SET_ENUMERABLE |
                     DUK_DEFPROP_SET_CONFIGURABLE);
}

/* Converts field j of the map e (for field k[0..n)) and pushes it; throws at the script's
 * line when it cannot be converted. */
static void push_field(duk_context *ctx, jvm_t *vm, rc_script_ev_t *e, int j, const char *k,
                       size_t n) {
    cx_t c = {.ctx = ctx, .vm = vm, .lazy = true};
    vm->sig.len = 0; /* never inside another conversion */
    const uint8_t *b = rc_script_ev_bytes(e), *p = b + e->f[j].v;
    uint8_t tag;
    if (push_value(&c, &p, b + e->f[j].end, e->depth + 1, &tag) != 0) {
        char msg[700];
        snprintf(msg, sizeof(msg), "field %.*s: %s", (int)n, k, c.why);
        throw_at_caller(ctx, msg);
    }
}

/* The slot of the heap pointer h in vm->evtab. */
static uint32_t evtab_slot(const jvm_t *vm, const void *h) {
    return (uint32_t)(((uint64_t)(uintptr_t)h * 0x9e3779b97f4a7c15ULL) >> (64 - vm->evtab_bits));
}

/* ev_of for the map at obj, found without a property lookup when it is one of the running
 * batch's events (the getters and setters of the event's fields). */
static rc_script_ev_t *ev_known(duk_context *ctx, jvm_t *vm, duk_idx_t obj) {
    if (vm->evdata_at) { /* (obj is an object) a map with its own index: read in its header */
        rc_script_ev_t *e = ev_in_header(vm, duk_get_heapptr(ctx, obj));
        if (e) {
            return e;
        }
    }
    if (vm->evtab_live) {
        void *h = duk_get_heapptr(ctx, obj);
        uint32_t mask = (1U << vm->evtab_bits) - 1;
        for (uint32_t k = evtab_slot(vm, h); vm->evtab[k]; k = (k + 1) & mask) {
            if (vm->evh[vm->evtab[k] - 1] == h) {
                return vm->evp[vm->evtab[k] - 1];
            }
        }
    }
    return ev_of(ctx, obj);
}

/* A getter's work on the map at obj (0 key): the field is converted (checked) and becomes a
 * plain property of the map, and is pushed; 0 (nothing pushed) when the map has no such field. */
static duk_ret_t get_loaded(duk_context *ctx, jvm_t *vm, duk_idx_t obj) {
    rc_script_ev_t *e = ev_known(ctx, vm, obj);
    duk_size_t n;
    const char *k = duk_get_lstring(ctx, 0, &n);
    int j = e && k ? rc_script_ev_field(e, k, n) : -1;
    if (j < 0) {
        return 0;
    }
    push_field(ctx, vm, e, j, k, n);
    e->loaded |= 1ULL << j;
    duk_dup(ctx, 0);
    duk_dup(ctx, -2);
    put_plain(ctx, obj);
    return 1;
}

/* Is a getter (0 key, 1 this) being asked whether the field still holds its accessor
 * (pack_event, pack_on_proto)? Then it answers vm->probe, pushed, without converting. */
static bool probed(duk_context *ctx, jvm_t *vm) {
    if (vm->probe_obj && duk_get_heapptr(ctx, 1) == vm->probe_obj &&
        duk_get_heapptr(ctx, 0) == vm->probe_key) {
        vm->probe_obj = NULL;
        duk_push_heapptr(ctx, vm->probe);
        return true;
    }
    return false;
}

/* The getter of every lazy field (duktape passes the key): 0 key; this = the event. */
static duk_ret_t js_ev_get(duk_context *ctx) {
    jvm_t *vm = vm_of(ctx);
    duk_push_this(ctx); /* 1 */
    if (probed(ctx, vm)) {
        return 1;
    }
    return duk_is_object(ctx, 1) ? get_loaded(ctx, vm, 1) : 0;
}

/* A setter's work on the map at obj (0 value, 1 key): the field counts as loaded and the
 * value becomes a plain property of the map. */
static void set_loaded(duk_context *ctx, jvm_t *vm, duk_idx_t obj) {
    rc_script_ev_t *e = ev_known(ctx, vm, obj);
    duk_size_t n;
    const char *k = duk_get_lstring(ctx, 1, &n);
    int j = e && k ? rc_script_ev_field(e, k, n) : -1;
    if (j >= 0) {
        e->loaded |= 1ULL << j;
    }
    duk_dup(ctx, 1);
    duk_dup(ctx, 0);
    put_plain(ctx, obj);
}

/* The setter of every lazy field: 0 value, 1 key; this = the event. */
static duk_ret_t js_ev_set(duk_context *ctx) {
    duk_push_this(ctx); /* 2 */
    if (duk_is_object(ctx, 2)) {
        set_loaded(ctx, vm_of(ctx), 2);
    }
    return 0;
}

/* Defines e's fields on the object at t: containers (and at depth > 0 every field) as
 * accessors, scalars as plain properties; a field whose value waits on the stack (own_at[j]
 * >= 0: the index of the value, its key below it) gets that value as a plain property.
 * -1 = a scalar that cannot be converted (c->why). */
static int define_fields(cx_t *c, duk_idx_t t, rc_script_ev_t *e, int depth,
                         const duk_idx_t *own_at) {
    duk_context *ctx = c->ctx;
    const uint8_t *b = rc_script_ev_bytes(e);
    const rc_script_evfield_t *f = e->f;
    duk_require_stack(ctx, 8);
    for (uint32_t j = 0; j < e->nf; j++) {
        duk_push_lstring(ctx, (const char *)b + f[j].k, f[j].kn);
        if (own_at && own_at[j] >= 0) {
            duk_dup(ctx, own_at[j]);
            put_plain(ctx, t);
            e->loaded |= 1ULL << j;
            continue;
        }
        uint8_t first = b[f[j].v];
        bool container = (first & 0xe0) == 0x80 || first == 0xdc || first == 0xdd ||
                         first == 0xde || first == 0xdf; /* fixmap, fixarray, array/map 16/32 */
        if (container || depth > 0) {                    /* a row's columns are read one by one */
            duk_push_heapptr(ctx, c->vm->evget);
            duk_push_heapptr(ctx, c->vm->evset);
            duk_def_prop(ctx, t,
                         DUK_DEFPROP_HAVE_GETTER | DUK_DEFPROP_HAVE_SETTER |
                             DUK_DEFPROP_SET_ENUMERABLE | DUK_DEFPROP_SET_CONFIGURABLE);
            continue;
        }
        const uint8_t *p = b + f[j].v;
        uint8_t tag;
        if (push_value(c, &p, b + f[j].end, depth + 1, &tag) != 0) {
            return -1;
        }
        duk_put_prop(ctx, t);
        e->loaded |= 1ULL << j; /* a plain property from the start */
    }
    return 0;
}

/* ---- maps with their fields on a prototype ----
 *
 * A map made by push_event (the event, a row, kafka.key) starts with no fields of its own:
 * its prototype, shared by the maps with the same keys (vm's shape protos, whose own
 * prototype is vm->base), has an accessor for each key. The first read of a field converts
 * it and makes it a plain property of the map, shadowing the accessor; an assignment makes
 * the value one; keys the script adds are own properties anyway. So a map costs an object,
 * its index and a lookup of its prototype, and a field costs what the script does with it.
 * Until anything looks at which properties the map has or in what order (the Object and
 * Reflect functions, hasOwnProperty, __proto__, JSON.stringify through a replacer, and
 * delete / for-in / with, whose object the rewritten script passes through __rowcast_own:
 * see own_event), the own properties are the fields the script touched, then the keys it
 * added, in any order: on the way out the fields go in their order (those not touched, or
 * holding what they came with, as their bytes) and the added keys after them. When the map
 * is looked at, materialize gives it every field in its order, Object.prototype as its
 * prototype, and the keys added after them: it is then the map described above. */

#define PROTO_CACHE_MAX 1024

/* Are a[0..n) and b[0..n) the same? A key (mostly under 17 bytes) in a load or two, without
 * memcmp's call: the keys of every event and row are compared so (push_proto). */
static inline bool same_bytes(const char *a, const uint8_t *b, size_t n) {
    if (n >= 8 && n <= 16) {
        uint64_t a0, b0, a1, b1;
        memcpy(&a0, a, 8), memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8), memcpy(&b1, b + n - 8, 8);
        return a0 == b0 && a1 == b1;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, b0, a1, b1;
        memcpy(&a0, a, 4), memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4), memcpy(&b1, b + n - 4, 4);
        return a0 == b0 && a1 == b1;
    }
    return memcmp(a, b, n) == 0;
}

/* Pushes the prototype for e's keys (slot 0: events, 1: maps inside them; each remembers
 * the last one): 1, or 0 when its keys cannot share one (a key twice). */
static int push_proto(cx_t *c, const rc_script_ev_t *e, int slot) {
    duk_context *ctx = c->ctx;
    jvm_t *vm = c->vm;
    const uint8_t *b = rc_script_ev_bytes(e);
    rc_buf_t *last = &vm->last_sig[slot];
    if (e->nf == 0) {
        return 0; /* nothing to put on a prototype */
    }
    if (vm->last_proto[slot]) { /* the keys of the last one, compared in place */
        size_t off = 0;
        uint32_t j = 0;
        for (; j < e->nf; j++) {
            size_t kl = e->f[j].v - e->f[j].kv;
            if (off + kl > last->len || !same_bytes(last->data + off, b + e->f[j].kv, kl)) {
                break;
            }
            off += kl;
        }
        if (j == e->nf && off == last->len) {
            duk_push_heapptr(ctx, vm->last_proto[slot]);
            return 1;
        }
    }
    size_t start = vm->sig.len;
    for (uint32_t j = 0; j < e->nf; j++) {
        if (rc_buf_append(&vm->sig, b + e->f[j].kv, e->f[j].v - e->f[j].kv) != RC_OK) {
            vm->sig.len = start;
            return 0;
        }
    }
    const char *sig = vm->sig.data + start;
    size_t n = vm->sig.len - start;
    duk_require_stack(ctx, 10);
    duk_idx_t base = duk_get_top(ctx);
    push_stash(ctx, "protos");
    duk_push_lstring(ctx, sig, n);
    duk_dup_top(ctx);
    duk_get_prop(ctx, base); /* cache, sig, proto? */
    if (duk_is_undefined(ctx, -1)) {
        duk_pop(ctx);
        if (vm->n_protos >= PROTO_CACHE_MAX) { /* protos in use stay with their maps */
            duk_push_global_stash(ctx);
            duk_push_object(ctx);
            duk_dup_top(ctx);
            duk_put_prop_string(ctx, -3, "protos");
            duk_replace(ctx, base);
            duk_pop(ctx);
            vm->n_protos = 0;
        }
        duk_idx_t pr = duk_push_object(ctx);
        duk_push_heapptr(ctx, vm->base);
        duk_set_prototype(ctx, pr);
        for (uint32_t j = 0; j < e->nf; j++) {
            duk_push_lstring(ctx, (const char *)b + e->f[j].k, e->f[j].kn);
            if (duk_has_prop(ctx, pr)) { /* (the key was consumed) a key twice */
                duk_pop(ctx);
                duk_push_false(ctx);
                break;
            }
            duk_push_lstring(ctx, (const char *)b + e->f[j].k, e->f[j].kn);
            duk_push_heapptr(ctx, vm->pget);
            duk_push_heapptr(ctx, vm->pset);
            duk_def_prop(ctx, pr,
                         DUK_DEFPROP_HAVE_GETTER | DUK_DEFPROP_HAVE_SETTER |
                             DUK_DEFPROP_SET_ENUMERABLE | DUK_DEFPROP_CLEAR_CONFIGURABLE);
        }
        if (duk_is_object(ctx, -1)) {
            duk_freeze(ctx, -1);
        }
        duk_dup(ctx, base + 1);
        duk_dup(ctx, base + 2);
        duk_put_prop(ctx, base); /* cache[sig] = proto (or false) */
        vm->n_protos++;
    }
    vm->sig.len = start;
    if (!duk_is_object(ctx, -1)) {
        duk_set_top(ctx, base);
        return 0;
    }
    /* the last one stays reachable (stash "last0", "last1") when the cache is reset */
    duk_push_global_stash(ctx);
    duk_dup(ctx, -2);
    duk_put_prop_string(ctx, -2, slot ? "last1" : "last0");
    duk_pop(ctx);
    last->len = 0;
    if (rc_buf_append(last, sig, n) != RC_OK) {
        vm->last_proto[slot] = NULL;
    } else {
        vm->last_proto[slot] = duk_get_heapptr(ctx, -1);
    }
    duk_replace(ctx, base);
    duk_set_top(ctx, base + 1);
    return 1;
}

/* Pushes a map with lazy fields (its index in *ev_out, when not NULL): 1 = pushed, 0 = it
 * does not fit (convert it whole), -1 = bad map (c->why). See "maps with their fields on a
 * prototype". */
static int push_event(cx_t *c, const uint8_t *ev, const uint8_t *end, int depth, size_t *len_out,
                      rc_script_ev_t **ev_out) {
    duk_context *ctx = c->ctx;
    rc_script_evfield_t f[RC_SCRIPT_EV_MAX_FIELDS];
    uint32_t nf = 0, hdr = 0;
    int rc = rc_script_ev_index(ev, (size_t)(end - ev), f, &nf, &hdr, c->why, sizeof(c->why));
    if (rc != 1) {
        return rc;
    }
    size_t len = nf ? f[nf - 1].end : hdr;
    *len_out = len;
    duk_require_stack(ctx, 8);
    /* without a prototype yet, storing the index looks up no prototype chain; the buffer is
     * filled at once, so it need not be zeroed */
    duk_idx_t t = duk_push_bare_object(ctx);
    rc_script_ev_t *e = duk_push_buffer_raw(ctx, rc_script_ev_size(nf, len), DUK_BUF_FLAG_NOZERO);
    rc_script_ev_init(e, f, nf, hdr, ev, len);
    e->depth = (uint8_t)depth;
    duk_put_prop_heapptr(ctx, t, c->vm->evkey);
    if (ev_out) {
        *ev_out = e;
    }
    if (!push_proto(c, e, depth == 0 ? 0 : 1)) {
        duk_push_heapptr(ctx, c->vm->objproto);
        duk_set_prototype(ctx, t);
        return define_fields(c, t, e, depth, NULL) != 0 ? -1 : 1;
    }
    duk_set_prototype(ctx, t);
    return 1;
}

/* Does the object at idx have its fields on a prototype (see above)? (Its prototype's
 * prototype is vm->base: read in the objects' headers where their place is known.) */
static bool on_proto(duk_context *ctx, jvm_t *vm, duk_idx_t idx) {
    if (vm->proto_at && duk_get_type(ctx, idx) == DUK_TYPE_OBJECT) {
        const char *h = duk_get_heapptr(ctx, idx), *p;
        memcpy(&p, h + vm->proto_at, sizeof(p));
        if (!p) {
            return false;
        }
        memcpy(&p, p + vm->proto_at, sizeof(p));
        return p == vm->base;
    }
    duk_get_prototype(ctx, idx);
    bool yes = false;
    if (duk_is_object(ctx, -1)) {
        duk_get_prototype(ctx, -1);
        yes = duk_get_heapptr(ctx, -1) == vm->base;
        duk_pop(ctx);
    }
    duk_pop(ctx);
    return yes;
}

/* ---- events used again ----
 *
 * The events array keeps the batch's events after it: an event that nothing but the array
 * holds (its refcount, read in its header, is 1: not kept in a global, a closure, another
 * object or event, a result) and that the script did not touch (it has no property but its
 * index, and still has its fields on a prototype) is an object no script can tell from a new
 * one. The next batch's event in its place gets it: its index written again in its buffer when
 * that is large enough, and the prototype of its keys. That saves making an object, a buffer,
 * the index property, and freeing them (about a fifth of an identity transform). */

/* Is the lazy map h (its heap pointer) as it was made: no property but its index, its fields
 * still on its prototype (read in the headers)? false when that is not known. */
static bool untouched(const jvm_t *vm, void *h) {
    if (!vm->proto_at || own_entries(vm, h) != 1) {
        return false;
    }
    const char *p;
    memcpy(&p, (const char *)h + vm->proto_at, sizeof(p));
    if (!p) {
        return false;
    }
    memcpy(&p, p + vm->proto_at, sizeof(p));
    return p == vm->base;
}

/* Can the event h of the last batch be used again (see above)? */
static bool reusable(const jvm_t *vm, void *h) {
    if (!vm->refs_at) {
        return false;
    }
    uint32_t refs;
    memcpy(&refs, (const char *)h + vm->refs_at, sizeof(refs));
    return refs == 1 && untouched(vm, h);
}

/* push_event for the batch's event i, in the object evs[i] holds from the last batch when it
 * can (vm->evsz[i] != 0: see reusable): 1 = made (*in_place: in that object, nothing pushed;
 * else pushed), 0 = it does not fit (convert it whole), -1 = bad (c->why). Sets vm->evp[i],
 * and vm->evsz[i] for a new event that may be used again. */
static int push_batch_event(cx_t *c, uint32_t i, const uint8_t *ev, size_t size, bool *in_place) {
    duk_context *ctx = c->ctx;
    jvm_t *vm = c->vm;
    *in_place = false;
    rc_script_evfield_t f[RC_SCRIPT_EV_MAX_FIELDS];
    uint32_t nf = 0, hdr = 0;
    int rc = rc_script_ev_index(ev, size, f, &nf, &hdr, c->why, sizeof(c->why));
    if (rc != 1) {
        return rc;
    }
    size_t len = nf ? f[nf - 1].end : hdr, need = rc_script_ev_size(nf, len);
    duk_require_stack(ctx, 8);
    if (vm->evsz[i] >= need) {
        rc_script_ev_t *e = vm->evp[i];
        rc_script_ev_init(e, f, nf, hdr, ev, len);
        if (push_proto(c, e, 0)) {
            void *proto, *h = vm->evh[i];
            memcpy(&proto, (const char *)h + vm->proto_at, sizeof(proto));
            if (proto != duk_get_heapptr(ctx, -1)) {
                duk_push_heapptr(ctx, h);
                duk_swap_top(ctx, -2);
                duk_set_prototype(ctx, -2);
            }
            duk_pop(ctx);
            *in_place = true;
            return 1;
        }
        vm->evsz[i] = 0; /* (no fields, or a key twice) a new object, replacing it */
    }
    duk_idx_t t = duk_push_bare_object(ctx);
    size_t cap = vm->refs_at ? need + need / 8 + 16 : need; /* room for a longer one next */
    rc_script_ev_t *e = duk_push_buffer_raw(ctx, cap, DUK_BUF_FLAG_NOZERO);
    rc_script_ev_init(e, f, nf, hdr, ev, len);
    duk_put_prop_heapptr(ctx, t, vm->evkey);
    vm->evp[i] = e;
    if (!push_proto(c, e, 0)) {
        vm->evsz[i] = 0;
        duk_push_heapptr(ctx, vm->objproto);
        duk_set_prototype(ctx, t);
        return define_fields(c, t, e, 0, NULL) != 0 ? -1 : 1;
    }
    duk_set_prototype(ctx, t);
    vm->evsz[i] = cap;
    return 1;
}

/* Gives the map at idx (on its prototype; e its index) every field in its order, and
 * Object.prototype as its prototype: the fields it has of its own keep their values, the
 * others become accessors (or plain scalars, as define_fields makes them), the keys the
 * script added (plain properties: what defines others materializes the map first) follow.
 * -1 = a field that cannot be converted (c->why, naming it). */
static int materialize(cx_t *c, duk_idx_t idx, rc_script_ev_t *e) {
    duk_context *ctx = c->ctx;
    idx = duk_normalize_index(ctx, idx);
    duk_idx_t base = duk_get_top(ctx);
    duk_idx_t keys = push_keys(ctx, idx);
    duk_uarridx_t nk = (duk_uarridx_t)duk_get_length(ctx, keys);
    duk_require_stack(ctx, 2 * (duk_idx_t)nk + 8);
    duk_idx_t own_at[RC_SCRIPT_EV_MAX_FIELDS];
    for (uint32_t j = 0; j < e->nf; j++) {
        own_at[j] = -1;
    }
    for (duk_uarridx_t i = 0; i < nk; i++) {
        duk_get_prop_index(ctx, keys, i);
        duk_size_t n;
        const char *k = duk_get_lstring(ctx, -1, &n);
        int j = k ? rc_script_ev_field(e, k, n) : -1;
        duk_dup_top(ctx);
        duk_get_prop(ctx, idx);
        if (j >= 0) {
            own_at[j] = duk_get_top_index(ctx);
        }
        duk_dup(ctx, -2);
        duk_del_prop(ctx, idx);
    }
    duk_push_heapptr(ctx, c->vm->objproto);
    duk_set_prototype(ctx, idx);
    int rc = define_fields(c, idx, e, e->depth, own_at);
    for (duk_uarridx_t i = 0; i < nk && rc == 0; i++) {
        duk_idx_t ki = keys + 1 + 2 * (duk_idx_t)i;
        duk_size_t n;
        const char *k = duk_get_lstring(ctx, ki, &n);
        if (k && rc_script_ev_field(e, k, n) >= 0) {
            continue; /* a field: in its place already */
        }
        duk_dup(ctx, ki);
        duk_dup(ctx, ki + 1);
        duk_put_prop(ctx, idx);
    }
    duk_set_top(ctx, base);
    return rc;
}

/* If the object at idx, or one it inherits from, is a map on its prototype, materializes
 * it; throws at the script's line if a field cannot be converted. */
static void own_event(duk_context *ctx, duk_idx_t idx) {
    jvm_t *vm = vm_of(ctx);
    idx = duk_normalize_index(ctx, idx);
    duk_idx_t base = duk_get_top(ctx);
    duk_dup(ctx, idx);
    for (int hops = 0; duk_is_object(ctx, -1) && hops < 1000; hops++) {
        if (on_proto(ctx, vm, -1)) {
            rc_script_ev_t *e = ev_of(ctx, -1);
            cx_t c = {.ctx = ctx, .vm = vm, .lazy = true};
            vm->sig.len = 0; /* never inside another conversion */
            if (e && materialize(&c, -1, e) != 0) {
                char msg[600];
                snprintf(msg, sizeof(msg), "%s", c.why);
                duk_set_top(ctx, base);
                throw_at_caller(ctx, msg);
            }
            break;
        }
        duk_get_prototype(ctx, -1);
        duk_remove(ctx, -2);
    }
    duk_set_top(ctx, base);
}

/* own(o): own_event on o; returns o (the tool of the wrappers and of rewritten scripts). */
static duk_ret_t js_own(duk_context *ctx) {
    duk_set_top(ctx, 1);
    if (duk_is_object(ctx, 0)) {
        own_event(ctx, 0);
    }
    return 1;
}

/* JSON.stringify's replacer (key, value): a map on its prototype that is about to be
 * serialized gets its fields first; returns the value. */
static duk_ret_t js_json_own(duk_context *ctx) {
    duk_set_top(ctx, 2);
    if (duk_is_object(ctx, 1) && on_proto(ctx, vm_of(ctx), 1)) {
        own_event(ctx, 1);
    }
    return 1;
}

/* The accessors on a shape proto (duktape passes the key): a read converts the field and
 * makes it a plain property of the map, an assignment makes the value one. When `this` is
 * not the map itself (an object inheriting from it), the map is materialized and the
 * operation goes to `this` as it would on an ordinary object. 0 key (getter) / 0 value,
 * 1 key (setter). */
static duk_ret_t js_proto_get(duk_context *ctx) {
    jvm_t *vm = vm_of(ctx);
    duk_push_this(ctx); /* 1 */
    if (probed(ctx, vm)) {
        return 1;
    }
    if (duk_is_object(ctx, 1) && on_proto(ctx, vm, 1)) {
        return get_loaded(ctx, vm, 1);
    }
    own_event(ctx, 1);
    duk_dup(ctx, 0);
    duk_get_prop(ctx, 1);
    return 1;
}

static duk_ret_t js_proto_set(duk_context *ctx) {
    jvm_t *vm = vm_of(ctx);
    duk_push_this(ctx); /* 2 */
    if (duk_is_object(ctx, 2) && on_proto(ctx, vm, 2)) {
        set_loaded(ctx, vm, 2);
        return 0;
    }
    own_event(ctx, 2);
    duk_dup(ctx, 1);
    duk_dup(ctx, 0);
    duk_put_prop(ctx, 2);
    return 0;
}

/* Does the value at idx still equal field j's value as it came (same bytes when packed)? */
static bool same_as_field(duk_context *ctx, duk_idx_t idx, const rc_script_ev_t *e, uint32_t j) {
    mpv_t v;
    rc_script_ev_value(e, j, &v);
    switch (duk_get_type(ctx, idx)) {
    case DUK_TYPE_STRING: {
        if (v.kind != MPV_STR && v.kind != MPV_EXT) {
            return false;
        }
        duk_size_t n;
        const char *s = duk_get_lstring(ctx, idx, &n);
        return n == v.n && memcmp(s, v.s, n) == 0;
    }
    case DUK_TYPE_NUMBER: {
        uint8_t tag = rc_script_tag_of(&v);
        double d = duk_get_number(ctx, idx);
        return (tag == TAG_F32 || tag == TAG_F64) ? d == v.d && !signbit(d) == !signbit(v.d)
               : tag == TAG_INT ? d == (v.kind == MPV_UINT ? (double)v.u : (double)v.i)
                                : false;
    }
    case DUK_TYPE_BOOLEAN:
        return v.kind == MPV_BOOL && v.b == (bool)duk_get_boolean(ctx, idx);
    case DUK_TYPE_NULL:
        return v.kind == MPV_NIL;
    default:
        return false;
    }
}

/* The field whose key is k[0..n), tried first at guess: a map's keys mostly come in the
 * order of its fields. */
static int field_near(const rc_script_ev_t *e, const char *k, size_t n, uint32_t guess) {
    if (guess < e->nf && e->f[guess].kn == n &&
        memcmp(rc_script_ev_bytes(e) + e->f[guess].k, k, n) == 0) {
        return (int)guess;
    }
    return rc_script_ev_field(e, k, n);
}

#define PACK_FIELDS 128 /* keys whose fields pack_event keeps on the C stack; more: a buffer */

/* Does the key at ki of the lazy event at idx still hold its accessor (the getter, asked
 * about this object and key, answers vm->probe without converting)? */
static bool holds_accessor(duk_context *ctx, jvm_t *vm, duk_idx_t idx, duk_idx_t ki) {
    duk_dup(ctx, ki);
    vm->probe_obj = duk_get_heapptr(ctx, idx);
    vm->probe_key = duk_get_heapptr(ctx, -1);
    duk_get_prop(ctx, idx);
    vm->probe_obj = NULL;
    bool accessor = duk_get_heapptr(ctx, -1) == vm->probe;
    duk_pop(ctx);
    return accessor;
}

/* How many entries the object h (a heap pointer) has used, when that is known (see
 * find_object_counts): never fewer than the properties it has; more only after a delete,
 * which leaves its entry empty until the object is resized. UINT32_MAX: not known (or some
 * of its properties are in an array part). */
static uint32_t own_entries(const jvm_t *vm, void *h) {
    if (!vm->enext_at) {
        return UINT32_MAX;
    }
    uint32_t n, a;
    memcpy(&n, (const char *)h + vm->enext_at, sizeof(n));
    memcpy(&a, (const char *)h + vm->asize_at, sizeof(a));
    return a == 0 ? n : UINT32_MAX;
}

/* The entries the object h has used besides its array part (an array's elements), when that
 * is known; else UINT32_MAX. */
static uint32_t entries_used(const jvm_t *vm, void *h) {
    if (!vm->enext_at) {
        return UINT32_MAX;
    }
    uint32_t n;
    memcpy(&n, (const char *)h + vm->enext_at, sizeof(n));
    return n;
}

/* A field that goes out as the bytes it came with: next to the pending run of input bytes
 * [*run, *run_end) it extends it; elsewhere the run is written and the field starts the next.
 * An event's own kafka field is remembered: emit checks the topic through the index. */
static void keep_field(cx_t *c, rc_script_ev_t *e, const rc_script_evfield_t *f, int depth,
                       uint32_t *run, uint32_t *run_end) {
    const uint8_t *b = rc_script_ev_bytes(e);
    if (depth == 0 && f->kn == 5 && memcmp(b + f->k, "kafka", 5) == 0) {
        c->kafka = e;
    }
    if (*run_end != f->kv) {
        rc_script_write_run(&c->pk, b, *run, *run_end);
        *run = f->kv;
    }
    *run_end = f->end;
}

/* Pushes field j's value when it is the second and last entry of the map h (a heap pointer;
 * the first is its index) and a plain property holding a string or an object: what a field
 * the script set or read holds, read in the header (see find_entry_values) without a lookup
 * (about 400 instructions). false, nothing pushed, otherwise. */
static bool push_own_entry(duk_context *ctx, const jvm_t *vm, void *h, const rc_script_ev_t *e,
                           uint32_t j) {
    if (!vm->tag_str || own_entries(vm, h) != 2) {
        return false;
    }
    const char *o = h, *props;
    uint32_t esize, tag;
    void *v, *key;
    memcpy(&props, o + vm->proto_at - sizeof(void *), sizeof(props));
    memcpy(&esize, o + vm->proto_at + sizeof(void *), sizeof(esize));
    memcpy(&tag, props + 16, sizeof(tag));
    memcpy(&v, props + 16 + 8, sizeof(v));
    memcpy(&key, props + (size_t)esize * 16 + sizeof(void *), sizeof(key));
    uint8_t flags = (uint8_t)props[(size_t)esize * (16 + sizeof(void *)) + 1];
    if ((tag != vm->tag_str && tag != vm->tag_obj) || flags != vm->plain_flags || !key || !v) {
        return false;
    }
    duk_push_heapptr(ctx, key);
    duk_size_t n;
    const char *k = duk_get_lstring(ctx, -1, &n);
    bool same = k && n == e->f[j].kn && memcmp(k, rc_script_ev_bytes(e) + e->f[j].k, n) == 0;
    duk_pop(ctx);
    if (same) {
        duk_push_heapptr(ctx, v);
    }
    return same;
}

/* Packs the map at idx that has its fields on a prototype (e its index): its fields in
 * their order, each as the bytes it came with unless it is an own property holding another
 * value (one holding undefined is left out), then the keys the script added, in the order
 * Object.keys gives them. Untouched, or with nothing changed: the bytes as they came. With
 * keys like "10" among the fields or the keys added, it is materialized and packed as an
 * object with its fields is (order_index_keys places them). */
static int pack_on_proto(cx_t *c, duk_idx_t idx, rc_script_ev_t *e, int depth) {
    duk_context *ctx = c->ctx;
    jvm_t *vm = c->vm;
    const uint8_t *b = rc_script_ev_bytes(e);
    duk_idx_t own_at[RC_SCRIPT_EV_MAX_FIELDS]; /* the value of field j, if own */
    for (uint32_t j = 0; j < e->nf; j++) {
        own_at[j] = -1;
    }
    uint32_t count = e->nf, added = 0;
    bool same = true, added_index = false;
    duk_idx_t base = duk_get_top(ctx);
    duk_uarridx_t nk = 0;
    /* Its own properties are its index, the fields loaded (each made own by an accessor) and
     * the keys the script added. When it has used no more entries than the first two need,
     * and the fields loaded are all still there, it has no key added: its keys need not be
     * listed (that costs a third of an identity transform). */
    bool listed =
        own_entries(vm, duk_get_heapptr(ctx, idx)) != 1 + (uint32_t)__builtin_popcountll(e->loaded);
    uint64_t differs = 0;    /* the own fields that hold another value than they came with */
    duk_push_undefined(ctx); /* where the keys go */
    duk_require_stack(ctx, (duk_idx_t)e->nf + 4);
    for (uint32_t j = 0; j < e->nf && e->loaded && !listed; j++) {
        if (!(e->loaded & (1ULL << j))) {
            continue;
        }
        if (!push_own_entry(ctx, vm, duk_get_heapptr(ctx, idx), e, j)) {
            duk_push_lstring(ctx, (const char *)b + e->f[j].k, e->f[j].kn);
            vm->probe_obj = duk_get_heapptr(ctx, idx); /* not own (deleted): the getter says so */
            vm->probe_key = duk_get_heapptr(ctx, -1);
            duk_get_prop(ctx, idx);
            vm->probe_obj = NULL;
            if (duk_get_heapptr(ctx, -1) == vm->probe) {
                listed = true;
                break;
            }
        }
        own_at[j] = duk_get_top_index(ctx);
        if (duk_is_undefined(ctx, -1)) {
            count--;
            same = false;
        } else if (!same_as_field(ctx, -1, e, j)) {
            same = false;
            differs |= 1ULL << j;
        }
    }
    if (listed) {
        duk_set_top(ctx, base);
        for (uint32_t j = 0; j < e->nf; j++) {
            own_at[j] = -1;
        }
        differs = 0;
        count = e->nf;
        same = true;
        push_keys(ctx, idx);
        nk = (duk_uarridx_t)duk_get_length(ctx, base);
    }
    duk_require_stack(ctx, 2 * (duk_idx_t)nk + 4);
    for (duk_uarridx_t i = 0; i < nk; i++) {
        duk_get_prop_index(ctx, base, i);
        duk_size_t n;
        const char *k = duk_get_lstring(ctx, -1, &n);
        int j = k ? field_near(e, k, n, 0) : -1;
        duk_dup_top(ctx);
        duk_get_prop(ctx, idx); /* key, value */
        if (j >= 0) {
            own_at[j] = duk_get_top_index(ctx);
            if (duk_is_undefined(ctx, -1)) {
                count--;
                same = false;
            } else if (!same_as_field(ctx, -1, e, (uint32_t)j)) {
                same = false;
                differs |= 1ULL << j;
            }
        } else if (!duk_is_undefined(ctx, -1)) {
            added++;
            same = false;
            added_index = added_index || (k && is_index_key(k, n));
        }
    }
    if (added > 0 && (added_index || has_index_field(e))) {
        /* keys like "10" among them: the order an object gives them (order_index_keys) */
        duk_set_top(ctx, base);
        bool lazy = c->lazy;
        c->lazy = true;
        c->vm->sig.len = 0;
        int rc = materialize(c, idx, e);
        c->lazy = lazy;
        return rc != 0 ? -1 : pack_event(c, idx, e, depth);
    }
    if (same) {
        c->pk.callback(c->pk.data, (const char *)b, e->len);
        if (depth == 0) {
            c->whole = e;
        }
        duk_set_top(ctx, base);
        return 0;
    }
    msgpack_pack_map(&c->pk, count + added);
    uint32_t run = 0, run_end = 0; /* input bytes [run, run_end) not written yet */
    int rc = 0;
    for (uint32_t j = 0; j < e->nf && rc == 0; j++) {
        const rc_script_evfield_t *f = &e->f[j];
        duk_idx_t vi = own_at[j];
        if (vi >= 0 && duk_is_undefined(ctx, vi)) {
            continue;
        }
        if (vi < 0 || !(differs & (1ULL << j))) { /* (same_as_field said so above) */
            keep_field(c, e, f, depth, &run, &run_end);
            continue;
        }
        rc_script_write_run(&c->pk, b, run, run_end);
        run = run_end = 0;
        mpv_t v;
        rc_script_ev_value(e, j, &v);
        msgpack_pack_str(&c->pk, f->kn);
        msgpack_pack_str_body(&c->pk, (const char *)b + f->k, f->kn);
        char key[64]; /* for an error message */
        size_t kn = f->kn < sizeof(key) - 1 ? f->kn : sizeof(key) - 1;
        memcpy(key, b + f->k, kn);
        key[kn] = '\0';
        rc = pack_value(c, vi, rc_script_tag_of(&v), depth + 1, key);
    }
    if (rc == 0) {
        rc_script_write_run(&c->pk, b, run, run_end);
    }
    for (duk_uarridx_t i = 0; i < nk && rc == 0 && added > 0; i++) {
        duk_idx_t ki = base + 1 + 2 * (duk_idx_t)i;
        duk_size_t n;
        const char *k = duk_get_lstring(ctx, ki, &n);
        if (rc_script_ev_field(e, k, n) >= 0 || duk_is_undefined(ctx, ki + 1)) {
            continue;
        }
        msgpack_pack_str(&c->pk, n);
        msgpack_pack_str_body(&c->pk, k, n);
        rc = pack_value(c, ki + 1, TAG_NONE, depth + 1, k);
    }
    duk_set_top(ctx, base);
    return rc;
}

/* Packs the lazy event at idx: its fields in the object's order, as they came unless read
 * and changed, and the keys the script added. One enumeration: the keys, then their values
 * (a pointer for a field still as it came) wait on the stack while they are counted. Fields
 * that go out as they came and follow each other in the input are written in one.
 *
 * A field not loaded is still its accessor unless the script deleted it and assigned it
 * again (delete is not seen: the new plain property does not pass through the setter). A
 * key made again goes after every key that was not, in the object's order: so the fields
 * that come first, in their input order, are original up to the last one that still holds
 * its accessor, which a probe (the getter answers vm->probe without converting) finds,
 * mostly at the first try. Fields past it are read as the plain properties they are. (Not
 * when the event has keys like "10", which order_index_keys moves: then each field not loaded
 * is probed.) */
static int pack_event(cx_t *c, duk_idx_t idx, rc_script_ev_t *e, int depth) {
    duk_context *ctx = c->ctx;
    jvm_t *vm = c->vm;
    const uint8_t *b = rc_script_ev_bytes(e);
    duk_require_stack(ctx, 10);
    idx = duk_normalize_index(ctx, idx);
    if (on_proto(ctx, vm, idx)) {
        return pack_on_proto(c, idx, e, depth);
    }
    duk_idx_t base = push_keys(ctx, idx);
    /* with index keys put back in their place the keys made again are not all at the end:
     * then each field not loaded is asked whether it still holds its accessor */
    bool probe_each = has_index_field(e) && order_index_keys(ctx, base, e, DUK_INVALID_INDEX);
    duk_uarridx_t nk = (duk_uarridx_t)duk_get_length(ctx, base);
    int16_t small[PACK_FIELDS], *fj = small; /* each key's field, -1: a key the script added */
    if (nk > PACK_FIELDS) {
        fj = duk_push_fixed_buffer(ctx, nk * sizeof(*fj));
    }
    duk_idx_t keys = duk_get_top(ctx), vals = keys + (duk_idx_t)nk;
    duk_require_stack(ctx, 2 * (duk_idx_t)nk + 4);
    uint32_t prefix = 0; /* keys [0, prefix) are fields in their input order */
    int last = -1;
    bool ordered = true;
    for (duk_uarridx_t i = 0; i < nk; i++) {
        duk_get_prop_index(ctx, base, i);
        duk_size_t n;
        const char *k = duk_get_lstring(ctx, -1, &n);
        int j = field_near(e, k, n, (uint32_t)(last + 1));
        fj[i] = (int16_t)j;
        ordered = ordered && j > last;
        if (ordered) {
            prefix = i + 1;
        }
        if (j >= 0) {
            last = j;
        }
    }
    int64_t intact = -1; /* the fields not loaded among keys [0, intact] hold their accessor */
    for (int64_t i = probe_each ? -1 : (int64_t)prefix - 1; i >= 0; i--) {
        if (!(e->loaded & (1ULL << fj[i])) && holds_accessor(ctx, vm, idx, keys + (duk_idx_t)i)) {
            intact = i;
            break;
        }
    }
    uint32_t count = 0;
    bool same = prefix == nk;
    for (duk_uarridx_t i = 0; i < nk; i++) {
        int j = fj[i];
        if (j >= 0 && !(e->loaded & (1ULL << j)) &&
            (probe_each ? holds_accessor(ctx, vm, idx, keys + (duk_idx_t)i)
                        : (int64_t)i <= intact)) { /* as it came */
            duk_push_pointer(ctx, NULL);
            same = same && (uint32_t)j == count;
            count++;
            continue;
        }
        duk_dup(ctx, keys + (duk_idx_t)i);
        duk_get_prop(ctx, idx);
        if (duk_is_undefined(ctx, -1)) {
            same = false;
            continue;
        }
        same = same && j >= 0 && (uint32_t)j == count && same_as_field(ctx, -1, e, (uint32_t)j);
        count++;
    }
    int rc = 0;
    if (same && count == e->nf) {
        c->pk.callback(c->pk.data, (const char *)b, e->len);
        c->whole = e;
        duk_set_top(ctx, base);
        return 0;
    }
    msgpack_pack_map(&c->pk, count);
    uint32_t run = 0, run_end = 0; /* input bytes [run, run_end) not written yet */
    for (duk_uarridx_t i = 0; i < nk && rc == 0; i++) {
        duk_idx_t vi = vals + (duk_idx_t)i;
        if (duk_is_undefined(ctx, vi)) {
            continue;
        }
        duk_size_t n;
        const char *k = duk_get_lstring(ctx, keys + (duk_idx_t)i, &n);
        int j = fj[i];
        const rc_script_evfield_t *f = j >= 0 ? &e->f[j] : NULL;
        if (f && (duk_is_pointer(ctx, vi) || same_as_field(ctx, vi, e, (uint32_t)j))) {
            keep_field(c, e, f, depth, &run, &run_end);
            continue;
        }
        rc_script_write_run(&c->pk, b, run, run_end);
        run = run_end = 0;
        uint8_t tag = TAG_NONE;
        if (f) {
            mpv_t v;
            rc_script_ev_value(e, (uint32_t)j, &v);
            tag = rc_script_tag_of(&v);
        }
        msgpack_pack_str(&c->pk, n);
        msgpack_pack_str_body(&c->pk, k, n);
        rc = pack_value(c, vi, tag, depth + 1, k);
    }
    if (rc == 0) {
        rc_script_write_run(&c->pk, b, run, run_end);
    }
    duk_set_top(ctx, base);
    return rc;
}

/* load(o): reads every field of a lazy event not read yet, so that it is a plain property
 * (what Object.defineProperty and friends must see); anything else is left alone. */
static duk_ret_t js_ev_load(duk_context *ctx) {
    if (!duk_is_object(ctx, 0)) {
        return 0;
    }
    own_event(ctx, 0);
    rc_script_ev_t *e = ev_of(ctx, 0);
    for (uint32_t j = 0; e && j < e->nf; j++) {
        if (!(e->loaded & (1ULL << j))) {
            const uint8_t *b = rc_script_ev_bytes(e);
            duk_push_lstring(ctx, (const char *)b + e->f[j].k, e->f[j].kn);
            duk_get_prop(ctx, 0); /* the getter loads it */
            duk_pop(ctx);
        }
    }
    return 0;
}

/* The functions that see or change property attributes load a lazy event first: so a field
 * defined, frozen or described before it was read is an ordinary property. Those that see
 * which properties an object has give an untouched event its fields first (see push_event);
 * so do for-in, with and delete, which the rewritten script passes through RC_SCRIPT_JS_OWN.
 * JSON.stringify gives every value it meets its fields through a replacer. */
static const char ev_wrappers[] =
    "(function (load, own, jsonOwn) {\n"
    "  var def = Object.defineProperty, apply = Function.prototype.apply;\n"
    "  function wrap(o, names, pre, self) {\n"
    "    names.forEach(function (name) {\n"
    "      var f = o[name];\n"
    "      if (typeof f !== 'function') return;\n"
    "      def(o, name, {writable: true, configurable: true, value: self ?\n"
    "        function () { pre(this); return apply.call(f, this, arguments); } :\n"
    "        function (x) { pre(x); return apply.call(f, this, arguments); }});\n"
    "    });\n"
    "  }\n"
    "  wrap(Object, ['defineProperty', 'defineProperties', 'getOwnPropertyDescriptor', 'freeze',\n"
    "       'seal', 'preventExtensions'], load);\n"
    "  wrap(Reflect, ['defineProperty', 'getOwnPropertyDescriptor', 'preventExtensions'], load);\n"
    "  wrap(Object, ['keys', 'getOwnPropertyNames', 'getPrototypeOf', 'setPrototypeOf'], own);\n"
    "  wrap(Reflect, ['ownKeys', 'deleteProperty', 'getPrototypeOf', 'setPrototypeOf'], own);\n"
    "  wrap(Object.prototype, ['hasOwnProperty', 'propertyIsEnumerable'], own, true);\n"
    "  wrap(Object.prototype, ['__lookupGetter__', '__lookupSetter__', '__defineGetter__',\n"
    "       '__defineSetter__'], load, true);\n"
    "  var assign = Object.assign;\n"
    "  if (typeof assign === 'function') {\n"
    "    def(Object, 'assign', {writable: true, configurable: true, value: function () {\n"
    "      for (var i = 0; i < arguments.length; i++) own(arguments[i]);\n"
    "      return apply.call(assign, Object, arguments);\n"
    "    }});\n"
    "  }\n"
    "  var proto = Object.getOwnPropertyDescriptor(Object.prototype, '__proto__');\n"
    "  if (proto && proto.get && proto.set) {\n"
    "    def(Object.prototype, '__proto__', {configurable: true, enumerable: false,\n"
    "      get: function () { own(this); return proto.get.call(this); },\n"
    "      set: function (v) { own(this); return proto.set.call(this, v); }});\n"
    "  }\n"
    "  var stringify = JSON.stringify;\n"
    "  def(JSON, 'stringify', {writable: true, configurable: true,\n"
    "    value: function (value, replacer, space) {\n"
    "      if (Array.isArray(replacer)) return stringify(value, replacer, space);\n"
    "      var r = typeof replacer === 'function' ? replacer : null;\n"
    "      return stringify(own(value), r ? function (k, v) {\n"
    "        return own(r.call(this, k, v));\n"
    "      } : jsonOwn, space);\n"
    "    }});\n"
    "})";

/* ---- errors ---- */

/* "FILE:LINE: Error: message" for the error at idx (any thrown value). */
static void format_error(duk_context *ctx, duk_idx_t idx, const char *file, char *buf,
                         size_t size) {
    idx = duk_normalize_index(ctx, idx);
    int line = 0;
    if (duk_is_object(ctx, idx)) {
        duk_get_prop_string(ctx, idx, "lineNumber");
        line = duk_is_number(ctx, -1) ? duk_get_int(ctx, -1) : 0;
        duk_pop(ctx);
    }
    duk_dup(ctx, idx);
    const char *msg = duk_safe_to_string(ctx, -1);
    if (line > 0) {
        snprintf(buf, size, "%s:%d: %s", file, line, msg);
    } else {
        snprintf(buf, size, "%s: %s", file, msg);
    }
    duk_pop(ctx);
}

/* Is msg (format_error's) what duktape throws when an allocation failed? It may run out
 * while it builds the error itself. */
static bool is_out_of_memory(const char *msg) {
    return strstr(msg, "Error: alloc failed") ||
           strstr(msg, "DoubleError: error in error handling");
}

/* ---- the batch ---- */

typedef struct batch {
    jvm_t *vm;
    const rc_span_t *ev;
    const bool *run;
    uint32_t n;
    msgpack_sbuffer *out;
    rc_script_result_t *res;
    rc_buf_t *errs;
    bool nomem;
} batch_t;

static void fail_event(batch_t *b, rc_script_result_t *r, size_t start, const char *msg) {
    b->out->size = start;
    r->status = RC_SCRIPT_FAILED;
    r->n_out = 0;
    r->err_off = b->errs->len;
    if (rc_buf_puts(b->errs, msg) != RC_OK || rc_buf_putc(b->errs, '\0') != RC_OK) {
        b->nomem = true;
    }
    r->err_len = strlen(msg);
}

/* Packs the event at idx; known: its index, when it is a lazy map the batch made (what
 * pack_value would find), else NULL. */
static bool emit(cx_t *c, batch_t *b, duk_idx_t idx, rc_script_ev_t *known) {
    size_t start = b->out->size;
    if (!known && (!duk_is_object(c->ctx, idx) || duk_is_array(c->ctx, idx) ||
                   duk_is_function(c->ctx, idx))) {
        snprintf(c->why, sizeof(c->why), "a list element is not an event object");
        return false;
    }
    c->whole = NULL;
    c->kafka = NULL;
    if ((known ? pack_event(c, idx, known, 0) : pack_value(c, idx, TAG_MAP, 0, NULL)) != 0) {
        return false;
    }
    if (c->whole && b->out->size - start == ((const rc_script_ev_t *)c->whole)->len) {
        return rc_script_ev_check(c->whole, c->why, sizeof(c->why)); /* the bytes as they came */
    }
    if (c->kafka) { /* kafka went out as it came: its index has it, no walk of the output */
        return rc_script_ev_check(c->kafka, c->why, sizeof(c->why));
    }
    return rc_script_check_event((const uint8_t *)b->out->data + start, b->out->size - start,
                                 c->why, sizeof(c->why));
}

static void push_stash(duk_context *ctx, const char *key) {
    duk_push_global_stash(ctx);
    duk_get_prop_string(ctx, -1, key);
    duk_remove(ctx, -2);
}

/* Stack: 0 ACTION_CONT, 1 ACTION_DROP, 2 events, 3 results, 4 errors, 5 got (a Uint8Array:
 * got[i] = 1 when results[i] holds what transform returned, 2 when it returned ACTION_DROP,
 * 0 when it sent the event). */
static inline bool is_kafka(const uint8_t *b, const rc_script_evfield_t *f) {
    uint32_t w, k;
    memcpy(&w, b + f->k, 4);
    memcpy(&k, "kafk", 4);
    return f->kn == 5 && w == k && b[f->k + 4] == 'a';
}

/* rc_script_ev_check of an event sent untouched: its kafka field's head and topic, when they
 * are the bytes of the last one checked (the events of a batch mostly go to one topic), are
 * found where that event had them and compared at once. */
static bool untouched_ev_check(jvm_t *vm, const rc_script_ev_t *e, char *why, size_t why_size) {
    const uint8_t *b = rc_script_ev_bytes(e);
    uint32_t j = vm->kafka_at;
    if (vm->topic_len && j < e->nf && is_kafka(b, &e->f[j]) &&
        e->f[j].end - e->f[j].v >= vm->topic_len &&
        memcmp(b + e->f[j].v, vm->topic, vm->topic_len) == 0) {
        return true; /* (its only kafka: an event with a key twice is never untouched) */
    }
    if (!rc_script_ev_check(e, why, why_size)) {
        return false;
    }
    int k = rc_script_ev_field(e, "kafka", 5);
    const uint8_t *m = b + e->f[k].v;
    size_t h = rc_script_topic_head_len(m, b + e->f[k].end);
    vm->topic_len = 0;
    if (h && h <= sizeof(vm->topic)) {
        memcpy(vm->topic, m, h);
        vm->topic_len = (uint32_t)h;
        vm->kafka_at = (uint32_t)k;
    }
    return true;
}

static duk_ret_t batch_main(duk_context *ctx, void *udata) {
    batch_t *b = udata;
    jvm_t *vm = b->vm;
    duk_set_top(ctx, 0);
    if (b->n > vm->ev_cap) {
        void **evh = realloc(vm->evh, b->n * sizeof(*evh));
        if (evh) {
            vm->evh = evh;
        }
        rc_script_ev_t **evp = realloc(vm->evp, b->n * sizeof(*evp));
        if (evp) {
            vm->evp = evp;
        }
        size_t *evsz = realloc(vm->evsz, b->n * sizeof(*evsz));
        if (evsz) {
            vm->evsz = evsz;
        }
        uint32_t bits = 4;
        while ((1U << bits) < 2 * b->n) {
            bits++;
        }
        uint32_t *evtab = realloc(vm->evtab, ((size_t)1 << bits) * sizeof(*evtab));
        if (evtab) {
            vm->evtab = evtab;
            vm->evtab_bits = bits;
        }
        if (!evh || !evp || !evsz || !evtab) {
            b->nomem = true;
            return 0;
        }
        vm->ev_cap = b->n;
    }
    if (vm->evtab) {
        memset(vm->evtab, 0, ((size_t)1 << vm->evtab_bits) * sizeof(*vm->evtab));
    }
    vm->arr_next = 0; /* the lists converted take arrs' places from the first */
    push_stash(ctx, "cont");
    push_stash(ctx, "drop");
    cx_t c = {.ctx = ctx, .vm = vm, .cont = 0, .drop = 1};
    msgpack_packer_init(&c.pk, b->out, msgpack_sbuffer_write);
    vm->in_udf = false;
    /* one events array for every batch: appending into the room it has is about half as
     * costly as growing a new one, and the events it keeps can be used again (reusable) */
    push_stash(ctx, "evs");
    if (!vm->evs_whole) { /* the last batch failed half-way: what evs holds is not known */
        duk_set_length(ctx, 2, 0);
        vm->ev_kept = 0;
    }
    if (vm->ev_kept > b->n) {
        vm->ev_kept = b->n; /* those past n go when the length is set */
    }
    for (uint32_t i = vm->ev_kept; i < b->n; i++) {
        vm->evh[i] = NULL;
        vm->evsz[i] = 0;
    }
    vm->evs_whole = false;
    duk_push_array(ctx);
    duk_push_array(ctx);
    for (uint32_t i = 0; i < b->n; i++) {
        bool in_place = false;
        int prc = -1;
        uint8_t tag = TAG_MAP;
        if (b->run[i]) {
            const uint8_t *p = b->ev[i].p;
            prc = push_batch_event(&c, i, p, b->ev[i].len, &in_place);
            if (prc == 0) { /* does not fit lazy fields: converted whole */
                vm->evp[i] = NULL;
                vm->evsz[i] = 0;
                prc = push_value(&c, &p, p + b->ev[i].len, 0, &tag);
            } else if (prc == 1) {
                prc = 0;
            }
        }
        if (in_place) {
            continue; /* evh[i] stays */
        }
        if (prc != 0 || tag != TAG_MAP) {
            duk_set_top(ctx, 5);
            if (vm->evh[i]) { /* the last batch's event in this place */
                duk_push_undefined(ctx);
                duk_put_prop_index(ctx, 2, i);
            }
            vm->evh[i] = NULL;
            vm->evp[i] = NULL;
            vm->evsz[i] = 0;
            if (b->run[i]) {
                duk_push_sprintf(ctx, "%s", prc != 0 ? c.why : "the event is not a map");
                duk_put_prop_index(ctx, 4, i);
            }
            continue;
        }
        vm->evh[i] = duk_get_heapptr(ctx, -1); /* evs keeps it */
        duk_put_prop_index(ctx, 2, i);
    }
    for (uint32_t i = 0; i < b->n; i++) {
        if (vm->evh[i] && vm->evp[i]) {
            uint32_t mask = (1U << vm->evtab_bits) - 1, k = evtab_slot(vm, vm->evh[i]);
            while (vm->evtab[k]) {
                k = (k + 1) & mask;
            }
            vm->evtab[k] = i + 1;
        }
    }
    duk_set_top(ctx, 5);
    duk_push_uint(ctx, b->n);
    duk_put_prop_string(ctx, 2, "length");
    const uint8_t *got = duk_push_fixed_buffer(ctx, b->n); /* zeroed */
    duk_push_buffer_object(ctx, -1, 0, b->n, DUK_BUFOBJ_UINT8ARRAY);
    duk_remove(ctx, -2); /* 5 */
    push_stash(ctx, "driver");
    push_stash(ctx, "transform");
    duk_dup(ctx, 2);
    duk_dup(ctx, 3);
    duk_dup(ctx, 5);
    duk_dup(ctx, 4);
    push_stash(ctx, "start");
    push_stash(ctx, "budget");
    duk_dup(ctx, 0);
    duk_dup(ctx, 1);
    vm->ticks = 0;
    vm->expired = false;
    vm->deadline_ns = vm->budget_ms ? mono_ns() + (int64_t)vm->budget_ms * 1000000LL : 0;
    vm->mem_capped = vm->mem_limit > 0; /* the cap binds the script, not the conversions */
    vm->evtab_live = vm->evtab != NULL;
    duk_call(ctx, 9);
    vm->evtab_live = false;
    vm->mem_capped = false;
    vm->deadline_ns = 0;
    duk_set_top(ctx, 6);
    /* errs holds an entry for each failed event: mostly none */
    duk_uarridx_t n_errs = (duk_uarridx_t)duk_get_length(ctx, 4);

    for (uint32_t i = 0; i < b->n && !b->nomem; i++) {
        rc_script_result_t *r = &b->res[i];
        size_t start = b->out->size;
        memset(r, 0, sizeof(*r));
        if (!b->run[i]) {
            msgpack_sbuffer_write(b->out, (const char *)b->ev[i].p, b->ev[i].len);
            r->status = RC_SCRIPT_SKIPPED;
            r->n_out = 1;
            r->end_off = b->out->size;
            continue;
        }
        duk_set_top(ctx, 6);
        char msg[1200];
        if (i < n_errs && duk_has_prop_index(ctx, 4, i)) {
            duk_get_prop_index(ctx, 4, i);
            format_error(ctx, -1, vm->file, msg, sizeof(msg));
            if (vm->mem_limit && is_out_of_memory(msg)) {
                size_t used = strlen(msg);
                snprintf(msg + used, sizeof(msg) - used, " (the script's memory limit is %zu MiB)",
                         vm->mem_limit >> 20);
            }
            fail_event(b, r, start, msg);
            r->end_off = b->out->size;
            continue;
        }
        bool ok = true;
        r->status = RC_SCRIPT_SENT;
        if (got[i] == 2) {
            r->status = RC_SCRIPT_DROPPED;
            r->end_off = b->out->size;
            continue;
        }
        rc_script_ev_t *e = vm->evp[i];
        if (!got[i] && e && !e->loaded && untouched(vm, vm->evh[i])) {
            /* sent untouched: its bytes as they came (what pack_on_proto would write) */
            msgpack_sbuffer_write(b->out, (const char *)rc_script_ev_bytes(e), e->len);
            r->n_out = 1;
            if (!untouched_ev_check(vm, e, c.why, sizeof(c.why))) {
                snprintf(msg, sizeof(msg), "%s: %s", vm->file, c.why);
                fail_event(b, r, start, msg);
            }
            r->end_off = b->out->size;
            continue;
        }
        if (!got[i]) {                         /* it sent the event */
            duk_push_undefined(ctx);           /* 6 */
            duk_push_heapptr(ctx, vm->evh[i]); /* 7 */
            ok = emit(&c, b, 7, vm->evp[i]);
            r->n_out = 1;
            r->end_off = b->out->size;
            if (!ok) {
                snprintf(msg, sizeof(msg), "%s: %s", vm->file, c.why);
                fail_event(b, r, start, msg);
                r->end_off = b->out->size;
            }
            continue;
        }
        duk_get_prop_index(ctx, 3, i);     /* 6: what transform returned */
        duk_push_heapptr(ctx, vm->evh[i]); /* 7: the event */
        if (duk_strict_equals(ctx, 6, 0) || duk_strict_equals(ctx, 6, 7)) { /* (not stored) */
            ok = emit(&c, b, 7, vm->evp[i]);
            r->n_out = 1;
        } else if (duk_strict_equals(ctx, 6, 1)) {
            r->status = RC_SCRIPT_DROPPED;
        } else if (duk_is_array(ctx, 6)) {
            duk_size_t k = duk_get_length(ctx, 6);
            for (duk_size_t j = 0; j < k && ok; j++) {
                duk_get_prop_index(ctx, 6, (duk_uarridx_t)j);
                ok = emit(&c, b, 8, NULL);
                duk_pop(ctx);
            }
            r->n_out = (uint32_t)k;
            if (k == 0) {
                r->status = RC_SCRIPT_DROPPED;
            }
        } else if (duk_is_object(ctx, 6) && !duk_is_function(ctx, 6)) {
            ok = emit(&c, b, 6, NULL);
            r->n_out = 1;
        } else {
            const char *tn = duk_is_null(ctx, 6)       ? "null"
                             : duk_is_function(ctx, 6) ? "function"
                             : duk_is_string(ctx, 6)   ? "string"
                             : duk_is_number(ctx, 6)   ? "number"
                             : duk_is_boolean(ctx, 6)  ? "boolean"
                                                       : "value";
            duk_dup(ctx, 6);
            snprintf(c.why, sizeof(c.why),
                     "transform returned a %s (%.60s); expected ACTION_CONT, ACTION_DROP, the "
                     "event or a list of events",
                     tn, duk_safe_to_string(ctx, -1));
            ok = false;
        }
        if (!ok) {
            snprintf(msg, sizeof(msg), "%s: %s", vm->file, c.why);
            fail_event(b, r, start, msg);
        }
        r->end_off = b->out->size;
    }
    /* the results and errors let go of what they hold; then the events nothing else holds
     * and the script did not touch stay for the next batch, the others are let go of */
    duk_set_top(ctx, 3);
    uint32_t kept = 0; /* past the last event kept, one cut of the length lets go of all */
    for (uint32_t i = 0; i < b->n; i++) {
        if (vm->evh[i] && vm->evsz[i] && reusable(vm, vm->evh[i])) {
            kept = i + 1;
        } else {
            vm->evsz[i] = 0;
        }
    }
    for (uint32_t i = 0; i < kept; i++) {
        if (vm->evh[i] && !vm->evsz[i]) {
            duk_push_undefined(ctx);
            duk_put_prop_index(ctx, 2, i);
            vm->evh[i] = NULL;
        }
    }
    duk_set_length(ctx, 2, kept);
    vm->ev_kept = kept;
    vm->evs_whole = !b->nomem;
    duk_set_top(ctx, 0);
    return 0;
}

static rc_err_t js_transform_batch(void *opaque, const rc_span_t *ev, const bool *run, uint32_t n,
                                   msgpack_sbuffer *out, rc_script_result_t *res, rc_buf_t *errs,
                                   char *errstr, size_t errstr_size) {
    jvm_t *vm = opaque;
    batch_t b = {vm, ev, run, n, out, res, errs, false};
    int rc = duk_safe_call(vm->ctx, batch_main, &b, 0, 1);
    vm->deadline_ns = 0;
    vm->probe_obj = NULL; /* a probe a user's getter threw out of */
    vm->evtab_live = false;
    vm->mem_capped = false;
    if (rc != DUK_EXEC_SUCCESS) {
        char msg[1024];
        format_error(vm->ctx, -1, vm->file, msg, sizeof(msg));
        duk_set_top(vm->ctx, 0);
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "the JS VM failed: %s", msg);
    }
    duk_set_top(vm->ctx, 0);
    if (b.nomem) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: out of memory", vm->file);
    }
    return RC_OK;
}

/* ---- globals and creation ---- */

/* copy(value): a deep copy that keeps key order and types (for fan-out). */
static duk_ret_t js_copy(duk_context *ctx) {
    duk_set_top(ctx, 1);
    push_stash(ctx, "cont");
    push_stash(ctx, "drop");
    cx_t c = {.ctx = ctx, .vm = vm_of(ctx), .cont = 1, .drop = 2};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&c.pk, &sb, msgpack_sbuffer_write);
    int rc = pack_value(&c, 0, TAG_NONE, 0, NULL);
    const uint8_t *p = (const uint8_t *)sb.data;
    uint8_t tag;
    if (rc == 0) {
        rc = push_value(&c, &p, p + sb.size, 0, &tag);
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        return duk_error(ctx, DUK_ERR_TYPE_ERROR, "copy: %s", c.why);
    }
    return 1;
}

/* Throws new Error(msg) built by the script's own Error constructor, so that the error's
 * lineNumber is the script line that called the native function (duk_error would record the
 * C file and line). */
static duk_ret_t throw_at_caller(duk_context *ctx, const char *msg) {
    push_stash(ctx, "Error"); /* the original: a script may replace the global */
    duk_push_string(ctx, msg);
    duk_new(ctx, 1);
    return duk_throw(ctx);
}

/* The one trampoline of every UDF (magic: its index in the registry; the heap's udata is
 * the VM): the arguments become a msgpack array, rc_udf_call runs the C function, its msgpack
 * result becomes the return value. Errors are thrown as Error("NAME: what went wrong"). */
static duk_ret_t js_udf(duk_context *ctx) {
    duk_memory_functions mf;
    duk_get_memory_functions(ctx, &mf);
    jvm_t *vm = mf.udata;
    const rc_udf_t *u = rc_udf_at((size_t)duk_get_current_magic(ctx));
    duk_idx_t argc = duk_get_top(ctx);
    char why[700];
    if (vm->in_udf) {
        snprintf(why, sizeof(why),
                 "%s: UDFs cannot be called while the arguments of another are converted", u->name);
        return throw_at_caller(ctx, why);
    }
    if (argc > 255) {
        snprintf(why, sizeof(why), "%s: too many arguments (%d)", u->name, (int)argc);
        return throw_at_caller(ctx, why);
    }
    push_stash(ctx, "cont");
    push_stash(ctx, "drop");
    cx_t c = {.ctx = ctx, .vm = vm, .cont = argc, .drop = argc + 1};
    vm->udf_args.size = 0;
    vm->udf_res.size = 0;
    msgpack_packer_init(&c.pk, &vm->udf_args, msgpack_sbuffer_write);
    msgpack_pack_array(&c.pk, (size_t)argc);
    vm->in_udf = true;
    for (duk_idx_t i = 0; i < argc; i++) {
        if (pack_value(&c, i, TAG_NONE, 0, NULL) != 0) {
            vm->in_udf = false;
            snprintf(why, sizeof(why), "%s: argument %d: %s", u->name, (int)i + 1, c.why);
            return throw_at_caller(ctx, why);
        }
    }
    vm->in_udf = false;
    if (rc_udf_call(u, (const uint8_t *)vm->udf_args.data, vm->udf_args.size, (uint32_t)argc,
                    &vm->udf_res, why, sizeof(why)) != RC_OK) {
        return throw_at_caller(ctx, why);
    }
    const uint8_t *p = (const uint8_t *)vm->udf_res.data;
    uint8_t tag;
    if (push_value(&c, &p, p + vm->udf_res.size, 0, &tag) != 0) {
        snprintf(why, sizeof(why), "%s: its result: %s", u->name, c.why);
        return throw_at_caller(ctx, why);
    }
    return 1;
}

static jvm_t *vm_of(duk_context *ctx) {
    duk_memory_functions mf;
    duk_get_memory_functions(ctx, &mf);
    return mf.udata;
}

/* Sets budget[0] (stash "budget"), which the driver reads before each event. */
static void set_expired_flag(duk_context *ctx, bool on) {
    push_stash(ctx, "budget");
    duk_push_boolean(ctx, on);
    duk_put_prop_index(ctx, -2, 0);
    duk_pop(ctx);
}

/* __rowcast_tick(): called by the rewritten script in every loop and function. */
static duk_ret_t js_tick(duk_context *ctx) {
    jvm_t *vm = vm_of(ctx);
    if (vm->deadline_ns != 0 &&
        (vm->expired || ((++vm->ticks & 1023) == 0 && mono_ns() >= vm->deadline_ns))) {
        if (!vm->expired) {
            vm->expired = true;
            set_expired_flag(ctx, true);
        }
        char msg[96];
        snprintf(msg, sizeof(msg), "the time budget of %u ms per batch ran out", vm->budget_ms);
        return throw_at_caller(ctx, msg);
    }
    duk_push_true(ctx);
    return 1;
}

/* The driver calls this before an event when the one before ran out of time (budget[0]:
 * a property read instead of a native call per event): that event gets a fresh round of
 * checks before the clock is read again. */
static duk_ret_t js_event_start(duk_context *ctx) {
    jvm_t *vm = vm_of(ctx);
    vm->expired = false;
    vm->ticks = 0;
    set_expired_flag(ctx, false);
    return 0;
}

static duk_ret_t js_no_function_constructor(duk_context *ctx) {
    return throw_at_caller(ctx, "the Function constructor is not available in rowcast scripts");
}

static void js_vm_set_budget(void *opaque, unsigned ms) {
    jvm_t *vm = opaque;
    vm->budget_ms = ms;
}

/* The heap's allocator: each block carries its size in a header (duktape's free and realloc
 * do not say it), so the heap can be counted and capped. Past the cap an allocation fails;
 * duktape then collects garbage, retries, and throws an Error in the script. Small blocks
 * come from the VM's pool (rc_script_pool_t), told their size by the header. */
typedef union mem_hdr {
    size_t size;
    max_align_t align;
} mem_hdr_t;

static void *js_alloc(void *udata, duk_size_t size) {
    jvm_t *vm = udata;
    size_t total = sizeof(mem_hdr_t) + size;
    if (vm->mem_capped && vm->mem_used + total > vm->mem_limit) {
        return NULL;
    }
    mem_hdr_t *h = rc_script_pool_alloc(&vm->pool, total);
    if (!h) {
        return NULL;
    }
    h->size = size;
    vm->mem_used += total;
    return h + 1;
}

static void js_free(void *udata, void *ptr) {
    jvm_t *vm = udata;
    if (ptr) {
        mem_hdr_t *h = (mem_hdr_t *)ptr - 1;
        vm->mem_used -= sizeof(mem_hdr_t) + h->size;
        rc_script_pool_free(&vm->pool, h, sizeof(mem_hdr_t) + h->size);
    }
}

static void *js_realloc(void *udata, void *ptr, duk_size_t size) {
    jvm_t *vm = udata;
    if (!ptr) {
        return js_alloc(udata, size);
    }
    if (size == 0) {
        js_free(udata, ptr);
        return NULL;
    }
    mem_hdr_t *h = (mem_hdr_t *)ptr - 1;
    size_t old = h->size;
    if (vm->mem_capped && size > old && vm->mem_used - old + size > vm->mem_limit) {
        return NULL;
    }
    mem_hdr_t *n =
        rc_script_pool_realloc(&vm->pool, h, sizeof(mem_hdr_t) + old, sizeof(mem_hdr_t) + size);
    if (!n) {
        return NULL;
    }
    n->size = size;
    vm->mem_used = vm->mem_used - old + size;
    return n + 1;
}

static void js_vm_set_memory_limit(void *opaque, size_t bytes) {
    jvm_t *vm = opaque;
    vm->mem_limit = bytes;
}

static size_t js_vm_memory_used(void *opaque) {
    return ((jvm_t *)opaque)->mem_used;
}

static void fatal(void *udata, const char *msg) {
    jvm_t *vm = udata;
    rc_error("transform", "%s: duktape fatal error: %s", vm ? vm->file : "?", msg ? msg : "");
    abort();
}

/* Finds where an object's header keeps its prototype (on_proto) and its count of used entries
 * and the size of its array part (own_entries): duktape has no call that counts an object's
 * own properties, and listing them costs about 3 000 instructions (two duk_get_prototype
 * calls cost 250). The header is duktape 2.7's as Debian builds
 * it (duk_config.h: a doubly linked heap, 32-bit refcounts, full pointers and sizes): the heap
 * header (flags, refcount, next, prev), the property table, the prototype, then the entry
 * part's size and count, the array part's size, the hash part's size. The place is checked
 * on a test object (its prototype where it should be, the count following the properties
 * added); when it does not match, vm->enext_at stays 0 and the keys are listed. */
static void find_object_counts(duk_context *ctx, jvm_t *vm) {
#if defined(DUK_USE_DOUBLE_LINKED_HEAP) && defined(DUK_USE_REFCOUNT32) &&                          \
    !defined(DUK_USE_HEAPPTR16) && !defined(DUK_USE_OBJSIZES16)
    size_t proto_at = 2 * sizeof(uint32_t) + 3 * sizeof(void *);
    void *proto;
    duk_push_bare_object(ctx);
    memcpy(&proto, (const char *)duk_get_heapptr(ctx, -1) + proto_at, sizeof(proto));
    bool ok = proto == NULL;
    duk_pop(ctx);
    duk_push_object(ctx);
    memcpy(&proto, (const char *)duk_get_heapptr(ctx, -1) + proto_at, sizeof(proto));
    ok = ok && proto == vm->objproto;
    vm->enext_at = proto_at + sizeof(void *) + sizeof(uint32_t);
    vm->asize_at = vm->enext_at + sizeof(uint32_t);
    for (int i = 0; i < 20 && ok; i++) {
        ok = own_entries(vm, duk_get_heapptr(ctx, -1)) == (uint32_t)i;
        duk_push_sprintf(ctx, "k%d", i);
        duk_push_int(ctx, i);
        duk_put_prop(ctx, -3);
    }
    duk_push_int(ctx, 1); /* assigned again: no new entry */
    duk_put_prop_string(ctx, -2, "k0");
    duk_push_int(ctx, 1); /* a hidden symbol (an event's index) takes one */
    duk_put_prop_string(ctx, -2, EV_KEY);
    ok = ok && own_entries(vm, duk_get_heapptr(ctx, -1)) == 21;
    duk_push_heapptr(ctx, vm->base); /* a prototype set is where it should be */
    duk_set_prototype(ctx, -2);
    memcpy(&proto, (const char *)duk_get_heapptr(ctx, -1) + proto_at, sizeof(proto));
    ok = ok && proto == vm->base;
    duk_pop(ctx);
    duk_push_array(ctx); /* an array's elements (and length) take no entry */
    for (int i = 0; i < 3; i++) {
        duk_push_int(ctx, i);
        duk_put_prop_index(ctx, -2, (duk_uarridx_t)i);
    }
    ok = ok && entries_used(vm, duk_get_heapptr(ctx, -1)) == 0;
    duk_push_int(ctx, 1);
    duk_put_prop_string(ctx, -2, SHAPE_KEY);
    ok = ok && entries_used(vm, duk_get_heapptr(ctx, -1)) == 1;
    duk_pop(ctx);
    vm->proto_at = ok ? proto_at : 0;
    if (!ok) {
        vm->enext_at = vm->asize_at = 0;
    }
    /* the refcount follows the flags: one for the value stack, one more per reference */
    vm->refs_at = 0;
#if defined(DUK_USE_REFERENCE_COUNTING)
    size_t refs_at = sizeof(uint32_t);
    uint32_t refs[4];
    duk_idx_t o = duk_push_object(ctx);
    void *h = duk_get_heapptr(ctx, o);
    memcpy(&refs[0], (const char *)h + refs_at, sizeof(uint32_t));
    duk_dup(ctx, o);
    memcpy(&refs[1], (const char *)h + refs_at, sizeof(uint32_t));
    duk_push_array(ctx);
    duk_dup(ctx, o);
    duk_put_prop_index(ctx, -2, 0);
    memcpy(&refs[2], (const char *)h + refs_at, sizeof(uint32_t));
    duk_set_top(ctx, o + 1);
    memcpy(&refs[3], (const char *)h + refs_at, sizeof(uint32_t));
    duk_pop(ctx);
    if (ok && refs[0] == 1 && refs[1] == 2 && refs[2] == 3 && refs[3] == 1) {
        vm->refs_at = refs_at;
    }
#endif
#else
    (void)ctx;
    vm->enext_at = vm->asize_at = vm->proto_at = vm->refs_at = 0;
#endif
}

/* Finds what list_reusable reads in an array's header (duktape 2.7's harray as Debian builds
 * it: the object's header, then the length and length_nonwritable): the flags of a new array,
 * checked to be those of another new one and to change when it is sealed, and the flag of a
 * length made read-only. When anything does not match, vm->arrh stays NULL: no list is kept. */
static void find_list_header(duk_context *ctx, jvm_t *vm) {
    vm->arrlen_at = 0;
    if (!vm->proto_at || !vm->refs_at) {
        return;
    }
    size_t len_at = vm->asize_at + 2 * sizeof(uint32_t); /* after the hash part's size */
    uint32_t flags[3], len[3], nonwritable[3];
    void *proto = NULL;
    duk_idx_t a = duk_get_top(ctx);
    for (int i = 0; i < 3; i++) {
        duk_push_array(ctx);
        for (int j = 0; j <= i; j++) {
            duk_push_int(ctx, j);
            duk_put_prop_index(ctx, a + i, (duk_uarridx_t)j);
        }
    }
    duk_push_string(ctx, "length");
    duk_def_prop(ctx, a + 1, DUK_DEFPROP_CLEAR_WRITABLE);
    duk_seal(ctx, a + 2);
    for (int i = 0; i < 3; i++) {
        const char *h = duk_get_heapptr(ctx, a + i);
        memcpy(&flags[i], h, sizeof(uint32_t));
        memcpy(&len[i], h + len_at, sizeof(uint32_t));
        memcpy(&nonwritable[i], h + len_at + sizeof(uint32_t), sizeof(uint32_t));
    }
    memcpy(&proto, (const char *)duk_get_heapptr(ctx, a) + vm->proto_at, sizeof(proto));
    duk_get_global_string(ctx, "Array");
    duk_get_prop_string(ctx, -1, "prototype");
    bool ok = proto && proto == duk_get_heapptr(ctx, -1) && len[0] == 1 && len[1] == 2 &&
              nonwritable[0] == 0 && nonwritable[1] != 0 && flags[0] == flags[1] &&
              flags[2] != flags[0] && entries_used(vm, duk_get_heapptr(ctx, a)) == 0;
    duk_set_top(ctx, a);
    if (ok) {
        vm->arrh = calloc(RC_LIST_KEEP, sizeof(*vm->arrh));
    }
    if (vm->arrh) {
        vm->arrlen_at = len_at + sizeof(uint32_t);
        vm->arr_flags = flags[0];
        vm->arrproto = proto; /* (a built-in: alive for the heap's life) */
    }
}

/* Finds what push_own_entry reads in a map's header: its second entry's value (a tag of 32
 * bits, the pointer 8 bytes on), key and flags (after the entry part's keys, duktape 2.7's
 * layout as Debian builds it), checked on test maps with a string, an object and an accessor
 * there. When anything does not match, vm->tag_str stays 0 and the value is looked up. */
static void find_entry_values(duk_context *ctx, jvm_t *vm) {
    vm->tag_str = vm->tag_obj = 0;
    if (!vm->evdata_at) {
        return;
    }
    uint32_t tags[3];
    void *vals[3], *keys[3], *want[3];
    uint8_t flags[3];
    duk_idx_t base = duk_get_top(ctx);
    duk_push_string(ctx, "k"); /* base */
    duk_push_string(ctx, "v"); /* base + 1 */
    duk_push_bare_object(ctx); /* base + 2 */
    for (int i = 0; i < 3; i++) {
        duk_idx_t o = duk_push_bare_object(ctx);
        duk_push_fixed_buffer(ctx, 8);
        duk_put_prop_heapptr(ctx, o, vm->evkey);
        duk_dup(ctx, base);
        if (i < 2) {
            duk_dup(ctx, base + 1 + i);
            put_plain(ctx, o);
        } else {
            duk_push_heapptr(ctx, vm->evget);
            duk_push_heapptr(ctx, vm->evset);
            duk_def_prop(ctx, o,
                         DUK_DEFPROP_HAVE_GETTER | DUK_DEFPROP_HAVE_SETTER |
                             DUK_DEFPROP_SET_ENUMERABLE | DUK_DEFPROP_SET_CONFIGURABLE);
        }
        want[i] = i < 2 ? duk_get_heapptr(ctx, base + 1 + i) : NULL;
        const char *h = duk_get_heapptr(ctx, o), *props;
        uint32_t esize;
        memcpy(&props, h + vm->proto_at - sizeof(void *), sizeof(props));
        memcpy(&esize, h + vm->proto_at + sizeof(void *), sizeof(esize));
        memcpy(&tags[i], props + 16, sizeof(tags[i]));
        memcpy(&vals[i], props + 16 + 8, sizeof(vals[i]));
        memcpy(&keys[i], props + (size_t)esize * 16 + sizeof(void *), sizeof(keys[i]));
        flags[i] = (uint8_t)props[(size_t)esize * (16 + sizeof(void *)) + 1];
        if (own_entries(vm, (void *)h) != 2) {
            keys[i] = NULL;
        }
    }
    void *k = duk_get_heapptr(ctx, base);
    bool ok = keys[0] == k && keys[1] == k && keys[2] == k && vals[0] == want[0] &&
              vals[1] == want[1] && tags[0] != tags[1] && tags[0] != 0 && tags[1] != 0 &&
              flags[0] == flags[1] && flags[2] != flags[0];
    duk_set_top(ctx, base);
    if (ok) {
        vm->tag_str = tags[0];
        vm->tag_obj = tags[1];
        vm->plain_flags = flags[0];
    }
}

/* Finds how ev_of reads a lazy map's index in the headers, without a property lookup (about
 * 550 instructions): the entry part of an object's properties (duktape 2.7 as Debian builds it:
 * its values of 16 bytes first, then its keys), the first entry's value (a tagged pointer) and
 * a fixed buffer's data after its header. Checked on test objects with the index and more
 * properties, and a buffer of another size; when anything does not match, ev_of asks. */
static void find_event_index(duk_context *ctx, jvm_t *vm) {
    vm->evdata_at = 0;
    if (!vm->proto_at) {
        return;
    }
    size_t data_at = 0;
    bool ok = true;
    for (int round = 0; round < 3 && ok; round++) {
        duk_idx_t o = duk_push_bare_object(ctx);
        const char *data = duk_push_fixed_buffer(ctx, round ? 300 : 40);
        const char *hb = duk_get_heapptr(ctx, -1);
        if (round < 2) {
            duk_put_prop_heapptr(ctx, o, vm->evkey);
        } else { /* another first key */
            duk_put_prop_string(ctx, o, "x");
        }
        for (int i = 0; i < round * 9; i++) {
            duk_push_sprintf(ctx, "k%d", i);
            duk_push_int(ctx, i);
            duk_put_prop(ctx, o);
        }
        if (round == 0) {
            data_at = (size_t)(data - hb);
            ok = data > hb && data_at < 256;
            vm->evdata_at = data_at;
        }
        rc_script_ev_t *e = ok ? ev_in_header(vm, duk_get_heapptr(ctx, o)) : NULL;
        ok = ok && (round < 2 ? e == (const void *)data : e == NULL);
        duk_pop(ctx);
    }
    duk_push_bare_object(ctx); /* no property: no entry to read */
    ok = ok && ev_in_header(vm, duk_get_heapptr(ctx, -1)) == NULL;
    duk_pop(ctx);
    vm->evdata_at = ok ? data_at : 0;
}

typedef struct setup {
    jvm_t *vm;
    const char *src;
    size_t len;
    char err[1200];
} setup_t;

static bool es2015_hint(const char *src, size_t len) {
    static const char *const marks[] = {"=>", "let ", "const ", "`", NULL};
    for (int i = 0; marks[i]; i++) {
        if (memmem(src, len, marks[i], strlen(marks[i]))) {
            return true;
        }
    }
    return false;
}

/* Defines the value on top of the stack (left there) as a global the script cannot change:
 * assigning it does nothing (a TypeError in strict code), defining it again throws. What a
 * transform returns is then told by identity, and `return ACTION_CONT;` may skip the lookup
 * (rc_script_js_tick.c). */
static void put_constant(duk_context *ctx, const char *name) {
    duk_push_global_object(ctx);
    duk_push_string(ctx, name);
    duk_dup(ctx, -3);
    duk_def_prop(ctx, -3,
                 DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_CLEAR_WRITABLE | DUK_DEFPROP_SET_ENUMERABLE |
                     DUK_DEFPROP_CLEAR_CONFIGURABLE);
    duk_pop(ctx);
}

static duk_ret_t setup_main(duk_context *ctx, void *udata) {
    setup_t *s = udata;
    jvm_t *vm = s->vm;
    duk_push_global_object(ctx);
    duk_del_prop_string(ctx, -1, "Duktape");
    duk_del_prop_string(ctx, -1, "require");
    duk_pop(ctx);

    duk_push_global_stash(ctx);           /* 0 */
    duk_get_global_string(ctx, "Object"); /* the originals, before the wrappers below */
    duk_get_prop_string(ctx, -1, "keys");
    vm->keys = duk_get_heapptr(ctx, -1); /* reachable from the stash for the heap's life */
    duk_put_prop_string(ctx, 0, "keys");
    duk_get_prop_string(ctx, -1, "prototype");
    vm->objproto = duk_get_heapptr(ctx, -1);
    duk_put_prop_string(ctx, 0, "objproto");
    duk_pop(ctx);
    /* the prototype of shape protos (see "maps with their fields on a prototype") */
    duk_push_object(ctx);
    duk_freeze(ctx, -1);
    vm->base = duk_get_heapptr(ctx, -1);
    duk_put_prop_string(ctx, 0, "protobase");
    find_object_counts(ctx, vm);
    duk_push_c_function(ctx, js_proto_get, 1); /* the key (duktape's extra argument) */
    vm->pget = duk_get_heapptr(ctx, -1);
    duk_put_prop_string(ctx, 0, "pget");
    duk_push_c_function(ctx, js_proto_set, 2); /* the value, the key */
    vm->pset = duk_get_heapptr(ctx, -1);
    duk_put_prop_string(ctx, 0, "pset");
    duk_push_object(ctx);
    duk_put_prop_string(ctx, 0, "protos");

    duk_eval_string(ctx, ev_wrappers);
    duk_push_c_function(ctx, js_ev_load, 1);
    duk_push_c_function(ctx, js_own, 1);
    duk_push_c_function(ctx, js_json_own, 2);
    duk_call(ctx, 3);
    duk_pop(ctx);

    duk_eval_string(ctx, prelude);
    duk_get_prop_index(ctx, -1, 0);
    put_constant(ctx, "ACTION_CONT");
    duk_put_prop_string(ctx, 0, "cont");
    duk_get_prop_index(ctx, -1, 1);
    put_constant(ctx, "ACTION_DROP");
    duk_get_global_string(ctx, "Number"); /* (0).__rowcast_drop (rc_script_js_tick.c) */
    duk_get_prop_string(ctx, -1, "prototype");
    duk_push_string(ctx, RC_SCRIPT_JS_DROP);
    duk_dup(ctx, -4);
    duk_def_prop(ctx, -3,
                 DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_CLEAR_WRITABLE |
                     DUK_DEFPROP_CLEAR_ENUMERABLE | DUK_DEFPROP_CLEAR_CONFIGURABLE);
    duk_pop_2(ctx);
    duk_put_prop_string(ctx, 0, "drop");
    duk_get_prop_index(ctx, -1, 2);
    duk_put_prop_string(ctx, 0, "driver");
    duk_pop(ctx);
    duk_get_global_string(ctx, "Error");
    duk_put_prop_string(ctx, 0, "Error");
    duk_push_c_function(ctx, js_event_start, 0);
    duk_put_prop_string(ctx, 0, "start");
    duk_push_array(ctx);
    duk_push_false(ctx);
    duk_put_prop_index(ctx, -2, 0);
    duk_put_prop_string(ctx, 0, "budget");
    /* the tick cannot be replaced; eval and new Function would compile unchecked code */
    duk_push_global_object(ctx);
    duk_push_string(ctx, RC_SCRIPT_JS_TICK);
    duk_push_c_function(ctx, js_tick, 0);
    duk_def_prop(ctx, -3,
                 DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_CLEAR_WRITABLE |
                     DUK_DEFPROP_CLEAR_ENUMERABLE | DUK_DEFPROP_CLEAR_CONFIGURABLE);
    duk_get_prop_string(ctx, -1, "Number"); /* (0).__rowcast_tick(): what scripts call */
    duk_get_prop_string(ctx, -1, "prototype");
    duk_push_string(ctx, RC_SCRIPT_JS_TICK);
    duk_push_c_function(ctx, js_tick, 0);
    duk_def_prop(ctx, -3,
                 DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_CLEAR_WRITABLE |
                     DUK_DEFPROP_CLEAR_ENUMERABLE | DUK_DEFPROP_CLEAR_CONFIGURABLE);
    duk_pop_2(ctx);
    duk_push_string(ctx, RC_SCRIPT_JS_OWN);
    duk_push_c_function(ctx, js_own, 1);
    duk_def_prop(ctx, -3,
                 DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_CLEAR_WRITABLE |
                     DUK_DEFPROP_CLEAR_ENUMERABLE | DUK_DEFPROP_CLEAR_CONFIGURABLE);
    duk_get_prop_string(ctx, -1, "Function");
    duk_get_prop_string(ctx, -1, "prototype");
    duk_push_c_function(ctx, js_no_function_constructor, DUK_VARARGS);
    duk_put_prop_string(ctx, -2, "constructor");
    duk_pop_2(ctx);
    duk_del_prop_string(ctx, -1, "Function");
    duk_del_prop_string(ctx, -1, "eval");
    duk_pop(ctx);
    duk_push_c_function(ctx, js_copy, 1);
    duk_put_global_string(ctx, "copy");
    duk_push_array(ctx); /* the events of a batch (batch_main) */
    duk_put_prop_string(ctx, 0, "evs");
    duk_push_object(ctx); /* the shape cache: signature -> shape */
    duk_put_prop_string(ctx, 0, "shapes");
    duk_push_c_function(ctx, js_ev_get, 1); /* the key (duktape's extra argument) */
    vm->evget = duk_get_heapptr(ctx, -1);   /* reachable from the stash for the heap's life */
    duk_put_prop_string(ctx, 0, "evget");
    duk_push_c_function(ctx, js_ev_set, 2); /* the value, the key */
    vm->evset = duk_get_heapptr(ctx, -1);
    duk_put_prop_string(ctx, 0, "evset");
    duk_push_string(ctx, EV_KEY);
    vm->evkey = duk_get_heapptr(ctx, -1); /* reachable from the stash for the heap's life */
    duk_put_prop_string(ctx, 0, "evkey");
    find_event_index(ctx, vm);
    duk_push_array(ctx); /* the lists converted (see "lists used again") */
    vm->arrs = duk_get_heapptr(ctx, -1);
    duk_put_prop_string(ctx, 0, "arrs");
    find_list_header(ctx, vm);
    find_entry_values(ctx, vm);
    duk_push_string(ctx, SHAPE_KEY);
    vm->shapekey = duk_get_heapptr(ctx, -1);
    duk_put_prop_string(ctx, 0, "shapekey");
    duk_push_bare_object(ctx); /* never given to a script */
    vm->probe = duk_get_heapptr(ctx, -1);
    duk_put_prop_string(ctx, 0, "probe");
    rc_udf_init();
    for (size_t i = 0, n = rc_udf_count(); i < n; i++) {
        duk_push_c_function(ctx, js_udf, DUK_VARARGS);
        duk_set_magic(ctx, -1, (duk_int_t)i);
        duk_put_global_string(ctx, rc_udf_at(i)->name);
    }

    /* the user's text first, so that syntax errors are reported as written */
    duk_push_string(ctx, vm->file);
    int bad = duk_pcompile_lstring_filename(ctx, 0, s->src, s->len);
    if (!bad) {
        duk_pop(ctx);
        char why[256];
        rc_buf_t checked = RC_BUF_INIT;
        rc_err_t err = rc_script_js_instrument(s->src, s->len, &checked, why, sizeof(why));
        if (err != RC_OK) {
            rc_buf_free(&checked);
            snprintf(s->err, sizeof(s->err), "%s:%s", vm->file, why);
            return 0;
        }
        /* copied onto the duktape heap, so that an error below cannot leak it */
        duk_push_lstring(ctx, checked.data ? checked.data : "", checked.len);
        rc_buf_free(&checked);
        duk_size_t n;
        const char *text = duk_get_lstring(ctx, -1, &n);
        duk_push_string(ctx, vm->file);
        bad = duk_pcompile_lstring_filename(ctx, 0, text, n);
        duk_remove(ctx, -2);
    }
    if (!bad) {
        vm->mem_capped = vm->mem_limit > 0; /* the top level is the user's code: capped */
        bad = duk_pcall(ctx, 0) != 0;
        vm->mem_capped = false;
        if (bad && vm->mem_limit) {
            format_error(ctx, -1, vm->file, s->err, sizeof(s->err));
            if (is_out_of_memory(s->err)) {
                size_t used = strlen(s->err);
                snprintf(s->err + used, sizeof(s->err) - used,
                         " (while the top level of the script ran: the script's memory limit "
                         "is %zu MiB)",
                         vm->mem_limit >> 20);
                return 0;
            }
        }
    }
    if (bad) {
        format_error(ctx, -1, vm->file, s->err, sizeof(s->err));
        if (duk_is_error(ctx, -1) && duk_get_error_code(ctx, -1) == DUK_ERR_SYNTAX_ERROR &&
            es2015_hint(s->src, s->len)) {
            size_t used = strlen(s->err);
            snprintf(s->err + used, sizeof(s->err) - used,
                     " (duktape runs ES5.1: use function(e){} instead of arrow functions, var "
                     "instead of let/const, and no template strings)");
        }
        return 0;
    }
    duk_pop(ctx);
    duk_get_global_string(ctx, "transform");
    if (!duk_is_function(ctx, -1)) {
        snprintf(s->err, sizeof(s->err),
                 "%s: the script must define a function transform(cdc_event)", vm->file);
        return 0;
    }
    duk_put_prop_string(ctx, 0, "transform");
    return 0;
}

static void js_vm_destroy(void *opaque) {
    jvm_t *vm = opaque;
    if (!vm) {
        return;
    }
    if (vm->ctx) {
        duk_destroy_heap(vm->ctx);
    }
    rc_script_pool_destroy(&vm->pool); /* after the heap: its blocks live in the slabs */
    msgpack_sbuffer_destroy(&vm->udf_args);
    msgpack_sbuffer_destroy(&vm->udf_res);
    rc_buf_free(&vm->sig);
    rc_buf_free(&vm->last_sig[0]);
    rc_buf_free(&vm->last_sig[1]);
    free(vm->evh);
    free(vm->evp);
    free(vm->evsz);
    free(vm->evtab);
    free(vm->arrh);
    free(vm->file);
    free(vm);
}

static void *js_vm_create(const char *file, const char *src, size_t len, unsigned budget_ms,
                          size_t memory_bytes, char *errstr, size_t errstr_size) {
    jvm_t *vm = calloc(1, sizeof(*vm));
    if (vm) {
        msgpack_sbuffer_init(&vm->udf_args);
        msgpack_sbuffer_init(&vm->udf_res);
    }
    if (!vm || !(vm->file = strdup(file)) ||
        !(vm->ctx = duk_create_heap(js_alloc, js_realloc, js_free, vm, fatal))) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "%s: cannot create a JS heap", file);
        goto fail;
    }
    setup_t s = {.vm = vm, .src = src, .len = len};
    vm->mem_limit = memory_bytes; /* the top level runs under the cap (setup_main) */
    /* the top level runs under the budget as a batch does */
    vm->budget_ms = budget_ms;
    vm->deadline_ns = budget_ms ? mono_ns() + (int64_t)budget_ms * 1000000LL : 0;
    int crc = duk_safe_call(vm->ctx, setup_main, &s, 0, 1);
    vm->deadline_ns = 0;
    vm->expired = false;
    vm->ticks = 0;
    if (crc != DUK_EXEC_SUCCESS) {
        char msg[1024];
        format_error(vm->ctx, -1, file, msg, sizeof(msg));
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "cannot set up the JS heap: %s", msg);
        goto fail;
    }
    duk_set_top(vm->ctx, 0);
    if (s.err[0]) {
        rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "%s", s.err);
        goto fail;
    }
    return vm;
fail:
    js_vm_destroy(vm);
    return NULL;
}

const rc_script_engine_t rc_script_js = {
    .name = "js",
    .create = js_vm_create,
    .transform_batch = js_transform_batch,
    .destroy = js_vm_destroy,
    .set_budget = js_vm_set_budget,
    .set_memory_limit = js_vm_set_memory_limit,
    .memory_used = js_vm_memory_used,
};
