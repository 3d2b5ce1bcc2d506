/* rc_binlog_int.h: what the binlog decoder's files (rc_binlog*.c) share and nobody else sees:
 * the decoder and table-map structs, column kinds, byte readers. */
#ifndef RC_BINLOG_INT_H
#define RC_BINLOG_INT_H

#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "rc_binlog.h"
#include "rc_buf.h"

/* MySQL column types (binlog / table map codes). */
enum {
    RC_T_DECIMAL = 0,
    RC_T_TINY = 1,
    RC_T_SHORT = 2,
    RC_T_LONG = 3,
    RC_T_FLOAT = 4,
    RC_T_DOUBLE = 5,
    RC_T_NULL = 6,
    RC_T_TIMESTAMP = 7,
    RC_T_LONGLONG = 8,
    RC_T_INT24 = 9,
    RC_T_DATE = 10,
    RC_T_TIME = 11,
    RC_T_DATETIME = 12,
    RC_T_YEAR = 13,
    RC_T_NEWDATE = 14,
    RC_T_VARCHAR = 15,
    RC_T_BIT = 16,
    RC_T_TIMESTAMP2 = 17,
    RC_T_DATETIME2 = 18,
    RC_T_TIME2 = 19,
    RC_T_TYPED_ARRAY = 20,
    RC_T_MARIA_BLOB_COMPRESSED = 140,    /* MariaDB BLOB/TEXT COMPRESSED */
    RC_T_MARIA_VARCHAR_COMPRESSED = 141, /* MariaDB VARCHAR/VARBINARY COMPRESSED */
    RC_T_VECTOR = 242,
    RC_T_INVALID = 243,
    RC_T_BOOL = 244,
    RC_T_JSON = 245,
    RC_T_NEWDECIMAL = 246,
    RC_T_ENUM = 247,
    RC_T_SET = 248,
    RC_T_TINY_BLOB = 249,
    RC_T_MEDIUM_BLOB = 250,
    RC_T_LONG_BLOB = 251,
    RC_T_BLOB = 252,
    RC_T_VAR_STRING = 253,
    RC_T_STRING = 254,
    RC_T_GEOMETRY = 255,
};

/* How a column's value is read and packed; decided once per table map. */
typedef enum rc_kind {
    RC_K_UNSUPPORTED = 0,
    RC_K_INT8,
    RC_K_UINT8,
    RC_K_INT16,
    RC_K_UINT16,
    RC_K_INT24,
    RC_K_UINT24,
    RC_K_INT32,
    RC_K_UINT32,
    RC_K_INT64,
    RC_K_UINT64,
    RC_K_FLOAT,
    RC_K_DOUBLE,
    RC_K_YEAR,
    RC_K_DECIMAL,
    RC_K_DATE,
    RC_K_TIME,
    RC_K_TIME2,
    RC_K_DATETIME,
    RC_K_DATETIME2,
    RC_K_TIMESTAMP,
    RC_K_TIMESTAMP2,
    RC_K_STRING, /* length-prefixed bytes: VARCHAR, CHAR, BLOB/TEXT */
    RC_K_ENUM,
    RC_K_SET,
    RC_K_BIT,
    RC_K_JSON,
    RC_K_GEOMETRY, /* length-prefixed SRID + WKB */
    RC_K_VECTOR,   /* length-prefixed float32 values, little-endian (MySQL 9) */
} rc_kind_t;

/* Character set class of a string column. */
typedef enum rc_cs {
    RC_CS_UNKNOWN = 0, /* no charset metadata, or an unknown collation: str when valid UTF-8 */
    RC_CS_UTF8,        /* utf8mb4, utf8mb3, ascii: str as stored */
    RC_CS_BINARY,      /* collation 63: bin */
    RC_CS_LATIN1,      /* converted to UTF-8 by rowcast's own cp1252 table */
    RC_CS_CONVERT,     /* any other charset: converted to UTF-8 with iconv */
} rc_cs_t;

