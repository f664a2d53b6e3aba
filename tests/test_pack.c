/* tests/test_pack.c — int8/int4 packing (ewq.h) against exact arithmetic:
 *   - byte layouts on groups whose codes are known in advance (nibble order, row starts, scales);
 *   - round-trip bounds |w - ŵ| <= scale/2 on random groups and adversarial ones (constant, one huge
 *     outlier, all negative, float and fp16 subnormals, ±0), for several group sizes and rows whose
 *     length is not a multiple of the group;
 *   - the int4 range shrink never increases a group's squared error; the signs of zero minimums and scales;
 *   - refusals (NaN, infinity, values beyond fp16).
 * The packed bytes of the fixture models are also checked against an independent numpy implementation
 * of the same layout, in test_forward.c. */
#include "ewq.h"
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double uniform(void) {   /* xorshift64*, in [0, 1) */
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (double)((rng * 0x2545f4914f6cdd1dull) >> 11) * 0x1p-53;
}
static float gauss(void) { return (float)(sqrt(-2 * log(1 - uniform())) * cos(6.283185307179586 * uniform())); }

static int groups(const ewq_qmat *m) { return ewq_groups_per_row(m->cols, m->group); }

/* Largest |w - ŵ| / (scale/2) over values inside their group's representable range, and how many
 * values fell outside it. */
static double worst_ratio(const ewq_qmat *m, const float *w, int *outside) {
    float *row = malloc(sizeof(float) * (size_t)m->cols);
    double worst = 0;
    *outside = 0;
    for (int r = 0; r < m->rows; r++) {
        ewq_qmat_row(m, r, row);
        for (int c = 0; c < m->cols; c++) {
            size_t gi = (size_t)r * groups(m) + c / m->group;
            double s = ewq_f16_to_f32(m->scale[gi]), lo, hi, x = w[(size_t)r * m->cols + c];
            if (m->tier == EWQ_INT8) lo = -127 * s, hi = 127 * s;
            else lo = ewq_f16_to_f32(m->min[gi]), hi = lo + 15 * s;
            if (x < lo || x > hi) { (*outside)++; continue; }
            double err = fabs(x - row[c]);
            /* s = 0 only for a group that is exactly representable: then the error must be 0 */
            double ratio = s > 0 ? err / (s / 2) : (err > 0 ? INFINITY : 0);
            if (ratio > worst) worst = ratio;
        }
    }
    free(row);
    return worst;
}

/* Squared error of group g of row r. */
static double group_sse(const ewq_qmat *m, const float *w, int r, int g) {
    float *row = malloc(sizeof(float) * (size_t)m->cols);
    ewq_qmat_row(m, r, row);
    double e = 0;
    for (int c = g * m->group; c < m->cols && c < (g + 1) * m->group; c++) {
        double d = (double)w[(size_t)r * m->cols + c] - row[c];
        e += d * d;
    }
    free(row);
    return e;
}

static void test_layout_int4(void) {
    /* one row of 0..15 then 15..0 with groups of 16: the full range is [0, 15], so min 0, scale 1 and
     * the codes are the values themselves; odd columns 33 also checks the padded last byte */
    float w[33];
    for (int c = 0; c < 16; c++) w[c] = (float)c, w[16 + c] = (float)(15 - c);
    w[32] = 7;
    ewq_qmat m;
    ewq_err err;
    int ok = ewq_qmat_pack(&m, EWQ_INT4, w, 1, 33, 16, 0, "t", &err) == 0;
    const uint8_t *q = m.q;
    int bytes_ok = ok;
    for (int b = 0; ok && b < 8; b++) bytes_ok &= q[b] == (uint8_t)((2 * b) | (2 * b + 1) << 4);
    for (int b = 0; ok && b < 8; b++) bytes_ok &= q[8 + b] == (uint8_t)((15 - 2 * b) | (14 - 2 * b) << 4);
    /* column 32 is a one-value group: min 7 (fp16 0x4700), scale 0, code 0, high nibble 0 */
    bytes_ok &= ok && q[16] == 0 && m.min[2] == 0x4700 && m.scale[2] == 0;
    bytes_ok &= ok && m.min[0] == 0 && m.scale[0] == 0x3c00;   /* fp16 1.0 */
    check(bytes_ok, "pack/int4-layout", "bytes %02x %02x .. %02x, scale %04x min %04x", ok ? q[0] : 0,
          ok ? q[1] : 0, ok ? q[16] : 0, ok ? m.scale[0] : 0, ok ? m.min[0] : 0);
    size_t bytes = ok ? (size_t)ewq_weight_bytes(m.tier, m.dtype, m.rows, m.cols, m.group) : 0;
    check(ok && bytes == 17 + 4 * 3, "pack/int4-bytes", "%zu", bytes);
    if (ok) ewq_qmat_free(&m);
}

