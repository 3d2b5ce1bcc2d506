/* rc_binlog_row.c: TABLE_MAP parsing and cache; rows events to msgpack events. Each row is read
 * and packed in one pass per image, by a per-column op decided once per table map, into a row
 * buffer that reaches the caller's packer only when the row is whole (JSON, non-UTF-8 text and
 * SET are rendered into a reused scratch buffer first):
 * a bad row never leaves half an event, and nothing is malloc'd per row. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rc_binlog_decimal.h"
#include "rc_binlog_int.h"
#include "rc_event.h"

/* Room one column's fixed-size value takes at most in a row's output, past its packed name: the
 * name's 16-byte copy (c_name), and a number or text of up to RC_BINLOG_TEXT_MAX bytes
 * formatted at 3 bytes into the value (c_ext_text). */
#define FIXED_ROOM (16 + RC_BINLOG_TEXT_MAX + 32)
/* bytes c_frag copies at most by fixed-size moves (see there) */
#define RC_FRAG_SLACK 192

/* Optional metadata TLV types of TABLE_MAP (binlog_row_metadata). */
enum {
    TM_SIGNEDNESS = 1,
    TM_DEFAULT_CHARSET = 2,
    TM_COLUMN_CHARSET = 3,
    TM_COLUMN_NAME = 4,
    TM_SET_STR_VALUE = 5,
    TM_ENUM_STR_VALUE = 6,
    TM_GEOMETRY_TYPE = 7,
    TM_SIMPLE_PRIMARY_KEY = 8,
    TM_PRIMARY_KEY_WITH_PREFIX = 9,
    TM_ENUM_AND_SET_DEFAULT_CHARSET = 10,
    TM_ENUM_AND_SET_COLUMN_CHARSET = 11,
    TM_COLUMN_VISIBILITY = 12,
};

static const char *type_name(uint8_t t) {
    switch (t) {
    case RC_T_DECIMAL:
        return "DECIMAL";
    case RC_T_NULL:
        return "NULL";
    case RC_T_NEWDATE:
        return "NEWDATE";
    case RC_T_TYPED_ARRAY:
        return "TYPED_ARRAY";
    case RC_T_VECTOR:
        return "VECTOR";
    case RC_T_JSON:
        return "JSON";
    case RC_T_GEOMETRY:
        return "GEOMETRY";
    case RC_T_BLOB:
        return "BLOB";
    case RC_T_NEWDECIMAL:
        return "DECIMAL";
    case RC_T_MARIA_BLOB_COMPRESSED:
        return "BLOB COMPRESSED";
    case RC_T_MARIA_VARCHAR_COMPRESSED:
        return "VARCHAR COMPRESSED";
    default:
        return "?";
    }
}

/* ---- the cache ---------------------------------------------------------------------------- */

static uint32_t hash_id(uint64_t id) {
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (uint32_t)id;
}

static rc_tmap_t *maps_find(const rc_binlog_t *b, uint64_t id) {
    if (b->maps_cap == 0) {
        return NULL;
    }
    uint32_t mask = b->maps_cap - 1;
    for (uint32_t i = hash_id(id) & mask;; i = (i + 1) & mask) {
        rc_tmap_t *tm = b->maps[i];
        if (!tm || tm->id == id) {
            return tm;
        }
    }
}

static void tmap_destroy(rc_tmap_t *tm) {
    free(tm->cols);
    free(tm->strs);
    free(tm->pk);
    free(tm->raw);
    free(tm->gen_names);
    rc_buf_free(&tm->topic);
    rc_buf_free(&tm->packed_names);
    rc_buf_free(&tm->packed_types);
    free(tm);
}

/* Inserts tm, replacing (and recycling) a map with the same id. */
static rc_err_t maps_put(rc_binlog_t *b, rc_tmap_t *tm) {
    if ((b->nmaps + 1) * 2 > b->maps_cap) {
        uint32_t cap = b->maps_cap ? b->maps_cap * 2 : 64;
        rc_tmap_t **nm = calloc(cap, sizeof(*nm));
        if (!nm) {
            return RC_ERR_NOMEM;
        }
        for (uint32_t i = 0; i < b->maps_cap; i++) {
            rc_tmap_t *m = b->maps[i];
            if (m) {
                uint32_t j = hash_id(m->id) & (cap - 1);
                while (nm[j]) {
                    j = (j + 1) & (cap - 1);
                }
                nm[j] = m;
            }
        }
        free(b->maps);
        b->maps = nm;
        b->maps_cap = cap;
    }
    uint32_t mask = b->maps_cap - 1;
    uint32_t i = hash_id(tm->id) & mask;
    while (b->maps[i] && b->maps[i]->id != tm->id) {
        i = (i + 1) & mask;
    }
    if (b->maps[i]) {
        b->maps[i]->next_free = b->free_maps;
        b->free_maps = b->maps[i];
    } else {
        b->nmaps++;
    }
    b->maps[i] = tm;
    return RC_OK;
}

void rc_binlog_maps_clear(rc_binlog_t *b) {
    for (uint32_t i = 0; i < b->maps_cap; i++) {
        if (b->maps[i]) {
            b->maps[i]->next_free = b->free_maps;
            b->free_maps = b->maps[i];
            b->maps[i] = NULL;
        }
    }
    b->nmaps = 0;
}

void rc_binlog_maps_free(rc_binlog_t *b) {
    rc_binlog_maps_clear(b);
    while (b->free_maps) {
        rc_tmap_t *tm = b->free_maps;
        b->free_maps = tm->next_free;
        tmap_destroy(tm);
    }
    free(b->maps);
    b->maps = NULL;
    b->maps_cap = 0;
}

static rc_err_t grow(void **p, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) {
        return RC_OK;
    }
    uint32_t n = *cap ? *cap : 8;
    while (n < need) {
        n *= 2;
    }
    void *np = realloc(*p, (size_t)n * elem);
    if (!np) {
        return RC_ERR_NOMEM;
    }
    *p = np;
    *cap = n;
    return RC_OK;
}

/* ---- TABLE_MAP ---------------------------------------------------------------------------- */

static rc_cs_t cs_of(uint16_t collation, unsigned charset) {
    if (collation == 0) {
        return RC_CS_UNKNOWN;
    }
    switch (charset) {
    case RC_CHARSET_BINARY:
        return RC_CS_BINARY;
    case RC_CHARSET_LATIN1:
        return RC_CS_LATIN1;
    case RC_CHARSET_UTF8MB4:
    case RC_CHARSET_UTF8MB3:
    case RC_CHARSET_ASCII:
        return RC_CS_UTF8;
    case RC_CHARSET_UNKNOWN:
        return RC_CS_UNKNOWN;
    default:
        return RC_CS_CONVERT;
    }
}

static bool is_numeric(const rc_col_t *c) {
    switch (c->type) {
    case RC_T_TINY:
    case RC_T_SHORT:
    case RC_T_INT24:
    case RC_T_LONG:
    case RC_T_LONGLONG:
    case RC_T_NEWDECIMAL:
    case RC_T_FLOAT:
    case RC_T_DOUBLE:
        return true;
    default:
        return false;
    }
}

static bool is_character(const rc_col_t *c) {
    switch (c->real_type) {
    case RC_T_STRING:
    case RC_T_VAR_STRING:
    case RC_T_VARCHAR:
    case RC_T_BLOB:
    case RC_T_MARIA_BLOB_COMPRESSED:
    case RC_T_MARIA_VARCHAR_COMPRESSED:
        return true;
    default:
        return false;
    }
}

static bool is_enum_or_set(const rc_col_t *c) {
    return c->real_type == RC_T_ENUM || c->real_type == RC_T_SET;
}

/* Reads the per-type metadata block. */
static bool read_column_meta(rc_col_t *c, const uint8_t **pp, const uint8_t *end) {
    const uint8_t *p = *pp;
    size_t n;
    switch (c->type) {
    case RC_T_FLOAT:
    case RC_T_DOUBLE:
    case RC_T_BLOB:
    case RC_T_TINY_BLOB:
    case RC_T_MEDIUM_BLOB:
    case RC_T_LONG_BLOB:
    case RC_T_GEOMETRY:
    case RC_T_JSON:
    case RC_T_VECTOR:
    case RC_T_TIMESTAMP2:
    case RC_T_DATETIME2:
    case RC_T_TIME2:
    case RC_T_MARIA_BLOB_COMPRESSED:
        n = 1;
        break;
    case RC_T_VARCHAR:
    case RC_T_VAR_STRING:
    case RC_T_MARIA_VARCHAR_COMPRESSED:
    case RC_T_BIT:
    case RC_T_NEWDECIMAL:
    case RC_T_STRING:
    case RC_T_ENUM:
    case RC_T_SET:
        n = 2;
        break;
    default:
        n = 0;
        break;
    }
    if ((size_t)(end - p) < n) {
        return false;
    }
    c->real_type = c->type;
    switch (c->type) {
    case RC_T_VARCHAR:
    case RC_T_VAR_STRING:
    case RC_T_MARIA_VARCHAR_COMPRESSED:
        c->max_len = rc_le16(p);
        c->meta = (uint16_t)c->max_len;
        break;
    case RC_T_NEWDECIMAL:
        c->precision = p[0];
        c->scale = p[1];
        c->meta = (uint16_t)(p[0] << 8 | p[1]);
        break;
    case RC_T_BIT:
        c->size = ((uint32_t)p[1] * 8 + p[0] + 7) / 8;
        c->meta = rc_le16(p);
        break;
    case RC_T_STRING:
    case RC_T_ENUM:
    case RC_T_SET: {
        uint8_t real = p[0];
        uint32_t len = p[1];
        if (c->type == RC_T_STRING && (real & 0x30) != 0x30) {
            /* CHAR longer than 255 bytes keeps length bits 8-9 in the real type byte */
            len |= (uint32_t)((real & 0x30) ^ 0x30) << 4;
            real |= 0x30;
        }
        c->real_type = c->type == RC_T_STRING ? real : c->type;
        c->max_len = len;
        c->meta = (uint16_t)(p[0] << 8 | p[1]);
        break;
    }
    default:
        if (n == 1) {
            c->meta = p[0];
        }
        break;
    }
    *pp = p + n;
    return true;
}

/* Decides how values of c are read; sets kind, size, lenbytes. */
static void column_kind(rc_col_t *c) {
    unsigned fb = (c->meta + 1) / 2;
    c->kind = RC_K_UNSUPPORTED;
    c->lenbytes = 0;
    c->zcol = false;
    switch (c->real_type) {
    case RC_T_TINY:
        c->kind = c->is_unsigned ? RC_K_UINT8 : RC_K_INT8;
        c->size = 1;
        break;
    case RC_T_SHORT:
        c->kind = c->is_unsigned ? RC_K_UINT16 : RC_K_INT16;
        c->size = 2;
        break;
    case RC_T_INT24:
        c->kind = c->is_unsigned ? RC_K_UINT24 : RC_K_INT24;
        c->size = 3;
        break;
    case RC_T_LONG:
        c->kind = c->is_unsigned ? RC_K_UINT32 : RC_K_INT32;
        c->size = 4;
        break;
    case RC_T_LONGLONG:
        c->kind = c->is_unsigned ? RC_K_UINT64 : RC_K_INT64;
        c->size = 8;
        break;
    case RC_T_FLOAT:
        c->kind = RC_K_FLOAT;
        c->size = 4;
        break;
    case RC_T_DOUBLE:
        c->kind = RC_K_DOUBLE;
        c->size = 8;
        break;
    case RC_T_YEAR:
        c->kind = RC_K_YEAR;
        c->size = 1;
        break;
    case RC_T_NEWDECIMAL:
        if (c->precision >= 1 && c->precision <= 65 && c->scale <= c->precision) {
            c->kind = RC_K_DECIMAL;
            c->size = (uint32_t)rc_binlog_decimal_size(c->precision, c->scale);
            rc_binlog_decimal_layout(c->precision, c->scale, &c->dec);
        }
        break;
    case RC_T_DATE:
        c->kind = RC_K_DATE;
        c->size = 3;
        break;
    case RC_T_TIME:
        c->kind = RC_K_TIME;
        c->size = 3;
        break;
    case RC_T_DATETIME:
        c->kind = RC_K_DATETIME;
        c->size = 8;
        break;
    case RC_T_TIMESTAMP:
        c->kind = RC_K_TIMESTAMP;
        c->size = 4;
        break;
    case RC_T_TIME2:
    case RC_T_DATETIME2:
    case RC_T_TIMESTAMP2:
        if (c->meta <= 6) {
            c->fsp = (uint8_t)c->meta;
            c->kind = c->real_type == RC_T_TIME2       ? RC_K_TIME2
                      : c->real_type == RC_T_DATETIME2 ? RC_K_DATETIME2
                                                       : RC_K_TIMESTAMP2;
            c->size = (c->real_type == RC_T_TIME2       ? 3
                       : c->real_type == RC_T_DATETIME2 ? 5
                                                        : 4) +
                      fb;
        }
        break;
    case RC_T_VARCHAR:
    case RC_T_VAR_STRING:
    case RC_T_STRING:
        c->kind = RC_K_STRING;
        c->lenbytes = c->max_len > 255 ? 2 : 1;
        c->size = 0;
        break;
    case RC_T_GEOMETRY:
        if (c->meta >= 1 && c->meta <= 4) {
            c->kind = RC_K_GEOMETRY;
            c->lenbytes = (uint8_t)c->meta;
            c->size = 0;
        }
        break;
    case RC_T_MARIA_VARCHAR_COMPRESSED:
        c->kind = RC_K_STRING;
        c->zcol = true;
        c->lenbytes = c->max_len > 255 ? 2 : 1;
        c->size = 0;
        break;
    case RC_T_MARIA_BLOB_COMPRESSED:
        if (c->meta >= 1 && c->meta <= 4) {
            c->kind = RC_K_STRING;
            c->zcol = true;
            c->lenbytes = (uint8_t)c->meta;
            c->size = 0;
        }
        break;
    case RC_T_VECTOR:
        if (c->meta >= 1 && c->meta <= 4) {
            c->kind = RC_K_VECTOR;
            c->lenbytes = (uint8_t)c->meta;
            c->size = 0;
        }
        break;
    case RC_T_BLOB:
    case RC_T_JSON:
        if (c->meta >= 1 && c->meta <= 4) {
            c->kind = c->real_type == RC_T_JSON ? RC_K_JSON : RC_K_STRING;
            c->lenbytes = (uint8_t)c->meta;
            c->size = 0;
        }
        break;
    case RC_T_ENUM:
        if (c->max_len == 1 || c->max_len == 2) {
            c->kind = RC_K_ENUM;
            c->size = c->max_len;
        }
        break;
    case RC_T_SET:
        if (c->max_len >= 1 && c->max_len <= 8) {
            c->kind = RC_K_SET;
            c->size = c->max_len;
        }
        break;
    case RC_T_BIT:
        if (c->size >= 1 && c->size <= 8) {
            c->kind = RC_K_BIT;
        }
        break;
    default:
        break;
    }
}

/* How a row's value of c is read and written (rc_op_t): a short path for the shapes that need
 * no per-value decision (fixed-size values, UTF-8 text and bytes as stored, DECIMAL), else the
 * general one. Needs kind, cs and zcol. */
