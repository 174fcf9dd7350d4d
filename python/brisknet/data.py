"""Keras' data utilities: to_categorical, normalize, and PyDataset, a dataset that hands out
batches by index, for data that does not fit in memory or is made on the fly. Subclass it with
__len__ (batches per epoch) and __getitem__(i) -> (x, y) or (x, y, sample_weight) or x; fit,
evaluate and predict take it in place of arrays. brisknet reads its batches in order in the
calling thread (workers/use_multiprocessing are accepted and ignored)."""
from __future__ import annotations

import numpy as np


class PyDataset:
    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, use_multiprocessing, max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass


def to_categorical(x, num_classes=None):
    """One-hot rows (float64, as Keras) of integer class labels: shape x.shape + (num_classes,),
    a trailing axis of 1 dropped; num_classes defaults to max(x) + 1."""
    labels = np.asarray(x)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("to_categorical: labels must be integers")
    elif labels.dtype.kind not in "biu":
        raise TypeError(f"to_categorical: expected integer labels, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    flat = labels.reshape(-1)
    if num_classes is None:
        if flat.size == 0:
            raise ValueError("to_categorical: num_classes is needed for an empty array")
        num_classes = int(flat.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be a positive int, got {num_classes!r}")
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}), got {flat.min()}..{flat.max()}")
    out = np.zeros((flat.size, int(num_classes)))
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (int(num_classes),))


def normalize(x, axis=-1, order=2):
    """x divided by its `order`-norm along `axis` (zero vectors stay zero), as keras.utils.normalize."""
    x = np.asarray(x, dtype=np.float64 if np.asarray(x).dtype == np.float64 else np.float32)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)


def to_numpy(batch):
    """A batch with PyTorch or TensorFlow tensors in it (a DataLoader's, a tf.data pipeline's), as
    numpy arrays; numpy arrays and anything else pass as they are."""
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_numpy(b) for b in batch)
    if isinstance(batch, dict):
        return {k: to_numpy(v) for k, v in batch.items()}
    if isinstance(batch, np.ndarray):
        return batch
    detach = getattr(batch, "detach", None)  # a torch.Tensor (maybe needing grad, maybe on a GPU)
    if callable(detach) and hasattr(batch, "cpu"):
        return detach().cpu().numpy()
    numpy = getattr(batch, "numpy", None)  # a TensorFlow eager tensor
    if callable(numpy):
        return np.asarray(numpy())
    return batch
