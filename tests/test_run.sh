#!/usr/bin/env bash
# `ewq run`, the main job, on the embedded default (data/default): the README's first command runs; the report's
# structure; the numbers are identical on a second run and on another thread count; the EWQ row carries the
# plan's tiers (as `ewq plan` prints them) and every control carries the plan's tier counts, placed as ewq.h
# and `ewq run --help` define (random: a permutation; first-, last-, ends-high: exact positions); weight bytes
# equal the packed-format formulas of ewq.h for the default's shapes; the report folder is complete or absent;
# data/default/model.safetensors is what its documented `ewq synth` command writes.
# Bad input to `run` is in tests/test_cli_matrix.sh. Run by tests/run.sh (EWQ = the binary under test).
set -u
. "$(dirname "$0")/lib.sh"

# --- the README's first command, as it is (about 13 s of CPU time; several minutes under make asan, which
# runs the same checks on a shorter text below) ---
case $EWQ in
*asan*) echo "SKIP run/first-command: the sanitizer build takes minutes on the whole sample; 'make test' runs it" ;;
*)
    start=$SECONDS
    "$EWQ" run >"$tmp/first.out" 2>"$tmp/first.err"
    rc=$?
    check run/first-command $((rc != 0 || $(grep -c '^ewq  *6/0/2' "$tmp/first.out") != 1)) \
        "exit $rc or no EWQ row: $(tail -n 3 "$tmp/first.err")"
    grep -q '^Note: data/default has random weights' "$tmp/first.out"
    check run/first-command-says-random-weights $? "no note that the default model's weights are random"
    echo "note: ewq run on the embedded default took $((SECONDS - start)) s" >&2
    ;;
esac

# --- a shorter text for the rest: 1000 characters of the sample; a second run, on one thread, must print
# the same numbers ---
head -c 1000 data/default/sample.txt >"$tmp/short.txt"
args=(run data/default --text "$tmp/short.txt" --ctx 128 -p 0 -n 0 --json)
"$EWQ" "${args[@]}" --report "$tmp/r1" >"$tmp/a.json" 2>"$tmp/a.err" || echo "FAIL run/short: $(tail -n 2 "$tmp/a.err")"
"$EWQ" "${args[@]}" --threads 1 >"$tmp/b.json" 2>/dev/null
same_run() { sed 's/"threads": [0-9]*/"threads": N/; /^ "seconds": /d' "$1"; }   # timings differ
diff <(same_run "$tmp/a.json") <(same_run "$tmp/b.json") >/dev/null
check run/deterministic $? "a second run, on one thread, printed other numbers: $(diff "$tmp/a.json" "$tmp/b.json" | head -c 300)"

# --- the report folder ---
ls "$tmp/r1" >"$tmp/files"
check run/report-files $( [ "$(tr '\n' ' ' <"$tmp/files")" = "entropy.svg report.json report.md " ]; echo $?) \
    "report folder holds: $(tr '\n' ' ' <"$tmp/files")"
cmp -s "$tmp/r1/report.json" "$tmp/a.json"
check run/report-json-is-stdout $? "report.json differs from --json"
md=$tmp/r1/report.md
ok=0
for want in '^# ewq run: data/default' '^| variant | blocks | MiB |' '^| ewq | 6/0/2 | .* | R4RR4RRR |$' '^| random mean (5) |' \
    '^| first-high |' '^## EWQ against random placement' 'entropy.svg'; do
    grep -q -- "$want" "$md" || { ok=1; echo "FAIL run/report-md: no line matching '$want'"; }
done
check run/report-md $ok "see above"
grep -q '<svg' "$tmp/r1/entropy.svg" && grep -q '</svg>' "$tmp/r1/entropy.svg"
check run/report-svg $? "entropy.svg is not an SVG document"

