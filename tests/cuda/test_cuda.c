/* tests/cuda/test_cuda.c — the CUDA backend against the CPU backend (the reference, itself checked
 * against transformers by tests/test_forward.c). Built and run by `make test-cuda` in a CUDA build;
 * not part of `make test` (CI has no GPU). Exits 1 when any check fails.
 *
 * For every fixture in data/fixtures/ and ../shared/assets/stories260K, and every weight assignment
 * below, both backends run the same calls and must agree:
 *   logits      a prefill of 40 positions (logits of all of them), then 8 decode steps; per position
 *               max |cuda - cpu| / max |cpu| <= 1e-3 (the maximum over everything is reported)
 *   perplexity  llama.cpp's protocol (ewq_perplexity), 4 chunks of 32 positions: within 0.1%
 *   greedy      64 tokens from the BOS token (or id 1), identical
 * stories260K ($EWQ_ASSETS/stories260K, default ../shared/assets) also runs a 600-position prefill
 * (longer than the backend's 512-position chunk) on its tinystories tokens, and perplexity with chunks
 * of 128.
 * Assignments: raw; int8 and int4 (every weight, embedding and lm_head included); mixed (block linears
 * cycling raw/int8/int4, embedding int4, lm_head int8); mixed with groups of 40, which no 16-byte
 * load divides, so the products take the per-value path and the last group of a row is short.
 * Also checked on a GPU: bad calls, a context too large for device memory and one too long for the
 * attention kernel fail with one line. Without a GPU it
 * checks that ewq_cuda_init fails with one line, and prints SKIP for the rest.
 */
#define _GNU_SOURCE
#include "ewq.h"
#include "tests/test.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
static double worst_logits, worst_ppl;

static void expect(int ok, const char *name, const char *fmt, double v) {
    if (!check(ok, name, fmt, v)) failures++;
}

static int one_line(const ewq_err *e) { return e->msg[0] && !strchr(e->msg, '\n'); }

/* max over positions of max |g - c| / max |c| */
static double logit_diff(const float *g, const float *c, int rows, int vocab) {
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        double d = 0, mag = 0;
        for (int i = 0; i < vocab; i++) {
            size_t k = (size_t)r * vocab + i;
            double e = fabs((double)g[k] - c[k]);
            if (e > d || isnan(e)) d = isnan(e) ? INFINITY : e;
            if (fabs(c[k]) > mag) mag = fabs(c[k]);
        }
        if (d / mag > worst) worst = d / mag;
    }
    return worst;
}

typedef struct {
    const char *name;
    ewq_tier tier;      /* every weight; or mixed */
    int mixed, group;
} variant;

static const variant variants[] = {
    {"raw", EWQ_RAW, 0, EWQ_GROUP},
    {"int8", EWQ_INT8, 0, EWQ_GROUP},
    {"int4", EWQ_INT4, 0, EWQ_GROUP},
    {"mixed", EWQ_RAW, 1, EWQ_GROUP},
    {"mixed-g40", EWQ_RAW, 1, 40},
};

static void assign(ewq_assignment *a, int n_layers, const variant *v) {
    ewq_assignment_uniform(a, n_layers, v->tier, v->tier, v->tier);
    if (!v->mixed) return;
    for (int i = 0; i < n_layers * EWQ_N_LINEAR; i++) a->linear[i] = (ewq_tier)(i % 3);
    a->embed = EWQ_INT4, a->lm_head = EWQ_INT8;
}

