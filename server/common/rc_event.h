/* rc_event.h: the shape of one change event as it travels inside rowcast.
 *
 * The source packs every row change as one msgpack map; the transform (later) reads and
 * rewrites it; the encoders turn it into JSON or protobuf. This header is the contract
 * between those stages. Keys appear in this order (encoders keep the order they find):
 *
 *   {
 *     "schema": str, "table": str,
 *     "action": "insert" | "update" | "delete",
 *     "before": [ row ],            -- [] for insert
 *     "after":  [ row ],            -- [] for delete
 *     "meta": {
 *        "pipeline": str,           -- pipeline name
 *        "timestamp": uint,         -- µs since epoch when rowcast decoded the event
 *        "gtid": str | nil,         -- GTID of the transaction ("uuid:n" or "d-s-n")
 *        "binlog_file": str, "binlog_pos": uint,  -- position of the rows event
 *        "server_id": uint,         -- server that wrote the event
 *        "commit_ts": uint          -- event timestamp from the binlog header, seconds
 *     },
 *     "kafka": {
 *        "topic": str,              -- rendered from the sink's topic template
 *        "key": map | nil,          -- primary-key columns {col: value}; nil without a PK
 *        "headers": map             -- {name: str}; empty by default
 *        "columns": bin             -- the table's column types (below); the encoders use it
 *        "format": str              -- optional, set by a script: this event's sink format
 *     }
 *   }
 *
 * kafka.columns describes every column of the table in table order, so that an encoder can
 * tell what the msgpack value alone does not: an unsigned column from a signed one (both
 * pack 5 the same), a BIT from an integer, a TINYINT from a BIGINT, and the type of a NULL.
 * Per column: name length (u16 big-endian), name bytes, type (enum rc_col_type), flags
 * (RC_COLF_*), length (u16 big-endian: BIT bits, DECIMAL precision, temporal fsp) and scale
 * (u8: DECIMAL scale). A column a script renamed or added has no entry; an encoder then goes by
 * the value alone, as it does for events without kafka.columns.
 *
 * A row is a map {column name: value}, columns in table order. Column values:
 *   NULL                      -> nil
 *   TINYINT..BIGINT           -> int (signed) or uint (unsigned columns)
 *   FLOAT, DOUBLE             -> float32 / float64
 *   CHAR/VARCHAR/TEXT         -> str, UTF-8
 *   BINARY/VARBINARY/BLOB     -> bin
 *   YEAR, BIT                 -> uint
 *   DECIMAL, DATE, TIME, DATETIME, TIMESTAMP, JSON, ENUM, SET -> ext (types below) whose
 *                                payload is the canonical text, so no precision is lost on the
 *                                way and the protobuf encoder knows the type. ENUM and SET
 *                                without their strings in the binlog (no FULL row metadata)
 *                                are the index / bit mask as uint.
 */
#ifndef RC_EVENT_H
#define RC_EVENT_H

/* msgpack ext type codes for values that have a type but a text canonical form. */
enum rc_ext_type {
    RC_EXT_DECIMAL = 1,   /* "-1234.5600": exact, scale digits kept */
    RC_EXT_DATE = 2,      /* "2024-02-29"; zero dates stay "0000-00-00" */
    RC_EXT_TIME = 3,      /* "-838:59:59.000000"; fraction digits = column fsp */
    RC_EXT_DATETIME = 4,  /* "2024-02-29T13:01:02.500"; no zone; fraction = column fsp */
    RC_EXT_TIMESTAMP = 5, /* "2024-02-29T13:01:02.500Z"; always UTC */
    RC_EXT_JSON = 6,      /* JSON text, compact, UTF-8 */
    RC_EXT_ENUM = 7,      /* the ENUM value's text, UTF-8; "" for the invalid-value index 0 */
    RC_EXT_SET = 8,       /* the SET's members that are set, comma-separated ("a,b"; "" none) */
};

/* kafka.columns type codes (stable: tests and golden files hold them). */
enum rc_col_type {
    RC_COL_UNKNOWN = 0,
    RC_COL_TINYINT = 1,
    RC_COL_SMALLINT = 2,
    RC_COL_MEDIUMINT = 3,
    RC_COL_INT = 4,
    RC_COL_BIGINT = 5,
    RC_COL_FLOAT = 6,
    RC_COL_DOUBLE = 7,
    RC_COL_DECIMAL = 8,
    RC_COL_YEAR = 9,
    RC_COL_DATE = 10,
    RC_COL_TIME = 11,
    RC_COL_DATETIME = 12,
    RC_COL_TIMESTAMP = 13,
    RC_COL_TEXT = 14,   /* CHAR, VARCHAR, TEXT: str (bin when the charset is unknown and the
                           value is not UTF-8) */
    RC_COL_BINARY = 15, /* BINARY, VARBINARY, BLOB: bin */
    RC_COL_ENUM = 16,
    RC_COL_SET = 17,
    RC_COL_BIT = 18, /* length = bits (1..64) */
    RC_COL_JSON = 19,
    RC_COL_GEOMETRY = 20,
    RC_COL_VECTOR = 21, /* an array of float32 */
};

enum rc_col_flag {
    RC_COLF_UNSIGNED = 1, /* an UNSIGNED integer column (known from the table map's metadata) */
    RC_COLF_NULLABLE = 2, /* the column can be NULL (the table map's null bitmap) */
};

#define RC_ACTION_INSERT "insert"
#define RC_ACTION_UPDATE "update"
#define RC_ACTION_DELETE "delete"

#endif
