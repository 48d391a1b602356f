"""Format 2 reads and writes: the SQL around ``chunks.py`` (which holds the bytes side).

A lookup reads the keys of the model's chunks, matches them with numpy, then reads each chunk it
needs with one query and ``np.frombuffer``. Damaged rows are reported so the caller can rewrite
their chunks; superseded copies (a key stored again) are counted so it can compact the model.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from . import chunks
from .cache_schema import snapshot

_PIPELINE_FROM = 16 << 20  # reads of more vector bytes than this check CRCs on a second thread
_COMPACT_SHARE = 8  # superseded rows beyond 1/8 of a model's rows are compacted away on the next read


@dataclass(frozen=True)
class Found:
    """What the cache holds for a list of keys, as one matrix."""

    mask: np.ndarray  # bool per key asked for: found in the cache
    matrix: np.ndarray  # float32 ``len(keys) × dim``: the vector of each key found, zeros elsewhere
    dims: tuple[int, ...]  # the sizes found; more than one means the cache mixes sizes for one model key

    @classmethod
    def of(cls, count: int, pieces: dict[int, tuple[np.ndarray, np.ndarray]]) -> Found:
        """From ``dim → (positions found, count × dim matrix)`` pieces (the matrix is empty unless
        exactly one size was found)."""
        mask = np.zeros(count, dtype=bool)
        for positions, _ in pieces.values():
            mask[positions] = True
        if len(pieces) != 1:
            return cls(mask, np.zeros((count, 0), dtype=np.float32), tuple(sorted(pieces)))
        [(dim, (_, matrix))] = pieces.items()
        return cls(mask, matrix, (dim,))


def pieces_of(keys: Sequence[bytes], found: dict[bytes, np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """``dim → (positions, len(keys) × dim matrix)`` of a dict of found vectors."""
    by_dim: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        if key in found:
            by_dim.setdefault(int(found[key].shape[0]), []).append(i)
    pieces = {}
    for dim, idx in by_dim.items():
        matrix = np.zeros((len(keys), dim), dtype=np.float32)
        matrix[idx] = np.stack([found[keys[i]] for i in idx])
        pieces[dim] = (np.array(idx, dtype=np.int64), matrix)
    return pieces


@dataclass(frozen=True)
class ChunkHead:
    id: int
    dim: int
    count: int
    keys: bytes


@dataclass(frozen=True)
class ReadOutcome:
    pieces: dict[int, tuple[np.ndarray, np.ndarray]]
    damaged: dict[int, int]  # chunk id → damaged rows in it (0: only its chunk CRC is wrong)
    superseded: bool  # enough superseded copies to compact the model


def _heads(conn: sqlite3.Connection, model_key: str) -> tuple[list[ChunkHead], dict[int, int]]:
    """The model's chunks in storage order, without their vectors; chunks whose key blob does not
    match their row count are damaged as a whole (chunk id → rows)."""
    good, damaged = [], {}
    for cid, dim, count, keys in conn.execute(
        "SELECT id, dim, count, keys FROM chunks WHERE model_key=? ORDER BY id", (model_key,)
    ):
        if chunks.shape_ok(int(count), int(dim), bytes(keys)):
            good.append(ChunkHead(int(cid), int(dim), int(count), bytes(keys)))
        else:
            damaged[int(cid)] = max(int(count), 1)
    return good, damaged


def _wanted(keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(positions of well-formed keys, their ``n × 4`` uint64 matrix): a key of another length can
    never have been stored, so it is simply not found."""
    joined = b"".join(keys)
    if len(joined) == chunks.KEY_BYTES * len(keys):
        return np.arange(len(keys), dtype=np.int64), chunks.key_matrix(joined)
    valid = [i for i, key in enumerate(keys) if len(key) == chunks.KEY_BYTES]
    return np.array(valid, dtype=np.int64), chunks.key_matrix(b"".join(keys[i] for i in valid))


_MMAP_BYTES = 1 << 31
_REMAP_EVERY = 64 << 20  # mapped bytes read before the map is dropped and started again


def _remap(conn: sqlite3.Connection) -> None:
    """Drop SQLite's map of the file and let the next read map it afresh. The pages a read touched
    stay resident (and count in the process's RSS) until the map goes, so a long read drops it
    every ``_REMAP_EVERY`` bytes: at a million vectors this keeps 1.5 GB of file pages out of the
    peak, at no measured cost in speed."""
    conn.execute("PRAGMA mmap_size=0")
    conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")


