#!/usr/bin/env bash
# make bench: entropy throughput on a synthesized Llama-3.2-1B-shaped checkpoint (2.47 GB BF16, written
# once under /tmp, never into the repository) against a plain sequential read of the same file, both with
# the page cache warm, in one run. Median of 5 runs each.
# Usage: EWQ=./ewq bash tests/bench/bench_entropy.sh   (EWQ_BENCH_DIR overrides the checkpoint folder)
set -eu
EWQ=${EWQ:-./ewq}
config=../shared/assets/configs/Llama-3.2-1B/config.json
dir=${EWQ_BENCH_DIR:-/tmp/ewq-bench-llama1b}
[ -f "$config" ] || { echo "bench: $config is missing (../shared/assets)"; exit 1; }
if ! cmp -s "$config" "$dir/config.json" || [ ! -f "$dir/model.safetensors" ]; then
    echo "bench: synthesizing $dir (once)" >&2
    "$EWQ" synth "$config" -o "$dir" --seed 1 >&2
fi
file=$dir/model.safetensors
bytes=$(stat -c %s "$file")
cat "$file" >/dev/null   # warm the page cache

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
read_rate() {
    local t0 t1
    t0=$(date +%s.%N)
    cat "$file" >/dev/null
    t1=$(date +%s.%N)
    awk -v b="$bytes" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.3f\n", b / 1e9 / (z - a)}'
}
# ewq prints "entropy: X GB in T s (R GB/s), N tensors, K threads, C s of CPU time" on stderr
for i in 1 2 3 4 5; do "$EWQ" entropy "$dir" 2>&1 >/dev/null | grep '^entropy: '; done >"${TMPDIR:-/tmp}/ewq-bench.$$"
reads=$(for i in 1 2 3 4 5; do read_rate; done | median)
ents=$(sed 's/.*(\([0-9.]*\) GB\/s.*/\1/' "${TMPDIR:-/tmp}/ewq-bench.$$" | median)
per_cpu=$(awk '{for (i = 1; i <= NF; i++) if ($i == "GB") gb = $(i - 1); printf "%.2f\n", gb / $(NF - 4)}' "${TMPDIR:-/tmp}/ewq-bench.$$" | median)
line=$(tail -n 1 "${TMPDIR:-/tmp}/ewq-bench.$$")
rm -f "${TMPDIR:-/tmp}/ewq-bench.$$"
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "machine: $cpu, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "checkpoint: $file ($(awk -v b="$bytes" 'BEGIN {printf "%.3f", b / 1e9}') GB BF16, Llama-3.2-1B shapes)"
echo "last entropy run: ${line#entropy: }"
echo "entropy (linear weights of the blocks): $ents GB/s   sequential read (whole file, cat): $reads GB/s"
awk -v e="$ents" -v r="$reads" 'BEGIN {printf "ratio entropy / read: %.2f\n", e / r}'
echo "entropy per second of CPU time (what each core does when it is not waiting): $per_cpu GB"
