/* tests/cuda/emu/test_emu.cu — the emulation's own checks: what it must do right for test_cuda to mean
 * anything (barriers order memory, shuffles exchange the right lanes, indices and launch limits are
 * CUDA's), and what it must refuse (each fault kind aborts naming kernel, block and thread). Built
 * like ewq_cuda.cu: hostify.sh, then a C++ compiler with this folder first on the include path.
 * Every expected value is computed here by plain loops on the host. Faults run in a child process. */
#include <cuda_runtime.h>

#include <sys/wait.h>
#include <unistd.h>

#include "tests/test.h"

static int failures;
static void expect(int ok, const char *name, const char *fmt, long v) {
    if (!check(ok, name, fmt, v)) failures++;
}

/* Each thread writes its id, then (after the barrier) reads its neighbour's: needs __syncthreads to
 * order every write before every read, whatever order the threads run in. */
__global__ void rotate(int *out) {
    __shared__ int s[1024];
    int n = blockDim.x * blockDim.y, t = threadIdx.y * blockDim.x + threadIdx.x;
    s[t] = t + 1000 * blockIdx.x;
    __syncthreads();
    out[blockIdx.x * n + t] = s[(t + 1) % n];
}

/* Butterfly sum over the warp, and one xor exchange kept per lane. */
__global__ void shuffles(float *sum, float *swapped) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = (float)i;
    swapped[i] = __shfl_xor_sync(0xffffffffu, v, 5);
    for (int o = 16; o; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    sum[i] = v;
}

/* Indices and dimensions of a 3-D launch. */
__global__ void where(int *out) {
    int b = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    int t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    out[b * blockDim.x * blockDim.y * blockDim.z + t] = b * 10000 + t;
}

/* Dynamic shared memory: its first byte, as the block finds it (poisoned: 0xA5), then written. */
__global__ void first_byte(int *out) {
    extern __shared__ unsigned char dyn[];
    if (threadIdx.x == 0) out[blockIdx.x] = dyn[0], dyn[0] = 1;
}

/* __byte_perm with the selectors CUDA's documentation explains, and __ldcs beside __ldg. */
__global__ void permute(const unsigned *in, unsigned *out) {
    unsigned x = in[0], y = in[1];
    out[0] = __byte_perm(x, y, 0x3210), out[1] = __byte_perm(x, y, 0x7654), out[2] = __byte_perm(x, y, 0x0123);
    out[3] = __byte_perm(x, y, 0x7650), out[4] = __byte_perm(x, y, 0xfedc);   /* only the low 3 bits of a selector count */
    out[5] = __ldcs(in + 1);
}

/* mma.sync m16n8k16 (bf16, float32 accumulators): each warp of each block multiplies its own A (16 x 16,
 * row-major) and B (16 x 8, row-major here) twice onto C (16 x 8): D = C + 2 A B. The fragments are built
 * from the PTX ISA's formulas for element i of each operand (g = lane / 4, t = lane % 4); the operands hold
 * small integers, so D is exact. */
__device__ unsigned bf16_pair(float lo, float hi) {
    unsigned l, h;
    memcpy(&l, &lo, 4), memcpy(&h, &hi, 4);
    return l >> 16 | (h & 0xffff0000u);
}
__global__ void mma_twice(const float *a, const float *b, const float *c, float *d) {
    int w = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const float *A = a + 256 * w, *B = b + 128 * w;
    float av[8], bv[4], acc[4];
    for (int i = 0; i < 8; i++) av[i] = A[16 * (g + 8 * (i / 2 % 2)) + 2 * t + (i & 1) + 8 * (i >= 4)];
    for (int i = 0; i < 4; i++) bv[i] = B[8 * (2 * t + (i & 1) + 8 * (i >= 2)) + g];
    for (int i = 0; i < 4; i++) acc[i] = c[128 * w + 8 * (g + 8 * (i >= 2)) + 2 * t + (i & 1)];
    unsigned af[4] = {bf16_pair(av[0], av[1]), bf16_pair(av[2], av[3]), bf16_pair(av[4], av[5]), bf16_pair(av[6], av[7])};
    unsigned bf[2] = {bf16_pair(bv[0], bv[1]), bf16_pair(bv[2], bv[3])};
    emu_mma_m16n8k16_bf16(acc, af, bf);
    emu_mma_m16n8k16_bf16(acc, af, bf);
    for (int i = 0; i < 4; i++) d[128 * w + 8 * (g + 8 * (i >= 2)) + 2 * t + (i & 1)] = acc[i];
}
__global__ void mma_half_warp(float *d) {
    float acc[4] = {0, 0, 0, 0};
    unsigned af[4] = {0, 0, 0, 0}, bf[2] = {0, 0};
    emu_mma_m16n8k16_bf16(acc, af, bf);
    d[threadIdx.x] = acc[0];
}

