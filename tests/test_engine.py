"""The C++ engine (models/engine.py) against the Python reference path: same seed, same data,
bit-identical weights and history, for every loss/optimizer/metric the engine covers."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers
from brisknet.models import engine as engine_module


def train(build, x, y, force_python, monkeypatch, **fit_kw):
    with monkeypatch.context() as mp:
        if force_python:
            mp.setattr(engine_module, "why_not", lambda *a: "forced reference path")
        keras.utils.set_random_seed(42)
        model = build()
        used = []
        mp.setattr(engine_module.Engine, "train",
                   (lambda orig: lambda self, *a: used.append(1) or orig(self, *a))(engine_module.Engine.train))
        h = model.fit(x, y, verbose=0, **fit_kw)
        assert bool(used) != force_python  # the path we meant to test is the one that ran
    return model.get_weights(), h.history


def compiled(layer_list, compile_kw):
    def build():
        model = keras.Sequential(layer_list())
        model.compile(**compile_kw())  # fresh optimizer objects for every run
        return model
    return build


CASES = {
    "softmax-sparse-adam": (
        lambda: [layers.Dense(32, activation="relu"), layers.Dense(16, activation="tanh"), layers.Dense(5, activation="softmax")],
        lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]), "sparse"),
    "logits-sparse-sgd-nesterov": (
        lambda: [layers.Dense(24, activation="gelu"), layers.Dense(5)],
        lambda: dict(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
             loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]), "sparse"),
    "onehot-categorical-adamw-amsgrad": (
        lambda: [layers.Dense(20, activation="elu"), layers.Dense(5, activation="softmax")],
        lambda: dict(optimizer=keras.optimizers.AdamW(0.01, amsgrad=True), loss="categorical_crossentropy",
             metrics=["accuracy"]), "onehot"),
    "sigmoid-bce": (
        lambda: [layers.Dense(16, activation="swish"), layers.Dense(1, activation="sigmoid")],
        lambda: dict(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"]), "binary"),
    "linear-mse-no-bias": (
        lambda: [layers.Dense(16, activation="leaky_relu", use_bias=False), layers.Dense(3)],
        lambda: dict(optimizer="adam", loss="mse"), "regression"),
    "huber-mae": (
        lambda: [layers.Dense(8, activation="softplus"), layers.Dense(3)],
        lambda: dict(optimizer=keras.optimizers.SGD(0.01, momentum=0.5), loss="huber"), "regression"),
    # a softmax below another layer (not fusable into the GEMM) and a linear hidden layer
    "hidden-softmax-and-linear": (
        lambda: [layers.Dense(12, activation="softmax"), layers.Dense(6), layers.Dense(3, activation="tanh")],
        lambda: dict(optimizer="adam", loss="mse"), "regression"),
}


def targets(kind, rng, n):
    labels = rng.integers(0, 5, n)
    return {"sparse": labels, "onehot": np.eye(5, dtype=np.float32)[labels],
            "binary": (labels > 2).astype(np.float32),
            "regression": rng.standard_normal((n, 3)).astype(np.float32)}[kind]


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_is_bit_identical_to_reference_path(case, monkeypatch):
    layer_list, compile_kw, kind = CASES[case]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((203, 12)).astype(np.float32)  # 203: a partial last batch
    y = targets(kind, rng, 203)
    w_ref, h_ref = train(compiled(layer_list, compile_kw), x, y, True, monkeypatch, epochs=3, batch_size=16,
                         validation_split=0.1)
    w_fast, h_fast = train(compiled(layer_list, compile_kw), x, y, False, monkeypatch, epochs=3, batch_size=16,
                           validation_split=0.1)
    assert h_fast == h_ref
    for a, b in zip(w_fast, w_ref):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("features", [1, 3, 700])
def test_engine_updates_every_weight_whatever_the_gemm_path(features, monkeypatch):
    """The optimizer update runs inside the weight-gradient GEMM (per finished block of rows): for
    an input of <= 4 features that GEMM takes its few-rows path, for 700 it spans two k blocks
    at batch 600 (> kc), and every weight must still be updated exactly once."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1300, features)).astype(np.float32)
    y = rng.integers(0, 3, 1300)
    build = compiled(lambda: [layers.Dense(9, activation="relu"), layers.Dense(3, activation="softmax")],
                     lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]))
    w_ref, h_ref = train(build, x, y, True, monkeypatch, epochs=2, batch_size=600)
    w_fast, h_fast = train(build, x, y, False, monkeypatch, epochs=2, batch_size=600)
    assert h_fast == h_ref
    for a, b in zip(w_fast, w_ref):
        np.testing.assert_array_equal(a, b)