static rc_op_t column_op(const rc_col_t *c) {
    switch ((rc_kind_t)c->kind) {
    case RC_K_UNSUPPORTED:
    case RC_K_ENUM:
    case RC_K_SET:
    case RC_K_JSON:
    case RC_K_GEOMETRY:
    case RC_K_VECTOR:
        return RC_OP_OTHER;
    case RC_K_DECIMAL:
        return RC_OP_DECIMAL;
    case RC_K_STRING:
        if (c->zcol || c->lenbytes < 1 || c->lenbytes > 4) {
            return RC_OP_OTHER;
        }
        if (c->cs == RC_CS_UTF8) {
            return c->lenbytes == 1 ? RC_OP_STR1 : c->lenbytes == 2 ? RC_OP_STR2 : RC_OP_STR;
        }
        /* BINARY(n) values are padded back to n bytes on the general path */
        return c->cs == RC_CS_BINARY && c->real_type != RC_T_STRING ? RC_OP_BIN : RC_OP_OTHER;
    default:
        break;
    }
    if (c->size == 0) {
        return RC_OP_OTHER;
    }
    switch ((rc_kind_t)c->kind) {
    case RC_K_INT8:
        return RC_OP_INT8;
    case RC_K_UINT8:
        return RC_OP_UINT8;
    case RC_K_INT16:
        return RC_OP_INT16;
    case RC_K_UINT16:
        return RC_OP_UINT16;
    case RC_K_INT24:
        return RC_OP_INT24;
    case RC_K_UINT24:
        return RC_OP_UINT24;
    case RC_K_INT32:
        return RC_OP_INT32;
    case RC_K_UINT32:
        return RC_OP_UINT32;
    case RC_K_INT64:
        return RC_OP_INT64;
    case RC_K_UINT64:
        return RC_OP_UINT64;
    case RC_K_FLOAT:
        return RC_OP_FLOAT;
    case RC_K_DOUBLE:
        return RC_OP_DOUBLE;
    case RC_K_YEAR:
        return RC_OP_YEAR;
    case RC_K_BIT:
        return RC_OP_BIT;
    case RC_K_DATE:
        return RC_OP_DATE;
    case RC_K_TIME:
        return RC_OP_TIME;
    case RC_K_TIME2:
        return RC_OP_TIME2;
    case RC_K_DATETIME:
        return RC_OP_DATETIME;
    case RC_K_DATETIME2:
        return RC_OP_DATETIME2;
    case RC_K_TIMESTAMP:
        return RC_OP_TIMESTAMP;
    case RC_K_TIMESTAMP2:
        return RC_OP_TIMESTAMP2;
    default:
        return RC_OP_OTHER;
    }
}

/* Charset lists (DEFAULT_CHARSET / COLUMN_CHARSET and the ENUM/SET ones) over the columns that
 * pred selects, in column order. */
static bool apply_charsets(rc_tmap_t *tm, bool is_default, bool (*pred)(const rc_col_t *),
                           const uint8_t *p, const uint8_t *end) {
    uint64_t v, idx;
    size_t n;
    if (is_default) {
        if ((n = rc_lenenc(p, end, &v)) == 0) {
            return false;
        }
        p += n;
        for (uint32_t i = 0; i < tm->ncols; i++) {
            if (pred(&tm->cols[i])) {
                tm->cols[i].collation = (uint16_t)v;
            }
        }
        while (p < end) {
            if ((n = rc_lenenc(p, end, &idx)) == 0) {
                return false;
            }
            p += n;
            if ((n = rc_lenenc(p, end, &v)) == 0) {
                return false;
            }
            p += n;
            uint64_t k = 0;
            for (uint32_t i = 0; i < tm->ncols; i++) {
                if (pred(&tm->cols[i]) && k++ == idx) {
                    tm->cols[i].collation = (uint16_t)v;
                    break;
                }
            }
        }
        return true;
    }
    for (uint32_t i = 0; i < tm->ncols && p < end; i++) {
        if (!pred(&tm->cols[i])) {
            continue;
        }
        if ((n = rc_lenenc(p, end, &v)) == 0) {
            return false;
        }
        p += n;
        tm->cols[i].collation = (uint16_t)v;
    }
    return true;
}

static bool is_enum(const rc_col_t *c) {
    return c->real_type == RC_T_ENUM;
}

static bool is_set(const rc_col_t *c) {
    return c->real_type == RC_T_SET;
}

static rc_err_t apply_strs(rc_tmap_t *tm, bool (*pred)(const rc_col_t *), const uint8_t *p,
                           const uint8_t *end) {
    for (uint32_t i = 0; i < tm->ncols && p < end; i++) {
        rc_col_t *c = &tm->cols[i];
        if (!pred(c)) {
            continue;
        }
        uint64_t cnt, len;
        size_t n = rc_lenenc(p, end, &cnt);
        if (n == 0 || cnt > (uint64_t)(end - p)) {
            return RC_ERR_PROTOCOL;
        }
        p += n;
        if (grow((void **)&tm->strs, &tm->strs_cap, tm->nstrs + (uint32_t)cnt, sizeof(*tm->strs)) !=
            RC_OK) {
            return RC_ERR_NOMEM;
        }
        c->str0 = tm->nstrs;
        c->nstr = (uint32_t)cnt;
        c->has_strs = true;
        for (uint64_t k = 0; k < cnt; k++) {
            if ((n = rc_lenenc(p, end, &len)) == 0 || len > (uint64_t)(end - p - n)) {
                return RC_ERR_PROTOCOL;
            }
            tm->strs[tm->nstrs].p = p + n;
            tm->strs[tm->nstrs].len = (uint32_t)len;
            tm->nstrs++;
            p += n + len;
        }
    }
    return RC_OK;
}

static rc_err_t add_pk(rc_tmap_t *tm, uint64_t idx) {
    if (idx >= tm->ncols) {
        return RC_ERR_PROTOCOL;
    }
    if (grow((void **)&tm->pk, &tm->pk_cap, tm->npk + 1, sizeof(*tm->pk)) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    tm->pk[tm->npk++] = (uint32_t)idx;
    return RC_OK;
}

static rc_err_t parse_optional_meta(rc_tmap_t *tm, const uint8_t *p, const uint8_t *end) {
    rc_err_t err;
    while (p < end) {
        uint8_t t = *p++;
        uint64_t len, v;
        size_t n = rc_lenenc(p, end, &len);
        if (n == 0 || len > (uint64_t)(end - p - n)) {
            return RC_ERR_PROTOCOL;
        }
        const uint8_t *v0 = p + n, *v1 = p + n + len;
        p = v1;
        switch (t) {
        case TM_SIGNEDNESS: {
            uint32_t k = 0;
            for (uint32_t i = 0; i < tm->ncols; i++) {
                rc_col_t *c = &tm->cols[i];
                if (!is_numeric(c)) {
                    continue;
                }
                if (v0 + k / 8 < v1) {
                    c->is_unsigned = (v0[k / 8] & (0x80 >> (k % 8))) != 0;
                }
                k++;
            }
            break;
        }
        case TM_DEFAULT_CHARSET:
        case TM_COLUMN_CHARSET:
            if (!apply_charsets(tm, t == TM_DEFAULT_CHARSET, is_character, v0, v1)) {
                return RC_ERR_PROTOCOL;
            }
            break;
        case TM_ENUM_AND_SET_DEFAULT_CHARSET:
        case TM_ENUM_AND_SET_COLUMN_CHARSET:
            if (!apply_charsets(tm, t == TM_ENUM_AND_SET_DEFAULT_CHARSET, is_enum_or_set, v0, v1)) {
                return RC_ERR_PROTOCOL;
            }
            break;
        case TM_COLUMN_NAME:
            for (uint32_t i = 0; i < tm->ncols && v0 < v1; i++) {
                if ((n = rc_lenenc(v0, v1, &v)) == 0 || v > (uint64_t)(v1 - v0 - n)) {
                    return RC_ERR_PROTOCOL;
                }
                tm->cols[i].name = (const char *)v0 + n;
                tm->cols[i].name_len = (uint32_t)v;
                v0 += n + v;
            }
            break;
        case TM_SET_STR_VALUE:
        case TM_ENUM_STR_VALUE:
            if ((err = apply_strs(tm, t == TM_SET_STR_VALUE ? is_set : is_enum, v0, v1)) != RC_OK) {
                return err;
            }
            break;
        case TM_SIMPLE_PRIMARY_KEY:
        case TM_PRIMARY_KEY_WITH_PREFIX:
            tm->npk = 0;
            while (v0 < v1) {
                if ((n = rc_lenenc(v0, v1, &v)) == 0) {
                    return RC_ERR_PROTOCOL;
                }
                v0 += n;
                if ((err = add_pk(tm, v)) != RC_OK) {
                    return err;
                }
                if (t == TM_PRIMARY_KEY_WITH_PREFIX) {
                    uint64_t prefix;
                    if ((n = rc_lenenc(v0, v1, &prefix)) == 0) {
                        return RC_ERR_PROTOCOL;
                    }
                    v0 += n;
                }
            }
            break;
        default:
            /* GEOMETRY_TYPE, COLUMN_VISIBILITY, VECTOR_DIMENSIONALITY and future types */
            break;
        }
    }
    return RC_OK;
}

static rc_err_t render_topic(const rc_binlog_t *b, rc_tmap_t *tm) {
    rc_buf_reset(&tm->topic);
    const char *t = b->topic_template;
    while (*t) {
        rc_err_t err;
        if (strncmp(t, "{schema}", 8) == 0) {
            err = rc_buf_append(&tm->topic, tm->schema, tm->schema_len);
            t += 8;
        } else if (strncmp(t, "{table}", 7) == 0) {
            err = rc_buf_append(&tm->topic, tm->table, tm->table_len);
            t += 7;
        } else {
            err = rc_buf_putc(&tm->topic, *t++);
        }
        if (err != RC_OK) {
            return err;
        }
    }
    return rc_buf_reserve(&tm->topic, 1); /* data is never NULL, even for an empty topic */
}

/* A msgpack packer that appends to an rc_buf_t. */
static int buf_write(void *data, const char *p, size_t n) {
    return rc_buf_append(data, p, n) == RC_OK ? 0 : -1;
}

/* Packs every column name once per table map, so a row writes each name with one copy. */
static rc_err_t pack_names(rc_tmap_t *tm) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, &tm->packed_names, buf_write);
    rc_buf_reset(&tm->packed_names);
    for (uint32_t i = 0; i < tm->ncols; i++) {
        rc_col_t *c = &tm->cols[i];
        size_t off = tm->packed_names.len;
        if (msgpack_pack_str(&pk, c->name_len) != 0 ||
            msgpack_pack_str_body(&pk, c->name, c->name_len) != 0) {
            return RC_ERR_NOMEM;
        }
        c->pname_off = (uint32_t)off;
        c->pname_len = (uint32_t)(tm->packed_names.len - off);
        memset(c->pname16, 0, sizeof(c->pname16));
        memcpy(c->pname16, tm->packed_names.data + off,
               c->pname_len < sizeof(c->pname16) ? c->pname_len : sizeof(c->pname16));
    }
    tm->short_names = true;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        tm->short_names = tm->short_names && tm->cols[i].pname_len <= 16;
    }
    /* room for every name and fixed-size value of a row image (emit_image) */
    tm->row_room = tm->packed_names.len + (size_t)tm->ncols * FIXED_ROOM;
    /* 16 readable bytes past the last name, for w_name's fixed-size copy */
    if (rc_buf_reserve(&tm->packed_names, 16) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    memset(tm->packed_names.data + tm->packed_names.len, 0, 16);
    return RC_OK;
}

/* The rc_col_type of c (rc_event.h). */
static uint8_t col_type(const rc_col_t *c) {
    switch ((rc_kind_t)c->kind) {
    case RC_K_INT8:
    case RC_K_UINT8:
        return RC_COL_TINYINT;
    case RC_K_INT16:
    case RC_K_UINT16:
        return RC_COL_SMALLINT;
    case RC_K_INT24:
    case RC_K_UINT24:
        return RC_COL_MEDIUMINT;
    case RC_K_INT32:
    case RC_K_UINT32:
        return RC_COL_INT;
    case RC_K_INT64:
    case RC_K_UINT64:
        return RC_COL_BIGINT;
    case RC_K_FLOAT:
        return RC_COL_FLOAT;
    case RC_K_DOUBLE:
        return RC_COL_DOUBLE;
    case RC_K_YEAR:
        return RC_COL_YEAR;
    case RC_K_DECIMAL:
        return RC_COL_DECIMAL;
    case RC_K_DATE:
        return RC_COL_DATE;
    case RC_K_TIME:
    case RC_K_TIME2:
        return RC_COL_TIME;
    case RC_K_DATETIME:
    case RC_K_DATETIME2:
        return RC_COL_DATETIME;
    case RC_K_TIMESTAMP:
    case RC_K_TIMESTAMP2:
        return RC_COL_TIMESTAMP;
    case RC_K_STRING:
        return c->cs == RC_CS_BINARY ? RC_COL_BINARY : RC_COL_TEXT;
    case RC_K_ENUM:
        return RC_COL_ENUM;
    case RC_K_SET:
        return RC_COL_SET;
    case RC_K_BIT:
        return RC_COL_BIT;
    case RC_K_JSON:
        return RC_COL_JSON;
    case RC_K_GEOMETRY:
        return RC_COL_GEOMETRY;
    case RC_K_VECTOR:
        return RC_COL_VECTOR;
    default:
        return RC_COL_UNKNOWN;
    }
}

/* Packs the "columns" key and the kafka.columns bin (rc_event.h) once per table map; every
 * event of the table then copies it. */
static rc_err_t pack_types(rc_tmap_t *tm) {
    rc_buf_t *o = &tm->packed_types;
    rc_buf_reset(o);
    size_t size = 0;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        size += 2 + (tm->cols[i].name_len & 0xffff) + 5;
    }
    if (size > UINT32_MAX - 32 || rc_buf_reserve(o, 32 + size) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    /* "headers": {} first: the whole tail of every event of the table, copied once per row */
    uint8_t head[9 + 13] = {0xa7, 'h', 'e', 'a', 'd', 'e', 'r', 's', 0x80,
                            0xa7, 'c', 'o', 'l', 'u', 'm', 'n', 's', 0xc6};
    head[18] = (uint8_t)(size >> 24);
    head[19] = (uint8_t)(size >> 16);
    head[20] = (uint8_t)(size >> 8);
    head[21] = (uint8_t)size;
    rc_err_t err = rc_buf_append(o, head, sizeof head);
    for (uint32_t i = 0; i < tm->ncols && err == RC_OK; i++) {
        const rc_col_t *c = &tm->cols[i];
        uint8_t type = col_type(c);
        uint32_t len = type == RC_COL_BIT       ? (uint32_t)(c->meta >> 8) * 8 + (c->meta & 0xff)
                       : type == RC_COL_DECIMAL ? c->precision
                                                : c->fsp;
        uint8_t flags = (uint8_t)((c->is_unsigned ? RC_COLF_UNSIGNED : 0) |
                                  (c->nullable ? RC_COLF_NULLABLE : 0));
        uint32_t nlen = c->name_len & 0xffff; /* names have at most 64 characters */
        uint8_t nl[2] = {(uint8_t)(nlen >> 8), (uint8_t)nlen};
        uint8_t d[5] = {type, flags, (uint8_t)(len >> 8), (uint8_t)len,
                        type == RC_COL_DECIMAL ? c->scale : 0};
        if ((err = rc_buf_append(o, nl, 2)) == RC_OK &&
            (err = rc_buf_append(o, c->name, nlen)) == RC_OK) {
            err = rc_buf_append(o, d, 5);
        }
    }
    return err == RC_OK ? rc_buf_reserve(o, RC_FRAG_SLACK) : err; /* c_frag reads past it */
}

/* ---- column names from the server (binlog_row_metadata is not FULL) ------------------------ */

