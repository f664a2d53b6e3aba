/* tests/cuda/emu/cuda_runtime.h — a CPU stand-in for the part of CUDA that ewq_cuda.cu uses, so its kernels
 * run (slowly, exactly once per thread) on a machine without a GPU. Each block's threads are fibers (a
 * small x86-64 stack switch) on one OS thread: __syncthreads, __syncwarp and __shfl_xor_sync switch fibers
 * and release them when every live thread of the block (or warp) has arrived. Device memory is host
 * memory (so AddressSanitizer sees kernel out-of-bounds accesses), 16 GiB of it unless EMU_DEVICE_BYTES=N
 * says otherwise (a small device, for tests of what fits), filled with 0xA5 when allocated, as is
 * each block's dynamic shared memory, which a guard after it checks for overruns; 16-byte __ldg loads
 * check their alignment; a divergent barrier, a full-mask shuffle with a missing lane or a deadlock is
 * reported (kernel, block, thread) and aborts. EMU_SEED=N runs the runnable threads in a random order;
 * EMU_LAUNCH_LOG set prints "emu-launch KERNEL" on stderr for every kernel run ("emu-launch KERNEL graph"
 * when a graph launch replays it) and "emu-graph-launch" for every graph launch (make cuda-report counts).
 * A capturing stream records launches with their arguments by value and a graph launch replays them, so
 * a kernel argument that a captured decode step should have read from device memory shows as wrong output.
 * Static shared memory counts against a block's 227 KiB with the dynamic part, as on a GPU (a kernel's is
 * known once it has run: each __shared__ declaration reports its size when it is reached).
 * Blocks run one after another, except that a block whose threads all wait, some of them asleep in
 * __nanosleep (a spin on device memory), is set aside while other blocks run: up to the blocks the
 * occupancy API says are resident at once (emu::SMS multiprocessors), so a grid-wide wait works when the
 * grid fits and is reported as a deadlock when it does not.
 * Launch syntax: hostify.sh rewrites k<<<g, b, s>>>(args) as EMU_LAUNCH((k), g, b, s)(args) first, and
 * appends emu::static_smem(&name, sizeof name) to each static __shared__ declaration.
 * cp.async copies (emu_cp_async16, _commit, _wait) land at the wait that covers their group, not before;
 * their destinations hold 0xFF bytes until then.
 * Hooks for tests (extern "C"): emu_fault_launch, emu_faulted_kernel, emu_dynamic_smem_peak (below). */
#ifndef EMU_CUDA_RUNTIME_H
#define EMU_CUDA_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utility>
#include <tuple>
#include <vector>
#include <functional>
#include <map>
#include <deque>
#include <string>
#include <time.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define __grid_constant__

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(16) float4 { float x, y, z, w; };
struct __half { unsigned short bits; };

typedef enum cudaError {
    cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorInvalidConfiguration = 9,
    cudaErrorIllegalAddress = 700, cudaErrorLaunchFailure = 719, cudaErrorStreamCaptureUnsupported = 900
} cudaError_t;
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
struct cudaDeviceProp { char name[256]; int major, minor; size_t totalGlobalMem; int multiProcessorCount; };
struct cudaFuncAttributes { size_t sharedSizeBytes; int maxDynamicSharedSizeBytes; };
typedef struct emu_event *cudaEvent_t;
/* Streams and graphs: a stream that captures records each launch (its arguments by value, as CUDA does)
 * instead of running it; a graph launch replays the records in order. Everything else runs at once. */
typedef struct emu_stream *cudaStream_t;
typedef struct emu_graph *cudaGraph_t;
typedef struct emu_graph *cudaGraphExec_t;
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1 };

namespace emu {
enum { WARP = 32, MAX_THREADS = 1024, SMEM_OPTIN = 232448, SMEM_PER_SM = 233472, STACK = 256 << 10, GUARD = 256,
       SMS = 1 /* the emulated GPU's multiprocessors */ };
/* Under AddressSanitizer the guard after dynamic shared memory is poisoned, so reads past it report too. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(EMU_ASAN)
}  // namespace emu
#include <sanitizer/asan_interface.h>
namespace emu {
inline void poison(void *p, size_t n) { ASAN_POISON_MEMORY_REGION(p, n); }
inline void unpoison(void *p, size_t n) { ASAN_UNPOISON_MEMORY_REGION(p, n); }
#else
inline void poison(void *, size_t) {}
inline void unpoison(void *, size_t) {}
#endif
extern "C" void emu_switch(void **save_sp, void *load_sp);
struct fiber {
    void *sp;
    dim3 tid;
    int lin, done;
    long warp_arrived, block_arrived;   /* barriers passed or arrived at, counting */
    int waiting;                        /* 0 none, 1 warp barrier, 2 block barrier, 3 asleep (__nanosleep) */
};
/* The slots through which a block's threads exchange shuffle and mma.sync operands (large: a block holds
 * them by pointer, so that setting it aside moves no data). */
