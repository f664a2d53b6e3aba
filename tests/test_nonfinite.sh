#!/usr/bin/env bash
# Non-finite values never become results: weights holding NaN or an infinity are refused when the model is
# packed (every tensor the forward pass reads, at any tier), configs whose RoPE angles overflow are refused
# when read, and logits that overflow are refused instead of printed as a perplexity, a KLD or a token.
# Each case is one edit of the llama2-f32 fixture (F32, so the values are written as they are). Run by
# tests/run.sh.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/model_edit.sh"

good=data/fixtures/llama2-f32
seq 0 1999 | awk '{printf "%d ", $1 % 256}' >"$tmp/ids.tokens"
nan='\x00\x00\xc0\x7f' inf='\x00\x00\x80\x7f' max='\xff\xff\x7f\x7f'   # F32 little-endian: NaN, +inf, FLT_MAX

# config: the RoPE angles (position * frequency, float32) must be finite
m=$(fresh_model "$good" theta)
sed -i 's/"rope_theta": 10000.0/"rope_theta": 1e-300/' "$m/config.json"
expect_refusal nonfinite/rope-theta-tiny "angles are not finite" "$m/config.json" \
    "$EWQ" ppl "$m" --tokens "$tmp/ids.tokens" --ctx 16
m=$(fresh_model "$good" llama3)
sed -i 's/"rope_type": "default"/"rope_type": "llama3", "factor": 5e-324, "low_freq_factor": 1, "high_freq_factor": 4, "original_max_position_embeddings": 64/' "$m/config.json"
expect_refusal nonfinite/rope-llama3-factor-tiny "angles are not finite" "$m/config.json" \
    "$EWQ" generate "$m" -n 1

# weights: every tensor the forward pass reads, whatever its tier
for c in "model.norm.weight 3 $nan NaN raw" "model.layers.1.input_layernorm.weight 0 $inf infinity int4" \
    "model.layers.0.self_attn.q_proj.weight 100 $nan NaN raw" "model.layers.0.self_attn.q_proj.weight 7 $inf infinity raw" \
    "model.embed_tokens.weight 5000 $inf infinity raw" "lm_head.weight 64 $nan NaN raw"; do
    read -r name at bytes what tier <<<"$c"
    m=$(fresh_model "$good" "$name-$at")
    put_f32 "$m" "$name" "$at" 1 "$bytes"
    expect_refusal "nonfinite/$name-$at-$tier/ppl" "tensor '$name' holds" "$m/model.safetensors" \
        "$EWQ" ppl "$m" --tokens "$tmp/ids.tokens" --ctx 16 --uniform "$tier"
    expect_refusal "nonfinite/$name-$at-$tier/generate" "$what at element $at" "$m/model.safetensors" \
        "$EWQ" generate "$m" -n 1 --uniform "$tier"
done

# finite weights whose products overflow: FLT_MAX in the final norm and in lm_head row 5 make that logit
# inf - inf = NaN (and the others with it through the matmul's partial sums)
m=$(fresh_model "$good" overflow)
put_f32 "$m" model.norm.weight 0 64 "$max"
put_f32 "$m" lm_head.weight 320 64 "$max"
expect_refusal nonfinite/logits-overflow/ppl "are not finite" "$m" "$EWQ" ppl "$m" --tokens "$tmp/ids.tokens" --ctx 16
expect_refusal nonfinite/logits-overflow/generate "are not finite" "$m" "$EWQ" generate "$m" -n 3
"$EWQ" ppl "$m" --tokens "$tmp/ids.tokens" --ctx 16 --ref raw --uniform raw >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 1 ] && [ ! -s "$tmp/out" ] && tail -n 1 "$tmp/err" | grep -q "are not finite"; then
    echo "PASS nonfinite/logits-overflow/ppl-with-ref"
else
    echo "FAIL nonfinite/logits-overflow/ppl-with-ref: $(cat "$tmp/err" "$tmp/out" | head -c 300)"
fi

# the matrix: every tensor of every F32 fixture (Llama, Qwen2 with q/k/v biases, Qwen3 with q/k norms),
# NaN in its first element, is refused before generate runs the forward pass, naming that tensor
for fixture in llama2-f32 qwen2-f32 qwen3-f32; do
    names=$("$EWQ" inspect "data/fixtures/$fixture" --json | grep -o '"name": "[^"]*"' | sed 's/"name": "\(.*\)"/\1/')
    [ -n "$names" ] || { echo "FAIL nonfinite/matrix-$fixture: no tensors listed"; continue; }
    for name in $names; do
        m=$(fresh_model "data/fixtures/$fixture" "matrix-$fixture")
        put_f32 "$m" "$name" 0 1 "$nan"
        expect_refusal "nonfinite/matrix/$fixture/$name" "tensor '$name' holds NaN at element 0" "$m/model.safetensors" \
            "$EWQ" generate "$m" -n 1 --ids 1
    done
done
