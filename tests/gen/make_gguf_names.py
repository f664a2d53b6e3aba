#!/usr/bin/env python3
"""Writes data/expected/gguf_names_36.txt: every tensor name llama.cpp's gguf package defines for a
36-block LLAMA, QWEN2 or QWEN3 model (with .weight and .bias suffixes), one per line, each followed by the
Hugging Face name that gguf.TensorNameMap maps to it for the seven linear weights of a block, the
embedding and lm_head, or "-". tests/test_entropy.c applies ewq's --tensor-type patterns to this list as
llama-quantize would (a regular-expression search) and checks each matches exactly the intended names.

Usage (from the repository root): python3 tests/gen/make_gguf_names.py
"""
import os

import gguf
from importlib.metadata import version

BLOCKS = 36
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINEAR = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def main():
    archs = [gguf.MODEL_ARCH.LLAMA, gguf.MODEL_ARCH.QWEN2, gguf.MODEL_ARCH.QWEN3]
    hf_of = {}
    for arch in archs:
        names = gguf.TensorNameMap(arch, BLOCKS)
        hf = ["model.embed_tokens", "lm_head"] + [f"model.layers.{b}.{lin}" for b in range(BLOCKS) for lin in LINEAR]
        for h in hf:
            g = names.get_name(h + ".weight", try_suffixes=(".weight",))
            assert g, h
            hf_of[g] = h + ".weight"
    all_names = set()
    for arch in archs:
        for t in gguf.MODEL_TENSORS[arch]:
            base = gguf.TENSOR_NAMES[t]
            for b in range(BLOCKS) if "{bid}" in base else [None]:
                for suffix in (".weight", ".bias"):
                    all_names.add(base.format(bid=b) + suffix)
    assert set(hf_of) <= all_names
    path = os.path.join(ROOT, "data", "expected", "gguf_names_36.txt")
    with open(path, "w") as f:
        for n in sorted(all_names):
            f.write(f"{n} {hf_of.get(n, '-')}\n")
    print(f"wrote {path}: {len(all_names)} names (gguf {version('gguf')})")


if __name__ == "__main__":
    main()
