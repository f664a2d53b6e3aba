#!/usr/bin/env bash
# Runs every test program in BUILD_DIR (test_*) and every tests/test_*.sh script, each of which prints
# "PASS name", "FAIL name: detail" or "SKIP name: reason" lines, and ends with the totals.
# A program that exits non-zero (a crash, a sanitizer report) counts as one more failure.
# Usage: EWQ=path/to/ewq bash tests/run.sh BUILD_DIR      (run from the repository root)
#        bash tests/run.sh --only 'PROGRAM [ARGS]'...     just these commands (make test-cuda-emu)
set -u
build=${1:?usage: tests/run.sh BUILD_DIR | --only COMMAND...}
export EWQ=${EWQ:-./ewq}
passed=0 failed=0 skipped=0
run_one() {   # name, command...
    local name=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -E '^(FAIL|SKIP) ' || true
    passed=$((passed + $(printf '%s\n' "$out" | grep -c '^PASS ')))
    failed=$((failed + $(printf '%s\n' "$out" | grep -c '^FAIL ')))
    skipped=$((skipped + $(printf '%s\n' "$out" | grep -c '^SKIP ')))
    if [ $rc -ne 0 ]; then
        failed=$((failed + 1))
        echo "FAIL $name: exited with status $rc; last output:"
        printf '%s\n' "$out" | grep -vE '^(PASS|FAIL|SKIP) ' | tail -n 20
    fi
    echo "-- $name"
}
if [ "$build" = --only ]; then
    shift
    for c in "$@"; do
        # shellcheck disable=SC2086
        run_one "$(basename "${c%% *}")" $c
    done
else
    for t in "$build"/test_*; do
        [ -x "$t" ] && [ -f "$t" ] && case "$t" in *.d) ;; *) run_one "$(basename "$t")" "$t" ;; esac
    done
    # the forward tests once more on each lower kernel set than the CPU's best: AVX2 with AVX-VNNI (the
    # path of Alder Lake and later, without AVX-512), AVX2 (older CPUs without AVX-512) and plain C (without
    # AVX2/FMA/F16C)
    for k in avxvnni avx2 plain; do
        [ -x "$build/test_forward" ] && run_one "test_forward (EWQ_CPU=$k)" env EWQ_CPU=$k "$build/test_forward"
    done
    for s in tests/test_*.sh; do
        [ -f "$s" ] && run_one "$(basename "$s")" bash "$s"
    done
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
