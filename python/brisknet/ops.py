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

from . import activations, kernels, mixed_precision

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
    if stop is None:
        start, stop = 0, start
    from .autodiff import tracing
    if isinstance(stop, tracing.Dim) and stop.of_trace(tracing.current()) and not isinstance(start, tracing.Dim) \
            and not isinstance(step, tracing.Dim):
        # (up to a traced tensor's size, inside call(): read at run time, as the positions of a
        # Transformer's prompt, so a longer prompt needs no new trace)
        from .autodiff import traced_ops
        return traced_ops.arange_along(start, stop, step, dtype)
    return np.arange(start, stop, step, dtype=np.dtype(dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    return np.linspace(start, stop, num, endpoint, retstep, _dtype(dtype), axis)


def tri(N, M=None, k=0, dtype=None):
    return np.tri(N, M, k, dtype=_dtype(dtype))


# ------------------------------------------------------------------------------------ elementwise
def _unary(np_fn, name, to_float=False):
    """keras.ops.<name> as numpy's element-wise np_fn (to_float: integers become float32 first)."""
    def f(x):
        return np_fn(_float(x) if to_float else convert_to_tensor(x))
    f.__name__ = name
    f.__doc__ = f"Element-wise {name}, as keras.ops.{name}."
    return f


def _unary_float(np_fn, name):
    return _unary(np_fn, name, to_float=True)


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
    """x1 @ x2; 2-D float32 operands run on brisknet's GEMM (in bf16 inside the call() of a
    mixed_bfloat16 layer)."""
    a, b = convert_to_tensor(x1), convert_to_tensor(x2)
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in (np.float32, np.float64) \
            and a.shape[1] == b.shape[0] and a.size and b.size:
        return kernels.matmul(a, b, bf16=a.dtype == np.float32 and mixed_precision.computing_bf16())
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


# ------------------------------------------------------------------------------ more of keras.ops
cbrt, deg2rad, rad2deg, exp2, fabs, trunc, sinc, i0 = (_unary_float(fn, n) for fn, n in (
    (np.cbrt, "cbrt"), (np.deg2rad, "deg2rad"), (np.rad2deg, "rad2deg"), (np.exp2, "exp2"), (np.fabs, "fabs"),
    (np.trunc, "trunc"), (np.sinc, "sinc"), (np.i0, "i0")))
signbit, isneginf, isposinf, real, imag, angle, bitwise_not = (_unary(fn, n) for fn, n in (
    (np.signbit, "signbit"), (np.isneginf, "isneginf"), (np.isposinf, "isposinf"), (np.real, "real"),
    (np.imag, "imag"), (np.angle, "angle"), (np.invert, "bitwise_not")))
bitwise_invert = bitwise_not
fmod, hypot, logaddexp2, heaviside, ldexp, nextafter, lcm, gcd = (_binary(fn, n) for fn, n in (
    (np.fmod, "fmod"), (np.hypot, "hypot"), (np.logaddexp2, "logaddexp2"), (np.heaviside, "heaviside"),
    (np.ldexp, "ldexp"), (np.nextafter, "nextafter"), (np.lcm, "lcm"), (np.gcd, "gcd")))
bitwise_and, bitwise_or, bitwise_xor, left_shift, right_shift, inner, kron, vdot = (_binary(fn, n) for fn, n in (
    (np.bitwise_and, "bitwise_and"), (np.bitwise_or, "bitwise_or"), (np.bitwise_xor, "bitwise_xor"),
    (np.left_shift, "left_shift"), (np.right_shift, "right_shift"), (np.inner, "inner"), (np.kron, "kron"),
    (np.vdot, "vdot")))
nanmax, nanmin, nansum, nanprod, ptp = (_reduction(fn, n, False) for fn, n in (
    (np.nanmax, "nanmax"), (np.nanmin, "nanmin"), (np.nansum, "nansum"), (np.nanprod, "nanprod"), (np.ptp, "ptp")))
nanmean, nanstd, nanvar, nanmedian = (_reduction(fn, n, True) for fn, n in (
    (np.nanmean, "nanmean"), (np.nanstd, "nanstd"), (np.nanvar, "nanvar"), (np.nanmedian, "nanmedian")))


def nanargmax(x, axis=None, keepdims=False):
    return np.asarray(np.nanargmax(convert_to_tensor(x), axis=axis, keepdims=keepdims), np.int32)


def nanargmin(x, axis=None, keepdims=False):
    return np.asarray(np.nanargmin(convert_to_tensor(x), axis=axis, keepdims=keepdims), np.int32)


def nancumsum(x, axis=None, dtype=None):
    return np.nancumsum(convert_to_tensor(x), axis=axis, dtype=dtype)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    return np.percentile(_float(x), q, axis=_axis(axis), method=method, keepdims=keepdims)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    return np.nanpercentile(_float(x), q, axis=_axis(axis), method=method, keepdims=keepdims)


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    return np.nanquantile(_float(x), q, axis=_axis(axis), method=method, keepdims=keepdims)


def append(x1, x2, axis=None):
    return np.append(convert_to_tensor(x1), convert_to_tensor(x2), axis=axis)


def diff(a, n=1, axis=-1):
    return np.diff(convert_to_tensor(a), n=n, axis=axis)


def dstack(xs):
    return np.dstack([convert_to_tensor(x) for x in xs])


def empty_like(x, dtype=None):
    return np.empty_like(convert_to_tensor(x), dtype=dtype)


def flipud(x):
    return np.flipud(convert_to_tensor(x))


def fliplr(x):
    return np.fliplr(convert_to_tensor(x))


def isin(x1, x2, assume_unique=False, invert=False):
    return np.isin(x1, x2, assume_unique=assume_unique, invert=invert)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    return np.logspace(start, stop, num, endpoint, base, _dtype(dtype), axis)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    return np.geomspace(start, stop, num, endpoint, _dtype(dtype), axis)


def nonzero(x):
    return tuple(i.astype(np.int32) for i in np.nonzero(convert_to_tensor(x)))


def roll(x, shift, axis=None):
    return np.roll(convert_to_tensor(x), shift, axis)


def rot90(array, k=1, axes=(0, 1)):
    return np.rot90(convert_to_tensor(array), k, axes)


def searchsorted(sorted_sequence, values, side="left"):
    return np.searchsorted(sorted_sequence, values, side=side).astype(np.int32)


def digitize(x, bins):
    return np.digitize(x, bins).astype(np.int32)


def bincount(x, weights=None, minlength=0, sparse=False):
    return np.bincount(np.asarray(x), weights=weights, minlength=minlength)


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    return bool(np.allclose(x1, x2, rtol, atol, equal_nan))


def array_split(x, indices_or_sections, axis=0):
    return np.array_split(convert_to_tensor(x), indices_or_sections, axis)


def argpartition(x, kth, axis=-1):
    return np.argpartition(convert_to_tensor(x), kth, axis).astype(np.int32)


def corrcoef(x):
    return np.corrcoef(_float(x))


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    return np.cross(x1, x2, axisa, axisb, axisc, axis)


def diagflat(x, k=0):
    return np.diagflat(x, k)


def histogram(x, bins=10, range=None):
    return np.histogram(x, bins, range)


def hsplit(x, indices_or_sections):
    return np.hsplit(convert_to_tensor(x), indices_or_sections)


def vsplit(x, indices_or_sections):
    return np.vsplit(convert_to_tensor(x), indices_or_sections)


def dsplit(x, indices_or_sections):
    return np.dsplit(convert_to_tensor(x), indices_or_sections)


def select(condlist, choicelist, default=0):
    return np.select(condlist, choicelist, default)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    return np.trapezoid(y, x, dx, axis)


def multi_hot(inputs, num_classes=None, axis=-1, dtype=None, sparse=False, **kwargs):
    """1 for each class present in a row of integer labels (batched 2-D input, or one 1-D row)."""
    labels = np.asarray(inputs)
    rows = labels if labels.ndim > 1 else labels[None]
    out = one_hot(rows, num_classes, dtype=dtype).max(axis=-2)
    return out if labels.ndim > 1 else out[0]


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    data, ids = convert_to_tensor(data), np.asarray(segment_ids)
    n = int(ids.max()) + 1 if num_segments is None else int(num_segments)
    out = np.zeros((n,) + data.shape[1:], data.dtype)
    np.add.at(out, ids, data)
    return out


def segment_max(data, segment_ids, num_segments=None, sorted=False):
    data, ids = convert_to_tensor(data), np.asarray(segment_ids)
    n = int(ids.max()) + 1 if num_segments is None else int(num_segments)
    low = np.finfo(data.dtype).min if data.dtype.kind == "f" else np.iinfo(data.dtype).min
    out = np.full((n,) + data.shape[1:], low, data.dtype)
    np.maximum.at(out, ids, data)
    return out


def scatter(indices, values, shape):
    """A zero array of `shape` with `values` added at `indices` (rows of coordinates)."""
    values = convert_to_tensor(values)
    out = np.zeros(shape, values.dtype)
    np.add.at(out, tuple(np.asarray(indices).T), values)
    return out


def scatter_update(inputs, indices, updates, reduction=None):
    out = np.array(convert_to_tensor(inputs), copy=True)
    out[tuple(np.asarray(indices).T)] = updates
    return out


def slice_update(inputs, start_indices, updates):
    out = np.array(convert_to_tensor(inputs), copy=True)
    updates = np.asarray(updates)
    out[tuple(builtins.slice(s, s + n) for s, n in zip(start_indices, updates.shape))] = updates
    return out


def saturate_cast(x, dtype):
    dtype = np.dtype(dtype)
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    return np.clip(convert_to_tensor(x), info.min, info.max).astype(dtype)


# control flow runs eagerly on numpy
def cond(pred, true_fn, false_fn):
    return true_fn() if pred else false_fn()


def switch(index, branches, *operands):
    return branches[builtins.max(0, builtins.min(int(index), len(branches) - 1))](*operands)


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in range(lower, upper):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    is_tuple = isinstance(loop_vars, (tuple, list))
    state, steps = (tuple(loop_vars) if is_tuple else (loop_vars,)), 0
    while cond(*state) and (maximum_iterations is None or steps < maximum_iterations):
        state = body(*state)
        state = tuple(state) if isinstance(state, (tuple, list)) else (state,)
        steps += 1
    return state if is_tuple else state[0]


def map(f, xs):
    return np.stack([f(x) for x in xs])


# linear algebra
def qr(x, mode="reduced"):
    return np.linalg.qr(_float(x), mode=mode)


def svd(x, full_matrices=True, compute_uv=True):
    return np.linalg.svd(_float(x), full_matrices=full_matrices, compute_uv=compute_uv)


def inv(x):
    return np.linalg.inv(_float(x))


def det(x):
    return np.linalg.det(_float(x))


def solve(a, b):
    return np.linalg.solve(_float(a), _float(b))


def cholesky(x, upper=False):
    lower = np.linalg.cholesky(_float(x))
    return np.swapaxes(lower, -1, -2).conj() if upper else lower


def eig(x):
    return np.linalg.eig(_float(x))


def eigh(x):
    return np.linalg.eigh(_float(x))


def lstsq(a, b, rcond=None):
    return np.linalg.lstsq(_float(a), _float(b), rcond=rcond)[0]


def slogdet(x):
    return np.linalg.slogdet(_float(x))


def logdet(x):
    return np.linalg.slogdet(_float(x))[1]


def pinv(x, rcond=None):
    return np.linalg.pinv(_float(x)) if rcond is None else np.linalg.pinv(_float(x), rcond)


def matrix_rank(x, tol=None):
    return np.asarray(np.linalg.matrix_rank(_float(x), tol), np.int32)


# more nn ops, from their Keras definitions
def threshold(x, threshold, default_value):
    x = convert_to_tensor(x)
    return np.where(x > threshold, x, np.asarray(default_value, x.dtype))


def celu(x, alpha=1.0):
    x = _float(x)
    return np.maximum(x, 0) + alpha * np.expm1(np.minimum(x, 0) / alpha)


def glu(x, axis=-1):
    a, b = np.split(_float(x), 2, axis=axis)
    return a * sigmoid(b)


def hard_shrink(x, threshold=0.5):
    x = _float(x)
    return np.where(np.abs(x) > threshold, x, 0).astype(x.dtype)


def soft_shrink(x, threshold=0.5):
    x = _float(x)
    return np.where(x > threshold, x - threshold, np.where(x < -threshold, x + threshold, 0)).astype(x.dtype)


def tanh_shrink(x):
    x = _float(x)
    return x - np.tanh(x)


def sparse_plus(x):
    x = _float(x)
    return np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)).astype(x.dtype)


