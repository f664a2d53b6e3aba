/* fuzz_index: arbitrary bytes as the model.safetensors.index.json of a sharded model folder that holds the
 * three shards and config.json of data/fixtures/llama2-sharded (plus a model.safetensors, the tiny base
 * model of tests/bad, so an index can name a shard of the wrong model), opened with ewq_model_open.
 * Checks: a refusal is one line naming a file of the folder; an accepted model has every tensor inside its
 * shard and every block tensor bound. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[300];
    if (!dir[0]) {
        fuzz_folder(dir, sizeof dir, "index");
        static const char *const files[] = {"config.json", "model-00001-of-00003.safetensors",
                                            "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"};
        char src[256];
        for (int i = 0; i < 4; i++) {
            snprintf(src, sizeof src, "data/fixtures/llama2-sharded/%s", files[i]);
            fuzz_link(dir, files[i], src);
        }
        fuzz_link(dir, "model.safetensors", "tests/bad/no-config/model.safetensors");
    }
    fuzz_write(dir, "model.safetensors.index.json", data, size);
    ewq_model m;
    ewq_err err;
    if (ewq_model_open(&m, dir, &err) != 0) {
        fuzz_check_error(&err, dir);
        return 0;
    }
    for (int i = 0; i < m.ck.n_tensors; i++) {
        const ewq_tensor *t = &m.ck.tensors[i];
        const ewq_mapped_file *f = &m.ck.files[t->file];
        const uint8_t *p = t->data;
        FUZZ_REQUIRE(p >= f->map + 8 && t->nbytes <= (size_t)(f->map + f->size - p));
    }
    for (int l = 0; l < m.cfg.n_layers; l++)
        for (int k = 0; k < EWQ_N_LINEAR; k++) FUZZ_REQUIRE(m.blocks[l].linear[k] != NULL);
    ewq_model_close(&m);
    return 0;
}
