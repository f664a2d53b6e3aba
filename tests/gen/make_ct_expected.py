#!/usr/bin/env python3
"""Writes what tests/test_export.sh checks `ewq export --compressed-tensors` against: the SHA-256 of the
expected model.safetensors and config.json of each case in data/expected/compressed_tensors.sha256.

Developer tool, run by hand from the repository root (it reads the inputs make_export_expected.py
committed in tests/export/ and never runs ewq):

    python3 tests/gen/make_ct_expected.py [--keep DIR]    (--keep: also leave the expected folders)

Needs numpy, torch, safetensors and compressed-tensors (the package transformers and vLLM load this format
with), and gguf (make_export_expected.py, whose inputs and readers it shares). The expected files are
written by those packages, not by ewq, following the layout in ewq.h ("Export as a compressed-tensors
folder"):
  - every int8 block linear whose width is a multiple of the group size is packed by
    tests/gen/pack_reference.py (an independent numpy implementation of ewq's packed formats); its
    dequantized values and float32 scales go to compressed-tensors' own PackedQuantizationCompressor
    .compress (8-bit, symmetric, group strategy), and the script stops unless the package's decompress
    gives back exactly pack_reference's values;
  - every other tensor is the checkpoint's, unchanged (int4 weights, int8 weights of other widths, the
    embedding and lm_head at any tier);
  - model.safetensors is written by safetensors.torch.save_file with metadata {"format": "pt"};
  - config.json is the model's with "quantization_config" appended: compressed-tensors'
    QuantizationConfig(...).model_dump() for one group of the int8 linears, by json.dumps(indent=2).

Cases (model folder = config + weights of MODEL + the tokenizer files of tests/export/spm):
  llama3-bf16-plan   data/fixtures/llama3-bf16, tests/export/llama3-bf16.plan.json (raw, int8 and int4
                     linears; the int4 ones stay BF16)
  qwen2-f16-int8     data/fixtures/qwen2-f16 (F16, q/k/v biases, tied embeddings); --uniform int8
                     --embed int8 (the embedding stays raw; ffn_down's 160 columns are not a multiple of
                     the group of 64: raw)
  qwen3-f32-int8     data/fixtures/qwen3-f32 (F32, q/k norms); --uniform int8 --lm-head int4 --group 32
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
from compressed_tensors.quantization import QuantizationArgs, QuantizationConfig, QuantizationScheme
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_export_expected as gguf_cases  # noqa: E402  (inputs and readers shared with the GGUF cases)
import pack_reference  # noqa: E402

ROOT = gguf_cases.ROOT
SPM = gguf_cases.INPUTS / "spm"
CASES = [
    dict(name="llama3-bf16-plan", model=ROOT / "data/fixtures/llama3-bf16", tokenizer=SPM,
         plan=gguf_cases.INPUTS / "llama3-bf16.plan.json"),
    dict(name="qwen2-f16-int8", model=ROOT / "data/fixtures/qwen2-f16", tokenizer=SPM, uniform="int8", embed="int8"),
    dict(name="qwen3-f32-int8", model=ROOT / "data/fixtures/qwen3-f32", tokenizer=SPM, uniform="int8",
         lm_head="int4", group=32),
]
TORCH = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def int8_scheme(group, targets):
    args = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="group", group_size=group)
    return QuantizationScheme(targets=targets, weights=args, format="pack-quantized")


def packed(name, entry, group):
    """compressed-tensors' own pack-quantized tensors of ewq's int8 weight."""
    arrays, values = pack_reference.pack(gguf_cases.as_f32(entry), "int8", group=group, shrink=True)
    rows, cols = entry[1]
    scale = np.frombuffer(arrays["scale"], dtype="<f2").astype(np.float32).reshape(rows, cols // group)
    scheme = int8_scheme(group, [name])
    state = {"weight": torch.from_numpy(values.copy()), "weight_scale": torch.from_numpy(scale)}
    out = PackedQuantizationCompressor.compress(state, scheme)
    back = PackedQuantizationCompressor.decompress(dict(out), scheme)["weight"].numpy()
    if not np.array_equal(back.view(np.uint32), values.view(np.uint32)):
        sys.exit(f"{name}: compressed-tensors' decompression differs from ewq's values")
    return out


def expected_folder(case, folder, out):
    cfg_text = (folder / "config.json").read_text()
    cfg = json.loads(cfg_text)
    st = gguf_cases.read_safetensors(folder / "model.safetensors")
    group = case.get("group", 64)
    linear, _, _ = gguf_cases.tiers_of(case, cfg)
    tiers = {f"model.layers.{b}.{gguf_cases.LINEAR[k]}.weight": t
             for b, row in enumerate(linear) for k, t in enumerate(row)}
    state, targets = {}, []
    for name, entry in st.items():
        dtype, shape, raw = entry
        if tiers.get(name) == "int8" and shape[1] % group == 0:
            module = name[:-len(".weight")]
            for part, tensor in packed(module, entry, group).items():
                state[f"{module}.{part}"] = tensor
            targets.append(module)
        else:
            view = torch.from_numpy(raw.copy())
            state[name] = view.view(torch.bfloat16) if dtype == "BF16" else view.to(TORCH[dtype])
    out.mkdir()
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    if targets:
        qc = QuantizationConfig(config_groups={"group_0": int8_scheme(group, sorted(targets))},
                                format="pack-quantized", quantization_status="compressed", ignore=["lm_head"])
        member = json.dumps(qc.model_dump(), indent=2).replace("\n", "\n  ")
        cfg_text = cfg_text.rstrip()[:-1].rstrip() + ',\n  "quantization_config": ' + member + "\n}\n"
    (out / "config.json").write_text(cfg_text)
    return len(targets)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="also write the expected folders into this folder")
    args = ap.parse_args()
    os.chdir(ROOT)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for case in CASES:
            folder = gguf_cases.model_folder(case, work)
            out = work / (case["name"] + ".expected")
            n = expected_folder(case, folder, out)
            for f in ("model.safetensors", "config.json"):
                digest = hashlib.sha256((out / f).read_bytes()).hexdigest()
                lines.append(f"{digest}  {case['name']}/{f}\n")
            print(f"{case['name']}: {n} int8 linears pack-quantized")
            if args.keep:
                shutil.copytree(out, Path(args.keep) / case["name"], dirs_exist_ok=True)
    path = ROOT / "data" / "expected" / "compressed_tensors.sha256"
    path.write_text("".join(lines))
    from importlib.metadata import version
    print(f"wrote {path} (compressed-tensors {version('compressed-tensors')}, safetensors {version('safetensors')}, "
          f"torch {torch.__version__})")


if __name__ == "__main__":
    main()
