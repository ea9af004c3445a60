"""Hashed features of the learned injection tier: the Python twin of filters/guard/injection-model-features.ts.

Every constant and step mirrors the TypeScript unit for unit (UTF-16 code units, 32-bit wrapping
arithmetic); filters/guard/models/test-vectors.json, written by train.py, pins both to the same output.
"""

from __future__ import annotations

import math

import numpy as np

HASH_BITS = 18
NGRAM_MIN = 2
NGRAM_MAX = 5
WORD_MAX = 24
WINDOW = 256
STRIDE = 64
NORM_POWER = 0.5  # a window's feature counts are divided by (its feature count) ** NORM_POWER
MAX_UNITS = 65536

FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
WORD_SEED = 0x2F2C6C2B
UNIGRAM_SALT = 0x5BD1E995
BIGRAM_MUL = 0x9E3779B1
SHIFT = 32 - HASH_BITS
SPACE = 0x20
U32 = np.uint32


def utf16_units(s: str) -> np.ndarray:
    return np.frombuffer(s.encode("utf-16-le", "surrogatepass"), dtype="<u2").astype(np.uint32)


def is_space(u: np.ndarray) -> np.ndarray:
    return (
        (u <= 0x20)
        | (u == 0x85)
        | (u == 0xA0)
        | ((u >= 0x2000) & (u <= 0x200A))
        | (u == 0x2028)
        | (u == 0x2029)
        | (u == 0x202F)
        | (u == 0x205F)
        | (u == 0x3000)
    )


def is_word_unit(u: np.ndarray) -> np.ndarray:
    ascii_word = ((u >= 0x61) & (u <= 0x7A)) | ((u >= 0x30) & (u <= 0x39)) | ((u >= 0x41) & (u <= 0x5A))
    other = (
        (u >= 0xC0)
        & (u != 0xD7)
        & (u != 0xF7)
        & ~((u >= 0x2000) & (u <= 0x2BFF))
        & ~((u >= 0x3000) & (u <= 0x303F))
        & ~((u >= 0xD800) & (u <= 0xDFFF))
        & ~((u >= 0xFE30) & (u <= 0xFE4F))
        & ~((u >= 0xFF00) & (u <= 0xFF0F))
    )
    return np.where(u < 0x80, ascii_word, other)


def compact(norm: str) -> tuple[np.ndarray, np.ndarray]:
    """(units, normalized offsets) as in compact() of the TypeScript."""
    u = utf16_units(norm)
    n = len(u)
    sp = is_space(u)
    prev_sp = np.concatenate(([True], sp[:-1])) if n else np.zeros(0, bool)
    keep = ~sp | (sp & ~prev_sp)
    units = np.where(sp, SPACE, np.where((u >= 0x30) & (u <= 0x39), 0x30, u)).astype(U32)[keep]
    pos = np.nonzero(keep)[0].astype(np.int64)
    units = np.concatenate(([SPACE], units)).astype(U32)
    pos = np.concatenate(([0], pos))
    if units[-1] != SPACE:
        units = np.concatenate((units, [SPACE])).astype(U32)
        pos = np.concatenate((pos, [n]))
    return units, pos


def fmix32(h: np.ndarray) -> np.ndarray:
    h = h.astype(U32)
    h ^= h >> U32(16)
    h = h * U32(0x85EBCA6B)
    h ^= h >> U32(13)
    h = h * U32(0xC2B2AE35)
    h ^= h >> U32(16)
    return h


def features(units: np.ndarray, start: int = 0, end: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(positions, buckets) of every feature starting in [start, end), in the TypeScript's visit order."""
    with np.errstate(over="ignore"):
        return _features(units, start, len(units) if end is None else end)


def _features(units: np.ndarray, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(units)
    pos_parts: list[np.ndarray] = []
    key_parts: list[np.ndarray] = []  # (position * 16 + order) keeps the TypeScript's visit order
    bucket_parts: list[np.ndarray] = []
    h = np.full(n - start, FNV_OFFSET, dtype=U32)
    for k in range(NGRAM_MAX):
        m = max(0, min(end, n - k) - start)  # positions i in [start, start+m) with i+k < n
        if m == 0:
            break
        h = (h[:m] ^ units[start + k : start + k + m]) * U32(FNV_PRIME)
        if k + 1 >= NGRAM_MIN:
            p = np.arange(start, start + m, dtype=np.int64)
            pos_parts.append(p)
            key_parts.append(p * 16 + k)
            bucket_parts.append(fmix32(h) >> U32(SHIFT))
    w = is_word_unit(units)
    prev = np.concatenate(([False], w[:-1]))
    starts = np.nonzero(w & ~prev)[0]
    starts = starts[(starts >= start) & (starts < end)]
    if len(starts):
        hw = np.full(len(starts), WORD_SEED, dtype=U32)
        alive = np.ones(len(starts), dtype=bool)
        for k in range(WORD_MAX):
            idx = starts + k
            alive &= idx < n
            idx = np.minimum(idx, n - 1)
            alive &= w[idx]
            if not alive.any():
                break
            hw = np.where(alive, (hw ^ units[idx]) * U32(FNV_PRIME), hw)
        uni = fmix32(hw ^ U32(UNIGRAM_SALT)) >> U32(SHIFT)
        pos_parts.append(starts.astype(np.int64))
        key_parts.append(starts.astype(np.int64) * 16 + 8)
        bucket_parts.append(uni)
        if len(starts) > 1:
            bi = fmix32((hw[:-1] * U32(BIGRAM_MUL)) ^ hw[1:]) >> U32(SHIFT)
            pos_parts.append(starts[1:].astype(np.int64))
            key_parts.append(starts[1:].astype(np.int64) * 16 + 9)
            bucket_parts.append(bi)
    if not pos_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pos = np.concatenate(pos_parts)
    key = np.concatenate(key_parts)
    buckets = np.concatenate(bucket_parts).astype(np.int64)
    order = np.argsort(key, kind="stable")
    return pos[order], buckets[order]


def window_starts(n: int) -> list[tuple[int, int]]:
    """Windows [a, b) of a contiguous compact text of n units (n <= MAX_UNITS)."""
    if n <= WINDOW:
        return [(0, n)]
    out = [(a, a + WINDOW) for a in range(0, n - WINDOW + 1, STRIDE)]
    if out[-1][1] != n:
        out.append((n - WINDOW, n))
    return out


def regions(n: int) -> list[tuple[int, int]]:
    """Past MAX_UNITS, evenly spaced windows scored on their own (the TypeScript's long-text path)."""
    k = MAX_UNITS // WINDOW
    return [((j * (n - WINDOW)) // (k - 1), (j * (n - WINDOW)) // (k - 1) + WINDOW) for j in range(k)]


def norm(count: int) -> float:
    return math.sqrt(count) if NORM_POWER == 0.5 else float(count)


def logit(q_sum: int, count: int, bias: float, scale: float) -> float:
    return bias if count == 0 else bias + (scale * q_sum) / norm(count)
