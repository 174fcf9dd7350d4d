"""The primitives of the op graph: each one's forward pass on numpy arrays and, beside it, its
vector-Jacobian product (the way tinygrad keeps gradient.py and PyTorch derivatives.yaml).

vjp(g, out, xs, attrs) gets the gradient g of the output, the output and the inputs of the
forward pass and returns one gradient per input (None where the input takes none). Every rule is
checked against float64 central differences in tests/test_autodiff.py. Integer and boolean
results carry no gradient (a primitive without vjp), as in Keras."""
from __future__ import annotations

import math

import numpy as np

from .. import _core, kernels, testing


class Primitive:
    """forward(*xs, **attrs) -> value; vjp(g, value, xs, attrs) -> a gradient (or None) per x.
    saves: forward returns (value, saved), and the vjp finds `saved` in attrs["saved"] (what the
    backward pass needs beside the value: the fused attention's log-sum-exp)."""

    def __init__(self, name, forward, vjp=None, saves=False):
        self.name, self.forward, self.vjp, self.saves = name, forward, vjp, saves

    def __repr__(self):
        return f"<primitive {self.name}>"


PRIMITIVES: dict = {}


def define(name, forward, vjp=None, saves=False):
    PRIMITIVES[name] = Primitive(name, forward, vjp, saves)


def unbroadcast(g, shape):
    """g summed down to `shape` (the reverse of numpy's broadcasting)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape)) if b == 1 and a != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _like(g, x):
    """g as x's gradient: x's shape (broadcasting undone) and dtype."""
    return unbroadcast(g, x.shape).astype(x.dtype, copy=False)


# ------------------------------------------------------------------------ element-wise, unary
def _unary(name, fn, deriv):
    """f with f'(x) given as deriv(x, out)."""
    define(name, lambda x: fn(x), lambda g, out, xs, a: [g * deriv(xs[0], out)])


_unary("negative", np.negative, lambda x, y: -1)
_unary("exp", np.exp, lambda x, y: y)
_unary("expm1", np.expm1, lambda x, y: y + 1)
_unary("log", np.log, lambda x, y: 1 / x)
_unary("log1p", np.log1p, lambda x, y: 1 / (1 + x))
_unary("log2", np.log2, lambda x, y: 1 / (x * math.log(2)))
_unary("log10", np.log10, lambda x, y: 1 / (x * math.log(10)))
_unary("sqrt", np.sqrt, lambda x, y: 0.5 / y)
_unary("square", np.square, lambda x, y: 2 * x)
_unary("abs", np.abs, lambda x, y: np.sign(x))
_unary("reciprocal", np.reciprocal, lambda x, y: -y * y)
_unary("sin", np.sin, lambda x, y: np.cos(x))
_unary("cos", np.cos, lambda x, y: -np.sin(x))
_unary("tan", np.tan, lambda x, y: 1 + y * y)
_unary("arcsin", np.arcsin, lambda x, y: 1 / np.sqrt(1 - x * x))
_unary("arccos", np.arccos, lambda x, y: -1 / np.sqrt(1 - x * x))
_unary("arctan", np.arctan, lambda x, y: 1 / (1 + x * x))
_unary("sinh", np.sinh, lambda x, y: np.cosh(x))
_unary("cosh", np.cosh, lambda x, y: np.sinh(x))
_unary("arcsinh", np.arcsinh, lambda x, y: 1 / np.sqrt(x * x + 1))
_unary("arccosh", np.arccosh, lambda x, y: 1 / np.sqrt(x * x - 1))
_unary("arctanh", np.arctanh, lambda x, y: 1 / (1 - x * x))


def _erf(x):
    return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


_unary("erf", _erf, lambda x, y: (2 / math.sqrt(math.pi)) * np.exp(-x * x))

# the activations run on brisknet's C++ kernels, forward and backward (float32 and float64)
ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "softplus", "softsign", "swish", "gelu", "gelu_tanh",
               "elu", "selu", "leaky_relu", "hard_sigmoid", "hard_silu", "log_sigmoid", "mish", "hard_tanh",
               "exponential")


def _activation_forward(x, name, alpha=None):
    x = np.ascontiguousarray(x)
    return x.copy() if x.size == 0 else kernels.activation(x, name, alpha)


def _activation_vjp(g, out, xs, a):
    if g.size == 0:
        return [g]
    return [kernels.activation_grad(np.ascontiguousarray(g, out.dtype), np.ascontiguousarray(xs[0]), out,
                                    a["name"], a.get("alpha"))]


