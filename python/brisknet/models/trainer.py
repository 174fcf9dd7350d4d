"""compile / fit / evaluate / predict with Keras semantics, on the layers' C++ kernels.

One training step: forward through the layers (GEMM + bias fused, then activation), per-sample loss
and its gradient in one kernel (softmax + cross-entropy fused on the logits when the model ends in
softmax), backward through the layers into the flat gradient buffer, one optimizer call over the
flat parameter buffer. Results depend only on the seed, never on the thread count.
"""
from __future__ import annotations

import copy
import functools
import threading
import time

import numpy as np

from .. import callbacks as callbacks_module
from .. import kernels, losses, metrics as metrics_module, optimizers, runtime
from . import batches as batches_module
from . import engine as engine_module
from . import engines
from .cpu_engine import signature as engine_signature

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
    """As Keras 3: compile's `metrics` ignore sample weights, `weighted_metrics` use them."""
    for m in metrics:
        m.update_state(y, pred, sample_weight if m.weighted else None)


def _update_metrics_from_run(metrics, y, pred, sample_weight, batch_size):
    """After an engine run: brisknet's metrics keep sums, so one update over the run's rows is
    one per batch; a user's Metric subclass may count calls, so it hears of every batch."""
    for m in metrics:
        sw = sample_weight if m.weighted else None
        if type(m).__module__ == metrics_module.__name__:
            m.update_state(y, pred, sw)
            continue
        for s in range(0, pred.shape[0], batch_size):
            m.update_state(y[s:s + batch_size], pred[s:s + batch_size], None if sw is None else sw[s:s + batch_size])