def sparse_sigmoid(x):
    x = _float(x)
    return np.where(x <= -1, 0, np.where(x >= 1, 1, (x + 1) / 2)).astype(x.dtype)


def squareplus(x, b=4):
    x = _float(x)
    return ((x + np.sqrt(x * x + b)) / 2).astype(x.dtype)


def psnr(x1, x2, max_val):
    mse = np.mean(np.square(_float(x1) - _float(x2)))
    return np.asarray(20 * np.log10(max_val) - 10 * np.log10(mse), np.float32)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    x = _float(x)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]

    def b(v):
        return np.reshape(np.asarray(v, x.dtype), shape)
    out = (x - b(mean)) / np.sqrt(b(variance) + epsilon)
    if scale is not None:
        out = out * b(scale)
    if offset is not None:
        out = out + b(offset)
    return out


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None, **kwargs):
    x = _float(x)
    m, v = x.mean(axis=axis, keepdims=True), x.var(axis=axis, keepdims=True)
    out = (x - m) / np.sqrt(v + (1e-3 if epsilon is None else epsilon))
    if gamma is not None:
        out = out * np.asarray(gamma, x.dtype)
    if beta is not None:
        out = out + np.asarray(beta, x.dtype)
    return out


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    x = _float(x)
    eps = np.finfo(x.dtype).eps if epsilon is None else epsilon
    out = x / np.sqrt(np.mean(x * x, axis=axis, keepdims=True) + eps)
    return out if scale is None else out * np.asarray(scale, x.dtype)


