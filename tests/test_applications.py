"""keras.applications: the architectures as Keras builds them (parameter counts, layer names),
Keras-written weight files (.weights.h5 and legacy .h5) loading and predicting as in Keras,
preprocess_input, weights='imagenet' from Keras' cache folder, and the arguments' errors."""
import json
import pathlib
import sys

import numpy as np
import pytest

from brisknet import applications
from brisknet.models import engine as engine_module

from keras3 import run_keras

HERE = pathlib.Path(__file__).resolve().parent


@pytest.mark.parametrize("build, kwargs, params", [
    # Keras 3's counts (model.count_params()), with the same arguments
    (applications.MobileNetV2, dict(input_shape=(96, 96, 3), classes=10), 2_270_794),
    (applications.MobileNetV2, dict(alpha=0.35, include_top=False, input_shape=(128, 128, 3)), 410_208),
    (applications.ResNet50, dict(), 25_636_712),
    (applications.VGG16, dict(include_top=False), 14_714_688),
    (applications.EfficientNetB0, dict(), 5_330_571),
])
def test_each_architecture_has_keras_parameter_count(build, kwargs, params):
    model = build(weights=None, **kwargs)
    assert model.count_params() == params


def test_keras_weight_files_of_each_architecture_load_and_predict_as_in_keras(tmp_path):
    """Keras 3 builds each architecture from random weights (biases and statistics made random
    too) and writes them both ways; brisknet loads each file into its own build."""
    sys.path.insert(0, str(HERE))
    from keras_applications_weights import CASES
    expected = run_keras([str(HERE / "keras_applications_weights.py"), str(tmp_path), *CASES], cwd=str(tmp_path))
    for name, kwargs in CASES.items():
        x = np.load(tmp_path / f"{name}_x.npy")
        for suffix in (".weights.h5", ".h5"):
            model = getattr(applications, name)(weights=str(tmp_path / f"{name}{suffix}"), **kwargs)
            np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(expected[name]), rtol=1e-4, atol=2e-5,
                                       err_msg=f"{name}{suffix}")


def test_a_weights_file_of_another_architecture_is_refused_clearly(tmp_path):
    small = applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=3)
    small.save_weights(tmp_path / "small.weights.h5")
    with pytest.raises(ValueError, match="shape|does not match"):
        applications.MobileNetV2(weights=str(tmp_path / "small.weights.h5"), alpha=0.5, input_shape=(32, 32, 3),
                                 classes=3)
    with pytest.raises(FileNotFoundError):
        applications.ResNet50(weights=str(tmp_path / "missing.h5"))


def test_imagenet_weights_come_from_keras_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    kwargs = dict(alpha=0.35, include_top=False, input_shape=(96, 96, 3))
    with pytest.raises(FileNotFoundError, match="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"):
        applications.MobileNetV2(weights="imagenet", **kwargs)
    source = applications.MobileNetV2(weights=None, **kwargs)
    (tmp_path / "models").mkdir()
    source.save_weights(tmp_path / "models" / "source.weights.h5")  # (Keras' format; the name is the cache's)
    (tmp_path / "models" / "source.weights.h5").rename(
        tmp_path / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5")
    loaded = applications.MobileNetV2(weights="imagenet", **kwargs)
    for a, b in zip(source.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, error", [
    (lambda: applications.ResNet50(weights="imagenet", classes=10), "classes should be 1000"),
    (lambda: applications.VGG16(weights=None, input_shape=(None, None, 3)), "fixed"),
    (lambda: applications.MobileNetV2(weights=None, input_shape=(16, 16, 3), include_top=False), "at least 32"),
    (lambda: applications.EfficientNetB0(weights=None, include_top=False, pooling="sum"), "pooling"),
    (lambda: applications.ResNet50(weights=3), "weights"),
    (lambda: applications.MobileNetV2(weights="imagenet", alpha=0.6), "alpha"),
])
def test_bad_arguments_are_refused_as_keras_refuses_them(call, error):
    with pytest.raises(ValueError, match=error):
        call()


def test_preprocess_input_in_each_family_mode():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(applications.mobilenet_v2.preprocess_input(x.copy()), x / 127.5 - 1, rtol=1e-6)
    caffe = x[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
    np.testing.assert_allclose(applications.resnet50.preprocess_input(x.copy()), caffe, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(applications.vgg16.preprocess_input(x.astype(np.uint8)),
                               x.astype(np.uint8)[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32))
    torch_mode = (x / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(applications.imagenet_utils.preprocess_input(x.copy(), mode="torch"), torch_mode,
                               rtol=1e-5, atol=1e-5)
    assert applications.efficientnet.preprocess_input(x) is x
    with pytest.raises(ValueError, match="RGB"):
        applications.resnet50.preprocess_input(np.zeros((2, 4, 4, 1)))


def test_mobilenet_v2_and_resnet50_train_in_the_engine():
    for model in (applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=3),
                  applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=3)):
        model.compile("adam", "sparse_categorical_crossentropy")
        assert engine_module.why_not(model) is None
        rng = np.random.default_rng(0)
        history = model.fit(rng.standard_normal((16, 32, 32, 3)).astype(np.float32), rng.integers(0, 3, 16),
                            epochs=1, batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"][0])


def test_decode_predictions_reads_keras_class_index(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    preds = np.zeros((2, 1000), np.float32)
    preds[0, [3, 7]] = [0.7, 0.2]
    preds[1, 999] = 1.0
    with pytest.raises(FileNotFoundError, match="imagenet_class_index.json"):
        applications.resnet50.decode_predictions(preds)
    (tmp_path / "models").mkdir()
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (tmp_path / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    decoded = applications.mobilenet_v2.decode_predictions(preds, top=2)
    assert decoded[0] == [("n00000003", "class_3", pytest.approx(0.7)), ("n00000007", "class_7", pytest.approx(0.2))]
    assert decoded[1][0][:2] == ("n00000999", "class_999")
    with pytest.raises(ValueError, match="samples, 1000"):
        applications.vgg16.decode_predictions(np.zeros((2, 10)))
