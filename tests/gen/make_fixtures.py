#!/usr/bin/env python3
"""Generate the tiny random-weight Hugging Face checkpoints that ewq's tests use as oracles.

Developer tool, run by hand (never in CI); its outputs are committed.

    python3 tests/gen/make_fixtures.py        # from the repository root

Needs torch, transformers and safetensors. The committed files were produced by the versions
recorded in data/fixtures/VERSIONS.txt (written by this script): torch 2.15.0+cu132,
transformers 5.23.0, safetensors 0.8.0, Python 3.11.7. Other versions may write different bytes
and config.json layouts (transformers >= 5 writes "dtype" and "rope_parameters"; 4.x wrote
"torch_dtype", "rope_theta" and "rope_scaling").

Writes:
  data/fixtures/<name>/     config.json, generation_config.json, *.safetensors (+ index when
                            sharded), exactly as save_pretrained writes them, and expected.json
                            holding the config as transformers interprets it and the tensor list
                            read back from the safetensors files.
  data/fixtures/VERSIONS.txt
  data/expected/configs.json  the same "config" object for each real config in
                            ../shared/assets/configs/*/config.json, keyed by folder name.
  data/fixtures/<name>/logits-*.f32  the oracle's logits (little-endian float32, [12][256]) for
                            the fixed token sequence in expected.json's "oracle" object:
                              raw      the checkpoint run by transformers in float32, eager
                              native   (BF16/F16 fixtures) transformers in the checkpoint's dtype
                              int8, int4  the float32 model whose block linears hold the values of
                                       ewq's packed format, decoded by tests/gen/pack_reference.py (an
                                       independent numpy implementation of ewq.h's layout; the
                                       FNV-1a checksums of its bytes are in "packed")
                              int4-all (two fixtures) embed_tokens and lm_head packed too
                            plus 16 greedy tokens after the first 4 of the sequence.
  data/expected/stories260K.json, data/expected/tinystories-6144.tokens  for the real stories260K
                            model: 64 greedy tokens from BOS (and their text, decoded by HF
                            tokenizers), and llama.cpp-protocol perplexity
                            on the first 6144 tokens of the TinyStories text (tokenized with HF
                            tokenizers), raw and int4 vs raw (KL divergence, top-1 agreement).

Every fixture is seeded on its own, so adding or reordering fixtures does not change the others.
Per-fixture outputs come from `expected_for` below; the model it receives is the written fixture loaded back by from_pretrained (dtype "auto", eager
attention, eval mode), i.e. what a user of transformers would run. (The in-memory model that
was saved is not used: model.to(bfloat16/float16) also rounds its rotary inv_freq buffer.)
"""

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import safetensors
import torch
import transformers
from safetensors import safe_open
from transformers import (AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM,
                          MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM,
                          Qwen3Config, Qwen3ForCausalLM)
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pack_reference  # noqa: E402  (tests/gen/pack_reference.py)

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "data" / "fixtures"
EXPECTED = REPO / "data" / "expected"
REAL_CONFIGS = REPO.parent / "shared" / "assets" / "configs"

# Random-weight scales, chosen so that logits are far from flat (per-position logit std ~1.6 with
# hidden 64) and so that the layers, not the embedding, decide the output: with a larger
# embedding/projection ratio the tied Qwen2 fixtures mostly predict their own input token, which
# would let a model that skips its blocks pass greedy tests. A wrong norm weight, bias or head
# layout changes the output visibly.
EMBED_STD = 0.2     # embed_tokens and lm_head (one matrix when tied)
WEIGHT_STD = 0.15   # attention and MLP projections
NORM_STD = 0.1      # RMSNorm weights are 1 + NORM_STD * randn
BIAS_STD = 0.1      # biases are BIAS_STD * randn

# Shapes shared by all fixtures: GQA (4 query heads over 2 KV heads), head_dim 16.
TINY = dict(vocab_size=256, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            bos_token_id=1, eos_token_id=2)

LLAMA3_ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
               "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}

DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


@dataclass
class Fixture:
    name: str
    config_class: type
    model_class: type
    config: dict                   # arguments for config_class on top of TINY
    dtype: torch.dtype
    seed: int
    max_shard_size: str = "50GB"   # save_pretrained's default: a single file


# rms_norm_eps: 1e-5 for Llama/Mistral, 1e-6 for Qwen, as in the real checkpoints (so a loader
# that ignores the field is caught).

