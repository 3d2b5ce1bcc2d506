/* rc_debezium.h: msgpack event -> the change event a Debezium MySQL connector would publish
 * through Kafka Connect's JsonConverter with schemas.enable=false (sink.format: debezium-json),
 * so that consumers written for Debezium read rowcast's topics unchanged.
 *
 * Value: {"before": row|null, "after": row|null,
 *         "source": {"version", "connector": "mysql", "name": pipeline, "ts_ms": commit ms,
 *                    "snapshot": "false", "db", "sequence": null, "table", "server_id",
 *                    "gtid": str|null, "file", "pos", "row": 0, "thread": null, "query": null},
 *         "op": "c"|"u"|"d", "ts_ms": when rowcast decoded the event (ms), "transaction": null}
 * Key: the primary-key columns {col: value}. Column values follow Debezium's defaults
 * (decimal.handling.mode=precise, time.precision.mode=adaptive_time_microseconds,
 * bigint.unsigned.handling.mode=long, binary.handling.mode=bytes):
 *   DECIMAL -> base64 of the unscaled value's minimal two's-complement big-endian bytes
 *   DATE -> days since 1970-01-01; TIME -> microseconds (signed)
 *   DATETIME(0..3) -> ms since the epoch, DATETIME(4..6) -> µs (the wall clock read as UTC)
 *   TIMESTAMP -> ISO-8601 string in UTC ("2024-02-29T13:01:02.500Z", column's fraction digits)
 *   zero DATE / DATETIME / TIMESTAMP -> null, or the epoch (0, "1970-01-01T00:00:00Z") in a
 *       column kafka.columns (rc_event.h) marks NOT NULL
 *   JSON -> the document as a JSON string; ENUM, SET -> string; BLOB/BINARY -> base64 string
 *   GEOMETRY {srid, wkb} -> {"wkb": base64, "srid": n}, the field order of Debezium's Geometry
 *   integers above 2^63-1 (BIGINT UNSIGNED) -> wrapped to int64, as Debezium's "long" mode does
 *   BIT(1) -> true/false; BIT(n > 1) -> base64 of the bits as (n + 7) / 8 little-endian bytes
 *       (io.debezium.data.Bits), when kafka.columns (rc_event.h) says the column is a BIT
 *   everything else as rc_json writes it.
 * @thread any (pure functions) */
#ifndef RC_DEBEZIUM_H
#define RC_DEBEZIUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_err.h"

/* Appends the Debezium value of the event at data[0..len) to out; *used gets the event's
 * msgpack size (used may be NULL). RC_ERR_INVALID when the event lacks a field the envelope
 * needs or has one of the wrong type, an action other than insert/update/delete, more than one
 * row on a side, or a temporal value whose text is not canonical; RC_ERR_TRUNCATED,
 * RC_ERR_NOMEM. On error out->len is put back. */
rc_err_t rc_debezium_write_event(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used);

/* Appends the Debezium key of the key map at data[0..len) ({col: value}, values converted as
 * above). RC_ERR_INVALID when it is not a map with string keys. */
rc_err_t rc_debezium_write_key(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used);

/* As rc_debezium_write_event, with the event's kafka.columns value at columns (NULL: none;
 * rc_debezium_write_event finds it in the event) and, when schemas, the Kafka Connect schema around it:
 * {"schema": {...Envelope...}, "payload": <the value above>} (README "Debezium JSON"). */
rc_err_t rc_debezium_write_event_typed(rc_buf_t *out, const uint8_t *data, size_t len,
                                       const uint8_t *columns, bool schemas, size_t *used);

/* Where the fields the envelope needs are in one event, for a caller that has walked the event
 * already (rc_msg): each points at the value of the first str key of that name, NULL when
 * absent; meta[] inside the meta map (all NULL unless meta_is_map); ev_end where the event map
 * ends. */
enum {
    RC_DBZ_SCHEMA,
    RC_DBZ_TABLE,
    RC_DBZ_ACTION,
    RC_DBZ_BEFORE,
    RC_DBZ_AFTER,
    RC_DBZ_META,
    RC_DBZ_EV_COUNT
};
enum {
    RC_DBZ_PIPELINE,
    RC_DBZ_TIMESTAMP,
    RC_DBZ_GTID,
    RC_DBZ_FILE,
    RC_DBZ_POS,
    RC_DBZ_SERVER_ID,
    RC_DBZ_COMMIT_TS,
    RC_DBZ_META_COUNT
};
typedef struct rc_debezium_at {
    const uint8_t *ev[RC_DBZ_EV_COUNT];
    const uint8_t *meta[RC_DBZ_META_COUNT];
    bool meta_is_map;
    const uint8_t *ev_end;
} rc_debezium_at_t;

/* As rc_debezium_write_event_typed, with the event's fields already found (at, as above):
 * the event is not searched again. */
rc_err_t rc_debezium_write_event_at(rc_buf_t *out, const uint8_t *data, size_t len,
                                    const rc_debezium_at_t *at, const uint8_t *columns,
                                    bool schemas, size_t *used);

/* Templates of the row maps of a stream of events (per table, by position: the column name's
 * text and what kafka.columns says of it), owned by one thread, so that a table's rows are
 * written without escaping their names and looking their columns up again. The output is the
 * same as without templates. */
typedef struct rc_debezium_tpl rc_debezium_tpl_t;

/* A new set of templates (empty), or NULL when out of memory. It grows with the tables seen:
 * about 100 bytes per column, for up to 256 tables (more share those) and 1024 columns. */
rc_debezium_tpl_t *rc_debezium_tpl_new(void);
void rc_debezium_tpl_free(rc_debezium_tpl_t *t);

/* rc_debezium_write_event_at through the templates t (NULL: none), which it updates. */
rc_err_t rc_debezium_write_event_tpl(rc_buf_t *out, rc_debezium_tpl_t *t, const uint8_t *data,
                                     size_t len, const rc_debezium_at_t *at, const uint8_t *columns,
                                     bool schemas, size_t *used);

/* The key of the event at ev[0..len) whose kafka.key map is at key, its values converted with
 * the column types of kafka.columns at columns (NULL: none), and, when schemas, as
 * {"schema": {...Key...}, "payload": {...}}. RC_ERR_INVALID when the key is not a map with
 * string keys. On error out->len is put back. */
rc_err_t rc_debezium_write_key_of(rc_buf_t *out, const uint8_t *ev, size_t len, const uint8_t *key,
                                  const uint8_t *columns, bool schemas);

/* As rc_debezium_write_key_of, for a caller that has walked the event ending at end (rc_msg):
 * its fields at at, as rc_debezium_write_event_at takes them, so the event is not searched
 * again (only read with schemas: the schema's name is made of schema, table and
 * meta.pipeline). */
rc_err_t rc_debezium_write_key_at(rc_buf_t *out, const uint8_t *key, const uint8_t *end,
                                  const rc_debezium_at_t *at, const uint8_t *columns, bool schemas);

/* rc_debezium_write_key_at through the templates t (NULL: none) that rc_debezium_write_event_tpl
 * has just written the same event's value with (the same columns and end): a key of one column
 * is written with what the table's row template knows of that column. The output is the same
 * as without templates; t is not changed but for a hint. */
rc_err_t rc_debezium_write_key_tpl(rc_buf_t *out, rc_debezium_tpl_t *t, const uint8_t *key,
                                   const uint8_t *end, const rc_debezium_at_t *at,
                                   const uint8_t *columns, bool schemas);

#endif
