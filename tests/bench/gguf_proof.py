#!/usr/bin/env python3
"""Is the GGUF that `ewq export` writes the model ewq measured? Developer tool, run by hand (not CI):

    python3 tests/bench/gguf_proof.py ../shared/assets/stories260K \
        --text ../shared/assets/text/tinystories_validation_100.txt --ctx 256 [--chunks N] \
        [--variants raw,int8,int4,plan,llama-q8_0,llama-q4_1] [--threads 2]

For each variant (every block linear raw, int8 or int4, or an EWQ plan that `ewq plan` makes here) it runs
`ewq export` and then checks, printing one block of lines per variant:
  1. read back with the gguf package: every tensor's type is the one its tier asks for (Q8_0 for int8,
     Q4_1 for int4, the checkpoint's dtype for raw and for the weights ewq notes it kept raw), and its
     values, decoded by gguf-py's implementation of ggml's dequantization (Llama's q/k rows put back in
     Hugging Face order), equal bit for bit the values tests/gen/pack_reference.py (an independent numpy
     implementation of ewq's packed formats) computes from the checkpoint;
  2. llama.cpp (llama-cpp-python) loads the file; its token ids for the whole text equal `ewq tokenize`'s;
  3. perplexity by llama-perplexity's protocol on the same ids (the first --chunks chunks of --ctx): ewq
     (`ewq ppl --tokens`), llama.cpp on the GGUF, and transformers in float32 on the weights read back from
     the GGUF; and the mean KL divergence KL(transformers || llama.cpp) over the scored positions.
     transformers stands in for ewq's logits (ewq has no logits output); ewq's PPL equals its own to the
     printed digits, so the KLD is the gap between the exported file in llama.cpp and the model ewq ran.
     llama.cpp quantizes activations for Q8_0/Q4_1 (and to BF16 for BF16 weights) on the CPU, so its
     numbers are close, not equal.
The controls llama-q8_0 and llama-q4_1 do not test ewq's file: they quantize ewq's raw export with llama.cpp's
own llama_model_quantize (every block linear Q8_0 or Q4_1, the token embedding kept F16) and run step 3 on
that file, llama.cpp against transformers on the same weights; the gap they show is llama.cpp's arithmetic
alone, so an ewq variant's gap is an export error only where it is larger than its control's.
--no-repack runs llama.cpp without its repacked CPU weights (llama.cpp's --no-repack), which stories260K
needs here: see without_repacking().
Needs numpy, gguf, torch, transformers and llama-cpp-python (tests/requirements-dev.txt).
"""
import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "gen"))
import pack_reference  # noqa: E402  (tests/gen/pack_reference.py)

LINEAR = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
GGUF_LINEAR = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
Q = gguf.GGMLQuantizationType


def ewq(*args, **kw):
    return subprocess.run([str(ROOT / "ewq"), *map(str, args)], check=True, capture_output=True, text=True, **kw)


