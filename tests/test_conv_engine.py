"""Convnets in the engine (Conv1D/Conv2D/DepthwiseConv2D/SeparableConv2D/Conv2DTranspose,
pooling, SpatialDropout, a pooling layer right above a convolution run inside its chunks of
images): the same weights, history and predictions as the Python reference path, bit for bit,
whatever the thread count; what the engine cannot run trains on the Python path."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import _core, layers
from brisknet.models import engine as engine_module

from test_graph_engine import assert_same, train as train_graph


def simple_convnet(size=12):
    """Keras' "Simple MNIST convnet" on smaller images."""
    return keras.Sequential([keras.Input((size, size, 1)), layers.Conv2D(8, 3, activation="relu"),
                             layers.MaxPooling2D(2), layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(2),
                             layers.Flatten(), layers.Dropout(0.5), layers.Dense(4, activation="softmax")])


def options():
    """Every window option: strides, 'same' padding, dilation, groups, no bias, penalties, a
    frozen convolution, depthwise, non-element-wise activation, average and 'same' pooling."""
    return keras.Sequential([
        keras.Input((11, 10, 3)),
        layers.Conv2D(6, (3, 2), strides=(2, 1), padding="same", activation="tanh", kernel_regularizer="l2",
                      bias_regularizer="l1"),
        layers.Conv2D(6, 2, dilation_rate=(2, 1), groups=3, use_bias=False, activation="gelu"),
        layers.MaxPooling2D(3, strides=2, padding="same"),
        layers.SpatialDropout2D(0.3),
        layers.DepthwiseConv2D(2, depth_multiplier=2, padding="same", activation="relu"),
        layers.Conv2D(5, 1, activation="elu", trainable=False),
        layers.SeparableConv2D(4, 2, depth_multiplier=2, padding="same", activation="relu",
                               pointwise_regularizer="l2", bias_regularizer="l1"),
        layers.AveragePooling2D((2, 1), strides=1, padding="same"),
        layers.Conv2D(4, 2, activation="softmax"),
        layers.Flatten(),
        layers.Dense(4, activation="softmax")])


def winograd():
    """3 x 3 stride-1 convolutions of 16 channels into 16 filters (Winograd's forward pass and
    kernel gradient; 'same' padding), and max pooling fused with a tanh's gradient below it."""
    return keras.Sequential([keras.Input((12, 12, 3)), layers.Conv2D(16, 3, activation="tanh"), layers.MaxPooling2D(2),
                             layers.Conv2D(16, 3, padding="same", activation="relu"),
                             layers.Conv2D(16, 3, activation="elu"), layers.MaxPooling2D(2),
                             layers.Flatten(), layers.Dense(4, activation="softmax")])


def sequence():
    return keras.Sequential([keras.Input((20, 3)), layers.Conv1D(6, 3, strides=2, padding="same", activation="relu"),
                             layers.SpatialDropout1D(0.5), layers.MaxPooling1D(2), layers.Conv1D(4, 2, dilation_rate=2, padding="causal"),
                             layers.AveragePooling1D(2),
                             layers.Flatten(), layers.Dense(4, activation="softmax")])


def global_pooling():
    inputs = keras.Input((7, 6, 3))
    h = layers.Conv2D(5, 3, activation="relu")(inputs)
    mean = layers.GlobalAveragePooling2D()(h)  # (right above the convolution: inside its chunks)
    top = layers.Flatten()(layers.GlobalMaxPooling2D(keepdims=True)(layers.Conv2D(4, 2)(inputs)))
    return keras.Model(inputs, layers.Dense(4, activation="softmax")(layers.Concatenate()([mean, top])))


def decoder():
    return keras.Sequential([keras.Input((5, 4, 3)), layers.Conv2DTranspose(4, 3, strides=2, padding="same",
                                                                            activation="relu"),
                             layers.Conv2DTranspose(2, (2, 3), strides=(3, 1), output_padding=(1, 0),
                                                    kernel_regularizer="l2", bias_regularizer="l1"),
                             layers.Conv2DTranspose(3, 2, use_bias=False, activation="softmax"),
                             layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(4, activation="softmax")])


