/* ewq_cuda.cu — the GPU backend behind the interface in ewq.h: hand-written CUDA, no CUDA libraries.
 *
 * It computes what the CPU backend computes (ewq.h, "Backend interface"), with float32 activations:
 *   upload    every weight in its packed format of ewq.h (no other layout), and with ewq_cuda_init_tiers the
 *             block linears of other tiers too, each distinct matrix once (each call then runs those that
 *             p->linear names); norm weights and biases as float32; the RoPE tables of the CPU backend
 *             (ewq_rope_tables); a float32 KV cache [layer][position][kv_heads * head_dim]; all device memory
 *             is allocated here, none later
 *   decode    one position is one CUDA graph (captured at the first, replayed with the token and position
 *             read from device memory), 4 kernels per layer: q/k/v products with the RMSNorm folded in;
 *             attention with bias, q/k norm, RoPE and the KV-cache write folded in, flash-decoding (256
 *             keys per work item, partials combined by the last item of each head), then, after a
 *             grid-wide barrier in the same kernel (its grid all resident at once), o_proj with the
 *             residual; gate and up with the RMSNorm and SiLU(gate) * up folded in; down with the
 *             residual. The products are built for the memory bound: 4 rows per warp, a group of 64
 *             values per lane (int8/int4: scale and minimum loaded once, s * sum q x + min * sum x),
 *             16-byte streaming weight loads, 8 or more in flight per lane, the input in shared memory,
 *             codes turned into floats by byte permutations and I2F (make cuda-report counts the SASS);
 *             greedy decoding's next_token chooses the id on the device (argmax_logits) and copies two ints
 *             down instead of the logits
 *   prefill   matrix products on the tensor cores (mma.sync m16n8k16, bf16 operands, float32 sums; 64
 *             rows x 64 positions per block of 4 warps): activations split into bf16 hi + lo, int8/int4
 *             codes and bf16 weights exact in bf16, f16/f32 weights split as well, group scale and minimum
 *             applied in float32 per 64 columns (s * sum q x + min * sum x); quantization groups that are
 *             not a multiple of 64 columns take a shared-memory tiled float32 product instead;
 *             embedding lookup, RMSNorm, one kernel for bias + q/k RMSNorm + RoPE + KV-cache write,
 *             causal grouped-query attention flash-attention style (64 positions of a head per block,
 *             keys and values staged 32 at a time in shared memory sized by the head width alone, online
 *             softmax), SiLU(gate) * up; the residual adds are fused into the o_proj and down products
 *             (out += W x)
 *   perplexity score, after a prefill, computes each position's negative log-likelihood on the device
 *             (score_rows) and copies one double per position down instead of its logits (512 KB at a
 *             vocabulary of 128k); score_ref also keeps a reference's logits on the device (ewq run's raw
 *             model, once per chunk) and scores the KL divergence from it and the top-1 agreement there
 * The tiled prefill and per-value paths dequantize as the CPU does (int4: min + scale * q as two roundings,
 * no fused multiply-add), so weights agree bit for bit and sums differ only in their order; the decode and
 * tensor-core products apply scale and minimum to a group's sums instead, and the tensor-core one rounds
 * activations (and f32 weights) to 16 significant bits, which differ from the CPU in rounding only.
 * Every CUDA call and launch is checked; a failure becomes one ewq_err line "cuda: ...". A fault inside a
 * kernel surfaces at a later call; with EWQ_CUDA_SYNC=1 every launch is waited for and the kernel named.
 * A forward call of more than CHUNK positions runs in chunks, which causal attention makes exact.
 */
#include "ewq.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 512      /* positions per pass: activations and device logits are sized for this many */
#define TILE 64        /* tiled product: rows and positions per block */
#define TILE_K 16      /* tiled product: columns staged in shared memory per step */
#define MMA_ROWS 64    /* tensor-core product: rows per block of 4 warps (each 32 rows x 32 positions) */
#define MMA_POS 64     /* tensor-core product: positions per block */
#define MMA_COLS 64    /* tensor-core product: columns staged per step, one quantization group or part of one */
#define MMA_THREADS 128   /* tensor-core product: 4 warps per block */
#define MMA_STAGES 2   /* tensor-core product: steps whose copies are in shared memory at once (double buffering) */
#define MMA_WORDS (MMA_COLS / 2 + 4)   /* a staged row: 32-bit words of two bf16, padded so that the 32 lanes
                                        * of a fragment load (rows g, words t) meet 32 different banks */
#define MATVEC_WARPS 8  /* decode products: warps per block */
#define MATVEC_ROWS 4   /* decode products: rows per warp (a row group; a block's warps split its groups' columns) */
#define ATTN_O_WARPS 4  /* attention_o_proj: warps per block */
#define ATTN_THREADS 128
#define ATTN_ROWS 64       /* prefill attention: positions per block (4 per thread row of 16 x 8 threads) */
#define ATTN_KEYS 32       /* prefill attention: keys staged per step (4 per thread) */
#define ATTN_DIM_MAX 128   /* the widest head (prefill attention: 16 output columns per thread; decode: 4 per lane) */
static_assert(ATTN_THREADS == 128 && ATTN_ROWS == 64 && ATTN_KEYS % 8 == 0, "attention's thread layout: 16 x 8");
#define SPLIT_KEYS 256  /* decode attention: keys per block */
#define ARGMAX_THREADS 1024   /* argmax_logits: a vocabulary of 128k takes 32 loads of 16 bytes per thread */
#define NLL_THREADS 512       /* score_rows: threads per row of logits */

/* ===================================================================================================
 * Errors: every runtime call checked, every launch followed by cudaGetLastError
 * =================================================================================================== */

#define CUDA_TRY(call)                                                                                     \
    do {                                                                                                   \
        cudaError_t e_ = (call);                                                                           \
        if (e_ != cudaSuccess) return ewq_fail(err, "cuda", "%s: %s", #call, cudaGetErrorString(e_));       \
    } while (0)

/* EWQ_CUDA_SYNC=1 (read by each ewq_cuda_init): wait for every kernel to finish, so that a fault inside
 * one is reported with its name; otherwise it surfaces at a later call (a cudaMemcpy) naming none. */
static int sync_each_launch;

/* After a launch: its own error (bad configuration, no kernel image) and, in EWQ_CUDA_SYNC mode, its
 * execution's. */
static int launched(const char *name, ewq_err *err) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && sync_each_launch) e = cudaDeviceSynchronize();
    if (e != cudaSuccess) return ewq_fail(err, "cuda", "kernel %s: %s", name, cudaGetErrorString(e));
    return 0;
}
/* LAUNCH(name, kernel<<<...>>>(...)): the launch, then its error */
#define LAUNCH(name, ...)                                                                                  \
    do {                                                                                                   \
        __VA_ARGS__;                                                                                       \
        if (launched(name, err)) return -1;                                                                \
    } while (0)

static int no_gpu(ewq_err *err) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return ewq_fail(err, "cuda", "no usable GPU (%s)", cudaGetErrorString(e));
    if (count == 0) return ewq_fail(err, "cuda", "no usable GPU (0 devices)");
    return 0;
}

int ewq_cuda_describe(char *buf, size_t n) {
    ewq_err err;
    cudaDeviceProp p;
    if (no_gpu(&err)) {
        snprintf(buf, n, "built in, but %s", err.msg + strlen("cuda: "));
        return -1;
    }
    if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
        snprintf(buf, n, "built in, but device 0 cannot be queried");
        return -1;
    }
    snprintf(buf, n, "%s, compute capability %d.%d, %.1f GiB", p.name, p.major, p.minor,
             p.totalGlobalMem / 1073741824.0);
    return 0;
}

/* ===================================================================================================
 * Weights on the device: ewq.h's formats, read by column (any shape) or 16 bytes at a time
 * =================================================================================================== */

enum { FMT_F32, FMT_F16, FMT_BF16, FMT_INT8, FMT_INT4 };

/* values in 16 bytes of each format */
__host__ __device__ constexpr int per16(int fmt) {
    return fmt == FMT_F32 ? 4 : fmt == FMT_INT8 ? 16 : fmt == FMT_INT4 ? 32 : 8;
}

__host__ __device__ constexpr size_t row_bytes(int fmt, int cols) {
    return fmt == FMT_F32 ? 4 * (size_t)cols : fmt == FMT_INT8 ? (size_t)cols
         : fmt == FMT_INT4 ? ((size_t)cols + 1) / 2 : 2 * (size_t)cols;
}

typedef struct dmat {
    int fmt, rows, cols, group, ng;   /* group, ng: int8/int4 only */
    const void *w;                    /* raw values, int8 values or int4 pairs, rows of row_bytes */
    const __half *scale, *min;        /* [rows * ng] */
    int vec;                          /* every 16 bytes of a row start aligned and lie in one group */
} dmat;

__device__ __forceinline__ float bf16_value(unsigned h) { return __uint_as_float(h << 16); }
__device__ __forceinline__ float f16_value(unsigned h) { return __half2float(__ushort_as_half((unsigned short)h)); }
/* min + scale * q in two roundings, as ewq.h writes it and the CPU computes it */
__device__ __forceinline__ float int4_value(float mn, float s, float q) { return __fadd_rn(mn, __fmul_rn(s, q)); }

/* The value stored at row r, column c: raw formats the weight, int8/int4 the code q. */
template <int F> __device__ __forceinline__ float stored_at(const dmat &m, int r, int c) {
    size_t i = (size_t)r * m.cols + c;
    if (F == FMT_F32) return __ldg((const float *)m.w + i);
    if (F == FMT_F16) return f16_value(__ldg((const unsigned short *)m.w + i));
    if (F == FMT_BF16) return bf16_value(__ldg((const unsigned short *)m.w + i));
    if (F == FMT_INT8) return (float)__ldg((const signed char *)m.w + i);
    unsigned b = __ldg((const unsigned char *)m.w + (size_t)r * row_bytes(F, m.cols) + c / 2);
    return (float)(c & 1 ? b >> 4 : b & 15);
}

/* The weight at row r, column c, dequantized as the CPU does. */
template <int F> __device__ __forceinline__ float weight_at(const dmat &m, int r, int c) {
    if (F < FMT_INT8) return stored_at<F>(m, r, c);
    size_t g = (size_t)r * m.ng + c / m.group;
    float s = __half2float(__ldg(m.scale + g));
    if (F == FMT_INT8) return s * stored_at<F>(m, r, c);
    return int4_value(__half2float(__ldg(m.min + g)), s, stored_at<F>(m, r, c));
}

/* Stored codes to float32 exactly, cheaply (the decode products are bound by instructions per weight):
 * a byte holding 0..255 becomes the float 2^23 + byte when it is the low byte under the exponent byte 0x4B
 * (one byte permutation), and 2^23 is subtracted (one FADD); byte 0 goes through I2F, which has its own
 * pipe, so a quarter of the conversions leave the FMA and integer pipes alone. */
template <int B> __device__ __forceinline__ float low_byte_value(unsigned v, unsigned magic) {
#ifdef __CUDA_ARCH__
    float f;
    unsigned r;
    if (B == 0) {
        asm("cvt.rn.f32.u8 %0, %1;" : "=f"(f) : "r"(v));
        return f;
    }
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(v), "r"(magic), "n"(0x7650 | B));
    return __uint_as_float(r) - 8388608.0f;
#else
    return B == 0 ? (float)(v & 0xff) : __uint_as_float(__byte_perm(v, magic, 0x7650 | B)) - 8388608.0f;
#endif
}
/* Byte B of v as a signed integer, to float32: byte 0 by I2F, which reads it in place; the others by one
 * PRMT in its sign-replicating mode (selector nibbles with bit 3 set copy the sign of byte B; __byte_perm
 * does not offer it) and the full-rate integer conversion. */
template <int B> __device__ __forceinline__ float signed_byte_value(unsigned v) {
#ifdef __CUDA_ARCH__
    float f;
    int r;
    if (B == 0) {
        asm("cvt.rn.f32.s8 %0, %1;" : "=f"(f) : "r"(v));
        return f;
    }
    asm("prmt.b32 %0, %1, 0, %2;" : "=r"(r) : "r"(v), "n"(B | (B | 8) << 4 | (B | 8) << 8 | (B | 8) << 12));
    return (float)r;
#else
    return (float)(signed char)(v >> 8 * B);
#endif
}

/* Word k of v, for k a constant after unrolling */
__device__ __forceinline__ unsigned word_of(uint4 v, int k) { return k == 0 ? v.x : k == 1 ? v.y : k == 2 ? v.z : v.w; }

/* The dot product of the per16(F) / 4 values packed in the 32-bit word w with x[0..): raw formats their
 * values, int8/int4 their codes q (the caller applies the group's scale and minimum: s * sum q x + min * sum x). */
template <int F> __device__ __forceinline__ float dot_word(unsigned w, const float *x, float acc, unsigned magic) {
    if (F == FMT_F32) {
        acc = fmaf(__uint_as_float(w), x[0], acc);
    } else if (F == FMT_F16 || F == FMT_BF16) {
        float a = F == FMT_BF16 ? __uint_as_float(w << 16) : f16_value(w & 0xffff);
        float b = F == FMT_BF16 ? __uint_as_float(w & 0xffff0000u) : f16_value(w >> 16);
        acc = fmaf(b, x[1], fmaf(a, x[0], acc));
    } else if (F == FMT_INT8) {   /* 4 signed bytes, byte 0 first */
        acc = fmaf(signed_byte_value<0>(w), x[0], acc);
        acc = fmaf(signed_byte_value<1>(w), x[1], acc);
        acc = fmaf(signed_byte_value<2>(w), x[2], acc);
        acc = fmaf(signed_byte_value<3>(w), x[3], acc);
    } else {   /* 8 codes, the low nibble of each byte first: the bytes of lo are codes 0, 2, 4, 6 */
        unsigned lo = w & 0x0f0f0f0fu, hi = w >> 4 & 0x0f0f0f0fu;
        acc = fmaf(low_byte_value<0>(lo, magic), x[0], acc), acc = fmaf(low_byte_value<0>(hi, magic), x[1], acc);
        acc = fmaf(low_byte_value<1>(lo, magic), x[2], acc), acc = fmaf(low_byte_value<1>(hi, magic), x[3], acc);
        acc = fmaf(low_byte_value<2>(lo, magic), x[4], acc), acc = fmaf(low_byte_value<2>(hi, magic), x[5], acc);
        acc = fmaf(low_byte_value<3>(lo, magic), x[6], acc), acc = fmaf(low_byte_value<3>(hi, magic), x[7], acc);
    }
    return acc;
}

