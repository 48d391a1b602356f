"""The typed task data the engine evaluates, whatever the data came from (a local file, BEIR, ``hf:``, ``mteb:``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MrlcheckWarning
from .fingerprint import digest_json, digest_lines


class MrlcheckDataWarning(MrlcheckWarning):
    """Data was usable but not clean (e.g. judgements naming unknown documents)."""


@dataclass(frozen=True)
class StsData:
    """Sentence pairs with gold scores; ``texts`` is the de-duplicated list the pairs index into."""

    texts: tuple[str, ...]
    left: np.ndarray
    right: np.ndarray
    gold: np.ndarray
    source: Path

    @property
    def pairs(self) -> int:
        return len(self.gold)

    def fingerprint(self) -> str:
        """SHA-256 of the texts and labels actually used, in order."""
        def lines() -> Iterator[str]:
            for i, j, score in zip(self.left, self.right, self.gold, strict=True):
                yield f"{self.texts[i]}\x00{self.texts[j]}\x00{score!r}\n"
        return digest_lines(lines())


@dataclass(frozen=True)
class RetrievalData:
    """Queries, a corpus and graded judgements (BEIR layout)."""

    query_ids: tuple[str, ...]
    queries: tuple[str, ...]
    doc_ids: tuple[str, ...]
    documents: tuple[str, ...]
    qrels: dict[str, dict[str, int]]
    unjudged_queries: int
    source: Path

    def fingerprint(self) -> str:
        def lines() -> Iterator[str]:
            for ids, texts in ((self.query_ids, self.queries), (self.doc_ids, self.documents)):
                for identifier, text in zip(ids, texts, strict=True):
                    yield f"{identifier}\x00{text}\n"
            for query in sorted(self.qrels):
                for doc, grade in sorted(self.qrels[query].items()):
                    yield f"{query}\x00{doc}\x00{grade}\n"
        return digest_lines(lines())


@dataclass(frozen=True)
class LabelledTexts:
    """Texts with a class label (and, for classification, a split per row)."""

    texts: tuple[str, ...]  # unique
    rows: np.ndarray  # index into ``texts`` per data row
    labels: tuple[str, ...]
    splits: tuple[str, ...]
    source: Path

    def fingerprint(self) -> str:
        return digest_json([self.texts[i] for i in self.rows], self.labels, self.splits)


@dataclass(frozen=True)
class PairLabels:
    """Text pairs with a 0/1 label each (1 = same meaning)."""

    texts: tuple[str, ...]
    left: np.ndarray
    right: np.ndarray
    labels: np.ndarray  # 0/1
    source: Path

    def fingerprint(self) -> str:
        return digest_json([self.texts[i] for i in self.left], [self.texts[i] for i in self.right],
                           self.labels.tolist())


@dataclass(frozen=True)
class RerankData:
    """Queries, each with its own candidates marked relevant (1) or not (0)."""

    queries: tuple[str, ...]
    candidates: tuple[str, ...]  # unique candidate texts
    rows: tuple[tuple[int, ...], ...]  # per query: candidate indices
    labels: tuple[tuple[int, ...], ...]  # per query: 0/1 per candidate
    source: Path

    def fingerprint(self) -> str:
        return digest_json(self.queries, [[self.candidates[i] for i in row] for row in self.rows], self.labels)
