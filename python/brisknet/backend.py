"""The few keras.backend functions programs call: clear_session, floatx, epsilon, backend.
brisknet computes on numpy arrays (float32), so it reports itself as the 'numpy' backend."""
from __future__ import annotations

from .naming import clear_session

__all__ = ["backend", "clear_session", "epsilon", "floatx", "image_data_format"]


def floatx() -> str:
    return "float32"


def epsilon() -> float:
    return 1e-7


def backend() -> str:
    return "numpy"


def image_data_format() -> str:
    return "channels_last"


def dtype_name(dtype):
    """A layer's dtype argument as a name: Keras' DTypePolicy config, as its model files give it
    ({"class_name": "DTypePolicy", "config": {"name": "float32"}}), becomes its name (None when the
    entry is malformed); anything else is returned as it is."""
    if isinstance(dtype, dict):
        config = dtype.get("config")
        return config.get("name") if isinstance(config, dict) else None
    return dtype
