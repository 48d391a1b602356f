"""Retrieval: the top-k documents of every query under every view, and IR metrics of the rankings.

Documents are ranked one chunk at a time into a running top-k per query and view, so memory stays
at a few blocks whatever the corpus size. Contiguous ``(start, end)`` views share their work: the
dims are cut at every view boundary, each block's product is computed once and views are summed
from blocks (cosine scales the sums by slice norms); index views get one product each.
Metrics follow pytrec_eval (what BEIR and MTEB use) and are computed for all views at once from the
``V × Q × k`` rankings.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

View: TypeAlias = tuple[int, int] | np.ndarray | Sequence[int]
"""A ``(start, end)`` tuple is a half-open range of dims; an array or list holds dimension indices."""

METRICS = ("ndcg", "recall", "mrr", "map", "precision", "hit")

_BLOCK_BYTES = 64 * 2**20
_PAD = np.iinfo(np.int64).max  # index of an empty top-k slot while merging; -1 in the result


# --------------------------------------------------------------------------------------- top-k


def top_k(
    queries: np.ndarray,
    corpus: np.ndarray,
    views: Sequence[View],
    k: int,
    similarity: str = "cosine",
    chunk_docs: int = 8192,
    exclude: Sequence[Collection[int]] | None = None,
    shared: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best documents of every query under every view.

    ``queries`` is ``Q × d`` and ``corpus`` ``N × d`` (full-dimension vectors). Returns
    ``(indices, scores)``, both ``V × Q × k``: corpus row indices (int64) and float32 similarities,
    best first; equal scores are ordered by ascending document index. Slots left without a
    document (``k > N``, or everything excluded) hold index ``-1`` and score ``-inf``.

    ``similarity`` is ``"cosine"`` (each sliced vector renormalised; a zero slice has similarity 0
    with everything) or ``"dot"``. ``exclude[q]`` holds corpus rows never returned for query
    ``q`` (self-matches). Scores are float32, computed ``chunk_docs`` documents at a time.

    With ``shared`` (the default) all ``(start, end)`` views are scored from one set of partial
    products over the blocks between their boundaries (see :func:`_rank_contiguous`); index views,
    and every view when ``shared`` is false, get one product each.
    """
    if similarity not in ("cosine", "dot"):
        raise ValueError(f"unknown similarity {similarity!r} (use 'cosine' or 'dot')")
    if k < 1 or chunk_docs < 1:
        raise ValueError(f"k and chunk_docs must be positive, got k={k}, chunk_docs={chunk_docs}")
    if queries.ndim != 2 or corpus.ndim != 2 or queries.shape[1] != corpus.shape[1]:
        raise ValueError(f"need Q × d queries, N × d corpus; got {queries.shape}, {corpus.shape}")
    n_queries, dim = queries.shape
    n_docs = corpus.shape[0]
    selectors = [_selector(view, dim) for view in views]
    query_block = _finite_float32(queries, "queries")
    excluded_rows, excluded_docs = _exclusions(exclude, n_queries, n_docs)

    best_scores = np.full((len(selectors), n_queries, k), -np.inf, dtype=np.float32)
    best_docs = np.full((len(selectors), n_queries, k), _PAD, dtype=np.int64)
    contiguous = {v: selector for v, selector in enumerate(selectors) if shared and isinstance(selector, slice)}
    ranges = list(contiguous)
    plan = _BlockPlan.build(list(contiguous.values()), query_block, similarity) if ranges else None
    others = sorted(set(range(len(selectors))) - (set(ranges) if plan is not None else set()))
    rows_per_block = max(1, _BLOCK_BYTES // (4 * max(1, min(chunk_docs, n_docs))))
    shared_best = [(best_scores[v], best_docs[v]) for v in ranges]
    workers, tile_bytes, tile_docs = _tiling() if plan is not None else (1, 0, 0)
    stripes = _stripes(n_queries, workers)
    with ThreadPoolExecutor(len(stripes)) as pool:
        for begin in range(0, n_docs, chunk_docs):
            docs_block = _finite_float32(corpus[begin : begin + chunk_docs], "corpus")
            end = begin + docs_block.shape[0]
            here = (excluded_docs >= begin) & (excluded_docs < end)
            chunk_rows, chunk_cols = excluded_rows[here], excluded_docs[here] - begin
            if plan is not None:
                chunk = _Chunk.build(plan, docs_block, begin, chunk_rows, chunk_cols, tile_docs)
                with blas_threads(1) if workers > 1 else nullcontext():
                    futures = [pool.submit(_rank_stripe, plan, chunk, stripe, shared_best, tile_bytes)
                               for stripe in stripes]
                    for future in futures:
                        future.result()
            for v in others:
                selector = selectors[v]
                docs = _prepare(docs_block[:, selector], similarity)
                for first in range(0, n_queries, rows_per_block):
                    last = min(n_queries, first + rows_per_block)
                    sims = _prepare(query_block[first:last, selector], similarity) @ docs.T
                    mine = (chunk_rows >= first) & (chunk_rows < last)
                    sims[chunk_rows[mine] - first, chunk_cols[mine]] = -np.inf
                    _merge(sims, begin, best_scores[v, first:last], best_docs[v, first:last])
    best_docs[np.isneginf(best_scores)] = -1
    return best_docs, best_scores


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
class _BlockPlan:
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
    def build(cls, slices: Sequence[slice], queries: np.ndarray, similarity: str) -> _BlockPlan | None:
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


def _stripes(n_queries: int, workers: int) -> list[tuple[int, int]]:
    """``workers`` contiguous ranges of query rows (fewer if there are fewer rows)."""
    edges = np.linspace(0, n_queries, min(workers, max(1, n_queries)) + 1).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def blas_threads(count: int) -> AbstractContextManager[object]:
    """Limit BLAS to ``count`` threads where threadpoolctl is installed (a no-op otherwise)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return nullcontext()
    limits: AbstractContextManager[object] = threadpool_limits(limits=count, user_api="blas")
    return limits


def _tiling() -> tuple[int, int, int]:
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
class _Chunk:
    """One chunk of documents ready for :func:`_rank_stripe`: per tile of columns, per block, the
    transposed block (``K × cols``), and per view the documents' inverse slice norms (cosine)."""

    offset: int
    tiles: tuple[tuple[int, int, dict[int, np.ndarray]], ...]
    doc_scale: tuple[np.ndarray | None, ...]
    excluded_rows: np.ndarray
    excluded_cols: np.ndarray

    @classmethod
    def build(cls, plan: _BlockPlan, docs_block: np.ndarray, offset: int, excluded_rows: np.ndarray,
              excluded_cols: np.ndarray, width: int) -> _Chunk:
        blocks = tuple(None if block is None else docs_block[:, a:b]
                       for block, (a, b) in zip(plan.query_blocks, plan.blocks, strict=True))
        scale = _block_scales(blocks, plan.covers) if plan.query_scale[0] is not None else [None] * len(plan.covers)
        n_docs = docs_block.shape[0]
        tiles = tuple((left, min(n_docs, left + width),
                       {step.block: np.ascontiguousarray(block[left : left + width].T)
                        for step in plan.steps if (block := blocks[step.block]) is not None})
                      for left in range(0, n_docs, width))
        return cls(offset, tiles, tuple(scale), excluded_rows, excluded_cols)


def _rank_stripe(
    plan: _BlockPlan,
    chunk: _Chunk,
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
                        found = _candidates(sims, chunk.offset + left, scores[:, -1], row_scale)
                        if found is not None:
                            pending.setdefault(view, []).append(found)
                    else:
                        _merge(sims, chunk.offset + left, scores, docs, row_scale)
        for view, found_list in pending.items():
            _fold_pending(found_list, best[view][0][first:last], best[view][1][first:last])


def _selector(view: View, dim: int) -> slice | np.ndarray:
    """A column selector for one view, checked against the vector size ``dim``."""
    if isinstance(view, tuple):
        if len(view) != 2:
            raise ValueError(
                f"a tuple view is a (start, end) range, got {view!r}; "
                "pass dimension indices as an array"
            )
        start, end = int(view[0]), int(view[1])
        if not 0 <= start < end <= dim:
            raise ValueError(f"range view {view!r} does not fit {dim} dimensions")
        return slice(start, end)
    indices = np.asarray(view)
    if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"an index view must be a non-empty 1-D integer array, got {view!r}")
    if indices.min() < 0 or indices.max() >= dim:
        raise ValueError(f"index view uses dimensions outside 0..{dim - 1}")
    return indices.astype(np.intp)


def _finite_float32(values: np.ndarray, what: str) -> np.ndarray:
    out = np.ascontiguousarray(values, dtype=np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return out


def _exclusions(
    exclude: Sequence[Collection[int]] | None, n_queries: int, n_docs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flat ``(query row, document row)`` pairs to exclude (documents outside the corpus dropped)."""
    if exclude is None:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    if len(exclude) != n_queries:
        raise ValueError(f"exclude has {len(exclude)} entries for {n_queries} queries")
    pairs = [(row, doc) for row, docs in enumerate(exclude) for doc in docs if 0 <= doc < n_docs]
    if not pairs:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    flat = np.array(pairs, dtype=np.intp)
    return flat[:, 0], flat[:, 1]


def _prepare(vectors: np.ndarray, similarity: str) -> np.ndarray:
    """Rows scaled to unit length for cosine (zero rows stay zero); unchanged for dot."""
    if similarity == "dot":
        return vectors
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    scale = np.zeros_like(norms)
    np.divide(1.0, norms, out=scale, where=norms > 0)
    scaled: np.ndarray = vectors * scale[:, None]
    return scaled


def _merge(
    sims: np.ndarray,
    offset: int,
    best_scores: np.ndarray,
    best_docs: np.ndarray,
    row_scale: np.ndarray | None = None,
) -> None:
    """Fold a ``rows × cols`` block of scores (documents ``offset..``) into the running top-k.

    The scores are ``sims`` times ``row_scale`` per row when given (float32, as if multiplied in
    place). Documents arrive in ascending order, so a score equal to a row's current k-th loses
    to it. Once every row holds k scores, a row-wise maximum finds the few rows with a better
    one (a rounded product is monotonic, so ``max(x) * s`` is ``max(x * s)``) and only those rows
    are compared. Before that, candidates are every score at least a lower bound of the row's
    k-th largest: the k-th largest of G group maxima (k groups reach it, so ≥ k scores do).
    One lexsort by (row, -score, document) keeps the first k of each row.
    """
    rows, cols = sims.shape
    k = best_scores.shape[1]
    kth = best_scores[:, -1]
    if np.isfinite(kth).all():
        found = _candidates(sims, offset, kth, row_scale)
        if found is not None:
            _fold(*found, best_scores, best_docs)
        return
    if row_scale is not None:
        sims = sims * row_scale[:, None]
    groups = max(256, 4 * k)
    if cols >= 2 * groups:
        width = cols // groups
        maxima = sims[:, : groups * width].reshape(rows, width, groups).max(axis=1)
        bound = np.partition(maxima, groups - k, axis=1)[:, groups - k]
    elif cols > k:
        bound = np.partition(sims, cols - k, axis=1)[:, cols - k]
    else:
        bound = np.full(rows, -np.inf, dtype=sims.dtype)
    bound = np.maximum(bound, kth)
    cand_rows, cand_cols = np.divmod(np.flatnonzero(sims >= bound[:, None]), cols)
    _fold(np.arange(rows), cand_rows, sims[cand_rows, cand_cols], cand_cols + offset, best_scores, best_docs)


def _candidates(
    sims: np.ndarray, offset: int, kth: np.ndarray, row_scale: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """``(rows, local rows, scores, documents)`` of the scores above each row's ``kth``, or ``None``.

    ``rows`` are the rows with any; ``local rows`` index into ``rows``. A row-wise maximum finds
    them (a rounded product is monotonic, so ``max(x) * s`` is ``max(x * s)``).
    """
    peak = sims.max(axis=1)
    if row_scale is not None:
        peak *= row_scale
    hit = np.flatnonzero(peak > kth)
    if hit.size == 0:
        return None
    block = sims[hit] if row_scale is None else sims[hit] * row_scale[hit, None]
    local_rows, cols = np.divmod(np.flatnonzero(block > kth[hit, None]), sims.shape[1])
    return hit, local_rows, block[local_rows, cols], cols + offset


def _fold_pending(
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    best_scores: np.ndarray,
    best_docs: np.ndarray,
) -> None:
    """One :func:`_fold` of the candidates several tiles of the same rows have found."""
    rows = np.concatenate([hit[local] for hit, local, _, _ in pending])
    hit = np.unique(rows)
    scores = np.concatenate([found[2] for found in pending])
    docs = np.concatenate([found[3] for found in pending])
    _fold(hit, np.searchsorted(hit, rows), scores, docs, best_scores, best_docs)


def _fold(
    rows: np.ndarray,
    cand_rows: np.ndarray,
    cand_scores: np.ndarray,
    cand_docs: np.ndarray,
    best_scores: np.ndarray,
    best_docs: np.ndarray,
) -> None:
    """Keep the best k of ``best_*[rows]`` and the candidates (``cand_rows`` index into ``rows``)."""
    n, k = rows.size, best_scores.shape[1]
    all_rows = np.concatenate([np.repeat(np.arange(n), k), cand_rows])
    all_scores = np.concatenate([best_scores[rows].ravel(), cand_scores])
    all_docs = np.concatenate([best_docs[rows].ravel(), cand_docs])
    order = np.lexsort((all_docs, -all_scores, all_rows))
    counts = np.bincount(all_rows, minlength=n)
    starts = np.cumsum(counts) - counts
    take = order[starts[:, None] + np.arange(k)]
    best_scores[rows] = all_scores[take]
    best_docs[rows] = all_docs[take]


# ------------------------------------------------------------------------------------ judgements


@dataclass(frozen=True, eq=False)
class Relevance:
    """Graded judgements aligned with the rows of the query and corpus arrays.

    ``judged[q]``: query row ``q`` has at least one judgement (any grade, 0 included) and is
    evaluated; pytrec_eval skips the others. ``keys``/``grades``: sorted ``q * n_docs + doc`` of
    every pair with grade > 0 whose document is in the corpus. ``ideal_ptr``/``ideal_grades``:
    per query (CSR) the positive grades of all its judged documents, best first, including
    documents missing from the corpus, as pytrec_eval counts them for recall, MAP and ideal DCG.
    Grades ≤ 0 are non-relevant and gain nothing.
    """

    n_docs: int
    judged: np.ndarray
    keys: np.ndarray
    grades: np.ndarray
    ideal_ptr: np.ndarray
    ideal_grades: np.ndarray

    @property
    def n_queries(self) -> int:
        return int(self.judged.shape[0])

    @property
    def relevant(self) -> np.ndarray:
        """``Q`` counts of relevant (grade > 0) judged documents."""
        return np.diff(self.ideal_ptr)

    @classmethod
    def from_qrels(
        cls,
        qrels: Mapping[str, Mapping[str, int]],
        query_ids: Sequence[str],
        doc_ids: Sequence[str],
    ) -> Relevance:
        """From ``{query id: {doc id: grade}}``; rows follow ``query_ids`` and ``doc_ids``."""
        doc_row = {doc: j for j, doc in enumerate(doc_ids)}
        if len(doc_row) != len(doc_ids):
            raise ValueError("doc_ids contain duplicates")
        n_docs = len(doc_ids)
        judged = np.zeros(len(query_ids), dtype=bool)
        keys: list[int] = []
        grades: list[float] = []
        ideal: list[list[float]] = []
        for q, query in enumerate(query_ids):
            judgements = qrels.get(query) or {}
            judged[q] = bool(judgements)
            positive = {doc: float(grade) for doc, grade in judgements.items() if grade > 0}
            ideal.append(sorted(positive.values(), reverse=True))
            for doc, grade in positive.items():
                if doc in doc_row:
                    keys.append(q * n_docs + doc_row[doc])
                    grades.append(grade)
        return cls._build(n_docs, judged, np.array(keys, dtype=np.int64), np.array(grades), ideal)

    @classmethod
    def from_matrix(cls, grades: np.ndarray, judged: np.ndarray | None = None) -> Relevance:
        """From a dense ``Q × N`` grade matrix; ``judged`` defaults to rows with a non-zero grade."""
        grades = np.asarray(grades, dtype=np.float64)
        n_docs = grades.shape[1]
        judged = (grades != 0).any(axis=1) if judged is None else np.asarray(judged, dtype=bool)
        rows, cols = np.nonzero(grades > 0)
        ideal = [sorted(row[row > 0].tolist(), reverse=True) for row in grades]
        keys = rows.astype(np.int64) * n_docs + cols
        return cls._build(n_docs, judged, keys, grades[rows, cols], ideal)

    @classmethod
    def _build(
        cls,
        n_docs: int,
        judged: np.ndarray,
        keys: np.ndarray,
        grades: np.ndarray,
        ideal: list[list[float]],
    ) -> Relevance:
        order = np.argsort(keys, kind="stable")
        ptr = np.zeros(len(ideal) + 1, dtype=np.int64)
        np.cumsum([len(row) for row in ideal], out=ptr[1:])
        flat = np.array([grade for row in ideal for grade in row], dtype=np.float64)
        return cls(n_docs, judged, keys[order], grades[order].astype(np.float64), ptr, flat)

    def select(self, rows: np.ndarray) -> Relevance:
        """The judgements of query ``rows`` only, renumbered ``0..len(rows)-1`` in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        new_row = np.full(self.n_queries, -1, dtype=np.int64)
        new_row[rows] = np.arange(rows.size)
        old_q, docs = np.divmod(self.keys, max(1, self.n_docs))
        kept = new_row[old_q] >= 0
        keys = new_row[old_q[kept]] * self.n_docs + docs[kept]
        ptr = self.ideal_ptr
        ideal = [self.ideal_grades[ptr[r] : ptr[r + 1]].tolist() for r in rows]
        return Relevance._build(self.n_docs, self.judged[rows], keys, self.grades[kept], ideal)

    def gains(self, indices: np.ndarray) -> np.ndarray:
        """Grades (0 if not relevant or empty slot) of ``... × Q × k`` retrieved document rows."""
        if self.keys.size == 0:
            return np.zeros(indices.shape)
        rows = np.arange(self.n_queries).reshape(-1, 1)
        wanted = rows * self.n_docs + np.maximum(indices, 0)
        found = np.minimum(np.searchsorted(self.keys, wanted), self.keys.size - 1)
        hit = (self.keys[found] == wanted) & (indices >= 0)
        return np.where(hit, self.grades[found], 0.0)

    def ideal(self, depth: int) -> np.ndarray:
        """``Q × depth`` positive grades per query, best first, zero-padded."""
        out = np.zeros((self.n_queries, depth))
        counts = np.minimum(np.diff(self.ideal_ptr), depth)
        rows = np.repeat(np.arange(self.n_queries), counts)
        ranks = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        out[rows, ranks] = self.ideal_grades[self.ideal_ptr[rows] + ranks]
        return out


def identical_id_exclusions(query_ids: Sequence[str], doc_ids: Sequence[str]) -> list[set[int]]:
    """For ``top_k(exclude=...)``: each query's corpus rows with the same id (MTEB ignores them)."""
    doc_row = {doc: j for j, doc in enumerate(doc_ids)}
    return [{doc_row[query]} if query in doc_row else set() for query in query_ids]


# --------------------------------------------------------------------------------------- metrics


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg@10"`` → ``("ndcg", 10)``; kinds are :data:`METRICS`."""
    kind, at, cut = name.partition("@")
    if not at or kind not in METRICS or not cut.isdigit() or int(cut) < 1:
        raise ValueError(
            f"unknown retrieval metric {name!r} (use e.g. 'ndcg@10'; kinds: {', '.join(METRICS)})"
        )
    return kind, int(cut)


def metric_values(
    indices: np.ndarray, relevance: Relevance, metrics: Sequence[str]
) -> dict[str, np.ndarray]:
    """Per-query values ``V × J`` of each metric, for the ``J`` judged queries in row order.

    ``indices`` is ``V × Q × K`` ranked corpus rows (``-1`` = empty slot) with ``Q`` the rows of
    ``relevance``; a ranking shorter than a metric's cut-off counts as padded with non-relevant
    documents. Definitions are pytrec_eval's: ``ndcg@k`` = ndcg_cut (gain = grade, discount
    log2(rank + 1), ideal from all judged grades), ``recall@k``, ``precision@k`` = P (divides by
    k), ``map@k`` = map_cut (divides by all relevant), ``mrr@k`` = recip_rank of the run cut at k,
    ``hit@k`` = 1 if any relevant document is in the top k.
    """
    parsed = [parse_metric(name) for name in metrics]
    if indices.ndim != 3 or indices.shape[1] != relevance.n_queries:
        raise ValueError(f"need V × {relevance.n_queries} × K indices, got {indices.shape}")
    depth = max((cut for _, cut in parsed), default=1)
    if indices.shape[2] < depth:
        pad = np.full((*indices.shape[:2], depth - indices.shape[2]), -1, dtype=indices.dtype)
        indices = np.concatenate([indices, pad], axis=2)
    rows = np.flatnonzero(relevance.judged)
    gains = relevance.gains(indices[:, :, :depth])[:, rows]
    hits = gains > 0
    found = np.cumsum(hits, axis=2)
    ranks = np.arange(1, depth + 1)
    discount = 1.0 / np.log2(ranks + 1.0)
    relevant = relevance.relevant[rows]
    ideal = relevance.ideal(depth)[rows]

    out: dict[str, np.ndarray] = {}
    for name, (kind, cut) in zip(metrics, parsed, strict=True):
        if kind == "ndcg":
            value = _ratio(gains[:, :, :cut] @ discount[:cut], ideal[:, :cut] @ discount[:cut])
        elif kind == "recall":
            value = _ratio(found[:, :, cut - 1], relevant)
        elif kind == "precision":
            value = found[:, :, cut - 1] / cut
        elif kind == "hit":
            value = (found[:, :, cut - 1] > 0).astype(np.float64)
        elif kind == "mrr":
            first = np.argmax(hits[:, :, :cut], axis=2)
            value = np.where(found[:, :, cut - 1] > 0, 1.0 / (first + 1.0), 0.0)
        else:  # map
            precision_at_hits = np.where(hits[:, :, :cut], found[:, :, :cut] / ranks[:cut], 0.0)
            value = _ratio(precision_at_hits.sum(axis=2), relevant)
        out[name] = value
    return out


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` broadcast over views; 0 where the denominator is 0."""
    denominator = np.broadcast_to(denominator, numerator.shape)
    out = np.zeros(numerator.shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _means(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {
        name: per_query.mean(axis=1) if per_query.shape[1] else np.full(per_query.shape[0], np.nan)
        for name, per_query in values.items()
    }


def evaluate_run(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Sequence[str]],
    metrics: Sequence[str],
) -> dict[str, float]:
    """Mean of each metric over the queries of ``run`` that have judgements, like pytrec_eval.

    ``run`` maps a query id to its ranked document ids, best first (repeats after the first
    occurrence are dropped). Queries without qrels, and judged queries absent from the run, are
    skipped; ``nan`` when no query is left.
    """
    depth = max((parse_metric(name)[1] for name in metrics), default=1)
    queries = [query for query in run if qrels.get(query)]
    rankings = [list(dict.fromkeys(run[query]))[:depth] for query in queries]
    doc_ids = list(dict.fromkeys(doc for ranking in rankings for doc in ranking))
    doc_row = {doc: j for j, doc in enumerate(doc_ids)}
    indices = np.full((1, len(queries), depth), -1, dtype=np.int64)
    for q, ranking in enumerate(rankings):
        indices[0, q, : len(ranking)] = [doc_row[doc] for doc in ranking]
    relevance = Relevance.from_qrels(qrels, queries, doc_ids)
    means = _means(metric_values(indices, relevance, metrics))
    return {name: float(mean[0]) for name, mean in means.items()}


# ------------------------------------------------------------------------------------ glue


@dataclass(frozen=True, eq=False)
class ViewScores:
    """Retrieval metrics of every view.

    ``means[metric]`` is ``V`` (mean over judged queries; ``nan`` if none), ``per_query[metric]``
    is ``V × J`` for bootstrapping; ``queries`` holds the ``J`` judged query rows, ``skipped`` the
    number of query rows without judgements (not scored).
    """

    means: dict[str, np.ndarray]
    per_query: dict[str, np.ndarray]
    queries: np.ndarray
    skipped: int


def score_views(
    query_vecs: np.ndarray,
    doc_vecs: np.ndarray,
    views: Sequence[View],
    relevance: Relevance,
    metrics: Sequence[str],
    similarity: str = "cosine",
    chunk_docs: int = 8192,
    exclude: Sequence[Collection[int]] | None = None,
) -> ViewScores:
    """Rank the corpus under every view and score the rankings.

    ``query_vecs`` is ``Q × d``, ``doc_vecs`` ``N × d``; ``relevance`` is aligned with their rows
    (see :meth:`Relevance.from_qrels`), ``exclude`` (length ``Q``) as in :func:`top_k`. Only
    judged queries are ranked, to the deepest cut-off among ``metrics``.
    """
    if relevance.n_queries != query_vecs.shape[0] or relevance.n_docs != doc_vecs.shape[0]:
        raise ValueError(
            f"relevance is {relevance.n_queries} × {relevance.n_docs}, "
            f"vectors are {query_vecs.shape[0]} queries × {doc_vecs.shape[0]} documents"
        )
    depth = max((parse_metric(name)[1] for name in metrics), default=1)
    rows = np.flatnonzero(relevance.judged)
    kept_exclude = None if exclude is None else [exclude[int(row)] for row in rows]
    indices, _ = top_k(
        query_vecs[rows], doc_vecs, views, depth, similarity, chunk_docs, kept_exclude
    )
    per_query = metric_values(indices, relevance.select(rows), metrics)
    return ViewScores(_means(per_query), per_query, rows, relevance.n_queries - rows.size)


def views_from_plan(ranges: Sequence[tuple[int, int]], masks: np.ndarray) -> list[View]:
    """Views in the order :mod:`.sts` scores them: contiguous ranges, then 0/1 mask columns."""
    columns: list[View] = [np.flatnonzero(masks[:, j]) for j in range(masks.shape[1])]
    return [*((int(start), int(end)) for start, end in ranges), *columns]
