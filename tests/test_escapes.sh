#!/usr/bin/env bash
# Text from files and from the command line never reaches the terminal raw, and never makes a JSON or SVG
# document ill-formed. Messages: no C0 control byte but the final newline, no DEL, no C1 control, valid
# UTF-8 (the bytes that are not become \xNN). JSON and SVG: valid UTF-8 (iconv), no raw control bytes, and
# they parse (jq, xmllint, when installed). Run by tests/run.sh.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model_edit.sh"

good=data/fixtures/llama2-f32
ESC=$'\e' BEL=$'\a' CSI8=$'\xc2\x9b' BAD=$'\xff\xfe'
# the first three bytes of a four-byte character cut short, then an ill-formed continuation; U+FFFD itself
CUT4=$'\xf0\xaf\x8d\xedA' FFFD=$'\xef\xbf\xbd'

# clean FILE: why FILE is not safe to print on a terminal, or nothing
clean() {
    if ! iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1; then echo "invalid UTF-8: $(od -c "$1" | head -c 300)"
    elif LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' "$1"; then echo "a control byte: $(od -c "$1" | head -c 300)"
    elif grep -q $'\xc2[\x80-\x9f]' "$1"; then echo "a C1 control: $(od -c "$1" | head -c 300)"
    fi
}

# expect_escaped NAME TEXT COMMAND...: exit 1, one line containing TEXT, and that line safe to print
expect_escaped() {
    local name=$1 text=$2 why
    shift 2
    why=$(contract_violation 1 "$text" "$@")
    [ -z "$why" ] && why=$(clean "$tmp/err")
    report "$name" "$why"
}

# config.json strings quoted in messages: "architectures", "hidden_act" and the rope_scaling type, with
# JSON escapes for the control characters and raw bytes for the invalid UTF-8
n=0
for c in "\"architectures\": [\"\\u001b]0;PWNED\\u0007\\u001b[2J\"]|unknown architecture '\\x1b]0;PWNED\\x07\\x1b[2J'" \
    "\"architectures\": [\"Gpt${BAD}\"]|unknown architecture 'Gpt\\xff\\xfe'" \
    "\"architectures\": [\"Gpt\\u009b31m\"]|unknown architecture 'Gpt\\xc2\\x9b31m'" \
    "\"architectures\": [\"Gpt${CUT4}\"]|unknown architecture 'Gpt\\xf0\\xaf\\x8d\\xedA'" \
    "\"architectures\": [\"Gpt\\ufffd\"]|unknown architecture 'Gpt${FFFD}'" \
    "\"hidden_act\": \"gelu\\u001b[2J\"|hidden_act 'gelu\\x1b[2J'" \
    "\"rope_scaling\": {\"rope_type\": \"yarn\\r\\u001b[1A\"}|rope_scaling type 'yarn\\x0d\\x1b[1A'"; do
    IFS='|' read -r member want <<<"$c"
    n=$((n + 1))
    m=$(fresh_model "$good" "config-$n")
    printf '{"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 256, %s}' \
        "$member" >"$m/config.json"
    expect_escaped "escapes/config-$n-${member:1:8}" "$want" "$EWQ" inspect "$m"
done

# a safetensors dtype
m=$(fresh_model "$good" dtype)
rewrite_header "$m" 's/"lm_head.weight":{"dtype":"F32"/"lm_head.weight":{"dtype":"\\u001b[2J"/'
expect_escaped escapes/safetensors-dtype "dtype '\\x1b[2J'" "$EWQ" inspect "$m"

# a plan's model.path, quoted when the plan is for another model
"$EWQ" plan "$good" -o "$tmp/plan.json" >/dev/null 2>&1
sed -e "s|\"path\": \"[^\"]*\"|\"path\": \"\\\\u001b]0;PWNED\\\\u0007\"|" -e 's/"LlamaForCausalLM"/"MistralForCausalLM"/' \
    "$tmp/plan.json" >"$tmp/other.json"
expect_escaped escapes/plan-model-path "(\\x1b]0;PWNED\\x07)" "$EWQ" plan "$good" --check "$tmp/other.json"

# flags and command names from the command line (usage errors: exit 2)
for c in "unknown command 'x\\x1b[2J'|x${ESC}[2J" "got '1\\x1b[2J'|plan $good --factor 1${ESC}[2J"; do
    IFS='|' read -r want args <<<"$c"
    read -ra args <<<"$args"
    why=$(contract_violation 2 "$want" "$EWQ" "${args[@]}")
    [ -z "$why" ] && why=$(clean "$tmp/err")
    report "escapes/usage-${args[0]:0:4}" "$why"
done

# JSON and SVG written for a model whose folder name holds control and invalid bytes
odd=$tmp/$'odd\x01name\xff'
mkdir "$odd" && cp "$good"/config.json "$good"/model.safetensors "$odd/"
"$EWQ" plan "$odd" -o "$tmp/odd-plan.json" >/dev/null 2>&1
"$EWQ" inspect "$odd" --json >"$tmp/odd-inspect.json"
"$EWQ" entropy "$odd" --json --svg "$tmp/odd.svg" >"$tmp/odd-entropy.json" 2>/dev/null
seq 0 99 | awk '{ print ($1 * 37) % 256 }' >"$tmp/ids.txt"
"$EWQ" run "$odd" --tokens "$tmp/ids.txt" --ctx 16 --sweep 0.3,1 --seeds 2 -p 0 -n 0 --report "$tmp/odd-report" >/dev/null 2>&1
for out in odd-plan.json odd-inspect.json odd-entropy.json odd.svg odd-report/frontier.svg; do
    why=$(clean "$tmp/$out")
    if [ -z "$why" ] && [ "${out%.json}" != "$out" ] && command -v jq >/dev/null; then
        jq -e . "$tmp/$out" >/dev/null 2>&1 || why="jq cannot parse it"
        [ -z "$why" ] && ! jq -r '.. | strings' "$tmp/$out" | grep -q $'odd\x01name\xef\xbf\xbd' &&
            why="the path is not kept with U+FFFD for the invalid byte"
    fi
    if [ -z "$why" ] && [ "${out%.svg}" != "$out" ] && command -v xmllint >/dev/null; then
        xmllint --noout "$tmp/$out" 2>/dev/null || why="xmllint cannot parse it"
    fi
    report "escapes/$out" "$why"
done
"$EWQ" plan "$odd" -o "$tmp/odd-plan.json" >/dev/null 2>"$tmp/err"
report escapes/wrote-line "$(clean "$tmp/err")"
