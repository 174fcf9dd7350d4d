"""keras.ops on traced tensors: each function records primitives (rules.py) in the trace of its
tensor arguments. keras.ops (ops.py) sends a call here when one of its arguments is traced.

Dtypes as Keras on JAX: Python numbers and numpy constants take the dtype of the traced operand
they meet (weak types); an integer tensor meeting a float one becomes that float."""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import mixed_precision
from ..variables import Variable
from . import tracing
from .rules import PRIMITIVES, _ARRAY
from .tracing import Tensor, TracingError

FLOATX = np.dtype(np.float32)


# ------------------------------------------------------------------------------ recording
def trace_of(*args):
    for a in args:
        if isinstance(a, Tensor):
            return a.trace
        if isinstance(a, (list, tuple)):
            t = trace_of(*a)
            if t is not None:
                return t
    return tracing.current()


def is_traced_arg(x) -> bool:
    """A traced tensor, a variable read inside a trace, or a list of such."""
    if isinstance(x, Tensor):
        return True
    if isinstance(x, Variable):
        return tracing.current() is not None
    if isinstance(x, (list, tuple)):
        return builtins.any(is_traced_arg(a) for a in x)
    return False


def tensor(x, trace=None, dtype=None) -> Tensor:
    """x as a tensor of the trace: a traced tensor as it is, a variable as its leaf, anything else
    as a constant (of `dtype` when given: a weak-typed number meeting a tensor)."""
    if isinstance(x, Tensor):
        return x
    trace = trace or tracing.current()
    if isinstance(x, Variable):
        return trace.variable(x)
    if isinstance(x, (list, tuple)) and x and builtins.any(is_traced_arg(v) for v in x):
        return stack([tensor(v, trace, dtype) for v in x])  # a list of tensors as one, as Keras converts it
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"keras.ops: expected numbers, got {type(x).__name__} of dtype {a.dtype}")
    if dtype is not None:
        a = a.astype(dtype)
    elif a.dtype == np.float64:
        a = a.astype(FLOATX)
    elif a.dtype == np.int64:
        a = a.astype(np.int32)
    return trace.constant(a)


def bind(primitive, operands_, **attrs) -> Tensor:
    """Record `primitive` (its name) on tensors `operands_` with `attrs`; its value from theirs."""
    prim = PRIMITIVES[primitive]
    trace = operands_[0].trace if operands_ else tracing.current()
    try:
        with np.errstate(all="ignore"):
            value = prim.forward(*[x.value for x in operands_], **attrs)
            value = np.asarray(value[0] if prim.saves else value)
    except (ValueError, IndexError, TypeError) as e:  # shapes that do not fit: name the layer and line
        raise type(e)(f"{tracing._where(trace)}: keras.ops {primitive} on shapes "
                      f"{[x.shape for x in operands_]}: {e}") from None
    return trace.add_node(prim, operands_, attrs, [value])[0]


def _float_dtype(*dtypes):
    floats = [d for d in dtypes if d.kind == "f"]
    return builtins.max(floats, key=lambda d: d.itemsize) if floats else None


def operands(*xs, to_float=False):
    """The arguments of an element-wise op as tensors of one dtype (weak-typed constants)."""
    trace = trace_of(*xs)
    traced = [tensor(x, trace) for x in xs if isinstance(x, (Tensor, Variable))]
    kinds = [t.dtype for t in traced]
    target = _float_dtype(*kinds)
    out = []
    for x in xs:
        if isinstance(x, (Tensor, Variable)):
            t = tensor(x, trace)
        else:
            a = np.asarray(x)
            weak = target if target is not None and a.dtype.kind in "biuf" else (kinds[0] if kinds else None)
            t = tensor(x, trace, dtype=weak if a.dtype.kind != "b" else None)
        out.append(t)
    if to_float and target is None:
        target = FLOATX
    if target is not None:
        out = [cast(t, target) if t.dtype != target and t.dtype.kind != "b" else t for t in out]
    return out


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _numpy(fn, *xs, **kw):
    """A numpy function without a gradient, recorded (its result must not be a float)."""
    ts = [tensor(x) for x in xs]
    return bind("numpy", ts, fn=fn, kw=kw)


# ------------------------------------------------------------------------------ element-wise
def _binary(name):
    def f(x1, x2):
        return bind(name, operands(x1, x2))
    f.__name__ = name
    return f


add, subtract, multiply, maximum, minimum, logaddexp, arctan2 = (_binary(n) for n in (
    "add", "subtract", "multiply", "maximum", "minimum", "logaddexp", "arctan2"))


