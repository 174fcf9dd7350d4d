"""Keras 3 files: brisknet's '.keras' archives and '.weights.h5' files load in Keras 3 with the same
predictions (1e-6) and optimizer state (training continues as it does in brisknet), Keras' files load
in brisknet likewise, and damaged or hostile files raise ValueError."""
import io
import json
import os
import sys
import zipfile

import numpy as np
import pytest

import brisknet as keras
import keras_file_cases as cases
from keras3 import run_keras

h5py = pytest.importorskip("h5py")
HERE = os.path.dirname(os.path.abspath(__file__))


def _continued_close(ours, theirs, case):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5, err_msg=case)


def test_brisknet_files_load_in_keras(tmp_path):
    ours = {}
    for case in cases.CASES:
        model = cases.build(keras, case)
        cases.train(model, case)
        model.save(tmp_path / f"{case}.keras")
        model.save_weights(tmp_path / f"{case}.weights.h5")
        ours[case] = (cases.predict(model, case), model.optimizer.iterations,
                      None if case in cases.DROPOUT else cases.after_one_more_epoch(model, case))
    theirs = run_keras([os.path.join(HERE, "keras_file_cases.py"), "check", str(tmp_path)], cwd=str(tmp_path))
    for case, (pred, iterations, continued) in ours.items():
        np.testing.assert_allclose(theirs[case]["predict"], pred, atol=1e-6, err_msg=case)
        np.testing.assert_allclose(theirs[case]["weights_h5_predict"], pred, atol=1e-6, err_msg=case)
        assert theirs[case]["iterations"] == iterations == 5, case
        if continued is not None:  # Keras resumes from brisknet's optimizer state as brisknet does
            _continued_close(theirs[case]["continued"], continued, case)


def test_keras_files_load_in_brisknet(tmp_path):
    theirs = run_keras([os.path.join(HERE, "keras_file_cases.py"), "make", str(tmp_path)], cwd=str(tmp_path))
    ours = cases.check(keras, str(tmp_path))
    for case in cases.CASES:
        np.testing.assert_allclose(ours[case]["predict"], theirs[case]["predict"], atol=1e-6, err_msg=case)
        np.testing.assert_allclose(ours[case]["weights_h5_predict"], theirs[case]["predict"], atol=1e-6, err_msg=case)
        assert ours[case]["iterations"] == 5, case
        if theirs[case]["continued"] is not None:
            _continued_close(ours[case]["continued"], theirs[case]["continued"], case)


@pytest.mark.parametrize("case", cases.CASES)
def test_keras_round_trip_within_brisknet(tmp_path, case):
    """Without Keras: save -> load gives the same predictions and resumes training bit-identically."""
    model = cases.build(keras, case)
    cases.train(model, case)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(cases.predict(again, case), cases.predict(model, case))
    assert [type(l).__name__ for l in again.layers] == [type(l).__name__ for l in model.layers]
    if case not in cases.DROPOUT:
        np.testing.assert_array_equal(np.concatenate([np.ravel(w) for w in cases.after_one_more_epoch(again, case)]),
                                      np.concatenate([np.ravel(w) for w in cases.after_one_more_epoch(model, case)]))
    with zipfile.ZipFile(tmp_path / "m.keras") as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(zf.read("config.json"))
    kind = "Functional" if case.startswith("functional") else "Sequential"
    assert config["class_name"] == kind and "compile_config" in config


