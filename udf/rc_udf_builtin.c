/* rc_udf_builtin.c: the UDFs every rowcast has, for scrubbing and shaping data in scripts.
 *
 * Each is a plain rowcast_udf_fn over msgpack (the same ABI plugins use). String functions
 * take str, bin or ext values and give NULL back for NULL (SQL NULL stays NULL); any other
 * type is an error that names the argument. Results are written straight to the caller's
 * buffer; only inputs above a few KiB cost an allocation. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rc_buf.h"
#include "rc_json.h"
#include "rc_mp.h"
#include "rc_udf.h"

#define MAX_ARGS 4

/* ---- arguments ---- */

typedef enum kind { K_NIL, K_BOOL, K_NUM, K_STR, K_ARRAY, K_MAP } kind_t;

typedef struct arg {
    kind_t kind;
    const char *s; /* K_STR: str, bin or ext payload */
    uint32_t n;
    double d; /* K_NUM */
    bool is_int;
    int64_t i; /* K_NUM integers within int64 */
    const uint8_t *raw;
    size_t raw_len; /* the whole value */
} arg_t;

static uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* Reads the header of one value at *p (already known to be whole) into a. */
static void read_arg(const uint8_t *p, arg_t *a) {
    uint8_t c = p[0];
    memset(a, 0, sizeof(*a));
    if (c <= 0x7f || c >= 0xe0) {
        a->kind = K_NUM;
        a->is_int = true;
        a->i = c <= 0x7f ? c : (int8_t)c;
        a->d = (double)a->i;
    } else if ((c & 0xe0) == 0xa0 || (c >= 0xd9 && c <= 0xdb) || (c >= 0xc4 && c <= 0xc6)) {
        int lb = (c & 0xe0) == 0xa0 ? 0 : 1 << ((c >= 0xd9 ? c - 0xd9 : c - 0xc4));
        a->kind = K_STR;
        a->n = lb ? (uint32_t)be(p + 1, lb) : (c & 0x1f);
        a->s = (const char *)p + 1 + lb;
    } else if (c >= 0xd4 && c <= 0xd8) {
        a->kind = K_STR;
        a->n = 1u << (c - 0xd4);
        a->s = (const char *)p + 2;
    } else if (c >= 0xc7 && c <= 0xc9) {
        int lb = 1 << (c - 0xc7);
        a->kind = K_STR;
        a->n = (uint32_t)be(p + 1, lb);
        a->s = (const char *)p + 2 + lb;
    } else if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd) {
        a->kind = K_ARRAY;
    } else if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf) {
        a->kind = K_MAP;
    } else if (c == 0xc2 || c == 0xc3) {
        a->kind = K_BOOL;
        a->is_int = c == 0xc3;
    } else if (c >= 0xcc && c <= 0xcf) {
        uint64_t u = be(p + 1, 1 << (c - 0xcc));
        a->kind = K_NUM;
        a->d = (double)u;
        a->is_int = u <= INT64_MAX;
        a->i = a->is_int ? (int64_t)u : 0;
    } else if (c >= 0xd0 && c <= 0xd3) {
        int n = 1 << (c - 0xd0), sh = 64 - 8 * n;
        uint64_t raw = be(p + 1, n);
        a->kind = K_NUM;
        a->is_int = true;
        a->i = sh ? (int64_t)(raw << sh) >> sh : (int64_t)raw;
        a->d = (double)a->i;
    } else if (c == 0xca) {
        uint32_t bits = (uint32_t)be(p + 1, 4);
        float f;
        memcpy(&f, &bits, 4);
        a->kind = K_NUM;
        a->d = f;
    } else if (c == 0xcb) {
        uint64_t bits = be(p + 1, 8);
        a->kind = K_NUM;
        memcpy(&a->d, &bits, 8);
    } else {
        a->kind = K_NIL;
    }
}

