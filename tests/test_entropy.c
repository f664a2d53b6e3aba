/* tests/test_entropy.c — entropy, the rule, plans and llama.cpp interop, against answers ewq did not make:
 *   - constructed tensors whose entropy is known exactly (256 distinct values: 8 bits; two: 1 bit;
 *     constant: 0), in F32, F16 and BF16, and the 16-bit pattern count against binning every value;
 *   - the rule on entropies whose mean and std are exact, so H = mean and H = mean - f*std are tested;
 *   - the entropy of every linear weight and block of stories260K and of the fixtures, against
 *     numpy.histogram (data/expected/entropy.json, written by tests/gen/make_entropy_expected.py);
 *   - a synthesized model with planted outliers, whose plan is known by construction;
 *   - the fingerprint against the published FNV-1a test vectors and the byte string ewq.h documents;
 *   - llama-quantize patterns, applied as POSIX extended regular-expression searches to every GGUF tensor
 *     name of a 36-block model (data/expected/gguf_names_36.txt, from llama.cpp's gguf package). */
#define _GNU_SOURCE
#include "ewq.h"
#include "json.h"
#include "tests/test.h"

#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ewq_tensor vec(const char *name, ewq_dtype dt, const void *data, int64_t n) {
    ewq_tensor t = {.name = (char *)name, .dtype = dt, .ndim = 1, .shape = {n}, .numel = n,
                    .nbytes = (size_t)n * ewq_dtype_size(dt), .data = data};
    return t;
}

/* The entropy of n float values stored as dtype dt (converted exactly: the values are representable). */
static double entropy_as(ewq_dtype dt, const float *v, int64_t n, int bins) {
    void *buf = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        if (dt == EWQ_F32) ((float *)buf)[i] = v[i];
        else ((uint16_t *)buf)[i] = dt == EWQ_BF16 ? ewq_f32_to_bf16(v[i]) : ewq_f32_to_f16(v[i]);
    }
    ewq_tensor t = vec("t", dt, buf, n);
    double h = -1;
    ewq_err err;
    if (ewq_tensor_entropy(&t, bins, &h, &err) != 0) printf("FAIL entropy: %s\n", err.msg);
    free(buf);
    return h;
}

static void test_exact_entropies(void) {
    static float v[4096];
    const ewq_dtype dts[] = {EWQ_F32, EWQ_F16, EWQ_BF16};
    for (int d = 0; d < 3; d++) {
        const char *dn = ewq_dtype_name(dts[d]);
        char name[64];
        for (int i = 0; i < 256; i++) v[i] = (float)(255 - i) - 100;   /* 256 distinct, equally spaced, any order */
        snprintf(name, sizeof name, "entropy/256-distinct-%s", dn);
        double h = entropy_as(dts[d], v, 256, 256);
        check(h == 8.0, name, "%.17g, expected 8", h);
        for (int i = 0; i < 100; i++) v[i] = i % 2 ? -1.5f : 2.25f;
        snprintf(name, sizeof name, "entropy/two-values-%s", dn);
        h = entropy_as(dts[d], v, 100, 256);
        check(h == 1.0, name, "%.17g, expected 1", h);
        for (int i = 0; i < 1000; i++) v[i] = 0.375f;
        snprintf(name, sizeof name, "entropy/constant-%s", dn);
        h = entropy_as(dts[d], v, 1000, 256);
        check(h == 0.0, name, "%.17g, expected 0", h);
        /* counts 4, 2, 1, 1 of 8 at the two ends and two inner bins: H = 1.75 */
        float four[8] = {0, 0, 0, 0, 85, 85, 170, 255};
        snprintf(name, sizeof name, "entropy/counts-4-2-1-1-%s", dn);
        h = entropy_as(dts[d], four, 8, 256);
        check(h == 1.75, name, "%.17g, expected 1.75", h);
        /* 16 values 0..15 in 16 bins: floor(i * 16 / 15) is i except for the maximum, clamped into bin 15 */
        for (int i = 0; i < 16; i++) v[i] = (float)i;
        snprintf(name, sizeof name, "entropy/bins-16-max-in-last-bin-%s", dn);
        h = entropy_as(dts[d], v, 16, 16);
        check(h == 4.0, name, "%.17g, expected 4", h);
    }
    /* a value just below the maximum must not be clamped together with it: 0, 1-2^-24, 1 in 2 bins */
    float near[3] = {0, 1.0f - 0x1p-24f, 1};
    double h = entropy_as(EWQ_F32, near, 3, 2);
    double want = -(1.0 / 3) * log2(1.0 / 3) - (2.0 / 3) * log2(2.0 / 3);
    check(fabs(h - want) < 1e-15, "entropy/near-maximum", "%.17g, expected %.17g", h, want);
}

