/* rc_binlog_geom.c: GEOMETRY values. MySQL and MariaDB store them as a 4-byte SRID followed by
 * OGC WKB (2-D only: Point, LineString, Polygon, the Multi* forms, GeometryCollection); this
 * file checks that WKB and renders it as a GeoJSON geometry (RFC 7946) when asked. */
#include <stdarg.h>
#include <stdio.h>

#include "rc_binlog_int.h"

#define MAX_DEPTH 32 /* nested GeometryCollections; servers allow far fewer in practice */

typedef struct wkb {
    const uint8_t *p, *end;
    rc_buf_t *out; /* NULL: check only */
    char *why;
    size_t why_size;
} wkb_t;

static rc_err_t bad(wkb_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static rc_err_t bad(wkb_t *w, const char *fmt, ...) {
    if (w->why && w->why_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->why, w->why_size, fmt, ap);
        va_end(ap);
    }
    return RC_ERR_INVALID;
}

static rc_err_t put(wkb_t *w, const char *s) {
    return w->out && rc_buf_puts(w->out, s) != RC_OK ? RC_ERR_NOMEM : RC_OK;
}

static bool u32(wkb_t *w, bool le, uint32_t *v) {
    if (w->end - w->p < 4) {
        return false;
    }
    *v = le ? rc_le32(w->p) : (uint32_t)rc_be(w->p, 4);
    w->p += 4;
    return true;
}

/* count items of at least min_size bytes each must fit in what is left */
static rc_err_t count(wkb_t *w, bool le, size_t min_size, uint32_t *n) {
    if (!u32(w, le, n)) {
        return bad(w, "WKB ends inside a count");
    }
    if ((uint64_t)*n * min_size > (uint64_t)(w->end - w->p)) {
        return bad(w, "WKB count %u is larger than its %zu remaining bytes allow", *n,
                   (size_t)(w->end - w->p));
    }
    return RC_OK;
}

static rc_err_t point(wkb_t *w, bool le) {
    if (w->end - w->p < 16) {
        return bad(w, "WKB ends inside a point");
    }
    if (w->out) {
        char num[RC_BINLOG_TEXT_MAX];
        for (int i = 0; i < 2; i++) {
            uint64_t bits = le ? rc_le64(w->p + 8 * i) : rc_be(w->p + 8 * i, 8);
            double d;
            memcpy(&d, &bits, sizeof(d));
            rc_binlog_fmt_double(d, num);
            if (rc_buf_puts(w->out, i ? "," : "[") != RC_OK || rc_buf_puts(w->out, num) != RC_OK) {
                return RC_ERR_NOMEM;
            }
        }
        if (rc_buf_putc(w->out, ']') != RC_OK) {
            return RC_ERR_NOMEM;
        }
    }
    w->p += 16;
    return RC_OK;
}

/* [point, ...] */
static rc_err_t points(wkb_t *w, bool le) {
    uint32_t n;
    rc_err_t err = count(w, le, 16, &n);
    for (uint32_t i = 0; err == RC_OK && i < n; i++) {
        err = put(w, i ? "," : "[");
        if (err == RC_OK) {
            err = point(w, le);
        }
    }
    return err != RC_OK ? err : put(w, n ? "]" : "[]");
}

/* [[point, ...], ...] */
static rc_err_t rings(wkb_t *w, bool le) {
    uint32_t n;
    rc_err_t err = count(w, le, 4, &n);
    for (uint32_t i = 0; err == RC_OK && i < n; i++) {
        err = put(w, i ? "," : "[");
        if (err == RC_OK) {
            err = points(w, le);
        }
    }
    return err != RC_OK ? err : put(w, n ? "]" : "[]");
}

static const char *const type_names[] = {
    "",           "Point",           "LineString",   "Polygon",
    "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"};

/* One WKB geometry. want: the type it must have (a Multi*'s parts), 0 = any. bare: write only
 * its coordinates (a Multi*'s parts). */
static rc_err_t geometry(wkb_t *w, uint32_t want, bool bare, int depth) {
    if (depth > MAX_DEPTH) {
        return bad(w, "WKB nests deeper than %d geometries", MAX_DEPTH);
    }
    if (w->end - w->p < 5) {
        return bad(w, "WKB ends inside a geometry header");
    }
    uint8_t order = *w->p++;
    if (order > 1) {
        return bad(w, "WKB byte order %u is neither 0 nor 1", order);
    }
    bool le = order == 1;
    uint32_t type = 0;
    u32(w, le, &type);
    if (type < 1 || type > 7 || (want && type != want)) {
        return want ? bad(w, "WKB geometry of type %u where type %u must be", type, want)
                    : bad(w, "WKB geometry type %u is not one of 1-7", type);
    }
    rc_err_t err = RC_OK;
    if (!bare) {
        err = put(w, "{\"type\":\"");
        if (err == RC_OK) {
            err = put(w, type_names[type]);
        }
        if (err == RC_OK) {
            err = put(w, type == 7 ? "\",\"geometries\":" : "\",\"coordinates\":");
        }
    }
    if (err != RC_OK) {
        return err;
    }
    switch (type) {
    case 1:
        err = point(w, le);
        break;
    case 2:
        err = points(w, le);
        break;
    case 3:
        err = rings(w, le);
        break;
    default: {
        uint32_t n;
        err = count(w, le, 5, &n);
        for (uint32_t i = 0; err == RC_OK && i < n; i++) {
            err = put(w, i ? "," : "[");
            if (err == RC_OK) {
                /* Multi* hold bare Points/LineStrings/Polygons; collections whole geometries */
                err = geometry(w, type == 7 ? 0 : type - 3, type != 7, depth + 1);
            }
        }
        if (err == RC_OK) {
            err = put(w, n ? "]" : "[]");
        }
        break;
    }
    }
    return err != RC_OK || bare ? err : put(w, "}");
}

rc_err_t rc_binlog_wkb_geojson(const uint8_t *p, size_t len, rc_buf_t *out, char *why,
                               size_t why_size) {
    wkb_t w = {p, p + len, out, why, why_size};
    rc_err_t err = geometry(&w, 0, false, 0);
    if (err == RC_OK && w.p != w.end) {
        return bad(&w, "%zu bytes follow the WKB geometry", (size_t)(w.end - w.p));
    }
    return err;
}
