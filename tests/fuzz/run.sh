#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build/fuzz and runs each one for
# SECONDS (default 30) from a corpus seeded with the binlog fixtures, the JSON vectors and the
# encoders' golden input events (tests/data/golden/msgpack).
# Crashing inputs are written to build/fuzz/crashes/; keep each as a regression case in
# tests/fuzz/regressions/<target>/ once fixed (they are replayed on every run).
#   tests/fuzz/run.sh [SECONDS]          random seed, for SECONDS per target (exploring)
#   tests/fuzz/run.sh --ci [RUNS]        seed 1, RUNS inputs per target (default 300000)
# The --ci pass (ctest label "fuzz") is the same inputs on every run, so a red CI always
# means a change broke something, never that a random seed happened to find an old bug; new
# bugs are hunted with long random runs, and what they find lands here as a regression.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if [ "${1:-}" = --ci ]; then
    limit=(-seed=1 -runs="${2:-300000}")
    what="${2:-300000} runs, seed 1"
else
    limit=(-max_total_time="${1:-30}")
    what="${1:-30}s"
fi
cc=$(command -v clang-14 || command -v clang || true)
[ -n "$cc" ] || { echo "tests/fuzz/run.sh: clang-14 is needed (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
mkdir -p build/fuzz
# the build's output is shown only when it fails (a red CI must say why)
if ! { CC=$cc cmake -S . -B build/fuzz -G Ninja -DRC_FUZZ=ON -DRC_TESTS=OFF -DRC_SANITIZE=ON \
    -DRC_WERROR=ON && cmake --build build/fuzz --target fuzz_binlog fuzz_json_binary \
    fuzz_json_diff fuzz_encode; } >build/fuzz/build.log 2>&1; then
    tail -40 build/fuzz/build.log
    echo "tests/fuzz/run.sh: building the fuzz targets failed (build/fuzz/build.log)" >&2
    exit 1
fi

work=build/fuzz/work
rm -rf "$work" && mkdir -p "$work/binlog" "$work/json" "$work/jdiff" "$work/encode" build/fuzz/crashes
cp tests/data/golden/msgpack/*.mp "$work/encode/"
for f in tests/data/binlog/*/*.000001 tests/data/binlog/*/*.binlog tests/data/binlog/*/*/log.bin \
    tests/data/binlog/*/*.compressed tests/data/binlog/*/*.aurora-padding \
    tests/data/binlog/*/tcb-eval002c-bin.003320; do
    [ -f "$f" ] && tail -c +5 "$f" >"$work/binlog/$(echo "$f" | tr / _)"
done
# seeds for paths no fixture file reaches (see tests/fuzz/seeds/README.md)
cp tests/fuzz/seeds/binlog/* "$work/binlog/"
cp tests/fuzz/seeds/jdiff/* "$work/jdiff/"
i=0
tail -n +2 tests/data/binlog/json-binary/vectors.tsv | cut -f2 | while read -r hex; do
    i=$((i + 1))
    printf '%s' "$hex" | xxd -r -p >"$work/json/v$i"
done
status=0
for t in binlog:fuzz_binlog json:fuzz_json_binary jdiff:fuzz_json_diff encode:fuzz_encode; do
    dir=${t%%:*} target=${t#*:}
    reg=tests/fuzz/regressions/$target
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
        build/fuzz/tests/fuzz/$target "$reg"/* || status=1
    fi
    echo "fuzzing $target for $what (corpus: $(ls "$work/$dir" | wc -l) seeds)"
    build/fuzz/tests/fuzz/$target "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix=build/fuzz/crashes/$target- -print_final_stats=1 "$work/$dir" \
        >"build/fuzz/$target.log" 2>&1 || { status=1; tail -40 "build/fuzz/$target.log"; }
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "build/fuzz/$target.log" | tail -2 || true
done
exit $status
