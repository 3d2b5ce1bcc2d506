/* rc_proto.c: msgpack event -> protobuf wire bytes of rowcast.v1, written directly.
 *
 * A generic packer (protobuf-c) needs the message as a tree of structs first: one allocation
 * per row, column and value. Writing the wire format straight from the msgpack bytes needs
 * none. A submessage gets a one-byte length placeholder; when its body turns out to be 128
 * bytes or longer, the body moves up by the extra length bytes (rows are short, so this is rare
 * and cheap). Value field numbers come from the protobuf-c code generated from the .proto. */
#include "rc_proto.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "event.pb-c.h"
#include "rc_cols.h"
#include "rc_event.h"
#include "rc_json.h"
#include "rc_mp.h"
#include "rc_text.h"
#include "rc_tpl.h"
#include "rc_utf8.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Field numbers of the messages (proto/rowcast/v1/event.proto). */
enum {
    F_EVENT_SCHEMA = 1,
    F_EVENT_TABLE = 2,
    F_EVENT_ACTION = 3,
    F_EVENT_BEFORE = 4,
    F_EVENT_AFTER = 5,
    F_EVENT_META = 6,
    F_ROW_COLUMNS = 1, /* also Key.columns */
    F_COLUMN_NAME = 1,
    F_COLUMN_VALUE = 2,
    F_META_PIPELINE = 1,
    F_META_TIMESTAMP_US = 2,
    F_META_GTID = 3,
    F_META_BINLOG_FILE = 4,
    F_META_BINLOG_POS = 5,
    F_META_SERVER_ID = 6,
    F_META_COMMIT_TS = 7,
    F_SET_MEMBERS = 1,
};

/* ---- wire format -------------------------------------------------------------------------- */

static inline size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline char *varint_at(char *o, uint64_t v) {
    if (v < 0x80) { /* a length, a small int, a date's part: without the loop */
        *o = (char)v;
        return o + 1;
    }
    if (v < 0x4000) {
        o[0] = (char)(v | 0x80);
        o[1] = (char)(v >> 7);
        return o + 2;
    }
    while (v >= 0x80) {
        *o++ = (char)(v | 0x80);
        v >>= 7;
    }
    *o++ = (char)v;
    return o;
}

/* Makes room for n more bytes; the usual case (there is room) without a call. */
static inline rc_err_t ensure(rc_buf_t *out, size_t n) {
    return out->cap - out->len >= n ? RC_OK : rc_buf_reserve(out, n);
}

/* A varint field; proto3 leaves zero out unless keep_zero (a oneof member). */
static inline rc_err_t put_uint_field(rc_buf_t *out, uint32_t field, uint64_t v, bool keep_zero) {
    if (v == 0 && !keep_zero) {
        return RC_OK;
    }
    if (ensure(out, 20) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    char *o = varint_at(out->data + out->len, (uint64_t)field << 3 | WT_VARINT);
    out->len = (size_t)(varint_at(o, v) - out->data);
    return RC_OK;
}

static inline uint64_t zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static rc_err_t put_bytes_field(rc_buf_t *out, uint32_t field, const void *s, size_t n,
                                bool keep_empty) {
    if (n == 0 && !keep_empty) {
        return RC_OK;
    }
    if (ensure(out, 20 + n) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    char *o = varint_at(out->data + out->len, (uint64_t)field << 3 | WT_LEN);
    o = varint_at(o, n);
    if (n) {
        memcpy(o, s, n);
    }
    out->len = (size_t)(o - out->data) + n;
    return RC_OK;
}

/* True when s[0..n) is all ASCII (so valid UTF-8 as is). The bytes from s up to lim (lim >=
 * s + n) may be read: a short string inside the event is checked with one 16-byte load. */
static inline bool all_ascii(const uint8_t *s, size_t n, const uint8_t *lim) {
#if defined(__SSE2__)
    if (n <= 32 && lim - s >= 32) { /* the usual text: two loads, one masked test */
        uint64_t m =
            (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)s)) |
            (uint64_t)(unsigned)_mm_movemask_epi8(
                _mm_loadu_si128((const __m128i *)(const void *)(s + 16)))
                << 16;
        return (m & ((1ULL << n) - 1)) == 0;
    }
    for (; n >= 16; s += 16, n -= 16) {
        if (_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)s))) {
            return false;
        }
    }
    if (n == 0) {
        return true;
    }
    if (lim - s >= 16) {
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)s));
        return (m & ((1u << n) - 1)) == 0;
    }
#else
    (void)lim;
#endif
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        if (w & 0x8080808080808080ULL) {
            return false;
        }
    }
    for (; n > 0; s++, n--) {
        if (*s & 0x80) {
            return false;
        }
    }
    return true;
}

/* A string field: protobuf wants valid UTF-8 there (Google's proto3 parsers reject anything
 * else), so, as rc_json does, each byte that does not start a well-formed sequence becomes
 * U+FFFD and reading resumes at the next byte. Valid text (the rule) is copied as is. */