struct lane_slots {
    float shfl[2][MAX_THREADS];         /* shuffle slots, double-buffered by parity */
    long shfl_seq[MAX_THREADS];
    unsigned mma_a[2][MAX_THREADS][4], mma_b[2][MAX_THREADS][2];   /* mma.sync operands, likewise */
    long mma_seq[MAX_THREADS];
    double mma_ab[2][MAX_THREADS / WARP][16 * 8];   /* a warp's A B, computed by its first lane past the barrier */
    long mma_ab_seq[2][MAX_THREADS / WARP];        /* the mma (1, 2, ...) that mma_ab holds */
};
/* What each resident block has of its own. The running block's is in state; a block whose threads all wait,
 * some of them asleep in __nanosleep, is set aside (parked) with its own, while other blocks run. */
struct block_part {
    dim3 bid;
    std::vector<fiber> f;
    std::vector<char *> stacks;         /* one per thread */
    std::vector<unsigned char> dyn;     /* dynamic shared memory */
    std::vector<std::vector<unsigned char>> statics;   /* a parked block's copy of the static __shared__ variables */
    std::vector<int> runq;              /* runnable fibers */
    std::vector<int> asleep;            /* fibers in __nanosleep: runnable again when the block is resumed */
    int live, block_count;
    int warp_live[MAX_THREADS / WARP], warp_count[MAX_THREADS / WARP];
    struct async_copy { unsigned char *dst, bytes[16]; long group; };
    std::vector<async_copy> copies[MAX_THREADS];   /* each thread's cp.async copies not yet landed */
    long copy_groups[MAX_THREADS];                 /* groups each thread has committed */
    lane_slots *lanes = nullptr;
};
struct state : block_part {
    dim3 grid, block;
    int nthreads;
    void *sched_sp;
    fiber *cur;
    size_t dyn_bytes;
    std::deque<block_part> parked;      /* resident blocks set aside, oldest first */
    std::vector<char *> stack_pool;     /* stacks and lane slots no block holds */
    std::vector<lane_slots *> lane_pool;
    long events = 0;                    /* barrier arrivals and thread exits: what a parked block may wait for */
    cudaError_t last = cudaSuccess;
    cudaError_t pending = cudaSuccess;  /* a fault inside a kernel: reported by the next synchronizing call */
    long fault_in = 0;                  /* emu_fault_launch: launches until the one that faults */
    const char *faulted = nullptr;
    std::map<const void *, size_t> static_of;   /* static shared memory of each kernel that has run */
    std::map<std::string, size_t> dyn_peak;     /* emu_dynamic_smem_peak */
    std::vector<std::pair<void *, size_t>> static_seen;   /* the running launch's __shared__ variables */
    size_t static_bytes = 0;
    const char *kernel;
    std::function<void()> body;
    ~state() {
        for (char *p : stacks) free(p);
        for (char *p : stack_pool) free(p);
        delete lanes;
        for (lane_slots *l : lane_pool) delete l;
    }
};
inline state &S() { static state s; return s; }
[[noreturn]] inline void fatal(const char *what) {
    state &s = S();
    const char *k = s.kernel ? s.kernel : "?";   /* "(name)" as hostify.sh wraps it */
    int n = (int)strlen(k);
    if (k[0] == '(') k++, n -= 2;
    fprintf(stderr, "emu: kernel %.*s, block (%u,%u,%u), thread %d: %s\n", n, k, s.bid.x, s.bid.y, s.bid.z,
            s.cur ? s.cur->lin : -1, what);
    abort();
}
inline void yield() { state &s = S(); emu_switch(&s.cur->sp, s.sched_sp); }
/* Arrive at a warp (kind 1) or block (kind 2) barrier; the last live thread to arrive releases the rest. */
inline void release_warp(state &s, int w) {
    s.warp_count[w] = 0;
    for (int i = w * WARP; i < (w + 1) * WARP && i < s.nthreads; i++)
        if (s.f[(size_t)i].waiting == 1) s.f[(size_t)i].waiting = 0, s.runq.push_back(i);
}
inline void release_block(state &s) {
    s.block_count = 0;
    for (int i = 0; i < s.nthreads; i++)
        if (s.f[(size_t)i].waiting == 2) s.f[(size_t)i].waiting = 0, s.runq.push_back(i);
}
inline void barrier(int kind) {
    state &s = S();
    fiber *me = s.cur;
    s.events++;
    int w = me->lin / WARP;
    if (kind == 1) {
        if (s.warp_live[w] != (s.nthreads - w * WARP < WARP ? s.nthreads - w * WARP : WARP))
            fatal("warp barrier or shuffle (full mask) after a lane of the warp has exited");
        if (++s.warp_count[w] == s.warp_live[w]) { release_warp(s, w); return; }   /* the last to arrive goes on */
    } else {
        if (s.live != s.nthreads) fatal("__syncthreads after some threads of the block have exited (divergent barrier)");
        if (++s.block_count == s.live) { release_block(s); return; }
    }
    me->waiting = kind;
    yield();
}
inline void *dyn_smem() { return S().dyn.data(); }
/* Each static __shared__ declaration (hostify.sh appends the call): counted once per launch; with the
 * dynamic part, no more than a block can have. */
