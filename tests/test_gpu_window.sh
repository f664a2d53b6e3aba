#!/usr/bin/env bash
# tests/cuda/gpu_window.sh --dry-run: the script a GPU lease runs goes through every step on this machine, so
# it cannot rot between leases. Each GPU step must say "skipped: no GPU"; ewq must refuse every bench command
# for want of a GPU alone (a flag it no longer takes fails here); the CPU runs fill the summary table; at
# most 8 files land in $OUT and none elsewhere in the repository; a short deadline ends it early and cleanly;
# a bench flag ewq refuses fails the dry run; --peer's steps run as well.
. tests/lib.sh
script=tests/cuda/gpu_window.sh
out=$tmp/window

if command -v shellcheck >/dev/null; then
    report gpu-window/shellcheck "$(shellcheck "$script" 2>&1 | head -n 5)"
else
    echo "SKIP gpu-window/shellcheck: shellcheck is not installed"
fi

untracked() { git status --porcelain --untracked-files=all 2>/dev/null | grep -v '^ M\|^M ' | sort; }
before=$(untracked)
OUT=$out EWQ_BENCH_ROOT=$tmp DEADLINE=300 bash "$script" --dry-run >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
check gpu-window/dry-run-passes $rc "exit status $rc: $(tail -n 5 "$tmp/stdout") $(head -c 300 "$tmp/stderr")"
s=$out/summary.txt
why=
for step in "test_cuda" "ewq run --backend cuda" "compute-sanitizer memcheck" "compute-sanitizer racecheck" "build" "profile"; do
    grep -q "^[0-9:]* ${step}[^:]*: skipped: no GPU" "$s" || why="$why '$step' does not say skipped: no GPU;"
done
n=$(grep -cE '^[0-9:]* bench [^ ]+ (raw|int8|int4|plan): skipped: no GPU \(dry run; ewq refuses it for that alone\)' "$s")
[ "$n" = 8 ] || why="$why $n of 8 bench commands refused for want of a GPU alone;"
report gpu-window/gpu-steps-skipped "$why"

# the table: 8 rows (2 shapes x raw/int8/int4/plan), each with numbers from the CPU runs
rows=$(grep -cE '^Llama-3\.(2-1B|1-8B) +(raw|int8|int4|plan) +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+% +- *$' "$s")
report gpu-window/bench-table "$([ "$rows" = 8 ] || echo "$rows of 8 rows filled: $(tail -n 12 "$s")")"
# the perplexity of the first shape on the whole text (here the stand-in's 4096 ids), with ewq's own time
report gpu-window/ppl "$(grep -qE '^[0-9:]* ewq ppl Llama-3\.2-1B: perplexity [0-9.]+ ± [0-9.]+, 4096 tokens in [0-9.]+ s' "$s" ||
    echo "no perplexity line: $(grep -m1 'ewq ppl' "$s")")"
# the main job on the first shape, with ewq's cost line
report gpu-window/study "$(grep -qE '^[0-9:]* ewq run Llama-3\.2-1B: cost: 13 variants, .* [0-9.]+ s in all' "$s" ||
    echo "no ewq run line: $(grep -m1 'ewq run Llama' "$s")")"

files=$(find "$out" -type f | wc -l)
after=$(untracked)
report gpu-window/outputs "$( { [ "$files" -le 8 ] || echo "$files files in \$OUT, more than 8;"; } ;
    [ "$before" = "$after" ] || echo "new files in the repository: $(comm -13 <(echo "$before") <(echo "$after") | head -n 3)")"

# the assets a GPU run needs (the dry run says when they are missing here)
if grep -q 'is missing' "$out/synth.txt"; then
    echo "SKIP gpu-window/assets: $(grep -m1 'is missing' "$out/synth.txt")"
else
    report gpu-window/assets ""
fi

# a deadline that leaves no room: every step out of time, and still a clean end
rm -rf "$out"
t0=$(date +%s)
OUT=$out EWQ_BENCH_ROOT=$tmp DEADLINE=12 bash "$script" --dry-run >"$tmp/stdout" 2>"$tmp/stderr"
rc=$? took=$(($(date +%s) - t0))
report gpu-window/deadline "$( { [ $rc = 0 ] && [ "$took" -le 25 ] && grep -q 'skipped: out of time' "$out/summary.txt"; } ||
    echo "exit status $rc after $took s (deadline 12 s): $(tail -n 3 "$out/summary.txt")")"

# a bench flag ewq refuses must fail the dry run, naming the command
rm -rf "$out"
OUT=$out EWQ_BENCH_ROOT=$tmp DEADLINE=60 SHAPES=Llama-3.2-1B BENCH_ARGS="-p 512 -n 128 -r 0" \
    bash "$script" --dry-run >"$tmp/stdout" 2>&1
rc=$?
report gpu-window/bad-bench-flag-fails "$( { [ $rc = 1 ] && grep -q 'not the no-GPU refusal' "$out/summary.txt"; } ||
    echo "exit status $rc: $(grep -m1 'bench' "$out/summary.txt")")"

# --peer (the lease after): ewq's perplexity on the ids and its bench on the CPU backend fill ewq's rows of
# the table; the transformers peer runs where PY has torch (then its perplexity must be ewq's: the same
# protocol on the same float32 model) and says it is skipped otherwise
rm -rf "$out"
OUT=$out EWQ_BENCH_ROOT=$tmp DEADLINE=120 bash "$script" --dry-run --peer >"$tmp/stdout" 2>&1
rc=$?
s=$out/summary.txt
why=
[ $rc = 0 ] || why="exit status $rc: $(tail -n 3 "$tmp/stdout");"
grep -q "^[0-9:]* ewq ppl Llama-3.2-1B raw ([^)]*): ok" "$s" || why="$why no ewq ppl step;"
[ "$(grep -cE '^Llama-3\.(2-1B|1-8B) +ewq +[0-9.]+ +[0-9.]+ ' "$s")" = 2 ] || why="$why ewq's rows are not filled;"
grep -qE '^Llama-3\.2-1B +ewq( +[0-9.-]+){3} +[0-9.]+ +[0-9.]+$' "$s" || why="$why no perplexity and seconds in ewq's first row;"
[ -f "$out/test_cuda.txt" ] && why="$why test_cuda ran;"
if grep -q "transformers Llama-3.2-1B: skipped: no .* with torch and transformers" "$s"; then
    echo "SKIP gpu-window/peer-agrees: no python3 with torch and transformers here (PY names one)"
else
    report gpu-window/peer-agrees "$(awk '$2 == "ewq" && $1 == "Llama-3.2-1B" { e = $6 } $2 == "transformers" && $1 == "Llama-3.2-1B" { t = $6 }
        END { if (!(e > 0 && t > 0 && (e - t) / e < 1e-3 && (t - e) / e < 1e-3)) print "perplexity: ewq " e ", transformers " t }' "$s")"
fi
report gpu-window/peer "$why"

expect_exit gpu-window/usage 2 "usage: bash tests/cuda/gpu_window.sh" bash "$script" --bogus
expect_exit gpu-window/usage-prepare-alone 2 "usage: bash tests/cuda/gpu_window.sh" bash "$script" --prepare --peer