static rc_err_t put_text_field(rc_buf_t *out, uint32_t field, const void *text, size_t n,
                               bool keep_empty) {
    const uint8_t *s = text, *e = s + n, *q = s;
    size_t bad = 0;
    while (q < e) {
        if (e - q >= 8) { /* ASCII, the usual text, 8 bytes at a time */
            uint64_t w;
            memcpy(&w, q, 8);
            if (!(w & 0x8080808080808080ULL)) {
                q += 8;
                continue;
            }
        }
        if (*q < 0x80) {
            q++;
            continue;
        }
        size_t len = rc_utf8_len(q, e);
        if (len == 0) {
            bad++;
            len = 1;
        }
        q += len;
    }
    if (bad == 0) {
        return put_bytes_field(out, field, s, n, keep_empty);
    }
    size_t total = n + 2 * bad; /* each bad byte becomes three */
    if (ensure(out, 20 + total) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    char *o = varint_at(out->data + out->len, (uint64_t)field << 3 | WT_LEN);
    o = varint_at(o, total);
    for (q = s; q < e;) {
        size_t len = *q < 0x80 ? 1 : rc_utf8_len(q, e);
        if (len == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            q++;
        } else {
            memcpy(o, q, len);
            o += len;
            q += len;
        }
    }
    out->len = (size_t)(o - out->data);
    return RC_OK;
}

/* put_bytes_field for bytes inside a buffer whose bytes up to lim may be read: a short field
 * (tag and length one byte each, at most 32 bytes with 32 readable, or 64 with 64: a GTID) is
 * one fixed-size copy without a call; the bytes copied past n lie beyond out->len. */
static inline rc_err_t put_bytes_in(rc_buf_t *out, uint32_t field, const void *s, size_t n,
                                    bool keep_empty, const uint8_t *lim) {
    if (n <= 64 && field < 16 && (n || keep_empty) && lim - (const uint8_t *)s >= 64) {
        if (ensure(out, 2 + 64) != RC_OK) {
            return RC_ERR_NOMEM;
        }
        char *o = out->data + out->len;
        o[0] = (char)(field << 3 | WT_LEN);
        o[1] = (char)n;
        memcpy(o + 2, s, 32);
        if (n > 32) {
            memcpy(o + 34, (const uint8_t *)s + 32, 32);
        }
        out->len += 2 + n;
        return RC_OK;
    }
    if (n <= 32 && field < 16 && (n || keep_empty) && lim - (const uint8_t *)s >= 32) {
        if (ensure(out, 2 + 32) != RC_OK) {
            return RC_ERR_NOMEM;
        }
        char *o = out->data + out->len;
        o[0] = (char)(field << 3 | WT_LEN);
        o[1] = (char)n;
        memcpy(o + 2, s, 32);
        out->len += 2 + n;
        return RC_OK;
    }
    return put_bytes_field(out, field, s, n, keep_empty);
}

/* put_text_field for text inside a buffer whose bytes up to lim may be read: ASCII, the usual
 * text, is found so with a 16-byte load or two and copied as is. */
static inline rc_err_t put_text_in(rc_buf_t *out, uint32_t field, const void *text, size_t n,
                                   bool keep_empty, const uint8_t *lim) {
    return all_ascii(text, n, lim) ? put_bytes_in(out, field, text, n, keep_empty, lim)
                                   : put_text_field(out, field, text, n, keep_empty);
}

static rc_err_t put_fixed_field(rc_buf_t *out, uint32_t field, uint64_t bits, int wt) {
    size_t n = wt == WT_I64 ? 8 : 4;
    if (ensure(out, 20) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    char *o = varint_at(out->data + out->len, (uint64_t)field << 3 | (uint64_t)wt);
    for (size_t i = 0; i < n; i++) {
        o[i] = (char)(bits >> (8 * i)); /* little-endian */
    }
    out->len = (size_t)(o + n - out->data);
    return RC_OK;
}

/* Starts a length-delimited submessage: writes its tag and a one-byte length placeholder and
 * returns in *mark where the placeholder is. */
static inline rc_err_t sub_begin(rc_buf_t *out, uint32_t field, size_t *mark) {
    if (ensure(out, 11) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    char *o = varint_at(out->data + out->len, (uint64_t)field << 3 | WT_LEN);
    *o = 0;
    *mark = (size_t)(o - out->data);
    out->len = *mark + 1;
    return RC_OK;
}

/* Ends the submessage begun at mark: writes its length, moving the body up when the length
 * needs more than one byte. */
static inline rc_err_t sub_end(rc_buf_t *out, size_t mark) {
    size_t body = out->len - mark - 1;
    if (body < 0x80) {
        out->data[mark] = (char)body; /* the usual case: the placeholder was right */
        return RC_OK;
    }
    size_t n = varint_len(body);
    if (n > 1) {
        if (ensure(out, n - 1) != RC_OK) {
            return RC_ERR_NOMEM;
        }
        memmove(out->data + mark + n, out->data + mark + 1, body);
        out->len += n - 1;
    }
    varint_at(out->data + mark, body);
    return RC_OK;
}

/* sub_begin with a two-byte length placeholder, for a submessage likely to be 128 bytes to
 * 16 KiB long (a row whose last one of its table was): then sub_end2 writes the length in
 * place instead of moving the body up a byte. */
static inline rc_err_t sub_begin2(rc_buf_t *out, uint32_t field, size_t *mark) {
    if (ensure(out, 12) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    char *o = varint_at(out->data + out->len, (uint64_t)field << 3 | WT_LEN);
    o[0] = 0;
    o[1] = 0;
    *mark = (size_t)(o - out->data);
    out->len = *mark + 2;
    return RC_OK;
}

/* Ends the submessage begun by sub_begin2 at mark: the same bytes as sub_begin and sub_end. */
static inline rc_err_t sub_end2(rc_buf_t *out, size_t mark) {
    size_t body = out->len - mark - 2;
    if (body >= 0x80 && body < 0x4000) {
        out->data[mark] = (char)(body | 0x80); /* the guess was right */
        out->data[mark + 1] = (char)(body >> 7);
        return RC_OK;
    }
    size_t n = varint_len(body); /* 1, or 3 and more */
    if (n > 2 && ensure(out, n - 2) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    memmove(out->data + mark + n, out->data + mark + 2, body);
    out->len = out->len - 2 + n;
    varint_at(out->data + mark, body);
    return RC_OK;
}

/* ---- msgpack scalars ---------------------------------------------------------------------- */

typedef enum {
    MP_NIL,
    MP_BOOL,
    MP_UINT,
    MP_INT, /* negative */
    MP_F32,
    MP_F64,
    MP_STR,
    MP_BIN,
    MP_EXT,
    MP_ARRAY,
    MP_MAP,
} mp_kind_t;

typedef struct mp_val {
    mp_kind_t kind;
    int8_t ext;
    uint32_t n; /* str/bin/ext bytes; array items; map entries */
    const uint8_t *s;
    union {
        uint64_t u;
        int64_t i;
        float f;
        double d;
        bool b;
    };
} mp_val_t;

/* Reads the head of the object at *pp; for str/bin/ext moves past the payload too, for arrays
 * and maps only past the header. */
static rc_err_t mp_next(const uint8_t **pp, const uint8_t *end, mp_val_t *v) {
    const uint8_t *p = *pp;
    if (p >= end) {
        return RC_ERR_TRUNCATED;
    }
    size_t avail = (size_t)(end - p);
    uint8_t c = p[0];
    size_t head = 1, w = 0;
    if (c <= 0x7f) {
        v->kind = MP_UINT;
        v->u = c;
    } else if (c >= 0xe0) {
        v->kind = MP_INT;
        v->i = (int8_t)c;
    } else if (c <= 0x8f) {
        v->kind = MP_MAP;
        v->n = c & 0x0f;
    } else if (c <= 0x9f) {
        v->kind = MP_ARRAY;
        v->n = c & 0x0f;
    } else if (c <= 0xbf) {
        v->kind = MP_STR;
        v->n = c & 0x1f;
    } else {
        switch (c) {
        case 0xc0:
            v->kind = MP_NIL;
            break;
        case 0xc2:
        case 0xc3:
            v->kind = MP_BOOL;
            v->b = c == 0xc3;
            break;
        case 0xc4:
        case 0xc5:
        case 0xc6:
        case 0xd9:
        case 0xda:
        case 0xdb:
            w = (size_t)1 << (c >= 0xd9 ? c - 0xd9 : c - 0xc4);
            if (avail < 1 + w) {
                return RC_ERR_TRUNCATED;
            }
            v->kind = c >= 0xd9 ? MP_STR : MP_BIN;
            v->n = w == 1 ? p[1] : w == 2 ? rc_mp_be16(p + 1) : rc_mp_be32(p + 1);
            head = 1 + w;
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            w = (size_t)1 << (c - 0xc7);
            if (avail < 2 + w) {
                return RC_ERR_TRUNCATED;
            }
            v->kind = MP_EXT;
            v->n = w == 1 ? p[1] : w == 2 ? rc_mp_be16(p + 1) : rc_mp_be32(p + 1);
            v->ext = (int8_t)p[1 + w];
            head = 2 + w;
            break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            if (avail < 2) {
                return RC_ERR_TRUNCATED;
            }
            v->kind = MP_EXT;
            v->n = 1u << (c - 0xd4);
            v->ext = (int8_t)p[1];
            head = 2;
            break;
        case 0xca:
        case 0xcb: {
            w = c == 0xca ? 4 : 8;
            if (avail < 1 + w) {
                return RC_ERR_TRUNCATED;
            }
            if (c == 0xca) {
                uint32_t bits = rc_mp_be32(p + 1);
                v->kind = MP_F32;
                memcpy(&v->f, &bits, sizeof v->f);
            } else {
                uint64_t bits = rc_mp_be64(p + 1);
                v->kind = MP_F64;
                memcpy(&v->d, &bits, sizeof v->d);
            }
            head = 1 + w;
            break;
        }
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3: {
            w = rc_mp_int_width(c);
            if (avail < 1 + w) {
                return RC_ERR_TRUNCATED;
            }
            uint64_t u = rc_mp_int_word(p);
            head = 1 + w;
            v->kind = c >= 0xd0 && (int64_t)u < 0 ? MP_INT : MP_UINT;
            v->u = u; /* an int's word read as int64_t is its value */
            break;
        }
        case 0xdc:
        case 0xdd:
        case 0xde:
        case 0xdf:
            w = c == 0xdc || c == 0xde ? 2 : 4;
            if (avail < 1 + w) {
                return RC_ERR_TRUNCATED;
            }
            v->kind = c <= 0xdd ? MP_ARRAY : MP_MAP;
            v->n = w == 2 ? rc_mp_be16(p + 1) : rc_mp_be32(p + 1);
            head = 1 + w;
            break;
        default: /* 0xc1 */
            return RC_ERR_INVALID;
        }
    }
    p += head;
    if (v->kind == MP_STR || v->kind == MP_BIN || v->kind == MP_EXT) {
        if ((size_t)(end - p) < v->n) {
            return RC_ERR_TRUNCATED;
        }
        v->s = p;
        p += v->n;
    } else if (v->kind == MP_ARRAY || v->kind == MP_MAP) {
        /* every item takes at least one byte */
        uint64_t min = v->kind == MP_MAP ? 2 * (uint64_t)v->n : v->n;
        if (min > (uint64_t)(end - p)) {
            return RC_ERR_TRUNCATED;
        }
    }
    *pp = p;
    return RC_OK;
}

/* rc_mp_read_str with the fixstr of keys and short strings read inline. */
static inline rc_err_t read_str(const uint8_t **pp, const uint8_t *end, const char **s,
                                uint32_t *n) {
    const uint8_t *p = *pp;
    if (p < end && (p[0] & 0xe0) == 0xa0 && (size_t)(end - p) > (p[0] & 0x1fu)) {
        *s = (const char *)p + 1;
        *n = p[0] & 0x1fu;
        *pp = p + 1 + *n;
        return RC_OK;
    }
    return rc_mp_read_str(pp, end, s, n);
}

/* ---- values ------------------------------------------------------------------------------- */

/* Field field as a varint at o when v is not 0 (proto3 leaves zeros out). Returns the end. */
static inline char *nz_varint_at(char *o, uint32_t field, uint64_t v) {
    if (v) {
        *o++ = (char)(field << 3 | WT_VARINT);
        o = varint_at(o, v);
    }
    return o;
}

/* The usual DateTime body at o (every part one varint byte but the year, y < 2^14, and the
 * micros, us < 2^21): tag and value always written, the end moved on only for a part not zero.
 * Room for 19 bytes. Returns the end. */
static inline char *dt_parts_at(char *o, uint32_t y, uint32_t mo, uint32_t d, uint32_t h,
                                uint32_t mi, uint32_t sec, uint32_t us, uint32_t fsp) {
    o[0] = 1 << 3;
    o[1] = (char)(y | 0x80);
    o[2] = (char)(y >> 7);
    if (y >= 0x80) {
        o += 3;
    } else if (y) {
        o[1] = (char)y;
        o += 2;
    }
#define DT_PART(f, v) o[0] = (char)((f) << 3), o[1] = (char)(v), o += (v) ? 2 : 0
    DT_PART(2, mo);
    DT_PART(3, d);
    DT_PART(4, h);
    DT_PART(5, mi);
    DT_PART(6, sec);
#undef DT_PART
    o[0] = 7 << 3;
    o[1] = (char)(us | 0x80);
    o[2] = (char)((us >> 7) | 0x80);
    o[3] = (char)(us >> 14);
    if (us >= 0x4000) {
        o += 4;
    } else if (us >= 0x80) {
        o[2] = (char)(us >> 7);
        o += 3;
    } else if (us) {
        o[1] = (char)us;
        o += 2;
    }
    o[0] = 8 << 3;
    o[1] = (char)fsp;
    return o + (fsp ? 2 : 0);
}

/* The fields of a Date (1..3) or DateTime (1..8) body at o, which has room for 19 bytes (the
 * parts' digit counts bound them: the year takes 2 bytes, the micros 3); proto3 leaves zeros
 * out. Returns the end. */
static inline char *dt_at(char *o, const rc_datetime_t *t, bool with_time) {
    /* the parts in locals: a store through o could change *t as far as the compiler knows */
    uint32_t y = t->year, mo = t->month, d = t->day, h = t->hour, mi = t->minute, sec = t->second,
             us = t->micros, fsp = t->fsp;
    if (with_time && (mo | d | h | mi | sec | fsp) < 0x80 && y < 0x4000 && us < (1u << 21)) {
        return dt_parts_at(o, y, mo, d, h, mi, sec, us, fsp);
    }
    o = nz_varint_at(o, 1, t->year);
    o = nz_varint_at(o, 2, t->month);
    o = nz_varint_at(o, 3, t->day);
    if (!with_time) {
        return o;
    }
    o = nz_varint_at(o, 4, t->hour);
    o = nz_varint_at(o, 5, t->minute);
    o = nz_varint_at(o, 6, t->second);
    o = nz_varint_at(o, 7, t->micros);
    return nz_varint_at(o, 8, t->fsp);
}

/* A Date or DateTime Value (field, length, body) at o, which has room for 21 bytes; the body is
 * shorter than 128 bytes. Returns the end. */
static inline char *dt_value_at(char *o, uint32_t field, const rc_datetime_t *t, bool with_time) {
    o[0] = (char)(field << 3 | WT_LEN);
    char *e = dt_at(o + 2, t, with_time);
    o[1] = (char)(e - o - 2);
    return e;
}

/* dt_text_at for a text of 26 bytes (f6: ".ffffff") or 19, 26 readable. The text is four 64-bit
 * words (s[0..8), [8..16), [16..24), [18..26)) whose separators are compared at once and whose
 * digits are checked in one test (x = byte ^ '0' is a digit when x | (x + 0x76) has no high
 * bit, as in rc_text_datetime); x * 10 + (x >> 8) then holds in byte i the two-digit number of
 * digits i and i + 1 (at most 99: no byte carries). */
static inline __attribute__((always_inline)) char *dt_text_at_f(char *o, const uint8_t *s,
                                                                bool f6) {
    const uint64_t zeros = 0x3030303030303030ULL, high = 0x8080808080808080ULL,
                   up = 0x7676767676767676ULL;
    const uint64_t am = 0x00ffff00ffffffffULL; /* s[0..8) "YYYY-MM-": digits in 0-3, 5-6 */
    const uint64_t bm = 0xffff00ffff00ffffULL; /* s[8..16) "DDTHH:MM": in 0-1, 3-4, 6-7 */
    /* s[16..24) ":SS.ffff": digits in 1-2 (4-7 with a fraction); s[18..26): 6-7 */
    const uint64_t cm = f6 ? 0xffffffff00ffff00ULL : 0x0000000000ffff00ULL;
    const uint64_t csm = f6 ? 0xff0000ffULL : 0xffULL, cs = f6 ? 0x2e00003aULL : 0x3aULL;
    uint64_t a, b, c, d = 0;
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    memcpy(&c, s + 16, 8);
    if (f6) {
        memcpy(&d, s + 18, 8);
    }
    uint64_t xa = (a ^ zeros) & am, xb = (b ^ zeros) & bm, xc = (c ^ zeros) & cm,
             xd = f6 ? (d ^ zeros) & 0xffff000000000000ULL : 0;
    if ((a & 0xff0000ff00000000ULL) != 0x2d00002d00000000ULL ||
        (b & 0x0000ff0000ff0000ULL) != 0x00003a0000540000ULL || (c & csm) != cs ||
        ((((xa | (xa + up)) & am) | ((xb | (xb + up)) & bm) | ((xc | (xc + up)) & cm) |
          ((xd | (xd + up)) & 0xffff000000000000ULL)) &
         high)) {
        return NULL;
    }
    uint64_t pa = xa * 10 + (xa >> 8), pb = xb * 10 + (xb >> 8), pc = xc * 10 + (xc >> 8);
#define DT_B(x, i) ((uint32_t)((x) >> (8 * (i))) & 0xffu)
    uint32_t us = f6 ? DT_B(pc, 4) * 10000 + DT_B(pc, 6) * 100 + DT_B(xd, 6) * 10 + DT_B(xd, 7) : 0;
    o[0] = (char)(ROWCAST__V1__VALUE__KIND_DATETIME_VALUE << 3 | WT_LEN);
    char *e = dt_parts_at(o + 2, DT_B(pa, 0) * 100 + DT_B(pa, 2), DT_B(pa, 5), DT_B(pb, 0),
                          DT_B(pb, 3), DT_B(pb, 6), DT_B(pc, 1), us, f6 ? 6 : 0);
#undef DT_B
    o[1] = (char)(e - o - 2);
    return e;
}

/* The DATETIME text s[0..n) written at o as its Value, as rc_text_datetime and dt_value_at write
 * it, for the usual texts: "YYYY-MM-DDTHH:MM:SS" or with ".ffffff" (fsp 0 or 6), read by fixed
 * positions with one validity check, 26 bytes readable at s (lim). o has room for 21 bytes.
 * NULL for any other text, a bad one too (the caller reads it the general way). */
static inline __attribute__((always_inline)) char *dt_text_at(char *o, const uint8_t *s, size_t n,
                                                              const uint8_t *lim) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (lim - s < 26) {
        return NULL;
    }
    return n == 26 ? dt_text_at_f(o, s, true) : n == 19 ? dt_text_at_f(o, s, false) : NULL;
#else
    (void)o, (void)s, (void)n, (void)lim;
    return NULL;
#endif
}

/* The Value body of an ext value. */
static rc_err_t put_ext(rc_buf_t *out, int8_t type, const uint8_t *s, uint32_t n,
                        const uint8_t *lim) {
    size_t mark;
    rc_err_t err;
    rc_datetime_t t = {0};
    switch (type) {
    case RC_EXT_DECIMAL:
        return put_text_in(out, ROWCAST__V1__VALUE__KIND_DECIMAL_VALUE, s, n, true, lim);
    case RC_EXT_JSON:
        return put_text_in(out, ROWCAST__V1__VALUE__KIND_JSON_VALUE, s, n, true, lim);
    case RC_EXT_ENUM:
        return put_text_in(out, ROWCAST__V1__VALUE__KIND_ENUM_VALUE, s, n, true, lim);
    case RC_EXT_SET: {
        if ((err = sub_begin(out, ROWCAST__V1__VALUE__KIND_SET_VALUE, &mark)) != RC_OK) {
            return err;
        }
        /* "" is the empty set; otherwise every comma ends a member */
        const uint8_t *e = s + n, *m = s;
        while (n > 0) {
            const uint8_t *comma = memchr(m, ',', (size_t)(e - m));
            const uint8_t *stop = comma ? comma : e;
            if ((err = put_text_field(out, F_SET_MEMBERS, m, (size_t)(stop - m), true)) != RC_OK) {
                return err;
            }
            if (!comma) {
                break;
            }
            m = comma + 1;
        }
        return sub_end(out, mark);
    }
    case RC_EXT_DATE:
    case RC_EXT_DATETIME: {
        bool with_time = type == RC_EXT_DATETIME;
        if (!(with_time ? rc_text_datetime(s, n, &t) : rc_text_date(s, n, &t))) {
            return RC_ERR_INVALID;
        }
        if (ensure(out, 21) != RC_OK) {
            return RC_ERR_NOMEM;
        }
        char *e = dt_value_at(out->data + out->len,
                              with_time ? ROWCAST__V1__VALUE__KIND_DATETIME_VALUE
                                        : ROWCAST__V1__VALUE__KIND_DATE_VALUE,
                              &t, with_time);
        out->len = (size_t)(e - out->data);
        return RC_OK;
    }
    case RC_EXT_TIMESTAMP: {
        int64_t us;
        if (!rc_text_timestamp(s, n, &us, &t.fsp)) {
            return RC_ERR_INVALID;
        }
        if ((err = sub_begin(out, ROWCAST__V1__VALUE__KIND_TIMESTAMP_VALUE, &mark)) != RC_OK ||
            (err = put_uint_field(out, 1, zigzag(us), false)) != RC_OK ||
            (err = put_uint_field(out, 2, t.fsp, false)) != RC_OK) {
            return err;
        }
        return sub_end(out, mark);
    }
    case RC_EXT_TIME: {
        int64_t us;
        uint32_t fsp;
        if (!rc_text_time(s, n, &us, &fsp)) {
            return RC_ERR_INVALID;
        }
        if ((err = sub_begin(out, ROWCAST__V1__VALUE__KIND_TIME_VALUE, &mark)) != RC_OK ||
            (err = put_uint_field(out, 1, zigzag(us), false)) != RC_OK ||
            (err = put_uint_field(out, 2, fsp, false)) != RC_OK) {
            return err;
        }
        return sub_end(out, mark);
    }
    default:
        return RC_ERR_INVALID;
    }
}

/* GEOMETRY values come from the decoder as {"srid": uint, "wkb": bin} or, with
 * source.geometry: geojson, {"srid": uint, "geojson": ext JSON}: a map of exactly that shape
 * is a Geometry. */
static const char *const k_geo_keys[] = {"srid", "wkb", "geojson"};

static bool is_geometry(const uint8_t *map, const uint8_t *end) {
    const uint8_t *v[3], *p = map;
    uint32_t n;
    if (rc_mp_read_map(&p, end, &n) != RC_OK || n != 2 ||
        rc_mp_map_pick(map, end, k_geo_keys, 3, v, NULL) != RC_OK || !v[0] ||
        !(v[0] < end && (v[0][0] <= 0x7f || (v[0][0] >= 0xcc && v[0][0] <= 0xce)))) {
        return false;
    }
    if (v[1]) {
        return v[1] < end && v[1][0] >= 0xc4 && v[1][0] <= 0xc6;
    }
    mp_val_t x;
    const uint8_t *q = v[2];
    return q && mp_next(&q, end, &x) == RC_OK && x.kind == MP_EXT && x.ext == RC_EXT_JSON;
}

static rc_err_t put_geometry(rc_buf_t *out, const uint8_t **pp, const uint8_t *map,
                             const uint8_t *end) {
    const uint8_t *v[3], *after;
    size_t mark;
    mp_val_t srid, g;
    rc_err_t err = rc_mp_map_pick(map, end, k_geo_keys, 3, v, &after);
    const uint8_t *q = v[0];
    if (err != RC_OK || (err = mp_next(&q, end, &srid)) != RC_OK) {
        return err;
    }
    q = v[1] ? v[1] : v[2];
    if ((err = mp_next(&q, end, &g)) != RC_OK ||
        (err = sub_begin(out, ROWCAST__V1__VALUE__KIND_GEOMETRY_VALUE, &mark)) != RC_OK ||
        (err = put_uint_field(out, 1, srid.u, false)) != RC_OK) {
        return err;
    }
    err = v[1] ? put_bytes_field(out, 2, g.s, g.n, false) : put_text_field(out, 3, g.s, g.n, false);
    if (err != RC_OK) {
        return err;
    }
    *pp = after;
    return sub_end(out, mark);
}

/* Is the column an UNSIGNED integer one, whose integers all go to uint_value? */
static inline bool is_uint_col(const rc_col_info_t *c) {
    return c->type >= RC_COL_TINYINT && c->type <= RC_COL_BIGINT && (c->flags & RC_COLF_UNSIGNED);
}

/* VECTOR values come from the decoder as an array of float32 (msgpack 0xca); a non-empty
 * array of nothing else is a Vector (a script's numbers are float64 or integers). */
static bool is_vector(const uint8_t *arr, const uint8_t *end, uint32_t *n) {
    const uint8_t *p = arr;
    if (rc_mp_read_array(&p, end, n) != RC_OK || *n == 0 ||
        (uint64_t)*n * 5 > (uint64_t)(end - p)) {
        return false;
    }
    for (uint32_t i = 0; i < *n; i++) {
        if (p[(size_t)i * 5] != 0xca) {
            return false;
        }
    }
    return true;
}

/* Vector {values: packed float} from the n float32 of the array at *pp (moved past it). */
static rc_err_t put_vector(rc_buf_t *out, const uint8_t **pp, const uint8_t *end) {
    const uint8_t *p = *pp;
    size_t mark;
    uint32_t n;
    rc_err_t err = rc_mp_read_array(&p, end, &n);
    if (err != RC_OK ||
        (err = sub_begin(out, ROWCAST__V1__VALUE__KIND_VECTOR_VALUE, &mark)) != RC_OK ||
        (err = ensure(out, 20 + (size_t)n * 4)) != RC_OK) {
        return err;
    }
    char *o = varint_at(out->data + out->len, 1u << 3 | WT_LEN); /* values, packed */
    o = varint_at(o, (uint64_t)n * 4);
    for (uint32_t i = 0; i < n; i++, p += 5, o += 4) {
        o[0] = (char)p[4]; /* msgpack's big-endian to protobuf's little-endian */
        o[1] = (char)p[3];
        o[2] = (char)p[2];
        o[3] = (char)p[1];
    }
    out->len = (size_t)(o - out->data);
    *pp = p;
    return sub_end(out, mark);
}

/* The body of a Value message for the object at *pp (moved past it); uint_col: kafka.columns
 * says its column is an UNSIGNED integer column (is_uint_col). */
static rc_err_t put_value_body(rc_buf_t *out, const uint8_t **pp, const uint8_t *end,
                               bool uint_col) {
    const uint8_t *start = *pp;
    mp_val_t v;
    rc_err_t err = mp_next(pp, end, &v);
    if (err != RC_OK) {
        return err;
    }
    switch (v.kind) {
    case MP_NIL:
        return put_uint_field(out, ROWCAST__V1__VALUE__KIND_NULL_VALUE, 0, true);
    case MP_BOOL:
        return put_uint_field(out, ROWCAST__V1__VALUE__KIND_BOOL_VALUE, v.b, true);
    case MP_UINT:
        if (v.u > INT64_MAX || uint_col) {
            return put_uint_field(out, ROWCAST__V1__VALUE__KIND_UINT_VALUE, v.u, true);
        }
        return put_uint_field(out, ROWCAST__V1__VALUE__KIND_INT_VALUE, zigzag((int64_t)v.u), true);
    case MP_INT:
        return put_uint_field(out, ROWCAST__V1__VALUE__KIND_INT_VALUE, zigzag(v.i), true);
    case MP_F32: {
        uint32_t bits;
        memcpy(&bits, &v.f, sizeof bits);
        return put_fixed_field(out, ROWCAST__V1__VALUE__KIND_FLOAT_VALUE, bits, WT_I32);
    }
    case MP_F64: {
        uint64_t bits;
        memcpy(&bits, &v.d, sizeof bits);
        return put_fixed_field(out, ROWCAST__V1__VALUE__KIND_DOUBLE_VALUE, bits, WT_I64);
    }
    case MP_STR:
        return put_text_in(out, ROWCAST__V1__VALUE__KIND_STRING_VALUE, v.s, v.n, true, end);
    case MP_BIN:
        return put_bytes_field(out, ROWCAST__V1__VALUE__KIND_BYTES_VALUE, v.s, v.n, true);
    case MP_EXT:
        return put_ext(out, v.ext, v.s, v.n, end);
    case MP_MAP:
        if (is_geometry(start, end)) {
            return put_geometry(out, pp, start, end);
        }
        /* fall through */
    case MP_ARRAY: {
        uint32_t nvec;
        if (v.kind == MP_ARRAY && is_vector(start, end, &nvec)) {
            *pp = start;
            return put_vector(out, pp, end);
        }
        /* a list or map a script put into a row: its JSON text */
        size_t mark, used;
        if ((err = sub_begin(out, ROWCAST__V1__VALUE__KIND_JSON_VALUE, &mark)) != RC_OK ||
            (err = rc_json_write(out, start, (size_t)(end - start), &used)) != RC_OK) {
            return err;
        }
        *pp = start + used;
        return sub_end(out, mark);
    }
    }
    return RC_ERR_INVALID;
}

/* ---- per-table templates ------------------------------------------------------------------ */

/* A table's row maps have the same column names in the same order event after event, and the
 * event map and meta the same keys. A row template keeps, per position, the column name's
 * msgpack bytes, the Column head written for it (tag, length placeholder, name field, Value
 * tag and placeholder) and whether kafka.columns makes its integers unsigned; a key equal byte
 * for byte to its position's (one or two 16-byte compares) gets that head copied and its value
 * written by a switch on the msgpack type byte. Any other key (a table sharing the slot, a
 * column renamed by a script or added by DDL, a name not a short ASCII fixstr) takes the
 * generic way and becomes the position's template. The column infos hold for the kafka.columns
 * bytes they were learnt with: a row template keeps a copy, and an event whose descriptor is
 * another drops the template's positions. A name is only learnt when the descriptor has it at
 * most once, so the info does not depend on where rc_cols_find's cursor stood. The output is
 * the same with or without templates. */

#define PTPL_SLOTS    256  /* row templates, chosen by rc_tpl_table_hash */
#define PTPL_MAX_COLS 1024 /* columns past it go without: at most 256 x 1024 x 84 bytes */
#define PTPL_KEY_MAX  32   /* msgpack bytes of a column name: a fixstr of up to 31 bytes */
#define PTPL_HEAD     40   /* Column head: 2 + 2 + 31 + 2 = 37 bytes at most, 40 copied */
#define PTPL_FIELDS   16   /* positions of the event map and meta with a template */
#define PTPL_KEY_COLS 4    /* a key of up to this many columns is written from a row template */
#define PTPL_KEY_SCAN 8    /* positions a key's column is looked for in (but for the last one) */

typedef struct ptpl_col {
    uint8_t mp[PTPL_KEY_MAX]; /* the name's msgpack bytes, zero padded */
    uint64_t skip;            /* ~rc_tpl_mask(mp_len): the bytes rc_tpl_eq32 does not compare */
    char head[PTPL_HEAD];
    uint8_t mp_len; /* 0: no template at this position */
    uint8_t head_len;
    bool uint_col;    /* is_uint_col of the column in the descriptor */
    uint32_t cur_off; /* where rc_cols_find leaves the descriptor's cursor after finding the
                         column (from its start; 0: not found, the cursor stays) */
} ptpl_col_t;

typedef struct ptpl_row {
    ptpl_col_t *cols;
    uint32_t cap;
    uint8_t *desc; /* the kafka.columns bytes cols[].uint_col come from (len 0: none) */
    size_t desc_len, desc_cap;
    bool wide; /* the last row's body took a 2-byte length (128 bytes to 16 KiB) */
    uint32_t key_col[PTPL_KEY_COLS]; /* the positions a key's columns named last */
} ptpl_row_t;

/* A key of the event map or of meta: its msgpack bytes (a fixstr of up to 15 bytes) and its
 * field index in the key list (count when not in it); and, as rc_json's templates do, a value
 * that comes with it row after row (schema, table, action, an empty before, meta's pipeline,
 * binlog_file, server_id): its msgpack bytes after the key's and the field's protobuf bytes
 * for it. A field's bytes are a function of the value's alone, so a copy is what put writes.
 * A value that changes is dropped, unless it held for PTPL_KV_HOLD rows: then it is learnt
 * again. */
typedef struct ptpl_field {
    uint8_t mp[32]; /* the key's bytes, then (kv_len) the value's, zero padded */
    uint8_t pb[32]; /* (kv_len) the field's protobuf bytes */
    uint8_t len;    /* of the key; 0: no template */
    uint8_t j;
    uint8_t kv_len; /* 0: no value */
    uint8_t pb_len;
    uint8_t kv_hits; /* since the value was learnt, up to 255 */
    /* ~rc_tpl_mask of len and of kv_len (field_masks): the bytes a 32-byte compare skips for
     * the key and for key and value; 0 (zeroed) never matches */
    uint64_t key_skip, kv_skip;
} ptpl_field_t;

#define PTPL_KV_HOLD 16

/* The map's leading members that were all key and value hits in one event (schema, table,
 * action, an empty before): their msgpack bytes (up to 64) and protobuf bytes (up to 128) as
 * one run, so that a map starting with the same bytes is one 64-byte compare and one copy for
 * them. The fields' bytes are a function of the members' bytes alone. */
#define PRUN_MP RC_TPL_RUN
#define PRUN_PB 128

typedef struct ptpl_run {
    uint8_t mp[PRUN_MP]; /* zero padded */
    uint8_t pb[PRUN_PB];
    uint64_t mask;  /* of the mp_len bytes to compare */
    uint8_t mp_len; /* 0: none */
    uint8_t npos;   /* members the run covers */
    uint8_t pb_len;
    uint8_t next;            /* the field after the last one in the run */
    uint8_t at[PTPL_FIELDS]; /* where field j's value is in mp (0: not in the run) */
    bool slot_ok;            /* slot holds the row templates' slot of the run's schema and table */
    uint16_t slot;
} ptpl_run_t;

typedef struct ptpl_map {
    ptpl_field_t f[PTPL_FIELDS];
    ptpl_run_t run;
} ptpl_map_t;

struct rc_proto_tpl {
    ptpl_map_t event, meta;
    ptpl_row_t rows[PTPL_SLOTS];
    /* the row template write_event synced with the descriptor at key_cols (the event ending at
     * key_end), for the key of the same event (rc_proto_write_key_tpl); NULL: none */
    ptpl_row_t *key_rt;
    const uint8_t *key_cols, *key_end;
};

rc_proto_tpl_t *rc_proto_tpl_new(void) {
    return calloc(1, sizeof(rc_proto_tpl_t));
}

void rc_proto_tpl_free(rc_proto_tpl_t *t) {
    if (!t) {
        return;
    }
    for (size_t i = 0; i < PTPL_SLOTS; i++) {
        free(t->rows[i].cols);
        free(t->rows[i].desc);
    }
    free(t);
}

/* Room for the templates of a row of n columns; on failure the positions past cap have none. */
static void row_grow(ptpl_row_t *rt, uint32_t n) {
    void *cols = rt->cols;
    rc_tpl_grow(&cols, &rt->cap, sizeof(*rt->cols), n, PTPL_MAX_COLS);
    rt->cols = cols;
}

/* Makes the column name at k (name[0..n), read from it) with the info ci its position's
 * template, or none when it cannot be one; cur_off is where finding it left the cursor. */
static void col_learn(ptpl_col_t *tc, const uint8_t *k, const char *name, uint32_t n,
                      const rc_col_info_t *ci, const rc_cols_t *cols, uint32_t cur_off) {
    tc->mp_len = 0;
    tc->skip = 0;
    if ((k[0] & 0xe0) != 0xa0 || 1 + n > PTPL_KEY_MAX) {
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        if ((uint8_t)name[i] & 0x80) {
            return;
        }
    }
    if (cols && !rc_cols_name_at_most_once(cols, name, n)) {
        return;
    }
    memset(tc, 0, sizeof *tc);
    memcpy(tc->mp, k, 1 + n);
    char *o = tc->head;
    *o++ = (char)(F_ROW_COLUMNS << 3 | WT_LEN);
    *o++ = 0;
    if (n) { /* proto3 leaves an empty name out */
        *o++ = (char)(F_COLUMN_NAME << 3 | WT_LEN);
        *o++ = (char)n;
        memcpy(o, name, n);
        o += n;
    }
    *o++ = (char)(F_COLUMN_VALUE << 3 | WT_LEN);
    *o++ = 0;
    tc->head_len = (uint8_t)(o - tc->head);
    tc->uint_col = is_uint_col(ci);
    tc->cur_off = cur_off;
    tc->mp_len = (uint8_t)(1 + n);
    tc->skip = ~rc_tpl_mask(tc->mp_len);
}

/* put_value_body with the usual values of a row inline: a switch on the type byte. */
static inline rc_err_t put_value_fast(rc_buf_t *out, const uint8_t **pp, const uint8_t *end,
                                      bool uint_col) {
    const uint8_t *p = *pp;
    if (p >= end) {
        return RC_ERR_TRUNCATED;
    }
    size_t avail = (size_t)(end - p);
    uint8_t c = p[0];
    if (c <= 0x7f) {
        *pp = p + 1;
        return uint_col ? put_uint_field(out, ROWCAST__V1__VALUE__KIND_UINT_VALUE, c, true)
                        : put_uint_field(out, ROWCAST__V1__VALUE__KIND_INT_VALUE, 2u * c, true);
    }
    size_t n, head = rc_mp_str_head(p, avail, &n);
    if (head) {
        if (avail - head < n) {
            return RC_ERR_TRUNCATED;
        }
        *pp = p + head + n;
        return put_text_in(out, ROWCAST__V1__VALUE__KIND_STRING_VALUE, p + head, n, true, end);
    }
    if (c >= 0xcc && c <= 0xd3) {
        size_t w = rc_mp_int_width(c);
        if (avail < 1 + w) {
            return RC_ERR_TRUNCATED;
        }
        uint64_t u = rc_mp_int_word(p);
        *pp = p + 1 + w;
        if (c >= 0xd0 && (int64_t)u < 0) {
            return put_uint_field(out, ROWCAST__V1__VALUE__KIND_INT_VALUE, zigzag((int64_t)u),
                                  true);
        }
        return u > INT64_MAX || uint_col
                   ? put_uint_field(out, ROWCAST__V1__VALUE__KIND_UINT_VALUE, u, true)
                   : put_uint_field(out, ROWCAST__V1__VALUE__KIND_INT_VALUE, zigzag((int64_t)u),
                                    true);
    }
    if (c == 0xc7 && avail >= 3) { /* ext 8: DECIMAL, temporals, ENUM, SET, JSON */
        n = p[1];
        if (avail - 3 < n) {
            return RC_ERR_TRUNCATED;
        }
        *pp = p + 3 + n;
        return put_ext(out, (int8_t)p[2], p + 3, (uint32_t)n, end);
    }
    if (c == 0xc0) {
        *pp = p + 1;
        return put_uint_field(out, ROWCAST__V1__VALUE__KIND_NULL_VALUE, 0, true);
    }
    if (c == 0xcb && avail >= 9) {
        *pp = p + 9;
        return put_fixed_field(out, ROWCAST__V1__VALUE__KIND_DOUBLE_VALUE, rc_mp_be64(p + 1),
                               WT_I64);
    }
    return put_value_body(out, pp, end, uint_col);
}

/* A varint field at o; returns its end. */
static inline char *uint_at(char *o, uint32_t field, uint64_t v) {
    return varint_at(varint_at(o, (uint64_t)field << 3 | WT_VARINT), v);
}

/* An ASCII text of up to 32 bytes (32 readable) as field (< 16) at o, as put_text_in writes
 * it; NULL for any other text. */
static inline char *short_text_at(char *o, uint32_t field, const uint8_t *s, size_t n,
                                  const uint8_t *lim) {
    if (n > 32 || lim - s < 32 || !all_ascii(s, n, lim)) {
        return NULL;
    }
    o[0] = (char)(field << 3 | WT_LEN);
    o[1] = (char)n;
    memcpy(o + 2, s, 32);
    return o + 2 + n;
}

/* The Value body of the usual values of a row written at o, which has room for 40 bytes, as
 * put_value_fast writes it: ints, nil, doubles, DATETIMEs, and strings and DECIMAL texts
 * short_text_at takes. Returns the end and moves *pp past the value, or returns NULL (*pp unmoved) for any
 * other value, a truncated one too. */
static inline __attribute__((always_inline)) char *value_at(char *o, const uint8_t **pp,
                                                            const uint8_t *end, bool uint_col) {
    const uint8_t *p = *pp;
    size_t avail = (size_t)(end - p), n, head;
    if (avail == 0) {
        return NULL;
    }
    uint8_t c = p[0];
    char *e;
    uint64_t u;
    switch (c) { /* one jump on the type byte */
    case 0x00 ... 0x7f:
        *pp = p + 1;
        return uint_col ? uint_at(o, ROWCAST__V1__VALUE__KIND_UINT_VALUE, c)
                        : uint_at(o, ROWCAST__V1__VALUE__KIND_INT_VALUE, 2u * c);
    case 0xa0 ... 0xbf:
        n = c & 0x1fu;
        head = 1;
        goto str;
    case 0xd9:
        if (avail < 2) {
            return NULL;
        }
        n = p[1];
        head = 2;
        goto str;
    case 0xcc ... 0xd3:
        if (avail <= rc_mp_int_width(c)) {
            return NULL;
        }
        *pp = p + 1 + rc_mp_int_width(c);
        u = rc_mp_int_word(p);
        if (c >= 0xd0 && (int64_t)u < 0) {
            return uint_at(o, ROWCAST__V1__VALUE__KIND_INT_VALUE, zigzag((int64_t)u));
        }
        return u > INT64_MAX || uint_col
                   ? uint_at(o, ROWCAST__V1__VALUE__KIND_UINT_VALUE, u)
                   : uint_at(o, ROWCAST__V1__VALUE__KIND_INT_VALUE, zigzag((int64_t)u));
    case 0xc7:
        if (avail < 3 || avail - 3 < p[1]) {
            return NULL;
        }
        n = p[1];
        if (p[2] == RC_EXT_DECIMAL) {
            if (!(e = short_text_at(o, ROWCAST__V1__VALUE__KIND_DECIMAL_VALUE, p + 3, n, end))) {
                return NULL;
            }
            *pp = p + 3 + n;
            return e;
        }
        if (p[2] == RC_EXT_DATETIME) {
            if ((e = dt_text_at(o, p + 3, n, end)) == NULL) {
                rc_datetime_t t;
                if (!rc_text_datetime(p + 3, n, &t)) {
                    return NULL;
                }
                e = dt_value_at(o, ROWCAST__V1__VALUE__KIND_DATETIME_VALUE, &t, true);
            }
            *pp = p + 3 + n;
            return e;
        }
        return NULL;
    case 0xc0:
        *pp = p + 1;
        return uint_at(o, ROWCAST__V1__VALUE__KIND_NULL_VALUE, 0);
    case 0xcb: {
        if (avail < 9) {
            return NULL;
        }
        uint64_t bits = rc_mp_be64(p + 1);
        *pp = p + 9;
        *o++ = (char)(ROWCAST__V1__VALUE__KIND_DOUBLE_VALUE << 3 | WT_I64);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(o, &bits, 8); /* protobuf's fixed64 is little-endian, as the machine */
#else
        for (size_t i = 0; i < 8; i++) {
            o[i] = (char)(bits >> (8 * i)); /* little-endian */
        }
#endif
        return o + 8;
    }
    default:
        return NULL;
    }
str:
    if (avail - head < n ||
        !(e = short_text_at(o, ROWCAST__V1__VALUE__KIND_STRING_VALUE, p + head, n, end))) {
        return NULL;
    }
    *pp = p + head + n;
    return e;
}

#define COL_ROOM (PTPL_HEAD + 40) /* a Column's head (40 copied) and value_at's Value body */

/* The columns of a row from its first, while their names are their position's template and
 * value_at takes their values with both lengths under 128, written at *op, which has room for
 * nt columns (COL_ROOM each): a table's usual row. Everything stays in locals: no room check
 * and no store of the buffer's length per column. Returns how many columns it wrote (stopping
 * at the first one it cannot write, with nothing of it written) and moves *pp and *op past
 * them; *cur_off is the cursor the last of them with one left (0: none did). */
static inline uint32_t cols_fast(const ptpl_col_t *tcols, uint32_t nt, const uint8_t **pp,
                                 const uint8_t *end, char **op, uint32_t *cur_off) {
    const uint8_t *p = *pp;
    char *o = *op;
    uint32_t i = 0, cur = 0;
    for (; i < nt && end - p >= 32; i++) {
        const ptpl_col_t *tc = &tcols[i];
        /* skip has every bit from mp_len up set: those rc_tpl_eq_bits leaves 0 too */
        if ((rc_tpl_eq_bits(tc->mp, tc->mp_len, p) | tc->skip) != ~0ULL) {
            break;
        }
        memcpy(o, tc->head, PTPL_HEAD);
        char *vo = o + tc->head_len, *e;
        const uint8_t *q = p + tc->mp_len;
        if ((e = value_at(vo, &q, end, tc->uint_col)) == NULL || e - o - 2 >= 0x80) {
            break;
        }
        o[1] = (char)(e - o - 2); /* the Column's length, then the Value's */
        vo[-1] = (char)(e - vo);
        o = e;
        p = q;
    }
    for (uint32_t k = i; k > 0 && !cur; k--) { /* the last column written that has a cursor */
        cur = tcols[k - 1].cur_off;
    }
    *pp = p;
    *op = o;
    *cur_off = cur;
    return i;
}

/* The columns of a row (or key) map at *pp, each as field `field` (a Column); cols (may be
 * NULL) describes them; rt (may be NULL) is the table's row template, synced with cols. */
static rc_err_t put_columns(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, rc_cols_t *cols,
                            ptpl_row_t *rt) {
    uint32_t n;
    rc_err_t err = rc_mp_read_map(pp, end, &n);
    if (err != RC_OK) {
        return err;
    }
    if (rt && n > rt->cap) {
        row_grow(rt, n);
    }
    /* the reading position stays in p (a byte store cannot change it), *pp is kept for the
     * calls that take it */
    const uint8_t *p = *pp;
    ptpl_col_t *tcols = rt ? rt->cols : NULL;
    uint32_t nt = rt ? (n < rt->cap ? n : rt->cap) : 0;
    uint32_t i = 0;
    if (nt && ensure(out, (size_t)nt * COL_ROOM) == RC_OK) {
        char *o = out->data + out->len;
        uint32_t cur_off;
        i = cols_fast(tcols, nt, &p, end, &o, &cur_off);
        out->len = (size_t)(o - out->data);
        if (cur_off && cols) {
            cols->cur = cols->start + cur_off; /* as the lookups the templates save leave it */
        }
    }
    for (; i < n; i++) {
        size_t col, val;
        bool uint_col;
        const uint8_t *k = p;
        ptpl_col_t *tc = i < nt ? &tcols[i] : NULL;
        if (tc && rc_tpl_key_eq(tc->mp, tc->mp_len, k, end)) {
            if (ensure(out, PTPL_HEAD + 40) != RC_OK) {
                return RC_ERR_NOMEM;
            }
            if (tc->cur_off && cols) {
                /* the cursor where the lookup the template saves would leave it, so that a
                 * later lookup of a name the descriptor has twice finds the same entry */
                cols->cur = cols->start + tc->cur_off;
            }
            char *o = out->data + out->len, *e;
            memcpy(o, tc->head, PTPL_HEAD); /* the bytes past head_len lie beyond out->len */
            col = out->len + 1;
            o += tc->head_len;
            val = col + tc->head_len - 2;
            const uint8_t *v = k + tc->mp_len, *q = v;
            if ((e = value_at(o, &q, end, tc->uint_col)) != NULL) {
                /* the Value and the Column both shorter than 128 bytes: their lengths */
                size_t cb = (size_t)(e - out->data) - col - 1;
                p = q;
                out->len = (size_t)(e - out->data);
                if (cb < 0x80) {
                    out->data[val] = (char)(cb - (val - col));
                    out->data[col] = (char)cb;
                    continue;
                }
                if ((err = sub_end(out, val)) != RC_OK || (err = sub_end(out, col)) != RC_OK) {
                    return err;
                }
                continue;
            }
            out->len = (size_t)(o - out->data);
            *pp = v;
            uint_col = tc->uint_col;
        } else {
            const char *name;
            uint32_t name_len;
            rc_col_info_t ci = {0};
            *pp = k;
            if (k < end && (*k & 0xe0) == 0xa0 && (size_t)(end - k) > (*k & 0x1fu)) {
                name = (const char *)k + 1; /* fixstr, the usual column name */
                name_len = *k & 0x1fu;
                *pp = k + 1 + name_len;
            } else if ((err = rc_mp_read_str(pp, end, &name, &name_len)) != RC_OK) {
                return err;
            }
            uint32_t cur_off = 0;
            if (cols && rc_cols_find(cols, name, name_len, &ci)) {
                cur_off = (uint32_t)(cols->cur - cols->start);
            }
            if (tc) {
                col_learn(tc, k, name, name_len, &ci, cols, cur_off);
            }
            if (all_ascii((const uint8_t *)name, name_len, end) && name_len < 0x80) {
                /* Column {name, value: placeholder} in one go; both fields are numbers < 16 */
                if (ensure(out, 6 + (name_len > 16 ? name_len : 16)) != RC_OK) {
                    return RC_ERR_NOMEM;
                }
                char *o = out->data + out->len;
                *o++ = (char)(F_ROW_COLUMNS << 3 | WT_LEN);
                col = (size_t)(o - out->data);
                *o++ = 0;
                if (name_len) {
                    *o++ = (char)(F_COLUMN_NAME << 3 | WT_LEN);
                    *o++ = (char)name_len;
                    if (name_len <= 16 && end - (const uint8_t *)name >= 16) {
                        memcpy(o, name, 16); /* a fixed-size copy; the bytes past name_len are
                                                overwritten below or lie beyond out->len */
                    } else {
                        memcpy(o, name, name_len);
                    }
                    o += name_len;
                }
                *o++ = (char)(F_COLUMN_VALUE << 3 | WT_LEN);
                val = (size_t)(o - out->data);
                *o++ = 0;
                out->len = (size_t)(o - out->data);
            } else if ((err = sub_begin(out, F_ROW_COLUMNS, &col)) != RC_OK ||
                       (err = put_text_field(out, F_COLUMN_NAME, name, name_len, false)) != RC_OK ||
                       (err = sub_begin(out, F_COLUMN_VALUE, &val)) != RC_OK) {
                return err;
            }
            uint_col = is_uint_col(&ci);
        }
        if ((err = put_value_fast(out, pp, end, uint_col)) != RC_OK ||
            (err = sub_end(out, val)) != RC_OK || (err = sub_end(out, col)) != RC_OK) {
            return err;
        }
        p = *pp;
    }
    *pp = p;
    return RC_OK;
}

enum { K_SCHEMA, K_TABLE, K_ACTION, K_BEFORE, K_AFTER, K_META, K_COUNT };

/* What the writers of an event's fields share. */
typedef struct enc {
    rc_cols_t *cols;            /* kafka.columns, NULL when it describes nothing */
    rc_proto_tpl_t *t;          /* NULL: no templates */
    const uint8_t *at[K_COUNT]; /* the event's field values, once seen */
    ptpl_row_t *rt;             /* the table's row template, once picked (NULL: none) */
    bool rt_picked;
    ptpl_run_t *run; /* the event map's run when it matched and holds schema and table */
} enc_t;

/* True when the descriptor cols (NULL: none) is the one rt's column infos were learnt with
 * (rc_tpl_row_sync would find its bytes the same), without its call. */
static inline bool desc_same(const ptpl_row_t *rt, const rc_cols_t *cols) {
    size_t n = cols ? (size_t)(cols->end - cols->start) : 0;
    return n == rt->desc_len && (n == 0 || memcmp(cols->start, rt->desc, n) == 0);
}

static rc_err_t put_rows(rc_buf_t *out, uint32_t field, const uint8_t **pp, const uint8_t *end,
                         enc_t *e) {
    if (e->t && !e->rt_picked) {
        /* the slot is a function of schema's and table's bytes: one event run holding them
         * keeps it (which slot a table takes changes no byte of the output, only its speed) */
        ptpl_run_t *r = e->run;
        size_t slot;
        if (r && r->slot_ok) {
            slot = r->slot;
        } else {
            slot = rc_tpl_table_hash(e->at[K_SCHEMA], e->at[K_TABLE], end) % PTPL_SLOTS;
            if (r) {
                r->slot = (uint16_t)slot;
                r->slot_ok = true;
            }
        }
        ptpl_row_t *rt = &e->t->rows[slot];
        e->rt =
            desc_same(rt, e->cols) || rc_tpl_row_sync(&rt->desc, &rt->desc_len, &rt->desc_cap,
                                                      e->cols, rt->cols, rt->cap, sizeof *rt->cols)
                ? rt
                : NULL;
        e->rt_picked = true;
    }
    uint32_t n;
    rc_err_t err = rc_mp_read_array(pp, end, &n);
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        size_t mark;
        ptpl_row_t *rt = e->rt;
        bool wide = rt && rt->wide; /* a two-byte placeholder, as the last row needed */
        if ((err = wide ? sub_begin2(out, field, &mark) : sub_begin(out, field, &mark)) == RC_OK &&
            (err = put_columns(out, pp, end, e->cols, rt)) == RC_OK) {
            size_t body = out->len - mark - (wide ? 2 : 1);
            if (rt) {
                rt->wide = body >= 0x80 && body < 0x4000;
            }
            err = wide ? sub_end2(out, mark) : sub_end(out, mark);
        }
    }
    return err;
}

/* A str field of the event; nil gives nothing. */
static rc_err_t put_str_of(rc_buf_t *out, uint32_t field, const uint8_t **pp, const uint8_t *end) {
    const char *s;
    uint32_t n;
    if (*pp < end && **pp == 0xc0) { /* nil */
        (*pp)++;
        return RC_OK;
    }
    rc_err_t err = read_str(pp, end, &s, &n);
    return err != RC_OK ? err : put_text_in(out, field, s, n, false, end);
}

static rc_err_t put_uint_of(rc_buf_t *out, uint32_t field, const uint8_t **pp, const uint8_t *end) {
    const uint8_t *p = *pp;
    if (p < end && p[0] >= 0xcc && p[0] <= 0xcf) { /* uint 8/16/32/64 read inline */
        size_t w = (size_t)1 << (p[0] - 0xcc);
        if ((size_t)(end - p) > w) {
            uint64_t u = w == 1   ? p[1]
                         : w == 2 ? rc_mp_be16(p + 1)
                         : w == 4 ? rc_mp_be32(p + 1)
                                  : rc_mp_be64(p + 1);
            *pp = p + 1 + w;
            return put_uint_field(out, field, u, false);
        }
    } else if (p < end && p[0] <= 0x7f) {
        *pp = p + 1;
        return put_uint_field(out, field, p[0], false);
    }
    mp_val_t v;
    rc_err_t err = mp_next(pp, end, &v);
    if (err != RC_OK || v.kind == MP_NIL) {
        return err;
    }
    return v.kind == MP_UINT ? put_uint_field(out, field, v.u, false) : RC_ERR_INVALID;
}

typedef struct key {
    const char *name;
    uint32_t len;
} field_key_t;

/* The index of s[0..n) in keys[0..count), or count. */
static inline size_t key_index(const field_key_t *keys, size_t count, const char *s, uint32_t n) {
    for (size_t j = 0; j < count; j++) {
        if (keys[j].len == n && memcmp(keys[j].name, s, n) == 0) {
            return j;
        }
    }
    return count;
}

#define KEY(s)                                                                                     \
    { s, sizeof(s) - 1 }

/* Protobuf wants fields in number order for canonical bytes; maps from the decoder have their
 * keys in that order already, so each value is encoded where it is found (one pass). A map
 * whose keys come in another order (a script rebuilt it) is encoded again in two passes: find
 * every key, then encode in order. put(out, j, &p, end) encodes field j from the value at p
 * and moves p past it. */
typedef rc_err_t (*put_field_fn)(rc_buf_t *out, size_t j, const uint8_t **pp, const uint8_t *end,
                                 enc_t *e);

/* Sets f's compare masks from its lengths: after every change of len or kv_len. */
static inline void field_masks(ptpl_field_t *f) {
    f->key_skip = ~rc_tpl_mask(f->len);
    f->kv_skip = ~rc_tpl_mask(f->kv_len);
}

/* rc_tpl_match_kv of f's template at k: with 32 bytes readable one 32-byte compare and the
 * masks, without a branch on the lengths. */
static inline __attribute__((always_inline)) int field_match(const ptpl_field_t *f,
                                                             const uint8_t *k, const uint8_t *end) {
    if (end - k >= 32) {
        uint64_t eq = rc_tpl_eq_bits32(f->mp, k);
        return (eq | f->kv_skip) == ~0ULL ? 2 : (eq | f->key_skip) == ~0ULL;
    }
    return rc_tpl_match_kv(f->mp, f->len, f->kv_len, k, end);
}

/* Makes the key at k (its str read up to next; j its index) its position's template, or none. */
static void field_learn(ptpl_field_t *f, const uint8_t *k, const uint8_t *next, size_t j) {
    size_t n = (size_t)(next - k);
    f->len = 0;
    f->kv_len = 0;
    if ((k[0] & 0xe0) != 0xa0 || n > 15) {
        field_masks(f);
        return;
    }
    memset(f->mp, 0, sizeof f->mp);
    memcpy(f->mp, k, n);
    f->len = (uint8_t)n;
    f->j = (uint8_t)j;
    field_masks(f);
}

/* After its key (f's template) the value at v[0..vn) was written as b[0..bn): makes key and
 * value the position's template when they fit, else leaves it without a value. */
static void field_learn_value(ptpl_field_t *f, const uint8_t *v, size_t vn, const char *b,
                              size_t bn) {
    f->kv_len = 0;
    f->kv_hits = 0;
    field_masks(f);
    if (f->len == 0 || vn == 0 || f->len + vn > sizeof f->mp || bn > sizeof f->pb ||
        !rc_tpl_kv_scalar(v[0])) {
        return;
    }
    memcpy(f->mp + f->len, v, vn);
    if (bn) {
        memcpy(f->pb, b, bn);
    }
    f->pb_len = (uint8_t)bn;
    f->kv_len = (uint8_t)(f->len + vn);
    field_masks(f);
}

/* True when the PRUN_MP bytes at p (there must be that many before end) start with r's run. */
static inline bool run_matches(const ptpl_run_t *r, const uint8_t *p, const uint8_t *end) {
    return rc_tpl_run_eq(r->mp, r->mask, r->mp_len, p, end);
}

/* Makes the map's first npos members (msgpack p0[0..mp_len), written as pb[0..pb_len)), all
 * key and value hits in field order, r's run when they fit. Where each field's value lies is
 * read from the bytes (the positions' templates may have changed since a shorter run was
 * learnt from them). */
static void run_learn(ptpl_run_t *r, const field_key_t *keys, size_t count, const uint8_t *p0,
                      uint32_t npos, size_t mp_len, const char *pb, size_t pb_len,
                      const uint8_t *end) {
    r->mp_len = 0;
    r->slot_ok = false;
    if (mp_len > PRUN_MP || pb_len > PRUN_PB || npos > PTPL_FIELDS) {
        return;
    }
    memset(r->at, 0, sizeof r->at);
    const uint8_t *q = p0;
    size_t next = 0;
    for (uint32_t i = 0; i < npos; i++) {
        const char *k;
        uint32_t klen;
        if (read_str(&q, end, &k, &klen) != RC_OK) {
            return;
        }
        size_t j = key_index(keys, count, k, klen);
        if (j >= count || j < next || j >= PTPL_FIELDS) {
            return;
        }
        r->at[j] = (uint8_t)(q - p0);
        next = j + 1;
        if (rc_mp_skip(&q, end) != RC_OK) {
            return;
        }
    }
    if (q != p0 + mp_len || mp_len == 0) {
        return;
    }
    memset(r->mp, 0, sizeof r->mp);
    memcpy(r->mp, p0, mp_len);
    if (pb_len) {
        memcpy(r->pb, pb, pb_len);
    }
    r->pb_len = (uint8_t)pb_len;
    r->mask = mp_len == 64 ? ~0ULL : (1ULL << mp_len) - 1;
    r->npos = (uint8_t)npos;
    r->next = (uint8_t)next;
    r->mp_len = (uint8_t)mp_len;
}

/* mt (NULL: none): the map's key templates. map_end (NULL: not known): where the map ends, from
 * a caller that has walked it whole; a last key that is not in keys is then not skipped
 * through. at_of (NULL: none) gets the value of each field j at at_of[j]. */
static rc_err_t put_ordered(rc_buf_t *out, const uint8_t **pp, const uint8_t *end,
                            const field_key_t *keys, size_t count, put_field_fn put, enc_t *e,
                            ptpl_map_t *mt, const uint8_t *map_end, const uint8_t **at_of) {
    size_t mark = out->len;
    const uint8_t *start = *pp, *p = *pp;
    uint32_t n;
    rc_err_t err = rc_mp_read_map(&p, end, &n);
    size_t next = 0; /* fields below this one are done */
    bool in_order = true;
    const uint8_t *p0 = p;
    uint32_t i0 = 0, run = 0; /* run: the leading members that were key and value hits */
    size_t run_mp = 0, run_pb = 0;
    ptpl_run_t *r = mt ? &mt->run : NULL;
    if (err == RC_OK && r && r->mp_len && r->npos <= n && run_matches(r, p0, end)) {
        if (ensure(out, PRUN_PB) != RC_OK) {
            return RC_ERR_NOMEM;
        }
        memcpy(out->data + out->len, r->pb, PRUN_PB);
        out->len += r->pb_len;
        p = p0 + r->mp_len;
        if (at_of) {
            for (size_t j = 0; j < count && j < PTPL_FIELDS; j++) {
                if (r->at[j]) {
                    at_of[j] = p0 + r->at[j];
                }
            }
            if (r->at[K_SCHEMA] && r->at[K_TABLE]) {
                e->run = r; /* at_of is the event map's: schema and table are in the run */
            }
        }
        next = r->next;
        i0 = r->npos;
        run = i0; /* members after the run that are hits too make a longer run */
    }
    for (uint32_t i = i0; i < n && err == RC_OK; i++) {
        const uint8_t *kp = p;
        const char *k;
        uint32_t klen;
        size_t j = count;
        ptpl_field_t *f = mt && i < PTPL_FIELDS ? &mt->f[i] : NULL;
        int m = f ? field_match(f, kp, end) : 0;
        int learn = 0; /* 1: a new key's first value, 2: a value other than the template's */
        if (m) {
            j = f->j;
            p = kp + f->len;
            learn = f->kv_len ? 2 : 0;
        } else if (read_str(&p, end, &k, &klen) == RC_OK) {
            j = key_index(keys, count, k, klen);
            if (f) {
                field_learn(f, kp, p, j);
                learn = 1;
            }
        } else if ((err = rc_mp_skip(&p, end)) != RC_OK) {
            break;
        }
        if (j == count) {
            if (map_end && i + 1 == n && map_end > p && map_end <= end) {
                p = map_end; /* the caller's walk went through it */
            } else {
                err = rc_mp_skip(&p, end);
            }
        } else if (j < next) {
            in_order = false;
            break;
        } else {
            const uint8_t *v = p;
            if (at_of) {
                at_of[j] = v;
            }
            if (m == 2) { /* the value too: the field's bytes */
                if (ensure(out, sizeof f->pb) != RC_OK) {
                    return RC_ERR_NOMEM;
                }
                memcpy(out->data + out->len, f->pb, sizeof f->pb);
                out->len += f->pb_len;
                p = kp + f->kv_len;
                f->kv_hits += f->kv_hits < 255;
                if (run == i) {
                    run = i + 1;
                    run_mp = (size_t)(p - p0);
                    run_pb = out->len - mark;
                }
            } else {
                size_t at = out->len;
                err = put(out, j, &p, end, e);
                if (err == RC_OK && (learn == 1 || (learn == 2 && f->kv_hits >= PTPL_KV_HOLD))) {
                    /* a field that wrote nothing may leave out without a buffer yet */
                    field_learn_value(f, v, (size_t)(p - v), out->len > at ? out->data + at : NULL,
                                      out->len - at);
                } else if (learn == 2) {
                    f->kv_len = 0;
                    field_masks(f);
                }
            }
            next = j + 1;
        }
    }
    if (err != RC_OK || in_order) {
        if (err == RC_OK && run >= 2 && run > i0) {
            run_learn(r, keys, count, p0, run, run_mp, out->data + mark, run_pb, end);
        }
        *pp = p;
        return err;
    }

    /* slow path */
    out->len = mark;
    const uint8_t *at[16] = {0};
    p = start;
    err = rc_mp_read_map(&p, end, &n);
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        const char *k;
        uint32_t klen;
        if (read_str(&p, end, &k, &klen) == RC_OK) {
            size_t j = key_index(keys, count, k, klen);
            if (j < count) {
                at[j] = p;
            }
        } else if ((err = rc_mp_skip(&p, end)) != RC_OK) {
            break;
        }
        err = rc_mp_skip(&p, end);
    }
    for (size_t j = 0; j < count && err == RC_OK; j++) {
        const uint8_t *v = at[j];
        if (v) {
            if (at_of) {
                at_of[j] = v;
            }
            err = put(out, j, &v, end, e);
        }
    }
    *pp = p;
    return err;
}

enum { M_PIPELINE, M_TIMESTAMP, M_GTID, M_FILE, M_POS, M_SERVER_ID, M_COMMIT_TS, M_COUNT };

static const field_key_t k_meta_keys[M_COUNT] = {
    KEY("pipeline"),   KEY("timestamp"), KEY("gtid"),      KEY("binlog_file"),
    KEY("binlog_pos"), KEY("server_id"), KEY("commit_ts"),
};

static rc_err_t put_meta_field(rc_buf_t *out, size_t j, const uint8_t **pp, const uint8_t *end,
                               enc_t *e) {
    (void)e;
    static const uint32_t fields[M_COUNT] = {
        F_META_PIPELINE,   F_META_TIMESTAMP_US, F_META_GTID,      F_META_BINLOG_FILE,
        F_META_BINLOG_POS, F_META_SERVER_ID,    F_META_COMMIT_TS,
    };
    switch (j) {
    case M_PIPELINE:
    case M_GTID:
    case M_FILE:
        return put_str_of(out, fields[j], pp, end);
    default:
        return put_uint_of(out, fields[j], pp, end);
    }
}

/* meta through the key templates of mt alone, the usual case: a fixmap whose every key is the
 * one its position saw before, in field order, each value a uint (positive fixint, uint 8..64)
 * or an ASCII str of up to 64 bytes (fixstr, str 8) as its field wants, with 64 bytes readable
 * after it, or the value its position's template holds (pipeline, binlog_file, server_id row
 * after row: the field's bytes copied). Writes what put_ordered and put_meta_field write for it
 * and returns true; false for
 * anything else (a key not its position's, an unknown key, nil, other widths, non-ASCII text),
 * with out->len where it was, for put_ordered to write it. */
static bool put_meta_fast(rc_buf_t *out, const uint8_t **pp, const uint8_t *end,
                          const ptpl_map_t *mt) {
    const uint8_t *p = *pp;
    if (p >= end || (p[0] & 0xf0) != 0x80) {
        return false;
    }
    uint32_t n = p[0] & 0x0fu;
    p++;
    if (ensure(out, (size_t)n * (2 + 64)) != RC_OK) {
        return false;
    }
    char *o = out->data + out->len;
    size_t next = 0;
    for (uint32_t i = 0; i < n; i++) {
        const ptpl_field_t *f = &mt->f[i];
        size_t j = f->j;
        int m = field_match(f, p, end);
        if (m == 0 || j < next || j >= M_COUNT) {
            return false;
        }
        next = j + 1;
        if (m == 2) { /* the value too (pipeline, binlog_file, server_id): the field's bytes */
            memcpy(o, f->pb, sizeof f->pb);
            o += f->pb_len;
            p += f->kv_len;
            continue;
        }
        p += f->len;
        if (p >= end) {
            return false;
        }
        uint8_t c = p[0];
        uint32_t field = (uint32_t)j + 1; /* F_META_PIPELINE .. F_META_COMMIT_TS */
        if (j == M_PIPELINE || j == M_GTID || j == M_FILE) {
            size_t head = c == 0xd9 ? 2 : 1, len;
            if ((c & 0xe0) == 0xa0) {
                len = c & 0x1fu;
            } else if (c == 0xd9 && end - p >= 2) {
                len = p[1];
            } else {
                return false;
            }
            const uint8_t *s = p + head;
            if (len > 64 || end - s < 64 || (size_t)(end - s) < len || !all_ascii(s, len, end)) {
                return false;
            }
            if (len) { /* proto3 leaves an empty string out */
                o[0] = (char)(field << 3 | WT_LEN);
                o[1] = (char)len;
                memcpy(o + 2, s, 64); /* the bytes past len lie beyond out->len */
                o += 2 + len;
            }
            p = s + len;
        } else {
            uint64_t u;
            if (c <= 0x7f) {
                u = c;
                p++;
            } else if (c >= 0xcc && c <= 0xcf && (size_t)(end - p) > rc_mp_int_width(c)) {
                u = rc_mp_int_word(p);
                p += 1 + rc_mp_int_width(c);
            } else {
                return false;
            }
            if (u) { /* proto3 leaves zero out */
                o = uint_at(o, field, u);
            }
        }
    }
    out->len = (size_t)(o - out->data);
    *pp = p;
    return true;
}

static const field_key_t k_event_keys[K_COUNT] = {
    KEY("schema"), KEY("table"), KEY("action"), KEY("before"), KEY("after"), KEY("meta"),
};

static rc_err_t put_event_field(rc_buf_t *out, size_t j, const uint8_t **pp, const uint8_t *end,
                                enc_t *e) {
    rc_err_t err;
    switch (j) {
    case K_SCHEMA:
        return put_str_of(out, F_EVENT_SCHEMA, pp, end);
    case K_TABLE:
        return put_str_of(out, F_EVENT_TABLE, pp, end);
    case K_ACTION: {
        const char *a;
        uint32_t alen;
        if ((err = read_str(pp, end, &a, &alen)) != RC_OK) {
            return err;
        }
        uint64_t action = alen == 6 && memcmp(a, RC_ACTION_INSERT, 6) == 0   ? 1
                          : alen == 6 && memcmp(a, RC_ACTION_UPDATE, 6) == 0 ? 2
                          : alen == 6 && memcmp(a, RC_ACTION_DELETE, 6) == 0 ? 3
                                                                             : 0;
        return action == 0 ? RC_ERR_INVALID : put_uint_field(out, F_EVENT_ACTION, action, false);
    }
    case K_BEFORE:
        return put_rows(out, F_EVENT_BEFORE, pp, end, e);
    case K_AFTER:
        return put_rows(out, F_EVENT_AFTER, pp, end, e);
    default: {
        size_t mark;
        if ((err = sub_begin(out, F_EVENT_META, &mark)) != RC_OK) {
            return err;
        }
        if (!(e->t && put_meta_fast(out, pp, end, &e->t->meta)) &&
            (err = put_ordered(out, pp, end, k_meta_keys, M_COUNT, put_meta_field, e,
                               e->t ? &e->t->meta : NULL, NULL, NULL)) != RC_OK) {
            return err;
        }
        return sub_end(out, mark);
    }
    }
}

/* The usual event of a stream, written without put_ordered's loop: a fixmap whose leading
 * members are the event map's run (schema, table, action, an empty before; the run holds schema
 * and table and ends before after), followed by exactly three members whose keys are their
 * positions' templates: after, meta (written by put_meta_fast) and a last one that is no field
 * (kafka), which the caller's walk passed (ev_end). These are the steps put_ordered takes for
 * such an event, in its order, and there is nothing for it to learn from one. Returns true when
 * it wrote the event (*pp moved to ev_end); false, with out->len put back, for any other event
 * or at any step that is not the usual one (an error too): the caller then writes the event the
 * general way from the start, with e as it was before. */
static bool event_fast(rc_buf_t *out, rc_proto_tpl_t *t, const uint8_t **pp, const uint8_t *end,
                       const uint8_t *ev_end, enc_t *e) {
    const uint8_t *p = *pp;
    ptpl_map_t *mt = &t->event;
    const ptpl_run_t *r = &mt->run;
    if (end - p < 1 || (p[0] & 0xf0) != 0x80 || !r->mp_len) {
        return false;
    }
    uint32_t n = p[0] & 0x0fu, i0 = r->npos;
    const uint8_t *p0 = p + 1;
    if (n != i0 + 3 || r->next != K_AFTER || !r->at[K_SCHEMA] || !r->at[K_TABLE] || ev_end > end ||
        !run_matches(r, p0, end)) {
        return false;
    }
    const ptpl_field_t *fa = &mt->f[i0], *fm = &mt->f[i0 + 1], *fk = &mt->f[i0 + 2];
    if (fa->j != K_AFTER || fm->j != K_META || fk->j != K_COUNT || fa->kv_len || fm->kv_len ||
        fk->kv_len) {
        return false;
    }
    size_t mark = out->len, meta;
    if (ensure(out, PRUN_PB) != RC_OK) {
        return false;
    }
    if (r->pb_len <= 32) { /* the usual run: schema, table and action in 32 bytes */
        memcpy(out->data + out->len, r->pb, 32);
    } else {
        memcpy(out->data + out->len, r->pb, PRUN_PB);
    }
    out->len += r->pb_len;
    /* what put_rows reads of the fields before it (put_ordered would set the run's others) */
    e->at[K_SCHEMA] = p0 + r->at[K_SCHEMA];
    e->at[K_TABLE] = p0 + r->at[K_TABLE];
    e->run = &mt->run;
    p = p0 + r->mp_len;
    if (field_match(fa, p, end) != 1) {
        goto back;
    }
    p += fa->len;
    if (put_rows(out, F_EVENT_AFTER, &p, end, e) != RC_OK || field_match(fm, p, end) != 1) {
        goto back;
    }
    p += fm->len;
    if (sub_begin(out, F_EVENT_META, &meta) != RC_OK || !put_meta_fast(out, &p, end, &t->meta)) {
        goto back;
    }
    if (out->len - meta - 1 < 0x80) {
        out->data[meta] = (char)(out->len - meta - 1); /* sub_end's usual case */
    } else if (sub_end(out, meta) != RC_OK) {
        goto back;
    }
    if (field_match(fk, p, end) != 1) {
        goto back;
    }
    p += fk->len;
    if (!(ev_end > p)) {
        goto back;
    }
    *pp = ev_end; /* the caller's walk went through kafka */
    return true;
back:
    out->len = mark;
    return false;
}

static rc_err_t write_event(rc_buf_t *out, rc_proto_tpl_t *t, const uint8_t *data, size_t len,
                            const uint8_t *columns, const uint8_t *ev_end, size_t *used) {
    size_t mark = out->len;
    const uint8_t *p = data, *end = data + len;
    rc_cols_t cols;
    rc_cols_init(&cols, columns, end);
    enc_t e = {.cols = rc_cols_any(&cols) ? &cols : NULL, .t = t};
    if (t) { /* the row template picked below, synced with this descriptor, for the key */
        t->key_cols = columns;
        t->key_end = end;
    }
    if (len && t && ev_end && event_fast(out, t, &p, end, ev_end, &e)) {
        t->key_rt = e.rt;
        if (used) {
            *used = (size_t)(p - data);
        }
        return RC_OK;
    }
    /* from the start, as event_fast found it: the descriptor's cursor too */
    cols.cur = cols.start;
    e = (enc_t){.cols = rc_cols_any(&cols) ? &cols : NULL, .t = t};
    rc_err_t err = len == 0 ? RC_ERR_TRUNCATED
                            : put_ordered(out, &p, end, k_event_keys, K_COUNT, put_event_field, &e,
                                          t ? &t->event : NULL, t ? ev_end : NULL, e.at);
    if (t) {
        t->key_rt = e.rt;
    }
    if (err != RC_OK) {
        out->len = mark;
        return err;
    }
    if (used) {
        *used = (size_t)(p - data);
    }
    return RC_OK;
}

rc_err_t rc_proto_write_event_typed(rc_buf_t *out, const uint8_t *data, size_t len,
                                    const uint8_t *columns, size_t *used) {
    return write_event(out, NULL, data, len, columns, NULL, used);
}

rc_err_t rc_proto_write_event_tpl(rc_buf_t *out, rc_proto_tpl_t *t, const uint8_t *data, size_t len,
                                  const uint8_t *columns, const uint8_t *ev_end, size_t *used) {
    return write_event(out, t, data, len, columns, ev_end, used);
}

rc_err_t rc_proto_write_event(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used) {
    return rc_proto_write_event_typed(out, data, len, rc_cols_of_event(data, len), used);
}

/* The usual key (a fixmap of columns {pk: value}) written in one pass: each name a fixstr of
 * ASCII, 33 bytes readable from it, each value one value_at takes and each Column shorter than
 * 128 bytes; the column infos found by rc_cols_find in the map's order, as put_columns finds
 * them. Writes what put_columns writes for it and returns true; false for any other key, with
 * out->len where it was (the descriptor's cursor may have moved). */
static bool key_fast(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, rc_cols_t *cols) {
    const uint8_t *p = *pp;
    if (p >= end || (p[0] & 0xf0) != 0x80) {
        return false;
    }
    uint32_t n = p[0] & 0x0fu;
    p++;
    /* per Column: tag, length, the name's field (2 + 31, 32 copied), the Value's tag and length
     * and value_at's 40 bytes */
    if (ensure(out, (size_t)n * 80) != RC_OK) {
        return false;
    }
    char *o0 = out->data + out->len, *o = o0;
    for (uint32_t i = 0; i < n; i++) {
        if (end - p < 33 || (p[0] & 0xe0) != 0xa0) {
            return false;
        }
        uint32_t nl = p[0] & 0x1fu;
        const uint8_t *name = p + 1, *v = name + nl;
        if (!all_ascii(name, nl, end)) {
            return false;
        }
        rc_col_info_t ci = {0};
        if (cols) {
            rc_cols_find(cols, (const char *)name, nl, &ci);
        }
        char *q = o + 2;
        o[0] = (char)(F_ROW_COLUMNS << 3 | WT_LEN);
        if (nl) { /* proto3 leaves an empty name out */
            q[0] = (char)(F_COLUMN_NAME << 3 | WT_LEN);
            q[1] = (char)nl;
            memcpy(q + 2, name, 32); /* the bytes past nl are overwritten or lie beyond */
            q += 2 + nl;
        }
        q[0] = (char)(F_COLUMN_VALUE << 3 | WT_LEN);
        char *e = value_at(q + 2, &v, end, is_uint_col(&ci));
        if (!e || e - o - 2 >= 0x80) {
            return false;
        }
        q[1] = (char)(e - q - 2);
        o[1] = (char)(e - o - 2);
        o = e;
        p = v;
    }
    out->len += (size_t)(o - o0);
    *pp = p;
    return true;
}

rc_err_t rc_proto_write_key_typed(rc_buf_t *out, const uint8_t *data, size_t len,
                                  const uint8_t *columns, size_t *used) {
    size_t mark = out->len;
    const uint8_t *p = data;
    rc_cols_t cols;
    rc_cols_init(&cols, columns, data + len);
    if (len && key_fast(out, &p, data + len, rc_cols_any(&cols) ? &cols : NULL)) {
        if (used) {
            *used = (size_t)(p - data);
        }
        return RC_OK;
    }
    p = data;
    cols.cur = cols.start; /* as key_fast found it */
    rc_err_t err = len == 0
                       ? RC_ERR_TRUNCATED
                       : put_columns(out, &p, data + len, rc_cols_any(&cols) ? &cols : NULL, NULL);
    if (err != RC_OK) {
        out->len = mark;
        return err;
    }
    if (used) {
        *used = (size_t)(p - data);
    }
    return RC_OK;
}

/* The key at *pp as key_fast writes it, when it is a fixmap of 1 to PTPL_KEY_COLS columns
 * whose names positions of rt have (rt: the event's row template, synced with the key's
 * descriptor by write_event): each Column's head is its position's, and its value value_at's
 * with that position's uint_col (key_fast's rc_cols_find finds the same info: a template only
 * holds a name the descriptor has at most once). False, with nothing written and *pp unmoved,
 * for any other key (or one key_fast would not take either). */
static inline __attribute__((always_inline)) bool key_tpl(rc_buf_t *out, const uint8_t **pp,
                                                          const uint8_t *end, ptpl_row_t *rt) {
    const uint8_t *p = *pp;
    uint32_t n = p < end && (p[0] & 0xf0) == 0x80 ? p[0] & 0x0fu : 0;
    if (n == 0 || n > PTPL_KEY_COLS || ensure(out, (size_t)n * 80) != RC_OK) {
        return false;
    }
    p++;
    char *o0 = out->data + out->len, *o = o0;
    for (uint32_t i = 0; i < n; i++) {
        if (end - p < 33) {
            return false;
        }
        uint32_t j = rt->key_col[i], cap = rt->cap;
        bool hit = j < cap && rc_tpl_eq32(rt->cols[j].mp, rt->cols[j].skip, p);
        for (uint32_t k = 0; !hit && k < cap && k < PTPL_KEY_SCAN; k++) {
            if (rc_tpl_eq32(rt->cols[k].mp, rt->cols[k].skip, p)) {
                j = k;
                hit = true;
            }
        }
        if (!hit) {
            return false;
        }
        rt->key_col[i] = j;
        const ptpl_col_t *tc = &rt->cols[j];
        const uint8_t *v = p + tc->mp_len;
        memcpy(o, tc->head, PTPL_HEAD); /* past head_len: overwritten or beyond */
        char *q = o + tc->head_len, *e = value_at(q, &v, end, tc->uint_col);
        if (!e || e - o - 2 >= 0x80) {
            return false;
        }
        q[-1] = (char)(e - q);
        o[1] = (char)(e - o - 2);
        o = e;
        p = v;
    }
    out->len += (size_t)(o - o0);
    *pp = p;
    return true;
}

rc_err_t rc_proto_write_key_tpl(rc_buf_t *out, rc_proto_tpl_t *t, const uint8_t *data, size_t len,
                                const uint8_t *columns, size_t *used) {
    const uint8_t *p = data;
    if (t && t->key_rt && t->key_cols == columns && t->key_end == data + len &&
        key_tpl(out, &p, data + len, t->key_rt)) {
        if (used) {
            *used = (size_t)(p - data);
        }
        return RC_OK;
    }
    return rc_proto_write_key_typed(out, data, len, columns, used);
}

rc_err_t rc_proto_write_key(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used) {
    return rc_proto_write_key_typed(out, data, len, NULL, used);
}
