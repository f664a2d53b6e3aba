#!/usr/bin/env python3
"""Writes data/unicode_tables.h: the Unicode properties the tokenizer in ewq.c needs, generated from the
Unicode Character Database files of Debian's `unicode-data` package (/usr/share/unicode/).

    apt-get install unicode-data && python3 tests/gen/make_unicode_tables.py

Standard library only. What it writes (all looked up by code point, 0 .. 0x10FFFF):
  - a flag byte per code point, as a two-stage table (uni_flag_index[cp >> 7] selects a 128-byte block of
    uni_flag_blocks): UNI_L = general category L* (Lu Ll Lt Lm Lo), UNI_N = N* (Nd Nl No),
    UNI_WS = the White_Space property (what \\s matches in Oniguruma and Python's `regex`),
    UNI_NFC = "NFC may change this character or its neighbours": it has a canonical decomposition, a
    non-zero canonical combining class, or NFC_Quick_Check No/Maybe. A text without such characters is
    already in NFC.
  - the canonical combining class, the same two-stage way (uni_ccc_index / uni_ccc_blocks);
  - uni_decomp: {cp, first, second} for every canonical decomposition mapping (second 0 for singletons),
    sorted by cp; applied recursively it gives the full canonical decomposition. Hangul syllables are
    decomposed algorithmically and are not listed.
  - uni_comp: {first, second, composite} for every primary composite (canonical pairs that are not
    Full_Composition_Exclusion), sorted by (first, second).
It also writes data/expected/nfc.txt, the NFC cases of the UCD's NormalizationTest.txt, which
tests/test_tokenizer.c checks ewq's NFC against.
"""
import bz2
import os
import sys

UCD = os.environ.get("UCD", "/usr/share/unicode")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "unicode_tables.h")
NFC_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "expected", "nfc.txt")
N_CP = 0x110000
BLOCK = 128


def read_unicode_data():
    """Yields (cp, category, ccc, decomposition field) for every code point, ranges expanded."""
    first = None
    with open(os.path.join(UCD, "UnicodeData.txt"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split(";")
            cp, name, cat, ccc, decomp = int(fields[0], 16), fields[1], fields[2], int(fields[3]), fields[5]
            if name.endswith(", First>"):
                first = cp
                continue
            if name.endswith(", Last>"):
                for c in range(first, cp + 1):
                    yield c, cat, ccc, ""
                continue
            yield cp, cat, ccc, decomp


def read_property(filename, wanted):
    """Code points listed with property `wanted` (first field after ';') in a UCD property file."""
    out = set()
    with open(os.path.join(UCD, filename), encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(";")]
            if fields[1] != wanted and ";".join(fields[1:]) != wanted:
                continue
            lo, _, hi = fields[0].partition("..")
            out.update(range(int(lo, 16), int(hi or lo, 16) + 1))
    return out


def unicode_version():
    with open(os.path.join(UCD, "DerivedNormalizationProps.txt"), encoding="utf-8") as f:
        return f.readline().strip("# \n").replace("DerivedNormalizationProps-", "").replace(".txt", "")


def two_stage(values, name):
    """C text for a two-stage byte table: index[cp / BLOCK] -> block number, blocks[] of BLOCK bytes."""
    blocks, index, seen = [], [], {}
    for start in range(0, N_CP, BLOCK):
        b = bytes(values[start:start + BLOCK])
        if b not in seen:
            seen[b] = len(blocks)
            blocks.append(b)
        index.append(seen[b])
    lines = [f"static const uint16_t {name}_index[{len(index)}] = {{"]
    for i in range(0, len(index), 24):
        lines.append("    " + ",".join(str(x) for x in index[i:i + 24]) + ",")
    lines.append("};")
    lines.append(f"static const uint8_t {name}_blocks[{len(blocks)}][{BLOCK}] = {{")
    for b in blocks:
        lines.append("    {" + ",".join(str(x) for x in b) + "},")
    lines.append("};")
    return lines


def write_nfc_tests():
    """data/expected/nfc.txt: "input<TAB>NFC(input)" lines in UTF-8, every case NormalizationTest.txt states
    for NFC (c2 = NFC(c1) = NFC(c2) = NFC(c3), c4 = NFC(c4) = NFC(c5)), deduplicated and sorted."""
    cases = set()
    with bz2.open(os.path.join(UCD, "NormalizationTest.txt.bz2"), "rt", encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line or line.startswith("@"):
                continue
            c = ["".join(chr(int(x, 16)) for x in field.split()) for field in line.split(";")[:5]]
            cases.update([(c[0], c[1]), (c[1], c[1]), (c[2], c[1]), (c[3], c[3]), (c[4], c[3])])
    with open(NFC_OUT, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{a}\t{b}\n" for a, b in sorted(cases))
    print(f"wrote {NFC_OUT}: {len(cases)} NFC cases", file=sys.stderr)


def main():
    flags, ccc_of = bytearray(N_CP), bytearray(N_CP)
    decomp = []
    for cp, cat, ccc, d in read_unicode_data():
        if cat[0] == "L":
            flags[cp] |= 1
        if cat[0] == "N":
            flags[cp] |= 2
        ccc_of[cp] = ccc
        if d and not d.startswith("<"):      # canonical (compatibility mappings start with <tag>)
            parts = [int(x, 16) for x in d.split()]
            decomp.append((cp, parts[0], parts[1] if len(parts) > 1 else 0))
            flags[cp] |= 8
        if ccc:
            flags[cp] |= 8
    for cp in read_property("PropList.txt", "White_Space"):
        flags[cp] |= 4
    for cp in read_property("DerivedNormalizationProps.txt", "NFC_QC;N") | \
            read_property("DerivedNormalizationProps.txt", "NFC_QC;M"):
        flags[cp] |= 8
    excluded = read_property("DerivedNormalizationProps.txt", "Full_Composition_Exclusion")
    comp = sorted((a, b, cp) for cp, a, b in decomp if b and cp not in excluded)
    decomp.sort()

    version = unicode_version()
    out = [
        f"/* data/unicode_tables.h: generated by tests/gen/make_unicode_tables.py from the Unicode Character "
        f"Database {version}",
        " * (Debian package unicode-data, /usr/share/unicode). Do not edit. See that script for the layout. */",
        f'#define UNI_VERSION "{version}"',
        "#define UNI_L 1",
        "#define UNI_N 2",
        "#define UNI_WS 4",
        "#define UNI_NFC 8",
        f"#define UNI_BLOCK {BLOCK}",
    ]
    out += two_stage(flags, "uni_flag")
    out += two_stage(ccc_of, "uni_ccc")
    out.append(f"static const uint32_t uni_decomp[{len(decomp)}][3] = {{")
    for i in range(0, len(decomp), 6):
        out.append("    " + "".join(f"{{0x{a:X},0x{b:X},0x{c:X}}}," for a, b, c in decomp[i:i + 6]))
    out.append("};")
    out.append(f"static const uint32_t uni_comp[{len(comp)}][3] = {{")
    for i in range(0, len(comp), 6):
        out.append("    " + "".join(f"{{0x{a:X},0x{b:X},0x{c:X}}}," for a, b, c in comp[i:i + 6]))
    out.append("};")
    with open(OUT, "w", encoding="ascii") as f:
        f.write("\n".join(out) + "\n")
    write_nfc_tests()
    print(f"wrote {OUT}: Unicode {version}, {len(decomp)} decompositions, {len(comp)} compositions",
          file=sys.stderr)


if __name__ == "__main__":
    main()
