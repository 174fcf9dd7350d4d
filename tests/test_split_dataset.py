"""keras.utils.split_dataset: Keras 3's split (sizes, rounding, the right part taken from the end,
Python's random.shuffle with the seed) of arrays, tuples of arrays and a PyTorch Dataset; the
parts batch for fit; bad sizes are refused as Keras refuses them."""
import random

import numpy as np
import pytest

import brisknet as keras


def test_split_of_arrays_as_keras():
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    left, right = keras.utils.split_dataset((x, y), left_size=0.8)
    assert len(left) == 8 and len(right) == 2
    np.testing.assert_array_equal(left.as_arrays()[1], np.arange(8))
    np.testing.assert_array_equal(right.as_arrays()[1], [8, 9])
    left, right = keras.utils.split_dataset(x, left_size=3, right_size=4)  # the right part from the end
    np.testing.assert_array_equal(left.as_arrays(), x[:3])
    np.testing.assert_array_equal(right.as_arrays(), x[6:])
    order = list(range(10))
    random.seed(7)
    random.shuffle(order)  # Keras' shuffle
    left, right = keras.utils.split_dataset((x, y), right_size=0.3, shuffle=True, seed=7)
    np.testing.assert_array_equal(left.as_arrays()[1], order[:7])
    np.testing.assert_array_equal(right.as_arrays()[1], order[7:])
    first = next(iter(left))
    assert isinstance(first, tuple) and first[0].shape == (2,)


def test_the_parts_batch_and_train():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, 4)).astype(np.float32), rng.integers(0, 2, 50)
    train, test = keras.utils.split_dataset((x, y), left_size=0.8, shuffle=True, seed=1)
    batches = train.batch(16)
    assert len(batches) == 3 and [len(b[0]) for b in batches] == [16, 16, 8]
    assert len(train.batch(16, drop_remainder=True)) == 2
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(batches, epochs=1, verbose=0)
    assert np.isfinite(model.evaluate(test.batch(8), verbose=0))


def test_a_pytorch_dataset_splits():
    torch = pytest.importorskip("torch")
    data = torch.utils.data.TensorDataset(torch.arange(12.0).reshape(6, 2), torch.arange(6))
    left, right = keras.utils.split_dataset(data, left_size=4)
    np.testing.assert_array_equal(left.as_arrays()[0], np.arange(8.0).reshape(4, 2))
    np.testing.assert_array_equal(right.as_arrays()[1], [4, 5])


@pytest.mark.parametrize("kwargs, error", [
    (dict(), "At least one"), (dict(left_size=1.5), "left_size"), (dict(left_size=10), "left_size"),
    (dict(right_size=0), "right_size"), (dict(left_size=0.6, right_size=0.6), "greater than 1"),
    (dict(left_size=6, right_size=5), "smaller than the 10"), (dict(left_size="half"), "Type"),
])
def test_bad_sizes_are_refused_as_keras_refuses_them(kwargs, error):
    with pytest.raises((ValueError, TypeError), match=error):
        keras.utils.split_dataset(np.zeros((10, 2)), **kwargs)
    with pytest.raises(ValueError, match="one length"):
        keras.utils.split_dataset((np.zeros(3), np.zeros(4)), left_size=1)


def test_an_unbatched_tf_data_dataset_splits():
    tf = pytest.importorskip("tensorflow")
    data = tf.data.Dataset.from_tensor_slices((np.arange(12.0).reshape(6, 2), np.arange(6)))
    left, right = keras.utils.split_dataset(data, right_size=2)
    np.testing.assert_array_equal(left.as_arrays()[1], [0, 1, 2, 3])
    np.testing.assert_array_equal(right.as_arrays()[0], np.arange(8.0, 12.0).reshape(2, 2))
