/* rc_start.h: the forms of source.start, parsed once for the config check and the reader.
 *
 *   earliest               the oldest binlog file the server still has
 *   latest                 the current end of the binlog
 *   gtid:<set>             after the transactions of a GTID set (MySQL uuid:1-5,... or MariaDB
 *                          d-s-n,...; the flavor is read from the set's form)
 *   file:<name>:<pos>      a binlog file and a position (>= 4) in it
 *   timestamp:<iso8601>    the first transaction committed at or after the time, e.g.
 *                          2024-05-01T12:00:00Z, 2024-05-01T14:00:00+02:00 or 2024-05-01 12:00:00
 *                          (no zone = UTC)
 * Used only when the pipeline has no stored position. */
#ifndef RC_START_H
#define RC_START_H

#include <stddef.h>
#include <stdint.h>

#include "rc_err.h"
#include "rc_gtid.h"

typedef enum rc_start_kind {
    RC_START_EARLIEST = 0,
    RC_START_LATEST,
    RC_START_GTID,
    RC_START_FILE,
    RC_START_TIMESTAMP,
} rc_start_kind_t;

typedef struct rc_start {
    rc_start_kind_t kind;
    char file[256];      /* FILE */
    uint64_t pos;        /* FILE */
    rc_gtid_set_t *gtid; /* GTID; owned, freed by rc_start_clear */
    int64_t time;        /* TIMESTAMP: seconds since the epoch, UTC */
} rc_start_t;

/* Parses spec (NULL = earliest). errstr gets a phrase saying what is wrong with the value
 * (the caller adds the key). */
rc_err_t rc_start_parse(const char *spec, rc_start_t *out, char *errstr, size_t errstr_size);
void rc_start_clear(rc_start_t *s);

/* ISO 8601 date-time to seconds since the epoch. */
rc_err_t rc_start_parse_time(const char *text, int64_t *out);

#endif
