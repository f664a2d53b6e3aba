# tests/model_edit.sh — sourced by tests that break one thing in a copy of a fixture model (after lib.sh,
# which provides $tmp). Not a test itself (tests/run.sh runs tests/test_*.sh).

# fresh_model FIXTURE NAME: a copy of FIXTURE's config.json and safetensors files in $tmp/NAME, printed
fresh_model() {
    local d=$tmp/$2
    rm -rf "$d" && mkdir -p "$d" && cp "$1"/config.json "$1"/*.safetensors* "$d/" && echo "$d"
}

# the byte offset in MODEL/model.safetensors where tensor NAME's data starts
tensor_offset() {   # MODEL NAME
    local f=$1/model.safetensors hlen begin
    hlen=$(od -An -tu8 -N8 "$f" | tr -d ' ')
    begin=$(head -c $((8 + hlen)) "$f" | tail -c +9 | grep -o "\"$2\":{[^}]*}" |
        sed 's/.*"data_offsets":\[\([0-9]*\),.*/\1/')
    echo $((8 + hlen + begin))
}

# put_f32 MODEL NAME ELEMENT COUNT BYTES: writes the 4 bytes BYTES (printf escapes) COUNT times into the
# F32 tensor NAME from element ELEMENT on
put_f32() {
    local at i
    at=$(($(tensor_offset "$1" "$2") + 4 * $3))
    for ((i = 0; i < $4; i++)); do printf "$5"; done | dd of="$1/model.safetensors" bs=1 seek="$at" conv=notrunc 2>/dev/null
}

# u64le N: N as 8 little-endian bytes (N < 2^32)
u64le() {
    printf "$(printf '\\x%02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)) 0 0 0 0)"
}

# rewrite_header MODEL SED_SCRIPT: MODEL/model.safetensors with its JSON header passed through sed, padded
# with spaces to a multiple of 8 bytes (so F32 data stays aligned), the length and the data as before
rewrite_header() {
    local f=$1/model.safetensors hlen n
    hlen=$(od -An -tu8 -N8 "$f" | tr -d ' ')
    head -c $((8 + hlen)) "$f" | tail -c +9 | sed "$2" >"$f.header"
    n=$(wc -c <"$f.header")
    printf '%*s' $(((8 - n % 8) % 8)) '' >>"$f.header"
    { u64le $(((n + 7) / 8 * 8)); cat "$f.header"; tail -c +$((9 + hlen)) "$f"; } >"$f.new"
    mv "$f.new" "$f" && rm "$f.header"
}
