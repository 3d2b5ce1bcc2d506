/* rc_proto.h: msgpack event -> protobuf bytes of rowcast.v1.Event / rowcast.v1.Key
 * (proto/rowcast/v1/event.proto), the hot path of the protobuf sink.
 *
 * Like rc_json, it reads the msgpack bytes directly and appends the encoding to a buffer: no
 * tree and no allocation besides growing out. The output is canonical: fields in field-number
 * order, proto3 defaults (empty strings, zero numbers) left out, varints minimal; so it is
 * byte-identical to what protobuf-c or Google's protobuf would write for the same message.
 *
 * Column values (rc_event.h) map to the Value oneof:
 *   nil -> null_value; bool -> bool_value;
 *   integers -> int_value (sint64) from -2^63 to 2^63-1, uint_value above; every integer of
 *       a column kafka.columns marks UNSIGNED (TINYINT..BIGINT) -> uint_value;
 *   float32 -> float_value; float64 -> double_value; str -> string_value; bin -> bytes_value;
 *   ext DECIMAL -> decimal_value; ENUM -> enum_value; JSON -> json_value; SET -> set_value
 *       (the comma-separated text split into members; SET member names hold no commas);
 *   ext DATE / TIME / DATETIME / TIMESTAMP -> date_value / time_value / datetime_value /
 *       timestamp_value, parsed from their canonical text (fsp = the fraction digits);
 *   {"srid": uint, "wkb": bin} or {"srid": uint, "geojson": ext JSON} (GEOMETRY as the decoder
 *       packs it) -> geometry_value;
 *   any other array or map (a script can put one in a row) -> json_value with its JSON text.
 * A temporal ext whose text is not in the canonical form, or an unknown ext type, is
 * RC_ERR_INVALID: the contract promises typed values, so nothing is passed on as a guess.
 * @thread any (pure functions) */
#ifndef RC_PROTO_H
#define RC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_err.h"

/* Appends the rowcast.v1.Event encoding of the one event map (rc_event.h) at data[0..len) to
 * out and sets *used to the msgpack bytes it took (used may be NULL). Keys other than schema,
 * table, action, before, after and meta (such as "kafka") are skipped; so are meta keys the
 * contract does not have. RC_ERR_INVALID when the bytes are not an event of that shape (a
 * field of the wrong type, an action other than insert/update/delete, a column name that is
 * not a string), RC_ERR_TRUNCATED when it does not end inside len, RC_ERR_NOMEM. On error
 * out->len is put back to what it was. */
rc_err_t rc_proto_write_event(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used);

/* As rc_proto_write_event, with the event's kafka.columns value (rc_event.h) at columns (NULL:
 * none) already found by the caller: integers of UNSIGNED columns go to uint_value whatever
 * their size. rc_proto_write_event finds kafka.columns itself. */
rc_err_t rc_proto_write_event_typed(rc_buf_t *out, const uint8_t *data, size_t len,
                                    const uint8_t *columns, size_t *used);

/* Templates of the maps of a stream of events (per table: its row maps; the event map and
 * meta), owned by one thread: a column name equal byte for byte to the one seen at its position
 * before has its Column head copied and the integer type kafka.columns gave it reused, so a
 * table's rows are written without reading their names and descriptor again. The output is
 * the same as without templates. */
typedef struct rc_proto_tpl rc_proto_tpl_t;

/* A new set of templates (empty), or NULL when out of memory. It grows with the tables seen:
 * about 80 bytes per column and a copy of the table's kafka.columns, for up to 256 tables (more
 * share those) and 1024 columns. */
rc_proto_tpl_t *rc_proto_tpl_new(void);
void rc_proto_tpl_free(rc_proto_tpl_t *t);

/* rc_proto_write_event_typed through the templates t (NULL: none), which it updates. ev_end:
 * where the event map ends when the caller has already walked it and checked it whole (rc_msg),
 * else NULL; a last member that is not a field of Event (kafka) is then not read again. */
rc_err_t rc_proto_write_event_tpl(rc_buf_t *out, rc_proto_tpl_t *t, const uint8_t *data, size_t len,
                                  const uint8_t *columns, const uint8_t *ev_end, size_t *used);

/* Appends the rowcast.v1.Key encoding of the key map {column: value} at data[0..len) (the
 * event's kafka.key), columns in the map's order. Errors as above; RC_ERR_INVALID when the
 * object is not a map. */
rc_err_t rc_proto_write_key(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used);
/* As rc_proto_write_key, with the event's kafka.columns (NULL: none). */
rc_err_t rc_proto_write_key_typed(rc_buf_t *out, const uint8_t *data, size_t len,
                                  const uint8_t *columns, size_t *used);
/* As rc_proto_write_key_typed, through the templates t (NULL: none) that
 * rc_proto_write_event_tpl has just written the same event's value with (the same columns, the
 * event ending at data + len): a key of up to 4 columns is written with what the table's row
 * template knows of them. The output is the same as without templates. */
rc_err_t rc_proto_write_key_tpl(rc_buf_t *out, rc_proto_tpl_t *t, const uint8_t *data, size_t len,
                                const uint8_t *columns, size_t *used);

#endif
