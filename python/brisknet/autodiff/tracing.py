"""Tracing: a layer's or model's call() run once on symbolic tensors, each keras.ops call recording
a node of an op graph (as Keras' functional API and jax.jit require of Keras 3 code).

A traced Tensor has a concrete shape and dtype (a graph is traced per input signature) and the
value its op gave on placeholder inputs, which serves shape inference only: control flow on a
tensor's value is an error that names the layer, the line and the way out, as JAX's."""
from __future__ import annotations

import functools
import itertools
import os
import sys
import threading

import numpy as np

_state = threading.local()
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TracingError(TypeError):
    """What cannot be traced: control flow on a tensor's value, a tensor turned into numpy."""


class Tensor:
    """A symbolic tensor of a trace: `node` made it (None for a leaf: an input, a variable or a
    constant), `value` is its placeholder value (shape inference only)."""

    __array_priority__ = 1000  # numpy defers to our operators: np.float32(2) * t is traced

    def __init__(self, trace, value, node=None, kind="node", payload=None):
        self.trace, self.node, self.kind, self.payload = trace, node, kind, payload
        self.value = value
        self.shape, self.dtype = tuple(value.shape), value.dtype
        self.id = len(trace.tensors)
        trace.tensors.append(self)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def differentiable(self) -> bool:
        return self.dtype.kind == "f"

    def __repr__(self):
        return f"<Tensor shape={self.shape} dtype={self.dtype.name} (traced)>"

    # ------------------------------------------------------------------ what tracing forbids
    def _refuse(self, what):
        raise TracingError(f"{_where(self.trace)}: {what} of a traced tensor inside call(). call() is traced "
                           "once per input shape, so Python control flow on a tensor's value cannot follow the "
                           "data; use keras.ops.cond(pred, true_fn, false_fn) or keras.ops.where(condition, x1, "
                           "x2), and keras.ops for arithmetic")

    def __bool__(self):
        self._refuse("the truth value (`if`, `while`, `and`/`or`, bool())")

    def __float__(self):
        self._refuse("float()")

    def __int__(self):
        self._refuse("int()")

    def __index__(self):
        self._refuse("use as a Python index")

    def __array__(self, dtype=None, copy=None):
        self._refuse("conversion to a numpy array (np.asarray, numpy functions)")

    def numpy(self):
        self._refuse(".numpy()")

    def __len__(self):
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(self.shape[0]))

    __hash__ = object.__hash__


def _where(trace) -> str:
    """The layer being traced and the user's line (the first frame outside brisknet)."""
    layer = trace.layer_stack[-1] if trace.layer_stack else None
    who = f"layer {layer.name!r} ({type(layer).__name__})" if layer is not None else "call()"
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is not None:
        who += f", {frame.f_code.co_filename} line {frame.f_lineno}"
    return who


class Dim(int):
    """A size that keras.ops.shape read from a traced tensor: an int that remembers where it came
    from, so that ops.arange(0, ops.shape(x)[1]) records a node that reads the size at run time and
    the program serves every length (autodiff/size_families.py); anything else done with it sees a
    plain int, fixed in the trace."""

    def __new__(cls, value, tensor, axis):
        d = super().__new__(cls, value)
        d.tensor, d.axis = tensor, axis
        return d

    def of_trace(self, trace) -> bool:
        return self.tensor.trace is trace


class Node:
    """One primitive applied to tensors: op (a rules.Primitive, or a Layer for a built-in layer's
    fused call), its input tensors, attributes (shapes, axes, ...), its output tensors."""

    def __init__(self, op, inputs, attrs, serial):
        self.op, self.inputs, self.attrs, self.serial = op, list(inputs), attrs, serial
        self.outputs: list = []


class Trace:
    """What one run of call() on symbolic tensors recorded."""

    def __init__(self, training: bool):
        self.training = bool(training)
        self.tensors: list = []
        self.nodes: list = []
        self.inputs: list = []      # leaf tensors of the traced function's arguments
        self.variables: dict = {}   # id(Variable) -> (leaf tensor, Variable)
        self.layer_stack: list = []  # the layers whose call() is running (errors name the innermost)
        self.added_losses: list = []  # (layer, scalar tensor) from add_loss
        self.assigns: list = []     # (Variable, tensor): state updates of the step
        self.deferred: list = []    # (function, args, kwargs) on traced tensors: run after each forward pass
        self._serials = itertools.count()

    def input(self, value) -> Tensor:
        t = Tensor(self, np.zeros(value.shape, value.dtype) if isinstance(value, np.ndarray) else value,
                   kind="input", payload=len(self.inputs))
        self.inputs.append(t)
        return t

    def constant(self, value) -> Tensor:
        return Tensor(self, np.asarray(value), kind="const", payload=np.asarray(value))

    def variable(self, var) -> Tensor:
        """The leaf of a layer's variable (one per variable, however often it is read)."""
        hit = self.variables.get(id(var))
        if hit is None:
            hit = self.variables[id(var)] = (Tensor(self, np.array(var.value), kind="variable", payload=var), var)
        return hit[0]

    def add_node(self, op, inputs, attrs, values) -> list:
        node = Node(op, inputs, attrs, next(self._serials))
        node.outputs = [Tensor(self, v, node) for v in values]
        self.nodes.append(node)
        return node.outputs


def current() -> Trace | None:
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


class recording:
    """with recording(trace): keras.ops calls on its tensors record nodes in it."""

    def __init__(self, trace):
        self.trace = trace

    def __enter__(self):
        if not hasattr(_state, "stack"):
            _state.stack = []
        _state.stack.append(self.trace)
        return self.trace

    def __exit__(self, *exc):
        _state.stack.pop()


class in_layer:
    """with in_layer(trace, layer): errors raised while tracing name this layer."""

    def __init__(self, trace, layer):
        self.trace, self.layer = trace, layer

    def __enter__(self):
        if self.trace is not None:
            self.trace.layer_stack.append(self.layer)

    def __exit__(self, *exc):
        if self.trace is not None:
            self.trace.layer_stack.pop()


OPERATORS: dict = {}  # keras.ops' traced functions by name (filled by traced_ops)
_PYTHON_NAMES = {"sub": "subtract", "mul": "multiply", "truediv": "divide", "pow": "power", "lt": "less",
                 "le": "less_equal", "gt": "greater", "ge": "greater_equal"}


def operator(name):
    """The traced keras.ops function `name` (or Python's operator module name for it)."""
    return OPERATORS[_PYTHON_NAMES.get(name, name)]


def is_traced(x) -> bool:
    return isinstance(x, Tensor)


def after_forward(fn):
    """Decorator for a side effect outside the graph (a metric's update_state): called on traced
    tensors, it is recorded, and the program calls it with their values after each forward pass."""
    @functools.wraps(fn)
    def side_effect(*args, **kwargs):
        traced = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        if not traced:
            return fn(*args, **kwargs)
        traced[0].trace.deferred.append((fn, args, kwargs))
        return None
    return side_effect
