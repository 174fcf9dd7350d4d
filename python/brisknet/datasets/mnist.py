"""MNIST handwritten digits: 60,000 training and 10,000 test 28x28 grayscale images."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ._source import locate

FILES = {"mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"}
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SYSTEM_DIRS = ("/usr/share/datasets/mnist",)


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays, like keras.datasets.mnist.

    `path` may be the mnist.npz file itself or a directory holding it; then $BRISKNET_DATA[/mnist],
    the user cache, /usr/share/datasets/mnist, then a sha256-checked download into the cache.
    """
    if path is not None and Path(path).is_file():
        file = Path(path)
    else:
        file = locate("mnist", FILES, path, SYSTEM_DIRS, BASE_URL,
                      hint="Put Keras' mnist.npz in a directory and pass path= or set BRISKNET_DATA.")["mnist.npz"]
    with np.load(file, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