static void test_nonfinite(void) {
    float f[4] = {1, 2, NAN, 3};
    uint16_t b[4] = {0x3f80, 0x7f80, 0, 0};   /* 1, +inf */
    ewq_tensor t1 = vec("w.nan", EWQ_F32, f, 4), t2 = vec("w.inf", EWQ_BF16, b, 4);
    double h;
    ewq_err err;
    int rc = ewq_tensor_entropy(&t1, 256, &h, &err);
    check(rc != 0 && strstr(err.msg, "w.nan") && strstr(err.msg, "NaN"), "entropy/nan-refused", "rc %d: %s", rc,
          rc ? err.msg : "");
    rc = ewq_tensor_entropy(&t2, 256, &h, &err);
    check(rc != 0 && strstr(err.msg, "w.inf") && strstr(err.msg, "infinite"), "entropy/inf-refused", "rc %d: %s", rc,
          rc ? err.msg : "");
}

/* The bit-pattern count must give exactly what binning every converted value gives. */
static void test_pattern_count_equals_per_value(void) {
    enum { N = 200000 };
    uint16_t *h16 = malloc(N * 2);
    float *f = malloc(N * 4);
    uint64_t s = 12345;
    const ewq_dtype dts[] = {EWQ_BF16, EWQ_F16};
    for (int d = 0; d < 2; d++) {
        for (int i = 0; i < N; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            uint16_t p = (uint16_t)(s >> 48);
            /* keep it finite and weight-like: sign, exponent near 1, random mantissa */
            p = dts[d] == EWQ_BF16 ? (uint16_t)((p & 0x807f) | (0x3c00 + ((s >> 20) % 6) * 0x80))
                                   : (uint16_t)((p & 0x83ff) | (0x2000 + ((s >> 20) % 10) * 0x400));
            h16[i] = p;
            f[i] = dts[d] == EWQ_BF16 ? ewq_bf16_to_f32(p) : ewq_f16_to_f32(p);
        }
        ewq_tensor t16 = vec("t16", dts[d], h16, N), t32 = vec("t32", EWQ_F32, f, N);
        double a = -1, b = -2;
        ewq_err err;
        char name[64];
        for (int bins = 256; bins <= 65536; bins *= 16) {
            ewq_tensor_entropy(&t16, bins, &a, &err);
            ewq_tensor_entropy(&t32, bins, &b, &err);
            snprintf(name, sizeof name, "entropy/pattern-count-equals-values-%s-bins%d", ewq_dtype_name(dts[d]), bins);
            check(a == b && a > 0, name, "16-bit path %.17g, per-value %.17g", a, b);
        }
    }
    free(h16);
    free(f);
}

static void test_weighting_and_sizes(void) {
    double h[2] = {8, 1};
    int64_t n[2] = {3, 1};
    double w = ewq_weighted_entropy(h, n, 2);
    check(w == 6.25, "block/parameter-weighted", "%.17g, expected (8*3 + 1*1) / 4 = 6.25", w);
    uint64_t int8_172 = ewq_weight_bytes(EWQ_INT8, EWQ_F32, 64, 172, EWQ_GROUP);
    uint64_t int4_171 = ewq_weight_bytes(EWQ_INT4, EWQ_F32, 64, 171, EWQ_GROUP);
    check(int8_172 == 64u * (172 + 2 * 3), "sizes/int8-partial-group", "%llu", (unsigned long long)int8_172);
    check(int4_171 == 64u * (86 + 4 * 3), "sizes/int4-odd-columns", "%llu", (unsigned long long)int4_171);
    check(ewq_weight_bytes(EWQ_INT8, EWQ_BF16, 10, 2048, EWQ_GROUP) * 8.0 / (10 * 2048) == 8.25 &&
              ewq_weight_bytes(EWQ_INT4, EWQ_BF16, 10, 2048, EWQ_GROUP) * 8.0 / (10 * 2048) == 4.5 &&
              ewq_weight_bytes(EWQ_RAW, EWQ_BF16, 10, 2048, EWQ_GROUP) == 10 * 2048 * 2,
          "sizes/bits-per-weight", "int8 and int4 at cols 2048 should be 8.25 and 4.5 bits per weight");
}