def llama3_config():
    # original_max_position_embeddings must stay below max_position_embeddings (transformers warns
    # otherwise, and real Llama 3.x configs respect it); this value has no effect on the weights.
    return dict(rope_parameters=dict(LLAMA3_ROPE), max_position_embeddings=16384,
                rms_norm_eps=1e-5, tie_word_embeddings=False)


def llama2_config():
    return dict(rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
                num_key_value_heads=TINY["num_attention_heads"], rms_norm_eps=1e-5,
                tie_word_embeddings=False)


def qwen2_config():
    return dict(rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
                sliding_window=None)


def qwen3_config():
    return dict(rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                head_dim=32, rms_norm_eps=1e-6, tie_word_embeddings=False,
                use_sliding_window=False, sliding_window=None)


def mistral_config():
    return dict(rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
                rms_norm_eps=1e-5, tie_word_embeddings=False, sliding_window=None)


FIXTURE_SPECS = [
    Fixture("llama3-f32", LlamaConfig, LlamaForCausalLM, llama3_config(), torch.float32, 101),
    Fixture("llama3-bf16", LlamaConfig, LlamaForCausalLM, llama3_config(), torch.bfloat16, 102),
    Fixture("qwen2-f32", Qwen2Config, Qwen2ForCausalLM, qwen2_config(), torch.float32, 201),
    Fixture("qwen2-f16", Qwen2Config, Qwen2ForCausalLM, qwen2_config(), torch.float16, 202),
    Fixture("qwen3-f32", Qwen3Config, Qwen3ForCausalLM, qwen3_config(), torch.float32, 301),
    Fixture("qwen3-bf16", Qwen3Config, Qwen3ForCausalLM, qwen3_config(), torch.bfloat16, 302),
    Fixture("llama2-f32", LlamaConfig, LlamaForCausalLM, llama2_config(), torch.float32, 401),
    # Same seed as llama2-f32: identical weights, split over several files.
    Fixture("llama2-sharded", LlamaConfig, LlamaForCausalLM, llama2_config(), torch.float32, 401,
            max_shard_size="200KB"),
    Fixture("mistral-f32", MistralConfig, MistralForCausalLM, mistral_config(), torch.float32, 501),
]


