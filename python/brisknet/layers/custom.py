"""Keras' subclassing API for layers: a Layer subclass with build(), add_weight() and a call()
written with keras.ops. Its weights are variables it owns (views of the model's flat buffer once a
model holds it); the layers it assigns to attributes (or keeps in lists and dicts) are tracked in
that order, as Keras tracks them, which fixes the weights' order. Called on arrays it runs
eagerly on numpy; inside a model its call() is traced into the model's op graph and
differentiated there (autodiff/); inside a Sequential or a functional graph it is one node whose
forward and backward passes run its own traced graph."""
from __future__ import annotations

import inspect
import threading

import numpy as np

from .. import autodiff, constraints, initializers, mixed_precision, regularizers
from ..autodiff import Program, Trace, recording
from ..autodiff.size_families import SizeFamilies
from ..variables import Variable

_eager = threading.local()  # the depth of eager custom calls (the outermost one clears the losses)


class OwnWeights:
    """A layer's own variables in Keras' order: the trainable ones, then the others."""

    def __init__(self):
        self.variables: list = []
        self.shapes: list = []
        self.initializers: list = []
        self.trainable: list = []
        self.regularizer: list = []
        self.constraint: list = []
        self.building = False

    def specs(self) -> list:
        return [(v.name, s, init) for v, s, init in zip(self.variables, self.shapes, self.initializers)]

    def regularizers(self) -> list:
        return [(i, r) for i, r in enumerate(self.regularizer) if r is not None]

    def constraints(self) -> list:
        return [(i, c) for i, c in enumerate(self.constraint) if c is not None]


def _check_can_add(layer, what):
    if autodiff.current() is not None and not layer._own.building:
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}): {what} inside call(); a layer creates its "
                         "weights in __init__ or build(), which runs once before the first call")


def add_weight(layer, shape, initializer, dtype, trainable, regularizer, constraint, name):
    """Layer.add_weight: the variable, inserted after the layer's trainable ones when trainable."""
    _check_can_add(layer, "add_weight")
    if dtype is not None and np.dtype(dtype) != np.float32:
        raise ValueError(f"layer {layer.name!r}: add_weight(dtype={dtype!r}): brisknet's weights are float32")
    shape = () if shape is None else ((int(shape),) if isinstance(shape, (int, np.integer)) else
                                      tuple(int(d) for d in shape))
    if any(d < 0 for d in shape):
        raise ValueError(f"layer {layer.name!r}: add_weight: negative dimension in shape {shape}")
    init = initializers.get(initializer if initializer is not None else "glorot_uniform")
    value = np.asarray(init(shape, np.float32), np.float32).reshape(shape)
    if layer._owner() is not None:
        raise ValueError(f"layer {layer.name!r}: add_weight after a model took the layer in; create weights in "
                         "__init__ or build()")
    own = layer._own
    names = {v.name for v in own.variables}
    if name is None:
        name = "variable" if "variable" not in names else f"variable_{len(own.variables)}"
    pos = sum(own.trainable) if trainable else len(own.variables)  # Keras: trainable ones first
    for v in own.variables[pos:]:
        v._index += 1
    var = Variable(layer, pos, name)
    for lst, item in ((own.variables, var), (own.shapes, shape), (own.initializers, init),
                      (own.trainable, bool(trainable)), (own.regularizer, regularizers.get(regularizer)),
                      (own.constraint, constraints.get(constraint))):
        lst.insert(pos, item)
    layer._weights.insert(pos, value)
    layer._grads.insert(pos, np.zeros_like(value))
    return var


def add_loss(layer, loss):
    trace = autodiff.current()
    if trace is not None or autodiff.is_traced(loss):
        from ..autodiff import traced_ops
        t = traced_ops.sum(traced_ops.tensor(loss, trace))  # (Keras sums a non-scalar loss)
        (trace or t.trace).added_losses.append((layer, t))
    else:
        layer._last_losses.append(np.asarray(np.sum(np.asarray(loss, np.float32)), np.float32))


# ------------------------------------------------------------------------ config
_PLAIN = (str, int, float, bool, type(None))


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return isinstance(value, _PLAIN)


