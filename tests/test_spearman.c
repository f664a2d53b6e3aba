/* tests/test_spearman.c — ewq_spearman (the rank correlation `ewq run` reports between block entropy and
 * measured sensitivity) against data/expected/spearman.txt: rho from exact fractions and the p-value from
 * mpmath's regularized incomplete beta function at 50 digits (tests/gen/make_spearman_expected.py), on
 * random inputs of 3 to 80 values with and without ties, and on monotone pairs (rho ±1, p 0). */
#include "ewq.h"
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *text;
    size_t len;
    ewq_err err;
    if (!check(ewq_read_file("data/expected/spearman.txt", 1 << 20, &text, &len, &err) == 0, "spearman_data", "%s",
               err.msg))
        return 0;
    int cases = 0;
    for (char *p = text, *end; p < text + len && *p; p = end) {
        int n = (int)strtol(p, &end, 10);
        double *x = malloc(sizeof(double) * (size_t)n), *y = malloc(sizeof(double) * (size_t)n), rho, pv, want_rho, want_p;
        for (int i = 0; i < n; i++) x[i] = strtod(end, &end);
        for (int i = 0; i < n; i++) y[i] = strtod(end, &end);
        want_rho = strtod(end, &end), want_p = strtod(end, &end);
        while (*end == '\n') end++;
        ewq_spearman(x, y, n, &rho, &pv);
        char name[64];
        snprintf(name, sizeof name, "spearman_%d_n%d", ++cases, n);
        check(fabs(rho - want_rho) <= 1e-12 && fabs(pv - want_p) <= 1e-10 * fmax(want_p, 1e-300) + 1e-300, name,
              "rho %.17g p %.17g, expected rho %.17g p %.17g", rho, pv, want_rho, want_p);
        free(x), free(y);
    }
    check(cases == 9, "spearman_cases", "%d cases read, expected 9", cases);
    double x[2] = {1, 2}, rho, p;
    ewq_spearman(x, x, 2, &rho, &p);   /* too few values for a p-value */
    check(rho == 1 && isnan(p), "spearman_two_values", "rho %g p %g", rho, p);
    free(text);
    return 0;
}
