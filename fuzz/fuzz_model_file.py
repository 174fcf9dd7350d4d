"""Fuzz target: the model-file loader. Any bytes must give a model or a ValueError, never a crash,
a hang or another exception. Run: python fuzz/fuzz_model_file.py -max_total_time=60
(seeded with a valid file, which libFuzzer's mutations then corrupt)."""
import sys

import atheris

with atheris.instrument_imports():
    import json
    import struct

    import numpy as np
    import safetensors.numpy

    import brisknet as keras
    from brisknet.models import MODEL_CLASSES
    from brisknet import brisk_format


def seed() -> bytes:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.ones((8, 3), np.float32), np.zeros(8, int), verbose=0)
    return brisk_format.model_to_bytes(model)


def resigned(data: bytes):
    """The same tensors and metadata with a fresh checksum, so that mutations also reach the
    architecture, compile and tensor checks behind the checksum (None if not safetensors at all)."""
    try:
        tensors = safetensors.numpy.load(data)
        (n,) = struct.unpack("<Q", data[:8])
        metadata = json.loads(data[8:8 + n]).get("__metadata__") or {}
        if not isinstance(metadata, dict):
            return None
        metadata = {k: v for k, v in metadata.items() if k not in ("sha256", "format", "format_version")}
        return brisk_format.to_bytes(tensors, metadata)
    except Exception:
        return None


def load_and_use(data: bytes) -> None:
    try:
        model = brisk_format.model_from_bytes(data, MODEL_CLASSES)
    except ValueError:
        return
    model.predict(np.ones((2,) + tuple(model.input_shape[1:]), np.float32), verbose=0)


def test_one_input(data: bytes) -> None:
    load_and_use(data)
    again = resigned(data)
    if again is not None:
        load_and_use(again)


if __name__ == "__main__":
    seed_bytes = seed()
    if len(sys.argv) > 1 and not sys.argv[-1].startswith("-"):  # a corpus directory: put the seed in
        import os
        os.makedirs(sys.argv[-1], exist_ok=True)
        with open(os.path.join(sys.argv[-1], "valid.brisk"), "wb") as f:
            f.write(seed_bytes)
    test_one_input(seed_bytes)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
