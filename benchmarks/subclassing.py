"""The subclassing API's benchmark (issue 25): the reference model (784 -> 1000 relu -> 1000 relu
-> 10 softmax, Adam, sparse categorical cross-entropy) written three ways in brisknet - a
Sequential, a keras.Model subclass of three Dense layers, and a Model subclass of custom layers
whose call() is ops.matmul + bias + ops.relu (the subclassing guide's Linear) - beside the same
custom-layer program in Keras 3 (on TensorFlow and on PyTorch, each in a virtualenv of its own:
peers.py) and the same model in PyTorch eager. One epoch of SAMPLES Fashion-MNIST images per
side, epochs interleaved, the same threads; prints samples/s (medians of REPEATS epochs) and the
subclassed models' rates relative to the Sequential's.

    python benchmarks/subclassing.py            # BATCHES=32,128 SAMPLES=10000 REPEATS=3
"""
import os
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the benchmarks' shared helpers, beside this file)

SAMPLES = int(os.environ.get("SAMPLES", "10000"))
BATCHES = tuple(int(b) for b in os.environ.get("BATCHES", "32,128").split(","))

# The custom-layer program, written once: brisknet runs it with `keras` = brisknet, the Keras
# workers with Keras 3 itself.
PROGRAM = r"""
class Linear(keras.layers.Layer):
    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        y = keras.ops.matmul(inputs, self.w) + self.b
        return keras.ops.relu(y) if self.activation == "relu" else y


class OpsMLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden1, self.hidden2, self.logits = Linear(1000, "relu"), Linear(1000, "relu"), Linear(10)

    def call(self, x):
        return keras.ops.softmax(self.logits(self.hidden2(self.hidden1(x))))


class DenseMLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden1 = keras.layers.Dense(1000, activation="relu")
        self.hidden2 = keras.layers.Dense(1000, activation="relu")
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.out(self.hidden2(self.hidden1(x)))
"""

KERAS_WORKER = peers.keras_fit_worker(PROGRAM + "\ndef make_model():\n    return OpsMLP()\n")


def brisknet_models():
    """{label: compiled model} of the three brisknet versions."""
    import brisknet as keras
    from brisknet import reference
    space = {"keras": keras}
    exec(PROGRAM, space)
    models = {"brisknet Sequential": reference.build_model(), "brisknet Model of Dense": space["DenseMLP"](),
              "brisknet custom layers": space["OpsMLP"]()}
    for model in models.values():
        model.compile("adam", "sparse_categorical_crossentropy")
    return models


def torch_epoch(torch, x, y, batch):
    net = torch.nn.Sequential(torch.nn.Linear(784, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 1000),
                              torch.nn.ReLU(), torch.nn.Linear(1000, 10))
    return peers.torch_epoch(torch, net, x, y, batch)


def main():
    from brisknet.models import engine
    repeats = int(os.environ.get("REPEATS", "3"))
    x, y, torch, workers = peers.fashion_mnist_sides(SAMPLES, KERAS_WORKER, "subclassing")
    results = {}
    try:
        for batch in BATCHES:
            sides = {}
            for label, model in brisknet_models().items():
                model.fit(x[:2048], y[:2048], batch_size=batch, verbose=0)  # builds it; warm-up
                why = engine.why_not(model)
                if why:
                    print(f"# {label} trains on the Python path: {why}")
                sides[label] = peers.timed(lambda m=model: m.fit(x, y, batch_size=batch, epochs=1, verbose=0))
            if torch:
                epoch = torch_epoch(torch, x, y, batch)
                epoch()
                sides["torch eager"] = peers.timed(epoch)
            for label, worker in workers.items():
                worker.epoch(batch)  # its model for this batch size: built and warmed up
                sides[label + " custom layers"] = lambda w=worker: w.epoch(batch)
            rates = {label: SAMPLES / s for label, s in peers.interleaved(sides, repeats).items()}
            seq = rates["brisknet Sequential"]
            cells = ", ".join(f"{k} {r:,.0f}" for k, r in rates.items())
            print(f"batch {batch}: samples/s {cells}")
            custom = rates["brisknet custom layers"]
            peer_cells = ", ".join(f"{k} {custom / r:.2f}x" for k, r in rates.items() if not k.startswith("brisknet"))
            print(f"batch {batch}: / Sequential: Model of Dense {rates['brisknet Model of Dense'] / seq:.3f}, custom "
                  f"layers {custom / seq:.3f}; custom layers against {peer_cells or 'no peer'}")
            results[batch] = rates
    finally:
        for w in workers.values():
            w.close()
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
