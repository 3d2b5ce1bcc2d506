#!/usr/bin/env bash
# A private MariaDB for the integration tests and the quickstart: its own datadir, socket and
# port on loopback, row-based binlog with full metadata and GTIDs, and the users rowcast and
# the tests log in as. Usage: tests/services/mariadb.sh start|stop|status
#   RC_SERVICES_DIR (default <repo>/build/services), RC_MARIADB_PORT (default 13306)
set -euo pipefail
# shellcheck source=tests/services/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RC_LOG_TAG=mariadb

PORT="${RC_MARIADB_PORT:-13306}"
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
    die "RC_MARIADB_PORT=$PORT is not a port"
fi
DIR="$RC_SERVICES_DIR/mariadb"
DATADIR="$DIR/data"
ERRLOG="$DIR/error.log"
OUTLOG="$DIR/stdout.log"
PIDFILE="$DIR/mariadbd.pid"
SOCKET="$DIR/mariadbd.sock"
# A unix socket path must fit in sun_path (108 bytes); fall back to /tmp for deep checkouts.
if ((${#SOCKET} > 100)); then
    SOCKET="/tmp/rowcast-mariadb-$PORT.sock"
fi
USER_NAME="${RC_MARIADB_USER:-rowcast}"
USER_PASSWORD="${RC_MARIADB_PASSWORD:-rowcast}"
ROOT_PASSWORD="${RC_MARIADB_ROOT_PASSWORD:-root}"
START_TIMEOUT=60

client() {
    mariadb --no-defaults --protocol=socket -S "$SOCKET" -uroot "$@"
}

answers() {
    client -N -e 'SELECT 1' >/dev/null 2>&1
}

where() {
    log "port 127.0.0.1:$PORT, socket $SOCKET, datadir $DATADIR"
    log "logs: $ERRLOG (server), $OUTLOG (stdout/stderr)"
}

sql_quote() {
    printf "'%s'" "${1//\'/\'\'}"
}

# Users (not written to the binlog, so a stream from the first file holds only test data):
# root@127.0.0.1 with a password for tests over TCP (root@localhost over the socket has none),
# and rowcast with what a binlog reader needs on MariaDB 10.11: REPLICATION SLAVE for
# COM_BINLOG_DUMP, BINLOG MONITOR (formerly REPLICATION CLIENT) for SHOW BINARY LOGS and
# SHOW MASTER STATUS, SELECT for reading table definitions.
bootstrap_users() {
    local u p r
    u="$(sql_quote "$USER_NAME")"
    p="$(sql_quote "$USER_PASSWORD")"
    r="$(sql_quote "$ROOT_PASSWORD")"
    client <<EOF
SET SESSION sql_log_bin = 0;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY $r;
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY $r;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS $u@'%' IDENTIFIED BY $p;
CREATE USER IF NOT EXISTS $u@'127.0.0.1' IDENTIFIED BY $p;
ALTER USER $u@'%' IDENTIFIED BY $p;
ALTER USER $u@'127.0.0.1' IDENTIFIED BY $p;
GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO $u@'%';
GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO $u@'127.0.0.1';
CREATE USER IF NOT EXISTS 'rowcast_tls'@'%' IDENTIFIED BY $p REQUIRE SSL;
GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'rowcast_tls'@'%';
EOF
}

# A private CA and a server certificate for 127.0.0.1/localhost, made once per datadir, so
# the tests can connect with TLS and verify the server (user rowcast_tls requires TLS).
make_tls() {
    local d="$DIR/tls"
    [[ -f "$d/server-cert.pem" ]] && return 0
    mkdir -p "$d"
    {
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=rowcast test CA" \
            -keyout "$d/ca-key.pem" -out "$d/ca.pem" &&
            openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
                -keyout "$d/server-key.pem" -out "$d/server.csr" &&
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/san.ext" &&
            openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" \
                -CAcreateserial -days 3650 -extfile "$d/san.ext" -out "$d/server-cert.pem"
    } >"$d/openssl.log" 2>&1 || die "could not make the TLS certificates" "$d/openssl.log"
}

# What rowcast does first, the way it does it: TCP, its own user, the binlog position.
check_tcp_login() {
    MYSQL_PWD="$USER_PASSWORD" mariadb --no-defaults --protocol=tcp -h127.0.0.1 -P"$PORT" \
        -u"$USER_NAME" -N -e 'SHOW MASTER STATUS; SELECT @@global.gtid_binlog_pos' >/dev/null
}

cmd_start() {
    local pid
    if pid="$(pid_alive "$PIDFILE")" && answers; then
        log "already running (pid $pid)"
        bootstrap_users
        check_tcp_login || die "$USER_NAME cannot read the binlog position over 127.0.0.1:$PORT" "$ERRLOG"
        where
        return 0
    fi
    if port_open 127.0.0.1 "$PORT"; then
        die "port $PORT is taken by another process; set RC_MARIADB_PORT to a free port"
    fi
    command -v mariadbd >/dev/null || die "mariadbd not found; install mariadb-server"
    mkdir -p "$DIR" "$DIR/tmp"
    rm -f "$PIDFILE" "$SOCKET"

    if [[ ! -d "$DATADIR/mysql" ]]; then
        log "initialising $DATADIR"
        rm -rf "$DATADIR"
        mariadb-install-db --no-defaults --datadir="$DATADIR" --user="$(id -un)" \
            --auth-root-authentication-method=normal --skip-test-db \
            >"$DIR/install-db.log" 2>&1 ||
            die "mariadb-install-db failed" "$DIR/install-db.log"
    fi

    make_tls
    local t0=$SECONDS
    : >>"$ERRLOG"
    # setsid: a Ctrl-C in the terminal must not reach the server before its clean stop.
    setsid mariadbd --no-defaults \
        --user="$(id -un)" \
        --datadir="$DATADIR" --tmpdir="$DIR/tmp" \
        --socket="$SOCKET" --pid-file="$PIDFILE" --log-error="$ERRLOG" \
        --bind-address=127.0.0.1 --port="$PORT" --skip-name-resolve \
        --server-id=1 --log-bin=mariadb-bin --log-slave-updates=ON \
        --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL \
        --binlog-checksum=CRC32 --gtid-strict-mode=ON \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --default-time-zone=+00:00 \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
        --innodb-flush-log-at-trx-commit=2 --max-allowed-packet=64M \
        --max-connections=200 --performance-schema=OFF \
        --ssl-ca="$DIR/tls/ca.pem" --ssl-cert="$DIR/tls/server-cert.pem" \
        --ssl-key="$DIR/tls/server-key.pem" \
        >>"$OUTLOG" 2>&1 </dev/null &
    local launched=$!

    local deadline=$((SECONDS + START_TIMEOUT))
    until answers; do
        if ! kill -0 "$launched" 2>/dev/null; then
            die "mariadbd exited during start-up" "$ERRLOG" "$OUTLOG"
        fi
        if ((SECONDS >= deadline)); then
            kill -TERM "$launched" 2>/dev/null || true
            die "mariadbd did not answer a query within ${START_TIMEOUT}s" "$ERRLOG" "$OUTLOG"
        fi
        sleep 0.2
    done
    [[ -s "$PIDFILE" ]] || echo "$launched" >"$PIDFILE"
    bootstrap_users || die "could not create the test users" "$ERRLOG"
    check_tcp_login || die "$USER_NAME cannot read the binlog position over 127.0.0.1:$PORT" "$ERRLOG"
    log "started (pid $(<"$PIDFILE")) in $((SECONDS - t0))s"
    where
}

cmd_stop() {
    local pid
    if ! pid="$(pid_alive "$PIDFILE")"; then
        log "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping (pid $pid)"
    # A clean shutdown (InnoDB and binlog closed properly); SIGTERM does the same if the
    # client cannot log in, SIGKILL only after 60 s.
    mariadb-admin --no-defaults --protocol=socket -S "$SOCKET" -uroot shutdown \
        >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        stop_pid "$pid" mariadbd 10
    fi
    rm -f "$PIDFILE"
    log "stopped; log: $ERRLOG"
}

cmd_status() {
    local pid
    if pid="$(pid_alive "$PIDFILE")" && answers; then
        log "running (pid $pid), $(client -N -e 'SELECT VERSION()')"
        where
        return 0
    fi
    log "not running"
    return 3
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
