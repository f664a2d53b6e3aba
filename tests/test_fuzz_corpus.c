/* tests/test_fuzz_corpus.c — replays the committed fuzz corpora (every file in tests/fuzz/corpus/TARGET/)
 * through the fuzz targets, compiled here without libFuzzer. The corpora hold the seeds and every input a
 * fuzzer found to crash, hang or break an invariant, so under `make asan` this is the regression test for
 * all of them; an input that fails aborts the program, which tests/run.sh counts as a failure. */
#define LLVMFuzzerTestOneInput fuzz_json_one
#include "fuzz/fuzz_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_index_one
#include "fuzz/fuzz_index.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_pack_one
#include "fuzz/fuzz_pack.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_plan_one
#include "fuzz/fuzz_plan.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tokenizer_one
#include "fuzz/fuzz_tokenizer.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_encode_one
#define LLVMFuzzerInitialize fuzz_encode_init
#include "fuzz/fuzz_encode.c"
#undef LLVMFuzzerTestOneInput
#undef LLVMFuzzerInitialize
#define LLVMFuzzerTestOneInput fuzz_tokenizer_config_one
#include "fuzz/fuzz_tokenizer_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tokens_one
#include "fuzz/fuzz_tokens.c"
#undef LLVMFuzzerTestOneInput

#include "test.h"
#include <dirent.h>

static const struct { const char *name; int (*one)(const uint8_t *, size_t); } targets[] = {
    {"json", fuzz_json_one},
    {"safetensors", fuzz_safetensors_one},
    {"index", fuzz_index_one},
    {"config", fuzz_config_one},
    {"pack", fuzz_pack_one},
    {"plan", fuzz_plan_one},
    {"tokenizer", fuzz_tokenizer_one},
    {"encode", fuzz_encode_one},
    {"tokenizer_config", fuzz_tokenizer_config_one},
    {"tokens", fuzz_tokens_one},
};

static int replay(const char *target, int (*one)(const uint8_t *, size_t)) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", target);
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[600], *buf;
        size_t len;
        ewq_err err;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (ewq_read_file(path, 1 << 24, &buf, &len, &err) != 0) {
            printf("FAIL fuzz-corpus/%s: %s\n", target, err.msg);
            continue;
        }
        fprintf(stderr, "%s\n", path);   /* names the input if it crashes */
        one((const uint8_t *)buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

int main(void) {
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "fuzz-corpus/%s", targets[i].name);
        int n = replay(targets[i].name, targets[i].one);
        check(n > 0, name, "no inputs in tests/fuzz/corpus/%s (run from the repository root)", targets[i].name);
    }
    return 0;
}