/* ===================================================================================================
 * Kernels
 * =================================================================================================== */

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Sum (or maximum) over the block; every thread gets the result. */
__device__ float block_reduce(float v, int is_max) {
    __shared__ float part[32];
    for (int o = 16; o; o /= 2) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, w) : v + w;
    }
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
    __syncthreads();
    v = part[0];
    for (int i = 1; i < (int)(blockDim.x + 31) / 32; i++) v = is_max ? fmaxf(v, part[i]) : v + part[i];
    __syncthreads();   /* part is reused by the next call */
    return v;
}

/* Decode, the share of one warp of the rows r0 .. r0 + MATVEC_ROWS - 1 of W x: the units (below) part,
 * part + parts, part + 2 parts, ... of 32 lanes each, so that `parts` warps split a row group's columns; x
 * (and int4's sums of x over each 32-value piece) in shared memory. Every lane returns the share's sums.
 * Rows whose 16-byte pieces are aligned and stay inside one group (every shape of real models) take units
 * of G consecutive pieces: a lane loads a unit of all its rows at once (MATVEC_ROWS * G independent 16-byte
 * loads in flight, streaming: weights are read once per token) and applies a quantized unit's scale (and
 * minimum) once, s * sum q x + min * sum x; each 4 bytes' values of x are read once for all the rows.
 * With G * per16(F) equal to the group (64: int8 G = 4, int4 G = 2) a unit is a group; G = 1 serves any
 * group size that 16 bytes divide; G = 0 is the per-value path for every other shape (units of one value),
 * each weight dequantized as the CPU does. */
template <int F, int G> __device__ __forceinline__ void matvec_rows(const dmat &m, const float *xs, const float *psum,
                                                                    int r0, int part, int parts, float acc[MATVEC_ROWS]) {
    constexpr int N = per16(F), R = MATVEC_ROWS, Q = F == FMT_INT8 || F == FMT_INT4;
    int lane = threadIdx.x % 32, ri[R];
#pragma unroll
    for (int r = 0; r < R; r++) {   /* rows past the end repeat the last one; the caller stores none of them */
        ri[r] = r0 + r < m.rows ? r0 + r : m.rows - 1;
        acc[r] = 0;
    }
    if (G == 0) {
        for (int c = lane + 32 * part; c < m.cols; c += 32 * parts)
#pragma unroll
            for (int r = 0; r < R; r++) acc[r] = fmaf(weight_at<F>(m, ri[r], c), xs[c], acc[r]);
    } else {
        constexpr int U = G > 0 ? G : 1;   /* pieces per unit */
        const uint4 *row[R];
#pragma unroll
        for (int r = 0; r < R; r++) row[r] = (const uint4 *)((const char *)m.w + (size_t)ri[r] * row_bytes(F, m.cols));
        /* int4's exponent byte, in a register: as a visible constant, ptxas makes it PRMT's immediate and
         * moves each byte selector into a register instead (one more instruction per code); rows >> 31 is 0 */
        unsigned magic = 0x4b000000u | (unsigned)m.rows >> 31;
        for (int u = lane + 32 * part; u < m.cols / N / U; u += 32 * parts) {
            uint4 w[R][U];
#pragma unroll
            for (int r = 0; r < R; r++)
#pragma unroll
                for (int g = 0; g < U; g++) w[r][g] = __ldcs(row[r] + u * U + g);
            float d[R];
#pragma unroll
            for (int r = 0; r < R; r++) d[r] = Q ? 0.0f : acc[r];
#pragma unroll
            for (int g = 0; g < U; g++)
#pragma unroll
                for (int k = 0; k < 4; k++) {   /* a word of each row at a time: N / 4 values of x in registers */
                    const float *xk = xs + (size_t)(u * U + g) * N + k * (N / 4);
                    float x[N / 4];
#pragma unroll
                    for (int j = 0; j < N / 4; j++) x[j] = xk[j];
#pragma unroll
                    for (int r = 0; r < R; r++) d[r] = dot_word<F>(word_of(w[r][g], k), x, d[r], magic);
                }
            if (!Q) {
#pragma unroll
                for (int r = 0; r < R; r++) acc[r] = d[r];
                continue;
            }
            float xsum = 0;
            if (F == FMT_INT4)
#pragma unroll
                for (int g = 0; g < U; g++) xsum += psum[u * U + g];
            int group = U > 1 ? u : u * N / m.group;
#pragma unroll
            for (int r = 0; r < R; r++) {
                size_t gi = (size_t)ri[r] * m.ng + group;
                acc[r] = fmaf(__half2float(__ldg(m.scale + gi)), d[r], acc[r]);
                if (F == FMT_INT4) acc[r] = fmaf(__half2float(__ldg(m.min + gi)), xsum, acc[r]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = warp_sum(acc[r]);
}

/* A decode product: one to three matrices of the same format and unit (q, k, v) applied to one input, or
 * gate and up with SiLU(gate) * up as the output (glu). */
typedef struct dec_job {
    dmat m;
    float *out;
    int add, blocks;   /* add: out += W x (the residual); blocks: this job's share of the grid */
    int parts;         /* warps that split each row group's columns, a power of two (dec_parts) */
} dec_job;
typedef struct dec_args {
    dec_job job[3];
    int jobs, glu;           /* glu: job[0] gate, job[1] up (its blocks and out unused), out = SiLU(gate) * up */
    const float *x, *norm;   /* norm: x is RMS-normalized with this weight first (NULL: x as it is) */
    int cols;
    float eps;
} dec_args;

/* A decode product's input staged in shared memory: xs[cols] = x, RMS-normalized as the rmsnorm kernel does
 * it when a norm weight is given (the norm runs once per block instead of once more per layer); then, for
 * int4 by units, psum[cols / 32] = the sums of its 32-value pieces. */
template <int F, int G> __device__ __forceinline__ void stage_input(const float *x, const float *norm, int cols, float eps,
                                                                    float *xs, float *psum) {
    float inv = 1;
    if (norm) {
        float ss = 0;
        for (int i = threadIdx.x; i < cols; i += blockDim.x) ss += x[i] * x[i];
        inv = 1.0f / sqrtf(block_reduce(ss, 0) / (float)cols + eps);
    }
    for (int i = threadIdx.x; i < cols; i += blockDim.x) xs[i] = norm ? norm[i] * (x[i] * inv) : x[i];
    __syncthreads();
    if (F == FMT_INT4 && G > 0) {
        for (int p = threadIdx.x; p < cols / 32; p += blockDim.x) {
            float sum = 0;
            for (int j = 0; j < 32; j++) sum += xs[32 * p + j];
            psum[p] = sum;
        }
        __syncthreads();   /* every piece sum written before any is read */
    }
}

/* The rows r0 .. r0 + (W / parts) * MATVEC_ROWS - 1 of a job's output from the shares of a block of W warps,
 * warp w's (matvec_rows with part w % parts) being of rows r0 + (w / parts) * MATVEC_ROWS ...: each row's
 * shares added in warp order, so that every run gives the same result; with glu SiLU(sum) * the sum of up's
 * shares; stored by the block's first threads, out + sum with add. Every thread of the block calls it. */
template <int W> __device__ __forceinline__ void store_shares(const dec_job &job, int r0, int glu,
                                                              const float acc[MATVEC_ROWS], const float up[MATVEC_ROWS]) {
    __shared__ float share[W][2][MATVEC_ROWS];
    int t = threadIdx.x, warp = t / 32, parts = job.parts, g = t / MATVEC_ROWS, r = t % MATVEC_ROWS, row = r0 + t;
    if (t % 32 == 0)
#pragma unroll
        for (int i = 0; i < MATVEC_ROWS; i++) share[warp][0][i] = acc[i], share[warp][1][i] = up[i];
    __syncthreads();
    if (g < W / parts && row < job.m.rows) {
        float sum = share[g * parts][0][r], up_sum = share[g * parts][1][r];
        for (int p = 1; p < parts; p++) sum += share[g * parts + p][0][r], up_sum += share[g * parts + p][1][r];
        if (glu) sum = sum / (1.0f + expf(-sum)) * up_sum;
        job.out[row] = job.add ? job.out[row] + sum : sum;
    }
    __syncthreads();   /* share is written again by the block's next call */
}

/* Each block stages its input in shared memory; its warps take MATVEC_WARPS / parts row groups of
 * MATVEC_ROWS rows, `parts` warps to a group, each of them a share of the columns (matvec_rows). Splitting
 * the columns makes the grid rows / MATVEC_ROWS blocks for the longest rows instead of rows / 32: enough
 * blocks for every SM to hold as many as its registers allow, so that enough loads are in flight to keep the
 * memory busy (a row group to a warp gave the H200's 132 SMs 64 to 192 blocks, one each for most, and at
 * most 47% of the copy bandwidth for all but the largest product). */
template <int F, int G> __global__ void __launch_bounds__(32 * MATVEC_WARPS) dec_product(dec_args a) {
    extern __shared__ float xs[];   /* [cols] the input, then [cols / 32] int4's sums of 32-value pieces */
    float *psum = xs + a.cols;
    stage_input<F, G>(a.x, a.norm, a.cols, a.eps, xs, psum);
    int b = blockIdx.x, j = 0, warp = (int)threadIdx.x / 32;
    while (j + 1 < a.jobs && b >= a.job[j].blocks) b -= a.job[j].blocks, j++;
    const dec_job &job = a.job[j];
    int parts = job.parts, r0 = b * (MATVEC_WARPS / parts) * MATVEC_ROWS, rw = r0 + warp / parts * MATVEC_ROWS;
    float acc[MATVEC_ROWS] = {}, up[MATVEC_ROWS] = {};
    if (rw < job.m.rows) {
        matvec_rows<F, G>(job.m, xs, psum, rw, warp % parts, parts, acc);
        if (a.glu) matvec_rows<F, G>(a.job[1].m, xs, psum, rw, warp % parts, parts, up);
    }
    store_shares<MATVEC_WARPS>(job, r0, a.glu, acc, up);
}

/* Prefill: out[t][r] = sum_c x[t][c] W[r][c] (or += with add) for t < n. A block computes 64 rows x 64
 * positions, each thread a 4 x 4 patch; every step stages 16 columns of both operands, the weights
 * dequantized on the way into shared memory. */
template <int F> __global__ void __launch_bounds__(256)
matmul_tiled(dmat m, const float *x, int n, float *out, int add) {
    __shared__ float ws[TILE_K][TILE + 1], xs[TILE_K][TILE + 1];
    int r0 = blockIdx.x * TILE, t0 = blockIdx.y * TILE, tr = threadIdx.x % 16, tt = threadIdx.x / 16;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < m.cols; k0 += TILE_K) {
        for (int i = threadIdx.x; i < TILE * TILE_K; i += 256) {
            int j = i / TILE_K, kk = i % TILE_K, k = k0 + kk, r = r0 + j, t = t0 + j;
            ws[kk][j] = r < m.rows && k < m.cols ? weight_at<F>(m, r, k) : 0.0f;
            xs[kk][j] = t < n && k < m.cols ? x[(size_t)t * m.cols + k] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TILE_K; kk++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = ws[kk][tr + 16 * i], b[i] = xs[kk][tt + 16 * i];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int r = r0 + tr + 16 * i, t = t0 + tt + 16 * j;
            if (r >= m.rows || t >= n) continue;
            float *o = out + (size_t)t * m.rows + r;
            *o = add ? *o + acc[i][j] : acc[i][j];
        }
}

/* ===================================================================================================
 * Prefill on the tensor cores: mma.sync m16n8k16, bf16 operands, float32 accumulators
 * =================================================================================================== */

/* d += A B for one warp: A 16 x 16 weights (row-major, a[0..3]), B 16 x 8 activations (column-major: a
 * position's columns, b[0..1]), two bf16 to a 32-bit word, the lower column in the low half; fragments as the
 * PTX ISA places them (g = lane / 4, t = lane % 4): a = A[g][2t..], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..];
 * b = B[2t..][g], B[2t+8..][g]; d = D[g][2t], D[g][2t+1], D[g+8][2t], D[g+8][2t+1]. The emulation runs its
 * per-warp model of the instruction instead. */
__device__ __forceinline__ void mma_bf16(float d[4], const unsigned a[4], const unsigned b[2]) {
#ifdef __CUDA_ARCH__
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(EMU_CUDA_RUNTIME_H)
    emu_mma_m16n8k16_bf16(d, a, b);
#endif
}

/* The bf16 nearest to a finite float32 (ties to even), as 16 bits. */
__device__ __forceinline__ unsigned bf16_bits(float v) {
    unsigned u = __float_as_uint(v);
    return (u + 0x7fffu + (u >> 16 & 1)) >> 16;
}
/* v[0..32) as bf16 pairs into hi[0..16) and, with lo, the remainders v - hi as bf16 pairs too: hi + lo
 * carries 16 significant bits of each value (float32 values to about 2^-17 relative, f16 ones exactly). */
__device__ __forceinline__ void split_bf16(const float v[32], unsigned *hi, unsigned *lo) {
#pragma unroll
    for (int j = 0; j < 16; j++) {
        unsigned h0 = bf16_bits(v[2 * j]), h1 = bf16_bits(v[2 * j + 1]);
        hi[j] = h0 | h1 << 16;
        if (lo) lo[j] = bf16_bits(v[2 * j] - bf16_value(h0)) | bf16_bits(v[2 * j + 1] - bf16_value(h1)) << 16;
    }
}

/* The per16(F) values of 16 stored bytes, as stored_at gives them. */
template <int F> __device__ __forceinline__ void unpack16(uint4 v, float *out) {
    const unsigned u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
        unsigned w = u[k];
        if (F == FMT_F32) out[k] = __uint_as_float(w);
        if (F == FMT_F16) out[2 * k] = f16_value(w & 0xffff), out[2 * k + 1] = f16_value(w >> 16);
        if (F == FMT_BF16) out[2 * k] = bf16_value(w & 0xffff), out[2 * k + 1] = bf16_value(w >> 16);
        if (F == FMT_INT8)
#pragma unroll
            for (int j = 0; j < 4; j++) out[4 * k + j] = (float)(signed char)(w >> 8 * j);
        if (F == FMT_INT4)   /* code 2i in the low nibble of byte i */
#pragma unroll
            for (int j = 0; j < 8; j++) out[8 * k + j] = (float)(w >> 4 * j & 15);
    }
}

/* cp.async.cg.shared.global: 16 bytes from global to shared memory without passing through registers (cached in
 * L2 only: each byte is read once per block), in flight until its thread waits for the group that holds it;
 * cp.async.commit_group closes the group of the copies issued since the last one, cp.async.wait_group N
 * waits until at most the N latest groups are in flight. The emulation's model lands a copy only at that
 * wait and fills its destination with garbage until then. */
__device__ __forceinline__ void cp_async16(void *dst, const void *src) {
#ifdef __CUDA_ARCH__
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src) : "memory");
#elif defined(EMU_CUDA_RUNTIME_H)
    emu_cp_async16(dst, src);
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef __CUDA_ARCH__
    asm volatile("cp.async.commit_group;" ::: "memory");
#elif defined(EMU_CUDA_RUNTIME_H)
    emu_cp_async_commit();
#endif
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
#ifdef __CUDA_ARCH__
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#elif defined(EMU_CUDA_RUNTIME_H)
    emu_cp_async_wait(N);
#endif
}

/* A thread's part of an mma_product step: 32 weights of row r and 32 activations of position t, columns
 * c .. c+31, copied as stored into its slots of a stage (16-byte piece i at slot[MMA_THREADS * i]: a warp's
 * copies, and its reads of them, cover 512 consecutive bytes, no bank twice). Where a 16-byte copy does not
 * fit (rows not aligned or not in whole groups, the matrix's last columns, rows or positions outside it),
 * nothing is copied and the conversion reads the values with plain loads, 0 outside the matrix. */
template <int F> __host__ __device__ constexpr int mma_weight_pieces() { return 32 / per16(F); }
template <int F> __host__ __device__ constexpr int mma_pieces() { return mma_weight_pieces<F>() + 8; }
/* the dynamic shared memory of mma_product<F>: MMA_STAGES stages of every thread's pieces */
template <int F> constexpr int mma_smem() { return MMA_STAGES * MMA_THREADS * mma_pieces<F>() * (int)sizeof(uint4); }
template <int F> __device__ __forceinline__ bool weights_copied(const dmat &m, int r, int c) {
    return r < m.rows && m.vec && c + 32 <= m.cols;
}
__device__ __forceinline__ bool activations_copied(int t, int n, int cols, int c) { return t < n && cols % 4 == 0 && c + 32 <= cols; }

template <int F> __device__ __forceinline__ void copy_step(const dmat &m, const float *x, int n, int r, int t, int c, uint4 *slot) {
    if (weights_copied<F>(m, r, c)) {
        const uint4 *p = (const uint4 *)((const unsigned char *)m.w + (size_t)r * row_bytes(F, m.cols) + row_bytes(F, c));
#pragma unroll
        for (int i = 0; i < mma_weight_pieces<F>(); i++) cp_async16(slot + MMA_THREADS * i, p + i);
    }
    if (activations_copied(t, n, m.cols, c)) {
        const uint4 *p = (const uint4 *)(x + (size_t)t * m.cols + c);
#pragma unroll
        for (int i = 0; i < 8; i++) cp_async16(slot + MMA_THREADS * (mma_weight_pieces<F>() + i), p + i);
    }
}
/* The values copy_step staged: stored weights (stored_at's) into w, activations into xv. */
template <int F> __device__ __forceinline__ void staged_values(const dmat &m, const float *x, int n, int r, int t, int c,
                                                             const uint4 *slot, float w[32], float xv[32]) {
    if (weights_copied<F>(m, r, c)) {
#pragma unroll
        for (int i = 0; i < mma_weight_pieces<F>(); i++) unpack16<F>(slot[MMA_THREADS * i], w + i * per16(F));
    } else
        for (int j = 0; j < 32; j++) w[j] = r < m.rows && c + j < m.cols ? stored_at<F>(m, r, c + j) : 0.0f;
    const float *xr = x + (size_t)t * m.cols + c;
    if (activations_copied(t, n, m.cols, c)) {
#pragma unroll
        for (int i = 0; i < 8; i++) unpack16<FMT_F32>(slot[MMA_THREADS * (mma_weight_pieces<F>() + i)], xv + 4 * i);
    } else
        for (int j = 0; j < 32; j++) xv[j] = t < n && c + j < m.cols ? xr[j] : 0.0f;
}

/* Prefill on the tensor cores: out[t][r] = sum_c x[t][c] W[r][c] (or += with add) for t < n. A block of 4
 * warps computes 64 rows x 64 positions, each warp 32 x 32 (2 x 4 tiles of 16 x 8); every step stages 64
 * columns of both operands in shared memory as bf16: the activations split into hi + lo, int8/int4 codes and
 * bf16 weights exact as they are, f16/f32 weights split too. So each tile takes two products (hi and lo of
 * x) or three (and lo of W times hi of x; lo times lo, about 2^-18 of the product, is left out). int8/int4: a step is
 * one group or part of one (groups a multiple of MMA_COLS); its sum of q x is scaled by the group's s, and
 * int4 adds min * sum x (sums of x per position staged beside them): s sum q x + min sum x.
 * Loads are double-buffered: the stored bytes of step k + 1 (weights as stored, activations as float32) are
 * in flight as cp.async copies while step k is converted and multiplied. The thread that copied a piece
 * converts it, once, from shared memory into the bf16 tiles; converting in the fragment loads instead
 * would convert each value twice (two warps load every row and every position) and put the hi/lo split of
 * the activations in the multiply loop, which stays shared loads of ready bf16 pairs and mma. The price is
 * the stages' shared memory: 36 KiB (int4) to 64 KiB (f32) per block beside the 27-36 KiB of tiles. */
template <int F> __global__ void __launch_bounds__(MMA_THREADS)
mma_product(dmat m, const float *x, int n, float *out, int add) {
    constexpr bool quantized = F == FMT_INT8 || F == FMT_INT4, w_lo = F == FMT_F32 || F == FMT_F16;
    __shared__ unsigned wh[MMA_ROWS][MMA_WORDS], wl[MMA_ROWS][MMA_WORDS], xh[MMA_POS][MMA_WORDS], xl[MMA_POS][MMA_WORDS];
    __shared__ float xsum[MMA_POS];
    extern __shared__ uint4 mma_staged[];   /* [MMA_STAGES][mma_pieces<F>()][MMA_THREADS]: copy_step's slots */
    int r0 = blockIdx.x * MMA_ROWS, t0 = blockIdx.y * MMA_POS;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, q = lane % 4;
    int wr = warp % 2 * 32, wp = warp / 2 * 32;     /* the warp's rows and positions in the block */
    int sr = threadIdx.x / 2, sc = threadIdx.x % 2 * 32;   /* staging: row / position sr, columns sc..sc+31 */
    uint4 *slots = mma_staged + threadIdx.x;
    float acc[2][4][4] = {};
    int steps = (m.cols + MMA_COLS - 1) / MMA_COLS;
    copy_step<F>(m, x, n, r0 + sr, t0 + sr, sc, slots);
    cp_async_commit();
    for (int step = 0; step < steps; step++) {
        int k0 = step * MMA_COLS;
        /* the next step's copies fly while this one is converted and multiplied: each thread reads only
         * its own slots, so its wait for this step's group suffices, and the stage it fills was last read
         * by its own conversion a step ago */
        if (step + 1 < steps)
            copy_step<F>(m, x, n, r0 + sr, t0 + sr, k0 + MMA_COLS + sc, slots + (step + 1) % MMA_STAGES * MMA_THREADS * mma_pieces<F>());
        cp_async_commit();
        cp_async_wait<1>();
        float v[32], xv[32];
        staged_values<F>(m, x, n, r0 + sr, t0 + sr, k0 + sc, slots + step % MMA_STAGES * MMA_THREADS * mma_pieces<F>(), v, xv);
        split_bf16(v, wh[sr] + sc / 2, w_lo ? wl[sr] + sc / 2 : nullptr);
        split_bf16(xv, xh[sr] + sc / 2, xl[sr] + sc / 2);
        if (F == FMT_INT4) {   /* the position's sum over the step, its two halves from lanes 2i and 2i + 1 */
            float sum = 0;
            for (int j = 0; j < 32; j++) sum += xv[j];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            if (sc == 0) xsum[sr] = sum;
        }
        __syncthreads();
        float part[2][4][4] = {}, (*d)[4][4] = quantized ? part : acc;   /* int8/int4: this step's sums of q x */
#pragma unroll
        for (int kw = 0; kw < MMA_COLS / 2; kw += 8) {   /* 16 columns: words kw .. kw+7 */
            unsigned ah[2][4], al[2][4], bh[4][2], bl[4][2];
#pragma unroll
            for (int i = 0; i < 2; i++) {
                int r = wr + 16 * i + g;
                ah[i][0] = wh[r][kw + q], ah[i][1] = wh[r + 8][kw + q], ah[i][2] = wh[r][kw + 4 + q], ah[i][3] = wh[r + 8][kw + 4 + q];
                if (w_lo)
                    al[i][0] = wl[r][kw + q], al[i][1] = wl[r + 8][kw + q], al[i][2] = wl[r][kw + 4 + q], al[i][3] = wl[r + 8][kw + 4 + q];
            }
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int p = wp + 8 * j + g;
                bh[j][0] = xh[p][kw + q], bh[j][1] = xh[p][kw + 4 + q], bl[j][0] = xl[p][kw + q], bl[j][1] = xl[p][kw + 4 + q];
            }
#pragma unroll
            for (int i = 0; i < 2; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    mma_bf16(d[i][j], ah[i], bh[j]);
                    mma_bf16(d[i][j], ah[i], bl[j]);
                    if (w_lo) mma_bf16(d[i][j], al[i], bh[j]);
                }
        }
        if (quantized) {   /* acc += s * sum q x (+ min * sum x) for this lane's rows g, g + 8 of each tile */
#pragma unroll
            for (int i = 0; i < 2; i++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    int r = r0 + wr + 16 * i + g + 8 * h;
                    if (r >= m.rows) continue;
                    size_t gi = (size_t)r * m.ng + k0 / m.group;
                    float s = __half2float(__ldg(m.scale + gi)), mn = F == FMT_INT4 ? __half2float(__ldg(m.min + gi)) : 0.0f;
#pragma unroll
                    for (int j = 0; j < 4; j++)
#pragma unroll
                        for (int e = 2 * h; e < 2 * h + 2; e++) {
                            acc[i][j][e] = fmaf(s, part[i][j][e], acc[i][j][e]);
                            if (F == FMT_INT4) acc[i][j][e] = fmaf(mn, xsum[wp + 8 * j + 2 * q + e % 2], acc[i][j][e]);
                        }
                }
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int r = r0 + wr + 16 * i + g + 8 * (e / 2), t = t0 + wp + 8 * j + 2 * q + e % 2;
                if (r >= m.rows || t >= n) continue;
                float *o = out + (size_t)t * m.rows + r;
                *o = add ? *o + acc[i][j][e] : acc[i][j][e];
            }
}

/* x[t] = row tokens[t] of the embedding, dequantized; one block per position. */
template <int F> __global__ void embed(dmat m, const int *tokens, float *x) {
    for (int c = threadIdx.x; c < m.cols; c += blockDim.x)
        x[(size_t)blockIdx.x * m.cols + c] = weight_at<F>(m, tokens[blockIdx.x], c);
}

/* out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w; one block per position. */
__global__ void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    const float *xr = x + (size_t)blockIdx.x * n;
    float ss = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
    float inv = 1.0f / sqrtf(block_reduce(ss, 0) / (float)n + eps);
    for (int i = threadIdx.x; i < n; i += blockDim.x) out[(size_t)blockIdx.x * n + i] = w[i] * (xr[i] * inv);
}

