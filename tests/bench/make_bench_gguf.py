#!/usr/bin/env python3
"""GGUF twins of the SmolLM2-135M model folder for `make bench-cpu`: F16, Q8_0, Q4_0 and Q4_1.

Developer tool, never part of the tests. The source is the Q4_1 GGUF that
../shared/assets/smollm2-135m/make_weights.py converts into the model folder: its metadata and tokenizer
are copied as they are, and every tensor becomes the float16 values the model folder holds (the GGUF's
values rounded to float16, in llama.cpp's row order), then F16 as they are, or quantized by the gguf
package to Q8_0, Q4_0 or Q4_1 (norms stay F32, holding the same float16 values). So llama.cpp and ewq
run the same weights, each in its own format.

    python3 tests/bench/make_bench_gguf.py SOURCE.gguf OUTDIR   -> OUTDIR/smollm2-135m-{F16,Q8_0,Q4_0,Q4_1}.gguf
"""

import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter, LlamaFileType
from gguf.quants import dequantize, quantize

TYPES = {"F16": (GGMLQuantizationType.F16, LlamaFileType.MOSTLY_F16),
         "Q8_0": (GGMLQuantizationType.Q8_0, LlamaFileType.MOSTLY_Q8_0),
         "Q4_0": (GGMLQuantizationType.Q4_0, LlamaFileType.MOSTLY_Q4_0),
         "Q4_1": (GGMLQuantizationType.Q4_1, LlamaFileType.MOSTLY_Q4_1)}


def write(reader, values, kind, path):
    qtype, ftype = TYPES[kind]
    arch = reader.fields["general.architecture"].contents()
    w = GGUFWriter(path + ".tmp", arch)
    for name, f in reader.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type"):
            continue
        vtype = f.types[0]
        sub = f.types[-1] if vtype == GGUFValueType.ARRAY else None
        w.add_key_value(name, f.contents(), vtype, sub_type=sub)
    w.add_file_type(ftype)
    for name, v in values:
        if v.ndim == 1:
            w.add_tensor(name, v)
        elif qtype == GGMLQuantizationType.F16:
            w.add_tensor(name, v.astype(np.float16))
        else:
            w.add_tensor(name, quantize(v, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: {os.path.getsize(path):,} bytes")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    reader = GGUFReader(sys.argv[1])
    values = [(t.name, dequantize(t.data, t.tensor_type).astype(np.float16).astype(np.float32))
              for t in reader.tensors]
    os.makedirs(sys.argv[2], exist_ok=True)
    for kind in TYPES:
        write(reader, values, kind, os.path.join(sys.argv[2], f"smollm2-135m-{kind}.gguf"))


if __name__ == "__main__":
    main()
