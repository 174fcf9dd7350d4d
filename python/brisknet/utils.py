"""Seeding, threads and small helpers shared by the Python layer."""
from __future__ import annotations

import contextlib
import os
import random
import signal
import threading

import numpy as np

from . import _core
from .data import PyDataset
from .naming import reset_names

__all__ = ["set_random_seed", "set_num_threads", "get_num_threads", "cpu_info", "estimate_fit",
           "deferred_interrupt", "to_categorical", "normalize", "clear_session", "PyDataset"]

_rng = np.random.default_rng()


def set_random_seed(seed: int) -> None:
    """Seed brisknet (initializers, shuffling, dropout), Python's `random` and `numpy.random`.

    Two runs with the same seed and data give bit-identical weights and history, whatever the
    thread count: no kernel splits a reduction across threads.
    """
    global _rng
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    _rng = np.random.default_rng(int(seed))


def global_rng() -> np.random.Generator:
    return _rng


def draw_seed() -> int:
    """A fresh 63-bit seed from brisknet's global generator."""
    return int(_rng.integers(0, 2**63 - 1))


def set_num_threads(n: int) -> None:
    """Threads used by every brisknet kernel (default: OMP_NUM_THREADS, else all cores).

    Each kernel picks its own count per shape, up to n and never more than the cores this process
    may run on: small shapes stay on one thread, and asking for more threads than cores never
    makes a kernel slower. Results are bit-identical for any n."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    return _core.get_num_threads()


def cpu_info() -> dict:
    """Which GEMM micro-kernel runs here (chosen by CPUID, narrowed by BRISKNET_ISA), its register
    tile and the cache blocks derived from this CPU's caches (bytes, ways, CPUs sharing), and threads."""
    return {
        "gemm_isa": _core.gemm_isa(),
        "gemm": _core.gemm_config(),
        "forced_isa": os.environ.get("BRISKNET_ISA") or None,
        "num_threads": _core.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


def estimate_fit(model, x_shape, epochs=1, batch_size=32, seconds=1.0) -> dict:
    """Predicted wall time of model.fit on data of x_shape, from real steps timed here
    (see brisknet.costs.estimate_fit)."""
    from .costs import estimate_fit as _estimate
    return _estimate(model, x_shape, epochs, batch_size, seconds)


@contextlib.contextmanager
def deferred_interrupt():
    """Holds Ctrl-C (SIGINT) back until the block ends, then raises KeyboardInterrupt: a training
    step is never left half done (weights updated but not the optimizer's state). Only in the main
    thread and only while Python's default SIGINT handler is installed; otherwise a no-op."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    received = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if received:
            raise KeyboardInterrupt


def to_categorical(x, num_classes=None):
    """One-hot rows (float64, as Keras) of integer class labels: shape x.shape + (num_classes,),
    a trailing axis of 1 dropped; num_classes defaults to max(x) + 1."""
    labels = np.asarray(x)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("to_categorical: labels must be integers")
    elif labels.dtype.kind not in "biu":
        raise TypeError(f"to_categorical: expected integer labels, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    flat = labels.reshape(-1)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical: num_classes is needed for an empty array")
        num_classes = int(flat.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive int, got {num_classes!r}")
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), got {flat.min()}..{flat.max()}")
    out = np.zeros((flat.size, int(num_classes)))
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (int(num_classes),))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zero vectors stay zero), as keras.utils.normalize."""
    x = np.asarray(x, dtype=np.float64 if np.asarray(x).dtype == np.float64 else np.float32)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def clear_session(free_memory=True) -> None:
    """keras.utils.clear_session: forget the automatic layer and model names."""
    reset_names()