typedef struct qkv_args {
    float *q, *kc, *vc;               /* q in place; kc, vc: this layer's cache */
    const float *k, *v, *bias[3], *q_norm, *k_norm, *cos_t, *sin_t;   /* unused ones NULL */
    int pos, heads, kv_heads, d;
    float eps;
} qkv_args;

/* One head vector at position p, by one warp: bias (Qwen2), RMSNorm of the head (Qwen3), RoPE
 * (rotate-half) of src into dst (which may be src); x is shared scratch of d floats. */
__device__ void finish_head(float *x, const float *src, const float *bias, const float *norm, float eps, int d,
                            const float *cs, const float *sn, float *dst) {
    int lane = threadIdx.x % 32, half = d / 2;
    for (int i = lane; i < d; i += 32) x[i] = bias ? src[i] + bias[i] : src[i];
    if (norm) {
        float ss = 0;
        for (int i = lane; i < d; i += 32) ss += x[i] * x[i];
        float inv = 1.0f / sqrtf(warp_sum(ss) / (float)d + eps);
        for (int i = lane; i < d; i += 32) x[i] = norm[i] * (x[i] * inv);
    }
    __syncwarp();
    for (int i = lane; i < half; i += 32) {
        float x0 = x[i], x1 = x[i + half];
        dst[i] = x0 * cs[i] - x1 * sn[i];
        dst[i + half] = x1 * cs[i] + x0 * sn[i];
    }
}

/* Prefill: one warp per (head, position) of q and k, finished (finish_head). q stays in place; k, and v
 * with its bias, go into the cache at their position. */
__global__ void qkv_finish(qkv_args a) {
    extern __shared__ float x[];   /* [d] */
    int d = a.d, t = blockIdx.y, p = a.pos + t, lane = threadIdx.x, is_q = (int)blockIdx.x < a.heads;
    int h = is_q ? blockIdx.x : blockIdx.x - a.heads;
    size_t kvd = (size_t)a.kv_heads * d;
    const float *cs = a.cos_t + (size_t)p * (d / 2), *sn = a.sin_t + (size_t)p * (d / 2);
    if (is_q) {
        float *q = a.q + ((size_t)t * a.heads + h) * d;
        finish_head(x, q, a.bias[0] ? a.bias[0] + h * d : NULL, a.q_norm, a.eps, d, cs, sn, q);
        return;
    }
    finish_head(x, a.k + (size_t)t * kvd + (size_t)h * d, a.bias[1] ? a.bias[1] + h * d : NULL, a.k_norm, a.eps, d,
                cs, sn, a.kc + (size_t)p * kvd + (size_t)h * d);
    const float *vs = a.v + (size_t)t * kvd + (size_t)h * d;
    float *vd = a.vc + (size_t)p * kvd + (size_t)h * d;
    for (int i = lane; i < d; i += 32) vd[i] = a.bias[2] ? vs[i] + a.bias[2][h * d + i] : vs[i];
}

/* Decode attention, flash-decoding: work item (h, split) takes query head h against the keys split *
 * SPLIT_KEYS .. + SPLIT_KEYS - 1 that position p sees (p read from device memory: a captured decode step
 * replays for every position). It finishes its own copy of q (and, in the split holding p, of the new key
 * and value: the first query head of each KV head writes them to the cache, the others use their copy),
 * scores its keys one per thread, keeps exp(score - max) once, weighs the values a key per warp (its lanes
 * the columns: every warp's loads of a key in flight beside the others', each lane's columns independent
 * sums), and writes its partial output with its max and sum. The last split of a head to arrive (a ticket per head) combines the partials in split
 * order, so the result does not depend on which block finishes last. */
