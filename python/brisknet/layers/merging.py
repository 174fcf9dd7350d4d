"""Keras' merge layers: called on a list of tensors, they return one tensor. The element-wise ones
(Add, Subtract, Multiply, Average, Maximum, Minimum) broadcast as Keras 3 does: a sample of lower
rank gains axes of size 1 after the batch axis, then sizes of 1 stretch (a squeeze-and-excitation
block's (1, 1, channels) times (height, width, channels)); Concatenate needs shapes equal but for
the joined axis; Dot takes two tensors. Forward and backward in numpy, in the inputs' dtype
(float64 for gradient checks)."""
from __future__ import annotations

import math

import numpy as np

from .. import _core
from . import operation
from .layer import Layer


def _reduce_to(d, shape):
    """The gradient d of a broadcast result summed back to an input of `shape` (its batch and
    sample axes, the sample axes possibly fewer: Keras adds them after the batch axis)."""
    if d.shape == tuple(shape):
        return d
    aligned = shape[:1] + (1,) * (d.ndim - len(shape)) + tuple(shape[1:])
    axes = tuple(i for i, (a, b) in enumerate(zip(aligned, d.shape)) if a == 1 and b != 1)
    return np.ascontiguousarray(d.sum(axis=axes, keepdims=True).reshape(shape))


class Merge(Layer):
    takes_several_inputs = True
    exactly = None  # Subtract and Dot take exactly two tensors
    elementwise = True

    def _check_count(self, shapes):
        if not isinstance(shapes, list) or len(shapes) < (self.exactly or 1) or \
                (self.exactly and len(shapes) != self.exactly):
            want = f"exactly {self.exactly}" if self.exactly else "a list of"
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) must be called on {want} tensors, got "
                             f"{len(shapes) if isinstance(shapes, list) else 'one'}")

    def sample_output_shape(self, shapes):
        self._check_count(shapes)
        shapes = [tuple(s) for s in shapes]
        rank = max(len(s) for s in shapes)
        try:
            return tuple(np.broadcast_shapes(*((1,) * (rank - len(s)) + s for s in shapes)))
        except ValueError:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) merges tensors of shapes that broadcast "
                             f"together, got {[(None,) + s for s in shapes]}") from None

    def _aligned(self, xs):
        """The inputs with as many axes as the output (new axes of size 1 after the batch axis),
        and their shapes for backward."""
        self._shapes = [x.shape for x in xs]
        rank = 1 + len(self.output_shape)
        return [x if x.ndim == rank else x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in xs]

    def _out(self, xs):
        return self.buffer("y", xs[0].shape[:1] + tuple(self.output_shape), xs[0].dtype)

    def _plain(self):
        return all(tuple(s) == tuple(self.output_shape) for s in self.input_shape)

    def build_sample(self, shapes):
        self.input_shape = [tuple(s) for s in shapes]
        self.output_shape = tuple(self.sample_output_shape(self.input_shape))
        self.built = True

    def compute_output_shape(self, input_shape):
        return (None,) + tuple(self.sample_output_shape([tuple(s)[1:] for s in input_shape]))

    def compute_mask(self, inputs, mask=None):
        """Keras': the inputs' masks and-ed (none when one input has none)."""
        if mask is None or any(m is None for m in mask):
            return None
        from .. import ops
        out = mask[0]
        for m in mask[1:]:
            out = ops.logical_and(out, m)
        return out


class Add(Merge):
    """The sum of the inputs."""

    def engine_spec(self, offset_of):
        if not self._plain():
            return None  # (broadcasting: the Python path)
        # (samples of any shape, all the same: the engine adds them flat)
        size = math.prod(self.output_shape)
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs = _core.LayerKind.add, size, size
        return [s]

    def forward(self, xs, training):
        xs = self._aligned(xs)
        y = self._out(xs)
        np.add(xs[0], xs[1], out=y) if len(xs) > 1 else np.copyto(y, xs[0])
        for x in xs[2:]:
            y += x
        return y

    def backward(self, dy, need_dx):
        return [_reduce_to(dy, s) for s in self._shapes] if need_dx else None


class Subtract(Merge):
    """inputs[0] - inputs[1]."""
    exactly = 2

    def forward(self, xs, training):
        xs = self._aligned(xs)
        return np.subtract(xs[0], xs[1], out=self._out(xs))

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        return [_reduce_to(dy, self._shapes[0]),
                _reduce_to(np.negative(dy, out=self.buffer("dx", dy.shape, dy.dtype)), self._shapes[1])]


