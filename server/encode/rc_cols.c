/* rc_cols.c: the reader of kafka.columns (rc_cols.h, layout in rc_event.h). Entries are read
 * in place; a malformed entry ends the list, so bad bytes only make columns "unknown". */
#include "rc_cols.h"

#include <string.h>

#include "rc_event.h"
#include "rc_mp.h"

void rc_cols_init_slow(rc_cols_t *c, const uint8_t *v, const uint8_t *end) {
    c->start = c->end = c->cur = NULL;
    if (!v || v >= end) {
        return;
    }
    uint8_t t = v[0];
    size_t w, n = 0;
    const uint8_t *body;
    if (t >= 0xa0 && t <= 0xbf) { /* fixstr */
        n = t & 0x1f;
        body = v + 1;
    } else if ((t >= 0xc4 && t <= 0xc6) || (t >= 0xd9 && t <= 0xdb)) {
        w = (size_t)1 << (t >= 0xd9 ? t - 0xd9 : t - 0xc4);
        if ((size_t)(end - v) <= w) {
            return;
        }
        for (size_t i = 0; i < w; i++) {
            n = n << 8 | v[1 + i];
        }
        body = v + 1 + w;
    } else {
        return;
    }
    if ((size_t)(end - body) < n) {
        return;
    }
    c->start = c->cur = body;
    c->end = body + n;
}

/* Reads the entry at p; false when it does not fit. */
static inline bool read_entry(const uint8_t *p, const uint8_t *end, rc_col_info_t *info,
                              const uint8_t **next) {
    if (end - p < 2) {
        return false;
    }
    uint32_t nl = (uint32_t)p[0] << 8 | p[1];
    if ((size_t)(end - p) < 2 + (size_t)nl + 5) {
        return false;
    }
    const uint8_t *d = p + 2 + nl;
    info->name = (const char *)(p + 2);
    info->name_len = nl;
    info->type = d[0];
    info->flags = d[1];
    info->len = (uint16_t)(d[2] << 8 | d[3]);
    info->scale = d[4];
    *next = d + 5;
    return true;
}

bool rc_cols_next(const rc_cols_t *c, const uint8_t **pos, rc_col_info_t *info) {
    const uint8_t *p = *pos ? *pos : c->start;
    if (!p || p >= c->end) {
        return false;
    }
    return read_entry(p, c->end, info, pos);
}

bool rc_cols_find_slow(rc_cols_t *c, const char *name, uint32_t n, rc_col_info_t *info) {
    const uint8_t *next;
    for (int pass = 0; pass < 2 && c->start; pass++) {
        const uint8_t *p = pass == 0 ? c->cur : c->start;
        const uint8_t *stop = pass == 0 ? c->end : c->cur;
        while (p < stop && read_entry(p, c->end, info, &next)) {
            if (info->name_len == n && memcmp(info->name, name, n) == 0) {
                c->cur = next;
                return true;
            }
            p = next;
        }
    }
    memset(info, 0, sizeof *info);
    return false;
}

const uint8_t *rc_cols_of_event(const uint8_t *ev, size_t len) {
    const uint8_t *kafka, *cols;
    if (len == 0 || rc_mp_map_find(ev, ev + len, "kafka", &kafka) != RC_OK ||
        rc_mp_map_find(kafka, ev + len, "columns", &cols) != RC_OK) {
        return NULL;
    }
    return cols;
}
