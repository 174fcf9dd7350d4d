"""Keras semantics of Sequential: structure, weights layout, compile/fit/evaluate/predict, History,
validation_split, sample and class weights, single-batch methods, summary."""
import numpy as np
import pytest

import brisknet
import brisknet as keras
from brisknet import layers


def small_data(rng, n=256, features=20, classes=3):
    x = rng.standard_normal((n, features)).astype(np.float32)
    w = rng.standard_normal((features, classes))
    y = (x @ w).argmax(axis=1)
    return x, y


def small_model(classes=3, **compile_kw):
    model = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(classes, activation="softmax")])
    model.compile(**{"optimizer": "adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"], **compile_kw})
    return model


def test_import_styles():
    from brisknet import Sequential, layers as L  # noqa: F401
    assert keras.models.Sequential is keras.Sequential
    assert keras.layers.Input is keras.Input


def test_input_and_build_and_weights_layout():
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(4), layers.Dense(2, use_bias=False)])
    assert model.built is True  # as in Keras: built as soon as the input shape is known
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(5, 4), (4,), (4, 2)]  # Keras: kernel (in, units) then bias
    assert model.count_params() == 5 * 4 + 4 + 4 * 2
    assert model.output_shape == (None, 2) and model.input_shape == (None, 5)
    assert [l.name for l in model.layers][0].startswith("dense")


def test_input_size_inferred_on_first_call(rng):
    model = keras.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="not built"):
        model.count_params()
    out = model.predict(rng.standard_normal((7, 11)).astype(np.float32), verbose=0)
    assert out.shape == (7, 3)
    assert model.layers[0].kernel.shape == (11, 3)


def test_add_and_build_with_keras_input_shape():
    model = keras.Sequential()
    model.add(layers.Dense(8, activation="tanh"))
    model.add(layers.Dense(1))
    model.build((None, 6))
    assert model.count_params() == 6 * 8 + 8 + 8 + 1


def test_set_weights_roundtrip_and_forward_matches_numpy(rng):
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2)])
    model.build()
    ws = [rng.standard_normal(w.shape).astype(np.float32) for w in model.get_weights()]
    model.set_weights(ws)
    for got, want in zip(model.get_weights(), ws):
        np.testing.assert_array_equal(got, want)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    want = np.maximum(x @ ws[0] + ws[1], 0) @ ws[2] + ws[3]
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(x), want, rtol=1e-5, atol=1e-6)


def test_set_weights_errors():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    model.build()
    with pytest.raises(ValueError, match="2 weight arrays, got 1"):
        model.set_weights([np.zeros((4, 3))])
    with pytest.raises(ValueError, match=r"weight 0 has shape \(4, 3\), got \(3, 4\)"):
        model.set_weights([np.zeros((3, 4)), np.zeros(3)])


def test_fit_history_keys_and_learning(rng):
    x, y = small_data(rng)
    brisknet.utils.set_random_seed(0)
    model = small_model(optimizer=keras.optimizers.Adam(learning_rate=0.01))
    h = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert set(h.history) == {"loss", "accuracy"}
    assert len(h.history["loss"]) == 5 and h.epoch == [0, 1, 2, 3, 4]
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert h.history["accuracy"][-1] > 0.7
    assert model.history is h


def test_validation_split_takes_the_last_fraction(rng):
    x, y = small_data(rng, n=100)
    brisknet.utils.set_random_seed(1)
    model = small_model()
    h = model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # the validation numbers are exactly those of evaluate() on the last 20 samples
    loss, acc = model.evaluate(x[80:], y[80:], verbose=0)
    assert h.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert h.history["val_accuracy"][-1] == pytest.approx(acc)


def test_validation_data(rng):
    x, y = small_data(rng, n=120)
    model = small_model()
    h = model.fit(x[:100], y[:100], epochs=1, validation_data=(x[100:], y[100:]), verbose=0)
    assert "val_loss" in h.history and "val_accuracy" in h.history


