"""The image preprocessing and augmentation layers: what each does to known images, active only
while training (and when called on their own), seeded, the same bits on any thread count, inside
models and their files, and clear errors for bad arguments."""
import numpy as np
import pytest

import brisknet as keras
from brisknet import _core, layers


@pytest.fixture
def batch():
    return (np.random.default_rng(0).random((5, 9, 9, 3)) * 200 + 20).astype(np.float32)


RANDOM_LAYERS = [
    lambda: layers.RandomFlip(seed=1), lambda: layers.RandomRotation(0.2, seed=1),
    lambda: layers.RandomTranslation(0.2, 0.3, seed=1), lambda: layers.RandomZoom((-0.3, 0.2), seed=1),
    lambda: layers.RandomContrast(0.4, seed=1), lambda: layers.RandomBrightness(0.2, seed=1),
]


@pytest.mark.parametrize("make", RANDOM_LAYERS)
def test_random_layers_change_images_in_training_only(make, batch):
    layer = make()
    out = layer(batch)  # called on its own: training, as Keras
    assert out.shape == batch.shape and not np.array_equal(out, batch)
    np.testing.assert_array_equal(layer(batch, training=False), batch)
    again = make()(batch)  # the same seed: the same draws
    np.testing.assert_array_equal(again, out)
    assert not np.array_equal(layer(batch), out)  # the next call draws anew
    assert layer(batch[0]).shape == batch.shape[1:]  # one image


@pytest.mark.parametrize("make", RANDOM_LAYERS[1:4])
def test_affine_layers_give_the_same_bits_on_any_thread_count(make, batch):
    before = _core.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            _core.set_num_threads(threads)
            results.append(make()(np.repeat(batch, 8, axis=0)))
    finally:
        _core.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


