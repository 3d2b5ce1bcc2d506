/* rc_mysql.c: replication connection on top of MariaDB Connector/C.
 *
 * Connector/C does the handshake, auth plugins, TLS and query round-trips; the dump command is
 * sent through its command method and the stream read packet by packet with
 * mysql_net_read_packet, which reassembles packets over 16 MiB and turns error packets into
 * mysql_error(). */
#include "rc_mysql.h"

#include <errno.h>
#include <mysql.h>
#include <ma_pvio.h> /* after mysql.h, which it needs */
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_log.h"
#include "rc_mysql_int.h"

static const char *my_err(rc_mysql_t *m) {
    return mysql_error(m->conn);
}

rc_mysql_t *rc_mysql_connect(const rc_source_config_t *conf, char *errstr, size_t errstr_size) {
    rc_mysql_t *m = calloc(1, sizeof(*m));
    if (!m) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (conf->socket && conf->socket[0]) {
        snprintf(m->endpoint, sizeof(m->endpoint), "%s", conf->socket);
    } else {
        snprintf(m->endpoint, sizeof(m->endpoint), "%s:%d", conf->host, conf->port);
    }
    m->conn = mysql_init(NULL);
    if (!m->conn) {
        rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        goto fail;
    }
    unsigned int ct = conf->connect_timeout_s > 1 ? (unsigned int)conf->connect_timeout_s : 1;
    unsigned int rt = conf->read_timeout_s > 1 ? (unsigned int)conf->read_timeout_s : 1;
    mysql_options(m->conn, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(m->conn, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_options(m->conn, MYSQL_OPT_WRITE_TIMEOUT, &rt);
    mysql_options(m->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    my_bool off = 0, on = 1;
    switch (conf->tls_mode) {
    case RC_TLS_DISABLED:
        mysql_optionsv(m->conn, MYSQL_OPT_SSL_ENFORCE, &off);
        break;
    case RC_TLS_PREFERRED:
        mysql_ssl_set(m->conn, conf->tls_key, conf->tls_cert, conf->tls_ca, NULL, NULL);
        break;
    case RC_TLS_REQUIRED:
        mysql_ssl_set(m->conn, conf->tls_key, conf->tls_cert, conf->tls_ca, NULL, NULL);
        mysql_optionsv(m->conn, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_optionsv(m->conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
        break;
    case RC_TLS_VERIFY_CA:
    case RC_TLS_VERIFY_IDENTITY:
        /* Connector/C checks the chain and the host name together. */
        mysql_ssl_set(m->conn, conf->tls_key, conf->tls_cert, conf->tls_ca, NULL, NULL);
        mysql_optionsv(m->conn, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_optionsv(m->conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
        break;
    }
    const char *host = conf->socket && conf->socket[0] ? "localhost" : conf->host;
    if (!mysql_real_connect(m->conn, host, conf->user, conf->password, NULL,
                            (unsigned int)conf->port, conf->socket, 0)) {
        rc_seterr(errstr, errstr_size, RC_ERR_CONNECT, "cannot connect to %s as '%s': %s",
                  m->endpoint, conf->user, my_err(m));
        goto fail;
    }
    m->tls = mysql_get_ssl_cipher(m->conn) != NULL;
    m->mariadb = strstr(mysql_get_server_info(m->conn), "MariaDB") != NULL;
    return m;
fail:
    rc_mysql_destroy(m);
    return NULL;
}

void rc_mysql_destroy(rc_mysql_t *m) {
    if (!m) {
        return;
    }
    if (m->conn) {
        mysql_close(m->conn);
    }
    free(m);
}

const char *rc_mysql_endpoint(const rc_mysql_t *m) {
    return m->endpoint;
}

bool rc_mysql_is_mariadb(const rc_mysql_t *m) {
    return m->mariadb;
}

const char *rc_mysql_server_version(const rc_mysql_t *m) {
    return mysql_get_server_info(m->conn);
}

rc_err_t rc_mysql_exec(rc_mysql_t *m, const char *sql, char *errstr, size_t errstr_size) {
    if (mysql_query(m->conn, sql) != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL, "%s: query \"%s\" failed: %s",
                         m->endpoint, sql, my_err(m));
    }
    MYSQL_RES *res = mysql_store_result(m->conn);
    if (res) {
        mysql_free_result(res);
    }
    return RC_OK;
}

/* Runs sql and appends column 0 of every row to out as NUL-terminated strings; *n counts them. */
static rc_err_t query_names(rc_mysql_t *m, const char *sql, const char *what, const char *schema,
                            const char *table, rc_buf_t *out, uint32_t *n, char *errstr,
                            size_t errstr_size) {
    if (mysql_query(m->conn, sql) != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                         "%s: reading the %s of %s.%s from information_schema failed: %s",
                         m->endpoint, what, schema, table, my_err(m));
    }
    MYSQL_RES *res = mysql_store_result(m->conn);
    if (!res) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                         "%s: reading the %s of %s.%s from information_schema gave no "
                         "result: %s",
                         m->endpoint, what, schema, table, my_err(m));
    }
    rc_err_t err = RC_OK;
    MYSQL_ROW row;
    *n = 0;
    while (err == RC_OK && (row = mysql_fetch_row(res))) {
        unsigned long *lens = mysql_fetch_lengths(res);
        if (!row[0] || rc_buf_append(out, row[0], lens[0]) != RC_OK ||
            rc_buf_putc(out, '\0') != RC_OK) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        (*n)++;
    }
    mysql_free_result(res);
    return err;
}

rc_err_t rc_mysql_column_names(rc_mysql_t *m, const char *schema, const char *table,
                               rc_buf_t *names, uint32_t *n, rc_buf_t *pk, char *errstr,
                               size_t errstr_size) {
    char s_esc[2 * 256 + 1], t_esc[2 * 256 + 1], sql[1400];
    size_t sl = strlen(schema), tl = strlen(table);
    if (sl > 256 || tl > 256) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID, "table name %s.%s is too long",
                         schema, table);
    }
    mysql_real_escape_string(m->conn, s_esc, schema, (unsigned long)sl);
    mysql_real_escape_string(m->conn, t_esc, table, (unsigned long)tl);
    snprintf(sql, sizeof(sql),
             "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' AND "
             "TABLE_NAME = '%s' ORDER BY ORDINAL_POSITION",
             s_esc, t_esc);
    size_t base = names->len;
    rc_err_t err = query_names(m, sql, "columns", schema, table, names, n, errstr, errstr_size);
    if (err != RC_OK || *n == 0) {
        return err;
    }
    snprintf(sql, sizeof(sql),
             "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = '%s' "
             "AND TABLE_NAME = '%s' AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX",
             s_esc, t_esc);
    rc_buf_t keys = RC_BUF_INIT;
    uint32_t nk = 0;
    size_t pbase = pk->len;
    err = query_names(m, sql, "primary key", schema, table, &keys, &nk, errstr, errstr_size);
    /* each key column's index among the names */
    const char *k = keys.data, *kend = keys.data ? keys.data + keys.len : NULL;
    for (uint32_t i = 0; err == RC_OK && i < nk && k < kend; i++) {
        const char *c = (const char *)names->data + base,
                   *cend = (const char *)names->data + names->len;
        uint32_t idx = 0;
        while (c < cend && strcmp(c, k) != 0) {
            c += strlen(c) + 1;
            idx++;
        }
        if (c >= cend) { /* the table changed between the two queries: no key */
            pk->len = pbase;
            break;
        }
        if (rc_buf_append(pk, &idx, sizeof(idx)) != RC_OK) {
            err = rc_seterr(errstr, errstr_size, RC_ERR_NOMEM, "out of memory");
        }
        k += strlen(k) + 1;
    }
    rc_buf_free(&keys);
    return err;
}

rc_err_t rc_mysql_query_value(rc_mysql_t *m, const char *sql, unsigned int col, char *out,
                              size_t out_size, char *errstr, size_t errstr_size) {
    if (mysql_query(m->conn, sql) != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL, "%s: query \"%s\" failed: %s",
                         m->endpoint, sql, my_err(m));
    }
    MYSQL_RES *res = mysql_store_result(m->conn);
    if (!res) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                         "%s: query \"%s\" returned no result: %s", m->endpoint, sql, my_err(m));
    }
    rc_err_t err = RC_OK;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (!row || mysql_num_fields(res) <= col) {
        err = RC_ERR_EOF;
    } else {
        snprintf(out, out_size, "%s", row[col] ? row[col] : "");
    }
    mysql_free_result(res);
    return err;
}

