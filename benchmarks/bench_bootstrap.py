"""Paired bootstrap speed: the vectorised intervals vs a plain loop over resamples (scipy).

Synthetic STS-like data the size of STS-B test (1379 pairs, tied gold scores), 60 views,
1000 resamples. The loop reference is timed on 50 resamples and scaled (it is linear in R).
Run: .venv/bin/python benchmarks/bench_bootstrap.py
"""

from __future__ import annotations

import numpy as np
from harness import median_seconds
from scipy import stats

from pytest_mrlcheck.bootstrap import bootstrap_indices, intervals_from_replicates, sts_replicates
from pytest_mrlcheck.tasks.sts import correlate

PAIRS, VIEWS, RESAMPLES, LOOP_RESAMPLES = 1379, 60, 1000, 50


def main() -> None:
    rng = np.random.default_rng(12)
    gold = np.round(rng.uniform(0, 5, PAIRS) * 5) / 5
    sims = gold[:, None] * 0.1 + rng.normal(0, 0.3, (PAIRS, VIEWS))
    rows = []
    for metric, reference in (("spearman", stats.spearmanr), ("pearson", stats.pearsonr)):
        def vectorised(m: str = metric) -> None:  # what an evaluation does: replicates once, intervals from them
            intervals_from_replicates(correlate(sims, gold, m), sts_replicates(sims, gold, m, resamples=RESAMPLES))

        fast = median_seconds(vectorised)
        indices = bootstrap_indices(PAIRS, LOOP_RESAMPLES, 0)

        def loop(ref=reference, samples=indices) -> None:
            for sample in samples:
                for view in range(VIEWS):
                    ref(sims[sample, view], gold[sample])

        slow = median_seconds(loop, repeat=1) * RESAMPLES / LOOP_RESAMPLES
        rows.append((metric, fast, slow))
    print(f"bootstrap: {RESAMPLES} resamples × {VIEWS} views × {PAIRS} pairs")
    print(f"{'metric':<10} {'vectorised s':>13} {'scipy loop s':>13} {'speed-up':>9} {'target':>10} {'met?':>5}")
    for metric, fast, slow in rows:
        met = "yes" if fast < 1 else "NO"
        print(f"{metric:<10} {fast:>13.3f} {slow:>13.1f} {slow / fast:>8.0f}× {'< 1 s':>10} {met:>5}")


if __name__ == "__main__":
    main()
