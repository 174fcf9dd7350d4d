"""The C++ fast path of fit and predict: a Sequential of Dense layers (after an optional leading
Flatten) run by brisknet._core.Network, one C++ call per run of batches with the GIL released.

It calls the same kernels in the same order as the Python reference path in trainer.py, so both
produce bit-identical weights and history; tests/test_engine.py holds them to that. Models the
engine does not cover (other layers, regularizers, clipping, frozen layers, sample weights,
metrics other than accuracy, optimizers other than Adam/AdamW/SGD) train on the reference path.
"""
from __future__ import annotations

import numpy as np

from .. import _core, metrics as metrics_module, kernels
from ..layers import Dense, Flatten
from ..losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, MeanAbsoluteError,
                      MeanSquaredError, SparseCategoricalCrossentropy)
from ..optimizers import SGD, Adam, AdamW

_LOSS_KINDS = {
    SparseCategoricalCrossentropy: _core.LossKind.sparse_crossentropy,
    CategoricalCrossentropy: _core.LossKind.crossentropy,
    BinaryCrossentropy: _core.LossKind.binary_crossentropy,
    MeanSquaredError: _core.LossKind.mean_squared_error,
    MeanAbsoluteError: _core.LossKind.mean_absolute_error,
    Huber: _core.LossKind.huber,
}
_ACCURACY_KINDS = {
    metrics_module.SparseCategoricalAccuracy: _core.AccuracyKind.sparse,
    metrics_module.CategoricalAccuracy: _core.AccuracyKind.categorical,
    metrics_module.BinaryAccuracy: _core.AccuracyKind.binary,
}


def _dense_layers(model):
    layers = model._layers
    if layers and isinstance(layers[0], Flatten):
        layers = layers[1:]
    if not layers or not all(type(l) is Dense for l in layers):
        return None
    return layers


def why_not(model, metrics, sample_weight) -> str | None:
    """None when the engine can train this model, else the reason it cannot (for tests/debugging)."""
    layers = _dense_layers(model)
    if layers is None:
        return "only Dense layers (after an optional leading Flatten)"
    if any(l.kernel_regularizer or l.bias_regularizer or not l.trainable for l in layers):
        return "regularizers or frozen layers"
    if type(model.loss) not in _LOSS_KINDS:
        return f"loss {type(model.loss).__name__}"
    opt = model.optimizer
    if type(opt) not in (Adam, AdamW, SGD):
        return f"optimizer {type(opt).__name__}"
    if opt.clipnorm is not None or opt.clipvalue is not None or opt.global_clipnorm is not None:
        return "gradient clipping"
    if isinstance(opt, SGD) and opt.weight_decay:
        return "SGD with weight_decay"
    if sample_weight is not None:
        return "sample or class weights"
    if len(metrics) > 1 or any(type(m) not in _ACCURACY_KINDS for m in metrics):
        return "metrics other than one accuracy"
    if metrics and type(metrics[0]) is metrics_module.BinaryAccuracy and layers[-1].units != 1:
        return "binary accuracy over several outputs"
    return None


def _network_specs(model, layers):
    """(in, out, kernel offset, bias offset or -1, activation, alpha) of each Dense layer."""
    starts = iter(start for start, _ in model._slices)  # weights in order: kernel, bias
    offsets = {id(w): next(starts) for l in model._layers for w in l._weights}
    return [(layer.input_shape[0], layer.units, offsets[id(layer._weights[0])],
             offsets[id(layer._weights[1])] if layer.use_bias else -1, kernels.ACTIVATIONS[layer.activation],
             kernels.DEFAULT_ALPHA.get(layer.activation, 0.0)) for layer in layers]


class Inference:
    """predict for a built chain of Dense layers (after an optional Flatten) in one C++ call."""

    @staticmethod
    def applies(model) -> bool:
        return model.built and _dense_layers(model) is not None

    def __init__(self, model):
        self.model = model
        # the loss and accuracy settings only matter to training: placeholders here
        self.net = _core.Network(_network_specs(model, _dense_layers(model)), _core.LossKind.mean_squared_error,
                                 False, False, 1.0, _core.AccuracyKind.none)

    def predict(self, x, batch_size):
        return self.net.predict(self.model._params, x.reshape(x.shape[0], -1), batch_size)


class Engine:
    def __init__(self, model, metrics):
        self.model = model
        specs = _network_specs(model, _dense_layers(model))
        loss = model.loss
        accuracy = _ACCURACY_KINDS[type(metrics[0])] if metrics else _core.AccuracyKind.none
        self.sparse = isinstance(loss, SparseCategoricalCrossentropy)
        self.net = _core.Network(specs, _LOSS_KINDS[type(loss)], bool(getattr(loss, "from_logits", False)),
                                 bool(model._fused), float(getattr(loss, "delta", 1.0)), accuracy)

    def train(self, x, y, order, batch_size):
        """Trains on rows `order` of x (2-D float32) in batches; returns (batch losses, correct counts)."""
        model, opt = self.model, self.model.optimizer
        if opt._size != model._params.size:
            opt.build(model._params.size)
        x2 = x.reshape(x.shape[0], -1)
        lr = opt.learning_rate
        if opt.schedule is not None:  # the schedule's value at each step of this run
            steps = -(-len(order) // batch_size)
            lr = np.array([opt.learning_rate_at(opt.iterations + i) for i in range(steps)], np.float64)
        if isinstance(opt, Adam):
            args = ("adam", opt.m, opt.v, opt.vhat, lr, opt.beta_1, opt.beta_2, opt.epsilon,
                    opt.weight_decay or 0.0, 0.0, False)
        else:
            args = ("sgd", opt.velocity, None, None, lr, 0.0, 0.0, 0.0, 0.0, opt.momentum, opt.nesterov)
        labels, targets = (y, None) if self.sparse else (None, y)
        progress = np.zeros(1, np.int64)  # batches trained: written even when Ctrl-C stops the run
        try:
            losses, correct = self.net.train_batches(model._params, model._grads, *args, opt.iterations, x2,
                                                     labels, targets, np.ascontiguousarray(order, np.int64),
                                                     batch_size, progress)
        finally:
            opt.iterations += int(progress[0])  # the optimizer state matches the weights
        return losses, correct