typedef struct attn_args {
    const float *q, *k, *v, *bias[3], *q_norm, *k_norm, *cos_t, *sin_t;   /* q, k, v as the products left them */
    float *kc, *vc, *part, *out;   /* part: [heads][splits][d + 2] each split's output, max and sum */
    int *arrived;                  /* [heads] splits done; the last resets it */
    int *barrier;                  /* [2] grid_barrier's arrivals and departures */
    const int *pos;
    int heads, kv_heads, d, window, splits;
    float eps;
} attn_args;

/* One work item of decode attention, by the whole block of ATTN_O_WARPS warps; sh: q, new k, new v, scratch for
 * q and k [d each], weights [SPLIT_KEYS], flag, each warp's weighted values [ATTN_O_WARPS][d]. */
__device__ __forceinline__ void attention_item(const attn_args &a, int h, int split, float *sh) {
    __syncthreads();   /* the block's previous item is done with sh */
    int d = a.d, p = *a.pos, kvh = h / (a.heads / a.kv_heads);
    int first = a.window && p >= a.window ? p - a.window + 1 : 0, k0 = split * SPLIT_KEYS, k1 = k0 + SPLIT_KEYS;
    k0 = k0 > first ? k0 : first, k1 = k1 < p + 1 ? k1 : p + 1;
    if (k0 >= k1) return;   /* no key of this split is visible */
    float *qs = sh, *kn = sh + d, *vn = sh + 2 * d, *weight = sh + 5 * d;
    int *last = (int *)(weight + SPLIT_KEYS), warp = threadIdx.x / 32, has_new = k1 == p + 1;
    size_t kvd = (size_t)a.kv_heads * d, head = (size_t)kvh * d;
    const float *cs = a.cos_t + (size_t)p * (d / 2), *sn = a.sin_t + (size_t)p * (d / 2);
    if (warp == 0) finish_head(sh + 3 * d, a.q + (size_t)h * d, a.bias[0] ? a.bias[0] + h * d : NULL, a.q_norm, a.eps, d, cs, sn, qs);
    if (warp == 1 && has_new)
        finish_head(sh + 4 * d, a.k + head, a.bias[1] ? a.bias[1] + head : NULL, a.k_norm, a.eps, d, cs, sn, kn);
    if (warp == 2 && has_new)
        for (int i = threadIdx.x % 32; i < d; i += 32) vn[i] = a.bias[2] ? a.v[head + i] + a.bias[2][head + i] : a.v[head + i];
    __syncthreads();
    if (has_new && h % (a.heads / a.kv_heads) == 0)
        for (int i = threadIdx.x; i < d; i += blockDim.x) a.kc[p * kvd + head + i] = kn[i], a.vc[p * kvd + head + i] = vn[i];

    float scale = 1.0f / sqrtf((float)d), mx = -INFINITY, sum = 0;
    for (int k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
        const float *kr = k == p ? kn : a.kc + (size_t)k * kvd + head;
        float s = 0;
        if (d % 4 == 0)   /* 16-byte loads: rows of the cache (and q, kn) start 16-byte aligned then */
            for (int i = 0; i < d; i += 4) {
                float4 kv = *(const float4 *)(kr + i), qv = *(const float4 *)(qs + i);
                s = fmaf(qv.w, kv.w, fmaf(qv.z, kv.z, fmaf(qv.y, kv.y, fmaf(qv.x, kv.x, s))));
            }
        else
            for (int i = 0; i < d; i++) s = fmaf(qs[i], kr[i], s);
        weight[k - k0] = s * scale;
        mx = fmaxf(mx, s * scale);
    }
    mx = block_reduce(mx, 1);
    for (int k = k0 + threadIdx.x; k < k1; k += blockDim.x) sum += weight[k - k0] = expf(weight[k - k0] - mx);
    sum = block_reduce(sum, 0);   /* its barriers also publish the weights */
    float *mine = a.part + ((size_t)h * a.splits + split) * (d + 2), *sums = (float *)(last + 1);
    int lane = threadIdx.x % 32;
    float weighted[ATTN_DIM_MAX / 32] = {};   /* columns lane, lane + 32, ... (d <= ATTN_DIM_MAX) */
    for (int k = k0 + warp; k < k1; k += ATTN_O_WARPS) {
        const float *vr = k == p ? vn : a.vc + (size_t)k * kvd + head;
        float wk = weight[k - k0];
#pragma unroll
        for (int j = 0; j < ATTN_DIM_MAX / 32; j++)
            if (lane + 32 * j < d) weighted[j] = fmaf(wk, vr[lane + 32 * j], weighted[j]);
    }
#pragma unroll
    for (int j = 0; j < ATTN_DIM_MAX / 32; j++)
        if (lane + 32 * j < d) sums[warp * d + lane + 32 * j] = weighted[j];
    __syncthreads();
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float sum_w = sums[i];
        for (int w = 1; w < ATTN_O_WARPS; w++) sum_w += sums[w * d + i];
        mine[i] = sum_w;
    }
    if (threadIdx.x == 0) mine[d] = mx, mine[d + 1] = sum;
    __threadfence();   /* this block's partial visible to the block that combines */
    __syncthreads();
    int s0 = first / SPLIT_KEYS, s1 = p / SPLIT_KEYS;
    if (threadIdx.x == 0) {
        *last = atomicAdd(a.arrived + h, 1) == s1 - s0;
        if (*last) a.arrived[h] = 0;
    }
    __syncthreads();
    if (!*last) return;
    const float *part = a.part + (size_t)h * a.splits * (d + 2);
    float m = -INFINITY, l = 0;
    for (int j = s0; j <= s1; j++) m = fmaxf(m, __ldcg(part + (size_t)j * (d + 2) + d));
    for (int j = s0; j <= s1; j++) l += __ldcg(part + (size_t)j * (d + 2) + d + 1) * expf(__ldcg(part + (size_t)j * (d + 2) + d) - m);
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float o = 0;
        for (int j = s0; j <= s1; j++) o += __ldcg(part + (size_t)j * (d + 2) + i) * expf(__ldcg(part + (size_t)j * (d + 2) + d) - m);
        a.out[(size_t)h * d + i] = o / l;
    }
}

/* Every block of the grid waits here until all have arrived (count[0]); the last to leave (count[1]) resets
 * both for the next launch. Writes before it are visible to every block after it (the fences, as
 * cooperative groups' grid sync places them). Safe only when every block of the grid is resident at once:
 * the launch sizes its grid from the occupancy API. */
__device__ __forceinline__ void grid_barrier(int *count) {
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        atomicAdd(count, 1);
        while (*(volatile int *)count < (int)gridDim.x) __nanosleep(64);
        __threadfence();
        if (atomicAdd(count + 1, 1) == (int)gridDim.x - 1) count[0] = count[1] = 0;
    }
    __syncthreads();
}

/* Decode attention, then o_proj with the residual (x += W_o att), in one launch: o_proj needs every head's
 * output, so the blocks take the attention items (heads x splits, grid-stride), meet at grid_barrier, then
 * take o_proj's rows as dec_product does (grid-stride over its blocks of rows). One kernel node fewer per
 * layer than two launches, for a barrier, and no partial sums across blocks: every output is one block's,
 * added in a fixed order, so the result is the same on every run. Blocks of 4 warps, 4 per SM (at most 128
 * registers: with a lower cap ptxas spills around the division's slow path), give a grid larger than
 * either phase's work at real widths (64 to 256 items or blocks of rows on 132 SMs). */
template <int F, int G> __global__ void __launch_bounds__(32 * ATTN_O_WARPS, 4) attention_o_proj(attn_args a, dec_job o) {
    extern __shared__ float sh[];   /* attention_item's, then o_proj's input and int4's piece sums */
    for (int i = blockIdx.x; i < a.heads * a.splits; i += gridDim.x) attention_item(a, i / a.splits, i % a.splits, sh);
    grid_barrier(a.barrier);
    int parts = o.parts, rows_per_block = ATTN_O_WARPS / parts * MATVEC_ROWS, warp = (int)threadIdx.x / 32;
    int row_blocks = (o.m.rows + rows_per_block - 1) / rows_per_block;
    if ((int)blockIdx.x >= row_blocks) return;
    stage_input<F, G>(a.out, NULL, o.m.cols, 0, sh, sh + o.m.cols);
    for (int b = blockIdx.x; b < row_blocks; b += gridDim.x) {
        int r0 = b * rows_per_block, rw = r0 + warp / parts * MATVEC_ROWS;
        float acc[MATVEC_ROWS] = {}, up[MATVEC_ROWS] = {};
        if (rw < o.m.rows) matvec_rows<F, G>(o.m, sh, sh + o.m.cols, rw, warp % parts, parts, acc);
        store_shares<ATTN_O_WARPS>(o, r0, 0, acc, up);
    }
}

/* Prefill attention, flash-attention style: block (h, tile) takes ATTN_ROWS positions of query head h (the
 * latest tile first: it sees the most keys) and walks the keys they see, ATTN_KEYS at a time, staged in
 * shared memory whose size depends on d alone (attention_smem), however long the context. The scores of a
 * step stay in registers: an online softmax keeps each row's running maximum m and sum l, and when a step
 * raises m it rescales l and the output so far by exp(m_old - m_new). Thread (ty, tx) of 16 x 8 holds rows
 * 4 ty .. 4 ty + 3, the step's keys tx + 8 j and output columns tx + 8 c (so d <= ATTN_DIM_MAX); a row's 8
 * threads are lanes of one warp, which reduce its maximum and sum by shuffles and alone read its
 * probabilities back. Query head h reads KV head h / (heads / kv_heads); a key k is seen by position p when
 * first(p) <= k <= p, first(p) = p - window + 1 with a sliding window (Mistral), 0 without. */
__global__ void __launch_bounds__(ATTN_THREADS)
attention(const float *q, const float *kc, const float *vc, float *out, int pos, int n, int heads, int kv_heads,
          int d, int window) {
    extern __shared__ float sh[];   /* attention_smem: q, keys and values of a step, its probabilities */
    int ld = d + 1;                 /* padded rows: the 8 keys (4 rows) lanes read at one column sit in different banks */
    float *qs = sh, *ks = qs + ATTN_ROWS * ld, *vs = ks + ATTN_KEYS * ld, *ps = vs + ATTN_KEYS * d;
    int h = blockIdx.x, t0 = (gridDim.y - 1 - blockIdx.y) * ATTN_ROWS, rows = n - t0 < ATTN_ROWS ? n - t0 : ATTN_ROWS;
    int tx = threadIdx.x % 8, r0 = 4 * (threadIdx.x / 8), warp_rows = 16 * (int)(threadIdx.x / 32) < rows;
    size_t kvd = (size_t)kv_heads * d;
    const float *kh = kc + (size_t)(h / (heads / kv_heads)) * d, *vh = vc + (size_t)(h / (heads / kv_heads)) * d;
    for (int e = threadIdx.x; e < ATTN_ROWS * d; e += blockDim.x) {
        int r = e / d, i = e % d;
        qs[r * ld + i] = r < rows ? q[((size_t)(t0 + r) * heads + h) * d + i] : 0;
    }
    int last = pos + t0 + rows - 1, begin = window && pos + t0 >= window ? pos + t0 - window + 1 : 0;
    float scale = 1.0f / sqrtf((float)d), m[4], l[4], o[4][ATTN_DIM_MAX / 8] = {};
    for (int e = 0; e < 4; e++) m[e] = -INFINITY, l[e] = 0;
    for (int k0 = begin; k0 <= last; k0 += ATTN_KEYS) {
        __syncthreads();   /* q staged; the previous step's keys and values read */
        if (d % 4 == 0)    /* 16-byte loads: cache rows start 16-byte aligned then */
            for (int e = threadIdx.x; e < ATTN_KEYS * d / 4; e += blockDim.x) {
                int j = e / (d / 4), i = 4 * (e % (d / 4)), k = k0 + j;
                float4 kv = {0, 0, 0, 0}, vv = {0, 0, 0, 0};   /* keys past the last position: 0, never NaN * 0 */
                if (k <= last) kv = *(const float4 *)(kh + k * kvd + i), vv = *(const float4 *)(vh + k * kvd + i);
                ks[j * ld + i] = kv.x, ks[j * ld + i + 1] = kv.y, ks[j * ld + i + 2] = kv.z, ks[j * ld + i + 3] = kv.w;
                vs[j * d + i] = vv.x, vs[j * d + i + 1] = vv.y, vs[j * d + i + 2] = vv.z, vs[j * d + i + 3] = vv.w;
            }
        else
            for (int e = threadIdx.x; e < ATTN_KEYS * d; e += blockDim.x) {
                int j = e / d, i = e % d, k = k0 + j;
                ks[j * ld + i] = k <= last ? kh[k * kvd + i] : 0;
                vs[j * d + i] = k <= last ? vh[k * kvd + i] : 0;
            }
        __syncthreads();
        if (!warp_rows) continue;   /* a warp whose rows are past the chunk's end only keeps the barriers */
        float s[4][ATTN_KEYS / 8] = {};
        for (int i = 0; i < d; i++) {
            float qv[4], kv[ATTN_KEYS / 8];
            for (int e = 0; e < 4; e++) qv[e] = qs[(r0 + e) * ld + i];
            for (int j = 0; j < ATTN_KEYS / 8; j++) kv[j] = ks[(tx + 8 * j) * ld + i];
            for (int e = 0; e < 4; e++)
                for (int j = 0; j < ATTN_KEYS / 8; j++) s[e][j] = fmaf(qv[e], kv[j], s[e][j]);
        }
        for (int e = 0; e < 4; e++) {
            int p = pos + t0 + r0 + e, first = window && p >= window ? p - window + 1 : 0;
            float mx = m[e], sum = 0;
            for (int j = 0; j < ATTN_KEYS / 8; j++) {
                int k = k0 + tx + 8 * j;
                s[e][j] = k >= first && k <= p ? s[e][j] * scale : -INFINITY;
                mx = fmaxf(mx, s[e][j]);
            }
            for (int x = 1; x < 8; x *= 2) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, x));
            float base = mx == -INFINITY ? 0 : mx;   /* a row that has seen no key yet: every weight 0 */
            for (int j = 0; j < ATTN_KEYS / 8; j++) {
                float w = expf(s[e][j] - base);
                ps[(r0 + e) * (ATTN_KEYS + 1) + tx + 8 * j] = w;
                sum += w;
            }
            for (int x = 1; x < 8; x *= 2) sum += __shfl_xor_sync(0xffffffffu, sum, x);
            float rescale = expf(m[e] - base);
            l[e] = l[e] * rescale + sum, m[e] = mx;
            for (int c = 0; c < ATTN_DIM_MAX / 8; c++) o[e][c] *= rescale;
        }
        __syncwarp();   /* the row's probabilities, written by its 8 lanes */
        for (int j = 0; j < ATTN_KEYS; j++) {
            float w[4];
            for (int e = 0; e < 4; e++) w[e] = ps[(r0 + e) * (ATTN_KEYS + 1) + j];
#pragma unroll
            for (int c = 0; c < ATTN_DIM_MAX / 8; c++)
                if (tx + 8 * c < d) {
                    float v = vs[j * d + tx + 8 * c];
                    for (int e = 0; e < 4; e++) o[e][c] = fmaf(w[e], v, o[e][c]);
                }
        }
    }
    for (int e = 0; e < 4 && r0 + e < rows; e++)
