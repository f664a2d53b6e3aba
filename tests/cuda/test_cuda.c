/* tests/cuda/test_cuda.c — the CUDA backend against the CPU backend (the reference, itself checked
 * against transformers by tests/test_forward.c). Built and run by `make test-cuda` on a GPU, and by
 * `make test-cuda-emu` against tests/cuda/emu (ewq_cuda.cu's kernels run on the CPU). Exits 1 when
 * any check fails.
 *
 * For every model below, and every weight assignment below, both backends run the same calls and
 * must agree:
 *   logits      a prefill of 40 positions (logits of all of them), then 8 decode steps; then (raw weights)
 *               a prefill of 250 and decode steps to position 261 (across the decode attention's split of
 *               256 keys); per position
 *               max |cuda - cpu| / max |cpu| <= 1e-3 and KL(cpu || cuda) <= 1e-4 nats (the maxima over
 *               everything are reported). The KL divergence sees what perplexity on random weights
 *               cannot: their perplexity is near the vocabulary size whatever the logits are.
 *   perplexity  llama.cpp's protocol (ewq_perplexity), 4 chunks of 32 positions: within 0.1%, and the
 *               99th percentile of the per-position KL divergence from the CPU backend <= 1e-4; with raw
 *               weights, without a reference, which the CUDA backend scores on the device (score): within
 *               1e-12 of the same logits scored on the host (only the order of a sum of doubles differs)
 *   repeats     the last decode step run again gives the same logits to the last bit
 *   next token  the id next_token chooses on the device at the last decode step, against the CPU's choice
 *               from its logits (unless its two largest are closer than 1e-4 * max |logit|)
 *   greedy      64 tokens from the BOS token (or id 1), identical up to the first step where the CPU's
 *               two largest logits are closer than 1e-4 * max |logit| (a near-tie, which the order of a
 *               float sum may decide): the comparison stops there and says so
 * Models: every fixture in data/fixtures/; mistral-f32 once more with a sliding window of 12 positions
 * (shorter than the prefill and the perplexity chunks, so the window decides what attention sees);
 * real-width shapes (Llama-3.2-1B, Qwen2.5-0.5B, Qwen3-0.6B from $EWQ_ASSETS/configs, default
 * ../shared/assets) at 2 layers and a vocabulary of 4129 (a prime: the last block of every decode
 * product over the vocabulary is partial, down to a lone row; and above 4096, so next_token's argmax
 * threads take a second round of four ids, the last one partial), synthesized into a temporary folder, logits
 * only (3 decode steps) at the two mixed assignments; and stories260K
 * ($EWQ_ASSETS/stories260K), which also runs a long prefill (default 600 positions: longer than the
 * backend's 512-position chunk) on its tinystories tokens, and perplexity with chunks of 128.
 * Assignments: raw; int8 and int4 (every weight, embedding and lm_head included); mixed (block linears
 * cycling raw/int8/int4, embedding int4, lm_head int8); mixed with groups of 128, which the decode
 * products take piece by piece rather than a group at a time; mixed with groups of 40, which no 16-byte
 * load divides, so the products take the per-value path and the last group of a row is short.
 * next_token's rules on the first fixture: ties between equal maxima (an lm_head whose upper half repeats
 * its lower half) go to the lowest id, and a logit that is not finite fails the call, and a perplexity scored
 * on the device, with the CPU's line. Also on the first fixture (also in --quick), one backend holding every
 * tier's block linears (ewq_cuda_init_tiers, as ewq run uses it): after each change of p->linear, the logits
 * of a backend made for that assignment alone, to the last bit; the device bytes of the tiers held once; the
 * KL divergence and top-1 agreement scored against a reference kept on the device (score_ref) as on the host.
 * llama3-f32 synthesized with heads of 128 columns (also in --quick): the widest head the prefill attention
 * takes, at the most shared memory it asks for; and with a hidden size of 1024 (also in --quick): decode
 * products whose warps split the columns of their rows.
 * Also checked: bad calls, a context too large for device memory and a head wider than 128 fail with one
 * line; a perplexity scored on the device across two passes (513 positions) as on the host; a context of
 * 100000 positions works (the prefill attention's shared memory does not grow with the
 * context). Under the emulation only (its hooks, NULL in a GPU build): the attention of that context's
 * last positions asks for the shared memory of a short one, and with EWQ_CUDA_SYNC=1 a kernel's fault is
 * reported naming it.
 * Without a GPU it checks that ewq_cuda_init fails with one line, and prints SKIP for the rest.
 *
 * usage: test_cuda [--quick] [--part fixtures|shapes] [--fail-fast] [--prefill N] [--model DIR]
 *   --quick      the fixtures llama3-f32, qwen2-f16, qwen3-bf16, the sliding window, heads of 128 and the
 *                hidden size of 1024 only, no real-width shapes and no stories260K (the emulation under
 *                AddressSanitizer, each mutant)
 *   --part P     one of two parts that together are the whole run, so that two processes can share it
 *                (`make test-cuda-emu` on two CPUs): "fixtures", the fixtures, the sliding window and the
 *                checks of bad calls and limits; "shapes", the real-width shapes, heads of 128, the hidden
 *                size of 1024 and stories260K
 *   --fail-fast  exit at the first failed check (tests/cuda/mutants.sh)
 *   --prefill N  stories260K's long prefill (default 600: two chunks of the backend, the second from 512)
 *   --model DIR  only the checkpoint in DIR, whole (every layer, the full vocabulary), as the real-width
 *                shapes: logits and KL divergence at the two mixed assignments (tests/cuda/gpu_window.sh
 *                on its synthesized Llama-3.2-1B)
 */
#define _GNU_SOURCE
#include "ewq.h"
#include "tests/test.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* decode steps from position LONG_DECODE_FROM to LONG_DECODE_END - 1, across the CUDA backend's first
 * attention split (256 keys), after a prefill of LONG_DECODE_FROM positions */
#define LONG_DECODE_FROM 250
#define LONG_DECODE_END 262

static int failures, fail_fast;
static double worst_logits, worst_kl, worst_ppl;

/* Hooks of the emulation (tests/cuda/emu/cuda_runtime.h); NULL in a GPU build. */
extern void emu_fault_launch(long k) __attribute__((weak));
extern const char *emu_faulted_kernel(void) __attribute__((weak));
extern size_t emu_dynamic_smem_peak(const char *kernel) __attribute__((weak));

static void failed(void) {
    failures++;
    if (fail_fast) exit(1);
}

