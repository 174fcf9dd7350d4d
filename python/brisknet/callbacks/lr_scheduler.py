"""LearningRateScheduler, with Keras' semantics."""
from __future__ import annotations

import numpy as np

from .callback import Callback


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
