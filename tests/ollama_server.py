"""An Ollama-compatible HTTP server for tests, on 127.0.0.1 and a free port.

Faithful to Ollama's API shapes (chat streaming and not, tags, show, version, errors as
{"error": "..."} with Ollama's status codes), so the real `ollama` client talks to it.
Each test scripts the answers and reads back the requests it received.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "qwen2.5vl:7b"


@dataclass
class Reply:
    """One scripted answer to /api/chat."""

    content: str | dict[str, Any] | None = None  # None: answer from `answers`
    status: int = 200
    error: str | None = None
    delay: float = 0.0
    done_reason: str = "stop"
    drop: bool = False  # close the connection without a reply


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    raw: bytes


@dataclass
class FakeOllama:
    models: dict[str, list[str]] = field(default_factory=lambda: {MODEL: ["completion", "vision"]})
    # Field name -> value the "model" reads in every photo (text and presence fields).
    answers: dict[str, str] = field(default_factory=dict)
    script: deque[Reply] = field(default_factory=deque)
    chooser: Callable[[dict[str, Any]], Reply] | None = None
    requests: list[Recorded] = field(default_factory=list)
    version: str = "0.12.6"

    def __post_init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    # -- lifecycle

    def start(self, port: int = 0) -> FakeOllama:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_HEAD(self) -> None:
                fake._handle(self, "HEAD")

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def chat_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == "/api/chat"]

    # -- HTTP

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
            self._chat(h, body)
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
            default = "unsure" if "enum" in spec else ""
            out[key] = self.answers.get(key, default)
        return json.dumps(out)

    def _chat(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if not model:
            self._error(h, 400, "model is required")
            return
        if model not in self.models:
            self._error(h, 404, f'model "{model}" not found, try pulling it first')
            return
        reply = self._next_reply(body)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if reply.status != 200:
            self._error(h, reply.status, reply.error or "server error")
            return
        content = reply.content
        if content is None:
            content = self._content_for(body)
        elif isinstance(content, dict):
            content = json.dumps(content)
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
            h.send_response(200)
            h.send_header("Content-Type", "application/x-ndjson")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            pieces = [content[i : i + 8] for i in range(0, len(content), 8)]
            for piece in pieces:
                chunk = {
                    "model": model,
                    "created_at": created,
                    "message": {"role": "assistant", "content": piece},
                    "done": False,
                }
                _write_chunk(h, json.dumps(chunk).encode() + b"\n")
            _write_chunk(h, json.dumps(final).encode() + b"\n")
            _write_chunk(h, b"")
        else:
            final["message"] = {"role": "assistant", "content": content}
            self._send_json(h, 200, final)


def _write_chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
    h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    h.wfile.flush()


def text_sent(recorded: Recorded) -> str:
    """Everything a chat request sent except the image bytes: prompts, schema, options."""
    body = json.loads(recorded.raw)
    for message in body.get("messages", []):
        message.pop("images", None)
    return json.dumps(body)
