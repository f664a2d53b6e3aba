/* tests/bench/bench_tokenizer.c — make bench: encoding time on adversarial texts, to show that no input makes
 * the tokenizer quadratic (issue: "no quadratic blow-ups on adversarial tokenizer input"). For each
 * tokenizer of ../shared/assets and each text class below, the text is encoded at 64 KiB and at 512 KiB
 * (CPU time, best of 3 each): linear work grows 8 times, quadratic work 64 times. A long word is merged
 * with a heap (n log n) whose working set stops fitting in cache between the two sizes, so growth up to
 * about 30 is expected; the verdict flags 32 or more. Timing belongs here, never in a test. */
#define _POSIX_C_SOURCE 200809L
#include "ewq.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Fills s[0..n) by repeating unit (a whole number of units, so UTF-8 stays well-formed). */
static size_t repeat(char *s, size_t n, const char *unit) {
    size_t k = strlen(unit), used = 0;
    while (used + k <= n) memcpy(s + used, unit, k), used += k;
    return used;
}

static const struct { const char *name, *unit; } classes[] = {
    {"one letter", "a"},
    {"spaces", " "},
    {"letters, no space", "abcdefghijklmnopqrstuvwxyz"},
    {"digits", "1234567890"},
    {"newlines", "\n"},
    {"space-newline", " \n"},
    {"punctuation", "!"},
    {"one 2-byte char", "\xc3\xa9"},
    {"combining marks", "\xcc\x81\xcc\xa3"},
    {"CJK, no space", "\xe4\xb8\xad\xe6\x96\x87"},
    {"special-token prefix", "<|"},
    {"<s without >", "<s"},
    {"ill-formed bytes", "\xff"},
};

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);   /* CPU time: the machine may be shared */
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best of 3 encodes of text[0..n); *count gets the id count. */
static double time_encode(const ewq_tokenizer *t, const char *text, size_t n, size_t *count) {
    double best = INFINITY;
    for (int r = 0; r < 3; r++) {
        int *ids;
        double t0 = seconds();
        *count = ewq_encode(t, text, n, 0, &ids);
        double dt = seconds() - t0;
        free(ids);
        if (dt < best) best = dt;
    }
    return best;
}

int main(void) {
    static const char *const paths[] = {"../shared/assets/tokenizers/llama3", "../shared/assets/tokenizers/qwen3",
                                        "../shared/assets/tokenizers/llama2-spm", "../shared/assets/stories260K"};
    const size_t small = 64 << 10, large = 512 << 10;
    char *text = malloc(large);
    int superlinear = 0, ran = 0;
    printf("%-12s %-22s %9s %10s %10s %9s %7s\n", "tokenizer", "text", "ids@512K", "ms@64K", "ms@512K", "MB/s",
           "growth");
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        ewq_tokenizer t;
        ewq_err err;
        if (ewq_tokenizer_load(&t, paths[p], &err)) { fprintf(stderr, "bench: %s (skipped)\n", err.msg); continue; }
        ran = 1;
        const char *name = strrchr(paths[p], '/') + 1;
        for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++) {
            size_t n_small = repeat(text, small, classes[c].unit), ids_small, ids_large;
            double t_small = time_encode(&t, text, n_small, &ids_small);
            size_t n_large = repeat(text, large, classes[c].unit);
            double t_large = time_encode(&t, text, n_large, &ids_large);
            double growth = t_large / t_small;
            superlinear |= growth >= 32;
            printf("%-12s %-22s %9zu %10.3f %10.3f %9.1f %7.1f%s\n", name, classes[c].name, ids_large, t_small * 1e3,
                   t_large * 1e3, n_large / t_large / 1e6, growth, growth >= 32 ? "  QUADRATIC?" : "");
        }
        ewq_tokenizer_free(&t);
    }
    free(text);
    if (!ran) { printf("bench: no tokenizer found under ../shared/assets\n"); return 1; }
    printf("growth = CPU time at 512 KiB / at 64 KiB: 8 is linear, 64 quadratic; %s\n",
           superlinear ? "growth of 32 or more above" : "every class under 32");
    return 0;
}