/* Splits the argument array into at most MAX_ARGS values (rc_udf_call checked the count). */
static bool read_args(const uint8_t *args, size_t len, uint32_t argc, arg_t *out, char *errstr,
                      size_t errstr_size) {
    const uint8_t *p = args, *end = args + len;
    uint32_t n;
    if (rc_mp_read_array(&p, end, &n) != RC_OK || n != argc || argc > MAX_ARGS) {
        snprintf(errstr, errstr_size, "the arguments are not a list of %u values", argc);
        return false;
    }
    for (uint32_t i = 0; i < argc; i++) {
        const uint8_t *start = p;
        if (rc_mp_skip(&p, end) != RC_OK) {
            snprintf(errstr, errstr_size, "argument %u is not valid msgpack", i + 1);
            return false;
        }
        read_arg(start, &out[i]);
        out[i].raw = start;
        out[i].raw_len = (size_t)(p - start);
    }
    return true;
}

static const char *kind_name(kind_t k) {
    static const char *const names[] = {"null", "boolean", "number", "string", "list", "map"};
    return names[k];
}

/* A string argument; *is_nil when it is NULL and nil_ok. */
static bool want_str(const arg_t *a, uint32_t i, const char *what, bool nil_ok, bool *is_nil,
                     char *errstr, size_t errstr_size) {
    if (is_nil) {
        *is_nil = a->kind == K_NIL && nil_ok;
        if (*is_nil) {
            return true;
        }
    }
    if (a->kind != K_STR) {
        snprintf(errstr, errstr_size, "argument %u (%s) must be a string, got a %s", i + 1, what,
                 kind_name(a->kind));
        return false;
    }
    return true;
}

/* ---- output ---- */

static void packer(msgpack_packer *pk, const rowcast_udf_out_t *out) {
    msgpack_packer_init(pk, out->data, out->write);
}

static int put_str(const rowcast_udf_out_t *out, const char *s, size_t n) {
    msgpack_packer pk;
    packer(&pk, out);
    return msgpack_pack_str(&pk, n) || msgpack_pack_str_body(&pk, s, n) ? -1 : 0;
}

static int put_nil(const rowcast_udf_out_t *out) {
    msgpack_packer pk;
    packer(&pk, out);
    return msgpack_pack_nil(&pk) ? -1 : 0;
}

static int nomem(char *errstr, size_t errstr_size) {
    snprintf(errstr, errstr_size, "out of memory");
    return -1;
}

/* ---- UTF-8 ---- */

/* Length of the well-formed UTF-8 sequence at s[0..n) (Unicode table 3-7), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) {
            return 0;
        }
    }
    return len;
}

static bool utf8_valid(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq((const unsigned char *)s + i, n - i);
        if (l == 0) {
            return false;
        }
        i += l;
    }
    return true;
}

/* One character: a well-formed sequence, or one byte of malformed input. */
static size_t char_len(const char *s, size_t n) {
    size_t l = utf8_seq((const unsigned char *)s, n);
    return l ? l : 1;
}

/* ---- obf_string ---- */

#define OBF_DEFAULT_KEY "rowcast obf_string v1"

typedef struct keystream {
    unsigned char seed[32], block[32];
    uint32_t counter;
    int used;
} keystream_t;

static unsigned char ks_next(keystream_t *k) {
    if (k->used == 32) {
        unsigned char in[36];
        memcpy(in, k->seed, 32);
        in[32] = (unsigned char)(k->counter >> 24);
        in[33] = (unsigned char)(k->counter >> 16);
        in[34] = (unsigned char)(k->counter >> 8);
        in[35] = (unsigned char)k->counter;
        k->counter++;
        SHA256(in, sizeof(in), k->block);
        k->used = 0;
    }
    return k->block[k->used++];
}

/* Lowercase letters of Latin-1 that stand in for any non-ASCII character: U+00E0..U+00FF
 * without U+00F7 (division sign). */
static unsigned latin_letter(unsigned char r) {
    unsigned cp = 0xe0 + r % 31;
    return cp >= 0xf7 ? cp + 1 : cp;
}

/* The head of a UDF whose first argument is a string and whose NULL in gives NULL out: reads
 * the arguments into a. True to go on; false with *ret set to what the UDF returns (-1 for an
 * error, or the result of writing NULL). */
static bool str_arg_head(const uint8_t *args, size_t len, uint32_t argc, arg_t *a,
                         const rowcast_udf_out_t *out, char *errstr, size_t errstr_size, int *ret) {
    bool nil;
    if (!read_args(args, len, argc, a, errstr, errstr_size) ||
        !want_str(&a[0], 0, "s", true, &nil, errstr, errstr_size)) {
        *ret = -1;
        return false;
    }
    if (nil) {
        *ret = put_nil(out);
        return false;
    }
    return true;
}

