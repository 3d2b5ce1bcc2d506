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

/* Sets c over the msgpack bin or str value at v (whole before end), or to no columns when v is
 * NULL, nil or anything else. */
void rc_cols_init(rc_cols_t *c, const uint8_t *v, const uint8_t *end);

/* Finds the column named name[0..n): searches on from the last one found, then from the start.
 * False (and info->type RC_COL_UNKNOWN) when it is not described. */
bool rc_cols_find(rc_cols_t *c, const char *name, uint32_t n, rc_col_info_t *info);

/* The next column in table order from *pos (start with *pos = NULL); false at the end or at a
 * malformed entry. */
bool rc_cols_next(const rc_cols_t *c, const uint8_t **pos, rc_col_info_t *info);

/* The kafka.columns value of the event map at ev[0..len), or NULL. */
const uint8_t *rc_cols_of_event(const uint8_t *ev, size_t len);

/* True when c describes at least one column. */
static inline bool rc_cols_any(const rc_cols_t *c) {
    return c->start != c->end;
}

#endif