/* Groups of signed zeros: ewq.h says which zero is lo (the last in column order) and which is hi (the
 * first), so the sign bits of m = down16(lo) and s = up16((hi - m) / 15) are known. */
static void test_signed_zeros(void) {
    float w[2][4] = {{-0.0f, 0.0f, -0.0f, 0.0f}, {0.0f, -0.0f, 0.0f, -0.0f}};
    uint16_t want_min[2] = {0x0000, 0x8000}, want_scale[2] = {0x8000, 0x0000};
    for (int shrink = 0; shrink < 2; shrink++) {
        ewq_qmat m;
        ewq_err err;
        int ok = ewq_qmat_pack(&m, EWQ_INT4, &w[0][0], 2, 4, 4, shrink, "t", &err) == 0;
        int same = ok && ((const uint8_t *)m.q)[0] == 0 && ((const uint8_t *)m.q)[3] == 0;
        for (int r = 0; ok && r < 2; r++) same &= m.min[r] == want_min[r] && m.scale[r] == want_scale[r];
        check(same, shrink ? "pack/int4-signed-zeros/shrink" : "pack/int4-signed-zeros", "min %04x %04x, scale %04x %04x",
              ok ? m.min[0] : 0, ok ? m.min[1] : 0, ok ? m.scale[0] : 0, ok ? m.scale[1] : 0);
        if (ok) ewq_qmat_free(&m);
    }
}

static void test_layout_int8(void) {
    /* two rows of 5 with groups of 3. Row 0: absmax 254 gives scale 2 exactly. Row 1: 1/127 and 0.5/127
     * fall between fp16 values and round up, to 2^-7 * 1033/1024 and 2^-8 * 1033/1024, so 0.25 / scale
     * = 63.46 -> 63 */
    float w[10] = {-254, 0, 2, 254, 100, 1, 1, 1, -0.5f, 0.25f};
    ewq_qmat m;
    ewq_err err;
    int ok = ewq_qmat_pack(&m, EWQ_INT8, w, 2, 5, 3, 0, "t", &err) == 0;
    const int8_t *q = m.q;
    int8_t want[10] = {-127, 0, 1, 127, 50, 127, 127, 127, -127, 63};
    int same = ok && !memcmp(q, want, 10);
    /* scales: 254/127 = 2 (0x4000); 254/127 = 2; 1/127 -> up16; 0.5/127 -> up16 */
    same &= ok && m.scale[0] == 0x4000 && m.scale[1] == 0x4000;
    same &= ok && ewq_f16_to_f32(m.scale[2]) == 0x1p-7f * 1033 / 1024 &&
            ewq_f16_to_f32(m.scale[3]) == 0x1p-8f * 1033 / 1024;
    check(same, "pack/int8-layout", "codes or scales differ from the hand-computed ones");
    size_t bytes = ok ? (size_t)ewq_weight_bytes(m.tier, m.dtype, m.rows, m.cols, m.group) : 0;
    check(ok && bytes == 2 * (5 + 2 * 2), "pack/int8-bytes", "%zu", bytes);
    if (ok) ewq_qmat_free(&m);
}

/* A rows x cols matrix whose rows are the adversarial cases, repeated. */
static float *adversarial(int rows, int cols) {
    float *w = malloc(sizeof(float) * (size_t)rows * cols);
    for (int r = 0; r < rows; r++) {
        float *x = w + (size_t)r * cols;
        for (int c = 0; c < cols; c++) {
            float g = gauss();
            switch (r % 9) {
            case 0: x[c] = 0.3f; break;                                    /* constant */
            case 1: x[c] = c == cols / 3 ? 1000.0f : 0.01f * g; break;      /* one huge outlier */
            case 2: x[c] = -fabsf(g) - 0.5f; break;                         /* all negative */
            case 3: x[c] = g * 1e-39f; break;                               /* float subnormals */
            case 4: x[c] = g * 1e-6f; break;                                /* fp16 subnormal scales */
            case 5: x[c] = c % 2 ? 0.0f : -0.0f; break;                     /* ±0 */
            case 6: x[c] = c % 5 == 0 ? -40000.0f : 100 * g; break;         /* near the fp16 limit */
            case 7: x[c] = (float)(c % 16) - 8; break;                      /* exactly on a grid */
            default: x[c] = g;
            }
        }
    }
    return w;
}

