"""fit / evaluate / predict on other libraries' pipelines, as Keras 3 takes them on every backend:
a PyTorch DataLoader, a tf.data.Dataset (where TensorFlow is installed), or any object iterated
anew each epoch, their tensors read as numpy arrays."""
import numpy as np
import pytest

import brisknet as keras


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype("float32")
    return x, (x.sum(axis=1) > 0).astype("int64")


def _model():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def assert_trains_as_arrays(data, x, y, epochs=2, **kwargs):
    """A model fitted on `data` ends with the weights of one fitted on x, y in batches of 16."""
    reference = _model()
    reference.fit(x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0)
    model = _model()
    history = model.fit(data, epochs=epochs, verbose=0, **kwargs)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    return model, reference, history


class Batches:
    """A re-iterable without __getitem__ or __len__, as a tf.data pipeline of unknown length."""

    def __init__(self, x, y, size):
        self.x, self.y, self.size, self.passes = x, y, size, 0

    def __iter__(self):
        self.passes += 1
        for i in range(0, len(self.x), self.size):
            yield self.x[i:i + self.size], self.y[i:i + self.size]


def test_a_reiterable_trains_as_the_same_batches_in_arrays():
    x, y = _data()
    batches = Batches(x, y, 16)
    model, reference, history = assert_trains_as_arrays(batches, x, y, epochs=3, validation_data=Batches(x, y, 32))
    assert batches.passes == 3 and len(history.history["val_loss"]) == 3
    np.testing.assert_allclose(model.evaluate(Batches(x, y, 10), verbose=0), reference.evaluate(x, y, verbose=0),
                               rtol=1e-6)


def test_steps_per_epoch_continues_and_begins_a_new_pass():
    x, y = _data()
    batches = Batches(x, y, 16)  # 4 batches a pass
    model = _model()
    model.fit(batches, epochs=2, steps_per_epoch=3, verbose=0)  # 6 batches: a second pass begun
    assert batches.passes == 2


def test_an_empty_pipeline_is_refused():
    model = _model()
    with pytest.raises(ValueError, match="no batches"):
        model.fit(Batches(np.zeros((0, 5), np.float32), np.zeros(0, np.int64), 4), epochs=1, verbose=0)


def test_a_pytorch_dataloader():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset
    x, y = _data()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=16, shuffle=False)
    model, _, _ = assert_trains_as_arrays(loader, x, y, validation_data=loader)
    assert model.predict(DataLoader(torch.tensor(x), batch_size=10), verbose=0).shape == (64, 2)
    shuffled = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=8, shuffle=True)
    assert len(model.fit(shuffled, epochs=2, verbose=0).history["loss"]) == 2
    needs_grad = iter([(torch.tensor(x).requires_grad_(), torch.tensor(y))])  # tensors that require grad: read
    model.fit(needs_grad, epochs=1, verbose=0)


def test_a_tf_data_dataset():
    tf = pytest.importorskip("tensorflow")
    x, y = _data()
    assert_trains_as_arrays(tf.data.Dataset.from_tensor_slices((x, y)).batch(16).prefetch(2), x, y)
