#!/usr/bin/env bash
# make bench-cuda: the CUDA backend's throughput on synthesized Llama-3.2-1B and Llama-3.1-8B shaped
# checkpoints (BF16, written once under $EWQ_BENCH_ROOT, default $TMPDIR or /tmp, never into the repository), at
# raw, int8, int4 (every block linear; embedding and lm_head raw) and the EWQ plan of the checkpoint.
# Each run is `ewq bench --backend cuda -p 512 -n 128 -r 5`: pp and tg tokens/s, weight bytes, peak
# device memory, and decode bandwidth as a share of the device copy bandwidth measured in the same run.
# The whole log, error messages included, goes to data/results/bench-cuda-DATE.log (stdout shows it too);
# a run that fails is reported there and on stdout, the others still run, and the exit status is 1.
# Usage: EWQ=./ewq bash tests/bench/bench_cuda.sh     SHAPES="Llama-3.2-1B" limits the shapes; EWQ_ASSETS
# names the assets folder (default ../shared/assets: a GPU machine that gets only the repo needs a copy)
set -euo pipefail
EWQ=${EWQ:-./ewq}
root=${EWQ_BENCH_ROOT:-${TMPDIR:-/tmp}}
shapes=${SHAPES:-Llama-3.2-1B Llama-3.1-8B}
args=${BENCH_ARGS:--p 512 -n 128 -r 5}
"$EWQ" --version | grep -q 'compute capability' || { echo "bench-cuda: no usable GPU: $("$EWQ" --version | tail -n 1)"; exit 1; }
mkdir -p data/results
status=0
log=data/results/bench-cuda-$(date -u +%Y%m%dT%H%MZ).log
{
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo "unknown (no .git)")
    echo "# make bench-cuda ($(date -u +%Y-%m-%dT%H:%MZ), commit $commit; $args)"
    "$EWQ" --version
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv,noheader 2>/dev/null || true
    echo "host: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores"
} | tee "$log"
for shape in $shapes; do
    config=${EWQ_ASSETS:-../shared/assets}/configs/$shape/config.json
    dir=$root/ewq-bench-$shape
    [ -f "$config" ] || { echo "bench-cuda: $config is missing (set EWQ_ASSETS)"; exit 1; }
    if ! cmp -s "$config" "$dir/config.json" || [ ! -f "$dir/model.safetensors" ]; then
        echo "bench-cuda: synthesizing $dir (once)" >&2
        "$EWQ" synth "$config" -o "$dir" --seed 1 >&2
    fi
    [ -f "$dir/plan.json" ] || "$EWQ" plan "$dir" -o "$dir/plan.json" >/dev/null
    for weights in "--uniform raw" "--uniform int8" "--uniform int4" "--plan $dir/plan.json"; do
        echo "## $shape: ewq bench $dir --backend cuda $weights $args" | tee -a "$log"
        # shellcheck disable=SC2086
        "$EWQ" bench "$dir" --backend cuda $weights $args 2>&1 | tee -a "$log" ||
            { status=1; echo "bench-cuda: the run above failed" | tee -a "$log"; }
    done
done
echo "log: $log"
exit $status
