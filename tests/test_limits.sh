#!/usr/bin/env bash
# Resource limits on hostile files: memory and recursion stay bounded and the refusal is the usual one
# line. A safetensors header of 17 M tiny values ("[0,0,0,...]", 34 MB) would need 2 GB of parse tree
# (6 GB at the 100 MB header limit) and is refused once the tree passes json.h's JSON_MAX_MEMORY (1 GiB);
# nesting 100,000 deep is refused at depth 128 without recursing further. Run by tests/run.sh.
set -u
. "$(dirname "$0")/lib.sh"

# u64 little-endian length, then the header, for a model folder with a valid config
header_file() {   # LENGTH: the 8-byte prefix
    printf "$(printf '\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)) 0 0 0 0)"
}
m=$tmp/model
mkdir "$m"
cp tests/fuzz/corpus/config/tiny-valid.json "$m/config.json"
n=34000000
{ header_file $n; printf '['; yes 0 | head -c $((n - 3)) | tr '\n' ','; printf '] '; } >"$m/model.safetensors"
expect_refusal limits/dense-header-memory "document too large" "$m/model.safetensors" "$EWQ" inspect "$m"

deep=100000
{ printf '{"architectures": ["LlamaForCausalLM"], "x": '; head -c $deep /dev/zero | tr '\0' '['; } >"$m/config.json"
expect_refusal limits/config-nesting "nesting deeper than 128" "$m/config.json" "$EWQ" inspect "$m"
{ header_file $((deep + 2)); head -c $deep /dev/zero | tr '\0' '['; printf '  '; } >"$m/model.safetensors"
cp tests/fuzz/corpus/config/tiny-valid.json "$m/config.json"
expect_refusal limits/header-nesting "nesting deeper than 128" "$m/model.safetensors" "$EWQ" inspect "$m"
{ head -c $deep /dev/zero | tr '\0' '['; } >"$tmp/tokenizer.json"
expect_refusal limits/tokenizer-nesting "nesting deeper than 128" "$tmp/tokenizer.json" "$EWQ" tokenize "$tmp/tokenizer.json"
