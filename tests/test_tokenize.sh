#!/usr/bin/env bash
# `ewq tokenize`: every broken tokenizer.json in tests/bad-tokenizer/ (listed with the text its message
# must contain in expect.txt) is refused with exit status 1 and one line on stderr naming the file;
# usage errors exit 2; the ids printed match known ids. Run by tests/run.sh (EWQ = the binary under test).
set -u
. "$(dirname "$0")/lib.sh"

while IFS=$'\t' read -r file want; do
    expect_refusal "tokenize-bad/${file%.json}" "$want" "tests/bad-tokenizer/$file" \
        "$EWQ" tokenize "tests/bad-tokenizer/$file"
done <tests/bad-tokenizer/expect.txt
expect_refusal tokenize-bad/missing "No such file or directory" "$tmp/nowhere" "$EWQ" tokenize "$tmp/nowhere"
expect_refusal tokenize-bad/folder-without-tokenizer "No such file or directory" "tests/bad-tokenizer/tokenizer.json" \
    "$EWQ" tokenize tests/bad-tokenizer

"$EWQ" tokenize >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] && echo "PASS tokenize-usage" || echo "FAIL tokenize-usage: exit status $rc without arguments, expected 2"
"$EWQ" tokenize x --bogus >/dev/null 2>&1
rc=$?
[ $rc -eq 2 ] && echo "PASS tokenize-unknown-option" || echo "FAIL tokenize-unknown-option: exit status $rc, expected 2"

assets=../shared/assets
if [ ! -d "$assets/stories260K" ]; then
    echo "SKIP tokenize-stories260K: $assets is missing"
    exit 0
fi
expect_refusal tokenize-bad/missing-text "No such file or directory" "$tmp/no-text" \
    "$EWQ" tokenize "$assets/stories260K" "$tmp/no-text"
# llama2.c encodes "Once upon a time" with stories260K's tokenizer as 403 407 261 378 (assets README)
got=$(printf 'Once upon a time' | "$EWQ" tokenize "$assets/stories260K" --ids --no-bos)
[ "$got" = "403 407 261 378" ] && echo "PASS tokenize-stories260K" || echo "FAIL tokenize-stories260K: got '$got'"
got=$(printf 'Once upon a time' > "$tmp/t.txt" && "$EWQ" tokenize "$assets/stories260K" "$tmp/t.txt" --ids)
[ "$got" = "1 403 407 261 378" ] && echo "PASS tokenize-file-with-bos" || echo "FAIL tokenize-file-with-bos: got '$got'"
got=$(printf 'Once upon a time' | "$EWQ" tokenize "$assets/stories260K" --json)
case "$got" in
    *'"tokens": 5, "ids": [1, 403, 407, 261, 378]}') echo "PASS tokenize-json" ;;
    *) echo "FAIL tokenize-json: got '$got'" ;;
esac
