"""The functional API's benchmark (issue 14): a residual MLP with BatchNormalization on
Fashion-MNIST - Dense(512, relu), two blocks of [Dense(512, no bias) -> BatchNormalization ->
relu, added to the block's input], Dense(10, softmax), Adam - one epoch of 20,000 images at batch
128 and 512: brisknet, PyTorch eager (the same model, torch.nn) and Keras 3 (on TensorFlow and on
PyTorch, each in a virtualenv of its own, kept running beside this process: peers.py), epochs interleaved, the
same threads. Prints samples/s (medians of REPEATS=3 epochs).

    python benchmarks/residual_mlp.py
"""
import os
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the benchmarks' shared helpers, beside this file)

SAMPLES, WIDTH, BLOCKS = int(os.environ.get("SAMPLES", "20000")), 512, 2
KERAS_WORKER = peers.keras_fit_worker(r"""
from keras import layers
def make_model():
    inputs = keras.Input((784,))
    h = layers.Dense(%(width)d, activation="relu")(inputs)
    for _ in range(%(blocks)d):
        r = layers.Activation("relu")(layers.BatchNormalization()(layers.Dense(%(width)d, use_bias=False)(h)))
        h = layers.Add()([h, r])
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
""" % {"width": WIDTH, "blocks": BLOCKS})


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

    return peers.torch_epoch(torch, Net(), x, y, batch)


def main():
    repeats = int(os.environ.get("REPEATS", "3"))
    x, y, torch, workers = peers.fashion_mnist_sides(SAMPLES, KERAS_WORKER, "residual")
    results = {}
    try:
        for batch in (128, 512):
            model = brisknet_model()
            model.fit(x[:2048], y[:2048], batch_size=batch, verbose=0)  # warm-up
            sides = {"brisknet": peers.timed(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0))}
            if torch:
                epoch = torch_epoch(torch, x, y, batch)
                epoch()
                sides["torch eager"] = peers.timed(epoch)
            for label, worker in workers.items():
                worker.epoch(batch)  # its model for this batch size: built and warmed up
                sides[label] = lambda w=worker: w.epoch(batch)
            rates = {label: SAMPLES / s for label, s in peers.interleaved(sides, repeats).items()}
            print(f"batch {batch}: " + peers.ratio_line(rates))
            results[batch] = rates
    finally:
        for w in workers.values():
            w.close()
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
