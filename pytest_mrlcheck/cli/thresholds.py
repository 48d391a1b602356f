"""``mrlcheck init``'s thresholds: each check a margin below (or a tolerance above) today's scores."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from .measure import Measured


def _round_down(value: float, decimals: int) -> float:
    """The largest number with ``decimals`` decimals (as written and read back) that is ≤ ``value``."""
    step = 10.0 ** -decimals
    bound = float(f"{math.floor(value / step + 1e-6) * step:.{decimals}f}")
    while bound > value:
        bound = float(f"{bound - step:.{decimals}f}")
    return bound


def _round_up(value: float, decimals: int) -> float:
    """The smallest number with ``decimals`` decimals (as written and read back) that is ≥ ``value``."""
    step = 10.0 ** -decimals
    bound = float(f"{math.ceil(value / step - 1e-6) * step:.{decimals}f}")
    while bound < value:
        bound = float(f"{bound + step:.{decimals}f}")
    return bound


class Num(str):
    """A number already formatted for the YAML file (written as is)."""


def _num(value: float, decimals: int) -> Num:
    text = f"{value:.{decimals}f}"
    return Num(text[1:] if text.startswith("-") and float(text) == 0 else text)


@dataclass
class Check:
    key: str
    value: Any
    comment: list[str]
    items: list[str]  # item names, for the summary
    xfail: bool = False


def derive_checks(measured: Measured, margin: float) -> tuple[list[Check], list[str]]:
    """The checks ``init`` writes (in a stable order), and notes for the terminal."""
    from ..views import View, dims_label, prefix_label, window_label  # the engine loads with the first measurement

    result = measured.result
    full = result.full_score
    prefixes = list(result.plan.prefixes)
    checks: list[Check] = []
    notes: list[str] = []
    m = f"{margin:g}"

    prefix = {k: _num(max(-1.0, _round_down(result.prefix(k) - margin, 3)), 3) for k in prefixes}
    today = ", ".join(f"{k}: {result.prefix(k):.4f}" for k in prefixes)
    checks.append(Check("prefix", prefix, [f"Score of the first k dims ≥ bound ({m} below today: {today})."],
                         [View.prefix(k).item_id("prefix") for k in prefixes]))

    middle = prefixes[1:-1]
    if full > 0 and middle:
        relative: dict[int, Num] = {}
        shares = []
        for k in middle:
            score = result.prefix(k)
            ratio = min(1.5, _round_down(score / full - margin, 2))
            while ratio > 0 and ratio * full > score:
                ratio = float(f"{ratio - 0.01:.2f}")
            shares.append(f"{k}: {score / full:.1%}")
            if ratio > 0:
                relative[k] = _num(ratio, 2)
        if relative:
            checks.append(Check(
                "relative", relative,
                [f"Share of the full score ({full:.4f}) the first k dims keep, {m} below today's "
                 f"({', '.join(shares)})."],
                [View.prefix(k).item_id("relative") for k in relative]))
    elif full <= 0:
        notes.append(f"no relative check: the full score is {full:.4f}")

    windows = measured.windows
    if windows is not None and result.plan.windows:
        scores = {(s, e): result.scores[window_label(s, e)] for s, e in result.plan.windows
                  if e - s == windows.width}
        (low_start, low_end), low = min(scores.items(), key=lambda item: item[1])
        checks.append(Check(
            "segments",
            {"width": windows.width, "step": windows.step, "min": _num(max(-1.0, _round_down(low - margin, 3)), 3)},
            [f"Every window of {windows.width} consecutive dims (stepping by {windows.step}: {len(scores)} windows) "
             f"≥ min; the lowest today is {window_label(low_start, low_end)} {low:.4f}."],
            ["segments"]))

    if measured.random is not None and result.random:
        checks.append(_random_check(measured, margin, notes))

    drops = [(result.prefix(a) - result.prefix(b), b) for a, b in itertools.pairwise(prefixes)]
    worst, at = max(drops, default=(0.0, prefixes[-1]))
    tolerance = _round_up(max(worst, 0.0) + margin, 3)
    while not all(result.prefix(b) >= result.prefix(a) - tolerance for a, b in itertools.pairwise(prefixes)):
        tolerance = float(f"{tolerance + 0.001:.3f}")  # pragma: no cover - float edge
    if tolerance <= 1.0:
        where = f"largest drop today {worst:.4f}, at {prefix_label(at)}" if worst > 0 else "today it never drops"
        checks.append(Check("monotonic", {"tolerance": _num(tolerance, 3)},
                             [f"Along the ladder the score never drops by more than the tolerance ({where})."],
                             ["monotonic"]))

    smallest = measured.smallest
    if smallest is None:
        notes.append(f"no min_dims check: no prefix keeps {measured.ratio:.0%} of the full score {full:.4f}")
    else:
        limit = min(k for k in prefixes if k >= smallest)
        checks.append(Check(
            "min_dims", {"ratio": measured.ratio, "max": limit, "step": measured.step},
            [f"The smallest prefix (searched every {measured.step} dims) keeping {measured.ratio:.0%} of the full "
             f"score is ≤ max: {smallest} dims today, rounded up to the next ladder size."],
            ["min_dims"]))

    named = result.plan.dims
    if named:
        bounds = {name: _num(max(-1.0, _round_down(result.scores[dims_label(name)] - margin, 3)), 3)
                  for name in named}
        checks.append(Check("dims", bounds,
                             [f"Score of each named dimension list (views.dims) ≥ bound, {m} below today."],
                             [dims_label(name) for name in named]))
    return checks, notes


def _random_check(measured: Measured, margin: float, notes: list[str]) -> Check:
    """The random check: a regression guard where the prefix beats random, else an expected failure."""
    from ..views import prefix_label, random_label

    result = measured.result
    random = measured.random
    assert random is not None
    stats = dict(sorted(result.random.items()))
    lead = {k: s.prefix - s.mean for k, s in stats.items()}
    today = "; ".join(f"{k}: {lead[k]:+.4f}, beats {s.percentile:.0f}% of {len(s.scores)}" for k, s in stats.items())
    losing = [k for k in stats if lead[k] <= 0]
    comment = [f"Is the prefix special? prefix[k] − mean of {random.samples} random k-dim subsets "
               f"(seed {random.seed}) today: {today}."]
    if not losing:
        bound = max(-1.0, _round_down(min(lead.values()) - margin, 3))
        comment.append(f"The prefix beats random at every size; the margin sits {margin:g} below the smallest lead.")
        if bound < 0:
            smallest = min(lead, key=lambda k: lead[k])
            comment.append(f"That lead (+{lead[smallest]:.4f} at {smallest}) is smaller than {margin:g}, so the "
                           f"margin is negative: a regression guard (the prefix may trail random by up to "
                           f"{-bound:.3f}), not a claim that the prefix is special.")
        value = {"dims": list(stats), "samples": random.samples, "seed": random.seed, "margin": _num(bound, 3)}
        return Check("random", value, comment, [random_label(k) for k in stats])
    claim = _round_up(max(margin, 0.001), 3)
    details = "; ".join(f"{prefix_label(k)} − mean({random_label(k)}) = {lead[k]:+.4f}, beats "
                        f"{stats[k].percentile:.0f}% of {len(stats[k].scores)} subsets" for k in losing)
    reason = f"the prefix is no better than random subsets of its size: {details}"
    comment.append(f"At {', '.join(map(str, losing))} dims the prefix does NOT beat random subsets: the check asks "
                   f"for a lead of {claim:g} and is marked xfail, so it reports the finding without failing "
                   "(it turns XPASS if the model becomes MRL-like).")
    winning = [k for k in stats if k not in losing]
    if winning:
        comment.append(f"Sizes where the prefix does beat random ({', '.join(map(str, winning))}) are report-only "
                       "(views.random): one random check is either expected to fail or not.")
    notes.append(f"{', '.join(random_label(k) for k in losing)}: xfail, {reason}")
    value = {"dims": losing, "samples": random.samples, "seed": random.seed, "margin": _num(claim, 3),
             "xfail": reason}
    return Check("random", value, comment, [random_label(k) for k in losing], xfail=True)


