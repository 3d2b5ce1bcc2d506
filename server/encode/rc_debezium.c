/* rc_debezium.c: msgpack event -> Debezium's change-event JSON (rc_debezium.h).
 *
 * The envelope is laid out here; values that Debezium writes differently from rowcast's JSON
 * (DECIMAL, DATE, TIME, DATETIME, zero dates, JSON, BIGINT UNSIGNED above 2^63-1) are
 * converted from their canonical text, and every other value goes through rc_json_write. */
#include "rc_debezium.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_cols.h"
#include "rc_event.h"
#include "rc_json.h"
#include "rc_mp.h"
#include "rc_text.h"
#include "rc_tpl.h"
#include "rc_version.h"

/* Appends n bytes: the usual case, when they fit, inline (a literal's copy of a constant size,
 * without a call). */
static inline __attribute__((always_inline)) rc_err_t put_bytes(rc_buf_t *out, const char *s,
                                                                size_t n) {
    if (out->cap - out->len >= n) {
        memcpy(out->data + out->len, s, n);
        out->len += n;
        return RC_OK;
    }
    return rc_buf_append(out, s, n);
}

#define LIT(out, s) put_bytes(out, s, sizeof(s) - 1)

/* Decimal digits of the largest DECIMAL (65) fit in 28 bytes; a little room besides. */
#define DEC_BYTES 32

/* The unscaled value of a DECIMAL text ("-1234.5600" -> -12345600) as Java's
 * BigInteger.toByteArray gives it: minimal two's complement, big-endian. Returns the byte
 * count, 0 when the text is not a decimal. */
static size_t decimal_bytes(const uint8_t *s, size_t n, uint8_t out[DEC_BYTES + 1]) {
    uint8_t mag[DEC_BYTES] = {0}; /* big-endian magnitude */
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0, digits = 0, points = 0;
    /* up to 19 digits the value fits a uint64: no byte-array arithmetic per digit */
    uint64_t u = 0;
    for (; i < n && digits < 19; i++) {
        if (s[i] == '.' && points++ == 0) {
            continue;
        }
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        u = u * 10 + (uint64_t)(s[i] - '0');
        digits++;
    }
    for (int b = 0; b < 8; b++) {
        mag[DEC_BYTES - 1 - b] = (uint8_t)(u >> (8 * b));
    }
    for (; i < n; i++) {
        if (s[i] == '.' && points++ == 0) {
            continue;
        }
        if (s[i] < '0' || s[i] > '9' || ++digits > 76) {
            return 0;
        }
        unsigned carry = (unsigned)(s[i] - '0');
        for (size_t j = DEC_BYTES; j-- > 0;) {
            unsigned v = mag[j] * 10u + carry;
            mag[j] = (uint8_t)v;
            carry = v >> 8;
        }
        if (carry) {
            return 0;
        }
    }
    if (digits == 0) {
        return 0;
    }
    size_t first = digits <= 19 ? DEC_BYTES - 8 : 0;
    while (first < DEC_BYTES && mag[first] == 0) {
        first++;
    }
    size_t len = DEC_BYTES - first;
    if (len == 0) {
        out[0] = 0;
        return 1;
    }
    if (!neg) {
        size_t o = 0;
        if (mag[first] & 0x80) {
            out[o++] = 0; /* a sign byte keeps it positive */
        }
        memcpy(out + o, mag + first, len);
        return o + len;
    }
    /* two's complement of the magnitude: invert, add one */
    unsigned carry = 1;
    for (size_t j = DEC_BYTES; j-- > first;) {
        unsigned v = (uint8_t)~mag[j] + carry;
        mag[j] = (uint8_t)v;
        carry = v >> 8;
    }
    size_t o = 0;
    if (!(mag[first] & 0x80)) {
        out[o++] = 0xff;
    }
    memcpy(out + o, mag + first, len);
    return o + len;
}

/* base64 through rc_json's writer, as it writes a bin */
static inline rc_err_t put_b64(rc_buf_t *out, const uint8_t *b, size_t n) {
    return rc_json_write_base64(out, b, n);
}

/* Makes room for n bytes and returns where to write them, or NULL when out of memory. */
static inline char *room(rc_buf_t *out, size_t n) {
    if (out->cap - out->len < n && rc_buf_reserve(out, n) != RC_OK) {
        return NULL;
    }
    return out->data + out->len;
}

/* Writes v in decimal at o (room for 30 bytes), as int64 when is_signed; returns the end. */
static inline char *num_at(char *o, uint64_t v, bool is_signed) {
    if (is_signed && (int64_t)v < 0) {
        *o++ = '-';
        v = 0 - v;
    }
    return rc_json_uint_at(o, v);
}

/* Appends v in decimal; as int64 when is_signed. */
static inline rc_err_t put_num(rc_buf_t *out, uint64_t v, bool is_signed) {
    char *o = room(out, 32);
    if (!o) {
        return RC_ERR_NOMEM;
    }
    out->len = (size_t)(num_at(o, v, is_signed) - out->data);
    return RC_OK;
}

static rc_err_t put_i64(rc_buf_t *out, int64_t v) {
    return put_num(out, (uint64_t)v, true);
}