static void test_rule(void) {
    /* mean 2, population std 1 exactly: deviations -2 +2 -1 +1 and six zeros, sum of squares 10 over 10 */
    double h[10] = {0, 4, 1, 3, 2, 2, 2, 2, 2, 2};
    ewq_tier t[10];
    ewq_rule r;
    ewq_apply_rule(h, 10, 1.0, t, &r);
    check(r.mean == 2 && r.std == 1 && r.threshold == 1, "rule/mean-std-threshold", "%g %g %g", r.mean, r.std, r.threshold);
    check(t[4] == EWQ_RAW, "rule/at-mean-is-raw", "H = mean gave %s", ewq_tier_name(t[4]));
    check(t[2] == EWQ_INT8, "rule/at-threshold-is-int8", "H = mean - f*std gave %s", ewq_tier_name(t[2]));
    check(t[0] == EWQ_INT4 && t[1] == EWQ_RAW && t[3] == EWQ_RAW, "rule/below-and-above", "%s %s %s",
          ewq_tier_name(t[0]), ewq_tier_name(t[1]), ewq_tier_name(t[3]));
    ewq_apply_rule(h, 10, 2.0, t, &r);   /* threshold 0: H = 0 now sits on it */
    check(t[0] == EWQ_INT8 && r.threshold == 0, "rule/factor-moves-threshold", "%s, threshold %g", ewq_tier_name(t[0]),
          r.threshold);
    double same[3] = {0.1, 0.1, 0.1};   /* a mean that rounds: 0.1+0.1+0.1 = 0.30000000000000004 */
    ewq_apply_rule(same, 3, 0.65, t, &r);
    check(r.std == 0 && t[0] == EWQ_RAW && t[1] == EWQ_RAW && t[2] == EWQ_RAW, "rule/equal-entropies-all-raw",
          "std %g, tiers %s %s %s", r.std, ewq_tier_name(t[0]), ewq_tier_name(t[1]), ewq_tier_name(t[2]));
}

/* --- numpy oracle --- */

static void test_numpy_oracle(void) {
    char *text;
    size_t len;
    ewq_err err;
    json_doc doc;
    char jerr[256];
    if (ewq_read_file("data/expected/entropy.json", 16u << 20, &text, &len, &err) != 0 ||
        json_parse(text, len, &doc, jerr, sizeof jerr) != 0) {
        printf("FAIL numpy: data/expected/entropy.json missing or unreadable\n");
        return;
    }
    const json_value *models = json_get(doc.root, "models");
    for (uint32_t i = 0; models && i < models->len; i++) {
        const json_value *e = &models->kids[i];
        char dir[256], name[300];
        snprintf(dir, sizeof dir, "%s", e->key);
        *strrchr(dir, '/') = 0;   /* "fixtures/llama3-f32/bins256" -> folder, bins */
        char path[512];
        snprintf(path, sizeof path, "%s/%s", strncmp(dir, "fixtures/", 9) ? "../shared/assets" : "data", dir);
        snprintf(name, sizeof name, "numpy/%s", e->key);
        if (access(path, F_OK) != 0) { test_skip(name, "model folder absent (../shared/assets?)"); continue; }
        int bins = (int)json_get(e, "bins")->i;
        ewq_model m;
        ewq_plan p;
        if (ewq_model_open(&m, path, &err) || ewq_plan_make(&m, bins, 0, 0.65, &p, &err)) {
            printf("FAIL %s: %s\n", name, err.msg);
            continue;
        }
        const json_value *blocks = json_get(e, "blocks"), *tensors = json_get(e, "tensors");
        double worst = 0;
        int missing = 0;
        for (int l = 0; l < m.cfg.n_layers; l++) {
            worst = fmax(worst, fabs(p.block_entropy[l] - blocks->kids[l].f));
            for (int k = 0; k < EWQ_N_LINEAR; k++) {
                const json_value *want = json_get(tensors, m.blocks[l].linear[k]->name);
                if (!want) missing++;
                else worst = fmax(worst, fabs(p.tensor_entropy[l * EWQ_N_LINEAR + k] - want->f));
            }
        }
        check((int)blocks->len == m.cfg.n_layers && !missing && worst <= 1e-6, name,
              "max difference from numpy %.3g bits (%d tensors missing)", worst, missing);
        ewq_plan_free(&p);
        ewq_model_close(&m);
    }
    json_free(&doc);
    free(text);
}

