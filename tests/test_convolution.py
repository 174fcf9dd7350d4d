"""Conv1D/Conv2D and the windowed pooling layers: forward against a direct numpy loop, every
gradient against central differences in float64, shapes and bad input as Keras; the Simple MNIST
convnet trains. The convolution kernels (brisknet's GEMM on patches packed straight from the
images, or Winograd's F(2x2, 3x3) forward for 3 x 3 stride-1 windows; a chunk of images per
thread) against the same references on batches of many chunks, bit-identical across thread counts."""
import os

import numpy as np
import pytest

import brisknet as keras
from brisknet import layers

from isa_paths import ISAS, run_isa_subprocess
from keras3 import keras_predictions
from test_graph_layers import _bind64, _check_layer


def reference_conv2d(x, w, b, strides, dilation, pad, out, groups):
    """Direct convolution: x (n, h, w, c), w (kh, kw, c / groups, f), channels_last."""
    n, h, wd, c = x.shape
    kh, kw, cg, f = w.shape
    fg = f // groups
    y = np.zeros((n, out[0], out[1], f))
    padded = np.zeros((n, h + 2 * kh * dilation[0] + 2 * pad[0], wd + 2 * kw * dilation[1] + 2 * pad[1], c))
    padded[:, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    for i in range(out[0]):
        for j in range(out[1]):
            for a in range(kh):
                for bb in range(kw):
                    patch = padded[:, i * strides[0] + a * dilation[0], j * strides[1] + bb * dilation[1]]
                    for g in range(groups):
                        y[:, i, j, g * fg:(g + 1) * fg] += patch[:, g * cg:(g + 1) * cg] @ w[a, bb, :, g * fg:(g + 1) * fg]
    return y + (b if b is not None else 0)


CONV2D = [dict(filters=4, kernel_size=3), dict(filters=3, kernel_size=(2, 3), strides=2, padding="same"),
          dict(filters=4, kernel_size=3, dilation_rate=2, padding="same"), dict(filters=4, kernel_size=2, groups=2),
          dict(filters=2, kernel_size=(3, 1), strides=(1, 2), use_bias=False, activation="relu")]


@pytest.mark.parametrize("config", CONV2D)
def test_conv2d_against_a_direct_loop_and_central_differences(rng, config):
    x = rng.standard_normal((2, 7, 6, 4))
    layer = layers.Conv2D(**config)
    weights = _bind64(layer, x.shape[1:], rng)
    image, out, pad, kernel, strides, dilation = layer._geometry(x.shape[1:])
    want = reference_conv2d(x, weights[0], weights[1] if layer.use_bias else None, strides, dilation, pad, out,
                            layer.groups)
    if layer.activation == "relu":
        want = np.maximum(want, 0)
    got = layer.forward(x, True)
    assert got.shape == (2,) + layer.output_shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    x[np.abs(x) < 1e-3] = 0.5
    _check_layer(layers.Conv2D(**config), x, rng)


def reference_conv2d_backward(x, w, dz, strides, dilation, pad, groups):
    """The kernel's and the input's gradients of reference_conv2d by the chain rule, loop by loop."""
    n, h, wd, c = x.shape
    kh, kw, cg, f = w.shape
    fg = f // groups
    padded = np.zeros((n, h + 2 * kh * dilation[0] + 2 * pad[0], wd + 2 * kw * dilation[1] + 2 * pad[1], c))
    padded[:, pad[0]:pad[0] + h, pad[1]:pad[1] + wd] = x
    dpadded, dw = np.zeros_like(padded), np.zeros_like(w)
    for i in range(dz.shape[1]):
        for j in range(dz.shape[2]):
            for a in range(kh):
                for bb in range(kw):
                    r, q = i * strides[0] + a * dilation[0], j * strides[1] + bb * dilation[1]
                    for g in range(groups):
                        d = dz[:, i, j, g * fg:(g + 1) * fg]
                        dw[a, bb, :, g * fg:(g + 1) * fg] += padded[:, r, q, g * cg:(g + 1) * cg].T @ d
                        dpadded[:, r, q, g * cg:(g + 1) * cg] += d @ w[a, bb, :, g * fg:(g + 1) * fg].T
    return dw, dpadded[:, pad[0]:pad[0] + h, pad[1]:pad[1] + wd]


@pytest.mark.parametrize("groups, filters, strides, dilation, pad", [
    (1, 4, (1, 1), (1, 1), (0, 0)), (2, 4, (2, 1), (1, 1), (1, 1)), (4, 4, (1, 1), (2, 1), (2, 1)),
    (8, 8, (2, 2), (1, 1), (1, 1)), (8, 16, (1, 2), (1, 2), (0, 1))])  # (depthwise: direct loops)
def test_the_convolution_kernels_over_many_chunks_of_images(rng, groups, filters, strides, dilation, pad):
    """200 images of 16 x 16 x 8: more than one chunk on any CPU (a chunk's patches fill half of
    L2), so the kernel gradient sums per-chunk partials; the threads share the chunks."""
    from brisknet import _core
    x = rng.standard_normal((200, 16, 16, 8))
    w = rng.standard_normal((3, 3, 8 // groups, filters))
    out = tuple((size + 2 * p - d * 2 - 1) // s + 1 for size, p, d, s in zip((16, 16), pad, dilation, strides))
    window = ((3, 3), strides, dilation, pad, out)
    dz = rng.standard_normal((200,) + out + (filters,))
    results = {}
    for threads in (1, 2, 8):
        keras.set_num_threads(threads)
        for dtype in (np.float64, np.float32):
            xs, ws, dzs = (a.astype(dtype) for a in (x, w, dz))
            z = np.empty((200 * out[0] * out[1], filters), dtype)
            dw, dx, db = np.empty((9 * 8 // groups, filters), dtype), np.empty_like(xs), np.empty(filters, dtype)
            _core.conv2d_forward(z, xs, ws.reshape(-1, filters), None, *window, groups)
            _core.conv2d_backward(dw, dx, dzs.reshape(-1, filters), xs, ws.reshape(-1, filters), *window, groups, db)
            alone = np.empty_like(db)  # the bias gradient without the kernel's (a frozen layer's)
            _core.conv2d_backward(None, None, dzs.reshape(-1, filters), xs, ws.reshape(-1, filters), *window, groups, alone)
            np.testing.assert_array_equal(alone, db)
            results[threads, dtype] = (z, dw, dx, db)
    keras.set_num_threads(2)
    z, dw, dx, db = results[1, np.float64]
    np.testing.assert_allclose(z.reshape((200,) + out + (filters,)), reference_conv2d(x, w, None, strides, dilation, pad, out,
                                                                                groups), rtol=1e-10, atol=1e-10)
    want_dw, want_dx = reference_conv2d_backward(x, w, dz, strides, dilation, pad, groups)
    np.testing.assert_allclose(dw.reshape(w.shape), want_dw, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, dz.sum(axis=(0, 1, 2)), rtol=1e-10, atol=1e-10)
    for threads in (2, 8):
        for dtype in (np.float64, np.float32):
            for got, want in zip(results[threads, dtype], results[1, dtype]):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("config", [dict(filters=3, kernel_size=3), dict(filters=2, kernel_size=2, strides=2,
                                                                        padding="same", dilation_rate=1)])
def test_conv1d_is_a_conv2d_of_one_row(rng, config):
    x = rng.standard_normal((3, 9, 2))
    layer = layers.Conv1D(**config)
    weights = _bind64(layer, x.shape[1:], rng)
    twin = layers.Conv2D(config["filters"], (1, config["kernel_size"]), strides=(1, config.get("strides", 1)),
                         padding=config.get("padding", "valid"))
    twin.build_sample((1, 9, 2))
    twin.bind([weights[0][None], weights[1]], [np.zeros((1,) + weights[0].shape), np.zeros_like(weights[1])])
    np.testing.assert_array_equal(layer.forward(x, True), twin.forward(x[:, None], True)[:, 0])
    _check_layer(layers.Conv1D(**config), x, rng)


@pytest.mark.parametrize("config", [dict(filters=3, kernel_size=3, padding="causal", dilation_rate=2),
                                    dict(filters=2, kernel_size=4, strides=3, padding="causal")])
def test_conv1d_causal_is_a_valid_convolution_after_zeros_before_the_sequence(rng, config):
    """Keras: pad dilation * (kernel - 1) zeros before the steps, then a 'valid' convolution."""
    x = rng.standard_normal((3, 10, 2))
    layer = layers.Conv1D(**config)
    weights = _bind64(layer, x.shape[1:], rng)
    before = config.get("dilation_rate", 1) * (config["kernel_size"] - 1)
    padded = np.concatenate([np.zeros((3, before, 2)), x], axis=1)
    stride, dilation = config.get("strides", 1), config.get("dilation_rate", 1)
    want = reference_conv2d(padded[:, None], weights[0][None], weights[1], (1, stride), (1, dilation), (0, 0),
                            (1, (10 - 1) // stride + 1), 1)[:, 0]
    got = layer.forward(x, True)
    assert layer.output_shape == ((10 - 1) // stride + 1, config["filters"])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    _check_layer(layers.Conv1D(**config), x, rng)
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same', got 'causal'"):
        layers.Conv2D(2, 3, padding="causal")


@pytest.mark.parametrize("cls, config", [(layers.MaxPooling2D, {}), (layers.MaxPooling2D, dict(pool_size=3, strides=2,
                                                                                                padding="same")),
                                         (layers.AveragePooling2D, {}),
                                         (layers.AveragePooling2D, dict(pool_size=(2, 3), padding="same")),
                                         (layers.MaxPooling1D, dict(pool_size=3)), (layers.AveragePooling1D, {})])
def test_pooling_against_numpy_and_central_differences(rng, cls, config):
    one = cls.rank == 1
    shape = (2, 7, 3) if one else (2, 7, 6, 3)
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) / 10
    layer = cls(**config)
    layer.build_sample(x.shape[1:])
    image, kernel, strides, pad, out = layer._geometry(x.shape[1:])
    x4 = x.reshape((2,) + image)
    want = np.empty((2, out[0], out[1], image[2]))
    for i in range(out[0]):
        for j in range(out[1]):
            r0, c0 = i * strides[0] - pad[0], j * strides[1] - pad[1]
            win = x4[:, max(r0, 0):r0 + kernel[0], max(c0, 0):c0 + kernel[1]]
            want[:, i, j] = win.max(axis=(1, 2)) if layer.takes_max else win.mean(axis=(1, 2))
    np.testing.assert_allclose(layer.forward(x, True).reshape(want.shape), want, rtol=1e-12)
    _check_layer(cls(**config), x, rng)  # distinct values: no ties at the max


def test_shapes_and_bad_input_name_the_layer():
    inputs = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, activation="relu")(inputs)
    assert h.shape == (None, 26, 26, 32)
    assert layers.MaxPooling2D(2)(h).shape == (None, 13, 13, 32)
    assert layers.Conv2D(8, 3, strides=2, padding="same")(inputs).shape == (None, 14, 14, 8)
    with pytest.raises(ValueError, match="output_padding must be ints >= 0 and below the strides"):
        layers.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="'c1'.*rank 3"):
        layers.Conv2D(4, 3, name="c1")(keras.Input((28, 28)))
    with pytest.raises(ValueError, match="'c2'.*larger than the input"):
        layers.Conv2D(4, 30, name="c2")(inputs)
    with pytest.raises(ValueError, match="'c3'.*not divisible by groups=2"):
        layers.Conv2D(4, 3, groups=2, name="c3")(keras.Input((8, 8, 3)))
    with pytest.raises(ValueError, match="strides must be a positive int"):
        layers.Conv2D(4, 3, strides=0)
    with pytest.raises(ValueError, match="'p1'.*larger than the input"):
        layers.MaxPooling2D(5, name="p1")(keras.Input((4, 4, 1)))
    with pytest.raises(ValueError, match="cannot be combined"):
        layers.Conv2D(4, 3, strides=2, dilation_rate=2)
    model = keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(3, 3)])
    with pytest.raises(ValueError, match="expects \\(6, 6, 2\\)"):
        model.predict(np.zeros((1, 6, 6, 3), np.float32), verbose=0)


def test_the_simple_mnist_convnet_trains():
    """Keras' "Simple MNIST convnet", unchanged but for the import (random images, a few steps)."""
    keras.utils.set_random_seed(0)
    num_classes, input_shape = 10, (28, 28, 1)
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ])
    assert model.count_params() == 34826  # as Keras' summary of this model
    rng = np.random.default_rng(0)
    y = rng.integers(0, num_classes, 256)
    x = (rng.random((256, 28, 28, 1)) * 0.2 + (y[:, None, None, None] / 10.0)).astype(np.float32)  # learnable
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x, keras.utils.to_categorical(y, num_classes), batch_size=128, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def _convnet():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((9, 8, 2)), layers.ZeroPadding2D((1, 2)),
                             layers.Conv2D(4, 3, padding="same", activation="relu"), layers.SpatialDropout2D(0.2),
                             layers.MaxPooling2D(2), layers.Conv2D(6, 2, strides=2, groups=2),
                             layers.DepthwiseConv2D(2, depth_multiplier=2, padding="same"),
                             layers.SeparableConv2D(5, 2, depth_multiplier=2, padding="same", activation="relu"),
                             layers.UpSampling2D(2),
                             layers.Cropping2D(((1, 0), (0, 1))), layers.AveragePooling2D(1), layers.Flatten(),
                             layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize("suffix", [".brisk", ".keras"])
def test_a_convnet_survives_a_file(tmp_path, suffix):
    model = _convnet()
    x = np.random.default_rng(0).standard_normal((5, 9, 8, 2)).astype(np.float32)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, np.arange(5) % 3, verbose=0)
    model.save(tmp_path / f"m{suffix}")
    again = keras.models.load_model(tmp_path / f"m{suffix}")
    assert again.get_config() == model.get_config()
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_a_convnet_file_loads_in_keras(tmp_path):
    model = _convnet()
    x = np.random.default_rng(0).standard_normal((5, 9, 8, 2)).astype(np.float32)
    np.testing.assert_allclose(keras_predictions(model, x, tmp_path), model.predict(x, verbose=0), atol=1e-6)


def test_a_sequence_convnet_file_loads_in_keras(tmp_path):
    """Causal and strided Conv1D, 1D pooling: Keras 3 predicts what we do from our .keras file."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((12, 3)), layers.Conv1D(4, 3, padding="causal", dilation_rate=2,
                                                                  activation="relu"),
                              layers.Conv1D(5, 2, strides=2, padding="causal"), layers.MaxPooling1D(2),
                              layers.AveragePooling1D(2, padding="same"), layers.Flatten(), layers.Dense(2)])
    x = np.random.default_rng(0).standard_normal((4, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(keras_predictions(model, x, tmp_path), model.predict(x, verbose=0), atol=1e-6)


def test_depthwise_conv2d_is_a_grouped_conv2d(rng):
    x = rng.standard_normal((2, 6, 5, 3))
    layer = layers.DepthwiseConv2D((3, 2), depth_multiplier=2, strides=(1, 2), padding="same")
    weights = _bind64(layer, x.shape[1:], rng)
    assert weights[0].shape == (3, 2, 3, 2) and layer.output_shape == (6, 3, 6)
    image, out, pad, kernel, strides, dilation = layer._geometry(x.shape[1:])
    want = reference_conv2d(x, weights[0].reshape(3, 2, 1, 6), weights[1], strides, dilation, pad, out, 3)
    np.testing.assert_allclose(layer.forward(x, True), want, rtol=1e-12, atol=1e-12)
    _check_layer(layers.DepthwiseConv2D((3, 2), depth_multiplier=2, strides=(1, 2), padding="same"), x, rng)


@pytest.mark.parametrize("layer, want", [
    (layers.ZeroPadding2D(((1, 2), (0, 1))), lambda x: np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0)))),
    (layers.Cropping2D(((1, 0), (2, 1))), lambda x: x[:, 1:, 2:-1]),
    (layers.UpSampling2D((2, 3)), lambda x: x.repeat(2, axis=1).repeat(3, axis=2)),
])
def test_image_reshaping_layers(rng, layer, want):
    x = rng.standard_normal((2, 4, 5, 3))
    np.testing.assert_array_equal(layer(x), want(x).astype(np.float32))
    _check_layer(type(layer).from_config(layer.get_config()), x, rng)


@pytest.mark.parametrize("cls, shape", [(layers.SpatialDropout2D, (64, 3, 4, 40)), (layers.SpatialDropout1D, (64, 5, 40))])
def test_spatial_dropout_drops_whole_channels(rng, cls, shape):
    x = rng.random(shape) + 1
    layer = cls(0.25, seed=4)
    np.testing.assert_array_equal(layer(x, training=False), x.astype(np.float32))
    y = layer(x, training=True)
    kept = (y != 0).reshape(shape[0], -1, shape[-1])
    assert (kept.all(axis=1) | ~kept.any(axis=1)).all()  # a channel is kept or dropped everywhere
    assert abs((~kept.any(axis=1)).mean() - 0.25) < 0.05
    np.testing.assert_allclose(y[y != 0], (x.astype(np.float32) / 0.75)[y != 0], rtol=1e-6)
    fresh = cls(0.25, seed=4)
    calls = {}
    _check_layer(fresh, x[:2, ..., :3].copy(), rng,
                 before_forward=lambda: setattr(fresh, "_calls", calls.setdefault("n", fresh._calls)))


@pytest.mark.parametrize("build", [
    lambda: [keras.Input((9, 8, 2)), layers.ZeroPadding2D((1, 2)), layers.Conv2D(4, 3, padding="same", activation="relu6"),
             layers.SpatialDropout2D(0.2), layers.MaxPooling2D(3, strides=2, padding="same"),
             layers.Conv2D(6, 2, strides=2, groups=2, dilation_rate=1),
             layers.DepthwiseConv2D(2, depth_multiplier=2, padding="same", activation="tanh"),
             layers.SeparableConv2D(3, 2, strides=2, depth_multiplier=2, activation="relu"), layers.UpSampling2D(2),
             layers.Cropping2D(((1, 0), (0, 1))), layers.AveragePooling2D(2, padding="same"),
             layers.Conv2DTranspose(3, 3, strides=2, padding="same"), layers.Conv2DTranspose(2, (2, 3), strides=(3, 1)),
             layers.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=0),
             layers.Flatten(), layers.Dense(3, activation="softmax")],
    lambda: [keras.Input((10, 3)), layers.Conv1D(4, 3, padding="same", activation="relu"), layers.MaxPooling1D(2),
             layers.Conv1D(2, 2, dilation_rate=2), layers.AveragePooling1D(2, padding="same"), layers.Flatten(),
             layers.Dense(2)],
    lambda: [keras.Input((11, 3)), layers.Conv1D(4, 3, padding="causal", dilation_rate=2),
             layers.Conv1D(2, 3, strides=2, padding="causal", activation="tanh"), layers.Flatten(), layers.Dense(2)],
])
def test_convnets_export_to_onnx_with_predict_s_results(tmp_path, build):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    keras.utils.set_random_seed(3)
    model = keras.Sequential(build())
    x = np.random.default_rng(0).standard_normal((4,) + model.input_shape[1:]).astype(np.float32)
    model.export_onnx(tmp_path / "m.onnx")
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def reference_conv2d_transpose(x, w, b, strides, dilation, pad, out_size):
    """Each input position scatters w (kh, kw, f, c) times its channels over the output window."""
    n, ih, iw, c = x.shape
    kh, kw, f, _ = w.shape
    y = np.zeros((n, out_size[0] + kh * dilation[0] + pad[0], out_size[1] + kw * dilation[1] + pad[1], f))
    for i in range(ih):
        for j in range(iw):
            for a in range(kh):
                for bb in range(kw):
                    r, s = i * strides[0] + a * dilation[0], j * strides[1] + bb * dilation[1]
                    y[:, r, s] += x[:, i, j] @ w[a, bb].T
    return y[:, pad[0]:pad[0] + out_size[0], pad[1]:pad[1] + out_size[1]] + (0 if b is None else b)


@pytest.mark.parametrize("config", [dict(filters=3, kernel_size=3), dict(filters=2, kernel_size=(3, 2), strides=2,
                                                                        padding="same"),
                                    dict(filters=2, kernel_size=2, strides=3), dict(filters=3, kernel_size=3,
                                                                                   dilation_rate=2, padding="same",
                                                                                   activation="tanh"),
                                    dict(filters=2, kernel_size=3, strides=2, output_padding=1),
                                    dict(filters=2, kernel_size=(3, 4), strides=(3, 2), padding="same",
                                         output_padding=(2, 0))])
def test_conv2d_transpose_against_a_direct_loop_and_central_differences(rng, config):
    x = rng.standard_normal((2, 4, 3, 2))
    layer = layers.Conv2DTranspose(**config)
    weights = _bind64(layer, x.shape[1:], rng)
    image, out, pad, kernel, strides, dilation = layer._geometry(x.shape[1:])
    want = reference_conv2d_transpose(x, weights[0], weights[1], strides, dilation, pad, image[:2])
    if layer.activation == "tanh":
        want = np.tanh(want)
    np.testing.assert_allclose(layer.forward(x, True), want, rtol=1e-12, atol=1e-12)
    _check_layer(layers.Conv2DTranspose(**config), x, rng)


def test_conv2d_transpose_s_file_loads_in_keras(tmp_path):
    """Keras 3 itself computes what our Conv2DTranspose does (sizes, 'same' offsets, kernel layout)."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((5, 4, 3)), layers.Conv2DTranspose(4, 3, strides=2, padding="same"),
                              layers.Conv2DTranspose(2, (2, 3), strides=(3, 1), activation="relu"),
                              layers.Conv2DTranspose(2, 2, dilation_rate=2, padding="same"),
                              layers.Conv2DTranspose(3, 3, strides=2, output_padding=1),
                              layers.Conv2DTranspose(2, (3, 4), strides=(3, 2), padding="same", output_padding=(2, 1)),
                              layers.Flatten()])
    # Keras' sizes: (62 - 1) x 3 + 3 % 2 + 2 rows, (22 - 1) x 2 + 4 % 2 + 1 columns
    assert model.layers[-3].output_shape == (62, 22, 3) and model.layers[-2].output_shape == (186, 43, 2)
    x = np.random.default_rng(0).standard_normal((3, 5, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(keras_predictions(model, x, tmp_path), model.predict(x, verbose=0), atol=1e-5)


def test_separable_conv2d_is_a_depthwise_then_a_pointwise_convolution(rng):
    x = rng.standard_normal((2, 6, 5, 3))
    layer = layers.SeparableConv2D(4, (3, 2), depth_multiplier=2, padding="same", activation="tanh")
    weights = _bind64(layer, x.shape[1:], rng)
    depthwise = layers.DepthwiseConv2D((3, 2), depth_multiplier=2, padding="same", use_bias=False)
    depthwise.build_sample(x.shape[1:])
    depthwise.bind([weights[0]], [np.zeros_like(weights[0])])
    pointwise = layers.Conv2D(4, 1, activation="tanh")
    pointwise.build_sample(depthwise.output_shape)
    pointwise.bind([weights[1], weights[2]], [np.zeros_like(weights[1]), np.zeros_like(weights[2])])
    np.testing.assert_allclose(layer.forward(x, True), pointwise.forward(depthwise.forward(x, True), True),
                               rtol=1e-12, atol=1e-12)
    _check_layer(layers.SeparableConv2D(4, (3, 2), depth_multiplier=2, padding="same", activation="tanh"), x, rng)


def test_the_convolution_kernels_check_their_arrays():
    from brisknet import _core
    x = np.zeros((2, 5, 5, 4), np.float32)
    window = ((3, 3), (1, 1), (1, 1), (0, 0), (3, 3))
    z = np.zeros((18, 6), np.float32)
    with pytest.raises(ValueError, match="groups must divide"):
        _core.conv2d_forward(z, x, np.zeros((18, 6), np.float32), None, *window, 4)
    with pytest.raises(ValueError, match="kh \\* kw \\* channels / groups"):
        _core.conv2d_forward(z, x, np.zeros((35, 6), np.float32), None, *window, 1)
    with pytest.raises(ValueError, match="bias: expected 6 elements"):
        _core.conv2d_forward(z, x, np.zeros((36, 6), np.float32), np.zeros(5, np.float32), *window, 1)
    with pytest.raises(TypeError, match="float32"):
        _core.conv2d_forward(z, x, np.zeros((36, 6)), None, *window, 1)
    with pytest.raises(ValueError, match="dz: expected 108 elements"):
        _core.conv2d_backward(None, np.zeros_like(x), np.zeros((17, 6), np.float32), x, np.zeros((36, 6), np.float32),
                              *window, 1)
    with pytest.raises(ValueError, match="db: expected 6 elements"):
        _core.conv2d_backward(None, None, np.zeros((18, 6), np.float32), x, np.zeros((36, 6), np.float32), *window, 1,
                              np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="output size does not fit"):
        _core.conv2d_forward(z, x, np.zeros((36, 6), np.float32), None, (3, 3), (1, 1), (1, 1), (0, 0), (9, 3), 1)


def test_the_image_moving_kernels_against_numpy(rng):
    from brisknet import _core
    x = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    padded = np.empty((2, 7, 6, 3), np.float32)
    _core.shift_image(padded, x, 1, 0)  # ZeroPadding2D(((1, 2), (0, 1)))
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))))
    cropped = np.empty((2, 3, 2, 3), np.float32)
    _core.shift_image(cropped, x, -1, -2)  # Cropping2D(((1, 0), (2, 1)))
    np.testing.assert_array_equal(cropped, x[:, 1:, 2:-1])
    back = np.empty_like(x)
    _core.shift_image(back, cropped, 1, 2)  # its gradient: the same move back, zeros elsewhere
    want = np.zeros_like(x)
    want[:, 1:, 2:-1] = cropped
    np.testing.assert_array_equal(back, want)
    up = np.empty((2, 8, 15, 3), np.float32)
    _core.upsample(up, x, 2, 3)
    np.testing.assert_array_equal(up, x.repeat(2, axis=1).repeat(3, axis=2))
    dx = np.empty_like(x)
    _core.upsample(dx, up, 2, 3, backward=True)
    np.testing.assert_allclose(dx, up.reshape(2, 4, 2, 5, 3, 3).sum(axis=(2, 4)), rtol=1e-6)
    with pytest.raises(ValueError, match="as many images of as many channels"):
        _core.shift_image(np.empty((2, 7, 6, 2), np.float32), x, 1, 0)
    with pytest.raises(ValueError, match="size times the input"):
        _core.upsample(np.empty((2, 8, 14, 3), np.float32), x, 2, 3)
    with pytest.raises(ValueError, match="size must be >= 1"):
        _core.upsample(up, x, 0, 3)


