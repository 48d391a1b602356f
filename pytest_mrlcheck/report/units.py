"""How tables write sizes: bytes in binary units (1024), one decimal above a kilobyte."""

from __future__ import annotations


def human_bytes(count: float) -> str:
    """``512 B``, ``2.0 KB``, ``8.3 MB``, ``1.5 GB``."""
    for unit in ("B", "KB", "MB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"