inline void static_smem(const void *p, size_t n) {
    state &s = S();
    for (auto &q : s.static_seen) if (q.first == p) return;
    s.static_seen.push_back({const_cast<void *>(p), n});
    s.static_bytes += n;
    if (s.static_bytes + s.dyn_bytes > SMEM_OPTIN)
        fatal("static and dynamic shared memory together exceed the 227 KiB a block can have");
}
/* "(name<T>)" as hostify.sh wraps a launched kernel -> "name" */
inline std::string base_name(const char *k) {
    std::string n(k[0] == '(' ? k + 1 : k);
    return n.substr(0, n.find_first_of("<)"));
}
}  // namespace emu

#define threadIdx (emu::S().cur->tid)
#define blockIdx (emu::S().bid)
#define blockDim (emu::S().block)
#define gridDim (emu::S().grid)

inline void __syncthreads() { emu::barrier(2); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    if (mask != 0xffffffffu) emu::fatal("__syncwarp with a partial mask (not emulated)");
    emu::barrier(1);
}
/* A thread that sleeps gives way: its block is set aside (once no thread of it can run) and other resident
 * blocks run, or the next block of the grid starts, so that a wait for other blocks (a spin on device
 * memory with __nanosleep in it) ends as on a GPU, where resident blocks run at the same time. */
inline void __nanosleep(unsigned) {
    emu::state &s = emu::S();
    s.cur->waiting = 3;
    s.asleep.push_back(s.cur->lin);
    emu::yield();
}
inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask) {
    emu::state &s = emu::S();
    if (mask != 0xffffffffu) emu::fatal("__shfl_xor_sync with a partial mask (not emulated)");
    emu::lane_slots &l = *s.lanes;
    int me = s.cur->lin, base = me & ~31, p = (int)(l.shfl_seq[me]++ & 1);
    l.shfl[p][me] = v;
    emu::barrier(1);
    return l.shfl[p][base + ((me - base) ^ (lane_mask & 31))];
}
/* mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 of one warp: d += A B with A 16 x 16 (row-major), B
 * 16 x 8 (column-major), D 16 x 8, bf16 operands two to a 32-bit register (the lower index in the low
 * half), float32 accumulators. Fragments as the PTX ISA ("Matrix fragments for mma.m16n8k16 with floating
 * point type") places them, with g = lane / 4 and t = lane % 4:
 *   a[0] = A[g][2t, 2t+1]     a[1] = A[g+8][2t, 2t+1]   a[2] = A[g][2t+8, 2t+9]   a[3] = A[g+8][2t+8, 2t+9]
 *   b[0] = B[2t, 2t+1][g]     b[1] = B[2t+8, 2t+9][g]
 *   d[0] = D[g][2t]  d[1] = D[g][2t+1]  d[2] = D[g+8][2t]  d[3] = D[g+8][2t+1]
 * Each lane leaves its a and b in the warp's slots (double-buffered by parity, as shuffles) and meets the
 * others at a warp barrier; the first lane past it computes the warp's A B from every lane's slots, each
 * lane then adds its four elements to d. The products of two bf16 values are exact in float32; their sum
 * with d is accumulated in double and rounded to float32 once, so a result is exact where every partial
 * sum is (integer-valued operands); the tensor cores round their additions in an order of their own, which
 * differs from this one in float32 rounding only. */
