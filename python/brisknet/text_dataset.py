"""keras.utils.text_dataset_from_directory: a folder of .txt files, one subfolder per class, as a
dataset of (texts, labels) batches, listed, labelled, shuffled and split as Keras does
(file_dataset.py). Texts are str (UTF-8), cut to max_length bytes when given, as Keras cuts its
byte strings; TextVectorization and the models that take strings read them."""
from __future__ import annotations

import numpy as np

from .file_dataset import FileDataset, check_arguments, check_split, listing, subsets


class TextDataset(FileDataset):
    """Batches (texts, labels): texts an array of str, labels as label_mode says."""

    def __init__(self, paths, labels, class_names, label_mode, batch_size, max_length, shuffle, seed):
        super().__init__(paths, labels, class_names, label_mode, batch_size, shuffle, seed)
        self._max_length = max_length

    def load_batch(self, paths):
        texts = []
        for path in paths:
            with open(path, "rb") as f:
                data = f.read() if self._max_length is None else f.read(self._max_length)
            texts.append(data.decode("utf-8", errors="ignore"))  # (a character cut by max_length is dropped)
        return np.array(texts, dtype=object)


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True):
    """Keras 3's text_dataset_from_directory: a TextDataset (a pair of them for subset='both')."""
    labels, label_mode = check_arguments(labels, label_mode, class_names, batch_size)
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1):
        raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
    check_split(validation_split, subset, shuffle, seed)
    paths, found, class_names, seed = listing(directory, labels, label_mode, (".txt",), class_names, shuffle, seed,
                                              follow_links, verbose)
    return subsets(lambda chosen, chosen_labels, shuffled: TextDataset(
        chosen, chosen_labels, class_names, label_mode, batch_size, max_length, shuffled, seed),
        paths, found, validation_split, subset, shuffle, verbose, "text files (.txt)", directory)
