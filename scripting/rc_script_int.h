/* rc_script_int.h: what the two engines share (private to scripting/).
 *
 * A msgpack value reader and the "type tags" that make an identity transform byte-exact:
 * when an engine turns a map or an array into a script value it also remembers, per entry,
 * the msgpack type the value came with (one byte each). On the way back a value of the
 * script's natural type is written with that remembered type when it still fits (a number
 * that was float32 is written as float32, a string that was bin or ext stays bin or ext), and
 * new values get their natural type. */
#ifndef RC_SCRIPT_INT_H
#define RC_SCRIPT_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rc_buf.h"
#include "rc_err.h"

enum {
    TAG_NONE = 0, /* a value the script added */
    TAG_NIL = 'n',
    TAG_BOOL = 'b',
    TAG_INT = 'i',     /* an integer within +-2^53, seen as a number */
    TAG_BIGINT = 'I',  /* a negative integer below -2^53, seen as a decimal string */
    TAG_BIGUINT = 'U', /* an unsigned integer above 2^53, seen as a decimal string */
    TAG_F32 = 'f',
    TAG_F64 = 'd',
    TAG_STR = 's',
    TAG_BIN = 'B', /* seen as a string of bytes */
    TAG_MAP = 'm',
    TAG_ARRAY = 'a',
    TAG_EXT = 0x80, /* | ext type (0..127): seen as the ext payload string */
};

#define RC_SCRIPT_MAX_DEPTH 64
#define RC_SCRIPT_EXACT     9007199254740992.0 /* 2^53 */

typedef enum mpv_kind {
    MPV_NIL,
    MPV_BOOL,
    MPV_UINT,
    MPV_INT,
    MPV_F32,
    MPV_F64,
    MPV_STR,
    MPV_BIN,
    MPV_EXT,
    MPV_ARRAY,
    MPV_MAP,
} mpv_kind_t;

typedef struct mpv {
    mpv_kind_t kind;
    bool b;
    uint64_t u;    /* MPV_UINT */
    int64_t i;     /* MPV_INT (always negative: msgpack writers use uint for >= 0) */
    double d;      /* MPV_F32, MPV_F64 */
    const char *s; /* STR, BIN, EXT payload */
    uint32_t n;    /* STR/BIN/EXT length, ARRAY/MAP entries */
    int8_t ext;
} mpv_t;

/* Reads one value header (a whole scalar, or the header of an array/map) and advances *p. */
rc_err_t rc_script_mp_next(const uint8_t **p, const uint8_t *end, mpv_t *v);

/* The tag of a scalar value. */
static inline uint8_t rc_script_tag_of(const mpv_t *v) {
    switch (v->kind) {
    case MPV_NIL:
        return TAG_NIL;
    case MPV_BOOL:
        return TAG_BOOL;
    case MPV_UINT:
        return v->u <= (uint64_t)RC_SCRIPT_EXACT ? TAG_INT : TAG_BIGUINT;
    case MPV_INT:
        return v->i >= -(int64_t)RC_SCRIPT_EXACT ? TAG_INT : TAG_BIGINT;
    case MPV_F32:
        return TAG_F32;
    case MPV_F64:
        return TAG_F64;
    case MPV_STR:
        return TAG_STR;
    case MPV_BIN:
        return TAG_BIN;
    case MPV_EXT:
        return (uint8_t)(TAG_EXT | (uint8_t)v->ext);
    case MPV_ARRAY:
        return TAG_ARRAY;
    case MPV_MAP:
        return TAG_MAP;
    }
    return TAG_NONE;
}

/* Writes a script number: with its remembered type when it still fits, else an integer when
 * it is integral and in range, else float64. */
void rc_script_pack_number(msgpack_packer *pk, double v, uint8_t tag);

/* Writes a script string: bin, ext or a 64-bit integer when the remembered type says so and
 * the value still fits, else str. */
void rc_script_pack_string(msgpack_packer *pk, const char *s, size_t len, uint8_t tag);

/* Formats a big integer value (TAG_BIGINT/TAG_BIGUINT) as decimal; returns its length. */
int rc_script_format_int(const mpv_t *v, char *buf, size_t size);

/* ---- lazy events (both engines) ----
 *
 * An event enters a script with its top-level fields indexed: a field is converted when the
 * script first reads it, and on the way out a field the script did not load (or that still
 * holds the value it came with) is written as its input bytes. rc_script_ev_t is that index
 * followed by a copy of the event's bytes, kept by the engine in one block of its heap. */
#define RC_SCRIPT_EV_MAX_FIELDS 64

