"""The one guard between the plugin and everything it runs (loaders, models, user code, libraries).

Anything that is not an :class:`~pytest_mrlcheck.errors.MrlcheckError`, raised inside a
:func:`step`, becomes a :class:`StepFailed`: one message naming the step ("encoding with
python:my_encoder:encode"), the original exception's type and message, and the last frames of
the user's own code (never the package's, a library's or pytest's). The original exception and
its frames are not kept: nothing it held (an API key in a frame's locals) can be rendered later.
"""

from __future__ import annotations

import enum
import os
import re
import site
import sys
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

from .errors import EvaluationError, MrlcheckError, MrlcheckWarning

MAX_MESSAGE = 500  # characters of the original exception's message that are shown
MAX_FRAMES = 5  # of the user's own code, most recent last
_PACKAGE_DIR = Path(__file__).resolve().parent
_SECRET_ENV_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s'\"<>]+@")  # up to the last @ of the authority


class Step(enum.Enum):
    """What the plugin was doing when something failed; the value is how messages say it."""

    READ_SPEC = "reading the spec"
    PLAN_CHECKS = "planning the checks"
    OPEN_CACHE = "opening the embedding cache"
    LOAD_DATA = "loading data"
    LOAD_MODEL = "loading the model"
    ENCODE = "encoding"
    SCORE = "scoring"
    GEOMETRY = "measuring geometry"
    EXPORT = "writing"
    SUMMARY = "summarising the scores"
    JUDGE = "judging"
    EVALUATE = "evaluating"
    RUN_COMMAND = "running"


@dataclass(frozen=True)
class UserFrame:
    """One frame of the user's code: where, and the source line (never its locals)."""

    file: str
    line: int
    function: str
    source: str

    def render(self) -> str:
        code = f": {self.source}" if self.source else ""
        return f"{self.file}:{self.line} in {self.function}{code}"


class StepFailed(EvaluationError):
    """Something the plugin ran raised an exception that is not the plugin's own error."""

    def __init__(self, step: Step, detail: str, error_type: str, error_message: str,
                 frames: tuple[UserFrame, ...] = (), hint: str | None = None) -> None:
        self.step = step
        self.detail = detail
        self.error_type = error_type
        self.error_message = error_message
        self.frames = frames
        what = f"{step.value} {detail}".strip()
        headline = f"{what} failed: {error_type}" + (f": {error_message}" if error_message else "")
        lines = [headline]
        if frames:
            lines.append("  in your code (most recent call last):")
            lines.extend(f"    {frame.render()}" for frame in frames)
        self.headline = headline
        super().__init__("\n".join(lines), hint=hint)


def headline(error: MrlcheckError) -> str:
    """The first line of an error's message (what a pointer to the full message repeats)."""
    if isinstance(error, StepFailed):
        return error.headline
    return error.message.splitlines()[0] if error.message else type(error).__name__


def redact(text: str) -> str:
    """Mask credentials in URLs (``scheme://***@host``) and values of secret-looking variables."""
    text = _URL_CREDENTIALS.sub(r"\1***@", text)
    for name, value in os.environ.items():
        if len(value) >= 8 and any(word in name.upper() for word in _SECRET_ENV_WORDS) and value in text:
            text = text.replace(value, "***")
    return text


def describe(error: BaseException, redactor: Callable[[str], str] | None = None) -> tuple[str, str]:
    """(type name, message): redacted, then cut to :data:`MAX_MESSAGE` characters, one line."""
    module = type(error).__module__.split(".")[0]
    kind = type(error).__qualname__
    if module not in ("builtins", "__main__"):
        kind = f"{module}.{kind}"
    try:
        text = str(error)
    except Exception:  # an exception whose __str__ raises
        text = ""
    if isinstance(error, SyntaxError) and error.filename:
        text = f"{error.msg} ({display_path(error.filename)}, line {error.lineno})"
    if redactor is not None:
        text = redactor(text)
    text = " ".join(redact(text).split())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return kind, text


def _library_roots() -> tuple[str, ...]:
    roots = {str(_PACKAGE_DIR)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    for path in [*getattr(site, "getsitepackages", list)(), site.getusersitepackages()]:
        roots.add(path)
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        roots.add(str(Path(prefix) / "lib"))
    return tuple(os.path.realpath(root) for root in roots if root)


def _is_user_file(filename: str, libraries: tuple[str, ...]) -> bool:
    if not filename or filename.startswith("<"):
        return False
    real = os.path.realpath(filename)
    if "site-packages" in real or "dist-packages" in real:
        return False
    return not any(real == root or real.startswith(root + os.sep) for root in libraries)


def display_path(filename: str) -> str:
    """A path relative to the current folder when inside it."""
    try:
        return Path(filename).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return filename


def user_frames(tb: TracebackType | None, error: BaseException | None = None) -> tuple[UserFrame, ...]:
    """The last :data:`MAX_FRAMES` frames of ``tb`` in the user's own files (file, line, source)."""
    libraries = _library_roots()
    frames = [
        UserFrame(display_path(summary.filename), summary.lineno or 0, summary.name, (summary.line or "").strip())
        for summary in traceback.extract_tb(tb)
        if _is_user_file(summary.filename, libraries)
    ]
    if isinstance(error, SyntaxError) and error.filename and _is_user_file(error.filename, libraries):
        source = (error.text or "").strip()
        frames.append(UserFrame(display_path(error.filename), error.lineno or 0, "<module>", source))
    return tuple(frames[-MAX_FRAMES:])


LIBRARY_HINT = ("raised outside your code, by pytest-mrlcheck or a library it uses, on this spec's input; if "
                "the input looks right, please report it with this message")


def wrap(which: Step, detail: str, error: BaseException, *, redactor: Callable[[str], str] | None = None,
         hint: str | None = None) -> StepFailed:
    """The :class:`StepFailed` for ``error``: strings only, nothing of its frames is kept."""
    kind, text = describe(error, redactor)
    clean = redactor or (lambda text: text)
    frames = tuple(UserFrame(f.file, f.line, f.function, redact(clean(f.source)))
                   for f in user_frames(error.__traceback__, error))
    if hint is None and not frames:
        hint = LIBRARY_HINT
    return StepFailed(which, detail, kind, text, frames, hint)


def scrub(error: MrlcheckError) -> MrlcheckError:
    """Drop an error's traceback and chained exceptions (and so every frame and local they held)."""
    error.__traceback__ = None
    error.__context__ = None
    error.__cause__ = None
    error.__suppress_context__ = True
    return error


class Guard:
    """A block whose foreign exceptions become :class:`StepFailed` (see :func:`step`)."""

    def __init__(self, which: Step, detail: str, redactor: Callable[[str], str] | None, hint: str | None) -> None:
        self.which = which
        self.detail = detail
        self.redactor = redactor
        self.hint = hint

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if error is None or isinstance(error, MrlcheckError | MrlcheckWarning) or not isinstance(error, Exception):
            return False  # ours, or KeyboardInterrupt/SystemExit/pytest outcomes: not ours to change
        raise wrap(self.which, self.detail, error, redactor=self.redactor, hint=self.hint) from None


def step(which: Step, detail: str = "", *, redactor: Callable[[str], str] | None = None,
         hint: str | None = None) -> Guard:
    """Run a block; an exception that is not the package's own becomes a :class:`StepFailed`
    naming ``which`` and ``detail`` (raised ``from None``; :func:`scrub` drops the rest)."""
    return Guard(which, detail, redactor, hint)
