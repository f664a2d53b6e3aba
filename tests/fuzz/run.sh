#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (one process, one job, at the lowest CPU priority; JOBS targets at
# a time, default the number of CPUs) on a working corpus in build/fuzz/corpus/TARGET, seeded from the
# committed tests/fuzz/corpus/TARGET; prints one line per target, in the order given, "PASS fuzz/TARGET:
# runs, exec/s, cov, ft" when it found nothing, "FAIL fuzz/TARGET: ..." naming the saved input
# (build/fuzz/crashes/) when it found a crash, a hang (one input over 10 s), a leak or a sanitizer report;
# then "N passed, N failed, N skipped" like tests/run.sh. The full log of each run is kept in
# build/fuzz/TARGET.log. FUZZ_OUT=DIR puts corpora, crashes and logs in DIR instead of build/fuzz.
# Usage: bash tests/fuzz/run.sh SECONDS build/fuzz/fuzz_TARGET...     (run from the repository root)
set -u
seconds=${1:?usage: tests/fuzz/run.sh SECONDS FUZZER...}
shift
out=${FUZZ_OUT:-build/fuzz}
mkdir -p "$out/crashes"
jobs=${JOBS:-$(nproc 2>/dev/null || echo 1)}
fuzz_one() {   # fuzzer: prints its PASS or FAIL line
    local fuzzer=$1 t corpus log rc last runs execs cov ft what saved
    t=$(basename "$fuzzer")
    t=${t#fuzz_}
    corpus=$out/corpus/$t
    log=$out/$t.log
    mkdir -p "$corpus"
    nice -n 19 "$fuzzer" "$corpus" "tests/fuzz/corpus/$t" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" >"$log" 2>&1
    rc=$?
    # the last status line ("#N DONE cov: C ft: F ... exec/s: E") and the final stats
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(printf '%s' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    if [ $rc -eq 0 ]; then
        echo "PASS fuzz/$t: ${seconds}s, ${runs:-?} runs, ${execs:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}"
    else
        what=$(grep -m1 -E 'ERROR: |runtime error|invariant failed|Test unit written' "$log")
        saved=$(sed -n 's/.*Test unit written to \(.*\)/\1/p' "$log" | tail -n 1)
        echo "FAIL fuzz/$t: exit status $rc: ${what:-see $log}; input: ${saved:-none saved}"
    fi
}
k=0
for fuzzer in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
    fuzz_one "$fuzzer" >"$out/line.$k" &
    k=$((k + 1))
done
wait
passed=0 failed=0
for ((i = 0; i < k; i++)); do
    cat "$out/line.$i"
    grep -q '^PASS ' "$out/line.$i" && passed=$((passed + 1)) || failed=$((failed + 1))
    rm -f "$out/line.$i"
done
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