/* --- a synthesized model with planted outliers --- */

static void test_planted_plan(void) {
    char dir[] = "/tmp/ewq-test-planted-XXXXXX";
    if (!mkdtemp(dir)) { printf("FAIL planted: mkdtemp\n"); return; }
    /* 12 blocks; outliers of 100 std in blocks 2 and 7 and of 12 std in blocks 4 and 9. The range of a
     * block's weights then grows from about 7 std to 200 or 24 std, so with 256 bins its entropy falls
     * from about 7.4 bits to about 2.4 or 5.5 (entropy of a normal histogram ~ log2(4.13 std / bin width)).
     * Mean (8*7.4 + 2*5.5 + 2*2.4) / 12 = 6.25, std 1.8, threshold at f = 0.65: 5.1, so blocks 2 and 7
     * are int4, 4 and 9 int8 (0.4 bits inside the band), the rest raw (over 1 bit above the mean). */
    const char cfg[] = "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 128, \"intermediate_size\": 256,"
                       " \"num_hidden_layers\": 12, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                       " \"vocab_size\": 256, \"tie_word_embeddings\": true}";
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs(cfg, f);
    fclose(f);
    ewq_config c;
    ewq_err err;
    double outlier[12] = {0};
    outlier[2] = outlier[7] = 100;
    outlier[4] = outlier[9] = 12;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ewq_model m;
    ewq_plan p;
    if (ewq_config_parse(&c, "config.json", cfg, strlen(cfg), &err) || ewq_synth_write(&c, 7, outlier, path, &err) ||
        ewq_model_open(&m, dir, &err) || ewq_plan_make(&m, 256, 0, 0.65, &p, &err)) {
        printf("FAIL planted: %s\n", err.msg);
        return;
    }
    char got[128] = "", want[128] = "";
    for (int l = 0; l < 12; l++) {
        ewq_tier w = outlier[l] == 100 ? EWQ_INT4 : outlier[l] == 12 ? EWQ_INT8 : EWQ_RAW;
        strcat(want, ewq_tier_name(w)), strcat(want, " ");
        strcat(got, ewq_tier_name(p.tiers.linear[l * EWQ_N_LINEAR])), strcat(got, " ");
    }
    check(!strcmp(got, want), "planted/expected-plan", "got [%s], expected [%s] (mean %g, std %g)", got, want,
          p.rule.mean, p.rule.std);

    /* the plan file reads back to the same assignment, per tensor too */
    ewq_plan pt;
    ewq_plan_make(&m, 256, 1, 0.65, &pt, &err);
    const ewq_plan *plans[2] = {&p, &pt};
    for (int g = 0; g < 2; g++) {
        snprintf(path, sizeof path, "%s/plan.json", dir);
        f = fopen(path, "w");
        ewq_plan_print(f, plans[g], &m);
        fclose(f);
        ewq_assignment a;
        int same = ewq_plan_load(path, &m, &a, &err) == 0;
        for (int i = 0; same && i < 12 * EWQ_N_LINEAR; i++) same = a.linear[i] == plans[g]->tiers.linear[i];
        check(same, g ? "plan/round-trip-per-tensor" : "plan/round-trip-per-block", "%s", same ? "" : err.msg);
        if (same) ewq_assignment_free(&a);
        remove(path);
    }
    ewq_plan_free(&pt);
    ewq_plan_free(&p);
    ewq_model_close(&m);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    rmdir(dir);
}

