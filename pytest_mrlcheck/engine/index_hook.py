"""The index-views hook: ANN indexes built and searched for the views a spec names (``views.index``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..guard import Step, step
from ..spec import Spec
from ..views import ViewPlan
from .context import RunContext
from .prepared import Prepared

if TYPE_CHECKING:
    from ..index_views import IndexResult


def index_views(spec: Spec, run: RunContext, plan: ViewPlan, prepared: Prepared) -> tuple[IndexResult, ...]:
    """Every ``views.index`` view built (or read from the index cache) and searched, in the score step."""
    from ..index_cache import cache_folder
    from ..index_views import evaluate_indexes

    with step(Step.SCORE, f"{len(spec.views.index)} index views"):
        return evaluate_indexes(spec, plan, prepared.search, cache_folder(run.store))