def test_epoch_loss_is_sample_weighted_mean_of_batch_losses(rng):
    """With a partial last batch, Keras weights each batch loss by its size; lr=0 keeps weights fixed."""
    x, y = small_data(rng, n=50)
    model = small_model(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    h = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    batch_losses = [model.test_on_batch(x[s:s + 16], y[s:s + 16])[0] for s in range(0, 50, 16)]
    sizes = [16, 16, 16, 2]  # the last partial batch is trained, not dropped
    assert h.history["loss"][0] == pytest.approx(np.dot(batch_losses, sizes) / 50, rel=1e-6)


def test_evaluate_return_forms(rng):
    x, y = small_data(rng, n=64)
    model = small_model()
    result = model.evaluate(x, y, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(d) == {"loss", "accuracy"} and d["loss"] == pytest.approx(result[0])
    plain = keras.Sequential([layers.Dense(3, activation="softmax")])
    plain.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert isinstance(plain.evaluate(x, y, verbose=0), float)


def test_accuracy_resolves_by_loss(rng):
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)
    binary = keras.Sequential([layers.Dense(1, activation="sigmoid")])
    binary.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    h = binary.fit(x, y, epochs=1, verbose=0)
    assert type(binary._metrics[0]).__name__ == "BinaryAccuracy" and "accuracy" in h.history
    onehot = np.eye(2, dtype=np.float32)[y.astype(int)]
    cat = keras.Sequential([layers.Dense(2, activation="softmax")])
    cat.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    cat.fit(x, onehot, epochs=1, verbose=0)
    assert type(cat._metrics[0]).__name__ == "CategoricalAccuracy"


def test_sample_weight_zero_ignores_samples(rng):
    """Samples with weight 0 contribute nothing: training on (x, y) with half the weights 0 equals
    training on the other half with a loss scaled by the batch fraction (lr=0 keeps it static)."""
    x, y = small_data(rng, n=32)
    model = small_model(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    sw = np.r_[np.ones(16), np.zeros(16)].astype(np.float32)
    weighted = model.evaluate(x, y, sample_weight=sw, batch_size=32, verbose=0)[0]
    half = model.evaluate(x[:16], y[:16], batch_size=32, verbose=0)[0]
    assert weighted == pytest.approx(half / 2, rel=1e-6)


def test_class_weight(rng):
    x, y = small_data(rng, n=64)
    model = small_model()
    model.fit(x, y, class_weight={0: 1.0, 1: 2.0, 2: 0.5}, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="class_weight and sample_weight"):
        model.fit(x, y, class_weight={0: 1.0}, sample_weight=np.ones(64), verbose=0)


def test_train_and_test_on_batch(rng):
    x, y = small_data(rng, n=32)
    model = small_model()
    before = model.test_on_batch(x, y)
    for _ in range(30):
        model.train_on_batch(x, y)
    after = model.test_on_batch(x, y, return_dict=True)
    assert after["loss"] < before[0]
    assert model.optimizer.iterations == 30


def test_initial_epoch_and_verbose_modes(rng, capsys):
    x, y = small_data(rng, n=64)
    model = small_model()
    h = model.fit(x, y, epochs=3, initial_epoch=1, verbose=2)
    assert h.epoch == [1, 2]
    out = capsys.readouterr().out
    assert "Epoch 2/3" in out and "Epoch 3/3" in out and "samples/s" in out and "loss:" in out
    model.fit(x, y, epochs=1, verbose=1)
    assert "Epoch 1/1" in capsys.readouterr().out


def test_callbacks_see_keras_hooks(rng):
    x, y = small_data(rng, n=40)
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append("train_begin")

        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch_end", epoch, sorted(logs)))

        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                seen.append(("batch_end", sorted(logs)))
                self.model.stop_training = True

    model = small_model()
    h = model.fit(x, y, epochs=3, batch_size=8, callbacks=[Recorder()], verbose=0)
    assert seen[0] == "train_begin"
    assert ("batch_end", ["accuracy", "loss"]) in seen
    assert seen[-1] == ("epoch_end", 0, ["accuracy", "loss"])
    assert h.epoch == [0]  # stop_training ends the fit


def test_dropout_flatten_activation_layers(rng):
    x = rng.standard_normal((64, 4, 5)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    model = keras.Sequential([layers.Flatten(), layers.Dense(8), layers.Activation("relu"),
                              layers.Dropout(0.5, seed=3), layers.Dense(2), layers.Activation("softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    p1 = model.predict(x, verbose=0)
    np.testing.assert_array_equal(p1, model.predict(x, verbose=0))  # dropout is off at inference
    np.testing.assert_allclose(p1.sum(axis=1), 1, rtol=1e-5)
    assert model._fused  # softmax in an Activation layer is fused with the loss too


def test_regularizer_adds_to_loss(rng):
    x, y = small_data(rng, n=32)
    brisknet.utils.set_random_seed(5)
    reg = keras.Sequential([layers.Dense(3, activation="softmax", kernel_regularizer="l2")])
    reg.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    reg.build((None, 20))
    kernel = reg.get_weights()[0]
    plain = keras.Sequential([layers.Dense(3, activation="softmax")])
    plain.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    plain.build((None, 20))
    plain.set_weights(reg.get_weights())
    diff = reg.evaluate(x, y, verbose=0) - plain.evaluate(x, y, verbose=0)
    assert diff == pytest.approx(0.01 * float((kernel.astype(np.float64) ** 2).sum()), rel=1e-5)


def test_initializers_follow_keras(rng):
    brisknet.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((400,)), layers.Dense(600, kernel_initializer="glorot_uniform"),
                              layers.Dense(300, kernel_initializer="he_normal", bias_initializer="ones")])
    model.build()
    k1, b1, k2, b2 = model.get_weights()
    limit = np.sqrt(6 / (400 + 600))
    assert np.abs(k1).max() <= limit and np.abs(k1).max() > 0.95 * limit
    assert not b1.any() and (b2 == 1).all()
    assert k2.std() == pytest.approx(np.sqrt(2 / 600), rel=0.05)
    assert np.abs(k2).max() <= 2 * np.sqrt(2 / 600) / 0.87962566103423978 + 1e-6  # truncated


def test_summary(capsys):
    model = keras.Sequential([keras.Input((784,)), layers.Dense(1000, activation="relu", name="hidden"),
                              layers.Dense(10, activation="softmax", name="out")])
    model.build()
    model.summary()
    out = capsys.readouterr().out
    assert "hidden (Dense)" in out and "(None, 1000)" in out and "785,000" in out
    assert "Total params: 795,010" in out


def test_other_losses_train(rng):
    x = rng.standard_normal((128, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5])).astype(np.float32)
    for loss in ("mse", "mae", "huber", keras.losses.Huber(delta=0.5)):
        model = keras.Sequential([layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, metrics=["mae"])
        h = model.fit(x, y, epochs=20, verbose=0)
        assert h.history["loss"][-1] < 0.3 * h.history["loss"][0], loss


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_every_optimizer_trains(rng, name):
    x, y = small_data(rng)
    brisknet.utils.set_random_seed(0)
    model = small_model(optimizer=name)
    h = model.fit(x, y, epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
