"""Activations against the numpy reference (float32 and float64), and numerically stable extremes."""
import math

import numpy as np
import pytest

from brisknet import activations, kernels

import reference as ref

NAMES = sorted(ref.ACTIVATIONS)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_reference(rng, name, dtype):
    x = (rng.standard_normal((37, 23)) * 3).astype(dtype)
    got = kernels.activation(x, name)
    want = ref.ACTIVATIONS[name](x.astype(np.float64))
    assert got.dtype == dtype and got.shape == x.shape
    tol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", NAMES)
def test_forward_in_place(rng, name):
    x = rng.standard_normal((8, 5)).astype(np.float32)
    want = kernels.activation(x, name)
    kernels.activation(x, name, out=x)
    np.testing.assert_array_equal(x, want)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "sigmoid", "softplus", "tanh", "swish",
                                  "elu", "selu", "gelu", "softsign", "hard_sigmoid"])
def test_no_overflow_at_extreme_logits(name):
    x = np.array([[1e4, -1e4, 0.0, 1e4], [-1e4, -1e4, -1e4, -1e4]], np.float32)
    y = kernels.activation(x, name)
    assert np.isfinite(y).all(), (name, y)
    np.testing.assert_allclose(y, ref.ACTIVATIONS[name](x.astype(np.float64)), rtol=1e-6, atol=1e-6)


def test_softmax_rows_sum_to_one(rng):
    y = kernels.softmax(rng.standard_normal((100, 10)).astype(np.float32) * 50)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)


def test_keras_function_names():
    x = np.linspace(-4, 4, 9, dtype=np.float32)
    np.testing.assert_allclose(activations.hard_sigmoid(x), np.clip(x / 6 + 0.5, 0, 1), atol=1e-7)
    np.testing.assert_allclose(activations.leaky_relu(x, negative_slope=0.3), np.where(x > 0, x, 0.3 * x), atol=1e-7)
    np.testing.assert_allclose(activations.gelu(x, approximate=True), ref.ACTIVATIONS["gelu_tanh"](x), atol=1e-6)
    assert activations.get("silu") == "swish" and activations.get(None) == "linear"
    with pytest.raises(ValueError, match="unknown activation"):
        activations.get("relu6_typo")


def test_float32_gelu_is_accurate_everywhere_including_its_tail():
    """float32 GELU runs brisknet's own normal CDF (fast_math.h, vectorised): within 4e-7 of the
    float64 definition in absolute terms, and within 2e-5 relatively where it is not denormal
    (1 + erf in float32 gives 0 below x = -5.5); its gradient likewise."""
    x = np.linspace(-20, 12, 400_001).astype(np.float32)
    x64 = x.astype(np.float64)
    cdf = np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)), otypes=[np.float64])(x64)  # (no cancellation)
    want = x64 * cdf
    got = kernels.activation(x, "gelu").astype(np.float64)
    assert np.abs(got - want).max() < 4e-7
    normal = np.abs(want) > 1e-36
    assert (np.abs(got - want)[normal] / np.abs(want[normal])).max() < 2e-5
    assert np.isnan(kernels.activation(np.array([np.nan], np.float32), "gelu")).all()
    dy = np.ones_like(x)
    grad = kernels.activation_grad(dy, x, kernels.activation(x, "gelu"), "gelu").astype(np.float64)
    grad_want = cdf + x64 * np.exp(-0.5 * x64 ** 2) / np.sqrt(2 * np.pi)
    assert np.abs(grad - grad_want).max() < 1e-6