/* Character sets (rc_binlog_charset.c), by name. */
enum rc_charset {
    RC_CHARSET_UNKNOWN = 0,
    RC_CHARSET_ARMSCII8 = 1,
    RC_CHARSET_ASCII = 2,
    RC_CHARSET_BIG5 = 3,
    RC_CHARSET_BINARY = 4,
    RC_CHARSET_CP1250 = 5,
    RC_CHARSET_CP1251 = 6,
    RC_CHARSET_CP1256 = 7,
    RC_CHARSET_CP1257 = 8,
    RC_CHARSET_CP850 = 9,
    RC_CHARSET_CP852 = 10,
    RC_CHARSET_CP866 = 11,
    RC_CHARSET_CP932 = 12,
    RC_CHARSET_DEC8 = 13,
    RC_CHARSET_EUCJPMS = 14,
    RC_CHARSET_EUCKR = 15,
    RC_CHARSET_GB18030 = 16,
    RC_CHARSET_GB2312 = 17,
    RC_CHARSET_GBK = 18,
    RC_CHARSET_GEOSTD8 = 19,
    RC_CHARSET_GREEK = 20,
    RC_CHARSET_HEBREW = 21,
    RC_CHARSET_HP8 = 22,
    RC_CHARSET_KEYBCS2 = 23,
    RC_CHARSET_KOI8R = 24,
    RC_CHARSET_KOI8U = 25,
    RC_CHARSET_LATIN1 = 26,
    RC_CHARSET_LATIN2 = 27,
    RC_CHARSET_LATIN5 = 28,
    RC_CHARSET_LATIN7 = 29,
    RC_CHARSET_MACCE = 30,
    RC_CHARSET_MACROMAN = 31,
    RC_CHARSET_SJIS = 32,
    RC_CHARSET_SWE7 = 33,
    RC_CHARSET_TIS620 = 34,
    RC_CHARSET_UCS2 = 35,
    RC_CHARSET_UJIS = 36,
    RC_CHARSET_UTF16 = 37,
    RC_CHARSET_UTF16LE = 38,
    RC_CHARSET_UTF32 = 39,
    RC_CHARSET_UTF8MB3 = 40,
    RC_CHARSET_UTF8MB4 = 41,
    RC_CHARSET_COUNT = 42,
};
/* The charset of a collation id (RC_CHARSET_UNKNOWN for an id no server has). */
unsigned rc_binlog_charset_of(uint16_t collation);
const char *rc_binlog_charset_name(unsigned cs);
/* The iconv name to convert from, or NULL when there is none (or none is needed). */
const char *rc_binlog_charset_iconv(unsigned cs);

typedef struct rc_strref {
    const uint8_t *p;
    uint32_t len;
} rc_strref_t;

/* Where the digit groups of a DECIMAL(precision, scale) are in its binary form: a leading
 * integer group of lead_digits in lead_bytes, intg_groups 9-digit groups of 4 bytes, then the
 * fraction's frac_groups and a trailing group of tail_digits in tail_bytes; lead_lim and
 * tail_lim are 10^lead_digits and 10^tail_digits. */
typedef struct rc_dec_layout {
    uint32_t lead_lim, tail_lim;
    uint8_t lead_bytes, lead_digits, intg_groups, frac_groups, tail_bytes, tail_digits, scale;
} rc_dec_layout_t;

typedef struct rc_col {
    const char *name;
    uint32_t name_len;
    uint8_t type;        /* type code from the table map */
    uint8_t real_type;   /* STRING's real type (ENUM, SET, STRING); else = type */
    uint8_t kind;        /* rc_kind_t */
    uint8_t cs;          /* rc_cs_t, for strings, ENUM and SET */
    uint16_t meta;       /* raw metadata as read (type specific) */
    uint8_t precision;   /* NEWDECIMAL */
    uint8_t scale;       /* NEWDECIMAL */
    rc_dec_layout_t dec; /* RC_K_DECIMAL: its digit groups' layout */
    uint8_t fsp;         /* TIME2 / DATETIME2 / TIMESTAMP2 */
    uint8_t lenbytes;    /* RC_K_STRING / RC_K_JSON: bytes of the length prefix */
    uint16_t collation;  /* 0 = unknown */
    uint8_t charset;     /* enum rc_charset of the collation */
    uint32_t size;       /* fixed size in the row image; 0 for length-prefixed values */
    uint32_t max_len;    /* CHAR/VARCHAR declared byte length */
    uint32_t pname_off;  /* the name packed as a msgpack str, in the map's packed_names */
    uint32_t pname_len;
    uint8_t pname16[16]; /* its first 16 bytes, zero-padded: most names whole (c_name) */
    uint32_t str0;       /* ENUM/SET: first element in the map's strs */
    uint32_t nstr;       /* ENUM/SET: elements; 0 = no metadata (index/bitmask packed as uint) */
    bool is_unsigned;
    bool nullable; /* the table map's null bitmap */
    bool has_strs;
    bool zcol;     /* MariaDB column compression: each value starts with a header byte */
    uint8_t op;    /* rc_op_t: how a row image's value is read and written */
    bool pk;       /* in the primary key: where its value was written is kept (rc_slot_t) */
    uint16_t jidx; /* JSON columns before this one (PARTIAL_UPDATE_ROWS' bitmap) */
    /* bytes a row image of every column and no NULL holds at least from this column's value
     * to its end: the fixed-size values' sizes and the length prefixes (0 for RC_OP_OTHER,
     * which checks its own); the row loop checks it where a value of variable size ends
     * instead of checking each fixed-size value (0 in the column past the last) */
    uint32_t need;
} rc_col_t;

