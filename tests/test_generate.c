/* tests/test_generate.c — choosing tokens and chat prompts, against known answers:
 *   - the sampler on logits built so that each filter's answer is known (top-k, top-p, min-p, temperature
 *     change the distribution in ways computed here exactly), checked by frequencies over many draws
 *     within 5 standard errors; temperature 0 is the argmax and draws nothing; a seed repeats its draws;
 *   - the random numbers: in [0, 1), mean and variance of a uniform within 5 standard errors;
 *   - ewq_check_logits: the first id whose logit is NaN or infinite, inside and after its vectorized blocks;
 *   - chat templates: ewq_chat_render and ewq_encode against transformers' apply_chat_template text and
 *     ids on real templates (data/expected/chat.json, written by tests/gen/make_chat_expected.py), and the
 *     refusal of templates ewq does not recognise.
 * The CLI's streaming, seeds across runs and thread counts, and greedy output are in tests/test_generate.sh. */
#define _GNU_SOURCE
#include "ewq.h"
#include "json.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DRAWS 40000

/* Frequencies of ids over DRAWS samples of logits[0..n) with s; checks them against want[0..n). */
static void check_distribution(const char *name, ewq_sampler *s, const float *logits, int n, const double *want) {
    long count[16] = {0};
    for (int i = 0; i < DRAWS; i++) count[ewq_sample(s, logits, n)]++;
    for (int i = 0; i < n; i++) {
        double f = (double)count[i] / DRAWS, se = sqrt(want[i] * (1 - want[i]) / DRAWS);
        if (want[i] == 0 ? count[i] != 0 : fabs(f - want[i]) > 5 * se + 1e-12) {
            check(0, name, "id %d drawn %.4f of the time, expected %.4f (5 standard errors: %.4f)", i, f, want[i],
                  5 * se);
            return;
        }
    }
    test_pass(name);
}

