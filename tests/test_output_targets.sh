#!/usr/bin/env bash
# Every output target keeps the contract: regular files appear complete or not at all (the temporary-and-
# rename path), special files (character devices, FIFOs, standard output under another name) are written in
# place and stay what they were, and every write error (a full device) is one line and exit 1, for files
# given with a flag and for standard output alike. Devices are private copies made with mknod in a
# temporary folder (never the real /dev); without the right to mknod those cases are skipped. Run by
# tests/run.sh.
set -u
. "$(dirname "$0")/lib.sh"

good=data/fixtures/llama2-f32
tok=tests/fuzz/corpus/tokenizer/sentencepiece.json

# After the work, the only line on stderr that starts with "ewq" is the last one and names FILE and TEXT
# (progress and timing lines may come before it); exit 1, nothing on stdout.
expect_late_refusal() {   # name, text, file, command...
    local name=$1 text=$2 file=$3
    shift 3
    "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    local rc=$? last
    last=$(tail -n 1 "$tmp/err")
    if [ $rc -ne 1 ]; then report "$name" "exit status $rc, expected 1 ($(head -c 300 "$tmp/err"))"
    elif [ "$(grep -c '^ewq' "$tmp/err")" -ne 1 ]; then report "$name" "not one 'ewq' line on stderr: $(cat "$tmp/err")"
    elif [ "${last#ewq: $file}" = "$last" ]; then report "$name" "last line does not start with 'ewq: $file': $last"
    elif [ "${last#*"$text"}" = "$last" ]; then report "$name" "message lacks '$text': $last"
    elif [ -s "$tmp/out" ]; then report "$name" "printed to stdout: $(head -c 200 "$tmp/out")"
    else report "$name" ""
    fi
}

is_char_device() { [ -c "$1" ] && [ ! -L "$1" ]; }