def unet_like():
    inputs = keras.Input((6, 5, 2))
    h = layers.Conv2D(3, 3, activation="relu")(layers.ZeroPadding2D(((1, 2), (0, 1)))(inputs))
    up = layers.UpSampling2D((2, 3))(layers.MaxPooling2D(2)(h))
    h = layers.Add()([layers.Cropping2D(((0, 1), (2, 1)))(up), layers.Cropping2D(((0, 1), (1, 2)))(up)])
    return keras.Model(inputs, layers.Dense(4, activation="softmax")(layers.Flatten()(h)))


def residual():
    """Pooling the engine cannot run inside the convolution below it: one tensor pooled twice, and
    after a softmax (not element-wise)."""
    inputs = keras.Input((8, 8, 2))
    h = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    h = layers.Add()([h, layers.Conv2D(4, 3, padding="same")(h)])
    h = layers.Add()([layers.MaxPooling2D(2)(h), layers.AveragePooling2D(2)(h)])
    side = layers.MaxPooling2D(2)(layers.Conv2D(3, 1, activation="softmax")(inputs))
    h = layers.Concatenate()([layers.Flatten()(h), layers.Flatten()(side)])
    return keras.Model(inputs, layers.Dense(4, activation="softmax")(h))


def batch_normalized():
    """MobileNetV2's inverted residual block: batch normalisation of images (per channel, over
    every position), frozen too, relu6, depthwise convolution, a residual Add."""
    inputs = keras.Input((8, 8, 3))
    h = layers.ReLU(6.0)(layers.BatchNormalization(momentum=0.9)(layers.Conv2D(8, 3, strides=2, use_bias=False)(
        layers.ZeroPadding2D(((0, 1), (0, 1)))(inputs))))
    e = layers.ReLU(6.0)(layers.BatchNormalization(epsilon=1e-3)(layers.Conv2D(16, 1, use_bias=False)(h)))
    e = layers.ReLU(6.0)(layers.BatchNormalization(center=False)(layers.DepthwiseConv2D(3, padding="same")(e)))
    e = layers.BatchNormalization(trainable=False)(layers.Conv2D(8, 1, use_bias=False)(e))
    h = layers.Add()([h, e])
    return keras.Model(inputs, layers.Dense(4, activation="softmax")(layers.GlobalAveragePooling2D()(h)))


def data(model, n=96):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((n,) + model.input_shape[1:]).astype(np.float32), rng.integers(0, 4, n))


def train(build, eager, **kw):
    return train_graph(build, eager, data=data, **kw)


@pytest.mark.parametrize("build", [simple_convnet, options, winograd, sequence, global_pooling, decoder, unet_like,
                                   residual, batch_normalized])
@pytest.mark.parametrize("optimizer", ["adam", "sgd-clipnorm"])
def test_a_convnet_in_the_engine_is_bit_identical_to_the_reference_path(build, optimizer):
    def opt():  # a fresh optimizer per run; clipnorm needs the whole gradient (the unfused update)
        return "adam" if optimizer == "adam" else keras.optimizers.SGD(0.05, momentum=0.9, clipnorm=1.0)
    assert_same(train(build, False, optimizer=opt()), train(build, True, optimizer=opt()))
    keras.set_num_threads(2)


def test_a_convnet_in_the_engine_is_bit_identical_across_thread_counts():
    for build in (lambda: simple_convnet(size=20), winograd, batch_normalized):  # enough positions that kernels split
        one = train(build, False, threads=1, epochs=1)
        for threads in (2, 8):
            assert_same(train(build, False, threads=threads, epochs=1), one)
    keras.set_num_threads(2)