#pragma unroll
        for (int c = 0; c < ATTN_DIM_MAX / 8; c++)
            if (tx + 8 * c < d) out[((size_t)(t0 + r0 + e) * heads + h) * d + tx + 8 * c] = o[e][c] / l[e];
}

/* g[i] = SiLU(g[i]) * u[i] */
__global__ void silu_mul(float *g, const float *u, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* The token-only call's choice (argmax_logits): (w, j) replaces the candidate (v, i) when it is larger, equal
 * with a lower id, or a number where v is NaN; so the winner is the lowest id of the largest number, as the
 * CPU's scan finds it whenever logit 0 is not NaN. */
__device__ __forceinline__ bool better(float w, int j, float v, int i) {
    return w > v || (w == v && j < i) || (isnan(v) && !isnan(w));
}

/* In one block: out[0] = the id greedy decoding takes from x[0..n) as the CPU's scan does (the lowest id
 * among equal maxima; a NaN at id 0 keeps id 0), out[1] = 1 when some value is not finite. Each thread
 * takes 4 consecutive ids at a time with one 16-byte load (x is 16-byte aligned: the first row of the
 * logits), then the block halves the candidates in shared memory. */
__global__ void __launch_bounds__(ARGMAX_THREADS) argmax_logits(const float *x, int n, int *out) {
    __shared__ float best[ARGMAX_THREADS];
    __shared__ int at[ARGMAX_THREADS], bad[ARGMAX_THREADS];
    int t = threadIdx.x, i = n, nonfinite = 0;
    float v = NAN;
#pragma unroll 4
    for (int k = 4 * t; k < n; k += 4 * ARGMAX_THREADS) {
        float y[4];
        if (k + 4 <= n) {
            float4 q = *(const float4 *)(x + k);
            y[0] = q.x, y[1] = q.y, y[2] = q.z, y[3] = q.w;
        } else {
            for (int e = 0; e < 4; e++) y[e] = k + e < n ? x[k + e] : NAN;
        }
        for (int e = 0; e < 4; e++) {
            nonfinite |= k + e < n && !isfinite(y[e]);
            if (better(y[e], k + e, v, i)) v = y[e], i = k + e;
        }
    }
    best[t] = v, at[t] = i, bad[t] = nonfinite;
    __syncthreads();
    for (int half = ARGMAX_THREADS / 2; half; half /= 2) {
        if (t < half && better(best[t + half], at[t + half], v, i)) v = best[t + half], i = at[t + half];
        if (t < half) best[t] = v, at[t] = i, bad[t] |= bad[t + half];
        __syncthreads();
    }
    if (t == 0) out[0] = isnan(x[0]) ? 0 : i, out[1] = bad[0];
}

/* Over a block of NLL_THREADS threads, from each thread's candidate: the largest value (v, better's rule: the
 * lowest id i among equal ones) and whether any thread saw a value that is not finite (odd); every thread gets
 * them. */
__device__ void block_top(float *v, int *i, int *odd) {
    __shared__ float tv[NLL_THREADS];
    __shared__ int ti[NLL_THREADS], to[NLL_THREADS];
    int t = threadIdx.x;
    tv[t] = *v, ti[t] = *i, to[t] = *odd;
    __syncthreads();
    for (int half = NLL_THREADS / 2; half; half /= 2) {
        if (t < half && better(tv[t + half], ti[t + half], tv[t], ti[t])) tv[t] = tv[t + half], ti[t] = ti[t + half];
        if (t < half) to[t] |= to[t + half];
        __syncthreads();
    }
    *v = tv[0], *i = ti[0], *odd = to[0];
    __syncthreads();   /* the arrays are reused by the next call */
}

/* Sum over a block of NLL_THREADS threads in double, in a fixed order; every thread gets it. */
__device__ double block_sum_double(double v) {
    __shared__ double part[NLL_THREADS];
    int t = threadIdx.x;
    part[t] = v;
    __syncthreads();
    for (int half = NLL_THREADS / 2; half; half /= 2) {
        if (t < half) part[t] += part[t + half];
        __syncthreads();
    }
    v = part[0];
    __syncthreads();
    return v;
}

/* log(sum_i exp(row_i)) of row[0..n) as the CPU's log_softmax computes it: the largest value m, then m + log of
 * the sum of exp(row_i - m) in double; *top gets the lowest id of m, *odd whether a value is not finite. */
__device__ double row_log_sum_exp(const float *row, int n, int *top, int *odd) {
    int t = threadIdx.x;
    float m = NAN;
    *top = n, *odd = 0;
    for (int i = t; i < n; i += NLL_THREADS) {
        float v = row[i];
        *odd |= !isfinite(v);
        if (better(v, i, m, *top)) m = v, *top = i;
    }
    block_top(&m, top, odd);
    double mx = m, e = 0;
    for (int i = t; i < n; i += NLL_THREADS) e += exp((double)row[i] - mx);
    return mx + log(block_sum_double(e));
}

/* Perplexity's scores where the logits are, one block per row r of x ([rows][n]), in double as the CPU computes
 * them from logits, so that only the order of the sums differs: nll[r] = -log softmax(x_r)[next[r]]; with a
 * reference (ref [rows][n], else NULL) also kl[r] = sum_i p_i (log p_i - log q_i), p = softmax(ref_r) and q =
 * softmax(x_r), and agree[r] = whether the two rows' largest values have the same lowest id. nll[r] is NaN when
 * a value of either row is not finite (a row of finite logits always gives a finite result). Each row is read
 * twice (maximum, then sum), and the pair once more for kl: 1 MB a row at a vocabulary of 128k. */
__global__ void __launch_bounds__(NLL_THREADS) score_rows(const float *x, const float *ref, int n, const int *next,
                                                         double *nll, double *kl, int *agree) {
    const float *row = x + (size_t)blockIdx.x * n;
    int top, odd, t = threadIdx.x;
    double lse = row_log_sum_exp(row, n, &top, &odd);
    if (ref) {
        const float *rrow = ref + (size_t)blockIdx.x * n;
        int rtop, rodd;
        double rlse = row_log_sum_exp(rrow, n, &rtop, &rodd), d = 0;
        for (int i = t; i < n; i += NLL_THREADS) {
            double lp = (double)rrow[i] - rlse, lq = (double)row[i] - lse;
            d += exp(lp) * (lp - lq);
        }
        d = block_sum_double(d);
        if (t == 0) kl[blockIdx.x] = d, agree[blockIdx.x] = top == rtop;
        odd |= rodd;
    }
    if (t == 0) nll[blockIdx.x] = odd ? NAN : -((double)row[next[blockIdx.x]] - lse);
}

/* The copy that decode bandwidth is compared with: 16-byte loads and stores, grid-stride. */
__global__ void copy16(uint4 *dst, const uint4 *src, size_t n) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = src[i];
}

/* ===================================================================================================
 * Launching by format
 * =================================================================================================== */

/* The unit of a decode product (matvec_rows' G): 0 per value; GROUP_G pieces, one group of EWQ_GROUP values
 * (quantized) or two pieces (raw), where the shape allows; else 1 piece. */
template <int F> constexpr int group_units() { return F == FMT_INT8 || F == FMT_INT4 ? EWQ_GROUP / per16(F) : 2; }
static int unit_of(const dmat *m) {
    int n = per16(m->fmt), g = m->fmt == FMT_INT8 ? group_units<FMT_INT8>() : m->fmt == FMT_INT4 ? group_units<FMT_INT4>() : 2;
    if (!m->vec) return 0;
    return m->cols % (g * n) == 0 && (m->fmt < FMT_INT8 || m->group == EWQ_GROUP) ? g : 1;
}

/* The warps of a block of `warps` that split a row group's columns in a decode product: as many as have a
 * unit (per-value: a column) for each of their 32 lanes, a power of two up to `warps`; the rest of the
 * block's warps take more row groups. Llama-3.1-8B's bf16 rows of 4,096 (256 units of 16 values) take all
 * 8 warps of dec_product; its int4 ones (64 units of 64 values) 2, four row groups to a block. */
static int dec_parts(const dmat *m, int unit, int warps) {
    int units = unit == 0 ? m->cols : m->cols / per16(m->fmt) / unit, parts = 1;
    while (parts < warps && 64 * parts <= units) parts *= 2;
    return parts;
}
/* The blocks of `warps` warps that cover a decode product's rows, parts warps to a row group */
static int dec_row_blocks(const dmat *m, int parts, int warps) {
    int rows_per_block = warps / parts * MATVEC_ROWS;
    return (m->rows + rows_per_block - 1) / rows_per_block;
}

template <int F> static void launch_dec(const dec_args &a, int unit, unsigned blocks, size_t smem, cudaStream_t st) {
    constexpr int G = group_units<F>();
    if (unit == 0) dec_product<F, 0><<<blocks, 32 * MATVEC_WARPS, smem, st>>>(a);
    else if (unit == 1) dec_product<F, 1><<<blocks, 32 * MATVEC_WARPS, smem, st>>>(a);
    else dec_product<F, G><<<blocks, 32 * MATVEC_WARPS, smem, st>>>(a);
}

/* Dynamic shared memory of a decode product over cols inputs: the input and int4's piece sums. */
static size_t dec_smem(int cols) { return sizeof(float) * ((size_t)cols + (size_t)cols / 32); }
/* attention_o_proj's: an attention item's (5 head vectors, SPLIT_KEYS weights, a flag, a head vector per warp)
 * or o_proj's input's */
static size_t attn_o_smem(int d, int qd) {
    size_t item = sizeof(float) * ((5 + ATTN_O_WARPS) * (size_t)d + SPLIT_KEYS + 1);
    return item > dec_smem(qd) ? item : dec_smem(qd);
}

/* A decode product (dec_args: jobs, input, norm) on stream st: one launch when the matrices share format
 * and unit (in a model whose layers each have one tier, always), else one launch per matrix; gate and up
 * of different formats (glu) are the caller's to split. */
static int decode_product(dec_args a, cudaStream_t st, ewq_err *err) {
    int fmt = a.job[0].m.fmt, unit = unit_of(&a.job[0].m), jobs = a.glu ? 2 : a.jobs;
    for (int j = 1; j < jobs; j++)
        if (a.job[j].m.fmt != fmt || unit_of(&a.job[j].m) != unit) {
            dec_args one = a;
            one.jobs = 1;
            for (int i = 0; i < a.jobs; i++) {
                one.job[0] = a.job[i];
                if (decode_product(one, st, err)) return -1;
            }
            return 0;
        }
    unsigned blocks = 0;
    for (int j = 0; j < a.jobs; j++) {
        a.job[j].parts = dec_parts(&a.job[j].m, unit, MATVEC_WARPS);
        blocks += a.job[j].blocks = dec_row_blocks(&a.job[j].m, a.job[j].parts, MATVEC_WARPS);
    }
    size_t smem = dec_smem(a.cols);
    switch (fmt) {
    case FMT_F32: launch_dec<FMT_F32>(a, unit, blocks, smem, st); break;
    case FMT_F16: launch_dec<FMT_F16>(a, unit, blocks, smem, st); break;
    case FMT_BF16: launch_dec<FMT_BF16>(a, unit, blocks, smem, st); break;
    case FMT_INT8: launch_dec<FMT_INT8>(a, unit, blocks, smem, st); break;
    default: launch_dec<FMT_INT4>(a, unit, blocks, smem, st); break;
    }
    return launched("dec_product", err);
}

/* attention_o_proj for o_proj's format F and unit: its launch, and how many of its blocks an SM holds */
template <int F> static void launch_attn_o(const attn_args &a, const dec_job &o, int unit, int grid, size_t smem,
                                           cudaStream_t st) {
    constexpr int G = group_units<F>();
    if (unit == 0) attention_o_proj<F, 0><<<grid, 32 * ATTN_O_WARPS, smem, st>>>(a, o);
    else if (unit == 1) attention_o_proj<F, 1><<<grid, 32 * ATTN_O_WARPS, smem, st>>>(a, o);
    else attention_o_proj<F, G><<<grid, 32 * ATTN_O_WARPS, smem, st>>>(a, o);
}
template <int F> static cudaError_t attn_o_resident(int unit, size_t smem, int *per_sm) {
    constexpr int G = group_units<F>(), T = 32 * ATTN_O_WARPS;
    return unit == 0 ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(per_sm, attention_o_proj<F, 0>, T, smem)
         : unit == 1 ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(per_sm, attention_o_proj<F, 1>, T, smem)
                     : cudaOccupancyMaxActiveBlocksPerMultiprocessor(per_sm, attention_o_proj<F, G>, T, smem);
}

/* A decode product's shared memory above the default 48 KiB (inputs of more than about 11,900 values):
 * raised for every instantiation, attention_o_proj's too, only ever (it belongs to the functions, so to every
 * backend at once). */
