"""Training from a folder of images reaches Keras 3's accuracy on the same folder
(keras_image_training.py: Keras 3 on TensorFlow recorded its validation accuracies), from
image_dataset_from_directory and from a PyTorch DataLoader over the same files."""
import json

import numpy as np
import pytest

pytest.importorskip("PIL")

import brisknet as keras  # noqa: E402

from keras_image_training import EXPECTED, SEEDS, SIZE, make_folder, model_for, run  # noqa: E402

KERAS = json.load(open(EXPECTED))
NOISE = 0.05  # (Keras' own runs spread 0.79 - 1.0 over the seeds)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_folder(str(tmp_path_factory.mktemp("training_images")))


def test_a_folder_of_images_trains_to_keras_accuracy(folder):
    ours = run(keras, folder)
    keras_mean = np.mean([KERAS[str(s)] for s in SEEDS])
    assert np.mean(list(ours.values())) >= keras_mean - NOISE, (ours, KERAS)


def test_a_pytorch_dataloader_over_the_files_trains_to_keras_accuracy(folder):
    torch = pytest.importorskip("torch")
    train, val = keras.utils.image_dataset_from_directory(folder, image_size=(SIZE, SIZE), batch_size=32, seed=1337,
                                                          validation_split=0.25, subset="both", verbose=False)

    class Files(torch.utils.data.Dataset):  # as a PyTorch user writes one
        def __init__(self, dataset):
            self.paths, self.labels = dataset.file_paths, dataset._labels

        def __len__(self):
            return len(self.paths)

        def __getitem__(self, i):
            return keras.utils.img_to_array(keras.utils.load_img(self.paths[i])), int(self.labels[i])
    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(Files(train), batch_size=32, shuffle=True)
    model = model_for(keras, SEEDS[0])
    model.fit(loader, epochs=15, verbose=0)
    accuracy = model.evaluate(val, verbose=0)[1]
    assert accuracy >= np.mean([KERAS[str(s)] for s in SEEDS]) - NOISE


def test_a_tf_data_pipeline_over_the_files_trains_to_keras_accuracy(folder):
    tf = pytest.importorskip("tensorflow")
    train, val = keras.utils.image_dataset_from_directory(folder, image_size=(SIZE, SIZE), batch_size=32, seed=1337,
                                                          validation_split=0.25, subset="both", verbose=False)

    def decode(path, label):  # as a TensorFlow user writes it
        image = tf.image.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        return tf.cast(tf.reshape(image, (SIZE, SIZE, 3)), tf.float32), label
    pipeline = tf.data.Dataset.from_tensor_slices((train.file_paths, train._labels.astype("int32")))
    pipeline = pipeline.shuffle(len(train.file_paths), seed=0).map(decode).batch(32).prefetch(tf.data.AUTOTUNE)
    model = model_for(keras, SEEDS[0])
    model.fit(pipeline, epochs=15, verbose=0)
    accuracy = model.evaluate(val, verbose=0)[1]
    assert accuracy >= np.mean([KERAS[str(s)] for s in SEEDS]) - NOISE
