/* rc_mp.h: a small reader over raw msgpack bytes.
 *
 * Lets the worker pick fields out of an event (kafka.topic, kafka.key) and skip the rest
 * without unpacking it into a tree. All functions check bounds and never read past end.
 * Errors: RC_ERR_TRUNCATED when an object does not end before end (also p == end),
 * RC_ERR_INVALID when the object is not of the kind asked for (or is the unused byte 0xc1).
 * On error *p is left where it was.
 * @thread any */
#ifndef RC_MP_H
#define RC_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_err.h"

/* Big-endian loads, as msgpack stores multi-byte lengths and numbers. */
static inline uint32_t rc_mp_be16(const uint8_t *p) {
    return (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static inline uint32_t rc_mp_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t rc_mp_be64(const uint8_t *p) {
    return (uint64_t)rc_mp_be32(p) << 32 | rc_mp_be32(p + 4);
}

/* How many bytes follow the first byte c (0xcc..0xd3) of a uint 8..64 or int 8..64. */
static inline size_t rc_mp_int_width(uint8_t c) {
    return (size_t)1 << ((c - 0xcc) & 3);
}

/* The value of the uint or int whose first byte p[0] is 0xcc..0xd3 and whose
 * 1 + rc_mp_int_width(p[0]) bytes are there, as a 64-bit word: an int is sign-extended, so
 * (int64_t) of the word is its value; a uint is its value. */
static inline uint64_t rc_mp_int_word(const uint8_t *p) {
    size_t w = rc_mp_int_width(p[0]);
    uint64_t u = w == 1   ? p[1]
                 : w == 2 ? rc_mp_be16(p + 1)
                 : w == 4 ? rc_mp_be32(p + 1)
                          : rc_mp_be64(p + 1);
    if (p[0] >= 0xd0) {
        int shift = 64 - 8 * (int)w;
        u = (uint64_t)((int64_t)(u << shift) >> shift);
    }
    return u;
}

/* The usual strs and ints of a value, read where the value is looked at (the encoders' fast
 * paths): avail (>= 1) bytes are at p. */

/* A fixstr or str 8 at p: the size of its head (1 or 2) with its length in *n; 0 for any other
 * object, or a str 8 whose length byte is not there. The caller checks that the n bytes of the
 * body are (avail - head >= *n). */
static inline size_t rc_mp_str_head(const uint8_t *p, size_t avail, size_t *n) {
    uint8_t c = p[0];
    if ((c & 0xe0) == 0xa0) {
        *n = c & 0x1fu;
        return 1;
    }
    if (c == 0xd9 && avail >= 2) {
        *n = p[1];
        return 2;
    }
    return 0;
}

/* A uint or int 8..64 at p (first byte 0xcc..0xd3) whose bytes are all there: its size
 * (1 + rc_mp_int_width) with its word (rc_mp_int_word) in *u; 0 for any other object, or one
 * cut short. */
static inline size_t rc_mp_int_at(const uint8_t *p, size_t avail, uint64_t *u) {
    uint8_t c = p[0];
    if (c < 0xcc || c > 0xd3) {
        return 0;
    }
    size_t size = 1 + rc_mp_int_width(c);
    if (avail < size) {
        return 0;
    }
    *u = rc_mp_int_word(p);
    return size;
}

/* Advances *p past one whole object, nested ones included. Iterative, so any depth is fine. */
rc_err_t rc_mp_skip(const uint8_t **p, const uint8_t *end);

/* The whole size of an object that its first byte fixes (fixint, nil, bool, fixstr, numbers,
 * fixext, the empty map and array), or 0 when its size needs more than that byte. */
extern const uint8_t rc_mp_fixed_size[256];

/* rc_mp_skip with the common cases inline: an object whose first byte fixes its size, and a
 * str 8 or bin 8 (a GTID, a column descriptor). */
static inline rc_err_t rc_mp_skip_one(const uint8_t **p, const uint8_t *end) {
    const uint8_t *q = *p;
    if (q < end && rc_mp_fixed_size[q[0]] && (size_t)(end - q) >= rc_mp_fixed_size[q[0]]) {
        *p = q + rc_mp_fixed_size[q[0]];
        return RC_OK;
    }
    if (q < end && (q[0] == 0xd9 || q[0] == 0xc4) && end - q >= 2 &&
        (size_t)(end - q) - 2 >= q[1]) {
        *p = q + 2 + q[1];
        return RC_OK;
    }
    return rc_mp_skip(p, end);
}

/* The fast path of rc_mp_skip_rows: moves *p past the row side at *p and returns true, or
 * returns false (*p unmoved) for anything it does not take. */
static inline bool rc_mp_skip_rows_fast(const uint8_t **p, const uint8_t *end) {
    const uint8_t *q = *p;
    if (q >= end || (q[0] & 0xf0) != 0x90) {
        return false;
    }
    uint32_t rows = q[0] & 0x0fu;
    q++;
    for (; rows > 0; rows--) {
        uint32_t n;
        if (end - q < 3) {
            return false;
        }
        if ((q[0] & 0xf0) == 0x80) {
            n = q[0] & 0x0fu;
            q++;
        } else if (q[0] == 0xde) {
            n = rc_mp_be16(q + 1);
            q += 3;
        } else {
            return false;
        }
        for (; n > 0; n--) {
            /* a fixstr key (up to 32 bytes) and then 9 bytes: a fixed-size value or a head */
            if (end - q < 41 || (q[0] & 0xe0) != 0xa0) {
                return false;
            }
            q += 1 + (q[0] & 0x1fu);
            uint8_t c = q[0];
            size_t size = rc_mp_fixed_size[c];
            if (size - 1 >= 9) {
                /* no fixed size, or more than the 9 bytes known to be there (41 less a key of
                 * up to 32): a fixstr of 9 or more, a fixext 8 or 16 is checked like a str 8 */
                if (size == 0 && (c == 0xd9 || c == 0xc4 || c == 0xc7)) {
                    size = (c == 0xc7 ? 3u : 2u) + q[1];
                }
                if (size == 0 || (size_t)(end - q) < size) {
                    return false;
                }
            }
            q += size;
        }
    }
    *p = q;
    return true;
}

/* rc_mp_skip for the value of a row side (before, after): an array (fixarray) of maps (fixmap,
 * map 16) whose keys are fixstrs and whose values have a size their first byte fixes or a
 * one-byte length (str 8, bin 8, ext 8) is stepped over a key and a value at a time, with one
 * bounds check per member while more than the largest such key and value head are left; any
 * other object, or bytes near end, goes through rc_mp_skip from the start. The same result as
 * rc_mp_skip. */
static inline rc_err_t rc_mp_skip_rows(const uint8_t **p, const uint8_t *end) {
    return rc_mp_skip_rows_fast(p, end) ? RC_OK : rc_mp_skip(p, end);
}

/* If *p is a map, sets *n to its entry count and advances past the header. */
rc_err_t rc_mp_read_map(const uint8_t **p, const uint8_t *end, uint32_t *n);
rc_err_t rc_mp_read_array(const uint8_t **p, const uint8_t *end, uint32_t *n);
/* Reads a str (not bin); *s points into the buffer. */
rc_err_t rc_mp_read_str(const uint8_t **p, const uint8_t *end, const char **s, uint32_t *n);
bool rc_mp_is_nil(const uint8_t *p, const uint8_t *end);
/* Reads a non-negative integer of any width (a signed encoding holding a value >= 0 too). */
rc_err_t rc_mp_read_uint(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* Finds the first str key equal to key in the map at map (whose bytes end before end); other
 * key types are skipped. On success *val points at the value, which is whole inside end.
 * RC_ERR_EOF when the key is absent; RC_ERR_INVALID when map is not a map; RC_ERR_TRUNCATED
 * when the map ends early before the key is found. */
rc_err_t rc_mp_map_find(const uint8_t *map, const uint8_t *end, const char *key,
                        const uint8_t **val);

/* One pass over the map at map: vals[j] points at the value of the first str key equal to
 * keys[j] (NULL when absent), for j < n; *after (may be NULL) gets the end of the map. Cheaper
 * than n rc_mp_map_find calls, each of which skips the values before its key. Errors as
 * rc_mp_map_find, except that an absent key is not one. */
rc_err_t rc_mp_map_pick(const uint8_t *map, const uint8_t *end, const char *const *keys, size_t n,
                        const uint8_t **vals, const uint8_t **after);

#endif
