"""keras.utils.timeseries_dataset_from_array: sliding windows over an array (and the target at
each window's start) as a dataset of batches that fit, evaluate and predict take. The windows
and their order are Keras' (its seeded shuffle of the start positions); a batch is gathered from
the array when it is read, so the windows never exist all at once."""
from __future__ import annotations

import math

import numpy as np

from .data import PyDataset


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


class TimeseriesDataset(PyDataset):
    """Batches of windows (batch, sequence_length, features...) and, with targets, the target at
    each window's start. With shuffle the windows are drawn in a new order each epoch (fit then
    keeps its batch order, as with a tf.data dataset)."""

    shuffles_itself = True

    def __init__(self, data, targets, positions, sequence_length, sampling_rate, batch_size, shuffle, seed):
        super().__init__()
        self._data, self._targets = data, targets
        self._positions = positions
        self._offsets = np.arange(sequence_length) * sampling_rate
        self._batch_size = batch_size
        self._shuffle = shuffle
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        if self._batch_size is None:
            return len(self._positions)
        return math.ceil(len(self._positions) / self._batch_size)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch {index} of a dataset of {len(self)} batches")
        index %= len(self)
        size = self._batch_size or 1
        starts = self._positions[index * size:(index + 1) * size]
        windows = self._data[starts[:, None] + self._offsets]
        if self._batch_size is None:
            windows, starts = windows[0], starts[0]
        if self._targets is None:
            return windows
        return windows, self._targets[starts]

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]
        self.on_epoch_end()

    def on_epoch_end(self):
        if self._shuffle:
            self._positions = self._rng.permutation(self._positions)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1, batch_size=128,
                                  shuffle=False, seed=None, start_index=None, end_index=None):
    """Keras 3's timeseries_dataset_from_array: window i covers data[start_index + p_i + k *
    sampling_rate] for k < sequence_length, with p_i = i * sequence_stride (shuffled with seed);
    its target is targets[start_index + p_i]."""
    data = np.asarray(data)
    if data.ndim < 1 or len(data) == 0:
        raise ValueError(f"data must hold at least one step, got shape {data.shape}")
    sequence_length = _positive_int("sequence_length", sequence_length)
    sequence_stride = _positive_int("sequence_stride", sequence_stride)
    sampling_rate = _positive_int("sampling_rate", sampling_rate)
    if batch_size is not None:
        batch_size = _positive_int("batch_size", batch_size)
    if start_index and not 0 <= start_index < len(data):
        raise ValueError(f"start_index must be in [0, {len(data)}), got {start_index}")
    if end_index is not None and not (0 < end_index < len(data) and end_index > (start_index or 0)):
        raise ValueError(f"end_index must be above start_index and below the data's length {len(data)}, got "
                         f"{end_index}")
    if sampling_rate >= len(data) or sequence_stride >= len(data):
        raise ValueError(f"sampling_rate ({sampling_rate}) and sequence_stride ({sequence_stride}) must be below the "
                         f"data's length ({len(data)})")
    start = start_index or 0
    end = len(data) if end_index is None else end_index
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        count = min(count, len(targets) - start)
    positions = np.arange(0, max(count, 0), sequence_stride)
    if len(positions) == 0:
        raise ValueError(f"no window of {sequence_length} steps (sampling_rate {sampling_rate}) fits in steps "
                         f"{start}..{end} of the data")
    if shuffle:  # (the same order as Keras for the same seed)
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(positions)
    window_data = data[start:end]
    window_targets = targets[start:] if targets is not None else None
    return TimeseriesDataset(window_data, window_targets, positions, sequence_length, sampling_rate, batch_size,
                             shuffle, seed)
