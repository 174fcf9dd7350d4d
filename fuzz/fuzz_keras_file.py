"""Fuzz target: the .keras loader (zip, config.json, model.weights.h5 through h5py). Any bytes must
give a model or a ValueError, never a crash, a hang or another exception. The input is used three
ways: as a whole archive, as the weights file of a valid archive, and as its config.json.
Run: python fuzz/fuzz_keras_file.py -max_total_time=60 (seeded with a valid archive's parts)."""
import sys

import atheris

with atheris.instrument_imports():
    import io
    import os
    import tempfile
    import zipfile

    import numpy as np

    import brisknet as keras
    from brisknet.models import MODEL_CLASSES
    from brisknet import keras_archive


def seed_archive() -> bytes:
    inputs = keras.Input((3,))  # a functional model: its config (inbound nodes) is the richer input
    h = keras.layers.Dense(4, activation="relu")(inputs)
    h = keras.layers.Add()([h, keras.layers.BatchNormalization()(h)])
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Dropout(0.5)(h)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.ones((8, 3), np.float32), np.zeros(8, int), verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(os.path.join(tmp, "seed.keras"))
        with open(os.path.join(tmp, "seed.keras"), "rb") as f:
            return f.read()


SEED = seed_archive()
with zipfile.ZipFile(io.BytesIO(SEED)) as _zf:
    SEED_CONFIG, SEED_WEIGHTS = _zf.read("config.json"), _zf.read("model.weights.h5")


def archive(config: bytes, weights: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", config)
        zf.writestr("model.weights.h5", weights)
    return buf.getvalue()


def load_and_use(data: bytes) -> None:
    try:
        model = keras_archive.load_archive(io.BytesIO(data), MODEL_CLASSES, True, "fuzz")
    except ValueError:
        return
    model.predict(np.ones((2,) + tuple(model.input_shape[1:]), np.float32), verbose=0)


def test_one_input(data: bytes) -> None:
    load_and_use(data)
    load_and_use(archive(SEED_CONFIG, data))
    load_and_use(archive(data, SEED_WEIGHTS))


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore")  # a skipped optimizer state warns; that is an answer, not a bug
    if len(sys.argv) > 1 and not sys.argv[-1].startswith("-"):  # a corpus directory: put the seeds in
        os.makedirs(sys.argv[-1], exist_ok=True)
        for name, data in (("seed_archive", SEED), ("seed_weights", SEED_WEIGHTS), ("seed_config", SEED_CONFIG)):
            with open(os.path.join(sys.argv[-1], name), "wb") as f:
                f.write(data)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