def test_checkpoint_into_missing_folders_in_keras_format(tmp_path):
    model = cases.build(keras, "adam")
    x, y = cases.data("adam")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(str(tmp_path / "ckpt" / "{epoch}.keras")),
        keras.callbacks.ModelCheckpoint(str(tmp_path / "w" / "x.weights.h5"), save_weights_only=True)])
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["1.keras", "2.keras"]
    assert os.listdir(tmp_path / "w") == ["x.weights.h5"]
    np.testing.assert_array_equal(keras.models.load_model(tmp_path / "ckpt" / "2.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


# ------------------------------------------------------------------------------ bad files
def _saved(tmp_path):
    model = cases.build(keras, "adam")
    path = tmp_path / "m.keras"
    model.save(path)
    return model, path


def _rewrite(path, out, config=None, weights=None, drop=()):
    with zipfile.ZipFile(path) as zf:
        entries = {n: zf.read(n) for n in zf.namelist() if n not in drop}
    if config is not None:
        entries["config.json"] = json.dumps(config).encode()
    if weights is not None:
        entries["model.weights.h5"] = weights
    with zipfile.ZipFile(out, "w") as zf:
        for n, data in entries.items():
            zf.writestr(n, data)
    return out


def _config(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json"))


def test_damaged_archives_raise_value_error(tmp_path):
    model, path = _saved(tmp_path)
    data = path.read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a valid .keras archive|damaged"):
        keras.models.load_model(tmp_path / "cut.keras")
    (tmp_path / "junk.keras").write_bytes(os.urandom(2000))
    with pytest.raises(ValueError):
        keras.models.load_model(tmp_path / "junk.keras")
    with pytest.raises(ValueError, match="no model.weights.h5"):
        keras.models.load_model(_rewrite(path, tmp_path / "noweights.keras", drop=("model.weights.h5",)))
    with zipfile.ZipFile(tmp_path / "badjson.keras", "w") as zf:
        zf.writestr("config.json", b"{not json")
        zf.writestr("model.weights.h5", b"")
    with pytest.raises(ValueError, match="not valid JSON"):
        keras.models.load_model(tmp_path / "badjson.keras")
    with pytest.raises(ValueError, match="HDF5"):
        keras.models.load_model(_rewrite(path, tmp_path / "badh5.keras", weights=b"\x89HDF junk" * 10))
    with pytest.raises(FileNotFoundError):
        keras.models.load_model(tmp_path / "absent.keras")


def test_unsupported_zip_features_raise_value_error(tmp_path):
    """Found by fuzz_keras_file.py: zipfile raised NotImplementedError for an unknown zip version."""
    _, path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")  # the last central-directory entry: 'version needed' at +6
    data[central + 6:central + 8] = (110).to_bytes(2, "little")
    (tmp_path / "v11.keras").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="zip file version|damaged|not a valid"):
        keras.models.load_model(tmp_path / "v11.keras")
    data = bytearray(path.read_bytes())
    for signature, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # every entry 'encrypted'
        at = data.find(signature)
        while at >= 0:
            data[at + flags] |= 1
            at = data.find(signature, at + 4)
    (tmp_path / "encrypted.keras").write_bytes(bytes(data))
    with pytest.raises(ValueError):
        keras.models.load_model(tmp_path / "encrypted.keras")


def test_code_and_unknown_classes_are_refused(tmp_path):
    _, path = _saved(tmp_path)
    config = _config(path)
    lam = {"module": "keras.layers", "class_name": "Lambda",
           "config": {"name": "lambda", "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAA"}}}}
    config["config"]["layers"].insert(2, lam)
    with pytest.raises(ValueError, match="is a Lambda.*never runs"):
        keras.models.load_model(_rewrite(path, tmp_path / "lambda.keras", config=config))
    config = _config(path)
    config["config"]["layers"][1]["config"]["activation"] = {"class_name": "function", "config": "os.system"}
    with pytest.raises(ValueError, match="custom activation"):
        keras.models.load_model(_rewrite(path, tmp_path / "fn.keras", config=config))
    config = _config(path)
    config["class_name"] = "MySubclassedModel"
    with pytest.raises(ValueError, match="not Sequential, Functional or registered"):
        keras.models.load_model(_rewrite(path, tmp_path / "subclassed.keras", config=config))
    config["class_name"] = "Functional"  # without a functional model's inbound nodes and input_layers
    with pytest.raises(ValueError, match="input_layers"):
        keras.models.load_model(_rewrite(path, tmp_path / "functional.keras", config=config))
    config = _config(path)
    config["config"]["layers"][1]["config"]["kernel_constraint"] = {"class_name": "ClipToAnything", "config": {}}
    with pytest.raises(ValueError, match="constraint class 'ClipToAnything' is not supported"):
        keras.models.load_model(_rewrite(path, tmp_path / "constraint.keras", config=config))
    with pytest.raises(ValueError, match="custom_objects"):
        keras.models.load_model(path, custom_objects={"x": print})


def test_weights_that_do_not_fit_are_refused(tmp_path):
    model, path = _saved(tmp_path)
    with zipfile.ZipFile(path) as zf:
        raw = zf.read("model.weights.h5")

    def edited(fn):
        buf = io.BytesIO(raw)
        with h5py.File(buf, "a") as f:
            fn(f)
        return buf.getvalue()

    def wrong_shape(f):
        del f["layers/dense_1/vars/0"]
        f["layers/dense_1/vars"].create_dataset("0", data=np.zeros((3, 3), np.float32))

    def nan_weight(f):
        f["layers/dense/vars/1"][0] = np.nan

    def text_weight(f):
        del f["layers/dense/vars/1"]
        f["layers/dense/vars"].create_dataset("1", data=np.array([b"x"] * 6))

    for fn, match in ((wrong_shape, "shape"), (nan_weight, "NaN"), (text_weight, "dtype"),
                      (lambda f: f.__delitem__("layers/dense_2"), "missing"),
                      (lambda f: f["layers/dense/vars"].create_dataset("2", data=np.zeros(3)), "holds 3 variables")):
        bad = _rewrite(path, tmp_path / f"{fn.__name__}.keras", weights=edited(fn))
        with pytest.raises(ValueError, match=match):
            keras.models.load_model(bad)
    before = model.get_weights()
    with pytest.raises(ValueError):
        model.load_weights(_rewrite(path, tmp_path / "w.keras", weights=edited(wrong_shape)))
    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="shape"):
        other.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # a failed load leaves the weights as they were


