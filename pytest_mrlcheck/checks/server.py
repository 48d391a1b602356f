"""The provider's server-side truncation against the client-side prefix, and its request contract
(refused sizes, order and batch invariance)."""

from __future__ import annotations

from ..engine.results import SpecResult
from ..views import item_name, prefix_label
from .plan import CheckPlan
from .verdict import Row, Verdict, fmt


def judge_server_truncation(plan: CheckPlan, result: SpecResult) -> Verdict:
    check = result.spec.checks.server_truncation
    assert check and plan.dims
    found = result.server_truncation[plan.dims]
    gap = found["server_score"] - found["client_score"]
    cosine_ok = found["mean_cosine"] >= check.min_cosine
    gap_ok = abs(gap) <= check.max_score_gap
    rows: tuple[Row, ...] = (
        Row(item_name("server", str(plan.dims)), found["server_score"], "", None, gap_ok,
            note=f"vectors requested with dimensions={plan.dims}"),
        Row(prefix_label(plan.dims), found["client_score"], f"|server − prefix| ≤ {check.max_score_gap:g}",
            check.max_score_gap - abs(gap), gap_ok, note="client-side prefix, renormalised"),
        Row(item_name("cosine", str(plan.dims)), found["mean_cosine"], f"mean ≥ {check.min_cosine:g}",
            found["mean_cosine"] - check.min_cosine, cosine_ok, note=f"min {found['min_cosine']:.4f}"),
    )
    contract = result.server_contract or {}
    norm = contract.get("norms", {}).get(str(plan.dims))
    norm_ok = True
    if norm is not None and check.max_norm_error is not None:
        norm_ok = norm["max_error"] <= check.max_norm_error
        rows += (Row(item_name("norm", str(plan.dims)), norm["max_error"], f"|norm − 1| ≤ {check.max_norm_error:g}",
                     check.max_norm_error - norm["max_error"], norm_ok,
                     note=f"norms {norm['min']:.4f}…{norm['max']:.4f} over {contract['texts']} texts "
                     "(live request)"),)
    ok = cosine_ok and gap_ok and norm_ok
    if not norm_ok:
        assert norm is not None and check.max_norm_error is not None
        summary = (f"at {plan.dims} dims the server returned vectors that are not unit length: norms "
                   f"{norm['min']:.4f}…{norm['max']:.4f} (|norm − 1| up to {norm['max_error']:.4f}, allowed "
                   f"{check.max_norm_error:g}); it truncates without renormalising")
        return Verdict(plan.name, "server_truncation", False, norm["max_error"], check.max_norm_error, summary, rows)
    summary = (
        f"at {plan.dims} dims the provider's vectors match the renormalised prefix: mean cosine "
        f"{found['mean_cosine']:.4f} (min {found['min_cosine']:.4f}), score {fmt(found['server_score'])} vs "
        f"{fmt(found['client_score'])} (Δ {gap:+.4f})"
    )
    if not ok:
        summary = "server-side truncation differs from the client-side prefix: " + summary.split(": ", 1)[1]
    return Verdict(plan.name, "server_truncation", ok, found["mean_cosine"], check.min_cosine, summary, rows)


def judge_server_contract(plan: CheckPlan, result: SpecResult) -> Verdict:
    check = result.spec.checks.server_truncation
    found = result.server_contract
    assert check is not None and found is not None and plan.label
    requests = f"{found['requests']} live requests for the contract"
    rows: list[Row] = []
    if plan.label == "reject":
        for size, answer in found["reject"].items():
            if answer["refused"]:
                rows.append(Row(f"dimensions={size}", None, "refused (4xx)", None, True,
                                note=f"HTTP {answer['status']}"))
            else:
                rows.append(Row(f"dimensions={size}", None, "refused (4xx)", None, False,
                                note=f"accepted: {answer['returned_dims']}-dim vectors, norm {answer['norm']:.4f}"))
        accepted = [r for r in rows if not r.ok]
        summary = (f"the server refuses every impossible size ({', '.join(found['reject'])}); {requests}"
                   if not accepted else
                   "the server accepted sizes it must refuse: " + "; ".join(
                       f"{r.view} → {r.note.removeprefix('accepted: ')}" for r in accepted)
                   + f" (a 4xx was expected; {requests})")
        return Verdict(plan.name, "server_contract", not accepted, None, None, summary, tuple(rows))
    if plan.label == "order_invariance":
        pairs = [("shuffled", found["order"])]
    else:
        pairs = [(f"batch {size}", agreement) for size, agreement in found["batch"].items()]
    for view, agreement in pairs:
        rows.append(Row(view, agreement["min_cosine"], f"min ≥ {check.min_cosine:g}",
                        agreement["min_cosine"] - check.min_cosine, agreement["min_cosine"] >= check.min_cosine,
                        note=f"mean {agreement['mean_cosine']:.6f} over {agreement['texts']} texts"))
    bad = [r for r in rows if not r.ok]
    what = "shuffled" if plan.label == "order_invariance" else "sent in other batch sizes"
    summary = (f"the same texts {what} give the same vectors (min cosine "
               f"{min(r.score or 0.0 for r in rows):.6f} ≥ {check.min_cosine:g}); {requests}"
               if not bad else
               f"the same texts {what} give different vectors: " + "; ".join(
                   f"{r.view}: min cosine {r.score:.6f} < {check.min_cosine:g}" for r in bad) + f" ({requests})")
    worst = min(r.score or 0.0 for r in rows)
    return Verdict(plan.name, "server_contract", not bad, worst, check.min_cosine, summary, tuple(rows))