def divide(x1, x2):
    return bind("divide", operands(x1, x2, to_float=True))


true_divide = divide


def power(x1, x2):
    a, b = operands(x1, x2)
    if a.dtype.kind != "f" and b.dtype.kind != "f":
        return _numpy(np.power, a, b)
    return bind("power", [a, b])


def _unary(name, to_float=True):
    def f(x):
        (t,) = operands(x, to_float=to_float)
        return bind(name, [t])
    f.__name__ = name
    return f


(exp, expm1, log, log1p, log2, log10, sqrt, sin, cos, tan, arcsin, arccos, arctan, sinh, cosh, arcsinh, arccosh,
 arctanh, reciprocal, erf) = (_unary(n) for n in (
    "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "sin", "cos", "tan", "arcsin", "arccos", "arctan",
    "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "reciprocal", "erf"))
negative, square = _unary("negative", False), _unary("square", False)


def abs(x):
    (t,) = operands(x)
    return bind("abs", [t]) if t.dtype.kind == "f" else _numpy(np.abs, t)


absolute = abs


def rsqrt(x):
    return reciprocal(sqrt(x))


def _no_gradient(np_fn, name):
    def f(*xs):
        return _numpy(np_fn, *operands(*xs))
    f.__name__ = name
    return f


(sign, floor, ceil, trunc, isnan, isinf, isfinite, logical_not, equal, not_equal, greater, greater_equal, less,
 less_equal, logical_and, logical_or, logical_xor, floor_divide, mod) = (_no_gradient(fn, fn.__name__) for fn in (
    np.sign, np.floor, np.ceil, np.trunc, np.isnan, np.isinf, np.isfinite, np.logical_not, np.equal, np.not_equal,
    np.greater, np.greater_equal, np.less, np.less_equal, np.logical_and, np.logical_or, np.logical_xor,
    np.floor_divide, np.mod))


def round(x, decimals=0):
    return _numpy(np.round, tensor(x), decimals=decimals)


def where(condition, x1=None, x2=None):
    if x1 is None or x2 is None:
        raise TracingError("keras.ops.where(condition) without x1 and x2 has a data-dependent shape and cannot "
                           "be traced; give both x1 and x2")
    a, b = operands(x1, x2)
    return bind("where", [tensor(condition), a, b])


def clip(x, x_min, x_max):
    t, lo, hi = operands(x, x_min, x_max)
    return bind("clip", [t, lo, hi])


def divide_no_nan(x1, x2):
    a, b = operands(x1, x2, to_float=True)
    zero = equal(b, 0)
    safe = where(zero, 1, b)
    return where(zero, 0, divide(a, safe))


def cast(x, dtype):
    t = tensor(x)
    dtype = np.dtype(dtype)
    return t if t.dtype == dtype else bind("cast", [t], dtype=dtype)


def stop_gradient(variable):
    return bind("stop_gradient", [tensor(variable)])


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    t = tensor(x)
    return t if dtype is None else cast(t, dtype)


def copy(x):
    return tensor(x)


def shape(x):
    t = tensor(x)
    return tuple(tracing.Dim(n, t, axis) for axis, n in enumerate(t.shape))


def arange_along(start, stop, step, dtype):
    """ops.arange up to a size read from a traced tensor (stop, a tracing.Dim): a node reading the
    size from that tensor's value, so the program serves every size of it."""
    return bind("arange_along", [stop.tensor], axis=stop.axis, start=start, step=step, dtype=np.dtype(dtype))


def ndim(x):
    return tensor(x).ndim


def size(x):
    return tensor(x).size


def dtype(x):
    return tensor(x).dtype.name


def is_tensor(x):
    return True


def _constant_like(x, fill, dtype):
    t = tensor(x)
    return t.trace.constant(np.full(t.shape, fill, np.dtype(dtype) if dtype is not None else t.dtype))


def zeros_like(x, dtype=None):
    return _constant_like(x, 0, dtype)


def ones_like(x, dtype=None):
    return _constant_like(x, 1, dtype)


def full_like(x, fill_value, dtype=None):
    return _constant_like(x, fill_value, dtype)


# ------------------------------------------------------------------------------ activations
def _activation(name, alpha=None):
    def f(x):
        (t,) = operands(x, to_float=True)
        return bind("activation", [t], name=name, alpha=alpha)
    return f


relu, relu6, sigmoid, tanh, softplus, softsign, silu, selu, hard_sigmoid, hard_silu, log_sigmoid, mish, hard_tanh = (
    _activation(n) for n in ("relu", "relu6", "sigmoid", "tanh", "softplus", "softsign", "swish", "selu",
                             "hard_sigmoid", "hard_silu", "log_sigmoid", "mish", "hard_tanh"))
swish, hard_swish = silu, hard_silu


def leaky_relu(x, negative_slope=0.2):
    return _activation("leaky_relu", float(negative_slope))(x)


def elu(x, alpha=1.0):
    return _activation("elu", float(alpha))(x)


def gelu(x, approximate=True):
    return _activation("gelu_tanh" if approximate else "gelu")(x)


def softmax(x, axis=-1):
    (t,) = operands(x, to_float=True)
    return bind("softmax", [t], axis=_axis(axis))


def log_softmax(x, axis=-1):
    (t,) = operands(x, to_float=True)
    return bind("log_softmax", [t], axis=_axis(axis))


# ------------------------------------------------------------------------------ reductions
def sum(x, axis=None, keepdims=False):
    return bind("sum", [tensor(x)], axis=_axis(axis), keepdims=bool(keepdims))


def prod(x, axis=None, keepdims=False):
    return bind("prod", [tensor(x)], axis=axis, keepdims=bool(keepdims))


def _count(t, axis):
    if axis is None:
        return t.size
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return math.prod(t.shape[a] for a in axes)


def mean(x, axis=None, keepdims=False):
    (t,) = operands(x, to_float=True)
    return divide(sum(t, axis, keepdims), _count(t, _axis(axis)))


def var(x, axis=None, keepdims=False):
    (t,) = operands(x, to_float=True)
    return mean(square(subtract(t, mean(t, axis, True))), axis, keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis, keepdims))


def max(x, axis=None, keepdims=False, initial=None):
    out = bind("max", [tensor(x)], axis=_axis(axis), keepdims=bool(keepdims))
    return out if initial is None else maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):
    out = bind("min", [tensor(x)], axis=_axis(axis), keepdims=bool(keepdims))
    return out if initial is None else minimum(out, initial)


