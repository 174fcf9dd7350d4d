"""What the end-to-end benchmarks (residual_mlp.py, convnet.py) share: Keras 3 kept running in a
virtualenv of its own beside this process (tensorflow-cpu and Keras' PyTorch backend pin their own
numpy), epochs of each library interleaved with pauses for the previous library's idle threads,
and the machine's description.

Keras' interpreters: $BRISKNET_KERAS_PYTHON (Keras 3 with torch, run with KERAS_BACKEND=torch),
$BRISKNET_KERAS_TF_PYTHON (Keras 3 with tensorflow-cpu), or .venv-keras / .venv-keras-tf at the
repository's root; a side whose interpreter is missing is left out.
"""
import json
import os
import pathlib
import statistics
import subprocess
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def keras_pythons():
    """{label: (python, KERAS_BACKEND)} for the Keras installations present."""
    sides = {
        "keras 3 (tensorflow)": (os.environ.get("BRISKNET_KERAS_TF_PYTHON") or str(ROOT / ".venv-keras-tf/bin/python"),
                                 "tensorflow"),
        "keras 3 (torch)": (os.environ.get("BRISKNET_KERAS_PYTHON") or str(ROOT / ".venv-keras/bin/python"), "torch"),
    }
    return {label: side for label, side in sides.items() if os.path.exists(side[0])}


