#!/usr/bin/env python3
"""llama.cpp side by side with `ewq bench`: the same llama-bench protocol through llama-cpp-python.

Developer tool (make bench), never part of the tests. Loads a GGUF model and measures, after one
warm-up, `reps` times: pp = a prompt of P tokens evaluated in one batch from an empty cache
(tokens/s), then tg = N tokens evaluated one at a time (tokens/s); prints one JSON line with the
median, min and max of each, as `ewq bench --json` does.

    python3 tests/bench/bench_llamacpp.py MODEL.gguf [-p 512] [-n 128] [-r 5] [-t THREADS] [--no-extra-bufts]

--no-extra-bufts loads the weights without llama.cpp's extra buffer types (AMX, repacked layouts): on
CPUs with AMX, llama-cpp-python 0.3.36 crashes in its first decode with them.
"""

import argparse
import json
import os
import statistics
import time

import llama_cpp
from llama_cpp import Llama


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=5)
    ap.add_argument("-t", type=int, default=os.cpu_count())
    ap.add_argument("--no-extra-bufts", action="store_true")
    a = ap.parse_args()
    if a.no_extra_bufts:
        defaults = llama_cpp.llama_cpp.llama_model_default_params

        def without_extra_bufts():
            p = defaults()
            p.use_extra_bufts = False
            return p
        llama_cpp.llama.llama_cpp.llama_model_default_params = without_extra_bufts
    llm = Llama(model_path=a.gguf, n_ctx=max(a.p, a.n) + 8, n_batch=max(a.p, 1), n_ubatch=max(a.p, 1),
                n_threads=a.t, n_threads_batch=a.t, logits_all=False,
                verbose=True)   # verbose=False crashed llama-cpp-python 0.3.36 here in a decode; the log goes to stderr
    vocab = llm.n_vocab()
    seed = 12345
    ids = []
    for _ in range(max(a.p, a.n)):   # the same id sequence ewq bench uses
        seed = (seed * 1664525 + 1013904223) & 0xFFFFFFFF
        ids.append((seed >> 8) % vocab)
    pp, tg = [], []
    for rep in range(-1, a.r):
        llm.reset()
        llm._ctx.kv_cache_clear()
        t0 = time.perf_counter()
        llm.eval(ids[:a.p])
        t1 = time.perf_counter()
        llm.reset()
        llm._ctx.kv_cache_clear()
        t2 = time.perf_counter()
        for i in range(a.n):
            llm.eval([ids[i]])
        t3 = time.perf_counter()
        if rep >= 0:
            pp.append(a.p / (t1 - t0))
            tg.append(a.n / (t3 - t2))

    def stats(v):
        return {"tok_s": statistics.median(v), "min": min(v), "max": max(v)}
    backend = f"llama.cpp via llama-cpp-python {llama_cpp.__version__}" + (", no extra buffer types" if a.no_extra_bufts else "")
    print(json.dumps({"model": a.gguf, "backend": backend,
                      "threads": a.t, "reps": a.r, "pp": {"tokens": a.p, **stats(pp)},
                      "tg": {"tokens": a.n, **stats(tg)}}))


if __name__ == "__main__":
    main()
