"""What a model costs: FLOPs and memory as summary() shows them, and estimate_fit against a real fit."""
import time

import numpy as np
import pytest

import brisknet as keras
from brisknet import costs, layers, runtime


def mlp(optimizer="adam"):
    model = keras.Sequential([keras.Input((784,)), layers.Dense(256, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_flops_per_sample_by_hand():
    f = costs.model_flops(mlp())
    mm1, mm2 = 2 * 784 * 256, 2 * 256 * 10
    forward = mm1 + 2 * 256 + mm2 + 2 * 10  # products, then bias + activation per output
    backward = mm1 + 256 * 2 + 2 * mm2 + 10 * 2  # dW of both layers, dX of the second only
    assert f == {"forward": forward, "training": forward + backward}


def test_recurrent_flops_count_both_directions():
    model = keras.Sequential([keras.Input((5, 10)), layers.Bidirectional(layers.LSTM(8, return_sequences=True)),
                              layers.LSTM(4)])
    lstm = 2 * 5 * (10 + 8) * 32  # per direction: 5 steps of 4 gates of 8 units on 10 inputs and 8 states
    second = 2 * 5 * (16 + 4) * 16
    assert costs.layer_flops(model.layers[0]) == (2 * lstm, 4 * lstm)
    assert costs.model_flops(model)["forward"] == 2 * lstm + second


@pytest.mark.parametrize("optimizer,arrays", [("adam", 2), ("sgd", 0), (keras.optimizers.SGD(momentum=0.9), 1),
                                              (keras.optimizers.Adam(amsgrad=True), 3)])
def test_memory(optimizer, arrays):
    model = mlp(optimizer)
    p = model.count_params()
    mem = costs.model_memory(model, 64)
    assert mem["parameters"] == mem["gradients"] == 4 * p
    assert mem["optimizer_state"] == 4 * p * arrays
    assert mem["activations"] == 4 * 64 * (784 + 2 * 2 * 256 + 2 * 2 * 10)
    model.fit(np.zeros((8, 784), np.float32), np.zeros(8, int), verbose=0)  # built state agrees
    assert costs.model_memory(model, 64)["optimizer_state"] == 4 * p * arrays


def test_summary_shows_costs():
    lines = []
    mlp().summary(print_fn=lines.append, batch_size=128)
    text = "\n".join(lines)
    assert "FLOPs per sample: 407.06 K forward" in text and "Memory at batch size 128" in text


def test_estimate_fit_predicts_a_real_fit():
    model = mlp()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12000, 784)).astype(np.float32)
    y = rng.integers(0, 10, 12000)
    weights = model.get_weights()
    before = runtime.global_rng().bit_generator.state
    est = keras.utils.estimate_fit(model, x.shape, epochs=2, batch_size=64)
    assert runtime.global_rng().bit_generator.state == before  # the user's shuffles are untouched
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    # What the estimate is made of: timed whole steps, scaled to the real epochs and samples.
    assert est["steps_timed"] >= 3 * 16
    assert est["seconds"] == pytest.approx(2 * est["seconds_per_epoch"])
    assert est["seconds_per_epoch"] * est["samples_per_second"] == pytest.approx(12000)
    # Against the fit right after it, three times. This shared machine's speed changes by up to 2x
    # for seconds at a time, so one pair taken at one speed must agree within a third; an estimate
    # off by 2x (a cold run timed, epochs or samples miscounted) fails on every pair.
    pairs = []
    for _ in range(3):
        estimate = keras.utils.estimate_fit(model, x.shape, epochs=2, batch_size=64)["seconds"]
        start = time.perf_counter()
        model.fit(x, y, epochs=2, batch_size=64, verbose=0)
        pairs.append((estimate, time.perf_counter() - start))
    assert any(0.67 <= e / a <= 1.5 for e, a in pairs), pairs
