"""A stand-in for systemd's notify socket: bind an AF_UNIX datagram socket, collect messages.

    with notify_socket(tmp_path) as sock:             # a path in tmp_path
    with notify_socket(abstract=True) as sock:        # "@proofwatch-test-..." (Linux)
        env = {"NOTIFY_SOCKET": sock.env_value}
        ...start the daemon or a Notifier with env...
        msg = sock.wait_for(lambda m: m.get("READY") == "1", timeout=10)

Each datagram becomes a `NotifyMessage`: the raw text and its assignments as a dict.
A background thread receives, so a sender never blocks on a full queue.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class NotifyMessage:
    raw: str
    at: float  # time.monotonic() when received
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.fields.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.fields


def parse_notify(raw: str) -> dict[str, str]:
    """'A=1\\nB=two' -> {'A': '1', 'B': 'two'} (later assignments win, as in systemd)."""
    out: dict[str, str] = {}
    for line in raw.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


class NotifySocket:
    """A bound datagram socket plus the messages received so far (thread-safe)."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self._sock = sock
        self.env_value = env_value
        self._messages: list[NotifyMessage] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._receive, name="notify-socket", daemon=True)
        self._thread.start()

    @property
    def messages(self) -> list[NotifyMessage]:
        with self._cond:
            return list(self._messages)

    def _receive(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                if self._closed:
                    return
                continue
            except OSError:
                return
            message = data.decode("utf-8", "replace")
            with self._cond:
                self._messages.append(
                    NotifyMessage(message, time.monotonic(), parse_notify(message))
                )
                self._cond.notify_all()

    def wait_for(
        self,
        predicate: Callable[[NotifyMessage], bool],
        timeout: float = 10.0,
        start: int = 0,
    ) -> NotifyMessage:
        """The first message (from index `start`) that satisfies `predicate`, waiting for it.

        Raises AssertionError, listing what did arrive, when none does within `timeout`.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self._messages[start:]:
                    if predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [m.raw for m in self._messages[start:]]
                    raise AssertionError(f"no matching notify message in {timeout}s; got {got}")
                self._cond.wait(remaining)

    def wait_count(self, count: int, timeout: float = 10.0) -> list[NotifyMessage]:
        """Wait until at least `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [m.raw for m in self._messages]
                    raise AssertionError(f"expected {count} notify messages, got {got}")
                self._cond.wait(remaining)
            return list(self._messages)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(2.0)


@contextlib.contextmanager
def notify_socket(
    directory: Path | None = None, *, abstract: bool = False
) -> Iterator[NotifySocket]:
    """Bind a notify socket (a path under `directory`, or abstract) and collect its messages."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.settimeout(0.1)  # lets the receiver thread notice close()
    cleanup_dir: tempfile.TemporaryDirectory[str] | None = None
    path: str | None = None
    try:
        if abstract:
            name = f"proofwatch-test-{os.getpid()}-{secrets.token_hex(6)}"
            sock.bind("\0" + name)
            env_value = "@" + name
        else:
            if directory is None:
                # A short path: sun_path holds 107 bytes, pytest's tmp_path can exceed that.
                cleanup_dir = tempfile.TemporaryDirectory(prefix="pw-notify-")
                directory = Path(cleanup_dir.name)
            path = str(directory / "notify.sock")
            sock.bind(path)
            env_value = path
    except BaseException:
        sock.close()
        if cleanup_dir is not None:
            cleanup_dir.cleanup()
        raise
    ns = NotifySocket(sock, env_value)
    try:
        yield ns
    finally:
        ns.close()
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if cleanup_dir is not None:
            cleanup_dir.cleanup()
