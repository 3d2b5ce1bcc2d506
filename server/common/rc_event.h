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
 *        "format": str              -- optional, set by a script: this event's sink format
 *     }
 *   }
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

#define RC_ACTION_INSERT "insert"
#define RC_ACTION_UPDATE "update"
#define RC_ACTION_DELETE "delete"

#endif
