/* tests/test_foundation.c — checkpoint, config and utilities against references ewq did not write:
 *   - the six real config.json files, against what transformers' AutoConfig made of them
 *     (data/expected/configs.json, written by tests/gen/make_fixtures.py);
 *   - every fixture in data/fixtures/, against the config and tensor list transformers and the
 *     safetensors package wrote (each fixture's expected.json);
 *   - the real stories260K checkpoint, against the facts in ../shared/assets/README.md;
 *   - half-precision conversion, threads and atomic output, against exact arithmetic. */
#define _GNU_SOURCE
#include "ewq.h"
#include "json.h"
#include "tests/test.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int load_json(const char *path, char **text, json_doc *doc) {
    size_t len;
    ewq_err err;
    char jerr[256];
    if (ewq_read_file(path, 64u << 20, text, &len, &err) != 0) return -1;
    if (json_parse(*text, len, doc, jerr, sizeof jerr) != 0) {
        printf("FAIL json %s: %s\n", path, jerr);
        free(*text);
        return -1;
    }
    return 0;
}

static double num(const json_value *o, const char *k) {
    const json_value *v = json_get(o, k);
    return v && v->type == JSON_NUMBER ? v->f : NAN;
}

/* Compares ewq's reading of a config with the oracle's "config" object; returns a description of the
 * first difference, or NULL. */
