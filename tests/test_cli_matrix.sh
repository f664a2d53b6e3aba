#!/usr/bin/env bash
# The bad-input matrix: every command that `ewq --help` lists, on every class of broken input that is not a
# broken file content (those are tests/bad/, run by test_bad_inputs.sh): bad flags, missing, unreadable and
# special files, a folder where a file is expected, a file where a folder is expected. Each refusal must
# exit with the expected status (1 for bad input, 2 for usage errors) within 20 s, print exactly one line
# on stderr that names the file or flag and the problem, print nothing on stdout, and leave no new file
# anywhere (the command runs in an empty scratch folder next to the inputs).
# Every command listed by `ewq --help` gets the --help and unknown-option checks; commands that read a
# model get every model class through a template in MODEL_CMDS below, and a listed command without a
# template is reported as SKIP, so a new command cannot silently escape the matrix. Flag values, single
# input files (plans, tokenizers, texts, configs) and outputs have their own classes further down.
set -u
. "$(dirname "$0")/lib.sh"
EWQ=$(realpath "$EWQ")
root=$(pwd)
logs=$tmp   # the checks' out and err files (lib.sh's contract_violation writes there too)
chmod 755 "$tmp"   # the unreadable-file cases may run as another user (see below)
work=$tmp/work
mkdir "$work"
as=()              # a prefix for the command line: empty, or a switch to an unprivileged user

# How each model-reading command is invoked on a model folder (MODEL is replaced); "-" for a command that
# reads no model folder (its input files are covered by input_classes at the end).
declare -A MODEL_CMDS=(
    [inspect]="inspect MODEL"
    [entropy]="entropy MODEL"
    [plan]="plan MODEL"
    [synth]="-"
    [tokenize]="-"
    [ppl]="ppl MODEL --tokens $root/data/expected/tinystories-6144.tokens"
    [generate]="generate MODEL -n 1"
    [bench]="bench MODEL -p 1 -n 1 -r 1"
    [export]="export MODEL --gguf $tmp/never.gguf"
    [run]="run MODEL --tokens $root/data/expected/tinystories-6144.tokens -p 0 -n 0"
)

snapshot() { find "$tmp" -mindepth 1 ! -path "$logs/out" ! -path "$logs/err" 2>/dev/null | sort; }
in_work() { (cd "$work" && timeout 20 "${as[@]}" "$@"); }

# refuse NAME STATUS NEEDLE WANT ARGS...: ewq ARGS... must exit with STATUS, one line on stderr starting
# with "ewq" and containing both NEEDLE (the file or flag) and WANT (the problem), nothing on stdout, no
# new files.
refuse() {
    local name=$1 status=$2 needle=$3 want=$4
    shift 4
    local before why
    before=$(snapshot)
    why=$(contract_violation "$status" "$needle" in_work "$EWQ" "$@")
    case $why in "exit status 124,"*) why="still running after 20 s (ewq $*)" ;; esac
    if [ -n "$why" ]; then :
    elif ! grep -q '^ewq' "$logs/err"; then why="message does not start with 'ewq': $(cat "$logs/err")"
    elif ! grep -qF -- "$want" "$logs/err"; then why="message lacks '$want': $(cat "$logs/err")"
    elif [ "$before" != "$(snapshot)" ]; then why="files changed: $(diff <(echo "$before") <(snapshot))"
    fi
    report "$name" "$why"
}

