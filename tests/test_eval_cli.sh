#!/usr/bin/env bash
# The ppl, generate and bench commands on the real stories260K model: their results against the
# transformers oracle in data/expected/stories260K.json (written by tests/gen/make_fixtures.py), and
# their refusals of bad input (exit 1 with one "ewq: FILE: problem" line, or 2 for usage errors).
# Run by tests/run.sh (EWQ = the binary under test).
set -u
. "$(dirname "$0")/lib.sh"
S=../shared/assets/stories260K
ORACLE=data/expected/stories260K.json
TOKENS=data/expected/tinystories-6144.tokens

for cmd in ppl generate bench; do
    if "$EWQ" $cmd --help >"$tmp/out" 2>&1 && grep -q "^usage: ewq $cmd" "$tmp/out"; then echo "PASS cli/$cmd-help"
    else echo "FAIL cli/$cmd-help: $(head -c 200 "$tmp/out")"; fi
done

F=data/fixtures/llama3-f32
printf '1 2 x 4\n' >"$tmp/letters.tokens"
printf '1 2 3 256\n' >"$tmp/range.tokens"
printf '1 2 3 4 5\n' >"$tmp/short.tokens"
: >"$tmp/empty.tokens"
expect_exit cli/ppl-missing-tokens 1 "ewq: $tmp/none.tokens: No such file" "$EWQ" ppl $F --tokens "$tmp/none.tokens"
expect_exit cli/ppl-not-an-id 1 "ewq: $tmp/letters.tokens: byte 4: expected a decimal token id" "$EWQ" ppl $F --tokens "$tmp/letters.tokens"
expect_exit cli/ppl-id-out-of-range 1 "ewq: $tmp/range.tokens: byte 6: token id 256 is outside the vocabulary [0, 256)" \
    "$EWQ" ppl $F --tokens "$tmp/range.tokens"
expect_exit cli/ppl-empty-tokens 1 "ewq: $tmp/empty.tokens: holds no token ids" "$EWQ" ppl $F --tokens "$tmp/empty.tokens"
expect_exit cli/ppl-too-few-tokens 1 "ewq: $tmp/short.tokens: 5 tokens are fewer than one chunk of --ctx 512" "$EWQ" ppl $F --tokens "$tmp/short.tokens"
expect_exit cli/ppl-bad-tier 2 "--uniform wants raw, int8 or int4, got 'int5'" "$EWQ" ppl $F --tokens "$tmp/short.tokens" --uniform int5
expect_exit cli/ppl-bad-ctx 2 "--ctx must be an integer from 4 to" "$EWQ" ppl $F --tokens "$tmp/short.tokens" --ctx 2
expect_exit cli/ppl-no-tokens 2 "give one of --text FILE and --tokens FILE" "$EWQ" ppl $F
expect_exit cli/ppl-bad-model 1 "ewq: $tmp/nowhere: No such file" "$EWQ" ppl "$tmp/nowhere" --tokens "$tmp/short.tokens"
expect_exit cli/generate-bad-id 2 "--ids: token id 999 is outside the vocabulary [0, 256)" "$EWQ" generate $F --ids "1 999"
expect_exit cli/generate-bad-n 2 "-n must be an integer from 1 to" "$EWQ" generate $F -n 0
expect_exit cli/bench-bad-group 2 "--group must be an integer from 1 to 256" "$EWQ" bench $F --group 0
expect_exit cli/bench-nothing 2 "nothing to measure" "$EWQ" bench $F -p 0 -n 0

# generate on a fixture: its 16 greedy tokens (expected.json) from its 4-token prompt
want=$(tr -d ' \n' <$F/expected.json | grep -o '"greedy":{"prompt":\[[0-9,]*\],"tokens":\[[0-9,]*\]' | sed 's/.*"tokens":\[//; s/\]//')
prompt=$(tr -d ' \n' <$F/expected.json | grep -o '"greedy":{"prompt":\[[0-9,]*\]' | sed 's/.*\[//; s/\]//')
got=$("$EWQ" generate $F --ids "$prompt" -n 16 2>/dev/null | tr ' ' ',')
[ -n "$want" ] && [ "$got" = "$want" ] && echo "PASS cli/generate-fixture" || echo "FAIL cli/generate-fixture: got '$got', transformers '$want'"

if [ ! -d "$S" ]; then
    echo "SKIP cli/stories260K: $S is not available"
    exit 0
fi

num() { grep -o "\"$1\": [0-9.e+-]*" | head -n 1 | sed 's/.*: //'; }
oracle_at() {   # section, ctx, key
    tr -d '\n' <$ORACLE | sed "s/.*\"$1\": \[//" | grep -o "{[^}]*\"ctx\": $2,[^}]*}" | head -n 1 | num "$3"
}
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b != 0 && d / b <= t) }'; }

