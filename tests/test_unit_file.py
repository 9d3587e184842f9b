"""contrib/: the systemd unit verifies clean and scores <= 2.0 exposure; the sysusers.d and
tmpfiles.d files make a setgid upload folder whose default ACL keeps files group-writable.

The checks that need systemd's tools skip (saying which tool) where they are absent.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"
UNIT = CONTRIB / "proofwatch.service"
SYSUSERS = CONTRIB / "sysusers.d" / "proofwatch.conf"
TMPFILES = CONTRIB / "tmpfiles.d" / "proofwatch.conf"
UPLOADS = "/srv/proofwatch/uploads"
MAX_EXPOSURE = 2.0


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian/Ubuntu: apt-get install systemd)")
    return path


def unit_settings(text: str) -> dict[str, dict[str, list[str]]]:
    """section -> key -> values in order (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"setting outside a section: {line!r}"
        assert "=" in line, f"not a setting: {line!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return unit_settings(UNIT.read_text())["Service"]


def unit_copy(directory: Path, extra: str = "") -> Path:
    """The unit with ExecStart pointing at an executable that exists on this machine.

    `systemd-analyze verify` checks that the ExecStart binary exists; the venv under /opt is
    not there on a development machine, so only the path is swapped, nothing else.
    """
    venv_script = Path(sys.executable).parent / "proofwatch"
    exe = venv_script if venv_script.is_file() else Path(shutil.which("true") or "/bin/true")
    text = UNIT.read_text()
    original = "ExecStart=/opt/proofwatch/venv/bin/proofwatch "
    assert original in text
    text = text.replace(original, f"ExecStart={exe} ")
    if extra:
        text = text.replace("\n[Service]\n", f"\n[Service]\n{extra}\n", 1)
    copy = directory / "proofwatch.service"
    copy.write_text(text)
    return copy


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)


# --------------------------------------------------------------------------- the unit


def test_unit_declares_the_contract(service: dict[str, list[str]]) -> None:
    one = {key: values[-1] for key, values in service.items()}
    assert one["Type"] == "notify"
    assert one["NotifyAccess"] == "main"
    assert one["ExecStart"] == (
        "/opt/proofwatch/venv/bin/proofwatch run --config /etc/proofwatch/config.toml"
    )
    assert one["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert one["Restart"] == "on-failure"
    assert one["WatchdogSec"] and one["TimeoutStopSec"]
    assert one["User"] == "proofwatch"
    assert one["SupplementaryGroups"] == "proofwatch-uploads"
    assert one["StateDirectory"] == "proofwatch"
    assert one["ConfigurationDirectory"] == "proofwatch"
    assert service["ReadWritePaths"] == [UPLOADS]
    assert one["UMask"] == "0027"


def test_unit_has_the_full_sandbox(service: dict[str, list[str]]) -> None:
    one = {key: values[-1] for key, values in service.items()}
    expected = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "IPAddressDeny": "any",
        "IPAddressAllow": "localhost",
        "SystemCallErrorNumber": "EPERM",
        "SystemCallArchitectures": "native",
        "MemoryDenyWriteExecute": "yes",
        "LockPersonality": "yes",
        "ProtectClock": "yes",
        "ProtectControlGroups": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectHostname": "yes",
        "ProtectProc": "invisible",
        "ProcSubset": "pid",
        "RestrictNamespaces": "yes",
        "RestrictRealtime": "yes",
        "RestrictSUIDSGID": "yes",
        "RemoveIPC": "yes",
        "PrivateUsers": "yes",
        "DevicePolicy": "closed",
    }
    assert {key: one.get(key) for key in expected} == expected
    assert service["SystemCallFilter"][0] == "@system-service"


def test_unit_has_everything_timesyncd_sandboxes_with(service: dict[str, list[str]]) -> None:
    # The sandboxing keys of systemd-timesyncd.service (systemd 252); its identity, bus and
    # capability lines (CAP_SYS_TIME) are its own business, not a sandbox.
    timesyncd = Path("/lib/systemd/system/systemd-timesyncd.service")
    keys = {
        "LockPersonality", "MemoryDenyWriteExecute", "NoNewPrivileges", "PrivateDevices",
        "PrivateTmp", "ProtectProc", "ProtectControlGroups", "ProtectHome", "ProtectHostname",
        "ProtectKernelLogs", "ProtectKernelModules", "ProtectKernelTunables", "ProtectSystem",
        "RestrictAddressFamilies", "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID",
        "SystemCallArchitectures", "SystemCallErrorNumber", "SystemCallFilter", "Type",
        "WatchdogSec", "StateDirectory", "CapabilityBoundingSet", "AmbientCapabilities",
    }  # fmt: skip
    if timesyncd.is_file():  # the installed one, where there is one, may have grown
        own = {"BusName", "Environment", "ExecStart", "Restart", "RestartSec", "User"}
        own |= {"RuntimeDirectory"}  # proofwatch keeps no runtime files
        keys |= set(unit_settings(timesyncd.read_text())["Service"]) - own
    assert sorted(keys - set(service)) == []


