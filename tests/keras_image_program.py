"""Images from a folder: keras.utils.image_dataset_from_directory on a small generated folder
(PNG, JPEG, BMP, class subfolders, mixed sizes) and keras.ops.image.resize, run by Keras 3 on
TensorFlow to record tests/keras_image_expected.json, and by test_image_dataset.py with brisknet
as keras.

    KERAS_BACKEND=tensorflow python tests/keras_image_program.py --record   # in a venv with Keras 3 + TF
"""
import json
import os
import sys
import tempfile

import numpy as np

EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_image_expected.json")
CLASSES = ("cat", "dog", "eel")


def make_folder(root, per_class=7):
    """class subfolders of small images of several sizes and formats (written with Pillow)."""
    from PIL import Image
    rng = np.random.default_rng(5)
    for c, name in enumerate(CLASSES):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            h, w = int(rng.integers(9, 30)), int(rng.integers(9, 30))
            pixels = (rng.random((h, w, 3)) * 60 + c * 90).astype(np.uint8)
            ext = ("png", "bmp", "jpg")[i % 3]
            Image.fromarray(pixels).save(os.path.join(root, name, f"img_{i}.{ext}"))
    os.makedirs(os.path.join(root, "eel", "nested"), exist_ok=True)
    deep = np.concatenate([np.full((12, 10, 3), 200, np.uint8), rng.integers(0, 256, (12, 10, 3), np.uint8)], axis=1)
    Image.fromarray(deep).save(os.path.join(root, "eel", "nested", "deep.png"))
    with open(os.path.join(root, "cat", "notes.txt"), "w") as f:  # not an image: left out
        f.write("not an image")
    return root


def _rounded(a, digits=3):
    return np.round(np.asarray(a, np.float64), digits).tolist()


def run(keras, root):
    ops = keras.ops
    out = {}
    rng = np.random.default_rng(1)
    x = (rng.random((2, 7, 9, 3)) * 255).astype("float32")
    for interpolation in ("bilinear", "nearest"):
        for size in ((4, 5), (11, 16), (7, 9), (3, 20)):
            out[f"resize_{interpolation}_{size[0]}x{size[1]}"] = _rounded(
                ops.convert_to_numpy(ops.image.resize(x, size, interpolation=interpolation)), 4)

    transforms = np.array([[1, 0, 0.5, 0, 1, -1.25, 0, 0],  # a translation
                           [0.8, -0.6, 3.1, 0.6, 0.8, -2.2, 0, 0],  # a rotation
                           [1.3, 0.2, -1.0, -0.1, 0.7, 0.4, 0.01, -0.02]], "float32")  # projective
    for interpolation in ("bilinear", "nearest"):
        for mode in ("reflect", "wrap", "constant", "nearest"):
            for t, transform in enumerate(transforms):
                out[f"affine_{interpolation}_{mode}_{t}"] = _rounded(ops.convert_to_numpy(ops.image.affine_transform(
                    x[:1, :, :, :1], transform[None], interpolation=interpolation, fill_mode=mode,
                    fill_value=7.0)), 3)

    def first_batch(ds):
        for batch in ds:
            return batch

    ds = keras.utils.image_dataset_from_directory(root, image_size=(16, 12), batch_size=5, shuffle=False,
                                                  verbose=False)
    out["class_names"] = list(ds.class_names)
    out["file_paths"] = [os.path.relpath(p, root) for p in ds.file_paths]
    images, labels = first_batch(ds)
    out["images_sum"] = _rounded(np.asarray(images).sum(axis=(1, 2, 3)))
    out["png_image"] = _rounded(np.asarray(images)[0, :3, :3])  # cat/img_0.png
    out["labels"] = np.asarray(labels).tolist()
    out["batches"] = sum(1 for _ in ds)
    for mode in ("categorical", "binary"):
        try:
            ds = keras.utils.image_dataset_from_directory(root, image_size=(8, 8), batch_size=4, shuffle=False,
                                                          label_mode=mode, verbose=False)
            out[f"labels_{mode}"] = np.asarray(first_batch(ds)[1]).tolist()
        except ValueError as e:
            out[f"labels_{mode}"] = "ValueError" if "2" in str(e) else str(e)
    train, val = keras.utils.image_dataset_from_directory(root, image_size=(8, 8), batch_size=4, seed=7,
                                                          validation_split=0.25, subset="both", verbose=False)
    out["train_paths"] = [os.path.relpath(p, root) for p in train.file_paths]
    out["val_paths"] = [os.path.relpath(p, root) for p in val.file_paths]
    for option in ("crop_to_aspect_ratio", "pad_to_aspect_ratio"):
        ds = keras.utils.image_dataset_from_directory(root, image_size=(10, 20), batch_size=3, shuffle=False,
                                                      verbose=False, **{option: True})
        out[option] = _rounded(np.asarray(first_batch(ds)[0]).sum(axis=(2, 3)), 2)
    # (TensorFlow decodes no BMP to one channel: the PNG files alone)
    ds = keras.utils.image_dataset_from_directory(os.path.join(root, "eel", "nested"), image_size=(6, 6),
                                                  batch_size=2, shuffle=False, color_mode="grayscale",
                                                  label_mode=None, verbose=False)
    out["grayscale"] = _rounded(np.asarray(first_batch(ds))[:, :2, :2, 0], 2)
    return out


def main():
    import keras
    with tempfile.TemporaryDirectory() as tmp:
        result = run(keras, make_folder(tmp))
    if "--record" in sys.argv:
        with open(EXPECTED, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
            f.write("\n")
    else:
        print(json.dumps(result)[:2000])


if __name__ == "__main__":
    main()