# window functions
def hamming(x):
    return np.hamming(int(x)).astype(FLOATX)


def hanning(x):
    return np.hanning(int(x)).astype(FLOATX)


def blackman(x):
    return np.blackman(int(x)).astype(FLOATX)


def bartlett(x):
    return np.bartlett(int(x)).astype(FLOATX)


def kaiser(x, beta):
    return np.kaiser(int(x), beta).astype(FLOATX)


# ------------------------------------------------------------------------------ attention
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False, flash_attention=None,
                          attn_logits_soft_cap=None):
    """softmax(query key^T * scale, masked) value, fused in C++ (kernels/attention.cpp): query
    (batch, queries, heads, size), key (batch, keys, heads, size), value (batch, keys, heads,
    size_v); mask: booleans broadcastable to (batch, heads, queries, keys), the same for every
    head; is_causal: key j only for queries i >= j; scale: 1/sqrt(size) by default. A query that
    may attend to no key gets the mean of the values (as Keras' large negative mask gives)."""
    from .autodiff.rules import PRIMITIVES
    if bias is not None or attn_logits_soft_cap is not None:
        raise NotImplementedError("dot_product_attention: bias and attn_logits_soft_cap are not supported yet")
    q, k, v = (_float(x) for x in (query, key, value))
    if not (q.ndim == k.ndim == v.ndim == 4):
        raise ValueError(f"dot_product_attention: expected (batch, steps, heads, size) query, key and value, got "
                         f"{q.shape}, {k.shape}, {v.shape}")
    scale = 1.0 / _math.sqrt(q.shape[-1]) if scale is None else float(scale)
    args = (q, k, v) if mask is None else (q, k, v, np.asarray(mask))
    bf16 = {"bf16": True} if mixed_precision.computing_bf16() else {}  # (a mixed_bfloat16 layer's call())
    return PRIMITIVES["dot_product_attention"].forward(*args, scale=scale, causal=bool(is_causal), **bf16)[0]


