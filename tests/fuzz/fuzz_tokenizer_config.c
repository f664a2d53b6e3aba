/* fuzz_tokenizer_config: arbitrary bytes as the tokenizer_config.json next to a valid tokenizer.json (the
 * synthetic SentencePiece seed, with <unk>, <s> and </s>), loaded with ewq_tokenizer_load; an accepted
 * pair encodes a short text. Checks: a refusal is one line naming a file of the folder; BOS and EOS ids
 * are inside the vocabulary, and BOS comes first when the files ask for it. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[300];
    if (!dir[0]) {
        fuzz_folder(dir, sizeof dir, "tokenizer_config");
        fuzz_link(dir, "tokenizer.json", "tests/fuzz/corpus/tokenizer/sentencepiece.json");
    }
    fuzz_write(dir, "tokenizer_config.json", data, size);
    ewq_tokenizer t;
    ewq_err err;
    if (ewq_tokenizer_load(&t, dir, &err) != 0) {
        fuzz_check_error(&err, dir);
        return 0;
    }
    FUZZ_REQUIRE(t.bos_id >= -1 && t.bos_id < t.n_vocab && t.eos_id >= -1 && t.eos_id < t.n_vocab);
    static const char text[] = "Once upon a time <s> there was </s> a cat";
    int *ids;
    size_t n = ewq_encode(&t, text, sizeof text - 1, 1, &ids);
    if (t.add_bos && t.bos_id >= 0) FUZZ_REQUIRE(n > 0 && ids[0] == t.bos_id);
    for (size_t i = 0; i < n; i++) FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < t.n_vocab);
    free(ids);
    ewq_tokenizer_free(&t);
    return 0;
}
