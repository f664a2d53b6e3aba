#!/usr/bin/env python3
"""Writes small tokenizer.json seeds for fuzz_tokenizer and fuzz_encode (tests/fuzz/corpus/tokenizer/).

Developer tool, run by hand from the repository root (Python standard library only):
    python3 tests/fuzz/make_tokenizer_seeds.py
Three synthetic tokenizers, each of a kind ewq reads, with the structure of the real files (normalizer,
pre_tokenizer, post_processor, added tokens) but a vocabulary of a few hundred tokens, so that fuzzing
mutates small files and every seed still loads:
  byte-level-llama3.json   Llama-3 style: no normalizer, the \\p{N}{1,3} split pattern, ignore_merges
  byte-level-qwen.json     Qwen style: NFC, the \\p{N} split pattern, merges written as pairs
  sentencepiece.json       Llama-2 style: Prepend/Replace normalizer, byte fallback, <unk> with fuse_unk
"""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tokenizer")
PATTERN = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
           "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
TEXT_PAIRS = ["t h", "Ġ t", "h e", "Ġt he", "i n", "e r", "Ġ a", "o n", "r e", "Ġ s", "a t", "e n", "o u", "Ġ w",
              "i s", "Ġ o", "Ġ b", "Ġ c", "n d", "Ġa nd", "Ġ i", "Ġ m", "in g", "Ġ the", "1 2", "12 3", "Ċ Ċ", "Ġ Ġ"]


def byte_chars():
    """GPT-2's byte-to-unicode map, as the byte-level pre-tokenizer uses it."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def added(id_, content):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def bpe_vocab(base, pairs):
    vocab = {t: i for i, t in enumerate(base)}
    merges = []
    for p in pairs:
        a, b = p.split(" ")
        if a in vocab and b in vocab and a + b not in vocab:
            vocab[a + b] = len(vocab)
            merges.append([a, b])
    return vocab, merges


def byte_level(qwen):
    vocab, merges = bpe_vocab(byte_chars(), TEXT_PAIRS)
    n = len(vocab)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] if qwen else ["<|begin_of_text|>", "<|end_of_text|>"]
    level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": not qwen, "use_regex": False}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(n + i, s) for i, s in enumerate(specials)],
        "normalizer": {"type": "NFC"} if qwen else None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PATTERN.replace("{1,3}", "") if qwen else PATTERN},
             "behavior": "Isolated", "invert": False}, level]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": not qwen, "trim_offsets": False,
                           "use_regex": not qwen},
        "decoder": {"type": "ByteLevel", "add_prefix_space": not qwen, "trim_offsets": not qwen, "use_regex": not qwen},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "" if qwen else None,
                  "end_of_word_suffix": "" if qwen else None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": not qwen, "vocab": vocab,
                  "merges": merges if qwen else [" ".join(m) for m in merges]},
    }


def sentencepiece():
    base = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + ["▁"] + [chr(c) for c in range(97, 123)]
    pairs = [p.replace("Ġ", "▁") for p in TEXT_PAIRS if "Ċ" not in p]
    vocab, merges = bpe_vocab(base, pairs)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                          {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [" ".join(m) for m in merges]},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, tok in [("byte-level-llama3", byte_level(False)), ("byte-level-qwen", byte_level(True)),
                      ("sentencepiece", sentencepiece())]:
        with open(os.path.join(OUT, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
    print("wrote 3 seeds to", OUT)


if __name__ == "__main__":
    main()
