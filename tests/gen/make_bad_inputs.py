#!/usr/bin/env python3
"""Writes tests/bad/: one broken model folder per input class that ewq must refuse cleanly.

Developer tool, run by hand from the repository root (Python standard library only):
    python3 tests/gen/make_bad_inputs.py
Each case folder holds the (broken) model files and `expect`: a string that ewq's one-line error must
contain. tests/test_bad_inputs.sh runs `ewq inspect` on every case. A tiny valid model (hidden 8, one
block) is the starting point, so every case differs from a working folder by exactly one defect.
"""
import json
import os
import shutil
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bad")

CONFIG = {
    "architectures": ["LlamaForCausalLM"], "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
    "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16, "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0, "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2,
}


def shapes():
    h, i, v, kv = 8, 16, 16, 4
    s = {"model.embed_tokens.weight": [v, h], "model.norm.weight": [h]}
    p = "model.layers.0."
    s.update({p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
              p + "self_attn.q_proj.weight": [h, h], p + "self_attn.k_proj.weight": [kv, h],
              p + "self_attn.v_proj.weight": [kv, h], p + "self_attn.o_proj.weight": [h, h],
              p + "mlp.gate_proj.weight": [i, h], p + "mlp.up_proj.weight": [i, h],
              p + "mlp.down_proj.weight": [h, i]})
    return s


def safetensors(header_edit=None, dtype="F32", data_edit=None, raw_header=None):
    """A valid file for shapes(); header_edit(header) may break the header, data_edit(bytes) the data."""
    header, offset, data = {"__metadata__": {"format": "pt"}}, 0, b""
    for n, (name, shape) in enumerate(sorted(shapes().items())):
        count = 1
        for d in shape:
            count *= d
        blob = struct.pack("<%df" % count, *[((n * 31 + k) % 17 - 8) / 8.0 for k in range(count)])
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        data += blob
    if header_edit:
        header_edit(header)
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    body = struct.pack("<Q", len(text)) + text + data
    return data_edit(body) if data_edit else body


def case(name, expect, files):
    d = os.path.join(OUT, name)
    os.makedirs(d)
    for fname, content in files.items():
        if content is None:   # a folder where a file belongs; git keeps it only with a file inside
            os.makedirs(os.path.join(d, fname))
            open(os.path.join(d, fname, "placeholder"), "w").close()
            continue
        with open(os.path.join(d, fname), "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
    with open(os.path.join(d, "expect"), "w") as f:
        f.write(expect + "\n")


def config(**changes):
    c = dict(CONFIG)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c, indent=1)