PATCHES_CHECK = r"""
import numpy as np
from brisknet import _core
rng = np.random.default_rng(0)


def patches(x, kernel, strides, dilation, pad, out, c0, cg):
    # im2col in numpy: (n * oh * ow, kh * kw * cg), taps in (kh, kw, channel) order, zeros in the padding
    n, h, w, c = x.shape
    size = [max(s + p, (k - 1) * d + (o - 1) * st + 1)
            for s, p, k, d, o, st in zip((h, w), pad, kernel, dilation, out, strides)]
    padded = np.zeros((n, size[0], size[1], c), x.dtype)
    padded[:, pad[0]:pad[0] + h, pad[1]:pad[1] + w] = x
    cols = np.empty((n, out[0], out[1], kernel[0], kernel[1], cg), x.dtype)
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            r, q = a * dilation[0], b * dilation[1]
            cols[:, :, :, a, b] = padded[:, r:r + out[0] * strides[0]:strides[0], q:q + out[1] * strides[1]:strides[1],
                                         c0:c0 + cg]
    return cols.reshape(n * out[0] * out[1], -1)


# (images, h, w, channels, kernel, strides, dilation, pad, out, groups, filters): 40 filters per
# group, so gemm packs A (fewer take its narrow path, which reads laid-out patches); 1-channel
# images, padding, strides, dilation, groups, odd widths (strips span output rows and images),
# and 100 channels of 3 x 2 taps (a tap split between k blocks on every path). (No 3 x 3 stride-1
# window of 16 channels: Winograd's forward pass, tested below.)
CASES = [(3, 12, 13, 1, (3, 3), (1, 1), (1, 1), (0, 0), (10, 11), 1, 40),
         (2, 9, 11, 6, (3, 2), (2, 1), (1, 1), (1, 0), (5, 10), 1, 41),
         (2, 8, 7, 4, (3, 3), (1, 2), (2, 1), (2, 1), (8, 4), 2, 80),
         (1, 6, 5, 100, (3, 2), (1, 1), (1, 1), (1, 1), (6, 5), 1, 40)]
for n, h, w, c, kernel, strides, dilation, pad, out, groups, filters in CASES:
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((n, h, w, c)).astype(dtype)
        cg, fg = c // groups, filters // groups
        wk = rng.standard_normal((kernel[0] * kernel[1] * cg, filters)).astype(dtype)
        bias = rng.standard_normal(filters).astype(dtype)
        dz = rng.standard_normal((n * out[0] * out[1], filters)).astype(dtype)
        window = (kernel, strides, dilation, pad, out)
        z = np.empty((n * out[0] * out[1], filters), dtype)
        _core.conv2d_forward(z, x, wk, bias, *window, groups)
        dw, db = np.empty_like(wk), np.empty_like(bias)
        _core.conv2d_backward(dw, None, dz, x, wk, *window, groups, db)
        for g in range(groups):
            cols = patches(x, kernel, strides, dilation, pad, out, g * cg, cg)
            part = slice(g * fg, (g + 1) * fg)
            want = np.empty((cols.shape[0], fg), dtype)
            _core.gemm(want, cols, np.ascontiguousarray(wk[:, part]), False, False, 0.0, np.ascontiguousarray(bias[part]))
            assert np.array_equal(z[:, part], want), ("forward", n, h, w, c, dtype)
            if n > 1 and n * out[0] * out[1] * (cols.shape[1] + 2 * filters) * x.itemsize > 128 * 1024:
                continue  # (more than one chunk of images on a small L2: dw sums partials per chunk)
            want = np.empty((cols.shape[1], fg), dtype)
            _core.gemm(want, cols, np.ascontiguousarray(dz[:, part]), True, False, 0.0)
            assert np.array_equal(dw[:, part], want), ("kernel gradient", n, h, w, c, dtype)
            want = np.empty(fg, dtype)  # (summed while that GEMM packs dz)
            _core.column_sums(want, np.ascontiguousarray(dz[:, part]), 0.0)
            assert np.array_equal(db[part], want), ("bias gradient", n, h, w, c, dtype)
print("ok")
"""


