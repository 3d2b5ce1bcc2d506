/* rc_mysql_pos.c: where a stream can start, and whether the server still has it.
 *
 * Before a pipeline streams, its start (a saved GTID set, a file position, a start form) is
 * checked against what the server still has, so that a purged position stops the pipeline
 * with a sentence instead of silently skipping transactions. GTID dumps: MariaDB through its
 * connect state (@slave_connect_state, strict mode), MySQL through COM_BINLOG_DUMP_GTID.
 * Timestamp search reads binlogs with non-blocking dumps over extra connections. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_binlog.h"
#include "rc_buf.h"
#include "rc_gtid.h"
#include "rc_log.h"
#include "rc_mysql_int.h"

#define COM_BINLOG_DUMP_GTID_CMD 0x1e
#define BINLOG_THROUGH_GTID      0x04

rc_err_t rc_mysql_list_binlogs(rc_mysql_t *m, char ***names, uint64_t **sizes, size_t *n,
                               char *errstr, size_t errstr_size) {
    *names = NULL;
    *sizes = NULL;
    *n = 0;
    if (mysql_query(m->conn, "SHOW BINARY LOGS") != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL, "%s: SHOW BINARY LOGS failed: %s",
                         m->endpoint, mysql_error(m->conn));
    }
    MYSQL_RES *res = mysql_store_result(m->conn);
    if (!res) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                         "%s: SHOW BINARY LOGS returned no result: %s", m->endpoint,
                         mysql_error(m->conn));
    }
    size_t rows = (size_t)mysql_num_rows(res);
    rc_err_t err = RC_OK;
    *names = calloc(rows ? rows : 1, sizeof(char *));
    *sizes = calloc(rows ? rows : 1, sizeof(uint64_t));
    if (!*names || !*sizes) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    MYSQL_ROW row;
    while (err == RC_OK && (row = mysql_fetch_row(res)) != NULL) {
        (*names)[*n] = strdup(row[0] ? row[0] : "");
        (*sizes)[*n] = row[1] ? strtoull(row[1], NULL, 10) : 0;
        if (!(*names)[*n]) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    mysql_free_result(res);
    if (err == RC_OK && *n == 0) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s: SHOW BINARY LOGS lists no file: is log_bin enabled?", m->endpoint);
    }
    if (err != RC_OK) {
        rc_mysql_free_binlogs(*names, *sizes, *n);
        *names = NULL;
        *sizes = NULL;
        *n = 0;
    }
    return err;
}

void rc_mysql_free_binlogs(char **names, uint64_t *sizes, size_t n) {
    for (size_t i = 0; names && i < n; i++) {
        free(names[i]);
    }
    free(names);
    free(sizes);
}

rc_err_t rc_mysql_server_identity(rc_mysql_t *m, uint32_t *server_id, char *uuid, size_t uuid_size,
                                  char *errstr, size_t errstr_size) {
    char v[64];
    rc_err_t err =
        rc_mysql_query_value(m, "SELECT @@GLOBAL.server_id", 0, v, sizeof(v), errstr, errstr_size);
    if (err != RC_OK) {
        return err;
    }
    *server_id = (uint32_t)strtoul(v, NULL, 10);
    uuid[0] = '\0';
    if (!m->mariadb) {
        err = rc_mysql_query_value(m, "SELECT @@GLOBAL.server_uuid", 0, uuid, uuid_size, errstr,
                                   errstr_size);
    }
    return err;
}

/* Quotes a binlog file name for SQL (names are plain, but a quote must never end the string). */
static bool sql_safe_name(const char *s) {
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\') {
            return false;
        }
    }
    return true;
}

