"""The CUDA backend. Without a GPU (this project's CI): what the host side decides (device names,
the errors that say which part is missing, a build without the CUDA module); with one, the
kernels against numpy and the CUDA engine against the CPU engine, layer by layer, loss by loss,
optimizer by optimizer. The shared element-wise math (brisknet/elementwise_math.h) is what the
CPU kernels run, so test_activations, test_optimizers, test_losses and test_dropout test it."""
import os
import subprocess
import sys

import numpy as np
import pytest

import brisknet as keras
from brisknet import cuda, devices, layers

GPU = cuda.is_available()
needs_gpu = pytest.mark.skipif(not GPU, reason=f"needs a CUDA device: {cuda.why_not()}")


def test_device_names_are_parsed_as_pytorch_and_keras_spell_them():
    assert devices.parse("cpu") == ("cpu", 0) and devices.parse(" CPU ") == ("cpu", 0)
    assert devices.parse("cpu:0") == ("cpu", 0)
    for bad in ("tpu", "cuda:x", "gpu:-1", "cpu:1", ""):
        with pytest.raises(ValueError, match="unknown device"):
            devices.parse(bad)
    with pytest.raises(TypeError):
        devices.parse(0)


@pytest.mark.skipif(GPU, reason="a CUDA device is present")
def test_asking_for_cuda_without_a_device_says_what_is_missing():
    reason = cuda.why_not()
    assert reason and ("driver" in reason or "device" in reason or "without CUDA" in reason)
    for ask in (lambda: keras.set_device("cuda"), lambda: keras.Sequential([layers.Dense(2)], device="gpu:0"),
                lambda: keras.device("cuda:0").__enter__(), lambda: cuda.get_device_name(0)):
        with pytest.raises(RuntimeError, match="CUDA was asked for but cannot run here: " + reason[:20]):
            ask()
    assert keras.get_device() == "cpu" and not cuda.is_available()
    # and everything else works as before
    model = keras.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 3), np.float32), np.zeros((8, 2), np.float32), epochs=1, verbose=0)


def test_a_build_without_the_cuda_module_imports_and_trains():
    """As a CPU-only build (no CUDA toolkit): brisknet._cuda missing."""
    program = ("import sys; sys.modules['brisknet._cuda'] = None\n"
               "import numpy as np, brisknet as keras\n"
               "assert not keras.cuda.is_built() and keras.cuda.device_count() == 0\n"
               "try:\n    keras.set_device('cuda')\nexcept RuntimeError as e:\n    print(e)\n"
               "m = keras.Sequential([keras.layers.Dense(2)]); m.compile(optimizer='sgd', loss='mse')\n"
               "m.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), verbose=0)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    res = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "brisknet was built without CUDA" in res.stdout


@pytest.mark.skipif(not cuda.is_built(), reason="brisknet was built without CUDA")
def test_the_cuda_module_reports_the_machine_without_failing():
    from brisknet import _cuda
    devices_found, error = _cuda.availability()
    assert _cuda.runtime_version() >= 12000
    assert (devices_found > 0) == (error == "")


# ---------------------------------------------------------------- with a GPU

def _model(kind, seed=0):
    keras.utils.set_random_seed(seed)
    if kind == "mlp":
        return keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(48, activation="gelu"),
                                 layers.Dense(10, activation="softmax")])
    if kind == "dropout":
        return keras.Sequential([layers.Dense(64, activation="relu", kernel_regularizer="l2"), layers.Dropout(0.3),
                                 layers.Dense(10, activation="softmax")])
    if kind == "affine":
        return keras.Sequential([layers.Rescaling(0.5, offset=0.1), layers.Dense(32, activation="tanh"),
                                 layers.Activation("sigmoid"), layers.Dense(10)])
    return keras.Sequential([keras.Input(INPUTS[kind])] + CONVNETS[kind]())