static void test_bounds(const char *what, float *w, int rows, int cols) {
    int sizes[] = {64, 32, 128, 7};
    for (int t = 0; t < 2; t++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            ewq_tier tier = t ? EWQ_INT4 : EWQ_INT8;
            char name[96];
            snprintf(name, sizeof name, "pack/bound/%s/%s/g%d/%dx%d", what, ewq_tier_name(tier), sizes[s], rows, cols);
            ewq_qmat m;
            ewq_err err;
            if (ewq_qmat_pack(&m, tier, w, rows, cols, sizes[s], 0, "w", &err)) {
                check(0, name, "%s", err.msg);
                continue;
            }
            int outside;
            double worst = worst_ratio(&m, w, &outside);
            /* 1 + 1e-6: the division and multiply-add of dequantization round in float32 */
            check(worst <= 1 + 1e-6 && outside == 0, name, "max |w - ŵ| = %.9g x scale/2, %d values outside the range",
                  worst, outside);
            ewq_qmat_free(&m);
        }
}

static void test_shrink(const char *what, float *w, int rows, int cols) {
    ewq_qmat full, shr;
    ewq_err err;
    char name[96];
    snprintf(name, sizeof name, "pack/shrink-never-worse/%s", what);
    if (ewq_qmat_pack(&full, EWQ_INT4, w, rows, cols, 64, 0, "w", &err) ||
        ewq_qmat_pack(&shr, EWQ_INT4, w, rows, cols, 64, 1, "w", &err)) {
        check(0, name, "%s", err.msg);
        return;
    }
    int worse = 0, better = 0, ng = groups(&full);
    double total_full = 0, total_shr = 0;
    for (int r = 0; r < rows; r++)
        for (int g = 0; g < ng; g++) {
            double a = group_sse(&full, w, r, g), b = group_sse(&shr, w, r, g);
            worse += b > a, better += b < a;
            total_full += a, total_shr += b;
        }
    check(worse == 0, name, "%d of %d groups got worse", worse, rows * ng);
    printf("# %s: shrink lowered %d of %d groups; total squared error %.6g -> %.6g\n", what, better, rows * ng,
           total_full, total_shr);
    ewq_qmat_free(&full);
    ewq_qmat_free(&shr);
}

static void test_refusals(void) {
    struct { const char *name; float v; ewq_tier tier; } cases[] = {
        {"nan", NAN, EWQ_INT8},     {"nan", NAN, EWQ_INT4},         {"inf", INFINITY, EWQ_INT8},
        {"inf", -INFINITY, EWQ_INT4}, {"int8-scale", 1e8f, EWQ_INT8}, {"int4-min", -70000.0f, EWQ_INT4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float w[3 * 70];
        for (int k = 0; k < 3 * 70; k++) w[k] = 0.1f * (float)k;
        w[2 * 70 + 5] = cases[i].v;
        ewq_qmat m;
        ewq_err err;
        char name[64];
        snprintf(name, sizeof name, "pack/refuses/%s/%s", cases[i].name, ewq_tier_name(cases[i].tier));
        int rc = ewq_qmat_pack(&m, cases[i].tier, w, 3, 70, 64, 1, "layer.weight", &err);
        check(rc == -1 && strstr(err.msg, "layer.weight: row 2 ") == err.msg, name, "rc %d: %s", rc,
              rc ? err.msg : "(packed)");
        if (rc == 0) ewq_qmat_free(&m);
    }
    /* 1e6 fits an int8 scale (1e6/127 < 65504), so int8 accepts what int4 must refuse */
    float w[64];
    for (int k = 0; k < 64; k++) w[k] = k ? 1.0f : 1e6f;
    ewq_qmat m;
    ewq_err err;
    int rc = ewq_qmat_pack(&m, EWQ_INT8, w, 1, 64, 64, 0, "w", &err);
    check(rc == 0, "pack/int8-accepts-large", "%s", rc ? err.msg : "");
    if (rc == 0) ewq_qmat_free(&m);
}

int main(void) {
    ewq_threads_init(2);
    test_layout_int4();
    test_layout_int8();
    test_signed_zeros();
    int shapes[][2] = {{9, 64}, {18, 160}, {9, 172}, {9, 33}, {27, 256}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        float *w = adversarial(shapes[s][0], shapes[s][1]);
        test_bounds("adversarial", w, shapes[s][0], shapes[s][1]);
        test_shrink("adversarial", w, shapes[s][0], shapes[s][1]);
        free(w);
    }
    int rows = 64, cols = 4096;
    float *w = malloc(sizeof(float) * (size_t)rows * cols);
    for (int i = 0; i < rows * cols; i++) w[i] = gauss() * 0.02f;
    test_bounds("gaussian", w, rows, cols);
    test_shrink("gaussian", w, rows, cols);
    for (int i = 0; i < rows * cols; i++) w[i] = gauss() * gauss() * gauss();   /* heavy tails */
    test_shrink("heavy-tailed", w, rows, cols);
    free(w);
    test_refusals();
    return 0;
}