static int udf_obf_string(const uint8_t *args, size_t len, uint32_t argc,
                          const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                          void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    int ret;
    if (!str_arg_head(args, len, argc, a, out, errstr, errstr_size, &ret)) {
        return ret;
    }
    const char *key = OBF_DEFAULT_KEY;
    size_t klen = strlen(key);
    if (argc > 1) {
        if (!want_str(&a[1], 1, "key", false, NULL, errstr, errstr_size)) {
            return -1;
        }
        key = a[1].s;
        klen = a[1].n;
    }
    const char *s = a[0].s;
    size_t n = a[0].n, olen = 0;
    for (size_t i = 0; i < n;) {
        size_t l = char_len(s + i, n - i);
        olen += l == 1 && (unsigned char)s[i] < 0x80 ? 1 : 2;
        i += l;
    }
    keystream_t k = {.used = 32};
    unsigned int mlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)s, n, k.seed, &mlen)) {
        snprintf(errstr, errstr_size, "HMAC-SHA256 failed");
        return -1;
    }
    msgpack_packer pk;
    packer(&pk, out);
    if (msgpack_pack_str(&pk, olen)) {
        return nomem(errstr, errstr_size);
    }
    char buf[256];
    size_t bn = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = char_len(s + i, n - i);
        if (l == 1 && c < 0x80) {
            if (c >= 'a' && c <= 'z') {
                c = (unsigned char)('a' + ks_next(&k) % 26);
            } else if (c >= 'A' && c <= 'Z') {
                c = (unsigned char)('A' + ks_next(&k) % 26);
            } else if (c >= '0' && c <= '9') {
                c = (unsigned char)('0' + ks_next(&k) % 10);
            }
            buf[bn++] = (char)c;
        } else {
            unsigned cp = latin_letter(ks_next(&k));
            buf[bn++] = (char)(0xc0 | cp >> 6);
            buf[bn++] = (char)(0x80 | (cp & 0x3f));
        }
        i += l;
        if (bn + 2 > sizeof(buf) || i >= n) {
            if (msgpack_pack_str_body(&pk, buf, bn)) {
                return nomem(errstr, errstr_size);
            }
            bn = 0;
        }
    }
    return 0;
}

/* ---- mask_email ---- */

static int udf_mask_email(const uint8_t *args, size_t len, uint32_t argc,
                          const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                          void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    int ret;
    if (!str_arg_head(args, len, argc, a, out, errstr, errstr_size, &ret)) {
        return ret;
    }
    const char *s = a[0].s;
    size_t n = a[0].n;
    const char *at = NULL;
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == '@') {
            at = s + i - 1;
            break;
        }
    }
    size_t local = at ? (size_t)(at - s) : n; /* the part that is masked */
    size_t nchars = 0;
    for (size_t i = 0; i < local; i += char_len(s + i, local - i)) {
        nchars++;
    }
    /* the first character stays when at least two are there; the others become '*' */
    size_t keep = nchars >= 2 ? char_len(s, local) : 0;
    size_t stars = nchars >= 2 ? nchars - 1 : nchars;
    msgpack_packer pk;
    packer(&pk, out);
    if (msgpack_pack_str(&pk, keep + stars + (n - local)) || msgpack_pack_str_body(&pk, s, keep)) {
        return nomem(errstr, errstr_size);
    }
    static const char starbuf[64] =
        "****************************************************************";
    for (size_t left = stars; left > 0;) {
        size_t chunk = left < sizeof(starbuf) ? left : sizeof(starbuf);
        if (msgpack_pack_str_body(&pk, starbuf, chunk)) {
            return nomem(errstr, errstr_size);
        }
        left -= chunk;
    }
    return msgpack_pack_str_body(&pk, s + local, n - local) ? nomem(errstr, errstr_size) : 0;
}

/* ---- sha256, hmac_sha256 ---- */

static int put_hex(const rowcast_udf_out_t *out, const unsigned char *d, size_t n) {
    static const char hex[] = "0123456789abcdef";
    char buf[128];
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hex[d[i] >> 4];
        buf[2 * i + 1] = hex[d[i] & 15];
    }
    return put_str(out, buf, 2 * n);
}

