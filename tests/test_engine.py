"""The C++ engine (models/engine.py) against the Python reference path: same seed, same data,
bit-identical weights and history, for every loss/optimizer/metric the engine covers."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers
from brisknet.models import engine as engine_module


def train(build, x, y, eager, **fit_kw):
    """Fits a fresh model from the same seed: on the Python reference path (eager, chosen with
    compile(run_eagerly=True), as Keras) or in the engine. Returns the weights and history."""
    keras.utils.set_random_seed(42)
    model = build(eager)
    h = model.fit(x, y, verbose=0, **fit_kw)
    assert (getattr(model, "_training_engine", None) is None) == eager  # the path we meant ran
    return model.get_weights(), h.history


def compiled(layer_list, compile_kw):
    def build(eager):
        model = keras.Sequential(layer_list())
        model.compile(**compile_kw(), run_eagerly=eager)  # fresh optimizer objects for every run
        return model
    return build


def assert_same_training(build, x, y, **fit_kw):
    w_ref, h_ref = train(build, x, y, True, **fit_kw)
    w_fast, h_fast = train(build, x, y, False, **fit_kw)
    assert h_fast == h_ref
    for a, b in zip(w_fast, w_ref):
        np.testing.assert_array_equal(a, b)


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
    "dropout": (
        lambda: [layers.Dense(32, activation="relu"), layers.Dropout(0.3), layers.Dense(16, activation="tanh"),
                 layers.Dropout(0.2), layers.Dense(5, activation="softmax")],
        lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]), "sparse"),
    # activation layers, the softmax one folded into the loss
    "activation-layers": (
        lambda: [layers.Dense(16), layers.LeakyReLU(), layers.Dense(5), layers.Softmax()],
        lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]), "sparse"),
    "regularizers": (
        lambda: [layers.Dense(16, activation="relu", kernel_regularizer="l2", bias_regularizer="l1"),
                 layers.Dense(5, activation="softmax", kernel_regularizer=keras.regularizers.l1_l2(0.01, 0.02))],
        lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]), "sparse"),
    "frozen-layer": (
        lambda: [layers.Dense(16, activation="relu", trainable=False), layers.Dense(5, activation="softmax")],
        lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy"), "sparse"),
    "several-metrics": (
        lambda: [layers.Dense(16, activation="relu"), layers.Dense(5, activation="softmax")],
        lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                     metrics=["accuracy", "sparse_top_k_categorical_accuracy", keras.metrics.SparseCategoricalCrossentropy()],
                     weighted_metrics=["accuracy"]), "sparse"),
    # the preprocessing layers, as per-feature affine maps
    "normalization-rescaling": (
        lambda: [layers.Normalization(mean=np.linspace(-1, 1, 12), variance=np.linspace(0.5, 2, 12)),
                 layers.Dense(16, activation="relu"), layers.Rescaling(0.5, offset=0.25),
                 layers.Normalization(mean=0.1, variance=3.0, invert=True), layers.Dense(3)],
        lambda: dict(optimizer="adam", loss="mse", metrics=["mae"]), "regression"),
    "schedule": (
        lambda: [layers.Dense(16, activation="relu"), layers.Dense(5, activation="softmax")],
        lambda: dict(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 5, 0.5)),
                     loss="sparse_categorical_crossentropy"), "sparse"),
}

OPTIMIZERS = {
    "sgd-decay": lambda: keras.optimizers.SGD(0.05, momentum=0.9, weight_decay=0.01),
    "adam": lambda: keras.optimizers.Adam(0.01),
    "rmsprop": lambda: keras.optimizers.RMSprop(0.01),
    "rmsprop-centered-momentum": lambda: keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: keras.optimizers.Adagrad(0.05),
    "adamax": lambda: keras.optimizers.Adamax(0.01),
    "nadam": lambda: keras.optimizers.Nadam(0.01),
    "adadelta": lambda: keras.optimizers.Adadelta(1.0),
    "lion": lambda: keras.optimizers.Lion(0.001, weight_decay=0.1),
    "clipvalue": lambda: keras.optimizers.Adam(0.01, clipvalue=0.01),
    "clipnorm": lambda: keras.optimizers.Adam(0.01, clipnorm=0.05),
    "global_clipnorm": lambda: keras.optimizers.RMSprop(0.01, global_clipnorm=0.1),
}


def targets(kind, rng, n):
    labels = rng.integers(0, 5, n)
    return {"sparse": labels, "onehot": np.eye(5, dtype=np.float32)[labels],
            "binary": (labels > 2).astype(np.float32),
            "regression": rng.standard_normal((n, 3)).astype(np.float32)}[kind]


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_is_bit_identical_to_reference_path(case):
    layer_list, compile_kw, kind = CASES[case]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((203, 12)).astype(np.float32)  # 203: a partial last batch
    y = targets(kind, rng, 203)
    assert_same_training(compiled(layer_list, compile_kw), x, y, epochs=3, batch_size=16, validation_split=0.1)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_and_clipping_mode_is_bit_identical(name):
    """Each optimizer rule and clipping mode; with a frozen layer and an L2 penalty, so that the
    trainable spans and the penalty's gradient come before the clipping and the update."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((150, 10)).astype(np.float32)
    y = rng.integers(0, 4, 150)
    build = compiled(lambda: [layers.Dense(12, activation="tanh", kernel_regularizer="l2"),
                              layers.Dense(8, activation="relu", trainable=False),
                              layers.Dense(4, activation="softmax")],
                     lambda: dict(optimizer=OPTIMIZERS[name](), loss="sparse_categorical_crossentropy",
                                  metrics=["accuracy"]))
    assert_same_training(build, x, y, epochs=2, batch_size=32)