inline void emu_mma_m16n8k16_bf16(float d[4], const unsigned a[4], const unsigned b[2]) {
    emu::state &s = emu::S();
    int me = s.cur->lin, base = me & ~31, w = me / emu::WARP;
    emu::lane_slots &l = *s.lanes;
    long seq = ++l.mma_seq[me];
    int p = (int)(seq & 1);
    if (s.nthreads - base < emu::WARP) emu::fatal("mma.sync in a warp of fewer than 32 threads");
    memcpy(l.mma_a[p][me], a, sizeof l.mma_a[p][me]);
    memcpy(l.mma_b[p][me], b, sizeof l.mma_b[p][me]);
    emu::barrier(1);
    double *ab = l.mma_ab[p][w];
    if (l.mma_ab_seq[p][w] != seq) {
        auto bf16 = [](unsigned word, int high) { unsigned u = (high ? word >> 16 : word & 0xffff) << 16; float f; memcpy(&f, &u, 4); return f; };
        float A[16][16], B[16][8];
        for (int lane = 0; lane < 32; lane++) {   /* each element where the PTX ISA's layout puts it */
            int g = lane / 4, t = lane % 4;
            for (int i = 0; i < 8; i++) {
                A[g + 8 * (i / 2 % 2)][2 * t + (i & 1) + 8 * (i / 4)] = bf16(l.mma_a[p][base + lane][i / 2], i & 1);
                if (i < 4) B[2 * t + (i & 1) + 8 * (i / 2)][g] = bf16(l.mma_b[p][base + lane][i / 2], i & 1);
            }
        }
        for (int row = 0; row < 16; row++)
            for (int col = 0; col < 8; col++) {
                double sum = 0;
                for (int k = 0; k < 16; k++) sum += (double)(A[row][k] * B[k][col]);
                ab[8 * row + col] = sum;
            }
        l.mma_ab_seq[p][w] = seq;
    }
    int g = (me - base) / 4, t = (me - base) % 4;
    for (int i = 0; i < 4; i++) d[i] = (float)(d[i] + ab[8 * (g + 8 * (i / 2)) + 2 * t + i % 2]);
}
/* cp.async.cg.shared.global [dst], [src], 16 and its groups (cp.async.commit_group, cp.async.wait_group n),
 * per thread as the PTX ISA defines them: a copy belongs to the group its thread commits next; waiting
 * for n leaves in flight only the copies of the n most recent groups (and those not yet committed). A
 * GPU may land a copy any time between its issue and the wait, so here it lands at the latest moment and
 * its destination holds 0xFF bytes (NaN in every float format) from the issue until then: a read of a
 * stage before its wait, or a copy issued into a stage still being read, shows in the results. The
 * source is read at the issue (AddressSanitizer reports a bad one there). Both addresses must be 16-byte
 * aligned, and a thread may not exit with copies in flight. A copy lands for its own thread only: other
 * threads see it after a barrier that follows the wait, as on a GPU. */
inline void emu_cp_async16(void *dst, const void *src) {
    emu::state &s = emu::S();
    int me = s.cur->lin;
    if ((uintptr_t)dst % 16 || (uintptr_t)src % 16) emu::fatal("misaligned cp.async (16 bytes)");
    emu::state::async_copy c;
    c.dst = (unsigned char *)dst, c.group = s.copy_groups[me];
    memcpy(c.bytes, src, 16);
    memset(dst, 0xFF, 16);
    s.copies[me].push_back(c);
}
inline void emu_cp_async_commit() { emu::S().copy_groups[emu::S().cur->lin]++; }
inline void emu_cp_async_wait(int n) {
    emu::state &s = emu::S();
    int me = s.cur->lin;
    std::vector<emu::state::async_copy> &in_flight = s.copies[me];
    size_t kept = 0;
    for (emu::state::async_copy &c : in_flight)
        if (c.group < s.copy_groups[me] - n) memcpy(c.dst, c.bytes, 16);
        else in_flight[kept++] = c;
    in_flight.resize(kept);
}
template <class T> inline T __ldg(const T *p) {
    if ((uintptr_t)p % alignof(T)) emu::fatal("misaligned __ldg");
    return *p;
}
/* a streaming load (ld.global.cs: evict first): the same value, the same alignment rule */
template <class T> inline T __ldcs(const T *p) {
    if ((uintptr_t)p % alignof(T)) emu::fatal("misaligned __ldcs");
    return *p;
}
/* byte i of the result is byte (s >> 4i) & 7 of the eight bytes y:x (x the low four), as CUDA documents */
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    unsigned long long b = (unsigned long long)y << 32 | x;
    unsigned r = 0;
    for (int i = 0; i < 4; i++) r |= (unsigned)(b >> 8 * ((s >> 4 * i) & 7) & 0xff) << 8 * i;
    return r;
}
/* blocks run one after another and threads on one OS thread: atomics are plain, fences order nothing more */
inline int atomicAdd(int *p, int v) { int old = *p; *p += v; return old; }
inline void __threadfence() {}
template <class T> inline T __ldcg(const T *p) { return *p; }
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; memcpy(&u, &f, 4); return u; }
inline __half __ushort_as_half(unsigned short u) { __half h; h.bits = u; return h; }
extern "C" float ewq_f16_to_f32(uint16_t h);
inline float __half2float(__half h) { return ewq_f16_to_f32(h.bits); }
inline float __fadd_rn(float a, float b) { return a + b; }   /* built with -ffp-contract=off */
inline float __fmul_rn(float a, float b) { return a * b; }

