"""bf16 mixed precision (issue 28): the reference model (784-1000-1000-10, ReLU, softmax, Adam)
trained on Fashion-MNIST in float32 and under mixed_bfloat16, beside PyTorch eager in float32 and
under torch.autocast("cpu", dtype=torch.bfloat16) (the same model, fused Adam), epochs interleaved:
training samples/s per batch size, medians of REPEATS=3 epochs of SAMPLES=20,000 images; the same
for the Simple MNIST convnet (convnet.py's model, batch 128; CONVNET=0 to skip). Then
(ACCURACY_EPOCHS=5, 0 to skip) test accuracy after that many full epochs, float32 against bf16.
The GPTs: BF16=1 python benchmarks/gpt.py (and char_gpt.py).

    python benchmarks/mixed_precision.py        # 2 threads unless THREADS says otherwise
"""
import os
import statistics
import sys
import time

import numpy as np

import brisknet as keras
from brisknet import kernels, reference

SAMPLES = int(os.environ.get("SAMPLES", "20000"))
REPEATS = int(os.environ.get("REPEATS", "3"))
ACCURACY_EPOCHS = int(os.environ.get("ACCURACY_EPOCHS", "5"))
THREADS = int(os.environ.get("THREADS", "2"))
BATCHES = [int(b) for b in os.environ.get("BATCHES", "32 128 512").split()]


def brisknet_side(policy, batch):
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = reference.build_model()
    keras.mixed_precision.set_global_policy("float32")
    return lambda x, y: model.fit(x, y, batch_size=batch, epochs=1, verbose=0), model


def torch_side(torch, autocast, batch):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 1000),
                              torch.nn.ReLU(), torch.nn.Linear(1000, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch(x, y):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        for i in range(0, len(xt), batch):
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(net(xt[i:i + batch]), yt[i:i + batch])
            loss.backward()
            opt.step()
    return epoch


def convnet_rates(torch, x, y):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import convnet
    images = x.reshape(-1, 28, 28, 1)
    sides = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        model = convnet.brisknet_model()
        keras.mixed_precision.set_global_policy("float32")
        model.fit(images[:1024], y[:1024], batch_size=convnet.BATCH, verbose=0)
        sides[f"brisknet {policy}"] = lambda m=model: m.fit(images, y, batch_size=convnet.BATCH, epochs=1, verbose=0)
    if torch is not None:
        for autocast in (False, True):
            epoch = convnet.torch_epoch(torch, images, y, autocast=autocast)
            epoch()
            sides["pytorch " + ("bf16 autocast" if autocast else "float32")] = epoch
    times = {name: [] for name in sides}
    for _ in range(REPEATS):
        for name, run in sides.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: len(images) / statistics.median(t) for name, t in times.items()}


def report(rate):
    for name, r in rate.items():
        print(f"  {name:<26}{r:>10.0f} samples/s")
    print(f"  bf16 / float32 (brisknet): {rate['brisknet mixed_bfloat16'] / rate['brisknet float32']:.2f}")
    if "pytorch float32" in rate:
        best = max(rate["pytorch float32"], rate["pytorch bf16 autocast"])
        print(f"  brisknet bf16 / best PyTorch: {rate['brisknet mixed_bfloat16'] / best:.2f}")


def main():
    keras.set_num_threads(THREADS)
    (x, y), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x = (x.reshape(len(x), -1) / 255.0).astype(np.float32)
    x_test = (x_test.reshape(len(x_test), -1) / 255.0).astype(np.float32)
    xs, ys = x[:SAMPLES], y[:SAMPLES]
    cpu = keras.cpu_info()
    model_name = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                      "?") if os.path.exists("/proc/cpuinfo") else "?"
    print(f"CPU: {model_name}; GEMM {cpu['gemm_isa']}; bf16 path {kernels.bf16_path()} "
          f"(available: {', '.join(kernels.bf16_paths())}); {THREADS} threads; {SAMPLES} samples, "
          f"median of {REPEATS} epochs, interleaved")
    try:
        import torch
        torch.set_num_threads(THREADS)
    except ImportError:
        torch = None
    for batch in BATCHES:
        sides = {"brisknet float32": brisknet_side("float32", batch)[0],
                 "brisknet mixed_bfloat16": brisknet_side("mixed_bfloat16", batch)[0]}
        if torch is not None:
            sides["pytorch float32"] = torch_side(torch, False, batch)
            sides["pytorch bf16 autocast"] = torch_side(torch, True, batch)
        for run in sides.values():  # warm-up
            run(xs[:2048], ys[:2048])
        times = {name: [] for name in sides}
        for _ in range(REPEATS):
            for name, run in sides.items():
                start = time.perf_counter()
                run(xs, ys)
                times[name].append(time.perf_counter() - start)
        print(f"batch {batch}:")
        report({name: SAMPLES / statistics.median(t) for name, t in times.items()})
    if os.environ.get("CONVNET", "1") != "0":
        print("Simple MNIST convnet, batch 128:")
        report(convnet_rates(torch, xs, ys))
    if ACCURACY_EPOCHS:
        print("test accuracy, full training set, batch 32, Adam, the same seed:")
        for policy in ("float32", "mixed_bfloat16"):
            run, model = brisknet_side(policy, 32)
            for _ in range(ACCURACY_EPOCHS):
                run(x, y)
            acc = float(np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test))
            print(f"  {policy:<16} after {ACCURACY_EPOCHS} epochs: {100 * acc:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
