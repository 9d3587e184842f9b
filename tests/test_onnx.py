"""What every ONNX model of the package shares: memory freed by a run goes back."""

from __future__ import annotations

import ctypes
import platform
from pathlib import Path

import pytest

from proofwatch.engines import onnx


def resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_heap_memory_is_given_back_to_the_system() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    chunk = 64 * 1024  # under glibc's mmap threshold: these live on the heap
    blocks = [libc.malloc(chunk) for _ in range(3200)]  # 200 MiB
    for block in blocks:
        ctypes.memset(block, 1, chunk)
    pin = libc.malloc(chunk)  # above them all: glibc cannot shrink the heap by itself
    for block in blocks:
        libc.free(block)
    before = resident_mib()
    try:
        assert onnx.give_back_free_memory()
        assert before - resident_mib() > 150
    finally:
        libc.free(pin)


def test_nothing_is_given_back_where_the_c_library_cannot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class NoTrim:
        pass

    monkeypatch.setattr(ctypes, "CDLL", lambda name: NoTrim())
    onnx._malloc_trim.cache_clear()
    try:
        assert not onnx.give_back_free_memory()
    finally:
        onnx._malloc_trim.cache_clear()
