#!/usr/bin/env bash
# tests/cuda/gpu_window.sh — what one short GPU lease should run, most important first, in one command that
# ends on its own before a global deadline (DEADLINE seconds, default 480) and writes at most 8 log files
# into one folder ($OUT, default build/gpu-window):
#   1. the environment: nvidia-smi (device, driver, clocks), nvcc, compute-sanitizer, ewq --version (env.txt)
#   2. the binaries prepared on the CPU machine (gpu-window/bin); when they do not see the GPU, a build
#      there with nvcc for sm_90 (build.txt)
#   3. test_cuda, the CUDA backend against the CPU backend; after a failure once more with EWQ_CUDA_SYNC=1,
#      which names the kernel that faulted; then ewq run --backend cuda against --backend cpu on data/default
#      (tests/cuda/test_run_cuda.sh) (test_cuda.txt)
#   4. ewq bench --backend cuda -p 512 -n 128 -r 3 on synthesized Llama-3.2-1B, then Llama-3.1-8B shapes at
#      raw, int8, int4 and the EWQ plan: pp and tg tokens/s, weight bytes, peak device memory, decode
#      bandwidth as a share of the device copy bandwidth measured in the same process (bench.txt); the
#      checkpoints are synthesized on the CPUs while step 3 runs (synth.txt); after each shape's bench,
#      test_cuda --model compares the whole checkpoint on both backends (test_cuda.txt)
#   5. compute-sanitizer memcheck on test_cuda --quick between the two shapes, racecheck with the time left
#      at the end (sanitizer.txt); after memcheck, ewq ppl --backend cuda of the first shape, raw, on all of
#      WikiText-2's test text (Llama-3 ids made by --prepare), timed (bench.txt); before racecheck, the main
#      job on the first shape: ewq run --backend cuda on 16 chunks of those ids, timed (bench.txt); then, where
#      the machine has Nsight Compute, ncu's time and DRAM bytes read of each kernel of a decode step (10
#      layers' worth) of each shape at raw, int8 and int4, and its speed-of-light and occupancy sections for
#      4 tensor-core prefill products of each shape, raw (profile.txt)
#   6. summary.txt: one line per step (status and seconds), the bench table and the kernel table, also
#      printed last.
# With --peer, the lease after that one (once steps 3 to 5 have run on a GPU): steps 1 and 2, then each shape
# raw beside PyTorch + transformers in bfloat16 on the same GPU (tests/bench/torch_peer.py; peer.txt): for the
# first shape, ewq ppl --backend cuda on all of WikiText-2's test text as in step 5 and the same perplexity
# through transformers, each timed; for every shape, ewq bench and the peer's pp and tg; the
# summary's table puts them side by side.
# Exit status 0 when every step that ran passed; 1 when one failed or no GPU was found. A step cut by its
# time limit is reported as cut (its log holds what it did), not as failed.
#
# usage, from the repository root (tests/README.md, "GPU tests"):
#   bash tests/cuda/gpu_window.sh --prepare   on the CPU machine, with nvcc: builds ./ewq and test_cuda for
#                                             sm_90 and copies them, the commit and the assets the run needs
#                                             (stories260K, six configs, WikiText-2's test ids) into gpu-window/
#                                             (ignored by git)
#   bash tests/cuda/gpu_window.sh [--peer]    on the GPU machine, with gpu-window/ next to the repository
#   bash tests/cuda/gpu_window.sh --dry-run [--peer]
#                                             anywhere (make test): every step as on the GPU machine, except
#                                             that each GPU step says "skipped: no GPU"; the bench commands
#                                             are still given to ewq (which must refuse them for want of a
#                                             GPU, not for a flag), and run on the CPU backend with a tiny
#                                             stand-in checkpoint, so the summary table is made from them (with
#                                             --peer, the peer runs on the CPU too, where PY has torch)
# environment: OUT, DEADLINE; EWQ (the ewq of a dry run, default ./ewq); EWQ_ASSETS (default gpu-window/assets,
# else ../shared/assets); EWQ_BENCH_ROOT (where checkpoints are synthesized, default $TMPDIR or /tmp);
# SHAPES (default "Llama-3.2-1B Llama-3.1-8B"); BENCH_ARGS (default "-p 512 -n 128 -r 3"); PY (the python3
# with torch and transformers, default python3).
set -u
cd "$(dirname "$0")/../.." || exit 1
usage="usage: bash tests/cuda/gpu_window.sh [--prepare | [--dry-run] [--peer]]"
mode=run peer=0
for a in "$@"; do
    case $a in
        --dry-run) [ $mode = run ] || { echo "$usage" >&2; exit 2; }; mode=dry ;;
        --prepare) [ $# = 1 ] || { echo "$usage" >&2; exit 2; }; mode=prepare ;;
        --peer) [ $peer = 0 ] || { echo "$usage" >&2; exit 2; }; peer=1 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