@contextlib.contextmanager
def _mapped(conn: sqlite3.Connection) -> Iterator[None]:
    """Let SQLite read pages through a memory map for the length of one read (half the CPU of
    copying each page through its cache); off again afterwards, so no write and no other query
    of this connection ever runs on a mapped file."""
    conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
    try:
        yield
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA mmap_size=0")


def read_chunks(conn: sqlite3.Connection, model_key: str, keys: Sequence[bytes]) -> ReadOutcome:
    with _mapped(conn), snapshot(conn):
        heads, damaged = _heads(conn, model_key)
        if not heads or not keys:
            return ReadOutcome({}, damaged, False)
        index = chunks.KeyIndex.build(chunks.key_matrix(b"".join(h.keys for h in heads)))
        valid, wanted = _wanted(keys)
        stored = index.find(wanted)
        hit = stored >= 0
        asked, where = valid[hit], stored[hit]  # position in ``keys`` ↔ position in storage
        ends = np.cumsum([h.count for h in heads])
        chunk_of = np.searchsorted(ends, where, side="right")
        order = np.argsort(where, kind="stable")  # storage order: each chunk's rows together
        asked, where, chunk_of = asked[order], where[order], chunk_of[order]
        bounds = np.searchsorted(chunk_of, np.arange(len(heads) + 1))
        jobs = [(heads[c], asked[bounds[c]:bounds[c + 1]], where[bounds[c]:bounds[c + 1]] - (ends[c] - heads[c].count))
                for c in range(len(heads)) if bounds[c + 1] > bounds[c]]
        pieces = _fill(conn, model_key, len(keys), jobs, damaged)
        rows = int(ends[-1])
        superseded = rows - int(index.live().sum())
    return ReadOutcome(pieces, damaged, superseded > 0 and superseded * _COMPACT_SHARE >= rows)