rc_err_t rc_mysql_gtid_at(rc_mysql_t *m, const char *file, uint64_t pos, char *out, size_t out_size,
                          char *errstr, size_t errstr_size) {
    char sql[600];
    if (!sql_safe_name(file)) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "binlog file name %s is not valid",
                         file);
    }
    snprintf(sql, sizeof(sql), "SELECT BINLOG_GTID_POS('%s', %" PRIu64 ")", file, pos);
    rc_err_t err = rc_mysql_query_value(m, sql, 0, out, out_size, errstr, errstr_size);
    if (err == RC_ERR_EOF) {
        out[0] = '\0';
        return RC_OK;
    }
    return err;
}

rc_err_t rc_mysql_check_file_pos(rc_mysql_t *m, const char *file, uint64_t pos, char *errstr,
                                 size_t errstr_size) {
    char **names;
    uint64_t *sizes;
    size_t n;
    rc_err_t err = rc_mysql_list_binlogs(m, &names, &sizes, &n, errstr, errstr_size);
    if (err != RC_OK) {
        return err;
    }
    size_t i = 0;
    while (i < n && strcmp(names[i], file) != 0) {
        i++;
    }
    if (i == n) {
        bool older = strcmp(file, names[0]) < 0;
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s no longer has binlog file %s (its binlogs are %s to %s)%s; the "
                        "changes after %s:%" PRIu64
                        " cannot be read. To recover, re-snapshot the tables and set "
                        "source.start (e.g. earliest or latest) after deleting the pipeline's "
                        "state record, or restore the purged binlogs",
                        m->endpoint, file, names[0], names[n - 1],
                        older ? ": it was purged" : ": it is not a file of this server", file, pos);
    } else if (pos > sizes[i]) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s: position %" PRIu64 " is beyond the end of binlog file %s (%" PRIu64
                        " bytes); is this the right server?",
                        m->endpoint, pos, file, sizes[i]);
    }
    rc_mysql_free_binlogs(names, sizes, n);
    return err;
}

static rc_err_t check_gtid_mariadb(rc_mysql_t *m, const rc_gtid_set_t *executed, char *errstr,
                                   size_t errstr_size) {
    char **names;
    uint64_t *sizes;
    size_t n;
    rc_err_t err = rc_mysql_list_binlogs(m, &names, &sizes, &n, errstr, errstr_size);
    if (err != RC_OK) {
        return err;
    }
    char *first_state = malloc(65536), *binlog_state = malloc(65536);
    rc_gtid_set_t *first = rc_gtid_set_new(RC_GTID_MARIADB);
    rc_gtid_set_t *server = rc_gtid_set_new(RC_GTID_MARIADB);
    rc_buf_t have = RC_BUF_INIT;
    if (!first_state || !binlog_state || !first || !server) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* The GTID state at the start of the oldest file: what came before it is gone. */
    if ((err = rc_mysql_gtid_at(m, names[0], 4, first_state, 65536, errstr, errstr_size)) !=
            RC_OK ||
        (err = rc_mysql_query_value(m, "SELECT @@GLOBAL.gtid_binlog_state", 0, binlog_state, 65536,
                                    errstr, errstr_size)) != RC_OK) {
        goto done;
    }
    if ((err = rc_gtid_set_parse(first, first_state, errstr, errstr_size)) != RC_OK ||
        (err = rc_gtid_set_parse(server, binlog_state, errstr, errstr_size)) != RC_OK) {
        goto done;
    }
    rc_gtid_set_format_connect(executed, &have);
    rc_buf_putc(&have, '\0');
    for (size_t i = 0; i < rc_gtid_set_count(first); i++) {
        uint32_t d, s;
        uint64_t seq, mine = 0;
        rc_gtid_set_maria_at(first, i, &d, &s, &seq);
        bool known = rc_gtid_set_domain_seq(executed, d, &mine);
        if (seq > 0 && (!known || mine < seq)) {
            char after[64];
            if (known) {
                snprintf(after, sizeof(after), "after sequence number %" PRIu64, mine);
            } else {
                snprintf(after, sizeof(after), "from its start");
            }
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "%s no longer has the transactions of GTID domain %" PRIu32
                            " %s up to %" PRIu32 "-%" PRIu32 "-%" PRIu64
                            ": its oldest binlog %s starts at GTID state [%s] and the position "
                            "to resume from is [%s]; they were purged. To recover, re-snapshot "
                            "the tables and start the pipeline afresh (delete its state record "
                            "or use another state.topic, with source.start latest), or restore "
                            "the purged binlogs",
                            m->endpoint, d, after, d, s, seq, names[0], first_state, have.data);
            goto done;
        }
    }
    for (size_t i = 0; i < rc_gtid_set_count(executed); i++) {
        uint32_t d, s;
        uint64_t seq, theirs = 0;
        rc_gtid_set_maria_at(executed, i, &d, &s, &seq);
        if (!rc_gtid_set_domain_seq(server, d, &theirs) || theirs < seq) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                            "the position to resume from [%s] is ahead of %s, whose binlog "
                            "state is [%s]: GTID %" PRIu32 "-%" PRIu32 "-%" PRIu64
                            " is not in its binlog. Was the binlog reset, or is this another "
                            "server? Delete the pipeline's state record to start afresh",
                            have.data, m->endpoint, binlog_state, d, s, seq);
            goto done;
        }
    }
