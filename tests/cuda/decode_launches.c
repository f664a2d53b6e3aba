/* tests/cuda/decode_launches.c MODEL_DIR LAYERS — the kernel launches of one decode step of the CUDA
 * backend, as the emulation logs them (EMU_LAUNCH_LOG=1: one "emu-launch KERNEL" line on stderr per
 * launch): the model cut to its first LAYERS layers, every weight int4, a prefill of 8 positions, then
 * "decode-begin", one decode step as greedy decoding and `ewq bench` run it (next_token: the id chosen on
 * the device), "decode-end" on stderr. Built against the emulated backend by
 * `make cuda-report`, which counts the lines between the markers at two layer counts: the difference is
 * what each layer costs, the rest what each token costs once. */
#include "ewq.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    ewq_model m;
    ewq_assignment a;
    ewq_packed p;
    ewq_backend b;
    ewq_err err;
    if (argc != 3) {
        fprintf(stderr, "usage: decode_launches MODEL_DIR LAYERS\n");
        return 2;
    }
    ewq_threads_init(1);
    if (ewq_model_open(&m, argv[1], &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    int layers = atoi(argv[2]);
    if (layers < 1 || layers > m.cfg.n_layers) return fprintf(stderr, "LAYERS must be 1 to %d\n", m.cfg.n_layers), 2;
    m.cfg.n_layers = layers;
    ewq_assignment_uniform(&a, m.cfg.n_layers, EWQ_INT4, EWQ_INT4, EWQ_INT4);
    if (ewq_pack(&p, &m, &a, EWQ_GROUP, 0, &err) || ewq_cuda_init(&b, &p, 16, &err))
        return fprintf(stderr, "%s\n", err.msg), 1;
    int tokens[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, id;
    int rc = b.next_token(&b, tokens, 8, 0, &id, &err);
    fprintf(stderr, "decode-begin\n");
    rc = rc || b.next_token(&b, tokens + 8, 1, 8, &id, &err);
    fprintf(stderr, "decode-end\n");
    if (rc) fprintf(stderr, "%s\n", err.msg);
    b.free(&b), ewq_packed_free(&p), ewq_assignment_free(&a), ewq_model_close(&m);
    return rc;
}