def init_arguments(cls, args, kwargs):
    """The arguments a custom layer or model was made with, for its default get_config (Keras'
    auto-config), or None when one is not plain data (numbers, strings, lists, dicts of them)."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(args) > len(positional):
        return None
    captured = dict(zip(positional, args), **kwargs)
    if not all(_plain(v) for v in captured.values()):
        return None
    return {"arguments": captured, "takes_any": any(p.kind == p.VAR_KEYWORD for p in params),
            "names": {p.name for p in params}}


def auto_config(obj, base) -> dict:
    """A custom class's get_config when it defines none: the base entries (name, trainable) that
    its __init__ takes, and the arguments it was made with."""
    captured = obj.__dict__.get("_init_arguments")
    if captured is None:
        raise NotImplementedError(f"{type(obj).__name__} {obj.name!r} was made with arguments that are not plain data "
                                  "(numbers, strings, lists, dicts): define get_config() (and from_config() when "
                                  "needed) to save it, as Keras asks")
    config = {k: v for k, v in base.items() if captured["takes_any"] or k in captured["names"]}
    config.update(captured["arguments"])
    return config


# ------------------------------------------------------------------------ tracking
def _trackable(value) -> bool:
    return callable(getattr(value, "_weight_holders", None)) and not isinstance(value, type)


UNTRACKED = frozenset({"_entries", "_layers", "_steps", "_graph", "_model", "_own", "_programs", "_run", "_metrics",
                       "optimizer", "loss", "_output_holder", "_first_call", "_init_arguments", "_layer_graph"})


def tracked_layers(obj) -> list:
    """The layers (and models) held in obj's attributes, lists, tuples and dicts, in the order the
    attributes were set (Keras' tracking order)."""
    found, seen = [], set()

    def visit(v, depth):
        if _trackable(v):
            if id(v) not in seen and v is not obj:
                seen.add(id(v))
                found.append(v)
        elif depth < 4 and isinstance(v, (list, tuple)):
            for item in v:
                visit(item, depth + 1)
        elif depth < 4 and isinstance(v, dict):
            for item in v.values():
                visit(item, depth + 1)

    for key, value in vars(obj).items():
        if key not in UNTRACKED:
            visit(value, 0)
    return found


def weight_holders(layer) -> list:
    """The layers whose own weights make up this layer's, in Keras' order: itself, then its
    tracked layers' (depth first)."""
    out = [layer]
    for sub in tracked_layers(layer):  # (a sublayer never called has no weights yet)
        out += [h for h in sub._weight_holders() if h.built]
    return out


def weights_of(layer, trainable=None) -> list:
    """Keras' weights / trainable_weights / non_trainable_weights of a custom layer."""
    if trainable is True and not layer.trainable:
        return []
    if trainable is False and not layer.trainable:
        return weights_of(layer)
    own = [v for v, t in zip(layer._own.variables, layer._own.trainable) if trainable is None or t == trainable]
    seen = {id(v) for v in own}
    for sub in tracked_layers(layer):
        subs = sub.weights if trainable is None else (sub.trainable_weights if trainable else sub.non_trainable_weights)
        for v in subs:
            if id(v) not in seen:
                seen.add(id(v))
                own.append(v)
    return own


def set_weights(layer, weights) -> None:
    variables = layer.weights
    weights = list(weights)
    if len(weights) != len(variables):
        raise ValueError(f"layer {layer.name!r} expects {len(variables)} weight arrays, got {len(weights)}")
    for i, (v, w) in enumerate(zip(variables, weights)):
        if np.shape(w) != v.shape:
            raise ValueError(f"layer {layer.name!r}, weight {i}: expected shape {v.shape}, got {np.shape(w)}")
    for v, w in zip(variables, weights):
        v.assign(w)


def losses_of(layer) -> list:
    """Keras' layer.losses: the add_loss values of the last call, then each regularized weight's
    penalty (a built-in layer's `<weight>_regularizer`), then the sublayers'."""
    own = list(layer._last_losses)
    if layer._is_custom:
        own += [np.asarray(r(layer._weights[i]), np.float32) for i, r in layer.weight_regularizers()]
    elif layer.built:
        for v in layer.weights:
            r = getattr(layer, f"{v.name}_regularizer", None)
            if r is not None:
                own.append(np.asarray(r(v.value), np.float32))
    for sub in tracked_layers(layer):
        own += sub.losses
    return own


# ------------------------------------------------------------------------ building and calling
def _shape_of(x):
    if isinstance(x, (list, tuple)):
        return [_shape_of(t) for t in x]
    return tuple(x.shape)


def build_custom(layer, input_shape) -> None:
    """The layer's own build(input_shape) (batch dimension first), once; add_weight is allowed
    there even inside a trace."""
    if layer.built:
        return
    own = layer._own
    own.building = True
    try:
        layer.build(input_shape)
    finally:
        own.building = False
    layer.built = True


def _with_batch(sample_shape, batch):
    """A sample shape (a list of them: a call on several tensors) with the batch dimension first."""
    if isinstance(sample_shape, list):
        return [(batch,) + tuple(s) for s in sample_shape]
    return (batch,) + tuple(sample_shape)


def build_from_sample(layer, sample_shape) -> None:
    """What a Sequential or functional model asks of a layer: build it for samples of this shape."""
    if not layer.built:
        build_custom(layer, _with_batch(sample_shape, None))
    layer.input_shape = [tuple(s) for s in sample_shape] if isinstance(sample_shape, list) else tuple(sample_shape)
    layer.output_shape = sample_output_shape(layer, sample_shape)
    shape = _with_batch(sample_shape, 1)
    program = _program(layer, shape, np.dtype(np.float32), False)
    layer._output_shapes = [s[1:] for s in program.output_shapes(_shape_list(shape))] if program.several else None


def sample_output_shape(layer, sample_shape, has_shape_rule=False):
    """compute_output_shape when the class has one of its own, else the shape its traced call() gives."""
    if has_shape_rule and not isinstance(sample_shape, list):
        shape = layer.compute_output_shape((None,) + tuple(sample_shape))
        if isinstance(shape, list) or (shape and isinstance(shape[0], (tuple, list))):
            shape = shape[0]  # (several outputs: the first's)
        return tuple(shape)[1:]
    return output_shapes(layer, sample_shape)[0]


def output_shapes(layer, sample_shape) -> list:
    """The sample shapes of every output of its traced call() (one, or several: return_state)."""
    shape = _with_batch(sample_shape, 1)
    program = _program(layer, shape, np.dtype(np.float32), False)
    return [s[1:] for s in program.output_shapes(_shape_list(shape))]


def _shape_list(shape) -> list:
    return [tuple(s) for s in shape] if isinstance(shape, list) else [tuple(shape)]


def _call_params(layer):
    """(the names of call()'s parameters in order, whether it takes **kwargs), per class."""
    cls = type(layer)
    cache = cls.__dict__.get("_call_params")
    if cache is None:
        params = inspect.signature(cls.call).parameters
        cache = ([n for n in params if n != "self"], any(p.kind == p.VAR_KEYWORD for p in params.values()))
        cls._call_params = cache
    return cache


def call_parameters(layer) -> list:
    """The names of the layer's call() parameters, in order."""
    return list(_call_params(layer)[0])


def _accepts(layer, arg) -> bool:
    names, any_kw = _call_params(layer)
    return arg in names or any_kw


def mask_arguments(layer, n_tensors) -> list:
    """Where the masks of a call's tensors go, as Keras fills them: for each of the n tensors (the
    first argument, then those in the CallSpec's slots), the call() arguments that take its mask
    (`mask` takes the first tensor's, `<argument>_mask` its argument's)."""
    names = _call_params(layer)[0]
    spec = layer.__dict__.get("_call_spec")
    if spec is not None and spec.first is not None:
        # a list as first argument (Attention([query, value])): `mask` takes its tensors' masks
        # as a list, as Keras passes them (forward gathers them)
        return [["mask"]] + [[] for _ in range(n_tensors - 1)] if "mask" in names else []
    arg_of = {0: names[0] if names else None}
    if spec is not None:
        for i, a in enumerate(spec.args):
            if isinstance(a, Slot) and i + 1 < len(names):
                arg_of[a.k] = names[i + 1]
        for key, v in spec.kwargs.items():
            if isinstance(v, Slot):
                arg_of[v.k] = key
    out = []
    for k in range(n_tensors):
        takes = [f"{arg_of.get(k)}_mask"] if f"{arg_of.get(k)}_mask" in names else []
        if k == 0 and "mask" in names:
            takes.append("mask")
        out.append(takes)
    return out if any(out) else []


def _flat(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        elif isinstance(v, dict):
            yield from _flat(list(v.values()))
        else:
            yield v


def call(layer, x, args, training, kwargs):
    """Layer.__call__ of a custom layer: traced inside a trace, recorded on the functional API's
    symbolic tensors, eager on arrays."""
    if x is None:
        names = _call_params(layer)[0]
        first = names[0] if names else "inputs"  # (call(query=..., value=...): the first by its name, as Keras)
        x = kwargs.pop(first if first in kwargs else "inputs", None)
    values = [x, *args, *kwargs.values()]
    traced = [v for v in _flat(values) if autodiff.is_traced(v)]
    if traced:
        return _traced_call(layer, traced[0].trace, x, args, training, kwargs)
    from .symbolic import is_symbolic
    if is_symbolic(x) or (isinstance(x, (list, tuple)) and x and all(is_symbolic(t) for t in x)):
        if not args and not kwargs and is_symbolic(x):
            return layer._symbolic_call((x,), False)
        tensors, spec = CallSpec.of(x, args, kwargs)
        known = layer.__dict__.get("_call_spec")
        if known is not None and not known.same_as(spec):
            raise ValueError(f"layer {layer.name!r} was called with other arguments before; in a functional model "
                             "each call of a layer must pass the same arguments (its tensors may differ)")
        layer._call_spec = spec
        layer.takes_several_inputs = len(tensors) > 1
        return layer._symbolic_call(tuple(tensors), len(tensors) > 1)
    return _eager_call(layer, x, args, training, kwargs)


class Slot:
    """Where the k-th tensor of a node goes among a call's arguments."""

    def __init__(self, k):
        self.k = k

    def __eq__(self, other):
        return isinstance(other, Slot) and other.k == self.k


class CallSpec:
    """A custom layer's call in a functional model with more than one tensor or with arguments
    (mha(query, value, use_causal_mask=True)): the arguments after the first, its symbolic
    tensors replaced by slots numbered as the node's inputs (the first argument is input 0)."""

    def __init__(self, args, kwargs, first=None):
        self.args, self.kwargs = tuple(args), dict(kwargs)
        self.first = first  # the first argument a list of this many tensors (Attention([query, value]))

    @classmethod
    def of(cls, x, args, kwargs):
        from .symbolic import is_symbolic
        first = len(x) if isinstance(x, (list, tuple)) else None
        tensors = list(x) if first is not None else [x]

        def slot(v, depth=0):
            if is_symbolic(v):
                tensors.append(v)
                return Slot(len(tensors) - 1)
            if depth == 0 and isinstance(v, (list, tuple)) and v and all(is_symbolic(t) for t in v):
                return [slot(t, 1) for t in v]  # (a list of tensors: initial_state=[h, c])
            if isinstance(v, (list, tuple, dict)) and any(is_symbolic(t) for t in _flat([v])):
                raise NotImplementedError("a layer call with symbolic tensors inside a dict, or mixed with other "
                                          "values in a list, is not supported yet")
            return v
        return tensors, cls([slot(a) for a in args], {k: slot(v) for k, v in kwargs.items()}, first)

    def first_arg(self, tensors):
        return list(tensors[:self.first]) if self.first is not None else tensors[0]

    def fill(self, tensors):
        """(args, kwargs) with the tensors in their slots (tensors[0] is the first argument)."""
        def put(v):
            if isinstance(v, list) and v and all(isinstance(t, Slot) for t in v):
                return [tensors[t.k] for t in v]
            return tensors[v.k] if isinstance(v, Slot) else v
        return tuple(put(a) for a in self.args), {k: put(v) for k, v in self.kwargs.items()}

    def call_again(self, layer, tensors, **kwargs):
        """The layer called as this spec says, on other tensors (a model's graph replayed)."""
        args, named = self.fill(tensors)
        return layer(self.first_arg(tensors), *args, **{**named, **kwargs})

    def same_as(self, other) -> bool:
        def same(a, b):
            return a is b or (type(a) is type(b) and not isinstance(a, np.ndarray) and a == b)
        return self.first == other.first and len(self.args) == len(other.args) and \
            all(same(a, b) for a, b in zip(self.args, other.args)) and \
            self.kwargs.keys() == other.kwargs.keys() and all(same(v, other.kwargs[k]) for k, v in self.kwargs.items())


def _traced_call(layer, trace, x, args, training, kwargs):
    with autodiff.in_layer(trace, layer):
        if not layer.built:
            build_custom(layer, _shape_of(x))
        if _accepts(layer, "training"):
            kwargs["training"] = trace.training if training is None else bool(training)
        mask = _fill_masks(layer, x, args, kwargs)
        with mixed_precision.computing(layer.dtype_policy):
            out = layer.call(x, *args, **kwargs)
        if layer.supports_masking and autodiff.is_traced(out) and getattr(out, "_keras_mask", None) is None:
            m = layer.compute_mask(x, mask)
            if autodiff.is_traced(m):
                out._keras_mask = m
        return out


def _fill_masks(layer, x, args, kwargs):
    """Keras' __call__: a call() argument `mask` (or `<argument>_mask`) not given gets the mask its
    tensor carries (`_keras_mask`); returns the first tensor's mask."""
    names = _call_params(layer)[0]
    if isinstance(x, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in x]
        first = masks if any(m is not None for m in masks) else None
    else:
        first = getattr(x, "_keras_mask", None)
    mask = kwargs.get("mask") if kwargs.get("mask") is not None else first
    if "mask" in names and kwargs.get("mask") is None and mask is not None:
        kwargs["mask"] = mask
    given = dict(zip(names, (x, *args)))
    given.update(kwargs)
    for name, value in given.items():
        m = getattr(value, "_keras_mask", None)
        if m is not None and f"{name}_mask" in names and kwargs.get(f"{name}_mask") is None:
            kwargs[f"{name}_mask"] = m
    return mask


def _eager_call(layer, x, args, training, kwargs):
    depth = getattr(_eager, "depth", 0)
    if depth == 0:
        _clear_losses(layer)
    if isinstance(x, (list, tuple)):
        x = type(x)(np.asarray(t) if not isinstance(t, np.ndarray) else t for t in x)
    elif x is not None and not isinstance(x, np.ndarray):
        x = np.asarray(x)
        if x.dtype == np.float64:
            x = x.astype(np.float32)
    if not layer.built:
        build_custom(layer, _shape_of(x))
    if training is not None and _accepts(layer, "training"):
        kwargs["training"] = bool(training)
    _eager.depth = depth + 1
    try:
        with mixed_precision.computing(layer.dtype_policy):
            return layer.call(x, *args, **kwargs)
    finally:
        _eager.depth = depth


def _clear_losses(layer):
    if hasattr(layer, "_last_losses"):
        layer._last_losses = []
    for sub in tracked_layers(layer) if hasattr(layer, "_own") else []:
        _clear_losses(sub)


def record_builtin(layer, x, training):
    """A built-in layer called on traced tensors: one node running its fused forward and backward."""
    several = isinstance(x, (list, tuple))
    if several != layer.takes_several_inputs:
        raise TypeError(f"{layer.name}: expected " + ("a list of tensors" if layer.takes_several_inputs else
                                                      "one tensor, got a list"))
    xs = list(x) if several else [x]
    trace = xs[0].trace
    shapes = [t.shape[1:] for t in xs]
    shape = shapes if several else shapes[0]
    with autodiff.in_layer(trace, layer):
        if not layer.built or (layer.weight_specs() and not layer._weights):
            layer.build_sample(shape)
            layer.create_own_weights()
        else:
            layer._fit_to(shape)
    value = np.zeros((xs[0].shape[0],) + tuple(layer.output_shape), np.float32)
    train = trace.training if training is None else bool(training)
    masks = [getattr(t, "_keras_mask", None) for t in xs]
    mask = masks if several else masks[0]
    attrs = {"training": train}
    if not several and mask is not None and getattr(layer, "_TAKES_MASK", False):
        attrs["masked"] = True  # (the mask is the node's last input)
        xs = xs + [mask]
    out = trace.add_node(layer, xs, attrs, [value])[0]
    if layer.supports_masking:
        with autodiff.in_layer(trace, layer):
            m = layer.compute_mask(x, mask)
        if autodiff.is_traced(m):
            out._keras_mask = m
    return out


# ------------------------------------------------------------------------ as a node of a Sequential or graph
def _program(layer, shape, dtype, training, masks=()) -> Program:
    """The layer's call() traced for inputs of this shape (a list of shapes: a call on several
    tensors, as its CallSpec says; cached per shape and training flag). masks: (call() argument,
    shape) of the masks it gets, inputs after the tensors."""
    programs = layer.__dict__.setdefault("_programs", {})
    shapes = [tuple(s) for s in shape] if isinstance(shape, list) else [tuple(shape)]
    slot = layer.__dict__.get("_call_slot")  # a shared layer's call in a graph: a program of its own
    key = (tuple(shapes), np.dtype(dtype).str, bool(training),
           tuple((name, tuple(m) if isinstance(m, list) else m) for name, m in masks), slot)
    program = programs.get(key)
    inputs = shapes + [tuple(ms) for _, m in masks for ms in (m if isinstance(m, list) else [m]) if ms is not None]
    family_key = (key[1:], tuple(len(s) for s in inputs))
    families = layer.__dict__.setdefault("_size_families", SizeFamilies()) if not training else None
    if program is None and families is not None:
        program = families.serving(family_key, inputs)  # (another size of an input it serves: no trace)
        if program is not None:
            programs[key] = program
    if program is None:
        trace = Trace(training)
        spec = layer.__dict__.get("_call_spec")
        with recording(trace):
            ts = [trace.input(np.zeros(s, dtype)) for s in shapes]
            args, kwargs = spec.fill(ts) if spec is not None else ((), {})
            for name, mask_shape in masks:
                kwargs[name] = [None if ms is None else trace.input(np.zeros(ms, np.bool_)) for ms in mask_shape] \
                    if isinstance(mask_shape, list) else trace.input(np.zeros(mask_shape, np.bool_))
            out = _traced_call(layer, trace, spec.first_arg(ts) if spec is not None else ts[0], args, None, kwargs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        if not outs or not all(autodiff.is_traced(t) for t in outs):
            raise TypeError(f"layer {layer.name!r}: call() must return a tensor or a list of tensors here, got "
                            f"{type(out).__name__}")
        program = programs[key] = Program(trace, outs, private_calls=slot is not None)
        program.several = isinstance(out, (list, tuple))  # (return_state: the output and the states)
        if families is not None:
            families.record(family_key, program, inputs)
    return program


def _mask_shape(mask):
    """A mask's shape in a program's key (a list of masks: a list of shapes, None for a missing one)."""
    if isinstance(mask, list):
        return [None if m is None else tuple(np.shape(m)) for m in mask]
    return tuple(np.shape(mask))


def forward(layer, x, training, mask=None):
    """Its traced call() on a batch (a list: a call on several tensors); mask: the tensors' Keras
    masks (a list for several), given to the call() arguments that take them."""
    xs = x if isinstance(x, list) else [x]
    masks = (mask if isinstance(mask, list) else [mask]) if mask is not None else []
    spec = layer.__dict__.get("_call_spec")
    first = spec.first if spec is not None else None
    if first is not None and masks and mask_arguments(layer, len(xs)):
        # (the list's masks, None where a tensor has none, as one `mask` argument)
        listed = [masks[k] if k < len(masks) else None for k in range(first)]
        given = [("mask", listed)] if any(m is not None for m in listed) else []
    else:
        given = [(name, m) for takes, m in zip(mask_arguments(layer, len(xs)), masks) if m is not None
                 for name in takes]
    program = _program(layer, [a.shape for a in xs] if isinstance(x, list) else x.shape, xs[0].dtype, training,
                       tuple((name, _mask_shape(m)) for name, m in given))
    arrays = [np.asarray(a, np.bool_) for _, m in given for a in (m if isinstance(m, list) else [m]) if a is not None]
    outs, losses = program.forward(xs + arrays, training)
    layer._n_tensors = len(xs)
    layer._last_losses = losses
    layer._run = program
    outs = [np.ascontiguousarray(o, np.float32) for o in outs]
    return outs if program.several else outs[0]


def backward(layer, dy, need_dx):
    """The gradients of its own weights and its sublayers' (the built-in ones' nodes write theirs;
    the variables ops read are added up here), and dx when asked."""
    for holder in layer._weight_holders():
        for g in holder._grads:
            g[...] = 0
    grads = layer._run.backward(list(dy) if isinstance(dy, list) else [dy], wrt_inputs=need_dx)
    for _, var in layer._run.variables:
        g = grads.get(id(var))
        if g is not None:
            var._layer._grads[var._index] += g
    if not need_dx:
        return None
    dxs = [grads.get(("input", k)) for k in range(layer._n_tensors)]  # (the masks after them take none)
    dxs = [np.zeros(t.shape, np.float32) if d is None else np.ascontiguousarray(d, np.float32)
           for t, d in zip(layer._run.inputs[:layer._n_tensors], dxs)]
    return dxs if layer.takes_several_inputs else dxs[0]
