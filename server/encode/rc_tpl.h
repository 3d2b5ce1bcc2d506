/* rc_tpl.h: what the per-table templates of the encoders (rc_json, rc_proto) share: the
 * byte-for-byte check of a map key against the one a template saw at its position, and the hash
 * of an event's schema and table that picks a table's template.
 * @thread any (pure functions) */
#ifndef RC_TPL_H
#define RC_TPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rc_cols.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* True when the n (1..32) bytes at k equal mp[0..n). mp holds 32 bytes (zero padded); the
 * bytes at k up to end are compared 16 or 32 at a time, so false also when fewer than that
 * are left before end (the caller then goes the generic way). n 0 never matches. */
static inline bool rc_tpl_key_eq(const uint8_t *mp, size_t n, const uint8_t *k,
                                 const uint8_t *end) {
    if (n == 0 || (size_t)(end - k) < (n <= 16 ? 16u : 32u)) {
        return false;
    }
#if defined(__SSE2__)
    unsigned eq = (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)k),
                       _mm_loadu_si128((const __m128i *)(const void *)mp)));
    if (n <= 16) {
        return (~eq & ((1u << n) - 1)) == 0;
    }
    unsigned eq2 = (unsigned)_mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(k + 16)),
                       _mm_loadu_si128((const __m128i *)(const void *)(mp + 16))));
    return eq == 0xffffu && (~eq2 & ((1u << (n - 16)) - 1)) == 0;
#else
    return memcmp(k, mp, n) == 0;
#endif
}

/* For a template holding a key's msgpack bytes mp[0..n) and, when kv (> n, <= 32) is not 0, the
 * value after it up to mp[kv): 2 when the bytes at k are key and value, 1 when they are the key
 * (and not that value), 0 otherwise. mp holds 32 bytes; the value is only compared when 32
 * bytes are left before end. */
static inline int rc_tpl_match_kv(const uint8_t *mp, size_t n, size_t kv, const uint8_t *k,
                                  const uint8_t *end) {
    if (kv && end - k >= 32) {
#if defined(__SSE2__)
        unsigned eq = (unsigned)_mm_movemask_epi8(
                          _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)k),
                                         _mm_loadu_si128((const __m128i *)(const void *)mp))) |
                      (unsigned)_mm_movemask_epi8(
                          _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(k + 16)),
                                         _mm_loadu_si128((const __m128i *)(const void *)(mp + 16))))
                          << 16;
        uint64_t miss = ~(uint64_t)eq;
        if ((miss & ((1ULL << kv) - 1)) == 0) {
            return 2;
        }
        return n && (miss & ((1ULL << n) - 1)) == 0;
#else
        if (memcmp(k, mp, kv) == 0) {
            return 2;
        }
#endif
    }
    return rc_tpl_key_eq(mp, n, k, end);
}

/* The mask of the first n (0..32) of 32 compared bytes, as rc_tpl_match32 takes it: for 0 a
 * bit that no compare sets, so that it never matches. */
static inline uint64_t rc_tpl_mask(size_t n) {
    return n ? ~0ULL >> (64 - n) : 1ULL << 32;
}

/* Bit i set when byte i of the 32 at k equals byte i at mp (both readable for 32 bytes). */
static inline uint64_t rc_tpl_eq_bits32(const uint8_t *mp, const uint8_t *k) {
#if defined(__SSE2__)
    uint64_t eq = (unsigned)_mm_movemask_epi8(
                      _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)k),
                                     _mm_loadu_si128((const __m128i *)(const void *)mp))) |
                  (uint64_t)(unsigned)_mm_movemask_epi8(
                      _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(k + 16)),
                                     _mm_loadu_si128((const __m128i *)(const void *)(mp + 16))))
                      << 16;
#else
    uint64_t eq = 0;
    for (int i = 0; i < 32; i++) {
        eq |= (uint64_t)(k[i] == mp[i]) << i;
    }
