"""set_random_seed gives bit-identical weights and history whatever the thread count."""
import numpy as np

import brisknet as keras
from brisknet import layers


def run(threads, x, y):
    keras.set_num_threads(threads)
    keras.utils.set_random_seed(123)
    model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dropout(0.2),
                              layers.Dense(48, activation="tanh"), layers.Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=2, batch_size=40, validation_split=0.2, verbose=0)
    return model.get_weights(), h.history


def test_bit_identical_across_thread_counts():
    rng = np.random.default_rng(7)
    # large enough that the GEMMs and element loops really use several threads
    x = rng.standard_normal((1000, 300)).astype(np.float32)
    y = rng.integers(0, 5, 1000)
    w1, h1 = run(1, x, y)
    for threads in (2, 16):
        w, h = run(threads, x, y)
        assert h == h1
        for a, b in zip(w, w1):
            np.testing.assert_array_equal(a, b)


def test_different_seeds_differ():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((200, 10)).astype(np.float32)
    y = rng.integers(0, 5, 200)
    w1, _ = run(2, x, y)
    keras.utils.set_random_seed(124)
    m = keras.Sequential([layers.Dense(64)])
    m.build((None, 10))
    assert not np.array_equal(m.get_weights()[0], w1[0][:10])
