"""Recorded baselines: every view's score with its provenance, and the comparison against them.

A baseline file holds any number of specs (keyed by spec name). It is sorted, rounded and
human-diffable JSON; it is rewritten only when something in it changed, atomically and under a
file lock, so concurrent pytest-xdist workers updating different specs never lose an entry.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import atomic
from .errors import EvaluationError
from .locks import folder_lock

if TYPE_CHECKING:
    from .engine.results import SpecResult

SCHEMA = "pytest-mrlcheck/baseline/1"
DIGITS = 6
_PACKAGES = ("pytest-mrlcheck", "numpy", "sentence-transformers", "transformers", "torch", "openai")


def package_versions() -> dict[str, str]:
    """Versions of the packages that can change a score (installed ones only; nothing imported)."""
    versions = {}
    for name in _PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def record(result: SpecResult) -> dict[str, Any]:
    """The baseline entry of one evaluated spec: every view's score (a random family's mean, and the
    prefix's margin over it) and the provenance a comparison must match."""
    from .views import random_label

    spec = result.spec
    scores = {label: round(value, DIGITS) for label, value in result.scores.items()}
    margins: dict[str, float] = {}
    for k, stats in result.random.items():
        scores[random_label(k)] = round(stats.mean, DIGITS)
        margins[random_label(k)] = round(stats.prefix - stats.mean, DIGITS)
    return {
        "provenance": {
            "model": result.model_identity,
            "task": {"kind": spec.task.kind, "data": Path(spec.task.data.source).name, "split": spec.task.data.split,
                     "units": result.units, "dataset_fingerprint": result.dataset_fingerprint},
            "metric": spec.task.metric,
            "similarity": spec.task.similarity,
            "full_dim": result.full_dim,
            "packages": package_versions(),
        },
        "scores": dict(sorted(scores.items(), key=lambda item: _view_order(item[0]))),
        "random_margins": dict(sorted(margins.items(), key=lambda item: _view_order(item[0]))),
    }


def _view_order(label: str) -> tuple[int, int, int, int]:
    """Float32 views in their usual order, each precision's views after them (same order within)."""
    from .views import PRECISIONS, View

    base, at, precision = label.partition("]@")
    kind, _, rest = (base + "]" if at else label).partition("[")
    numbers = [int(part) for part in rest.rstrip("]").split(":") if part.isdigit()]
    rank = {"prefix": 0, "random": 1, "window": 2, "dims": 3}.get(kind, 4)
    padded = [*numbers, 0, 0]
    order = PRECISIONS.index(precision) if at and precision in PRECISIONS else 0
    if at:
        try:
            View.parse(label)
        except ValueError:
            order = len(PRECISIONS)
    return (order, rank, padded[0], padded[1])


def _locked(path: Path) -> contextlib.AbstractContextManager[None]:
    """The lock for a baseline file: its own folder, locked as a folder (see ``locks.folder_lock``):
    nothing in a shared temp folder another user could plant, and no lock file in the repository."""
    return folder_lock(path.parent)


