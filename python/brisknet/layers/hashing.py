"""keras.layers.Hashing, as Keras 3 on TensorFlow: each value (a string, or an integer's decimal
digits; floats cut to integers first) to a bin, FarmHash's Fingerprint64 modulo num_bins, or
SipHash-2-4 keyed by a salt (hashing.py: TensorFlow's bits); with mask_value, bin 0 is the mask's
and the others hash into 1..num_bins - 1. Like the lookups it runs in the input pipeline, or at the
front of a model that takes strings."""
from __future__ import annotations

import numpy as np

from .. import hashing
from .category_encoding import encode
from .layer import Layer
from .text_input import text_input

MODES = ("int", "one_hot", "multi_hot", "count")


class Hashing(Layer):
    """keras.layers.Hashing(num_bins, mask_value=None, salt=None, output_mode='int', sparse=False)."""

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False, **kwargs):
        kwargs.pop("dtype", None)  # (Keras' configs: int64 or floatx, as the output mode says)
        super().__init__(**kwargs)
        where = f"Hashing {self.name!r}"
        if num_bins is None or isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or \
                num_bins < 1:
            raise ValueError(f"{where}: num_bins must be a positive int, got {num_bins!r}")
        if output_mode not in MODES:
            raise ValueError(f"{where}: output_mode must be one of {MODES}, got {output_mode!r}")
        if sparse:
            raise NotImplementedError(f"{where}: sparse outputs are not supported")
        self.num_bins, self.mask_value, self.salt = int(num_bins), mask_value, hashing.salt_key(salt, where)
        self.output_mode = output_mode

    def __call__(self, inputs, training=None):
        from .symbolic import is_symbolic
        if is_symbolic(inputs):
            return text_input(self, inputs)  # (the first layer of a model of strings)
        return self._hash(inputs)

    def _hash(self, inputs):
        if hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):
            inputs = inputs.numpy()
        a = np.asarray(inputs, dtype=object if isinstance(inputs, (list, tuple)) else None)
        if a.dtype == object and a.size and all(isinstance(v, (int, np.integer)) for v in a.reshape(-1)):
            a = a.astype(np.int64)
        bins = self.num_bins - 1 if self.mask_value is not None and self.num_bins > 1 else self.num_bins
        out = np.array([self._bin(v, bins) for v in a.reshape(-1).tolist()], np.int64).reshape(a.shape)
        return out if self.output_mode == "int" else encode(out, self.output_mode, self.num_bins)

    def _bin(self, value, bins) -> int:
        if self.mask_value is not None and self.num_bins > 1 and value == self.mask_value:
            return 0
        if isinstance(value, bytes):
            data = value
        elif isinstance(value, str):
            data = value.encode("utf-8")
        elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"Hashing {self.name!r}: expected strings or numbers, got {type(value).__name__}")
        else:
            if isinstance(value, (float, np.floating)) and not np.isfinite(value):
                raise ValueError(f"Hashing {self.name!r}: cannot hash {value!r}")
            data = str(int(value)).encode()  # (floats cut to integers, as Keras)
        digest = hashing.fingerprint64(data) if self.salt is None else hashing.siphash(self.salt, data)
        return digest % bins + (1 if bins != self.num_bins else 0)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        return shape[:-1] + (self.num_bins,) if shape else (self.num_bins,)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "mask_value": self.mask_value, "salt": self.salt,
                "output_mode": self.output_mode, "sparse": False}