@pytest.mark.parametrize("weights", ["sample", "class"])
def test_sample_and_class_weights_are_bit_identical(weights):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((130, 6)).astype(np.float32)
    y = rng.integers(0, 3, 130)
    fit_kw = ({"sample_weight": rng.uniform(0, 2, 130).astype(np.float32)} if weights == "sample"
              else {"class_weight": {0: 0.5, 1: 2.0, 2: 1.0}})
    build = compiled(lambda: [layers.Dense(10, activation="relu"), layers.Dense(3, activation="softmax")],
                     lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                                  weighted_metrics=["accuracy"]))
    assert_same_training(build, x, y, epochs=2, batch_size=16, **fit_kw)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "lion"])
def test_the_reduce_phase_gives_the_fused_step_its_result(optimizer):
    """With a reduce hook the step runs its phases one after another (the complete gradient,
    then the hook, then the update); an identity hook must give the fused step's weights
    exactly, and the hook sees each step's whole gradient buffer."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((96, 8)).astype(np.float32)
    y = rng.integers(0, 3, 96)
    results, seen = [], []
    for reduce in (None, lambda g: seen.append(float(np.abs(g).sum()))):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([layers.Dense(9, activation="relu", kernel_regularizer="l1"), layers.Dropout(0.2),
                                  layers.Dense(3, activation="softmax")])
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        model.build((None, 8))
        losses, pred = model._engine().train(x, y, None, np.arange(96), 32, reduce=reduce)
        results.append((losses, pred, model.get_weights()))
    assert len(seen) == 3 and all(s > 0 for s in seen)
    for a, b in zip(results[0][2], results[1][2]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("features", [1, 3, 700])
def test_engine_updates_every_weight_whatever_the_gemm_path(features):
    """The optimizer update runs inside the weight-gradient GEMM (per finished block of rows): for
    an input of <= 4 features that GEMM takes its few-rows path, for 700 it spans two k blocks
    at batch 600 (> kc), and every weight must still be updated exactly once."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1300, features)).astype(np.float32)
    y = rng.integers(0, 3, 1300)
    build = compiled(lambda: [layers.Dense(9, activation="relu"), layers.Dense(3, activation="softmax")],
                     lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]))
    assert_same_training(build, x, y, epochs=2, batch_size=600)