prep=$PWD/gpu-window
shapes=${SHAPES:-Llama-3.2-1B Llama-3.1-8B}
# the configs test_cuda's real-width shapes are made from (tests/cuda/test_cuda.c, run_shapes)
test_shapes="Llama-3.2-1B Qwen2.5-0.5B-Instruct Qwen3-0.6B"
# --peer's perplexity text: WikiText-2's test split in the Llama-3 tokenizer's ids (both shapes have its vocabulary)
wikitext_ids=wikitext2-test.llama3.ids
[ -d /usr/local/cuda/bin ] && PATH=$PATH:/usr/local/cuda/bin

if [ $mode = prepare ]; then
    set -e
    src=${EWQ_ASSETS:-../shared/assets}
    make -j2 CUDA=1 ewq build/cuda/gpu/test_cuda
    rm -rf "$prep"
    mkdir -p "$prep/bin" "$prep/assets/configs"
    cp ewq build/cuda/gpu/test_cuda "$prep/bin/"
    cp -r "$src/stories260K" "$prep/assets/"
    # shellcheck disable=SC2086
    for s in $(printf '%s\n' $shapes $test_shapes | sort -u); do cp -r "$src/configs/$s" "$prep/assets/configs/"; done
    ./ewq tokenize "$src/tokenizers/llama3" "$src/text/wiki.test.raw" --ids >"$prep/assets/$wikitext_ids"
    { git rev-parse HEAD; git status --short --untracked-files=no; } >"$prep/COMMIT"
    echo "gpu-window/ prepared ($(du -sh "$prep" | cut -f1)); on the GPU machine, from the repository root with"
    echo "gpu-window/ beside the rest: bash tests/cuda/gpu_window.sh"
    exit 0
fi

out=${OUT:-build/gpu-window}
mkdir -p "$out" || exit 1
end=$(($(date +%s) + ${DEADLINE:-480}))
args=${BENCH_ARGS:--p 512 -n 128 -r 3}
root=${EWQ_BENCH_ROOT:-${TMPDIR:-/tmp}}
# the 8B checkpoint takes 16 GB: where $TMPDIR has less room (a small tmpfs), under build/ instead
if [ -z "${EWQ_BENCH_ROOT:-}" ] && [ $mode = run ] &&
   [ "$(df -Pk "$root" 2>/dev/null | awk 'NR == 2 {print int($4 / 1048576)}')" -lt 24 ] 2>/dev/null; then
    root=$PWD/build/gpu-bench
fi
mkdir -p "$root" || exit 1
failures=0 cuts=0
: >"$out/summary.txt"
note() { printf '%s %s\n' "$(date -u +%T)" "$*" | tee -a "$out/summary.txt"; }

# room SECONDS: prints the seconds a step may take, at most SECONDS and ending 10 s before the deadline
# (kept for the summary); fails when under 5 s are left
room() {
    local r=$((end - $(date +%s) - 10))
    [ "$r" -gt "$1" ] && r=$1
    [ "$r" -ge 5 ] && echo "$r"
}

