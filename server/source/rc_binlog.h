/* rc_binlog.h: the binlog event decoder.
 *
 * Pure code, no I/O: it is fed one event at a time (the bytes of one binlog event, from the
 * 19-byte common header to the end, CRC32 trailer included when the stream has one) from the
 * network or from a file, keeps what it must remember between events (format description,
 * checksum algorithm, table maps, current file/position/GTID) and packs every row change as
 * one complete event (see rc_event.h) into the caller's msgpack packer.
 *
 * Both flavors: MySQL 5.7/8.x/9.x and Percona (v2 rows events, GTID 33/34/35/42) and MariaDB
 * (v1 rows events, GTID 162/163, ANNOTATE_ROWS 160, BINLOG_CHECKPOINT 161, and the compressed
 * query and rows events 165-171 of log_bin_compress=ON).
 *
 * @thread reader (one decoder belongs to one thread for its whole life) */
#ifndef RC_BINLOG_H
#define RC_BINLOG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_err.h"

#define RC_BINLOG_HEADER_LEN 19
#define RC_BINLOG_MAGIC      "\xfe\x62\x69\x6e"

/* Event type codes (MySQL binlog_event.h / MariaDB log_event.h). */
enum rc_binlog_event_type {
    RC_EV_UNKNOWN = 0,
    RC_EV_QUERY = 2,
    RC_EV_STOP = 3,
    RC_EV_ROTATE = 4,
    RC_EV_INTVAR = 5,
    RC_EV_RAND = 13,
    RC_EV_USER_VAR = 14,
    RC_EV_FORMAT_DESCRIPTION = 15,
    RC_EV_XID = 16,
    RC_EV_TABLE_MAP = 19,
    RC_EV_WRITE_ROWS_V1 = 23,
    RC_EV_UPDATE_ROWS_V1 = 24,
    RC_EV_DELETE_ROWS_V1 = 25,
    RC_EV_INCIDENT = 26,
    RC_EV_HEARTBEAT = 27,
    RC_EV_IGNORABLE = 28,
    RC_EV_ROWS_QUERY = 29,
    RC_EV_WRITE_ROWS_V2 = 30,
    RC_EV_UPDATE_ROWS_V2 = 31,
    RC_EV_DELETE_ROWS_V2 = 32,
    RC_EV_GTID = 33,
    RC_EV_ANONYMOUS_GTID = 34,
    RC_EV_PREVIOUS_GTIDS = 35,
    RC_EV_TRANSACTION_CONTEXT = 36,
    RC_EV_VIEW_CHANGE = 37,
    RC_EV_XA_PREPARE = 38,
    RC_EV_PARTIAL_UPDATE_ROWS = 39,
    RC_EV_TRANSACTION_PAYLOAD = 40,
    RC_EV_HEARTBEAT_V2 = 41,
    RC_EV_GTID_TAGGED = 42,
    RC_EV_MARIA_ANNOTATE_ROWS = 160,
    RC_EV_MARIA_BINLOG_CHECKPOINT = 161,
    RC_EV_MARIA_GTID = 162,
    RC_EV_MARIA_GTID_LIST = 163,
    RC_EV_MARIA_START_ENCRYPTION = 164,
    /* log_bin_compress=ON: the query text or the row images are zlib-compressed */
    RC_EV_MARIA_QUERY_COMPRESSED = 165,
    RC_EV_MARIA_WRITE_ROWS_COMPRESSED_V1 = 166,
    RC_EV_MARIA_UPDATE_ROWS_COMPRESSED_V1 = 167,
    RC_EV_MARIA_DELETE_ROWS_COMPRESSED_V1 = 168,
    RC_EV_MARIA_WRITE_ROWS_COMPRESSED = 169, /* the v2 layout (extra row data) */
    RC_EV_MARIA_UPDATE_ROWS_COMPRESSED = 170,
    RC_EV_MARIA_DELETE_ROWS_COMPRESSED = 171,
};

typedef enum rc_binlog_flavor {
    RC_FLAVOR_UNKNOWN = 0,
    RC_FLAVOR_MYSQL,
    RC_FLAVOR_MARIADB,
} rc_binlog_flavor_t;

/* The common header of every event. */
typedef struct rc_binlog_header {
    uint32_t timestamp;
    uint8_t type;
    uint32_t server_id;
    uint32_t event_size;
    uint32_t log_pos; /* position of the next event; 0 for artificial events */
    uint16_t flags;
} rc_binlog_header_t;