rc_err_t rc_mysql_prepare_replication(rc_mysql_t *m, double heartbeat_s, char *errstr,
                                      size_t errstr_size) {
    char val[256];
    rc_err_t err = rc_mysql_query_value(m, "SELECT @@GLOBAL.binlog_format", 0, val, sizeof(val),
                                        errstr, errstr_size);
    if (err != RC_OK) {
        return err;
    }
    if (strcasecmp(val, "ROW") != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "%s: binlog_format is %s; rowcast needs binlog_format=ROW", m->endpoint,
                         val);
    }
    if (rc_mysql_query_value(m, "SELECT @@GLOBAL.binlog_row_metadata", 0, val, sizeof(val), NULL,
                             0) == RC_OK &&
        strcasecmp(val, "FULL") != 0) {
        rc_warn("source",
                "%s: binlog_row_metadata is %s, not FULL: column names come from "
                "information_schema (current, not as of each event), charsets are guessed and "
                "ENUM/SET arrive as numbers",
                m->endpoint, val);
    }
    /* Ask for the checksum the binlog files have, so events arrive exactly as stored. Both the
     * old and the new variable names are set; a server ignores the one it does not know. */
    err = rc_mysql_exec(m,
                        "SET @master_binlog_checksum = @@GLOBAL.binlog_checksum, "
                        "@source_binlog_checksum = @@GLOBAL.binlog_checksum",
                        errstr, errstr_size);
    if (err != RC_OK) {
        return err;
    }
    char sql[256];
    unsigned long long ns = (unsigned long long)(heartbeat_s * 1e9);
    snprintf(sql, sizeof(sql),
             "SET @master_heartbeat_period = %llu, @source_heartbeat_period = %llu", ns, ns);
    if ((err = rc_mysql_exec(m, sql, errstr, errstr_size)) != RC_OK) {
        return err;
    }
    if (m->mariadb) {
        /* 4 = MARIA_SLAVE_CAPABILITY_GTID: send GTID events and annotate rows as they are. */
        if ((err = rc_mysql_exec(m, "SET @mariadb_slave_capability = 4", errstr, errstr_size)) !=
            RC_OK) {
            return err;
        }
    }
    return RC_OK;
}

