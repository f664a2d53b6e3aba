# tests/lib.sh — sourced by every tests/test_*.sh script: the binary under test, a temporary folder, and the
# checks of ewq's error contract. Each check prints a PASS or FAIL line for tests/run.sh.
EWQ=${EWQ:-./ewq}
tmp=$(mktemp -d)
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT   # chmod: some tests make files unreadable

# Runs COMMAND... with empty stdin; prints why it breaks the contract "exit STATUS, exactly one line on
# stderr containing TEXT, nothing on stdout", or nothing when it keeps it. Leaves $tmp/out and $tmp/err.
contract_violation() {   # status, text, command...
    local want=$1 text=$2 lines
    shift 2
    "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    lines=$(wc -l <"$tmp/err")
    if [ $rc -ne "$want" ]; then echo "exit status $rc, expected $want ($(head -c 300 "$tmp/err"))"
    elif [ "$lines" -ne 1 ]; then echo "$lines lines on stderr, expected 1: $(head -c 400 "$tmp/err")"
    elif [ -s "$tmp/out" ]; then echo "printed to stdout: $(head -c 200 "$tmp/out")"
    elif ! grep -qF -- "$text" "$tmp/err"; then echo "message lacks '$text': $(cat "$tmp/err")"
    fi
}

report() { if [ -z "$2" ]; then echo "PASS $1"; else echo "FAIL $1: $2"; fi; }   # name, why it failed or ""

check() { if [ "$2" = 0 ]; then report "$1" ""; else report "$1" "$3"; fi; }   # name, status, why if not 0

# Whether SIGHUP was ignored when the tests were started (nohup): ewq then leaves it ignored, as it should,
# so a test that sends it has nothing to see. Read from this shell's own /proc entry.
sighup_ignored() {
    local key value
    while read -r key value; do [ "$key" = SigIgn: ] && return $(((16#$value & 1) == 0)); done </proc/self/status
    return 1
}

expect_exit() {   # name, status, text the single stderr line must contain, command...
    local name=$1
    shift
    report "$name" "$(contract_violation "$@")"
}

# Bad input: exit 1 and one line "ewq: FILE...: problem" that starts by naming FILE (or a file inside
# the folder FILE) and contains TEXT.
expect_refusal() {   # name, text, file, command...
    local name=$1 text=$2 file=$3 why
    shift 3
    why=$(contract_violation 1 "$text" "$@")
    if [ -z "$why" ]; then
        case "$(cat "$tmp/err")" in
            "ewq: $file"*) ;;
            *) why="message does not start with 'ewq: $file': $(cat "$tmp/err")" ;;
        esac
    fi
    report "$name" "$why"
}