static uint32_t names_hash(const char *key, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)key[i]) * 16777619u;
    }
    return h % RC_NAMES_BUCKETS;
}

void rc_binlog_names_clear(rc_binlog_t *b) {
    for (int i = 0; i < RC_NAMES_BUCKETS; i++) {
        while (b->names[i]) {
            rc_names_t *e = b->names[i];
            b->names[i] = e->next;
            rc_buf_free(&e->key);
            rc_buf_free(&e->names);
            rc_buf_free(&e->pk);
            free(e);
        }
    }
}

/* Names tm's columns from the cache or opts.column_names; leaves them unnamed (col_N) when the
 * server's list has another length. On failure why holds the reason. */
static rc_err_t names_from_server(rc_binlog_t *b, rc_tmap_t *tm, char *why, size_t why_size) {
    char key[256 * 2 + 2]; /* schema NUL table */
    size_t klen = tm->schema_len + 1 + tm->table_len;
    memcpy(key, tm->schema, tm->schema_len + 1);
    memcpy(key + tm->schema_len + 1, tm->table, tm->table_len);
    uint32_t h = names_hash(key, klen);
    rc_names_t *e = b->names[h];
    while (e && (e->key.len != klen || memcmp(e->key.data, key, klen) != 0)) {
        e = e->next;
    }
    if (!e) {
        if (!(e = calloc(1, sizeof(*e))) || rc_buf_append(&e->key, key, klen) != RC_OK) {
            free(e);
            snprintf(why, why_size, "out of memory");
            return RC_ERR_NOMEM;
        }
        rc_err_t err = b->column_names(b->opaque, tm->schema, tm->table, tm->ncols, &e->names,
                                       &e->n, &e->pk, why, why_size);
        if (err != RC_OK) {
            rc_buf_free(&e->key);
            rc_buf_free(&e->names);
            rc_buf_free(&e->pk);
            free(e);
            return err;
        }
        e->next = b->names[h];
        b->names[h] = e;
    }
    if (e->n != tm->ncols) {
        return RC_OK; /* the table changed since: positional names, never wrong ones */
    }
    if (e->names.len > tm->gen_names_cap) {
        char *p = realloc(tm->gen_names, e->names.len);
        if (!p) {
            snprintf(why, why_size, "out of memory");
            return RC_ERR_NOMEM;
        }
        tm->gen_names = p;
        tm->gen_names_cap = e->names.len;
    }
    memcpy(tm->gen_names, e->names.data, e->names.len);
    const char *p = tm->gen_names, *end = tm->gen_names + e->names.len;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        if (!z) {
            for (uint32_t k = 0; k < i; k++) {
                tm->cols[k].name = NULL;
            }
            return RC_OK; /* a callback that miscounted: positional names */
        }
        tm->cols[i].name = p;
        tm->cols[i].name_len = (uint32_t)(z - p);
        p = z + 1;
    }
    if (tm->npk == 0) { /* no primary-key metadata either: the server's key */
        for (size_t k = 0; k + 4 <= e->pk.len; k += 4) {
            uint32_t idx;
            memcpy(&idx, (const char *)e->pk.data + k, 4);
            rc_err_t err = add_pk(tm, idx);
            if (err != RC_OK) {
                tm->npk = 0;
                if (err == RC_ERR_NOMEM) {
                    snprintf(why, why_size, "out of memory");
                    return err;
                }
                break; /* an index out of range: no key rather than a wrong one */
            }
        }
    }
    return RC_OK;
}

static rc_err_t gen_names(rc_tmap_t *tm) {
    bool all_named = true;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        all_named = all_named && tm->cols[i].name;
    }
    if (all_named) {
        return RC_OK; /* gen_names may hold names from the server */
    }
    size_t need = (size_t)tm->ncols * 16;
    if (need > tm->gen_names_cap) {
        char *p = realloc(tm->gen_names, need);
        if (!p) {
            return RC_ERR_NOMEM;
        }
        tm->gen_names = p;
        tm->gen_names_cap = need;
    }
    for (uint32_t i = 0; i < tm->ncols; i++) {
        if (!tm->cols[i].name) {
            char *s = tm->gen_names + (size_t)i * 16;
            tm->cols[i].name = s;
            tm->cols[i].name_len = (uint32_t)snprintf(s, 16, "col_%" PRIu32, i + 1);
        }
    }
    return RC_OK;
}

rc_err_t rc_binlog_table_map(rc_binlog_t *b, const uint8_t *body, size_t blen, char *errstr,
                             size_t errstr_size) {
    unsigned ph = rc_binlog_post_header(b, RC_EV_TABLE_MAP, 8);
    if (blen >= ph + 2 && ph >= 6) {
        /* a table's every transaction logs its TABLE_MAP again, byte for byte: the map read
         * the last time holds (parsing it again cost about 3,800 instructions) */
        const rc_tmap_t *old = maps_find(b, ph == 6 ? rc_le32(body) : rc_le48(body));
        if (old && old->reusable && old->raw_len == blen && old->ph == ph &&
            memcmp(old->raw, body, blen) == 0) {
            return RC_OK;
        }
    }
    rc_tmap_t *tm = b->free_maps;
    rc_err_t err = RC_ERR_PROTOCOL;
    const char *what = "it is truncated";
    if (tm) {
        b->free_maps = tm->next_free;
    } else if (!(tm = calloc(1, sizeof(*tm)))) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    tm->next_free = NULL;
    tm->nstrs = tm->npk = 0;
    tm->reusable = false;
    if (blen + 1 > tm->raw_cap) {
        uint8_t *r = realloc(tm->raw, blen + 1);
        if (!r) {
            err = RC_ERR_NOMEM;
            what = "out of memory";
            goto fail;
        }
        tm->raw = r;
        tm->raw_cap = blen + 1;
    }
    memcpy(tm->raw, body, blen);
    tm->raw_len = blen;
    tm->ph = (uint8_t)ph;
    const uint8_t *p = tm->raw, *end = tm->raw + blen;
    if (blen < ph + 2 || ph < 6) { /* the FDE may claim any post-header length: need the id */
        goto fail;
    }
    tm->id = ph == 6 ? rc_le32(p) : rc_le48(p);
    p += ph;
    tm->schema_len = *p++;
    if ((size_t)(end - p) < tm->schema_len + 2u || p[tm->schema_len] != 0) {
        goto fail;
    }
    tm->schema = (const char *)p;
    p += tm->schema_len + 1;
    tm->table_len = *p++;
    if ((size_t)(end - p) < tm->table_len + 1u || p[tm->table_len] != 0) {
        goto fail;
    }
    tm->table = (const char *)p;
    p += tm->table_len + 1;
    uint64_t ncols, meta_len;
    size_t n = rc_lenenc(p, end, &ncols);
    /* A table has 1 to 4096 columns; 0 would leave nothing to decode (and no column array). */
    if (n == 0 || ncols == 0 || ncols > (uint64_t)(end - p - n) || ncols > 4096) {
        goto fail;
    }
    p += n;
    tm->ncols = (uint32_t)ncols;
    /* one more: the zeroed column past the last ends the row loop (RC_OP_END) */
    if (grow((void **)&tm->cols, &tm->cols_cap, tm->ncols + 1, sizeof(*tm->cols)) != RC_OK) {
        err = RC_ERR_NOMEM;
        what = "out of memory";
        goto fail;
    }
    memset(tm->cols, 0, sizeof(*tm->cols) * (tm->ncols + 1));
    tm->cols[tm->ncols].op = RC_OP_END;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        tm->cols[i].type = p[i];
    }
    p += tm->ncols;
    if ((n = rc_lenenc(p, end, &meta_len)) == 0 || meta_len > (uint64_t)(end - p - n)) {
        goto fail;
    }
    p += n;
    const uint8_t *meta = p, *meta_end = p + meta_len;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        if (!read_column_meta(&tm->cols[i], &meta, meta_end)) {
            what = "its column metadata is shorter than its column types need";
            goto fail;
        }
    }
    p = meta_end;
    size_t nullbytes = (tm->ncols + 7) / 8;
    if ((size_t)(end - p) < nullbytes) {
        goto fail;
    }
    for (uint32_t i = 0; i < tm->ncols; i++) {
        tm->cols[i].nullable = (p[i / 8] >> (i % 8)) & 1;
    }
    p += nullbytes;
    if ((err = parse_optional_meta(tm, p, end)) != RC_OK) {
        what = err == RC_ERR_NOMEM ? "out of memory" : "its optional metadata is malformed";
        goto fail;
    }
    for (uint32_t i = 0; i < tm->ncols; i++) {
        rc_col_t *c = &tm->cols[i];
        column_kind(c);
        c->charset = (uint8_t)rc_binlog_charset_of(c->collation);
        c->cs = (uint8_t)cs_of(c->collation, c->charset);
        c->op = (uint8_t)column_op(c);
    }
    for (uint32_t i = tm->ncols; i-- > 0;) {
        rc_col_t *c = &tm->cols[i];
        c->need = c->op == RC_OP_OTHER ? 0
                  : c->op <= RC_OP_BIN ? tm->cols[i + 1].need + c->lenbytes /* length-prefixed */
                                       : tm->cols[i + 1].need + c->size;
    }
    char why[512];
    bool server_names = !tm->cols[0].name && b->column_names;
    if (server_names && (err = names_from_server(b, tm, why, sizeof(why))) != RC_OK) {
        tm->next_free = b->free_maps;
        b->free_maps = tm;
        return rc_binlog_everr(b, errstr, errstr_size, err, "cannot name the columns of %s.%s: %s",
                               tm->schema, tm->table, why);
    }
    for (uint32_t k = 0; k < tm->npk; k++) {
        tm->cols[tm->pk[k]].pk = true;
    }
    tm->lean = tm->ncols <= 64 && tm->npk <= 1;
    tm->nvar = 0;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        tm->lean = tm->lean && tm->cols[i].op != RC_OP_OTHER;
        tm->nvar += tm->cols[i].op <= RC_OP_BIN;
    }
    uint32_t njson = 0;
    for (uint32_t i = 0; i < tm->ncols; i++) {
        tm->cols[i].jidx = (uint16_t)njson;
        njson += tm->cols[i].type == RC_T_JSON;
    }
    if ((err = gen_names(tm)) != RC_OK || (err = pack_names(tm)) != RC_OK ||
        (err = pack_types(tm)) != RC_OK || (err = render_topic(b, tm)) != RC_OK ||
        (err = maps_put(b, tm)) != RC_OK) {
        what = "out of memory";
        goto fail;
    }
    tm->include = b->include ? b->include(b->opaque, tm->schema, tm->table) : true;
    /* names asked of the server may change with DDL (rc_binlog_names_clear) */
    tm->reusable = !server_names;
    return RC_OK;
fail:
    tm->next_free = b->free_maps;
    b->free_maps = tm;
    if (err == RC_OK) {
        err = RC_ERR_PROTOCOL;
    }
    return rc_binlog_everr(b, errstr, errstr_size, err, "cannot parse the table map: %s", what);
}

/* ---- rows --------------------------------------------------------------------------------- */

typedef struct rowctx {
    rc_binlog_t *b;
    const rc_tmap_t *tm;
    char *errstr;
    size_t errstr_size;
    /* PARTIAL_UPDATE_ROWS after image: one bit per JSON column of the table, in column
     * order; a set bit means the value is a list of diffs against the before image */
    const uint8_t *partial;
} rowctx_t;

/* Not an error: what the lean row loop (lean_inserts) returns for a row it leaves to the general
 * one, which then writes it again from its start (or reports the error the row has). */
#define RC_LEAN_BAIL ((rc_err_t)1)

static rc_err_t col_err(rowctx_t *x, const rc_col_t *c, rc_err_t err, const char *why) {
    return rc_binlog_everr(x->b, x->errstr, x->errstr_size, err,
                           "cannot decode column `%.*s` (type %u) of %s.%s: %s", (int)c->name_len,
                           c->name, c->type, x->tm->schema, x->tm->table, why);
}

/* Appends the UTF-8 of d/n, in the charset of c (RC_CS_LATIN1 or RC_CS_CONVERT), to scratch.
 * Reserves room first, so d may point into scratch itself when the caller reserved
 * RC_UTF8_ROOM(n) beyond it. Errors are complete (col_err). */
#define RC_UTF8_ROOM(n) ((size_t)(n)*4 + 8)
static rc_err_t append_utf8(rowctx_t *x, const rc_col_t *c, const uint8_t *d, size_t n) {
    rc_buf_t *sc = &x->b->scratch;
    if (rc_buf_reserve(sc, RC_UTF8_ROOM(n)) != RC_OK) {
        return col_err(x, c, RC_ERR_NOMEM, "out of memory");
    }
    if (c->cs == RC_CS_LATIN1) {
        return rc_binlog_latin1_to_utf8(d, n, sc) == RC_OK
                   ? RC_OK
                   : col_err(x, c, RC_ERR_NOMEM, "out of memory");
    }
    char why[160];
    iconv_t *cv = &x->b->iconv[c->charset];
    if (*cv == (iconv_t)-1) {
        const char *from = rc_binlog_charset_iconv(c->charset);
        if (!from || (*cv = iconv_open("UTF-8", from)) == (iconv_t)-1) {
            snprintf(why, sizeof(why), "rowcast cannot convert charset %s to UTF-8",
                     rc_binlog_charset_name(c->charset));
            return col_err(x, c, RC_ERR_UNSUPPORTED, why);
        }
    }
    char *in = (char *)(uintptr_t)d, *out = sc->data + sc->len;
    size_t inleft = n, outleft = sc->cap - sc->len;
    iconv(*cv, NULL, NULL, NULL, NULL); /* a value starts in the initial shift state */
    if (iconv(*cv, &in, &inleft, &out, &outleft) == (size_t)-1 ||
        iconv(*cv, NULL, NULL, &out, &outleft) == (size_t)-1) {
        snprintf(why, sizeof(why), "the value is not valid %s (at byte %zu of %zu)",
                 rc_binlog_charset_name(c->charset), n - inleft, n);
        return col_err(x, c, RC_ERR_INVALID, why);
    }
    sc->len = (size_t)(out - sc->data);
    return RC_OK;
}

/* Sets the slot of the string d/n of column c: bytes, text as stored, or text converted to
 * UTF-8 in scratch. Errors are complete (col_err). */
static rc_err_t text_slot(rowctx_t *x, const rc_col_t *c, rc_slot_t *s, const uint8_t *d,
                          uint32_t n) {
    switch ((rc_cs_t)c->cs) {
    case RC_CS_BINARY:
        s->state = RC_SLOT_BIN;
        break;
    case RC_CS_LATIN1:
    case RC_CS_CONVERT: {
        size_t off = x->b->scratch.len;
        rc_err_t err = append_utf8(x, c, d, n);
        if (err != RC_OK) {
            return err;
        }
        s->state = RC_SLOT_STR;
        s->scratch = true;
        s->u = off;
        s->len = (uint32_t)(x->b->scratch.len - off);
        return RC_OK;
    }
    case RC_CS_UNKNOWN:
        /* no charset metadata (binlog_row_metadata=MINIMAL, MySQL 5.7): text if it is UTF-8 */
        s->state = rc_binlog_utf8_valid(d, n) ? RC_SLOT_STR : RC_SLOT_BIN;
        break;
    default:
        s->state = RC_SLOT_STR;
        break;
    }
    s->p = d;
    s->len = n;
    return RC_OK;
}

