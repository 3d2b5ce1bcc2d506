/* rc_mysql.h: one replication connection to a MySQL or MariaDB server.
 *
 * Connector/C connects, authenticates (optionally over TLS) and runs the setup queries; the
 * binlog dump request is sent and its packets read as raw bytes here, because Connector/C's
 * own replication API does not understand MySQL 8 events. Decoding is rc_binlog's job.
 * @thread reader (a connection belongs to the pipeline's reader thread) */
#ifndef RC_MYSQL_H
#define RC_MYSQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rc_buf.h"
#include "rc_config.h"
#include "rc_err.h"

typedef struct rc_mysql rc_mysql_t;

typedef struct rc_mysql_position {
    char file[512];
    uint64_t pos;
} rc_mysql_position_t;

/* Connects and logs in. errstr names the host (or socket) and the server's message.
 * The caller owns the result; free it with rc_mysql_destroy. */
rc_mysql_t *rc_mysql_connect(const rc_source_config_t *conf, char *errstr, size_t errstr_size);
void rc_mysql_destroy(rc_mysql_t *m);

/* "host:port" or the socket path, for messages. */
const char *rc_mysql_endpoint(const rc_mysql_t *m);
bool rc_mysql_is_mariadb(const rc_mysql_t *m);
const char *rc_mysql_server_version(const rc_mysql_t *m);

/* Runs a query whose result is discarded. */
rc_err_t rc_mysql_exec(rc_mysql_t *m, const char *sql, char *errstr, size_t errstr_size);

/* The column names of schema.table from information_schema.COLUMNS, in column order, appended
 * to names as NUL-terminated strings; *n is their number (0 when the table does not exist). */
rc_err_t rc_mysql_column_names(rc_mysql_t *m, const char *schema, const char *table,
                               rc_buf_t *names, uint32_t *n, char *errstr, size_t errstr_size);

/* Checks binlog_format=ROW (and, as a warning, binlog_row_metadata=FULL), then sets the
 * session variables a replica sets: checksum, heartbeat period, MariaDB slave capability. */
rc_err_t rc_mysql_prepare_replication(rc_mysql_t *m, double heartbeat_s, char *errstr,
                                      size_t errstr_size);

/* Resolves a start spec (earliest, latest or file:NAME:POS) to a file position. */
rc_err_t rc_mysql_resolve_start(rc_mysql_t *m, const char *start, rc_mysql_position_t *out,
                                char *errstr, size_t errstr_size);

/* Sends COM_BINLOG_DUMP from pos with our server_id. */
rc_err_t rc_mysql_dump(rc_mysql_t *m, const rc_mysql_position_t *pos, uint32_t server_id,
                       char *errstr, size_t errstr_size);

/* True when a whole or partial packet is already buffered in user space (Connector/C's
 * read-ahead cache or TLS), so that polling the socket would not see it. */
bool rc_mysql_has_buffered(rc_mysql_t *m);
int rc_mysql_fd(rc_mysql_t *m);

/* Reads the next binlog event of the dump. On success (*ev, *len) is the event (the OK byte is
 * stripped), valid until the next call. RC_ERR_EOF when the server ended the stream,
 * RC_ERR_IO/RC_ERR_PROTOCOL with a sentence otherwise. Blocks until data arrives. */
rc_err_t rc_mysql_read_event(rc_mysql_t *m, const uint8_t **ev, size_t *len, char *errstr,
                             size_t errstr_size);

#endif