# --- every command: --help and an unknown option ---
commands=$("$EWQ" --help | sed -n '/^commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$commands" ] || echo "FAIL cli/commands: 'ewq --help' lists no commands"
for cmd in $commands; do
    if (cd "$work" && "$EWQ" "$cmd" --help >"$logs/out" 2>"$logs/err") && [ ! -s "$logs/err" ] &&
        head -n 1 "$logs/out" | grep -q "^usage: ewq $cmd"; then
        echo "PASS cli/$cmd/help"
    else
        echo "FAIL cli/$cmd/help: 'ewq $cmd --help' must exit 0 with 'usage: ewq $cmd' on stdout and nothing on stderr"
    fi
    refuse "cli/$cmd/unknown-option" 2 "--no-such-option" "unknown option" "$cmd" --no-such-option
done
refuse cli/unknown-command 2 "frobnicate" "unknown command" frobnicate

# --- every option of every command, as `ewq CMD --help` lists it: help, parser and this matrix read the
# same option tables in ewq.c. Each option must be accepted (the unknown option after it is the one
# refused); one that takes a value must refuse a missing value and, by the kind its help line states
# (a range, a lower bound, a list, a choice of words), values outside it; an option that excludes another
# must refuse the two together.
options_of() {   # CMD: one line per option, FLAG US ARG US HELP (US: \x1f; wrapped help lines joined)
    "$EWQ" "$1" --help | awk '/^options:$/ { on = 1; next }
        on && /^  -/ { if (o) print o; f = $1; a = ""; t = substr($0, 3 + length(f))
                       if (t ~ /^ [^ ]/) { a = substr(t, 2); sub(/ .*/, "", a); t = substr(t, 2 + length(a)) }
                       sub(/^ +/, "", t); o = f "\037" a "\037" t; next }
        on && /^   / { t = $0; sub(/^ +/, "", t); o = o " " t }
        END { if (o) print o }'
}
valid_value() {   # ARG HELP: a value the option accepts
    if [[ $2 =~ \((a\ number\ )?from\ (-?[0-9.]+)\ to ]]; then
        echo "${BASH_REMATCH[2]}"
    elif [[ $2 =~ numbers\ \>=\ ([0-9.]+) ]] || [[ $2 =~ \(\>=\ ([0-9.]+) ]]; then
        echo "${BASH_REMATCH[1]}"
    elif [[ $1 == *"|"* ]]; then echo "${1%%|*}"
    elif [[ $2 == *"an unsigned integer"* ]]; then echo 1
    else echo x
    fi
}
n_options=0
for cmd in $commands; do
    declare -A value=()
    mapfile -t opts < <(options_of "$cmd")
    [ ${#opts[@]} -gt 0 ] || echo "FAIL cli/$cmd/options: 'ewq $cmd --help' lists no options"
    for o in "${opts[@]}"; do
        IFS=$'\x1f' read -r flag arg help <<<"$o"
        value[$flag]=$( [ -n "$arg" ] && valid_value "$arg" "$help")
    done
    for o in "${opts[@]}"; do
        IFS=$'\x1f' read -r flag arg help <<<"$o"
        n_options=$((n_options + 1))
        name=cli/$cmd/$flag
        given=("$flag")
        [ -n "$arg" ] && given+=("${value[$flag]}")
        refuse "$name/accepted" 2 "--no-such-option" "unknown option" "$cmd" "${given[@]}" --no-such-option
        if [[ $help =~ not\ with\ (-[-a-z0-9]+) ]]; then
            other=${BASH_REMATCH[1]}
            [ -n "${value[$other]+set}" ] || echo "FAIL $name/excludes: $other is not an option of '$cmd'"
            refuse "$name/with-$other" 2 "$flag and $other" "exclude each other" "$cmd" "${given[@]}" "$other" \
                ${value[$other]:+"${value[$other]}"}
        fi
        [ -z "$arg" ] && continue
        refuse "$name/missing-value" 2 "$flag" "needs a value" "$cmd" "$flag"
        bad=() want=
        if [[ $help =~ \(a\ number\ from\ (-?[0-9.]+)\ to\ ([0-9.]+) ]]; then
            lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]}
            bad=(abc "" nan inf 1e999 "$(awk -v l="$lo" 'BEGIN { print l - 1 }')" "$(awk -v h="$hi" 'BEGIN { print h + 1 }')")
            want="must be a number from $lo to $hi"
        elif [[ $help =~ \(from\ (-?[0-9]+)\ to\ ([0-9]+) ]]; then
            lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]}
            bad=(abc 1.5 "" $((lo - 1)) $((hi + 1)) 99999999999999999999) want="must be an integer from $lo to $hi"
        elif [[ $help =~ up\ to\ ([0-9]+)\ numbers\ \>=\ ([0-9.]+) ]]; then
            bad=(abc "" 1,,2 1, -1 nan "$(seq -s, 0 "${BASH_REMATCH[1]}")") want="wants up to ${BASH_REMATCH[1]} numbers"
        elif [[ $help =~ \(\>=\ ([0-9.]+) ]]; then
            bad=(abc "" nan inf 1e999 0.5x -1) want="must be a number >= ${BASH_REMATCH[1]}"
        elif [[ $help == *"an unsigned integer"* ]]; then
            bad=(abc "" -1 1.5 99999999999999999999999) want="must be an unsigned integer"
        elif [[ $arg == *"|"* ]]; then
            bad=(none-of-these "" "${arg^^}") want="$flag wants ${arg%%|*}"
        fi
        for i in "${!bad[@]}"; do
            refuse "$name/bad-$i" 2 "$flag" "$want" "$cmd" "$flag" "${bad[$i]}"
        done
    done
    unset value
done
[ $n_options -ge 60 ] || echo "FAIL cli/options: only $n_options options found in the commands' --help"

# --- flags of each command ---
good=$root/data/fixtures/llama2-f32
for cmd in inspect entropy plan; do
    refuse cli/$cmd/missing-model 2 "$cmd" "missing MODEL" $cmd
    refuse cli/$cmd/two-models 2 "$cmd" "more than one MODEL" $cmd "$good" "$root/data/fixtures/llama3-f32"
    refuse cli/$cmd/unknown-short-option 2 "-x" "unknown option" $cmd "$good" -x
done
# bad_values CMD FLAG WANT VALUE...: each VALUE, and the flag without a value, is a usage error naming FLAG
bad_values() {
    local cmd=$1 flag=$2 want=$3 v i=0
    shift 3
    for v in "$@"; do
        i=$((i + 1))
        refuse "cli/$cmd/$flag-bad-$i" 2 "$flag" "$want" $cmd "${pre[@]}" "$flag" "$v"
    done
    refuse "cli/$cmd/$flag-missing-value" 2 "$flag" "needs a value" $cmd "${pre[@]}" "$flag"
}
pre=("$root/data/default" --text "$root/data/default/sample.txt")
bad_values run --sweep "--sweep wants" "" 0.5, ,0.5 a,b 0.5,-1 "0.5;1" nan 1,,2 \
    0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32
refuse cli/run/missing-text 2 "run" "missing --text" run "$good"
refuse cli/run/text-without-model 2 "run" "needs a MODEL" run --text data/default/sample.txt
refuse cli/run/sweep-duplicate 2 "--sweep" "names factor 0.5 twice" run "$root/data/default" --sweep 0.5,1,0.5
pre=("$good" -o "$tmp/never")
bad_values synth --outliers "--outliers" x 2:1 0:-1 0:nan 0:1e7 "0:1," : ""
# counts checked against the model: llama2-f32 has max_position_embeddings 256
seq 0 1999 | awk '{printf "%d ", $1 % 256}' >"$tmp/2000.tokens"
refuse cli/ppl/ctx-past-max-positions 1 "$good/config.json" "more than max_position_embeddings 256" \
    ppl "$good" --tokens "$tmp/2000.tokens" --ctx 1000
refuse cli/generate/n-past-max-positions 1 "$good/config.json" "need 257 positions" generate "$good" -n 257
refuse cli/bench/p-past-max-positions 1 "$good/config.json" "more than max_position_embeddings 256" \
    bench "$good" -p 300 -n 1 -r 1
refuse cli/synth/missing-config 2 "synth" "missing CONFIG" synth
refuse cli/synth/missing-output 2 "synth" "missing -o" synth "$good"
refuse cli/tokenize/missing-tokenizer 2 "tokenize" "" tokenize

# --- model folders: one broken copy of a valid fixture per class ---
sharded=$root/data/fixtures/llama2-sharded
m=$tmp/models
mkdir "$m"
make_model() {   # NAME [FIXTURE]: a fresh copy of a valid model, printed
    mkdir "$m/$1" && cp "${2:-$good}"/config.json "${2:-$good}"/*.safetensors* "$m/$1/" && echo "$m/$1"
}
cases=()   # "name|model|needle|want|how": how is empty, "unprivileged", or why the case is skipped
add() { cases+=("$1|$2|$3|$4|${5:-}"); }
add missing "$m/nowhere" "$m/nowhere" "No such file or directory"
add model-is-a-file "$good/config.json" "$good/config.json" "is not a folder"

# chmod 000 does not stop root (CI runs as root): there the unreadable cases run as user nobody (setpriv),
# and are skipped with a message when that is not possible.
d=$(make_model config-unreadable) && chmod 000 "$d/config.json"
privileged=   # empty when permissions stop this user; else "unprivileged" or why the cases are skipped
if cat "$d/config.json" >/dev/null 2>&1; then
    privileged="chmod 000 does not stop this user, and user nobody cannot run $EWQ (setpriv)"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$EWQ" --version >/dev/null 2>&1 && privileged=unprivileged
fi
how=$privileged
add config-unreadable "$d" "$d/config.json" "Permission denied" "$how"
d=$(make_model weights-unreadable) && chmod 000 "$d/model.safetensors"
add weights-unreadable "$d" "$d/model.safetensors" "Permission denied" "$how"
d=$(make_model folder-unreadable) && chmod 000 "$d"
add folder-unreadable "$d" "$d/config.json" "Permission denied" "$how"

d=$(make_model config-is-folder) && rm "$d/config.json" && mkdir "$d/config.json"
add config-is-folder "$d" "$d/config.json" "is a folder, expected a file"
d=$(make_model weights-is-folder) && rm "$d/model.safetensors" && mkdir "$d/model.safetensors"
add weights-is-folder "$d" "$d/model.safetensors" "is a folder, expected a file"
d=$(make_model index-is-folder) && mkdir "$d/model.safetensors.index.json"
add index-is-folder "$d" "$d/model.safetensors.index.json" "is a folder, expected a file"
d=$(make_model shard-is-folder "$sharded") && rm "$d/model-00002-of-00003.safetensors" &&
    mkdir "$d/model-00002-of-00003.safetensors"
add shard-is-folder "$d" "$d/model-00002-of-00003.safetensors" "is a folder, expected a file"
d=$(make_model shard-missing "$sharded") && rm "$d/model-00003-of-00003.safetensors"
add shard-missing "$d" "$d/model-00003-of-00003.safetensors" "No such file or directory"

d=$(make_model config-is-fifo) && rm "$d/config.json" && mkfifo "$d/config.json"
add config-is-fifo "$d" "$d/config.json" "is not a regular file"
d=$(make_model weights-is-fifo) && rm "$d/model.safetensors" && mkfifo "$d/model.safetensors"
add weights-is-fifo "$d" "$d/model.safetensors" "is not a regular file"
d=$(make_model config-is-device) && ln -sf /dev/zero "$d/config.json"
add config-is-device "$d" "$d/config.json" "is not a regular file"
d=$(make_model weights-is-device) && ln -sf /dev/zero "$d/model.safetensors"
add weights-is-device "$d" "$d/model.safetensors" "is not a regular file"
d=$(make_model config-dangling-link) && ln -sf "$d/nowhere.json" "$d/config.json"
add config-dangling-link "$d" "$d/config.json" "No such file or directory"

d=$(make_model config-empty) && : >"$d/config.json"
add config-empty "$d" "$d/config.json" "expected a value, found end of input"
d=$(make_model weights-empty) && : >"$d/model.safetensors"
add weights-empty "$d" "$d/model.safetensors" "shorter than the 8-byte"
d=$(make_model config-too-large) && truncate -s 2M "$d/config.json"   # sparse: refused before it is read
add config-too-large "$d" "$d/config.json" "more than the 1048576-byte limit"

for cmd in $commands; do
    template=${MODEL_CMDS[$cmd]:-}
    if [ -z "$template" ]; then
        echo "SKIP cli/$cmd/model-inputs: no MODEL_CMDS template for '$cmd' in tests/test_cli_matrix.sh"
        continue
    fi
    [ "$template" = - ] && continue
    for c in "${cases[@]}"; do
        IFS='|' read -r name model needle want how <<<"$c"
        as=()
        if [ "$how" = unprivileged ]; then as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        elif [ -n "$how" ]; then echo "SKIP cli/$cmd/$name: $how"; continue
        fi
        read -ra args <<<"${template//MODEL/$model}"
        refuse "cli/$cmd/$name" 1 "$needle" "$want" "${args[@]}"
    done
done

# --- single input files (plan, tokenizer, text, config) and outputs: one broken path per class ---
f=$tmp/files
mkdir "$f"
valid_tok=$root/tests/fuzz/corpus/tokenizer/sentencepiece.json
mkdir "$f/folder" "$f/empty-folder"
mkfifo "$f/fifo"
ln -s /dev/zero "$f/device"
ln -s "$f/nowhere" "$f/dangling"
: >"$f/empty"
cp "$valid_tok" "$f/unreadable" && chmod 000 "$f/unreadable"
# input_classes NAME WANT_EMPTY FOLDER ARGS...: ARGS with FILE replaced by each broken path; WANT_EMPTY is
# what an empty file must be refused with ("" when an empty file is valid input); FOLDER "folder" when a
# folder is an error ("" when it is valid, the command then looking for a file inside: tested below)
input_classes() {
    local name=$1 want_empty=$2 folder=$3 c path want
    shift 3
    for c in missing $folder fifo device dangling empty unreadable; do
        path=$f/$c
        case $c in
            missing | dangling) path=$f/$c want="No such file or directory" ;;
            folder) want="is a folder, expected a file" ;;
            fifo | device) want="is not a regular file" ;;
            empty) want=$want_empty ;;
            unreadable) want="Permission denied" ;;
        esac
        [ "$c" = missing ] && path=$f/nowhere
        [ "$c" = empty ] && [ -z "$want" ] && continue
        as=()
        if [ "$c" = unreadable ] && [ "$privileged" = unprivileged ]; then
            as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        elif [ "$c" = unreadable ] && [ -n "$privileged" ]; then echo "SKIP $name/$c: $privileged"; continue
        fi
        local args=("${@//FILE/$path}")
        refuse "$name/$c" 1 "$path" "$want" "${args[@]}"
    done
    as=()
}
chmod 755 "$f"
input_classes cli/plan/check "expected a value" folder plan "$good" --check FILE
input_classes cli/tokenize/tokenizer "expected a value" "" tokenize FILE
input_classes cli/tokenize/text "" folder tokenize "$valid_tok" FILE
input_classes cli/synth/config "expected a value" "" synth FILE -o "$tmp/never"
input_classes cli/ppl/tokens "holds no token ids" folder ppl "$good" --tokens FILE
printf '1 2 3 4 5\n' >"$tmp/five.tokens"   # readable by the unprivileged user too
input_classes cli/ppl/plan "expected a value" folder ppl "$good" --plan FILE --tokens "$tmp/five.tokens" --ctx 4
stories=$root/../shared/assets/stories260K   # a model with a tokenizer.json
if [ -d "$stories" ]; then
    input_classes cli/ppl/text "tokens are fewer than one chunk" folder ppl "$stories" --text FILE
    # a tokenizer of another model (Llama-3's 128K tokens) next to stories260K's 512-token weights
    mix=$tmp/mismatched-tokenizer
    mkdir "$mix" && ln -s "$stories/config.json" "$stories/model.safetensors" "$mix/" &&
        ln -s "$root/../shared/assets/tokenizers/llama3/tokenizer.json" "$mix/tokenizer.json"
    printf 'Hello world, this is a longer text of ordinary words.\n' >"$tmp/hello.txt"
    refuse cli/generate/tokenizer-of-another-model 1 "$mix/tokenizer.json" "outside the model's vocabulary of 512" \
        generate "$mix" --prompt "Hello world"
    refuse cli/ppl/tokenizer-of-another-model 1 "$mix/tokenizer.json" "outside the model's vocabulary of 512" \
        ppl "$mix" --text "$tmp/hello.txt" --ctx 4
else
    echo "SKIP cli/ppl/text: $stories is not available"
fi
input_classes cli/run/text "is empty" folder run "$root/data/default" --text FILE
input_classes cli/run/tokens "holds no token ids" folder run "$good" --tokens FILE
head -c 100 "$root/data/default/sample.txt" >"$tmp/short.txt"
refuse cli/run/text-shorter-than-ctx 1 "$tmp/short.txt" "102 tokens are fewer than one chunk of --ctx 128" \
    run "$root/data/default" --text "$tmp/short.txt" --ctx 128
refuse cli/run/ctx-past-max-positions 1 "$root/data/default/config.json" "more than max_position_embeddings 512" \
    run "$root/data/default" --text "$root/data/default/sample.txt" --ctx 1024
refuse cli/run/report-is-a-file 1 "$f/empty" "exists and is not a folder" \
    run "$root/data/default" --text "$tmp/short.txt" --report "$f/empty"
refuse cli/run/report-parent-missing 1 "$f/nowhere/report" "No such file or directory" \
    run "$root/data/default" --text "$tmp/short.txt" --report "$f/nowhere/report"
# the calibration slice (the last --sensitivity chunks) and the evaluated chunks must not overlap: 37 chunks of 128
refuse cli/run/sensitivity-whole-text 1 "$root/data/default/sample.txt" "37 chunks of --ctx 128 are too few for --sensitivity 37" \
    run "$root/data/default" --text "$root/data/default/sample.txt" --ctx 128 --sensitivity 37 --report "$f/never"
refuse cli/run/sensitivity-and-chunks 1 "$root/data/default/sample.txt" "too few for --sensitivity 30 and 8 evaluated" \
    run "$root/data/default" --text "$root/data/default/sample.txt" --ctx 128 --sensitivity 30 --chunks 8
for name in . ..; do   # a report folder is renamed into place: it needs a name of its own
    refuse "cli/run/report-$name" 1 "$f/$name" "names no folder of its own" \
        run "$root/data/default" --text "$tmp/short.txt" --report "$f/$name"
done
mkdir "$f/notes" && : >"$f/notes/mine.txt"
refuse cli/run/report-foreign-folder 1 "$f/notes" "not an earlier ewq output" \
    run "$root/data/default" --text "$tmp/short.txt" --report "$f/notes"
refuse cli/tokenize/folder-without-tokenizer 1 "$f/empty-folder/tokenizer.json" "No such file or directory" \
    tokenize "$f/empty-folder"
refuse cli/synth/folder-without-config 1 "$f/empty-folder/config.json" "No such file or directory" \
    synth "$f/empty-folder" -o "$tmp/never"

# outputs: a folder where the file goes, a missing parent folder, a folder this user cannot write to
mkdir "$f/readonly" && chmod 555 "$f/readonly"
with_tokenizer=$tmp/with-tokenizer   # export also reads a tokenizer.json
mkdir "$with_tokenizer" && cp "$good"/config.json "$good"/model.safetensors "$root"/tests/export/spm/* "$with_tokenizer/"
for out in plan entropy export; do
    flag=-o model=$good
    [ $out = entropy ] && flag=--svg
    [ $out = export ] && flag=--gguf model=$with_tokenizer
    refuse cli/$out/output-is-folder 1 "$f/folder" "is a folder, expected a file" $out "$model" $flag "$f/folder"
    refuse cli/$out/output-parent-missing 1 "$f/nowhere/out" "No such file or directory" \
        $out "$model" $flag "$f/nowhere/out"
    if [ "$(id -u)" != 0 ]; then
        refuse cli/$out/output-not-writable 1 "$f/readonly/out" "Permission denied" $out "$model" $flag "$f/readonly/out"
    elif [ "$privileged" = unprivileged ]; then
        as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        refuse cli/$out/output-not-writable 1 "$f/readonly/out" "Permission denied" $out "$model" $flag "$f/readonly/out"
        as=()
    else
        echo "SKIP cli/$out/output-not-writable: $privileged"
    fi
done
refuse cli/synth/output-is-file 1 "$f/empty" "is not a folder" synth "$good" -o "$f/empty"
