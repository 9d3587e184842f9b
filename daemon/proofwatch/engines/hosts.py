"""Where the model servers are, which of them are allowed, and which one takes a photo.

Pure: host names as operators write them, the loopback rule, the backoff, and the choice of
a host (up, then least busy) are decided without a socket.
"""

from __future__ import annotations

import ipaddress
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..tomlsource import SourceError

OLLAMA_PORT = 11434


def host_url(host: str, default_port: int = OLLAMA_PORT) -> str:
    """OLLAMA_HOST as Ollama itself reads it: "host", "host:port", "http://host[:port]".

    Without a scheme the port defaults to `default_port`; with one, to the scheme's own
    (80, 443). The unspecified address (0.0.0.0 is how servers are told to listen
    everywhere) means this machine, so it is reached on loopback.
    """
    host = host.strip() or f"127.0.0.1:{default_port}"
    if "://" not in host:
        parts = urlsplit("http://" + host)
        default = default_port
    else:
        parts = urlsplit(host)
        default = 443 if parts.scheme == "https" else 80
    scheme = parts.scheme if parts.scheme in ("http", "https") else "http"
    try:
        port = parts.port or default
    except ValueError:
        port = default
    name = parts.hostname or "127.0.0.1"
    if name == "0.0.0.0":
        name = "127.0.0.1"
    elif name == "::":
        name = "::1"
    shown = f"[{name}]" if ":" in name else name
    return f"{scheme}://{shown}:{port}"


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and localhost count: names are not resolved."""
    name = (urlsplit(host_url(host)).hostname or "").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class RemoteHostRefused(SourceError, ValueError):
    """A model host off this machine that is not allowed: refused at start and on reload."""


def remote_allowed(host: str, allow_remote: bool | Sequence[str]) -> bool:
    """`allow_remote`: true for every host, or the list of hosts allowed off this machine."""
    if isinstance(allow_remote, bool):
        return allow_remote
    return host_url(host) in {host_url(allowed) for allowed in allow_remote}


def check_hosts_allowed(
    hosts: Sequence[str], allow_remote: bool | Sequence[str], section: str = "model"
) -> None:
    for host in hosts:
        if not is_loopback(host) and not remote_allowed(host, allow_remote):
            raise RemoteHostRefused(
                "configuration",
                f"{host} is not on this machine: photos sent to it would leave it. "
                f'Set allow_remote = true (or allow_remote = ["{host}"]) under [{section}] '
                "to allow that on purpose (OLLAMA_HOST, --model-host and --ollama-host set "
                "the host too)",
                key=f"{section}.host",
            )


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts: base * 2**(n-1), capped, with +-jitter.

    The cap is also how often a photo waiting for a busy or down server is tried again: a
    server that comes back is noticed within about 5 s.
    """

    base: float = 0.5
    cap: float = 5.0
    jitter: float = 0.2

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        raw = min(self.cap, self.base * 2 ** min(max(attempt, 1) - 1, 16))
        low, high = 1 - self.jitter, 1 + self.jitter
        spread = rng.uniform(low, high) if rng is not None else random.uniform(low, high)
        return float(raw * spread)


@dataclass
class HostState:
    """One model server as the engine has seen it: calls in flight, and the spell of
    trouble (busy or down) it is in, if any."""

    url: str
    in_flight: int = 0
    trouble_since: float | None = None  # monotonic
    trouble_calls: int = 0
    retry_at: float = float("-inf")  # not worth trying before (monotonic)
    busy: bool = False


def pick(hosts: Sequence[HostState], now: float, turn: int = 0) -> HostState | None:
    """The host for the next call: one not in trouble (or whose time to retry has come),
    with the fewest calls in flight; ties go round by `turn`. None: every host waits."""
    ready = [host for host in hosts if host.retry_at <= now]
    if not ready:
        return None
    fewest = min(host.in_flight for host in ready)
    tied = [host for host in ready if host.in_flight == fewest]
    return tied[turn % len(tied)]


class HostPool:
    """The hosts of one engine and their states; thread-safe."""

    def __init__(self, urls: Sequence[str], backoff: Backoff):
        self.hosts = [HostState(url) for url in urls]
        self.backoff = backoff
        self._lock = threading.Lock()
        self._turn = 0

    def take(self, exclude: Sequence[HostState] = ()) -> HostState | None:
        """A host for one call (counted in flight until `give_back`); None once the call
        has tried every ready host. `exclude`: hosts this call already tried. A call that
        finds every host backing off still tries the one due first: a photo asks at least
        once (a waiting photo comes back when that host is due anyway)."""
        with self._lock:
            candidates = [host for host in self.hosts if host not in exclude]
            host = pick(candidates, time.monotonic(), self._turn)
            if host is None and not exclude and candidates:
                host = min(candidates, key=lambda candidate: candidate.retry_at)
            if host is not None:
                self._turn += 1
                host.in_flight += 1
            return host

    def give_back(self, host: HostState) -> None:
        with self._lock:
            host.in_flight -= 1

    def answered(self, host: HostState) -> None:
        """The host is there (whatever it said): its spell of trouble is over."""
        with self._lock:
            host.trouble_since, host.trouble_calls = None, 0
            host.retry_at, host.busy = float("-inf"), False

    def troubled(self, host: HostState, busy: bool) -> None:
        with self._lock:
            now = time.monotonic()
            if host.trouble_since is None:
                host.trouble_since = now
            host.trouble_calls += 1
            host.busy = busy
            host.retry_at = now + self.backoff.delay(host.trouble_calls)

    def wait_hint(self) -> tuple[float, float, bool]:
        """When every host is in trouble: seconds until the first may be tried again, since
        when the trouble lasts (the earliest host's), and whether any host is busy (up)."""
        with self._lock:
            now = time.monotonic()
            retry = max(0.0, min(host.retry_at for host in self.hosts) - now)
            since = min((h.trouble_since for h in self.hosts if h.trouble_since), default=now)
            return retry, since, any(host.busy for host in self.hosts)
