"""Process-wide state: brisknet's random generator (seeding), the kernels' thread count, what this
CPU runs, and holding Ctrl-C back during a training step."""
from __future__ import annotations

import contextlib
import os
import random
import signal
import threading

import numpy as np

from . import _core

__all__ = ["set_random_seed", "global_rng", "draw_seed", "set_num_threads", "get_num_threads", "cpu_info",
           "deferred_interrupt"]

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
    tile and the cache blocks derived from this CPU's caches (bytes, ways, CPUs sharing), the bf16
    GEMM's paths here and the one in use (mixed_bfloat16; BRISKNET_BF16 narrows it), and threads."""
    return {
        "gemm_isa": _core.gemm_isa(),
        "gemm": _core.gemm_config(),
        "forced_isa": os.environ.get("BRISKNET_ISA") or None,
        "bf16_paths": list(_core.bf16_paths()),
        "bf16_path": _core.bf16_path(),
        "num_threads": _core.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


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

