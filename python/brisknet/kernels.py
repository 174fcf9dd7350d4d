"""The raw C++ kernels on numpy arrays.

Every function accepts float32 or float64 arrays and computes in that dtype (float32 is the working
dtype; float64 exists for gradient checks). Inputs that are already C-contiguous arrays of the right
dtype are used without a copy; other numeric inputs (ints, bools, float16, strided views) are
converted, as numpy would; object and string arrays raise TypeError. ``out=`` buffers are written in
place and must match exactly (shape, dtype, contiguity), else ValueError/TypeError. The GIL is
released while a kernel runs, and every kernel obeys :func:`brisknet.set_num_threads`.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from . import _core

__all__ = [
    "ACTIVATIONS", "matmul", "column_sums", "dense_forward", "dense_input_grad", "dense_params_grad",
    "bf16_paths", "bf16_path", "set_bf16_path",
    "activation", "activation_grad", "softmax", "log_softmax",
    "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
    "mean_squared_error", "mean_absolute_error", "huber", "sgd_step", "adam_step", "rmsprop_step",
    "adagrad_step", "dropout", "dropout_grad",
]

# Activation names as Keras spells them, with aliases, mapped to the kernel's enum.
ACTIVATIONS = {
    "linear": _core.Activation.linear, "relu": _core.Activation.relu, "relu6": _core.Activation.relu6,
    "leaky_relu": _core.Activation.leaky_relu, "elu": _core.Activation.elu,
    "selu": _core.Activation.selu, "gelu": _core.Activation.gelu,
    "gelu_tanh": _core.Activation.gelu_tanh, "sigmoid": _core.Activation.sigmoid,
    "hard_sigmoid": _core.Activation.hard_sigmoid, "tanh": _core.Activation.tanh,
    "softplus": _core.Activation.softplus, "softsign": _core.Activation.softsign,
    "swish": _core.Activation.swish, "silu": _core.Activation.swish,
    "softmax": _core.Activation.softmax, "log_softmax": _core.Activation.log_softmax,
    "exponential": _core.Activation.exponential, "mish": _core.Activation.mish,
    "hard_silu": _core.Activation.hard_silu,
    "log_sigmoid": _core.Activation.log_sigmoid, "hard_tanh": _core.Activation.hard_tanh,
}
# Keras defaults of the one-parameter activations.
DEFAULT_ALPHA = {"leaky_relu": 0.2, "elu": 1.0}


def _float_dtype(*arrays) -> np.dtype:
    """float64 if any input is float64, else float32 (the working dtype)."""
    return np.dtype(np.float64) if any(a.dtype == np.float64 for a in arrays) else np.dtype(np.float32)


def as_array(x, name: str, dtype=None) -> np.ndarray:
    """x as a numeric ndarray (no copy when possible); TypeError for non-numeric data."""
    try:
        a = x if isinstance(x, np.ndarray) else np.asarray(x)
    except ValueError:  # (numpy: "setting an array element with a sequence")
        raise ValueError(f"{name}: its rows have different lengths (ragged sequences); pad them to one length "
                         "first, e.g. with keras.utils.pad_sequences") from None
    if a.dtype.kind == "O" and a.ndim == 1 and a.size and all(isinstance(r, (list, tuple, np.ndarray)) for r in a):
        raise ValueError(f"{name}: its rows have different lengths (ragged sequences); pad them to one length "
                         "first, e.g. with keras.utils.pad_sequences")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a numeric array, got dtype {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        a = a.astype(dtype)
    return a


def as_float(x, name: str, dtype=None) -> np.ndarray:
    """x as a C-contiguous float32/float64 array (float64 stays float64 unless dtype says otherwise)."""
    a = as_array(x, name)
    if dtype is None:
        dtype = _float_dtype(a)
    return np.ascontiguousarray(a, dtype=dtype)


def _out(out, shape, dtype, name="out") -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype}, got {out.dtype}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {out.shape}")
    return out


# ------------------------------------------------------------------------------------------ GEMM
def _matrices(a, b, name_a, name_b, who):
    """Two 2-D numeric arrays in their common float dtype (read in place: strides are kept)."""
    a, b = as_array(a, name_a), as_array(b, name_b)
    for arr, name in ((a, name_a), (b, name_b)):
        if arr.ndim != 2:
            raise ValueError(f"{who}: {name} must be 2-D, got shape {arr.shape}")
    dtype = _float_dtype(a, b)
    return a.astype(dtype, copy=False), b.astype(dtype, copy=False), dtype


def matmul(a, b, transpose_a=False, transpose_b=False, bias=None, out=None, beta=0.0, bf16=False):
    """``out = beta * out + op(a) @ op(b) (+ bias)`` where op transposes when asked, without a copy.

    a, b: 2-D arrays, read in place through their strides (views such as ``x.T`` are not copied).
    bias: optional 1-D array of length ``op(b).shape[1]``, added to every row.
    beta: 0 overwrites ``out`` (never reads it); 1 accumulates into ``out``.
    bf16: float32 only: a and b rounded to bfloat16, products summed in float32 (mixed precision;
    ``bf16_path()`` says which instructions run it).
    """
    a, b, dtype = _matrices(a, b, "a", "b", "matmul")
    m = a.shape[1] if transpose_a else a.shape[0]
    n = b.shape[0] if transpose_b else b.shape[1]
    if beta != 0.0 and out is None:
        raise ValueError("matmul: beta != 0 needs an out= array to accumulate into")
    out = _out(out, (m, n), dtype)
    if bias is not None:
        bias = as_float(bias, "bias", dtype)
        if bias.shape != (n,):
            raise ValueError(f"matmul: bias has shape {bias.shape}, expected ({n},)")
    _check_bf16(bf16, dtype, "matmul")
    _core.gemm(out, a, b, bool(transpose_a), bool(transpose_b), float(beta), bias, bf16=bool(bf16))
    return out


def _check_bf16(bf16, dtype, who):
    if bf16 and dtype != np.float32:
        raise ValueError(f"{who}: bf16 takes float32 operands, got {np.dtype(dtype).name}")


def bf16_paths():
    """The bf16 GEMM paths this CPU runs, fastest first: 'amx' (AMX-BF16 tiles), 'avx512_bf16'
    (VDPBF16PS) and 'emulated' (float32 arithmetic that gives VDPBF16PS' bits, on any CPU)."""
    return list(_core.bf16_paths())


def bf16_path():
    """The bf16 path in use: the fastest here, or the one BRISKNET_BF16 names."""
    return _core.bf16_path()


def set_bf16_path(name):
    """Switch the bf16 path ('amx', 'avx512_bf16' or 'emulated'; ValueError if this CPU lacks it)."""
    _core.set_bf16_path(str(name))


def column_sums(dy, out=None, beta=0.0):
    """Sum over rows of a 2-D array (the bias gradient): ``out = beta * out + dy.sum(axis=0)``."""
    dy = as_float(dy, "dy")
    if dy.ndim != 2:
        raise ValueError(f"column_sums: dy must be 2-D, got shape {dy.shape}")
    out = _out(out, (dy.shape[1],), dy.dtype)
    _core.column_sums(out, dy, float(beta))
    return out


# ------------------------------------------------------------- a Dense layer's passes, fused into GEMM
def _elementwise_activation(name):
    act = _activation_enum(name)
    if name in ("softmax", "log_softmax"):
        raise ValueError(f"{name} works on whole rows and cannot be fused into a GEMM; "
                         "use matmul and then activation")
    return act


def dense_forward(x, kernel, bias=None, activation="linear", alpha=None, bf16=False):
    """A Dense layer's forward pass in one GEMM: returns ``(z, y)`` with ``z = x @ kernel + bias``
    and ``y = activation(z)``, the activation applied to each tile of z while it is in cache.
    Bit-identical to ``matmul`` followed by ``activation``. Element-wise activations only."""
    act = _elementwise_activation(activation)
    x, kernel, dtype = _matrices(x, kernel, "x", "kernel", "dense_forward")
    z = np.empty((x.shape[0], kernel.shape[1]), dtype)
    y = np.empty_like(z)
    if bias is not None:
        bias = as_float(bias, "bias", dtype)
        if bias.shape != (z.shape[1],):
            raise ValueError(f"dense_forward: bias has shape {bias.shape}, expected ({z.shape[1]},)")
    _check_bf16(bf16, dtype, "dense_forward")
    _core.gemm(z, x, kernel, False, False, 0.0, bias, activation=act,
               alpha=_alpha(activation, alpha), activation_out=y, bf16=bool(bf16))
    return z, y


def dense_input_grad(dz, kernel, x_prev, y_prev, activation, alpha=None, bf16=False):
    """The gradient reaching the previous layer's pre-activation:
    ``(dz @ kernel.T) * activation'(x_prev)``, where ``y_prev = activation(x_prev)``, in one GEMM
    (the activation gradient applied to each tile while it is in cache). Bit-identical to
    ``matmul(dz, kernel, transpose_b=True)`` followed by ``activation_grad``."""
    act = _elementwise_activation(activation)
    dz, kernel, dtype = _matrices(dz, kernel, "dz", "kernel", "dense_input_grad")
    shape = (dz.shape[0], kernel.shape[0])
    x_prev = as_float(x_prev, "x_prev", dtype)
    y_prev = as_float(y_prev, "y_prev", dtype)
    for arr, name in ((x_prev, "x_prev"), (y_prev, "y_prev")):
        if arr.shape != shape:
            raise ValueError(f"dense_input_grad: {name} has shape {arr.shape}, expected {shape}")
    out = np.empty(shape, dtype)
    _check_bf16(bf16, dtype, "dense_input_grad")
    _core.gemm(out, dz, kernel, False, True, 0.0, None, activation=act,
               alpha=_alpha(activation, alpha), grad_x=x_prev, grad_y=y_prev, bf16=bool(bf16))
    return out


def dense_params_grad(h, dz, bf16=False):
    """A Dense layer's parameter gradients in one GEMM: returns ``(h.T @ dz, dz.sum(axis=0))``, the
    bias gradient summed while dz is packed. Bit-identical to ``matmul`` and ``column_sums``."""
    h, dz, dtype = _matrices(h, dz, "h", "dz", "dense_params_grad")
    dkernel = np.empty((h.shape[1], dz.shape[1]), dtype)
    dbias = np.empty((dz.shape[1],), dtype)
    _check_bf16(bf16, dtype, "dense_params_grad")
    _core.gemm(dkernel, h, dz, True, False, 0.0, None, b_column_sums=dbias, bf16=bool(bf16))
    return dkernel, dbias


# ----------------------------------------------------------------------------------- activations
def _activation_enum(name: str):
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}") from None


