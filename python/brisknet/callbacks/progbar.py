"""ProgbarLogger: the progress bar (tqdm) of verbose=1 and the epoch lines of verbose=2."""
from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

from .callback import Callback


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
