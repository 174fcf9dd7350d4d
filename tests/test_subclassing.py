"""Keras' subclassing API: custom layers and Model subclasses traced, differentiated and trained
(their agreement with Keras 3 itself is in keras_programs.py's subclassing_guide)."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers, ops
from brisknet.autodiff import Program, Trace, TracingError, recording


class Linear(layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        y = ops.matmul(inputs, self.w) + self.b
        return ops.relu(y) if self.activation == "relu" else y


class OpsMLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [Linear(32, "relu"), Linear(32, "relu"), Linear(10)]

    def call(self, x):
        for block in self.blocks:
            x = block(x)
        return x


class DenseMLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = layers.Dense(32, activation="relu")
        self.d2 = layers.Dense(32, activation="relu")
        self.d3 = layers.Dense(10)

    def call(self, x):
        return self.d3(self.d2(self.d1(x)))


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12)).astype("float32")
    y = (x[:, :10] + 0.3 * rng.standard_normal((n, 10))).argmax(1)
    return x, y


def _fit(model, x, y, weights, epochs=3):
    model(x[:2])
    model.set_weights(weights)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, verbose=0).history


def test_ops_mlp_dense_mlp_and_sequential_train_alike():
    """The same network three ways (custom layers of ops.matmul + relu, a Model subclass of
    Dense layers, a Sequential) from the same weights: the same losses to float32 round-off."""
    x, y = _data()
    seq = keras.Sequential([keras.Input((12,)), layers.Dense(32, activation="relu"),
                            layers.Dense(32, activation="relu"), layers.Dense(10)])
    weights = seq.get_weights()
    histories = [_fit(m, x, y, weights) for m in (OpsMLP(), DenseMLP(), seq)]
    for h in histories[:2]:
        np.testing.assert_allclose(h["loss"], histories[2]["loss"], rtol=2e-5)
        np.testing.assert_allclose(h["accuracy"], histories[2]["accuracy"], atol=1 / 256 + 1e-9)
    assert histories[0]["loss"][-1] < 0.7 * histories[0]["loss"][0]  # it learns


def test_weights_order_and_paths_follow_tracking():
    model = OpsMLP()
    model(np.zeros((1, 5), np.float32))
    assert [w.shape for w in model.weights] == [(5, 32), (32,), (32, 32), (32,), (32, 10), (10,)]
    assert [w.name for w in model.weights[:2]] == ["kernel", "bias"]
    assert [layer.name for layer in model.layers] == [b.name for b in model.blocks]
    assert model.count_params() == 5 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10


def _composed_gradcheck(layer, x):
    """A custom layer's gradient w.r.t. its variables, traced in float64, against central differences."""
    layer(x.astype(np.float32))  # build
    trace = Trace(True)
    with recording(trace):
        t = trace.input(x)
        out = layer(t)
    program = Program(trace, [out])
    values = {id(v): v.numpy().astype(np.float64) for _, v in program.variables}
    (y,), _ = program.forward([x], True, values)
    w = np.random.default_rng(3).standard_normal(y.shape)
    grads = program.backward([w])
    for _, var in program.variables:
        numeric = np.zeros(var.shape)
        for k in np.ndindex(var.shape):
            for sign in (1, -1):
                moved = {key: a.copy() for key, a in values.items()}
                moved[id(var)][k] += sign * 1e-6
                (v,), _ = program.forward([x], True, moved)
                numeric[k] += sign * np.sum(w * v) / 2e-6
        np.testing.assert_allclose(grads[id(var)], numeric, rtol=1e-6, atol=1e-7, err_msg=var.name)


class Attentionish(layers.Layer):
    """Softmax attention over the features of each sample, a gate and a normalisation: many
    primitives composed."""

    def build(self, input_shape):
        d = input_shape[-1]
        self.q = self.add_weight(shape=(d, d), name="q")
        self.k = self.add_weight(shape=(d, d), name="k")
        self.g = self.add_weight(shape=(d,), initializer="ones", name="g")

    def call(self, x):
        q, k = ops.matmul(x, self.q), ops.matmul(x, self.k)
        scores = ops.einsum("bi,bj->bij", q, k) / np.sqrt(x.shape[-1])
        mixed = ops.sum(ops.softmax(scores, axis=-1) * ops.expand_dims(x, 1), axis=-1)
        gated = mixed * ops.sigmoid(self.g) + ops.tanh(x)[:, ::-1]
        return ops.layer_normalization(gated, self.g) + ops.logsumexp(gated, axis=-1, keepdims=True)


