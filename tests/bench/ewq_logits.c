/* tests/bench/ewq_logits.c — ewq's own logits for a list of token ids, which `ewq` itself never prints;
 * tests/bench/ct_proof.py compiles it (with ewq.c, -DEWQ_NO_MAIN) to compare other engines' logits with.
 * Developer tool, not CI:
 *     ewq_logits MODEL (--plan FILE | --uniform raw|int8|int4) GROUP IDS_FILE OUT
 * packs MODEL as the plan or tier says (embedding and lm_head as the plan, raw with --uniform), runs the
 * CPU backend on the ids in one prefill from position 0, and writes n * vocab float32 logits to OUT. */
#include "ewq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const ewq_err *e) {
    fprintf(stderr, "ewq_logits: %s\n", e->msg);
    return 1;
}

int main(int argc, char **argv) {
    ewq_tier tier = EWQ_RAW;
    if (argc != 7 || (strcmp(argv[2], "--plan") && (strcmp(argv[2], "--uniform") || ewq_tier_parse(argv[3], &tier)))) {
        fprintf(stderr, "usage: ewq_logits MODEL (--plan FILE | --uniform raw|int8|int4) GROUP IDS_FILE OUT\n");
        return 2;
    }
    ewq_err err;
    ewq_model m;
    ewq_assignment a;
    ewq_packed p;
    ewq_backend b;
    int *ids;
    long n;
    if (ewq_model_open(&m, argv[1], &err)) return fail(&err);
    if (!strcmp(argv[2], "--plan")) {
        if (ewq_plan_load(argv[3], &m, &a, &err)) return fail(&err);
    } else {
        ewq_assignment_uniform(&a, m.cfg.n_layers, tier, EWQ_RAW, EWQ_RAW);
    }
    if (ewq_pack(&p, &m, &a, atoi(argv[4]), 0, &err) || ewq_read_tokens(argv[5], m.cfg.vocab, &ids, &n, &err) ||
        ewq_cpu_init(&b, &p, (int)n, &err))
        return fail(&err);
    float *logits = malloc(sizeof(float) * (size_t)n * (size_t)m.cfg.vocab);
    if (!logits || b.forward(&b, ids, (int)n, 0, logits, 1, &err)) return logits ? fail(&err) : 1;
    FILE *f = fopen(argv[6], "wb");
    if (!f || fwrite(logits, sizeof(float) * (size_t)m.cfg.vocab, (size_t)n, f) != (size_t)n || fclose(f)) {
        perror(argv[6]);
        return 1;
    }
    free(logits);
    free(ids);
    b.free(&b);
    ewq_packed_free(&p);
    ewq_assignment_free(&a);
    ewq_model_close(&m);
    return 0;
}
