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
