"""``hf:`` and ``mteb:`` task data: the public names, kept here for importers (the code is in
:mod:`pytest_mrlcheck.data.hub`, :mod:`~pytest_mrlcheck.data.hub_access` and :mod:`~pytest_mrlcheck.data.hub_rows`)."""

from __future__ import annotations

from .data.hub import HubData, MtebTaskInfo, describe_mteb, load_hf, load_mteb
from .data.hub_access import PROBE_TIMEOUT, HFSource, hub_endpoint, hub_reachable, offline_requested
from .data.hub_rows import hub_labelled_texts as labelled_texts
from .data.hub_rows import hub_pair_labels as pair_labels
from .data.hub_rows import hub_sts_data as sts_data
from .data.hub_rows import retrieval_data
from .datasets_known import HF_DEFAULT_COLUMNS, HUB_KINDS, MTEB_TYPES

__all__ = [
    "HF_DEFAULT_COLUMNS", "HUB_KINDS", "MTEB_TYPES", "PROBE_TIMEOUT", "HFSource", "HubData", "MtebTaskInfo",
    "describe_mteb", "hub_endpoint", "hub_reachable", "labelled_texts", "load_hf", "load_mteb", "offline_requested",
    "pair_labels", "retrieval_data", "sts_data",
]
