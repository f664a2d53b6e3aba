#!/usr/bin/env python3
"""Writes data/expected/entropy.json: the entropy of every linear weight and every block of the real
stories260K checkpoint and of every fixture in data/fixtures/, computed independently of ewq with
numpy.histogram (ewq.h, "Entropy": equal-width bins over [min, max], H = -sum p log2 p over non-empty bins;
block = parameter-weighted mean of q, k, v, o, gate, up, down).

Weights are read with the safetensors package (torch for BF16), as float32, then passed to numpy.histogram
as float64 (exact). ewq.h defines the bin as floor((x - min) / (max - min) * B) in double; numpy bins by its
own edges (linspace). For every tensor this script also evaluates ewq.h's formula and refuses to write
anything if a single value lands in a different bin, so the committed numbers are numpy's and match the
documented formula exactly.

Usage (from the repository root): python3 tests/gen/make_entropy_expected.py
"""
import json
import os
import sys

import numpy as np
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINEAR = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def entropy_numpy(values, bins):
    counts, _ = np.histogram(values, bins=bins)
    p = counts[counts > 0] / values.size
    return float(-(p * np.log2(p)).sum()), counts


def counts_ewq_formula(values, bins):
    lo, hi = values.min(), values.max()
    if hi == lo:
        out = np.zeros(bins, dtype=np.int64)
        out[0] = values.size
        return out
    b = np.floor((values - lo) / (hi - lo) * bins).astype(np.int64)
    return np.bincount(np.minimum(b, bins - 1), minlength=bins)


def model_entropy(folder, bins):
    with open(os.path.join(folder, "config.json")) as f:
        layers = json.load(f)["num_hidden_layers"]
    weights = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".safetensors"):
            weights.update(load_file(os.path.join(folder, name)))
    tensors, blocks = {}, []
    for layer in range(layers):
        hs, ns = [], []
        for lin in LINEAR:
            name = f"model.layers.{layer}.{lin}.weight"
            v = weights[name].float().numpy().astype(np.float64).ravel()
            h, counts = entropy_numpy(v, bins)
            mine = counts_ewq_formula(v, bins)
            if not np.array_equal(counts, mine):
                sys.exit(f"{folder} {name}: numpy.histogram and ewq.h's bin formula disagree on "
                         f"{int(np.abs(counts - mine).sum()) // 2} values; no file written")
            tensors[name] = h
            hs.append(h)
            ns.append(v.size)
        blocks.append(float(np.dot(hs, ns) / np.sum(ns)))
    return {"bins": bins, "blocks": blocks, "tensors": tensors}


def main():
    assets = os.path.join(ROOT, "..", "shared", "assets", "stories260K")
    out = {"numpy": np.__version__, "models": {}}
    for bins in (256, 100):
        out["models"][f"stories260K/bins{bins}"] = model_entropy(assets, bins)
    fixtures = os.path.join(ROOT, "data", "fixtures")
    for name in sorted(os.listdir(fixtures)):
        if os.path.isdir(os.path.join(fixtures, name)):
            out["models"][f"fixtures/{name}/bins256"] = model_entropy(os.path.join(fixtures, name), 256)
    path = os.path.join(ROOT, "data", "expected", "entropy.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}: {len(out['models'])} models")


if __name__ == "__main__":
    main()
