"""Dataset lookup order (path=, $BRISKNET_DATA, cache, Debian's directory, download) and IDX parsing."""
import gzip
import struct

import numpy as np
import pytest

from brisknet.datasets import _source, fashion_mnist, mnist
from brisknet.datasets._idx import read_idx


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_fashion(directory, n_train=6, n_test=4):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test)}
    for name, arr in arrays.items():
        write_idx(directory / name, arr)
    return arrays


@pytest.fixture
def no_network(monkeypatch, tmp_path):
    def refuse(url, dest, sha256):
        raise OSError("network disabled in tests")
    monkeypatch.setattr(_source, "_download", refuse)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("BRISKNET_DATA", raising=False)


def test_idx_roundtrip(tmp_path):
    arr = np.arange(24).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)


def test_corrupt_idx(tmp_path):
    with gzip.open(tmp_path / "bad.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01\x00\x00\x00\x09abc")
    with pytest.raises(ValueError, match="expected 9 bytes"):
        read_idx(tmp_path / "bad.gz")
    (tmp_path / "junk").write_bytes(b"junk data")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "junk")


def test_explicit_path_then_env_then_cache(no_network, tmp_path, monkeypatch):
    arrays = fake_fashion(tmp_path / "explicit")
    (x, y), (xt, yt) = fashion_mnist.load_data(path=tmp_path / "explicit")
    assert x.dtype == np.uint8 and x.shape == (6, 28, 28) and yt.shape == (4,)
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte.gz"])
    fake_fashion(tmp_path / "env" / "fashion-mnist", n_train=3)
    monkeypatch.setenv("BRISKNET_DATA", str(tmp_path / "env"))
    assert fashion_mnist.load_data()[0][0].shape[0] == 3
    monkeypatch.delenv("BRISKNET_DATA")
    fake_fashion(tmp_path / "cache" / "brisknet" / "datasets" / "fashion-mnist", n_train=2)
    assert fashion_mnist.load_data()[0][0].shape[0] == 2


def test_clear_error_lists_what_was_tried(no_network, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIRS", ("/nonexistent/fashion-mnist",))
    with pytest.raises(FileNotFoundError) as e:
        fashion_mnist.load_data()
    msg = str(e.value)
    assert "user cache" in msg and "/nonexistent/fashion-mnist" in msg and "download" in msg
    assert "apt-get install dataset-fashion-mnist" in msg


def test_mnist_npz(tmp_path, no_network):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.zeros(3, np.uint8),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, np.uint8))
    (x, _), (xt, _) = mnist.load_data(tmp_path / "mnist.npz")
    assert x.shape == (3, 28, 28) and xt.shape == (2, 28, 28)


def test_real_fashion_mnist_is_installed():
    """CI installs Debian's dataset-fashion-mnist; these are Keras' shapes and dtypes."""
    (x, y), (xt, yt) = fashion_mnist.load_data()
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and set(np.unique(y)) == set(range(10))
    assert xt.shape == (10000, 28, 28) and yt.shape == (10000,)