/* --- fingerprint --- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    for (const uint8_t *b = p; n--; b++) h = (h ^ *b) * 0x100000001b3ull;
    return h;
}

static void test_fingerprint(void) {
    const uint64_t basis = 0xcbf29ce484222325ull;
    check(fnv(basis, "", 0) == 0xcbf29ce484222325ull && fnv(basis, "a", 1) == 0xaf63dc4c8601ec8cull &&
              fnv(basis, "foobar", 6) == 0x85944171f73967e8ull,
          "fingerprint/fnv1a-test-vectors", "this test's FNV-1a disagrees with the published vectors");
    /* one tensor "w", F32 [3, 50]: 600 bytes, so first 64 and last 64 differ */
    static uint8_t file[8 + 64 + 600];
    const char hdr[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,50],\"data_offsets\":[0,600]}}";
    size_t hl = 64;
    memset(file, ' ', sizeof file);
    file[0] = (uint8_t)hl;
    memset(file + 1, 0, 7);
    memcpy(file + 8, hdr, strlen(hdr));
    for (int i = 0; i < 600; i++) file[8 + hl + i] = (uint8_t)(i * 7);
    ewq_checkpoint ck = {0};
    ewq_err err;
    if (ewq_safetensors_parse(&ck, "mem", file, sizeof file, 0, &err) != 0) {
        printf("FAIL fingerprint: %s\n", err.msg);
        return;
    }
    uint8_t s[256];
    size_t n = 0;
    memcpy(s + n, "w\0F32\0", 6), n += 6;
    const uint8_t dims[4 + 16] = {2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0};
    memcpy(s + n, dims, sizeof dims), n += sizeof dims;
    memcpy(s + n, file + 8 + hl, 64), n += 64;
    memcpy(s + n, file + 8 + hl + 600 - 64, 64), n += 64;
    uint64_t want = fnv(basis, s, n), got = ewq_fingerprint(&ck);
    check(got == want, "fingerprint/documented-bytes", "%016llx, expected %016llx", (unsigned long long)got,
          (unsigned long long)want);
    file[sizeof file - 1] ^= 1;   /* the last value changes */
    check(ewq_fingerprint(&ck) != got, "fingerprint/last-value-counts", "unchanged");
    file[sizeof file - 1] ^= 1;
    file[8 + hl + 300] ^= 1;      /* a middle value is not sampled */
    check(ewq_fingerprint(&ck) == got, "fingerprint/samples-ends-only", "changed");
    for (int i = 0; i < ck.n_tensors; i++) free(ck.tensors[i].name);
    free(ck.tensors);
}

/* --- llama-quantize patterns against the GGUF names of a 36-block model --- */

typedef struct { char gguf[64], hf[80]; } gguf_name;

static int load_gguf_names(gguf_name **out) {
    FILE *f = fopen("data/expected/gguf_names_36.txt", "r");
    if (!f) return -1;
    int n = 0, cap = 2048;
    gguf_name *v = calloc((size_t)cap, sizeof *v);
    while (n < cap && fscanf(f, "%63s %79s", v[n].gguf, v[n].hf) == 2) n++;
    fclose(f);
    *out = v;
    return n;
}

/* Tier of a GGUF name's HF tensor in assignment a (L blocks), or -1 when it is not a block linear weight. */
static int intended_tier(const gguf_name *g, const ewq_assignment *a) {
    int l;
    char lin[64];
    if (sscanf(g->hf, "model.layers.%d.%63[a-z_.]", &l, lin) != 2) return -1;
    for (int k = 0; k < EWQ_N_LINEAR; k++) {
        char want[80];
        snprintf(want, sizeof want, "%s.weight", ewq_linear_names[k]);
        if (!strcmp(lin, want)) return (int)a->linear[l * EWQ_N_LINEAR + k];
    }
    return -1;
}

