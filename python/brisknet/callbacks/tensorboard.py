"""TensorBoard: epoch scalars through tensorboardX (an optional extra), no TensorFlow."""
from __future__ import annotations

import os

from .callback import Callback


class TensorBoard(Callback):
    """Epoch scalars (loss, metrics, learning rate) as TensorBoard event files: log_dir/train for
    the training logs and log_dir/validation for the 'val_' ones, tags 'epoch_<name>' as Keras
    writes them. Needs tensorboardX (pip install 'brisknet[tensorboard]'), not TensorFlow."""
    writes_files = True  # data-parallel fit: rank 0 alone writes

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