static void expect(int ok, const char *name, const char *fmt, double v) {
    if (!check(ok, name, fmt, v)) failed();
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

/* max over positions of KL(softmax(c) || softmax(g)) in nats, in double */
static double kl_max(const float *g, const float *c, int rows, int vocab) {
    double worst = 0;
    for (int r = 0; r < rows; r++) {
        const float *gr = g + (size_t)r * vocab, *cr = c + (size_t)r * vocab;
        double mc = cr[0], mg = gr[0], zc = 0, zg = 0, kl = 0;
        for (int i = 1; i < vocab; i++) mc = fmax(mc, cr[i]), mg = fmax(mg, gr[i]);
        for (int i = 0; i < vocab; i++) zc += exp(cr[i] - mc), zg += exp(gr[i] - mg);
        for (int i = 0; i < vocab; i++) {
            double lc = cr[i] - mc - log(zc), lg = gr[i] - mg - log(zg);
            kl += exp(lc) * (lc - lg);
        }
        if (!(kl <= worst)) worst = isnan(kl) ? INFINITY : kl;
    }
    return worst;
}

/* The largest logit and the next smaller one are closer than 1e-4 * max |logit|: which id is largest may
 * then depend on the order of a float sum, so two backends need not agree on it. */
static int near_tie(const float *logits, int vocab) {
    float best = -INFINITY, next = -INFINITY, mag = 0;
    for (int k = 0; k < vocab; k++) best = fmaxf(best, logits[k]), mag = fmaxf(mag, fabsf(logits[k]));
    for (int k = 0; k < vocab; k++)
        if (logits[k] < best) next = fmaxf(next, logits[k]);
    return best - next < 1e-4f * mag;
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
    {"mixed-g128", EWQ_RAW, 1, 128},
    {"mixed-g40", EWQ_RAW, 1, 40},
};

static void assign(ewq_assignment *a, int n_layers, const variant *v) {
    ewq_assignment_uniform(a, n_layers, v->tier, v->tier, v->tier);
    if (!v->mixed) return;
    for (int i = 0; i < n_layers * EWQ_N_LINEAR; i++) a->linear[i] = (ewq_tier)(i % 3);
    a->embed = EWQ_INT4, a->lm_head = EWQ_INT8;
}

/* 64 greedy tokens from BOS: the CPU's one step at a time, with the gap between its two largest logits,
 * and ewq_greedy on the CUDA backend; compared up to the first near-tie of the CPU's. */
static void greedy64(const char *model_name, const variant *v, const ewq_config *c, ewq_backend *cpu, ewq_backend *gpu) {
    char name[256];
    ewq_err err;
    int tok = c->bos_id >= 0 ? c->bos_id : 1, oc[64], og[64], ng = 0, ties_at = 64;
    float *logits = malloc(sizeof(float) * (size_t)c->vocab);
    snprintf(name, sizeof name, "cuda/%s/%s/greedy64", model_name, v->name);
    int rc = ewq_greedy(gpu, &tok, 1, 64, 0, og, &ng, &err);
    for (int i = 0; i < 64 && !rc; i++) {
        if ((rc = cpu->forward(cpu, &tok, 1, i, logits, 0, &err))) break;
        int best = 0, second = -1;
        float mag = 0;
        for (int k = 0; k < c->vocab; k++) {
            mag = fmaxf(mag, fabsf(logits[k]));
            if (logits[k] > logits[best]) second = best, best = k;
            else if (k != best && (second < 0 || logits[k] > logits[second])) second = k;
        }
        if (ties_at == 64 && logits[best] - logits[second] < 1e-4f * mag) ties_at = i;
        oc[i] = tok = best;
    }
    free(logits);
    if (rc) {
        check(0, name, "%s", err.msg), failed();
        return;
    }
    int first = -1;
    for (int i = 0; i < ties_at && first < 0; i++)
        if (i >= ng || oc[i] != og[i]) first = i;
    expect(first < 0, name, "the generations differ from token %g on", first);
    if (ties_at < 64)
        printf("# %s: compared the first %d tokens only: at token %d the CPU's two largest logits are closer than "
               "1e-4 * max |logit|\n", name, ties_at, ties_at);
}

/* Without a reference the CUDA backend scores its logits where they are (score): the same logits as `host`,
 * there scored on the host, so the two may differ only by the order of a sum of doubles. */
static void ppl_scored_on_device(const char *name, ewq_backend *gpu, const int *tokens, int ppl_ctx,
                                 const ewq_ppl_result *host) {
    ewq_ppl_result dev;
    ewq_err err;
    if (ewq_perplexity(gpu, NULL, tokens, 4L * ppl_ctx, ppl_ctx, 0, &dev, &err)) {
        check(0, name, "%s", err.msg), failed();
        return;
    }
    double d = fabs(dev.ppl - host->ppl) / host->ppl, ds = fabs(dev.ppl_stderr - host->ppl_stderr) / host->ppl_stderr;
    expect(d <= 1e-12 && ds <= 1e-9 && dev.scored == host->scored, name,
           "relative difference %.3g from the same logits scored on the host (stderr %.3g)", d > ds ? d : ds);
    printf("# %s: %.17g, on the host %.17g (relative difference %.3g; stderr %.3g)\n", name, dev.ppl, host->ppl, d, ds);
}

/* Perplexity (4 chunks of ppl_ctx) with the KL divergence from the CPU backend, and with raw weights scored on
 * the device as well (the scoring sees logits, whatever weights made them); 64 greedy tokens. */
static void ppl_and_greedy(const char *model_name, const variant *v, const ewq_config *c, ewq_backend *cpu,
                           ewq_backend *gpu, const int *tokens, int ppl_ctx) {
    char name[256];
    ewq_err err;
    /* perplexity */
    ewq_ppl_result rc_cpu, rc_gpu;
    snprintf(name, sizeof name, "cuda/%s/%s/ppl", model_name, v->name);
    if (ewq_perplexity(cpu, NULL, tokens, 4L * ppl_ctx, ppl_ctx, 0, &rc_cpu, &err) ||
        ewq_perplexity(gpu, cpu, tokens, 4L * ppl_ctx, ppl_ctx, 0, &rc_gpu, &err)) {
        check(0, name, "%s", err.msg), failed();
    } else {
        double d = fabs(rc_gpu.ppl - rc_cpu.ppl) / rc_cpu.ppl;
        expect(d <= 1e-3 && rc_gpu.kl_p99 <= 1e-4, name, "relative difference %.3g > 0.1%%, or KL divergence too large",
               d);
        printf("# %s: cpu %.6f cuda %.6f (relative difference %.3g); KL(cpu || cuda) mean %.3g, p99 %.3g nats\n",
               name, rc_cpu.ppl, rc_gpu.ppl, d, rc_gpu.kl, rc_gpu.kl_p99);
        if (d > worst_ppl) worst_ppl = d;
        snprintf(name, sizeof name, "cuda/%s/%s/ppl-scored-on-device", model_name, v->name);
        if (v == &variants[0]) ppl_scored_on_device(name, gpu, tokens, ppl_ctx, &rc_gpu);
    }
    greedy64(model_name, v, c, cpu, gpu);
}

/* Both backends on the same calls; `tokens` holds at least max(4 * ppl_ctx, long_prefill, 48) ids.
 * ppl_ctx 0: the logits only, with 3 decode steps (the real-width shapes, slow to emulate; run_model
 * gives them the two mixed assignments only, which hold every tier's vector and per-value paths). */
static void compare(const char *model_name, const ewq_model *m, const variant *v, const int *tokens, int ppl_ctx,
                    int long_prefill) {
    char name[256];
    ewq_assignment a;
    ewq_packed p;
    ewq_backend cpu, gpu;
    ewq_err err;
    const ewq_config *c = &m->cfg;
    int V = c->vocab, ctx = 4 * ppl_ctx > LONG_DECODE_END ? 4 * ppl_ctx : LONG_DECODE_END;
    if (long_prefill > ctx) ctx = long_prefill;
    assign(&a, c->n_layers, v);
    int rc = ewq_pack(&p, m, &a, v->group, 0, &err);
    ewq_assignment_free(&a);
    snprintf(name, sizeof name, "cuda/%s/%s/init", model_name, v->name);
    if (rc || ewq_cpu_init(&cpu, &p, ctx, &err)) {
        check(0, name, "%s", err.msg), failed();
        if (!rc) ewq_packed_free(&p);
        return;
    }
    if (ewq_cuda_init(&gpu, &p, ctx, &err)) {
        check(0, name, "%s", err.msg), failed();
        cpu.free(&cpu), ewq_packed_free(&p);
        return;
    }

    /* logits: prefill, then decode steps after it */
    int pre = 40, steps = ppl_ctx ? 8 : 3, ok = 1;
    float *lc = malloc(sizeof(float) * (size_t)(long_prefill > pre ? long_prefill : pre) * V);
    float *lg = malloc(sizeof(float) * (size_t)(long_prefill > pre ? long_prefill : pre) * V);
    double worst = 0, kl = 0;
    ok &= cpu.forward(&cpu, tokens, pre, 0, lc, 1, &err) == 0 && gpu.forward(&gpu, tokens, pre, 0, lg, 1, &err) == 0;
    if (ok) worst = logit_diff(lg, lc, pre, V), kl = kl_max(lg, lc, pre, V);
    for (int s = 0; ok && s < steps; s++) {
        ok &= cpu.forward(&cpu, tokens + pre + s, 1, pre + s, lc, 0, &err) == 0 &&
              gpu.forward(&gpu, tokens + pre + s, 1, pre + s, lg, 0, &err) == 0;
        if (ok) worst = fmax(worst, logit_diff(lg, lc, 1, V)), kl = fmax(kl, kl_max(lg, lc, 1, V));
    }
    /* next_token (the id chosen on the device) at the last decode step's position again, against the CPU's
     * choice from the logits of that step */
    int last = pre + steps - 1, id = -1, want = ewq_sample(NULL, lc, V), tied = near_tie(lc, V);
    /* the last decode step once more (it writes the same key and value to the cache): the same logits to the
     * last bit, as on every run (no sum whose order depends on which block gets there first) */
    float *again = malloc(sizeof(float) * (size_t)V);
    ok = ok && gpu.forward(&gpu, tokens + last, 1, last, again, 0, &err) == 0;
    int differ = 0;
    for (int i = 0; ok && i < V; i++) differ += memcmp(again + i, lg + i, sizeof(float)) != 0;
    snprintf(name, sizeof name, "cuda/%s/%s/decode-repeats", model_name, v->name);
    if (ok) expect(differ == 0, name, "%.0f logits differ from the first run of the step", differ);
    free(again);
    ok = ok && gpu.next_token(&gpu, tokens + last, 1, last, &id, &err) == 0;
    snprintf(name, sizeof name, "cuda/%s/%s/next-token", model_name, v->name);
    if (ok && tied) test_skip(name, "the CPU's two largest logits are closer than 1e-4 * max |logit|");
    else if (ok && !check(id == want, name, "CUDA chose id %d", id)) failed();
    /* decode across the first split of the decode attention: a prefill to LONG_DECODE_FROM, then steps (raw
     * weights only: the splits do not depend on the format, and the emulated prefill is slow) */
    for (int pos = LONG_DECODE_FROM; ok && ppl_ctx && v == &variants[0] && pos < LONG_DECODE_END; pos++) {
        int n = pos == LONG_DECODE_FROM ? pos : 1, at = pos == LONG_DECODE_FROM ? 0 : pos;
        ok &= cpu.forward(&cpu, tokens + at, n, at, lc, 0, &err) == 0 && gpu.forward(&gpu, tokens + at, n, at, lg, 0, &err) == 0;
        if (ok) worst = fmax(worst, logit_diff(lg, lc, 1, V)), kl = fmax(kl, kl_max(lg, lc, 1, V));
    }
    if (ok && long_prefill) {
        ok &= cpu.forward(&cpu, tokens, long_prefill, 0, lc, 1, &err) == 0 &&
              gpu.forward(&gpu, tokens, long_prefill, 0, lg, 1, &err) == 0;
        if (ok)
            worst = fmax(worst, logit_diff(lg, lc, long_prefill, V)), kl = fmax(kl, kl_max(lg, lc, long_prefill, V));
    }
    snprintf(name, sizeof name, "cuda/%s/%s/logits", model_name, v->name);
    if (!ok) check(0, name, "forward failed: %s", err.msg), failed();
    else expect(worst <= 1e-3 && kl <= 1e-4, name, "max |cuda - cpu| / max |cpu| = %.3g > 1e-3, or KL divergence > 1e-4",
                worst);
    if (ok && worst > worst_logits) worst_logits = worst;
    if (ok && kl > worst_kl) worst_kl = kl;
    printf("# %s: max relative difference %.3g, max KL(cpu || cuda) %.3g nats\n", name, worst, kl);

    if (ppl_ctx) ppl_and_greedy(model_name, v, c, &cpu, &gpu, tokens, ppl_ctx);
    free(lc), free(lg);
    gpu.free(&gpu), cpu.free(&cpu);
    ewq_packed_free(&p);
}

/* The prefill attention's shared memory does not grow with the context: a backend at 100000 positions (whose
 * scores for one position would not fit in any GPU's shared memory, 400 KB) is accepted and a prefill of its
 * last two positions, which see every key, gives finite logits; under the emulation (its hooks) that launch
 * asked for the same shared memory as a prefill of 5 positions from 0 at a context of 16. */
static void long_context(const ewq_packed *p) {
    ewq_backend big, small;
    ewq_err err;
    int ids[5] = {1, 2, 3, 4, 5}, V = p->model->cfg.vocab, longest = 100000;
    float *logits = malloc(sizeof(float) * (size_t)V);
    size_t short_smem = 0, long_smem = 0;
    if (emu_dynamic_smem_peak) emu_dynamic_smem_peak("attention");   /* forget the launches before */
    int rc = ewq_cuda_init(&small, p, 16, &err) || small.forward(&small, ids, 5, 0, logits, 0, &err);
    if (small.state) small.free(&small);
    if (emu_dynamic_smem_peak) short_smem = emu_dynamic_smem_peak("attention");
    rc = rc || ewq_cuda_init(&big, p, longest, &err);
    if (!rc) {
        rc = big.forward(&big, ids, 2, longest - 2, logits, 0, &err);
        for (int i = 0; !rc && i < V; i++)
            if (!isfinite(logits[i])) rc = ewq_fail(&err, "cuda", "logit %d is not finite", i);
        big.free(&big);
    }
    if (emu_dynamic_smem_peak) long_smem = emu_dynamic_smem_peak("attention");
    if (!check(!rc, "cuda/long-context", "a context of %d positions: %s", longest, err.msg)) failed();
    if (!emu_dynamic_smem_peak) test_skip("cuda/attention-shared-memory", "the size hook exists under the emulation only");
    else if (!check(!rc && short_smem > 0 && long_smem == short_smem, "cuda/attention-shared-memory",
                    "%zu bytes at positions 0..4 of 16, %zu at %d..%d", short_smem, long_smem, longest - 2, longest - 1))
        failed();
    free(logits);
}

static int *lcg_tokens(int n, int vocab) {
    int *ids = malloc(sizeof(int) * (size_t)n);
    uint32_t s = 2024;
    for (int i = 0; i < n; i++) ids[i] = (int)((s = s * 1664525u + 1013904223u) >> 8) % vocab;
    return ids;
}

/* Perplexity scored on the device over more positions than one pass holds (CHUNK, 512): ctx 1026 makes the
 * scored half 513 positions, a pass of 512 whose last position predicts the first id of the next pass, then
 * a pass of one (a decode step); the same logits scored on the host (with the CPU backend as a reference)
 * must give the same perplexity but for the order of a sum of doubles. */
static void score_across_passes(const ewq_packed *p) {
    int ctx = 1026, *ids = lcg_tokens(ctx, p->model->cfg.vocab);
    ewq_backend cpu = {0}, gpu = {0};
    ewq_err err;
    ewq_ppl_result host, dev;
    int rc = ewq_cpu_init(&cpu, p, ctx, &err) || ewq_cuda_init(&gpu, p, ctx, &err) ||
             ewq_perplexity(&gpu, &cpu, ids, ctx, ctx, 0, &host, &err) || ewq_perplexity(&gpu, NULL, ids, ctx, ctx, 0, &dev, &err);
    double d = rc ? 1 : fabs(dev.ppl - host.ppl) / host.ppl;
    if (!check(!rc && d <= 1e-12 && dev.scored == 512 && host.scored == 512, "cuda/ppl-scored-across-passes",
               "%s", rc ? err.msg : "the device and host scores differ"))
        failed();
    if (!rc) printf("# cuda/ppl-scored-across-passes: %.17g, on the host %.17g (relative difference %.3g)\n", dev.ppl, host.ppl, d);
    if (gpu.state) gpu.free(&gpu);
    if (cpu.state) cpu.free(&cpu);
    free(ids);
}

/* A head wider than the attention kernel holds (ATTN_DIM_MAX, 128 columns) is refused with one line. */
static void head_too_wide(const ewq_packed *p) {
    ewq_model wide = *p->model;
    ewq_packed q = *p;
    ewq_backend b;
    ewq_err err;
    wide.cfg.head_dim = 136, q.model = &wide;
    int rc = ewq_cuda_init(&b, &q, 16, &err);
    if (!check(rc && one_line(&err) && strstr(err.msg, "head_dim 136"), "cuda/head-dim-too-wide", "%s",
               rc ? err.msg : "accepted"))
        failed();
    if (!rc) b.free(&b);
}

/* Under the emulation (its hooks): a fault inside a kernel fails the forward call with one line, and with
 * EWQ_CUDA_SYNC=1 that line names the kernel. */
static void emulated_faults(const ewq_packed *p) {
    if (!emu_fault_launch || !emu_faulted_kernel) {
        test_skip("cuda/emulated", "the fault hooks exist under the emulation only");
        return;
    }
    ewq_backend b;
    ewq_err err;
    int rc, ids[6] = {1, 2, 3, 4, 5, 6};
    float *logits = malloc(sizeof(float) * (size_t)p->model->cfg.vocab);

    /* the third launch of a forward call faults, with and without EWQ_CUDA_SYNC */
    const char *was = getenv("EWQ_CUDA_SYNC");
    char *saved = was ? strdup(was) : NULL;
    for (int sync = 0; sync < 2; sync++) {
        char name[64];
        snprintf(name, sizeof name, "cuda/kernel-fault%s", sync ? "/EWQ_CUDA_SYNC" : "");
        setenv("EWQ_CUDA_SYNC", sync ? "1" : "0", 1);
        if (ewq_cuda_init(&b, p, 16, &err)) {
            check(0, name, "%s", err.msg), failed();
            continue;
        }
        emu_fault_launch(3);
        rc = b.forward(&b, ids, 5, 0, logits, 0, &err);
        const char *k = emu_faulted_kernel();
        char want[128];
        snprintf(want, sizeof want, "kernel %s: ", k ? k : "?");
        int ok = rc && one_line(&err) && strstr(err.msg, "illegal memory access") && (!sync || strstr(err.msg, want));
        if (!check(ok, name, "%s", rc ? err.msg : "the forward call succeeded")) failed();
        printf("# %s: %s\n", name, err.msg);
        b.free(&b);
    }
    if (saved) setenv("EWQ_CUDA_SYNC", saved, 1), free(saved);
    else unsetenv("EWQ_CUDA_SYNC");
    free(logits);
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
    if (ewq_pack(&p, m, &a, EWQ_GROUP, 0, &err) || ewq_cuda_init(&gpu, &p, 16, &err)) {
        check(0, "cuda/errors", "%s", err.msg), failed();
        ewq_assignment_free(&a), free(logits);
        return;
    }
    int r1 = gpu.forward(&gpu, &bad, 1, 0, logits, 0, &err), l1 = one_line(&err);
    int r2 = gpu.forward(&gpu, &good, 1, 16, logits, 0, &err), l2 = one_line(&err);
    /* then a good call of two positions */
    int goods[2] = {good, good}, r3 = gpu.forward(&gpu, goods, 2, 0, logits, 0, &err);
    if (!check(r1 && l1 && r2 && l2 && !r3, "cuda/bad-calls", "token %d, position %d, after %d", r1, r2, r3)) failed();
    gpu.free(&gpu);
    ewq_backend big;
    int r4 = ewq_cuda_init(&big, &p, 1 << 28, &err);
    if (!check(r4 && one_line(&err) && strstr(err.msg, "bytes of device memory"), "cuda/out-of-memory", "%s",
               r4 ? err.msg : "a context of 2^28 positions was accepted"))
        failed();
    if (!r4) big.free(&big);
    long_context(&p);
    score_across_passes(&p);
    head_too_wide(&p);
    emulated_faults(&p);
    ewq_packed_free(&p), ewq_assignment_free(&a), free(logits);
}

/* next_token's choice against the CPU's (ewq_sample with no sampler) where the answer hinges on the rules
 * rather than the values: every logit of the upper half of the vocabulary equals one of the lower half
 * exactly (lm_head at int8, row half + r a copy of row r), so the maximum is always a tie that the lowest
 * id must win; then two rows with an infinite scale make their logits infinite or NaN on both backends,
 * and both must refuse with the same line naming the first. A prefill, then decode steps fed the CPU's
 * choices; a step whose best and next different logits are closer than 1e-4 * max |logit| on the CPU (the
 * order of a float sum may decide it) is not compared. */
static void next_token_rules(const ewq_model *m) {
    ewq_assignment a;
    ewq_packed p;
    ewq_backend cpu = {0}, gpu = {0};
    ewq_err err = {{0}}, gerr = {{0}};
    int V = m->cfg.vocab, half = V / 2, tok = 0, ties = 0, compared = 0, ok;
    int *prompt = lcg_tokens(8, V);
    float *logits = malloc(sizeof(float) * (size_t)V);
    ewq_assignment_uniform(&a, m->cfg.n_layers, EWQ_INT8, EWQ_INT8, EWQ_INT8);
    int packed = ok = ewq_pack(&p, m, &a, EWQ_GROUP, 0, &err) == 0;
    ewq_assignment_free(&a);
    ewq_qmat *lm = &p.lm_head;
    int ng = ok ? ewq_groups_per_row(lm->cols, lm->group) : 0;
    for (int r = 0; ok && r < half; r++) {
        memcpy((int8_t *)lm->q + (size_t)(half + r) * lm->cols, (int8_t *)lm->q + (size_t)r * lm->cols, (size_t)lm->cols);
        memcpy(lm->scale + (size_t)(half + r) * ng, lm->scale + (size_t)r * ng, sizeof(uint16_t) * (size_t)ng);
    }
    ok = ok && ewq_cpu_init(&cpu, &p, 64, &err) == 0 && ewq_cuda_init(&gpu, &p, 64, &gerr) == 0;
    for (int step = 0; ok && step < 24; step++) {   /* step 0: the prompt's 8 ids; then the id the CPU chose */
        int n = step ? 1 : 8, at = step ? 7 + step : 0, got = -1;
        const int *ids = step ? &tok : prompt;
        ok = cpu.forward(&cpu, ids, n, at, logits, 0, &err) == 0 && gpu.next_token(&gpu, ids, n, at, &got, &gerr) == 0;
        if (!ok) break;
        tok = ewq_sample(NULL, logits, V);
        if (near_tie(logits, V)) continue;
        compared++;
        ties += tok < half && logits[half + tok] == logits[tok];
        if (got != tok) printf("# cuda/next-token/ties: step %d: CUDA chose id %d, the CPU %d\n", step, got, tok), ok = 0;
    }
    if (!ok && (err.msg[0] || gerr.msg[0])) check(0, "cuda/next-token/ties", "%s", err.msg[0] ? err.msg : gerr.msg), failed();
    else expect(ok && ties >= 8, "cuda/next-token/ties", "the CUDA and CPU choices differ, or only %g tied steps compared", ties);
    printf("# cuda/next-token/ties: %d of 24 steps compared, %d of them with the maximum tied\n", compared, ties);
    if (gpu.state) gpu.free(&gpu);
    if (!cpu.state) {
        if (packed) ewq_packed_free(&p);
        free(prompt), free(logits);
        return;
    }
    /* rows 3 and 7 infinite (ids 3 and 7 kept out of the prompt: a tied embedding shares them) */
    lm->scale[(size_t)7 * ng] = lm->scale[(size_t)3 * ng] = 0x7c00;   /* fp16 infinity */
    int ids[8] = {1, 2, 4, 5, 6, 8, 9, 10};
    err.msg[0] = gerr.msg[0] = 0;
    int rc_cpu = cpu.next_token(&cpu, ids, 8, 0, &tok, &err);
    int rc_gpu = ewq_cuda_init(&gpu, &p, 64, &gerr) || gpu.next_token(&gpu, ids, 8, 0, &tok, &gerr);
    const char *value = strstr(err.msg, "(token 3: ");   /* the value's sign may differ: a NaN's, by how it arose */
    ok = rc_cpu && rc_gpu && value && !strncmp(err.msg, gerr.msg, (size_t)(value - err.msg) + strlen("(token 3: "));
    if (!check(ok, "cuda/next-token/not-finite", "CPU: %s", err.msg)) failed();
    printf("# cuda/next-token/not-finite: CUDA: %s\n", gerr.msg);
    /* perplexity, which the CUDA backend scores on the device: the same line, at the first scored position,
     * with row 3 alone infinite (row 7 as it was, from its copy), so that a row may hold a -inf whose largest
     * value is finite (the emulation's position 4 does), which only the check for values that are not finite
     * sees */
    if (gpu.state) gpu.free(&gpu);
    lm->scale[(size_t)7 * ng] = lm->scale[(size_t)(half + 7) * ng];
    ewq_ppl_result r;
    err.msg[0] = gerr.msg[0] = 0;
    rc_cpu = ewq_perplexity(&cpu, NULL, ids, 8, 8, 0, &r, &err);
    rc_gpu = ewq_cuda_init(&gpu, &p, 64, &gerr) || ewq_perplexity(&gpu, NULL, ids, 8, 8, 0, &r, &gerr);
    value = strstr(err.msg, "(token 3: ");
    ok = rc_cpu && rc_gpu && value && strstr(err.msg, "position 4") &&
         !strncmp(err.msg, gerr.msg, (size_t)(value - err.msg) + strlen("(token 3: "));
    if (!check(ok, "cuda/ppl/not-finite", "CPU: %s", err.msg)) failed();
    printf("# cuda/ppl/not-finite: CUDA: %s\n", gerr.msg);
    if (gpu.state) gpu.free(&gpu);
    cpu.free(&cpu), ewq_packed_free(&p), free(prompt), free(logits);
}

/* The KL divergence and top-1 agreement scored on the device against a reference kept there (score_ref, as ewq
 * run uses it): on one backend holding the tiers, the raw blocks kept, then a mixed assignment against them, in
 * one chunk of 1030 whose second half (515 positions) takes two passes of the backend, the second of them with
 * scored positions too (the reference's rows past the first 512); against ewq_perplexity with backends of their
 * own (the raw one the reference), which scores the same logits on the host (shared_tiers: bit for bit):
 * perplexity within 1e-12, mean KL within 1e-9 (only the order of sums of doubles differs), the same
 * agreement. A call against a reference of other positions fails with one line. */
static void scored_against_kept(const ewq_model *m, const ewq_packed tier[3]) {
    enum { CTX = 1030, HALF = CTX / 2, SCORED = CTX - 1 - HALF };
    int L = m->cfg.n_layers, nl = L * EWQ_N_LINEAR, *ids = lcg_tokens(CTX, m->cfg.vocab), agree[HALF];
    double nll[HALF], kl[HALF];
    float *last = malloc(sizeof(float) * (size_t)m->cfg.vocab);
    ewq_qmat *mixed = malloc(sizeof(ewq_qmat) * (size_t)nl);
    ewq_packed weights = tier[EWQ_RAW], view = tier[EWQ_RAW];
    ewq_backend shared = {0}, ref = {0}, model = {0};
    ewq_ppl_result host;
    ewq_err err;
    if (m->cfg.bos_id >= 0) ids[0] = m->cfg.bos_id;   /* as ewq_perplexity makes each chunk */
    for (int i = 0; i < nl; i++) mixed[i] = tier[i % 3].linear[i];
    view.linear = mixed;
    int rc = ewq_cuda_init_tiers(&shared, &weights, tier, 3, CTX, SCORED, &err) ||
             shared.forward(&shared, ids, HALF, 0, last, 0, &err) ||
             shared.score_ref(&shared, ids + HALF, CTX - HALF, HALF, 1, nll, kl, agree, &err);
    weights.linear = mixed;
    rc = rc || shared.forward(&shared, ids, HALF, 0, last, 0, &err) ||
         shared.score_ref(&shared, ids + HALF, CTX - HALF, HALF, 0, nll, kl, agree, &err) ||
         ewq_cuda_init(&ref, &tier[EWQ_RAW], CTX, &err) || ewq_cuda_init(&model, &view, CTX, &err) ||
         ewq_perplexity(&model, &ref, ids, CTX, CTX, 0, &host, &err);
    double mean_nll = 0, mean_kl = 0, agreed = 0;
    for (int j = 0; j < SCORED; j++) mean_nll += nll[j] / SCORED, mean_kl += kl[j] / SCORED, agreed += agree[j];
    double dp = rc ? 1 : fabs(exp(mean_nll) - host.ppl) / host.ppl, dk = rc ? 1 : fabs(mean_kl - host.kl) / host.kl;
    if (!check(!rc && dp <= 1e-12 && dk <= 1e-9 && agreed / SCORED == host.top1_agree && host.kl > 0,
               "cuda/shared-tiers/scored-against-kept", "%s", rc ? err.msg : "the device and host scores differ"))
        failed();
    if (!rc)
        printf("# cuda/shared-tiers/scored-against-kept: KLD %.17g, on the host %.17g (relative difference %.3g); "
               "ppl relative difference %.3g; top-1 %.0f of %d\n", mean_kl, host.kl, dk, dp, agreed, SCORED);
    /* the same positions but one: no reference of those */
    rc = !shared.state || shared.score_ref(&shared, ids + HALF - 1, CTX - HALF + 1, HALF - 1, 0, nll, kl, agree, &err);
    if (!check(rc && one_line(&err) && strstr(err.msg, "no reference kept"), "cuda/shared-tiers/reference-positions",
               "%s", rc ? err.msg : "scored against a reference of other positions"))
        failed();
    if (shared.state) shared.free(&shared);
    if (ref.state) ref.free(&ref);
    if (model.state) model.free(&model);
    free(ids), free(last), free(mixed);
}

/* One backend for several assignments in turn (ewq_cuda_init_tiers, as ewq run uses it): every tier's block
 * linears on the device once, each call running those that p->linear names. After each change, a prefill and
 * decode steps give the logits of a backend made for that assignment alone, to the last bit (the same kernels
 * on the same weights; the decode steps replay a captured graph, so they show that the change reached it);
 * the device holds the int8 and int4 linears' bytes beyond what the raw model alone takes, and no more; a
 * matrix it does not hold fails the call with one line and the backend goes on; alternatives packed from
 * another model are refused. */
static void shared_tiers(const ewq_model *m) {
    enum { CTX = 16, PRE = 6, STEPS = 3 };
    int L = m->cfg.n_layers, nl = L * EWQ_N_LINEAR, V = m->cfg.vocab, packed = 0, rc = 0;
    ewq_packed tier[3], other;
    ewq_backend shared = {0}, alone = {0};
    ewq_err err;
    ewq_assignment a;
    for (; packed < 4 && !rc; packed += !rc) {   /* the three tiers, then int8 in groups of 128: held by none */
        ewq_assignment_uniform(&a, L, packed < 3 ? (ewq_tier)packed : EWQ_INT8, EWQ_RAW, EWQ_RAW);
        rc = ewq_pack(packed < 3 ? &tier[packed] : &other, m, &a, packed < 3 ? EWQ_GROUP : 128, 0, &err);
        ewq_assignment_free(&a);
    }
    ewq_packed weights = tier[EWQ_RAW];
    ewq_qmat *lin = malloc(sizeof(ewq_qmat) * (size_t)nl);
    int *ids = lcg_tokens(PRE + STEPS, V);
    float *ls = malloc(sizeof(float) * (size_t)PRE * V), *la = malloc(sizeof(float) * (size_t)PRE * V);
    memcpy(lin, tier[EWQ_RAW].linear, sizeof(ewq_qmat) * (size_t)nl);
    weights.linear = lin;
    if (rc || ewq_cuda_init_tiers(&shared, &weights, tier, 3, CTX, CTX / 2 - 1, &err)) {
        check(0, "cuda/shared-tiers", "%s", err.msg), failed();
        goto done;
    }
    /* block linears cycling through the tiers from raw, from int8, every one int4, then the first again */
    for (int round = 0; round < 4; round++) {
        char name[64];
        for (int i = 0; i < nl; i++) lin[i] = tier[round == 2 ? EWQ_INT4 : (i + round % 3) % 3].linear[i];
        ewq_packed view = weights;   /* the same blocks, for a backend of its own */
        int ok = ewq_cuda_init(&alone, &view, CTX, &err) == 0, differ = 0;
        ok = ok && shared.forward(&shared, ids, PRE, 0, ls, 1, &err) == 0 && alone.forward(&alone, ids, PRE, 0, la, 1, &err) == 0;
        for (int i = 0; ok && i < PRE * V; i++) differ += memcmp(ls + i, la + i, sizeof(float)) != 0;
        for (int st = 0; ok && st < STEPS; st++) {
            ok = shared.forward(&shared, ids + PRE + st, 1, PRE + st, ls, 0, &err) == 0 &&
                 alone.forward(&alone, ids + PRE + st, 1, PRE + st, la, 0, &err) == 0;
            for (int i = 0; ok && i < V; i++) differ += memcmp(ls + i, la + i, sizeof(float)) != 0;
        }
        if (alone.state) alone.free(&alone);
        snprintf(name, sizeof name, "cuda/shared-tiers/assignment-%d", round + 1);
        if (!ok) check(0, name, "%s", err.msg), failed();
        else expect(differ == 0, name, "%.0f logits differ from a backend of its own", differ);
    }
    /* device bytes: the raw model's alone, the other tiers' block linears once each, and the reference's room (its
     * logits, and a KL and an agreement per position of a pass, which is CTX positions here) */
    size_t with_tiers = 0, raw_only = 0, in_use;
    uint64_t more = sizeof(float) * (CTX / 2 - 1) * (size_t)V + (sizeof(double) + sizeof(int)) * CTX;
    for (int i = 0; i < nl; i++)
        for (int t = EWQ_INT8; t <= EWQ_INT4; t++) {
            const ewq_qmat *q = &tier[t].linear[i];
            more += ewq_weight_bytes(q->tier, q->dtype, q->rows, q->cols, q->group);
        }
    rc = ewq_cuda_memory(&shared, &with_tiers, &in_use, &err) || ewq_cuda_init(&alone, &tier[EWQ_RAW], CTX, &err) ||
         ewq_cuda_memory(&alone, &raw_only, &in_use, &err);
    if (alone.state) alone.free(&alone);
    if (!check(!rc && with_tiers == raw_only + more, "cuda/shared-tiers/device-bytes",
               "%s", rc ? err.msg : "more or fewer bytes than the raw model, the int8 and int4 linears once and the reference"))
        failed();
    printf("# cuda/shared-tiers/device-bytes: %zu, the raw model alone %zu, the int8 and int4 linears and the reference %llu\n",
           with_tiers, raw_only, (unsigned long long)more);
    /* a matrix the device does not hold, then the raw blocks again */
    lin[nl - 1] = other.linear[nl - 1];
    rc = shared.forward(&shared, ids, PRE, 0, ls, 0, &err);
    const char *tensor = m->blocks[L - 1].linear[EWQ_N_LINEAR - 1]->name;
    int named = rc && one_line(&err) && strstr(err.msg, tensor) && strstr(err.msg, "not among");
    memcpy(lin, tier[EWQ_RAW].linear, sizeof(ewq_qmat) * (size_t)nl);
    int after = shared.forward(&shared, ids, PRE, 0, ls, 0, &err);
    if (!check(named && !after, "cuda/shared-tiers/not-held", "%s", named ? err.msg : rc ? err.msg : "accepted")) failed();
    /* alternatives of another model */
    ewq_model twin = *m;
    ewq_packed foreign = tier[EWQ_INT8];
    foreign.model = &twin;
    rc = ewq_cuda_init_tiers(&alone, &tier[EWQ_RAW], &foreign, 1, CTX, 0, &err);
    if (!check(rc && one_line(&err) && strstr(err.msg, "another model"), "cuda/shared-tiers/another-model", "%s",
               rc ? err.msg : "accepted"))
        failed();
    if (!rc) alone.free(&alone);
    scored_against_kept(m, tier);
done:
    if (shared.state) shared.free(&shared);
    for (int t = 0; t < packed && t < 3; t++) ewq_packed_free(&tier[t]);
    if (packed == 4) ewq_packed_free(&other);
    free(lin), free(ids), free(ls), free(la);
}

/* window > 0 replaces the config's sliding window (none in the fixtures) */
static void run_model(const char *dir, const char *name, int window, const int *tokens, long n_tokens, int ppl_ctx,
                      int long_prefill) {
    ewq_model m;
    ewq_err err;
    char test[256];
    snprintf(test, sizeof test, "cuda/%s/open", name);
    if (ewq_model_open(&m, dir, &err)) {
        check(0, test, "%s", err.msg), failed();
        return;
    }
    if (window > 0) m.cfg.sliding_window = window;
    int *own = NULL;
    long need = 4L * ppl_ctx > long_prefill ? 4L * ppl_ctx : long_prefill;
    need = need > LONG_DECODE_END ? need : LONG_DECODE_END;
    if (!tokens || n_tokens < need) tokens = own = lcg_tokens((int)need, m.cfg.vocab);
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
        if (ppl_ctx || variants[v].mixed) compare(name, &m, &variants[v], tokens, ppl_ctx, long_prefill);
    free(own);
    ewq_model_close(&m);
}

/* text with the value of "key" (a number or an array) replaced by `value`; NULL when the key is absent or
 * its array does not end */
static char *replace_value(const char *text, const char *key, const char *value) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *k = strstr(text, quoted), *v = k ? strchr(k, ':') : NULL, *end;
    if (!v) return NULL;
    v++;
    end = v + strspn(v, " ");
    if (*end == '[') {
        end = strchr(end, ']');
        if (!end) return NULL;
        end++;
    } else {
        end += strcspn(end, ",}\n");
    }
    size_t n = strlen(text) + strlen(value) + 2;
    char *out = malloc(n);
    snprintf(out, n, "%.*s %s%s", (int)(v - text), text, value, end);
    return out;
}

