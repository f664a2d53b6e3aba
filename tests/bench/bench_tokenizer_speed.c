/* tests/bench/bench_tokenizer_speed.c — tokenization speed (make bench): each tokenizer in ../shared/assets
 * encodes the WikiText-2 test file on one core; the best of 5 runs is reported, in MB/s (10^6 bytes of
 * input per second) and tokens/s, with the load time of tokenizer.json and the decode speed. Times are the
 * process's CPU time (encoding is single-threaded), so a busy shared machine slows them less. */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime */
#include "ewq.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
    static const struct { const char *name, *path; } toks[] = {
        {"llama3", "../shared/assets/tokenizers/llama3"},
        {"qwen3", "../shared/assets/tokenizers/qwen3"},
        {"llama2-spm", "../shared/assets/tokenizers/llama2-spm"},
        {"stories260K", "../shared/assets/stories260K"},
    };
    const char *wiki = "../shared/assets/text/wiki.test.raw";
    char *text;
    size_t len;
    ewq_err err;
    if (ewq_read_file(wiki, 64u << 20, &text, &len, &err)) {
        fprintf(stderr, "bench_tokenizer_speed: skipped: %s\n", err.msg);
        return 0;
    }
    printf("tokenizer speed on %s (%zu bytes), one core, CPU time, best of 5\n", wiki, len);
    printf("%-12s %9s %9s %11s %13s %11s\n", "tokenizer", "load s", "tokens", "encode MB/s", "encode tok/s",
           "decode MB/s");
    for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
        ewq_tokenizer t;
        double t0 = now();
        if (ewq_tokenizer_load(&t, toks[k].path, &err)) { fprintf(stderr, "ewq: %s\n", err.msg); return 1; }
        double load = now() - t0, enc = 1e30, dec = 1e30;
        size_t n = 0;
        for (int rep = 0; rep < 5; rep++) {
            int *ids;
            t0 = now();
            n = ewq_encode(&t, text, len, 0, &ids);
            double e = now() - t0;
            if (e < enc) enc = e;
            size_t total = 0, piece;
            t0 = now();
            for (size_t i = 0; i < n; i++) {
                ewq_decode(&t, i ? ids[i - 1] : -1, ids[i], &piece);
                total += piece;
            }
            double d = now() - t0;
            if (d < dec) dec = d;
            if (total != len)
                fprintf(stderr, "bench_tokenizer_speed: %s decodes to %zu bytes, not %zu\n", toks[k].name, total,
                        len);
            free(ids);
        }
        printf("%-12s %9.3f %9zu %11.2f %13.0f %11.1f\n", toks[k].name, load, n, len / enc / 1e6, n / enc,
               len / dec / 1e6);
        fflush(stdout);
        ewq_tokenizer_free(&t);
    }
    free(text);
    return 0;
}
