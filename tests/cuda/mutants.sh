#!/usr/bin/env bash
# tests/cuda/mutants.sh EMU_DIR — proves that the emulated CUDA test can fail. Each mutation below is a
# bug of a kind a GPU kernel (or the host code launching it) gets wrong; it is applied (sed) to a copy of
# ewq_cuda.cu, which is built through the emulation like `make test-cuda-emu` builds the real one, and
# `test_cuda --quick --fail-fast` must then fail: a FAIL line, an abort of the emulation (barrier, deadlock,
# shared-memory overrun), or a crash. Prints "PASS mutant/NAME: caught (...)" or "FAIL mutant/NAME:
# survived" / "no longer applies" (ewq_cuda.cu changed: update the pattern). Run by `make
# test-cuda-mutants`, which passes the C++ compiler and flags of the emulated build in CXX, CXXFLAGS and
# LDLIBS; EMU_DIR holds its lib.o and test_cuda.o. JOBS mutants at a time (default: the number of CPUs).
set -u
emu=${1:?usage: mutants.sh EMU_DIR}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 1)}

# name | sed expression (extended syntax) | what it breaks
mutants=(
'key-off-by-one|s/kv = \*\(const float4 \*\)\(kh \+ k \* kvd \+ i\)/kv = *(const float4 *)(kh + (k + 1) * kvd + i)/|prefill attention stages the key one position later'
'attention-no-rescale|s/for \(int c = 0; c < ATTN_DIM_MAX \/ 8; c\+\+\) o\[e\]\[c\] \*= rescale;//|prefill attention keeps the output of earlier steps unscaled when a step raises the maximum'
'attention-no-mask|s/k >= first \&\& k <= p \? s/k >= first ? s/|prefill attention lets a position see the later keys of its step (no causal mask)'
'no-syncthreads|0,/^        __syncthreads\(\);$/s///|the tiled product computes before its shared tiles are complete'
'no-syncwarp|s/    __syncwarp\(\);//|qkv_finish rotates values other lanes have not written yet'
'shared-too-small|s/32, sizeof\(float\) \* d>>>/32, sizeof(float) * (d \/ 2)>>>/|qkv_finish gets half the shared memory it writes'
'attention-scale|s/float scale = 1\.0f \/ sqrtf\(\(float\)d\), m\[4\]/float scale = 1.0f \/ (float)d, m[4]/|prefill attention scales its scores by 1 over d, not 1 over sqrt(d)'
'matvec-no-syncthreads|s/__syncthreads\(\);   \/\* every piece sum/\/* every piece sum/|the int4 decode product reads the sums of x before other threads have written them'
'matvec-min-sum|s/xsum \+= psum\[u \* U \+ g\]/xsum += psum[u * U]/|the int4 decode product applies the minimum to the sum of the first piece of each group only'
'matvec-group-index|s/u \* N \/ m\.group;/u;/|the piece-by-piece decode product takes each piece as its own group'
'int4-nibble-order|s/x\[0\], acc\), acc = fmaf\(low_byte_value<0>\(hi, magic\), x\[1\]/x[1], acc), acc = fmaf(low_byte_value<0>(hi, magic), x[0]/|the int4 decode product swaps the two codes of byte 0 of each word'
'dec-first-share|s/for \(int p = 1; p < parts; p\+\+\)/for (int p = 1; p < 1; p++)/|a decode product whose warps split the columns of its rows keeps the first warp'"'"'s share of each row only'
'dec-shares-unsynced|/share\[warp\]\[0\]\[i\] = acc\[i\]/,/__syncthreads/s/__syncthreads\(\);//|a decode product adds its warps'"'"' shares before every warp has written its own'
'dec-units-stride|s/u < m\.cols \/ N \/ U; u \+= 32 \* parts/u < m.cols \/ N \/ U; u += 32/|each warp of a decode product that splits the columns takes every unit from its own on, not every parts-th'
'decode-no-cache-write|s/if \(has_new \&\& h % \(a\.heads \/ a\.kv_heads\) == 0\)/if (0)/|decode attention never writes the new key and value to the cache'
'grid-barrier-no-wait|s/while \(\*\(volatile int \*\)count < \(int\)gridDim\.x\) __nanosleep\(64\);//|attention_o_proj starts o_proj before every attention item is done (grid_barrier does not wait)'
'grid-barrier-no-reset|s/if \(atomicAdd\(count \+ 1, 1\) == \(int\)gridDim\.x - 1\) count\[0\] = count\[1\] = 0;//|grid_barrier never resets its count, so the next launch does not wait'
'decode-values-first-warp|s/for \(int w = 1; w < ATTN_O_WARPS; w\+\+\) sum_w/for (int w = 1; w < 1; w++) sum_w/|decode attention keeps the weighted values of its first warp'"'"'s keys only'
'decode-values-stride|s/for \(int k = k0 \+ warp; k < k1; k \+= ATTN_O_WARPS\)/for (int k = k0 + warp; k < k1; k++)/|each warp of decode attention weighs every value from its first key on, not every fourth'
'decode-ticket-count|s/\*last = atomicAdd\(a\.arrived \+ h, 1\) == s1 - s0;/*last = atomicAdd(a.arrived + h, 1) == s1 - s0 + 1;/|decode attention counts one split too many, so no block combines the partials'
'decode-norm-mean|s/inv = 1\.0f \/ sqrtf\(block_reduce\(ss, 0\) \/ \(float\)cols \+ eps\)/inv = 1.0f \/ sqrtf(block_reduce(ss, 0) + eps)/|the RMSNorm folded into the decode products divides by the sum of squares, not their mean'
'group-scale|s/float s = __half2float\(__ldg\(m\.scale \+ g\)\)/float s = __half2float(__ldg(m.scale + (size_t)r * m.ng))/|per-value dequantization uses the scale of the first group of the row for all groups'
'mma-fragment-layout|s/ah\[i\]\[1\] = wh\[r \+ 8\]\[kw \+ q\], ah\[i\]\[2\] = wh\[r\]\[kw \+ 4 \+ q\]/ah[i][1] = wh[r][kw + 4 + q], ah[i][2] = wh[r + 8][kw + q]/|the tensor-core product puts rows g + 8 where the PTX ISA puts columns 2t + 8 (A fragment registers 1 and 2 swapped)'
'mma-no-syncthreads|/split_bf16\(xv, xh/,/__syncthreads/s/__syncthreads\(\);//|the tensor-core product loads fragments before the staged tiles are complete'
'mma-int4-min-position|s/xsum\[wp \+ 8 \* j \+ 2 \* q \+ e % 2\]/xsum[wp + 8 * j + 2 * q]/|the tensor-core int4 product applies the minimum with the sum of x of the wrong position'
'mma-no-activation-lo|s/bl\[j\]\[0\] = xl\[p\]\[kw \+ q\], bl\[j\]\[1\] = xl\[p\]\[kw \+ 4 \+ q\]/bl[j][0] = 0, bl[j][1] = 0/|the tensor-core product drops the low bf16 half of the activations (bf16 activations only)'
'mma-copy-not-waited|s/cp_async_wait<1>\(\);/cp_async_wait<2>();/|the tensor-core product converts a step before its cp.async copies have landed (waits for none)'
'mma-copy-into-stage-read|s/slots \+ \(step \+ 1\) % MMA_STAGES/slots + step % MMA_STAGES/|the tensor-core product issues the next step'"'"'s copies into the stage it is about to convert'
'attention-smem-by-context|s/ATTN_THREADS, attention_smem\(d\)>>>/ATTN_THREADS, attention_smem(d) + sizeof(float) * (pos + n)>>>/|prefill attention asks for shared memory that grows with the positions it sees'
'attention-limit-unset|s/CUDA_TRY\(cudaFuncSetAttribute\(attention, /if (0) CUDA_TRY(cudaFuncSetAttribute(attention, /|the prefill attention keeps the default 48 KiB limit, under what heads of 128 columns ask for'
'attention-grid-truncated|s/\(n \+ ATTN_ROWS - 1\) \/ ATTN_ROWS/n \/ ATTN_ROWS/|the prefill attention launches no block for the positions past the last full tile of 64'
'argmax-tie-highest|s/\(w == v \&\& j < i\)/(w == v \&\& j > i)/|the device argmax breaks ties between threads towards the highest id'
'argmax-finite-unchecked|s/nonfinite .= k \+ e < n \&\& !isfinite\(y\[e\]\);//|the device argmax never reports a logit that is not finite'
'nll-float-difference|s/e \+= exp\(\(double\)row\[i\] - mx\)/e += exp((double)(row[i] - (float)mx))/|the device perplexity subtracts the maximum in float, not in double as the CPU does'
'nll-own-token|s/s->next, tokens \+ done \+ 1,/s->next, tokens + done,/|the device perplexity scores the token at each position instead of the next one'
'nll-pass-edge|s/rows = done \+ m < n \? m : m - 1;/rows = m - 1;/|the device perplexity drops the last position of every pass, not of the last one only'
'nll-finite-unchecked|s/\*odd .= !isfinite\(v\);//|the device perplexity never reports a logit that is not finite'
'tiers-graph-kept|s/if \(changed \&\& s->graph\) \{/if (changed \&\& s->graph \&\& 0) {/|a change of the weights p->linear names keeps the decode step captured with the old ones'
'tiers-first-held|s/if \(same_matrix\(\&h\[j\]\.host, \&p->linear\[i\]\)\) continue;/continue;/|every call runs the weights the backend was made with, whatever p->linear names now'
'tiers-held-twice|s/if \(j < s->n_held\[i\]\) continue;//|an alternative'"'"'s matrix is uploaded again though p or an earlier alternative holds it'
'kl-direction|s/d \+= exp\(lp\) \* \(lp - lq\);/d += exp(lq) * (lq - lp);/|the device KL divergence is taken from the model to the reference, not from the reference to the model'
'kl-reference-row-late|s/s->ref_logits \+ \(size_t\)done \* vocab, s->logits,/s->ref_logits + (size_t)done * vocab, s->logits + vocab,/|the reference is kept one position late, so each position is scored against the next one'"'"'s'
'kl-reference-pass-offset|s/const float \*ref = against \? s->ref_logits \+ \(size_t\)done \* vocab : NULL;/const float *ref = against ? s->ref_logits : NULL;/|a second pass of the scored positions is scored against the reference'"'"'s first rows'
'kl-agree-always|s/agree\[blockIdx\.x\] = top == rtop;/agree[blockIdx.x] = 1;/|the device top-1 agreement counts every position as agreeing'
'no-sync-mode|s/if \(e == cudaSuccess \&\& sync_each_launch\) e = cudaDeviceSynchronize\(\);//|EWQ_CUDA_SYNC=1 does not wait for each kernel, so a fault names none'
)