/* cp.async: each thread copies two 16-byte pieces of src to shared memory, one group each, and records
 * what its destinations hold before any wait, after waiting for all but the latest group, and after
 * waiting for all: in flight, a copy's destination must not hold the source yet. */
__global__ void copies_in_flight(const uint4 *src, uint4 *seen) {
    __shared__ uint4 stage[2][64];
    int t = threadIdx.x;
    emu_cp_async16(&stage[0][t], src + t);
    emu_cp_async_commit();
    emu_cp_async16(&stage[1][t], src + 64 + t);
    emu_cp_async_commit();
    seen[t] = stage[0][t];
    emu_cp_async_wait(1);
    seen[64 + t] = stage[0][t], seen[128 + t] = stage[1][t];
    emu_cp_async_wait(0);
    seen[192 + t] = stage[1][t];
}
__global__ void copy_never_waited(const uint4 *src) {
    __shared__ uint4 stage[32];
    emu_cp_async16(&stage[threadIdx.x], src + threadIdx.x);
    emu_cp_async_commit();
}
__global__ void copy_misaligned(const uint4 *src) {
    __shared__ uint4 stage[2];
    emu_cp_async16((unsigned char *)stage + 8, src);
    emu_cp_async_commit();
    emu_cp_async_wait(0);
}

/* Graph capture: k is baked into the capture, src is read at each replay. */
__global__ void add_from(const int *src, int *dst, int k) { dst[threadIdx.x] = src[threadIdx.x] + k; }
/* Each block takes a ticket: distinct, 0 .. blocks - 1. */
__global__ void ticket(int *counter, int *order) {
    if (threadIdx.x == 0) order[blockIdx.x] = atomicAdd(counter, 1);
}

/* A grid-wide wait as a kernel spins for it: every block writes its number, thread 0 counts the block in
 * and sleeps until all have arrived, then each block adds up every block's number. Its static shared
 * variable must stay its own while other blocks run. */
__global__ void grid_wait(int *arrived, int *number, int *sums) {
    __shared__ int own;
    if (threadIdx.x == 0) own = 1000 * (int)blockIdx.x, number[blockIdx.x] = (int)blockIdx.x + 1;
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        atomicAdd(arrived, 1);
        while (*(volatile int *)arrived < (int)gridDim.x) __nanosleep(100);
    }
    __syncthreads();
    int sum = 0;
    for (unsigned b = 0; b < gridDim.x; b++) sum += number[b];
    if (threadIdx.x == 0) sums[blockIdx.x] = sum + own;
}
/* the blocks of grid_wait that can be resident at once (the occupancy API), and one more */
static int grid_wait_blocks(int more) {
    int per_sm = 0, sms = 0;
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, grid_wait, 64, 0);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    int n = per_sm * sms + more, *d = NULL;
    cudaMalloc(&d, sizeof(int) * (size_t)(2 * n + 1));
    cudaMemset(d, 0, sizeof(int));
    grid_wait<<<n, 64>>>(d, d + 1, d + 1 + n);
    cudaMemcpy(d, d, sizeof(int), cudaMemcpyDeviceToHost);   /* a GPU's launch returns before the blocks run */
    return n;
}

/* Faults the emulation must catch. */
__global__ void divergent_barrier(int *out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1;
}
__global__ void early_exit_then_shuffle(float *out) {
    if (threadIdx.x == 3) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}
__global__ void misaligned_load(const float *p, float *out) {
    out[threadIdx.x] = __ldg((const float4 *)(p + 1)).x;
}
__global__ void barriers_crossed(int *out) {
    if (threadIdx.x < 16) __syncwarp();   /* waits for lanes that wait at __syncthreads: never released */
    else __syncthreads();
    out[threadIdx.x] = 1;
}

/* 200,000 bytes of static shared memory: with 40,000 dynamic ones, more than a block can have */
__global__ void too_much_shared(int n) {
    __shared__ unsigned char big[200000];
    extern __shared__ unsigned char dyn[];
    big[n] = dyn[n];
}

