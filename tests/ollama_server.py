"""An Ollama-compatible HTTP server for tests, on 127.0.0.1 and a free port.

Faithful to Ollama's API shapes, so the real `ollama` client talks to it: chat streamed
(application/x-ndjson, chunked) and not, tags, show (with capabilities), version; errors as
{"error": "..."} with the status codes and messages Ollama's server uses (server/routes.go,
server/sched.go): 404 for an unknown model, 400 for a request it refuses, 500 when the runner
fails, 503 when its queue is full. Inside a stream an error is an {"error": ...} line after
the 200, as Ollama does; without streaming Ollama buffers the reply, so the error is a 500.

Each test scripts the replies (`script`, `chooser`, `answers`) and reads back the requests it
received (`requests`, `chat_requests()`, `images()`, `text_sent()`, `peak_in_flight`). It can
be stopped and started again on the same port to play a server that goes down and comes back.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

MODEL = "qwen2.5vl:7b"
VISION = ["completion", "vision"]

# Ollama's own messages (server/sched.go ErrMaxQueue, server/routes.go, model/model.go).
BUSY = "server busy, please try again.  maximum pending requests exceeded"
RUNNER_DIED = "llama runner process has terminated: exit status 2"
NO_VISION = "this model is missing data required for image input"


def no_thinking(model: str) -> str:
    return f'"{model}" does not support thinking'


def chat_not_found(model: str) -> str:
    return f"model '{model}' not found"


@dataclass
class Reply:
    """One scripted answer to /api/chat."""

    content: str | dict[str, Any] | None = None  # None: answer from `answers`
    status: int = 200
    error: str | None = None
    delay: float = 0.0  # seconds before anything is sent
    done_reason: str = "stop"
    drop: bool = False  # close the connection without a reply
    cut_after: int | None = None  # send this many bytes of the body, then close the connection
    stall: float = 0.0  # streaming: go silent this long after the first chunk
    fail_midway: str | None = None  # the runner fails after part of the reply (this message)
    # A reasoning model that ignores think=false: this in message.thinking (with content
    # "" when content is None: qwen3-vl, qwen3.5, ollama#14798, #14716).
    thinking: str | dict[str, Any] | None = None

    @classmethod
    def busy(cls) -> Reply:
        return cls(status=503, error=BUSY)

    @classmethod
    def runner_died(cls) -> Reply:
        return cls(status=500, error=RUNNER_DIED)

    @classmethod
    def refused(cls, message: str = 'invalid options: "num_predikt"') -> Reply:
        return cls(status=400, error=message)


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    raw: bytes
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeOllama:
    # Model name -> capabilities, as `ollama show` lists them.
    models: dict[str, list[str]] = field(default_factory=lambda: {MODEL: list(VISION)})
    # Field name -> value the "model" reads in every photo (text and presence fields).
    answers: dict[str, str] = field(default_factory=dict)
    script: deque[Reply] = field(default_factory=deque)
    chooser: Callable[[dict[str, Any]], Reply] | None = None
    requests: list[Recorded] = field(default_factory=list)
    version: str = "0.12.6"
    # Until this time (monotonic), every chat is answered 503 "server busy", as Ollama does
    # when its queue is full (OLLAMA_MAX_QUEUE): a storm that ends on its own.
    busy_until: float = 0.0

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._last_port = 0
        self.in_flight = 0  # chat requests being answered right now
        self.peak_in_flight = 0

    # -- lifecycle

    def start(self, port: int | None = None) -> FakeOllama:
        """Listen on `port` (default: the port of the last run, else a free one)."""
        fake = self
        self._closing.clear()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As Ollama (Go's net/http) does: without it the reply's headers and body go
            # in two writes, and Nagle's algorithm holds the body for the client's delayed
            # ACK, 40 ms a call: a server that "answers at once" would not.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def do_HEAD(self) -> None:
                fake._serve(self, "HEAD")

        chosen = self._last_port if port is None else port
        self._server = ThreadingHTTPServer(("127.0.0.1", chosen), Handler)
        self._server.daemon_threads = True
        self._last_port = int(self._server.server_address[1])
        server = self._server
        threading.Thread(target=lambda: server.serve_forever(0.05), daemon=True).start()
        return self

    def stop(self) -> None:
        """Go down like a stopped server: no listener, open connections closed."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        assert self._last_port, "never started"
        return self._last_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def busy_for(self, seconds: float) -> None:
        """Answer every chat 503 for `seconds` from now (float("inf"): until told)."""
        self.busy_until = time.monotonic() + seconds

    # -- what the tests read back

    def chat_requests(self) -> list[Recorded]:
        """The chats that asked something (a preload, with no messages, is in `loads`)."""
        with self._lock:
            return [r for r in self.requests if r.path == "/api/chat" and r.body.get("messages")]

    def loads(self) -> list[Recorded]:
        with self._lock:
            return [
                r for r in self.requests if r.path == "/api/chat" and not r.body.get("messages")
            ]

    def images(self) -> list[Image.Image]:
        """Every image the chat requests carried, decoded."""
        out: list[Image.Image] = []
        for recorded in self.chat_requests():
            for message in recorded.body.get("messages", []):
                for data in message.get("images") or []:
                    image = Image.open(io.BytesIO(base64.b64decode(data)))
                    image.load()
                    out.append(image)
        return out

    # -- HTTP

    def _serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        try:
            self._handle(h, method)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            h.close_connection = True  # the client gave up (its timeout): nothing to answer

    def _send_json(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _error(self, h: BaseHTTPRequestHandler, status: int, message: str) -> None:
        self._send_json(h, status, {"error": message})

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            self._error(h, 400, "invalid character looking for beginning of value")
            return
        with self._lock:
            self.requests.append(Recorded(h.path, body, raw))
        if method == "HEAD" and h.path == "/":
            h.send_response(200)
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif h.path == "/" and method == "GET":
            data = b"Ollama is running"
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        elif h.path == "/api/version":
            self._send_json(h, 200, {"version": self.version})
        elif h.path == "/api/tags":
            self._send_json(h, 200, {"models": [self._tag(name) for name in self.models]})
        elif h.path == "/api/show" and method == "POST":
            self._show(h, body)
        elif h.path == "/api/chat" and method == "POST":
            with self._lock:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                self._chat(h, body, raw)
            finally:
                with self._lock:
                    self.in_flight -= 1
        else:
            h.send_response(404)
            h.send_header("Content-Length", "18")
            h.end_headers()
            h.wfile.write(b"404 page not found")

    def _tag(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "model": name,
            "modified_at": "2026-10-01T10:00:00.000000000+00:00",
            "size": 6_000_000_000,
            "digest": "5ced39dfa4ba" + "0" * 52,
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "qwen25vl",
                "families": ["qwen25vl"],
                "parameter_size": "8.3B",
                "quantization_level": "Q4_K_M",
            },
        }

    def _show(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        name = body.get("model") or body.get("name") or ""
        if name not in self.models:
            self._error(h, 404, f"model '{name}' not found")
            return
        self._send_json(
            h,
            200,
            {
                "modelfile": f"FROM {name}",
                "parameters": "temperature 0.0001",
                "template": "{{ .Prompt }}",
                "details": self._tag(name)["details"],
                "model_info": {"general.architecture": "qwen25vl"},
                "capabilities": self.models[name],
                "modified_at": "2026-10-01T10:00:00.000000000+00:00",
            },
        )

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self.script:
                return self.script.popleft()
        if self.chooser is not None:
            return self.chooser(body)
        return Reply()

    def _content_for(self, body: dict[str, Any]) -> str:
        """What a perfect model would answer: each schema field from `answers`."""
        schema = body.get("format")
        if not isinstance(schema, dict):
            return "{}"
        out = {}
        for key, spec in schema.get("properties", {}).items():
            # A grammar-bound model answers within the enum: "unsure", else its last choice.
            choices = spec.get("enum") or [""]
            default = "unsure" if "unsure" in choices else choices[-1]
            out[key] = self.answers.get(key, default)
        return json.dumps(out)

    def _chat(self, h: BaseHTTPRequestHandler, body: dict[str, Any], raw: bytes) -> None:
        model = body.get("model", "")
        if not raw:
            self._error(h, 400, "missing request body")
            return
        if not model:
            self._error(h, 400, "model is required")
            return
        if model not in self.models:
            self._error(h, 404, chat_not_found(model))
            return
        capabilities = self.models[model]
        if body.get("think") is True and "thinking" not in capabilities:
            self._error(h, 400, no_thinking(model))
            return
        if not body.get("messages"):  # Ollama's documented preload: load, answer nothing
            created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            message = {"role": "assistant", "content": ""}
            loaded = {"model": model, "created_at": created, "message": message}
            self._send_json(h, 200, loaded | {"done_reason": "load", "done": True})
            return
        has_images = any(m.get("images") for m in body.get("messages", []))
        if has_images and "vision" not in capabilities:
            self._error(h, 500, NO_VISION)
            return
        reply = Reply.busy() if time.monotonic() < self.busy_until else self._next_reply(body)
        if reply.delay and self._closing.wait(reply.delay):
            return
        if reply.drop:
            _hang_up(h)
            return
        if reply.status != 200:
            self._error(h, reply.status, reply.error or "server error")
            return
        content = reply.content
        if content is None:
            content = "" if reply.thinking is not None else self._content_for(body)
        elif isinstance(content, dict):
            content = json.dumps(content)
        thinking = reply.thinking
        if isinstance(thinking, dict):
            thinking = json.dumps(thinking)
        created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        final = {
            "model": model,
            "created_at": created,
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": reply.done_reason,
            "total_duration": 1_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": 600,
            "prompt_eval_duration": 500_000,
            "eval_count": 20,
            "eval_duration": 400_000,
        }
        if body.get("stream", True):
            self._stream(h, reply, model, created, content, final)
            return
        if reply.fail_midway is not None:  # Ollama buffers a non-streamed reply: a 500
            self._error(h, 500, reply.fail_midway)
            return
        final["message"] = {"role": "assistant", "content": content}
        if thinking is not None:
            final["message"]["thinking"] = thinking
        if reply.cut_after is None:
            self._send_json(h, 200, final)
            return
        data = json.dumps(final).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: reply.cut_after])
        h.wfile.flush()
        _hang_up(h)

    def _stream(
        self,
        h: BaseHTTPRequestHandler,
        reply: Reply,
        model: str,
        created: str,
        content: str,
        final: dict[str, Any],
    ) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/x-ndjson")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        lines = []
        for i in range(0, len(content), 8):
            chunk = {
                "model": model,
                "created_at": created,
                "message": {"role": "assistant", "content": content[i : i + 8]},
                "done": False,
            }
            lines.append(json.dumps(chunk).encode() + b"\n")
        if reply.fail_midway is not None:
            lines = lines[: max(1, len(lines) // 2)]
            lines.append(json.dumps({"error": reply.fail_midway}).encode() + b"\n")
        else:
            lines.append(json.dumps(final).encode() + b"\n")
        sent = 0
        for number, line in enumerate(lines):
            if reply.cut_after is not None and sent + len(line) > reply.cut_after:
                _write_chunk(h, line[: max(0, reply.cut_after - sent)])
                _hang_up(h)
                return
            _write_chunk(h, line)
            sent += len(line)
            if number == 0 and reply.stall and self._closing.wait(reply.stall):
                return
        _write_chunk(h, b"")


def _write_chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
    h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    h.wfile.flush()


def _hang_up(h: BaseHTTPRequestHandler) -> None:
    h.close_connection = True
    with contextlib.suppress(OSError):
        h.connection.shutdown(socket.SHUT_RDWR)


def text_sent(recorded: Recorded) -> str:
    """Everything a request sent except the image bytes: prompts, schema, options."""
    body = json.loads(recorded.raw) if recorded.raw else {}
    for message in body.get("messages", []):
        message.pop("images", None)
    return json.dumps(body)
