#!/usr/bin/env python3
"""The same checkpoint through PyTorch + transformers, measured as `ewq bench` and `ewq ppl` measure
(developer tool; tests/cuda/gpu_window.sh --peer runs it beside ewq on a GPU lease):

    python3 tests/bench/torch_peer.py MODEL --ids ids.txt               (CUDA, bfloat16)
    python3 tests/bench/torch_peer.py data/fixtures/llama3-f32 --ids ids.txt --device cpu --dtype float32

- pp: a prompt of -p ids (the LCG ids `ewq bench` uses) in one forward pass from an empty cache, tokens/s;
- tg: -n ids from an empty context, one forward pass of one id at a time with transformers' KV cache
  (model.generate, greedy, min_new_tokens so that no end-of-text stops it early), tokens/s;
  each after one warm-up, then -r repetitions: median and min..max, the device synchronized before a clock
  is read;
- ppl (with --ids, a file of whitespace-separated ids such as `ewq tokenize --ids` writes): llama.cpp's
  llama-perplexity protocol as `ewq ppl --tokens` runs it: chunks of --ctx ids, the remainder dropped, the
  model's BOS at the start of each, one forward pass per chunk, positions ctx/2 .. ctx-2 scored (log-softmax
  of float32 logits, sums in double); PPL = exp(mean NLL) with llama.cpp's standard error, and the seconds
  the whole took (every chunk's pass and score, the ids already in memory).
Prints one line per measure, or with --json one object.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM


def lcg_ids(n, vocab):
    """The prompt `ewq bench` runs (ewq.c, ewq_bench): seed 2024, s = s * 1664525 + 1013904223 mod 2^32."""
    s, ids = 2024, []
    for _ in range(n):
        s = (s * 1664525 + 1013904223) & 0xFFFFFFFF
        ids.append((s >> 8) % vocab)
    return ids


def timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def spread(tokens, seconds):
    rates = sorted(tokens / s for s in seconds)
    return {"tok_s": statistics.median(rates), "min": rates[0], "max": rates[-1]}


def throughput(model, device, vocab, bos, p, n, reps):
    out = {}
    with torch.inference_mode():
        if p:
            prompt = torch.tensor([lcg_ids(p, vocab)], device=device)
            run = lambda: model(input_ids=prompt, use_cache=True)
            run()
            out["pp"] = dict(spread(p, [timed(run, device) for _ in range(reps)]), tokens=p)
        if n:
            start = torch.tensor([[bos]], device=device)
            # generate's first pass reads the one-id start; the n ids after it are what tg counts
            run = lambda: model.generate(start, attention_mask=torch.ones_like(start), max_new_tokens=n,
                                         min_new_tokens=n, do_sample=False, pad_token_id=bos)
            run()
            out["tg"] = dict(spread(n, [timed(run, device) for _ in range(reps)]), tokens=n)
    return out


def perplexity(model, device, ids, ctx, bos):
    first, chunks, nll = ctx // 2, len(ids) // ctx, []
    def run():
        with torch.inference_mode():
            for c in range(chunks):
                chunk = list(ids[c * ctx:(c + 1) * ctx])
                if bos is not None:
                    chunk[0] = bos
                x = torch.tensor([chunk], device=device)
                logits = model(input_ids=x, use_cache=False).logits[0, first:ctx - 1].float()
                lp = torch.log_softmax(logits, dim=-1)
                nll.append(-lp.gather(1, x[0, first + 1:ctx, None]).double()[:, 0])
            torch.cat(nll).cpu()
    seconds = timed(run, device)
    v = torch.cat(nll).cpu()
    mean = v.mean().item()
    ppl = math.exp(mean)
    stderr = ppl * math.sqrt(max((v * v).mean().item() - mean * mean, 0) / (len(v) - 1)) if len(v) > 1 else 0
    return {"ppl": ppl, "stderr": stderr, "ctx": ctx, "chunks": chunks, "scored": len(v), "seconds": seconds}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="a Hugging Face model folder (config.json and safetensors)")
    ap.add_argument("--ids", help="perplexity on these ids (whitespace-separated)")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("-p", type=int, default=512, help="prompt ids for pp, 0 skips it")
    ap.add_argument("-n", type=int, default=128, help="generated ids for tg, 0 skips it")
    ap.add_argument("-r", type=int, default=3, help="repetitions after one warm-up")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_peer: torch sees no CUDA device")
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=getattr(torch, a.dtype)).to(device).eval()
    load = time.perf_counter() - t0
    cfg = model.config
    bos = cfg.bos_token_id
    result = {
        "peer": f"transformers {transformers.__version__}, torch {torch.__version__}",
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": a.dtype, "attention": cfg._attn_implementation, "model": a.model, "load_seconds": load,
    }
    result.update(throughput(model, device, cfg.vocab_size, bos if bos is not None else 0, a.p, a.n, a.r))
    if a.ids:
        ids = [int(t) for t in open(a.ids).read().split()]
        result["ppl"] = perplexity(model, device, ids, a.ctx, bos)
    if device.type == "cuda":
        result["peak_device_mib"] = torch.cuda.max_memory_allocated(device) / 2**20

    if a.json:
        print(json.dumps(result, indent=1))
        return
    print(f"peer: {result['peer']}; {result['device']}, {a.dtype}, attention {result['attention']}")
    print(f"load: {load:.2f} s")
    for k in ("pp", "tg"):
        if k in result:
            r = result[k]
            print(f"{k}{r['tokens']}: {r['tok_s']:.2f} tok/s (median of {a.r}; {r['min']:.2f}..{r['max']:.2f})")
    if "ppl" in result:
        r = result["ppl"]
        print(f"ppl: {r['ppl']:.4f} +/- {r['stderr']:.4f}, {r['chunks']} chunks of {r['ctx']}, {r['scored']} "
              f"scored, {r['seconds']:.2f} s")
    if "peak_device_mib" in result:
        print(f"peak device memory: {result['peak_device_mib']:.0f} MiB (torch's allocator)")


if __name__ == "__main__":
    main()
