/* fuzz_pack: arbitrary float32 weights (NaN, infinities, subnormals, huge values: whatever a hostile
 * checkpoint holds) packed at int8 or int4 by ewq_qmat_pack. Bytes 0 and 1 choose the group size (1..256),
 * the tier, the int4 range shrink and the row count; the rest are the weights.
 * Checks (the guarantees ewq.h documents): packing refuses only non-finite weights or ones too large for
 * fp16 scales, with one line naming the tensor; int8 and unshrunk int4 reconstruct every weight within
 * half a scale step; the int4 shrink never makes a group's squared error larger. */
#include "fuzz.h"
#include <math.h>

/* Allowed slack for float rounding in the division and the reconstruction. */
static float pack_slack(float w, float m, float s) { return (fabsf(w) + fabsf(m) + 16 * s) * 0x1p-20f + 0x1p-40f; }

/* Squared error of group g of row r of m against the original weights w. */
static double group_error(const ewq_qmat *m, const float *w, const float *deq, int r, int g) {
    double e = 0;
    for (int c = g * m->group; c < m->cols && c < (g + 1) * m->group; c++) {
        double d = (double)w[(size_t)r * m->cols + c] - (double)deq[c];
        e += d * d;
    }
    return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 6) return 0;
    static int threads;
    if (!threads) ewq_threads_init(1), threads = 1;   /* one thread: a finding replays the same way */
    int group = data[0] + 1, shrink = data[1] >> 1 & 1, rows = 1 + (data[1] >> 2 & 3);
    ewq_tier tier = data[1] & 1 ? EWQ_INT4 : EWQ_INT8;
    int cols = (int)((size - 2) / 4 / (size_t)rows);
    if (cols == 0) return 0;
    size_t n = (size_t)rows * cols;
    float *w = malloc(n * sizeof *w), *deq = malloc((size_t)cols * sizeof *deq), *full_deq = NULL;
    memcpy(w, data + 2, n * sizeof *w);
    int tame = 1;   /* every weight finite and well inside the fp16 range: packing must succeed */
    for (size_t i = 0; i < n; i++) tame &= isfinite(w[i]) && fabsf(w[i]) <= 60000;
    ewq_qmat m, full;
    ewq_err err;
    if (ewq_qmat_pack(&m, tier, w, rows, cols, group, shrink, "fuzz.weight", &err) != 0) {
        FUZZ_REQUIRE(!tame);
        fuzz_check_error(&err, "fuzz.weight");
        goto out;
    }
    int compare = tier == EWQ_INT4 && shrink;
    if (compare) {
        FUZZ_REQUIRE(ewq_qmat_pack(&full, tier, w, rows, cols, group, 0, "fuzz.weight", &err) == 0);
        full_deq = malloc((size_t)cols * sizeof *full_deq);
    }
    int ng = ewq_groups_per_row(cols, group);
    for (int r = 0; r < rows; r++) {
        ewq_qmat_row(&m, r, deq);
        if (compare) ewq_qmat_row(&full, r, full_deq);
        for (int c = 0; c < cols; c++) {
            float x = w[(size_t)r * cols + c], s = ewq_f16_to_f32(m.scale[(size_t)r * ng + c / group]);
            float mn = tier == EWQ_INT4 ? ewq_f16_to_f32(m.min[(size_t)r * ng + c / group]) : 0;
            FUZZ_REQUIRE(isfinite(deq[c]));
            if (!compare) FUZZ_REQUIRE(fabsf(x - deq[c]) <= s / 2 + pack_slack(x, mn, s));
        }
        for (int g = 0; compare && g < ng; g++) {
            double e = group_error(&m, w, deq, r, g), e_full = group_error(&full, w, full_deq, r, g);
            FUZZ_REQUIRE(e <= e_full * (1 + 1e-12));
        }
    }
    if (compare) ewq_qmat_free(&full);
    ewq_qmat_free(&m);
out:
    free(w);
    free(deq);
    free(full_deq);
    return 0;
}