# step NAME SECONDS LOG COMMAND...: COMMAND within room SECONDS, its output appended to LOG after a header
# line, and one summary line; returns COMMAND's status (124 or 137: cut by its time limit)
step() {
    local name=$1 secs t0 rc what
    secs=$(room "$2") || { note "$name: skipped: out of time"; return 125; }
    local log=$3
    shift 3
    t0=$(date +%s)
    echo "## $name: $* (at most $secs s)" >>"$log"
    timeout -k 5 "$secs" "$@" >>"$log" 2>&1
    rc=$?
    case $rc in
        0) what=ok ;;
        124 | 137) what="cut after $secs s (incomplete)"; cuts=$((cuts + 1)) ;;
        *) what="failed (exit status $rc; see $(basename "$log"))"; failures=$((failures + 1)) ;;
    esac
    note "$name: $what, $(($(date +%s) - t0)) s"
    return $rc
}

# gpu_step NAME SECONDS LOG COMMAND...: step, when there is a GPU to run it on
gpu_step() {
    if [ "$gpu" = 1 ]; then step "$@"; else note "$1: skipped: no GPU${no_gpu:+ ($no_gpu)}"; return 125; fi
}

# 1. the environment
gpu=0 no_gpu=
if [ $mode = dry ]; then
    no_gpu="dry run"
elif timeout 20 nvidia-smi -L >/dev/null 2>&1; then
    gpu=1
else
    no_gpu="nvidia-smi finds none"
fi
if [ $mode = dry ]; then
    ewq=${EWQ:-./ewq} tc=build/cuda/gpu/test_cuda
elif [ -x "$prep/bin/ewq" ] && [ -x "$prep/bin/test_cuda" ]; then
    ewq=$prep/bin/ewq tc=$prep/bin/test_cuda
else
    ewq=./ewq tc=build/cuda/gpu/test_cuda
fi
assets=${EWQ_ASSETS:-}
[ -n "$assets" ] || { [ -d "$prep/assets" ] && assets=$prep/assets; } || assets=../shared/assets
export EWQ_ASSETS=$assets
{
    echo "# tests/cuda/gpu_window.sh${1:+ $1}, $(date -u +%Y-%m-%dT%H:%M:%SZ), deadline ${DEADLINE:-480} s"
    if [ "$ewq" = "$prep/bin/ewq" ]; then built=$(head -n 1 "$prep/COMMIT"); else built=$(git rev-parse HEAD 2>/dev/null); fi
    echo "binaries: $ewq, $tc; built from: ${built:-unknown}"
    echo "assets: $assets; checkpoints under $root ($(df -Ph "$root" 2>/dev/null | awk 'NR == 2 {print $4}') free)"
    echo "host: $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
         "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) memory, load $(cut -d' ' -f1-3 /proc/loadavg)"
    for c in nvidia-smi nvcc compute-sanitizer; do echo "$c: $(command -v $c || echo absent)"; done
    if [ $gpu = 1 ]; then
        timeout 20 nvidia-smi
        timeout 20 nvidia-smi --format=csv --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.draw,power.limit,temperature.gpu,compute_mode
    fi
    command -v nvcc >/dev/null && nvcc --version | tail -n 2
    command -v compute-sanitizer >/dev/null && compute-sanitizer --version | head -n 2
    "$ewq" --version
} >"$out/env.txt" 2>&1
note "environment: $(grep -E '^(backends|CUDA):' "$out/env.txt" | paste -sd ';' - | grep . || echo "$ewq --version failed")"

# 2. binaries that see the GPU, or a build here (without -Werror: another compiler may warn differently)
if [ $gpu = 1 ] && ! { "$ewq" --version 2>&1 | grep -q 'compute capability' && [ -x "$tc" ]; }; then
    note "build: the prepared binaries do not run here ($("$ewq" --version 2>&1 | grep -m1 -E '^CUDA:|rror' || echo "$ewq is missing")); building"
    step build 240 "$out/build.txt" make -j"$(nproc)" CUDA=1 CUDA_ARCH=sm_90 WARN="-std=c11 -Wall" \
        NVCCFLAGS="-O3 -arch=sm_90" ewq build/cuda/gpu/test_cuda
    ewq=./ewq tc=build/cuda/gpu/test_cuda
    if ! ./ewq --version 2>&1 | tee -a "$out/build.txt" | grep -q 'compute capability'; then
        gpu=0 no_gpu="neither the prepared nor the built binaries can use it"
        failures=$((failures + 1))
    fi
