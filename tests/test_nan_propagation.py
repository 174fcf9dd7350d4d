"""NaN propagates as in Keras, PyTorch and numpy: through every activation and its gradient, the
GEMM epilogues that fuse them, dropout and the losses, on every SIMD path; and a model whose
weights went NaN reports a NaN loss (so TerminateOnNaN fires) instead of training on.

The gradient of an activation at a NaN input is NaN, and a NaN upstream gradient stays NaN even
where the slope is 0 (dy * f'(x) taken literally)."""
import numpy as np
import pytest

import brisknet
from brisknet import callbacks, layers

from isa_paths import ISAS, run_isa_subprocess

CHECK = """
import numpy as np, sys
sys.path.insert(0, {tests!r})
import reference as ref
from brisknet import kernels
nan, inf = np.nan, np.inf
x = np.array([nan, -inf, inf, -7.0, -1.5, 0.0, 2.5, 7.0], np.float32)
elementwise = [a for a in kernels.ACTIVATIONS if a not in ("softmax", "log_softmax", "silu")]
for name in elementwise:
    y = kernels.activation(x, name)
    with np.errstate(all="ignore"):
        want = ref.ACTIVATIONS[name](x.astype(np.float64))
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6, err_msg=name)  # NaN where numpy has NaN
    assert np.isnan(y[0]), name
    dy = np.ones_like(x)
    g = kernels.activation_grad(dy, x, y, name)
    assert (np.isnan(g[0]) or name == "linear") and not np.isnan(g[3:]).any(), (name, g)
    g = kernels.activation_grad(np.full_like(x, nan), x, y, name)
    assert np.isnan(g).all(), (name, g)
    # the same through the GEMM epilogues: a NaN in one row of x spoils that row only
    rng = np.random.default_rng(0)
    for rows, k, n in ((37, 64, 50), (3, 20, 7), (64, 300, 1000)):
        xs = rng.standard_normal((rows, k)).astype(np.float32)
        w = rng.standard_normal((k, n)).astype(np.float32) / 8
        xs[1, 5] = nan
        z, y2 = kernels.dense_forward(xs, w, None, name)
        assert np.isnan(y2[1]).all() and not np.isnan(np.delete(y2, 1, 0)).any(), (name, rows, k, n)
        dz = rng.standard_normal((rows, n)).astype(np.float32)
        dz[2, 3] = nan
        xp = rng.standard_normal((rows, k)).astype(np.float32)
        xp[0, 1] = nan
        d = kernels.dense_input_grad(dz, w, xp, kernels.activation(xp, name), name)
        assert np.isnan(d[2]).all() and (np.isnan(d[0, 1]) or name == "linear"), (name, rows, k, n)
        assert not np.isnan(np.delete(d, [0, 2], 0)).any() and not np.isnan(np.delete(d[0], 1)).any(), name
print("ok")
"""


@pytest.mark.parametrize("isa", ISAS)
def test_activations_and_epilogues_propagate_nan(isa):
    import os
    res = run_isa_subprocess(CHECK.format(tests=os.path.dirname(__file__)), isa)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-3000:]


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "hard_sigmoid", "softplus", "elu"])
def test_keras_relu_family_limits(name):
    """The max- and clip-based activations keep their limits at +-Inf and pass NaN, as np.maximum."""
    x = np.array([-np.inf, np.inf, np.nan], np.float32)
    y = brisknet.kernels.activation(x, name)
    want = {"relu": [0, np.inf], "relu6": [0, 6], "leaky_relu": [-np.inf, np.inf], "hard_sigmoid": [0, 1],
            "softplus": [0, np.inf], "elu": [-1, np.inf]}[name]
    assert y[0] == want[0] and y[1] == want[1] and np.isnan(y[2])


def test_softmax_row_with_nan_is_nan():
    x = np.array([[1.0, np.nan, 2.0], [1.0, 2.0, 3.0]], np.float32)
    for name in ("softmax", "log_softmax"):
        y = brisknet.kernels.activation(x, name)
        assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


def test_dropout_keeps_nan_even_where_it_drops():
    x = np.full(1000, np.nan, np.float32)
    y, mask = brisknet.kernels.dropout(x, 0.5, seed=1)
    assert not mask.all() and np.isnan(y).all()
    dx = brisknet.kernels.dropout_grad(np.full(1000, np.nan, np.float32), mask, 0.5)
    assert np.isnan(dx).all()


@pytest.mark.parametrize("loss, from_logits", [
    (name, logits) for name in ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")
    for logits in (False, True)] + [(name, False) for name in ("mean_squared_error", "mean_absolute_error", "huber")])
def test_losses_of_nan_predictions_are_nan(loss, from_logits):
    k = brisknet.kernels
    pred = np.full((3, 4), 0.25, np.float32)
    pred[1, 2] = np.nan
    if loss == "sparse_categorical_crossentropy":
        args = (np.array([0, 1, 2]), pred)
    else:
        args = (np.eye(3, 4, dtype=np.float32), pred)
    kw = {"from_logits": from_logits} if "crossentropy" in loss else {}
    values, grad = getattr(k, loss)(*args, return_grad=True, **kw)
    assert np.isnan(values[1]) and np.isfinite(values[[0, 2]]).all()
    assert np.isnan(grad[1, 2]) and np.isfinite(grad[[0, 2]]).all(), grad


def _nan_model(activation):
    brisknet.utils.set_random_seed(0)
    model = brisknet.Sequential([brisknet.Input((6,)), layers.Dense(8, activation=activation),
                                 layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    w = model.get_weights()
    w[0][0, 0] = np.nan  # one weight went NaN
    model.set_weights(w)
    return model


@pytest.mark.parametrize("activation", ["relu", "relu6", "hard_sigmoid", "leaky_relu"])
def test_a_model_with_a_nan_weight_reports_nan_and_terminate_on_nan_stops_it(activation):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 6)).astype(np.float32)
    y = rng.integers(0, 3, 256)
    model = _nan_model(activation)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert np.isnan(history.history["loss"]).all()
    assert np.isnan(model.predict(x, verbose=0)).all()
    model = _nan_model(activation)
    seen = []
    cb = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[callbacks.TerminateOnNaN(), cb])
    assert seen == [0] and len(history.history["loss"]) == 1
    with pytest.raises(RuntimeError, match="NaN"):
        _nan_model(activation).fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.TerminateOnNaN(raise_error=True)])
