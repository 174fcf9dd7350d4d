"""The CUDA engine: the model's layers run by brisknet._cuda.Network on one GPU. Parameters,
gradients, optimizer state and the training data stay on the device across runs and epochs; a
run of steps replays one CUDA graph of a step; the host copies of the weights and optimizer state
are brought up to date only when something reads them (ParameterStore.to_host)."""
from __future__ import annotations

import numpy as np

from .. import _core, cuda
from ..layers import Dropout
from .cpu_engine import _loss_spec, signature
from .engine import Engine, ParameterStore, layer_specs


class DeviceParameterStore(ParameterStore):
    """The weights and the optimizer's state on the GPU, with the model's host arrays as the copy
    get_weights, saving and callbacks read."""

    def __init__(self, engine, params, grads):
        super().__init__(params, grads)
        self.engine = engine
        self.device = f"cuda:{engine.device_index}"
        self.stale = False  # the host copies are behind the device's (a run trained there)

    def to_host(self) -> None:
        if not self.stale:
            return
        self.engine.net.get_params(self.params, self.params.size)
        self._state_to_host()
        self.stale = False

    def _state_to_host(self) -> None:
        if self.engine.bound_optimizer is not None:
            for slot, array in enumerate(self.engine.bound_state):
                if array is not None:
                    self.engine.net.get_state(slot, array, self.params.size)

    def from_host(self) -> None:
        """The host weights are the newer (written since to_host): they go to the device. The
        optimizer's state follows from the host before the next run; where the device's is the
        newer (to_host was not called first), it comes to the host first, so none is lost."""
        if self.stale:
            self._state_to_host()
        self.engine.net.set_params(self.params, self.params.size)
        self.engine.bound_optimizer = None
        self.stale = False


class CudaEngine(Engine):
    def __init__(self, model, training=True, specs=None, device=0):
        cuda.require(device)
        from .. import _cuda  # the CUDA module loads only when a model asks for the GPU
        self.model = model
        self.device_index = device
        self.training = training
        if specs is None:
            specs, reason = layer_specs(model)
            if reason:
                raise ValueError(f"the engine cannot run this model: {reason}")
        loss = _loss_spec(model) if training else _core.LossSpec(_core.LossKind.mean_squared_error)
        self.net = _cuda.Network(specs, loss, model._params.size, device)
        self.place = ("cuda", device)
        self.signature = signature(model, specs, training)
        self.layers_signature = signature(model, specs, False)
        self.sparse = training and loss.kind == _core.LossKind.sparse_categorical_crossentropy
        self.dropouts = [l for l in model._run_order() if isinstance(l, Dropout) and l.rate > 0]
        self.bound_optimizer, self.bound_state = None, []
        self.data = None  # the arrays whose copy is on the device, and their fingerprint
        self.parameters = DeviceParameterStore(self, model._params, model._grads)
        self.parameters.from_host()

    def serves_inference(self, specs) -> bool:
        """Whether this (training) engine can also predict for the model as `specs` describe it:
        then its device weights are the current ones."""
        return self.layers_signature == signature(self.model, specs, False)

    def _bind_optimizer(self, opt, state) -> None:
        """The optimizer's state on the device: uploaded when the optimizer (or its arrays) changed."""
        if opt is self.bound_optimizer and len(state) == len(self.bound_state) and \
                all(a is b for a, b in zip(state, self.bound_state)):
            return
        self.parameters.to_host()
        self.net.clear_state()
        for slot, array in enumerate(state):
            if array is not None:
                self.net.set_state(slot, array, self.parameters.params.size)
        self.bound_optimizer, self.bound_state = opt, list(state)

    def _bind_data(self, x, y, sample_weight) -> None:
        """The training data on the device, uploaded when the arrays are other ones or their
        contents changed (a sample of them is compared)."""
        arrays = (x, y, sample_weight)
        mark = tuple(_fingerprint(a) for a in arrays)
        if self.data is not None and all(a is b for a, b in zip(arrays, self.data[0])) and self.data[1] == mark:
            return
        labels, targets = (y, None) if self.sparse else (None, y)
        self.net.set_data(x.reshape(x.shape[0], -1), labels, targets, sample_weight)
        self.data = (arrays, mark)

    def train(self, x, y, sample_weight, order, batch_size, reduce=None, shard=(0, 1), gradient_ready=None):
        if reduce is not None or tuple(shard) != (0, 1):
            raise NotImplementedError("data-parallel training on the GPU is not supported yet: train with one "
                                      "process per GPU on the CPU engine, or without a distribution")
        opt = self.model.optimizer
        if opt._size != self.parameters.params.size:
            opt.build(self.parameters.params.size)
        spec, state = opt.engine_spec()
        self._bind_optimizer(opt, state)
        self._bind_data(x, y, sample_weight)
        steps = -(-len(order) // batch_size)
        rates = np.array([opt.learning_rate_at(opt.iterations + i) for i in range(steps)], np.float64) \
            if opt.schedule is not None else np.full(steps, opt.learning_rate_at(opt.iterations), np.float64)
        calls = np.array([d._calls for d in self.dropouts], np.int64)
        self.parameters.stale = True
        try:
            return self.net.train(spec, rates, np.ascontiguousarray(order, np.int64), batch_size, calls,
                                  cuda.allow_tf32)
        finally:
            opt.finish_steps(spec)
            for layer, c in zip(self.dropouts, calls):
                layer._calls = int(c)

    def predict(self, x, batch_size):
        if not self.training:  # an inference-only engine: the host weights may have moved on (the CPU trained)
            self.parameters.from_host()
        return self.net.predict(np.ascontiguousarray(x.reshape(x.shape[0], -1), np.float32), batch_size,
                                cuda.allow_tf32)


def _fingerprint(a):
    """A cheap mark of an array's contents: its address, shape and a strided sample's bytes."""
    if a is None:
        return None
    flat = a.reshape(-1)
    step = max(1, flat.size // 4096)
    return (a.__array_interface__["data"][0], a.shape, flat[::step].tobytes())