elif [ $gpu = 0 ]; then
    note "build: skipped: no GPU ($no_gpu); a GPU machine whose prepared binaries do not run builds with make CUDA=1"
fi

# the bench checkpoints and their plans, on the CPUs while the tests run; "ready SHAPE" when one is done.
# A dry run makes each from the llama3-f32 fixture's config (kilobytes), checking that the real one exists.
synthesize() {
    local child=
    trap 'kill $child 2>/dev/null; exit 143' TERM
    for s in $shapes; do
        local config=$assets/configs/$s/config.json dir=$root/ewq-bench-$s
        if [ $mode = dry ]; then
            [ -f "$config" ] || echo "dry run: $config is missing (a GPU run needs it: --prepare copies it)"
            config=data/fixtures/llama3-f32/config.json dir=$root/ewq-dry-run-$s
            echo "dry run: data/fixtures/llama3-f32's config stands in for $s"
        fi
        [ -f "$config" ] || { echo "failed $s: $config is missing (set EWQ_ASSETS, or run --prepare)"; continue; }
        if ! { cmp -s "$config" "$dir/config.json" && [ -f "$dir/model.safetensors" ]; }; then
            rm -f "$dir/plan.json"
            "$ewq" synth "$config" -o "$dir" --seed 1 & child=$!
            wait $child || { echo "failed $s: ewq synth"; continue; }
        fi
        if [ ! -f "$dir/plan.json" ]; then
            "$ewq" plan "$dir" -o "$dir/plan.json" & child=$!
            wait $child || { echo "failed $s: ewq plan"; continue; }
        fi
        echo "ready $s $dir"
    done
}
synth_pid=
if [ $gpu = 1 ] || [ $mode = dry ]; then
    synthesize >"$out/synth.txt" 2>&1 &
    synth_pid=$!
fi

# checkpoint WHAT SHAPE: waits for SHAPE's checkpoint and sets ckpt to its folder; where there is none (no GPU,
# so none is synthesized; its synthesis failed; or the deadline came first) says so for WHAT and returns 1
checkpoint() {
    local what=$1 shape=$2
    if [ -z "$synth_pid" ]; then
        note "$what $shape: skipped: no GPU ($no_gpu)"
        return 1
    fi
    while ! grep -qE "^(ready|failed) $shape( |:)" "$out/synth.txt" && kill -0 $synth_pid 2>/dev/null && room 5 >/dev/null; do
        sleep 1
    done
    ckpt=$(sed -n "s/^ready $shape //p" "$out/synth.txt")
    [ -n "$ckpt" ] && return 0
    if grep -q "^failed $shape" "$out/synth.txt"; then
        note "$what $shape: no checkpoint: $(grep -m1 "^failed $shape" "$out/synth.txt")"
        failures=$((failures + 1))
    else
        note "$what $shape: cut: the checkpoint was not ready before the deadline"
        cuts=$((cuts + 1))
    fi
    return 1
}

ids=$assets/$wikitext_ids
if [ $mode = dry ]; then   # the stand-in's vocabulary is 256: ids that are the bytes of a text
    ids=$root/ewq-dry-run.ids
    od -An -tu1 -v -N 4096 README.md >"$ids"
fi
if [ $peer = 1 ]; then
    py=${PY:-python3} no_py=
    "$py" -c 'import torch, transformers' >/dev/null 2>&1 || no_py="no $py with torch and transformers" py=
fi

# ppl SHAPE SECONDS LOG: ewq ppl on all of the ids, raw, on the GPU (a dry run's on the CPU backend), timed
# by ewq (the model loaded and uploaded first), into LOG and one summary line
ppl() {
    local shape=$1 on_gpu=(--backend cuda)
    checkpoint "ewq ppl" "$shape" || return
    [ $mode = dry ] && on_gpu=()
    step "ewq ppl $shape raw (all of $(basename "$ids"))" "$2" "$3" "$ewq" ppl "$ckpt" "${on_gpu[@]}" --tokens "$ids" --ctx 512 &&
        note "ewq ppl $shape: $(grep '^perplexity ' "$3" | tail -n 1 | tr -s ' '), $(grep '^perplexity: [0-9]* tokens in' "$3" | tail -n 1 | cut -d, -f1 | cut -c13-)"
}

