"""pytest-mrlcheck: the quality of truncated embeddings as ordinary, cached pytest checks."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