/* ---- launches: every block in turn, every thread a fiber ---- */
namespace emu {
inline void entry() {
    state &s = S();
    s.body();
    fiber *me = s.cur;
    if (!s.copies[me->lin].empty()) fatal("thread exits with cp.async copies it never waited for");
    me->done = 1;
    s.live--, s.warp_live[me->lin / WARP]--, s.events++;
    if (s.block_count) { s.cur = me; fatal("thread exits while others wait at __syncthreads (divergent barrier)"); }
    emu_switch(&me->sp, s.sched_sp);   /* never resumed */
    abort();
}
/* Runs the running block's threads until none can run: all done, or waiting (a barrier, __nanosleep). */
inline void run_block() {
    state &s = S();
    static unsigned long long seed = getenv("EMU_SEED") ? strtoull(getenv("EMU_SEED"), 0, 10) : 0;
    while (!s.runq.empty()) {
        if (seed && s.runq.size() > 1) {   /* EMU_SEED: run the runnable threads in a random order */
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            std::swap(s.runq.back(), s.runq[(size_t)(seed >> 33) % s.runq.size()]);
        }
        int i = s.runq.back();
        s.runq.pop_back();
        s.cur = &s.f[(size_t)i];
        emu_switch(&s.sched_sp, s.cur->sp);
    }
}
/* Block `index` of the grid (x fastest) into the running block's place: its threads at their entry, its
 * dynamic shared memory poisoned (reads of unwritten shared memory show; GUARD bytes after it catch
 * overruns). */
inline void start_block(long index) {
    state &s = S();
    dim3 g = s.grid, b = s.block;
    s.bid = dim3((unsigned)(index % g.x), (unsigned)(index / g.x % g.y), (unsigned)(index / ((long)g.x * g.y)));
    s.dyn.assign(s.dyn_bytes + GUARD, 0xA5);
    poison(s.dyn.data() + s.dyn_bytes, GUARD);
    s.f.assign((size_t)s.nthreads, fiber());
    while (s.stacks.size() < (size_t)s.nthreads) {
        if (s.stack_pool.empty()) s.stacks.push_back((char *)malloc(STACK));
        else s.stacks.push_back(s.stack_pool.back()), s.stack_pool.pop_back();
    }
    if (!s.lanes) {
        if (s.lane_pool.empty()) s.lanes = new lane_slots;
        else s.lanes = s.lane_pool.back(), s.lane_pool.pop_back();
    }
    for (int i = 0; i < s.nthreads; i++) {
        fiber &f = s.f[(size_t)i];
        f.lin = i;
        f.tid = dim3((unsigned)i % b.x, (unsigned)i / b.x % b.y, (unsigned)i / (b.x * b.y));
        s.lanes->shfl_seq[i] = 0, s.lanes->mma_seq[i] = 0, s.lanes->mma_ab_seq[0][i / WARP] = s.lanes->mma_ab_seq[1][i / WARP] = 0;
        s.copies[i].clear(), s.copy_groups[i] = 0;
        /* a frame that emu_switch "returns" into entry() from: 6 registers, then the
         * return address at 16-byte alignment (as a call leaves it) */
        uintptr_t top = ((uintptr_t)s.stacks[(size_t)i] + STACK - 64) & ~(uintptr_t)15;
        uint64_t *p = (uint64_t *)top;
        p[0] = (uint64_t)(uintptr_t)&entry;
        for (int r = 1; r <= 6; r++) p[-r] = 0;      /* rbp rbx r12 r13 r14 r15 */
        f.sp = &p[-6];
    }
    s.runq.clear(), s.asleep.clear();
    for (int i = s.nthreads - 1; i >= 0; i--) s.runq.push_back(i);
    s.live = s.nthreads, s.block_count = 0;
    for (int w = 0; w * WARP < s.nthreads; w++)
        s.warp_live[w] = s.nthreads - w * WARP < WARP ? s.nthreads - w * WARP : WARP, s.warp_count[w] = 0;
}
/* The running block set aside with a copy of the static __shared__ variables (which every block shares
 * here), and back: its copy restored, its sleeping threads runnable again. */
inline void park() {
    state &s = S();
    s.statics.clear();
    for (auto &v : s.static_seen) s.statics.emplace_back((unsigned char *)v.first, (unsigned char *)v.first + v.second);
    s.parked.emplace_back();
    std::swap(static_cast<block_part &>(s), s.parked.back());
}
inline void resume() {
    state &s = S();
    for (char *p : s.stacks) s.stack_pool.push_back(p);
    s.stacks.clear();
    if (s.lanes) s.lane_pool.push_back(s.lanes), s.lanes = nullptr;
    std::swap(static_cast<block_part &>(s), s.parked.front());
    s.parked.pop_front();
    for (size_t i = 0; i < s.static_seen.size(); i++)   /* variables first reached since: as never written */
        if (i < s.statics.size()) memcpy(s.static_seen[i].first, s.statics[i].data(), s.static_seen[i].second);
        else memset(s.static_seen[i].first, 0xA5, s.static_seen[i].second);
    for (int i : s.asleep) s.f[(size_t)i].waiting = 0, s.runq.push_back(i);
    s.asleep.clear();
}
/* Resident blocks per SM, as sm_90 bounds them: 2048 threads, 32 blocks, 228 KiB of shared memory with
 * 1 KiB reserved per block (registers are not modelled). */
inline int resident_per_sm(long threads, size_t shared) {
    long n = 2048 / threads, by_shared = (long)(SMEM_PER_SM / (shared + 1024));
    n = n < 32 ? n : 32;
    return (int)(n < by_shared ? n : by_shared);
}
/* A launch: blocks start in order while fewer than `resident` are resident; a block whose threads all wait
 * with some asleep is parked and another runs (a new one while there is room, else the oldest parked).
 * A round of every parked block in which no thread passed a barrier or exited is a deadlock: a grid-wide
 * wait for blocks that never become resident, or for something no block does. */
inline void run_grid(int resident) {
    state &s = S();
    long total = (long)s.grid.x * s.grid.y * s.grid.z, next = 0, quiet = 0;
    s.parked.clear();
    for (;;) {
        long before = s.events;
        int resumed = 0;
        if (next < total && (long)s.parked.size() < resident) start_block(next++);
        else if (!s.parked.empty()) resume(), resumed = 1;
        else break;
        run_block();
        if (s.live && s.asleep.empty()) {
            for (int i = 0; i < s.nthreads; i++)
                if (!s.f[(size_t)i].done) { s.cur = &s.f[(size_t)i]; break; }
            fatal(s.block_count ? "deadlock: some threads wait at __syncthreads while others exited or wait at a warp barrier"
                                : "deadlock: threads wait at a warp barrier that not every lane reaches");
        }
        quiet = resumed && s.events == before ? quiet + 1 : 0;
        if (s.live && quiet > (long)s.parked.size()) {
            s.cur = &s.f[(size_t)s.asleep[0]];
            fatal("deadlock: every resident block sleeps in a wait that no running block can end (a grid-wide "
                  "wait needs every block of the grid resident at once)");
        }
        if (s.live) {
            park();
            continue;
        }
        unpoison(s.dyn.data() + s.dyn_bytes, GUARD);
        s.cur = nullptr;
        for (size_t i = s.dyn_bytes; i < s.dyn_bytes + GUARD; i++)
            if (s.dyn[i] != 0xA5) fatal("wrote past the end of its dynamic shared memory");
    }
}
int max_dyn(const void *k);
inline std::vector<std::function<void()>> *recording(cudaStream_t st);
inline bool &replaying() { static bool r; return r; }
struct launch {
    dim3 g, b; size_t smem; const char *name; cudaStream_t stream;
    template <class... P, class... Args> void operator()(void (*k)(P...), Args &&...args) {
        state &s = S();
        long threads = (long)b.x * b.y * b.z;
        if (threads < 1 || threads > MAX_THREADS || b.z > 64 || g.y > 65535 || g.z > 65535 || g.x < 1 || g.y < 1 ||
            g.z < 1 || smem > SMEM_OPTIN) {
            s.last = cudaErrorInvalidConfiguration;
            return;
        }
        if ((long)smem > max_dyn((const void *)k)) {   /* dynamic shared memory above the function's limit */
            s.last = cudaErrorInvalidValue;
            return;
        }
        if (auto *rec = recording(stream)) {   /* captured: the arguments as they are now, run at each replay */
            std::tuple<typename std::decay<P>::type...> tup(args...);
            launch now{g, b, smem, name, nullptr};
            rec->push_back([now, k, tup]() mutable { std::apply([&](auto &...a) { now(k, a...); }, tup); });
            return;
        }
        size_t &peak = s.dyn_peak[base_name(name)];
        if (smem > peak) peak = smem;
        if (s.fault_in && --s.fault_in == 0) {   /* emu_fault_launch: this one faults, as a GPU reports it later */
            s.pending = cudaErrorIllegalAddress, s.faulted = name;
            return;
        }
        static struct counter { long launches = 0, blocks = 0, threads = 0; ~counter() {
            if (getenv("EMU_STATS")) fprintf(stderr, "emu: %ld launches, %ld blocks, %ld threads\n", launches, blocks, threads); } } c;
        c.launches++, c.blocks += (long)g.x * g.y * g.z, c.threads += (long)g.x * g.y * g.z * threads;
        static const bool log = getenv("EMU_LAUNCH_LOG") != nullptr;   /* one stderr line per launch */
        if (log)   /* "(k)" as hostify.sh wraps it; " graph" when a graph launch replays it */
            fprintf(stderr, "emu-launch %.*s%s\n", (int)strlen(name) - 2, name + 1, replaying() ? " graph" : "");
        std::tuple<typename std::decay<P>::type...> tup(args...);   /* by value, as a kernel receives them */
        s.body = [&] { std::apply(k, tup); };
        s.grid = g, s.block = b, s.nthreads = (int)threads, s.kernel = name, s.dyn_bytes = smem;
        s.static_seen.clear(), s.static_bytes = 0;
        auto known = s.static_of.find((const void *)k);
        run_grid(resident_per_sm(threads, smem + (known == s.static_of.end() ? 0 : known->second)) * SMS);
        s.cur = nullptr;
        size_t &st = s.static_of[(const void *)k];
        if (s.static_bytes > st) st = s.static_bytes;
    }
};
}  // namespace emu
#define EMU_LAUNCH(k, g, b, ...) emu::launch_of((k), dim3(g), dim3(b), #k, ##__VA_ARGS__)
namespace emu {
template <class K> struct bound {
    K k; launch l;
    template <class... Args> void operator()(Args &&...args) { l(k, std::forward<Args>(args)...); }
};
template <class K> bound<K> launch_of(K k, dim3 g, dim3 b, const char *name, size_t smem = 0, cudaStream_t st = nullptr) {
    return bound<K>{k, launch{g, b, smem, name, st}};
}
}  // namespace emu

