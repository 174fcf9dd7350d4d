"""What the from-a-folder datasets share (keras.utils.image_dataset_from_directory and
text_dataset_from_directory): Keras' listing of the files, their labels from the subfolders, its
seeded shuffle and validation split, the checks of the common arguments, and a dataset of batches
of files that reshuffles itself each epoch (fit then keeps its batch order, as with tf.data)."""
from __future__ import annotations

import copy
import math
import os

import numpy as np

from .data import PyDataset


def _files(directory, follow_links, formats):
    """The image files under directory, as Keras walks them: folders in order, names sorted."""
    walk = sorted(os.walk(directory, followlinks=follow_links), key=lambda entry: entry[0])
    return [os.path.join(root, name) for root, _, names in walk for name in sorted(names)
            if name.lower().endswith(formats)]


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None, follow_links=False,
                    verbose=True):
    """(file paths, labels or None, class names) as Keras' dataset_utils.index_directory: classes
    from the sorted subfolder names (labels='inferred'), the paths shuffled with seed."""
    if not os.path.isdir(directory):
        raise ValueError(f"directory {directory!r} does not exist or is not a folder")
    if labels == "inferred":
        subdirs = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
        if class_names:
            if sorted(class_names) != sorted(subdirs) and set(class_names) != set(subdirs):
                raise ValueError(f"class_names {list(class_names)} must match the subfolders of {directory!r}: "
                                 f"{subdirs}")
            subdirs = list(class_names)
        class_names = subdirs
    else:
        subdirs = [""]
    paths, found = [], []
    for index, subdir in enumerate(subdirs):
        files = _files(os.path.join(directory, subdir), follow_links, formats)
        paths += files
        found.append(np.full(len(files), index, np.int32))
    if labels not in ("inferred", None):
        if len(labels) != len(paths):
            raise ValueError(f"labels: expected one per image file in {directory!r} ({len(paths)}), got "
                             f"{len(labels)}")
        label_array = np.asarray(labels)
    elif labels == "inferred":
        label_array = np.concatenate(found) if found else np.zeros(0, np.int32)
    else:
        label_array = None
    if verbose:
        print(f"Found {len(paths)} files." if label_array is None or labels != "inferred" else
              f"Found {len(paths)} files belonging to {len(class_names)} classes.")
    if shuffle:  # (the same order as Keras for the same seed)
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(paths)
        if label_array is not None:
            np.random.RandomState(seed).shuffle(label_array)
    return paths, label_array, class_names


def listing(directory, labels, label_mode, formats, class_names, shuffle, seed, follow_links, verbose):
    """(paths, labels or None, class names, seed) of a folder: index_directory with Keras' default
    seed (drawn when None, shared by both subsets); labels given as a list name their classes '0',
    '1', ...; label_mode='binary' checked to have two classes."""
    seed = np.random.randint(1e6) if seed is None else seed
    paths, found, class_names = index_directory(directory, labels, formats, class_names, shuffle, seed, follow_links,
                                                verbose)
    if label_mode is not None and found is not None and len(found) and labels != "inferred":
        class_names = class_names or [str(c) for c in range(int(np.max(found)) + 1)]
    if label_mode == "binary" and len(class_names or []) != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes, found {class_names}")
    return paths, found, class_names, seed


def check_split(validation_split, subset, shuffle, seed):
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be between 0 and 1, got {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("validation_split and subset go together: give both or neither")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"subset must be 'training', 'validation' or 'both', got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError("with validation_split and shuffle, give a seed: the training and validation subsets "
                         "must come from the same shuffle")


def split(samples, labels, validation_split, subset, verbose=True):
    """Keras' get_training_or_validation_split: the last int(split * n) samples are for validation."""
    if not validation_split:
        return samples, labels
    count = int(validation_split * len(samples))
    if subset == "training":
        if verbose:
            print(f"Using {len(samples) - count} files for training.")
        keep = slice(0, len(samples) - count)
    else:
        if verbose:
            print(f"Using {count} files for validation.")
        keep = slice(len(samples) - count, len(samples))
    return samples[keep], (labels[keep] if labels is not None else None)


