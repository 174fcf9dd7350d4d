"""keras.utils.image_dataset_from_directory: a folder of images, one subfolder per class, as a
dataset of batches that fit, evaluate and predict take. The files are listed, labelled and
shuffled as Keras does (so file_paths and class_names are Keras'); a background thread decodes
(Pillow) and resizes (C++, images.resize) the next batches while the model trains on this one."""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import images
from .data import PyDataset

FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_PREFETCH = 2  # batches decoded ahead


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


class ImageDataset(PyDataset):
    """Batches (images, labels) of image files: images float32 (batch, height, width, channels)
    with values 0-255, labels as label_mode says. Shuffled again at every epoch when shuffle (fit
    then keeps its batch order, as it does with a tf.data dataset)."""

    shuffles_itself = True

    def __init__(self, paths, labels, class_names, label_mode, image_size, color_mode, interpolation, batch_size,
                 shuffle, seed, crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None):
        super().__init__()
        self.file_paths = list(paths)
        self.class_names = class_names
        self._labels = labels
        self._label_mode = label_mode
        self._size = image_size
        self._color_mode, self._interpolation = color_mode, interpolation
        self._batch_size = batch_size
        self._crop, self._pad = crop_to_aspect_ratio, pad_to_aspect_ratio
        self._channels_first = data_format == "channels_first"
        self._shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(len(self.file_paths))
        self._pending: dict = {}
        self._pool = None

    def __len__(self):
        if self._batch_size is None:
            return len(self.file_paths)
        return math.ceil(len(self.file_paths) / self._batch_size)

    def _indices(self, index):
        if self._batch_size is None:
            return self._order[index:index + 1]
        return self._order[index * self._batch_size:(index + 1) * self._batch_size]

    def _image(self, path):
        return images.resize_to_aspect(images.decode(path, self._color_mode), self._size, self._interpolation,
                                       self._crop, self._pad)

    def _load(self, index):
        chosen = self._indices(index)
        batch = np.stack([self._image(self.file_paths[i]) for i in chosen])
        if self._channels_first:
            batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        if self._batch_size is None:
            batch = batch[0]
        if self._label_mode is None:
            return batch
        labels = self._labels[chosen]
        if self._label_mode == "categorical":
            labels = np.eye(len(self.class_names), dtype=np.float32)[labels]
        elif self._label_mode == "binary":
            labels = labels.astype(np.float32).reshape(-1, 1)
        else:
            labels = labels.astype(np.int32)
        return batch, (labels[0] if self._batch_size is None else labels)

    def __getitem__(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch {index} of a dataset of {len(self)} batches")
        index %= len(self)
        pending = self._pending.pop(index, None)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brisknet-images")
        for ahead in range(index + 1, min(len(self), index + 1 + _PREFETCH)):  # decode the next ones meanwhile
            if ahead not in self._pending:
                self._pending[ahead] = self._pool.submit(self._load, ahead)
        return pending.result() if pending is not None else self._load(index)

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]
        self.on_epoch_end()

    def take(self, count):
        """The first `count` batches (tf.data's take, for looking at a few)."""
        for index in range(min(count, len(self))):
            yield self[index]

    def on_epoch_end(self):
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        if self._shuffle:
            self._order = self._rng.permutation(len(self.file_paths))

    def __del__(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 verbose=True):
    """Keras 3's image_dataset_from_directory: an ImageDataset (a pair of them for subset='both')."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("labels must be 'inferred', None, or a list of integer labels, one per image file "
                             f"in sorted order; got {labels!r}")
        if class_names:
            raise ValueError("class_names goes only with labels='inferred'")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f"label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if color_mode not in images.COLOR_MODES:
        raise ValueError(f"color_mode must be one of {tuple(images.COLOR_MODES)}, got {color_mode!r}")
    image_size = images._size(image_size)
    if interpolation not in images.INTERPOLATIONS:
        raise ValueError(f"interpolation: brisknet resizes with {images.INTERPOLATIONS}, got {interpolation!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    check_split(validation_split, subset, shuffle, seed)
    seed = np.random.randint(1e6) if seed is None else seed
    paths, found, class_names = index_directory(directory, labels, FORMATS, class_names, shuffle, seed, follow_links,
                                                verbose)
    if label_mode == "binary" and len(class_names or []) != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes, found {class_names}")
    if label_mode is not None and found is not None and len(found) and labels != "inferred":
        class_names = class_names or [str(c) for c in range(int(np.max(found)) + 1)]

    def dataset(subset_name, shuffled):
        chosen, chosen_labels = split(paths, found, validation_split, subset_name, verbose)
        if not chosen:
            raise ValueError(f"no images found in directory {directory!r} (allowed formats: {FORMATS})")
        return ImageDataset(chosen, chosen_labels, class_names, label_mode, image_size, color_mode, interpolation,
                            batch_size, shuffled, seed, crop_to_aspect_ratio, pad_to_aspect_ratio, data_format)

    if subset == "both":
        return dataset("training", shuffle), dataset("validation", False)
    return dataset(subset, shuffle)