/* Reads the ext at p (any of ext 8/16/32, fixext): type, payload, and the end. */
static bool read_ext(const uint8_t *p, const uint8_t *end, int8_t *type, const uint8_t **s,
                     uint32_t *n, const uint8_t **after) {
    size_t avail = (size_t)(end - p);
    uint8_t c = p[0];
    size_t head;
    if (c >= 0xd4 && c <= 0xd8) {
        *n = 1u << (c - 0xd4);
        head = 2;
    } else if (c >= 0xc7 && c <= 0xc9) {
        size_t w = (size_t)1 << (c - 0xc7);
        if (avail < 2 + w) {
            return false;
        }
        *n = w == 1   ? p[1]
             : w == 2 ? (uint32_t)p[1] << 8 | p[2]
                      : (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        head = 2 + w;
    } else {
        return false;
    }
    if (avail < head || avail - head < *n) {
        return false;
    }
    *type = (int8_t)p[head - 1];
    *s = p + head;
    *after = p + head + *n;
    return true;
}

/* A BIT column's value as Debezium has it: BIT(1) a boolean, BIT(n) the n bits as bytes,
 * little-endian, (n + 7) / 8 of them (io.debezium.data.Bits). */
static rc_err_t put_bits(rc_buf_t *out, uint64_t v, unsigned bits) {
    if (bits == 1) {
        return v ? rc_buf_append(out, "true", 4) : rc_buf_append(out, "false", 5);
    }
    uint8_t b[8];
    size_t n = (bits + 7) / 8;
    for (size_t i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return put_b64(out, b, n);
}

/* The last date a row template's column had and its days since the epoch: a table's DATETIMEs
 * of one day come one after the other. ymd 0 (no date has it here): none. */
typedef struct day_memo {
    uint32_t ymd;
    int64_t days;
} day_memo_t;

/* Days from 1970-01-01 to t's date (not a zero date), from m (NULL: none) when it has them. */
static inline int64_t days_of(const rc_datetime_t *t, day_memo_t *m) {
    uint32_t ymd = t->year * 10000 + t->month * 100 + t->day; /* 4, 2 and 2 digits */
    if (m && m->ymd == ymd) {
        return m->days;
    }
    int64_t days = rc_text_days_from_civil(t->year, t->month, t->day);
    if (m) {
        m->ymd = ymd;
        m->days = days;
    }
    return days;
}

/* A DATETIME (not a zero date) whose date is days after the epoch as Debezium has it: ms since
 * the epoch up to fsp 3, else µs. */
static inline int64_t datetime_value(const rc_datetime_t *t, int64_t days) {
    int64_t secs = days * 86400 + (int64_t)t->hour * 3600 + t->minute * 60 + t->second;
    return t->fsp <= 3 ? secs * 1000 + t->micros / 1000 : secs * 1000000 + t->micros;
}

/* One column value; col is what kafka.columns says of its column (RC_COL_UNKNOWN: nothing). */
static rc_err_t put_value(rc_buf_t *out, const uint8_t **pp, const uint8_t *end,
                          const rc_col_info_t *col) {
    const uint8_t *p = *pp;
    if (p >= end) {
        return RC_ERR_TRUNCATED;
    }
    uint64_t bitsv;
    const uint8_t *bitsend = p;
    if (col->type == RC_COL_BIT && col->len >= 1 && col->len <= 64 &&
        rc_mp_read_uint(&bitsend, end, &bitsv) == RC_OK) {
        *pp = bitsend;
        return put_bits(out, bitsv, col->len);
    }
    if (p[0] == 0xcf) { /* uint 64: above 2^63-1 Debezium's "long" mode wraps it */
        if (end - p < 9) {
            return RC_ERR_TRUNCATED;
        }
        uint64_t u = 0;
        for (int i = 1; i <= 8; i++) {
            u = u << 8 | p[i];
        }
        *pp = p + 9;
        return put_num(out, u, true);
    }
    int8_t type;
    const uint8_t *s, *after;
    uint32_t n;
    if (p[0] == 0x82) { /* GEOMETRY {srid, wkb}: Debezium's Geometry struct has wkb first */
        static const char *const geo_keys[] = {"srid", "wkb"};
        const uint8_t *g[2], *gend;
        if (rc_mp_map_pick(p, end, geo_keys, 2, g, &gend) == RC_OK && g[0] && g[1] &&
            (g[0][0] <= 0x7f || (g[0][0] >= 0xcc && g[0][0] <= 0xce)) && g[1][0] >= 0xc4 &&
            g[1][0] <= 0xc6) {
            rc_err_t err = LIT(out, "{\"wkb\":");
            err = err ? err : rc_json_write(out, g[1], (size_t)(end - g[1]), NULL);
            err = err ? err : LIT(out, ",\"srid\":");
            err = err ? err : rc_json_write(out, g[0], (size_t)(end - g[0]), NULL);
            *pp = gend;
            return err ? err : rc_buf_putc(out, '}');
        }
    }
    if (!(p[0] >= 0xc7 && p[0] <= 0xc9) && !(p[0] >= 0xd4 && p[0] <= 0xd8)) {
        size_t used;
        rc_err_t err = rc_json_write(out, p, (size_t)(end - p), &used);
        if (err == RC_OK) {
            *pp = p + used;
        }
        return err;
    }
    if (!read_ext(p, end, &type, &s, &n, &after)) {
        return RC_ERR_TRUNCATED;
    }
    *pp = after;
    rc_datetime_t t;
    int64_t us;
    uint32_t fsp;
    /* a zero date is null where the column allows it, else the epoch (Debezium's rule); a
     * column kafka.columns does not describe is taken as nullable */
    bool not_null = col->type != RC_COL_UNKNOWN && !(col->flags & RC_COLF_NULLABLE);
    const char *zero = not_null ? "0" : "null";
    switch (type) {
    case RC_EXT_DECIMAL: {
        uint8_t b[DEC_BYTES + 1];
        size_t len = decimal_bytes(s, n, b);
        return len == 0 ? RC_ERR_INVALID : put_b64(out, b, len);
    }
    case RC_EXT_DATE:
        if (!rc_text_date(s, n, &t)) {
            return RC_ERR_INVALID;
        }
        if (t.month == 0 || t.day == 0) {
            return rc_buf_append(out, zero, strlen(zero));
        }
        return put_i64(out, rc_text_days_from_civil(t.year, t.month, t.day));
    case RC_EXT_TIME:
        return rc_text_time(s, n, &us, &fsp) ? put_i64(out, us) : RC_ERR_INVALID;
    case RC_EXT_DATETIME: {
        if (!rc_text_datetime(s, n, &t)) {
            return RC_ERR_INVALID;
        }
        if (t.month == 0 || t.day == 0) {
            return rc_buf_append(out, zero, strlen(zero));
        }
        return put_i64(out, datetime_value(&t, days_of(&t, NULL)));
    }
    case RC_EXT_TIMESTAMP:
        if (!rc_text_timestamp(s, n, &us, &fsp)) {
            return RC_ERR_INVALID;
        }
        if (us == 0) {
            return not_null ? LIT(out, "\"1970-01-01T00:00:00Z\"") : LIT(out, "null");
        }
        return rc_json_write_string(out, (const char *)s, n);
    case RC_EXT_JSON:
        return n == 0 ? rc_buf_append(out, "null", 4)
                      : rc_json_write_string(out, (const char *)s, n);
    default: /* ENUM, SET as their text; unknown ext as rc_json does */
        return rc_json_write(out, p, (size_t)(after - p), NULL);
    }
}

/* decimal_bytes of a text of at most 19 digits (the usual DECIMAL), whose unscaled value fits a
 * uint64, without the byte array: the minimal two's complement of a magnitude u is
 * bitlen(u) / 8 + 1 bytes for a positive value and bitlen(u - 1) / 8 + 1 for a negative one,
 * the bytes of the 72-bit word (sign byte, then -u or u). Returns the byte count at *b, 0 for
 * any other text (more digits, or not a decimal: decimal_bytes then reads it). */
static inline size_t decimal_bytes19(const uint8_t *s, size_t n, uint8_t buf[16],
                                     const uint8_t **b) {
    bool neg = n > 0 && s[0] == '-', point = false;
    uint64_t u = 0;
    if (n > 21) { /* more than 19 digits besides a sign and a point */
        return 0;
    }
    for (size_t i = neg; i < n; i++) {
        unsigned d = (unsigned)s[i] - '0';
        if (d > 9) {
            if (s[i] != '.' || point) {
                return 0;
            }
            point = true;
            continue;
        }
        u = u * 10 + d; /* wraps past 19 digits: not taken below */
    }
    size_t digits = n - neg - point;
    if (digits == 0 || digits > 19) {
        return 0;
    }
    uint64_t v = neg && u ? u - 1 : u; /* -0 is 0 */
    size_t len = (v ? (size_t)(64 - __builtin_clzll(v)) : 0) / 8 + 1;
    uint64_t w = neg ? 0 - u : u;
    memset(buf, neg && u ? 0xff : 0, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w = __builtin_bswap64(w);
    memcpy(buf + 8, &w, 8);
#else
    memcpy(buf + 8, &w, 8);
#endif
    *b = buf + 16 - len;
    return len;
}

/* What put_value_fast does with a value, by its first byte: rc_json_value_at (which takes
 * nothing else that Debezium writes otherwise), its own ext 8, or put_value (a map: GEOMETRY;
 * a uint 64: wrapped; any other ext). */
enum { VC_JSON, VC_EXT8, VC_SLOW, VC_NIL };
static const uint8_t k_vclass[256] = {
    [0xc0] = VC_NIL,           [0x80 ... 0x8f] = VC_SLOW, [0xc7] = VC_EXT8,
    [0xc8 ... 0xc9] = VC_SLOW, [0xcf] = VC_SLOW,          [0xd4 ... 0xd8] = VC_SLOW,
};
/* A BIT column's: every value by put_value_fast (which hands it to put_value). */
static const uint8_t k_vclass_bit[256] = {[0 ... 255] = VC_SLOW};

/* The usual DATETIME text, "YYYY-MM-DDTHH:MM:SS" or "YYYY-MM-DDTHH:MM:SS.ffffff" of a date
 * that is not a zero date, as Debezium has it: datetime_value of rc_text_datetime's fields and
 * rc_text_days_from_civil's days, read from three or four 64-bit words in one pass (no fields,
 * no call). The digits and separators are checked by rc_text_datetime_lanes, as
 * rc_text_datetime checks them; a lane's
 * pair of digits is x * 10 + (x >> 8) (at most 99: no lane carries). The days count from
 * 400 years before year 0 so that every quotient is of a non-negative number (a constant
 * divisor: a multiply), and Y / 400 is (Y / 100) / 4. False for any other text, which goes
 * the general way. */
static inline __attribute__((always_inline)) bool datetime_fixed(const uint8_t *s, size_t n,
                                                                 int64_t *v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t xa, xb, xc;
    if ((n != 19 && n != 26) || !rc_text_datetime_lanes(s, &xa, &xb, &xc)) {
        return false;
    }
    uint64_t pa = xa * 10 + (xa >> 8), pc = xc * 10 + (xc >> 8); /* pairs in lanes 0, 2, 5 */
    uint32_t month = (uint32_t)(pa >> 40) & 0xffu,
             day = (uint32_t)(xb & 0xffu) * 10 + (uint32_t)(xb >> 8);
    if (month == 0 || day == 0) {
        return false; /* a zero date: put_value's */
    }
    uint64_t y = ((uint32_t)pa & 0xffu) * 100 + ((uint32_t)(pa >> 16) & 0xffu) + 400 - (month <= 2);
    uint32_t mm = month > 2 ? month - 3 : month + 9, q = (uint32_t)y / 100;
    int64_t days =
        (int64_t)(y * 365 + y / 4 - q + q / 4 + (153 * mm + 2) / 5 + day) - (719468 + 146097 + 1);
    int64_t secs = days * 86400 + (int64_t)((pc & 0xffu) * 3600 + ((pc >> 24) & 0xffu) * 60 +
                                            ((pc >> 48) & 0xffu));
    if (n == 19) {
        *v = secs * 1000; /* fsp 0 */
        return true;
    }
    uint64_t xf;
    if (!rc_text_fraction6_lane(s + 18, &xf)) {
        return false;
    }
    uint64_t pf = xf * 10 + (xf >> 8); /* pairs in lanes 2, 4, 6 */
    *v = secs * 1000000 + (int64_t)(((pf >> 16) & 0xffu) * 10000 + ((pf >> 32) & 0xffu) * 100 +
                                    ((pf >> 48) & 0xffu));
    return true;
#else
    (void)s, (void)n, (void)v;
    return false;
#endif
}

/* put_value with the usual values of a row without a call through rc_json_write: an ext 8
 * DECIMAL, DATE or DATETIME converted here, the values rc_json writes as Debezium does (ints
 * but a uint 64, nil, bools, doubles, short strs) by rc_json_value_at; anything else (a BIT
 * column's, a map, a zero date, an error) by put_value. */
static inline __attribute__((always_inline)) rc_err_t
put_value_fast(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, const rc_col_info_t *col,
               day_memo_t *memo) {
    const uint8_t *p = *pp;
    if (p < end && col->type != RC_COL_BIT) {
        uint8_t vc = k_vclass[p[0]];
        if (vc == VC_NIL) {
            *pp = p + 1;
            return LIT(out, "null");
        }
        if (vc == VC_EXT8) {
            size_t n;
            if (end - p >= 3 && (size_t)(end - p) - 3 >= (n = p[1])) {
                const uint8_t *s = p + 3;
                rc_datetime_t t;
                int64_t dv;
                if (p[2] == RC_EXT_DECIMAL) {
                    uint8_t buf[16];
                    const uint8_t *b;
                    size_t len = decimal_bytes19(s, n, buf, &b);
                    if (len) {
                        *pp = s + n;
                        return put_b64(out, b, len);
                    }
                } else if (p[2] == RC_EXT_DATETIME && datetime_fixed(s, n, &dv)) {
                    *pp = s + n;
                    return put_num(out, (uint64_t)dv, true);
                } else if (p[2] == RC_EXT_DATETIME && rc_text_datetime(s, n, &t) && t.month &&
                           t.day) {
                    *pp = s + n;
                    return put_num(out, (uint64_t)datetime_value(&t, days_of(&t, memo)), true);
                } else if (p[2] == RC_EXT_DATE && rc_text_date(s, n, &t) && t.month && t.day) {
                    *pp = s + n;
                    return put_num(out, (uint64_t)days_of(&t, memo), true);
                }
            }
        } else if (vc == VC_JSON) {
            char *o = room(out, RC_JSON_VALUE_ROOM), *e;
            if (!o) {
                return RC_ERR_NOMEM;
            }
            if ((e = rc_json_value_at(o, pp, end)) != NULL) {
                out->len = (size_t)(e - out->data);
                return RC_OK;
            }
        }
    }
    return put_value(out, pp, end, col);
}

/* ---- row templates --------------------------------------------------------------------------
 *
 * A table's rows have the same columns in the same order, row after row: for each position the
 * template keeps the column name's msgpack bytes, the member name put_row wrote for it (with its
 * ',' from the second position on) and what kafka.columns says of the column. A row whose key
 * at that position has the same bytes gets that text copied and that info without a lookup.
 * The info holds for the descriptor bytes it was learnt with (a copy is kept; another
 * descriptor drops the positions), and a name is only learnt when the descriptor has it at most
 * once, so it does not depend on where rc_cols_find's cursor stood. The output is the same with
 * or without templates. */

#define DTPL_SLOTS    256  /* row templates, chosen by rc_tpl_table_hash */
#define DTPL_MAX_COLS 1024 /* columns past it go without */
#define DTPL_KEY_MAX  32   /* msgpack bytes of a column name: a fixstr of up to 31 bytes */
#define DTPL_TEXT     40   /* ,"name": of such a name without escapes: 35 bytes, 40 copied */

typedef struct dtpl_col {
    uint8_t mp[DTPL_KEY_MAX]; /* the name's msgpack bytes, zero padded */
    char text[DTPL_TEXT];     /* the member name as put_row writes it there */
    uint8_t mp_len;           /* 0: no template at this position */
    uint8_t text_len;
    rc_col_info_t ci; /* the column's info (its name NULL: put_value does not read it) */
    uint64_t skip;    /* ~rc_tpl_mask(mp_len): the bytes of 32 that rc_tpl_eq32 does not compare */
    uint32_t cur_off; /* where rc_cols_find leaves the cursor (from its start; 0: not found, the
                          cursor stays) */
    day_memo_t day;   /* the last date of a DATE or DATETIME here */
    const uint8_t *vclass; /* a value's way by its first byte: k_vclass, or k_vclass_bit */
} dtpl_col_t;

/* The source block's members from "snapshot" to "server_id" as write_event wrote them for
 * the schema and table strs (fixstr or str 8 of up to 32 bytes) whose msgpack bytes are mp[0]
 * and mp[1], and the server_id: they come with the table, event after event. The text is a
 * function of those bytes and that number alone. */
#define DTPL_SRC_TEXT 160

typedef struct dtpl_src {
    uint8_t mp[2][32]; /* zero padded */
    uint8_t mp_len[2];
    uint8_t text_len; /* 0: none */
    uint64_t server_id;
    char text[DTPL_SRC_TEXT];
} dtpl_src_t;

/* A text of the source block around one str (the pipeline's name, the binlog file) as
 * write_event wrote it for the fixstr or str 8 of up to 32 bytes whose msgpack bytes are mp. */
typedef struct dtpl_str {
    uint8_t mp[32]; /* zero padded */
    uint8_t mp_len;
    uint8_t text_len; /* 0: none */
    char text[DTPL_SRC_TEXT];
} dtpl_str_t;

/* A number of the envelope (source.ts_ms, ts_ms) and its digits as last written: the rows of one
 * transaction share their commit time, and the rows decoded within one ms their ts_ms. */
typedef struct dtpl_num {
    uint64_t v;
    uint8_t len; /* 0: none */
    char text[24];
} dtpl_num_t;

typedef struct dtpl_row {
    dtpl_col_t *cols;
    uint32_t cap;
    uint8_t *desc; /* the kafka.columns bytes the infos come from (len 0: none) */
    size_t desc_len, desc_cap;
    dtpl_src_t src;
    dtpl_str_t name, file;
    dtpl_num_t commit_ms, ts_ms;
    uint32_t key_col; /* the position whose column a one-column key named last */
} dtpl_row_t;

/* The text of the last GTID that rc_json_value_at wrote as it is up to its trailing digits
 * ("uuid:" of a MySQL GTID, "domain-server-" of a MariaDB one): a server's GTIDs differ in
 * those digits alone. Kept only when that text is printable ASCII (no '"' or '\\'), so that a
 * GTID of that text and other digits is written as it is too. */
#define DTPL_GTID_PRE 48

typedef struct dtpl_gtid {
    uint8_t pre[DTPL_GTID_PRE]; /* zero padded */
    uint8_t len;                /* 0: none */
} dtpl_gtid_t;

struct rc_debezium_tpl {
    dtpl_row_t rows[DTPL_SLOTS];
    dtpl_gtid_t gtid;
    dtpl_row_t *last; /* the slot of the event before (NULL: none yet) */
    /* the row template write_event synced with the descriptor at key_cols (the event ending at
     * key_end), for the key of the same event (rc_debezium_write_key_tpl); NULL: none */
    dtpl_row_t *key_rt;
    const uint8_t *key_cols, *key_end;
};

rc_debezium_tpl_t *rc_debezium_tpl_new(void) {
    return calloc(1, sizeof(rc_debezium_tpl_t));
}

void rc_debezium_tpl_free(rc_debezium_tpl_t *t) {
    if (!t) {
        return;
    }
    for (size_t i = 0; i < DTPL_SLOTS; i++) {
        free(t->rows[i].cols);
        free(t->rows[i].desc);
    }
    free(t);
}

/* Makes the key at k (a fixstr or not), for which put_row wrote text[0..text_len) and found ci
 * (cur_off: where that left the cursor), its position's template, or none when it cannot be
 * one. */
static void col_learn(dtpl_col_t *tc, const uint8_t *k, const char *text, size_t text_len,
                      const rc_col_info_t *ci, const rc_cols_t *cols, uint32_t cur_off) {
    tc->mp_len = 0;
    tc->skip = 0; /* none: rc_tpl_eq32 never matches */
    size_t n = k[0] & 0x1fu;
    if ((k[0] & 0xe0) != 0xa0 || 1 + n > DTPL_KEY_MAX || text_len > DTPL_TEXT ||
        (cols && !rc_cols_name_at_most_once(cols, (const char *)k + 1, (uint32_t)n))) {
        return;
    }
    memset(tc, 0, sizeof *tc);
    memcpy(tc->mp, k, 1 + n);
    memcpy(tc->text, text, text_len);
    tc->text_len = (uint8_t)text_len;
    tc->ci = *ci;
    tc->ci.name = NULL;
    tc->cur_off = cur_off;
    tc->vclass = ci->type != RC_COL_BIT ? k_vclass : k_vclass_bit;
    tc->mp_len = (uint8_t)(1 + n);
    tc->skip = ~rc_tpl_mask(1 + n);
}

/* A row map {col: value} as a JSON object; cols (may be NULL) describes its columns; rt (may be
 * NULL) is the table's row template, synced with cols. */
static rc_err_t put_row(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, rc_cols_t *cols,
                        dtpl_row_t *rt) {
    uint32_t n;
    rc_err_t err;
    if (*pp < end && (**pp & 0xf0) == 0x80) { /* a fixmap, the usual row */
        n = *(*pp)++ & 0x0fu;
        err = rc_buf_putc(out, '{');
    } else if ((err = rc_mp_read_map(pp, end, &n)) == RC_OK) {
        err = rc_buf_putc(out, '{');
    }
    if (err == RC_OK && rt && n > rt->cap) {
        void *c = rt->cols;
        rc_tpl_grow(&c, &rt->cap, sizeof(*rt->cols), n, DTPL_MAX_COLS);
        rt->cols = c;
    }
    uint32_t nt = rt ? (n < rt->cap ? n : rt->cap) : 0, i = 0;
    /* the leading positions whose keys the template has: a copy and a value each, a value
     * rc_json writes as Debezium does written right after the copy; rc_cols_find's cursor is
     * left where the last of them that moved it left it (only the general loop and the next
     * row read it), found after the loop */
    for (; i < nt; i++) {
        dtpl_col_t *tc = &rt->cols[i];
        const uint8_t *kp = *pp;
        if (end - kp <= 32 || !rc_tpl_eq32(tc->mp, tc->skip, kp)) {
            break; /* (the general loop below compares near the end) */
        }
        char *o = room(out, DTPL_TEXT + RC_JSON_VALUE_ROOM), *e;
        if (!o) {
            return RC_ERR_NOMEM;
        }
        memcpy(o, tc->text, DTPL_TEXT); /* past text_len: beyond len */
        o += tc->text_len;
        const uint8_t *v = kp + tc->mp_len; /* before end: mp_len <= 32 < end - kp */
        uint8_t vc = tc->vclass[v[0]];
        if (vc == VC_JSON && (e = rc_json_value_at(o, &v, end)) != NULL) {
            out->len = (size_t)(e - out->data);
            *pp = v;
            continue;
        }
        if (vc == VC_NIL) { /* a NULL */
            memcpy(o, "null", 4);
            out->len = (size_t)(o + 4 - out->data);
            *pp = v + 1;
            continue;
        }
        out->len = (size_t)(o - out->data);
        *pp = v;
        if ((err = put_value_fast(out, pp, end, &tc->ci, &tc->day)) != RC_OK) {
            return err;
        }
    }
    if (cols) {
        for (uint32_t j = i; j > 0; j--) {
            if (rt->cols[j - 1].cur_off) {
                cols->cur = cols->start + rt->cols[j - 1].cur_off;
                break;
            }
        }
    }
    for (; i < n && err == RC_OK; i++) {
        const char *k;
        uint32_t klen;
        rc_col_info_t ci = {0};
        const uint8_t *kp = *pp;
        dtpl_col_t *tc = i < nt ? &rt->cols[i] : NULL;
        if (tc && rc_tpl_key_eq(tc->mp, tc->mp_len, kp, end) &&
            (out->cap - out->len >= DTPL_TEXT || rc_buf_reserve(out, DTPL_TEXT) == RC_OK)) {
            /* the name's text and the column's info as the template has them */
            memcpy(out->data + out->len, tc->text, DTPL_TEXT); /* past text_len: beyond len */
            out->len += tc->text_len;
            *pp = kp + tc->mp_len;
            if (tc->cur_off && cols) {
                cols->cur = cols->start + tc->cur_off;
            }
            err = put_value_fast(out, pp, end, &tc->ci, &tc->day);
            continue;
        }
        if (kp < end && (kp[0] & 0xe0) == 0xa0 && (size_t)(end - kp) > (kp[0] & 0x1fu)) {
            k = (const char *)kp + 1; /* fixstr, the usual column name */
            klen = kp[0] & 0x1fu;
            *pp = kp + 1 + klen;
        } else if ((err = rc_mp_read_str(pp, end, &k, &klen)) != RC_OK) {
            break;
        }
        size_t text_at = out->len;
        if ((err = rc_json_write_member_name(out, i > 0, k, klen, end)) != RC_OK) {
            break;
        }
        uint32_t cur_off = 0;
        if (cols && rc_cols_find(cols, k, klen, &ci)) {
            cur_off = (uint32_t)(cols->cur - cols->start);
        }
        if (tc) {
            col_learn(tc, kp, out->data + text_at, out->len - text_at, &ci, cols, cur_off);
        }
        err = put_value_fast(out, pp, end, &ci, NULL);
    }
    return err != RC_OK ? err : rc_buf_putc(out, '}');
}

/* before/after: [] -> null, [row] -> row. */
static inline __attribute__((always_inline)) rc_err_t
put_side(rc_buf_t *out, const uint8_t *p, const uint8_t *end, rc_cols_t *cols, dtpl_row_t *rt) {
    uint32_t n;
    if (p < end && (p[0] == 0x90 || p[0] == 0x91)) { /* the usual fixarray */
        return p[0] == 0x90 ? LIT(out, "null") : (p++, put_row(out, &p, end, cols, rt));
    }
    rc_err_t err = rc_mp_read_array(&p, end, &n);
    if (err != RC_OK) {
        return err;
    }
    if (n > 1) {
        return RC_ERR_INVALID; /* Debezium has one row per event */
    }
    return n == 0 ? rc_buf_append(out, "null", 4) : put_row(out, &p, end, cols, rt);
}

/* A str or nil field as JSON ("null" when absent); anything else is an error. */
static rc_err_t put_str_field(rc_buf_t *out, const uint8_t *v, const uint8_t *end) {
    const char *s;
    uint32_t n;
    if (v && v < end && ((v[0] & 0xe0) == 0xa0 || v[0] == 0xd9)) {
        /* a fixstr or str 8 (a GTID): the usual one without a call through rc_json_write_string */
        char *o = room(out, RC_JSON_VALUE_ROOM), *e;
        const uint8_t *q = v;
        if (!o) {
            return RC_ERR_NOMEM;
        }
        if ((e = rc_json_value_at(o, &q, end)) != NULL) {
            out->len = (size_t)(e - out->data);
            return RC_OK;
        }
    }
    if (!v || rc_mp_is_nil(v, end)) {
        return rc_buf_append(out, "null", 4);
    }
    if ((v[0] & 0xe0) == 0xa0 && (size_t)(end - v) > (v[0] & 0x1fu)) {
        return rc_json_write_string_in(out, (const char *)v + 1, v[0] & 0x1fu, end); /* fixstr */
    }
    rc_err_t err = rc_mp_read_str(&v, end, &s, &n);
    return err != RC_OK ? err : rc_json_write_string_in(out, s, n, end);
}

/* A positive fixint or uint 8..64 field (not absent, not cut short), read by its width. */
static inline bool uint_field(const uint8_t *v, const uint8_t *end, uint64_t *u) {
    if (!v || v >= end) {
        return false;
    }
    size_t avail = (size_t)(end - v);
    switch (v[0]) {
    case 0x00 ... 0x7f:
        *u = v[0];
        return true;
    case 0xcc:
        return avail >= 2 && (*u = v[1], true);
    case 0xcd:
        return avail >= 3 && (*u = rc_mp_be16(v + 1), true);
    case 0xce:
        return avail >= 5 && (*u = rc_mp_be32(v + 1), true);
    case 0xcf:
        return avail >= 9 && (*u = rc_mp_be64(v + 1), true);
    default:
        return false;
    }
}

/* ---- Kafka Connect schemas (sink.debezium.schemas) ---------------------------------------- */

/* The Connect schema of one column: type, logical name (NULL: none), parameters (a JSON object
 * body, "" for none). */
typedef struct cschema {
    const char *type;
    const char *name;
    char params[96];
    bool geometry; /* the Geometry struct {wkb, srid} */
    bool geojson;  /* rowcast's {srid, geojson} (source.geometry: geojson) */
    bool vector;   /* an array of float32 (VECTOR) */
} cschema_t;

/* Families a payload value can have; a schema fits a value when their families are equal. */
enum { FAM_NONE, FAM_INT, FAM_FLOAT, FAM_BOOL, FAM_TEXT, FAM_STRUCT, FAM_ARRAY };

static int family_of(const char *type) {
    if (type[0] == 'i') {
        return FAM_INT;
    }
    if (type[0] == 'f' || type[0] == 'd') {
        return FAM_FLOAT;
    }
    if (type[0] == 'a') {
        return FAM_ARRAY;
    }
    return type[0] == 'b' && type[1] == 'o'                                       ? FAM_BOOL
           : type[0] == 's' && type[1] == 't' && type[2] == 'r' && type[3] == 'u' ? FAM_STRUCT
                                                                                  : FAM_TEXT;
}

#define CS(t, n) (*s = (cschema_t){.type = t, .name = n})

/* The schema of a column as kafka.columns describes it, with Debezium's defaults (rc_debezium.h);
 * false for RC_COL_UNKNOWN. */
static bool col_schema(const rc_col_info_t *c, cschema_t *s) {
    bool u = (c->flags & RC_COLF_UNSIGNED) != 0;
    switch (c->type) {
    case RC_COL_TINYINT:
        CS("int16", NULL);
        break;
    case RC_COL_SMALLINT:
        CS(u ? "int32" : "int16", NULL);
        break;
    case RC_COL_MEDIUMINT:
        CS("int32", NULL);
        break;
    case RC_COL_INT:
        CS(u ? "int64" : "int32", NULL);
        break;
    case RC_COL_BIGINT:
        CS("int64", NULL);
        break;
    case RC_COL_FLOAT:
        CS("float", NULL);
        break;
    case RC_COL_DOUBLE:
        CS("double", NULL);
        break;
    case RC_COL_DECIMAL:
        CS("bytes", "org.apache.kafka.connect.data.Decimal");
        snprintf(s->params, sizeof s->params,
                 "\"scale\":\"%u\",\"connect.decimal.precision\":\"%u\"", c->scale, c->len);
        break;
    case RC_COL_YEAR:
        CS("int32", "io.debezium.time.Year");
        break;
    case RC_COL_DATE:
        CS("int32", "io.debezium.time.Date");
        break;
    case RC_COL_TIME:
        CS("int64", "io.debezium.time.MicroTime");
        break;
    case RC_COL_DATETIME:
        CS("int64", c->len <= 3 ? "io.debezium.time.Timestamp" : "io.debezium.time.MicroTimestamp");
        break;
    case RC_COL_TIMESTAMP:
        CS("string", "io.debezium.time.ZonedTimestamp");
        break;
    case RC_COL_TEXT:
        CS("string", NULL);
        break;
    case RC_COL_BINARY:
        CS("bytes", NULL);
        break;
    case RC_COL_ENUM:
        CS("string", "io.debezium.data.Enum");
        break;
    case RC_COL_SET:
        CS("string", "io.debezium.data.EnumSet");
        break;
    case RC_COL_BIT:
        if (c->len == 1) {
            CS("boolean", NULL);
        } else {
            CS("bytes", "io.debezium.data.Bits");
            snprintf(s->params, sizeof s->params, "\"length\":\"%u\"", c->len);
        }
        break;
    case RC_COL_JSON:
        CS("string", "io.debezium.data.Json");
        break;
    case RC_COL_GEOMETRY:
        CS("struct", "io.debezium.data.geometry.Geometry");
        s->geometry = true;
        break;
    case RC_COL_VECTOR:
        CS("array", NULL);
        s->vector = true;
        break;
    default:
        return false;
    }
    return true;
}

/* The schema of a value alone, for a column kafka.columns does not describe (or describes as
 * something the value is not, after a script changed it). nil gives an optional string. */
static void value_schema(const uint8_t *v, const uint8_t *end, cschema_t *s) {
    uint8_t c = v[0];
    CS("string", NULL);
    if (c == 0xc2 || c == 0xc3) {
        CS("boolean", NULL);
    } else if (c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3)) {
        CS("int64", NULL);
    } else if (c == 0xca) {
        CS("float", NULL);
    } else if (c == 0xcb) {
        CS("double", NULL);
    } else if (c >= 0xc4 && c <= 0xc6) {
        CS("bytes", NULL);
    } else if ((c >= 0x90 && c <= 0x9f) || c == 0xdc || c == 0xdd) {
        const uint8_t *p = v;
        uint32_t n;
        bool floats = rc_mp_read_array(&p, end, &n) == RC_OK && n > 0 &&
                      (uint64_t)n * 5 <= (uint64_t)(end - p);
        for (uint32_t i = 0; floats && i < n; i++) {
            floats = p[(size_t)i * 5] == 0xca;
        }
        if (floats) { /* a VECTOR's values */
            CS("array", NULL);
            s->vector = true;
        } else {
            CS("string", "io.debezium.data.Json"); /* a script's list (README) */
        }
    } else if ((c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf) {
        const uint8_t *g[3];
        static const char *const geo_keys[] = {"wkb", "geojson", "srid"};
        if (rc_mp_map_pick(v, end, geo_keys, 3, g, NULL) == RC_OK && g[2] && (g[0] || g[1])) {
            CS("struct", g[0] ? "io.debezium.data.geometry.Geometry" : NULL);
            s->geometry = g[0] != NULL;
            s->geojson = g[0] == NULL;
        } else {
            CS("string", "io.debezium.data.Json"); /* a script's list or map (README) */
        }
    } else {
        int8_t type;
        const uint8_t *body, *after;
        uint32_t n;
        if (!read_ext(v, end, &type, &body, &n, &after)) {
            return;
        }
        rc_datetime_t t;
        switch (type) {
        case RC_EXT_DECIMAL: {
            unsigned scale = 0;
            const uint8_t *dot = memchr(body, '.', n);
            if (dot) {
                scale = (unsigned)(body + n - dot - 1);
            }
            CS("bytes", "org.apache.kafka.connect.data.Decimal");
            snprintf(s->params, sizeof s->params, "\"scale\":\"%u\"", scale);
            break;
        }
        case RC_EXT_DATE:
            CS("int32", "io.debezium.time.Date");
            break;
        case RC_EXT_TIME:
            CS("int64", "io.debezium.time.MicroTime");
            break;
        case RC_EXT_DATETIME:
            CS("int64", rc_text_datetime(body, n, &t) && t.fsp > 3
                            ? "io.debezium.time.MicroTimestamp"
                            : "io.debezium.time.Timestamp");
            break;
        case RC_EXT_TIMESTAMP:
            CS("string", "io.debezium.time.ZonedTimestamp");
            break;
        case RC_EXT_JSON:
            CS("string", "io.debezium.data.Json");
            break;
        case RC_EXT_ENUM:
            CS("string", "io.debezium.data.Enum");
            break;
        case RC_EXT_SET:
            CS("string", "io.debezium.data.EnumSet");
            break;
        default:
            break;
        }
    }
}

/* The schema of the column with value v (NULL: absent from this side): its description when
 * it has one that fits the value, else the value's own. */
static void field_schema(const rc_col_info_t *ci, const uint8_t *v, const uint8_t *end,
                         cschema_t *s) {
    bool described = ci && col_schema(ci, s);
    if (!v || rc_mp_is_nil(v, end)) {
        if (!described) {
            CS("string", NULL);
        }
        return;
    }
    cschema_t vs;
    value_schema(v, end, &vs);
    bool bits = ci && ci->type == RC_COL_BIT && family_of(vs.type) == FAM_INT; /* put_bits */
    if (!described ||
        (!bits && (family_of(vs.type) != family_of(s->type) || (vs.geojson && s->geometry)))) {
        *s = vs;
    }
}

/* One entry of a struct's "fields", laid out as Kafka Connect's JsonConverter writes it. */
static rc_err_t put_field(rc_buf_t *out, const cschema_t *s, bool optional, const char *field,
                          uint32_t field_len) {
    rc_err_t err = LIT(out, "{\"type\":\"");
    err = err ? err : rc_buf_append(out, s->type, strlen(s->type));
    if (s->geometry) {
        err = err ? err
                  : LIT(out, "\",\"fields\":[{\"type\":\"bytes\",\"optional\":false,\"field\":"
                             "\"wkb\"},{\"type\":\"int32\",\"optional\":true,\"field\":\"srid\"}]");
    } else if (s->geojson) {
        err = err ? err
                  : LIT(out, "\",\"fields\":[{\"type\":\"int32\",\"optional\":true,\"field\":"
                             "\"srid\"},{\"type\":\"string\",\"optional\":false,\"name\":"
                             "\"io.debezium.data.Json\",\"version\":1,\"field\":\"geojson\"}]");
    } else if (s->vector) {
        err = err ? err : LIT(out, "\",\"items\":{\"type\":\"float\",\"optional\":false}");
    } else {
        err = err ? err : rc_buf_putc(out, '"');
    }
    err = err ? err : LIT(out, ",\"optional\":");
    err = err ? err : (optional ? LIT(out, "true") : LIT(out, "false"));
    if (s->name) {
        err = err ? err : LIT(out, ",\"name\":\"");
        err = err ? err : rc_buf_append(out, s->name, strlen(s->name));
        err = err ? err : LIT(out, "\",\"version\":1");
    }
    if (s->geometry) {
        err = err ? err : LIT(out, ",\"doc\":\"Geometry\"");
    }
    if (s->params[0]) {
        err = err ? err : LIT(out, ",\"parameters\":{");
        err = err ? err : rc_buf_append(out, s->params, strlen(s->params));
        err = err ? err : rc_buf_putc(out, '}');
    }
    err = err ? err : LIT(out, ",\"field\":");
    err = err ? err : rc_json_write_string(out, field, field_len);
    return err ? err : rc_buf_putc(out, '}');
}

/* The row map of a before/after array ([] or [row]), or NULL. */
static const uint8_t *row_of(const uint8_t *side, const uint8_t *end) {
    uint32_t n;
    if (!side || rc_mp_read_array(&side, end, &n) != RC_OK || n == 0) {
        return NULL;
    }
    return side;
}

/* The value of the column name[0..n) in the row map at row (NULL: no row), or NULL. */
static const uint8_t *find_in(const uint8_t *row, const uint8_t *end, const char *name,
                              uint32_t n) {
    uint32_t count;
    if (!row || rc_mp_read_map(&row, end, &count) != RC_OK) {
        return NULL;
    }
    for (uint32_t i = 0; i < count; i++) {
        const char *k;
        uint32_t klen;
        const uint8_t *q = row;
        if (rc_mp_read_str(&q, end, &k, &klen) == RC_OK && klen == n && memcmp(k, name, n) == 0) {
            return q;
        }
        if (rc_mp_skip(&row, end) != RC_OK || rc_mp_skip(&row, end) != RC_OK) {
            return NULL;
        }
    }
    return NULL;
}

/* The "fields" of the row struct: the columns of the rows (a MINIMAL image may leave some out
 * of one side), in table order when kafka.columns describes them, then the others. */
static rc_err_t put_row_fields(rc_buf_t *out, const uint8_t *before, const uint8_t *after,
                               const uint8_t *end, rc_cols_t *cols) {
    rc_err_t err = RC_OK;
    bool first = true;
    cschema_t s;
    if (cols) {
        const uint8_t *pos = NULL;
        rc_col_info_t ci;
        while (err == RC_OK && rc_cols_next(cols, &pos, &ci)) {
            const uint8_t *va = find_in(after, end, ci.name, ci.name_len);
            const uint8_t *vb = find_in(before, end, ci.name, ci.name_len);
            if (!va && !vb) {
                continue;
            }
            bool optional = (ci.flags & RC_COLF_NULLABLE) || (after && !va) || (before && !vb) ||
                            (va && rc_mp_is_nil(va, end)) || (vb && rc_mp_is_nil(vb, end));
            field_schema(&ci, va ? va : vb, end, &s);
            if (!first) {
                err = rc_buf_putc(out, ',');
            }
            first = false;
            err = err ? err : put_field(out, &s, optional, ci.name, ci.name_len);
        }
    }
    const uint8_t *rows[2] = {after, before};
    for (int r = 0; r < 2 && err == RC_OK; r++) {
        const uint8_t *p = rows[r];
        uint32_t n;
        if (!p || (err = rc_mp_read_map(&p, end, &n)) != RC_OK) {
            continue;
        }
        for (uint32_t i = 0; i < n && err == RC_OK; i++) {
            const char *k;
            uint32_t klen;
            rc_col_info_t ci;
            if ((err = rc_mp_read_str(&p, end, &k, &klen)) != RC_OK) {
                break;
            }
            bool done = (cols && rc_cols_find(cols, k, klen, &ci)) ||
                        (r == 1 && find_in(after, end, k, klen));
            if (!done) {
                field_schema(NULL, p, end, &s);
                if (!first) {
                    err = rc_buf_putc(out, ',');
                }
                first = false;
                err = err ? err : put_field(out, &s, true, k, klen);
            }
            err = err ? err : rc_mp_skip(&p, end);
        }
    }
    return err;
}

/* "<pipeline>.<db>.<table>.<what>", the name Debezium gives the schemas of a table's topic. */
static rc_err_t put_schema_name(rc_buf_t *out, const uint8_t *pipeline, const uint8_t *db,
                                const uint8_t *table, const uint8_t *end, const char *what) {
    const uint8_t *parts[3] = {pipeline, db, table};
    char buf[3 * 257 + 16];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        const char *s;
        uint32_t len;
        const uint8_t *p = parts[i];
        if (!p || rc_mp_read_str(&p, end, &s, &len) != RC_OK) {
            continue; /* a script took it away: the name has one part less */
        }
        len = len > 256 ? 256 : len;
        memcpy(buf + n, s, len);
        n += len;
        buf[n++] = '.';
    }
    size_t wl = strlen(what);
    memcpy(buf + n, what, wl);
    return rc_json_write_string(out, buf, n + wl);
}

/* Debezium's source struct (MySQL connector), the same for every event. */
#define SOURCE_SCHEMA                                                                              \
    "{\"type\":\"struct\",\"fields\":["                                                            \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"version\"},"                              \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"connector\"},"                            \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"name\"},"                                 \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"ts_ms\"},"                                 \
    "{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,"     \
    "\"parameters\":{\"allowed\":\"true,last,false,incremental\"},\"default\":\"false\","          \
    "\"field\":\"snapshot\"},"                                                                     \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"db\"},"                                   \
    "{\"type\":\"string\",\"optional\":true,\"field\":\"sequence\"},"                              \
    "{\"type\":\"string\",\"optional\":true,\"field\":\"table\"},"                                 \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"server_id\"},"                             \
    "{\"type\":\"string\",\"optional\":true,\"field\":\"gtid\"},"                                  \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"file\"},"                                 \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"pos\"},"                                   \
    "{\"type\":\"int32\",\"optional\":false,\"field\":\"row\"},"                                   \
    "{\"type\":\"int64\",\"optional\":true,\"field\":\"thread\"},"                                 \
    "{\"type\":\"string\",\"optional\":true,\"field\":\"query\"}],"                                \
    "\"optional\":false,\"name\":\"io.debezium.connector.mysql.Source\",\"field\":\"source\"}"

#define TRANSACTION_SCHEMA                                                                         \
    "{\"type\":\"struct\",\"fields\":["                                                            \
    "{\"type\":\"string\",\"optional\":false,\"field\":\"id\"},"                                   \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"total_order\"},"                           \
    "{\"type\":\"int64\",\"optional\":false,\"field\":\"data_collection_order\"}],"                \
    "\"optional\":true,\"name\":\"event.block\",\"version\":1,\"field\":\"transaction\"}"

enum {
    E_SCHEMA = RC_DBZ_SCHEMA,
    E_TABLE = RC_DBZ_TABLE,
    E_ACTION = RC_DBZ_ACTION,
    E_BEFORE = RC_DBZ_BEFORE,
    E_AFTER = RC_DBZ_AFTER,
    E_META = RC_DBZ_META,
    E_COUNT = RC_DBZ_EV_COUNT
};
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

/* {"schema": the envelope's schema, "payload": (the caller writes the payload and the closing
 * brace). */
static rc_err_t put_envelope_schema(rc_buf_t *out, const uint8_t *const *at,
                                    const uint8_t *pipeline, const uint8_t *end, rc_cols_t *cols) {
    const uint8_t *before = row_of(at[E_BEFORE], end), *after = row_of(at[E_AFTER], end);
    rc_err_t err = LIT(out, "{\"schema\":{\"type\":\"struct\",\"fields\":[");
    for (int side = 0; side < 2 && err == RC_OK; side++) {
        err = side ? rc_buf_putc(out, ',') : RC_OK;
        err = err ? err : LIT(out, "{\"type\":\"struct\",\"fields\":[");
        err = err ? err : put_row_fields(out, before, after, end, cols);
        err = err ? err : LIT(out, "],\"optional\":true,\"name\":");
        err = err ? err : put_schema_name(out, pipeline, at[E_SCHEMA], at[E_TABLE], end, "Value");
        err = err ? err
                  : (side ? LIT(out, ",\"field\":\"after\"}") : LIT(out, ",\"field\":\"before\"}"));
    }
    err = err ? err
              : LIT(out, "," SOURCE_SCHEMA ",{\"type\":\"string\",\"optional\":false,\"field\":"
                         "\"op\"},{\"type\":\"int64\",\"optional\":true,\"field\":\"ts_ms\"}"
                         "," TRANSACTION_SCHEMA "],\"optional\":false,\"name\":");
    err = err ? err : put_schema_name(out, pipeline, at[E_SCHEMA], at[E_TABLE], end, "Envelope");
    return err ? err : LIT(out, "},\"payload\":");
}

static const char *const k_ev_keys[E_COUNT] = {"schema", "table", "action",
                                               "before", "after", "meta"};
static const char *const k_meta_keys[M_COUNT] = {
    "pipeline", "timestamp", "gtid", "binlog_file", "binlog_pos", "server_id", "commit_ts"};

/* Finds the fields write_event needs in the event map at ev. */
static rc_err_t find_fields(const uint8_t *ev, const uint8_t *end, rc_debezium_at_t *a) {
    rc_err_t err = rc_mp_map_pick(ev, end, k_ev_keys, E_COUNT, a->ev, &a->ev_end);
    if (err != RC_OK) {
        return err;
    }
    a->meta_is_map = a->ev[E_META] && rc_mp_map_pick(a->ev[E_META], end, k_meta_keys, M_COUNT,
                                                     a->meta, NULL) == RC_OK;
    return RC_OK;
}

/* The whole size of the fixstr or str 8 at v of at most 32 bytes that ends before end, else 0. */
static inline size_t short_str_size(const uint8_t *v, const uint8_t *end) {
    size_t n, head = v && v < end ? rc_mp_str_head(v, (size_t)(end - v), &n) : 0;
    return head && head + n <= 32 && (size_t)(end - v) >= head + n ? head + n : 0;
}

/* Writes a kept text of len (<= DTPL_SRC_TEXT) bytes at o, in three copies of a constant size
 * at most (up to DTPL_SRC_TEXT bytes written); returns its end. */
static inline char *kept_at(char *o, const char *text, size_t len) {
    _Static_assert(DTPL_SRC_TEXT == 160, "kept_at copies 64 + 64 + 32 bytes");
    memcpy(o, text, 64);
    if (len > 64) {
        memcpy(o + 64, text + 64, 64);
        if (len > 128) {
            memcpy(o + 128, text + 128, 32);
        }
    }
    return o + len;
}

/* Appends a kept text of len bytes from text[DTPL_SRC_TEXT] through kept_at. */
static inline rc_err_t put_kept(rc_buf_t *out, const char *text, size_t len) {
    char *o = room(out, DTPL_SRC_TEXT);
    if (!o) {
        return RC_ERR_NOMEM;
    }
    out->len = (size_t)(kept_at(o, text, len) - out->data);
    return RC_OK;
}

/* Writes v's digits at o (room for 29 bytes) from c when it holds them, else by rc_json_uint_at,
 * kept in c; returns their end. */
static inline char *num_kept_at(char *o, dtpl_num_t *c, uint64_t v) {
    if (c->len && c->v == v) {
        memcpy(o, c->text, sizeof c->text);
        return o + c->len;
    }
    char *e = rc_json_uint_at(o, v);
    c->v = v;
    c->len = (uint8_t)(e - o); /* at most 20 digits */
    memcpy(c->text, o, sizeof c->text);
    return e;
}

/* True when c keeps a text for the str at v: equal bytes over the kept str's whole size (head
 * and body) are that str. */
static inline bool kept_eq(const dtpl_str_t *c, const uint8_t *v, const uint8_t *end) {
    return v && v < end && c->text_len && rc_tpl_key_eq(c->mp, c->mp_len, v, end);
}

/* The same for the source block's schema and table, */
static inline bool tables_eq(const dtpl_src_t *c, const uint8_t *schema, const uint8_t *table,
                             const uint8_t *end) {
    return c->text_len && schema && table && schema < end && table < end &&
           rc_tpl_key_eq(c->mp[0], c->mp_len[0], schema, end) &&
           rc_tpl_key_eq(c->mp[1], c->mp_len[1], table, end);
}

/* and with its server_id. */
static inline bool src_eq(const dtpl_src_t *c, const uint8_t *schema, const uint8_t *table,
                          uint64_t server_id, const uint8_t *end) {
    return c->server_id == server_id && tables_eq(c, schema, table, end);
}

/* ,"snapshot":"false","db":schema,"sequence":null,"table":table,"server_id":server_id, copied
 * from rt's (NULL: none) when it has them for these values, else written and kept there. */
static rc_err_t put_db_table(rc_buf_t *out, dtpl_row_t *rt, const uint8_t *schema,
                             const uint8_t *table, uint64_t server_id, const uint8_t *end) {
    if (rt && src_eq(&rt->src, schema, table, server_id, end)) {
        return put_kept(out, rt->src.text, rt->src.text_len);
    }
    size_t sl = short_str_size(schema, end), tl = short_str_size(table, end);
    dtpl_src_t *c = rt && sl && tl ? &rt->src : NULL;
    size_t mark = out->len;
    rc_err_t err = LIT(out, ",\"snapshot\":\"false\",\"db\":");
    err = err ? err : put_str_field(out, schema, end);
    err = err ? err : LIT(out, ",\"sequence\":null,\"table\":");
    err = err ? err : put_str_field(out, table, end);
    err = err ? err : LIT(out, ",\"server_id\":");
    err = err ? err : put_num(out, server_id, false);
    if (c && err == RC_OK && out->len - mark <= DTPL_SRC_TEXT) {
        memset(c->mp, 0, sizeof c->mp);
        memcpy(c->mp[0], schema, sl);
        memcpy(c->mp[1], table, tl);
        c->mp_len[0] = (uint8_t)sl;
        c->mp_len[1] = (uint8_t)tl;
        c->server_id = server_id;
        memcpy(c->text, out->data + mark, out->len - mark);
        c->text_len = (uint8_t)(out->len - mark);
    }
    return err;
}

/* before[0..before_len), the str field v, after[0..after_len): copied from c (NULL: none)
 * when it has them for v's bytes, else written and kept there. */
static inline __attribute__((always_inline)) rc_err_t
put_str_kept(rc_buf_t *out, dtpl_str_t *c, const char *before, size_t before_len, const uint8_t *v,
             const uint8_t *end, const char *after, size_t after_len) {
    if (c && kept_eq(c, v, end)) {
        return put_kept(out, c->text, c->text_len);
    }
    size_t vl = c ? short_str_size(v, end) : 0;
    size_t mark = out->len;
    rc_err_t err = put_bytes(out, before, before_len);
    err = err ? err : put_str_field(out, v, end);
    err = err ? err : put_bytes(out, after, after_len);
    if (vl && err == RC_OK && out->len - mark <= DTPL_SRC_TEXT) {
        memset(c->mp, 0, sizeof c->mp);
        memcpy(c->mp, v, vl);
        c->mp_len = (uint8_t)vl;
        memcpy(c->text, out->data + mark, out->len - mark);
        c->text_len = (uint8_t)(out->len - mark);
    }
    return err;
}

/* The str GTID at g (before end) quoted at o, which has room for RC_JSON_VALUE_ROOM bytes,
 * when its bytes are c's kept text and then up to 20 digits: one 64-byte copy. Returns the end
 * of the text; NULL for any other GTID (or fewer than 82 bytes to end). */
static inline char *gtid_kept_at(char *o, const dtpl_gtid_t *c, const uint8_t *g,
                                 const uint8_t *end) {
    _Static_assert(RC_JSON_VALUE_ROOM >= 66, "a GTID of 64 bytes quoted");
    size_t k = c->len, n;
    if (!k || end - g < 2 + DTPL_GTID_PRE + 32) { /* the loads below: 64 from b, 32 from b + k */
        return NULL;
    }
    const uint8_t *b = g + 1;
    if ((g[0] & 0xe0) == 0xa0) {
        n = g[0] & 0x1fu;
    } else if (g[0] == 0xd9) {
        n = g[1];
        b++;
    } else {
        return NULL;
    }
    if (n < k || n - k > 20 || n > 64) {
        return NULL;
    }
#if defined(__SSE2__)
    /* the kept text's bytes equal (48 compared, k <= 48 of them kept) and the 32 bytes from
     * b + k (b + k + 32 <= g + 82 <= end) digits where the GTID has its tail */
    uint64_t eq = 0;
    for (int i = 0; i < DTPL_GTID_PRE / 16; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + 16 * i));
        __m128i w = _mm_loadu_si128((const __m128i *)(const void *)(c->pre + 16 * i));
        eq |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, w)) << (16 * i);
    }
    uint64_t dig = 0;
    for (int i = 0; i < 2; i++) {
        __m128i d = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(const void *)(b + k + 16 * i)),
                                 _mm_set1_epi8('0'));
        dig |= (uint64_t)(unsigned)_mm_movemask_epi8(
                   _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d))
               << (16 * i);
    }
    if ((~eq & ((1ULL << k) - 1)) | (~dig & ((1ULL << (n - k)) - 1))) {
        return NULL;
    }
