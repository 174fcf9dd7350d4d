"""Model files: round trips, training resumed bit-identically after load, and a clear error for
every kind of bad file; saves are atomic and loading never unpickles."""
import json
import os
import pathlib

import numpy as np
import pytest

import brisknet as keras
from brisknet import brisk_format, layers


def data(n=120, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), rng.integers(0, classes, n)


def make_model(dropout=False, optimizer="adam"):
    stack = [keras.Input((6,)), layers.Dense(16, activation="relu", kernel_regularizer="l2" if dropout else None)]
    if dropout:
        stack.append(layers.Dropout(0.3))
    stack.append(layers.Dense(3, activation="softmax"))
    model = keras.Sequential(stack)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_round_trip_keeps_architecture_weights_and_compile(tmp_path):
    keras.utils.set_random_seed(1)
    model = make_model(dropout=True, optimizer=keras.optimizers.AdamW(0.01, amsgrad=True, clipnorm=1.0))
    x, y = data()
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.brisk")
    loaded = keras.models.load_model(tmp_path / "m.brisk")
    assert [type(l).__name__ for l in loaded.layers] == ["Dense", "Dropout", "Dense"]
    assert loaded.layers[1].rate == 0.3 and loaded.layers[0].kernel_regularizer.l2 == 0.01
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    opt = loaded.optimizer
    assert type(opt).__name__ == "AdamW" and opt.amsgrad and opt.clipnorm == 1.0 and opt.learning_rate == 0.01
    assert opt.iterations == model.optimizer.iterations
    for name, arr in model.optimizer.state_arrays().items():
        np.testing.assert_array_equal(opt.state_arrays()[name], arr)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    uncompiled = keras.models.load_model(tmp_path / "m.brisk", compile=False)
    assert not uncompiled.compiled


@pytest.mark.parametrize("dropout", [False, True], ids=["engine", "python-path-with-dropout"])
def test_training_resumed_after_load_is_bit_identical(tmp_path, dropout):
    x, y = data()
    keras.utils.set_random_seed(7)
    straight = make_model(dropout)
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0)

    keras.utils.set_random_seed(7)
    first = make_model(dropout)
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "half.brisk")
    del first
    resumed = keras.models.load_model(tmp_path / "half.brisk")  # draws nothing from the global RNG
    resumed.fit(x, y, epochs=2, batch_size=16, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_to_json_and_model_from_json(rng):
    model = make_model()
    again = keras.models.model_from_json(model.to_json())
    assert again.get_config() == model.get_config()
    assert not again.compiled
    with pytest.raises(ValueError, match="not valid JSON"):
        keras.models.model_from_json("{nope")
    spec = json.loads(model.to_json())
    spec["config"]["layers"][0]["class_name"] = "os.system"
    with pytest.raises(ValueError, match="unknown layer class 'os.system'"):
        keras.models.model_from_json(json.dumps(spec))
    spec["config"]["layers"][0] = {"class_name": "Dense", "config": {"units": 4, "evil": 1}}
    with pytest.raises(ValueError, match="invalid layer config for Dense"):
        keras.models.model_from_json(json.dumps(spec))


def test_weights_only_round_trip_and_mismatch(tmp_path):
    model = make_model()
    model.save_weights(tmp_path / "w.safetensors")
    other = make_model()
    other.load_weights(tmp_path / "w.safetensors")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    wider = keras.Sequential([keras.Input((6,)), layers.Dense(17), layers.Dense(3)])
    with pytest.raises(ValueError, match=r"has shape \(6, 16\), the model's weight has shape \(6, 17\)"):
        wider.load_weights(tmp_path / "w.safetensors")


@pytest.fixture
def saved(tmp_path):
    model = make_model()
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "m.brisk"
    model.save(path)
    return path


def test_truncated_files(saved):
    raw = saved.read_bytes()
    for cut in (0, 5, 100, len(raw) // 2, len(raw) - 1):
        saved.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match="truncated|not a valid|not a brisknet"):
            keras.models.load_model(saved)


def test_flipped_bytes_are_caught_by_the_checksum(saved):
    raw = bytearray(saved.read_bytes())
    raw[-3] ^= 0x40  # inside the last tensor's data
    saved.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="checksum mismatch"):
        keras.models.load_model(saved)


