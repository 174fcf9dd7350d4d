"""Images from files: the resize kernel against numpy and TensorFlow, image_dataset_from_directory
against Keras 3 on TensorFlow (tests/keras_image_expected.json, recorded by
keras_image_program.py), training from a folder, the image utilities, and clear errors for bad
folders and files."""
import json
import os

import numpy as np
import pytest

pytest.importorskip("PIL")

import brisknet as keras  # noqa: E402
from brisknet import _core, images  # noqa: E402

from keras_image_program import EXPECTED, make_folder, run  # noqa: E402


def reference_resize(x, size, interpolation):
    """TensorFlow's half-pixel resize written out in numpy (float64 coordinates)."""
    n, h, w, c = x.shape
    oh, ow = size
    x = x.astype(np.float64)

    def taps(out, size_in):
        at = (np.arange(out) + 0.5) * (size_in / out)
        if interpolation == "nearest":
            i = np.clip(np.floor(at).astype(int), 0, size_in - 1)
            return i, i, np.zeros(out)
        at = at - 0.5
        lo = np.clip(np.floor(at).astype(int), 0, size_in - 1)
        hi = np.clip(np.ceil(at).astype(int), 0, size_in - 1)
        return lo, hi, at - np.floor(at)

    y0, y1, dy = taps(oh, h)
    x0, x1, dx = taps(ow, w)
    top = x[:, y0][:, :, x0] + (x[:, y0][:, :, x1] - x[:, y0][:, :, x0]) * dx[None, None, :, None]
    bottom = x[:, y1][:, :, x0] + (x[:, y1][:, :, x1] - x[:, y1][:, :, x0]) * dx[None, None, :, None]
    return top + (bottom - top) * dy[None, :, None, None]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("size", [(4, 5), (13, 17), (7, 9), (1, 1), (3, 30)])
def test_resize_against_numpy(interpolation, dtype, size):
    rng = np.random.default_rng(0)
    x = (rng.random((3, 7, 9, 2)) * 255).astype(dtype)
    got = images.resize(x, size, interpolation)
    assert got.dtype == (np.float64 if dtype == np.float64 else np.float32) and got.shape == (3,) + size + (2,)
    np.testing.assert_allclose(got, reference_resize(x, size, interpolation), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(images.resize(x[1], size, interpolation), got[1])  # one image alone


def test_resize_is_bit_identical_across_thread_counts():
    x = (np.random.default_rng(1).random((4, 33, 41, 3)) * 255).astype(np.float32)
    before = _core.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            _core.set_num_threads(threads)
            results.append(images.resize(x, (57, 29)))
    finally:
        _core.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_resize_refuses_bad_arguments():
    x = np.zeros((1, 4, 4, 3), np.float32)
    with pytest.raises(ValueError, match="interpolation"):
        images.resize(x, (2, 2), "bicubic")
    with pytest.raises(ValueError, match="size"):
        images.resize(x, (0, 2))
    with pytest.raises(ValueError, match="shape"):
        images.resize(np.zeros((4, 4)), (2, 2))
    with pytest.raises(ValueError, match="at least one pixel"):
        _core.resize_images(np.empty((1, 2, 2, 3), np.float32), np.zeros((1, 0, 4, 3), np.float32))
    with pytest.raises(TypeError, match="uint8, float32 or float64"):
        _core.resize_images(np.empty((1, 2, 2, 3), np.float32), np.zeros((1, 4, 4, 3), np.int64))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(str(tmp_path_factory.mktemp("images")))


@pytest.fixture(scope="module")
def ours(folder):
    return run(keras, folder)


EXPECTED_VALUES = json.load(open(EXPECTED))


@pytest.mark.parametrize("key", sorted(k for k in EXPECTED_VALUES if k.startswith(("resize", "affine"))))
def test_resampling_agrees_with_tensorflow(ours, key):
    """keras.ops.image.resize and affine_transform (every interpolation and fill mode)."""
    np.testing.assert_allclose(ours[key], EXPECTED_VALUES[key], atol=2e-3)


@pytest.mark.parametrize("key", ["class_names", "file_paths", "labels", "batches", "labels_categorical",
                                 "labels_binary", "train_paths", "val_paths"])
def test_directory_indexing_agrees_with_keras(ours, key):
    """The files Keras lists, in Keras' order (its seeded shuffle), and their labels."""
    assert ours[key] == EXPECTED_VALUES[key]


@pytest.mark.parametrize("key, tol", [("png_image", 1e-3), ("images_sum", 0.5), ("crop_to_aspect_ratio", 0.5),
                                      ("pad_to_aspect_ratio", 0.5), ("grayscale", 1e-2)])
def test_decoded_images_agree_with_keras(ours, key, tol):
    """Decoded (Pillow here, TensorFlow there) and resized to the same values: PNG and BMP exactly,
    JPEG within the decoders' rounding (the sums of a batch with a JPEG in it)."""
    np.testing.assert_allclose(ours[key], EXPECTED_VALUES[key], atol=tol * (1 + np.abs(EXPECTED_VALUES[key])).max())


def test_a_folder_of_images_trains_a_convnet(folder):
    keras.utils.set_random_seed(0)
    train, val = keras.utils.image_dataset_from_directory(folder, image_size=(16, 16), batch_size=4, seed=3,
                                                          validation_split=0.2, subset="both", verbose=False)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]  # the classes differ in brightness
    assert model.evaluate(train, verbose=0)[1] > 0.8