def test_flatten_and_batch_callbacks_take_the_engine_a_batch_at_a_time(monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((70, 3, 4)).astype(np.float32)
    y = rng.integers(0, 3, 70)
    seen = []

    class Batches(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, round(logs["loss"], 6)))

    def build():
        model = keras.Sequential([layers.Flatten(), layers.Dense(10, activation="relu"), layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    ref = train(build, x, y, True, monkeypatch, epochs=2, batch_size=8, callbacks=[Batches()])
    ref_seen, seen[:] = list(seen), []
    fast = train(build, x, y, False, monkeypatch, epochs=2, batch_size=8, callbacks=[Batches()])
    assert fast[1] == ref[1] and seen == ref_seen and len(seen) == 2 * 9
    for a, b in zip(fast[0], ref[0]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("extra,reason", [
    (dict(layers_=[layers.Dense(4), layers.Dropout(0.1), layers.Dense(2)]), "only Dense"),
    (dict(layers_=[layers.Dense(4, kernel_regularizer="l2"), layers.Dense(2)]), "regularizers"),
    (dict(optimizer="rmsprop"), "optimizer RMSprop"),
    (dict(optimizer=keras.optimizers.Adam(clipnorm=1.0)), "clipping"),
    (dict(metrics=["accuracy", "mse"]), "metrics"),
])
def test_models_outside_the_engine_use_the_reference_path(extra, reason):
    model = keras.Sequential(extra.get("layers_", [layers.Dense(4), layers.Dense(2, activation="softmax")]))
    model.compile(optimizer=extra.get("optimizer", "adam"), loss="sparse_categorical_crossentropy",
                  metrics=extra.get("metrics", ["accuracy"]))
    model.build((None, 3))
    assert reason in engine_module.why_not(model, model._build_metrics(np.zeros(2, np.int64)), None)
    x = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    model.fit(x, np.arange(10) % 2, verbose=0)  # and it still trains


def test_engine_rejects_bad_arrays():
    from brisknet import _core
    net = _core.Network([(3, 2, 0, 6, _core.Activation.relu, 0.0)], _core.LossKind.sparse_crossentropy,
                        False, False, 1.0, _core.AccuracyKind.sparse)
    params, grads = np.zeros(8, np.float32), np.zeros(8, np.float32)
    x = np.zeros((4, 3), np.float32)
    args = ("sgd", None, None, None, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0, False, 0)
    with pytest.raises(ValueError, match="label 5"):
        net.train_batches(params, grads, *args, x, np.array([0, 1, 5, 0]), None, np.arange(4), 2)
    with pytest.raises(ValueError, match="order: row 4"):
        net.train_batches(params, grads, *args, x, np.zeros(4, np.int64), None, np.arange(5), 2)
    with pytest.raises(ValueError, match="fewer than the layers need"):
        net.train_batches(params[:6], grads[:6], *args, x, np.zeros(4, np.int64), None, np.arange(4), 2)
    with pytest.raises(ValueError, match="features"):
        net.train_batches(params, grads, *args, np.zeros((4, 5), np.float32), np.zeros(4, np.int64), None, np.arange(4), 2)
    losses, correct = net.train_batches(params, grads, *args, x, np.zeros(4, np.int64), None, np.arange(4), 3)
    assert losses.shape == (2,) and correct.shape == (2,)


def test_steady_state_training_allocates_no_workspace():
    """After the first epoch has met every batch size, further epochs grow no kernel or engine
    workspace (the GEMM packing buffers and the per-batch-size step buffers)."""
    from brisknet import _core
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 40)).astype(np.float32)
    y = rng.integers(0, 4, 300)
    model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(4, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    before = _core.workspace_allocations()
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert _core.workspace_allocations() == before


def test_engine_follows_model_changes():
    """Adding a layer or recompiling after a fit gives a fresh engine, never stale offsets."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = keras.Sequential([layers.Dense(8, activation="relu")])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.eye(8, dtype=np.float32)[y], epochs=1, verbose=0)
    first = model._engine
    model.pop()
    model.add(layers.Dense(5, activation="tanh"))
    model.add(layers.Dense(3, activation="softmax"))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=2, verbose=0)
    assert model._engine is not first and np.isfinite(h.history["loss"]).all()


def test_predict_through_the_engine_equals_the_layer_path():
    """predict of a Dense chain runs in one C++ call; it matches the Python layer-by-layer forward
    bit for bit, for every batch size including a partial last batch."""
    rng = np.random.default_rng(8)
    model = keras.Sequential([layers.Flatten(), layers.Dense(30, activation="gelu"), layers.Dense(7, activation="softmax")])
    x = rng.standard_normal((45, 2, 5)).astype(np.float32)
    model.build((None, 2, 5))
    assert engine_module.Inference.applies(model)
    for batch_size in (1, 4, 32, 100):
        fast = model.predict(x, batch_size=batch_size, verbose=0)
        slow = np.concatenate([model._forward(x[s:s + batch_size], training=False).copy()
                               for s in range(0, 45, batch_size)])
        np.testing.assert_array_equal(fast, slow)
    model.add(layers.Dense(2))  # a rebuilt model gets a fresh inference network
    assert model.predict(x, verbose=0).shape == (45, 2)