define("activation", _activation_forward, _activation_vjp)


def _softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


define("softmax", _softmax,
       lambda g, y, xs, a: [y * (g - np.sum(g * y, axis=a["axis"], keepdims=True))])
define("log_softmax", _log_softmax,
       lambda g, y, xs, a: [g - np.exp(y) * np.sum(g, axis=a["axis"], keepdims=True)])

# ------------------------------------------------------------------------ element-wise, binary
define("add", np.add, lambda g, out, xs, a: [_like(g, xs[0]), _like(g, xs[1])])
define("subtract", np.subtract, lambda g, out, xs, a: [_like(g, xs[0]), _like(-g, xs[1])])
define("multiply", np.multiply, lambda g, out, xs, a: [_like(g * xs[1], xs[0]), _like(g * xs[0], xs[1])])
define("divide", np.true_divide,
       lambda g, out, xs, a: [_like(g / xs[1], xs[0]), _like(-g * out / xs[1], xs[1])])


def _power_vjp(g, out, xs, a):
    x, p = xs
    gx = g * p * np.power(x, p - 1)
    with np.errstate(all="ignore"):  # d/dp x^p = x^p log x: 0 where x^p is 0 (x = 0, p > 0)
        gp = np.where(out == 0, 0, g * out * np.log(np.where(x > 0, x, 1)))
    return [_like(gx, x), _like(gp, p)]


define("power", np.power, _power_vjp)


def _select_vjp(pick_first):
    """maximum/minimum: the gradient goes to the chosen operand, split evenly on ties (as JAX)."""
    def vjp(g, out, xs, a):
        x, y = xs
        first = (x > y) if pick_first else (x < y)
        tie = (x == y)
        wx = first + 0.5 * tie
        return [_like(g * wx, x), _like(g * (1 - wx), y)]
    return vjp


define("maximum", np.maximum, _select_vjp(True))
define("minimum", np.minimum, _select_vjp(False))
define("logaddexp", np.logaddexp,
       lambda g, out, xs, a: [_like(g * np.exp(xs[0] - out), xs[0]), _like(g * np.exp(xs[1] - out), xs[1])])
define("arctan2", np.arctan2, lambda g, out, xs, a: [
    _like(g * xs[1] / (xs[0] ** 2 + xs[1] ** 2), xs[0]), _like(-g * xs[0] / (xs[0] ** 2 + xs[1] ** 2), xs[1])])
define("where", lambda c, x, y: np.where(c, x, y), lambda g, out, xs, a: [
    None, _like(np.where(xs[0], g, 0), xs[1]), _like(np.where(xs[0], 0, g), xs[2])])
define("clip", lambda x, lo, hi: np.clip(x, lo, hi), lambda g, out, xs, a: [
    _like(g * ((xs[0] >= xs[1]) & (xs[0] <= xs[2])), xs[0]),
    _like(g * (xs[0] < xs[1]), xs[1]), _like(g * (xs[0] > xs[2]), xs[2])])

# ------------------------------------------------------------------------ linear algebra


def _matmul(a, b, bf16=False):
    """bf16: float32 operands rounded to bfloat16 (a mixed_bfloat16 layer's product), 2-D or batched."""
    bf16 = bf16 and a.dtype == b.dtype == np.float32
    if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in (np.float32, np.float64) \
            and a.size and b.size:
        return kernels.matmul(a, b, bf16=bf16)
    if bf16:
        return np.matmul(testing.round_to_bfloat16(a), testing.round_to_bfloat16(b))
    return np.matmul(a, b)


def _matmul_vjp(g, out, xs, a):
    bf16 = a.get("bf16", False)
    x, y = xs
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    g2 = g
    if x.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    if y.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    gx = _matmul(g2, np.swapaxes(y2, -1, -2), bf16)
    gy = _matmul(np.swapaxes(x2, -1, -2), g2, bf16)
    gx = gx[..., 0, :] if x.ndim == 1 else gx
    gy = gy[..., 0] if y.ndim == 1 else gy
    return [_like(gx, x), _like(gy, y)]


define("matmul", _matmul, _matmul_vjp)