/* Columns 0 and 1 of the first row of sql. RC_ERR_EOF when no row. */
static rc_err_t query_file_pos(rc_mysql_t *m, const char *sql, char *file, size_t file_size,
                               char *pos, size_t pos_size, char *errstr, size_t errstr_size) {
    if (mysql_query(m->conn, sql) != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL, "%s: query \"%s\" failed: %s",
                         m->endpoint, sql, my_err(m));
    }
    MYSQL_RES *res = mysql_store_result(m->conn);
    if (!res) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                         "%s: query \"%s\" returned no result: %s", m->endpoint, sql, my_err(m));
    }
    rc_err_t err = RC_OK;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (!row || mysql_num_fields(res) < 2 || !row[0] || !row[1]) {
        err = RC_ERR_EOF;
    } else {
        snprintf(file, file_size, "%s", row[0]);
        snprintf(pos, pos_size, "%s", row[1]);
    }
    mysql_free_result(res);
    return err;
}

rc_err_t rc_mysql_resolve_start(rc_mysql_t *m, const char *start, rc_mysql_position_t *out,
                                char *errstr, size_t errstr_size) {
    char val[512];
    rc_err_t err;
    if (!start || strcmp(start, "earliest") == 0) {
        err = rc_mysql_query_value(m, "SHOW BINARY LOGS", 0, val, sizeof(val), errstr, errstr_size);
        if (err == RC_ERR_EOF) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "%s: SHOW BINARY LOGS lists no file: is log_bin enabled?",
                             m->endpoint);
        }
        if (err != RC_OK) {
            return err;
        }
        snprintf(out->file, sizeof(out->file), "%s", val);
        out->pos = 4;
        return RC_OK;
    }
    if (strcmp(start, "latest") == 0) {
        char pos[64];
        /* file and position from one result: two queries could straddle a rotation */
        err = query_file_pos(m, "SHOW MASTER STATUS", val, sizeof(val), pos, sizeof(pos), NULL, 0);
        if (err != RC_OK && err != RC_ERR_EOF) { /* MySQL 8.4 renamed it */
            err = query_file_pos(m, "SHOW BINARY LOG STATUS", val, sizeof(val), pos, sizeof(pos),
                                 errstr, errstr_size);
        }
        if (err == RC_ERR_EOF) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "%s: the server reports no binlog position: is log_bin enabled?",
                             m->endpoint);
        }
        if (err != RC_OK) {
            return err;
        }
        snprintf(out->file, sizeof(out->file), "%s", val);
        out->pos = strtoull(pos, NULL, 10);
        return RC_OK;
    }
    if (strncmp(start, "file:", 5) == 0) {
        const char *name = start + 5;
        const char *colon = strrchr(name, ':');
        if (!colon || colon == name) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "start '%s' is not of the form file:<name>:<pos>", start);
        }
        char *end;
        errno = 0;
        unsigned long long pos = strtoull(colon + 1, &end, 10);
        if (errno || *end || pos < 4) {
            return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                             "start '%s': position must be an integer >= 4", start);
        }
        snprintf(out->file, sizeof(out->file), "%.*s", (int)(colon - name), name);
        out->pos = pos;
        return RC_OK;
    }
    return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                     "start '%s' is not one of earliest, latest, file:<name>:<pos>", start);
}

