#!/usr/bin/env bash
# The runners CI's verdict rests on: tests/run.sh and tests/fuzz/run.sh run several programs at a time, so
# check with stand-in programs whose output is known that neither loses a failure nor reorders the lines:
# programs that finish in the reverse of their order are still reported in it, a crash after a PASS line
# is one more failure, the totals count every line, and a failed runner exits non-zero. (What it got is
# printed on one line: its FAIL lines would otherwise count as failures of their own.) Run by tests/run.sh.
set -u
. "$(dirname "$0")/lib.sh"

# stand-in SECONDS STATUS: sleeps, prints a PASS, a FAIL and a SKIP line named after SECONDS, exits STATUS
cat >"$tmp/stand-in" <<'STANDIN'
#!/bin/sh
sleep "$1"
echo "PASS slept-$1"
echo "FAIL slept-$1: on purpose"
echo "SKIP slept-$1: on purpose"
[ "$2" = 0 ] || echo "some last words"
exit "$2"
STANDIN
chmod +x "$tmp/stand-in"

JOBS=3 bash tests/run.sh --only "$tmp/stand-in 0.6 0" "$tmp/stand-in 0.3 3" "$tmp/stand-in 0 0" >"$tmp/run.out" 2>&1
rc=$?
check runners/run-fails $(( rc == 0 )) "tests/run.sh exited with status 0 after failures"
expected="FAIL slept-0.6: on purpose
SKIP slept-0.6: on purpose
-- $tmp/stand-in 0.6 0
FAIL slept-0.3: on purpose
SKIP slept-0.3: on purpose
FAIL $tmp/stand-in 0.3 3: exited with status 3; last output:
some last words
-- $tmp/stand-in 0.3 3
FAIL slept-0: on purpose
SKIP slept-0: on purpose
-- $tmp/stand-in 0 0
3 passed, 4 failed, 3 skipped"
report runners/run-order-and-totals "$([ "$(cat "$tmp/run.out")" = "$expected" ] || echo "got: $(paste -sd '|' "$tmp/run.out")")"

# a stand-in fuzzer: one that finds nothing, one that fails as libFuzzer does, in the reverse order of time
printf '#!/bin/sh\nsleep 0.5\necho "#9 DONE cov: 1 ft: 2 corp: 1/1b exec/s: 9"\n' >"$tmp/fuzz_good"
printf '#!/bin/sh\necho "==1==ERROR: AddressSanitizer: on purpose"\nexit 1\n' >"$tmp/fuzz_bad"
chmod +x "$tmp/fuzz_good" "$tmp/fuzz_bad"
JOBS=2 FUZZ_OUT=$tmp/fuzz bash tests/fuzz/run.sh 1 "$tmp/fuzz_good" "$tmp/fuzz_bad" >"$tmp/fuzz.out" 2>&1
rc=$?
check runners/fuzz-fails $(( rc == 0 )) "tests/fuzz/run.sh exited with status 0 after a failure"
report runners/fuzz-order-and-totals "$(sed 's/: [0-9]*s, .*//; s/: exit status.*ERROR: /: /; s/; input.*//' "$tmp/fuzz.out" |
    paste -sd '|' - | grep -qxF 'PASS fuzz/good|FAIL fuzz/bad: AddressSanitizer: on purpose|1 passed, 1 failed, 0 skipped' ||
    echo "got: $(paste -sd '|' "$tmp/fuzz.out")")"