def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    need("systemd-analyze")
    result = run("systemd-analyze", "verify", "--man=no", str(unit_copy(tmp_path)))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_systemd_analyze_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    need("systemd-analyze")
    copy = unit_copy(tmp_path, extra="ProtectSytem=strict")
    result = run("systemd-analyze", "verify", "--man=no", str(copy))
    assert "ProtectSytem" in result.stdout + result.stderr


def exposure(unit: Path) -> float:
    result = run("systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit))
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, f"no exposure line in:\n{result.stdout}\n{result.stderr}"
    return float(match.group(1))


def test_exposure_is_at_most_two() -> None:
    need("systemd-analyze")
    score = exposure(UNIT)
    print(f"systemd-analyze security: exposure {score}")
    assert score <= MAX_EXPOSURE


def test_exposure_check_can_fail(tmp_path: Path) -> None:
    # The parse must see a worse score when the sandbox goes: guards against a regex that
    # silently matches something else.
    need("systemd-analyze")
    bare = tmp_path / "bare.service"
    bare.write_text("[Service]\nExecStart=/bin/true\n")
    assert exposure(bare) > 9.0


# --------------------------------------------------------------------------- users, folder


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A throwaway root directory (other users must be able to traverse to it)."""
    root = Path(tempfile.mkdtemp(prefix="pw-root-"))
    root.chmod(0o755)
    etc = root / "etc"
    etc.mkdir()
    for name in ("passwd", "group", "shadow", "gshadow"):
        (etc / name).touch()
    try:
        yield root
    finally:
        shutil.rmtree(root)


def group_entries(root: Path) -> dict[str, tuple[int, list[str]]]:
    out: dict[str, tuple[int, list[str]]] = {}
    for line in (root / "etc" / "group").read_text().splitlines():
        name, _, gid, members = line.split(":")
        out[name] = (int(gid), [m for m in members.split(",") if m])
    return out


def test_sysusers_creates_user_and_shared_group(image_root: Path) -> None:
    need("systemd-sysusers")
    result = run("systemd-sysusers", f"--root={image_root}", str(SYSUSERS))
    assert result.returncode == 0, result.stderr
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in (image_root / "etc" / "passwd").read_text().splitlines()
    }
    user = passwd["proofwatch"]
    assert user[5] == "/var/lib/proofwatch"
    assert user[6].endswith("nologin")
    assert int(user[2]) < 1000  # a system user
    groups = group_entries(image_root)
    assert groups["proofwatch"][0] == int(user[3])
    assert "proofwatch" in groups["proofwatch-uploads"][1]


def test_tmpfiles_makes_a_setgid_folder_with_a_default_acl(image_root: Path) -> None:
    need("systemd-sysusers")
    need("systemd-tmpfiles")
    assert run("systemd-sysusers", f"--root={image_root}", str(SYSUSERS)).returncode == 0
    gid = group_entries(image_root)["proofwatch-uploads"][0]
    # tmpfiles resolves the d line's group in the root's /etc/group, but an ACL's names on
    # this host, which has no such group: give the ACL the number instead.
    conf = image_root / "proofwatch-tmpfiles.conf"
    conf.write_text(TMPFILES.read_text().replace("group:proofwatch-uploads:", f"group:{gid}:"))
    result = run("systemd-tmpfiles", f"--root={image_root}", "--create", str(conf))
    uploads = image_root / UPLOADS.lstrip("/")
    info = uploads.stat()
    assert stat.S_IMODE(info.st_mode) == 0o2770
    assert (info.st_uid, info.st_gid) == (0, gid)
    try:
        os.getxattr(uploads, "system.posix_acl_default")
    except OSError as exc:
        pytest.skip(f"no POSIX ACLs on this file system ({exc}); tmpfiles said {result.stderr}")
    assert result.returncode == 0, result.stderr

    if os.geteuid() != 0:
        pytest.skip("writing as another user needs root")
    # The tracker (another uid, in the group) with the tightest umask: still group rw.
    tracker = subprocess.run(
        ["/bin/sh", "-c", "echo photo > a.jpg && mkdir sub && echo photo > sub/b.jpg"],
        cwd=uploads,
        user=64000,
        group=64000,
        extra_groups=[gid],
        umask=0o077,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert tracker.returncode == 0, tracker.stderr
    for path in (uploads / "a.jpg", uploads / "sub" / "b.jpg"):
        mode = path.stat()
        assert mode.st_gid == gid
        assert stat.S_IMODE(mode.st_mode) & 0o060 == 0o060, oct(mode.st_mode)
    sub = (uploads / "sub").stat()
    assert sub.st_mode & stat.S_ISGID
    assert stat.S_IMODE(sub.st_mode) & 0o070 == 0o070


# --------------------------------------------------------------------------- W^X memory

# MemoryDenyWriteExecute=yes in systemd 252 is this seccomp filter: mmap() asking for
# PROT_WRITE|PROT_EXEC, mprotect()/pkey_mprotect() asking for PROT_EXEC at all, and shmat()
# with SHM_EXEC fail with EPERM. (Newer systemd may use the kernel's PR_SET_MDWE, which is
# no stricter.) The child installs it, checks that it bites, then does what the daemon's
# native libraries do: decode JPEG/PNG/HEIF, OpenCV and numpy, and a full OCR pass through
# onnxruntime. A library that starts to need W+X memory (a JIT) fails this test instead of
# the service failing in production.
_MDWE_CHILD = r"""
import ctypes, io, sys

libc = ctypes.CDLL(None, use_errno=True)
AUDIT_ARCH_X86_64, EPERM = 0xC000003E, 1
ALLOW, DENY = 0x7FFF0000, 0x00050000 | EPERM
LD, JEQ, JSET, AND, RET = 0x20, 0x15, 0x45, 0x54, 0x06
NR = {"mmap": 9, "mprotect": 10, "shmat": 30, "pkey_mprotect": 329}
PROG = [
    (LD, 0, 0, 4), (JEQ, 1, 0, AUDIT_ARCH_X86_64), (RET, 0, 0, DENY),          # 0-2 arch
    (LD, 0, 0, 0),                                                             # 3 nr
    (JEQ, 4, 0, NR["mmap"]), (JEQ, 6, 0, NR["mprotect"]),                      # 4-5
    (JEQ, 5, 0, NR["pkey_mprotect"]), (JEQ, 7, 0, NR["shmat"]),                # 6-7
    (RET, 0, 0, ALLOW),                                                        # 8
    (LD, 0, 0, 32), (AND, 0, 0, 6), (JEQ, 7, 6, 6),                            # 9-11 mmap
    (LD, 0, 0, 32), (JSET, 5, 4, 4),                                           # 12-13 mprotect
    (RET, 0, 0, ALLOW),                                                        # 14
    (LD, 0, 0, 32), (JSET, 2, 1, 0o100000),                                    # 15-16 shmat
    (RET, 0, 0, ALLOW),                                                        # 17
    (RET, 0, 0, ALLOW),                                                        # 18
    (RET, 0, 0, DENY),                                                         # 19
]

class Insn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]