def test_composed_custom_layers_gradients_in_float64():
    x = np.random.default_rng(0).standard_normal((3, 4))
    _composed_gradcheck(Attentionish(), x)
    _composed_gradcheck(Linear(3, "relu"), x + 0.05)


def test_vae_of_the_guide_trains():
    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    class VAE(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.proj = layers.Dense(16, activation="relu")
            self.mean, self.log_var = layers.Dense(4), layers.Dense(4)
            self.sampling = Sampling()
            self.out = layers.Dense(20, activation="sigmoid")

        def call(self, x):
            h = self.proj(x)
            z_mean, z_log_var = self.mean(h), self.log_var(h)
            self.add_loss(-0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1))
            return self.out(self.sampling((z_mean, z_log_var)))

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).random((256, 20)).astype("float32") ** 3
    vae = VAE()
    vae.compile(keras.optimizers.Adam(1e-2), loss="mse")
    history = vae.fit(x, x, epochs=4, batch_size=32, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < 0.7 * history[0]
    assert len(vae.losses) == 1 and len(vae.weights) == 8
    a, b = vae(x[:4], training=True), vae(x[:4], training=True)
    assert not np.array_equal(a, b)  # the noise is drawn anew each time the graph runs


def test_functional_and_sequential_take_custom_layers():
    x, y = _data(64)
    inputs = keras.Input((12,))
    outputs = layers.Dense(10)(Linear(8, "relu")(inputs))
    for model in (keras.Model(inputs, outputs), keras.Sequential([keras.Input((12,)), Linear(8, "relu"),
                                                                   layers.Dense(10)])):
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(x, y, epochs=3, verbose=0).history["loss"]
        assert history[-1] < history[0]


class _Block(layers.Layer):
    """Layers inside a layer, as a Transformer block holds them (a built-in layer reads its input)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.squash = layers.Activation("tanh")
        self.inner = layers.Dense(units, activation="relu")
        self.norm = layers.LayerNormalization()
        self.unused = layers.Dense(3)  # never called: no weights, as in Keras

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(self.units,), initializer="ones")

    def call(self, x):
        return self.norm(self.inner(self.squash(x))) * self.scale + x


def test_custom_layers_holding_layers_train_in_graphs_exactly_as_in_a_subclassed_model():
    class Same(keras.Model):
        def __init__(self):
            super().__init__()
            self.stem, self.first, self.second, self.head = layers.Dense(6), _Block(6), _Block(6), layers.Dense(3)

        def call(self, x):
            return self.head(self.second(self.first(self.stem(x))))

    inputs = keras.Input((5,))
    graph = keras.Model(inputs, layers.Dense(3)(_Block(6)(_Block(6)(layers.Dense(6)(inputs)))))
    stack = keras.Sequential([keras.Input((5,)), layers.Dense(6), _Block(6), _Block(6), layers.Dense(3)])
    reference = Same()
    reference.build((None, 5))
    rng = np.random.default_rng(1)
    weights = [(rng.standard_normal(np.shape(w)) * 0.3).astype(np.float32) for w in reference.get_weights()]
    x, y = rng.standard_normal((32, 5)).astype(np.float32), rng.integers(0, 3, 32)
    for model in (reference, graph, stack):
        assert [w.shape for w in model.get_weights()] == [w.shape for w in weights]
        assert model.count_params() == sum(w.size for w in weights)
        model.set_weights(weights)
        model.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for model in (graph, stack):
        for a, b in zip(model.get_weights(), reference.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert all(not np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))


def test_untraceable_code_names_the_layer_and_the_way_out():
    class Branchy(layers.Layer):
        def call(self, x):
            if ops.sum(x) > 0:
                return x
            return -x

    class Late(layers.Layer):
        def call(self, x):
            self.w = self.add_weight(shape=(1,))
            return x * self.w

    class Mismatch(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(3, 2))

        def call(self, x):
            return ops.matmul(x, self.w)

    class Wrap(keras.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, x):
            return self.inner(x)

    x = np.ones((2, 4), np.float32)
    with pytest.raises(TracingError, match=r"layer 'branchy' \(Branchy\), .*test_subclassing.py line \d+.*ops\.cond"):
        Wrap(Branchy(name="branchy"))(x)
    with pytest.raises(ValueError, match=r"layer 'late'.*add_weight inside call\(\).*build\(\)"):
        Wrap(Late(name="late"))(x)
    with pytest.raises(ValueError, match=r"layer 'mismatch'.*matmul on shapes \[\(1, 4\), \(3, 2\)\]"):
        Wrap(Mismatch(name="mismatch"))(x)
    with pytest.raises(TypeError, match="defines call"):
        type("NoCall", (keras.Model,), {})()


def test_model_classes():
    inputs = keras.Input((3,))
    functional = keras.Model(inputs, layers.Dense(2)(inputs))
    assert isinstance(functional, keras.Model) and isinstance(OpsMLP(), keras.Model)
    assert type(functional).__name__ == "Functional"


def test_weights_files_of_a_subclassed_model_move_between_keras_and_brisknet(tmp_path):
    """.weights.h5 paths as Keras 3 writes them for a subclassed model: a file Keras saved loads
    in brisknet with Keras' predictions, and one brisknet saved loads in Keras with brisknet's."""
    import json
    import os
    import subprocess
    import sys
    from keras3 import run_keras
    pytest.importorskip("h5py")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_subclassed_weights.py")

    def ours(mode, path):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        res = subprocess.run([sys.executable, script, "brisknet", mode, str(path)], capture_output=True, text=True,
                             env=env, timeout=300)
        assert res.returncode == 0, res.stderr[-3000:]
        return json.loads(res.stdout.strip().splitlines()[-1])
    theirs = run_keras([script, "keras", "save", str(tmp_path / "keras.weights.h5")], cwd=str(tmp_path))
    loaded = ours("load", tmp_path / "keras.weights.h5")
    assert loaded["shapes"] == theirs["shapes"]  # get_weights() in Keras' order
    np.testing.assert_allclose(loaded["predict"], theirs["predict"], rtol=1e-5, atol=1e-6)
    saved = ours("save", tmp_path / "brisknet.weights.h5")
    back = run_keras([script, "keras", "load", str(tmp_path / "brisknet.weights.h5")], cwd=str(tmp_path))
    np.testing.assert_allclose(back["predict"], saved["predict"], rtol=1e-5, atol=1e-6)
    assert not np.allclose(saved["predict"], theirs["predict"])  # (two different sets of weights)


def _run_ours(script, *args):
    import json
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    res = subprocess.run([sys.executable, script, "brisknet", *map(str, args)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_keras_archives_of_registered_subclassed_models_move_between_keras_and_brisknet(tmp_path):
    """A registered Model subclass (its get_config arguments, build shape and weights) and a
    Sequential holding a registered custom layer: what each library saves, the other loads and
    predicts alike."""
    import os
    from keras3 import run_keras
    pytest.importorskip("h5py")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_subclassed_archive.py")
    ours = _run_ours(script, "save", tmp_path)
    theirs = run_keras([script, "keras", "save", str(tmp_path)], cwd=str(tmp_path))
    ours_loaded = _run_ours(script, "load", tmp_path)
    theirs_loaded = run_keras([script, "keras", "load", str(tmp_path)], cwd=str(tmp_path))
    for mine, other in ((ours, theirs_loaded), (theirs, ours_loaded)):
        assert other["class"] == "Net" and other["hidden"] == 5
        for key in ("net", "seq"):
            np.testing.assert_allclose(other[key], mine[key], rtol=1e-5, atol=1e-6)


def test_saving_and_loading_user_classes_within_brisknet(tmp_path):
    """Registered, given as custom_objects, or neither (a clear error naming the class); a Lambda
    is refused; the auto-captured config of plain __init__ arguments; an argument that is not
    plain data asks for get_config."""
    class Doubler(layers.Layer):  # not registered
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    class Small(keras.Model):
        def __init__(self, width, **kwargs):
            super().__init__(**kwargs)
            self.double, self.dense = Doubler(factor=3.0), layers.Dense(width)

        def call(self, x):
            return self.dense(self.double(x))

    model = Small(4, name="small")
    assert model.get_config() == {"name": "small", "trainable": True, "width": 4}
    model.compile("adam", "mse")
    model.fit(np.ones((8, 3), np.float32), np.zeros((8, 4), np.float32), verbose=0)
    model.save(tmp_path / "small.keras")
    with pytest.raises(ValueError, match="'Small' is not Sequential, Functional or registered.*custom_objects"):
        keras.saving.load_model(tmp_path / "small.keras")
    back = keras.saving.load_model(tmp_path / "small.keras", custom_objects={"Small": Small, "Doubler": Doubler})
    assert isinstance(back, Small) and back.double.factor == 3.0
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    assert back.optimizer.iterations == model.optimizer.iterations == 1

    seq = keras.Sequential([keras.Input((3,)), Doubler(), layers.Dense(2)])
    seq.save(tmp_path / "seq.keras")
    with pytest.raises(ValueError, match="'Doubler' is not supported by brisknet.*nor registered"):
        keras.saving.load_model(tmp_path / "seq.keras")
    keras.saving.register_keras_serializable(package="tests")(Doubler)
    assert keras.saving.get_registered_name(Doubler) == "tests>Doubler"
    seq.save(tmp_path / "seq.keras")  # (the file names the class by its registered name now)
    back = keras.saving.load_model(tmp_path / "seq.keras")
    np.testing.assert_array_equal(back.predict(x, verbose=0), seq.predict(x, verbose=0))

    class Holds(layers.Layer):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, x):
            return self.inner(x)
    with pytest.raises(NotImplementedError, match="define get_config"):
        Holds(layers.Dense(2)).get_config()


@keras.saving.register_keras_serializable(package="brisknet_tests")
class Gate(layers.Layer):
    def build(self, input_shape):
        self.g = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, x):
        return x * ops.sigmoid(self.g)


@keras.saving.register_keras_serializable(package="brisknet_tests")
class GatedNet(keras.Model):
    def __init__(self, width=6, **kwargs):
        super().__init__(**kwargs)
        self.dense, self.gate, self.out = layers.Dense(width, activation="relu"), Gate(), layers.Dense(3)

    def call(self, x):
        return self.out(self.gate(self.dense(x)))


@pytest.mark.parametrize("suffix", [".brisk", ".keras"])
def test_a_registered_subclassed_model_saves_and_resumes_training(tmp_path, suffix):
    """Saved mid-training and loaded: the same class, weights and optimizer state, so that the
    next epoch gives what it gives without the round trip (and a Sequential holding a registered
    layer likewise)."""
    x, y = _data(64)
    y = y % 3

    def fresh():
        model = GatedNet(width=5)
        model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model
    model = fresh()
    model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    model.save(tmp_path / f"gated{suffix}")
    back = keras.saving.load_model(tmp_path / f"gated{suffix}")
    assert isinstance(back, GatedNet) and back.dense.units == 5
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    again = [m.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0).history["loss"] for m in (model, back)]
    np.testing.assert_allclose(again[0], again[1], rtol=1e-6)
    assert keras.models.model_from_json(model.to_json()).get_config() == model.get_config()

    seq = keras.Sequential([keras.Input((12,)), Gate(), layers.Dense(2)])
    seq.save(tmp_path / f"seq{suffix}")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / f"seq{suffix}").predict(x, verbose=0),
                                  seq.predict(x, verbose=0))


def test_lambda_layers_train_through_the_traced_graph_and_are_never_saved(tmp_path):
    class HalfSquare(layers.Layer):
        def call(self, x):
            return ops.square(x) * 0.5

    def model(middle):
        return keras.Sequential([keras.Input((4,)), layers.Dense(8), middle, layers.Dense(2)])
    x = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    y = np.random.default_rng(1).standard_normal((32, 2)).astype(np.float32)
    with_lambda = model(layers.Lambda(lambda t, scale: ops.square(t) * scale, arguments={"scale": 0.5}))
    with_layer = model(HalfSquare())
    with_layer.set_weights(with_lambda.get_weights())
    losses = []
    for m in (with_lambda, with_layer):
        m.compile("adam", "mse")
        losses.append(m.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_array_equal(losses[0], losses[1])
    assert layers.Lambda(lambda t: t[:, :3]).compute_output_shape((None, 5)) == (None, 3)
    with pytest.raises(ValueError, match="Lambda"):
        with_lambda.save(tmp_path / "m.keras")
    with pytest.raises(NotImplementedError, match="Lambda"):
        with_lambda.save(tmp_path / "m.brisk")
    assert not (tmp_path / "m.keras").exists() and not (tmp_path / "m.brisk").exists()


def test_compute_loss_of_ones_own_errors():
    class OneDense(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(1)

        def call(self, x):
            return self.d(x)

    class PerSample(OneDense):
        def compute_loss(self, x, y, y_pred, sample_weight):
            return ops.square(y_pred - y)  # not reduced to a scalar

    class CallsSuper(OneDense):
        def compute_loss(self, x, y, y_pred, sample_weight):
            return super().compute_loss(x, y, y_pred, sample_weight) * 2

    x, y = np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)
    model = PerSample()
    model.compile("sgd")  # no compiled loss: compute_loss is the loss
    with pytest.raises(ValueError, match="compute_loss\\(\\) must return a float scalar"):
        model.fit(x, y, verbose=0)
    model = CallsSuper()
    model.compile("sgd", "mse")
    with pytest.raises(NotImplementedError, match="super\\(\\).compute_loss"):
        model.fit(x, y, verbose=0)
    model = DenseMLP()
    model.compile("sgd")
    with pytest.raises(ValueError, match="compiled without a loss"):
        model.fit(x, np.zeros(4), verbose=0)


def test_model_from_config_takes_custom_objects():
    class Halve(layers.Layer):
        def call(self, x):
            return x * 0.5

    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(2)(Halve()(inputs)))
    with pytest.raises(ValueError, match="unknown layer class 'Halve'.*custom_objects"):
        keras.Model.from_config(model.get_config())
    again = keras.Model.from_config(model.get_config(), custom_objects={"Halve": Halve})
    assert [type(layer).__name__ for layer in again.layers] == ["InputLayer", "Halve", "Dense"]


def test_a_custom_regularizer_written_with_ops_gets_its_exact_gradient():
    """The Keras guide's custom regularizer (strength * sum(w^2)) trains as L2(strength) does:
    its __call__ traced and differentiated; one that cannot be traced says how to fix it."""
    class MyRegularizer(keras.regularizers.Regularizer):
        def __init__(self, strength):
            self.strength = strength

        def __call__(self, x):
            return self.strength * ops.sum(ops.square(x))

    class NumpyRegularizer(keras.regularizers.Regularizer):
        def __init__(self):
            pass

        def __call__(self, x):
            return float(np.sum(np.abs(x)))

    x, y = _data(64)
    histories = []
    for reg in (MyRegularizer(0.05), keras.regularizers.L2(0.05)):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((12,)), layers.Dense(8, kernel_regularizer=reg), layers.Dense(10)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), run_eagerly=True)
        histories.append(model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)
    model = keras.Sequential([keras.Input((12,)), layers.Dense(8, kernel_regularizer=NumpyRegularizer())])
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="write it with keras.ops, or define add_gradient"):
        model.fit(x, np.zeros((64, 8), np.float32), verbose=0)


def test_a_subclassed_model_with_dropout_resumes_from_a_brisk_file_bit_for_bit(tmp_path):
    """A Dropout held by a subclassed model keeps its mask counter in the file (as a Sequential's):
    one epoch, save, load, one more epoch gives the two epochs' weights exactly."""
    @keras.saving.register_keras_serializable(package="brisknet_tests")
    class Dropped(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden, self.drop, self.out = layers.Dense(16, activation="relu"), layers.Dropout(0.5), layers.Dense(3)

        def call(self, x, training=False):
            return self.out(self.drop(self.hidden(x), training=training))

    x, y = _data(64)
    y = y % 3

    def fresh():
        keras.utils.set_random_seed(5)
        model = Dropped()
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model
    straight = fresh()
    straight.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    first = fresh()
    first.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    first.save(tmp_path / "half.brisk")
    resumed = keras.saving.load_model(tmp_path / "half.brisk")
    resumed.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