# generate: 64 greedy tokens from BOS, as transformers generated them
want=$(tr -d ' \n' <$ORACLE | grep -o '"greedy_from_bos":{"tokens":\[[0-9,]*\]' | sed 's/.*\[//; s/\]//')
got=$("$EWQ" generate $S -n 64 --json 2>/dev/null | grep -o '"generated": {[^[]*"ids": \[[0-9, ]*\]' | tr -d ' ' | sed 's/.*\[//; s/\]//')
[ -n "$want" ] && [ "$got" = "$want" ] && echo "PASS cli/generate-stories260K" || echo "FAIL cli/generate-stories260K: got '$got', transformers '$want'"
# ... and their text, as HF tokenizers decodes those ids (both JSON-escaped the same way: \n, no quotes)
got=$("$EWQ" generate $S -n 64 --json 2>/dev/null | grep -o '"text": "[^"]*"')
want=$(grep -o '"text": "[^"]*"' $ORACLE)
[ -n "$want" ] && [ "$got" = "$want" ] && echo "PASS cli/generate-text-stories260K" || echo "FAIL cli/generate-text-stories260K: got $got, HF $want"
want=$(tr -d ' \n' <$ORACLE | grep -o '"greedy_from_bos":{"tokens":\[[0-9,]*\]' | sed 's/.*\[//; s/\]//')

# a text prompt: "Once upon a time" is BOS + the first 4 greedy tokens, so the continuation is the rest
got=$("$EWQ" generate $S --prompt "Once upon a time" -n 20 --json 2>/dev/null | grep -o '"generated": {[^[]*"ids": \[[0-9, ]*\]' | tr -d ' ' | sed 's/.*\[//; s/\]//')
[ -n "$got" ] && [ "$got" = "$(echo "$want" | cut -d, -f5-24)" ] && echo "PASS cli/generate-prompt-text" ||
    echo "FAIL cli/generate-prompt-text: got '$got', transformers '$(echo "$want" | cut -d, -f5-24)'"

# --text and --tokens are one path: the text's ids (ewq tokenize, checked against HF elsewhere) give the same result
head -c 4000 ../shared/assets/text/tinystories_validation_100.txt >"$tmp/story.txt"
"$EWQ" tokenize $S "$tmp/story.txt" --ids >"$tmp/story.tokens" 2>/dev/null
a=$("$EWQ" ppl $S --text "$tmp/story.txt" --ctx 128 --json 2>/dev/null | num ppl)
b=$("$EWQ" ppl $S --tokens "$tmp/story.tokens" --ctx 128 --json 2>/dev/null | num ppl)
[ -n "$a" ] && [ "$a" = "$b" ] && echo "PASS cli/ppl-text-equals-tokens" || echo "FAIL cli/ppl-text-equals-tokens: --text '$a', --tokens '$b'"

# ppl at ctx 128, int4 blocks with --ref raw, against transformers' numbers for the same protocol
out=$("$EWQ" ppl $S --tokens $TOKENS --ctx 128 --uniform int4 --ref raw --json 2>/dev/null)
got=$(echo "$out" | num ppl); want=$(oracle_at ppl_int4_vs_raw 128 ppl)
close "$got" "$want" 1e-5 && echo "PASS cli/ppl-int4-stories260K" || echo "FAIL cli/ppl-int4-stories260K: ewq '$got', transformers '$want'"
got=$(echo "$out" | num kld); want=$(oracle_at ppl_int4_vs_raw 128 kl)
close "$got" "$want" 1e-4 && echo "PASS cli/ppl-int4-kl-stories260K" || echo "FAIL cli/ppl-int4-kl-stories260K: ewq '$got', transformers '$want'"

# a plan (ewq plan) against itself as the reference: identical weights, so KL 0 and full top-1 agreement;
# the tiers it applies are the plan's block counts times the 7 linears of a block
"$EWQ" plan $S -o "$tmp/plan.json" >/dev/null 2>&1
out=$("$EWQ" ppl $S --plan "$tmp/plan.json" --ref "$tmp/plan.json" --tokens $TOKENS --ctx 128 --json 2>/dev/null)
tiers=$(tr -d ' \n' <"$tmp/plan.json" | grep -o '"blocks_per_tier":{"raw":[0-9]*,"int8":[0-9]*,"int4":[0-9]*}' |
        sed 's/.*"raw":\([0-9]*\),"int8":\([0-9]*\),"int4":\([0-9]*\).*/\1,\2,\3/' |
        awk -F, '{ printf "\"linears_per_tier\": {\"raw\": %d, \"int8\": %d, \"int4\": %d}", 7 * $1, 7 * $2, 7 * $3 }')
if [ "$(echo "$out" | num kld)" = 0 ] && [ "$(echo "$out" | num top1_agree)" = 1 ] && [ -n "$tiers" ] &&
    echo "$out" | grep -qF "$tiers"; then echo "PASS cli/ppl-plan-vs-itself"
else echo "FAIL cli/ppl-plan-vs-itself: $out (plan: $tiers)"; fi
expect_exit cli/ppl-plan-of-another-model 1 "ewq: $tmp/plan.json: " "$EWQ" ppl $F --plan "$tmp/plan.json" --tokens "$tmp/short.tokens" --ctx 4
expect_exit cli/ppl-plan-and-uniform 2 "--plan and --uniform exclude each other" "$EWQ" ppl $S --plan "$tmp/plan.json" --uniform int8 --tokens $TOKENS

# bench runs and reports both tests with positive rates (speed itself is for make bench)
out=$("$EWQ" bench $S -p 16 -n 8 -r 1 --json 2>/dev/null)
echo "$out" | grep -q '"pp": {"tokens": 16, "tok_s": [0-9]' && echo "$out" | grep -q '"tg": {"tokens": 8, "tok_s": [0-9]' &&
    echo "PASS cli/bench-runs" || echo "FAIL cli/bench-runs: $out"
