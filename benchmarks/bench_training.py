"""One training epoch of the reference model on Fashion-MNIST (60,000 samples), brisknet beside
a hand-written numpy script (OpenBLAS) and PyTorch eager on the same threads in the same run (the
torch part skips when torch is absent).

Run: python -m pytest benchmarks/bench_training.py --benchmark-only
samples/s = 60,000 / the median epoch time.
"""
import numpy as np
import pytest

import brisknet
from brisknet import reference


@pytest.mark.parametrize("batch_size", [32, 128, 512])
def test_epoch_brisknet(benchmark, fashion_mnist, batch_size):
    benchmark.group = f"epoch batch {batch_size}"
    (x, y), _ = fashion_mnist
    brisknet.utils.set_random_seed(0)
    model = reference.build_model()
    result = benchmark.pedantic(lambda: model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0),
                                rounds=3, iterations=1, warmup_rounds=0)
    benchmark.extra_info["samples"] = x.shape[0]
    assert np.isfinite(result.history["loss"][0])


@pytest.mark.parametrize("batch_size", [32, 128, 512])
def test_epoch_torch_eager(benchmark, fashion_mnist, batch_size):
    torch = pytest.importorskip("torch")
    benchmark.group = f"epoch batch {batch_size}"
    torch.set_num_threads(brisknet.get_num_threads())
    torch.manual_seed(0)
    (x, y), _ = fashion_mnist
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    net = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 1000),
                              torch.nn.ReLU(), torch.nn.Linear(1000, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        perm = torch.randperm(x.shape[0])
        for s in range(0, x.shape[0], batch_size):
            idx = perm[s:s + batch_size]
            opt.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        return loss.item()

    last = benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=0)
    benchmark.extra_info["samples"] = x.shape[0]
    assert np.isfinite(last)


def numpy_training_epoch(params, moments, x, y, batch_size, rng, step, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """What a numpy user writes: forward, softmax cross-entropy, backward, Keras' Adam, in place."""
    perm = rng.permutation(x.shape[0])
    for s in range(0, x.shape[0], batch_size):
        idx = perm[s:s + batch_size]
        xb, yb, n = x[idx], y[idx], len(idx)
        w1, c1, w2, c2, w3, c3 = params
        z1 = xb @ w1 + c1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ w2 + c2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ w3 + c3
        z3 -= z3.max(axis=1, keepdims=True)
        np.exp(z3, out=z3)
        z3 /= z3.sum(axis=1, keepdims=True)
        z3[np.arange(n), yb] -= 1
        z3 /= n  # d loss / d logits
        dh2 = z3 @ w3.T
        dh2 *= z2 > 0
        dh1 = dh2 @ w2.T
        dh1 *= z1 > 0
        grads = [xb.T @ dh1, dh1.sum(0), h1.T @ dh2, dh2.sum(0), h2.T @ z3, z3.sum(0)]
        step += 1
        rate = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
        for p, g, (m, v) in zip(params, grads, moments):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= rate * m / (np.sqrt(v) + eps)
    return step


@pytest.mark.parametrize("batch_size", [32, 128, 512])
def test_epoch_numpy(benchmark, fashion_mnist, batch_size):
    benchmark.group = f"epoch batch {batch_size}"
    (x, y), _ = fashion_mnist
    brisknet.utils.set_random_seed(0)
    model = reference.build_model()
    model.build((None, reference.FEATURES))
    params = [w.copy() for w in model.get_weights()]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    rng = np.random.default_rng(0)
    steps = [0]

    def epoch():
        steps[0] = numpy_training_epoch(params, moments, x, y, batch_size, rng, steps[0])

    benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=0)
    benchmark.extra_info["samples"] = x.shape[0]
    assert all(np.isfinite(p).all() for p in params)
