#!/usr/bin/env bash
# ewq generate as people use it, on the real stories260K model: greedy output against transformers'
# (data/expected/stories260K.json), seeded sampling repeated across runs and thread counts, the streamed text
# through a pipe against the text of --json, the echo, the summary line, --chat's refusal of a tokenizer
# without a template; progress only on a terminal; standard input (--text -, --tokens -, tokenize -) with
# the bad-input contract. Run by tests/run.sh (EWQ = the binary under test).
set -u
. "$(dirname "$0")/lib.sh"
S=../shared/assets/stories260K
F=data/fixtures/llama3-f32
ORACLE=data/expected/stories260K.json

expect_exit gen/bad-temp 2 "--temp must be a number >= 0" "$EWQ" generate $F --temp -1
expect_exit gen/bad-top-p 2 "--top-p must be a number from 0 to 1" "$EWQ" generate $F --top-p 1.5
expect_exit gen/bad-min-p 2 "--min-p must be a number from 0 to 1" "$EWQ" generate $F --min-p nan
expect_exit gen/bad-seed 2 "--seed must be an unsigned integer" "$EWQ" generate $F --seed -1
expect_exit gen/chat-needs-prompt 2 "--chat needs --prompt TEXT" "$EWQ" generate $F --chat

# --version: the version, the backends built in, the CPU kernels in use, and the GPU (or why none)
"$EWQ" --version >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && [ ! -s "$tmp/err" ] && grep -q '^ewq [0-9]' "$tmp/out" && grep -q '^backends: cpu' "$tmp/out" &&
    grep -q '^CPU: .* kernels, [0-9]* cores$' "$tmp/out" && grep -q '^CUDA: ' "$tmp/out"
check gen/version $? "$(cat "$tmp/out" "$tmp/err")"

# every command's --help ends with examples of that command
for cmd in $("$EWQ" --help | sed -n 's/^  \([a-z]*\) .*/\1/p'); do
    "$EWQ" $cmd --help | sed -n '/^examples:$/,$p' | grep -q "^  .*ewq $cmd" ; check gen/help-examples-$cmd $? "no examples"
done

# the entropy plot: round tick values (a 1, 2 or 5 step), the model named by its folder alone, and the rule's
# labels right of every point
"$EWQ" entropy data/default/ --svg "$tmp/e.svg" >/dev/null 2>&1
ticks=$(grep -o 'text-anchor="end">[0-9.]*<' "$tmp/e.svg" | sed 's/.*>\([0-9.]*\)</\1/')
awk 'NR > 1 { d = $1 - p; m = d / 10 ^ int(log(d) / log(10) - (d < 1)); r = m - int(m + 0.5); if (r < 0) r = -r
              if (r > 1e-6 || (int(m + 0.5) != 1 && int(m + 0.5) != 2 && int(m + 0.5) != 5)) bad = 1 } { p = $1 }
     END { exit bad || NR < 2 }' <<<"$ticks"
check gen/svg-round-ticks $? "ticks: $(echo $ticks)"
grep -q '>Block entropy of default (256 bins, factor 0.65)<' "$tmp/e.svg"; check gen/svg-title $? "$(grep -m1 -o 'font-size="14">[^<]*' "$tmp/e.svg")"
max_cx=$(grep -o 'circle cx="[0-9.]*" cy="[0-9.]*" r="5" fill="[^"]*"><title' "$tmp/e.svg" | sed 's/circle cx="\([0-9.]*\)".*/\1/' | sort -n | tail -1)
min_label=$(grep -o '<text x="[0-9.]*" y="[0-9.]*" fill="#495057">' "$tmp/e.svg" | sed 's/<text x="\([0-9.]*\)".*/\1/' | sort -n | head -1)
awk -v c="$max_cx" -v l="$min_label" 'BEGIN { exit !(c != "" && l != "" && l > c + 5) }'
check gen/svg-labels-clear-of-points $? "rightmost point at x $max_cx, labels from x $min_label"