static const char *config_diff(const ewq_config *c, const json_value *want, char *buf, size_t n) {
    const json_value *arch = json_get(want, "architecture");
    if (!arch || strcmp(arch->str, c->arch_name)) return snprintf(buf, n, "architecture %s", c->arch_name), buf;
    struct { const char *key; double got; } ints[] = {
        {"hidden_size", c->hidden},          {"num_hidden_layers", c->n_layers},
        {"num_attention_heads", c->n_heads}, {"num_key_value_heads", c->n_kv_heads},
        {"head_dim", c->head_dim},           {"intermediate_size", c->intermediate},
        {"vocab_size", c->vocab},            {"rms_norm_eps", c->rms_eps},
        {"rope_theta", c->rope_theta},       {"bos_token_id", c->bos_id},
        {"eos_token_id", c->n_eos ? c->eos_ids[0] : -1},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (num(want, ints[i].key) != ints[i].got)
            return snprintf(buf, n, "%s: ewq %g, expected %g", ints[i].key, ints[i].got, num(want, ints[i].key)), buf;
    const json_value *mp = json_get(want, "max_position_embeddings");
    if (mp && mp->type == JSON_NUMBER && mp->f != c->max_pos)
        return snprintf(buf, n, "max_position_embeddings %d", c->max_pos), buf;
    const json_value *tie = json_get(want, "tie_word_embeddings");
    if (!tie || (tie->type == JSON_TRUE) != c->tie_embeddings)
        return snprintf(buf, n, "tie_word_embeddings %d", c->tie_embeddings), buf;
    const json_value *rs = json_get(want, "rope_scaling");
    int llama3 = rs && rs->type == JSON_OBJECT;
    if (llama3 != c->rope_llama3) return snprintf(buf, n, "rope llama3 %d", c->rope_llama3), buf;
    if (llama3 && (num(rs, "factor") != c->rope_factor || num(rs, "low_freq_factor") != c->rope_low_freq_factor ||
                   num(rs, "high_freq_factor") != c->rope_high_freq_factor ||
                   num(rs, "original_max_position_embeddings") != c->rope_orig_max_pos))
        return snprintf(buf, n, "rope_scaling parameters"), buf;
    return NULL;
}

static void test_real_configs(void) {
    char *text;
    json_doc doc;
    if (load_json("data/expected/configs.json", &text, &doc) != 0) {
        printf("FAIL configs: data/expected/configs.json missing or unreadable\n");
        return;
    }
    for (uint32_t i = 0; i < doc.root->len; i++) {
        const json_value *e = &doc.root->kids[i];
        char path[512], name[256], diff[256];
        snprintf(path, sizeof path, "../shared/assets/configs/%s/config.json", e->key);
        snprintf(name, sizeof name, "config/%s", e->key);
        char *cfg;
        size_t len;
        ewq_err err;
        if (access(path, R_OK) != 0) { test_skip(name, "../shared/assets/configs is not present"); continue; }
        if (ewq_read_file(path, 1 << 20, &cfg, &len, &err) != 0) { check(0, name, "%s", err.msg); continue; }
        ewq_config c;
        if (ewq_config_parse(&c, path, cfg, len, &err) != 0) check(0, name, "%s", err.msg);
        else {
            const char *d = config_diff(&c, e, diff, sizeof diff);
            check(!d, name, "%s", d ? d : "");
        }
        free(cfg);
    }
    json_free(&doc);
    free(text);
}

/* Every fixture loads through the model path, and its config and tensors are what the generator wrote. */
static void test_fixture(const char *dir, const char *fixture) {
    char path[1024], name[1024], diff[256];
    snprintf(path, sizeof path, "%s/expected.json", dir);
    char *text;
    json_doc doc;
    if (load_json(path, &text, &doc) != 0) return;
    ewq_model m;
    ewq_err err;
    snprintf(name, sizeof name, "fixture/%s/loads", fixture);
    if (check(ewq_model_open(&m, dir, &err) == 0, name, "%s", err.msg)) {
        const char *d = config_diff(&m.cfg, json_get(doc.root, "config"), diff, sizeof diff);
        snprintf(name, sizeof name, "fixture/%s/config", fixture);
        check(!d, name, "%s", d ? d : "");
        const json_value *ts = json_get(doc.root, "tensors");
        snprintf(name, sizeof name, "fixture/%s/tensors", fixture);
        int ok = ts && (int)ts->len == m.ck.n_tensors;
        char why[512] = "tensor count differs";
        for (uint32_t i = 0; ok && i < ts->len; i++) {
            const json_value *t = &ts->kids[i], *shape = json_get(t, "shape");
            const ewq_tensor *got = ewq_find_tensor(&m.ck, json_get(t, "name")->str);
            ok = got && !strcmp(ewq_dtype_name(got->dtype), json_get(t, "dtype")->str) &&
                 got->ndim == (int)shape->len;
            for (int d = 0; ok && d < got->ndim; d++) ok = got->shape[d] == shape->kids[d].i;
            if (!ok) snprintf(why, sizeof why, "tensor %s differs", json_get(t, "name")->str);
        }
        check(ok, name, "%s", why);
        ewq_model_close(&m);
    }
    json_free(&doc);
    free(text);
}

static void test_fixtures(void) {
    DIR *d = opendir("data/fixtures");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char dir[300];
        struct stat st;
        snprintf(dir, sizeof dir, "data/fixtures/%s", e->d_name);
        if (e->d_name[0] == '.' || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        test_fixture(dir, e->d_name);
        n++;
    }
    if (d) closedir(d);
    check(n >= 9, "fixtures/present", "found %d fixture folders in data/fixtures, expected 9", n);
}

static void test_stories260k(void) {
    const char *dir = "../shared/assets/stories260K";
    if (access(dir, R_OK) != 0) { test_skip("stories260K", "../shared/assets/stories260K is not present"); return; }
    ewq_model m;
    ewq_err err;
    if (!check(ewq_model_open(&m, dir, &err) == 0, "stories260K/loads", "%s", err.msg)) return;
    const ewq_config *c = &m.cfg;
    check(c->arch == EWQ_ARCH_LLAMA && c->n_layers == 5 && c->hidden == 64 && c->n_heads == 8 && c->n_kv_heads == 4 &&
              c->head_dim == 8 && c->vocab == 512 && c->intermediate == 172 && c->tie_embeddings && c->bos_id == 1,
          "stories260K/config", "layers %d hidden %d heads %d kv %d head_dim %d vocab %d", c->n_layers, c->hidden,
          c->n_heads, c->n_kv_heads, c->head_dim, c->vocab);
    /* 5 blocks x 9 tensors + embedding + final norm; the header's 48th entry is __metadata__ */
    int64_t params = 0;
    for (int i = 0; i < m.ck.n_tensors; i++) params += m.ck.tensors[i].numel;
    check(m.ck.n_tensors == 47 && params == 1040128 / 4 && m.lm_head == m.embed, "stories260K/tensors",
          "%d tensors, %lld parameters", m.ck.n_tensors, (long long)params);
    ewq_model_close(&m);
}

static void test_half_conversions(void) {
    int bad16 = 0, badbf = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ewq_f16_to_f32((uint16_t)h);
        if (f == f && ewq_f32_to_f16(f) != h) bad16++;
        float g = ewq_bf16_to_f32((uint16_t)h);
        if (g == g && ewq_f32_to_bf16(g) != h) badbf++;
    }
    check(!bad16, "f16/round-trip", "%d of 65536 half values do not survive f16 -> f32 -> f16", bad16);
    check(!badbf, "bf16/round-trip", "%d of 65536 bf16 values do not survive bf16 -> f32 -> bf16", badbf);
    /* exact values and ties: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10 and rounds to even (1) */
    check(ewq_f16_to_f32(0x3c00) == 1.0f && ewq_f16_to_f32(0x0001) == 0x1p-24f && ewq_f16_to_f32(0x7bff) == 65504.0f &&
              ewq_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00 && ewq_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02 &&
              ewq_f32_to_f16(65520.0f) == 0x7c00 && ewq_f32_to_f16(65519.0f) == 0x7bff &&
              ewq_f32_to_f16(0x1p-25f) == 0 && ewq_f32_to_f16(0x1.8p-25f) == 1 && ewq_f32_to_f16(-0.0f) == 0x8000,
          "f16/exact", "a known value converts wrongly");
    check(ewq_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80 && ewq_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82 &&
              ewq_bf16_to_f32(0xc040) == -3.0f,
          "bf16/exact", "a known value converts wrongly");
}