template <int F> static cudaError_t raise_dec_smem(int bytes) {
    constexpr int G = group_units<F>();
    const void *kernels[] = {(const void *)dec_product<F, 0>, (const void *)dec_product<F, 1>, (const void *)dec_product<F, G>,
                             (const void *)attention_o_proj<F, 0>, (const void *)attention_o_proj<F, 1>,
                             (const void *)attention_o_proj<F, G>};
    cudaError_t e = cudaSuccess;
    for (int i = 0; i < 6 && e == cudaSuccess; i++)
        e = cudaFuncSetAttribute(kernels[i], cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    return e;
}
static size_t dec_smem_limit = 48 << 10;   /* static and dynamic bytes a decode product may take now */

/* out[t] (+)= W x[t] for t < n: the decode product for one position; for several the tensor-core product,
 * or the tiled one where a quantization group is not a whole number of its steps (groups of 40, say). */
template <int F> static void launch_prefill(const dmat &m, const float *x, int n, float *out, int add, int mma) {
    if (mma) {
        /* once per format: f32's stages (64 KiB) pass the 48 KiB a launch may ask for without it; a refusal
         * fails the launch, which reports it */
        static const cudaError_t raised = cudaFuncSetAttribute(mma_product<F>, cudaFuncAttributeMaxDynamicSharedMemorySize, mma_smem<F>());
        (void)raised;
        mma_product<F><<<dim3((m.rows + MMA_ROWS - 1) / MMA_ROWS, (n + MMA_POS - 1) / MMA_POS), MMA_THREADS, mma_smem<F>()>>>(m, x, n, out, add);
    } else matmul_tiled<F><<<dim3((m.rows + TILE - 1) / TILE, (n + TILE - 1) / TILE), 256>>>(m, x, n, out, add);
}
static int product(const dmat *m, const float *x, int n, float *out, int add, ewq_err *err) {
    if (n == 1) {
        dec_args a = {};
        a.job[0].m = *m, a.job[0].out = out, a.job[0].add = add, a.jobs = 1, a.x = x, a.cols = m->cols;
        return decode_product(a, 0, err);
    }
    int mma = m->fmt < FMT_INT8 || m->group % MMA_COLS == 0;
    switch (m->fmt) {
    case FMT_F32: launch_prefill<FMT_F32>(*m, x, n, out, add, mma); break;
    case FMT_F16: launch_prefill<FMT_F16>(*m, x, n, out, add, mma); break;
    case FMT_BF16: launch_prefill<FMT_BF16>(*m, x, n, out, add, mma); break;
    case FMT_INT8: launch_prefill<FMT_INT8>(*m, x, n, out, add, mma); break;
    default: launch_prefill<FMT_INT4>(*m, x, n, out, add, mma); break;
    }
    return launched(mma ? "mma_product" : "matmul_tiled", err);
}

static int embed_rows(const dmat *m, const int *tokens, int n, float *x, cudaStream_t st, ewq_err *err) {
    switch (m->fmt) {
    case FMT_F32: embed<FMT_F32><<<n, 256, 0, st>>>(*m, tokens, x); break;
    case FMT_F16: embed<FMT_F16><<<n, 256, 0, st>>>(*m, tokens, x); break;
    case FMT_BF16: embed<FMT_BF16><<<n, 256, 0, st>>>(*m, tokens, x); break;
    case FMT_INT8: embed<FMT_INT8><<<n, 256, 0, st>>>(*m, tokens, x); break;
    default: embed<FMT_INT4><<<n, 256, 0, st>>>(*m, tokens, x); break;
    }
    return launched("embed", err);
}

/* ===================================================================================================
 * The backend: state, upload, forward
 * =================================================================================================== */

/* A block linear on the device: the host matrix it was uploaded from, which names it (select_linears), its
 * device copy, and for an o_proj the grid of attention_o_proj with it (all its blocks resident at once). */
typedef struct held_linear {
    ewq_qmat host;
    dmat dev;
    int o_grid;
} held_linear;

typedef struct dlayer {
    dmat w[EWQ_N_LINEAR];       /* the held linears that p->linear names now */
    int chosen[EWQ_N_LINEAR];   /* their index among the held ones */
    float *attn_norm, *ffn_norm, *q_norm, *k_norm, *bias[3];   /* absent ones NULL */
    int o_grid;                 /* the chosen o_proj's */
} dlayer;

typedef struct cuda_state {
    dlayer *layers;
    held_linear *held;                 /* [linear][per_linear]: each distinct matrix of p and its alternatives */
    int *n_held, per_linear;           /* [linear]: how many are held; 1 + the number of alternatives */
    dmat embed, lm_head;
    float *final_norm, *rope_cos, *rope_sin, *kcache, *vcache;
    float *x, *xb, *q, *k, *v, *att, *hb, *hb2, *logits;   /* [CHUNK positions][width] */
    int *tokens, chunk;
    /* decode: one step is captured into a graph at the first and replayed for every position */
    float *attn_part;                  /* attention_item's partials [heads][splits][head_dim + 2] */
    int *attn_arrived, splits;         /* [heads], then attention_o_proj's grid_barrier counts [2] */
    int *step;                         /* on the device: the token and its position */
    int *host_step;                    /* pinned: the same, copied up before each replay */
    float *host_logits;                /* pinned: the logits, copied down after it */
    int *choice, *host_choice;         /* next_token: argmax_logits' id and non-finite flag, and a pinned copy */
    int *next;                         /* score: the id each position predicts [CHUNK] */
    double *nll, *kl;                  /* score: score_rows' results [CHUNK] (kl: with ref_rows only) */
    int *agree;                        /* the same */
    float *ref_logits;                 /* score_ref: the reference's logits [ref_rows][vocab] */
    int ref_rows, ref_n, ref_pos;      /* room for them; the call they were kept from (ref_n 0: none) */
    cudaStream_t stream;
    cudaGraphExec_t graph;
    void **allocs;                     /* every device allocation, freed together */
    int n_allocs;
    size_t allocated;
} cuda_state;

static int dev_alloc(cuda_state *s, void **p, size_t bytes, const char *what, ewq_err *err) {
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        size_t free_b = 0, total = 0;
        cudaGetLastError();   /* clear it, so the query below reports */
        cudaMemGetInfo(&free_b, &total);
        return ewq_fail(err, "cuda", "cannot allocate %zu bytes of device memory for %s (%s; %zu of %zu bytes free)",
                        bytes, what, cudaGetErrorString(e), free_b, total);
    }
    void **grown = (void **)realloc(s->allocs, sizeof(void *) * (size_t)(s->n_allocs + 1));
    if (!grown) {
        cudaFree(*p);
        return ewq_fail(err, "cuda", "out of host memory");
    }
    s->allocs = grown;
    s->allocs[s->n_allocs++] = *p;
    s->allocated += bytes;
    return 0;
}

static int upload(cuda_state *s, void **p, const void *src, size_t bytes, const char *what, ewq_err *err) {
    if (dev_alloc(s, p, bytes, what, err)) return -1;
    CUDA_TRY(cudaMemcpy(*p, src, bytes, cudaMemcpyHostToDevice));
    return 0;
}

static int upload_qmat(cuda_state *s, dmat *d, const ewq_qmat *m, const char *what, ewq_err *err) {
    void *w, *scale = NULL, *mn = NULL;
    memset(d, 0, sizeof *d);
    d->rows = m->rows, d->cols = m->cols;
    if (m->tier == EWQ_RAW) {
        d->fmt = m->dtype == EWQ_F32 ? FMT_F32 : m->dtype == EWQ_F16 ? FMT_F16 : FMT_BF16;
        if (upload(s, &w, m->raw, row_bytes(d->fmt, m->cols) * m->rows, what, err)) return -1;
    } else {
        d->fmt = m->tier == EWQ_INT8 ? FMT_INT8 : FMT_INT4;
        d->group = m->group, d->ng = ewq_groups_per_row(m->cols, m->group);
        size_t params = sizeof(uint16_t) * m->rows * d->ng;
        if (upload(s, &w, m->q, row_bytes(d->fmt, m->cols) * m->rows, what, err) ||
            upload(s, &scale, m->scale, params, what, err) ||
            (m->tier == EWQ_INT4 && upload(s, &mn, m->min, params, what, err)))
            return -1;
    }
    d->w = w, d->scale = (const __half *)scale, d->min = (const __half *)mn;
    int n = per16(d->fmt);
    d->vec = m->cols % n == 0 && (m->tier == EWQ_RAW || m->group % n == 0);
    return 0;
}

/* A norm weight or bias as float32 on the device (NULL stays NULL). */
static int upload_floats(cuda_state *s, float **p, const ewq_tensor *t, ewq_err *err) {
    *p = NULL;
    if (!t) return 0;
    float *f = (float *)malloc(sizeof(float) * (size_t)t->numel);
    if (!f) return ewq_fail(err, "cuda", "out of host memory");
    for (int64_t i = 0; i < t->numel; i++) {
        const uint16_t *h = (const uint16_t *)t->data;
        f[i] = t->dtype == EWQ_F32 ? ((const float *)t->data)[i] : t->dtype == EWQ_F16 ? ewq_f16_to_f32(h[i]) : ewq_bf16_to_f32(h[i]);
    }
    int rc = upload(s, (void **)p, f, sizeof(float) * (size_t)t->numel, t->name, err);
    free(f);
    return rc;
}

static void cuda_free(ewq_backend *b) {
    cuda_state *s = (cuda_state *)b->state;
    if (!s) return;
    if (s->graph) cudaGraphExecDestroy(s->graph);
    if (s->stream) cudaStreamDestroy(s->stream);
    cudaFreeHost(s->host_step), cudaFreeHost(s->host_logits), cudaFreeHost(s->host_choice);
    for (int i = 0; i < s->n_allocs; i++) cudaFree(s->allocs[i]);
    free(s->allocs);
    free(s->layers), free(s->held), free(s->n_held);
    free(s);
    b->state = NULL;
}

/* The same matrix: one ewq_qmat is a copy of the other (the same host arrays). */
static int same_matrix(const ewq_qmat *a, const ewq_qmat *b) {
    return a->tier == b->tier && a->rows == b->rows && a->cols == b->cols && a->group == b->group &&
           a->dtype == b->dtype && a->raw == b->raw && a->q == b->q && a->scale == b->scale && a->min == b->min;
}

/* Lists in s->held, for every block linear, p's matrix first, then each alternative's unless an earlier entry is
 * the same; returns their bytes beyond p's own. */
static size_t hold_linears(cuda_state *s, const ewq_packed *p, const ewq_packed *alts, int n_alts) {
    size_t more = 0;
    for (int i = 0; i < p->model->cfg.n_layers * EWQ_N_LINEAR; i++) {
        held_linear *h = s->held + (size_t)i * s->per_linear;
        h[0].host = p->linear[i], s->n_held[i] = 1;
        for (int a = 0; a < n_alts; a++) {
            const ewq_qmat *q = &alts[a].linear[i];
            int j = 0;
            while (j < s->n_held[i] && !same_matrix(&h[j].host, q)) j++;
            if (j < s->n_held[i]) continue;
            h[s->n_held[i]++].host = *q;
            more += ewq_weight_bytes(q->tier, q->dtype, q->rows, q->cols, q->group);
        }
    }
    return more;
}

/* Points each layer's linears at the device copies of what p->linear names now (a caller may change it between
 * calls: ewq_cuda_init_tiers); a change drops the captured decode step, whose launches hold the old ones. */
static int select_linears(ewq_backend *b, ewq_err *err) {
    cuda_state *s = (cuda_state *)b->state;
    const ewq_packed *p = b->packed;
    int changed = 0;
    for (int i = 0; i < p->model->cfg.n_layers * EWQ_N_LINEAR; i++) {
        dlayer *L = &s->layers[i / EWQ_N_LINEAR];
        const held_linear *h = s->held + (size_t)i * s->per_linear;
        int k = i % EWQ_N_LINEAR, j = L->chosen[k];
        if (same_matrix(&h[j].host, &p->linear[i])) continue;
        for (j = 0; j < s->n_held[i] && !same_matrix(&h[j].host, &p->linear[i]); j++) {}
        if (j == s->n_held[i])
            return ewq_fail(err, "cuda", "%s: the matrix asked for is not among those on the device (ewq_cuda_init_tiers)",
                            p->model->blocks[i / EWQ_N_LINEAR].linear[k]->name);
        L->chosen[k] = j, L->w[k] = h[j].dev, changed = 1;
        if (k == EWQ_O) L->o_grid = h[j].o_grid;
    }
    if (changed && s->graph) {
        cudaGraphExecDestroy(s->graph);
        s->graph = NULL;
    }
    return 0;
}

/* Dynamic shared memory of a prefill attention block: q of its positions, the keys and values of a step and
 * their probabilities; a function of the head width alone. */
static size_t attention_smem(int d) {
    return sizeof(float) * ((size_t)(ATTN_ROWS + ATTN_KEYS) * (d + 1) + (size_t)ATTN_KEYS * d + ATTN_ROWS * (ATTN_KEYS + 1));
}

static int attention_block(ewq_backend *b, int l, int n, int pos, ewq_err *err) {
    cuda_state *s = (cuda_state *)b->state;
    const ewq_config *c = &b->packed->model->cfg;
    const dlayer *L = &s->layers[l];
    int d = c->head_dim;
    size_t cache = (size_t)l * b->max_ctx * c->n_kv_heads * d;
    LAUNCH("rmsnorm", rmsnorm<<<n, 256>>>(s->xb, s->x, L->attn_norm, c->hidden, (float)c->rms_eps));
    if (product(&L->w[EWQ_Q], s->xb, n, s->q, 0, err) || product(&L->w[EWQ_K], s->xb, n, s->k, 0, err) ||
        product(&L->w[EWQ_V], s->xb, n, s->v, 0, err))
        return -1;
    qkv_args a = {s->q, s->kcache + cache, s->vcache + cache, s->k, s->v, {L->bias[0], L->bias[1], L->bias[2]},
                  L->q_norm, L->k_norm, s->rope_cos, s->rope_sin, pos, c->n_heads, c->n_kv_heads, d, (float)c->rms_eps};
    LAUNCH("qkv_finish", qkv_finish<<<dim3(c->n_heads + c->n_kv_heads, n), 32, sizeof(float) * d>>>(a));
    LAUNCH("attention", attention<<<dim3(c->n_heads, (n + ATTN_ROWS - 1) / ATTN_ROWS), ATTN_THREADS, attention_smem(d)>>>(
        s->q, s->kcache + cache, s->vcache + cache, s->att, pos, n, c->n_heads, c->n_kv_heads, d, c->sliding_window));
    return product(&L->w[EWQ_O], s->att, n, s->x, 1, err);   /* x += o_proj(att) */
}

static int mlp_block(ewq_backend *b, int l, int n, ewq_err *err) {
    cuda_state *s = (cuda_state *)b->state;
    const ewq_config *c = &b->packed->model->cfg;
    const dlayer *L = &s->layers[l];
    size_t f = (size_t)n * c->intermediate;
    LAUNCH("rmsnorm", rmsnorm<<<n, 256>>>(s->xb, s->x, L->ffn_norm, c->hidden, (float)c->rms_eps));
    if (product(&L->w[EWQ_GATE], s->xb, n, s->hb, 0, err) || product(&L->w[EWQ_UP], s->xb, n, s->hb2, 0, err))
        return -1;
    LAUNCH("silu_mul", silu_mul<<<(unsigned)((f + 255) / 256), 256>>>(s->hb, s->hb2, f));
    return product(&L->w[EWQ_DOWN], s->hb, n, s->x, 1, err);   /* x += down(SiLU(gate) * up) */
}

/* Every launch of one decode step on s->stream, reading the token and its position from s->step: 2 per
 * token and 4 per layer (a model whose layers each keep one tier; a layer mixing them takes more): q/k/v,
 * attention with o_proj, gate and up, down. */
