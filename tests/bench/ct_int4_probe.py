#!/usr/bin/env python3
"""Can a compressed-tensors folder hold ewq's int4 (w = m + s*q, fp16 s and m, q in 0..15) exactly? Developer
tool, run by hand (not CI), behind the README's note on why `ewq export --compressed-tensors` writes int4
weights raw:

    python3 tests/bench/ct_int4_probe.py [MODEL] [--group 64]   (MODEL: data/fixtures/llama3-bf16)

compressed-tensors dequantizes an asymmetric group as (q' - zp) * s. With q' = q - 8 (its signed 4-bit
codes) ewq's weights need zp = -8 - m/s, which is rarely an integer. For every block linear of MODEL at int4
(tests/gen/pack_reference.py's values and fp16 scales and minimums) it writes two folders with the package's
own compressors, loads each with transformers (float32, CPU), and compares the weights and the logits of a
short id sequence with transformers on ewq's exact int4 values:
  pack-quantized: the format vLLM runs 4-bit weights from; its zero points are packed as 4-bit integers
                  (a float zero point is refused), so zp is rounded to the nearest integer;
  naive-quantized with zp_dtype float32: q' one per int8, the zero point as a float32 tensor.
Needs numpy, torch, transformers, safetensors and compressed-tensors (tests/requirements-dev.txt).
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "gen"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))
import make_export_expected as gguf_cases  # noqa: E402  (the safetensors reader)
import pack_reference  # noqa: E402
from gguf_proof import log_header  # noqa: E402

from compressed_tensors.compressors.naive_quantized.base import NaiveQuantizationCompressor  # noqa: E402
from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor  # noqa: E402
from compressed_tensors.quantization import QuantizationArgs, QuantizationConfig, QuantizationScheme  # noqa: E402
from safetensors.torch import save_file  # noqa: E402


def scheme(targets, fmt, group, zp_dtype):
    args = QuantizationArgs(num_bits=4, type="int", symmetric=False, strategy="group", group_size=group,
                            zp_dtype=zp_dtype)
    return QuantizationScheme(targets=targets, weights=args, format=fmt)


def int4_parts(entry, group):
    """ewq's int4 values of one weight, its scales, and the float zero points that reproduce them."""
    arrays, values = pack_reference.pack(gguf_cases.as_f32(entry), "int4", group=group, shrink=True)
    rows, cols = entry[1]
    s = np.frombuffer(arrays["scale"], "<f2").astype(np.float32).reshape(rows, cols // group)
    m = np.frombuffer(arrays["min"], "<f2").astype(np.float32).reshape(rows, cols // group)
    return values, s, (-8.0 - m / s).astype(np.float32)


def write_folder(folder, st, group, fmt, out):
    """MODEL with every block linear int4 in format fmt; returns, per linear, ewq's values and the package's
    decompression of what it wrote."""
    compressor = {"pack-quantized": PackedQuantizationCompressor, "naive-quantized": NaiveQuantizationCompressor}[fmt]
    state, exact = {}, {}
    for name, entry in st.items():
        dtype, shape, raw = entry
        if ".layers." in name and name.endswith("proj.weight") and shape[1] % group == 0:
            module = name[:-len(".weight")]
            values, s, zp = int4_parts(entry, group)
            if fmt == "pack-quantized":   # 4-bit integer zero points only
                zp = np.clip(np.rint(zp), -8, 7).astype(np.int8)
            sch = scheme([module], fmt, group, "float32" if fmt == "naive-quantized" else None)
            part = compressor.compress({"weight": torch.from_numpy(values.copy()), "weight_scale": torch.from_numpy(s),
                                        "weight_zero_point": torch.from_numpy(zp)}, sch)
            state.update({f"{module}.{k}": v for k, v in part.items()})
            exact[module] = values, compressor.decompress(dict(part), sch)["weight"].numpy()
        else:
            view = torch.from_numpy(raw.copy())
            state[name] = view.view(torch.bfloat16) if dtype == "BF16" else view.to(
                {"F32": torch.float32, "F16": torch.float16}[dtype])
    qc = QuantizationConfig(config_groups={"group_0": scheme(sorted(exact), fmt, group,
                                                             "float32" if fmt == "naive-quantized" else None)},
                            format=fmt, quantization_status="compressed", ignore=["lm_head"])
    out.mkdir()
    cfg = json.loads((folder / "config.json").read_text())
    cfg["quantization_config"] = qc.model_dump()
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    return exact


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path, nargs="?", default=ROOT / "data/fixtures/llama3-bf16")
    ap.add_argument("--group", type=int, default=64)
    args = ap.parse_args()
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()

    folder = args.model.resolve()
    st = gguf_cases.read_safetensors(folder / "model.safetensors")
    log_header("compressed-tensors int4 probe", folder, ["compressed_tensors", "transformers", "torch"])
    try:   # does pack-quantized take a float zero point at all?
        e = next(e for n, e in st.items() if ".layers." in n and n.endswith("proj.weight") and e[1][1] % args.group == 0)
        v, s, zp = int4_parts(e, args.group)
        PackedQuantizationCompressor.compress({"weight": torch.from_numpy(v.copy()), "weight_scale": torch.from_numpy(s),
                                               "weight_zero_point": torch.from_numpy(zp)},
                                              scheme(["x"], "pack-quantized", args.group, "float32"))
        print("pack-quantized with float zero points: accepted")
    except ValueError as err:
        print(f"pack-quantized with float zero points: refused ({err})")

    ids = torch.tensor([[1] + [(7 * i + 3) % 200 + 2 for i in range(31)]])
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)

    def logits_with(weights):
        with torch.no_grad():
            for module, w in weights.items():
                model.get_submodule(module).weight.copy_(torch.from_numpy(w.copy()))
            return model(ids).logits[0].numpy()

    def rel(got, want):
        return np.abs(got - want).max() / np.abs(want).max()

    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("pack-quantized", "naive-quantized"):
            parts = write_folder(folder, st, args.group, fmt, Path(tmp) / fmt)
            want = logits_with({m: v for m, (v, _) in parts.items()})
            unpacked = logits_with({m: d for m, (_, d) in parts.items()})
            weights = max(float(rel(d, v)) for v, d in parts.values())
            print(f"{fmt} ({'zero points as float32' if fmt == 'naive-quantized' else 'zero points rounded to integers'}), "
                  f"{len(parts)} int4 linears, {(Path(tmp) / fmt / 'model.safetensors').stat().st_size} bytes:")
            print(f"  the package's decompression: weights max |d - ewq| / max |ewq| {weights:.3g}, logits ({ids.shape[1]} "
                  f"positions) max |d - ewq| / max |ewq| {rel(unpacked, want):.3g}")
            try:
                loaded = AutoModelForCausalLM.from_pretrained(str(Path(tmp) / fmt), dtype=torch.float32)
            except RuntimeError as err:   # its load report (stderr) names the tensors
                print(f"  transformers: not loaded ({err})")
                continue
            with torch.no_grad():
                print(f"  transformers: loaded; logits max |transformers - ewq| / max |ewq| "
                      f"{rel(loaded(ids).logits[0].numpy(), want):.3g}")


if __name__ == "__main__":
    main()
