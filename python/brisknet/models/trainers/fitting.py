"""fit: epochs over arrays (runs of batches in the model's engine, or the Python path) or over a
PyDataset/generator, with Keras' callbacks, validation and logs."""
from __future__ import annotations

import contextlib

import numpy as np

from ... import callbacks as callbacks_module
from ... import devices, distribution as distribution_module, metrics as metrics_module, runtime
from ...layers import BatchNormalization
from .. import batches as batches_module
from .. import engine as engine_module
from .. import engines
from ..cpu_engine import signature as engine_signature
from .common import _check_batch_size, _exclusive, _resolve_verbose, _update_metrics, _update_metrics_from_run


class Fitting:
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
        dist = distribution_module.active()
        if dist is not None:
            self._check_data_parallel()
            verbose = verbose if dist.rank == 0 else 0  # one progress bar
        history, cbl = self._fit_callbacks(callbacks, verbose, epochs, steps, n, batch_size,
                                           dist.rank if dist is not None else 0)
        self.stop_training = False
        self._initial_epoch = None  # BackupAndRestore sets it when it resumes a run
        logs = {}
        cbl.on_train_begin()
        start = self._initial_epoch if self._initial_epoch is not None else int(initial_epoch)
        if dist is not None:  # after on_train_begin: BackupAndRestore (rank 0's) may have resumed
            start = dist.start(self, start)
        engine = self._training_engine_or_none()  # (after start: dropout seeds)
        rng = runtime.global_rng()
        with dist.interrupts_between_steps() if dist is not None else contextlib.nullcontext():
            for epoch in range(start, int(epochs)):
                tracker.reset_state()
                for m in metrics:
                    m.reset_state()
                self._reset_own_metrics()
                cbl.on_epoch_begin(epoch)
                order = rng.permutation(n) if shuffle else np.arange(n)
                if dist is not None:
                    dist.broadcast(order)  # rank 0's shuffle
                if engine is not None:
                    self._epoch_engine(engine, cbl, x, y, sw, order, batch_size, tracker, metrics, dist)
                else:
                    self._epoch_python(cbl, x, y, sw, order, batch_size, tracker, metrics, dist)
                if dist is not None:
                    dist.check_same_weights(self)
                logs = self._end_epoch(cbl, epoch, tracker, metrics, val is not None and (epoch + 1) % validation_freq == 0,
                                       lambda: self._evaluate_arrays(*val, val_batch, prefix="val_", cbl=cbl))
                if self.stop_training:
                    break
        cbl.on_train_end(logs)
        self.history = history
        return history

    def _fit_callbacks(self, callbacks, verbose, epochs, steps, samples, batch_size, rank=0):
        """(History, CallbackList) of a fit: as Keras, the user's callbacks first, then the progress
        bar and History, which so see what the user's added to the logs. Callbacks that write
        files run on rank 0 alone in a data-parallel fit (the others would write the same)."""
        history = callbacks_module.History()
        cbs = [c for c in callbacks or [] if rank == 0 or not c.writes_files]
        if verbose:
            cbs.append(callbacks_module.ProgbarLogger(verbose, samples=samples, batch_size=batch_size))
        cbs.append(history)
        return history, callbacks_module.CallbackList(cbs, self, {"verbose": verbose, "epochs": epochs,
                                                                  "steps": steps})

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
        active = distribution_module.active()
        if active is not None:
            self._check_data_parallel()
        rank = active.rank if active is not None else 0
        history, cbl = self._fit_callbacks(callbacks, verbose if rank == 0 else 0, epochs, len(source) or None,
                                           None, None, rank)
        tracker = metrics_module.Mean(name="loss")
        metrics, engine, dist = None, None, None
        self.stop_training = False
        self._initial_epoch = None
        logs = {}
        cbl.on_train_begin()
        start = self._initial_epoch if self._initial_epoch is not None else int(initial_epoch)
        if active is not None:  # rank 0's first epoch (BackupAndRestore) and shuffles of the batches
            start = active.agree(start)
            active.sync_generator()
        hooks = cbl.wants("on_train_batch_begin"), cbl.wants("on_train_batch_end")
        with active.interrupts_between_steps() if active is not None else contextlib.nullcontext():
            for epoch in range(start, int(epochs)):
                tracker.reset_state()
                for m in metrics or []:
                    m.reset_state()
                self._reset_own_metrics()
                cbl.on_epoch_begin(epoch)
                for step, batch in enumerate(source.epoch(runtime.global_rng() if shuffle else None)):
                    xb, yb, swb = self._prepare_batch(batch, class_weight, f"x[{step}]")
                    if metrics is None:  # the first batch has built the model
                        metrics = self._build_metrics(yb)
                        if active is not None:
                            active.start(self)
                            dist = active
                        engine = self._training_engine_or_none()
                    if engine is not None:
                        self._engine_step(engine, cbl, hooks, step, xb, yb, swb, tracker, metrics, dist)
                    else:
                        self._python_step(cbl, hooks, step, xb, yb, swb, tracker, metrics, dist)
                    if self.stop_training:
                        break
                if source.exhausted:
                    break
                if dist is not None:
                    dist.check_same_weights(self)
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

    def _weights_to_host(self):
        """Brings the host arrays of the weights up to date: an engine on another device keeps
        its own copy (ParameterStore), synced only when asked (get_weights, saving, ...)."""
        engine = getattr(self, "_training_engine", None)
        if engine is not None:
            engine.parameters.to_host()

    def _weights_from_host(self):
        """The host arrays changed (set_weights, loading): the engines' copies follow."""
        for attr in ("_training_engine", "_inference_engine"):
            engine = getattr(self, attr, None)
            if engine is not None:
                engine.parameters.from_host()

    def _placement(self):
        """Where this model runs: its own device, else the one in effect (brisknet.devices)."""
        return self._device if getattr(self, "_device", None) is not None else devices.current()

    def _check_data_parallel(self):
        """What data-parallel training cannot do yet: graphs, and batch statistics per process."""
        if not self._runs_as_chain():
            raise NotImplementedError("data-parallel training of a graph of layers (merge or shared layers, "
                                      "several inputs or outputs; a subclassed model's call() with ops the engine "
                                      "does not run) is not supported yet")
        if any(isinstance(layer, BatchNormalization) for layer in self._run_order()):
            raise NotImplementedError("data-parallel training with BatchNormalization (its statistics would be each "
                                      "process's part of the batch) is not supported yet")

    def _training_engine_or_none(self):
        """The engine that trains this model, or None for the Python reference path (which runs
        on the CPU alone: a model placed on a GPU that the engine cannot run is an error)."""
        reason = engine_module.why_not(self)
        if reason is None:
            return self._engine()
        place = self._placement()
        if place[0] != "cpu" and not self.run_eagerly:
            raise RuntimeError(f"{self.name} cannot train on {devices.name_of(place)}: {reason} (the GPU runs "
                               "the engine's layers, losses and optimizers; compile(run_eagerly=True) trains "
                               "on the CPU)")
        return None

    def _engine(self, training=True, specs=None):
        """The engine of this model, kept across fits (its workspaces too) until what it was built
        from changes (layers, their offsets and settings, the loss). specs: layer_specs(self), when
        the caller has them (describing the model is a good part of a one-row predict)."""
        if specs is None:
            specs, reason = engine_module.layer_specs(self)
            if reason:
                raise ValueError(f"the engine cannot run this model: {reason}")
        if not training:  # a device's training engine predicts with the weights it holds
            trainer = getattr(self, "_training_engine", None)
            if trainer is not None and trainer.place == self._placement() and \
                    trainer.parameters.params is self._params and trainer.serves_inference(specs):
                return trainer
        attr = "_training_engine" if training else "_inference_engine"
        engine = getattr(self, attr, None)
        # the engine holds the buffer it was built on, so its id cannot be reused while it lives
        if engine is None or engine.parameters.params is not self._params or engine.place != self._placement() or \
                engine.signature != engine_signature(self, specs, training):
            if engine is not None and engine.parameters.params is self._params:
                engine.parameters.to_host()  # what the old engine trained (on its device) comes home first
            engine = engines.engine_for(self, training, specs)
            setattr(self, attr, engine)
        return engine

    def _engine_step(self, engine, cbl, hooks, step, xb, yb, swb, tracker, metrics, dist=None):
        """One batch of a dataset or generator through the engine: a run of one step (its part of
        the batch on each process of a data-parallel fit, which all read the same batches)."""
        if hooks[0]:
            cbl.on_train_batch_begin(step)
        if dist is None:
            losses, pred = engine.train(xb, yb, swb, np.arange(xb.shape[0]), xb.shape[0])
        else:
            losses, pred = engine.train(xb, yb, swb, np.arange(xb.shape[0]), xb.shape[0],
                                        **dist.train_hooks(engine.parameters.grads))
            dist.allreduce(losses)
            dist.allreduce(pred)
        tracker.update_state(float(losses[0]), xb.shape[0])
        _update_metrics(metrics, yb, pred, swb)
        if hooks[1]:
            cbl.on_train_batch_end(step, self._logs(tracker, metrics))

    def _epoch_engine(self, engine, cbl, x, y, sw, order, batch_size, tracker, metrics, dist=None):
        """The engine's path: runs of batches per call; a batch at a time when a user callback has
        per-batch hooks (the progress bar only needs to hear about batches afterwards). The
        metrics are updated once per run, from the predictions the engine made. Data-parallel
        (dist): this process trains its part of each batch, the gradients are summed in the
        reduce phase, and each run's losses and predictions are summed across processes, so the
        logs are the whole batches'."""
        ours = (callbacks_module.History, callbacks_module.ProgbarLogger)
        user_hooks = cbl.wants("on_train_batch_begin", ours) or cbl.wants("on_train_batch_end", ours)
        if dist is not None:  # the same runs on every process (rank 0 alone runs callbacks that write files)
            user_hooks = bool(dist.agree(int(user_hooks), op="max"))
        notify = cbl.wants("on_train_batch_end")
        # about 4096 samples per call: few returns to Python, and a progress bar that still moves
        chunk = batch_size * (1 if user_hooks else max(1, min(64, 4096 // batch_size)))
        n, step = x.shape[0], 0
        for start in range(0, n, chunk):
            if user_hooks:
                cbl.on_train_batch_begin(step)
            rows = order[start:start + chunk]
            if dist is None:
                losses, pred = engine.train(x, y, sw, rows, batch_size)
            else:
                losses, pred = engine.train(x, y, sw, rows, batch_size, **dist.train_hooks(engine.parameters.grads))
                dist.allreduce(losses)
                dist.allreduce(pred)
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
