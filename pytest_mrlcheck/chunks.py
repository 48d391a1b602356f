"""The cache's vector chunks as bytes: packing, integrity checks and key matching (no SQL here).

A chunk holds up to a few thousand vectors of one model key and one size: ``keys`` (32 bytes per
row, the SHA-256 of each text), ``crcs`` (a little-endian uint32 per row: the CRC-32 of the model
key, the text key and the vector bytes, the same value format 1 kept per row) and ``data`` (rows of
little-endian float32). ``crc`` covers the whole chunk, so an intact chunk costs one CRC pass; only
a chunk that fails it is checked row by row, and just its bad rows are lost.

Keys are matched with numpy, not a dict of 200,000 byte strings: stored keys are sorted by their
first 8 bytes (newest copy first among equal keys), wanted keys are found by binary search, and
every candidate is confirmed on all 32 bytes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

KEY_BYTES = 32
_TARGET_BYTES = 1 << 21  # 2 MiB of vectors per chunk: one query and one CRC pass each


def rows_per_chunk(dim: int) -> int:
    """How many vectors of ``dim`` float32 values one chunk holds."""
    return max(16, min(8192, _TARGET_BYTES // (4 * max(dim, 1))))


def row_crc(model_key: str, key: bytes, blob: bytes | memoryview) -> int:
    """The per-row CRC (format 1 kept exactly this value for each row)."""
    return zlib.crc32(blob, zlib.crc32(key, zlib.crc32(model_key.encode())))


def chunk_crc(model_key: str, keys: bytes, crcs: bytes, data: bytes) -> int:
    """The CRC of a whole chunk: model key, keys, row CRCs, then the vector bytes."""
    return zlib.crc32(data, zlib.crc32(crcs, zlib.crc32(keys, zlib.crc32(model_key.encode()))))


@dataclass(frozen=True)
class Packed:
    """One chunk ready to store."""

    count: int
    dim: int
    keys: bytes
    crcs: bytes
    data: bytes
    crc: int


def pack(model_key: str, keys: list[bytes], matrix: np.ndarray) -> Packed:
    """``keys[i]`` ↔ ``matrix[i]`` as a chunk (the matrix is stored as little-endian float32)."""
    rows = np.ascontiguousarray(matrix, dtype="<f4")
    count, dim = rows.shape
    data = rows.tobytes()
    view = memoryview(data)
    width = 4 * dim
    crcs = np.array([row_crc(model_key, key, view[i * width:(i + 1) * width]) for i, key in enumerate(keys)],
                    dtype="<u4").tobytes()
    joined = b"".join(keys)
    return Packed(count, dim, joined, crcs, data, chunk_crc(model_key, joined, crcs, data))


def shape_ok(count: int, dim: int, keys: bytes, crcs: bytes | None = None, data: bytes | None = None) -> bool:
    """The blobs have the sizes ``count`` and ``dim`` promise (else the chunk is damaged as a whole)."""
    if count < 0 or dim <= 0 or len(keys) != KEY_BYTES * count:
        return False
    if crcs is not None and len(crcs) != 4 * count:
        return False
    return data is None or len(data) == 4 * dim * count


def bad_rows(model_key: str, count: int, dim: int, keys: bytes, crcs: bytes, data: bytes) -> np.ndarray:
    """Rows whose stored CRC does not match their key and bytes (boolean mask)."""
    stored = np.frombuffer(crcs, dtype="<u4")
    view = memoryview(data)
    width = 4 * dim
    bad = np.zeros(count, dtype=bool)
    for i in range(count):
        key = keys[i * KEY_BYTES:(i + 1) * KEY_BYTES]
        bad[i] = row_crc(model_key, key, view[i * width:(i + 1) * width]) != int(stored[i])
    return bad


def key_matrix(keys: bytes) -> np.ndarray:
    """Joined 32-byte keys as an ``n × 4`` uint64 matrix (a view, no copy)."""
    return np.frombuffer(keys, dtype=np.uint64).reshape(-1, KEY_BYTES // 8)


@dataclass(frozen=True)
class KeyIndex:
    """Stored keys in storage order (oldest chunk first), sorted for lookups with the newest copy of a
    key first."""

    keys: np.ndarray  # n × 4 uint64
    order: np.ndarray  # positions sorted by the first word; newest first among equal words
    first: np.ndarray  # keys[order, 0]

    @classmethod
    def build(cls, keys: np.ndarray) -> KeyIndex:
        n = len(keys)
        backwards = np.argsort(keys[::-1, 0], kind="stable")  # stable over reversed order: newest first
        order = (n - 1 - backwards).astype(np.int64)
        return cls(keys, order, keys[order, 0])

    def find(self, wanted: np.ndarray) -> np.ndarray:
        """Position of the newest stored copy of each wanted key (``n × 4`` uint64), -1 when absent."""
        n = len(self.keys)
        positions = np.full(len(wanted), -1, dtype=np.int64)
        if n == 0 or len(wanted) == 0:
            return positions
        slot = np.searchsorted(self.first, wanted[:, 0])
        inside = slot < n
        slot_in = np.minimum(slot, n - 1)
        candidate = self.order[slot_in]
        same_word = inside & (self.first[slot_in] == wanted[:, 0])
        exact = same_word.copy()
        exact[same_word] = (self.keys[candidate[same_word]] == wanted[same_word]).all(axis=1)
        positions[exact] = candidate[exact]
        for i in np.flatnonzero(same_word & ~exact):  # another key shares the first 8 bytes: walk the run
            j = int(slot[i])
            while j < n and self.first[j] == wanted[i, 0]:
                if (self.keys[self.order[j]] == wanted[i]).all():
                    positions[i] = self.order[j]
                    break
                j += 1
        return positions

    def live(self) -> np.ndarray:
        """Rows that are the newest stored copy of their key (older copies are superseded)."""
        alive = np.ones(len(self.keys), dtype=bool)
        if len(self.keys) < 2:
            return alive
        # in sorted order, a row equal to the one before it is an older copy of the same key
        sorted_keys = self.keys[self.order]
        repeat = (sorted_keys[1:] == sorted_keys[:-1]).all(axis=1)
        alive[self.order[1:][repeat]] = False
        return alive