static void test_sampler(void) {
    /* probabilities 1/2, 1/4, 1/8, 1/16, 1/16 at ids 3, 0, 4, 1, 2 (shuffled so order comes from logits) */
    const double p[5] = {0.25, 0.0625, 0.0625, 0.5, 0.125};
    float logits[5];
    for (int i = 0; i < 5; i++) logits[i] = (float)log(p[i]) + 3.0f;   /* an offset softmax removes */
    ewq_sampler s;

    ewq_sampler_init(&s, 0, 0, 1, 0, 7);
    uint64_t before = s.rng;
    int greedy = 1;
    for (int i = 0; i < 100; i++) greedy &= ewq_sample(&s, logits, 5) == 3;
    check(greedy && s.rng == before, "sample/temp0-is-argmax", "temperature 0 must pick id 3 and draw nothing");
    float tied[4] = {1, 2, 2, 0};
    check(ewq_sample(NULL, tied, 4) == 1, "sample/argmax-ties-lower-id", "equal maxima at ids 1 and 2");
    float wide[1003];   /* past the eight lanes of the vectorized argmax, and its tail */
    for (int i = 0; i < 1003; i++) wide[i] = (float)(i % 97) / 8 - 5;
    wide[3] = NAN, wide[1001] = wide[901] = wide[517] = 40, wide[1002] = 39;
    check(ewq_sample(NULL, wide, 1003) == 517, "sample/argmax-ties-lower-id-1003", "equal maxima at ids 517, 901, 1001");
    wide[1002] = 41;
    check(ewq_sample(NULL, wide, 1003) == 1002, "sample/argmax-in-the-tail", "the maximum at id 1002");
    ewq_sampler_init(&s, 1, 1, 1, 0, 7);
    check(ewq_sample(&s, tied, 4) == 1, "sample/top-k1-ties-lower-id", "top-k 1 over equal maxima at ids 1 and 2");

    ewq_sampler_init(&s, 1, 0, 1, 0, 1);
    check_distribution("sample/temp1-is-softmax", &s, logits, 5, p);
    const double top_k2[5] = {1.0 / 3, 0, 0, 2.0 / 3, 0};
    ewq_sampler_init(&s, 1, 2, 1, 0, 2);
    check_distribution("sample/top-k", &s, logits, 5, top_k2);
    ewq_sampler_init(&s, 1, 0, 0.7, 0, 3);   /* 1/2 < 0.7 <= 1/2 + 1/4: the first two */
    check_distribution("sample/top-p", &s, logits, 5, top_k2);
    ewq_sampler_init(&s, 1, 0, 0.75, 0, 3);  /* exactly 1/2 + 1/4 reaches 0.75: still the first two */
    check_distribution("sample/top-p-boundary", &s, logits, 5, top_k2);
    const double min_p[5] = {2.0 / 7, 0, 0, 4.0 / 7, 1.0 / 7};
    ewq_sampler_init(&s, 1, 0, 1, 0.2, 4);   /* p >= 0.2 * 1/2 = 0.1: 1/2, 1/4, 1/8 */
    check_distribution("sample/min-p", &s, logits, 5, min_p);
    /* temperature 1/2 squares the probabilities: 1/4, 1/16, 1/64, 1/256, 1/256 over their sum */
    double sq[5], sum = 0;
    for (int i = 0; i < 5; i++) sum += sq[i] = p[i] * p[i];
    for (int i = 0; i < 5; i++) sq[i] /= sum;
    ewq_sampler_init(&s, 0.5, 0, 1, 0, 5);
    check_distribution("sample/temperature", &s, logits, 5, sq);
    /* filters before temperature: top-p 0.7 keeps 1/2 and 1/4 (at temperature 1), then temperature 2 gives
     * them weights sqrt(1/2) and sqrt(1/4) */
    double a = sqrt(0.5), b = sqrt(0.25);
    const double filtered_then_hot[5] = {b / (a + b), 0, 0, a / (a + b), 0};
    ewq_sampler_init(&s, 2, 0, 0.7, 0, 6);
    check_distribution("sample/filters-before-temperature", &s, logits, 5, filtered_then_hot);

    /* a seed repeats its ids; another seed gives other ids */
    ewq_sampler x, y, z;
    ewq_sampler_init(&x, 1, 0, 1, 0, 42), ewq_sampler_init(&y, 1, 0, 1, 0, 42), ewq_sampler_init(&z, 1, 0, 1, 0, 43);
    int same = 1, differ = 0;
    for (int i = 0; i < 200; i++) {
        int u = ewq_sample(&x, logits, 5), v = ewq_sample(&y, logits, 5), w = ewq_sample(&z, logits, 5);
        same &= u == v, differ |= u != w;
    }
    check(same && differ, "sample/seed-repeats", "seed 42 twice: %s; seeds 42 and 43: %s", same ? "same" : "different",
          differ ? "different" : "same");

    /* the random numbers: in [0, 1), mean 1/2 and variance 1/12 within 5 standard errors; seed 0 works */
    uint64_t st = 0;
    ewq_sampler_init(&s, 1, 0, 1, 0, 0);
    st = s.rng;
    double m1 = 0, m2 = 0;
    int in_range = st != 0;
    for (int i = 0; i < 1000000; i++) {
        double u = ewq_random(&st);
        in_range &= u >= 0 && u < 1;
        m1 += u, m2 += u * u;
    }
    m1 /= 1e6, m2 /= 1e6;
    double var = m2 - m1 * m1;
    check(in_range && fabs(m1 - 0.5) < 5 * sqrt(1.0 / 12 / 1e6) && fabs(var - 1.0 / 12) < 5 * sqrt(1.0 / 180 / 1e6),
          "sample/random-uniform", "mean %.6f, variance %.6f (in range: %d)", m1, var, in_range);
}

/* --- chat templates --- */

static void test_chat_refusals(void) {
    ewq_chat c;
    ewq_err err;
    const char *llama31 = "{{- bos_token }}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
                          "{{- \"Cutting Knowledge Date: December 2023\\n\" }}<|eot_id|>{{ '<|end_header_id|>' }}";
    int rc = ewq_chat_detect(&c, llama31, "<s>", "t.json", &err);
    check(rc == -1 && strstr(err.msg, "t.json: ") == err.msg && strstr(err.msg, "not supported"),
          "chat/refuses-llama3.1-system-header", "%s", rc ? err.msg : "accepted");
    const char *alpaca = "{% for m in messages %}### Instruction:\n{{ m['content'] }}\n### Response:\n{% endfor %}";
    rc = ewq_chat_detect(&c, alpaca, NULL, "t.json", &err);
    check(rc == -1 && strstr(err.msg, "neither ChatML"), "chat/refuses-other-templates", "%s",
          rc ? err.msg : "accepted");
}

static int *int_array(const json_value *v, int *n) {
    *n = v ? (int)v->len : 0;
    int *out = malloc(sizeof(int) * ((size_t)*n + 1));
    for (int i = 0; i < *n; i++) out[i] = (int)v->kids[i].i;
    return out;
}

/* The chat template of folder dir read directly: for a tokenizer ewq cannot load yet, the text alone is checked. */
static int chat_from_jinja(ewq_chat *c, const char *dir, ewq_err *err) {
    char path[512], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    if (ewq_read_file(path, 1 << 20, &text, &len, err)) return -1;
    int rc = ewq_chat_detect(c, text, NULL, path, err);
    free(text);
    return rc;
}

