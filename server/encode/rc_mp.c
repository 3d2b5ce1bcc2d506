/* rc_mp.c: bounds-checked reading of raw msgpack bytes (headers, strings, skipping).
 *
 * Nothing here allocates or recurses: rc_mp_skip keeps a count of objects still to pass, so a
 * hostile nesting depth cannot blow the stack. On error the read position is left unchanged. */
#include "rc_mp.h"

#include <string.h>

/* Reads the header of the object at p: how many header bytes it has, how many payload bytes
 * follow it, and how many child objects (array items, map keys + values) come after those. */
static rc_err_t read_head(const uint8_t *p, const uint8_t *end, size_t *head, size_t *body,
                          uint64_t *children) {
    if (p >= end) {
        return RC_ERR_TRUNCATED;
    }
    size_t avail = (size_t)(end - p);
    uint8_t c = p[0];
    *body = 0;
    *children = 0;
    *head = 1;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        return RC_OK; /* fixint, nil, bool */
    }
    if (c >= 0xa0 && c <= 0xbf) {
        *body = c & 0x1f;
        return RC_OK;
    }
    if (c >= 0x90 && c <= 0x9f) {
        *children = c & 0x0f;
        return RC_OK;
    }
    if (c >= 0x80 && c <= 0x8f) {
        *children = 2 * (uint64_t)(c & 0x0f);
        return RC_OK;
    }
    /* c in 0xc1 .. 0xdf: the width of the length or value field follows from the byte. */
    static const uint8_t field[32] = {
        /* c0 nil, c1 never used, c2 c3 bool, c4-c6 bin8/16/32, c7-c9 ext8/16/32 */
        0, 0, 0, 0, 1, 2, 4, 1, 2, 4,
        /* ca float32, cb float64, cc-cf uint8..64, d0-d3 int8..64 */
        4, 8, 1, 2, 4, 8, 1, 2, 4, 8,
        /* d4-d8 fixext1..16 (1 type byte) */
        1, 1, 1, 1, 1,
        /* d9-db str8/16/32, dc-dd array16/32, de-df map16/32 */
        1, 2, 4, 2, 4, 2, 4};
    if (c == 0xc1) {
        return RC_ERR_INVALID;
    }
    size_t w = field[c - 0xc0];
    if (avail < 1 + w) {
        return RC_ERR_TRUNCATED;
    }
    uint32_t n = w == 1 ? p[1] : w == 2 ? rc_mp_be16(p + 1) : rc_mp_be32(p + 1);
    *head = 1 + w;
    switch (c) {
    case 0xc4: /* bin 8/16/32 */
    case 0xc5:
    case 0xc6:
    case 0xd9: /* str 8/16/32 */
    case 0xda:
    case 0xdb:
        *body = n;
        break;
    case 0xc7: /* ext 8/16/32: length, then one type byte */
    case 0xc8:
    case 0xc9:
        if (avail < 2 + w) {
            return RC_ERR_TRUNCATED;
        }
        *head = 2 + w;
        *body = n;
        break;
    case 0xd4: /* fixext 1..16: the type byte, then 2^k bytes */
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        *body = (size_t)1 << (c - 0xd4);
        break;
    case 0xdc: /* array 16/32 */
    case 0xdd:
        *children = n;
        break;
    case 0xde: /* map 16/32 */
    case 0xdf:
        *children = 2 * (uint64_t)n;
        break;
    default: /* numbers: the field was the value */
        *body = 0;
        break;
    }
    return RC_OK;
}

/* The whole size of an object that its first byte fixes (fixint, nil, bool, fixstr, numbers,
 * fixext, the empty map and array), or 0 (other maps and arrays, str/bin/ext with a length
 * field, the unused 0xc1). */
const uint8_t rc_mp_fixed_size[256] = {
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0x00 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0x10 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0x20 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0x30 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0x40 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0x50 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0x60 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0x70 */
    1,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x80 fixmap: {} is one */
    1,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 0x90 fixarray: [] too */
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, /* 0xa0 fixstr */
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, /* 0xb0 */
    1,  0,  1,  1,  0,  0,  0,  0,  0,  0,  5,  9,  2,  3,  5,  9,  /* 0xc0 */
    2,  3,  5,  9,  3,  4,  6,  10, 18, 0,  0,  0,  0,  0,  0,  0,  /* 0xd0 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0xe0 */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 0xf0 */
};

