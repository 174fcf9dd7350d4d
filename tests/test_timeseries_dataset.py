"""keras.utils.timeseries_dataset_from_array: the windows and targets of Keras' docstring
examples, its seeded order, training from it, and clear errors."""
import numpy as np
import pytest

import brisknet as keras

timeseries = keras.utils.timeseries_dataset_from_array


def test_the_docstring_windows():
    """Keras' example 1: indices 0..98, length 10, sampling rate 2, stride 3."""
    ds = timeseries(np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3, batch_size=None)
    windows = [ds[i] for i in range(len(ds))]
    np.testing.assert_array_equal(windows[0], np.arange(0, 20, 2))
    np.testing.assert_array_equal(windows[1], np.arange(3, 23, 2))
    np.testing.assert_array_equal(windows[-1], np.arange(78, 98, 2))
    assert len(windows) == 27


def test_the_docstring_regression_targets():
    """Keras' example 2: the step after each window of 10 as its target."""
    data = np.arange(100, dtype="float32")
    ds = timeseries(data[:-10], data[10:], sequence_length=10, batch_size=16)
    x, y = ds[0]
    np.testing.assert_array_equal(x[0], data[:10])
    np.testing.assert_array_equal(y[:3], [10, 11, 12])
    assert x.shape == (16, 10) and len(ds) == 6  # 81 windows
    x, y = ds[5]
    assert x.shape == (1, 10) and y[0] == 90
    starts = timeseries(data, None, sequence_length=5, start_index=20, end_index=40, batch_size=None)
    np.testing.assert_array_equal(starts[0], data[20:25])
    np.testing.assert_array_equal(starts[len(starts) - 1], data[35:40])


def test_the_shuffle_is_keras_seeded_order_then_new_each_epoch():
    data = np.arange(50, dtype="float32")
    ds = timeseries(data, data, sequence_length=4, batch_size=None, shuffle=True, seed=3)
    expected = np.arange(47)
    np.random.RandomState(3).shuffle(expected)  # Keras' order of the start positions
    np.testing.assert_array_equal([ds[i][1] for i in range(len(ds))], expected)
    first = [y for _, y in ds]  # a pass ends an epoch: the next one is in another order
    assert sorted(first) == list(range(47)) and [ds[i][1] for i in range(len(ds))] != first


def test_a_model_trains_on_windows():
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(400) / 8).astype("float32")[:, None] + rng.normal(0, 0.01, (400, 1)).astype("float32")
    ds = timeseries(series[:-8], series[8:, 0], sequence_length=8, batch_size=32, shuffle=True, seed=1)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 1)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.02), "mse")
    history = model.fit(ds, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]


def test_bad_arguments():
    data = np.arange(20)
    for kwargs, match in [(dict(sequence_length=0), "sequence_length"), (dict(sequence_length=3, sampling_rate=0),
                                                                         "sampling_rate"),
                          (dict(sequence_length=3, start_index=25), "start_index"),
                          (dict(sequence_length=3, end_index=30), "end_index"),
                          (dict(sequence_length=30), "no window"), (dict(sequence_length=3, batch_size=0),
                                                                    "batch_size")]:
        with pytest.raises(ValueError, match=match):
            timeseries(data, None, **kwargs)
    with pytest.raises(ValueError, match="at least one step"):
        timeseries(np.zeros(0), None, sequence_length=1)
