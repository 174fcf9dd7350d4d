"""The CPU engine: the model's layers run by brisknet._core.Network, one C++ call per run of
steps with the GIL released, on the host arrays of the model's ParameterStore."""
from __future__ import annotations

import numpy as np

from .. import _core
from ..layers import Dropout
from .engine import LOSS_KINDS, Engine, ParameterStore, layer_specs


def _loss_spec(model):
    loss = model.loss
    return _core.LossSpec(LOSS_KINDS[type(loss)], bool(getattr(loss, "from_logits", False)), bool(model._fused),
                          float(getattr(loss, "delta", 1.0)))


def signature(model, specs, training=True):
    """What the C++ network built from `specs` (layer_specs(model)) depends on: when it changes,
    the engine is rebuilt."""
    fields = ("kind", "inputs", "outputs", "kernel_offset", "bias_offset", "activation", "alpha", "trainable",
              "rate", "seed", "stats_offset", "momentum", "epsilon", "window", "groups", "channels")
    layers = tuple(tuple(getattr(s, f) for f in fields) + (s.kernel_penalty.l1, s.kernel_penalty.l2,
                                                           s.bias_penalty.l1, s.bias_penalty.l2,
                                                           s.divide, tuple(s.scale), tuple(s.shift),
                                                           tuple(s.sources)) for s in specs)
    loss = None
    if training:
        spec = _loss_spec(model)
        loss = (spec.kind, spec.from_logits, spec.fused_softmax, spec.delta)
    return (id(model._params), layers, loss)


class CpuEngine(Engine):
    place = ("cpu", 0)

    def __init__(self, model, training=True, specs=None):
        self.model = model
        self.parameters = ParameterStore(model._params, model._grads)
        if specs is None:
            specs, reason = layer_specs(model)
            if reason:
                raise ValueError(f"the engine cannot run this model: {reason}")
        # inference has no loss: a placeholder
        loss = _loss_spec(model) if training else _core.LossSpec(_core.LossKind.mean_squared_error)
        self.net = _core.Network(specs, loss)
        self.dropouts = [l for l in model._run_order() if isinstance(l, Dropout) and l.rate > 0]  # the specs' order
        self.signature = signature(model, specs, training)
        self.sparse = training and loss.kind == _core.LossKind.sparse_categorical_crossentropy

    def train(self, x, y, sample_weight, order, batch_size, reduce=None, shard=(0, 1), gradient_ready=None):
        opt = self.model.optimizer
        if opt._size != self.parameters.params.size:
            opt.build(self.parameters.params.size)
        spec, state = opt.engine_spec()
        lr = opt.learning_rate_at(opt.iterations)
        if opt.schedule is not None:  # the schedule's value at each step of this run
            steps = -(-len(order) // batch_size)
            lr = np.array([opt.learning_rate_at(opt.iterations + i) for i in range(steps)], np.float64)
        labels, targets = (y, None) if self.sparse else (None, y)
        calls = np.array([d._calls for d in self.dropouts], np.int64)
        try:
            return self.net.train(self.parameters.params, self.parameters.grads, spec, state, lr,
                                  x.reshape(x.shape[0], -1), labels, targets, sample_weight,
                                  np.ascontiguousarray(order, np.int64), batch_size, calls, reduce, *shard,
                                  gradient_ready)
        finally:  # also when Ctrl-C ends the run early: the state matches the weights
            opt.finish_steps(spec)
            for layer, c in zip(self.dropouts, calls):
                layer._calls = int(c)

    def predict(self, x, batch_size):
        return self.net.predict(self.parameters.params, x.reshape(x.shape[0], -1), batch_size)