# ------------------------------------------------------------------------------ tracing
# what these ops say of a functional model's symbolic tensor (the others make graph nodes)
_SYMBOLIC_METADATA = {"shape": lambda x: tuple(x.shape), "ndim": lambda x: len(x.shape),
                      "is_tensor": lambda x: True, "dtype": lambda x: getattr(x, "dtype", "float32")}


def _dispatch_traced(namespace):
    """Every public op sends a call with a traced argument (a symbolic tensor of a layer's call(),
    or a variable read inside one) to its traced twin; ops without one say so. A call on the
    functional API's symbolic tensors becomes a node of the model's graph (layers/operation.py)."""
    from .autodiff import traced_ops
    from .layers import operation, symbolic

    def has_symbolic(values):
        return builtins.any(symbolic.is_symbolic(v) or (isinstance(v, (list, tuple)) and has_symbolic(v))
                            for v in values)

    def wrap(name, eager):
        traced = traced_ops.TRACED.get(name)
        metadata = _SYMBOLIC_METADATA.get(name)

        def op(*args, **kwargs):
            if has_symbolic(args) or has_symbolic(kwargs.values()):
                # (a functional model's tensor: the call becomes a node of its graph)
                return metadata(*args, **kwargs) if metadata else operation.symbolic_call(op, name, args, kwargs)
            if builtins.any(traced_ops.is_traced_arg(a) for a in args) or \
                    builtins.any(traced_ops.is_traced_arg(a) for a in kwargs.values()):
                if traced is None:
                    raise NotImplementedError(f"keras.ops.{name} has no gradient rule in brisknet yet, so it cannot "
                                              "be used inside a traced call(); see the README's list of "
                                              "differentiable ops")
                return traced(*args, **kwargs)
            return eager(*args, **kwargs)
        op.__name__, op.__doc__, op.__wrapped__ = name, eager.__doc__, eager
        return op

    for name, fn in list(namespace.items()):
        if callable(fn) and not name.startswith("_") and getattr(fn, "__module__", None) == __name__:
            namespace[name] = wrap(name, fn)


