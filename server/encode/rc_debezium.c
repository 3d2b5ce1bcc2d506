/* rc_debezium.c: msgpack event -> Debezium's change-event JSON (rc_debezium.h).
 *
 * The envelope is laid out here; values that Debezium writes differently from rowcast's JSON
 * (DECIMAL, DATE, TIME, DATETIME, zero dates, JSON, BIGINT UNSIGNED above 2^63-1) are
 * converted from their canonical text, and every other value goes through rc_json_write. */
#include "rc_debezium.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "rc_event.h"
#include "rc_json.h"
#include "rc_mp.h"
#include "rc_text.h"
#include "rc_version.h"

/* Decimal digits of the largest DECIMAL (65) fit in 28 bytes; a little room besides. */
#define DEC_BYTES 32

/* The unscaled value of a DECIMAL text ("-1234.5600" -> -12345600) as Java's
 * BigInteger.toByteArray gives it: minimal two's complement, big-endian. Returns the byte
 * count, 0 when the text is not a decimal. */
static size_t decimal_bytes(const uint8_t *s, size_t n, uint8_t out[DEC_BYTES + 1]) {
    uint8_t mag[DEC_BYTES] = {0}; /* big-endian magnitude */
    bool neg = n > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0, digits = 0, points = 0;
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
    size_t first = 0;
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

/* base64 through rc_json's writer, from a msgpack bin built on the stack */
static rc_err_t put_b64(rc_buf_t *out, const uint8_t *b, size_t n) {
    uint8_t mp[2 + DEC_BYTES + 1];
    mp[0] = 0xc4;
    mp[1] = (uint8_t)n;
    memcpy(mp + 2, b, n);
    return rc_json_write(out, mp, 2 + n, NULL);
}

static rc_err_t put_num(rc_buf_t *out, uint64_t v, bool is_signed);

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

static rc_err_t put_value(rc_buf_t *out, const uint8_t **pp, const uint8_t *end) {
    const uint8_t *p = *pp;
    if (p >= end) {
        return RC_ERR_TRUNCATED;
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
            return rc_buf_append(out, "null", 4); /* zero dates: null, as Debezium */
        }
        return put_i64(out, rc_text_days_from_civil(t.year, t.month, t.day));
    case RC_EXT_TIME:
        return rc_text_time(s, n, &us, &fsp) ? put_i64(out, us) : RC_ERR_INVALID;
    case RC_EXT_DATETIME: {
        if (!rc_text_datetime(s, n, &t)) {
            return RC_ERR_INVALID;
        }
        if (t.month == 0 || t.day == 0) {
            return rc_buf_append(out, "null", 4);
        }
        int64_t secs = rc_text_days_from_civil(t.year, t.month, t.day) * 86400 +
                       (int64_t)t.hour * 3600 + t.minute * 60 + t.second;
        return put_i64(out, t.fsp <= 3 ? secs * 1000 + t.micros / 1000 : secs * 1000000 + t.micros);
    }
    case RC_EXT_TIMESTAMP:
        if (!rc_text_timestamp(s, n, &us, &fsp)) {
            return RC_ERR_INVALID;
        }
        return us == 0 ? rc_buf_append(out, "null", 4)
                       : rc_json_write_string(out, (const char *)s, n);
    case RC_EXT_JSON:
        return n == 0 ? rc_buf_append(out, "null", 4)
                      : rc_json_write_string(out, (const char *)s, n);
    default: /* ENUM, SET as their text; unknown ext as rc_json does */
        return rc_json_write(out, p, (size_t)(after - p), NULL);
    }
}

/* A row map {col: value} as a JSON object. */
static rc_err_t put_row(rc_buf_t *out, const uint8_t **pp, const uint8_t *end) {
    uint32_t n;
    rc_err_t err = rc_mp_read_map(pp, end, &n);
    if (err == RC_OK) {
        err = rc_buf_putc(out, '{');
    }
    for (uint32_t i = 0; i < n && err == RC_OK; i++) {
        const char *k;
        uint32_t klen;
        if ((i > 0 && (err = rc_buf_putc(out, ',')) != RC_OK) ||
            (err = rc_mp_read_str(pp, end, &k, &klen)) != RC_OK ||
            (err = rc_json_write_string(out, k, klen)) != RC_OK ||
            (err = rc_buf_putc(out, ':')) != RC_OK) {
            break;
        }
        err = put_value(out, pp, end);
    }
    return err != RC_OK ? err : rc_buf_putc(out, '}');
}

/* before/after: [] -> null, [row] -> row. */
static rc_err_t put_side(rc_buf_t *out, const uint8_t *p, const uint8_t *end) {
    uint32_t n;
    rc_err_t err = rc_mp_read_array(&p, end, &n);
    if (err != RC_OK) {
        return err;
    }
    if (n > 1) {
        return RC_ERR_INVALID; /* Debezium has one row per event */
    }
    return n == 0 ? rc_buf_append(out, "null", 4) : put_row(out, &p, end);
}

/* A str or nil field as JSON ("null" when absent); anything else is an error. */
static rc_err_t put_str_field(rc_buf_t *out, const uint8_t *v, const uint8_t *end) {
    const char *s;
    uint32_t n;
    if (!v || rc_mp_is_nil(v, end)) {
        return rc_buf_append(out, "null", 4);
    }
    rc_err_t err = rc_mp_read_str(&v, end, &s, &n);
    return err != RC_OK ? err : rc_json_write_string(out, s, n);
}

