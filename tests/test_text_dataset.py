"""keras.utils.text_dataset_from_directory against Keras 3 on TensorFlow (recorded by
keras_text_dataset_program.py), and a model that takes strings trained from a folder."""
import json

import numpy as np
import pytest

import brisknet as keras

from keras_text_dataset_program import EXPECTED, make_folder, run

EXPECTED_VALUES = json.load(open(EXPECTED, encoding="utf-8"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(str(tmp_path_factory.mktemp("texts")))


@pytest.fixture(scope="module")
def ours(folder):
    return run(keras, folder)


@pytest.mark.parametrize("key", ["class_names", "batches", "short", "val"])
def test_texts_labels_and_order_agree_with_keras(ours, key):
    """Listing, labels, max_length (cut in bytes: a character cut in two is dropped), split."""
    assert ours[key] == EXPECTED_VALUES[key]


def test_the_training_subset_holds_keras_files(ours):
    texts = lambda batches: sorted(t for x, _ in batches for t in x)  # noqa: E731 (Keras reshuffles per epoch)
    assert texts(ours["train"]) == texts(EXPECTED_VALUES["train"])


def test_a_model_of_strings_trains_from_a_folder(folder):
    train = keras.utils.text_dataset_from_directory(folder, batch_size=4, seed=2, verbose=False)
    vectorize = keras.layers.TextVectorization(max_tokens=30, output_mode="multi_hot")
    vectorize.adapt(np.concatenate([x for x, _ in train.take(len(train))]))
    inputs = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inputs, keras.layers.Dense(2)(vectorize(inputs)))
    model.compile(keras.optimizers.Adam(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(train, epochs=10, verbose=0)
    assert model.evaluate(train, verbose=0)[1] == 1.0  # each text names its class


def test_bad_folders(tmp_path, folder):
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="no text files"):
        keras.utils.text_dataset_from_directory(str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="max_length"):
        keras.utils.text_dataset_from_directory(folder, max_length=0)
    with pytest.raises(ValueError, match="seed"):
        keras.utils.text_dataset_from_directory(folder, validation_split=0.2, subset="training")


def test_cache_and_map_on_texts(folder):
    plain = keras.utils.text_dataset_from_directory(folder, batch_size=3, seed=2, verbose=False)
    cached = keras.utils.text_dataset_from_directory(folder, batch_size=3, seed=2, verbose=False).cache() \
        .map(lambda x, y: (x, y + 1))
    for _ in range(2):
        for (x, y), (xc, yc) in zip(list(plain), list(cached)):
            assert xc.dtype == object and list(xc) == list(x)
            np.testing.assert_array_equal(yc, y + 1)
