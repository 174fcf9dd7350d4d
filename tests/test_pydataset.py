"""fit / evaluate / predict on a keras.utils.PyDataset or a generator of batches: the same training
as the arrays in the same order, Keras' shuffling of batch order, and clear errors."""
import numpy as np
import pytest

import brisknet as keras


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, with_weights=False, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size, self.with_weights = x, y, batch_size, with_weights
        self.ends = 0
        self.order = []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.order.append(i)
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        if self.with_weights:
            return self.x[s], self.y[s], np.full(len(self.x[s]), 2.0, np.float32)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.ends += 1


def _data(n=70):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 6)).astype(np.float32), rng.integers(0, 3, n)


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_dataset_trains_as_its_arrays_do():
    x, y = _data()
    a, b = _model(), _model()
    ha = a.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history
    data = Batches(x, y, 16)
    hb = b.fit(data, epochs=3, shuffle=False, verbose=0).history
    np.testing.assert_allclose(hb["loss"], ha["loss"], rtol=1e-6)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert data.ends == 3
    assert b.evaluate(data, verbose=0) == pytest.approx(a.evaluate(x, y, batch_size=16, verbose=0), rel=1e-6)
    np.testing.assert_allclose(b.predict(data, verbose=0), a.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


def test_batch_order_is_shuffled_per_epoch_and_follows_the_seed():
    x, y = _data()
    orders = []
    for _ in range(2):
        model, data = _model(), Batches(x, y, 16)
        keras.utils.set_random_seed(3)
        model.fit(data, epochs=2, verbose=0)
        orders.append(data.order)
    assert orders[0] == orders[1] and sorted(orders[0][:5]) == list(range(5)) and orders[0] != list(range(5)) * 2


def test_weights_validation_and_generators():
    x, y = _data()
    model = _model()
    h = model.fit(Batches(x, y, 16, with_weights=True), epochs=1, validation_data=Batches(x, y, 32), verbose=0,
                  shuffle=False)
    assert sorted(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    model.fit(Batches(x, y, 16), epochs=1, validation_data=(x, y), class_weight={0: 2.0, 1: 1.0, 2: 1.0}, verbose=0)

    def forever():
        while True:
            yield x[:10], y[:10]
    assert len(model.fit(forever(), steps_per_epoch=2, epochs=3, verbose=0).history["loss"]) == 3

    def once():
        yield x[:10], y[:10]
        yield x[10:20], y[10:20]
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(once(), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1
    assert model.predict((b for b in [(x[:4],), (x[4:9],)]), verbose=0).shape == (9, 3)


def test_bad_datasets_raise_clear_errors():
    x, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="pass no y"):
        model.fit(Batches(x, y, 16), y, verbose=0)
    with pytest.raises(ValueError, match="no targets"):
        model.fit(iter([x[:4]]), verbose=0)
    with pytest.raises(ValueError, match="no batches"):
        model.fit(Batches(x[:0], y[:0], 16), verbose=0)
    with pytest.raises(ValueError, match="samples of shape"):
        model.fit(iter([(np.ones((4, 5), np.float32), y[:4])]), verbose=0)
    with pytest.raises(ValueError, match="label 7 is out of range"):
        model.fit(iter([(x[:4], np.array([0, 1, 7, 2]))]), verbose=0)
    with pytest.raises(ValueError, match="a tuple of 4"):
        model.fit(iter([(x[:4], y[:4], None, None)]), verbose=0)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        model.fit(Batches(x, y, 16), steps_per_epoch=0, verbose=0)

    class Broken(keras.utils.PyDataset):
        pass
    with pytest.raises(NotImplementedError, match="__len__"):
        model.fit(Broken(), verbose=0)