def read_safetensors(folder):
    """name -> float32 array, and name -> dtype string, for model.safetensors (single file)."""
    data = (folder / "model.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out, dtypes = {}, {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[8 + n + b:8 + n + end]
        if e["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, dtype={"F32": "<f4", "F16": "<f2"}[e["dtype"]]).astype(np.float32)
        out[name], dtypes[name] = a.reshape(e["shape"]), e["dtype"]
    return out, dtypes


def llama_rope_order(rows, heads):
    d = rows // heads
    return np.array([h * d + (k * d // 2) + j for h in range(heads) for j in range(d // 2) for k in range(2)])


def read_back(path, cfg):
    """HF name -> (GGML type, float32 values in Hugging Face's row order) for every block linear of a GGUF,
    decoded by gguf-py's implementation of ggml's dequantization (Llama's q/k rows put back)."""
    reader = gguf.GGUFReader(str(path))
    tensors = {t.name: t for t in reader.tensors}
    llama = cfg["architectures"][0] in ("LlamaForCausalLM", "MistralForCausalLM")
    heads = cfg["num_attention_heads"]
    kv_heads = cfg.get("num_key_value_heads", heads)
    out = {}
    for b in range(cfg["num_hidden_layers"]):
        for k in range(len(LINEAR)):
            t = tensors[f"blk.{b}.{GGUF_LINEAR[k]}.weight"]
            rows, cols = (int(n) for n in reversed(t.shape.tolist()))
            values = gguf.quants.dequantize(t.data, t.tensor_type).reshape(rows, cols)
            if llama and k < 2:
                hf_rows = np.empty_like(values)
                hf_rows[llama_rope_order(rows, heads if k == 0 else kv_heads)] = values
                values = hf_rows
            out[f"model.layers.{b}.{LINEAR[k]}.weight"] = (t.tensor_type, values)
    return out


def check_file(path, folder, cfg, tiers, weights, dtypes, group=64):
    """Types and values of every block linear against the tiers; returns (problems, what read_back gives)."""
    back = read_back(path, cfg)
    problems = []
    for b, block in enumerate(tiers):
        for k, tier in enumerate(block):
            hf = f"model.layers.{b}.{LINEAR[k]}.weight"
            name = f"blk.{b}.{GGUF_LINEAR[k]}.weight"
            tensor_type, values = back[hf]
            w = weights[hf]
            raw_type = {"F32": Q.F32, "F16": Q.F16, "BF16": Q.BF16}[dtypes[hf]]
            kept_raw = tier != "raw" and w.shape[1] % 32 != 0
            want_type = raw_type if tier == "raw" or kept_raw else {"int8": Q.Q8_0, "int4": Q.Q4_1}[tier]
            if tensor_type != want_type:
                problems.append(f"{name}: {tensor_type.name}, expected {want_type.name}")
                continue
            want = w if tier == "raw" or kept_raw else pack_reference.pack(w, tier, group=group, shrink=True)[1]
            if not np.array_equal(values.view(np.uint32), want.astype(np.float32).view(np.uint32)):
                bad = int(np.sum(values != want))
                problems.append(f"{name}: {bad} values differ from ewq's")
    return problems, back


def as_written(plan, tiers, weights):
    """A tensor-granularity plan with the tiers the file holds: the asked ones, except raw for the
    weights whose width has no Q8_0/Q4_1 form (what `ewq ppl` must run to be the exported model)."""
    plan["method"]["granularity"] = "tensor"
    for b, block in zip(plan["blocks"], tiers):
        b.pop("tier", None)
        for t, tier in zip(b["tensors"], block):
            t["tier"] = "raw" if weights[t["name"]].shape[1] % 32 else tier
    return plan


def log(line):
    print(line, flush=True)


def log_header(title, folder, packages):
    """The lines a proof's log starts with: what and when, the command, the machine and the versions."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    log(f"# {title}: {folder.name}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    log(f"command: python tests/bench/{Path(sys.argv[0]).name} {' '.join(sys.argv[1:])}")
    log(f"machine: {cpu}, {os.cpu_count()} cores (shared with other work); python {platform.python_version()}, "
        + ", ".join(f"{p.replace('_', '-')} {version(p)}" for p in packages)
        + f"; {ewq('--version').stdout.splitlines()[0]}")
    log("")


def chunks_of(ids, ctx, n_chunks, bos):
    out = []
    for c in range(min(len(ids) // ctx, n_chunks)):
        chunk = list(ids[c * ctx:(c + 1) * ctx])
        chunk[0] = bos
        out.append(chunk)
    return out


def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def ppl_of(nll):
    nll = np.array(nll)
    p = math.exp(nll.mean())
    return p, p * nll.std() / math.sqrt(len(nll) - 1)


def without_repacking():
    """llama.cpp's --no-repack: no extra CPU buffer types. In llama-cpp-python 0.3.36 on an AVX-512/AMX CPU,
    llama.cpp's repacked weights crash (SIGSEGV) on stories260K at Q8_0, its own llama_model_quantize output
    included; llama-cpp-python has no parameter for it, so its default model parameters are wrapped."""
    import llama_cpp.llama as llama_module
    default = llama_module.llama_cpp.llama_model_default_params

    def params():
        p = default()
        p.use_extra_bufts = False
        return p
    llama_module.llama_cpp.llama_model_default_params = params


def llama_cpp_quantized(source, out, ftype):
    """llama.cpp's own quantization (llama_model_quantize) of a raw GGUF: every block linear to ftype's type,
    the token embedding kept F16 as ewq keeps it raw."""
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.pure = True
    params.token_embedding_type = int(Q.F16)
    params.output_tensor_type = int(Q.F16)
    if llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params) != 0:
        raise SystemExit(f"gguf_proof: llama_model_quantize failed on {source}")


def output_type(path):
    """The GGML type of the output projection the file holds (the token embedding where tied)."""
    tensors = {t.name: t for t in gguf.GGUFReader(str(path)).tensors}
    return tensors.get("output.weight", tensors["token_embd.weight"]).tensor_type


def measure(path, back, args, folder, chunks, log, ewq_ppl=None):
    """Perplexity of llama.cpp on the file against transformers (float32) on the weights read back from it,
    and the mean KL divergence between the two."""
    from llama_cpp import Llama
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    llm = Llama(model_path=str(path), n_ctx=args.ctx, n_batch=args.ctx, logits_all=True, n_threads=args.threads,
                verbose=False)
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        for hf, (_, values) in back.items():
            model.get_parameter(hf).copy_(torch.from_numpy(values.copy()))
    nll_l, nll_t, kld = [], [], []
    for chunk in chunks:
        llm.reset()
        llm.eval(chunk)
        lp_l = log_softmax(np.asarray(llm.scores[:args.ctx]))
        with torch.no_grad():
            lp_t = log_softmax(model(torch.tensor([chunk])).logits[0].numpy())
        for p in range(args.ctx // 2, args.ctx - 1):
            nll_l.append(-lp_l[p, chunk[p + 1]])
            nll_t.append(-lp_t[p, chunk[p + 1]])
            kld.append(float(np.sum(np.exp(lp_t[p]) * (lp_t[p] - lp_l[p]))))
    pl, pl_se = ppl_of(nll_l)
    pt, _ = ppl_of(nll_t)
    # the gap's standard error, from the paired per-position differences (transformers' NLL stands in for
    # ewq's, which equals it to the printed digits)
    diff = np.array(nll_l) - np.array(nll_t)
    gap_se = 100 * diff.std() / np.sqrt(len(diff) - 1)
    log(f"perplexity ({len(chunks)} chunks of {args.ctx}, {len(nll_l)} positions): "
        + (f"ewq {ewq_ppl['ppl']:.4f} ± {ewq_ppl['ppl_stderr']:.4f}, " if ewq_ppl else "")
        + f"transformers on the file's weights {pt:.4f}, llama.cpp {pl:.4f} ± {pl_se:.4f} "
        + (f"({100 * (pl / ewq_ppl['ppl'] - 1):+.3f}% vs ewq" if ewq_ppl else f"({100 * (pl / pt - 1):+.3f}% vs transformers")
        + f", standard error of the gap {gap_se:.3f}%)")
    log(f"mean KL(transformers || llama.cpp) {np.mean(kld):.3g} nats (max {np.max(kld):.3g}); load average "
        f"{os.getloadavg()[0]:.1f}")
    log("")


def export(name, opts, folder, cfg, *target):
    """Runs `ewq export FOLDER OPTS TARGET...`; returns its notes and the tiers asked, per block and linear."""
    r = ewq("export", folder, *opts, *target)
    notes = [ln for ln in r.stderr.splitlines() if ln.startswith("ewq: note:")]
    if name == "plan":
        plan = json.loads(Path(opts[1]).read_text())
        tiers = [[t["tier"] for t in b["tensors"]] for b in plan["blocks"]]
    else:
        tiers = [[opts[1]] * 7 for _ in range(cfg["num_hidden_layers"])]
    return notes, tiers


def run_variant(name, opts, args, folder, cfg, weights, dtypes, text_ids, ids_file, work, log):
    from llama_cpp import Llama

    out = work / f"{name}.gguf"
    notes, tiers = export(name, opts, folder, cfg, "--gguf", out)
    problems, back = check_file(out, folder, cfg, tiers, weights, dtypes)
    counts = {t: sum(row.count(t) for row in tiers) for t in ("raw", "int8", "int4")}
    log(f"## {name}: ewq export {' '.join(map(str, opts))}  ({counts['raw']} raw / {counts['int8']} int8 / "
        f"{counts['int4']} int4 block linears; {len(notes)} kept raw for their width; {out.stat().st_size} bytes)")
    log(f"read back (gguf {version('gguf')}): " + ("types and values equal ewq's for every block linear"
                                                   if not problems else "; ".join(problems[:5])))

    llm = Llama(model_path=str(out), n_ctx=8, vocab_only=True, verbose=False)
    ids = llm.tokenize(args.text.read_bytes(), add_bos=True, special=False)
    del llm
    same = len(ids) == len(text_ids) and all(a == b for a, b in zip(ids, text_ids))
    first = next((i for i, (a, b) in enumerate(zip(ids, text_ids)) if a != b), min(len(ids), len(text_ids)))
    log(f"token ids: llama.cpp {len(ids)}, ewq {len(text_ids)}: " + ("identical" if same else f"first difference at {first}"))

    ppl_args = ["--tokens", ids_file, "--ctx", args.ctx, "--threads", args.threads, "--json"]
    ewq_asked = json.loads(ewq("ppl", folder, *opts, *ppl_args).stdout)
    ewq_ppl = ewq_asked
    if notes:   # the file differs from what was asked: measure what it holds
        written = work / f"{name}.written.json"
        written.write_text(json.dumps(as_written(json.loads(Path(args.plan).read_text()), tiers, weights)))
        ewq_ppl = json.loads(ewq("ppl", folder, "--plan", written, *ppl_args).stdout)
        log(f"ewq ppl as asked (the weights kept raw for their width quantized): {ewq_asked['ppl']:.4f}")
    measure(out, back, args, folder, chunks_of(text_ids, args.ctx, args.chunks, cfg.get("bos_token_id")), log,
            ewq_ppl)


def run_control(name, args, folder, cfg, text_ids, work, log):
    """llama.cpp's own Q8_0 or Q4_1 of ewq's raw export: how far llama.cpp's CPU arithmetic alone moves the
    perplexity of a file it wrote itself, against transformers on that file's weights."""
    import llama_cpp
    raw = work / "raw.gguf"
    if not raw.exists():
        ewq("export", folder, "--uniform", "raw", "--gguf", raw)
    out = work / f"{name}.gguf"
    ftype = {"llama-q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "llama-q4_1": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_1}[name]
    llama_cpp_quantized(raw, out, ftype)
    back = read_back(out, cfg)
    types = sorted({t.name for t, _ in back.values()})
    log(f"## {name} (control): llama.cpp's llama_model_quantize of `ewq export --uniform raw`, block linears "
        f"{'/'.join(types)}, output {output_type(out).name}; {out.stat().st_size} bytes")
    measure(out, back, args, folder, chunks_of(text_ids, args.ctx, args.chunks, cfg.get("bos_token_id")), log)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--text", type=Path, required=True)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=1 << 30)
    ap.add_argument("--variants", default="raw,int8,int4,plan")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-repack", action="store_true", help="llama.cpp without repacked CPU weights (see below)")
    args = ap.parse_args()
    if args.no_repack:
        without_repacking()
    folder = args.model.resolve()
    cfg = json.loads((folder / "config.json").read_text())
    weights, dtypes = read_safetensors(folder)

    log_header("GGUF export proof", folder, ["llama_cpp_python", "gguf", "transformers", "torch"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        text_ids = [int(x) for x in ewq("tokenize", folder, args.text, "--ids").stdout.split()]
        ids_file = work / "ids.txt"
        n = min(len(text_ids) // args.ctx, args.chunks) * args.ctx
        ids_file.write_text(" ".join(map(str, text_ids[:n])) + "\n")
        plan = work / "plan.json"
        ewq("plan", folder, "-o", plan)
        args.plan = plan
        options = {"raw": ["--uniform", "raw"], "int8": ["--uniform", "int8"], "int4": ["--uniform", "int4"],
                   "plan": ["--plan", str(plan)]}
        for name in args.variants.split(","):
            if name.startswith("llama-"):
                run_control(name, args, folder, cfg, text_ids, work, log)
                continue
            run_variant(name, options[name], args, folder, cfg, weights, dtypes, text_ids, ids_file, work, log)


if __name__ == "__main__":
    main()
