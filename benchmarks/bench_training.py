"""One training epoch of the reference model on Fashion-MNIST (60,000 samples), brisknet beside
PyTorch eager on the same threads in the same run (torch part skips when torch is absent).

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
