#!/usr/bin/env bash
# `ewq run --backend cuda` end to end: the study on data/default (one chunk, no throughput runs) on the CUDA
# backend must give every variant the perplexity, KL divergence and top-1 agreement of the same study on the
# CPU backend (ppl within 1e-5, KLD within 1e-6 + 1%, top-1 within one position: a near-tie the order of a
# float sum may decide). One CUDA backend runs all 13 variants, holding every tier's block linears once; under
# the emulation (EMU_DEVICE_BYTES) the device is made smaller than the variants' weights added up, which a
# copy per variant would need. EWQ: an ewq built with CUDA (make test-cuda-emu: build/emu/ewq, the kernels
# emulated on the CPU; on a GPU machine, ./ewq). Exits 1 when a check fails (tests/cuda/gpu_window.sh).
set -u
. "$(dirname "$0")/../lib.sh"
args=(run --chunks 1 -p 0 -n 0 --json)
gpu=$("$EWQ" --version | sed -n 's/^CUDA: //p')
case "$gpu" in
*"emulated"*) device=$((3 << 20)) ;;   # 3 MiB: the study takes 2.3, the variants' own weights add up to 8.1
*"compute capability"*) device= ;;
*) echo "SKIP cuda-run: no usable GPU here ($gpu)"; exit 0 ;;
esac

# name|ppl|kld|top1_agree of each variant, one per line (each variant is one line of ewq run's JSON)
variants() {
    sed -n 's/.*{"name": "\([^"]*\)".*"ppl": \([^,]*\),.*"kld": \([^,]*\),.*"top1_agree": \([^,}]*\).*/\1|\2|\3|\4/p' "$1"
}

"$EWQ" "${args[@]}" --backend cpu >"$tmp/cpu.json" 2>"$tmp/cpu.err"
rc=$?
check cuda-run/cpu $rc "the CPU run failed: $(tail -n 1 "$tmp/cpu.err")"
[ $rc = 0 ] || exit 1
[ -n "$device" ] && export EMU_DEVICE_BYTES=$device
"$EWQ" "${args[@]}" --backend cuda >"$tmp/cuda.json" 2>"$tmp/cuda.err"
rc=$?
check cuda-run/runs $rc "the CUDA run failed: $(tail -n 1 "$tmp/cuda.err")"
[ $rc = 0 ] || exit 1

variants "$tmp/cpu.json" >"$tmp/cpu.txt"
variants "$tmp/cuda.json" >"$tmp/cuda.txt"
scored=$(sed -n 's/.*"scored": \([0-9]*\),.*/\1/p' "$tmp/cpu.json" | head -n 1)
why=$(paste -d'|' "$tmp/cpu.txt" "$tmp/cuda.txt" | awk -F'|' -v scored="${scored:-0}" '
    function abs(x) { return x < 0 ? -x : x }
    { n++ }
    $1 != $5 { print "variant " n " is " $1 " on the CPU, " $5 " on CUDA"; bad = 1; exit }
    abs($6 - $2) > 1e-5 * $2 { print $1 ": ppl " $6 " on CUDA, " $2 " on the CPU"; bad = 1; exit }
    abs($7 - $3) > 1e-6 + 0.01 * $3 { print $1 ": KLD " $7 " on CUDA, " $3 " on the CPU"; bad = 1; exit }
    abs($8 - $4) > 1.000001 / scored { print $1 ": top-1 " $8 " on CUDA, " $4 " on the CPU"; bad = 1; exit }
    END { if (!bad && (n != 13 || scored < 1)) print n " variants compared, 13 expected (" scored " positions)" }')
report cuda-run/agrees-with-cpu "$why"
[ -z "$why" ] && echo "# cuda-run: 13 variants, $scored positions each, as on the CPU"
failed=${why:+1}

# the device holds every tier's block linears once (and the reference's logits): less than the variants' own weights added up
held=$(sed -n 's/.*"memory_bytes": {.*"device": \([0-9]*\)}.*/\1/p' "$tmp/cuda.json")
own=$(sed -n 's/.*"same_as": null, "weight_bytes": \([0-9]*\),.*/\1/p' "$tmp/cuda.json" | awk '{ s += $1 } END { print s + 0 }')
if [ -z "$device" ]; then
    echo "SKIP cuda-run/tiers-held-once: a real GPU's memory cannot be made smaller (the emulation's can)"
else
    why=
    [ -n "$held" ] && [ "$held" -le "$device" ] && [ "$own" -gt "$device" ] ||
        why="device bytes ${held:-absent} on a device of $device; the variants' own weights $own"
    report cuda-run/tiers-held-once "$why"
    echo "# cuda-run: $held bytes on an emulated device of $device; the 13 variants' own weights add up to $own"
    failed=${failed:-${why:+1}}
fi
exit "${failed:-0}"
