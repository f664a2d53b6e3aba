#!/usr/bin/env python3
"""Writes what tests/test_export.sh checks `ewq export --gguf` against: the inputs in tests/export/
and the SHA-256 of the expected GGUF files in data/expected/export.sha256.

Developer tool, run by hand from the repository root after `make` (it runs ./ewq synth and ./ewq plan to
make inputs, never ewq export):

    python3 tests/gen/make_export_expected.py [--keep DIR]    (--keep: also leave the .gguf files)

Needs numpy and gguf (llama.cpp's gguf-py). The expected files are written by gguf.GGUFWriter, not by ewq,
from the checkpoint and tokenizer files, following the layout in ewq.h ("Export"):
  - int8 and int4 weights are packed by tests/gen/pack_reference.py (an independent numpy implementation of
    ewq's packed formats), regrouped here into Q8_0 / Q4_1 blocks, and every block is decoded again by
    gguf.quants.dequantize (gguf-py's implementation of ggml's reference dequantization): the script
    stops unless those values equal pack_reference's dequantized weights exactly. So the committed
    hashes are of files whose values are ewq's, by ggml's own formulas.
  - Llama q_proj / k_proj rows are reordered to llama.cpp's adjacent-pair RoPE order.
  - Token strings, types, scores, merges and special ids come from tokenizer.json and
    tokenizer_config.json as read here with the json module.

Cases (model folder = config + weights of MODEL + tokenizer files of TOKENIZER):
  llama3-bf16-plan    data/fixtures/llama3-bf16, SentencePiece tokenizer, a tensor-granularity plan
                      (raw BF16, Q8_0 and Q4_1 mixed; llama3 RoPE: rope_freqs; untied lm_head)
  qwen2-synth-int4    a Qwen2 checkpoint from `ewq synth` (BF16, q/k/v biases, tied embeddings,
                      intermediate 80: ffn_down keeps raw BF16), byte-level tokenizer with merges, padded
                      vocabulary; --uniform int4 --embed int8 (so output.weight is written raw)
  qwen3-f32-int8      data/fixtures/qwen3-f32 (q/k norms, F32), SentencePiece tokenizer; --uniform int8
                      --lm-head int4 --group 32
  stories260K-int4    ../shared/assets/stories260K with its own tokenizer (skipped when absent); --uniform
                      int4 (its 172-wide ffn_down rows stay raw F32)
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import gguf
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pack_reference  # noqa: E402  (tests/gen/pack_reference.py)

ROOT = Path(__file__).resolve().parents[2]
INPUTS = ROOT / "tests" / "export"
STORIES = ROOT.parent / "shared" / "assets" / "stories260K"
LINEAR = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
GGUF_LINEAR = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
Q = gguf.GGMLQuantizationType

CASES = [
    dict(name="llama3-bf16-plan", model=ROOT / "data/fixtures/llama3-bf16", tokenizer=INPUTS / "spm",
         plan=INPUTS / "llama3-bf16.plan.json"),
    dict(name="qwen2-synth-int4", synth=INPUTS / "qwen2-synth-config.json", tokenizer=INPUTS / "bytelevel",
         uniform="int4", embed="int8"),
    dict(name="qwen3-f32-int8", model=ROOT / "data/fixtures/qwen3-f32", tokenizer=INPUTS / "spm",
         uniform="int8", lm_head="int4", group=32),
    dict(name="stories260K-int4", model=STORIES, tokenizer=STORIES, uniform="int4"),
]


# --- inputs -----------------------------------------------------------------------------------------

def byte_chars():
    """GPT-2's byte-to-character map, as ByteLevel uses it: tests/nfc_tokenizer.json's vocabulary is
    exactly the 256 byte characters, byte b at id b."""
    vocab = json.loads((ROOT / "tests" / "nfc_tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    return {b: c for c, b in vocab.items()}


def added(i, content, special):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": special}


def write_inputs():
    """Two small tokenizers (SentencePiece-style and byte-level), a Qwen2 config for ewq synth, and a plan."""
    INPUTS.mkdir(parents=True, exist_ok=True)
    # SentencePiece-style (legacy normalizer, no byte fallback): specials, "▁", letters, merged pieces,
    # one added token that is not special
    pieces = ["<unk>", "<s>", "</s>", "\u2581"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    merges = [["\u2581", "t"], ["h", "e"], ["\u2581t", "he"], ["\u2581", "a"], ["a", "n"], ["an", "d"],
              ["\u2581", "s"], ["i", "n"], ["\u2581a", "n"], ["\u2581an", "d"], ["o", "n"], ["\u2581s", "o"]]
    for a, b in merges:
        if a + b not in pieces:
            pieces.append(a + b)
    vocab = {p: i for i, p in enumerate(pieces)}
    extra = len(pieces)
    spm = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "<unk>", True), added(1, "<s>", True), added(2, "</s>", True),
                         added(extra, "<extra>", False)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": merges},
    }
    write_tokenizer(INPUTS / "spm", spm, {"add_bos_token": True, "bos_token": "<s>", "eos_token": "</s>",
                                          "pad_token": "<unk>", "unk_token": "<unk>"})

    # byte level with Llama-3's split pattern: the 256 byte characters, merged pieces, added tokens
    b2u = byte_chars()
    toks = [b2u[b] for b in range(256)]
    merges = [["\u0120", "t"], ["h", "e"], ["\u0120t", "he"], ["i", "n"], ["\u0120", "a"], ["e", "r"],
              ["\u0120a", "n"], ["\u0120an", "d"], ["o", "n"], ["\u0120", "s"]]
    for a, b in merges:
        toks.append(a + b)
    vocab = {t: i for i, t in enumerate(toks)}
    n = len(toks)
    pattern = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
               "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    bl = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(n, "<|begin_of_text|>", True), added(n + 1, "<|end_of_text|>", True),
                         added(n + 2, "<|user|>", False)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": True, "vocab": vocab, "merges": [" ".join(m) for m in merges]},
    }
    write_tokenizer(INPUTS / "bytelevel", bl, {"add_bos_token": False, "bos_token": "<|begin_of_text|>",
                                               "eos_token": "<|end_of_text|>", "pad_token": "<|end_of_text|>"})

    config = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64,
              "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4,
              "num_key_value_heads": 2, "vocab_size": 288, "max_position_embeddings": 256,
              "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True,
              "use_sliding_window": False, "bos_token_id": n, "eos_token_id": n + 1}
    (INPUTS / "qwen2-synth-config.json").write_text(json.dumps(config, indent=2) + "\n")
    subprocess.run(["./ewq", "plan", "data/fixtures/llama3-bf16", "--granularity", "tensor",
                    "-o", "tests/export/llama3-bf16.plan.json"], check=True, stdout=subprocess.DEVNULL)


def write_tokenizer(folder, tok, config):
    folder.mkdir(exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1) + "\n")


def model_folder(case, work):
    """The model folder test_export.sh assembles: config and weights, then the tokenizer files."""
    d = work / case["name"]
    d.mkdir()
    if "synth" in case:
        subprocess.run(["./ewq", "synth", str(case["synth"]), "-o", str(d)], check=True, stdout=subprocess.DEVNULL)
    else:
        for f in ("config.json", "model.safetensors"):
            shutil.copy(case["model"] / f, d / f)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if (case["tokenizer"] / f).exists():
            shutil.copy(case["tokenizer"] / f, d / f)
    return d


# --- reading the model -------------------------------------------------------------------------------

def read_safetensors(path):
    """name -> (dtype string, shape, raw little-endian array: float32, float16, or uint16 for BF16)."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dt = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}[e["dtype"]]
        out[name] = (e["dtype"], tuple(e["shape"]), np.frombuffer(data[base + b:base + end], dtype=dt).reshape(e["shape"]))
    return out


