"""Keras' image preprocessing and augmentation layers on channels_last images (batch, height,
width, channels): Resizing, CenterCrop and (inference) RandomCrop always; RandomCrop, RandomFlip,
RandomRotation, RandomTranslation, RandomZoom, RandomContrast and RandomBrightness only while
training (and when called on their own, as Keras: training defaults to True there). The
resampling is brisknet's C++ kernels (images.resize, images.affine_transform: TensorFlow's
arithmetic); the random draws come from the layer's seeded counter (SeededLayer), so a seeded run
repeats and gives the same bits on any number of threads. They sit in front of the layers with
weights, as augmentation does: only RandomFlip, RandomContrast and RandomBrightness pass a
gradient back to their input."""
from __future__ import annotations

import math

import numpy as np

from .. import _core, images
from .seeded import SeededLayer


def _factor_range(name, factor, symmetric=True):
    """(lower, upper) from Keras' factor: a number f gives (-f, f), a pair is the range itself."""
    if isinstance(factor, (int, float)) and not isinstance(factor, bool):
        lower, upper = (-float(factor), float(factor)) if symmetric else (float(factor), float(factor))
    elif isinstance(factor, (tuple, list)) and len(factor) == 2 and \
            all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in factor):
        lower, upper = float(factor[0]), float(factor[1])
    else:
        raise ValueError(f"{name}: expected a number or a pair (lower, upper), got {factor!r}")
    if lower > upper:
        raise ValueError(f"{name}: lower {lower} is above upper {upper}")
    return lower, upper


class _ImageLayer(SeededLayer):
    """A layer of images: checks their rank, takes a single image (height, width, channels) when
    called on its own, and draws a generator per training call."""

    random = True  # (an augmentation: active while training only)

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(seed, **kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__}: brisknet's image layers take channels_last images, got "
                             f"data_format={data_format!r}")
        self.data_format = "channels_last"
        self._changed = False

    def __call__(self, x=None, *args, training=None, **kwargs):
        if training is None and self.random and isinstance(x, (np.ndarray, list)):
            training = True  # (Keras: an augmentation layer called on its own augments)
        if isinstance(x, np.ndarray) and x.ndim == 3:  # one image
            return super().__call__(x[None], *args, training=training, **kwargs)[0]
        return super().__call__(x, *args, training=training, **kwargs)

    def build_sample(self, sample_shape):
        if len(sample_shape) != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r}: expected images (height, width, channels), got "
                             f"samples of shape {tuple(sample_shape)}")
        super().build_sample(sample_shape)

    def _rng(self):
        rng = np.random.default_rng([self._base_seed, self._calls])
        self._calls += 1
        return rng

    def forward(self, x, training):
        self._changed = bool(training) or not self.random
        return self.transform(x, training) if self._changed else x

    def backward(self, dy, need_dx):
        if not self._changed:
            return dy
        if need_dx:
            raise NotImplementedError(f"{type(self).__name__} {self.name!r} passes no gradient to its input: put it "
                                      "before the layers with weights, as augmentation is")
        return None

    def get_config(self):
        config = {**super().get_config(), "data_format": self.data_format}
        if not self.random:
            del config["seed"]  # (Keras' deterministic layers have none)
        return config


