"""Contiguous ``(start, end)`` views ranked from shared block products.

The dims are cut at every view boundary; each block's product with a chunk of documents is computed
once and every view is a running sum of the blocks it covers (cosine scales the sums by slice
norms). Query rows are split into stripes ranked in parallel over cache-sized tiles.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from .retrieval_merge import candidates, fold_pending, merge

_TILE_BYTES = 2**21  # one tile of queries × documents: small enough that its partial sums stay in cache
_TILE_DOCS = 2048
_MAX_BLOCKS = 64  # more (narrower) blocks than this and one product per view is cheaper
_MIN_MEAN_WIDTH = 8
_MAX_WORKERS = 8
_LARGE_TILE_BYTES = 32 * 2**20
_LARGE_TILE_DOCS = 8192


@dataclass(frozen=True)
class _Step:
    """One block of the shared product: where its product goes and which views end after it."""

    block: int
    into: int  # slot of the running sum that starts at this block, or -1 (a scratch tile)
    adds: tuple[int, ...]  # slots of running sums, started earlier, that take this block
    emits: tuple[tuple[int, int], ...]  # (view, slot): views whose last block this is


@dataclass(frozen=True, eq=False)
class BlockPlan:
    """How ``(start, end)`` views share partial products.

    The dims are cut at every view boundary into blocks. All views starting at the same block share
    one running sum of block products (``slots`` of them live at once); a view's raw dot is that
    sum after its last block. ``query_blocks[j]`` holds the queries' block ``j`` (``None`` if no view
    covers it), ``query_scale[view]`` each query's inverse slice norm (cosine) or ``None`` (dot).
    """

    blocks: tuple[tuple[int, int], ...]
    covers: tuple[tuple[int, int], ...]  # per view: first block, end block (exclusive)
    steps: tuple[_Step, ...]
    slots: int
    query_blocks: tuple[np.ndarray | None, ...]
    query_scale: tuple[np.ndarray | None, ...]

    @classmethod
    def build(cls, slices: Sequence[slice], queries: np.ndarray, similarity: str) -> BlockPlan | None:
        """The plan for ``slices`` of ``queries``, or ``None`` when sharing would not pay."""
        bounds = sorted({edge for view in slices for edge in (view.start, view.stop)})
        position = {edge: j for j, edge in enumerate(bounds)}
        blocks = tuple(itertools.pairwise(bounds))
        covers = tuple((position[view.start], position[view.stop]) for view in slices)
        used = sorted({j for first, end in covers for j in range(first, end)})
        if len(used) > _MAX_BLOCKS or sum(blocks[j][1] - blocks[j][0] for j in used) < _MIN_MEAN_WIDTH * len(used):
            return None
        last_of = {first: max(end for f, end in covers if f == first) for first, _ in covers}
        slot_of: dict[int, int] = {}
        free: list[int] = []
        slots = 0
        steps = []
        for j in used:
            into = -1
            if j in last_of:
                into = free.pop() if free else slots
                slots = max(slots, into + 1)
                slot_of[j] = into
            adds = tuple(slot_of[first] for first in sorted(slot_of) if first < j)
            emits = tuple((view, slot_of[first]) for view, (first, end) in enumerate(covers) if end == j + 1)
            steps.append(_Step(j, into, adds, emits))
            for first in [first for first in slot_of if last_of[first] == j + 1]:
                free.append(slot_of.pop(first))
        query_blocks = tuple(np.ascontiguousarray(queries[:, a:b]) if j in set(used) else None
                             for j, (a, b) in enumerate(blocks))
        scale = _block_scales(query_blocks, covers) if similarity == "cosine" else [None] * len(covers)
        return cls(blocks, covers, tuple(steps), slots, query_blocks, tuple(scale))


def _block_scales(blocks: Sequence[np.ndarray | None], covers: Sequence[tuple[int, int]]) -> list[np.ndarray | None]:
    """Per view, float32 inverse norms of every row's slice (0 for a zero slice), from block sums."""
    squares = {j: np.einsum("ij,ij->i", block, block, dtype=np.float64)
               for j, block in enumerate(blocks) if block is not None}
    out: list[np.ndarray | None] = []
    for first, end in covers:
        norms = np.sqrt(sum((squares[j] for j in range(first + 1, end)), start=squares[first]))
        scale = np.zeros(norms.shape, dtype=np.float32)
        np.divide(1.0, norms, out=scale, where=norms > 0)
        out.append(scale)
    return out


