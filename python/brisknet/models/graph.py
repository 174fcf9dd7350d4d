"""The graph of a functional model: the layer calls (nodes) that lead from keras.Input tensors to
the outputs, in an order where every node comes after the nodes it reads, and the Python
reference path's forward and backward passes over it.

Tensors are numbered: the model's inputs first, then node k's output is tensor n_inputs + k. A
layer called several times (shared weights) has one node per call; each node keeps its own copy
of what the layer's forward pass stored for backward (and its own workspaces), and its own weight
gradients, which are summed into the layer's, last call first (as the engine's backward pass). A tensor read by several nodes gets
the sum of their gradients (fan-out)."""
from __future__ import annotations

import numpy as np

from ..layers import InputSpec, masking
from ..layers.symbolic import is_symbolic

class Node:
    """One call of `layer` on tensors `inputs` (indices), making tensor `output`. A call of several
    outputs (an RNN's return_state) is one node per output: part 0 runs the call, each other part
    k reads output k of it (its one input is part 0's tensor)."""

    def __init__(self, layer, inputs, output, serial, part=0):
        self.layer, self.inputs, self.output = layer, list(inputs), output
        self.part = part
        self.parts: list = []  # part 0: the call's outputs of this step, and their gradients (backward)
        self.serial = serial  # when the call was recorded
        self.call_index = 0  # its place among the layer's calls in this graph, in recording order (Keras')
        self.shared = False  # the layer has other nodes: state, workspaces and gradients per node
        self.state: dict = {}
        self.buffers: dict = {}
        self.grads: list = []


