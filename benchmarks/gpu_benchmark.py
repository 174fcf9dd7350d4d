"""The reference model and our SGEMM on a GPU, beside PyTorch on the same GPU (run by
benchmarks/gpu_check.sh; needs a CUDA device, and PyTorch built with CUDA for the comparisons).

- Training samples/s and time per step of the reference MLP (784-1000-1000-10, Adam) at batch
  32, 256 and 1024 on random data of Fashion-MNIST's shape (the speed does not depend on the
  values): brisknet (exact FP32), PyTorch eager with fused Adam, PyTorch torch.compile(mode=
  "reduce-overhead") (CUDA graphs), each timed over whole epochs after a warm-up epoch.
- Training samples/s of Keras' Simple MNIST convnet (benchmarks/convnet.py's model) at
  batch 128 on random 28x28x1 images: brisknet beside PyTorch eager (cuDNN), whole epochs after a
  warm-up epoch.
- SGEMM TFLOP/s at the reference model's training shapes (reference.gemm_shapes) at batch 32,
  256, 1024 and at 4096^3, ours (FP32, and TF32) beside cuBLAS through torch.matmul (FP32 with
  TF32 off, and with it on).
"""
import statistics
import sys
import time

import numpy as np

import brisknet
from brisknet import _cuda, reference

SAMPLES = 60_000
BATCHES = (32, 256, 1024)


def brisknet_epoch(batch, x, y):
    brisknet.utils.set_random_seed(0)
    model = reference.build_model()
    with brisknet.device("cuda"):
        model.fit(x[:4096], y[:4096], batch_size=batch, epochs=1, verbose=0)  # warm-up: workspaces, graphs
        times = []
        for _ in range(3):
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_epoch(batch, x, y, compiled):
    import torch
    torch.manual_seed(0)
    dev = torch.device("cuda")
    net = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 1000),
                              torch.nn.ReLU(), torch.nn.Linear(1000, 10)).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    lossf = torch.nn.CrossEntropyLoss()
    xs, ys = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)

    def step(xb, yb):
        opt.zero_grad(set_to_none=False)
        loss = lossf(net(xb), yb)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = torch.compile(step, mode="reduce-overhead")

    def epoch(n):
        order = torch.randperm(n, device=dev)
        for s in range(0, n - batch + 1, batch):  # whole batches: a compiled graph has one shape
            idx = order[s:s + batch]
            step(xs[idx], ys[idx])
        torch.cuda.synchronize()

    epoch(4096)
    epoch(4096)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        epoch(SAMPLES)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def convnet_epochs(x, y):
    """Seconds per epoch of the Simple MNIST convnet at batch 128: brisknet's, PyTorch eager's."""
    from convnet import brisknet_model  # (benchmarks/convnet.py: the CPU benchmark's model)
    brisknet.utils.set_random_seed(0)
    model = brisknet_model()
    with brisknet.device("cuda"):
        model.fit(x[:4096], y[:4096], batch_size=128, epochs=1, verbose=0)
        ours = []
        for _ in range(3):
            start = time.perf_counter()
            model.fit(x, y, batch_size=128, epochs=1, verbose=0)
            ours.append(time.perf_counter() - start)
    try:
        import torch
        from torch import nn
        dev = torch.device("cuda")
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                            nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10)).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
        lossf = nn.CrossEntropyLoss()
        xs = torch.from_numpy(x.reshape(-1, 1, 28, 28)).to(dev)
        ys = torch.from_numpy(y.astype(np.int64)).to(dev)

        def epoch(n):
            order = torch.randperm(n, device=dev)
            for s in range(0, n, 128):
                idx = order[s:s + 128]
                opt.zero_grad(set_to_none=False)
                lossf(net(xs[idx]), ys[idx]).backward()
                opt.step()
            torch.cuda.synchronize()

        epoch(4096)
        theirs = []
        for _ in range(3):
            start = time.perf_counter()
            epoch(len(x))
            theirs.append(time.perf_counter() - start)
        torch_seconds = statistics.median(theirs)
    except Exception as e:  # noqa: BLE001 - report and go on
        print(f"PyTorch: {type(e).__name__}: {e}")
        torch_seconds = float("nan")
    return statistics.median(ours), torch_seconds