# the main job on SHAPE: ewq run on 16 chunks of the ids (13 variants on one backend, scored on the device), no
# throughput runs; its cost line (seconds for the pass, and in all with entropy and packing) into the summary
study() {   # SHAPE SECONDS
    local shape=$1 on_gpu=(--backend cuda)
    checkpoint "ewq run" "$shape" || return
    [ $mode = dry ] && on_gpu=()
    step "ewq run $shape (16 chunks of $(basename "$ids"))" "$2" "$out/bench.txt" "$ewq" run "$ckpt" "${on_gpu[@]}" \
        --tokens "$ids" --chunks 16 -p 0 -n 0 &&
        note "ewq run $shape: $(grep '^cost: ' "$out/bench.txt" | tail -n 1)"
}

# --peer's steps for one shape, raw: for the first, ewq ppl on the ids, timed; ewq bench; the same through
# transformers (perplexity with the first shape; a dry run's on the CPU in float32), in peer.txt
peer_shape() {   # SHAPE SECONDS [ppl]
    local shape=$1 secs=$2 dir on_gpu=(--backend cuda) device=(--device cuda) text=()
    checkpoint peer "$shape" || return
    dir=$ckpt
    [ $mode = dry ] && on_gpu=() device=(--device cpu --dtype float32)
    if [ "${3:-}" = ppl ]; then
        text=(--ids "$ids")
        ppl "$shape" "$secs" "$out/peer.txt"
    fi
    # shellcheck disable=SC2086
    step "ewq bench $shape raw" "$secs" "$out/peer.txt" "$ewq" bench "$dir" "${on_gpu[@]}" $args
    if [ -z "$py" ]; then
        note "transformers $shape: skipped: $no_py"
        return
    fi
    # shellcheck disable=SC2086
    step "transformers $shape" $((2 * secs)) "$out/peer.txt" "$py" tests/bench/torch_peer.py "$dir" "${device[@]}" \
        "${text[@]}" $args
}

# the kernels of a decode step, one by one (ncu serializes them, locks the clocks and flushes the caches before
# each, so its times run somewhat longer than the bench's): 40 launches after the first 400 (past the prefill,
# the warm-up and the decode graph's capture) of each tier of SHAPE, a short bench as the program
profile() {   # SHAPE SECONDS-PER-TIER
    local shape=$1 w
    checkpoint profile "$shape" || return
    if [ "$gpu" = 1 ] && ! command -v ncu >/dev/null; then
        note "profile $shape: skipped: no ncu"
        return
    fi
    for w in raw int8 int4; do
        gpu_step "profile $shape $w (ncu, a decode step's kernels)" "$2" "$out/profile.txt" ncu --csv \
            --metrics gpu__time_duration.sum,dram__bytes_read.sum --launch-skip 400 --launch-count 40 \
            "$ewq" bench "$ckpt" --backend cuda --uniform "$w" -p 8 -n 16 -r 1
    done
    # where the prefill product's time goes: compute, memory, L2 or latency (a pp512, its second layer)
    gpu_step "profile-prefill $shape raw (ncu speed of light, mma_product)" "$2" "$out/profile.txt" ncu --csv \
        --section SpeedOfLight --section Occupancy --kernel-name regex:mma_product --launch-skip 8 --launch-count 4 \
        "$ewq" bench "$ckpt" --backend cuda -p 512 -n 0 -r 1
}

