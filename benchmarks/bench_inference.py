"""Inference of the reference model: batch-1 latency and batch-1024 throughput, brisknet beside a
numpy forward pass, PyTorch eager and ONNX Runtime on the model brisknet exports (CPU provider;
each skipped where absent), same weights, same threads."""
import numpy as np
import pytest

import brisknet
from brisknet import reference


@pytest.fixture(scope="module")
def model_and_weights():
    brisknet.utils.set_random_seed(0)
    model = reference.build_model()
    model.build((None, reference.FEATURES))
    return model, model.get_weights()


def numpy_forward(weights, x):
    (w1, b1, w2, b2, w3, b3) = weights
    h = np.maximum(x @ w1 + b1, 0)
    h = np.maximum(h @ w2 + b2, 0)
    z = h @ w3 + b3
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def torch_net(weights):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(brisknet.get_num_threads())
    (w1, b1, w2, b2, w3, b3) = weights
    net = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 1000),
                              torch.nn.ReLU(), torch.nn.Linear(1000, 10), torch.nn.Softmax(dim=1))
    with torch.no_grad():
        for lin, (w, b) in zip([net[0], net[2], net[4]], [(w1, b1), (w2, b2), (w3, b3)]):
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    return torch, net


def onnxruntime_session(model, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    path = str(tmp_path / "reference.onnx")
    model.export_onnx(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = brisknet.get_num_threads()
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session, session.get_inputs()[0].name


@pytest.mark.parametrize("batch", [1, 1024])
@pytest.mark.parametrize("impl", ["brisknet", "numpy", "torch_eager", "onnxruntime"])
def test_predict(benchmark, model_and_weights, batch, impl, tmp_path):
    model, weights = model_and_weights
    benchmark.group = f"predict batch {batch}"
    x = np.random.default_rng(1).random((batch, reference.FEATURES), dtype=np.float32)
    want = numpy_forward(weights, x)
    if impl == "brisknet":
        out = benchmark(model.predict, x, batch_size=batch, verbose=0)
    elif impl == "numpy":
        out = benchmark(numpy_forward, weights, x)
    elif impl == "onnxruntime":
        session, name = onnxruntime_session(model, tmp_path)
        out = benchmark(session.run, None, {name: x})[0]
    else:
        torch, net = torch_net(weights)
        xt = torch.from_numpy(x)

        def run():
            with torch.no_grad():
                return net(xt)
        out = benchmark(run).numpy()
    benchmark.extra_info["samples"] = batch
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-6)