__global__ void overrun(int n) {
    extern __shared__ unsigned char dyn[];
    dyn[n] = 1;   /* one byte past the end */
}

/* Runs fn in a child process; the child must abort with "emu: kernel NAME" and `what` on stderr (or, in a
 * build with AddressSanitizer, fail with its report, where the emulation poisons what it guards). */
static void expect_fault(const char *test, void (*fn)(void), const char *kernel, const char *what) {
    int pipefd[2];
    if (pipe(pipefd)) abort();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        fn();
        fprintf(stderr, "no fault\n");
        _exit(0);
    }
    close(pipefd[1]);
    char msg[1024] = "";
    size_t n = 0;
    ssize_t r;
    while (n < sizeof msg - 1 && (r = read(pipefd[0], msg + n, sizeof msg - 1 - n)) > 0) n += (size_t)r;
    msg[n] = 0;
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    char want[128];
    snprintf(want, sizeof want, "emu: kernel %s, block", kernel);
    int ok = (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(msg, want) && strstr(msg, what)) ||
             (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && strstr(msg, "AddressSanitizer"));
    if (!check(ok, test, "stderr: %.300s", msg)) failures++;
}

static void run_divergent(void) {
    int *d = NULL;
    cudaMalloc(&d, 64 * sizeof(int));
    divergent_barrier<<<1, 32>>>(d);
}
static void run_exited_lane(void) {
    float *d = NULL;
    cudaMalloc(&d, 64 * sizeof(float));
    early_exit_then_shuffle<<<1, 32>>>(d);
}
static void run_misaligned(void) {
    float *d = NULL;
    cudaMalloc(&d, 64 * sizeof(float));
    misaligned_load<<<1, 1>>>(d, d + 32);
}
static void run_mma_half_warp(void) {
    float *d = NULL;
    cudaMalloc(&d, 64 * sizeof(float));
    mma_half_warp<<<1, 48>>>(d);
}
static void run_overrun(void) { overrun<<<1, 1, 64>>>(64); }
static void run_too_much_shared(void) {
    cudaFuncSetAttribute(too_much_shared, cudaFuncAttributeMaxDynamicSharedMemorySize, 40000);
    too_much_shared<<<1, 1, 40000>>>(0);
}
static void run_copy_never_waited(void) {
    uint4 *d = NULL;
    cudaMalloc(&d, 32 * sizeof(uint4));
    copy_never_waited<<<1, 32>>>(d);
}
static void run_copy_misaligned(void) {
    uint4 *d = NULL;
    cudaMalloc(&d, 2 * sizeof(uint4));
    copy_misaligned<<<1, 1>>>(d);
}
static void run_grid_too_large(void) { grid_wait_blocks(1); }
static void run_deadlock(void) {
    int *d = NULL;
    cudaMalloc(&d, 64 * sizeof(int));
    barriers_crossed<<<1, 32>>>(d);
}

