"""The Python per-layer reference path: one step layer by layer, the phases the engine runs in C++
(forward, loss + penalties, backward, update through the same C++ optimizer step). It is what
compile(run_eagerly=True) trains with, and what tests/test_engine.py holds every engine to."""
from __future__ import annotations

import numpy as np

from ... import constraints, kernels, runtime
from ...losses import positions
from .common import _mean, _update_metrics


class PythonStep:
    def _regularization_loss(self):
        """The weights' penalties and the add_loss values of the last forward pass (custom layers')."""
        return sum(layer.regularization_loss() + sum(float(np.sum(v)) for v in layer._last_losses)
                   for layer in self._layers)

    def _batch_loss(self, y, pred, sw, need_grad, whole=None):
        """Per-sample losses of a batch (and d(loss)/d(last layer output), Keras' reduction; of a
        batch of `whole` rows when these are a data-parallel process's part of it)."""
        b = pred.shape[0] if whole is None else whole
        mask = self.__dict__.get("_output_mask")
        if mask is not None and isinstance(pred, np.ndarray) and pred.ndim > mask.ndim and \
                mask.shape == pred.shape[:mask.ndim]:
            sw = positions.masked_weights(sw, mask, getattr(self.loss, "reduction", None))
        with kernels.reused_gradient_buffers(self.__dict__.setdefault("_loss_gradients", {})):
            if self._fused:
                logits = self._output_layer.logits.reshape(pred.shape)
                return positions.per_sample(self.loss, y, logits, sw, need_grad, 1.0 / b, from_logits=True)
            return positions.per_sample(self.loss, y, pred, sw, need_grad, 1.0 / b)

    def _trainable_spans(self):
        """(offset, size) in the flat buffers of each weight the optimizer updates, in order."""
        slices = iter(self._slices)
        return [(a, b - a) for layer in self._layers
                for (a, b), trains in zip([next(slices) for _ in layer._weights], layer.trainable_mask()) if trains]

    def _train_step(self, x, y, sw, dist=None):
        """The reference path: one step layer by layer, the phases the engine runs in C++.
        dist: a data-parallel distribution (see _train_step_part)."""
        if dist is not None:
            return self._train_step_part(x, y, sw, dist)
        pred = self._forward(x, training=True)
        per_sample, dpred = self._batch_loss(y, pred, sw, True)
        loss = _mean(per_sample) + self._regularization_loss()  # the penalties of the weights this step saw
        self._backward(dpred)
        self._update()
        return loss, pred

    def _update(self):
        for layer in self._layers:
            if layer.trains:
                layer.add_regularization_gradient()
        self.optimizer.apply(self._params, self._grads, self._trainable_spans())
        constraints.apply(self._layers)  # (Keras: after the update, in the optimizer)

    def _train_step_part(self, x, y, sw, dist):
        """A data-parallel step on the reference path, as the engine's shards: this process
        takes its contiguous part of the batch (dropout masks drawn at its rows' places in the
        whole batch), scales its loss by the whole batch, and the processes' gradients and loss
        sums are summed before the penalties' gradients and the update; the outputs are gathered."""
        self._check_data_parallel()
        whole = x.shape[0]
        lo, hi = dist.part(whole)
        penalty = self._regularization_loss()  # the penalties of the weights this step saw
        dropouts = [layer for layer in self._run_order() if hasattr(layer, "_first_row") and layer.rate > 0]
        loss_sum = np.zeros(1, np.float64)
        if hi > lo:
            for layer in dropouts:
                layer._first_row = lo
            try:
                pred = self._forward(x[lo:hi], training=True)
            finally:
                for layer in dropouts:
                    layer._first_row = 0
            per_sample, dpred = self._batch_loss(y[lo:hi], pred, None if sw is None else sw[lo:hi], True, whole)
            loss_sum[0] = np.cumsum(per_sample, dtype=np.float64)[-1]
            self._backward(dpred)
        else:  # no rows here: no gradient of its own, but the step's masks are drawn
            for layer in dropouts:
                layer._calls += 1
            pred = np.empty((0,) + self._output_sample_shape, np.float32)
            self._grads.fill(0)
        dist.allreduce(self._grads)
        dist.stop_if_interrupted()  # all processes stop here, or none
        dist.allreduce(loss_sum)
        self._update()
        return float(loss_sum[0]) / whole + penalty, dist.allgather_rows(pred, whole)

    def _test_outputs(self, x, y, sw):
        """(per-sample losses, outputs) at inference: each row's on its own."""
        pred = self._forward(x, training=False)
        return self._batch_loss(y, pred, sw, False), pred

    def _test_step(self, x, y, sw):
        per_sample, pred = self._test_outputs(x, y, sw)
        return _mean(per_sample) + self._regularization_loss(), pred

    def _python_step(self, cbl, hooks, step, xb, yb, swb, tracker, metrics, dist=None):
        """One training step on a batch, its loss and metrics tracked, the batch hooks called."""
        if hooks[0]:
            cbl.on_train_batch_begin(step)
        with runtime.deferred_interrupt():  # Ctrl-C lands between steps, never inside one
            loss, pred = self._train_step(xb, yb, swb, dist)
        tracker.update_state(loss, xb.shape[0])
        _update_metrics(metrics, yb, pred, swb)
        if hooks[1]:
            cbl.on_train_batch_end(step, self._logs(tracker, metrics))

    def _epoch_python(self, cbl, x, y, sw, order, batch_size, tracker, metrics, dist=None):
        """The reference path: one Python-driven step per batch."""
        hooks = cbl.wants("on_train_batch_begin"), cbl.wants("on_train_batch_end")
        for step in range(-(-x.shape[0] // batch_size)):
            idx = order[step * batch_size:(step + 1) * batch_size]
            self._python_step(cbl, hooks, step, *self._batch(x, y, sw, idx), tracker, metrics, dist)
            if self.stop_training:
                return
