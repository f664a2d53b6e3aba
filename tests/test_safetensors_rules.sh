#!/usr/bin/env bash
# The safetensors library's own rules (safetensors/src/tensor.rs: read_metadata, Metadata::validate), each
# broken once in a copy of the llama2-f32 fixture: ewq refuses what the library refuses. ewq.h lists where
# ewq is stricter; tests/bad/ holds the older cases. Run by tests/run.sh.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model_edit.sh"

good=data/fixtures/llama2-f32
st() { echo "$1/model.safetensors"; }

# header length: the library's limit is 100,000,000 bytes, not 100 MiB
for n in 100000001 104857600; do
    m=$(fresh_model "$good" "length-$n")
    { u64le $n; tail -c +9 "$(st "$m")"; } >"$m/x" && mv "$m/x" "$(st "$m")"
    expect_refusal "safetensors/header-length-$n" "exceeds the 100000000-byte limit" "$(st "$m")" "$EWQ" inspect "$m"
done

# __metadata__: absent, null or an object of strings
for c in 'bad-number|{"format":1}' 'bad-list|["pt"]' 'bad-nested|{"format":{"a":"b"}}' 'bad-string|"pt"'; do
    IFS='|' read -r name meta <<<"$c"
    m=$(fresh_model "$good" "meta-$name")
    rewrite_header "$m" "s/\"__metadata__\":{\"format\":\"pt\"}/\"__metadata__\":$meta/"
    expect_refusal "safetensors/metadata-$name" "__metadata__ must be null or an object of strings" "$(st "$m")" \
        "$EWQ" inspect "$m"
done
m=$(fresh_model "$good" meta-null)
rewrite_header "$m" 's/"__metadata__":{"format":"pt"}/"__metadata__":null/'
"$EWQ" inspect "$m" >/dev/null 2>"$tmp/err" && report safetensors/metadata-null "" ||
    report safetensors/metadata-null "$(cat "$tmp/err")"

# the header is UTF-8: a tensor name (or any string) with an invalid byte
m=$(fresh_model "$good" name-utf8)
rewrite_header "$m" $'s/"lm_head.weight"/"lm_head.\xffweight"/'
expect_refusal safetensors/name-invalid-utf8 "is not valid UTF-8" "$(st "$m")" "$EWQ" inspect "$m"
m=$(fresh_model "$good" meta-utf8)
rewrite_header "$m" $'s/"format":"pt"/"format":"p\xc3"/'
expect_refusal safetensors/metadata-invalid-utf8 "is not valid UTF-8" "$(st "$m")" "$EWQ" inspect "$m"

# the tensors tile the data buffer: trailing bytes, a gap, a buffer that does not start at 0
m=$(fresh_model "$good" trailing)
printf '\0\0\0\0' >>"$(st "$m")"
expect_refusal safetensors/trailing-bytes "4 bytes after the last tensor belong to no tensor" "$(st "$m")" \
    "$EWQ" inspect "$m"
m=$(fresh_model "$good" gap)   # lm_head (the first, 65536 bytes) moved 4 bytes on, its last 4 bytes dropped
rewrite_header "$m" 's/"shape":\[256,64\],"data_offsets":\[0,65536\]/"shape":[255,64],"data_offsets":[4,65284]/'
expect_refusal safetensors/gap "bytes 0..4 of the data buffer, before tensor 'lm_head.weight', belong to no tensor" \
    "$(st "$m")" "$EWQ" inspect "$m"
m=$(fresh_model "$good" inner-gap)
rewrite_header "$m" 's/"shape":\[256,64\],"data_offsets":\[0,65536\]/"shape":[255,64],"data_offsets":[0,65280]/'
expect_refusal safetensors/inner-gap "bytes 65280..65536 of the data buffer, before tensor 'model.embed_tokens.weight'" \
    "$(st "$m")" "$EWQ" inspect "$m"
