"""LambdaCallback: a callback from plain functions."""
from __future__ import annotations

from .callback import Callback


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
