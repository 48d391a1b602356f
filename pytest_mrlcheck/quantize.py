"""Storage precisions of a view: codes as the ecosystem stores them, and vectors ready to score.

The order is the one people deploy a truncated vector in: slice, renormalise (for cosine), then
quantize. ``int8``/``uint8`` codes use per-dimension ``[min, max]`` ranges of a calibration set
split into 256 buckets (the arithmetic of sentence-transformers' ``quantize_embeddings``, in
float32); ``binary``/``ubinary`` keep one sign bit per dimension (``x > 0``), packed eight to a
byte (``binary`` shifted by −128 into int8); ``float16`` is a round trip.

Scorers see a float64 matrix "ready to dot": for cosine tasks scalar codes and float16 values are
renormalised, so a dot product is their cosine; binary codes become ±1, whose dot product is
``k − 2·Hamming`` exactly, so every ranking is the ranking by negative Hamming distance.
"""

from __future__ import annotations

import numpy as np

from .views import PRECISIONS


def unit(rows: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """Rows scaled to length 1 (float32 by default, as encoders return them; a zero row stays zero)."""
    rows = np.asarray(rows, dtype=dtype)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    out: np.ndarray = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
    return out


def calibration_ranges(calibration: np.ndarray) -> np.ndarray:
    """``2 × k`` float32: each dimension's minimum and maximum over the calibration rows."""
    rows = np.asarray(calibration, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[0] < 2:
        raise ValueError("int8/uint8 ranges need at least two calibration vectors")
    return np.stack([rows.min(axis=0), rows.max(axis=0)]).astype(np.float32)


def scalar_codes(rows: np.ndarray, ranges: np.ndarray, precision: str) -> np.ndarray:
    """``int8`` or ``uint8`` codes: the bucket (0..255) of each value in its dimension's range.

    A dimension whose range is a single value gets a bucket width of 1; values outside the range
    are clipped to the first or last bucket. ``int8`` is the bucket minus 128.
    """
    numbers = buckets(rows, ranges)
    codes: np.ndarray
    if precision == "uint8":
        codes = numbers.astype(np.uint8)
        return codes
    if precision == "int8":
        codes = (numbers.astype(np.int16) - 128).astype(np.int8)
        return codes
    raise ValueError(f"not a scalar precision: {precision!r}")


def buckets(rows: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Float32 bucket numbers 0..255 (whole numbers), computed in float32 as the codes are."""
    low = np.asarray(ranges[0], dtype=np.float32)
    width = (np.asarray(ranges[1], dtype=np.float32) - low) / np.float32(255)
    width = np.where(width == 0, np.float32(1), width).astype(np.float32)
    out = np.subtract(np.asarray(rows, dtype=np.float32), low)
    out /= width
    np.floor(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out


def int8_codes(rows: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """The ``int8`` codes of :func:`scalar_codes` as float32 whole numbers, computed in place in ``rows``.

    ``rows`` must be a float32 array the caller no longer needs; ``ranges[0]``/``ranges[1]`` broadcast
    against it. Clipping to ``[0, 255]`` before truncating gives the same whole numbers as flooring
    before clipping. Float32 holds every sum of up to 1024 products of two codes exactly.
    """
    low = np.asarray(ranges[0], dtype=np.float32)
    width = (np.asarray(ranges[1], dtype=np.float32) - low) / np.float32(255)
    width = np.where(width == 0, np.float32(1), width).astype(np.float32)
    np.subtract(rows, low, out=rows)
    rows /= width
    np.clip(rows, 0, 255, out=rows)
    np.trunc(rows, out=rows)
    rows -= np.float32(128)
    return rows


def packed_bits(rows: np.ndarray, precision: str) -> np.ndarray:
    """Sign bits packed big-endian eight to a byte: ``ubinary`` as uint8, ``binary`` as that − 128 (int8)."""
    packed = np.packbits(np.asarray(rows) > 0, axis=-1)
    if precision == "ubinary":
        return packed
    if precision == "binary":
        return (packed.astype(np.int16) - 128).astype(np.int8)
    raise ValueError(f"not a binary precision: {precision!r}")


def hamming(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``A × B`` Hamming distances between packed ``ubinary`` (or ``binary``) rows."""
    a = np.unpackbits(np.asarray(left).view(np.uint8), axis=-1).astype(np.int32)
    b = np.unpackbits(np.asarray(right).view(np.uint8), axis=-1).astype(np.int32)
    out: np.ndarray = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - 2 * (a @ b.T)
    return out


def needs_ranges(precision: str) -> bool:
    return precision in ("int8", "uint8")


def represent(rows: np.ndarray, precision: str, similarity: str = "cosine",
              ranges: np.ndarray | None = None) -> np.ndarray:
    """The float64 matrix a scorer dots for ``rows`` (one view's sliced vectors) at ``precision``.

    Cosine: the slice is renormalised before quantizing (in float32 for int8/uint8, as an encoder
    returns it to ``quantize_embeddings``), and the stored values again (in float64) so that a dot
    product is their cosine; float32 through this path scores as the plain view does. Binary: ±1 codes,
    never renormalised (their dot product is ``k − 2·Hamming``). ``ranges`` (from
    :func:`calibration_ranges` of the calibration vectors sliced by :func:`prepare_slice`) is
    required for ``int8``/``uint8``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}")
    cosine = similarity == "cosine"
    stored: np.ndarray
    if precision in ("int8", "uint8"):
        if ranges is None:
            raise ValueError(f"{precision} needs calibration ranges")
        # the codes' values as floats (whole numbers, exact): no integer round trip on the hot path
        stored = buckets(prepare_slice(rows, 0, rows.shape[1], similarity), ranges).astype(np.float64)
        if precision == "int8":
            stored -= 128.0
    else:  # float views are renormalised in float64, as the float32 scorers compute
        values = unit(rows, np.float64) if cosine else np.asarray(rows, dtype=np.float64)
        if precision in ("binary", "ubinary"):
            return np.where(values > 0, 1.0, -1.0)
        stored = values.astype(np.float16) if precision == "float16" else values
    return _unit64(stored) if cosine else np.asarray(stored, dtype=np.float64)


def _unit64(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 in float64, in place when already float64 (a zero row stays zero)."""
    out = np.array(rows, dtype=np.float64, copy=rows.dtype != np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))[:, None]
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def prepare_slice(rows: np.ndarray, start: int, end: int, similarity: str) -> np.ndarray:
    """The slice ``[start, end)`` as quantization sees it: renormalised for cosine, float32."""
    part = np.asarray(rows[:, start:end], dtype=np.float32)
    return unit(part) if similarity == "cosine" else part
