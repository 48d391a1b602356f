#!/usr/bin/env python
"""Same outcomes and numbers as another commit: ``pytest examples/`` on this tree and on a git ref.

Run from the repository root:  .venv/bin/python benchmarks/compare_examples.py [--ref 5f8aacf]

Both trees run ``python -m pytest examples/ -p no:cacheprovider --mrlcheck-json REPORT`` in a child
process of their own (the ref checked out with ``git worktree add`` into a temporary folder, each
run with ``PYTHONPATH`` and the working directory set to its tree) on one shared
``--mrlcheck-cache-dir``, so the model encodes every text once: the first run is cold, the second
warm. Then the two JSON reports are compared:

- every test item's outcome (passed, failed, xfailed, ...), matched by item id;
- everything else, walked key by key: the same keys, lists of the same length, equal strings,
  booleans and nulls, and numbers within ``--tolerance`` (1e-9 by default; the largest difference
  is printed), except the volatile keys listed in ``VOLATILE_KEYS`` (timings, dates, paths, the
  cache's encode counts), which are dropped at any depth. A path inside a string is written
  relative to its tree first.

The exit code is 0 when nothing differs and 1 otherwise, with one line per difference. ``--keep
DIR`` keeps both reports and the pytest output there; ``--cache-dir`` reuses a cache (the default is
a temporary one); extra arguments after ``--`` go to both pytest runs.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import REPO, child_env, reference_worktree, run_child

DEFAULT_REF = "5f8aacf"
TOLERANCE = 1e-9

VOLATILE_KEYS = frozenset({
    "created",  # when the report was written
    "plugin_version",  # the version string of the tree's package
    "file",  # the spec file's path (the tree's folder)
    "seconds",  # phase timings of a spec, and a PCA fit's time
    "encoding",  # encoded / cache hits: the first run fills the cache the second reads
    "encoded", "cache_hits",  # the same, in the totals
    "search_seconds", "relative_search_time",  # cost per size: measured search times and their ratios
    "build_seconds", "query_seconds",  # index views: time to build an index and per query
})
"""Keys whose values are dropped from both reports before comparing, wherever they appear."""


@dataclass(frozen=True)
class DeliberateChange:
    """A bug fix that changed numbers on purpose: the differences it explains, against refs before it.

    A difference is explained when its path starts with one of ``paths`` and the ref does not yet
    contain ``commit``; outcome and exit-code differences are never explained.
    """

    commit: str
    paths: tuple[str, ...]
    reason: str


DELIBERATE_CHANGES = (
    DeliberateChange(
        commit="39004a4",
        paths=("specs[examples/minilm_regression.mrl.yaml::minilm-sts-baseline].checks[0].",
               "specs[examples/minilm_regression.mrl.yaml::minilm-sts-baseline].intervals.prefix[64]"),
        reason="the window [0:64] took prefix[64]'s bootstrap replicates, so `prefix: {64: 0.52, confidence: "
               "0.95}` was judged on the point score; it is judged on the interval's lower bound now",
    ),
)
"""Differences explained by a fix (shown, not counted) when the ref predates the fix."""


@dataclass
class Comparison:
    """What the walk found: differences, how many numbers were compared and their largest gap."""

    tolerance: float
    differences: list[str] = field(default_factory=list)
    numbers: int = 0
    max_difference: float = 0.0
    max_where: str = ""

    def walk(self, ours: Any, theirs: Any, where: str) -> None:
        if _is_number(ours) and _is_number(theirs):
            self.numbers += 1
            gap = abs(float(ours) - float(theirs))
            if math.isnan(gap):
                gap = math.inf
            if gap > self.max_difference:
                self.max_difference, self.max_where = gap, where
            if gap > self.tolerance:
                self.differences.append(f"{where}: {ours!r} != {theirs!r} (|diff| {gap:.3g})")
        elif isinstance(ours, dict) and isinstance(theirs, dict):
            for key in sorted(set(ours) | set(theirs)):
                if key in VOLATILE_KEYS:
                    continue
                if key not in theirs:
                    self.differences.append(f"{where}.{key}: only in this tree")
                elif key not in ours:
                    self.differences.append(f"{where}.{key}: only in the ref")
                else:
                    self.walk(ours[key], theirs[key], f"{where}.{key}")
        elif isinstance(ours, list) and isinstance(theirs, list):
            if len(ours) != len(theirs):
                self.differences.append(f"{where}: {len(ours)} entries != {len(theirs)}")
            for index, (left, right) in enumerate(zip(ours, theirs, strict=False)):
                self.walk(left, right, f"{where}[{index}]")
        elif type(ours) is not type(theirs) or ours != theirs:
            self.differences.append(f"{where}: {_short(ours)} != {_short(theirs)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _relative_paths(value: Any, tree: Path) -> Any:
    """``value`` with ``tree``'s absolute path inside any string written as ``<tree>``."""
    if isinstance(value, str):
        return value.replace(str(tree), "<tree>")
    if isinstance(value, dict):
        return {key: _relative_paths(item, tree) for key, item in value.items()}
    if isinstance(value, list):
        return [_relative_paths(item, tree) for item in value]
    return value


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    """Item id → outcome, over every check of every spec."""
    return {check["item"]: check["outcome"] for spec in report["specs"] for check in spec["checks"]}