rc_err_t rc_mp_skip(const uint8_t **p, const uint8_t *end) {
    const uint8_t *q = *p;
    uint64_t pending = 1;
    while (pending > 0) {
        size_t head, body;
        uint64_t children;
        if (q < end) {
            /* scalars and fixstr in one step, fixmap and fixarray without read_head */
            uint8_t c = q[0];
            size_t size = rc_mp_fixed_size[c];
            if (size) {
                if ((size_t)(end - q) < size) {
                    return RC_ERR_TRUNCATED;
                }
                q += size;
                pending--;
                continue;
            }
            if (c == 0xd9 || c == 0xc4 || c == 0xc7) {
                /* str 8, bin 8, ext 8: a one-byte length (ext: then its type byte) */
                size_t head = c == 0xc7 ? 3 : 2;
                if ((size_t)(end - q) < head || (size_t)(end - q) - head < q[1]) {
                    return RC_ERR_TRUNCATED;
                }
                q += head + q[1];
                pending--;
                continue;
            }
            if (c <= 0x9f) {
                q++;
                pending = pending - 1 + (c <= 0x8f ? 2 * (uint64_t)(c & 0x0f) : (c & 0x0fu));
                if (pending > (uint64_t)(end - q)) {
                    return RC_ERR_TRUNCATED;
                }
                continue;
            }
        }
        rc_err_t err = read_head(q, end, &head, &body, &children);
        if (err != RC_OK) {
            return err;
        }
        if ((size_t)(end - q) - head < body) {
            return RC_ERR_TRUNCATED;
        }
        q += head + body;
        pending = pending - 1 + children;
        /* every object takes at least one byte: a count beyond what is left cannot fit */
        if (pending > (uint64_t)(end - q)) {
            return RC_ERR_TRUNCATED;
        }
    }
    *p = q;
    return RC_OK;
}

rc_err_t rc_mp_read_map(const uint8_t **p, const uint8_t *end, uint32_t *n) {
    const uint8_t *q = *p;
    if (q >= end) {
        return RC_ERR_TRUNCATED;
    }
    if (q[0] >= 0x80 && q[0] <= 0x8f) {
        *n = q[0] & 0x0f;
        *p = q + 1;
        return RC_OK;
    }
    if (q[0] != 0xde && q[0] != 0xdf) {
        return RC_ERR_INVALID;
    }
    size_t w = q[0] == 0xde ? 2 : 4;
    if ((size_t)(end - q) < 1 + w) {
        return RC_ERR_TRUNCATED;
    }
    *n = w == 2 ? rc_mp_be16(q + 1) : rc_mp_be32(q + 1);
    *p = q + 1 + w;
    return RC_OK;
}

rc_err_t rc_mp_read_array(const uint8_t **p, const uint8_t *end, uint32_t *n) {
    const uint8_t *q = *p;
    if (q >= end) {
        return RC_ERR_TRUNCATED;
    }
    if (q[0] >= 0x90 && q[0] <= 0x9f) {
        *n = q[0] & 0x0f;
        *p = q + 1;
        return RC_OK;
    }
    if (q[0] != 0xdc && q[0] != 0xdd) {
        return RC_ERR_INVALID;
    }
    size_t w = q[0] == 0xdc ? 2 : 4;
    if ((size_t)(end - q) < 1 + w) {
        return RC_ERR_TRUNCATED;
    }
    *n = w == 2 ? rc_mp_be16(q + 1) : rc_mp_be32(q + 1);
    *p = q + 1 + w;
    return RC_OK;
}

rc_err_t rc_mp_read_uint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    const uint8_t *q = *p;
    if (q >= end) {
        return RC_ERR_TRUNCATED;
    }
    size_t avail = (size_t)(end - q), n;
    bool is_signed = false;
    switch (q[0]) {
    case 0xcc:
    case 0xd0:
        n = 1;
        break;
    case 0xcd:
    case 0xd1:
        n = 2;
        break;
    case 0xce:
    case 0xd2:
        n = 4;
        break;
    case 0xcf:
    case 0xd3:
        n = 8;
        break;
    default:
        if (q[0] <= 0x7f) {
            *v = q[0];
            *p = q + 1;
            return RC_OK;
        }
        return RC_ERR_INVALID;
    }
    is_signed = q[0] >= 0xd0;
    if (avail < 1 + n) {
        return RC_ERR_TRUNCATED;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        x = (x << 8) | q[1 + i];
    }
    if (is_signed && (q[1] & 0x80)) {
        return RC_ERR_INVALID; /* negative */
    }
    *v = x;
    *p = q + 1 + n;
    return RC_OK;
}

