"""The OpenAI-compatible provider in tests: the API key variable, the fake server's embedding, the spec."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.support.helpers import FAKE_SPEC

KEY_ENV = "MRLCHECK_TEST_API_KEY"
KEY = "sk-test-DO-NOT-LEAK-1234567890"


def fake_embed(project: pytest.Pytester) -> Callable[[list[str]], np.ndarray]:
    """The project's fake encoder as a server-side embedding function (query role)."""
    namespace: dict[str, Any] = {}
    exec((project.path / "fake_encoder.py").read_text(), namespace)
    encode = namespace["encode"]
    return lambda batch: np.asarray(encode(batch, "query"), dtype=np.float32)


def openai_spec(url: str, extra: str = "") -> str:
    """The fake STS spec with its model served at ``url`` (``extra`` appends model keys)."""
    return FAKE_SPEC.replace(
        "  provider: python\n  callable: fake_encoder:encode",
        f"  provider: openai\n  name: fake-embedder\n  base_url: {url}\n  api_key_env: {KEY_ENV}\n"
        f"  batch_size: 32\n  price_per_million_tokens: 0.02{extra}",
    )