def _alpha(name, alpha):
    return float(DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha)


def activation(x, name: str, alpha=None, out=None):
    """``f(x)`` for a Keras activation name; softmax and log_softmax act along the last axis."""
    act = _activation_enum(name)
    x = as_float(x, "x")
    out = _out(out, x.shape, x.dtype)
    _core.activation_forward(out, x, act, _alpha(name, alpha))
    return out


def activation_grad(dy, x, y, name: str, alpha=None, out=None):
    """``dy * f'(x)`` given the input x and the output y = f(x) of the forward pass."""
    act = _activation_enum(name)
    dy = as_float(dy, "dy")
    x = as_float(x, "x", dy.dtype)
    y = as_float(y, "y", dy.dtype)
    if x.shape != dy.shape or y.shape != dy.shape:
        raise ValueError(f"activation_grad: dy {dy.shape}, x {x.shape} and y {y.shape} must match")
    out = _out(out, dy.shape, dy.dtype)
    _core.activation_backward(out, dy, x, y, act, _alpha(name, alpha))
    return out


def softmax(x, out=None):
    return activation(x, "softmax", out=out)


def log_softmax(x, out=None):
    return activation(x, "log_softmax", out=out)


# ---------------------------------------------------------------------------------------- losses
def _loss_common(y_pred, sample_weight):
    y_pred = as_float(y_pred, "y_pred")
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_pred.ndim != 2:
        raise ValueError(f"y_pred must be 1-D or 2-D, got shape {y_pred.shape}")
    rows = y_pred.shape[0]
    w = None
    if sample_weight is not None:
        w = as_float(sample_weight, "sample_weight", y_pred.dtype).reshape(-1)
        if w.shape != (rows,):
            raise ValueError(f"sample_weight has {w.size} values for {rows} samples")
    loss = np.empty(rows, y_pred.dtype)
    return y_pred, w, loss