rc_err_t rc_mp_read_str(const uint8_t **p, const uint8_t *end, const char **s, uint32_t *n) {
    const uint8_t *q = *p;
    if (q >= end) {
        return RC_ERR_TRUNCATED;
    }
    size_t avail = (size_t)(end - q);
    size_t head;
    uint32_t len;
    if (q[0] >= 0xa0 && q[0] <= 0xbf) {
        head = 1;
        len = q[0] & 0x1f;
    } else if (q[0] == 0xd9 && avail >= 2) {
        head = 2;
        len = q[1];
    } else if (q[0] == 0xda && avail >= 3) {
        head = 3;
        len = rc_mp_be16(q + 1);
    } else if (q[0] == 0xdb && avail >= 5) {
        head = 5;
        len = rc_mp_be32(q + 1);
    } else if (q[0] >= 0xd9 && q[0] <= 0xdb) {
        return RC_ERR_TRUNCATED;
    } else {
        return RC_ERR_INVALID;
    }
    if (avail - head < len) {
        return RC_ERR_TRUNCATED;
    }
    *s = (const char *)q + head;
    *n = len;
    *p = q + head + len;
    return RC_OK;
}

bool rc_mp_is_nil(const uint8_t *p, const uint8_t *end) {
    return p < end && p[0] == 0xc0;
}

rc_err_t rc_mp_map_find(const uint8_t *map, const uint8_t *end, const char *key,
                        const uint8_t **val) {
    const uint8_t *p = map;
    uint32_t n;
    rc_err_t err = rc_mp_read_map(&p, end, &n);
    if (err != RC_OK) {
        return err;
    }
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        uint32_t slen;
        bool match = false;
        if (rc_mp_read_str(&p, end, &s, &slen) == RC_OK) {
            match = slen == klen && memcmp(s, key, klen) == 0;
        } else if ((err = rc_mp_skip(&p, end)) != RC_OK) {
            return err; /* a non-string key is skipped; a broken one ends the search */
        }
        const uint8_t *v = p;
        if ((err = rc_mp_skip(&p, end)) != RC_OK) {
            return err; /* the value must be whole, also the one we return */
        }
        if (match) {
            *val = v;
            return RC_OK;
        }
    }
    return RC_ERR_EOF;
}

/* k (NUL-terminated) equals s[0..n); never reads k past its terminator. */
static bool key_eq(const char *k, const char *s, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (k[i] == '\0' || k[i] != s[i]) {
            return false;
        }
    }
    return k[n] == '\0';
}

/* s[0..n) equals k[0..n), n small: a byte loop beats a call to memcmp for key names. */
static inline bool bytes_eq(const char *k, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (k[i] != s[i]) {
            return false;
        }
    }
    return true;
}

rc_err_t rc_mp_map_pick(const uint8_t *map, const uint8_t *end, const char *const *keys, size_t n,
                        const uint8_t **vals, const uint8_t **after) {
    const uint8_t *p = map;
    uint32_t count;
    rc_err_t err = rc_mp_read_map(&p, end, &count);
    if (err != RC_OK) {
        return err;
    }
    /* the keys' lengths once, so that most keys are ruled out by length and first byte */
    size_t klen[32], next = 0;
    bool by_len = n <= sizeof klen / sizeof klen[0];
    for (size_t j = 0; j < n; j++) {
        vals[j] = NULL;
        if (by_len) {
            klen[j] = strlen(keys[j]);
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        const char *s;
        uint32_t slen;
        const uint8_t *k = p;
        bool is_str = true;
        if (k < end && (k[0] & 0xe0) == 0xa0 && (size_t)(end - k) > (k[0] & 0x1fu)) {
            s = (const char *)k + 1; /* fixstr, the usual key */
            slen = k[0] & 0x1fu;
            p = k + 1 + slen;
        } else if (rc_mp_read_str(&p, end, &s, &slen) != RC_OK) {
            is_str = false;
            if ((err = rc_mp_skip(&p, end)) != RC_OK) {
                return err;
            }
        }
        if (is_str) {
            /* keys usually come in the order asked for: the one after the last found first */
            for (size_t t = 0; t < n; t++) {
                size_t j = next + t < n ? next + t : next + t - n;
                if (vals[j]) {
                    continue;
                }
                if (by_len ? klen[j] == slen &&
                                 (slen == 0 || (keys[j][0] == s[0] && bytes_eq(keys[j], s, slen)))
                           : key_eq(keys[j], s, slen)) {
                    vals[j] = p;
                    next = j + 1 < n ? j + 1 : 0;
                    break;
                }
            }
        }
        if ((err = rc_mp_skip_one(&p, end)) != RC_OK) {
            return err;
        }
    }
    if (after) {
        *after = p;
    }
    return RC_OK;
}
