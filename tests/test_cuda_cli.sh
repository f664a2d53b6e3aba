#!/usr/bin/env bash
# --backend cuda where it cannot run: without a usable GPU (or in a CPU-only build) ppl, generate and
# bench fail at once with one "ewq: cuda: ..." line, exit 1 and print nothing on stdout; a bad
# --backend value is a usage error. On a machine with a GPU the refusals are skipped (make test-cuda
# covers that case). Run by tests/run.sh (EWQ = the binary under test).
set -u
. "$(dirname "$0")/lib.sh"
F=data/fixtures/llama3-f32

seq 1 64 | tr '\n' ' ' >"$tmp/ids.tokens"
expect_exit cuda-cli/bad-backend 2 "--backend wants cpu or cuda, got 'gpu'" "$EWQ" bench $F --backend gpu
expect_exit cuda-cli/missing-backend 2 "--backend" "$EWQ" bench $F --backend

gpu=$("$EWQ" --version | sed -n 's/^CUDA: //p')
case "$gpu" in
*"compute capability"*)
    echo "SKIP cuda-cli/no-gpu: a GPU is usable here ($gpu); make test-cuda runs the GPU tests" ;;
*)
    expect_exit cuda-cli/bench-no-gpu 1 "ewq: cuda: " "$EWQ" bench $F --backend cuda -p 8 -n 8
    expect_exit cuda-cli/ppl-no-gpu 1 "ewq: cuda: " "$EWQ" ppl $F --backend cuda --tokens "$tmp/ids.tokens" --ctx 16
    expect_exit cuda-cli/generate-no-gpu 1 "ewq: cuda: " "$EWQ" generate $F --backend cuda --ids 1 -n 4
    expect_exit cuda-cli/plan-with-no-gpu 1 "ewq: cuda: " "$EWQ" bench $F --backend cuda --uniform int4
    expect_exit cuda-cli/run-no-gpu 1 "ewq: cuda: " "$EWQ" run $F --backend cuda --tokens "$tmp/ids.tokens" --ctx 16 ;;
esac
