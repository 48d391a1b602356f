"""Task data: local files (csv, tsv, jsonl), BEIR folders and ``hf:``/``mteb:`` datasets → typed records.

Each source only reads its rows; the builders (:mod:`.builders`, :mod:`.retrieval_records`) turn rows into
the records the engine evaluates (:mod:`.records`), with one check and one message per fault.
"""

from __future__ import annotations

from .beir import load_beir, read_qrels
from .builders import CellRow, Row, labelled_texts, pair_labels, rerank_data, sts_data, unique_texts
from .jsonlines import json_line
from .local import load_labelled, load_pair_labels, load_rerank, load_sts, load_texts
from .records import LabelledTexts, MrlcheckDataWarning, PairLabels, RerankData, RetrievalData, StsData
from .retrieval_records import build_retrieval_data, checked_records, judgements
from .values import Origin, binary_label, identifier_value, label_value, number_value, text_value

__all__ = [
    "CellRow", "LabelledTexts", "MrlcheckDataWarning", "Origin", "PairLabels", "RerankData", "RetrievalData", "Row",
    "StsData", "binary_label", "build_retrieval_data", "checked_records", "identifier_value", "json_line",
    "judgements", "label_value", "labelled_texts", "load_beir", "load_labelled", "load_pair_labels", "load_rerank",
    "load_sts", "load_texts", "number_value", "pair_labels", "read_qrels", "rerank_data", "sts_data", "text_value",
    "unique_texts",
]
