"""Fashion-MNIST (Zalando): 60,000 training and 10,000 test 28x28 grayscale images, 10 classes."""
from __future__ import annotations

from ._idx import read_idx
from ._source import locate

FILES = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
SYSTEM_DIRS = ("/usr/share/datasets/fashion-mnist",)


def load_data(path=None):
    """``((x_train, y_train), (x_test, y_test))`` as uint8 arrays, like keras.datasets.fashion_mnist.

    Looked up in: `path` (a directory holding the four IDX .gz files), $BRISKNET_DATA[/fashion-mnist],
    the user cache (~/.cache/brisknet/datasets/fashion-mnist), Debian's dataset-fashion-mnist package
    (/usr/share/datasets/fashion-mnist), then downloaded into the cache with a sha256 check.
    """
    p = locate("fashion-mnist", FILES, path, SYSTEM_DIRS, BASE_URL,
               hint="Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or put the "
                    "four IDX .gz files in a directory and pass path= or set BRISKNET_DATA.")
    x_train = read_idx(p["train-images-idx3-ubyte.gz"])
    y_train = read_idx(p["train-labels-idx1-ubyte.gz"])
    x_test = read_idx(p["t10k-images-idx3-ubyte.gz"])
    y_test = read_idx(p["t10k-labels-idx1-ubyte.gz"])
    return (x_train, y_train), (x_test, y_test)