class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Insn))]

insns = (Insn * len(PROG))(*[Insn(*i) for i in PROG])
prog = Prog(len(PROG), insns)
if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    sys.exit("no_new_privs failed")
if libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
    print("SKIP seccomp unavailable, errno", ctypes.get_errno()); sys.exit(0)

libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
FAILED = ctypes.c_void_p(-1).value
assert libc.mmap(None, 4096, 7, 0x22, -1, 0) == FAILED, "W+X mmap was allowed"
page = libc.mmap(None, 4096, 3, 0x22, -1, 0)
assert page != FAILED, "plain mmap failed"
assert libc.mprotect(page, 4096, 5) != 0, "mprotect(PROT_EXEC) was allowed"
print("FILTER ok")

import numpy as np, cv2, pillow_heif
from PIL import Image
from proofgen import samples
pillow_heif.register_heif_opener()
img = samples.draw_code("48213", size=(800, 600)).convert("RGB")
for fmt in ("JPEG", "PNG", "WEBP", "HEIF"):
    buf = io.BytesIO(); img.save(buf, fmt); buf.seek(0); Image.open(buf).load()
jpeg = io.BytesIO(); img.save(jpeg, "JPEG")
cv2.resize(np.asarray(img), (400, 300)); a = np.random.rand(200, 200); a @ a
from proofwatch.engines.ocr import OcrEngine
from proofwatch.vocabulary import Question
reading = OcrEngine().ask(img, [Question("code", "text", "")])["code"]
print("OCR", sorted(set(reading.values) & {"48213"}))
"""


def test_native_libraries_run_under_memory_deny_write_execute() -> None:
    if sys.platform != "linux" or platform.machine() != "x86_64":
        pytest.skip("the emulated filter is written for Linux on x86_64")
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    child = subprocess.run(
        [sys.executable, "-c", _MDWE_CHILD],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).resolve().parents[1],  # where proofgen, the photo maker, is
    )
    if child.stdout.startswith("SKIP"):
        pytest.skip(child.stdout.strip())
    assert child.returncode == 0, child.stdout + child.stderr
    assert "FILTER ok" in child.stdout
    assert "OCR ['48213']" in child.stdout, child.stdout + child.stderr