/* A value of a MariaDB COMPRESSED column (d/n, n > 0): a header byte, then either the bytes
 * as they are (header 0) or, with header 0x80 | raw << 3 | lenlen, lenlen bytes of the
 * original length big-endian and a deflate stream (zlib-wrapped unless raw, which is
 * column_compression_zlib_wrap=OFF, the default). Decompressed into scratch, then decoded by
 * the column's charset like any string. */
static rc_err_t compressed_slot(rowctx_t *x, const rc_col_t *c, rc_slot_t *s, const uint8_t *d,
                                uint32_t n) {
    uint8_t h = d[0];
    if (h == 0) {
        return text_slot(x, c, s, d + 1, n - 1);
    }
    unsigned lenlen = h & 0x07;
    if (!(h & 0x80) || (h & 0x70) || lenlen == 0 || lenlen > 4 || n < 1 + lenlen) {
        char why[96];
        snprintf(why, sizeof(why), "the compressed value has the invalid header byte 0x%02x", h);
        return col_err(x, c, RC_ERR_INVALID, why);
    }
    uint64_t ulen = rc_be(d + 1, lenlen);
    size_t clen = n - 1 - lenlen;
    if (ulen == 0 || ulen > (uint64_t)clen * 1032u + 64 || ulen > (1u << 30)) {
        return col_err(x, c, RC_ERR_INVALID, "the compressed value claims an impossible length");
    }
    rc_buf_t *sc = &x->b->scratch;
    bool convert = c->cs == RC_CS_LATIN1 || c->cs == RC_CS_CONVERT;
    /* room for the UTF-8 too, so converting does not move what it reads */
    if (rc_buf_reserve(sc, (size_t)ulen + (convert ? RC_UTF8_ROOM(ulen) : 0)) != RC_OK) {
        return col_err(x, c, RC_ERR_NOMEM, "out of memory");
    }
    size_t off = sc->len;
    const char *why = rc_binlog_inflate(x->b, (h & 0x08) != 0, d + 1 + lenlen, clen,
                                        (uint8_t *)sc->data + off, (size_t)ulen);
    if (why) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "the compressed value does not decompress to %" PRIu64 " bytes: %s", ulen, why);
        return col_err(x, c, RC_ERR_INVALID, msg);
    }
    sc->len += (size_t)ulen;
    const uint8_t *u = (const uint8_t *)sc->data + off;
    s->scratch = true;
    s->len = (uint32_t)ulen;
    s->u = off;
    switch ((rc_cs_t)c->cs) {
    case RC_CS_BINARY:
        s->state = RC_SLOT_BIN;
        break;
    case RC_CS_LATIN1:
    case RC_CS_CONVERT: {
        size_t off2 = sc->len;
        rc_err_t err = append_utf8(x, c, u, (size_t)ulen);
        if (err != RC_OK) {
            return err;
        }
        s->state = RC_SLOT_STR;
        s->u = off2;
        s->len = (uint32_t)(sc->len - off2);
        break;
    }
    case RC_CS_UNKNOWN:
        s->state = rc_binlog_utf8_valid(u, (size_t)ulen) ? RC_SLOT_STR : RC_SLOT_BIN;
        break;
    default:
        s->state = RC_SLOT_STR;
        break;
    }
    return RC_OK;
}

/* A GEOMETRY value d/n: the SRID (4 bytes, little-endian) and WKB, checked; as GeoJSON text in
 * scratch when the decoder was asked for it. */
static rc_err_t geometry_slot(rowctx_t *x, const rc_col_t *c, rc_slot_t *s, const uint8_t *d,
                              uint32_t n) {
    char why[160];
    if (n < 4 + 5) {
        snprintf(why, sizeof(why), "a GEOMETRY of %u bytes cannot hold an SRID and WKB", n);
        return col_err(x, c, RC_ERR_INVALID, why);
    }
    rc_buf_t *sc = &x->b->scratch;
    size_t off = sc->len;
    rc_err_t err =
        rc_binlog_wkb_geojson(d + 4, n - 4, x->b->geometry_geojson ? sc : NULL, why, sizeof(why));
    if (err != RC_OK) {
        return col_err(x, c, err, err == RC_ERR_NOMEM ? "out of memory" : why);
    }
    s->state = RC_SLOT_GEO;
    s->aux = rc_le32(d);
    if (x->b->geometry_geojson) {
        s->ext = RC_EXT_JSON;
        s->scratch = true;
        s->u = off;
        s->len = (uint32_t)(sc->len - off);
    } else {
        s->ext = 0;
        s->p = d + 4;
        s->len = n - 4;
    }
    return RC_OK;
}

/* The bytes d/n followed by zeros up to width, in scratch, as a bin slot. */
static rc_err_t binary_pad_slot(rowctx_t *x, rc_slot_t *s, const uint8_t *d, uint32_t n,
                                uint32_t width) {
    rc_buf_t *sc = &x->b->scratch;
    size_t off = sc->len;
    if (rc_buf_reserve(sc, width) != RC_OK) {
        return RC_ERR_NOMEM;
    }
    memcpy(sc->data + off, d, n);
    memset(sc->data + off + n, 0, width - n);
    sc->len += width;
    s->state = RC_SLOT_BIN;
    s->scratch = true;
    s->u = off;
    s->len = width;
    return RC_OK;
}

/* A partial JSON value (d/n: the diffs) of column i: applied to the column's value in the
 * before image, which is still text in scratch; the full document is appended to scratch. */
static rc_err_t json_diffs(rowctx_t *x, uint32_t i, const uint8_t *d, size_t n, char *why,
                           size_t why_size) {
    const rc_slot_t *bs = &x->b->before[i];
    if (bs->state == RC_SLOT_ABSENT || bs->state == RC_SLOT_NULL) {
        snprintf(why, why_size,
                 "the after image holds JSON diffs (binlog_row_value_options=PARTIAL_JSON) but "
                 "the before image %s, so the new document cannot be built: log full before "
                 "images (binlog_row_image=FULL) or whole documents "
                 "(binlog_row_value_options='')",
                 bs->state == RC_SLOT_NULL ? "has NULL" : "does not carry the column");
        return RC_ERR_UNSUPPORTED;
    }
    if (bs->state != RC_SLOT_EXT || bs->ext != RC_EXT_JSON || !bs->scratch) {
        snprintf(why, why_size, "the before value of the JSON diffs is not JSON");
        return RC_ERR_INVALID;
    }
    rc_buf_t *sc = &x->b->scratch;
    return rc_binlog_json_apply_diffs(sc->data + bs->u, bs->len, d, n, x->b->jwork, sc, why,
                                      why_size);
}

/* Whether slot s has bytes (p/len); the other states (ABSENT, NULL, UINT) leave len as an
 * earlier row set it. */
static inline bool slot_has_bytes(const rc_slot_t *s) {
    return s->state >= RC_SLOT_RAW && s->state != RC_SLOT_UINT;
}

/* The general path (RC_OP_OTHER): one value of column i at *pp, any kind; diffs
 * is set for a PARTIAL_UPDATE_ROWS JSON value given as diffs. Out of emit_image's loop so
 * that the common paths keep a small frame. Errors are complete. */
static __attribute__((noinline)) rc_err_t general_value(rowctx_t *x, const rc_col_t *c, uint32_t i,
                                                        bool diffs, rc_slot_t *s,
                                                        const uint8_t **pp, const uint8_t *end) {
    const rc_tmap_t *tm = x->tm;
    const uint8_t *p = *pp;
    size_t avail = (size_t)(end - p);
    if (c->kind == RC_K_UNSUPPORTED) {
        return rc_binlog_everr(x->b, x->errstr, x->errstr_size, RC_ERR_UNSUPPORTED,
                               "column `%.*s` of %s.%s has type %u (%s) with metadata %u, "
                               "which rowcast does not decode yet",
                               (int)c->name_len, c->name, tm->schema, tm->table, c->real_type,
                               type_name(c->real_type), c->meta);
    }
    if (c->kind == RC_K_STRING || c->kind == RC_K_JSON || c->kind == RC_K_GEOMETRY ||
        c->kind == RC_K_VECTOR) {
        if (avail < c->lenbytes) {
            return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside its length");
        }
        /* lenbytes is 1-4; a switch, not rc_le's loop, which was a tenth of this pass */
        uint64_t n = c->lenbytes == 1   ? p[0]
                     : c->lenbytes == 2 ? rc_le16(p)
                     : c->lenbytes == 3 ? rc_le24(p)
                                        : rc_le32(p);
        if (avail - c->lenbytes < n) {
            return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside the value");
        }
        const uint8_t *d = p + c->lenbytes;
        p = d + n;
        if (c->kind == RC_K_VECTOR) {
            if (n % 4 != 0) {
                char why[96];
                snprintf(why, sizeof(why),
                         "a VECTOR of %" PRIu64 " bytes is not a whole number of 32-bit floats", n);
                return col_err(x, c, RC_ERR_INVALID, why);
            }
            s->state = RC_SLOT_VEC;
            s->p = d;
            s->len = (uint32_t)n;
        } else if (c->kind == RC_K_GEOMETRY) {
            rc_err_t err = geometry_slot(x, c, s, d, (uint32_t)n);
            if (err != RC_OK) {
                return err;
            }
        } else if (c->kind == RC_K_JSON) {
            size_t off = x->b->scratch.len;
            char why[300];
            rc_err_t err =
                diffs ? json_diffs(x, i, d, (size_t)n, why, sizeof(why))
                      : rc_binlog_json_text(d, (size_t)n, &x->b->scratch, why, sizeof(why));
            if (err != RC_OK) {
                return col_err(x, c, err, why);
            }
            s->state = RC_SLOT_EXT;
            s->ext = RC_EXT_JSON;
            s->scratch = true;
            s->u = off;
            s->len = (uint32_t)(x->b->scratch.len - off);
        } else if (c->zcol && n > 0) {
            rc_err_t err = compressed_slot(x, c, s, d, (uint32_t)n);
            if (err != RC_OK) {
                return err;
            }
        } else if (c->real_type == RC_T_STRING && c->cs == RC_CS_BINARY && n < c->max_len) {
            /* BINARY(n): the server leaves the trailing 0x00 bytes out of the row image,
             * but the value is always n bytes (what SELECT returns) */
            if (binary_pad_slot(x, s, d, (uint32_t)n, c->max_len) != RC_OK) {
                return col_err(x, c, RC_ERR_NOMEM, "out of memory");
            }
        } else {
            rc_err_t err = text_slot(x, c, s, d, (uint32_t)n);
            if (err != RC_OK) {
                return err;
            }
        }
        *pp = p;
        return RC_OK;
    }
    if (avail < c->size) {
        return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside the value");
    }
    switch (c->kind) {
    case RC_K_ENUM: {
        uint64_t idx = rc_le(p, c->size);
        if (!c->has_strs) {
            s->state = RC_SLOT_UINT;
            s->u = idx;
        } else if (idx == 0) {
            s->state = RC_SLOT_EXT;
            s->ext = RC_EXT_ENUM;
            s->p = (const uint8_t *)"";
            s->len = 0;
        } else if (idx > c->nstr) {
            return col_err(x, c, RC_ERR_INVALID, "ENUM index beyond the ENUM's values");
        } else {
            const rc_strref_t *e = &tm->strs[c->str0 + idx - 1];
            rc_err_t err = text_slot(x, c, s, e->p, e->len);
            if (err != RC_OK) {
                return err;
            }
            s->state = RC_SLOT_EXT; /* typed, for the protobuf encoder; JSON writes text */
            s->ext = RC_EXT_ENUM;
        }
        break;
    }
    case RC_K_SET: {
        uint64_t bits = rc_le(p, c->size);
        if (!c->has_strs) {
            s->state = RC_SLOT_UINT;
            s->u = bits;
            break;
        }
        size_t off = x->b->scratch.len;
        bool first = true;
        for (uint32_t e = 0; e < c->nstr && e < 64; e++) {
            if (!(bits & ((uint64_t)1 << e))) {
                continue;
            }
            const rc_strref_t *r = &tm->strs[c->str0 + e];
            if (!first && rc_buf_putc(&x->b->scratch, ',') != RC_OK) {
                return col_err(x, c, RC_ERR_NOMEM, "out of memory");
            }
            rc_err_t err = c->cs == RC_CS_LATIN1 || c->cs == RC_CS_CONVERT
                               ? append_utf8(x, c, r->p, r->len)
                               : (rc_buf_append(&x->b->scratch, r->p, r->len) == RC_OK
                                      ? RC_OK
                                      : col_err(x, c, RC_ERR_NOMEM, "out of memory"));
            if (err != RC_OK) {
                return err;
            }
            first = false;
        }
        s->state = RC_SLOT_EXT;
        s->ext = RC_EXT_SET;
        s->scratch = true;
        s->u = off;
        s->len = (uint32_t)(x->b->scratch.len - off);
        break;
    }
    default:
        s->state = RC_SLOT_RAW;
        s->p = p;
        s->len = c->size;
        break;
    }
    p += c->size;
    *pp = p;
    return RC_OK;
}

/* PARTIAL_UPDATE_ROWS: before each after image, value_options (lenenc) and, when its bit
 * PARTIAL_JSON_UPDATES (1) is set, a bitmap with one bit per JSON column of the table (its
 * size counts them all; with binlog_row_image=FULL, the only image diffs can be applied to,
 * every JSON column is in the after image, so bit k is the table's k-th JSON column). */
static rc_err_t value_options(rowctx_t *x, const uint8_t **pp, const uint8_t *end, uint32_t njson) {
    uint64_t opts;
    size_t n = rc_lenenc(*pp, end, &opts);
    if (n == 0) {
        return rc_binlog_everr(x->b, x->errstr, x->errstr_size, RC_ERR_TRUNCATED,
                               "row image of %s.%s ends before its value options", x->tm->schema,
                               x->tm->table);
    }
    *pp += n;
    if (opts & ~(uint64_t)1) {
        return rc_binlog_everr(x->b, x->errstr, x->errstr_size, RC_ERR_UNSUPPORTED,
                               "row image of %s.%s has unknown value options 0x%" PRIx64,
                               x->tm->schema, x->tm->table, opts);
    }
    if (opts & 1) {
        size_t nb = (njson + 7) / 8;
        if ((size_t)(end - *pp) < nb) {
            return rc_binlog_everr(x->b, x->errstr, x->errstr_size, RC_ERR_TRUNCATED,
                                   "row image of %s.%s ends inside its partial JSON bitmap",
                                   x->tm->schema, x->tm->table);
        }
        x->partial = nb ? *pp : NULL;
        *pp += nb;
    }
    return RC_OK;
}

/* ---- pass two: a row event as msgpack, written straight into b->rowbuf ------------------- */

/* The forms msgpack-c's packer picks (smallest that fits), written with inline stores instead
 * of one packer callback per piece: the packer's per-call cost was the largest part of a row's
 * decode. Each returns 0, or -1 when the buffer cannot grow. */
static inline uint8_t *w_room(rc_buf_t *o, size_t n) {
    if (o->cap - o->len < n && rc_buf_reserve(o, n) != RC_OK) {
        return NULL;
    }
    return (uint8_t *)o->data + o->len;
}

static inline void w_be16(uint8_t *q, uint32_t v) {
    q[0] = (uint8_t)(v >> 8);
    q[1] = (uint8_t)v;
}

static inline void w_be32(uint8_t *q, uint32_t v) {
    q[0] = (uint8_t)(v >> 24);
    q[1] = (uint8_t)(v >> 16);
    q[2] = (uint8_t)(v >> 8);
    q[3] = (uint8_t)v;
}

static inline void w_be64(uint8_t *q, uint64_t v) {
    w_be32(q, (uint32_t)(v >> 32));
    w_be32(q + 4, (uint32_t)v);
}

