/* tests/bench/bench_cpu_time.c — one thread's CPU time per token of the CPU backend (developer tool,
 * never part of the tests): on a machine shared with other jobs, wall-clock rates swing with the load,
 * while the CPU time a thread consumes moves far less, so this compares kernels between builds where
 * `make bench-cpu` cannot. For a model at a uniform tier (every block linear, embedding and lm_head):
 * the packing time (wall and process CPU), an FNV-1a hash of the packed bytes (equal hashes: identical
 * packing), then the best of R runs of a P-token prefill and N decode steps, in thread CPU time.
 *
 *     make CUDA=0 build/cpu/bench_cpu_time
 *     build/cpu/bench_cpu_time MODEL raw|int8|int4 [P=128] [N=16] [R=3] */
#define _POSIX_C_SOURCE 200809L
#include "ewq.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_qmat(uint64_t h, const ewq_qmat *m) {
    if (m->tier == EWQ_RAW) return h;
    size_t groups = (size_t)m->rows * (size_t)ewq_groups_per_row(m->cols, m->group);
    h = fnv1a(h, m->q, (size_t)m->rows * (m->tier == EWQ_INT8 ? (size_t)m->cols : ((size_t)m->cols + 1) / 2));
    h = fnv1a(h, m->scale, 2 * groups);
    return m->min ? fnv1a(h, m->min, 2 * groups) : h;
}

int main(int argc, char **argv) {
    ewq_tier tier;
    if (argc < 3 || ewq_tier_parse(argv[2], &tier)) {
        fprintf(stderr, "usage: bench_cpu_time MODEL raw|int8|int4 [P] [N] [R]\n");
        return 2;
    }
    int P = argc > 3 ? atoi(argv[3]) : 128, N = argc > 4 ? atoi(argv[4]) : 16, R = argc > 5 ? atoi(argv[5]) : 3;
    ewq_threads_init(1);
    ewq_model m;
    ewq_assignment a;
    ewq_packed p;
    ewq_backend b;
    ewq_err err;
    if (ewq_model_open(&m, argv[1], &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    ewq_assignment_uniform(&a, m.cfg.n_layers, tier, tier, tier);
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (ewq_pack(&p, &m, &a, EWQ_GROUP, 0, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double w1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t h = hash_qmat(0xcbf29ce484222325ull, &p.embed);
    if (!p.lm_head_shared) h = hash_qmat(h, &p.lm_head);
    for (int i = 0; i < m.cfg.n_layers * EWQ_N_LINEAR; i++) h = hash_qmat(h, &p.linear[i]);
    printf("%s %s, %s kernels, 1 thread: pack %.2f s wall, %.2f s CPU; packed bytes FNV-1a %016llx\n", argv[1],
           argv[2], ewq_cpu_kernels(), w1 - w0, c1 - c0, (unsigned long long)h);
    if (ewq_cpu_init(&b, &p, P + N + 1, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int *ids = malloc(sizeof(int) * (size_t)(P + N));
    float *logits = malloc(sizeof(float) * (size_t)m.cfg.vocab);
    for (int i = 0; i < P + N; i++) ids[i] = (int)(((long)i * 7919 + 13) % m.cfg.vocab);
    double best_p = 1e30, best_t = 1e30;
    for (int r = 0; r < R; r++) {
        double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (P > 0 && b.forward(&b, ids, P, 0, logits, 0, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double t1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < N; i++)
            if (b.forward(&b, ids + P + i, 1, P + i, logits, 0, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double t2 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (t1 - t0 < best_p) best_p = t1 - t0;
        if (N > 0 && (t2 - t1) / N < best_t) best_t = (t2 - t1) / N;
    }
    if (P > 0) printf("  prefill %d: %.1f ms CPU (%.1f tokens per CPU second)\n", P, best_p * 1e3, P / best_p);
    if (N > 0) printf("  decode: %.2f ms CPU per token (%.1f tokens per CPU second)\n", best_t * 1e3, 1 / best_t);
    b.free(&b);
    ewq_packed_free(&p);
    ewq_assignment_free(&a);
    ewq_model_close(&m);
    free(ids), free(logits);
    return 0;
}