/* How a row image's value of a column is read and written, decided once per table map
 * (rc_binlog_row.c): the row loop is one switch over these, and only RC_OP_OTHER takes the
 * general path with every per-value decision. */
typedef enum rc_op {
    RC_OP_OTHER = 0, /* the general path (every kind, every check), through a slot */
    RC_OP_STR1,      /* 1-byte length, UTF-8 text as stored */
    RC_OP_STR2,      /* 2-byte length, UTF-8 text as stored */
    RC_OP_STR,       /* lenbytes length, UTF-8 text as stored */
    RC_OP_BIN,       /* lenbytes length, bytes as stored */
    RC_OP_DECIMAL,   /* NEWDECIMAL, formatted straight into the output */
    /* c->size bytes, one op per kind */
    RC_OP_INT8,
    RC_OP_UINT8,
    RC_OP_INT16,
    RC_OP_UINT16,
    RC_OP_INT24,
    RC_OP_UINT24,
    RC_OP_INT32,
    RC_OP_UINT32,
    RC_OP_INT64,
    RC_OP_UINT64,
    RC_OP_FLOAT,
    RC_OP_DOUBLE,
    RC_OP_YEAR,
    RC_OP_BIT,
    RC_OP_DATE,
    RC_OP_TIME,
    RC_OP_TIME2,
    RC_OP_DATETIME,
    RC_OP_DATETIME2,
    RC_OP_TIMESTAMP,
    RC_OP_TIMESTAMP2,
    /* not a column's: the op of the zeroed column past the last (cols[ncols]), which ends the
     * row loop's copy for images of every column and no NULL without a bound check per column */
    RC_OP_END,
} rc_op_t;

/* One cached TABLE_MAP. Its memory is kept for reuse when the map is dropped. */
typedef struct rc_tmap {
    uint64_t id;
    const char *schema; /* NUL-terminated, inside raw */
    const char *table;
    uint32_t schema_len, table_len;
    uint32_t ncols;
    bool include;
    rc_col_t *cols;
    uint32_t cols_cap;
    rc_strref_t *strs;
    uint32_t nstrs, strs_cap;
    uint32_t *pk; /* primary-key column indexes, in key order */
    uint32_t npk, pk_cap;
    uint8_t *raw; /* copy of the event body; names and strings point into it */
    size_t raw_cap;
    size_t raw_len;
    /* a TABLE_MAP of the same bytes (and post-header length) for the same table id keeps this
     * one: everything here is a function of them, but column names asked of the server */
    bool reusable;
    uint8_t ph;      /* the post-header length it was read with */
    char *gen_names; /* "col_N" names when the map has no COLUMN_NAME metadata */
    size_t gen_names_cap;
    rc_buf_t topic;
    rc_buf_t packed_names; /* every column name as a msgpack str, back to back */
    size_t row_room;       /* output room for every name and fixed-size value of an image */
    rc_buf_t packed_types; /* "headers": {}, then "columns" and its value (rc_event.h) */
    /* rows of this table take the lean row loop (rc_binlog_row.c, lean_rows): every
     * column has an op other than RC_OP_OTHER, at most 64 columns, a key of 0 or 1 column */
    bool lean;
    uint32_t nvar;    /* columns of a length-prefixed op (RC_OP_STR1 .. RC_OP_BIN) */
    bool short_names; /* every column's packed name is of 16 bytes at most (c_name_s) */
    struct rc_tmap *next_free;
} rc_tmap_t;