def test_an_archive_that_inflates_without_bound_is_refused(tmp_path):
    _, path = _saved(tmp_path)
    with zipfile.ZipFile(tmp_path / "bomb.keras", "w", zipfile.ZIP_DEFLATED) as zf:
        with zipfile.ZipFile(path) as src:
            zf.writestr("config.json", src.read("config.json"))
            zf.writestr("metadata.json", src.read("metadata.json"))
        zf.writestr("model.weights.h5", b"\0" * (300 << 20))  # 300 MiB of zeros, a few hundred KiB zipped
    assert os.path.getsize(tmp_path / "bomb.keras") < 2 << 20
    with pytest.raises(ValueError, match="allowed"):
        keras.models.load_model(tmp_path / "bomb.keras")


_HUGE_CLAIM = r"""
import resource, sys
import brisknet as keras
from brisknet import keras_archive
used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (used + (3 << 30), used + (3 << 30)))  # (unbounded, the machine's memory)
inputs = keras.Input((3,))  # the architecture of fuzz/fuzz_keras_file.py's seed archive
h = keras.layers.Dense(4, activation="relu")(inputs)
h = keras.layers.Add()([h, keras.layers.BatchNormalization()(h)])
model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Dropout(0.5)(h)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    keras_archive.load_h5(model, open(sys.argv[1], "rb").read(), "hostile")
except ValueError:
    print("ValueError", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) >> 10)
"""


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="under AddressSanitizer (.ci/sanitize) an allocation beyond the bound aborts the process "
                           "instead of failing, and its quarantine keeps memory resident by design")
def test_a_weights_file_claiming_huge_buffers_is_refused_within_bounded_memory():
    """A fuzzer-found weights file whose HDF5 metadata claims buffers of many GiB (before the
    bound, loading it grew the process until the kernel killed it): ValueError, having grown by
    less than the bound (in a process of its own, its address space capped at 3 GiB more)."""
    import subprocess
    from brisknet import keras_archive
    hostile = os.path.join(HERE, "fuzz_regressions", "keras_weights_huge_claim.h5")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    res = subprocess.run([sys.executable, "-c", _HUGE_CLAIM, hostile], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    kind, grown_mib = res.stdout.split()
    assert kind == "ValueError" and int(grown_mib) < (keras_archive._H5_MEMORY >> 20) + 64, res.stdout
    with keras_archive._bounded_memory(64 << 20):  # the bound itself: an allocation beyond it fails
        with pytest.raises(MemoryError):
            np.empty(1 << 30, np.uint8)
    np.empty(1 << 30, np.uint8)  # and is lifted after


def test_saving_what_keras_cannot_read_is_refused_and_loses_nothing(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="gelu_tanh")])
    target = tmp_path / "m.keras"
    target.write_bytes(b"previous")
    with pytest.raises(ValueError, match="gelu_tanh"):
        model.save(target)
    assert target.read_bytes() == b"previous"
    with pytest.raises(ValueError, match="must end in"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(FileExistsError):
        model.save(target, overwrite=False)


def test_h5py_is_needed_only_for_keras_files(tmp_path, monkeypatch):
    model = cases.build(keras, "adam")
    monkeypatch.setitem(sys.modules, "h5py", None)
    model.save(tmp_path / "native.brisk")  # the native format needs nothing more
    model.save_weights(tmp_path / "native.weights")
    with pytest.raises(ImportError, match="keras-files"):
        model.save(tmp_path / "m.keras")
    assert not os.path.exists(tmp_path / "m.keras")


def test_a_graph_of_every_functional_layer_loads_in_keras(tmp_path):
    from keras3 import keras_predictions
    from test_graph_layers import _every_layer_model
    model, x = _every_layer_model()
    for a, b in zip(keras_predictions(model, x, tmp_path), model.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, atol=1e-6)
