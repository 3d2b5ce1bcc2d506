#!/usr/bin/env bash
# rowcast in five minutes: installs what is missing, builds build/release, starts a private
# MariaDB and Kafka on loopback, runs rowcast with deploy/examples/quickstart.yaml, changes a
# few rows of shop.orders and shows the messages a Kafka consumer (kcat) receives.
#   deploy/quickstart.sh [--no-wait] [--no-install]
#     --no-wait     exit once the expected messages arrived (0) or did not in time (1)
#     --no-install  do not apt-get install anything
# Ctrl-C stops rowcast, the consumer, and the MariaDB and Kafka this script started.
set -euo pipefail
# shellcheck source=tests/services/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/services/common.sh"
RC_LOG_TAG=quickstart
cd "$RC_REPO_ROOT"

wait_forever=1
install=1
for arg in "$@"; do
    case "$arg" in
    --no-wait) wait_forever=0 ;;
    --no-install) install=0 ;;
    -h | --help)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "deploy/quickstart.sh: unknown option '$arg' (try --help)" >&2
        exit 2
        ;;
    esac
done

CONFIG=deploy/examples/quickstart.yaml
BINARY=build/release/server/rowcast
BROKERS=127.0.0.1:19092
HTTP=127.0.0.1:8080
TOPIC=shop.orders
RUN_DIR="$RC_SERVICES_DIR/quickstart"
ROWCAST_LOG="$RUN_DIR/rowcast.log"
EVENTS="$RUN_DIR/events.txt"
export RC_SERVICES_DIR RC_MARIADB_PORT=13306 RC_KAFKA_PORT=19092
export ROWCAST_MYSQL_PASSWORD="${ROWCAST_MYSQL_PASSWORD:-rowcast}"

started_services=()
rowcast_pid=""
consumer_pid=""
tail_pid=""
cleanup() {
    local status=$?
    set +e
    trap - INT TERM EXIT
    trap '' PIPE # a closed terminal or pipe must not stop the clean-up half-way
    [[ -n "$tail_pid" ]] && kill "$tail_pid" 2>/dev/null
    [[ -n "$consumer_pid" ]] && stop_pid "$consumer_pid" kcat 5
    if [[ -n "$rowcast_pid" ]] && kill -0 "$rowcast_pid" 2>/dev/null; then
        log "stopping rowcast (pid $rowcast_pid)"
        stop_pid "$rowcast_pid" rowcast 30
    fi
    local s
    for s in "${started_services[@]}"; do
        tests/services/"$s".sh stop || true
    done
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sql() {
    mariadb --no-defaults -h127.0.0.1 -P"$RC_MARIADB_PORT" -uroot -proot "$@"
}

# Prints a statement, then runs it.
run_sql() {
    printf '  mysql> %s\n' "$1"
    sql -e "$1"
}

# 1. Packages and the build.
if ((install)); then
    install_packages
fi
log "building rowcast in build/release"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRC_SANITIZE=OFF \
    -DRC_WERROR=OFF >/dev/null
cmake --build build/release --target rowcast

# 2. MariaDB and Kafka (left running if they already were).
for s in mariadb kafka; do
    if ! tests/services/"$s".sh status >/dev/null 2>&1; then
        started_services+=("$s")
    fi
    tests/services/"$s".sh start
done

# 3. The source table.
log "creating database shop"
sql <<'EOF'
DROP DATABASE IF EXISTS shop;
CREATE DATABASE shop CHARACTER SET utf8mb4;
CREATE TABLE shop.orders (
  id INT PRIMARY KEY AUTO_INCREMENT,
  customer VARCHAR(64),
  amount DECIMAL(10,2),
  created DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3)
);
EOF

# 4. rowcast.
host="${HTTP%:*}" port="${HTTP##*:}"
if port_open "$host" "$port"; then
    die "$HTTP is taken by another process; stop it first"
fi
mkdir -p "$RUN_DIR"
: >"$ROWCAST_LOG"
log "starting rowcast --config $CONFIG (log: $ROWCAST_LOG)"
setsid "$BINARY" --config "$CONFIG" >>"$ROWCAST_LOG" 2>&1 </dev/null &
rowcast_pid=$!
deadline=$((SECONDS + 30))
until curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1; do
    kill -0 "$rowcast_pid" 2>/dev/null || die "rowcast exited during start-up" "$ROWCAST_LOG"
    ((SECONDS < deadline)) || die "rowcast did not answer http://$HTTP/healthz in 30s" "$ROWCAST_LOG"
    sleep 0.2