def test_batches_are_the_same_with_the_background_thread_or_without(folder):
    ds = keras.utils.image_dataset_from_directory(folder, image_size=(8, 8), batch_size=3, seed=1, verbose=False)
    in_order = [ds[i] for i in range(len(ds))]  # (each fetch decodes the next ones meanwhile)
    for i in reversed(range(len(ds))):  # out of order: no prefetched batch is used
        np.testing.assert_array_equal(ds[i][0], in_order[i][0])
        np.testing.assert_array_equal(ds[i][1], in_order[i][1])
    first = [y for _, y in ds]  # a pass with __iter__ ends the epoch: the order changes
    assert sorted(np.concatenate(first).tolist()) == sorted(np.concatenate([b[1] for b in in_order]).tolist())


def test_unbatched_and_channels_first(folder):
    ds = keras.utils.image_dataset_from_directory(folder, image_size=(5, 6), batch_size=None, shuffle=False,
                                                  data_format="channels_first", verbose=False)
    x, y = ds[0]
    assert x.shape == (3, 5, 6) and np.ndim(y) == 0 and len(ds) == 22


def test_bad_folders_and_files(tmp_path, folder):
    with pytest.raises(ValueError, match="does not exist"):
        keras.utils.image_dataset_from_directory(str(tmp_path / "missing"))
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images .* found"):
        keras.utils.image_dataset_from_directory(str(tmp_path / "empty"), verbose=False)
    with pytest.raises(ValueError, match="seed"):
        keras.utils.image_dataset_from_directory(folder, validation_split=0.2, subset="training")
    with pytest.raises(ValueError, match="exactly 2 classes"):
        keras.utils.image_dataset_from_directory(folder, label_mode="binary", verbose=False)
    with pytest.raises(ValueError, match="label_mode"):
        keras.utils.image_dataset_from_directory(folder, label_mode="sparse")
    bad = tmp_path / "bad" / "x"
    bad.mkdir(parents=True)
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    ds = keras.utils.image_dataset_from_directory(str(tmp_path / "bad"), verbose=False)
    with pytest.raises(ValueError, match="broken.png"):
        ds[0]


def test_random_bytes_never_crash_the_decoder():
    rng = np.random.default_rng(0)
    headers = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"BM", b"GIF89a"]
    for i in range(200):
        data = headers[i % len(headers)] + rng.integers(0, 256, int(rng.integers(0, 300)), np.uint8).tobytes()
        try:
            pixels = images.decode(data)
        except ValueError:
            continue
        assert pixels.dtype == np.uint8 and pixels.ndim == 3


def test_image_utilities_round_trip(tmp_path):
    x = (np.random.default_rng(2).random((6, 7, 3)) * 255).astype(np.float32).round()
    path = str(tmp_path / "a.png")
    keras.utils.save_img(path, x, scale=False)
    img = keras.utils.load_img(path)
    assert img.size == (7, 6)
    np.testing.assert_array_equal(keras.utils.img_to_array(img), x)
    assert keras.utils.img_to_array(img, data_format="channels_first").shape == (3, 6, 7)
    small = keras.utils.load_img(path, target_size=(3, 4), color_mode="grayscale")
    assert keras.utils.img_to_array(small).shape == (3, 4, 1)
    scaled = keras.utils.img_to_array(keras.utils.array_to_img(x))  # scale: min to 0, max to 255
    assert scaled.min() == 0 and scaled.max() == 255
    assert sorted(os.listdir(tmp_path)) == ["a.png"]  # (written through a temporary file)
    with pytest.raises(ValueError, match="cannot decode"):
        (tmp_path / "b.png").write_bytes(b"nonsense")
        keras.utils.load_img(str(tmp_path / "b.png"))


