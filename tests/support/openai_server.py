"""A small OpenAI-compatible embeddings server for tests (standard library + numpy only).

``POST /v1/embeddings`` with ``{"model", "input": [...] | str, "dimensions"?, "encoding_format"?}``
answers in OpenAI's JSON shape. Vectors come from an injectable ``embed(texts) -> array``
function (a cheap deterministic hash encoder by default). ``dimensions`` truncates and
renormalises server-side, as OpenAI does. ``encoding_format: base64`` (what the ``openai`` client
asks for by default) returns little-endian float32 bytes in base64.

Faults are scripted: :meth:`EmbeddingServer.script` queues :class:`Fault` objects, and each
request takes the next one (or answers normally when the queue is empty). Every request is
recorded (headers, body, time, how many were in flight) for assertions.

    with serve() as server:
        server.script(Fault.rate_limit("0.1"), Fault.server_error())
        ...  # point a client at server.url
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

EmbedFunction = Callable[[list[str]], np.ndarray]


def hash_embed(texts: Sequence[str], dim: int = 64) -> np.ndarray:
    """Deterministic vectors of varied norm: a text's SHA-256 seeds a normal draw, scaled by 1..4."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        rows.append(rng.standard_normal(dim) * rng.uniform(1.0, 4.0))
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), dim)


def count_tokens(text: str) -> int:
    """The fake server's token count (whitespace words + 1), reported in ``usage``."""
    return len(text.split()) + 1


def truncate(vectors: np.ndarray, dimensions: int | None, renormalize: bool = True) -> np.ndarray:
    """What the server does with ``dimensions``: keep the first k and renormalise."""
    if dimensions is None:
        return vectors
    cut = np.asarray(vectors, dtype=np.float32)[:, :dimensions]
    if not renormalize:
        return cut
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return (cut / np.where(norms > 0, norms, 1.0)).astype(np.float32)


@dataclass(frozen=True)
class Fault:
    """One scripted answer. ``kind`` is one of the constructors below."""

    kind: str
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    message: str = ""
    delay: float = 0.0
    reply: Callable[[list[str]], bytes] | None = None

    @classmethod
    def raw(cls, reply: Callable[[list[str]], bytes], status: int = 200,
            headers: tuple[tuple[str, str], ...] = ()) -> Fault:
        """Answer with whatever bytes ``reply(inputs)`` gives (malformed replies of every kind)."""
        return cls("raw", status, headers, reply=reply)

    @classmethod
    def rate_limit(cls, retry_after: str | None = "0.05", *, retry_after_ms: str | None = None) -> Fault:
        headers = []
        if retry_after is not None:
            headers.append(("Retry-After", retry_after))
        if retry_after_ms is not None:
            headers.append(("retry-after-ms", retry_after_ms))
        return cls("status", 429, tuple(headers), "Rate limit reached, slow down")

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status, (), "The server had an error while processing your request")

    @classmethod
    def error(cls, status: int, message: str) -> Fault:
        return cls("status", status, (), message)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally after ``seconds`` (longer than the client timeout → a timeout)."""
        return cls("slow", delay=seconds)

    @classmethod
    def disconnect(cls) -> Fault:
        """Announce the full Content-Length, send half the body, close the connection."""
        return cls("disconnect")

    @classmethod
    def truncated(cls) -> Fault:
        """A well-framed HTTP 200 whose JSON document is cut in the middle."""
        return cls("truncated")

    @classmethod
    def not_json(cls) -> Fault:
        """HTTP 200 with an HTML page (a proxy or captive portal answering)."""
        return cls("not_json")

    @classmethod
    def wrong_count(cls) -> Fault:
        """One vector fewer than inputs."""
        return cls("wrong_count")

    @classmethod
    def nan(cls) -> Fault:
        return cls("nan")

    @classmethod
    def wrong_dim(cls) -> Fault:
        """The first vector loses its last component."""
        return cls("wrong_dim")

    @classmethod
    def duplicate_index(cls) -> Fault:
        """Every item claims ``index: 0``."""
        return cls("duplicate_index")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    started: float
    in_flight: int
    fault: str | None = None
    status: int = 0

    @property
    def inputs(self) -> list[str]:
        if not isinstance(self.body, dict):
            return []
        if isinstance(self.body.get("requests"), list):  # Gemini's batchEmbedContents
            return [part.get("text") for item in self.body["requests"]
                    for part in (item.get("content") or {}).get("parts", [])]
        value = self.body.get("input", self.body.get("texts"))
        return [value] if isinstance(value, str) else list(value or [])


@dataclass
class EmbeddingServer:
    """The server's state and knobs; start it with :func:`serve` (or ``start``/``stop``)."""

    embed: EmbedFunction = field(default=hash_embed)
    latency: float = 0.0
    usage: bool = True
    shuffle: bool = False
    honour_dimensions: bool = True
    force_float: bool = False
    require_key: str | None = None
    dimensions_param: str = "dimensions"  # the field this server reads the size from
    wire: str = "openai"  # "voyage": errors as {"detail": ...}, and output_dtype int8/uint8 honoured;
    # "gemini": POST /v1beta/models/<model>:batchEmbedContents with requests[], key in x-goog-api-key;
    # "cohere": POST /v2/embed with texts and embedding_types, answered {embeddings: {type: rows}, meta}
    # misbehaviour on demand (the server's truncation contract):
    renormalize: bool = True  # False: truncated vectors keep their partial norm
    accept_any_dimensions: bool = False  # True: an impossible size answers with the whole vector, not a 400
    order_dependent: bool = False  # True: a vector shifts with its position in the request
    batch_dependent: bool = False  # True: a vector shifts with the number of inputs in the request
    requests: list[RecordedRequest] = field(default_factory=list)
    max_in_flight: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._in_flight = 0
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give a client (ends in ``/v1``)."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> EmbeddingServer:
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.block_on_close = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()  # joins the handler threads
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    # -- scripting and inspection --------------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def embedding_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(("/embeddings", "/embed", ":batchEmbedContents"))]

    def expected(self, texts: Sequence[str], dimensions: int | None = None) -> np.ndarray:
        """The vectors this server gives for ``texts`` (before any client-side normalisation)."""
        return truncate(np.asarray(self.embed(list(texts)), dtype=np.float32), dimensions)

    # -- internals used by the handler ---------------------------------------------------------

    def _begin(self, record: RecordedRequest) -> Fault | None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            record.in_flight = self._in_flight
            self.requests.append(record)
            fault = self._faults.popleft() if self._faults else None
            record.fault = fault.kind if fault else None
            return fault

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _sleep(self, seconds: float) -> bool:
        """Wait, waking early when the server stops; True when it is stopping."""
        return self._stop.wait(seconds) if seconds > 0 else self._stop.is_set()