done:
    rc_buf_free(&have);
    rc_gtid_set_destroy(first);
    rc_gtid_set_destroy(server);
    free(first_state);
    free(binlog_state);
    rc_mysql_free_binlogs(names, sizes, n);
    return err;
}

static rc_err_t check_gtid_mysql(rc_mysql_t *m, const rc_gtid_set_t *executed, char *errstr,
                                 size_t errstr_size) {
    char *purged = malloc(65536), *server_exec = malloc(65536);
    rc_gtid_set_t *missing = rc_gtid_set_new(RC_GTID_MYSQL);
    rc_gtid_set_t *ahead = rc_gtid_set_copy(executed);
    rc_gtid_set_t *srv = rc_gtid_set_new(RC_GTID_MYSQL);
    rc_buf_t a = RC_BUF_INIT, b = RC_BUF_INIT;
    rc_err_t err = RC_OK;
    if (!purged || !server_exec || !missing || !ahead || !srv) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((err = rc_mysql_query_value(m, "SELECT @@GLOBAL.gtid_purged", 0, purged, 65536, errstr,
                                    errstr_size)) != RC_OK ||
        (err = rc_mysql_query_value(m, "SELECT @@GLOBAL.gtid_executed", 0, server_exec, 65536,
                                    errstr, errstr_size)) != RC_OK ||
        (err = rc_gtid_set_parse(missing, purged, errstr, errstr_size)) != RC_OK ||
        (err = rc_gtid_set_parse(srv, server_exec, errstr, errstr_size)) != RC_OK) {
        goto done;
    }
    rc_gtid_set_subtract(missing, executed); /* purged and never read */
    rc_gtid_set_subtract(ahead, srv);        /* read, yet unknown to the server */
    if (!rc_gtid_set_is_empty(missing)) {
        rc_gtid_set_format(missing, &a);
        rc_buf_putc(&a, '\0');
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "%s has purged transactions the pipeline has not read: %s. To recover, "
                        "re-snapshot the tables and start the pipeline afresh (delete its state "
                        "record or use another state.topic), or restore the purged binlogs",
                        m->endpoint, a.data);
    } else if (!rc_gtid_set_is_empty(ahead)) {
        rc_gtid_set_format(ahead, &b);
        rc_buf_putc(&b, '\0');
        err = rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                        "the position to resume from holds transactions %s that %s does not "
                        "have: was the binlog reset, or is this another server?",
                        b.data, m->endpoint);
    }
done:
    rc_buf_free(&a);
    rc_buf_free(&b);
    rc_gtid_set_destroy(missing);
    rc_gtid_set_destroy(ahead);
    rc_gtid_set_destroy(srv);
    free(purged);
    free(server_exec);
    return err;
}

