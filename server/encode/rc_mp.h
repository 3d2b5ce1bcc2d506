/* rc_mp.h: a small reader over raw msgpack bytes.
 *
 * Lets the worker pick fields out of an event (kafka.topic, kafka.key) and skip the rest
 * without unpacking it into a tree. All functions check bounds and never read past end.
 * @thread any */
#ifndef RC_MP_H
#define RC_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_err.h"

/* Advances *p past one whole object (recursively). */
rc_err_t rc_mp_skip(const uint8_t **p, const uint8_t *end);

/* If *p is a map, sets *n to its entry count and advances past the header. */
rc_err_t rc_mp_read_map(const uint8_t **p, const uint8_t *end, uint32_t *n);
rc_err_t rc_mp_read_array(const uint8_t **p, const uint8_t *end, uint32_t *n);
/* Reads a str (not bin); *s points into the buffer. */
rc_err_t rc_mp_read_str(const uint8_t **p, const uint8_t *end, const char **s, uint32_t *n);
bool rc_mp_is_nil(const uint8_t *p, const uint8_t *end);

/* Finds key in the map at map (whose bytes end before end). On success *val points at the
 * value. RC_ERR_EOF when the key is absent; RC_ERR_INVALID when map is not a map. */
rc_err_t rc_mp_map_find(const uint8_t *map, const uint8_t *end, const char *key,
                        const uint8_t **val);

#endif
