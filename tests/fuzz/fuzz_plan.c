/* fuzz_plan: arbitrary bytes as a plan file, loaded with ewq_plan_load against two fixture models: the
 * untied two-block data/fixtures/llama2-f32 and the tied one-block tiny model of tests/bad (the seeds are
 * plans `ewq plan -o` wrote for each, so mutations reach past the fingerprint check).
 * Checks: a refusal is one line naming the plan file; an accepted plan assigns a known tier to every
 * linear weight of every block of that model, and the same tier to embed_tokens and lm_head when they are
 * one tensor. */
#include "fuzz.h"

static void load_against(const char *plan, const ewq_model *m) {
    ewq_assignment a;
    ewq_err err;
    if (ewq_plan_load(plan, m, &a, &err) != 0) {
        fuzz_check_error(&err, plan);
        return;
    }
    FUZZ_REQUIRE(a.n_layers == m->cfg.n_layers && a.linear);
    for (int i = 0; i < a.n_layers * EWQ_N_LINEAR; i++) FUZZ_REQUIRE(a.linear[i] <= EWQ_INT4);
    FUZZ_REQUIRE(a.embed <= EWQ_INT4 && a.lm_head <= EWQ_INT4);
    if (m->cfg.tie_embeddings) FUZZ_REQUIRE(a.embed == a.lm_head);
    ewq_assignment_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[300], tiny[320], plan[320];
    static ewq_model untied, tied;
    ewq_err err;
    if (!dir[0]) {
        fuzz_folder(dir, sizeof dir, "plan");
        fuzz_folder(tiny, sizeof tiny, "plan/tiny");
        fuzz_link(tiny, "config.json", "tests/fuzz/corpus/config/tiny-valid.json");
        fuzz_link(tiny, "model.safetensors", "tests/fuzz/corpus/safetensors/tiny-valid.safetensors");
        if (ewq_model_open(&untied, "data/fixtures/llama2-f32", &err) || ewq_model_open(&tied, tiny, &err)) {
            fprintf(stderr, "fuzz_plan: %s\n", err.msg);
            exit(1);
        }
        snprintf(plan, sizeof plan, "%s/plan.json", dir);
    }
    fuzz_write(dir, "plan.json", data, size);
    load_against(plan, &untied);
    load_against(plan, &tied);
    return 0;
}