/* Both backends on the same calls; `tokens` holds at least max(4 * ppl_ctx, long_prefill, 48) ids. */
static void compare(const char *model_name, const ewq_model *m, const variant *v, const int *tokens, int ppl_ctx,
                    int long_prefill) {
    char name[256];
    ewq_assignment a;
    ewq_packed p;
    ewq_backend cpu, gpu;
    ewq_err err;
    const ewq_config *c = &m->cfg;
    int V = c->vocab, ctx = 4 * ppl_ctx > 128 ? 4 * ppl_ctx : 128;
    if (long_prefill > ctx) ctx = long_prefill;
    assign(&a, c->n_layers, v);
    int rc = ewq_pack(&p, m, &a, v->group, 1, 0, &err);
    ewq_assignment_free(&a);
    snprintf(name, sizeof name, "cuda/%s/%s/init", model_name, v->name);
    if (rc || ewq_cpu_init(&cpu, &p, ctx, &err)) {
        check(0, name, "%s", err.msg), failures++;
        if (!rc) ewq_packed_free(&p);
        return;
    }
    if (ewq_cuda_init(&gpu, &p, ctx, &err)) {
        check(0, name, "%s", err.msg), failures++;
        cpu.free(&cpu), ewq_packed_free(&p);
        return;
    }

    /* logits: prefill, then decode steps after it */
    int pre = 40, steps = 8, ok = 1;
    float *lc = malloc(sizeof(float) * (size_t)(long_prefill > pre ? long_prefill : pre) * V);
    float *lg = malloc(sizeof(float) * (size_t)(long_prefill > pre ? long_prefill : pre) * V);
    double worst = 0;
    ok &= cpu.forward(&cpu, tokens, pre, 0, lc, 1, &err) == 0 && gpu.forward(&gpu, tokens, pre, 0, lg, 1, &err) == 0;
    if (ok) worst = logit_diff(lg, lc, pre, V);
    for (int s = 0; ok && s < steps; s++) {
        ok &= cpu.forward(&cpu, tokens + pre + s, 1, pre + s, lc, 0, &err) == 0 &&
              gpu.forward(&gpu, tokens + pre + s, 1, pre + s, lg, 0, &err) == 0;
        if (ok) worst = fmax(worst, logit_diff(lg, lc, 1, V));
    }
    if (ok && long_prefill) {
        ok &= cpu.forward(&cpu, tokens, long_prefill, 0, lc, 1, &err) == 0 &&
              gpu.forward(&gpu, tokens, long_prefill, 0, lg, 1, &err) == 0;
        if (ok) worst = fmax(worst, logit_diff(lg, lc, long_prefill, V));
    }
    snprintf(name, sizeof name, "cuda/%s/%s/logits", model_name, v->name);
    if (!ok) check(0, name, "forward failed: %s", err.msg), failures++;
    else expect(worst <= 1e-3, name, "max |cuda - cpu| / max |cpu| = %.3g > 1e-3", worst);
    if (ok && worst > worst_logits) worst_logits = worst;
    printf("# %s: max relative difference %.3g\n", name, worst);

    /* perplexity */
    ewq_ppl_result rc_cpu, rc_gpu;
    snprintf(name, sizeof name, "cuda/%s/%s/ppl", model_name, v->name);
    if (ewq_perplexity(&cpu, NULL, tokens, 4L * ppl_ctx, ppl_ctx, 0, &rc_cpu, &err) ||
        ewq_perplexity(&gpu, NULL, tokens, 4L * ppl_ctx, ppl_ctx, 0, &rc_gpu, &err)) {
        check(0, name, "%s", err.msg), failures++;
    } else {
        double d = fabs(rc_gpu.ppl - rc_cpu.ppl) / rc_cpu.ppl;
        expect(d <= 1e-3, name, "relative difference %.3g > 0.1%%", d);
        printf("# %s: cpu %.6f cuda %.6f (relative difference %.3g)\n", name, rc_cpu.ppl, rc_gpu.ppl, d);
        if (d > worst_ppl) worst_ppl = d;
    }

    /* greedy decoding */
    int prompt = c->bos_id >= 0 ? c->bos_id : 1, oc[64], og[64], nc = 0, ng = 0;
    snprintf(name, sizeof name, "cuda/%s/%s/greedy64", model_name, v->name);
    if (ewq_greedy(&cpu, &prompt, 1, 64, 0, oc, &nc, &err) || ewq_greedy(&gpu, &prompt, 1, 64, 0, og, &ng, &err)) {
        check(0, name, "%s", err.msg), failures++;
    } else {
        int first = -1;
        for (int i = 0; i < 64 && first < 0; i++)
            if (i >= nc || i >= ng || oc[i] != og[i]) first = i;
        expect(nc == 64 && ng == 64 && first < 0, name, "the generations differ from token %g on", first);
    }
    free(lc), free(lg);
    gpu.free(&gpu), cpu.free(&cpu);
    ewq_packed_free(&p);
}

/* Bad calls fail with one line and leave the backend usable; an impossible context is refused. */
static void check_errors(const ewq_model *m) {
    ewq_assignment a;
    ewq_packed p;
    ewq_backend gpu;
    ewq_err err;
    float *logits = malloc(sizeof(float) * (size_t)m->cfg.vocab);
    int bad = m->cfg.vocab, good = 1;
    ewq_assignment_uniform(&a, m->cfg.n_layers, EWQ_RAW, EWQ_RAW, EWQ_RAW);
    if (ewq_pack(&p, m, &a, EWQ_GROUP, 1, 0, &err) || ewq_cuda_init(&gpu, &p, 16, &err)) {
        check(0, "cuda/errors", "%s", err.msg), failures++;
        ewq_assignment_free(&a), free(logits);
        return;
    }
    int r1 = gpu.forward(&gpu, &bad, 1, 0, logits, 0, &err), l1 = one_line(&err);
    int r2 = gpu.forward(&gpu, &good, 1, 16, logits, 0, &err), l2 = one_line(&err);
    int r3 = gpu.forward(&gpu, &good, 1, 0, logits, 0, &err);
    if (!check(r1 && l1 && r2 && l2 && !r3, "cuda/bad-calls", "token %d, position %d, after %d", r1, r2, r3)) failures++;
    gpu.free(&gpu);
    ewq_backend big;
    int r4 = ewq_cuda_init(&big, &p, 1 << 28, &err);
    if (!check(r4 && one_line(&err) && strstr(err.msg, "bytes of device memory"), "cuda/out-of-memory", "%s",
               r4 ? err.msg : "a context of 2^28 positions was accepted"))
        failures++;
    if (!r4) big.free(&big);
    /* fits in memory, but its scores do not fit in the attention kernel's shared memory (227 KiB on Hopper) */
    int r5 = ewq_cuda_init(&big, &p, 100000, &err);
    if (!check(r5 && one_line(&err) && strstr(err.msg, "shared memory"), "cuda/context-too-long", "%s",
               r5 ? err.msg : "a context of 100000 positions was accepted"))
        failures++;
    if (!r5) big.free(&big);
    ewq_packed_free(&p), ewq_assignment_free(&a), free(logits);
}

