"""ModelCheckpoint, with Keras' semantics."""
from __future__ import annotations

import math
import os
import warnings

from .callback import Callback
from .monitor import _improves, _monitor_mode


class ModelCheckpoint(Callback):
    """Save the model (model.save: '.keras' or '.brisk') or its weights (save_weights:
    '.weights.h5', or any other name for brisknet's own format) after every epoch, or every
    `save_freq` batches; `filepath` may hold ``{epoch}`` (1-based), ``{batch}`` (1-based) and any
    log key, e.g. ``"ckpt/{epoch:02d}-{val_loss:.3f}.keras"``; missing folders are created. With
    save_best_only, only when `monitor` improves on the best so far (and on
    initial_value_threshold); when `monitor` is not in the logs it warns and saves, as Keras.
    Every save is atomic."""
    writes_files = True  # data-parallel fit: rank 0 alone writes

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
