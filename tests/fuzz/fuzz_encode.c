/* fuzz_encode: arbitrary bytes encoded by real tokenizers: the four of ../shared/assets (Llama-3, Qwen3,
 * Llama-2 SentencePiece, stories260K) when that folder is there, else the synthetic seeds of
 * tests/fuzz/corpus/tokenizer. Byte 0 picks the tokenizer, byte 1 whether to add BOS; the rest is the text.
 * Checks: every id is inside the vocabulary, BOS first when asked for, at most 4 ids per byte (ill-formed
 * UTF-8 becomes U+FFFD, 3 bytes; NFC grows a text at most 3 times); and decoding gives the text back
 * exactly, for byte-level tokenizers without a normalizer on well-formed UTF-8, and with NFC on ASCII; and
 * the decoded text encodes to the same ids. */
#include "fuzz.h"

#define ENCODE_MAX_TOK 4

/* Well-formed UTF-8 (Unicode §3.9, table 3-7): no overlongs, surrogates or code points past U+10FFFF. */
static int encode_utf8_ok(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!k || n - i < k) return 0;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
        for (size_t j = 1; j < k; j++) {
            if (s[i + j] < (j == 1 ? lo : 0x80) || s[i + j] > (j == 1 ? hi : 0xbf)) return 0;
        }
        i += k;
    }
    return 1;
}

static int encode_ascii(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0x80) return 0;
    return 1;
}

static ewq_tokenizer encode_toks[ENCODE_MAX_TOK];
static int encode_n_toks;

/* Loads the tokenizers once (seconds under ASan, for the 9 MB Llama-3 file). */
static void encode_load(void) {
    static const char *const real[] = {"../shared/assets/tokenizers/llama3", "../shared/assets/tokenizers/qwen3",
                                       "../shared/assets/tokenizers/llama2-spm", "../shared/assets/stories260K"};
    static const char *const seeds[] = {"tests/fuzz/corpus/tokenizer/byte-level-llama3.json",
                                        "tests/fuzz/corpus/tokenizer/byte-level-qwen.json",
                                        "tests/fuzz/corpus/tokenizer/sentencepiece.json"};
    int have_real = access(real[0], R_OK) == 0;
    const char *const *list = have_real ? real : seeds;
    int count = have_real ? 4 : 3;
    for (int i = 0; i < count; i++) {
        ewq_err err;
        if (ewq_tokenizer_load(&encode_toks[i], list[i], &err)) {
            fprintf(stderr, "fuzz_encode: %s\n", err.msg);
            exit(1);
        }
    }
    encode_n_toks = count;
}

/* libFuzzer calls this before its per-input timeout starts; the corpus replay loads on first use. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    encode_load();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!encode_n_toks) encode_load();
    if (size < 2) return 0;
    const ewq_tokenizer *t = &encode_toks[data[0] % encode_n_toks];
    int add_bos = data[1] & 1;
    const uint8_t *text = data + 2;
    size_t len = size - 2;
    int *ids;
    size_t n = ewq_encode(t, (const char *)text, len, add_bos, &ids);
    FUZZ_REQUIRE(n <= 4 * len + 1);
    size_t first = add_bos && t->bos_id >= 0;
    if (first) FUZZ_REQUIRE(n > 0 && ids[0] == t->bos_id);
    char *back = malloc(4 * len + 16 * n + 1);
    size_t back_len = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_REQUIRE(ids[i] >= 0 && ids[i] < t->n_vocab);
        size_t k;
        const char *s = ewq_decode(t, i > first ? ids[i - 1] : -1, ids[i], &k);
        if (i >= first) {
            FUZZ_REQUIRE(back_len + k <= 4 * len + 16 * n);
            memcpy(back + back_len, s, k);
            back_len += k;
        }
    }
    if (t->kind == EWQ_TOK_BYTE_LEVEL && (t->nfc ? encode_ascii(text, len) : encode_utf8_ok(text, len)))
        FUZZ_REQUIRE(back_len == len && memcmp(back, text, len) == 0);
    /* the decoded text is the text as the encoder saw it (U+FFFD for ill-formed UTF-8, NFC, spaces for
     * "▁"), so it encodes to the same ids: replacement, NFC and the pre-tokenizer are idempotent. (This
     * assumes no added token contains a character that NFC makes out of another one, e.g. K from U+212A,
     * which holds for every tokenizer used here.) */
    int *again;
    size_t m = ewq_encode(t, back, back_len, 0, &again);
    FUZZ_REQUIRE(m == n - first && memcmp(again, ids + first, m * sizeof *ids) == 0);
    free(again);
    free(back);
    free(ids);
    return 0;
}
