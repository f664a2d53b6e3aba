#!/usr/bin/env bash
# make bench: CPU prefill (pp) and decode (tg) throughput by the llama-bench protocol (`ewq bench`), for
#   - the real stories260K at raw, int8 and int4 blocks, and llama.cpp on its GGUF twin (F32) through
#     llama-cpp-python (tests/bench/bench_llamacpp.py), same thread count, same token ids, same protocol;
#   - a synthesized Qwen2.5-0.5B-shaped checkpoint (ewq synth: 0.99 GB BF16, written once under /tmp,
#     never into the repository) at raw, int8 and int4 blocks, with shorter runs (-p 64 -n 16 -r 3):
#     a 512-token prefill of a 0.5B model takes about a minute on two shared cores.
# Usage: EWQ=./ewq bash tests/bench/bench_forward.sh   (PY overrides the Python that has llama_cpp)
set -eu
EWQ=${EWQ:-./ewq}
PY=${PY:-python3}
S=../shared/assets/stories260K
config=../shared/assets/configs/Qwen2.5-0.5B-Instruct/config.json
qwen=${EWQ_BENCH_QWEN:-/tmp/ewq-bench-qwen05b}
[ -d "$S" ] && [ -f "$config" ] || { echo "bench: ../shared/assets is missing"; exit 1; }
if ! cmp -s "$config" "$qwen/config.json" || [ ! -f "$qwen/model.safetensors" ]; then
    echo "bench: synthesizing $qwen (once)" >&2
    "$EWQ" synth "$config" -o "$qwen" --seed 1 >&2
fi
threads=$(nproc)
field() { grep -o "\"$1\": {[^}]*}" | grep -o '"tok_s": [0-9.e+-]*' | sed 's/.*: //'; }
spread() { grep -o "\"$1\": {[^}]*}" | sed 's/.*"tok_s_min": \([0-9.e+-]*\), "tok_s_max": \([0-9.e+-]*\).*/\1 .. \2/'; }
row() {   # label, json
    printf '%-34s %10.1f  (%s)   %10.2f  (%s)\n' "$1" "$(echo "$2" | field pp)" "$(echo "$2" | spread pp)" \
        "$(echo "$2" | field tg)" "$(echo "$2" | spread tg)"
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $threads cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); ewq $("$EWQ" --version | head -n 1 | sed 's/^ewq //'), $threads threads"
echo
printf '%-34s %10s  %-22s %10s  %s\n' "stories260K, pp512 / tg128" "pp tok/s" "(min .. max)" "tg tok/s" "(min .. max)"
for t in raw int8 int4; do
    out=$("$EWQ" bench $S --uniform $t -p 512 -n 128 -r 5 --threads "$threads" --json 2>/dev/null)
    row "ewq cpu, $t blocks" "$out"
    [ $t = raw ] && ewq_raw=$out
done
if lc=$("$PY" tests/bench/bench_llamacpp.py $S/stories260K.gguf -p 512 -n 128 -r 5 -t "$threads" 2>/dev/null); then
    row "llama.cpp, F32 GGUF" "$lc"
    awk -v ep="$(echo "$ewq_raw" | field pp)" -v lp="$(echo "$lc" | field pp)" \
        -v et="$(echo "$ewq_raw" | field tg)" -v lt="$(echo "$lc" | field tg)" \
        'BEGIN {printf "ratio ewq raw / llama.cpp F32: pp %.2f, tg %.2f\n", ep / lp, et / lt}'
    echo "$lc" | grep -o '"backend": "[^"]*"' | sed 's/"backend": /llama.cpp: /'
else
    echo "llama.cpp: not measured ($PY cannot import llama_cpp; pip install llama-cpp-python)"
fi
echo
printf '%-34s %10s  %-22s %10s  %s\n' "Qwen2.5-0.5B shape, pp64 / tg16" "pp tok/s" "(min .. max)" "tg tok/s" "(min .. max)"
for t in raw int8 int4; do
    out=$("$EWQ" bench "$qwen" --uniform $t -p 64 -n 16 -r 3 --threads "$threads" --json 2>/dev/null)
    row "ewq cpu, $t blocks" "$out"
    echo "$out" | awk -v t=$t '{
        match($0, /"weight_bytes": [0-9]+/); wb = substr($0, RSTART + 16, RLENGTH - 16)
        match($0, /"decode_bandwidth_gb_s": [0-9.e+]+/); db = 1e9 * substr($0, RSTART + 25, RLENGTH - 25)
        match($0, /"copy_bandwidth_gb_s": [0-9.e+]+/); cb = 1e9 * substr($0, RSTART + 23, RLENGTH - 23)
        match($0, /"peak_rss_mib": [0-9.]+/); rss = substr($0, RSTART + 16, RLENGTH - 16)
        printf "    weights %.0f MB; decode reads %.2f GB/s = %.0f%% of the copy bandwidth (%.1f GB/s); peak RSS %.0f MiB\n",
            wb / 1e6, db / 1e9, 100 * db / cb, cb / 1e9, rss }'
done
