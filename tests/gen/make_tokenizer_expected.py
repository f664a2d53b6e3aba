#!/usr/bin/env python3
"""Writes the expected token ids that tests/test_tokenizer.c compares ewq's tokenizer with, as the Hugging
Face `tokenizers` library encodes them, into data/expected/tokenizer/. Developer tool (needs `tokenizers`
and `sentencepiece`, see tests/requirements-dev.txt); run from the repository root:

    python3 tests/gen/make_tokenizer_expected.py

For each tokenizer (llama3, qwen3, llama2-spm, stories260K, smollm2) and each input it writes NAME.INPUT.ids:
a sequence of records, each a LEB128 varint count n followed by n LEB128 varint ids (LEB128: 7 bits per
byte, least significant first, high bit set on every byte but the last).
Inputs, read as bytes and decoded with errors="replace" (the tokenizers library takes str only; ewq
replaces ill-formed UTF-8 the same way):
  wiki         ../shared/assets/text/wiki.test.raw (1 record)
  tinystories  ../shared/assets/text/tinystories_validation_100.txt (1 record)
  stress       tests/tokenizer_stress.txt (1 record)
  adversarial  the five texts of adversarial_texts() below, which test_tokenizer.c builds the same way
               (5 records)
  bos          "Hello world" encoded with add_special_tokens=True (1 record): what the post-processor adds
All other ids are from encode(text, add_special_tokens=False).
For the byte-level tokenizers, NAME.stress.decoded holds decode(stress ids, skip_special_tokens=False).
For the two SentencePiece models it also encodes with the `sentencepiece` package on tokenizer.model and
writes the comparison of the two references to references.txt, with the cases of data/expected/nfc.txt
(from the UCD, see tests/gen/make_unicode_tables.py) on which the library's NFC normalizer disagrees.
It also writes tests/template_tokenizer.json, tests/metaspace_*_tokenizer.json and tests/digits_*_tokenizer.json
with their expected ids (see write_template_tokenizer, write_metaspace_tokenizers and write_digits_tokenizers), and
tests/nfc_tokenizer.json: a byte-level tokenizer with Qwen's pattern,
NFC, and no merges, with which test_tokenizer.c reads ewq's NFC back through encode and decode.
"""
import os
import sys

import json

import sentencepiece as spm
import tokenizers
from tokenizers import Tokenizer, normalizers

ASSETS = os.path.join("..", "shared", "assets")
OUT = os.path.join("data", "expected", "tokenizer")
TOKENIZERS = {
    "llama3": os.path.join(ASSETS, "tokenizers", "llama3"),
    "qwen3": os.path.join(ASSETS, "tokenizers", "qwen3"),
    "llama2-spm": os.path.join(ASSETS, "tokenizers", "llama2-spm"),
    "stories260K": os.path.join(ASSETS, "stories260K"),
    "smollm2": os.path.join(ASSETS, "smollm2-135m"),
}
INPUTS = {
    "wiki": os.path.join(ASSETS, "text", "wiki.test.raw"),
    "tinystories": os.path.join(ASSETS, "text", "tinystories_validation_100.txt"),
    "stress": os.path.join("tests", "tokenizer_stress.txt"),
}


def adversarial_texts():
    """Inputs that make a naive BPE or pre-tokenizer quadratic. test_tokenizer.c builds the same bytes."""
    return [
        "a" * 20000,                                                # one letter: one piece, 20000 symbols
        " " * 20000 + "x",                                          # one whitespace run
        "".join(chr(ord("a") + i * 7 % 26) for i in range(20000)),  # letters without a space
        "1234567890" * 2000,                                        # digits
        "e" + "\u0301\u0323" * 5000,                                # combining marks to reorder (NFC)
    ]


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def write_records(path, records):
    with open(path, "wb") as f:
        for ids in records:
            f.write(varint(len(ids)))
            f.write(b"".join(varint(i) for i in ids))


def byte_to_unicode(b):
    if 33 <= b <= 126 or 161 <= b <= 172 or b >= 174:
        return chr(b)
    return chr(256 + sum(1 for x in range(b) if not (33 <= x <= 126 or 161 <= x <= 172 or x >= 174)))


def write_nfc_tokenizer():
    """The Qwen3 tokenizer's normalizer and pre-tokenizer with only the 256 byte tokens."""
    qwen = json.load(open(os.path.join(TOKENIZERS["qwen3"], "tokenizer.json"), encoding="utf-8"))
    doc = {"version": "1.0", "added_tokens": [], "normalizer": qwen["normalizer"],
           "pre_tokenizer": qwen["pre_tokenizer"], "post_processor": None, "decoder": qwen["decoder"],
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "ignore_merges": False,
                     "vocab": {byte_to_unicode(b): b for b in range(256)}, "merges": []}}
    with open(os.path.join("tests", "nfc_tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


def write_template_tokenizer():
    """tests/template_tokenizer.json: Llama-3's pre-tokenizer with only the byte tokens, one added
    <|begin_of_text|>, and the post-processor newer Llama-3 files carry: Sequence[ByteLevel,
    TemplateProcessing(<|begin_of_text|> $A)]. Its "Hello world" with special tokens is the bos record."""
    llama3 = json.load(open(os.path.join(TOKENIZERS["llama3"], "tokenizer.json"), encoding="utf-8"))
    bos = {"id": "<|begin_of_text|>", "type_id": 0}
    doc = {"version": "1.0", "normalizer": None, "pre_tokenizer": llama3["pre_tokenizer"],
           "added_tokens": [{"id": 256, "content": "<|begin_of_text|>", "single_word": False, "lstrip": False,
                             "rstrip": False, "normalized": False, "special": True}],
           "post_processor": {"type": "Sequence", "processors": [
               llama3["post_processor"],
               {"type": "TemplateProcessing",
                "single": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": bos},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [256],
                                                         "tokens": ["<|begin_of_text|>"]}}}]},
           "decoder": llama3["decoder"],
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "ignore_merges": True,
                     "vocab": {byte_to_unicode(b): b for b in range(256)}, "merges": []}}
    path = os.path.join("tests", "template_tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    tok = Tokenizer.from_file(path)
    write_records(os.path.join(OUT, "template.bos.ids"), [tok.encode("Hello world", add_special_tokens=True).ids])


def write_metaspace_tokenizers():
    """tests/metaspace_{first,always}_tokenizer.json: small SentencePiece-style tokenizers as transformers
    converts such models outside legacy mode (no normalizer, a Metaspace pre-tokenizer, split false), with
    prepend_scheme "first" and "always": <unk> <s> </s>, the 256 <0xNN> byte tokens, "▁", the ASCII letters
    and a few merges. Records NAME.stress.ids and NAME.tinystories.ids for each."""
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"<0x{b:02X}>": 3 + b for b in range(256)})
    for piece in ["\u2581"] + [chr(c) for c in range(ord("A"), ord("z") + 1) if chr(c).isalpha()]:
        vocab[piece] = len(vocab)
    merges = [["\u2581", "t"], ["h", "e"], ["\u2581t", "he"], ["\u2581", "a"], ["i", "n"], ["\u2581", "\u2581"],
              ["\u2581\u2581", "\u2581\u2581"], ["\u2581a", "n"], ["\u2581an", "d"], ["\u2581", "s"]]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    texts = {name: open(INPUTS[name], "rb").read().decode("utf-8", "replace")
             for name in ("stress", "tinystories")}
    for scheme in ("first", "always"):
        doc = {"version": "1.0", "truncation": None, "padding": None,
               "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                                 "normalized": False, "special": True}
                                for i, c in enumerate(["<unk>", "<s>", "</s>"])],
               "normalizer": None,
               "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme,
                                 "split": False},
               "post_processor": None,
               "decoder": {"type": "Sequence", "decoders": [
                   {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "ByteFallback"},
                   {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
               "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                         "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                         "byte_fallback": True, "ignore_merges": False, "vocab": vocab, "merges": merges}}
        path = os.path.join("tests", f"metaspace_{scheme}_tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        tok = Tokenizer.from_file(path)
        for iname, text in texts.items():
            write_records(os.path.join(OUT, f"metaspace-{scheme}.{iname}.ids"),
                          [tok.encode(text, add_special_tokens=False).ids])


def write_digits_tokenizers():
    """tests/digits_{each,runs}_tokenizer.json: GPT-2-style byte-level BPE after a Digits pre-tokenizer
    (individual_digits true and false), as the SmolLM2 and StarCoder files on the Hub have it: the 256 byte
    tokens, the tokens of SmolLM2's first 1000 merges, and merges of digits with digits and with a leading
    space (Ġ), which only a piece holding several digits, or a space and a digit, can use; so the ids tell
    apart where Digits cut the text. Records NAME.{stress,tinystories,adversarial}.ids for each."""
    smol = json.load(open(os.path.join(TOKENIZERS["smollm2"], "tokenizer.json"), encoding="utf-8"))
    vocab = {byte_to_unicode(b): b for b in range(256)}
    merges = [m.split(" ") if isinstance(m, str) else m for m in smol["model"]["merges"][:1000]]
    digits = [str(d) for d in range(10)]
    merges += [["\u0120", d] for d in digits] + [[a, b] for a in digits for b in digits]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    texts = {name: open(INPUTS[name], "rb").read().decode("utf-8", "replace") for name in ("stress", "tinystories")}
    texts["adversarial"] = adversarial_texts()
    for name, each in (("each", True), ("runs", False)):
        doc = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
               "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                   {"type": "Digits", "individual_digits": each},
                   {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
               "post_processor": None, "decoder": smol["decoder"],
               "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                         "ignore_merges": False, "vocab": vocab, "merges": merges}}
        path = os.path.join("tests", f"digits_{name}_tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        tok = Tokenizer.from_file(path)
        for iname, text in texts.items():
            records = [tok.encode(t, add_special_tokens=False).ids for t in (text if isinstance(text, list) else [text])]
            write_records(os.path.join(OUT, f"digits-{name}.{iname}.ids"), records)


def nfc_report():
    """Where the library's NFC normalizer differs from the UCD's NormalizationTest cases."""
    nfc = normalizers.NFC()
    differ = []
    for line in open(os.path.join("data", "expected", "nfc.txt"), encoding="utf-8"):
        a, b = line.rstrip("\n").split("\t")
        if nfc.normalize_str(a) != b:
            differ.append(a)
    report = [f"NFC: tokenizers' normalizer vs data/expected/nfc.txt (UCD NormalizationTest): "
              f"{len(differ)} of the cases differ"]
    if differ:
        cps = sorted({f"U+{ord(c):04X}" for a in differ for c in a if ord(c) > 0x7f})
        report.append("  code points in the differing inputs: " + " ".join(cps[:60]) +
                      (" ..." if len(cps) > 60 else ""))
    return report


def main():
    os.makedirs(OUT, exist_ok=True)
    write_nfc_tokenizer()
    write_template_tokenizer()
    write_metaspace_tokenizers()
    write_digits_tokenizers()
    texts = {name: open(p, "rb").read().decode("utf-8", "replace") for name, p in INPUTS.items()}
    report = [f"tokenizers {tokenizers.__version__}, sentencepiece {spm.__version__}",
              "HF tokenizers (tokenizer.json) vs sentencepiece (tokenizer.model), encode without BOS:"]
    for tname, folder in TOKENIZERS.items():
        tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        ids = {}
        for iname, text in texts.items():
            ids[iname] = tok.encode(text, add_special_tokens=False).ids
            write_records(os.path.join(OUT, f"{tname}.{iname}.ids"), [ids[iname]])
            print(f"{tname} {iname}: {len(ids[iname])} ids", file=sys.stderr)
        write_records(os.path.join(OUT, f"{tname}.adversarial.ids"),
                      [tok.encode(t, add_special_tokens=False).ids for t in adversarial_texts()])
        write_records(os.path.join(OUT, f"{tname}.bos.ids"),
                      [tok.encode("Hello world", add_special_tokens=True).ids])
        if os.path.exists(os.path.join(folder, "tokenizer.model")):
            sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
            for iname, text in texts.items():
                sp_ids = sp.encode(text)
                if sp_ids == ids[iname]:
                    report.append(f"  {tname} {iname}: identical ({len(sp_ids)} ids)")
                    continue
                k = next((i for i, (a, b) in enumerate(zip(sp_ids, ids[iname])) if a != b),
                         min(len(sp_ids), len(ids[iname])))
                report.append(f"  {tname} {iname}: differ: {len(ids[iname])} ids (HF) vs {len(sp_ids)} "
                              f"(sentencepiece), first difference at id {k}: HF "
                              f"{tok.decode(ids[iname][k:k + 6])!r} {ids[iname][k:k + 6]}, sentencepiece "
                              f"{sp.decode(sp_ids[k:k + 6])!r} {sp_ids[k:k + 6]}")
        else:
            with open(os.path.join(OUT, f"{tname}.stress.decoded"), "wb") as f:
                f.write(tok.decode(ids["stress"], skip_special_tokens=False).encode("utf-8"))
    report += nfc_report()
    with open(os.path.join(OUT, "references.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(report) + "\n")
    print("\n".join(report), file=sys.stderr)


if __name__ == "__main__":
    main()