def read(path: Path) -> dict[str, Any] | None:
    """The baseline file's content, ``None`` if it does not exist; clear errors if it is unreadable."""
    hint = "restore it from version control, or re-record it with --mrlcheck-update-baseline"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise EvaluationError(f"{path}: the baseline file is not valid UTF-8 (byte {exc.start})", hint=hint) from None
    except OSError as exc:
        raise EvaluationError(f"cannot read the baseline file {path}: {exc.strerror}") from None
    try:
        content = json.loads(text)
    except RecursionError:
        raise EvaluationError(f"{path}: the baseline file is nested too deeply to be a baseline", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise EvaluationError(
            f"{path}:{exc.lineno}: the baseline file is not valid JSON ({exc.msg})",
            hint="restore it from version control, or re-record it with --mrlcheck-update-baseline",
        ) from None
    if not isinstance(content, dict) or content.get("schema") != SCHEMA or not isinstance(content.get("specs"), dict):
        raise EvaluationError(f"{path}: not a pytest-mrlcheck baseline file (schema {SCHEMA})")
    return content


def entry(content: dict[str, Any], path: Path, name: str) -> dict[str, Any] | None:
    """Spec ``name``'s entry, checked against the schema (None: no entry); a malformed one is an
    error naming the file, the entry and the key. Recorded scores must be finite numbers."""
    raw = content["specs"].get(name)
    if raw is None:
        return None

    def bad(key: str, expected: str, got: object) -> EvaluationError:
        shown = json.dumps(got)[:40] if not isinstance(got, float) else repr(got)
        return EvaluationError(
            f"{path}: spec {name!r}: {key}: expected {expected}, got {shown}",
            hint="re-record it with --mrlcheck-update-baseline (only this entry is replaced)")

    if not isinstance(raw, dict):
        raise bad("entry", "an object", raw)
    provenance = raw.get("provenance")
    if not isinstance(provenance, dict):
        raise bad("provenance", "an object", provenance)
    if not isinstance(provenance.get("task"), dict):
        raise bad("provenance.task", "an object", provenance.get("task"))
    for kind in ("scores", "random_margins"):
        values = raw.get(kind, {})
        if not isinstance(values, dict):
            raise bad(kind, "an object of view → score", values)
        for label, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise bad(f"{kind}[{label!r}]", "a finite number", value)
    return raw


def _without_date(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key != "recorded"}


def update(path: Path, name: str, entry: dict[str, Any]) -> bool:
    """Write ``entry`` for spec ``name``, keeping every other spec; ``False`` if nothing changed."""
    for label, value in entry.get("scores", {}).items():
        if not math.isfinite(value):
            raise EvaluationError(f"cannot record the baseline of {name!r} in {path}: {label} scored {value}",
                                  hint="a score that is not a number cannot be a baseline")
    with _locked(path):
        content = read(path) or {"schema": SCHEMA, "specs": {}}
        old = content["specs"].get(name)
        if isinstance(old, dict) and _without_date(old) == _without_date(entry):  # a malformed one is replaced
            return False
        content["specs"][name] = {"recorded": datetime.date.today().isoformat(), **entry}
        content["specs"] = dict(sorted(content["specs"].items()))
        atomic.write_text(path, json.dumps(content, indent=2, sort_keys=False, ensure_ascii=False,
                                           allow_nan=False) + "\n")
    return True


@dataclass(frozen=True)
class Comparison:
    """A spec's current scores against its recorded baseline."""

    rows: tuple[tuple[str, float, float, float, bool], ...]  # view, baseline, now, delta, ok
    mismatches: tuple[str, ...]  # provenance that makes the comparison meaningless
    notes: tuple[str, ...]  # provenance that changed but is not a failure (model revision, packages)
    missing_views: tuple[str, ...]  # recorded views not evaluated now


def _describe(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)


def compare(baseline: dict[str, Any], current: dict[str, Any], tolerance: float) -> Comparison:
    """Compare the current entry (see :func:`record`) with a recorded one."""
    then, now = baseline["provenance"], current["provenance"]
    mismatches = []
    for key, label in (("metric", "metric"), ("similarity", "similarity"), ("full_dim", "full dimension")):
        if then.get(key) != now.get(key):
            mismatches.append(f"{label}: recorded {then.get(key)}, now {now.get(key)}")
    for key in ("kind", "split", "dataset_fingerprint", "units"):
        if then["task"].get(key) != now["task"].get(key):
            if key == "dataset_fingerprint":
                mismatches.append(
                    f"dataset: recorded on data with fingerprint {str(then['task'][key])[:12]}… "
                    f"({then['task'].get('units')} units), now {str(now['task'][key])[:12]}… "
                    f"({now['task'].get('units')} units): the texts or labels changed"
                )
            elif key != "units":
                mismatches.append(f"task {key}: recorded {then['task'].get(key)}, now {now['task'].get(key)}")
    notes = []
    if then.get("model") != now.get("model"):
        notes.append(f"model changed: recorded {_describe(then.get('model'))}, now {_describe(now.get('model'))}")
    changed = {
        name: (then.get("packages", {}).get(name), version)
        for name, version in now.get("packages", {}).items()
        if then.get("packages", {}).get(name) != version
    }
    if changed:
        notes.append("packages: " + ", ".join(f"{name} {old} → {new}" for name, (old, new) in sorted(changed.items())))
    rows = []
    for kind in ("scores", "random_margins"):
        for label, recorded in baseline.get(kind, {}).items():
            if label not in current.get(kind, {}):
                continue
            view = label if kind == "scores" else f"{label} margin"
            value = current[kind][label]
            delta = value - recorded
            rows.append((view, recorded, value, delta, delta >= -tolerance - 1e-12))
    missing = tuple(
        label for label in baseline.get("scores", {}) if label not in current.get("scores", {})
    )
    return Comparison(tuple(rows), tuple(mismatches), tuple(notes), missing)