#else
    if (memcmp(b, c->pre, k) != 0) {
        return NULL;
    }
    for (size_t i = k; i < n; i++) {
        if (b[i] < '0' || b[i] > '9') {
            return NULL;
        }
    }
#endif
    o[0] = '"';
    memcpy(o + 1, b, 64);
    o[1 + n] = '"';
    return o + n + 2;
}

/* Keeps in c the text of the str GTID whose body is b[0..n) up to its trailing digits, when
 * rc_json_value_at wrote it at o..e as it is, quoted, and that text is printable ASCII of 1
 * to DTPL_GTID_PRE bytes followed by at most 20 digits. */
static void gtid_learn(dtpl_gtid_t *c, const uint8_t *b, size_t n, const char *o, const char *e) {
    if ((size_t)(e - o) != n + 2 || memcmp(o + 1, b, n) != 0) {
        return;
    }
    size_t k = n;
    while (k && b[k - 1] >= '0' && b[k - 1] <= '9') {
        k--;
    }
    if (k == 0 || k > DTPL_GTID_PRE || n - k > 20) {
        return;
    }
    for (size_t i = 0; i < k; i++) {
        if (b[i] < 0x20 || b[i] > 0x7e || b[i] == '"' || b[i] == '\\') {
            return;
        }
    }
    memset(c->pre, 0, sizeof c->pre);
    memcpy(c->pre, b, k);
    c->len = (uint8_t)k;
}