def _fill(conn: sqlite3.Connection, model_key: str, count: int,
          jobs: list[tuple[ChunkHead, np.ndarray, np.ndarray]],
          damaged: dict[int, int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Read each needed chunk (one query), check it, copy its wanted rows into one matrix per size.
    A large read checks the CRC of one chunk on a second thread while the next one is fetched
    (``zlib.crc32`` and SQLite both release the GIL)."""
    matrices: dict[int, np.ndarray] = {}
    found: dict[int, list[np.ndarray]] = {}

    since_remap = 0

    def fetch(head: ChunkHead) -> tuple[int, bytes, bytes]:
        nonlocal since_remap
        crc, crcs, data = conn.execute("SELECT crc, crcs, data FROM chunks WHERE id=?", (head.id,)).fetchone()
        since_remap += len(data)
        if since_remap >= _REMAP_EVERY:
            _remap(conn)
            since_remap = 0
        return int(crc), bytes(crcs), bytes(data)

    def settle(head: ChunkHead, asked: np.ndarray, rows: np.ndarray, blobs: tuple[int, bytes, bytes],
               intact: bool) -> None:
        _, crcs, data = blobs
        if not chunks.shape_ok(head.count, head.dim, head.keys, crcs, data):
            damaged[head.id] = head.count
            return
        if not intact:
            bad = chunks.bad_rows(model_key, head.count, head.dim, head.keys, crcs, data)
            damaged[head.id] = int(bad.sum())
            keep = ~bad[rows]
            asked, rows = asked[keep], rows[keep]
        vectors = np.frombuffer(data, dtype="<f4").reshape(head.count, head.dim)
        if head.dim not in matrices:
            matrices[head.dim] = np.zeros((count, head.dim), dtype=np.float32)
        target = matrices[head.dim]
        n = len(rows)
        if n and rows[-1] - rows[0] == n - 1 and asked[-1] - asked[0] == n - 1 and (
                n < 3 or (np.all(np.diff(rows) == 1) and np.all(np.diff(asked) == 1))):
            target[asked[0]:asked[0] + n] = vectors[rows[0]:rows[0] + n]  # the usual case: one block copy
        elif n:
            target[asked] = vectors[rows]
        found.setdefault(head.dim, []).append(asked)

    def check(head: ChunkHead, blobs: tuple[int, bytes, bytes]) -> bool:
        crc, crcs, data = blobs
        return chunks.chunk_crc(model_key, head.keys, crcs, data) == crc

    total = sum(4 * head.dim * head.count for head, _, _ in jobs)
    if total < _PIPELINE_FROM or len(jobs) < 2:
        for head, asked, rows in jobs:
            blobs = fetch(head)
            settle(head, asked, rows, blobs, check(head, blobs))
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mrlcheck-crc") as pool:
            pending = None
            for head, asked, rows in jobs:
                blobs = fetch(head)
                job = (head, asked, rows, blobs, pool.submit(check, head, blobs))
                if pending is not None:
                    settle(*pending[:4], pending[4].result())
                pending = job
            if pending is not None:
                settle(*pending[:4], pending[4].result())
    return {dim: (np.sort(np.concatenate(found[dim])), matrix) for dim, matrix in matrices.items() if found.get(dim)}


def insert_chunk(conn: sqlite3.Connection, model_key: str, packed: chunks.Packed, created: float) -> None:
    conn.execute(
        "INSERT INTO chunks (model_key, dim, count, created, crc, keys, crcs, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (model_key, packed.dim, packed.count, created, packed.crc, packed.keys, packed.crcs, packed.data),
    )


def _rewrite(conn: sqlite3.Connection, model_key: str, chunk_id: int, keep: np.ndarray | None = None) -> None:
    """Rewrite one chunk (inside a write transaction) without its damaged rows and, with ``keep``,
    only the rows it marks; a chunk left empty is deleted. Rows are checked again here, so a copy
    never blesses a damaged row with a fresh chunk CRC."""
    row = conn.execute("SELECT dim, count, created, crc, keys, crcs, data FROM chunks WHERE id=?",
                       (chunk_id,)).fetchone()
    if row is None:
        return
    dim, count, created, crc, keys, crcs, data = int(row[0]), int(row[1]), float(row[2]), int(row[3]), *map(
        bytes, row[4:])
    if not chunks.shape_ok(count, dim, keys, crcs, data):
        conn.execute("DELETE FROM chunks WHERE id=?", (chunk_id,))
        return
    good = np.ones(count, dtype=bool)
    if chunks.chunk_crc(model_key, keys, crcs, data) != crc:
        good = ~chunks.bad_rows(model_key, count, dim, keys, crcs, data)
    if keep is not None:
        good &= keep
    if not good.any():
        conn.execute("DELETE FROM chunks WHERE id=?", (chunk_id,))
        return
    rows = np.flatnonzero(good)
    new_keys = chunks.key_matrix(keys)[rows].tobytes()
    new_crcs = np.frombuffer(crcs, dtype="<u4")[rows].tobytes()
    new_data = np.frombuffer(data, dtype="<f4").reshape(count, dim)[rows].tobytes()
    conn.execute("UPDATE chunks SET count=?, created=?, crc=?, keys=?, crcs=?, data=? WHERE id=?",
                 (len(rows), created, chunks.chunk_crc(model_key, new_keys, new_crcs, new_data), new_keys,
                  new_crcs, new_data, chunk_id))


def rewrite_all(conn: sqlite3.Connection, model_key: str, chunk_ids: Collection[int]) -> None:
    for chunk_id in chunk_ids:
        _rewrite(conn, model_key, chunk_id)


def compact_all(conn: sqlite3.Connection, model_keys: Collection[str]) -> None:
    for model_key in model_keys:
        compact(conn, model_key)


def compact(conn: sqlite3.Connection, model_key: str) -> None:
    """Drop the superseded copies of the model's vectors (an older copy of a key stored again)."""
    heads, damaged = _heads(conn, model_key)
    for cid in damaged:
        conn.execute("DELETE FROM chunks WHERE id=?", (cid,))
    if not heads:
        return
    live = chunks.KeyIndex.build(chunks.key_matrix(b"".join(h.keys for h in heads))).live()
    start = 0
    for head in heads:
        part = live[start:start + head.count]
        start += head.count
        if not part.all():
            _rewrite(conn, model_key, head.id, part)


def chunk_counts(conn: sqlite3.Connection) -> Iterator[tuple[str, int, int]]:
    """(model key, dim, live vectors) of every model."""
    for (model_key,) in conn.execute("SELECT DISTINCT model_key FROM chunks").fetchall():
        heads, _ = _heads(conn, str(model_key))
        if not heads:
            continue
        live = chunks.KeyIndex.build(chunks.key_matrix(b"".join(h.keys for h in heads))).live()
        per_dim: dict[int, int] = {}
        start = 0
        for head in heads:
            per_dim[head.dim] = per_dim.get(head.dim, 0) + int(live[start:start + head.count].sum())
            start += head.count
        for dim, count in per_dim.items():
            yield str(model_key), dim, count