# 4. and 5. the bench, one shape at a time, each followed by test_cuda --model on its checkpoint (the whole
# model on both backends: logits and KL divergence); memcheck after the first
bench_shape() {   # SHAPE SECONDS-PER-RUN SECONDS-FOR-THE-COMPARISON
    local shape=$1 dir w label
    checkpoint bench "$shape" || return
    dir=$ckpt
    for w in "--uniform raw" "--uniform int8" "--uniform int4" "--plan $dir/plan.json"; do
        label=${w#--uniform }
        [ "$label" = "$w" ] && label=plan
        # shellcheck disable=SC2086
        if [ $mode = dry ]; then
            local said rc
            said=$("$ewq" bench "$dir" --backend cuda $w $args 2>&1)
            rc=$?
            if [ $rc = 1 ] && printf '%s' "$said" | grep -qE '^ewq: cuda: .*(no usable GPU|not built in|built without)'; then
                note "bench $shape $label: skipped: no GPU ($no_gpu; ewq refuses it for that alone)"
            else
                note "bench $shape $label: ewq bench --backend cuda $w $args: exit status $rc, not the no-GPU refusal: $said"
                failures=$((failures + 1))
            fi
            step "bench $shape $label on the CPU backend (dry run)" 60 "$out/bench.txt" "$ewq" bench "$dir" $w $args
        else
            gpu_step "bench $shape $label" "$2" "$out/bench.txt" "$ewq" bench "$dir" --backend cuda $w $args
        fi
    done
    if gpu_step "test_cuda --model $shape (whole, CUDA against CPU)" "$3" "$out/test_cuda.txt" "$tc" --model "$dir" ||
       [ $? != 125 ]; then
        note "test_cuda --model $shape: $(grep '^# largest' "$out/test_cuda.txt" | tail -n 1 | cut -c3-)"
    fi
}
sanitize() {   # TOOL SECONDS [OPTION...]
    local tool=$1 secs=$2
    shift 2
    gpu_step "compute-sanitizer $tool (test_cuda --quick)" "$secs" "$out/sanitizer.txt" \
        compute-sanitizer --tool "$tool" "$@" --error-exitcode 99 "$tc" --quick
}
# the steps: 3. to 5., or with --peer the peer's
if [ $peer = 0 ]; then
    # 3. correctness
    gpu_step test_cuda 150 "$out/test_cuda.txt" "$tc"
    rc=$?
    if [ $rc != 0 ] && [ $rc != 125 ]; then
        gpu_step "test_cuda again, every kernel waited for (EWQ_CUDA_SYNC=1)" 90 "$out/test_cuda.txt" \
            env EWQ_CUDA_SYNC=1 CUDA_LAUNCH_BLOCKING=1 "$tc" --fail-fast
    fi
    if [ -s "$out/test_cuda.txt" ]; then
        note "test_cuda: $(grep -c '^PASS' "$out/test_cuda.txt") PASS, $(grep -c '^FAIL' "$out/test_cuda.txt") FAIL lines; $(grep -m1 '^# largest' "$out/test_cuda.txt" | cut -c3-)"
    fi
    # the study (13 variants on one backend holding every tier's blocks) on data/default, against the CPU's
    gpu_step "ewq run --backend cuda (tests/cuda/test_run_cuda.sh)" 60 "$out/test_cuda.txt" \
        env EWQ="$ewq" bash tests/cuda/test_run_cuda.sh

    # 4. and 5.
    # shellcheck disable=SC2086
    set -- $shapes
    bench_shape "$1" 60 120
    sanitize memcheck 120 --leak-check full
    ppl "$1" 60 "$out/bench.txt"
    first=$1
    shift
    for s in "$@"; do bench_shape "$s" 100 150; done
    study "$first" 90
    for s in $shapes; do profile "$s" 40; done
    sanitize racecheck 600
else
    # shellcheck disable=SC2086
    set -- $shapes
    peer_shape "$1" 150 ppl
    shift
    for s in "$@"; do peer_shape "$s" 150; done
fi

if [ -n "$synth_pid" ] && kill -0 $synth_pid 2>/dev/null; then
    kill $synth_pid
    note "synthesis stopped at the deadline"
fi
wait

if [ $gpu = 1 ]; then   # the clocks and memory after the work, beside those before it in env.txt
    { echo "# after the run"; timeout 20 nvidia-smi --format=csv --query-gpu=memory.used,clocks.sm,clocks.mem,power.draw,temperature.gpu; } >>"$out/env.txt" 2>&1
fi

# 6. the table
{
    echo
    if [ $peer = 1 ]; then
        echo "shape            runner         pp tok/s   tg tok/s   device MiB   perplexity   its seconds"
        # ewq's rows join its ppl and bench steps; torch_peer.py prints "pp512: X", "ppl: X +/- Y, ..., T s"
        awk '
            function at(s, r) { key = s " " r; if (!(key in seen)) { seen[key] = 1; keys[++n] = key; shape[key] = s; runner[key] = r } }
            /^## ewq (ppl|bench) / { at($4, "ewq") }
            /^## transformers / { s = $3; sub(/:$/, "", s); at(s, "transformers") }
            /^pp[0-9]+:? / { pp[key] = $2 }
            /^tg[0-9]+:? / { tg[key] = $2 }
            /^peak device memory/ { dev[key] = $4 }
            /^perplexity / { ppl[key] = $2 }
            /^perplexity: [0-9]+ tokens in / { sec[key] = $5 }
            /^ppl: / { ppl[key] = $2; sec[key] = $(NF - 1) }
            function dash(v) { return v == "" ? "-" : v }
            END {
                for (i = 1; i <= n; i++) {
                    k = keys[i]
                    printf "%-16s %-12s %10s %10s %12s %12s %13s\n", shape[k], runner[k], dash(pp[k]), dash(tg[k]), dash(dev[k]), dash(ppl[k]), dash(sec[k])
                }
            }' "$out/peer.txt" 2>/dev/null
    else
        echo "shape            weights   weight MiB   pp tok/s   tg tok/s   decode GB/s   % of copy   device MiB"
        awk '
            function row() { if (shape != "") printf "%-16s %-9s %10s %10s %10s %13s %11s %12s\n", shape, w, mib, pp, tg, gbs, pct, dev }
            /^## bench / {
                row(); shape = $3; w = $4; sub(/:$/, "", w); mib = pp = tg = gbs = pct = dev = "-"
            }
            /^## / && !/^## bench / { row(); shape = "" }
            /^weights / { mib = $(NF - 1) }
            /^pp[0-9]/ { pp = $2 }
            /^tg[0-9]/ { tg = $2 }
            /^decode bandwidth/ { gbs = $3; for (i = 1; i <= NF; i++) if ($i ~ /%$/) pct = $i }
            /^peak device memory/ { dev = $4 }
            END { row() }' "$out/bench.txt" 2>/dev/null
        if [ -s "$out/profile.txt" ]; then   # ncu --csv: quoted fields, the kernel name 5th, the grid 9th
            echo
            echo "shape            weights   kernel                    grid   launches   mean us    DRAM MB     GB/s"
            awk -F'","' '
                /^## / { split($0, h, " "); label = h[2] == "profile" ? sprintf("%-16s %-9s", h[3], h[4]) : "" }
                label != "" && NF == 15 && $1 != "\"ID" {
                    k = $5; sub(/^void /, "", k); sub(/\(.*/, "", k)
                    key = label SUBSEP k SUBSEP $9; if (!(key in seen)) { seen[key] = 1; order[++keys] = key }
                    v = $15; gsub(/[",]/, "", v)
                    if ($13 == "gpu__time_duration.sum") { ns[key] += v; n[key]++ } else bytes[key] += v
                }
                END {
                    for (i = 1; i <= keys; i++) {
                        split(order[i], f, SUBSEP); g = f[3]; sub(/^\(/, "", g); sub(/,.*/, "", g)
                        printf "%s %-22s %7s %10d %9.1f %10.2f %8.0f\n", f[1], f[2], g, n[order[i]], ns[order[i]] / n[order[i]] / 1000,
                               bytes[order[i]] / n[order[i]] / 1e6, bytes[order[i]] / ns[order[i]]
                    }
                }' "$out/profile.txt"
        fi
    fi
    echo
    echo "$(find "$out" -type f | wc -l) log files in $out; $failures failed, $cuts cut; $((end - $(date +%s))) s before the deadline"
} | tee -a "$out/summary.txt"
[ $failures = 0 ] && { [ $gpu = 1 ] || [ $mode = dry ]; }
