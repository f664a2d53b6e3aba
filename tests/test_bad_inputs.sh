#!/usr/bin/env bash
# Every broken model folder in tests/bad/ must be refused by `ewq inspect` with exit status 1, exactly one
# line on stderr that starts with "ewq: ", names a file of that folder and contains the case's `expect`
# text, nothing on stdout, and no new files. Run by tests/run.sh (EWQ = the binary under test).
set -u
EWQ=${EWQ:-./ewq}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect_refusal() {   # name, expected substring, file the message must name, command...
    local name=$1 want=$2 file=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ $rc -ne 1 ]; then echo "FAIL $name: exit status $rc, expected 1 ($(head -c 300 "$tmp/err"))"
    elif [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines lines on stderr, expected 1: $(head -c 300 "$tmp/err")"
    elif [ -s "$tmp/out" ]; then echo "FAIL $name: printed to stdout: $(head -c 200 "$tmp/out")"
    elif ! grep -q '^ewq: ' "$tmp/err"; then echo "FAIL $name: message does not start with 'ewq: ': $(cat "$tmp/err")"
    elif ! grep -qF -- "$file" "$tmp/err"; then echo "FAIL $name: message does not name $file: $(cat "$tmp/err")"
    elif ! grep -qF -- "$want" "$tmp/err"; then echo "FAIL $name: message lacks '$want': $(cat "$tmp/err")"
    else echo "PASS $name"
    fi
}

for dir in tests/bad/*/; do
    dir=${dir%/}
    name=bad-input/$(basename "$dir")
    before=$(ls -A "$dir")
    expect_refusal "$name" "$(cat "$dir/expect")" "$dir" "$EWQ" inspect "$dir"
    [ "$(ls -A "$dir")" = "$before" ] || echo "FAIL $name/no-new-files: the folder changed: $(ls -A "$dir")"
done
expect_refusal bad-input/model-is-a-file "is not a folder" tests/bad/no-config/model.safetensors \
    "$EWQ" inspect tests/bad/no-config/model.safetensors
expect_refusal bad-input/model-does-not-exist "No such file or directory" "$tmp/nowhere" "$EWQ" inspect "$tmp/nowhere"
