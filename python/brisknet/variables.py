"""Keras-like variables: what ``layer.weights`` and ``model.weights`` hold, and a metric's state
(``Metric.add_variable``). A layer's Variable names one weight and reads it where it lives now (a
view of the model's flat parameter buffer, which moves when the model is rebuilt), so it never goes
stale; a metric's Variable holds its own array."""
from __future__ import annotations

import numpy as np

from .autodiff import tracing


class Variable:
    def __init__(self, layer, index: int, name: str):
        self._layer, self._index, self.name = layer, index, name
        self._array, self._owner = None, None

    @classmethod
    def holding(cls, array: np.ndarray, name: str, owner: str = "") -> "Variable":
        """A variable with its own storage (a metric's state)."""
        v = cls(None, -1, name)
        v._array, v._owner = array, owner
        return v

    @property
    def value(self) -> np.ndarray:
        """The weight itself (a live view: writing to it changes the model; assign() also tells a
        device engine)."""
        if self._layer is not None:
            self._layer._weights_to_host()
        return self._array_here

    def _written(self) -> None:
        if self._layer is not None:
            self._layer._weights_from_host()

    @property
    def path(self) -> str:
        return f"{self._owner if self._layer is None else self._layer.name}/{self.name}"

    @property
    def _array_here(self) -> np.ndarray:
        """The host array, whatever its contents (for its shape and dtype: no copy from a device)."""
        return self._array if self._layer is None else self._layer._weights[self._index]

    @property
    def shape(self) -> tuple:
        return self._array_here.shape

    @property
    def dtype(self) -> str:
        return self._array_here.dtype.name

    @property
    def ndim(self) -> int:
        return self._array_here.ndim

    @property
    def trainable(self) -> bool:
        if self._layer is None:
            return False
        own = self._layer._own  # a custom layer's add_weight(trainable=...)
        return self._layer.trainable and (own.trainable[self._index] if own.variables else True)

    def numpy(self) -> np.ndarray:
        return self.value.copy()

    def assign(self, value):
        trace = tracing.current()
        if trace is not None:  # inside a traced call(): a state update of the step
            return self._assign_traced(trace, value)
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{self.path}.assign: expected numbers, got dtype {arr.dtype}")
        if arr.shape != self.shape and not (arr.size == 1 and self._array_here.size == 1):
            raise ValueError(f"{self.path}.assign: expected shape {self.shape}, got {arr.shape}")
        self.value[...] = arr.reshape(self.shape)
        self._written()
        return self

    def assign_add(self, delta):
        if tracing.current() is not None:
            return self.assign(self + delta)
        return self.assign(self.value + np.asarray(delta))

    def assign_sub(self, delta):
        if tracing.current() is not None:
            return self.assign(self - delta)
        return self.assign(self.value - np.asarray(delta))

    def _assign_traced(self, trace, value):
        value = tracing.operator("cast")(value, self._array_here.dtype)
        if value.shape != self.shape:
            raise ValueError(f"{self.path}.assign: expected shape {self.shape}, got {value.shape}")
        trace.assigns = [(v, x) for v, x in trace.assigns if v is not self] + [(self, value)]
        return self

    # numpy interoperation: np.asarray(v), v + 1, v @ w, v[0], ... act on the current value
    def __array__(self, dtype=None, copy=None):
        a = self.value
        return a.astype(dtype) if dtype is not None else (a.copy() if copy else a)

    def __getitem__(self, key):
        if tracing.current() is not None:
            return tracing.operator("getitem")(self, key)
        return self.value[key]

    def __setitem__(self, key, value):
        self.value[key] = value
        self._written()

    def __eq__(self, other):
        return self.value == np.asarray(other)

    def __ne__(self, other):
        return self.value != np.asarray(other)

    __hash__ = object.__hash__  # a variable is one object, whatever its values

    def __len__(self):
        return len(self.value)

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, value={self.value}>"

    # inside a traced call(), a variable is a leaf of the graph: its arithmetic is recorded
    def _binary(op):
        def f(self, other):
            if tracing.current() is not None:
                return tracing.operator(op.__name__)(self, other)
            return op(self.value, np.asarray(other))
        return f

    def _reflected(op):
        def f(self, other):
            if tracing.current() is not None:
                return tracing.operator(op.__name__)(other, self)
            return op(np.asarray(other), self.value)
        return f

    import operator as _op
    __add__, __sub__, __mul__ = _binary(_op.add), _binary(_op.sub), _binary(_op.mul)
    __truediv__, __matmul__, __pow__ = _binary(_op.truediv), _binary(_op.matmul), _binary(_op.pow)
    __radd__, __rsub__, __rmul__ = _reflected(_op.add), _reflected(_op.sub), _reflected(_op.mul)
    __rtruediv__, __rmatmul__ = _reflected(_op.truediv), _reflected(_op.matmul)
    __lt__, __le__, __gt__, __ge__ = _binary(_op.lt), _binary(_op.le), _binary(_op.gt), _binary(_op.ge)
    del _binary, _reflected, _op

    def __neg__(self):
        if tracing.current() is not None:
            return tracing.operator("negative")(self)
        return -self.value

    @property
    def T(self):
        if tracing.current() is not None:
            return tracing.operator("transpose")(self)
        return self.value.T

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)
