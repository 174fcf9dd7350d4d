"""Sizes known only at run time: keras.Input(shape=(None, ...)) (a sequence's length). The layers
take each run's sizes with the same weights; the results are checked against numpy."""
import os

import numpy as np
import pytest

import brisknet as keras
from brisknet import layers, ops


def _sequence_model(kind):
    """Dense on every step, the mean over steps, a softmax: as a functional model or a Sequential."""
    keras.utils.set_random_seed(3)
    stack = [layers.Dense(5, activation="tanh", name="steps"), layers.GlobalAveragePooling1D(name="mean"),
             layers.Dense(4, activation="softmax", name="classes")]
    if kind == "sequential":
        return keras.Sequential([keras.Input(shape=(None, 3))] + stack)
    inp = x = keras.Input(shape=(None, 3))
    for layer in stack:
        x = layer(x)
    return keras.Model(inp, x)


def _numpy_forward(model, x):
    (k1, b1), (k2, b2) = model.get_layer("steps").get_weights(), model.get_layer("classes").get_weights()
    h = np.tanh(x @ k1 + b1).mean(axis=1) @ k2 + b2
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_a_model_of_unknown_length_predicts_and_trains_at_every_length(kind):
    model = _sequence_model(kind)
    assert model.input_shape == (None, None, 3) and model.output_shape == (None, 4)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, None, 5)" in lines[0]
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    for steps in (7, 2, 7, 11):
        x = rng.standard_normal((24, steps, 3)).astype(np.float32)
        np.testing.assert_allclose(model.predict(x, verbose=0), _numpy_forward(model, x), rtol=1e-5, atol=1e-6)
        before = model.get_weights()
        model.fit(x, rng.integers(0, 4, 24), batch_size=8, epochs=1, verbose=0)
        assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match=r"samples of shape \(7, 2\).*\(None, 3\)"):
        model.predict(np.zeros((2, 7, 2), np.float32), verbose=0)


