"""The host side of the CUDA engine, on any machine: brisknet._cuda is replaced by
tests/fake_cuda.py, which keeps "device" copies of the weights, optimizer state and data and
trains them with the CPU engine. A model placed on the GPU must then give the CPU engine's bits,
and the copies between host and device must happen when (and only when) they are needed."""
import numpy as np
import pytest

import brisknet as keras
import fake_cuda
from brisknet import layers


@pytest.fixture
def gpu(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "brisknet._cuda", fake_cuda)
    monkeypatch.setattr(keras, "_cuda", fake_cuda, raising=False)
    assert keras.cuda.is_available() and keras.cuda.get_device_name(0).startswith("fake")
    return fake_cuda


def data(n=160):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 12)).astype(np.float32), rng.integers(0, 4, n)


def model(device=None):
    keras.utils.set_random_seed(7)
    m = keras.Sequential([layers.Dense(16, activation="relu", kernel_regularizer="l2"), layers.Dropout(0.25),
                          layers.Dense(4, activation="softmax")], device=device)
    m.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.01, 5, 0.9)),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.build((None, 12))
    return m


def on_gpu_and_cpu(scenario):
    """scenario(model(device)) for a GPU-placed model, then for a CPU one, each model made right
    before its scenario (so both see the same random draws and shuffles)."""
    return [scenario(model(device)) for device in ("cuda", None)]


def assert_same(a, b):
    """Equal bit for bit: arrays, or lists and tuples of them, or plain values."""
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_same(u, v)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def test_a_model_on_the_gpu_trains_as_on_the_cpu(gpu):
    x, y = data()

    def scenario(m):
        h = m.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_data=(x[:40], y[:40]))
        return (type(m._training_engine).__name__, m.get_weights(), h.history, m.predict(x, verbose=0),
                m.evaluate(x, y, verbose=0), m.optimizer.iterations)
    on_gpu, on_cpu = on_gpu_and_cpu(scenario)
    assert on_gpu[0] == "CudaEngine" and on_cpu[0] == "CpuEngine" and on_gpu[-1] == 15
    assert_same(on_gpu[1:], on_cpu[1:])


def test_weights_and_state_come_back_only_when_read_and_go_out_when_set(gpu):
    x, y = data()
    m = model("cuda")
    m.fit(x, y, batch_size=32, epochs=2, verbose=0)
    net = m._training_engine.net
    assert net.downloads == {"params": 0, "state": 0} and net.uploads["data"] == 1
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert net.uploads["data"] == 1  # the same data stays on the device
    weights = m.get_weights()
    m.get_weights()
    assert net.downloads == {"params": 1, "state": 2}  # once, with Adam's m and v
    m.predict(x, verbose=0)  # predicts with the training engine's device weights: no copy
    assert net.downloads["params"] == 1 and m._engine(training=False) is m._training_engine
    m.set_weights([w + 1 for w in weights])
    assert net.uploads["params"] == 2
    np.testing.assert_array_equal(net.params, np.concatenate([w.ravel() + 1 for w in weights]))
    x[0, 0] += 1  # new contents, same array: uploaded again
    m.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert net.uploads["data"] == 2