def test_what_each_transform_does(batch):
    flipped = layers.RandomFlip("horizontal", seed=3)(batch)
    for x, y in zip(batch, flipped):
        assert np.array_equal(y, x) or np.array_equal(y, x[:, ::-1])
    turned = layers.RandomRotation((0.25, 0.25), fill_mode="constant", interpolation="nearest")(batch)
    np.testing.assert_allclose(turned, np.rot90(batch, 1, axes=(1, 2)), atol=1e-4)  # a quarter turn, anticlockwise
    shifted = layers.RandomTranslation((1 / 3, 1 / 3), 0.0, fill_mode="constant")(batch)
    np.testing.assert_allclose(shifted[:, 3:], batch[:, :-3], atol=1e-4)  # 3 rows down
    assert np.all(shifted[:, :3] == 0)
    zoomed = layers.RandomZoom((-0.5, -0.5), interpolation="nearest")(batch)  # twice as large: the centre stays
    np.testing.assert_array_equal(zoomed[:, 4, 4], batch[:, 4, 4])
    contrast = layers.RandomContrast(0.2)(batch)
    np.testing.assert_allclose(contrast.mean(axis=(1, 2)), batch.mean(axis=(1, 2)), rtol=1e-4)  # (no clipping here)
    bright = layers.RandomBrightness((0.1, 0.1), value_range=(0, 255))(batch)
    np.testing.assert_allclose(bright, np.minimum(batch + 25.5, 255), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flip_kernel_against_numpy(dtype):
    x = np.random.default_rng(1).normal(size=(8, 5, 7, 3)).astype(dtype)
    flips = np.array([[a, d] for a in (0, 1) for d in (0, 1)] * 2, np.uint8)
    out = np.empty_like(x)
    _core.flip_images(out, x, flips)
    for image, (across, down), y in zip(x, flips, out):
        np.testing.assert_array_equal(y, image[::-1 if down else 1, ::-1 if across else 1])
    with pytest.raises(ValueError, match="flips"):
        _core.flip_images(out, x, flips[:3])
    with pytest.raises(ValueError, match="one size"):
        _core.flip_images(np.empty((8, 7, 5, 3), dtype), x, flips)


def test_resizing_and_crops(batch):
    np.testing.assert_allclose(layers.Resizing(18, 18, interpolation="nearest")(batch),
                               batch.repeat(2, axis=1).repeat(2, axis=2))
    np.testing.assert_array_equal(layers.CenterCrop(5, 3)(batch), batch[:, 2:7, 3:6])
    assert layers.CenterCrop(12, 4)(batch).shape == (5, 12, 4, 3)  # larger than the image: resized
    crop = layers.RandomCrop(4, 6, seed=2)
    out = crop(batch)
    for x, y in zip(batch, out):  # a window of the image
        assert any(np.array_equal(y, x[t:t + 4, s:s + 6]) for t in range(6) for s in range(4))
    assert crop(batch, training=False).shape == (5, 4, 6, 3)


def test_gradients_of_the_layers_that_pass_one():
    rng = np.random.default_rng(1)
    x = rng.random((2, 4, 5, 3)) * 100 + 50
    dy = rng.standard_normal(x.shape)
    for layer in (layers.RandomFlip(seed=0), layers.RandomContrast(0.5, seed=0),
                  layers.RandomBrightness(0.1, seed=0)):
        layer.build_sample(x.shape[1:])
        state = layer.get_state()
        y = layer.forward(x, True)
        dx = layer.backward(dy, True)

        def value(z):
            layer.set_state(state)
            return float(np.sum(layer.forward(z, True) * dy))
        for index in [(0, 1, 2, 0), (1, 3, 4, 2), (0, 0, 0, 1)]:
            e = np.zeros_like(x)
            e[index] = 1e-3
            assert abs((value(x + e) - value(x - e)) / 2e-3 - dx[index]) < 1e-6, type(layer).__name__
        assert y.shape == x.shape


def test_augmentation_in_a_model_trains_saves_and_loads(tmp_path, batch):
    keras.utils.set_random_seed(0)
    augment = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1),
                                layers.RandomZoom(0.1), layers.RandomContrast(0.1)])
    inputs = keras.Input((9, 9, 3))
    x = layers.Rescaling(1 / 255)(augment(inputs))
    x = layers.Conv2D(4, 3, activation="relu")(x)
    model = keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(x)))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    labels = np.array([0, 1, 0, 1, 1])
    history = model.fit(batch, labels, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    first = model.predict(batch, verbose=0)
    np.testing.assert_array_equal(model.predict(batch, verbose=0), first)  # inference: no augmentation
    for ext in ("keras", "brisk"):
        model.save(tmp_path / f"m.{ext}")
        loaded = keras.models.load_model(tmp_path / f"m.{ext}")
        np.testing.assert_allclose(loaded.predict(batch, verbose=0), first, rtol=1e-6)
    sequential = keras.Sequential([keras.Input((9, 9, 3)), layers.RandomFlip(), layers.RandomTranslation(0.1, 0.1),
                                   layers.Conv2D(2, 3), layers.GlobalAveragePooling2D(), layers.Dense(2)])
    sequential.compile("sgd", "mse")
    sequential.fit(batch, np.zeros((5, 2), np.float32), epochs=1, verbose=0)


def test_configs_round_trip():
    for layer in [layers.Resizing(5, 6, crop_to_aspect_ratio=True), layers.CenterCrop(3, 4),
                  layers.RandomCrop(3, 4, seed=1), layers.RandomFlip("vertical", seed=2),
                  layers.RandomRotation((-0.1, 0.2), fill_mode="wrap", seed=3),
                  layers.RandomTranslation(0.1, (0.0, 0.2), fill_mode="constant", fill_value=1.0),
                  layers.RandomZoom(0.2, 0.3, interpolation="nearest"), layers.RandomContrast(0.3),
                  layers.RandomBrightness(0.2, value_range=(0, 1))]:
        config = layer.get_config()
        again = type(layer).from_config(config)
        assert again.get_config() == config


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        layers.RandomFlip("diagonal")
    with pytest.raises(ValueError, match="fill_mode"):
        layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="lower"):
        layers.RandomTranslation((0.2, -0.2), 0.1)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomBrightness(2.0)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomContrast(-0.1)
    with pytest.raises(ValueError, match="channels_last"):
        layers.RandomFlip(data_format="channels_first")
    with pytest.raises(ValueError, match="height, width, channels"):
        layers.RandomFlip()(np.zeros((2, 5, 5), np.float32).reshape(2, 25))
    with pytest.raises(ValueError, match="size"):
        layers.Resizing(0, 4)
