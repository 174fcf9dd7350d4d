"""``keras.ops`` on numpy arrays: Keras 3's op names and signatures (the common subset), for custom
losses, metrics, schedules and callbacks written as ``from keras import ops``.

Arrays in, numpy arrays out. As Keras: Python floats become float32 (Keras' floatx), Python ints
int32, and math that needs floats (``exp``, ``mean``, ``sqrt``, ...) turns integer inputs into
float32; numpy arrays keep their float dtype. The neural-network ops (``relu``, ``sigmoid``,
``softmax``, ...) run on brisknet's C++ kernels. The raw kernels themselves are ``brisknet.kernels``.
"""
from __future__ import annotations

import builtins
import math as _math

import numpy as np

from . import activations, kernels

FLOATX = np.float32


# ------------------------------------------------------------------------------------ conversion
def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """x as an array: Python floats -> float32, Python ints -> int32, arrays keep their dtype."""
    if dtype is not None:
        return np.asarray(x, dtype=_dtype(dtype))
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, np.generic):
        return np.asarray(x)
    a = np.asarray(x)
    if a.dtype == np.float64:
        return a.astype(FLOATX)
    if a.dtype == np.int64:
        return a.astype(np.int32)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"convert_to_tensor: expected numbers, got dtype {a.dtype}")
    return a


def convert_to_numpy(x):
    return np.asarray(x)


def _dtype(dtype):
    return np.dtype("float32" if dtype is None else dtype)


def _float(x):
    """x as a float array (integers and bools become float32)."""
    a = convert_to_tensor(x)
    return a if a.dtype.kind == "f" else a.astype(FLOATX)


def cast(x, dtype):
    return np.asarray(convert_to_tensor(x), dtype=_dtype(dtype))


def shape(x):
    return tuple(np.shape(x))


def ndim(x):
    return np.ndim(x)


def size(x):
    return int(np.size(x))


def dtype(x):
    return convert_to_tensor(x).dtype.name


def stop_gradient(variable):
    return variable


def is_tensor(x):
    return isinstance(x, np.ndarray)


# -------------------------------------------------------------------------------------- creation
def ones(shape, dtype=None):
    return np.ones(shape, _dtype(dtype))


def zeros(shape, dtype=None):
    return np.zeros(shape, _dtype(dtype))


def full(shape, fill_value, dtype=None):
    return np.full(shape, fill_value, _dtype(dtype))


def empty(shape, dtype=None):
    return np.empty(shape, _dtype(dtype))


def ones_like(x, dtype=None):
    return np.ones_like(convert_to_tensor(x), dtype=dtype)


def zeros_like(x, dtype=None):
    return np.zeros_like(convert_to_tensor(x), dtype=dtype)


def full_like(x, fill_value, dtype=None):
    return np.full_like(convert_to_tensor(x), fill_value, dtype=dtype)


def eye(N, M=None, k=0, dtype=None):
    return np.eye(N, M, k, dtype=_dtype(dtype))


def identity(n, dtype=None):
    return np.identity(n, dtype=_dtype(dtype))


