"""The engine against the Python per-layer reference path (compile(run_eagerly=True)), in the same
run: one epoch on the first 12,000 Fashion-MNIST images at batch 32, for each kind of model that
used to fall back to the Python path (Dropout, RMSprop, regularizers, global-norm clipping, sample
weights, several metrics); and the reference model with one metric beside two.

Run: python -m pytest benchmarks/bench_engine.py --benchmark-only
(samples/s = 12,000 / the median epoch time; compare the engine and eager rows of each group.)
"""
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


def epoch(benchmark, x, y, build_layers, optimizer, options, eager):
    brisknet.utils.set_random_seed(0)
    model = brisknet.Sequential(build_layers())
    model.compile(optimizer=optimizer() if callable(optimizer) else optimizer, loss="sparse_categorical_crossentropy",
                  metrics=options.get("metrics", ["accuracy"]), run_eagerly=eager)
    fit_kw = {}
    if options.get("sample_weight"):
        fit_kw["sample_weight"] = np.random.default_rng(0).uniform(0.5, 1.5, x.shape[0]).astype(np.float32)
    result = benchmark.pedantic(lambda: model.fit(x, y, batch_size=32, epochs=1, verbose=0, **fit_kw),
                                rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["samples"] = x.shape[0]
    assert (getattr(model, "_training_engine", None) is None) == eager
    assert np.isfinite(result.history["loss"][0])


@pytest.mark.parametrize("path", ["engine", "eager"])
@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_engine_against_python_path(benchmark, fashion_mnist, feature, path):
    benchmark.group = f"engine vs python path: {feature}"
    (x, y), _ = fashion_mnist
    build_layers, optimizer, options = FEATURES[feature]
    epoch(benchmark, x[:SAMPLES], y[:SAMPLES], build_layers, optimizer, options, path == "eager")


@pytest.mark.parametrize("metrics", [("accuracy",), ("accuracy", "sparse_top_k_categorical_accuracy")])
def test_reference_model_metrics(benchmark, fashion_mnist, metrics):
    """Any metric is updated from the engine's predictions once per run of batches: a second
    metric should cost next to nothing (target: within 5 % of one)."""
    benchmark.group = "reference model, metrics"
    (x, y), _ = fashion_mnist
    epoch(benchmark, x[:SAMPLES], y[:SAMPLES], reference_layers, "adam", {"metrics": list(metrics)}, False)