typedef struct rc_binlog_opts {
    const char *pipeline;       /* meta.pipeline; default "" */
    const char *topic_template; /* "{schema}" and "{table}" are replaced; default
                                    "{schema}.{table}" */
    bool verify_checksum;       /* check CRC32 when the FDE announces it; default on (set by
                                    rc_binlog_opts_init) */
    bool geometry_geojson;      /* GEOMETRY values as {"srid", "geojson"} instead of the
                                    default {"srid", "wkb"}; default off */
    /* Which tables produce events. Called once per table map that is not its table id's last
     * one again byte for byte (the answer is cached per table id); NULL = every table. Return
     * true to include; the same for the same schema and table. */
    bool (*include)(void *opaque, const char *schema, const char *table);
    /* Column names of a table whose TABLE_MAP has none (binlog_row_metadata is not FULL):
     * appends them to names as NUL-terminated strings in column order and sets *n. Called once
     * per table until a statement in the stream that may change tables (anything but
     * BEGIN/COMMIT/ROLLBACK/SAVEPOINT/XA) empties the cache. A name list whose length is not
     * the map's column count is not used: those columns are named col_1, col_2, ... The primary
     * key's column indexes (uint32_t, in key order) are appended to pk; they are used when the
     * table map has no primary-key metadata and the names are used. Return an
     * error (with errstr) to fail the table map. NULL = always col_1, col_2, ... */
    rc_err_t (*column_names)(void *opaque, const char *schema, const char *table, uint32_t ncols,
                             rc_buf_t *names, uint32_t *n, rc_buf_t *pk, char *errstr,
                             size_t errstr_size);
    void *opaque; /* for include and column_names */
} rc_binlog_opts_t;

void rc_binlog_opts_init(rc_binlog_opts_t *opts);

/* What one fed event was and what it did. */
typedef struct rc_binlog_info {
    rc_binlog_header_t header;
    int rows;            /* events packed into the packer by this call (one per row) */
    bool begin;          /* a transaction started (GTID event, BEGIN query) */
    bool commit;         /* a transaction ended (XID, COMMIT query, DDL, MariaDB standalone GTID) */
    bool rotate;         /* the position moved to another file */
    bool skipped;        /* the event was understood and deliberately ignored */
    bool previous_gtids; /* a PREVIOUS_GTIDS event: rc_binlog_previous_gtids() has its set */
} rc_binlog_info_t;

typedef struct rc_binlog rc_binlog_t;

/* Creates a decoder. opts is copied (strings too). Returns NULL on allocation failure.
 * Free with rc_binlog_destroy. */
rc_binlog_t *rc_binlog_new(const rc_binlog_opts_t *opts);
void rc_binlog_destroy(rc_binlog_t *b);

/* Sets the file and position the stream starts at (from the dump request); ROTATE events
 * update it afterwards. */
rc_err_t rc_binlog_set_position(rc_binlog_t *b, const char *file, uint64_t pos);

/* Says that a packer whose data is sb appends with msgpack_sbuffer_write (what every packer
 * of rowcast's does): row events fed with such a packer are then written straight into sb,
 * not through a row buffer and the packer's callback (one copy of each event less). Rows are
 * still added whole: a bad row leaves sb as it was. NULL turns it off. sb must outlive b or be
 * unset first. */
void rc_binlog_direct_sbuffer(rc_binlog_t *b, msgpack_sbuffer *sb);

/* Decodes one event. ev/len is the whole event including its header and checksum trailer.
 * Row events are appended to pk as complete msgpack event maps (rc_event.h); info (may be
 * NULL) says what happened. On error nothing is left half-packed in pk... except that a rows
 * event with several rows may have packed the rows before the bad one: info->rows counts them.
 * errstr names the event type, file and position, and for value errors the table and column. */
rc_err_t rc_binlog_feed(rc_binlog_t *b, const uint8_t *ev, size_t len, msgpack_packer *pk,
                        rc_binlog_info_t *info, char *errstr, size_t errstr_size);

/* Parses the common header only (no state). */
rc_err_t rc_binlog_parse_header(const uint8_t *ev, size_t len, rc_binlog_header_t *h);

/* Position and state, valid after each feed. */
const char *rc_binlog_file(const rc_binlog_t *b);
uint64_t rc_binlog_pos(const rc_binlog_t *b);     /* next event's position in the file */
const char *rc_binlog_gtid(const rc_binlog_t *b); /* GTID of the current transaction or "" */
/* MySQL: the GTID set of the last PREVIOUS_GTIDS event (the transactions of every earlier
 * file, "uuid:1-5,uuid:tag:1-2"), "" before one or when it was empty. */
