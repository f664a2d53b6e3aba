#!/usr/bin/env bash
# Runs every test program in BUILD_DIR (test_*) and every tests/test_*.sh script, each of which prints
# "PASS name", "FAIL name: detail" or "SKIP name: reason" lines, and ends with the totals.
# A program that exits non-zero (a crash, a sanitizer report) counts as one more failure.
# JOBS programs run at a time (default: the number of CPUs); each one's lines are printed once it and every
# program listed before it have finished, so the output is in the order of the list.
# Usage: EWQ=path/to/ewq bash tests/run.sh BUILD_DIR      (run from the repository root)
#        bash tests/run.sh --only 'PROGRAM [ARGS]'...     just these commands (make test-cuda-emu)
set -u
build=${1:?usage: tests/run.sh BUILD_DIR | --only COMMAND...}
export EWQ=${EWQ:-./ewq}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 1)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
names=()
shown=0 passed=0 failed=0 skipped=0
show_finished() {   # prints the lines of the programs finished so far, in the order they were listed
    local rc
    while [ $shown -lt ${#names[@]} ] && [ -f "$out/$shown.rc" ]; do
        grep -E '^(FAIL|SKIP) ' "$out/$shown"
        passed=$((passed + $(grep -c '^PASS ' "$out/$shown")))
        failed=$((failed + $(grep -c '^FAIL ' "$out/$shown")))
        skipped=$((skipped + $(grep -c '^SKIP ' "$out/$shown")))
        rc=$(cat "$out/$shown.rc")
        if [ "$rc" != 0 ]; then
            failed=$((failed + 1))
            echo "FAIL ${names[$shown]}: exited with status $rc; last output:"
            grep -vE '^(PASS|FAIL|SKIP) ' "$out/$shown" | tail -n 20
        fi
        echo "-- ${names[$shown]}"
        shown=$((shown + 1))
    done
}
start() {   # name, command...: runs it in the background once fewer than $jobs are running
    local k=${#names[@]}
    names+=("$1")
    shift
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; show_finished; done
    { "$@" >"$out/$k" 2>&1; echo $? >"$out/$k.tmp" && mv "$out/$k.tmp" "$out/$k.rc"; } </dev/null &
}
if [ "$build" = --only ]; then
    shift
    for c in "$@"; do
        # shellcheck disable=SC2086
        start "$c" $c
    done
else
    for t in "$build"/test_*; do
        [ -x "$t" ] && [ -f "$t" ] && case "$t" in *.d) ;; *) start "$(basename "$t")" "$t" ;; esac
    done
    # the forward tests once more on each lower kernel set than the CPU's best: AVX2 with AVX-VNNI (the
    # path of Alder Lake and later, without AVX-512), AVX2 (older CPUs without AVX-512) and plain C (without
    # AVX2/FMA/F16C)
    for k in avxvnni avx2 plain; do
        [ -x "$build/test_forward" ] && start "test_forward (EWQ_CPU=$k)" env EWQ_CPU=$k "$build/test_forward"
    done
    for s in tests/test_*.sh; do
        [ -f "$s" ] && start "$(basename "$s")" bash "$s"
    done
fi
wait
show_finished
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
