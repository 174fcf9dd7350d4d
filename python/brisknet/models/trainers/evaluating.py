"""evaluate, predict and the single-batch methods (train_on_batch, test_on_batch, predict_on_batch)."""
from __future__ import annotations

import copy
import time

import numpy as np

from ... import autodiff, callbacks as callbacks_module
from ... import distribution as distribution_module, metrics as metrics_module, runtime
from ...layers.symbolic import is_symbolic
from .. import batches as batches_module
from .. import engine as engine_module
from .. import functional_io
from .common import _check_batch_size, _exclusive, _mean, _python_value, _resolve_verbose, _update_metrics


class Evaluating:
    def _evaluate_arrays(self, x, y, sw, batch_size, prefix="", cbl=None):
        """Loss and metrics over (x, y); calls the on_test_* hooks of `cbl` (the logs they see
        have no prefix, as in Keras)."""
        self._weights_to_host()  # the layers compute on the host arrays
        metrics = [copy.deepcopy(m) for m in self._build_metrics(y)]
        for m in metrics:
            m.reset_state()
        self._reset_own_metrics()
        tracker = metrics_module.Mean(name="loss")
        hooks = (cbl is not None and cbl.wants("on_test_batch_begin"),
                 cbl is not None and cbl.wants("on_test_batch_end"))
        dist = distribution_module.active()
        if dist is not None:  # every process its part of the rows, then the same logs on all
            per_sample, outputs = self._sharded_outputs(x, y, sw, batch_size, dist)
            penalty = self._regularization_loss()
        if cbl is not None:
            cbl.on_test_begin()
        for step, start in enumerate(range(0, x.shape[0], batch_size)):
            sl = slice(start, start + batch_size)
            yb, swb = y[sl], (sw[sl] if sw is not None else None)
            if hooks[0]:
                cbl.on_test_batch_begin(step)
            if dist is None:
                loss, pred = self._test_step(x[sl], yb, swb)
            else:  # as _test_step
                loss, pred = _mean(per_sample[sl]) + penalty, outputs[sl]
            tracker.update_state(loss, pred.shape[0])
            _update_metrics(metrics, yb, pred, swb)
            if hooks[1]:
                cbl.on_test_batch_end(step, self._logs(tracker, metrics))
        if cbl is not None:
            cbl.on_test_end(self._logs(tracker, metrics))
        return self._logs(tracker, metrics, prefix)

    def _check_replicas(self, during):
        """Under a data-parallel distribution: raises unless every process has the same weights
        (their parts of the rows are gathered into one result)."""
        dist = distribution_module.active()
        if dist is not None:
            dist.check_same_weights(self, during)

    def _sharded_outputs(self, x, y, sw, batch_size, dist):
        """Per-sample losses and outputs of all rows of (x, y) on every process of a data-parallel
        distribution, each process computing its contiguous part in batches. A row's results do
        not depend on the rows computed beside it, so these are one process's bits."""
        n = x.shape[0]
        lo, hi = dist.part(n)
        per_sample = np.empty(hi - lo, np.float32)
        outputs = np.empty((hi - lo,) + self._output_sample_shape, np.float32)
        for start in range(lo, hi, batch_size):
            sl, mine = slice(start, min(start + batch_size, hi)), slice(start - lo, min(start + batch_size, hi) - lo)
            per_sample[mine], outputs[mine] = self._test_outputs(x[sl], y[sl], None if sw is None else sw[sl])
        return dist.allgather_rows(per_sample, n), dist.allgather_rows(outputs, n)

    def _evaluate_batches(self, source, prefix="", cbl=None):
        self._weights_to_host()
        tracker, metrics = metrics_module.Mean(name="loss"), None
        dist = distribution_module.active()
        if cbl is not None:
            cbl.on_test_begin()
        for step, batch in enumerate(source.epoch()):
            xb, yb, swb = self._prepare_batch(batch, None, f"batch {step}")
            if metrics is None:  # the first batch has built the model
                if prefix != "val_":  # (fit's validation: the epoch has just checked)
                    self._check_replicas("evaluate")
                metrics = [copy.deepcopy(m) for m in self._build_metrics(yb)]
                for m in metrics:
                    m.reset_state()
                self._reset_own_metrics()
            if cbl is not None:
                cbl.on_test_batch_begin(step)
            if dist is None:
                loss, pred = self._test_step(xb, yb, swb)
            else:  # every process its part of this batch
                per_sample, pred = self._sharded_outputs(xb, yb, swb, xb.shape[0], dist)
                loss = _mean(per_sample) + self._regularization_loss()
            tracker.update_state(loss, pred.shape[0])
            _update_metrics(metrics, yb, pred, swb)
            if cbl is not None:
                cbl.on_test_batch_end(step, self._logs(tracker, metrics))
        if metrics is None:
            raise ValueError("evaluate: the dataset gave no batches")
        if cbl is not None:
            cbl.on_test_end(self._logs(tracker, metrics))
        return self._logs(tracker, metrics, prefix)

    @_exclusive
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """Loss (and metrics) over the data: a scalar without metrics, else [loss, *metrics];
        a dict with return_dict=True."""
        self._require_compiled("evaluate")
        batch_size = _check_batch_size(batch_size)
        verbose = _resolve_verbose(verbose)
        start = time.perf_counter()
        if batches_module.is_batches(x):
            if y is not None or sample_weight is not None:
                raise ValueError("evaluate: when x is a dataset or generator its batches hold the targets: pass no y")
            source = batches_module.Source(x, steps, "x")
            cbl = self._callbacks_for(callbacks, verbose, None, None, steps=len(source) or None)
            logs = self._evaluate_batches(source, cbl=cbl)
            samples = "all"
        else:
            x, y, sw = self._prepare_xy(x, y, sample_weight)
            self._check_replicas("evaluate")
            cbl = self._callbacks_for(callbacks, verbose, x.shape[0], batch_size)
            logs = self._evaluate_arrays(x, y, sw, batch_size, cbl=cbl)
            samples = x.shape[0]
        if verbose:
            elapsed = time.perf_counter() - start
            print(f"evaluate: {samples} samples - {elapsed:.2f}s - {callbacks_module.format_logs(logs)}",
                  flush=True)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    @_exclusive
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for x, in batches (float32, shape (samples, outputs)); x may be a dataset or a
        generator of batches (their x parts are used)."""
        batch_size = _check_batch_size(batch_size)
        verbose = _resolve_verbose(verbose)
        if batches_module.is_batches(x):
            source = batches_module.Source(x, steps, "x")
            cbl = self._callbacks_for(callbacks, verbose, None, None, steps=len(source) or None)
            if cbl is not None:
                cbl.on_predict_begin()
            self._weights_to_host()
            outs = []
            for step, batch in enumerate(source.epoch()):
                xb = self._prepare_batch(batch, what=f"x[{step}]", need_y=False)[0]
                if cbl is not None:
                    cbl.on_predict_batch_begin(step)
                outs.append(functional_io.kept(self._forward(xb, training=False)))
                if cbl is not None:
                    cbl.on_predict_batch_end(step, {"outputs": np.asarray(outs[-1])})
            if cbl is not None:
                cbl.on_predict_end()
            if not outs:
                raise ValueError("predict: the dataset gave no batches")
            return functional_io.joined(outs)
        x = self._prepare_x(x)
        cbl = self._callbacks_for(callbacks, verbose, x.shape[0], batch_size)
        if cbl is not None:
            cbl.on_predict_begin()
        hooks = cbl is not None and (cbl.wants("on_predict_batch_begin") or cbl.wants("on_predict_batch_end"))
        specs, reason = engine_module.layer_specs(self)
        if not hooks and reason is None:
            engine = self._engine(training=False, specs=specs)
            dist = distribution_module.active()
            if dist is None:
                out = engine.predict(x, batch_size)
            else:  # each process its contiguous part of the rows, gathered on every process
                self._check_replicas("predict")
                lo, hi = dist.part(x.shape[0])
                out = dist.allgather_rows(engine.predict(x[lo:hi], batch_size), x.shape[0])
            out = out.reshape((out.shape[0],) + tuple(self._output_sample_shape))  # (the engine's rows are flat)
        else:
            self._weights_to_host()
            parts = []
            for step, start in enumerate(range(0, x.shape[0], batch_size)):
                sl = slice(start, start + batch_size)
                if hooks:
                    cbl.on_predict_batch_begin(step)
                parts.append(functional_io.kept(self._forward(x[sl], training=False)))
                if hooks:
                    cbl.on_predict_batch_end(step, {"outputs": np.asarray(parts[-1])})
            out = functional_io.joined(parts)
        if cbl is not None:
            cbl.on_predict_end()
        return out

    def _callbacks_for(self, callbacks, verbose, samples, batch_size, steps=None):
        """evaluate's and predict's CallbackList (None without callbacks)."""
        if not callbacks:
            return None
        if samples is not None:
            steps = -(-samples // batch_size)
        return callbacks_module.CallbackList(callbacks, self, {"verbose": verbose, "epochs": 1, "steps": steps})

    def __call__(self, x, training=None):
        if autodiff.is_traced(x) or (isinstance(x, (list, tuple)) and x and autodiff.is_traced(x[0])):
            return self._traced_call(x, training)  # a model called inside a traced call(): nodes of that graph
        if is_symbolic(x) or (isinstance(x, (list, tuple)) and x and is_symbolic(x[0])):
            return self._symbolic_call(x)  # a model as a layer of a functional model
        return self._eager_call(x, bool(training))

    def _symbolic_call(self, x):
        """Called on keras.Input tensors: its layers called on them in turn, so that they become
        layers of the functional model being built (sharing their weights with this model)."""
        for layer in self._entries:
            x = layer(x)
        return x

    @_exclusive
    def _eager_call(self, x, training=False):
        x = self._prepare_x(x)
        self._weights_to_host()
        return functional_io.kept(self._forward(x, training=bool(training)))

    def reset_metrics(self):
        for m in self._metrics or []:
            m.reset_state()

    def _reset_own_metrics(self):
        """The metrics a subclassed model lists itself (models/model.py) start each epoch afresh."""

    @_exclusive
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on exactly this batch; returns loss (and metrics)."""
        self._require_compiled("train_on_batch")
        x, y, sw = self._prepare_xy(x, y, sample_weight, class_weight)
        metrics = self._build_metrics(y)
        for m in metrics:
            m.reset_state()
        self._weights_to_host()
        with runtime.deferred_interrupt():
            loss, pred = self._train_step(x, y, sw)  # on the host arrays
        self._weights_from_host()
        _update_metrics(metrics, y, pred, sw)
        return self._single_batch_result(loss, metrics, return_dict)

    @_exclusive
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y, sw = self._prepare_xy(x, y, sample_weight)
        self._weights_to_host()
        metrics = [copy.deepcopy(m) for m in self._build_metrics(y)]
        for m in metrics:
            m.reset_state()
        loss, pred = self._test_step(x, y, sw)
        _update_metrics(metrics, y, pred, sw)
        return self._single_batch_result(loss, metrics, return_dict)

    @_exclusive
    def predict_on_batch(self, x):
        x = self._prepare_x(x)
        self._weights_to_host()
        return functional_io.kept(self._forward(x, training=False))

    @staticmethod
    def _single_batch_result(loss, metrics, return_dict):
        logs = {"loss": loss}
        for m in metrics:
            logs[m.name] = _python_value(m.result())
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values
