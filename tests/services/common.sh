# shellcheck shell=bash
# Shared helpers for the scripts that start real services (MariaDB, Kafka), the test driver
# and the quickstart. Source it from bash; it sets no shell options of its own.
#   RC_REPO_ROOT      the repository (found from this file's place)
#   RC_SERVICES_DIR   where services keep data, logs and pid files (default build/services)

RC_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RC_SERVICES_DIR="${RC_SERVICES_DIR:-$RC_REPO_ROOT/build/services}"
# Tools built or fetched for the deploy tests (helm, a Debian root), kept across clones.
RC_TOOLS_DIR="${RC_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rowcast}"
RC_HELM_VERSION=v3.22.0

# Every Debian package the project needs to build, test and run the quickstart.
RC_APT_PACKAGES=(
    build-essential cmake ninja-build pkg-config curl procps iproute2
    mariadb-server mariadb-client default-libmysqlclient-dev
    librdkafka-dev libluajit2-5.1-dev duktape-dev libh2o-evloop-dev libmsgpack-dev
    libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libfyaml-dev libzstd-dev zlib1g-dev
    libssl-dev libjemalloc-dev
    libcmocka-dev kcat clang-format-14 clang-14 libclang-rt-14-dev xxd maven openjdk-17-jre-headless python3 python3-pip
    debootstrap
)

# log MESSAGE...: one timestamped line on stderr.
log() {
    printf '[%s %s] %s\n' "${RC_LOG_TAG:-rowcast}" "$(date +%H:%M:%S)" "$*" >&2
}

# show_log_tail FILE [LINES]: print the end of a log file, framed, on stderr.
show_log_tail() {
    local file="$1" lines="${2:-60}"
    if [[ -s "$file" ]]; then
        printf -- '----- last %s lines of %s -----\n' "$lines" "$file" >&2
        tail -n "$lines" "$file" >&2
        printf -- '----- end of %s -----\n' "$file" >&2
    else
        printf -- '(log %s is missing or empty)\n' "$file" >&2
    fi
}

# die MESSAGE [LOGFILE...]: print the message and the tail of each log, then exit 1.
die() {
    local msg="$1"
    shift
    local f
    for f in "$@"; do
        show_log_tail "$f"
    done
    log "ERROR: $msg"
    exit 1
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_for_port HOST PORT TIMEOUT_S [PID]: wait until the port accepts connections; fails
# early when PID (the process that should open it) has exited.
wait_for_port() {
    local host="$1" port="$2" timeout="$3" pid="${4:-}"
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if port_open "$host" "$port"; then
            return 0
        fi
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.2
    done
    return 1
}

# pid_alive PIDFILE: true when the file names a live process (prints the pid).
pid_alive() {
    local pidfile="$1" pid
    [[ -s "$pidfile" ]] || return 1
    pid="$(<"$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

# stop_pid PID NAME TIMEOUT_S: SIGTERM, wait, then SIGKILL if it is still there.
stop_pid() {
    local pid="$1" name="$2" timeout="${3:-30}"
    local deadline=$((SECONDS + timeout))
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "$name (pid $pid) did not stop in ${timeout}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
}

# install_packages [PKG...]: apt-get install the given packages (default: RC_APT_PACKAGES)
# that are not installed yet; does nothing, and needs no network, when all are there.
install_packages() {
    local pkgs=("$@") missing=() p status
    ((${#pkgs[@]})) || pkgs=("${RC_APT_PACKAGES[@]}")
    for p in "${pkgs[@]}"; do
        status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
        [[ "$status" == ii* ]] || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
        die "apt-get update failed"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        --no-install-recommends "${missing[@]}" ||
        die "apt-get install ${missing[*]} failed"
}

# install_python_deps: pip-install tests/integration/requirements.txt into the python3 on
# PATH when one of them is missing or at another version.
install_python_deps() {
    local req="$RC_REPO_ROOT/tests/integration/requirements.txt"
    if python3 - "$req" <<'EOF' 2>/dev/null; then
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split('#')[0].strip()
    if not line:
        continue
    name, _, want = line.partition('==')
    try:
        if version(name.strip()) != want.strip():
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
        return 0
    fi
    log "installing Python test dependencies into $(command -v python3)"
    # A Debian python3 refuses (PEP 668) unless told; a pyenv or venv python3 does not.
    python3 -m pip install -q --disable-pip-version-check -r "$req" ||
        python3 -m pip install -q --disable-pip-version-check --break-system-packages \
            -r "$req" ||
        die "pip install -r $req failed"
}

# install_helm: helm $RC_HELM_VERSION built from the Go module proxy into $RC_TOOLS_DIR/bin
# (once; later runs find it there). Prints nothing when it is already there.
install_helm() {
    local bin="$RC_TOOLS_DIR/bin/helm" stamp="$RC_TOOLS_DIR/bin/helm.version"
    # go install leaves helm's own version string at its default, so a stamp says what was built.
    if [[ -x "$bin" && -s "$stamp" && "$(<"$stamp")" == "$RC_HELM_VERSION" ]] &&
        "$bin" version >/dev/null 2>&1; then
        return 0
    fi
    local go
    go=$(command -v go || true)
    [[ -n "$go" ]] || [[ ! -x /usr/local/go/bin/go ]] || go=/usr/local/go/bin/go
    [[ -n "$go" ]] || die "go is needed to build helm (the Go toolchain is not on PATH)"
    log "building helm $RC_HELM_VERSION with go install (first time only)"
    mkdir -p "$RC_TOOLS_DIR/bin"
    GOBIN="$RC_TOOLS_DIR/bin" GOFLAGS=-trimpath "$go" install \
        "helm.sh/helm/v3/cmd/helm@$RC_HELM_VERSION" || die "go install helm failed"
    echo "$RC_HELM_VERSION" >"$stamp"
}