#endif
    return eq;
}

/* rc_tpl_eq_bits32 for a caller that needs only the first n (0..32) bytes' bits: for n up to
 * 16 (a key, the usual one) one 16-byte compare, bits 16-31 then left 0. 32 bytes readable. */
static inline uint64_t rc_tpl_eq_bits(const uint8_t *mp, size_t n, const uint8_t *k) {
#if defined(__SSE2__)
    if (n <= 16) {
        return (unsigned)_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)k),
                           _mm_loadu_si128((const __m128i *)(const void *)mp)));
    }
#else
    (void)n;
#endif
    return rc_tpl_eq_bits32(mp, k);
}

/* rc_tpl_match_kv when 32 bytes may be read at k, with the lengths as masks (rc_tpl_mask of
 * the key's length n and of kv): one 32-byte compare and two tests, without a branch on the
 * lengths. */
static inline int rc_tpl_match32(const uint8_t *mp, uint64_t key_mask, uint64_t kv_mask,
                                 const uint8_t *k) {
    uint64_t eq = rc_tpl_eq_bits32(mp, k);
    uint64_t miss = ~eq;
    if ((miss & kv_mask) == 0) {
        return 2;
    }
    return (miss & key_mask) == 0;
}

/* True when the 32 bytes at k equal mp except where skip (~rc_tpl_mask of a key's length) is
 * set: a key's check with one 32-byte compare. skip 0 (a zeroed template) never matches. */
static inline bool rc_tpl_eq32(const uint8_t *mp, uint64_t skip, const uint8_t *k) {
    uint64_t eq = rc_tpl_eq_bits32(mp, k);
    return (eq | skip) == ~0ULL;
}

/* A value whose text depends on nothing but its own bytes and holds no map or array items
 * (those are written at a depth): what a template may keep with its key. */
static inline bool rc_tpl_kv_scalar(uint8_t c) {
    return !((c >= 0x81 && c <= 0x8f) || (c >= 0x91 && c <= 0x9f) || (c >= 0xdc && c <= 0xdf));
}

/* Grows a template's array *items of *cap elements of elem_size bytes to n (at most max) with
 * the new elements zeroed; on failure it stays as it was, and the positions past *cap go
 * without a template. */
static inline void rc_tpl_grow(void **items, uint32_t *cap, size_t elem_size, uint32_t n,
                               uint32_t max) {
    if (n > max) {
        n = max;
    }
    if (n <= *cap) {
        return;
    }
    uint8_t *a = realloc(*items, (size_t)n * elem_size);
    if (!a) {
        return;
    }
    memset(a + (size_t)*cap * elem_size, 0, (size_t)(n - *cap) * elem_size);
    *items = a;
    *cap = n;
}

/* Keeps a template's copy *desc (*len bytes in *cap) of the kafka.columns bytes d[0..n) its
 * column infos were learnt from: 1 when it already holds them, 0 when it now does (the caller
 * drops every position learnt from the old bytes), -1 when there is no memory for them. */
static inline int rc_tpl_desc_sync(uint8_t **desc, size_t *len, size_t *cap, const uint8_t *d,
                                   size_t n) {
    if (n == *len && (n == 0 || memcmp(d, *desc, n) == 0)) {
        return 1;
    }
    if (n > *cap) {
        uint8_t *b = realloc(*desc, n);
        if (!b) {
            return -1;
        }
        *desc = b;
        *cap = n;
    }
    if (n) {
        memcpy(*desc, d, n);
    }
    *len = n;
    return 0;
}

/* A row template's column infos hold for the kafka.columns bytes they were learnt with: makes
 * the copy *desc (*len bytes in *cap) hold the descriptor cols (NULL: none) and, when its bytes
 * were others, zeroes the n items of elem_size bytes (every position dropped). False (the rows
 * go without the template) when there is no memory for the copy. */