amax, amin = max, min


def logsumexp(x, axis=None, keepdims=False):
    (t,) = operands(x, to_float=True)
    m = stop_gradient(max(t, axis, True))
    m = where(isfinite(m), m, 0)
    out = add(log(sum(exp(subtract(t, m)), axis, True)), m)
    return out if keepdims else squeeze(out, _axis(axis))


def norm(x, ord=None, axis=None, keepdims=False):
    (t,) = operands(x, to_float=True)
    if ord not in (None, 2, "fro", "euclidean") and not (ord == 1 and axis is not None):
        raise NotImplementedError(f"keras.ops.norm(ord={ord!r}) on traced tensors: ord None/2/'fro' or 1 along an "
                                  "axis")
    if ord == 1:
        return sum(abs(t), axis, keepdims)
    return sqrt(sum(square(t), axis, keepdims))


def moments(x, axes, keepdims=False, synchronized=False):
    return mean(x, axes, keepdims), var(x, axes, keepdims)


def average(x, axis=None, weights=None):
    if weights is None:
        return mean(x, axis)
    t, w = operands(x, weights, to_float=True)
    if w.ndim == 1 and t.ndim > 1 and axis is not None:
        shape_ = [1] * t.ndim
        shape_[axis] = w.shape[0]
        w = reshape(w, shape_)
    return divide(sum(multiply(t, w), axis), sum(w, None if w.ndim == 1 and axis is not None else axis))


def cumsum(x, axis=None, dtype=None):
    t = tensor(x) if dtype is None else cast(x, dtype)
    return bind("cumsum", [t], axis=axis)


def argmax(x, axis=None, keepdims=False):
    return cast(_numpy(np.argmax, tensor(x), axis=axis, keepdims=keepdims), np.int32)


def argmin(x, axis=None, keepdims=False):
    return cast(_numpy(np.argmin, tensor(x), axis=axis, keepdims=keepdims), np.int32)


def all(x, axis=None, keepdims=False):
    return _numpy(np.all, tensor(x), axis=_axis(axis), keepdims=keepdims)


def any(x, axis=None, keepdims=False):
    return _numpy(np.any, tensor(x), axis=_axis(axis), keepdims=keepdims)


def count_nonzero(x, axis=None):
    return cast(_numpy(np.count_nonzero, tensor(x), axis=_axis(axis)), np.int32)