/* The writers below come in two forms: c_* store at a cursor the caller has made room for and
 * return the cursor after what they wrote; w_room makes the room in an rc_buf_t first. A row is
 * written with c_* after one reservation per value (emit_image): per-piece room checks and
 * the reloads of o->data/o->len after every byte store were a third of the packing. */
static inline __attribute__((always_inline)) uint8_t *c_uint(uint8_t *q, uint64_t v) {
    if (v < 128) {
        q[0] = (uint8_t)v;
        return q + 1;
    }
    if (v < 256) {
        q[0] = 0xcc;
        q[1] = (uint8_t)v;
        return q + 2;
    }
    if (v <= UINT32_MAX) {
        /* one byte swap for uint 16 and uint 32 (GCC swapped both ways before its tests) */
        uint32_t be = __builtin_bswap32((uint32_t)v);
        if (v < 65536) {
            uint16_t be16 = (uint16_t)(be >> 16);
            q[0] = 0xcd;
            memcpy(q + 1, &be16, 2);
            return q + 3;
        }
        q[0] = 0xce;
        memcpy(q + 1, &be, 4);
        return q + 5;
    }
    q[0] = 0xcf;
    w_be64(q + 1, v);
    return q + 9;
}

static inline __attribute__((always_inline)) uint8_t *c_int(uint8_t *q, int64_t v) {
    if (v >= 0) {
        return c_uint(q, (uint64_t)v);
    }
    if (v >= -32) {
        q[0] = (uint8_t)(int8_t)v;
        return q + 1;
    }
    if (v >= INT8_MIN) {
        q[0] = 0xd0;
        q[1] = (uint8_t)(int8_t)v;
        return q + 2;
    }
    if (v >= INT16_MIN) {
        q[0] = 0xd1;
        w_be16(q + 1, (uint16_t)(int16_t)v);
        return q + 3;
    }
    if (v >= INT32_MIN) {
        q[0] = 0xd2;
        w_be32(q + 1, (uint32_t)(int32_t)v);
        return q + 5;
    }
    q[0] = 0xd3;
    w_be64(q + 1, (uint64_t)v);
    return q + 9;
}

/* A map or array header (base 0x80 / 0x90 for the fix forms, 0xde / 0xdc beyond). */
static inline __attribute__((always_inline)) uint8_t *c_container(uint8_t *q, uint32_t n,
                                                                  bool map) {
    if (n < 16) {
        q[0] = (uint8_t)((map ? 0x80 : 0x90) | n);
        return q + 1;
    }
    if (n < 65536) {
        q[0] = map ? 0xde : 0xdc;
        w_be16(q + 1, n);
        return q + 3;
    }
    q[0] = map ? 0xdf : 0xdd;
    w_be32(q + 1, n);
    return q + 5;
}

/* str (fix/8/16/32) or bin (8/16/32) with its bytes; needs n + 5 bytes. */
static inline __attribute__((always_inline)) uint8_t *c_strbin(uint8_t *q, const void *p,
                                                               uint32_t n, bool bin) {
    size_t h;
    if (!bin && n < 32) {
        q[0] = (uint8_t)(0xa0 | n);
        h = 1;
    } else if (n < 256) {
        q[0] = bin ? 0xc4 : 0xd9;
        q[1] = (uint8_t)n;
        h = 2;
    } else if (n < 65536) {
        q[0] = bin ? 0xc5 : 0xda;
        w_be16(q + 1, n);
        h = 3;
    } else {
        q[0] = bin ? 0xc6 : 0xdb;
        w_be32(q + 1, n);
        h = 5;
    }
    if (n) {
        memcpy(q + h, p, n);
    }
    return q + h + n;
}

/* The header of an ext of n bytes (fixext 1/2/4/8/16, else ext 8/16/32); returns its size. */
static inline size_t c_ext_head(uint8_t *q, int8_t type, uint32_t n) {
    size_t h;
    switch (n) {
    case 1:
        q[0] = 0xd4;
        h = 1;
        break;
    case 2:
        q[0] = 0xd5;
        h = 1;
        break;
    case 4:
        q[0] = 0xd6;
        h = 1;
        break;
    case 8:
        q[0] = 0xd7;
        h = 1;
        break;
    case 16:
        q[0] = 0xd8;
        h = 1;
        break;
    default:
        if (n < 256) {
            q[0] = 0xc7;
            q[1] = (uint8_t)n;
            h = 2;
        } else if (n < 65536) {
            q[0] = 0xc8;
            w_be16(q + 1, n);
            h = 3;
        } else {
            q[0] = 0xc9;
            w_be32(q + 1, n);
            h = 5;
        }
        break;
    }
    q[h++] = (uint8_t)type;
    return h;
}

/* ext with its bytes; needs n + 6 bytes. */
static inline uint8_t *c_ext(uint8_t *q, int8_t type, const void *p, uint32_t n) {
    size_t h = c_ext_head(q, type, n);
    if (n) {
        memcpy(q + h, p, n);
    }
    return q + h + n;
}

/* An ext whose text (under 256 bytes) was formatted at q + 3, where an ext 8 header leaves it;
 * the fixext sizes take a 2-byte header, so their text moves down one byte. */
static inline __attribute__((always_inline)) uint8_t *c_ext_text(uint8_t *q, int8_t type,
                                                                 size_t n) {
    if (n <= 16 && ((1u << 1 | 1u << 2 | 1u << 4 | 1u << 8 | 1u << 16) >> n) & 1) {
        c_ext_head(q, type, (uint32_t)n);
        memmove(q + 2, q + 3, n);
        return q + 2 + n;
    }
    q[0] = 0xc7;
    q[1] = (uint8_t)n;
    q[2] = (uint8_t)type;
    return q + 3 + n;
}

/* c_ext_text for a text whose length n is never a fixext size (1, 2, 4, 8, 16): a DATE's (10
 * or 11 bytes), a DATETIME's or TIMESTAMP's (19 or more); an ext 8 header, with no test. */
static inline __attribute__((always_inline)) uint8_t *c_ext_text8(uint8_t *q, int8_t type,
                                                                  size_t n) {
    q[0] = 0xc7;
    q[1] = (uint8_t)n;
    q[2] = (uint8_t)type;
    return q + 3 + n;
}

static inline __attribute__((always_inline)) uint8_t *c_float_bits(uint8_t *q, uint32_t bits) {
    q[0] = 0xca;
    w_be32(q + 1, bits);
    return q + 5;
}

static inline __attribute__((always_inline)) uint8_t *c_double_bits(uint8_t *q, uint64_t bits) {
    q[0] = 0xcb;
    w_be64(q + 1, bits);
    return q + 9;
}

#define C_LIT(q, s) c_strbin(q, s, sizeof(s) - 1, false)

/* A packed column name: names of up to 16 bytes (nearly all) are copied as the column's 16
 * fixed bytes (pname16, in the column the row loop reads anyway), which the compiler inlines,
 * instead of a memcpy call of a few bytes per column. Needs pname_len + 16 bytes. */
static inline __attribute__((always_inline)) uint8_t *c_name(uint8_t *q, const char *names,
                                                             const rc_col_t *c) {
    uint32_t n = c->pname_len; /* read once: the store may alias it */
    if (n > 16) {
        memcpy(q, names + c->pname_off, n);
    } else {
        memcpy(q, c->pname16, 16);
    }
    return q + n;
}

/* c_name, where short_names says every name of the table is of 16 bytes at most
 * (rc_tmap_t.short_names): then with no test of its length. */
static inline __attribute__((always_inline)) uint8_t *
c_name_s(uint8_t *q, const char *names, const rc_col_t *c, bool short_names) {
    if (!short_names) {
        return c_name(q, names, c);
    }
    uint32_t n = c->pname_len;
    memcpy(q, c->pname16, 16);
    return q + n;
}

/* Room one value of slot s needs at most: its bytes (twice, for a VECTOR's 5-byte floats per
 * 4 bytes), a header, and formatted text of up to RC_BINLOG_TEXT_MAX bytes. */
static inline size_t value_room(const rc_slot_t *s) {
    return (slot_has_bytes(s) ? (size_t)s->len * 2 : 0) + RC_BINLOG_TEXT_MAX + 32;
}

/* One value, at q (value_room(s) bytes). */
static uint8_t *c_value(uint8_t *q, const rc_col_t *c, const rc_slot_t *s) {
    const uint8_t *p = s->p;
    switch (s->state) {
    case RC_SLOT_ABSENT:
    case RC_SLOT_NULL:
        *q = 0xc0;
        return q + 1;
    case RC_SLOT_STR:
        return c_strbin(q, p, s->len, false);
    case RC_SLOT_BIN:
        return c_strbin(q, p, s->len, true);
    case RC_SLOT_EXT:
        return c_ext(q, (int8_t)s->ext, p, s->len);
    case RC_SLOT_UINT:
        return c_uint(q, s->u);
    case RC_SLOT_VEC:
        q = c_container(q, s->len / 4, false);
        for (uint32_t k = 0; k < s->len; k += 4) {
            q = c_float_bits(q, rc_le32(p + k));
        }
        return q;
    case RC_SLOT_GEO:
        q = c_container(q, 2, true);
        q = c_uint(C_LIT(q, "srid"), s->aux);
        if (s->ext == RC_EXT_JSON) {
            return c_ext(C_LIT(q, "geojson"), RC_EXT_JSON, p, s->len);
        }
        return c_strbin(C_LIT(q, "wkb"), p, s->len, true);
    default:
        break;
    }
    char *t = (char *)q + 3; /* temporal text, see c_ext_text */
    switch (c->kind) {
    case RC_K_INT8:
        return c_int(q, (int8_t)p[0]);
    case RC_K_UINT8:
        return c_uint(q, p[0]);
    case RC_K_INT16:
        return c_int(q, (int16_t)rc_le16(p));
    case RC_K_UINT16:
        return c_uint(q, rc_le16(p));
    case RC_K_INT24: {
        int32_t v = (int32_t)rc_le24(p);
        return c_int(q, (v & 0x800000) ? v - 0x1000000 : v);
    }
    case RC_K_UINT24:
        return c_uint(q, rc_le24(p));
    case RC_K_INT32:
        return c_int(q, (int32_t)rc_le32(p));
    case RC_K_UINT32:
        return c_uint(q, rc_le32(p));
    case RC_K_INT64:
        return c_int(q, (int64_t)rc_le64(p));
    case RC_K_UINT64:
        return c_uint(q, rc_le64(p));
    case RC_K_FLOAT:
        return c_float_bits(q, rc_le32(p));
    case RC_K_DOUBLE:
        return c_double_bits(q, rc_le64(p));
    case RC_K_YEAR:
        return c_uint(q, p[0] ? 1900u + p[0] : 0u);
    case RC_K_BIT:
        return c_uint(q, rc_be(p, c->size));
    case RC_K_DATE:
        return c_ext_text(q, RC_EXT_DATE, rc_binlog_fmt_date(rc_le24(p), t));
    case RC_K_TIME:
        return c_ext_text(q, RC_EXT_TIME, rc_binlog_fmt_old_time(p, t));
    case RC_K_TIME2:
        return c_ext_text(q, RC_EXT_TIME, rc_binlog_fmt_time(p, c->fsp, t));
    case RC_K_DATETIME:
        return c_ext_text(q, RC_EXT_DATETIME, rc_binlog_fmt_old_datetime(p, t));
    case RC_K_DATETIME2:
        return c_ext_text(q, RC_EXT_DATETIME, rc_binlog_fmt_datetime2(p, c->fsp, t));
    case RC_K_TIMESTAMP:
        return c_ext_text(q, RC_EXT_TIMESTAMP, rc_binlog_fmt_old_timestamp(p, t));
    case RC_K_TIMESTAMP2:
        return c_ext_text(q, RC_EXT_TIMESTAMP, rc_binlog_fmt_timestamp2(p, c->fsp, t));
    default:
        *q = 0xc0;
        return q + 1;
    }
}

/* Makes room for need more bytes at q in o (whose data may move); returns where q is then, or
 * NULL. Takes and returns the cursor by value: a cursor whose address is taken lives in
 * memory, and the row loop would load and store it around every value. */
static __attribute__((noinline)) uint8_t *out_grow(rc_buf_t *o, uint8_t *q, size_t need) {
    o->len = (size_t)(q - (uint8_t *)o->data);
    if (rc_buf_reserve(o, need) != RC_OK) {
        return NULL;
    }
    return (uint8_t *)o->data + o->len;
}

#define OUT_ROOM(need)                                                                             \
    do {                                                                                           \
        if (!lean && (size_t)(lim - q) < (need)) {                                                 \
            if (!(q = out_grow(o, q, (need)))) {                                                   \
                goto nomem;                                                                        \
            }                                                                                      \
            lim = (uint8_t *)o->data + o->cap;                                                     \
        }                                                                                          \
    } while (0)

/* A fixed-size value (ops RC_OP_DECIMAL on) of n bytes: checked against the image, its name
 * written; p moves past it after the switch (by fixed). Room was made for it with the image's
 * (tm->row_room). The ops of one size for every column (RC_OP_INT32: 4 bytes, as column_kind
 * sizes them) give it as a constant: no load of the column's size, no add of a variable. */
#define FIXED_VALUE(n)                                                                             \
    do {                                                                                           \
        fixed = (n);                                                                               \
        if (!fast && (size_t)(end - p) < fixed) {                                                  \
            goto short_value;                                                                      \
        }                                                                                          \
        v = c_name_s(q, names, c, short_names);                                                    \
    } while (0)

/* c_strbin out of line, for the values of 256 bytes or more of a string op: inlined, GCC
 * computed their big-endian length in the common path of each op, before its tests of n. */
static __attribute__((noinline)) uint8_t *c_strbin_long(uint8_t *q, const void *p, uint32_t n,
                                                        bool bin) {
    return c_strbin(q, p, n, bin);
}

/* The bytes from s to d up to e (e > d), in 64-byte blocks: reads and writes up to 63 bytes
 * past them, which the caller makes sure are readable (the event's bytes after a value) and
 * writable (the room made for a row). For a value of 32 to 255 bytes, in place of a memcpy
 * call (or the rep movsq GCC expands it to when it knows n < 256), which cost more than the
 * one to four blocks of moves. */
static inline __attribute__((always_inline)) void copy_blocks(uint8_t *d, const uint8_t *s,
                                                              const uint8_t *e) {
    /* the first two blocks by tests of the end, not by the loop's pointer steps */
    memcpy(d, s, 64);
    if (d + 64 >= e) {
        return;
    }
    memcpy(d + 64, s + 64, 64);
    for (d += 128, s += 128; d < e; d += 64, s += 64) {
        memcpy(d, s, 64);
    }
}

/* A length-prefixed value of a string op (RC_OP_STR1 .. RC_OP_BIN): lb bytes of length, then
 * the bytes, written as str (bin for bytes). One copy per op, so that lb and bin are constants
 * where the op gives them (a test of the op per value, and of lb, was a tenth of a string's
 * cost); ends with goto next. */