def randomize(model, seed):
    """Overwrite every parameter from a generator seeded with `seed`.

    HF initializes norms to 1 and biases to 0, which would hide loader bugs (a missing q_norm or
    bias would go unnoticed), so those are randomized too. Parameters are visited in
    named_parameters() order, which also de-duplicates tied weights.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if name.endswith(".bias"):
                p.copy_(BIAS_STD * noise)
            elif p.dim() == 1 and "norm" in name:
                p.copy_(1.0 + NORM_STD * noise)
            elif p.dim() == 2 and ("embed_tokens" in name or "lm_head" in name):
                p.copy_(EMBED_STD * noise)
            elif p.dim() == 2:
                p.copy_(WEIGHT_STD * noise)
            else:
                raise ValueError(f"no randomization rule for parameter {name} {tuple(p.shape)}")


def build_model(spec):
    """The HF model for `spec`: random weights in spec.dtype, eval mode, eager attention."""
    config = spec.config_class(**{**TINY, **spec.config}, attn_implementation="eager")
    torch.manual_seed(spec.seed)  # HF's own init; every parameter is overwritten below anyway
    model = spec.model_class(config)
    randomize(model, spec.seed)
    return model.to(spec.dtype).eval()


def llama3_bands(config):
    """Classify each rotary frequency into its llama3 band, two ways, and check they agree.

    transformers' llama3 inverse frequencies are compared with the unscaled theta^(-2i/d): ratio
    1 is the unscaled band, 1/factor the scaled band, anything between is smoothed. The same
    split is computed from the wavelength thresholds of the llama3 recipe. (The model's own
    inv_freq buffer is not used: model.to(bfloat16) rounds it.)
    """
    rp = config.rope_parameters
    d = config.head_dim
    base = 1.0 / (rp["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    hf, _ = ROPE_INIT_FUNCTIONS["llama3"](config)
    bands_hf = []
    for r in (hf.to(torch.float64) / base).tolist():
        if math.isclose(r, 1.0, rel_tol=1e-5):
            bands_hf.append("unscaled")
        elif math.isclose(r, 1.0 / rp["factor"], rel_tol=1e-5):
            bands_hf.append("scaled")
        else:
            bands_hf.append("smoothed")
    orig = rp["original_max_position_embeddings"]
    high_wavelen = orig / rp["high_freq_factor"]
    low_wavelen = orig / rp["low_freq_factor"]
    bands_formula = []
    for f in base.tolist():
        wavelen = 2 * math.pi / f
        bands_formula.append("unscaled" if wavelen < high_wavelen else
                             "scaled" if wavelen > low_wavelen else "smoothed")
    assert bands_hf == bands_formula, (bands_hf, bands_formula)
    counts = {b: bands_hf.count(b) for b in ("unscaled", "smoothed", "scaled")}
    assert all(counts.values()), f"llama3 fixture does not exercise every band: {counts}"
    return bands_hf


def rope_of(config):
    """(rope_theta, rope_scaling) from a transformers config, in the plain pre-v5 form.

    transformers >= 5 folds rope_theta into `rope_parameters` (rope_type "default" when unscaled);
    older versions expose rope_theta and rope_scaling directly.
    """
    rp = getattr(config, "rope_parameters", None)
    if rp is None:
        return float(config.rope_theta), config.rope_scaling
    assert "rope_theta" in rp, f"per-layer-type rope_parameters are not expected here: {rp}"
    scaling = {k: v for k, v in rp.items() if k != "rope_theta"}
    return float(rp["rope_theta"]), None if scaling.get("rope_type") == "default" else scaling


def dtype_of(config):
    """Weight dtype declared by a config, as a safetensors dtype string."""
    dt = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dt, str):
        dt = getattr(torch, dt)
    return DTYPES[dt]


def config_summary(config):
    """The "config" object of expected.json / configs.json for a transformers config."""
    rope_theta, rope_scaling = rope_of(config)
    return {
        "architecture": config.architectures[0],
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "head_dim": getattr(config, "head_dim", None)
                    or config.hidden_size // config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "vocab_size": config.vocab_size,
        "max_position_embeddings": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps,
        "rope_theta": rope_theta,
        "rope_scaling": rope_scaling,
        "tie_word_embeddings": config.tie_word_embeddings,
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
        "dtype": dtype_of(config),
    }


def tensor_list(folder):
    """Every tensor in the folder's safetensors files, as stored, sorted by name."""
    tensors = []
    for path in sorted(folder.glob("*.safetensors")):
        with safe_open(path, framework="pt") as f:
            for name in f.keys():
                sl = f.get_slice(name)
                tensors.append({"name": name, "dtype": sl.get_dtype(),
                                "shape": list(sl.get_shape()), "file": path.name})
    return sorted(tensors, key=lambda t: t["name"])


def load_f32(folder):
    """The checkpoint as transformers runs it in float32 (eager attention): ewq's own arithmetic.
    BF16 and F16 values widen to float32 exactly, so this model holds the checkpoint's own values."""
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                attn_implementation="eager").eval()


def linear_modules(model):
    """(hf name, module) of every block linear, in ewq's order (ewq_linear_names)."""
    names = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
             "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
    for i, layer in enumerate(model.model.layers):
        for n in names:
            yield f"model.layers.{i}.{n}.weight", layer.get_submodule(n)


def quantized_model(folder, tier, outside=False):
    """The float32 model with its block linears (and, if `outside`, embed_tokens and lm_head) replaced
    by their ewq-packed values, decoded by tests/gen/pack_reference.py (groups of 64, int4 range shrink
    on). Also returns, per packed tensor, FNV-1a checksums of the bytes ewq must produce."""
    model = load_f32(folder)
    sums = {}
    targets = list(linear_modules(model))
    if outside:
        targets.append(("model.embed_tokens.weight", model.model.embed_tokens))
        if not model.config.tie_word_embeddings:
            targets.append(("lm_head.weight", model.lm_head))
    with torch.no_grad():
        for name, module in targets:
            arrays, deq = pack_reference.pack(module.weight.numpy(), tier, group=64, shrink=True)
            module.weight.copy_(torch.from_numpy(deq))
            sums[name] = {k: pack_reference.fnv1a64(v) for k, v in arrays.items()}
    return model, sums


def all_logits(model, tokens):
    with torch.no_grad():
        return model(torch.tensor([tokens])).logits[0].float().numpy()


def write_logits(folder, name, logits):
    """Row-major [positions][vocab] little-endian float32, no header (shape is in expected.json)."""
    path = folder / f"logits-{name}.f32"
    logits.astype("<f4").tofile(path)
    return path.name