rc_err_t rc_mysql_check_gtid(rc_mysql_t *m, const rc_gtid_set_t *executed, char *errstr,
                             size_t errstr_size) {
    rc_gtid_flavor_t want = m->mariadb ? RC_GTID_MARIADB : RC_GTID_MYSQL;
    if (rc_gtid_set_flavor(executed) != want) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "%s is %s but the GTID set to start from is in %s form", m->endpoint,
                         m->mariadb ? "MariaDB" : "MySQL",
                         m->mariadb ? "MySQL's uuid:n" : "MariaDB's domain-server-seq");
    }
    return m->mariadb ? check_gtid_mariadb(m, executed, errstr, errstr_size)
                      : check_gtid_mysql(m, executed, errstr, errstr_size);
}

static rc_err_t put_le(rc_buf_t *out, uint64_t v, int n) {
    uint8_t b[8];
    for (int i = 0; i < n; i++) {
        b[i] = (uint8_t)(v >> (8 * i));
    }
    return rc_buf_append(out, b, (size_t)n);
}

rc_err_t rc_mysql_dump_gtid_payload(uint16_t flags, uint32_t server_id, const char *file,
                                    uint64_t pos, const rc_gtid_set_t *executed, rc_buf_t *out) {
    size_t flen = strlen(file);
    rc_buf_t data = RC_BUF_INIT;
    rc_err_t err = rc_gtid_set_encode_mysql(executed, &data);
    if (err == RC_OK && data.len > UINT32_MAX) {
        err = RC_ERR_INVALID;
    }
    if (err == RC_OK) {
        flags |= BINLOG_THROUGH_GTID;
        if ((err = put_le(out, flags, 2)) || (err = put_le(out, server_id, 4)) ||
            (err = put_le(out, flen, 4)) || (err = rc_buf_append(out, file, flen)) ||
            (err = put_le(out, pos, 8)) || (err = put_le(out, data.len, 4)) ||
            (err = rc_buf_append(out, data.data, data.len))) {
            /* err set */
        }
    }
    rc_buf_free(&data);
    return err;
}

rc_err_t rc_mysql_dump_gtid(rc_mysql_t *m, const rc_gtid_set_t *executed, uint32_t server_id,
                            char *errstr, size_t errstr_size) {
    rc_buf_t state = RC_BUF_INIT;
    rc_err_t err = RC_OK;
    if (m->mariadb) {
        if (rc_gtid_set_format_connect(executed, &state) != RC_OK) {
            return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        rc_buf_t sql = RC_BUF_INIT;
        rc_buf_printf(&sql,
                      "SET @slave_connect_state = '%.*s', @slave_gtid_strict_mode = 1, "
                      "@slave_gtid_ignore_duplicates = 0",
                      (int)state.len, state.data ? state.data : "");
        rc_buf_putc(&sql, '\0');
        err = sql.data ? rc_mysql_exec(m, sql.data, errstr, errstr_size)
                       : rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        rc_buf_free(&sql);
        rc_buf_free(&state);
        if (err != RC_OK) {
            return err;
        }
        /* With a connect state the server ignores the file name and position. */
        rc_mysql_position_t none = {"", 4};
        return rc_mysql_dump(m, &none, server_id, 0, errstr, errstr_size);
    }
    if ((err = rc_mysql_dump_gtid_payload(0, server_id, "", 4, executed, &state)) != RC_OK) {
        rc_buf_free(&state);
        return rc_seterr(errstr, errstr_size, err, "cannot encode the GTID set for the dump");
    }
    if (m->conn->methods->db_command(m->conn, COM_BINLOG_DUMP_GTID_CMD, state.data, state.len, 1,
                                     NULL) != 0) {
        err = rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: binlog dump request failed: %s",
                        m->endpoint, mysql_error(m->conn));
    }
    rc_buf_free(&state);
    return err;
}