def test_flatten_and_batch_callbacks_take_the_engine_a_batch_at_a_time():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((70, 3, 4)).astype(np.float32)
    y = rng.integers(0, 3, 70)
    seen = []

    class Batches(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, round(logs["loss"], 6)))

    build = compiled(lambda: [layers.Flatten(), layers.Dense(10, activation="relu"), layers.Dense(3, activation="softmax")],
                     lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]))
    ref = train(build, x, y, True, epochs=2, batch_size=8, callbacks=[Batches()])
    ref_seen, seen[:] = list(seen), []
    fast = train(build, x, y, False, epochs=2, batch_size=8, callbacks=[Batches()])
    assert fast[1] == ref[1] and seen == ref_seen and len(seen) == 2 * 9
    for a, b in zip(fast[0], ref[0]):
        np.testing.assert_array_equal(a, b)


class Scaled(keras.layers.Layer):
    """A user's layer: forward and backward in numpy, so the Python path trains it."""
    def forward(self, x, training):
        return x * 2

    def backward(self, dy, need_dx):
        return dy * 2


class Doubled(keras.regularizers.Regularizer):
    def __call__(self, w):
        return 2 * super().__call__(w)


class NumpySGD(keras.optimizers.Optimizer):
    def _update(self, params, grads, lr, step):
        params -= np.float32(lr) * grads


@pytest.mark.parametrize("extra,reason", [
    (dict(layers_=[layers.Dense(4), Scaled(), layers.Dense(2)]), "layer Scaled"),
    (dict(layers_=[layers.Dense(4, kernel_regularizer=Doubled()), layers.Dense(2)]), "Dense"),
    (dict(optimizer=NumpySGD()), "written in numpy"),
    (dict(loss=lambda y_true, y_pred: keras.ops.mean(keras.ops.square(y_pred), axis=-1)), "computed in Python"),
    (dict(run_eagerly=True), "run_eagerly"),
])
def test_models_outside_the_engine_use_the_reference_path(extra, reason):
    model = keras.Sequential(extra.get("layers_", [layers.Dense(4), layers.Dense(2, activation="softmax")]))
    model.compile(optimizer=extra.get("optimizer", "adam"), loss=extra.get("loss", "sparse_categorical_crossentropy"),
                  metrics=["accuracy"], run_eagerly=extra.get("run_eagerly", False))
    model.build((None, 3))
    assert reason in engine_module.why_not(model)
    x = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    model.fit(x, np.arange(10) % 2, verbose=0)  # and it still trains
    assert getattr(model, "_training_engine", None) is None


def test_engine_rejects_bad_arrays():
    from brisknet import _core
    spec = _core.LayerSpec()
    spec.kind, spec.inputs, spec.outputs, spec.kernel_offset, spec.bias_offset = _core.LayerKind.dense, 3, 2, 0, 6
    spec.activation = _core.Activation.relu
    net = _core.Network([spec], _core.LossSpec(_core.LossKind.sparse_categorical_crossentropy))
    params, grads = np.zeros(8, np.float32), np.zeros(8, np.float32)
    x = np.zeros((4, 3), np.float32)
    opt = _core.OptimizerSpec()
    no_dropout = np.zeros(0, np.int64)

    def run(params=params, grads=grads, x=x, labels=np.zeros(4, np.int64), order=np.arange(4), batch=2, state=()):
        return net.train(params, grads, opt, list(state), 0.1, x, labels, None, None, order, batch, no_dropout)
    with pytest.raises(ValueError, match="label 5"):
        run(labels=np.array([0, 1, 5, 0]))
    with pytest.raises(ValueError, match="order: row 4"):
        run(order=np.arange(5))
    with pytest.raises(ValueError, match="outside the 6 parameters"):
        run(params=params[:6], grads=grads[:6])
    with pytest.raises(ValueError, match="features"):
        run(x=np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="optimizer state 0"):
        opt.momentum = 0.9  # SGD with momentum needs its velocity
        run()
    opt.momentum = 0.0
    with pytest.raises(ValueError, match="layer 1: takes 3 features"):
        _core.Network([spec, spec], _core.LossSpec(_core.LossKind.mean_squared_error))
    losses, pred = run(batch=3)
    assert losses.shape == (2,) and pred.shape == (4, 2) and opt.iterations == 2


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
    first = model._training_engine
    model.pop()
    model.add(layers.Dense(5, activation="tanh"))
    model.add(layers.Dense(3, activation="softmax"))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, y, epochs=2, verbose=0)
    assert model._training_engine is not first and np.isfinite(h.history["loss"]).all()
    model.layers[0].trainable = False  # freezing a layer changes what the engine updates
    model.fit(x, y, epochs=1, verbose=0)
    assert model._training_engine.net.trainable == [(35, 15), (50, 3)]  # the second layer only