def arange(start, stop=None, step=1, dtype=None):
    if dtype is None:
        ints = builtins.all(isinstance(v, (int, np.integer)) for v in (start, stop, step) if v is not None)
        dtype = "int32" if ints else "float32"
    return np.arange(start, stop, step, dtype=np.dtype(dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return np.linspace(start, stop, num, endpoint, retstep, _dtype(dtype), axis)


def tri(N, M=None, k=0, dtype=None):
    return np.tri(N, M, k, dtype=_dtype(dtype))


# ------------------------------------------------------------------------------------ elementwise
def _unary_float(np_fn, name):
    def f(x):
        return np_fn(_float(x))
    f.__name__ = name
    f.__doc__ = f"Element-wise {name} (integers become float32), as keras.ops.{name}."
    return f


exp, expm1, log, log1p, log2, log10 = (_unary_float(fn, fn.__name__) for fn in
                                       (np.exp, np.expm1, np.log, np.log1p, np.log2, np.log10))
sqrt, sin, cos, tan, arcsin, arccos, arctan = (_unary_float(fn, fn.__name__) for fn in
                                               (np.sqrt, np.sin, np.cos, np.tan, np.arcsin, np.arccos,
                                                np.arctan))
sinh, cosh, arcsinh, arccosh, arctanh, reciprocal = (_unary_float(fn, fn.__name__) for fn in
                                                     (np.sinh, np.cosh, np.arcsinh, np.arccosh,
                                                      np.arctanh, np.reciprocal))


def rsqrt(x):
    return 1 / np.sqrt(_float(x))


def erf(x):
    x = _float(x)
    return np.vectorize(_math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


def _unary(np_fn, name):
    def f(x):
        return np_fn(convert_to_tensor(x))
    f.__name__ = name
    f.__doc__ = f"Element-wise {name}, as keras.ops.{name}."
    return f


abs, negative, sign, square, floor, ceil = (_unary(fn, n) for fn, n in
                                            ((np.abs, "abs"), (np.negative, "negative"), (np.sign, "sign"),
                                             (np.square, "square"), (np.floor, "floor"), (np.ceil, "ceil")))
absolute = abs
isnan, isinf, isfinite, logical_not, conj = (_unary(fn, fn.__name__) for fn in
                                             (np.isnan, np.isinf, np.isfinite, np.logical_not, np.conj))
conjugate = conj


def round(x, decimals=0):
    return np.round(convert_to_tensor(x), decimals)


def _binary(np_fn, name):
    def f(x1, x2):
        return np_fn(convert_to_tensor(x1), convert_to_tensor(x2))
    f.__name__ = name
    f.__doc__ = f"Element-wise {name} with broadcasting, as keras.ops.{name}."
    return f


add, subtract, multiply, maximum, minimum, power, mod, floor_divide = (
    _binary(fn, n) for fn, n in ((np.add, "add"), (np.subtract, "subtract"), (np.multiply, "multiply"),
                                 (np.maximum, "maximum"), (np.minimum, "minimum"), (np.power, "power"),
                                 (np.mod, "mod"), (np.floor_divide, "floor_divide")))
equal, not_equal, greater, greater_equal, less, less_equal = (
    _binary(fn, fn.__name__) for fn in (np.equal, np.not_equal, np.greater, np.greater_equal, np.less,
                                        np.less_equal))
logical_and, logical_or, logical_xor, arctan2, logaddexp = (
    _binary(fn, fn.__name__) for fn in (np.logical_and, np.logical_or, np.logical_xor, np.arctan2,
                                        np.logaddexp))


def divide(x1, x2):
    return np.true_divide(_float(x1), _float(x2))


true_divide = divide


def divide_no_nan(x1, x2):
    """x1 / x2, and 0 where x2 is 0."""
    x1, x2 = _float(x1), _float(x2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x2 == 0, np.zeros((), np.result_type(x1, x2)), x1 / x2)


def clip(x, x_min, x_max):
    return np.clip(convert_to_tensor(x), x_min, x_max)


def where(condition, x1=None, x2=None):
    if x1 is None and x2 is None:
        return np.nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError("where: give both x1 and x2, or neither")
    return np.where(condition, convert_to_tensor(x1), convert_to_tensor(x2))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    return np.nan_to_num(convert_to_tensor(x), nan=nan, posinf=posinf, neginf=neginf)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return np.isclose(x1, x2, rtol, atol, equal_nan)


# ------------------------------------------------------------------------------------ reductions
def _reduction(np_fn, name, to_float):
    def f(x, axis=None, keepdims=False):
        x = _float(x) if to_float else convert_to_tensor(x)
        return np.asarray(np_fn(x, axis=_axis(axis), keepdims=keepdims))
    f.__name__ = name
    f.__doc__ = f"{name} over `axis` (all axes when None), as keras.ops.{name}."
    return f


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


sum, prod, all, any = (_reduction(fn, n, False) for fn, n in
                       ((np.sum, "sum"), (np.prod, "prod"), (np.all, "all"), (np.any, "any")))
mean, var, std, median = (_reduction(fn, n, True) for fn, n in
                          ((np.mean, "mean"), (np.var, "var"), (np.std, "std"), (np.median, "median")))


def max(x, axis=None, keepdims=False, initial=None):
    kw = {} if initial is None else {"initial": initial}
    return np.asarray(np.max(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims, **kw))


def min(x, axis=None, keepdims=False, initial=None):
    kw = {} if initial is None else {"initial": initial}
    return np.asarray(np.min(convert_to_tensor(x), axis=_axis(axis), keepdims=keepdims, **kw))


amax, amin = max, min


def argmax(x, axis=None, keepdims=False):
    return np.asarray(np.argmax(convert_to_tensor(x), axis=axis, keepdims=keepdims), np.int32)


def argmin(x, axis=None, keepdims=False):
    return np.asarray(np.argmin(convert_to_tensor(x), axis=axis, keepdims=keepdims), np.int32)


def argsort(x, axis=-1):
    return np.argsort(convert_to_tensor(x), axis=axis, kind="stable").astype(np.int32)


def sort(x, axis=-1):
    return np.sort(convert_to_tensor(x), axis=axis)


def cumsum(x, axis=None, dtype=None):
    return np.cumsum(convert_to_tensor(x), axis=axis, dtype=dtype)


def cumprod(x, axis=None, dtype=None):
    return np.cumprod(convert_to_tensor(x), axis=axis, dtype=dtype)


def count_nonzero(x, axis=None):
    return np.asarray(np.count_nonzero(convert_to_tensor(x), axis=_axis(axis)), np.int32)


def average(x, axis=None, weights=None):
    return np.asarray(np.average(_float(x), axis=axis, weights=weights))


def logsumexp(x, axis=None, keepdims=False):
    x = _float(x)
    m = np.max(x, axis=_axis(axis), keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=_axis(axis), keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=_axis(axis))


def norm(x, ord=None, axis=None, keepdims=False):
    return np.asarray(np.linalg.norm(_float(x), ord=ord, axis=_axis(axis), keepdims=keepdims))


def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over `axes`."""
    x = _float(x)
    return mean(x, axes, keepdims), var(x, axes, keepdims)


def quantile(x, q, axis=None, method="linear", keepdims=False):
    return np.quantile(_float(x), q, axis=_axis(axis), method=method, keepdims=keepdims)


# ---------------------------------------------------------------------------------- linear algebra
def matmul(x1, x2):
    """x1 @ x2; 2-D float32 operands run on brisknet's GEMM."""
    a, b = convert_to_tensor(x1), convert_to_tensor(x2)
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in (np.float32, np.float64) \
            and a.shape[1] == b.shape[0] and a.size and b.size:
        return kernels.matmul(a, b)
    return np.matmul(a, b)


def dot(x1, x2):
    return np.dot(convert_to_tensor(x1), convert_to_tensor(x2))


def tensordot(x1, x2, axes=2):
    return np.tensordot(x1, x2, axes)


def einsum(subscripts, *operands):
    return np.einsum(subscripts, *operands)


def outer(x1, x2):
    return np.outer(x1, x2)


def trace(x, offset=0, axis1=0, axis2=1):
    return np.trace(x, offset, axis1, axis2)


def diag(x, k=0):
    return np.diag(x, k)


def diagonal(x, offset=0, axis1=0, axis2=1):
    return np.diagonal(x, offset, axis1, axis2)


def tril(x, k=0):
    return np.tril(x, k)


def triu(x, k=0):
    return np.triu(x, k)


# ---------------------------------------------------------------------------------------- shapes
def reshape(x, newshape):
    return np.reshape(convert_to_tensor(x), newshape)


def transpose(x, axes=None):
    return np.transpose(convert_to_tensor(x), axes)


def expand_dims(x, axis):
    return np.expand_dims(convert_to_tensor(x), axis)


def squeeze(x, axis=None):
    return np.squeeze(convert_to_tensor(x), axis)


def ravel(x):
    return np.ravel(convert_to_tensor(x))


def flip(x, axis=None):
    return np.flip(convert_to_tensor(x), axis)


def moveaxis(x, source, destination):
    return np.moveaxis(convert_to_tensor(x), source, destination)


def swapaxes(x, axis1, axis2):
    return np.swapaxes(convert_to_tensor(x), axis1, axis2)


def broadcast_to(x, shape):
    return np.broadcast_to(convert_to_tensor(x), shape)


def concatenate(xs, axis=0):
    return np.concatenate([convert_to_tensor(x) for x in xs], axis=axis)


def stack(x, axis=0):
    return np.stack([convert_to_tensor(t) for t in x], axis=axis)


def hstack(xs):
    return np.hstack([convert_to_tensor(x) for x in xs])


def vstack(xs):
    return np.vstack([convert_to_tensor(x) for x in xs])


def split(x, indices_or_sections, axis=0):
    return np.split(convert_to_tensor(x), indices_or_sections, axis)


def tile(x, repeats):
    return np.tile(convert_to_tensor(x), repeats)


def repeat(x, repeats, axis=None):
    return np.repeat(convert_to_tensor(x), repeats, axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    kw = {} if constant_values is None or mode != "constant" else {"constant_values": constant_values}
    return np.pad(convert_to_tensor(x), pad_width, mode=mode, **kw)


def take(x, indices, axis=None):
    return np.take(convert_to_tensor(x), np.asarray(indices), axis=axis)


def take_along_axis(x, indices, axis=None):
    return np.take_along_axis(convert_to_tensor(x), np.asarray(indices), axis=axis)


def slice(inputs, start_indices, shape):
    """inputs[start : start + shape] along every axis."""
    return convert_to_tensor(inputs)[tuple(builtins.slice(s, s + n) for s, n in zip(start_indices, shape))]


def copy(x):
    return np.array(x, copy=True)


def array(x, dtype=None):
    return convert_to_tensor(x, dtype)


def meshgrid(*x, indexing="xy"):
    return np.meshgrid(*x, indexing=indexing)


# ------------------------------------------------------------------------------------ nn ops
def _activation(name, x, **kw):
    """An element-wise brisknet activation kernel."""
    x = _float(x)
    return x.copy() if x.size == 0 else kernels.activation(x, name, **kw)


def _nn_op(kernel_name, name):
    def f(x):
        return _activation(kernel_name, x)
    f.__name__ = name
    f.__doc__ = f"keras.ops.{name} on brisknet's {kernel_name} kernel."
    return f


relu, relu6, sigmoid, hard_sigmoid, hard_silu, tanh, softplus, softsign, silu, log_sigmoid, hard_tanh, mish = (
    _nn_op(kernel, name) for kernel, name in (
        ("relu", "relu"), ("relu6", "relu6"), ("sigmoid", "sigmoid"), ("hard_sigmoid", "hard_sigmoid"),
        ("hard_silu", "hard_silu"), ("tanh", "tanh"), ("softplus", "softplus"), ("softsign", "softsign"),
        ("swish", "silu"), ("log_sigmoid", "log_sigmoid"), ("hard_tanh", "hard_tanh"), ("mish", "mish")))
hard_swish, swish = hard_silu, silu


def leaky_relu(x, negative_slope=0.2):
    return _activation("leaky_relu", x, alpha=negative_slope)


def elu(x, alpha=1.0):
    return _activation("elu", x, alpha=alpha)


def selu(x):
    return _activation("selu", x)


def gelu(x, approximate=True):
    """As keras.ops.gelu, the tanh approximation by default (the activation's default is exact)."""
    return _activation("gelu_tanh" if approximate else "gelu", x)


def softmax(x, axis=-1):
    x = _float(x)
    return x.copy() if x.size == 0 else activations.softmax(x, axis)


def log_softmax(x, axis=-1):
    x = _float(x)
    return x.copy() if x.size == 0 else activations.log_softmax(x, axis)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """One-hot rows of integer labels x (a label outside [0, num_classes) gives a zero row)."""
    labels = np.asarray(x)
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(f"one_hot: expected integer labels, got dtype {labels.dtype}")
    out = (labels[..., None] == np.arange(int(num_classes))).astype(_dtype(dtype))
    return out if axis == -1 else np.moveaxis(out, -1, axis)


def _clip_probabilities(p):
    eps = 1e-7  # Keras' epsilon
    return np.clip(p, eps, 1 - eps)


def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary cross-entropy (no reduction), as keras.ops.binary_crossentropy."""
    t, o = _float(target), _float(output)
    if t.shape != o.shape:
        raise ValueError(f"binary_crossentropy: target {t.shape} and output {o.shape} must have the same shape")
    if from_logits:
        return np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o)))
    o = _clip_probabilities(o)
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy along `axis` of one-hot (or soft) targets, as keras.ops.categorical_crossentropy."""
    t, o = _float(target), _float(output)
    if t.shape != o.shape:
        raise ValueError(f"categorical_crossentropy: target {t.shape} and output {o.shape} must have the "
                         "same shape")
    if from_logits:
        return -np.sum(t * log_softmax(o, axis), axis=axis)
    o = o / np.sum(o, axis=axis, keepdims=True)
    return -np.sum(t * np.log(_clip_probabilities(o)), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy of integer labels against the classes on `axis`."""
    o = _float(output)
    labels = np.asarray(target)
    if labels.ndim == o.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    classes = o.shape[axis]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {classes}), got "
                         f"{labels.min()}..{labels.max()}")
    return categorical_crossentropy(one_hot(labels, classes, axis, o.dtype), o, from_logits, axis)


def top_k(x, k, sorted=True):
    """(values, indices) of the k largest entries along the last axis (ties: lower index first)."""
    x = convert_to_tensor(x)
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k].astype(np.int32)
    return np.take_along_axis(x, idx, -1), idx


def in_top_k(targets, predictions, k):
    """Whether each target's prediction is among the k largest of its row."""
    p = convert_to_tensor(predictions)
    t = np.asarray(targets).astype(np.int64)
    own = np.take_along_axis(p, t[:, None], 1)
    return np.sum(p > own, axis=1) < k


def normalize(x, axis=-1, order=2, epsilon=None):
    x = _float(x)
    n = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.maximum(n, 1e-12 if epsilon is None else epsilon)
