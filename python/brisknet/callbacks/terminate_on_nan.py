"""TerminateOnNaN, with Keras' raise_error."""
from __future__ import annotations

import math

from .callback import Callback


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
