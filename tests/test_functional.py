"""keras.Model(inputs, outputs), the functional API: a chain of layers from keras.Input is trained
by the same engine as a Sequential, bit for bit; graphs (tests/test_graph_layers.py,
test_graph_engine.py), several inputs and outputs, configs and files, bad input."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers


def test_the_functional_reference_model_is_the_sequential_one_bit_for_bit():
    rng = np.random.default_rng(0)
    x, y = rng.random((256, 784), dtype=np.float32), rng.integers(0, 10, 256)
    results = []
    for functional in (True, False):
        keras.utils.set_random_seed(3)
        if functional:
            inputs = keras.Input(shape=(784,))
            h = layers.Dense(1000, activation="relu")(inputs)
            h = layers.Dropout(0.1)(h)
            h = layers.Dense(1000, activation="relu")(h)
            model = keras.Model(inputs=inputs, outputs=layers.Dense(10, activation="softmax")(h))
        else:
            model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(1000, activation="relu"),
                                      layers.Dropout(0.1), layers.Dense(1000, activation="relu"),
                                      layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
        results.append((model.get_weights(), history.history, model.predict(x[:7], verbose=0)))
    (w_f, h_f, p_f), (w_s, h_s, p_s) = results
    for a, b in zip(w_f, w_s):
        np.testing.assert_array_equal(a, b)
    assert h_f == h_s
    np.testing.assert_array_equal(p_f, p_s)


def test_symbolic_tensors_carry_keras_shapes_and_the_model_its_name():
    inputs = keras.Input(shape=(4, 3), name="pixels")
    flat = layers.Flatten()(inputs)
    out = layers.Dense(5)(flat)
    assert flat.shape == (None, 12) and out.shape == (None, 5)
    model = keras.Model([inputs], [out], name="tiny")
    assert model.name == "tiny" and model.outputs == [out] and model.inputs == [inputs]
    assert keras.Model(inputs, out).name.startswith("functional")
    assert model.predict(np.ones((2, 4, 3), np.float32), verbose=0).shape == (2, 5)


def test_what_the_functional_api_cannot_do_yet_is_a_clear_error():
    a, b = keras.Input(shape=(3,)), keras.Input(shape=(3,))
    dense = layers.Dense(2)
    with pytest.raises(ValueError, match="not among the model's inputs"):
        keras.Model(a, dense(b))
    with pytest.raises(ValueError, match="not used to compute the outputs"):
        keras.Model([a, b], dense(a))
    with pytest.raises(ValueError, match="subclass keras.Model with a call"):
        keras.Model()
    with pytest.raises(TypeError, match="must come from keras.Input"):
        keras.Model(a, np.zeros(3))
    with pytest.raises(TypeError, match="Model.add"):
        keras.Model(a, dense(a)).add(layers.Dense(1))


def _residual(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(6,))
    h = layers.Dense(8, activation="relu")(inputs)
    r = layers.BatchNormalization()(layers.Dense(8, use_bias=False)(h))
    shared = layers.Dense(8, activation="tanh")
    h = shared(layers.Add()([h, layers.GaussianNoise(0.1)(r)]))
    h = shared(layers.Dropout(0.2)(h))
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(h), name="residual")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _xy():
    rng = np.random.default_rng(2)
    return rng.standard_normal((96, 6)).astype(np.float32), rng.integers(0, 3, 96)


@pytest.mark.parametrize("suffix", [".brisk", ".keras"])
def test_a_graph_model_saved_and_loaded_resumes_bit_identically(tmp_path, suffix):
    x, y = _xy()
    model = _residual()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / f"m{suffix}")
    again = keras.models.load_model(tmp_path / f"m{suffix}")
    assert isinstance(again, keras.Model) and type(again).__name__ == "Functional" and again.name == "residual"
    assert [(l.name, type(l).__name__) for l in again.layers] == [(l.name, type(l).__name__) for l in model.layers]
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
    if suffix == ".brisk":  # (.keras holds no noise or dropout counters: those draws differ after loading)
        h1 = model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False).history
        h2 = again.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False).history
        assert h1 == h2
        for a, b in zip(model.get_weights(), again.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_graph_model_config_json_and_clone():
    model = _residual()
    config = model.get_config()
    assert config["input_layers"] == [model.inputs[0].name, 0, 0]
    shared = next(e for e in config["layers"] if len(e["inbound_nodes"]) == 2)
    reads = [n["args"][0]["config"]["keras_history"] for n in shared["inbound_nodes"]]
    assert reads[0][0].startswith("add") and reads[1][0].startswith("dropout") and reads[0][1:] == reads[1][1:] == [0, 0]
    final = model.get_layer(shared["name"])
    assert config["output_layers"][0] != final.name  # the output layer reads the shared layer's second call:
    assert next(e for e in config["layers"] if e["name"] == config["output_layers"][0])["inbound_nodes"][0][
        "args"][0]["config"]["keras_history"] == [final.name, 1, 0]
    rebuilt = keras.Model.from_config(config)
    assert rebuilt.get_config() == config
    from_json = keras.models.model_from_json(model.to_json())
    assert from_json.get_config() == config and rebuilt.count_params() == model.count_params()
    clone = keras.models.clone_model(model)
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])  # new weights, as Keras
    assert len(clone._graph.shared_layers) == 1


@pytest.mark.parametrize("break_it, message", [
    (lambda c: c["layers"][1]["inbound_nodes"][0]["args"][0]["config"].update(keras_history=["nowhere", 0, 0]),
     "no layer named 'nowhere'"),
    (lambda c: c["layers"][1]["inbound_nodes"][0]["args"][0]["config"].update(keras_history=["dense_b", 0, 0]),
     "no call makes|cycle"),
    (lambda c: c.update(output_layers=["dense_a", 3, 0]), "names a call the config does not make"),
    (lambda c: c["layers"][1]["inbound_nodes"][0].update(kwargs={"bogus": True}), "calling layer.*unexpected"),
    (lambda c: c["layers"][1]["inbound_nodes"][0].update(kwargs={"mask": [1, 2]}), "a number, a string or null"),
    (lambda c: c["layers"][1].update(class_name="Lambda"), "Lambda"),
    (lambda c: c.update(layers="x"), "'layers' list"),
])
def test_a_broken_functional_config_is_a_clear_value_error(break_it, message):
    inputs = keras.Input(shape=(3,))
    b = layers.Dense(2, name="dense_b")
    model = keras.Model(inputs, b(layers.Dense(2, name="dense_a")(inputs)))
    config = model.get_config()
    break_it(config)
    with pytest.raises(ValueError, match=message):
        keras.models.model_from_json(__import__("json").dumps({"class_name": "Functional", "config": config}))


def _two_in_two_out(as_dict=False):
    keras.utils.set_random_seed(5)
    a, b = keras.Input((4,), name="a"), keras.Input((2, 3), name="b")
    h = layers.Concatenate()([layers.Dense(5, activation="tanh")(a), layers.Flatten()(b)])
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(2, name="reg")(layers.Add()([layers.Dense(2)(h), layers.Dense(2)(a)]))
    return keras.Model({"a": a, "b": b} if as_dict else [a, b], {"cls": cls, "reg": reg} if as_dict else [cls, reg])


def _multi_data(n=40):
    rng = np.random.default_rng(3)
    return ([rng.standard_normal((n, 4)).astype(np.float32), rng.standard_normal((n, 2, 3)).astype(np.float32)],
            [rng.integers(0, 3, n), rng.standard_normal((n, 2)).astype(np.float32)])


def test_several_inputs_and_outputs_fit_predict_and_files(tmp_path):
    model = _two_in_two_out(as_dict=True)
    assert model.input_shape == {"a": (None, 4), "b": (None, 2, 3)}
    assert model.output_shape == {"cls": (None, 3), "reg": (None, 2)}
    x, y = _multi_data()
    model.compile("adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.25}, metrics={"cls": "accuracy"})
    history = model.fit({"a": x[0], "b": x[1]}, {"cls": y[0], "reg": y[1]}, epochs=2, batch_size=8, verbose=0,
                        validation_data=({"a": x[0], "b": x[1]}, {"cls": y[0], "reg": y[1]}))
    assert sorted(history.history) == sorted(["loss", "cls_loss", "reg_loss", "cls_accuracy", "val_loss",
                                              "val_cls_loss", "val_reg_loss", "val_cls_accuracy"])
    logs = model.evaluate({"a": x[0], "b": x[1]}, {"cls": y[0], "reg": y[1]}, verbose=0, return_dict=True)
    assert np.isclose(logs["loss"], logs["cls_loss"] + 0.25 * logs["reg_loss"], rtol=1e-6)
    out = model.predict({"a": x[0], "b": x[1]}, verbose=0)
    assert sorted(out) == ["cls", "reg"] and out["cls"].shape == (40, 3) and out["reg"].shape == (40, 2)
    np.testing.assert_allclose(logs["reg_loss"], np.mean((out["reg"] - y[1]) ** 2), rtol=1e-5)
    for suffix in (".brisk", ".keras"):
        model.save(tmp_path / f"m{suffix}")
        again = keras.models.load_model(tmp_path / f"m{suffix}")
        assert again.output_names == ["cls", "reg"] and again.input_names == ["a", "b"]
        out = model.predict({"a": x[0], "b": x[1]}, verbose=0)
        for k in ("cls", "reg"):
            np.testing.assert_array_equal(again.predict({"a": x[0], "b": x[1]}, verbose=0)[k], out[k])
        h1 = model.fit({"a": x[0], "b": x[1]}, {"cls": y[0], "reg": y[1]}, epochs=1, shuffle=False, verbose=0)
        h2 = again.fit({"a": x[0], "b": x[1]}, {"cls": y[0], "reg": y[1]}, epochs=1, shuffle=False, verbose=0)
        assert h1.history == h2.history  # the optimizer's state and the compile arguments came back too


def test_several_inputs_and_outputs_bad_input_is_a_clear_error():
    model = _two_in_two_out()
    model.compile("sgd", loss=["sparse_categorical_crossentropy", "mse"])
    x, y = _multi_data()
    with pytest.raises(ValueError, match="expected 2 entries"):
        model.fit([x[0]], y, verbose=0)
    with pytest.raises(ValueError, match="unknown keys \\['c'\\]"):
        model.fit({"a": x[0], "c": x[1]}, y, verbose=0)
    with pytest.raises(ValueError, match="'b'.*expects \\(2, 3\\)"):
        model.fit([x[0], x[1].reshape(40, 6)], y, verbose=0)
    with pytest.raises(ValueError, match="different numbers of samples"):
        model.fit([x[0][:30], x[1]], y, verbose=0)
    with pytest.raises(ValueError, match="different numbers of samples"):
        model.fit(x, [y[0][:30], y[1]], verbose=0)
    with pytest.raises(ValueError, match="out of range"):
        model.fit(x, [y[0] + 3, y[1]], verbose=0)
    with pytest.raises(ValueError, match="expected 2 entries"):
        model.compile("sgd", loss=["mse"])
    with pytest.raises(ValueError, match="one entry per output or a dict"):
        model.compile("sgd", loss="mse", metrics="mae")
    with pytest.raises(ValueError, match="class_weight"):
        model.compile("sgd", loss="mse") or model.fit(x, y, class_weight={0: 1.0}, verbose=0)


def test_one_output_s_loss_and_metrics_may_come_as_a_list_or_a_dict():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Dense(2, activation="softmax", name="probs")(inputs))
    x, y = np.ones((4, 3), np.float32), np.array([0, 1, 0, 1])
    for loss, metrics in ((["sparse_categorical_crossentropy"], ["accuracy"]),
                          ({"probs": "sparse_categorical_crossentropy"}, {"probs": ["accuracy"]})):
        model.compile("sgd", loss=loss, metrics=metrics)
        assert sorted(model.fit(x, y, verbose=0).history) == ["accuracy", "loss"]
    with pytest.raises(ValueError, match="unknown keys"):
        model.compile("sgd", loss={"other": "mse"})


def test_the_functional_api_s_remaining_basics():
    """Input shapes with the batch first, the helpers (layers.add, ...), layer.input/output and
    sub-models from intermediate tensors, models called on symbolic tensors as layers."""
    inputs = keras.Input((4,), name="features")
    assert inputs.shape == (None, 4) and keras.Input(shape=(3, 2), batch_size=8).shape == (8, 3, 2)
    a, b = layers.Dense(3, name="a")(inputs), layers.Dense(3, name="b")(inputs)
    merged = [layers.add([a, b]), layers.subtract([a, b]), layers.multiply([a, b]), layers.average([a, b]),
              layers.maximum([a, b]), layers.minimum([a, b]), layers.concatenate([a, b]), layers.dot([a, b], axes=1)]
    assert [type(t.layer).__name__ for t in merged] == ["Add", "Subtract", "Multiply", "Average", "Maximum",
                                                         "Minimum", "Concatenate", "Dot"]
    assert merged[6].shape == (None, 6) and merged[7].shape == (None, 1)
    model = keras.Model(inputs, layers.Dense(2, name="head")(merged[0]))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    assert model.get_layer("a").input is inputs and model.get_layer("head").input is merged[0]
    features = keras.Model(model.inputs, model.get_layer("a").output)
    a_layer = model.get_layer("a")
    np.testing.assert_allclose(features.predict(x, verbose=0), x @ a_layer.get_weights()[0] + a_layer.get_weights()[1],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(AttributeError, match="never been called on a symbolic input"):
        layers.Dense(2).output

    # a model as a layer: its layers join the outer model, weights shared
    inner = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu")])
    outer_in = keras.Input((4,))
    outer = keras.Model(outer_in, layers.Dense(1)(inner(outer_in)))
    outer.compile("sgd", "mse")
    outer.fit(x, np.ones((5, 1), np.float32), epochs=2, verbose=0)
    np.testing.assert_array_equal(inner.layers[0].get_weights()[0], outer.layers[1].get_weights()[0])
    ensemble_in = keras.Input((4,))
    members = [keras.Model(i, layers.Dense(1)(i)) for i in (keras.Input((4,)) for _ in range(3))]
    ensemble = keras.Model(ensemble_in, layers.average([m(ensemble_in) for m in members]))
    expected = np.mean([m.predict(x, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = layers.Dense(2)

        def call(self, t):
            return self.d(t)
    with pytest.raises(NotImplementedError, match="subclassed model called on keras.Input"):
        Sub()(keras.Input((4,)))


class _Block(keras.layers.Layer):
    """A custom layer holding built-in layers and a weight of its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.up, self.down = keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(3)
        self.norm = keras.layers.LayerNormalization()

    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return self.norm(self.down(self.up(x)) * self.w + x)


