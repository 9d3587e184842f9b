"""The sd_notify edge: READY, RELOADING, STOPPING, STATUS and WATCHDOG for systemd.

Layout, h11-style: the decisions are pure functions and small classes with an injectable
clock (`sanitize_status`, `StatusThrottle`, `notify_address`, `watchdog_usec_from_env`,
`reloading_message`), tested without sockets; `Notifier` is the only part that touches a
socket, and `WatchdogPinger` is the thread that keeps the watchdog fed while the pipeline
is healthy.

The protocol is one datagram of ASCII lines on a Unix socket, so it is sent here with the
standard library. (The `sdnotify` package reads NOTIFY_SOCKET from os.environ only, gives
up for good when its one connect() at construction fails, and swallows every error,
including the encode error a non-ASCII STATUS raises.) The address is resolved from the
mapping the caller passes, abstract names included; the connection is (re)made lazily;
failures are logged once; STATUS text is made ASCII-safe before it is sent. Without
NOTIFY_SOCKET every method is a silent no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping

__all__ = [
    "STATUS_INTERVAL",
    "STATUS_MAX_CHARS",
    "Notifier",
    "StatusThrottle",
    "WatchdogPinger",
    "monotonic_usec",
    "notify_address",
    "reloading_message",
    "sanitize_status",
    "watchdog_usec_from_env",
]

log = logging.getLogger("proofwatch.notify")

#: At most one STATUS= datagram per this many seconds (the latest text is kept, not lost).
STATUS_INTERVAL = 2.0
#: STATUS text is cut to this many characters (`systemctl status` shows one line).
STATUS_MAX_CHARS = 200
#: A send never blocks the daemon longer than this (a full receive queue would otherwise).
SEND_TIMEOUT = 2.0

_ELLIPSIS = "..."
# Typographic punctuation with an obvious ASCII stand-in (NFKD leaves these alone).
_PUNCTUATION = str.maketrans(
    {
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # en dash
        "\u2014": "-",  # em dash
        "\u2212": "-",  # minus
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2022": "*",  # bullet
        "\u00d7": "x",  # multiplication sign
        "\u2192": "->",
    }
)


# --------------------------------------------------------------------------- pure helpers


def sanitize_status(text: str, limit: int = STATUS_MAX_CHARS) -> str:
    """Make `text` safe for one `STATUS=` line: printable ASCII only, one line, capped.

    Accents are dropped where a base letter exists ("café" -> "cafe"); any other non-ASCII
    character becomes "?"; control characters (newlines above all: a newline would start a
    new assignment, so a file name could otherwise forge "WATCHDOG=1" or "READY=1") become
    spaces; runs of whitespace collapse to one space. Longer text ends in "...".
    """
    if limit < len(_ELLIPSIS) + 1:
        raise ValueError(f"limit must be at least {len(_ELLIPSIS) + 1}")
    decomposed = unicodedata.normalize("NFKD", text).translate(_PUNCTUATION)
    out: list[str] = []
    for ch in decomposed:
        code = ord(ch)
        if 0x20 < code < 0x7F:
            out.append(ch)
        elif ch.isspace() or code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
            out.append(" ")
        elif unicodedata.combining(ch):
            continue
        else:
            out.append("?")
    clean = " ".join("".join(out).split())
    if len(clean) > limit:
        clean = clean[: limit - len(_ELLIPSIS)].rstrip() + _ELLIPSIS
    return clean


class StatusThrottle:
    """Rate limit for STATUS text where the latest text always wins and is never lost.

    `offer(text)` records `text` as the latest and returns it when it may be sent now
    (the caller then sends it), or None when it must wait: it stays pending, replacing any
    older pending text, until `due()` finds the interval elapsed or `flush()` forces it.
    Text equal to what was last sent is not sent again.
    """

    def __init__(
        self, interval: float = STATUS_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if interval < 0:
            raise ValueError("interval must not be negative")
        self.interval = interval
        self._clock = clock
        self._pending: str | None = None
        self._last_text: str | None = None
        self._last_at: float | None = None

    @property
    def pending(self) -> str | None:
        return self._pending

    @property
    def last_sent(self) -> str | None:
        return self._last_text

    def offer(self, text: str) -> str | None:
        if text == self._last_text:
            # What is shown is already the latest; an older pending text is obsolete.
            self._pending = None
            return None
        self._pending = text
        return self.due()

    def due(self) -> str | None:
        """The pending text if the interval since the last send has elapsed, else None."""
        if self._pending is None:
            return None
        now = self._clock()
        if self._last_at is not None and now - self._last_at < self.interval:
            return None
        return self._take(now)

    def flush(self) -> str | None:
        """The pending text regardless of the interval (None when nothing is pending)."""
        if self._pending is None:
            return None
        return self._take(self._clock())

    def seconds_until_due(self) -> float | None:
        """How long until `due()` would return the pending text; None when nothing pends."""
        if self._pending is None:
            return None
        if self._last_at is None:
            return 0.0
        return max(0.0, self.interval - (self._clock() - self._last_at))

    def _take(self, now: float) -> str:
        text = self._pending
        assert text is not None
        self._pending = None
        self._last_text = text
        self._last_at = now
        return text


def notify_address(value: str | None) -> str | None:
    """The connect() address for a NOTIFY_SOCKET value, or None when unset or unsupported.

    "/run/systemd/notify" is a path; "@name" is a Linux abstract-namespace socket, whose
    address starts with a NUL byte. Other forms (a relative path; "vsock:" from newer
    systemd, meant for VMs) are not supported.
    """
    if not value:
        return None
    if value.startswith("@"):
        return "\0" + value[1:] if len(value) > 1 else None
    if value.startswith("/"):
        return value
    return None


def watchdog_usec_from_env(environ: Mapping[str, str], pid: int) -> int | None:
    """WATCHDOG_USEC as a positive int, or None: unset, malformed, or meant for another pid.

    systemd sets WATCHDOG_PID beside WATCHDOG_USEC; when it names a different process (the
    variables were inherited by a child, say) the watchdog is not ours to feed.
    """
    raw = environ.get("WATCHDOG_USEC")
    if not raw:
        return None
    try:
        usec = int(raw, 10)
    except ValueError:
        return None
    if usec <= 0:
        return None
    raw_pid = environ.get("WATCHDOG_PID")
    if raw_pid:
        try:
            if int(raw_pid, 10) != pid:
                return None
        except ValueError:
            return None
    return usec


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock systemd compares MONOTONIC_USEC= with."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def reloading_message(usec: int) -> str:
    """RELOADING=1 and the time it started, in one datagram (Type=notify-reload wants both)."""
    return f"RELOADING=1\nMONOTONIC_USEC={usec}"


# --------------------------------------------------------------------------- the socket


class _Transport:
    """A datagram socket connected to the notify address; raises on failure."""

    def __init__(self, address: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # close-on-exec (PEP 446)
        try:
            sock.settimeout(SEND_TIMEOUT)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        self.socket = sock

    def send(self, message: str) -> None:
        self.socket.sendall(message.encode("ascii"))

    def close(self) -> None:
        self.socket.close()


class Notifier:
    """Talks the sd_notify protocol to systemd; a silent no-op without NOTIFY_SOCKET.

    Thread-safe: the daemon's main loop and `WatchdogPinger` share one instance. Sending
    is best effort: a failure is logged (once at warning, then at debug) and never raised,
    so a missing or restarted notify socket can never take the daemon down.
    """

    def __init__(
        self,
        environ: Mapping[str, str] = os.environ,
        *,
        status_interval: float = STATUS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        pid: int | None = None,
    ) -> None:
        raw = environ.get("NOTIFY_SOCKET")
        self._address = notify_address(raw)
        if raw and self._address is None:
            log.warning("NOTIFY_SOCKET=%r is not a form proofwatch supports; not notifying", raw)
        # Read once: systemd sets these at exec and never changes them for the process.
        self._watchdog_usec = watchdog_usec_from_env(environ, os.getpid() if pid is None else pid)
        self._throttle = StatusThrottle(status_interval, clock)
        self._lock = threading.Lock()
        self._transport: _Transport | None = None
        self._failures = 0

    @property
    def enabled(self) -> bool:
        """True when there is a notify socket to talk to."""
        return self._address is not None

    # -- the protocol

    def ready(self) -> None:
        """READY=1 (start-up or a reload finished); carries any pending STATUS along."""
        self._send_with_pending_status("READY=1")

    def reloading(self) -> None:
        """RELOADING=1 with MONOTONIC_USEC= in the same datagram; follow with `ready()`."""
        self._send(reloading_message(monotonic_usec()))

    def stopping(self) -> None:
        """STOPPING=1; carries any pending STATUS along."""
        self._send_with_pending_status("STOPPING=1")

    def extend_timeout(self, seconds: float) -> None:
        """EXTEND_TIMEOUT_USEC=: ask for more time in the current start/stop/reload step."""
        self._send(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")

    def status(self, text: str) -> None:
        """STATUS=: sanitised, at most one per status interval, the latest text never lost.

        Throttled text waits: the next `status()` after the interval, `send_due_status()`
        (the pinger calls it) or `flush_status()` sends it, unless newer text replaced it.
        """
        if not self.enabled:
            return
        with self._lock:
            now = self._throttle.offer(sanitize_status(text))
            if now is not None:
                self._send_locked(f"STATUS={now}")

    def send_due_status(self) -> None:
        """Send the pending STATUS if the rate limit allows it now."""
        if not self.enabled:
            return
        with self._lock:
            text = self._throttle.due()
            if text is not None:
                self._send_locked(f"STATUS={text}")

    def flush_status(self) -> None:
        """Send the pending STATUS now, whatever the rate limit."""
        if not self.enabled:
            return
        with self._lock:
            text = self._throttle.flush()
            if text is not None:
                self._send_locked(f"STATUS={text}")

    def status_due_in(self) -> float | None:
        """Seconds until a pending STATUS may go out (0.0: now), None when none pends."""
        with self._lock:
            return self._throttle.seconds_until_due()

    def watchdog_usec(self) -> int | None:
        """The watchdog timeout systemd set for this process, or None.

        None also when notifications are off: with no socket there is no one to ping.
        """
        return self._watchdog_usec if self.enabled else None

    def ping_watchdog(self) -> None:
        """WATCHDOG=1."""
        self._send("WATCHDOG=1")

    def notify(self, message: str) -> None:
        """Send raw assignments ("A=1\\nB=2"), for what the methods above do not cover."""
        self._send(message)

    def close(self) -> None:
        with self._lock:
            if self._transport is not None:
                self._transport.close()
                self._transport = None

    # -- plumbing

    def _send_with_pending_status(self, head: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            text = self._throttle.flush()
            self._send_locked(head if text is None else f"{head}\nSTATUS={text}")

    def _send(self, message: str) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._send_locked(message)

    def _send_locked(self, message: str) -> None:
        assert self._address is not None
        try:
            if self._transport is None:
                self._transport = _Transport(self._address)
            self._transport.send(message)
        except (OSError, UnicodeError) as exc:
            # Drop the connection so the next send reconnects (the receiver may be back).
            if self._transport is not None:
                self._transport.close()
                self._transport = None
            self._failures += 1
            level = logging.WARNING if self._failures == 1 else logging.DEBUG
            first = message.split("\n", 1)[0]
            log.log(level, "sd_notify %s failed: %s", first.split("=", 1)[0], exc)
        else:
            if self._failures:
                log.info("sd_notify works again after %d failed sends", self._failures)
                self._failures = 0


# --------------------------------------------------------------------------- the watchdog


class WatchdogPinger(threading.Thread):
    """Feeds the systemd watchdog, but only while the pipeline is healthy.

    Every WATCHDOG_USEC/2 it calls `healthy()`; if true it sends WATCHDOG=1, if false (a
    worker stuck with work pending, say) it sends nothing, so systemd's watchdog fires and
    Restart=on-failure brings a fresh process. It also calls `status_text()` every status
    interval and hands the text to `Notifier.status()` (rate-limited, deduplicated), and
    sends a throttled STATUS once its interval is up. With neither a watchdog nor a
    status callable there is nothing to do and the thread ends at once.

    The callables run on this thread: they must be quick and thread-safe. An exception in
    `healthy()` counts as unhealthy.
    """

    def __init__(
        self,
        notifier: Notifier,
        healthy: Callable[[], bool],
        status_text: Callable[[], str] | None = None,
        *,
        interval: float | None = None,
        status_interval: float = STATUS_INTERVAL,
        name: str = "proofwatch-watchdog",
    ) -> None:
        super().__init__(name=name, daemon=True)
        self._notifier = notifier
        self._healthy = healthy
        self._status_text = status_text
        usec = notifier.watchdog_usec()
        if interval is None and usec is not None:
            interval = usec / 2 / 1_000_000
        if interval is not None and interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.status_interval = status_interval
        self._stop_event = threading.Event()
        self.pings = 0
        self.skipped = 0
        self._was_healthy = True

    def stop(self, timeout: float | None = 5.0) -> None:
        """Ask the thread to end and wait for it (if it was started)."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        if not self._notifier.enabled:
            return
        if self.interval is None and self._status_text is None:
            return
        clock = time.monotonic
        next_ping = clock()
        next_status = clock()
        while not self._stop_event.is_set():
            now = clock()
            if self.interval is not None and now >= next_ping:
                self._maybe_ping()
                next_ping = now + self.interval
            if self._status_text is not None and now >= next_status:
                self._update_status()
                next_status = now + self.status_interval
            else:
                self._notifier.send_due_status()
            deadlines = [next_status] if self._status_text is not None else []
            if self.interval is not None:
                deadlines.append(next_ping)
            due_in = self._notifier.status_due_in()
            wait = min(deadlines) - clock()
            if due_in is not None:
                wait = min(wait, due_in)
            self._stop_event.wait(max(0.01, wait))

    def _maybe_ping(self) -> None:
        try:
            ok = bool(self._healthy())
        except Exception:
            log.exception("health check failed; not feeding the watchdog")
            ok = False
        if ok:
            self._notifier.ping_watchdog()
            self.pings += 1
            if not self._was_healthy:
                log.info("pipeline healthy again; feeding the watchdog")
        else:
            self.skipped += 1
            if self._was_healthy:
                log.warning("pipeline not making progress; letting the watchdog expire")
        self._was_healthy = ok

    def _update_status(self) -> None:
        assert self._status_text is not None
        try:
            text = self._status_text()
        except Exception:
            log.exception("status text callback failed")
            return
        self._notifier.status(text)