def test_tampered_metadata_is_caught(saved):
    tensors, metadata = brisk_format.read_file(saved)
    metadata["model"] = metadata["model"].replace('"units": 16', '"units": 17')
    from safetensors.numpy import save
    saved.write_bytes(save(tensors, metadata=metadata))  # valid safetensors, stale checksum
    with pytest.raises(ValueError, match="checksum mismatch"):
        keras.models.load_model(saved)


@pytest.mark.parametrize("name", [{"class_name": "Sequential"}, ["Sequential"], 3, None])
def test_a_model_class_name_that_is_not_a_string_is_refused(saved, name):
    """(Found by fuzz/fuzz_model_file.py: a dict there gave a TypeError.) Re-signed, so that the
    checksum passes and the loader reads the architecture."""
    tensors, metadata = brisk_format.read_file(saved)
    meta = {k: v for k, v in metadata.items() if k not in ("sha256", "format", "format_version")}
    spec = json.loads(meta["model"])
    spec["class_name"] = name
    meta["model"] = json.dumps(spec)
    saved.write_bytes(brisk_format.to_bytes(tensors, meta))
    with pytest.raises(ValueError, match="expected a Sequential or Functional model"):
        keras.models.load_model(saved)
    with pytest.raises(ValueError, match="expected a Sequential or Functional model"):
        keras.models.model_from_json(json.dumps(spec))


def test_missing_extra_and_misshapen_tensors(saved):
    tensors, metadata = brisk_format.read_file(saved)
    meta = {k: v for k, v in metadata.items() if k not in ("sha256", "format", "format_version")}
    missing = dict(tensors)
    del missing["layers/0/bias"]
    brisk_format.write_file(saved, missing, meta)
    with pytest.raises(ValueError, match="missing tensor"):
        keras.models.load_model(saved)
    brisk_format.write_file(saved, {**tensors, "layers/7/kernel": np.zeros(3, np.float32)}, meta)
    with pytest.raises(ValueError, match="unexpected tensor"):
        keras.models.load_model(saved)
    name = next(n for n in tensors if n.endswith("/kernel"))
    brisk_format.write_file(saved, {**tensors, name: np.zeros((2, 2), np.float32)}, meta)
    with pytest.raises(ValueError, match="has shape"):
        keras.models.load_model(saved)
    state = {k: v for k, v in tensors.items() if k != "optimizer/m"}
    brisk_format.write_file(saved, state, meta)
    with pytest.raises(ValueError, match="optimizer state"):
        keras.models.load_model(saved)


def test_other_files_are_refused(tmp_path):
    junk = tmp_path / "junk.brisk"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(ValueError):
        keras.models.load_model(junk)
    from safetensors.numpy import save
    plain = tmp_path / "plain.brisk"
    plain.write_bytes(save({"w": np.zeros(3, np.float32)}))
    with pytest.raises(ValueError, match="not a brisknet file"):
        keras.models.load_model(plain)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        keras.models.load_model(tmp_path / "absent.brisk")
    with pytest.raises(ValueError, match="must end in '.keras'"):
        make_model().save(tmp_path / "model.h5")


def test_a_failed_save_leaves_the_previous_file_intact(saved, monkeypatch):
    before = saved.read_bytes()
    model = make_model()

    def crash(*args):
        raise KeyboardInterrupt  # as if the process were stopped between write and rename

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save(saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary file left
    monkeypatch.undo()
    with pytest.raises(FileExistsError):
        model.save(saved, overwrite=False)


def test_no_pickle_anywhere_in_the_package():
    """Except Keras' IMDB and Reuters files' ragged arrays (datasets/_npz.py): an unpickler that finds
    numpy's array-rebuilding functions only (test_datasets_text.py: a hostile file is refused)."""
    root = pathlib.Path(keras.__file__).parent
    for source in root.rglob("*.py"):
        if source == root / "datasets" / "_npz.py":
            continue
        text = source.read_text()
        assert "import pickle" not in text and "pickle.load" not in text, source


def test_a_scalar_weight_keeps_its_shape_in_a_brisk_file(tmp_path):
    """Normalization's count is a 0-d weight (Keras' shape); safetensors keeps it 0-d."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Normalization(), keras.layers.Dense(2)])
    model.layers[0].adapt(np.arange(12, dtype=np.float32).reshape(4, 3))
    model.save(tmp_path / "normalized.brisk")
    loaded = keras.models.load_model(tmp_path / "normalized.brisk")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)