/* Where one column's value is in a row image, after the first pass over the row. */
enum {
    RC_SLOT_ABSENT = 0, /* not in the image (MINIMAL row image) */
    RC_SLOT_NULL,
    RC_SLOT_RAW,  /* p/len: the value's bytes, decoded by column kind when packed */
    RC_SLOT_STR,  /* p/len: UTF-8 text */
    RC_SLOT_BIN,  /* p/len: bytes */
    RC_SLOT_EXT,  /* p/len: canonical text of ext type `ext` */
    RC_SLOT_UINT, /* u: ENUM index / SET bits without metadata */
    RC_SLOT_GEO,  /* aux: SRID; p/len: WKB, or GeoJSON text when ext is RC_EXT_JSON */
    RC_SLOT_VEC,  /* p/len: VECTOR bytes (len a multiple of 4), packed as an array of float32 */
};

typedef struct rc_slot {
    const uint8_t *p;
    uint64_t u;
    uint32_t len;
    uint32_t aux;
    uint8_t state;
    uint8_t ext;
    bool scratch; /* p is an offset into the decoder's scratch buffer (u) */
    /* primary-key columns: where the value's msgpack is in the row's output, for the key;
     * out_len 0 when the image did not carry the column */
    size_t out_off, out_len;
} rc_slot_t;

/* One table's column names from opts.column_names (rc_binlog_row.c). */
typedef struct rc_names {
    struct rc_names *next;
    rc_buf_t key;   /* schema NUL table */
    rc_buf_t names; /* n NUL-terminated names */
    uint32_t n;
    rc_buf_t pk; /* the primary key's column indexes (uint32_t), in key order */
} rc_names_t;
#define RC_NAMES_BUCKETS 256

#define RC_BINLOG_MAX_POST_HEADER 256
#define RC_BINLOG_GTID_MAX        128
#define RC_BINLOG_FILE_MAX        512

struct rc_binlog {
    /* options (strings owned) */
    char *pipeline;
    char *topic_template;
    bool verify_checksum;
    bool geometry_geojson;
    bool (*include)(void *opaque, const char *schema, const char *table);
    rc_err_t (*column_names)(void *opaque, const char *schema, const char *table, uint32_t ncols,
                             rc_buf_t *names, uint32_t *n, rc_buf_t *pk, char *errstr,
                             size_t errstr_size);
    void *opaque;

    /* format description */
    bool have_fde;
    uint16_t binlog_version;
    char server_version[51];
    rc_binlog_flavor_t flavor;
    uint8_t checksum_alg; /* 0 off, 1 CRC32, 255 undefined */
    uint8_t post_header[RC_BINLOG_MAX_POST_HEADER];
    unsigned n_post_header;

    /* position */
    char file[RC_BINLOG_FILE_MAX];
    uint64_t pos;
    char gtid[RC_BINLOG_GTID_MAX];
    rc_buf_t prev_gtids;   /* text of the last PREVIOUS_GTIDS event (NUL-terminated), or empty */
    bool maria_standalone; /* a standalone MariaDB GTID waits for its QUERY */

    /* table maps: open addressing by table id */
    rc_tmap_t **maps;
    uint32_t maps_cap; /* power of two */
    uint32_t nmaps;
    rc_tmap_t *free_maps;

    /* per-row work areas, grown to the widest table seen and reused */
    rc_slot_t *before, *after;
    uint32_t slots_cap;
    rc_buf_t scratch;
    rc_buf_t jwork[4]; /* PARTIAL_UPDATE_ROWS: rc_binlog_json_apply_diffs's buffers */
    /* msgpack fragments shared by every row of one rows event (rc_binlog_row.c) */
    rc_buf_t ev_head;           /* map header .. "before" key */
    size_t ev_image_len;        /* an insert's ev_head with its image's map header after it */
    rc_buf_t ev_meta;           /* "meta" key .. "key" key */
    rc_buf_t rowbuf;            /* one row's whole event, handed to the caller's packer at once */
    msgpack_sbuffer *direct_sb; /* rc_binlog_direct_sbuffer: rows written straight into it */

    /* per feed call */
    uint64_t now_us; /* 0 until read */
    const char *ev_name;
    uint64_t ev_pos; /* start of the event being decoded */

    /* TRANSACTION_PAYLOAD */
    void *zstd; /* ZSTD_DCtx */
    uint8_t *zbuf;
    size_t zbuf_cap;
    size_t zbuf_initial; /* first size of zbuf; tests make it tiny */

