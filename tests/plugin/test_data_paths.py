"""Data paths: loops, folders, FIFOs and dangling links get their own message; outside the root needs an opt-in;
nothing of a file read by mistake (a secret in ``/proc/self/environ``) reaches a message, the JSON or JUnit XML."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_mrlcheck.data import load_beir, load_sts
from pytest_mrlcheck.datapaths import DataAccess, checked_file, checked_folder
from pytest_mrlcheck.errors import DataError, ProviderError
from pytest_mrlcheck.providers import ProviderContext
from pytest_mrlcheck.providers.precomputed import PrecomputedEncoder, PrecomputedSettings
from pytest_mrlcheck.spec import DataSpec
from tests.support.beir import beir_spec, write_small_beir
from tests.support.helpers import FAKE_SPEC, assert_clean_output
from tests.support.sts import STS_COLUMNS, sts_csv

needs_posix = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and symbolic links need a POSIX system")


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail (instead of hanging the suite) when a read blocks for more than 10 s."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("the loader blocked on a non-regular file")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def make(kind: str, path: Path) -> Path:
    """Put a ``kind`` of thing at ``path`` where a regular file is expected."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "missing":
        pass
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind == "loop2":
        path.symlink_to(path.name + ".b")
        path.with_name(path.name + ".b").symlink_to(path.name)
    elif kind == "dangling":
        path.symlink_to(path.parent / "gone")
    elif kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "under-a-file":
        path.parent.rmdir() if path.parent.is_dir() and not any(path.parent.iterdir()) else None
        path.parent.write_text("x")
    return path


MESSAGES = {
    "missing": "not found: ", "loop": "is a symbolic link loop", "loop2": "is a symbolic link loop",
    "dangling": "is a symbolic link to a missing target", "folder": "is a folder, not a file",
    "fifo": "is a named pipe (FIFO); only regular files are read",
    "under-a-file": "(a part of the path is a file, not a folder)",
}
KINDS = list(MESSAGES)


@needs_posix
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_data_file_that_is_not_a_regular_file(tmp_path: Path, kind: str, fmt: str, no_hang: None) -> None:
    path = make(kind, tmp_path / "d" / f"pairs.{fmt}")
    with pytest.raises(DataError) as caught:
        load_sts(DataSpec(path=path, format=fmt, columns=STS_COLUMNS, header=True))
    assert MESSAGES[kind] in str(caught.value) and str(path) in str(caught.value)