static void check_command(const char *label, const ewq_assignment *a, ewq_dtype raw, const gguf_name *names, int n) {
    char *cmd = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cmd, &len);
    ewq_llama_quantize_command(f, a, raw, "in.gguf", "out.gguf");
    fclose(f);
    const char *types[3] = {raw == EWQ_BF16 ? "bf16" : raw == EWQ_F16 ? "f16" : "f32", "q8_0", "q4_0"};
    int *hits = calloc((size_t)n, sizeof(int)), patterns = 0, wrong = 0;
    char why[2048] = "";
    for (const char *p = cmd; (p = strstr(p, "--tensor-type '")) != NULL;) {
        p += strlen("--tensor-type '");
        const char *end = strchr(p, '\''), *eq = memchr(p, '=', (size_t)(end - p));   /* patterns have no '=' */
        char pat[512], type[16];
        snprintf(pat, sizeof pat, "%.*s", (int)(eq - p), p);
        snprintf(type, sizeof type, "%.*s", (int)(end - eq - 1), eq + 1);
        int tier = !strcmp(type, types[0]) ? 0 : !strcmp(type, "q8_0") ? 1 : !strcmp(type, "q4_0") ? 2 : -1;
        regex_t re;
        if (tier < 0 || regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0) {
            snprintf(why, sizeof why, "bad pattern or type: %s=%s", pat, type);
            wrong++;
            break;
        }
        int matched = 0;
        for (int i = 0; i < n; i++) {
            if (regexec(&re, names[i].gguf, 0, NULL, 0) != 0) continue;
            matched++;
            hits[i]++;
            if (intended_tier(&names[i], a) != tier && !wrong++)
                snprintf(why, sizeof why, "%s=%s matches %s (%s)", pat, type, names[i].gguf, names[i].hf);
        }
        if (!matched && !wrong++) snprintf(why, sizeof why, "%s matches nothing", pat);
        regfree(&re);
        patterns++;
        p = end;
    }
    for (int i = 0; i < n && !wrong; i++)
        if ((intended_tier(&names[i], a) >= 0) != (hits[i] == 1))
            wrong++, snprintf(why, sizeof why, "%s matched by %d patterns", names[i].gguf, hits[i]);
    char emb[64];
    snprintf(emb, sizeof emb, "--token-embedding-type %s --output-tensor-type %s", types[a->embed], types[a->lm_head]);
    if (!wrong && !strstr(cmd, emb)) wrong++, snprintf(why, sizeof why, "no '%s'", emb);
    if (!wrong && !strstr(cmd, "in.gguf out.gguf Q8_0\n")) wrong++, snprintf(why, sizeof why, "target is not Q8_0");
    char name[96];
    snprintf(name, sizeof name, "llama-quantize/%s", label);
    check(patterns > 0 && !wrong, name, "%s", why);
    free(hits);
    free(cmd);
}

static void test_llama_quantize(void) {
    gguf_name *names;
    int n = load_gguf_names(&names);
    if (n <= 0) { printf("FAIL llama-quantize: data/expected/gguf_names_36.txt missing\n"); return; }
    /* the engine can tell: the proof of concept's unanchored pattern matches blk.10-19 */
    regex_t re;
    regcomp(&re, "blk.1.*", REG_EXTENDED | REG_NOSUB);
    check(regexec(&re, "blk.13.attn_q.weight", 0, NULL, 0) == 0, "llama-quantize/unanchored-overmatches",
          "the regex engine does not behave like a search");
    regfree(&re);
    ewq_tier lin[36 * EWQ_N_LINEAR];
    ewq_assignment a = {36, lin, EWQ_RAW, EWQ_RAW};
    /* block 1 int4, blocks 10-19 raw, the others alternate int8 / int4 / raw */
    for (int l = 0; l < 36; l++)
        for (int k = 0; k < EWQ_N_LINEAR; k++)
            lin[l * EWQ_N_LINEAR + k] = l == 1 ? EWQ_INT4 : l >= 10 && l <= 19 ? EWQ_RAW : (ewq_tier)((l + 1) % 3);
    check_command("blocks-bf16", &a, EWQ_BF16, names, n);
    uint64_t s = 99;   /* every tensor on its own: a per-tensor plan */
    for (int i = 0; i < 36 * EWQ_N_LINEAR; i++) s = s * 6364136223846793005ull + 1, lin[i] = (ewq_tier)((s >> 33) % 3);
    check_command("tensors-f16", &a, EWQ_F16, names, n);
    for (int i = 0; i < 36 * EWQ_N_LINEAR; i++) lin[i] = EWQ_INT8;
    a.embed = a.lm_head = EWQ_INT8;
    check_command("uniform-int8-f32", &a, EWQ_F32, names, n);
    free(names);
}

int main(void) {
    ewq_threads_init(2);
    test_exact_entropies();
    test_nonfinite();
    test_pattern_count_equals_per_value();
    test_weighting_and_sizes();
    test_rule();
    test_numpy_oracle();
    test_planted_plan();
    test_fingerprint();
    test_llama_quantize();
    return 0;
}
