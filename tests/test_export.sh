#!/usr/bin/env bash
# ewq export --gguf: the files are byte for byte the ones tests/gen/make_export_expected.py writes with llama.cpp's
# own gguf package (data/expected/export.sha256: four models covering Llama with a mixed plan, Qwen2 with
# biases and tied embeddings, Qwen3, stories260K's SentencePiece vocabulary); weights without a GGUF form
# are written raw with a note; bad input keeps the error contract and leaves no output behind.
# Run by tests/run.sh (EWQ = the binary under test).
set -u
. "$(dirname "$0")/lib.sh"
inputs=tests/export
stories=../shared/assets/stories260K

# MODEL_FOLDER, WEIGHTS_FOLDER, TOKENIZER_FOLDER: config + weights, then the tokenizer files
assemble() {
    mkdir -p "$1"
    cp "$2/config.json" "$2/model.safetensors" "$1/"
    cp "$3/tokenizer.json" "$1/"
    [ -f "$3/tokenizer_config.json" ] && cp "$3/tokenizer_config.json" "$1/"
    return 0
}

export_matches() {   # name, export options...
    local name=$1 want got
    shift
    want=$(awk -v f="$name.gguf" '$2 == f {print $1}' data/expected/export.sha256)
    if ! "$EWQ" export "$tmp/$name" "$@" --gguf "$tmp/$name.gguf" >"$tmp/out" 2>"$tmp/$name.err"; then
        echo "FAIL export/$name: $(grep -v '^packing' "$tmp/$name.err" | head -3)"
        return
    fi
    got=$(sha256sum "$tmp/$name.gguf" | cut -d' ' -f1)
    if [ -n "$want" ] && [ "$got" = "$want" ]; then echo "PASS export/$name"
    else echo "FAIL export/$name: sha256 $got, expected '$want' (tests/gen/make_export_expected.py --keep DIR writes the expected file)"
    fi
}

assemble "$tmp/llama3-bf16-plan" data/fixtures/llama3-bf16 $inputs/spm
export_matches llama3-bf16-plan --plan $inputs/llama3-bf16.plan.json
mkdir "$tmp/qwen2-synth-int4"
"$EWQ" synth $inputs/qwen2-synth-config.json -o "$tmp/qwen2-synth-int4" >/dev/null 2>&1
cp $inputs/bytelevel/* "$tmp/qwen2-synth-int4/"
export_matches qwen2-synth-int4 --uniform int4 --embed int8
assemble "$tmp/qwen3-f32-int8" data/fixtures/qwen3-f32 $inputs/spm
export_matches qwen3-f32-int8 --uniform int8 --lm-head int4 --group 32
if [ -d "$stories" ]; then
    assemble "$tmp/stories260K-int4" $stories $stories
    export_matches stories260K-int4 --uniform int4
else
    echo "SKIP export/stories260K-int4: ../shared/assets is absent"
fi
ls "$tmp" | grep -q '\.tmp\.' && echo "FAIL export/no-temporary-left: $(ls "$tmp")" || echo "PASS export/no-temporary-left"

# a quantized weight whose rows are 80 wide has no Q4_1 form: raw, and one note per weight names it
notes=$(grep -c '^ewq: note: model\.layers\.[01]\.mlp\.down_proj\.weight: 80 columns .* written raw (BF16) instead of int4$' \
        "$tmp/qwen2-synth-int4.err")
[ "$notes" = 2 ] && echo "PASS export/raw-note" || echo "FAIL export/raw-note: $(cat "$tmp/qwen2-synth-int4.err")"

# bad input: one line, exit 1 (usage: 2), and the output file untouched
echo previous >"$tmp/kept.gguf"
"$EWQ" plan data/fixtures/llama3-f32 -o "$tmp/l3.json" >/dev/null 2>&1
expect_refusal export/plan-for-another-model "plan is for a LlamaForCausalLM model" "$tmp/l3.json" \
    "$EWQ" export "$tmp/qwen3-f32-int8" --plan "$tmp/l3.json" --gguf "$tmp/kept.gguf"
expect_refusal export/plan-for-another-checkpoint "a different checkpoint" "$tmp/l3.json" \
    "$EWQ" export "$tmp/llama3-bf16-plan" --plan "$tmp/l3.json" --gguf "$tmp/kept.gguf"
[ "$(cat "$tmp/kept.gguf")" = previous ] && echo "PASS export/failed-export-keeps-file" \
    || echo "FAIL export/failed-export-keeps-file: $(head -c 100 "$tmp/kept.gguf")"
expect_refusal export/unwritable-output "cannot create" "$tmp/no/such/folder/m.gguf" \
    "$EWQ" export "$tmp/qwen3-f32-int8" --uniform int8 --gguf "$tmp/no/such/folder/m.gguf"
expect_refusal export/output-is-a-folder "is a folder" "$tmp" "$EWQ" export "$tmp/qwen3-f32-int8" --gguf "$tmp"
assemble "$tmp/big-vocab" data/fixtures/llama3-bf16 $inputs/bytelevel
expect_refusal export/tokenizer-beyond-vocab "has 269 tokens but the model's vocab_size is 256" \
    "$tmp/big-vocab/tokenizer.json" "$EWQ" export "$tmp/big-vocab" --gguf "$tmp/big.gguf"
expect_refusal export/no-tokenizer "tokenizer.json" data/fixtures/qwen3-f32 \
    "$EWQ" export data/fixtures/qwen3-f32 --gguf "$tmp/none.gguf"
ls "$tmp" | grep -qE '^(big|none|m)\.gguf|\.tmp\.' && echo "FAIL export/no-partial-output: $(ls "$tmp")" \
    || echo "PASS export/no-partial-output"
expect_exit export/group-not-multiple-of-32 2 "--group 48" "$EWQ" export "$tmp/qwen3-f32-int8" --group 48 --gguf "$tmp/g.gguf"
expect_exit export/missing-output 2 "missing --gguf" "$EWQ" export "$tmp/qwen3-f32-int8"
expect_exit export/plan-and-uniform 2 "exclude each other" "$EWQ" export "$tmp/qwen3-f32-int8" --plan "$tmp/l3.json" \
    --uniform int8 --gguf "$tmp/g.gguf"