static int decode_enqueue(ewq_backend *b, ewq_err *err) {
    cuda_state *s = (cuda_state *)b->state;
    const ewq_config *c = &b->packed->model->cfg;
    int d = c->head_dim, qd = c->n_heads * d;
    float eps = (float)c->rms_eps;
    cudaStream_t st = s->stream;
    if (embed_rows(&s->embed, s->step, 1, s->x, st, err)) return -1;
    for (int l = 0; l < c->n_layers; l++) {
        const dlayer *L = &s->layers[l];
        size_t cache = (size_t)l * b->max_ctx * c->n_kv_heads * d;
        dec_args a = {};   /* x = x + o_proj(attention(qkv(norm(x)))) */
        a.job[0] = {L->w[EWQ_Q], s->q, 0, 0, 0}, a.job[1] = {L->w[EWQ_K], s->k, 0, 0, 0}, a.job[2] = {L->w[EWQ_V], s->v, 0, 0, 0};
        a.jobs = 3, a.x = s->x, a.norm = L->attn_norm, a.cols = c->hidden, a.eps = eps;
        if (decode_product(a, st, err)) return -1;
        attn_args at = {s->q, s->k, s->v, {L->bias[0], L->bias[1], L->bias[2]}, L->q_norm, L->k_norm, s->rope_cos,
                        s->rope_sin, s->kcache + cache, s->vcache + cache, s->attn_part, s->att, s->attn_arrived,
                        s->attn_arrived + c->n_heads, s->step + 1, c->n_heads, c->n_kv_heads, d, c->sliding_window,
                        s->splits, eps};
        dec_job o = {L->w[EWQ_O], s->x, 1, 0, dec_parts(&L->w[EWQ_O], unit_of(&L->w[EWQ_O]), ATTN_O_WARPS)};
        size_t smem = attn_o_smem(d, qd);
        switch (o.m.fmt) {
        case FMT_F32: launch_attn_o<FMT_F32>(at, o, unit_of(&o.m), L->o_grid, smem, st); break;
        case FMT_F16: launch_attn_o<FMT_F16>(at, o, unit_of(&o.m), L->o_grid, smem, st); break;
        case FMT_BF16: launch_attn_o<FMT_BF16>(at, o, unit_of(&o.m), L->o_grid, smem, st); break;
        case FMT_INT8: launch_attn_o<FMT_INT8>(at, o, unit_of(&o.m), L->o_grid, smem, st); break;
        default: launch_attn_o<FMT_INT4>(at, o, unit_of(&o.m), L->o_grid, smem, st); break;
        }
        if (launched("attention_o_proj", err)) return -1;
        a = dec_args{};   /* x = x + down(SiLU(gate(norm(x))) * up(norm(x))) */
        a.job[0] = {L->w[EWQ_GATE], s->hb, 0, 0, 0}, a.job[1] = {L->w[EWQ_UP], s->hb2, 0, 0, 0};
        a.jobs = 1, a.glu = 1, a.x = s->x, a.norm = L->ffn_norm, a.cols = c->hidden, a.eps = eps;
        if (a.job[0].m.fmt != a.job[1].m.fmt || unit_of(&a.job[0].m) != unit_of(&a.job[1].m)) {
            a.glu = 0, a.jobs = 2;
            if (decode_product(a, st, err)) return -1;
            LAUNCH("silu_mul", silu_mul<<<(unsigned)((c->intermediate + 255) / 256), 256, 0, st>>>(s->hb, s->hb2, c->intermediate));
        } else if (decode_product(a, st, err)) {
            return -1;
        }
        a = dec_args{};
        a.job[0] = {L->w[EWQ_DOWN], s->x, 1, 0, 0}, a.jobs = 1, a.x = s->hb, a.cols = c->intermediate;
        if (decode_product(a, st, err)) return -1;
    }
    dec_args a = {};   /* logits = lm_head(norm(x)) */
    a.job[0] = {s->lm_head, s->logits, 0, 0, 0}, a.jobs = 1, a.x = s->x, a.norm = s->final_norm, a.cols = c->hidden, a.eps = eps;
    return decode_product(a, st, err);
}

/* One position: token at pos, its logits into `logits` (NULL: left in s->logits, the step not waited for). The step is captured into a
 * CUDA graph the first time and replayed after: one graph launch per token instead of 4 per layer
 * (EWQ_CUDA_SYNC=1, which waits after each launch, cannot be captured: the launches go one by one). */
static int decode_step(ewq_backend *b, int token, int pos, float *logits, ewq_err *err) {
    cuda_state *s = (cuda_state *)b->state;
    size_t vocab = (size_t)b->packed->model->cfg.vocab;
    s->host_step[0] = token, s->host_step[1] = pos;
    CUDA_TRY(cudaMemcpyAsync(s->step, s->host_step, 2 * sizeof(int), cudaMemcpyHostToDevice, s->stream));
    if (sync_each_launch) {
        if (decode_enqueue(b, err)) return -1;
    } else if (!s->graph) {
        cudaGraph_t g;
        CUDA_TRY(cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeThreadLocal));
        int rc = decode_enqueue(b, err);
        cudaError_t e = cudaStreamEndCapture(s->stream, &g);
        if (rc || e != cudaSuccess) {
            if (e == cudaSuccess) cudaGraphDestroy(g);
            return rc ? -1 : ewq_fail(err, "cuda", "capturing the decode step: %s", cudaGetErrorString(e));
        }
        e = cudaGraphInstantiate(&s->graph, g, 0);
        cudaGraphDestroy(g);
        if (e != cudaSuccess) return ewq_fail(err, "cuda", "instantiating the decode step: %s", cudaGetErrorString(e));
    }
    if (!sync_each_launch) CUDA_TRY(cudaGraphLaunch(s->graph, s->stream));
    if (!logits) return 0;   /* next_token's: it waits for its choice instead */
    CUDA_TRY(cudaMemcpyAsync(s->host_logits, s->logits, sizeof(float) * vocab, cudaMemcpyDeviceToHost, s->stream));
    CUDA_TRY(cudaStreamSynchronize(s->stream));
    memcpy(logits, s->host_logits, sizeof(float) * vocab);
    return 0;
}

/* n <= chunk positions from pos; logits of all of them or of the last, into `logits` or, when that is NULL
 * and the chunk is the `last` of its call, into s->logits only (NULL otherwise: none wanted). */
static int forward_chunk(ewq_backend *b, const int *tokens, int n, int pos, float *logits, int all, int last,
                         ewq_err *err) {
    cuda_state *s = (cuda_state *)b->state;
    const ewq_config *c = &b->packed->model->cfg;
    int h = c->hidden;
    CUDA_TRY(cudaMemcpy(s->tokens, tokens, sizeof(int) * (size_t)n, cudaMemcpyHostToDevice));
    if (embed_rows(&s->embed, s->tokens, n, s->x, 0, err)) return -1;
    for (int l = 0; l < c->n_layers; l++)
        if (attention_block(b, l, n, pos, err) || mlp_block(b, l, n, err)) return -1;
    if (!logits && !last) return 0;
    int first = all ? 0 : n - 1;
    float *xf = s->xb + (size_t)first * h;
    LAUNCH("rmsnorm", rmsnorm<<<n - first, 256>>>(xf, s->x + (size_t)first * h, s->final_norm, h, (float)c->rms_eps));
    if (product(&s->lm_head, xf, n - first, s->logits, 0, err)) return -1;
    if (logits) CUDA_TRY(cudaMemcpy(logits, s->logits, sizeof(float) * (size_t)(n - first) * c->vocab, cudaMemcpyDeviceToHost));
    return 0;
}

/* forward (ewq.h); logits NULL: the last position's are left in s->logits, on the device only (a decode
 * step computes them there in any case). */
static int cuda_forward(ewq_backend *b, const int *tokens, int n, int pos, float *logits, int all, ewq_err *err) {
    const ewq_packed *P = b->packed;
    const ewq_config *c = &P->model->cfg;
    cuda_state *s = (cuda_state *)b->state;
    if (ewq_forward_check(b, tokens, n, pos, err) || select_linears(b, err)) return -1;
    for (int done = 0; done < n; done += s->chunk) {
        int m = n - done < s->chunk ? n - done : s->chunk, last = done + m == n;
        float *out = !logits ? NULL : all ? logits + (size_t)done * c->vocab : last ? logits : NULL;
        if (m == 1 ? decode_step(b, tokens[done], pos + done, out, err)
                   : forward_chunk(b, tokens + done, m, pos + done, out, all && logits, last, err))
            return -1;
    }
    return 0;
}

/* next_token (ewq.h): the logits stay on the device; argmax_logits sends down the id and whether any logit
 * is not finite (then the logits follow, so that the error names the first such id as the CPU's does). */
static int cuda_next_token(ewq_backend *b, const int *tokens, int n, int pos, int *id, ewq_err *err) {
    cuda_state *s = (cuda_state *)b->state;
    int vocab = b->packed->model->cfg.vocab;
    if (cuda_forward(b, tokens, n, pos, NULL, 0, err)) return -1;
    LAUNCH("argmax_logits", argmax_logits<<<1, ARGMAX_THREADS, 0, s->stream>>>(s->logits, vocab, s->choice));
    CUDA_TRY(cudaMemcpyAsync(s->host_choice, s->choice, 2 * sizeof(int), cudaMemcpyDeviceToHost, s->stream));
    CUDA_TRY(cudaStreamSynchronize(s->stream));
    if (s->host_choice[1]) {
        CUDA_TRY(cudaMemcpy(s->host_logits, s->logits, sizeof(float) * vocab, cudaMemcpyDeviceToHost));
        return ewq_check_logits(b, s->host_logits, pos + n - 1, err) ? -1
               : ewq_fail(err, "cuda", "argmax_logits found a logit that is not finite, but the copy has none");
    }
    *id = s->host_choice[0];
    return 0;
}

/* score and score_ref (ewq.h): each pass's logits stay on the device and score_rows sends down a double per
 * position (with `against`, its KL divergence from the kept reference and their agreement too); with `keep`, the
 * pass's logits are copied beside the reference's kept so far. At the first NaN (a logit not finite) that row's
 * logits follow, so that the error names the position and the first such id as the CPU's check does (a kept
 * reference was checked so when it was scored). */
static int score_passes(ewq_backend *b, const int *tokens, int n, int pos, int keep, int against, double *nll,
                        double *kl, int *agree, ewq_err *err) {
    cuda_state *s = (cuda_state *)b->state;
    int vocab = b->packed->model->cfg.vocab;
    if (ewq_forward_check(b, tokens, n, pos, err) || select_linears(b, err)) return -1;
    if (keep && n - 1 > s->ref_rows)
        return ewq_fail(err, "cuda", "%d positions to keep as the reference, room for %d", n - 1, s->ref_rows);
    if (against && (s->ref_n != n || s->ref_pos != pos))
        return ewq_fail(err, "cuda", "no reference kept for positions %d..%d (score_ref keeps one first)", pos, pos + n - 2);
    if (keep) s->ref_n = 0;   /* none until the whole is kept */
    for (int done = 0; done < n; done += s->chunk) {
        int m = n - done < s->chunk ? n - done : s->chunk, rows = done + m < n ? m : m - 1;
        if (m == 1 ? decode_step(b, tokens[done], pos + done, NULL, err)
                   : forward_chunk(b, tokens + done, m, pos + done, NULL, 1, 1, err))
            return -1;
        if (rows == 0) continue;
        CUDA_TRY(cudaMemcpyAsync(s->next, tokens + done + 1, sizeof(int) * (size_t)rows, cudaMemcpyHostToDevice, s->stream));
        const float *ref = against ? s->ref_logits + (size_t)done * vocab : NULL;
        LAUNCH("score_rows", score_rows<<<rows, NLL_THREADS, 0, s->stream>>>(s->logits, ref, vocab, s->next, s->nll,
                                                                             s->kl, s->agree));
        CUDA_TRY(cudaMemcpyAsync(nll + done, s->nll, sizeof(double) * (size_t)rows, cudaMemcpyDeviceToHost, s->stream));
        if (against) {
            CUDA_TRY(cudaMemcpyAsync(kl + done, s->kl, sizeof(double) * (size_t)rows, cudaMemcpyDeviceToHost, s->stream));
            CUDA_TRY(cudaMemcpyAsync(agree + done, s->agree, sizeof(int) * (size_t)rows, cudaMemcpyDeviceToHost, s->stream));
        }
        if (keep)
            CUDA_TRY(cudaMemcpyAsync(s->ref_logits + (size_t)done * vocab, s->logits, sizeof(float) * (size_t)rows * vocab,
                                     cudaMemcpyDeviceToDevice, s->stream));
        CUDA_TRY(cudaStreamSynchronize(s->stream));
        for (int j = 0; j < rows; j++) {
            if (isfinite(nll[done + j])) continue;
            CUDA_TRY(cudaMemcpy(s->host_logits, s->logits + (size_t)j * vocab, sizeof(float) * vocab, cudaMemcpyDeviceToHost));
            if (ewq_check_logits(b, s->host_logits, pos + done + j, err)) return -1;
            return ewq_fail(err, "cuda", "score_rows found a logit that is not finite at position %d, but the copy has none",
                            pos + done + j);
        }
    }
    if (keep) {
        for (int j = 0; j < n - 1; j++) kl[j] = 0, agree[j] = 1;
        s->ref_n = n, s->ref_pos = pos;
    }
    return 0;
}

static int cuda_score(ewq_backend *b, const int *tokens, int n, int pos, double *nll, ewq_err *err) {
    return score_passes(b, tokens, n, pos, 0, 0, nll, NULL, NULL, err);
}

static int cuda_score_ref(ewq_backend *b, const int *tokens, int n, int pos, int keep, double *nll, double *kl,
                          int *agree, ewq_err *err) {
    return score_passes(b, tokens, n, pos, keep, !keep, nll, kl, agree, err);
}

/* Device bytes the backend needs beyond the weights: KV cache, activations, logits, tables. */
static size_t state_bytes(const ewq_config *c, int max_ctx, int chunk) {
    size_t kv = 2 * sizeof(float) * c->n_layers * (size_t)max_ctx * c->n_kv_heads * c->head_dim;
    size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim, h = c->hidden;
    size_t act = sizeof(float) * chunk * (h + (h > qd ? h : qd) + 2 * qd + 2 * kvd + 2 * (size_t)c->intermediate + c->vocab);
    size_t part = sizeof(float) * (size_t)c->n_heads * ((max_ctx + SPLIT_KEYS - 1) / SPLIT_KEYS) * (c->head_dim + 2);
    return kv + act + part + sizeof(float) * (size_t)max_ctx * c->head_dim + sizeof(int) * (2 * (size_t)chunk + c->n_heads + 6) +
           sizeof(double) * (size_t)chunk;
}

