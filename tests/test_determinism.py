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


def test_same_seed_same_weights_other_seed_other_weights():
    def weights(seed):
        keras.utils.set_random_seed(seed)
        m = keras.Sequential([layers.Dense(64), layers.Dense(3)])
        m.build((None, 10))
        return m.get_weights()

    a, b, c = weights(1), weights(1), weights(2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
