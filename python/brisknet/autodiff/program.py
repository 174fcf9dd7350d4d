"""A traced graph run on numpy: the forward pass node by node, then reverse mode over the same
nodes with the primitives' vector-Jacobian rules. Built-in layers are single nodes that run their
own fused forward and backward passes (their weight gradients go straight to the layer's gradient
buffers). This is the reference path the engine's runs are held to."""
from __future__ import annotations

import numpy as np

from .rules import Primitive
from .tracing import Tensor


class _Call:
    """What one call of a built-in layer keeps between its forward and backward pass when the
    layer has other calls in the graph: its workspaces, its state, its own weight gradients."""

    def __init__(self):
        self.buffers, self.state, self.grads = {}, {}, []


class Program:
    def __init__(self, trace, outputs, private_calls=False):
        """private_calls: every built-in layer's call keeps its state, workspaces and gradients
        apart (the program of one call of a layer shared by several calls in a graph)."""
        self.trace = trace
        self.outputs = list(outputs)
        self.losses = [(layer, t) for layer, t in trace.added_losses]
        self.assigns = list(trace.assigns)
        self.deferred = list(trace.deferred)
        self.variables = list(trace.variables.values())  # (leaf, Variable)
        self.inputs = list(trace.inputs)
        self.constants = [t for t in trace.tensors if t.kind == "const"]
        self.nodes = self._needed(trace)
        self.n = len(trace.tensors)
        calls: dict = {}
        for node in self.nodes:
            if not isinstance(node.op, Primitive):
                calls.setdefault(id(node.op), []).append(node)
        leaf_layers = {id(v._layer) for _, v in self.variables}
        # a layer read twice (or whose variables ops read too) keeps each call's state and gradients apart
        self._private = {key for key, nodes in calls.items() if len(nodes) > 1 or key in leaf_layers or private_calls}
        self._calls = {id(node): _Call() for nodes in calls.values() for node in nodes
                       if id(node.op) in self._private}
        self._layer_nodes = calls
        self.values: list = []
        self._saved: dict = {}  # id(node) -> what its primitive's forward saved for backward
        # the sizes it serves beside the traced ones (size_families.py): inputs' (index, axis)
        self.free_dims: frozenset = frozenset()
        self.base_shapes = [t.shape for t in self.inputs]
        self._output_dims = None

    def serve_sizes(self, shapes, free, output_dims) -> None:
        """Serve inputs of any size along `free` ((input, axis) pairs); output_dims: per output,
        per axis, a fixed size or the (input, axis) it takes."""
        self.base_shapes, self.free_dims, self._output_dims = [tuple(s) for s in shapes], frozenset(free), output_dims

    def takes(self, i, shape) -> bool:
        """Whether input i may have this shape: the traced one, or other sizes where it serves them
        (not 0: a -1 in a reshape cannot be resolved there)."""
        base = self.base_shapes[i]
        return shape == base or (len(shape) == len(base) and all(
            d == b or ((i, a) in self.free_dims and d != 0) for a, (d, b) in enumerate(zip(shape, base))))

    def output_shapes(self, input_shapes=None) -> list:
        """The outputs' shapes for inputs of these shapes (default: the traced ones)."""
        if self._output_dims is None or input_shapes is None:
            return [t.shape for t in self.outputs]
        return [tuple(d if isinstance(d, int) else input_shapes[d[0]][d[1]] for d in dims)
                for dims in self._output_dims]

    def _needed(self, trace):
        """The nodes that lead to an output, an added loss or a state update, in recording order."""
        want = {t.id for t in self.outputs} | {t.id for _, t in self.losses} | {t.id for _, t in self.assigns}
        want |= {a.id for _, args, kwargs in self.deferred for a in (*args, *kwargs.values()) if isinstance(a, Tensor)}
        keep = []
        for node in reversed(trace.nodes):
            if any(o.id in want for o in node.outputs):
                keep.append(node)
                want.update(t.id for t in node.inputs)
        return keep[::-1]

    def fit_layers(self) -> None:
        """The built-in layers' shapes as this program calls them (a layer called at other sizes
        by another program of the same model was re-fitted there)."""
        for nodes in self._layer_nodes.values():
            node = nodes[0]
            layer = node.op
            shapes = [t.shape[1:] for t in node.inputs[:len(node.inputs) - bool(node.attrs.get("masked"))]]
            layer._fit_to(shapes if layer.takes_several_inputs else shapes[0])

    @property
    def layers(self) -> list:
        """The built-in layers called as nodes, once each, in call order."""
        return [nodes[0].op for nodes in self._layer_nodes.values()]

    # ------------------------------------------------------------------ forward
    def forward(self, inputs, training, variables=None):
        """Runs the graph on `inputs` (arrays in the traced inputs' order); returns (outputs,
        added losses). variables: {id(Variable): array} to use instead of the variables' values
        (gradient checks in float64)."""
        vals = [None] * self.n
        for i, (t, x) in enumerate(zip(self.inputs, inputs)):
            if not self.takes(i, tuple(np.shape(x))):
                raise ValueError(f"expected an input of shape {self.base_shapes[i]}, got {np.shape(x)}")
            vals[t.id] = x
        for leaf, var in self.variables:
            vals[leaf.id] = var.value if variables is None else variables[id(var)]
        for t in self.constants:
            vals[t.id] = t.payload
        for node in self.nodes:
            args = [vals[t.id] for t in node.inputs]
            if isinstance(node.op, Primitive):
                with np.errstate(all="ignore"):
                    out = node.op.forward(*args, **node.attrs)
                if node.op.saves:
                    out, self._saved[id(node)] = out
                vals[node.outputs[0].id] = out if isinstance(out, np.ndarray) else np.asarray(out)
            else:
                vals[node.outputs[0].id] = self._layer_forward(node, args, training)
        self.values = vals
        for var, t in self.assigns:  # the step's state updates, after its forward pass
            var.assign(vals[t.id])
        for fn, args, kwargs in self.deferred:  # side effects on the step's values (metric updates)
            fn(*[vals[a.id] if isinstance(a, Tensor) else a for a in args],
               **{k: vals[a.id] if isinstance(a, Tensor) else a for k, a in kwargs.items()})
        return [vals[t.id] for t in self.outputs], [vals[t.id] for _, t in self.losses]

    def _layer_forward(self, node, args, training):
        layer = node.op
        mask = args[-1] if node.attrs.get("masked") else None  # (layers/masking.py)
        xs = [np.ascontiguousarray(a, np.float32) for a in (args[:-1] if mask is not None else args)]
        layer._fit_to([x.shape[1:] for x in xs] if layer.takes_several_inputs else xs[0].shape[1:])
        call = self._calls.get(id(node))
        if call is not None:
            layer._buffers = call.buffers
        extra = {"mask": mask} if mask is not None else {}
        out = layer.forward(xs if layer.takes_several_inputs else xs[0], node.attrs["training"], **extra)
        if call is not None:
            call.state = dict(layer.__dict__)
        return out

    # ------------------------------------------------------------------ backward
    def backward(self, output_grads, loss_grads=None, wrt_inputs=False):
        """Reverse mode from d(objective)/d(outputs) (None: an output no loss reads) and the
        added losses' weights (1 each by default). Built-in layers write their weight gradients
        into their gradient buffers (their own call's: summed into them at the end); returns
        {id(Variable): gradient} for the variables read by ops, and the inputs' gradients when
        asked."""
        vals = self.values
        grads: dict = {}

        def give(t, g):
            if g is None or t.kind == "const" or not t.differentiable or (t.kind == "input" and not wrt_inputs):
                return
            g = np.asarray(g)
            shape = t.shape if vals[t.id] is None else np.shape(vals[t.id])  # (a program serving other sizes)
            if g.shape != shape:
                g = np.broadcast_to(g, shape)
            grads[t.id] = g if t.id not in grads else grads[t.id] + g

        for t, g in zip(self.outputs, output_grads):
            give(t, g)
        for k, (_, t) in enumerate(self.losses):
            give(t, np.asarray(1.0 if loss_grads is None else loss_grads[k], t.dtype))
        for call in self._calls.values():
            call.grads = []
        for node in reversed(self.nodes):
            g = grads.pop(node.outputs[0].id, None)
            if g is None:
                continue
            if isinstance(node.op, Primitive):
                if node.op.vjp is None:
                    continue
                xs = [vals[t.id] for t in node.inputs]
                attrs = {**node.attrs, "saved": self._saved[id(node)]} if node.op.saves else node.attrs
                with np.errstate(all="ignore"):
                    in_grads = node.op.vjp(g, vals[node.outputs[0].id], xs, attrs)
            else:
                in_grads = self._layer_backward(node, g, wrt_inputs)
            for t, gi in zip(node.inputs, in_grads):
                give(t, gi)
        for key in self._private:  # a layer's gradient: the sum of its calls'
            nodes = self._layer_nodes[key]
            layer = nodes[0].op
            for j, dst in enumerate(layer._grads):
                parts = [self._calls[id(n)].grads[j] for n in nodes if self._calls[id(n)].grads]
                dst[...] = sum(parts) if parts else 0
        out = {id(var): grads[leaf.id].astype(leaf.dtype, copy=False) for leaf, var in self.variables
               if leaf.id in grads}
        if wrt_inputs:
            out.update({("input", t.payload): grads.get(t.id) for t in self.inputs})
        return out

    def _layer_backward(self, node, g, wrt_inputs):
        layer = node.op
        need = [t.kind != "const" and (t.kind != "input" or wrt_inputs) and t.differentiable
                for t in node.inputs[:len(node.inputs) - bool(node.attrs.get("masked"))]]
        call = self._calls.get(id(node))
        kept = None
        if call is not None:
            kept = dict(layer.__dict__)
            layer.__dict__.update(call.state)
            call.grads = [np.zeros_like(w) for w in kept["_grads"]]
            layer._grads = call.grads
        try:
            dx = layer.backward(np.ascontiguousarray(g, np.float32), need_dx=any(need))
        finally:
            if kept is not None:
                layer.__dict__.update(kept)
        if not any(need):
            return [None] * len(node.inputs)
        return (list(dx) if layer.takes_several_inputs else [dx]) + ([None] if node.attrs.get("masked") else [])

