#!/usr/bin/env bash
# Every broken model folder in tests/bad/ must be refused by `ewq inspect` with exit status 1, exactly one
# line on stderr that starts with "ewq: ", names a file of that folder and contains the case's `expect`
# text, nothing on stdout, and no new files. Run by tests/run.sh (EWQ = the binary under test).
set -u
. "$(dirname "$0")/lib.sh"

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
