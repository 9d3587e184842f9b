"""`python -m proofwatch` with the one simulated fault of tests/test_faults_*.py: reading a
photo fails with EIO while the flag file named by PROOFWATCH_TEST_EIO exists.

A real EIO needs a failing block device (device-mapper's `error` target, or a loop device
whose backing store fails); this machine's kernel has no device-mapper, and a loop device
over a shrunk file reads zeros rather than failing. So the fault is injected at the
narrowest seam instead: os.read on a photo's descriptor, the call intake.reader makes.
"""

from __future__ import annotations

import errno
import os
import runpy

FLAG = os.environ["PROOFWATCH_TEST_EIO"]
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".mpo")
_read = os.read


def _failing_read(fd: int, size: int) -> bytes:
    if os.path.exists(FLAG):
        with_name = os.readlink(f"/proc/self/fd/{fd}")
        if with_name.lower().endswith(PHOTO_SUFFIXES):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
    return _read(fd, size)


os.read = _failing_read
runpy.run_module("proofwatch", run_name="__main__", alter_sys=True)