/* dir/config.json and dir/model.safetensors: the config at config_path with 2 layers and a vocabulary of
 * 4129 (BOS 1, EOS 2), and head_dim and hidden_size where not NULL, and random weights of its shapes (ewq
 * synth). The vocabulary is cut because the emulation pays for every lm_head row of every tiled product; the
 * widths that matter stay real. */
static int synth_shape(const char *config_path, const char *dir, const char *head_dim, const char *hidden,
                       ewq_err *err) {
    const char *const edits[][2] = {{"num_hidden_layers", "2"}, {"vocab_size", "4129"}, {"bos_token_id", "1"},
                                    {"eos_token_id", "2"}, {"head_dim", head_dim}, {"hidden_size", hidden}};
    char *text, path[1100];
    size_t len;
    ewq_config c;
    if (ewq_read_file(config_path, 1 << 20, &text, &len, err)) return -1;
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        if (!edits[i][1]) continue;
        char *edited = replace_value(text, edits[i][0], edits[i][1]);
        if (!edited) {
            free(text);
            return ewq_fail(err, config_path, "has no %s that this test can replace", edits[i][0]);
        }
        free(text), text = edited;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    int rc = !f || fputs(text, f) < 0;
    if (f && fclose(f)) rc = 1;
    if (rc) {
        free(text);
        return ewq_fail(err, path, "cannot write");
    }
    rc = ewq_config_parse(&c, path, text, strlen(text), err);
    free(text);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    return rc ? -1 : ewq_synth_write(&c, 1, NULL, path, err);
}