# The matrix: every command `ewq --help` lists, with what it prints on stdout (STDOUT_CMDS) and the file
# options it writes (FILE_CMDS, FILE is the target), against a null and a full device. A listed command
# without a STDOUT_CMDS template is reported as SKIP, so a new command cannot escape the matrix.
printf 'Hello world\n' >"$tmp/hello.txt"
seq 0 99 | awk '{printf "%d ", $1 % 256}' >"$tmp/ids.tokens"
ln -s /proc/self/fd/1 "$tmp/stdout"   # standard output under another name: export writes its file there
declare -A STDOUT_CMDS=(
    [inspect]="inspect $good --json" [entropy]="entropy $good" [plan]="plan $good --llama-quantize"
    [synth]="synth $good -o $tmp/synth-stdout" [tokenize]="tokenize $tok $tmp/hello.txt"
    [ppl]="ppl $good --tokens $tmp/ids.tokens --ctx 16" [generate]="generate $good -n 2 --ids 1"
    [bench]="bench $good -p 1 -n 1 -r 1" [export]="export data/default --uniform int8 --gguf $tmp/stdout"
    [run]="run data/default --text data/default/sample.txt -p 0 -n 0"
)
FILE_CMDS=("plan $good -o FILE" "entropy $good --svg FILE" "export data/default --uniform int8 --gguf FILE")
commands=$("$EWQ" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
if mknod "$tmp/null" c 1 3 2>/dev/null && mknod "$tmp/full" c 1 7 2>/dev/null; then
    for c in "${FILE_CMDS[@]}"; do
        read -ra args <<<"$c"
        name=output/${args[0]}-to-null
        if "$EWQ" "${args[@]//FILE/$tmp/null}" >/dev/null 2>"$tmp/err" && is_char_device "$tmp/null"; then
            report "$name" ""
        else
            report "$name" "exit $?, $(ls -l "$tmp/null") $(cat "$tmp/err")"
        fi
        expect_late_refusal "output/${args[0]}-to-full" "write failed: No space left on device" "$tmp/full" \
            "$EWQ" "${args[@]//FILE/$tmp/full}"
        is_char_device "$tmp/full" || report "output/${args[0]}-full-stays-a-device" "$(ls -l "$tmp/full")"
    done
    ls "$tmp" | grep -q '\.tmp\.' && report output/no-temporaries "left $(ls "$tmp")"

    # standard output on a full device: every command, and --help and --version
    for cmd in $commands --version --help; do
        c=${STDOUT_CMDS[$cmd]:-}
        [ "$cmd" = --version ] || [ "$cmd" = --help ] && c=$cmd
        [ -z "$c" ] && { echo "SKIP output/stdout-full/$cmd: no STDOUT_CMDS template in tests/test_output_targets.sh"; continue; }
        read -ra args <<<"$c"
        who="standard output"
        [ "$cmd" = export ] && who=$tmp/stdout   # its file, written through standard output, is named
        expect_late_refusal "output/stdout-full/$cmd" "write failed: No space left on device" "$who" \
            bash -c '"$@" >"'"$tmp/full"'"' _ "$EWQ" "${args[@]}"
    done
    expect_late_refusal "output/stdout-full/plan-help" "write failed" "standard output" \
        bash -c '"$@" >"'"$tmp/full"'"' _ "$EWQ" plan --help
    is_char_device "$tmp/full" || report output/stdout-full-stays-a-device "$(ls -l "$tmp/full")"
else
    echo "SKIP output/devices: mknod is not permitted here (needs root or CAP_MKNOD)"
fi

# standard output under another name (a private link to /proc/self/fd/1): the SVG goes through stdout, in
# order with the table, and the link stays a link
"$EWQ" entropy "$good" --svg "$tmp/stdout" >"$tmp/both.txt" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && [ -L "$tmp/stdout" ] && head -n 1 "$tmp/both.txt" | grep -q '^<svg' &&
    grep -q '^</svg>' "$tmp/both.txt" && grep -q 'entropy in bits' "$tmp/both.txt"; then
    report output/svg-to-stdout-file ""
else
    report output/svg-to-stdout-file "exit $rc, $(ls -l "$tmp/stdout"), $(head -c 200 "$tmp/both.txt") $(cat "$tmp/err")"
fi
"$EWQ" entropy "$good" --svg "$tmp/stdout" 2>"$tmp/err" | grep -c '</svg>' >"$tmp/count"
[ "$(cat "$tmp/count")" = 1 ] && [ -L "$tmp/stdout" ] && report output/svg-to-stdout-pipe "" ||
    report output/svg-to-stdout-pipe "$(cat "$tmp/count" "$tmp/err")"

# a FIFO: written in place for the reader at the other end, and still a FIFO afterwards
mkfifo "$tmp/fifo"
timeout 20 cat "$tmp/fifo" >"$tmp/from-fifo" &
reader=$!
timeout 20 "$EWQ" plan "$good" -o "$tmp/fifo" >/dev/null 2>"$tmp/err"
rc=$?
wait $reader
if [ $rc -eq 0 ] && [ -p "$tmp/fifo" ] && grep -q '"format": "ewq-plan"' "$tmp/from-fifo"; then
    report output/plan-to-fifo ""
else
    report output/plan-to-fifo "exit $rc, $(ls -l "$tmp/fifo") $(cat "$tmp/err")"
fi

# every output path is checked before the work: a report folder named "." or "..", or with a trailing
# slash, or one that cannot be created, is refused with one line and nothing else on stderr (the work
# would print its summary lines first)
run_args=(run data/default --text data/default/sample.txt -p 0 -n 0)
mkdir "$tmp/cwd" && : >"$tmp/cwd/mine.txt"
for r in . .. ./ / "$tmp/cwd/."; do
    expect_refusal "output/report-'$r'" "names no folder of its own" "${r%/}" "$EWQ" "${run_args[@]}" --report "$r"
done
expect_refusal output/report-parent-missing "cannot create (its parent is missing)" \
    "$tmp/nowhere/report" "$EWQ" "${run_args[@]}" --report "$tmp/nowhere/report"
"$EWQ" "${run_args[@]}" --report "$tmp/rep/" >/dev/null 2>"$tmp/err" && [ -f "$tmp/rep/report.md" ] &&
    report output/report-trailing-slash "" || report output/report-trailing-slash "$(cat "$tmp/err")"
expect_refusal output/report-foreign-folder-with-slash "not an earlier ewq output" "$tmp/cwd" \
    "$EWQ" "${run_args[@]}" --report "$tmp/cwd/"
expect_refusal output/report-refusal-after-start "fewer than one chunk" data/default/sample.txt \
    "$EWQ" "${run_args[@]}" --ctx 100000 --report "$tmp/rep2"
ls "$tmp" | grep -q 'rep2' && report output/report-refusal-leaves-nothing "left $(ls "$tmp")"

# SIGTERM and SIGHUP (the same handler as SIGINT, which a script's background jobs ignore) while run
# works: the report's temporary folder, which exists from the start, is removed with what it holds
for sig in TERM HUP; do
    if [ $sig = HUP ] && sighup_ignored; then
        echo "SKIP output/report-sighup: SIGHUP is ignored by whatever started the tests (nohup), so ewq keeps it so"
        continue
    fi
    "$EWQ" "${run_args[@]}" --report "$tmp/sig" >/dev/null 2>&1 &
    pid=$!
    for ((i = 0; i < 2000; i++)); do [ -d "$tmp/sig.tmp.$pid" ] && break; sleep 0.005; done
    kill -$sig $pid 2>/dev/null
    wait $pid 2>/dev/null
    left=$(ls -A "$tmp" | grep '^sig')
    [ -z "$left" ] && report "output/report-sig${sig,,}" "" || report "output/report-sig${sig,,}" "left $left"
done

# synth writes only what readers accept and what fits, checks both before writing, and leaves no folder
# it created behind when it refuses; it refuses a folder whose sharded index would hide the new file
synth_config() {   # NAME LAYERS HIDDEN VOCAB: a config.json in $tmp/NAME.json
    printf '{"architectures": ["LlamaForCausalLM"], "hidden_size": %d, "intermediate_size": 64, "num_hidden_layers": %d, "num_attention_heads": 2, "vocab_size": %d}' \
        "$3" "$2" "$4" >"$tmp/$1.json"
}
synth_config layers-100k 100000 16 32
synth_config layers-2^24 16777216 16 32
synth_config huge 1 16777216 16777216
for c in "layers-100k|readers accept at most 100000000" "layers-2^24|readers accept at most 100000000" \
    "huge|bytes free there"; do
    IFS='|' read -r name want <<<"$c"
    expect_refusal "output/synth-$name" "$want" "$tmp/synth-$name/model.safetensors" \
        timeout 20 "$EWQ" synth "$tmp/$name.json" -o "$tmp/synth-$name"
    [ -e "$tmp/synth-$name" ] && report "output/synth-$name-leaves-nothing" "left $(ls -A "$tmp/synth-$name")"
done
mkdir "$tmp/sharded" && cp data/fixtures/llama2-sharded/* "$tmp/sharded/"
before=$(ls -l "$tmp/sharded")
expect_refusal output/synth-over-sharded "a sharded checkpoint is here" "$tmp/sharded/model.safetensors.index.json" \
    "$EWQ" synth "$good" -o "$tmp/sharded"
[ "$(ls -l "$tmp/sharded")" = "$before" ] || report output/synth-over-sharded-unchanged "$(ls -l "$tmp/sharded")"