def greedy(model, prompt, n):
    """n greedy tokens after prompt (no stop at EOS), and the smallest top-1 margin along the way."""
    ids, margin = list(prompt), float("inf")
    with torch.no_grad():
        for _ in range(n):
            last = model(torch.tensor([ids])).logits[0, -1].double()
            top2 = torch.topk(last, 2).values
            margin = min(margin, float(top2[0] - top2[1]))
            ids.append(int(last.argmax()))
    return ids[len(prompt):], margin


ORACLE_POSITIONS = 12


def oracle_for(spec, model, folder):
    """Logits and greedy tokens from transformers for one fixture (see the module docstring)."""
    gen = torch.Generator().manual_seed(spec.seed + 7)
    vocab = model.config.vocab_size
    tokens = [model.config.bos_token_id] + torch.randint(3, vocab, (ORACLE_POSITIONS - 1,), generator=gen).tolist()
    f32 = load_f32(folder)
    logits = {"raw": write_logits(folder, "raw", all_logits(f32, tokens))}
    if spec.dtype != torch.float32:
        logits["native"] = write_logits(folder, "native", all_logits(model, tokens))
    packed = {}
    for tier in ("int8", "int4"):
        qmodel, packed[tier] = quantized_model(folder, tier)
        logits[tier] = write_logits(folder, tier, all_logits(qmodel, tokens))
    if spec.name in OUTSIDE_TOO:
        qmodel, packed["int4-all"] = quantized_model(folder, "int4", outside=True)
        logits["int4-all"] = write_logits(folder, "int4-all", all_logits(qmodel, tokens))
    prompt = tokens[:4]
    cont, margin = greedy(f32, prompt, 16)
    assert margin > 1e-3, f"{spec.name}: greedy path has a near tie ({margin})"
    return {"tokens": tokens, "vocab": vocab, "logits": logits, "packed": packed,
            "greedy": {"prompt": prompt, "tokens": cont, "min_margin": margin}}


# Fixtures whose embedding and lm_head are also packed (int4) in one oracle variant: one tied, one untied.
OUTSIDE_TOO = {"qwen2-f32", "llama3-f32"}


def expected_for(spec, model, folder):
    """expected.json for a written fixture, `model` being it as loaded back from `folder`."""
    config = config_summary(AutoConfig.from_pretrained(folder))
    assert config["head_dim"] == model.model.layers[0].self_attn.head_dim
    return {"config": config, "tensors": tensor_list(folder), "oracle": oracle_for(spec, model, folder)}


def write_fixture(spec):
    folder = FIXTURES / spec.name
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    model = build_model(spec)
    if model.config.rope_parameters["rope_type"] == "llama3":
        bands = llama3_bands(model.config)
        print(f"{spec.name}: llama3 bands per frequency pair: {bands}")
    model.save_pretrained(folder, max_shard_size=spec.max_shard_size)
    loaded = AutoModelForCausalLM.from_pretrained(folder, dtype="auto",
                                                  attn_implementation="eager").eval()
    expected = expected_for(spec, loaded, folder)
    assert expected["config"]["dtype"] == DTYPES[spec.dtype]
    assert {t["dtype"] for t in expected["tensors"]} == {DTYPES[spec.dtype]}
    with open(folder / "expected.json", "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    return folder


STORIES = REPO.parent / "shared" / "assets" / "stories260K"
TINYSTORIES = REPO.parent / "shared" / "assets" / "text" / "tinystories_validation_100.txt"
STORIES_TOKENS = 6144          # the first 6144 tokens of the text: 12 chunks of 512
PPL_CTX = (512, 128)


def ppl_protocol(model, tokens, ctx, bos, ref=None):
    """llama.cpp's llama-perplexity protocol (ewq.h, "Evaluation"): chunks of ctx tokens (remainder dropped),
    BOS as each chunk's first token, logits at positions ctx/2 .. ctx-2 scored against the next
    token. Returns perplexity, its standard error (as llama.cpp prints it) and, with a reference
    model, the mean KL divergence KL(ref || model) and the share of positions where the top-1
    tokens agree. Everything in double from float32 logits."""
    nll, nll2, kl, agree, count = 0.0, 0.0, 0.0, 0, 0
    for ch in range(len(tokens) // ctx):
        chunk = list(tokens[ch * ctx:(ch + 1) * ctx])
        chunk[0] = bos
        first = ctx // 2
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([chunk])).logits[0].double(), -1)
            ref_logp = torch.log_softmax(ref(torch.tensor([chunk])).logits[0].double(), -1) if ref else None
        for j in range(first, ctx - 1):
            x = -float(logp[j, chunk[j + 1]])
            nll += x
            nll2 += x * x
            count += 1
            if ref is not None:
                kl += float((ref_logp[j].exp() * (ref_logp[j] - logp[j])).sum())
                agree += int(ref_logp[j].argmax() == logp[j].argmax())
    mean = nll / count
    var = nll2 / count - mean * mean
    out = {"ctx": ctx, "chunks": len(tokens) // ctx, "scored": count, "ppl": math.exp(mean),
           "ppl_stderr": math.sqrt(var / (count - 1)) * math.exp(mean)}
    if ref is not None:
        out.update(kl=kl / count, top1_agree=agree / count)
    return out