class KerasWorker:
    """A Keras process running `script`: it reads x and y from the .npy paths in sys.argv[1:3],
    prints a line once ready (imported, warmed up: nothing of it runs beside the other libraries'
    epochs), then reads one line per epoch asked for on stdin, answering with the epoch's seconds
    as JSON."""

    def __init__(self, python, backend, script, x, y, threads, name):
        tmp = pathlib.Path(os.environ.get("TMPDIR", "/tmp"))
        paths = [tmp / f"{name}_x.npy", tmp / f"{name}_y.npy"]
        np.save(paths[0], x)
        np.save(paths[1], y)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_PRELOAD")}
        env.update(KERAS_BACKEND=backend, OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
                   TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
        self.process = subprocess.Popen([python, "-c", script, *map(str, paths)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        if not self.process.stdout.readline():
            raise RuntimeError(f"the Keras worker ({python}) did not start (run its script by hand to see why)")

    def epoch(self, request):
        self.process.stdin.write(f"{request}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the Keras worker ended (run its script by hand to see why)")
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=120)


_FIT_WORKER = r"""
import json, sys, time
import numpy as np
import keras
x = np.load(sys.argv[1]); y = np.load(sys.argv[2])
{definitions}
models = {{}}
print("ready", flush=True)
for line in sys.stdin:
    batch = int(line)
    if batch not in models:
        models[batch] = make_model()
        models[batch].compile("adam", "sparse_categorical_crossentropy")
        models[batch].fit(x[:2048], y[:2048], batch_size=batch, verbose=0)  # warm-up
    start = time.perf_counter()
    models[batch].fit(x, y, batch_size=batch, epochs=1, verbose=0)
    print(json.dumps(time.perf_counter() - start), flush=True)
"""


def keras_fit_worker(definitions):
    """A KerasWorker script that trains the model `make_model()` returns (`definitions`: the Keras
    code defining it), compiled with Adam and sparse categorical cross-entropy: per batch size
    asked for, a model warmed up once, then one timed epoch per request."""
    return _FIT_WORKER.format(definitions=definitions)


def timed(run):
    """A callable that runs `run()` and returns its seconds."""
    def once():
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    return once


def interleaved(sides, repeats, pause=0.25, rounds=None):
    """{label: median seconds} of `repeats` rounds, each running every side once in turn; each
    side is a callable returning its seconds. The pause lets the last library's threads go idle.
    rounds (a dict, when given) receives every round's seconds per label."""
    seconds = {label: [] for label in sides}
    for _ in range(repeats):
        for label, run in sides.items():
            seconds[label].append(run())
            time.sleep(pause)
    if rounds is not None:
        rounds.update(seconds)
    return {label: statistics.median(v) for label, v in seconds.items()}


def machine(threads):
    import brisknet
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               "?") if os.path.exists("/proc/cpuinfo") else "?"
    return f"{cpu}, GEMM path {brisknet.cpu_info()['gemm_isa']}, {threads} threads"


def ratio_line(rates, unit="samples/s", each=False):
    """'brisknet / best peer' of {label: rate} (each: brisknet's ratio to every peer too)."""
    best = max((r for k, r in rates.items() if k != "brisknet"), default=None)
    cells = ", ".join(f"{k} {r:,.0f}" for k, r in rates.items())
    ratios = "".join(f"; brisknet / {k} {rates['brisknet'] / r:.2f}" for k, r in rates.items()
                     if k != "brisknet") if each else ""
    return f"{unit} {cells}{ratios}" + (f"; brisknet / best peer {rates['brisknet'] / best:.2f}" if best else "")


def torch_epoch(torch, net, x, y, batch, loss=None, target_dtype=np.int64, compiled=False, autocast=False):
    """One epoch of `net` (a torch.nn.Module giving logits) on (x, y) as Keras trains: a new
    shuffle, then Adam (Keras' epsilon) on each batch's loss(logits, targets) (by default the
    cross-entropy of class labels). compiled: the net runs through torch.compile (its first
    epoch compiles); autocast: forward and loss under torch.autocast("cpu", dtype=torch.bfloat16)."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    net = torch.compile(net) if compiled else net
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(target_dtype))
    loss = loss or torch.nn.functional.cross_entropy

    def epoch():
        perm = torch.randperm(xt.shape[0])
        for s in range(0, xt.shape[0], batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                value = loss(net(xt[idx]), yt[idx])
            value.backward()
            opt.step()
    return epoch


def token_cross_entropy(torch, vocab):
    """A language model's loss in PyTorch: the cross-entropy of every position's logits."""
    return lambda logits, y: torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))


def fashion_mnist_sides(samples, keras_script, name):
    """What an end-to-end benchmark starts from: x, y (the first `samples` Fashion-MNIST training
    images), torch (None when absent; set to brisknet's thread count) and a KerasWorker running
    `keras_script` per Keras installation present, with those threads; prints the machine line."""
    import brisknet
    from brisknet import reference
    (x, y), _ = reference.load_fashion_mnist()
    x, y = np.ascontiguousarray(x[:samples]), y[:samples]
    threads = brisknet.get_num_threads()
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    workers = {label: KerasWorker(python, backend, keras_script, x, y, threads, f"{name}_{backend}")
               for label, (python, backend) in keras_pythons().items()}
    print(f"# {machine(threads)}, {samples} samples per epoch")
    return x, y, torch, workers


_KERAS_TOKEN_WORKER = r"""
import json, sys, time
import numpy as np
import keras
from keras import layers, ops
x = np.load(sys.argv[1]); y = np.load(sys.argv[2])
{definitions}
model = make_model()
model.fit(x, y, batch_size={batch}, verbose=0)  # builds and compiles it: a warm-up epoch
print("ready", flush=True)
for line in sys.stdin:
    start = time.perf_counter()
    model.fit(x, y, batch_size={batch}, epochs=1, verbose=0)
    print(json.dumps(time.perf_counter() - start), flush=True)
"""

TOKEN_PEERS = ("torch eager", "torch.compile", "keras 3 (tensorflow)", "keras 3 (torch)")


def token_rates(model, x, y, batch, torch_epoch, sizes, keras_definitions=None):
    """A sequence benchmark's figures: brisknet's `model` fitting (x, y) beside the peers present
    and named in $PEERS (comma-separated, default all of TOKEN_PEERS): `torch_epoch(torch, x, y,
    compiled=False|True)` (a callable running one PyTorch epoch, eager or through torch.compile)
    and, given `keras_definitions` (Keras code defining make_model(), which returns the same
    model compiled), Keras 3 in its own virtualenvs; epochs interleaved (REPEATS, default 3), the
    same threads. Prints and returns tokens/s per side. With BF16=1 (the caller built `model` under
    mixed_bfloat16): PyTorch under bf16 autocast, and no Keras sides."""
    import brisknet
    bf16 = os.environ.get("BF16") == "1"
    repeats = int(os.environ.get("REPEATS", "3"))
    wanted = os.environ.get("PEERS", ",".join(TOKEN_PEERS)).split(",")
    threads = brisknet.get_num_threads()
    model.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, verbose=0)  # builds it; warm-up
    sides = {"brisknet": timed(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0))}
    try:
        import torch
        torch.set_num_threads(threads)
        for label, compiled in (("torch eager", False), ("torch.compile", True)):
            if label in wanted:
                # (autocast only asked of the benchmarks that take it: gpt.py, char_gpt.py)
                epoch = torch_epoch(torch, x, y, compiled=compiled, **({"autocast": True} if bf16 else {}))
                epoch()  # warm-up (compiles)
                sides[label + (" (bf16 autocast)" if bf16 else "")] = timed(epoch)
    except ImportError:
        print("# PyTorch is not installed: no PyTorch side")
    workers = []
    if keras_definitions is not None and not bf16:
        script = _KERAS_TOKEN_WORKER.format(definitions=keras_definitions, batch=batch)
        for label, (python, backend) in keras_pythons().items():
            if label in wanted:
                workers.append(KerasWorker(python, backend, script, x, y, threads, f"tokens_{backend}"))
                sides[label] = lambda w=workers[-1]: w.epoch("epoch")
    try:
        seconds = interleaved(sides, repeats)
    finally:
        for w in workers:
            w.close()
    rates = {k: x.size / v for k, v in seconds.items()}
    print(f"# {machine(threads)}; {sizes}" + (f"; brisknet mixed_bfloat16 ({brisknet.kernels.bf16_path()})" if bf16 else ""))
    print(ratio_line(rates, "tokens/s", each=True))
    return rates
