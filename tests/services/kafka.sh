#!/usr/bin/env bash
# A private single-node Apache Kafka (KRaft, broker and controller in one JVM) on loopback for
# the integration tests and the quickstart. The jars come from Maven (tests/services/kafka-pom.xml)
# through Maven's normal local repository, so only the first run downloads anything.
# Topics are not created on first use: rowcast must create its own (sink.create_topics).
# Usage: tests/services/kafka.sh start|stop|status
#   RC_SERVICES_DIR (default <repo>/build/services), RC_KAFKA_PORT (default 19092; the
#   controller listens on the next port)
set -euo pipefail
# shellcheck source=tests/services/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RC_LOG_TAG=kafka

PORT="${RC_KAFKA_PORT:-19092}"
CPORT=$((PORT + 1))
BROKER="127.0.0.1:$PORT"
DIR="$RC_SERVICES_DIR/kafka"
LIBS="$RC_SERVICES_DIR/kafka-libs"
POM="$RC_REPO_ROOT/tests/services/kafka-pom.xml"
DATADIR="$DIR/data"
LOGDIR="$DIR/logs"
SERVER_LOG="$LOGDIR/server.log"
OUTLOG="$LOGDIR/stdout.log"
TOOLS_LOG="$LOGDIR/tools.log"
PIDFILE="$DIR/kafka.pid"
PROPS="$DIR/server.properties"
HEALTH_TOPIC=rowcast.healthcheck
START_TIMEOUT=90

where() {
    log "broker $BROKER (controller 127.0.0.1:$CPORT), data $DATADIR"
    log "logs: $SERVER_LOG (broker), $OUTLOG (stdout/stderr), $TOOLS_LOG (tools)"
}

java_tool() {
    java -Xmx256m -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$DIR/tools-log4j2.properties" -cp "$LIBS/*" "$@"
}

# Resolve the jars once per version of the pom.
ensure_libs() {
    local want have=""
    want="$(sha256sum "$POM" | cut -d' ' -f1)"
    [[ -f "$LIBS/.pom.sha256" ]] && have="$(<"$LIBS/.pom.sha256")"
    if [[ "$want" == "$have" ]] && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found; install maven"
    log "resolving the Kafka jars with Maven into $LIBS"
    rm -rf "$LIBS"
    mkdir -p "$LIBS" "$DIR"
    mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$LIBS" \
        >"$DIR/maven.log" 2>&1 || die "mvn dependency:copy-dependencies failed" "$DIR/maven.log"
    echo "$want" >"$LIBS/.pom.sha256"
}

write_config() {
    mkdir -p "$DATADIR" "$LOGDIR"
    cat >"$PROPS.new" <<EOF
# Written by tests/services/kafka.sh; changes are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CPORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATADIR
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
log.segment.bytes=67108864
EOF
    # Another port or layout means another cluster: start from an empty data dir.
    if ! cmp -s "$PROPS.new" "$PROPS"; then
        rm -rf "$DATADIR"
        mkdir -p "$DATADIR"
    fi
    mv "$PROPS.new" "$PROPS"

    cat >"$DIR/log4j2.properties" <<EOF
# Kafka broker logging for the tests: everything into one file, nothing on the console.
status = warn
appender.server.type = File
appender.server.name = server
appender.server.fileName = $SERVER_LOG
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
EOF
    cat >"$DIR/tools-log4j2.properties" <<EOF
status = warn
appender.tools.type = File
appender.tools.name = tools
appender.tools.fileName = $TOOLS_LOG
appender.tools.layout.type = PatternLayout
appender.tools.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.tools.ref = tools
EOF

    if [[ ! -f "$DATADIR/meta.properties" ]]; then
        local uuid
        uuid="$(java_tool kafka.tools.StorageTool random-uuid 2>>"$TOOLS_LOG")" ||
            die "StorageTool random-uuid failed" "$TOOLS_LOG"
        log "formatting $DATADIR (cluster $uuid)"
        java_tool kafka.tools.StorageTool format -t "$uuid" -c "$PROPS" >>"$TOOLS_LOG" 2>&1 ||
            die "StorageTool format failed" "$TOOLS_LOG"
    fi
}

broker_listed() {
    kcat -b "$BROKER" -L -m 5 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$PORT"
}

# An idempotent produce (what rowcast's producer does) that the broker acknowledges.
idempotent_produce_ok() {
    echo "ping $(date +%s%N)" | kcat -b "$BROKER" -P -t "$HEALTH_TOPIC" -X enable.idempotence=true \
        -X acks=all -X message.timeout.ms=10000 -m 15 >>"$TOOLS_LOG" 2>&1
}

ensure_health_topic() {
    kcat -b "$BROKER" -L -t "$HEALTH_TOPIC" -m 5 2>/dev/null | grep -q 'partition 0,' && return 0
    java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BROKER" --create \
        --if-not-exists --topic "$HEALTH_TOPIC" --partitions 1 --replication-factor 1 \
        >>"$TOOLS_LOG" 2>&1
}

wait_ready() {
    local pid="$1" deadline=$((SECONDS + START_TIMEOUT)) stage="listening on $BROKER"
    while ((SECONDS < deadline)); do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            die "Kafka exited during start-up (stage: $stage)" "$SERVER_LOG" "$OUTLOG"
        fi
        case "$stage" in
        "listening on $BROKER") port_open 127.0.0.1 "$PORT" && stage="broker in metadata" ;;
        "broker in metadata") broker_listed && stage="health topic" ;;
        "health topic") ensure_health_topic && stage="idempotent produce" ;;
        "idempotent produce") idempotent_produce_ok && return 0 ;;
        esac
        sleep 0.3
    done
    die "Kafka not ready within ${START_TIMEOUT}s (stuck at: $stage)" "$SERVER_LOG" "$OUTLOG" \
        "$TOOLS_LOG"
}

cmd_start() {
    local pid
    command -v java >/dev/null || die "java not found; install openjdk-17-jre-headless"
    command -v kcat >/dev/null || die "kcat not found; install kcat"
    if pid="$(pid_alive "$PIDFILE")"; then
        log "already running (pid $pid)"
        wait_ready "$pid"
        where
        return 0
    fi
    if port_open 127.0.0.1 "$PORT" || port_open 127.0.0.1 "$CPORT"; then
        die "port $PORT or $CPORT is taken by another process; set RC_KAFKA_PORT to a free port"
    fi
    local t0=$SECONDS
    ensure_libs
    write_config
    : >>"$OUTLOG"
    # setsid: a Ctrl-C in the terminal must not reach the broker before its clean stop.
    setsid java -Xmx512m -Xms256m -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$DIR/log4j2.properties" -Dkafka.logs.dir="$LOGDIR" \
        -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$OUTLOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_ready "$pid"
    log "started (pid $pid) in $((SECONDS - t0))s"
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
    stop_pid "$pid" kafka 60
    rm -f "$PIDFILE"
    log "stopped; log: $SERVER_LOG"
}

cmd_status() {
    local pid
    if pid="$(pid_alive "$PIDFILE")" && broker_listed; then
        log "running (pid $pid)"
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