def sort(x, axis=-1):
    return bind("sort", [tensor(x)], axis=axis)


def argsort(x, axis=-1):
    return cast(_numpy(np.argsort, tensor(x), axis=axis, kind="stable"), np.int32)


def top_k(x, k, sorted=True):
    t = tensor(x)
    idx = _numpy(lambda v: np.argsort(-v, axis=-1, kind="stable")[..., :k].astype(np.int32), t)
    return take_along_axis(t, idx, -1), idx


# ------------------------------------------------------------------------------ linear algebra
def matmul(x1, x2):
    a, b = operands(x1, x2)
    if mixed_precision.computing_bf16():  # (a mixed_bfloat16 layer's call(); float32 graphs keep their attributes)
        return bind("matmul", [a, b], bf16=True)
    return bind("matmul", [a, b])


def dot(x1, x2):
    a, b = operands(x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum(subscripts, *operands_):
    ts = operands(*operands_)
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        ins, out = spec.split("->")
        ins = ins.split(",")
    else:
        ins = spec.split(",")
        letters = "".join(ins)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if builtins.any("." in s for s in ins + [out]):  # ellipses become letters of their own
        spare = [c for c in _LETTERS if c not in spec]
        width = builtins.max(t.ndim - len(s.replace("...", "")) for s, t in zip(ins, ts) if "..." in s)
        fill = "".join(spare[:width])
        ins = [s.replace("...", fill[width - (t.ndim - len(s.replace("...", ""))):]) for s, t in zip(ins, ts)]
        out = out.replace("...", fill)
    if builtins.any(len(set(s)) != len(s) for s in ins):
        raise NotImplementedError(f"keras.ops.einsum({subscripts!r}) on traced tensors: an index repeated within "
                                  "one operand (a trace or diagonal) has no gradient rule yet")
    return bind("einsum", ts, inputs=tuple(ins), output=out)


def tensordot(x1, x2, axes=2):
    a, b = operands(x1, x2)
    if isinstance(axes, int):
        axes = (list(range(a.ndim - axes, a.ndim)), list(range(axes)))
    ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                  [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    la = list(_LETTERS[:a.ndim])
    lb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = [c for k, c in enumerate(la) if k not in [i % a.ndim for i in ax_a]] + \
        [c for k, c in enumerate(lb) if k not in [j % b.ndim for j in ax_b]]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def outer(x1, x2):
    a, b = operands(x1, x2)
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def tril(x, k=0):
    return bind("tril", [tensor(x)], k=k)


def triu(x, k=0):
    return bind("triu", [tensor(x)], k=k)


# ------------------------------------------------------------------------------ shapes
def reshape(x, newshape):
    t = tensor(x)
    newshape = (newshape,) if isinstance(newshape, int) else tuple(int(d) for d in newshape)
    target = np.empty(t.shape, np.bool_).reshape(newshape).shape  # -1 resolved, sizes checked
    # (the node keeps a -1: resolved at run time, it serves other sizes; size_families.py)
    return t if target == t.shape else bind("reshape", [t], shape=newshape)


def transpose(x, axes=None):
    t = tensor(x)
    axes = tuple(range(t.ndim))[::-1] if axes is None else tuple(a % t.ndim for a in axes)
    return bind("transpose", [t], axes=axes)


def expand_dims(x, axis):
    t = tensor(x)
    return reshape(t, np.expand_dims(t.value, axis).shape)


def squeeze(x, axis=None):
    t = tensor(x)
    return reshape(t, np.squeeze(t.value, axis).shape)


def ravel(x):
    return reshape(x, (-1,))


def moveaxis(x, source, destination):
    t = tensor(x)
    axes = list(range(t.ndim))
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    perm = [a for a in axes if a not in [s % t.ndim for s in src]]
    for d, s in sorted(zip([d % t.ndim for d in dst], [s % t.ndim for s in src])):
        perm.insert(d, s)
    return transpose(t, perm)


def swapaxes(x, axis1, axis2):
    t = tensor(x)
    perm = list(range(t.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(t, perm)


def broadcast_to(x, shape):
    t = tensor(x)
    return bind("broadcast_to", [t], shape=tuple(shape))


def concatenate(xs, axis=0):
    ts = operands(*xs)
    return bind("concatenate", ts, axis=axis)


def stack(x, axis=0):
    ts = operands(*x)
    return concatenate([expand_dims(t, axis) for t in ts], axis)


def hstack(xs):
    ts = operands(*xs)
    return concatenate(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(xs):
    ts = [reshape(t, (1, -1)) if t.ndim == 1 else t for t in operands(*xs)]
    return concatenate(ts, 0)


def split(x, indices_or_sections, axis=0):
    t = tensor(x)
    n = t.shape[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(f"split: {n} does not divide into {indices_or_sections} equal parts")
        step = n // indices_or_sections
        edges = list(range(0, n + 1, step))
    else:
        edges = [0] + [int(i) for i in indices_or_sections] + [n]
    ax = axis % t.ndim
    return [getitem(t, (builtins.slice(None),) * ax + (builtins.slice(a, b),)) for a, b in zip(edges, edges[1:])]


def tile(x, repeats):
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    return bind("tile", [tensor(x)], reps=reps)


def repeat(x, repeats, axis=None):
    return bind("repeat", [tensor(x)], repeats=repeats, axis=axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    if mode != "constant":
        raise NotImplementedError(f"keras.ops.pad(mode={mode!r}) on traced tensors: only 'constant'")
    t = tensor(x)
    width = np.broadcast_to(np.asarray(pad_width, np.int64), (t.ndim, 2))
    return bind("pad", [t], pad_width=tuple(tuple(int(v) for v in row) for row in width),
                value=0 if constant_values is None else constant_values)


def flip(x, axis=None):
    return bind("flip", [tensor(x)], axis=axis)


def roll(x, shift, axis=None):
    return bind("roll", [tensor(x)], shift=shift, axis=axis)


def take(x, indices, axis=None):
    t, idx = tensor(x), tensor(indices)
    if idx.dtype.kind not in "iu":
        idx = cast(idx, np.int32)
    return bind("take", [t, idx], axis=axis)


def take_along_axis(x, indices, axis=None):
    t, idx = tensor(x), tensor(indices)
    return bind("take_along_axis", [t, idx], axis=axis)


def slice(inputs, start_indices, shape):
    key = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(start_indices, shape))
    return getitem(inputs, key)


def getitem(x, key):
    """x[key]: slices, integers, None, Ellipsis and integer or boolean index arrays (tensors too)."""
    t = tensor(x)
    key = key if isinstance(key, tuple) else (key,)
    arrays, parts = [], []
    for k in key:
        if isinstance(k, (Tensor, Variable, np.ndarray, list)):
            a = tensor(k, t.trace)
            if a.dtype.kind == "b":
                raise TracingError("indexing with a boolean mask has a data-dependent shape and cannot be traced; "
                                   "use keras.ops.where")
            arrays.append(a)
            parts.append(_ARRAY)
        else:
            parts.append(k)
    return bind("getitem", [t] + arrays, key=tuple(parts))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    t = tensor(x)
    out = _numpy(lambda v: (v[..., None] == np.arange(int(num_classes))), t)
    out = cast(out, dtype or FLOATX)
    return out if axis == -1 else moveaxis(out, -1, axis)


# ------------------------------------------------------------------------------ nn
def normalize(x, axis=-1, order=2, epsilon=None):
    (t,) = operands(x, to_float=True)
    n = norm(t, order, axis, True)
    return divide(t, maximum(n, 1e-12 if epsilon is None else epsilon))


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    (t,) = operands(x, to_float=True)
    m, v = mean(t, axis, True), var(t, axis, True)
    out = multiply(subtract(t, m), rsqrt(add(v, 1e-3 if epsilon is None else epsilon)))
    if gamma is not None:
        out = multiply(out, gamma)
    if beta is not None:
        out = add(out, beta)
    return out


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    (t,) = operands(x, to_float=True)
    eps = float(np.finfo(t.dtype).eps) if epsilon is None else epsilon
    out = multiply(t, rsqrt(add(mean(square(t), axis, True), eps)))
    return out if scale is None else multiply(out, scale)


def batch_normalization(x, mean_, variance, axis, offset=None, scale=None, epsilon=1e-3):
    (t,) = operands(x, to_float=True)
    shape_ = [1] * t.ndim
    shape_[axis] = t.shape[axis]

    def b(v):
        return reshape(tensor(v, t.trace, t.dtype) if not isinstance(v, (Tensor, Variable)) else v, shape_)
    out = multiply(subtract(t, b(mean_)), rsqrt(add(b(variance), epsilon)))
    if scale is not None:
        out = multiply(out, b(scale))
    if offset is not None:
        out = add(out, b(offset))
    return out


def binary_crossentropy(target, output, from_logits=False):
    t, o = operands(target, output, to_float=True)
    if from_logits:
        return add(subtract(relu(o), multiply(o, t)), log1p(exp(negative(abs(o)))))
    o = clip(o, 1e-7, 1 - 1e-7)
    return negative(add(multiply(t, log(o)), multiply(subtract(1, t), log(subtract(1, o)))))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    t, o = operands(target, output, to_float=True)
    if from_logits:
        return negative(sum(multiply(t, log_softmax(o, axis)), axis))
    o = divide(o, sum(o, axis, True))
    return negative(sum(multiply(t, log(clip(o, 1e-7, 1 - 1e-7))), axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    o = tensor(output)
    labels = tensor(target)
    if labels.ndim == o.ndim and labels.shape[-1] == 1:
        labels = squeeze(labels, -1)
    return categorical_crossentropy(one_hot(cast(labels, np.int32), o.shape[axis], axis, o.dtype), o,
                                    from_logits, axis)


def celu(x, alpha=1.0):
    (t,) = operands(x, to_float=True)
    return add(relu(t), multiply(alpha, expm1(divide(minimum(t, 0), alpha))))


def glu(x, axis=-1):
    a, b = split(x, 2, axis)
    return multiply(a, sigmoid(b))


def cond(pred, true_fn, false_fn):
    """Both branches traced, the result chosen element-wise (as jax.lax.cond's values)."""
    a, b = true_fn(), false_fn()
    if isinstance(a, (list, tuple)):
        return type(a)(where(pred, x, y) for x, y in zip(a, b))
    return where(pred, a, b)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False, flash_attention=None,
                          attn_logits_soft_cap=None):
    """Fused (kernels/attention.cpp): (batch, steps, heads, size) tensors; a boolean mask the same
    for every head, and/or the causal mask."""
    from .rules import attention_mask
    if bias is not None or attn_logits_soft_cap is not None:
        raise NotImplementedError("dot_product_attention: bias and attn_logits_soft_cap are not supported yet")
    q, k, v = (tensor(x) for x in (query, key, value))
    if not (len(q.shape) == len(k.shape) == len(v.shape) == 4):
        raise ValueError(f"dot_product_attention: expected (batch, steps, heads, size) query, key and value, got "
                         f"{q.shape}, {k.shape}, {v.shape}")
    q, k, v = (x if x.dtype.kind == "f" else cast(x, FLOATX) for x in (q, k, v))
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    ins = [q, k, v]
    if mask is not None:
        m = tensor(mask)
        attention_mask(np.zeros(m.shape, np.bool_), q.shape[0], q.shape[1], k.shape[1])  # (the shape, checked now)
        ins.append(m)
    bf16 = {"bf16": True} if mixed_precision.computing_bf16() else {}  # (a mixed_bfloat16 layer's call())
    return bind("dot_product_attention", ins, scale=scale, causal=bool(is_causal), **bf16)


TRACED = {name: fn for name, fn in list(globals().items())
          if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", None) == __name__
          and name not in ("trace_of", "is_traced_arg", "tensor", "bind", "operands", "getitem", "arange_along")}


def _install_operators():
    """Python's operators on traced tensors (and on variables read inside a trace) record ops."""
    def rev(f):
        return lambda self, other: f(other, self)
    table = {"__add__": add, "__sub__": subtract, "__mul__": multiply, "__truediv__": divide,
             "__matmul__": matmul, "__pow__": power, "__floordiv__": floor_divide, "__mod__": mod,
             "__lt__": less, "__le__": less_equal, "__gt__": greater, "__ge__": greater_equal,
             "__and__": logical_and, "__or__": logical_or, "__xor__": logical_xor}
    for name, f in table.items():
        setattr(Tensor, name, f)
        if name not in ("__lt__", "__le__", "__gt__", "__ge__"):
            setattr(Tensor, "__r" + name[2:], rev(f))
    Tensor.__eq__ = lambda self, other: equal(self, other)
    Tensor.__ne__ = lambda self, other: not_equal(self, other)
    Tensor.__neg__ = negative
    Tensor.__pos__ = lambda self: self
    Tensor.__abs__ = abs
    Tensor.__invert__ = logical_not
    Tensor.__getitem__ = getitem
    Tensor.T = property(lambda self: transpose(self))
    Tensor.astype = cast
    Tensor.reshape = lambda self, *shape: reshape(self, shape[0] if len(shape) == 1 else shape)


_install_operators()
tracing.OPERATORS.update(TRACED, getitem=getitem)
