"""A layer whose training draws random numbers (Dropout's masks, the noise layers' noise) from a
counter-based sequence: its base seed (the layer's seed, folded into 63 bits as any int may be
given, else drawn once from brisknet's generator) and the number of draws so far. Both are the
layer's state, saved with the model so that resumed training draws what it would have."""
from __future__ import annotations

from .. import runtime
from .layer import Layer


class SeededLayer(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"{type(self).__name__}: seed must be an int or None, got {seed!r}")
        self.seed = seed
        self._base_seed = None
        self._calls = 0

    def build_sample(self, sample_shape):
        super().build_sample(sample_shape)
        if self._base_seed is None:  # drawn once: a model's rebuild keeps it
            self._base_seed = self.seed % 2 ** 63 if self.seed is not None else runtime.draw_seed()

    def get_state(self):
        return {"base_seed": self._base_seed, "calls": self._calls}

    def set_state(self, state):
        # the seed and the count of draws are the engine's 64-bit counters
        if set(state) != {"base_seed", "calls"} or \
                not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** 63 for v in state.values()):
            raise ValueError(f"{type(self).__name__} {self.name!r}: invalid state {state!r}")
        self._base_seed, self._calls = state["base_seed"], state["calls"]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
