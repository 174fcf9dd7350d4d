"""Batches from a keras.utils.PyDataset (or any object with __len__ and __getitem__), a Python
generator, or a re-iterable of batches (a tf.data.Dataset, a PyTorch DataLoader: iterated anew
each epoch, their tensors turned into numpy arrays), for fit / evaluate / predict: one epoch's
batches in order, each unpacked as Keras does ((x,), (x, y), (x, y, sample_weight), or x alone)."""
from __future__ import annotations

import warnings

import numpy as np

from ..data import to_numpy


def is_batches(data) -> bool:
    """Whether `data` hands out batches (rather than being an array of samples)."""
    if data is None or isinstance(data, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    indexed = hasattr(data, "__getitem__") and hasattr(data, "__len__") and not hasattr(data, "shape")
    return indexed or hasattr(data, "__next__") or _reiterable(data)


def _reiterable(data) -> bool:
    """A tf.data.Dataset, a PyTorch DataLoader: iterable again each epoch, and no array itself."""
    return hasattr(data, "__iter__") and not hasattr(data, "__getitem__") and not hasattr(data, "shape") and \
        not hasattr(data, "__array__")


def unpack(batch, what="batch"):
    """(x, y, sample_weight) of a batch, the missing ones None (Keras' unpack_x_y_sample_weight)."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        raise ValueError(f"{what}: a batch must be x, (x,), (x, y) or (x, y, sample_weight), got a tuple of "
                         f"{len(batch)}")
    return tuple(batch) + (None,) * (3 - len(batch))


class Source:
    """The batches of one epoch at a time, `steps` of them (all of a PyDataset when None)."""

    def __init__(self, data, steps=None, what="x"):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1):
            raise ValueError(f"{what}: steps must be a positive int, got {steps!r}")
        self.data, self.steps, self.what = data, steps, what
        self.reiterable = _reiterable(data) and not hasattr(data, "__next__")
        self.indexed = not hasattr(data, "__next__") and not self.reiterable
        if self.indexed and steps is None and len(data) == 0:
            raise ValueError(f"{what}: the dataset has no batches")
        self.exhausted = False
        self._iterator = None  # a re-iterable's, kept across epochs of steps_per_epoch batches

    def __len__(self):
        if self.steps is not None:
            return int(self.steps)
        if self.reiterable:
            try:
                return len(self.data)  # (a DataLoader; a tf.data.Dataset of known cardinality)
            except TypeError:
                return 0
        return len(self.data) if self.indexed else 0  # 0: unknown (a generator)

    def epoch(self, rng=None):
        """Yields this epoch's batches, a dataset's in a random order when `rng` is given (fit's
        shuffle, as Keras shuffles a PyDataset's batches); a generator that runs dry ends the
        epoch (and, as Keras warns, training: later epochs would have no data)."""
        if self.indexed:
            begin = getattr(self.data, "on_epoch_begin", None)
            if callable(begin):
                begin()
            count = len(self) if self.steps is None else self.steps
            if getattr(self.data, "shuffles_itself", False):  # (as fit leaves a tf.data dataset's order)
                rng = None
            order = rng.permutation(count) if rng is not None else range(count)
            for i in order:
                yield to_numpy(self.data[int(i) % len(self.data)])
            end = getattr(self.data, "on_epoch_end", None)
            if callable(end):
                end()
            return
        if self.reiterable:
            yield from self._reiterated()
            return
        count = 0
        while self.steps is None or count < self.steps:
            try:
                batch = next(self.data)
            except StopIteration:
                if self.steps is not None or count == 0:
                    warnings.warn(f"{self.what}: your input ran out of data after {count} batches; stopping "
                                  "(give steps_per_epoch, or a generator that repeats)", stacklevel=4)
                    self.exhausted = True
                return
            count += 1
            yield to_numpy(batch)

    def _reiterated(self):
        """A tf.data.Dataset's or DataLoader's epoch: all its batches, or with steps the next
        `steps` of them (a new pass begun where one runs out, as a repeated dataset)."""
        if self.steps is None:
            count = 0
            for batch in self.data:
                count += 1
                yield to_numpy(batch)
            if count == 0:
                raise ValueError(f"{self.what}: the dataset has no batches")
            return
        for _ in range(int(self.steps)):
            batch = next(self._iterator, None) if self._iterator is not None else None
            if batch is None:
                self._iterator = iter(self.data)
                batch = next(self._iterator, None)
                if batch is None:
                    raise ValueError(f"{self.what}: the dataset has no batches")
            yield to_numpy(batch)
