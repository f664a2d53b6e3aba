/* fuzz_tokenizer: arbitrary bytes as a tokenizer.json, loaded with ewq_tokenizer_load; an accepted one then
 * encodes tests/tokenizer_stress.txt (every pre-tokenizer branch, special tokens, ill-formed UTF-8) and
 * decodes every id it gives. Seeds: tests/fuzz/corpus/tokenizer (small synthetic tokenizers of each kind,
 * tests/fuzz/make_tokenizer_seeds.py) and the broken files of tests/bad-tokenizer.
 * Checks: a refusal is one line naming the file; an accepted tokenizer has BOS/EOS ids inside its vocabulary
 * and encodes to ids inside it, BOS first when asked for. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[300], path[320], *stress;
    static size_t stress_len;
    ewq_err err;
    if (!dir[0]) {
        fuzz_folder(dir, sizeof dir, "tokenizer");
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        if (ewq_read_file("tests/tokenizer_stress.txt", 1 << 20, &stress, &stress_len, &err)) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
            exit(1);
        }
    }
    fuzz_write(dir, "tokenizer.json", data, size);
    ewq_tokenizer t;
    if (ewq_tokenizer_load(&t, path, &err) != 0) {
        fuzz_check_error(&err, path);
        return 0;
    }
    FUZZ_REQUIRE(t.n_vocab > 0 && t.bos_id >= -1 && t.bos_id < t.n_vocab && t.eos_id >= -1 && t.eos_id < t.n_vocab);
    int *ids;
    size_t n = ewq_encode(&t, stress, stress_len, 1, &ids);
    FUZZ_REQUIRE(n <= 4 * stress_len + 2);
    if (t.add_bos && t.bos_id >= 0) FUZZ_REQUIRE(n > 0 && ids[0] == t.bos_id);
    for (size_t i = 0; i < n; i++) {
        FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < t.n_vocab);
        size_t len;
        FUZZ_REQUIRE(ewq_decode(&t, i ? ids[i - 1] : -1, ids[i], &len) != NULL);
    }
    free(ids);
    ewq_tokenizer_free(&t);
    return 0;
}
