"""The sd_notify edge: pure helpers without sockets, then Notifier/WatchdogPinger on a real
AF_UNIX datagram socket (a path and an abstract name) that the test binds."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notify_socket import NotifyMessage, notify_socket, parse_notify
from proofwatch.service.notify import (
    STATUS_MAX_CHARS,
    Notifier,
    StatusThrottle,
    WatchdogPinger,
    monotonic_usec,
    notify_address,
    reloading_message,
    sanitize_status,
    watchdog_usec_from_env,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def is_key(key: str) -> Callable[[NotifyMessage], bool]:
    return lambda m: key in m


# --------------------------------------------------------------------------- sanitize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("watching /srv/uploads, queue 3", "watching /srv/uploads, queue 3"),
        ("café señal Ångström", "cafe senal Angstrom"),
        ("photo 日本.jpg", "photo ??.jpg"),
        ("a\tb\r\nc\x00d\x7fe\x85f", "a b c d e f"),
        ("  spaced   out  ", "spaced out"),
        ("", ""),
        ("ﬁle №5", "file No5"),
        ("emoji 📷 ok", "emoji ? ok"),
    ],
)
def test_sanitize_status(text: str, expected: str) -> None:
    assert sanitize_status(text) == expected


def test_sanitize_status_cannot_forge_assignments() -> None:
    evil = "IMG_1.jpg\nWATCHDOG=1\nREADY=1\u2028MAINPID=1"
    clean = sanitize_status(evil)
    assert "\n" not in clean
    assert parse_notify("STATUS=" + clean) == {"STATUS": clean}


def test_sanitize_status_caps_length() -> None:
    assert len(sanitize_status("x" * 1000)) == STATUS_MAX_CHARS
    assert sanitize_status("abcdefghij", limit=8) == "abcde..."
    assert sanitize_status("abcdefgh", limit=8) == "abcdefgh"
    with pytest.raises(ValueError):
        sanitize_status("abc", limit=2)


@given(st.text(), st.integers(min_value=4, max_value=300))
def test_sanitize_status_always_one_printable_ascii_line(text: str, limit: int) -> None:
    clean = sanitize_status(text, limit)
    assert len(clean) <= limit
    assert all(0x20 <= ord(ch) < 0x7F for ch in clean)


# --------------------------------------------------------------------------- throttle


def test_throttle_first_text_goes_out_at_once() -> None:
    clock = FakeClock()
    throttle = StatusThrottle(2.0, clock)
    assert throttle.offer("one") == "one"
    assert throttle.pending is None
    assert throttle.last_sent == "one"


def test_throttle_keeps_only_the_latest_and_never_loses_it() -> None:
    clock = FakeClock()
    throttle = StatusThrottle(2.0, clock)
    assert throttle.offer("one") == "one"
    clock.advance(0.5)
    assert throttle.offer("two") is None
    assert throttle.offer("three") is None
    assert throttle.pending == "three"
    assert throttle.due() is None
    assert throttle.seconds_until_due() == pytest.approx(1.5)
    clock.advance(1.5)
    assert throttle.seconds_until_due() == 0.0
    assert throttle.due() == "three"
    assert throttle.due() is None
    assert throttle.seconds_until_due() is None


def test_throttle_next_offer_after_interval_carries_it() -> None:
    clock = FakeClock()
    throttle = StatusThrottle(2.0, clock)
    throttle.offer("one")
    clock.advance(1.0)
    assert throttle.offer("two") is None
    clock.advance(1.0)
    assert throttle.offer("three") == "three"
    clock.advance(0.1)
    assert throttle.offer("four") is None  # the interval restarts at each send


def test_throttle_flush_ignores_the_interval() -> None:
    clock = FakeClock()
    throttle = StatusThrottle(2.0, clock)
    throttle.offer("one")
    throttle.offer("two")
    assert throttle.flush() == "two"
    assert throttle.flush() is None
    assert throttle.offer("three") is None  # flush counted as a send


def test_throttle_does_not_repeat_what_is_shown() -> None:
    clock = FakeClock()
    throttle = StatusThrottle(2.0, clock)
    throttle.offer("same")
    clock.advance(5)
    assert throttle.offer("same") is None
    assert throttle.pending is None
    # Back to the shown text before the pending one went out: nothing left to send.
    assert throttle.offer("other") == "other"
    throttle.offer("newer")
    assert throttle.offer("other") is None
    assert throttle.pending is None
    clock.advance(5)
    assert throttle.due() is None


def test_throttle_rejects_negative_interval() -> None:
    with pytest.raises(ValueError):
        StatusThrottle(-1)


# --------------------------------------------------------------------------- environment


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@/org/freedesktop/systemd1/notify/123", "\0/org/freedesktop/systemd1/notify/123"),
        ("@", None),
        ("relative/notify", None),
        ("vsock:2:1234", None),
    ],
)
def test_notify_address(value: str | None, expected: str | None) -> None:
    assert notify_address(value) == expected


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "60000000"}, 60_000_000),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "4242"}, 60_000_000),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "4243"}, None),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "x"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
        ({"WATCHDOG_USEC": "1.5"}, None),
        ({"WATCHDOG_USEC": ""}, None),
    ],
)
def test_watchdog_usec_from_env(env: dict[str, str], expected: int | None) -> None:
    assert watchdog_usec_from_env(env, 4242) == expected


def test_reloading_message_and_clock() -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    usec = monotonic_usec()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert before <= usec <= after
    assert parse_notify(reloading_message(usec)) == {
        "RELOADING": "1",
        "MONOTONIC_USEC": str(usec),
    }


# --------------------------------------------------------------------------- no socket


def test_without_notify_socket_everything_is_a_silent_noop(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    caplog.set_level(logging.DEBUG)
    for notifier in (Notifier({"WATCHDOG_USEC": "1000000"}), Notifier()):
        assert not notifier.enabled
        assert notifier.watchdog_usec() is None
        notifier.ready()
        notifier.reloading()
        notifier.status("x")
        notifier.flush_status()
        notifier.send_due_status()
        notifier.ping_watchdog()
        notifier.extend_timeout(5)
        notifier.stopping()
        notifier.close()
        assert notifier._transport is None
    assert caplog.records == []


def test_unsupported_notify_socket_is_off_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "vsock:2:99"})
    assert not notifier.enabled
    notifier.ready()
    assert "not a form proofwatch supports" in caplog.text


# --------------------------------------------------------------------------- real socket


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_protocol_messages_on_a_real_socket(tmp_path: Path, abstract: bool) -> None:
    with notify_socket(None if abstract else tmp_path, abstract=abstract) as sock:
        env = {"NOTIFY_SOCKET": sock.env_value, "WATCHDOG_USEC": "30000000"}
        if abstract:
            assert sock.env_value.startswith("@")
        notifier = Notifier(env)
        assert notifier.enabled
        assert notifier.watchdog_usec() == 30_000_000
        notifier.ready()
        notifier.ping_watchdog()
        before = monotonic_usec()
        notifier.reloading()
        after = monotonic_usec()
        notifier.ready()
        notifier.extend_timeout(1.5)
        notifier.stopping()
        raws = [m.raw for m in sock.wait_count(6)]
        notifier.close()
    assert raws[0] == "READY=1"
    assert raws[1] == "WATCHDOG=1"
    reloading = parse_notify(raws[2])
    assert reloading["RELOADING"] == "1"
    assert before <= int(reloading["MONOTONIC_USEC"]) <= after
    assert raws[3:] == ["READY=1", "EXTEND_TIMEOUT_USEC=1500000", "STOPPING=1"]


def test_default_environ_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    with notify_socket(abstract=True) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", sock.env_value)
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        notifier = Notifier()
        assert notifier.watchdog_usec() == 2_000_000
        notifier.ready()
        assert sock.wait_for(is_key("READY")).raw == "READY=1"


def test_watchdog_pid_of_another_process_is_ignored() -> None:
    with notify_socket(abstract=True) as sock:
        env = {
            "NOTIFY_SOCKET": sock.env_value,
            "WATCHDOG_USEC": "2000000",
            "WATCHDOG_PID": str(os.getpid() + 1),
        }
        assert Notifier(env).watchdog_usec() is None
        assert Notifier(env, pid=os.getpid() + 1).watchdog_usec() == 2_000_000


def test_status_is_rate_limited_sanitised_and_latest_wins() -> None:
    clock = FakeClock()
    with notify_socket(abstract=True) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": sock.env_value}, clock=clock)
        notifier.status("starting")
        notifier.status("queue 1")
        notifier.status("queue 2 — café\nWATCHDOG=1")
        assert notifier.status_due_in() == pytest.approx(2.0)
        notifier.send_due_status()  # not yet
        notifier.ping_watchdog()  # a marker: everything before it has been sent
        sock.wait_for(is_key("WATCHDOG"))
        clock.advance(2.0)
        notifier.send_due_status()
        notifier.status("queue 3")
        clock.advance(0.5)
        notifier.status("queue 4")
        notifier.flush_status()
        notifier.flush_status()  # nothing pending: nothing sent
        notifier.ping_watchdog()
        messages = sock.wait_count(5)
    assert [m.raw for m in messages] == [
        "STATUS=starting",
        "WATCHDOG=1",
        "STATUS=queue 2 - cafe WATCHDOG=1",
        "STATUS=queue 4",
        "WATCHDOG=1",
    ]


def test_ready_and_stopping_carry_the_pending_status() -> None:
    clock = FakeClock()
    with notify_socket(abstract=True) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": sock.env_value}, clock=clock)
        notifier.status("loading rules")
        notifier.status("watching /srv/proofwatch/uploads")
        notifier.ready()
        notifier.status("stopping: finishing IMG_1.jpg")
        notifier.stopping()
        messages = sock.wait_count(3)
    assert [m.fields for m in messages] == [
        {"STATUS": "loading rules"},
        {"READY": "1", "STATUS": "watching /srv/proofwatch/uploads"},
        {"STOPPING": "1", "STATUS": "stopping: finishing IMG_1.jpg"},
    ]


def test_missing_receiver_is_logged_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "n.sock"
    notifier = Notifier({"NOTIFY_SOCKET": str(path)})
    caplog.set_level(logging.DEBUG, logger="proofwatch.notify")
    notifier.ready()  # nothing bound there yet: must not raise
    notifier.ping_watchdog()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "READY failed" in warnings[0].getMessage()

    with notify_socket(tmp_path) as sock:
        os.rename(Path(sock.env_value), path)  # the receiver appears where expected
        notifier.ping_watchdog()
        assert sock.wait_for(is_key("WATCHDOG")).raw == "WATCHDOG=1"
    assert "works again" in caplog.text

    # The receiver is gone again (socket closed, file removed): still no exception.
    notifier.ping_watchdog()
    notifier.close()


def test_receiver_restart_reconnects(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    notifier = Notifier({"NOTIFY_SOCKET": str(path)})
    for round_ in range(2):
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.bind(str(path))
        receiver.settimeout(5)
        try:
            notifier.notify(f"X_ROUND={round_}")  # the first try after a restart may fail
            notifier.notify(f"X_ROUND={round_}")
            assert receiver.recv(100) == f"X_ROUND={round_}".encode()
        finally:
            receiver.close()
            path.unlink()
    notifier.close()


# --------------------------------------------------------------------------- pinger


def test_pinger_interval_is_half_the_watchdog() -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "60000000"})
    assert WatchdogPinger(notifier, lambda: True).interval == 30.0
    assert WatchdogPinger(notifier, lambda: True, interval=1.0).interval == 1.0
    assert WatchdogPinger(Notifier({"NOTIFY_SOCKET": "@x"}), lambda: True).interval is None
    with pytest.raises(ValueError):
        WatchdogPinger(notifier, lambda: True, interval=0)


def test_pinger_pings_while_healthy_only() -> None:
    healthy = threading.Event()
    healthy.set()
    with notify_socket(abstract=True) as sock:
        env = {"NOTIFY_SOCKET": sock.env_value, "WATCHDOG_USEC": "100000"}  # ping every 50 ms
        notifier = Notifier(env)
        pinger = WatchdogPinger(notifier, healthy.is_set)
        assert pinger.interval == pytest.approx(0.05)
        pinger.start()
        try:
            sock.wait_count(3, timeout=5)
            healthy.clear()  # a stuck worker
            time.sleep(0.1)  # a ping in flight may still land
            stuck_from = len(sock.messages)
            time.sleep(0.4)
            assert len(sock.messages) == stuck_from, "pinged while unhealthy"
            assert pinger.skipped >= 3
            healthy.set()
            sock.wait_for(is_key("WATCHDOG"), start=stuck_from, timeout=5)
        finally:
            pinger.stop()
        assert not pinger.is_alive()
        stopped_at = len(sock.messages)
        time.sleep(0.15)
        assert len(sock.messages) == stopped_at, "pinged after stop()"
    assert all(m.raw == "WATCHDOG=1" for m in sock.messages)


def test_pinger_treats_a_failing_health_check_as_unhealthy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> bool:
        raise RuntimeError("boom")

    with notify_socket(abstract=True) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": sock.env_value, "WATCHDOG_USEC": "40000"})
        pinger = WatchdogPinger(notifier, broken)
        pinger.start()
        time.sleep(0.2)
        pinger.stop()
        assert sock.messages == []
    assert pinger.pings == 0
    assert pinger.skipped >= 2
    assert "health check failed" in caplog.text


def test_pinger_sends_status_rate_limited_and_the_latest_arrives() -> None:
    counter = 0
    lock = threading.Lock()

    def status_text() -> str:
        with lock:
            return f"done {counter}"

    with notify_socket(abstract=True) as sock:
        notifier = Notifier({"NOTIFY_SOCKET": sock.env_value}, status_interval=0.2)
        pinger = WatchdogPinger(notifier, lambda: True, status_text, status_interval=0.02)
        assert pinger.interval is None  # no watchdog: status only
        pinger.start()
        try:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                with lock:
                    counter += 1
                time.sleep(0.005)
            final = f"done {counter}"
            sock.wait_for(lambda m: m.get("STATUS") == final, timeout=5)
        finally:
            pinger.stop()
    statuses: list[NotifyMessage] = [m for m in sock.messages if "STATUS" in m]
    assert all(m.fields.keys() == {"STATUS"} for m in sock.messages)
    # About 1.2 s at one per 0.2 s: 7 at most; a loose bound against scheduler noise.
    assert 3 <= len(statuses) <= 9
    gaps = [b.at - a.at for a, b in itertools.pairwise(statuses)]
    assert min(gaps) > 0.1  # 0.2 s apart when sent; receive times jitter a little


def test_pinger_with_nothing_to_do_ends_at_once() -> None:
    for notifier in (
        Notifier({}),  # notifications off
        Notifier({"NOTIFY_SOCKET": "@x"}),  # no watchdog and no status callable
    ):
        pinger = WatchdogPinger(notifier, lambda: True)
        pinger.start()
        pinger.join(2)
        assert not pinger.is_alive()
        pinger.stop()


def test_pinger_stop_before_start_is_harmless() -> None:
    pinger = WatchdogPinger(Notifier({}), lambda: True)
    pinger.stop()
    assert not pinger.is_alive()
