#!/usr/bin/env bash
# Numbers keep their ranges: every JSON number that becomes an integer is range-checked before it is
# converted (plans, configs, safetensors headers), numbers on the command line are plain decimal, lists of
# ids have no empty items, long token ids are out of the vocabulary (not "malformed"), inputs that are read
# whole have a size limit checked before the work, and thread counts a maximum. Run by tests/run.sh (also
# under UBSan by make asan, which is what catches an out-of-range conversion).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model_edit.sh"

good=data/fixtures/llama2-f32
"$EWQ" plan "$good" -o "$tmp/plan.json" >/dev/null 2>&1

# plan_with NAME SED_SCRIPT: a copy of the good plan edited by sed, printed
plan_with() { sed "$2" "$tmp/plan.json" >"$tmp/$1.json" && echo "$tmp/$1.json"; }

# integers from JSON, each past what its C type holds or what the field allows
for c in "layers-2^63|s/\"layers\": 2/\"layers\": 9223372036854775808/|has 9.2233720368547758e+18 layers" \
    "layers-minus-2^63|s/\"layers\": 2/\"layers\": -9223372036854775809/|has -9.2233720368547758e+18 layers" \
    "layers-1e300|s/\"layers\": 2/\"layers\": 1e300/|has 1.0000000000000001e+300 layers" \
    "layers-fraction|s/\"layers\": 2/\"layers\": 2.5/|has 2.5 layers" \
    "version-2^64|s/\"version\": 1/\"version\": 18446744073709551616/|version is not 1" \
    "index-2^63|s/\"index\": 1,/\"index\": 9223372036854775808,/|is not an object with \"index\": 1"; do
    IFS='|' read -r name script want <<<"$c"
    p=$(plan_with "$name" "$script")
    expect_refusal "numbers/plan-$name" "$want" "$p" "$EWQ" plan "$good" --check "$p"
done
for c in "hidden_size|9223372036854775808" "num_hidden_layers|-1" "vocab_size|1e30" "max_position_embeddings|16777217" \
    "bos_token_id|9223372036854775807" "eos_token_id|[2, 1e19]"; do
    IFS='|' read -r key value <<<"$c"
    m=$(fresh_model "$good" "config-$key")
    sed -i "s/^  \"$key\": [^,]*/  \"$key\": $value/" "$m/config.json"
    grep -qF "\"$key\": $value" "$m/config.json" || echo "FAIL numbers/config-$key: the edit did not apply"
    expect_refusal "numbers/config-$key" "\"$key\" must be" "$m/config.json" "$EWQ" inspect "$m"
done
m=$(fresh_model "$good" offsets)
rewrite_header "$m" 's/"data_offsets":\[0,65536\]/"data_offsets":[18446744073709551616,65536]/'
expect_refusal numbers/safetensors-offset-2^64 "data_offsets are not non-negative integers" "$m/model.safetensors" \
    "$EWQ" inspect "$m"
m=$(fresh_model "$good" shape)
rewrite_header "$m" 's/"shape":\[256,64\],"data_offsets":\[0,65536\]/"shape":[1e2,64],"data_offsets":[0,65536]/'
expect_refusal numbers/safetensors-shape-exponent "shape[0] is not a non-negative integer" "$m/model.safetensors" \
    "$EWQ" inspect "$m"

# numbers on the command line: plain decimal only
for v in 0x10 0x1p3 inf nan " 1" "+1" "1 " 1e 1e+ .e1 "1,5"; do
    expect_exit "numbers/factor-'$v'" 2 "--factor must be a number >= 0" "$EWQ" plan "$good" --factor "$v"
done
for v in " 4" "+4" 0x4 4.0 4e0; do
    expect_exit "numbers/threads-'$v'" 2 "--threads must be an integer" "$EWQ" generate "$good" -n 1 --threads "$v"
done
for v in "0x1,0.5" "0.5,inf" "0.5, 1"; do
    expect_exit "numbers/sweep-'$v'" 2 "--sweep wants" "$EWQ" run "$good" --tokens "$tmp/plan.json" --sweep "$v"
done
expect_exit "numbers/outliers-hex" 2 "--outliers" "$EWQ" synth "$good" -o "$tmp/never" --outliers 0:0x10
expect_exit "numbers/outliers-block-hex" 2 "--outliers" "$EWQ" synth "$good" -o "$tmp/never" --outliers 0x1:2
expect_exit "numbers/seed-blank" 2 "--seed must be" "$EWQ" synth "$good" -o "$tmp/never" --seed " 5"
for v in "1,,2" ",1" "1," "1 ,, 2" "-1" "1;2"; do
    expect_exit "numbers/ids-'$v'" 2 "--ids wants token ids" "$EWQ" generate "$good" -n 1 --ids "$v"
done
expect_exit "numbers/ids-20-digits" 2 "token id 12345678901234567890 is outside the vocabulary [0, 256)" \
    "$EWQ" generate "$good" -n 1 --ids "1 12345678901234567890"