class Resizing(_ImageLayer):
    random = False

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                 fill_mode="constant", fill_value=0.0, antialias=False, data_format=None, **kwargs):
        super().__init__(None, data_format, **kwargs)
        self.height, self.width = images._size((height, width))
        if interpolation not in images.INTERPOLATIONS:
            raise ValueError(f"Resizing: interpolation must be one of {images.INTERPOLATIONS}, got {interpolation!r}")
        if antialias:
            raise NotImplementedError("Resizing: antialias=True is not supported by brisknet yet")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Resizing: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
        self.interpolation, self.fill_mode, self.fill_value = interpolation, fill_mode, float(fill_value)
        self.crop_to_aspect_ratio, self.pad_to_aspect_ratio = bool(crop_to_aspect_ratio), bool(pad_to_aspect_ratio)

    def sample_output_shape(self, sample_shape):
        return (self.height, self.width, sample_shape[-1])

    def transform(self, x, training):
        return images.resize_to_aspect(x, (self.height, self.width), self.interpolation, self.crop_to_aspect_ratio,
                                       self.pad_to_aspect_ratio, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": False}


def _center_crop(x, height, width):
    """The centred height x width window of each image; an image too small for it is resized to
    the target's aspect ratio instead (Keras' smart_resize)."""
    h, w = x.shape[1:3]
    if h < height or w < width:
        return images.resize_to_aspect(x, (height, width), "bilinear", True)
    top, left = int((h - height) / 2), int((w - width) / 2)
    return np.ascontiguousarray(x[:, top:top + height, left:left + width])


class CenterCrop(_ImageLayer):
    random = False

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(None, data_format, **kwargs)
        self.height, self.width = images._size((height, width))

    def sample_output_shape(self, sample_shape):
        return (self.height, self.width, sample_shape[-1])

    def transform(self, x, training):
        return _center_crop(x, self.height, self.width)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomCrop(_ImageLayer):
    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        self.height, self.width = images._size((height, width))

    def sample_output_shape(self, sample_shape):
        return (self.height, self.width, sample_shape[-1])

    def forward(self, x, training):
        self._changed = True
        h, w = x.shape[1:3]
        if not training or h < self.height or w < self.width:  # (Keras: the largest centred window, resized)
            return images.resize_to_aspect(x, (self.height, self.width), "bilinear", True)
        rng = self._rng()
        tops = rng.integers(0, h - self.height + 1, len(x))
        lefts = rng.integers(0, w - self.width + 1, len(x))
        return np.stack([i[t:t + self.height, s:s + self.width] for i, t, s in zip(x, tops, lefts)])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


class RandomFlip(_ImageLayer):
    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        if mode not in self.MODES:
            raise ValueError(f"RandomFlip: mode must be one of {self.MODES}, got {mode!r}")
        self.mode = mode

    def transform(self, x, training):
        rng = self._rng()
        n = len(x)
        self._flips = (rng.random(n) < 0.5 if "horizontal" in self.mode else np.zeros(n, bool),
                       rng.random(n) < 0.5 if "vertical" in self.mode else np.zeros(n, bool))
        return self._flip(x)

    def _flip(self, x):
        out = np.empty_like(x)
        if x.dtype in (np.float32, np.float64):  # (one C++ pass over the batch)
            _core.flip_images(out, np.ascontiguousarray(x), np.stack(self._flips, axis=1).astype(np.uint8))
            return out
        for i, (across, down) in enumerate(zip(*self._flips)):  # (an image at a time: no gathered copies)
            out[i] = x[i, ::-1 if down else 1, ::-1 if across else 1]
        return out

    def backward(self, dy, need_dx):
        return self._flip(dy) if self._changed and need_dx else (dy if need_dx else None)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _AffineLayer(_ImageLayer):
    """Rotation, translation and zoom: one projective transform per image, read with
    images.affine_transform (interpolation, fill_mode and fill_value as Keras)."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed, data_format, **kwargs)
        if fill_mode not in images.FILL_MODES:
            raise ValueError(f"{type(self).__name__}: fill_mode must be one of {images.FILL_MODES}, got "
                             f"{fill_mode!r}")
        if interpolation not in images.INTERPOLATIONS:
            raise ValueError(f"{type(self).__name__}: interpolation must be one of {images.INTERPOLATIONS}, got "
                             f"{interpolation!r}")
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)

    def transform(self, x, training):
        return images.affine_transform(x, self.transforms(self._rng(), len(x), *x.shape[1:3]), self.interpolation,
                                       self.fill_mode, self.fill_value).astype(x.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


class RandomRotation(_AffineLayer):
    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 value_range=(0, 255), data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = factor
        self._lower, self._upper = _factor_range("RandomRotation", factor)
        self.value_range = tuple(value_range)

    def transforms(self, rng, n, h, w):
        """A turn by 2 pi factor about the image's centre, factor drawn in [lower, upper)."""
        angle = rng.uniform(self._lower, self._upper, n) * 2 * math.pi
        cos, sin = np.cos(angle), np.sin(angle)
        x_off = ((w - 1) - (cos * (w - 1) - sin * (h - 1))) / 2
        y_off = ((h - 1) - (sin * (w - 1) + cos * (h - 1))) / 2
        zero = np.zeros(n)
        return np.stack([cos, -sin, x_off, sin, cos, y_off, zero, zero], axis=1)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}  # (Keras 3 takes value_range, but writes none)