def gemm_table():
    shapes = [s for b in BATCHES for s in reference.gemm_shapes(b)] + [("square 4096", 4096, 4096, 4096, False, False)]
    try:
        import torch
        cublas = torch.cuda.is_available()
    except ImportError:
        cublas = False
    print(f"\n{'shape':<22} {'ours FP32':>10} {'cuBLAS FP32':>12} {'ratio':>6} {'ours TF32':>10} {'cuBLAS TF32':>12}")
    for name, m, k, n, ta, tb in shapes:
        flops = 2.0 * m * n * k
        ours = flops / _cuda.time_gemm(m, n, k, ta, tb, False, 50) / 1e12
        ours_tf32 = flops / _cuda.time_gemm(m, n, k, ta, tb, True, 50) / 1e12
        row = f"{name:<22} {ours:>10.2f}"
        if cublas:
            a = torch.zeros((k, m) if ta else (m, k), device="cuda")
            b = torch.zeros((n, k) if tb else (k, n), device="cuda")
            results = []
            for tf32 in (False, True):
                torch.backends.cuda.matmul.allow_tf32 = tf32
                op = lambda: (a.T if ta else a) @ (b.T if tb else b)  # noqa: E731
                for _ in range(5):
                    op()
                torch.cuda.synchronize()
                start = time.perf_counter()
                for _ in range(50):
                    op()
                torch.cuda.synchronize()
                results.append(flops / ((time.perf_counter() - start) / 50) / 1e12)
            torch.backends.cuda.matmul.allow_tf32 = False
            row += f" {results[0]:>12.2f} {ours / results[0]:>6.2f} {ours_tf32:>10.2f} {results[1]:>12.2f}"
        else:
            row += f" {'-':>12} {'-':>6} {ours_tf32:>10.2f} {'-':>12}"
        print(row, flush=True)


def main():
    if not brisknet.cuda.is_available():
        sys.exit(f"no GPU: {brisknet.cuda.why_not()}")
    print(f"GPU: {brisknet.cuda.get_device_name(0)}; TFLOP/s and samples/s, {time.strftime('%Y-%m-%d')}")
    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, 784), dtype=np.float32)
    y = rng.integers(0, 10, SAMPLES)
    print(f"\nreference MLP, one epoch of {SAMPLES} samples (median of 3):")
    print(f"{'batch':>6} {'brisknet':>12} {'us/step':>8} {'torch eager':>12} {'torch compiled':>15}")
    for batch in BATCHES:
        seconds = brisknet_epoch(batch, x, y)
        row = f"{batch:>6} {SAMPLES / seconds:>12,.0f} {seconds / -(-SAMPLES // batch) * 1e6:>8.1f}"
        for compiled in (False, True):
            try:
                t = torch_epoch(batch, x, y.astype(np.int64), compiled)
                row += f" {SAMPLES // batch * batch / t:>{12 + 3 * compiled},.0f}"
            except Exception as e:  # noqa: BLE001 - report and go on
                row += f" {'failed: ' + type(e).__name__:>{12 + 3 * compiled}}"
        print(row, flush=True)
    images = rng.random((SAMPLES, 28, 28, 1), dtype=np.float32)
    ours, theirs = convnet_epochs(images, y)
    print(f"\nSimple MNIST convnet, batch 128, samples/s (median of 3 epochs of {SAMPLES}): "
          f"brisknet {SAMPLES / ours:,.0f}, torch eager {SAMPLES / theirs:,.0f}")
    gemm_table()


if __name__ == "__main__":
    main()
