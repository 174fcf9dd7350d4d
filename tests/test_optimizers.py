"""Optimizer kernels against numpy transcriptions of Keras' update rules: one step and a 20-step
trajectory, every variant; optimizer classes use Keras' defaults."""
import numpy as np
import pytest

from brisknet import kernels, optimizers

import reference as ref

STEPS = 20


def trajectory(rng, n=257):
    p0 = rng.standard_normal(n)
    grads = [rng.standard_normal(n) * 0.1 for _ in range(STEPS)]
    return p0, grads


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd(rng, momentum, nesterov):
    p0, grads = trajectory(rng)
    p, v = p0.copy(), np.zeros_like(p0)
    want, wv = p0.copy(), np.zeros_like(p0)
    for g in grads:
        kernels.sgd_step(p, g, v, 0.05, momentum, nesterov)
        want, wv = ref.sgd(want, g, wv, 0.05, momentum, nesterov)
    np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.004])
def test_adam_and_adamw(rng, amsgrad, weight_decay):
    p0, grads = trajectory(rng)
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    vhat = np.zeros_like(p0) if amsgrad else None
    want, wm, wv = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    wvhat = np.zeros_like(p0) if amsgrad else None
    for t, g in enumerate(grads, start=1):
        kernels.adam_step(p, g, m, v, t, 0.01, vhat=vhat, weight_decay=weight_decay)
        want, wm, wv, wvhat = ref.adam(want, g, wm, wv, t, 0.01, vhat=wvhat, weight_decay=weight_decay)
    np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m, wm, rtol=1e-12, atol=1e-14)


def test_adam_one_step_closed_form():
    """After one step from m = v = 0, Keras' Adam moves every weight by lr * g / (|g| + eps')."""
    p = np.array([1.0, -2.0, 3.0], np.float32)
    g = np.array([0.5, -0.25, 2.0], np.float32)
    m, v = np.zeros(3, np.float32), np.zeros(3, np.float32)
    kernels.adam_step(p, g, m, v, 1, learning_rate=0.1)
    eps_hat = 1e-7 * np.sqrt(1 - 0.999)  # epsilon seen through the bias correction
    np.testing.assert_allclose(p, [1.0, -2.0, 3.0] - 0.1 * g / (np.abs(g) + eps_hat), rtol=1e-6)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_rmsprop(rng, centered, momentum):
    p0, grads = trajectory(rng)
    p, vel = p0.copy(), np.zeros_like(p0)
    avg = np.zeros_like(p0) if centered else None
    mom = np.zeros_like(p0) if momentum else None
    want, wvel = p0.copy(), np.zeros_like(p0)
    wavg = np.zeros_like(p0) if centered else None
    wmom = np.zeros_like(p0) if momentum else None
    for g in grads:
        kernels.rmsprop_step(p, g, vel, 0.01, 0.9, momentum, 1e-7, avg, mom)
        want, wvel, wavg, wmom = ref.rmsprop(want, g, wvel, 0.01, 0.9, momentum, 1e-7, wavg, wmom)
    np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-14)


def test_adagrad(rng):
    p0, grads = trajectory(rng)
    p, acc = p0.copy(), np.full_like(p0, 0.1)
    want, wacc = p0.copy(), np.full_like(p0, 0.1)
    for g in grads:
        kernels.adagrad_step(p, g, acc, 0.01)
        want, wacc = ref.adagrad(want, g, wacc, 0.01)
    np.testing.assert_allclose(p, want, rtol=1e-12, atol=1e-14)


def test_float32_kernels_match_float64_reference(rng):
    p0, grads = trajectory(rng)
    p = p0.astype(np.float32)
    m, v = np.zeros_like(p), np.zeros_like(p)
    want, wm, wv = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        kernels.adam_step(p, g.astype(np.float32), m, v, t)
        want, wm, wv, _ = ref.adam(want, g, wm, wv, t)
    np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-6)


def test_keras_defaults():
    adam = optimizers.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)
    assert optimizers.SGD().learning_rate == 0.01
    assert optimizers.AdamW().weight_decay == 0.004
    rms = optimizers.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.001, 0.9, 0.0, 1e-7, False)
    ada = optimizers.Adagrad()
    assert (ada.learning_rate, ada.initial_accumulator_value, ada.epsilon) == (0.001, 0.1, 1e-7)
    assert isinstance(optimizers.get("adam"), optimizers.Adam)
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.get("adamm")


def test_optimizer_class_matches_reference_over_steps(rng):
    """The class path used by fit (flat buffer, iterations, bias correction on the host)."""
    p0, grads = trajectory(rng)
    opt = optimizers.Adam(learning_rate=0.01)
    p = p0.astype(np.float32)
    want, wm, wv = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    for t, g in enumerate(grads, start=1):
        opt.apply(p, g.astype(np.float32))
        want, wm, wv, _ = ref.adam(want, g, wm, wv, t, 0.01)
    assert opt.iterations == STEPS
    np.testing.assert_allclose(p, want, rtol=1e-5, atol=1e-6)


def test_clipping(rng):
    g = np.array([3.0, 4.0], np.float32)
    opt = optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0)
    p = np.zeros(2, np.float32)
    opt.apply(p, g.copy())
    np.testing.assert_allclose(p, [-0.6, -0.8], rtol=1e-6)
    opt = optimizers.SGD(learning_rate=1.0, clipvalue=0.5)
    p = np.zeros(2, np.float32)
    opt.apply(p, g.copy())
    np.testing.assert_allclose(p, [-0.5, -0.5])