class RandomTranslation(_AffineLayer):
    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _factor_range("RandomTranslation height_factor", height_factor)
        self._width = _factor_range("RandomTranslation width_factor", width_factor)

    def transforms(self, rng, n, h, w):
        """A shift by a fraction of the height and width, each drawn in its range."""
        dy = rng.uniform(*self._height, n) * h
        dx = rng.uniform(*self._width, n) * w
        one, zero = np.ones(n), np.zeros(n)
        return np.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomZoom(_AffineLayer):
    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor
        self._height = _factor_range("RandomZoom height_factor", height_factor)
        self._width = None if width_factor is None else _factor_range("RandomZoom width_factor", width_factor)
        if self._height[0] < -1 or (self._width and self._width[0] < -1):
            raise ValueError("RandomZoom: a factor below -1 would zoom by a negative amount")

    def transforms(self, rng, n, h, w):
        """Sampling steps of 1 + factor about the centre (a positive factor zooms out, as Keras);
        the width's factor is the height's unless given."""
        zy = 1 + rng.uniform(*self._height, n)
        zx = zy if self._width is None else 1 + rng.uniform(*self._width, n)
        zero = np.zeros(n)
        return np.stack([zx, zero, (w - 1) / 2 * (1 - zx), zero, zy, (h - 1) / 2 * (1 - zy), zero, zero], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomContrast(_ImageLayer):
    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        lower, upper = _factor_range("RandomContrast", factor, symmetric=False)
        if lower < 0 or upper < 0:
            raise ValueError(f"RandomContrast: factor must be >= 0, got {factor!r}")
        self.factor, self._lower, self._upper = factor, lower, upper
        self.value_range = tuple(value_range)

    def transform(self, x, training):
        """(x - the image's mean per channel) * f + that mean, f drawn in [1 - lower, 1 + upper],
        clipped to value_range."""
        f = self._rng().uniform(1 - self._lower, 1 + self._upper, (len(x), 1, 1, 1)).astype(x.dtype)
        mean = x.mean(axis=(1, 2), keepdims=True)
        raw = (x - mean) * f + mean
        out = np.clip(raw, *self.value_range).astype(x.dtype, copy=False)
        self._f, self._inside = f, out == raw
        return out

    def backward(self, dy, need_dx):
        if not need_dx or not self._changed:
            return dy if need_dx else None
        g = np.where(self._inside, dy, 0).astype(dy.dtype)
        return g * self._f + (1 - self._f) * g.mean(axis=(1, 2), keepdims=True)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": list(self.value_range)}


class RandomBrightness(_ImageLayer):
    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed, data_format, **kwargs)
        self.factor = factor
        self._lower, self._upper = _factor_range("RandomBrightness", factor)
        if self._lower < -1 or self._upper > 1:
            raise ValueError(f"RandomBrightness: factor must lie in [-1, 1], got {factor!r}")
        self.value_range = tuple(value_range)

    def transform(self, x, training):
        """x + delta, delta drawn in [lower, upper) times the value range's width, clipped to it."""
        low, high = self.value_range
        delta = self._rng().uniform(self._lower, self._upper, (len(x), 1, 1, 1)) * (high - low)
        raw = x + delta.astype(x.dtype)
        out = np.clip(raw, low, high).astype(x.dtype, copy=False)
        self._inside = out == raw
        return out

    def backward(self, dy, need_dx):
        if not need_dx:
            return None
        return np.where(self._inside, dy, 0).astype(dy.dtype) if self._changed else dy

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "value_range": list(self.value_range)}
