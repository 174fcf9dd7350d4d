"""A subclassed model's traced call() lowered onto the engine's layer kinds, when it can be: then
the engine runs it as it runs a functional model (engine._graph_specs reads the fields graph.Graph
has: n_inputs, outputs, nodes with layer/inputs/output, shared_layers), and the traced program on
the Python path stays the reference it is held to.

Built-in layers are nodes as they are. Of the ops a custom layer writes, the engine takes the
ones a Dense stack is made of, fused as its Dense kernel fuses them: ops.matmul(x, kernel) with an
optional `+ bias` and activation after it (the kernel and bias: a custom layer's variables), an
activation or a softmax over the features, and the sum of two tensors of one shape. Anything else
(another op, add_loss, assign, a random draw) keeps the model on the Python path, and the reason
says which op."""
from __future__ import annotations

import math
from collections import Counter

from .. import _core, kernels, regularizers
from ..autodiff.rules import Primitive


class LayerNode:
    def __init__(self, layer, inputs, output, key=None):
        self.layer, self.inputs, self.output = layer, inputs, output
        self.key = key if key is not None else id(layer)  # the same in the training and inference traces


class LayerGraph:
    """Tensors numbered as in graph.Graph: the input is 0, node k makes tensor k + 1."""

    def __init__(self, nodes, output):
        self.n_inputs = 1
        self.nodes = nodes
        self.outputs = [output]
        calls: dict = {}
        for node in nodes:
            calls.setdefault(id(node.layer), []).append(node)
        self.shared_layers = {key: ns for key, ns in calls.items() if len(ns) > 1}

    def structure(self) -> list:
        return [(n.key, tuple(n.inputs)) for n in self.nodes] + [self.outputs[0]]


class OpsNode:
    """Ops of a custom layer that one engine layer computes (no weights of its own: a dense
    node's are the custom layer's variables)."""

    lowered = True
    _weights: list = []

    def __init__(self, name, spec):
        self.name, self._spec = name, spec

    def engine_spec(self, offset_of):
        return self._spec(offset_of)


def _weight(var):
    return var._layer._weights[var._index]


def _regularizer(var):
    return dict(var._layer.weight_regularizers()).get(var._index)


def _dense(kernel, bias, act, alpha, name):
    def spec(offset_of):
        penalties = regularizers.engine_penalties(_regularizer(kernel), _regularizer(bias) if bias else None)
        if penalties is None:
            return None
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs = _core.LayerKind.dense, kernel.shape[0], kernel.shape[1]
        s.kernel_offset = offset_of(_weight(kernel))
        s.bias_offset = offset_of(_weight(bias)) if bias is not None else -1
        s.activation, s.alpha, s.trainable = kernels.ACTIVATIONS[act], alpha, kernel.trainable
        s.kernel_penalty, s.bias_penalty = penalties
        return [s]
    return OpsNode(name, spec)


def _elementwise(kind, size, name, act="linear", alpha=0.0):
    def spec(offset_of):
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs = kind, size, size
        s.activation, s.alpha = kernels.ACTIVATIONS[act], alpha
        return [s]
    return OpsNode(name, spec)


def _activation_of(node):
    """(name, alpha) of an activation op the engine computes on a sample's features, else None."""
    x = node.inputs[0]
    if node.op.name == "activation" and node.attrs["name"] in kernels.ACTIVATIONS:
        name = node.attrs["name"]
        return name, kernels._alpha(name, node.attrs.get("alpha"))
    if node.op.name in ("softmax", "log_softmax") and len(x.shape) == 2 and node.attrs["axis"] in (-1, 1):
        return node.op.name, 0.0
    return None


def layer_graph(program):
    """(LayerGraph, None) for a traced program the engine can run, else (None, why not)."""
    if len(program.inputs) != 1 or len(program.outputs) != 1:
        return None, "several inputs or outputs"
    if program.losses or program.assigns:
        what = "add_loss" if program.losses else "a state update (assign)"
        return None, f"a call() with {what} (its traced graph runs on the Python path for now)"
    variables = {leaf.id: var for leaf, var in program.variables}
    uses = Counter(t.id for node in program.nodes for t in node.inputs)
    uses[program.outputs[0].id] += 1
    reader = {t.id: node for node in program.nodes for t in node.inputs}  # (meaningful where used once)
    made = {program.inputs[0].id: 0}  # traced tensor -> its number
    nodes, absorbed, bias_of = [], set(), {}

    def only_reader(t, name):
        node = reader.get(t.id)
        return node if uses[t.id] == 1 and node is not None and isinstance(node.op, Primitive) and \
            node.op.name == name else None

    def lowered_matmul(node):
        x, w = node.inputs
        kernel = variables.get(w.id)
        if x.id not in made or len(x.shape) != 2 or kernel is None or len(w.shape) != 2 or \
                kernel._layer is None or not kernel._layer._is_custom:
            return None
        out, bias, act, alpha = node.outputs[0], None, "linear", 0.0
        add = only_reader(out, "add")
        if add is not None:
            other = add.inputs[1] if add.inputs[0] is out else add.inputs[0]
            candidate = variables.get(other.id)
            if candidate is not None and other.shape == (w.shape[1],) and candidate._layer is kernel._layer and \
                    candidate.trainable == kernel.trainable:
                bias, out = candidate, add.outputs[0]
                absorbed.add(id(add))
        after = reader.get(out.id)
        activation = _activation_of(after) if after is not None and uses[out.id] == 1 and \
            isinstance(after.op, Primitive) else None
        if activation is not None:
            (act, alpha), out = activation, after.outputs[0]
            absorbed.add(id(after))
        if bias_of.setdefault(id(kernel), id(bias)) != id(bias):
            return None  # one kernel with two biases: not one shared Dense
        key = ("dense", id(kernel), id(bias), act, alpha)
        return _dense(kernel, bias, act, alpha, kernel._layer.name), [x], out, key

    def lowered(node):
        """(OpsNode, inputs, the traced tensor it makes, key) or None."""
        name, xs = node.op.name, node.inputs
        if name == "matmul":
            return lowered_matmul(node)
        if not xs or any(t.id not in made for t in xs):  # (a random draw reads no tensor)
            return None
        size = math.prod(xs[0].shape[1:])
        if name == "add" and len(xs) == 2 and xs[0].shape == xs[1].shape:
            return _elementwise(_core.LayerKind.add, size, "add"), xs, node.outputs[0], ("add",)
        activation = _activation_of(node)
        if activation is not None:
            return (_elementwise(_core.LayerKind.activation, size, activation[0], *activation), xs,
                    node.outputs[0], ("activation",) + activation)
        return None

    for node in program.nodes:
        if id(node) in absorbed:
            continue
        if isinstance(node.op, Primitive):
            hit = lowered(node)
            if hit is None:
                return None, (f"a call() with keras.ops.{node.op.name} where the engine has no such layer (its "
                              "traced graph runs on the Python path for now)")
            layer, xs, out, key = hit
        else:
            if node.attrs["training"] != program.trace.training:
                return None, f"layer {node.op.name!r} called with training={node.attrs['training']} in call()"
            layer, xs, out, key = node.op, node.inputs, node.outputs[0], None
        if any(t.id not in made for t in xs):
            return None, f"layer {layer.name!r} called on a constant or a variable"
        nodes.append(LayerNode(layer, [made[t.id] for t in xs], len(nodes) + 1, key))
        made[out.id] = len(nodes)
    if not nodes or program.outputs[0].id not in made:
        return None, "a call() that returns no layer's output"
    return LayerGraph(nodes, made[program.outputs[0].id]), None