static int udf_sha256(const uint8_t *args, size_t len, uint32_t argc, const rowcast_udf_out_t *out,
                      char *errstr, size_t errstr_size, void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    int ret;
    if (!str_arg_head(args, len, argc, a, out, errstr, errstr_size, &ret)) {
        return ret;
    }
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)a[0].s, a[0].n, d);
    return put_hex(out, d, sizeof(d));
}

static int udf_hmac_sha256(const uint8_t *args, size_t len, uint32_t argc,
                           const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                           void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    bool nil;
    if (!read_args(args, len, argc, a, errstr, errstr_size) ||
        !want_str(&a[0], 0, "key", false, NULL, errstr, errstr_size) ||
        !want_str(&a[1], 1, "s", true, &nil, errstr, errstr_size)) {
        return -1;
    }
    if (nil) {
        return put_nil(out);
    }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    if (!HMAC(EVP_sha256(), a[0].s, (int)a[0].n, (const unsigned char *)a[1].s, a[1].n, d, &dn)) {
        snprintf(errstr, errstr_size, "HMAC-SHA256 failed");
        return -1;
    }
    return put_hex(out, d, dn);
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int udf_base64_encode(const uint8_t *args, size_t len, uint32_t argc,
                             const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                             void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    int ret;
    if (!str_arg_head(args, len, argc, a, out, errstr, errstr_size, &ret)) {
        return ret;
    }
    const unsigned char *s = (const unsigned char *)a[0].s;
    size_t n = a[0].n;
    msgpack_packer pk;
    packer(&pk, out);
    if (msgpack_pack_str(&pk, (n + 2) / 3 * 4)) {
        return nomem(errstr, errstr_size);
    }
    char buf[256];
    size_t bn = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        buf[bn++] = b64[v >> 18];
        buf[bn++] = b64[(v >> 12) & 63];
        buf[bn++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        buf[bn++] = i + 2 < n ? b64[v & 63] : '=';
        if (bn + 4 > sizeof(buf) || i + 3 >= n) {
            if (msgpack_pack_str_body(&pk, buf, bn)) {
                return nomem(errstr, errstr_size);
            }
            bn = 0;
        }
    }
    return 0;
}

static int b64_value(unsigned char c) {
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

static int udf_base64_decode(const uint8_t *args, size_t len, uint32_t argc,
                             const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                             void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    int ret;
    if (!str_arg_head(args, len, argc, a, out, errstr, errstr_size, &ret)) {
        return ret;
    }
    const unsigned char *s = (const unsigned char *)a[0].s;
    size_t n = a[0].n;
    while (n > 0 && s[n - 1] == '=' && a[0].n - n < 2) {
        n--; /* at most two padding characters */
    }
    if (n % 4 == 1 || (n != a[0].n && a[0].n % 4 != 0)) {
        snprintf(errstr, errstr_size, "not valid base64: a length of %u characters is impossible",
                 a[0].n);
        return -1;
    }
    size_t olen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    char small[1024], *buf = olen <= sizeof(small) ? small : malloc(olen);
    if (!buf) {
        return nomem(errstr, errstr_size);
    }
    size_t o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            snprintf(errstr, errstr_size,
                     "not valid base64: character %s%c%s (byte %u) at offset %zu",
                     isprint(s[i]) ? "'" : "", isprint(s[i]) ? s[i] : '?', isprint(s[i]) ? "'" : "",
                     s[i], i);
            if (buf != small) {
                free(buf);
            }
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        if (i % 4 == 3) {
            buf[o++] = (char)(acc >> 16);
            buf[o++] = (char)(acc >> 8);
            buf[o++] = (char)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2) {
        buf[o++] = (char)(acc >> 4);
    } else if (n % 4 == 3) {
        buf[o++] = (char)(acc >> 10);
        buf[o++] = (char)(acc >> 2);
    }
    /* text comes back as a string; bytes that are not UTF-8 as binary */
    msgpack_packer pk;
    packer(&pk, out);
    int rc;
    if (utf8_valid(buf, o)) {
        rc = msgpack_pack_str(&pk, o) || msgpack_pack_str_body(&pk, buf, o);
    } else {
        rc = msgpack_pack_bin(&pk, o) || msgpack_pack_bin_body(&pk, buf, o);
    }
    if (buf != small) {
        free(buf);
    }
    return rc ? nomem(errstr, errstr_size) : 0;
}

/* ---- json ---- */

static int udf_json_encode(const uint8_t *args, size_t len, uint32_t argc,
                           const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                           void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    if (!read_args(args, len, argc, a, errstr, errstr_size)) {
        return -1;
    }
    rc_buf_t b = RC_BUF_INIT;
    rc_err_t err = rc_json_write(&b, a[0].raw, a[0].raw_len, NULL);
    int rc = err == RC_OK ? put_str(out, b.data ? b.data : "", b.len) : -1;
    rc_buf_free(&b);
    if (err != RC_OK) {
        snprintf(errstr, errstr_size, "cannot encode the value: %s", rc_err2str(err));
    }
    return rc;
}

/* A JSON parser (RFC 8259) that writes msgpack. Arrays and maps get 32-bit headers that are
 * patched once their size is known; compact() then rewrites them in the shortest form. */
typedef struct jp {
    const char *s, *p, *end;
    rc_buf_t b;
    char why[160];
} jp_t;

static void ws(jp_t *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) {
        j->p++;
    }
}

static bool jfail(jp_t *j, const char *what) {
    if (!j->why[0]) {
        if (j->p >= j->end) {
            snprintf(j->why, sizeof(j->why), "%s at the end of the text", what);
        } else {
            snprintf(j->why, sizeof(j->why), "%s at offset %zu", what, (size_t)(j->p - j->s));
        }
    }
    return false;
}

static bool put(jp_t *j, const void *p, size_t n) {
    return rc_buf_append(&j->b, p, n) == RC_OK || jfail(j, "out of memory");
}

static bool put_be(jp_t *j, uint8_t type, uint64_t v, int n) {
    uint8_t tmp[9] = {type};
    for (int i = 0; i < n; i++) {
        tmp[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    }
    return put(j, tmp, (size_t)n + 1);
}

static bool utf8_put(jp_t *j, uint32_t cp) {
    uint8_t u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | cp >> 6), u[1] = (uint8_t)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | cp >> 12), u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | cp >> 18), u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (uint8_t)(0x80 | (cp & 0x3f)), n = 4;
    }
    return put(j, u, n);
}

