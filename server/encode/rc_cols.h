/* rc_cols.h: reads an event's kafka.columns (rc_event.h), the column types the decoder knows
 * from the table map, so that the encoders can write what the msgpack value alone does not say
 * (unsigned columns, BIT, integer widths, the type of a NULL, nullability).
 *
 * The descriptor is optional: an event a script built, a column it renamed or added, or a
 * descriptor that is malformed gives "unknown", and the encoders go by the value alone.
 * @thread any (no shared state) */
#ifndef RC_COLS_H
#define RC_COLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rc_col_info {
    const char *name;
    uint32_t name_len;
    uint8_t type;  /* enum rc_col_type; RC_COL_UNKNOWN when not described */
    uint8_t flags; /* RC_COLF_* */
    uint16_t len;  /* BIT bits, DECIMAL precision, temporal fsp */
    uint8_t scale; /* DECIMAL scale */
} rc_col_info_t;

/* A cursor over one descriptor; lookups in column order are O(1) each. */
typedef struct rc_cols {
    const uint8_t *start, *end, *cur;
} rc_cols_t;

/* rc_cols_init past its usual case. */
void rc_cols_init_slow(rc_cols_t *c, const uint8_t *v, const uint8_t *end);

/* Sets c over the msgpack bin or str value at v (whole before end), or to no columns when v is
 * NULL, nil or anything else. The usual case, a bin 8 (what the decoder packs), is inline. */
static inline void rc_cols_init(rc_cols_t *c, const uint8_t *v, const uint8_t *end) {
    if (v && v < end && v[0] == 0xc4 && end - v >= 2 && (size_t)(end - v) - 2 >= v[1]) {
        c->start = c->cur = v + 2;
        c->end = c->start + v[1];
    } else {
        rc_cols_init_slow(c, v, end);
    }
}

/* rc_cols_find past its first look: searches on from the last one found, then from the start. */
bool rc_cols_find_slow(rc_cols_t *c, const char *name, uint32_t n, rc_col_info_t *info);

/* Finds the column named name[0..n): searches on from the last one found, then from the start.
 * False (and info->type RC_COL_UNKNOWN) when it is not described. The usual case, the entry
 * right after the last one found (a row's columns in table order), is inline. */
static inline bool rc_cols_find(rc_cols_t *c, const char *name, uint32_t n, rc_col_info_t *info) {
    const uint8_t *p = c->cur;
    if (p && c->end - p >= 2 && ((uint32_t)p[0] << 8 | p[1]) == n &&
        (size_t)(c->end - p) >= 2 + (size_t)n + 5) {
        if (memcmp(p + 2, name, n) == 0) {
            const uint8_t *d = p + 2 + n;
            info->name = (const char *)(p + 2);
            info->name_len = n;
            info->type = d[0];
            info->flags = d[1];
            info->len = (uint16_t)(d[2] << 8 | d[3]);
            info->scale = d[4];
            c->cur = d + 5;
            return true;
        }
    }
    return rc_cols_find_slow(c, name, n, info);
}

/* The next column in table order from *pos (start with *pos = NULL); false at the end or at a
 * malformed entry. */
bool rc_cols_next(const rc_cols_t *c, const uint8_t **pos, rc_col_info_t *info);

/* True when c describes the column name[0..n) at most once (a template may then stand for it). */
static inline bool rc_cols_name_at_most_once(const rc_cols_t *c, const char *name, uint32_t n) {
    const uint8_t *pos = NULL;
    rc_col_info_t ci;
    int seen = 0;
    while (rc_cols_next(c, &pos, &ci)) {
        if (ci.name_len == n && memcmp(ci.name, name, n) == 0 && ++seen > 1) {
            return false;
        }
    }
    return true;
}

/* The kafka.columns value of the event map at ev[0..len), or NULL. */
const uint8_t *rc_cols_of_event(const uint8_t *ev, size_t len);

/* True when c describes at least one column. */
static inline bool rc_cols_any(const rc_cols_t *c) {
    return c->start != c->end;
}

#endif
