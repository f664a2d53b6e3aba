#!/usr/bin/env bash
# tests/cuda/emu/hostify.sh IN.cu OUT.cpp — the two pieces of CUDA syntax a C++ compiler cannot take,
# rewritten for the emulation in cuda_runtime.h (everything else is ordinary C++ there):
#   kernel<<<grid, block[, shared bytes]>>>(args)  ->  EMU_LAUNCH((kernel), grid, block[, shared bytes])(args)
#   extern __shared__ T name[];                   ->  T *name = (T *)emu::dyn_smem();
# A launch must fit on one line (every launch in ewq_cuda.cu does); a line with "<<<" that is left
# unrewritten stops the build here rather than as a compiler error in the generated file.
set -eu
in=${1:?usage: hostify.sh IN.cu OUT.cpp} out=${2:?usage: hostify.sh IN.cu OUT.cpp}
sed -E -e 's/([A-Za-z_][A-Za-z_0-9]*(<[A-Za-z_0-9]+>)?)<<<(.*)>>>\(/EMU_LAUNCH((\1), \3)(/' \
       -e 's/extern __shared__ ([A-Za-z_][A-Za-z_0-9 ]*) ([A-Za-z_][A-Za-z_0-9]*)\[\];/\1 *\2 = (\1 *)emu::dyn_smem();/' \
       "$in" > "$out.tmp"
if grep -n '<<<\|extern __shared__' "$out.tmp" >&2; then
    echo "hostify.sh: $in: the line(s) above are not in a form this script rewrites" >&2
    rm -f "$out.tmp"
    exit 1
fi
mv "$out.tmp" "$out"