static int *lcg_tokens(int n, int vocab) {
    int *ids = malloc(sizeof(int) * (size_t)n);
    uint32_t s = 2024;
    for (int i = 0; i < n; i++) ids[i] = (int)((s = s * 1664525u + 1013904223u) >> 8) % vocab;
    return ids;
}

static void run_model(const char *dir, const char *name, const int *tokens, long n_tokens, int ppl_ctx,
                      int long_prefill) {
    ewq_model m;
    ewq_err err;
    char test[256];
    snprintf(test, sizeof test, "cuda/%s/open", name);
    if (ewq_model_open(&m, dir, &err)) {
        check(0, test, "%s", err.msg), failures++;
        return;
    }
    int *own = NULL;
    long need = 4L * ppl_ctx > long_prefill ? 4L * ppl_ctx : long_prefill;
    if (!tokens || n_tokens < need) tokens = own = lcg_tokens((int)(need > 128 ? need : 128), m.cfg.vocab);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
        compare(name, &m, &variants[v], tokens, ppl_ctx, long_prefill);
    free(own);
    ewq_model_close(&m);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    char gpu[256];
    ewq_threads_init(0);
    if (ewq_cuda_describe(gpu, sizeof gpu)) {
        /* no GPU: the backend must refuse with one line */
        ewq_model m;
        ewq_assignment a;
        ewq_packed p;
        ewq_backend b;
        ewq_err err;
        int ok = ewq_model_open(&m, "data/fixtures/llama3-f32", &err) == 0;
        if (ok) {
            ewq_assignment_uniform(&a, m.cfg.n_layers, EWQ_RAW, EWQ_RAW, EWQ_RAW);
            ok = ewq_pack(&p, &m, &a, EWQ_GROUP, 1, 0, &err) == 0;
            int rc = ok ? ewq_cuda_init(&b, &p, 16, &err) : 0;
            ok = ok && rc && one_line(&err) && !strncmp(err.msg, "cuda: ", 6);
            if (rc == 0 && b.free) b.free(&b);
            ewq_packed_free(&p), ewq_assignment_free(&a), ewq_model_close(&m);
        }
        if (!check(ok, "cuda/init-without-gpu", "%s", err.msg)) failures++;
        test_skip("cuda/compare", gpu);
        return failures != 0;
    }
    printf("# device: %s\n", gpu);
    DIR *d = opendir("data/fixtures");
    struct dirent *e;
    char *names[64];
    int n = 0;
    while (d && (e = readdir(d)) && n < 64)
        if (e->d_name[0] != '.' && strcmp(e->d_name, "VERSIONS.txt")) names[n++] = strdup(e->d_name);
    if (d) closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    for (int i = 0; i < n; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "data/fixtures/%s", names[i]);
        run_model(dir, names[i], NULL, 0, 32, 0);
        if (i == 0) {
            ewq_model m;
            ewq_err err;
            if (ewq_model_open(&m, dir, &err) == 0) check_errors(&m), ewq_model_close(&m);
        }
        free(names[i]);
    }
    /* EWQ_ASSETS: where ../shared/assets is on a machine that lacks it (the GPU machine gets only the repo) */
    char s[512];
    snprintf(s, sizeof s, "%s/stories260K", getenv("EWQ_ASSETS") ? getenv("EWQ_ASSETS") : "../shared/assets");
    int *ids = NULL;
    long n_ids = 0;
    ewq_err err;
    if (ewq_read_tokens("data/expected/tinystories-6144.tokens", 512, &ids, &n_ids, &err))
        test_skip("cuda/stories260K", err.msg);
    else if (access(s, F_OK) != 0) test_skip("cuda/stories260K", "the stories260K folder is missing (set EWQ_ASSETS)");
    else run_model(s, "stories260K", ids, n_ids, 128, 600);
    free(ids);
    printf("# largest relative logit difference %.3g (limit 1e-3), largest perplexity difference %.3g (limit 1e-3)\n",
           worst_logits, worst_ppl);
    printf("# %s\n", failures ? "FAILED" : "all passed");
    return failures != 0;
}
