"""Every gradient against central finite differences in float64, with a normalised error."""
import numpy as np
import pytest

from brisknet import kernels

import reference as ref

H = 1e-6


def numeric_grad(f, x):
    """d(sum f(x))/dx by central differences."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + H
        up = f(x).sum()
        flat[i] = old - H
        down = f(x).sum()
        flat[i] = old
        gflat[i] = (up - down) / (2 * H)
    return g


def assert_grad_close(analytic, numeric, tol=1e-6):
    err = np.abs(analytic - numeric).max() / max(1.0, np.abs(numeric).max())
    assert err < tol, f"normalised gradient error {err:.2e}"


@pytest.mark.parametrize("name", sorted(ref.ACTIVATIONS))
def test_activation_gradients(rng, name):
    x = rng.standard_normal((4, 6)) * 2
    x[np.abs(x) < 1e-3] = 0.5            # keep clear of kinks (relu at 0)
    x[np.abs(np.abs(x) - 3) < 1e-3] = 1  # and hard_sigmoid's corners
    r = rng.standard_normal(x.shape)     # a random projection makes every output matter
    y = kernels.activation(x, name)
    analytic = kernels.activation_grad(r, x, y, name)
    numeric = numeric_grad(lambda v: kernels.activation(v, name) * r, x)
    assert_grad_close(analytic, numeric)


def _grad_of(loss_fn, pred, **kw):
    _, g = loss_fn(pred=pred, return_grad=True, **kw)
    return g


@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_crossentropy_gradient(rng, from_logits):
    labels = rng.integers(0, 5, 6)
    w = rng.uniform(0.5, 2, 6)
    pred = rng.standard_normal((6, 5)) if from_logits else rng.uniform(0.05, 1, (6, 5))
    f = lambda p: kernels.sparse_categorical_crossentropy(labels, p, from_logits, sample_weight=w)
    _, g = kernels.sparse_categorical_crossentropy(labels, pred, from_logits, w, return_grad=True)
    assert_grad_close(g, numeric_grad(f, pred))


@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_gradient(rng, from_logits):
    target = rng.dirichlet(np.ones(4), 5)
    pred = rng.standard_normal((5, 4)) if from_logits else rng.uniform(0.05, 1, (5, 4))
    f = lambda p: kernels.categorical_crossentropy(target, p, from_logits)
    _, g = kernels.categorical_crossentropy(target, pred, from_logits, return_grad=True, grad_scale=0.5)
    assert_grad_close(g, 0.5 * numeric_grad(f, pred))


@pytest.mark.parametrize("loss", ["bce", "bce_logits", "mse", "mae", "huber"])
def test_elementwise_loss_gradients(rng, loss):
    target = rng.uniform(0, 1, (5, 3))
    if loss == "bce":
        pred = rng.uniform(0.05, 0.95, (5, 3))
        fn = lambda p, **kw: kernels.binary_crossentropy(target, p, **kw)
    elif loss == "bce_logits":
        pred = rng.standard_normal((5, 3))
        fn = lambda p, **kw: kernels.binary_crossentropy(target, p, from_logits=True, **kw)
    elif loss == "mse":
        pred = rng.standard_normal((5, 3))
        fn = lambda p, **kw: kernels.mean_squared_error(target, p, **kw)
    elif loss == "mae":
        pred = target + rng.choice([-1, 1], (5, 3)) * rng.uniform(0.1, 1, (5, 3))
        fn = lambda p, **kw: kernels.mean_absolute_error(target, p, **kw)
    else:
        pred = target + rng.standard_normal((5, 3)) * 1.5
        pred[np.abs(np.abs(pred - target) - 1) < 1e-3] += 0.1
        fn = lambda p, **kw: kernels.huber(target, p, **kw)
    _, g = fn(pred, return_grad=True)
    assert_grad_close(g, numeric_grad(lambda p: fn(p), pred))


@pytest.mark.parametrize("activation", ["relu", "tanh", "softmax", "gelu"])
def test_dense_layer_backward(rng, activation):
    """The Dense backward pass as the model runs it (dz, X^T dz, column sums, dz W^T) in float64."""
    x = rng.standard_normal((5, 4))
    W = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    r = rng.standard_normal((5, 3))

    def forward(x_, W_, b_):
        return kernels.activation(kernels.matmul(x_, W_, bias=b_), activation) * r

    z = kernels.matmul(x, W, bias=b)
    y = kernels.activation(z, activation)
    dz = kernels.activation_grad(r, z, y, activation)
    dW = kernels.matmul(x, dz, transpose_a=True)
    db = kernels.column_sums(dz)
    dx = kernels.matmul(dz, W, transpose_b=True)
    assert_grad_close(dW, numeric_grad(lambda v: forward(x, v, b), W))
    assert_grad_close(db, numeric_grad(lambda v: forward(x, W, v), b))
    assert_grad_close(dx, numeric_grad(lambda v: forward(v, W, b), x))


def test_fused_softmax_crossentropy_gradient(rng):
    """The training step's fused path: d(mean CE(softmax(z)))/dz = (softmax(z) - onehot) / batch."""
    z = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    _, g = kernels.sparse_categorical_crossentropy(labels, z, from_logits=True, return_grad=True, grad_scale=1 / 6)
    numeric = numeric_grad(lambda v: kernels.sparse_categorical_crossentropy(labels, kernels.softmax(v)) / 6, z)
    assert_grad_close(g, numeric)
