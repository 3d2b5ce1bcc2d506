#!/usr/bin/env bash
# check_golden_text.sh PROTOC PROTO_DIR GOLDEN_DIR: decodes every golden rowcast.v1.Event
# (*.pb) with Google's protoc and compares the text with the reviewed *.txt beside it.
# RC_GOLDEN_UPDATE=1 writes the .txt files instead.
set -euo pipefail
protoc="$1" proto_dir="$2" dir="$3"
n=0 bad=0
for pb in "$dir"/*.pb; do
    txt="${pb%.pb}.txt"
    got="$("$protoc" --proto_path="$proto_dir" --decode=rowcast.v1.Event rowcast/v1/event.proto <"$pb")"
    if [[ -n "${RC_GOLDEN_UPDATE:-}" ]]; then
        printf '%s\n' "$got" >"$txt"
    elif ! diff -u "$txt" <(printf '%s\n' "$got"); then
        echo "check_golden_text: $pb does not decode to $txt" >&2
        bad=$((bad + 1))
    fi
    n=$((n + 1))
done
((n > 0)) || { echo "check_golden_text: no .pb files in $dir" >&2; exit 1; }
echo "check_golden_text: $n files, $bad differ"
((bad == 0))