    /* MariaDB compressed events (165-171): the decompressed query or row images, kept and
     * reused (grown to the largest event seen) */
    uint8_t *mbuf;
    size_t mbuf_cap;
    void *zs; /* z_stream, reset for each compressed event or column value */

    /* column names from opts.column_names, by "schema\0table"; emptied by DDL in the stream */
    struct rc_names *names[RC_NAMES_BUCKETS];

    /* iconv converters to UTF-8, opened on first use per charset; (iconv_t)-1 = none yet */
    iconv_t iconv[RC_CHARSET_COUNT];
};

/* Little-endian / big-endian readers that are safe on unaligned bytes. */
static inline uint16_t rc_le16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t rc_le24(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}
static inline uint32_t rc_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t rc_le48(const uint8_t *p) {
    return (uint64_t)rc_le32(p) | ((uint64_t)rc_le16(p + 4) << 32);
}
static inline uint64_t rc_le64(const uint8_t *p) {
    return (uint64_t)rc_le32(p) | ((uint64_t)rc_le32(p + 4) << 32);
}
static inline uint64_t rc_be(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}
static inline uint64_t rc_le(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = n; i > 0; i--) {
        v = (v << 8) | p[i - 1];
    }
    return v;
}

/* Reads a length-encoded integer; returns bytes used, 0 if it does not fit or is NULL (0xfb). */
static inline size_t rc_lenenc(const uint8_t *p, const uint8_t *end, uint64_t *v) {
    if (p >= end) {
        return 0;
    }
    uint8_t c = p[0];
    if (c < 0xfb) {
        *v = c;
        return 1;
    }
    size_t n = c == 0xfc ? 2 : c == 0xfd ? 3 : c == 0xfe ? 8 : 0;
    if (n == 0 || (size_t)(end - p) < n + 1) {
        return 0;
    }
    *v = rc_le(p + 1, (unsigned)n);
    return n + 1;
}

/* Post-header length of an event type from the FDE, or dflt before one arrived. */
static inline unsigned rc_binlog_post_header(const rc_binlog_t *b, uint8_t type, unsigned dflt) {
    if (b->have_fde && type >= 1 && (unsigned)type - 1 < b->n_post_header) {
        return b->post_header[type - 1];
    }
    return dflt;
}

/* rc_binlog_crc.c: the CRC32's paths (rc_binlog_crc32), each used when the CPU has it. */
enum {
    RC_CRC_PATH_ZLIB = 0,
    RC_CRC_PATH_CLMUL = 1,
    RC_CRC_PATH_AVX = 2,
    RC_CRC_PATH_VPCLMUL = 3,    /* 256-bit carry-less multiplication, with AVX2 */
    RC_CRC_PATH_VPCLMUL512 = 4, /* 512-bit, with AVX-512 (F, VL) */
};
/* For tests: takes no path above limit from now on (RC_CRC_PATH_VPCLMUL512: the best the CPU has);
 * returns the path then taken. */
int rc_binlog_crc_path(int limit);

