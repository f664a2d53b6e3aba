#!/usr/bin/env bash
# ewq plan / entropy / synth on the command line: a plan for stories260K is written atomically, read back
# and validated; plans that do not fit the model, or are broken, are refused with one line naming the
# plan file and the problem (exit 1); bad flag values are usage errors (exit 2).
# Run by tests/run.sh (EWQ = the binary under test).
set -u
. "$(dirname "$0")/lib.sh"
stories=../shared/assets/stories260K
fix=data/fixtures

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
expect_exit plan/other-architecture 1 "plan is for a LlamaForCausalLM model" "$EWQ" plan $fix/qwen3-f32 --check "$tmp/p.json"
sed 's/"layers": [0-9]*/"layers": 7/' "$tmp/p.json" >"$tmp/layers.json"
expect_exit plan/wrong-layer-count 1 "plan has 7 layers" "$EWQ" plan "$model" --check "$tmp/layers.json"
"$EWQ" plan $fix/llama3-f32 -o "$tmp/l3.json" 2>/dev/null >/dev/null
expect_exit plan/other-checkpoint 1 "a different checkpoint" "$EWQ" plan $fix/llama3-bf16 --check "$tmp/l3.json"
sed '0,/"tier": "[a-z0-9]*"/s//"tier": "int3"/' "$tmp/p.json" >"$tmp/tier.json"
expect_exit plan/unknown-tier 1 "unknown tier 'int3'" "$EWQ" plan "$model" --check "$tmp/tier.json"
head -c 300 "$tmp/p.json" >"$tmp/truncated.json"
expect_exit plan/malformed-json 1 "$tmp/truncated.json: byte" "$EWQ" plan "$model" --check "$tmp/truncated.json"
expect_exit plan/missing-file 1 "$tmp/none.json: No such file" "$EWQ" plan "$model" --check "$tmp/none.json"
expect_exit plan/bad-factor 2 "--factor must be a number" "$EWQ" plan "$model" --factor abc
expect_exit plan/bad-bins 2 "--bins must be an integer" "$EWQ" plan "$model" --bins 1
expect_exit plan/bad-granularity 2 "--granularity wants block or tensor" "$EWQ" plan "$model" --granularity layer
expect_exit plan/unwritable-output 1 "$tmp/nowhere/p.json: cannot create" "$EWQ" plan "$model" -o "$tmp/nowhere/p.json"
# synth: every architecture's fixture config gives a checkpoint ewq loads; the seed alone decides the bytes
for arch in llama3 qwen2 qwen3; do
    if "$EWQ" synth $fix/$arch-f32/config.json -o "$tmp/s-$arch" --seed 5 >/dev/null 2>"$tmp/err" &&
        "$EWQ" inspect "$tmp/s-$arch" >/dev/null 2>>"$tmp/err"; then
        echo "PASS synth/loads-$arch"
    else
        echo "FAIL synth/loads-$arch: $(cat "$tmp/err")"
    fi
done
"$EWQ" synth $fix/qwen2-f32 -o "$tmp/s-again" --seed 5 >/dev/null 2>&1
cmp -s "$tmp/s-qwen2/model.safetensors" "$tmp/s-again/model.safetensors" && echo "PASS synth/same-seed-same-bytes" ||
    echo "FAIL synth/same-seed-same-bytes"
"$EWQ" synth $fix/qwen2-f32 -o "$tmp/s-other" --seed 6 >/dev/null 2>&1
cmp -s "$tmp/s-qwen2/model.safetensors" "$tmp/s-other/model.safetensors" && echo "FAIL synth/other-seed-other-bytes" ||
    echo "PASS synth/other-seed-other-bytes"
"$EWQ" plan "$tmp/s-qwen2" -o "$tmp/s.json" >/dev/null 2>&1
expect_exit plan/same-shapes-other-seed 1 "a different checkpoint" "$EWQ" plan "$tmp/s-other" --check "$tmp/s.json"
expect_exit synth/bad-config 1 "tests/bad/config-missing-key/config.json" "$EWQ" synth tests/bad/config-missing-key -o "$tmp/s-bad"
[ -e "$tmp/s-bad" ] && echo "FAIL synth/bad-config-no-output: $tmp/s-bad was created" || echo "PASS synth/bad-config-no-output"
expect_exit synth/bad-outliers 2 "--outliers" "$EWQ" synth $fix/qwen2-f32 -o "$tmp/s-bad" --outliers 9:5
expect_exit synth/missing-output 2 "missing -o DIR" "$EWQ" synth $fix/qwen2-f32

# the plot: one dot per block, coloured as the table's tier column says
"$EWQ" entropy "$model" --svg "$tmp/e.svg" >"$tmp/etable" 2>/dev/null
want=$(awk '/^ *[0-9]+ +[0-9.]+ +[0-9]+ +[0-9.]+% +(raw|int8|int4)$/ {print $5}' "$tmp/etable" | tr '\n' ' ')
got=$(grep -o '<title>block [0-9]*: [0-9.]* bits, [a-z0-9]*</title>' "$tmp/e.svg" | sed 's/.*, \(.*\)<.*/\1/' | tr '\n' ' ')
colors=$(grep -o 'fill="#[0-9a-f]*"><title>block' "$tmp/e.svg" | cut -d'"' -f2 | sort -u | wc -l)
tiers=$(echo $want | tr ' ' '\n' | sort -u | wc -l)
[ -n "$want" ] && [ "$want" = "$got" ] && [ "$colors" = "$tiers" ] && echo "PASS entropy/svg-dots" ||
    echo "FAIL entropy/svg-dots: table '$want', plot '$got', $colors colours for $tiers tiers"
for c in entropy plan synth; do
    "$EWQ" $c --help | grep -q "^usage: ewq $c" && echo "PASS help/$c" || echo "FAIL help/$c"
done
