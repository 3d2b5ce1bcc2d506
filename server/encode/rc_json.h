/* rc_json.h: msgpack -> JSON text, the hot path of the JSON sink.
 *
 * Reads msgpack bytes directly (no unpacking into a tree) and appends compact JSON:
 *   nil -> null, bool, int/uint exact (INT64_MIN .. UINT64_MAX),
 *   float32/64 -> the shortest decimal that reads back (strtof/strtod) as the same value;
 *          laid out like JavaScript's Number#toString (plain for 1e-6 <= |x| < 1e21, else
 *          1.5e+21 / 1e-7) except that integral values in plain notation keep ".0" (42.0,
 *          -0.0) so that a reader still sees a float; NaN/Inf -> null. A float32 prints its own shortest digits
 *          (0.1f -> 0.1, not 0.10000000149011612),
 *   str -> JSON string (escapes: \" \\ \b \f \n \r \t, other controls < 0x20 as \u00xx
 *          with lowercase hex, U+2028/U+2029 as \u2028/\u2029, '/' and DEL 0x7f as is,
 *          everything else valid UTF-8 as is; invalid UTF-8 is replaced per byte: a byte that
 *          does not start a well-formed sequence (Unicode table 3-7: no overlongs, surrogates,
 *          code points above U+10FFFF, F5..FF, lone continuation bytes or cut-short sequences)
 *          becomes one \ufffd and decoding resumes at the next byte, so E0 80 80 gives three
 *          \ufffd and E2 82 41 gives \ufffd\ufffdA),
 *   bin -> base64 string (standard alphabet, padded),
 *   array -> [..], map -> {..} in the order found (keys: str as is; other key types written as
 *          their JSON text inside a string: {1: x} -> {"1":x}; such a key counts as 16 levels of
 *          nesting, so a map or array used as a key inside another such key stops at the
 *          depth limit after 3 levels instead of growing the text exponentially),
 *   ext RC_EXT_JSON -> the payload inlined as JSON, unchecked (an empty payload -> null);
 *   other rc_ext_type (DECIMAL, temporals, ENUM, SET) -> payload as a string;
 *   unknown ext -> base64 string of the payload.
 * Output is at most 6 bytes per input byte for strings; no allocation besides growing out.
 * @thread any (pure functions) */
#ifndef RC_JSON_H
#define RC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_err.h"

/* Appends the JSON text of the one msgpack object at data[0..len) to out and sets *used to
 * the bytes it took. RC_ERR_TRUNCATED when the object does not end inside len,
 * RC_ERR_INVALID for a byte that starts no msgpack object (0xc1) or nesting deeper than 64
 * (64 nested arrays/maps are fine, 65 are not), RC_ERR_NOMEM. On error out->len is put back to
 * what it was. used may be NULL. */
rc_err_t rc_json_write(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used);

/* Like rc_json_write for one event map (rc_event.h) but leaves out its top-level "kafka" key:
 * the Kafka message value is the event without its routing field. The "kafka" value is only
 * skipped (bounds-checked, not converted). RC_ERR_INVALID when the object is not a map. */
rc_err_t rc_json_write_event(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used);

/* Templates of the maps of a stream of events (per table: its row maps; the event map and
 * meta), owned by one thread: the keys of a map are checked byte for byte against the ones
 * seen at the same position before and their JSON text copied, so a table's rows are written
 * without escaping their column names again. The output is the same as without templates. */
typedef struct rc_json_tpl rc_json_tpl_t;

/* A new set of templates (empty), or NULL when out of memory. It grows with the tables seen:
 * about 78 bytes per column, for up to 256 tables (more share those) and 1024 columns, and a
 * plan of a whole event (its constant runs and their text) for up to 1,024 event layouts (512
 * sets of two): a few KB for a usual table, at most 16 MB for all. */
rc_json_tpl_t *rc_json_tpl_new(void);
void rc_json_tpl_free(rc_json_tpl_t *t);

/* rc_json_write_event through the templates t (NULL: none), which it updates. ev_end: where
 * the event map ends when the caller has already walked it and checked it whole (rc_msg), else
 * NULL; a "kafka" member that is the map's last is then not read again (with t only). */
rc_err_t rc_json_write_event_tpl(rc_buf_t *out, rc_json_tpl_t *t, const uint8_t *data, size_t len,
                                 const uint8_t *ev_end, size_t *used);

/* For tests: how many changing numbers of the plan t last took copy their text from the event
 * before when their bytes repeat (0 without a plan). */
size_t rc_json_tpl_reps(const rc_json_tpl_t *t);

/* Appends s[0..n) as a JSON string literal, with the escaping above. */
rc_err_t rc_json_write_string(rc_buf_t *out, const char *s, size_t n);

/* The same for a string inside a bigger buffer (a msgpack event): the bytes from s up to lim
 * (lim >= s + n) may be read, so a short string is scanned with one 16-byte load. */
rc_err_t rc_json_write_string_in(rc_buf_t *out, const char *s, size_t n, const uint8_t *lim);

/* Appends the decimal text of an integer: mag, with a '-' before it when neg. */
rc_err_t rc_json_write_int(rc_buf_t *out, uint64_t mag, bool neg);

/* Appends an object member's name: ',' when comma, then k[0..n) as a JSON string and ':'. The
 * bytes from k up to lim (lim >= k + n) may be read. */
rc_err_t rc_json_write_member_name(rc_buf_t *out, bool comma, const char *k, size_t n,
                                   const uint8_t *lim);

/* The value at *pp (before end) written at o, which has room for RC_JSON_VALUE_ROOM bytes, as
 * rc_json_write writes it, when it is one of the usual values of a row: an int, nil, a bool, a
 * double, a str of up to 64 bytes with nothing to escape (more bytes up to end may be read), the
 * text of an ext 8 DECIMAL, temporal, ENUM or SET. Returns the end of the text and moves *pp past
 * the value; NULL (*pp unmoved, nothing written that counts) for any other value. */
#define RC_JSON_VALUE_ROOM 72
char *rc_json_value_at(char *o, const uint8_t **pp, const uint8_t *end);

/* The decimal digits of v written at o (up to 29 bytes may be written); returns their end. */
char *rc_json_uint_at(char *o, uint64_t v);

/* Appends s[0..n) as a quoted base64 string (standard alphabet, padded), as a bin is written. */
rc_err_t rc_json_write_base64(rc_buf_t *out, const uint8_t *s, size_t n);

#endif
