"""Optimizer base: Keras' arguments (learning_rate, weight_decay, clipping), one update over the
model's flat parameter buffer per step (a single multi-tensor kernel call for the whole model)."""
from __future__ import annotations

import numpy as np

from . import schedules


class LearningRate(float):
    """The learning rate an optimizer reports: a float that, like Keras' variable, also has
    .assign(value) (setting the optimizer's rate) and .numpy()."""

    def __new__(cls, value, optimizer):
        self = super().__new__(cls, value)
        self._optimizer = optimizer
        return self

    def assign(self, value):
        self._optimizer.learning_rate = value

    def numpy(self):
        return float(self)


class Optimizer:
    name = "optimizer"

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        unknown = set(kwargs) - {"use_ema", "ema_momentum", "ema_overwrite_frequency",
                                 "loss_scale_factor", "gradient_accumulation_steps"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(unknown)}")
        if sum(x is not None for x in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        self._schedule = None
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        if name is not None:
            self.name = name
        self.iterations = 0
        self._size = None

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule's value at `iterations`)."""
        return LearningRate(self.learning_rate_at(self.iterations), self)

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, dict):  # a serialized schedule, from a model file
            from ..serialization import classes_of, deserialize
            value = deserialize(value, classes_of(vars(schedules), schedules.LearningRateSchedule), "schedule")
        if isinstance(value, schedules.LearningRateSchedule):
            self._schedule = value
            return
        if getattr(self, "_schedule", None) is not None:
            raise TypeError("this optimizer was created with a learning-rate schedule: its learning "
                            "rate cannot be set to a number")
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"learning_rate must be a finite number >= 0, got {value}")
        self._learning_rate = value

    @property
    def schedule(self):
        """The LearningRateSchedule given as learning_rate, or None."""
        return getattr(self, "_schedule", None)

    def learning_rate_at(self, step: int) -> float:
        if self.schedule is None:
            return self._learning_rate
        lr = float(self.schedule(step))
        if not np.isfinite(lr) or lr < 0:
            raise ValueError(f"the learning-rate schedule gave {lr} at step {step} (must be finite and >= 0)")
        return lr

    def build(self, size: int) -> None:
        """Allocate state for a flat parameter buffer of `size` floats (once per model)."""
        if self._size == size:
            return
        self._size = size
        self.iterations = 0
        self._build_state(size)

    def _build_state(self, size: int) -> None:
        pass

    def _state(self, size):
        return np.zeros(size, np.float32)

    _state_names = ()  # attributes holding per-parameter state (saved with the model)

    def state_arrays(self) -> dict:
        """name -> the per-parameter state arrays this optimizer holds (those in use)."""
        return {n: getattr(self, n) for n in self._state_names if getattr(self, n, None) is not None}

    def load_state_arrays(self, arrays: dict, source="state") -> None:
        """Restores state_arrays() from saved copies: the same names and sizes, else ValueError."""
        mine = self.state_arrays()
        if set(arrays) != set(mine):
            raise ValueError(f"{source}: optimizer state {sorted(arrays)} does not match "
                             f"{type(self).__name__}'s {sorted(mine)}")
        for name, arr in arrays.items():
            if arr.shape != mine[name].shape:
                raise ValueError(f"{source}: optimizer state {name!r} has shape {arr.shape}, "
                                 f"expected {mine[name].shape}")
            mine[name][...] = arr

    def apply(self, params: np.ndarray, grads: np.ndarray, slices=()) -> None:
        """One step: clip the gradient if asked, decay the weights if asked, then update.

        slices: (start, stop) of each variable in the flat buffers (for per-variable clipnorm).
        """
        if self._size != params.size:
            self.build(params.size)
        self._clip(grads, slices)
        lr = self.learning_rate
        if self.weight_decay and not self._decays_in_kernel:
            params -= params * np.float32(lr * self.weight_decay)
        self._update(params, grads, lr, self.iterations + 1)
        self.iterations += 1

    _decays_in_kernel = False

    def _clip(self, grads, slices):
        if self.clipvalue is not None:
            np.clip(grads, -self.clipvalue, self.clipvalue, out=grads)
        elif self.global_clipnorm is not None:
            norm = float(np.sqrt(np.dot(grads.astype(np.float64), grads)))
            if norm > self.global_clipnorm:
                grads *= np.float32(self.global_clipnorm / norm)
        elif self.clipnorm is not None:
            for a, b in slices:
                g = grads[a:b]
                norm = float(np.sqrt(np.dot(g.astype(np.float64), g)))
                if norm > self.clipnorm:
                    g *= np.float32(self.clipnorm / norm)

    def _update(self, params, grads, lr, step):
        raise NotImplementedError

    def get_config(self):
        from ..serialization import serialize
        lr = serialize(self.schedule) if self.schedule is not None else self._learning_rate
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