#define STRING_VALUE(lb_, bin_)                                                                    \
    do {                                                                                           \
        const unsigned lb = (lb_);                                                                 \
        const bool bin = (bin_);                                                                   \
        if (!fast && (size_t)(end - p) < lb) {                                                     \
            return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside its length");              \
        }                                                                                          \
        uint32_t n = lb == 1 ? p[0] : lb == 2 ? rc_le16(p) : lb == 3 ? rc_le24(p) : rc_le32(p);    \
        const uint8_t *d = p + lb;                                                                 \
        size_t avail = (size_t)(end - d);                                                          \
        if (fast ? avail < (size_t)n + c[1].need : avail < n) {                                    \
            if (fast) {                                                                            \
                return lean ? RC_LEAN_BAIL : short_image(x, c, p, end);                            \
            }                                                                                      \
            return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside the value");               \
        }                                                                                          \
        p = d + n;                                                                                 \
        OUT_ROOM(row_room + (size_t)n + 5 + 32);                                                   \
        v = c_name_s(q, names, c, short_names);                                                    \
        if (n < 32) {                                                                              \
            uint8_t *w = v;                                                                        \
            if (!bin) {                                                                            \
                *w++ = (uint8_t)(0xa0 | n);                                                        \
            } else {                                                                               \
                w[0] = 0xc4;                                                                       \
                w[1] = (uint8_t)n;                                                                 \
                w += 2;                                                                            \
            }                                                                                      \
            q = w + n;                                                                             \
            if (avail >= 32) {                                                                     \
                /* 32 readable bytes in the event: one fixed-size copy instead of a memcpy call */ \
                memcpy(w, d, 32);                                                                  \
            } else {                                                                               \
                memcpy(w, d, n);                                                                   \
            }                                                                                      \
        } else if (n < 256) {                                                                      \
            /* str 8 or bin 8: a test of n < 32 fewer than one writer of both (fixstr) */          \
            v[0] = bin ? 0xc4 : 0xd9;                                                              \
            v[1] = (uint8_t)n;                                                                     \
            uint8_t *w = v + 2;                                                                    \
            q = w + n;                                                                             \
            if (avail >= ((n + 64) & ~63u)) { /* n + 1 to 64: a block whatever n */                \
                copy_blocks(w, d, q);                                                              \
            } else {                                                                               \
                memcpy(w, d, n);                                                                   \
            }                                                                                      \
        } else {                                                                                   \
            q = c_strbin_long(v, d, n, bin);                                                       \
        }                                                                                          \
        goto next;                                                                                 \
    } while (0)

/* One row image at *pp (npresent of the table's columns, present says which), read and
 * written in one pass as a msgpack map at the end of o: per column, its packed name and its
 * value, by the column's op. Values of RC_OP_OTHER columns go through their slot (general_value,
 * which may render into scratch); primary-key columns record where their value is in o, for
 * the key. all_present says every column is in the image. *pp moves past the image. Errors are
 * complete; o is then half-written, and the caller drops the row.
 * Room: the image starts with room for every column's name and fixed-size value
 * (tm->row_room); a length-prefixed or general value asks for its own bytes plus row_room, so
 * whatever follows it still fits. */
static inline __attribute__((always_inline)) rc_err_t
emit_columns(rowctx_t *x, rc_buf_t *o, const uint8_t *present, uint32_t npresent, bool all_present,
             const uint8_t *nulls, uint8_t anynull, bool fast, bool lean, bool short_names,
             const uint8_t *p, const uint8_t **pp, const uint8_t *end, rc_slot_t *slots);

/* The error of an image of every column and no NULL that is shorter than its columns'
 * rc_col_t.need, from column c at p on: the columns up to the next RC_OP_OTHER one are read as
 * the general copy of emit_columns reads them, to the value the image ends in, and its error is
 * the general copy's (a malformed DECIMAL before it included). */
static __attribute__((noinline, cold)) rc_err_t short_image(rowctx_t *x, const rc_col_t *c,
                                                            const uint8_t *p, const uint8_t *end) {
    for (; c->op != RC_OP_OTHER && c->op != RC_OP_END; c++) {
        size_t avail = (size_t)(end - p);
        if (c->op <= RC_OP_BIN) {
            unsigned lb = c->lenbytes;
            if (avail < lb) {
                return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside its length");
            }
            uint32_t n = (uint32_t)rc_le(p, lb);
            if (avail - lb < n) {
                return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside the value");
            }
            p += lb + n;
            continue;
        }
        if (avail < c->size) {
            return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside the value");
        }
        char text[RC_BINLOG_TEXT_MAX];
        if (c->op == RC_OP_DECIMAL && rc_binlog_fmt_decimal_l(p, &c->dec, text) == 0) {
            return col_err(x, c, RC_ERR_INVALID, "malformed DECIMAL bytes");
        }
        p += c->size;
    }
    /* not reached: need counts no more than these columns hold */
    return rc_binlog_everr(x->b, x->errstr, x->errstr_size, RC_ERR_TRUNCATED,
                           "row image of %s.%s ends inside a value", x->tm->schema, x->tm->table);
}

/* emit_image, inlined where a row has one image: an insert's after image is read in the rows
 * loop itself (no call, no arguments on the stack, no second prologue per row), at the price of
 * a third copy of the column loop in rc_binlog_rows (its text 8.6 -> 19.4 KB with GCC 12 -O2);
 * updates and deletes call emit_image. */
static inline __attribute__((always_inline)) rc_err_t
emit_image_inl(rowctx_t *x, rc_buf_t *o, const uint8_t *present, uint32_t npresent,
               bool all_present, const uint8_t **pp, const uint8_t *end, rc_slot_t *slots) {
    const rc_tmap_t *tm = x->tm;
    const uint8_t *p = *pp;
    size_t nb = (npresent + 7) / 8;
    if ((size_t)(end - p) < nb) {
        return rc_binlog_everr(x->b, x->errstr, x->errstr_size, RC_ERR_TRUNCATED,
                               "row image of %s.%s ends inside its null bitmap", tm->schema,
                               tm->table);
    }
    const uint8_t *nulls = p;
    /* most images hold no NULL: then the loop skips the bitmap (the bits past the last
     * column are set by MySQL, and do not count) */
    uint8_t anynull;
    if (nb == 1) {
        anynull = nulls[0] & (uint8_t)(0xffu >> ((8 - npresent % 8) % 8));
    } else if (nb <= 8 && (size_t)(end - p) >= 8) {
        /* 9 to 64 columns, with 8 bytes to read in the event: one load, masked to the
         * columns' bits (column k is bit k), not the bytes after the bitmap */
        uint64_t m = npresent >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << npresent) - 1;
        anynull = (rc_le64(p) & m) != 0;
    } else {
        anynull = 0;
        for (size_t j = 0; j + 1 < nb; j++) {
            anynull |= nulls[j];
        }
        if (nb > 0) {
            anynull |= nulls[nb - 1] & (uint8_t)(0xffu >> ((8 - npresent % 8) % 8));
        }
    }
    p += nb;
    /* the common image (every column, no NULL) by a copy of the loop without those checks,
     * nor one of its length per fixed-size value (rc_col_t.need) */
    if (all_present && !anynull) {
        return emit_columns(x, o, present, npresent, true, nulls, 0, true, false, false, p, pp, end,
                            slots);
    }
    return emit_columns(x, o, present, npresent, all_present, nulls, anynull, false, false, false,
                        p, pp, end, slots);
}

/* emit_image_inl out of line, for the images of updates and deletes. */
static __attribute__((noinline)) rc_err_t emit_image(rowctx_t *x, rc_buf_t *o,
                                                     const uint8_t *present, uint32_t npresent,
                                                     bool all_present, const uint8_t **pp,
                                                     const uint8_t *end, rc_slot_t *slots) {
    return emit_image_inl(x, o, present, npresent, all_present, pp, end, slots);
}

/* emit_image's loop over the columns, from p (past the null bitmap nulls). Inlined into it
 * twice, once with all_present, no NULLs and fast as constants. */
static inline __attribute__((always_inline)) rc_err_t
emit_columns(rowctx_t *x, rc_buf_t *o, const uint8_t *present, uint32_t npresent, bool all_present,
             const uint8_t *nulls, uint8_t anynull, bool fast, bool lean, bool short_names,
             const uint8_t *p, const uint8_t **pp, const uint8_t *end, rc_slot_t *slots) {
    const rc_tmap_t *tm = x->tm;
    /* in locals: the stores into the output may alias anything, so fields read through x and
     * tm would be loaded again after each of them */
    const rc_col_t *cols = tm->cols;
    const char *names = tm->packed_names.data;
    const uint8_t *partial = x->partial;
    uint32_t ncols = tm->ncols, k = 0;
    size_t row_room = tm->row_room;
    const rc_col_t *c = cols; /* the column at hand, also for short_value */
    uint8_t *q = (uint8_t *)o->data + o->len, *lim = (uint8_t *)o->data + o->cap;
    OUT_ROOM(5 + row_room);
    if (!lean) { /* the lean loop's head holds the map header (rc_binlog_t.ev_image_len) */
        q = c_container(q, npresent, true);
    }
    /* by pointers, with no index to keep: the loop's own cost is paid per column */
    rc_slot_t *s = slots;
    const rc_col_t *cend = cols + ncols;
    /* fast: the copy for images of every column and no NULL (all_present, !anynull); the
     * bytes of every fixed-size value up to the first of variable size are checked here at
     * once, the next ones where it ends */
    if (fast && (size_t)(end - p) < c->need) {
        return lean ? RC_LEAN_BAIL : short_image(x, c, p, end);
    }
    for (;; c++, s++) {
        /* the copy for images of every column and no NULL reads no bitmap: its loop ends at
         * the column past the last (RC_OP_END), with no bound check per column */
        if (!fast && c == cend) {
            break;
        }
        uint32_t i = (uint32_t)(c - cols);
        if (!all_present && !(present[i >> 3] & (1u << (i & 7)))) {
            s->state = RC_SLOT_ABSENT; /* what json_diffs reads of a before image */
            s->out_len = 0;
            continue;
        }
        uint8_t *v;
        if (anynull) {
            bool isnull = (nulls[k >> 3] & (1u << (k & 7))) != 0;
            k++;
            if (isnull) {
                v = c_name_s(q, names, c, short_names);
                s->state = RC_SLOT_NULL;
                *v = 0xc0;
                q = v + 1;
                goto next;
            }
        }
        uint32_t fixed; /* FIXED_VALUE */
        char *t;        /* temporal text, see c_ext_text */
        switch ((rc_op_t)c->op) {
        case RC_OP_STR1:
            STRING_VALUE(1, false);
        case RC_OP_STR2:
            STRING_VALUE(2, false);
        case RC_OP_STR:
            STRING_VALUE(c->lenbytes, false);
        case RC_OP_BIN:
            STRING_VALUE(c->lenbytes, true);
        case RC_OP_OTHER: {
            if (lean) {
                return RC_LEAN_BAIL; /* not a lean table's (rc_tmap_t.lean) */
            }
            s->scratch = false;
            /* PARTIAL_UPDATE_ROWS: the bit of the column among the table's JSON columns */
            bool diffs =
                partial && c->type == RC_T_JSON && ((partial[c->jidx >> 3] >> (c->jidx & 7)) & 1);
            const uint8_t *gp = p; /* p's address not taken: it stays in a register */
            rc_err_t err = general_value(x, c, i, diffs, s, &gp, end);
            if (err != RC_OK) {
                return err;
            }
            p = gp;
            if (fast && (size_t)(end - p) < c[1].need) {
                return short_image(x, c + 1, p, end);
            }
            rc_slot_t sv = *s; /* s keeps the scratch offset, for json_diffs */
            if (sv.scratch) {
                /* scratch is still unallocated when every converted value was empty */
                sv.p = x->b->scratch.data ? (const uint8_t *)x->b->scratch.data + sv.u
                                          : (const uint8_t *)"";
            }
            OUT_ROOM(row_room + value_room(&sv));
            v = c_name_s(q, names, c, short_names);
            q = c_value(v, c, &sv);
            goto next;
        }
        case RC_OP_DECIMAL: {
            FIXED_VALUE(c->size);
            /* inline in the lean loop: the call was a fifth of a small DECIMAL's cost */
            size_t len = lean ? rc_binlog_fmt_decimal_inl(p, &c->dec, (char *)v + 3)
                              : rc_binlog_fmt_decimal_l(p, &c->dec, (char *)v + 3);
            if (len == 0) {
                return lean ? RC_LEAN_BAIL
                            : col_err(x, c, RC_ERR_INVALID, "malformed DECIMAL bytes");
            }
            q = c_ext_text(v, RC_EXT_DECIMAL, len);
            break;
        }
        case RC_OP_INT8:
            FIXED_VALUE(1);
            q = c_int(v, (int8_t)p[0]);
            break;
        case RC_OP_UINT8:
            FIXED_VALUE(1);
            q = c_uint(v, p[0]);
            break;
        case RC_OP_INT16:
            FIXED_VALUE(2);
            q = c_int(v, (int16_t)rc_le16(p));
            break;
        case RC_OP_UINT16:
            FIXED_VALUE(2);
            q = c_uint(v, rc_le16(p));
            break;
        case RC_OP_INT24: {
            FIXED_VALUE(3);
            int32_t i24 = (int32_t)rc_le24(p);
            q = c_int(v, (i24 & 0x800000) ? i24 - 0x1000000 : i24);
            break;
        }
        case RC_OP_UINT24:
            FIXED_VALUE(3);
            q = c_uint(v, rc_le24(p));
            break;
        case RC_OP_INT32:
            FIXED_VALUE(4);
            q = c_int(v, (int32_t)rc_le32(p));
            break;
        case RC_OP_UINT32:
            FIXED_VALUE(4);
            q = c_uint(v, rc_le32(p));
            break;
        case RC_OP_INT64:
            FIXED_VALUE(8);
            q = c_int(v, (int64_t)rc_le64(p));
            break;
        case RC_OP_UINT64:
            FIXED_VALUE(8);
            q = c_uint(v, rc_le64(p));
            break;
        case RC_OP_FLOAT:
            FIXED_VALUE(4);
            q = c_float_bits(v, rc_le32(p));
            break;
        case RC_OP_DOUBLE:
            FIXED_VALUE(8);
            q = c_double_bits(v, rc_le64(p));
            break;
        case RC_OP_YEAR:
            FIXED_VALUE(1);
            q = c_uint(v, p[0] ? 1900u + p[0] : 0u);
            break;
        case RC_OP_BIT:
            FIXED_VALUE(c->size);
            q = c_uint(v, rc_be(p, c->size));
            break;
        case RC_OP_DATE: {
            FIXED_VALUE(3);
            t = (char *)v + 3;
            /* "YYYY-MM-DD" here, as rc_binlog_fmt_date writes it (month and day have 4 and 5
             * bits): the call was a fifth of a DATE's cost; a year of 5 digits takes it */
            uint32_t dv = rc_le24(p), year = dv >> 9;
            if (year < 10000) {
                memcpy(t, rc_binlog_pairs + 2 * (year / 100), 2);
                memcpy(t + 2, rc_binlog_pairs + 2 * (year % 100), 2);
                t[4] = '-';
                memcpy(t + 5, rc_binlog_pairs + 2 * ((dv >> 5) & 15), 2);
                t[7] = '-';
                memcpy(t + 8, rc_binlog_pairs + 2 * (dv & 31), 2);
                q = c_ext_text8(v, RC_EXT_DATE, 10);
            } else {
                q = c_ext_text8(v, RC_EXT_DATE, rc_binlog_fmt_date(dv, t));
            }
            break;
        }
        case RC_OP_TIME:
            FIXED_VALUE(3);
            t = (char *)v + 3;
            q = c_ext_text(v, RC_EXT_TIME, rc_binlog_fmt_old_time(p, t));
            break;
        case RC_OP_TIME2:
            FIXED_VALUE(c->size);
            t = (char *)v + 3;
            q = c_ext_text(v, RC_EXT_TIME, rc_binlog_fmt_time(p, c->fsp, t));
            break;
        case RC_OP_DATETIME:
            FIXED_VALUE(8);
            t = (char *)v + 3;
            q = c_ext_text8(v, RC_EXT_DATETIME, rc_binlog_fmt_old_datetime(p, t));
            break;
        case RC_OP_DATETIME2:
            FIXED_VALUE(c->size);
            t = (char *)v + 3;
            q = c_ext_text8(v, RC_EXT_DATETIME, rc_binlog_fmt_datetime2(p, c->fsp, t));
            break;
        case RC_OP_TIMESTAMP:
            FIXED_VALUE(4);
            t = (char *)v + 3;
            q = c_ext_text8(v, RC_EXT_TIMESTAMP, rc_binlog_fmt_old_timestamp(p, t));
            break;
        case RC_OP_TIMESTAMP2:
            FIXED_VALUE(c->size);
            t = (char *)v + 3;
            q = c_ext_text8(v, RC_EXT_TIMESTAMP, rc_binlog_fmt_timestamp2(p, c->fsp, t));
            break;
        case RC_OP_END:
            goto done;
        default:
            /* column_op gives only the ops above: no range check before the jump */
            __builtin_unreachable();
        }
        p += fixed; /* the fixed-size ops */
    next:
        if (!lean && c->pk) { /* lean_inserts finds the key's value by the lengths before it */
            s->out_off = (size_t)(v - (uint8_t *)o->data);
            s->out_len = (size_t)(q - v);
        }
    }
done:
    o->len = (size_t)(q - (uint8_t *)o->data);
    *pp = p;
    return RC_OK;
short_value:
    return col_err(x, c, RC_ERR_TRUNCATED, "the row ends inside the value");
nomem:
    return rc_binlog_everr(x->b, x->errstr, x->errstr_size, RC_ERR_NOMEM, "out of memory");
}