/* The config at `config` synthesized into tmp/name (synth_shape) and compared there (run_model: the mixed
 * assignments, logits only, and a prefill of long_prefill positions when not 0); a missing config SKIPs. */
static void run_synth(const char *tmp, const char *config, const char *name, const char *head_dim, const char *hidden,
                      int long_prefill) {
    char dir[1024], file[1100];
    ewq_err err;
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    if (access(config, F_OK) != 0) {
        char test[160];
        snprintf(test, sizeof test, "cuda/%s", name);
        snprintf(file, sizeof file, "%s is missing (set EWQ_ASSETS)", config);
        test_skip(test, file);
        return;
    }
    if (mkdir(dir, 0777)) check(0, name, "cannot create %s: %s", dir, strerror(errno)), failed();
    else if (synth_shape(config, dir, head_dim, hidden, &err)) check(0, name, "%s", err.msg), failed();
    else run_model(dir, name, 0, NULL, 0, 0, long_prefill);
    snprintf(file, sizeof file, "%s/config.json", dir), unlink(file);
    snprintf(file, sizeof file, "%s/model.safetensors", dir), unlink(file);
    rmdir(dir);
}

/* Real-width shapes at 2 layers (quick: none): every linear at its real width, so the products run real grid
 * sizes and the vector paths real row lengths; head_dim 64 and 128, grouped-query attention, Qwen2 biases,
 * Qwen3 q/k norms. Then (quick too) llama3-f32 with heads of 128 columns, the widest the prefill attention
 * takes (its output in every register it has, the most shared memory it asks for), in a prefill of 80
 * positions (two tiles of positions, three steps of keys); and (quick too) llama3-f32 with a hidden size of
 * 1024, whose decode products over it split each row's columns between warps (4 for float32 weights, 2 for
 * int8 in groups of 128, taken piece by piece), as the real widths do, at the fixtures' cost. */
