"""The functional API's benchmark (issue 14): a residual MLP with BatchNormalization on
Fashion-MNIST - Dense(512, relu), two blocks of [Dense(512, no bias) -> BatchNormalization ->
relu, added to the block's input], Dense(10, softmax), Adam - one epoch of 20,000 images at batch
128 and 512: brisknet, PyTorch eager (the same model, torch.nn) and Keras 3 (its PyTorch backend,
in a virtualenv of its own, $BRISKNET_KERAS_PYTHON or .venv-keras, kept running beside this
process), epochs interleaved, the same threads. Prints samples/s (medians of REPEATS=3 epochs).

    python benchmarks/residual_mlp.py
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

SAMPLES, WIDTH, BLOCKS = int(os.environ.get("SAMPLES", "20000")), 512, 2
KERAS_WORKER = r"""
import json, sys, time
import numpy as np
import keras
from keras import layers
x = np.load(sys.argv[1]); y = np.load(sys.argv[2])
models = {}
for line in sys.stdin:
    batch = int(line)
    if batch not in models:
        inputs = keras.Input((784,))
        h = layers.Dense(%(width)d, activation="relu")(inputs)
        for _ in range(%(blocks)d):
            r = layers.Activation("relu")(layers.BatchNormalization()(layers.Dense(%(width)d, use_bias=False)(h)))
            h = layers.Add()([h, r])
        models[batch] = keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
        models[batch].compile("adam", "sparse_categorical_crossentropy")
        models[batch].fit(x[:2048], y[:2048], batch_size=batch, verbose=0)  # warm-up
    start = time.perf_counter()
    models[batch].fit(x, y, batch_size=batch, epochs=1, verbose=0)
    print(json.dumps(time.perf_counter() - start), flush=True)
""" % {"width": WIDTH, "blocks": BLOCKS}


def brisknet_model():
    import brisknet as keras
    from brisknet import layers
    inputs = keras.Input((784,))
    h = layers.Dense(WIDTH, activation="relu")(inputs)
    for _ in range(BLOCKS):
        r = layers.Activation("relu")(layers.BatchNormalization()(layers.Dense(WIDTH, use_bias=False)(h)))
        h = layers.Add()([h, r])
    model = keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def torch_epoch(torch, x, y, batch):
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Linear(784, WIDTH)
            self.blocks = torch.nn.ModuleList(torch.nn.Sequential(
                torch.nn.Linear(WIDTH, WIDTH, bias=False), torch.nn.BatchNorm1d(WIDTH, eps=1e-3, momentum=0.01),
                torch.nn.ReLU()) for _ in range(BLOCKS))
            self.head = torch.nn.Linear(WIDTH, 10)

        def forward(self, v):
            h = torch.relu(self.stem(v))
            for block in self.blocks:
                h = h + block(h)
            return self.head(h)

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def epoch():
        perm = torch.randperm(xt.shape[0])
        for s in range(0, xt.shape[0], batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
    return epoch


def main():
    import brisknet
    from brisknet import reference
    repeats = int(os.environ.get("REPEATS", "3"))
    (x, y), _ = reference.load_fashion_mnist()
    x, y = np.ascontiguousarray(x[:SAMPLES]), y[:SAMPLES]
    threads = brisknet.get_num_threads()
    sides = {}
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    keras_python = os.environ.get("BRISKNET_KERAS_PYTHON") or \
        str(pathlib.Path(__file__).resolve().parents[1] / ".venv-keras" / "bin" / "python")
    worker = None
    if os.path.exists(keras_python):
        tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp"))
        np.save(tmp / "residual_x.npy", x)
        np.save(tmp / "residual_y.npy", y)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_PRELOAD")}
        env.update(KERAS_BACKEND="torch", OMP_NUM_THREADS=str(threads))
        worker = subprocess.Popen([keras_python, "-c", KERAS_WORKER, str(tmp / "residual_x.npy"),
                                   str(tmp / "residual_y.npy")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=env)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               "?") if os.path.exists("/proc/cpuinfo") else "?"
    print(f"# {cpu}, GEMM path {brisknet.cpu_info()['gemm_isa']}, {threads} threads, {SAMPLES} samples per epoch")
    for batch in (128, 512):
        model = brisknet_model()
        model.fit(x[:2048], y[:2048], batch_size=batch, verbose=0)  # warm-up
        runs = {"brisknet": [], "torch eager": [], "keras 3 (torch)": []}
        epoch = torch_epoch(torch, x, y, batch) if torch else None
        if epoch:
            epoch()
        for _ in range(repeats):
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            runs["brisknet"].append(time.perf_counter() - start)
            time.sleep(0.25)  # the previous library's idle threads go to sleep (conftest.py)
            if epoch:
                start = time.perf_counter()
                epoch()
                runs["torch eager"].append(time.perf_counter() - start)
                time.sleep(0.25)
            if worker:
                worker.stdin.write(f"{batch}\n")
                worker.stdin.flush()
                runs["keras 3 (torch)"].append(json.loads(worker.stdout.readline()))
                time.sleep(0.25)
        rates = {k: SAMPLES / statistics.median(v) for k, v in runs.items() if v}
        best = max((r for k, r in rates.items() if k != "brisknet"), default=None)
        cells = ", ".join(f"{k} {r:,.0f}" for k, r in rates.items())
        print(f"batch {batch}: samples/s {cells}" + (f"; brisknet / best peer {rates['brisknet'] / best:.2f}"
                                                     if best else ""))
        sides[batch] = rates
    if worker:
        worker.stdin.close()
        worker.wait(timeout=60)
    return sides


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