def _einsum_vjp(g, out, xs, a):
    ins, result = a["inputs"], a["output"]
    grads = []
    for i, x in enumerate(xs):
        target = ins[i]
        others = [(s, v) for j, (s, v) in enumerate(zip(ins, xs)) if j != i]
        known = set(result).union(*(set(s) for s, _ in others))
        have = "".join(c for c in target if c in known)
        gi = np.einsum(",".join([result] + [s for s, _ in others]) + "->" + have, g, *[v for _, v in others])
        if have != target:  # letters only this operand has: summed out forward, broadcast back
            gi = np.broadcast_to(np.expand_dims(gi, [k for k, c in enumerate(target) if c not in known]), x.shape)
        grads.append(np.ascontiguousarray(gi, x.dtype))
    return grads


define("einsum", lambda *xs, inputs, output: np.einsum(",".join(inputs) + "->" + output, *xs), _einsum_vjp)

# ------------------------------------------------------------------------ reductions


def _expand_reduced(g, shape, axis, keepdims):
    if not keepdims and axis is not None:
        g = np.expand_dims(g, axis)
    elif not keepdims:
        g = np.reshape(g, (1,) * len(shape))
    return g


define("sum", lambda x, axis, keepdims: np.asarray(np.sum(x, axis=axis, keepdims=keepdims)),
       lambda g, out, xs, a: [np.broadcast_to(_expand_reduced(g, xs[0].shape, a["axis"], a["keepdims"]),
                                              xs[0].shape).astype(xs[0].dtype)])


def _extreme_vjp(g, out, xs, a):
    """max/min: split evenly between the entries that reach the extreme (as JAX)."""
    x = xs[0]
    o = _expand_reduced(out, x.shape, a["axis"], a["keepdims"])
    hit = (x == o)
    count = np.sum(hit, axis=a["axis"], keepdims=True)
    return [(hit * _expand_reduced(g, x.shape, a["axis"], a["keepdims"]) / count).astype(x.dtype)]


define("max", lambda x, axis, keepdims: np.asarray(np.max(x, axis=axis, keepdims=keepdims)), _extreme_vjp)
define("min", lambda x, axis, keepdims: np.asarray(np.min(x, axis=axis, keepdims=keepdims)), _extreme_vjp)


def _prod_vjp(g, out, xs, a):
    """d/dx_i prod = the product of the others: products from the left and from the right (exact
    with zeros), over the reduced axes laid out as one last axis."""
    x, axis = xs[0], a["axis"]
    axes = tuple(range(x.ndim)) if axis is None else tuple(ax % x.ndim for ax in np.atleast_1d(axis))
    kept = [d for d in range(x.ndim) if d not in axes]
    xm = np.transpose(x, kept + list(axes)).reshape([x.shape[d] for d in kept] + [-1])
    ones = np.ones_like(xm[..., :1])
    left = np.cumprod(np.concatenate([ones, xm[..., :-1]], -1), -1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(xm, -1)[..., :-1]], -1), -1), -1)
    others = (left * right).reshape([x.shape[d] for d in kept + list(axes)])
    others = np.transpose(others, np.argsort(kept + list(axes)))
    return [(others * _expand_reduced(g, x.shape, axis, a["keepdims"])).astype(x.dtype)]


define("prod", lambda x, axis, keepdims: np.asarray(np.prod(x, axis=axis, keepdims=keepdims)), _prod_vjp)


def _cumsum_vjp(g, out, xs, a):
    axis = a["axis"]
    if axis is None:
        return [np.flip(np.cumsum(np.flip(g.reshape(-1)))).reshape(xs[0].shape)]
    return [np.flip(np.cumsum(np.flip(g, axis), axis), axis)]


define("cumsum", lambda x, axis: np.cumsum(x, axis=axis), _cumsum_vjp)

# ------------------------------------------------------------------------ shapes
define("reshape", lambda x, shape: np.reshape(x, shape), lambda g, out, xs, a: [np.reshape(g, xs[0].shape)])
define("transpose", lambda x, axes: np.transpose(x, axes),
       lambda g, out, xs, a: [np.transpose(g, np.argsort(a["axes"]))])
define("broadcast_to", lambda x, shape: np.broadcast_to(x, shape).copy(),
       lambda g, out, xs, a: [_like(g, xs[0])])


def _concatenate_vjp(g, out, xs, a):
    edges = np.cumsum([x.shape[a["axis"]] for x in xs])[:-1]
    return list(np.split(g, edges, axis=a["axis"]))


