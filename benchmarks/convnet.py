"""The convnet benchmark (issue 15), two parts, 2 threads unless BRISKNET_NUM_THREADS says otherwise:

1. Keras' "Simple MNIST convnet" (Conv2D(32, 3) relu, MaxPooling2D(2), Conv2D(64, 3) relu,
   MaxPooling2D(2), Flatten, Dropout(0.5), Dense(10, softmax), Adam, batch 128) trained for one
   epoch of SAMPLES=20,000 Fashion-MNIST images by brisknet, PyTorch eager (the same model in
   torch.nn, NCHW as a PyTorch user writes it) and Keras 3 on TensorFlow and on PyTorch (each in a
   virtualenv of its own, see peers.py), epochs interleaved: training samples/s, medians of
   REPEATS=3, and each side's slowest and fastest epoch.
2. Conv2D forward and backward (input and kernel gradients) at the model's two shapes, batch 128:
   GFLOP/s (a direct convolution's operations over the time) of brisknet's layer (brisknet's GEMM
   on patches packed from the images, or Winograd's F(2x2, 3x3) at the second shape) and of
   PyTorch's convolution (oneDNN), interleaved, medians of 20 calls.

    python benchmarks/convnet.py
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the benchmarks' shared helpers, beside this file)

SAMPLES, BATCH = int(os.environ.get("SAMPLES", "20000")), 128
KERAS_WORKER = r"""
import json, sys, time
import numpy as np
import keras
from keras import layers
x = np.load(sys.argv[1]); y = np.load(sys.argv[2])
model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(2),
                          layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
                          layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(x[:2048], y[:2048], batch_size=%(batch)d, verbose=0)  # warm-up (and tracing)
print("ready", flush=True)
for line in sys.stdin:
    start = time.perf_counter()
    model.fit(x, y, batch_size=%(batch)d, epochs=1, verbose=0)
    print(json.dumps(time.perf_counter() - start), flush=True)
""" % {"batch": BATCH}


def brisknet_model():
    import brisknet as keras
    from brisknet import layers
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
                              layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Flatten(), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def torch_epoch(torch, x, y, autocast=False):
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y.astype(np.int64))

    def epoch():
        perm = torch.randperm(xt.shape[0])
        for s in range(0, xt.shape[0], BATCH):
            idx = perm[s:s + BATCH]
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return epoch


def training(torch, x, y, threads, repeats):
    model = brisknet_model()
    model.fit(x[:2048], y[:2048], batch_size=BATCH, verbose=0)  # warm-up
    sides = {"brisknet": peers.timed(lambda: model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0))}
    if torch:
        epoch = torch_epoch(torch, x, y)
        epoch()
        sides["torch eager"] = peers.timed(epoch)
    workers = [peers.KerasWorker(python, backend, KERAS_WORKER, x, y, threads, "convnet_" + backend)
               for python, backend in peers.keras_pythons().values()]
    for label, worker in zip(peers.keras_pythons(), workers):
        sides[label] = lambda w=worker: w.epoch("")
    rounds = {}
    try:
        seconds = peers.interleaved(sides, repeats, rounds=rounds)
    finally:
        for w in workers:
            w.close()
    # each side's slowest and fastest epoch: a median hides a library whose epochs alternate
    print("epochs, slowest - fastest samples/s: " + ", ".join(
        f"{label} {len(x) / max(v):,.0f} - {len(x) / min(v):,.0f}" for label, v in rounds.items()))
    return {label: len(x) / s for label, s in seconds.items()}


def conv_layers(torch):
    """GFLOP/s of Conv2D forward and backward at the model's shapes: {(shape, pass): {side: rate}}."""
    import brisknet as keras
    from brisknet import layers
    rng = np.random.default_rng(0)
    out = {}
    for rows, channels, filters in ((28, 1, 32), (13, 32, 64)):
        x = rng.random((BATCH, rows, rows, channels), dtype=np.float32)
        layer = layers.Conv2D(filters, 3)
        keras.Sequential([keras.Input(x.shape[1:]), layer])  # builds it
        dy = rng.random((BATCH, rows - 2, rows - 2, filters), dtype=np.float32)
        flops = 2 * BATCH * (rows - 2) ** 2 * filters * 9 * channels
        sides = {"brisknet": {"forward": lambda: layer.forward(x, True),
                              "backward": lambda: layer.backward(dy, True)}}
        if torch:
            xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_()
            wt = torch.from_numpy(rng.random((filters, channels, 3, 3), dtype=np.float32)).requires_grad_()
            bt = torch.zeros(filters, requires_grad=True)
            dyt = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
            zt = torch.nn.functional.conv2d(xt, wt, bt)

            def torch_forward():
                with torch.no_grad():
                    torch.nn.functional.conv2d(xt, wt, bt)
            sides["torch (oneDNN)"] = {"forward": torch_forward,
                                       "backward": lambda: torch.autograd.grad(zt, (xt, wt, bt), dyt, retain_graph=True)}
        layer.forward(x, True)  # (backward reads the patches of the last forward)
        for which, scale in (("forward", 1), ("backward", 2)):  # backward: the input's and the kernel's gradients
            calls = {label: peers.timed(s[which]) for label, s in sides.items()}
            for run in calls.values():
                run()
            seconds = peers.interleaved(calls, 20, pause=0.01)
            out[(f"{rows}x{rows}x{channels} -> {filters}", which)] = {k: scale * flops / s / 1e9
                                                                      for k, s in seconds.items()}
    return out


def main():
    import brisknet
    from brisknet import reference
    repeats = int(os.environ.get("REPEATS", "3"))
    (x, y), _ = reference.load_fashion_mnist()
    x, y = np.ascontiguousarray(x[:SAMPLES].reshape(-1, 28, 28, 1)), y[:SAMPLES]
    threads = brisknet.get_num_threads()
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    print(f"# {peers.machine(threads)}, {SAMPLES} samples per epoch, batch {BATCH}")
    rates = training(torch, x, y, threads, repeats)
    print("Simple MNIST convnet: " + peers.ratio_line(rates))
    layer_rates = conv_layers(torch)
    for (shape, which), r in layer_rates.items():
        print(f"Conv2D {shape} {which}: GFLOP/s " + ", ".join(f"{k} {v:.1f}" for k, v in r.items()))
    return rates, layer_rates


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
