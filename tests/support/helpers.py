"""Helpers shared by the tests: a deterministic numpy encoder and small STS datasets."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

FAKE_ENCODER = '''
"""Deterministic test encoder: a sentence is the sum of per-word random vectors, front-loaded
so that early dimensions carry more signal (like a Matryoshka model). Logs what it encodes."""
import hashlib
import os

import numpy as np

DIM = int(os.environ.get("FAKE_DIM", "64"))
WEIGHTS = 1.0 / np.sqrt(np.arange(1, DIM + 1))


def _word(word):
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIM)


def encode(texts, role):
    log = os.environ.get("FAKE_ENCODER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write("".join(f"{role}\\t{t}\\n" for t in texts))
    return np.stack([sum(_word(w) for w in t.lower().split()) * WEIGHTS for t in texts])


def noisy(texts, role):
    """A worse model: the same vectors with per-text deterministic noise."""
    out = encode(texts, role)
    for row, text in zip(out, texts):
        seed = int.from_bytes(hashlib.sha256(("noise" + text).encode()).digest()[:8], "little")
        row += np.random.default_rng(seed).standard_normal(DIM) * float(os.environ.get("FAKE_NOISE", "0.5"))
    return out


def broken(texts, role):
    out = encode(texts, role)
    out[0, 0] = float("nan")
    return out
'''

WORDS = [
    "river", "stone", "bread", "music", "train", "garden", "window", "doctor", "market", "winter", "cloud",
    "violin", "harbor", "ticket", "lemon", "castle", "forest", "engine", "pencil", "summer", "bridge",
    "candle", "mirror", "planet", "rocket", "tiger", "saddle", "parrot", "coffee", "island", "ladder",
    "meadow", "silver", "copper", "lantern", "anchor", "valley",
]


def write_sts_csv(path: Path, pairs: int = 80, seed: int = 0, header: bool = True) -> Path:
    """Pairs of 6-word sentences sharing m words; gold = 5·m/6 (+ a little noise)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(["sentence1", "sentence2", "score"])
        for _ in range(pairs):
            first = rng.sample(WORDS, 6)
            shared = rng.randint(0, 6)
            rest = [w for w in WORDS if w not in first]
            second = first[:shared] + rng.sample(rest, 6 - shared)
            rng.shuffle(second)
            score = round(min(5.0, max(0.0, 5 * shared / 6 + rng.uniform(-0.4, 0.4))), 2)
            writer.writerow([" ".join(first), " ".join(second), score])
    return path


def encoded_lines(pytester: pytest.Pytester) -> list[str]:
    log = pytester.path / "encoded.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


FAKE_SPEC = """
name: fake-sts
model:
  provider: python
  callable: fake_encoder:encode
task:
  kind: sts
  data:
    path: data/pairs.csv
checks:
  prefix: {8: 0.3, 64: 0.5}
  relative: {32: 0.9}
  segments: {width: 16, step: 8, min: 0.1}
  random: {dims: [8, 16], samples: 16, seed: 0, margin: 0.0}
  monotonic: {tolerance: 0.05}
  min_dims: {ratio: 0.9, max: 64}
"""


def assert_clean_output(output: str) -> None:
    """A user mistake or a failure in user code reads as a message: no traceback through the package.

    Use on the combined output (``result.stdout.str() + result.stderr.str()``) of every
    bad-input test.
    """
    assert "Traceback" not in output, output[-4000:]
    frames = [line for line in output.splitlines() if "pytest_mrlcheck/" in line and ".py:" in line]
    assert not frames, "package frames in the output:\n" + "\n".join(frames[:20])