/* ---- timestamp search ---- */

static bool include_none(void *opaque, const char *schema, const char *table) {
    (void)opaque;
    (void)schema;
    (void)table;
    return false;
}

/* A non-blocking dump from file:4 to the end of the binlog over its own connection, decoded
 * without packing any row (the include callback takes no table). */
typedef struct {
    rc_mysql_t *m;
    rc_binlog_t *dec;
    msgpack_sbuffer sb;
    msgpack_packer pk;
} file_reader_t;

static void reader_close(file_reader_t *r) {
    msgpack_sbuffer_destroy(&r->sb);
    rc_binlog_destroy(r->dec);
    rc_mysql_destroy(r->m);
}

static rc_err_t reader_open(file_reader_t *r, const rc_source_config_t *conf, const char *file,
                            char *errstr, size_t errstr_size) {
    memset(r, 0, sizeof(*r));
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&r->pk, &r->sb, msgpack_sbuffer_write);
    if (!(r->m = rc_mysql_connect(conf, errstr, errstr_size))) {
        return RC_ERR_CONNECT;
    }
    rc_binlog_opts_t opts;
    rc_binlog_opts_init(&opts);
    opts.include = include_none;
    if (!(r->dec = rc_binlog_new(&opts))) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    rc_mysql_position_t from;
    snprintf(from.file, sizeof(from.file), "%s", file);
    from.pos = 4;
    rc_err_t err = rc_mysql_prepare_replication(r->m, conf->heartbeat_s, errstr, errstr_size);
    if (err == RC_OK) {
        err = rc_binlog_set_position(r->dec, file, 4);
    }
    if (err == RC_OK) {
        err = rc_mysql_dump(r->m, &from, conf->server_id, RC_BINLOG_DUMP_NON_BLOCK, errstr,
                            errstr_size);
    }
    return err;
}

/* Decodes the next event; *before is where it began. RC_ERR_EOF at the end of the binlog. */
static rc_err_t reader_next(file_reader_t *r, rc_binlog_info_t *info, char *file, size_t file_size,
                            uint64_t *before, char *errstr, size_t errstr_size) {
    const uint8_t *ev;
    size_t len;
    rc_err_t err = rc_mysql_read_event(r->m, &ev, &len, errstr, errstr_size);
    if (err != RC_OK) {
        return err;
    }
    snprintf(file, file_size, "%s", rc_binlog_file(r->dec));
    *before = rc_binlog_pos(r->dec);
    r->sb.size = 0;
    return rc_binlog_feed(r->dec, ev, len, &r->pk, info, errstr, errstr_size);
}

/* Reads the binlog from file:4 onwards (following rotations, to the end) and stops at the first
 * transaction that began at or after `time`, or at the first transaction at all when `first`.
 * *found says whether one was found; *at is its position and *ts its time. */
static rc_err_t scan(const rc_source_config_t *conf, const char *file, int64_t time, bool first,
                     bool *found, rc_mysql_position_t *at, uint32_t *ts, char *errstr,
                     size_t errstr_size) {
    *found = false;
    file_reader_t r;
    rc_err_t err = reader_open(&r, conf, file, errstr, errstr_size);
    bool in_tx = false;
    while (err == RC_OK) {
        char cur[256];
        uint64_t before;
        rc_binlog_info_t info;
        err = reader_next(&r, &info, cur, sizeof(cur), &before, errstr, errstr_size);
        if (err != RC_OK) {
            break;
        }
        if (info.begin && !in_tx) {
            in_tx = true;
            if (first || (int64_t)info.header.timestamp >= time) {
                *found = true;
                snprintf(at->file, sizeof(at->file), "%s", cur);
                at->pos = before;
                *ts = info.header.timestamp;
                break;
            }
        }
        if (info.commit) {
            in_tx = false;
        }
    }
    reader_close(&r);
    return err == RC_ERR_EOF ? RC_OK : err;
}