@pytest.mark.parametrize("layer, reason", [
    # (penalties on the depthwise kernel and on the rest: the Python layer adds them up as one sum)
    (lambda: layers.SeparableConv2D(2, 3, depthwise_regularizer="l2", pointwise_regularizer="l1"), "SeparableConv2D"),
])
def test_convnets_the_engine_cannot_run_yet_train_on_the_python_path(layer, reason):
    model = keras.Sequential([keras.Input((6, 6, 2)), layer(), layers.Flatten(), layers.Dense(2)])
    model.compile("sgd", "mse")
    assert reason in engine_module.why_not(model)


def test_the_cuda_engine_takes_convnets_and_refuses_batch_normalization_clearly():
    _cuda = pytest.importorskip("brisknet._cuda")  # (a build without CUDA has no module)
    loss = _core.LossSpec(_core.LossKind.mean_squared_error)
    bn = _core.LayerSpec()
    bn.kind, bn.inputs, bn.outputs, bn.kernel_offset, bn.bias_offset, bn.stats_offset = \
        _core.LayerKind.batch_norm, 3, 3, 0, 3, 6
    with pytest.raises(ValueError, match="CUDA engine runs chains"):
        _cuda.Network([bn], loss, 12, 0)
    spatial = _core.LayerSpec()  # SpatialDropout: taken, then built on the device (none here: its error)
    spatial.kind, spatial.inputs, spatial.outputs, spatial.rate, spatial.channels = \
        _core.LayerKind.dropout, 12, 12, 0.5, 3
    try:
        _cuda.Network([spatial], loss, 0, 0)
    except RuntimeError as e:
        assert str(e).startswith("CUDA: ") and not keras.cuda.is_available()


def window_spec(kind, window, inputs, outputs, groups=1):
    s = _core.LayerSpec()
    s.kind, s.inputs, s.outputs, s.window, s.groups = kind, inputs, outputs, window, groups
    s.kernel_offset = 0
    return s


def test_the_engine_checks_a_window_s_geometry():
    loss = _core.LossSpec(_core.LossKind.mean_squared_error)
    good = (4, 4, 2, 3, 3, 1, 1, 1, 1, 0, 0, 2, 2)  # (h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow)
    conv, pool = _core.LayerKind.conv, _core.LayerKind.max_pool
    _core.Network([window_spec(conv, good, 32, 12)], loss)  # 3 filters
    _core.Network([window_spec(_core.LayerKind.conv_transpose, good, 12, 32)], loss)  # 3 channels in, 2 out
    assert window_spec(conv, good, 32, 12).window == good
    bad = [
        (window_spec(conv, good[:5] + (0,) + good[6:], 32, 12), "strides and dilation must be >= 1"),
        (window_spec(conv, good[:11] + (9, 2), 32, 36), "output size does not fit"),
        (window_spec(conv, good, 30, 12), "does not hold its inputs"),
        (window_spec(conv, good, 32, 13), "whole number of channels"),
        (window_spec(conv, good, 32, 12, groups=2), "groups must divide"),
        (window_spec(pool, good, 32, 12), "pooling keeps the channels"),
        (window_spec(_core.LayerKind.conv_transpose, good, 12, 30), "does not hold its inputs"),
        (window_spec(_core.LayerKind.conv_transpose, good, 12, 32, groups=2), "one group"),
    ]
    for spec, message in bad:
        with pytest.raises(ValueError, match=message):
            _core.Network([spec], loss)


def test_predict_keeps_the_shape_of_image_outputs():
    """The engine's rows are flat; predict gives the model's output shape, as Keras (a decoder's
    images, a feature map), the same values as the Python path."""
    x = np.random.default_rng(0).standard_normal((5, 8, 8, 3)).astype(np.float32)
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                              layers.Conv2DTranspose(2, 3, strides=2, padding="same")])
    assert engine_module.layer_specs(model)[1] is None
    out = model.predict(x, batch_size=2, verbose=0)
    assert out.shape == (5, 16, 16, 2) == tuple(model(x).shape)
    np.testing.assert_allclose(out, model(x), rtol=1e-6, atol=1e-6)
