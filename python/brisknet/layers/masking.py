"""Keras' masks: which steps of a sequence are padding. A layer that makes a mask (Embedding with
mask_zero=True, Masking) gives it to the layers after it, each passing it on (supports_masking,
compute_mask) until a layer consumes it (a recurrent layer returning its last output, global
average pooling) or drops it; a layer whose call() takes `mask` (or `<argument>_mask`) gets it,
and the loss skips the masked positions of the model's output (losses/positions.py).

Masks are booleans (batch, steps), computed at run time beside the values: in a Sequential or
functional model by forward() below, inside a traced call() as `_keras_mask` on the tensors."""
from __future__ import annotations

import numpy as np

from .layer import Layer


class Masking(Layer):
    """keras.layers.Masking(mask_value=0.0): steps whose features all equal mask_value are masked
    (and set to 0)."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float, np.integer, np.floating)):
            raise ValueError(f"Masking: mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)

    def compute_mask(self, inputs, mask=None):
        from .. import ops
        return ops.any(ops.not_equal(inputs, self.mask_value), axis=-1)

    def forward(self, x, training):
        self._keep = np.any(x != self.mask_value, axis=-1, keepdims=True)
        return np.where(self._keep, x, 0).astype(x.dtype, copy=False)

    def backward(self, dy, need_dx):
        return np.where(self._keep, dy, 0).astype(dy.dtype, copy=False) if need_dx else None

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


def takes_mask(layer) -> bool:
    """Whether the layer's forward pass reads its input's mask."""
    if layer._is_custom:
        from . import custom
        return bool(custom.mask_arguments(layer, 1 if not layer.takes_several_inputs else 2))
    return getattr(layer, "_TAKES_MASK", False)


def forward(layer, x, mask, training):
    """layer.forward with Keras' masks: (its output, the output's mask)."""
    if mask is not None and (any(m is not None for m in mask) if isinstance(mask, list) else True) and \
            takes_mask(layer):
        y = layer.forward(x, training, mask=mask)
    else:
        y = layer.forward(x, training)
    return y, output_mask(layer, x, mask)


def output_mask(layer, x, mask):
    """The mask of a layer's output (on arrays), or None."""
    if not layer.supports_masking:
        return None
    if mask is None and not _makes_masks(layer):
        return None
    m = layer.compute_mask(x, mask)
    if isinstance(m, (list, tuple)):  # (a layer of several outputs: the first one's)
        m = m[0]
    return None if m is None else np.asarray(m, bool)


def _makes_masks(layer) -> bool:
    """A layer that may give a mask to an input that has none."""
    return getattr(layer, "mask_zero", False) or isinstance(layer, Masking) or (
        isinstance(layer, Layer) and layer._is_custom and type(layer).compute_mask is not Layer.compute_mask)
