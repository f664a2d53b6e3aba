/* fuzz_safetensors: arbitrary bytes as the model.safetensors of a model folder whose config.json is valid
 * (the tiny one-block Llama of tests/gen/make_bad_inputs.py, whose checkpoint is the main seed), opened with
 * ewq_checkpoint_open, then ewq_model_open exactly as `ewq inspect` opens it.
 * Checks: a refusal is one line naming a file of the folder; an accepted model has every tensor inside the
 * data buffer of its file, aligned to its element size, with nbytes = numel * element size, no two tensors
 * sharing a byte, names sorted and unique, and every block tensor bound. */
#include "fuzz.h"

static const char safetensors_config[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"intermediate_size\": 16,"
    " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"vocab_size\": 16,"
    " \"rms_norm_eps\": 1e-05, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true, \"bos_token_id\": 1,"
    " \"eos_token_id\": 2}";

static void check_checkpoint(const ewq_checkpoint *ck) {
    for (int i = 0; i < ck->n_tensors; i++) {
        const ewq_tensor *t = &ck->tensors[i];
        FUZZ_REQUIRE(t->file >= 0 && t->file < ck->n_files);
        const ewq_mapped_file *f = &ck->files[t->file];
        size_t esize = ewq_dtype_size(t->dtype);
        const uint8_t *p = t->data;
        uint64_t hlen = 0;
        for (int k = 0; k < 8; k++) hlen |= (uint64_t)f->map[k] << (8 * k);
        FUZZ_REQUIRE(p >= f->map + 8 + hlen && t->nbytes <= (size_t)(f->map + f->size - p));
        FUZZ_REQUIRE((size_t)(p - f->map) % esize == 0);
        FUZZ_REQUIRE(t->numel >= 0 && t->nbytes == (size_t)t->numel * esize);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        FUZZ_REQUIRE(numel == t->numel);
        if (i) FUZZ_REQUIRE(strcmp(ck->tensors[i - 1].name, t->name) < 0);
        for (int j = 0; j < i; j++) {   /* no shared bytes (the seeds hold a dozen tensors: quadratic is fine) */
            const ewq_tensor *u = &ck->tensors[j];
            const uint8_t *q = u->data;
            if (u->file == t->file && t->nbytes && u->nbytes) FUZZ_REQUIRE(p + t->nbytes <= q || q + u->nbytes <= p);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[300];
    if (!dir[0]) {
        fuzz_folder(dir, sizeof dir, "safetensors");
        fuzz_write(dir, "config.json", safetensors_config, sizeof safetensors_config - 1);
    }
    fuzz_write(dir, "model.safetensors", data, size);
    ewq_checkpoint ck;
    ewq_err err;
    if (ewq_checkpoint_open(&ck, dir, &err) != 0) {
        fuzz_check_error(&err, dir);
        return 0;
    }
    check_checkpoint(&ck);
    ewq_checkpoint_close(&ck);
    ewq_model m;
    if (ewq_model_open(&m, dir, &err) != 0) {
        fuzz_check_error(&err, dir);
        return 0;
    }
    for (int l = 0; l < m.cfg.n_layers; l++)
        for (int k = 0; k < EWQ_N_LINEAR; k++) FUZZ_REQUIRE(m.blocks[l].linear[k] != NULL);
    FUZZ_REQUIRE(m.embed && m.final_norm && m.lm_head == m.embed);
    ewq_model_close(&m);
    return 0;
}