@needs_posix
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("member", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_a_beir_member_that_is_not_a_regular_file(tmp_path: Path, kind: str, member: str, no_hang: None) -> None:
    folder = write_small_beir(tmp_path / "beir")
    (folder / member).unlink()
    if kind == "under-a-file":
        if member != "qrels/test.tsv":
            pytest.skip("the folder of corpus.jsonl is the BEIR folder itself")
        for child in (folder / "qrels").iterdir():
            child.unlink()
        (folder / "qrels").rmdir()
    make(kind, folder / member)
    with pytest.raises(DataError) as caught:
        load_beir(beir_spec(folder))
    message = str(caught.value)
    assert MESSAGES[kind] in message or (kind in ("missing", "under-a-file") and "not found" in message), message


@needs_posix
@pytest.mark.parametrize(("kind", "message"), [
    ("file", "is a file, not a folder"), ("fifo", "is a named pipe (FIFO), not a folder"),
    ("loop", "is a symbolic link loop"), ("dangling", "is a symbolic link to a missing target"),
    ("missing", "BEIR folder not found"),
])
def test_a_beir_folder_that_is_not_a_folder(tmp_path: Path, kind: str, message: str, no_hang: None) -> None:
    path = tmp_path / "beir"
    if kind == "file":
        path.write_text("{}")
    else:
        make(kind, path)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_beir(beir_spec(path))


@needs_posix
@pytest.mark.parametrize("kind", KINDS)
def test_a_precomputed_file_that_is_not_a_regular_file(tmp_path: Path, kind: str, no_hang: None) -> None:
    path = make(kind, tmp_path / "v" / "vectors.npz")
    context = ProviderContext(spec_dir=tmp_path, rootdir=tmp_path, device=None, file_digest=lambda p: "x",
                              loaded_models={})
    encoder = PrecomputedEncoder(PrecomputedSettings(path=path), context)
    with pytest.raises(ProviderError) as caught:
        encoder.encode(["a"], "document")
    expected = "does not exist" if kind in ("missing", "under-a-file") else MESSAGES[kind]
    assert expected in str(caught.value), str(caught.value)


def test_paths_outside_the_root_need_the_opt_in(tmp_path: Path) -> None:
    root, outside = tmp_path / "project", tmp_path / "elsewhere"
    (root / "data").mkdir(parents=True)
    target = outside / "pairs.csv"
    target.parent.mkdir()
    target.write_text(sts_csv(), encoding="utf-8")
    access = DataAccess(root)
    with pytest.raises(DataError, match="is outside the project root") as caught:
        checked_file(target, "data file", access)
    assert "allow_outside_root: true" in str(caught.value)
    for sneaky in (root / "data" / ".." / ".." / "elsewhere" / "pairs.csv", root / "data" / "link.csv"):
        if sneaky.name == "link.csv":
            sneaky.symlink_to(target)
        with pytest.raises(DataError, match="is outside the project root"):
            load_sts(DataSpec(path=sneaky, format="csv", columns=STS_COLUMNS, header=True), access)
    (root / "data" / "linked-folder").symlink_to(outside, target_is_directory=True)
    with pytest.raises(DataError, match=r"resolves to .*elsewhere"):
        checked_folder(root / "data" / "linked-folder", "BEIR folder", access)
    assert load_sts(DataSpec(path=target, format="csv", columns=STS_COLUMNS, header=True),
                    DataAccess(root, allow_outside_root=True)).pairs == 3
    inside = root / "data" / "pairs.csv"
    inside.write_text(sts_csv(), encoding="utf-8")
    assert load_sts(DataSpec(path=inside, format="csv", columns=STS_COLUMNS, header=True), access).pairs == 3


def test_a_beir_member_linked_outside_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "project"
    folder = write_small_beir(root / "beir")
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"_id": "d1", "text": "private"}\n')
    (folder / "corpus.jsonl").unlink()
    (folder / "corpus.jsonl").symlink_to(secret)
    with pytest.raises(DataError, match=r"corpus file .*corpus.jsonl is outside the project root .* resolves to"):
        load_beir(beir_spec(folder), DataAccess(root))


# ------------------------------------------------------------------------------------------ through the plugin

SECRET_NAME = "MRLCHECK_PROBE_TOKEN"
SECRET = "sk-probe-" + "7f3a9c" * 12  # longer than any excerpt, so no message can hold it whole


def _spec_on(path: str, extra: str = "") -> str:
    return extra + FAKE_SPEC.replace("path: data/pairs.csv", f"path: {json.dumps(path)}\n    format: csv")


def _run(project: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, str]:
    result = project.runpytest("--junitxml=junit.xml", "--mrlcheck-json=report.json", "--mrlcheck-no-cache", *args)
    output = result.stdout.str() + result.stderr.str()
    files = "".join((project.path / name).read_text(encoding="utf-8", errors="replace")
                    for name in ("junit.xml", "report.json") if (project.path / name).exists())
    return result, output + files


LEAK_PROBES = [
    pytest.param("/proc/self/environ", "", "is outside the project root", id="environ"),
    pytest.param("/proc/self/environ", "allow_outside_root: true\n", "not in the header", id="environ-opted-in"),
    pytest.param("../../../../../../etc/passwd", "", "is outside the project root", id="passwd-relative"),
    pytest.param("../../../../../../etc/passwd", "allow_outside_root: true\n", "not in the header",
                 id="passwd-opted-in"),
    pytest.param("/proc/self/cmdline", "allow_outside_root: true\n", "not in the header", id="cmdline-opted-in"),
]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("path", "extra", "message"), LEAK_PROBES)
def test_no_secret_reaches_output_json_or_junit(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch,
    path: str, extra: str, message: str,
) -> None:
    monkeypatch.setenv(SECRET_NAME, SECRET)
    write_spec(_spec_on(path, extra))
    result, everything = _run(fake_project, "-p", "no:randomly")
    result.assert_outcomes(failed=8)
    assert message in everything
    assert SECRET not in everything
    passwd = Path("/etc/passwd")
    if passwd.exists():
        first = passwd.read_text(errors="replace").splitlines()[0]
        if len(first) > 24:
            assert first not in everything
    assert_clean_output(result.stdout.str() + result.stderr.str())


