"""Loss values against the numpy reference (Keras formulas), weights, reductions, stability."""
import numpy as np
import pytest

from brisknet import losses, kernels

import reference as ref


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("from_logits", [False, True])
def test_crossentropies(rng, dtype, from_logits):
    labels = rng.integers(0, 7, 50)
    pred = rng.standard_normal((50, 7)) if from_logits else rng.uniform(0, 1, (50, 7))
    onehot = np.eye(7)[labels]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    got = kernels.sparse_categorical_crossentropy(labels, pred.astype(dtype), from_logits)
    np.testing.assert_allclose(got, ref.sparse_cce(labels, pred, from_logits), rtol=tol, atol=tol)
    got = kernels.categorical_crossentropy(onehot, pred.astype(dtype), from_logits)
    np.testing.assert_allclose(got, ref.cce(onehot, pred, from_logits), rtol=tol, atol=tol)


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_crossentropy(rng, from_logits):
    target = rng.integers(0, 2, (40, 3)).astype(np.float64)
    pred = rng.standard_normal((40, 3)) if from_logits else rng.uniform(0, 1, (40, 3))
    np.testing.assert_allclose(kernels.binary_crossentropy(target, pred, from_logits),
                               ref.bce(target, pred, from_logits), rtol=1e-12, atol=1e-12)


def test_regression_losses(rng):
    t, p = rng.standard_normal((30, 4)), rng.standard_normal((30, 4)) * 2
    np.testing.assert_allclose(kernels.mean_squared_error(t, p), ref.mse(t, p), rtol=1e-12)
    np.testing.assert_allclose(kernels.mean_absolute_error(t, p), ref.mae(t, p), rtol=1e-12)
    np.testing.assert_allclose(kernels.huber(t, p, delta=0.7), ref.huber(t, p, 0.7), rtol=1e-12)


def test_crossentropy_from_logits_is_stable():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], np.float32)
    loss = kernels.sparse_categorical_crossentropy([1, 1], z, from_logits=True)
    np.testing.assert_allclose(loss, [2e4, 0.0], rtol=1e-6)
    p = np.array([[1.0, 0.0, 0.0]], np.float32)  # probability 0 for the label: clipped, finite
    assert np.isfinite(kernels.sparse_categorical_crossentropy([1], p)).all()


def test_sample_weights_and_keras_reduction(rng):
    labels = rng.integers(0, 3, 8)
    pred = rng.uniform(0.1, 1, (8, 3))
    w = rng.uniform(0, 2, 8)
    per = ref.sparse_cce(labels, pred)
    loss = losses.SparseCategoricalCrossentropy()
    # Keras' sum_over_batch_size divides the weighted sum by the batch size, not by sum(w)
    assert loss(labels, pred, sample_weight=w) == pytest.approx((per * w).sum() / 8, rel=1e-12)
    assert losses.SparseCategoricalCrossentropy(reduction="sum")(labels, pred) == pytest.approx(per.sum(), rel=1e-12)
    np.testing.assert_allclose(losses.SparseCategoricalCrossentropy(reduction="none")(labels, pred), per, rtol=1e-12)


def test_loss_names_resolve():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get(losses.sparse_categorical_crossentropy), losses.SparseCategoricalCrossentropy)
    assert losses.get("huber").delta == 1.0
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("hinge_typo")


@pytest.mark.parametrize("name", ["hinge", "squared_hinge", "categorical_hinge", "log_cosh", "kld", "poisson", "mape",
                                  "msle", "cosine_similarity"])
