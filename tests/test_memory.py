"""Memory over a long session: building, training, predicting and deleting models again and again
holds the process's resident memory flat after warm-up."""
import gc

import numpy as np

import brisknet as keras
from brisknet import layers


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def cycle(x, y, i):
    model = keras.Sequential([keras.Input((32,)), layers.Dense(64, activation="relu"),
                              layers.Dropout(0.1) if i % 2 else layers.Activation("linear"),
                              layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=32 + i % 3, epochs=1, verbose=0, validation_split=0.1)
    model.predict(x[:100], verbose=0)
    model.evaluate(x[:50], y[:50], verbose=0)
    del model


def test_200_cycles_hold_rss_flat():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 32)).astype(np.float32)
    y = rng.integers(0, 4, 512)
    for i in range(200):  # warm-up: allocator pools settle after ~200 cycles here (+2 MB, then flat)
        cycle(x, y, i)
    gc.collect()
    start = rss_mb()
    for i in range(200):
        cycle(x, y, i)
    gc.collect()
    grown = rss_mb() - start
    assert grown < 1.0, f"RSS grew by {grown:.2f} MB over 200 cycles"  # a 16 KB/cycle leak adds 3 MB