static void run_shapes(const char *assets, int quick) {
    static const char *const shapes[] = {"Llama-3.2-1B", "Qwen2.5-0.5B-Instruct", "Qwen3-0.6B"};
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tmp[512], config[1024], name[128];
    snprintf(tmp, sizeof tmp, "%s/ewq-cuda-shapes-XXXXXX", tmpdir);
    if (!mkdtemp(tmp)) {
        check(0, "cuda/shapes", "cannot create a temporary folder in %s: %s", tmpdir, strerror(errno)), failed();
        return;
    }
    for (size_t i = 0; !quick && i < sizeof shapes / sizeof shapes[0]; i++) {
        snprintf(config, sizeof config, "%s/configs/%s/config.json", assets, shapes[i]);
        snprintf(name, sizeof name, "%s-2-layers", shapes[i]);
        run_synth(tmp, config, name, NULL, NULL, 0);
    }
    run_synth(tmp, "data/fixtures/llama3-f32/config.json", "llama3-f32-head128", "128", NULL, 80);
    run_synth(tmp, "data/fixtures/llama3-f32/config.json", "llama3-f32-hidden1024", NULL, "1024", 0);
    rmdir(tmp);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int no_gpu_here(void) {
    /* no GPU: the backend must refuse with one line */
    ewq_model m;
    ewq_assignment a;
    ewq_packed p;
    ewq_backend b;
    ewq_err err;
    int ok = ewq_model_open(&m, "data/fixtures/llama3-f32", &err) == 0;
    if (ok) {
        ewq_assignment_uniform(&a, m.cfg.n_layers, EWQ_RAW, EWQ_RAW, EWQ_RAW);
        ok = ewq_pack(&p, &m, &a, EWQ_GROUP, 0, &err) == 0;
        int rc = ok ? ewq_cuda_init(&b, &p, 16, &err) : 0;
        ok = ok && rc && one_line(&err) && !strncmp(err.msg, "cuda: ", 6);
        if (rc == 0 && b.free) b.free(&b);
        ewq_packed_free(&p), ewq_assignment_free(&a), ewq_model_close(&m);
    }
    if (!check(ok, "cuda/init-without-gpu", "%s", err.msg)) failed();
    return failures != 0;
}

static int summary(void) {
    printf("# largest relative logit difference %.3g (limit 1e-3), largest KL divergence %.3g nats (limit 1e-4), "
           "largest perplexity difference %.3g (limit 1e-3)\n", worst_logits, worst_kl, worst_ppl);
    printf("# %s\n", failures ? "FAILED" : "all passed");
    return failures != 0;
}

/* Every fixture (quick: llama3-f32, qwen2-f16, qwen3-bf16), with the checks of bad calls, limits and
 * next_token's rules on the first, then mistral-f32 with a sliding window of 12 positions. */
static void run_fixtures(int quick) {
    static const char *const quick_set[] = {"llama3-f32", "qwen2-f16", "qwen3-bf16"};
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
        int chosen = !quick;
        for (size_t q = 0; q < sizeof quick_set / sizeof quick_set[0]; q++) chosen |= !strcmp(names[i], quick_set[q]);
        snprintf(dir, sizeof dir, "data/fixtures/%s", names[i]);
        if (chosen) run_model(dir, names[i], 0, NULL, 0, 32, 0);
        if (i == 0) {
            ewq_model m;
            ewq_err err;
            if (ewq_model_open(&m, dir, &err) == 0)
                check_errors(&m), next_token_rules(&m), shared_tiers(&m), ewq_model_close(&m);
        }
        free(names[i]);
    }
    run_model("data/fixtures/mistral-f32", "mistral-f32-window12", 12, NULL, 0, 32, 0);
}