def test_predict_through_the_engine_equals_the_layer_path():
    """predict of a Dense chain runs in one C++ call; it matches the Python layer-by-layer forward
    bit for bit, for every batch size including a partial last batch."""
    rng = np.random.default_rng(8)
    model = keras.Sequential([layers.Flatten(), layers.Dense(30, activation="gelu"), layers.Dense(7, activation="softmax")])
    x = rng.standard_normal((45, 2, 5)).astype(np.float32)
    model.build((None, 2, 5))
    assert engine_module.layer_specs(model)[1] is None
    for batch_size in (1, 4, 32, 100):
        fast = model.predict(x, batch_size=batch_size, verbose=0)
        slow = np.concatenate([model._forward(x[s:s + batch_size], training=False).copy()
                               for s in range(0, 45, batch_size)])
        np.testing.assert_array_equal(fast, slow)
    model.add(layers.Dense(2))  # a rebuilt model gets a fresh inference network
    assert model.predict(x, verbose=0).shape == (45, 2)


def test_weights_reach_the_host_through_the_parameter_store(tmp_path):
    """The device seam: whatever reads the weights on the host asks the engine's ParameterStore
    first, and whatever writes them brings the host up to date first (the optimizer's state too)
    and tells it after (no-ops on the CPU; a GPU engine copies there: tests/test_cuda_host.py)."""
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((40, 5)).astype(np.float32), rng.integers(0, 3, 40)
    model = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    calls = []

    class Counting(engine_module.ParameterStore):
        def to_host(self):
            calls.append("to_host")

        def from_host(self):
            calls.append("from_host")
    model._training_engine.parameters.__class__ = Counting
    def after(action):
        calls.clear()
        action()
        return set(calls)
    weights = []
    assert after(lambda: weights.extend(model.get_weights())) == {"to_host"}
    assert after(lambda: model.set_weights(weights)) == {"to_host", "from_host"}
    assert after(lambda: model.layers[0].kernel.assign(weights[0])) == {"to_host", "from_host"}
    assert after(lambda: model.layers[1].bias.numpy()) == {"to_host"}
    assert after(lambda: model.save(tmp_path / "m.brisk")) == {"to_host"}
    assert "from_host" in after(lambda: model.load_weights(tmp_path / "m.brisk"))
    model.fit(x, y, epochs=1, verbose=0)  # the same engine trains on
    assert isinstance(model._training_engine.parameters, Counting)


def test_datasets_and_generators_train_in_the_engine_bit_identically():
    """fit on a keras.utils.PyDataset (batches of its own sizes, the last one short) runs each
    batch through the engine, with the reference path's weights and history."""
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal((70, 6)).astype(np.float32), rng.integers(0, 3, 70)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]

    build = compiled(lambda: [layers.Dense(8, activation="relu"), layers.Dropout(0.25), layers.Dense(3, activation="softmax")],
                     lambda: dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]))
    assert_same_training(build, Batches(), None, epochs=2)
