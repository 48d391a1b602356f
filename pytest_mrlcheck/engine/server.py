"""Server-side truncation: the provider's own k-dim vectors against the client prefix, and its live contract."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import EvaluationError
from ..result_types import ServerTruncationPayload
from ..spec import Spec
from .context import RunContext
from .prepared import Prepared
from .registry import prepare


def compare_server_truncation(spec: Spec, run: RunContext, prepared: Prepared) -> dict[int, ServerTruncationPayload]:
    """Ask the provider for ``k``-dim vectors and compare them with the renormalised client-side prefix."""
    check = spec.checks.server_truncation
    assert check is not None
    if spec.model.provider not in ("openai", "voyage", "cohere", "gemini"):
        raise EvaluationError(
            f"{spec.path}:{check.line}: checks.server_truncation: provider {spec.model.provider} cannot truncate "
            "server-side",
            hint="this check needs a provider with a dimensions parameter (provider: openai)",
        )
    out: dict[int, ServerTruncationPayload] = {}
    for k in check.dims:
        if k > prepared.full_dim:
            raise EvaluationError(f"{spec.path}:{check.line}: checks.server_truncation.dims: {k} is more than the "
                                  f"model's {prepared.full_dim} dimensions")
        model = dataclasses.replace(spec.model, settings={**spec.model.settings, "dimensions": k})
        truncated_spec = dataclasses.replace(spec, model=model)
        served = prepare(truncated_spec, run, run.encoder_for(truncated_spec))
        client = prepared.vectors[:, :k].astype(np.float64)
        server = served.vectors.astype(np.float64)
        norms = np.linalg.norm(client, axis=1) * np.linalg.norm(server, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cosines = np.where(norms > 0, (client * server).sum(axis=1) / norms, 0.0)
        out[k] = {
            "server_score": float(served.score([(0, k)], np.zeros((k, 0)))[0]),
            "client_score": float(prepared.score([(0, k)], np.zeros((prepared.full_dim, 0)))[0]),
            "mean_cosine": float(cosines.mean()),
            "min_cosine": float(cosines.min()),
        }
    return out


def server_contract(
    spec: Spec, run: RunContext, embedded: list[tuple[str, Sequence[str]]]
) -> tuple[dict[str, Any] | None, dict[str, float]]:
    """The live truncation contract (norms, refusals, order and batch invariance), probed once per run.

    Returns the findings and the API counters to add to this spec's accounting (zero when another
    spec of the run already probed the same model and check).
    """
    from ..contract import needs_contract, probe_texts, run_contract

    check = spec.checks.server_truncation
    if check is None or not needs_contract(check):
        return None, {}
    if spec.model.provider not in ("openai", "voyage", "cohere", "gemini"):
        raise EvaluationError(
            f"{spec.path}:{check.line}: checks.server_truncation: provider {spec.model.provider} has no server "
            "whose truncation contract could be checked",
            hint="max_norm_error, reject, order_invariance and batch_invariance need provider: openai",
        )
    if not embedded:  # pragma: no cover - every task embeds texts
        return None, {}
    role, texts = embedded[0]
    sample = probe_texts(texts)
    memo = repr((spec.model, dataclasses.replace(check, xfail=None, line=0), role, sample))
    if memo in run.contracts:
        return run.contracts[memo], {}
    if run.policy.offline:
        return {"skipped": "offline: the server's contract is checked against the live endpoint"}, {}
    found = run_contract(check, run.encoder_for(spec), sample, role, spec.model.normalize)
    run.contracts[memo] = found
    return found, {"requests": float(found["requests"]), "tokens": float(found["tokens"])}
