/* rc_binlog_json.c: MySQL binary JSON to compact JSON text, as MySQL prints it minus spaces
 * (stored key order, MySQL's double form, opaque DECIMAL as a number). Every offset is
 * bounds-checked and nesting is limited, so malformed input fails cleanly. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rc_binlog_int.h"

enum {
    J_SMALL_OBJ = 0x00,
    J_LARGE_OBJ = 0x01,
    J_SMALL_ARR = 0x02,
    J_LARGE_ARR = 0x03,
    J_LITERAL = 0x04,
    J_INT16 = 0x05,
    J_UINT16 = 0x06,
    J_INT32 = 0x07,
    J_UINT32 = 0x08,
    J_INT64 = 0x09,
    J_UINT64 = 0x0a,
    J_DOUBLE = 0x0b,
    J_STRING = 0x0c,
    J_OPAQUE = 0x0f,
};

#define J_MAX_DEPTH 150

typedef struct jctx {
    rc_buf_t *out;
    char *errstr;
    size_t errstr_size;
    rc_err_t err;
} jctx_t;

static rc_err_t jfail(jctx_t *c, const char *fmt, unsigned long a, unsigned long b) {
    char msg[160];
    snprintf(msg, sizeof(msg), fmt, a, b);
    c->err = rc_seterr(c->errstr, c->errstr_size, RC_ERR_INVALID, "invalid binary JSON: %s", msg);
    return RC_ERR_INVALID;
}

static rc_err_t jput(jctx_t *c, const char *s, size_t n) {
    if (rc_buf_append(c->out, s, n) != RC_OK) {
        c->err = rc_seterr(c->errstr, c->errstr_size, RC_ERR_NOMEM, "out of memory");
        return RC_ERR_NOMEM;
    }
    return RC_OK;
}

/* Variable-length length: 7 bits a byte, least significant first, at most 5 bytes. */
static bool jvarlen(const uint8_t *p, size_t len, uint32_t *v, size_t *used) {
    uint64_t r = 0;
    for (size_t i = 0; i < 5 && i < len; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if ((p[i] & 0x80) == 0) {
            if (r > UINT32_MAX) {
                return false;
            }
            *v = (uint32_t)r;
            *used = i + 1;
            return true;
        }
    }
    return false;
}

static rc_err_t jstring(jctx_t *c, const uint8_t *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (rc_buf_reserve(c->out, n + 2) != RC_OK) {
        c->err = rc_seterr(c->errstr, c->errstr_size, RC_ERR_NOMEM, "out of memory");
        return RC_ERR_NOMEM;
    }
    if (jput(c, "\"", 1) != RC_OK) {
        return c->err;
    }
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            continue;
        }
        if (jput(c, (const char *)s + run, i - run) != RC_OK) {
            return c->err;
        }
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (ch) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            en = 6;
            break;
        }
        if (jput(c, esc, en) != RC_OK) {
            return c->err;
        }
    }
    if (jput(c, (const char *)s + run, n - run) != RC_OK || jput(c, "\"", 1) != RC_OK) {
        return c->err;
    }
    return RC_OK;
}

/* MySQL's text form of a double: shortest round-trip digits; plain notation for
 * 1e-15 <= |d| < 1e15 (and for numbers with a fraction below 1e17), exponent otherwise;
 * integral values in plain notation get ".0". */
size_t rc_binlog_fmt_double(double d, char *out) {
    if (d == 0) {
        const char *z = signbit(d) ? "-0.0" : "0.0";
        strcpy(out, z);
        return strlen(z);
    }
    if (!isfinite(d)) {
        strcpy(out, "null"); /* MySQL never stores NaN or infinity in JSON */
        return 4;
    }
    char buf[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) {
            break;
        }
    }
    const char *s = buf;
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    char dig[24];
    int nd = 0;
    while (*s && *s != 'e') {
        if (*s >= '0' && *s <= '9' && nd < 20) {
            dig[nd++] = *s;
        }
        s++;
    }
    int exp10 = *s == 'e' ? atoi(s + 1) : 0;
    while (nd > 1 && dig[nd - 1] == '0') {
        nd--;
    }
    int decpt = exp10 + 1;
    bool plain = decpt > 0 ? (decpt < nd || decpt <= 15) : decpt >= -14;
    size_t o = 0;
    if (neg) {
        out[o++] = '-';
    }
    if (!plain) {
        out[o++] = dig[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, dig + 1, (size_t)nd - 1);
            o += (size_t)nd - 1;
        }
        o += (size_t)sprintf(out + o, "e%d", exp10);
    } else if (decpt <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -decpt; i++) {
            out[o++] = '0';
        }
        memcpy(out + o, dig, (size_t)nd);
        o += (size_t)nd;
    } else {
        for (int i = 0; i < decpt; i++) {
            out[o++] = i < nd ? dig[i] : '0';
        }
        out[o++] = '.';
        if (decpt < nd) {
            memcpy(out + o, dig + decpt, (size_t)(nd - decpt));
            o += (size_t)(nd - decpt);
        } else {
            out[o++] = '0';
        }
    }
    out[o] = '\0';
    return o;
}

