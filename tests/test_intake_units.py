"""The intake's pure parts: names, settling, the queue, mount detection, safe reading."""

from __future__ import annotations

import os
import socket
import stat
import threading
from pathlib import Path, PurePath

import pytest

from proofwatch.intake.names import is_photo_name
from proofwatch.intake.queue import WorkQueue
from proofwatch.intake.reader import Rejected, read_photo
from proofwatch.intake.stability import Seen, StabilityWatch, is_settled, next_seen
from proofwatch.watch.mounts import filesystem_type, needs_polling


@pytest.mark.parametrize(
    "name",
    ["a.jpg", "b.JPEG", "c.png", "d.webp", "e.heic", "f.HEIF", "g.mpo", "sub/dir/h.jpg"],
)
def test_photos_are_recognised(name: str) -> None:
    assert is_photo_name(PurePath(name))


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.jpg",
        "x.jpg.part",
        "x.jpg.tmp",
        "x.jpg.crdownload",
        "~$x.jpg",
        ".DS_Store",
        "Thumbs.db",
        "@eaDir/x.jpg",
        "#recycle/x.jpg",
        "#snapshot/daily/x.jpg",
        "x.jpg.verdict.json",
        "x.jpg.request.json",
        ".proofwatch-tmp-0a1b2c3d-x.jpg",
        "notes.txt",
    ],
)
def test_litter_and_our_own_files_are_ignored(name: str) -> None:
    assert not is_photo_name(PurePath(name))


def test_user_patterns_extend_the_ignore_list() -> None:
    assert is_photo_name(PurePath("drafts/x.jpg"))
    assert not is_photo_name(PurePath("drafts/x.jpg"), ["drafts"])
    assert not is_photo_name(PurePath("x-preview.jpg"), ["*-preview.jpg"])


def test_settling_needs_the_same_size_and_mtime_for_the_delay() -> None:
    first = next_seen(None, 100, 1, now=10.0)
    assert not is_settled(first, 11.0, delay=2.0, empty_timeout=60.0)
    same = next_seen(first, 100, 1, now=11.5)
    assert same.since == 10.0 and is_settled(same, 12.0, 2.0, 60.0)
    grown = next_seen(same, 200, 2, now=12.0)
    assert grown.since == 12.0 and not is_settled(grown, 13.0, 2.0, 60.0)


def test_an_empty_placeholder_waits_for_the_empty_timeout() -> None:
    empty = Seen(0, 1, since=0.0)
    assert not is_settled(empty, 30.0, delay=2.0, empty_timeout=60.0)
    assert is_settled(empty, 60.0, delay=2.0, empty_timeout=60.0)


def test_non_regular_files_settle_at_once() -> None:
    assert is_settled(Seen(0, 1, since=5.0, regular=False), 5.0, 2.0, 60.0)


def test_stability_watch_hands_over_a_settled_file(tmp_path: Path) -> None:
    now = [0.0]
    ready: list[Path] = []
    watch = StabilityWatch(2.0, 60.0, ready.append, clock=lambda: now[0])
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x" * 10)
    watch.track(photo)
    watch.tick()
    now[0] = 1.0
    watch.tick()
    assert ready == []
    now[0] = 2.5
    watch.tick()
    assert ready == [photo] and len(watch) == 0


def test_stability_watch_forgets_files_that_vanish(tmp_path: Path) -> None:
    ready: list[Path] = []
    watch = StabilityWatch(0.0, 0.0, ready.append)
    watch.track(tmp_path / "gone.jpg")
    watch.tick()
    assert ready == [] and len(watch) == 0


def test_queue_holds_each_path_once_and_rechecks_one_noticed_in_flight() -> None:
    queue = WorkQueue()
    a, b = Path("a.jpg"), Path("b.jpg")
    assert queue.put(a) and not queue.put(a) and queue.put(b)
    assert queue.pending == 2
    assert queue.get(0) == a
    assert not queue.put(a)  # in flight: noted, not queued twice
    assert queue.get(0) == b
    queue.done(a)
    assert queue.get(0) == a  # looked at once more after it was done
    queue.done(a)
    queue.done(b)
    assert queue.wait_idle(0)


def test_queue_get_returns_none_once_closed() -> None:
    queue = WorkQueue()
    result: list[Path | None] = []
    waiter = threading.Thread(target=lambda: result.append(queue.get(5)))
    waiter.start()
    queue.close()
    waiter.join(5)
    assert result == [None]