class Multiply(Merge):
    """The element-wise product of the inputs."""

    def forward(self, xs, training):
        self._xs = xs = self._aligned(xs)
        y = self._out(xs)
        np.copyto(y, xs[0])
        for x in xs[1:]:
            y *= x
        return y

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        out = []
        for i in range(len(self._xs)):  # dy times the product of the other inputs
            d = self.buffer(f"dx{i}", dy.shape, dy.dtype)
            np.copyto(d, dy)
            for j, x in enumerate(self._xs):
                if j != i:
                    d *= x
            out.append(_reduce_to(d, self._shapes[i]))
        return out


class Average(Merge):
    """The mean of the inputs."""

    def forward(self, xs, training):
        y = Add.forward(self, xs, training)
        y /= np.asarray(len(xs), y.dtype)
        return y

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        d = np.divide(dy, np.asarray(len(self._shapes), dy.dtype), out=self.buffer("dx", dy.shape, dy.dtype))
        return [_reduce_to(d, s) for s in self._shapes]


class _Extremum(Merge):
    """The element-wise maximum (minimum) of the inputs; its gradient goes to the input holding
    it (the first such input on ties)."""
    pick = None

    def forward(self, xs, training):
        xs = self._aligned(xs)
        y = self._out(xs)
        self._which = self.buffer("which", y.shape, np.int32)
        np.copyto(y, xs[0])
        self._which.fill(0)
        for i, x in enumerate(xs[1:], 1):
            better = self.pick(x, y)  # strictly: ties keep the earlier input
            np.copyto(y, x, where=better)
            self._which[better] = i
        return y

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        return [_reduce_to(np.where(self._which == i, dy, np.zeros((), dy.dtype)), s) for i, s in enumerate(self._shapes)]


class Maximum(_Extremum):
    pick = staticmethod(np.greater)


class Minimum(_Extremum):
    pick = staticmethod(np.less)


