"""The bidirectional LSTM benchmark (issue 26): the keras-io example "Bidirectional LSTM on IMDB"
(Embedding(20000, 128), Bidirectional(LSTM(64, return_sequences=True)), Bidirectional(LSTM(64)),
Dense(1, sigmoid), Adam, binary cross-entropy) on random 200-token reviews, brisknet beside the
same network in PyTorch, eager and through torch.compile (nn.LSTM, bidirectional), and the
same code in Keras 3 where its virtualenvs are present, epochs interleaved, the same threads.
Prints tokens/s (medians of REPEATS epochs) and brisknet's ratio to each peer.

    python benchmarks/bilstm.py     # MAXLEN=200 BATCH=32 SAMPLES=640 REPEATS=3
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the benchmarks' shared helpers, beside this file)

SIZES = {k: int(os.environ.get(k, v)) for k, v in
         dict(VOCAB=20000, MAXLEN=200, EMBED=128, UNITS=64, BATCH=32, SAMPLES=640).items()}


def build(keras, s):
    """The example's model; keras is brisknet or Keras itself (the code is run by both)."""
    layers = keras.layers
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(s["VOCAB"], s["EMBED"])(inputs)
    x = layers.Bidirectional(layers.LSTM(s["UNITS"], return_sequences=True))(x)
    x = layers.Bidirectional(layers.LSTM(s["UNITS"]))(x)
    model = keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    model.compile("adam", "binary_crossentropy")
    return model


def brisknet_model():
    import brisknet
    return build(brisknet, SIZES)


def keras_definitions():
    import inspect
    return inspect.getsource(build) + f"\ndef make_model():\n    return build(keras, {SIZES!r})\n"


def torch_epoch(torch, x, y, compiled=False):
    nn = torch.nn
    s = SIZES

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(s["VOCAB"], s["EMBED"])
            self.lstm1 = nn.LSTM(s["EMBED"], s["UNITS"], batch_first=True, bidirectional=True)
            self.lstm2 = nn.LSTM(2 * s["UNITS"], s["UNITS"], batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * s["UNITS"], 1)

        def forward(self, tokens):
            h, _ = self.lstm1(self.emb(tokens))
            _, (last, _) = self.lstm2(h)
            return self.out(torch.cat([last[0], last[1]], dim=1))[:, 0]

    return peers.torch_epoch(torch, Net(), x.astype(np.int64), y, s["BATCH"],
                             torch.nn.functional.binary_cross_entropy_with_logits, np.float32, compiled)


def main():
    s = SIZES
    rng = np.random.default_rng(0)
    x = rng.integers(1, s["VOCAB"], (s["SAMPLES"], s["MAXLEN"]))
    y = rng.integers(0, 2, s["SAMPLES"]).astype(np.float32)
    return peers.token_rates(brisknet_model(), x, y, s["BATCH"], torch_epoch, s, keras_definitions())


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