# Convnets covering every image layer and option the engines run (inputs: INPUTS[kind]).
CONVNETS = {
    "simple_convnet": lambda: [  # Keras' Simple MNIST convnet, smaller
        layers.Conv2D(8, 3, activation="relu"), layers.MaxPooling2D(2), layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")],
    "conv_options": lambda: [
        layers.Conv2D(6, 3, strides=2, padding="same", groups=2, activation="tanh", kernel_regularizer="l2"),
        layers.Conv2D(4, 2, dilation_rate=2, padding="same", activation="elu"),
        layers.AveragePooling2D(2, padding="same"), layers.Flatten(), layers.Dense(10, activation="softmax")],
    "image_reshaping": lambda: [
        layers.ZeroPadding2D(((1, 2), (0, 1))), layers.Conv2D(4, 3, activation="relu", use_bias=False),
        layers.Cropping2D(((1, 0), (0, 1))), layers.UpSampling2D((2, 1)), layers.SpatialDropout2D(0.3),
        layers.DepthwiseConv2D(3, depth_multiplier=2), layers.GlobalMaxPooling2D(),
        layers.Dense(10, activation="softmax")],
    "transposed": lambda: [
        layers.Conv2DTranspose(4, 3, strides=2, output_padding=1, activation="relu"),
        layers.SeparableConv2D(5, 3, activation="relu"), layers.MaxPooling2D(3, strides=2, padding="same"),
        layers.GlobalAveragePooling2D(), layers.Dense(10, activation="softmax")],
    "conv1d": lambda: [
        layers.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu"), layers.MaxPooling1D(2),
        layers.SpatialDropout1D(0.2), layers.Conv1D(4, 3, strides=2), layers.GlobalAveragePooling1D(),
        layers.Dense(10, activation="softmax")],
}
INPUTS = {"mlp": (20,), "dropout": (20,), "affine": (20,), "simple_convnet": (12, 12, 1),
          "conv_options": (9, 9, 4), "image_reshaping": (6, 6, 3), "transposed": (5, 5, 3), "conv1d": (16, 3)}


def _train_both(kind, optimizer, loss, y_kind="sparse", batch_size=32, epochs=2):
    """The same model, weights and data trained on the CPU and on the GPU: both weights."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((300, *INPUTS[kind])).astype(np.float32)
    y = rng.integers(0, 10, 300) if y_kind == "sparse" else rng.random((300, 10)).astype(np.float32)
    results = []
    for device in ("cpu", "cuda"):
        model = _model(kind)
        model.build((None, *INPUTS[kind]))
        model.compile(optimizer=keras.optimizers.get(optimizer), loss=loss)
        with keras.device(device):
            history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
            results.append((model.get_weights(), history.history["loss"], model.predict(x, verbose=0)))
    return results


@needs_gpu
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax", "nadam", "adadelta",
                                       "lion"])
def test_the_gpu_trains_as_the_cpu_for_every_optimizer(optimizer):
    (w_cpu, l_cpu, p_cpu), (w_gpu, l_gpu, p_gpu) = _train_both("mlp", optimizer, "sparse_categorical_crossentropy")
    for a, b in zip(w_cpu, w_gpu):
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=1e-3)
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=2e-3, atol=2e-4)


@needs_gpu
@pytest.mark.parametrize("kind,loss,y_kind", [("dropout", "sparse_categorical_crossentropy", "sparse"),
                                              ("affine", "mse", "dense"), ("affine", "mae", "dense"),
                                              ("affine", "huber", "dense"), ("mlp", "categorical_crossentropy", "dense"),
                                              ("affine", "binary_crossentropy", "dense")])
def test_the_gpu_trains_as_the_cpu_for_every_layer_and_loss(kind, loss, y_kind):
    (w_cpu, l_cpu, _), (w_gpu, l_gpu, _) = _train_both(kind, "adam", loss, y_kind)
    for a, b in zip(w_cpu, w_gpu):  # the dropout masks too: the same counter-based generator
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=1e-3)


@needs_gpu
@pytest.mark.parametrize("kind", list(CONVNETS))
def test_the_gpu_trains_convnets_as_the_cpu(kind):
    (w_cpu, l_cpu, p_cpu), (w_gpu, l_gpu, p_gpu) = _train_both(kind, "adam", "sparse_categorical_crossentropy")
    for a, b in zip(w_cpu, w_gpu):  # (SpatialDropout's masks: the same counter-based generator)
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(l_gpu, l_cpu, rtol=1e-3)
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=2e-3, atol=2e-4)


@needs_gpu
@pytest.mark.parametrize("option", ["clipnorm", "global_clipnorm", "clipvalue", "sample_weight", "frozen",
                                    "normalization", "weight_decay", "batch_1024"])
def test_the_gpu_trains_as_the_cpu_with_every_option(option):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 20)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    sw = rng.random(300).astype(np.float32) if option == "sample_weight" else None
    results = []
    for device in ("cpu", "cuda"):
        model = _model("mlp")
        if option == "normalization":
            norm = layers.Normalization()
            norm.adapt(x)
            model = keras.Sequential([norm] + model.layers)
        model.build((None, 20))
        if option == "frozen":
            model.layers[1].trainable = False
        kwargs = {"clipnorm": 0.1, "global_clipnorm": 0.1, "clipvalue": 0.01, "weight_decay": 0.05}
        opt = keras.optimizers.Adam(**({option: kwargs[option]} if option in kwargs else {}))
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        with keras.device(device):
            model.fit(x, y, sample_weight=sw, batch_size=1024 if option == "batch_1024" else 32, epochs=2, verbose=0)
            results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-4)


@needs_gpu
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m,n,k", [(32, 1000, 784), (256, 1000, 1000), (1000, 10, 33), (7, 5, 3), (513, 257, 129)])
@pytest.mark.parametrize("splits", [0, 1, 3])
def test_gemm_matches_numpy_with_its_epilogue(trans_a, trans_b, m, n, k, splits):
    from brisknet import _core, _cuda
    rng = np.random.default_rng(m + n + k)
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    c, pre = _cuda.gemm(a, b, trans_a, trans_b, bias, _core.Activation.relu, 0.0, True, False, splits)
    want = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b) + bias
    np.testing.assert_allclose(pre, want, rtol=1e-4, atol=1e-3 * np.sqrt(k))
    np.testing.assert_array_equal(c, np.maximum(pre, 0))


@needs_gpu
def test_tf32_is_opt_in_and_close():
    from brisknet import _cuda
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((128, 256)).astype(np.float32), rng.standard_normal((256, 64)).astype(np.float32)
    exact, _ = _cuda.gemm(a, b)
    tf32, _ = _cuda.gemm(a, b, tf32=True)
    want = a.astype(np.float64) @ b
    assert np.abs(exact - want).max() < 1e-3 < np.abs(tf32 - want).max() < 0.1  # TF32 keeps 10 mantissa bits
    assert not cuda.allow_tf32


@needs_gpu
def test_a_run_replays_one_graph_per_shape_and_weights_come_back_only_when_read():
    model = _model("mlp")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((100, 20)).astype(np.float32)
    y = np.arange(100) % 10
    with keras.device("cuda"):
        model.fit(x, y, batch_size=32, epochs=3, verbose=0)  # per epoch one run: 3 batches of 32, one of 4
        engine = model._training_engine
        assert engine.net.graphs_captured == 2
        assert engine.parameters.stale  # the host arrays wait for a reader
        before = model.get_weights()
        assert not engine.parameters.stale
        model.set_weights([w * 0 for w in before])  # uploaded: softmax of zeros everywhere
        np.testing.assert_allclose(model.predict(x, verbose=0), 0.1, rtol=1e-6)
