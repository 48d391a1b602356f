"""STS pair files for tests: the column mapping, a small csv text, and pairs whose similarities never tie."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from tests.support.helpers import WORDS

STS_COLUMNS = {"text1": "sentence1", "text2": "sentence2", "score": "score"}
STS_ROWS = [("a river", "the river", 4.0), ("bread and jam", "a stone", 0.5), ("music, loud", "quiet music", 2.25)]


def sts_csv(rows: list[tuple[str, str, float]] = STS_ROWS, newline: str = "\n", trailing: bool = True) -> str:
    """The csv text of ``rows`` under a sentence1,sentence2,score header."""
    lines = ["sentence1,sentence2,score"] + [",".join(_quote(c) for c in (a, b, str(s))) for a, b, s in rows]
    return newline.join(lines) + (newline if trailing else "")


def _quote(cell: str) -> str:
    return f'"{cell}"' if "," in cell or '"' in cell else cell


def distinct_pairs(path: Path, pairs: int = 70, seed: int = 1) -> Path:
    """STS pairs that never share every word, so no two similarities tie by construction."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence1", "sentence2", "score"])
        for _ in range(pairs):
            first = rng.sample(WORDS, 6)
            shared = rng.randint(0, 5)
            second = first[:shared] + rng.sample([w for w in WORDS if w not in first], 6 - shared)
            writer.writerow([" ".join(first), " ".join(second), round(5 * shared / 6 + rng.uniform(-0.4, 0.4), 2)])
    return path
