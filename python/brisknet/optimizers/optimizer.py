"""Optimizer base: Keras' arguments (learning_rate, weight_decay, clipping), one update over the
model's flat parameter buffer per step. Each built-in optimizer describes itself to the engine
(engine_spec: its rule, hyper-parameters, clipping and state arrays); the Python path runs the very
same C++ step (_core.optimizer_step) as the engine, so both give bit-identical weights. A
subclass that writes its rule in numpy (_update) instead trains on the Python path."""
from __future__ import annotations

import numpy as np

from .. import _core
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

    _kind = None  # the engine's OptimizerKind of this rule; None: a numpy rule (_update)

    def engine_spec(self):
        """(OptimizerSpec, state arrays) of this optimizer as the engine runs it, or None for a rule
        written in numpy. The learning rate is set per step by the caller."""
        if self._kind is None:
            return None
        spec = _core.OptimizerSpec()
        spec.kind = self._kind
        spec.weight_decay = float(self.weight_decay or 0.0)
        spec.iterations = self.iterations
        for kind, threshold in ((_core.ClipKind.value, self.clipvalue), (_core.ClipKind.norm, self.clipnorm),
                                (_core.ClipKind.global_norm, self.global_clipnorm)):
            if threshold is not None:
                spec.clip, spec.clip_threshold = kind, float(threshold)
        self._describe(spec)
        return spec, [getattr(self, n, None) for n in self._state_names]

    def _describe(self, spec) -> None:
        """Sets this rule's hyper-parameters on an OptimizerSpec."""

    def finish_steps(self, spec) -> None:
        """Takes the step count (and any scalar state) back from a spec the C++ step advanced."""
        self.iterations = spec.iterations

    def apply(self, params: np.ndarray, grads: np.ndarray, trainable=None) -> None:
        """One step: clip the gradient if asked, decay the weights if asked, then update, over the
        trainable variables only: (offset, size) of each in the flat buffers (default: all one)."""
        if self._size != params.size:
            self.build(params.size)
        trainable = [(0, params.size)] if trainable is None else list(trainable)
        described = self.engine_spec()
        if described is None:
            return self._apply_numpy(params, grads, trainable)
        spec, state = described
        _core.optimizer_step(spec, state, self.learning_rate_at(self.iterations), params, grads, trainable)
        self.finish_steps(spec)

    def _apply_numpy(self, params, grads, trainable):
        """A subclass's numpy rule over the whole buffer; frozen weights are put back afterwards."""
        frozen = np.ones(params.size, bool)
        for a, n in trainable:
            frozen[a:a + n] = False
        saved = params[frozen].copy()
        self._clip(grads, trainable)
        lr = self.learning_rate
        if self.weight_decay:
            params -= params * np.float32(lr * self.weight_decay)
        self._update(params, grads, lr, self.iterations + 1)
        params[frozen] = saved
        self.iterations += 1

    def _clip(self, grads, trainable):
        if self.clipvalue is not None:
            for a, n in trainable:
                np.clip(grads[a:a + n], -self.clipvalue, self.clipvalue, out=grads[a:a + n])
        elif self.global_clipnorm is not None:
            norm = float(np.sqrt(sum(_sum_of_squares(grads[a:a + n]) for a, n in trainable)))
            if norm > self.global_clipnorm:
                grads *= np.float32(self.global_clipnorm / norm)
        elif self.clipnorm is not None:
            for a, n in trainable:
                g = grads[a:a + n]
                norm = float(np.sqrt(_sum_of_squares(g)))
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


def _sum_of_squares(g):
    return float(np.dot(g.astype(np.float64), g.astype(np.float64)))