# --- the variants ---
row() { grep "{\"name\": \"$1\"" "$tmp/a.json"; }   # one variant per line
blocks() { row "$1" | sed 's/.*"blocks": \[\([^]]*\)\].*/\1/' | tr -d '", ' | sed 's/raw/R/g; s/int8/8/g; s/int4/4/g'; }
field() { row "$1" | sed "s/.*\"$2\": \\([^,}]*\\).*/\\1/"; }
names=$(grep -o '{"name": "[^"]*"' "$tmp/a.json" | sed 's/.*: "//; s/"$//' | tr '\n' ',')
want_names="raw,int8,int4,ewq,random s1,random s2,random s3,random s4,random s5,first-high,last-high,ends-high,inverted,"
check run/variants $( [ "$names" = "$want_names" ]; echo $?) "variants are '$names'"

plan=$("$EWQ" plan data/default 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && $4 ~ /^(raw|int8|int4)$/ {print $4}' |
    sed 's/raw/R/; s/int8/8/; s/int4/4/' | tr -d '\n')
check run/ewq-is-the-plan $( [ -n "$plan" ] && [ "$(blocks ewq)" = "$plan" ]; echo $?) \
    "ewq row blocks $(blocks ewq), 'ewq plan' says $plan"
sorted() { echo "$1" | fold -w1 | sort | tr -d '\n'; }
R=$(echo "$plan" | tr -cd R | wc -c) A=$(echo "$plan" | tr -cd 8 | wc -c) B=$(echo "$plan" | tr -cd 4 | wc -c)
ok=0 distinct=""
for s in 1 2 3 4 5; do
    b=$(blocks "random s$s")
    [ "$(sorted "$b")" = "$(sorted "$plan")" ] || { ok=1; echo "FAIL run/random-s$s-counts: $b is not a placement of $plan"; }
    distinct="$distinct$b"$'\n'
done
check run/random-same-counts $ok "see above"
check run/random-placements-differ $( [ "$(printf '%s' "$distinct" | sort -u | wc -l)" -ge 2 ]; echo $?) \
    "all five random placements are the same"
