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