def as_f32(entry):
    dtype, _, a = entry
    if dtype == "BF16":
        return (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float32)


def tiers_of(case, cfg):
    """(per block: 7 tiers), embed tier, lm_head tier, as ewq export resolves the options."""
    layers = cfg["num_hidden_layers"]
    if "plan" in case:
        plan = json.loads(case["plan"].read_text())
        linear = [[t["tier"] for t in b["tensors"]] for b in plan["blocks"]]
        embed, lm_head = plan["outside_blocks"]["embed_tokens"], plan["outside_blocks"]["lm_head"]
    else:
        linear = [[case["uniform"]] * 7 for _ in range(layers)]
        embed = lm_head = "raw"
    return linear, case.get("embed", embed), case.get("lm_head", lm_head)


# --- GGUF tensors ------------------------------------------------------------------------------------

def llama_rope_order(rows, heads):
    """GGUF row i of a Llama q/k weight is HF row order[i]: each head's rotate-half pairs (j, j + d/2)
    become adjacent rows (2j, 2j + 1)."""
    d = rows // heads
    order = []
    for h in range(heads):
        for j in range(d // 2):
            order += [h * d + j, h * d + d // 2 + j]
    return np.array(order)


def gguf_matrix(entry, tier, group, name, notes):
    """(array, raw_dtype) for GGUFWriter: the weight at its tier, converted to Q8_0 / Q4_1 blocks."""
    dtype, (rows, cols), raw = entry
    if tier != "raw" and (cols % 32 or group % 32):
        notes.append(name)
        tier = "raw"
    if tier == "raw":
        return raw, (Q.BF16 if dtype == "BF16" else None)
    arrays, deq = pack_reference.pack(as_f32(entry), tier, group=group, shrink=True)
    ng = -(-cols // group)
    nb = cols // 32
    scale = np.frombuffer(arrays["scale"], dtype="<u2").reshape(rows, ng)
    block_group = (np.arange(nb) * 32) // group          # the ewq group of each 32-value block
    d = scale[:, block_group].reshape(rows, nb, 1).view(np.uint8).reshape(rows, nb, 2)
    if tier == "int8":
        codes = np.frombuffer(arrays["q"], dtype=np.int8).reshape(rows, nb, 32).view(np.uint8)
        blocks, qtype = np.concatenate([d, codes], axis=2), Q.Q8_0
    else:
        nib = np.frombuffer(arrays["q"], dtype=np.uint8).reshape(rows, -1)
        codes = np.empty((rows, cols), dtype=np.uint8)
        codes[:, 0::2] = nib[:, :cols // 2 + cols % 2] & 15
        codes[:, 1::2] = nib[:, :cols // 2] >> 4
        codes = codes.reshape(rows, nb, 32)
        m = np.frombuffer(arrays["min"], dtype="<u2").reshape(rows, ng)[:, block_group]
        m = m.reshape(rows, nb, 1).view(np.uint8).reshape(rows, nb, 2)
        qs = codes[:, :, :16] | (codes[:, :, 16:] << 4)
        blocks, qtype = np.concatenate([d, m, qs], axis=2), Q.Q4_1
    blocks = np.ascontiguousarray(blocks.reshape(rows, -1))
    back = gguf.quants.dequantize(blocks, qtype)
    if not np.array_equal(back, deq):
        sys.exit(f"{name}: ggml's dequantization of the {qtype.name} blocks differs from ewq's values")
    return blocks, qtype


def rope_factors(cfg):
    """ewq's llama3 factors: the unscaled float32 inv_freq over the scaled one (ewq.h, Export)."""
    rp = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
    theta = float(cfg.get("rope_theta", rp.get("rope_theta", 10000.0)))
    d = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    factor, lo_f, hi_f = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"]
    orig = rp["original_max_position_embeddings"]
    out = []
    for i in range(d // 2):
        expo = float(np.float32(2 * i) / np.float32(d))
        f = np.float32(1.0 / math.pow(theta, expo))
        wavelen, lo, hi = 2 * math.pi / float(f), orig / lo_f, orig / hi_f
        if wavelen > lo:
            s = np.float32(float(f) / factor)
        elif wavelen >= hi:
            smooth = (orig / wavelen - lo_f) / (hi_f - lo_f)
            s = np.float32((1 - smooth) * float(f) / factor + smooth * float(f))
        else:
            s = f
        out.append(np.float32(f / s))
    return np.array(out, dtype=np.float32)


# --- tokenizer metadata ------------------------------------------------------------------------------

def llama_cpp_pre(pre):
    """llama.cpp's name for a byte-level pre-tokenizer."""
    parts = pre["pretokenizers"] if pre["type"] == "Sequence" else [pre]
    if parts[0]["type"] == "Split":
        return "llama-bpe" if "\\p{N}{1,3}" in parts[0]["pattern"]["Regex"] else "qwen2"
    if parts[0]["type"] == "Digits":
        assert parts[0]["individual_digits"], "llama.cpp has no Digits(runs) + GPT-2 split"
        return "smollm"
    return "gpt-2"


def tokenizer_kv(folder, vocab_size):
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    cfg_path = folder / "tokenizer_config.json"
    tcfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    model = tok["model"]
    spm = tok["pre_tokenizer"] is None or tok["pre_tokenizer"].get("type") == "Metaspace"
    strings = {i: t for t, i in model["vocab"].items()}
    added_tok = {a["id"]: a for a in tok["added_tokens"]}
    for i, a in added_tok.items():
        strings[i] = a["content"]
    unk = model["vocab"].get(model.get("unk_token")) if model.get("unk_token") else None

    def kind(i):
        if i not in strings:
            return 5
        if spm and i == unk:
            return 2
        if i in added_tok:
            return 3 if added_tok[i]["special"] else 4
        s = strings[i]
        if spm and model.get("byte_fallback") and len(s) == 6 and s.startswith("<0x") and s.endswith(">"):
            return 6
        return 1

    tokens = [strings.get(i, f"[PAD{i}]") for i in range(vocab_size)]
    types = [kind(i) for i in range(vocab_size)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]

    def named(v):
        if isinstance(v, dict):
            v = v.get("content")
        for i, a in added_tok.items():
            if a["content"] == v:
                return i
        return model["vocab"].get(v) if isinstance(v, str) else None

    kv = [("tokenizer.ggml.model", "llama" if spm else "gpt2")]
    if not spm:
        kv.append(("tokenizer.ggml.pre", llama_cpp_pre(tok["pre_tokenizer"])))
    kv += [("tokenizer.ggml.tokens", tokens), ("tokenizer.ggml.token_type", types)]
    if spm:
        score = [0.0] * vocab_size
        for rank in range(len(merges) - 1, -1, -1):
            a, b = merges[rank].split(" ")
            score[model["vocab"][a + b]] = -float(rank)
        kv.append(("tokenizer.ggml.scores", score))
    else:
        kv.append(("tokenizer.ggml.merges", merges))
    bos = None
    pp = tok.get("post_processor")
    if pp and pp.get("type") == "TemplateProcessing":
        bos = pp["special_tokens"][pp["single"][0]["SpecialToken"]["id"]]["ids"][0]
    if bos is None:
        bos = named(tcfg.get("bos_token"))
    ids = [("bos", bos), ("eos", named(tcfg.get("eos_token"))), ("unknown", unk), ("padding", named(tcfg.get("pad_token")))]
    add_bos = pp is not None and pp.get("type") == "TemplateProcessing" or bool(tcfg.get("add_bos_token")) and bos is not None
    return kv, ids, add_bos, spm


# --- the expected file -------------------------------------------------------------------------------

def expected_gguf(case, folder, out_path):
    cfg = json.loads((folder / "config.json").read_text())
    st = read_safetensors(folder / "model.safetensors")
    arch_name = cfg["architectures"][0]
    arch = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2",
            "Qwen3ForCausalLM": "qwen3"}[arch_name]
    heads, kv_heads = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // heads
    rp = cfg.get("rope_parameters") or {}
    theta = cfg.get("rope_theta", rp.get("rope_theta", 10000.0))
    llama3 = (cfg.get("rope_scaling") or rp).get("rope_type", (cfg.get("rope_scaling") or {}).get("type")) == "llama3"
    tied = cfg.get("tie_word_embeddings", False)
    group = case.get("group", 64)
    linear, embed_tier, lm_tier = tiers_of(case, cfg)

    w = gguf.GGUFWriter(str(out_path), arch)
    a = arch + "."
    for key, v in [("context_length", cfg["max_position_embeddings"]), ("embedding_length", cfg["hidden_size"]),
                   ("block_count", cfg["num_hidden_layers"]), ("feed_forward_length", cfg["intermediate_size"]),
                   ("attention.head_count", heads), ("attention.head_count_kv", kv_heads),
                   ("attention.key_length", head_dim), ("attention.value_length", head_dim),
                   ("rope.dimension_count", head_dim)]:
        w.add_uint32(a + key, v)
    w.add_float32(a + "rope.freq_base", theta)
    w.add_float32(a + "attention.layer_norm_rms_epsilon", cfg.get("rms_norm_eps", 1e-6))
    w.add_uint32(a + "vocab_size", cfg["vocab_size"])
    tkv, ids, add_bos, _ = tokenizer_kv(folder, cfg["vocab_size"])
    sub = {"tokenizer.ggml.tokens": gguf.GGUFValueType.STRING, "tokenizer.ggml.token_type": gguf.GGUFValueType.INT32,
           "tokenizer.ggml.scores": gguf.GGUFValueType.FLOAT32, "tokenizer.ggml.merges": gguf.GGUFValueType.STRING}
    for key, v in tkv:
        if isinstance(v, list):
            w.add_key_value(key, v, gguf.GGUFValueType.ARRAY, sub_type=sub[key])
        else:
            w.add_string(key, v)
    fallback = {"bos": cfg.get("bos_token_id"), "eos": cfg.get("eos_token_id")}
    for which, i in ids:
        i = i if i is not None else fallback.get(which)
        if isinstance(i, list):
            i = i[0]
        if i is not None:
            w.add_uint32(f"tokenizer.ggml.{which}_token_id", i)
    w.add_bool("tokenizer.ggml.add_bos_token", add_bos)
    if tkv[0][1] == "llama":
        w.add_bool("tokenizer.ggml.add_space_prefix", True)

    notes = []

    def matrix(gname, hf, tier, order=None):
        arr, qtype = gguf_matrix(st[hf], tier, group, hf, notes)
        if order is not None:
            arr = arr[order]
        w.add_tensor(gname, np.ascontiguousarray(arr), raw_dtype=qtype)

    def vector(gname, hf):
        w.add_tensor(gname, as_f32(st[hf]))

    matrix("token_embd.weight", "model.embed_tokens.weight", embed_tier)
    if llama3:
        w.add_tensor("rope_freqs.weight", rope_factors(cfg))
    for b in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{b}."
        vector(f"blk.{b}.attn_norm.weight", p + "input_layernorm.weight")
        for k, (hf, g) in enumerate(zip(LINEAR, GGUF_LINEAR)):
            rows = st[p + hf + ".weight"][1][0]
            order = None
            if arch == "llama" and k < 2:
                order = llama_rope_order(rows, heads if k == 0 else kv_heads)
            matrix(f"blk.{b}.{g}.weight", p + hf + ".weight", linear[b][k], order)
            if k < 3 and p + hf + ".bias" in st:
                vector(f"blk.{b}.{g}.bias", p + hf + ".bias")
            if k == 1 and p + "self_attn.q_norm.weight" in st:
                vector(f"blk.{b}.attn_q_norm.weight", p + "self_attn.q_norm.weight")
                vector(f"blk.{b}.attn_k_norm.weight", p + "self_attn.k_norm.weight")
        vector(f"blk.{b}.ffn_norm.weight", p + "post_attention_layernorm.weight")
    vector("output_norm.weight", "model.norm.weight")
    if not (tied and lm_tier == embed_tier):
        matrix("output.weight", "model.embed_tokens.weight" if tied else "lm_head.weight", lm_tier)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return notes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="also write the expected .gguf files into this folder")
    args = ap.parse_args()
    os.chdir(ROOT)
    write_inputs()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for case in CASES:
            if not case["model"].exists() if "model" in case else False:
                print(f"skipped {case['name']}: {case['model']} is absent")
                continue
            folder = model_folder(case, work)
            out = work / (case["name"] + ".gguf")
            notes = expected_gguf(case, folder, out)
            digest = hashlib.sha256(out.read_bytes()).hexdigest()
            lines.append(f"{digest}  {case['name']}.gguf\n")
            print(f"{case['name']}: {out.stat().st_size} bytes, raw instead of quantized: {len(notes)} tensors")
            if args.keep:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(out, Path(args.keep) / out.name)
    path = ROOT / "data" / "expected" / "export.sha256"
    path.write_text("".join(lines))
    from importlib.metadata import version
    print(f"wrote {path} (gguf {version('gguf')}, numpy {np.__version__})")


if __name__ == "__main__":
    main()
