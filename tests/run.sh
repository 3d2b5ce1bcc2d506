#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it): installs what is missing, builds the
# sanitizer build in build/test, starts a private MariaDB and Kafka on loopback, and runs every
# unit and integration test with ctest, whose summary is the last line printed.
#   tests/run.sh [--unit] [--no-install] [-- CTEST_ARGS...]
#     --unit        unit tests only; no services, no Python dependencies
#     --no-install  do not apt-get/pip install anything
#   Services started here are stopped on exit; ones already running are left alone.
set -euo pipefail
# shellcheck source=tests/services/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/services/common.sh"
RC_LOG_TAG=tests
cd "$RC_REPO_ROOT"

unit_only=0
install=1
ctest_extra=()
while (($#)); do
    case "$1" in
    --unit) unit_only=1 ;;
    --no-install) install=0 ;;
    --)
        shift
        ctest_extra=("$@")
        break
        ;;
    -h | --help)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "tests/run.sh: unknown option '$1' (try --help)" >&2
        exit 2
        ;;
    esac
    shift
done

if ((install)); then
    install_packages
    ((unit_only)) || install_python_deps
    ((unit_only)) || install_helm
fi
export RC_TOOLS_DIR RC_HELM="$RC_TOOLS_DIR/bin/helm"

# Sanitizer reports stop the test that triggered them and say where they came from.
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$RC_REPO_ROOT/tests/lsan.supp:print_suppressions=0}"

log "configuring and building build/test (sanitizers, -Werror)"
cmake -S . -B build/test -G Ninja -DRC_SANITIZE=ON -DRC_WERROR=ON
cmake --build build/test

labels='unit|integration|fuzz|deploy'
if ((unit_only)); then
    labels='unit'
else
    export RC_SERVICES_DIR
    export RC_MARIADB_PORT="${RC_MARIADB_PORT:-13306}"
    export RC_KAFKA_PORT="${RC_KAFKA_PORT:-19092}"
    started=()
    stop_started() {
        local s
        for s in "${started[@]}"; do
            "$RC_REPO_ROOT/tests/services/$s.sh" stop || true
        done
    }
    # Quietly, into a file: ctest's summary must stay the last line of the output.
    trap 'stop_started >>"$RC_SERVICES_DIR/stop.log" 2>&1' EXIT
    for s in mariadb kafka; do
        if ! tests/services/"$s".sh status >/dev/null 2>&1; then
            started+=("$s")
        fi
        tests/services/"$s".sh start || die "could not start $s (see its log above)"
    done
    export RC_MARIADB_HOST=127.0.0.1
    export RC_MARIADB_USER=rowcast RC_MARIADB_PASSWORD=rowcast RC_MARIADB_ROOT_PASSWORD=root
    export RC_KAFKA_BROKERS="127.0.0.1:$RC_KAFKA_PORT"
fi

log "running ctest -L '$labels'"
status=0
ctest --test-dir build/test --output-on-failure --no-tests=error -L "$labels" \
    "${ctest_extra[@]}" || status=$?
exit "$status"
