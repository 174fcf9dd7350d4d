"""keras.ops and Python's operators on the functional API's symbolic tensors (`x + inputs`,
`ops.mean(x, axis=1)`, `x[:, -1]`): nodes of the model's graph, as in Keras (layers/operation.py).
Checked against numpy and against the same model written with Lambda layers."""
import json

import numpy as np
import pytest

import brisknet as keras
from brisknet import layers, ops


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((12, 5, 4)).astype(np.float32), rng.integers(0, 3, 12)


def test_operators_and_ops_compute_what_numpy_computes():
    keras.utils.set_random_seed(1)
    inputs = keras.Input(shape=(5, 4))
    x = layers.Dense(4, name="dense")(inputs)
    y = 2.0 - (x + inputs) * 0.5
    pooled = ops.mean(y, axis=1)
    joined = ops.concatenate([pooled, -pooled[:, :2], abs(x[:, -1]) ** 2], axis=-1)
    model = keras.Model(inputs, [joined, x / 4.0 @ np.eye(4, dtype=np.float32)])
    assert model.output_shape == [(None, 10), (None, 5, 4)]
    a = _data()[0]
    out, scaled = model.predict(a, verbose=0)
    k, b = model.get_layer("dense").get_weights()
    h = a @ k + b
    p = (2.0 - (h + a) * 0.5).mean(axis=1)
    np.testing.assert_allclose(out, np.concatenate([p, -p[:, :2], h[:, -1] ** 2], -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scaled, h / 4.0, rtol=1e-5, atol=1e-6)


def _residual_model(with_ops):
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape=(5, 4))
    x = layers.Dense(4, activation="tanh", name="dense")(inputs)
    if with_ops:
        x = ops.mean(x * inputs + x, axis=1)
    else:
        x = layers.Lambda(lambda t: t[0] * t[1] + t[0])([x, inputs])
        x = layers.Lambda(lambda t: ops.mean(t, axis=1))(x)
    model = keras.Model(inputs, layers.Dense(3, name="head")(x))
    model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_a_model_with_ops_trains_as_the_same_model_of_lambda_layers():
    a, labels = _data()
    models = [_residual_model(True), _residual_model(False)]
    for m in models:
        m.fit(a, labels, batch_size=4, epochs=2, shuffle=False, verbose=0)
    before = _residual_model(True).get_weights()
    for w_ops, w_lambda, w0 in zip(models[0].get_weights(), models[1].get_weights(), before):
        assert not np.array_equal(w_ops, w0)
        np.testing.assert_allclose(w_ops, w_lambda, rtol=1e-5, atol=1e-6)


def test_two_tensors_of_one_shape_added_or_multiplied_make_merge_layers():
    inputs = keras.Input(shape=(6,))
    x = layers.Dense(6)(inputs)
    assert type((x * inputs).layer).__name__ == "Multiply" and type((x - inputs).layer).__name__ == "Subtract"
    model = keras.Model(inputs, layers.Dense(2)(x + inputs))
    assert type(model.layers[2]).__name__ == "Add"
    model.compile("adam", "mse")
    assert keras.models.engine.why_not(model) is None  # (the engine runs Add)


def test_symbolic_tensors_answer_shape_questions_and_refuse_iteration():
    inputs = keras.Input(shape=(None, 3))
    assert ops.shape(inputs) == (None, None, 3) and ops.ndim(inputs) == 3
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(inputs)
    model = keras.Model(inputs, ops.sum(inputs, axis=1))
    np.testing.assert_allclose(model.predict(np.ones((2, 7, 3), np.float32), verbose=0), np.full((2, 3), 7.0))
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer"]  # (an op is no layer, as in Keras)


def _ops_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape=(5, 4))
    x = layers.Dense(4)(inputs)
    y = ops.mean(x * 0.5 + inputs, axis=1)
    return keras.Model(inputs, ops.concatenate([y[:, :2], -y, 1.0 - y, ops.expand_dims(y[:, 0], -1)], axis=-1))


@pytest.mark.parametrize("ext", ["keras", "brisk"])
def test_op_nodes_are_saved_as_keras_saves_them(tmp_path, ext):
    model = _ops_model()
    config = model.get_config()
    mean = next(e for e in config["layers"] if e["class_name"] == "Mean")
    assert mean["module"] == "keras.src.ops.numpy" and mean["config"] == {"name": mean["name"], "axis": 1}
    keys = [e["inbound_nodes"][0]["args"][1] for e in config["layers"] if e["class_name"] == "GetItem"]
    assert [{"class_name": "__slice__", "config": {"start": None, "stop": None, "step": None}},
            {"class_name": "__slice__", "config": {"start": None, "stop": 2, "step": None}}] in keys
    path = str(tmp_path / f"m.{ext}")
    model.save(path)
    loaded = keras.models.load_model(path)
    x = _data()[0]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_reads_our_op_nodes_and_we_read_its(tmp_path):
    from keras3 import keras_predictions, run_keras
    model = _ops_model()
    x = _data()[0]
    np.testing.assert_allclose(keras_predictions(model, x, tmp_path), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    script = ("import json, sys, keras, numpy as np\n"
              "from keras import layers, ops\n"
              "i = keras.Input((5, 4))\n"
              "y = ops.mean(layers.Dense(4)(i) * 0.5 + i, axis=1, keepdims=False)\n"
              "m = keras.Model(i, ops.concatenate([y[:, :2], -y, 1.0 - y, ops.expand_dims(y[:, 0], -1)], axis=-1))\n"
              "m.save(sys.argv[1] + '/theirs.keras')\n"
              "x = np.linspace(-1, 1, 60, dtype='float32').reshape(3, 5, 4)\n"
              "print(json.dumps(keras.ops.convert_to_numpy(m.predict(x, verbose=0)).tolist()))\n")
    theirs = np.asarray(run_keras(["-c", script, str(tmp_path)], cwd=str(tmp_path)))
    loaded = keras.models.load_model(str(tmp_path / "theirs.keras"))
    x = np.linspace(-1, 1, 60, dtype="float32").reshape(3, 5, 4)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), theirs, rtol=1e-5, atol=1e-6)


def test_a_file_op_that_brisknet_lacks_or_hostile_arguments_are_refused(tmp_path):
    config = _ops_model().get_config()
    mean = next(e for e in config["layers"] if e["class_name"] == "Mean")
    for change, message in ((lambda e: e.update(class_name="NoSuchOp"), "not among brisknet's keras.ops"),
                            (lambda e: e.update(class_name="_Private"), "not among"),
                            (lambda e: e["inbound_nodes"][0]["args"].append({"class_name": "os.system"}),
                             "unknown argument"),
                            (lambda e: e.update(name=None), "has no name"),
                            (lambda e: e.update(class_name="Ones", config={"name": e["name"], "shape": [10 ** 6] * 3},
                                                inbound_nodes=[{"args": [], "kwargs": {}}]), "no tensor")):
        broken = json.loads(json.dumps(config))
        change(next(e for e in broken["layers"] if e["name"] == mean["name"]))
        with pytest.raises(ValueError, match=message):
            keras.Model.from_config(broken)