def query_stripes(n_queries: int, workers: int) -> list[tuple[int, int]]:
    """``workers`` contiguous ranges of query rows (fewer if there are fewer rows)."""
    edges = np.linspace(0, n_queries, min(workers, max(1, n_queries)) + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once per process (each lookup walks
    every loaded library); numpy's BLAS is loaded before any ranking runs. None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None
    return ThreadpoolController()


def blas_threads(count: int) -> AbstractContextManager[object]:
    """Limit BLAS to ``count`` threads where threadpoolctl is installed (a no-op otherwise)."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return nullcontext()
    limits: AbstractContextManager[object] = controller.limit(limits=count, user_api="blas")
    return limits


def tiling() -> tuple[int, int, int]:
    """Workers, tile bytes and tile columns for the shared path.

    With threadpoolctl (it comes with scikit-learn) BLAS is held to one thread and one stripe of
    queries per core is ranked in parallel over cache-sized tiles. Without it BLAS keeps its own
    threads, which spin badly on small products, so one worker ranks large tiles.
    """
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installed extras
        return 1, _LARGE_TILE_BYTES, _LARGE_TILE_DOCS
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(_MAX_WORKERS, cores)), _TILE_BYTES, _TILE_DOCS


@dataclass(frozen=True, eq=False)
class Chunk:
    """One chunk of documents ready for :func:`rank_stripe`: per tile of columns, per block, the
    transposed block (``K × cols``), and per view the documents' inverse slice norms (cosine)."""

    offset: int
    tiles: tuple[tuple[int, int, dict[int, np.ndarray]], ...]
    doc_scale: tuple[np.ndarray | None, ...]
    excluded_rows: np.ndarray
    excluded_cols: np.ndarray

    @classmethod
    def build(cls, plan: BlockPlan, docs_block: np.ndarray, offset: int, excluded_rows: np.ndarray,
              excluded_cols: np.ndarray, width: int) -> Chunk:
        blocks = tuple(None if block is None else docs_block[:, a:b]
                       for block, (a, b) in zip(plan.query_blocks, plan.blocks, strict=True))
        scale = _block_scales(blocks, plan.covers) if plan.query_scale[0] is not None else [None] * len(plan.covers)
        n_docs = docs_block.shape[0]
        tiles = tuple((left, min(n_docs, left + width),
                       {step.block: np.ascontiguousarray(block[left : left + width].T)
                        for step in plan.steps if (block := blocks[step.block]) is not None})
                      for left in range(0, n_docs, width))
        return cls(offset, tiles, tuple(scale), excluded_rows, excluded_cols)


def rank_stripe(
    plan: BlockPlan,
    chunk: Chunk,
    stripe: tuple[int, int],
    best: Sequence[tuple[np.ndarray, np.ndarray]],
    tile_bytes: int,
) -> None:
    """Fold one chunk into the running top-k of query rows ``stripe`` under every view of ``plan``.

    Tile by tile (about 2 MB of scores, so the running sums stay in cache): one product per block
    (together one full-width product), each added to the running sums that cover it; a view is
    scaled by the documents' inverse slice norms (the queries' scale is applied while merging)
    after its last block, and its candidates (scores above the row's k-th so far) are folded into
    the running top-k once per chunk.
    """
    width = max(right - left for left, right, _ in chunk.tiles)
    rows = max(1, min(stripe[1] - stripe[0], tile_bytes // (4 * width)))
    sums = np.empty((plan.slots, rows, width), dtype=np.float32)
    scaled = np.empty((rows, width), dtype=np.float32)
    part = np.empty((rows, width), dtype=np.float32)
    for first in range(stripe[0], stripe[1], rows):
        last = min(stripe[1], first + rows)
        m = last - first
        pending: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = {}
        for left, right, transposed in chunk.tiles:
            cols = right - left
            mine = ((chunk.excluded_cols >= left) & (chunk.excluded_cols < right)
                    & (chunk.excluded_rows >= first) & (chunk.excluded_rows < last))
            hole_rows, hole_cols = chunk.excluded_rows[mine] - first, chunk.excluded_cols[mine] - left
            for step in plan.steps:
                query_part = plan.query_blocks[step.block]
                assert query_part is not None
                target = part[:m, :cols] if step.into < 0 else sums[step.into, :m, :cols]
                np.matmul(query_part[first:last], transposed[step.block], out=target)
                for slot in step.adds:
                    running = sums[slot, :m, :cols]
                    running += target
                for view, slot in step.emits:
                    sims = sums[slot, :m, :cols]
                    scale_q, scale_d = plan.query_scale[view], chunk.doc_scale[view]
                    if scale_d is not None:
                        sims = np.multiply(sims, scale_d[left:right], out=scaled[:m, :cols])
                    elif hole_rows.size:
                        np.copyto(scaled[:m, :cols], sims)
                        sims = scaled[:m, :cols]
                    if hole_rows.size:
                        sims[hole_rows, hole_cols] = -np.inf
                    scores, docs = best[view][0][first:last], best[view][1][first:last]
                    row_scale = None if scale_q is None else scale_q[first:last]
                    if np.isfinite(scores[:, -1]).all():  # fold once per chunk, not once per tile
                        found = candidates(sims, chunk.offset + left, scores[:, -1], row_scale)
                        if found is not None:
                            pending.setdefault(view, []).append(found)
                    else:
                        merge(sims, chunk.offset + left, scores, docs, row_scale)
        for view, found_list in pending.items():
            fold_pending(found_list, best[view][0][first:last], best[view][1][first:last])