#define SOURCE_HEAD                                                                                \
    ",\"source\":{\"version\":\"" RC_VERSION "-rowcast\",\"connector\":\"mysql\",\"name\":"

static inline __attribute__((always_inline)) rc_err_t
write_event(rc_buf_t *out, rc_debezium_tpl_t *t, const rc_debezium_at_t *fa, const uint8_t *end,
            const uint8_t *columns, bool schemas) {
    const uint8_t *const *at = fa->ev, *const *mt = fa->meta;
    const uint8_t *action = at[E_ACTION];
    const char *a;
    uint32_t alen;
    if (action && action < end && action[0] == 0xa6 && end - action >= 7) {
        a = (const char *)action + 1; /* the usual fixstr of 6 */
        alen = 6;
    } else if (!action || rc_mp_read_str(&action, end, &a, &alen) != RC_OK) {
        return RC_ERR_INVALID;
    }
    if (!at[E_BEFORE] || !at[E_AFTER] || !at[E_META] || !fa->meta_is_map || alen != 6) {
        return RC_ERR_INVALID;
    }
#define SOURCE_TAIL(op) ",\"row\":0,\"thread\":null,\"query\":null},\"op\":\"" op "\",\"ts_ms\":"
    static const char k_tails[3][sizeof(SOURCE_TAIL("c"))] = {SOURCE_TAIL("c"), SOURCE_TAIL("u"),
                                                              SOURCE_TAIL("d")};
    const char *op = memcmp(a, RC_ACTION_INSERT, 6) == 0   ? k_tails[0]
                     : memcmp(a, RC_ACTION_UPDATE, 6) == 0 ? k_tails[1]
                     : memcmp(a, RC_ACTION_DELETE, 6) == 0 ? k_tails[2]
                                                           : NULL;
    uint64_t commit_ts = 0, timestamp = 0, server_id = 0, pos = 0;
    if (!op || !uint_field(mt[M_COMMIT_TS], end, &commit_ts) ||
        !uint_field(mt[M_TIMESTAMP], end, &timestamp) ||
        !uint_field(mt[M_SERVER_ID], end, &server_id) || !uint_field(mt[M_POS], end, &pos)) {
        return RC_ERR_INVALID;
    }
    rc_cols_t cset;
    rc_cols_init(&cset, columns, end);
    rc_cols_t *cols = rc_cols_any(&cset) ? &cset : NULL;
    dtpl_row_t *rt = NULL;
    bool same_table = false; /* rt's kept schema and table are this event's */
    if (t) {
        /* the table of the event before, when its kept schema and table bytes are this
         * event's: their hash is the same (the slot kept them from an event of its own) */
        same_table = t->last && tables_eq(&t->last->src, at[E_SCHEMA], at[E_TABLE], end);
        rt = same_table ? t->last
                        : &t->rows[rc_tpl_table_hash(at[E_SCHEMA], at[E_TABLE], end) % DTPL_SLOTS];
        t->last = rt;
        rt = rc_tpl_row_sync(&rt->desc, &rt->desc_len, &rt->desc_cap, cols, rt->cols, rt->cap,
                             sizeof *rt->cols)
                 ? rt
                 : NULL;
        t->key_rt = rt;
    }
    rc_err_t err = schemas ? put_envelope_schema(out, at, mt[M_PIPELINE], end, cols) : RC_OK;
    if (at[E_BEFORE] < end && at[E_BEFORE][0] == 0x90) { /* an insert's: one literal */
        err = err ? err : LIT(out, "{\"before\":null,\"after\":");
    } else {
        err = err ? err : LIT(out, "{\"before\":");
        err = err ? err : put_side(out, at[E_BEFORE], end, cols, rt);
        err = err ? err : LIT(out, ",\"after\":");
    }
    err = err ? err : put_side(out, at[E_AFTER], end, cols, rt);
    if (err == RC_OK && rt && kept_eq(&rt->name, mt[M_PIPELINE], end) &&
        (same_table ? rt->src.server_id == server_id
                    : src_eq(&rt->src, at[E_SCHEMA], at[E_TABLE], server_id, end)) &&
        kept_eq(&rt->file, mt[M_FILE], end)) {
        /* the usual event: every kept text of the source block holds; each half of what
         * follows the rows written into room reserved once */
        char *o = room(out, 2 * DTPL_SRC_TEXT + 32 + 8 + RC_JSON_VALUE_ROOM), *e;
        const uint8_t *g = mt[M_GTID];
        if (!o) {
            return RC_ERR_NOMEM;
        }
        o = kept_at(o, rt->name.text, rt->name.text_len);
        o = num_kept_at(o, &rt->commit_ms, commit_ts * 1000);
        o = kept_at(o, rt->src.text, rt->src.text_len);
        memcpy(o, ",\"gtid\":", 8);
        o += 8;
        if (g && g < end && (e = gtid_kept_at(o, &t->gtid, g, end)) != NULL) {
            out->len = (size_t)(e - out->data); /* the kept text and other digits */
        } else if (g && g < end && ((g[0] & 0xe0) == 0xa0 || g[0] == 0xd9) &&
                   (e = rc_json_value_at(o, &g, end)) != NULL) {
            const uint8_t *b = mt[M_GTID] + (mt[M_GTID][0] == 0xd9 ? 2 : 1);
            gtid_learn(&t->gtid, b, (size_t)(g - b), o, e);
            out->len = (size_t)(e - out->data); /* a str GTID, the usual one */
        } else {
            out->len = (size_t)(o - out->data);
            if ((err = put_str_field(out, mt[M_GTID], end)) != RC_OK) {
                return err;
            }
        }
        if (!(o = room(out, DTPL_SRC_TEXT + 2 * 32 + sizeof k_tails[0] + 20))) {
            return RC_ERR_NOMEM;
        }
        o = kept_at(o, rt->file.text, rt->file.text_len);
        o = rc_json_uint_at(o, pos);
        memcpy(o, op, sizeof k_tails[0]);
        o = num_kept_at(o + sizeof k_tails[0] - 1, &rt->ts_ms, timestamp / 1000);
        memcpy(o, ",\"transaction\":null}", 20);
        out->len = (size_t)(o + 20 - out->data);
        return schemas ? rc_buf_putc(out, '}') : RC_OK;
    }
    err = err ? err
              : put_str_kept(out, rt ? &rt->name : NULL, SOURCE_HEAD, sizeof(SOURCE_HEAD) - 1,
                             mt[M_PIPELINE], end, ",\"ts_ms\":", 9);
    err = err ? err : put_num(out, commit_ts * 1000, false);
    err = err ? err : put_db_table(out, rt, at[E_SCHEMA], at[E_TABLE], server_id, end);
    err = err ? err : LIT(out, ",\"gtid\":");
    err = err ? err : put_str_field(out, mt[M_GTID], end);
    err = err ? err
              : put_str_kept(out, rt ? &rt->file : NULL, ",\"file\":", 8, mt[M_FILE], end,
                             ",\"pos\":", 7);
    err = err ? err : put_num(out, pos, false);
    err = err ? err : put_bytes(out, op, sizeof(SOURCE_TAIL("c")) - 1);
    err = err ? err : put_num(out, timestamp / 1000, false);
    err = err ? err : LIT(out, ",\"transaction\":null}");
    if (schemas) {
        err = err ? err : rc_buf_putc(out, '}');
    }
    return err;
}