one() {   # name, expression, what: prints the PASS or FAIL line
    local name=$1 expr=$2 what=$3 dir=$emu/mutants/$1
    mkdir -p "$dir"
    sed -E "$expr" ewq_cuda.cu >"$dir/ewq_cuda.cu"
    if cmp -s ewq_cuda.cu "$dir/ewq_cuda.cu"; then
        echo "FAIL mutant/$name: no longer applies to ewq_cuda.cu ($what)"
        return
    fi
    # shellcheck disable=SC2086   # CXXFLAGS and LDLIBS are lists of words
    if ! { bash tests/cuda/emu/hostify.sh "$dir/ewq_cuda.cu" "$dir/ewq_cuda.cpp" &&
           $CXX $CXXFLAGS -c -o "$dir/ewq_cuda.o" "$dir/ewq_cuda.cpp" &&
           $CXX $CXXFLAGS -o "$dir/test_cuda" "$emu/test_cuda.o" "$emu/lib.o" "$dir/ewq_cuda.o" $LDLIBS; } \
         >"$dir/build.log" 2>&1; then
        echo "FAIL mutant/$name: does not build: $(grep -m1 error "$dir/build.log")"
        return
    fi
    timeout 300 "$dir/test_cuda" --quick --fail-fast >"$dir/test.log" 2>&1
    local rc=$? first
    first=$(grep -m1 -E '^FAIL |^emu: |ERROR' "$dir/test.log")
    if [ $rc -ne 0 ] && [ $rc -ne 124 ]; then echo "PASS mutant/$name: caught ($what): ${first:-exit status $rc}"
    else echo "FAIL mutant/$name: survived ($what; exit status $rc)"
    fi
}

i=0
for m in "${mutants[@]}"; do
    IFS='|' read -r name expr what <<<"$m"
    one "$name" "$expr" "$what" >"$emu/mutant-$i.line" &
    i=$((i + 1))
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
done
wait
for ((k = 0; k < i; k++)); do cat "$emu/mutant-$k.line"; done
