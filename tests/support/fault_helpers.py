"""Fault injection for tests: small tmpfs mounts (full disks, read-only file systems), as root only."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` mounted at ``where``; skips the test when not root or mount fails."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("fault test: mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where))
    if done.returncode != 0:
        pytest.skip(f"fault test: cannot mount a tmpfs ({done.stderr.strip() or done.returncode})")
    try:
        yield where
    finally:
        _mount("-o", "remount,rw", str(where))
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def remount_read_only(where: Path) -> None:
    done = _mount("-o", "remount,ro", str(where))
    if done.returncode != 0:
        pytest.skip(f"fault test: cannot remount read-only ({done.stderr.strip()})")


def remount_writable(where: Path) -> None:
    _mount("-o", "remount,rw", str(where))


def fill(where: Path, name: str = "filler") -> Path:
    """Fill the file system at ``where`` up to the last byte; returns the filler file (remove to free)."""
    filler = where / name
    chunk = b"\0" * (1 << 16)
    with filler.open("ab", buffering=0) as stream, contextlib.suppress(OSError):
        while True:  # unbuffered: a short write takes the last bytes, the next one fails
            stream.write(chunk)
    return filler