static rc_err_t jopaque(jctx_t *c, const uint8_t *p, size_t len) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (len < 1) {
        return jfail(c, "opaque value has no field type", 0, 0);
    }
    uint8_t ftype = p[0];
    uint32_t n;
    size_t used;
    if (!jvarlen(p + 1, len - 1, &n, &used)) {
        return jfail(c, "opaque value length is malformed", 0, 0);
    }
    const uint8_t *d = p + 1 + used;
    if (n > len - 1 - used) {
        return jfail(c, "opaque value length %lu exceeds the %lu bytes available", n,
                     len - 1 - used);
    }
    char tmp[RC_BINLOG_TEXT_MAX + 2];
    size_t tn;
    switch (ftype) {
    case RC_T_NEWDECIMAL:
        if (n < 2) {
            return jfail(c, "opaque decimal length %lu is too short", n, 0);
        }
        if (rc_binlog_decimal_text(d + 2, n - 2, d[0], d[1], tmp, sizeof(tmp), NULL) != RC_OK) {
            return jfail(c, "opaque decimal(%lu,%lu) is malformed", d[0], d[1]);
        }
        return jput(c, tmp, strlen(tmp));
    case RC_T_DATE:
    case RC_T_TIME:
    case RC_T_DATETIME:
    case RC_T_TIMESTAMP: {
        if (n < 8) {
            return jfail(c, "opaque temporal length %lu is too short", n, 0);
        }
        int64_t packed = (int64_t)rc_le64(d);
        tmp[0] = '"';
        if (ftype == RC_T_TIME) {
            tn = rc_binlog_fmt_time_packed(packed, 6, tmp + 1);
        } else {
            tn = rc_binlog_fmt_datetime_packed(packed, 6, ' ', tmp + 1);
            if (ftype == RC_T_DATE) {
                tn = 10;
            }
        }
        tmp[1 + tn] = '"';
        return jput(c, tmp, tn + 2);
    }
    default:
        break;
    }
    tn = (size_t)snprintf(tmp, sizeof(tmp), "\"base64:type%u:", ftype);
    if (jput(c, tmp, tn) != RC_OK) {
        return c->err;
    }
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        size_t k = n - i;
        if (k > 1) {
            v |= (uint32_t)d[i + 1] << 8;
        }
        if (k > 2) {
            v |= d[i + 2];
        }
        char q[4] = {b64[(v >> 18) & 63], b64[(v >> 12) & 63], k > 1 ? b64[(v >> 6) & 63] : '=',
                     k > 2 ? b64[v & 63] : '='};
        if (jput(c, q, 4) != RC_OK) {
            return c->err;
        }
    }
    return jput(c, "\"", 1);
}

static rc_err_t jvalue(jctx_t *c, uint8_t type, const uint8_t *p, size_t len, int depth);

static rc_err_t jint(jctx_t *c, bool is_signed, uint64_t u) {
    char tmp[32];
    int n = is_signed ? snprintf(tmp, sizeof(tmp), "%" PRId64, (int64_t)u)
                      : snprintf(tmp, sizeof(tmp), "%" PRIu64, u);
    return jput(c, tmp, (size_t)n);
}

