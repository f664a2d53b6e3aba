/* tests/test_export.c — ewq's int8 and int4 rows as GGUF blocks (ewq_gguf_row) decode, by ggml's reference
 * formulas written out here, to exactly the values ewq computes with (ewq_qmat_row):
 *   Q8_0  (ggml's block_q8_0: fp16 d, int8 qs[32]):             y[j] = qs[j] * d
 *   Q4_1  (ggml's block_q4_1: fp16 d, fp16 m, uint8 qs[16]):     y[j] = (qs[j] & 0x0F) * d + m,
 *                                                               y[j + 16] = (qs[j] >> 4) * d + m
 * for random and adversarial rows, group sizes 32 .. 256 and row widths that are multiples of 32 but not
 * of the group; and which weights convert at all (ewq_gguf_convertible). The whole file is checked byte
 * for byte in tests/test_export.sh. */
#include "ewq.h"
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x2545f4914f6cdd1dull;
static double uniform(void) {   /* xorshift64*, in [0, 1) */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (double)((rng * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-53;
}

static uint16_t u16_at(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* ggml's dequantize_row_q8_0 / dequantize_row_q4_1 for one row of n values. */
static void ggml_dequantize(ewq_tier tier, const uint8_t *blocks, int n, float *y) {
    for (int b = 0; b < n / 32; b++) {
        if (tier == EWQ_INT8) {
            const uint8_t *x = blocks + (size_t)b * 34;
            float d = ewq_f16_to_f32(u16_at(x));
            for (int j = 0; j < 32; j++) y[b * 32 + j] = (float)(int8_t)x[2 + j] * d;
        } else {
            const uint8_t *x = blocks + (size_t)b * 20;
            float d = ewq_f16_to_f32(u16_at(x)), m = ewq_f16_to_f32(u16_at(x + 2));
            for (int j = 0; j < 16; j++) {
                y[b * 32 + j] = (float)(x[4 + j] & 0x0F) * d + m;
                y[b * 32 + j + 16] = (float)(x[4 + j] >> 4) * d + m;
            }
        }
    }
}

/* Rows of mixed character: gaussian, one outlier, constant, all negative, all zero, tiny values. */
static float *rows_of(int rows, int cols) {
    float *w = malloc(sizeof(float) * (size_t)rows * cols);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            float g = (float)(sqrt(-2 * log(1 - uniform())) * cos(6.283185307179586 * uniform()));
            float *x = &w[(size_t)r * cols + c];
            switch (r % 6) {
            case 0: *x = 0.02f * g; break;
            case 1: *x = c == cols / 3 ? 40.0f : 0.01f * g; break;
            case 2: *x = 0.5f; break;
            case 3: *x = -fabsf(g) - 1; break;
            case 4: *x = 0; break;
            default: *x = 1e-6f * g; break;
            }
        }
    return w;
}

static void test_blocks(ewq_tier tier, int rows, int cols, int group) {
    char name[96];
    snprintf(name, sizeof name, "gguf_%s_%dx%d_group%d", tier == EWQ_INT8 ? "q8_0" : "q4_1", rows, cols, group);
    float *w = rows_of(rows, cols), *want = malloc(sizeof(float) * (size_t)cols), *got = malloc(sizeof(float) * (size_t)cols);
    uint8_t *blocks = malloc((size_t)cols / 32 * 34);
    ewq_qmat m;
    ewq_err err;
    if (ewq_qmat_pack(&m, tier, w, rows, cols, group, 1, "w", &err)) {
        check(0, name, "%s", err.msg);
        goto out;
    }
    int bad_r = -1, bad_c = -1;
    for (int r = 0; r < rows && bad_r < 0; r++) {
        ewq_qmat_row(&m, r, want);
        ewq_gguf_row(&m, r, blocks);
        ggml_dequantize(tier, blocks, cols, got);
        for (int c = 0; c < cols; c++)
            if (memcmp(&want[c], &got[c], sizeof(float))) { bad_r = r, bad_c = c; break; }
    }
    check(ewq_gguf_convertible(&m) && bad_r < 0, name, "row %d column %d: ewq %.9g, GGUF block %.9g", bad_r, bad_c,
          bad_r < 0 ? 0 : want[bad_c], bad_r < 0 ? 0 : got[bad_c]);
    ewq_qmat_free(&m);
out:
    free(w), free(want), free(got), free(blocks);
}

/* Only whole groups of multiples of 32 convert: otherwise one block would span two groups. */
static void test_convertible(void) {
    struct { ewq_tier tier; int cols, group, want; } cases[] = {
        {EWQ_INT8, 64, 64, 1}, {EWQ_INT4, 160, 64, 1}, {EWQ_INT4, 96, 32, 1}, {EWQ_INT8, 172, 64, 0},
        {EWQ_INT4, 80, 64, 0}, {EWQ_INT8, 64, 16, 0}, {EWQ_INT4, 96, 48, 0},
    };
    int bad = -1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && bad < 0; i++) {
        float w[256] = {0};
        ewq_qmat m;
        ewq_err err;
        if (ewq_qmat_pack(&m, cases[i].tier, w, 1, cases[i].cols, cases[i].group, 1, "w", &err)) { bad = (int)i; break; }
        if (ewq_gguf_convertible(&m) != cases[i].want) bad = (int)i;
        ewq_qmat_free(&m);
    }
    check(bad < 0, "gguf_convertible", "case %d: %d columns in groups of %d", bad, bad < 0 ? 0 : cases[bad].cols,
          bad < 0 ? 0 : cases[bad].group);
    ewq_qmat raw = {.tier = EWQ_RAW, .rows = 1, .cols = 64};
    check(!ewq_gguf_convertible(&raw), "gguf_convertible_raw", "a raw weight has no Q8_0/Q4_1 form");
}

int main(void) {
    ewq_threads_init(2);
    int shapes[][3] = {{12, 64, 64}, {12, 160, 64}, {6, 96, 32}, {12, 256, 256}, {6, 288, 96}, {6, 224, 128}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 2; t++) test_blocks(t ? EWQ_INT4 : EWQ_INT8, shapes[s][0], shapes[s][1], shapes[s][2]);
    test_convertible();
    return 0;
}