def _exclusive(method):
    """One of fit/evaluate/predict/... at a time per model: they share the layers' buffers and the
    engine's workspaces, so a second thread waits (re-entrant: callbacks may call predict)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


class Trainer:
    def __init__(self):
        self._lock = threading.RLock()
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_ids = []
        self._metrics = None
        self._fused = False
        self._gather = {}
        self.run_eagerly = False  # True: the Python per-layer reference path trains (as Keras' eager mode)

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, **kwargs):
        """As Keras: `metrics` are computed without sample weights, `weighted_metrics` with them.
        loss: a name, a Loss, or a function fn(y_true, y_pred) -> per-sample losses (the slow
        path: its gradient is taken by central differences on the predictions)."""
        unknown = set(kwargs) - _KERAS_COMPILE_ARGS
        if unknown:
            raise TypeError(f"compile: unexpected arguments {sorted(unknown)}")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss) if loss is not None else None
        def as_list(ms):
            if ms is None:
                return []
            return [ms] if isinstance(ms, (str, metrics_module.Metric)) or callable(ms) else list(ms)
        self._metric_ids = [(m, False) for m in as_list(metrics)] + [(m, True) for m in as_list(weighted_metrics)]
        for m, _ in self._metric_ids:  # fail at compile time on unknown names, as Keras does
            metrics_module.get(m, self.loss)
        self._metrics = None
        self.run_eagerly = bool(kwargs.get("run_eagerly") or False)
        self.compiled = True
        if self.built:
            self.optimizer.build(self._params.size)
            self._configure_fusion()

    def _compile_config(self) -> dict:
        """compile()'s arguments as JSON-able data (saved in model files)."""
        from ..serialization import serialize
        def ser(ids, weighted):
            return [m if isinstance(m, str) else serialize(metrics_module.get(m)) for m, w in ids if w == weighted]
        return {"optimizer": serialize(self.optimizer), "loss": serialize(self.loss),
                "metrics": ser(self._metric_ids, False), "weighted_metrics": ser(self._metric_ids, True)}

    def _compile_from_config(self, config, source="config"):
        from ..serialization import classes_of, deserialize
        if not isinstance(config, dict):
            raise ValueError(f"{source}: the compile entry must be an object")
        optimizer = deserialize(config.get("optimizer"), classes_of(vars(optimizers), optimizers.Optimizer),
                                "optimizer")
        loss = deserialize(config.get("loss"), classes_of(vars(losses), losses.Loss), "loss")
        metric_classes = classes_of(vars(metrics_module), metrics_module.Metric)
        def des(ms):
            return [m if isinstance(m, str) else deserialize(m, metric_classes, "metric") for m in ms or []]
        self.compile(optimizer=optimizer, loss=loss, metrics=des(config.get("metrics")),
                     weighted_metrics=des(config.get("weighted_metrics")))

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"{what}: you must compile the model before training/evaluating it "
                               "(model.compile(optimizer, loss, metrics))")
        if self.loss is None:
            raise ValueError(f"{what}: the model was compiled without a loss")

    def _configure_fusion(self):
        """Softmax + cross-entropy on probabilities is computed from the logits (exact and stable,
        as Keras' TensorFlow backend does), and the softmax backward is skipped."""
        for layer in self._layers:
            if hasattr(layer, "fused_logits"):
                layer.fused_logits = False
        last = self._layers[-1] if self._layers else None
        self._fused = bool(
            self.loss is not None and self.loss.is_crossentropy and not self.loss.from_logits
            and last is not None and getattr(last, "activation", None) == "softmax")
        if self._fused:
            last.fused_logits = True

    # ------------------------------------------------------------------ data
    def _prepare_x(self, x, what="x") -> np.ndarray:
        if x is None:
            raise ValueError(f"{what} is required")
        x = kernels.as_array(x, what)
        if x.ndim < 2:
            raise ValueError(f"{what} must have a batch dimension: expected (samples, features...), got shape {x.shape}")
        if x.shape[0] == 0:
            raise ValueError(f"{what} is empty (0 samples)")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.isfinite(x).all():
            raise ValueError(f"{what} contains NaN or Inf")
        if not self.built:
            self.build((None,) + x.shape[1:])
        elif tuple(x.shape[1:]) != tuple(self._input_shape):
            raise ValueError(f"{what} has samples of shape {x.shape[1:]}, but the model expects "
                             f"{tuple(self._input_shape)}")
        return x

    def _prepare_xy(self, x, y, sample_weight=None, class_weight=None, what=""):
        x = self._prepare_x(x, what + "x")
        if y is None:
            raise ValueError(f"{what}y is required")
        y_arr = kernels.as_array(y, what + "y")
        if y_arr.ndim == 0 or y_arr.shape[0] != x.shape[0]:
            raise ValueError(f"{what}x and {what}y have different numbers of samples: x has {x.shape[0]}, "
                             f"y has shape {y_arr.shape}")
        units = self._layers[-1].output_shape[-1]
        y_arr = self.loss.prepare_targets(y_arr, units)
        sw = self._sample_weights(sample_weight, class_weight, y_arr, x.shape[0])
        return x, y_arr, sw

    @staticmethod
    def _sample_weights(sample_weight, class_weight, y, n):
        if sample_weight is not None and class_weight is not None:
            raise ValueError("You cannot use class_weight and sample_weight at the same time")
        if sample_weight is not None:
            sw = kernels.as_array(sample_weight, "sample_weight").astype(np.float32).reshape(-1)
            if sw.shape[0] != n:
                raise ValueError(f"sample_weight has {sw.shape[0]} values for {n} samples")
            if not np.isfinite(sw).all() or (sw < 0).any():
                raise ValueError("sample_weight must be finite and >= 0")
            return np.ascontiguousarray(sw)
        if class_weight is not None:
            if not isinstance(class_weight, dict):
                raise TypeError("class_weight must be a dict {class index: weight}")
            labels = y if y.ndim == 1 else (y.argmax(axis=1) if y.shape[1] > 1 else (y[:, 0] > 0.5))
            labels = labels.astype(np.int64)
            sw = np.ones(n, np.float32)
            for cls, w in class_weight.items():
                sw[labels == int(cls)] = float(w)
            return sw
        return None

    def _build_metrics(self, y):
        if self._metrics is None:
            units = self._layers[-1].output_shape[-1]
            self._metrics = []
            names = set()
            for ident, weighted in self._metric_ids:
                m = metrics_module.get(ident, self.loss, units, sparse_targets=(y.ndim == 1))
                if weighted and m.name in names:  # Keras: a weighted twin gets a prefix
                    m.name = "weighted_" + m.name
                m.weighted = weighted
                names.add(m.name)
                self._metrics.append(m)
        return self._metrics

    def _batch(self, x, y, sw, idx):
        """Rows idx of x (gathered into a reused buffer), y and sample weights."""
        b = idx.shape[0]
        key = (b,) + x.shape[1:]
        buf = self._gather.get(key)
        if buf is None:
            buf = self._gather[key] = np.empty(key, np.float32)
        np.take(x, idx, axis=0, out=buf)
        return buf, y[idx], (sw[idx] if sw is not None else None)

    # ------------------------------------------------------------------ steps
    def _forward(self, x, training):
        h = x
        for layer in self._layers:
            h = layer.forward(h, training)
        return h

    def _regularization_loss(self):
        return sum(layer.regularization_loss() for layer in self._layers)

    def _batch_loss(self, y, pred, sw, need_grad):
        """Per-sample losses of a batch (and d(loss)/d(last layer output), Keras' reduction)."""
        b = pred.shape[0]
        if self._fused:
            return self.loss.per_sample(y, self._layers[-1].logits, sw, need_grad, 1.0 / b, from_logits=True)
        return self.loss.per_sample(y, pred, sw, need_grad, 1.0 / b)

    def _trainable_spans(self):
        """(offset, size) in the flat buffers of each weight the optimizer updates, in order."""
        slices = iter(self._slices)
        return [(a, b - a) for layer in self._layers for (a, b) in (next(slices) for _ in layer._weights)
                if layer.trains]

    def _train_step(self, x, y, sw):
        """The reference path: one step layer by layer, the phases the engine runs in C++."""
        pred = self._forward(x, training=True)
        per_sample, dpred = self._batch_loss(y, pred, sw, True)
        loss = _mean(per_sample) + self._regularization_loss()  # the penalties of the weights this step saw
        dh = dpred
        for i in range(len(self._layers) - 1, -1, -1):
            dh = self._layers[i].backward(dh, need_dx=i > 0)
        for layer in self._layers:
            if layer.trains:
                layer.add_regularization_gradient()
        self.optimizer.apply(self._params, self._grads, self._trainable_spans())
        return loss, pred

    def _test_step(self, x, y, sw):
        pred = self._forward(x, training=False)
        per_sample = self._batch_loss(y, pred, sw, False)
        return _mean(per_sample) + self._regularization_loss(), pred

    def _logs(self, tracker, metrics, prefix=""):
        logs = {prefix + "loss": tracker.result()}
        for m in metrics:
            logs[prefix + m.name] = _python_value(m.result())
        return logs

    # ------------------------------------------------------------------ fit
    @_exclusive
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs; returns a History whose .history has 'loss', metric names and
        their 'val_' versions. validation_split takes the last fraction of the data, before shuffling.
        x may also be a keras.utils.PyDataset or a generator of batches (then y is None)."""
        self._require_compiled("fit")
        batch_size = _check_batch_size(batch_size)
        verbose = _resolve_verbose(verbose)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
        if batches_module.is_batches(x):
            if y is not None or sample_weight is not None or validation_split:
                raise ValueError("fit: when x is a dataset or generator its batches hold the targets and weights: "
                                 "pass no y, sample_weight or validation_split")
            return self._fit_batches(x, epochs, verbose, callbacks, validation_data, class_weight, initial_epoch,
                                     steps_per_epoch, validation_steps, validation_freq, shuffle)
        if steps_per_epoch is not None or validation_steps is not None:
            raise NotImplementedError("steps_per_epoch/validation_steps apply to datasets; pass arrays")
        if not 0.0 <= float(validation_split) < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        x, y, sw = self._prepare_xy(x, y, sample_weight, class_weight)
        val = None
        if validation_data is not None:
            val = self._validation_arrays(validation_data)
        elif validation_split:
            split = int(np.floor(x.shape[0] * (1.0 - validation_split)))
            if split == 0 or split == x.shape[0]:
                raise ValueError(f"validation_split={validation_split} leaves no samples for training "
                                 f"or validation out of {x.shape[0]}")
            val = (x[split:], y[split:], sw[split:] if sw is not None else None)
            x, y, sw = x[:split], y[:split], (sw[:split] if sw is not None else None)
        val_batch = _check_batch_size(validation_batch_size, batch_size)

        metrics = self._build_metrics(y)
        tracker = metrics_module.Mean(name="loss")
        n = x.shape[0]
        steps = -(-n // batch_size)
        history, cbl = self._fit_callbacks(callbacks, verbose, epochs, steps, n, batch_size)
        engine = self._engine() if engine_module.why_not(self) is None else None
        self.stop_training = False
        self._initial_epoch = None  # BackupAndRestore sets it when it resumes a run
        logs = {}
        cbl.on_train_begin()
        rng = runtime.global_rng()
        start = self._initial_epoch if self._initial_epoch is not None else int(initial_epoch)
        for epoch in range(start, int(epochs)):
            tracker.reset_state()
            for m in metrics:
                m.reset_state()
            cbl.on_epoch_begin(epoch)
            order = rng.permutation(n) if shuffle else np.arange(n)
            if engine is not None:
                self._epoch_engine(engine, cbl, x, y, sw, order, batch_size, tracker, metrics)
            else:
                self._epoch_python(cbl, x, y, sw, order, batch_size, tracker, metrics)
            logs = self._end_epoch(cbl, epoch, tracker, metrics, val is not None and (epoch + 1) % validation_freq == 0,
                                   lambda: self._evaluate_arrays(*val, val_batch, prefix="val_", cbl=cbl))
            if self.stop_training:
                break
        cbl.on_train_end(logs)
        self.history = history
        return history

    def _fit_callbacks(self, callbacks, verbose, epochs, steps, samples, batch_size):
        """(History, CallbackList) of a fit: as Keras, the user's callbacks first, then the progress
        bar and History, which so see what the user's added to the logs."""
        history = callbacks_module.History()
        cbs = list(callbacks or [])
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger(verbose, samples=samples, batch_size=batch_size))
        cbs.append(history)
        return history, callbacks_module.CallbackList(cbs, self, {"verbose": verbose, "epochs": epochs,
                                                                  "steps": steps})

    # ------------------------------------------------------------------ datasets and generators
    def _prepare_batch(self, batch, class_weight=None, what="batch", need_y=True):
        x, y, sw = batches_module.unpack(batch, what)
        if not need_y:
            return self._prepare_x(x, what + " x"), None, None
        if y is None:
            raise ValueError(f"{what}: the batch has no targets (expected (x, y) or (x, y, sample_weight))")
        return self._prepare_xy(x, y, sw, class_weight, what=what + " ")

    def _fit_batches(self, data, epochs, verbose, callbacks, validation_data, class_weight, initial_epoch,
                     steps_per_epoch, validation_steps, validation_freq, shuffle):
        """fit on a PyDataset or generator: one Python-driven step per batch; a dataset's batches
        in a new random order each epoch when shuffle (as Keras)."""
        source = batches_module.Source(data, steps_per_epoch, "x")
        if validation_data is None or batches_module.is_batches(validation_data):
            val_arrays = None
        else:
            val_arrays = self._validation_arrays(validation_data)  # checked and converted once

        def validate():
            if val_arrays is not None:
                return self._evaluate_arrays(*val_arrays, 32, prefix="val_", cbl=cbl)
            return self._evaluate_batches(batches_module.Source(validation_data, validation_steps, "validation_data"),
                                          "val_", cbl)
        history, cbl = self._fit_callbacks(callbacks, verbose, epochs, len(source) or None, None, None)
        tracker = metrics_module.Mean(name="loss")
        metrics = None
        self.stop_training = False
        self._initial_epoch = None
        logs = {}
        cbl.on_train_begin()
        start = self._initial_epoch if self._initial_epoch is not None else int(initial_epoch)
        hooks = cbl.wants("on_train_batch_begin"), cbl.wants("on_train_batch_end")
        for epoch in range(start, int(epochs)):
            tracker.reset_state()
            for m in metrics or []:
                m.reset_state()
            cbl.on_epoch_begin(epoch)
            for step, batch in enumerate(source.epoch(runtime.global_rng() if shuffle else None)):
                xb, yb, swb = self._prepare_batch(batch, class_weight, f"x[{step}]")
                if metrics is None:
                    metrics = self._build_metrics(yb)
                self._python_step(cbl, hooks, step, xb, yb, swb, tracker, metrics)
                if self.stop_training:
                    break
            if source.exhausted:
                break
            logs = self._end_epoch(cbl, epoch, tracker, metrics or [],
                                   validation_data is not None and (epoch + 1) % validation_freq == 0, validate)
            if self.stop_training:
                break
        cbl.on_train_end(logs)
        self.history = history
        return history

    def _validation_arrays(self, data):
        """validation_data given as arrays, checked and converted once per fit."""
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight), "
                             "or a dataset")
        return self._prepare_xy(data[0], data[1], data[2] if len(data) == 3 else None, None, what="validation ")

    def _end_epoch(self, cbl, epoch, tracker, metrics, validating, validate):
        """The epoch's logs, with validate()'s 'val_' entries when validating, sent to on_epoch_end."""
        logs = self._logs(tracker, metrics)
        if validating:
            logs.update(validate())
        cbl.on_epoch_end(epoch, logs)
        return logs

    def _evaluate_batches(self, source, prefix="", cbl=None):
        tracker, metrics = metrics_module.Mean(name="loss"), None
        if cbl is not None:
            cbl.on_test_begin()
        for step, batch in enumerate(source.epoch()):
            xb, yb, swb = self._prepare_batch(batch, None, f"batch {step}")
            if metrics is None:
                metrics = [copy.deepcopy(m) for m in self._build_metrics(yb)]
                for m in metrics:
                    m.reset_state()
            if cbl is not None:
                cbl.on_test_batch_begin(step)
            loss, pred = self._test_step(xb, yb, swb)
            tracker.update_state(loss, pred.shape[0])
            _update_metrics(metrics, yb, pred, swb)
            if cbl is not None:
                cbl.on_test_batch_end(step, self._logs(tracker, metrics))
        if metrics is None:
            raise ValueError("evaluate: the dataset gave no batches")
        if cbl is not None:
            cbl.on_test_end(self._logs(tracker, metrics))
        return self._logs(tracker, metrics, prefix)

    def _engine(self, training=True):
        """The engine of this model, kept across fits (its workspaces too) until what it was built
        from changes (layers, their offsets and settings, the loss)."""
        attr = "_training_engine" if training else "_inference_engine"
        engine = getattr(self, attr, None)
        # the engine holds the buffer it was built on, so its id cannot be reused while it lives
        if engine is None or engine.parameters.params is not self._params or \
                engine.signature != engine_signature(self, training):
            engine = engines.engine_for(self, training)
            setattr(self, attr, engine)
        return engine

    def _epoch_python(self, cbl, x, y, sw, order, batch_size, tracker, metrics):
        """The reference path: one Python-driven step per batch."""
        hooks = cbl.wants("on_train_batch_begin"), cbl.wants("on_train_batch_end")
        for step in range(-(-x.shape[0] // batch_size)):
            idx = order[step * batch_size:(step + 1) * batch_size]
            self._python_step(cbl, hooks, step, *self._batch(x, y, sw, idx), tracker, metrics)
            if self.stop_training:
                return

    def _python_step(self, cbl, hooks, step, xb, yb, swb, tracker, metrics):
        """One training step on a batch, its loss and metrics tracked, the batch hooks called."""
        if hooks[0]:
            cbl.on_train_batch_begin(step)
        with runtime.deferred_interrupt():  # Ctrl-C lands between steps, never inside one
            loss, pred = self._train_step(xb, yb, swb)
        tracker.update_state(loss, xb.shape[0])
        _update_metrics(metrics, yb, pred, swb)
        if hooks[1]:
            cbl.on_train_batch_end(step, self._logs(tracker, metrics))

    def _epoch_engine(self, engine, cbl, x, y, sw, order, batch_size, tracker, metrics):
        """The engine's path: runs of batches per call; a batch at a time when a user callback has
        per-batch hooks (the progress bar only needs to hear about batches afterwards). The
        metrics are updated once per run, from the predictions the engine made."""
        ours = (callbacks_module.History, callbacks_module.ProgbarLogger)
        user_hooks = cbl.wants("on_train_batch_begin", ours) or cbl.wants("on_train_batch_end", ours)
        notify = cbl.wants("on_train_batch_end")
        # about 4096 samples per call: few returns to Python, and a progress bar that still moves
        chunk = batch_size * (1 if user_hooks else max(1, min(64, 4096 // batch_size)))
        n, step = x.shape[0], 0
        for start in range(0, n, chunk):
            if user_hooks:
                cbl.on_train_batch_begin(step)
            rows = order[start:start + chunk]
            losses, pred = engine.train(x, y, sw, rows, batch_size)
            if metrics:
                _update_metrics_from_run(metrics, y[rows], pred, sw[rows] if sw is not None else None, batch_size)
            for loss in losses:
                size = min(batch_size, n - step * batch_size)
                tracker.update_state(float(loss), size)
                if notify:
                    cbl.on_train_batch_end(step, self._logs(tracker, metrics))
                step += 1
            if self.stop_training:
                return

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_arrays(self, x, y, sw, batch_size, prefix="", cbl=None):
        """Loss and metrics over (x, y); calls the on_test_* hooks of `cbl` (the logs they see
        have no prefix, as in Keras)."""
        metrics = [copy.deepcopy(m) for m in self._build_metrics(y)]
        for m in metrics:
            m.reset_state()
        tracker = metrics_module.Mean(name="loss")
        hooks = (cbl is not None and cbl.wants("on_test_batch_begin"),
                 cbl is not None and cbl.wants("on_test_batch_end"))
        if cbl is not None:
            cbl.on_test_begin()
        for step, start in enumerate(range(0, x.shape[0], batch_size)):
            sl = slice(start, start + batch_size)
            yb, swb = y[sl], (sw[sl] if sw is not None else None)
            if hooks[0]:
                cbl.on_test_batch_begin(step)
            loss, pred = self._test_step(x[sl], yb, swb)
            tracker.update_state(loss, pred.shape[0])
            _update_metrics(metrics, yb, pred, swb)
            if hooks[1]:
                cbl.on_test_batch_end(step, self._logs(tracker, metrics))
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
            outs = []
            for step, batch in enumerate(source.epoch()):
                xb = self._prepare_batch(batch, what=f"x[{step}]", need_y=False)[0]
                if cbl is not None:
                    cbl.on_predict_batch_begin(step)
                outs.append(self._forward(xb, training=False).copy())
                if cbl is not None:
                    cbl.on_predict_batch_end(step, {"outputs": outs[-1]})
            if cbl is not None:
                cbl.on_predict_end()
            if not outs:
                raise ValueError("predict: the dataset gave no batches")
            return np.concatenate(outs)
        x = self._prepare_x(x)
        cbl = self._callbacks_for(callbacks, verbose, x.shape[0], batch_size)
        if cbl is not None:
            cbl.on_predict_begin()
        hooks = cbl is not None and (cbl.wants("on_predict_batch_begin") or cbl.wants("on_predict_batch_end"))
        if not hooks and engine_module.layer_specs(self)[1] is None:
            out = self._engine(training=False).predict(x, batch_size)
        else:
            out = np.empty((x.shape[0],) + tuple(self._layers[-1].output_shape), np.float32)
            for step, start in enumerate(range(0, x.shape[0], batch_size)):
                sl = slice(start, start + batch_size)
                if hooks:
                    cbl.on_predict_batch_begin(step)
                out[sl] = self._forward(x[sl], training=False)
                if hooks:
                    cbl.on_predict_batch_end(step, {"outputs": out[sl]})
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

    @_exclusive
    def __call__(self, x, training=False):
        x = self._prepare_x(x)
        return self._forward(x, training=bool(training)).copy()

    # ------------------------------------------------------------------ single batches
    def reset_metrics(self):
        for m in self._metrics or []:
            m.reset_state()

    @_exclusive
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on exactly this batch; returns loss (and metrics)."""
        self._require_compiled("train_on_batch")
        x, y, sw = self._prepare_xy(x, y, sample_weight, class_weight)
        metrics = self._build_metrics(y)
        for m in metrics:
            m.reset_state()
        with runtime.deferred_interrupt():
            loss, pred = self._train_step(x, y, sw)
        _update_metrics(metrics, y, pred, sw)
        return self._single_batch_result(loss, metrics, return_dict)

    @_exclusive
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled("test_on_batch")
        x, y, sw = self._prepare_xy(x, y, sample_weight)
        metrics = [copy.deepcopy(m) for m in self._build_metrics(y)]
        for m in metrics:
            m.reset_state()
        loss, pred = self._test_step(x, y, sw)
        _update_metrics(metrics, y, pred, sw)
        return self._single_batch_result(loss, metrics, return_dict)

    @_exclusive
    def predict_on_batch(self, x):
        x = self._prepare_x(x)
        return self._forward(x, training=False).copy()

    @staticmethod
    def _single_batch_result(loss, metrics, return_dict):
        logs = {"loss": loss}
        for m in metrics:
            logs[m.name] = _python_value(m.result())
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values