rc_err_t rc_debezium_write_event(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used) {
    return rc_debezium_write_event_typed(out, data, len, rc_cols_of_event(data, len), false, used);
}

rc_err_t rc_debezium_write_event_typed(rc_buf_t *out, const uint8_t *data, size_t len,
                                       const uint8_t *columns, bool schemas, size_t *used) {
    rc_debezium_at_t at;
    rc_err_t err = len == 0 ? RC_ERR_TRUNCATED : find_fields(data, data + len, &at);
    return err != RC_OK ? err
                        : rc_debezium_write_event_at(out, data, len, &at, columns, schemas, used);
}

rc_err_t rc_debezium_write_event_at(rc_buf_t *out, const uint8_t *data, size_t len,
                                    const rc_debezium_at_t *at, const uint8_t *columns,
                                    bool schemas, size_t *used) {
    return rc_debezium_write_event_tpl(out, NULL, data, len, at, columns, schemas, used);
}

rc_err_t rc_debezium_write_event_tpl(rc_buf_t *out, rc_debezium_tpl_t *t, const uint8_t *data,
                                     size_t len, const rc_debezium_at_t *at, const uint8_t *columns,
                                     bool schemas, size_t *used) {
    size_t mark = out->len;
    if (t) { /* key_rt: NULL until write_event syncs a row template with these columns */
        t->key_rt = NULL;
        t->key_cols = columns;
        t->key_end = data + len;
    }
    rc_err_t err = write_event(out, t, at, data + len, columns, schemas);
    if (err != RC_OK) {
        out->len = mark;
        return err;
    }
    if (used) {
        *used = (size_t)(at->ev_end - data);
    }
    return RC_OK;
}

rc_err_t rc_debezium_write_key(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used) {
    size_t mark = out->len;
    const uint8_t *p = data;
    rc_err_t err = len == 0 ? RC_ERR_TRUNCATED : put_row(out, &p, data + len, NULL, NULL);
    if (err != RC_OK) {
        out->len = mark;
        return err;
    }
    if (used) {
        *used = (size_t)(p - data);
    }
    return RC_OK;
}

/* How many leading positions of the row template a one-column key's name is looked for in when
 * it is not the one a key named last. */
#define DTPL_KEY_SCAN 8

/* The key map at *pp as put_row writes it, when it is a key of one column (a fixmap of 1) whose
 * name a position of rt has: rt is the event's row template, synced with the key's descriptor
 * by write_event. It is written with that position's text and info, as put_row does with a
 * template (the text without its ',': the key's first member); *err is the result. False (and
 * nothing written) for any other key. */
static inline __attribute__((always_inline)) bool
put_key_fast(rc_buf_t *out, const uint8_t **pp, const uint8_t *end, dtpl_row_t *rt, rc_err_t *err) {
    const uint8_t *kp = *pp + 1;
    if (end - kp <= 32 || (*pp)[0] != 0x81) {
        return false;
    }
    uint32_t j = rt->key_col, cap = rt->cap;
    bool hit = j < cap && rc_tpl_eq32(rt->cols[j].mp, rt->cols[j].skip, kp);
    for (uint32_t i = 0; !hit && i < cap && i < DTPL_KEY_SCAN; i++) {
        if (rc_tpl_eq32(rt->cols[i].mp, rt->cols[i].skip, kp)) {
            j = i;
            hit = true;
        }
    }
    if (!hit) {
        return false;
    }
    dtpl_col_t *tc = &rt->cols[j];
    char *o = room(out, 1 + DTPL_TEXT + RC_JSON_VALUE_ROOM + 1), *e;
    if (!o) {
        *err = RC_ERR_NOMEM;
        return true;
    }
    rt->key_col = j;
    /* '{' and the name: a first position's text as it is, another's with its ',' replaced
     * (past text_len: beyond len) */
    if (j == 0) {
        *o++ = '{';
        memcpy(o, tc->text, DTPL_TEXT);
    } else {
        memcpy(o, tc->text, DTPL_TEXT);
        *o = '{';
    }
    o += tc->text_len;
    const uint8_t *v = kp + tc->mp_len; /* before end: mp_len <= 32 < end - kp */
    uint8_t vc = tc->vclass[v[0]];
    *err = RC_OK;
    if (vc == VC_JSON && (e = rc_json_value_at(o, &v, end)) != NULL) {
        *e = '}';
        out->len = (size_t)(e + 1 - out->data);
        *pp = v;
        return true;
    }
    if (vc == VC_NIL) { /* a NULL */
        memcpy(o, "null}", 5);
        out->len = (size_t)(o + 5 - out->data);
        *pp = v + 1;
        return true;
    }
    out->len = (size_t)(o - out->data);
    *pp = v;
    *err = put_value_fast(out, pp, end, &tc->ci, &tc->day);
    *err = *err ? *err : rc_buf_putc(out, '}');
    return true;
}

/* rc_debezium_write_key_tpl's key but the one put_key_fast writes alone (rt: as it takes it). */
static rc_err_t write_key(rc_buf_t *out, const uint8_t *key, const uint8_t *end,
                          const rc_debezium_at_t *a, const uint8_t *columns, bool schemas,
                          dtpl_row_t *rt) {
    size_t mark = out->len;
    const uint8_t *p = key;
    rc_err_t err;
    rc_cols_t cset;
    rc_cols_init(&cset, columns, end);
    rc_cols_t *cols = rc_cols_any(&cset) ? &cset : NULL;
    err = RC_OK;
    if (schemas) {
        const uint8_t *q = key, *const *at = a->ev;
        uint32_t n = 0;
        err = LIT(out, "{\"schema\":{\"type\":\"struct\",\"fields\":[");
        err = err ? err : rc_mp_read_map(&q, end, &n);
        for (uint32_t i = 0; i < n && err == RC_OK; i++) {
            const char *k;
            uint32_t klen;
            rc_col_info_t ci;
            cschema_t s;
            if ((err = rc_mp_read_str(&q, end, &k, &klen)) != RC_OK) {
                break;
            }
            bool described = cols && rc_cols_find(cols, k, klen, &ci);
            field_schema(described ? &ci : NULL, q, end, &s);
            err = i ? rc_buf_putc(out, ',') : RC_OK;
            err = err ? err
                      : put_field(out, &s, rc_mp_is_nil(q, end), k, klen); /* a key is NOT NULL */
            err = err ? err : rc_mp_skip(&q, end);
        }
        err = err ? err : LIT(out, "],\"optional\":false,\"name\":");
        err = err ? err
                  : put_schema_name(out, a->meta_is_map ? a->meta[M_PIPELINE] : NULL, at[E_SCHEMA],
                                    at[E_TABLE], end, "Key");
        err = err ? err : LIT(out, "},\"payload\":");
    }
    if (err == RC_OK && !(rt && put_key_fast(out, &p, end, rt, &err))) {
        err = put_row(out, &p, end, cols, NULL);
    }
    if (schemas) {
        err = err ? err : rc_buf_putc(out, '}');
    }
    if (err != RC_OK) {
        out->len = mark;
    }
    return err;
}