/* rc_binlog.c: writes "<message> (<EVENT> event at <file>:<pos>)" into errstr. */
rc_err_t rc_binlog_everr(const rc_binlog_t *b, char *errstr, size_t errstr_size, rc_err_t err,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *rc_binlog_event_name(uint8_t type);

/* rc_binlog.c: inflates in/inlen, a zlib stream (raw: a bare deflate stream) into out, which
 * it must fill exactly. One z_stream lives in the decoder: nothing is allocated per call after
 * the first. Returns NULL, or what is wrong with the stream. */
const char *rc_binlog_inflate(rc_binlog_t *b, bool raw, const uint8_t *in, size_t inlen,
                              uint8_t *out, size_t outlen);

/* rc_binlog.c: MariaDB's compressed event data (log_bin_compress), p/len to the end of the
 * event body: a header byte 0x80 | algorithm << 4 | lenlen (algorithm 0 = zlib), lenlen (1-4)
 * bytes of the uncompressed length big-endian, then a zlib stream. Decompresses into b->mbuf
 * (valid until the next call) and points *out and *out_len at it. what names the data in errors. */
rc_err_t rc_binlog_maria_uncompress(rc_binlog_t *b, const uint8_t *p, size_t len, const char *what,
                                    const uint8_t **out, size_t *out_len, char *errstr,
                                    size_t errstr_size);

/* rc_binlog_row.c: TABLE_MAP and rows events, and the table-map cache. */
rc_err_t rc_binlog_table_map(rc_binlog_t *b, const uint8_t *body, size_t blen, char *errstr,
                             size_t errstr_size);
void rc_binlog_maps_clear(rc_binlog_t *b);
void rc_binlog_names_clear(rc_binlog_t *b); /* forgets every table's column names */
void rc_binlog_maps_free(rc_binlog_t *b);
rc_err_t rc_binlog_rows(rc_binlog_t *b, const rc_binlog_header_t *h, const uint8_t *body,
                        size_t blen, msgpack_packer *pk, rc_binlog_info_t *info, char *errstr,
                        size_t errstr_size);

/* rc_binlog_value.c: formatting helpers that cannot fail (out must hold RC_BINLOG_TEXT_MAX) */
/* v in decimal, as few digits as it takes (no NUL); returns their count. */
size_t rc_binlog_fmt_uint(uint64_t v, char *out);
size_t rc_binlog_fmt_date(uint32_t v, char *out);
/* "00" "01" .. "99": the two digits of n at 2 * n (rc_binlog_value.c) */
extern const char rc_binlog_pairs[201];
size_t rc_binlog_fmt_time(const uint8_t *p, unsigned fsp, char *out);
size_t rc_binlog_fmt_datetime2(const uint8_t *p, unsigned fsp, char *out);
size_t rc_binlog_fmt_timestamp2(const uint8_t *p, unsigned fsp, char *out);
size_t rc_binlog_fmt_old_time(const uint8_t *p, char *out);
size_t rc_binlog_fmt_old_datetime(const uint8_t *p, char *out);
size_t rc_binlog_fmt_old_timestamp(const uint8_t *p, char *out);
size_t rc_binlog_fmt_time_packed(int64_t packed, unsigned fsp, char *out);
size_t rc_binlog_fmt_datetime_packed(int64_t packed, unsigned fsp, char sep, char *out);
size_t rc_binlog_decimal_size(unsigned precision, unsigned scale);
/* The text of the DECIMAL(precision, scale) at p (rc_binlog_decimal_size(...) readable bytes;
 * 1 <= precision <= 65, scale <= precision) into out, NUL-terminated; returns its length, or 0
 * when a digit group is out of range. out has room for RC_BINLOG_TEXT_MAX bytes: digits are
 * written 4 at a time, up to 3 bytes past the text. */
size_t rc_binlog_fmt_decimal(const uint8_t *p, unsigned precision, unsigned scale, char *out);
/* The same from the column's layout (rc_binlog_decimal_layout), worked out once per table map
 * instead of per value. */
size_t rc_binlog_fmt_decimal_l(const uint8_t *p, const rc_dec_layout_t *l, char *out);
void rc_binlog_decimal_layout(unsigned precision, unsigned scale, rc_dec_layout_t *l);
/* rc_binlog_json.c: MySQL's JSON text of a double (shortest round trip, "1.0"); NUL-ended */
size_t rc_binlog_fmt_double(double d, char *out);
/* rc_binlog_json.c: s/n as a JSON string (quoted and escaped as rc_binlog_json_text writes
 * strings), appended to out. RC_ERR_NOMEM only. */
rc_err_t rc_binlog_json_quote(const uint8_t *s, size_t n, rc_buf_t *out);
/* rc_binlog_jdiff.c: a PARTIAL_UPDATE_ROWS JSON value: d/n is the column's list of diffs
 * (operation byte 0 REPLACE / 1 INSERT / 2 REMOVE, lenenc path length, path, and but for REMOVE
 * a lenenc value length and a binary JSON value). Applies them in order to doc/doclen (compact
 * JSON text as rc_binlog_json_text writes it) and appends the resulting text to out. work is
 * four buffers kept by the caller (nothing is allocated once they are large enough); doc may
 * point into out. Returns RC_ERR_INVALID with a sentence in why for a malformed diff, a bad
 * path or a path the document does not have, RC_ERR_NOMEM when a buffer cannot grow. */
rc_err_t rc_binlog_json_apply_diffs(const char *doc, size_t doclen, const uint8_t *d, size_t n,
                                    rc_buf_t work[4], rc_buf_t *out, char *why, size_t why_size);
/* UTF-8 from latin1 (cp1252, as MySQL's latin1); appends to out. */
rc_err_t rc_binlog_latin1_to_utf8(const uint8_t *p, size_t len, rc_buf_t *out);
bool rc_binlog_utf8_valid(const uint8_t *p, size_t len);

#endif
