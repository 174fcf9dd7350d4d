"""A few hundred generated images in class subfolders (stripes across, stripes down and a
checkerboard, each with random phase, period, brightness and heavy noise; PNG and JPEG), trained
from the folder with image_dataset_from_directory, augmentation layers and a small convnet, for
three seeds. Keras 3 on TensorFlow records its validation accuracies in
tests/keras_image_training_expected.json; test_image_training.py runs the same with brisknet as
keras and must reach them within noise.

    KERAS_BACKEND=tensorflow python tests/keras_image_training.py --record   # in a venv with Keras 3 + TF
"""
import json
import os
import sys
import tempfile

import numpy as np

EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_image_training_expected.json")
CLASSES = ("across", "checks", "down")
SIZE, PER_CLASS, EPOCHS, SEEDS = 24, 100, 15, (0, 1, 2, 3)


def make_folder(root):
    from PIL import Image
    rng = np.random.default_rng(11)
    i, j = np.mgrid[0:SIZE, 0:SIZE]
    for c, name in enumerate(CLASSES):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for k in range(PER_CLASS):
            period, phase = rng.uniform(3, 7), rng.uniform(0, 2 * np.pi)
            across, down = np.sin(2 * np.pi * i / period + phase), np.sin(2 * np.pi * j / period + phase)
            pattern = (across, across * down, down)[c]
            pixels = rng.uniform(60, 160) + 50 * pattern[..., None] + rng.normal(0, 40, (SIZE, SIZE, 3))
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            image.save(os.path.join(root, name, f"{k}.{'png' if k % 2 else 'jpg'}"))
    return root


def datasets(keras, root):
    return keras.utils.image_dataset_from_directory(root, image_size=(SIZE, SIZE), batch_size=32, seed=1337,
                                                    validation_split=0.25, subset="both", verbose=False)


def model_for(keras, seed):
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), layers.RandomFlip("horizontal", seed=seed),
                              layers.RandomTranslation(0.1, 0.1, seed=seed), layers.Rescaling(1 / 255),
                              layers.Conv2D(16, 3, activation="relu"), layers.MaxPooling2D(2),
                              layers.Conv2D(32, 3, activation="relu"), layers.GlobalAveragePooling2D(),
                              layers.Dense(len(CLASSES))])
    model.compile(keras.optimizers.Adam(0.003), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def run(keras, root):
    """{seed: final validation accuracy} after EPOCHS epochs from the folder."""
    out = {}
    for seed in SEEDS:
        train, val = datasets(keras, root)
        history = model_for(keras, seed).fit(train, validation_data=val, epochs=EPOCHS, verbose=0)
        out[str(seed)] = float(history.history["val_accuracy"][-1])
    return out


def main():
    import keras
    with tempfile.TemporaryDirectory() as root:
        result = run(keras, make_folder(root))
    if "--record" in sys.argv:
        with open(EXPECTED, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