int main(void) {
    /* barriers: 3 blocks of 16 x 8 threads */
    int *d = NULL, host[4096];
    cudaMalloc(&d, sizeof host);
    rotate<<<3, dim3(16, 8)>>>(d);
    cudaMemcpy(host, d, 3 * 128 * sizeof(int), cudaMemcpyDeviceToHost);
    int bad = 0;
    for (int b = 0; b < 3; b++)
        for (int t = 0; t < 128; t++) bad += host[b * 128 + t] != (t + 1) % 128 + 1000 * b;
    expect(bad == 0 && cudaGetLastError() == cudaSuccess, "emu/syncthreads-orders-shared-memory", "%ld wrong values", bad);

    /* shuffles: 2 blocks of 64 threads (4 warps) */
    float *fs = NULL, *fx = NULL, sum[128], swapped[128];
    cudaMalloc(&fs, sizeof sum), cudaMalloc(&fx, sizeof swapped);
    shuffles<<<2, 64>>>(fs, fx);
    cudaMemcpy(sum, fs, sizeof sum, cudaMemcpyDeviceToHost);
    cudaMemcpy(swapped, fx, sizeof swapped, cudaMemcpyDeviceToHost);
    bad = 0;
    for (int i = 0; i < 128; i++) {
        int base = i & ~31;
        bad += sum[i] != (float)(32 * base + 496) || swapped[i] != (float)(base + ((i - base) ^ 5));
    }
    expect(bad == 0, "emu/warp-shuffles", "%ld wrong lanes", bad);

    /* a 3-D launch: grid 3 x 2 x 2, block 4 x 3 x 2 */
    where<<<dim3(3, 2, 2), dim3(4, 3, 2)>>>(d);
    cudaMemcpy(host, d, 12 * 24 * sizeof(int), cudaMemcpyDeviceToHost);
    bad = 0;
    for (int b = 0; b < 12; b++)
        for (int t = 0; t < 24; t++) bad += host[b * 24 + t] != b * 10000 + t;
    expect(bad == 0, "emu/3d-indices", "%ld wrong values", bad);

    /* launch limits: as CUDA refuses them, reported by cudaGetLastError (and cleared by it) */
    rotate<<<1, 1025>>>(d);
    cudaError_t e1 = cudaGetLastError(), e2 = cudaGetLastError();
    expect(e1 == cudaErrorInvalidConfiguration && e2 == cudaSuccess, "emu/too-many-threads", "error %ld", e1);
    first_byte<<<1, 32, 49153>>>(d);
    e1 = cudaGetLastError();
    expect(e1 == cudaErrorInvalidValue, "emu/dynamic-shared-over-default-limit", "error %ld", e1);
    cudaFuncSetAttribute(first_byte, cudaFuncAttributeMaxDynamicSharedMemorySize, 65536);
    first_byte<<<2, 32, 49153>>>(d);
    e1 = cudaGetLastError();
    cudaMemcpy(host, d, 2 * sizeof(int), cudaMemcpyDeviceToHost);
    expect(e1 == cudaSuccess && host[0] == 0xA5 && host[1] == 0xA5, "emu/dynamic-shared-raised-and-poisoned",
           "error %ld, or a block saw another block's shared memory", e1);

    /* static shared memory: rotate's 4096 bytes, known once it has run, leave the rest for the dynamic part */
    cudaFuncAttributes fa;
    cudaFuncGetAttributes(&fa, rotate);
    cudaError_t over = cudaFuncSetAttribute(rotate, cudaFuncAttributeMaxDynamicSharedMemorySize, 232448 - 4096 + 1),
                most = cudaFuncSetAttribute(rotate, cudaFuncAttributeMaxDynamicSharedMemorySize, 232448 - 4096);
    expect(fa.sharedSizeBytes == 4096 && over == cudaErrorInvalidValue && most == cudaSuccess, "emu/static-shared-memory",
           "%ld bytes of static shared memory reported, or the dynamic limit set wrong", (long)fa.sharedSizeBytes);

    /* the largest dynamic shared memory asked for, per kernel, since the last question */
    size_t peak1 = emu_dynamic_smem_peak("first_byte"), peak2 = emu_dynamic_smem_peak("first_byte");
    expect(peak1 == 49153 && peak2 == 0, "emu/dynamic-shared-peak", "%ld bytes", (long)peak1);

    /* an injected fault: the launch reports nothing, the next synchronizing call the fault, once */
    emu_fault_launch(2);
    where<<<1, 1>>>(d);
    rotate<<<1, 32>>>(d);
    e1 = cudaGetLastError();
    cudaError_t sync1 = cudaMemcpy(host, d, sizeof(int), cudaMemcpyDeviceToHost),
                sync2 = cudaDeviceSynchronize();
    const char *faulted = emu_faulted_kernel();
    expect(e1 == cudaSuccess && sync1 == cudaErrorIllegalAddress && sync2 == cudaSuccess && faulted &&
               !strcmp(faulted, "rotate"),
           "emu/injected-fault", "reported at launch (error %ld), or not once at the next memcpy, or by the wrong kernel",
           e1);

    /* device memory is poisoned, not zeroed */
    unsigned char *m = NULL, first = 0;
    cudaMalloc(&m, 100);
    cudaMemcpy(&first, m + 99, 1, cudaMemcpyDeviceToHost);
    expect(first == 0xA5, "emu/malloc-poisoned", "byte %ld", first);

    /* byte permutations: x = 0x33221100, y = 0x77665544 (byte i of y:x is 0x11 * i) */
    unsigned perm_in[2] = {0x33221100u, 0x77665544u}, perm[6], *dp = NULL;
    cudaMalloc(&dp, sizeof perm);
    cudaMemcpy(dp, perm_in, sizeof perm_in, cudaMemcpyHostToDevice);
    permute<<<1, 1>>>(dp, dp);
    cudaMemcpy(perm, dp, sizeof perm, cudaMemcpyDeviceToHost);
    expect(perm[0] == 0x33221100u && perm[1] == 0x77665544u && perm[2] == 0x00112233u && perm[3] == 0x77665500u &&
           perm[4] == 0x77665544u && perm[5] == 0x77665544u, "emu/byte-perm", "first value %#lx", perm[0]);

    /* mma.sync: 2 blocks of 2 warps, integers in [-8, 8] (A, B) and [-100, 100] (C), D = C + 2 A B exactly */
    enum { MMA_WARPS = 4 };
    static float ma[MMA_WARPS * 256], mb[MMA_WARPS * 128], mc[MMA_WARPS * 128], md[MMA_WARPS * 128];
    unsigned long long lcg = 12345;
    auto next = [&](int span) { lcg = lcg * 6364136223846793005ull + 1442695040888963407ull; return (float)((int)(lcg >> 33) % (2 * span + 1) - span); };
    for (float &v : ma) v = next(8);
    for (float &v : mb) v = next(8);
    for (float &v : mc) v = next(100);
    float *dma = NULL, *dmb = NULL, *dmc = NULL, *dmd = NULL;
    cudaMalloc(&dma, sizeof ma), cudaMalloc(&dmb, sizeof mb), cudaMalloc(&dmc, sizeof mc), cudaMalloc(&dmd, sizeof md);
    cudaMemcpy(dma, ma, sizeof ma, cudaMemcpyHostToDevice), cudaMemcpy(dmb, mb, sizeof mb, cudaMemcpyHostToDevice);
    cudaMemcpy(dmc, mc, sizeof mc, cudaMemcpyHostToDevice);
    mma_twice<<<2, 64>>>(dma, dmb, dmc, dmd);
    cudaMemcpy(md, dmd, sizeof md, cudaMemcpyDeviceToHost);
    bad = 0;
    for (int w = 0; w < MMA_WARPS; w++)
        for (int r = 0; r < 16; r++)
            for (int col = 0; col < 8; col++) {
                double want = mc[128 * w + 8 * r + col];
                for (int k = 0; k < 16; k++) want += 2.0 * ma[256 * w + 16 * r + k] * mb[128 * w + 8 * k + col];
                bad += md[128 * w + 8 * r + col] != want;
            }
    expect(bad == 0, "emu/mma-m16n8k16-bf16", "%ld wrong elements of D", bad);
    cudaFree(dma), cudaFree(dmb), cudaFree(dmc), cudaFree(dmd);

    /* cp.async: 64 threads, two groups; the source bytes are i * 7 + 1 (never 0xFF) */
    static unsigned char src_bytes[128 * 16], seen_bytes[256 * 16];
    for (int i = 0; i < (int)sizeof src_bytes; i++) src_bytes[i] = (unsigned char)(i * 7 % 251 + 1);
    uint4 *dsrc = NULL, *dseen = NULL;
    cudaMalloc(&dsrc, sizeof src_bytes), cudaMalloc(&dseen, sizeof seen_bytes);
    cudaMemcpy(dsrc, src_bytes, sizeof src_bytes, cudaMemcpyHostToDevice);
    copies_in_flight<<<2, 64>>>(dsrc, dseen);
    cudaMemcpy(seen_bytes, dseen, sizeof seen_bytes, cudaMemcpyDeviceToHost);
    bad = 0;
    for (int i = 0; i < 64 * 16; i++)
        bad += seen_bytes[i] != 0xFF || seen_bytes[64 * 16 + i] != src_bytes[i] || seen_bytes[128 * 16 + i] != 0xFF ||
               seen_bytes[192 * 16 + i] != src_bytes[64 * 16 + i];
    expect(bad == 0, "emu/cp-async-lands-at-its-wait", "%ld wrong bytes", bad);
    cudaFree(dsrc), cudaFree(dseen);

    /* a captured launch does not run; each replay reads device memory as it is then, with the captured k */
    int *src = NULL, *dst = NULL, in[4] = {1, 2, 3, 4}, got[4] = {0}, before = 0;
    cudaStream_t st = NULL;
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    cudaMalloc(&src, sizeof in), cudaMalloc(&dst, sizeof in);
    cudaStreamCreate(&st);
    cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal);
    add_from<<<1, 4, 0, st>>>(src, dst, 5);
    cudaError_t sync_in_capture = cudaMemcpy(&before, dst, sizeof before, cudaMemcpyDeviceToHost);
    cudaStreamEndCapture(st, &graph);
    cudaGraphInstantiate(&exec, graph, 0);
    cudaMemcpy(&before, dst, sizeof before, cudaMemcpyDeviceToHost);
    cudaMemcpy(src, in, sizeof in, cudaMemcpyHostToDevice);
    cudaGraphLaunch(exec, st);
    cudaStreamSynchronize(st);
    cudaMemcpy(got, dst, sizeof got, cudaMemcpyDeviceToHost);
    bad = before != (int)0xA5A5A5A5 || sync_in_capture != cudaErrorStreamCaptureUnsupported;
    for (int i = 0; i < 4; i++) bad += got[i] != in[i] + 5, in[i] *= 10;
    cudaMemcpy(src, in, sizeof in, cudaMemcpyHostToDevice);
    cudaGraphLaunch(exec, st);
    cudaMemcpy(got, dst, sizeof got, cudaMemcpyDeviceToHost);
    for (int i = 0; i < 4; i++) bad += got[i] != in[i] + 5;
    expect(bad == 0, "emu/graph-capture-and-replay", "%ld wrong values", bad);
    cudaGraphExecDestroy(exec), cudaGraphDestroy(graph), cudaStreamDestroy(st);

    /* atomics: every block a distinct ticket */
    int zero = 0, order[16], seen = 0;
    cudaMemcpy(src, &zero, sizeof zero, cudaMemcpyHostToDevice);
    ticket<<<16, 32>>>(src, d);
    cudaMemcpy(order, d, sizeof order, cudaMemcpyDeviceToHost);
    for (int i = 0; i < 16; i++) seen |= order[i] >= 0 && order[i] < 16 ? 1 << order[i] : 0;
    expect(seen == 0xffff, "emu/atomic-tickets", "tickets seen %#lx", seen);

    /* a grid-wide wait: blocks run concurrently up to the occupancy API's count; each sum is 1 + 2 + ... + n */
    int per_sm = 0, sms = 0, *gw = NULL, gsum[64];
    cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, grid_wait, 64, 0);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    int blocks = per_sm * sms < 64 ? per_sm * sms : 64;
    cudaMalloc(&gw, sizeof(int) * (size_t)(2 * blocks + 1));
    cudaMemset(gw, 0, sizeof(int));
    grid_wait<<<blocks, 64>>>(gw, gw + 1, gw + 1 + blocks);
    cudaMemcpy(gsum, gw + 1 + blocks, sizeof(int) * (size_t)blocks, cudaMemcpyDeviceToHost);
    bad = blocks < 2;
    for (int b = 0; b < blocks; b++) bad += gsum[b] != blocks * (blocks + 1) / 2 + 1000 * b;
    expect(bad == 0, "emu/grid-wide-wait", "%ld blocks with a wrong sum (or fewer than 2 resident)", bad);
    cudaFree(gw);

    cudaFree(d), cudaFree(fs), cudaFree(fx), cudaFree(m), cudaFree(dp), cudaFree(src), cudaFree(dst);

    expect_fault("emu/divergent-syncthreads", run_divergent, "divergent_barrier", "divergent barrier");
    expect_fault("emu/shuffle-after-lane-exit", run_exited_lane, "early_exit_then_shuffle", "has exited");
    expect_fault("emu/misaligned-ldg", run_misaligned, "misaligned_load", "misaligned __ldg");
    expect_fault("emu/deadlock", run_deadlock, "barriers_crossed", "deadlock");
    expect_fault("emu/grid-wide-wait-too-large", run_grid_too_large, "grid_wait", "every block of the grid resident");
    expect_fault("emu/mma-needs-a-whole-warp", run_mma_half_warp, "mma_half_warp", "fewer than 32 threads");
    expect_fault("emu/cp-async-never-waited", run_copy_never_waited, "copy_never_waited", "never waited for");
    expect_fault("emu/cp-async-misaligned", run_copy_misaligned, "copy_misaligned", "misaligned cp.async");
    expect_fault("emu/shared-memory-overrun", run_overrun, "overrun", "past the end of its dynamic shared memory");
    expect_fault("emu/static-and-dynamic-shared-memory", run_too_much_shared, "too_much_shared", "exceed the 227 KiB");
    return failures != 0;
}
