"""The Trainer: compile / fit / evaluate / predict with Keras semantics, assembled from its parts
(one concept per module, as Keras keeps its trainers/ package)."""
from __future__ import annotations

import threading

from .compiling import Compiling
from .evaluating import Evaluating
from .fitting import Fitting
from .inputs import Inputs
from .python_step import PythonStep


class Trainer(Compiling, Inputs, PythonStep, Fitting, Evaluating):
    def __init__(self):
        self._lock = threading.RLock()
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._metric_ids = []
        self._metrics = None
        self._fused = False
        self._gather = {}
        self.run_eagerly = False  # True: the Python per-layer reference path trains (as Keras' eager mode)