/* Objects and arrays: offsets are relative to p (the byte after the type). */
static rc_err_t jcontainer(jctx_t *c, uint8_t type, const uint8_t *p, size_t len, int depth) {
    bool large = type == J_LARGE_OBJ || type == J_LARGE_ARR;
    bool obj = type == J_SMALL_OBJ || type == J_LARGE_OBJ;
    size_t w = large ? 4 : 2;
    if (depth > J_MAX_DEPTH) {
        return jfail(c, "nesting deeper than %lu levels", J_MAX_DEPTH, 0);
    }
    if (len < 2 * w) {
        return jfail(c, "container header needs %lu bytes, %lu available", 2 * w, len);
    }
    uint64_t count = rc_le(p, (unsigned)w), size = rc_le(p + w, (unsigned)w);
    if (size > len) {
        return jfail(c, "container size %lu exceeds the %lu bytes available", size, len);
    }
    uint64_t key_entries = 2 * w, val_entries = key_entries + (obj ? count * (w + 2) : 0);
    if (val_entries + count * (1 + w) > size) {
        return jfail(c, "%lu elements do not fit in a container of %lu bytes", count, size);
    }
    if (jput(c, obj ? "{" : "[", 1) != RC_OK) {
        return c->err;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (i > 0 && jput(c, ",", 1) != RC_OK) {
            return c->err;
        }
        if (obj) {
            const uint8_t *ke = p + key_entries + i * (w + 2);
            uint64_t koff = rc_le(ke, (unsigned)w), klen = rc_le16(ke + w);
            if (koff + klen > size) {
                return jfail(c, "key %lu lies outside its object", i, 0);
            }
            if (jstring(c, p + koff, klen) != RC_OK || jput(c, ":", 1) != RC_OK) {
                return c->err;
            }
        }
        const uint8_t *ve = p + val_entries + i * (1 + w);
        uint8_t vt = ve[0];
        rc_err_t err;
        switch (vt) {
        case J_LITERAL:
        case J_INT16:
        case J_UINT16:
            err = jvalue(c, vt, ve + 1, w, depth + 1);
            break;
        case J_INT32:
        case J_UINT32:
            if (large) {
                err = jvalue(c, vt, ve + 1, w, depth + 1);
                break;
            }
            /* fall through */
        default: {
            uint64_t off = rc_le(ve + 1, (unsigned)w);
            if (off >= size) {
                return jfail(c, "value %lu lies outside its container", i, 0);
            }
            err = jvalue(c, vt, p + off, size - off, depth + 1);
            break;
        }
        }
        if (err != RC_OK) {
            return err;
        }
    }
    return jput(c, obj ? "}" : "]", 1);
}

static rc_err_t jvalue(jctx_t *c, uint8_t type, const uint8_t *p, size_t len, int depth) {
    static const uint8_t need[16] = {0, 0, 0, 0, 1, 2, 2, 4, 4, 8, 8, 8, 0, 0, 0, 0};
    if (type < 16 && len < need[type]) {
        return jfail(c, "value of type %lu needs %lu bytes", type, need[type]);
    }
    char tmp[48];
    switch (type) {
    case J_SMALL_OBJ:
    case J_LARGE_OBJ:
    case J_SMALL_ARR:
    case J_LARGE_ARR:
        return jcontainer(c, type, p, len, depth);
    case J_LITERAL:
        switch (p[0]) {
        case 0:
            return jput(c, "null", 4);
        case 1:
            return jput(c, "true", 4);
        case 2:
            return jput(c, "false", 5);
        default:
            return jfail(c, "unknown literal %lu", p[0], 0);
        }
    case J_INT16:
        return jint(c, true, (uint64_t)(int64_t)(int16_t)rc_le16(p));
    case J_UINT16:
        return jint(c, false, rc_le16(p));
    case J_INT32:
        return jint(c, true, (uint64_t)(int64_t)(int32_t)rc_le32(p));
    case J_UINT32:
        return jint(c, false, rc_le32(p));
    case J_INT64:
        return jint(c, true, rc_le64(p));
    case J_UINT64:
        return jint(c, false, rc_le64(p));
    case J_DOUBLE: {
        uint64_t bits = rc_le64(p);
        double d;
        memcpy(&d, &bits, sizeof(d));
        size_t n = rc_binlog_fmt_double(d, tmp);
        return jput(c, tmp, n);
    }
    case J_STRING: {
        uint32_t n;
        size_t used;
        if (!jvarlen(p, len, &n, &used) || n > len - used) {
            return jfail(c, "string length exceeds the %lu bytes available", len, 0);
        }
        return jstring(c, p + used, n);
    }
    case J_OPAQUE:
        return jopaque(c, p, len);
    default:
        return jfail(c, "unknown value type 0x%02lx", type, 0);
    }
}

rc_err_t rc_binlog_json_quote(const uint8_t *s, size_t n, rc_buf_t *out) {
    char why[64];
    jctx_t c = {out, why, sizeof(why), RC_OK};
    return jstring(&c, s, n);
}

rc_err_t rc_binlog_json_text(const uint8_t *p, size_t len, rc_buf_t *out, char *errstr,
                             size_t errstr_size) {
    jctx_t c = {out, errstr, errstr_size, RC_OK};
    if (len == 0) {
        return jput(&c, "null", 4);
    }
    size_t start = out->len;
    rc_err_t err = jvalue(&c, p[0], p + 1, len - 1, 0);
    if (err != RC_OK) {
        out->len = start;
    }
    return err;
}