static int cuda_setup(ewq_backend *b, const ewq_packed *p, const ewq_packed *alts, int n_alts, int max_ctx, ewq_err *err) {
    const ewq_model *m = p->model;
    const ewq_config *c = &m->cfg;
    cuda_state *s = (cuda_state *)b->state;
    int d = c->head_dim, half = d / 2, smem_max = 0, nl = c->n_layers * EWQ_N_LINEAR;
    for (int a = 0; a < n_alts; a++)
        if (alts[a].model != m) return ewq_fail(err, "cuda", "alternative weights %d were packed from another model", a);
    /* refuse before allocating when the whole does not fit */
    size_t weights = ewq_packed_bytes(p) + hold_linears(s, p, alts, n_alts);
    size_t ref = s->ref_rows ? sizeof(float) * s->ref_rows * (size_t)c->vocab + (sizeof(double) + sizeof(int)) * s->chunk : 0;
    size_t need = weights + state_bytes(c, max_ctx, s->chunk) + ref, free_b, total;
    CUDA_TRY(cudaMemGetInfo(&free_b, &total));
    if (need > free_b)
        return ewq_fail(err, "cuda", "the model needs %zu bytes of device memory (weights %zu, KV cache and activations "
                        "for a context of %d: %zu), but only %zu of %zu are free", need, weights, max_ctx,
                        need - weights, free_b, total);
    /* the prefill attention's limit: its need at the widest head it takes, the same for every backend (the
     * limit belongs to the function, so to every backend of the process) */
    if (d > ATTN_DIM_MAX)
        return ewq_fail(err, "cuda", "head_dim %d is wider than the attention kernel's %d", d, ATTN_DIM_MAX);
    CUDA_TRY(cudaDeviceGetAttribute(&smem_max, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
    CUDA_TRY(cudaFuncSetAttribute(attention, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)attention_smem(ATTN_DIM_MAX)));
    /* a decode product holds its whole input in shared memory, beside block_reduce's 32 floats and its
     * warps' shares (static: a launch's static and dynamic bytes together must fit the limit) */
    int widest = c->hidden > c->intermediate ? c->hidden : c->intermediate;
    widest = widest > c->n_heads * d ? widest : c->n_heads * d;
    size_t dec_need = dec_smem(widest), dec_static = sizeof(float) * (32 + 2 * MATVEC_WARPS * MATVEC_ROWS);
    if (dec_need + dec_static > (size_t)smem_max)
        return ewq_fail(err, "cuda", "rows of %d values exceed the decode products' shared memory (%d bytes)", widest, smem_max);
    if (dec_need + dec_static > dec_smem_limit) {
        cudaError_t e = raise_dec_smem<FMT_F32>((int)dec_need);
        if (e == cudaSuccess) e = raise_dec_smem<FMT_F16>((int)dec_need);
        if (e == cudaSuccess) e = raise_dec_smem<FMT_BF16>((int)dec_need);
        if (e == cudaSuccess) e = raise_dec_smem<FMT_INT8>((int)dec_need);
        if (e == cudaSuccess) e = raise_dec_smem<FMT_INT4>((int)dec_need);
        if (e != cudaSuccess) return ewq_fail(err, "cuda", "decode products' shared memory: %s", cudaGetErrorString(e));
        dec_smem_limit = dec_need + dec_static;
    }

    if (upload_qmat(s, &s->embed, &p->embed, m->embed->name, err)) return -1;
    if (p->lm_head_shared) s->lm_head = s->embed;
    else if (upload_qmat(s, &s->lm_head, &p->lm_head, m->lm_head->name, err)) return -1;
    for (int i = 0; i < nl; i++)
        for (int j = 0; j < s->n_held[i]; j++) {
            held_linear *h = &s->held[(size_t)i * s->per_linear + j];
            if (upload_qmat(s, &h->dev, &h->host, m->blocks[i / EWQ_N_LINEAR].linear[i % EWQ_N_LINEAR]->name, err))
                return -1;
        }
    for (int l = 0; l < c->n_layers; l++) {
        const ewq_block *B = &m->blocks[l];
        dlayer *L = &s->layers[l];
        for (int k = 0; k < EWQ_N_LINEAR; k++) L->w[k] = s->held[((size_t)l * EWQ_N_LINEAR + k) * s->per_linear].dev;
        if (upload_floats(s, &L->attn_norm, B->attn_norm, err) || upload_floats(s, &L->ffn_norm, B->ffn_norm, err) ||
            upload_floats(s, &L->q_norm, B->q_norm, err) || upload_floats(s, &L->k_norm, B->k_norm, err) ||
            upload_floats(s, &L->bias[0], B->bias[0], err) || upload_floats(s, &L->bias[1], B->bias[1], err) ||
            upload_floats(s, &L->bias[2], B->bias[2], err))
            return -1;
    }
    if (upload_floats(s, &s->final_norm, m->final_norm, err)) return -1;

    float *tab = (float *)malloc(sizeof(float) * 2 * (size_t)max_ctx * half);
    if (!tab) return ewq_fail(err, "cuda", "out of host memory");
    ewq_rope_tables(c, max_ctx, tab, tab + (size_t)max_ctx * half);
    int rc = upload(s, (void **)&s->rope_cos, tab, sizeof(float) * (size_t)max_ctx * half, "the RoPE table", err) ||
             upload(s, (void **)&s->rope_sin, tab + (size_t)max_ctx * half, sizeof(float) * (size_t)max_ctx * half,
                    "the RoPE table", err);
    free(tab);
    if (rc) return -1;

    size_t kv = sizeof(float) * c->n_layers * (size_t)max_ctx * c->n_kv_heads * d;
    if (dev_alloc(s, (void **)&s->kcache, kv, "the KV cache", err) || dev_alloc(s, (void **)&s->vcache, kv, "the KV cache", err))
        return -1;
    CUDA_TRY(cudaMemset(s->kcache, 0, kv));
    CUDA_TRY(cudaMemset(s->vcache, 0, kv));
    size_t N = (size_t)s->chunk, qd = (size_t)c->n_heads * d, kvd = (size_t)c->n_kv_heads * d, h = c->hidden,
           f = c->intermediate;
    float **bufs[] = {&s->x, &s->xb, &s->q, &s->k, &s->v, &s->att, &s->hb, &s->hb2, &s->logits};
    size_t widths[] = {h, h > qd ? h : qd, qd, kvd, kvd, qd, f, f, (size_t)c->vocab};
    for (int i = 0; i < 9; i++)
        if (dev_alloc(s, (void **)bufs[i], sizeof(float) * N * widths[i], "activations", err)) return -1;
    if (dev_alloc(s, (void **)&s->tokens, sizeof(int) * N, "activations", err) ||
        dev_alloc(s, (void **)&s->next, sizeof(int) * N, "activations", err) ||
        dev_alloc(s, (void **)&s->nll, sizeof(double) * N, "activations", err))
        return -1;
    if (s->ref_rows && (dev_alloc(s, (void **)&s->ref_logits, sizeof(float) * s->ref_rows * (size_t)c->vocab,
                                  "the reference's logits", err) ||
                        dev_alloc(s, (void **)&s->kl, sizeof(double) * N, "activations", err) ||
                        dev_alloc(s, (void **)&s->agree, sizeof(int) * N, "activations", err)))
        return -1;

    s->splits = (max_ctx + SPLIT_KEYS - 1) / SPLIT_KEYS;
    if (dev_alloc(s, (void **)&s->attn_part, sizeof(float) * c->n_heads * (size_t)s->splits * (d + 2), "attention", err) ||
        dev_alloc(s, (void **)&s->attn_arrived, sizeof(int) * (c->n_heads + 2), "attention", err) ||
        dev_alloc(s, (void **)&s->step, 2 * sizeof(int), "activations", err) ||
        dev_alloc(s, (void **)&s->choice, 2 * sizeof(int), "activations", err))
        return -1;
    CUDA_TRY(cudaMemset(s->attn_arrived, 0, sizeof(int) * (c->n_heads + 2)));
    /* attention_o_proj's grid with each o_proj held: its blocks wait for each other, so no more than the GPU
     * holds at once (with nothing else running, as in the decode graph), and no more than the larger of its two
     * phases uses */
    int sms = 0;
    CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    for (int i = EWQ_O; i < nl; i += EWQ_N_LINEAR)
        for (int j = 0; j < s->n_held[i]; j++) {
            held_linear *h = &s->held[(size_t)i * s->per_linear + j];
            const dmat *o = &h->dev;
            int per_sm = 0, items = c->n_heads * s->splits;
            int rows = dec_row_blocks(o, dec_parts(o, unit_of(o), ATTN_O_WARPS), ATTN_O_WARPS);
            size_t smem = attn_o_smem(d, c->n_heads * d);
            switch (o->fmt) {
            case FMT_F32: CUDA_TRY(attn_o_resident<FMT_F32>(unit_of(o), smem, &per_sm)); break;
            case FMT_F16: CUDA_TRY(attn_o_resident<FMT_F16>(unit_of(o), smem, &per_sm)); break;
            case FMT_BF16: CUDA_TRY(attn_o_resident<FMT_BF16>(unit_of(o), smem, &per_sm)); break;
            case FMT_INT8: CUDA_TRY(attn_o_resident<FMT_INT8>(unit_of(o), smem, &per_sm)); break;
            default: CUDA_TRY(attn_o_resident<FMT_INT4>(unit_of(o), smem, &per_sm)); break;
            }
            if (per_sm < 1) return ewq_fail(err, "cuda", "attention_o_proj cannot keep a block resident (%zu bytes of shared memory)", smem);
            int want = items > rows ? items : rows;
            h->o_grid = per_sm * sms < want ? per_sm * sms : want;
        }
    for (int l = 0; l < c->n_layers; l++) s->layers[l].o_grid = s->held[((size_t)l * EWQ_N_LINEAR + EWQ_O) * s->per_linear].o_grid;
    CUDA_TRY(cudaStreamCreate(&s->stream));
    CUDA_TRY(cudaMallocHost((void **)&s->host_step, 2 * sizeof(int)));
    CUDA_TRY(cudaMallocHost((void **)&s->host_logits, sizeof(float) * c->vocab));
    CUDA_TRY(cudaMallocHost((void **)&s->host_choice, 2 * sizeof(int)));
    return 0;
}

int ewq_cuda_init_tiers(ewq_backend *b, const ewq_packed *p, const ewq_packed *alts, int n_alts, int max_ctx,
                        int ref_rows, ewq_err *err) {
    memset(b, 0, sizeof *b);
    if (max_ctx < 1) return ewq_fail(err, p->model->dir, "context length %d must be at least 1", max_ctx);
    if (n_alts < 0 || (n_alts && !alts)) return ewq_fail(err, "cuda", "%d alternative weights asked for, none given", n_alts);
    if (ref_rows < 0 || ref_rows >= max_ctx)
        return ewq_fail(err, "cuda", "room for %d reference positions asked for, at a context of %d", ref_rows, max_ctx);
    if (no_gpu(err)) return -1;
    const char *sync = getenv("EWQ_CUDA_SYNC");
    sync_each_launch = sync && *sync && strcmp(sync, "0");
    size_t nl = (size_t)p->model->cfg.n_layers * EWQ_N_LINEAR;
    cuda_state *s = (cuda_state *)calloc(1, sizeof *s);
    dlayer *layers = (dlayer *)calloc((size_t)p->model->cfg.n_layers, sizeof(dlayer));
    held_linear *held = (held_linear *)calloc(nl * (size_t)(1 + n_alts), sizeof(held_linear));
    int *n_held = (int *)calloc(nl, sizeof(int));
    if (!s || !layers || !held || !n_held) {
        free(s), free(layers), free(held), free(n_held);
        return ewq_fail(err, "cuda", "out of host memory");
    }
    s->layers = layers, s->held = held, s->n_held = n_held, s->per_linear = 1 + n_alts, s->ref_rows = ref_rows;
    s->chunk = max_ctx < CHUNK ? max_ctx : CHUNK;
    b->name = "cuda";
    b->packed = p;
    b->max_ctx = max_ctx;
    b->state = s;
    b->forward = cuda_forward;
    b->next_token = cuda_next_token;
    b->score = cuda_score;
    b->score_ref = ref_rows ? cuda_score_ref : NULL;
    b->free = cuda_free;
    if (cuda_setup(b, p, alts, n_alts, max_ctx, err)) {
        cuda_free(b);
        return -1;
    }
    return 0;
}

int ewq_cuda_init(ewq_backend *b, const ewq_packed *p, int max_ctx, ewq_err *err) {
    return ewq_cuda_init_tiers(b, p, NULL, 0, max_ctx, 0, err);
}

int ewq_cuda_memory(const ewq_backend *b, size_t *allocated, size_t *in_use, ewq_err *err) {
    size_t free_b, total;
    CUDA_TRY(cudaMemGetInfo(&free_b, &total));
    *allocated = ((const cuda_state *)b->state)->allocated;
    *in_use = total - free_b;
    return 0;
}

/* Best of 10 copies of 512 MiB, timed with events: bytes read + written per second. */
static int time_copies(uint4 *dst, const uint4 *src, size_t bytes, cudaEvent_t e0, cudaEvent_t e1, double *best,
                       ewq_err *err) {
    *best = 0;
    for (int rep = -1; rep < 10; rep++) {   /* rep -1 warms up */
        CUDA_TRY(cudaEventRecord(e0));
        LAUNCH("copy16", copy16<<<4096, 256>>>(dst, src, bytes / 16));
        CUDA_TRY(cudaEventRecord(e1));
        CUDA_TRY(cudaEventSynchronize(e1));
        float ms;
        CUDA_TRY(cudaEventElapsedTime(&ms, e0, e1));
        double bw = 2.0 * (double)bytes / (ms * 1e-3);
        if (rep >= 0 && bw > *best) *best = bw;
    }
    return 0;
}

int ewq_cuda_copy_bandwidth(double *bytes_per_s, ewq_err *err) {
    size_t bytes = (size_t)512 << 20;
    void *a = NULL, *c = NULL;
    cudaEvent_t e0 = NULL, e1 = NULL;
    if (no_gpu(err)) return -1;
    int rc = -1;
    cudaError_t e = cudaMalloc(&a, bytes);
    if (e == cudaSuccess) e = cudaMalloc(&c, bytes);
    if (e == cudaSuccess) e = cudaMemset(a, 1, bytes);
    if (e == cudaSuccess) e = cudaEventCreate(&e0);
    if (e == cudaSuccess) e = cudaEventCreate(&e1);
    if (e != cudaSuccess) ewq_fail(err, "cuda", "copy bandwidth: %s", cudaGetErrorString(e));
    else rc = time_copies((uint4 *)c, (const uint4 *)a, bytes, e0, e1, bytes_per_s, err);
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    cudaFree(a), cudaFree(c);
    return rc;
}
