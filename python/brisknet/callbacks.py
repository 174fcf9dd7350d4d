"""Keras-style callbacks: the base class with every hook, the History every fit returns, the
progress bar (tqdm) that verbose=1 shows, and Keras' stock callbacks with its semantics:
EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler, CSVLogger,
TerminateOnNaN, LambdaCallback and TensorBoard (scalars through tensorboardX, an optional extra).

A fit whose callbacks override no per-batch hook runs whole epochs in C++; one that does is called
back after every batch."""
from __future__ import annotations

import csv
import math
import os
import sys
import time
import warnings

import numpy as np
from tqdm.auto import tqdm

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping", "ModelCheckpoint",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "LambdaCallback",
           "TensorBoard", "BackupAndRestore"]


class Callback:
    """Keras' callback: every hook gets a logs dict (empty where there is nothing to report);
    `self.model` and `self.params` ({'verbose', 'epochs', 'steps'}) are set before training."""

    def __init__(self):
        self.model = None
        self.params = None

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass

    # The training batch hooks call the legacy names by default, as in Keras.
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


# the legacy hook each training batch hook calls by default
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


class CallbackList(Callback):
    """Calls every callback's hook in order, as Keras does: a logs dict (never None) positionally
    to the epoch and begin/end hooks, by keyword to the batch hooks. `wants(hook)` tells the loop
    whether any callback overrides a hook (so a fit without batch hooks skips building batch logs)."""

    def __init__(self, callbacks, model, params):
        super().__init__()
        self.callbacks = list(callbacks)
        self.params = params
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def wants(self, hook, ignoring=()) -> bool:
        """Whether a callback (other than those of the `ignoring` types) overrides `hook` (or the
        legacy name it calls), in its class or (LambdaCallback) on the instance."""
        def overrides(cb, name):
            fn = getattr(cb, name)
            return getattr(fn, "__func__", fn) is not getattr(Callback, name)
        names = [hook] + ([_ALIASES[hook]] if hook in _ALIASES else [])
        return any(overrides(cb, name) for cb in self.callbacks if not isinstance(cb, tuple(ignoring))
                   for name in names)

    def __getattribute__(self, name):
        if name.startswith("on_"):
            cbs = object.__getattribute__(self, "callbacks")
            if "batch" in name:
                def call(batch, logs=None):
                    logs = {} if logs is None else logs
                    for cb in cbs:
                        getattr(cb, name)(batch, logs=logs)
            elif "epoch" in name:
                def call(epoch, logs=None):
                    logs = {} if logs is None else logs
                    for cb in cbs:
                        getattr(cb, name)(epoch, logs)
            else:
                def call(logs=None):
                    logs = {} if logs is None else logs
                    for cb in cbs:
                        getattr(cb, name)(logs)
            return call
        return object.__getattribute__(self, name)


class History(Callback):
    """Records the epoch logs: ``history.history['loss']`` etc., and ``history.epoch``;
    ``plot()`` draws them (matplotlib, an optional extra)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self

    def plot(self, metrics=None, ax=None):
        """Loss and metric curves per epoch, each with its 'val_' twin on the same axes; one axes
        per quantity unless `ax` is given. Returns the matplotlib Figure."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'brisknet[plot]'") from None
        names = metrics or [k for k in self.history if not k.startswith("val_") and k != "learning_rate"]
        if ax is None:
            fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
            axes = list(axes[0])
        else:
            fig, axes = ax.figure, [ax] * len(names)
        epochs = [e + 1 for e in self.epoch]
        for a, name in zip(axes, names):
            for key, style in ((name, "-"), ("val_" + name, "--")):
                if key in self.history:
                    a.plot(epochs[-len(self.history[key]):], self.history[key], style, label=key)
            a.set_xlabel("epoch")
            a.set_title(name)
            a.legend()
        fig.tight_layout()
        return fig


def format_logs(logs) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """verbose=1: a live bar per epoch with running loss/metrics and samples/s (steps/s when the
    data is a dataset of unknown size); verbose=2: one line per epoch."""

    def __init__(self, verbose=1, file=None, samples=None, batch_size=None):
        super().__init__()
        self.verbose = verbose
        self.file = file or sys.stdout
        self.samples, self.batch_size = samples, batch_size
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = time.perf_counter()
        self._seen = 0
        if self.verbose == 1:
            self._bar = tqdm(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{self.params.get('epochs')}",
                             unit="step", file=self.file, dynamic_ncols=True, leave=True, mininterval=0.2)

    def _unit(self):
        return "steps/s" if self.samples is None else "samples/s"

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        if self.samples is None:
            self._seen = batch + 1
        else:
            self._seen = min((batch + 1) * (self.batch_size or 0), self.samples)
        if self._bar is not None:
            self._bar.update(1)
            if batch % 25 == 0:
                rate = self._seen / max(1e-9, time.perf_counter() - self._start)
                self._bar.set_postfix_str(f"{format_logs(logs)} - {rate:,.0f} {self._unit()}", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        self._seen = self.samples or self._seen
        rate = self._seen / max(1e-9, elapsed)
        text = f"{format_logs(logs or {})} - {rate:,.0f} {self._unit()}"
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            print(f"Epoch {epoch + 1}/{self.params.get('epochs')} - {elapsed:.1f}s - {text}",
                  file=self.file, flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


# ------------------------------------------------------------------------------ Keras' callbacks
def _monitor_mode(monitor, mode, who):
    """'min' or 'max' for a monitored quantity; 'auto' picks 'max' for accuracy-like metrics."""
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{who}: mode {mode!r} is unknown, using 'auto'")
        mode = "auto"
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name.endswith("loss") or name.endswith("error"):
        return "min"
    if any(k in name for k in ("acc", "auc", "precision", "recall", "f1")):
        return "max"
    return "min"


def _improves(mode, value, reference, min_delta=0.0):
    """Whether `value` beats `reference` by more than min_delta in the direction of `mode`."""
    return value - abs(min_delta) > reference if mode == "max" else value + abs(min_delta) < reference


def _monitored(logs, monitor, who):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who}: {monitor!r} is not among the logs ({sorted(logs or {})}); skipping",
                      stacklevel=3)
    return value


