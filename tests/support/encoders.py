"""Misbehaving encoders for tests of the guard: each logs its call, then fails in its own way."""

from __future__ import annotations

CALLS_ENV = "MRLCHECK_TEST_CALLS"

# Toy encoders: each appends a line to $MRLCHECK_TEST_CALLS when called, then misbehaves.
TOY_ENCODERS = '''
import os

import numpy as np

from fake_encoder import encode as _good


def _count():
    with open(os.environ["MRLCHECK_TEST_CALLS"], "a", encoding="utf-8") as handle:
        handle.write("call\\n")


def _inner_helper(texts):
    table = {"known": 1}
    return table[texts[0][:0] + "missing-key"]


def raises(texts, role):
    _count()
    return _inner_helper(texts)


def exits(texts, role):
    _count()
    raise SystemExit(3)


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no")


def unprintable(texts, role):
    _count()
    raise Unprintable()


def long_message(texts, role):
    _count()
    raise ValueError("x" * 5000)


def numpy_fails(texts, role):
    _count()
    return np.linalg.inv(np.zeros((3, 3)))


def returns_none(texts, role):
    _count()


def returns_flat_list(texts, role):
    _count()
    return [0.5] * len(texts)


def returns_too_few(texts, role):
    _count()
    return _good(texts, role)[:-1]


def returns_3d(texts, role):
    _count()
    return _good(texts, role)[:, :, None]


def returns_strings(texts, role):
    _count()
    return np.array([["a", "b"]] * len(texts))


def returns_ragged(texts, role):
    _count()
    return [[1.0] * (1 + i % 2) for i in range(len(texts))]


def returns_complex(texts, role):
    _count()
    return _good(texts, role) * 1j


def returns_dict(texts, role):
    _count()
    return {"embeddings": _good(texts, role)}


def returns_nan(texts, role):
    _count()
    out = _good(texts, role)
    out[3, 1] = float("nan")
    return out


def returns_huge(texts, role):
    _count()
    return _good(texts, role).astype(np.float64) * 1e300


def returns_empty_rows(texts, role):
    _count()
    return np.zeros((len(texts), 0))


def returns_huge_ints(texts, role):
    _count()
    return [[10 ** 400, 1] for _ in texts]


NOT_A_FUNCTION = 42
'''