def test_map_and_prefetch_as_tf_data_pipelines_write_them(folder):
    """The keras-io example's pipeline: train_ds.map(lambda x, y: (augment(x), y)).prefetch(...);
    the mapped batches are the augmentation of the plain ones, made on the background thread,
    the same on every run of the same seeds, and the model (Rescaling first) trains in the engine."""
    from brisknet.models import engine as engine_module
    kwargs = dict(image_size=(16, 16), batch_size=4, seed=3, verbose=False)
    plain = keras.utils.image_dataset_from_directory(folder, shuffle=False, **kwargs)

    def mapped_batches():
        flip = keras.layers.RandomFlip("horizontal", seed=5)
        dataset = keras.utils.image_dataset_from_directory(folder, shuffle=False, **kwargs)
        return list(dataset.map(lambda x, y: (flip(x), y)).prefetch(2)), flip
    first, flip = mapped_batches()
    again, _ = mapped_batches()
    reference = keras.layers.RandomFlip("horizontal", seed=5)
    for (x, y), (xm, ym), (xa, ya) in zip(plain, first, again):
        np.testing.assert_array_equal(ym, y)
        np.testing.assert_array_equal(xm, reference(x))
        np.testing.assert_array_equal(xa, xm)
    assert any(not np.array_equal(xm, x) for (x, _), (xm, _) in zip(plain, first))  # some were flipped
    images_only = keras.utils.image_dataset_from_directory(folder, label_mode=None, shuffle=False, **kwargs)
    np.testing.assert_array_equal(next(iter(images_only.map(lambda x: x * 0 + 1))), np.ones((4, 16, 16, 3)))
    with pytest.raises(TypeError, match="callable"):
        plain.map(3)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert engine_module.why_not(model) is None
    train = keras.utils.image_dataset_from_directory(folder, **kwargs).map(lambda x, y: (flip(x), y))
    assert np.isfinite(model.fit(train, epochs=2, verbose=0).history["loss"][-1])


def test_cache_decodes_each_file_once_and_gives_the_same_batches(folder, monkeypatch):
    kwargs = dict(image_size=(16, 16), batch_size=4, seed=3, verbose=False)
    plain = keras.utils.image_dataset_from_directory(folder, **kwargs)
    cached = keras.utils.image_dataset_from_directory(folder, **kwargs).cache()
    decoded = []
    real = images.decode
    monkeypatch.setattr(images, "decode", lambda *a: decoded.append(a[0]) or real(*a))
    for _ in range(2):  # two epochs: the same batches, in the same shuffled orders
        for (x, y), (xc, yc) in zip(list(plain), list(cached)):  # (each read to its end: the next epoch reshuffles)
            np.testing.assert_array_equal(xc, x)
            np.testing.assert_array_equal(yc, y)
    assert len(decoded) == 3 * len(plain.file_paths)  # plain twice, cached once
    with pytest.raises(NotImplementedError, match="in-memory"):
        plain.cache("somewhere")


def test_labels_given_as_a_list_name_their_classes(folder):
    count = len(keras.utils.image_dataset_from_directory(folder, image_size=(8, 8), verbose=False).file_paths)
    given = [i % 3 for i in range(count)]
    ds = keras.utils.image_dataset_from_directory(folder, labels=given, label_mode="categorical", image_size=(8, 8),
                                                  batch_size=4, shuffle=False, verbose=False)
    assert ds.class_names == ["0", "1", "2"]
    np.testing.assert_array_equal(next(iter(ds))[1], np.eye(3, dtype=np.float32)[given[:4]])
    binary = keras.utils.image_dataset_from_directory(folder, labels=[i % 2 for i in range(count)], label_mode="binary",
                                                      image_size=(8, 8), batch_size=4, shuffle=False, verbose=False)
    np.testing.assert_array_equal(next(iter(binary))[1], [[0], [1], [0], [1]])
