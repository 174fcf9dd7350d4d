"""Helpers shared by the trainer's parts."""
from __future__ import annotations

import functools

import numpy as np

from ... import metrics as metrics_module
from ...losses import positions

_KERAS_COMPILE_ARGS = {"loss_weights", "run_eagerly", "steps_per_execution",
                       "jit_compile", "auto_scale_loss"}


def _check_batch_size(batch_size, default=32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    return int(batch_size)


def _resolve_verbose(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def _mean(per_sample) -> float:
    """Mean of per-sample losses summed in order in float64 (cumsum is sequential), exactly as
    the C++ engine sums them."""
    return float(np.cumsum(per_sample, dtype=np.float64)[-1]) / per_sample.shape[0]


def _python_value(result):
    """A metric's result as a Python float (a user's metric may return a 0-d array or a
    Variable); per-threshold results stay arrays."""
    a = np.asarray(result)
    return float(a) if a.size == 1 else a


def _update_metrics(metrics, y, pred, sample_weight):
    """As Keras 3: compile's `metrics` ignore sample weights, `weighted_metrics` use them (and
    several positions per sample are rows, as for the loss)."""
    if pred.ndim > 2:
        y, pred, sample_weight = positions.rows(y, pred, sample_weight)
    for m in metrics:
        m.update_state(y, pred, sample_weight if m.weighted else None)


def _update_metrics_from_run(metrics, y, pred, sample_weight, batch_size):
    """After an engine run: brisknet's metrics keep sums, so one update over the run's rows is
    one per batch; a user's Metric subclass may count calls, so it hears of every batch."""
    ours = [m for m in metrics if type(m).__module__ == metrics_module.__name__]
    _update_metrics(ours, y, pred, sample_weight)
    users = [m for m in metrics if type(m).__module__ != metrics_module.__name__]
    for s in range(0, pred.shape[0] if users else 0, batch_size):
        _update_metrics(users, y[s:s + batch_size], pred[s:s + batch_size],
                        None if sample_weight is None else sample_weight[s:s + batch_size])


def _exclusive(method):
    """One of fit/evaluate/predict/... at a time per model: they share the layers' buffers and the
    engine's workspaces, so a second thread waits (re-entrant: callbacks may call predict)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked
