"""CSVLogger, with Keras' header and columns."""
from __future__ import annotations

import csv
import os

from .callback import Callback


class CSVLogger(Callback):
    """One CSV row per epoch: 'epoch' then the log keys in sorted order, and (as Keras) 'val_'
    columns holding 'NA' when the first epoch had no validation; a header first, unless appending
    to a file that has one."""
    writes_files = True  # data-parallel fit: rank 0 alone writes

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