# progress: never on a stderr that is not a terminal, only the plain summary lines
printf '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n' >"$tmp/16.tokens"
for cmd in "perplexity ppl $F --tokens $tmp/16.tokens --ctx 8" "bench bench $F -p 8 -n 4 -r 2" "entropy entropy $F" \
           "generate generate $F -n 4"; do
    summary=${cmd%% *} cmd=${cmd#* }
    name=gen/no-progress-in-logs-${cmd%% *}
    $EWQ $cmd >/dev/null 2>"$tmp/err" </dev/null
    if grep -q $'[\r\033]' "$tmp/err"; then echo "FAIL $name: carriage return or escape on stderr: $(cat -A "$tmp/err" | head -c 300)"
    elif [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q "^$summary: .* in [0-9.]* s (\|^generate: prompt" "$tmp/err"; then
        echo "FAIL $name: expected one summary line: $(head -c 300 "$tmp/err")"
    else echo "PASS $name"; fi
done
# ... and on a terminal (script(1) gives ewq one), the rewritten line with rate and ETA, cleared at the end
if command -v script >/dev/null; then
    script -qec "$EWQ ppl $F --tokens $tmp/16.tokens --ctx 4 >/dev/null" /dev/null >"$tmp/tty" 2>&1 </dev/null
    grep -q $'\r\033\\[Kperplexity: [0-9]*/16 tokens, .* tokens/s, ETA' "$tmp/tty" && grep -q $'\r\033\\[Kperplexity: 16 tokens in' "$tmp/tty"
    check gen/progress-on-a-terminal $? "$(cat -A "$tmp/tty" | head -c 400)"
    # one prompt longer than a micro-batch moves the bar before it ends: 512 of 2 x (1100 + 2) positions
    script -qec "$EWQ bench data/fixtures/llama3-f32 -p 1100 -n 2 -r 1 >/dev/null" /dev/null >"$tmp/tty" 2>&1 </dev/null
    grep -q $'\r\033\\[Kbench: 512/2204 positions, .*warm-up' "$tmp/tty" && grep -q $'\r\033\\[Kbench: 2204 positions in' "$tmp/tty"
    check gen/bench-progress-within-a-prompt $? "$(cat -A "$tmp/tty" | head -c 400)"
else
    echo "SKIP gen/progress-on-a-terminal: script(1) is not installed"
fi

# standard input: the same size limit and bad-input contract as a file (named "standard input")
printf '1 2 x 4\n' >"$tmp/letters.tokens"
expect_refusal gen/tokens-stdin-bad "byte 4: expected a decimal token id" "standard input" \
    bash -c "\"$EWQ\" ppl $F --tokens - <$tmp/letters.tokens"
expect_refusal gen/tokens-stdin-empty "holds no token ids" "standard input" "$EWQ" ppl $F --tokens -
a=$("$EWQ" ppl $F --tokens "$tmp/16.tokens" --ctx 8 --json 2>/dev/null)
b=$("$EWQ" ppl $F --tokens - --ctx 8 --json <"$tmp/16.tokens" 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ]; check gen/tokens-stdin-equals-file $? "file: $a; stdin: $b"

if [ ! -d "$S" ]; then
    echo "SKIP gen/stories260K: $S is not available"
    exit 0
fi
ids() { grep -o '"generated": {[^[]*"ids": \[[0-9, ]*\]' | tr -d ' ' | sed 's/.*\[//; s/\]//'; }

head -c 3000 ../shared/assets/text/tinystories_validation_100.txt >"$tmp/story.txt"
a=$("$EWQ" ppl $S --text "$tmp/story.txt" --ctx 128 --json 2>/dev/null)
b=$("$EWQ" ppl $S --text - --ctx 128 --json <"$tmp/story.txt" 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ]
check gen/text-stdin-equals-file $? "file: $a; stdin: $b"
a=$("$EWQ" tokenize $S "$tmp/story.txt" --ids 2>/dev/null)
b=$("$EWQ" tokenize $S - --ids <"$tmp/story.txt" 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ]; check gen/tokenize-stdin-equals-file $? "differ"

# temperature 0 is greedy: transformers' 64 tokens from BOS, whatever the seed
want=$(tr -d ' \n' <$ORACLE | grep -o '"greedy_from_bos":{"tokens":\[[0-9,]*\]' | sed 's/.*\[//; s/\]//')
got=$("$EWQ" generate $S -n 64 --temp 0 --seed 9 --json 2>/dev/null | ids)
[ -n "$want" ] && [ "$got" = "$want" ]; check gen/temp0-is-greedy $? "got '$got', transformers '$want'"

# seeded sampling: the same ids on every run and thread count; another seed, other ids
sample() { "$EWQ" generate $S -n 64 --temp 1 --top-k 0 --top-p 1 --min-p 0 --json "$@" 2>/dev/null | ids; }
a=$(sample --seed 7 --threads 1); b=$(sample --seed 7 --threads 2); c=$(sample --seed 7 --threads 2); d=$(sample --seed 8)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$c" ] && [ "$a" != "$d" ] && [ "$a" != "$want" ]
check gen/seed-repeats-across-runs-and-threads $? "seed 7 on 1, 2, 2 threads: '$a' / '$b' / '$c'; seed 8: '$d'"

# streaming: the text written token by token through a pipe is the text --json reports, and the echo
# is the prompt in front of it
json=$("$EWQ" generate $S -n 64 --prompt "Once upon a time" --json 2>/dev/null | grep -o '"text": ".*"' | sed 's/^"text": "//; s/"$//; s/\\"/"/g')
"$EWQ" generate $S -n 64 --prompt "Once upon a time" --no-echo 2>"$tmp/err" | cat >"$tmp/streamed"
printf '%b\n' "$json" >"$tmp/json"
[ -s "$tmp/json" ] && cmp -s "$tmp/streamed" "$tmp/json"; check gen/stream-equals-json $? "$(head -c 200 "$tmp/streamed") vs $(head -c 200 "$tmp/json")"
"$EWQ" generate $S -n 64 --prompt "Once upon a time" 2>/dev/null | cat >"$tmp/echoed"
{ printf 'Once upon a time'; cat "$tmp/streamed"; } | cmp -s - "$tmp/echoed"; check gen/echo-then-stream $? "$(head -c 200 "$tmp/echoed")"
grep -q '^generate: prompt 5 tokens ([0-9.]* tokens/s), generated 64 tokens ([0-9.]* tokens/s)$' "$tmp/err" && [ "$(wc -l <"$tmp/err")" = 1 ]
check gen/summary-line $? "$(cat "$tmp/err")"
"$EWQ" generate $S -n 8 --prompt "Once" --temp 0.8 --seed 3 2>&1 >/dev/null | grep -q ', seed 3$'
check gen/summary-names-the-seed $? "no seed in the summary"

expect_refusal gen/chat-without-template "has no chat_template" "$S/tokenizer_config.json" "$EWQ" generate $S --prompt Hi --chat
