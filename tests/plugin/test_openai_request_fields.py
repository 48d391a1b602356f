"""``extra_body`` and ``dimensions_param`` of the openai provider, against the fake server."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.helpers import assert_clean_output
from tests.support.openai_server import serve
from tests.support.providers import KEY, KEY_ENV, fake_embed, openai_spec


def test_extra_body_fields_are_sent_and_keyed(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project)) as server:
        write_spec(openai_spec(server.url, "\n  extra_body: {input_type: search_query, truncate: END, "
                                            "options: {pool: [mean]}}"))
        fake_project.runpytest("--mrlcheck-cache-dir", "cache").assert_outcomes(passed=9)
        bodies = [r.body for r in server.embedding_requests()]
        assert all(b["input_type"] == "search_query" and b["truncate"] == "END" and b["options"] == {"pool": ["mean"]}
                   for b in bodies)
        # another extra_body is another model key: nothing is served from the first one's cache
        write_spec(openai_spec(server.url, "\n  extra_body: {input_type: search_document}"))
        result = fake_project.runpytest("--mrlcheck-cache-dir", "cache")
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(["embeddings: 160 texts encoded, 0 from cache*"])


def test_dimensions_param_renames_the_size_field(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    with serve(embed=fake_embed(fake_project), dimensions_param="output_dimension") as server:
        write_spec(openai_spec(server.url, "\n  dimensions_param: output_dimension\n  canary: false")
                   + "  server_truncation: {dims: [16], min_cosine: 0.999, max_norm_error: 0.01, reject: [100]}\n")
        result = fake_project.runpytest("-k", "server_truncation", "--mrlcheck-no-cache", "--mrlcheck-json",
                                        "report.json")
        sized = [r.body for r in server.embedding_requests() if "output_dimension" in r.body]
    result.assert_outcomes(passed=2)
    assert sized and all("dimensions" not in body for body in sized)
    assert sorted({body["output_dimension"] for body in sized}) == [16, 100]
    (spec,) = json.loads((fake_project.path / "report.json").read_text())["specs"]
    assert spec["server_contract"]["reject"]["100"]["refused"] is True


@pytest.mark.parametrize(("setting", "lines"), [
    ("extra_body: {api_key: abc}", ["*: model.extra_body.api_key: 'api_key' looks like a secret, and extra_body is "
                                    "part of the cache key and reports",
                                    "*hint: keys come from the environment (api_key_env), never from a spec"]),
    ("extra_body: {input: x}", ["*: model.extra_body.input: 'input' is a field mrlcheck sets itself"]),
    ("extra_body: [a, b]", ["*: model.extra_body: expected a mapping of keys, got a list"]),
    ("dimensions_param: 'output dimension'", ["*: model.dimensions_param: expected a JSON field name, got str "
                                              "'output dimension'"]),
    ("dimensions_param: size\n  extra_body: {size: 3}", ["*: model.extra_body.size: 'size' is a field mrlcheck "
                                                         "sets itself"]),
])
def test_bad_request_fields_are_spec_errors(fake_project: pytest.Pytester, write_spec: Callable[..., Path],
                                            setting: str, lines: list[str]) -> None:
    write_spec(openai_spec("http://127.0.0.1:9/v1", f"\n  {setting}"))
    result = fake_project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(lines)
    assert_clean_output(result.stdout.str() + result.stderr.str())