const char *rc_binlog_previous_gtids(const rc_binlog_t *b);
rc_binlog_flavor_t rc_binlog_flavor(const rc_binlog_t *b);
bool rc_binlog_has_checksum(const rc_binlog_t *b);
const char *rc_binlog_server_version(const rc_binlog_t *b);

/* CRC32 (ISO-HDLC, as binlog checksums) of data; with PCLMULQDQ where the CPU has it. */
uint32_t rc_binlog_crc32(const uint8_t *data, size_t len);
/* The same, continued from crc (a previous result, or 0), as zlib's crc32(crc, data, len). */
uint32_t rc_binlog_crc32_update(uint32_t crc, const uint8_t *data, size_t len);

/* A binlog file on disk, read event by event (replay, tests, benchmarks).
 * Checks the magic; each call hands out the next whole event. The pointer stays valid until
 * the next call. Returns RC_ERR_EOF at the end, RC_ERR_TRUNCATED if the file ends inside an
 * event. */
typedef struct rc_binlog_file rc_binlog_file_t;
rc_binlog_file_t *rc_binlog_file_open(const char *path, char *errstr, size_t errstr_size);
rc_err_t rc_binlog_file_next(rc_binlog_file_t *f, const uint8_t **ev, size_t *len);
uint64_t rc_binlog_file_offset(const rc_binlog_file_t *f); /* offset of the last event handed out */
void rc_binlog_file_close(rc_binlog_file_t *f);

/* Value decoders, exported for unit tests and tools. Each reads one value as it is stored in a
 * row image (p/len: the bytes from the value on; len may run past it), writes the canonical
 * text of rc_event.h into out (NUL-terminated; RC_BINLOG_TEXT_MAX bytes always suffice) and
 * sets *consumed (may be NULL) to the bytes the value takes. They return RC_ERR_TRUNCATED when
 * len is too short, RC_ERR_INVALID for bytes no server writes (a decimal digit group above
 * 999999999, a precision above 65) and RC_ERR_NOMEM when out is too small. */
#define RC_BINLOG_TEXT_MAX 96
/* NEWDECIMAL(precision, scale): "-1234.5600", "0.00". */
rc_err_t rc_binlog_decimal_text(const uint8_t *p, size_t len, unsigned precision, unsigned scale,
                                char *out, size_t out_size, size_t *consumed);
/* TIME2 with fsp 0-6: "-507:48:27", "15:04:05.12". */
rc_err_t rc_binlog_time2_text(const uint8_t *p, size_t len, unsigned fsp, char *out,
                              size_t out_size, size_t *consumed);
/* DATETIME2 with fsp 0-6: "2016-10-28T15:30:42.123". */
rc_err_t rc_binlog_datetime2_text(const uint8_t *p, size_t len, unsigned fsp, char *out,
                                  size_t out_size, size_t *consumed);
/* TIMESTAMP2 with fsp 0-6, in UTC: "2022-04-20T22:18:04Z"; the zero value 0 gives
 * "0000-00-00T00:00:00Z". */
rc_err_t rc_binlog_timestamp2_text(const uint8_t *p, size_t len, unsigned fsp, char *out,
                                   size_t out_size, size_t *consumed);
/* DATE (3 bytes): "2024-02-29", zero date "0000-00-00". */
rc_err_t rc_binlog_date_text(const uint8_t *p, size_t len, char *out, size_t out_size,
                             size_t *consumed);

/* MySQL binary JSON (the bytes after the column's length prefix; len 0 is JSON null) to
 * compact JSON text, appended to out. Opaque values are written as MySQL writes them
 * (DECIMAL as a number, DATE/TIME/DATETIME as strings, others "base64:typeN:..."). Returns
 * RC_ERR_INVALID with a sentence in errstr for malformed input. */
rc_err_t rc_binlog_json_text(const uint8_t *p, size_t len, rc_buf_t *out, char *errstr,
                             size_t errstr_size);

/* OGC WKB (2-D, types 1-7, as MySQL and MariaDB store it after the SRID) to a compact GeoJSON
 * geometry appended to out; with out NULL it only checks the bytes. Returns RC_ERR_INVALID with
 * a sentence in why for malformed WKB, RC_ERR_NOMEM when out cannot grow. */
rc_err_t rc_binlog_wkb_geojson(const uint8_t *p, size_t len, rc_buf_t *out, char *why,
                               size_t why_size);

#endif