@pytest.mark.parametrize("isa", ISAS)
def test_patches_packed_from_the_images_give_the_bits_of_laid_out_patches(isa):
    """The convolution's GEMMs pack their patches straight from the images (no im2col matrix):
    forward and kernel gradient bit for bit equal to brisknet's gemm on numpy-made patches (and
    the bias gradient to column_sums), on every SIMD path (each packs strips of its own height)."""
    res = run_isa_subprocess(PATCHES_CHECK, isa)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stdout + res.stderr


WINOGRAD_CHECK = r"""
import sys
import numpy as np
import brisknet as keras
from brisknet import _core
sys.path.insert(0, %r)
from test_convolution import reference_conv2d, reference_conv2d_backward
rng = np.random.default_rng(1)
# (images, h, w, channels, filters, pad): odd and even sizes (tiles past the output's edge), 'same'
# padding, 200 images (many chunks), 600 channels (summed over several k blocks on every path),
# filters past a register tile's width
for n, h, w, c, f, pad in [(3, 13, 13, 32, 64, (0, 0)), (2, 7, 10, 17, 21, (1, 1)), (200, 10, 8, 16, 16, (0, 0)),
                           (1, 5, 4, 600, 17, (1, 1))]:
    out = (h + 2 * pad[0] - 2, w + 2 * pad[1] - 2)
    x, k, b = rng.standard_normal((n, h, w, c)), rng.standard_normal((3, 3, c, f)), rng.standard_normal(f)
    dz = rng.standard_normal((n, *out, f))
    want = reference_conv2d(x, k, b, (1, 1), (1, 1), pad, out, 1)
    want_dw, _ = reference_conv2d_backward(x, k, dz, (1, 1), (1, 1), pad, 1)
    for dtype, tolerance in ((np.float64, 1e-13), (np.float32, 2e-6)):
        got = {}
        for threads in (1, 2, 8):
            keras.set_num_threads(threads)
            xs, ks = x.astype(dtype), k.reshape(-1, f).astype(dtype)
            z, dw, db = np.empty((n * out[0] * out[1], f), dtype), np.empty_like(ks), np.empty(f, dtype)
            _core.conv2d_forward(z, xs, ks, b.astype(dtype), (3, 3), (1, 1), (1, 1), pad, out, 1)
            _core.conv2d_backward(dw, None, dz.reshape(-1, f).astype(dtype), xs, ks, (3, 3), (1, 1), (1, 1), pad, out,
                                  1, db)
            got[threads] = (z, dw, db)
        assert all(np.array_equal(a, b) for t in (2, 8) for a, b in zip(got[1], got[t])), ("threads", n, h, w, c, f)
        z, dw, db = got[1]
        for name, value, reference in (("forward", z, want), ("kernel gradient", dw, want_dw),
                                       ("bias gradient", db, dz.sum(axis=(0, 1, 2)))):
            error = np.abs(value.reshape(reference.shape) - reference).max() / np.abs(reference).max()
            assert error < tolerance, (name, n, h, w, c, f, dtype, error)
print("ok")
""" % os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize("isa", ISAS)
def test_a_3x3_stride_1_convolution_by_winograd_against_the_direct_loop(isa):
    """3 x 3, stride-1 convolutions of 16 or more channels into 16 or more filters take Winograd's
    F(2x2, 3x3) for the forward pass and the kernel gradient: against the direct loops (float64 to
    1e-13 of the largest value, float32 to 2e-6), the same bits for 1, 2 and 8 threads, on every
    SIMD path."""
    res = run_isa_subprocess(WINOGRAD_CHECK, isa)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stdout + res.stderr


def test_a_winograd_convolution_s_gradients_against_central_differences(rng):
    x = rng.standard_normal((2, 6, 5, 16))
    _check_layer(layers.Conv2D(16, 3, padding="same", activation="relu"), x, rng)
