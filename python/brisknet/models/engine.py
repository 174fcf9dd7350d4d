"""The engine seam. An Engine trains and predicts for one model on one device: `train` runs a
run of steps (forward, loss, backward, reduce, update) in one call and returns each batch's loss
and the predictions it made, `predict` runs inference, and `parameters` is the model's
ParameterStore (where the weights live). The CPU engine (cpu_engine.py) is one implementation;
another device's engine is a second, chosen by engines.engine_for, and nothing above this seam changes.

The Python per-layer path (trainers/python_step.py) stays as the reference every engine is tested
against (tests/test_engine.py); compile(run_eagerly=True) chooses it, as in Keras.
"""
from __future__ import annotations

from ..losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, MeanAbsoluteError,
                      MeanSquaredError, SparseCategoricalCrossentropy)
from .. import _core
from ..layers import Activation, Dense

# The losses the engines compute (exact types: a subclass may change the formula).
LOSS_KINDS = {
    SparseCategoricalCrossentropy: _core.LossKind.sparse_categorical_crossentropy,
    CategoricalCrossentropy: _core.LossKind.categorical_crossentropy,
    BinaryCrossentropy: _core.LossKind.binary_crossentropy,
    MeanSquaredError: _core.LossKind.mean_squared_error,
    MeanAbsoluteError: _core.LossKind.mean_absolute_error,
    Huber: _core.LossKind.huber,
}


class ParameterStore:
    """A model's flat parameter and gradient buffers and where they live. The host arrays are
    what get_weights, saving and callbacks read: `to_host()` brings them up to date first, and
    `from_host()` tells the engine they changed (set_weights, loading). On the CPU the engine
    trains the host arrays themselves, so both are no-ops; a device engine copies there. Code that
    writes the host arrays (set_weights, loading, a variable's assign) calls the model's
    _weights_to_host() first and _weights_from_host() after."""

    device = "cpu"

    def __init__(self, params, grads):
        self.params, self.grads = params, grads

    def to_host(self) -> None:
        pass

    def from_host(self) -> None:
        pass


class Engine:
    """The interface every device's engine implements (see the module docstring)."""

    parameters: ParameterStore
    place = ("cpu", 0)  # the device: ("cpu", 0) or ("cuda", index)

    def serves_inference(self, specs) -> bool:
        """Whether this training engine also predicts for the model (`specs`: layer_specs of it):
        a device engine does, so that predict reads the weights training left on the device."""
        return False

    def train(self, x, y, sample_weight, order, batch_size, reduce=None, shard=(0, 1), gradient_ready=None):
        """Trains on rows `order` of x in batches of batch_size, updating the model's optimizer
        (its step count and state). reduce(grads), if given, runs on each step's complete
        gradient before the update (e.g. an allreduce). shard=(i, n): this process trains on the
        i-th of n contiguous parts of each batch (data parallelism; reduce sums the parts).
        gradient_ready(offset, size), with reduce: told during backward as each trainable
        variable's gradient is complete (last layer first), to start reducing it early. Returns
        (each batch's loss, or this process's part of it, the predictions of the rows trained, in
        `order`'s order; rows of other processes' parts are left unset)."""
        raise NotImplementedError

    def predict(self, x, batch_size):
        raise NotImplementedError


def layer_specs(model):
    """The model's layers as _core.LayerSpec, or the reason the engine cannot run one of them."""
    offsets = {id(w): start for (start, _), w in zip(model._slices, (w for l in model._layers for w in l._weights))}

    def offset_of(w):
        return offsets[id(w)]
    if not model._runs_as_chain() or getattr(model, "_is_custom", False):  # (a subclassed model: its traced graph)
        return _graph_specs(model, offset_of)
    specs = []
    for layer in model._run_order():
        spec = layer.engine_spec(offset_of)
        if spec is None:
            return None, f"layer {type(layer).__name__} {layer.name!r}"
        specs.extend(spec)
    if not specs:
        return None, "no layer with work for the engine"
    return specs, None


def _graph_specs(model, offset_of):
    """A functional model's graph (or a subclassed model's, lowered: traced_graph.py) as specs in
    its nodes' order, each reading the specs that make its inputs (-1: the model's input); a
    layer with nothing to do (Flatten, Identity, ...) passes its input's spec on."""
    g, reason = model._engine_graph()
    if g is None:
        return None, reason
    if g.n_inputs != 1 or len(g.outputs) != 1:
        return None, "several inputs or outputs (the engine runs one of each for now)"
    for nodes in g.shared_layers.values():  # each call a spec of its own, on the same weights
        layer = nodes[0].layer
        if not isinstance(layer, (Dense, Activation)):
            return None, f"a shared {type(layer).__name__} layer (the engine shares Dense and Activation layers)"
    made = {0: -1}  # tensor -> the spec that makes it
    specs = []
    for node in g.nodes:
        layer = node.layer
        spec = layer.engine_spec(offset_of)
        if spec is None:
            return None, f"layer {type(layer).__name__} {layer.name!r}"
        sources = [made[i] for i in node.inputs]
        if not spec:
            if len(sources) != 1:
                return None, f"layer {type(layer).__name__} {layer.name!r}"
            made[node.output] = sources[0]
            continue
        for k, s in enumerate(spec):
            s.sources = sources if k == 0 else [len(specs) - 1]
            if s.sources == [len(specs) - 1]:
                s.sources = []  # the spec before (the engine's default: a chain, which the CUDA engine runs)
            specs.append(s)
        made[node.output] = len(specs) - 1
    if not specs or made[g.outputs[0]] != len(specs) - 1:
        return None, "a graph whose output is not its last layer's"
    return specs, None


def why_not(model) -> str | None:
    """None when an engine can train this model, else why the Python path trains it."""
    if model.run_eagerly:
        return "run_eagerly=True (the Python reference path)"
    _, reason = layer_specs(model)
    if reason:
        return reason
    if len(model._output_sample_shape) > 1:
        return "an output of several positions per sample (the loss per position runs on the Python path)"
    constrained = next((layer for layer in model._layers if layer.weight_constraints()), None)
    if constrained is not None:
        return f"layer {constrained.name!r} has weight constraints (projected after each update in Python)"
    if getattr(model, "_computes_own_loss", False):
        return "a compute_loss of its own (traced, run on the Python path)"
    if type(model.loss) not in LOSS_KINDS:
        return f"loss {type(model.loss).__name__} (computed in Python)"
    if model.optimizer.engine_spec() is None:
        return f"optimizer {type(model.optimizer).__name__} (a rule written in numpy)"
    return None
