import numpy as np
import pytest

import brisknet
from brisknet import kernels


def test_mask_is_seeded_and_thread_independent(rng):
    x = rng.standard_normal(200_000).astype(np.float32)
    masks = []
    for threads in (1, 2, 7):
        brisknet.set_num_threads(threads)
        masks.append(kernels.dropout(x, 0.3, seed=42)[1])
    for m in masks[1:]:
        np.testing.assert_array_equal(m, masks[0])
    assert not np.array_equal(kernels.dropout(x, 0.3, seed=43)[1], masks[0])


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_rate_scaling_and_gradient(rng, rate):
    x = rng.standard_normal(100_000).astype(np.float32)
    y, mask = kernels.dropout(x, rate, seed=1)
    assert abs((1 - mask.mean()) - rate) < 0.01
    np.testing.assert_allclose(y, np.where(mask, x / (1 - rate), 0), rtol=1e-6)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(kernels.dropout_grad(dy, mask, rate), np.where(mask, dy / (1 - rate), 0), rtol=1e-6)


def test_bad_rate():
    with pytest.raises(ValueError, match="rate"):
        kernels.dropout(np.ones(3, np.float32), 1.0, seed=0)


def test_seeds_and_saved_states_outside_the_engines_range_are_handled():
    """A model file's dropout state beyond 63 bits is a ValueError (the fuzzer found a TypeError
    from the engine's binding); a seed of any int is folded into range, as Keras takes any int."""
    import brisknet as keras
    layer = keras.layers.Dropout(0.5)
    for bad in ({"base_seed": 2 ** 70, "calls": 0}, {"base_seed": 1, "calls": -1}, {"base_seed": True, "calls": 0}):
        with pytest.raises(ValueError, match="invalid state"):
            layer.set_state(bad)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dropout(0.5, seed=-(2 ** 80)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        keras.layers.Dropout(0.5, seed=1.5)