static bool uint_field(const uint8_t *v, const uint8_t *end, uint64_t *u) {
    if (!v || v >= end) {
        return false;
    }
    if (v[0] <= 0x7f) {
        *u = v[0];
        return true;
    }
    if (v[0] < 0xcc || v[0] > 0xcf) {
        return false;
    }
    size_t w = (size_t)1 << (v[0] - 0xcc);
    if ((size_t)(end - v) <= w) {
        return false;
    }
    *u = 0;
    for (size_t i = 1; i <= w; i++) {
        *u = *u << 8 | v[i];
    }
    return true;
}

#define LIT(out, s) rc_buf_append(out, s, sizeof(s) - 1)

enum { E_SCHEMA, E_TABLE, E_ACTION, E_BEFORE, E_AFTER, E_META, E_COUNT };
enum { M_PIPELINE, M_TIMESTAMP, M_GTID, M_FILE, M_POS, M_SERVER_ID, M_COMMIT_TS, M_COUNT };

/* Appends v in decimal; as int64 when is_signed. */
static rc_err_t put_num(rc_buf_t *out, uint64_t v, bool is_signed) {
    char tmp[24], *e = tmp + sizeof tmp, *p = e;
    bool neg = is_signed && (int64_t)v < 0;
    uint64_t u = neg ? (uint64_t)0 - v : v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg) {
        *--p = '-';
    }
    return rc_buf_append(out, p, (size_t)(e - p));
}

static rc_err_t write_event(rc_buf_t *out, const uint8_t *ev, const uint8_t *end,
                            const uint8_t **after_ev) {
    static const char *const ev_keys[E_COUNT] = {"schema", "table", "action",
                                                 "before", "after", "meta"};
    static const char *const meta_keys[M_COUNT] = {
        "pipeline", "timestamp", "gtid", "binlog_file", "binlog_pos", "server_id", "commit_ts"};
    const uint8_t *at[E_COUNT], *mt[M_COUNT];
    rc_err_t err = rc_mp_map_pick(ev, end, ev_keys, E_COUNT, at, after_ev);
    if (err != RC_OK) {
        return err;
    }
    const uint8_t *action = at[E_ACTION];
    const char *a;
    uint32_t alen;
    if (!action || !at[E_BEFORE] || !at[E_AFTER] || !at[E_META] ||
        rc_mp_read_str(&action, end, &a, &alen) != RC_OK || alen != 6 ||
        rc_mp_map_pick(at[E_META], end, meta_keys, M_COUNT, mt, NULL) != RC_OK) {
        return RC_ERR_INVALID;
    }
    const char *op = memcmp(a, RC_ACTION_INSERT, 6) == 0   ? "c"
                     : memcmp(a, RC_ACTION_UPDATE, 6) == 0 ? "u"
                     : memcmp(a, RC_ACTION_DELETE, 6) == 0 ? "d"
                                                           : NULL;
    uint64_t commit_ts = 0, timestamp = 0, server_id = 0, pos = 0;
    if (!op || !uint_field(mt[M_COMMIT_TS], end, &commit_ts) ||
        !uint_field(mt[M_TIMESTAMP], end, &timestamp) ||
        !uint_field(mt[M_SERVER_ID], end, &server_id) || !uint_field(mt[M_POS], end, &pos)) {
        return RC_ERR_INVALID;
    }
    err = LIT(out, "{\"before\":");
    err = err ? err : put_side(out, at[E_BEFORE], end);
    err = err ? err : LIT(out, ",\"after\":");
    err = err ? err : put_side(out, at[E_AFTER], end);
    err = err ? err
              : LIT(out, ",\"source\":{\"version\":\"" RC_VERSION "-rowcast\","
                         "\"connector\":\"mysql\",\"name\":");
    err = err ? err : put_str_field(out, mt[M_PIPELINE], end);
    err = err ? err : LIT(out, ",\"ts_ms\":");
    err = err ? err : put_num(out, commit_ts * 1000, false);
    err = err ? err : LIT(out, ",\"snapshot\":\"false\",\"db\":");
    err = err ? err : put_str_field(out, at[E_SCHEMA], end);
    err = err ? err : LIT(out, ",\"sequence\":null,\"table\":");
    err = err ? err : put_str_field(out, at[E_TABLE], end);
    err = err ? err : LIT(out, ",\"server_id\":");
    err = err ? err : put_num(out, server_id, false);
    err = err ? err : LIT(out, ",\"gtid\":");
    err = err ? err : put_str_field(out, mt[M_GTID], end);
    err = err ? err : LIT(out, ",\"file\":");
    err = err ? err : put_str_field(out, mt[M_FILE], end);
    err = err ? err : LIT(out, ",\"pos\":");
    err = err ? err : put_num(out, pos, false);
    err = err ? err : LIT(out, ",\"row\":0,\"thread\":null,\"query\":null},\"op\":\"");
    err = err ? err : rc_buf_append(out, op, 1);
    err = err ? err : LIT(out, "\",\"ts_ms\":");
    err = err ? err : put_num(out, timestamp / 1000, false);
    err = err ? err : LIT(out, ",\"transaction\":null}");
    return err;
}

rc_err_t rc_debezium_write_event(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used) {
    size_t mark = out->len;
    const uint8_t *after = data;
    rc_err_t err = len == 0 ? RC_ERR_TRUNCATED : write_event(out, data, data + len, &after);
    if (err != RC_OK) {
        out->len = mark;
        return err;
    }
    if (used) {
        *used = (size_t)(after - data);
    }
    return RC_OK;
}

rc_err_t rc_debezium_write_key(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used) {
    size_t mark = out->len;
    const uint8_t *p = data;
    rc_err_t err = len == 0 ? RC_ERR_TRUNCATED : put_row(out, &p, data + len);
    if (err != RC_OK) {
        out->len = mark;
        return err;
    }
    if (used) {
        *used = (size_t)(p - data);
    }
    return RC_OK;
}
