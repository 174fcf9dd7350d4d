"""keras.utils.PyDataset: a dataset that hands out batches by index, for data that does not fit
in memory or is made on the fly. Subclass it with __len__ (batches per epoch) and __getitem__(i)
-> (x, y) or (x, y, sample_weight) or x; fit, evaluate and predict take it in place of arrays.
brisknet reads its batches in order in the calling thread (workers/use_multiprocessing are
accepted and ignored)."""
from __future__ import annotations


class PyDataset:
    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, use_multiprocessing, max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")

    @property
    def num_batches(self):
        return len(self)

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass
