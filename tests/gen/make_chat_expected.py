#!/usr/bin/env python3
"""Writes data/expected/chat.json: one user message through real chat templates, as transformers'
apply_chat_template renders it (add_generation_prompt=True) and as the tokenizer then encodes the text
(add_special_tokens=False), for tests/test_generate.c to compare ewq_chat_render and ewq_encode with.
Developer tool (needs `transformers` with `jinja2`); run from the repository root:

    python3 tests/gen/make_chat_expected.py

Templates: the Llama-3 and Qwen3 tokenizer_config.json files and SmolLM2's chat_template.jinja in
../shared/assets, and one ChatML template written here whose default system message is a Jinja string with
"\\n" escapes (as Qwen2.5's is), rendered with the Qwen3 tokenizer.
"""
import json
from transformers import AutoTokenizer

ASSETS = "../shared/assets"
ESCAPED_SYSTEM = ("{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a test.\\n"
                  "Be brief.<|im_end|>\\n' }}{%- endif %}{%- for m in messages %}{{- '<|im_start|>' + m['role'] + "
                  "'\\n' + m['content'] + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}"
                  "{{- '<|im_start|>assistant\\n' }}{%- endif %}")
MESSAGES = ["Hello", "  Tell me a story about a cat.\n", "Émile's café: 3 + 4 = 7? ",
            "two\nlines <|im_start|> inside"]
CASES = [("tokenizers/llama3", None), ("tokenizers/qwen3", None), ("smollm2-135m", None),
         ("tokenizers/qwen3", ESCAPED_SYSTEM)]

cases = []
for folder, template in CASES:
    tok = AutoTokenizer.from_pretrained(f"{ASSETS}/{folder}")
    for message in MESSAGES:
        conv = [{"role": "user", "content": message}]
        text = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True, chat_template=template)
        ids = tok(text, add_special_tokens=False)["input_ids"]
        case = {"tokenizer": f"{ASSETS}/{folder}", "message": message, "text": text, "ids": ids}
        if template:
            case["template"] = template
        cases.append(case)
with open("data/expected/chat.json", "w") as f:
    json.dump({"cases": cases}, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(f"data/expected/chat.json: {len(cases)} cases")