rep() { local i; for ((i = 0; i < $2; i++)); do printf '%s' "$1"; done; }
first=$(rep R $R)$(rep 8 $A)$(rep 4 $B)
last=$(echo "$first" | rev)
L=${#plan}
ends=$(for ((i = 0; i < L; i++)); do echo x; done | tr -d '\n')   # fill positions 0, L-1, 1, L-2, ... in order
for ((i = 0; i < L; i++)); do
    if ((i % 2)); then p=$((L - 1 - i / 2)); else p=$((i / 2)); fi
    ends="${ends:0:p}${first:i:1}${ends:p+1}"
done
for pos in first-high:$first last-high:$last ends-high:$ends; do
    check "run/${pos%%:*}" $( [ "$(blocks "${pos%%:*}")" = "${pos#*:}" ]; echo $?) "got $(blocks "${pos%%:*}"), expected ${pos#*:}"
done

# raw is the reference; bytes per ewq.h: raw BF16; int8 rows*(cols + 2*ceil(cols/64)); int4 rows*(ceil(cols/2) +
# 4*ceil(cols/64)); shapes of data/default/config.json: q, o 64x64; k, v 32x64; gate, up 192x64; down 64x192;
# tied embedding 354x64 BF16, stored once
check run/raw-reference $( [ "$(field raw kld)" = 0 ] && [ "$(field raw top1_agree)" = 1 ]; echo $?) \
    "raw against itself: kld $(field raw kld), top-1 $(field raw top1_agree)"
layer() { echo $((2 * $1 * $2 + 2 * $3 * $2 + 3 * $4)); }   # q/o rows*, k/v rows*, gate/up/down
raw_l=$(( (2 * 64 * 64 + 2 * 32 * 64 + 3 * 192 * 64) * 2 ))
i8_l=$(( 2 * 64 * (64 + 2) + 2 * 32 * (64 + 2) + 2 * 192 * (64 + 2) + 64 * (192 + 2 * 3) ))
i4_l=$(( 2 * 64 * (32 + 4) + 2 * 32 * (32 + 4) + 2 * 192 * (32 + 4) + 64 * (96 + 4 * 3) ))
embed=$((354 * 64 * 2))
ok=0
for v in raw:$((8 * raw_l + embed)) int8:$((8 * i8_l + embed)) int4:$((8 * i4_l + embed)) \
    ewq:$((R * raw_l + A * i8_l + B * i4_l + embed)) first-high:$((R * raw_l + A * i8_l + B * i4_l + embed)); do
    got=$(field "${v%%:*}" weight_bytes)
    [ "$got" = "${v#*:}" ] || { ok=1; echo "FAIL run/bytes-${v%%:*}: $got, expected ${v#*:}"; }
done
check run/weight-bytes $ok "see above"

# --- one pass: every variant scored against reference logits computed once per chunk, its blocks taken from
# copies packed once per tier, gives exactly what `ewq ppl --ref raw` gives with two backends and its own packing ---
"$EWQ" plan data/default -o "$tmp/plan.json" >/dev/null 2>&1
ok=0
for v in "int4:--uniform int4" "ewq:--plan $tmp/plan.json"; do
    # shellcheck disable=SC2086
    p=$("$EWQ" ppl data/default --text "$tmp/short.txt" --ctx 128 ${v#*:} --ref raw --json 2>/dev/null)
    pf() { echo "$p" | sed "s/.*\"$1\": \([^,}]*\).*/\1/"; }
    for pair in ppl:ppl kld:kld top1_agree:top1_agree; do
        [ "$(field "${v%%:*}" "${pair%%:*}")" = "$(pf "${pair#*:}")" ] ||
            { ok=1; echo "FAIL run/one-pass-${v%%:*}-${pair%%:*}: run $(field "${v%%:*}" "${pair%%:*}"), ppl $(pf "${pair#*:}")"; }
    done
done
check run/one-pass-equals-ppl $ok "see above"
"$EWQ" "${args[@]}" --chunks 2 >"$tmp/c.json" 2>/dev/null
grep -q '"ctx": 128, "chunks": 2, "scored": 126,' "$tmp/c.json"
check run/chunks $? "--chunks 2 did not score 2 chunks of 63 positions: $(grep -o '"chunks": [0-9]*, "scored": [0-9]*' "$tmp/c.json")"

# --- duplicates: 40 random placements of 2 int4 among 8 blocks (28 possible) must repeat; each distinct one
# counts once in the statistics, and every repeat is marked in the table ---
"$EWQ" run data/default --text "$tmp/short.txt" --ctx 128 -p 0 -n 0 --seeds 40 --json >"$tmp/d.json" 2>/dev/null
want=$(grep -o '{"name": "random s[0-9]*".*"blocks": \[[^]]*\]' "$tmp/d.json" | sed 's/.*"blocks": //' | sort -u | wc -l)
got=$(grep -o '"seeds": 40, "distinct": [0-9]*' "$tmp/d.json" | sed 's/.* //')
check run/random-distinct $( [ "$want" -lt 40 ] && [ "$got" = "$want" ]; echo $?) "distinct $got, placements $want of 40"
"$EWQ" run data/default --text "$tmp/short.txt" --ctx 128 -p 0 -n 0 --seeds 40 >"$tmp/d.txt" 2>/dev/null
marked=$(grep -c '^random s[0-9]* .* = random s[0-9]*$' "$tmp/d.txt")
check run/random-repeats-marked $( [ "$marked" -ge $((40 - want)) ]; echo $?) "$marked rows marked, $((40 - want)) repeats"

# --- sweep, and a report replacing an earlier one ---
"$EWQ" run data/default --text "$tmp/short.txt" --ctx 128 -p 0 -n 0 --seeds 2 --sweep 0.3,0.65,2 --sensitivity 2 \
    --report "$tmp/r1" >"$tmp/sweep.out" 2>"$tmp/sweep.err"
rc=$?
check run/sweep $((rc != 0 || $(sed '/^size against/q' "$tmp/sweep.out" | grep -c '^ewq f=\(0.3\|0.65\|2\) ') != 3)) \
    "exit $rc or not one ewq row per factor: $(tail -n 2 "$tmp/sweep.err")"
grep -q '^size against KLD' "$tmp/sweep.out" && grep -q 'yes$' "$tmp/sweep.out"
check run/sweep-frontier $? "no frontier table, or nothing on it"
check run/report-replaced $( grep -q '"seeds": 2' "$tmp/r1/report.json" && [ "$(ls "$tmp" | grep -c 'r1\.')" = 0 ]; echo $?) \
    "report.json is not the new run's, or temporary folders are left: $(ls "$tmp")"
# the frontier plot: well-formed, in the report, and every point where the plot's own tick labels put the
# variant's bits per weight (linear axis) and KLD (logarithmic axis) from report.json, to 0.03 pixel; the random
# mean's bar ends at mean + sd and at mean - sd (or on the bottom axis when that is not positive)
svg=$tmp/r1/frontier.svg
ok=0
[ -s "$svg" ] && grep -q '^!\[KLD against size\](frontier.svg)$' "$tmp/r1/report.md" || ok=1
[ "$(head -c 5 "$svg")" = '<svg ' ] && [ "$(tail -n 1 "$svg")" = '</svg>' ] || ok=1
if command -v xmllint >/dev/null; then xmllint --noout "$svg" 2>/dev/null || ok=1; fi
check run/frontier-svg $ok "frontier.svg is missing, not in report.md, or not well-formed XML"
why=$(awk 'function val(s, key, m) { if (!match(s, "\"" key "\": [^,}]*")) return ""
        m = substr(s, RSTART, RLENGTH); sub(/.*: /, "", m); gsub(/"/, "", m); return m }
    function attr(s, a, m) { match(s, " " a "=\"[^\"]*\""); m = substr(s, RSTART, RLENGTH); sub(/.*="/, "", m)
        sub(/"/, "", m); return m + 0 }
    function label(s) { sub(/<\/text>.*/, "", s); sub(/.*>/, "", s); return s + 0 }
    function lg(x) { return log(x) / log(10) }
    function ypx(k) { return k > 0 ? yt[1] + (yt[ny] - yt[1]) * (lg(k) - lg(yl[1])) / (lg(yl[ny]) - lg(yl[1])) : bottom }
    function near(a, b) { return a - b < 0.03 && b - a < 0.03 }
    FNR == NR && /^  \{"name": / {   # report.json: the variants drawn, and the EWQ size per factor
        kind = val($0, "kind"); f = val($0, "factor")
        if (kind == "ewq") ewq_bpw[f] = val($0, "linear_bits_per_weight")
        if (kind != "uniform" && kind != "ewq" && kind != "sensitivity") next
        name = val($0, "name"); lab = f == "null" ? name : name " f=" f
        want[lab] = 1; bpw[lab] = val($0, "linear_bits_per_weight"); kld[lab] = val($0, "kld"); n++; next }
    FNR == NR && /^  \{"factor": .*"seeds": / {   # report.json: the random statistics
        lab = "random mean f=" val($0, "factor"); k = $0; sub(/.*"kld": \{/, "", k)
        want[lab] = 1; rf[lab] = val($0, "factor"); kld[lab] = val(k, "mean"); sd[lab] = val(k, "sd"); n++; next }
    FNR == NR { next }
    /^<line .*text-anchor="end">/ { ny++; yt[ny] = attr($0, "y1"); yl[ny] = label($0) }
    /^<line .*text-anchor="middle">/ { nx++; xt[nx] = attr($0, "x1"); xl[nx] = label($0) }
    /^<path d="M/ { b = $0; sub(/.*V/, "", b); bottom = b + 0 }
    /^<g transform="translate\([0-9.]+ [0-9.]+\)"><title>/ {
        t = $0; sub(/.*<title>/, "", t); sub(/: .*/, "", t); drawn++
        p = $0; sub(/^<g transform="translate\(/, "", p); split(p, xy, /[ )]/); gx[t] = xy[1]; gy[t] = xy[2]
        if ($0 ~ /<line /) { by1[t] = attr($0, "y1"); by2[t] = attr($0, "y2") } }
    END {
        if (nx < 2 || ny < 2) { print "fewer than two ticks on an axis"; exit }
        for (lab in want) {
            if (!(lab in gx)) { printf "%s not drawn; ", lab; continue }
            if (lab in rf) bpw[lab] = ewq_bpw[rf[lab]]
            x = xt[1] + (xt[nx] - xt[1]) * (bpw[lab] - xl[1]) / (xl[nx] - xl[1]); y = ypx(kld[lab])
            if (!near(gx[lab], x) || !near(gy[lab], y)) printf "%s at (%s %s), its numbers say (%.2f %.2f); ", lab, gx[lab], gy[lab], x, y
            if ((lab in rf) && (!near(gy[lab] + by1[lab], ypx(kld[lab] + sd[lab])) ||
                                !near(gy[lab] + by2[lab], ypx(kld[lab] - sd[lab]))))
                printf "%s: bar from %s to %s; ", lab, gy[lab] + by1[lab], gy[lab] + by2[lab]
        }
        if (drawn != n || n != 2 + 3 * 3) printf "%d points drawn, %d in report.json, expected 11", drawn, n }' \
    "$tmp/r1/report.json" "$svg")
report run/frontier-points "$why"
mkdir "$tmp/other" && echo keep >"$tmp/other/notes.txt"
"$EWQ" "${args[@]}" --report "$tmp/other" >/dev/null 2>"$tmp/err"
check run/report-refuses-foreign-folder $( [ $? = 1 ] && [ "$(ls "$tmp/other")" = notes.txt ]; echo $?) "$(cat "$tmp/err")"
: >"$tmp/empty.txt"
"$EWQ" run data/default --text "$tmp/empty.txt" --report "$tmp/r2" >/dev/null 2>&1
check run/no-report-on-failure $( [ ! -e "$tmp/r2" ] && [ "$(ls "$tmp" | grep -c 'r2')" = 0 ]; echo $?) "$(ls "$tmp")"

# --- measured sensitivity, on a model built so that the answer is known: data/default's shapes with outliers
# of 50 standard deviations planted in blocks 0 and 1 (ewq synth). The outliers lower those blocks' entropy, so
# EWQ sends them to int4; they also dominate the residual stream, so that quantizing any later block moves
# the output by a thousandth as much: blocks 0 and 1 are the only sensitive ones, and an allocation by
# measured sensitivity must keep them raw. Its allocation is checked against an exhaustive search over all
# 3^8 tier assignments within the plan's bytes; the inverted control puts int4 on the highest entropies ---
"$EWQ" synth data/default/config.json -o "$tmp/planted" --seed 3 --outliers 0:50,1:50 >/dev/null 2>&1
cp data/default/tokenizer.json "$tmp/planted/"
"$EWQ" run "$tmp/planted" --text data/default/sample.txt --ctx 128 -p 0 -n 0 --sensitivity 2 --json >"$tmp/s.json" \
    2>"$tmp/s.err"
check run/sensitivity-runs $? "$(tail -n 2 "$tmp/s.err")"
list() { grep -o "\"$1\": \\[[^]]*\\]" "$tmp/s.json" | head -n 1 | sed 's/.*\[//; s/\]//; s/,//g'; }
a=$(list block_entropy) k8=$(list kld_int8) k4=$(list kld_int4)
row() { grep "{\"name\": \"$1\"" "$tmp/s.json"; }
blocks() { row "$1" | sed 's/.*"blocks": \[\([^]]*\)\].*/\1/' | tr -d '", ' | sed 's/raw/R/g; s/int8/8/g; s/int4/4/g'; }
check run/sensitivity-planted-only $(awk -v k="$k4" 'BEGIN { n = split(k, v, " "); low = v[1] < v[2] ? v[1] : v[2]
    for (i = 3; i <= n; i++) if (v[i] * 100 > low) exit 1 }'; echo $?) "KLD with one block at int4: $k4"
check run/sensitivity-keeps-planted $( [[ $(blocks sensitivity) == RR* ]] && [[ $(blocks ewq) == 44* ]]; echo $?) \
    "sensitivity $(blocks sensitivity), ewq $(blocks ewq)"
# bytes of one block's linears per tier: the formulas of the weight-bytes check above
best=$(awk -v k8="$k8" -v k4="$k4" -v b0=$raw_l -v b1=$i8_l -v b2=$i4_l -v plan="$(blocks ewq)" 'BEGIN {
    split(k8, s8, " "); split(k4, s4, " "); n = length(plan); cost[0] = b0; cost[1] = b1; cost[2] = b2
    for (i = 1; i <= n; i++) { c = substr(plan, i, 1); budget += c == "R" ? b0 : c == "8" ? b1 : b2 }
    least = -1
    for (x = 0; x < 3 ^ n; x++) {
        y = x; bytes = 0; sum = 0
        for (i = 1; i <= n; i++) { t = y % 3; y = int(y / 3); bytes += cost[t]; sum += t == 1 ? s8[i] : t == 2 ? s4[i] : 0 }
        if (bytes <= budget && (least < 0 || sum < least)) least = sum
    }
    printf "%.12g\n", least }')
got=$(awk -v k8="$k8" -v k4="$k4" -v b="$(blocks sensitivity)" 'BEGIN { split(k8, s8, " "); split(k4, s4, " ")
    for (i = 1; i <= length(b); i++) { c = substr(b, i, 1); sum += c == "8" ? s8[i] : c == "4" ? s4[i] : 0 }
    printf "%.12g\n", sum }')
check run/sensitivity-optimal $( [ "$got" = "$best" ]; echo $?) "allocation's summed sensitivity $got, exhaustive best $best"
check run/sensitivity-within-budget $( [ "$(row sensitivity | sed 's/.*"weight_bytes": \([0-9]*\).*/\1/')" -le \
    "$(row ewq | sed 's/.*"weight_bytes": \([0-9]*\).*/\1/')" ]; echo $?) "sensitivity row holds more bytes than ewq's"
want=$(echo "$a" | tr ' ' '\n' | awk '{ print $1, NR - 1 }' | sort -g -k1,1 -k2,2n | awk '{ print $2 }' |
    awk -v plan="$(blocks ewq)" 'BEGIN { n = length(plan); for (i = 1; i <= n; i++) c[substr(plan, i, 1)]++ }
        { t[$1] = NR <= c["R"] ? "R" : NR <= c["R"] + c["8"] ? "8" : "4" }
        END { for (i = 0; i < n; i++) printf "%s", t[i] }')
check run/inverted $( [ "$(blocks inverted)" = "$want" ]; echo $?) "inverted $(blocks inverted), expected $want"
# Spearman's rho of the reported entropies and int4 sensitivities (no ties here), as the rank formula gives it
rho=$(awk -v a="$a" -v k="$k4" 'BEGIN { n = split(a, x, " "); split(k, y, " ")
    for (i = 1; i <= n; i++) { rx[i] = 1; ry[i] = 1; for (j = 1; j <= n; j++) { rx[i] += x[j] < x[i]; ry[i] += y[j] < y[i] } }
    for (i = 1; i <= n; i++) d += (rx[i] - ry[i]) ^ 2
    printf "%.12f\n", 1 - 6 * d / (n * (n * n - 1)) }')
got=$(grep -o '"spearman_int4": {"rho": [^,]*' "$tmp/s.json" | sed 's/.* //')
check run/sensitivity-spearman $(awk -v a="$rho" -v b="$got" 'BEGIN { exit (a - b > 1e-9 || b - a > 1e-9) }'; echo $?) \
    "rho $got, from the ranks $rho"

# --- data/default's weights are what data/default/README.md says wrote them ---
"$EWQ" synth data/default/config.json -o "$tmp/m" --seed 1 --outliers 1:6,4:12,6:4 >/dev/null 2>&1
cmp -s "$tmp/m/model.safetensors" data/default/model.safetensors
check run/default-model-provenance $? "ewq synth with the documented arguments writes other bytes"