done
# start: latest means "from where the binlog is when the pipeline connects": wait until it has.
while :; do
    code="$(curl -s -o /dev/null -w '%{http_code}' "http://$HTTP/readyz" || true)"
    [[ "$code" == 200 ]] && break
    if [[ "$code" == 404 ]]; then # no readiness endpoint in this build: give it a moment
        sleep 2
        break
    fi
    kill -0 "$rowcast_pid" 2>/dev/null || die "rowcast exited during start-up" "$ROWCAST_LOG"
    ((SECONDS < deadline)) || die "rowcast not ready (/readyz: $code) in 30s" "$ROWCAST_LOG"
    sleep 0.2
done
log "rowcast is up: http://$HTTP/healthz"

# The consumer starts where the topic ends now (it outlives earlier runs), or at the beginning.
first_offset=beginning
if out="$(kcat -Q -b "$BROKERS" -t "$TOPIC:0:-1" 2>/dev/null)"; then
    first_offset="$(awk '{print $NF}' <<<"$out")"
fi

# 5. Some changes.
log "changing rows in shop.orders"
run_sql "INSERT INTO shop.orders (customer, amount) VALUES ('alice', 12.50)"
run_sql "INSERT INTO shop.orders (customer, amount) VALUES ('bob', 7.00), ('chloé', 99.99)"
run_sql "UPDATE shop.orders SET amount = 15.00 WHERE customer = 'alice'"
run_sql "DELETE FROM shop.orders WHERE customer = 'bob'"
run_sql "BEGIN; INSERT INTO shop.orders (customer, amount) VALUES ('dan', 1.25); UPDATE shop.orders SET customer = 'daniel' WHERE customer = 'dan'; DELETE FROM shop.orders WHERE customer = 'chloé'; COMMIT"
expected=(insert insert insert update delete insert update delete)

# 6. The consumer: a real Kafka client reading what rowcast produced.
deadline=$((SECONDS + 30))
until kcat -b "$BROKERS" -L -t "$TOPIC" 2>/dev/null | grep -q 'partition 0,'; do
    kill -0 "$rowcast_pid" 2>/dev/null || die "rowcast exited" "$ROWCAST_LOG"
    ((SECONDS < deadline)) || die "rowcast did not create topic $TOPIC in 30s" "$ROWCAST_LOG"
    sleep 0.2
done
: >"$EVENTS"
log "consuming $TOPIC: kcat -C -b $BROKERS -t $TOPIC -o $first_offset"
kcat -C -b "$BROKERS" -t "$TOPIC" -o "$first_offset" -u -f 'key=%k value=%s\n' \
    >>"$EVENTS" 2>>"$RUN_DIR/kcat.log" </dev/null &
consumer_pid=$!
tail -n +1 -f "$EVENTS" &
tail_pid=$!

# 7. Wait for the expected messages.
deadline=$((SECONDS + 30))
while (($(wc -l <"$EVENTS") < ${#expected[@]})) && ((SECONDS < deadline)); do
    kill -0 "$rowcast_pid" 2>/dev/null || break
    sleep 0.2
done
sleep 0.5 # let tail print the last line
mapfile -t actions < <(grep -o '"action":"[a-z]*"' "$EVENTS" | cut -d'"' -f4)
if [[ "${actions[*]}" != "${expected[*]}" ]]; then
    show_log_tail "$ROWCAST_LOG"
    die "expected actions '${expected[*]}' on $TOPIC, got '${actions[*]}' (events: $EVENTS)"
fi
log "OK: ${#expected[@]} change events arrived in order on $TOPIC"

if ((!wait_forever)); then
    exit 0
fi
cat <<EOF

rowcast is streaming shop.* into Kafka. In another terminal, try:
  mariadb --no-defaults -h127.0.0.1 -P13306 -uroot -proot shop -e "INSERT INTO orders (customer, amount) VALUES ('eve', 3.50)"
  curl -s http://$HTTP/metrics
New events appear below. Ctrl-C stops everything this script started.

EOF
while kill -0 "$rowcast_pid" 2>/dev/null; do
    sleep 1
done
die "rowcast exited" "$ROWCAST_LOG"
