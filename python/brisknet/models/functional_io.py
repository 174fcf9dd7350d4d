"""Several inputs and outputs of a functional model, as the trainer sees them: one array each.
A model's inputs (a list, or a dict by input name) are packed side by side into one float32 array
of rows, so that batching, shuffling, validation_split and the engines' gathering work unchanged;
the graph unpacks each batch. Its outputs likewise: predictions are packed, and so are the
targets (a sparse label as one float32 column: exact below 2^24). compile's losses and metrics
per output (a list, or a dict by output name) read their columns (MultiOutputLoss, OutputMetric);
the total loss is the loss_weights-weighted sum, and each output's loss is logged as
'<output>_loss', its metrics as '<output>_<metric>', as Keras 3 names them."""
from __future__ import annotations

import math

import numpy as np

from .. import kernels, losses, metrics as metrics_module
from ..losses import positions


def columns(shapes) -> list:
    """[(start, stop)] of each per-sample shape's flattened values, side by side."""
    out, start = [], 0
    for s in shapes:
        out.append((start, start + math.prod(s)))
        start += math.prod(s)
    return out


def by_name(value, names, what, missing=KeyError):
    """A list in `names`' order from a list/tuple of that length or a dict keyed by those names
    (a name the dict lacks: `missing`, or an error when that is KeyError)."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"{what}: unknown keys {unknown}; expected {names}")
        absent = [n for n in names if n not in value]
        if absent and missing is KeyError:
            raise ValueError(f"{what}: missing {absent}")
        return [value.get(n, missing) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"{what}: expected {len(names)} entries ({names}), got {len(value)}")
        return list(value)
    raise ValueError(f"{what}: expected a list of {len(names)} or a dict keyed by {names}, got {type(value).__name__}")


def pack_inputs(x, names, shapes, what="x") -> np.ndarray:
    """The inputs (a list, or a dict by input name) as one (samples, values) float32 array."""
    arrays = [kernels.as_array(a, f"{what}[{n!r}]") for a, n in zip(by_name(x, names, what), names)]
    n = arrays[0].shape[0] if arrays[0].ndim else 0
    for a, name, shape in zip(arrays, names, shapes):
        if a.ndim < 1 or a.shape[0] != n:
            raise ValueError(f"{what}: the inputs have different numbers of samples: {[a.shape for a in arrays]}")
        if tuple(a.shape[1:]) != tuple(shape):
            raise ValueError(f"{what}[{name!r}] has samples of shape {a.shape[1:]}, but the model's input {name!r} "
                             f"expects {tuple(shape)}")
    if n == 0:
        raise ValueError(f"{what} is empty (0 samples)")
    return np.ascontiguousarray(np.concatenate([a.reshape(n, -1).astype(np.float32) for a in arrays], axis=1))


def unpack(packed, shapes) -> list:
    """The per-input (or per-output) arrays of a packed batch, each contiguous."""
    n = packed.shape[0]
    return [np.ascontiguousarray(packed[:, a:b]).reshape((n,) + tuple(s)) for (a, b), s in zip(columns(shapes), shapes)]


class Outputs:
    """A batch of a model's several outputs kept apart, where the trainer would see them packed
    side by side (packing copies every output, a language model's logits too, twice a step). It
    has the packed array's shape, and becomes that array where one is needed (np.asarray)."""

    ndim = 2

    def __init__(self, parts):
        self.parts = [np.asarray(p) for p in parts]
        n = self.parts[0].shape[0]
        self.shape = (n, sum(math.prod(p.shape[1:]) for p in self.parts))

    def __array__(self, dtype=None, copy=None):
        packed = np.concatenate([p.reshape(p.shape[0], -1) for p in self.parts], axis=1)
        return packed if dtype is None else packed.astype(dtype)

    def copy(self):
        return np.asarray(self)


def kept(batch):
    """A copy of a forward pass's output batch that outlives the workspaces it lies in (several
    outputs stay apart: packing them side by side would copy them twice more)."""
    if isinstance(batch, Outputs):
        return Outputs([p.copy() for p in batch.parts])
    return np.array(batch, np.float32)


def joined(batches):
    """The kept batches of a predict, one after another (several outputs: each output's)."""
    if len(batches) == 1:
        return batches[0]
    if isinstance(batches[0], Outputs):
        return Outputs([np.concatenate(p) for p in zip(*(b.parts for b in batches))])
    return np.concatenate(batches)


class MultiOutputLoss(losses.Loss):
    """compile's losses of a model with several outputs: each output's loss on its columns of
    the packed predictions and targets, summed with loss_weights."""

    name = "loss"

    def __init__(self, per_output, weights, names, shapes):
        super().__init__()
        self.losses, self.weights, self.names = per_output, weights, names
        self.set_shapes(shapes)
        self.target_columns = None  # set by prepare_targets: a sparse label takes one column

    def set_shapes(self, shapes):
        """The outputs' per-sample shapes (they change with the input's where keras.Input left
        sizes to run time)."""
        self.shapes, self.pred_columns = list(shapes), columns(shapes)

    def prepare_targets(self, y, units):
        with_loss = [k for k, loss in enumerate(self.losses) if loss is not None]
        if not isinstance(y, (list, tuple, dict)) and len(with_loss) == 1:
            ys = [y if k == with_loss[0] else None for k in range(len(self.losses))]  # (Keras: the one output's)
        else:
            ys = by_name(y, self.names, "y")
        rows = {len(t) for t, loss in zip(ys, self.losses) if loss is not None and hasattr(t, "__len__")}
        prepared, widths = [], []
        for k, (loss, target) in enumerate(zip(self.losses, ys)):
            if loss is None:  # (no loss: its targets, if any, are not read)
                t = np.zeros((min(rows) if rows else 0, 0), np.float32)
            else:
                t = positions.prepare_targets(loss, kernels.as_array(target, f"y[{self.names[k]!r}]"), self.shapes[k],
                                              f"y[{self.names[k]!r}]")
            t = np.asarray(t)
            prepared.append(t.reshape(t.shape[0], -1).astype(np.float32))
            widths.append(prepared[-1].shape[1])
        n = {t.shape[0] for t in prepared}
        if len(n) != 1:
            raise ValueError(f"y: the targets have different numbers of samples: {[t.shape[0] for t in prepared]}")
        self.target_columns = columns([(w,) for w in widths])
        self._sparse = [isinstance(loss, losses.SparseCategoricalCrossentropy) for loss in self.losses]
        return np.ascontiguousarray(np.concatenate(prepared, axis=1))

    def target(self, y, k):
        a, b = self.target_columns[k]
        t, steps = y[:, a:b], tuple(self.shapes[k][:-1])  # (an output of several positions: theirs)
        if self._sparse[k]:
            return np.ascontiguousarray(t).reshape((t.shape[0],) + steps).astype(np.int64)
        return np.ascontiguousarray(t).reshape((t.shape[0],) + steps + (-1,)) if steps else np.ascontiguousarray(t)

    def prediction(self, pred, k):
        if isinstance(pred, Outputs):
            return pred.parts[k]
        a, b = self.pred_columns[k]
        return np.ascontiguousarray(pred[:, a:b]).reshape((pred.shape[0],) + tuple(self.shapes[k]))

    def per_output(self, y, pred, k, sample_weight=None, return_grad=False, grad_scale=1.0):
        return positions.per_sample(self.losses[k], self.target(y, k), self.prediction(pred, k), sample_weight,
                                    return_grad, grad_scale)

    def per_sample(self, y_true, y_pred, sample_weight=None, return_grad=False, grad_scale=1.0, from_logits=None):
        """The outputs' losses summed with their weights; with return_grad, the gradient packed as
        y_pred is, or as Outputs (None for an output without a loss) when y_pred is Outputs."""
        total = np.zeros(y_pred.shape[0], np.float32)
        apart = isinstance(y_pred, Outputs)
        grad = None
        if return_grad:
            grad = [None] * len(self.losses) if apart else np.zeros(y_pred.shape, np.float32)
        for k, (loss, w) in enumerate(zip(self.losses, self.weights)):
            if loss is None:
                continue
            out = self.per_output(y_true, y_pred, k, sample_weight, return_grad, grad_scale * w)
            per = out[0] if return_grad else out
            total += np.float32(w) * per
            if return_grad and apart:
                grad[k] = out[1]
            elif return_grad:
                a, b = self.pred_columns[k]
                grad[:, a:b] = out[1].reshape(y_pred.shape[0], -1)
        if return_grad and apart:
            grad = Outputs([g if g is not None else np.zeros_like(p) for g, p in zip(grad, y_pred.parts)])
        return (total, grad) if return_grad else total

    def get_config(self):
        return {"losses": [losses.serialize(loss) if loss is not None else None for loss in self.losses],
                "loss_weights": list(self.weights)}


class OutputLoss(metrics_module.Metric):
    """'<output>_loss': one output's loss (unweighted by loss_weights) over the samples seen."""
    weighted = True  # a loss takes the sample weights

    def __init__(self, loss, k):
        super().__init__(name=f"{loss.names[k]}_loss")
        self._loss, self._k = loss, k

    def update_state(self, y_true, y_pred, sample_weight=None):
        per = self._loss.per_output(y_true, y_pred, self._k, sample_weight)
        self.add_sums(float(np.sum(per, dtype=np.float64)), per.shape[0])


class OutputMetric(metrics_module.Metric):
    """A metric of one output, on its columns, named '<output>_<metric>'."""

    def __init__(self, metric, loss, k):
        super().__init__(name=f"{loss.names[k]}_{metric.name}")
        self.metric, self._loss, self._k = metric, loss, k
        self.weighted = getattr(metric, "weighted", False)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = self._loss.target(y_true, self._k), self._loss.prediction(y_pred, self._k)
        if y_pred.ndim > 2:
            y_true, y_pred, sample_weight = positions.rows(y_true, y_pred, sample_weight)
        self.metric.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return self.metric.result()

    def reset_state(self):
        self.metric.reset_state()