static inline bool rc_tpl_row_sync(uint8_t **desc, size_t *len, size_t *cap, const rc_cols_t *cols,
                                   void *items, uint32_t n, size_t elem_size) {
    int r = rc_tpl_desc_sync(desc, len, cap, cols ? cols->start : NULL,
                             cols ? (size_t)(cols->end - cols->start) : 0);
    if (r == 0 && n) {
        memset(items, 0, (size_t)n * elem_size);
    }
    return r >= 0;
}

/* The msgpack bytes of a template's run of leading members, compared 16 at a time. */
#define RC_TPL_RUN 64

/* True when the RC_TPL_RUN bytes at p (false when fewer are left before end) equal the run mp
 * (zero padded) where mask is set: bit i for byte i, the first len bytes. */
static inline bool rc_tpl_run_eq(const uint8_t *mp, uint64_t mask, size_t len, const uint8_t *p,
                                 const uint8_t *end) {
    if (end - p < RC_TPL_RUN) {
        return false;
    }
#if defined(__SSE2__)
    (void)len;
    uint64_t eq = 0;
    for (int k = 0; k < RC_TPL_RUN / 16; k++) {
        eq |= (uint64_t)(unsigned)_mm_movemask_epi8(
                  _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k)),
                                 _mm_loadu_si128((const __m128i *)(const void *)(mp + 16 * k))))
              << (16 * k);
    }
    return (~eq & mask) == 0;
#else
    (void)mask;
    return memcmp(p, mp, len) == 0;
#endif
}

/* A hash of the msgpack str values schema and table (either NULL when not seen, or not a
 * fixstr / str 8 that ends before end: then it counts as empty). */
static inline uint64_t rc_tpl_table_hash(const uint8_t *schema, const uint8_t *table,
                                         const uint8_t *end) {
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    const uint8_t *v[2] = {schema, table};
    for (int j = 0; j < 2; j++) {
        const uint8_t *s = v[j];
        size_t n = 0;
        if (s && s < end && (*s & 0xe0) == 0xa0) {
            n = 1 + (*s & 0x1fu);
        } else if (s && s < end && *s == 0xd9 && end - s >= 2) {
            n = 2 + (size_t)s[1];
        }
        if (!s || (size_t)(end - s) < n) {
            n = 0;
        }
        for (; n >= 8; s += 8, n -= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            h = (h ^ w) * 0xff51afd7ed558ccdULL;
        }
        uint64_t w = 0;
        if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && n > 0 && end - s >= 8) {
            memcpy(&w, s, 8); /* the last 0..7 bytes in one load, the bytes past them masked */
            w &= ~0ULL >> (64 - 8 * n);
        } else {
            for (size_t i = 0; i < n; i++) {
                w = w << 8 | s[i];
            }
        }
        h = (h ^ w ^ n) * 0xc4ceb9fe1a85ec53ULL;
    }
    return h ^ h >> 29;
}

/* A hash of an event's head (its first 3 members when their keys and values are fixstrs: schema,
 * table and action in rowcast's events; else its first 16 bytes, all of them when fewer), not of
 * the bytes after it: a row's values change. The JSON writer (rc_json.c) and rc_msg's walk pick
 * their plans by it. */
static inline uint64_t rc_tpl_head_key(const uint8_t *data, const uint8_t *end) {
    const uint8_t *p = data + 1;
    size_t len = (size_t)(end - data);
    int i = 0;
    for (; i < 6 && p < end && (*p & 0xe0) == 0xa0; i++) {
        p += 1 + (*p & 0x1fu);
    }
    size_t n = i == 6 && p <= end ? (size_t)(p - data) : len < 16 ? len : 16, k = 0;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    for (; k + 8 <= n; k += 8) {
        uint64_t w;
        memcpy(&w, data + k, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
    }
    for (; k < n; k++) {
        h = (h ^ data[k]) * 0xc4ceb9fe1a85ec53ULL;
    }
    return h ^ h >> 29;
}

#endif
