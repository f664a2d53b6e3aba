#!/usr/bin/env python3
"""Perplexity of a GGUF model computed by llama.cpp, with llama-perplexity's protocol, for comparison
with `ewq ppl` on the same text (developer tool, run by hand; needs llama-cpp-python):

    python3 tests/bench/ppl_llamacpp.py ../shared/assets/stories260K/stories260K.gguf \
        ../shared/assets/text/tinystories_validation_100.txt --ctx 256

The protocol is the one of llama.cpp's tools/perplexity: tokenize the whole file once with the model's
own tokenizer (BOS first); cut it into n / ctx chunks of ctx ids, the remainder dropped; put BOS at the
start of every chunk; run each chunk from an empty cache and score positions ctx/2 .. ctx-2 predicting
the next id; PPL = exp(mean NLL), with the standard error llama.cpp prints. llama-cpp-python exposes
llama.cpp's tokenizer and logits, not the llama-perplexity binary, so the loop is written here, and the
script also reports how llama.cpp's token ids compare with the ids `ewq tokenize` gives (--ewq-ids).
"""
import argparse
import math
import sys

import numpy as np
from llama_cpp import Llama


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("text")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ewq-ids", help="a file of whitespace-separated ids from `ewq tokenize --ids`")
    args = ap.parse_args()

    llm = Llama(model_path=args.gguf, n_ctx=args.ctx, n_batch=args.ctx, logits_all=True,
                n_threads=args.threads, verbose=False)
    data = open(args.text, "rb").read()
    tokens = llm.tokenize(data, add_bos=True, special=False)
    bos = llm.token_bos()
    if args.ewq_ids:
        ours = [int(t) for t in open(args.ewq_ids).read().split()]
        same = sum(1 for a, b in zip(tokens, ours) if a == b)
        first_diff = next((i for i, (a, b) in enumerate(zip(tokens, ours)) if a != b), None)
        print(f"ids: llama.cpp {len(tokens)}, ewq {len(ours)}, equal at {same} positions, "
              f"first difference at {first_diff}")

    n_chunks = len(tokens) // args.ctx
    first = args.ctx // 2
    nll = []
    for c in range(n_chunks):
        chunk = list(tokens[c * args.ctx:(c + 1) * args.ctx])
        chunk[0] = bos
        llm.reset()
        llm.eval(chunk)
        logits = np.asarray(llm.scores[:args.ctx], dtype=np.float64)
        for p in range(first, args.ctx - 1):
            row = logits[p]
            m = row.max()
            nll.append(m + math.log(np.exp(row - m).sum()) - row[chunk[p + 1]])
        print(f"chunk {c + 1}/{n_chunks}: running ppl {math.exp(np.mean(nll)):.4f}", file=sys.stderr)
    nll = np.array(nll)
    ppl = math.exp(nll.mean())
    # llama.cpp's error estimate: the standard error of the mean NLL, carried through exp
    stderr = ppl * nll.std() / math.sqrt(len(nll) - 1)
    print(f"llama.cpp: {len(tokens)} tokens, ctx {args.ctx}: {n_chunks} chunks, {len(nll)} scored, "
          f"PPL {ppl:.4f} +/- {stderr:.4f}")


if __name__ == "__main__":
    main()
