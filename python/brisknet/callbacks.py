"""Keras-style callbacks: the base class with every hook, the History every fit returns, and the
progress bar (tqdm) that verbose=1 shows."""
from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]


class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass


class CallbackList(Callback):
    """Calls every callback's hook in order; `wants_batch_hooks` tells the loop whether any
    callback overrides a per-batch hook (so a fit without them skips building batch logs)."""

    def __init__(self, callbacks, model, params):
        super().__init__()
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def wants(self, hook, ignoring=()) -> bool:
        """Whether a callback (other than those of the `ignoring` types) overrides `hook`."""
        return any(getattr(type(cb), hook) is not getattr(Callback, hook)
                   for cb in self.callbacks if not isinstance(cb, tuple(ignoring)))

    def __getattribute__(self, name):
        if name.startswith("on_"):
            cbs = object.__getattribute__(self, "callbacks")

            def call(*args, **kwargs):
                for cb in cbs:
                    getattr(cb, name)(*args, **kwargs)
            return call
        return object.__getattribute__(self, name)


class History(Callback):
    """Records the epoch logs: ``history.history['loss']`` etc., and ``history.epoch``."""

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


def format_logs(logs) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """verbose=1: a live bar per epoch with running loss/metrics and samples/s;
    verbose=2: one line per epoch."""

    def __init__(self, verbose=1, file=None):
        super().__init__()
        self.verbose = verbose
        self.file = file or sys.stdout
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = time.perf_counter()
        self._seen = 0
        if self.verbose == 1:
            self._bar = tqdm(total=self.params.get("steps"), desc=f"Epoch {epoch + 1}/{self.params.get('epochs')}",
                             unit="step", file=self.file, dynamic_ncols=True, leave=True, mininterval=0.2)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self._seen += logs.get("size", 0)
        if self._bar is not None:
            self._bar.update(1)
            if batch % 25 == 0:
                rate = self._seen / max(1e-9, time.perf_counter() - self._start)
                shown = {k: v for k, v in logs.items() if k not in ("size", "batch")}
                self._bar.set_postfix_str(f"{format_logs(shown)} - {rate:,.0f} samples/s", refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        rate = self._seen / max(1e-9, elapsed)
        text = f"{format_logs(logs or {})} - {rate:,.0f} samples/s"
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
