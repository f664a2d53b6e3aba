#!/usr/bin/env python3
"""Is the compressed-tensors folder that `ewq export --compressed-tensors` writes the model ewq measured?
Developer tool, run by hand (not CI):

    python3 tests/bench/ct_proof.py MODEL --text FILE [--tokens 128] [--ctx 512] [--chunks 2]
        [--variants int8,plan] [--threads 2]

For each variant (every block linear int8, or an EWQ plan that `ewq plan` makes here) it runs `ewq export
--compressed-tensors` and then, printing one block of lines per variant:
  1. loads the folder with transformers (float32, CPU), which reads its quantization_config through the
     compressed-tensors package and decompresses the pack-quantized weights; checks that every int8
     linear was loaded as a quantized module and that every block linear's decompressed values equal, bit
     for bit, those tests/gen/pack_reference.py (an independent numpy implementation of ewq's packed
     formats) computes from the checkpoint (int8), or the checkpoint's own (the weights written raw);
  2. compares transformers' logits for the first --tokens ids of the text with ewq's own logits for the
     same ids (tests/bench/ewq_logits.c, compiled here with ewq.c) at the tiers the folder holds: the
     largest |difference| over the largest |ewq logit|, over all positions and the whole vocabulary;
  3. perplexity by llama-perplexity's protocol on the first --chunks chunks of --ctx: `ewq ppl --tokens`
     at those tiers against transformers on the folder.
Tiers the folder holds: those asked, except int4 (which compressed-tensors cannot hold exactly: ewq writes
those weights raw, with a note) and int8 weights whose width is not a multiple of the group.
Needs numpy, torch, transformers, compressed-tensors and gguf (tests/requirements-dev.txt) and a C compiler.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "bench"))
import gguf_proof  # noqa: E402  (the readers, chunks and perplexity of tests/bench/gguf_proof.py)
from gguf_proof import (LINEAR, as_written, chunks_of, ewq, log, log_header, log_softmax,  # noqa: E402
                        pack_reference, ppl_of)


def ewq_logits_tool(work):
    """tests/bench/ewq_logits.c linked with ewq.c (without its main), built into work."""
    exe = work / "ewq_logits"
    subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-O2", "-I", str(ROOT), "-DEWQ_NO_MAIN",
                    str(ROOT / "ewq.c"), str(ROOT / "tests" / "bench" / "ewq_logits.c"), "-lm", "-lpthread",
                    "-o", str(exe)], check=True)
    return exe


def written_tiers(tiers, weights, group):
    """The tiers the folder holds, per block and linear."""
    def held(name, tier):
        if tier == "int4" or (tier == "int8" and weights[name].shape[1] % group):
            return "raw"
        return tier
    return [[held(f"model.layers.{b}.{LINEAR[k]}.weight", t) for k, t in enumerate(row)]
            for b, row in enumerate(tiers)]


def run_variant(name, opts, args, folder, cfg, weights, text_ids, work, tool, log):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    group = 64
    out = work / name
    notes, tiers = gguf_proof.export(name, opts, folder, cfg, "--compressed-tensors", out)
    held = written_tiers(tiers, weights, group)
    asked = {t: sum(row.count(t) for row in tiers) for t in ("raw", "int8", "int4")}
    counts = {t: sum(row.count(t) for row in held) for t in ("raw", "int8")}
    size = sum(f.stat().st_size for f in out.iterdir())
    how = "--plan PLAN (ewq plan MODEL)" if name == "plan" else " ".join(opts)
    log(f"## {name}: ewq export {how}  (block linears asked: {asked['raw']} raw / {asked['int8']} int8 / "
        f"{asked['int4']} int4; held: {counts['raw']} raw / {counts['int8']} int8; {len(notes)} notes; folder "
        f"{size} bytes)")

    # the tiers as written, for ewq: a tensor-granularity plan
    written = work / f"{name}.written.json"
    written.write_text(json.dumps(as_written(json.loads(Path(args.plan).read_text()), held, weights)))

    model = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    quantized = sum(getattr(model.get_submodule(f"model.layers.{b}.{LINEAR[k]}"), "quantization_scheme", None)
                    is not None for b in range(len(held)) for k in range(len(LINEAR)))

    ids = text_ids[:args.tokens]
    ids_file = work / "short.txt"
    ids_file.write_text(" ".join(map(str, ids)) + "\n")
    logits_file = work / f"{name}.f32"
    subprocess.run([str(tool), str(folder), "--plan", str(written), str(group), str(ids_file), str(logits_file)],
                   check=True)
    mine = np.fromfile(logits_file, dtype=np.float32).reshape(len(ids), -1)
    with torch.no_grad():   # the first forward decompresses the packed weights
        theirs = model(torch.tensor([ids])).logits[0].numpy()

    problems = []
    for b, row in enumerate(held):
        for k, tier in enumerate(row):
            hf = f"model.layers.{b}.{LINEAR[k]}"
            w = weights[hf + ".weight"]
            want = pack_reference.pack(w, "int8", group=group, shrink=True)[1] if tier == "int8" else w
            got = model.get_submodule(hf).weight.detach().numpy()
            if not np.array_equal(got.view(np.uint32), want.astype(np.float32).view(np.uint32)):
                problems.append(f"{hf}: {int(np.sum(got != want))} values differ from ewq's")
    log(f"transformers {version('transformers')} + compressed-tensors {version('compressed-tensors')}: "
        f"{quantized} linears loaded as quantized modules (expected {counts['int8']}); decompressed values: "
        + ("equal ewq's for every block linear" if not problems else "; ".join(problems[:5])))
    rel = float(np.abs(theirs - mine).max() / np.abs(mine).max())
    log(f"logits ({len(ids)} positions x {mine.shape[1]}): max |transformers - ewq| / max |ewq| = {rel:.2e} "
        f"({'within' if rel <= 1e-4 else 'NOT within'} 1e-4); top-1 tokens equal at "
        f"{int(np.sum(theirs.argmax(1) == mine.argmax(1)))} of {len(ids)} positions")

    chunks = chunks_of(text_ids, args.ctx, args.chunks, cfg.get("bos_token_id"))
    tokens_file = work / "chunks.txt"
    tokens_file.write_text(" ".join(str(t) for c in chunks for t in c) + "\n")
    mine_ppl = json.loads(ewq("ppl", folder, "--plan", written, "--tokens", tokens_file, "--ctx", args.ctx,
                              "--threads", args.threads, "--json").stdout)
    nll = []
    for chunk in chunks:
        with torch.no_grad():
            lp = log_softmax(model(torch.tensor([chunk])).logits[0].numpy())
        nll += [-lp[p, chunk[p + 1]] for p in range(args.ctx // 2, args.ctx - 1)]
    theirs_ppl, se = ppl_of(nll)
    log(f"perplexity ({len(chunks)} chunks of {args.ctx}, {len(nll)} positions): ewq {mine_ppl['ppl']:.4f} ± "
        f"{mine_ppl['ppl_stderr']:.4f}, transformers on the folder {theirs_ppl:.4f} ± {se:.4f} "
        f"({100 * (theirs_ppl / mine_ppl['ppl'] - 1):+.4f}%); load average {os.getloadavg()[0]:.1f}")
    log("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--text", type=Path, required=True)
    ap.add_argument("--tokens", type=int, default=128, help="ids compared logit by logit")
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=2)
    ap.add_argument("--variants", default="int8,plan")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    folder = args.model.resolve()
    cfg = json.loads((folder / "config.json").read_text())
    weights, _ = gguf_proof.read_safetensors(folder)

    log_header("compressed-tensors export proof", folder, ["transformers", "compressed-tensors", "torch"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tool = ewq_logits_tool(work)
        text_ids = [int(x) for x in ewq("tokenize", folder, args.text, "--ids").stdout.split()]
        args.plan = work / "plan.json"
        ewq("plan", folder, "-o", args.plan)
        options = {"int8": ["--uniform", "int8"], "plan": ["--plan", str(args.plan)]}
        for name in args.variants.split(","):
            run_variant(name, options[name], args, folder, cfg, weights, text_ids, work, tool, log)


if __name__ == "__main__":
    main()
