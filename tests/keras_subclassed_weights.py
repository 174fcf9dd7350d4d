"""A subclassed model whose weights sit in every place Keras 3 looks for them when it saves a
.weights.h5 file (own variables, attributes sorted with private ones last, lists and dicts of
layers, a nested Sequential, layers reached only through the model's `layers`), run by brisknet
(tests/test_subclassing.py) and by Keras 3 in its own venv:

    python keras_subclassed_weights.py keras|brisknet save|load FILE   (prints predictions as JSON)
"""
import json
import sys

import numpy as np


def program(keras):
    layers, ops = keras.layers, keras.ops

    class Linear(layers.Layer):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.count = self.add_weight(shape=(), initializer="zeros", trainable=False)
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform")
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal")

        def call(self, x):
            return ops.matmul(x, self.w) + self.b

    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.lin = Linear(6)
            self.parts = [layers.Dense(6), Linear(6)]

        def call(self, x):
            return self.parts[1](self.parts[0](self.lin(x)))

    class Net(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.zeta = layers.Dense(5)
            self.block = Block()
            self.alpha = Linear(3)
            self.heads = {"b": layers.Dense(2), "a": layers.Dense(2)}
            self.seq = keras.Sequential([layers.Dense(3), layers.Dense(3)])
            self._private = layers.Dense(3)

        def call(self, x):
            h = self.alpha(self.block(self.zeta(x)))
            return self._private(self.seq(self.heads["b"](h) + self.heads["a"](h)))
    return Net


def main(library, mode, path):
    if library == "keras":
        import keras
    else:
        import brisknet as keras
    model = program(keras)()
    model.compile("adam", "mse")
    x = np.linspace(-1, 1, 28, dtype="float32").reshape(4, 7)
    model(x)
    if mode == "save":
        model.fit(x, np.ones((4, 3), np.float32), verbose=0)
        model.save_weights(path)
    else:
        model.load_weights(path)
    print(json.dumps({"shapes": [list(w.shape) for w in model.weights],
                      "predict": model.predict(x, verbose=0).tolist()}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
