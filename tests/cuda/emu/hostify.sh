#!/usr/bin/env bash
# tests/cuda/emu/hostify.sh IN.cu OUT.cpp — the pieces of CUDA syntax a C++ compiler cannot take, rewritten
# for the emulation in cuda_runtime.h (everything else is ordinary C++ there):
#   kernel<<<grid, block[, shared bytes]>>>(args)  ->  EMU_LAUNCH((kernel), grid, block[, shared bytes])(args)
#   extern __shared__ T name[];                   ->  T *name = (T *)emu::dyn_smem();
#   __shared__ T a[N], b[M];                      ->  the same, then emu::static_smem(&a, sizeof a); and b's
#                                                     (static shared memory counts against a block's limit)
# A launch and a static __shared__ declaration must each fit on one line (every one in ewq_cuda.cu does); a
# line with "<<<" that is left unrewritten stops the build here rather than as a compiler error in the
# generated file.
set -eu
in=${1:?usage: hostify.sh IN.cu OUT.cpp} out=${2:?usage: hostify.sh IN.cu OUT.cpp}
sed -E -e 's/([A-Za-z_][A-Za-z_0-9]*(<[A-Za-z_0-9, ]+>)?)<<<(.*)>>>\(/EMU_LAUNCH((\1), \3)(/' \
       -e 's/extern __shared__ ([A-Za-z_][A-Za-z_0-9 ]*) ([A-Za-z_][A-Za-z_0-9]*)\[\];/\1 *\2 = (\1 *)emu::dyn_smem();/' \
       "$in" |
awk '/^[ \t]*__shared__ [^;]*;[ \t]*$/ {
         decl = $0
         sub(/^[ \t]*__shared__[ \t]+/, "", decl); sub(/;[ \t]*$/, "", decl)
         n = split(decl, parts, ",")   # declarators: the name is the identifier that the brackets follow
         calls = ""
         for (i = 1; i <= n; i++) {
             if (!match(parts[i], /[A-Za-z_][A-Za-z_0-9]*[ \t]*(\[.*)?$/)) { print "hostify.sh: " $0 > "/dev/stderr"; exit 1 }
             name = substr(parts[i], RSTART, RLENGTH); sub(/[ \t]*\[.*$/, "", name)
             calls = calls " emu::static_smem(&" name ", sizeof " name ");"
         }
         print $0 calls
         next
     }
     { print }' > "$out.tmp"
if grep -n '<<<\|extern __shared__' "$out.tmp" >&2 || grep -nE '^[[:space:]]*__shared__' "$out.tmp" | grep -v 'emu::static_smem' >&2; then
    echo "hostify.sh: $in: the line(s) above are not in a form this script rewrites" >&2
    rm -f "$out.tmp"
    exit 1
fi
mv "$out.tmp" "$out"
