"""keras.utils.image_dataset_from_directory: a folder of images, one subfolder per class, as a
dataset of batches that fit, evaluate and predict take. The files are listed, labelled and
shuffled as Keras does (file_dataset.py: so file_paths and class_names are Keras'); a background
thread decodes (Pillow) and resizes (C++, images.resize) the next batches while the model trains
on this one."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import images
from .file_dataset import FileDataset, check_arguments, check_split, listing, subsets

FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_PREFETCH = 2  # batches decoded ahead


class ImageDataset(FileDataset):
    """Batches (images, labels) of image files: images float32 (batch, height, width, channels)
    with values 0-255, labels as label_mode says."""

    def __init__(self, paths, labels, class_names, label_mode, image_size, color_mode, interpolation, batch_size,
                 shuffle, seed, crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None):
        super().__init__(paths, labels, class_names, label_mode, batch_size, shuffle, seed)
        self._size = image_size
        self._color_mode, self._interpolation = color_mode, interpolation
        self._crop, self._pad = crop_to_aspect_ratio, pad_to_aspect_ratio
        self._channels_first = data_format == "channels_first"
        self._fresh()

    def _fresh(self):
        self._pending: dict = {}  # (a mapped copy decodes ahead on a thread of its own)
        self._pool = None

    def load_batch(self, paths):
        decoded = [images.decode(path, self._color_mode) for path in paths]
        if all(image.shape[:2] == tuple(self._size) for image in decoded):  # (nothing to resample: one conversion)
            batch = np.stack(decoded).astype(np.float32)
        else:
            batch = np.stack([images.resize_to_aspect(image, self._size, self._interpolation, self._crop, self._pad)
                              for image in decoded])
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2)) if self._channels_first else batch

    def __getitem__(self, index):
        index = self._check_index(index)
        pending = self._pending.pop(index, None)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brisknet-images")
        if pending is None:  # (on the same thread as the ones ahead: map()'s functions run in the batches' order)
            pending = self._pool.submit(self._load, index)
        for ahead in range(index + 1, min(len(self), index + 1 + _PREFETCH)):  # decode the next ones meanwhile
            if ahead not in self._pending:
                self._pending[ahead] = self._pool.submit(self._load, ahead)
        return pending.result()

    def on_epoch_end(self):
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        super().on_epoch_end()

    def __del__(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, data_format=None,
                                 verbose=True):
    """Keras 3's image_dataset_from_directory: an ImageDataset (a pair of them for subset='both')."""
    labels, label_mode = check_arguments(labels, label_mode, class_names, batch_size)
    if color_mode not in images.COLOR_MODES:
        raise ValueError(f"color_mode must be one of {tuple(images.COLOR_MODES)}, got {color_mode!r}")
    image_size = images._size(image_size)
    if interpolation not in images.INTERPOLATIONS:
        raise ValueError(f"interpolation: brisknet resizes with {images.INTERPOLATIONS}, got {interpolation!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    check_split(validation_split, subset, shuffle, seed)
    paths, found, class_names, seed = listing(directory, labels, label_mode, FORMATS, class_names, shuffle, seed,
                                              follow_links, verbose)
    return subsets(lambda chosen, chosen_labels, shuffled: ImageDataset(
        chosen, chosen_labels, class_names, label_mode, image_size, color_mode, interpolation, batch_size, shuffled,
        seed, crop_to_aspect_ratio, pad_to_aspect_ratio, data_format),
        paths, found, validation_split, subset, shuffle, verbose, f"images ({', '.join(FORMATS)})", directory)