def check_arguments(labels, label_mode, class_names, batch_size):
    """The common arguments, checked as Keras does; returns (labels, label_mode), both None when
    either is (a dataset without targets)."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("labels must be 'inferred', None, or a list of integer labels, one per file in sorted "
                             f"order; got {labels!r}")
        if class_names:
            raise ValueError("class_names goes only with labels='inferred'")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def subsets(make, paths, labels, validation_split, subset, shuffle, verbose, what, directory):
    """make(paths, labels, shuffle) for the subset asked (a pair for 'both': the validation one
    unshuffled), each from Keras' split."""
    def one(name, shuffled):
        chosen, chosen_labels = split(paths, labels, validation_split, name, verbose)
        if not chosen:
            raise ValueError(f"no {what} found in directory {directory!r}")
        return make(chosen, chosen_labels, shuffled)
    if subset == "both":
        return one("training", shuffle), one("validation", False)
    return one(subset, shuffle)


class FileDataset(PyDataset):
    """Batches (x, labels) of files: x from load_batch(paths), labels as label_mode says."""

    shuffles_itself = True

    def __init__(self, paths, labels, class_names, label_mode, batch_size, shuffle, seed):
        super().__init__()
        self.file_paths, self.class_names = list(paths), class_names
        self._labels, self._label_mode = labels, label_mode
        self._batch_size, self._shuffle = batch_size, shuffle
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(len(self.file_paths))
        self._maps = ()  # map()'s functions, applied to each batch in order
        self._decoded = None  # cache(): {file index: decoded sample}

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """A dataset of map_func applied to each element, as tf.data's map: map_func(x, y) for a
        dataset of (x, y) batches, map_func(x) for one of x alone (label_mode=None). It runs where
        the batch is made (an image dataset: on its background thread, while the model trains),
        in the batches' order, so seeded augmentation layers draw the same on every run."""
        if not callable(map_func):
            raise TypeError(f"map: map_func must be callable, got {map_func!r}")
        mapped = copy.copy(self)
        mapped._rng = copy.deepcopy(self._rng)  # (its own shuffles)
        mapped._maps = self._maps + (map_func,)
        mapped._fresh()
        return mapped

    def cache(self, filename="", name=None):
        """tf.data's cache (in memory): each file is read and decoded once, its decoded sample kept
        for the next epochs (map()'s functions still run on every batch, as they follow the cache
        in a pipeline written ds.cache().map(...))."""
        if filename:
            raise NotImplementedError("cache: only the in-memory cache (filename='') is supported")
        cached = copy.copy(self)
        cached._decoded = {}
        cached._fresh()
        return cached

    def prefetch(self, buffer_size=None, name=None):
        """tf.data's prefetch: this dataset already makes the next batches ahead (an image
        dataset on a background thread); kept so that pipelines written for tf.data run."""
        return self

    def _fresh(self):
        """Per-copy state of a dataset made by map() or cache() (hook for subclasses)."""

    def _mapped(self, batch):
        for f in self._maps:
            batch = f(*batch) if isinstance(batch, tuple) else f(batch)
        return batch

    def __len__(self):
        return len(self.file_paths) if self._batch_size is None else math.ceil(len(self.file_paths) / self._batch_size)

    def _check_index(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch {index} of a dataset of {len(self)} batches")
        return index % len(self)

    def _load(self, index):
        size = self._batch_size or 1
        chosen = self._order[index * size:(index + 1) * size]
        if self._decoded is None:
            x = self.load_batch([self.file_paths[i] for i in chosen])
        else:
            missing = [int(i) for i in chosen if int(i) not in self._decoded]
            if missing:
                self._decoded.update(zip(missing, self.load_batch([self.file_paths[i] for i in missing])))
            samples = [self._decoded[int(i)] for i in chosen]
            x = np.stack(samples) if isinstance(samples[0], np.ndarray) else np.array(samples, dtype=object)
        if self._label_mode is None:
            return self._mapped(x[0] if self._batch_size is None else x)
        labels = self._labels[chosen]
        if self._label_mode == "categorical":
            labels = np.eye(len(self.class_names), dtype=np.float32)[labels]
        elif self._label_mode == "binary":
            labels = labels.astype(np.float32).reshape(-1, 1)
        else:
            labels = labels.astype(np.int32)
        return self._mapped((x[0], labels[0]) if self._batch_size is None else (x, labels))

    def __getitem__(self, index):
        return self._load(self._check_index(index))

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]
        self.on_epoch_end()

    def take(self, count):
        """The first `count` batches (tf.data's take, for looking at a few)."""
        for index in range(min(count, len(self))):
            yield self[index]

    def on_epoch_end(self):
        if self._shuffle:
            self._order = self._rng.permutation(len(self.file_paths))
