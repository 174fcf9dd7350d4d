"""Learning-rate schedules against Keras 3's formulas, the learning rate each step of a fit
actually uses, and schedules through the C++ engine and model files."""
import math

import numpy as np
import pytest

import brisknet as keras
from brisknet import layers
from brisknet.models import engine as engine_module
from brisknet.optimizers import schedules

STEPS = [0, 1, 5, 99, 100, 101, 250, 1000, 5000]


def keras_cosine(step, init, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
    # Keras 3: linear warmup from init to warmup_target, then cosine decay from warmup_target
    if warmup_target is None:
        s = min(step, decay_steps)
        return init * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s / decay_steps)) + alpha)
    s = min(step, decay_steps + warmup_steps)
    if s < warmup_steps:
        return init + (warmup_target - init) * s / warmup_steps
    d = s - warmup_steps
    return warmup_target * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * d / decay_steps)) + alpha)


CASES = {
    "exponential": (schedules.ExponentialDecay(0.1, 100, 0.5), lambda s: 0.1 * 0.5 ** (s / 100)),
    "exponential-staircase": (schedules.ExponentialDecay(0.1, 100, 0.5, staircase=True),
                              lambda s: 0.1 * 0.5 ** (s // 100)),
    "piecewise": (schedules.PiecewiseConstantDecay([100, 250], [1.0, 0.5, 0.1]),
                  lambda s: 1.0 if s <= 100 else (0.5 if s <= 250 else 0.1)),
    "cosine": (schedules.CosineDecay(0.2, 1000, alpha=0.1), lambda s: keras_cosine(s, 0.2, 1000, 0.1)),
    "cosine-warmup": (schedules.CosineDecay(0.0, 1000, warmup_target=0.3, warmup_steps=100),
                      lambda s: keras_cosine(s, 0.0, 1000, 0.0, 0.3, 100)),
    "inverse-time": (schedules.InverseTimeDecay(0.1, 100, 0.5), lambda s: 0.1 / (1 + 0.5 * s / 100)),
    "inverse-time-staircase": (schedules.InverseTimeDecay(0.1, 100, 0.5, staircase=True),
                               lambda s: 0.1 / (1 + 0.5 * (s // 100))),
    "polynomial": (schedules.PolynomialDecay(0.1, 1000, 0.01, power=2.0),
                   lambda s: (0.1 - 0.01) * (1 - min(s, 1000) / 1000) ** 2 + 0.01),
    "polynomial-cycle": (schedules.PolynomialDecay(0.1, 100, 0.01, cycle=True),
                         lambda s: (0.1 - 0.01) * (1 - s / (100 * max(1, math.ceil(s / 100)))) + 0.01),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_schedule_values(case):
    schedule, want = CASES[case]
    for s in STEPS:
        assert schedule(s) == pytest.approx(want(s), rel=1e-12, abs=1e-15), s
    again = type(schedule).from_config(schedule.get_config())
    assert [again(s) for s in STEPS] == [schedule(s) for s in STEPS]


def fit_recording(optimizer, force_python, monkeypatch, epochs=3, record=True):
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(self.model.optimizer.learning_rate)

    with monkeypatch.context() as mp:
        if force_python:
            mp.setattr(engine_module, "why_not", lambda *a: "forced")
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((70, 4)).astype(np.float32)
        y = rng.integers(0, 3, 70)
        model = keras.Sequential([layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, callbacks=[Record()] if record else [])
    return model, seen


@pytest.mark.parametrize("force_python", [True, False], ids=["python", "engine"])
def test_each_step_uses_the_schedule_value_at_its_step(force_python, monkeypatch):
    schedule = schedules.ExponentialDecay(0.05, 3, 0.7, staircase=True)
    model, seen = fit_recording(keras.optimizers.SGD(schedule, momentum=0.9), force_python, monkeypatch)
    assert seen == [schedule(i) for i in range(len(seen))] and len(seen) == 27
    assert model.optimizer.iterations == 27


def test_engine_with_a_schedule_is_bit_identical_to_the_python_path(monkeypatch):
    def opt():
        return keras.optimizers.Adam(schedules.CosineDecay(0.0, 20, warmup_target=0.02, warmup_steps=5))
    # a callback with a per-batch hook makes the engine go a batch at a time; without one it runs
    # whole epochs per call with the per-step rates passed in
    a, _ = fit_recording(opt(), True, monkeypatch)
    b, _ = fit_recording(opt(), False, monkeypatch)
    c, _ = fit_recording(opt(), False, monkeypatch, record=False)
    for wa, wb, wc in zip(a.get_weights(), b.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(wa, wc)


def test_a_schedule_optimizer_refuses_a_number_and_bad_values():
    opt = keras.optimizers.Adam(schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="schedule"):
        opt.learning_rate = 0.01
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="values"):
        schedules.PiecewiseConstantDecay([10], [1.0])
    bad = keras.optimizers.SGD(schedules.PiecewiseConstantDecay([1], [0.1, float("nan")]))
    bad.iterations = 5
    with pytest.raises(ValueError, match="schedule gave nan"):
        bad.learning_rate


def test_schedule_survives_save_and_load(tmp_path):
    schedule = schedules.PolynomialDecay(0.1, 50, 0.001, power=0.5)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.RMSprop(schedule), loss="sparse_categorical_crossentropy")
    model.fit(np.ones((20, 4), np.float32), np.zeros(20, int), epochs=1, verbose=0)
    model.save(tmp_path / "m.brisk")
    loaded = keras.models.load_model(tmp_path / "m.brisk")
    assert isinstance(loaded.optimizer.schedule, schedules.PolynomialDecay)
    assert loaded.optimizer.learning_rate == model.optimizer.learning_rate == schedule(1)
