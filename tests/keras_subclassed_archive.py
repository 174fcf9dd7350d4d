"""A registered subclassed model (and a registered custom layer inside a Sequential) saved as a
.keras archive by one library and loaded by the other, run by brisknet (tests/test_subclassing.py)
and by Keras 3 in its own venv:

    python keras_subclassed_archive.py keras|brisknet save|load DIR   (prints predictions as JSON)
"""
import json
import os
import sys

import numpy as np


def program(keras):
    layers, ops = keras.layers, keras.ops

    @keras.saving.register_keras_serializable(package="brisknet_tests")
    class Scale(layers.Layer):
        def __init__(self, units=4, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform")
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal")

        def call(self, x):
            return ops.tanh(ops.matmul(x, self.w) + self.b)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @keras.saving.register_keras_serializable(package="brisknet_tests")
    class Net(keras.Model):
        def __init__(self, hidden=8, **kwargs):
            super().__init__(**kwargs)
            self.hidden = hidden
            self.scale = Scale(hidden)
            self.out = layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.out(self.scale(x))

        def get_config(self):
            return {**super().get_config(), "hidden": self.hidden}
    return Net, Scale


def main(library, mode, folder):
    if library == "keras":
        import keras
    else:
        import brisknet as keras
    Net, Scale = program(keras)
    x = np.linspace(-1, 1, 28, dtype="float32").reshape(4, 7)
    y = np.array([0, 1, 2, 1])
    if mode == "save":
        model = Net(hidden=5)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=2, verbose=0)
        model.save(os.path.join(folder, f"{library}_net.keras"))
        seq = keras.Sequential([keras.Input((7,)), Scale(6), keras.layers.Dense(2)])
        seq.save(os.path.join(folder, f"{library}_seq.keras"))
    else:
        other = "brisknet" if library == "keras" else "keras"
        model = keras.saving.load_model(os.path.join(folder, f"{other}_net.keras"))
        seq = keras.saving.load_model(os.path.join(folder, f"{other}_seq.keras"))
    print(json.dumps({"net": model.predict(x, verbose=0).tolist(), "seq": seq.predict(x, verbose=0).tolist(),
                      "hidden": model.scale.units, "class": type(model).__name__}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