static int hex4(const char *p) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d = isdigit(c)               ? c - '0'
                                         : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                         : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                                  : -1;
        if (d < 0) {
            return -1;
        }
        v = v << 4 | d;
    }
    return v;
}

static bool jstring(jp_t *j) {
    j->p++; /* the opening quote */
    size_t hdr = j->b.len;
    if (!put_be(j, 0xdb, 0, 4)) {
        return false;
    }
    size_t body = j->b.len;
    while (true) {
        const char *run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20) {
            j->p++;
        }
        if (!put(j, run, (size_t)(j->p - run))) {
            return false;
        }
        if (j->p >= j->end) {
            return jfail(j, "unterminated string");
        }
        if (*j->p == '"') {
            j->p++;
            break;
        }
        if ((unsigned char)*j->p < 0x20) {
            return jfail(j, "control character in a string");
        }
        j->p++; /* backslash */
        if (j->p >= j->end) {
            return jfail(j, "unterminated string");
        }
        char c = *j->p++, lit;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            lit = c;
            break;
        case 'b':
            lit = '\b';
            break;
        case 'f':
            lit = '\f';
            break;
        case 'n':
            lit = '\n';
            break;
        case 'r':
            lit = '\r';
            break;
        case 't':
            lit = '\t';
            break;
        case 'u': {
            int u = j->end - j->p >= 4 ? hex4(j->p) : -1;
            if (u < 0) {
                return jfail(j, "bad \\u escape");
            }
            j->p += 4;
            uint32_t cp = (uint32_t)u;
            if (cp >= 0xd800 && cp <= 0xdbff && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u') {
                int lo = hex4(j->p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (uint32_t)(lo - 0xdc00);
                    j->p += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd; /* a lone surrogate */
            }
            if (!utf8_put(j, cp)) {
                return false;
            }
            continue;
        }
        default:
            j->p--;
            return jfail(j, "bad escape");
        }
        if (!put(j, &lit, 1)) {
            return false;
        }
    }
    uint32_t n = (uint32_t)(j->b.len - body);
    for (int i = 0; i < 4; i++) {
        j->b.data[hdr + 1 + i] = (char)(n >> (8 * (3 - i)));
    }
    return true;
}

