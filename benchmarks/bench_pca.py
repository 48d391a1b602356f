#!/usr/bin/env python
"""PCA references: one fit at the largest size vs one fit per size, and what each solver costs.

Run from the repository root:  .venv/bin/python benchmarks/bench_pca.py [--rows N] [--dims D] [--repeat R]

The fit set is SciFact-sized by default (5183 vectors of 384 dims, unit length, with a decaying
spectrum like a sentence encoder's); sizes 32/64/128/256 as a spec would list them. Rows:

  A  what pytest-mrlcheck does: one PCA(n_components=256) with the solver ``solver_for`` picks
     (covariance_eigh when there are more texts than dims), smaller sizes are its leading rows
  B  one fit per size with the same solver (the same components, asserted equal)
  C  one fit per size with svd_solver="full" (LAPACK SVD of the centred data)
  D  one fit per size with scikit-learn's default solver ("auto"; may pick "randomized", whose
     components depend on k and a random state: the largest deviation from A is printed)

Timings are medians of ``--repeat`` runs; the 1-minute load average is printed before and after.
"""

from __future__ import annotations

import argparse

import numpy as np
from harness import load_text, median_seconds

from pytest_mrlcheck.pca import fit_projection, solver_for

SIZES = (32, 64, 128, 256)


def _vectors(rows: int, dims: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((dims, dims)))[0]
    data = rng.standard_normal((rows, dims)) * (1.0 / np.sqrt(np.arange(1, dims + 1))) @ basis
    return np.asarray(data / np.linalg.norm(data, axis=1, keepdims=True), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5183)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from sklearn.decomposition import PCA

    print(f"load average before: {load_text()}")
    data = _vectors(args.rows, args.dims)
    solver = solver_for(*data.shape)
    largest = fit_projection(data, max(SIZES), "bench")
    for k in SIZES:  # B's components are A's leading rows, exactly
        own = PCA(n_components=k, svd_solver=solver).fit(data.astype(np.float64))
        assert np.array_equal(own.components_, largest.components[:k]), k
    wide = data.astype(np.float64)
    a = median_seconds(lambda: fit_projection(data, max(SIZES), "bench"), args.repeat)
    b = median_seconds(lambda: [PCA(n_components=k, svd_solver=solver).fit(wide) for k in SIZES], args.repeat)
    c = median_seconds(lambda: [PCA(n_components=k, svd_solver="full").fit(wide) for k in SIZES], args.repeat)
    d = median_seconds(lambda: [PCA(n_components=k).fit(wide) for k in SIZES], args.repeat)
    deviation = max(float(np.abs(np.abs(PCA(n_components=k).fit(wide).components_)
                                 - np.abs(largest.components[:k])).max()) for k in SIZES)
    print(f"{args.rows} vectors × {args.dims} dims, sizes {list(SIZES)}; solver picked: {solver}")
    print(f"{'row':<4}{'what':<52}{'seconds':>9}{'× A':>7}")
    for row, what, seconds in (("A", f"one fit at {max(SIZES)} ({solver})", a),
                               ("B", f"one fit per size ({solver})", b),
                               ("C", "one fit per size (full)", c),
                               ("D", "one fit per size (auto)", d)):
        print(f"{row:<4}{what:<52}{seconds:>9.3f}{seconds / a:>7.1f}")
    print(f"D's components vs A's: largest |difference| {deviation:.2e} (up to sign)")
    print(f"load average after: {load_text()}")


if __name__ == "__main__":
    main()