static void add_square(void *ctx, int i) { ((long *)ctx)[i] = (long)i * i; }

static void test_threads(void) {
    ewq_threads_init(2);
    enum { N = 100000 };
    long *v = calloc(N, sizeof *v), sum = 0;
    for (int rep = 0; rep < 50; rep++) ewq_parallel(N, add_square, v);
    for (int i = 0; i < N; i++) sum += v[i];
    /* sum of i^2 for i < N = (N-1) N (2N-1) / 6 */
    check(sum == (long)(N - 1) * N * (2L * N - 1) / 6, "threads/parallel-for", "sum %ld", sum);
    free(v);
}

static void test_atomic_output(void) {
    char dir[] = "/tmp/ewq-test-XXXXXX", path[64];
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/out.txt", dir);
    ewq_outfile o;
    ewq_err err;
    ewq_out_open(&o, path, &err);
    fputs("partial", o.f);
    ewq_out_abort(&o);
    int absent = access(path, F_OK) != 0;
    ewq_out_open(&o, path, &err);
    fputs("complete\n", o.f);
    int committed = ewq_out_commit(&o, &err) == 0;
    char *text = NULL;
    size_t len = 0;
    int same = committed && ewq_read_file(path, 100, &text, &len, &err) == 0 && !strcmp(text, "complete\n");
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));) entries += e->d_name[0] != '.';
    closedir(d);
    check(absent && same && entries == 1, "atomic-output", "absent after abort %d, content ok %d, entries %d", absent,
          same, entries);
    free(text);
    remove(path);
    rmdir(dir);
}

int main(void) {
    test_half_conversions();
    test_threads();
    test_atomic_output();
    test_stories260k();
    test_real_configs();
    test_fixtures();
    return 0;
}