rc_err_t rc_debezium_write_key_at(rc_buf_t *out, const uint8_t *key, const uint8_t *end,
                                  const rc_debezium_at_t *a, const uint8_t *columns, bool schemas) {
    return write_key(out, key, end, a, columns, schemas, NULL);
}

rc_err_t rc_debezium_write_key_tpl(rc_buf_t *out, rc_debezium_tpl_t *t, const uint8_t *key,
                                   const uint8_t *end, const rc_debezium_at_t *a,
                                   const uint8_t *columns, bool schemas) {
    dtpl_row_t *rt =
        t && t->key_rt && t->key_cols == columns && t->key_end == end ? t->key_rt : NULL;
    size_t mark = out->len;
    const uint8_t *p = key;
    rc_err_t err;
    if (rt && !schemas && put_key_fast(out, &p, end, rt, &err)) {
        if (err != RC_OK) {
            out->len = mark;
        }
        return err;
    }
    /* without schemas put_key_fast has just declined the key: not tried again */
    return write_key(out, key, end, a, columns, schemas, schemas ? rt : NULL);
}

rc_err_t rc_debezium_write_key_of(rc_buf_t *out, const uint8_t *ev, size_t len, const uint8_t *key,
                                  const uint8_t *columns, bool schemas) {
    rc_debezium_at_t at;
    memset(&at, 0, sizeof at);
    if (schemas) { /* the schema's name: the event's schema, table and meta.pipeline */
        rc_err_t err = len == 0 ? RC_ERR_TRUNCATED : find_fields(ev, ev + len, &at);
        if (err != RC_OK) {
            return err;
        }
    }
    return rc_debezium_write_key_at(out, key, ev + len, &at, columns, schemas);
}