/* stories260K on its tinystories tokens, with a prefill of long_prefill positions */
static void run_stories(const char *assets, int long_prefill) {
    char s[512];
    snprintf(s, sizeof s, "%s/stories260K", assets);
    int *ids = NULL;
    long n_ids = 0;
    ewq_err err;
    if (ewq_read_tokens("data/expected/tinystories-6144.tokens", 512, &ids, &n_ids, &err))
        test_skip("cuda/stories260K", err.msg);
    else if (access(s, F_OK) != 0) test_skip("cuda/stories260K", "the stories260K folder is missing (set EWQ_ASSETS)");
    else run_model(s, "stories260K", 0, ids, n_ids, 128, long_prefill);
    free(ids);
}

int main(int argc, char **argv) {
    int quick = 0, long_prefill = 600, fixtures = 1, shapes = 1;
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--part") && i + 1 < argc && !strcmp(argv[i + 1], "fixtures")) shapes = 0, i++;
        else if (!strcmp(argv[i], "--part") && i + 1 < argc && !strcmp(argv[i + 1], "shapes")) fixtures = 0, i++;
        else if (!strcmp(argv[i], "--fail-fast")) fail_fast = 1;
        else if (!strcmp(argv[i], "--prefill") && i + 1 < argc) long_prefill = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else {
            fprintf(stderr, "usage: test_cuda [--quick] [--part fixtures|shapes] [--fail-fast] [--prefill N] "
                            "[--model DIR]\n");
            return 2;
        }
    }
    char gpu[256];
    ewq_threads_init(0);
    if (ewq_cuda_describe(gpu, sizeof gpu)) {
        int rc = no_gpu_here();
        test_skip("cuda/compare", gpu);
        return rc;
    }
    printf("# device: %s\n", gpu);
    if (model) {
        const char *slash = strrchr(model, '/');
        run_model(model, slash && slash[1] ? slash + 1 : model, 0, NULL, 0, 0, 0);
        return summary();
    }
    if (fixtures) run_fixtures(quick);
    if (shapes) {
        /* EWQ_ASSETS: where ../shared/assets is on a machine that lacks it (the GPU machine gets only the repo) */
        const char *assets = getenv("EWQ_ASSETS") ? getenv("EWQ_ASSETS") : "../shared/assets";
        run_shapes(assets, quick);
        if (!quick) run_stories(assets, long_prefill);
    }
    return summary();
}
