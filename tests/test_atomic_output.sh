#!/usr/bin/env bash
# Kills the commands that write files while they write, and checks that the destination is complete or
# as it was: never partial. `ewq synth -o DIR` is killed while model.safetensors is being written, `ewq
# plan -o FILE` while the analysis runs with its output open. SIGKILL may leave the temporary
# "PATH.tmp.PID" (nothing runs after SIGKILL; documented in ewq.h) and nothing else; SIGTERM and SIGHUP
# must leave no temporary at all (SIGINT is left out: a script's background jobs ignore it). A run that
# finishes before it can be caught writing is retried, then reported as SKIP. The library-level version
# of this test is tests/test_atomic_output.c.
set -u
. "$(dirname "$0")/lib.sh"
# large enough that writing it takes a while: 8 blocks, 41.7 M parameters, 83 MB in BF16
cat >"$tmp/config.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "hidden_size": 512, "intermediate_size": 1376, "num_hidden_layers": 8,
 "num_attention_heads": 8, "num_key_value_heads": 8, "vocab_size": 32000, "tie_word_embeddings": true}
JSON

# kill_while_writing SIGNAL DEST: runs the command after "--" in the background, waits until DEST's
# temporary exists (and, with "nonempty", holds data), sends SIGNAL; prints the pid, or nothing when the
# command finished first.
kill_while_writing() {
    local sig=$1 dest=$2 need=$3
    shift 4
    "$@" >/dev/null 2>&1 &
    local pid=$! i
    for ((i = 0; i < 4000; i++)); do
        if [ -e "$dest.tmp.$pid" ] && { [ "$need" != nonempty ] || [ -s "$dest.tmp.$pid" ]; }; then
            kill -"$sig" $pid 2>/dev/null
            wait $pid 2>/dev/null
            echo $pid
            return
        fi
        kill -0 $pid 2>/dev/null || break
        sleep 0.002
    done
    wait $pid 2>/dev/null
}

# check NAME SIGNAL DEST BEFORE need -- COMMAND...: BEFORE is the file DEST held before (or "" for none).
check_kill() {
    local name=$1 sig=$2 dest=$3 before=$4 need=$5
    shift 5
    local pid try
    for try in 1 2 3; do
        rm -f "$dest" "$dest".tmp.*
        [ -n "$before" ] && cp "$before" "$dest"
        pid=$(kill_while_writing "$sig" "$dest" "$need" "$@")
        [ -n "$pid" ] && break
    done
    if [ -z "$pid" ]; then echo "SKIP $name: the command finished before it could be caught writing"; return; fi
    local left
    left=$(cd "$(dirname "$dest")" && ls -A | grep -F "$(basename "$dest").tmp." | tr '\n' ' ')
    if [ -n "$before" ] && ! cmp -s "$before" "$dest"; then echo "FAIL $name: $dest changed"
    elif [ -z "$before" ] && [ -e "$dest" ]; then echo "FAIL $name: $dest exists after the kill"
    elif [ "$sig" = KILL ] && [ -n "$left" ] && [ "$left" != "$(basename "$dest").tmp.$pid " ]; then
        echo "FAIL $name: left $left, expected at most $(basename "$dest").tmp.$pid"
    elif [ "$sig" != KILL ] && [ -n "$left" ]; then echo "FAIL $name: SIG$sig left a temporary: $left"
    else echo "PASS $name"
    fi
    rm -f "$dest".tmp.*
}

out=$tmp/synth
mkdir "$out"
for sig in KILL TERM; do
    check_kill "atomic/synth-sig${sig,,}" $sig "$out/model.safetensors" "" nonempty -- \
        "$EWQ" synth "$tmp/config.json" -o "$out"
done

# a complete model to plan, and a complete plan as the "before" of the next checks
if ! "$EWQ" synth "$tmp/config.json" -o "$tmp/model" >/dev/null 2>&1 ||
    ! "$EWQ" inspect "$tmp/model" >/dev/null 2>&1; then
    echo "FAIL atomic/synth-complete: the synthesized model does not open"
    exit 0
fi
echo "PASS atomic/synth-complete"
"$EWQ" plan "$tmp/model" -o "$tmp/old-plan.json" >/dev/null 2>&1
for sig in KILL HUP; do
    if [ $sig = HUP ] && sighup_ignored; then
        echo "SKIP atomic/plan-sighup: SIGHUP is ignored by whatever started the tests (nohup), so ewq keeps it so"
        continue
    fi
    check_kill "atomic/plan-sig${sig,,}-keeps-old" $sig "$tmp/plan.json" "$tmp/old-plan.json" any -- \
        "$EWQ" plan "$tmp/model" --factor 1.5 -o "$tmp/plan.json"
    check_kill "atomic/plan-sig${sig,,}-no-file" $sig "$tmp/plan.json" "" any -- \
        "$EWQ" plan "$tmp/model" -o "$tmp/plan.json"
done
