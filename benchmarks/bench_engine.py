"""The engine against the Python per-layer reference path (compile(run_eagerly=True)), in the same
run: one epoch on the first 12,000 Fashion-MNIST images at batch 32, for each kind of model that
used to fall back to the Python path (Dropout, RMSprop, regularizers, global-norm clipping, sample
weights, several metrics); and the reference model with one metric beside two.

Both sides of each comparison alternate epoch by epoch in one test; the medians and ratios are in
each benchmark's extra_info (python benchmarks/table.py prints them).

Run: python -m pytest benchmarks/bench_engine.py --benchmark-only --benchmark-json=b.json
"""
import time

import numpy as np
import pytest

import brisknet
from brisknet import layers

SAMPLES = 12_000


def reference_layers():
    return [layers.Dense(1000, activation="relu"), layers.Dense(1000, activation="relu"),
            layers.Dense(10, activation="softmax")]


FEATURES = {
    "dropout": (lambda: [layers.Dense(1000, activation="relu"), layers.Dropout(0.2),
                         layers.Dense(1000, activation="relu"), layers.Dropout(0.2),
                         layers.Dense(10, activation="softmax")], "adam", {}),
    "rmsprop": (reference_layers, "rmsprop", {}),
    "l2-regularizers": (lambda: [layers.Dense(1000, activation="relu", kernel_regularizer="l2"),
                                 layers.Dense(1000, activation="relu", kernel_regularizer="l2"),
                                 layers.Dense(10, activation="softmax")], "adam", {}),
    "global-clipnorm": (reference_layers, lambda: brisknet.optimizers.Adam(global_clipnorm=1.0), {}),
    "sample-weights": (reference_layers, "adam", {"sample_weight": True}),
    "two-metrics": (reference_layers, "adam", {"metrics": ["accuracy", "sparse_top_k_categorical_accuracy"]}),
}


def fitter(x, y, build_layers, optimizer, options, eager):
    """A compiled model and a function that trains it for one epoch."""
    brisknet.utils.set_random_seed(0)
    model = brisknet.Sequential(build_layers())
    model.compile(optimizer=optimizer() if callable(optimizer) else optimizer, loss="sparse_categorical_crossentropy",
                  metrics=options.get("metrics", ["accuracy"]), run_eagerly=eager)
    fit_kw = {}
    if options.get("sample_weight"):
        fit_kw["sample_weight"] = np.random.default_rng(0).uniform(0.5, 1.5, x.shape[0]).astype(np.float32)

    def epoch():
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, **fit_kw).history
        assert np.isfinite(history["loss"][0])
        return time.perf_counter() - start
    epoch()  # warm-up: workspaces, first touches
    assert (getattr(model, "_training_engine", None) is None) == eager
    return epoch


def alternate(benchmark, sides, rounds=5):
    """Times one epoch of each side in turn, `rounds` times (the machine's speed drifts: both sides
    see the same drift); the benchmark's own time is a round of all sides. Records each side's
    median samples/s and the ratio of the first side to the others in extra_info."""
    times = {name: [] for name in sides}

    def one_round():
        for name, epoch in sides.items():
            times[name].append(epoch())
    benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=0)
    rates = {name: SAMPLES / float(np.median(t)) for name, t in times.items()}
    first = next(iter(rates))
    benchmark.extra_info.update({f"{name} samples/s": round(r) for name, r in rates.items()})
    for name in list(rates)[1:]:
        benchmark.extra_info[f"{first} / {name}"] = round(rates[first] / rates[name], 3)
    return rates


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_engine_against_python_path(benchmark, fashion_mnist, feature):
    benchmark.group = "engine vs python path"
    (x, y), _ = fashion_mnist
    x, y = x[:SAMPLES], y[:SAMPLES]
    build_layers, optimizer, options = FEATURES[feature]
    alternate(benchmark, {"engine": fitter(x, y, build_layers, optimizer, options, False),
                          "python": fitter(x, y, build_layers, optimizer, options, True)})


def test_reference_model_one_metric_against_two(benchmark, fashion_mnist):
    """Any metric is updated from the engine's predictions once per run of batches: a second
    metric should cost next to nothing (target: within 5 % of one)."""
    benchmark.group = "reference model, metrics"
    (x, y), _ = fashion_mnist
    x, y = x[:SAMPLES], y[:SAMPLES]
    alternate(benchmark, {
        "accuracy": fitter(x, y, reference_layers, "adam", {"metrics": ["accuracy"]}, False),
        "accuracy+top_k": fitter(x, y, reference_layers, "adam",
                                 {"metrics": ["accuracy", "sparse_top_k_categorical_accuracy"]}, False)})


@pytest.mark.parametrize("batch_size", [32, 512])
def test_fused_step_against_phased_step(benchmark, fashion_mnist, batch_size):
    """The reference model's step with backward and update fused (one process, no norm clipping)
    against the same step in phases (backward into the whole gradient, a reduce hook, then the
    update), alternating in one run: what a reduce point costs, and that fusion still pays."""
    benchmark.group = "fused vs phased step"
    (x, y), _ = fashion_mnist
    x, y = np.ascontiguousarray(x[:SAMPLES], np.float32), y[:SAMPLES].astype(np.int64)  # as fit prepares them
    order = np.arange(SAMPLES)

    def runner(reduce):
        brisknet.utils.set_random_seed(0)
        model = brisknet.Sequential(reference_layers())
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.build((None, 784))
        engine = model._engine()

        def epoch():
            start = time.perf_counter()
            engine.train(x, y, None, order, batch_size, reduce=reduce)
            return time.perf_counter() - start
        epoch()
        return epoch
    alternate(benchmark, {"fused": runner(None), "phased": runner(lambda grads: None)})