static bool jnumber(jp_t *j) {
    const char *start = j->p;
    bool integral = true;
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (j->p >= j->end || !isdigit((unsigned char)*j->p)) {
        return jfail(j, "bad number");
    }
    if (*j->p == '0' && j->p + 1 < j->end && isdigit((unsigned char)j->p[1])) {
        return jfail(j, "bad number (leading zero)");
    }
    while (j->p < j->end && isdigit((unsigned char)*j->p)) {
        j->p++;
    }
    if (j->p < j->end && *j->p == '.') {
        integral = false;
        j->p++;
        if (j->p >= j->end || !isdigit((unsigned char)*j->p)) {
            return jfail(j, "bad number");
        }
        while (j->p < j->end && isdigit((unsigned char)*j->p)) {
            j->p++;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        integral = false;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (j->p >= j->end || !isdigit((unsigned char)*j->p)) {
            return jfail(j, "bad number");
        }
        while (j->p < j->end && isdigit((unsigned char)*j->p)) {
            j->p++;
        }
    }
    char num[64];
    size_t n = (size_t)(j->p - start);
    if (n >= sizeof(num)) {
        integral = false;
        n = sizeof(num) - 1; /* very long: read as a float from the first 63 characters */
    }
    memcpy(num, start, n);
    num[n] = '\0';
    errno = 0;
    if (integral && num[0] == '-') {
        long long v = strtoll(num, NULL, 10);
        if (errno == 0) {
            return put_be(j, 0xd3, (uint64_t)v, 8);
        }
    } else if (integral) {
        unsigned long long v = strtoull(num, NULL, 10);
        if (errno == 0) {
            return put_be(j, 0xcf, v, 8);
        }
    }
    double d = strtod(num, NULL);
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return put_be(j, 0xcb, bits, 8);
}

static bool jvalue(jp_t *j, int depth);

static bool jcontainer(jp_t *j, int depth, bool map) {
    if (depth >= 64) {
        return jfail(j, "nesting deeper than 64 levels");
    }
    j->p++;
    size_t hdr = j->b.len;
    if (!put_be(j, map ? 0xdf : 0xdd, 0, 4)) {
        return false;
    }
    uint32_t n = 0;
    char close = map ? '}' : ']';
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
    } else {
        while (true) {
            ws(j);
            if (map) {
                if (j->p >= j->end || *j->p != '"') {
                    return jfail(j, "expected a string key");
                }
                if (!jstring(j)) {
                    return false;
                }
                ws(j);
                if (j->p >= j->end || *j->p != ':') {
                    return jfail(j, "expected ':'");
                }
                j->p++;
            }
            if (!jvalue(j, depth + 1)) {
                return false;
            }
            n++;
            ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == close) {
                j->p++;
                break;
            }
            return jfail(j, map ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    for (int i = 0; i < 4; i++) {
        j->b.data[hdr + 1 + i] = (char)(n >> (8 * (3 - i)));
    }
    return true;
}

static bool jword(jp_t *j, const char *w, uint8_t byte) {
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) {
        return jfail(j, "unexpected character");
    }
    j->p += n;
    return put(j, &byte, 1);
}

static bool jvalue(jp_t *j, int depth) {
    ws(j);
    if (j->p >= j->end) {
        return jfail(j, "expected a value");
    }
    switch (*j->p) {
    case '{':
        return jcontainer(j, depth, true);
    case '[':
        return jcontainer(j, depth, false);
    case '"':
        return jstring(j);
    case 't':
        return jword(j, "true", 0xc3);
    case 'f':
        return jword(j, "false", 0xc2);
    case 'n':
        return jword(j, "null", 0xc0);
    default:
        if (*j->p == '-' || isdigit((unsigned char)*j->p)) {
            return jnumber(j);
        }
        return jfail(j, "unexpected character");
    }
}

/* Rewrites the parser's msgpack (32-bit headers, 64-bit numbers) in its shortest form. */
static int compact(msgpack_packer *pk, const uint8_t **pp) {
    const uint8_t *p = *pp;
    uint8_t c = *p;
    if (c == 0xc0 || c == 0xc2 || c == 0xc3) {
        *pp = p + 1;
        return c == 0xc0 ? msgpack_pack_nil(pk)
                         : (c == 0xc3 ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    }
    bool wide = c == 0xcf || c == 0xd3 || c == 0xcb;
    uint64_t v = be(p + 1, wide ? 8 : 4);
    *pp = p + (wide ? 9 : 5);
    switch (c) {
    case 0xcf:
        return msgpack_pack_uint64(pk, v);
    case 0xd3:
        return msgpack_pack_int64(pk, (int64_t)v);
    case 0xcb: {
        double d;
        memcpy(&d, &v, 8);
        return msgpack_pack_double(pk, d);
    }
    case 0xdb:
        *pp += v;
        return msgpack_pack_str(pk, v) || msgpack_pack_str_body(pk, p + 5, v);
    default: { /* 0xdd, 0xdf */
        int rc = c == 0xdd ? msgpack_pack_array(pk, v) : msgpack_pack_map(pk, v);
        for (uint64_t i = 0; i < (c == 0xdd ? v : 2 * v) && rc == 0; i++) {
            rc = compact(pk, pp);
        }
        return rc;
    }
    }
}

static int udf_json_decode(const uint8_t *args, size_t len, uint32_t argc,
                           const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                           void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    int ret;
    if (!str_arg_head(args, len, argc, a, out, errstr, errstr_size, &ret)) {
        return ret;
    }
    jp_t j = {.s = a[0].s, .p = a[0].s, .end = a[0].s + a[0].n, .b = RC_BUF_INIT};
    bool ok = jvalue(&j, 0);
    if (ok) {
        ws(&j);
        ok = j.p == j.end || jfail(&j, "text after the value");
    }
    int rc = -1;
    if (ok) {
        msgpack_packer pk;
        packer(&pk, out);
        const uint8_t *p = (const uint8_t *)j.b.data;
        rc = compact(&pk, &p) ? nomem(errstr, errstr_size) : 0;
    } else {
        snprintf(errstr, errstr_size, "not valid JSON: %s", j.why);
    }
    rc_buf_free(&j.b);
    return rc;
}

/* ---- time, uuid ---- */

static int udf_now_us(const uint8_t *args, size_t len, uint32_t argc, const rowcast_udf_out_t *out,
                      char *errstr, size_t errstr_size, void *data) {
    (void)args, (void)len, (void)argc, (void)errstr, (void)errstr_size, (void)data;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    msgpack_packer pk;
    packer(&pk, out);
    return msgpack_pack_uint64(&pk, (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000);
}

#define FORMAT_TIME_DEFAULT "%Y-%m-%dT%H:%M:%S.%fZ"

static int udf_format_time(const uint8_t *args, size_t len, uint32_t argc,
                           const rowcast_udf_out_t *out, char *errstr, size_t errstr_size,
                           void *data) {
    (void)data;
    arg_t a[MAX_ARGS];
    if (!read_args(args, len, argc, a, errstr, errstr_size)) {
        return -1;
    }
    if (a[0].kind == K_NIL) {
        return put_nil(out);
    }
    if (a[0].kind != K_NUM || !isfinite(a[0].d) || fabs(a[0].d) > 253402300800e6) {
        snprintf(errstr, errstr_size,
                 "argument 1 (us) must be a number of microseconds since 1970 (up to year "
                 "9999), got a %s",
                 kind_name(a[0].kind));
        return -1;
    }
    int64_t us = a[0].is_int ? a[0].i : (int64_t)floor(a[0].d);
    int64_t sec = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    const char *fmt = FORMAT_TIME_DEFAULT;
    size_t flen = strlen(fmt);
    if (argc > 1) {
        if (!want_str(&a[1], 1, "format", false, NULL, errstr, errstr_size)) {
            return -1;
        }
        fmt = a[1].s;
        flen = a[1].n;
    }
    /* %f (microseconds, 6 digits) is ours; the rest is strftime's, in UTC */
    char f[512];
    size_t o = 0;
    for (size_t i = 0; i < flen; i++) {
        if (o + 8 >= sizeof(f) || fmt[i] == '\0') {
            snprintf(errstr, errstr_size, "the format is longer than %zu bytes or holds a NUL",
                     sizeof(f) - 8);
            return -1;
        }
        if (fmt[i] == '%' && i + 1 < flen && fmt[i + 1] == 'f') {
            o += (size_t)snprintf(f + o, sizeof(f) - o, "%06lld", (long long)frac);
            i++;
        } else if (fmt[i] == '%' && i + 1 < flen && fmt[i + 1] == '%') {
            f[o++] = '%';
            f[o++] = '%';
            i++;
        } else {
            f[o++] = fmt[i];
        }
    }
    f[o] = '\0';
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(errstr, errstr_size, "time %lld us is out of range", (long long)us);
        return -1;
    }
    char buf[512];
    size_t n = o == 0 ? 0 : strftime(buf, sizeof(buf), f, &tm);
    if (n == 0 && o > 0) {
        snprintf(errstr, errstr_size, "the formatted time is empty or longer than %zu bytes",
                 sizeof(buf) - 1);
        return -1;
    }
    return put_str(out, buf, n);
}

static int udf_uuid(const uint8_t *args, size_t len, uint32_t argc, const rowcast_udf_out_t *out,
                    char *errstr, size_t errstr_size, void *data) {
    (void)args, (void)len, (void)argc, (void)data;
    unsigned char r[16];
    if (RAND_bytes(r, sizeof(r)) != 1) {
        snprintf(errstr, errstr_size, "the random generator failed");
        return -1;
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char s[37];
    snprintf(s, sizeof(s), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
    return put_str(out, s, 36);
}

/* ---- the table ---- */

static const rowcast_udf_def_t builtins[] = {
    {"obf_string", 1, 2, udf_obf_string, NULL,
     "obf_string(s [, key]) -> string: deterministic obfuscation; letters stay letters of the "
     "same case, digits stay digits, other ASCII stays, other characters become Latin-1 "
     "letters; same length in characters; keyed with HMAC-SHA256"},
    {"tObfString", 1, 2, udf_obf_string, NULL,
     "tObfString(s [, key]) -> string: obf_string under the seed's name"},
    {"mask_email", 1, 1, udf_mask_email, NULL,
     "mask_email(s) -> string: keeps the first character of the local part and the domain, "
     "'*' for each other character (ann@example.com -> a**@example.com)"},
    {"sha256", 1, 1, udf_sha256, NULL,
     "sha256(s) -> string: SHA-256 of s, 64 lowercase hex digits"},
    {"hmac_sha256", 2, 2, udf_hmac_sha256, NULL,
     "hmac_sha256(key, s) -> string: HMAC-SHA256 of s with key, lowercase hex"},
    {"base64_encode", 1, 1, udf_base64_encode, NULL,
     "base64_encode(s) -> string: standard base64 with padding"},
    {"base64_decode", 1, 1, udf_base64_decode, NULL,
     "base64_decode(s) -> string: decodes base64 (padding optional); bytes that are not UTF-8 "
     "come back as binary"},
    {"json_encode", 1, 1, udf_json_encode, NULL,
     "json_encode(v) -> string: v as compact JSON (the sink's encoding of values)"},
    {"json_decode", 1, 1, udf_json_decode, NULL,
     "json_decode(s) -> value: parses JSON text into maps, lists, strings, numbers, booleans "
     "and null; key order kept"},
    {"now_us", 0, 0, udf_now_us, NULL,
     "now_us() -> number: the wall-clock time in microseconds since 1970-01-01 UTC"},
    {"format_time", 1, 2, udf_format_time, NULL,
     "format_time(us [, format]) -> string: a time in microseconds as UTC text; strftime format "
     "plus %f for the 6 digits of microseconds; default " FORMAT_TIME_DEFAULT},
    {"uuid", 0, 0, udf_uuid, NULL, "uuid() -> string: a random (version 4) UUID"},
};

void rc_udf_register_builtins(void);

void rc_udf_register_builtins(void) {
    char errstr[256];
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        if (rc_udf_register(&builtins[i], "built-in", errstr, sizeof(errstr)) != RC_OK) {
            fprintf(stderr, "rowcast: %s\n", errstr); /* a bug in the table above */
            abort();
        }
    }
}
