"""Base URLs of OpenAI-compatible endpoints: one normal form for identity and messages, credentials never shown."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from ..errors import ProviderError

_SECRET_QUERY_WORDS = ("key", "token", "secret", "sig", "code", "password", "auth")


def display_url(url: str) -> str:
    """A base URL normalised for identity and messages: lower-case scheme and host, no default
    port, no trailing slash, no user:password, secret-looking query values replaced by ``***``."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        userinfo = _userinfo(text)
        detail = str(exc).replace(userinfo, "***") if userinfo else str(exc)
        raise ProviderError(f"base_url {mask_credentials(text)!r} is not a valid URL: {detail}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise ProviderError(
            f"base_url {mask_credentials(text)!r} is not an http(s) URL",
            hint="for example http://localhost:8000/v1 (vLLM) or https://<resource>.openai.azure.com/openai/v1",
        )
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default_port) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = "&".join(
        f"{k}={'***' if any(word in k.lower() for word in _SECRET_QUERY_WORDS) else v}"
        for k, v in sorted(parse_qsl(parts.query, keep_blank_values=True))
    )
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def _userinfo(text: str) -> str:
    """The ``user:password`` part of a URL ('' when there is none)."""
    _, sep, rest = text.partition("://")
    authority = rest.partition("/")[0].partition("?")[0].partition("#")[0]
    return authority.rpartition("@")[0] if sep else ""


def mask_credentials(url: str) -> str:
    """``url`` with its ``user:password@`` shown as ``***@`` (for every message that names a URL)."""
    userinfo = _userinfo(url)
    return url.replace(f"{userinfo}@", "***@", 1) if userinfo else url


def check_no_credentials(url: str, where: str) -> None:
    """Refuse a base URL with ``user:password@``: the HTTP client would send them as Basic auth,
    silently replacing the bearer key."""
    if _userinfo(url.strip()):
        raise ProviderError(
            f"{where} {mask_credentials(url.strip())!r} carries credentials (user:password@); the HTTP client "
            "would send them instead of the API key",
            hint="remove them from the URL; the key goes in the environment variable named by model.api_key_env "
            "(a gateway that needs Basic auth: put it in front as a local proxy)",
        )
