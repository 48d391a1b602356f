"""One exception hierarchy: every error a user can cause or meet is an :class:`MrlcheckError`.

The plugin renders these as short messages (never tracebacks); anything else is a bug and
keeps pytest's normal traceback.
"""

from __future__ import annotations

from pathlib import Path


class MrlcheckError(Exception):
    """Base of every error the plugin reports as a plain message."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class SpecError(MrlcheckError):
    """A spec file is malformed: names ``path:line``, the key, what was expected."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.key = key
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line else f"{self.path}: "
        what = f"{key}: " if key else ""
        super().__init__(f"{where}{what}{message}", hint=hint)


class DataError(MrlcheckError):
    """A dataset cannot be read or does not hold what the task needs."""


class ProviderError(MrlcheckError):
    """A model cannot be loaded or returned unusable vectors."""


class ProviderStatusError(ProviderError):
    """An API answered with an HTTP error status that is not retried (a 4xx); ``status`` says which."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class EvaluationError(MrlcheckError):
    """A spec cannot be evaluated (for example a dimension beyond the model's)."""


class CacheError(MrlcheckError):
    """The embedding cache cannot be used."""


class MrlcheckWarning(UserWarning):
    """Something was repaired or skipped; the run goes on (base of the plugin's warnings)."""


class FileWriteError(MrlcheckError):
    """A file the plugin writes (report, baseline, export, spec) cannot be written; names the file."""

    def __init__(self, path: Path | str, reason: str, *, hint: str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}", hint=hint)
