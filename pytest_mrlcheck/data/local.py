"""Task data from a local csv, tsv or jsonl file: the file's rows (:mod:`.rows`) through the task's builder."""

from __future__ import annotations

from ..datapaths import ANYWHERE, DataAccess
from ..spec import DataSpec
from .builders import labelled_texts, pair_labels, rerank_data, sts_data, unique_texts
from .records import LabelledTexts, PairLabels, RerankData, StsData
from .rows import spec_rows


def load_sts(spec: DataSpec, access: DataAccess = ANYWHERE) -> StsData:
    """Read sentence pairs and gold scores; clear errors for missing columns and bad scores."""
    return sts_data(spec_rows(spec, access), str(spec.path), spec.path, spec.limit)


def load_labelled(spec: DataSpec, with_split: bool, access: DataAccess = ANYWHERE) -> LabelledTexts:
    """Read texts with a class label (and a split per row with ``with_split``: classification)."""
    return labelled_texts(spec_rows(spec, access), str(spec.path), spec.path, with_split=with_split,
                          limit=spec.limit)


def load_pair_labels(spec: DataSpec, access: DataAccess = ANYWHERE) -> PairLabels:
    """Read text pairs with a 0/1 label each."""
    return pair_labels(spec_rows(spec, access), str(spec.path), spec.path, spec.limit)


def load_rerank(spec: DataSpec, access: DataAccess = ANYWHERE) -> RerankData:
    """Read queries with their positive and negative candidates (one jsonl object per query)."""
    return rerank_data(spec_rows(spec, access), str(spec.path), spec.path, spec.limit)


def load_texts(spec: DataSpec, access: DataAccess = ANYWHERE) -> tuple[str, ...]:
    """The unique texts of a file (column ``text``), in order: a corpus without labels.

    A text that repeats is kept once (its first row), with a warning that counts the repeats.
    """
    return unique_texts(spec_rows(spec, access), str(spec.path), spec.limit)