typedef struct rc_script_evfield {
    uint32_t k, kn; /* the key's string bytes */
    uint32_t kv;    /* where the entry (key and value) starts */
    uint32_t v;     /* where the value starts */
    uint32_t end;   /* where the entry ends */
} rc_script_evfield_t;

typedef struct rc_script_ev {
    uint64_t loaded; /* bit j: field j was loaded or assigned: the engine's value is the truth */
    bool extra;      /* (Lua) a key that is not a field was assigned */
    uint8_t depth;   /* (Lua) how deep the map sits in its event (0: the event itself) */
    uint32_t nf, len;
    uint32_t hdr; /* bytes of the map's header */
    rc_script_evfield_t f[];
    /* then the event's len bytes */
} rc_script_ev_t;

static inline const uint8_t *rc_script_ev_bytes(const rc_script_ev_t *e) {
    return (const uint8_t *)&e->f[e->nf];
}

static inline size_t rc_script_ev_size(uint32_t nf, size_t len) {
    return sizeof(rc_script_ev_t) + nf * sizeof(rc_script_evfield_t) + len;
}

/* Indexes the event ev[0..len) into f (RC_SCRIPT_EV_MAX_FIELDS entries), *nf and *hdr. It
 * checks only that the fields are valid msgpack: what a script reads is checked by the
 * conversion that reads it (ext types >= 0, nesting, map keys), which fails that event with
 * the field's name; a field the script does not read goes out as the bytes it came with, as
 * an event no script runs on does. Returns 1, 0 when the event does not fit an index (too
 * many fields, a key that is not a string: convert it whole), -1 when it is bad (a phrase in
 * why). */
int rc_script_ev_index(const uint8_t *ev, size_t len, rc_script_evfield_t *f, uint32_t *nf,
                       uint32_t *hdr, char *why, size_t why_size);

/* Fills e (rc_script_ev_size(nf, len) bytes) from an index and the event's bytes. */
void rc_script_ev_init(rc_script_ev_t *e, const rc_script_evfield_t *f, uint32_t nf, uint32_t hdr,
                       const uint8_t *ev, size_t len);

/* rc_script_check_event on the event as it came, through the index (no walk of the event). */
bool rc_script_ev_check(const rc_script_ev_t *e, char *why, size_t why_size);

/* The bytes of a kafka value [m, end) that an engine remembers of the last one found valid, to
 * pass the next untouched event of the same topic with one compare: its map head, the key
 * "topic" and the topic, when the value is a fixmap whose first key is topic and the topic a
 * fixstr or str 8 (7 + the string's bytes); 0 for any other value. */
static inline size_t rc_script_topic_head_len(const uint8_t *m, const uint8_t *end) {
    if (end - m < 9 || (m[0] & 0xf0) != 0x80 || memcmp(m + 1, "\xa5topic", 6) != 0) {
        return 0;
    }
    size_t n = (m[7] & 0xe0) == 0xa0 ? 1u + (m[7] & 0x1f) : m[7] == 0xd9 ? 2u + m[8] : 0;
    return n && n <= (size_t)(end - m) - 7 ? 7 + n : 0;
}

/* The field whose key is s[0..n), or -1. */
int rc_script_ev_field(const rc_script_ev_t *e, const char *s, size_t n);

/* Reads field j's value header (a whole scalar). */
void rc_script_ev_value(const rc_script_ev_t *e, uint32_t j, mpv_t *v);

/* ---- small blocks ----
 *
 * The engines' heaps make and free small blocks all the time (a table, its hash part, a
 * proxy's state per event); malloc and free cost about 170 instructions a call under
 * callgrind, a third of what an event costs a Lua identity transform. A pool hands out blocks
 * of up to RC_SCRIPT_POOL_MAX bytes in classes of 16 bytes, carved from 64 KiB slabs; a freed
 * block goes on its class's free list and is reused by the next block of that class. The pool
 * keeps its slabs until it is destroyed: it holds at most what the heap's small blocks held
 * at their peak (bounded by the VM's memory cap). Larger blocks go to malloc. The caller
 * gives the block's size back when it frees or resizes it (Lua's allocator is told it). */
#define RC_SCRIPT_POOL_MAX 1024

typedef struct rc_script_pool {
    void *free[RC_SCRIPT_POOL_MAX / 16 + 1]; /* per class: the first free block */
    char *next, *end;                        /* the rest of the current slab */
    void *slabs;                             /* every slab, linked through its first bytes */
} rc_script_pool_t;