_reused = threading.local()


@contextlib.contextmanager
def reused_gradient_buffers(owner: dict):
    """Inside it, the loss kernels write their gradients into buffers kept in `owner` (the k-th
    gradient of the block in the k-th buffer of its shape), reused from step to step: the logits'
    gradient of a language model is hundreds of MB, and touching fresh pages costs more than the
    loss itself. The caller must be done with a gradient before the block runs again."""
    _reused.owner, _reused.count, used = owner, 0, set()
    _reused.used = used
    try:
        yield
    finally:
        _reused.owner = None
        for key in [k for k in owner if k not in used]:  # (shapes of earlier batches: freed)
            del owner[key]


def _grad_buffer(return_grad, y_pred):
    if not return_grad:
        return None
    owner = getattr(_reused, "owner", None)
    if owner is None:
        return np.empty_like(y_pred)
    key = (_reused.count, y_pred.shape, y_pred.dtype.str)
    _reused.count += 1
    _reused.used.add(key)
    buf = owner.get(key)
    if buf is None:
        buf = owner[key] = np.empty_like(y_pred)
    return buf


def _result(loss, grad):
    return (loss, grad) if grad is not None else loss


def sparse_labels(y_true, rows: int) -> np.ndarray:
    """Integer class labels (N,) or (N, 1) as int64; non-integer values raise ValueError."""
    y = as_array(y_true, "y_true")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != rows:
        raise ValueError(f"y_true: expected {rows} integer labels, got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("y_true: sparse labels must be integers")
    return np.ascontiguousarray(y, dtype=np.int64)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None,
                                    return_grad=False, grad_scale=1.0):
    """Per-sample ``-log p[label]`` (times sample_weight); with return_grad also d(sum)/dy_pred."""
    y_pred, w, loss = _loss_common(y_pred, sample_weight)
    labels = sparse_labels(y_true, y_pred.shape[0])
    grad = _grad_buffer(return_grad, y_pred)
    _core.sparse_categorical_crossentropy(loss, grad, y_pred, labels, w, bool(from_logits), float(grad_scale))
    return _result(loss, grad)


