"""Kernels release the GIL, obey set_num_threads and OMP_NUM_THREADS."""
import os
import subprocess
import sys
import threading
import time

import numpy as np

import brisknet
from brisknet import kernels


def test_omp_num_threads_is_the_default():
    code = "import brisknet; print(brisknet.get_num_threads())"
    for n in ("1", "3"):
        out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, OMP_NUM_THREADS=n),
                             capture_output=True, text=True, timeout=120)
        assert out.stdout.strip() == n, out.stderr


def test_set_num_threads_roundtrip():
    brisknet.set_num_threads(3)
    assert brisknet.get_num_threads() == 3 and brisknet.cpu_info()["num_threads"] == 3


def test_gil_is_released_during_a_kernel():
    """A pure-Python thread keeps running *inside* the time window of one long matmul call
    (with the GIL held it could not run at all until the call returned)."""
    brisknet.set_num_threads(1)
    a = np.random.default_rng(0).standard_normal((1600, 1600), dtype=np.float32)
    stamps = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            for _ in range(200):
                pass

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.02)
    begin = time.perf_counter()
    kernels.matmul(a, a)
    end = time.perf_counter()
    stop.set()
    t.join()
    assert end - begin > 0.03, "the kernel was too quick to tell"
    inside = [s for s in stamps if begin + 0.01 < s < end - 0.01]
    assert len(inside) > 10


def test_denormals_flushed_inside_kernels_only():
    """Kernels run with flush-to-zero / denormals-are-zero (subnormal Adam moments cost ~3x),
    and the caller's floating-point mode is untouched afterwards."""
    tiny = np.array([1e-40, -1e-40, 1.0], np.float32)  # two subnormals and a normal number
    np.testing.assert_array_equal(kernels.activation(tiny, "relu"), [0.0, 0.0, 1.0])  # DAZ: read as 0
    p, g = np.zeros(3, np.float32), tiny.copy()
    kernels.sgd_step(p, g, learning_rate=1.0)
    np.testing.assert_array_equal(p, [0.0, 0.0, -1.0])
    for threads in (1, 2):
        brisknet.set_num_threads(threads)
        kernels.matmul(np.ones((300, 300), np.float32), np.ones((300, 300), np.float32))
        kernels.adam_step(np.ones(100_000, np.float32), np.ones(100_000, np.float32), np.zeros(100_000, np.float32),
                      np.zeros(100_000, np.float32), 1)
    # numpy in this thread still computes with subnormals: the mode was restored
    assert (tiny * np.float32(1.0))[0] == np.float32(1e-40)
    assert np.float32(1e-38) / np.float32(100.0) != 0