class Graph:
    def __init__(self, inputs, outputs):
        for t in inputs:
            if not isinstance(t, InputSpec):
                raise ValueError("Model: inputs must be what keras.Input(...) returned, got "
                                 f"{type(t).__name__}")
        if len({id(t) for t in inputs}) != len(inputs):
            raise ValueError("Model: an Input is given twice among the inputs")
        for t in outputs:
            if not is_symbolic(t):
                raise TypeError(f"Model: outputs must come from keras.Input(...) and layer calls, got "
                                f"{type(t).__name__}")
        self.inputs, self.n_inputs = list(inputs), len(inputs)
        self.nodes: list[Node] = []
        index = {id(t): i for i, t in enumerate(inputs)}  # tensor -> its number
        first_met, post = self._search(outputs, index)
        self.outputs = [index[id(t)] for t in outputs]
        if any(i < self.n_inputs for i in self.outputs):
            raise ValueError("Model: an output is one of the inputs; a model needs layers between its inputs and "
                             "each output")
        used = {i for node in self.nodes for i in node.inputs} | set(self.outputs)
        for i, t in enumerate(inputs):
            if i not in used:
                raise ValueError(f"Model: the input{_named(t)} (#{i}) is not used to compute the outputs")
        self.operations = self._keras_order(post, first_met)
        self.layers = [op for op in self.operations if not isinstance(op, InputSpec)]
        calls: dict = {}
        for node in self.nodes:
            if not node.part:
                calls.setdefault(id(node.layer), []).append(node)
        for nodes in calls.values():
            for k, node in enumerate(sorted(nodes, key=lambda n: n.serial)):
                node.shared, node.call_index = len(nodes) > 1, k
        for node in self.nodes:
            if node.part:
                node.shared, node.call_index = False, self._call_of(node).call_index
        self.shared_layers = {key: nodes for key, nodes in calls.items() if len(nodes) > 1}
        names = [t.name for t in inputs] + [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"Model: all layers must have unique names; {dup} used by different layers")

    def _search(self, outputs, index):
        """Depth-first from the outputs, without recursion (deep models), appending each node after
        its inputs' nodes (post-order: the order nodes run in). Returns each layer's place in the
        search when first met (pre-order, as Keras' _build_map numbers them) and the post-order of
        the tensors, inputs included."""
        first_met: dict = {}
        post: list = []

        def pending(t):
            return id(t) not in (first_met if isinstance(t, InputSpec) else index)

        for out in outputs:
            stack = [(out, False)]
            while stack:
                t, expanded = stack.pop()
                if expanded:
                    index[id(t)] = self.n_inputs + len(self.nodes)
                    self.nodes.append(Node(t.layer, [index[id(s)] for s in t.inputs], index[id(t)], t.serial,
                                           getattr(t, "part", 0)))
                    self.nodes[-1].sample_shape = tuple(t.sample_shape)  # as declared (None: unknown)
                    post.append(index[id(t)])
                    continue
                if not pending(t):
                    continue
                if isinstance(t, InputSpec):
                    if id(t) not in index:
                        raise ValueError(f"Model: the outputs are computed from an Input{_named(t)} that is not "
                                         "among the model's inputs")
                    first_met[id(t)] = len(first_met)
                    post.append(index[id(t)])
                    continue
                first_met.setdefault(id(t.layer), len(first_met))
                stack.append((t, True))
                stack.extend((s, False) for s in reversed(t.inputs) if pending(s))
        return first_met, post

    def _op(self, i):
        """The layer (or InputLayer) that makes tensor i."""
        return self.inputs[i] if i < self.n_inputs else self.nodes[i - self.n_inputs].layer

    def _keras_order(self, post, first_met) -> list:
        """The layers (InputLayers too) in Keras' order (map_graph): by depth, the longest way to
        an output first, ties in the order the search first met them. It is model.layers' order
        and so the weights' order."""
        depth_of_tensor: dict = {}
        depth_of_op: dict = {}
        for i in reversed(post):
            op = id(self._op(i))
            d = max(depth_of_tensor.setdefault(i, 0), depth_of_op.get(op, 0))
            depth_of_op[op], depth_of_tensor[i] = d, d
            if i >= self.n_inputs:
                node = self.nodes[i - self.n_inputs]
                step = 0 if node.part else 1  # (an output part is the same call as the one it reads)
                for j in node.inputs:
                    depth_of_tensor[j] = max(d + step, depth_of_tensor.get(j, 0))
        ops = list({id(self._op(i)): self._op(i) for i in post}.values())
        return sorted(ops, key=lambda op: (-depth_of_op[id(op)], first_met[id(op)]))

    def tensor_label(self, i) -> str:
        """Keras' name of tensor i: layer[call][output], the call counted among that layer's calls."""
        if i < self.n_inputs:
            return f"{self.inputs[i].name}[0][0]"
        node = self.nodes[i - self.n_inputs]
        return f"{node.layer.name}[{node.call_index}][{node.part}]"

    def calls_of(self, layer) -> list:
        """The layer's calls in this graph (their part-0 nodes), in recording order."""
        return sorted((n for n in self.nodes if n.layer is layer and not n.part), key=lambda n: n.serial)

    def _call_of(self, node) -> Node:
        """The node that runs the call an output part reads."""
        return self.nodes[node.inputs[0] - self.n_inputs] if node.part else node

    def is_chain(self) -> bool:
        """One input, one output, each node reading the one before, no layer called twice: what
        the engine runs (as a Sequential)."""
        return self.n_inputs == 1 and len(self.outputs) == 1 and not self.shared_layers and all(
            node.inputs == [node.output - 1] and not node.part and not self._several(node) for node in self.nodes)

    @staticmethod
    def _several(node) -> bool:
        return bool(node.layer.__dict__.get("_output_shapes"))

    def args_of(self, node, values):
        """A node's argument (a list for a merge layer) from all tensors' values or shapes."""
        s = [values[i] for i in node.inputs]
        return s if node.layer.takes_several_inputs else s[0]

    @staticmethod
    def _shape_of(node) -> tuple:
        """The sample shape of a node's tensor (output `part` of its layer's call)."""
        if node.part:
            return tuple(node.layer._output_shapes[node.part])
        return tuple(node.layer.output_shape)

    def sample_shapes(self) -> list:
        """Every tensor's per-sample shape, after the layers are built."""
        shapes = [tuple(t.sample_shape) for t in self.inputs]
        for node in self.nodes:
            shapes.append(self._shape_of(node))
        return shapes

    def build_layers(self, input_shapes) -> None:
        """Each layer's shapes for inputs of these (concrete) sample shapes, from its first call
        (later calls were checked when recorded)."""
        shapes = [tuple(s) for s in input_shapes]
        built = set()
        for node in self.nodes:
            if id(node.layer) not in built and not node.part:
                node.layer.build_sample(self.args_of(node, shapes))
                built.add(id(node.layer))
            shapes.append(self._shape_of(node))

    def fit_layers(self, input_shapes) -> None:
        """The layers' shapes re-fitted to inputs of other sizes where keras.Input left them unknown."""
        shapes = [tuple(s) for s in input_shapes]
        for node in self.nodes:
            if not node.part:
                node.layer._fit_to(self.args_of(node, shapes))
            shapes.append(self._shape_of(node))

    def bind_nodes(self) -> None:
        """Per-call gradients and workspaces of shared layers, for the layers' (new) weights."""
        for node in self.nodes:
            node.grads = [np.zeros_like(g) for g in node.layer._grads] if node.shared else []
            node.buffers, node.state = {}, {}

    # ---------------------------------------------------------------- the reference path
    def forward(self, xs, training):
        values, masks = list(xs), [None] * len(xs)  # every tensor's value and Keras mask
        for node in self.nodes:
            layer = node.layer
            if node.part:  # output `part` of the call before it
                values.append(self._call_of(node).parts[node.part])
                masks.append(None)
                continue
            if node.shared:
                layer._buffers = node.buffers
                layer._call_slot = node.call_index  # (a custom layer: this call's own traced program)
            value, mask = masking.forward(layer, self.args_of(node, values), self.args_of(node, masks), training)
            layer.__dict__.pop("_call_slot", None)
            if isinstance(value, list):  # (several outputs: the others go to the nodes of its parts)
                node.parts, value = value, value[0]
            values.append(value)
            masks.append(mask)
            if node.shared:  # what this call stored for its backward pass (and the layer's counters)
                node.state = dict(layer.__dict__)
        self.output_masks = [masks[i] for i in self.outputs]  # (the loss skips the masked positions)
        return [values[i] for i in self.outputs]

    def _carries_gradient(self) -> list:
        """carries[i]: whether tensor i depends on a weight, so that a gradient reaching it has
        somewhere to go (the model's inputs, and what weightless layers alone made of them - the
        augmentation in front of a convnet - do not)."""
        carries = [False] * (self.n_inputs + len(self.nodes))
        for node in self.nodes:
            layer = node.layer
            carries[node.output] = layer._is_custom or bool(layer.weights) or any(carries[i] for i in node.inputs)
        return carries

    def backward(self, douts) -> None:
        """Weight gradients (into the layers' gradient buffers) from d(loss)/d(each output)."""
        carries = self.__dict__.get("_carries")
        if carries is None:  # (the graph's layers and their weights are fixed once built)
            carries = self._carries = self._carries_gradient()
        grads = {}
        for i, d in zip(self.outputs, douts):
            grads[i] = d if i not in grads else grads[i] + d
        pending = {}  # id(part-0 node) -> the gradients of its call's other outputs
        seen = set()  # the layers whose backward ran
        for node in reversed(self.nodes):
            d = grads.pop(node.output, None)
            if node.part:
                if d is not None:
                    pending.setdefault(id(self._call_of(node)), {})[node.part] = d
                continue
            others = pending.pop(id(node), None)
            if others is not None or (d is not None and node.parts):
                d = [d] + [(others or {}).get(k) for k in range(1, len(node.parts))]
            if d is None:  # an output no loss reads
                continue
            layer = node.layer
            need = [carries[i] for i in node.inputs]
            # a shared layer's sublayers (a custom layer's, an LSTM's cell): each call writes their
            # gradients anew, so the calls already done are added back after it
            subs = layer._weight_holders()[1:] if node.shared else []
            done = [[g.copy() for g in h._grads] for h in subs] if id(layer) in seen else []
            seen.add(id(layer))
            if node.shared:
                layer.__dict__.update(node.state)
                layer._grads = node.grads
            try:
                dx = layer.backward(d, need_dx=any(need))
            finally:
                if node.shared:  # the layer as its last call left it (counters, its own gradients)
                    layer.__dict__.update(self._last_call(layer).state)
            for holder, before in zip(subs, done):
                for g, b in zip(holder._grads, before):
                    g += b
            if not any(need):
                continue
            for i, di, needed in zip(node.inputs, dx if layer.takes_several_inputs else [dx], need):
                if needed:
                    grads[i] = di if i not in grads else grads[i] + di
        for nodes in self.shared_layers.values():  # a shared layer's gradient: its calls' sum, last call first
            for j, g in enumerate(nodes[0].layer._grads):  # (the order the engine's backward adds them in)
                g[...] = nodes[-1].grads[j]
                for node in reversed(nodes[:-1]):
                    g += node.grads[j]

    def _last_call(self, layer):
        return self.shared_layers[id(layer)][-1]


def _named(t) -> str:
    return f" {t.name!r}" if getattr(t, "name", None) else ""