rc_err_t rc_mysql_gtid_at_mysql(const rc_source_config_t *conf, const char *file, uint64_t pos,
                                rc_gtid_set_t *executed, char *errstr, size_t errstr_size) {
    rc_gtid_set_t *set = rc_gtid_set_new(RC_GTID_MYSQL);
    if (!set) {
        return rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
    }
    file_reader_t r;
    rc_err_t err = reader_open(&r, conf, file, errstr, errstr_size);
    bool seen_prev = false;
    uint64_t n_gtids = 0;
    while (err == RC_OK) {
        char cur[256];
        uint64_t before;
        rc_binlog_info_t info;
        err = reader_next(&r, &info, cur, sizeof(cur), &before, errstr, errstr_size);
        if (err != RC_OK) {
            break;
        }
        if (strcmp(rc_binlog_file(r.dec), file) != 0 || (before >= pos && seen_prev)) {
            break; /* past the position (or into the next file) */
        }
        if (info.previous_gtids) {
            seen_prev = true;
            err = rc_gtid_set_parse(set, rc_binlog_previous_gtids(r.dec), errstr, errstr_size);
        } else if (info.commit && rc_binlog_pos(r.dec) <= pos && rc_binlog_gtid(r.dec)[0]) {
            err = rc_gtid_set_add(set, rc_binlog_gtid(r.dec), errstr, errstr_size);
            n_gtids++;
        }
    }
    if (err == RC_ERR_EOF) {
        err = RC_OK;
    }
    if (err == RC_OK && (err = rc_gtid_set_merge(executed, set)) == RC_OK) {
        rc_buf_t t = RC_BUF_INIT;
        rc_gtid_set_format(set, &t);
        rc_buf_putc(&t, '\0');
        rc_info("source",
                "%s: the executed GTID set at %s:%" PRIu64
                " is [%s] (PREVIOUS_GTIDS of the file and %" PRIu64 " transactions before)",
                rc_mysql_endpoint(r.m), file, pos, t.data ? t.data : "", n_gtids);
        rc_buf_free(&t);
    }
    reader_close(&r);
    rc_gtid_set_destroy(set);
    return err;
}

rc_err_t rc_mysql_find_time(const rc_source_config_t *conf, int64_t time, rc_mysql_position_t *out,
                            char *errstr, size_t errstr_size) {
    rc_mysql_t *m = rc_mysql_connect(conf, errstr, errstr_size);
    if (!m) {
        return RC_ERR_CONNECT;
    }
    char **names;
    uint64_t *sizes;
    size_t n;
    rc_err_t err = rc_mysql_list_binlogs(m, &names, &sizes, &n, errstr, errstr_size);
    rc_mysql_destroy(m);
    if (err != RC_OK) {
        return err;
    }
    /* The newest file whose first transaction is older than the time: the search starts there
     * (or at the oldest file). */
    size_t from = 0;
    for (size_t i = n; i-- > 0;) {
        bool found;
        rc_mysql_position_t at;
        uint32_t ts = 0;
        if ((err = scan(conf, names[i], 0, true, &found, &at, &ts, errstr, errstr_size)) != RC_OK) {
            goto done;
        }
        if (found && (int64_t)ts < time && strcmp(at.file, names[i]) == 0) {
            from = i;
            break;
        }
    }
    bool found;
    uint32_t ts;
    if ((err = scan(conf, names[from], time, false, &found, out, &ts, errstr, errstr_size)) !=
        RC_OK) {
        goto done;
    }
    if (!found) { /* every transaction is older: start at the end */
        snprintf(out->file, sizeof(out->file), "%s", names[n - 1]);
        out->pos = sizes[n - 1];
    }
    rc_info("source",
            "timestamp %" PRId64 ": the first transaction at or after it is at %s:%" PRIu64, time,
            out->file, out->pos);
done:
    rc_mysql_free_binlogs(names, sizes, n);
    return err;
}
