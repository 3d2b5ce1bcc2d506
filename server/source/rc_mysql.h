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
 * to names as NUL-terminated strings; *n is their number (0 when the table does not exist).
 * The primary key's column indexes (uint32_t, key order; from information_schema.STATISTICS)
 * are appended to pk. */
rc_err_t rc_mysql_column_names(rc_mysql_t *m, const char *schema, const char *table,
                               rc_buf_t *names, uint32_t *n, rc_buf_t *pk, char *errstr,
                               size_t errstr_size);

/* Checks binlog_format=ROW (and, as a warning, binlog_row_metadata=FULL), then sets the
 * session variables a replica sets: checksum, heartbeat period, MariaDB slave capability. */
rc_err_t rc_mysql_prepare_replication(rc_mysql_t *m, double heartbeat_s, char *errstr,
                                      size_t errstr_size);

/* Resolves a start spec (earliest, latest or file:NAME:POS) to a file position. */
rc_err_t rc_mysql_resolve_start(rc_mysql_t *m, const char *start, rc_mysql_position_t *out,
                                char *errstr, size_t errstr_size);

/* Runs sql and copies column `col` of the first row into out. RC_ERR_EOF when no row. */
rc_err_t rc_mysql_query_value(rc_mysql_t *m, const char *sql, unsigned int col, char *out,
                              size_t out_size, char *errstr, size_t errstr_size);

#define RC_BINLOG_DUMP_NON_BLOCK 0x01 /* end the stream (EOF) at the end of the binlog */

/* Sends COM_BINLOG_DUMP from pos with our server_id. */
rc_err_t rc_mysql_dump(rc_mysql_t *m, const rc_mysql_position_t *pos, uint32_t server_id,
                       uint16_t flags, char *errstr, size_t errstr_size);

/* True when a whole or partial packet is already buffered in user space (Connector/C's
 * read-ahead cache or TLS), so that polling the socket would not see it. */
bool rc_mysql_has_buffered(rc_mysql_t *m);
int rc_mysql_fd(rc_mysql_t *m);

/* Reads the next binlog event of the dump. On success (*ev, *len) is the event (the OK byte is
 * stripped), valid until the next call. RC_ERR_EOF when the server ended the stream,
 * RC_ERR_IO/RC_ERR_PROTOCOL with a sentence otherwise. Blocks until data arrives. */
rc_err_t rc_mysql_read_event(rc_mysql_t *m, const uint8_t **ev, size_t *len, char *errstr,
                             size_t errstr_size);

/* ---- positions (rc_mysql_pos.c) ---- */

struct rc_gtid_set;

/* The binlog files the server has, oldest first, with their sizes. The caller frees *names
 * (one allocation per name and the array) with rc_mysql_free_binlogs. */
rc_err_t rc_mysql_list_binlogs(rc_mysql_t *m, char ***names, uint64_t **sizes, size_t *n,
                               char *errstr, size_t errstr_size);
void rc_mysql_free_binlogs(char **names, uint64_t *sizes, size_t n);

/* The source's @@server_id and (MySQL) @@server_uuid. */
rc_err_t rc_mysql_server_identity(rc_mysql_t *m, uint32_t *server_id, char *uuid, size_t uuid_size,
                                  char *errstr, size_t errstr_size);

/* MariaDB: the GTID state (connect-state form) at file:pos, from BINLOG_GTID_POS(). */
rc_err_t rc_mysql_gtid_at(rc_mysql_t *m, const char *file, uint64_t pos, char *out, size_t out_size,
                          char *errstr, size_t errstr_size);

/* MySQL: the executed GTID set at file:pos, added to `executed`: the file's PREVIOUS_GTIDS and
 * the GTIDs of its transactions that end at or before pos, read from file:4 over an extra
 * connection made with conf (MySQL has no BINLOG_GTID_POS). */
rc_err_t rc_mysql_gtid_at_mysql(const rc_source_config_t *conf, const char *file, uint64_t pos,
                                struct rc_gtid_set *executed, char *errstr, size_t errstr_size);

/* Checks that the server still has the binlog after file:pos; errstr says what is missing
 * and how to recover. */
rc_err_t rc_mysql_check_file_pos(rc_mysql_t *m, const char *file, uint64_t pos, char *errstr,
                                 size_t errstr_size);

/* Checks that the server still has every transaction after the executed set (MariaDB: its
 * connect state against the oldest binlog's GTID list; MySQL: against gtid_purged), and that
 * the set is not ahead of the server's binlog. */
rc_err_t rc_mysql_check_gtid(rc_mysql_t *m, const struct rc_gtid_set *executed, char *errstr,
                             size_t errstr_size);

/* MariaDB: starts the dump after the connect state of `executed` (@slave_connect_state, strict
 * mode). MySQL: COM_BINLOG_DUMP_GTID with the executed set. */
rc_err_t rc_mysql_dump_gtid(rc_mysql_t *m, const struct rc_gtid_set *executed, uint32_t server_id,
                            char *errstr, size_t errstr_size);

/* The payload of MySQL's COM_BINLOG_DUMP_GTID after the command byte (flags, server_id, file
 * name, position, GTID data), appended to out. */
struct rc_buf;
rc_err_t rc_mysql_dump_gtid_payload(uint16_t flags, uint32_t server_id, const char *file,
                                    uint64_t pos, const struct rc_gtid_set *executed,
                                    struct rc_buf *out);

/* Finds the first transaction that started at or after `time` (s since the epoch) by reading
 * the binlogs over extra connections made with conf: *out is its position, or the end of the
 * binlog when every transaction is older. */
rc_err_t rc_mysql_find_time(const rc_source_config_t *conf, int64_t time, rc_mysql_position_t *out,
                            char *errstr, size_t errstr_size);

#endif
