"""Network mounts, where inotify hears nothing: detected from /proc/self/mounts."""

from __future__ import annotations

from pathlib import PurePosixPath

NETWORK_TYPES = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs")


def _unescape(field: str) -> str:
    # /proc/self/mounts escapes space, tab, newline and backslash as octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def filesystem_type(path: str, mounts_text: str) -> str | None:
    """The type of the filesystem `path` (absolute, resolved) lives on."""
    best: tuple[int, str] | None = None
    target = PurePosixPath(path)
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point, fs_type = PurePosixPath(_unescape(fields[1])), fields[2]
        if target == mount_point or mount_point in target.parents:
            depth = len(mount_point.parts)
            if best is None or depth >= best[0]:
                best = (depth, fs_type)
    return None if best is None else best[1]


def needs_polling(fs_type: str | None) -> bool:
    if fs_type is None:
        return False
    return fs_type in NETWORK_TYPES or fs_type == "fuse" or fs_type.startswith("fuse.")


def read_mounts() -> str:
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""