def edit(name, key, value):
    def f(h):
        h[name][key] = value
    return f


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    good = safetensors()
    cfg = config()
    q = "model.layers.0.self_attn.q_proj.weight"
    k = "model.layers.0.self_attn.k_proj.weight"

    case("truncated-file", "lie outside", {"config.json": cfg, "model.safetensors": good[:-100]})
    case("shorter-than-length", "shorter than the 8-byte", {"config.json": cfg, "model.safetensors": b"\x10\0\0"})
    case("header-length-beyond-file", "runs past the end",
         {"config.json": cfg, "model.safetensors": struct.pack("<Q", 1 << 20) + good[8:200]})
    case("header-length-over-limit", "exceeds the",
         {"config.json": cfg, "model.safetensors": struct.pack("<Q", 1 << 40) + good[8:]})
    case("header-not-json", "header JSON",
         {"config.json": cfg, "model.safetensors": safetensors(raw_header=b'{"a": [1, 2')})
    case("header-not-object", "not a JSON object",
         {"config.json": cfg, "model.safetensors": safetensors(raw_header=b"[1, 2, 3]")})
    case("offsets-outside-buffer", "lie outside",
         {"config.json": cfg, "model.safetensors": safetensors(edit(q, "data_offsets", [0, 1 << 30]))})
    case("offsets-reversed", "lie outside",
         {"config.json": cfg, "model.safetensors": safetensors(edit(q, "data_offsets", [256, 0]))})
    case("offsets-overlap", "overlap",
         {"config.json": cfg, "model.safetensors": safetensors(lambda h: h[k].update(
             data_offsets=[h[q]["data_offsets"][0], h[q]["data_offsets"][0] + 128]))})
    # an empty tensor sorted between two overlapping ones once hid the overlap from the neighbour-only check
    case("offsets-overlap-past-empty", "overlap",
         {"config.json": cfg, "model.safetensors": safetensors(lambda h: h.update({
             "x.empty": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]},
             "x.inside": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}}))})
    case("tensor-name-control-char", "control character",
         {"config.json": cfg, "model.safetensors": safetensors(lambda h: h.update({
             "x.\x1b[2Jname": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}))})
    case("wrong-byte-count", "shape and dtype need",
         {"config.json": cfg, "model.safetensors": safetensors(edit(q, "shape", [8, 9]))})
    case("shape-negative", "not a non-negative integer",
         {"config.json": cfg, "model.safetensors": safetensors(edit(q, "shape", [-8, -8]))})
    case("shape-overflow", "overflows",
         {"config.json": cfg, "model.safetensors": safetensors(edit(q, "shape", [1 << 62, 1 << 62]))})
    case("unknown-dtype", "dtype 'I64'",
         {"config.json": cfg, "model.safetensors": safetensors(edit(q, "dtype", "I64"))})
    case("dtype-not-string", "non-string dtype",
         {"config.json": cfg, "model.safetensors": safetensors(edit(q, "dtype", 7))})
    case("misaligned-data", "not aligned",
         {"config.json": cfg, "model.safetensors": safetensors(lambda h: [
             h[n].update(data_offsets=[h[n]["data_offsets"][0] + 2, h[n]["data_offsets"][1] + 2])
             for n in h if n != "__metadata__"], data_edit=lambda b: b + b"\0\0")})
    case("config-malformed", "config.json: byte",
         {"config.json": cfg[:-3], "model.safetensors": good})
    case("config-missing-key", 'missing key "hidden_size"',
         {"config.json": config(hidden_size=None), "model.safetensors": good})
    case("config-bad-value", '"num_attention_heads" must be an integer',
         {"config.json": config(num_attention_heads=-2), "model.safetensors": good})
    case("config-heads-mismatch", "not a multiple of num_key_value_heads",
         {"config.json": config(num_key_value_heads=3), "model.safetensors": good})
    case("unknown-architecture", "unknown architecture 'GPT2LMHeadModel'",
         {"config.json": config(architectures=["GPT2LMHeadModel"]), "model.safetensors": good})
    case("unsupported-rope-scaling", "rope_scaling type 'yarn'",
         {"config.json": config(rope_scaling={"rope_type": "yarn", "factor": 4.0}), "model.safetensors": good})
    case("missing-tensor", "'model.layers.0.mlp.up_proj.weight' is missing",
         {"config.json": cfg, "model.safetensors": safetensors(
             lambda h: h.update({"model.layers.0.mlp.up_proj.weight_renamed":
                                 h.pop("model.layers.0.mlp.up_proj.weight")}))})
    case("untied-without-lm-head", "'lm_head.weight' is missing",
         {"config.json": config(tie_word_embeddings=False), "model.safetensors": good})
    case("wrong-shape", "has shape [4, 8], expected [8, 8]",
         {"config.json": config(num_key_value_heads=2), "model.safetensors": good})
    case("no-config", "config.json: No such file", {"model.safetensors": good})
    case("no-weights", "model.safetensors: No such file", {"config.json": cfg})
    case("config-is-folder", "is a folder, expected a file", {"config.json": None, "model.safetensors": good})
    case("index-bad-shard-name", "does not name a file in the model folder",
         {"config.json": cfg, "model.safetensors": good,
          "model.safetensors.index.json": json.dumps({"weight_map": {q: "../model.safetensors"}})})
    case("index-tensor-not-in-shard", "is listed in shard",
         {"config.json": cfg, "model.safetensors": good,
          "model.safetensors.index.json": json.dumps({"weight_map": {"not.a.tensor": "model.safetensors"}})})
    # found by fuzz/index: the message lost the file name when the name did not fit in the message
    case("index-shard-name-too-long", "File name too long",
         {"config.json": cfg, "model.safetensors": good,
          "model.safetensors.index.json": json.dumps({"weight_map": {q: "m" * 2000 + ".safetensors"}})})
    case("index-malformed", "model.safetensors.index.json: byte",
         {"config.json": cfg, "model.safetensors": good, "model.safetensors.index.json": '{"weight_map": '})
    print("wrote", len(os.listdir(OUT)), "cases to", OUT)


if __name__ == "__main__":
    main()
