"""keras.utils.split_dataset: a dataset of samples (arrays, a tuple of arrays, a PyTorch Dataset,
an unbatched tf.data.Dataset) split into a left and a right part as Keras 3 splits it, each an
ArrayDataset of the samples: unbatched, like the tf.data.Dataset Keras returns, and batched with
.batch(n) for fit / evaluate / predict."""
from __future__ import annotations

import math
import random

import numpy as np

from .data import PyDataset, to_numpy


class ArrayDataset:
    """Samples held as arrays (one, or a tuple of them with the same first dimension)."""

    def __init__(self, arrays):
        self._single = not isinstance(arrays, tuple)
        self._arrays = (arrays,) if self._single else arrays

    def __len__(self):
        return len(self._arrays[0])

    def __iter__(self):
        for i in range(len(self)):
            yield self._arrays[0][i] if self._single else tuple(a[i] for a in self._arrays)

    def batch(self, batch_size, drop_remainder=False):
        """Batches of batch_size samples in order, as tf.data's batch."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch: batch_size must be a positive int, got {batch_size!r}")
        return BatchedArrays(self._arrays, self._single, int(batch_size), bool(drop_remainder))

    def as_arrays(self):
        """The samples as the arrays (or tuple of arrays) they are held in."""
        return self._arrays[0] if self._single else self._arrays


class BatchedArrays(PyDataset):
    def __init__(self, arrays, single, batch_size, drop_remainder):
        super().__init__()
        self._arrays, self._single, self._size = arrays, single, batch_size
        n = len(arrays[0])
        self._count = n // batch_size if drop_remainder else math.ceil(n / batch_size)

    def __len__(self):
        return self._count

    def __getitem__(self, index):
        if not -self._count <= index < self._count:
            raise IndexError(f"batch {index} of {self._count}")
        index %= self._count
        parts = tuple(a[index * self._size:(index + 1) * self._size] for a in self._arrays)
        return parts[0] if self._single else parts


def _samples(dataset):
    """The dataset as a tuple of arrays of one length, and whether it was a single array."""
    if isinstance(dataset, ArrayDataset):
        arrays = dataset._arrays
        return arrays, dataset._single
    if isinstance(dataset, np.ndarray):
        return (dataset,), True
    if isinstance(dataset, (list, tuple)):
        arrays = tuple(np.asarray(a) for a in dataset)
        if not arrays or any(a.ndim == 0 for a in arrays) or len({len(a) for a in arrays}) != 1:
            raise ValueError("split_dataset: a list or tuple must hold arrays of one length, got lengths "
                             f"{[np.shape(a)[:1] for a in arrays]}")
        return arrays, False
    if hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):  # a PyTorch Dataset
        elements = [to_numpy(dataset[i]) for i in range(len(dataset))]
    elif hasattr(dataset, "__iter__"):  # an unbatched tf.data.Dataset
        elements = [to_numpy(e) for e in dataset]
    else:
        raise TypeError(f"split_dataset: dataset must be arrays, a tuple of arrays, a PyTorch Dataset or a tf.data "
                        f"Dataset, got {type(dataset).__name__}")
    if not elements:
        raise ValueError("split_dataset: the dataset is empty")
    if isinstance(elements[0], (tuple, list)):
        return tuple(np.stack([np.asarray(e[k]) for e in elements]) for k in range(len(elements[0]))), False
    return (np.stack([np.asarray(e) for e in elements]),), True


def _sizes(left, right, total):
    """(left, right) sample counts from Keras' left_size / right_size (ints, or fractions)."""
    def kind(v, name):
        if v is None:
            return None
        fraction = isinstance(v, float)
        if not fraction and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise TypeError(f"Invalid `{name}` Type. Expected: int or float or None, Received: type={type(v).__name__}")
        if not 0 < v < (1 if fraction else total):
            raise ValueError(f"`{name}` should be either a positive integer smaller than {total}, or a float within "
                             f"the range `[0, 1]`. Received: {name}={v}")
        return round(v * total) if fraction else int(v)
    if left is None and right is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. Received: "
                         "left_size=None and right_size=None")
    if isinstance(left, float) and isinstance(right, float) and left + right > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be less than or equal "
                         "to 1.")
    a, b = kind(left, "left_size"), kind(right, "right_size")
    a = total - b if a is None else a
    b = total - a if b is None else b
    if a + b > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the {total}. Received: "
                         f"left_size + right_size = {a + b} and total_length = {total}")
    if a == 0 or b == 0:
        raise ValueError(f"with a dataset of {total} samples, left_size={left} and right_size={right} leave one "
                         "side empty")
    return a, b


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """(left, right) as Keras 3: the samples shuffled (Python's random.shuffle with `seed`) when
    asked, the first left_size to the left, the last right_size to the right."""
    arrays, single = _samples(dataset)
    total = len(arrays[0])
    order = list(range(total))
    if shuffle:
        random.Random(random.randint(0, int(1e6)) if seed is None else seed).shuffle(order)
    left, right = _sizes(left_size, right_size, total)
    picks = (np.asarray(order[:left]), np.asarray(order[total - right:]))

    def side(rows):
        taken = tuple(a[rows] for a in arrays)
        return ArrayDataset(taken[0] if single else taken)
    return side(picks[0]), side(picks[1])
