"""BackupAndRestore: Keras' fault tolerance, on brisknet's .brisk files."""
from __future__ import annotations

import json
import os

from .. import brisk_format, runtime
from .callback import Callback


class BackupAndRestore(Callback):
    """Keras' fault tolerance: after every epoch (or every `save_freq` batches) the whole training
    state (weights, optimizer state, dropout streams) goes to `backup_dir` (a .brisk file written
    atomically, and the epoch it ends); a fit that starts with a backup there resumes from it, at the
    epoch after the saved one, bit-identically to a run that was never interrupted (same seed). A
    fit that completes deletes the backup (delete_checkpoint=True). In a data-parallel fit rank 0
    alone writes and reads the backup; the others take its state when fit starts."""

    writes_files = True

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
        if not os.path.exists(self._meta_path) or not os.path.exists(self._model_path):
            return
        with open(self._meta_path) as f:
            meta = json.load(f)
        if not isinstance(meta, dict) or not isinstance(meta.get("epoch"), int) or meta["epoch"] < -1:
            raise ValueError(f"BackupAndRestore: {self._meta_path} is not a backup's metadata")
        brisk_format.restore_into(self.model, self._model_path)
        if isinstance(meta.get("rng"), dict):
            runtime.global_rng().bit_generator.state = meta["rng"]  # the same shuffles as the first run
        self.model._initial_epoch = meta["epoch"] + 1

    def _backup(self, epoch):
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