"$EWQ" generate "$good" -n 1 --ids "1 , 2,3  4" >"$tmp/out" 2>"$tmp/err" && report numbers/ids-separators "" ||
    report numbers/ids-separators "$(cat "$tmp/err")"
printf '1 2 12345678901234567890123456789 3\n' >"$tmp/long.tokens"
expect_refusal numbers/tokens-long-id "token id 123456789012345678901234... is outside the vocabulary" \
    "$tmp/long.tokens" "$EWQ" ppl "$good" --tokens "$tmp/long.tokens"

# inputs read whole: refused by size before the work (sparse files, so nothing is written)
truncate -s 1G "$tmp/huge.txt"
for c in "tokenize data/default $tmp/huge.txt" "ppl data/default --text $tmp/huge.txt" \
    "ppl $good --tokens $tmp/huge.txt" "run data/default --text $tmp/huge.txt -p 0 -n 0"; do
    read -ra args <<<"$c"
    expect_refusal "numbers/text-limit/${args[0]}-${args[2]#--}" "more than the 67108864-byte limit" "$tmp/huge.txt" \
        timeout 20 "$EWQ" "${args[@]}"
done
why=$(contract_violation 1 "more than the 67108864-byte limit" bash -c '"$0" tokenize data/default </dev/zero' "$EWQ")
report numbers/text-limit/stdin "$why"

# plan fields that ewq would otherwise ignore: each checked against the model and the method
plan_fields() {   # NAME SED_SCRIPT WANT [PLAN]
    local p
    p=$(sed "$2" "${4:-$tmp/plan.json}" >"$tmp/field-$1.json" && echo "$tmp/field-$1.json")
    cmp -s "$p" "${4:-$tmp/plan.json}" && echo "FAIL numbers/plan-field-$1: the edit did not apply"
    expect_refusal "numbers/plan-field-$1" "$3" "$p" "$EWQ" plan "$good" --check "$p"
}
plan_fields group-size-0 's/"group_size": 64/"group_size": 0/' "method.group_size must be 64"
plan_fields group-size-3 's/"group_size": 64/"group_size": 3/' "method.group_size must be 64"
plan_fields bins-1e30 's/"bins": 256/"bins": 1e30/' "method.bins must be an integer from 2 to 65536"
plan_fields bins-1 's/"bins": 256/"bins": 1/' "method.bins must be an integer"
plan_fields factor-1e308 's/"factor": [0-9.e+-]*/"factor": 1e308/' "is not mean - factor * std"
plan_fields factor-negative 's/"factor": [0-9.e+-]*/"factor": -1/' "\"factor\" must be a number from 0"
plan_fields weighting 's/"weighting": "parameters"/"weighting": "mean"/' "method.weighting must be"
plan_fields unknown-top 's/"format": "ewq-plan",/"format": "ewq-plan", "shrink": false,/' "unknown field \"shrink\""
plan_fields unknown-method 's/"bins": 256,/"bins": 256, "group": 32,/' "method: unknown field \"group\""
plan_fields unknown-tensor '0,/"tier": "raw"}/s//"tier": "raw", "group_size": 32}/' "unknown field \"group_size\""
plan_fields block-entropy-nan '0,/"index": 0, "entropy": [0-9.e+-]*/s//"index": 0, "entropy": 1e999/' \
    "\"entropy\" must be a number from 0 to 8"
plan_fields tensor-entropy-9-bits '0,/"tier": "raw"}/s/"entropy": [0-9.e+-]*, "tier": "raw"}/"entropy": 9, "tier": "raw"}/' \
    "\"entropy\" must be a number from 0 to 8"
plan_fields block-parameters 's/"parameters": 47104, "tier"/"parameters": 47105, "tier"/' "\"parameters\" must be 47104"
plan_fields tensor-shape 's/"shape": \[64, 64\]/"shape": [64, 65]/' "\"shape\" must be [64, 64]"
"$EWQ" plan "$good" --granularity tensor -o "$tmp/tensor-plan.json" >/dev/null 2>&1
plan_fields tensor-granularity-tier 's/"index": 0, "entropy": \([0-9.e+-]*\), "parameters": 47104,/&  "tier": "raw",/' \
    "unknown field \"tier\"" "$tmp/tensor-plan.json"
for f in "$tmp/plan.json" "$tmp/tensor-plan.json"; do   # what ewq writes, it reads
    "$EWQ" plan "$good" --check "$f" >/dev/null 2>"$tmp/err" && report "numbers/plan-roundtrip-${f##*/}" "" ||
        report "numbers/plan-roundtrip-${f##*/}" "$(cat "$tmp/err")"
done

# threads: at most EWQ_MAX_THREADS (256)
for v in 257 1024; do
    expect_exit "numbers/threads-$v" 2 "--threads must be an integer from 1 to 256" \
        "$EWQ" ppl "$good" --tokens "$tmp/plan.json" --threads "$v"
done
