"""An OpenAI-compatible chat server for tests (llama.cpp's llama-server, vLLM, LM Studio),
on 127.0.0.1 and a free port, scripted like FakeOllama (it shares its HTTP machinery).

Faithful to the documented shapes: POST /v1/chat/completions with `image_url` data URIs and
`response_format` json_schema; GET /v1/models; llama-server's GET /props (its modalities)
when `props` is on; errors as {"error": {"code", "message", "type"}} with llama-server's
own messages: 503 "Loading model" while loading (and for a storm here), 500 "image input
is not supported" without a vision projector, 404 for an unknown route. A reasoning model's
answer may sit in `reasoning_content` (vLLM's reasoning parser).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from ollama_server import FakeOllama, Recorded, Reply

SERVED = "qwen2.5-vl-7b"
LOADING = "Loading model"  # llama-server's 503 while the model loads
NO_MMPROJ = (
    "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
)


@dataclass
class FakeOpenAI(FakeOllama):
    vision: bool = True  # False: like llama-server started without --mmproj
    props: bool = True  # llama-server answers /props; vLLM and LM Studio do not

    def __post_init__(self) -> None:
        super().__post_init__()
        self.models = {SERVED: ["vision"]}

    def chat_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def _openai_error(self, h: BaseHTTPRequestHandler, status: int, message: str) -> None:
        kind = {503: "unavailable_error", 404: "not_found_error", 400: "invalid_request_error"}
        error = {"code": status, "message": message, "type": kind.get(status, "server_error")}
        self._send_json(h, status, {"error": error})

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        with self._lock:
            self.requests.append(Recorded(h.path, body, raw))
        busy = time.monotonic() < self.busy_until
        if h.path == "/props" and self.props:
            if busy:
                self._openai_error(h, 503, LOADING)
                return
            modalities = {"vision": self.vision, "audio": False}
            self._send_json(h, 200, {"model_alias": SERVED, "modalities": modalities})
        elif h.path == "/v1/models":
            data = [{"id": name, "object": "model", "owned_by": "test"} for name in self.models]
            self._send_json(h, 200, {"object": "list", "data": data})
        elif h.path == "/v1/chat/completions" and method == "POST":
            self._complete(h, body, busy)
        else:
            self._openai_error(h, 404, "File Not Found")

    def _complete(self, h: BaseHTTPRequestHandler, body: dict[str, Any], busy: bool) -> None:
        if busy:
            self._openai_error(h, 503, LOADING)
            return
        if body.get("model") not in self.models and not self.props:  # vLLM checks the name
            self._openai_error(h, 404, f"The model `{body.get('model')}` does not exist.")
            return
        parts = [p for m in body.get("messages", []) if isinstance(m["content"], list)
                 for p in m["content"]]  # fmt: skip
        if any(p.get("type") == "image_url" for p in parts) and not self.vision:
            self._openai_error(h, 500, NO_MMPROJ)
            return
        reply = self._next_reply(body)
        if reply.status != 200:
            self._openai_error(h, reply.status, reply.error or "server error")
            return
        content = reply.content
        if content is None and reply.thinking is None:
            schema = body["response_format"]["json_schema"]["schema"]
            content = self._content_for({"format": schema})
        message: dict[str, Any] = {
            "role": "assistant",
            "content": json.dumps(content) if isinstance(content, dict) else content,
        }
        if reply.thinking is not None:
            thinking = reply.thinking
            message["reasoning_content"] = (
                json.dumps(thinking) if isinstance(thinking, dict) else thinking
            )
        choice = {"index": 0, "message": message, "finish_reason": reply.done_reason}
        self._send_json(h, 200, {"object": "chat.completion", "model": body.get("model"),
                                 "choices": [choice]})  # fmt: skip


__all__ = ["LOADING", "NO_MMPROJ", "SERVED", "FakeOpenAI", "Reply"]