class Concatenate(Merge):
    """The inputs joined along `axis` (the last by default)."""
    elementwise = False

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Concatenate: axis must be an int, got {axis!r}")
        self.axis = int(axis)

    def compute_mask(self, inputs, mask=None):
        """Keras': the masks joined along the steps when they are joined, else and-ed (an input
        without a mask counting as all kept)."""
        from .. import ops
        if mask is None or all(m is None for m in mask):
            return None
        rank = len(inputs[0].shape)
        if rank == 3 and self._sample_axis(2) % 2 == 0:
            return ops.concatenate([ops.ones(tuple(x.shape[:2]), "bool") if m is None else m
                                    for x, m in zip(inputs, mask)], axis=1)
        out = None
        for m in mask:
            if m is not None:
                out = m if out is None else ops.logical_and(out, m)
        return out

    def _sample_axis(self, rank):
        """The joined axis among a sample's axes (Keras counts the batch axis as 0)."""
        axis = self.axis if self.axis < 0 else self.axis - 1
        if not -rank <= axis < rank or self.axis == 0:
            raise ValueError(f"layer {self.name!r} (Concatenate): axis {self.axis} is not a feature axis of "
                             f"samples of rank {rank}")
        return axis % rank

    def sample_output_shape(self, shapes):
        self._check_count(shapes)
        shapes = [tuple(s) for s in shapes]
        if len({len(s) for s in shapes}) != 1:
            raise ValueError(f"layer {self.name!r} (Concatenate): inputs of different ranks "
                             f"{[(None,) + s for s in shapes]}")
        axis = self._sample_axis(len(shapes[0]))
        rest = {s[:axis] + s[axis + 1:] for s in shapes}
        if len(rest) != 1:
            raise ValueError(f"layer {self.name!r} (Concatenate): the inputs' shapes must match except along "
                             f"axis {self.axis}, got {[(None,) + s for s in shapes]}")
        s = shapes[0]
        return s[:axis] + (sum(t[axis] for t in shapes),) + s[axis + 1:]

    def forward(self, xs, training):
        axis = self._sample_axis(xs[0].ndim - 1) + 1
        shape = xs[0].shape[:1] + tuple(self.output_shape)
        self._splits = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis, out=self.buffer("y", shape, xs[0].dtype))

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        return [np.ascontiguousarray(d) for d in np.split(dy, self._splits, axis=self._sample_axis(dy.ndim - 1) + 1)]

    def engine_spec(self, offset_of):
        if len(self.output_shape) != 1:
            return None  # (the engine keeps samples flat: it joins along their only axis)
        s = _core.LayerSpec()
        s.kind, s.inputs, s.outputs = _core.LayerKind.concat, self.output_shape[0], self.output_shape[0]
        return [s]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(Merge):
    """The dot product of two tensors along `axes` (an int, or one per input), per sample, as
    Keras' batch_dot: samples of (n,) give (1,); of (a, n) and (n, b) with axes (2, 1) give (a, b).
    normalize=True: the inputs are L2-normalised along those axes first (cosine proximity)."""

    def compute_mask(self, inputs, mask=None):
        return None
    exactly = 2
    elementwise = False

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        pair = list(axes) if isinstance(axes, (list, tuple)) else [axes, axes]
        if len(pair) != 2 or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in pair):
            raise ValueError(f"Dot: axes must be an int or a pair of ints, got {axes!r}")
        self.axes = axes if isinstance(axes, (int, np.integer)) else list(axes)
        self._pair = [int(a) for a in pair]
        self.normalize = bool(normalize)

    def _sample_axes(self, shapes):
        out = []
        for a, s in zip(self._pair, shapes):
            if len(s) > 2:
                raise ValueError(f"layer {self.name!r} (Dot): inputs of rank 2 or 3 (with the batch axis) are "
                                 f"supported, got {(None,) + tuple(s)}")
            k = a - 1 if a > 0 else a + len(s)
            if a == 0 or not 0 <= k < len(s):
                raise ValueError(f"layer {self.name!r} (Dot): axis {a} is not a feature axis of {(None,) + tuple(s)}")
            out.append(k)
        return out

    def sample_output_shape(self, shapes):
        self._check_count(shapes)
        a, b = (tuple(s) for s in shapes)
        i, j = self._sample_axes([a, b])
        if a[i] != b[j]:
            raise ValueError(f"layer {self.name!r} (Dot): dimension {a[i]} of {(None,) + a} (axis {self._pair[0]}) "
                             f"differs from {b[j]} of {(None,) + b} (axis {self._pair[1]})")
        rest = a[:i] + a[i + 1:] + b[:j] + b[j + 1:]
        return rest if rest else (1,)

    def _as_matrices(self, x, k):
        """A batch of samples as (batch, rest, n): the contracted axis last."""
        return np.moveaxis(x, k + 1, -1).reshape(x.shape[0], -1, x.shape[k + 1])

    def forward(self, xs, training):
        i, j = self._sample_axes([x.shape[1:] for x in xs])
        a, b = self._as_matrices(xs[0], i), self._as_matrices(xs[1], j)
        if self.normalize:
            self._na = np.sqrt(np.maximum((a * a).sum(-1, keepdims=True), 1e-12))
            self._nb = np.sqrt(np.maximum((b * b).sum(-1, keepdims=True), 1e-12))
            a, b = a / self._na, b / self._nb
        self._a, self._b = a, b
        y = np.matmul(a, np.swapaxes(b, 1, 2))  # (batch, rest_a, rest_b)
        return np.ascontiguousarray(y.reshape((xs[0].shape[0],) + tuple(self.output_shape)))

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        i, j = self._sample_axes(self.input_shape)
        g = dy.reshape(dy.shape[0], self._a.shape[1], self._b.shape[1])
        da, db = np.matmul(g, self._b), np.matmul(np.swapaxes(g, 1, 2), self._a)
        if self.normalize:  # through a / |a|: (d - a_hat (a_hat . d)) / |a|
            da = (da - self._a * (self._a * da).sum(-1, keepdims=True)) / self._na
            db = (db - self._b * (self._b * db).sum(-1, keepdims=True)) / self._nb
        out = []
        for d, k, shape in ((da, i, self.input_shape[0]), (db, j, self.input_shape[1])):
            moved = (dy.shape[0],) + tuple(np.delete(np.array(shape), k)) + (shape[k],)
            out.append(np.ascontiguousarray(np.moveaxis(d.reshape(moved), -1, k + 1)))
        return out

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


# Keras' functional helpers: the merge layer made and called in one step (Keras' layers.add, ...).
def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


# (x + y, x - y, x * y on a functional model's symbolic tensors of one shape: these layers)
operation.MERGES.update(add=Add, subtract=Subtract, multiply=Multiply)
