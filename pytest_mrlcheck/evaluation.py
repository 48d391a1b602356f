"""The engine's public names at their former address (the engine lives in :mod:`pytest_mrlcheck.engine`).

Code inside the package imports from the engine's modules; this module keeps older imports working.
"""

from __future__ import annotations

from .engine.context import RunContext
from .engine.orchestrate import evaluate
from .engine.prepared import Coded, CodedReplicates, PairScoring, Prepared, Transform
from .engine.registry import PREPARERS, Preparer, prepare
from .engine.results import RandomStats, SpecResult

_PREPARERS = PREPARERS  # the registry itself (one dict), under the name tests of the engine have used

__all__ = ["PREPARERS", "Coded", "CodedReplicates", "PairScoring", "Prepared", "Preparer", "RandomStats",
           "RunContext", "SpecResult", "Transform", "evaluate", "prepare"]
