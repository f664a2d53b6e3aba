#!/usr/bin/env python3
"""Write the tokenizer of the embedded default model (data/default/), the one `ewq run` uses with no MODEL.

Developer tool, run by hand (never in CI); its output is committed.

    python3 tests/gen/make_default_model.py      # from the repository root

data/default/tokenizer.json: a character-level SentencePiece-style BPE without merges (the layout that
transformers writes for Llama-2 in legacy mode): <unk> <s> </s>, the 256 byte-fallback tokens <0x00>..<0xFF>,
"▁" (the space), and the printable ASCII characters, so any text encodes (other bytes fall back to <0xNN>).
It then checks with the `tokenizers` library that data/default/sample.txt encodes to BOS, the prepended
space and one id per character, and that ewq reads the file (tests/test_run.sh compares ewq's ids with the ones printed here).
The weights are written by ewq itself (see data/default/README.md).
"""
import json
import os

from tokenizers import Tokenizer

OUT = "data/default"

def main():
    specials = ["<unk>", "<s>", "</s>"]
    vocab = {t: i for i, t in enumerate(specials)}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    vocab["\u2581"] = len(vocab)
    for c in range(33, 127):
        vocab[chr(c)] = len(vocab)
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in enumerate(specials)]
    doc = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }
    path = os.path.join(OUT, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    print("wrote %s: %d tokens" % (path, len(vocab)))
    text = open(os.path.join(OUT, "sample.txt"), encoding="utf-8").read()
    ids = Tokenizer.from_file(path).encode(text).ids
    assert ids[0] == 1 and len(ids) == len(text) + 2, (len(ids), len(text))   # BOS, the prepended "▁"
    print("sample.txt: %d ids (BOS, the prepended space, one per character); first 12: %s" % (len(ids), ids[:12]))

if __name__ == "__main__":
    main()
