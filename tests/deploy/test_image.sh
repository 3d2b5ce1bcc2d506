#!/usr/bin/env bash
# Checks deploy/Dockerfile without a container engine (none runs here): hadolint lints it, and
# the runtime stage's package list is proved enough by installing exactly those packages into
# a minimal Debian bookworm root (debootstrap --variant=minbase, nothing else), copying in a
# release build of rowcast, and running it there: --version, no missing library, --check of
# a config with Lua and JS transforms, and a live server answering the image's HEALTHCHECK
# command (curl, from inside the root) on /healthz.
#   tests/deploy/test_image.sh        (ctest: deploy.test_image; needs root for chroot)
# The root is cached in $RC_TOOLS_DIR/image-root-<hash of the package list>.
set -euo pipefail
# shellcheck source=tests/services/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../services/common.sh"
RC_LOG_TAG=test_image
cd "$RC_REPO_ROOT"
dockerfile=deploy/Dockerfile

command -v hadolint >/dev/null || die "hadolint is missing (tests/run.sh installs it from PyPI)"
log "hadolint $dockerfile"
hadolint "$dockerfile"

# The runtime packages: the apt-get install line of the last stage.
runtime_line=$(awk '/^FROM /{stage=$0} stage ~ /bookworm-slim/ && /apt-get install/' "$dockerfile")
[[ -n "$runtime_line" ]] || die "no apt-get install line in the bookworm-slim stage of $dockerfile"
read -r -a pkgs <<<"$(sed -e 's/.*--no-install-recommends//' -e 's/\\$//' <<<"$runtime_line")"
((${#pkgs[@]} > 3)) || die "could not read the runtime packages from: $runtime_line"
log "runtime packages: ${pkgs[*]}"

((EUID == 0)) || die "building and entering a Debian root needs root"
hash=$(printf '%s\n' "${pkgs[@]}" | sha256sum | cut -c1-12)
root="$RC_TOOLS_DIR/image-root-$hash"
if [[ ! -x "$root/usr/bin/curl" ]]; then
    rm -rf "$root" "$root.tmp"
    mkdir -p "$RC_TOOLS_DIR"
    log "debootstrap --variant=minbase bookworm with only the runtime packages into $root"
    debootstrap --variant=minbase --include="$(
        IFS=,
        echo "${pkgs[*]}"
    )" bookworm "$root.tmp" >"$RC_TOOLS_DIR/debootstrap-$hash.log" 2>&1 ||
        die "debootstrap failed" "$RC_TOOLS_DIR/debootstrap-$hash.log"
    mv "$root.tmp" "$root"
fi

# The same build the Dockerfile's first stage makes.
log "release build in build/image"
cmake -S . -B build/image -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRC_TESTS=OFF \
    -DCMAKE_INSTALL_PREFIX=/usr/local >/dev/null
cmake --build build/image >/dev/null
cmake --install build/image --prefix "$root/usr/local" --strip >/dev/null

run() { chroot "$root" "$@"; }
missing=$(run ldd /usr/local/bin/rowcast | grep 'not found' || true)
[[ -z "$missing" ]] || die "libraries missing from the runtime stage: $missing"
run /usr/local/bin/rowcast --version | grep -q '^rowcast ' || die "rowcast --version failed in the root"

# A config as the chart mounts it, with both engines' scripts (compiled by --check).
etc="$root/etc/rowcast"
rm -rf "$etc" && mkdir -p "$etc/scripts"
cp deploy/examples/mask.lua deploy/examples/mask.js "$etc/scripts/"
port=$((20000 + RANDOM % 20000))
cat >"$etc/rowcast.yaml" <<YAML
http: {listen: 127.0.0.1:$port}
kafka: {brokers: 127.0.0.1:1}
pipelines:
  - name: probe
    source: {host: 127.0.0.1, port: 1, user: rowcast, password: x, server_id: 77}
    transforms:
      - {engine: lua, file: scripts/mask.lua}
      - {engine: js, file: scripts/mask.js}
YAML
run /usr/local/bin/rowcast --config /etc/rowcast/rowcast.yaml --check ||
    die "rowcast --check failed inside the runtime root"

# The live server, and the image's HEALTHCHECK command run inside the same root.
log "starting rowcast in the root on 127.0.0.1:$port"
chroot --userspec=65534:65534 "$root" /usr/local/bin/rowcast \
    --config /etc/rowcast/rowcast.yaml >"$RC_TOOLS_DIR/image-run.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
ok=0
for _ in $(seq 1 50); do
    if run curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then
        ok=1
        break
    fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
done
((ok)) || die "the HEALTHCHECK command did not get 200 from /healthz" "$RC_TOOLS_DIR/image-run.log"
kill -TERM $pid
status=0
wait $pid || status=$?
trap - EXIT
((status == 0)) || die "rowcast exited $status on SIGTERM in the root" "$RC_TOOLS_DIR/image-run.log"
echo "test_image: 1 passed, 0 failed"
