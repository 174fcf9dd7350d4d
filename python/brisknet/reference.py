"""The reference workload shared by the CLI, tests and benchmarks: Keras' MLP on Fashion-MNIST."""
from __future__ import annotations

import numpy as np

HIDDEN = (1000, 1000)
CLASSES = 10
FEATURES = 784


def build_model():
    from . import layers
    from .models import Sequential
    model = Sequential([
        layers.Dense(HIDDEN[0], activation="relu"),
        layers.Dense(HIDDEN[1], activation="relu"),
        layers.Dense(CLASSES, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load_fashion_mnist(path=None):
    """Fashion-MNIST as the reference program uses it: pixels scaled to [0, 1], flattened to 784."""
    from .datasets import fashion_mnist
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path)
    prep = lambda x: (x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255.0))
    return (prep(x_train), y_train), (prep(x_test), y_test)


def gemm_shapes(batch: int):
    """(name, m, k, n, transpose_a, transpose_b) of every GEMM in one training step at `batch`:
    forward x @ W, weight gradient x^T @ dY, input gradient dY @ W^T."""
    dims = (FEATURES,) + HIDDEN + (CLASSES,)
    shapes = []
    for i in range(len(dims) - 1):
        fan_in, fan_out = dims[i], dims[i + 1]
        shapes.append((f"fwd {batch}x{fan_in}x{fan_out}", batch, fan_in, fan_out, False, False))
        shapes.append((f"dW {fan_in}x{batch}x{fan_out}", fan_in, batch, fan_out, True, False))
        if i > 0:
            shapes.append((f"dX {batch}x{fan_out}x{fan_in}", batch, fan_out, fan_in, False, True))
    return shapes


def gemm_operands(m, k, n, transpose_a, transpose_b, seed=0):
    """Random float32 operands laid out as the training step has them (transposes read in place)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, m) if transpose_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if transpose_b else (k, n), dtype=np.float32)
    return a, b