def test_the_ini_option_lets_every_spec_read_outside_the_root(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory,
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "pairs.csv"
    outside.write_bytes((fake_project.path / "data" / "pairs.csv").read_bytes())
    write_spec(_spec_on(str(outside)))
    refused = fake_project.runpytest("--mrlcheck-no-cache")
    refused.assert_outcomes(failed=8)
    refused.stdout.fnmatch_lines(["*data file */pairs.csv is outside the project root *",
                                  "*hint: *allow_outside_root: true in the spec*"])
    assert_clean_output(refused.stdout.str() + refused.stderr.str())
    fake_project.makeini("[pytest]\nmrlcheck_allow_outside_root = true\n")
    fake_project.runpytest("--mrlcheck-no-cache").assert_outcomes(passed=8)


def test_the_spec_key_must_be_a_boolean(fake_project: pytest.Pytester, write_spec: Callable[..., Path]) -> None:
    write_spec(_spec_on("data/pairs.csv", "allow_outside_root: yes please\n"))
    result = fake_project.runpytest()
    result.stdout.fnmatch_lines(["*demo.mrl.yaml:1: allow_outside_root: expected true or false, got *"])
    assert_clean_output(result.stdout.str() + result.stderr.str())


@pytest.mark.parametrize("where", ["queries", "precomputed", "hf"])
def test_other_data_paths_outside_the_root_are_refused(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory,
    where: str,
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "queries.csv").write_text("text\nriver stone\n", encoding="utf-8")
    np.savez(outside / "vectors.npz", texts=np.array(["a"]), embeddings=np.ones((1, 4), dtype=np.float32))
    (outside / "saved").mkdir()
    if where == "queries":
        (fake_project.path / "data" / "corpus.csv").write_text("text\nriver stone\nbread music\ngarden window\n")
        body = textwrap.dedent(f"""
            model: {{provider: python, callable: fake_encoder:encode}}
            task:
              kind: agreement
              data: {{path: data/corpus.csv}}
              queries: {{path: {json.dumps(str(outside / "queries.csv"))}}}
            checks: {{prefix: {{8: 0.0}}}}
            """)
        expected = "*data file */queries.csv is outside the project root*"
    elif where == "precomputed":
        body = FAKE_SPEC.replace("  provider: python\n  callable: fake_encoder:encode",
                                 f"  provider: precomputed\n  path: {json.dumps(str(outside / 'vectors.npz'))}")
        expected = "*precomputed vectors file */vectors.npz is outside the project root*"
    else:
        body = FAKE_SPEC.replace("    path: data/pairs.csv", f"    hf: {{path: {json.dumps(str(outside / 'saved'))}}}")
        expected = "*hf.path */saved is outside the project root*"
    write_spec(body)
    result = fake_project.runpytest("--mrlcheck-no-cache")
    result.stdout.fnmatch_lines([expected])
    assert result.ret == 1
    assert_clean_output(result.stdout.str() + result.stderr.str())


@needs_posix
def test_a_fifo_data_file_fails_fast_through_the_plugin(
    fake_project: pytest.Pytester, write_spec: Callable[..., Path]
) -> None:
    # The child's own timeout guards the hang: a 10 s alarm around a whole pytest start is too tight
    # on a loaded machine, where the start alone can take that long.
    (fake_project.path / "data" / "pairs.csv").unlink()
    os.mkfifo(fake_project.path / "data" / "pairs.csv")
    write_spec(FAKE_SPEC)
    result = fake_project.runpytest_subprocess("--mrlcheck-no-cache", timeout=60)
    result.assert_outcomes(failed=8)
    result.stdout.fnmatch_lines(["*data file */pairs.csv is a named pipe (FIFO); only regular files are read*"])
    assert_clean_output(result.stdout.str() + result.stderr.str())
