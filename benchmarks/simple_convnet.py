"""Keras' "Simple MNIST convnet" example, unchanged but for the import and the data
(Fashion-MNIST from Debian's dataset-fashion-mnist, the same arrays in both libraries): prints the
test loss and accuracy and the training samples/s.

    python benchmarks/simple_convnet.py            # brisknet
    KERAS_BACKEND=torch python benchmarks/simple_convnet.py keras   # Keras 3, in its own venv
"""
import sys
import time

import numpy as np


def load_fashion_mnist(directory="/usr/share/datasets/fashion-mnist"):
    """The four IDX files of Debian's dataset-fashion-mnist, read directly (Keras' own loader
    downloads them; brisknet's reads these same files)."""
    import gzip

    def read(name, header):
        with gzip.open(f"{directory}/{name}", "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=header)
    return ((read("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28), read("train-labels-idx1-ubyte.gz", 8)),
            (read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28), read("t10k-labels-idx1-ubyte.gz", 8)))


if sys.argv[1:2] == ["keras"]:
    import keras
    from keras import layers
else:
    import brisknet as keras
    from brisknet import layers

keras.utils.set_random_seed(1337)
num_classes = 10
input_shape = (28, 28, 1)
(x_train, y_train), (x_test, y_test) = load_fashion_mnist()
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential([
    keras.Input(shape=input_shape),
    layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Flatten(),
    layers.Dropout(0.5),
    layers.Dense(num_classes, activation="softmax"),
])
batch_size = 128
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 15
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
start = time.perf_counter()
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0)
seconds = time.perf_counter() - start
score = model.evaluate(x_test, y_test, verbose=0)
print(f"{'keras' if sys.argv[1:2] == ['keras'] else 'brisknet'}: test loss {score[0]:.4f}, test accuracy "
      f"{score[1]:.4f}, {epochs} epochs, {epochs * 54000 / seconds:,.0f} samples/s (with validation)")