/* Where the value of primary-key column i is in the row's output: from first, else second when
 * first did not carry it (out_len 0 when neither did). */
static inline const rc_slot_t *key_slot(const rc_slot_t *first, const rc_slot_t *second,
                                        uint32_t i) {
    return first[i].out_len == 0 && second ? &second[i] : &first[i];
}

/* A key value of n bytes (0: nil) at q, copied from off in the same row's output data. A
 * number or short text (nearly every key) takes one fixed-size copy: its bytes were written
 * before the "meta" fragment, far more than 16 bytes before q, so the two never overlap. */
static inline __attribute__((always_inline)) uint8_t *c_key_value(uint8_t *q, const uint8_t *data,
                                                                  size_t off, size_t n) {
    if (n == 0) {
        *q = 0xc0;
        return q + 1;
    }
    if (n <= 16) {
        memcpy(q, data + off, 16);
    } else {
        memcpy(q, data + off, n);
    }
    return q + n;
}

/* A fragment of n bytes at src (an event's head or meta, a table's packed tail: every row
 * copies them) to q, by fixed-size copies the compiler inlines as a few vector moves when n is
 * at most RC_FRAG_SLACK, instead of a memcpy call with its size dispatch (which cost about as
 * much again as the moves). Reads and writes up to RC_FRAG_SLACK bytes whatever n: the
 * fragments keep that much room after their length (rc_buf_reserve), and the caller makes
 * room for it in the output, whose bytes past the row's length are not the row's. */
static inline __attribute__((always_inline)) uint8_t *c_frag(uint8_t *q, const void *src,
                                                             size_t n) {
    if (n <= 64) {
        memcpy(q, src, 64);
    } else if (n <= 128) {
        memcpy(q, src, 128);
    } else if (n <= RC_FRAG_SLACK) {
        memcpy(q, src, RC_FRAG_SLACK);
    } else {
        memcpy(q, src, n);
    }
    return q + n;
}

/* c_frag for an event's meta fragment, nearly always of 129 to 192 bytes (its names alone are
 * about 110): that class first, by one unsigned compare, where c_frag tests two classes
 * before it. */
static inline __attribute__((always_inline)) uint8_t *c_frag_meta(uint8_t *q, const void *src,
                                                                  size_t n) {
    if (n - 129 < RC_FRAG_SLACK - 128) {
        memcpy(q, src, RC_FRAG_SLACK);
        return q + n;
    }
    return c_frag(q, src, n);
}

/* pack_tail for a key of two or more columns. */
static __attribute__((noinline)) int pack_tail_multi(rc_buf_t *o, const rc_buf_t *meta,
                                                     const rc_tmap_t *tm, const rc_slot_t *first,
                                                     const rc_slot_t *second) {
    size_t room = meta->len + tm->packed_types.len + 1;
    for (uint32_t k = 0; k < tm->npk; k++) {
        uint32_t i = tm->pk[k];
        room += tm->cols[i].pname_len + 16 + key_slot(first, second, i)->out_len + 16;
    }
    uint8_t *q = w_room(o, room);
    if (!q) {
        return -1;
    }
    memcpy(q, meta->data, meta->len); /* with the key's map header and its first name */
    q += meta->len;
    const uint8_t *data = (const uint8_t *)o->data;
    for (uint32_t k = 0; k < tm->npk; k++) {
        uint32_t i = tm->pk[k];
        const rc_slot_t *s = key_slot(first, second, i);
        if (k > 0) {
            q = c_name(q, tm->packed_names.data, &tm->cols[i]);
        }
        q = c_key_value(q, data, s->out_off, s->out_len);
    }
    memcpy(q, tm->packed_types.data, tm->packed_types.len);
    o->len = (size_t)(q + tm->packed_types.len - data);
    return 0;
}

/* The end of a row's event after its last image: the meta fragment (pack_fragments: "meta" up
 * to the key's first value, or for a table without a primary key the whole end), the key's
 * values, and the table's packed tail ("headers" on). The key holds each primary-key column's
 * name and its value as the row's image wrote it (from first, else second when first did not
 * carry it; nil when neither did). A key of one column, nearly every table's, takes three
 * copies after one reservation. */
static inline __attribute__((always_inline)) int pack_tail(rc_buf_t *o, const rc_buf_t *meta,
                                                           const rc_tmap_t *tm,
                                                           const rc_slot_t *first,
                                                           const rc_slot_t *second) {
    if (tm->npk == 0) {
        uint8_t *q = w_room(o, meta->len + RC_FRAG_SLACK);
        if (!q) {
            return -1;
        }
        c_frag(q, meta->data, meta->len);
        o->len += meta->len;
        return 0;
    }
    if (tm->npk > 1) {
        return pack_tail_multi(o, meta, tm, first, second);
    }
    const rc_slot_t *s = key_slot(first, second, tm->pk[0]);
    size_t n = s->out_len, off = s->out_off, ml = meta->len, tl = tm->packed_types.len;
    uint8_t *q = w_room(o, ml + n + 16 + tl + RC_FRAG_SLACK);
    if (!q) {
        return -1;
    }
    q = c_frag_meta(q, meta->data, ml);
    const uint8_t *data = (const uint8_t *)o->data;
    q = c_key_value(q, data, off, n);
    q = c_frag(q, tm->packed_types.data, tl);
    o->len = (size_t)(q - data);
    return 0;
}

/* Images of up to this many bytes to the event's end take the lean loop: it makes room for a
 * row once, for a bound that counts the rest of the event (see lean_inserts). */
#define RC_LEAN_MAX_REST (1u << 20)

/* mp_len of a str, bin or ext 8/16/32 (heads 0xc4-0xc9, 0xd9-0xdb). */
static __attribute__((noinline)) size_t mp_len_var(const uint8_t *v) {
    switch (v[0]) {
    case 0xc4: /* bin 8, str 8 */
    case 0xd9:
        return 2 + (size_t)v[1];
    case 0xc5: /* bin 16, str 16 */
    case 0xda:
        return 3 + (size_t)rc_be(v + 1, 2);
    case 0xc6: /* bin 32, str 32 */
    case 0xdb:
        return 5 + (size_t)rc_be(v + 1, 4);
    case 0xc7: /* ext 8, 16, 32 */
        return 3 + (size_t)v[1];
    case 0xc8:
        return 4 + (size_t)rc_be(v + 1, 2);
    default:
        return 6 + (size_t)rc_be(v + 1, 4);
    }
}

/* The length of the msgpack object at v, one of the forms emit_columns' ops write (a number,
 * nil, str, bin or ext; no map or array): by a table of every head (0: a length follows the
 * head), one load where a fixint, fixstr or fixed-size form took up to three tests. */
static inline __attribute__((always_inline)) size_t mp_len(const uint8_t *v) {
    /* the heads in rows of 16 */
    /* clang-format off */
    static const uint8_t lens[256] = {
        [0x00 ... 0x9f] = 1, /* positive fixint (and fixmap, fixarray: not written) */
        [0xa0] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* fixstr: head, bytes */
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
        [0xc0] = 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 5, 9, 2, 3, 5, 9, /* nil .. ext 32, float, uint */
        2, 3, 5, 9, 3, 4, 6, 10, 18, 0, 0, 0, 1, 1, 1, 1,       /* int, fixext, str, array, map */
        [0xe0 ... 0xff] = 1,                                   /* negative fixint */
    };
    /* clang-format on */
    size_t n = lens[v[0]];
    return n ? n : mp_len_var(v);
}

/* The rows of a lean table (rc_tmap_t.lean), from *pp on, as long as each row's images hold
 * every column and no NULL: each row's whole event in one pass, after one reservation per row
 * for all it can write (so no value checks for room), handed over as rc_binlog_rows does (sb's
 * size moved, or pk's callback). The key's value is found after its image (an update's after
 * image, any other's only one) by the lengths of the names and values before it (no column
 * records where it wrote its value). Stops, with *pp at the row, at the first row it does not
 * take or that is not well-formed: the general loop then writes that row (or reports its
 * error) as it writes any. Returns RC_OK, or the packer's failure. short_names:
 * rc_tmap_t.short_names; action: 0 insert, 1 update (not PARTIAL_UPDATE_ROWS), 2 delete; both
 * constants in each copy. */
static inline __attribute__((always_inline)) rc_err_t
lean_rows(rowctx_t *x, rc_buf_t *o, msgpack_sbuffer *sb, msgpack_packer *pk, const uint8_t **pp,
          const uint8_t *end, rc_binlog_info_t *info, bool short_names, int action) {
    rc_binlog_t *b = x->b;
    const rc_tmap_t *tm = x->tm;
    uint32_t ncols = tm->ncols;
    const uint8_t *p = *pp;
    const uint8_t *head = (const uint8_t *)b->ev_head.data;
    const uint8_t *meta = (const uint8_t *)b->ev_meta.data;
    const uint8_t *tail = (const uint8_t *)tm->packed_types.data;
    size_t hl = b->ev_image_len, ml = b->ev_meta.len, tl = tm->packed_types.len;
    uint32_t pk0 = tm->npk ? tm->pk[0] : 0;
    bool keyed = tm->npk != 0; /* a local: tm's fields are loaded again after each store */
    /* the first value from the row's start: past the head with the image's map header and the
     * first column's name; for a key not first, the names and values of the columns before it
     * come next */
    size_t name0 = tm->cols[0].pname_len, key_off = hl + name0;
    /* room for a row but for the image's variable bytes: each fragment with the slack c_frag
     * writes, the map header, names and fixed-size values (row_room), each length-prefixed
     * value's header and the 63 bytes copy_blocks may write past it, and the key's copy */
    size_t image_room = 5 + tm->row_room + (size_t)tm->nvar * 69;
    size_t room = hl + ml + tl + 3 * RC_FRAG_SLACK + image_room + FIXED_ROOM + 16;
    /* between an update's or a delete's images (the head holds the first's map header):
     * "after" with its array's header, and an update's after image's map header */
    uint8_t mid[16] = {0};
    size_t mid_len = 0;
    if (action != 0) {
        uint8_t *m = C_LIT(mid, "after");
        *m++ = action == 2 ? 0x90 : 0x91;
        if (action == 1) {
            m = c_container(m, ncols, true);
        }
        mid_len = (size_t)(m - mid);
        room += sizeof(mid) + (action == 1 ? image_room : 0);
    }
    size_t nb = (ncols + 7) / 8;
    uint64_t mask = ncols >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << ncols) - 1;
    int rows = 0; /* added to info once, at the end */
    while (p < end) {
        size_t rest = (size_t)(end - p);
        /* the null bitmap in one 8-byte load (ncols <= 64), masked to the columns' bits */
        if (rest > RC_LEAN_MAX_REST || rest < 8 || (rc_le64(p) & mask) != 0) {
            break;
        }
        if (!sb) {
            rc_buf_reset(o);
        }
        /* the image's variable bytes are fewer than rest, and so are those of a
         * length-prefixed key's value, copied again */
        size_t start = o->len, need = room + 2 * rest;
        if (o->cap - start < need) {
            if (rc_buf_reserve(o, need) != RC_OK) {
                break; /* the general loop reports it */
            }
            if (sb) {
                sb->data = o->data;
                sb->alloc = o->cap;
            }
        }
        uint8_t *data = (uint8_t *)o->data;
        c_frag(data + start, head, hl); /* with the (first) image's map header */
        o->len = start + hl;
        const uint8_t *ip = p + nb;
        rc_err_t err = emit_columns(x, o, NULL, ncols, true, NULL, 0, true, true, short_names, ip,
                                    &ip, end, b->after);
        if (err != RC_OK) {
            o->len = start;
            break;
        }
        uint8_t *q = data + o->len;
        size_t key_at = start + key_off; /* the key's image's first value */
        if (action != 0) {
            memcpy(q, mid, sizeof(mid));
            q += mid_len;
        }
        if (action == 1) {
            /* the after image: its null bitmap as the before image's, at ip (the row's room
             * counts both images) */
            if ((size_t)(end - ip) < 8 || (rc_le64(ip) & mask) != 0) {
                o->len = start;
                break;
            }
            o->len = (size_t)(q - data);
            key_at = o->len + name0;
            ip += nb;
            err = emit_columns(x, o, NULL, ncols, true, NULL, 0, true, true, short_names, ip, &ip,
                               end, b->after);
            if (err != RC_OK) {
                o->len = start;
                break;
            }
            q = data + o->len;
        }
        if (keyed) {
            const uint8_t *kv = data + key_at;
            for (uint32_t k = 0; k < pk0; k++) {
                kv += mp_len(kv) + tm->cols[k + 1].pname_len;
            }
            size_t kn = mp_len(kv);
            q = c_frag_meta(q, meta, ml);
            /* never nil: a value is at least its head; its bytes and the meta part's after
             * them are written, so 16 of them readable */
            if (kn <= 16) {
                memcpy(q, kv, 16);
            } else {
                memcpy(q, kv, kn);
            }
            q += kn;
            q = c_frag(q, tail, tl);
        } else {
            q = c_frag_meta(q, meta, ml); /* with the nil key and the tail (pack_fragments) */
        }
        o->len = (size_t)(q - data);
        p = ip;
        if (sb) {
            sb->size = o->len;
        } else if (pk->callback(pk->data, o->data, o->len) != 0) {
            *pp = p;
            if (info) {
                info->rows += rows;
            }
            return rc_binlog_everr(b, x->errstr, x->errstr_size, RC_ERR_NOMEM,
                                   "the msgpack packer failed (out of memory)");
        }
        rows++;
    }
    *pp = p;
    if (info) {
        info->rows += rows;
    }
    return RC_OK;
}

/* lean_rows for each action, for tables whose every column name is of 16 bytes at most and for
 * any other. */