def categorical_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None,
                             return_grad=False, grad_scale=1.0):
    y_pred, w, loss = _loss_common(y_pred, sample_weight)
    target = as_float(y_true, "y_true", y_pred.dtype)
    grad = _grad_buffer(return_grad, y_pred)
    _core.categorical_crossentropy(loss, grad, y_pred, target, w, bool(from_logits), float(grad_scale))
    return _result(loss, grad)


def _elementwise(kind, y_true, y_pred, sample_weight, return_grad, grad_scale, from_logits=False,
                 delta=1.0):
    y_pred, w, loss = _loss_common(y_pred, sample_weight)
    target = as_float(y_true, "y_true", y_pred.dtype)
    if target.ndim == 1:
        target = target[:, None]
    grad = _grad_buffer(return_grad, y_pred)
    _core.elementwise_loss(loss, grad, y_pred, target, w, kind, bool(from_logits), float(delta),
                           float(grad_scale))
    return _result(loss, grad)


def binary_crossentropy(y_true, y_pred, from_logits=False, sample_weight=None, return_grad=False,
                        grad_scale=1.0):
    return _elementwise(_core.LossKind.binary_crossentropy, y_true, y_pred, sample_weight,
                        return_grad, grad_scale, from_logits=from_logits)


def mean_squared_error(y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0):
    return _elementwise(_core.LossKind.mean_squared_error, y_true, y_pred, sample_weight,
                        return_grad, grad_scale)