MOUNTS = """\
/dev/vda1 / ext4 rw,relatime 0 0
server:/export /srv/nfs nfs4 rw,relatime 0 0
//nas/photos /srv/smb\\040share cifs rw 0 0
sshfs#host: /mnt/remote fuse.sshfs rw 0 0
tmpfs /srv/nfs/local tmpfs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "fs_type", "poll"),
    [
        ("/home/me/uploads", "ext4", False),
        ("/srv/nfs/uploads", "nfs4", True),
        ("/srv/smb share/up", "cifs", True),
        ("/mnt/remote/x", "fuse.sshfs", True),
        ("/srv/nfs/local/x", "tmpfs", False),  # the deepest mount point wins
    ],
)
def test_network_mounts_are_detected(path: str, fs_type: str, poll: bool) -> None:
    found = filesystem_type(path, MOUNTS)
    assert found == fs_type
    assert needs_polling(found) is poll


def test_reader_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    target = tmp_path / "real.jpg"
    target.write_bytes(b"\xff\xd8\xff" + b"0" * 10)
    link = tmp_path / "link.jpg"
    link.symlink_to(target)
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    sock_path = tmp_path / "sock.jpg"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    try:
        for path, words in (
            (link, "symbolic link"),
            (fifo, "named pipe"),
            (folder, "folder"),
            (sock_path, "socket"),
        ):
            with pytest.raises(Rejected, match=words):
                read_photo(path, 1000)
    finally:
        server.close()


def test_reader_never_opens_a_device(tmp_path: Path) -> None:
    device = tmp_path / "null.jpg"
    try:
        os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # /dev/null's numbers
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")
    with pytest.raises(Rejected, match="device"):
        read_photo(device, 1000)


def test_reader_bounds_size_and_refuses_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(Rejected, match="empty"):
        read_photo(empty, 1000)
    big = tmp_path / "big.jpg"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(Rejected, match="over the limit"):
        read_photo(big, 1000)
    with pytest.raises(Rejected, match="disappeared"):
        read_photo(tmp_path / "missing.jpg", 1000)
    data, _snapshot, mode = read_photo(big, 5000)
    assert data == b"x" * 2000 and mode == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_out_of_inotify_watches_falls_back_to_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from watchdog.observers.polling import PollingObserver

    from proofwatch.watch import observer as module

    class NoWatchesLeft(PollingObserver):
        def start(self) -> None:
            raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(module, "Observer", NoWatchesLeft)
    sinks = module.Sinks(arrived=print, writing=print, folder=print)
    started = module.start_observer(tmp_path, module.PhotoEvents(tmp_path, (), sinks), None)
    try:
        assert type(started) is PollingObserver and started.is_alive()
        assert "polling every 5s instead" in caplog.text
    finally:
        started.stop()


def test_the_watchdog_fires_only_when_work_waits_and_nothing_moves() -> None:
    from proofwatch.service.daemon import is_stalled

    assert not is_stalled(0, last_progress=0.0, now=10_000.0, bound=60.0)  # idle is fine
    assert not is_stalled(3, last_progress=100.0, now=150.0, bound=60.0)
    assert is_stalled(1, last_progress=100.0, now=161.0, bound=60.0)


def test_photos_are_taken_oldest_first(tmp_path: Path) -> None:
    from proofwatch.pipeline.work import arrival_order

    names = ["b.jpg", "a.jpg", "c.jpg"]
    for age, name in enumerate(names):
        path = tmp_path / name
        path.write_bytes(b"x")
        os.utime(path, ns=(0, (10 - age) * 1_000_000_000))
    ordered = arrival_order([tmp_path / n for n in sorted(names)])
    assert [p.name for p in ordered] == ["c.jpg", "a.jpg", "b.jpg"]


def test_a_file_the_daemon_may_not_read_is_rejected_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite runs as root in CI, where chmod 000 does not stop a read: refuse the open.
    photo = tmp_path / "private.jpg"
    photo.write_bytes(b"\xff\xd8\xff" + b"0" * 10)
    real_open = os.open

    def refuse(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if str(path) == str(photo):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(Rejected, match=r"cannot be opened \(Permission denied\)"):
        read_photo(photo, 1000)
