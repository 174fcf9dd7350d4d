"""Round trips with PyTorch and ONNX: the same predictions to 1e-5."""
import importlib.util

import numpy as np
import pytest

import brisknet as keras
from brisknet import interop, layers

ACTS = ["relu", "relu6", "mish", "hard_silu", "log_sigmoid", "hard_tanh", "tanh", "sigmoid", "selu", "swish", "softsign", "hard_sigmoid", "gelu", "gelu_tanh", "elu",
        "leaky_relu", "softplus", "linear"]


def model_with(acts, head="softmax"):
    keras.utils.set_random_seed(0)
    stack = [keras.Input((12,))]
    for a in acts:
        stack.append(layers.Dense(9, activation=a))
    stack += [layers.Dropout(0.3), layers.Dense(4), layers.Activation(head)]
    return keras.Sequential(stack)


def x_data(n=50):
    return np.random.default_rng(1).standard_normal((n, 12)).astype(np.float32) * 2


@pytest.mark.parametrize("head", ["softmax", "log_softmax"])
def test_to_torch_and_back(head):
    torch = pytest.importorskip("torch")
    model = model_with(ACTS, head)
    x = x_data()
    module = interop.to_torch(model).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    back = interop.from_torch(module)
    # the same stack, with the trailing Activation folded into the Dense before it
    assert [getattr(l, "activation", type(l).__name__) for l in back.layers] == ACTS + ["Dropout", head]
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


def test_from_torch_module():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.GELU(), nn.Dropout(0.1), nn.Linear(16, 8, bias=False),
                           nn.LeakyReLU(0.2), nn.Linear(8, 3), nn.Softmax(dim=1)).eval()
    x = x_data().reshape(50, 3, 4)
    model = interop.from_torch(module, input_shape=(3, 4))
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    model.compile(optimizer="adam", loss="categorical_crossentropy")  # trainable as any model
    model.fit(x, np.eye(3, dtype=np.float32)[np.arange(50) % 3], verbose=0)


def test_from_torch_refuses_what_it_cannot_translate():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    with pytest.raises(ValueError, match="Conv1d"):
        interop.from_torch(nn.Sequential(nn.Linear(4, 4), nn.Conv1d(1, 1, 1)))
    with pytest.raises(TypeError, match="Sequential"):
        interop.from_torch(nn.Linear(4, 4))


def test_activation_parameters_survive_torch_and_onnx_round_trips(tmp_path):
    """A LeakyReLU / ELU with its own parameter becomes a layer keeping it (Keras' LeakyReLU and ELU
    layers), and comes back out of to_torch and export_onnx with it."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.01), nn.Linear(6, 5), nn.ELU(0.5), nn.Linear(5, 3),
                           nn.ReLU6())
    model = interop.from_torch(module)
    assert [type(l).__name__ for l in model.layers] == ["Dense", "LeakyReLU", "Dense", "ELU", "Dense"]
    assert model.layers[-1].activation == "relu6"
    x = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32) * 4
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        back = interop.to_torch(model)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(back, want, rtol=1e-5, atol=1e-6)
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime
        model.export_onnx(tmp_path / "m.onnx")
        got = onnxruntime.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("head", ["softmax", "log_softmax", "linear"])
def test_onnx_export_runs_in_onnxruntime(tmp_path, head):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = model_with(ACTS, head)
    path = tmp_path / "m.onnx"
    model.export_onnx(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = x_data(33)
    (got,) = session.run(None, {"input": x})
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_onnx_export_with_flatten(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = keras.Sequential([keras.Input((3, 4)), layers.Flatten(), layers.Dense(5, activation="relu", use_bias=False),
                              layers.Dense(2, activation="sigmoid")])
    model.export_onnx(tmp_path / "f.onnx")
    x = x_data(7).reshape(7, 3, 4)
    (got,) = ort.InferenceSession(str(tmp_path / "f.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    np.testing.assert_allclose(got, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