static void test_chat_cases(void) {
    FILE *f = fopen("data/expected/chat.json", "rb");
    if (!f) { check(0, "chat/expected", "data/expected/chat.json is missing"); return; }
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    json_doc doc;
    char jerr[128];
    if (json_parse(text, len, &doc, jerr, sizeof jerr)) { check(0, "chat/expected", "%s", jerr); return; }
    const json_value *cases = json_get(doc.root, "cases");
    ewq_tokenizer t;
    ewq_err tok_err;
    const char *loaded = NULL;   /* the folder t was loaded from (cases come grouped by tokenizer) */
    int tok_ok = 0;
    for (uint32_t i = 0; cases && i < cases->len; i++) {
        const json_value *k = &cases->kids[i], *tmpl = json_get(k, "template");
        const char *dir = json_get(k, "tokenizer")->str;
        char name[160];
        snprintf(name, sizeof name, "chat/%s%s/%u", strrchr(dir, '/') + 1, tmpl ? "-inline" : "", i);
        if (access(dir, F_OK) != 0) { test_skip(name, "the tokenizer assets are not available"); continue; }
        if (!loaded || strcmp(loaded, dir)) {
            if (tok_ok) ewq_tokenizer_free(&t);
            tok_ok = ewq_tokenizer_load(&t, dir, &tok_err) == 0;
            loaded = dir;
        }
        ewq_chat c;
        ewq_err err;
        size_t bos_len = 0;
        const char *bos_text = tok_ok ? ewq_token_text(&t, t.bos_id, &bos_len) : "";
        char *bos = tok_ok && t.bos_id >= 0 ? strndup(bos_text, bos_len) : NULL;
        int rc = tmpl ? ewq_chat_detect(&c, tmpl->str, bos, "inline", &err)
                      : tok_ok ? ewq_chat_load(&c, &t, &err) : chat_from_jinja(&c, dir, &err);
        free(bos);
        if (rc) { check(0, name, "%s", err.msg); continue; }
        char *got = ewq_chat_render(&c, json_get(k, "message")->str);
        const char *want = json_get(k, "text")->str;
        check(!strcmp(got, want), name, "rendered '%s', transformers '%s'", got, want);
        strcat(name, "/ids");
        if (tok_ok) {
            int *ids, n_want;
            size_t n = ewq_encode(&t, got, strlen(got), 0, &ids);
            int *want_ids = int_array(json_get(k, "ids"), &n_want);
            check((int)n == n_want && !memcmp(ids, want_ids, sizeof(int) * n), name, "%zu ids, transformers %d", n,
                  n_want);
            free(ids), free(want_ids);
        } else {
            test_skip(name, tok_err.msg);
        }
        free(got);
        ewq_chat_free(&c);
    }
    if (tok_ok) ewq_tokenizer_free(&t);
    json_free(&doc);
}

/* ewq_check_logits names the first id whose logit is not finite: in a block of 256 it scans without an early
 * exit, in the partial last block value by value, so every case is tried in both, with values next to
 * non-finite ones that are finite (FLT_MAX, -FLT_MAX, the smallest subnormal). */
static void test_check_logits(void) {
    enum { V = 300 };   /* one block of 256, then 44 */
    ewq_model m = {0};
    ewq_packed p = {0};
    ewq_backend b = {0};
    m.dir = "model-dir", m.cfg.vocab = V, p.model = &m, b.packed = &p;
    float x[V];
    for (int i = 0; i < V; i++) x[i] = i % 3 == 0 ? 3.4028235e38f : i % 3 == 1 ? -3.4028235e38f : 1.4e-45f;
    ewq_err err;
    check(ewq_check_logits(&b, x, 7, &err) == 0, "check-logits/finite", "%s", err.msg);
    struct { int at[2]; float v; } cases[] = {{{100, 200}, INFINITY}, {{255, 256}, -INFINITY}, {{256, 299}, NAN},
                                              {{299, -1}, INFINITY}, {{0, 299}, NAN}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        float y[V];
        memcpy(y, x, sizeof y);
        for (int j = 0; j < 2; j++)
            if (cases[k].at[j] >= 0) y[cases[k].at[j]] = cases[k].v;
        char want[96], name[64];
        snprintf(want, sizeof want, "model-dir: the logits at position 7 are not finite (token %d: ", cases[k].at[0]);
        snprintf(name, sizeof name, "check-logits/first-at-%d", cases[k].at[0]);
        int rc = ewq_check_logits(&b, y, 7, &err);
        check(rc == -1 && !strncmp(err.msg, want, strlen(want)), name, "%s", rc ? err.msg : "accepted");
    }
}

int main(void) {
    test_check_logits();
    test_sampler();
    test_chat_refusals();
    test_chat_cases();
    return 0;
}
