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