def test_saving_a_gpu_model_saves_what_the_device_trained(gpu, tmp_path):
    x, y = data()
    on_gpu = model("cuda")  # (each trained right after it is made: the same shuffles)
    on_gpu.fit(x, y, batch_size=32, epochs=2, verbose=0)
    on_cpu = model()
    on_cpu.fit(x, y, batch_size=32, epochs=2, verbose=0)
    on_gpu.save(tmp_path / "gpu.brisk")
    loaded = keras.saving.load_model(tmp_path / "gpu.brisk")
    for a, b in zip(loaded.get_weights(), on_cpu.get_weights()):
        np.testing.assert_array_equal(a, b)
    for m in (loaded, on_cpu):  # the optimizer state came along too
        m.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(loaded.get_weights(), on_cpu.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_model_moves_between_devices_with_its_weights(gpu):
    x, y = data()
    moved = model()
    moved.fit(x, y, batch_size=32, epochs=1, verbose=0)
    with keras.device("gpu:0"):
        moved.fit(x, y, batch_size=32, epochs=1, verbose=0)
    moved.fit(x, y, batch_size=32, epochs=1, verbose=0)  # back on the CPU, from the device's weights
    stays = model()
    stays.fit(x, y, batch_size=32, epochs=3, verbose=0)
    for a, b in zip(moved.get_weights(), stays.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_train_on_batch_and_evaluate_on_a_gpu_model_see_the_device_weights(gpu):
    x, y = data()

    def scenario(m):
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
        m.train_on_batch(x[:32], y[:32])
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
        return m.evaluate(x, y, verbose=0)
    assert_same(*on_gpu_and_cpu(scenario))


@pytest.mark.parametrize("kind", ["simple_convnet", "image_reshaping", "conv1d"])
def test_a_convnet_on_the_gpu_trains_through_the_device_engine(gpu, kind):
    from test_cuda import INPUTS, _model
    x = np.random.default_rng(3).standard_normal((96, *INPUTS[kind])).astype(np.float32)
    y = np.arange(96) % 10

    def scenario(device):
        m = _model(kind)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        with keras.device(device):
            history = m.fit(x, y, batch_size=32, epochs=2, verbose=0)
            assert isinstance(m._training_engine.net, gpu.Network) == (device == "cuda")
            return m.get_weights(), history.history["loss"], m.predict(x, verbose=0)
    assert_same(scenario("cuda"), scenario("cpu"))


def test_a_model_the_engine_cannot_run_says_so_on_the_gpu(gpu):
    class Doubling(layers.Layer):
        def forward(self, x, training):
            return 2 * x

        def backward(self, dy, need_dx):
            return 2 * dy

    x, y = data()
    m = keras.Sequential([layers.Dense(4), Doubling()], device="cuda")
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(RuntimeError, match="cannot train on cuda:0: layer Doubling"):
        m.fit(x, np.zeros((x.shape[0], 4), np.float32), verbose=0)
    m.compile(optimizer="sgd", loss="mse", run_eagerly=True)  # the Python path, on the CPU
    m.fit(x, np.zeros((x.shape[0], 4), np.float32), verbose=0)


def test_predicting_on_the_gpu_a_model_the_cpu_trains_uses_its_latest_weights(gpu):
    x, y = data()
    m = model()
    for _ in range(2):
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
        with keras.device("cuda"):
            on_gpu = m.predict(x, verbose=0)
        np.testing.assert_array_equal(on_gpu, m(x))  # (the layers on the host arrays: no engine switch)


def test_variables_and_layer_weights_of_a_gpu_model_read_and_write_the_device(gpu):
    x, y = data()

    def scenario(m):
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
        kernel = m.layers[0].kernel.numpy()  # what the device trained
        m.layers[2].kernel.assign(m.layers[2].kernel.numpy() * 0.5)  # goes to the device
        assigned = m.predict(x, verbose=0)
        m.layers[0].set_weights([w + 0.01 for w in m.layers[0].get_weights()])
        m.set_weights(m.get_weights())  # keeps the optimizer's state (Adam's moments)
        m.fit(x, y, batch_size=32, epochs=1, verbose=0)
        return kernel, assigned, m.get_weights(), m.predict(x, verbose=0)
    assert_same(*on_gpu_and_cpu(scenario))


def test_backup_and_restore_resumes_a_gpu_model(gpu, tmp_path):
    x, y = data()

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("crash")

    results = []
    for device in ("cuda", None):
        backup = keras.callbacks.BackupAndRestore(tmp_path / f"backup-{device}")
        m = model(device)
        with pytest.raises(RuntimeError):
            m.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[backup, Crash()])
        m = model(device)  # a new process would build it again
        m.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[backup])
        results.append(m.get_weights())
    assert_same(*results)


def test_a_subclassed_model_trains_on_the_gpu_as_on_the_cpu(gpu):
    """A Model subclass of built-in layers: its traced graph, lowered to the engine's chain of
    layers, goes to the device engine through the same seam."""
    class MLP(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = layers.Dense(16, activation="relu"), layers.Dense(4, activation="softmax")

        def call(self, x):
            return self.out(self.hidden(x))

    x, y = data()

    def scenario(place):
        keras.utils.set_random_seed(7)
        m = MLP()
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        with keras.device(place):
            h = m.fit(x, y, batch_size=32, epochs=2, verbose=0)
            return type(m._training_engine).__name__, h.history, m.get_weights(), m.predict(x, verbose=0)
    on_gpu, on_cpu = scenario("cuda"), scenario("cpu")
    assert on_gpu[0] == "CudaEngine" and on_cpu[0] == "CpuEngine"
    assert_same(on_gpu[1:], on_cpu[1:])