def test_numpy_losses_gradient_matches_central_differences(name):
    """Keras' other losses (numpy): the analytic gradient against central differences in float64,
    with sample weights and Keras' reduction scale."""
    loss = losses.get(name)
    rng = np.random.default_rng(1)
    pred = rng.random((5, 4)) + 0.1
    y = (rng.random((5, 4)) > 0.5).astype(np.float64) if "hinge" in name else rng.random((5, 4)) + 0.05
    w = rng.random(5) + 0.5
    per, grad = loss.per_sample(y, pred, w, return_grad=True, grad_scale=0.2)
    h = 1e-6
    for i in range(5):
        for j in range(4):
            plus, minus = pred.copy(), pred.copy()
            plus[i, j] += h
            minus[i, j] -= h
            f = type(loss)._fn
            numeric = (f(y, plus)[0][i] - f(y, minus)[0][i]) / (2 * h) * w[i] * 0.2
            assert abs(grad[i, j] - numeric) <= 1e-4 * max(1.0, abs(numeric)), (name, i, j)
    np.testing.assert_allclose(per, type(loss)._fn(y, pred)[0] * w, rtol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        loss.per_sample(np.ones((5, 3)), pred)


def test_a_custom_loss_written_with_ops_gets_exact_gradients():
    """Traced once per shape and differentiated exactly (float64 central differences of the same
    function written with numpy agree); a numpy-written loss still trains (the slow path)."""
    import brisknet as keras
    from brisknet import ops
    calls = []

    def with_ops(y_true, y_pred):
        calls.append(1)
        return ops.mean(ops.square(y_true - y_pred) * 0.5 + ops.log1p(ops.exp(-y_pred)), axis=-1)

    def with_numpy(y_true, y_pred):  # (ndarray methods too: a traced tensor has none)
        return (np.square(y_true - y_pred) * 0.5 + np.log1p(np.exp(-y_pred))).mean(axis=-1)

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.standard_normal((2, 16, 3)).astype(np.float32)
    weights = rng.random(16).astype(np.float32)
    exact = losses.LossFunctionWrapper(with_ops).per_sample(y_true, y_pred, weights, True, 1 / 16)
    numeric = losses.LossFunctionWrapper(with_numpy).per_sample(y_true, y_pred, weights, True, 1 / 16)
    np.testing.assert_allclose(exact[0], numeric[0], rtol=1e-5)
    np.testing.assert_allclose(exact[1], numeric[1], rtol=1e-3, atol=1e-6)
    assert len(calls) == 1  # traced, not called per output column
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("adam", with_ops)
    model.fit(rng.standard_normal((64, 4)).astype(np.float32), y_true[:1].repeat(64, 0), epochs=2, verbose=0)
    assert len(calls) == 2  # one more trace: batches of 32


@pytest.mark.parametrize("name", ["sparse_categorical_crossentropy", "categorical_crossentropy", "mse"])
def test_a_loss_per_position_is_the_mean_over_rows_with_exact_gradients(name):
    from brisknet.losses import positions
    from test_gradcheck import assert_grad_close, numeric_grad
    rng = np.random.default_rng(2)
    loss = losses.get(name)
    pred = rng.uniform(0.1, 1, (3, 4, 5))
    pred /= pred.sum(-1, keepdims=True)
    y = rng.integers(0, 5, (3, 4)) if name.startswith("sparse") else \
        np.eye(5)[rng.integers(0, 5, (3, 4))] if name.startswith("categorical") else rng.standard_normal((3, 4, 5))
    y = positions.prepare_targets(loss, y, (4, 5))
    sw = rng.uniform(0.5, 2, (3, 4))
    per, grad = positions.per_sample(loss, y, pred, sw, return_grad=True, grad_scale=1 / 3)
    rows = loss.per_sample(y.reshape((12,) + y.shape[2:]), pred.reshape(12, 5), sw.reshape(-1))
    np.testing.assert_allclose(per, rows.reshape(3, 4).mean(1), rtol=1e-6)
    # d(mean over samples and positions)/d(pred), as Keras' sum_over_batch_size
    numeric = numeric_grad(lambda p: np.asarray(positions.per_sample(loss, y, p, sw), np.float64).mean() + 0 * p, pred)
    assert_grad_close(grad, numeric / pred.size, tol=1e-4)


def test_targets_and_weights_per_position_are_checked():
    from brisknet.losses import positions
    loss = losses.get("sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"\(4,\) positions.*\(samples, 4"):
        positions.prepare_targets(loss, np.zeros((3, 5)), (4, 6))
    with pytest.raises(ValueError, match="out of range"):
        positions.prepare_targets(loss, np.full((3, 4), 6), (4, 6))
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3, 5\)"):
        positions.check_sample_weight(np.ones((3, 5), np.float32), (4, 6))


def test_a_model_with_an_output_per_step_refuses_class_weights_and_misshapen_targets():
    import brisknet as keras
    inputs = keras.Input((3, 2))
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(inputs))
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = np.zeros((8, 3, 2), np.float32)
    with pytest.raises(ValueError, match="class_weight"):
        model.fit(x, np.zeros((8, 3)), class_weight={0: 1.0, 1: 2.0}, verbose=0)
    with pytest.raises(ValueError, match=r"must be \(samples, 3"):
        model.fit(x, np.zeros((8,)), verbose=0)
    elementwise = keras.Model(inputs, keras.layers.Activation("sigmoid")(inputs))  # (the engine runs the layer)
    elementwise.compile("sgd", "binary_crossentropy")
    assert keras.models.engine.why_not(elementwise).startswith("an output of several positions")
    assert np.isfinite(elementwise.fit(x, np.ones((8, 3, 2)), verbose=0).history["loss"][0])
