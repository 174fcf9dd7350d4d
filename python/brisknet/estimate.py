"""utils.estimate_fit: how long a fit will take here, from real training steps of a copy of the
model timed on this machine. A tool on models: it sits above brisknet.models."""
from __future__ import annotations

import copy
import math
import time

import numpy as np

from . import losses, runtime
from .costs import model_flops
from .models import model_from_json
from .models.trainers.common import _check_batch_size


def _synthetic_targets(model, n, rng):
    units = model._output_layer.output_shape[-1]
    loss = model.loss
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return rng.integers(0, units, n)
    if isinstance(loss, losses.CategoricalCrossentropy):
        return np.eye(units, dtype=np.float32)[rng.integers(0, units, n)]
    if isinstance(loss, losses.BinaryCrossentropy):
        return rng.integers(0, 2, (n, units)).astype(np.float32)
    return rng.standard_normal((n, units)).astype(np.float32)


def estimate_fit(model, x_shape, epochs=1, batch_size=32, seconds=1.0) -> dict:
    """Predicts the wall time of ``model.fit(x, y, epochs=epochs, batch_size=batch_size)`` for x of
    shape `x_shape` (samples first) by timing real training steps of a copy of the model (same
    architecture, weights, optimizer and loss; the model itself is untouched) on random data:
    three epochs of at most 16,384 samples, about `seconds` in all; their median counts. Returns
    seconds (total),
    seconds_per_epoch, samples_per_second, steps_timed and flops_per_second (training)."""
    saved_rng = runtime.global_rng().bit_generator.state  # the user's next fit shuffles as it would have
    try:
        return _estimate_fit(model, x_shape, epochs, batch_size, seconds)
    finally:
        runtime.global_rng().bit_generator.state = saved_rng


def _estimate_fit(model, x_shape, epochs, batch_size, seconds):
    batch_size = _check_batch_size(batch_size)
    model._require_compiled("estimate_fit")
    x_shape = tuple(int(d) for d in x_shape)
    if len(x_shape) < 2 or x_shape[0] < 1:
        raise ValueError(f"estimate_fit: x_shape must be (samples, features...), got {x_shape}")
    if not model.built:
        model.build((None,) + x_shape[1:])
    twin = model_from_json(model.to_json())
    twin.set_weights(model.get_weights())
    ids = copy.deepcopy(model._metric_ids)  # the user's metric objects keep their state
    twin.compile(optimizer=copy.deepcopy(model.optimizer), loss=copy.deepcopy(model.loss),
                 metrics=[m for m, w in ids if not w], weighted_metrics=[m for m, w in ids if w])
    rng = np.random.default_rng(0)
    n_total = x_shape[0]
    # Random data of the real size up to 16,384 samples, so that the gathers and the memory
    # traffic are those of the real epoch (a small sample repeated would sit in cache).
    cap = min(n_total, max(16 * batch_size, 16384))
    x = rng.standard_normal((cap,) + x_shape[1:]).astype(np.float32)
    y = _synthetic_targets(twin, cap, rng)
    warm = min(cap, 4 * batch_size)
    twin.fit(x[:warm], y[:warm], batch_size=batch_size, epochs=1, verbose=0)  # workspaces, caches, threads
    # Three timed epochs, so that a slow machine's estimate is not one cold run (that overestimated
    # a fit 1.5-2x). The first, of at least 16 batches (fit's own fixed cost stays small beside
    # it), sizes the other two to about `seconds` in all.
    probe = min(cap, max(16 * batch_size, 2048))
    times, steps = [], 0
    for _ in range(3):
        start = time.perf_counter()
        twin.fit(x[:probe], y[:probe], batch_size=batch_size, epochs=1, verbose=0)
        times.append((time.perf_counter() - start) / probe)
        steps += math.ceil(probe / batch_size)
        probe = int(min(cap, max(probe, seconds / 3 / times[0])))
    # The median, not the best: a fit meets the machine's typical speed, not its luckiest moment.
    typical = sorted(times)[1]
    per_epoch = typical * n_total
    flops = model_flops(twin)["training"]
    return {"seconds": per_epoch * epochs, "seconds_per_epoch": per_epoch, "samples_per_second": 1.0 / typical,
            "steps_timed": steps,
            "flops_per_second": flops / typical}
