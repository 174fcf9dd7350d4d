"""Keras 3's mixed precision (keras.mixed_precision, dtype="mixed_bfloat16"): the policy API, bf16
training in the engine equal to the Python reference path bit for bit, within tolerance of float32
and on every bf16 path, and the policy kept through .keras and .brisk files."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import kernels, layers


@pytest.fixture(autouse=True)
def float32_after():
    yield
    keras.mixed_precision.set_global_policy("float32")


def test_policy_api():
    p = keras.mixed_precision.DTypePolicy("mixed_bfloat16")
    assert (p.name, p.compute_dtype, p.variable_dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    assert keras.mixed_precision.Policy is keras.DTypePolicy
    assert keras.mixed_precision.global_policy().name == "float32"
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    assert keras.config.dtype_policy() == p
    dense = layers.Dense(3)
    assert dense.dtype_policy == p and dense.dtype == "float32" and dense.compute_dtype == "bfloat16"
    assert layers.Dense(3, dtype="float32").compute_dtype == "float32"  # a layer's own dtype wins
    keras.config.set_dtype_policy(None)
    assert layers.Dense(3).dtype_policy.name == "float32"
    assert layers.Dense(3, dtype=p).dtype_policy is not None
    assert layers.Dense(3, dtype={"class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}).compute_dtype == "bfloat16"
    for bad in ("mixed_float16", "int8", "bfloat16x"):
        with pytest.raises(ValueError, match="not supported"):
            layers.Dense(3, dtype=bad)
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        keras.mixed_precision.set_global_policy("mixed_float16")


def data(rng, n=512, d=40, classes=5):
    centers = rng.standard_normal((classes, d)).astype(np.float32) * 2
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.standard_normal((n, d)).astype(np.float32)
    return x, y


def mlp(dtype=None):
    return keras.Sequential([keras.Input((40,)), layers.Dense(64, activation="relu", dtype=dtype),
                             layers.Dense(32, activation="tanh", dtype=dtype), layers.Dense(5, activation="softmax")])


def fit(x, y, eager, dtype="mixed_bfloat16", epochs=3):
    keras.utils.set_random_seed(7)
    model = mlp(dtype)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=eager)
    h = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return model, h.history


def test_engine_equals_reference_path_in_bf16(rng):
    x, y = data(rng)
    fast, h_fast = fit(x, y, eager=False)
    ref, h_ref = fit(x, y, eager=True)
    assert fast._training_engine is not None and getattr(ref, "_training_engine", None) is None
    assert h_fast == h_ref
    for a, b in zip(fast.get_weights(), ref.get_weights()):
        assert a.dtype == np.float32  # variables stay float32
        np.testing.assert_array_equal(a, b)


def test_bf16_training_tracks_float32(rng):
    x, y = data(rng)
    bf16, h16 = fit(x, y, eager=False, epochs=4)
    f32, h32 = fit(x, y, eager=False, dtype="float32", epochs=4)
    # different bits (the products were rounded), the same training
    assert not np.array_equal(bf16.get_weights()[0], f32.get_weights()[0])
    assert abs(h16["loss"][-1] - h32["loss"][-1]) < 0.05 * h32["loss"][0]
    assert abs(h16["accuracy"][-1] - h32["accuracy"][-1]) <= 0.02
    assert bf16.predict(x, verbose=0).dtype == np.float32


@pytest.mark.parametrize("path", kernels.bf16_paths())
def test_every_path_trains(rng, path):
    before = kernels.bf16_path()
    kernels.set_bf16_path(path)
    try:
        x, y = data(rng)
        _, h = fit(x, y, eager=False, epochs=2)
    finally:
        kernels.set_bf16_path(before)
    assert h["loss"][-1] < h["loss"][0] and h["accuracy"][-1] > 0.9


@pytest.mark.parametrize("suffix", [".keras", ".brisk"])
def test_policy_survives_saving(rng, tmp_path, suffix):
    pytest.importorskip("h5py") if suffix == ".keras" else None
    x, y = data(rng)
    model, _ = fit(x, y, eager=False, epochs=1)
    model.save(tmp_path / f"m{suffix}")
    loaded = keras.models.load_model(tmp_path / f"m{suffix}")
    assert [l.dtype_policy.name for l in loaded.layers] == ["mixed_bfloat16", "mixed_bfloat16", "float32"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