def test_the_engine_plans_again_for_each_length_and_agrees_with_the_python_path():
    def make(eager):
        keras.utils.set_random_seed(5)
        inp = keras.Input(shape=(None, 6))
        out = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling1D()(inp))
        m = keras.Model(inp, out)
        m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", run_eagerly=eager)
        return m
    engine, python = make(False), make(True)
    assert keras.models.engine.why_not(engine) is None
    rng = np.random.default_rng(1)
    for steps in (4, 9, 4):
        x = rng.standard_normal((32, steps, 6)).astype(np.float32)
        y = rng.integers(0, 3, 32)
        for m in (engine, python):
            m.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
        for a, b in zip(engine.get_weights(), python.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(engine.predict(x, verbose=0), python.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ext", ["keras", "brisk"])
@pytest.mark.parametrize("kind", ["functional", "sequential"])
def test_files_keep_the_unknown_sizes(tmp_path, ext, kind):
    model = _sequence_model(kind)
    path = os.path.join(tmp_path, "m." + ext)
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.input_shape == (None, None, 3)
    x = np.random.default_rng(2).standard_normal((3, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_model_of_several_outputs_takes_each_length():
    """The miniature GPT example's form with Input(shape=(None,)): model(inputs, [logits, x]) with
    loss=[loss, None]; it is causal, so a prompt's logits are the first positions of a longer one's."""
    keras.utils.set_random_seed(4)
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(20, 8)(inputs)
    x = layers.LayerNormalization()(x + layers.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True))
    model = keras.Model(inputs, [layers.Dense(20, name="logits")(x), x])
    model.compile("adam", loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True), None])
    assert model.output_shape == [(None, None, 20), (None, None, 8)]
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 20, (16, 10))
    for steps in (9, 5):
        before = model.get_weights()
        model.fit(tokens[:, :steps], tokens[:, 1:steps + 1], batch_size=8, epochs=1, verbose=0)
        assert not np.array_equal(before[0], model.get_weights()[0])
    prompt = tokens[:1]
    full_logits, full_x = model.predict(prompt, verbose=0)
    assert full_logits.shape == (1, 10, 20) and full_x.shape == (1, 10, 8)
    for steps in (1, 4, 7):
        logits, x = model.predict(prompt[:, :steps], verbose=0)
        assert logits.shape == (1, steps, 20) and x.shape == (1, steps, 8)
        np.testing.assert_allclose(logits, full_logits[:, :steps], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(x, full_x[:, :steps], rtol=1e-4, atol=1e-5)
    loss = model.evaluate(tokens[:, :6], tokens[:, 1:7], verbose=0)
    assert np.isfinite(loss)


def test_several_inputs_of_unknown_lengths_train_validate_and_predict_at_any_lengths():
    """Each packed row carries its inputs' lengths: a validation set of other lengths whose total
    size equals the training set's ((4, 3) + (2, 2) and (2, 3) + (5, 2): 16 values) unpacks right."""
    keras.utils.set_random_seed(6)
    a, b = keras.Input(shape=(None, 3)), keras.Input(shape=(None, 2))
    pooled = layers.Concatenate()([layers.GlobalAveragePooling1D()(a), layers.GlobalMaxPooling1D()(b)])
    model = keras.Model([a, b], layers.Dense(2, name="head")(pooled))
    assert model.input_shape == [(None, None, 3), (None, None, 2)]
    model.compile(keras.optimizers.SGD(0.1), "mse")

    def numpy_forward(xa, xb):
        k, bias = model.get_layer("head").get_weights()
        return np.concatenate([xa.mean(axis=1), xb.max(axis=1)], axis=1) @ k + bias
    rng = np.random.default_rng(0)
    train = [rng.standard_normal((8, 4, 3)).astype(np.float32), rng.standard_normal((8, 2, 2)).astype(np.float32)]
    val = [rng.standard_normal((8, 2, 3)).astype(np.float32), rng.standard_normal((8, 5, 2)).astype(np.float32)]
    y, y_val = rng.standard_normal((8, 2)), rng.standard_normal((8, 2))
    history = model.fit(train, y, validation_data=(val, y_val), batch_size=4, epochs=2, shuffle=False, verbose=0)
    want = ((numpy_forward(*val) - y_val) ** 2).mean()
    np.testing.assert_allclose(history.history["val_loss"][-1], want, rtol=1e-5)
    for la, lb in ((1, 7), (6, 1), (4, 2)):
        xa, xb = train[0][:, :1].repeat(la, axis=1), val[1][:, :1].repeat(lb, axis=1)
        np.testing.assert_allclose(model.predict([xa, xb], verbose=0), numpy_forward(xa, xb), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"samples of shape \(4, 2\).*\(None, 3\)"):
        model.predict([train[1][:, :, :2].repeat(2, axis=1), train[1]], verbose=0)


def test_weights_that_would_depend_on_an_unknown_size_are_refused_naming_the_layer():
    with pytest.raises(ValueError, match="'head'.*unknown"):
        layers.Dense(2, name="head")(layers.Flatten()(keras.Input(shape=(None, 3))))
    with pytest.raises(ValueError, match="'head'.*unknown"):
        keras.Sequential([keras.Input(shape=(None, 3)), layers.Flatten(), layers.Dense(2, name="head")])
    with pytest.raises(ValueError, match="positive ints"):
        keras.Input(shape=(0, 3))


def test_a_subclassed_model_takes_each_length_it_is_called_on():
    class MeanOfSteps(keras.Model):
        def __init__(self):
            super().__init__()
            self.steps = layers.Dense(5, activation="tanh", name="steps")
            self.classes = layers.Dense(4, activation="softmax", name="classes")

        def call(self, x):
            return self.classes(ops.mean(self.steps(x), axis=1))

    keras.utils.set_random_seed(4)
    model = MeanOfSteps()
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(3)
    for steps in (6, 3, 6):
        x = rng.standard_normal((16, steps, 3)).astype(np.float32)
        model.fit(x, rng.integers(0, 4, 16), batch_size=8, verbose=0)
        np.testing.assert_allclose(model.predict(x, verbose=0), _numpy_forward(model, x), rtol=1e-5, atol=1e-6)


def test_onnx_export_names_the_unknown_sizes():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    model = _sequence_model("sequential")
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"unknown_dims_{os.getpid()}.onnx")
    try:
        keras.onnx_export.export_onnx(model, path)
        session = ort.InferenceSession(path)
        for steps in (2, 9):
            x = np.random.default_rng(steps).standard_normal((3, steps, 3)).astype(np.float32)
            got = session.run(None, {session.get_inputs()[0].name: x})[0]
            np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    finally:
        if os.path.exists(path):
            os.remove(path)