class _Handler(BaseHTTPRequestHandler):
    owner: EmbeddingServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 30  # an idle keep-alive connection is dropped after this

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._reply_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = RecordedRequest(
            method="POST", path=self.path, headers={k.lower(): v for k, v in self.headers.items()},
            raw=raw, body=body, started=time.monotonic(), in_flight=0,
        )
        server = self.owner
        fault = server._begin(record)
        try:
            record.status = self._handle(server, record, fault)
        except OSError:  # the client went away (timed out): nothing to answer
            self.close_connection = True
        finally:
            server._end()

    # -- one request ---------------------------------------------------------------------------

    def _handle(self, server: EmbeddingServer, record: RecordedRequest, fault: Fault | None) -> int:
        route = {"cohere": "/v2/embed", "gemini": ":batchEmbedContents"}.get(server.wire, "/embeddings")
        if not self.path.rstrip("/").endswith(route):
            return self._reply_json(404, {"error": {"message": f"no route {self.path}"}})
        if server.require_key is not None:
            sent = record.headers.get("authorization", "")
            if server.wire == "gemini":
                sent = "Bearer " + record.headers.get("x-goog-api-key", "")
            if sent != f"Bearer {server.require_key}":
                # Like some real servers, echo what was sent: clients must redact it.
                given = sent.removeprefix("Bearer ")
                return self._reply_error(401, f"Incorrect API key provided: {given}")
        body = record.body
        field = {"cohere": "texts", "gemini": "requests"}.get(server.wire, "input")
        if not isinstance(body, dict) or field not in body or ("model" not in body and server.wire != "gemini"):
            return self._reply_json(400, {"error": {"message": "expected a JSON object with model and input"}})
        inputs = record.inputs
        if not inputs or not all(isinstance(t, str) for t in inputs):
            return self._reply_json(400, {"error": {"message": "input must be a string or a list of strings"}})
        if server._sleep(server.latency):
            return 0
        if fault is not None and fault.kind == "status":
            return self._reply_error(fault.status, fault.message, headers=fault.headers)
        if fault is not None and fault.kind == "raw" and fault.reply is not None:
            return self._reply_bytes(fault.status, fault.reply(inputs), headers=fault.headers)
        if fault is not None and fault.kind == "slow" and server._sleep(fault.delay):
            return 0
        if fault is not None and fault.kind == "not_json":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return self._reply_bytes(200, page, content_type="text/html")

        dimensions = body.get(server.dimensions_param)
        if server.wire == "gemini" and body["requests"]:
            dimensions = body["requests"][0].get("outputDimensionality")
        vectors = np.asarray(server.embed(inputs), dtype=np.float32)
        full = vectors.shape[1]
        if (isinstance(dimensions, int) and server.honour_dimensions and not server.accept_any_dimensions
                and not 1 <= dimensions <= full):
            return self._reply_error(400, f"dimensions must be between 1 and {full}, got {dimensions}")
        if server.order_dependent or server.batch_dependent:
            vectors = _perturb(vectors, server.order_dependent, server.batch_dependent)
        if isinstance(dimensions, int) and server.honour_dimensions:
            vectors = truncate(vectors, dimensions, server.renormalize)
        if server.wire == "cohere":
            return self._reply_cohere(server, body, inputs, vectors, fault)
        if server.wire == "gemini":
            rows = [{"values": [float(x) for x in vector]} for vector in vectors]
            if fault is not None and fault.kind == "wrong_count":
                rows = rows[:-1]
            return self._reply_json(200, {"embeddings": rows})
        encoding = "float" if server.force_float else body.get("encoding_format", "float")
        dtype = body.get("output_dtype") if server.wire == "voyage" else None
        items: list[dict[str, Any]] = []
        for index, vector in enumerate(vectors):
            row = vector.astype(np.float32)
            if dtype in ("int8", "uint8"):
                embedding_int = quantize(row, dtype)
                items.append({"object": "embedding", "index": index, "embedding":
                              base64.b64encode(embedding_int.tobytes()).decode("ascii") if encoding == "base64"
                              else [int(x) for x in embedding_int]})
                continue
            if fault is not None and fault.kind == "nan" and index == 0:
                row = row.copy()
                row[0] = np.nan
            if fault is not None and fault.kind == "wrong_dim" and index == 0:
                row = row[:-1]
            embedding: Any = (base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
                              if encoding == "base64" else [float(x) for x in row])
            items.append({"object": "embedding", "index": index, "embedding": embedding})
        if fault is not None and fault.kind == "wrong_count":
            items = items[:-1]
        if fault is not None and fault.kind == "duplicate_index":
            for item in items:
                item["index"] = 0
        if server.shuffle:
            items.reverse()
        payload: dict[str, Any] = {"object": "list", "data": items, "model": body["model"]}
        if server.usage:
            tokens = sum(count_tokens(t) for t in inputs)
            payload["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        data = json.dumps(payload).encode()
        if fault is not None and fault.kind == "truncated":
            return self._reply_bytes(200, data[: len(data) // 2])
        if fault is not None and fault.kind == "disconnect":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return 200
        return self._reply_bytes(200, data)

    def _reply_cohere(self, server: EmbeddingServer, body: dict[str, Any], inputs: list[str], vectors: np.ndarray,
                      fault: Fault | None) -> int:
        kinds = body.get("embedding_types") or ["float"]
        embeddings: dict[str, Any] = {}
        for kind in kinds:
            rows: list[list[float | int]] = []
            for vector in vectors:
                if kind == "float":
                    rows.append([float(x) for x in vector])
                elif kind in ("int8", "uint8"):
                    rows.append([int(x) for x in quantize(vector, kind)])
                else:
                    packed = np.packbits(vector > 0)
                    rows.append([int(x) for x in (packed.view(np.int8) if kind == "binary" else packed)])
            if fault is not None and fault.kind == "wrong_count":
                rows = rows[:-1]
            embeddings[kind] = rows
        payload = {"id": "fake", "embeddings": embeddings, "texts": inputs, "response_type": "embeddings_by_type",
                   "meta": {"billed_units": {"input_tokens": sum(count_tokens(t) for t in inputs)}}}
        return self._reply_json(200, payload)

    def _reply_error(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> int:
        if self.owner.wire == "voyage":
            return self._reply_json(status, {"detail": message}, headers=headers)
        if self.owner.wire == "cohere":
            return self._reply_json(status, {"id": "err", "message": message}, headers=headers)
        if self.owner.wire == "gemini":
            return self._reply_json(status, {"error": {"code": status, "message": message, "status": "ERROR"}},
                                    headers=headers)
        return self._reply_json(status, {"error": {"message": message, "type": "invalid_request_error"}},
                                headers=headers)

    def _reply_json(self, status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()) -> int:
        return self._reply_bytes(status, json.dumps(payload).encode(), headers=headers)

    def _reply_bytes(self, status: int, data: bytes, content_type: str = "application/json",
                     headers: Sequence[tuple[str, str]] = ()) -> int:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        return status


def quantize(vector: np.ndarray, dtype: str) -> np.ndarray:
    """The fake server's int8/uint8 output: the unit vector scaled to the integer range."""
    unit = np.asarray(vector, dtype=np.float64) / max(float(np.linalg.norm(vector)), 1e-12)
    if dtype == "int8":
        return np.clip(np.round(unit * 127 * 4), -128, 127).astype(np.int8)
    return np.clip(np.round(unit * 127 * 4 + 128), 0, 255).astype(np.uint8)


def _perturb(vectors: np.ndarray, by_position: bool, by_batch: bool) -> np.ndarray:
    """A small shift that depends on where a text sits in the request, or on how many texts came along."""
    out = np.asarray(vectors, dtype=np.float64).copy()
    scale = np.linalg.norm(out, axis=1, keepdims=True) / np.sqrt(out.shape[1])
    for row in range(len(out)):
        seed = (row if by_position else 0) * 1009 + (len(out) if by_batch else 0)
        out[row] += 0.2 * scale[row] * np.random.default_rng(seed).standard_normal(out.shape[1])
    return out.astype(np.float32)


@contextmanager
def serve(**options: Any) -> Iterator[EmbeddingServer]:
    """Start an :class:`EmbeddingServer` on 127.0.0.1 (a free port) and stop it on exit."""
    server = EmbeddingServer(**options).start()
    try:
        yield server
    finally:
        server.stop()


__all__ = ["EmbeddingServer", "Fault", "RecordedRequest", "count_tokens", "hash_embed", "quantize", "serve", "truncate"]