_dispatch_traced(globals())


class _NN:
    """keras.ops.nn: the neural-network ops under their submodule name."""


nn = _NN()
for _name in ("relu", "relu6", "sigmoid", "hard_sigmoid", "hard_silu", "hard_swish", "tanh", "softplus", "softsign",
              "silu", "swish", "log_sigmoid", "hard_tanh", "mish", "leaky_relu", "elu", "selu", "gelu", "softmax",
              "log_softmax", "one_hot", "multi_hot", "dot_product_attention"):
    if _name in globals():
        setattr(nn, _name, globals()[_name])


class _Image:
    """keras.ops.image: resizing on numpy arrays, channels_last (brisknet's kernel, images.py)."""

    @staticmethod
    def resize(images, size, interpolation="bilinear", antialias=False, crop_to_aspect_ratio=False,
               pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0, data_format=None):
        """Keras' ops.image.resize: (h, w, c) or (n, h, w, c) images to size = (height, width),
        bilinear or nearest with half-pixel centres, as TensorFlow (antialias=False)."""
        from . import images as image_utils
        if antialias:
            raise NotImplementedError("ops.image.resize: antialias=True is not supported by brisknet yet")
        if fill_mode != "constant":
            raise ValueError(f"ops.image.resize: fill_mode must be 'constant', got {fill_mode!r}")
        x = np.asarray(images)
        if data_format == "channels_first":
            x = np.moveaxis(x, -3, -1)
        out = image_utils.resize_to_aspect(x, size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                                           fill_value)
        return np.moveaxis(out, -1, -3) if data_format == "channels_first" else out

    @staticmethod
    def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0,
                         data_format=None):
        """Keras' ops.image.affine_transform: each image read where its transform (a0 a1 a2 b0 b1 b2
        c0 c1) maps the output's pixel (x, y), as TensorFlow's ImageProjectiveTransformV3."""
        from . import images as image_utils
        x = np.asarray(images)
        if data_format == "channels_first":
            x = np.moveaxis(x, -3, -1)
        out = image_utils.affine_transform(x, transform, interpolation, fill_mode, fill_value)
        return np.moveaxis(out, -1, -3) if data_format == "channels_first" else out


image = _Image()