define("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis), _concatenate_vjp)


def _index(key, arrays):
    """A getitem key with its integer-array parts (traced tensors among them) filled in."""
    it = iter(arrays)
    return tuple(next(it) if k is _ARRAY else k for k in key)


_ARRAY = object()  # where a getitem key holds an index array (an input of the node)


def _basic(key) -> bool:
    """A key of ints, slices, None and Ellipsis only: each element is picked at most once."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer)) and not isinstance(p, bool)
               for p in parts)


def _getitem_vjp(g, out, xs, a):
    x = xs[0]
    gx = np.zeros(x.shape, x.dtype)
    key = _index(a["key"], xs[1:])
    if _basic(key):  # (a plain assignment: np.add.at is two orders of magnitude slower)
        gx[key] = g
    else:
        np.add.at(gx, key, g)
    return [gx] + [None] * (len(xs) - 1)


define("getitem", lambda x, *arrays, key: np.array(x[_index(key, arrays)]), _getitem_vjp)


def _take_vjp(g, out, xs, a):
    x, idx = xs
    axis = a["axis"]
    gx = np.zeros(x.shape, x.dtype)
    if axis is None:
        np.add.at(gx.reshape(-1), idx, g)
    else:
        ax = axis % x.ndim
        # g has x's axes before `axis`, then idx's, then x's after: add back along axis
        gm = np.moveaxis(gx, ax, 0)
        gg = np.moveaxis(g.reshape(x.shape[:ax] + (idx.size,) + x.shape[ax + 1:]), ax, 0)
        np.add.at(gm, idx.reshape(-1), gg)
    return [gx, None]


define("take", lambda x, idx, axis: np.take(x, idx, axis=axis), _take_vjp)


def _take_along_axis_vjp(g, out, xs, a):
    x, idx = xs
    axis = a["axis"]
    gx = np.zeros(x.shape if axis is not None else (x.size,), x.dtype)
    if axis is None:
        np.add.at(gx, idx, g)
        return [gx.reshape(x.shape), None]
    ax = axis % x.ndim
    full = list(np.indices(idx.shape, sparse=True))
    full[ax] = idx
    np.add.at(gx, tuple(np.broadcast_arrays(*full)), g)
    return [gx, None]


define("take_along_axis", lambda x, idx, axis: np.take_along_axis(x, idx, axis=axis), _take_along_axis_vjp)


def _tile_vjp(g, out, xs, a):
    x = xs[0]
    reps = (1,) * (g.ndim - len(a["reps"])) + tuple(a["reps"])
    shape = (1,) * (g.ndim - x.ndim) + x.shape
    split = []
    for r, s in zip(reps, shape):
        split += [r, s]
    g = g.reshape(split).sum(axis=tuple(range(0, 2 * g.ndim, 2)))
    return [g.reshape(x.shape)]


define("tile", lambda x, reps: np.tile(x, reps), _tile_vjp)


def _repeat_vjp(g, out, xs, a):
    x, reps, axis = xs[0], a["repeats"], a["axis"]
    if axis is None:
        flat = x.reshape(-1)
        ends = np.cumsum(np.broadcast_to(reps, flat.shape))
        return [np.add.reduceat(g, np.concatenate([[0], ends[:-1]])).reshape(x.shape) if g.size else
                np.zeros_like(x)]
    ax = axis % x.ndim
    starts = np.concatenate([[0], np.cumsum(np.broadcast_to(reps, (x.shape[ax],)))[:-1]])
    return [np.add.reduceat(g, starts, axis=ax) if g.size else np.zeros_like(x)]


define("repeat", lambda x, repeats, axis: np.repeat(x, repeats, axis), _repeat_vjp)


def _pad_vjp(g, out, xs, a):
    return [g[tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(a["pad_width"]))]]


define("pad", lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value), _pad_vjp)
define("flip", lambda x, axis: np.flip(x, axis), lambda g, out, xs, a: [np.flip(g, a["axis"])])
define("roll", lambda x, shift, axis: np.roll(x, shift, axis), lambda g, out, xs, a: [
    np.roll(g, -np.asarray(a["shift"]) if not isinstance(a["shift"], int) else -a["shift"], a["axis"])])
define("tril", lambda x, k: np.tril(x, k), lambda g, out, xs, a: [np.tril(g, a["k"])])
define("triu", lambda x, k: np.triu(x, k), lambda g, out, xs, a: [np.triu(g, a["k"])])

# ------------------------------------------------------------------------ dtypes and the rest
define("cast", lambda x, dtype: x.astype(dtype),
       lambda g, out, xs, a: [g.astype(xs[0].dtype) if xs[0].dtype.kind == "f" else None])
define("stop_gradient", lambda x: x.copy())  # no vjp: nothing flows back


def _sort_vjp(g, out, xs, a):
    order = np.argsort(xs[0], axis=a["axis"], kind="stable")
    gx = np.zeros_like(xs[0])
    np.put_along_axis(gx, order, g, axis=a["axis"])
    return [gx]


define("sort", lambda x, axis: np.sort(x, axis=axis, kind="stable"), _sort_vjp)


# numpy functions without a gradient (comparisons, argmax, one_hot, floor, ...): attrs fn and kw
define("numpy", lambda *xs, fn, kw: np.asarray(fn(*xs, **kw)))
# ops.arange(start, size of x along axis, step): no gradient (whole numbers)
define("arange_along", lambda x, axis, start, step, dtype: np.arange(start, np.shape(x)[axis], step, dtype=dtype))
# random numbers drawn anew each time the graph runs (attrs: draw, a function of no arguments)
define("random", lambda draw: draw())


# ------------------------------------------------------------------------ attention
def attention_mask(mask, batch, tq, tk):
    """A mask of keras.ops.dot_product_attention ((batch, heads, tq, tk) or broadcastable, the
    same for every head) as the kernel takes it: (batch, tq, tk) booleans."""
    m = np.asarray(mask)
    if m.ndim == 4:
        if m.shape[1] != 1:
            raise NotImplementedError("dot_product_attention: a mask that differs between heads is not supported "
                                      "yet (give one of shape (batch, 1, queries, keys))")
        m = m[:, 0]
    try:
        return np.ascontiguousarray(np.broadcast_to(m, (batch, tq, tk)), np.bool_)
    except ValueError:
        raise ValueError(f"dot_product_attention: a mask of shape {np.shape(mask)} does not broadcast to "
                         f"(batch, heads, queries, keys) = ({batch}, heads, {tq}, {tk})") from None


def _attention_args(q, k, v, mask):
    dtype = np.result_type(q.dtype, k.dtype, v.dtype, np.float32)
    q, k, v = (np.ascontiguousarray(a, dtype) for a in (q, k, v))
    if mask is not None:
        mask = attention_mask(mask, q.shape[0], q.shape[1], k.shape[1])
    return q, k, v, mask


def _attention(q, k, v, *mask, scale, causal, bf16=False):
    """Fused scaled dot-product attention (kernels/attention.cpp): the value, and the rows'
    log-sum-exp for the backward pass; bf16: its products in bf16 (mixed_bfloat16)."""
    q, k, v, m = _attention_args(q, k, v, mask[0] if mask else None)
    out = np.empty(q.shape[:3] + (v.shape[3],), q.dtype)
    lse = np.empty((q.shape[0], q.shape[2], q.shape[1]), q.dtype)
    _core.attention_forward(out, lse, q, k, v, m, scale, causal, bf16=bf16 and q.dtype == np.float32)
    return out, lse


def _attention_vjp(g, out, xs, a):
    q, k, v, m = _attention_args(*xs[:3], xs[3] if len(xs) > 3 else None)
    grads = [np.empty_like(q), np.empty_like(k), np.empty_like(v)]
    _core.attention_backward(*grads, np.ascontiguousarray(g, q.dtype), q, k, v, np.ascontiguousarray(out, q.dtype),
                             a["saved"], m, a["scale"], a["causal"], bf16=a.get("bf16", False) and q.dtype == np.float32)
    return [_like(gr, x) for gr, x in zip(grads, xs[:3])] + [None] * (len(xs) - 3)


define("dot_product_attention", _attention, _attention_vjp, saves=True)


# ------------------------------------------------------------------------ recurrent layers
class RecurrentInputs:
    """The operands of the `recurrent` primitive: x (batch, steps, features), then for each run
    (one per reverse flag: Bidirectional's two directions are two runs) kernel, recurrent_kernel,
    bias (when has_bias; a GRU's is (2, 3u): input and recurrent bias), h0, c0 (LSTM); then the
    mask (batch, steps) when has_mask."""

    def __init__(self, xs, a):
        dtype = np.result_type(xs[0].dtype, np.float32)
        self.x = np.ascontiguousarray(xs[0], dtype)
        rest = list(xs[1:])
        self.mask = np.ascontiguousarray(rest.pop(), np.bool_) if a["has_mask"] else None
        per_run = 3 + bool(a["has_bias"]) + (a["cell"] == "lstm")
        self.runs = []
        for k in range(len(a["reverse"])):
            ops_ = [np.ascontiguousarray(v, dtype) for v in rest[k * per_run:(k + 1) * per_run]]
            kernel, recurrent = ops_[0], ops_[1]
            bias = ops_[2] if a["has_bias"] else None
            h0 = ops_[2 + bool(a["has_bias"])]
            c0 = ops_[3 + bool(a["has_bias"])] if a["cell"] == "lstm" else None
            self.runs.append(dict(kernel=kernel, recurrent_kernel=recurrent, h0=h0, c0=c0,
                                  bias=bias[0] if bias is not None and bias.ndim == 2 else bias,
                                  recurrent_bias=bias[1] if bias is not None and bias.ndim == 2 else None))
        self.n_states = 2 if a["cell"] == "lstm" else 1

    def lists(self, *names):
        return {n: [r[n] for r in self.runs] for n in names}

    def shared(self, a):
        return dict(cell=a["cell"], x=self.x, mask=self.mask, activation=getattr(_core.Activation, a["activation"]),
                    alpha=a["alpha"], reverse=list(a["reverse"]), bf16=a.get("bf16", False))


def _recurrent(*xs, cell, reverse, has_bias, has_mask, activation="tanh", alpha=0.0, bf16=False):
    """Recurrent layers over whole sequences (kernels/recurrent.cpp), one run per reverse flag
    (at once, a thread each): the states (runs, S, batch, steps, units; S = 2 for an LSTM's h and
    c), in processing order, and the runs' gates for backward."""
    a = dict(cell=cell, reverse=reverse, has_bias=has_bias, has_mask=has_mask, activation=activation, alpha=alpha,
             bf16=bf16)
    r = RecurrentInputs(xs, a)
    b, steps, _ = r.x.shape
    u, g = r.runs[0]["recurrent_kernel"].shape
    dt = r.x.dtype
    states = np.empty((len(r.runs), r.n_states, b, steps, u), dt)
    gates = [np.empty((b, steps, g), dt) for _ in r.runs]
    recurrent_gates = [np.empty((b, steps, g) if cell == "gru" else 0, dt) for _ in r.runs]
    h_prev = [np.empty((b, steps, u), dt) for _ in r.runs]
    _core.recurrent_forward(states=list(states), gates=gates, recurrent_gates=recurrent_gates, h_prev=h_prev,
                            **r.lists("kernel", "recurrent_kernel", "bias", "recurrent_bias", "h0", "c0"),
                            **r.shared(a))
    return states, (gates, recurrent_gates, h_prev)


def _recurrent_vjp(g, out, xs, a):
    r = RecurrentInputs(xs, a)
    gates, recurrent_gates, h_prev = a["saved"]
    gates, recurrent_gates = [v.copy() for v in gates], [v.copy() for v in recurrent_gates]  # (overwritten)
    dt = r.x.dtype
    grads = {"dx": [np.empty_like(r.x) for _ in r.runs],
             "dkernel": [np.empty_like(v["kernel"]) for v in r.runs],
             "drecurrent_kernel": [np.empty_like(v["recurrent_kernel"]) for v in r.runs],
             "dbias": [None if v["bias"] is None else np.empty_like(v["bias"]) for v in r.runs],
             "drecurrent_bias": [None if v["recurrent_bias"] is None else np.empty_like(v["recurrent_bias"])
                                 for v in r.runs],
             "dh0": [np.empty_like(v["h0"]) for v in r.runs],
             "dc0": [None if v["c0"] is None else np.empty_like(v["c0"]) for v in r.runs]}
    g = np.ascontiguousarray(g, dt)
    _core.recurrent_backward(dstates=list(g), states=list(np.ascontiguousarray(out, dt)), gates=gates,
                             recurrent_gates=recurrent_gates, h_prev=h_prev,
                             **r.lists("kernel", "recurrent_kernel", "h0", "c0"), **r.shared(a), **grads)
    out_grads = [sum(grads["dx"][1:], grads["dx"][0])]
    for k in range(len(r.runs)):
        out_grads += [grads["dkernel"][k], grads["drecurrent_kernel"][k]]
        if a["has_bias"]:
            db, drb = grads["dbias"][k], grads["drecurrent_bias"][k]
            out_grads.append(db if drb is None else np.stack([db, drb]))
        out_grads += [grads["dh0"][k]] + ([grads["dc0"][k]] if a["cell"] == "lstm" else [])
    out_grads += [None] if a["has_mask"] else []
    return [gr if gr is None else _like(gr, x) for gr, x in zip(out_grads, xs)]


define("recurrent", _recurrent, _recurrent_vjp, saves=True)
