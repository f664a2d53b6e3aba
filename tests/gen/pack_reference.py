"""An independent numpy implementation of ewq's packed formats, written from ewq.h alone.

Developer tool (used by tests/gen/make_fixtures.py, never at run time). Every step follows the
"Packed weights" section of ewq.h in float32 arithmetic, so that the bytes it produces must equal
ewq's own: q, scale and min arrays, and the dequantized weights a Hugging Face model is then run
with. Vectorized across rows; within a group, squared errors are summed column by column in double,
as ewq.h prescribes, so that ties in the int4 range search break the same way.
"""

import numpy as np

F32 = np.float32


def _step16(h, up):
    """The next fp16 value above (up) or below each finite fp16 in h (uint16 bit patterns)."""
    h = h.astype(np.uint16)
    zero = (h & 0x7FFF) == 0
    neg = (h & 0x8000) != 0
    away = neg != up          # moving away from zero in magnitude: +1 on the bit pattern
    out = np.where(away, h + 1, h - 1).astype(np.uint16)
    return np.where(zero, np.uint16(0x0001 if up else 0x8001), out).astype(np.uint16)


def _f16(x):
    return np.asarray(x, dtype=F32).astype(np.float16).view(np.uint16)


def _f32(h):
    return h.view(np.float16).astype(F32)


def up16(x):
    h = _f16(x)
    return np.where(_f32(h) < x, _step16(h, True), h).astype(np.uint16)


def down16(x):
    h = _f16(x)
    return np.where(_f32(h) > x, _step16(h, False), h).astype(np.uint16)


def _finite16(h):
    return (h & 0x7C00) != 0x7C00


def _safe_div(a, s):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, a / np.where(s > 0, s, F32(1)), F32(0)).astype(F32)


def pack_int8_group(v):
    """v: [rows, n] float32 -> (q int8 [rows, n], scale uint16 [rows])."""
    a = np.max(np.abs(v), axis=1)
    s = up16(a / F32(127))
    s = np.where(F32(127) * _f32(s) < a, _step16(s, True), s).astype(np.uint16)
    assert _finite16(s).all()
    sf = _f32(s)[:, None]
    q = np.clip(np.rint(_safe_div(v, sf)), -127, 127).astype(np.int8)
    return q, s


def _int4_try(v, a, b):
    m = down16(a)
    mf = _f32(m)
    s = up16((b - mf) / F32(15))
    s = np.where(mf + F32(15) * _f32(s) < b, _step16(s, True), s).astype(np.uint16)
    assert _finite16(m).all() and _finite16(s).all()
    sf = _f32(s)
    q = np.clip(np.rint(_safe_div(v - mf[:, None], sf[:, None])), 0, 15).astype(np.uint8)
    deq = (mf[:, None] + sf[:, None] * q.astype(F32)).astype(F32)
    err = np.zeros(v.shape[0], dtype=np.float64)
    for i in range(v.shape[1]):   # column order, in double
        d = v[:, i].astype(np.float64) - deq[:, i].astype(np.float64)
        err = err + d * d
    return q, m, s, err


def pack_int4_group(v, shrink=True):
    """v: [rows, n] float32 -> (q uint8 codes [rows, n], min uint16 [rows], scale uint16 [rows])."""
    lo, hi = v.min(axis=1), v.max(axis=1)
    d = (hi - lo).astype(F32)
    q, m, s, best = _int4_try(v, lo, hi)
    if shrink:
        for i in range(4):
            for j in range(4):
                cq, cm, cs, e = _int4_try(v, (lo + d * F32(i / 16)).astype(F32), (hi - d * F32(j / 16)).astype(F32))
                better = e < best
                q = np.where(better[:, None], cq, q)
                m = np.where(better, cm, m)
                s = np.where(better, cs, s)
                best = np.where(better, e, best)
    return q, m, s


def pack(w, tier, group=64, shrink=True):
    """Packs a float32 matrix [rows, cols] per ewq.h.

    Returns (arrays, dequantized): arrays maps "q", "scale" (and "min" for int4) to the exact byte
    strings ewq stores; dequantized is the float32 matrix those bytes decode to.
    """
    w = np.ascontiguousarray(w, dtype=F32)
    rows, cols = w.shape
    ng = (cols + group - 1) // group
    codes = np.zeros((rows, cols), dtype=np.int16)
    scale = np.zeros((rows, ng), dtype=np.uint16)
    mins = np.zeros((rows, ng), dtype=np.uint16)
    deq = np.zeros((rows, cols), dtype=F32)
    for g in range(ng):
        c0, c1 = g * group, min((g + 1) * group, cols)
        v = w[:, c0:c1]
        if tier == "int8":
            q, s = pack_int8_group(v)
            deq[:, c0:c1] = _f32(s)[:, None] * q.astype(F32)
        else:
            q, m, s = pack_int4_group(v, shrink)
            mins[:, g] = m
            deq[:, c0:c1] = _f32(m)[:, None] + _f32(s)[:, None] * q.astype(F32)
        codes[:, c0:c1] = q
        scale[:, g] = s
    if tier == "int8":
        return {"q": codes.astype(np.int8).tobytes(), "scale": scale.astype("<u2").tobytes()}, deq
    padded = np.zeros((rows, cols + cols % 2), dtype=np.uint8)
    padded[:, :cols] = codes
    nibbles = (padded[:, 0::2] | (padded[:, 1::2] << 4)).astype(np.uint8)
    return {"q": nibbles.tobytes(), "scale": scale.astype("<u2").tobytes(),
            "min": mins.astype("<u2").tobytes()}, deq


def fnv1a64(data):
    """FNV-1a, 64-bit: a checksum that ewq's tests recompute in a few lines of C."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"