class EarlyStopping(Callback):
    """Stop training when `monitor` has not improved by more than `min_delta` for `patience`
    epochs (Keras semantics: the counting starts at `start_from_epoch`; with a `baseline`, the
    wait only restarts once the baseline is beaten; `restore_best_weights` puts the best epoch's
    weights back when it stops)."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.baseline, self.restore_best_weights = baseline, bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.mode = _monitor_mode(monitor, mode, "EarlyStopping")
        self.min_delta = min_delta

    def _is_improvement(self, value, reference):
        return reference is None or _improves(self.mode, value, reference, self.min_delta)

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_weights, self.best_epoch = 0, 0, None, None, 0

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if current is None:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # if nothing ever improves, these come back
        if epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose:
                    print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(Callback):
    """Save the model (model.save: '.keras' or '.brisk') or its weights (save_weights:
    '.weights.h5', or any other name for brisknet's own format) after every epoch, or every
    `save_freq` batches; `filepath` may hold ``{epoch}`` (1-based), ``{batch}`` (1-based) and any
    log key, e.g. ``"ckpt/{epoch:02d}-{val_loss:.3f}.keras"``; missing folders are created. With
    save_best_only, only when `monitor` improves on the best so far (and on
    initial_value_threshold); when `monitor` is not in the logs it warns and saves, as Keras.
    Every save is atomic."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = bool(save_best_only), bool(save_weights_only)
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        if not self.save_weights_only and not self.filepath.endswith((".keras", ".brisk")):
            raise ValueError("ModelCheckpoint: the filepath must end in '.keras' or '.brisk' (or pass "
                             f"save_weights_only=True), got {self.filepath!r}")
        self.save_freq = save_freq
        if save_freq == "epoch":  # no per-batch hook: a checkpoint per epoch leaves the epoch loop in C++
            self.on_train_batch_end = Callback.on_train_batch_end.__get__(self)
        self.mode = _monitor_mode(monitor, mode, "ModelCheckpoint")
        worst = -math.inf if self.mode == "max" else math.inf
        self.best = worst if initial_value_threshold is None else float(initial_value_threshold)
        self._batches = 0

    def _save(self, epoch, logs, batch=None):
        logs = dict(logs or {})
        current = logs.get(self.monitor)
        if self.save_best_only and current is None:
            warnings.warn(f"ModelCheckpoint: can save the best model only with {self.monitor!r} available "
                          f"(logs: {sorted(logs)}); saving", stacklevel=3)
        elif self.save_best_only:
            if not _improves(self.mode, current, self.best):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}")
            self.best = current
        fields = {k: v for k, v in logs.items() if k not in ("epoch", "batch")}
        try:
            path = self.filepath.format(epoch=epoch + 1, batch=None if batch is None else batch + 1, **fields)
        except (KeyError, IndexError, ValueError) as e:
            raise KeyError(f"ModelCheckpoint: cannot format the filepath {self.filepath!r} with the logs "
                           f"{sorted(fields)}: {e!r}") from None
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if os.path.isdir(path):
            raise IsADirectoryError(f"ModelCheckpoint: the filepath {path!r} is an existing directory")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved to {path}")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(self._epoch, logs, batch)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` has not improved by `min_delta` for
    `patience` epochs, then wait `cooldown` epochs; never below `min_lr`. Adds 'learning_rate'
    to the epoch logs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got {factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, float(factor), int(patience), verbose
        self.min_delta, self.cooldown, self.min_lr = float(min_delta), int(cooldown), float(min_lr)
        self.mode = _monitor_mode(monitor, mode, "ReduceLROnPlateau")

    def on_train_begin(self, logs=None):
        self.best = -math.inf if self.mode == "max" else math.inf
        self.wait, self.cooldown_counter = 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if _improves(self.mode, current, self.best, self.min_delta):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    optimizer.learning_rate = new
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """At the start of each epoch, set the learning rate to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``); adds 'learning_rate' to the epoch logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = float(optimizer.learning_rate)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # a one-argument schedule
            lr = self.schedule(epoch)
        if not isinstance(lr, (int, float, np.floating, np.integer)) or isinstance(lr, bool):
            raise ValueError(f"LearningRateScheduler: the schedule must return a float, got {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    """One CSV row per epoch: 'epoch' then the log keys in sorted order, and (as Keras) 'val_'
    columns holding 'NA' when the first epoch had no validation; a header first, unless appending
    to a file that has one."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self._file = self._writer = None

    def on_train_begin(self, logs=None):
        has_header = False
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                has_header = bool(f.readline())
        if self._file is not None:
            self._file.close()
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer, self._keys, self._header_written = None, None, has_header

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = sorted(logs)
            if self._keys and not any(k.startswith("val_") for k in self._keys):
                self._keys += [f"val_{k}" for k in self._keys]  # as Keras: columns for a later validation
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self._keys, delimiter=self.sep)
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self._keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite: gracefully (the other callbacks'
    on_train_end still runs), or with raise_error=True by raising RuntimeError at once."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                                   "Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions, called as the hooks are: ``on_epoch_end=lambda epoch,
    logs: ...``, ``on_train_begin=lambda logs: ...``, ``on_train_batch_end=lambda batch, logs: ...``;
    every hook name is accepted (a misspelt one raises ValueError)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None,
                 on_train_batch_begin=None, on_train_batch_end=None, **hooks):
        super().__init__()
        hooks.update(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            if fn is not None:
                setattr(self, name, fn)


class TensorBoard(Callback):
    """Epoch scalars (loss, metrics, learning rate) as TensorBoard event files: log_dir/train for
    the training logs and log_dir/validation for the 'val_' ones, tags 'epoch_<name>' as Keras
    writes them. Needs tensorboardX (pip install 'brisknet[tensorboard]'), not TensorFlow."""

    def __init__(self, log_dir="logs", update_freq="epoch", **kwargs):
        super().__init__()
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError("TensorBoard needs tensorboardX: pip install 'brisknet[tensorboard]'") from None
        self._writer_class = SummaryWriter
        self.log_dir, self.update_freq = os.fspath(log_dir), update_freq
        self._writers = {}

    def _writer(self, which):
        if which not in self._writers:
            self._writers[which] = self._writer_class(os.path.join(self.log_dir, which))
        return self._writers[which]

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if "learning_rate" not in logs and self.model is not None and self.model.optimizer is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        for key, value in logs.items():
            which, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writer(which).add_scalar(f"epoch_{name}", float(value), epoch)
        for w in self._writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self._writers.values():
            w.close()
        self._writers = {}


class BackupAndRestore(Callback):
    """Keras' fault tolerance: after every epoch (or every `save_freq` batches) the whole training
    state (weights, optimizer state, dropout streams) goes to `backup_dir` (a .brisk file written
    atomically, and the epoch it ends); a fit that starts with a backup there resumes from it, at the
    epoch after the saved one, bit-identically to a run that was never interrupted (same seed). A
    fit that completes deletes the backup (delete_checkpoint=True)."""

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False, delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is required")
        if save_freq != "epoch" and not (isinstance(save_freq, int) and not isinstance(save_freq, bool)
                                         and save_freq > 0):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        if double_checkpoint:
            raise NotImplementedError("BackupAndRestore: double_checkpoint is not supported (saves are atomic)")
        self.backup_dir, self.save_freq, self.delete_checkpoint = os.fspath(backup_dir), save_freq, delete_checkpoint
        self._model_path = os.path.join(self.backup_dir, "latest.brisk")
        self._meta_path = os.path.join(self.backup_dir, "training_metadata.json")
        if save_freq == "epoch":  # no per-batch hook: the epoch loop stays in C++
            self.on_train_batch_end = Callback.on_train_batch_end.__get__(self)
        self._batches, self._epoch = 0, 0

    def on_train_begin(self, logs=None):
        import json
        from . import brisk_format
        if not os.path.exists(self._meta_path) or not os.path.exists(self._model_path):
            return
        with open(self._meta_path) as f:
            meta = json.load(f)
        if not isinstance(meta, dict) or not isinstance(meta.get("epoch"), int) or meta["epoch"] < -1:
            raise ValueError(f"BackupAndRestore: {self._meta_path} is not a backup's metadata")
        brisk_format.restore_into(self.model, self._model_path)
        from . import runtime
        if isinstance(meta.get("rng"), dict):
            runtime.global_rng().bit_generator.state = meta["rng"]  # the same shuffles as the first run
        self.model._initial_epoch = meta["epoch"] + 1

    def _backup(self, epoch):
        import json
        from . import brisk_format, runtime
        os.makedirs(self.backup_dir, exist_ok=True)
        brisk_format.save_model(self.model, self._model_path)
        meta = {"epoch": epoch, "rng": runtime.global_rng().bit_generator.state}
        brisk_format.atomic_write(self._meta_path, json.dumps(meta).encode())

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._backup(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._backup(self._epoch - 1)  # mid-epoch: the epoch restarts on resume, as Keras' epoch backups

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:  # reached only when fit ends normally (an exception skips on_train_end)
            for path in (self._model_path, self._meta_path):
                if os.path.exists(path):
                    os.remove(path)