def compare_reports(ours: dict[str, Any], theirs: dict[str, Any], tolerance: float = TOLERANCE) -> Comparison:
    """Outcomes item by item, then every non-volatile value of the two reports."""
    found = Comparison(tolerance)
    mine, other = outcomes(ours), outcomes(theirs)
    for item in sorted(set(mine) | set(other)):
        if mine.get(item) != other.get(item):
            found.differences.append(f"outcome of {item}: {mine.get(item)} != {other.get(item)}")
    by_id = {spec["id"]: spec for spec in theirs["specs"]}
    for spec in ours["specs"]:
        if spec["id"] not in by_id:
            found.differences.append(f"spec {spec['id']}: only in this tree")
            continue
        found.walk(spec, by_id.pop(spec["id"]), f"specs[{spec['id']}]")
    found.differences.extend(f"spec {spec_id}: only in the ref" for spec_id in by_id)
    found.walk({k: v for k, v in ours.items() if k != "specs"}, {k: v for k, v in theirs.items() if k != "specs"},
               "report")
    return found


def explain(differences: list[str], applicable: list[DeliberateChange]) -> tuple[list[str], list[str]]:
    """Split ``differences`` into those no fix in ``applicable`` explains and the explained ones."""
    unexplained, explained = [], []
    for line in differences:
        fix = next((fix for fix in applicable if line.startswith(fix.paths)), None)
        if fix is None:
            unexplained.append(line)
        else:
            explained.append(f"{line}  [fix {fix.commit}]")
    return unexplained, explained


def predating(ref: str) -> list[DeliberateChange]:
    """The deliberate changes whose commit ``ref`` does not contain yet."""
    applicable = []
    for fix in DELIBERATE_CHANGES:
        contained = subprocess.run(["git", "merge-base", "--is-ancestor", fix.commit, ref], cwd=REPO,
                                   capture_output=True, check=False)
        if contained.returncode == 1:  # 0: the ref has the fix; anything else (unknown commit): not applied
            applicable.append(fix)
    return applicable


def run_examples(tree: Path, cache: Path, report: Path, extra: list[str]) -> tuple[dict[str, Any], float, int, str]:
    """``pytest examples/`` in ``tree`` with its own package; the report, seconds, exit code, output."""
    command = [sys.executable, "-m", "pytest", "examples/", "-p", "no:cacheprovider", "-q",
               f"--mrlcheck-json={report}", f"--mrlcheck-cache-dir={cache}", *extra]
    done = run_child(command, tree, child_env({"PYTHONPATH": str(tree)}), merge_output=True)
    if done.returncode not in (0, 1) or not report.is_file():  # 1: a check failed, which is compared too
        sys.exit(f"pytest examples/ in {tree} exited with {done.returncode}:\n{done.stdout[-4000:]}")
    loaded = _relative_paths(json.loads(report.read_text(encoding="utf-8")), tree)
    return loaded, done.seconds, done.returncode, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ref", default=DEFAULT_REF, help=f"the git ref to compare with (default {DEFAULT_REF})")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help=f"largest |difference| allowed (default {TOLERANCE:g})")
    parser.add_argument("--cache-dir", type=Path, help="the embedding cache both runs share (default: a temporary one)")
    parser.add_argument("--keep", type=Path, help="keep both JSON reports and pytest outputs in this folder")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments for both runs (after --)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="mrlcheck-compare-"))
    out = args.keep or scratch
    out.mkdir(parents=True, exist_ok=True)
    cache = args.cache_dir or scratch / "cache"
    try:
        ours, our_seconds, our_code, our_output = run_examples(REPO, cache, out / "this-tree.json", args.pytest_args)
        print(f"this tree ({REPO}): exit {our_code}, {our_seconds:.1f} s", flush=True)
        with reference_worktree(args.ref) as tree:
            theirs, ref_seconds, ref_code, ref_output = run_examples(tree, cache, out / "ref.json", args.pytest_args)
        print(f"ref {args.ref}: exit {ref_code}, {ref_seconds:.1f} s", flush=True)
        (out / "this-tree.log").write_text(our_output, encoding="utf-8")
        (out / "ref.log").write_text(ref_output, encoding="utf-8")
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)

    found = compare_reports(ours, theirs, args.tolerance)
    if our_code != ref_code:
        found.differences.insert(0, f"pytest exit code: {our_code} != {ref_code}")
    items = len(outcomes(ours))
    print(f"{len(ours['specs'])} specs, {items} items, {found.numbers} numbers compared; largest |difference| "
          f"{found.max_difference:.3g}" + (f" at {found.max_where}" if found.max_where else "")
          + f"; ignored keys: {', '.join(sorted(VOLATILE_KEYS))}")
    applicable = predating(args.ref)
    unexplained, explained = explain(found.differences, applicable)
    if explained:
        print(f"{len(explained)} difference(s) explained by fixes {args.ref} predates:")
        for fix in applicable:
            print(f"  fix {fix.commit}: {fix.reason}")
        for line in explained:
            print(f"  {line}")
    if unexplained:
        print(f"{len(unexplained)} difference(s) between this tree and {args.ref}:")
        for line in unexplained:
            print(f"  {line}")
        return 1
    print(f"same outcomes and numbers as {args.ref} (tolerance {args.tolerance:g})"
          + (" apart from the explained fixes" if explained else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
