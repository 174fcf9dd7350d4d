"""keras.random: normal, uniform, truncated_normal, randint, dropout and SeedGenerator, as Keras
3 names them. A seed is a SeedGenerator (a stream that advances at each draw), an int (the same
numbers at every call) or None (brisknet's global generator, seeded by set_random_seed). Inside a
traced call() a draw is a node of the graph, drawn anew each time the graph runs."""
from __future__ import annotations

import numpy as np

from . import autodiff, runtime


class SeedGenerator:
    """keras.random.SeedGenerator(seed=None): a stream of random numbers (seed None: one drawn
    from brisknet's global generator)."""

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"SeedGenerator: seed must be an int or None, got {seed!r}")
        self.seed = runtime.draw_seed() if seed is None else int(seed)
        self.name = name or "seed_generator"
        self.generator = np.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


def _generator(seed) -> np.random.Generator:
    if seed is None:
        return runtime.global_rng()
    if isinstance(seed, SeedGenerator):
        return seed.generator
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int, a keras.random.SeedGenerator or None, got {type(seed).__name__}")


def _draw(shape, dtype, seed, sample):
    """sample(generator, shape) as `dtype`: now, or as a node of the trace being recorded."""
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    dtype = np.dtype("float32" if dtype is None else dtype)
    generator = _generator(seed)

    def draw():
        return np.asarray(sample(generator, shape), dtype)
    trace = autodiff.current()
    if trace is None:
        return draw()
    from .autodiff.rules import PRIMITIVES
    return trace.add_node(PRIMITIVES["random"], [], {"draw": draw}, [np.zeros(shape, dtype)])[0]


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return _draw(shape, dtype, seed, lambda g, s: g.normal(mean, stddev, s))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    return _draw(shape, dtype, seed, lambda g, s: g.uniform(minval, maxval, s))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws within two standard deviations (redrawn beyond them)."""
    def sample(g, s):
        z = g.normal(size=s)
        while (bad := np.abs(z) > 2).any():
            z[bad] = g.normal(size=int(bad.sum()))
        return mean + stddev * z
    return _draw(shape, dtype, seed, sample)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    return _draw(shape, dtype, seed, lambda g, s: g.integers(minval, maxval, s))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """inputs with each value zeroed with probability `rate`, the rest scaled by 1 / (1 - rate)."""
    from . import ops
    shape = ops.shape(inputs) if noise_shape is None else noise_shape
    keep = _draw(shape, ops.dtype(inputs), seed,
                 lambda g, s: (g.uniform(size=s) >= rate) / (1.0 - rate))
    return ops.multiply(inputs, keep)


def shuffle(x, axis=0, seed=None):
    from . import ops
    order = _draw((ops.shape(x)[axis],), "int32", seed, lambda g, s: g.permutation(s[0]))
    return ops.take(x, order, axis=axis)