def mean_absolute_error(y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0):
    return _elementwise(_core.LossKind.mean_absolute_error, y_true, y_pred, sample_weight,
                        return_grad, grad_scale)


def huber(y_true, y_pred, delta=1.0, sample_weight=None, return_grad=False, grad_scale=1.0):
    if not delta > 0:
        raise ValueError(f"huber: delta must be > 0, got {delta}")
    return _elementwise(_core.LossKind.huber, y_true, y_pred, sample_weight, return_grad,
                        grad_scale, delta=delta)


# ------------------------------------------------------------------------------------ optimizers
# Parameters and state are updated in place: they must already be C-contiguous float arrays of one
# dtype (a silent copy would lose the update). The gradient is converted if needed.
def _grad(grad, param):
    if not isinstance(param, np.ndarray):
        raise TypeError("param must be a numpy array (it is updated in place)")
    return as_float(grad, "grad", param.dtype)


def sgd_step(param, grad, velocity=None, learning_rate=0.01, momentum=0.0, nesterov=False):
    """Keras SGD: plain, momentum or Nesterov (velocity needed when momentum > 0)."""
    if momentum > 0 and velocity is None:
        raise ValueError("sgd_step: momentum > 0 needs a velocity array")
    _core.sgd_step(param, velocity if momentum > 0 else None, _grad(grad, param), float(learning_rate),
                   float(momentum), bool(nesterov))


def adam_step(param, grad, m, v, step, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
              vhat=None, weight_decay=0.0):
    """Keras Adam (AMSGrad when vhat is given; AdamW's decoupled decay when weight_decay > 0).

    step: the 1-based step number t used in the bias correction.
    """
    if step < 1:
        raise ValueError(f"adam_step: step must be >= 1, got {step}")
    alpha = learning_rate * np.sqrt(1.0 - beta_2 ** step) / (1.0 - beta_1 ** step)
    _core.adam_step(param, m, v, vhat, _grad(grad, param), float(alpha), float(beta_1), float(beta_2),
                    float(epsilon), float(learning_rate * weight_decay))


def rmsprop_step(param, grad, velocity, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 average_gradient=None, momentum_buffer=None):
    """Keras RMSprop; centered when average_gradient is given; momentum needs momentum_buffer."""
    if momentum > 0 and momentum_buffer is None:
        raise ValueError("rmsprop_step: momentum > 0 needs a momentum_buffer array")
    _core.rmsprop_step(param, velocity, average_gradient, momentum_buffer if momentum > 0 else None,
                       _grad(grad, param), float(learning_rate), float(rho), float(momentum), float(epsilon))


def adagrad_step(param, grad, accumulator, learning_rate=0.001, epsilon=1e-7):
    _core.adagrad_step(param, accumulator, _grad(grad, param), float(learning_rate), float(epsilon))


# --------------------------------------------------------------------------------------- dropout
def dropout(x, rate, seed, out=None):
    """Inverted dropout: returns (y, mask). The mask depends only on (seed, element index)."""
    x = as_float(x, "x")
    out = _out(out, x.shape, x.dtype)
    mask = np.empty(x.shape, np.uint8)
    _core.dropout_forward(out, mask, x, float(rate), int(seed) & 0xFFFFFFFFFFFFFFFF)
    return out, mask


def dropout_grad(dy, mask, rate, out=None):
    dy = as_float(dy, "dy")
    out = _out(out, dy.shape, dy.dtype)
    _core.dropout_backward(out, dy, np.ascontiguousarray(mask, dtype=np.uint8), float(rate))
    return out