class _Twice(keras.Model):
    def __init__(self, block, mix, head):
        super().__init__()
        self.block, self.mix, self.head = block, mix, head

    def call(self, x):
        return self.head(keras.ops.concatenate([self.block(x), self.block(self.mix(x))], axis=-1))


def test_a_custom_layer_called_twice_in_a_graph_gets_the_sum_of_both_calls_gradients():
    """Each call keeps its own traced program and its sublayers' state; the weights' gradients
    are the traced model's (the same layers as a Model subclass, checked on its own)."""
    inputs = keras.Input((3,))
    block, mix, head = _Block(), keras.layers.Dense(3, use_bias=False), keras.layers.Dense(1)
    graph = keras.Model(inputs, head(keras.layers.concatenate([block(inputs), block(mix(inputs))])))
    r = np.random.default_rng(2)
    x, y = r.standard_normal((8, 3)).astype(np.float32), r.standard_normal((8, 1)).astype(np.float32)
    start = graph.get_weights()
    twin = _Twice(_Block(), keras.layers.Dense(3, use_bias=False), keras.layers.Dense(1))
    twin(x)
    names = [type(w._layer).__name__ + w.name + str(w.shape) for w in graph.weights]
    order = [names.index(type(w._layer).__name__ + w.name + str(w.shape)) for w in twin.weights]
    twin.set_weights([start[i] for i in order])
    np.testing.assert_allclose(graph.predict(x, verbose=0), twin.predict(x, verbose=0), rtol=1e-6)
    for model in (graph, twin):
        model.compile(keras.optimizers.SGD(1.0), "mse")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = graph.get_weights()
    for w, v, k in zip(twin.weights, twin.get_weights(), order):
        np.testing.assert_allclose(after[k] - start[k], v - start[k], rtol=1e-4, atol=1e-6, err_msg=names[k])
        assert np.abs(v - start[k]).max() > 0, names[k]
