/* fuzz_config: arbitrary bytes as config.json, interpreted by ewq_config_parse.
 * Checks: a refusal is one line naming the file; an accepted config satisfies everything the rest of ewq
 * relies on (positive dimensions within bounds, heads divisible by KV heads, an even head_dim, token ids
 * inside the vocabulary, finite positive norm epsilon and RoPE base). */
#include "fuzz.h"
#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char path[] = "model/config.json";
    ewq_config c;
    ewq_err err;
    if (ewq_config_parse(&c, path, (const char *)data, size, &err) != 0) {
        fuzz_check_error(&err, path);
        return 0;
    }
    FUZZ_REQUIRE(c.arch_name != NULL);
    int dims[] = {c.hidden, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.intermediate, c.vocab};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) FUZZ_REQUIRE(dims[i] > 0 && dims[i] <= 1 << 24);
    FUZZ_REQUIRE(c.n_heads % c.n_kv_heads == 0 && c.head_dim % 2 == 0);
    FUZZ_REQUIRE(c.max_pos >= 0 && c.sliding_window >= 0);
    FUZZ_REQUIRE(c.rms_eps > 0 && isfinite(c.rms_eps) && c.rope_theta > 0 && isfinite(c.rope_theta));
    if (c.rope_llama3)
        FUZZ_REQUIRE(c.rope_factor > 0 && c.rope_high_freq_factor > c.rope_low_freq_factor &&
                     c.rope_orig_max_pos > 0);
    FUZZ_REQUIRE(c.bos_id >= -1 && c.bos_id < c.vocab && c.n_eos >= 0 && c.n_eos <= 8);
    for (int i = 0; i < c.n_eos; i++) FUZZ_REQUIRE(c.eos_ids[i] >= 0 && c.eos_ids[i] < c.vocab);
    return 0;
}