def write_stories_oracle():
    """data/expected/stories260K.json and the token file it was measured on, for the real
    stories260K checkpoint: greedy tokens from BOS, and perplexity by the llama.cpp protocol (raw,
    and with int4-packed blocks against raw for KL divergence and top-1 agreement)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(STORIES / "tokenizer.json"))
    ids = tok.encode(TINYSTORIES.read_text(encoding="utf-8")).ids
    assert ids[0] == 1 and len(ids) > STORIES_TOKENS, (ids[:3], len(ids))
    ids = ids[:STORIES_TOKENS]
    token_file = EXPECTED / "tinystories-6144.tokens"
    with open(token_file, "w") as f:
        for i in range(0, len(ids), 32):
            f.write(" ".join(map(str, ids[i:i + 32])) + "\n")
    raw = load_f32(STORIES)
    cont, margin = greedy(raw, [1], 64)
    q4, _ = quantized_model(STORIES, "int4")
    out = {"token_file": token_file.name, "tokenizer": "stories260K/tokenizer.json (HF tokenizers "
           f"{__import__('tokenizers').__version__})", "greedy_from_bos": {"tokens": cont, "text": tok.decode(cont), "min_margin": margin},
           "ppl": [ppl_protocol(raw, ids, ctx, 1) for ctx in PPL_CTX],
           "ppl_int4_vs_raw": [ppl_protocol(q4, ids, ctx, 1, ref=raw) for ctx in PPL_CTX]}
    with open(EXPECTED / "stories260K.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return out


def write_real_configs():
    """data/expected/configs.json: the real configs as transformers reads them."""
    out = {}
    for folder in sorted(p.parent for p in REAL_CONFIGS.glob("*/config.json")):
        summary = config_summary(AutoConfig.from_pretrained(folder))
        with open(folder / "config.json") as f:
            raw = json.load(f)
        # Record rope_scaling as the file states it, and check transformers agrees with it.
        assert summary["rope_theta"] == float(raw["rope_theta"]), folder.name
        assert summary["rope_scaling"] == raw.get("rope_scaling"), \
            (folder.name, summary["rope_scaling"], raw.get("rope_scaling"))
        out[folder.name] = summary
    EXPECTED.mkdir(parents=True, exist_ok=True)
    with open(EXPECTED / "configs.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return out


def main():
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with open(FIXTURES / "VERSIONS.txt", "w") as f:
        f.write(f"python {sys.version.split()[0]}\ntorch {torch.__version__}\n"
                f"transformers {transformers.__version__}\nsafetensors {safetensors.__version__}\n")
    folders = [write_fixture(spec) for spec in FIXTURE_SPECS]
    # safetensors writes its files 0600; give them the mode a git checkout has, so tests that run ewq as
    # another user (the unreadable-file cases of tests/test_cli_matrix.sh) behave as on a fresh clone
    for path in FIXTURES.rglob("*"):
        if path.is_file():
            path.chmod(0o644)
    real = write_real_configs()
    stories = write_stories_oracle() if STORIES.exists() else None

    total = 0
    print(f"\n{'fixture':<16} {'bytes':>9}  files")
    for folder in folders:
        files = sorted(folder.iterdir())
        size = sum(p.stat().st_size for p in files)
        total += size
        print(f"{folder.name:<16} {size:>9}  {', '.join(p.name for p in files)}")
    print(f"{'total':<16} {total:>9}")
    print(f"real configs: {', '.join(real)} -> {(EXPECTED / 'configs.json').relative_to(REPO)}")
    if stories:
        print(f"stories260K: ppl {[round(p['ppl'], 4) for p in stories['ppl']]} at ctx {PPL_CTX}, "
              f"greedy margin {stories['greedy_from_bos']['min_margin']:.4f}")


if __name__ == "__main__":
    main()
