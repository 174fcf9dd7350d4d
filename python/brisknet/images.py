"""Keras' image utilities (keras.utils.load_img, img_to_array, array_to_img, save_img) and the
resizing they and image_dataset_from_directory use: TensorFlow's resize with half-pixel centres
(bilinear or nearest), a C++ kernel (kernels/resampling.cpp). Images are decoded and encoded by
Pillow, an optional dependency imported when an image file is first touched."""
from __future__ import annotations

import os

import numpy as np

from . import _core

INTERPOLATIONS = ("bilinear", "nearest")
COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}


def _pillow():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("reading and writing image files needs Pillow: pip install pillow") from e
    return Image


def resize(images, size, interpolation="bilinear"):
    """images (h, w, c) or (n, h, w, c), uint8 or float, resized to size = (height, width) as
    TensorFlow's tf.image.resize (antialias=False): float32 (float64 for float64 images)."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    height, width = _size(size)
    x = np.asarray(images)
    single = x.ndim == 3
    if x.ndim not in (3, 4):
        raise ValueError(f"expected an image (height, width, channels) or a batch of them, got shape {x.shape}")
    if x.dtype not in (np.uint8, np.float32, np.float64):
        x = x.astype(np.float32)
    x = np.ascontiguousarray(x[None] if single else x)
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    if x.shape[1:3] == (height, width):  # (TensorFlow's sampling at scale 1 reads each pixel itself)
        out = x.astype(dtype)
        return out[0] if single else out
    out = np.empty((x.shape[0], height, width, x.shape[3]), dtype)
    _core.resize_images(out, x, interpolation)
    return out[0] if single else out


def resize_to_aspect(image, size, interpolation="bilinear", crop_to_aspect_ratio=False, pad_to_aspect_ratio=False,
                     fill_value=0.0):
    """An image (h, w, c) - or each of a batch (n, h, w, c) - resized to size, first cropped to the
    target's aspect ratio (the centred crop, Keras' smart_resize) or scaled to fit and centred on
    fill_value (TensorFlow's resize_with_pad) when asked."""
    if np.ndim(image) == 4 and (crop_to_aspect_ratio or pad_to_aspect_ratio):
        return np.stack([resize_to_aspect(i, size, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
                                          fill_value) for i in image])
    height, width = _size(size)
    h, w = image.shape[:2]
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    if crop_to_aspect_ratio:
        crop_h, crop_w = min(h, int(w * height / width)), min(w, int(h * width / height))
        top, left = int((h - crop_h) / 2), int((w - crop_w) / 2)
        return resize(image[top:top + crop_h, left:left + crop_w], size, interpolation)
    if pad_to_aspect_ratio:
        ratio = max(w / width, h / height)
        fit_h, fit_w = max(1, int(h / ratio)), max(1, int(w / ratio))
        out = np.full((height, width, image.shape[2]), fill_value,
                      np.float64 if image.dtype == np.float64 else np.float32)
        top, left = (height - fit_h) // 2, (width - fit_w) // 2
        out[top:top + fit_h, left:left + fit_w] = resize(image, (fit_h, fit_w), interpolation)
        return out
    return resize(image, size, interpolation)


FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def affine_transform(images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0):
    """images (h, w, c) or (n, h, w, c) each read where its transform (8 values: a0 a1 a2 b0 b1 b2
    c0 c1; one for all or one per image) maps the output pixel (x, y): ((a0 x + a1 y + a2) / k,
    (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1; outside the image as fill_mode says."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}, got {fill_mode!r}")
    x = np.asarray(images)
    single = x.ndim == 3
    if x.ndim not in (3, 4):
        raise ValueError(f"expected an image (height, width, channels) or a batch of them, got shape {x.shape}")
    x = np.ascontiguousarray(x[None] if single else x, np.float64 if x.dtype == np.float64 else np.float32)
    t = np.asarray(transform, np.float32)
    if t.shape == (8,):
        t = np.repeat(t[None], x.shape[0], axis=0)
    if t.shape != (x.shape[0], 8):
        raise ValueError(f"transform: expected 8 values or one row of 8 per image ({x.shape[0]}), got shape "
                         f"{t.shape}")
    out = np.empty_like(x)
    _core.affine_transform_images(out, x, np.ascontiguousarray(t), interpolation, fill_mode, float(fill_value))
    return out[0] if single else out


def _size(size):
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, (tuple, list)) or len(size) != 2 or \
            not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in size):
        raise ValueError(f"expected a size (height, width) of two positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _open(source, color_mode):
    """A PIL image of a file (a path, bytes or a file object) converted to color_mode; a file
    Pillow cannot read raises ValueError naming it."""
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be one of {tuple(COLOR_MODES)}, got {color_mode!r}")
    Image = _pillow()
    import io
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as img:
            img.load()
            return img if img.mode == COLOR_MODES[color_mode] else img.convert(COLOR_MODES[color_mode])
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        name = source if isinstance(source, (str, os.PathLike)) else "the image data"
        raise ValueError(f"cannot decode {name} as an image: {e}") from e


def decode(data_or_path, color_mode="rgb"):
    """An image file (a path, bytes or a file object) as a uint8 array (height, width, channels) in
    color_mode ('grayscale', 'rgb' or 'rgba')."""
    pixels = np.asarray(_open(data_or_path, color_mode), np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest", keep_aspect_ratio=False):
    """A PIL image of the file, converted to color_mode and resized to target_size = (height,
    width) when given (keep_aspect_ratio: the centred crop of that aspect ratio first), as Keras."""
    img = _open(path, color_mode)
    Image = _pillow()
    if target_size is None:
        return img
    height, width = _size(target_size)
    if (img.size[0], img.size[1]) == (width, height):
        return img
    methods = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
               "hamming": Image.HAMMING, "box": Image.BOX, "lanczos": Image.LANCZOS}
    if interpolation not in methods:
        raise ValueError(f"interpolation must be one of {tuple(methods)}, got {interpolation!r}")
    if keep_aspect_ratio:  # the largest centred crop of the target's aspect ratio
        w, h = img.size
        crop_w, crop_h = min(w, h * width // height), min(h, w * height // width)
        left, top = (w - crop_w) // 2, (h - crop_h) // 2
        img = img.crop((left, top, left + crop_w, top + crop_h))
    return img.resize((width, height), methods[interpolation])


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image (or array) as a float32 array (height, width, channels), channels first when
    data_format='channels_first'."""
    x = np.asarray(img, dtype=dtype or np.float32)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise ValueError(f"expected an image of 2 or 3 dimensions, got shape {x.shape}")
    return np.transpose(x, (2, 0, 1)) if data_format == "channels_first" else x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A PIL image of an array (height, width, 1, 3 or 4 channels); scale: values shifted and
    scaled to 0-255 as Keras does (x - min, then / max * 255)."""
    Image = _pillow()
    x = np.asarray(x, dtype=dtype or np.float32)
    if x.ndim != 3:
        raise ValueError(f"expected an image array of 3 dimensions, got shape {x.shape}")
    if data_format == "channels_first":
        x = np.transpose(x, (1, 2, 0))
    if x.shape[2] not in (1, 3, 4):
        raise ValueError(f"an image has 1, 3 or 4 channels, got {x.shape[2]}")
    if scale:
        x = x - np.min(x)
        top = np.max(x)
        if top != 0:
            x = x / top
        x = x * 255
    pixels = np.clip(x, 0, 255).astype(np.uint8)
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[x.shape[2]]
    return Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Writes an image array to path (atomically: a temporary file renamed into place)."""
    img = array_to_img(x, data_format=data_format, scale=scale)
    file_format = file_format or os.path.splitext(str(path))[1].lstrip(".").upper() or None
    if file_format in ("JPG", "JPEG") and img.mode == "RGBA":
        img = img.convert("RGB")  # (JPEG has no alpha)
    file_format = "JPEG" if file_format == "JPG" else file_format
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        img.save(tmp, format=file_format, **kwargs)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