/* ---- runtime API ---- */
struct emu_event { double t; };
inline const char *cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    default: return "unknown error";
    }
}
inline cudaError_t cudaGetLastError() { cudaError_t e = emu::S().last; emu::S().last = cudaSuccess; return e; }
inline cudaError_t cudaGetDeviceCount(int *n) { *n = 1; return cudaSuccess; }
namespace emu {
inline size_t device_bytes() {
    static const size_t n = getenv("EMU_DEVICE_BYTES") ? strtoull(getenv("EMU_DEVICE_BYTES"), 0, 10) : (size_t)16 << 30;
    return n;
}
}  // namespace emu
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p);
    strcpy(p->name, "emulated GPU (CPU fibers)");
    p->major = 9, p->minor = 0, p->totalGlobalMem = emu::device_bytes(), p->multiProcessorCount = emu::SMS;
    return cudaSuccess;
}
namespace emu {
inline std::vector<std::pair<const void *, int>> &attrs() { static std::vector<std::pair<const void *, int>> a; return a; }
inline int max_dyn(const void *k) {
    for (auto &p : attrs()) if (p.first == k) return p.second;
    return 49152;
}
}  // namespace emu
namespace emu {
inline std::map<void *, size_t> &allocations() { static std::map<void *, size_t> a; return a; }
inline size_t in_use() {
    size_t n = 0;
    for (auto &a : allocations()) n += a.second;
    return n;
}
}  // namespace emu
inline cudaError_t cudaMalloc(void **p, size_t n) {
    if (n > emu::device_bytes() - emu::in_use()) return cudaErrorMemoryAllocation;
    *p = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!*p) return cudaErrorMemoryAllocation;
    memset(*p, 0xA5, n);   /* cudaMalloc'd memory is not zeroed */
    emu::allocations()[*p] = n;
    return cudaSuccess;
}
template <class T> inline cudaError_t cudaMalloc(T **p, size_t n) { return cudaMalloc((void **)p, n); }
inline cudaError_t cudaFree(void *p) {
    if (!p) return cudaSuccess;
    if (!emu::allocations().erase(p)) return cudaErrorInvalidValue;
    free(p);
    return cudaSuccess;
}
namespace emu {
/* a kernel's fault, reported by the first synchronizing call after it (then cleared: a GPU's context would
 * stay unusable, the emulation's goes on) */
inline cudaError_t take_pending() {
    cudaError_t e = S().pending;
    S().pending = cudaSuccess;
    return e;
}
inline int &captures();
}  // namespace emu
/* a synchronous call while a stream captures invalidates the capture on a GPU: here it fails */
inline cudaError_t cudaDeviceSynchronize() { return emu::captures() ? cudaErrorStreamCaptureUnsupported : emu::take_pending(); }
inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) {
    if (emu::captures()) return cudaErrorStreamCaptureUnsupported;
    if (cudaError_t e = emu::take_pending()) return e;
    memcpy(d, s, n);
    return cudaSuccess;
}
inline cudaError_t cudaMemset(void *d, int v, size_t n) { memset(d, v, n); return cudaSuccess; }
inline cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total) {
    *total = emu::device_bytes(), *free_b = *total - emu::in_use();
    return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int *v, cudaDeviceAttr a, int) {
    if (a == cudaDevAttrMultiProcessorCount) *v = emu::SMS;
    else if (a == cudaDevAttrMaxSharedMemoryPerBlockOptin) *v = emu::SMEM_OPTIN;
    else return cudaErrorInvalidValue;
    return cudaSuccess;
}
/* a kernel's static shared memory is known once it has run (0 before) */
template <class K> inline cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *a, K k) {
    auto st = emu::S().static_of.find((const void *)k);
    a->sharedSizeBytes = st == emu::S().static_of.end() ? 0 : st->second;
    a->maxDynamicSharedSizeBytes = emu::max_dyn((const void *)k);
    return cudaSuccess;
}
/* blocks of k resident per multiprocessor at once, as a launch here holds them (emu::resident_per_sm) */
template <class K> inline cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int *n, K k, int threads, size_t dyn) {
    cudaFuncAttributes a;
    cudaFuncGetAttributes(&a, k);
    if (threads < 1 || threads > emu::MAX_THREADS) return cudaErrorInvalidValue;
    *n = dyn + a.sharedSizeBytes > emu::SMEM_OPTIN ? 0 : emu::resident_per_sm(threads, dyn + a.sharedSizeBytes);
    return cudaSuccess;
}
template <class K> inline cudaError_t cudaFuncSetAttribute(K k, cudaFuncAttribute, int v) {
    cudaFuncAttributes a;
    cudaFuncGetAttributes(&a, k);
    if (v < 0 || (size_t)v > emu::SMEM_OPTIN - a.sharedSizeBytes) return cudaErrorInvalidValue;
    for (auto &p : emu::attrs()) if (p.first == (const void *)k) { p.second = v; return cudaSuccess; }
    emu::attrs().push_back({(const void *)k, v});
    return cudaSuccess;
}
/* ---- streams, capture, graphs, pinned memory ---- */
struct emu_stream { bool capturing; std::vector<std::function<void()>> ops; };
struct emu_graph { std::vector<std::function<void()>> ops; };
namespace emu {
inline int &captures() { static int n; return n; }   /* streams capturing now */
inline std::vector<std::function<void()>> *recording(cudaStream_t st) { return st && st->capturing ? &st->ops : nullptr; }
}  // namespace emu
inline cudaError_t cudaStreamCreate(cudaStream_t *st) { *st = new emu_stream{false, {}}; return cudaSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t st) { delete st; return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t st) {
    return st && st->capturing ? cudaErrorStreamCaptureUnsupported : emu::take_pending();
}
inline cudaError_t cudaStreamBeginCapture(cudaStream_t st, cudaStreamCaptureMode) {
    if (!st || st->capturing) return cudaErrorInvalidValue;
    st->capturing = true, st->ops.clear(), emu::captures()++;
    return cudaSuccess;
}
inline cudaError_t cudaStreamEndCapture(cudaStream_t st, cudaGraph_t *g) {
    if (!st || !st->capturing) return cudaErrorInvalidValue;
    st->capturing = false, emu::captures()--;
    *g = new emu_graph{std::move(st->ops)};
    st->ops.clear();
    return cudaSuccess;
}
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g, unsigned long long = 0) {
    *e = new emu_graph{g->ops};
    return cudaSuccess;
}
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t st) {
    if (emu::recording(st)) return cudaErrorStreamCaptureUnsupported;
    if (getenv("EMU_LAUNCH_LOG")) fprintf(stderr, "emu-graph-launch\n");
    emu::replaying() = true;
    for (auto &op : e->ops) op();
    emu::replaying() = false;
    return cudaSuccess;
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t g) { delete g; return cudaSuccess; }
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) { delete e; return cudaSuccess; }
/* an asynchronous copy runs at once; inside a capture it would become a graph node, which ewq_cuda.cu never asks */
inline cudaError_t cudaMemcpyAsync(void *d, const void *src, size_t n, cudaMemcpyKind, cudaStream_t st = nullptr) {
    if (emu::recording(st)) return cudaErrorStreamCaptureUnsupported;
    if (cudaError_t e = emu::take_pending()) return e;   /* an earlier kernel's fault, as a GPU reports it */
    memcpy(d, src, n);
    return cudaSuccess;
}
inline cudaError_t cudaMallocHost(void **p, size_t n) {
    *p = malloc(n ? n : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFreeHost(void *p) { free(p); return cudaSuccess; }
inline cudaError_t cudaEventCreate(cudaEvent_t *e) { *e = new emu_event{0}; return cudaSuccess; }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t e, int = 0) { e->t = (double)clock() / CLOCKS_PER_SEC; return cudaSuccess; }
inline cudaError_t cudaEventSynchronize(cudaEvent_t) { return emu::take_pending(); }
inline cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
    *ms = (float)((b->t - a->t) * 1e3) + 1e-3f;
    return cudaSuccess;
}
/* Hooks for tests. emu_fault_launch(k): the k-th launch from now (1: the next) does not run and leaves an
 * illegal-address fault for the next synchronizing call, as a kernel that faults on a GPU does;
 * emu_faulted_kernel: that kernel's name (NULL before). emu_dynamic_smem_peak(name): the largest dynamic
 * shared memory a launch of the kernel `name` asked for since the previous call for it. */
extern "C" __attribute__((used)) inline void emu_fault_launch(long k) { emu::S().fault_in = k; }
extern "C" __attribute__((used)) inline const char *emu_faulted_kernel(void) {
    static std::string name;
    if (!emu::S().faulted) return nullptr;
    name = emu::base_name(emu::S().faulted);
    return name.c_str();
}
extern "C" __attribute__((used)) inline size_t emu_dynamic_smem_peak(const char *kernel) {
    size_t &p = emu::S().dyn_peak[kernel], v = p;
    p = 0;
    return v;
}

/* emu_switch(save, load): push the callee-saved registers, store the stack pointer in *save, continue on the
 * stack `load` points to and pop its registers (the System V ABI leaves every other register to the caller;
 * the floating-point control words are shared: no kernel changes the rounding mode) */
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size emu_switch, .-emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");
#endif
