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

# --- --compressed-tensors: model.safetensors and config.json byte for byte those tests/gen/make_ct_expected.py
# writes with the compressed-tensors and safetensors packages (data/expected/compressed_tensors.sha256), the
# tokenizer files copied, a note for each weight without an exact form, and the error contract.
ct_matches() {   # name, model fixture, export options...
    local name=$1 fixture=$2 want got f why=""
    shift 2
    assemble "$tmp/ct-$name" "data/fixtures/$fixture" $inputs/spm
    if ! "$EWQ" export "$tmp/ct-$name" "$@" --compressed-tensors "$tmp/ct-$name.out" >"$tmp/out" 2>"$tmp/ct-$name.err"; then
        echo "FAIL export/ct-$name: $(grep -v '^packing' "$tmp/ct-$name.err" | head -3)"
        return
    fi
    for f in model.safetensors config.json; do
        want=$(awk -v f="$name/$f" '$2 == f {print $1}' data/expected/compressed_tensors.sha256)
        got=$(sha256sum "$tmp/ct-$name.out/$f" | cut -d' ' -f1)
        [ -n "$want" ] && [ "$got" = "$want" ] || why="$why $f: sha256 $got, expected '$want';"
    done
    for f in tokenizer.json tokenizer_config.json; do
        cmp -s "$inputs/spm/$f" "$tmp/ct-$name.out/$f" || why="$why $f not copied;"
    done
    report "export/ct-$name" "${why:+$why (tests/gen/make_ct_expected.py --keep DIR writes the expected files)}"
}
ct_matches llama3-bf16-plan llama3-bf16 --plan $inputs/llama3-bf16.plan.json
ct_matches qwen2-f16-int8 qwen2-f16 --uniform int8 --embed int8
ct_matches qwen3-f32-int8 qwen3-f32 --uniform int8 --lm-head int4 --group 32

# one note per weight written raw: the four int4 linears of the plan; the two 160-wide down_proj at group 64
# and the int8 embedding; lm_head at int4
notes=$(grep -c "^ewq: note: model\.layers\.[01]\.mlp\.[a-z_]*\.weight: compressed-tensors' int4 zero points are integers, ewq's int4 minimum is not; written raw (BF16) instead of int4$" \
        "$tmp/ct-llama3-bf16-plan.err")
check export/ct-int4-note "$([ "$notes" = 4 ]; echo $?)" "$(cat "$tmp/ct-llama3-bf16-plan.err")"
notes=$(grep -c '^ewq: note: model\.layers\.[01]\.mlp\.down_proj\.weight: 160 columns are not a multiple of the group size 64; written raw (F16) instead of int8$' \
        "$tmp/ct-qwen2-f16-int8.err")
grep -q "^ewq: note: model.embed_tokens.weight: the export keeps the embedding raw; written raw (F16) instead of int8$" \
    "$tmp/ct-qwen2-f16-int8.err" && [ "$notes" = 2 ]
check export/ct-width-and-embedding-notes $? "$(cat "$tmp/ct-qwen2-f16-int8.err")"
grep -q "^ewq: note: lm_head.weight: the export keeps lm_head raw; written raw (F32) instead of int4$" \
    "$tmp/ct-qwen3-f32-int8.err"
check export/ct-lm-head-note $? "$(cat "$tmp/ct-qwen3-f32-int8.err")"

# a GGUF and a folder in one run: the same bytes as each alone
"$EWQ" export "$tmp/ct-qwen3-f32-int8" --uniform int8 --lm-head int4 --group 32 --gguf "$tmp/both.gguf" \
    --compressed-tensors "$tmp/both" >/dev/null 2>&1
cmp -s "$tmp/both/model.safetensors" "$tmp/ct-qwen3-f32-int8.out/model.safetensors" &&
    [ "$(sha256sum <"$tmp/both.gguf" | cut -d' ' -f1)" = "$(awk '$2 == "qwen3-f32-int8.gguf" {print $1}' data/expected/export.sha256)" ]
check export/ct-and-gguf-together $? "the outputs differ from those written alone"

# bad input: one line, and no folder (nor its temporary) left behind; an existing folder is never replaced
expect_refusal export/ct-plan-for-another-model "plan is for a LlamaForCausalLM model" "$tmp/l3.json" \
    "$EWQ" export "$tmp/ct-qwen3-f32-int8" --plan "$tmp/l3.json" --compressed-tensors "$tmp/ct-bad"
expect_refusal export/ct-parent-missing "cannot create (its parent is missing)" "$tmp/no/such/out" \
    "$EWQ" export "$tmp/ct-qwen3-f32-int8" --uniform int8 --compressed-tensors "$tmp/no/such/out"
expect_refusal export/ct-output-is-a-file "exists and is not a folder" "$tmp/kept.gguf" \
    "$EWQ" export "$tmp/ct-qwen3-f32-int8" --uniform int8 --compressed-tensors "$tmp/kept.gguf"
expect_refusal export/ct-output-not-empty "is not empty (it holds '" "$tmp/ct-qwen3-f32-int8.out" \
    "$EWQ" export "$tmp/ct-qwen3-f32-int8" --uniform int8 --compressed-tensors "$tmp/ct-qwen3-f32-int8.out/"
expect_refusal export/ct-output-names-no-folder "names no folder of its own" "$tmp/.." \
    "$EWQ" export "$tmp/ct-qwen3-f32-int8" --uniform int8 --compressed-tensors "$tmp/.."
cmp -s "$tmp/ct-qwen3-f32-int8.out/model.safetensors" "$tmp/both/model.safetensors"
check export/ct-existing-folder-untouched $? "the refused export changed the existing folder"
mkdir "$tmp/ct-quantized"
cp "$tmp/ct-qwen3-f32-int8.out/config.json" "$tmp/ct-qwen3-f32-int8/model.safetensors" "$tmp/ct-quantized/"
expect_refusal export/ct-quantized-already "has a quantization_config" "$tmp/ct-quantized/config.json" \
    "$EWQ" export "$tmp/ct-quantized" --uniform int8 --compressed-tensors "$tmp/ct-bad"
mkdir "$tmp/ct-empty"
"$EWQ" export "$tmp/ct-qwen3-f32-int8" --compressed-tensors "$tmp/ct-empty" >/dev/null 2>&1 &&
    cmp -s "$tmp/ct-empty/model.safetensors" "$tmp/ct-qwen3-f32-int8/model.safetensors" &&
    cmp -s "$tmp/ct-empty/config.json" "$tmp/ct-qwen3-f32-int8/config.json"
check export/ct-raw-into-empty-folder $? "an all-raw export into an empty folder is not the checkpoint itself"
ls "$tmp" | grep -qE '^ct-bad|\.tmp\.' && echo "FAIL export/ct-no-partial-output: $(ls "$tmp")" \
    || echo "PASS export/ct-no-partial-output"
