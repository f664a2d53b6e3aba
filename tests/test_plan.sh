#!/usr/bin/env bash
# ewq plan / entropy / synth on the command line: a plan for stories260K is written atomically, read back
# and validated; plans that do not fit the model, or are broken, are refused with one line naming the
# plan file and the problem (exit 1); bad flag values are usage errors (exit 2).
# Run by tests/run.sh (EWQ = the binary under test).
set -u
EWQ=${EWQ:-./ewq}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stories=../shared/assets/stories260K
fix=data/fixtures

expect_refusal() {   # name, status, expected substring, command...
    local name=$1 status=$2 want=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    if [ $rc -ne "$status" ]; then echo "FAIL $name: exit status $rc, expected $status ($(head -c 300 "$tmp/err"))"
    elif [ "$lines" -ne 1 ]; then echo "FAIL $name: $lines lines on stderr, expected 1: $(head -c 400 "$tmp/err")"
    elif [ -s "$tmp/out" ]; then echo "FAIL $name: printed to stdout: $(head -c 200 "$tmp/out")"
    elif ! grep -qF -- "$want" "$tmp/err"; then echo "FAIL $name: message lacks '$want': $(cat "$tmp/err")"
    else echo "PASS $name"
    fi
}

if [ -d "$stories" ]; then
    model=$stories
else
    echo "SKIP plan/stories260K: ../shared/assets is absent; using the llama3-f32 fixture"
    model=$fix/llama3-f32
fi

# write, then read back
if "$EWQ" plan "$model" -o "$tmp/p.json" >"$tmp/table" 2>"$tmp/err" && [ -s "$tmp/p.json" ]; then
    echo "PASS plan/write"
else
    echo "FAIL plan/write: $(cat "$tmp/err")"
fi
ls "$tmp" | grep -q '\.tmp\.' && echo "FAIL plan/no-temporary-left: $(ls "$tmp")" || echo "PASS plan/no-temporary-left"
if "$EWQ" plan "$model" --check "$tmp/p.json" >"$tmp/check" 2>"$tmp/err" && grep -q "a valid plan" "$tmp/check"; then
    echo "PASS plan/read-back"
else
    echo "FAIL plan/read-back: $(cat "$tmp/err")"
fi
# the tiers read back are the tiers the table printed (block granularity: one per block)
want=$(awk '/^ *[0-9]+ +[0-9.]+ +[0-9]+ +(raw|int8|int4)$/ {print $4}' "$tmp/table" | tr '\n' ' ')
got=$(awk '/^block +[0-9]+:/ {print $3}' "$tmp/check" | tr '\n' ' ')
[ -n "$want" ] && [ "$want" = "$got" ] && echo "PASS plan/read-back-tiers" || echo "FAIL plan/read-back-tiers: table '$want', read back '$got'"

# plans that do not fit the model
expect_refusal plan/other-architecture 1 "plan is for a LlamaForCausalLM model" "$EWQ" plan $fix/qwen3-f32 --check "$tmp/p.json"
sed 's/"layers": [0-9]*/"layers": 7/' "$tmp/p.json" >"$tmp/layers.json"
expect_refusal plan/wrong-layer-count 1 "plan has 7 layers" "$EWQ" plan "$model" --check "$tmp/layers.json"
"$EWQ" plan $fix/llama3-f32 -o "$tmp/l3.json" 2>/dev/null >/dev/null
expect_refusal plan/other-checkpoint 1 "a different checkpoint" "$EWQ" plan $fix/llama3-bf16 --check "$tmp/l3.json"
sed '0,/"tier": "[a-z0-9]*"/s//"tier": "int3"/' "$tmp/p.json" >"$tmp/tier.json"
expect_refusal plan/unknown-tier 1 "unknown tier 'int3'" "$EWQ" plan "$model" --check "$tmp/tier.json"
head -c 300 "$tmp/p.json" >"$tmp/truncated.json"
expect_refusal plan/malformed-json 1 "$tmp/truncated.json: byte" "$EWQ" plan "$model" --check "$tmp/truncated.json"
expect_refusal plan/missing-file 1 "$tmp/none.json: No such file" "$EWQ" plan "$model" --check "$tmp/none.json"
expect_refusal plan/bad-factor 2 "--factor must be a number" "$EWQ" plan "$model" --factor abc
expect_refusal plan/bad-bins 2 "--bins must be an integer" "$EWQ" plan "$model" --bins 1
expect_refusal plan/bad-granularity 2 "--granularity must be block or tensor" "$EWQ" plan "$model" --granularity layer
expect_refusal plan/unwritable-output 1 "$tmp/nowhere/p.json: cannot create" "$EWQ" plan "$model" -o "$tmp/nowhere/p.json"
for c in entropy plan synth; do
    "$EWQ" $c --help | grep -q "^usage: ewq $c" && echo "PASS help/$c" || echo "FAIL help/$c"
done
