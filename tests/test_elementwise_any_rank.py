"""What Keras' docstrings show on plain arrays: element-wise layers called on arrays of any rank
(a lone vector, a scalar), Dropout's noise_shape, and regression losses whose targets broadcast
against the predictions as Keras 3 broadcasts them."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import layers

from test_gradcheck import assert_grad_close, numeric_grad

VECTOR = np.array([-10.0, -5.0, 0.0, 5.0, 10.0], dtype=np.float32)


@pytest.mark.parametrize("layer, expected", [
    (layers.Activation("relu"), np.maximum(VECTOR, 0)),
    (layers.ReLU(max_value=10, negative_slope=0.5, threshold=0), np.where(VECTOR > 0, VECTOR, 0.5 * VECTOR)),
    (layers.LeakyReLU(negative_slope=0.5), np.where(VECTOR > 0, VECTOR, 0.5 * VECTOR)),
    (layers.ELU(), np.where(VECTOR > 0, VECTOR, np.expm1(VECTOR))),
    (layers.Softmax(), np.exp(VECTOR - 10) / np.exp(VECTOR - 10).sum()),
    (layers.Rescaling(0.5, offset=1.0), VECTOR * 0.5 + 1),
    (layers.Dropout(0.5), VECTOR),
    (layers.GaussianNoise(1.0), VECTOR),
    (layers.Identity(), VECTOR),
])
def test_an_element_wise_layer_takes_a_vector_as_keras_docstrings_show(layer, expected):
    out = layer(VECTOR)
    assert out.shape == VECTOR.shape
    np.testing.assert_allclose(out, expected.astype(np.float32), rtol=1e-6, atol=1e-7)


def test_an_element_wise_layer_takes_a_scalar_and_a_merge_takes_vectors():
    assert layers.ReLU()(np.float32(-3.0)).shape == ()
    assert float(layers.Activation("tanh")(np.float32(0.5))) == pytest.approx(np.tanh(0.5))
    np.testing.assert_allclose(layers.Add()([VECTOR, VECTOR]), 2 * VECTOR)
    np.testing.assert_allclose(layers.Maximum()([VECTOR, -VECTOR]), np.abs(VECTOR))


def test_layers_that_are_not_element_wise_still_want_a_batch():
    with pytest.raises(ValueError, match="expected a batch"):
        layers.Flatten()(VECTOR)
    with pytest.raises(ValueError, match="expected a batch"):
        layers.Concatenate()([VECTOR, VECTOR])


def test_dropout_noise_shape_drops_whole_samples_and_its_gradient_follows():
    x = np.ones((64, 3, 3, 2), np.float32)
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 1, 1), seed=1)
    y = layer(x, training=True)
    per_sample = y.reshape(64, -1)
    assert np.all(per_sample == per_sample[:, :1])  # one flag per sample
    assert set(np.unique(per_sample)) == {0.0, 2.0}
    assert 10 < (per_sample[:, 0] == 0).sum() < 54
    dy = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(dy, need_dx=True), dy * (y / x))
    np.testing.assert_array_equal(layer(x, training=False), x)
    assert layers.Dropout.from_config(layer.get_config()).noise_shape == (None, 1, 1, 1)
    with pytest.raises(ValueError, match="noise_shape"):
        layers.Dropout(0.5, noise_shape=(None, 1))(x, training=True)


@pytest.mark.parametrize("loss_cls", [keras.losses.MeanSquaredError, keras.losses.MeanAbsoluteError,
                                      keras.losses.Huber])
@pytest.mark.parametrize("true_shape, pred_shape", [((6, 3), (6, 1)), ((6,), (6, 1)), ((6, 1), (6,)),
                                                    ((6, 5), (6, 5, 1)), ((6, 5, 1), (6, 5, 2)),
                                                    ((6, 1, 4), (6, 3, 1))])
def test_regression_targets_broadcast_as_in_keras(loss_cls, true_shape, pred_shape):
    """Keras 3: a trailing axis of 1 squeezed or added to match ranks, then broadcasting; the value
    is the mean over the broadcast elements, and the gradient sums back to y_pred's shape."""
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.standard_normal(true_shape), rng.standard_normal(pred_shape)
    t = y_true[..., 0] if len(true_shape) == len(pred_shape) + 1 and true_shape[-1] == 1 else y_true
    t = t[..., None] if len(pred_shape) == len(t.shape) + 1 and pred_shape[-1] == 1 else t
    diff = t - y_pred
    elementwise = {keras.losses.MeanSquaredError: diff ** 2, keras.losses.MeanAbsoluteError: np.abs(diff),
                   keras.losses.Huber: np.where(np.abs(diff) <= 1, 0.5 * diff ** 2, np.abs(diff) - 0.5)}[loss_cls]
    loss = loss_cls()
    assert loss(y_true, y_pred) == pytest.approx(elementwise.mean(), rel=1e-6)
    per, grad = loss.per_sample(y_true, y_pred, return_grad=True)
    assert per.shape == (6,) and grad.shape == pred_shape
    assert_grad_close(grad, numeric_grad(lambda p: loss.per_sample(y_true, p), y_pred))


def test_targets_that_cannot_broadcast_are_refused_clearly():
    with pytest.raises(ValueError, match="does not broadcast"):
        keras.losses.MeanSquaredError()(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="number of samples"):
        keras.losses.mean_absolute_error(np.ones((4, 3)), np.ones((1, 3)))


@pytest.mark.parametrize("max_value, negative_slope, threshold", [(10, 0.5, 0), (None, 0.1, 1.5), (4.5, 0, 0.5),
                                                                  (6, 0.2, 0)])
def test_relu_with_every_argument_matches_keras_formula_and_its_gradient(max_value, negative_slope, threshold):
    """Keras 3's relu: x * (x > threshold) clipped to [0, max_value], minus negative_slope *
    relu(threshold - x)."""
    x = np.random.default_rng(2).uniform(-8, 12, (5, 7))
    expected = np.clip(x * (x > threshold), 0, np.inf if max_value is None else max_value) \
        - negative_slope * np.maximum(threshold - x, 0)
    layer = layers.ReLU(max_value=max_value, negative_slope=negative_slope, threshold=threshold)
    np.testing.assert_allclose(layer(x.astype(np.float32)), expected.astype(np.float32), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(layer.forward(x, False), expected)
    dy = np.random.default_rng(3).standard_normal(x.shape)
    assert_grad_close(layer.backward(dy, need_dx=True), numeric_grad(lambda v: layer.forward(v, False) * dy, x))
    assert layers.ReLU.from_config(layer.get_config()).get_config() == layer.get_config()
