/* rc_json.h: msgpack -> JSON text, the hot path of the JSON sink.
 *
 * Reads msgpack bytes directly (no unpacking into a tree) and appends compact JSON:
 *   nil -> null, bool, int/uint exact, float32/64 shortest round-trip text (NaN/Inf -> null),
 *   str -> JSON string (escapes: \" \\ \b \f \n \r \t, other controls < 0x20 as \u00XX,
 *          U+2028/U+2029 as \u2028/\u2029, everything else valid UTF-8 as-is; every byte of
 *          an invalid UTF-8 sequence becomes \ufffd),
 *   bin -> base64 string (standard alphabet, padded),
 *   array -> [..], map -> {..} (keys: str as is; other key types written as their JSON text
 *          inside a string),
 *   ext RC_EXT_JSON -> the payload inlined as JSON; other rc_ext_type -> payload as a string;
 *   unknown ext -> base64 string of the payload.
 * @thread any (pure functions) */
#ifndef RC_JSON_H
#define RC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_err.h"

/* Appends the JSON text of the one msgpack object at data[0..len) to out and sets *used to
 * the bytes it took. RC_ERR_TRUNCATED when the object does not end inside len,
 * RC_ERR_INVALID for a byte that starts no msgpack object (0xc1) or nesting deeper than 64. On
 * error out may hold a partial document; truncate it back to what it was if you keep it. */
rc_err_t rc_json_write(rc_buf_t *out, const uint8_t *data, size_t len, size_t *used);

/* Appends s[0..n) as a JSON string literal, with the escaping above. */
rc_err_t rc_json_write_string(rc_buf_t *out, const char *s, size_t n);

#endif