rc_err_t rc_mysql_dump(rc_mysql_t *m, const rc_mysql_position_t *pos, uint32_t server_id,
                       uint16_t flags, char *errstr, size_t errstr_size) {
    if (pos->pos > UINT32_MAX) {
        return rc_seterr(
            errstr, errstr_size, RC_ERR_UNSUPPORTED,
            "%s: position %s:%llu is beyond 4 GiB, which COM_BINLOG_DUMP cannot ask for",
            m->endpoint, pos->file, (unsigned long long)pos->pos);
    }
    size_t flen = strlen(pos->file);
    unsigned char buf[4 + 2 + 4 + sizeof(pos->file)];
    uint32_t p = (uint32_t)pos->pos;
    buf[0] = (unsigned char)p;
    buf[1] = (unsigned char)(p >> 8);
    buf[2] = (unsigned char)(p >> 16);
    buf[3] = (unsigned char)(p >> 24);
    buf[4] = (unsigned char)flags; /* 0: blocking dump, wait for new events */
    buf[5] = (unsigned char)(flags >> 8);
    buf[6] = (unsigned char)server_id;
    buf[7] = (unsigned char)(server_id >> 8);
    buf[8] = (unsigned char)(server_id >> 16);
    buf[9] = (unsigned char)(server_id >> 24);
    memcpy(buf + 10, pos->file, flen);
    if (m->conn->methods->db_command(m->conn, COM_BINLOG_DUMP, (const char *)buf, 10 + flen, 1,
                                     NULL) != 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: binlog dump request failed: %s",
                         m->endpoint, my_err(m));
    }
    return RC_OK;
}

bool rc_mysql_has_buffered(rc_mysql_t *m) {
    MARIADB_PVIO *pvio = m->conn->net.pvio;
    if (!pvio) {
        return false;
    }
    if (pvio->cache && pvio->cache + pvio->cache_size > pvio->cache_pos) {
        return true;
    }
    const struct ma_tls_layout *tls = (const struct ma_tls_layout *)pvio->ctls;
    if (m->tls && tls && tls->ssl) {
        return SSL_pending((SSL *)tls->ssl) > 0;
    }
    return false;
}

int rc_mysql_fd(rc_mysql_t *m) {
    return (int)mysql_get_socket(m->conn);
}

rc_err_t rc_mysql_read_event(rc_mysql_t *m, const uint8_t **ev, size_t *len, char *errstr,
                             size_t errstr_size) {
    unsigned long n = mysql_net_read_packet(m->conn);
    if (n == packet_error && mysql_errno(m->conn) == 1236) {
        /* ER_MASTER_FATAL_ERROR_READING_BINLOG: the server cannot serve this position (purged,
         * unknown GTID, ...); retrying would get the same answer. */
        return rc_seterr(errstr, errstr_size, RC_ERR_INVALID,
                         "%s cannot send the binlog from the requested position: %s", m->endpoint,
                         my_err(m));
    }
    if (n == packet_error || n == 0) {
        return rc_seterr(errstr, errstr_size, RC_ERR_IO, "%s: reading the binlog stream failed: %s",
                         m->endpoint, mysql_errno(m->conn) ? my_err(m) : "connection closed");
    }
    const uint8_t *p = m->conn->net.read_pos;
    if (p[0] == 0xfe && n < 8) {
        return RC_ERR_EOF;
    }
    if (p[0] != 0x00) {
        return rc_seterr(errstr, errstr_size, RC_ERR_PROTOCOL,
                         "%s: unexpected packet 0x%02x in the binlog stream", m->endpoint, p[0]);
    }
    *ev = p + 1;
    *len = n - 1;
    return RC_OK;
}
