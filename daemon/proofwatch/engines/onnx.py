"""An ONNX model on the CPU through onnxruntime: the settings every model of the package
shares, and loading once, on first use, safely from several threads."""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from pathlib import Path
from typing import Any


def no_telemetry() -> None:
    """Before any session opens (ours, or rapidocr's): onnxruntime keeps a telemetry device
    id and can upload usage events; nothing about a photo may leave the machine, so that is
    off unless the operator chose."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def open_session(path: Path, threads: int, *, lean: bool = False) -> Any:
    """An onnxruntime session (untyped) for the model file at `path`, on the CPU; `lean`:
    basic graph optimisations only (no blocked memory layouts: less memory, a little slower)."""
    import importlib

    no_telemetry()
    ort = importlib.import_module("onnxruntime")  # untyped; slow: only when needed
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    # Without the arena, memory held stays near what one photo's lines need. A memory
    # pattern plans one block per input shape, and every photo's shapes differ: planned
    # blocks held the detector's peak (+140 MiB on a 960 px look) for good.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    if lean:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@functools.cache
def _malloc_trim() -> Any:
    """glibc's malloc_trim, looked up once; None where the C library has none."""
    return getattr(ctypes.CDLL(None), "malloc_trim", None)


def give_back_free_memory() -> bool:
    """Return the C heap's free pages to the system; False where the C library cannot.

    A model run frees tens of MiB of tensors, and glibc keeps freed memory for reuse, in
    one heap per thread that ran: the daemon's worker threads each held a detector's worth.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class OnnxModel:
    """A model file, loaded once (on first use, or by `load`), shared by threads:
    onnxruntime's sessions may be run from several at once."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.path = path
        self.threads = threads
        self._session: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is None:
                self._session = open_session(self.path, self.threads)

    def run(self, name: str, batch: Any) -> Any:
        """The model's first output for `batch` given as its input `name`."""
        self.load()
        (out,) = self._session.run(None, {name: batch})
        return out