#define LEAN_ROWS_FN(name, short_names, action)                                                    \
    static __attribute__((noinline)) rc_err_t name(rowctx_t *x, rc_buf_t *o, msgpack_sbuffer *sb,  \
                                                   msgpack_packer *pk, const uint8_t **pp,         \
                                                   const uint8_t *end, rc_binlog_info_t *info) {   \
        return lean_rows(x, o, sb, pk, pp, end, info, short_names, action);                        \
    }
LEAN_ROWS_FN(lean_inserts_short, true, 0)
LEAN_ROWS_FN(lean_inserts, false, 0)
LEAN_ROWS_FN(lean_updates_short, true, 1)
LEAN_ROWS_FN(lean_updates, false, 1)
LEAN_ROWS_FN(lean_deletes_short, true, 2)
LEAN_ROWS_FN(lean_deletes, false, 2)

typedef rc_err_t (*lean_fn_t)(rowctx_t *x, rc_buf_t *o, msgpack_sbuffer *sb, msgpack_packer *pk,
                              const uint8_t **pp, const uint8_t *end, rc_binlog_info_t *info);
/* by action, then rc_tmap_t.short_names */
static const lean_fn_t lean_fns[3][2] = {{lean_inserts, lean_inserts_short},
                                         {lean_updates, lean_updates_short},
                                         {lean_deletes, lean_deletes_short}};

static rc_err_t ensure_slots(rc_binlog_t *b, uint32_t n) {
    if (n <= b->slots_cap) {
        return RC_OK;
    }
    uint32_t cap = 64;
    while (cap < n) {
        cap *= 2;
    }
    rc_slot_t *nb = realloc(b->before, cap * sizeof(*nb));
    if (!nb) {
        return RC_ERR_NOMEM;
    }
    b->before = nb;
    rc_slot_t *na = realloc(b->after, cap * sizeof(*na));
    if (!na) {
        return RC_ERR_NOMEM;
    }
    b->after = na;
    b->slots_cap = cap;
    return RC_OK;
}

/* Set bits among the first n of bits: a byte at a time (bit by bit, the two counts of a rows
 * event were ten instructions per row of a 20-column table). */
static uint32_t popcount_bits(const uint8_t *bits, uint32_t n) {
    uint32_t c = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        c += (uint32_t)__builtin_popcount(bits[i >> 3]);
    }
    if (i < n) {
        c += (uint32_t)__builtin_popcount(bits[i >> 3] & ((1u << (n - i)) - 1));
    }
    return c;
}

/* c_strbin of a str, its bytes by two overlapping fixed-size copies up to 32 bytes (names,
 * a GTID, a binlog file's name): pack_fragments' seven memcpy calls were a quarter of its cost.
 * Writes only the value's bytes. */
static inline __attribute__((always_inline)) uint8_t *c_str_small(uint8_t *q, const char *p,
                                                                  uint32_t n) {
    if (n > 32) {
        return c_strbin(q, p, n, false);
    }
    uint8_t *d = q + 1;
    if (n < 32) {
        q[0] = (uint8_t)(0xa0 | n);
    } else { /* str 8 */
        q[0] = 0xd9;
        q[1] = 32;
        d++;
    }
    if (n >= 16) {
        memcpy(d, p, 16);
        memcpy(d + n - 16, p + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, p, 8);
        memcpy(d + n - 8, p + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, p, 4);
        memcpy(d + n - 4, p + n - 4, 4);
    } else if (n > 0) {
        d[0] = (uint8_t)p[0];
        d[n / 2] = (uint8_t)p[n / 2];
        d[n - 1] = (uint8_t)p[n - 1];
    }
    return d + n;
}

/* Packs the parts of an event that are the same for every row of one rows event (rc_event.h):
 * ev_head from the map header to the "before" key and its array's header, and for an insert
 * (no before image) on to the "after" key and its array's header, where the image starts;
 * ev_meta from the "meta" key to the "key" key and the key's map header with its first
 * column's name, or for a table without a primary key the nil key and the table's packed tail
 * too (pack_tail). */
static int pack_fragments(rc_binlog_t *b, const rc_tmap_t *tm, const rc_binlog_header_t *h,
                          const char *action, bool insert, const char *gtid, size_t gtid_len,
                          size_t file_len, size_t pipe_len) {
    /* with the inline writers: through the packer, its per-piece calls were a tenth of a
     * small table's row when a rows event holds a few dozen rows */
    rc_buf_reset(&b->ev_head);
    rc_buf_reset(&b->ev_meta);
    size_t alen = strlen(action);
    uint8_t *q = w_room(&b->ev_head, 75 + tm->schema_len + tm->table_len + alen);
    if (!q) {
        return -1;
    }
    q = c_container(q, 7, true);
    q = c_str_small(C_LIT(q, "schema"), tm->schema, tm->schema_len);
    q = c_str_small(C_LIT(q, "table"), tm->table, tm->table_len);
    q = c_str_small(C_LIT(q, "action"), action, (uint32_t)alen);
    q = C_LIT(q, "before");
    *q++ = insert ? 0x90 : 0x91;
    if (insert) {
        q = C_LIT(q, "after");
        *q++ = 0x91;
    }
    b->ev_head.len = (size_t)(q - (uint8_t *)b->ev_head.data);
    /* lean_rows copies the first image's map header (every column) with the head: its bytes
     * follow the head's, out of its length, which the general loop copies */
    b->ev_image_len = (size_t)(c_container(q, tm->ncols, true) - (uint8_t *)b->ev_head.data);
    uint32_t pk0 = tm->npk ? tm->pk[0] : 0;
    size_t end_len = tm->npk ? tm->cols[pk0].pname_len + 16 : 1 + tm->packed_types.len;
    q = w_room(&b->ev_meta, 160 + pipe_len + gtid_len + file_len + tm->topic.len + end_len);
    if (!q) {
        return -1;
    }
    q = c_container(C_LIT(q, "meta"), 7, true);
    q = c_str_small(C_LIT(q, "pipeline"), b->pipeline, (uint32_t)pipe_len);
    q = c_uint(C_LIT(q, "timestamp"), b->now_us);
    q = C_LIT(q, "gtid");
    if (gtid_len) {
        q = c_str_small(q, gtid, (uint32_t)gtid_len);
    } else {
        *q++ = 0xc0;
    }
    q = c_str_small(C_LIT(q, "binlog_file"), b->file, (uint32_t)file_len);
    q = c_uint(C_LIT(q, "binlog_pos"), b->ev_pos);
    q = c_uint(C_LIT(q, "server_id"), h->server_id);
    q = c_uint(C_LIT(q, "commit_ts"), h->timestamp);
    q = c_container(C_LIT(q, "kafka"), 4, true);
    q = c_str_small(C_LIT(q, "topic"), tm->topic.data, (uint32_t)tm->topic.len);
    q = C_LIT(q, "key");
    if (tm->npk == 0) {
        *q++ = 0xc0;
        memcpy(q, tm->packed_types.data, tm->packed_types.len);
        q += tm->packed_types.len;
    } else {
        q = c_container(q, tm->npk, true);
        q = c_name(q, tm->packed_names.data, &tm->cols[pk0]);
    }
    b->ev_meta.len = (size_t)(q - (uint8_t *)b->ev_meta.data);
    /* c_frag reads RC_FRAG_SLACK bytes of each whatever its length (w_room: no call when
     * there is room, nearly always) */
    if (!w_room(&b->ev_head, RC_FRAG_SLACK + 3) || !w_room(&b->ev_meta, RC_FRAG_SLACK)) {
        return -1;
    }
    return 0;
}

rc_err_t rc_binlog_rows(rc_binlog_t *b, const rc_binlog_header_t *h, const uint8_t *body,
                        size_t blen, msgpack_packer *pk, rc_binlog_info_t *info, char *errstr,
                        size_t errstr_size) {
    uint8_t t = h->type;
    /* v2 layout: an extra-data block after the post-header (MySQL 30-32, MariaDB 169-171) */
    bool v2 = (t >= RC_EV_WRITE_ROWS_V2 && t <= RC_EV_DELETE_ROWS_V2) ||
              t >= RC_EV_MARIA_WRITE_ROWS_COMPRESSED;
    bool partial = t == RC_EV_PARTIAL_UPDATE_ROWS; /* the v2 update layout, see below */
    v2 = v2 || partial;
    bool compressed = t >= RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1;
    int action; /* 0 ins 1 upd 2 del */
    if (partial) {
        action = 1;
    } else if (t >= RC_EV_MARIA_WRITE_ROWS_COMPRESSED) {
        action = t - RC_EV_MARIA_WRITE_ROWS_COMPRESSED;
    } else if (compressed) {
        action = t - RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1;
    } else {
        action = v2 ? t - RC_EV_WRITE_ROWS_V2 : t - RC_EV_WRITE_ROWS_V1;
    }
    unsigned ph = rc_binlog_post_header(b, t, v2 ? 10 : 8);
    const uint8_t *end = body + blen, *p = body;
    if (blen < ph || ph < 6) {
        goto truncated;
    }
    uint64_t id = ph == 6 ? rc_le32(p) : rc_le48(p);
    p += ph;
    if (v2 && ph >= 10) {
        uint16_t extra = rc_le16(body + 8);
        if (extra < 2 || (size_t)(end - p) < (size_t)extra - 2) {
            goto truncated;
        }
        p += extra - 2;
    }
    uint64_t ncols;
    size_t n = rc_lenenc(p, end, &ncols);
    if (n == 0) {
        goto truncated;
    }
    p += n;
    rc_tmap_t *tm = maps_find(b, id);
    if (!tm) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "rows event for table id %" PRIu64 " has no table map", id);
    }
    if (ncols != tm->ncols) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "rows event for %s.%s has %" PRIu64
                               " columns, its table map %" PRIu32,
                               tm->schema, tm->table, ncols, tm->ncols);
    }
    size_t bm = (tm->ncols + 7) / 8;
    const uint8_t *present1 = p, *present2 = p;
    if ((size_t)(end - p) < bm * (action == 1 ? 2 : 1)) {
        goto truncated;
    }
    p += bm;
    if (action == 1) {
        present2 = p;
        p += bm;
    }
    if (!tm->include) {
        return RC_OK;
    }
    if (compressed) {
        /* log_bin_compress: everything after the column bitmaps, the row images, is one zlib
         * stream; the values then point into the decoder's decompression buffer */
        size_t ulen;
        rc_err_t err = rc_binlog_maria_uncompress(b, p, (size_t)(end - p), "row data", &p, &ulen,
                                                  errstr, errstr_size);
        if (err != RC_OK) {
            return err;
        }
        end = p + ulen;
    }
    if (ensure_slots(b, tm->ncols) != RC_OK) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    uint32_t n1 = popcount_bits(present1, tm->ncols);
    uint32_t n2 = action == 1 ? popcount_bits(present2, tm->ncols) : n1; /* present2 = present1 */
    bool all1 = n1 == tm->ncols, all2 = n2 == tm->ncols;
    /* A row image with no column takes no bytes, so a loop over such rows would never end;
     * servers always log at least one column per image. */
    if (n1 == 0 || (action == 1 && n2 == 0)) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_PROTOCOL,
                               "rows event for %s.%s logs no column in its row image", tm->schema,
                               tm->table);
    }
    static const char *const actions[3] = {RC_ACTION_INSERT, RC_ACTION_UPDATE, RC_ACTION_DELETE};
    const char *gtid = b->gtid;
    size_t gtid_len = strlen(gtid), file_len = strlen(b->file);
    size_t pipe_len = strlen(b->pipeline);
    if (b->now_us == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        b->now_us = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    }
    if (pack_fragments(b, tm, h, actions[action], action == 0, gtid, gtid_len, file_len,
                       pipe_len) != 0) {
        return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    rowctx_t x = {b, tm, errstr, errstr_size, NULL};
    uint32_t njson = 0;
    for (uint32_t i = 0; partial && i < tm->ncols; i++) {
        njson += tm->cols[i].type == RC_T_JSON;
    }
    /* rc_binlog_direct_sbuffer: pk appends to sb with msgpack_sbuffer_write, so rows are
     * written at its end (o is then a view of it) and kept by moving its size */
    msgpack_sbuffer *sb = b->direct_sb && pk->data == b->direct_sb ? b->direct_sb : NULL;
    /* a view of sb, kept across the rows: each whole row moves sb's size to its end */
    rc_buf_t direct = sb ? (rc_buf_t){sb->data, sb->size, sb->alloc} : (rc_buf_t){0};
    /* the lean loop: images of every column (PARTIAL_UPDATE_ROWS has its value options
     * between an update's images) */
    bool lean = tm->lean && all1 && (action != 1 || (all2 && !partial));
    lean_fn_t lean_fn = lean_fns[action][tm->short_names];
    while (p < end) {
        if (lean) {
            rc_buf_t *lo = sb ? &direct : &b->rowbuf;
            rc_err_t err = lean_fn(&x, lo, sb, pk, &p, end, info);
            if (err != RC_OK) {
                return err;
            }
            if (p >= end) {
                break;
            }
        }
        /* The fixed parts of the event were packed once for the whole rows event; the row is
         * read and written into rowbuf (or sb's end) in one pass and handed to the packer in
         * one piece (or kept by moving sb's size), so a bad row leaves nothing behind. */
        rc_buf_t *o = &b->rowbuf;
        if (sb) {
            o = &direct;
        } else {
            rc_buf_reset(o);
        }
        b->scratch.len = 0;
        rc_err_t err = RC_OK;
        /* the event's head to the first image (pack_fragments), then for an update or a
         * delete "after" with its array's header: one reservation each (fixarray of 0 or 1
         * image, fixstr "after") */
        size_t hl = b->ev_head.len;
        uint8_t *q = w_room(o, hl + RC_FRAG_SLACK);
        int r = q ? 0 : -1;
        if (q) {
            c_frag(q, b->ev_head.data, hl);
            o->len += hl;
            if (action != 0) {
                err = emit_image(&x, o, present1, n1, all1, &p, end, b->before);
                if (err == RC_OK && partial) {
                    err = value_options(&x, &p, end, njson);
                }
            }
        }
        if (action == 0) {
            /* "after" is in the head */
        } else if (r == 0 && (q = w_room(o, 7))) {
            q = C_LIT(q, "after");
            *q++ = action == 2 ? 0x90 : 0x91;
            o->len = (size_t)(q - (uint8_t *)o->data);
        } else {
            r = -1;
        }
        if (action != 2) {
            if (r == 0 && err == RC_OK) {
                err = action == 1 ? emit_image(&x, o, present2, n2, all2, &p, end, b->after)
                                  : emit_image_inl(&x, o, present1, n1, all1, &p, end, b->after);
            }
        }
        x.partial = NULL;
        if (err == RC_OK) {
            if (action == 0) {
                r |= pack_tail(o, &b->ev_meta, tm, b->after, NULL);
            } else if (action == 1) {
                r |= pack_tail(o, &b->ev_meta, tm, b->after, b->before);
            } else {
                r |= pack_tail(o, &b->ev_meta, tm, b->before, NULL);
            }
        }
        if (sb) {
            /* sb's bytes may have moved (the row grew them); its size moves only for a whole
             * row */
            sb->data = o->data;
            sb->alloc = o->cap;
            if (r == 0 && err == RC_OK) {
                sb->size = o->len;
            }
        } else if (r == 0 && err == RC_OK) {
            r = pk->callback(pk->data, o->data, o->len);
        }
        if (err != RC_OK) {
            return err;
        }
        if (r != 0) {
            return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_NOMEM,
                                   "the msgpack packer failed (out of memory)");
        }
        if (info) {
            info->rows++;
        }
    }
    return RC_OK;
truncated:
    return rc_binlog_everr(b, errstr, errstr_size, RC_ERR_TRUNCATED, "rows event is truncated");
}