/* A block of size bytes (size > 0), or NULL when memory ran out. */
void *rc_script_pool_alloc(rc_script_pool_t *pool, size_t size);

/* Gives back p (NULL: nothing), a block of size bytes. */
void rc_script_pool_free(rc_script_pool_t *pool, void *p, size_t size);

/* Resizes p (size osize) to nsize > 0 bytes: p itself when both sizes are in one class. */
void *rc_script_pool_realloc(rc_script_pool_t *pool, void *p, size_t osize, size_t nsize);

/* Frees the slabs (every block the pool handed out). */
void rc_script_pool_destroy(rc_script_pool_t *pool);

/* The common cases of rc_script_pool_alloc and _free, inline for an engine's allocator (a call
 * each costs a Lua table about 20 instructions of its ~100): a free block of size bytes (0 <
 * size <= RC_SCRIPT_POOL_MAX) from its class's list, or NULL (then call rc_script_pool_alloc);
 * and p, a block of size bytes (0 < size <= RC_SCRIPT_POOL_MAX), put back on that list. */
static inline void *rc_script_pool_pop(rc_script_pool_t *pool, size_t size) {
    void **head = &pool->free[(size + 15) / 16], *p = *head;
    if (p) {
        memcpy(head, p, sizeof(void *)); /* (the link, as rc_script_pool_free wrote it) */
    }
    return p;
}

static inline void rc_script_pool_push(rc_script_pool_t *pool, void *p, size_t size) {
    void **head = &pool->free[(size + 15) / 16];
    memcpy(p, head, sizeof(void *));
    *head = p;
}

/* The native function rewritten JS calls in every loop and function (rc_script_js_tick.c). */
#define RC_SCRIPT_JS_TICK "__rowcast_tick"
/* The native function x -> x that gives an untouched JS event its own fields (rc_script_js.c):
 * rewritten JS passes through it the object of a delete, a for-in and a with. */
#define RC_SCRIPT_JS_OWN "__rowcast_own"
/* ACTION_DROP on Number.prototype (not writable): what rewritten JS returns for it. */
#define RC_SCRIPT_JS_DROP "__rowcast_drop"

/* Appends src[0..len) to out with a call to RC_SCRIPT_JS_TICK in every while/do-while/for
 * condition and at the start of every function, method and accessor body (not that of a
 * transform only rowcast calls: see rc_script_js_tick.c), on the same lines. The source must be
 * valid ES5 (compile it first). Fails with "LINE: what" in why when it cannot be rewritten
 * (the reserved name is used, nesting deeper than 1024) or RC_ERR_NOMEM. */
rc_err_t rc_script_js_instrument(const char *src, size_t len, rc_buf_t *out, char *why,
                                 size_t why_size);

/* The local rewritten Lua calls in every loop body, function and label a goto can reach
 * (rc_script_lua_tick.c; rowcast's Lua checks the budget there). */
#define RC_SCRIPT_LUA_TICK "__rowcast_tick"

/* Appends src[0..len) to out with `local RC_SCRIPT_LUA_TICK = RC_SCRIPT_LUA_TICK;` before the
 * first line's text and a call to it at the start of every loop body, function body and
 * label that a statement follows, on the same lines. The source must be valid Lua (compile it
 * first). Fails with "LINE: what" in why when it cannot be rewritten (the reserved name is
 * used, nesting deeper than 1024) or RC_ERR_NOMEM. */
rc_err_t rc_script_lua_instrument(const char *src, size_t len, rc_buf_t *out, char *why,
                                  size_t why_size);

/* Writes the input bytes b[from..to) to pk as they came (nothing for an empty run): the
 * fields of a lazy event the script left as they were. */
static inline void rc_script_write_run(msgpack_packer *pk, const uint8_t *b, uint32_t from,
                                       uint32_t to) {
    if (to > from) {
        pk->callback(pk->data, (const char *)b + from, to - from);
    }
}

/* The rewriters' output (rc_script_js_tick.c, rc_script_lua_tick.c): the source copied up to
 * a place, then inserted text. */
typedef struct rc_script_out {
    rc_buf_t *b;
    const char *copied; /* source copied up to here */
    bool nomem;
} rc_script_out_t;

/* Copies the source up to at, then text. */
static inline void rc_script_out_insert(rc_script_out_t *o, const char *at, const char *text) {
    if (rc_buf_append(o->b, o->copied, (size_t)(at - o->copied)) != RC_OK ||
        rc_buf_puts(o->b, text) != RC_OK) {
        o->nomem = true;
    }
    o->copied = at;
}

#endif
